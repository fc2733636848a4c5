//! The in-process server: start, answer over real loopback HTTP, stop on drop.

mod common;

use common::*;
use imds_server::ImdsServer;

#[tokio::test]
async fn serves_the_model_over_loopback() {
    let server = ImdsServer::builder()
        .clock(manual_clock())
        .start()
        .await
        .unwrap();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(!server.url().ends_with('/'));
    let id = server.imds().instance().instance_id.clone();

    let r = request(
        server.addr(),
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.body, id.as_bytes());
    assert_eq!(r.header("server"), Some("EC2ws"));
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.header("content-type"), Some("text/plain"));

    let tok = token(&server.url(), 60).await;
    assert_eq!(tok.len(), 56);
    let r = client()
        .get(format!("{}/latest/meta-data/instance-id", server.url()))
        .header("x-aws-ec2-metadata-token", &tok)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-aws-ec2-metadata-token-ttl-seconds"], "60");
    assert_eq!(r.text().await.unwrap(), id);
}

#[tokio::test]
async fn reason_phrase_and_head_content_length_reach_the_wire() {
    let server = ImdsServer::start().await.unwrap();
    let r = request(
        server.addr(),
        "GET /latest/api/token HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(r.status_line, "HTTP/1.1 405 Not Allowed");
    assert_eq!(r.header("allow"), Some("OPTIONS, PUT"));

    let get = request(
        server.addr(),
        "GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let head = request(
        server.addr(),
        "HEAD /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(head.status(), 200);
    let len = get.body.len().to_string();
    assert_eq!(head.header("content-length"), Some(len.as_str()));
    // Nothing follows the head: the server closes right after it.
    let all = raw(
        server.addr(),
        b"HEAD /latest/meta-data/instance-id HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert!(all.ends_with("\r\n\r\n"), "{all:?}");
}

#[tokio::test]
async fn dropping_the_server_stops_listening() {
    let server = ImdsServer::start().await.unwrap();
    let addr = server.addr();
    assert_eq!(
        request(addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .status(),
        200
    );
    drop(server);
    // The accept loop ends on its next poll; give it a bounded number of chances.
    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(refused, "still accepting after drop");
}
