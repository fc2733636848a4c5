//! `HttpPutResponseHopLimit`: the IP TTL (IPv6 unicast hop limit) of token PUT responses.
//!
//! EC2 sends the token PUT response with the configured IP TTL, so it dies after that many
//! hops. We do the same by setting `IP_TTL` / `IPV6_UNICAST_HOPS` on the connection just
//! before the response bytes are written, and putting the original value back before any
//! later response on the same connection.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::{Deserialize, Serialize};
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// `want` value meaning "put the connection's original hop limit back".
pub(crate) const RESTORE: u32 = u32::MAX;
/// `want` value meaning "leave the socket alone".
const KEEP: u32 = 0;

/// One hop limit the server set on a connection, read back from the socket afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedHopLimit {
    /// The client the connection belongs to.
    pub peer: SocketAddr,
    /// The value asked for.
    pub requested: u32,
    /// True when this put the connection's original value back (a later non-PUT response).
    pub restore: bool,
    /// The value `getsockopt(IP_TTL)` (or `IPV6_UNICAST_HOPS`) reported after setting it.
    pub read_back: u32,
}

/// Most recent applied hop limits kept for [`crate::ImdsServer::applied_hop_limits`].
const HOP_LOG_CAPACITY: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct HopLog(Mutex<Vec<AppliedHopLimit>>);

impl HopLog {
    fn push(&self, entry: AppliedHopLimit) {
        let mut log = crate::lock_unpoisoned(&self.0);
        if log.len() >= HOP_LOG_CAPACITY {
            log.remove(0);
        }
        log.push(entry);
    }

    pub(crate) fn entries(&self) -> Vec<AppliedHopLimit> {
        crate::lock_unpoisoned(&self.0).clone()
    }
}

/// What the request handler wants the socket's hop limit to be for the next write.
#[derive(Debug)]
pub(crate) struct HopControl {
    v6: bool,
    peer: SocketAddr,
    want: AtomicU32,
    /// What the socket is set to now (`KEEP`: never touched).
    current: AtomicU32,
    /// The socket's hop limit before we first changed it.
    original: AtomicU32,
}

impl HopControl {
    pub(crate) fn new(v6: bool, peer: SocketAddr) -> Self {
        HopControl {
            v6,
            peer,
            want: AtomicU32::new(KEEP),
            current: AtomicU32::new(KEEP),
            original: AtomicU32::new(KEEP),
        }
    }

    /// The next response goes out with this hop limit.
    pub(crate) fn request(&self, hops: u32) {
        self.want.store(hops, Ordering::Relaxed);
    }

    /// The next response goes out with the socket's original hop limit (if we changed it).
    pub(crate) fn restore(&self) {
        if self.current.load(Ordering::Relaxed) != KEEP {
            self.want.store(RESTORE, Ordering::Relaxed);
        }
    }

    fn apply(&self, stream: &TcpStream, log: &HopLog) {
        let want = self.want.swap(KEEP, Ordering::Relaxed);
        if want == KEEP {
            return;
        }
        let sock = SockRef::from(stream);
        let read = |s: &SockRef<'_>| {
            if self.v6 {
                s.unicast_hops_v6()
            } else {
                s.ttl_v4()
            }
        };
        if self.original.load(Ordering::Relaxed) == KEEP
            && let Ok(v) = read(&sock)
        {
            self.original.store(v, Ordering::Relaxed);
        }
        let value = if want == RESTORE {
            self.original.load(Ordering::Relaxed)
        } else {
            want
        };
        if value == KEEP || value == self.current.load(Ordering::Relaxed) {
            return;
        }
        let set = if self.v6 {
            sock.set_unicast_hops_v6(value)
        } else {
            sock.set_ttl_v4(value)
        };
        if set.is_ok() {
            self.current.store(value, Ordering::Relaxed);
            if let Ok(read_back) = read(&sock) {
                log.push(AppliedHopLimit {
                    peer: self.peer,
                    requested: value,
                    restore: want == RESTORE,
                    read_back,
                });
            }
        }
    }
}

/// A TCP stream that applies the requested hop limit right before writing, logging each
/// change to the server's hop log. Used only by connections that are dropped as soon as
/// hyper is done with them (see `poll_shutdown`).
pub(crate) struct HopIo {
    stream: TcpStream,
    hop: Arc<HopControl>,
    log: Arc<HopLog>,
}

impl HopIo {
    pub(crate) fn new(stream: TcpStream, hop: Arc<HopControl>, log: Arc<HopLog>) -> Self {
        HopIo { stream, hop, log }
    }
}

impl AsyncRead for HopIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for HopIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.hop.apply(&this.stream, &this.log);
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.hop.apply(&this.stream, &this.log);
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    /// Nothing to do: hyper shuts a connection down only to drop it, and dropping closes the
    /// socket, which sends the same FIN; a separate `shutdown(2)` cost a system call on every
    /// `Connection: close` answer.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
