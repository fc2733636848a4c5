//! One classifier for every layer: for any method and path, the kind the journal records,
//! the fault the server applies, the hop limit it sets and the model's own answer all agree
//! with `imds_model::classify` (`SPEC.md` §2.1, §2.2, §2.6, §12.5).

use std::sync::Arc;

use http::{Method, Request};
use imds_model::{
    Instance, ManualClock, MetadataOptions, Outcome, RequestKind, TTL_HEADER, Timestamp, TokenKey,
    classify,
};
use imds_server::fuzzing::Harness;
use imds_server::{Faults, Imds};
use proptest::prelude::*;

const METHODS: &[&str] = &[
    "GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "put", "get", "FETCH",
];
const SEGMENTS: &[&str] = &[
    "latest",
    "api",
    "token",
    "2021-03-23",
    "2009-04-04",
    "1.0",
    "foo",
    "meta-data",
    "instance-id",
    "",
    "..",
    "tokens",
    "%61pi",
];

fn target() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(SEGMENTS);
    let query = prop_oneof![Just(""), Just("?x=1"), Just("?api/token")];
    (
        prop::collection::vec(segment, 0..5),
        any::<bool>(),
        query,
        // Most cases near the token path, where the layers used to disagree.
        prop::sample::select(&["", "/latest/api/token", "/2021-03-23/api/token"][..]),
    )
        .prop_map(|(segments, slash, query, prefix)| {
            let mut t = prefix.to_owned();
            for s in segments {
                t.push('/');
                t.push_str(s);
            }
            if t.is_empty() || slash {
                t.push('/');
            }
            t.push_str(query);
            t
        })
}

/// The kind the model's answer shows: what it did and which `Allow` list a 405 carried.
fn answered_as(method: &str, target: &str, imds: &Imds) -> RequestKind {
    let req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(target)
        .header(TTL_HEADER, "60")
        .body(())
        .unwrap();
    let (resp, outcome) = imds.handle_with_outcome(&req);
    let allow = resp
        .headers()
        .get(http::header::ALLOW)
        .map(|v| v.to_str().unwrap());
    match (outcome, allow) {
        (Outcome::TokenIssued, _) => RequestKind::TokenPut,
        (Outcome::WrongTokenPath, _) => RequestKind::MisplacedTokenPut,
        (Outcome::Options, _) | (Outcome::MethodNotAllowed, Some("OPTIONS, PUT")) => {
            RequestKind::TokenPathOther
        }
        (Outcome::Served | Outcome::NotFound, _) => RequestKind::MetadataRead,
        (Outcome::MethodNotAllowed, Some("GET, HEAD")) => RequestKind::Other,
        other => panic!("{method} {target}: unexpected answer {other:?}"),
    }
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    imds: Arc<Imds>,
    plain: Harness,
    faulted: Harness,
}

fn fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let imds = Arc::new(Imds::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([5; 32]),
        clock.clone(),
    ));
    let faults = Faults::parse_all(["get=500", "token-put=503"]).unwrap();
    let (plain, faulted) = runtime.block_on(async {
        (
            Harness::new(imds.clone(), clock.clone(), Faults::none(), 8).unwrap(),
            Harness::new(imds.clone(), clock.clone(), faults, 8).unwrap(),
        )
    });
    Fixture {
        runtime,
        imds,
        plain,
        faulted,
    }
}

/// Sends one request on one in-memory connection and returns its journal entry.
fn journal_of(f: &Fixture, h: &Harness, method: &str, target: &str) -> imds_server::JournalEntry {
    h.clear_journal();
    let raw = format!(
        "{method} {target} HTTP/1.1\r\nHost: 169.254.169.254\r\n\
         X-aws-ec2-metadata-token-ttl-seconds: 60\r\nConnection: close\r\n\r\n"
    );
    f.runtime.block_on(h.serve(raw.as_bytes()));
    let mut journal = h.journal();
    assert_eq!(journal.len(), 1, "{method} {target}: {journal:?}");
    journal.remove(0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_layer_agrees_on_the_kind(
        method in prop::sample::select(METHODS),
        target in target(),
    ) {
        thread_local!(static F: Fixture = fixture());
        F.with(|f| {
            let kind = classify(method, &target);
            // The model answers by the kind.
            assert_eq!(answered_as(method, &target, &f.imds), kind, "model: {method} {target}");

            // The journal records it, and only a PUT on a token path leaves with the hop limit.
            let e = journal_of(f, &f.plain, method, &target);
            assert_eq!(e.kind(), kind, "journal: {method} {target}");
            assert_eq!(e.is_token_put(), kind.is_token_request());
            assert_eq!(e.hop_limit.is_some(), kind.is_token_request(), "{e:?}");
            assert_eq!(
                e.issued_token.is_some(),
                kind == RequestKind::TokenPut,
                "{method} {target}: {e:?}"
            );

            // Faults pick their requests by the same kind.
            let e = journal_of(f, &f.faulted, method, &target);
            let want = match kind {
                RequestKind::TokenPut | RequestKind::MisplacedTokenPut => Some((503, "token-put=503")),
                RequestKind::MetadataRead => Some((500, "get=500")),
                _ => None,
            };
            let got = e.fault.as_deref().map(|label| (e.status.unwrap_or(0), label));
            assert_eq!(got, want, "faults: {method} {target}: {e:?}");
        });
    }
}

#[test]
fn the_token_path_with_a_foreign_prefix_is_no_token_put() {
    // The server used to count this as a token PUT (fault, hop limit) while the model
    // answered 405: now both see a method the path does not allow.
    let f = fixture();
    assert_eq!(classify("PUT", "/foo/api/token"), RequestKind::Other);
    let e = journal_of(&f, &f.faulted, "PUT", "/foo/api/token");
    assert_eq!((e.status, e.fault.as_deref()), (Some(405), None));
    let e = journal_of(&f, &f.plain, "PUT", "/foo/api/token");
    assert_eq!(e.hop_limit, None);
    assert!(!e.is_token_put());
}
