//! Scripted faults: the server misbehaving on purpose so client behaviour can be tested.
//!
//! Faults live here, in the transport, never in the model: the model is always right; a fault
//! is the server deliberately answering something else (or nothing). Spec syntax (`--fault`):
//!
//! | spec | effect |
//! |---|---|
//! | `token-put=STATUS` | every token PUT ([`imds_model::RequestKind::is_token_request`]: `PUT /latest/api/token`, or one of its misplaced forms) answered with STATUS (400..=599) instead of the model's answer |
//! | `token-put=hang` | every token PUT held open unanswered, then the connection closed (after [`crate::Limits::hang_limit`]) |
//! | `get=STATUS` / `get=hang` | the same for metadata reads ([`imds_model::RequestKind::MetadataRead`]: GET/HEAD on anything but the token path) |
//! | `get=delay:1100ms` / `token-put=delay:2s` | the request is answered normally, but only after this delay (a slow IMDS; compare a client's timeout) |
//! | `get[GLOB]=…` | a `get` fault only for paths matching GLOB, e.g. `get[/latest/meta-data/iam/security-credentials/*]=500`; `*` stays within one path segment, the query is not matched; several globs may be given, the first match wins and is tried before an unscoped `get` |
//! | `…=drop-ttl`, `…=ttl:VALUE` | the model's answer without its `X-aws-ec2-metadata-token-ttl-seconds` header, or with VALUE in it |
//! | `…=drop-header:NAME`, `…=header:NAME:VALUE` | the model's answer without header NAME, or with NAME set to VALUE |
//! | `…=content-type:VALUE` | the model's answer with this `Content-Type` |
//! | `…=status:CODE` | the model's headers and body under another status (200..=599) |
//! | `…=truncate:N`, `…=trailing-newline`, `…=line:N:TEXT` | the model's body cut to its first N bytes, with a `\n` added, or with its line N (from 1) replaced by TEXT; `Content-Length` follows |
//! | `…xN` suffix, e.g. `get=500x2` | only the first N matching requests are faulted, later ones served normally |
//! | `revoke-tokens-after=N` | after N requests, every token issued so far is revoked: it gets the model's 401 |
//! | `endpoint=reset` | every connection is reset (RST) as soon as it is accepted: nothing listens |
//!
//! For the model's own "endpoint disabled" (403 to everything) use the option
//! `HttpEndpoint=disabled` (`--http-endpoint disabled`), not a fault.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    CONTENT_LENGTH, CONTENT_TYPE, DATE, HeaderName, HeaderValue, TRANSFER_ENCODING,
};
use http::{Response, StatusCode};
use imds_model::{ReasonPhrase, RequestKind, TTL_HEADER};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a faulted request gets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// An IMDS-looking error response with this status (400..=599).
    Status(u16),
    /// No response: the request is held, then the connection is closed unanswered.
    Hang,
    /// The model's answer, sent only after this delay.
    Delay(Duration),
    /// The model's answer, changed in one way before it is sent.
    Reshape(Reshape),
}

/// One change to the shape of the model's answer: what a mock that gets one detail wrong sends.
///
/// Header names are lower-case; values were checked to be valid header values when parsed.
/// Body changes apply to answers with a body (not HEAD) and keep `Content-Length` right.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reshape {
    /// `drop-ttl`: no `X-aws-ec2-metadata-token-ttl-seconds` header.
    DropTtl,
    /// `ttl:VALUE`: that header says VALUE.
    Ttl(String),
    /// `drop-header:NAME`: no NAME header.
    DropHeader(String),
    /// `header:NAME:VALUE`: NAME set to VALUE (replaced in place, or added last).
    Header(String, String),
    /// `content-type:VALUE`.
    ContentType(String),
    /// `status:CODE`: the model's headers and body under this status.
    Status(u16),
    /// `truncate:N`: only the first N bytes of the body.
    Truncate(usize),
    /// `trailing-newline`: the body with `\n` added at the end.
    TrailingNewline,
    /// `line:N:TEXT`: line N (from 1) of the body replaced by TEXT; a shorter body is unchanged.
    Line(usize, String),
}

/// A fault on one kind of request, for every such request or only the first `times`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scripted {
    /// What the request gets.
    pub action: FaultAction,
    /// Only the first `times` matching requests (`None`: all of them).
    pub times: Option<u32>,
}

/// A connection-level fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndpointFault {
    /// Reset every connection as soon as it is accepted.
    Reset,
}

/// A `get` fault for the paths matching one glob (`get[GLOB]=…`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PathFault {
    /// The paths it applies to (matched without the query; `*` stays within a segment).
    pub glob: glob::Pattern,
    /// What those requests get.
    pub scripted: Scripted,
}

impl PathFault {
    /// True when `path` (the query already removed) is one this fault applies to.
    pub fn matches(&self, path: &str) -> bool {
        self.glob.matches_with(
            path,
            glob::MatchOptions {
                case_sensitive: true,
                require_literal_separator: true,
                require_literal_leading_dot: false,
            },
        )
    }
}

