//! Results and their renderings: human text, versioned JSON, JUnit XML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use imds_model::PartialOptions;

use crate::Level;

/// The JSON report schema version. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// What happened to one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The endpoint behaves as the rule says.
    Pass,
    /// It does not.
    Fail,
    /// The case does not apply to this target's options or content.
    Skip,
    /// The case could not be run (timeout, connection refused, oversized body, deadline).
    Error,
    /// The case could not be checked because of what the endpoint did (the token PUT never
    /// answered while tokenless GETs did, answers that contradict each other): neither a pass
    /// nor a failure, and never green.
    Inconclusive,
    /// Failed, and listed as a known failure for this target.
    Xfail,
    /// Passed although listed as a known failure: the expectations file is out of date.
    Xpass,
}

impl Outcome {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Xfail => "xfail",
            Outcome::Xpass => "xpass",
        }
    }
}

/// One unmet expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The step (1-based) for data cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// What was checked (`status`, `header x-…`, `body.listing`, a path, …).
    pub check: String,
    /// What the rule wants.
    pub expected: String,
    /// What the endpoint did (secrets redacted).
    pub observed: String,
}

/// A request as sent (secrets redacted).
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers as `[name, value]`.
    pub headers: Vec<(String, String)>,
}

/// A response as received (secrets redacted, body cut to a few KiB).
#[derive(Clone, Debug, Serialize)]
pub struct ResponseRecord {
    /// Status.
    pub status: u16,
    /// Non-canonical reason phrase, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// HTTP version.
    pub version: String,
    /// Headers as `[name, value]`.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
    /// Body length in bytes.
    pub body_bytes: usize,
    /// True when `body` was cut.
    pub body_truncated: bool,
}

/// One request/response exchange.
#[derive(Clone, Debug, Serialize)]
pub struct ExchangeRecord {
    /// The step (1-based) for data cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The request.
    pub request: RequestRecord,
    /// The response, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    /// Why there was no response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds taken.
    pub elapsed_ms: u64,
}

/// Expected vs observed, and the exchange.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Detail {
    /// What the case expects, one line per step or rule.
    pub expected: Vec<String>,
    /// Unmet expectations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
    /// Notes (fallbacks taken, caps hit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The wire exchange (every case with `--detail all`, otherwise non-passing ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exchanges: Vec<ExchangeRecord>,
}

/// The result of one case against one target.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Case id.
    pub id: String,
    /// The target (run) name.
    pub target: String,
    /// Level.
    pub level: Level,
    /// Area.
    pub area: String,
    /// Outcome.
    pub outcome: Outcome,
    /// The case's one-line summary.
    pub summary: String,
    /// AWS documentation URL.
    pub doc: String,
    /// Spec section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Why: skip reason, error message, or the expectations entry for xfail/xpass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Milliseconds taken.
    pub duration_ms: u64,
    /// Expected vs observed.
    pub detail: Detail,
    /// The cause this result shares with others (see [`cause_of`]): the failing request and
    /// what it got, or the reason a case could not be checked. `None` for passes and skips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The cause a non-passing result shares with others, used as its group id: the failing
/// request and its answer (`GET /latest/meta-data/instance-id → 500`), with the failed check
/// when it is not the status (`… → 200: header x-aws-ec2-metadata-token-ttl-seconds`); for a
/// case that could not run or be checked, its reason. `None` when the result is not a
/// failure of any kind.
pub fn cause_of(c: &CaseResult) -> Option<String> {
    match c.outcome {
        Outcome::Pass | Outcome::Skip | Outcome::Xfail => None,
        Outcome::Xpass => Some(format!("known failure passed: {}", c.id)),
        Outcome::Error | Outcome::Inconclusive => Some(
            c.reason
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| c.id.clone()),
        ),
        Outcome::Fail => {
            let Some(f) = c.detail.failures.first() else {
                return Some(c.id.clone());
            };
            // Checks written in code name the path they looked at as the check.
            let what = if f.check == "status" || f.check.starts_with('/') {
                String::new()
            } else {
                format!(": {}", f.check)
            };
            Some(match failing_exchange(c, f) {
                // HEAD meets the same fault as GET on the same path.
                Some(x) => format!("{}{what}", exchange_line(x)).replacen("HEAD ", "GET ", 1),
                None if f.check.starts_with('/') => {
                    let got = f.observed.strip_prefix("status ").unwrap_or(&f.observed);
                    format!("GET {} → {}", f.check, one_line(got))
                }
                None => format!("{}: {}", f.check, one_line(&f.observed)),
            })
        }
    }
}

/// Something a run could not check, why, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// What could not be checked, and what the endpoint did.
    pub what: String,
    /// The cases left inconclusive by it.
    pub cases: Vec<String>,
    /// The likely causes, each with its fix.
    pub causes: Vec<Cause>,
}

/// One likely cause of something a run could not check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// The cause.
    pub cause: String,
    /// What fixes it.
    pub fix: String,
}

/// The verdict of a whole report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// Nothing fails the run, and everything that counts was checked.
    Pass,
    /// A case that counts failed or errored, or a known failure passed.
    Fail,
    /// Nothing failed, but a case that counts could not be checked (see [`Unchecked`]).
    Inconclusive,
}

/// Exit code of an INCONCLUSIVE run (0 PASS, 1 FAIL; 2 and 3 come before a report exists).
pub const EXIT_INCONCLUSIVE: u8 = 4;

impl Verdict {
    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Inconclusive => EXIT_INCONCLUSIVE,
        }
    }

    /// The upper-case word.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Skipped.
    pub skip: usize,
    /// Could not be run.
    pub error: usize,
    /// Could not be checked because of what the endpoint did.
    pub inconclusive: usize,
    /// Known failures.
    pub xfail: usize,
    /// Unexpected passes.
    pub xpass: usize,
    /// All cases.
    pub total: usize,
}

