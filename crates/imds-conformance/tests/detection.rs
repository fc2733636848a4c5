//! Option detection that one answer cannot fool: a one-off odd answer from the token PUT or
//! the tokenless GET costs at most the cases that met it, is reported as
//! `options.consistent-answers`, and a later answer that contradicts the detection makes the
//! run detect again.

mod support;

use imds_conformance::catalogue::Level;
use imds_conformance::report::{Outcome, RunResult};
use imds_conformance::runner::TargetOptions;
use imds_model::Toggle;
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A run with nothing declared, as a user pointing `imdspec run` at an endpoint does.
async fn undeclared_run(server: &MockServer) -> RunResult {
    run(catalogue(), config(&server.uri(), TargetOptions::default())).await
}

/// `times` answers `status` to `method path`, then the model answers again.
async fn one_off(server: &MockServer, m: &str, p: &str, status: u16, times: u64) {
    Mock::given(method(m))
        .and(path(p))
        .respond_with(ResponseTemplate::new(status))
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
}

fn observed(r: &RunResult, id: &str) -> Vec<String> {
    r.cases
        .iter()
        .find(|c| c.id == id)
        .map(|c| {
            c.detail
                .failures
                .iter()
                .map(|f| f.observed.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The one-off costs at most ten more skips than the faithful server, fails no
/// `endpoint.disabled.*` case and no must-level case, and is named by the should-level
/// `options.consistent-answers`.
async fn assert_one_off_is_contained(r: &RunResult, seen: &str) {
    let (faithful, _imds) = model_server(profile("optional")).await;
    let baseline = undeclared_run(&faithful).await;
    assert_eq!(
        outcome(&baseline, "options.consistent-answers"),
        Outcome::Pass
    );
    assert!(
        r.summary.skip <= baseline.summary.skip + 10,
        "{} skips against {} on the faithful server: {:#?}",
        r.summary.skip,
        baseline.summary.skip,
        r.notes
    );
    assert_eq!(r.target.detected.http_endpoint, Some(Toggle::Enabled));
    let disabled: Vec<&str> = r
        .cases
        .iter()
        .filter(|c| c.id.starts_with("endpoint.disabled.") && c.outcome != Outcome::Skip)
        .map(|c| c.id.as_str())
        .collect();
    assert!(disabled.is_empty(), "{disabled:?}");
    assert_eq!(
        must_failures(r),
        Vec::<String>::new(),
        "{:#?}",
        non_passing(r)
    );
    let consistent = r
        .cases
        .iter()
        .find(|c| c.id == "options.consistent-answers")
        .unwrap();
    assert_eq!(consistent.level, Level::Should);
    assert_eq!(consistent.outcome, Outcome::Fail);
    let obs = observed(r, "options.consistent-answers");
    assert!(obs.iter().any(|o| o.contains(seen)), "{obs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_403s_from_the_token_put_do_not_turn_the_endpoint_off() {
    let (server, _imds) = model_server(profile("optional")).await;
    one_off(&server, "PUT", "/latest/api/token", 403, 2).await;
    let r = undeclared_run(&server).await;
    assert_one_off_is_contained(&r, "answered 403, 403, 200, then 200").await;
    // The token from the third round opens the token cases.
    assert_eq!(outcome(&r, "token.put.ok"), Outcome::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_500_on_instance_id_does_not_hide_the_tokens_option() {
    let (server, _imds) = model_server(profile("optional")).await;
    one_off(&server, "GET", "/latest/meta-data/instance-id", 500, 1).await;
    let r = undeclared_run(&server).await;
    assert_one_off_is_contained(&r, "answered 500, 200, 200, then 200").await;
    assert_eq!(
        r.target.detected.http_tokens,
        Some(imds_model::HttpTokens::Optional)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_after_a_disabled_detection_makes_the_run_detect_again() {
    // Three 403s outlast detection's three rounds; the cases' own PUTs then get tokens.
    let (server, _imds) = model_server(profile("optional")).await;
    one_off(&server, "PUT", "/latest/api/token", 403, 3).await;
    let r = undeclared_run(&server).await;
    assert!(
        r.notes.iter().any(|n| n.starts_with("re-detected")),
        "{:#?}",
        r.notes
    );
    assert_eq!(r.target.detected.http_endpoint, Some(Toggle::Enabled));
    assert_eq!(
        must_failures(&r),
        Vec::<String>::new(),
        "{:#?}",
        non_passing(&r)
    );
    assert_eq!(outcome(&r, "token.put.ok"), Outcome::Pass);
    let obs = observed(&r, "options.consistent-answers");
    assert!(
        obs.iter()
            .any(|o| o.contains("token PUT was answered with a token")),
        "{obs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_first_round_is_not_asked_again() {
    let (server, _imds) = model_server(profile("required")).await;
    let r = undeclared_run(&server).await;
    let puts = server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|q| q.method.as_str() == "PUT")
        .count();
    assert!(puts > 0);
    assert_eq!(outcome(&r, "options.consistent-answers"), Outcome::Pass);
    assert_eq!(
        must_failures(&r),
        Vec::<String>::new(),
        "{:#?}",
        non_passing(&r)
    );
}