/// One fault, as given by one `--fault SPEC`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `token-put=…`.
    TokenPut(Scripted),
    /// `get=…`.
    Get(Scripted),
    /// `get[GLOB]=…`.
    GetPath(PathFault),
    /// `revoke-tokens-after=N`.
    RevokeTokensAfter(u64),
    /// `endpoint=reset`.
    Endpoint(EndpointFault),
}

/// The set of faults in force (at most one of each kind, one per glob for `get[GLOB]`).
/// `Faults::default()` is none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Faults {
    /// Fault on token PUTs (`PUT /latest/api/token`).
    pub token_put: Option<Scripted>,
    /// Fault on metadata requests (GET/HEAD on anything but the token path).
    pub get: Option<Scripted>,
    /// Faults on the metadata requests of some paths, tried in order before `get`.
    pub get_paths: Vec<PathFault>,
    /// Revoke every token issued so far once this many requests have been answered.
    pub revoke_tokens_after: Option<u64>,
    /// Connection-level fault.
    pub endpoint: Option<EndpointFault>,
}

/// A `--fault` spec that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad fault {spec:?}: {problem}{}", hint(did_you_mean.as_deref()))]
pub struct FaultSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
    /// The spec as it was probably meant, when one word is a near miss of a known one.
    pub did_you_mean: Option<String>,
}

/// A near miss gets the corrected spec; anything else the whole syntax.
fn hint(did_you_mean: Option<&str>) -> String {
    match did_you_mean {
        Some(s) => format!("; did you mean {s:?}?"),
        None => format!(" (allowed: {FAULT_SYNTAX})"),
    }
}

/// The accepted fault syntax, for error messages and `--help`.
pub const FAULT_SYNTAX: &str = "token-put=ACTION[xN], get=ACTION[xN], get[GLOB]=ACTION[xN], \
revoke-tokens-after=N, endpoint=reset; ACTION is a STATUS of 400..=599, hang, delay:Nms|Ns, \
or one change to the model's answer: drop-ttl, ttl:VALUE, drop-header:NAME, header:NAME:VALUE, \
content-type:VALUE, status:CODE, truncate:N, trailing-newline, line:N:TEXT";

/// The fault kinds (left of `=`), for "did you mean".
const KINDS: [&str; 4] = ["token-put", "get", "revoke-tokens-after", "endpoint"];

/// The action words (before any `:`), for "did you mean".
const ACTION_WORDS: [&str; 11] = [
    "hang",
    "delay",
    "drop-ttl",
    "ttl",
    "drop-header",
    "header",
    "content-type",
    "status",
    "truncate",
    "trailing-newline",
    "line",
];

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// True when no fault is set.
    pub fn is_none(&self) -> bool {
        self == &Faults::default()
    }

    /// These faults with `fault` added (replacing one of the same kind).
    pub fn with(mut self, fault: Fault) -> Self {
        match fault {
            Fault::TokenPut(s) => self.token_put = Some(s),
            Fault::Get(s) => self.get = Some(s),
            Fault::GetPath(p) => match self.get_paths.iter_mut().find(|q| q.glob == p.glob) {
                Some(q) => *q = p,
                None => self.get_paths.push(p),
            },
            Fault::RevokeTokensAfter(n) => self.revoke_tokens_after = Some(n),
            Fault::Endpoint(e) => self.endpoint = Some(e),
        }
        self
    }

    /// Parses several specs (e.g. repeated `--fault` flags) into one set.
    pub fn parse_all<'a>(
        specs: impl IntoIterator<Item = &'a str>,
    ) -> Result<Faults, FaultSpecError> {
        specs
            .into_iter()
            .try_fold(Faults::none(), |f, s| Ok(f.with(s.parse()?)))
    }

    /// Each fault set, as a spec string.
    pub fn specs(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(
            self.token_put
                .clone()
                .map(|s| Fault::TokenPut(s).to_string()),
        );
        out.extend(self.get.clone().map(|s| Fault::Get(s).to_string()));
        out.extend(
            self.get_paths
                .iter()
                .map(|p| Fault::GetPath(p.clone()).to_string()),
        );
        out.extend(
            self.revoke_tokens_after
                .map(|n| Fault::RevokeTokensAfter(n).to_string()),
        );
        out.extend(self.endpoint.map(|e| Fault::Endpoint(e).to_string()));
        out
    }
}

impl fmt::Display for Reshape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reshape::DropTtl => f.write_str("drop-ttl"),
            Reshape::Ttl(v) => write!(f, "ttl:{v}"),
            Reshape::DropHeader(n) => write!(f, "drop-header:{n}"),
            Reshape::Header(n, v) => write!(f, "header:{n}:{v}"),
            Reshape::ContentType(v) => write!(f, "content-type:{v}"),
            Reshape::Status(s) => write!(f, "status:{s}"),
            Reshape::Truncate(n) => write!(f, "truncate:{n}"),
            Reshape::TrailingNewline => f.write_str("trailing-newline"),
            Reshape::Line(n, text) => write!(f, "line:{n}:{text}"),
        }
    }
}

