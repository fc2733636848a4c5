//! Fuzz entry point over `imds-server`'s HTTP handling (`server_http`).
//!
//! Compiled into the cargo-fuzz target and into `crates/imds-server/tests/fuzz_seeds.rs`, so a
//! committed seed checks exactly what the fuzzer checks.
//!
//! Input: one profile byte, then the raw bytes a client sends on one connection. The profile
//! byte picks the server (`data[0] % 6`; the ASCII digits `'0'..='5'` map to 0..=5):
//! `0` tokens optional, `1` required, `2` required with tags, `3` endpoint disabled,
//! `4` faults `get=500,token-put=503`, `5` fault `revoke-tokens-after=1`.
//! One server per profile lives for the whole process; requests change nothing in it but the
//! token nonce counter, the journal (cleared per input) and fault counters (profiles 4, 5).
#![allow(dead_code)] // the fuzz target and the test each use part of this

use std::sync::Arc;

use imds_model::{
    HttpTokens, Instance, ManualClock, MetadataOptions, TOKEN_HEADER, TTL_HEADER, Timestamp,
    Toggle, TokenKey,
};
use imds_server::fuzzing::{Harness, MAX_OUTPUT};
use imds_server::{Faults, Imds};

/// A fuzz entry point: raw input in, panic on a broken invariant.
pub type Entry = fn(&[u8]);

/// Every server target by name, as the seed directories under `fuzz/seeds/` are named.
pub const TARGETS: &[(&str, Entry)] = &[("server_http", server_http)];

const PROFILES: usize = 6;
/// Statuses the server may answer with: the model's, the fault profile's and hyper's own.
const STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 408, 413, 414, 431, 500, 501, 503, 505,
];
const MAX_HEADERS: usize = 64;

struct Server {
    harness: Harness,
    imds: Arc<Imds>,
    faults: bool,
}

struct Servers {
    runtime: tokio::runtime::Runtime,
    servers: Vec<Server>,
}

thread_local! {
    static SERVERS: Servers = servers();
}

fn servers() -> Servers {
    // Paused time: a kept-alive connection's header-read timeout passes as soon as the
    // server has nothing left to do (see `Harness::serve`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let required = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let profiles = [
        (MetadataOptions::default(), None),
        (required, None),
        (
            MetadataOptions {
                instance_metadata_tags: Toggle::Enabled,
                ..required
            },
            None,
        ),
        (
            MetadataOptions {
                http_endpoint: Toggle::Disabled,
                ..MetadataOptions::default()
            },
            None,
        ),
        (MetadataOptions::default(), Some("get=500,token-put=503")),
        (MetadataOptions::default(), Some("revoke-tokens-after=1")),
    ];
    let servers = profiles
        .into_iter()
        .map(|(options, faults)| {
            let imds = Arc::new(Imds::new(
                options,
                Instance::default(),
                &TokenKey::new([3; 32]),
                clock.clone(),
            ));
            let parsed = match faults {
                Some(spec) => Faults::parse_all(spec.split(',')).expect("valid fault specs"),
                None => Faults::none(),
            };
            let harness = runtime
                .block_on(async { Harness::new(imds.clone(), clock.clone(), parsed, 64) })
                .expect("in-memory harness");
            Server {
                harness,
                imds,
                faults: faults.is_some(),
            }
        })
        .collect();
    Servers { runtime, servers }
}

/// Raw client bytes through the server; checks the bytes that come back.
pub fn server_http(data: &[u8]) {
    let Some((&profile, input)) = data.split_first() else {
        return;
    };
    SERVERS.with(|s| {
        let server = &s.servers[usize::from(profile) % PROFILES];
        server.harness.clear_journal();
        let out = s.runtime.block_on(server.harness.serve(input));
        assert!(out.len() < MAX_OUTPUT, "server wrote {} bytes", out.len());
        let (requests, complete) = request_heads(input);
        let issued = check_responses(&out, &requests, complete, server);
        check_journal(&server.harness, &issued);
    });
}

/// A request head as httparse reads it.
struct Sent {
    method: String,
    /// A plain origin-form request whose answer can be compared with the model's.
    comparable: bool,
}

/// The request heads in `input`, in order, as far as they can be told apart (bodies skipped
/// by `Content-Length`; chunked or unparsable input ends the list).
fn request_heads(input: &[u8]) -> (Vec<(Sent, http::Request<()>)>, bool) {
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() && out.len() < 16 {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        let Ok(httparse::Status::Complete(head_len)) = req.parse(rest) else {
            return (out, false);
        };
        let (Some(method), Some(target)) = (req.method, req.path) else {
            return (out, false);
        };
        let mut content_length: Option<usize> = None;
        let mut framed = true;
        let mut builder = http::Request::builder().method(method).uri(target);
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                framed = false;
            }
            if h.name.eq_ignore_ascii_case("content-length") {
                match std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok())
                {
                    Some(n) if content_length.is_none_or(|c| c == n) => content_length = Some(n),
                    _ => framed = false,
                }
            }
            builder = builder.header(h.name, h.value);
        }
        let body_len = content_length.unwrap_or(0);
        let built = builder.body(());
        // Only plain origin-form requests are compared with the model; hyper refuses some
        // heads httparse accepts (absolute/authority forms, odd framing, huge heads).
        let plain = framed
            && target.starts_with('/')
            && req.version.is_some()
            && head_len <= 8 * 1024
            && req.headers.len() < MAX_HEADERS;
        let Ok(request) = built else {
            return (out, false);
        };
        out.push((
            Sent {
                method: method.to_owned(),
                comparable: plain,
            },
            request,
        ));
        // After a head hyper may refuse, or a body we cannot frame, nothing more is paired.
        if !plain || rest.len() < head_len + body_len {
            return (out, false);
        }
        rest = &rest[head_len + body_len..];
    }
    (out, rest.is_empty())
}