impl Summary {
    /// Counts these results.
    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Summary {
        let mut s = Summary::default();
        for c in cases {
            s.add(c.outcome);
        }
        s
    }

    fn add(&mut self, o: Outcome) {
        self.total += 1;
        match o {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Error => self.error += 1,
            Outcome::Inconclusive => self.inconclusive += 1,
            Outcome::Xfail => self.xfail += 1,
            Outcome::Xpass => self.xpass += 1,
        }
    }
}

/// The target of one run.
#[derive(Clone, Debug, Serialize)]
pub struct TargetInfo {
    /// Run name (`endpoint`, or the embedded profile: `optional`, `required`, …).
    pub name: String,
    /// Base URL.
    pub endpoint: String,
    /// What `embedded` means here, or null for a user-given endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Options declared on the command line.
    pub declared: PartialOptions,
    /// Options detected from the endpoint's answers.
    pub detected: PartialOptions,
    /// Options used to decide which cases apply (declared, else detected where the answers
    /// prove it: a value they only make likely, such as tags from a 404, is left out).
    pub effective: PartialOptions,
    /// The expectations file used, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectations: Option<String>,
}

/// One run against one target.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// The target.
    pub target: TargetInfo,
    /// Counts.
    pub summary: Summary,
    /// Expectation entries that match no case.
    pub stale_expectations: Vec<String>,
    /// Run-level notes (throttling, fallbacks, caps).
    pub notes: Vec<String>,
    /// What could not be checked, with likely causes and fixes.
    pub unchecked: Vec<Unchecked>,
    /// Milliseconds taken.
    pub duration_ms: u64,
    /// Case results, by id.
    pub cases: Vec<CaseResult>,
}

/// A whole `imdspec run` (or `client-check`): one or more runs (the embedded default runs
/// one per profile).
#[derive(Clone, Debug)]
pub struct Report {
    /// The command that made the report (`imdspec run`, `imdspec client-check`): names the
    /// JUnit report and the human verdict line, and is `command` in the JSON.
    pub command: &'static str,
    /// The runs.
    pub runs: Vec<RunResult>,
    /// `--strict`: should-level failures fail the run too.
    pub strict: bool,
}

#[derive(Serialize)]
struct JsonRun<'a> {
    target: &'a TargetInfo,
    summary: Summary,
    stale_expectations: &'a [String],
    notes: &'a [String],
    #[serde(skip_serializing_if = "<[Unchecked]>::is_empty")]
    unchecked: &'a [Unchecked],
    duration_ms: u64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: String,
    command: &'a str,
    strict: bool,
    verdict: Verdict,
    exit_code: u8,
    summary: Summary,
    target: serde_json::Value,
    runs: Vec<JsonRun<'a>>,
    cases: Vec<&'a CaseResult>,
}

impl Report {
    /// All case results of all runs.
    pub fn cases(&self) -> impl Iterator<Item = &CaseResult> {
        self.runs.iter().flat_map(|r| r.cases.iter())
    }

    /// Counts over all runs.
    pub fn summary(&self) -> Summary {
        Summary::of(self.cases())
    }

    /// True when this case's level decides the verdict: must, and should with `--strict`.
    pub fn counts(&self, c: &CaseResult) -> bool {
        c.level == Level::Must || (self.strict && c.level == Level::Should)
    }

    /// True when this result fails the run.
    pub fn is_failing(&self, c: &CaseResult) -> bool {
        match c.outcome {
            Outcome::Xpass => true,
            Outcome::Fail | Outcome::Error => self.counts(c),
            _ => false,
        }
    }

    /// True when this result keeps the run from passing without failing it.
    pub fn is_inconclusive(&self, c: &CaseResult) -> bool {
        c.outcome == Outcome::Inconclusive && self.counts(c)
    }

    /// FAIL when a result fails the run, else INCONCLUSIVE when one that counts could not be
    /// checked, else PASS.
    pub fn verdict(&self) -> Verdict {
        if self.cases().any(|c| self.is_failing(c)) {
            Verdict::Fail
        } else if self.cases().any(|c| self.is_inconclusive(c)) {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        }
    }

    /// 0 PASS, 1 FAIL, [`EXIT_INCONCLUSIVE`] INCONCLUSIVE (2 and 3 are decided before a
    /// report exists).
    pub fn exit_code(&self) -> u8 {
        self.verdict().exit_code()
    }

    /// The JSON report (schema version [`SCHEMA_VERSION`]).
    pub fn to_json_value(&self) -> serde_json::Value {
        let target = match self.runs.as_slice() {
            [one] => serde_json::to_value(&one.target).unwrap_or_default(),
            runs => serde_json::json!({
                "name": "embedded",
                "endpoint": "embedded",
                "description": "the reference server, started in-process once per profile",
                "profiles": runs.iter().map(|r| r.target.name.clone()).collect::<Vec<_>>(),
            }),
        };
        let report = JsonReport {
            version: SCHEMA_VERSION,
            // Every crate has the workspace's version, so this is imdspec's.
            tool: format!("imdspec {}", env!("CARGO_PKG_VERSION")),
            command: self.command,
            strict: self.strict,
            verdict: self.verdict(),
            exit_code: self.exit_code(),
            summary: self.summary(),
            target,
            runs: self
                .runs
                .iter()
                .map(|r| JsonRun {
                    target: &r.target,
                    summary: r.summary,
                    stale_expectations: &r.stale_expectations,
                    notes: &r.notes,
                    unchecked: &r.unchecked,
                    duration_ms: r.duration_ms,
                })
                .collect(),
            cases: self.cases().collect(),
        };
        serde_json::to_value(&report).unwrap_or_default()
    }

