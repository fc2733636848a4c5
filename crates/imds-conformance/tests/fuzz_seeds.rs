//! Replays every committed seed and past crash input of the runner's fuzz targets
//! (`fuzz/seeds/response_eval/`, `fuzz/seeds/case_catalogue/`) through the same entry points
//! the cargo-fuzz targets call, so a plain `cargo test` on stable covers them.

#[path = "../../../fuzz/harness/conformance.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn response_eval() {
    replay::replay("response_eval", harness::response_eval);
}

#[test]
fn case_catalogue() {
    replay::replay("case_catalogue", harness::case_catalogue);
}

#[test]
fn every_runner_target_has_a_seed_directory() {
    for (target, _) in harness::TARGETS {
        assert!(
            replay::seeds_dir().join(target).is_dir(),
            "fuzz/seeds/{target} is missing"
        );
    }
}

mod expectations_parser {
    use std::collections::BTreeMap;
    use std::path::Path;

    use imds_conformance::Expectations;
    use proptest::prelude::*;

    /// What a hand-written expectations file holds.
    #[derive(serde::Serialize)]
    struct File {
        xfail: BTreeMap<String, String>,
    }

    proptest! {
        /// Every entry of a well-formed expectations file is read back with its reason
        /// (the loader has no other proptest; the fuzz target `case_catalogue` covers bad files).
        #[test]
        fn expectations_round_trip(
            entries in proptest::collection::btree_map(
                "[a-z][a-z0-9-]{0,7}(\\.[a-z][a-z0-9-]{0,7}){0,3}",
                "[A-Za-z0-9][ -~]{0,40}",
                0..12,
            )
        ) {
            let text = toml::to_string(&File { xfail: entries.clone() }).unwrap();
            let parsed = Expectations::parse(Path::new("t.toml"), &text).unwrap();
            prop_assert_eq!(parsed.len(), entries.len());
            for (id, reason) in &entries {
                prop_assert_eq!(parsed.reason(id), Some(reason.as_str()), "{}", text);
            }
        }
    }
}

/// The `cases-NAME.toml` seeds are the committed case files (selector byte `0` first) and load
/// as `NAME.toml`, so the fuzzer starts from catalogues that get evaluated, not refused; the
/// old snake_case spelling seed loads too.
#[test]
fn case_file_seeds_load() {
    let dir = replay::seeds_dir().join("case_catalogue");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = match name.strip_prefix("cases-") {
            Some(file) => file.to_owned(),
            None if name == "old-snake-case-keys.toml" => "token.toml".to_owned(),
            None => continue,
        };
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes[0], b'0', "{name}: selector byte");
        let text = String::from_utf8(bytes[1..].to_vec()).unwrap();
        let cat = imds_conformance::Catalogue::from_sources(&[(file.into(), text)], None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!cat.cases.is_empty(), "{name}");
        seen += 1;
    }
    assert!(seen >= 17, "only {seen} case-file seeds");
}
