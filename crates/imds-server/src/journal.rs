//! The request journal: one entry (one JSON line in the file) per request, secrets redacted.
//!
//! Client validation judges clients from this: which requests came in which order, on which
//! connection, with which token (as a fingerprint, never the token), and what they got.
//! Requests hand over their parts unformatted ([`Pending`]); a writer thread writes each file
//! line straight from those parts and keeps them, still unformatted, in memory. A
//! [`JournalEntry`] is only made when someone reads the journal, so a journal costs a request
//! one queue send and the writer no strings per entry.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use imds_model::{Outcome, RequestKind, TOKEN_HEADER, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{ServerError, lock_unpoisoned};

/// One request as the server saw and answered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Order of arrival over the whole server, from 0.
    pub seq: u64,
    /// When the request arrived, by the server's clock (ISO-8601 UTC, milliseconds).
    pub time: String,
    /// The same instant in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The listener address the request came in on.
    pub listener: SocketAddr,
    /// The client's address.
    pub peer: SocketAddr,
    /// Connection number (from 0); equal numbers mean the same TCP connection.
    pub connection: u64,
    /// Request method (empty for a connection reset by `endpoint=reset`).
    pub method: String,
    /// Request target as sent (path and query).
    pub path: String,
    /// HTTP version, e.g. `HTTP/1.1`.
    pub version: String,
    /// Request headers in order, lower-case names; token and credential values redacted.
    pub headers: Vec<(String, String)>,
    /// Fingerprint of the session token presented, if any (see [`token_fingerprint`]).
    pub token: Option<String>,
    /// Status sent; `None` when no response was sent (a `hang` fault, a reset).
    pub status: Option<u16>,
    /// Why the model answered as it did (`TokenIssued`, `Served`, `TokenExpired`, …); `None`
    /// when a fault answered instead of the model.
    pub outcome: Option<String>,
    /// The fault (as its spec, e.g. `token-put=403x1`) that produced or changed this answer.
    pub fault: Option<String>,
    /// Fingerprint of the token issued by this request, if it was a successful token PUT.
    pub issued_token: Option<String>,
    /// TTL granted (token PUT) or remaining (token-bearing GET), from the response header.
    pub ttl: Option<u32>,
    /// IP TTL / hop limit requested for this response's socket (token PUTs only).
    pub hop_limit: Option<u8>,
    /// Time from the request head being parsed to the response being handed to hyper, in µs.
    pub latency_us: u64,
}

impl JournalEntry {
    /// The request's kind, decided as the model decides it ([`imds_model::classify`]).
    pub fn kind(&self) -> RequestKind {
        imds_model::classify(&self.method, &self.path)
    }

    /// True for a token request: a `PUT` on a token path, the exact one or a misplaced form
    /// that the model refuses ([`RequestKind::is_token_request`]).
    pub fn is_token_put(&self) -> bool {
        self.kind().is_token_request()
    }

    /// The value of the first request header named `name` (lower case), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A short, non-reversible name for a token: `sha256:` and the first 12 hex digits of its
/// SHA-256. Equal fingerprints mean the same token; the token itself is never recorded.
pub fn token_fingerprint(token: &[u8]) -> String {
    Fingerprint::of(token).to_string()
}

/// 128 bits of a token's SHA-256, to recognise revoked tokens.
pub(crate) fn token_key(token: &[u8]) -> u128 {
    let digest = Sha256::digest(token);
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(b)
}

/// A header value as journaled: secrets replaced, non-UTF-8 bytes escaped.
fn redact<'a>(name: &str, value: &'a [u8]) -> Shown<'a> {
    if name == TOKEN_HEADER {
        return Shown::Token(Fingerprint::of(value));
    }
    if imds_model::is_secret_header(name) {
        return Shown::Secret;
    }
    Shown::Text(String::from_utf8_lossy(value))
}

/// ISO-8601 UTC with milliseconds.
pub(crate) fn iso_millis(t: Timestamp) -> String {
    IsoMillis(t).to_string()
}

