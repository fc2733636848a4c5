//! The usage example of README.md, kept compiling and true.

use std::time::Duration;

use imds_model::{HttpTokens, Instance, MetadataOptions, Model, Timestamp, TokenKey};

#[test]
fn readme_example() -> Result<(), http::Error> {
    let start = Timestamp::from_secs(1_768_470_000);
    let options = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let mut model = Model::new(options, Instance::default(), &TokenKey::new([7; 32]));

    let put = http::Request::put("/latest/api/token")
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .body(())?;
    let token = model.handle(&put, start).into_body();
    assert_eq!(token.len(), 56);

    let get = http::Request::get("/latest/meta-data/instance-id")
        .header("x-aws-ec2-metadata-token", &token[..])
        .body(())?;
    let ok = model.handle(&get, start);
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["x-aws-ec2-metadata-token-ttl-seconds"], "60");
    let later = start.plus(Duration::from_secs(60));
    assert_eq!(model.handle(&get, later).status(), 401);
    Ok(())
}
