//! `imdspec run` through the built binary: the embedded default passes in every profile, its
//! JSON report (insta snapshot) and committed result summaries, exit codes 0/1/2/3, formats,
//! selection, expectations, declared options, IPv6 and a hung token PUT. Loopback only.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use imds_model::{HttpTokens, MetadataOptions};
use imds_server::{Faults, ImdsServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");
/// A run that has not finished by then is killed (and the test fails on its exit status).
const WAIT: Duration = Duration::from_secs(120);

fn imdspec(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let pid = child.id();
    std::thread::spawn(move || {
        if rx.recv_timeout(WAIT).is_err() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let _ = err_pipe.read_to_end(&mut stderr);
        stderr
    });
    out_pipe.read_to_end(&mut stdout).unwrap();
    let status = child.wait().unwrap();
    let _ = tx.send(());
    Output {
        status,
        stdout,
        stderr: err_thread.join().unwrap(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The embedded default run, once for every test that looks at it.
fn embedded_report() -> &'static (i32, Value) {
    static REPORT: OnceLock<(i32, Value)> = OnceLock::new();
    REPORT.get_or_init(|| {
        let out = imdspec(&["run", "--format", "json"]);
        let json: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
        (out.status.code().unwrap_or(-1), json)
    })
}

#[test]
fn embedded_run_passes_every_case_in_every_profile() {
    let (code, r) = embedded_report();
    let names: Vec<&str> = r["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["target"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["optional", "required", "required-tags", "disabled"]);
    let bad: Vec<String> = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !matches!(c["outcome"].as_str(), Some("pass" | "skip")))
        .map(|c| format!("{} {} {}", c["target"], c["id"], c["outcome"]))
        .collect();
    assert_eq!(bad, Vec::<String>::new());
    assert_eq!(*code, 0);
    assert_eq!(r["exit_code"], 0);
    assert_eq!(r["version"], 1);
    assert!(
        r["summary"]["pass"].as_u64().unwrap() > 500,
        "{}",
        r["summary"]
    );
    for run in r["runs"].as_array().unwrap() {
        let t = &run["target"];
        // Declared and detected agree wherever detection can tell.
        for key in ["http_tokens", "http_endpoint", "instance_metadata_tags"] {
            if !t["detected"][key].is_null() {
                assert_eq!(t["detected"][key], t["declared"][key], "{key} in {t}");
            }
        }
    }
}

/// Strips what changes from run to run (durations, ports) and the catalogue's own prose
/// (summaries, docs and expectation lines live in conformance/ and are reviewed there).
fn stable(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for key in ["duration_ms", "elapsed_ms"] {
                    if m.contains_key(key) {
                        m.insert(key.into(), Value::String("[ms]".into()));
                    }
                }
                if let Some(Value::String(e)) = m.get("endpoint")
                    && e.starts_with("http://")
                {
                    m.insert("endpoint".into(), Value::String("[loopback]".into()));
                }
                if m.contains_key("outcome") {
                    for key in ["summary", "doc", "spec"] {
                        m.remove(key);
                    }
                    if let Some(Value::Object(d)) = m.get_mut("detail") {
                        d.remove("expected");
                    }
                }
                for (_, x) in m.iter_mut() {
                    walk(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn embedded_report_snapshot() {
    let (_, r) = embedded_report();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../snapshots/imdspec");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!("run_embedded_report", stable(r.clone())));
}

/// `snapshots/conformance/<target>.txt`: counts and the sorted non-passing ids of one run.
fn summary_text(run: &Value, cases: &[Value]) -> String {
    let name = run["target"]["name"].as_str().unwrap();
    let s = &run["summary"];
    let mut out = format!(
        "# imdspec run against the reference server, profile {name}.\n\
         # Regenerate: IMDSPEC_BLESS=1 cargo test -p imdspec --test run_cli\n\
         total {}\npass {}\nfail {}\nskip {}\nerror {}\ninconclusive {}\nxfail {}\nxpass {}\n\nnot passing:\n",
        s["total"],
        s["pass"],
        s["fail"],
        s["skip"],
        s["error"],
        s["inconclusive"],
        s["xfail"],
        s["xpass"]
    );
    let mut lines: Vec<String> = cases
        .iter()
        .filter(|c| c["target"] == name && c["outcome"] != "pass")
        .map(|c| {
            format!(
                "{} {} ({})",
                c["outcome"].as_str().unwrap(),
                c["id"].as_str().unwrap(),
                c["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    lines.sort();
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn committed_result_summaries_match() {
    let (_, r) = embedded_report();
    let dir = workspace().join("snapshots/conformance");
    let bless = std::env::var_os("IMDSPEC_BLESS").is_some_and(|v| v == "1");
    let cases = r["cases"].as_array().unwrap();
    let mut differ = Vec::new();
    for run in r["runs"].as_array().unwrap() {
        let name = run["target"]["name"].as_str().unwrap();
        let file = dir.join(format!("reference-{name}.txt"));
        let now = summary_text(run, cases);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &now).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        if committed != now {
            differ.push(format!(
                "{}:\n--- committed\n{committed}\n+++ now\n{now}",
                file.display()
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "result summaries changed (IMDSPEC_BLESS=1 to accept):\n{}",
        differ.join("\n")
    );
}

#[test]
fn list_prints_every_case() {
    let out = imdspec(&["run", "--list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 120, "{} cases", lines.len());
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("token.ttl.zero-rejected") && l.contains("should")),
        "{stdout}"
    );
    let out = imdspec(&["run", "--list", "--case", "token.ttl.*", "--skip", "*zero*"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.lines().all(|l| l.starts_with("token.ttl.")),
        "{stdout}"
    );
    assert!(!stdout.contains("zero-rejected"), "{stdout}");
    assert!(stdout.lines().count() > 5, "{stdout}");
}

#[test]
fn broken_catalogue_names_file_line_and_field_and_exits_2() {
    let dir = std::env::temp_dir().join(format!("imdspec-run-cli-{}", std::process::id()));
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::write(dir.join("paths.toml"), "").unwrap();
    std::fs::write(
        cases.join("bad.toml"),
        "[[case]]\nid = \"bad.b\"\nsummary = \"s\"\ndoc = \"https://x\"\nlevel = \"sometimes\"\n[[case.step]]\npath = \"/\"\n",
    )
    .unwrap();
    let out = imdspec(&["run", "--conformance-dir", dir.to_str().unwrap(), "--list"]);
    let err = text(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bad.toml:5:9: case[1].level: "), "{err}");
    assert!(err.contains("unknown value `sometimes`"), "{err}");
    assert_eq!(err.matches("bad.toml").count(), 1, "{err}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["run", "--endpoint", "ftp://127.0.0.1:1"][..],
        &["run", "--endpoint", "not a url"],
        &["run", "--target", "no-such-target", "--list"],
        &["run", "--case", "[", "--list"],
        &["run", "--case", "no.such.case*"],
        &["run", "--http-tokens", "sometimes"],
        &["run", "--timeout-ms", "0"],
    ] {
        let out = imdspec(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let err = text(&out.stderr);
        assert!(
            err.contains("Usage") || err.contains("--help"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn unreachable_endpoint_exits_3() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let out = imdspec(&["run", "--endpoint", &url, "--timeout-ms", "500"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot be reached"),
        "{}",
        text(&out.stderr)
    );
}

/// A reference server on a tokio runtime that lives as long as the returned guard.
struct Server {
    _rt: tokio::runtime::Runtime,
    server: ImdsServer,
}

fn server(options: MetadataOptions, faults: Faults, listen: &str) -> Server {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async {
        ImdsServer::builder()
            .options(options)
            .faults(faults)
            .listen(listen.parse().unwrap())
            .start()
            .await
            .unwrap()
    });
    Server { _rt: rt, server }
}

#[test]
fn endpoint_run_over_ipv6_loopback_with_junit_output() {
    let s = server(MetadataOptions::default(), Faults::none(), "[::1]:0");
    let url = s.server.url();
    assert!(url.starts_with("http://[::1]:"), "{url}");
    let file = std::env::temp_dir().join(format!("imdspec-junit-{}.xml", std::process::id()));
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--case",
        "token.*",
        "--case",
        "listing.*",
        "--format",
        "junit",
        "--output",
        file.to_str().unwrap(),
        "--max-rps",
        "1000",
    ]);
    let xml = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(0), "{}\n{xml}", text(&out.stderr));
    assert!(xml.contains("<testsuites"), "{xml}");
    assert!(xml.contains("name=\"endpoint.token\""), "{xml}");
    assert!(xml.contains("token.put.ok"), "{xml}");
    assert!(!xml.contains("<failure"), "{xml}");
}

#[test]
fn declared_option_contradicted_fails_the_run() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--http-tokens",
        "required",
        "--case",
        "options.*",
        "--case",
        "auth.required.tokenless-unauthorized",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let outcome = |id: &str| {
        r["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["outcome"].clone())
    };
    assert_eq!(outcome("options.declared.http-tokens"), Some("fail".into()));
    assert_eq!(
        outcome("auth.required.tokenless-unauthorized"),
        Some("fail".into())
    );
    assert_eq!(r["target"]["detected"]["http_tokens"], "optional");
    assert_eq!(r["target"]["declared"]["http_tokens"], "required");
}

#[test]
fn expectations_turn_failures_into_xfail_and_flag_xpass_and_stale() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let file = std::env::temp_dir().join(format!("imdspec-xfail-{}.toml", std::process::id()));
    std::fs::write(
        &file,
        "[xfail]\n\"options.declared.http-tokens\" = \"declared wrongly on purpose\"\n\"token.put.ok\" = \"listed but passes\"\n\"no.such.case\" = \"gone\"\n",
    )
    .unwrap();
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--http-tokens",
        "required",
        "--case",
        "options.declared.http-tokens",
        "--case",
        "token.put.ok",
        "--expectations",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&file);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line_with = |outcome: &str, id: &str| {
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with(outcome) && l.contains(id))
    };
    assert!(
        line_with("xfail", "options.declared.http-tokens"),
        "{stdout}"
    );
    assert!(line_with("xpass", "token.put.ok"), "{stdout}");
    assert!(
        stdout.contains("stale expectation: no.such.case"),
        "{stdout}"
    );
    assert!(stdout.contains("imdspec run: FAIL"), "{stdout}");
}

/// Outcome of case `id` in a JSON report.
fn json_outcome(r: &Value, id: &str) -> String {
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["outcome"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no case {id}"))
}

#[test]
fn hung_token_put_is_inconclusive_with_its_fix_and_a_declared_hop_limit_makes_it_skips() {
    // `imdspec serve --fault token-put=hang`.
    let faults = Faults::parse_all(["token-put=hang"]).unwrap();
    let options = MetadataOptions {
        http_tokens: HttpTokens::Optional,
        ..MetadataOptions::default()
    };
    let s = server(options, faults, "127.0.0.1:0");
    let url = s.server.url();
    // Default flags: 2 s timeout, 50 requests/s, 4 cases at once.
    let out = imdspec(&["run", "--endpoint", &url, "--format", "json"]);
    // Tokenless GETs are answered, so the hung PUT reads as a hop limit (SPEC §13.1): not a
    // failure, but no PASS either.
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"], "INCONCLUSIVE");
    assert_eq!(r["exit_code"], 4);
    assert_eq!(json_outcome(&r, "token.put.ok"), "inconclusive");
    assert_eq!(json_outcome(&r, "token.use.get"), "inconclusive");
    // Content checks still run tokenless, and no must-level case got a wrong verdict.
    assert_eq!(json_outcome(&r, "category.instance-id.format"), "pass");
    let wrong: Vec<&Value> = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail" && c["level"] == "must")
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    let unchecked = &r["runs"][0]["unchecked"][0];
    assert!(
        unchecked["causes"]
            .to_string()
            .contains("--http-put-response-hop-limit 2"),
        "{unchecked}"
    );

    // The human report says what it could not check and how to fix each likely cause.
    let out = imdspec(&["run", "--endpoint", &url]);
    assert_eq!(out.status.code(), Some(4));
    let human = text(&out.stdout);
    for want in [
        "could not check:",
        "aws ec2 modify-instance-metadata-options",
        "run imdspec on the host",
        "a proxy",
        "a hung or flaky endpoint",
        "imdspec run: INCONCLUSIVE",
    ] {
        assert!(human.contains(want), "{want}: {human}");
    }

    // Declared: the user knows the answer does not reach them; the same cases are skips.
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--http-put-response-hop-limit",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"], "PASS");
    assert_eq!(json_outcome(&r, "token.put.ok"), "skip");
    assert_eq!(r["summary"]["inconclusive"], 0);
}

/// Skips of an undeclared run against a server with `faults`, and the JSON report.
fn skips_with(faults: &[&str]) -> (u64, Value) {
    let s = server(
        MetadataOptions::default(),
        Faults::parse_all(faults.iter().copied()).unwrap(),
        "127.0.0.1:0",
    );
    let out = imdspec(&["run", "--endpoint", &s.server.url(), "--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    (r["summary"]["skip"].as_u64().unwrap(), r)
}

#[test]
fn one_off_faults_cost_at_most_ten_skips_and_no_disabled_failures() {
    let (faithful, _) = skips_with(&[]);
    for fault in [
        "token-put=403x2",
        "get[/latest/meta-data/instance-id]=500x1",
    ] {
        let (skips, r) = skips_with(&[fault]);
        assert!(
            skips <= faithful + 10,
            "{fault}: {skips} skips, {faithful} against the faithful server; notes {}",
            r["runs"][0]["notes"]
        );
        let cases = r["cases"].as_array().unwrap();
        let failed_disabled: Vec<&Value> = cases
            .iter()
            .filter(|c| {
                c["id"].as_str().unwrap().starts_with("endpoint.disabled.")
                    && c["outcome"] != "skip"
            })
            .collect();
        assert!(failed_disabled.is_empty(), "{fault}: {failed_disabled:#?}");
        // The odd answer is reported at should level, and the run does not fail.
        assert_eq!(
            json_outcome(&r, "options.consistent-answers"),
            "fail",
            "{fault}"
        );
        assert_eq!(r["exit_code"], 0, "{fault}");
    }
}

#[test]
fn a_failing_human_report_leads_with_the_root_cause_and_splits_its_summary_by_level() {
    // A persistent 500 on one leaf: several cases meet it.
    let s = server(
        MetadataOptions::default(),
        Faults::parse_all(["get[/latest/meta-data/instance-id]=500"]).unwrap(),
        "127.0.0.1:0",
    );
    let out = imdspec(&["run", "--endpoint", &s.server.url()]);
    assert_eq!(out.status.code(), Some(1));
    let human = text(&out.stdout);
    let cause = human.find("cause 1: ").expect(&human);
    let first_group = &human[cause
        ..human[cause + 1..]
            .find("cause 2: ")
            .map_or(human.len(), |i| i + cause + 1)];
    assert!(
        first_group.starts_with("cause 1: GET /latest/meta-data/instance-id → 500"),
        "{human}"
    );
    assert!(first_group.contains("response: 500"), "{human}");
    assert!(first_group.contains("with the same cause: "), "{human}");
    let verdict = human.lines().last().unwrap();
    let split = regex::Regex::new(r"\d+ fail \(\d+ must(, \d+ should)?(, \d+ info)?\)").unwrap();
    assert!(split.is_match(verdict), "{verdict}");
}

#[test]
fn secrets_are_redacted_unless_asked() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let args = |show: bool| {
        let mut a = vec![
            "run",
            "--endpoint",
            url.as_str(),
            "--case",
            "credentials.role.fields",
            "--case",
            "token.put.ok",
            "--case",
            "user-data.get",
            "--detail",
            "all",
            "--format",
            "json",
        ];
        if show {
            a.push("--show-secrets");
        }
        imdspec(&a)
    };
    let hidden = text(&args(false).stdout);
    assert!(hidden.contains("<redacted"), "{hidden}");
    assert!(!hidden.contains("wJalrXUtnFEMI"), "{hidden}");
    assert!(!hidden.contains("echo hello from imdspec"), "{hidden}");
    let shown = text(&args(true).stdout);
    assert!(shown.contains("wJalrXUtnFEMI"), "{shown}");
    assert!(shown.contains("echo hello from imdspec"), "{shown}");
}

#[test]
fn human_failures_show_request_status_and_spec_and_detail_all_shows_exchanges() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let args = [
        "run",
        "--endpoint",
        &url,
        "--http-tokens",
        "required",
        "--case",
        "auth.required.tokenless-unauthorized",
    ];
    let out = imdspec(&args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.trim_start().starts_with("request:  GET /latest/") && l.contains("→ 200")),
        "{stdout}"
    );
    assert!(stdout.contains("spec: SPEC.md §"), "{stdout}");
    assert!(!stdout.contains("< HTTP/1.1"), "{stdout}");
    let mut all = args.to_vec();
    all.extend(["--detail", "all", "--case", "token.put.ok"]);
    let out = imdspec(&all);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("> PUT /latest/api/token"), "{stdout}");
    assert!(stdout.contains("< HTTP/1.1 200"), "{stdout}");
    assert!(
        stdout.contains("token.put.ok"),
        "passing cases are listed: {stdout}"
    );
}

#[test]
fn output_path_is_checked_before_the_run_and_the_verdict_still_reaches_stderr() {
    let start = std::time::Instant::now();
    let out = imdspec(&["run", "--output", "/nonexistent-dir/imdspec/report.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--output"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "refused at once, not after a run"
    );
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let file = std::env::temp_dir().join(format!("imdspec-verdict-{}.json", std::process::id()));
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--case",
        "token.put.ok",
        "--format",
        "json",
        "--output",
        file.to_str().unwrap(),
    ]);
    let json = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(serde_json::from_str::<Value>(&json).is_ok(), "{json}");
    assert!(
        text(&out.stderr).contains("imdspec run: PASS"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn list_as_json() {
    let out = imdspec(&["run", "--list", "--format", "json", "--case", "token.ttl.*"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = v.as_array().unwrap();
    assert!(cases.len() > 5, "{v}");
    for c in cases {
        assert!(c["id"].as_str().unwrap().starts_with("token.ttl."), "{c}");
        assert!(
            ["must", "should", "info"].contains(&c["level"].as_str().unwrap()),
            "{c}"
        );
        assert!(c["summary"].is_string() && c["doc"].is_string(), "{c}");
    }
}

#[test]
fn endpoint_with_a_path_is_refused_with_a_hint() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = format!("{}/latest/", s.server.url());
    let out = imdspec(&["run", "--endpoint", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("without a path"), "{err}");
    assert!(err.contains("Usage: imdspec run"), "{err}");
    assert!(s.server.journal().is_empty(), "nothing was sent");
}

#[test]
fn metadata_options_declare_only_the_fields_in_the_file() {
    let s = server(MetadataOptions::default(), Faults::none(), "127.0.0.1:0");
    let url = s.server.url();
    let file = std::env::temp_dir().join(format!("imdspec-mo-{}.json", std::process::id()));
    std::fs::write(
        &file,
        r#"{"Reservations": [{"Instances": [{"InstanceId": "i-0aaa",
            "MetadataOptions": {"HttpEndpoint": "enabled"}}]}]}"#,
    )
    .unwrap();
    let out = imdspec(&[
        "run",
        "--endpoint",
        &url,
        "--metadata-options",
        file.to_str().unwrap(),
        "--case",
        "token.put.ok",
        "--format",
        "json",
    ]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["target"]["declared"]["http_endpoint"], "enabled");
    assert!(
        r["target"]["declared"]["http_tokens"].is_null(),
        "not in the file, so not declared: {}",
        r["target"]["declared"]
    );
}

#[test]
fn help_texts_declare_list_exit_codes_and_an_example() {
    for cmd in ["run", "probe", "serve", "client-check"] {
        let out = imdspec(&[cmd, "--help"]);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{cmd}");
        assert!(help.contains("Exit codes:"), "{cmd}: {help}");
        assert!(help.contains("Example"), "{cmd}: {help}");
        assert!(help.contains(&format!("  imdspec {cmd} ")), "{cmd}: {help}");
    }
    for cmd in ["run", "probe"] {
        let help = text(&imdspec(&[cmd, "--help"]).stdout);
        let heading = help
            .lines()
            .position(|l| l.starts_with("Declared options (what to expect"))
            .unwrap_or_else(|| panic!("{cmd}: {help}"));
        let tokens = help
            .lines()
            .position(|l| l.contains("--http-tokens"))
            .unwrap();
        assert!(
            tokens > heading,
            "{cmd}: the option flags sit under the heading: {help}"
        );
    }
    let serve = text(&imdspec(&["serve", "--help"]).stdout);
    assert!(serve.contains("[default: 127.0.0.1:1338]"), "{serve}");
    assert!(serve.contains("--http-tokens optional"), "{serve}");
    let cc = text(&imdspec(&["client-check", "--help"]).stdout);
    for name in std::fs::read_dir(workspace().join("conformance/clients/targets")).unwrap() {
        let name = name
            .unwrap()
            .file_name()
            .to_string_lossy()
            .replace(".toml", "");
        assert!(cc.contains(&name), "--target should list {name}: {cc}");
    }
    assert!(cc.contains("AWS_EC2_METADATA_SERVICE_ENDPOINT"), "{cc}");
}

#[test]
fn missing_files_and_bad_listen_values_say_what_to_do() {
    let out = imdspec(&[
        "run",
        "--metadata-options",
        "/nonexistent/opts.json",
        "--list",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/opts.json"),
        "{}",
        text(&out.stderr)
    );
    let out = imdspec(&["run", "--expectations", "/nonexistent/x.toml", "--list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/x.toml"),
        "{}",
        text(&out.stderr)
    );
    let out = imdspec(&[
        "serve",
        "--instance",
        "/nonexistent/i.toml",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/i.toml"),
        "{}",
        text(&out.stderr)
    );
    let out = imdspec(&["serve", "--listen", "localhost:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("127.0.0.1:0"),
        "{}",
        text(&out.stderr)
    );
}
