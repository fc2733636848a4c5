//! The category table (`imds_model::categories::CATEGORIES`) is the one source of the served
//! tree, `conformance/paths.toml` and the README's category table: these tests fail when a
//! committed copy disagrees with it, and `IMDSPEC_BLESS=1` rewrites the copies.

use std::collections::BTreeMap;
use std::path::Path;

use imds_model::categories::{CATEGORIES, markdown_table, paths_toml};
use imds_model::version::VERSIONS;
use imds_model::{Instance, MetadataOptions, Model, Timestamp, TokenKey, Version};

fn bless() -> bool {
    std::env::var_os("IMDSPEC_BLESS").is_some_and(|v| v == "1")
}

fn repo_file(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `paths.toml`'s entries by path: (since, presence, format as TOML text).
fn entries(text: &str) -> BTreeMap<String, (String, String, Option<String>)> {
    let doc: toml::Table = text.parse().unwrap_or_else(|e| panic!("paths.toml: {e}"));
    let Some(toml::Value::Array(paths)) = doc.get("path") else {
        panic!("paths.toml has no [[path]] entries");
    };
    paths
        .iter()
        .map(|p| {
            let field = |k: &str| p.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            let format = p.get("format").map(ToString::to_string);
            (field("path"), (field("since"), field("presence"), format))
        })
        .collect()
}

/// Every documented row is in `paths.toml` with the same since, presence and format, and every
/// `paths.toml` entry is a row: the check names what differs in either direction.
#[test]
fn paths_toml_is_the_category_table() {
    let file = repo_file("../../conformance/paths.toml");
    let committed = std::fs::read_to_string(&file).expect("conformance/paths.toml");
    let generated = paths_toml();
    if committed == generated {
        return;
    }
    if bless() {
        std::fs::write(&file, &generated).expect("write conformance/paths.toml");
        return;
    }
    let (want, have) = (entries(&generated), entries(&committed));
    let mut problems = Vec::new();
    for (path, row) in &want {
        match have.get(path) {
            None => problems.push(format!(
                "{path}: in the category table, missing from paths.toml"
            )),
            Some(entry) if entry != row => {
                problems.push(format!(
                    "{path}: table says {row:?}, paths.toml says {entry:?}"
                ));
            }
            Some(_) => {}
        }
    }
    for path in have.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!(
            "{path}: in paths.toml, missing from the category table"
        ));
    }
    panic!(
        "conformance/paths.toml differs from crates/imds-model/src/categories.rs \
         (IMDSPEC_BLESS=1 cargo test -p imds-model --test categories rewrites it):\n{}",
        if problems.is_empty() {
            "only in layout or comments".to_owned()
        } else {
            problems.join("\n")
        }
    );
}

/// The crate README's category table is `markdown_table()`.
#[test]
fn readme_lists_every_category() {
    let file = repo_file("README.md");
    let readme = std::fs::read_to_string(&file).expect("crates/imds-model/README.md");
    let (start, end) = ("<!-- categories:start -->\n", "<!-- categories:end -->");
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        panic!("crates/imds-model/README.md lacks the {start:?} … {end:?} markers");
    };
    let want = markdown_table();
    if readme[a + start.len()..b] == want {
        return;
    }
    if bless() {
        let new = format!("{}{want}{}", &readme[..a + start.len()], &readme[b..]);
        std::fs::write(&file, new).expect("write README.md");
    } else {
        panic!(
            "crates/imds-model/README.md's category table is stale \
             (IMDSPEC_BLESS=1 cargo test -p imds-model --test categories rewrites it)"
        );
    }
}

#[test]
fn rows_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for c in CATEGORIES {
        assert!(seen.insert(c.path), "{} is listed twice", c.path);
        assert!(
            c.path.starts_with("meta-data/")
                || c.path.starts_with("dynamic/")
                || c.path == "user-data",
            "{}: not below meta-data/, dynamic/ or user-data",
            c.path
        );
        assert!(
            c.documented.is_some() || !c.note.is_empty(),
            "{}: a row left out of paths.toml says why in its note",
            c.path
        );
        assert!(
            c.is_served() || !c.note.is_empty() || c.path.ends_with("-index"),
            "{}: a row the model does not serve says why in its note",
            c.path
        );
    }
}

/// A served category appears at its since-version and not before: the table's versions are
/// the ones requests see.
#[test]
fn served_rows_follow_their_since_version() {
    let now = Timestamp::from_secs(1_768_470_000);
    let mut model = Model::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([3; 32]),
    );
    let mut get = |version: Version, path: &str| {
        let req = http::Request::get(format!("/{version}/{path}"))
            .body(())
            .expect("request");
        model.handle(&req, now).status().as_u16()
    };
    let mut checked = 0;
    for c in CATEGORIES
        .iter()
        .filter(|c| c.is_served() && !c.path.contains('{'))
    {
        if c.path.ends_with('/') || get(Version::LATEST, c.path) != 200 {
            continue; // not on the default instance, or gated off
        }
        // The first version `GET /` lists at or after `since` (not every since is listed).
        let first = VERSIONS.iter().find(|v| **v >= c.since).expect("latest");
        assert_eq!(get(*first, c.path), 200, "{} at {first}", c.path);
        if let Some(before) = VERSIONS.iter().rev().find(|v| **v < c.since) {
            assert_eq!(get(*before, c.path), 404, "{} at {before}", c.path);
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} rows checked");
}
