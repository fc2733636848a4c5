//! `imdspec run`: the conformance suite against an endpoint, or (with none given) against the
//! reference server started in-process once per option profile.
//!
//! The runner itself (`imds_conformance`) only ever talks HTTP to a base URL; this module is
//! the one place that starts the reference server for the embedded default.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use imds_conformance::catalogue::Catalogue;
use imds_conformance::client::ClientConfig;
use imds_conformance::report::{CaseResult, HumanStyle, Outcome, Report};
use imds_conformance::runner::{self, DetailLevel, RunConfig, RunError};
use imds_conformance::{CatalogueError, Expectations};
use imds_files::catalogue::embedded::RUN_TARGETS;
use imds_model::{HttpTokens, MetadataOptions, Toggle};

use crate::embedded::{self, EmbeddedError};
use crate::options_args::OptionFlags;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Progress, results by area, failures with expected vs observed, a summary line.
    Human,
    /// The versioned JSON report (schema in README).
    Json,
    /// JUnit XML (quick-junit).
    Junit,
}

/// Which exchanges go into the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Detail {
    /// Request/response exchanges of non-passing cases only.
    Failures,
    /// Exchanges of every case.
    All,
}

/// An embedded reference-server profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// HttpTokens=optional (IMDSv1 and v2).
    Optional,
    /// HttpTokens=required (IMDSv2 only).
    Required,
    /// HttpTokens=required, InstanceMetadataTags=enabled.
    RequiredTags,
    /// HttpEndpoint=disabled.
    Disabled,
}

impl Profile {
    const ALL: [Profile; 4] = [
        Profile::Optional,
        Profile::Required,
        Profile::RequiredTags,
        Profile::Disabled,
    ];

    fn name(self) -> &'static str {
        match self {
            Profile::Optional => "optional",
            Profile::Required => "required",
            Profile::RequiredTags => "required-tags",
            Profile::Disabled => "disabled",
        }
    }

    fn options(self) -> MetadataOptions {
        let mut o = MetadataOptions::default();
        match self {
            Profile::Optional => {}
            Profile::Required => o.http_tokens = HttpTokens::Required,
            Profile::RequiredTags => {
                o.http_tokens = HttpTokens::Required;
                o.instance_metadata_tags = Toggle::Enabled;
            }
            Profile::Disabled => o.http_endpoint = Toggle::Disabled,
        }
        o
    }
}

/// The end of `imdspec run --help`.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  PASS: no case fails the run (should-level failures only with --strict)
  1  FAIL: a must-level case failed or errored, or a known failure passed (xpass)
  2  usage error (bad flag, catalogue, expectations or --output path)
  3  the endpoint cannot be reached
  4  INCONCLUSIVE: nothing failed, but must-level cases could not be checked (e.g. the token
     PUT never answered while GETs did: a hop limit; the report says why and how to fix it;
     --http-put-response-hop-limit N declares the limit and turns those cases into skips)

Example:
  imdspec run --endpoint http://127.0.0.1:1338 --http-tokens required --format json --output report.json";

/// Arguments of `imdspec run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the endpoint to check, without a path (e.g. http://127.0.0.1:1338,
    /// http://[::1]:1338).
    /// Without it, the reference server is started in-process on loopback once per profile.
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Run only cases whose id matches GLOB (repeatable).
    #[arg(long = "case", value_name = "GLOB")]
    cases: Vec<String>,
    /// Leave out cases whose id matches GLOB (repeatable).
    #[arg(long = "skip", value_name = "GLOB")]
    skips: Vec<String>,
    /// Should-level failures also fail the run.
    #[arg(long)]
    strict: bool,
    /// Known failures of a named target: conformance/targets/NAME.toml (reference, aemm, imdspec-aemm, moto).
    #[arg(long, value_name = "NAME", conflicts_with = "expectations")]
    target: Option<String>,
    /// Known failures from FILE ([xfail] table: case id or glob → reason).
    #[arg(long, value_name = "FILE")]
    expectations: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// List the selected cases (id, level, summary) and exit.
    #[arg(long)]
    list: bool,
    /// Per-request time budget in milliseconds (connect, response and body together).
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    timeout_ms: u64,
    /// Whole-run deadline in seconds; unfinished cases become `error`.
    #[arg(long, value_name = "SECS", default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    deadline_secs: u64,
    /// Most requests per second (default: 50 against --endpoint, no cap embedded).
    #[arg(long, value_name = "N")]
    max_rps: Option<f64>,
    /// Cases run at once (default: 4 against --endpoint, 16 embedded).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    concurrency: Option<u64>,
    /// Show tokens, credentials and user data in the report (redacted by default).
    #[arg(long)]
    show_secrets: bool,
    /// Which request/response exchanges the report keeps.
    #[arg(long, value_enum, default_value = "failures")]
    detail: Detail,
    /// Read the catalogue from DIR (cases/, paths.toml, targets/) instead of the compiled-in one.
    #[arg(long, value_name = "DIR")]
    conformance_dir: Option<PathBuf>,
    /// Embedded profiles to run (repeatable; default: all four).
    #[arg(long = "profile", value_enum, conflicts_with = "endpoint")]
    profiles: Vec<Profile>,
    /// Declared target options: they declare what to expect from the endpoint, they set
    /// nothing on it; undeclared ones are detected. Without --endpoint, they configure one
    /// embedded server instead of the profiles.
    #[command(
        flatten,
        next_help_heading = "Declared options (what to expect; nothing is changed on the endpoint)"
    )]
    options: OptionFlags,
}