impl fmt::Display for Scripted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            FaultAction::Status(s) => write!(f, "{s}")?,
            FaultAction::Hang => f.write_str("hang")?,
            FaultAction::Delay(d) => write!(f, "delay:{}ms", d.as_millis())?,
            FaultAction::Reshape(r) => write!(f, "{r}")?,
        }
        if let Some(n) = self.times {
            write!(f, "x{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::TokenPut(s) => write!(f, "token-put={s}"),
            Fault::Get(s) => write!(f, "get={s}"),
            Fault::GetPath(p) => write!(f, "get[{}]={}", p.glob.as_str(), p.scripted),
            Fault::RevokeTokensAfter(n) => write!(f, "revoke-tokens-after={n}"),
            Fault::Endpoint(EndpointFault::Reset) => f.write_str("endpoint=reset"),
        }
    }
}

/// Why a spec's value was refused, and the value as probably meant.
struct ValueError {
    problem: String,
    did_you_mean: Option<String>,
}

impl From<String> for ValueError {
    fn from(problem: String) -> Self {
        ValueError {
            problem,
            did_you_mean: None,
        }
    }
}

impl FromStr for Fault {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Fault, FaultSpecError> {
        let bad = |problem: String| FaultSpecError {
            spec: spec.to_owned(),
            problem,
            did_you_mean: None,
        };
        let (kind, value) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected KIND=VALUE".into()))?;
        let (kind, value) = (kind.trim(), value.trim());
        // A near-miss value keeps the kind as given: the suggestion is the whole spec.
        let bad_value = |e: ValueError| FaultSpecError {
            spec: spec.to_owned(),
            problem: e.problem,
            did_you_mean: e.did_you_mean.map(|v| format!("{kind}={v}")),
        };
        if let Some(glob) = kind
            .strip_prefix("get[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if !glob.starts_with('/') {
                return Err(bad(format!("path glob {glob:?} must start with '/'")));
            }
            let glob = glob::Pattern::new(glob)
                .map_err(|e| bad(format!("bad path glob {glob:?}: {e}")))?;
            let scripted = parse_scripted(value).map_err(bad_value)?;
            return Ok(Fault::GetPath(PathFault { glob, scripted }));
        }
        match kind {
            "token-put" => Ok(Fault::TokenPut(parse_scripted(value).map_err(bad_value)?)),
            "get" => Ok(Fault::Get(parse_scripted(value).map_err(bad_value)?)),
            "revoke-tokens-after" => value
                .parse::<u64>()
                .map(Fault::RevokeTokensAfter)
                .map_err(|_| bad(format!("{value:?} is not a whole number of requests"))),
            "endpoint" => match value {
                "reset" => Ok(Fault::Endpoint(EndpointFault::Reset)),
                other => Err(bad_value(ValueError {
                    problem: format!(
                        "unknown endpoint fault {other:?} (for 403s use --http-endpoint disabled)"
                    ),
                    did_you_mean: imds_diag::suggest(other, ["reset"]).map(str::to_owned),
                })),
            },
            other => {
                // `gte[/x]` is a near miss of `get[/x]`: compare the part before the glob.
                let (word, glob) = match other.split_once('[') {
                    Some((w, g)) => (w, Some(g)),
                    None => (other, None),
                };
                let known = KINDS
                    .iter()
                    .copied()
                    .filter(|k| glob.is_none() || *k == "get");
                Err(FaultSpecError {
                    did_you_mean: imds_diag::suggest(word, known).map(|k| match glob {
                        Some(g) => format!("{k}[{g}={value}"),
                        None => format!("{k}={value}"),
                    }),
                    ..bad(format!("unknown fault kind {other:?}"))
                })
            }
        }
    }
}

/// Longest accepted `delay:`; a longer wait is a hang.
const MAX_DELAY: Duration = Duration::from_secs(600);

fn parse_delay(value: &str) -> Result<Duration, String> {
    let (number, unit) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000)
    } else {
        return Err(format!(
            "delay {value:?} needs a unit: ms or s (e.g. delay:1100ms)"
        ));
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("delay {value:?} is not a whole number of ms or s"))?;
    let d = Duration::from_millis(n.saturating_mul(unit));
    if d > MAX_DELAY {
        return Err(format!("delay {value:?} is over 600s (use hang)"));
    }
    Ok(d)
}

fn parse_scripted(value: &str) -> Result<Scripted, ValueError> {
    // A trailing `x` and digits is the count; values may hold an `x` elsewhere (header names).
    let (action, times) = match value.rsplit_once('x') {
        Some((a, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("count {n:?} after 'x' must be a whole number >= 1"))?;
            (a, Some(n))
        }
        _ => (value, None),
    };
    Ok(Scripted {
        action: parse_action(action)?,
        times,
    })
}

