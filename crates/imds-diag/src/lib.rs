//! One error type for every file imdspec loads — case and path catalogues, expectations,
//! client scenarios, instance, metadata-options and scenario files, AEMM configs — and the
//! pure text diagnostics behind it. Nothing here reads a file: decoders take the text and
//! the file's name (used only in messages); `imds-files` does the reading.
//!
//! A [`LoadError`] always shows as `FILE:LINE:COL: FIELD: MESSAGE`: line and column are
//! 1-based (column in characters), `FIELD` is a path into the file in TOML's own notation
//! (`case[3].step[1].expect.body.matches`, array positions 1-based), and an unknown key or
//! word comes with the nearest known one ("did you mean `status`?").

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// Why a file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file, as given.
    pub file: PathBuf,
    /// 1-based line (1 when the problem is the whole file).
    pub line: usize,
    /// 1-based column, in characters (1 when the problem is the whole file).
    pub column: usize,
    /// Path of the field at fault (`case[2].step[1].path`), or `(file)` for the whole file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.field,
            self.message
        )
    }
}

impl std::error::Error for LoadError {}

/// The field name used when a problem concerns the whole file.
pub const WHOLE_FILE: &str = "(file)";

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A key of a table or object.
    Key(String),
    /// A 0-based array position (shown 1-based).
    Index(usize),
}

impl Seg {
    /// A key segment.
    pub fn key(k: impl Into<String>) -> Seg {
        Seg::Key(k.into())
    }
}

/// Renders a field path: bare keys joined by `.`, other keys quoted, positions as `[N]`
/// counted from 1.
pub fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if bare {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Seg::Index(i) => out.push_str(&format!("[{}]", i + 1)),
        }
    }
    if out.is_empty() {
        WHOLE_FILE.to_owned()
    } else {
        out
    }
}

/// The input format of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl Format {
    /// The format a file's name says: JSON for `.json` (any case), else TOML.
    pub fn of(file: &Path) -> Format {
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            Format::Json
        } else {
            Format::Toml
        }
    }
}

/// A file's name and text, for building errors that point into it.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The file name, as given.
    pub file: &'a Path,
    /// Its text.
    pub text: &'a str,
    /// Its format.
    pub format: Format,
}

impl<'a> Source<'a> {
    /// A TOML source.
    pub fn toml(file: &'a Path, text: &'a str) -> Self {
        Source {
            file,
            text,
            format: Format::Toml,
        }
    }

    /// A JSON source.
    pub fn json(file: &'a Path, text: &'a str) -> Self {
        Source {
            file,
            text,
            format: Format::Json,
        }
    }

    /// Deserialises the whole text, naming file, position and field path on failure.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, LoadError> {
        match self.format {
            Format::Toml => self.parse_toml(),
            Format::Json => self.parse_json(),
        }
    }

    fn parse_toml<T: DeserializeOwned>(&self) -> Result<T, LoadError> {
        let de = toml::de::Deserializer::parse(self.text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            self.at_offset(at, WHOLE_FILE.to_owned(), e.message().trim().to_owned())
        })?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = path_segments(e.path());
            let inner = e.into_inner();
            let offset = inner.span().map(|s| s.start);
            self.serde_error(path, inner.message().trim(), offset, None)
        })
    }

    fn parse_json<T: DeserializeOwned>(&self) -> Result<T, LoadError> {
        let mut de = serde_json::Deserializer::from_str(self.text);
        let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            // A syntax error is about the text, not the field being read when it was met.
            let path = if e.inner().is_syntax() || e.inner().is_eof() {
                Vec::new()
            } else {
                path_segments(e.path())
            };
            self.json_error(path, &e.into_inner())
        })?;
        de.end().map_err(|e| self.json_error(Vec::new(), &e))?;
        Ok(value)
    }

    /// Deserialises a document already read (and perhaps merged with another) from this
    /// source; errors point at the field's key in this source's text, or its nearest parent.
    pub fn parse_value<T: DeserializeOwned>(
        &self,
        value: serde_json::Value,
    ) -> Result<T, LoadError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = path_segments(e.path());
            let text = e.into_inner().to_string();
            let (message, extra) = explain(text.trim());
            let mut path = path;
            if let Some(key) = extra
                && path.last() != Some(&Seg::Key(key.clone()))
            {
                path.push(Seg::Key(key));
            }
            self.at_field(&path, message)
        })
    }

    fn json_error(&self, path: Vec<Seg>, e: &serde_json::Error) -> LoadError {
        // serde_json appends " at line L column C"; the position goes in its own place.
        let text = e.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(m, _)| m);
        let pos = (e.line() > 0).then(|| (e.line(), e.column().max(1)));
        self.serde_error(path, message, None, pos)
    }

    fn serde_error(
        &self,
        mut path: Vec<Seg>,
        message: &str,
        offset: Option<usize>,
        pos: Option<(usize, usize)>,
    ) -> LoadError {
        let (message, extra) = explain(message);
        if let Some(key) = extra
            && path.last() != Some(&Seg::Key(key.clone()))
        {
            path.push(Seg::Key(key));
        }
        let (line, column) = match (offset, pos) {
            (Some(o), _) => position(self.text, o),
            (None, Some(p)) => p,
            (None, None) => self.locate(&path),
        };
        LoadError {
            file: self.file.to_owned(),
            line,
            column,
            field: render_path(&path),
            message,
        }
    }

    /// An error at a byte offset of the text.
    pub fn at_offset(&self, offset: usize, field: String, message: String) -> LoadError {
        let (line, column) = position(self.text, offset);
        LoadError {
            file: self.file.to_owned(),
            line,
            column,
            field,
            message,
        }
    }

    /// An error about a field found after loading (a rule the types cannot state): points at
    /// the field's key when the file has it, else at its nearest parent that the file has.
    pub fn at_field(&self, path: &[Seg], message: impl Into<String>) -> LoadError {
        let (line, column) = self.locate(path);
        LoadError {
            file: self.file.to_owned(),
            line,
            column,
            field: render_path(path),
            message: message.into(),
        }
    }

    /// The 1-based line and column of the deepest part of `path` present in the text.
    pub fn locate(&self, path: &[Seg]) -> (usize, usize) {
        let offset = match self.format {
            Format::Toml => toml_offset(self.text, path),
            Format::Json => json_offset(self.text, path),
        };
        offset.map_or((1, 1), |o| position(self.text, o))
    }
}

