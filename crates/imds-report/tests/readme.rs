//! The usage example of README.md through the public API: a listed failure becomes a known
//! failure, is not stale, and does not fail the report.

use std::path::Path;

use imds_model::PartialOptions;
use imds_report::report::{CaseResult, Detail, RunResult, Summary, TargetInfo, cause_of};
use imds_report::{Expectations, Level, Outcome, Report};

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let known = Expectations::parse(
        Path::new("mock.toml"),
        "[xfail]\n\"token.*\" = \"no TTL header\"\n",
    )?;
    let mut case = CaseResult {
        id: "token.put.ttl-echoed".into(),
        target: "mock".into(),
        level: Level::Must,
        area: "token".into(),
        outcome: Outcome::Fail,
        summary: "the PUT answer echoes the TTL".into(),
        doc: "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html".into(),
        spec: None,
        reason: None,
        duration_ms: 3,
        detail: Detail::default(),
        group: None,
    };
    known.apply(&mut case);
    assert_eq!(case.outcome, Outcome::Xfail);
    assert_eq!(case.reason.as_deref(), Some("known failure: no TTL header"));
    case.group = cause_of(&case);
    let cases = vec![case];
    let run = RunResult {
        target: TargetInfo {
            name: "mock".into(),
            endpoint: "http://127.0.0.1:1338".into(),
            description: None,
            declared: PartialOptions::default(),
            detected: PartialOptions::default(),
            effective: PartialOptions::default(),
            expectations: Some(known.source.clone()),
        },
        summary: Summary::of(&cases),
        stale_expectations: known.stale_entries(cases.iter().map(|c| c.id.as_str())),
        notes: Vec::new(),
        unchecked: Vec::new(),
        duration_ms: 3,
        cases,
    };
    assert!(run.stale_expectations.is_empty());
    let report = Report {
        command: "my-check",
        runs: vec![run],
        strict: false,
    };
    let human = report.to_human(false);
    assert!(human.contains("token.put.ttl-echoed"), "{human}");
    let json = report.to_json_value();
    assert_eq!(json["verdict"], "PASS", "{json}");
    assert_eq!(json["cases"][0]["outcome"], "xfail", "{json}");
    assert!(report.to_junit().contains("token.put.ttl-echoed"));
    assert_eq!(report.exit_code(), 0);
    Ok(())
}
