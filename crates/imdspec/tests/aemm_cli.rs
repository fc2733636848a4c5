//! `imdspec aemm` through the built binary, as an AEMM user would run it: listening within
//! a second, notices after 1–3 s delays, `--mock-ip-count` with two loopback addresses, the
//! `ec2-metadata-mock` wrapper script killed by PID, `-s FILE`, environment and config file
//! (SPEC.md §8). Loopback only: every run passes `-n 127.0.0.1`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../imds-aemm/ec2-metadata-mock"
);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running mock, killed when dropped.
struct Mock {
    child: Child,
    port: u16,
    /// From spawn to the `listening on` line.
    startup: Duration,
}

impl Mock {
    /// Stops the mock and returns what it wrote to stderr.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        let mut stderr = self.child.stderr.take().expect("stderr is piped");
        stderr.read_to_string(&mut err).unwrap();
        err
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imdspec-aemm-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `program args… -n 127.0.0.1 -p PORT` with a clean `AEMM_*` environment and `HOME`
/// set to `home`, and waits for its `listening on` line.
fn start_with(program: &str, args: &[&str], env: &[(&str, &str)], home: &Path) -> Mock {
    let port = free_port();
    let port_s = port.to_string();
    let mut cmd = Command::new(program);
    if program == BIN {
        cmd.arg("aemm");
    }
    cmd.args(args)
        .args(["-n", "127.0.0.1", "-p", &port_s])
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::without_aemm_env(&mut cmd);
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("PATH", path);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let spawned = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("{program} {args:?} exited before listening: {err}");
        }
        if line.starts_with("listening on ") {
            break;
        }
    }
    assert_eq!(line.trim(), format!("listening on http://127.0.0.1:{port}"));
    Mock {
        child,
        port,
        startup: spawned.elapsed(),
    }
}

fn start(args: &[&str]) -> Mock {
    start_with(BIN, args, &[], &scratch("home"))
}

