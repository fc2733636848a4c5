//! `control_request`: see `harness/control.rs` (shared with the seed-replay test in `crates/imds-model/tests`).
#![no_main]

#[path = "../harness/control.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::control_request(data));
