//! The usage example of README.md through the public API only, against a loopback reference
//! server instead of 169.254.169.254.

use std::time::Duration;

use imds_model::{HttpTokens, MetadataOptions};
use imds_probe::{DeclaredOptions, EXIT_DIFFERS, ProbeConfig, Role};
use imds_server::ImdsServer;

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Runtime::new()?;
    // The server runs on its own runtime; the probe starts its own inside probe_blocking.
    let server = runtime.block_on(
        ImdsServer::builder()
            .options(MetadataOptions::default())
            .start(),
    )?;

    let config = ProbeConfig::new(&server.url(), None, Duration::from_secs(1))?;
    let declared = DeclaredOptions {
        http_tokens: Some(HttpTokens::Required),
        ..Default::default()
    };
    let probe = imds_probe::probe_blocking(&config, &declared, None)?;
    // EC2's default answers IMDSv1, so "required" was a wrong declaration.
    assert_eq!(probe.exit_code(), EXIT_DIFFERS);
    assert_eq!(probe.findings.http_tokens, Some(HttpTokens::Optional));
    let human = probe.human(None);
    assert!(human.contains("HttpTokens"), "{human}");
    let json: serde_json::Value = serde_json::from_str(&probe.json(None))?;
    assert_eq!(json["format"], imds_probe::render::JSON_FORMAT);

    let refused = ProbeConfig::new("http://127.0.0.1:1", Some("nope"), Duration::from_secs(1));
    assert_eq!(refused.map_err(|e| e.role).err(), Some(Role::Ipv6));
    Ok(())
}
