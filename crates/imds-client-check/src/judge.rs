//! Judging one client run: the scenario's expectations over the server's journal and the
//! client's exit status.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use imds_conformance::report::Failure;
/// The token TTL header, lower case as the journal keeps header names.
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
use imds_server::JournalEntry;

use crate::scenario::{ExitWant, Expect, FirstWant};

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

/// The checks of `expect`: each is (what is expected, failure if unmet).
pub fn judge(
    expect: &Expect,
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
        let ok = first.is_some_and(|i| {
            journal[i + 1..]
                .iter()
                .any(|e| e.is_token_put() && e.issued_token.is_some())
        });
        check(
            &format!("new token after {status}"),
            format!("a successful token PUT after the first {status} response"),
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
        for e in journal.iter().filter(|e| !is_reset(e)) {
            *counts.entry((&e.method, &e.path)).or_default() += 1;
        }
        let over: Vec<String> = counts
            .iter()
            .filter(|(_, n)| **n > max)
            .map(|((m, p), n)| format!("{m} {p} x{n}"))
            .collect();
        check(
            "same request repeated",
            format!("no method and path more than {max} times"),
            over.is_empty(),
            &|| over.join("; "),
        );
    }
    for path in &expect.requested {
        let ok = journal.iter().any(|e| &e.path == path);
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
        judge(expect, journal, &exit)
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
        let (expected, failures) = judge(&e, &j, &ChildExit::Code(0));
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
