//! Replays every committed seed and past crash input of the decoder targets
//! (`fuzz/seeds/<target>/`, including `regressions/`) through the entry points the cargo-fuzz
//! targets call, so a plain `cargo test` on stable covers them without cargo-fuzz.

#[path = "../../../fuzz/harness/files.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_decoder_target_has_a_seed_directory() {
    for (target, _) in harness::TARGETS {
        assert!(
            replay::seeds_dir().join(target).is_dir(),
            "fuzz/seeds/{target} is missing"
        );
    }
}

#[test]
fn metadata_options_json() {
    let n = replay::replay("metadata_options_json", harness::metadata_options_json);
    assert!(n >= 5, "{n} seeds");
}

#[test]
fn scenario_file() {
    let n = replay::replay("scenario_file", harness::scenario_file);
    assert!(n >= 5, "{n} seeds");
}