    /// The JSON report as pretty text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.to_json_value()).unwrap_or_default() + "\n"
    }

    /// JUnit XML: one testsuite per target and area, one testcase per case.
    /// fail → failure, error → error, skip → skipped, xfail → skipped (message says
    /// "expected failure"), xpass → failure ("unexpected pass"), inconclusive → error of type
    /// `inconclusive` when its level decides the verdict (JUnit readers treat `skipped` as
    /// green), else skipped with the reason. Info-level failures are
    /// reported as passing test cases with the failure in system-out, since they never fail
    /// a run; should-level ones likewise unless `--strict`.
    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
        let mut report = JReport::new(self.command);
        for run in &self.runs {
            let mut by_area: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
            for c in &run.cases {
                by_area.entry(&c.area).or_default().push(c);
            }
            for (area, cases) in by_area {
                let mut suite = TestSuite::new(format!("{}.{area}", run.target.name));
                for c in cases {
                    let text = failure_text(c);
                    let status = match c.outcome {
                        Outcome::Pass => TestCaseStatus::success(),
                        Outcome::Skip => {
                            let mut s = TestCaseStatus::skipped();
                            s.set_message(c.reason.clone().unwrap_or_default());
                            s
                        }
                        Outcome::Xfail => {
                            let mut s = TestCaseStatus::skipped();
                            s.set_message(format!(
                                "expected failure: {}",
                                c.reason.clone().unwrap_or_default()
                            ));
                            s.set_description(text.clone());
                            s
                        }
                        // JUnit readers (Jenkins, GitLab, GitHub test reporters, Azure
                        // DevOps) count `skipped` as not failing, so a run that could not be
                        // checked would look green; `error` is red everywhere.
                        Outcome::Inconclusive if self.is_inconclusive(c) => {
                            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                            s.set_message(format!(
                                "inconclusive: {}",
                                c.reason.clone().unwrap_or_default()
                            ));
                            s.set_type("inconclusive");
                            s.set_description(text.clone());
                            s
                        }
                        Outcome::Inconclusive => {
                            let mut s = TestCaseStatus::skipped();
                            s.set_message(format!(
                                "inconclusive ({}-level, does not decide the run): {}",
                                c.level,
                                c.reason.clone().unwrap_or_default()
                            ));
                            s
                        }
                        Outcome::Fail | Outcome::Error | Outcome::Xpass if self.is_failing(c) => {
                            let kind = if c.outcome == Outcome::Error {
                                NonSuccessKind::Error
                            } else {
                                NonSuccessKind::Failure
                            };
                            let mut s = TestCaseStatus::non_success(kind);
                            let msg = match c.outcome {
                                Outcome::Xpass => format!(
                                    "unexpected pass (listed as known failure: {})",
                                    c.reason.clone().unwrap_or_default()
                                ),
                                _ => c.reason.clone().unwrap_or_else(|| c.summary.clone()),
                            };
                            s.set_message(msg);
                            s.set_type(c.level.to_string());
                            s.set_description(text.clone());
                            s
                        }
                        _ => TestCaseStatus::success(),
                    };
                    let mut tc = TestCase::new(c.id.clone(), status);
                    tc.set_classname(format!("{}.{}", run.target.name, c.area));
                    tc.set_time(std::time::Duration::from_millis(c.duration_ms));
                    if matches!(c.outcome, Outcome::Fail | Outcome::Error) && !self.is_failing(c) {
                        tc.set_system_out(format!(
                            "{} ({}-level, does not fail the run)\n{text}",
                            c.outcome.as_str(),
                            c.level
                        ));
                    }
                    suite.add_test_case(tc);
                }
                report.add_test_suite(suite);
            }
        }
        report.to_string().unwrap_or_default()
    }

    /// Human-readable results: per target, grouped by area, non-passing cases with expected
    /// vs observed, and a summary line.
    pub fn to_human(&self, color: bool) -> String {
        self.to_human_with(HumanStyle {
            color,
            options: true,
            exchanges: false,
        })
    }

    /// [`Report::to_human`] in a given style (`exchanges` for `--detail all`).
    pub fn to_human_with(&self, style: HumanStyle) -> String {
        self.human_runs(style) + &self.human_verdict(style.color)
    }

    /// The verdict line that ends [`Report::to_human`]. A passing verdict next to failures
    /// that do not fail the run says how many there are and why they do not count.
    pub fn human_verdict(&self, color: bool) -> String {
        let s = self.summary();
        let verdict = match self.verdict() {
            Verdict::Pass => {
                let tolerated = |level: Level| {
                    self.cases()
                        .filter(|c| {
                            c.level == level
                                && matches!(
                                    c.outcome,
                                    Outcome::Fail | Outcome::Error | Outcome::Inconclusive
                                )
                        })
                        .count()
                };
                let plural = |n: usize| if n == 1 { "failure" } else { "failures" };
                let mut why = Vec::new();
                let should = tolerated(Level::Should);
                if should > 0 && !self.strict {
                    why.push(format!(
                        "{should} should-level {}; --strict makes them fail",
                        plural(should)
                    ));
                }
                let info = tolerated(Level::Info);
                if info > 0 {
                    why.push(format!(
                        "{info} info-level {}; informational, never fail a run",
                        plural(info)
                    ));
                }
                let pass = ansi(color, "1;32", "PASS");
                if why.is_empty() {
                    pass
                } else {
                    format!("{pass} ({})", why.join("; "))
                }
            }
            Verdict::Fail => ansi(color, "1;31", "FAIL"),
            Verdict::Inconclusive => format!(
                "{} (nothing failed, but {} could not be checked; see \"could not check\" above)",
                ansi(color, "1;33", "INCONCLUSIVE"),
                plural_cases(self.cases().filter(|c| self.is_inconclusive(c)).count())
            ),
        };
        format!(
            "{}: {verdict}: {} target(s), {}{}\n",
            self.command,
            self.runs.len(),
            counts_by_level(&s, self.cases()),
            if self.strict { " (strict)" } else { "" }
        )
    }

    /// [`Report::to_human`] without the verdict line: one block per run, each ending with
    /// an empty line, so a caller can add its own section before the verdict.
    ///
    /// Failures are grouped by cause ([`CaseResult::group`]): the group most likely at the
    /// root comes first (a contradicted declared option, then the highest level, then the
    /// most cases), shown by one case in full with the request and response that show it,
    /// then the other cases of the group as a count with their ids. `--detail all` lists every
    /// case by area instead.
    pub fn human_runs(&self, style: HumanStyle) -> String {
        let paint = |code: &str, s: &str| ansi(style.color, code, s);
        let mut out = String::new();
        for run in &self.runs {
            let t = &run.target;
            let _ = writeln!(out, "{} {} ({})", paint("1", "target"), t.name, t.endpoint);
            if let Some(d) = &t.description {
                let _ = writeln!(out, "  {d}");
            }
            if style.options {
                let _ = writeln!(out, "  declared:  {}", t.declared.describe());
                let _ = writeln!(out, "  detected:  {}", t.detected.describe());
            }
            if let Some(e) = &t.expectations {
                let _ = writeln!(out, "  expectations: {e}");
            }
            let mut by_area: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
            for c in &run.cases {
                by_area.entry(&c.area).or_default().push(c);
            }
            for (area, cases) in by_area {
                let s = Summary::of(cases.iter().copied());
                let _ = writeln!(out, "  {:<16} {}", area, counts(&s));
                if style.exchanges {
                    for c in cases {
                        self.write_case(&mut out, c, style, false);
                    }
                }
            }
            if !style.exchanges {
                self.write_groups(&mut out, run, style);
                let mut by_reason: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
                for c in run.cases.iter().filter(|c| c.outcome == Outcome::Xfail) {
                    by_reason
                        .entry(c.reason.as_deref().unwrap_or("(no reason given)"))
                        .or_default()
                        .push(c);
                }
                if !by_reason.is_empty() {
                    let _ = writeln!(out, "  known failures (xfail), by reason:");
                }
                for (reason, cases) in by_reason {
                    let _ = writeln!(out, "    {reason}");
                    for c in cases {
                        let _ = writeln!(
                            out,
                            "      {} {:<6} {}",
                            outcome_word(style.color, c.outcome, false),
                            c.level.to_string(),
                            c.id
                        );
                    }
                }
            }
            if !run.unchecked.is_empty() {
                let _ = writeln!(out, "  {}", paint("1;33", "could not check:"));
            }
            for u in &run.unchecked {
                let _ = writeln!(out, "    {}", u.what);
                let _ = writeln!(
                    out,
                    "      {}: {}",
                    plural_cases(u.cases.len()),
                    ids_line(&u.cases)
                );
                let _ = writeln!(out, "      likely causes, and the fix for each:");
                for c in &u.causes {
                    let _ = writeln!(out, "      - {}", c.cause);
                    let _ = writeln!(out, "        fix: {}", c.fix);
                }
            }
            for n in &run.notes {
                let _ = writeln!(out, "  note: {n}");
            }
            for s in &run.stale_expectations {
                let _ = writeln!(out, "  {} {s}", paint("33", "stale expectation:"));
            }
            let _ = writeln!(
                out,
                "  {}: {} in {:.2} s\n",
                t.name,
                counts_by_level(&run.summary, &run.cases),
                run.duration_ms as f64 / 1000.0
            );
        }
        out
    }

    /// The non-passing results of `run` by cause, the likely root first.
    fn write_groups(&self, out: &mut String, run: &RunResult, style: HumanStyle) {
        let mut groups: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
        for c in &run.cases {
            let Some(g) = c.group.as_deref() else {
                continue;
            };
            match groups.iter_mut().find(|(k, _)| *k == g) {
                Some((_, cases)) => cases.push(c),
                None => groups.push((g, vec![c])),
            }
        }
        // Within a group, the case that explains it best leads: a declared option, then the
        // highest level, then catalogue order (kept by the stable sort).
        let rank = |c: &CaseResult| (c.area != "options", level_rank(c.level));
        for (_, cases) in &mut groups {
            cases.sort_by_key(|c| rank(c));
        }
        groups.sort_by_key(|(_, cases)| (rank(cases[0]), std::cmp::Reverse(cases.len())));
        if groups.is_empty() {
            return;
        }
        let _ = writeln!(out, "  failures by cause (likely root first):");
        for (n, (cause, cases)) in groups.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {} {cause} ({})",
                ansi(style.color, "1", &format!("cause {}:", n + 1)),
                level_split(cases.iter().copied())
            );
            self.write_case(out, cases[0], style, true);
            if let [_, rest @ ..] = cases.as_slice()
                && !rest.is_empty()
            {
                let ids: Vec<String> = rest.iter().map(|c| c.id.clone()).collect();
                let _ = writeln!(
                    out,
                    "      and {} with the same cause: {}",
                    plural_cases(rest.len()),
                    ids_line(&ids)
                );
            }
        }
    }

    /// One case: its outcome line, reason, failures and (for a group's root, or with
    /// `--detail all`) the exchanges that show them.
    fn write_case(&self, out: &mut String, c: &CaseResult, style: HumanStyle, root: bool) {
        let _ = writeln!(
            out,
            "    {} {:<6} {}  {}",
            outcome_word(style.color, c.outcome, self.is_failing(c)),
            c.level.to_string(),
            c.id,
            c.summary
        );
        if let Some(r) = &c.reason {
            let _ = writeln!(out, "        {r}");
        }
        for f in c.detail.failures.iter().take(8) {
            let step = f.step.map(|s| format!("step {s} ")).unwrap_or_default();
            let _ = writeln!(out, "        {step}{}", f.check);
            if let Some(x) = failing_exchange(c, f) {
                let _ = writeln!(out, "          request:  {}", exchange_line(x));
                if root && let Some(r) = &x.response {
                    let _ = writeln!(out, "          response: {}", response_line(r));
                }
            }
            let _ = writeln!(out, "          expected: {}", one_line(&f.expected));
            let _ = writeln!(out, "          observed: {}", one_line(&f.observed));
        }
        if c.detail.failures.len() > 8 {
            let _ = writeln!(out, "        … {} more", c.detail.failures.len() - 8);
        }
        if root && c.detail.failures.is_empty() {
            // No failure to point at (an error, an inconclusive case): its last exchange.
            if let Some(x) = c.detail.exchanges.last() {
                let _ = writeln!(out, "          request:  {}", exchange_line(x));
                if let Some(r) = &x.response {
                    let _ = writeln!(out, "          response: {}", response_line(r));
                }
            }
        }
        if style.exchanges {
            for x in &c.detail.exchanges {
                write_exchange(out, x);
            }
        }
        if matches!(
            c.outcome,
            Outcome::Fail | Outcome::Xpass | Outcome::Error | Outcome::Inconclusive
        ) {
            if let Some(spec) = &c.spec {
                let _ = writeln!(out, "        spec: SPEC.md {spec}");
            }
            if matches!(c.outcome, Outcome::Fail | Outcome::Xpass) {
                let _ = writeln!(out, "        doc: {}", c.doc);
            }
        }
    }
}

