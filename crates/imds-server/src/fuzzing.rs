//! Fuzzing entry point: the server's HTTP handling over an in-memory connection.
//!
//! Not part of the supported API (hidden from the docs). The cargo-fuzz target `server_http`
//! and the seed-replay test (`tests/fuzz_seeds.rs`) feed raw client bytes through the same
//! hyper configuration and request service a TCP connection gets, without sockets.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use imds_model::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::faults::Faults;
use crate::hop::HopControl;
use crate::journal::{Journal, JournalEntry};
use crate::service::{self, Conn, Shared};
use crate::{Imds, Limits, ServerError};

/// Largest number of bytes one in-memory connection gives back; a server that writes more
/// than this for one fuzz input is as good as stuck.
pub const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// One server's shared state, serving any number of in-memory connections.
pub struct Harness {
    shared: Arc<Shared>,
    http: http1::Builder,
    _shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness").finish_non_exhaustive()
    }
}

impl Harness {
    /// A server for `imds`, time from `clock`, default [`Limits`], these faults, and an
    /// in-memory journal of `journal_capacity` entries. Must be called inside a tokio runtime
    /// (hyper's timer).
    pub fn new(
        imds: Arc<Imds>,
        clock: Arc<dyn Clock>,
        faults: Faults,
        journal_capacity: usize,
    ) -> Result<Harness, ServerError> {
        let journal = Journal::new(journal_capacity, None)?;
        // The same state and settings `ImdsServerBuilder::start` serves every listener with.
        let (shared, http, shutdown_tx) =
            crate::serving(imds, clock, journal, faults, Limits::default(), None);
        Ok(Harness {
            shared,
            http,
            _shutdown: shutdown_tx,
        })
    }

    /// Sends `input` as everything the client says on one connection and returns every byte
    /// the server wrote back (at most [`MAX_OUTPUT`]) until it closed the connection.
    ///
    /// The client does not half-close (hyper drops the answer to a request whose client
    /// half-closed, as with TCP), so a connection kept alive ends by the header-read timeout:
    /// run this on a runtime with paused time (`start_paused`) so that passes at once.
    pub async fn serve(&self, input: &[u8]) -> Vec<u8> {
        let id = self.shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 80));
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40_000));
        let conn = Arc::new(Conn {
            id,
            local,
            peer,
            hop: Arc::new(HopControl::new(false, peer)),
        });
        let svc = hyper::service::service_fn({
            let shared = self.shared.clone();
            move |req| service::handle(shared.clone(), conn.clone(), req)
        });
        let (client, server) = tokio::io::duplex(64 * 1024);
        let (mut from_server, mut to_server) = tokio::io::split(client);
        let connection = self.http.serve_connection(TokioIo::new(server), svc);
        // Dropping this half does not close the stream: the reading half keeps it open.
        let write = async move {
            let _ = to_server.write_all(input).await;
        };
        let read = async move {
            let mut out = Vec::new();
            let mut buf = [0u8; 16 * 1024];
            while let Ok(n) = from_server.read(&mut buf).await {
                if n == 0 || out.len() >= MAX_OUTPUT {
                    break;
                }
                out.extend_from_slice(&buf[..n]);
            }
            out
        };
        // The connection future owns the server end; when it finishes the reader sees EOF.
        let ((), (), out) = tokio::join!(
            async move {
                let _ = connection.await;
            },
            write,
            read
        );
        out
    }

    /// The journal entries recorded so far (oldest first).
    pub fn journal(&self) -> Vec<JournalEntry> {
        self.shared.journal.entries()
    }

    /// Forgets the journal entries recorded so far.
    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }
}
