//! Per-target known failures (`conformance/targets/NAME.toml`), BoGo style.
//!
//! ```toml
//! [xfail]
//! "token.put.ttl-echoed" = "moto_server 5.2.1 sends no TTL header (seen 2026-11-28; SPEC.md §2.1)"
//! "methods.*" = "routes are method-agnostic (SPEC.md §8)"
//! ```
//! Keys are case ids or globs. A listed case that fails is `xfail`; one that passes is
//! `xpass` (and fails the run); a key that matches no known case id is stale
//! ([`Expectations::stale_entries`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imds_diag::{LoadError, Seg, Source};
use serde::Deserialize;

use crate::report::{CaseResult, Outcome};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExpectations {
    #[serde(default)]
    xfail: BTreeMap<String, String>,
}

/// Known failures of one target.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// Where they came from (file name or target name).
    pub source: String,
    entries: Vec<(String, glob::Pattern, String)>,
}

impl Expectations {
    /// Reads an expectations file.
    pub fn load(path: &Path) -> Result<Expectations, LoadError> {
        Expectations::parse(path, &imds_files::read(path)?)
    }

    /// Parses expectations text; `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Expectations, LoadError> {
        let src = Source::toml(path, text);
        let raw: RawExpectations = src.parse()?;
        let mut entries = Vec::new();
        for (key, reason) in raw.xfail {
            let err = |message: String| {
                src.at_field(&[Seg::key("xfail"), Seg::key(key.as_str())], message)
            };
            if reason.trim().is_empty() {
                return Err(err("every entry needs a reason".into()));
            }
            let pattern = glob::Pattern::new(&key).map_err(|e| err(format!("bad glob: {e}")))?;
            entries.push((key, pattern, reason));
        }
        Ok(Expectations {
            source: path.display().to_string(),
            entries,
        })
    }

    /// `conformance/targets/NAME.toml` under `conformance_dir`.
    pub fn target_file(conformance_dir: &Path, name: &str) -> PathBuf {
        conformance_dir.join("targets").join(format!("{name}.toml"))
    }

    /// The reason a case id is expected to fail, if it is listed.
    pub fn reason(&self, id: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(_, p, _)| p.matches(id))
            .map(|(_, _, r)| r.as_str())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries that match none of `known_ids` (the case ids of the runner's catalogue, or
    /// client-check's scenario ids): stale entries, reported with their reasons.
    pub fn stale_entries<'a>(&self, known_ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let known: Vec<&str> = known_ids.into_iter().collect();
        self.entries
            .iter()
            .filter(|(_, p, _)| !known.iter().any(|id| p.matches(id)))
            .map(|(k, _, r)| format!("{k} (matches no case; reason was: {r})"))
            .collect()
    }

    /// Turns fail → xfail and pass → xpass for listed cases.
    pub fn apply(&self, result: &mut CaseResult) {
        let Some(reason) = self.reason(&result.id) else {
            return;
        };
        let new = match result.outcome {
            Outcome::Fail => Outcome::Xfail,
            Outcome::Pass => Outcome::Xpass,
            other => other,
        };
        if new != result.outcome {
            result.outcome = new;
            result.reason = Some(match result.reason.take() {
                Some(r) => format!("known failure: {reason} ({r})"),
                None => format!("known failure: {reason}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_empty_reasons() {
        let e = Expectations::parse(
            Path::new("t.toml"),
            "[xfail]\n\"a.b\" = \"because\"\n\"c.*\" = \"all of c\"\n",
        )
        .unwrap();
        assert_eq!(e.reason("a.b"), Some("because"));
        assert_eq!(e.reason("c.d.e"), Some("all of c"));
        assert_eq!(e.reason("a.c"), None);
        let err =
            Expectations::parse(Path::new("t.toml"), "[xfail]\n\"a.b\" = \" \"\n").unwrap_err();
        assert_eq!(
            (err.line, err.column, err.field.as_str()),
            (2, 1, "xfail.\"a.b\""),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "t.toml:2:1: xfail.\"a.b\": every entry needs a reason"
        );
        let err = Expectations::parse(Path::new("t.toml"), "\n[xfial]\n").unwrap_err();
        assert_eq!(
            (err.line, err.column, err.field.as_str()),
            (2, 2, "xfial"),
            "{err}"
        );
        assert!(err.message.contains("did you mean `xfail`?"), "{err}");
        let err = Expectations::parse(Path::new("t.toml"), "[xfail]\n\"a.b\" = 3\n").unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (2, "xfail.\"a.b\""),
            "{err}"
        );
        assert!(err.message.contains("invalid type"), "{err}");
        let err = Expectations::parse(Path::new("t.toml"), "[xfail]\n\"[\" = \"x\"\n").unwrap_err();
        assert!(err.message.contains("bad glob"), "{err}");
    }

    #[test]
    fn stale_entries_are_those_matching_no_known_id() {
        let e = Expectations::parse(
            Path::new("t.toml"),
            "[xfail]\n\"a.b\" = \"because\"\n\"c.*\" = \"all of c\"\n\"gone\" = \"old\"\n",
        )
        .unwrap();
        assert_eq!(
            e.stale_entries(["a.b", "c.d"]),
            ["gone (matches no case; reason was: old)"]
        );
        assert_eq!(
            e.stale_entries(["a.b", "c.d", "gone"]),
            Vec::<String>::new()
        );
        assert_eq!(e.stale_entries([]).len(), 3);
    }
}
