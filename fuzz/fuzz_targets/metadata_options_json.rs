//! `metadata_options_json`: see `harness/files.rs` (shared with the seed-replay test in `crates/imds-files/tests`).
#![no_main]

#[path = "../harness/files.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::metadata_options_json(data));