/// Parses the responses in `out` and checks them against the requests; returns the tokens
/// the server issued.
fn check_responses(
    out: &[u8],
    requests: &[(Sent, http::Request<()>)],
    complete: bool,
    server: &Server,
) -> Vec<String> {
    let mut issued = Vec::new();
    let mut rest = out;
    let mut index = 0usize;
    while !rest.is_empty() {
        let shown = || String::from_utf8_lossy(&out[..out.len().min(600)]).into_owned();
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut headers);
        let head_len = match resp.parse(rest) {
            Ok(httparse::Status::Complete(n)) => n,
            other => panic!("response {index} does not parse ({other:?}): {:?}", shown()),
        };
        let status = resp.code.unwrap_or(0);
        assert!(STATUSES.contains(&status), "status {status}: {:?}", shown());
        // HTTP/1.1, or HTTP/1.0 in answer to a 1.0 request.
        assert!(
            matches!(resp.version, Some(0 | 1)),
            "not HTTP/1.x: {:?}",
            shown()
        );
        let lengths: Vec<usize> = resp
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
            .map(|h| {
                std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("bad Content-Length: {:?}", shown()))
            })
            .collect();
        assert!(
            lengths.len() == 1,
            "response {index} needs exactly one Content-Length: {:?}",
            shown()
        );
        assert!(
            !resp
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case("transfer-encoding")),
            "chunked answer: {:?}",
            shown()
        );
        let length = lengths[0];
        let Some((sent, request)) = requests.get(index) else {
            if !complete {
                // The answer to a request the harness could not read (hyper reads some heads
                // httparse or the pairing refuses): its head parsed, its body cannot be framed.
                break;
            }
            // Every request was read: only hyper's own error answer may follow the last one.
            assert!(
                status == 400 || status == 431 || status == 408 || status == 505 || status == 501,
                "response {index} without a request: {:?}",
                shown()
            );
            assert!(
                rest.len() == head_len + length,
                "bytes after an error answer: {:?}",
                shown()
            );
            break;
        };
        let head = sent.method == "HEAD";
        let body_len = if head { 0 } else { length };
        assert!(
            rest.len() >= head_len + body_len,
            "response {index} shorter than its Content-Length: {:?}",
            shown()
        );
        let body = &rest[head_len..head_len + body_len];
        let header = |name: &str| {
            resp.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.to_vec())
        };
        if sent.comparable && !server.faults {
            // The same request straight through the model: same status, length and body.
            let expected = server.imds.handle(request);
            assert_eq!(
                status,
                expected.status().as_u16(),
                "server and model disagree on {} {}: {:?}",
                request.method(),
                request.uri(),
                shown()
            );
            let token_put = expected.headers().contains_key(TTL_HEADER)
                && request.method() == http::Method::PUT
                && status == 200;
            if token_put {
                assert_eq!(body.len(), if head { 0 } else { 56 }, "token length");
                assert_eq!(
                    header(TTL_HEADER.as_str()),
                    expected
                        .headers()
                        .get(TTL_HEADER)
                        .map(|v| v.as_bytes().to_vec()),
                    "granted TTL"
                );
            } else if !expected.headers().contains_key(TTL_HEADER) {
                // Bodies that depend on the clock or token state are not compared.
                let expected_length = expected
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
                assert_eq!(
                    Some(length),
                    expected_length,
                    "Content-Length for {} {}",
                    request.method(),
                    request.uri()
                );
                if !head {
                    assert_eq!(body, expected.body().as_ref(), "body for {}", request.uri());
                }
            }
        }
        if status == 200 && sent.method == "PUT" && body.len() == 56 {
            issued.push(String::from_utf8_lossy(body).into_owned());
        }
        rest = &rest[head_len + body_len..];
        index += 1;
    }
    assert!(index <= requests.len() + 1, "more answers than requests");
    issued
}

/// The journal never holds a token: not an issued one, nor one a client presented.
fn check_journal(harness: &Harness, issued: &[String]) {
    for entry in harness.journal() {
        let line = serde_json::to_string(&entry).unwrap_or_default();
        for t in issued {
            assert!(
                !line.contains(t.as_str()),
                "issued token in the journal: {line}"
            );
        }
        for (name, value) in &entry.headers {
            if name.eq_ignore_ascii_case(TOKEN_HEADER.as_str()) {
                assert!(value.starts_with("<redacted"), "token header kept: {line}");
            }
        }
    }
}
