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
    let why = format!(
        "{} is missing: run conformance/clients/install.sh {what}",
        program.display()
    );
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{why} (CI=true)"
    );
    println!("not run: {why}");
    false
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
