//! Running a data case's steps and judging each answer against its expectations.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use imds_model::parse::parse_listing;

use crate::catalogue::{BodyExpect, Expect, Step, TokenUse};
use crate::client::{Request, Response};
use crate::ctx::{INVALID_TOKEN, Recorder, RunCtx, Stop};

/// Extra wait after a token's TTL before it is used as "expired".
const EXPIRY_MARGIN: Duration = Duration::from_millis(200);

/// Runs the steps in order, recording failures; stops at the first step that cannot be run.
pub async fn run_steps(ctx: &Arc<RunCtx>, steps: &[Step], rec: &mut Recorder) {
    for (i, s) in steps.iter().enumerate() {
        rec.expected.push(describe(i + 1, s));
    }
    let mut bodies: Vec<Option<Bytes>> = Vec::new();
    let mut last_put: Option<String> = None;
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        let Some(path) = ctx.discovery.expand(&step.path) else {
            rec.stop(Stop::Skip(format!(
                "step {n}: {} has no value on this target",
                step.path
            )));
            return;
        };
        let token = match step.token {
            TokenUse::None => None,
            TokenUse::Invalid => Some(INVALID_TOKEN.to_owned()),
            TokenUse::Auto => match ctx.session_or_fallback(rec) {
                Some(t) => t,
                None => return,
            },
            TokenUse::Session => match &ctx.session {
                Some(t) => Some(t.clone()),
                None => {
                    let why = ctx.session_error.clone().unwrap_or_default();
                    ctx.no_token(rec, format!("no session token: {why}"));
                    return;
                }
            },
            TokenUse::Fresh => match ctx
                .fresh_token(rec, Some(n), step.token_ttl.unwrap_or(21600))
                .await
            {
                Some((t, _)) => Some(t),
                None => return,
            },
            TokenUse::Expired => {
                let ttl = step.token_ttl.unwrap_or(1);
                let Some((t, got)) = ctx.fresh_token(rec, Some(n), ttl).await else {
                    return;
                };
                let until = got + Duration::from_secs(u64::from(ttl)) + EXPIRY_MARGIN;
                tokio::time::sleep_until(until.into()).await;
                Some(t)
            }
            TokenUse::FromPut => match &last_put {
                Some(t) => Some(t.clone()),
                None => {
                    rec.fail(
                        Some(n),
                        "token",
                        "a token from an earlier PUT step",
                        "no earlier PUT step returned a token",
                    );
                    bodies.push(None);
                    continue;
                }
            },
        };
        if step.wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.wait_ms)).await;
        }
        let mut req = Request::new(step.method.clone(), path);
        req.title_case_headers = step.title_case_headers;
        if let Some(t) = token {
            req = req.token(&t);
        }
        for (name, value) in &step.headers {
            req = req.header(name.clone(), value.clone());
        }
        let Some(resp) = ctx.exchange(rec, Some(n), req.clone()).await else {
            return;
        };
        if let Some(why) = unusable_role(&req.path, &resp) {
            rec.stop(Stop::Skip(why));
            return;
        }
        let shown = ctx.show_body(&req, &resp);
        if step.allow_absent && resp.status == 404 {
            let below = req.path.strip_prefix("/latest/").unwrap_or_default();
            if let Some(note) = ctx.absent_by_age(below, resp.status) {
                rec.notes.push(note);
            }
            bodies.push(Some(resp.body.clone()));
            continue;
        }
        check(&step.expect, &resp, &shown, &bodies, Some(n), rec);
        if step.method == http::Method::PUT && resp.status == 200 {
            last_put = Some(resp.text());
        }
        bodies.push(Some(resp.body.clone()));
    }
}

/// A role's credentials document whose `Code` is not `Success` (for example a trust policy
/// that leaves out `ec2.amazonaws.com`): IMDS is reporting the role's fault, not its own,
/// so the case does not apply (SPEC §3.9).
pub fn unusable_role(path: &str, resp: &Response) -> Option<String> {
    unusable_role_body(path, resp.status, &resp.body)
}

