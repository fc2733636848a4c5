//! Time per `Imds::handle` for the hot requests: a token-bearing leaf GET (the target is under
//! 2 µs), a tokenless (IMDSv1) leaf GET, HEAD, a listing, a dated-version listing, a 404 with
//! a token, a 401, credentials JSON, and a token PUT.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use imds_model::{HttpTokens, Imds, Instance, ManualClock, MetadataOptions, Timestamp, TokenKey};

fn get(path: &str, token: Option<&str>) -> http::Request<()> {
    let mut b = http::Request::get(path);
    if let Some(t) = token {
        b = b.header("x-aws-ec2-metadata-token", t);
    }
    b.body(()).unwrap()
}

fn bench(c: &mut Criterion) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let imds = Imds::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([1; 32]),
        clock.clone(),
    );
    let required = Imds::new(
        MetadataOptions {
            http_tokens: HttpTokens::Required,
            ..MetadataOptions::default()
        },
        Instance::default(),
        &TokenKey::new([1; 32]),
        clock,
    );
    let token = imds.issue_token(21600);
    let t = Some(token.as_str());
    let leaf = get("/latest/meta-data/instance-id", t);
    let leaf_v1 = get("/latest/meta-data/instance-id", None);
    let head = http::Request::head("/latest/meta-data/instance-id")
        .header("x-aws-ec2-metadata-token", &token)
        .body(())
        .unwrap();
    let listing = get("/latest/meta-data/", t);
    let dated = get("/2009-04-04/meta-data/", t);
    let not_found = get("/latest/meta-data/no-such-thing", t);
    let unauthorized = get("/latest/meta-data/instance-id", None);
    let creds = get("/latest/meta-data/iam/security-credentials/imdspec-role", t);
    let put = http::Request::put("/latest/api/token")
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .body(())
        .unwrap();
    // Sanity: each request gets the answer it is meant to measure.
    for (req, status, on) in [
        (&leaf, 200, &imds),
        (&leaf_v1, 200, &imds),
        (&head, 200, &imds),
        (&listing, 200, &imds),
        (&dated, 200, &imds),
        (&not_found, 404, &imds),
        (&unauthorized, 401, &required),
        (&creds, 200, &imds),
        (&put, 200, &imds),
    ] {
        assert_eq!(on.handle(req).status(), status, "{}", req.uri());
    }

    c.bench_function("leaf_get_with_token", |b| {
        b.iter(|| imds.handle(black_box(&leaf)))
    });
    c.bench_function("leaf_get_v1", |b| {
        b.iter(|| imds.handle(black_box(&leaf_v1)))
    });
    c.bench_function("head_with_token", |b| {
        b.iter(|| imds.handle(black_box(&head)))
    });
    c.bench_function("listing_meta_data", |b| {
        b.iter(|| imds.handle(black_box(&listing)))
    });
    c.bench_function("listing_dated_2009_04_04", |b| {
        b.iter(|| imds.handle(black_box(&dated)))
    });
    c.bench_function("not_found_with_token", |b| {
        b.iter(|| imds.handle(black_box(&not_found)))
    });
    c.bench_function("unauthorized_required_mode", |b| {
        b.iter(|| required.handle(black_box(&unauthorized)))
    });
    c.bench_function("credentials_json", |b| {
        b.iter(|| imds.handle(black_box(&creds)))
    });
    c.bench_function("token_put", |b| b.iter(|| imds.handle(black_box(&put))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
