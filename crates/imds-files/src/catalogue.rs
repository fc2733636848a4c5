//! The one loader of imdspec's catalogues: case files (`conformance/cases`, `[[case]]`) and
//! client scenario files (`conformance/clients`, `[[scenario]]`). Both are directories of TOML
//! files whose entries carry an id starting with the file's stem; both are compiled in from
//! the directory at build time ([`embedded`]) or read from disk ([`crate::toml_files`]), and
//! both go through [`load_entries`]: one parse (unknown keys refused with a near miss), one id
//! rule, one duplicate check, one error style (`FILE:LINE:COL: FIELD: TABLE `ID`: MESSAGE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imds_diag::{LoadError, Seg, Source};
use serde::de::DeserializeOwned;

/// A catalogue directory compiled into the binary: every `*.toml` file directly in it, listed
/// by `build.rs` from the directory itself, so a new file cannot be forgotten.
#[derive(Clone, Copy, Debug)]
pub struct Embedded {
    /// The directory, relative to the repository root (for messages).
    pub dir: &'static str,
    /// (file name, text), sorted by name.
    pub files: &'static [(&'static str, &'static str)],
}

impl Embedded {
    /// The files as (path under [`Embedded::dir`], text), as [`crate::toml_files`] gives them.
    pub fn sources(&self) -> Vec<(PathBuf, String)> {
        self.files
            .iter()
            .map(|(name, text)| (Path::new(self.dir).join(name), (*text).to_owned()))
            .collect()
    }

    /// The text of `NAME.toml`, if compiled in.
    pub fn get(&self, stem: &str) -> Option<&'static str> {
        self.files
            .iter()
            .find(|(name, _)| name.strip_suffix(".toml") == Some(stem))
            .map(|(_, text)| *text)
    }

    /// The file stems, sorted.
    pub fn stems(&self) -> impl Iterator<Item = &'static str> {
        self.files
            .iter()
            .map(|(name, _)| name.strip_suffix(".toml").unwrap_or(name))
    }
}

/// The catalogues compiled in from `conformance/`.
pub mod embedded {
    use super::Embedded;
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// A catalogue file: its top-level array of entries.
pub trait CatalogueFile: DeserializeOwned {
    /// One entry as read.
    type Entry;
    /// The array's key (`case`, `scenario`), which also names an entry in messages.
    const TABLE: &'static str;
    /// The entries, in file order.
    fn entries(self) -> Vec<Self::Entry>;
    /// An entry's id.
    fn id(entry: &Self::Entry) -> &str;
}

/// One entry being checked: where it is, for errors that point into its file.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    /// Its file.
    pub src: Source<'a>,
    /// The array's key (`case`).
    pub table: &'static str,
    /// 0-based position in the array.
    pub index: usize,
    /// Its id.
    pub id: &'a str,
    /// Its file's stem, which every id in the file starts with.
    pub area: &'a str,
}

/// A field path as written in messages (`step[2].expect.body.lines-match`, positions 1-based
/// as shown) as segments, relative to whatever table it is read from.
pub fn field_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match part.split_once('[') {
            Some((key, index)) => {
                out.push(Seg::key(key));
                let n: usize = index.trim_end_matches(']').parse().unwrap_or(1);
                out.push(Seg::Index(n.saturating_sub(1)));
            }
            None => out.push(Seg::key(part)),
        }
    }
    out
}

impl At<'_> {
    /// The full path of `field` (`step[2].expect.status`, positions 1-based as shown) of
    /// this entry.
    pub fn path(&self, field: &str) -> Vec<Seg> {
        let mut out = vec![Seg::key(self.table), Seg::Index(self.index)];
        out.extend(field_path(field));
        out
    }

    /// An error at `field` of this entry (`""` for the entry itself), prefixed with the entry.
    pub fn err(&self, field: &str, message: impl Into<String>) -> LoadError {
        self.err_at(&self.path(field), message)
    }

    /// An error at a full path, prefixed with the entry.
    pub fn err_at(&self, path: &[Seg], message: impl Into<String>) -> LoadError {
        self.src.at_field(
            path,
            format!("{} `{}`: {}", self.table, self.id, message.into()),
        )
    }

    /// The 1-based line of the entry's `id` key.
    pub fn line(&self) -> usize {
        self.src.locate(&self.path("id")).0
    }
}

