//! Helpers shared by the integration tests: raw loopback HTTP and a reqwest client.
#![allow(dead_code)] // Each test file uses a different subset.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imds_model::{ManualClock, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Long enough for a loaded CI machine, short enough that a bug fails instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A clock standing still at 2023-11-14T22:13:20Z.
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_secs(1_700_000_000)))
}

/// Writes `request` on a fresh connection and reads until the server closes it.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(IO_TIMEOUT, s.read_to_end(&mut out))
        .await
        .expect("server closed the connection in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed HTTP/1.1 response read from a stream.
#[derive(Debug)]
pub struct RawResponse {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn status(&self) -> u16 {
        self.status_line.split(' ').nth(1).unwrap().parse().unwrap()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (head + Content-Length body; no body when `head_request`).
pub async fn read_response(s: &mut TcpStream, head_request: bool) -> RawResponse {
    tokio::time::timeout(IO_TIMEOUT, async {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut byte).await.unwrap();
            assert_eq!(n, 1, "connection closed inside the response head: {buf:?}");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.to_owned(), v.trim().to_owned())
            })
            .collect();
        let mut resp = RawResponse {
            status_line,
            headers,
            body: Vec::new(),
        };
        if !head_request {
            let len: usize = resp.header("content-length").unwrap().parse().unwrap();
            resp.body = vec![0; len];
            s.read_exact(&mut resp.body).await.unwrap();
        }
        resp
    })
    .await
    .expect("response in time")
}

/// Sends one request on a fresh connection and parses the answer.
pub async fn request(addr: SocketAddr, request: &str) -> RawResponse {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    read_response(&mut s, request.starts_with("HEAD ")).await
}

/// True when the peer has closed the connection (EOF within the timeout).
pub async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(
        tokio::time::timeout(IO_TIMEOUT, s.read(&mut b)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A reqwest client that never uses a proxy and never waits long.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(IO_TIMEOUT)
        .build()
        .unwrap()
}

/// `PUT /latest/api/token` with `ttl`; returns the token.
pub async fn token(base: &str, ttl: u32) -> String {
    let r = client()
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}
