//! Run a program that uses an IMDS client against scripted servers and judge its requests:
//! once per scenario (each with its own loopback reference server, options, faults and client
//! environment), the program's requests are read back from the server's journal and judged,
//! together with its exit status.
//!
//! Results use the report types the conformance runner uses too ([`imds_report::report`]),
//! so they render as `imdspec run`'s JSON, JUnit and human output with the same outcomes and
//! exit codes; per-client known differences are [`imds_report::Expectations`] files. It
//! shares nothing else with the runner.
//!
//! - [`scenario`] loads and selects the scenario files (`conformance/clients/*.toml`);
//! - [`run`] (or [`run_blocking`]) runs the client once per scenario and returns a
//!   [`RunResult`];
//! - [`human`] renders a report with each non-passing scenario's requests.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod child;
mod judge;
pub mod matrix;
pub mod scenario;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imds_diag::LoadError;
use imds_files::catalogue::embedded::CLIENT_TARGETS;
use imds_report::report::{
    CaseResult, Detail, ExchangeRecord, HumanStyle, RequestRecord, ResponseRecord, RunResult,
    Summary, TargetInfo,
};
use imds_report::{Expectations, Outcome, Report};
use imds_server::{ImdsServer, JournalEntry, Limits};

pub use child::find_program;
pub use judge::{NOT_EXERCISED, NOT_EXERCISED_CHECK, same_path};
pub use scenario::{ENDPOINT_VAR, Imdsv1, Scenario, Scenarios};

/// The scenario files, compiled in from `conformance/clients` at build time (`--clients-dir`
/// reads them from disk instead).
fn embedded_scenarios() -> Result<Scenarios, LoadError> {
    Scenarios::embedded()
}

/// The kinds of known difference an `[xfail]` reason starts with (`KIND: why (source)`):
/// the client chose so (with its doc), fixed in a later release (with the release), an
/// upstream bug (with the issue or source line), our own limitation (with the plan).
pub const XFAIL_KINDS: &[&str] = &["design", "version", "bug", "harness"];

/// The kind an xfail reason starts with, if it names one.
pub fn xfail_kind(reason: &str) -> Option<&'static str> {
    let reason = reason.strip_prefix("known failure: ").unwrap_or(reason);
    let (kind, _) = reason.split_once(": ")?;
    XFAIL_KINDS.iter().copied().find(|k| *k == kind)
}

/// True when `reason` names where it is written: a URL, or a source file or path.
fn names_a_source(reason: &str) -> bool {
    reason.contains("https://")
        || reason
            .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ';' | ','))
            .any(|w| {
                w.contains('/')
                    || [".rs", ".py", ".go", ".js", ".ts"]
                        .iter()
                        .any(|x| w.ends_with(x))
            })
}

/// Checks that every `[xfail]` reason of a client target file starts with its kind and
/// names a source; errors give the file, line and entry.
fn check_xfail_kinds(path: &Path, text: &str) -> Result<(), LoadError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        xfail: std::collections::BTreeMap<String, String>,
    }
    let src = imds_diag::Source::toml(path, text);
    let raw: Raw = src.parse()?;
    for (key, reason) in &raw.xfail {
        let at = [
            imds_diag::Seg::key("xfail"),
            imds_diag::Seg::key(key.as_str()),
        ];
        if xfail_kind(reason).is_none() {
            return Err(src.at_field(
                &at,
                format!(
                    "the reason must start with its kind and a colon: one of {}",
                    XFAIL_KINDS.join(", ")
                ),
            ));
        }
        if !names_a_source(reason) {
            return Err(src.at_field(
                &at,
                "the reason names no source (a URL, or the source file it rests on)",
            ));
        }
    }
    Ok(())
}

