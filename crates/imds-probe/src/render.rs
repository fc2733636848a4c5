//! Human and JSON output of a probe. Neither ever contains a token (the observations hold
//! only its length and shape) nor a credential (the probe never asks for one).

use std::fmt::Write as _;

use imds_model::Toggle;
use imds_observe::output::ProbeHead;
use serde::Serialize;

use crate::infer::{Comparison, Diagnosis, Findings, LooksLike, V1, V2};
use crate::observe::{ConnectOutcome, EndpointObservation, Observations, Role, Step, StepOutcome};

/// The JSON document's format name and version (defined with the format, in `imds-observe`).
pub use imds_observe::output::PROBE_FORMAT as JSON_FORMAT;

/// The declared options a probe was compared with.
#[derive(Clone, Debug, Serialize)]
pub struct Declared<'a> {
    /// `--metadata-options FILE`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    /// The comparison.
    #[serde(flatten)]
    pub comparison: &'a Comparison,
}

/// The JSON document. Inferred options use the describe-instances field names, so the
/// output of many instances can be diffed against `aws ec2 describe-instances`.
#[derive(Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    endpoint: &'a str,
    verdict: &'a str,
    #[serde(flatten)]
    head: ProbeHead<'a>,
    diagnoses: &'a [Diagnosis],
    looks_like: &'a LooksLike,
    #[serde(skip_serializing_if = "Option::is_none")]
    declared: Option<Declared<'a>>,
    observations: &'a Observations,
}

/// The JSON document, pretty-printed, with a final newline.
pub fn json(obs: &Observations, f: &Findings, declared: Option<Declared<'_>>) -> String {
    let report = JsonReport {
        format: JSON_FORMAT,
        endpoint: &obs.main().url,
        verdict: &f.verdict,
        head: ProbeHead {
            instance_id: f.instance_id.as_deref(),
            http_tokens: f.http_tokens,
            http_endpoint: f.http_endpoint,
            instance_metadata_tags: f.instance_metadata_tags,
            http_protocol_ipv6: f.http_protocol_ipv6,
            imdsv1: f.v1,
            imdsv2: f.v2,
            hop_limit_too_low: f.v2 == V2::HopLimited,
        },
        diagnoses: &f.diagnoses,
        looks_like: &f.looks_like,
        declared,
        observations: obs,
    };
    let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
    s.push('\n');
    s
}

fn answer(step: &Step, timeout_ms: u64) -> String {
    match (step.outcome, step.status) {
        (StepOutcome::Answered, Some(s)) => s.to_string(),
        (StepOutcome::ResponseTimeout, _) => format!("no answer within {timeout_ms} ms"),
        (StepOutcome::ConnectRefused, _) => "connection refused".into(),
        (StepOutcome::ConnectTimeout, _) => format!("no connection within {timeout_ms} ms"),
        _ => step.error.clone().unwrap_or_else(|| "failed".into()),
    }
}

fn evidence(step: &Step, timeout_ms: u64, extra: &str) -> String {
    format!(
        "{} → {}{extra} ({} ms)",
        step.request,
        answer(step, timeout_ms),
        step.ms
    )
}

fn toggle(v: Option<Toggle>) -> String {
    v.map_or_else(|| "unknown".into(), |t| t.to_string())
}

fn endpoint_row(e: &EndpointObservation, timeout_ms: u64) -> (String, String, String) {
    let name = match e.role {
        Role::Primary => "endpoint",
        Role::Ipv6 => "IPv6 endpoint",
    };
    let value = if e.answers() {
        "answers"
    } else {
        match e.tcp_connect.outcome {
            ConnectOutcome::Connected => "SILENT",
            ConnectOutcome::Refused => "REFUSED",
            ConnectOutcome::Timeout => "NO ROUTE",
            ConnectOutcome::Failed => "FAILED",
        }
    };
    let connect = match e.tcp_connect.outcome {
        ConnectOutcome::Connected => format!("TCP connect {} ms", e.tcp_connect.ms),
        ConnectOutcome::Refused => "TCP connect refused".into(),
        ConnectOutcome::Timeout => format!("no TCP connection within {timeout_ms} ms"),
        ConnectOutcome::Failed => format!(
            "TCP connect failed: {}",
            e.tcp_connect.error.as_deref().unwrap_or("?")
        ),
    };
    (name.into(), value.into(), format!("{} ({connect})", e.url))
}

