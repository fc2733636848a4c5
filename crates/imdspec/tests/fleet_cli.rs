//! `imdspec fleet report` through the built binary: exit codes 0/1/2, every output format,
//! an unreadable file listed beside the report, usage errors; and the probe's fleet formats
//! (`--format jsonl|ssm-inventory|asff|ocsf`) against a loopback server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use imds_fleet::synth;

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imdspec-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_generated_fleet_differs_and_every_format_renders() {
    let dir = temp("gen");
    synth::write_fleet(&dir.join("observed"), &dir.join("declared.json"), 48).unwrap();
    let declared = dir.join("declared.json");
    let observed = dir.join("observed");
    let out = run(&["fleet", "report", "--declared", p(&declared), p(&observed)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("FLEET DIFFERS: "), "{text}");
    assert!(
        text.contains("HttpTokens: declared required, observed optional"),
        "{text}"
    );
    let json = run(&[
        "fleet",
        "report",
        "--format",
        "json",
        "--declared",
        p(&declared),
        p(&observed),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["format"], "imdspec-fleet/1");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["totals"]["instances"], 48);
    let csv = run(&[
        "fleet",
        "report",
        "--format",
        "csv",
        "--declared",
        p(&declared),
        p(&observed),
    ]);
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("kind,instance_id,"));
    let md = run(&["fleet", "report", "--format", "markdown", p(&observed)]);
    assert!(String::from_utf8_lossy(&md.stdout).contains("| total | count |"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exit_zero_when_everything_matches() {
    let dir = temp("ok");
    let fine = synth::probe_output(0, "jsonl").unwrap();
    std::fs::write(dir.join("i-00000000000000000.jsonl"), fine).unwrap();
    let declared = dir.join("d.json");
    std::fs::write(
        &declared,
        r#"{"Reservations": [{"Instances": [{"InstanceId": "i-00000000000000000",
            "State": {"Name": "running"}, "MetadataOptions": {"HttpTokens": "required"}}]}]}"#,
    )
    .unwrap();
    let out = run(&[
        "fleet",
        "report",
        "--declared",
        p(&declared),
        p(&dir.join("i-00000000000000000.jsonl")),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreadable_file_is_named_and_the_rest_still_reported() {
    let dir = temp("bad");
    std::fs::write(dir.join("a.json"), synth::probe_output(1, "json").unwrap()).unwrap();
    std::fs::write(dir.join("b.json"), "{\"format\": \"imdspec-probe/1\", ").unwrap();
    let out = run(&["fleet", "report", p(&dir)]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("b.json:1:"), "{stderr}");
    assert!(stderr.contains("truncated"), "{stderr}");
    assert!(
        stdout.contains("i-00000000000000001  imdsv1-open"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_with_the_usage_line() {
    let out = run(&["fleet", "report"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage:"));
    let out = run(&["fleet", "report", "--format", "xml", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["fleet", "report", "--declared", "/nonexistent/d.json", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--declared /nonexistent/d.json: cannot read"),
        "{err}"
    );
    assert!(err.contains("Usage: imdspec fleet report"), "{err}");
}

/// The probe's fleet formats through the binary, against `imdspec serve` on loopback.
#[test]
fn probe_fleet_formats_through_the_binary() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(imds_server::ImdsServer::builder().start())
        .unwrap();
    let url = server.url();
    for format in ["jsonl", "ssm-inventory", "asff", "ocsf"] {
        let out = run(&["probe", "--endpoint", &url, "--format", format]);
        assert_eq!(out.status.code(), Some(0), "{format}: {out:?}");
        let (docs, e) = imds_fleet::read::documents(format, &out.stdout);
        assert!(e.is_none() && docs.len() == 1, "{format}: {e:?}");
    }
    let out = run(&[
        "probe",
        "--endpoint",
        &url,
        "--format",
        "asff",
        "--aws-account-id",
        "12",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("12 digits"));
    // Nothing answers: a finding needs its placement given, and the exit code says no answer.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed = format!("http://127.0.0.1:{port}");
    let out = run(&[
        "probe",
        "--endpoint",
        &closed,
        "--timeout-ms",
        "200",
        "--format",
        "asff",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--aws-account-id"));
    let out = run(&[
        "probe",
        "--endpoint",
        &closed,
        "--timeout-ms",
        "200",
        "--format",
        "asff",
        "--aws-account-id",
        "123456789012",
        "--aws-region",
        "eu-west-1",
        "--aws-instance-id",
        "i-0123456789abcdef0",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["Compliance"]["Status"], "NOT_AVAILABLE");
}