/// Fails at once when `path` cannot be written (no such directory, a directory, read-only),
/// so a long run is not wasted on a report that has nowhere to go. An existing file is left
/// as it is; a new one is created and removed again.
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        std::fs::remove_file(path)
    }
}

/// What [`Report::human_runs`] prints besides the results.
#[derive(Clone, Copy, Debug)]
pub struct HumanStyle {
    /// ANSI colours.
    pub color: bool,
    /// Each run's `declared:` and `detected:` option lines (client-check has none: every
    /// scenario sets its own).
    pub options: bool,
    /// `--detail all`: every case with its request/response exchanges, and known failures
    /// in full rather than one line each.
    pub exchanges: bool,
}

/// The exchange a failure is about: the one of its step, or the case's only exchange.
fn failing_exchange<'a>(c: &'a CaseResult, f: &Failure) -> Option<&'a ExchangeRecord> {
    match f.step {
        Some(step) => c
            .detail
            .exchanges
            .iter()
            .rev()
            .find(|x| x.step == Some(step)),
        None => match c.detail.exchanges.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    }
}

/// `GET /latest/meta-data/ → 404`, or why there was no response.
fn exchange_line(x: &ExchangeRecord) -> String {
    let request = format!("{} {}", x.request.method, x.request.path);
    match (&x.response, &x.error) {
        (Some(r), _) => format!("{request} → {}", r.status),
        (None, Some(e)) => format!("{request} → no response ({})", one_line(e)),
        (None, None) => format!("{request} → no response"),
    }
}

