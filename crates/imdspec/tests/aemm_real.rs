//! The runner against the real amazon-ec2-metadata-mock (AEMM v1.13.0, installed by
//! `conformance/clients/install.sh aemm` into `{target}/clients/bin/ec2-metadata-mock`): in each
//! of AEMM's modes (default, spot, events and its alias scheduledevents, asglifecycle, --imdsv2), `imdspec run --target aemm` must match `conformance/targets/aemm.toml`
//! exactly (no unexpected failure, no xpass, no error), and every entry of that file must be
//! observed as an xfail in at least one mode. Under `CI=true` a missing AEMM fails the test;
//! elsewhere the test says why it did not run. Loopback only: AEMM listens on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use imds_conformance::Expectations;
use serde_json::Value;

use common::{KillOnDrop, aemm_binary, free_port, installed, root};

const IMDSPEC: &str = env!("CARGO_BIN_EXE_imdspec");

/// An AEMM mode: name, AEMM's arguments, the runner's extra flags, cases skipped in this mode.
type Mode = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const MODES: &[Mode] = &[
    ("default", &[], &[], &[]),
    // spot and asglifecycle serve only their own notice, not events/maintenance/scheduled.
    ("spot", &["spot"], &[], &["category.events.scheduled.*"]),
    ("events", &["events"], &[], &[]),
    ("scheduledevents", &["scheduledevents"], &[], &[]),
    (
        "asglifecycle",
        &["asglifecycle"],
        &[],
        &["category.events.scheduled.*"],
    ),
    ("imdsv2", &["--imdsv2"], &["--http-tokens", "required"], &[]),
];

/// Starts AEMM on 127.0.0.1 with an empty HOME (no stray config file) and waits until it
/// accepts connections (at most 10 s).
fn start(binary: &Path, args: &[&str], home: &Path) -> (KillOnDrop, u16) {
    let port = free_port();
    let mut cmd = Command::new(binary);
    cmd.args(args)
        .args(["-n", "127.0.0.1", "-p", &port.to_string()])
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // AEMM reads `AEMM_*` variables; none may leak in from the test's environment.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AEMM_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{} cannot start: {e}", binary.display()));
    let aemm = KillOnDrop(child);
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (aemm, port);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("AEMM {args:?} did not listen on 127.0.0.1:{port} within 10 s");
}

#[test]
fn the_runner_sees_exactly_aemm_toml_in_every_aemm_mode() {
    let root = root();
    let binary = aemm_binary(&root);
    if !installed(&binary, "aemm") {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("imdspec-aemm-real-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut observed: BTreeSet<String> = BTreeSet::new();
    for (mode, args, flags, skips) in MODES {
        let home = scratch.join(mode);
        std::fs::create_dir_all(&home).unwrap();
        let (_aemm, port) = start(&binary, args, &home);
        let report = scratch.join(format!("{mode}.json"));
        let mut run = Command::new(IMDSPEC);
        run.args(["run", "--target", "aemm", "--format", "json"])
            .arg("--endpoint")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--conformance-dir")
            .arg(root.join("conformance"))
            .arg("--output")
            .arg(&report)
            .args(*flags);
        for skip in *skips {
            run.args(["--skip", skip]);
        }
        let out = run.output().expect("imdspec runs");
        let text = std::fs::read_to_string(&report)
            .unwrap_or_else(|e| panic!("{mode}: no report ({e}): {out:?}"));
        let json: Value = serde_json::from_str(&text).unwrap();
        let unexpected: Vec<String> = json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| matches!(c["outcome"].as_str(), Some("fail" | "xpass" | "error")))
            .map(|c| format!("{} {}", c["id"], c["outcome"]))
            .collect();
        assert!(
            unexpected.is_empty(),
            "AEMM mode {mode}: the runner's outcomes differ from conformance/targets/aemm.toml: \
             {unexpected:#?}"
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "AEMM mode {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let xfails = json["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["outcome"] == "xfail")
            .count();
        assert!(xfails > 20, "AEMM mode {mode}: only {xfails} xfails");
        observed.extend(
            json["cases"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["outcome"] == "xfail")
                .filter_map(|c| c["id"].as_str().map(str::to_owned)),
        );
    }
    let expectations = Expectations::load(&root.join("conformance/targets/aemm.toml")).unwrap();
    let never_seen = expectations.stale_entries(observed.iter().map(String::as_str));
    assert!(
        never_seen.is_empty(),
        "entries of conformance/targets/aemm.toml that no AEMM mode showed: {never_seen:#?}"
    );
    std::fs::remove_dir_all(&scratch).unwrap();
}