fn parse_action(action: &str) -> Result<FaultAction, ValueError> {
    if action.starts_with(|c: char| c.is_ascii_digit()) {
        let status: u16 = action.parse().map_err(|_| {
            format!("{action:?} is not a status code (a count is written xN, e.g. 500x2)")
        })?;
        if !(400..=599).contains(&status) {
            return Err(format!(
                "status {status} is outside 400..=599 (status:{status} keeps the model's answer under another status)"
            )
            .into());
        }
        return Ok(FaultAction::Status(status));
    }
    let (word, arg) = match action.split_once(':') {
        Some((w, a)) => (w, Some(a)),
        None => (action, None),
    };
    let reshape = match (word, arg) {
        ("hang", None) => return Ok(FaultAction::Hang),
        ("delay", Some(d)) => return Ok(FaultAction::Delay(parse_delay(d)?)),
        ("drop-ttl", None) => Reshape::DropTtl,
        ("ttl", Some(v)) => Reshape::Ttl(header_value(v)?),
        ("drop-header", Some(n)) => Reshape::DropHeader(droppable_header(n)?),
        ("header", Some(nv)) => {
            let (n, v) = nv
                .split_once(':')
                .ok_or_else(|| format!("header:{nv} needs NAME:VALUE"))?;
            Reshape::Header(settable_header(n)?, header_value(v)?)
        }
        ("content-type", Some(v)) => Reshape::ContentType(header_value(v)?),
        ("status", Some(s)) => Reshape::Status(reshaped_status(s)?),
        ("truncate", Some(n)) => Reshape::Truncate(
            n.parse()
                .map_err(|_| format!("truncate:{n} needs a whole number of bytes"))?,
        ),
        ("trailing-newline", None) => Reshape::TrailingNewline,
        ("line", Some(rest)) => {
            let (n, text) = rest
                .split_once(':')
                .ok_or_else(|| format!("line:{rest} needs N:TEXT"))?;
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("line number {n:?} must be a whole number >= 1"))?;
            if text.contains(['\r', '\n']) {
                return Err(format!("line text {text:?} must be one line").into());
            }
            Reshape::Line(n, text.to_owned())
        }
        (w, Some(_)) if ["hang", "drop-ttl", "trailing-newline"].contains(&w) => {
            return Err(format!("{w} takes no ':' value").into());
        }
        (w, None) if ACTION_WORDS.contains(&w) => {
            return Err(format!("{w} needs a value: {w}:…").into());
        }
        (w, arg) => {
            return Err(ValueError {
                problem: format!("unknown action {w:?}"),
                did_you_mean: imds_diag::suggest(w, ACTION_WORDS).map(|k| match arg {
                    Some(a) => format!("{k}:{a}"),
                    None => k.to_owned(),
                }),
            });
        }
    };
    Ok(FaultAction::Reshape(reshape))
}

fn header_value(v: &str) -> Result<String, String> {
    HeaderValue::from_str(v)
        .map(|_| v.to_owned())
        .map_err(|_| format!("{v:?} is not a header value (visible ASCII and spaces only)"))
}

fn header_name(n: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("{n:?} is not a header name"))
}

/// hyper writes these itself when they are missing, so dropping them changes nothing.
fn droppable_header(n: &str) -> Result<String, String> {
    let name = header_name(n)?;
    if name == CONTENT_LENGTH || name == DATE {
        return Err(format!(
            "{name} cannot be dropped: the HTTP layer writes it when missing"
        ));
    }
    Ok(name.as_str().to_owned())
}

/// The framing headers stay the HTTP layer's, so the answer stays readable.
fn settable_header(n: &str) -> Result<String, String> {
    let name = header_name(n)?;
    if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
        return Err(format!(
            "{name} frames the body and cannot be set (truncate:N changes the body and its length)"
        ));
    }
    Ok(name.as_str().to_owned())
}

fn reshaped_status(s: &str) -> Result<u16, String> {
    let status: u16 = s
        .parse()
        .map_err(|_| format!("status:{s} needs a status code"))?;
    match status {
        204 | 304 => Err(format!("status:{status} may carry no body; pick another")),
        200..=599 => Ok(status),
        _ => Err(format!("status:{status} is outside 200..=599")),
    }
}

impl Reshape {
    /// Changes the model's answer. `has_body`: false for HEAD, whose body is not sent.
    pub(crate) fn apply(&self, resp: &mut Response<Bytes>, has_body: bool) {
        let set = |resp: &mut Response<Bytes>, name: &str, value: &str| {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                resp.headers_mut().insert(n, v);
            }
        };
        match self {
            Reshape::DropTtl => {
                resp.headers_mut().remove(TTL_HEADER);
            }
            Reshape::Ttl(v) => set(resp, TTL_HEADER.as_str(), v),
            Reshape::DropHeader(n) => {
                resp.headers_mut().remove(n.as_str());
            }
            Reshape::Header(n, v) => set(resp, n, v),
            Reshape::ContentType(v) => set(resp, CONTENT_TYPE.as_str(), v),
            Reshape::Status(s) => {
                *resp.status_mut() = StatusCode::from_u16(*s).unwrap_or(StatusCode::OK);
                // The model's reason phrase belongs to its own status.
                resp.extensions_mut().remove::<ReasonPhrase>();
            }
            Reshape::Truncate(n) if has_body => {
                let body = resp.body().slice(..(*n).min(resp.body().len()));
                set_body(resp, body);
            }
            Reshape::TrailingNewline if has_body => {
                let mut body = resp.body().to_vec();
                body.push(b'\n');
                set_body(resp, body.into());
            }
            Reshape::Line(n, text) if has_body => {
                let old = resp.body().clone();
                let mut lines: Vec<&[u8]> = old.split(|b| *b == b'\n').collect();
                if let Some(line) = lines.get_mut(n - 1) {
                    *line = text.as_bytes();
                    set_body(resp, lines.join(&b'\n').into());
                }
            }
            Reshape::Truncate(_) | Reshape::TrailingNewline | Reshape::Line(..) => {}
        }
    }
}

