//! Fuzz entry point over the control API's decoding (`imds_server::control`) and the model
//! changes it leads to (`control_request`).
//!
//! Compiled into the cargo-fuzz target and into `crates/imds-server/tests/fuzz_control.rs`, so
//! a committed seed checks exactly what the fuzzer checks.
//!
//! Input: up to four control requests separated by a NUL byte, each `METHOD PATH[?QUERY]`, a
//! newline, then the body (the seeds are readable text). Each request is decoded; what decodes
//! is applied to one model per input as the server applies it, and the model must then still
//! answer a token PUT and a GET with well-formed responses.
#![allow(dead_code)]

use std::sync::Arc;

use imds_model::{
    Clock, Instance, ManualClock, MetadataOptions, TOKEN_HEADER, TTL_HEADER, Timestamp, TokenKey,
};
use imds_server::Imds;
use imds_server::control::{
    self, ControlError, ControlOp, ControlRequest, MAX_ADVANCE_SECS, ROUTES, apply_options,
    patch_instance,
};

/// A fuzz entry point: raw input in, panic on a broken invariant.
pub type Entry = fn(&[u8]);

/// Every control target by name, as the seed directories under `fuzz/seeds/` are named.
pub const TARGETS: &[(&str, Entry)] = &[("control_request", control_request)];

const MAX_REQUESTS: usize = 4;

/// Splits one request: `METHOD PATH[?QUERY]\nBODY`.
fn split(raw: &[u8]) -> (String, String, Option<String>, &[u8]) {
    let line_end = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
    let line = String::from_utf8_lossy(&raw[..line_end]);
    let body = raw.get(line_end + 1..).unwrap_or(&[]);
    let (method, target) = line.split_once(' ').unwrap_or((&line, ""));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    (method.to_owned(), path, query, body)
}

pub fn control_request(data: &[u8]) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let start = clock.now();
    // One model per input: ops change it, and the next input must not see those changes.
    let imds = Imds::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([5; 32]),
        clock.clone(),
    );
    for raw in data.split(|b| *b == 0).take(MAX_REQUESTS) {
        let (method, path, query, body) = split(raw);
        let req = ControlRequest {
            method: &method,
            path: &path,
            query: query.as_deref(),
            body,
        };
        let decoded = control::decode(&req);
        // Pure: the same request decodes the same way.
        assert_eq!(
            decoded,
            control::decode(&req),
            "decode is not deterministic"
        );
        match decoded {
            Ok(op) => apply(&imds, &clock, op),
            Err(e) => check_error(&req, &e),
        }
    }
    assert!(clock.now() >= start, "the clock went backwards");
    still_answers(&imds);
}

fn check_error(req: &ControlRequest<'_>, e: &ControlError) {
    assert!(
        matches!(e.status, 400 | 404 | 405 | 413),
        "status {} for {} {}",
        e.status,
        req.method,
        req.path
    );
    assert!(!e.message.is_empty());
    let known = ROUTES.iter().find(|(p, _)| *p == req.path);
    assert_eq!(
        e.status == 404,
        known.is_none(),
        "404 iff the path is unknown"
    );
    match e.status {
        405 => {
            let allow = e.allow.expect("405 carries Allow");
            assert_eq!(Some(allow), known.map(|(_, a)| *a));
            assert!(!allow.split(", ").any(|m| m == req.method));
        }
        _ => assert!(e.allow.is_none()),
    }
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).expect("error body is JSON");
    assert!(v["error"].is_string());
    assert!(v["field"].is_string() || v["field"].is_null());
}

