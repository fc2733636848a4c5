//! `imdspec run` and `imdspec probe` read the same endpoint the same way: for every option
//! profile of the reference server and every scripted fault, the runner's detected options
//! and the probe's inferred ones are equal, and both see (or both miss) the hop limit.
//! Loopback only: each combination gets its own in-process `ImdsServer`.

use std::sync::Arc;
use std::time::Duration;

use imds_conformance::client::ClientConfig;
use imds_conformance::runner::{self, HOP_LIMITED, RunConfig};
use imds_conformance::{Catalogue, RunError};
use imds_model::{HttpTokens, MetadataOptions, PartialOptions, Toggle};
use imds_probe::infer::V2;
use imds_probe::{DeclaredOptions, ProbeConfig};
use imds_server::{Faults, ImdsServer};

/// Short enough to keep the hung combinations quick, long enough for a loaded machine.
const TIMEOUT: Duration = Duration::from_millis(600);

/// Every fault of `crates/imds-server/src/faults.rs` but `revoke-tokens-after=N`: what it
/// does depends on which request is the Nth, and the probe sends its requests concurrently
/// where the runner sends them one by one, so the two see different answers, not a
/// different reading of the same answers.
const FAULTS: &[&[&str]] = &[
    &[],
    &["token-put=400"],
    &["token-put=403"],
    &["token-put=404"],
    &["token-put=405"],
    &["token-put=500"],
    &["token-put=hang"],
    &["get=401"],
    &["get=403"],
    &["get=404"],
    &["get=429"],
    &["get=500"],
    &["get=hang"],
    &["token-put=hang", "get=403"],
    &["token-put=403", "get=403"],
    &["endpoint=reset"],
];

fn profiles() -> Vec<MetadataOptions> {
    let mut out = Vec::new();
    for http_tokens in [HttpTokens::Optional, HttpTokens::Required] {
        for http_endpoint in [Toggle::Enabled, Toggle::Disabled] {
            for instance_metadata_tags in [Toggle::Enabled, Toggle::Disabled] {
                out.push(MetadataOptions {
                    http_tokens,
                    http_endpoint,
                    instance_metadata_tags,
                    ..MetadataOptions::default()
                });
            }
        }
    }
    out
}

/// What `run` detected (nothing when it could not start) and whether it saw the hop limit.
async fn run_sees(url: &str) -> (PartialOptions, bool) {
    let mut config = RunConfig::new("agree", url);
    // Detection's rounds need not be a second apart against a local server.
    config.probe_spacing = Duration::from_millis(10);
    config.client = ClientConfig {
        timeout: TIMEOUT,
        throttle_backoff: Duration::from_millis(5),
        ..ClientConfig::default()
    };
    // No cases: only detection runs.
    let empty = Arc::new(Catalogue {
        cases: Vec::new(),
        paths: Vec::new(),
    });
    match runner::run(empty, config).await {
        Ok(r) => (
            r.target.detected,
            r.notes.iter().any(|n| n.contains(HOP_LIMITED)),
        ),
        Err(RunError::Unreachable { .. }) => (PartialOptions::default(), false),
        Err(e) => panic!("{url}: {e}"),
    }
}

/// What `probe` inferred and whether it saw the hop limit.
async fn probe_sees(url: &str) -> (PartialOptions, bool) {
    let config = ProbeConfig::new(url, None, TIMEOUT).unwrap();
    let p = imds_probe::probe(&config, &DeclaredOptions::default(), None)
        .await
        .unwrap();
    (p.findings.options(), p.findings.v2 == V2::HopLimited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_probe_agree_on_every_profile_and_fault() {
    let mut disagreements = Vec::new();
    let mut fault_free = Vec::new();
    for options in profiles() {
        for faults in FAULTS {
            let server = ImdsServer::builder()
                .options(options)
                .faults(Faults::parse_all(faults.iter().copied()).unwrap())
                .start()
                .await
                .unwrap();
            let url = server.url();
            // A fresh server per tool, so `…xN` counters and hung connections of one tool
            // cannot change what the other sees.
            let run = run_sees(&url).await;
            let restarted = ImdsServer::builder()
                .options(options)
                .faults(Faults::parse_all(faults.iter().copied()).unwrap())
                .start()
                .await
                .unwrap();
            let probe = probe_sees(&restarted.url()).await;
            let what = format!(
                "{} with {faults:?}",
                PartialOptions::observable(&options).describe()
            );
            if run != probe {
                disagreements.push(format!("{what}: run {run:?}, probe {probe:?}"));
            }
            if faults.is_empty() {
                fault_free.push((options, probe.0));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "run and probe disagree:\n{}",
        disagreements.join("\n")
    );
    // Agreement alone could be two wrong answers: without faults both must be right.
    for (options, seen) in fault_free {
        assert_eq!(
            seen.http_endpoint,
            Some(options.http_endpoint),
            "{options:?}"
        );
        if options.http_endpoint == Toggle::Enabled {
            assert_eq!(seen.http_tokens, Some(options.http_tokens), "{options:?}");
            if options.instance_metadata_tags == Toggle::Disabled {
                assert_eq!(seen.instance_metadata_tags, Some(Toggle::Disabled));
            }
        } else {
            assert_eq!(seen.http_tokens, None);
            assert_eq!(seen.instance_metadata_tags, None);
        }
    }
}
