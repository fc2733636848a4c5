//! A scenario given to the builder is played by the model behind real loopback HTTP
//! (SPEC.md §3.11, §1.2).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use imds_server::ImdsServer;

#[tokio::test]
async fn scenario_entries_fire_over_http() {
    let clock = manual_clock();
    let scenario = imds_files::scenario::parse_file(
        Path::new("s.toml"),
        "[[entry]]\nafter = \"10s\"\nspot-interruption = { action = \"terminate\", time = \"+120s\" }\n\
         \n[[entry]]\nafter-requests = 3\noptions = { HttpTokens = \"required\" }\n",
    )
    .unwrap();
    let server = ImdsServer::builder()
        .clock(clock.clone())
        .scenario(scenario)
        .start()
        .await
        .unwrap();
    let get = |path: &'static str| {
        let addr = server.addr();
        async move { request(addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await }
    };
    assert_eq!(
        get("/latest/meta-data/spot/instance-action").await.status(),
        404
    );
    clock.advance(Duration::from_secs(10));
    let r = get("/latest/meta-data/spot/instance-action").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["action"], "terminate");
    // The third request turns tokens on, and is itself refused.
    assert_eq!(get("/latest/meta-data/instance-id").await.status(), 401);
    let fired = server.imds().scenario_fired();
    assert_eq!(fired.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1]);
}

/// `notice-clients = 1` over loopback (SPEC.md §8): 127.0.0.1 asks first and sees the spot
/// notice; 127.0.0.2 gets 404 for it while every other path still answers.
#[tokio::test]
async fn notice_clients_tell_loopback_addresses_apart() {
    use tokio::io::AsyncWriteExt as _;
    let scenario = imds_files::scenario::parse_file(
        Path::new("s.toml"),
        "notice-clients = 1\n[[entry]]\nafter = \"0s\"\nspot-interruption = { action = \"terminate\" }\n",
    )
    .unwrap();
    let server = ImdsServer::builder()
        .clock(manual_clock())
        .scenario(scenario)
        .start()
        .await
        .unwrap();
    let addr = server.addr();
    let from = |ip: &'static str, path: &'static str| async move {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        let mut s = sock.connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        read_response(&mut s, false).await.status()
    };
    let spot = "/latest/meta-data/spot/instance-action";
    assert_eq!(from("127.0.0.1", spot).await, 200);
    assert_eq!(from("127.0.0.2", spot).await, 404);
    assert_eq!(from("127.0.0.1", spot).await, 200);
    assert_eq!(
        from("127.0.0.2", "/latest/meta-data/instance-id").await,
        200
    );
}