/// A request as the request path hands it to the journal: its head copied, pieces of the
/// response, nothing formatted or hashed yet. The writer thread writes it (fingerprints,
/// redaction) and keeps it; a [`JournalEntry`] is made from it only when the journal is read.
pub(crate) struct Pending {
    pub(crate) seq: u64,
    pub(crate) arrived: Timestamp,
    pub(crate) listener: SocketAddr,
    pub(crate) peer: SocketAddr,
    pub(crate) connection: u64,
    /// `None` for a connection reset before any request was read (`endpoint=reset`).
    pub(crate) head: Option<Head>,
    pub(crate) status: Option<u16>,
    pub(crate) outcome: Option<Outcome>,
    pub(crate) fault: Option<String>,
    /// The body of a successful token PUT: the token issued.
    pub(crate) issued_token: Option<Bytes>,
    pub(crate) ttl: Option<u32>,
    pub(crate) hop_limit: Option<u8>,
    pub(crate) latency_us: u64,
}

/// The request head, copied into one buffer. Keeping the request's own parts instead would pin
/// hyper's read buffer (header values are slices of it) until the writer got to them, and make
/// hyper allocate a fresh buffer for the next request on the connection.
pub(crate) struct Head {
    method: Method,
    version: http::Version,
    /// The target (`path?query`), then each header's name and value, each after its length
    /// (`u32`, little-endian), in the order `HeaderMap` iterates them.
    bytes: Vec<u8>,
}

impl Head {
    #[cfg(test)]
    fn new(method: &Method, uri: &Uri, version: http::Version, headers: &HeaderMap) -> Head {
        Head::in_buffer(Vec::new(), method, uri, version, headers)
    }

    /// The head copied into `bytes` (emptied first), a buffer to reuse.
    fn in_buffer(
        mut bytes: Vec<u8>,
        method: &Method,
        uri: &Uri,
        version: http::Version,
        headers: &HeaderMap,
    ) -> Head {
        let target = uri.path_and_query().map_or_else(
            || Cow::Owned(uri.to_string()),
            |p| Cow::Borrowed(p.as_str()),
        );
        let size = 4
            + target.len()
            + headers
                .iter()
                .map(|(n, v)| 8 + n.as_str().len() + v.len())
                .sum::<usize>();
        bytes.clear();
        bytes.reserve(size);
        let mut put = |b: &[u8]| {
            bytes.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
            bytes.extend_from_slice(b);
        };
        put(target.as_bytes());
        for (n, v) in headers {
            put(n.as_str().as_bytes());
            put(v.as_bytes());
        }
        Head {
            method: method.clone(),
            version,
            bytes,
        }
    }

    /// Each length-prefixed piece in order: the target, then name, value, name, value, ….
    fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
            let (piece, tail) = tail.split_at(len);
            rest = tail;
            Some(piece)
        })
    }

    fn target(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.pieces().next().unwrap_or_default())
    }

    /// `(name, value)` of every header, names as `HeaderName` spells them (lower case).
    fn headers(&self) -> impl Iterator<Item = (Cow<'_, str>, &[u8])> {
        let mut pieces = self.pieces().skip(1);
        std::iter::from_fn(move || {
            let name = pieces.next()?;
            Some((
                String::from_utf8_lossy(name),
                pieces.next().unwrap_or_default(),
            ))
        })
    }
}

impl Pending {
    /// A request as it arrives: nothing known yet but when, where and on which connection.
    pub(crate) fn new(
        seq: u64,
        arrived: Timestamp,
        listener: SocketAddr,
        peer: SocketAddr,
        connection: u64,
    ) -> Pending {
        Pending {
            seq,
            arrived,
            listener,
            peer,
            connection,
            head: None,
            status: None,
            outcome: None,
            fault: None,
            issued_token: None,
            ttl: None,
            hop_limit: None,
            latency_us: 0,
        }
    }

    /// The entry as readers see it (`journal()`, `GET /journal`): made only when read.
    fn to_entry(&self) -> JournalEntry {
        let view = self.view();
        JournalEntry {
            seq: self.seq,
            time: view.time.to_string(),
            time_ms: self.arrived.as_millis(),
            listener: self.listener,
            peer: self.peer,
            connection: self.connection,
            method: view.method.to_owned(),
            path: view.path.into_owned(),
            version: view.version.to_owned(),
            headers: view
                .headers
                .shown()
                .map(|(n, v)| (n.into_owned(), v.to_string()))
                .collect(),
            token: view.token.map(|f| f.to_string()),
            status: self.status,
            outcome: self.outcome.map(|o| format!("{o:?}")),
            fault: self.fault.clone(),
            issued_token: view.issued_token.map(|f| f.to_string()),
            ttl: self.ttl,
            hop_limit: self.hop_limit,
            latency_us: self.latency_us,
        }
    }

