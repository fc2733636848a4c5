//! Transport behaviour over real loopback sockets: keep-alive and `Connection: close`, HEAD,
//! concurrency, caps and timeouts, malformed input, graceful shutdown, and the hop limit.

mod common;

use std::time::Duration;

use common::*;
use imds_model::{HopLimit, MetadataOptions};
use imds_server::{ImdsServer, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GET_ID: &str = "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn model_connection_close_is_honoured_and_403_keeps_alive() {
    let server = ImdsServer::start().await.unwrap();
    // 200s carry Connection: close (spec §3.6): the server closes after the response.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(GET_ID.as_bytes()).await.unwrap();
    let r = read_response(&mut s, false).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(closed_by_server(&mut s).await);

    // The captured 403 has no Connection header (BEAM-47): the connection stays usable.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    let bad_put = "PUT /latest/api/token/ HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
    s.write_all(bad_put.as_bytes()).await.unwrap();
    let r = read_response(&mut s, false).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.header("connection"), None);
    s.write_all(GET_ID.as_bytes()).await.unwrap();
    let r = read_response(&mut s, false).await;
    assert_eq!(
        r.status(),
        200,
        "second request on the kept-alive connection"
    );
    assert!(closed_by_server(&mut s).await);

    // A client asking for close gets it even on a 403.
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    s.write_all(b"PUT /latest/api/token/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut s, false).await.status(), 403);
    assert!(closed_by_server(&mut s).await);

    // The journal tells connections apart: the two kept-alive requests share one.
    let j = server.journal();
    assert_eq!(j.len(), 4);
    assert_ne!(j[0].connection, j[1].connection);
    assert_eq!(j[1].connection, j[2].connection);
    assert_ne!(j[2].connection, j[3].connection);
}

#[tokio::test]
async fn head_has_content_length_and_no_body() {
    let server = ImdsServer::start().await.unwrap();
    let token = server.imds().issue_token(60);
    for (path, auth) in [
        ("/latest/meta-data/instance-id", String::new()),
        ("/latest/meta-data/", String::new()),
        (
            "/latest/meta-data/nope",
            format!("X-aws-ec2-metadata-token: {token}\r\n"),
        ),
    ] {
        let get = request(
            server.addr(),
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
        )
        .await;
        let head_text = raw(
            server.addr(),
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n").as_bytes(),
        )
        .await;
        let (head, body) = head_text.split_once("\r\n\r\n").unwrap();
        assert_eq!(body, "", "{path}: HEAD sent a body");
        assert!(head.starts_with(&get.status_line), "{path}: {head}");
        let len = format!("Content-Length: {}", get.body.len());
        assert!(head.contains(&len), "{path}: {head} lacks {len}");
    }
}

#[tokio::test]
async fn concurrent_requests_on_many_connections() {
    let server = ImdsServer::start().await.unwrap();
    let base = server.url();
    let id = server.imds().instance().instance_id.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let base = base.clone();
        tasks.spawn(async move {
            let t = token(&base, 60 + i).await;
            let r = client()
                .get(format!("{base}/latest/meta-data/instance-id"))
                .header("x-aws-ec2-metadata-token", t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        });
    }
    while let Some(body) = tasks.join_next().await {
        assert_eq!(body.unwrap(), id);
    }
    assert_eq!(server.journal().len(), 100);
}

#[tokio::test]
async fn two_hundred_concurrent_clients_all_served() {
    let server = ImdsServer::start().await.unwrap();
    let addr = server.addr();
    let id = server.imds().instance().instance_id.clone();
    // Open all 200 connections first, so they are truly simultaneous, then send.
    let mut conns = Vec::new();
    for _ in 0..200 {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut tasks = tokio::task::JoinSet::new();
    for mut s in conns {
        tasks.spawn(async move {
            s.write_all(GET_ID.as_bytes()).await.unwrap();
            read_response(&mut s, false).await
        });
    }
    let mut ok = 0;
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.body, id.as_bytes());
        ok += 1;
    }
    assert_eq!(ok, 200);
    let peers: std::collections::HashSet<_> = server.journal().iter().map(|e| e.peer).collect();
    assert_eq!(peers.len(), 200);
}