/// A new body with a `Content-Length` that matches it.
fn set_body(resp: &mut Response<Bytes>, body: Bytes) {
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    *resp.body_mut() = body;
}

/// What the fault layer decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Let the model answer.
    Model,
    /// Answer with this status; the label is the fault's spec.
    Status(u16, String),
    /// Hold the request unanswered, then close.
    Hang(String),
    /// Let the model answer after this delay.
    Delay(Duration, String),
    /// The presented token was revoked: let the model answer as for an invalid token.
    Revoked(String),
    /// Let the model answer, then change its answer.
    Reshape(Reshape, String),
}

/// Tokens remembered for revocation (fingerprints, newest last).
const TRACKED_TOKENS: usize = 4096;

#[derive(Debug, Default)]
struct Counters {
    faults: Faults,
    token_puts: u32,
    gets: u32,
    /// Uses of each `get_paths` fault, by index.
    path_gets: Vec<u32>,
    requests: u64,
    issued: VecDeque<u128>,
    revoked: HashSet<u128>,
}

/// Faults in force plus their counters, shared by all connections.
#[derive(Debug)]
pub(crate) struct FaultState {
    /// Fast path: false when no fault is set and nothing is revoked.
    active: AtomicBool,
    /// Copy of `faults.endpoint.is_some()` for the accept path.
    reset: AtomicBool,
    inner: Mutex<Counters>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        let state = FaultState {
            active: AtomicBool::new(false),
            reset: AtomicBool::new(false),
            inner: Mutex::new(Counters::default()),
        };
        state.set(faults);
        state
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        crate::lock_unpoisoned(&self.inner)
    }

    pub(crate) fn set(&self, faults: Faults) {
        let mut c = self.lock();
        let issued = std::mem::take(&mut c.issued);
        self.active.store(!faults.is_none(), Ordering::SeqCst);
        self.reset
            .store(faults.endpoint.is_some(), Ordering::SeqCst);
        *c = Counters {
            path_gets: vec![0; faults.get_paths.len()],
            faults,
            issued,
            ..Counters::default()
        };
    }

    pub(crate) fn get(&self) -> Faults {
        self.lock().faults.clone()
    }

    pub(crate) fn endpoint_fault(&self) -> Option<EndpointFault> {
        if self.reset.load(Ordering::Relaxed) {
            self.lock().faults.endpoint
        } else {
            None
        }
    }

    /// Remembers a token the model issued, so a later revocation covers it.
    pub(crate) fn track_issued(&self, fingerprint: u128) {
        let mut c = self.lock();
        if c.issued.len() >= TRACKED_TOKENS {
            c.issued.pop_front();
        }
        c.issued.push_back(fingerprint);
    }

    /// Decides what one request gets. `token` gives the key of the presented token (only
    /// computed when some fault is in force).
    pub(crate) fn decide(
        &self,
        kind: RequestKind,
        path: &str,
        token: impl FnOnce() -> Option<u128>,
    ) -> Decision {
        if !self.active.load(Ordering::Relaxed) {
            return Decision::Model;
        }
        let token = token();
        let mut c = self.lock();
        c.requests += 1;
        if let Some(n) = c.faults.revoke_tokens_after
            && c.requests == n.saturating_add(1)
        {
            let issued: Vec<u128> = c.issued.drain(..).collect();
            c.revoked.extend(issued);
        }
        if kind == RequestKind::MetadataRead {
            let c = &mut *c;
            let live = c.faults.get_paths.iter().enumerate().find(|(i, p)| {
                p.matches(path) && p.scripted.times.is_none_or(|n| c.path_gets[*i] < n)
            });
            if let Some((i, p)) = live {
                c.path_gets[i] = c.path_gets[i].saturating_add(1);
                return decision(
                    p.scripted.action.clone(),
                    Fault::GetPath(p.clone()).to_string(),
                );
            }
        }
        let scripted = match kind {
            k if k.is_token_request() => c
                .faults
                .token_put
                .clone()
                .map(|s| (s.clone(), Fault::TokenPut(s))),
            RequestKind::MetadataRead => c.faults.get.clone().map(|s| (s.clone(), Fault::Get(s))),
            // Wrong token paths and other methods are left to the model.
            _ => None,
        };
        if let Some((s, fault)) = scripted {
            let used = if kind.is_token_request() {
                &mut c.token_puts
            } else {
                &mut c.gets
            };
            if s.times.is_none_or(|n| *used < n) {
                *used = used.saturating_add(1);
                return decision(s.action, fault.to_string());
            }
        }
        if let (Some(t), Some(n)) = (token, c.faults.revoke_tokens_after)
            && c.revoked.contains(&t)
        {
            return Decision::Revoked(Fault::RevokeTokensAfter(n).to_string());
        }
        Decision::Model
    }
}