    /// The entry's fields borrowed from the parts, formatted as they are written: a file
    /// line costs the two fingerprints and no per-field strings.
    fn view(&self) -> EntryView<'_> {
        let (method, path, version) = match &self.head {
            Some(h) => (h.method.as_str(), h.target(), version_name(h.version)),
            None => ("", Cow::Borrowed(""), ""),
        };
        let headers = HeadersView::of(self.head.as_ref());
        EntryView {
            seq: self.seq,
            time: IsoMillis(self.arrived),
            time_ms: self.arrived.as_millis(),
            listener: self.listener,
            peer: self.peer,
            connection: self.connection,
            method,
            path,
            version,
            headers,
            token: headers.token,
            status: self.status,
            outcome: self.outcome.map(OutcomeName),
            fault: self.fault.as_deref(),
            issued_token: self.issued_token.as_deref().map(Fingerprint::of),
            ttl: self.ttl,
            hop_limit: self.hop_limit,
            latency_us: self.latency_us,
        }
    }
}

/// [`JournalEntry`]'s fields in its order, borrowed: serialises to the same JSON line.
#[derive(Serialize)]
struct EntryView<'a> {
    seq: u64,
    time: IsoMillis,
    time_ms: u64,
    listener: SocketAddr,
    peer: SocketAddr,
    connection: u64,
    method: &'a str,
    path: Cow<'a, str>,
    version: &'a str,
    #[serde(serialize_with = "serialize_headers")]
    headers: HeadersView<'a>,
    token: Option<Fingerprint>,
    status: Option<u16>,
    outcome: Option<OutcomeName>,
    fault: Option<&'a str>,
    issued_token: Option<Fingerprint>,
    ttl: Option<u32>,
    hop_limit: Option<u8>,
    latency_us: u64,
}

/// The headers of a head (none for a connection reset), shown redacted, with the fingerprint
/// of the first token header: hashed once for the `token` field and that header's redaction.
#[derive(Clone, Copy)]
struct HeadersView<'a> {
    head: Option<&'a Head>,
    token: Option<Fingerprint>,
}

impl<'a> HeadersView<'a> {
    fn of(head: Option<&'a Head>) -> HeadersView<'a> {
        let token = head
            .and_then(|h| h.headers().find(|(n, _)| n == TOKEN_HEADER.as_str()))
            .map(|(_, v)| Fingerprint::of(v));
        HeadersView { head, token }
    }

    /// `(name, shown value)` in order.
    fn shown(self) -> impl Iterator<Item = (Cow<'a, str>, Shown<'a>)> {
        let mut first_token = self.token;
        self.head
            .into_iter()
            .flat_map(Head::headers)
            .map(move |(n, v)| {
                let value = match first_token.take_if(|_| n == TOKEN_HEADER.as_str()) {
                    Some(f) => Shown::Token(f),
                    None => redact(&n, v),
                };
                (n, value)
            })
    }
}

/// The `headers` field: a list of `[name, value]` pairs, written without collecting them.
fn serialize_headers<S: serde::Serializer>(h: &HeadersView<'_>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(h.shown())
}

/// A header value as journaled (see [`redact`]), without building the string.
enum Shown<'a> {
    Token(Fingerprint),
    Secret,
    Text(Cow<'a, str>),
}

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Token(t) => write!(f, "<redacted {t}>"),
            Shown::Secret => f.write_str("<redacted>"),
            Shown::Text(t) => f.write_str(t),
        }
    }
}

/// The first 6 bytes of a token's SHA-256 as [`token_fingerprint`] shows them
/// (`sha256:` and 12 hex digits), formatted once.
#[derive(Clone, Copy)]
struct Fingerprint([u8; 19]);