const USAGE: &str = "imdspec run [OPTIONS]";

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    crate::usage::error(USAGE, message)
}

fn catalogue_error(e: &CatalogueError) -> ExitCode {
    eprintln!("error: catalogue: {e}");
    ExitCode::from(2)
}

/// The compiled-in catalogue (`conformance/cases` and `paths.toml`, listed at build time), so
/// `imdspec run` works from any directory.
pub(crate) fn embedded_catalogue() -> Result<Catalogue, CatalogueError> {
    Catalogue::embedded()
}

fn load_expectations(args: &RunArgs) -> Result<Option<Expectations>, ExitCode> {
    if let Some(path) = &args.expectations {
        return Expectations::load(path)
            .map(Some)
            .map_err(|e| catalogue_error(&e));
    }
    let name = match (&args.target, &args.endpoint) {
        (Some(n), _) => n.clone(),
        // Our own server must pass everything: its expectations file is empty, h2spec-style.
        (None, None) => "reference".to_owned(),
        (None, Some(_)) => return Ok(None),
    };
    if let Some(dir) = &args.conformance_dir {
        let path = Expectations::target_file(dir, &name);
        if path.exists() {
            return Expectations::load(&path)
                .map(Some)
                .map_err(|e| catalogue_error(&e));
        }
    }
    match RUN_TARGETS.get(&name) {
        Some(text) => {
            let path = PathBuf::from(format!("{}/{name}.toml", RUN_TARGETS.dir));
            Expectations::parse(&path, text)
                .map(Some)
                .map_err(|e| catalogue_error(&e))
        }
        None => {
            let known: Vec<&str> = RUN_TARGETS.stems().collect();
            Err(usage_error(format!(
                "--target {name}: no such target (known: {})",
                known.join(", ")
            )))
        }
    }
}

fn globs(flag: &str, patterns: &[String]) -> Result<Vec<glob::Pattern>, ExitCode> {
    patterns
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| usage_error(format!("{flag} {p:?}: {e}"))))
        .collect()
}

fn progress_char(c: &CaseResult) -> char {
    match c.outcome {
        Outcome::Pass => '.',
        Outcome::Fail => 'F',
        Outcome::Skip => 's',
        Outcome::Error => 'E',
        Outcome::Inconclusive => '?',
        Outcome::Xfail => 'x',
        Outcome::Xpass => 'X',
    }
}

