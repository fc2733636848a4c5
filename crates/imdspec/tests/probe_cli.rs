//! `imdspec probe` through the built binary against the in-process reference server on
//! loopback: every option profile, comparison with declared options, the hop-limit symptom,
//! unreachable and hung endpoints, usage errors, and insta snapshots of both output formats.
//!
//! Every run passes `--endpoint` with a loopback URL ([`probe`] refuses to run otherwise), so
//! nothing here can reach 169.254.169.254 or fd00:ec2::254.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use imds_model::{HttpTokens, MetadataOptions, Toggle};
use imds_server::{Faults, ImdsServer};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_imdspec");
/// The issue's bound on a probe with default timeouts, measured by the probe itself.
const BUDGET_MS: u64 = 3000;
/// Wall-clock guard on one run of the binary (process start included): a hang fails the test.
const HANG_GUARD: Duration = Duration::from_secs(20);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    wall: Duration,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Runs `imdspec probe ARGS`. Refuses to run without a loopback `--endpoint`.
async fn probe(args: &[&str]) -> Run {
    let endpoint = args
        .iter()
        .position(|a| *a == "--endpoint")
        .and_then(|i| args.get(i + 1))
        .expect("every probe test passes --endpoint");
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://[::1]:"),
        "test endpoints are loopback only: {endpoint}"
    );
    if let Some(i) = args.iter().position(|a| *a == "--ipv6-endpoint") {
        assert!(args[i + 1].starts_with("http://[::1]:"), "{}", args[i + 1]);
    }
    let start = Instant::now();
    let child = tokio::process::Command::new(BIN)
        .arg("probe")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(HANG_GUARD, child.wait_with_output())
        .await
        .expect("the probe hung")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        wall: start.elapsed(),
    }
}

async fn server(options: MetadataOptions) -> ImdsServer {
    ImdsServer::builder()
        .options(options)
        .start()
        .await
        .unwrap()
}

fn options(tokens: HttpTokens, endpoint: Toggle, tags: Toggle) -> MetadataOptions {
    MetadataOptions {
        http_tokens: tokens,
        http_endpoint: endpoint,
        instance_metadata_tags: tags,
        ..MetadataOptions::default()
    }
}

