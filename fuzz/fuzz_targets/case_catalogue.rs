//! `case_catalogue`: see `harness/conformance.rs` (shared with the seed-replay test in `crates/imds-conformance/tests`).
#![no_main]

#[path = "../harness/conformance.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::case_catalogue(data));
