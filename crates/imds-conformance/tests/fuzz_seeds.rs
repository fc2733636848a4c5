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
