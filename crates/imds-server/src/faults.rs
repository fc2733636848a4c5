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

use imds_model::RequestKind;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a faulted request gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultAction {
    /// An IMDS-looking error response with this status (400..=599).
    Status(u16),
    /// No response: the request is held, then the connection is closed unanswered.
    Hang,
    /// The model's answer, sent only after this delay.
    Delay(Duration),
}

/// A fault on one kind of request, for every such request or only the first `times`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[error("bad fault {spec:?}: {problem} (allowed: {FAULT_SYNTAX})")]
pub struct FaultSpecError {
    /// The spec as given.
    pub spec: String,
    /// What is wrong with it.
    pub problem: String,
}

/// The accepted fault syntax, for error messages and `--help`.
pub const FAULT_SYNTAX: &str = "token-put=ACTION[xN], get=ACTION[xN], get[GLOB]=ACTION[xN], \
revoke-tokens-after=N, endpoint=reset; ACTION is a STATUS of 400..=599, hang, or delay:Nms|Ns";

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
        out.extend(self.token_put.map(|s| Fault::TokenPut(s).to_string()));
        out.extend(self.get.map(|s| Fault::Get(s).to_string()));
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

impl fmt::Display for Scripted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.action {
            FaultAction::Status(s) => write!(f, "{s}")?,
            FaultAction::Hang => f.write_str("hang")?,
            FaultAction::Delay(d) => write!(f, "delay:{}ms", d.as_millis())?,
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

impl FromStr for Fault {
    type Err = FaultSpecError;

    fn from_str(spec: &str) -> Result<Fault, FaultSpecError> {
        let bad = |problem: String| FaultSpecError {
            spec: spec.to_owned(),
            problem,
        };
        let (kind, value) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected KIND=VALUE".into()))?;
        let kind = kind.trim();
        if let Some(glob) = kind
            .strip_prefix("get[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if !glob.starts_with('/') {
                return Err(bad(format!("path glob {glob:?} must start with '/'")));
            }
            let glob = glob::Pattern::new(glob)
                .map_err(|e| bad(format!("bad path glob {glob:?}: {e}")))?;
            let scripted = parse_scripted(value.trim()).map_err(bad)?;
            return Ok(Fault::GetPath(PathFault { glob, scripted }));
        }
        match kind {
            "token-put" => Ok(Fault::TokenPut(parse_scripted(value.trim()).map_err(bad)?)),
            "get" => Ok(Fault::Get(parse_scripted(value.trim()).map_err(bad)?)),
            "revoke-tokens-after" => value
                .trim()
                .parse::<u64>()
                .map(Fault::RevokeTokensAfter)
                .map_err(|_| bad(format!("{value:?} is not a whole number of requests"))),
            "endpoint" => match value.trim() {
                "reset" => Ok(Fault::Endpoint(EndpointFault::Reset)),
                other => Err(bad(format!(
                    "unknown endpoint fault {other:?} (for 403s use --http-endpoint disabled)"
                ))),
            },
            other => Err(bad(format!("unknown fault kind {other:?}"))),
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

fn parse_scripted(value: &str) -> Result<Scripted, String> {
    // `x` separates the count; no action contains one.
    let (action, times) = match value.split_once('x') {
        Some((a, n)) => {
            let n: u32 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("count {n:?} after 'x' must be a whole number >= 1"))?;
            (a, Some(n))
        }
        None => (value, None),
    };
    let action = if action == "hang" {
        FaultAction::Hang
    } else if let Some(d) = action.strip_prefix("delay:") {
        FaultAction::Delay(parse_delay(d)?)
    } else {
        let status: u16 = action
            .parse()
            .map_err(|_| format!("{action:?} is neither a status code, 'hang' nor 'delay:…'"))?;
        if !(400..=599).contains(&status) {
            return Err(format!("status {status} is outside 400..=599"));
        }
        FaultAction::Status(status)
    };
    Ok(Scripted { action, times })
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
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
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
                return decision(p.scripted.action, Fault::GetPath(p.clone()).to_string());
            }
        }
        let scripted = match kind {
            k if k.is_token_request() => c.faults.token_put.map(|s| (s, Fault::TokenPut(s))),
            RequestKind::MetadataRead => c.faults.get.map(|s| (s, Fault::Get(s))),
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
    fn bad_specs_name_the_problem() {
        let cases = [
            ("token-put", "expected KIND=VALUE"),
            ("token-put=200", "outside 400..=599"),
            (
                "token-put=abc",
                "neither a status code, 'hang' nor 'delay:…'",
            ),
            ("get=delay:5", "needs a unit"),
            ("get=delay:1.5s", "not a whole number"),
            ("get=delay:601s", "over 600s"),
            ("get[latest/*]=500", "must start with '/'"),
            ("get[/a/[]=500", "bad path glob"),
            ("get[/a/*]=hangs", "neither a status code"),
            ("get=500x0", "must be a whole number >= 1"),
            ("get=500xq", "must be a whole number >= 1"),
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
