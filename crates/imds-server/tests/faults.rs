//! Scripted faults over real loopback HTTP, and what the journal records about them.

mod common;

use std::time::Duration;

use common::*;
use imds_server::{Fault, FaultAction, Faults, ImdsServer, Limits, Scripted};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PUT: &str =
    "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
const GET_ID: &str = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n";

fn faults(specs: &[&str]) -> Faults {
    Faults::parse_all(specs.iter().copied()).unwrap()
}

#[tokio::test]
async fn token_put_answered_with_a_chosen_status() {
    for status in [400u16, 403, 404, 405, 429, 500] {
        let spec = format!("token-put={status}");
        let server = ImdsServer::builder()
            .faults(faults(&[&spec]))
            .start()
            .await
            .unwrap();
        let r = request(server.addr(), PUT).await;
        assert_eq!(r.status(), status, "{spec}");
        assert_eq!(r.header("server"), Some("EC2ws"), "{spec}");
        if status == 403 {
            assert!(r.body.is_empty(), "{spec}");
        } else {
            let body = String::from_utf8(r.body.clone()).unwrap();
            assert!(
                body.contains(&format!("<title>{status} - ")),
                "{spec}: {body}"
            );
        }
        if status == 405 {
            assert_eq!(r.status_line, "HTTP/1.1 405 Not Allowed");
        }
        // Metadata GETs are untouched.
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200, "{spec}");
        let j = server.journal();
        assert_eq!(j[0].fault.as_deref(), Some(spec.as_str()));
        assert_eq!(j[0].status, Some(status));
        assert_eq!(j[0].outcome, None, "a fault, not the model, answered");
        assert_eq!(j[0].issued_token, None);
        assert_eq!(j[1].fault, None);
        assert_eq!(j[1].outcome.as_deref(), Some("Served"));
    }
}

#[tokio::test]
async fn token_put_hang_holds_then_closes_unanswered() {
    let server = ImdsServer::builder()
        .faults(faults(&["token-put=hang"]))
        .limits(Limits {
            hang_limit: Duration::from_millis(400),
            ..Limits::default()
        })
        .start()
        .await
        .unwrap();
    // A client with a short timeout gives up (as SDKs do after 1 s) …
    let r = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap()
        .put(format!("{}/latest/api/token", server.url()))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    // … and one that waits sees the connection closed with no response at all.
    let started = std::time::Instant::now();
    let resp = raw(server.addr(), PUT.as_bytes()).await;
    assert_eq!(resp, "");
    assert!(started.elapsed() >= Duration::from_millis(400));
    // GETs still work meanwhile.
    assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    let j = server.journal();
    let hung: Vec<_> = j.iter().filter(|e| e.is_token_put()).collect();
    assert_eq!(hung.len(), 2);
    for e in hung {
        assert_eq!(e.status, None);
        assert_eq!(e.fault.as_deref(), Some("token-put=hang"));
    }
}