/// Ids are dotted lower-case words (a-z, 0-9, -), at least two parts.
fn id_is_valid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Loads every entry of `files` (`(path, text)`, as [`Embedded::sources`] or
/// [`crate::toml_files`] give them): each file is parsed as `F`, each entry's id is checked
/// (dotted lower-case words starting with the file's stem, unique across all files), then
/// `convert` turns it into `T`, with [`At`] to point errors into the file. Results keep file
/// order; sort them as the catalogue needs.
pub fn load_entries<F: CatalogueFile, T>(
    files: &[(PathBuf, String)],
    mut convert: impl FnMut(&At<'_>, F::Entry) -> Result<T, LoadError>,
) -> Result<Vec<T>, LoadError> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    for (file, text) in files {
        let area = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let src = Source::toml(file, text);
        let raw: F = src.parse()?;
        for (index, entry) in raw.entries().into_iter().enumerate() {
            let id = F::id(&entry).to_owned();
            let at = At {
                src,
                table: F::TABLE,
                index,
                id: &id,
                area: &area,
            };
            if !id_is_valid(&id) {
                return Err(at.err(
                    "id",
                    "ids are dotted lower-case words (a-z, 0-9, -), at least two parts",
                ));
            }
            // The file is named after the ids it holds (`token.ttl.toml` holds `token.ttl.*`),
            // so an entry is found from its id and an area's entries stay together.
            if !id.starts_with(&format!("{area}.")) {
                return Err(at.err(
                    "id",
                    format!(
                        "does not belong in {area}.toml, where every id starts with `{area}.` (move it to the file named after its id's prefix)"
                    ),
                ));
            }
            let line = at.line();
            if let Some((first, first_line)) = seen.get(&id) {
                return Err(at.err(
                    "id",
                    format!(
                        "duplicate id (first defined at {}:{first_line})",
                        first.display()
                    ),
                ));
            }
            seen.insert(id.clone(), (file.clone(), line));
            out.push(convert(&at, entry)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        item: Vec<Item>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        id: String,
        #[serde(default)]
        size: u32,
    }

    impl CatalogueFile for File {
        type Entry = Item;
        const TABLE: &'static str = "item";
        fn entries(self) -> Vec<Item> {
            self.item
        }
        fn id(entry: &Item) -> &str {
            &entry.id
        }
    }

    fn load(files: &[(&str, &str)]) -> Result<Vec<(String, u32)>, LoadError> {
        let files: Vec<(PathBuf, String)> = files
            .iter()
            .map(|(n, t)| (PathBuf::from(n), (*t).to_owned()))
            .collect();
        load_entries::<File, _>(&files, |at, item| {
            if item.size > 9 {
                return Err(at.err("size", "too big"));
            }
            Ok((item.id, item.size))
        })
    }

    #[test]
    fn entries_load_in_file_order() {
        let got = load(&[
            (
                "a.toml",
                "[[item]]\nid = \"a.x\"\n[[item]]\nid = \"a.y\"\nsize = 2\n",
            ),
            ("b.c.toml", "[[item]]\nid = \"b.c.z\"\n"),
        ])
        .unwrap();
        assert_eq!(
            got,
            [("a.x".into(), 0), ("a.y".into(), 2), ("b.c.z".into(), 0)]
        );
    }

    #[test]
    fn ids_are_checked_once_for_every_catalogue() {
        let e = load(&[("a.toml", "[[item]]\nid = \"b.x\"\n")]).unwrap_err();
        assert_eq!(
            e.to_string().split(": ").take(3).collect::<Vec<_>>(),
            ["a.toml:2:1", "item[1].id", "item `b.x`"]
        );
        assert!(e.message.contains("does not belong in a.toml"), "{e}");
        let e = load(&[("a.toml", "[[item]]\nid = \"a.X\"\n")]).unwrap_err();
        assert!(e.message.contains("dotted lower-case"), "{e}");
        let e = load(&[
            ("a.toml", "[[item]]\nid = \"a.x\"\n"),
            (
                "a.b.toml",
                "\n[[item]]\nid = \"a.b.x\"\n[[item]]\nid = \"a.b.x\"\n",
            ),
        ])
        .unwrap_err();
        assert_eq!(
            (e.file.to_str(), e.line, e.field.as_str()),
            (Some("a.b.toml"), 5, "item[2].id"),
            "{e}"
        );
        assert!(e.message.contains("first defined at a.b.toml:3"), "{e}");
    }

    #[test]
    fn field_errors_and_unknown_keys_point_into_the_file() {
        let e = load(&[("a.toml", "[[item]]\nid = \"a.x\"\nsize = 10\n")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.toml:3:1: item[1].size: item `a.x`: too big"
        );
        let e = load(&[("a.toml", "[[item]]\nid = \"a.x\"\nsise = 1\n")]).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "item[1].sise"), "{e}");
        assert!(e.message.contains("did you mean `size`?"), "{e}");
    }

    #[test]
    fn embedded_catalogues_are_the_directories() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for set in [
            embedded::CASES,
            embedded::RUN_TARGETS,
            embedded::CLIENT_SCENARIOS,
            embedded::CLIENT_TARGETS,
        ] {
            let on_disk = crate::toml_files(&root.join(set.dir)).unwrap();
            assert!(!on_disk.is_empty(), "{}", set.dir);
            let names: Vec<String> = on_disk
                .iter()
                .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect();
            let embedded: Vec<&str> = set.files.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, embedded, "{}", set.dir);
            for ((_, disk), (_, text)) in on_disk.iter().zip(set.files) {
                assert_eq!(disk, text);
            }
        }
    }
}