fn decision(action: FaultAction, label: String) -> Decision {
    match action {
        FaultAction::Status(status) => Decision::Status(status, label),
        FaultAction::Hang => Decision::Hang(label),
        FaultAction::Delay(d) => Decision::Delay(d, label),
        FaultAction::Reshape(r) => Decision::Reshape(r, label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip() {
        for spec in [
            "token-put=403",
            "token-put=hang",
            "token-put=500x2",
            "get=401x1",
            "get=hang",
            "get=delay:1100ms",
            "token-put=delay:2000msx1",
            "get[/latest/meta-data/iam/security-credentials/*]=500x1",
            "get[/latest/meta-data/instance-id]=delay:300ms",
            "revoke-tokens-after=3",
            "endpoint=reset",
        ] {
            let f: Fault = spec.parse().unwrap();
            assert_eq!(f.to_string(), spec);
        }
    }

    #[test]
    fn reshape_specs_round_trip() {
        for spec in [
            "token-put=drop-ttl",
            "token-put=ttl:21599",
            "token-put=ttl:",
            "get=drop-header:server",
            "get=drop-header:x-aws-ec2-metadata-token-ttl-seconds",
            "get=header:server:nginx",
            "get=header:x-extra:a:b",
            "get=content-type:application/json",
            "get[/latest/meta-data/instance-id]=status:404",
            "get=truncate:0x3",
            "get=trailing-newline",
            "get[/latest/meta-data/]=line:2:ami-idx",
            "get[/latest/meta-data/]=line:1:",
        ] {
            let f: Fault = spec.parse().unwrap();
            assert_eq!(f.to_string(), spec);
            let action = match &f {
                Fault::TokenPut(s) | Fault::Get(s) => &s.action,
                Fault::GetPath(p) => &p.scripted.action,
                other => panic!("{spec}: {other:?}"),
            };
            assert!(matches!(action, FaultAction::Reshape(_)), "{spec}: {f:?}");
        }
        // An `x` inside a value is not a count; a trailing `x` and digits always is.
        assert_eq!(
            "get=drop-header:x-amz-id".parse::<Fault>().unwrap(),
            Fault::Get(Scripted {
                action: FaultAction::Reshape(Reshape::DropHeader("x-amz-id".into())),
                times: None
            })
        );
        assert_eq!(
            "token-put=drop-ttlx1".parse::<Fault>().unwrap(),
            Fault::TokenPut(Scripted {
                action: FaultAction::Reshape(Reshape::DropTtl),
                times: Some(1)
            })
        );
        // Header names are kept lower-case.
        assert_eq!(
            "get=header:Server:x".parse::<Fault>().unwrap().to_string(),
            "get=header:server:x"
        );
    }

    #[test]
    fn bad_reshape_specs_name_the_problem() {
        let cases = [
            ("get=drop-header:date", "date cannot be dropped"),
            ("get=drop-header:content-length", "cannot be dropped"),
            ("get=header:content-length:3", "frames the body"),
            ("get=header:transfer-encoding:chunked", "frames the body"),
            ("get=header:server", "needs NAME:VALUE"),
            ("get=header:bad name:x", "is not a header name"),
            ("get=ttl:a\u{7f}", "is not a header value"),
            ("get=status:204", "may carry no body"),
            ("get=status:100", "outside 200..=599"),
            ("get=status:ok", "needs a status code"),
            ("get=truncate:-1", "needs a whole number of bytes"),
            ("get=line:0:x", "must be a whole number >= 1"),
            ("get=line:2", "needs N:TEXT"),
            ("get=trailing-newline:1", "takes no ':' value"),
            ("get=drop-ttl:yes", "takes no ':' value"),
            ("get=truncate", "needs a value: truncate:…"),
            ("get=content-type", "needs a value"),
        ];
        for (spec, want) in cases {
            let err = spec.parse::<Fault>().unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.contains(&format!("{spec:?}")), "{spec}: {err}");
        }
    }

    #[test]
    fn near_misses_get_the_spec_as_meant_instead_of_the_whole_syntax() {
        let cases = [
            ("token_put=403", "token-put=403"),
            ("tokn-put=hang", "token-put=hang"),
            ("gte[/latest/*]=500", "get[/latest/*]=500"),
            ("revoke-token-after=3", "revoke-tokens-after=3"),
            ("endpoint=rest", "endpoint=reset"),
            ("get=drop-heder:server", "get=drop-header:server"),
            ("token-put=drop-tll", "token-put=drop-ttl"),
            ("get[/a]=trailing-newlines", "get[/a]=trailing-newline"),
            ("get=contenttype:text/html", "get=content-type:text/html"),
            ("get=hnag", "get=hang"),
        ];
        for (spec, meant) in cases {
            let err = spec.parse::<Fault>().unwrap_err();
            assert_eq!(err.did_you_mean.as_deref(), Some(meant), "{spec}");
            let text = err.to_string();
            assert!(text.contains(&format!("did you mean {meant:?}?")), "{text}");
            assert!(!text.contains("allowed:"), "{text}");
            // What is suggested parses.
            meant.parse::<Fault>().unwrap();
        }
        // Nothing near: the whole syntax instead.
        let err = "post=500".parse::<Fault>().unwrap_err();
        assert_eq!(err.did_you_mean, None);
        assert!(err.to_string().contains("allowed: token-put="), "{err}");
    }

    fn model_answer() -> Response<Bytes> {
        let mut r = Response::new(Bytes::from_static(b"ami-id\nami-launch-index\nhostname"));
        let h = r.headers_mut();
        h.insert(TTL_HEADER, HeaderValue::from_static("21600"));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(CONTENT_LENGTH, HeaderValue::from(32usize));
        h.insert("server", HeaderValue::from_static("EC2ws"));
        r
    }

    fn reshape(spec: &str) -> Reshape {
        match spec.parse::<Fault>().unwrap() {
            Fault::Get(Scripted {
                action: FaultAction::Reshape(r),
                ..
            }) => r,
            other => panic!("{spec} is not a reshape: {other:?}"),
        }
    }

    fn reshaped(spec: &str) -> Response<Bytes> {
        let mut resp = model_answer();
        reshape(spec).apply(&mut resp, true);
        resp
    }

    fn header<'a>(r: &'a Response<Bytes>, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn names(r: &Response<Bytes>) -> Vec<String> {
        r.headers().keys().map(|k| k.to_string()).collect()
    }

    #[test]
    fn ttl_reshapes_drop_or_replace_the_ttl_header() {
        let plain = model_answer();
        let r = reshaped("get=drop-ttl");
        assert_eq!(header(&r, TTL_HEADER.as_str()), None);
        assert_eq!(r.body(), plain.body());
        assert_eq!(names(&r).len(), names(&plain).len() - 1);

        let r = reshaped("get=ttl:59");
        assert_eq!(header(&r, TTL_HEADER.as_str()), Some("59"));
        assert_eq!(names(&r), names(&plain), "replaced in place");
    }

    #[test]
    fn header_reshapes_drop_replace_or_add_one_header() {
        let plain = model_answer();
        let r = reshaped("get=drop-header:server");
        assert_eq!(header(&r, "server"), None);
        assert_eq!(header(&r, TTL_HEADER.as_str()), Some("21600"));

        let r = reshaped("get=header:server:nginx/1.25");
        assert_eq!(header(&r, "server"), Some("nginx/1.25"));
        assert_eq!(names(&r), names(&plain));

        let r = reshaped("get=header:access-control-allow-origin:*");
        assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
        assert_eq!(names(&r).last().unwrap(), "access-control-allow-origin");

        let r = reshaped("get=content-type:application/json");
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(names(&r), names(&plain));
    }

    #[test]
    fn status_reshape_keeps_headers_and_body_and_drops_the_reason_phrase() {
        let plain = model_answer();
        let r = reshaped("get=status:404");
        assert_eq!(r.status(), 404);
        assert_eq!(r.body(), plain.body());
        assert_eq!(names(&r), names(&plain));

        let mut r = model_answer();
        *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        r.extensions_mut().insert(ReasonPhrase("Not Allowed"));
        Reshape::Status(200).apply(&mut r, true);
        assert_eq!(r.status(), 200);
        assert!(r.extensions().get::<ReasonPhrase>().is_none());
    }

    #[test]
    fn body_reshapes_keep_content_length_right() {
        let plain = model_answer();
        let r = reshaped("get=truncate:4");
        assert_eq!(r.body().as_ref(), b"ami-");
        assert_eq!(header(&r, "content-length"), Some("4"));
        let r = reshaped("get=truncate:400");
        assert_eq!(r.body(), plain.body());
        assert_eq!(header(&r, "content-length"), Some("32"));

        let r = reshaped("get=trailing-newline");
        assert_eq!(r.body().as_ref(), b"ami-id\nami-launch-index\nhostname\n");
        assert_eq!(header(&r, "content-length"), Some("33"));

        let r = reshaped("get=line:2:ami-launch-idx");
        assert_eq!(r.body().as_ref(), b"ami-id\nami-launch-idx\nhostname");
        assert_eq!(header(&r, "content-length"), Some("30"));
        let r = reshaped("get=line:4:extra");
        assert_eq!(r.body(), plain.body(), "no line 4: unchanged");
    }

    #[test]
    fn body_reshapes_leave_head_answers_alone() {
        for spec in ["get=truncate:2", "get=trailing-newline", "get=line:1:x"] {
            let mut head = model_answer();
            *head.body_mut() = Bytes::new();
            reshape(spec).apply(&mut head, false);
            assert!(head.body().is_empty(), "{spec}");
            assert_eq!(header(&head, "content-length"), Some("32"), "{spec}");
        }
    }

    #[test]
    fn reshape_faults_are_decided_like_the_others() {
        let s = FaultState::new(
            Faults::parse_all([
                "token-put=drop-ttlx1",
                "get[/latest/meta-data/]=trailing-newline",
            ])
            .unwrap(),
        );
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Reshape(Reshape::DropTtl, "token-put=drop-ttlx1".into())
        );
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
        assert_eq!(
            s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || None),
            Decision::Reshape(
                Reshape::TrailingNewline,
                "get[/latest/meta-data/]=trailing-newline".into()
            )
        );
        assert_eq!(
            s.decide(
                RequestKind::MetadataRead,
                "/latest/meta-data/ami-id",
                || None
            ),
            Decision::Model
        );
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let cases = [
            ("token-put", "expected KIND=VALUE"),
            ("token-put=200", "outside 400..=599"),
            ("token-put=abc", "unknown action \"abc\""),
            ("get=delay:5", "needs a unit"),
            ("get=delay:1.5s", "not a whole number"),
            ("get=delay:601s", "over 600s"),
            ("get[latest/*]=500", "must start with '/'"),
            ("get[/a/[]=500", "bad path glob"),
            ("get[/a/*]=hangs", "unknown action \"hangs\""),
            ("get=500x0", "must be a whole number >= 1"),
            ("get=500xq", "not a status code (a count is written xN"),
            ("revoke-tokens-after=-1", "not a whole number"),
            ("endpoint=off", "unknown endpoint fault"),
            ("post=500", "unknown fault kind"),
        ];
        for (spec, want) in cases {
            let err = spec.parse::<Fault>().unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
            assert!(err.contains(spec), "{spec}: {err}");
        }
    }

    #[test]
    fn counted_faults_stop_after_n() {
        let s = FaultState::new(Faults::parse_all(["get=500x2"]).unwrap());
        let d: Vec<_> = (0..3)
            .map(|_| s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || None))
            .collect();
        assert_eq!(d[0], Decision::Status(500, "get=500x2".into()));
        assert_eq!(d[1], Decision::Status(500, "get=500x2".into()));
        assert_eq!(d[2], Decision::Model);
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
    }

    #[test]
    fn revocation_covers_only_tokens_issued_before() {
        let s = FaultState::new(Faults::parse_all(["revoke-tokens-after=2"]).unwrap());
        s.track_issued(1);
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
        assert_eq!(
            s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || Some(1)),
            Decision::Model
        );
        // Third request: revocation happens before it is answered.
        assert_eq!(
            s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || Some(1)),
            Decision::Revoked("revoke-tokens-after=2".into())
        );
        s.track_issued(2);
        assert_eq!(
            s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || Some(2)),
            Decision::Model
        );
        assert_eq!(
            s.decide(RequestKind::MetadataRead, "/latest/meta-data/", || Some(1)),
            Decision::Revoked("revoke-tokens-after=2".into())
        );
    }

    #[test]
    fn set_faults_resets_counters() {
        let s = FaultState::new(Faults::parse_all(["token-put=403x1"]).unwrap());
        assert!(matches!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Status(403, _)
        ));
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
        s.set(s.get());
        assert!(matches!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Status(403, _)
        ));
        s.set(Faults::none());
        assert_eq!(
            s.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
    }
}

