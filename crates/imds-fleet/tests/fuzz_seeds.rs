//! Replays every committed seed of the `fleet_inputs` fuzz target (`fuzz/seeds/fleet_inputs/`,
//! including `regressions/`) through the entry point the cargo-fuzz target calls.

#[path = "../../../fuzz/harness/fleet.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_fleet_target_has_a_seed_directory() {
    for (target, _) in harness::TARGETS {
        assert!(
            replay::seeds_dir().join(target).is_dir(),
            "fuzz/seeds/{target} is missing"
        );
    }
}

#[test]
fn fleet_inputs() {
    let n = replay::replay("fleet_inputs", harness::fleet_inputs);
    assert!(n >= 20, "{n} seeds");
}
