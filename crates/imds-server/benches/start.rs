//! In-process server lifecycle: start → first response → drop, the cost a test pays per server.

use criterion::{Criterion, criterion_group, criterion_main};
use imds_server::ImdsServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn start_first_response_drop(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    c.bench_function("start_first_response_drop", |b| {
        b.iter(|| {
            rt.block_on(async {
                let server = ImdsServer::start().await.expect("server starts");
                let mut s = tokio::net::TcpStream::connect(server.addr())
                    .await
                    .expect("connect");
                // Reset instead of FIN on close: thousands of iterations would otherwise fill
                // the port space with TIME_WAIT sockets and slow every later bind/connect.
                socket2::SockRef::from(&s)
                    .set_linger(Some(std::time::Duration::ZERO))
                    .expect("SO_LINGER");
                s.write_all(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: b\r\n\r\n")
                    .await
                    .expect("write");
                let mut out = Vec::new();
                s.read_to_end(&mut out).await.expect("read");
                assert!(out.starts_with(b"HTTP/1.1 200"));
                drop(server);
            })
        })
    });
}

criterion_group!(benches, start_first_response_drop);
criterion_main!(benches);