/// A file that could not be read (or listed): the whole file is at fault.
pub fn unreadable(file: &Path, e: &std::io::Error) -> LoadError {
    LoadError {
        file: file.to_owned(),
        line: 1,
        column: 1,
        field: WHOLE_FILE.to_owned(),
        message: format!("cannot read: {e}"),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Keys compare with `_` and `-` alike, so a path in kebab-case finds an old snake_case key.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (matches!(x, b'_' | b'-') && matches!(y, b'_' | b'-')))
}

fn toml_offset(text: &str, path: &[Seg]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let (root, _) = DeTable::parse_recoverable(text);
    let mut found = None;
    let mut here: Option<&DeValue<'_>> = None;
    let root = root.get_ref();
    for seg in path {
        match (seg, here) {
            (Seg::Key(k), None) => {
                let (key, value) = root.iter().find(|(key, _)| same_key(key.get_ref(), k))?;
                found = Some(key.span().start);
                here = Some(value.get_ref());
            }
            (Seg::Key(k), Some(DeValue::Table(t))) => {
                let Some((key, value)) = t.iter().find(|(key, _)| same_key(key.get_ref(), k))
                else {
                    break;
                };
                found = Some(key.span().start);
                here = Some(value.get_ref());
            }
            (Seg::Index(i), Some(DeValue::Array(a))) => {
                let Some(v) = a.get(*i) else { break };
                // An array-of-tables element's span is its first key; an inline value's its own.
                found = Some(v.span().start);
                here = Some(v.get_ref());
            }
            _ => break,
        }
    }
    found
}

/// JSON has no span tree here: each key of the path is searched for (`"key":`) after the
/// previous one, and after a position `[N]` the next key's N-th further occurrence is taken,
/// which finds it in arrays of like objects (what this project's JSON files hold).
fn json_offset(text: &str, path: &[Seg]) -> Option<usize> {
    let mut from = 0;
    let mut found = None;
    let mut skip = 0;
    for seg in path {
        let k = match seg {
            Seg::Index(i) => {
                skip = *i;
                continue;
            }
            Seg::Key(k) => k,
        };
        let quoted = serde_json::to_string(k).ok()?;
        let mut search = from;
        let mut left = skip;
        skip = 0;
        let hit = loop {
            let Some(i) = text[search..].find(&quoted) else {
                break None;
            };
            let at = search + i;
            search = at + quoted.len();
            if text[search..].trim_start().starts_with(':') {
                if left == 0 {
                    break Some(at);
                }
                left -= 1;
            }
        };
        let Some(at) = hit else { break };
        found = Some(at);
        from = at + quoted.len();
    }
    found
}

