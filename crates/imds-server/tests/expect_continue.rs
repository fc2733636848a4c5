//! Spec §2.2: a token PUT with `Expect: 100-continue` is answered 417 at once, and the
//! server never sends an interim `100 Continue` first (hyper only sends one when the body
//! is read, and the service does not read it).

mod common;

use common::*;
use imds_server::ImdsServer;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn token_put_expecting_continue_gets_417_and_no_interim_answer() {
    let server = ImdsServer::start().await.unwrap();
    let mut s = TcpStream::connect(server.addr()).await.unwrap();
    // The announced body is never sent: a server waiting for it, or answering 100 first,
    // fails this test (read_response reads the first response head it gets).
    s.write_all(
        b"PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    .await
    .unwrap();
    let r = read_response(&mut s, false).await;
    assert_eq!(r.status(), 417, "{r:?}");
    assert_eq!(r.header("x-aws-ec2-metadata-token-ttl-seconds"), None);
    assert!(
        String::from_utf8_lossy(&r.body).contains("417"),
        "error page names the status: {r:?}"
    );

    // The same PUT without the expectation gets a token.
    let r = request(
        server.addr(),
        "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("x-aws-ec2-metadata-token-ttl-seconds"), Some("60"));
}
