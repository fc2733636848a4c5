//! `aemm_config`: see `harness/aemm.rs` (shared with the seed-replay test in `crates/imds-aemm/tests`).
#![no_main]

#[path = "../harness/aemm.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::aemm_config(data));