/// Why `--target NAME` has no expectations.
#[derive(Debug)]
pub enum TargetError {
    /// `--clients-dir` has no `targets/NAME.toml`.
    Missing(PathBuf),
    /// No compiled-in target has this name.
    Unknown {
        /// The compiled-in target names.
        known: Vec<&'static str>,
    },
    /// The file exists but is not a valid expectations file.
    Bad(LoadError),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Missing(file) => write!(f, "no {}", file.display()),
            TargetError::Unknown { known } => {
                write!(f, "no such target (known: {})", known.join(", "))
            }
            TargetError::Bad(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for TargetError {}

/// The scenarios of `dir` (`*.toml`), or the compiled-in `conformance/clients` without one.
pub fn scenarios(dir: Option<&Path>) -> Result<Scenarios, LoadError> {
    match dir {
        Some(dir) => Scenarios::load(dir),
        None => embedded_scenarios(),
    }
}

/// The known differences of client `name`: `targets/NAME.toml` under `dir` if given, else
/// the compiled-in file.
pub fn target_expectations(dir: Option<&Path>, name: &str) -> Result<Expectations, TargetError> {
    if let Some(dir) = dir {
        let file = Expectations::target_file(dir, name);
        if !file.is_file() {
            return Err(TargetError::Missing(file));
        }
        let text = imds_files::read(&file).map_err(TargetError::Bad)?;
        check_xfail_kinds(&file, &text).map_err(TargetError::Bad)?;
        return Expectations::parse(&file, &text).map_err(TargetError::Bad);
    }
    let Some(text) = CLIENT_TARGETS.get(name) else {
        return Err(TargetError::Unknown {
            known: CLIENT_TARGETS.stems().collect(),
        });
    };
    let path = Path::new(CLIENT_TARGETS.dir).join(format!("{name}.toml"));
    check_xfail_kinds(&path, text).map_err(TargetError::Bad)?;
    Expectations::parse(&path, text).map_err(TargetError::Bad)
}

/// One client-check run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The run's name (the target, or the command's file name).
    pub name: String,
    /// The client command.
    pub command: Vec<String>,
    /// Per-scenario timeout.
    pub timeout: Duration,
    /// Scenarios at a time.
    pub concurrency: usize,
    /// Keep the exchanges of passing scenarios too.
    pub all_exchanges: bool,
    /// What the client declares about IMDSv1: picks a scenario's expectations where they
    /// depend on it.
    pub imdsv1: Imdsv1,
    /// The components the program loads one at a time (`--only COMPONENT`, and
    /// `--again-after-ms N` to load it twice); empty: it takes neither, and every scenario
    /// runs it whole.
    pub components: Vec<String>,
}

impl RunConfig {
    /// The command for `scenario`: with `--only COMPONENT` (and `--again-after-ms N`) when
    /// the scenario is about one component the program can load on its own.
    pub fn command_for(&self, scenario: &Scenario) -> Vec<String> {
        let mut command = self.command.clone();
        if let Some(c) = &scenario.component
            && self.components.contains(c)
        {
            command.extend(["--only".to_owned(), c.clone()]);
            if let Some(ms) = scenario.load_again_after_ms {
                command.extend(["--again-after-ms".to_owned(), ms.to_string()]);
            }
        }
        command
    }
}

/// Runs the client once per scenario of `selected`, at most `config.concurrency` at a time,
/// and applies the expectations; `catalogue` (all scenarios) finds stale expectation entries.
pub async fn run(
    config: &RunConfig,
    selected: Vec<Scenario>,
    catalogue: &Scenarios,
    expectations: Option<&Expectations>,
) -> RunResult {
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for s in selected {
        let gate = gate.clone();
        let config = config.clone();
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await;
            run_scenario(&s, &config).await
        });
    }
    let mut cases = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(mut case) = done {
            if let Some(e) = expectations {
                e.apply(&mut case);
                unproven_xfail_fails(&mut case);
            }
            if case.outcome == Outcome::Pass && !config.all_exchanges {
                case.detail.exchanges.clear();
            }
            case.group = imds_report::report::cause_of(&case);
            cases.push(case);
        }
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    let stale = expectations
        .map(|e| stale(e, catalogue))
        .unwrap_or_default();
    RunResult {
        target: TargetInfo {
            name: config.name.clone(),
            endpoint: "loopback, one reference server per scenario".into(),
            // A command line can carry a secret as well as the program's output can.
            description: Some(format!(
                "client: {}",
                imds_observe::redact::redact_text(&config.command.join(" "))
            )),
            declared: Default::default(),
            detected: Default::default(),
            effective: Default::default(),
            expectations: expectations.map(|e| e.source.clone()),
        },
        summary: Summary::of(&cases),
        stale_expectations: stale,
        notes: vec![format!(
            "every client run had {} set to its scenario's 127.0.0.1 server",
            scenario::ENDPOINT_VAR
        )],
        unchecked: Vec::new(),
        duration_ms: millis(started.elapsed()),
        cases,
    }
}

