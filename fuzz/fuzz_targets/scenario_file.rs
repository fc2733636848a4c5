//! `scenario_file`: see `harness/files.rs` (shared with the seed-replay test in `crates/imds-files/tests`).
#![no_main]

#[path = "../harness/files.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::scenario_file(data));
