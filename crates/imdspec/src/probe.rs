//! `imdspec probe`: the arguments of [`imds_probe`], its output and its exit codes.
//!
//! Exit codes: 0 answered (and, with declared options, behaves as declared); 1 differs from
//! the declared options; 2 usage error; 3 nothing answered. With `--fail-on`, 1 when a chosen
//! condition holds and 0 otherwise (2 stays the usage error).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use imds_model::Timestamp;
use imds_probe::sinks::Where;
use imds_probe::{
    DEFAULT_ENDPOINT, DEFAULT_IPV6_ENDPOINT, DEFAULT_TIMEOUT_MS, EXIT_NO_ANSWER, ProbeConfig,
    ProbeError, Role,
};

use crate::fail_on::FailOn;
use crate::options_args::OptionFlags;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A verdict line and a short table.
    Human,
    /// One JSON document (describe-instances field names plus raw observations).
    Json,
    /// The JSON document on one compact line (SSM Run Command output, log shippers).
    Jsonl,
    /// An SSM Inventory item `Custom:ImdsProbe` (the `--items` of `aws ssm put-inventory`).
    SsmInventory,
    /// A Security Hub finding in ASFF (the `--findings` of `batch-import-findings`).
    Asff,
    /// An OCSF 1.6.0 Compliance Finding (class 2003), the version Security Hub reads.
    Ocsf,
}

impl Format {
    /// The name given on the command line.
    fn name(self) -> String {
        self.to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default()
    }

    /// Findings need the account and region from the identity document.
    fn needs_identity(self) -> bool {
        matches!(self, Format::SsmInventory | Format::Asff | Format::Ocsf)
    }
}

/// The end of `imdspec probe --help`.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  the endpoint answered (and behaves as declared, when options are declared)
  1  the endpoint differs from the declared options
  2  usage error (bad flag, unreadable --metadata-options file)
  3  nothing answered
With --fail-on CONDITION (repeatable): 1 when a chosen condition holds, else 0 (2 stays the
usage error): imdsv1-open (tokenless requests answered), differs (not as declared),
unreachable (nothing answered), unreadable (never holds for one probe), any.

Example (on an instance, declaring what the instance should enforce):
  imdspec probe --http-tokens required --http-put-response-hop-limit 2

Formats for fleet tools: jsonl (SSM Run Command output), ssm-inventory (aws ssm put-inventory
--items), asff (aws securityhub batch-import-findings --findings), ocsf (Compliance Finding,
class 2003); the last three also read the instance identity document for account and region.
When IMDS does not answer, the instance id, account and region come from --aws-instance-id,
--aws-account-id and --aws-region, else from SSM Agent's AWS_SSM_INSTANCE_ID and
AWS_SSM_REGION_NAME (set for Run Command), so an unreachable endpoint still gets a finding.";

/// Arguments of `imdspec probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// IMDS base URL, without a path [default: http://169.254.169.254].
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Also probe the IPv6 endpoint (http://[fd00:ec2::254], or --ipv6-endpoint) to see
    /// HttpProtocolIpv6.
    #[arg(long)]
    ipv6: bool,
    /// The IPv6 endpoint to probe (implies --ipv6; required with --ipv6 when --endpoint is
    /// given, so a custom endpoint is never mixed with the real one).
    #[arg(long, value_name = "URL")]
    ipv6_endpoint: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Time budget of one request in milliseconds; the probe takes at most about twice this.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    timeout_ms: u64,
    /// Exit 1 when this holds (repeatable), else 0: imdsv1-open, differs, unreachable,
    /// unreadable, any.
    #[arg(long, value_enum, value_name = "CONDITION")]
    fail_on: Vec<crate::fail_on::FailOn>,
    /// Account id for ssm-inventory/asff/ocsf when the identity document cannot be read.
    #[arg(long, value_name = "ID", value_parser = account_id)]
    aws_account_id: Option<String>,
    /// Region for ssm-inventory/asff/ocsf when the identity document cannot be read (else
    /// AWS_SSM_REGION_NAME).
    #[arg(long, value_name = "REGION")]
    aws_region: Option<String>,
    /// Instance id for ssm-inventory/asff/ocsf when IMDS does not say (off or not answering;
    /// else AWS_SSM_INSTANCE_ID).
    #[arg(long, value_name = "ID")]
    aws_instance_id: Option<String>,
    /// Declared options: they declare what to expect and are compared with what the endpoint
    /// does (exit 1 when it differs); nothing is changed on the instance.
    #[command(
        flatten,
        next_help_heading = "Declared options (what to expect; nothing is changed on the instance)"
    )]
    options: OptionFlags,
}