/// The human report: a mismatch with the declared options (if any), the verdict, then a
/// table in reading order, then diagnoses and the comparison with declared options.
pub fn human(obs: &Observations, f: &Findings, declared: Option<Declared<'_>>) -> String {
    let t = obs.timeout_ms;
    let main = obs.main();
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |name: &str, value: String, evidence: String| {
        rows.push((name.to_owned(), value, evidence));
    };
    for e in &obs.endpoints {
        let (n, v, ev) = endpoint_row(e, t);
        row(&n, v, ev);
    }
    if let Some(id) = &f.instance_id {
        row("instance", id.clone(), String::new());
    }
    if f.answers {
        let v1 = match f.v1 {
            V1::Open => "OPEN",
            V1::Closed => "closed",
            V1::Disabled => "off",
            V1::Unknown => "unclear",
        };
        row(
            "IMDSv1 (no token)",
            v1.into(),
            evidence(&main.tokenless_get, t, ""),
        );
        let put = &main.token_put;
        let echoed = match (put.answered(), put.ttl_header.as_deref()) {
            (Some(200), Some(ttl)) => format!(", TTL {ttl} echoed"),
            (Some(200), None) => ", no TTL echo".into(),
            _ => String::new(),
        };
        // This row is about the token PUT alone; the verdict weighs it with the rest.
        let token = match (f.v2, put.answered()) {
            (V2::Disabled, _) => "off",
            (_, Some(200)) => "works",
            (_, Some(_)) => "REFUSED",
            (V2::HopLimited, None) => "NO ANSWER",
            (_, None) => "FAILED",
        };
        row("IMDSv2 token", token.into(), evidence(put, t, &echoed));
        if let Some(tg) = &obs.token_get {
            let remaining = match (tg.answered(), tg.ttl_header.as_deref()) {
                (Some(_), Some(ttl)) => format!(", remaining TTL {ttl} s"),
                (Some(_), None) => ", no remaining-TTL header".into(),
                _ => String::new(),
            };
            let value = match tg.answered() {
                Some(200) => "works",
                Some(_) => "REFUSED",
                None => "FAILED",
            };
            row(
                "IMDSv2 GET with token",
                value.into(),
                evidence(tg, t, &remaining),
            );
        }
        row(
            "HttpTokens",
            f.http_tokens
                .map_or_else(|| "unknown".into(), |v| v.to_string()),
            String::new(),
        );
        row("HttpEndpoint", toggle(f.http_endpoint), String::new());
        row(
            "InstanceMetadataTags",
            toggle(f.instance_metadata_tags),
            obs.tags_get
                .as_ref()
                .map(|s| evidence(s, t, ""))
                .unwrap_or_else(|| {
                    if f.v1 == V1::Disabled {
                        "not asked (the endpoint is turned off)".into()
                    } else {
                        "not asked (no way in: no token and IMDSv1 closed)".into()
                    }
                }),
        );
        let ipv6_probed = obs.endpoints.iter().any(|e| e.ipv6);
        row(
            "HttpProtocolIpv6",
            toggle(f.http_protocol_ipv6),
            if ipv6_probed {
                String::new()
            } else {
                "not probed (add --ipv6)".into()
            },
        );
        let hop = match (f.v2, put.answered()) {
            (V2::HopLimited, _) => (
                "TOO LOW here",
                "token responses are dropped before they reach this position",
            ),
            (_, Some(200)) => ("enough here", "the token response arrived"),
            _ => ("unknown", ""),
        };
        row("HttpPutResponseHopLimit", hop.0.into(), hop.1.into());
    }
    row(
        "looks like",
        f.looks_like.verdict.into(),
        if f.looks_like.clues.is_empty() {
            "no answers to judge (information only)".into()
        } else {
            format!("{} (information only)", f.looks_like.clues.join("; "))
        },
    );

    let mut out = String::new();
    // A declared-vs-observed mismatch is what a user who declared options came to learn.
    if let Some(d) = &declared
        && !d.comparison.matches
    {
        let what: Vec<String> = d
            .comparison
            .differences
            .iter()
            .map(|x| {
                format!(
                    "{} declared {}, observed {}",
                    x.field, x.declared, x.observed
                )
            })
            .collect();
        let _ = writeln!(out, "DIFFERS FROM DECLARED: {}", what.join("; "));
    }
    let _ = writeln!(out, "{}\n", f.verdict);
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    // Rows without evidence (the instance id) may overhang the value column.
    let vwidth = rows
        .iter()
        .filter(|r| !r.2.is_empty())
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0);
    for (name, value, ev) in &rows {
        let line = format!("  {name:<width$}  {value:<vwidth$}  {ev}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if !f.diagnoses.is_empty() {
        out.push('\n');
        for d in &f.diagnoses {
            let _ = writeln!(out, "! {}", d.message);
            if let Some(a) = &d.advice {
                let _ = writeln!(out, "  → {a}");
            }
        }
    }
    if let Some(d) = declared {
        let c = d.comparison;
        let from = d.file.map(|f| format!(" ({f})")).unwrap_or_default();
        out.push('\n');
        if c.matches {
            let _ = writeln!(
                out,
                "declared options{from}: the endpoint behaves as declared"
            );
        } else {
            let _ = writeln!(
                out,
                "declared options{from}: the endpoint DIFFERS in {} field(s)",
                c.differences.len()
            );
        }
        for x in &c.differences {
            let _ = writeln!(
                out,
                "  {}: declared {}, observed {}",
                x.field, x.declared, x.observed
            );
        }
        for u in &c.unchecked {
            let _ = writeln!(out, "  not checked: {}={}: {}", u.field, u.declared, u.why);
        }
        if c.state.is_some() {
            let _ = writeln!(
                out,
                "  note: the declared State is pending: the instance may still serve its old settings"
            );
        }
    }
    let _ = writeln!(
        out,
        "\nprobe took {} ms (budget {} ms, {} ms per request)",
        obs.total_ms, obs.budget_ms, obs.timeout_ms
    );
    out
}
