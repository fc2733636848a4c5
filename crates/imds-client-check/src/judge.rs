//! Judging one client run: the scenario's expectations over the server's journal and the
//! client's exit status.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imds_report::report::Failure;
/// The token TTL header, lower case as the journal keeps header names.
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
use imds_server::{Faults, JournalEntry};

use crate::scenario::{ExitWant, Expect, FirstWant};

/// The failed check's name when a scripted fault never fired.
pub const NOT_EXERCISED_CHECK: &str = "not exercised";
/// The reason a scenario whose faults did not all fire is not passed.
pub const NOT_EXERCISED: &str = "the client never sent the request this scenario is about";
/// Role documents of the legacy credentials path live directly under this directory.
const LEGACY_CREDENTIALS_DIR: &str = "/latest/meta-data/iam/security-credentials/";
/// Every credentials path (legacy and extended, listings and role documents) starts so.
const CREDENTIALS_PREFIX: &str = "/latest/meta-data/iam/security-credentials";

/// A GET of a role document (`iam/security-credentials[-extended]/NAME`).
fn is_role_document(e: &JournalEntry) -> bool {
    is_get(e)
        && e.path
            .strip_prefix(CREDENTIALS_PREFIX)
            .and_then(|rest| rest.strip_prefix("-extended").or(Some(rest)))
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// How the client's process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildExit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// It was still running at the timeout and was killed (milliseconds).
    TimedOut(u64),
}

impl std::fmt::Display for ChildExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChildExit::Code(c) => write!(f, "exit status {c}"),
            ChildExit::Signal(s) => write!(f, "killed by signal {s}"),
            ChildExit::TimedOut(ms) => write!(f, "still running after {ms} ms, killed"),
        }
    }
}

/// True for a request without a method: a connection reset by `endpoint=reset`.
fn is_reset(e: &JournalEntry) -> bool {
    e.method.is_empty()
}

fn is_get(e: &JournalEntry) -> bool {
    !is_reset(e) && !e.is_token_put()
}

fn is_tokenless_get(e: &JournalEntry) -> bool {
    is_get(e) && e.header("x-aws-ec2-metadata-token").is_none()
}

/// True when EC2 answers both paths alike: the same path, a directory with or without its
/// trailing slash.
pub fn same_path(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// A token PUT that got no token (refused, faulted or unanswered).
fn is_failed_put(e: &JournalEntry) -> bool {
    e.is_token_put() && e.issued_token.is_none()
}

/// The scripted faults (as `Faults::specs`) that never changed an answer: a scenario is only
/// judged when its client sent the requests the faults are for. `revoke-tokens-after=N` has
/// fired once the server has seen more than N requests.
pub fn unfired(faults: &Faults, journal: &[JournalEntry]) -> Vec<String> {
    let revoke = faults
        .revoke_tokens_after
        .map(|n| imds_server::Fault::RevokeTokensAfter(n).to_string());
    faults
        .specs()
        .into_iter()
        .filter(|spec| {
            if revoke.as_ref() == Some(spec) {
                let n = faults.revoke_tokens_after.unwrap_or(0);
                return u64::try_from(journal.len()).unwrap_or(u64::MAX) <= n;
            }
            !journal.iter().any(|e| e.fault.as_ref() == Some(spec))
        })
        .collect()
}

/// One request as a line: order, time since the first, connection, request, answer.
/// Tokens appear as fingerprints only (the journal never holds them).
pub fn describe(e: &JournalEntry, t0: u64) -> String {
    let mut s = format!(
        "#{} +{}ms c{} ",
        e.seq,
        e.time_ms.saturating_sub(t0),
        e.connection
    );
    if is_reset(e) {
        s.push_str("connection reset");
    } else {
        let _ = write!(s, "{} {}", e.method, e.path);
        if e.is_token_put() {
            match e.header(TTL_HEADER) {
                Some(ttl) => {
                    let _ = write!(s, " ttl={ttl}");
                }
                None => s.push_str(" ttl=(none)"),
            }
        }
        match &e.token {
            Some(t) => {
                let _ = write!(s, " token={t}");
            }
            None if !e.is_token_put() => s.push_str(" (no token)"),
            None => {}
        }
        if e.header("x-forwarded-for").is_some() {
            s.push_str(" x-forwarded-for");
        }
        match e.status {
            Some(st) => {
                let _ = write!(s, " -> {st}");
            }
            None => s.push_str(" -> no response"),
        }
        if let Some(o) = &e.outcome {
            let _ = write!(s, " {o}");
        }
        if let Some(t) = &e.issued_token {
            let _ = write!(s, " issued={t}");
        }
    }
    if let Some(f) = &e.fault {
        let _ = write!(s, " [fault {f}]");
    }
    s
}

/// A short list of requests for an `observed` field.
fn listing<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>, t0: u64) -> String {
    let lines: Vec<String> = entries.into_iter().map(|e| describe(e, t0)).collect();
    match lines.len() {
        0 => "no request".to_owned(),
        n if n > 6 => format!("{}; … {} more", lines[..6].join("; "), n - 6),
        _ => lines.join("; "),
    }
}

