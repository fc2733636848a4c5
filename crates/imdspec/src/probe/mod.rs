//! `imdspec probe`: from inside an instance or container, what does this IMDS endpoint really
//! enforce? A handful of requests under a tight budget (at most about two per-request
//! timeouts), then a one-line verdict, the effective options under their describe-instances
//! names, diagnoses (the hop-limit symptom first) and, with declared options, the fields that
//! differ.
//!
//! - [`observe`] sends the requests (through the runner's HTTP client) and keeps raw evidence;
//! - [`infer`] turns evidence into findings and compares them with declared options (pure);
//! - [`render`] prints the human table or the JSON document.
//!
//! Exit codes: 0 answered (and, with declared options, behaves as declared); 1 differs from
//! the declared options; 2 usage error; 3 nothing answered.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use imds_conformance::client::{BaseUrl, ClientError};
use imds_model::{MetadataOptions, OptionsState};

use crate::options_args::{DeclaredOptions, OptionFlags};

pub mod infer;
pub mod observe;
pub mod render;

use infer::{Comparison, Findings};
use observe::{Observations, ProbeConfig, Role, Target};

/// The IPv4 IMDS endpoint.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The IPv6 IMDS endpoint (Nitro instances with `HttpProtocolIpv6=enabled`).
pub const DEFAULT_IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Default per-request timeout: the whole probe stays under 3 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// Exit code when the endpoint differs from the declared options.
const EXIT_DIFFERS: u8 = 1;
/// Exit code for usage errors.
const EXIT_USAGE: u8 = 2;
/// Exit code when nothing answered.
const EXIT_NO_ANSWER: u8 = 3;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A verdict line and a short table.
    Human,
    /// One JSON document (describe-instances field names plus raw observations).
    Json,
}

/// Arguments of `imdspec probe`.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// IMDS base URL [default: http://169.254.169.254].
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
    /// Declared options to compare with (exit 1 when the endpoint differs).
    #[command(flatten)]
    options: OptionFlags,
}

fn usage_error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!(
        "error: {message}\n\nUsage: imdspec probe [OPTIONS]\n\nFor more information, try '--help'."
    );
    ExitCode::from(EXIT_USAGE)
}

/// The endpoints to probe, or a usage error.
fn config(args: &ProbeArgs) -> Result<ProbeConfig, String> {
    let primary = args
        .endpoint
        .clone()
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let ipv6 = match (&args.ipv6_endpoint, args.ipv6, &args.endpoint) {
        (Some(url), _, _) => Some(url.clone()),
        (None, true, None) => Some(DEFAULT_IPV6_ENDPOINT.to_owned()),
        (None, true, Some(_)) => {
            return Err("--ipv6 with --endpoint needs --ipv6-endpoint URL as well \
                 (a custom endpoint is never mixed with the real fd00:ec2::254)"
                .into());
        }
        (None, false, _) => None,
    };
    let config = ProbeConfig {
        primary: Target {
            url: primary,
            role: Role::Primary,
        },
        ipv6: ipv6.map(|url| Target {
            url,
            role: Role::Ipv6,
        }),
        timeout: Duration::from_millis(args.timeout_ms),
    };
    BaseUrl::parse(&config.primary.url).map_err(|e| format!("--endpoint: {e}"))?;
    if let Some(t) = &config.ipv6 {
        BaseUrl::parse(&t.url).map_err(|e| format!("--ipv6-endpoint: {e}"))?;
    }
    Ok(config)
}

/// The declared options and their `State`, from the flags and `--metadata-options`.
fn declared(args: &ProbeArgs) -> anyhow::Result<(DeclaredOptions, Option<OptionsState>)> {
    let d = args.options.declared()?;
    let state = match &args.options.metadata_options {
        Some(path) => std::fs::read_to_string(path)
            .ok()
            .and_then(|t| MetadataOptions::from_describe_instances_json(&t).ok())
            .map(|o| o.state),
        None => None,
    };
    Ok((d, state))
}

/// One probe's result: what was seen, what it means, and the comparison when options were
/// declared.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Raw evidence.
    pub observations: Observations,
    /// What it means.
    pub findings: Findings,
    /// Declared options against behaviour (`None` when nothing was declared).
    pub comparison: Option<Comparison>,
}

impl Probe {
    /// The exit code: 3 nothing answered, 1 differs from the declaration, else 0.
    pub fn exit_code(&self) -> u8 {
        if !self.findings.answers {
            EXIT_NO_ANSWER
        } else if self.comparison.as_ref().is_some_and(|c| !c.matches) {
            EXIT_DIFFERS
        } else {
            0
        }
    }
}

