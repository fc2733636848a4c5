//! `imdspec fleet report`: probe outputs and run reports of a whole fleet joined with
//! describe-instances output ([`imds_fleet`]).
//!
//! Exit codes: 0 nothing needs attention; 1 something does; 2 usage error or an unreadable
//! input (the report is still printed, the file listed). With `--fail-on`, 1 when a chosen
//! condition holds and 0 otherwise (2 stays the usage error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use imds_fleet::render::{self, Format as RenderFormat};
use imds_fleet::{Condition, Declared, Fleet};

use crate::fail_on::FailOn;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Verdict, instances worth a line, failing cases, totals.
    Human,
    /// One JSON document (`imdspec-fleet/1`).
    Json,
    /// One line per instance (every option declared and observed), case and unreadable input.
    Csv,
    /// Tables, for a ticket or a wiki page.
    Markdown,
}

/// `imdspec fleet` subcommands.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Join probe outputs (and run reports) with describe-instances output.
    #[command(after_help = AFTER_HELP)]
    Report(ReportArgs),
}

/// Arguments of `imdspec fleet`.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    command: FleetCommand,
}

/// Arguments of `imdspec fleet report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// `aws ec2 describe-instances` output as is (Reservations and all): the control plane's
    /// view to compare with, and the instances expected to have a probe output.
    #[arg(long, value_name = "FILE")]
    declared: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 when this holds anywhere in the fleet (repeatable), else 0: imdsv1-open,
    /// differs, unreachable, unreadable, any.
    #[arg(long, value_enum, value_name = "CONDITION")]
    fail_on: Vec<FailOn>,
    /// Probe outputs (any `imdspec probe` format but human) and `imdspec run --format json`
    /// reports: files, or directories walked recursively (files named `stdout` or ending in
    /// .json, .jsonl, .ndjson).
    #[arg(value_name = "PATH", required = true)]
    paths: Vec<PathBuf>,
}

/// The end of `imdspec fleet report --help`.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  nothing needs attention
  1  something needs attention (marked !: an option differs from the control plane, no
     answer, a running instance not probed, an instance unknown to the control plane; or a
     failing conformance case)
  2  usage error, or an input could not be read (the report is still printed)
With --fail-on CONDITION (repeatable), the gate for pipelines: 1 when a chosen condition
holds anywhere in the fleet, else 0 (2 stays the usage error; unreadable inputs are still
listed):
  imdsv1-open  an instance answers tokenless requests, whatever is declared
  differs      an endpoint does not do what the control plane declares (needs --declared)
  unreachable  an endpoint answered nothing
  unreadable   an input could not be read
  any          any of these

Example (a pipeline step that fails while any instance still allows IMDSv1):
  imdspec fleet report --fail-on imdsv1-open observed/

Example (Run Command output copied from S3, see crates/imds-fleet/deploy/):
  aws s3 cp --recursive s3://my-bucket/imds-probe/ observed/
  aws ec2 describe-instances > declared.json
  imdspec fleet report --declared declared.json observed/";

const USAGE: &str = "imdspec fleet report [OPTIONS] <PATH>...";

/// Exit code when the report cannot be written (as for an unreadable input).
const EXIT_CANNOT_WRITE: u8 = imds_fleet::EXIT_UNREADABLE;

/// Runs `imdspec fleet`.
pub fn main(args: FleetArgs) -> ExitCode {
    match args.command {
        FleetCommand::Report(a) => report(a),
    }
}

fn report(args: ReportArgs) -> ExitCode {
    let declared = match args.declared.as_deref().map(Declared::load).transpose() {
        Ok(d) => d,
        Err(e) => return crate::usage::error(USAGE, format!("--declared {e}")),
    };
    let mut fleet = Fleet::new(declared);
    fleet.add_paths(&args.paths);
    let report = fleet.finish();
    let format = match args.format {
        Format::Human => RenderFormat::Human,
        Format::Json => RenderFormat::Json,
        Format::Csv => RenderFormat::Csv,
        Format::Markdown => RenderFormat::Markdown,
    };
    // Streamed: a large fleet's report is written row by row, never held whole.
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = render::render_to(&report, format, &mut out).and_then(|()| {
        use std::io::Write as _;
        out.flush()
    });
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write the report: {e}");
        return ExitCode::from(EXIT_CANNOT_WRITE);
    }
    for u in &report.unreadable {
        eprintln!("error: {u}");
    }
    if args.fail_on.is_empty() {
        return ExitCode::from(report.exit_code());
    }
    crate::fail_on::exit_code(&args.fail_on, |c| match c {
        FailOn::Imdsv1Open => report.holds(Condition::Imdsv1Open),
        FailOn::Differs => report.holds(Condition::Differs),
        FailOn::Unreachable => report.holds(Condition::Unreachable),
        FailOn::Unreadable => report.holds(Condition::Unreadable),
        // Expanded by exit_code.
        FailOn::Any => false,
    })
}