/// One exchange in full (`--detail all`): request line and headers, status, headers, body.
fn write_exchange(out: &mut String, x: &ExchangeRecord) {
    let step = x.step.map(|s| format!("step {s}: ")).unwrap_or_default();
    let _ = writeln!(
        out,
        "        {step}> {} {}",
        x.request.method, x.request.path
    );
    for (n, v) in &x.request.headers {
        let _ = writeln!(out, "            > {n}: {}", one_line(v));
    }
    match &x.response {
        Some(r) => {
            let reason = r
                .reason
                .as_deref()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "          < {} {}{reason} ({} ms)",
                r.version, r.status, x.elapsed_ms
            );
            for (n, v) in &r.headers {
                let _ = writeln!(out, "            < {n}: {}", one_line(v));
            }
            if !r.body.is_empty() {
                let cut = if r.body_truncated { " (cut)" } else { "" };
                let _ = writeln!(
                    out,
                    "            < body, {} bytes{cut}: {}",
                    r.body_bytes,
                    one_line(&r.body)
                );
            }
        }
        None => {
            let e = x.error.as_deref().unwrap_or("no response");
            let _ = writeln!(out, "          < {} ({} ms)", one_line(e), x.elapsed_ms);
        }
    }
}

/// `s` in the ANSI style `code` when `color` is on.
fn ansi(color: bool, code: &str, s: &str) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_owned()
    }
}

fn counts(s: &Summary) -> String {
    format!(
        "{} pass, {} fail, {} skip, {} error, {} inconclusive, {} xfail, {} xpass",
        s.pass, s.fail, s.skip, s.error, s.inconclusive, s.xfail, s.xpass
    )
}

/// [`counts`] with failures, errors and inconclusive cases split by level:
/// `22 fail (3 must, 12 should, 7 info)`.
fn counts_by_level<'a>(s: &Summary, cases: impl IntoIterator<Item = &'a CaseResult>) -> String {
    let cases: Vec<&CaseResult> = cases.into_iter().collect();
    let split = |n: usize, o: Outcome| {
        if n == 0 {
            format!("{n} {}", o.as_str())
        } else {
            let of = cases.iter().copied().filter(|c| c.outcome == o);
            format!("{n} {} ({})", o.as_str(), level_split(of))
        }
    };
    format!(
        "{} pass, {}, {} skip, {}, {}, {} xfail, {} xpass",
        s.pass,
        split(s.fail, Outcome::Fail),
        s.skip,
        split(s.error, Outcome::Error),
        split(s.inconclusive, Outcome::Inconclusive),
        s.xfail,
        s.xpass
    )
}

