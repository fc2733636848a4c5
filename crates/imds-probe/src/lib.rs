//! What an IMDS endpoint really enforces, seen from the instance: a handful of requests under
//! a tight budget (at most about two per-request timeouts), then findings (is IMDSv1 on, is a
//! token needed, are tags served, does the hop limit bite), the effective options under their
//! describe-instances names, diagnoses (the hop-limit symptom first) and, with declared options,
//! the fields that differ.
//!
//! - [`observe`] sends the requests (through `imds-observe`'s HTTP client) and keeps
//!   raw evidence;
//! - [`infer`] turns evidence into findings and compares them with declared options (pure);
//! - [`render`] prints the human table or the JSON document;
//! - [`sinks`] shapes the result for fleet tools: JSON lines, SSM Inventory, Security Hub
//!   (ASFF) and OCSF.
//!
//! ```no_run
//! use std::time::Duration;
//! use imds_probe::{DeclaredOptions, ProbeConfig};
//!
//! let config = ProbeConfig::new(imds_probe::DEFAULT_ENDPOINT, None, Duration::from_secs(1))?;
//! let probe = imds_probe::probe_blocking(&config, &DeclaredOptions::default(), None)?;
//! print!("{}", probe.human(None));
//! std::process::exit(probe.exit_code().into());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::time::Duration;

use imds_model::OptionsState;
use imds_observe::client::ClientError;

mod declared;
pub mod infer;
pub mod observe;
pub mod render;
pub mod sinks;

pub use declared::DeclaredOptions;
pub use infer::{Comparison, Findings};
pub use observe::{ConfigError, Identity, Observations, ProbeConfig, Role, Target};

/// The IPv4 IMDS endpoint.
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
/// The IPv6 IMDS endpoint (Nitro instances with `HttpProtocolIpv6=enabled`).
pub const DEFAULT_IPV6_ENDPOINT: &str = "http://[fd00:ec2::254]";
/// Default per-request timeout: the whole probe stays under 3 s.
pub const DEFAULT_TIMEOUT_MS: u64 = 1000;

/// Exit code when the endpoint differs from the declared options.
pub const EXIT_DIFFERS: u8 = 1;
/// Exit code when nothing answered (or the probe overran its budget).
pub const EXIT_NO_ANSWER: u8 = 3;

/// Why a probe gave no result.
#[derive(Debug)]
pub enum ProbeError {
    /// The HTTP client refused the configuration.
    Client(ClientError),
    /// The probe ran past its budget (a bug: every request has its own deadline).
    Overran {
        /// The outer deadline that passed.
        guard: Duration,
    },
    /// The async runtime could not start ([`probe_blocking`] only).
    Runtime(std::io::Error),
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Client(e) => write!(f, "{e}"),
            ProbeError::Overran { guard } => write!(
                f,
                "the probe did not finish within {} ms",
                guard.as_millis()
            ),
            ProbeError::Runtime(e) => write!(f, "cannot start the async runtime: {e}"),
        }
    }
}

impl std::error::Error for ProbeError {}

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
        } else if self.differs() {
            EXIT_DIFFERS
        } else {
            0
        }
    }

    /// True when tokenless requests were answered (IMDSv1 open).
    pub fn imdsv1_open(&self) -> bool {
        self.findings.v1 == infer::V1::Open
    }

    /// True when the endpoint does not do what the declared options say.
    pub fn differs(&self) -> bool {
        self.comparison.as_ref().is_some_and(|c| !c.matches)
    }

    /// The comparison for the renderers; `file` names where the declaration came from.
    fn declared<'a>(&'a self, file: Option<&'a str>) -> Option<render::Declared<'a>> {
        self.comparison
            .as_ref()
            .map(|comparison| render::Declared { file, comparison })
    }

    /// The verdict line and table; `file` is the declared-options file, if any.
    pub fn human(&self, file: Option<&str>) -> String {
        render::human(&self.observations, &self.findings, self.declared(file))
    }

    /// The JSON document ([`render::JSON_FORMAT`]); `file` is the declared-options file.
    pub fn json(&self, file: Option<&str>) -> String {
        render::json(&self.observations, &self.findings, self.declared(file))
    }

    /// The JSON document on one line ([`sinks::jsonl`]).
    pub fn jsonl(&self, file: Option<&str>) -> String {
        sinks::jsonl(self, file)
    }

    /// An SSM Inventory item captured at `now` ([`sinks::ssm_inventory`]).
    pub fn ssm_inventory(
        &self,
        file: Option<&str>,
        now: imds_model::Timestamp,
        fallback: &sinks::Where,
    ) -> String {
        sinks::ssm_inventory(self, file, now, fallback)
    }

    /// A Security Hub finding created at `now` ([`sinks::asff`]).
    pub fn asff(
        &self,
        file: Option<&str>,
        now: imds_model::Timestamp,
        fallback: &sinks::Where,
    ) -> Result<String, sinks::Missing> {
        sinks::asff(self, file, now, fallback)
    }

    /// An OCSF Compliance Finding at `now` ([`sinks::ocsf`]).
    pub fn ocsf(
        &self,
        file: Option<&str>,
        now: imds_model::Timestamp,
        fallback: &sinks::Where,
    ) -> Result<String, sinks::Missing> {
        sinks::ocsf(self, file, now, fallback)
    }
}

