//! `fleet_inputs`: see `harness/fleet.rs` (shared with the seed-replay test in `crates/imds-fleet/tests`).
#![no_main]

#[path = "../harness/fleet.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::fleet_inputs(data));
