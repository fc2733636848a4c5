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
    /// The scenario catalogue (default: `conformance/clients` in this or a parent directory).
    #[arg(long, value_name = "DIR")]
    clients_dir: Option<PathBuf>,
    /// Scenarios run at the same time (each has its own server and client).
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    jobs: u64,
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

/// `conformance/clients` in the working directory or a parent, else in the source tree.
fn default_clients_dir() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok();
    for base in cwd.iter().flat_map(|c| c.ancestors()) {
        let d = base.join("conformance").join("clients");
        if d.is_dir() {
            return Some(d);
        }
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/clients");
    built.is_dir().then_some(built)
}

/// Runs `imdspec client-check`.
pub fn main(args: ClientCheckArgs) -> ExitCode {
    let Some(dir) = args.clients_dir.clone().or_else(default_clients_dir) else {
        return usage_error(
            "cannot find conformance/clients here or in a parent directory; give --clients-dir",
        );
    };
    let scenarios = match Scenarios::load(&dir) {
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
        (Some(name), _) => {
            let file = Expectations::target_file(&dir, name);
            if !file.is_file() {
                return usage_error(format!(
                    "--target {name}: no {} (targets: {})",
                    file.display(),
                    known_targets(&dir).join(", ")
                ));
            }
            Some(file)
        }
        (None, Some(file)) => Some(file.clone()),
        (None, None) => None,
    };
    let expectations = match expectations.as_deref().map(Expectations::load).transpose() {
        Ok(e) => e,
        Err(e) => return usage_error(e),
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
        jobs: usize::try_from(args.jobs).unwrap_or(1),
    };
    let run = runtime.block_on(run_all(
        &config,
        selected,
        &scenarios,
        expectations.as_ref(),
    ));
    let report = Report {
        runs: vec![run],
        strict: args.strict,
    };
    let color = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Human => human(&report, color),
        Format::Json => report.to_json(),
        Format::Junit => {
            report
                .to_junit()
                .replacen("name=\"imdspec run\"", "name=\"imdspec client-check\"", 1)
        }
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

fn known_targets(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("targets"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
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
    pub jobs: usize,
}

/// Runs `selected` concurrently (at most `jobs` at a time) and applies the expectations.
async fn run_all(
    config: &RunConfig,
    selected: Vec<Scenario>,
    catalogue: &Scenarios,
    expectations: Option<&Expectations>,
) -> RunResult {
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(config.jobs.max(1)));
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
            endpoint: "loopback (one reference server per scenario)".into(),
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

/// `imdspec run`'s human report, with each non-passing scenario's requests and client output
/// added before the verdict line.
fn human(report: &Report, color: bool) -> String {
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
        .filter(|c| !matches!(c.outcome, Outcome::Pass | Outcome::Skip))
        .collect();
    if !shown.is_empty() {
        out.push_str("requests seen per non-passing scenario (tokens as fingerprints):\n");
        for c in shown {
            out.push_str(&format!("  {} ({})\n", c.id, c.outcome.as_str()));
            for n in &c.detail.notes {
                out.push_str(&format!("    {n}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&verdict.replacen("imdspec run:", "imdspec client-check:", 1));
    out.push('\n');
    out
}