/// [`run`] on its own multi-threaded runtime, for callers without one; fails only when the
/// runtime cannot start.
pub fn run_blocking(
    config: &RunConfig,
    selected: Vec<Scenario>,
    catalogue: &Scenarios,
    expectations: Option<&Expectations>,
) -> std::io::Result<RunResult> {
    let runtime = tokio::runtime::Runtime::new()?;
    Ok(runtime.block_on(run(config, selected, catalogue, expectations)))
}

/// True when the case's scripted faults did not all fire.
pub fn not_exercised(case: &CaseResult) -> bool {
    case.detail
        .failures
        .first()
        .is_some_and(|f| f.check == NOT_EXERCISED_CHECK)
}

/// An xfail whose scenario was not exercised proves nothing: it stays a failure.
fn unproven_xfail_fails(case: &mut CaseResult) {
    if case.outcome == Outcome::Xfail && not_exercised(case) {
        case.outcome = Outcome::Fail;
        case.reason = Some(format!(
            "{NOT_EXERCISED}, so its xfail entry is unproven ({})",
            case.reason.as_deref().unwrap_or_default()
        ));
    }
}

/// Expectation entries that match no scenario.
fn stale(expectations: &Expectations, scenarios: &Scenarios) -> Vec<String> {
    expectations.stale_entries(scenarios.all.iter().map(|s| s.id.as_str()))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The journal entry as the report's exchange record (headers already redacted).
fn exchange(e: &JournalEntry) -> ExchangeRecord {
    ExchangeRecord {
        step: None,
        request: RequestRecord {
            method: e.method.clone(),
            path: e.path.clone(),
            headers: e.headers.clone(),
        },
        response: e.status.map(|status| ResponseRecord {
            status,
            reason: None,
            version: e.version.clone(),
            headers: e
                .ttl
                .map(|t| vec![(imds_model::TTL_HEADER.as_str().to_owned(), t.to_string())])
                .unwrap_or_default(),
            body: String::new(),
            body_bytes: 0,
            body_truncated: false,
        }),
        error: match (e.status, &e.fault) {
            (Some(_), _) => None,
            (None, Some(f)) => Some(format!("no response ({f})")),
            (None, None) => Some("no response".into()),
        },
        elapsed_ms: e.latency_us / 1000,
    }
}

/// One scenario: its own server, one client run, the verdict.
async fn run_scenario(s: &Scenario, config: &RunConfig) -> CaseResult {
    let started = Instant::now();
    let mut case = CaseResult {
        id: s.id.clone(),
        target: config.name.clone(),
        level: s.level,
        area: s.area.clone(),
        outcome: Outcome::Error,
        summary: s.summary.clone(),
        doc: s.doc.clone(),
        spec: s.spec.clone(),
        reason: None,
        duration_ms: 0,
        detail: Detail::default(),
        group: None,
    };
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX);
    let outage_at = s.server.outage_at(now_ms);
    let server = ImdsServer::builder()
        .options(s.server.options())
        .instance(s.server.instance(now_ms))
        // With an outage ahead, the faults take effect only when it begins.
        .faults(if outage_at.is_some() {
            imds_server::Faults::none()
        } else {
            s.server.faults()
        })
        // A hung request ends when the client gives up or is killed, not before.
        .limits(Limits {
            hang_limit: config.timeout,
            ..Limits::default()
        })
        .start()
        .await;
    let server = match server {
        Ok(server) => server,
        Err(e) => {
            case.reason = Some(format!("cannot start the reference server: {e}"));
            return case;
        }
    };
    let env = child::child_env(std::env::vars_os(), &server.url(), &s.env);
    let command = config.command_for(s);
    let client = std::pin::pin!(child::run(&command, &env, config.timeout));
    let run = match outage_at {
        None => client.await,
        Some(at) => {
            let mut client = client;
            let wait = Duration::from_millis(at.saturating_sub(now_ms));
            tokio::select! {
                run = &mut client => run,
                () = tokio::time::sleep(wait) => {
                    server.set_faults(s.server.faults());
                    client.await
                }
            }
        }
    };
    let journal = server.journal();
    drop(server);
    case.duration_ms = millis(started.elapsed());
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            case.reason = Some(e.to_string());
            return case;
        }
    };
    let faults = s.server.faults();
    let (expected, mut failures) =
        judge::judge(s.expect_for(config.imdsv1), &faults, &journal, &run.exit);
    let unfired = judge::unfired(&faults, &journal);
    if !unfired.is_empty() {
        failures.insert(
            0,
            imds_report::report::Failure {
                step: None,
                check: NOT_EXERCISED_CHECK.into(),
                expected: format!("every scripted fault fires: {}", faults.specs().join(", ")),
                observed: format!("never fired: {}", unfired.join(", ")),
            },
        );
    }
    let t0 = journal.first().map_or(0, |e| e.time_ms);
    let mut notes = vec![format!(
        "client: {} after {} ms",
        run.exit,
        millis(run.elapsed)
    )];
    if command.len() > config.command.len() {
        notes.push(format!(
            "client arguments: {}",
            command[config.command.len()..].join(" ")
        ));
    }
    if !s.server.faults.is_empty() {
        let from = match s.server.outage_after_ms {
            Some(ms) => format!(" (from {ms} ms on, when the credentials expire)"),
            None => String::new(),
        };
        notes.push(format!(
            "server faults: {}{from}",
            s.server.faults.join(", ")
        ));
    }
    if !s.env.is_empty() {
        let vars: Vec<String> = s.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        notes.push(format!("client environment: {}", vars.join(" ")));
    }
    notes.extend(journal.iter().map(|e| judge::describe(e, t0)));
    notes.extend(run.output);
    case.outcome = if failures.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    if !unfired.is_empty() {
        case.reason = Some(format!(
            "{NOT_EXERCISED} (never fired: {})",
            unfired.join(", ")
        ));
    }
    case.detail = Detail {
        expected,
        failures,
        notes,
        exchanges: journal.iter().map(exchange).collect(),
    };
    case
}