/// [`unusable_role`] on a status and body.
pub fn unusable_role_body(path: &str, status: u16, body: &[u8]) -> Option<String> {
    let (_, role) = path.split_once("/meta-data/iam/security-credentials/")?;
    if role.is_empty() || role.contains('/') || status != 200 {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = doc.get("Code")?.as_str()?;
    (code != "Success").then(|| {
        format!(
            "the role's credentials document has Code {code:?}, not \"Success\": the role cannot be used by EC2 (e.g. its trust policy), which is not an IMDS fault"
        )
    })
}

fn describe(n: usize, s: &Step) -> String {
    let mut parts = Vec::new();
    let e = &s.expect;
    match e.status.as_slice() {
        [] => {}
        [one] => parts.push(format!("status {one}")),
        many => parts.push(format!(
            "status one of {}",
            many.iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join("/")
        )),
    }
    if !e.status_not.is_empty() {
        parts.push(format!("status not {:?}", e.status_not));
    }
    if let Some(ct) = &e.content_type {
        parts.push(format!("Content-Type {ct}"));
    }
    for h in &e.header_present {
        parts.push(format!("header {h} present"));
    }
    for h in &e.header_absent {
        parts.push(format!("header {h} absent"));
    }
    for (h, v) in &e.header_equals {
        parts.push(format!("{h}: {v}"));
    }
    for (h, r) in &e.header_matches {
        parts.push(format!("{h} ~ /{r}/"));
    }
    for (h, lo, hi) in &e.header_int_range {
        parts.push(format!("{h} in {lo}..={hi}"));
    }
    let b = &e.body;
    if b.equals.is_some() {
        parts.push("body exact".into());
    }
    if let Some(r) = &b.matches {
        parts.push(format!("body ~ /{r}/"));
    }
    if !b.contains.is_empty() {
        parts.push(format!("body contains {:?}", b.contains));
    }
    if !b.not_contains.is_empty() {
        parts.push(format!("body lacks {:?}", b.not_contains));
    }
    if let Some(x) = b.empty {
        parts.push(if x { "empty body" } else { "non-empty body" }.into());
    }
    if let Some(x) = b.final_newline {
        parts.push(if x { "final LF" } else { "no final LF" }.into());
    }
    if let Some(m) = b.max_bytes {
        parts.push(format!("body ≤ {m} bytes"));
    }
    if let Some(r) = &b.lines_match {
        parts.push(format!("every line ~ /{r}/"));
    }
    if b.listing {
        parts.push("a listing".into());
    }
    if !b.listing_has.is_empty() {
        parts.push(format!("listing has {:?}", b.listing_has));
    }
    if !b.listing_lacks.is_empty() {
        parts.push(format!("listing lacks {:?}", b.listing_lacks));
    }
    if let Some(k) = b.json {
        parts.push(format!("JSON {k:?}").to_lowercase());
    }
    if !b.json_keys.is_empty() {
        parts.push(format!("JSON keys {:?}", b.json_keys));
    }
    for (k, r) in &b.json_values {
        parts.push(format!("JSON {k} ~ /{r}/"));
    }
    if let Some(s) = b.same_as_step {
        parts.push(format!("same body as step {s}"));
    }
    if let Some(s) = b.differs_from_step {
        parts.push(format!("body differs from step {s}"));
    }
    let token = match s.token {
        TokenUse::Auto => String::new(),
        TokenUse::Session => " (session token)".into(),
        TokenUse::None => " (no token)".into(),
        TokenUse::Fresh => format!(" (fresh token, TTL {})", s.token_ttl.unwrap_or(21600)),
        TokenUse::Invalid => " (invalid token)".into(),
        TokenUse::Expired => format!(" (token expired after {} s)", s.token_ttl.unwrap_or(1)),
        TokenUse::FromPut => " (token from the PUT step)".into(),
    };
    let absent = if s.allow_absent { "; 404 accepted" } else { "" };
    format!(
        "step {n}: {} {}{token} → {}{absent}",
        s.method,
        s.path,
        if parts.is_empty() {
            "any answer".to_owned()
        } else {
            parts.join("; ")
        }
    )
}

fn snippet(s: &str) -> String {
    const MAX: usize = 300;
    if s.len() <= MAX {
        format!("{s:?}")
    } else {
        let mut cut = MAX;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{:?}… ({} bytes)", &s[..cut], s.len())
    }
}

/// Judges one response; `shown` is the redacted body text, `earlier` the bodies of earlier
/// steps (for `same-as-step`/`differs-from-step`).
pub fn check(
    e: &Expect,
    resp: &Response,
    shown: &str,
    earlier: &[Option<Bytes>],
    step: Option<usize>,
    rec: &mut Recorder,
) {
    let mut fail = |check: &str, expected: String, observed: String| {
        rec.fail(step, check, expected, observed);
    };
    if !e.status.is_empty() && !e.status.contains(&resp.status) {
        let want: Vec<String> = e.status.iter().map(u16::to_string).collect();
        fail(
            "status",
            want.join(" or "),
            format!("{} (body {})", resp.status, snippet(shown)),
        );
        // The rest would only restate the wrong status.
        return;
    }
    if e.status_not.contains(&resp.status) {
        fail(
            "status",
            format!("not {}", resp.status),
            format!("{} (body {})", resp.status, snippet(shown)),
        );
        return;
    }
    if let Some(ct) = &e.content_type {
        let got = resp.media_type();
        if got.as_deref() != Some(&ct.to_ascii_lowercase()) {
            fail(
                "header content-type",
                ct.clone(),
                resp.header("content-type").unwrap_or("(absent)").to_owned(),
            );
        }
    }
    for h in &e.header_present {
        if resp.header(h.as_str()).is_none() {
            fail(&format!("header {h}"), "present".into(), "absent".into());
        }
    }
    for h in &e.header_absent {
        if let Some(v) = resp.header(h.as_str()) {
            fail(&format!("header {h}"), "absent".into(), format!("{v:?}"));
        }
    }
    for (h, want) in &e.header_equals {
        let got = resp.header(h.as_str());
        if got.map(str::trim) != Some(want.as_str()) {
            fail(
                &format!("header {h}"),
                format!("{want:?}"),
                got.map_or("(absent)".into(), |v| format!("{v:?}")),
            );
        }
    }
    for (h, r) in &e.header_matches {
        let got = resp.header(h.as_str());
        if !got.is_some_and(|v| r.is_match(v)) {
            fail(
                &format!("header {h}"),
                format!("matching /{r}/"),
                got.map_or("(absent)".into(), |v| format!("{v:?}")),
            );
        }
    }
    for (h, lo, hi) in &e.header_int_range {
        let got = resp.header(h.as_str());
        let ok = got
            .and_then(|v| v.trim().parse::<i64>().ok())
            .is_some_and(|n| (*lo..=*hi).contains(&n));
        if !ok {
            fail(
                &format!("header {h}"),
                format!("an integer in {lo}..={hi}"),
                got.map_or("(absent)".into(), |v| format!("{v:?}")),
            );
        }
    }
    check_body(&e.body, &resp.body, shown, earlier, step, rec);
}

fn check_body(
    b: &BodyExpect,
    body: &Bytes,
    shown: &str,
    earlier: &[Option<Bytes>],
    step: Option<usize>,
    rec: &mut Recorder,
) {
    let text = String::from_utf8_lossy(body);
    let mut fail = |check: &str, expected: String, observed: String| {
        rec.fail(step, check, expected, observed);
    };
    let seen = || snippet(shown);
    if let Some(want) = &b.equals
        && body.as_ref() != want.as_bytes()
    {
        fail("body", snippet(want), seen());
    }
    if let Some(r) = &b.matches
        && !r.is_match(&text)
    {
        fail("body", format!("matching /{r}/"), seen());
    }
    for c in &b.contains {
        if !text.contains(c.as_str()) {
            fail("body", format!("containing {c:?}"), seen());
        }
    }
    for c in &b.not_contains {
        if text.contains(c.as_str()) {
            fail("body", format!("not containing {c:?}"), seen());
        }
    }
    if let Some(want_empty) = b.empty
        && body.is_empty() != want_empty
    {
        let exp = if want_empty { "empty" } else { "non-empty" };
        fail("body", exp.into(), seen());
    }
    if let Some(nl) = b.final_newline
        && !body.is_empty()
        && body.ends_with(b"\n") != nl
    {
        let exp = if nl { "ending with LF" } else { "no final LF" };
        fail("body.final_newline", exp.into(), seen());
    }
    if let Some(max) = b.max_bytes
        && body.len() > max
    {
        fail(
            "body size",
            format!("at most {max} bytes"),
            format!("{} bytes", body.len()),
        );
    }
    if let Some(r) = &b.lines_match {
        let t = text.strip_suffix('\n').unwrap_or(&text);
        if let Some(bad) = t
            .split('\n')
            .filter(|_| !t.is_empty())
            .find(|l| !r.is_match(l))
        {
            // Quote the line only when redaction left it visible: a line of user data, a
            // token or a credential must not reach the report (found by fuzz target
            // case_catalogue, seed regressions/user-data-lines-match-fails.toml).
            let line = if shown.contains(bad) {
                snippet(bad)
            } else {
                "<redacted>".to_owned()
            };
            fail(
                "body lines",
                format!("every line matching /{r}/"),
                format!("line {line} in {}", seen()),
            );
        }
    }
    if b.listing {
        match parse_listing(body) {
            Err(e) => fail(
                "body.listing",
                "a well-formed listing".into(),
                format!("{e}: {}", seen()),
            ),
            Ok(l) => {
                let lines: Vec<String> = l
                    .entries
                    .iter()
                    .map(|e| {
                        if e.is_dir {
                            format!("{}/", e.name)
                        } else {
                            e.name.clone()
                        }
                    })
                    .collect();
                for want in &b.listing_has {
                    if !lines.contains(want) {
                        fail("body.listing", format!("an entry {want:?}"), seen());
                    }
                }
                for bad in &b.listing_lacks {
                    if lines.contains(bad) {
                        fail("body.listing", format!("no entry {bad:?}"), seen());
                    }
                }
            }
        }
    }
    if let Some(kind) = b.json {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Err(e) => fail(
                "body.json",
                format!("JSON ({kind:?})"),
                format!("{e}: {}", seen()),
            ),
            Ok(v) => {
                if !kind.matches(&v) {
                    fail("body.json", format!("a JSON {kind:?}"), seen());
                }
                for k in &b.json_keys {
                    if v.get(k).is_none() {
                        fail("body.json", format!("key {k:?}"), seen());
                    }
                }
                for (k, r) in &b.json_values {
                    match v.get(k).and_then(|x| x.as_str()) {
                        Some(s) if r.is_match(s) => {}
                        _ => fail(
                            &format!("body.json.{k}"),
                            format!("a string matching /{r}/"),
                            v.get(k).map_or("(absent)".into(), |x| {
                                if k == "SecretAccessKey" || k == "Token" {
                                    "<redacted>".into()
                                } else {
                                    x.to_string()
                                }
                            }),
                        ),
                    }
                }
                for (k, kinds) in &b.json_types {
                    let got = v.get(k);
                    if !got.is_some_and(|x| kinds.iter().any(|kind| kind.matches(x))) {
                        fail(
                            &format!("body.json.{k}"),
                            format!("of type {kinds:?}").to_lowercase(),
                            got.map_or("(absent)".into(), |x| x.to_string()),
                        );
                    }
                }
            }
        }
    }
    if let Some(s) = b.same_as_step {
        let other = earlier.get(s - 1).cloned().flatten();
        if other.as_ref() != Some(body) {
            fail(
                "body",
                format!("the same body as step {s}"),
                format!(
                    "{} ({} bytes) vs {} bytes in step {s}",
                    seen(),
                    body.len(),
                    other.map_or(0, |o| o.len())
                ),
            );
        }
    }
    if let Some(s) = b.differs_from_step {
        let other = earlier.get(s - 1).cloned().flatten();
        if other.as_ref() == Some(body) {
            fail(
                "body",
                format!("a body different from step {s}"),
                "the same body".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_failure_does_not_quote_redacted_lines() {
        let expect = BodyExpect {
            lines_match: Some(regex::Regex::new("^#").unwrap()),
            ..BodyExpect::default()
        };
        let body = Bytes::from_static(b"#!/bin/bash\necho secret-user-data\n");
        let mut rec = Recorder::default();
        check_body(
            &expect,
            &body,
            "<redacted user-data, 33 bytes>",
            &[],
            Some(1),
            &mut rec,
        );
        assert_eq!(rec.failures.len(), 1);
        assert!(
            !rec.failures[0].observed.contains("secret-user-data"),
            "{:?}",
            rec.failures
        );
        // A visible line is still quoted.
        let mut rec = Recorder::default();
        let shown = "#!/bin/bash\necho visible\n";
        check_body(&expect, &Bytes::from(shown), shown, &[], Some(1), &mut rec);
        assert!(
            rec.failures[0].observed.contains("echo visible"),
            "{:?}",
            rec.failures
        );
    }
}