fn path_segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            // toml's `Spanned` wrapper shows up as a map key of its own.
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => None,
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// Rewrites serde's messages: an unknown key or word gets the nearest known one, and a
/// missing key is added to the path (returned second).
pub fn explain(message: &str) -> (String, Option<String>) {
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let Some((name, tail)) = rest.split_once('`') else {
                break;
            };
            let known = quoted_names(tail);
            let mut out = format!("unknown {what} `{name}`");
            match suggest(name, known.iter().map(String::as_str)) {
                Some(s) => out.push_str(&format!("; did you mean `{s}`?")),
                None if known.is_empty() => out.push_str(" (none are allowed here)"),
                None => out.push_str(&format!(
                    " (expected one of {})",
                    known
                        .iter()
                        .filter(|k| !k.contains('_') || !known.contains(&k.replace('_', "-")))
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            let key = (what == "key").then(|| name.to_owned());
            return (out, key);
        }
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return (
            format!("required key `{name}` is missing"),
            Some(name.to_owned()),
        );
    }
    (plain_types(message), None)
}

/// serde's messages name Rust types (`expected u32`, `expected struct RawRebalance`); a user
/// sees the kind of value instead.
pub fn plain_types(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut words = message.split(' ').peekable();
    let mut first = true;
    while let Some(word) = words.next() {
        if !first {
            out.push(' ');
        }
        first = false;
        let (core, tail) = match word.find(|c: char| !c.is_ascii_alphanumeric()) {
            Some(i) => word.split_at(i),
            None => (word, ""),
        };
        let plain = match core {
            "u8" => Some("a whole number from 0 to 255"),
            "u16" => Some("a whole number from 0 to 65535"),
            "u32" => Some("a whole number from 0 to 4294967295"),
            "u64" | "usize" => Some("a whole number (0 or more)"),
            "i8" | "i16" | "i32" | "i64" | "isize" => Some("a whole number"),
            "f32" | "f64" => Some("a number"),
            "struct" | "map" => {
                // `struct Name` / `map` → a table; the Rust name after `struct` goes too.
                if core == "struct" {
                    let name = words.next().unwrap_or("");
                    let tail = &name[name
                        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                        .unwrap_or(name.len())..];
                    out.push_str("a table (object)");
                    out.push_str(tail);
                    continue;
                }
                Some("a table (object)")
            }
            "sequence" => Some("a list"),
            "enum" => {
                let name = words.next().unwrap_or("");
                let tail = &name[name
                    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    .unwrap_or(name.len())..];
                out.push_str("one of the allowed values");
                out.push_str(tail);
                continue;
            }
            _ => None,
        };
        match plain {
            Some(p) => {
                out.push_str(p);
                out.push_str(tail);
            }
            None => out.push_str(word),
        }
    }
    out.replace("a a ", "a ").replace("a one of", "one of")
}

fn quoted_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The known name nearest to `unknown` (edit distance, `_` and `-` alike), if near enough to
/// be a typo: at most 2 edits, or a third of the name for long names. Kebab-case spellings
/// win over their old snake_case aliases.
pub fn suggest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let u = norm(unknown);
    let limit = (u.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| (distance(&u, &norm(k)), k.contains('_'), k))
        .filter(|(d, _, _)| *d <= limit)
        .min_by_key(|(d, snake, _)| (*d, *snake))
        .map(|(_, _, k)| k)
}