/// `imdspec run`'s human report, with each non-passing (or, with `all`, every) scenario's
/// requests and client output added before the verdict line.
pub fn human(report: &Report, color: bool, all: bool) -> String {
    // Client-check has no declared or detected options (each scenario sets its own).
    let mut out = report.human_runs(HumanStyle {
        color,
        options: false,
        exchanges: false,
    });
    let shown: Vec<&CaseResult> = report
        .cases()
        .filter(|c| all || !matches!(c.outcome, Outcome::Pass | Outcome::Skip))
        .collect();
    if !shown.is_empty() {
        out.push_str(if all {
            "requests seen per scenario (tokens as fingerprints):\n"
        } else {
            "requests seen per non-passing scenario (tokens as fingerprints):\n"
        });
        for c in shown {
            out.push_str(&format!("  {} ({})\n", c.id, c.outcome.as_str()));
            for n in &c.detail.notes {
                out.push_str(&format!("    {n}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&report.human_verdict(color));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_and_target_file_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/clients");
        let compiled = embedded_scenarios().unwrap();
        assert_eq!(compiled.all.len(), Scenarios::load(&dir).unwrap().all.len());
        assert!(CLIENT_TARGETS.get("aws-sdk-rust").is_some());
        for name in CLIENT_TARGETS.stems() {
            let e = target_expectations(None, name).unwrap();
            assert!(!e.is_empty(), "{name}");
            assert!(
                stale(&e, &compiled).is_empty(),
                "{name}: {:?}",
                stale(&e, &compiled)
            );
        }
    }
}