fn apply(imds: &Imds, clock: &ManualClock, op: ControlOp) {
    match op {
        ControlOp::PutOptions(change) => {
            let before = imds.options();
            let after = imds.update_options(|o| apply_options(o, &change));
            assert_eq!(after, apply_options(before, &change));
            assert_eq!(imds.options(), after);
            // What GET shows can be sent back and changes nothing.
            let body = serde_json::to_string(&after).expect("options render");
            let again = control::decode(&ControlRequest {
                method: "PUT",
                path: "/options",
                query: None,
                body: body.as_bytes(),
            });
            match again {
                Ok(ControlOp::PutOptions(c)) => assert_eq!(apply_options(before, &c), after),
                other => panic!("GET's options body refused: {other:?}"),
            }
        }
        ControlOp::PutInstance(text) => {
            let start = Instance::default();
            let Ok(instance) = control::put_instance(&start, &text) else {
                return;
            };
            // What GET shows can be sent back as it is.
            let body = serde_json::to_string(&instance).expect("instance renders");
            let again = control::decode(&ControlRequest {
                method: "PUT",
                path: "/instance",
                query: None,
                body: body.as_bytes(),
            });
            match again {
                Ok(ControlOp::PutInstance(t)) => assert_eq!(
                    control::put_instance(&start, &t).expect("GET's body loads"),
                    instance
                ),
                other => panic!("GET's instance body refused: {other:?}"),
            }
            imds.set_instance(instance);
        }
        ControlOp::PatchInstance(patch) => {
            let before = imds.instance();
            let start = Instance::default();
            match imds.try_update_instance(|i| patch_instance(i, &start, &patch)) {
                Ok(after) => {
                    // RFC 7396 patches are idempotent.
                    let twice =
                        patch_instance(&after, &start, &patch).expect("patch applies again");
                    assert_eq!(twice, *after, "merge patch not idempotent");
                }
                Err(e) => {
                    assert_eq!(e.status, 400);
                    assert_eq!(
                        *imds.instance(),
                        *before,
                        "a refused patch changed the instance"
                    );
                }
            }
        }
        ControlOp::PostScenario(s) => {
            imds.set_scenario(s);
            // Play it through: an hour on, and a few requests.
            clock.advance(std::time::Duration::from_secs(3600));
            for _ in 0..3 {
                get(imds, "/latest/meta-data/", None);
            }
        }
        ControlOp::AdvanceClock(d) => {
            assert!(d.as_secs_f64() <= MAX_ADVANCE_SECS + 1.0);
            clock.advance(d);
        }
        ControlOp::GetJournal { .. }
        | ControlOp::GetOptions
        | ControlOp::GetInstance
        | ControlOp::GetScenario
        | ControlOp::GetClock
        | ControlOp::GetFaults
        | ControlOp::PutFaults(_)
        | ControlOp::DeleteFaults
        | ControlOp::GetOpenApi => {}
        ControlOp::Reset => imds.reset(MetadataOptions::default(), Instance::default()),
    }
}

fn get(imds: &Imds, path: &str, token: Option<&str>) -> http::Response<bytes::Bytes> {
    let mut req = http::Request::get(path);
    if let Some(t) = token {
        req = req.header(TOKEN_HEADER, t);
    }
    imds.handle(&req.body(()).expect("request"))
}

/// After any ops, a token PUT and a GET get well-formed answers: 200s while the endpoint is
/// enabled, 403s when it is not.
fn still_answers(imds: &Imds) {
    let put = http::Request::put("/latest/api/token")
        .header(TTL_HEADER, "60")
        .body(())
        .expect("request");
    let r = imds.handle(&put);
    let enabled = imds.options().http_endpoint.is_enabled();
    if !enabled {
        assert_eq!(r.status(), 403);
        return;
    }
    assert_eq!(r.status(), 200);
    let token = String::from_utf8(r.body().to_vec()).expect("token is text");
    let r = get(imds, "/latest/meta-data/instance-id", Some(&token));
    assert_eq!(r.status(), 200, "token GET refused after control ops");
    let len: usize = r.headers()[http::header::CONTENT_LENGTH]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("Content-Length");
    assert_eq!(len, r.body().len());
    assert_eq!(&r.body()[..], imds.instance().instance_id.as_bytes());
}
