//! The request journal: one entry (one JSON line in the file) per request, secrets redacted.
//!
//! Client validation judges clients from this: which requests came in which order, on which
//! connection, with which token (as a fingerprint, never the token), and what they got.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{LineWriter, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use imds_model::RequestKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ServerError;

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
    let digest = Sha256::digest(token);
    let mut s = String::with_capacity(19);
    s.push_str("sha256:");
    for b in &digest[..6] {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// 128 bits of a token's SHA-256, to recognise revoked tokens.
pub(crate) fn token_key(token: &[u8]) -> u128 {
    let digest = Sha256::digest(token);
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(b)
}

/// A header value as journaled: secrets replaced, non-UTF-8 bytes escaped.
pub(crate) fn redact(name: &str, value: &[u8]) -> String {
    if name == "x-aws-ec2-metadata-token" {
        return format!("<redacted {}>", token_fingerprint(value));
    }
    if imds_model::is_secret_header(name) {
        return "<redacted>".to_owned();
    }
    String::from_utf8_lossy(value).into_owned()
}

/// ISO-8601 UTC with milliseconds.
pub(crate) fn iso_millis(t: imds_model::Timestamp) -> String {
    let secs = t.to_iso8601();
    let base = secs.strip_suffix('Z').unwrap_or(&secs);
    format!("{base}.{:03}Z", t.as_millis() % 1000)
}

pub(crate) struct Journal {
    capacity: usize,
    memory: Mutex<VecDeque<JournalEntry>>,
    file: Option<Mutex<LineWriter<File>>>,
    seq: AtomicU64,
}

impl Journal {
    pub(crate) fn new(capacity: usize, path: Option<&Path>) -> Result<Journal, ServerError> {
        let file = match path {
            Some(p) => Some(Mutex::new(LineWriter::new(File::create(p).map_err(
                |source| ServerError::Journal {
                    path: p.to_owned(),
                    source,
                },
            )?))),
            None => None,
        };
        Ok(Journal {
            capacity,
            memory: Mutex::new(VecDeque::new()),
            file,
            seq: AtomicU64::new(0),
        })
    }

    /// False when entries would go nowhere (then callers skip building them).
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0 || self.file.is_some()
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn record(&self, entry: JournalEntry) {
        if let Some(file) = &self.file
            && let Ok(line) = serde_json::to_string(&entry)
        {
            let mut f = match file.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            // A full disk must not stop the server; the entry is still kept in memory.
            let _ = writeln!(f, "{line}");
        }
        if self.capacity > 0 {
            let mut m = self.lock();
            if m.len() >= self.capacity {
                m.pop_front();
            }
            // Entries arrive nearly in order; keep the list sorted by arrival.
            let at = m.partition_point(|e| e.seq < entry.seq);
            m.insert(at, entry);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<JournalEntry>> {
        match self.memory.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(crate) fn entries(&self) -> Vec<JournalEntry> {
        self.lock().iter().cloned().collect()
    }

    /// The entries with `seq >= since`, oldest first; only those are copied (the list is kept
    /// sorted by `seq`).
    pub(crate) fn entries_since(&self, since: u64) -> Vec<JournalEntry> {
        let m = self.lock();
        let from = m.partition_point(|e| e.seq < since);
        m.range(from..).cloned().collect()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_credentials_are_redacted() {
        let tok = b"AQAEAabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL==";
        let v = redact("x-aws-ec2-metadata-token", tok);
        assert!(v.starts_with("<redacted sha256:"), "{v}");
        assert!(!v.contains("AQAE"));
        assert_eq!(redact("authorization", b"AWS4 secret"), "<redacted>");
        assert_eq!(
            redact("x-aws-ec2-metadata-token-ttl-seconds", b"21600"),
            "21600"
        );
    }

    #[test]
    fn fingerprints_tell_tokens_apart() {
        assert_eq!(token_fingerprint(b"a"), token_fingerprint(b"a"));
        assert_ne!(token_fingerprint(b"a"), token_fingerprint(b"b"));
        assert_eq!(token_fingerprint(b"a").len(), 19);
    }

    #[test]
    fn times_have_milliseconds() {
        assert_eq!(
            iso_millis(imds_model::Timestamp(1_700_000_000_123)),
            "2023-11-14T22:13:20.123Z"
        );
    }
}