/// Probes the configured endpoints and compares with `declared` (when it declares anything).
/// `state` is the declaration's `State` (`pending`/`applied`), which explains a difference.
pub async fn probe(
    config: &ProbeConfig,
    declared: &DeclaredOptions,
    state: Option<OptionsState>,
) -> Result<Probe, ProbeError> {
    // Every request has its own deadline; this outer one only guards against a bug.
    let guard = config.budget() + Duration::from_secs(1);
    let observations = tokio::time::timeout(guard, observe::observe(config))
        .await
        .map_err(|_| ProbeError::Overran { guard })?
        .map_err(ProbeError::Client)?;
    let findings = infer::infer(&observations);
    let comparison = (!declared.is_empty()).then(|| infer::compare(declared, state, &findings));
    Ok(Probe {
        observations,
        findings,
        comparison,
    })
}

/// [`probe`] on its own single-threaded runtime, for callers without one.
pub fn probe_blocking(
    config: &ProbeConfig,
    declared: &DeclaredOptions,
    state: Option<OptionsState>,
) -> Result<Probe, ProbeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ProbeError::Runtime)?;
    let result = runtime.block_on(probe(config, declared, state));
    // A host-name lookup still running in a blocking thread must not hold the caller.
    runtime.shutdown_timeout(Duration::from_millis(50));
    result
}

#[cfg(test)]
mod tests {
    use imds_model::{HttpTokens, MetadataOptions, Toggle};
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
            identity: false,
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

    #[test]
    fn bad_urls_are_refused_with_their_role() {
        let t = Duration::from_millis(10);
        let ok = ProbeConfig::new("http://127.0.0.1:1", Some("http://[::1]:1"), t).unwrap();
        assert_eq!(ok.primary.role, Role::Primary);
        assert_eq!(ok.ipv6.map(|t| t.role), Some(Role::Ipv6));
        let e = ProbeConfig::new("ftp://127.0.0.1", None, t).unwrap_err();
        assert_eq!(e.role, Role::Primary);
        assert!(e.to_string().starts_with("endpoint: "), "{e}");
        let e = ProbeConfig::new("http://127.0.0.1:1", Some("not a url"), t).unwrap_err();
        assert_eq!(e.role, Role::Ipv6);
    }

    #[test]
    fn declared_options_fill_from_defaults() {
        let all = DeclaredOptions::all_of(&MetadataOptions {
            http_tokens: HttpTokens::Required,
            ..MetadataOptions::default()
        });
        assert_eq!(all.http_tokens, Some(HttpTokens::Required));
        assert!(!all.is_empty());
        assert!(DeclaredOptions::default().is_empty());
        let tags = DeclaredOptions {
            instance_metadata_tags: Some(Toggle::Enabled),
            ..DeclaredOptions::default()
        }
        .or_defaults();
        assert_eq!(tags.instance_metadata_tags, Toggle::Enabled);
        assert_eq!(tags.http_tokens, MetadataOptions::default().http_tokens);
    }

    /// Nothing listening: the probe still ends, says so and renders both formats.
    #[tokio::test]
    async fn a_closed_port_is_no_answer() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let declared = DeclaredOptions {
            http_tokens: Some(HttpTokens::Required),
            ..DeclaredOptions::default()
        };
        let p = probe(&config(format!("http://127.0.0.1:{port}")), &declared, None)
            .await
            .unwrap();
        assert_eq!(p.exit_code(), EXIT_NO_ANSWER);
        assert!(p.comparison.is_some());
        let json: serde_json::Value = serde_json::from_str(&p.json(Some("m.json"))).unwrap();
        assert_eq!(json["format"], render::JSON_FORMAT, "{json}");
        assert!(!p.human(None).is_empty());
    }

    /// A server that accepts and resets: the reset may reach the client during its connect or
    /// after its request; either way it is one verdict, BROKEN (a listener breaking exchanges),
    /// never NOT REACHABLE (nothing listening).
    #[tokio::test]
    async fn a_resetting_endpoint_always_gets_the_same_verdict() {
        let server = ImdsServer::builder()
            .faults(Faults::parse_all(["endpoint=reset"]).unwrap())
            .start()
            .await
            .unwrap();
        for _ in 0..8 {
            let p = probe(&config(server.url()), &DeclaredOptions::default(), None)
                .await
                .unwrap();
            assert!(
                p.findings.verdict.starts_with("IMDS BROKEN"),
                "{}",
                p.findings.verdict
            );
            assert_eq!(p.exit_code(), EXIT_NO_ANSWER);
        }
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
