//! `imdspec serve` through the built binary: flags, exit codes, listening lines, journal,
//! faults and shutdown on SIGTERM/SIGINT. Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");
const WAIT: Duration = Duration::from_secs(20);

fn serve(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Every case here fails before serving; a server that did start is killed, not waited on.
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        if rx.recv_timeout(WAIT).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut out = Output {
        status: child.wait().unwrap(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let _ = tx.send(());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out.stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut out.stderr)
        .unwrap();
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_option_values_exit_2_naming_flag_and_allowed_values() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--http-tokens", "maybe"],
            &["--http-tokens", "optional", "required"],
        ),
        (
            &["--http-endpoint", "on"],
            &["--http-endpoint", "enabled", "disabled"],
        ),
        (
            &["--http-put-response-hop-limit", "65"],
            &["--http-put-response-hop-limit", "1..=64"],
        ),
        (
            &["--http-put-response-hop-limit", "x"],
            &["--http-put-response-hop-limit", "1..=64"],
        ),
        (
            &["--http-protocol-ipv6", "yes"],
            &["--http-protocol-ipv6", "enabled", "disabled"],
        ),
        (
            &["--instance-metadata-tags", "1"],
            &["--instance-metadata-tags", "enabled", "disabled"],
        ),
        (&["--listen", "localhost"], &["--listen"]),
        (
            &["--fault", "get=200"],
            &["--fault", "400..=599", "token-put=ACTION", "delay:Nms"],
        ),
        (
            &["--fault", "get=delay:5"],
            &["--fault", "needs a unit", "get[GLOB]"],
        ),
        (
            &["--fault", "get[latest/*]=500"],
            &["--fault", "must start with '/'"],
        ),
        (
            &["--fault", "teapot=418"],
            &["--fault", "unknown fault kind", "revoke-tokens-after=N"],
        ),
        (
            &["--fault", "get=drop-heder:server"],
            &[
                "--fault",
                "unknown action",
                "did you mean \"get=drop-header:server\"?",
            ],
        ),
    ];
    for (args, wanted) in cases {
        let o = serve(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for w in *wanted {
            assert!(err.contains(w), "{args:?}: {w:?} missing from {err}");
        }
        assert!(
            err.contains("Usage") || err.contains("--help"),
            "{args:?}: {err}"
        );
        assert!(o.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn bad_files_exit_2_naming_the_flag_and_file() {
    let dir = std::env::temp_dir().join(format!("imdspec-serve-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad_json = dir.join("options.json");
    std::fs::write(&bad_json, r#"{"HttpTokens": "sometimes"}"#).unwrap();
    let bad_instance = dir.join("instance.toml");
    std::fs::write(&bad_instance, "instance-id = 5\n").unwrap();
    let missing = dir.join("missing.toml");
    let unwritable = dir.join("no-such-dir").join("journal.jsonl");
    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            vec!["--metadata-options".into(), bad_json.display().to_string()],
            vec!["--metadata-options".into(), "options.json".into()],
        ),
        (
            vec!["--instance".into(), bad_instance.display().to_string()],
            vec!["--instance".into(), "instance.toml".into()],
        ),
        (
            vec!["--instance".into(), missing.display().to_string()],
            vec!["--instance".into(), "missing.toml".into()],
        ),
        (
            vec![
                "--listen".into(),
                "127.0.0.1:0".into(),
                "--journal".into(),
                unwritable.display().to_string(),
            ],
            vec!["--journal".into(), "journal.jsonl".into()],
        ),
    ];
    for (args, wanted) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = serve(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        for w in &wanted {
            assert!(
                err.contains(w.as_str()),
                "{args:?}: {w:?} missing from {err}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn port_in_use_exits_1_with_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = serve(&["--listen", &addr]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&addr), "{err}");
    assert!(err.to_lowercase().contains("in use"), "{err}");
    assert!(o.stdout.is_empty());
}

/// A running `imdspec serve`, killed if the test fails before it is stopped.
struct Running {
    child: Child,
    urls: Vec<String>,
}

impl Running {
    fn start(args: &[&str], listeners: usize) -> Running {
        let mut child = Command::new(BIN)
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
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            urls: Vec::new(),
        };
        for _ in 0..listeners {
            let line = rx.recv_timeout(WAIT).expect("a listening line");
            let url = line
                .strip_prefix("listening on ")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            running.urls.push(url.to_owned());
        }
        // Exactly one line per listener: nothing else arrives.
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        running
    }

    fn addr(&self, i: usize) -> SocketAddr {
        self.urls[i]
            .strip_prefix("http://")
            .unwrap()
            .parse()
            .unwrap()
    }

    fn signal(&mut self, sig: &str) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let (tx, rx) = mpsc::channel();
        let pid = self.child.id();
        std::thread::spawn(move || {
            if rx.recv_timeout(WAIT).is_err() {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        });
        let status = self.child.wait().unwrap();
        let _ = tx.send(());
        status
    }
}

impl Running {
    /// Sends SIGHUP (reload) and returns at once.
    fn hangup(&self) {
        let ok = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// The server's stderr, a line at a time, read on a thread.
    fn stderr_lines(&mut self) -> mpsc::Receiver<String> {
        let stderr = self.child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        lines
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 exchange on a fresh connection; returns the whole response text.
fn http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn ipv6_loopback_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn serves_every_listener_journals_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("imdspec-serve-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal.jsonl");
    let journal_arg = journal.display().to_string();
    let v6 = ipv6_loopback_available();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--http-tokens",
        "required",
        "--journal",
        &journal_arg,
    ];
    if v6 {
        args.extend(["--listen", "[::1]:0"]);
    }
    let mut server = Running::start(&args, if v6 { 2 } else { 1 });
    assert!(server.urls[0].starts_with("http://127.0.0.1:"));
    if v6 {
        assert!(
            server.urls[1].starts_with("http://[::1]:"),
            "{:?}",
            server.urls
        );
    }

    let resp = http(
        server.addr(0),
        "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 300\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    let token = resp.split("\r\n\r\n").nth(1).unwrap().to_owned();
    assert_eq!(token.len(), 56);
    for i in 0..server.urls.len() {
        let resp = http(
            server.addr(i),
            &format!(
                "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"
            ),
        );
        assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
        let resp = http(
            server.addr(i),
            "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        assert!(resp.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{resp}");
    }

    let status = server.signal("-TERM");
    assert!(status.success(), "{status:?}");
    let text = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1 + 2 * server.urls.len(), "{text}");
    assert!(!text.contains(&token), "journal leaks the token");
    assert_eq!(lines[0]["method"], "PUT");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["outcome"], "TokenIssued");
    let issued = lines[0]["issued_token"].as_str().unwrap();
    assert_eq!(lines[1]["token"], issued);
    assert_eq!(lines[1]["status"], 200);
    assert_eq!(lines[2]["status"], 401);
    assert_eq!(lines[2]["outcome"], "TokenMissing");
    assert_eq!(lines[2]["listener"], server.addr(0).to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn faults_from_the_command_line_and_sigint() {
    let mut server = Running::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--fault",
            "token-put=403x1",
            "--fault",
            "get=503",
            "--fault",
            "get[/latest/meta-data/instance-id]=delay:200ms",
        ],
        1,
    );
    // The 403 keeps the connection open (as EC2's does), so ask for close to read to the end.
    let put = "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
    let first = http(server.addr(0), put);
    assert!(first.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{first}");
    let second = http(server.addr(0), put);
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{second}");
    let get = http(
        server.addr(0),
        "GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(
        get.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{get}"
    );
    assert!(get.contains("503 - Service Unavailable"), "{get}");
    // The path-scoped fault comes first for its path: a normal answer, late.
    let started = std::time::Instant::now();
    let id = http(
        server.addr(0),
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(id.starts_with("HTTP/1.1 200 OK\r\n"), "{id}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    let status = server.signal("-INT");
    assert!(status.success(), "{status:?}");
}

/// Body of a GET on a fresh connection (IMDSv1, the default `optional` mode).
fn get(server: &Running, path: &str) -> String {
    http(
        server.addr(0),
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
}

#[test]
fn extended_credentials_only_with_the_flag() {
    let extended = "/latest/meta-data/iam/security-credentials-extended/";
    let mut plain = Running::start(&["--listen", "127.0.0.1:0"], 1);
    let resp = get(&plain, extended);
    assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
    let iam = get(&plain, "/latest/meta-data/iam/");
    assert!(iam.starts_with("HTTP/1.1 200 OK\r\n"), "{iam}");
    assert!(!iam.contains("security-credentials-extended"), "{iam}");
    assert!(plain.signal("-TERM").success());

    let mut on = Running::start(&["--listen", "127.0.0.1:0", "--extended-credentials"], 1);
    let iam = get(&on, "/latest/meta-data/iam/");
    assert!(
        iam.contains("\r\n\r\n") && iam.contains("security-credentials-extended/"),
        "{iam}"
    );
    let listing = get(&on, extended);
    assert!(listing.starts_with("HTTP/1.1 200 OK\r\n"), "{listing}");
    assert!(listing.ends_with("\r\n\r\nimdspec-role"), "{listing}");
    let creds = get(&on, &format!("{extended}imdspec-role"));
    assert!(creds.starts_with("HTTP/1.1 200 OK\r\n"), "{creds}");
    assert!(
        creds.contains("\"AccountId\" : \"123456789012\""),
        "{creds}"
    );
    assert!(on.signal("-TERM").success());
}

#[test]
fn extended_credentials_without_a_role_exit_2() {
    let dir = std::env::temp_dir().join(format!("imdspec-serve-ext-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let no_role = dir.join("no-role.json");
    std::fs::write(&no_role, r#"{"iam": null}"#).unwrap();
    let o = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--instance",
        &no_role.display().to_string(),
        "--extended-credentials",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--extended-credentials"), "{err}");
    assert!(err.contains("no IAM role"), "{err}");
    assert!(o.stdout.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn spot_interruption_shortcut_posts_a_notice_after_its_delay() {
    let path = "/latest/meta-data/spot/instance-action";
    let started = std::time::Instant::now();
    let mut server = Running::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--spot-interruption",
            "terminate@+1s",
        ],
        1,
    );
    let first = get(&server, path);
    assert!(first.starts_with("HTTP/1.1 404 Not Found\r\n"), "{first}");
    let mut notice = None;
    for _ in 0..30 {
        let resp = get(&server, path);
        if resp.starts_with("HTTP/1.1 200 OK\r\n") {
            notice = Some((resp, started.elapsed()));
            break;
        }
        assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (resp, after) = notice.expect("a spot notice within 30 tries");
    assert!(resp.contains("\"action\""), "{resp}");
    assert!(resp.contains("terminate"), "{resp}");
    assert!(after <= Duration::from_secs(2), "notice after {after:?}");
    assert!(after >= Duration::from_secs(1), "notice after {after:?}");
    assert!(server.signal("-TERM").success());
}

#[test]
fn other_shortcuts_fire_at_once_without_when() {
    let mut server = Running::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--rebalance-recommendation",
            "--maintenance-event",
            "system-reboot",
            "--asg-termination",
        ],
        1,
    );
    let rebalance = get(
        &server,
        "/latest/meta-data/events/recommendations/rebalance",
    );
    assert!(rebalance.contains("\"noticeTime\""), "{rebalance}");
    let events = get(&server, "/latest/meta-data/events/maintenance/scheduled");
    assert!(events.contains("\"system-reboot\""), "{events}");
    let asg = get(
        &server,
        "/latest/meta-data/autoscaling/target-lifecycle-state",
    );
    assert!(asg.ends_with("\r\n\r\nTerminated"), "{asg}");
    assert!(server.signal("-TERM").success());
}

#[test]
fn bad_scenario_file_and_shortcut_values_exit_2() {
    let dir = std::env::temp_dir().join(format!("imdspec-serve-scn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad-scenario.toml");
    std::fs::write(
        &bad,
        "[[entry]]\nafter = \"10 parsecs\"\nasg-lifecycle = \"Terminated\"\n",
    )
    .unwrap();
    let o = serve(&[
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        bad.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for w in ["--scenario", "bad-scenario.toml", ":2", "after"] {
        assert!(err.contains(w), "{w:?} missing from {err}");
    }
    assert!(err.contains("Usage:"), "{err}");
    let missing = dir.join("no-such-scenario.toml");
    let o = serve(&["--scenario", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no-such-scenario.toml"),
        "{}",
        stderr(&o)
    );

    let cases: &[&[&str]] = &[
        &["--spot-interruption", "explode"],
        &["--spot-interruption", "stop@10s"],
        &["--spot-interruption", "stop@2026-13-01T00:00:00Z"],
        &["--maintenance-event", "coffee-break"],
        &["--rebalance-recommendation=soon"],
        &["--asg-termination=+forever"],
    ];
    for args in cases {
        let o = serve(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(args[0].split('=').next().unwrap()),
            "{args:?}: {err}"
        );
        assert!(err.contains("Usage:"), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn print_instance_prints_a_file_that_reads_back() {
    let out = serve(&["--print-instance"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("instance-id = \"i-0123456789abcdef0\""),
        "{text}"
    );
    assert!(
        text.contains("#kernel-id = "),
        "unset keys are shown commented: {text}"
    );
    // Fed back in, it serves the same instance: the printed file is the starting point.
    let dir = std::env::temp_dir().join(format!("imdspec-print-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("instance.toml");
    std::fs::write(&file, text.replace("t3.micro", "m7i.large")).unwrap();
    let again = serve(&["--instance", file.to_str().unwrap(), "--print-instance"]);
    assert!(again.status.success(), "{}", stderr(&again));
    let again = String::from_utf8(again.stdout).unwrap();
    assert_eq!(again, text.replace("t3.micro", "m7i.large"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_rereads_the_instance_file_and_keeps_the_old_one_when_bad() {
    let dir = std::env::temp_dir().join(format!("imdspec-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("instance.toml");
    std::fs::write(&file, "instance-type = \"m5.large\"\n").unwrap();
    let mut server = Running::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--instance",
            file.to_str().unwrap(),
        ],
        1,
    );
    let lines = server.stderr_lines();
    let body = |server: &Running| {
        let resp = get(server, "/latest/meta-data/instance-type");
        resp.split_once("\r\n\r\n").unwrap().1.to_owned()
    };
    assert_eq!(body(&server), "m5.large");

    std::fs::write(&file, "instance-type = \"c7g.xlarge\"\n").unwrap();
    server.hangup();
    let line = lines.recv_timeout(WAIT).expect("a reload line on stderr");
    assert_eq!(line, "SIGHUP: reloaded the instance and scenario");
    assert_eq!(body(&server), "c7g.xlarge");

    std::fs::write(&file, "instance-type = \"c7g.xlarge\"\nno-such-key = 1\n").unwrap();
    server.hangup();
    let line = lines.recv_timeout(WAIT).expect("a refusal line on stderr");
    assert!(
        line.starts_with("SIGHUP: --instance: ")
            && line.contains("instance.toml:2")
            && line.contains("no-such-key")
            && line.ends_with("nothing changed"),
        "{line}"
    );
    assert_eq!(
        body(&server),
        "c7g.xlarge",
        "a bad file keeps the old instance"
    );
    assert!(server.signal("-TERM").success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sighup_restarts_a_rewritten_scenario() {
    let dir = std::env::temp_dir().join(format!("imdspec-hup-scn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.toml");
    let write = |state: &str| {
        let text = format!("[[entry]]\nafter-requests = 1\nasg-lifecycle = \"{state}\"\n");
        std::fs::write(&file, text).unwrap();
    };
    write("Terminated");
    let mut server = Running::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            file.to_str().unwrap(),
        ],
        1,
    );
    let lines = server.stderr_lines();
    let state = |server: &Running| {
        let resp = get(
            server,
            "/latest/meta-data/autoscaling/target-lifecycle-state",
        );
        resp.split_once("\r\n\r\n").unwrap().1.to_owned()
    };
    assert_eq!(state(&server), "Terminated");
    write("InService");
    server.hangup();
    let line = lines.recv_timeout(WAIT).expect("a reload line on stderr");
    assert_eq!(line, "SIGHUP: reloaded the instance and scenario");
    // Requests count again from the reload: the first one after it fires the new entry.
    assert_eq!(state(&server), "InService");
    assert!(server.signal("-TERM").success());
    let _ = std::fs::remove_dir_all(&dir);
}
