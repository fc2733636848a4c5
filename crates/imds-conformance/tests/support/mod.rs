//! Test support: a wiremock server answering from the reference model, onto which a test
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
use imds_model::{HttpTokens, Instance, MetadataOptions, SystemClock, Toggle, TokenKey};
use imds_server::Imds;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// The model's answer to a wiremock request.
pub fn model_answer(imds: &Imds, request: &wiremock::Request) -> http::Response<bytes::Bytes> {
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
    match builder.body(()) {
        Ok(req) => imds.handle(&req),
        Err(_) => {
            let mut r = http::Response::new(bytes::Bytes::new());
            *r.status_mut() = http::StatusCode::BAD_REQUEST;
            r
        }
    }
}

/// A wiremock template sending `resp` (Content-Length is left to the server).
pub fn template(resp: &http::Response<bytes::Bytes>) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(resp.status().as_u16());
    for (n, v) in resp.headers() {
        if n != http::header::CONTENT_LENGTH {
            t = t.append_header(n.as_str(), v.to_str().unwrap_or_default());
        }
    }
    t.set_body_bytes(resp.body().to_vec())
}

/// Answers every request from the model.
pub struct ModelResponder(pub Arc<Imds>);

impl Respond for ModelResponder {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        template(&model_answer(&self.0, request))
    }
}

type Mutation = Box<dyn Fn(&wiremock::Request, &mut http::Response<bytes::Bytes>) + Send + Sync>;

/// Answers from the model, then changes the answer: the one rule a mutation test breaks.
pub struct Mutated(pub Arc<Imds>, pub Mutation);

impl Mutated {
    /// A responder applying `f` to the model's answers.
    pub fn new(
        imds: &Arc<Imds>,
        f: impl Fn(&wiremock::Request, &mut http::Response<bytes::Bytes>) + Send + Sync + 'static,
    ) -> Mutated {
        Mutated(imds.clone(), Box::new(f))
    }
}

impl Respond for Mutated {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let mut resp = model_answer(&self.0, request);
        (self.1)(request, &mut resp);
        template(&resp)
    }
}

/// A fresh model with these options (for answering as another mode would).
pub fn model(options: MetadataOptions) -> Arc<Imds> {
    Arc::new(Imds::new(
        options,
        Instance::default(),
        &TokenKey::new([42; 32]),
        Arc::new(SystemClock),
    ))
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
    TargetOptions::observable(o)
}

/// A wiremock server answering from the model with these options (lowest priority).
pub async fn model_server(options: MetadataOptions) -> (MockServer, Arc<Imds>) {
    instance_model_server(options, Instance::default()).await
}

/// A wiremock server answering from a model of `instance` with these options.
pub async fn instance_model_server(
    options: MetadataOptions,
    instance: Instance,
) -> (MockServer, Arc<Imds>) {
    let imds = Arc::new(Imds::new(
        options,
        instance,
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
    // Detection's rounds need not be a second apart against a local server.
    c.probe_spacing = Duration::from_millis(20);
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

/// Asserts a mutation run: every id in `must_break` failed or errored, and every must-level
/// failure or error is in `must_break` or matches a glob of `may_break`.
pub fn assert_mutation(r: &RunResult, must_break: &[&str], may_break: &[&str]) {
    for id in must_break {
        let o = outcome(r, id);
        assert!(
            matches!(o, Outcome::Fail | Outcome::Error),
            "{id} should have failed, got {o:?}; non-passing: {:#?}",
            non_passing(r)
        );
    }
    let allowed: Vec<glob::Pattern> = may_break
        .iter()
        .map(|p| glob::Pattern::new(p).unwrap())
        .collect();
    let unrelated: Vec<String> = must_failures(r)
        .into_iter()
        .filter(|id| !must_break.contains(&id.as_str()) && !allowed.iter().any(|p| p.matches(id)))
        .collect();
    assert!(
        unrelated.is_empty(),
        "unrelated must-level failures: {unrelated:?}; non-passing: {:#?}",
        non_passing(r)
    );
}