impl Fingerprint {
    fn of(token: &[u8]) -> Fingerprint {
        // A journal sees the same token over and over: the last one's fingerprint is kept per
        // thread, so a run of requests with one token costs one hash.
        thread_local! {
            static LAST: std::cell::RefCell<(Vec<u8>, Option<Fingerprint>)> =
                const { std::cell::RefCell::new((Vec::new(), None)) };
        }
        LAST.with_borrow_mut(|(last, fingerprint)| match fingerprint {
            Some(f) if last.as_slice() == token => *f,
            _ => {
                let f = Fingerprint::hash(token);
                last.clear();
                last.extend_from_slice(token);
                *fingerprint = Some(f);
                f
            }
        })
    }

    fn hash(token: &[u8]) -> Fingerprint {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digest = Sha256::digest(token);
        let mut text = *b"sha256:000000000000";
        for (i, b) in digest[..6].iter().enumerate() {
            text[7 + 2 * i] = HEX[usize::from(b >> 4)];
            text[8 + 2 * i] = HEX[usize::from(b & 0xf)];
        }
        Fingerprint(text)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("sha256:?")
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// ISO-8601 UTC with milliseconds (`2026-12-07T21:55:43.922Z`).
struct IsoMillis(Timestamp);

impl IsoMillis {
    /// Calls `f` with the text. The seconds are formatted once a second per thread: the
    /// journal writer shows thousands of entries a second.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        thread_local! {
            static SECOND: std::cell::RefCell<(u64, String)> =
                const { std::cell::RefCell::new((u64::MAX, String::new())) };
        }
        let ms = self.0.as_millis();
        SECOND.with_borrow_mut(|(secs, text)| {
            if *secs != ms / 1000 {
                *secs = ms / 1000;
                *text = self.0.to_iso8601();
                text.pop(); // the `Z`, written after the milliseconds
                text.push_str(".000Z");
            }
            // `text` ends in `.mmmZ`: only the milliseconds change within the second.
            let n = text.len();
            let digits = [ms / 100 % 10, ms / 10 % 10, ms % 10].map(|d| b'0' + d as u8);
            text.replace_range(n - 4..n - 1, std::str::from_utf8(&digits).unwrap_or("000"));
            f(text)
        })
    }
}

impl std::fmt::Display for IsoMillis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_text(|t| f.write_str(t))
    }
}

impl Serialize for IsoMillis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_text(|t| s.serialize_str(t))
    }
}

/// The outcome's variant name (`Served`), as `{:?}` shows it.
struct OutcomeName(Outcome);

impl std::fmt::Display for OutcomeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Values shown through `Display`, serialised as JSON strings without an owned copy.
macro_rules! serialize_as_display {
    ($($t:ty),*) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_display!(Shown<'_>, OutcomeName);

/// `http::Version`'s name as its `Debug` shows it (`HTTP/1.1`), without formatting.
fn version_name(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/?",
    }
}

/// Requests waiting for the writer thread at most; beyond, the request path waits for it
/// (memory stays bounded and no entry is dropped).
const QUEUE: usize = 2048;

/// How long the writer thread lets entries gather while requests keep coming: it wakes this
/// often to write a batch, instead of once per request (a wake-up costs more CPU than an
/// entry). The file lags the requests by this much at most; `sync` does not wait for it.
const BATCH: std::time::Duration = std::time::Duration::from_millis(5);

/// The journal file's write buffer: a busy server's batch of lines (about 500 bytes each).
const FILE_BUFFER: usize = 64 * 1024;

// Entries travel by value: a box would cost each request an allocation the writer thread
// frees, and entries far outnumber `Sync`s.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Entry(Pending),
    /// Answered once every message sent before it has been written (and the file flushed).
    Sync(mpsc::Sender<()>),
}

/// The request journal: a queue to one writer thread, which appends entries to the file and
/// keeps the newest `capacity` in memory, unformatted (they hold the request's headers, token
/// included, in this process only; readers get [`JournalEntry`], redacted).
pub(crate) struct Journal {
    seq: AtomicU64,
    spares: Arc<Spares>,
    queue: Option<mpsc::SyncSender<Msg>>,
    /// The writer thread, to wake it when it sleeps with nothing to do (or for a `sync`).
    writer: Option<std::thread::Thread>,
    /// Set by the writer thread while it sleeps until woken, with an empty queue.
    idle: Arc<AtomicBool>,
    memory: Arc<Mutex<VecDeque<Pending>>>,
}

