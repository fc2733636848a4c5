//! The report as human text, JSON (`imdspec-fleet/1`), CSV (a `kind` column: instances with
//! every option's declared/observed pair, cases, unreadable inputs) or Markdown (totals,
//! instances, cases). Every format carries the same counts; [`headline`] is the same
//! sentence in human text and Markdown.

use std::fmt::Write as _;
use std::io::{self, Write};

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
    to_string(|out| render_to(r, format, out))
}

/// Writes `r` in `format` to `out`, one instance at a time (a large fleet's report is never
/// held whole).
pub fn render_to(r: &Report, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Human => human_to(r, out),
        Format::Json => json_to(r, out),
        Format::Csv => csv_to(r, out),
        Format::Markdown => markdown_to(r, out),
    }
}

fn to_string(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec does not fail.
    let _ = write(&mut buf);
    String::from_utf8(buf).unwrap_or_default()
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

/// The headline: counts only, so it is true of every input, with or without `--declared`.
pub fn headline(r: &Report) -> String {
    let t = &r.totals;
    let compared = if r.declared {
        format!("{} differ from the control plane's options", t.differ)
    } else {
        "not compared with the control plane (no --declared)".to_owned()
    };
    let mut out = format!(
        "FLEET: {} instance(s): {} IMDSv1 open, {} IMDSv2 required, {} endpoint off, {} no answer, \
         {} unclear, {} not probed; {compared}; {} need attention",
        t.instances,
        t.imdsv1_open,
        t.imdsv2_required,
        t.endpoint_off,
        t.no_answer,
        t.unclear,
        t.not_probed,
        t.attention,
    );
    if !r.cases.is_empty() {
        out.push_str(&format!("; {} failing conformance case(s)", r.cases.len()));
    }
    if t.unreadable > 0 {
        out.push_str(&format!("; {} input(s) unreadable", t.unreadable));
    }
    out
}

/// What the instance list's mark means.
pub const LEGEND: &str = "Legend: ! needs attention (exit 1): an option differs from the control plane, \
     no answer, a running instance not probed, or an instance unknown to the control plane. \
     Unmarked lines are for information (IMDSv1 open as declared, hop limit, a stopped instance \
     not probed, duplicates).";

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
        ("need attention", t.attention),
        ("probe outputs without instance id", t.without_instance_id),
        ("run reports", t.run_reports),
        ("files read", t.files),
        ("unreadable", t.unreadable),
    ]
}

/// Human text.
pub fn human(r: &Report) -> String {
    to_string(|out| human_to(r, out))
}

fn human_to(r: &Report, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "{}", headline(r))?;
    let width = r.instances().map(|x| x.instance_id.chars().count()).max();
    if let Some(width) = width {
        writeln!(w, "\n{LEGEND}")?;
        for row in r.instances() {
            let mark = if row.differs() { "!" } else { " " };
            writeln!(
                w,
                "{mark} {:<width$}  {}",
                row.instance_id,
                findings(&row).join("; ")
            )?;
        }
    }
    let mut out = String::new();
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
    w.write_all(out.as_bytes())
}

/// The JSON document, pretty-printed, with a final newline.
pub fn json(r: &Report) -> String {
    to_string(|out| json_to(r, out))
}

fn json_to(r: &Report, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, r)?;
    w.write_all(b"\n")
}

/// A CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// CSV, one header for three row kinds (the `kind` column): `instance` (one per listed
/// instance, with every option's declared/observed pair), `case` (a failing conformance case
/// on one instance) and `unreadable` (an input, in `detail`).
pub fn csv(r: &Report) -> String {
    to_string(|out| csv_to(r, out))
}

fn csv_to(r: &Report, w: &mut dyn Write) -> io::Result<()> {
    let options = imds_model::PartialOptions::FIELDS;
    let mut header = vec![
        "kind".to_owned(),
        "instance_id".into(),
        "status".into(),
        "attention".into(),
        "differs".into(),
        "hop_limited".into(),
        "pending".into(),
        "instance_state".into(),
    ];
    for f in options {
        header.push(format!("{f}_declared"));
        header.push(format!("{f}_observed"));
    }
    header.extend(["case".into(), "level".into(), "detail".into()]);
    let width = header.len();
    let mut line = |cols: Vec<String>| -> io::Result<()> {
        let cols: Vec<String> = cols.iter().map(|c| field(c)).collect();
        writeln!(w, "{}", cols.join(","))
    };
    line(header)?;
    let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
    // A row of `kind` with the given columns set and the rest empty.
    let row = |kind: &str, set: &[(usize, String)]| {
        let mut cols = vec![String::new(); width];
        cols[0] = kind.to_owned();
        for (i, v) in set {
            cols[*i] = v.clone();
        }
        cols
    };
    let (case, level, detail) = (width - 3, width - 2, width - 1);
    for x in r.instances() {
        let mut cols = row(
            "instance",
            &[
                (1, x.instance_id.clone()),
                (2, x.status.as_str().to_owned()),
                (3, yes(x.differs())),
                (4, yes(!x.differences.is_empty())),
                (5, yes(x.hop_limited)),
                (6, yes(x.pending)),
                (7, x.instance_state.clone().unwrap_or_default()),
                (detail, findings(&x).join("; ")),
            ],
        );
        for (i, pair) in x.options.iter().enumerate() {
            cols[8 + 2 * i] = pair.declared.clone().unwrap_or_default();
            cols[9 + 2 * i] = pair.observed.clone().unwrap_or_default();
        }
        line(cols)?;
    }
    for c in &r.cases {
        for who in &c.instances {
            line(row(
                "case",
                &[
                    (1, who.clone()),
                    (case, c.id.clone()),
                    (level, c.level.clone()),
                ],
            ))?;
        }
    }
    for u in &r.unreadable {
        line(row("unreadable", &[(detail, u.clone())]))?;
    }
    Ok(())
}

/// Markdown cell text: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Markdown.
pub fn markdown(r: &Report) -> String {
    to_string(|out| markdown_to(r, out))
}

fn markdown_to(r: &Report, w: &mut dyn Write) -> io::Result<()> {
    let mut out = format!(
        "**{}**\n\n| total | count |\n| --- | ---: |\n",
        cell(&headline(r))
    );
    for (name, n) in totals_rows(r) {
        let _ = writeln!(out, "| {} | {n} |", name.trim());
    }
    let mut rows = r.instances().peekable();
    if rows.peek().is_some() {
        let _ = write!(
            out,
            "\n{}\n\n| instance | attention | findings |\n| --- | --- | --- |\n",
            cell(LEGEND)
        );
        w.write_all(out.as_bytes())?;
        out.clear();
        for row in rows {
            writeln!(
                w,
                "| `{}` | {} | {} |",
                cell(&row.instance_id),
                if row.differs() { "! yes" } else { "no" },
                cell(&findings(&row).join("; "))
            )?;
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
    w.write_all(out.as_bytes())
}
