//! A small program using the AWS SDK for Rust's IMDS support (aws-config), for
//! `imdspec client-check`: it loads instance-profile credentials (`ImdsCredentialsProvider`),
//! the region (`ImdsRegionProvider`) and the instance id (`imds::Client`), in that order; a
//! failure does not stop the later components, so each is judged. `--only COMPONENT` loads
//! one of them; `--again-after-ms N` loads them again N ms after the start with the same
//! providers and client (the credentials provider fetches on every call and keeps the last
//! credentials it got, for static stability). Exit status 0 when everything loaded, 1 otherwise, 2 when the endpoint is not
//! a loopback one or the arguments are wrong.
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
use std::time::{Duration, Instant};

use aws_config::imds::client::Client;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_credential_types::provider::ProvideCredentials;

const COMPONENTS: [&str; 3] = ["credentials", "region", "instance-id"];
const USAGE: &str =
    "usage: rust_sdk_client [--only credentials|region|instance-id] [--again-after-ms N]";

/// The components to load and when to load them again; `None` for bad arguments.
fn parse_args(mut args: &[String]) -> Option<(Vec<&'static str>, Option<Duration>)> {
    let mut only = COMPONENTS.to_vec();
    let mut again = None;
    while let [flag, value, rest @ ..] = args {
        match flag.as_str() {
            "--only" => only = vec![*COMPONENTS.iter().find(|c| **c == value)?],
            "--again-after-ms" => again = Some(Duration::from_millis(value.parse().ok()?)),
            _ => return None,
        }
        args = rest;
    }
    args.is_empty().then_some((only, again))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((only, again)) = parse_args(&args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let endpoint = std::env::var("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_default();
    if !(endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://[::1]:")) {
        eprintln!("refusing endpoint {endpoint:?}: not a loopback URL");
        return ExitCode::from(2);
    }
    let components = Components {
        credentials: ImdsCredentialsProvider::builder().build(),
        region: ImdsRegionProvider::builder().build(),
        client: Client::builder().build(),
    };
    let mut ok = components.load(&only).await;
    if let Some(again) = again {
        tokio::time::sleep(again.saturating_sub(started.elapsed())).await;
        ok &= components.load(&only).await;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What an application keeps for the run.
struct Components {
    credentials: ImdsCredentialsProvider,
    region: ImdsRegionProvider,
    client: Client,
}

impl Components {
    /// Loads each of `only`; true when all of them loaded.
    async fn load(&self, only: &[&str]) -> bool {
        let mut ok = true;
        for what in only {
            let loaded = match *what {
                "credentials" => self.credentials().await,
                "region" => self
                    .region
                    .region()
                    .await
                    .map(|r| r.to_string())
                    .ok_or_else(|| "not loaded".to_owned()),
                _ => self
                    .client
                    .get("/latest/meta-data/instance-id")
                    .await
                    .map(|id| id.as_ref().to_owned())
                    .map_err(|e| aws_smithy_error(&e)),
            };
            match loaded {
                Ok(value) => eprintln!("{what}: {value}"),
                Err(e) => {
                    eprintln!("{what}: {e}");
                    ok = false;
                }
            }
        }
        ok
    }

    async fn credentials(&self) -> Result<String, String> {
        // The key id is not secret; the secret key and session token are never printed.
        self.credentials
            .provide_credentials()
            .await
            .map(|c| format!("access key id {}", c.access_key_id()))
            .map_err(|e| aws_smithy_error(&e))
    }
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