impl Journal {
    pub(crate) fn new(capacity: usize, path: Option<&Path>) -> Result<Journal, ServerError> {
        let file = match path {
            Some(p) => Some(BufWriter::with_capacity(
                FILE_BUFFER,
                File::create(p).map_err(|source| ServerError::Journal {
                    path: p.to_owned(),
                    source,
                })?,
            )),
            None => None,
        };
        let memory = Arc::new(Mutex::new(VecDeque::new()));
        let idle = Arc::new(AtomicBool::new(false));
        let spares = Arc::new(Spares::default());
        let (queue, writer) = if capacity > 0 || file.is_some() {
            let (tx, rx) = mpsc::sync_channel(QUEUE);
            let writer = Writer {
                capacity,
                memory: memory.clone(),
                file,
                idle: idle.clone(),
                spares: spares.clone(),
                done_with: Vec::new(),
            };
            let handle = std::thread::Builder::new()
                .name("imds-journal".to_owned())
                .spawn(move || writer.run(&rx))
                .map_err(|source| ServerError::Journal {
                    path: path.map(Path::to_owned).unwrap_or_default(),
                    source,
                })?;
            (Some(tx), Some(handle.thread().clone()))
        } else {
            (None, None)
        };
        Ok(Journal {
            seq: AtomicU64::new(0),
            spares,
            queue,
            writer,
            idle,
            memory,
        })
    }

    /// False when entries would go nowhere (then callers skip building them).
    pub(crate) fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A request's head for an entry, copied into a buffer the writer is done with when
    /// there is one.
    pub(crate) fn head(
        &self,
        method: &Method,
        uri: &Uri,
        version: http::Version,
        headers: &HeaderMap,
    ) -> Head {
        Head::in_buffer(self.spares.take(), method, uri, version, headers)
    }

    /// Hands `entry` to the writer thread; waits only while its queue is full.
    pub(crate) fn record(&self, entry: Pending) {
        if let Some(q) = &self.queue {
            let _ = q.send(Msg::Entry(entry));
            // Most of the time the writer is between batches and wakes by itself.
            if self.idle.load(Ordering::SeqCst) && self.idle.swap(false, Ordering::SeqCst) {
                self.wake();
            }
        }
    }

    fn wake(&self) {
        if let Some(w) = &self.writer {
            w.unpark();
        }
    }

    /// Returns once every entry recorded before the call is in memory and in the file.
    pub(crate) fn sync(&self) {
        if let Some(q) = &self.queue {
            let (tx, rx) = mpsc::channel();
            if q.send(Msg::Sync(tx)).is_ok() {
                self.wake();
                let _ = rx.recv();
            }
        }
    }

    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.entries_since(0)
    }

    /// The entries with `seq >= since`, oldest first; only those are copied (the list is kept
    /// sorted by `seq`).
    pub(crate) fn entries_since(&self, since: u64) -> Vec<JournalEntry> {
        self.sync();
        let m = lock_unpoisoned(&self.memory);
        let from = m.partition_point(|e| e.seq < since);
        m.range(from..).map(|p| p.to_entry()).collect()
    }

    pub(crate) fn clear(&self) {
        self.sync();
        lock_unpoisoned(&self.memory).clear();
    }
}

impl Drop for Journal {
    /// Closes the queue and wakes the writer, which writes what is left and ends.
    fn drop(&mut self) {
        self.queue = None;
        self.wake();
    }
}

/// Head buffers the writer is done with (evicted or not kept), for the request path to reuse.
/// Freeing them on the writer thread instead made glibc take the allocating worker's arena
/// lock once per entry, so the writer's frees and the workers' mallocs contended for it.
#[derive(Default)]
struct Spares(Mutex<Vec<Vec<u8>>>);

/// Most buffers kept for reuse; a batch is about a hundred entries.
const SPARES: usize = 1024;

