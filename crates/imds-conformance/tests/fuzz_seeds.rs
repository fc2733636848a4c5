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