/// Runs `imdspec run`.
pub fn main(args: RunArgs) -> ExitCode {
    let catalogue = match &args.conformance_dir {
        Some(dir) => Catalogue::load(dir),
        None => embedded_catalogue(),
    };
    let catalogue = match catalogue {
        Ok(c) => Arc::new(c),
        Err(e) => return catalogue_error(&e),
    };
    let (include, exclude) = match (globs("--case", &args.cases), globs("--skip", &args.skips)) {
        (Ok(i), Ok(e)) => (i, e),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let declared = match args.options.declared() {
        Ok(d) => d,
        Err(e) => return usage_error(format!("{e:#}")),
    };
    let expectations = match load_expectations(&args) {
        Ok(e) => e,
        Err(code) => return code,
    };
    if let Some(rps) = args.max_rps
        && !(rps.is_finite() && rps > 0.0)
    {
        return usage_error(format!("--max-rps {rps}: must be a positive number"));
    }
    if let Some(endpoint) = &args.endpoint
        && let Err(e) = imds_conformance::client::BaseUrl::parse_base(endpoint)
    {
        return usage_error(format!("--endpoint: {e}"));
    }

    let mut base = RunConfig::new("endpoint", args.endpoint.clone().unwrap_or_default());
    base.include = include;
    base.exclude = exclude;
    if !catalogue.cases.iter().any(|c| base.selects(&c.id)) {
        return usage_error("no case matches the --case/--skip selection (see --list)");
    }
    if let Err(code) = crate::usage::check_output(USAGE, args.output.as_deref()) {
        return code;
    }
    if args.list {
        let selected = catalogue.cases.iter().filter(|c| base.selects(&c.id));
        let out = if args.format == Format::Json {
            let list: Vec<serde_json::Value> = selected
                .map(|c| {
                    serde_json::json!({
                        "id": c.id,
                        "level": c.level.to_string(),
                        "area": c.area,
                        "summary": c.summary,
                        "spec": c.spec,
                        "doc": c.doc,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
        } else {
            let mut out = String::new();
            for c in selected {
                out.push_str(&format!(
                    "{:<52} {:<6} {}\n",
                    c.id,
                    c.level.to_string(),
                    c.summary
                ));
            }
            out
        };
        return match write_output(&args.output, &out) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        };
    }
    let embedded = args.endpoint.is_none();
    base.expectations = expectations;
    base.show_secrets = args.show_secrets;
    base.detail = match args.detail {
        Detail::Failures => DetailLevel::Failures,
        Detail::All => DetailLevel::All,
    };
    base.deadline = Duration::from_secs(args.deadline_secs);
    base.concurrency = args.concurrency.map_or(
        if embedded {
            16
        } else {
            runner::DEFAULT_CONCURRENCY
        },
        |n| n as usize,
    );
    base.client = ClientConfig {
        timeout: Duration::from_millis(args.timeout_ms),
        max_rps: args.max_rps.or(if embedded {
            None
        } else {
            Some(runner::DEFAULT_MAX_RPS)
        }),
        max_in_flight: base.concurrency * 2,
        ..ClientConfig::default()
    };
    let human = args.format == Format::Human;
    if human {
        base.progress = Some(Arc::new(|c: &CaseResult| {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{}", progress_char(c));
            let _ = err.flush();
        }));
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        if embedded {
            let profiles: Vec<(String, MetadataOptions)> = if !declared.is_empty() {
                vec![("custom".to_owned(), declared.or_defaults())]
            } else if args.profiles.is_empty() {
                Profile::ALL
                    .iter()
                    .map(|p| (p.name().to_owned(), p.options()))
                    .collect()
            } else {
                args.profiles
                    .iter()
                    .map(|p| (p.name().to_owned(), p.options()))
                    .collect()
            };
            embedded::run_profiles(&catalogue, &base, profiles).await
        } else {
            let mut config = base.clone();
            config.declared = declared;
            runner::run(catalogue.clone(), config)
                .await
                .map(|r| vec![r])
                .map_err(EmbeddedError::from)
        }
    });
    if human {
        eprintln!();
    }
    let runs = match result {
        Ok(runs) => runs,
        Err(EmbeddedError::Run {
            error: RunError::Unreachable { endpoint, error },
            ..
        }) => {
            eprintln!("error: endpoint {endpoint} cannot be reached: {error}");
            return ExitCode::from(3);
        }
        Err(EmbeddedError::Run {
            error: RunError::BadEndpoint(e),
            ..
        }) => return usage_error(format!("--endpoint: {e}")),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = Report {
        command: "imdspec run",
        runs,
        strict: args.strict,
    };
    let text = match args.format {
        Format::Human => {
            let color = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report.to_human_with(HumanStyle {
                color,
                options: true,
                exchanges: args.detail == Detail::All,
            })
        }
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    if let Err(code) = write_output(&args.output, &text) {
        return code;
    }
    if args.output.is_some() {
        // Keep the verdict visible when the report went to a file, whatever its format.
        eprint!("{}", report.human_verdict(false));
    }
    ExitCode::from(report.exit_code())
}

fn write_output(output: &Option<PathBuf>, text: &str) -> Result<(), ExitCode> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            eprintln!("error: --output {}: {e}", path.display());
            ExitCode::from(2)
        }),
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_embedded_catalogue_is_the_one_on_disk() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance");
        let from_disk = Catalogue::load(&dir).unwrap();
        let embedded = embedded_catalogue().unwrap();
        let ids = |c: &Catalogue| c.cases.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&embedded), ids(&from_disk));
        assert_eq!(embedded.paths.len(), from_disk.paths.len());
        assert!(RUN_TARGETS.get("reference").is_some());
    }

    #[test]
    fn target_files_parse_and_are_not_stale() {
        let catalogue = embedded_catalogue().unwrap();
        for (name, text) in RUN_TARGETS.files {
            let e = Expectations::parse(Path::new(name), text).unwrap();
            assert_eq!(catalogue.stale(&e), Vec::<String>::new(), "{name}");
        }
    }
}
