//! `imdspec serve --control` driven by non-Rust clients: the README's curl and Python
//! examples run as written (only the ports change) against the built binary; a `+1s` spot
//! notice appears over real HTTP on the system clock. Loopback only.
//!
//! python3 and curl are needed; outside CI a missing one skips its test with a printed
//! reason, under `CI=true` it fails.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");

/// A running `imdspec serve`, killed on drop.
struct Serve {
    child: Child,
    imds: String,
    control: Option<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Serve {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut imds, mut control) = (None, None);
    let want_control = args.contains(&"--control");
    while imds.is_none() || (want_control && control.is_none()) {
        let line = lines.next().expect("serve printed its addresses").unwrap();
        if let Some(u) = line.strip_prefix("listening on ") {
            assert!(control.is_none(), "`control on` came before `listening on`");
            imds = Some(u.to_owned());
        } else if let Some(u) = line.strip_prefix("control on ") {
            control = Some(u.to_owned());
        }
    }
    Serve {
        child,
        imds: imds.unwrap(),
        control,
    }
}

/// True when `tool` runs; otherwise [`common::not_run`].
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        common::not_run(&format!(
            "{tool} is needed for this test and is not installed"
        ));
    }
    ok
}

/// The README's control section.
fn section() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("### Control API")
        .expect("a Control API section");
    let rest = &readme[start..];
    let end = rest[4..].find("\n## ").map_or(rest.len(), |e| e + 4);
    rest[..end].to_owned()
}

/// The `n`th fenced block of `lang` in the section.
fn block(section: &str, lang: &str, n: usize) -> String {
    section
        .split(&format!("```{lang}\n"))
        .nth(n + 1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("README control section: no {lang} block {n}"))
        .to_owned()
}

/// Starts the server the README starts (its flags, ports 0) and rewrites `example`'s fixed
/// ports to the real ones.
fn readme_server(example: &str) -> (Serve, String) {
    let section = section();
    let cmd = block(&section, "sh", 0);
    let cmd = cmd.trim().trim_end_matches('&').trim();
    let args: Vec<&str> = cmd
        .strip_prefix("imdspec serve ")
        .expect("the first sh block starts the server")
        .split_whitespace()
        .map(|a| match a {
            "127.0.0.1:1338" | "127.0.0.1:1339" => "127.0.0.1:0",
            a => a,
        })
        .collect();
    assert!(args.contains(&"manual"), "the README runs --clock manual");
    let s = serve(&args);
    let control = s.control.clone().unwrap();
    let text = example
        .replace("http://127.0.0.1:1338", &s.imds)
        .replace("http://127.0.0.1:1339", &control);
    (s, text)
}

fn get(base: &str, path: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

#[test]
fn readme_python_example_runs_against_the_server() {
    if !have("python3") {
        return;
    }
    let (s, script) = readme_server(&block(&section(), "python", 0));
    let dir = std::env::temp_dir().join(format!("imdspec-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("test_imds.py");
    std::fs::write(&file, script).unwrap();
    let out = Command::new("python3").arg(&file).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "python example failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Python's requests reached the server and its journal (through the control API).
    let (status, journal) = get(s.control.as_deref().unwrap(), "/journal?since=0");
    assert_eq!(status, 200);
    assert!(journal.contains("Python-urllib"), "{journal}");
    assert!(
        journal.contains("\"outcome\":\"TokenExpired\""),
        "{journal}"
    );
}

#[test]
fn readme_curl_example_runs_against_the_server() {
    if !have("curl") {
        return;
    }
    let (s, script) = readme_server(&block(&section(), "sh", 1));
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl example failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"HttpTokens\":\"required\""), "{stdout}");
    assert!(stdout.contains("401\n"), "IMDSv1 GET refused: {stdout}");
    assert!(stdout.contains("\"action\":\"terminate\""), "{stdout}");
    assert!(stdout.contains("\"reset\":true"), "{stdout}");
    // The reset put the start options back.
    let (_, options) = get(s.control.as_deref().unwrap(), "/options");
    assert!(options.contains("\"HttpTokens\":\"optional\""), "{options}");
}

#[test]
fn a_one_second_notice_appears_within_two_seconds_over_http() {
    let s = serve(&["--listen", "127.0.0.1:0", "--spot-interruption", "stop@+1s"]);
    let seen = Instant::now();
    let spot = "/latest/meta-data/spot/instance-action";
    assert_eq!(get(&s.imds, spot).0, 404, "not before its second");
    loop {
        let (status, body) = get(&s.imds, spot);
        if status == 200 {
            assert!(body.contains("\"action\":\"stop\""), "{body}");
            break;
        }
        assert!(
            seen.elapsed() <= Duration::from_secs(2),
            "no notice 2 s after start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen.elapsed() <= Duration::from_secs(2));
}

#[test]
fn control_address_must_be_loopback_and_clock_known() {
    for (args, needle) in [
        (
            &["--listen", "127.0.0.1:0", "--control", "0.0.0.0:0"][..],
            "loopback only",
        ),
        (
            &["--listen", "127.0.0.1:0", "--clock", "sundial"][..],
            "--clock",
        ),
    ] {
        let out = Command::new(BIN).arg("serve").args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.contains("Usage:"), "{err}");
    }
}

#[test]
fn advancing_the_system_clock_is_refused_with_the_reason() {
    let s = serve(&["--listen", "127.0.0.1:0", "--control", "127.0.0.1:0"]);
    let control = s.control.as_deref().unwrap();
    let addr = control.trim_start_matches("http://");
    let mut c = TcpStream::connect(addr).unwrap();
    let body = r#"{"seconds":1}"#;
    write!(
        c,
        "POST /clock/advance HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 409"), "{out}");
    assert!(out.contains("--clock manual"), "{out}");
    let (status, clock) = get(control, "/clock");
    assert_eq!(status, 200);
    assert!(clock.contains("\"manual\":false"), "{clock}");
}
