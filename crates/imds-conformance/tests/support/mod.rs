//! Test support: a wiremock server answering from the pure reference model, onto which a test
//! mounts one higher-priority mock that breaks exactly one rule.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imds_conformance::Catalogue;
use imds_conformance::catalogue::Level;
use imds_conformance::client::ClientConfig;
use imds_conformance::report::{Outcome, RunResult};
use imds_conformance::runner::{self, RunConfig, TargetOptions};
use imds_model::{HttpTokens, Imds, Instance, MetadataOptions, SystemClock, Toggle, TokenKey};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// Answers every request from the model.
pub struct ModelResponder(pub Arc<Imds>);

impl Respond for ModelResponder {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut target = request.url.path().to_owned();
        if let Some(q) = request.url.query() {
            target.push('?');
            target.push_str(q);
        }
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(target);
        for (n, v) in &request.headers {
            builder = builder.header(n, v);
        }
        let Ok(req) = builder.body(()) else {
            return ResponseTemplate::new(400);
        };
        let resp = self.0.handle(&req);
        let mut t = ResponseTemplate::new(resp.status().as_u16());
        for (n, v) in resp.headers() {
            if n != http::header::CONTENT_LENGTH {
                t = t.append_header(n.as_str(), v.to_str().unwrap_or_default());
            }
        }
        t.set_body_bytes(resp.body().to_vec())
    }
}

/// The conformance directory of the workspace.
pub fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../conformance"))
}

/// The committed catalogue.
pub fn catalogue() -> Arc<Catalogue> {
    Arc::new(Catalogue::load(&conformance_dir()).expect("the committed catalogue loads"))
}

/// Options of a named profile.
pub fn profile(name: &str) -> MetadataOptions {
    let mut o = MetadataOptions::default();
    match name {
        "optional" => {}
        "required" => o.http_tokens = HttpTokens::Required,
        "required-tags" => {
            o.http_tokens = HttpTokens::Required;
            o.instance_metadata_tags = Toggle::Enabled;
        }
        "disabled" => o.http_endpoint = Toggle::Disabled,
        other => panic!("no profile {other}"),
    }
    o
}

/// What the profile declares.
pub fn declared(o: &MetadataOptions) -> TargetOptions {
    TargetOptions {
        http_tokens: Some(o.http_tokens),
        http_endpoint: Some(o.http_endpoint),
        instance_metadata_tags: Some(o.instance_metadata_tags),
        http_protocol_ipv6: Some(o.http_protocol_ipv6),
        http_put_response_hop_limit: None,
    }
}

/// A wiremock server answering from the model with these options (lowest priority).
pub async fn model_server(options: MetadataOptions) -> (MockServer, Arc<Imds>) {
    let imds = Arc::new(Imds::new(
        options,
        Instance::default(),
        &TokenKey::new([42; 32]),
        Arc::new(SystemClock),
    ));
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ModelResponder(imds.clone()))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    (server, imds)
}

/// Run settings for tests: short timeouts, high concurrency.
pub fn config(uri: &str, declared: TargetOptions) -> RunConfig {
    let mut c = RunConfig::new("test", uri);
    c.declared = declared;
    c.concurrency = 32;
    c.deadline = Duration::from_secs(40);
    c.client = ClientConfig {
        timeout: Duration::from_millis(1500),
        max_in_flight: 32,
        throttle_backoff: Duration::from_millis(20),
        ..ClientConfig::default()
    };
    c
}

/// Runs the catalogue.
pub async fn run(catalogue: Arc<Catalogue>, config: RunConfig) -> RunResult {
    runner::run(catalogue, config).await.expect("run starts")
}

/// Outcome of case `id`.
pub fn outcome(r: &RunResult, id: &str) -> Outcome {
    r.cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no case {id} in the results"))
        .outcome
}

/// Ids of must-level cases that failed or errored.
pub fn must_failures(r: &RunResult) -> Vec<String> {
    r.cases
        .iter()
        .filter(|c| c.level == Level::Must && matches!(c.outcome, Outcome::Fail | Outcome::Error))
        .map(|c| c.id.clone())
        .collect()
}

/// Ids of cases that did not pass or skip, with a short reason.
pub fn non_passing(r: &RunResult) -> Vec<String> {
    r.cases
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Pass | Outcome::Skip))
        .map(|c| {
            format!(
                "{} {:?} {:?} {:?}",
                c.id,
                c.outcome,
                c.reason,
                c.detail.failures.first()
            )
        })
        .collect()
}
