//! The report as human text, JSON (`imdspec-fleet/1`), CSV (one line per finding) or
//! Markdown (totals, instances, cases).

use std::fmt::Write as _;

use crate::{Report, Row, Status};

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Verdict, instances, cases, totals.
    Human,
    /// One JSON document.
    Json,
    /// One line per finding.
    Csv,
    /// Tables.
    Markdown,
}

/// Renders `r` in `format`.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Human => human(r),
        Format::Json => json(r),
        Format::Csv => csv(r),
        Format::Markdown => markdown(r),
    }
}

/// What is wrong with one instance, in a few words.
pub fn findings(row: &Row) -> Vec<String> {
    let mut out = Vec::new();
    match row.status {
        Status::NotProbed => out.push(match &row.instance_state {
            Some(s) => format!("not probed (instance {s})"),
            None => "not probed".to_owned(),
        }),
        Status::Imdsv2Required => {}
        s => out.push(s.as_str().to_owned()),
    }
    if row.hop_limited {
        out.push("hop limit too low for the prober".to_owned());
    }
    for d in &row.differences {
        out.push(format!(
            "{}: declared {}, observed {}",
            d.field, d.declared, d.observed
        ));
    }
    if row.pending && row.status != Status::NotProbed {
        out.push("a metadata options change is pending".to_owned());
    }
    if row.unknown_to_control_plane {
        out.push("not in the describe-instances output".to_owned());
    }
    if row.duplicates > 0 {
        out.push(format!(
            "{} probe outputs (the last read is used)",
            row.duplicates + 1
        ));
    }
    out
}

fn verdict(r: &Report) -> String {
    let t = &r.totals;
    match r.exit_code {
        0 => format!(
            "FLEET MATCHES: {} instance(s), none differs from the control plane",
            t.instances
        ),
        1 => format!(
            "FLEET DIFFERS: {} of {} instance(s) differ from the control plane, {} not probed, {} no answer, {} unknown to the control plane, {} failing case(s)",
            t.differ,
            t.instances,
            t.not_probed,
            t.no_answer,
            t.unknown_to_control_plane,
            r.cases.len()
        ),
        _ => format!(
            "INPUT UNREADABLE: {} file(s) could not be read (listed below); the rest is reported",
            t.unreadable
        ),
    }
}

fn totals_rows(r: &Report) -> Vec<(&'static str, usize)> {
    let t = &r.totals;
    vec![
        ("instances", t.instances),
        ("probed", t.probed),
        ("IMDSv1 open", t.imdsv1_open),
        ("IMDSv2 required", t.imdsv2_required),
        ("endpoint off", t.endpoint_off),
        ("hop-limited", t.hop_limited),
        ("no answer", t.no_answer),
        ("unclear", t.unclear),
        ("not probed", t.not_probed),
        ("unknown to the control plane", t.unknown_to_control_plane),
        ("differ from declared", t.differ),
        ("  of which pending", t.pending),
        ("probe outputs without instance id", t.without_instance_id),
        ("run reports", t.run_reports),
        ("files read", t.files),
        ("unreadable", t.unreadable),
    ]
}

/// Human text.
pub fn human(r: &Report) -> String {
    let mut out = format!("{}\n", verdict(r));
    if !r.declared {
        out.push_str("(no --declared: nothing to compare with, states only)\n");
    }
    if !r.instances.is_empty() {
        out.push('\n');
        let w = r
            .instances
            .iter()
            .map(|x| x.instance_id.chars().count())
            .max()
            .unwrap_or(0);
        for row in &r.instances {
            let mark = if row.differs() { "!" } else { " " };
            let _ = writeln!(
                out,
                "{mark} {:<w$}  {}",
                row.instance_id,
                findings(row).join("; ")
            );
        }
    }
    if !r.cases.is_empty() {
        out.push_str("\nfailing conformance cases (instances):\n");
        for c in &r.cases {
            let mut who: Vec<&str> = c.instances.iter().take(10).map(String::as_str).collect();
            if c.instances.len() > 10 {
                who.push("…");
            }
            let _ = writeln!(
                out,
                "  {:<40} {:<6} {:>6}  {}",
                c.id,
                c.level,
                c.count,
                who.join(" ")
            );
        }
    }
    if !r.unreadable.is_empty() {
        out.push_str("\nunreadable:\n");
        for u in &r.unreadable {
            let _ = writeln!(out, "  {u}");
        }
    }
    out.push_str("\ntotals:\n");
    for (name, n) in totals_rows(r) {
        let _ = writeln!(out, "  {name:<34} {n}");
    }
    out
}

/// The JSON document, pretty-printed, with a final newline.
pub fn json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

/// A CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV: `kind,instance_id,status,field,declared,observed,detail`, one line per finding.
pub fn csv(r: &Report) -> String {
    let mut out = String::from("kind,instance_id,status,field,declared,observed,detail\n");
    let mut line = |cols: [&str; 7]| {
        let cols: Vec<String> = cols.iter().map(|c| field(c)).collect();
        out.push_str(&cols.join(","));
        out.push('\n');
    };
    for row in &r.instances {
        let status = row.status.as_str();
        for d in &row.differences {
            let detail = if row.pending { "pending" } else { "" };
            line([
                "differs",
                &row.instance_id,
                status,
                d.field,
                &d.declared,
                &d.observed,
                detail,
            ]);
        }
        let rest: Vec<String> = findings(row)
            .into_iter()
            .filter(|f| !row.differences.iter().any(|d| f.starts_with(d.field)))
            .collect();
        if !rest.is_empty() || row.differences.is_empty() {
            line([
                "instance",
                &row.instance_id,
                status,
                "",
                "",
                "",
                &rest.join("; "),
            ]);
        }
    }
    for c in &r.cases {
        for who in &c.instances {
            line(["case", who, "", &c.id, &c.level, "fail", ""]);
        }
    }
    for u in &r.unreadable {
        line(["unreadable", "", "", "", "", "", u]);
    }
    out
}

/// Markdown cell text: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = format!(
        "**{}**\n\n| total | count |\n| --- | ---: |\n",
        cell(&verdict(r))
    );
    for (name, n) in totals_rows(r) {
        let _ = writeln!(out, "| {} | {n} |", name.trim());
    }
    if !r.instances.is_empty() {
        out.push_str("\n| instance | differs | findings |\n| --- | --- | --- |\n");
        for row in &r.instances {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                cell(&row.instance_id),
                if row.differs() { "yes" } else { "no" },
                cell(&findings(row).join("; "))
            );
        }
    }
    if !r.cases.is_empty() {
        out.push_str(
            "\n| case | level | instances failing | which |\n| --- | --- | ---: | --- |\n",
        );
        for c in &r.cases {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                cell(&c.id),
                cell(&c.level),
                c.count,
                cell(&c.instances.join(" "))
            );
        }
    }
    if !r.unreadable.is_empty() {
        out.push_str("\nUnreadable inputs:\n\n");
        for u in &r.unreadable {
            let _ = writeln!(out, "- `{}`", u.replace('`', "'"));
        }
    }
    out
}