/// One HTTP/1.1 request from `from` (a loopback address); status, headers, body.
fn send(from: &str, port: u16, raw: &str) -> (u16, String, String) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    sock.bind(&local.into()).unwrap();
    let remote: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    sock.connect_timeout(&remote.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

fn get_from(from: &str, port: u16, path: &str) -> (u16, String) {
    let (status, _, body) = send(
        from,
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"),
    );
    (status, body)
}

fn get(port: u16, path: &str) -> (u16, String) {
    get_from("127.0.0.1", port, path)
}

const SPOT: &str = "/latest/meta-data/spot/instance-action";
const ASG: &str = "/latest/meta-data/autoscaling/target-lifecycle-state";
const REBALANCE: &str = "/latest/meta-data/events/recommendations/rebalance";
const EVENTS: &str = "/latest/meta-data/events/maintenance/scheduled";

/// Polls `path` until it answers 200; the time since `since`.
fn until_200(port: u16, path: &str, since: Instant) -> Duration {
    loop {
        if get(port, path).0 == 200 {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "{path} never appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn listens_within_a_second_with_aemm_defaults() {
    let m = start(&[]);
    assert!(m.startup < Duration::from_secs(1), "took {:?}", m.startup);
    assert_eq!(
        get(m.port, "/latest/meta-data/instance-id"),
        (200, "i-1234567890abcdef0".into())
    );
    assert_eq!(get(m.port, "/latest/meta-data/mac").1, "0e:49:61:0f:c3:11");
    assert_eq!(
        get(m.port, "/latest/user-data").1,
        "1234,john,reboot,true\n"
    );
    // Delay 0: every family at once; the ASG state is already Terminated, as in AEMM.
    let (status, body) = get(m.port, SPOT);
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["action"], "terminate");
    assert_eq!(get(m.port, ASG), (200, "Terminated".into()));
    assert!(
        get(m.port, EVENTS)
            .1
            .contains("\t\t\"Code\": \"system-reboot\"")
    );
    assert_eq!(get(m.port, REBALANCE).0, 200);
    // AEMM's tree: its tags, its one-version listing of `/` (conformance/aemm/DIFFERENCES.md).
    assert_eq!(
        get(m.port, "/latest/meta-data/tags/instance/Name").1,
        "test-instance"
    );
    assert_eq!(get(m.port, "/"), (200, "latest\n".into()));
    // The start-up note names the target file for `imdspec run` against it.
    let err = m.stop();
    assert!(err.contains("--target imdspec-aemm"), "{err}");
}

#[test]
fn notices_appear_after_their_delays() {
    let begun = Instant::now();
    let m = start(&[
        "-d",
        "2",
        "--rebalance-delay-sec",
        "1",
        "--asg-termination-delay-sec",
        "3",
    ]);
    // Within a second of start nothing with a 2 s or 3 s delay is due (whole seconds).
    assert_eq!(get(m.port, SPOT).0, 404);
    assert_eq!(get(m.port, ASG), (200, "InService".into()));
    let rebalance = until_200(m.port, REBALANCE, begun);
    let spot = until_200(m.port, SPOT, begun);
    assert!(rebalance < spot, "{rebalance:?} {spot:?}");
    assert!(
        spot >= Duration::from_secs(1) && spot < Duration::from_secs(4),
        "{spot:?}"
    );
    assert_eq!(
        get(m.port, "/latest/meta-data/spot/termination-time").0,
        200
    );
    loop {
        if get(m.port, ASG).1 == "Terminated" {
            break;
        }
        assert!(begun.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        begun.elapsed() >= Duration::from_secs(2),
        "{:?}",
        begun.elapsed()
    );
}

#[test]
fn mock_ip_count_admits_the_first_loopback_addresses() {
    let m = start(&["-x", "1"]);
    assert_eq!(get_from("127.0.0.1", m.port, SPOT).0, 200);
    assert_eq!(get_from("127.0.0.2", m.port, SPOT).0, 404);
    // As in AEMM, each family (spot, events, ASG) admits its own first clients.
    assert_eq!(get_from("127.0.0.2", m.port, ASG).0, 200);
    assert_eq!(get_from("127.0.0.1", m.port, ASG).0, 404);
    assert_eq!(
        get_from("127.0.0.2", m.port, "/latest/meta-data/instance-id").0,
        200
    );
    drop(m);
    let m = start(&["--mock-ip-count=-1"]);
    assert_eq!(get_from("127.0.0.1", m.port, SPOT).0, 200);
    assert_eq!(get_from("127.0.0.2", m.port, SPOT).0, 200);
    drop(m);
    let m = start(&["-x=0"]);
    assert_eq!(get_from("127.0.0.1", m.port, SPOT).0, 404);
}

#[test]
fn subcommands_serve_only_their_family() {
    let m = start(&["spot", "-a", "stop"]);
    let v: serde_json::Value = serde_json::from_str(&get(m.port, SPOT).1).unwrap();
    assert_eq!(v["action"], "stop");
    assert_eq!(get(m.port, ASG).0, 404);
    // AEMM's spot mode serves the legacy termination-time too.
    assert_eq!(
        get(m.port, "/latest/meta-data/spot/termination-time").0,
        200
    );
    drop(m);
    let m = start(&["asg"]);
    assert_eq!(get(m.port, SPOT).0, 404);
    assert_eq!(get(m.port, ASG).1, "Terminated");
    drop(m);
    let m = start(&["-o", "instance-stop", "scheduledevents", "-t", "completed"]);
    assert_eq!(get(m.port, SPOT).0, 404);
    // AEMM lists even a completed event as scheduled, and has no history path.
    let scheduled = get(m.port, EVENTS).1;
    assert!(
        scheduled.contains("instance-stop") && scheduled.contains("completed"),
        "{scheduled}"
    );
    assert_eq!(
        get(m.port, "/latest/meta-data/events/maintenance/history").0,
        404
    );
}

#[test]
fn imdsv2_flag_requires_tokens_the_ec2_way() {
    let m = start(&["-I"]);
    assert_eq!(get(m.port, "/latest/meta-data/instance-id").0, 401);
    let (status, head, token) = send(
        "127.0.0.1",
        m.port,
        "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
    );
    assert_eq!(status, 200, "{head}");
    let (status, head, body) = send(
        "127.0.0.1",
        m.port,
        &format!(
            "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"
        ),
    );
    assert_eq!((status, body.as_str()), (200, "i-1234567890abcdef0"));
    assert!(
        head.to_ascii_lowercase()
            .contains("x-aws-ec2-metadata-token-ttl-seconds: ")
    );
    // EC2 refuses GET on the token path (AEMM answers 200).
    assert_eq!(get(m.port, "/latest/api/token").0, 405);
}

#[test]
fn wrapper_script_is_a_drop_in_and_dies_by_pid() {
    let home = scratch("script");
    let m = start_with(SCRIPT, &["spot", "-d", "1"], &[], &home);
    assert!(m.startup < Duration::from_secs(1), "took {:?}", m.startup);
    assert_eq!(get(m.port, "/latest/meta-data/instance-id").0, 200);
    let mut m = m;
    // `exec` means the script's PID is the server's: SIGTERM to it stops the server.
    let pid = m.child.id();
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = m.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "{:?}",
        killed.elapsed()
    );
    TcpListener::bind(("127.0.0.1", m.port)).expect("port free at once after SIGTERM");
}

#[test]
fn save_config_environment_and_config_file() {
    let home = scratch("save");
    let cfg = home.join("my.json");
    std::fs::write(
        &cfg,
        r#"{"metadata": {"values": {"instance-id": "i-0aaaaaaaaaaaaaaaa"}}, "spot": {"action": "hibernate"}, "typo-key": 1}"#,
    )
    .unwrap();
    let out = home.join("out/used.json");
    let out_arg = format!("--save-config-to-file={}", out.display());
    let cfg_s = cfg.display().to_string();
    let m = start_with(
        BIN,
        &[&out_arg],
        &[
            ("AEMM_CONFIG_FILE", &cfg_s),
            ("AEMM_MOCK_DELAY_SEC", "30"),
            ("AEMM_BOGUS", "1"),
        ],
        &home,
    );
    assert_eq!(
        get(m.port, "/latest/meta-data/instance-id").1,
        "i-0aaaaaaaaaaaaaaaa"
    );
    assert_eq!(get(m.port, SPOT).0, 404, "AEMM_MOCK_DELAY_SEC=30");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(saved["spot"]["action"], "hibernate");
    assert_eq!(saved["mock-delay-sec"], 30);
    assert_eq!(saved["config-file"], cfg_s.as_str());
    let err = m.stop();
    assert!(err.contains("unknown key `typo-key` ignored"), "{err}");
    assert!(
        err.contains("unknown environment variable AEMM_BOGUS ignored"),
        "{err}"
    );

    // Plain `-s` writes where AEMM does, under $HOME.
    let m = start_with(BIN, &["-s"], &[], &home);
    drop(m);
    let default = home.join(".ec2-metadata-mock/.aemm-config-used.json");
    assert!(
        std::fs::read_to_string(default)
            .unwrap()
            .contains("\"mock-ip-count\": 2")
    );
}

#[test]
fn bad_input_exits_2() {
    for (args, needle) in [
        (&["--bogus"][..], "unknown flag: --bogus"),
        (&["spot", "-a", "explode"], "spot.action"),
        (&["-c", "/nonexistent/aemm.json"], "/nonexistent/aemm.json"),
    ] {
        let out = Command::new(BIN)
            .arg("aemm")
            .args(args)
            .args(["-n", "127.0.0.1", "-p", "1"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = Command::new(BIN)
        .args(["aemm", "--bogus"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: imdspec aemm"));
    let out = Command::new(BIN)
        .args(["aemm", "spot", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--mock-ip-count"));
}

#[test]
fn serve_loads_an_aemm_config_file() {
    let home = scratch("serve");
    let cfg = home.join("aemm.json");
    std::fs::write(
        &cfg,
        r#"{"metadata": {"values": {"instance-id": "i-0bbbbbbbbbbbbbbbb", "mac": "0e:00:00:00:00:07"}}}"#,
    )
    .unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--aemm-config",
        ])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    assert_eq!(
        get(port, "/latest/meta-data/instance-id").1,
        "i-0bbbbbbbbbbbbbbbb"
    );
    assert_eq!(get(port, "/latest/meta-data/mac").1, "0e:00:00:00:00:07");
    // Only the content comes from the file: no notices unless asked for.
    assert_eq!(get(port, SPOT).0, 404);
    let _ = child.kill();
    let _ = child.wait();
    let out = Command::new(BIN)
        .args(["serve", "--aemm-config", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--aemm-config: /nonexistent.json"));
}

#[test]
fn trigger_times_are_wall_clock() {
    use imds_model::Clock as _;
    let begun = Instant::now();
    // Two whole seconds ahead, so the notice cannot be due within the first second.
    let now = imds_model::SystemClock.now();
    let at = imds_model::Timestamp::from_secs(now.as_secs() + 2).to_iso8601();
    let m = start(&[
        "-d",
        "0",
        "--mock-trigger-time",
        &at,
        "--asg-termination-trigger-time",
        &at,
    ]);
    assert_eq!(get(m.port, SPOT).0, 404, "a trigger time wins over -d 0");
    assert_eq!(get(m.port, ASG).1, "InService");
    let spot = until_200(m.port, SPOT, begun);
    assert!(
        spot >= Duration::from_secs(1) && spot < Duration::from_secs(4),
        "{spot:?}"
    );
    assert_eq!(get(m.port, ASG).1, "Terminated");
}