#[tokio::test]
async fn first_n_gets_faulted_then_served() {
    let server = ImdsServer::builder()
        .faults(faults(&["get=500x2"]))
        .start()
        .await
        .unwrap();
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(request(server.addr(), GET_ID).await.status());
        }
        v
    };
    assert_eq!(statuses, [500, 500, 200]);
    // The token PUT is not a metadata GET.
    server.set_faults(faults(&["get=401x1"]));
    assert_eq!(request(server.addr(), PUT).await.status(), 200);
    let token = server.imds().issue_token(60);
    let with_token = format!(
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"
    );
    assert_eq!(request(server.addr(), &with_token).await.status(), 401);
    assert_eq!(request(server.addr(), &with_token).await.status(), 200);
    let labels: Vec<Option<String>> = server.journal().into_iter().map(|e| e.fault).collect();
    assert_eq!(
        labels,
        [
            Some("get=500x2".to_owned()),
            Some("get=500x2".to_owned()),
            None,
            None,
            Some("get=401x1".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn throttling_and_unavailable_statuses() {
    for status in [429u16, 503] {
        let server = ImdsServer::builder()
            .faults(Faults::none().with(Fault::Get(Scripted {
                action: FaultAction::Status(status),
                times: Some(1),
            })))
            .start()
            .await
            .unwrap();
        assert_eq!(request(server.addr(), GET_ID).await.status(), status);
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    }
}

#[tokio::test]
async fn revoke_tokens_after_n_requests() {
    let server = ImdsServer::builder()
        .faults(faults(&["revoke-tokens-after=3"]))
        .start()
        .await
        .unwrap();
    let base = server.url();
    let old = token(&base, 21600).await; // request 1
    let get = |t: String| {
        let base = base.clone();
        async move {
            client()
                .get(format!("{base}/latest/meta-data/instance-id"))
                .header("x-aws-ec2-metadata-token", t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(get(old.clone()).await, 200); // 2
    assert_eq!(get(old.clone()).await, 200); // 3
    assert_eq!(get(old.clone()).await, 401); // 4: revoked
    let fresh = token(&base, 21600).await; // 5
    assert_eq!(get(fresh).await, 200); // 6: tokens issued after the revocation work
    assert_eq!(get(old).await, 401); // 7: still revoked
    let j = server.journal();
    assert_eq!(j[3].status, Some(401));
    assert_eq!(j[3].outcome.as_deref(), Some("TokenInvalid"));
    assert_eq!(j[3].fault.as_deref(), Some("revoke-tokens-after=3"));
    assert_eq!(j[5].fault, None);
    assert_eq!(j[5].token, j[4].issued_token, "the fresh token was used");
    assert_ne!(j[3].token, j[4].issued_token);
}

#[tokio::test]
async fn endpoint_reset_refuses_connections_until_cleared() {
    let server = ImdsServer::builder()
        .faults(faults(&["endpoint=reset"]))
        .start()
        .await
        .unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let _ = s.write_all(GET_ID.as_bytes()).await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(IO_TIMEOUT, s.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(read.is_err() || buf.is_empty(), "got {buf:?}");
    let e = &server.journal()[0];
    assert_eq!(e.fault.as_deref(), Some("endpoint=reset"));
    assert_eq!(e.status, None);
    assert_eq!(e.method, "");

    assert_eq!(server.faults(), faults(&["endpoint=reset"]));
    server.set_faults(Faults::none());
    assert!(server.faults().is_none());
    assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
}

#[tokio::test]
async fn journal_redacts_tokens_and_links_them_by_fingerprint() {
    let clock = manual_clock();
    let server = ImdsServer::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let t = token(&server.url(), 120).await;
    clock.advance(Duration::from_millis(1500));
    let r = client()
        .get(format!(
            "{}/latest/meta-data/iam/security-credentials/imdspec-role",
            server.url()
        ))
        .header("x-aws-ec2-metadata-token", &t)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/secret",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j = server.journal();
    assert_eq!(j.len(), 2);
    let text = serde_json::to_string(&j).unwrap();
    assert!(!text.contains(&t), "token leaked: {text}");
    assert!(!text.contains("AKIDEXAMPLE"), "credential leaked: {text}");

    let (put, get) = (&j[0], &j[1]);
    assert!(put.is_token_put());
    assert_eq!((put.seq, get.seq), (0, 1));
    assert_eq!(put.time, "2023-11-14T22:13:20.000Z");
    assert_eq!(get.time, "2023-11-14T22:13:21.500Z");
    assert_eq!(get.time_ms - put.time_ms, 1500);
    assert_eq!(put.outcome.as_deref(), Some("TokenIssued"));
    assert_eq!(put.ttl, Some(120));
    assert_eq!(put.hop_limit, Some(1));
    assert_eq!(
        put.header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("120")
    );
    let fp = imds_server::token_fingerprint(t.as_bytes());
    assert_eq!(put.issued_token.as_deref(), Some(fp.as_str()));
    assert_eq!(get.token.as_deref(), Some(fp.as_str()));
    assert_eq!(
        get.header("x-aws-ec2-metadata-token"),
        Some(format!("<redacted {fp}>").as_str())
    );
    assert_eq!(get.header("authorization"), Some("<redacted>"));
    assert_eq!(get.ttl, Some(119), "remaining TTL after 1.5 s");
    assert_eq!(get.method, "GET");
    assert_eq!(get.version, "HTTP/1.1");
    assert_eq!(get.listener, server.addr());
    assert_eq!(get.status, Some(200));

    server.clear_journal();
    assert!(server.journal().is_empty());
}

#[tokio::test]
async fn journal_file_gets_one_json_line_per_request() {
    let path =
        std::env::temp_dir().join(format!("imds-server-journal-{}.jsonl", std::process::id()));
    let server = ImdsServer::builder()
        .journal_file(&path)
        .journal_capacity(0)
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    }
    assert!(
        server.journal().is_empty(),
        "capacity 0 keeps nothing in memory"
    );
    drop(server);
    let text = std::fs::read_to_string(&path).unwrap();
    let entries: Vec<imds_server::JournalEntry> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 3);
    assert!(
        entries
            .iter()
            .all(|e| e.path == "/latest/meta-data/instance-id")
    );
    std::fs::remove_file(&path).unwrap();
}

#[tokio::test]
async fn a_delay_fault_answers_normally_but_late() {
    let server = ImdsServer::builder()
        .faults(faults(&["get=delay:300msx1"]))
        .start()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let r = request(server.addr(), GET_ID).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, b"i-0123456789abcdef0");
    let started = std::time::Instant::now();
    assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "only the first"
    );
    let j = server.journal();
    assert_eq!(j[0].fault.as_deref(), Some("get=delay:300msx1"));
    assert_eq!(
        j[0].outcome.as_deref(),
        Some("Served"),
        "the model answered"
    );
    assert!(j[0].latency_us >= 300_000);
    assert_eq!(j[1].fault, None);
}

#[tokio::test]
async fn a_path_scoped_fault_leaves_other_paths_alone() {
    let server = ImdsServer::builder()
        .faults(faults(&[
            "get[/latest/meta-data/iam/security-credentials/*]=500",
        ]))
        .start()
        .await
        .unwrap();
    let creds = "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: x\r\n\r\n";
    // The listing itself matches (`*` may be empty); the instance id does not.
    assert_eq!(request(server.addr(), creds).await.status(), 500);
    assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    let j = server.journal();
    assert_eq!(
        j[0].fault.as_deref(),
        Some("get[/latest/meta-data/iam/security-credentials/*]=500")
    );
    assert_eq!(j[1].fault, None);
}

#[tokio::test]
async fn a_delayed_request_whose_client_gives_up_is_still_journaled() {
    let server = ImdsServer::builder()
        .faults(faults(&["get=delay:400ms"]))
        .start()
        .await
        .unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(GET_ID.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The client times out and goes away before the answer.
    drop(s);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let j = server.journal();
    assert_eq!(j.len(), 1, "{j:?}");
    assert_eq!(j[0].path, "/latest/meta-data/instance-id");
    assert_eq!(j[0].fault.as_deref(), Some("get=delay:400ms"));
}

/// Each reshape fault on the wire: the model's answer with exactly the change named, a
/// readable response (Content-Length matches the body), and the fault in the journal.
#[tokio::test]
async fn reshape_faults_change_the_answer_on_the_wire() {
    let plain_server = ImdsServer::builder().start().await.unwrap();
    let plain_put = request(plain_server.addr(), PUT).await;
    let plain_get = request(plain_server.addr(), GET_ID).await;
    let listing = "GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n";
    let plain_listing = request(plain_server.addr(), listing).await;
    type Check = fn(&RawResponse, &RawResponse);
    let cases: [(&str, &str, Check); 9] = [
        ("token-put=drop-ttl", PUT, |r, plain| {
            assert_eq!(r.header("x-aws-ec2-metadata-token-ttl-seconds"), None);
            assert_eq!(r.body.len(), plain.body.len(), "a token all the same");
        }),
        ("token-put=ttl:21599", PUT, |r, _| {
            assert_eq!(
                r.header("x-aws-ec2-metadata-token-ttl-seconds"),
                Some("21599")
            );
        }),
        ("get=drop-header:server", GET_ID, |r, plain| {
            assert_eq!(r.header("server"), None);
            assert_eq!(r.body, plain.body);
        }),
        ("get=header:server:nginx", GET_ID, |r, _| {
            assert_eq!(r.header("server"), Some("nginx"));
        }),
        ("get=content-type:application/json", GET_ID, |r, _| {
            assert_eq!(r.header("content-type"), Some("application/json"));
        }),
        (
            "get[/latest/meta-data/instance-id]=status:404",
            GET_ID,
            |r, plain| {
                assert_eq!(r.status_line, "HTTP/1.1 404 Not Found");
                assert_eq!(r.body, plain.body, "the model's body under a wrong status");
            },
        ),
        ("get=truncate:5", GET_ID, |r, plain| {
            assert_eq!(r.body, plain.body[..5]);
        }),
        ("get=trailing-newline", GET_ID, |r, plain| {
            assert_eq!(r.body, [plain.body.as_slice(), b"\n"].concat());
        }),
        (
            "get[/latest/meta-data/]=line:1:ami-idx",
            listing,
            |r, plain| {
                let body = String::from_utf8(r.body.clone()).unwrap();
                let want = String::from_utf8(plain.body.clone()).unwrap();
                let (_, rest) = want.split_once('\n').unwrap();
                assert_eq!(body, format!("ami-idx\n{rest}"));
            },
        ),
    ];
    for (spec, req, check) in cases {
        let server = ImdsServer::builder()
            .faults(faults(&[spec]))
            .start()
            .await
            .unwrap();
        let plain = match req {
            PUT => &plain_put,
            GET_ID => &plain_get,
            _ => &plain_listing,
        };
        // `request` reads exactly Content-Length bytes: a wrong length would hang or cut.
        let r = request(server.addr(), req).await;
        check(&r, plain);
        assert_eq!(
            r.header("content-length").unwrap(),
            r.body.len().to_string(),
            "{spec}"
        );
        let j = server.journal();
        assert_eq!(j[0].fault.as_deref(), Some(spec), "{spec}");
        assert_eq!(j[0].status, Some(r.status()), "{spec}");
        assert!(j[0].outcome.is_some(), "{spec}: the model answered first");
    }
}

/// A reshaped token is still the token the model issued: it works on a later GET.
#[tokio::test]
async fn a_token_whose_answer_was_reshaped_still_works() {
    let server = ImdsServer::builder()
        .faults(faults(&["token-put=drop-ttl"]))
        .start()
        .await
        .unwrap();
    let put = request(server.addr(), PUT).await;
    assert_eq!(put.header("x-aws-ec2-metadata-token-ttl-seconds"), None);
    let token = String::from_utf8(put.body).unwrap();
    let get = format!(
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n"
    );
    let r = request(server.addr(), &get).await;
    assert_eq!(r.status(), 200);
    // GETs are not reshaped by a token-put fault: the remaining TTL is there.
    assert!(r.header("x-aws-ec2-metadata-token-ttl-seconds").is_some());
}

/// The control API takes the new faults through the same parser, and refuses a near miss
/// with the spec as meant.
#[tokio::test]
async fn control_api_sets_reshape_faults_and_suggests_near_misses() {
    let server = ImdsServer::builder()
        .control("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let control = server.control_url().unwrap();
    let r = client()
        .put(format!("{control}/faults"))
        .body(r#"["get=drop-heder:server"]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"did you mean \"get=drop-header:server\"?"#),
        "{body}"
    );
    let r = client()
        .put(format!("{control}/faults"))
        .body(r#"["get=drop-header:server"]"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    assert_eq!(request(server.addr(), GET_ID).await.header("server"), None);
}
