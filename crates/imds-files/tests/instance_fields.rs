//! The instance file's key list (`imds_model::instance_fields`) against the `Instance` type,
//! the starter file `imdspec serve --print-instance` prints, and README.md's table.

use std::collections::BTreeSet;

use imds_files::instance_fields::{FIELDS, Kind, markdown_table, starter_file};
use imds_model::{Instance, InstanceFormat};

/// The starter file with every unset key switched on (`#key = …` → `key = …`).
fn everything_set(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every dotted key path of a TOML value, free-key tables (tags, devices) not entered.
fn key_paths(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let kind = FIELDS.iter().find(|f| f.key == path).map(|f| f.kind);
        out.insert(path.clone());
        match (kind, v) {
            (Some(Kind::Map), _) => {}
            (_, toml::Value::Table(t)) => key_paths(&path, t, out),
            (_, toml::Value::Array(items)) => {
                for t in items.iter().filter_map(toml::Value::as_table) {
                    key_paths(&path, t, out);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn starter_file_reads_back_as_the_default_instance() {
    let text = starter_file(&Instance::default());
    let back = Instance::from_text("starter.toml", &text, InstanceFormat::Toml)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, Instance::default());
    assert!(
        text.contains("# `placement/region`\nregion = \"us-east-1\"\n"),
        "{text}"
    );
}

#[test]
fn every_example_is_a_valid_value_and_every_key_is_listed() {
    let text = everything_set(&starter_file(&Instance::default()));
    let full = Instance::from_text("all-keys.toml", &text, InstanceFormat::Toml)
        .unwrap_or_else(|e| panic!("switching on every unset key broke the file: {e}\n{text}"));
    // Each optional key given an example is now set.
    assert!(full.kernel_id.is_some() && full.ipv6.is_some() && full.placement.host_id.is_some());
    assert!(full.spot_instance_action.is_some());
    assert_eq!(full.maintenance_events.scheduled.len(), 1);

    let toml::Value::Table(root) = toml::Value::try_from(&full).expect("serialises") else {
        panic!("not a table");
    };
    let mut served = BTreeSet::new();
    key_paths("", &root, &mut served);
    let listed: BTreeSet<String> = FIELDS.iter().map(|f| f.key.to_owned()).collect();
    assert_eq!(
        served.difference(&listed).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "keys of Instance missing from FIELDS"
    );
    assert_eq!(
        listed.difference(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "FIELDS keys Instance does not have (or with no example to show them)"
    );
}

#[test]
fn every_key_is_documented_once() {
    let mut seen = BTreeSet::new();
    for f in FIELDS {
        assert!(seen.insert(f.key), "{} listed twice", f.key);
        assert!(!f.doc.trim().is_empty(), "{} has no doc", f.key);
        if let Some((parent, _)) = f.key.rsplit_once('.') {
            let p = FIELDS.iter().find(|g| g.key == parent);
            assert!(
                p.is_some_and(|g| matches!(g.kind, Kind::Table | Kind::Tables)),
                "{} hangs off {parent}, which is not a table",
                f.key
            );
        }
    }
}

/// README.md's instance-file table is `markdown_table()`; `IMDSPEC_BLESS=1` rewrites it.
#[test]
fn readme_lists_every_key() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let (start, end) = (
        "<!-- instance-fields:start -->\n",
        "<!-- instance-fields:end -->",
    );
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        panic!("README.md lacks the {start:?} … {end:?} markers");
    };
    let shown = &readme[a + start.len()..b];
    let want = markdown_table();
    if shown != want {
        if std::env::var_os("IMDSPEC_BLESS").is_some() {
            let new = format!("{}{want}{}", &readme[..a + start.len()], &readme[b..]);
            std::fs::write(path, new).expect("write README.md");
        } else {
            panic!("README.md's instance-file table is stale; rerun with IMDSPEC_BLESS=1");
        }
    }
}