/// The checks of `expect`: each is (what is expected, failure if unmet). `faults` are the
/// scenario's, for the checks that refer to them.
pub fn judge(
    expect: &Expect,
    faults: &Faults,
    journal: &[JournalEntry],
    exit: &ChildExit,
) -> (Vec<String>, Vec<Failure>) {
    let t0 = journal.first().map_or(0, |e| e.time_ms);
    let mut expected = Vec::new();
    let mut failures = Vec::new();
    let mut check = |name: &str, want: String, ok: bool, observed: &dyn Fn() -> String| {
        expected.push(format!("{name}: {want}"));
        if !ok {
            failures.push(Failure {
                step: None,
                check: name.to_owned(),
                expected: want,
                observed: observed(),
            });
        }
    };
    let puts: Vec<&JournalEntry> = journal.iter().filter(|e| e.is_token_put()).collect();
    let tokenless: Vec<&JournalEntry> = journal.iter().filter(|e| is_tokenless_get(e)).collect();

    if let Some(max) = expect.requests_max {
        let want = if max == 0 {
            "no request at all".to_owned()
        } else {
            format!("at most {max} requests")
        };
        check("requests", want, journal.len() <= max, &|| {
            format!("{} requests: {}", journal.len(), listing(journal, t0))
        });
    }
    if let Some(FirstWant::TokenPut) = expect.first {
        let ok = journal.first().is_some_and(|e| e.is_token_put());
        check("first request", "PUT /latest/api/token".into(), ok, &|| {
            listing(journal.first(), t0)
        });
    }
    if let Some(min) = expect.token_puts_min {
        check(
            "token PUTs",
            format!("at least {min}"),
            puts.len() >= min,
            &|| {
                format!(
                    "{} token PUTs; requests: {}",
                    puts.len(),
                    listing(journal, t0)
                )
            },
        );
    }
    if let Some(max) = expect.token_puts_max {
        check(
            "token PUTs",
            format!("at most {max}"),
            puts.len() <= max,
            &|| {
                format!(
                    "{} token PUTs: {}",
                    puts.len(),
                    listing(puts.iter().copied(), t0)
                )
            },
        );
    }
    if let Some(min) = expect.tokenless_gets_min {
        check(
            "GETs without a token (IMDSv1)",
            format!("at least {min}"),
            tokenless.len() >= min,
            &|| format!("{}; requests: {}", tokenless.len(), listing(journal, t0)),
        );
    }
    if let Some(max) = expect.tokenless_gets_max {
        check(
            "GETs without a token (IMDSv1)",
            format!("at most {max}"),
            tokenless.len() <= max,
            &|| {
                format!(
                    "{}: {}",
                    tokenless.len(),
                    listing(tokenless.iter().copied(), t0)
                )
            },
        );
    }
    if let Some([lo, hi]) = expect.ttl_range {
        let bad: Vec<&JournalEntry> = puts
            .iter()
            .copied()
            .filter(|e| {
                e.header(TTL_HEADER)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .is_none_or(|t| t < lo || t > hi)
            })
            .collect();
        check(
            "token PUT TTL",
            format!("every {TTL_HEADER} in {lo}..={hi}"),
            bad.is_empty(),
            &|| listing(bad.iter().copied(), t0),
        );
    }
    for name in &expect.absent_headers {
        let name = name.to_ascii_lowercase();
        let with: Vec<&JournalEntry> = journal
            .iter()
            .filter(|e| e.header(&name).is_some())
            .collect();
        check(
            &format!("header {name}"),
            "on no request".into(),
            with.is_empty(),
            &|| listing(with.iter().copied(), t0),
        );
    }
    if let Some(status) = expect.new_token_after {
        let first = journal.iter().position(|e| e.status == Some(status));
        // The refused request itself is sent again with a token issued after the refusal: a
        // token some other component fetched later proves nothing.
        let ok = first.is_some_and(|i| {
            let refused = &journal[i];
            journal[i + 1..].iter().enumerate().any(|(j, put)| {
                put.is_token_put()
                    && put.issued_token.as_ref().is_some_and(|t| {
                        journal[i + 1 + j + 1..].iter().any(|e| {
                            e.method == refused.method
                                && same_path(&e.path, &refused.path)
                                && e.token.as_ref() == Some(t)
                                && e.status == Some(200)
                        })
                    })
            })
        });
        check(
            &format!("new token after {status}"),
            format!(
                "after the first {status} response, a new token and the same request sent \
                 again with it, answered 200"
            ),
            ok,
            &|| match first {
                None => format!("no {status} response; requests: {}", listing(journal, t0)),
                Some(i) => format!(
                    "after {}: {}",
                    describe(&journal[i], t0),
                    listing(&journal[i + 1..], t0)
                ),
            },
        );
    }
    if let Some(status) = expect.retried_after {
        let first = journal
            .iter()
            .position(|e| is_get(e) && e.status == Some(status));
        let ok = first.is_some_and(|i| {
            journal[i + 1..]
                .iter()
                .any(|e| e.method == journal[i].method && e.path == journal[i].path)
        });
        check(
            &format!("retry after {status}"),
            format!("the first GET answered {status} is sent again"),
            ok,
            &|| match first {
                None => format!(
                    "no GET answered {status}; requests: {}",
                    listing(journal, t0)
                ),
                Some(i) => format!(
                    "after {}: {}",
                    describe(&journal[i], t0),
                    listing(&journal[i + 1..], t0)
                ),
            },
        );
    }
    if let Some(max) = expect.same_path_max {
        let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        // The claim is about reads: a client that gets a fresh token for every attempt sends
        // the token PUT more often without retrying any one read more.
        for e in journal.iter().filter(|e| is_get(e)) {
            *counts.entry((&e.method, &e.path)).or_default() += 1;
        }
        let over: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > max)
            .map(|((m, p), n)| format!("{m} {p} x{n}"))
            .collect();
        check(
            "same request repeated",
            format!("no read (method and path) sent more than {max} times"),
            over.is_empty(),
            &|| over.join("; "),
        );
    }
    if expect.falls_back {
        let first_failed = journal.iter().position(is_failed_put);
        let early: Vec<&JournalEntry> = journal[..first_failed.unwrap_or(journal.len())]
            .iter()
            .filter(|e| is_tokenless_get(e))
            .collect();
        let served = first_failed.is_some_and(|i| {
            journal[i + 1..]
                .iter()
                .any(|e| is_tokenless_get(e) && e.status == Some(200))
        });
        let ok = journal.first().is_some_and(is_failed_put) && early.is_empty() && served;
        check(
            "falls back",
            "a token PUT first; only after a PUT that got no token, a GET without a token \
             that succeeds"
                .into(),
            ok,
            &|| listing(journal, t0),
        );
    }
    if expect.retries_faulted {
        let first = journal
            .iter()
            .position(|e| e.fault.is_some() && !is_reset(e));
        let ok = first.is_some_and(|i| {
            journal[i + 1..]
                .iter()
                .any(|e| e.method == journal[i].method && same_path(&e.path, &journal[i].path))
        });
        check(
            "retry of the faulted request",
            "the first request a fault answered is sent again".into(),
            ok,
            &|| match first {
                None => format!("no faulted request; requests: {}", listing(journal, t0)),
                Some(i) => format!(
                    "after {}: {}",
                    describe(&journal[i], t0),
                    listing(&journal[i + 1..], t0)
                ),
            },
        );
    }
    if expect.fresh_token_after_revocation {
        let from = faults
            .revoke_tokens_after
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
            .min(journal.len());
        let after = &journal[from..];
        let ok = after.iter().enumerate().any(|(i, put)| {
            put.is_token_put()
                && put.issued_token.as_ref().is_some_and(|t| {
                    after[i + 1..]
                        .iter()
                        .any(|e| is_get(e) && e.token.as_ref() == Some(t) && e.status == Some(200))
                })
        });
        // A token once answered 401 is never sent again.
        let reused: Vec<&JournalEntry> = after
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                e.token.is_some()
                    && after[..*i]
                        .iter()
                        .any(|r| r.status == Some(401) && r.token == e.token)
            })
            .map(|(_, e)| e)
            .collect();
        check(
            "fresh token after revocation",
            "a token PUT after the revocation, a GET with that token answered 200, and no \
             token sent again once it was answered 401"
                .into(),
            ok && reused.is_empty(),
            &|| {
                if reused.is_empty() {
                    format!("after the revocation: {}", listing(after, t0))
                } else {
                    format!(
                        "rejected tokens sent again: {}",
                        listing(reused.iter().copied(), t0)
                    )
                }
            },
        );
    }
    if expect.legacy_credentials {
        let ok = journal.iter().any(|e| {
            is_get(e)
                && e.status == Some(200)
                && e.path
                    .strip_prefix(LEGACY_CREDENTIALS_DIR)
                    .is_some_and(|name| !name.is_empty() && !name.contains('/'))
        });
        check(
            "legacy credentials path",
            format!("a GET of {LEGACY_CREDENTIALS_DIR}NAME answered 200"),
            ok,
            &|| listing(journal, t0),
        );
    }
    if expect.keeps_credentials_after_failed_refresh {
        // The credentials the client holds: the first role document it was served.
        let held = journal
            .iter()
            .position(|e| is_role_document(e) && e.status == Some(200) && e.fault.is_none());
        // Its refresh attempt that failed: a later credentials request a fault answered.
        let failed_refresh = held.and_then(|i| {
            journal[i + 1..]
                .iter()
                .position(|e| {
                    is_get(e) && e.path.starts_with(CREDENTIALS_PREFIX) && e.fault.is_some()
                })
                .map(|j| i + 1 + j)
        });
        // Nothing new came after it: a success is the old credentials kept.
        let renewed: Vec<&JournalEntry> = failed_refresh
            .map(|j| {
                journal[j + 1..]
                    .iter()
                    .filter(|e| is_role_document(e) && e.status == Some(200))
                    .collect()
            })
            .unwrap_or_default();
        let succeeded = *exit == ChildExit::Code(0);
        check(
            "keeps credentials after a failed refresh",
            "a role document served, then a credentials request a fault answered (a failed \
             refresh), no role document served after it, and exit status 0"
                .into(),
            failed_refresh.is_some() && renewed.is_empty() && succeeded,
            &|| match (held, failed_refresh) {
                (None, _) => format!(
                    "no role document served; requests: {}",
                    listing(journal, t0)
                ),
                (Some(i), None) => format!(
                    "no refresh attempt after {}: {}",
                    describe(&journal[i], t0),
                    listing(&journal[i + 1..], t0)
                ),
                (Some(_), Some(j)) if !renewed.is_empty() => format!(
                    "new credentials after the failed refresh {}: {}",
                    describe(&journal[j], t0),
                    listing(renewed.iter().copied(), t0)
                ),
                (Some(_), Some(j)) => format!(
                    "after the failed refresh {}, {exit}",
                    describe(&journal[j], t0)
                ),
            },
        );
    }
    for path in &expect.requested {
        let ok = journal.iter().any(|e| same_path(&e.path, path));
        check(
            &format!("requested {path}"),
            "at least once".into(),
            ok,
            &|| listing(journal, t0),
        );
    }
    if let Some(want) = expect.exit {
        let (text, ok) = match want {
            ExitWant::Zero => ("0", *exit == ChildExit::Code(0)),
            ExitWant::Nonzero => (
                "non-zero",
                matches!(exit, ChildExit::Code(c) if *c != 0)
                    || matches!(exit, ChildExit::Signal(_)),
            ),
        };
        check("exit status", text.into(), ok, &|| exit.to_string());
    }
    (expected, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, method: &str, path: &str, status: u16) -> JournalEntry {
        JournalEntry {
            seq,
            time: String::new(),
            time_ms: 1000 + seq,
            listener: "127.0.0.1:1".parse().unwrap(),
            peer: "127.0.0.1:2".parse().unwrap(),
            connection: 0,
            method: method.into(),
            path: path.into(),
            version: "HTTP/1.1".into(),
            headers: Vec::new(),
            token: None,
            status: Some(status),
            outcome: None,
            fault: None,
            issued_token: None,
            ttl: None,
            hop_limit: None,
            latency_us: 0,
        }
    }

    fn put(seq: u64, ttl: &str, issued: &str) -> JournalEntry {
        let mut e = entry(seq, "PUT", "/latest/api/token", 200);
        e.headers.push((TTL_HEADER.into(), ttl.into()));
        e.issued_token = Some(issued.into());
        e
    }

    fn get(seq: u64, path: &str, status: u16, token: Option<&str>) -> JournalEntry {
        let mut e = entry(seq, "GET", path, status);
        if let Some(t) = token {
            e.headers
                .push(("x-aws-ec2-metadata-token".into(), format!("<redacted {t}>")));
            e.token = Some(t.into());
        }
        e
    }

    fn failed(expect: &Expect, journal: &[JournalEntry], exit: ChildExit) -> Vec<String> {
        judge(expect, &Faults::default(), journal, &exit)
            .1
            .into_iter()
            .map(|f| f.check)
            .collect()
    }

    #[test]
    fn a_good_v2_run_passes_every_check() {
        let j = vec![
            put(0, "21600", "sha256:a"),
            get(1, "/latest/meta-data/instance-id", 200, Some("sha256:a")),
            get(
                2,
                "/latest/meta-data/placement/region",
                200,
                Some("sha256:a"),
            ),
        ];
        let e = Expect {
            exit: Some(ExitWant::Zero),
            requests_max: Some(3),
            first: Some(FirstWant::TokenPut),
            token_puts_min: Some(1),
            token_puts_max: Some(1),
            tokenless_gets_max: Some(0),
            ttl_range: Some([1, 21600]),
            absent_headers: vec!["x-forwarded-for".into()],
            same_path_max: Some(1),
            requested: vec!["/latest/meta-data/instance-id".into()],
            ..Expect::default()
        };
        let (expected, failures) = judge(&e, &Faults::default(), &j, &ChildExit::Code(0));
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(expected.len(), 10);
    }

    #[test]
    fn a_v1_only_client_fails_the_v2_checks() {
        let j = vec![
            get(0, "/latest/meta-data/instance-id", 200, None),
            get(1, "/latest/meta-data/instance-id", 200, None),
        ];
        let e = Expect {
            first: Some(FirstWant::TokenPut),
            token_puts_min: Some(1),
            tokenless_gets_max: Some(0),
            same_path_max: Some(1),
            requests_max: Some(0),
            ..Expect::default()
        };
        assert_eq!(
            failed(&e, &j, ChildExit::Code(0)),
            [
                "requests",
                "first request",
                "token PUTs",
                "GETs without a token (IMDSv1)",
                "same request repeated"
            ]
        );
    }

    #[test]
    fn ttl_outside_the_range_or_missing_fails() {
        let e = Expect {
            ttl_range: Some([1, 21600]),
            ..Expect::default()
        };
        for ttl in ["0", "21601", "abc", ""] {
            let j = vec![put(0, ttl, "sha256:a")];
            assert_eq!(
                failed(&e, &j, ChildExit::Code(0)),
                ["token PUT TTL"],
                "{ttl}"
            );
        }
        let mut no_header = put(0, "1", "sha256:a");
        no_header.headers.clear();
        assert_eq!(
            failed(&e, &[no_header], ChildExit::Code(0)),
            ["token PUT TTL"]
        );
        assert!(failed(&e, &[put(0, "1", "sha256:a")], ChildExit::Code(0)).is_empty());
    }

    #[test]
    fn refresh_and_retry_need_the_right_order() {
        let refresh = Expect {
            new_token_after: Some(401),
            ..Expect::default()
        };
        let retry = Expect {
            retried_after: Some(500),
            ..Expect::default()
        };
        let p = "/latest/meta-data/instance-id";
        let refreshed = vec![
            put(0, "21600", "sha256:a"),
            get(1, p, 401, Some("sha256:a")),
            put(2, "21600", "sha256:b"),
            get(3, p, 200, Some("sha256:b")),
        ];
        assert!(failed(&refresh, &refreshed, ChildExit::Code(0)).is_empty());
        let same_token = vec![
            put(0, "21600", "sha256:a"),
            get(1, p, 401, Some("sha256:a")),
            get(2, p, 200, Some("sha256:a")),
        ];
        assert_eq!(
            failed(&refresh, &same_token, ChildExit::Code(0)),
            ["new token after 401"]
        );
        let retried = vec![get(0, p, 500, None), get(1, p, 200, None)];
        assert!(failed(&retry, &retried, ChildExit::Code(0)).is_empty());
        let gave_up = vec![get(0, p, 500, None), get(1, "/other", 200, None)];
        assert_eq!(
            failed(&retry, &gave_up, ChildExit::Code(0)),
            ["retry after 500"]
        );
    }

    fn faulted(mut e: JournalEntry, fault: &str) -> JournalEntry {
        e.fault = Some(fault.into());
        e
    }

    fn refused_put(seq: u64, status: u16) -> JournalEntry {
        faulted(
            entry(seq, "PUT", "/latest/api/token", status),
            &format!("token-put={status}"),
        )
    }

    #[test]
    fn falling_back_needs_the_put_first_then_a_tokenless_success() {
        let e = Expect {
            falls_back: true,
            ..Expect::default()
        };
        let p = "/latest/meta-data/instance-id";
        let ordered = vec![refused_put(0, 403), get(1, p, 200, None)];
        assert!(failed(&e, &ordered, ChildExit::Code(0)).is_empty());
        // IMDSv1 only: no PUT at all.
        assert_eq!(
            failed(&e, &[get(0, p, 200, None)], ChildExit::Code(0)),
            ["falls back"]
        );
        // A tokenless GET before the PUT.
        let early = vec![
            get(0, p, 200, None),
            refused_put(1, 403),
            get(2, p, 200, None),
        ];
        assert_eq!(failed(&e, &early, ChildExit::Code(0)), ["falls back"]);
        // Refused PUT, but no tokenless GET succeeded.
        let none = vec![refused_put(0, 403), get(1, p, 401, None)];
        assert_eq!(failed(&e, &none, ChildExit::Code(0)), ["falls back"]);
    }

    #[test]
    fn unfired_faults_are_named() {
        let faults = Faults::parse_all(["token-put=403", "revoke-tokens-after=2"]).unwrap();
        let p = "/latest/meta-data/instance-id";
        let v1_only = vec![get(0, p, 200, None), get(1, p, 200, None)];
        assert_eq!(
            unfired(&faults, &v1_only),
            ["token-put=403", "revoke-tokens-after=2"]
        );
        let fired = vec![
            refused_put(0, 403),
            get(1, p, 200, None),
            get(2, p, 200, None),
        ];
        assert!(unfired(&faults, &fired).is_empty());
    }

    #[test]
    fn the_faulted_request_must_be_sent_again() {
        let e = Expect {
            retries_faulted: true,
            ..Expect::default()
        };
        let p = "/latest/meta-data/iam/security-credentials/r";
        let slow = faulted(get(1, p, 200, Some("sha256:a")), "delay");
        let retried = vec![
            put(0, "21600", "sha256:a"),
            slow.clone(),
            get(2, p, 200, Some("sha256:a")),
        ];
        assert!(failed(&e, &retried, ChildExit::Code(0)).is_empty());
        // Waited the slow answer out: no second request.
        let waited = vec![put(0, "21600", "sha256:a"), slow];
        assert_eq!(
            failed(&e, &waited, ChildExit::Code(0)),
            ["retry of the faulted request"]
        );
    }

    #[test]
    fn a_fresh_token_after_revocation_passes_before_or_after_a_401() {
        let faults = Faults::parse_all(["revoke-tokens-after=2"]).unwrap();
        let e = Expect {
            fresh_token_after_revocation: true,
            ..Expect::default()
        };
        let p = "/latest/meta-data/instance-id";
        let check = |j: &[JournalEntry]| -> Vec<String> {
            judge(&e, &faults, j, &ChildExit::Code(0))
                .1
                .into_iter()
                .map(|f| f.check)
                .collect()
        };
        let before = vec![
            put(0, "300", "sha256:a"),
            get(1, p, 200, Some("sha256:a")),
            put(2, "300", "sha256:b"),
            get(3, p, 200, Some("sha256:b")),
        ];
        assert!(check(&before).is_empty());
        let after_401 = vec![
            put(0, "300", "sha256:a"),
            get(1, p, 200, Some("sha256:a")),
            get(2, p, 401, Some("sha256:a")),
            put(3, "300", "sha256:b"),
            get(4, p, 200, Some("sha256:b")),
        ];
        assert!(check(&after_401).is_empty());
        let mut kept = after_401.clone();
        kept.push(get(5, p, 401, Some("sha256:a")));
        assert_eq!(check(&kept), ["fresh token after revocation"]);
        let same = vec![
            put(0, "300", "sha256:a"),
            get(1, p, 200, Some("sha256:a")),
            get(2, p, 401, Some("sha256:a")),
            get(3, p, 401, Some("sha256:a")),
        ];
        assert_eq!(check(&same), ["fresh token after revocation"]);
    }

    #[test]
    fn the_legacy_path_counts_however_the_role_was_found() {
        let e = Expect {
            legacy_credentials: true,
            requested: vec!["/latest/meta-data/iam/security-credentials/".into()],
            ..Expect::default()
        };
        let doc = "/latest/meta-data/iam/security-credentials/imdspec-role";
        let no_slash = vec![
            get(0, "/latest/meta-data/iam/security-credentials", 200, None),
            get(1, doc, 200, None),
        ];
        assert!(failed(&e, &no_slash, ChildExit::Code(0)).is_empty());
        let from_info = Expect {
            legacy_credentials: true,
            ..Expect::default()
        };
        let j = vec![
            get(0, "/latest/meta-data/iam/info", 200, None),
            get(1, doc, 200, None),
        ];
        assert!(failed(&from_info, &j, ChildExit::Code(0)).is_empty());
        let listing_only = vec![get(
            0,
            "/latest/meta-data/iam/security-credentials/",
            200,
            None,
        )];
        assert_eq!(
            failed(&from_info, &listing_only, ChildExit::Code(0)),
            ["legacy credentials path"]
        );
        assert!(same_path("/a/b/", "/a/b") && !same_path("/a/b", "/a/bc"));
    }

    #[test]
    fn static_stability_needs_a_failed_refresh_then_success() {
        let e = Expect {
            keeps_credentials_after_failed_refresh: true,
            ..Expect::default()
        };
        let list = "/latest/meta-data/iam/security-credentials/";
        let doc = "/latest/meta-data/iam/security-credentials/imdspec-role";
        let fault = "get[/latest/meta-data/iam/security-credentials/*]=500";
        let loaded = vec![
            put(0, "21600", "sha256:a"),
            get(1, list, 200, Some("sha256:a")),
            get(2, doc, 200, Some("sha256:a")),
        ];
        let mut kept = loaded.clone();
        kept.push(faulted(get(3, list, 500, Some("sha256:a")), fault));
        kept.push(faulted(get(4, list, 500, Some("sha256:a")), fault));
        assert!(failed(&e, &kept, ChildExit::Code(0)).is_empty());
        let name = ["keeps credentials after a failed refresh"];
        // Never tried to refresh the expired credentials: exit 0 proves nothing.
        assert_eq!(failed(&e, &loaded, ChildExit::Code(0)), name);
        // Tried, failed, and gave up instead of keeping them.
        assert_eq!(failed(&e, &kept, ChildExit::Code(1)), name);
        // Got new credentials after the failure: nothing was kept.
        let mut renewed = kept.clone();
        renewed.push(get(5, doc, 200, Some("sha256:a")));
        assert_eq!(failed(&e, &renewed, ChildExit::Code(0)), name);
        // A fault before any credentials were held is no refresh.
        let first_failed = vec![
            faulted(get(0, doc, 500, None), fault),
            get(1, doc, 200, None),
        ];
        assert_eq!(failed(&e, &first_failed, ChildExit::Code(0)), name);
        assert!(is_role_document(&get(
            0,
            &format!("{CREDENTIALS_PREFIX}-extended/r"),
            200,
            None
        )));
        assert!(!is_role_document(&get(0, list, 200, None)));
    }

    #[test]
    fn exit_status_and_timeouts() {
        let zero = Expect {
            exit: Some(ExitWant::Zero),
            ..Expect::default()
        };
        let nonzero = Expect {
            exit: Some(ExitWant::Nonzero),
            ..Expect::default()
        };
        assert!(failed(&zero, &[], ChildExit::Code(0)).is_empty());
        assert_eq!(failed(&zero, &[], ChildExit::Code(1)), ["exit status"]);
        assert!(failed(&nonzero, &[], ChildExit::Code(1)).is_empty());
        assert_eq!(
            failed(&nonzero, &[], ChildExit::TimedOut(100)),
            ["exit status"]
        );
        assert_eq!(
            failed(&zero, &[], ChildExit::TimedOut(100)),
            ["exit status"]
        );
    }

    #[test]
    fn descriptions_show_fingerprints_not_tokens() {
        let e = get(
            3,
            "/latest/meta-data/instance-id",
            200,
            Some("sha256:0123456789ab"),
        );
        let d = describe(&e, 1000);
        assert_eq!(
            d,
            "#3 +3ms c0 GET /latest/meta-data/instance-id token=sha256:0123456789ab -> 200"
        );
        let d = describe(&put(0, "21600", "sha256:ff"), 1000);
        assert!(
            d.contains("PUT /latest/api/token ttl=21600 -> 200 issued=sha256:ff"),
            "{d}"
        );
    }
}