const USAGE: &str = "imdspec probe [OPTIONS]";

fn account_id(s: &str) -> Result<String, String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("an AWS account id is 12 digits".into())
    }
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    crate::usage::error(USAGE, message)
}

/// The endpoints to probe, or a usage error.
fn config(args: &ProbeArgs) -> Result<ProbeConfig, String> {
    let primary = args.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
    let ipv6 = match (&args.ipv6_endpoint, args.ipv6, &args.endpoint) {
        (Some(url), _, _) => Some(url.as_str()),
        (None, true, None) => Some(DEFAULT_IPV6_ENDPOINT),
        (None, true, Some(_)) => {
            return Err("--ipv6 with --endpoint needs --ipv6-endpoint URL as well \
                 (a custom endpoint is never mixed with the real fd00:ec2::254)"
                .into());
        }
        (None, false, _) => None,
    };
    ProbeConfig::new(primary, ipv6, Duration::from_millis(args.timeout_ms)).map_err(|e| {
        let flag = match e.role {
            Role::Primary => "--endpoint",
            Role::Ipv6 => "--ipv6-endpoint",
        };
        format!("{flag}: {}", e.error)
    })
}

/// Runs `imdspec probe`.
pub fn main(args: ProbeArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let (declared, state) = match args.options.declared_with_state() {
        Ok(d) => d,
        Err(e) => return usage_error(format!("{e:#}")),
    };
    let config = if args.format.needs_identity() {
        config.with_identity()
    } else {
        config
    };
    let probe = match imds_probe::probe_blocking(&config, &declared, state) {
        Ok(p) => p,
        Err(e @ ProbeError::Client(_)) => return usage_error(e),
        Err(e @ ProbeError::Overran { .. }) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_NO_ANSWER);
        }
        Err(e @ ProbeError::Runtime(_)) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let file = args
        .options
        .metadata_options
        .as_ref()
        .map(|p| p.display().to_string());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Timestamp(0), |d| {
            Timestamp(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        });
    let fallback = Where {
        account_id: args.aws_account_id.clone(),
        region: args.aws_region.clone(),
        instance_id: args.aws_instance_id.clone(),
    }
    .or_run_command_env(|k| std::env::var(k).ok());
    let file = file.as_deref();
    let text = match args.format {
        Format::Human => Ok(probe.human(file)),
        Format::Json => Ok(probe.json(file)),
        Format::Jsonl => Ok(probe.jsonl(file)),
        Format::SsmInventory => Ok(probe.ssm_inventory(file, now, &fallback)),
        Format::Asff => probe.asff(file, now, &fallback),
        Format::Ocsf => probe.ocsf(file, now, &fallback),
    };
    let text = match text {
        Ok(t) => t,
        // Nothing answered: say so with the probe's own exit code, not as a usage error.
        Err(e) if probe.exit_code() == EXIT_NO_ANSWER => {
            eprintln!("error: {}: {e}", probe.findings.verdict);
            return ExitCode::from(EXIT_NO_ANSWER);
        }
        Err(e) => return usage_error(format!("--format {}: {e}", args.format.name())),
    };
    print!("{text}");
    if args.fail_on.is_empty() {
        return ExitCode::from(probe.exit_code());
    }
    let holds = |c| match c {
        FailOn::Imdsv1Open => probe.imdsv1_open(),
        FailOn::Differs => probe.differs(),
        FailOn::Unreachable => !probe.findings.answers,
        // One probe reads no input; `Any` is expanded by exit_code.
        FailOn::Unreadable | FailOn::Any => false,
    };
    crate::fail_on::exit_code(&args.fail_on, holds)
}