#[tokio::test]
async fn oversized_headers_get_431_and_others_are_still_served() {
    let server = ImdsServer::start().await.unwrap();
    let big = "a".repeat(Limits::default().max_header_bytes + 1024);
    let resp = raw(
        server.addr(),
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");

    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let resp = raw(
        server.addr(),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 431"), "{resp}");

    assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
}

#[tokio::test]
async fn malformed_http_gets_400_and_others_are_still_served() {
    let server = ImdsServer::start().await.unwrap();
    for junk in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..], // a TLS ClientHello
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        b"\0\0\0\0\r\n\r\n",
    ] {
        let resp = raw(server.addr(), junk).await;
        assert!(
            resp.is_empty() || resp.starts_with("HTTP/1.1 400") || resp.starts_with("HTTP/1.1 505"),
            "{junk:?}: {resp}"
        );
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_without_blocking_others() {
    let server = ImdsServer::builder()
        .limits(Limits {
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        })
        .start()
        .await
        .unwrap();
    // A client that sends half a request head and then nothing.
    let mut slow = TcpStream::connect(server.addr()).await.unwrap();
    slow.write_all(b"GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Others are served meanwhile.
    for _ in 0..5 {
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
    }
    // The slow one is closed by the server (bounded by IO_TIMEOUT inside the helper).
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(IO_TIMEOUT, slow.read_to_end(&mut rest))
        .await
        .expect("the server closed the slow connection");
    assert!(
        n.is_err() || rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{rest:?}"
    );
    assert!(started.elapsed() < IO_TIMEOUT);
}

#[tokio::test]
async fn connection_cap_queues_clients_instead_of_failing() {
    let server = ImdsServer::builder()
        .limits(Limits {
            max_connections: 2,
            header_read_timeout: Duration::from_secs(5),
            ..Limits::default()
        })
        .start()
        .await
        .unwrap();
    // Two idle connections take both slots.
    let mut idle1 = TcpStream::connect(server.addr()).await.unwrap();
    let idle2 = TcpStream::connect(server.addr()).await.unwrap();
    // A third client waits in the backlog; once one idle client is served, it gets its turn.
    let addr = server.addr();
    let waiting = tokio::spawn(async move { request(addr, GET_ID).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "served beyond the connection cap");
    idle1.write_all(GET_ID.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut idle1, false).await.status(), 200);
    assert_eq!(waiting.await.unwrap().status(), 200);
    drop(idle2);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let server = ImdsServer::start().await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    // The request head is half sent when the shutdown starts …
    s.write_all(b"GET /latest/meta-data/instance-id HTTP/1.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addr = server.addr();
    let stopping = tokio::spawn(server.shutdown());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // … no new connections are taken …
    assert!(TcpStream::connect(addr).await.is_err());
    // … and the request in flight still gets its answer.
    s.write_all(b"Host: x\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut s, false).await.status(), 200);
    tokio::time::timeout(IO_TIMEOUT, stopping)
        .await
        .expect("shutdown finished")
        .unwrap();
}

#[tokio::test]
async fn token_put_responses_carry_the_configured_hop_limit() {
    for v6 in [false, true] {
        let listen = if v6 { "[::1]:0" } else { "127.0.0.1:0" };
        let Ok(probe) = std::net::TcpListener::bind(listen) else {
            eprintln!("skipping {listen}: no such loopback on this machine");
            continue;
        };
        drop(probe);
        let server = ImdsServer::builder()
            .listen(listen.parse().unwrap())
            .options(MetadataOptions {
                http_put_response_hop_limit: HopLimit::new(3).unwrap(),
                ..MetadataOptions::default()
            })
            .start()
            .await
            .unwrap();
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let local = s.local_addr().unwrap();
        s.write_all(b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s, false).await.status(), 200);
        let applied = server.applied_hop_limits();
        let mine: Vec<_> = applied.iter().filter(|a| a.peer == local).collect();
        assert_eq!(mine.len(), 1, "{applied:?}");
        assert_eq!((mine[0].requested, mine[0].restore), (3, false));
        assert_eq!(mine[0].read_back, 3, "getsockopt disagrees (v6={v6})");
        assert_eq!(server.journal().last().unwrap().hop_limit, Some(3));

        // A 403 on the token path keeps the connection open (BEAM-47), so one connection
        // carries a hop-limited PUT response and then a GET response with the original TTL.
        let mut s = TcpStream::connect(server.addr()).await.unwrap();
        let local = s.local_addr().unwrap();
        s.write_all(b"PUT /latest/api/token/ HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s, false).await.status(), 403);
        s.write_all(GET_ID.as_bytes()).await.unwrap();
        assert_eq!(read_response(&mut s, false).await.status(), 200);
        let applied = server.applied_hop_limits();
        let mine: Vec<_> = applied.iter().filter(|a| a.peer == local).collect();
        assert_eq!(mine.len(), 2, "{applied:?}");
        assert_eq!((mine[0].requested, mine[0].read_back), (3, 3));
        assert!(mine[1].restore, "{applied:?}");
        assert_ne!(mine[1].read_back, 3, "{applied:?}");
        assert_eq!(mine[1].read_back, mine[1].requested);

        // A changed option applies to the next PUT, on a fresh connection.
        server.imds().set_options(MetadataOptions {
            http_put_response_hop_limit: HopLimit::new(7).unwrap(),
            ..MetadataOptions::default()
        });
        let r = request(
            server.addr(),
            "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
        )
        .await;
        assert_eq!(r.status(), 200);
        let last = *server.applied_hop_limits().last().unwrap();
        assert_eq!((last.requested, last.read_back), (7, 7));
        // Metadata GETs are not hop-limited.
        assert_eq!(request(server.addr(), GET_ID).await.status(), 200);
        assert_eq!(server.applied_hop_limits().len(), 4);
        assert_eq!(server.journal().last().unwrap().hop_limit, None);
    }
}

/// Spec §3.6: names in EC2's Title-Case and order on the wire, for a success, a HEAD, an error
/// page and an empty 403 (where hyper would otherwise move `Content-Length: 0` to the end).
#[tokio::test]
async fn header_names_leave_in_ec2_case_and_order() {
    let server = ImdsServer::start().await.unwrap();
    let token = server.imds().issue_token(60);
    let names = |r: &common::RawResponse| -> Vec<String> {
        r.headers.iter().map(|(n, _)| n.clone()).collect()
    };
    let ok = [
        "X-Aws-Ec2-Metadata-Token-Ttl-Seconds",
        "Content-Type",
        "Accept-Ranges",
        "Last-Modified",
        "Content-Length",
        "Date",
        "Server",
        "Connection",
    ];
    for method in ["GET", "HEAD"] {
        let r = request(
            server.addr(),
            &format!(
                "{method} /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\
                 X-aws-ec2-metadata-token: {token}\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(names(&r), ok, "{method}");
    }
    let r = request(
        server.addr(),
        "GET /latest/meta-data/nope HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(
        names(&r),
        [
            "Content-Length",
            "Content-Type",
            "Date",
            "Connection",
            "Server"
        ]
    );
    let r = request(
        server.addr(),
        "PUT /latest/api/token/ HTTP/1.1\r\nHost: x\r\n\
         X-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        names(&r),
        ["Content-Length", "Content-Type", "Date", "Server"]
    );
    assert_eq!(r.header("content-length"), Some("0"));
}
