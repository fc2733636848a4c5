//! The usage example of README.md through the public API only, with a client that does
//! nothing (`sh -c 'exit 0'`), so every selected scenario that needs requests fails.

use std::time::Duration;

use imds_client_check::RunConfig;
use imds_report::{Outcome, Report};

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let scenarios = imds_client_check::scenarios(None)?;
    let globs = [glob::Pattern::new("fallback.*")?];
    let selected: Vec<_> = scenarios.select(&globs).into_iter().cloned().collect();
    assert!(selected.len() >= 2, "{}", selected.len());
    let n = selected.len();
    let expectations = imds_client_check::target_expectations(None, "botocore")?;
    let config = RunConfig {
        name: "botocore".into(),
        command: ["sh", "-c", "exit 0"].map(String::from).to_vec(),
        timeout: Duration::from_secs(20),
        concurrency: 4,
        all_exchanges: false,
        imdsv1: imds_client_check::Imdsv1::Fallback,
        components: Vec::new(),
    };
    imds_client_check::find_program(&config.command[0])?;
    let run = imds_client_check::run_blocking(&config, selected, &scenarios, Some(&expectations))?;
    assert_eq!(run.cases.len(), n);
    assert!(
        run.stale_expectations.is_empty(),
        "{:?}",
        run.stale_expectations
    );
    assert!(
        run.cases.iter().any(|c| c.outcome == Outcome::Fail),
        "a client that sends nothing cannot pass fallback.*"
    );
    let report = Report {
        command: "my-check",
        runs: vec![run],
        strict: false,
    };
    assert_eq!(report.exit_code(), 1);
    let text = imds_client_check::human(&report, false, false);
    assert!(
        text.contains("requests seen per non-passing scenario"),
        "{text}"
    );
    assert!(text.ends_with(&report.human_verdict(false)), "{text}");
    assert!(!text.contains("  declared:  "), "{text}");
    assert!(imds_client_check::target_expectations(None, "no-such").is_err());
    Ok(())
}
