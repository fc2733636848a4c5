//! `imdspec client-check`: the arguments of [`imds_client_check`], its report and its exit
//! codes (0 pass, 1 a failing scenario, 2 usage error, 3 the client cannot start).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use imds_client_check::{RunConfig, Scenario, TargetError};
use imds_report::{Expectations, Report};

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

/// The end of `imdspec client-check --help`.
pub const AFTER_HELP: &str = "\
The program runs once per scenario, with the inherited environment minus every AWS_* and \
proxy variable, AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE set to /dev/null, the \
scenario's own variables, and AWS_EC2_METADATA_SERVICE_ENDPOINT set to the scenario's \
loopback server (http://127.0.0.1:PORT). It should fetch what an SDK's IMDS client fetches \
(a token, then metadata or credentials) and exit.

Exit codes:
  0  no scenario fails the run (should-level failures only with --strict)
  1  a must-level scenario failed, or a known difference passed (xpass)
  2  usage error (bad flag, scenario or expectations file, --output path, no program)
  3  the program cannot be started

With --all, every driver of conformance/clients/drivers/ runs instead of one COMMAND and conformance/clients/MATRIX.md and MATRIX.json are rewritten (a driver that is not installed is skipped with its reason, or exits 3 under CI=true).

Examples:
  imdspec client-check --target botocore -- python3 my_client.py
  imdspec client-check --all --root .";

/// What the client does when the token PUT is refused (`--imdsv1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Imdsv1Arg {
    /// It falls back to IMDSv1 on 403/404/405 or a timeout, as the SDK reference documents.
    Fallback,
    /// It never uses IMDSv1: a refused PUT must end the load cleanly, with no GET without a
    /// token.
    Never,
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
    /// Known differences of this client: `conformance/clients/targets/NAME.toml` (known:
    /// aws-sdk-go, aws-sdk-go-v2, aws-sdk-java, aws-sdk-java-v2, aws-sdk-js-v3,
    /// aws-sdk-js-v3-metadata-service, aws-sdk-rust, botocore, cloud-init, ec2-metadata).
    #[arg(long, value_name = "NAME", conflicts_with = "expectations")]
    target: Option<String>,
    /// What the client declares about IMDSv1; picks the expectations of scenarios whose
    /// claim depends on it (`expect-imdsv1-never`).
    #[arg(long, value_enum, default_value_t = Imdsv1Arg::Fallback)]
    imdsv1: Imdsv1Arg,
    /// Components the client loads one at a time with `--only COMPONENT` (and twice with
    /// `--again-after-ms N`): scenarios about one of them run it so.
    #[arg(long, value_name = "LIST", value_delimiter = ',',
          value_parser = ["credentials", "region", "instance-id"])]
    components: Vec<String>,
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
    /// Run every installed driver of `conformance/clients/drivers/` (the client matrix) and
    /// write MATRIX.md and MATRIX.json; no COMMAND.
    #[arg(long, conflicts_with_all = ["target", "expectations", "list"])]
    all: bool,
    /// With --all: the repository root (drivers, `{root}` in their commands).
    #[arg(long, value_name = "DIR", default_value = ".", requires = "all")]
    root: PathBuf,
    /// With --all: only these drivers (repeatable).
    #[arg(long = "driver", value_name = "NAME", requires = "all")]
    drivers: Vec<String>,
    /// With --all: where MATRIX.md and MATRIX.json go (default: ROOT/conformance/clients).
    #[arg(long, value_name = "DIR", requires = "all")]
    matrix_dir: Option<PathBuf>,
    /// A program given without `--` (refused with a hint: options of the program would be
    /// taken for ours).
    #[arg(value_name = "PROGRAM", hide = true)]
    stray: Vec<String>,
    /// The client program and its arguments, after `--`. See below for its environment.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// A bad flag or file: exit 2 with the message and a usage line, like clap does.
const USAGE: &str = "imdspec client-check [OPTIONS] -- COMMAND [ARGS]...";

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    crate::usage::error(USAGE, message)
}

/// Runs `imdspec client-check`.
pub fn main(args: ClientCheckArgs) -> ExitCode {
    let scenarios = match imds_client_check::scenarios(args.clients_dir.as_deref()) {
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
    if let Err(code) = crate::usage::check_output(USAGE, args.output.as_deref()) {
        return code;
    }
    if args.list {
        let text = if args.format == Format::Json {
            let list: Vec<serde_json::Value> = selected
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id,
                        "level": s.level.to_string(),
                        "summary": s.summary,
                    })
                })
                .collect();
            serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
        } else {
            selected
                .iter()
                .map(|s| format!("{:<40} {:<6} {}\n", s.id, s.level.to_string(), s.summary))
                .collect()
        };
        return match write_report(args.output.as_deref(), &text) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.all {
        return crate::client_matrix::main(
            &crate::client_matrix::MatrixArgs {
                root: args.root.clone(),
                drivers: args.drivers.clone(),
                matrix_dir: args.matrix_dir.clone(),
                clients_dir: args.clients_dir.clone(),
                timeout: Duration::from_millis(args.timeout_ms),
                concurrency: usize::try_from(args.concurrency).unwrap_or(1),
                strict: args.strict,
            },
            &scenarios,
            selected,
        );
    }
    if !args.stray.is_empty() {
        let program = args.stray.join(" ");
        return usage_error(format!(
            "the client program goes after `--`: imdspec client-check [OPTIONS] -- {program}"
        ));
    }
    if args.command.is_empty() {
        return usage_error(
            "no client program given: imdspec client-check [OPTIONS] -- PROGRAM [ARGS]...",
        );
    }
    let expectations = match (&args.target, &args.expectations) {
        (Some(name), _) => {
            match imds_client_check::target_expectations(args.clients_dir.as_deref(), name) {
                Ok(e) => Some(e),
                Err(TargetError::Bad(e)) => return usage_error(e),
                Err(e) => return usage_error(format!("--target {name}: {e}")),
            }
        }
        (None, Some(file)) => match Expectations::load(file) {
            Ok(e) => Some(e),
            Err(e) => return usage_error(e),
        },
        (None, None) => None,
    };
    if let Err(e) = imds_client_check::find_program(&args.command[0]) {
        eprintln!("error: cannot start the client: {e}");
        return ExitCode::from(3);
    }
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
        imdsv1: match args.imdsv1 {
            Imdsv1Arg::Fallback => imds_client_check::Imdsv1::Fallback,
            Imdsv1Arg::Never => imds_client_check::Imdsv1::Never,
        },
        components: args.components.clone(),
    };
    let run =
        match imds_client_check::run_blocking(&config, selected, &scenarios, expectations.as_ref())
        {
            Ok(run) => run,
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
    let report = Report {
        command: "imdspec client-check",
        runs: vec![run],
        strict: args.strict,
    };
    let color = args.output.is_none() && std::io::stdout().is_terminal();
    let text = match args.format {
        Format::Human => imds_client_check::human(&report, color, args.detail == DetailLevel::All),
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    if let Err(e) = write_report(args.output.as_deref(), &text) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if args.output.is_some() {
        // Keep the verdict visible when the report went to a file.
        eprint!("{}", report.human_verdict(false));
    }
    ExitCode::from(report.exit_code())
}

/// Writes `text` to `output`, or to standard output.
fn write_report(output: Option<&Path>, text: &str) -> Result<(), String> {
    match output {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| format!("--output {}: cannot write: {e}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot write the report: {e}")),
    }
}
