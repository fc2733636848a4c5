//! Time per `Model::handle` for the hot requests: a token-bearing leaf GET (the target is under
//! 2 µs), a tokenless (IMDSv1) leaf GET, HEAD, a listing, a dated-version listing, a 404 with
//! a token, a 401, credentials JSON, and a token PUT.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imds_model::{HttpTokens, Instance, MetadataOptions, Model, Timestamp, TokenKey};

fn get(path: &str, token: Option<&str>) -> http::Request<()> {
    let mut b = http::Request::get(path);
    if let Some(t) = token {
        b = b.header("x-aws-ec2-metadata-token", t);
    }
    b.body(()).unwrap()
}

fn bench(c: &mut Criterion) {
    let now = Timestamp::from_secs(1_768_470_000);
    let mut imds = Model::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([1; 32]),
    );
    let mut required = Model::new(
        MetadataOptions {
            http_tokens: HttpTokens::Required,
            ..MetadataOptions::default()
        },
        Instance::default(),
        &TokenKey::new([1; 32]),
    );
    let token = imds.issue_token(21600, now);
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
    for (req, status) in [
        (&leaf, 200),
        (&leaf_v1, 200),
        (&head, 200),
        (&listing, 200),
        (&dated, 200),
        (&not_found, 404),
        (&creds, 200),
        (&put, 200),
    ] {
        assert_eq!(imds.handle(req, now).status(), status, "{}", req.uri());
    }
    assert_eq!(required.handle(&unauthorized, now).status(), 401);

    c.bench_function("leaf_get_with_token", |b| {
        b.iter(|| imds.handle(black_box(&leaf), now))
    });
    c.bench_function("leaf_get_v1", |b| {
        b.iter(|| imds.handle(black_box(&leaf_v1), now))
    });
    c.bench_function("head_with_token", |b| {
        b.iter(|| imds.handle(black_box(&head), now))
    });
    c.bench_function("listing_meta_data", |b| {
        b.iter(|| imds.handle(black_box(&listing), now))
    });
    c.bench_function("listing_dated_2009_04_04", |b| {
        b.iter(|| imds.handle(black_box(&dated), now))
    });
    c.bench_function("not_found_with_token", |b| {
        b.iter(|| imds.handle(black_box(&not_found), now))
    });
    c.bench_function("unauthorized_required_mode", |b| {
        b.iter(|| required.handle(black_box(&unauthorized), now))
    });
    c.bench_function("credentials_json", |b| {
        b.iter(|| imds.handle(black_box(&creds), now))
    });
    c.bench_function("token_put", |b| {
        b.iter(|| imds.handle(black_box(&put), now))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
