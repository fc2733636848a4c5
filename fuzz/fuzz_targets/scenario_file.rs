//! `scenario_file`: see `harness/model.rs` (shared with the seed-replay test in `crates/imds-model/tests`).
#![no_main]

#[path = "../harness/model.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::scenario_file(data));