/// Timings and ports vary from run to run; everything else in the output must not.
fn redact(text: &str, urls: &[String]) -> String {
    let mut s = text.to_owned();
    for (i, url) in urls.iter().enumerate() {
        s = s.replace(url.as_str(), &format!("http://LOOPBACK-{i}"));
    }
    let rules = [
        (r#""(ms|total_ms)": \d+"#, r#""$1": "[ms]""#),
        (r"\(\d+ ms\)", "([ms])"),
        (r"TCP connect \d+ ms", "TCP connect [ms]"),
        (r"probe took \d+ ms", "probe took [ms]"),
        (r"/\S*imdspec-probe-\d+-\d+\.json", "DECLARED.json"),
    ];
    for (re, with) in rules {
        s = regex::Regex::new(re)
            .unwrap()
            .replace_all(&s, with)
            .into_owned();
    }
    s
}

fn snapshot(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../snapshots/probe");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// A declared-options file in the describe-instances form, removed on drop.
struct OptionsFile(PathBuf);

impl OptionsFile {
    fn new(json: &str) -> OptionsFile {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "imdspec-probe-{}-{}.json",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, json).unwrap();
        OptionsFile(path)
    }

    fn declaring(o: &MetadataOptions) -> OptionsFile {
        OptionsFile::new(&o.to_describe_instances_json())
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for OptionsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn assert_no_secrets(run: &Run, server: &ImdsServer) {
    for entry in server.journal() {
        assert!(
            !entry.path.contains("credentials"),
            "the probe never fetches credentials: {}",
            entry.path
        );
    }
    // Tokens from the model are 56 characters starting with AQAE; none may be printed.
    assert!(!run.stdout.contains("AQAE"), "{}", run.stdout);
    assert!(!run.stderr.contains("AQAE"), "{}", run.stderr);
}

struct Profile {
    name: &'static str,
    options: MetadataOptions,
    verdict: &'static str,
    tokens: Value,
    endpoint: Value,
    tags: Value,
}

fn profiles() -> Vec<Profile> {
    use HttpTokens::{Optional, Required};
    use Toggle::{Disabled, Enabled};
    vec![
        Profile {
            name: "optional",
            options: options(Optional, Enabled, Disabled),
            verdict: "IMDSv1 is OPEN on this instance (IMDSv2 works too)",
            tokens: "optional".into(),
            endpoint: "enabled".into(),
            tags: "disabled".into(),
        },
        Profile {
            name: "required",
            options: options(Required, Enabled, Disabled),
            verdict: "IMDSv2 required: IMDSv1 closed",
            tokens: "required".into(),
            endpoint: "enabled".into(),
            tags: "disabled".into(),
        },
        Profile {
            name: "disabled",
            options: options(Optional, Disabled, Disabled),
            verdict: "IMDS is TURNED OFF on this instance (HttpEndpoint=disabled: 403 to every request)",
            tokens: Value::Null,
            endpoint: "disabled".into(),
            tags: Value::Null,
        },
        Profile {
            name: "optional-tags",
            options: options(Optional, Enabled, Enabled),
            verdict: "IMDSv1 is OPEN on this instance (IMDSv2 works too)",
            tokens: "optional".into(),
            endpoint: "enabled".into(),
            tags: "enabled".into(),
        },
        Profile {
            name: "required-tags",
            options: options(Required, Enabled, Enabled),
            verdict: "IMDSv2 required: IMDSv1 closed",
            tokens: "required".into(),
            endpoint: "enabled".into(),
            tags: "enabled".into(),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_is_inferred_and_snapshotted() {
    for p in profiles() {
        let server = server(p.options).await;
        let url = server.url();
        let json = probe(&["--endpoint", &url, "--format", "json"]).await;
        assert_eq!(json.code, 0, "{}: {}{}", p.name, json.stdout, json.stderr);
        let v = json.json();
        assert_eq!(v["format"], "imdspec-probe/1");
        assert_eq!(v["verdict"], p.verdict, "{}", p.name);
        assert_eq!(v["HttpTokens"], p.tokens, "{}", p.name);
        assert_eq!(v["HttpEndpoint"], p.endpoint, "{}", p.name);
        assert_eq!(v["InstanceMetadataTags"], p.tags, "{}", p.name);
        assert_eq!(v["HttpProtocolIpv6"], Value::Null, "{}: not probed", p.name);
        assert_eq!(v["hop_limit_too_low"], false);
        assert_eq!(
            v["looks_like"]["verdict"], "ec2",
            "{}: the reference server mimics EC2",
            p.name
        );
        // Only the endpoint given was contacted.
        let endpoints = v["observations"]["endpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1);
        assert_eq!(endpoints[0]["url"], url.as_str());
        if p.endpoint == "enabled" {
            assert_eq!(v["InstanceId"], "i-0123456789abcdef0");
            assert_eq!(v["imdsv2"], "works");
            let put = &endpoints[0]["token_put"];
            assert_eq!(put["status"], 200);
            assert_eq!(put["ttl_header"], "60", "TTL echoed");
            assert_eq!(put["token_length"], 56);
            let tg = &v["observations"]["token_get"];
            assert_eq!(tg["status"], 200);
            assert!(tg["ttl_header"].is_string(), "remaining TTL header: {tg}");
        }
        assert!(v["observations"]["total_ms"].as_u64().unwrap() < BUDGET_MS);
        assert_no_secrets(&json, &server);
        // A handful of requests: PUT, tokenless GET, GET with token, tags.
        assert!(server.journal().len() <= 4, "{:?}", server.journal().len());

        let human = probe(&["--endpoint", &url]).await;
        assert_eq!(human.code, 0, "{}", human.stderr);
        assert_eq!(human.stdout.lines().next(), Some(p.verdict));
        assert_no_secrets(&human, &server);

        let urls = [url.clone()];
        snapshot(&format!("{}-human", p.name), &redact(&human.stdout, &urls));
        snapshot(&format!("{}-json", p.name), &redact(&json.stdout, &urls));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_options_match_or_the_differing_fields_are_named() {
    for p in profiles() {
        let server = server(p.options).await;
        let url = server.url();
        let same = OptionsFile::declaring(&p.options);
        let run = probe(&["--endpoint", &url, "--metadata-options", same.arg()]).await;
        assert_eq!(run.code, 0, "{}: {}{}", p.name, run.stdout, run.stderr);
        assert!(
            run.stdout.contains("the endpoint behaves as declared"),
            "{}",
            run.stdout
        );

        // Flip every detectable option in the declaration.
        let flip = |t: Toggle| match t {
            Toggle::Enabled => Toggle::Disabled,
            Toggle::Disabled => Toggle::Enabled,
        };
        let other = MetadataOptions {
            http_tokens: match p.options.http_tokens {
                HttpTokens::Optional => HttpTokens::Required,
                HttpTokens::Required => HttpTokens::Optional,
            },
            instance_metadata_tags: flip(p.options.instance_metadata_tags),
            http_endpoint: flip(p.options.http_endpoint),
            ..p.options
        };
        let differ = OptionsFile::declaring(&other);
        let run = probe(&[
            "--endpoint",
            &url,
            "--metadata-options",
            differ.arg(),
            "--format",
            "json",
        ])
        .await;
        assert_eq!(run.code, 1, "{}: {}{}", p.name, run.stdout, run.stderr);
        let v = run.json();
        let fields: Vec<&str> = v["declared"]["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        let want: &[&str] = if p.options.http_endpoint == Toggle::Disabled {
            // A turned-off endpoint hides HttpTokens and tags: only HttpEndpoint can differ.
            &["HttpEndpoint"]
        } else {
            // describe-instances' order, as run and fleet report them (one comparison).
            &["HttpTokens", "HttpEndpoint", "InstanceMetadataTags"]
        };
        assert_eq!(fields, want, "{}", p.name);
        assert_eq!(v["declared"]["matches"], false);
        assert_eq!(v["declared"]["file"], differ.arg());

        let human = probe(&["--endpoint", &url, "--metadata-options", differ.arg()]).await;
        assert_eq!(human.code, 1);
        assert!(
            human
                .stdout
                .contains(&format!("DIFFERS in {} field(s)", want.len())),
            "{}",
            human.stdout
        );
        for f in want {
            assert!(
                human.stdout.contains(&format!("  {f}: declared ")),
                "{f}: {}",
                human.stdout
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_beside_the_file_win_and_pending_state_is_noted() {
    let server = server(options(
        HttpTokens::Required,
        Toggle::Enabled,
        Toggle::Disabled,
    ))
    .await;
    let url = server.url();
    let file = OptionsFile::new(
        r#"[ { "State": "pending", "HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled" } ]"#,
    );
    let run = probe(&["--endpoint", &url, "--metadata-options", file.arg()]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("HttpTokens: declared optional, observed required"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("State is pending"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("not checked: HttpPutResponseHopLimit=2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not checked: HttpProtocolIpv6=disabled"),
        "{}",
        run.stdout
    );
    let run = probe(&[
        "--endpoint",
        &url,
        "--metadata-options",
        file.arg(),
        "--http-tokens",
        "required",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = probe(&[
        "--endpoint",
        &url,
        "--http-tokens",
        "optional",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json()["declared"]["differences"][0]["field"],
        "HttpTokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_listener_on_loopback_shows_http_protocol_ipv6() {
    let v6: SocketAddr = (Ipv6Addr::LOCALHOST, 0).into();
    if let Err(e) = std::net::TcpListener::bind(v6) {
        println!("skipped: this machine has no IPv6 loopback ([::1]): {e}");
        return;
    }
    let opts = MetadataOptions {
        http_protocol_ipv6: Toggle::Enabled,
        ..MetadataOptions::default()
    };
    let server = ImdsServer::builder()
        .options(opts)
        .listen((Ipv4Addr::LOCALHOST, 0).into())
        .listen(v6)
        .start()
        .await
        .unwrap();
    let urls = server.urls();
    assert!(urls[1].starts_with("http://[::1]:"), "{urls:?}");
    let run = probe(&[
        "--endpoint",
        &urls[0],
        "--ipv6-endpoint",
        &urls[1],
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["HttpProtocolIpv6"], "enabled");
    assert_eq!(v["observations"]["endpoints"][1]["role"], "ipv6");
    assert_eq!(v["observations"]["endpoints"][1]["ipv6"], true);
    // Exactly the two endpoints given were probed, nothing else.
    let probed: Vec<&str> = v["observations"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(probed, [urls[0].as_str(), urls[1].as_str()]);
    let file = OptionsFile::declaring(&opts);
    let run = probe(&[
        "--endpoint",
        &urls[0],
        "--ipv6-endpoint",
        &urls[1],
        "--metadata-options",
        file.arg(),
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    snapshot("ipv6-enabled-human", &redact(&run.stdout, &urls));

    // The IPv6 endpoint alone as --endpoint answers too.
    let run = probe(&["--endpoint", &urls[1], "--format", "json"]).await;
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["HttpProtocolIpv6"], "enabled");

    // HttpProtocolIpv6=disabled: nothing listens on the IPv6 address.
    let closed = closed_port(v6);
    let closed_url = format!("http://[::1]:{closed}");
    let plain = server_v4_only().await;
    let run = probe(&[
        "--endpoint",
        &plain.url(),
        "--ipv6-endpoint",
        &closed_url,
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v = run.json();
    assert_eq!(v["HttpProtocolIpv6"], "disabled");
    assert_eq!(
        v["observations"]["endpoints"][1]["tcp_connect"]["outcome"],
        "refused"
    );
    let declared_on = OptionsFile::declaring(&opts);
    let run = probe(&[
        "--endpoint",
        &plain.url(),
        "--ipv6-endpoint",
        &closed_url,
        "--metadata-options",
        declared_on.arg(),
    ])
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("HttpProtocolIpv6: declared enabled, observed disabled"),
        "{}",
        run.stdout
    );

    // An IPv6-only position: nothing on the IPv4 endpoint, the IPv6 one answers and the
    // verdict is about it.
    let closed_v4 = format!(
        "http://127.0.0.1:{}",
        closed_port((Ipv4Addr::LOCALHOST, 0).into())
    );
    let run = probe(&[
        "--endpoint",
        &closed_v4,
        "--ipv6-endpoint",
        &urls[1],
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let v = run.json();
    assert_eq!(v["endpoint"], urls[1].as_str());
    assert_eq!(v["HttpProtocolIpv6"], "enabled");
    assert_eq!(v["imdsv1"], "open");
    assert_eq!(v["imdsv2"], "works");
    assert_eq!(
        v["observations"]["endpoints"][0]["tcp_connect"]["outcome"],
        "refused"
    );
}

async fn server_v4_only() -> ImdsServer {
    server(MetadataOptions::default()).await
}

/// A loopback port with nothing listening (bound, then released).
fn closed_port(addr: SocketAddr) -> u16 {
    let l = std::net::TcpListener::bind(addr).unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_token_put_is_diagnosed_as_the_hop_limit_within_budget() {
    for (tokens, verdict) in [
        (
            HttpTokens::Optional,
            "IMDSv1 is OPEN on this instance; IMDSv2 tokens do not reach this position (hop limit too low)",
        ),
        (
            HttpTokens::Required,
            "IMDSv2 required: IMDSv1 closed, and tokens do not reach this position (hop limit too low): IMDS is unusable from here",
        ),
    ] {
        let server = ImdsServer::builder()
            .options(options(tokens, Toggle::Enabled, Toggle::Disabled))
            .faults(Faults::parse_all(["token-put=hang"]).unwrap())
            .start()
            .await
            .unwrap();
        let url = server.url();
        let run = probe(&["--endpoint", &url, "--format", "json"]).await;
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(run.wall < HANG_GUARD);
        let v = run.json();
        assert_eq!(v["verdict"], verdict);
        assert_eq!(v["hop_limit_too_low"], true);
        assert_eq!(v["imdsv2"], "hop-limited");
        assert_eq!(v["HttpTokens"], tokens.to_string());
        assert_eq!(v["diagnoses"][0]["code"], "hop-limit");
        let msg = v["diagnoses"][0]["message"].as_str().unwrap();
        assert!(msg.contains("token response dropped on the way: hop limit too low for this network position (e.g. a container)"), "{msg}");
        let advice = v["diagnoses"][0]["advice"].as_str().unwrap();
        assert!(advice.contains("HttpPutResponseHopLimit"), "{advice}");
        // The id is known only when a tokenless GET answers it (IMDSv1 open).
        let id = match tokens {
            HttpTokens::Optional => "i-0123456789abcdef0",
            HttpTokens::Required => "INSTANCE_ID",
        };
        assert!(advice.contains(&format!("--instance-id {id} ")), "{advice}");
        assert_eq!(
            v["observations"]["endpoints"][0]["token_put"]["outcome"],
            "response-timeout"
        );
        assert!(
            v["observations"]["total_ms"].as_u64().unwrap() < BUDGET_MS,
            "{}",
            v["observations"]
        );

        let human = probe(&["--endpoint", &url]).await;
        assert_eq!(human.code, 0);
        let urls = std::slice::from_ref(&url);
        snapshot(
            &format!("hop-limit-{tokens}-human"),
            &redact(&human.stdout, urls),
        );
        snapshot(
            &format!("hop-limit-{tokens}-json"),
            &redact(&run.stdout, urls),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_exits_3_within_budget() {
    let port = closed_port((Ipv4Addr::LOCALHOST, 0).into());
    let url = format!("http://127.0.0.1:{port}");
    let run = probe(&["--endpoint", &url, "--format", "json"]).await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(
        v["verdict"],
        format!("IMDS NOT REACHABLE: connection to {url} refused")
    );
    assert_eq!(
        v["observations"]["endpoints"][0]["tcp_connect"]["outcome"],
        "refused"
    );
    assert_eq!(
        v["observations"]["endpoints"][0]["token_put"]["outcome"],
        "connect-refused"
    );
    assert!(v["observations"]["total_ms"].as_u64().unwrap() < BUDGET_MS);
    let human = probe(&["--endpoint", &url]).await;
    assert_eq!(human.code, 3);
    snapshot("refused-human", &redact(&human.stdout, &[url]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_endpoint_finishes_within_budget() {
    // Accepts every connection and never answers; holds the sockets until the test ends.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let run = probe(&[
        "--endpoint",
        &url,
        "--timeout-ms",
        "1000",
        "--format",
        "json",
    ])
    .await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert!(
        v["verdict"]
            .as_str()
            .unwrap()
            .starts_with("IMDS NOT ANSWERING"),
        "{}",
        v["verdict"]
    );
    assert_eq!(v["diagnoses"][0]["code"], "no-answer");
    assert_eq!(
        v["hop_limit_too_low"], false,
        "a silent GET too is not the hop limit"
    );
    let total = v["observations"]["total_ms"].as_u64().unwrap();
    assert!(total < BUDGET_MS, "{total} ms");
    assert!(run.wall < HANG_GUARD);
    let human = probe(&["--endpoint", &url, "--timeout-ms", "300"]).await;
    assert_eq!(human.code, 3);
    snapshot("hung-human", &redact(&human.stdout, &[url]));
    holder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_with_a_usage_line() {
    let port = closed_port((Ipv4Addr::LOCALHOST, 0).into());
    let url = format!("http://127.0.0.1:{port}");
    let bad_file = OptionsFile::new(r#"[ { "HttpTokens": "sometimes" } ]"#);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--endpoint", "http://127.0.0.1:1", "--timeout-ms", "0"],
            "--timeout-ms",
        ),
        (
            &["--endpoint", "http://127.0.0.1:1", "--format", "yaml"],
            "--format",
        ),
        (&["--endpoint", "http://127.0.0.1:1", "--bogus"], "--bogus"),
        (
            &[
                "--endpoint",
                "http://127.0.0.1:1",
                "--metadata-options",
                bad_file.arg(),
            ],
            "--metadata-options",
        ),
        (&["--endpoint", &url, "--ipv6"], "--ipv6-endpoint"),
        (
            &["--endpoint", &url, "--ipv6-endpoint", "http://[::1]:1/?x"],
            "--ipv6-endpoint",
        ),
    ];
    for (args, needle) in cases {
        let run = probe(args).await;
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
        // clap's value errors end with a pointer to --help; the probe's own errors (and clap's
        // unknown-flag error) carry the usage line.
        assert!(
            run.stderr.contains("Usage: imdspec probe")
                || run.stderr.contains("For more information, try '--help'"),
            "{args:?}: {}",
            run.stderr
        );
        let own = matches!(
            *needle,
            "--metadata-options" | "--ipv6-endpoint" | "--bogus"
        );
        assert!(
            !own || run.stderr.contains("Usage: imdspec probe"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            run.stdout.is_empty(),
            "{args:?}: nothing probed: {}",
            run.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_endpoint_urls_exit_2_naming_the_url() {
    for bad in [
        "https://127.0.0.1:1",
        "127.0.0.1:1",
        "http://127.0.0.1:1/?q=1",
        "http://user@127.0.0.1:1",
    ] {
        // The helper insists on a loopback http URL; call the binary directly for these.
        let out = tokio::process::Command::new(BIN)
            .args(["probe", "--endpoint", bad])
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--endpoint"), "{bad}: {err}");
        assert!(err.contains("Usage: imdspec probe"), "{bad}: {err}");
    }
}

/// The slowest endpoint that still answers something: the token PUT works, every GET hangs,
/// so both rounds run to their timeouts. Still within the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_rounds_timing_out_stay_within_budget() {
    let server = ImdsServer::builder()
        .faults(Faults::parse_all(["get=hang"]).unwrap())
        .start()
        .await
        .unwrap();
    let url = server.url();
    let (json_args, human_args) = (
        ["--endpoint", &url, "--format", "json"],
        ["--endpoint", &url],
    );
    let (run, human) = tokio::join!(probe(&json_args), probe(&human_args));
    assert_eq!(run.code, 0, "the token PUT answered: {}", run.stdout);
    assert_eq!(human.code, 0);
    snapshot(
        "slow-gets-human",
        &redact(&human.stdout, std::slice::from_ref(&url)),
    );
    let v = run.json();
    let obs = &v["observations"];
    assert_eq!(
        obs["endpoints"][0]["tokenless_get"]["outcome"],
        "response-timeout"
    );
    assert_eq!(obs["token_get"]["outcome"], "response-timeout", "{obs}");
    assert_eq!(obs["tags_get"]["outcome"], "response-timeout", "{obs}");
    assert_eq!(v["imdsv2"], "broken");
    assert_eq!(v["hop_limit_too_low"], false);
    let total = obs["total_ms"].as_u64().unwrap();
    assert!(total >= 2000, "two rounds of 1000 ms timeouts: {total}");
    assert!(total < BUDGET_MS, "{total} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatch_with_the_declared_options_is_the_first_line() {
    let server = server(MetadataOptions::default()).await;
    let url = server.url();
    let declared = OptionsFile::new(r#"[{"HttpTokens": "required"}]"#);
    let run = probe(&["--endpoint", &url, "--metadata-options", declared.arg()]).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().next(),
        Some("DIFFERS FROM DECLARED: HttpTokens declared required, observed optional"),
        "{}",
        run.stdout
    );
    // Only the field in the file is declared: the others are detected, not compared.
    assert!(
        run.stdout.contains("DIFFERS in 1 field(s)"),
        "{}",
        run.stdout
    );
    // The open IMDSv1 comes with the command that closes it, for this instance.
    assert!(
        run.stdout.contains(
            "aws ec2 modify-instance-metadata-options --region REGION --instance-id i-0123456789abcdef0 --http-tokens required"
        ),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_describe_instances_output_needs_instance_id_when_it_holds_several() {
    let server = server(MetadataOptions::default()).await;
    let url = server.url();
    let full = OptionsFile::new(
        r#"{"Reservations": [
            {"Instances": [{"InstanceId": "i-0aaa", "MetadataOptions": {"HttpTokens": "optional"}}]},
            {"Instances": [{"InstanceId": "i-0bbb", "MetadataOptions": {"HttpTokens": "required"}}]}
        ]}"#,
    );
    let run = probe(&["--endpoint", &url, "--metadata-options", full.arg()]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("2 instances (i-0aaa, i-0bbb)"),
        "{}",
        run.stderr
    );
    let pick = |id: &'static str| {
        let url = url.clone();
        let file = full.arg().to_owned();
        async move {
            probe(&[
                "--endpoint",
                &url,
                "--metadata-options",
                &file,
                "--instance-id",
                id,
            ])
            .await
        }
    };
    let a = pick("i-0aaa").await;
    assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    let b = pick("i-0bbb").await;
    assert_eq!(b.code, 1, "{}{}", b.stdout, b.stderr);
    let c = pick("i-0ccc").await;
    assert_eq!(c.code, 2);
    assert!(c.stderr.contains("it holds i-0aaa, i-0bbb"), "{}", c.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_not_reported_as_a_timeout() {
    let server = ImdsServer::builder()
        .faults(Faults::none().with("endpoint=reset".parse::<imds_server::Fault>().unwrap()))
        .start()
        .await
        .unwrap();
    let url = server.url();
    let run = probe(&["--endpoint", &url]).await;
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert!(!first.contains("within"), "{}", run.stdout);
    assert!(!run.stdout.contains("no answer within"), "{}", run.stdout);
    assert!(!run.stdout.contains("NOT ANSWERING"), "{}", run.stdout);
    assert!(first.to_lowercase().contains("reset"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_with_a_path_is_refused_with_a_hint() {
    let server = server(MetadataOptions::default()).await;
    let url = format!("{}/latest/", server.url());
    let out = tokio::process::Command::new(BIN)
        .args(["probe", "--endpoint", &url])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a path"), "{err}");
    assert!(server.journal().is_empty(), "nothing was sent");
}
