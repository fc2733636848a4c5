//! The SSM document's script (crates/imds-fleet/deploy/imds-probe.ssm.yaml) run for real with
//! `sh`: it installs imdspec from a release directory laid out as `just dist` writes it (served
//! as file://, with tarballs holding a wrapper around this build's binary), only after the
//! SHA-256 checks pass, then probes a loopback `imdspec serve`. Every value the test passes
//! matches the parameter's `allowedPattern`, as SSM requires. Nothing leaves loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{BIN, Serve, output_within, root, text};
use serde_norway::Value;

const DOC: &str = "crates/imds-fleet/deploy/imds-probe.ssm.yaml";

fn doc() -> Value {
    let path = root().join(DOC);
    serde_norway::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{DOC}: {e}"))
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    text(&out.stdout)[..64].to_owned()
}

/// A temp dir removed on drop.
struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The script with PARAMS (others at their defaults), each value checked against its
/// parameter's `allowedPattern` or `allowedValues` first.
fn script(params: &[(&str, &str)]) -> String {
    let doc = doc();
    let mut values: Vec<(String, String)> = Vec::new();
    for (name, p) in doc["parameters"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let value = params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| p["default"].as_str().unwrap().to_owned());
        if let Some(pattern) = p["allowedPattern"].as_str() {
            let re = regex::Regex::new(pattern).unwrap();
            assert!(re.is_match(&value), "{name}={value:?} fails {pattern}");
        }
        if let Some(allowed) = p["allowedValues"].as_sequence() {
            assert!(
                allowed.iter().any(|a| a.as_str() == Some(value.as_str())),
                "{name}={value:?} not allowed"
            );
        }
        values.push((name.to_owned(), value));
    }
    for (name, _) in params {
        assert!(values.iter().any(|(n, _)| n == name), "no parameter {name}");
    }
    let lines: Vec<&str> = doc["mainSteps"][0]["inputs"]["runCommand"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut script = lines.join("\n");
    for (name, value) in values {
        script = script.replace(&format!("{{{{ {name} }}}}"), &value);
    }
    assert!(!script.contains("{{"), "unreplaced parameter");
    script
}

/// `sh -c SCRIPT`, as SSM Agent runs `aws:runShellScript` (dash on Debian and Ubuntu, so no
/// bashisms), with a PATH that has no imdspec on it.
fn run(script: &str) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    output_within(cmd)
}

/// A release directory as `just dist` lays it out: a tarball per architecture whose `imdspec`
/// runs this build's binary, stand-ins for the other artefacts, and SHA256SUMS over them.
fn release_dir(dir: &Path) -> PathBuf {
    let version = env!("CARGO_PKG_VERSION");
    let dist = dir.join("dist");
    let content = dir.join("content");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::create_dir_all(&content).unwrap();
    let wrapper = content.join("imdspec");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec '{BIN}' \"$@\"\n")).unwrap();
    let chmod = Command::new("chmod")
        .arg("755")
        .arg(&wrapper)
        .status()
        .unwrap();
    assert!(chmod.success());
    let mut names = Vec::new();
    for arch in ["x86_64", "aarch64"] {
        let name = format!("imdspec-{version}-{arch}-unknown-linux-gnu.tar.gz");
        let tar = Command::new("tar")
            .arg("-C")
            .arg(&content)
            .arg("-czf")
            .arg(dist.join(&name))
            .arg(".")
            .status()
            .unwrap();
        assert!(tar.success());
        names.push(name);
    }
    for other in [
        format!("imdspec_{version}-1_amd64.deb"),
        format!("imdspec-{version}-1.x86_64.rpm"),
    ] {
        std::fs::write(dist.join(&other), b"not this one").unwrap();
        names.push(other);
    }
    let sums: String = names
        .iter()
        .map(|n| format!("{}  {n}\n", sha256(&dist.join(n))))
        .collect();
    std::fs::write(dist.join("SHA256SUMS"), sums).unwrap();
    dist
}

