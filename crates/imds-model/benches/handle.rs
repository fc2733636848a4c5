//! Time per `Imds::handle` for the three hot requests: a token-bearing leaf GET, a listing,
//! and a token PUT.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use imds_model::{Imds, Instance, ManualClock, MetadataOptions, Timestamp, TokenKey};

fn bench(c: &mut Criterion) {
    let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
    let imds = Imds::new(
        MetadataOptions::default(),
        Instance::default(),
        &TokenKey::new([1; 32]),
        clock,
    );
    let token = imds.issue_token(21600);
    let leaf = http::Request::get("/latest/meta-data/instance-id")
        .header("x-aws-ec2-metadata-token", &token)
        .body(())
        .unwrap();
    let listing = http::Request::get("/latest/meta-data/")
        .header("x-aws-ec2-metadata-token", &token)
        .body(())
        .unwrap();
    let put = http::Request::put("/latest/api/token")
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .body(())
        .unwrap();
    c.bench_function("leaf_get_with_token", |b| {
        b.iter(|| imds.handle(black_box(&leaf)))
    });
    c.bench_function("listing_meta_data", |b| {
        b.iter(|| imds.handle(black_box(&listing)))
    });
    c.bench_function("token_put", |b| b.iter(|| imds.handle(black_box(&put))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
