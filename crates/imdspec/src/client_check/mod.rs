//! `imdspec client-check`: run a program that uses an IMDS client against the reference
//! server, once per scenario (each with its own loopback server, options, faults and client
//! environment), and judge the program from the server's journal and its exit status.
//!
//! Results use the conformance runner's report types and renderings (`imdspec run`'s JSON,
//! JUnit and human output, outcomes and exit codes); per-client known differences use its
//! expectations files.

mod child;
mod judge;
mod scenario;

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use imds_conformance::catalogue::{Applies, Case, CaseBody, Catalogue, SourceLocation};
use imds_conformance::report::{
    CaseResult, Detail, ExchangeRecord, RequestRecord, ResponseRecord, RunResult, Summary,
    TargetInfo,
};
use imds_conformance::{Expectations, Outcome, Report};
use imds_server::{ImdsServer, JournalEntry, Limits};

use scenario::{Scenario, Scenarios};

/// The scenario files, compiled in (`--clients-dir` reads them from disk instead).
const SCENARIO_FILES: &[(&str, &str)] = &[
    (
        "credentials.toml",
        include_str!("../../../../conformance/clients/credentials.toml"),
    ),
    (
        "environment.toml",
        include_str!("../../../../conformance/clients/environment.toml"),
    ),
    (
        "fallback.toml",
        include_str!("../../../../conformance/clients/fallback.toml"),
    ),
    (
        "headers.toml",
        include_str!("../../../../conformance/clients/headers.toml"),
    ),
    (
        "retries.toml",
        include_str!("../../../../conformance/clients/retries.toml"),
    ),
    (
        "server.toml",
        include_str!("../../../../conformance/clients/server.toml"),
    ),
    (
        "tokens.toml",
        include_str!("../../../../conformance/clients/tokens.toml"),
    ),
];

/// The per-client expectations files, compiled in: (target name, text).
const TARGET_FILES: &[(&str, &str)] = &[
    (
        "aws-sdk-rust",
        include_str!("../../../../conformance/clients/targets/aws-sdk-rust.toml"),
    ),
    (
        "botocore",
        include_str!("../../../../conformance/clients/targets/botocore.toml"),
    ),
];

/// Where the compiled-in files live in the source tree, for messages.
const CLIENTS_DIR: &str = "conformance/clients";

fn embedded_scenarios() -> Result<Scenarios, imds_conformance::CatalogueError> {
    let files: Vec<(PathBuf, String)> = SCENARIO_FILES
        .iter()
        .map(|(name, text)| (Path::new(CLIENTS_DIR).join(name), (*text).to_owned()))
        .collect();
    Scenarios::from_sources(&files)
}

/// Which request/response exchanges the JSON report keeps (the request sequence is always
/// in each scenario's notes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum DetailLevel {
    /// Exchanges of non-passing scenarios only; the human output lists their requests.
    Failures,
    /// Exchanges of every scenario; the human output lists every scenario's requests.
    All,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Text for people.
    Human,
    /// The versioned JSON report (same shape as `imdspec run --format json`).
    Json,
    /// JUnit XML.
    Junit,
}

/// Arguments of `imdspec client-check`.
#[derive(Debug, Args)]
pub struct ClientCheckArgs {
    /// Only scenarios whose id matches GLOB (repeatable), e.g. `fallback.*`.
    #[arg(long = "scenario", value_name = "GLOB")]
    scenarios: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Kill the client if one scenario's run takes longer than this.
    #[arg(long, value_name = "N", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    timeout_ms: u64,
    /// Known differences of this client: `conformance/clients/targets/NAME.toml`.
    #[arg(long, value_name = "NAME", conflicts_with = "expectations")]
    target: Option<String>,
    /// Known differences from this expectations file.
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Read scenarios and targets from DIR (`*.toml`, `targets/`) instead of the compiled-in
    /// `conformance/clients`.
    #[arg(long, value_name = "DIR")]
    clients_dir: Option<PathBuf>,
    /// Scenarios run at once (each has its own server and client).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
    /// Which request/response exchanges the report keeps.
    #[arg(long, value_enum, default_value = "failures")]
    detail: DetailLevel,
    /// Should-level failures fail the run too.
    #[arg(long)]
    strict: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// The client program and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND", required_unless_present = "list")]
    command: Vec<String>,
}

/// A bad flag or file: exit 2 with the message and a usage line, like clap does.
fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!(
        "error: {message}\n\nUsage: imdspec client-check [OPTIONS] -- COMMAND [ARGS]...\n\nFor more information, try '--help'."
    );
    ExitCode::from(2)
}

