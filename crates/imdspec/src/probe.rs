//! `imdspec probe`: the arguments of [`imds_probe`], its output and its exit codes.
//!
//! Exit codes: 0 answered (and, with declared options, behaves as declared); 1 differs from
//! the declared options; 2 usage error; 3 nothing answered.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use imds_probe::{
    DEFAULT_ENDPOINT, DEFAULT_IPV6_ENDPOINT, DEFAULT_TIMEOUT_MS, EXIT_NO_ANSWER, ProbeConfig,
    ProbeError, Role,
};

use crate::options_args::OptionFlags;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A verdict line and a short table.
    Human,
    /// One JSON document (describe-instances field names plus raw observations).
    Json,
}

/// The end of `imdspec probe --help`.
pub const AFTER_HELP: &str = "\
Exit codes:
  0  the endpoint answered (and behaves as declared, when options are declared)
  1  the endpoint differs from the declared options
  2  usage error (bad flag, unreadable --metadata-options file)
  3  nothing answered

Example (on an instance, declaring what the instance should enforce):
  imdspec probe --http-tokens required --http-put-response-hop-limit 2";

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
    /// Declared options: they declare what to expect and are compared with what the endpoint
    /// does (exit 1 when it differs); nothing is changed on the instance.
    #[command(
        flatten,
        next_help_heading = "Declared options (what to expect; nothing is changed on the instance)"
    )]
    options: OptionFlags,
}

const USAGE: &str = "imdspec probe [OPTIONS]";

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
    let text = match args.format {
        Format::Human => probe.human(file.as_deref()),
        Format::Json => probe.json(file.as_deref()),
    };
    print!("{text}");
    ExitCode::from(probe.exit_code())
}
