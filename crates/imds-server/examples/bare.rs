//! A bare hyper 1 server answering every request with a constant 19-byte body: the ceiling
//! `just bench-serve` compares `imdspec serve` against on the same machine.
//!
//! `cargo run --release -p imds-server --example bare -- [ADDR] [--close]`: listens on ADDR
//! (default 127.0.0.1:0), prints `listening on http://HOST:PORT`, and with `--close` sends
//! `Connection: close` as IMDS (and so `imdspec serve`) does on every 200.

use std::io::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

const BODY: &[u8] = b"i-0123456789abcdef0";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let close = args.iter().any(|a| a == "--close");
    let addr: SocketAddr = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map_or("127.0.0.1:0", String::as_str)
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |_req: Request<Incoming>| async move {
                let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
                resp.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                if close {
                    resp.headers_mut()
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, std::convert::Infallible>(resp)
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