/// Runs `imdspec client-check`.
pub fn main(args: ClientCheckArgs) -> ExitCode {
    let scenarios = match &args.clients_dir {
        Some(dir) => Scenarios::load(dir),
        None => embedded_scenarios(),
    };
    let scenarios = match scenarios {
        Ok(s) => s,
        Err(e) => return usage_error(e),
    };
    let mut globs = Vec::new();
    for g in &args.scenarios {
        match glob::Pattern::new(g) {
            Ok(p) => globs.push(p),
            Err(e) => return usage_error(format!("--scenario {g:?}: {e}")),
        }
    }
    let selected: Vec<Scenario> = scenarios.select(&globs).into_iter().cloned().collect();
    if selected.is_empty() {
        return usage_error(format!(
            "no scenario matches {} (see --list)",
            args.scenarios.join(", ")
        ));
    }
    if args.list {
        for s in &selected {
            println!("{:<40} {:<6} {}", s.id, s.level.to_string(), s.summary);
        }
        return ExitCode::SUCCESS;
    }
    let expectations = match (&args.target, &args.expectations) {
        (Some(name), _) => target_expectations(args.clients_dir.as_deref(), name),
        (None, Some(file)) => Expectations::load(file).map(Some).map_err(usage_error),
        (None, None) => Ok(None),
    };
    let expectations = match expectations {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Err(e) = child::find_program(&args.command[0]) {
        eprintln!("error: cannot start the client: {e}");
        return ExitCode::from(3);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let name = args.target.clone().unwrap_or_else(|| {
        Path::new(&args.command[0]).file_name().map_or_else(
            || args.command[0].clone(),
            |n| n.to_string_lossy().into_owned(),
        )
    });
    let config = RunConfig {
        name,
        command: args.command.clone(),
        timeout: Duration::from_millis(args.timeout_ms),
        concurrency: usize::try_from(args.concurrency).unwrap_or(1),
        all_exchanges: args.detail == DetailLevel::All,
    };
    let run = runtime.block_on(run_all(
        &config,
        selected,
        &scenarios,
        expectations.as_ref(),
    ));
    let report = Report {
        command: "imdspec client-check",
        runs: vec![run],
        strict: args.strict,
    };
    let color = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Human => human(&report, color, args.detail == DetailLevel::All),
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| format!("--output {}: cannot write: {e}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write the report: {e}")),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::from(report.exit_code())
}

/// `--target NAME`: `targets/NAME.toml` under `--clients-dir` if given, else compiled in.
fn target_expectations(dir: Option<&Path>, name: &str) -> Result<Option<Expectations>, ExitCode> {
    let text = match dir {
        Some(dir) => {
            let file = Expectations::target_file(dir, name);
            if !file.is_file() {
                return Err(usage_error(format!(
                    "--target {name}: no {}",
                    file.display()
                )));
            }
            return Expectations::load(&file).map(Some).map_err(usage_error);
        }
        None => TARGET_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t),
    };
    let Some(text) = text else {
        let known: Vec<&str> = TARGET_FILES.iter().map(|(n, _)| *n).collect();
        return Err(usage_error(format!(
            "--target {name}: no such target (known: {})",
            known.join(", ")
        )));
    };
    let path = Path::new(CLIENTS_DIR)
        .join("targets")
        .join(format!("{name}.toml"));
    Expectations::parse(&path, text)
        .map(Some)
        .map_err(usage_error)
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
}

/// Runs `selected` concurrently (at most `jobs` at a time) and applies the expectations.
async fn run_all(
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
            }
            if case.outcome == Outcome::Pass && !config.all_exchanges {
                case.detail.exchanges.clear();
            }
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
            description: Some(format!("client: {}", config.command.join(" "))),
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
        duration_ms: millis(started.elapsed()),
        cases,
    }
}

/// Expectation entries that match no scenario, using the runner's own stale check: the
/// scenarios are presented to it as a catalogue of cases.
fn stale(expectations: &Expectations, scenarios: &Scenarios) -> Vec<String> {
    let catalogue = Catalogue {
        cases: scenarios
            .all
            .iter()
            .map(|s| Case {
                id: s.id.clone(),
                summary: s.summary.clone(),
                doc: s.doc.clone(),
                level: s.level,
                area: s.area.clone(),
                spec: s.spec.clone(),
                applies: Applies::default(),
                needs: Vec::new(),
                body: CaseBody::Check(String::new()),
                source: SourceLocation {
                    file: s.file.clone(),
                    line: s.line,
                },
            })
            .collect(),
        paths: Vec::new(),
    };
    expectations.stale(&catalogue)
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
    };
    let server = ImdsServer::builder()
        .options(s.server.options())
        .instance(s.server.instance())
        .faults(s.server.faults())
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
    let run = child::run(&config.command, &env, config.timeout).await;
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
    let (expected, failures) = judge::judge(&s.expect, &journal, &run.exit);
    let t0 = journal.first().map_or(0, |e| e.time_ms);
    let mut notes = vec![format!(
        "client: {} after {} ms",
        run.exit,
        millis(run.elapsed)
    )];
    if !s.server.faults.is_empty() {
        notes.push(format!("server faults: {}", s.server.faults.join(", ")));
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
fn human(report: &Report, color: bool, all: bool) -> String {
    // Client-check has no declared or detected options (each scenario sets its own).
    let text: String = report
        .to_human(color)
        .lines()
        .filter(|l| !(l.starts_with("  declared:  ") || l.starts_with("  detected:  ")))
        .map(|l| format!("{l}\n"))
        .collect();
    let (body, verdict) = match text.trim_end().rsplit_once('\n') {
        Some((b, v)) => (b.to_owned(), v.to_owned()),
        None => (String::new(), text.trim_end().to_owned()),
    };
    let mut out = body;
    out.push('\n');
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
    out.push_str(&verdict);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_scenario_and_target_file_is_compiled_in() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(CLIENTS_DIR);
        let embedded: Vec<String> = SCENARIO_FILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .collect();
        assert_eq!(
            toml_names(&dir),
            embedded,
            "add new scenario files to SCENARIO_FILES"
        );
        let embedded: Vec<String> = TARGET_FILES
            .iter()
            .map(|(n, _)| format!("{n}.toml"))
            .collect();
        assert_eq!(
            toml_names(&dir.join("targets")),
            embedded,
            "add new target files to TARGET_FILES"
        );
        let compiled = embedded_scenarios().unwrap();
        assert_eq!(compiled.all.len(), Scenarios::load(&dir).unwrap().all.len());
        for (name, _) in TARGET_FILES {
            let e = target_expectations(None, name).unwrap().unwrap();
            assert!(!e.is_empty(), "{name}");
            assert!(
                stale(&e, &compiled).is_empty(),
                "{name}: {:?}",
                stale(&e, &compiled)
            );
        }
    }
}