/// Levenshtein distance over characters.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Doc {
        #[serde(default)]
        item: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    struct Item {
        name: String,
        #[serde(default, alias = "max_bytes")]
        max_bytes: Option<u32>,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Object,
        Array,
    }

    fn toml_err(text: &str) -> LoadError {
        Source::toml(Path::new("d.toml"), text)
            .parse::<Doc>()
            .unwrap_err()
    }

    #[test]
    fn kebab_and_old_snake_spellings_load_the_same() {
        let kebab: Doc = Source::toml(
            Path::new("k.toml"),
            "[[item]]\nname = \"a\"\nmax-bytes = 4\nkind = \"array\"\n",
        )
        .parse()
        .unwrap();
        let snake: Doc = Source::toml(
            Path::new("s.toml"),
            "[[item]]\nname = \"a\"\nmax_bytes = 4\nkind = \"array\"\n",
        )
        .parse()
        .unwrap();
        for d in [kebab, snake] {
            assert_eq!(d.item.len(), 1);
            assert_eq!(d.item[0].name, "a");
            assert_eq!(d.item[0].max_bytes, Some(4));
            assert!(matches!(d.item[0].kind, Some(Kind::Array)));
            assert!(!matches!(d.item[0].kind, Some(Kind::Object)));
        }
    }

    #[test]
    fn display_is_file_line_column_field_message() {
        let e = LoadError {
            file: "a/b.toml".into(),
            line: 3,
            column: 7,
            field: "x.y".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "a/b.toml:3:7: x.y: bad");
    }

    #[test]
    fn unknown_key_is_placed_and_suggested() {
        let e = toml_err("[[item]]\nname = \"a\"\n\n[[item]]\nname = \"b\"\n  max-byte = 3\n");
        assert_eq!((e.line, e.column), (6, 3), "{e}");
        assert_eq!(e.field, "item[2].max-byte", "{e}");
        assert!(e.message.contains("did you mean `max-bytes`?"), "{e}");
        assert_eq!(e.to_string().matches("d.toml").count(), 1, "{e}");
    }

    #[test]
    fn wrong_type_names_the_field_path() {
        let e = toml_err("[[item]]\nname = \"a\"\nmax-bytes = \"many\"\n");
        assert_eq!(e.field, "item[1].max-bytes", "{e}");
        assert_eq!((e.line, e.column), (3, 13), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn unknown_word_is_suggested_and_missing_key_named() {
        let e = toml_err("[[item]]\nname = \"a\"\nkind = \"objekt\"\n");
        assert_eq!(e.field, "item[1].kind", "{e}");
        assert!(e.message.contains("did you mean `object`?"), "{e}");
        let e = toml_err("[[item]]\nkind = \"array\"\n");
        assert_eq!(e.field, "item[1].name", "{e}");
        assert!(e.message.contains("`name` is missing"), "{e}");
        assert_eq!(e.line, 1, "{e}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = toml_err("[[item]]\nname = \n");
        assert_eq!((e.line, e.field.as_str()), (2, WHOLE_FILE), "{e}");
        assert!(e.column >= 1);
    }

    #[test]
    fn json_errors_name_path_line_and_column() {
        let src = Source::json(
            Path::new("d.json"),
            "{\"item\": [\n  {\"name\": \"a\", \"max-bytes\": true}\n]}",
        );
        let e = src.parse::<Doc>().unwrap_err();
        assert_eq!(e.field, "item[1].max-bytes", "{e}");
        assert_eq!(e.line, 2, "{e}");
        assert!(!e.message.contains("at line"), "{e}");
        let e = Source::json(Path::new("d.json"), "{\"item\": [{\"nam\": \"a\"}]}")
            .parse::<Doc>()
            .unwrap_err();
        assert!(e.message.contains("did you mean `name`?"), "{e}");
        let e = Source::json(Path::new("d.json"), "{} x")
            .parse::<Doc>()
            .unwrap_err();
        assert_eq!(
            (e.line, e.column, e.field.as_str()),
            (1, 4, WHOLE_FILE),
            "{e}"
        );
    }

    #[test]
    fn fields_found_after_loading_are_located() {
        let text = "[[item]]\nname = \"a\"\n[[item]]\nname = \"b\"\nmax_bytes = 9\n";
        let src = Source::toml(Path::new("d.toml"), text);
        let path = [Seg::key("item"), Seg::Index(1), Seg::key("max-bytes")];
        let e = src.at_field(&path, "too big");
        assert_eq!((e.line, e.column), (5, 1), "{e}");
        assert_eq!(e.to_string(), "d.toml:5:1: item[2].max-bytes: too big");
        // A key the file lacks points at its nearest parent.
        let e = src.at_field(&[Seg::key("item"), Seg::Index(0), Seg::key("kind")], "x");
        assert_eq!(e.line, 1, "{e}");
        let two = "{\"item\": [\n {\"name\": \"a\"},\n {\"name\": \"b\"}\n]}";
        let e = Source::json(Path::new("d.json"), two)
            .at_field(&[Seg::key("item"), Seg::Index(1), Seg::key("name")], "x");
        assert_eq!(
            (e.line, e.column, e.field.as_str()),
            (3, 3, "item[2].name"),
            "{e}"
        );
        let json = Source::json(Path::new("d.json"), "{\n \"a\": {\n  \"b c\": 1}}");
        let e = json.at_field(&[Seg::key("a"), Seg::key("b c")], "x");
        assert_eq!(
            (e.line, e.column, e.field.as_str()),
            (3, 3, "a.\"b c\""),
            "{e}"
        );
    }

    #[test]
    fn messages_name_kinds_of_value_not_rust_types() {
        for (serde, want) in [
            (
                "invalid type: string \"x\", expected u32",
                "invalid type: string \"x\", expected a whole number from 0 to 4294967295",
            ),
            (
                "invalid type: string \"x\", expected struct RawRebalance",
                "invalid type: string \"x\", expected a table (object)",
            ),
            (
                "invalid type: map, expected a string",
                "invalid type: a table (object), expected a string",
            ),
            (
                "invalid type: integer `3`, expected a sequence",
                "invalid type: integer `3`, expected a list",
            ),
        ] {
            assert_eq!(explain(serde).0, want);
        }
        let e = toml_err("[[item]]\nname = \"a\"\nmax-bytes = \"many\"\n");
        assert!(!e.message.contains("u32"), "{e}");
    }

    #[test]
    fn suggestions_stay_near() {
        let known = ["status", "status_not", "status-not", "content-type"];
        assert_eq!(suggest("statuz", known), Some("status"));
        assert_eq!(suggest("status_nott", known), Some("status-not"));
        assert_eq!(suggest("content_typ", known), Some("content-type"));
        assert_eq!(suggest("body", known), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(position("ab\ncé\nd", 6), (2, 3));
    }
}
