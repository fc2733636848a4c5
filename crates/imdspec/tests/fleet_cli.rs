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
    run_with(args, &[])
}

/// Runs the binary without SSM Agent's variables of this machine, plus `env`.
fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("AWS_SSM_INSTANCE_ID")
        .env_remove("AWS_SSM_REGION_NAME");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
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
    assert!(text.starts_with("FLEET: 48 instance(s): "), "{text}");
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

/// `--fail-on`: exit 1 exactly when a chosen condition holds, 0 otherwise, whatever else the
/// report finds.
#[test]
fn fail_on_gates_the_fleet_on_the_chosen_conditions() {
    let dir = temp("gate");
    let of = |k: synth::Kind| (0..).find(|&i| synth::kind(i) == k).unwrap();
    let write = |name: &str, i: usize| {
        std::fs::write(dir.join(name), synth::probe_output(i, "json").unwrap()).unwrap();
    };
    write("required.json", of(synth::Kind::RequiredAsDeclared));
    write("off.json", of(synth::Kind::EndpointOff));
    let code = |args: &[&str]| {
        let mut all = vec!["fleet", "report"];
        all.extend_from_slice(args);
        all.push(p(&dir));
        run(&all).status.code()
    };
    assert_eq!(code(&["--fail-on", "imdsv1-open"]), Some(0), "none open");
    write("open.json", of(synth::Kind::OpenAsDeclared));
    assert_eq!(code(&[]), Some(0), "open as declared needs no attention");
    assert_eq!(code(&["--fail-on", "imdsv1-open"]), Some(1), "one open");
    assert_eq!(code(&["--fail-on", "unreachable"]), Some(0));
    std::fs::write(dir.join("bad.json"), "{").unwrap();
    assert_eq!(code(&[]), Some(2), "the 0/1/2 contract without --fail-on");
    assert_eq!(code(&["--fail-on", "unreachable"]), Some(0));
    assert_eq!(
        code(&["--fail-on", "unreachable", "--fail-on", "unreadable"]),
        Some(1)
    );
    assert_eq!(code(&["--fail-on", "any"]), Some(1));
    assert_eq!(code(&["--fail-on", "sometimes"]), Some(2), "a usage error");
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
        err.contains("--declared /nonexistent/d.json:1:1: (file): cannot read"),
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
    let err = String::from_utf8_lossy(&out.stderr);
    for flag in ["--aws-account-id", "--aws-region", "--aws-instance-id"] {
        assert!(err.contains(flag), "every missing flag at once: {err}");
    }
    // Under Run Command, SSM Agent's variables give the id and region.
    let agent = [
        ("AWS_SSM_INSTANCE_ID", "i-0123456789abcdef0"),
        ("AWS_SSM_REGION_NAME", "eu-west-1"),
    ];
    let base = ["probe", "--endpoint", &closed, "--timeout-ms", "200"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    let out = run_with(&with(&base, &["--format", "ocsf"]), &agent);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resources"][0]["uid"], "i-0123456789abcdef0");
    let out = run_with(&with(&base, &["--format", "ssm-inventory"]), &agent);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["Content"][0]["InstanceId"], "i-0123456789abcdef0");
    assert_eq!(v[0]["Content"][0]["Region"], "eu-west-1");
    let out = run_with(&with(&base, &["--format", "asff"]), &agent);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--aws-account-id") && !err.contains("--aws-region"),
        "{err}"
    );
    // The gate for one instance.
    assert_eq!(
        run(&with(&base, &["--fail-on", "imdsv1-open"]))
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&with(&base, &["--fail-on", "unreachable"]))
            .status
            .code(),
        Some(1)
    );
    let open = [
        "probe",
        "--endpoint",
        url.as_str(),
        "--fail-on",
        "imdsv1-open",
    ];
    assert_eq!(
        run(&open).status.code(),
        Some(1),
        "EC2's default is optional"
    );
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
