//! hyper request → model → hyper response, with faults, hop limit and journal around it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use hyper::body::{Frame, Incoming, SizeHint};
use imds_model::{ClientAddr, Clock, Outcome, ReasonPhrase, TOKEN_HEADER, TTL_HEADER, Timestamp};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};

use crate::faults::{Decision, FaultState};
use crate::hop::{HopControl, HopLog};
use crate::journal::{Head, Journal, Pending, token_key};
use crate::{Imds, Limits};

/// Everything the connections of one server share.
pub(crate) struct Shared {
    pub(crate) imds: Arc<Imds>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) journal: Journal,
    pub(crate) faults: FaultState,
    pub(crate) limits: Limits,
    pub(crate) connections: Arc<Semaphore>,
    pub(crate) hop_log: Arc<HopLog>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) overlay: Option<crate::Overlay>,
}

/// One accepted connection.
pub(crate) struct Conn {
    pub(crate) id: u64,
    pub(crate) local: SocketAddr,
    pub(crate) peer: SocketAddr,
    pub(crate) hop: Arc<HopControl>,
}

/// The service's error: the request is dropped unanswered and the connection closed.
#[derive(Debug, thiserror::Error)]
#[error("request held unanswered by a hang fault")]
pub(crate) struct HungUp;

/// The value the model is asked with when a revoked token was presented: never a valid token.
const REVOKED_TOKEN: HeaderValue = HeaderValue::from_static("revoked-by-fault");

pub(crate) async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<Response<WireBody>, HungUp> {
    let started = Instant::now();
    // IMDS requests carry no body; the model never looks at one, so it is not read.
    let (parts, _body) = req.into_parts();
    let mut req = Request::from_parts(parts, ());
    // The model decides `notice-clients` from the peer address (SPEC.md §8); only while such
    // a limit is in force does it need one.
    if shared.imds.wants_client_addr() {
        req.extensions_mut()
            .insert(ClientAddr(conn.peer.ip().to_canonical()));
    }
    let kind = imds_model::classify(req.method().as_str(), req.uri().path());
    // Only what the journal cannot take from the request later: nothing is formatted here.
    let mut entry = shared.journal.enabled().then(|| {
        let seq = shared.journal.next_seq();
        Pending::new(seq, shared.clock.now(), conn.local, conn.peer, conn.id)
    });

    let decision = shared.faults.decide(kind, req.uri().path(), || {
        req.headers()
            .get(TOKEN_HEADER)
            .map(|v| token_key(v.as_bytes()))
    });
    let mut reshape = None;
    // The token headers as sent, when a fault replaces them before the model sees the request.
    let mut sent_tokens: Vec<HeaderValue> = Vec::new();
    let (mut resp, outcome, fault) = match decision {
        Decision::Model => {
            let (r, o) = shared.imds.handle_with_outcome(&req);
            (r, Some(o), None)
        }
        Decision::Reshape(r, label) => {
            reshape = Some(r);
            let (r, o) = shared.imds.handle_with_outcome(&req);
            (r, Some(o), Some(label))
        }
        Decision::Delay(delay, label) => {
            // A slow IMDS: the answer is the model's, as of when the request arrived. A client
            // that gives up meanwhile drops this future; the guard still journals the request.
            let mut abandoned = Abandoned {
                shared: shared.clone(),
                started,
                entry: entry.take().map(|mut e| {
                    e.fault = Some(label.clone());
                    e.head = Some(head_of(&shared, &req));
                    e
                }),
            };
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            entry = abandoned.entry.take().map(|mut e| {
                e.fault = None;
                e.head = None;
                e
            });
            let (r, o) = shared.imds.handle_with_outcome(&req);
            (r, Some(o), Some(label))
        }
        Decision::Status(status, label) => (
            fault_response(status, shared.clock.now()),
            None,
            Some(label),
        ),
        Decision::Revoked(label) => {
            sent_tokens = req
                .headers()
                .get_all(TOKEN_HEADER)
                .iter()
                .cloned()
                .collect();
            req.headers_mut().insert(TOKEN_HEADER, REVOKED_TOKEN);
            let (r, o) = shared.imds.handle_with_outcome(&req);
            (r, Some(o), Some(label))
        }
        Decision::Hang(label) => {
            if let Some(mut e) = entry.take() {
                e.fault = Some(label);
                e.latency_us = micros(started.elapsed());
                e.head = Some(head_of(&shared, &req));
                shared.journal.record(e);
            }
            let mut shutdown = shared.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(shared.limits.hang_limit) => {}
                _ = shutdown.wait_for(|s| *s) => {}
            }
            return Err(HungUp);
        }
    };

    if let (Some(overlay), Some(o)) = (&shared.overlay, outcome) {
        crate::overlay::apply(
            overlay,
            &req,
            o,
            conn.peer.ip().to_canonical(),
            // Read only when an overlay is set, so the plain path keeps its single clock read.
            shared.clock.now(),
            &mut resp,
        );
    }

    // Spec §2.6: the answer to a PUT on a token path (a token, or the 403 of a misplaced
    // one) leaves with the configured IP TTL.
    let hop_limit = if kind.is_token_request() {
        let hops = shared.imds.options().http_put_response_hop_limit.get();
        conn.hop.request(u32::from(hops));
        Some(hops)
    } else {
        conn.hop.restore();
        None
    };
    let issued = (outcome == Some(Outcome::TokenIssued)).then(|| resp.body().clone());
    if let Some(t) = &issued {
        shared.faults.track_issued(token_key(t));
    }
    // After the token is tracked: a reshaped token is still the one the model issued.
    if let Some(r) = reshape {
        r.apply(&mut resp, req.method() != http::Method::HEAD);
    }
    if let Some(mut e) = entry {
        e.status = Some(resp.status().as_u16());
        e.outcome = outcome;
        e.fault = fault;
        e.issued_token = issued;
        e.ttl = resp
            .headers()
            .get(TTL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        e.hop_limit = hop_limit;
        let (mut parts, ()) = req.into_parts();
        if !sent_tokens.is_empty() {
            parts.headers.remove(TOKEN_HEADER);
            for t in sent_tokens {
                parts.headers.append(TOKEN_HEADER, t);
            }
        }
        e.head = Some(shared.journal.head(
            &parts.method,
            &parts.uri,
            parts.version,
            &parts.headers,
        ));
        e.latency_us = micros(started.elapsed());
        shared.journal.record(e);
    }
    Ok(to_hyper(resp))
}