/// `3 must, 12 should, 7 info` (levels with none left out).
fn level_split<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> String {
    let mut n = [0usize; 3];
    for c in cases {
        n[level_rank(c.level)] += 1;
    }
    [Level::Must, Level::Should, Level::Info]
        .iter()
        .zip(n)
        .filter(|(_, k)| *k > 0)
        .map(|(l, k)| format!("{k} {l}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn level_rank(l: Level) -> usize {
    match l {
        Level::Must => 0,
        Level::Should => 1,
        Level::Info => 2,
    }
}

fn plural_cases(n: usize) -> String {
    format!("{n} case{}", if n == 1 { "" } else { "s" })
}

/// Ids joined by commas, the first 12 of them.
fn ids_line(ids: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut line = ids
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        let _ = write!(line, ", … {} more", ids.len() - SHOWN);
    }
    line
}

/// `404, content-type: text/html, 339 bytes: <?xml …` on one line.
fn response_line(r: &ResponseRecord) -> String {
    let mut line = r.status.to_string();
    if let Some((_, ct)) = r
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        let _ = write!(line, ", content-type: {}", one_line(ct));
    }
    let _ = write!(line, ", {} bytes", r.body_bytes);
    if !r.body.is_empty() {
        let _ = write!(line, ": {}", one_line(&r.body));
    }
    line
}

/// An outcome, padded and coloured: red when it fails the run.
fn outcome_word(color: bool, o: Outcome, failing: bool) -> String {
    let w = format!("{:<5}", o.as_str());
    match o {
        Outcome::Pass => ansi(color, "32", &w),
        Outcome::Skip => ansi(color, "2", &w),
        Outcome::Xfail | Outcome::Inconclusive => ansi(color, "33", &w),
        _ if failing => ansi(color, "1;31", &w),
        _ => ansi(color, "33", &w),
    }
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c == '\n' { '⏎' } else { c })
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > 160 {
        format!("{}…", flat.chars().take(160).collect::<String>())
    } else {
        flat
    }
}

