//! `server_http`: see `harness/server.rs` (shared with the seed-replay test in `crates/imds-server/tests`).
#![no_main]

#[path = "../harness/server.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::server_http(data));
