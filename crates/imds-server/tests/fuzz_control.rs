//! Replays the committed seeds and past crash inputs of the `control_request` fuzz target
//! (`fuzz/seeds/control_request/`) through the entry point the target calls.

#[path = "../../../fuzz/harness/control.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn control_request() {
    for (target, entry) in harness::TARGETS {
        let n = replay::replay(target, *entry);
        assert!(n >= 10, "{target}: only {n} seeds");
    }
}
