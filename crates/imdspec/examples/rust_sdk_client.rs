//! A small program using the AWS SDK for Rust's IMDS support (aws-config), for
//! `imdspec client-check`: it loads instance-profile credentials (`ImdsCredentialsProvider`),
//! the region (`ImdsRegionProvider`) and the instance id (`imds::Client`), in that order; a
//! failure does not stop the later components, so each is judged. Exit status 0 when all
//! three loaded, 1 otherwise, 2 when
//! the endpoint is not a loopback one.
//!
//! aws-config reads `AWS_EC2_METADATA_SERVICE_ENDPOINT` itself; this program only refuses to
//! start without a loopback value there, so it can never reach the link-local default.
//! Each component is built with its defaults, as aws-config's default chains build them: the
//! credentials and region providers each make their own IMDS client (and token cache), and
//! the instance id is read through a third, default `imds::Client` (1 s connect and read).
//!
//! ```sh
//! imdspec client-check --target aws-sdk-rust -- target/debug/examples/rust_sdk_client
//! ```

use std::process::ExitCode;

use aws_config::imds::client::Client;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_credential_types::provider::ProvideCredentials;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let endpoint = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_default();
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://[::1]:")) {
        eprintln!("refusing endpoint {endpoint:?}: not a loopback URL");
        return ExitCode::from(2);
    }
    let mut code = ExitCode::SUCCESS;
    let credentials = ImdsCredentialsProvider::builder().build();
    match credentials.provide_credentials().await {
        // The key id is not secret; the secret key and session token are never printed.
        Ok(c) => eprintln!("credentials: access key id {}", c.access_key_id()),
        Err(e) => {
            eprintln!("credentials: {}", aws_smithy_error(&e));
            code = ExitCode::FAILURE;
        }
    }

    let region = ImdsRegionProvider::builder().build();
    match region.region().await {
        Some(r) => eprintln!("region: {r}"),
        None => {
            eprintln!("region: not loaded");
            code = ExitCode::FAILURE;
        }
    }

    let client = Client::builder().build();
    match client.get("/latest/meta-data/instance-id").await {
        Ok(id) => eprintln!("instance-id: {}", id.as_ref()),
        Err(e) => {
            eprintln!("instance-id: {}", aws_smithy_error(&e));
            code = ExitCode::FAILURE;
        }
    }
    code
}

/// The error and its sources on one line.
fn aws_smithy_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
