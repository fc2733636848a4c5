//! Replays every committed seed and past crash input of the `aemm_config` fuzz target
//! (`fuzz/seeds/aemm_config/`) through the entry point the cargo-fuzz target calls.

#[path = "../../../fuzz/harness/aemm.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn aemm_config() {
    let n = replay::replay("aemm_config", harness::aemm_config);
    assert!(n >= 5, "only {n} seeds");
    let dir = replay::seeds_dir().join("aemm_config");
    let accepted = replay::files_under(&dir)
        .iter()
        .filter(|f| harness::accepted(&std::fs::read(f).unwrap()))
        .count();
    assert!(
        accepted >= 6,
        "only {accepted} of {n} seeds reach the round trip"
    );
}
