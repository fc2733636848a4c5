//! The control API over loopback HTTP: options, instance, scenario, clock, journal, faults and
//! reset; refused requests answer 400 naming the field and change nothing.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use imds_model::scenario::OptionsChange;
use imds_model::{HttpTokens, ManualClock};
use imds_server::control::ControlRequest;
use imds_server::{ImdsServer, Limits, ServerError};
use proptest::prelude::*;
use serde_json::Value;

/// A blocking `Connection: close` request; `(status, headers, body)`.
fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, head.to_owned(), body.to_owned())
}

async fn server(manual: Option<Arc<ManualClock>>) -> ImdsServer {
    let mut b = ImdsServer::builder()
        .control("127.0.0.1:0".parse().unwrap())
        .limits(Limits {
            hang_limit: Duration::from_millis(100),
            ..Limits::default()
        });
    if let Some(clock) = manual {
        b = b.manual_clock(clock);
    }
    b.start().await.unwrap()
}

/// Everything a control client can read back.
fn snapshot(ctl: SocketAddr) -> Vec<String> {
    ["/options", "/instance", "/faults", "/scenario"]
        .iter()
        .map(|p| {
            let (status, _, body) = http(ctl, "GET", p, "");
            assert_eq!(status, 200, "GET {p}");
            body
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_answer_400_naming_the_field_and_change_nothing() {
    let server = server(Some(manual_clock())).await;
    let ctl = server.control_addr().unwrap();
    tokio::task::spawn_blocking(move || {
        http(ctl, "PUT", "/faults", r#"["get=500x1"]"#);
        let before = snapshot(ctl);
        let cases: &[(&str, &str, &str, u16, Option<&str>)] = &[
            (
                "PUT",
                "/options",
                r#"{"HttpTokens":"maybe"}"#,
                400,
                Some("HttpTokens"),
            ),
            (
                "PUT",
                "/options",
                r#"{"HttpPutResponseHopLimit":0}"#,
                400,
                Some("HttpPutResponseHopLimit"),
            ),
            (
                "PUT",
                "/options",
                r#"{"HttpTokens":"required","Bogus":1}"#,
                400,
                Some("Bogus"),
            ),
            (
                "PUT",
                "/instance",
                r#"{"instance-id":"nope"}"#,
                400,
                Some("instance-id"),
            ),
            (
                "PATCH",
                "/instance",
                r#"{"region":"xx-nowhere-9"}"#,
                400,
                Some("region"),
            ),
            (
                "PATCH",
                "/instance",
                r#"{"local-ipv4":"10.0.0.999"}"#,
                400,
                Some("local-ipv4"),
            ),
            (
                "PATCH",
                "/instance",
                r#"{"no-such-key":1}"#,
                400,
                Some("no-such-key"),
            ),
            (
                "POST",
                "/scenario",
                r#"[{"after":"soon","asg-lifecycle":"Terminated"}]"#,
                400,
                Some("entry[1].after"),
            ),
            (
                "POST",
                "/clock/advance",
                r#"{"seconds":-1}"#,
                400,
                Some("seconds"),
            ),
            (
                "PUT",
                "/faults",
                r#"["get=500","get=200"]"#,
                400,
                Some("[2]"),
            ),
            ("GET", "/journal?since=abc", "", 400, Some("since")),
            ("DELETE", "/options", "", 405, None),
            ("GET", "/latest/meta-data/", "", 404, None),
        ];
        for (method, path, body, status, field) in cases {
            let (got, head, text) = http(ctl, method, path, body);
            assert_eq!(got, *status, "{method} {path} {body}: {text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{text}");
            if let Some(field) = field {
                assert_eq!(v["field"], *field, "{method} {path} {body}: {text}");
            } else if *status == 400 {
                assert!(v["field"].is_string(), "{text}");
            }
            if *status == 405 {
                assert!(
                    head.to_ascii_lowercase().contains("allow: get, put"),
                    "{head}"
                );
            }
        }
        assert_eq!(snapshot(ctl), before, "a refused request changed something");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_flip_mid_run_and_manual_time_fires_notices_and_expires_tokens() {
    let clock = manual_clock();
    let server = server(Some(clock.clone())).await;
    let (ctl, imds) = (server.control_addr().unwrap(), server.addr());
    tokio::task::spawn_blocking(move || {
        let id = "/latest/meta-data/instance-id";
        assert_eq!(http(imds, "GET", id, "").0, 200);
        let (status, _, body) = http(ctl, "PUT", "/options", r#"{"HttpTokens":"required"}"#);
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["HttpTokens"], "required");
        assert_eq!(v["HttpEndpoint"], "enabled", "absent fields stay");
        assert_eq!(http(imds, "GET", id, "").0, 401);

        let scenario = r#"[{"after":"20s","spot-interruption":{"action":"stop"}}]"#;
        assert_eq!(http(ctl, "POST", "/scenario", scenario).0, 200);
        let token = {
            let mut s = TcpStream::connect(imds).unwrap();
            s.write_all(b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 30\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out.split_once("\r\n\r\n").unwrap().1.to_owned()
        };
        let with_token = |path: &str| {
            let mut s = TcpStream::connect(imds).unwrap();
            write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n").unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).unwrap();
            out
        };
        let spot = "/latest/meta-data/spot/instance-action";
        assert!(with_token(spot).starts_with("HTTP/1.1 404"));
        let (_, _, c) = http(ctl, "POST", "/clock/advance", r#"{"seconds":20}"#);
        let c: Value = serde_json::from_str(&c).unwrap();
        assert_eq!(c["manual"], true);
        let r = with_token(spot);
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("\"action\":\"stop\""), "{r}");
        let (_, _, fired) = http(ctl, "GET", "/scenario", "");
        assert!(fired.contains("spot interruption: stop"), "{fired}");
        // 20 s of the token's 30 are gone; 10 more and it has expired.
        assert!(with_token(id).starts_with("HTTP/1.1 200"));
        http(ctl, "POST", "/clock/advance", r#"{"seconds":10}"#);
        assert!(with_token(id).starts_with("HTTP/1.1 401"));
    })
    .await
    .unwrap();
    assert_eq!(server.imds().options().http_tokens, HttpTokens::Required);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_faults_instance_and_reset() {
    let server = server(Some(manual_clock())).await;
    let (ctl, imds) = (server.control_addr().unwrap(), server.addr());
    tokio::task::spawn_blocking(move || {
        let (status, _, faults) = http(ctl, "PUT", "/faults", r#"["get=503x1"]"#);
        assert_eq!((status, faults.as_str()), (200, r#"["get=503x1"]"#));
        assert_eq!(http(imds, "GET", "/latest/meta-data/ami-id", "").0, 503);
        assert_eq!(http(imds, "GET", "/latest/meta-data/ami-id", "").0, 200);
        let (_, head, lines) = http(ctl, "GET", "/journal?since=1", "");
        assert!(head.contains("application/x-ndjson"), "{head}");
        let entries: Vec<Value> = lines
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(entries.len(), 1, "{lines}");
        assert_eq!(entries[0]["seq"], 1);
        assert_eq!(entries[0]["status"], 200);

        let (status, _, i) = http(
            ctl,
            "PATCH",
            "/instance",
            r#"{"instance-type":"c7g.xlarge"}"#,
        );
        assert_eq!(status, 200);
        assert!(i.contains("c7g.xlarge"));
        assert_eq!(
            http(imds, "GET", "/latest/meta-data/instance-type", "").2,
            "c7g.xlarge"
        );
        http(ctl, "PUT", "/options", r#"{"HttpEndpoint":"disabled"}"#);
        assert_eq!(
            http(imds, "GET", "/latest/meta-data/instance-type", "").0,
            403
        );
        http(ctl, "PUT", "/faults", r#"["endpoint=reset"]"#);

        assert_eq!(http(ctl, "POST", "/reset", "").0, 200);
        assert_eq!(http(ctl, "GET", "/faults", "").2, "[]");
        let (status, _, body) = http(imds, "GET", "/latest/meta-data/instance-type", "");
        assert_eq!(status, 200);
        assert_ne!(body, "c7g.xlarge");
        // The control API is not on the IMDS listener.
        assert_eq!(http(imds, "GET", "/options", "").0, 404);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn system_clock_cannot_be_advanced_and_control_is_loopback_only() {
    let server = ImdsServer::builder()
        .control("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let r = server.control(&ControlRequest {
        method: "POST",
        path: "/clock/advance",
        query: None,
        body: br#"{"seconds":1}"#,
    });
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("--clock manual"), "{}", r.body);
    assert!(server.advance_clock(Duration::from_secs(1)).is_err());

    let err = ImdsServer::builder()
        .control("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, ServerError::ControlNotLoopback(_)), "{err}");
    assert!(err.to_string().contains("loopback"));
    // Without `.control(..)` there is no control listener.
    let plain = ImdsServer::start().await.unwrap();
    assert_eq!(plain.control_url(), None);
}

#[tokio::test]
async fn in_process_methods_match_the_api() {
    let clock = manual_clock();
    let server = server(Some(clock.clone())).await;
    let o = server.change_options(&OptionsChange {
        http_tokens: Some(HttpTokens::Required),
        ..OptionsChange::default()
    });
    assert_eq!(o.http_tokens, HttpTokens::Required);
    let i = server
        .patch_instance(&serde_json::json!({"ami-launch-index": 3}))
        .unwrap();
    assert_eq!(i.ami_launch_index, 3);
    assert!(
        server
            .patch_instance(&serde_json::json!({"ami-launch-index": "x"}))
            .is_err()
    );
    let t0 = clock.now_ms();
    server.advance_clock(Duration::from_secs(5)).unwrap();
    assert_eq!(clock.now_ms(), t0 + 5000);
    server.reset();
    assert_eq!(server.imds().options().http_tokens, HttpTokens::Optional);
    assert_eq!(server.imds().instance().ami_launch_index, 0);
}

trait NowMs {
    fn now_ms(&self) -> u64;
}

impl NowMs for Arc<ManualClock> {
    fn now_ms(&self) -> u64 {
        imds_model::Clock::now(&**self).as_millis()
    }
}

/// Control requests, valid and not, for the property below.
fn op() -> impl Strategy<Value = (&'static str, &'static str, &'static str)> {
    prop::sample::select(vec![
        ("PUT", "/options", r#"{"HttpTokens":"required"}"#),
        (
            "PUT",
            "/options",
            r#"{"HttpTokens":"optional","InstanceMetadataTags":"enabled"}"#,
        ),
        ("PUT", "/options", r#"{"HttpEndpoint":"disabled"}"#),
        ("PUT", "/options", r#"{"HttpPutResponseHopLimit":99}"#),
        ("PUT", "/options", "not json"),
        (
            "PATCH",
            "/instance",
            r#"{"instance-type":"t4g.micro","tags":{"a":"b"}}"#,
        ),
        ("PATCH", "/instance", r#"{"instance-id":"bad"}"#),
        (
            "PUT",
            "/instance",
            r#"{"instance-id":"i-0fedcba9876543210"}"#,
        ),
        ("PUT", "/instance", "{}"),
        (
            "POST",
            "/scenario",
            r#"[{"after":"1s","spot-interruption":{"action":"terminate"}}]"#,
        ),
        (
            "POST",
            "/scenario",
            r#"[{"after-requests":1,"options":{"HttpEndpoint":"disabled"}}]"#,
        ),
        ("POST", "/scenario", r#"[{"after":"1s"}]"#),
        ("POST", "/clock/advance", r#"{"seconds":3600}"#),
        ("POST", "/clock/advance", r#"{"seconds":"x"}"#),
        ("PUT", "/faults", r#"["get=500x1","token-put=hang"]"#),
        ("PUT", "/faults", r#"["endpoint=reset"]"#),
        ("PUT", "/faults", r#"["revoke-tokens-after=1"]"#),
        ("PUT", "/faults", r#"["nonsense"]"#),
        ("DELETE", "/faults", ""),
        ("GET", "/journal?since=0", ""),
        ("POST", "/reset", ""),
        ("POST", "/options", "{}"),
        ("GET", "/nowhere", ""),
    ])
}

/// Any sequence of control requests leaves both listeners answering: a refused request
/// changes nothing, and after a reset a token PUT and a token GET are served.
#[test]
fn any_control_sequence_leaves_the_server_answering() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(server(Some(manual_clock())));
    let (ctl, imds) = (server.control_addr().unwrap(), server.addr());
    let config = ProptestConfig {
        cases: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in prop::collection::vec(op(), 1..8))| {
        for (method, path, body) in &ops {
            let before = snapshot(ctl);
            let (status, _, text) = http(ctl, method, path, body);
            prop_assert!(serde_json::from_str::<Value>(text.lines().next().unwrap_or("null")).is_ok() || text.is_empty(), "{text}");
            if status >= 400 {
                prop_assert_eq!(snapshot(ctl), before, "{} {} {}", method, path, body);
            }
        }
        prop_assert_eq!(http(ctl, "POST", "/reset", "").0, 200);
        let (status, _, token) = http(imds, "PUT", "/latest/api/token", "");
        // No TTL header: the model's 400, still a well-formed answer.
        prop_assert_eq!(status, 400);
        let mut s = TcpStream::connect(imds).unwrap();
        s.write_all(b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        prop_assert!(out.starts_with("HTTP/1.1 200"), "{}", out);
        let token2 = out.split_once("\r\n\r\n").unwrap().1.to_owned();
        let mut s = TcpStream::connect(imds).unwrap();
        write!(s, "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token2}\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        prop_assert!(out.starts_with("HTTP/1.1 200"), "{}", out);
        prop_assert!(out.ends_with(&*server.imds().instance().instance_id), "{}", out);
        let _ = token;
    });
}

#[tokio::test]
async fn reload_replaces_what_reset_returns_to() {
    let server = server(Some(manual_clock())).await;
    let (ctl, imds) = (server.control_addr().unwrap(), server.addr());
    let reloaded = imds_model::Instance {
        instance_type: "m7i.large".into(),
        ..imds_model::Instance::default()
    };
    server.reload(reloaded, None);
    tokio::task::spawn_blocking(move || {
        let get = || http(imds, "GET", "/latest/meta-data/instance-type", "").2;
        assert_eq!(get(), "m7i.large");
        http(
            ctl,
            "PATCH",
            "/instance",
            r#"{"instance-type":"c7g.xlarge"}"#,
        );
        assert_eq!(get(), "c7g.xlarge");
        assert_eq!(http(ctl, "POST", "/reset", "").0, 200);
        assert_eq!(
            get(),
            "m7i.large",
            "reset goes back to the reloaded instance"
        );
    })
    .await
    .unwrap();
}

/// A syntax error concerns the whole body: `field` is null, never a made-up name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_answer_400_with_a_null_field() {
    let server = server(None).await;
    let ctl = server.control_addr().unwrap();
    tokio::task::spawn_blocking(move || {
        let before = snapshot(ctl);
        for (method, path) in [
            ("PUT", "/options"),
            ("PUT", "/instance"),
            ("PATCH", "/instance"),
        ] {
            let (status, _, text) = http(ctl, method, path, r#"{"HttpTokens":"#);
            assert_eq!(status, 400, "{method} {path}: {text}");
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(v["field"].is_null(), "{method} {path}: {text}");
            assert!(!text.contains("(file)"), "{text}");
        }
        assert_eq!(snapshot(ctl), before);
    })
    .await
    .unwrap();
}

/// `PUT /instance` and a `null` in `PATCH /instance` fall back to the instance the server was
/// started with (`--instance FILE`), not to the built-in one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_and_patch_null_fall_back_to_the_start_instance() {
    let start = imds_model::Instance::from_text(
        "start.toml",
        "instance-type = \"c7i.large\"\nlocal-ipv4 = \"10.0.0.5\"\n",
        imds_model::InstanceFormat::Toml,
    )
    .unwrap();
    let server = ImdsServer::builder()
        .control("127.0.0.1:0".parse().unwrap())
        .instance(start)
        .start()
        .await
        .unwrap();
    let ctl = server.control_addr().unwrap();
    tokio::task::spawn_blocking(move || {
        let field = |body: &str, key: &str| -> Value {
            serde_json::from_str::<Value>(body).unwrap()[key].clone()
        };
        let (status, _, body) = http(ctl, "PUT", "/instance", r#"{"ami-launch-index": 2}"#);
        assert_eq!(status, 200, "{body}");
        assert_eq!(field(&body, "instance-type"), "c7i.large");
        assert_eq!(field(&body, "local-ipv4"), "10.0.0.5");
        assert_eq!(field(&body, "ami-launch-index"), 2);
        let (_, _, body) = http(
            ctl,
            "PATCH",
            "/instance",
            r#"{"instance-type": "m7g.large"}"#,
        );
        assert_eq!(field(&body, "instance-type"), "m7g.large");
        let (status, _, body) = http(ctl, "PATCH", "/instance", r#"{"instance-type": null}"#);
        assert_eq!(status, 200, "{body}");
        assert_eq!(field(&body, "instance-type"), "c7i.large");
        // An error's position is in the patch as sent (line 2), not in the merged instance.
        let (status, _, body) = http(ctl, "PATCH", "/instance", "{\n \"ami-launch-index\": -1}");
        assert_eq!(status, 400, "{body}");
        let error = field(&body, "error");
        assert!(error.as_str().unwrap().starts_with("(body):2:"), "{body}");
    })
    .await
    .unwrap();
}