#[cfg(test)]
mod scoped_tests {
    use super::*;

    const CREDS: &str = "/latest/meta-data/iam/security-credentials/role";

    #[test]
    fn delay_specs_read_both_units() {
        let f: Fault = "get=delay:2s".parse().unwrap();
        assert_eq!(
            f,
            Fault::Get(Scripted {
                action: FaultAction::Delay(Duration::from_secs(2)),
                times: None
            })
        );
        assert_eq!(f.to_string(), "get=delay:2000ms");
    }

    #[test]
    fn path_faults_touch_only_their_paths_and_come_first() {
        let s = FaultState::new(
            Faults::parse_all([
                "get=delay:10ms",
                "get[/latest/meta-data/iam/security-credentials/*]=500x1",
            ])
            .unwrap(),
        );
        let label = "get[/latest/meta-data/iam/security-credentials/*]=500x1";
        assert_eq!(
            s.decide(RequestKind::MetadataRead, CREDS, || None),
            Decision::Status(500, label.into())
        );
        // Used up: the unscoped fault applies again.
        assert_eq!(
            s.decide(RequestKind::MetadataRead, CREDS, || None),
            Decision::Delay(Duration::from_millis(10), "get=delay:10ms".into())
        );
        // `*` stays within a segment, and token PUTs are never path-faulted.
        let only = FaultState::new(
            Faults::parse_all(["get[/latest/meta-data/iam/security-credentials/*]=500"]).unwrap(),
        );
        assert_eq!(
            only.decide(
                RequestKind::MetadataRead,
                "/latest/meta-data/instance-id",
                || None
            ),
            Decision::Model
        );
        assert_eq!(
            only.decide(
                RequestKind::MetadataRead,
                "/latest/meta-data/iam/security-credentials/role/x",
                || None
            ),
            Decision::Model
        );
        assert_eq!(
            only.decide(RequestKind::TokenPut, "/latest/api/token", || None),
            Decision::Model
        );
        assert!(matches!(
            only.decide(RequestKind::MetadataRead, CREDS, || None),
            Decision::Status(500, _)
        ));
    }

    #[test]
    fn the_same_glob_twice_keeps_the_last() {
        let f = Faults::parse_all(["get[/a/*]=500", "get[/b]=404", "get[/a/*]=hang"]).unwrap();
        assert_eq!(f.specs(), ["get[/a/*]=hang", "get[/b]=404"]);
        assert!(!f.is_none());
    }
}