fn failure_text(c: &CaseResult) -> String {
    let mut s = String::new();
    if let Some(r) = &c.reason {
        let _ = writeln!(s, "{r}");
    }
    for f in &c.detail.failures {
        let step = f.step.map(|s| format!("step {s}: ")).unwrap_or_default();
        let _ = writeln!(
            s,
            "{step}{}: expected {}; observed {}",
            f.check,
            one_line(&f.expected),
            one_line(&f.observed)
        );
    }
    let _ = writeln!(s, "doc: {}", c.doc);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, level: Level, outcome: Outcome) -> CaseResult {
        CaseResult {
            id: id.into(),
            target: "t".into(),
            level,
            area: "a".into(),
            outcome,
            summary: "s".into(),
            doc: "https://x".into(),
            spec: None,
            reason: None,
            duration_ms: 0,
            detail: Detail::default(),
            group: None,
        }
    }

    fn report(mut cases: Vec<CaseResult>, strict: bool) -> Report {
        for c in &mut cases {
            c.group = cause_of(c);
        }
        let target = TargetInfo {
            name: "t".into(),
            endpoint: "http://127.0.0.1:1".into(),
            description: None,
            declared: PartialOptions::default(),
            detected: PartialOptions::default(),
            effective: PartialOptions::default(),
            expectations: None,
        };
        Report {
            command: "imdspec run",
            runs: vec![RunResult {
                target,
                summary: Summary::of(&cases),
                stale_expectations: Vec::new(),
                notes: Vec::new(),
                unchecked: Vec::new(),
                duration_ms: 0,
                cases,
            }],
            strict,
        }
    }

    #[test]
    fn exit_codes_follow_levels_and_strictness() {
        let should_fail = || vec![case("a.b", Level::Should, Outcome::Fail)];
        assert_eq!(report(should_fail(), false).exit_code(), 0);
        assert_eq!(report(should_fail(), true).exit_code(), 1);
        let info = || vec![case("a.b", Level::Info, Outcome::Error)];
        assert_eq!(report(info(), true).exit_code(), 0);
        assert_eq!(
            report(vec![case("a.b", Level::Must, Outcome::Error)], false).exit_code(),
            1
        );
        assert_eq!(
            report(vec![case("a.b", Level::Info, Outcome::Xpass)], false).exit_code(),
            1
        );
        assert_eq!(
            report(vec![case("a.b", Level::Must, Outcome::Xfail)], true).exit_code(),
            0
        );
    }

    #[test]
    fn human_parts_make_the_whole_and_can_drop_the_option_lines() {
        for color in [false, true] {
            let r = report(vec![case("a.fail", Level::Must, Outcome::Fail)], false);
            let full = HumanStyle {
                color,
                options: true,
                exchanges: false,
            };
            let whole = r.to_human(color);
            assert_eq!(whole, r.human_runs(full) + &r.human_verdict(color));
            assert!(r.human_verdict(color).starts_with("imdspec run: "));
            assert!(r.human_verdict(color).contains("FAIL"));
            let bare = r.human_runs(HumanStyle {
                color,
                options: false,
                exchanges: false,
            });
            let kept: String = whole
                .lines()
                .filter(|l| !(l.starts_with("  declared:  ") || l.starts_with("  detected:  ")))
                .map(|l| format!("{l}\n"))
                .collect();
            assert_eq!(bare + &r.human_verdict(color), kept);
            assert_ne!(kept, whole, "the option lines were there to drop");
        }
    }

    #[test]
    fn junit_maps_outcomes() {
        let r = report(
            vec![
                case("a.pass", Level::Must, Outcome::Pass),
                case("a.fail", Level::Must, Outcome::Fail),
                case("a.err", Level::Must, Outcome::Error),
                case("a.xfail", Level::Must, Outcome::Xfail),
                case("a.xpass", Level::Must, Outcome::Xpass),
                case("a.info", Level::Info, Outcome::Fail),
                case("a.skip", Level::Must, Outcome::Skip),
            ],
            false,
        );
        let xml = r.to_junit();
        assert_eq!(xml.matches("<failure").count(), 2, "{xml}");
        assert_eq!(xml.matches("<error").count(), 1, "{xml}");
        assert_eq!(xml.matches("<skipped").count(), 2, "{xml}");
        assert!(xml.contains("expected failure"), "{xml}");
        assert!(xml.contains("does not fail the run"), "{xml}");
        let json = r.to_json_value();
        assert_eq!(json["version"], SCHEMA_VERSION);
        assert_eq!(json["summary"]["xpass"], 1);
        assert_eq!(json["target"]["name"], "t");
        assert_eq!(json["cases"].as_array().map(Vec::len), Some(7));
        let human = r.to_human(false);
        assert!(human.contains("imdspec run: FAIL"), "{human}");
        assert!(!human.contains('\x1b'), "{human}");
        assert!(r.to_human(true).contains('\x1b'));
    }

    fn exchange(step: usize, method: &str, path: &str, status: u16) -> ExchangeRecord {
        ExchangeRecord {
            step: Some(step),
            request: RequestRecord {
                method: method.into(),
                path: path.into(),
                headers: vec![("x-aws-ec2-metadata-token-ttl-seconds".into(), "60".into())],
            },
            response: Some(ResponseRecord {
                status,
                reason: None,
                version: "HTTP/1.1".into(),
                headers: vec![("server".into(), "EC2ws".into())],
                body: "body-text".into(),
                body_bytes: 9,
                body_truncated: false,
            }),
            error: None,
            elapsed_ms: 3,
        }
    }

    #[test]
    fn failures_show_the_request_and_status_of_their_step_and_the_spec_section() {
        let mut c = case("listing.root", Level::Must, Outcome::Fail);
        c.spec = Some("§3.2".into());
        c.detail.exchanges = vec![
            exchange(1, "PUT", "/latest/api/token", 200),
            exchange(2, "GET", "/latest/meta-data/", 404),
        ];
        c.detail.failures = vec![Failure {
            step: Some(2),
            check: "status".into(),
            expected: "200".into(),
            observed: "404".into(),
        }];
        let human = report(vec![c], false).to_human(false);
        assert!(
            human.contains("request:  GET /latest/meta-data/ → 404"),
            "{human}"
        );
        assert!(!human.contains("PUT /latest/api/token"), "{human}");
        assert!(human.contains("spec: SPEC.md §3.2"), "{human}");
        // The root of a group shows its response on one line; exchanges in full (headers)
        // only with --detail all.
        assert!(
            human.contains("response: 404, 9 bytes: body-text"),
            "{human}"
        );
        assert!(!human.contains("EC2ws"), "{human}");
        let all = report(vec![case("a.pass", Level::Must, Outcome::Pass)], false);
        let mut with = all.clone();
        with.runs[0].cases[0].detail.exchanges = vec![exchange(1, "GET", "/latest/x", 200)];
        let style = HumanStyle {
            color: false,
            options: true,
            exchanges: true,
        };
        let text = with.to_human_with(style);
        assert!(text.contains("> GET /latest/x"), "{text}");
        assert!(text.contains("< HTTP/1.1 200"), "{text}");
        assert!(text.contains("body-text"), "{text}");
        assert!(!all.to_human(false).contains("a.pass"));
    }

    #[test]
    fn xfails_are_one_line_each_grouped_by_reason_unless_everything_is_shown() {
        let xfail = |id: &str, reason: &str| {
            let mut c = case(id, Level::Must, Outcome::Xfail);
            c.reason = Some(reason.into());
            c.detail.failures = vec![Failure {
                step: None,
                check: "status".into(),
                expected: "200".into(),
                observed: "404".into(),
            }];
            c
        };
        let r = report(
            vec![
                xfail("a.one", "no tags here"),
                xfail("a.two", "old instance"),
                xfail("a.three", "no tags here"),
            ],
            false,
        );
        let human = r.to_human(false);
        let reason = human.find("    no tags here\n").expect(&human);
        let after: Vec<&str> = human[reason..].lines().skip(1).take(2).collect();
        assert!(
            after[0].contains("a.one") && after[1].contains("a.three"),
            "{human}"
        );
        assert_eq!(human.matches("a.one").count(), 1, "{human}");
        assert!(!human.contains("expected: 200"), "{human}");
        let full = r.to_human_with(HumanStyle {
            color: false,
            options: true,
            exchanges: true,
        });
        assert_eq!(full.matches("expected: 200").count(), 3, "{full}");
    }

    #[test]
    fn unwritable_report_paths_are_found_before_a_run() {
        let dir = std::env::temp_dir().join(format!("imdspec-writable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let new = dir.join("report.json");
        check_writable(&new).unwrap();
        assert!(!new.exists(), "the probe file is removed again");
        std::fs::write(&new, "kept").unwrap();
        check_writable(&new).unwrap();
        assert_eq!(std::fs::read_to_string(&new).unwrap(), "kept");
        assert!(check_writable(&dir).is_err(), "a directory");
        assert!(check_writable(&dir.join("no/such/dir/r.json")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pass_next_to_tolerated_failures_says_so() {
        let r = report(
            vec![
                case("a.s1", Level::Should, Outcome::Fail),
                case("a.s2", Level::Should, Outcome::Error),
                case("a.i", Level::Info, Outcome::Fail),
            ],
            false,
        );
        let v = r.human_verdict(false);
        assert!(
            v.starts_with("imdspec run: PASS (2 should-level failures; --strict makes them fail; 1 info-level failure; informational, never fail a run): "),
            "{v}"
        );
        let clean = report(vec![case("a.p", Level::Must, Outcome::Pass)], false);
        assert!(
            clean
                .human_verdict(false)
                .starts_with("imdspec run: PASS: ")
        );
        let strict = report(vec![case("a.s1", Level::Should, Outcome::Fail)], true);
        assert!(strict.human_verdict(false).contains("FAIL"));
    }

    #[test]
    fn inconclusive_is_its_own_verdict_exit_code_and_never_green() {
        let mut c = case("token.put.ok", Level::Must, Outcome::Inconclusive);
        c.reason = Some("hop-limited".into());
        let r = report(
            vec![c.clone(), case("a.p", Level::Must, Outcome::Pass)],
            false,
        );
        assert_eq!(r.verdict(), Verdict::Inconclusive);
        assert_eq!(r.exit_code(), EXIT_INCONCLUSIVE);
        assert_eq!(EXIT_INCONCLUSIVE, 4);
        let json = r.to_json_value();
        assert_eq!(json["exit_code"], 4);
        assert_eq!(json["verdict"], "INCONCLUSIVE");
        assert_eq!(json["summary"]["inconclusive"], 1);
        assert_eq!(json["cases"][0]["group"], "hop-limited");
        // JUnit readers count <skipped> as green: a must-level inconclusive is an <error>.
        let xml = r.to_junit();
        assert_eq!(xml.matches("<error").count(), 1, "{xml}");
        assert!(xml.contains("type=\"inconclusive\""), "{xml}");
        assert!(
            r.human_verdict(false)
                .starts_with("imdspec run: INCONCLUSIVE")
        );
        // A failure still wins; a should-level inconclusive counts only with --strict.
        let failing = report(vec![c, case("a.f", Level::Must, Outcome::Fail)], false);
        assert_eq!(failing.verdict(), Verdict::Fail);
        let should = || vec![case("a.s", Level::Should, Outcome::Inconclusive)];
        assert_eq!(report(should(), false).verdict(), Verdict::Pass);
        assert!(report(should(), false).to_junit().contains("<skipped"));
        assert_eq!(report(should(), true).exit_code(), EXIT_INCONCLUSIVE);
    }

    #[test]
    fn failures_sharing_a_cause_are_one_group_led_by_the_root() {
        let failing_get = |id: &str, level: Level, area: &str| {
            let mut c = case(id, level, Outcome::Fail);
            c.area = area.into();
            c.detail.exchanges = vec![exchange(1, "GET", "/latest/meta-data/instance-id", 500)];
            c.detail.failures = vec![Failure {
                step: Some(1),
                check: "status".into(),
                expected: "200".into(),
                observed: "500".into(),
            }];
            c
        };
        let mut crawl = case("crawl.x", Level::Should, Outcome::Fail);
        crawl.detail.failures = vec![Failure {
            step: None,
            check: "/latest/meta-data/instance-id".into(),
            expected: "200".into(),
            observed: "500".into(),
        }];
        let mut other = case("headers.ttl", Level::Must, Outcome::Fail);
        other.detail.exchanges = vec![exchange(1, "PUT", "/latest/api/token", 200)];
        other.detail.failures = vec![Failure {
            step: Some(1),
            check: "header x-aws-ec2-metadata-token-ttl-seconds".into(),
            expected: "present".into(),
            observed: "absent".into(),
        }];
        let r = report(
            vec![
                failing_get("category.id", Level::Must, "category"),
                other,
                crawl,
                failing_get("consistency.id", Level::Info, "consistency"),
                failing_get("options.declared.http-tokens", Level::Must, "options"),
            ],
            false,
        );
        let cases = &r.runs[0].cases;
        let cause = "GET /latest/meta-data/instance-id → 500";
        for id in [0, 2, 3, 4] {
            assert_eq!(cases[id].group.as_deref(), Some(cause), "{}", cases[id].id);
        }
        assert_eq!(
            cases[1].group.as_deref(),
            Some("PUT /latest/api/token → 200: header x-aws-ec2-metadata-token-ttl-seconds")
        );
        let human = r.to_human(false);
        // The group with a declared option leads, shown by that case with its response.
        let first = human.find("cause 1: ").expect(&human);
        let second = human.find("cause 2: ").expect(&human);
        assert!(
            human[first..second]
                .starts_with(&format!("cause 1: {cause} (2 must, 1 should, 1 info)")),
            "{human}"
        );
        assert!(
            human[first..second].contains("options.declared.http-tokens"),
            "{human}"
        );
        assert!(human[first..second].contains("response: 500"), "{human}");
        assert!(
            human[first..second]
                .contains("and 3 cases with the same cause: category.id, crawl.x, consistency.id"),
            "{human}"
        );
        assert_eq!(human.matches("expected: 200").count(), 1, "{human}");
        assert!(human[second..].contains("headers.ttl"), "{human}");
        // The summary lines split failures by level.
        assert!(
            r.human_verdict(false)
                .contains("5 fail (3 must, 1 should, 1 info)"),
            "{}",
            r.human_verdict(false)
        );
    }
}
