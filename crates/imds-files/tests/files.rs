//! Reading files: the format follows the extension, a missing file is a `LoadError` naming it,
//! and what the documented key table calls required is what the model's decoder requires.

use std::path::Path;

use imds_files::instance_fields::{FIELDS, Kind, required_in};
use imds_model::instance::REQUIRED_IN_LISTS;
use imds_model::{Instance, InstanceFormat};

#[test]
fn instance_files_pick_the_format_by_extension_and_name_the_path() {
    let dir = std::env::temp_dir().join(format!("imds-files-instance-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("i.json");
    std::fs::write(&json, "{\n  \"instance-type\": \"m7g.large\"\n}\n").unwrap();
    assert_eq!(
        imds_files::instance(&json).unwrap().instance_type,
        "m7g.large"
    );
    let toml_path = dir.join("i.toml");
    std::fs::write(&toml_path, "instance-type = \"c7i.xlarge\"\n").unwrap();
    assert_eq!(
        imds_files::instance(&toml_path).unwrap().instance_type,
        "c7i.xlarge"
    );
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "ami-id = \"ami-1\"\nami-launch-index = -1\n").unwrap();
    let e = imds_files::instance(&bad).unwrap_err();
    assert_eq!(
        (e.file.as_path(), e.line, e.field.as_str()),
        (bad.as_path(), 2, "ami-launch-index"),
        "{e}"
    );
    let missing = dir.join("missing.toml");
    let e = imds_files::instance(&missing).unwrap_err();
    assert_eq!((e.line, e.column, e.field.as_str()), (1, 1, "(file)"));
    assert!(e.to_string().starts_with(&missing.display().to_string()));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_files_are_load_errors() {
    let missing = Path::new("/nonexistent/imdspec-file.toml");
    let errors = [
        imds_files::scenario(missing).unwrap_err(),
        imds_files::metadata_options(missing).unwrap_err(),
        imds_files::partial_options(missing, None).unwrap_err(),
        imds_files::toml_files(Path::new("/nonexistent/imdspec-dir")).unwrap_err(),
    ];
    for e in errors {
        assert_eq!(e.field, imds_diag::WHOLE_FILE, "{e}");
        assert!(e.message.contains("cannot read"), "{e}");
        assert!(e.to_string().starts_with("/nonexistent/imdspec-"), "{e}");
    }
}

/// The documented table marks as required in each entry exactly the keys the model's decoder
/// requires.
#[test]
fn required_keys_in_the_table_are_the_models() {
    let documented: Vec<(&str, Vec<&str>)> = FIELDS
        .iter()
        .filter(|f| f.kind == Kind::Tables)
        .map(|f| (f.key, required_in(f.key)))
        .filter(|(_, keys)| !keys.is_empty())
        .collect();
    let model: Vec<(&str, Vec<&str>)> = REQUIRED_IN_LISTS
        .iter()
        .map(|(list, keys)| (*list, keys.to_vec()))
        .collect();
    assert_eq!(documented, model);
}

/// What README and `--print-instance` call "required in each entry" is what the loader needs:
/// an entry without the key is refused, and one without any other key loads.
#[test]
fn required_keys_in_the_docs_are_the_loaders() {
    let full = serde_json::to_value(Instance::default()).unwrap();
    let event = full["maintenance-events"]["history"][0].clone();
    let interface = full["network-interfaces"][0].clone();
    let key = full["public-keys"][0].clone();
    let mut lists = 0;
    for list in FIELDS.iter().filter(|f| f.kind == Kind::Tables) {
        lists += 1;
        let entry = match list.key {
            "maintenance-events.scheduled" | "maintenance-events.history" => &event,
            "network-interfaces" => &interface,
            "public-keys" => &key,
            other => panic!("no sample entry for list {other}"),
        };
        let required = required_in(list.key);
        for k in entry.as_object().unwrap().keys() {
            let mut one = entry.clone();
            one.as_object_mut().unwrap().remove(k);
            let mut doc = serde_json::json!({});
            let parts: Vec<&str> = list.key.split('.').collect();
            let mut at = &mut doc;
            for p in &parts[..parts.len() - 1] {
                at = &mut at[*p];
            }
            at[parts[parts.len() - 1]] = serde_json::json!([one]);
            let loaded = Instance::from_text("i.json", &doc.to_string(), InstanceFormat::Json);
            assert_eq!(
                loaded.is_err(),
                required.contains(&k.as_str()),
                "{}.{k}: {loaded:?}",
                list.key
            );
        }
    }
    assert_eq!(lists, 4);
}
