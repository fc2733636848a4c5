//! The real AWS SDK for Rust (`aws-config`) against the reference server on loopback.
//!
//! Every client here is given the server's loopback URL explicitly; none is ever built
//! without one, so nothing can reach the link-local default address.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::imds::Client;
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_async::time::TimeSource;
use common::manual_clock;
use imds_model::{Clock, HttpTokens, ManualClock, MetadataOptions};
use imds_server::{ImdsServer, JournalEntry};

/// The server's manual clock, seen by the SDK too, so both agree on token expiry.
#[derive(Debug)]
struct SharedClock(Arc<ManualClock>);

impl TimeSource for SharedClock {
    fn now(&self) -> SystemTime {
        self.0.now().to_system_time()
    }
}

fn provider_config(clock: &Arc<ManualClock>) -> ProviderConfig {
    ProviderConfig::empty().with_time_source(SharedClock(clock.clone()))
}

fn imds_client(server: &ImdsServer, config: &ProviderConfig, attempts: u32) -> Client {
    Client::builder()
        .configure(config)
        .endpoint(server.url())
        .expect("loopback URL is a valid endpoint")
        .max_attempts(attempts)
        .connect_timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(5))
        .build()
}

async fn start(tokens: HttpTokens, clock: &Arc<ManualClock>) -> ImdsServer {
    ImdsServer::builder()
        .options(MetadataOptions {
            http_tokens: tokens,
            ..MetadataOptions::default()
        })
        .clock(clock.clone())
        .start()
        .await
        .unwrap()
}

fn token_puts(journal: &[JournalEntry]) -> Vec<&JournalEntry> {
    journal.iter().filter(|e| e.is_token_put()).collect()
}

#[tokio::test]
async fn sdk_reads_metadata_and_credentials_in_both_modes() {
    for mode in [HttpTokens::Optional, HttpTokens::Required] {
        let clock = manual_clock();
        let server = start(mode, &clock).await;
        let config = provider_config(&clock);
        let client = imds_client(&server, &config, 1);
        let instance = server.imds().instance();

        let id = client
            .get("/latest/meta-data/instance-id")
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(id.as_ref(), instance.instance_id);
        let region = client
            .get("/latest/meta-data/placement/region")
            .await
            .unwrap();
        assert_eq!(region.as_ref(), instance.placement.region);

        let provider = ImdsCredentialsProvider::builder()
            .configure(&config)
            .imds_client(client.clone())
            .build();
        let creds = provider
            .provide_credentials()
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        let expected = &instance.iam.as_ref().unwrap().credentials;
        assert_eq!(creds.access_key_id(), expected.access_key_id);
        assert_eq!(creds.secret_access_key(), expected.secret_access_key);
        assert_eq!(creds.session_token(), Some(expected.token.as_str()));
        let expiry = creds.expiry().expect("IMDS credentials expire");
        assert!(expiry > clock.now().to_system_time(), "{mode:?}");

        // IMDSv2 only: one token PUT, then every GET carries that token and is served.
        let journal = server.journal();
        let puts = token_puts(&journal);
        assert_eq!(puts.len(), 1, "{mode:?}: {journal:#?}");
        assert_eq!(
            puts[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
            Some("21600")
        );
        let issued = puts[0].issued_token.clone();
        assert!(issued.is_some());
        let gets: Vec<_> = journal.iter().filter(|e| e.method == "GET").collect();
        assert!(gets.len() >= 4, "{mode:?}: {journal:#?}");
        for g in gets {
            assert_eq!(g.token, issued, "{mode:?}: {} without the token", g.path);
            assert_eq!(g.status, Some(200), "{mode:?}: {}", g.path);
            assert!(g.header("x-forwarded-for").is_none());
        }
    }
}

#[tokio::test]
async fn sdk_gets_a_new_token_after_the_clock_passes_expiry() {
    let clock = manual_clock();
    let server = start(HttpTokens::Required, &clock).await;
    let config = provider_config(&clock);
    let client = imds_client(&server, &config, 1);

    client.get("/latest/meta-data/instance-id").await.unwrap();
    client.get("/latest/meta-data/instance-id").await.unwrap();
    assert_eq!(token_puts(&server.journal()).len(), 1, "token reused");

    // Past the 21600 s TTL: the server would refuse the old token, and the SDK, reading the
    // same clock, asks for a new one first.
    clock.advance(Duration::from_secs(21_600 + 1));
    let id = client.get("/latest/meta-data/instance-id").await.unwrap();
    assert_eq!(id.as_ref(), server.imds().instance().instance_id);

    let journal = server.journal();
    let puts = token_puts(&journal);
    assert_eq!(puts.len(), 2, "{journal:#?}");
    assert_ne!(puts[0].issued_token, puts[1].issued_token);
    let last = journal.last().unwrap();
    assert_eq!(last.method, "GET");
    assert_eq!(last.status, Some(200));
    assert_eq!(last.token, puts[1].issued_token, "the new token was used");
    assert!(
        journal.iter().all(|e| e.status != Some(401)),
        "no request was refused: {journal:#?}"
    );
}

#[tokio::test]
async fn sdk_retries_a_401_with_the_same_cached_token() {
    // Recorded behaviour (aws-config 1.13, spec §9.2): 401 is retried, but the token cache is
    // keyed on the SDK's own clock, so a token the server considers expired is sent again.
    // Client validation (issue 7) lists this as a documented difference.
    let clock = manual_clock();
    let server = start(HttpTokens::Required, &clock).await;
    let client = imds_client(&server, &ProviderConfig::empty(), 2);
    client.get("/latest/meta-data/instance-id").await.unwrap();
    clock.advance(Duration::from_secs(21_600 + 1));
    let err = client
        .get("/latest/meta-data/instance-id")
        .await
        .expect_err("the server refuses the expired token");
    assert!(format!("{err:?}").contains("401"), "{err:?}");
    let journal = server.journal();
    assert_eq!(token_puts(&journal).len(), 1, "{journal:#?}");
    let refused: Vec<_> = journal.iter().filter(|e| e.status == Some(401)).collect();
    assert_eq!(refused.len(), 2, "two attempts: {journal:#?}");
    for r in refused {
        assert_eq!(r.outcome.as_deref(), Some("TokenExpired"));
        assert_eq!(r.token, journal[0].issued_token);
    }
}
