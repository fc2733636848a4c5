//! The built `imdspec` as a child process, with bounded waits, for the tests that start
//! `imdspec serve` and point `imdspec run` or `imdspec probe` at it (possibly inside a
//! network namespace, through a command prefix such as `ip netns exec NAME`).
#![allow(dead_code)] // Each test file uses a different subset.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_imdspec");
/// Longest any one command may take before it is killed and the test fails.
pub const WAIT: Duration = Duration::from_secs(120);

/// `PREFIX… imdspec ARGS…`, killed at [`WAIT`]; stdout and stderr read in full.
pub fn imdspec_in(prefix: &[&str], args: &[&str]) -> Output {
    let mut cmd = command(prefix);
    cmd.args(args).env("NO_COLOR", "1");
    output_within(cmd)
}

/// Runs `cmd` to the end, killed at [`WAIT`]; stdout and stderr read in full.
pub fn output_within(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (tx, rx) = mpsc::channel::<()>();
    let pid = child.id();
    std::thread::spawn(move || {
        if rx.recv_timeout(WAIT).is_err() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let mut err_pipe = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut stderr = Vec::new();
        let _ = err_pipe.read_to_end(&mut stderr);
        stderr
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    let _ = tx.send(());
    Output {
        status,
        stdout,
        stderr: err_thread.join().unwrap(),
    }
}

/// The binary, or the prefix's program with the binary as its last argument.
fn command(prefix: &[&str]) -> Command {
    match prefix.split_first() {
        None => Command::new(BIN),
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(BIN);
            c
        }
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `imdspec serve`, killed when dropped (also when a test fails).
pub struct Serve {
    child: Child,
    /// `http://HOST:PORT` of each listener, in `--listen` order.
    pub urls: Vec<String>,
}

impl Serve {
    /// `PREFIX… imdspec serve ARGS…`; waits (bounded) for one `listening on` line per
    /// `--listen` in ARGS (one without any).
    pub fn start(prefix: &[&str], args: &[&str]) -> Serve {
        let listeners = args.iter().filter(|a| **a == "--listen").count().max(1);
        let mut child = command(prefix)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut serve = Serve {
            child,
            urls: Vec::new(),
        };
        for _ in 0..listeners {
            let Ok(line) = rx.recv_timeout(WAIT) else {
                let _ = serve.child.kill();
                let mut err = String::new();
                if let Some(mut e) = serve.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("imdspec serve {args:?} did not print its listening lines: {err}");
            };
            let url = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            serve.urls.push(url.to_owned());
        }
        serve
    }

    /// The first listener's URL.
    pub fn url(&self) -> &str {
        &self.urls[0]
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Where `conformance/clients/install.sh` puts the real amazon-ec2-metadata-mock.
pub fn aemm_binary(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|t| !t.is_empty())
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    target.join("clients/bin/ec2-metadata-mock")
}

/// Whether `program`, which `conformance/clients/install.sh WHAT` installs, is there. Under
/// `CI=true` a missing one fails the test; elsewhere the test says why it does not run.
pub fn installed(program: &Path, what: &str) -> bool {
    if program.is_file() {
        return true;
    }
    not_run(&format!(
        "{} is missing: run conformance/clients/install.sh {what}",
        program.display()
    ));
    false
}

/// A test that cannot run for want of `why`: under `CI=true` a failure (a missing dependency
/// must not pass quietly), elsewhere a line saying why it did not run.
pub fn not_run(why: &str) {
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{why} (CI=true)"
    );
    println!("not run: {why}");
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes every `AEMM_*` variable from `cmd`'s environment: AEMM and `imdspec aemm` read
/// them, and none may leak in from the test's own environment.
pub fn without_aemm_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("AEMM_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// True once 127.0.0.1:`port` accepts connections, polled every 100 ms for at most `within`.
pub fn listening(port: u16, within: Duration) -> bool {
    for _ in 0..within.as_millis().div_ceil(100) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Starts an AEMM-like mock, `program prefix… args… -n 127.0.0.1 -p PORT`, with HOME `home`
/// (no stray config file) and only `env`'s `AEMM_*` variables; waits until it accepts
/// connections (at most 10 s).
pub fn start_aemm_like(
    program: &Path,
    prefix: &[&str],
    args: &[impl AsRef<std::ffi::OsStr>],
    env: &[(&str, &str)],
    home: &Path,
) -> (KillOnDrop, u16) {
    let port = free_port();
    let mut cmd = Command::new(program);
    cmd.args(prefix)
        .args(args)
        .args(["-n", "127.0.0.1", "-p", &port.to_string()])
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    without_aemm_env(&mut cmd).envs(env.iter().copied());
    let mock = KillOnDrop(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{} cannot start: {e}", program.display())),
    );
    if !listening(port, Duration::from_secs(10)) {
        let args: Vec<_> = args.iter().map(AsRef::as_ref).collect();
        panic!(
            "{} {prefix:?} {args:?} did not listen on 127.0.0.1:{port} within 10 s",
            program.display()
        );
    }
    (mock, port)
}

/// Runs `imdspec run --target TARGET` against 127.0.0.1:`port` with `flags`; asserts no fail,
/// xpass or error and a zero exit; returns the ids seen as xfail. `mode` names the run in
/// messages.
pub fn run_matches(
    root: &Path,
    target: &str,
    port: u16,
    flags: &[&str],
    mode: &str,
) -> Vec<String> {
    let report = std::env::temp_dir().join(format!(
        "imdspec-run-matches-{}-{target}-{mode}.json",
        std::process::id()
    ));
    let out = Command::new(BIN)
        .args(["run", "--target", target, "--format", "json"])
        .arg("--endpoint")
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("--conformance-dir")
        .arg(root.join("conformance"))
        .arg("--output")
        .arg(&report)
        .args(flags)
        .output()
        .expect("imdspec runs");
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("{target} {mode}: no report ({e}): {out:?}"));
    std::fs::remove_file(&report).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = json["cases"].as_array().unwrap();
    let unexpected: Vec<String> = cases
        .iter()
        .filter(|c| matches!(c["outcome"].as_str(), Some("fail" | "xpass" | "error")))
        .map(|c| format!("{} {}", c["id"], c["outcome"]))
        .collect();
    assert!(
        unexpected.is_empty(),
        "{target} ({mode}): outcomes differ from conformance/targets/{target}.toml: \
         {unexpected:#?}"
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{target} ({mode}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cases
        .iter()
        .filter(|c| c["outcome"] == "xfail")
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

/// Every entry of `conformance/targets/TARGET.toml` was seen as an xfail.
pub fn none_stale(root: &Path, target: &str, observed: &std::collections::BTreeSet<String>) {
    let file = root.join(format!("conformance/targets/{target}.toml"));
    let expectations = imds_report::Expectations::load(&file).unwrap();
    assert!(!expectations.is_empty(), "{} is empty", file.display());
    let never_seen = expectations.stale_entries(observed.iter().map(String::as_str));
    assert!(
        never_seen.is_empty(),
        "entries of {} that the run did not show: {never_seen:#?}",
        file.display()
    );
}