impl Spares {
    /// A spare buffer, or a new empty one when there is none or the pool is busy (a request
    /// never waits for it).
    fn take(&self) -> Vec<u8> {
        match self.0.try_lock() {
            Ok(mut spares) => spares.pop().unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Keeps up to [`SPARES`] of `done`, frees the rest; `done` is left empty.
    fn give(&self, done: &mut Vec<Vec<u8>>) {
        if done.is_empty() {
            return;
        }
        let mut spares = lock_unpoisoned(&self.0);
        let room = SPARES.saturating_sub(spares.len());
        // Draining empties `done` whatever `take` leaves; those buffers are freed here.
        spares.extend(done.drain(..).take(room));
    }
}

/// The journal's thread: everything that costs per entry happens here.
struct Writer {
    capacity: usize,
    memory: Arc<Mutex<VecDeque<Pending>>>,
    file: Option<BufWriter<File>>,
    idle: Arc<AtomicBool>,
    spares: Arc<Spares>,
    /// Head buffers of entries written and no longer kept, handed back after each batch.
    done_with: Vec<Vec<u8>>,
}

impl Writer {
    /// Until every sender is gone: drains the queue, flushes the file, then sleeps for
    /// [`BATCH`] while entries keep coming, or until woken once they stop.
    fn run(mut self, queue: &mpsc::Receiver<Msg>) {
        loop {
            let mut got = false;
            loop {
                match queue.try_recv() {
                    Ok(msg) => {
                        got |= matches!(msg, Msg::Entry(_));
                        self.take(msg);
                    }
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.flush();
                        return;
                    }
                }
            }
            self.flush();
            if got {
                std::thread::park_timeout(BATCH);
                continue;
            }
            // Quiet: sleep until a request wakes us. Said before the last look at the queue,
            // so an entry sent meanwhile is either seen here or wakes us.
            self.idle.store(true, Ordering::SeqCst);
            match queue.try_recv() {
                Err(mpsc::TryRecvError::Empty) => std::thread::park(),
                Err(mpsc::TryRecvError::Disconnected) => return,
                Ok(msg) => {
                    self.idle.store(false, Ordering::SeqCst);
                    self.take(msg);
                }
            }
        }
    }

    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Entry(p) => self.write(p),
            Msg::Sync(done) => {
                self.flush();
                let _ = done.send(());
            }
        }
    }

    fn write(&mut self, entry: Pending) {
        if let Some(f) = &mut self.file {
            // A full disk must not stop the server; the entry is still kept in memory.
            if serde_json::to_writer(&mut *f, &entry.view()).is_ok() {
                let _ = f.write_all(b"\n");
            }
        }
        if self.capacity == 0 {
            self.done_with.extend(entry.head.map(|h| h.bytes));
        } else {
            let mut m = lock_unpoisoned(&self.memory);
            if m.len() >= self.capacity
                && let Some(old) = m.pop_front()
            {
                self.done_with.extend(old.head.map(|h| h.bytes));
            }
            // Entries arrive nearly in order; keep the list sorted by arrival.
            if m.back().is_none_or(|last| last.seq < entry.seq) {
                m.push_back(entry);
            } else {
                let at = m.partition_point(|e| e.seq < entry.seq);
                m.insert(at, entry);
            }
        }
        // A batch that never ends (the queue refilled as fast as it drains) still hands back.
        if self.done_with.len() >= SPARES {
            self.spares.give(&mut self.done_with);
        }
    }

    fn flush(&mut self) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
        self.spares.give(&mut self.done_with);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_credentials_are_redacted() {
        let tok = b"AQAEAabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL==";
        let v = redact("x-aws-ec2-metadata-token", tok).to_string();
        assert!(v.starts_with("<redacted sha256:"), "{v}");
        assert!(!v.contains("AQAE"));
        assert_eq!(
            redact("authorization", b"AWS4 secret").to_string(),
            "<redacted>"
        );
        assert_eq!(
            redact("x-aws-ec2-metadata-token-ttl-seconds", b"21600").to_string(),
            "21600"
        );
    }

    #[test]
    fn fingerprints_tell_tokens_apart() {
        assert_eq!(token_fingerprint(b"a"), token_fingerprint(b"a"));
        assert_ne!(token_fingerprint(b"a"), token_fingerprint(b"b"));
        assert_eq!(token_fingerprint(b"a").len(), 19);
        // SHA-256("a") = ca978112ca1b…; asked again after another token (the per-thread
        // cache holds one).
        assert_eq!(token_fingerprint(b"a"), "sha256:ca978112ca1b");
        assert_eq!(token_fingerprint(b"b"), "sha256:3e23e8160039");
        assert_eq!(token_fingerprint(b"a"), "sha256:ca978112ca1b");
    }

    fn pending(seq: u64) -> Pending {
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, http::HeaderValue::from_static("secret-token"));
        pending_with(seq, &headers)
    }

    fn pending_with(seq: u64, headers: &HeaderMap) -> Pending {
        let listener = SocketAddr::from(([127, 0, 0, 1], 1338));
        let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
        Pending {
            head: Some(Head::new(
                &Method::GET,
                &Uri::from_static("/latest/meta-data/instance-id?x=1"),
                http::Version::HTTP_11,
                headers,
            )),
            status: Some(200),
            outcome: Some(Outcome::Served),
            ttl: Some(60),
            latency_us: 1,
            ..Pending::new(seq, Timestamp(1_700_000_000_000 + seq), listener, peer, seq)
        }
    }

    #[test]
    fn every_entry_from_every_thread_is_kept_in_order_and_written() {
        let path = std::env::temp_dir().join(format!(
            "imds-server-journal-unit-{}.jsonl",
            std::process::id()
        ));
        let journal = Arc::new(Journal::new(10_000, Some(&path)).expect("journal"));
        // More entries than the queue holds, so senders also wait for the writer.
        let per_thread = QUEUE as u64;
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let journal = journal.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        journal.record(pending(i * 4 + t));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let entries = journal.entries();
        assert_eq!(entries.len() as u64, 4 * per_thread);
        assert!(entries.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        let e = &entries[7];
        assert_eq!(e.path, "/latest/meta-data/instance-id?x=1");
        assert_eq!(e.version, "HTTP/1.1");
        assert_eq!(e.outcome.as_deref(), Some("Served"));
        assert_eq!(
            e.token.as_deref(),
            Some(token_fingerprint(b"secret-token").as_str())
        );
        assert_eq!(e.time, "2023-11-14T22:13:20.007Z");
        // The file holds every line as soon as a reader has synced (no wait for shutdown).
        let text = std::fs::read_to_string(&path).expect("journal file");
        assert_eq!(text.lines().count() as u64, 4 * per_thread);
        assert!(
            !text.contains("secret-token"),
            "the token leaks into the file"
        );
        drop(journal);
        std::fs::remove_file(&path).expect("remove");
    }

    #[test]
    fn memory_keeps_the_newest_entries() {
        let journal = Journal::new(3, None).expect("journal");
        for seq in 0..5 {
            journal.record(pending(seq));
        }
        let seqs: Vec<u64> = journal.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [2, 3, 4]);
        assert_eq!(journal.entries_since(4).len(), 1);
        journal.clear();
        assert!(journal.entries().is_empty());
    }

    /// Evicted entries' head buffers come back for new heads, which show only their own
    /// request (a longer old head leaves nothing behind).
    #[test]
    fn evicted_heads_are_reused() {
        let journal = Journal::new(2, None).expect("journal");
        let mut long = HeaderMap::new();
        long.insert(
            "user-agent",
            http::HeaderValue::from_static("a-long-user-agent"),
        );
        for seq in 0..5 {
            let head = journal.head(
                &Method::GET,
                &Uri::from_static("/latest/meta-data/instance-id"),
                http::Version::HTTP_11,
                &long,
            );
            journal.record(Pending {
                head: Some(head),
                ..pending(seq)
            });
        }
        journal.sync();
        let spares = || lock_unpoisoned(&journal.spares.0).len();
        assert_eq!(spares(), 3, "three evicted heads");
        let head = journal.head(
            &Method::PUT,
            &Uri::from_static("/x"),
            http::Version::HTTP_10,
            &HeaderMap::new(),
        );
        assert_eq!(spares(), 2, "a new head takes one");
        assert!(
            head.bytes.capacity() > head.bytes.len(),
            "in an old, larger buffer"
        );
        journal.record(Pending {
            head: Some(head),
            ..pending(5)
        });
        let newest = journal.entries().pop().expect("an entry");
        assert_eq!(
            (
                newest.method.as_str(),
                newest.path.as_str(),
                newest.version.as_str()
            ),
            ("PUT", "/x", "HTTP/1.0")
        );
        assert!(newest.headers.is_empty(), "{:?}", newest.headers);
    }

    #[test]
    fn spares_keep_at_most_their_cap() {
        let spares = Spares::default();
        let mut done: Vec<Vec<u8>> = (0..SPARES + 5).map(|_| Vec::with_capacity(8)).collect();
        spares.give(&mut done);
        assert!(done.is_empty());
        assert_eq!(lock_unpoisoned(&spares.0).len(), SPARES);
        let mut more = vec![vec![1u8]];
        spares.give(&mut more);
        assert!(more.is_empty());
        assert_eq!(
            lock_unpoisoned(&spares.0).len(),
            SPARES,
            "a full pool frees the rest"
        );
        assert!(spares.take().capacity() >= 8, "a spare, not a new buffer");
        assert_eq!(lock_unpoisoned(&spares.0).len(), SPARES - 1);
    }

    /// The file line written from the parts is the JSON of the entry readers get, byte for
    /// byte, whatever the head holds (two tokens, a secret, non-UTF-8, no head at all).
    #[test]
    fn file_lines_are_the_entries_readers_get() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", http::HeaderValue::from_static("curl/8"));
        headers.insert(TOKEN_HEADER, http::HeaderValue::from_static("secret-token"));
        headers.append(TOKEN_HEADER, http::HeaderValue::from_static("second-token"));
        headers.insert(
            "authorization",
            http::HeaderValue::from_static("AWS4 secret"),
        );
        headers.insert(
            "x-odd",
            http::HeaderValue::from_bytes(b"caf\xe9").expect("obs-text value"),
        );
        headers.insert("x-empty", http::HeaderValue::from_static(""));
        let mut p = pending_with(3, &headers);
        p.issued_token = Some(Bytes::from_static(b"issued"));
        p.fault = Some("get=500".to_owned());
        let reset = Pending {
            head: None,
            outcome: None,
            ..pending(4)
        };
        for p in [p, reset] {
            let line = serde_json::to_string(&p.view()).expect("line");
            let entry = p.to_entry();
            assert_eq!(line, serde_json::to_string(&entry).expect("entry"));
            assert_eq!(
                serde_json::from_str::<JournalEntry>(&line).expect("reads back"),
                entry
            );
            if entry.seq == 3 {
                let names: Vec<&str> = entry.headers.iter().map(|(n, _)| n.as_str()).collect();
                let token = "x-aws-ec2-metadata-token";
                let expected = [
                    "user-agent",
                    token,
                    token,
                    "authorization",
                    "x-odd",
                    "x-empty",
                ];
                assert_eq!(names, expected);
                let second = format!("<redacted {}>", token_fingerprint(b"second-token"));
                assert_eq!(entry.headers[2].1, second);
                assert_eq!(entry.header("x-odd"), Some("caf\u{fffd}"));
                assert_eq!(entry.header("x-empty"), Some(""));
                assert_eq!(entry.path, "/latest/meta-data/instance-id?x=1");
            }
            for secret in ["secret-token", "second-token", "AWS4 secret", "\"issued\""] {
                assert!(!line.contains(secret), "{secret} leaks: {line}");
            }
        }
    }

    #[test]
    fn times_have_milliseconds() {
        // Within one second only the milliseconds change; the next second, and one back in
        // time (a manual clock), are formatted afresh.
        for (ms, shown) in [
            (1_700_000_000_123, "2023-11-14T22:13:20.123Z"),
            (1_700_000_000_007, "2023-11-14T22:13:20.007Z"),
            (1_700_000_000_990, "2023-11-14T22:13:20.990Z"),
            (1_700_000_001_000, "2023-11-14T22:13:21.000Z"),
            (951_782_400_045, "2000-02-29T00:00:00.045Z"),
        ] {
            assert_eq!(iso_millis(imds_model::Timestamp(ms)), shown);
        }
    }
}