/// Probes the configured endpoints and compares with `declared` (when it declares anything).
pub async fn probe(
    config: &ProbeConfig,
    declared: &DeclaredOptions,
    state: Option<OptionsState>,
) -> Result<Probe, ClientError> {
    let observations = observe::observe(config).await?;
    let findings = infer::infer(&observations);
    let comparison = (!declared.is_empty()).then(|| infer::compare(declared, state, &findings));
    Ok(Probe {
        observations,
        findings,
        comparison,
    })
}

/// Runs `imdspec probe`.
pub fn main(args: ProbeArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let (declared, state) = match declared(&args) {
        Ok(d) => d,
        Err(e) => return usage_error(format!("{e:#}")),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Every request has its own deadline; this outer one only guards against a bug.
    let guard = config.budget() + Duration::from_secs(1);
    let result = runtime
        .block_on(async { tokio::time::timeout(guard, probe(&config, &declared, state)).await });
    // A host-name lookup still running in a blocking thread must not hold the exit.
    runtime.shutdown_timeout(Duration::from_millis(50));
    let probe = match result {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return usage_error(e),
        Err(_) => {
            eprintln!(
                "error: the probe did not finish within {} ms",
                guard.as_millis()
            );
            return ExitCode::from(EXIT_NO_ANSWER);
        }
    };
    let file = args
        .options
        .metadata_options
        .as_ref()
        .map(|p| p.display().to_string());
    let decl = probe.comparison.as_ref().map(|c| render::Declared {
        file: file.as_deref(),
        comparison: c,
    });
    let text = match args.format {
        Format::Human => render::human(&probe.observations, &probe.findings, decl),
        Format::Json => render::json(&probe.observations, &probe.findings, decl),
    };
    print!("{text}");
    ExitCode::from(probe.exit_code())
}

#[cfg(test)]
mod tests {
    use imds_model::{HttpTokens, Toggle};
    use imds_server::{Faults, ImdsServer};

    use super::*;

    fn config(url: String) -> ProbeConfig {
        ProbeConfig {
            primary: Target {
                url,
                role: Role::Primary,
            },
            ipv6: None,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
        }
    }

    /// The requests on the wire: what each carries, and nothing else is asked.
    #[tokio::test]
    async fn four_requests_shaped_as_documented() {
        let server = ImdsServer::builder()
            .options(MetadataOptions {
                http_tokens: HttpTokens::Required,
                instance_metadata_tags: Toggle::Enabled,
                ..MetadataOptions::default()
            })
            .start()
            .await
            .unwrap();
        let p = probe(&config(server.url()), &DeclaredOptions::default(), None)
            .await
            .unwrap();
        assert_eq!(p.exit_code(), 0);
        assert!(p.comparison.is_none());
        let mut seen: Vec<(String, String, bool, Option<u32>)> = server
            .journal()
            .iter()
            .map(|e| {
                (
                    e.method.clone(),
                    e.path.clone(),
                    e.token.is_some(),
                    e.header(imds_model::TTL_HEADER.as_str())
                        .and_then(|t| t.parse().ok()),
                )
            })
            .collect();
        seen.sort();
        let s = |m: &str, p: &str, token, ttl| (m.to_owned(), p.to_owned(), token, ttl);
        assert_eq!(
            seen,
            [
                s("GET", "/latest/meta-data/instance-id", false, None),
                s("GET", "/latest/meta-data/instance-id", true, None),
                s("GET", "/latest/meta-data/tags/instance", true, None),
                s(
                    "PUT",
                    "/latest/api/token",
                    false,
                    Some(observe::PROBE_TOKEN_TTL)
                ),
            ]
        );
        // The token never leaves the observe module: the model's tokens start with AQAE.
        assert!(!format!("{p:?}").contains("AQAE"), "{p:?}");
        assert_eq!(p.observations.main().token_put.token_length, Some(56));
    }

    #[tokio::test]
    async fn throttled_answers_are_reported_not_waited_out() {
        let server = ImdsServer::builder()
            .faults(Faults::parse_all(["get=429"]).unwrap())
            .start()
            .await
            .unwrap();
        let p = probe(&config(server.url()), &DeclaredOptions::default(), None)
            .await
            .unwrap();
        let codes: Vec<_> = p.findings.diagnoses.iter().map(|d| d.code).collect();
        assert!(codes.contains(&"throttled"), "{codes:?}");
        assert!(codes.contains(&"tokenless-get-status"), "{codes:?}");
        assert_eq!(
            p.findings.http_tokens, None,
            "a 429 says nothing about tokens"
        );
        // No retries: one tokenless GET only.
        let gets = server
            .journal()
            .iter()
            .filter(|e| e.method == "GET" && e.token.is_none())
            .count();
        assert_eq!(gets, 1);
    }
}
