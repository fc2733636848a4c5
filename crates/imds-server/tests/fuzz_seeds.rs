//! Replays every committed seed and past crash input of the `server_http` fuzz target
//! (`fuzz/seeds/server_http/`) through the same entry point, over an in-memory connection,
//! so a plain `cargo test` on stable covers them without cargo-fuzz.

#[path = "../../../fuzz/harness/server.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn server_http() {
    replay::replay("server_http", harness::server_http);
}