/// The request head, for entries journaled before the answer (rare paths).
fn head_of(shared: &Shared, req: &Request<()>) -> Head {
    shared
        .journal
        .head(req.method(), req.uri(), req.version(), req.headers())
}

/// Journals a delayed request whose client went away before the answer (no status).
struct Abandoned {
    shared: Arc<Shared>,
    started: Instant,
    entry: Option<Pending>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(mut e) = self.entry.take() {
            e.latency_us = micros(self.started.elapsed());
            self.shared.journal.record(e);
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The model's response as hyper's, keeping its reason phrase and its `Content-Length`.
fn to_hyper(resp: Response<Bytes>) -> Response<WireBody> {
    let mut resp = resp.map(|b| WireBody(Some(b)));
    if let Some(ReasonPhrase(reason)) = resp.extensions().get::<ReasonPhrase>().copied()
        && let Ok(r) = hyper::ext::ReasonPhrase::try_from(reason.as_bytes())
    {
        resp.extensions_mut().insert(r);
    }
    resp
}

/// A response body of known length that hyper writes through its length path even when empty.
///
/// hyper treats an empty, already-finished body specially: it drops the model's
/// `Content-Length: 0` and appends its own after every other header, which would break EC2's
/// header order (spec §3.6: the 403's first header is `Content-Length`). Reporting "not ended
/// yet" with an exact size of 0 keeps the header where the model put it.
pub(crate) struct WireBody(Option<Bytes>);

impl hyper::body::Body for WireBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.0
                .take()
                .filter(|b| !b.is_empty())
                .map(|b| Ok(Frame::data(b))),
        )
    }

    fn is_end_stream(&self) -> bool {
        false
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

/// What a faulted request gets: shaped like EC2's own errors, as the model shapes them (spec §6).
fn fault_response(status: u16, date: Timestamp) -> Response<Bytes> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    imds_model::error_response(status, date)
}

/// `endpoint=reset`: RST the connection before reading anything, and journal it.
pub(crate) fn reset_connection(
    stream: &TcpStream,
    shared: &Shared,
    local: SocketAddr,
    peer: SocketAddr,
    id: u64,
) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    if shared.journal.enabled() {
        let seq = shared.journal.next_seq();
        shared.journal.record(Pending {
            fault: Some("endpoint=reset".to_owned()),
            ..Pending::new(seq, shared.clock.now(), local, peer, id)
        });
    }
}