#[test]
fn ssm_script_installs_from_a_release_directory_after_checking_sums_then_probes() {
    let tmp = Dir(std::env::temp_dir().join(format!("imdspec-ssm-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let dist = release_dir(&tmp.0);
    let server = Serve::start(&[], &["--listen", "127.0.0.1:0"]);
    let uri = format!("file://{}/", dist.display());
    let sums_sha = sha256(&dist.join("SHA256SUMS"));
    let bin_dir = tmp.0.join("bin");
    let bin_dir = bin_dir.to_str().unwrap();
    let arch = std::env::consts::ARCH;
    let tarball = format!(
        "imdspec-{}-{arch}-unknown-linux-gnu.tar.gz",
        env!("CARGO_PKG_VERSION")
    );

    // A wrong checksum of SHA256SUMS: nothing is fetched beyond it, installed or probed.
    let wrong = "0".repeat(64);
    let out = run(&script(&[
        ("packageUri", &uri),
        ("packageSha256", &wrong),
        ("packageFormat", "tarball"),
        ("installDir", bin_dir),
        ("endpoint", server.url()),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!(
            "SHA256SUMS: SHA-256 {sums_sha}, expected {wrong}; nothing installed"
        )),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "");
    assert!(!Path::new(bin_dir).join("imdspec").exists());

    // The right one: this architecture's tarball is picked, checked, installed and run.
    let out = run(&script(&[
        ("packageUri", &uri),
        ("packageSha256", &sums_sha),
        ("packageFormat", "tarball"),
        ("installDir", bin_dir),
        ("endpoint", server.url()),
    ]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let want_sha = sha256(&dist.join(&tarball));
    assert!(
        stderr.contains(&format!(
            "installed {tarball} (tarball), SHA-256 {want_sha}"
        )),
        "{stderr}"
    );
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON line: {stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["format"], "imdspec-probe/1", "{stdout}");
    assert_eq!(report["endpoint"], server.url(), "{stdout}");
    // It reached the server: the identity answered.
    assert!(report["InstanceId"].is_string(), "{stdout}");
    assert!(Path::new(bin_dir).join("imdspec").exists());
    std::fs::remove_dir_all(bin_dir).unwrap();

    // A package whose bytes differ from SHA256SUMS is refused, though SHA256SUMS itself is right.
    std::fs::write(dist.join(&tarball), b"tampered").unwrap();
    let out = run(&script(&[
        ("packageUri", &uri),
        ("packageSha256", &sums_sha),
        ("packageFormat", "tarball"),
        ("installDir", bin_dir),
        ("endpoint", server.url()),
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("{tarball}: SHA-256 ")),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("nothing installed"));
    assert!(!Path::new(bin_dir).exists());
}

#[test]
fn ssm_script_installs_one_package_file_by_its_checksum_and_refuses_without_one() {
    let tmp = Dir(std::env::temp_dir().join(format!("imdspec-ssm1-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&tmp.0);
    let dist = release_dir(&tmp.0);
    let server = Serve::start(&[], &["--listen", "127.0.0.1:0"]);
    let bin_dir = tmp.0.join("bin");
    let bin_dir = bin_dir.to_str().unwrap();
    let tarball = dist.join(format!(
        "imdspec-{}-{}-unknown-linux-gnu.tar.gz",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    ));
    let uri = format!("file://{}", tarball.display());

    // No imdspec and no package: a clear error, no probe.
    let out = run(&script(&[("endpoint", server.url())]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("imdspec not found and no packageUri given"));
    let out = run(&script(&[("packageUri", &uri), ("endpoint", server.url())]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("packageUri given without packageSha256"));

    // One file: its kind from its name (the tarball although auto would pick by the OS).
    let out = run(&script(&[
        ("packageUri", &uri),
        ("packageSha256", &sha256(&tarball)),
        ("installDir", bin_dir),
        ("endpoint", server.url()),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("(tarball)"));
    let report: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(report["endpoint"], server.url());
}

/// What SSM substitutes is text in a shell script: the patterns keep quotes and separators out.
#[test]
fn ssm_parameter_patterns_refuse_shell_syntax() {
    let doc = doc();
    let pattern = |name: &str| {
        regex::Regex::new(doc["parameters"][name]["allowedPattern"].as_str().unwrap()).unwrap()
    };
    for ok in [
        "",
        "s3://my-bucket/imdspec/0.1.0/",
        "https://example.com/imdspec/imdspec_0.1.0-1_amd64.deb",
    ] {
        assert!(pattern("packageUri").is_match(ok), "{ok}");
    }
    for bad in [
        "s3://b/'; rm -rf / #",
        "https://x/$(id)",
        "http://example.com/x.deb",
        "s3://b/a b",
    ] {
        assert!(!pattern("packageUri").is_match(bad), "{bad}");
    }
    assert!(!pattern("packageSha256").is_match("ABC"));
    assert!(!pattern("endpoint").is_match("http://127.0.0.1:1;id"));
    assert!(!pattern("installDir").is_match("/usr/local/bin'"));
}
