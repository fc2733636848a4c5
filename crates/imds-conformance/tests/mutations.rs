//! Mutation tests: for each family of rules, a wiremock server that answers from the reference
//! model except for one mock that breaks exactly that rule. The runner must report that case
//! as failed (or error), and no unrelated must-level case may fail.

mod support;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use imds_conformance::report::{EXIT_INCONCLUSIVE, Outcome, Report, Verdict};
use imds_conformance::runner::INVALID_TOKEN;
use imds_model::{TOKEN_HEADER, TTL_HEADER};
use imds_server::Imds;
use support::*;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TTL: &str = "x-aws-ec2-metadata-token-ttl-seconds";

struct NoTokenHeader;

impl wiremock::Match for NoTokenHeader {
    fn matches(&self, r: &Request) -> bool {
        !r.headers.contains_key(TOKEN_HEADER.as_str())
    }
}

struct HasTokenHeader;

impl wiremock::Match for HasTokenHeader {
    fn matches(&self, r: &Request) -> bool {
        r.headers.contains_key(TOKEN_HEADER.as_str())
    }
}

/// Answers as `model` would to the request without its token header.
struct IgnoreToken(Arc<Imds>);

impl Respond for IgnoreToken {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut r = request.clone();
        r.headers.remove(TOKEN_HEADER.as_str());
        template(&model_answer(&self.0, &r))
    }
}

async fn mount(server: &MockServer, mock: Mock) {
    mock.with_priority(1).mount(server).await;
}

async fn run_on(server: &MockServer, profile_name: &str) -> imds_conformance::report::RunResult {
    let cfg = config(&server.uri(), declared(&profile(profile_name)));
    run(catalogue(), cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_zero_accepted() {
    let (server, imds) = model_server(profile("optional")).await;
    let token = imds.issue_token(1);
    mount(
        &server,
        Mock::given(method("PUT"))
            .and(path("/latest/api/token"))
            .and(header(TTL, "0"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header(TTL, "0")
                    .set_body_string(token),
            ),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["token.ttl.zero-rejected"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_ttl_echo_on_token_response() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("PUT"))
            .and(path("/latest/api/token"))
            .respond_with(Mutated::new(&imds, |_, resp| {
                resp.headers_mut().remove(TTL_HEADER);
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &[
            "token.put.ttl-echoed",
            "token.put.ttl-echoed-short",
            "token.put.min-ttl",
            "token.put.header-title-case",
            "token.put.short-ttl-accepted",
            "token.put.min-ttl-echoed",
            "token.put.header-title-case-echoed",
            "token.ttl.max-accepted",
        ],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_requests_served_in_required_mode() {
    let (server, _imds) = model_server(profile("required")).await;
    mount(
        &server,
        Mock::given(NoTokenHeader).respond_with(ModelResponder(model(profile("optional")))),
    )
    .await;
    let r = run_on(&server, "required").await;
    assert_mutation(
        &r,
        &[
            "auth.required.tokenless-unauthorized",
            "auth.required.listing-needs-token",
            "options.declared.http-tokens",
        ],
        &["auth.required.*", "tags.enabled.required-needs-token"],
    );
    assert_eq!(
        r.target.detected.http_tokens,
        Some(imds_model::HttpTokens::Optional)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_token_accepted_in_required_mode() {
    let (server, _imds) = model_server(profile("required")).await;
    mount(
        &server,
        Mock::given(header(TOKEN_HEADER.as_str(), INVALID_TOKEN))
            .respond_with(IgnoreToken(model(profile("optional")))),
    )
    .await;
    let r = run_on(&server, "required").await;
    assert_mutation(&r, &["auth.required.invalid-token-unauthorized"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remaining_ttl_header_missing_on_gets() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(HasTokenHeader)
            .respond_with(Mutated::new(&imds, |_, resp| {
                resp.headers_mut().remove(TTL_HEADER);
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &[
            "token.ttl.remaining-header",
            "token.ttl.remaining-counts-down",
            "token.ttl.remaining-on-not-found",
            "token.ttl.remaining-on-listing",
        ],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directories_listed_without_slash() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path_regex("^/latest/meta-data/?$"))
            .respond_with(Mutated::new(&imds, |_, resp| {
                let text = String::from_utf8_lossy(resp.body()).replace('/', "");
                *resp.body_mut() = text.into();
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &[
            "crawl.listing.directories-marked",
            "listing.meta-data.directories-marked",
        ],
        &["listing.meta-data.core-entries"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dangling_listing_entry() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path_regex("^/latest/meta-data/?$"))
            .respond_with(Mutated::new(&imds, |_, resp| {
                let text = format!("{}\nimdspec-ghost", String::from_utf8_lossy(resp.body()));
                *resp.body_mut() = text.into();
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["crawl.listing.entries-resolve"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_document_disagrees_with_meta_data() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path("/latest/dynamic/instance-identity/document"))
            .respond_with(Mutated::new(&imds, |_, resp| {
                let text = String::from_utf8_lossy(resp.body())
                    .replace("i-0123456789abcdef0", "i-0fedcba9876543210");
                *resp.body_mut() = text.into();
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["consistency.identity.instance-id"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_ids_of_another_length_are_reported() {
    // R5.8: 8 or 17 hex digits, nothing in between (the old check accepted 9 to 16).
    for (id, broken) in [
        ("i-0123456789", true),
        ("i-0123456789ABCDEF0", true),
        ("i-01234567", false),
    ] {
        let (server, _imds) = model_server(profile("optional")).await;
        // Every version's copy, so that only the shape differs.
        for p in [
            "^/[^/]+/meta-data/instance-id$",
            "^/[^/]+/dynamic/instance-identity/document$",
        ] {
            let imds = _imds.clone();
            mount(
                &server,
                Mock::given(method("GET"))
                    .and(path_regex(p))
                    .respond_with(Mutated::new(&imds, move |_, resp| {
                        let text =
                            String::from_utf8_lossy(resp.body()).replace("i-0123456789abcdef0", id);
                        *resp.body_mut() = text.into();
                    })),
            )
            .await;
        }
        let r = run_on(&server, "optional").await;
        if broken {
            assert_mutation(
                &r,
                &[
                    "category.instance-id.format",
                    "crawl.paths.documented-format",
                ],
                &[],
            );
        } else {
            assert_eq!(
                outcome(&r, "category.instance-id.format"),
                Outcome::Pass,
                "{id}"
            );
            assert_eq!(must_failures(&r), Vec::<String>::new(), "{id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_served_as_application_json() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path(
                "/latest/meta-data/iam/security-credentials/imdspec-role",
            ))
            .respond_with(Mutated::new(&imds, |_, resp| {
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["credentials.role.content-type"], &[]);
    // The credentials themselves never reach the report.
    let json = imds_conformance::report::Report {
        command: "imdspec run",
        runs: vec![r],
        strict: false,
    }
    .to_json();
    assert!(!json.contains("wJalrXUtnFEMI"), "secret access key leaked");
    assert!(json.contains("<redacted>"), "{json}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_body_is_an_error_not_an_oom() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path("/latest/meta-data/ami-launch-index"))
            .respond_with(ResponseTemplate::new(200).set_body_string("0".repeat(3 << 20))),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["category.ami-launch-index.format"], &["crawl.*"]);
    assert_eq!(
        outcome(&r, "category.ami-launch-index.format"),
        Outcome::Error
    );
    let case = r
        .cases
        .iter()
        .find(|c| c.id == "category.ami-launch-index.format")
        .unwrap();
    assert!(
        case.reason.as_deref().unwrap_or("").contains("larger than"),
        "{:?}",
        case.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_token_put_is_inconclusive_with_the_hop_limit_fix_unless_declared() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("PUT"))
            .and(path("/latest/api/token"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60))),
    )
    .await;
    let mut cfg = config(&server.uri(), declared(&profile("optional")));
    cfg.client.timeout = Duration::from_millis(400);
    let r = run(catalogue(), cfg.clone()).await;
    // Tokenless GETs are answered, so this looks like a hop limit dropping the PUT's answer
    // (SPEC §13.1): not EC2's fault, but a run that never got a token cannot pass the token
    // rules either.
    for id in [
        "token.put.ok",
        "token.ttl.missing-rejected",
        "token.use.get",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Inconclusive, "{id}");
    }
    assert_eq!(must_failures(&r), Vec::<String>::new());
    let report = Report {
        command: "imdspec run",
        runs: vec![r.clone()],
        strict: false,
    };
    assert_eq!(report.verdict(), Verdict::Inconclusive);
    assert_eq!(report.exit_code(), EXIT_INCONCLUSIVE);
    // The report says what it could not check, and the fix for each likely cause.
    let [unchecked] = r.unchecked.as_slice() else {
        panic!("{:#?}", r.unchecked)
    };
    assert!(unchecked.cases.iter().any(|id| id == "token.put.ok"));
    assert!(
        unchecked
            .causes
            .iter()
            .any(|c| c.fix.contains("--http-put-response-hop-limit 2")),
        "{unchecked:#?}"
    );
    let human = report.to_human(false);
    assert!(human.contains("could not check:"), "{human}");
    assert!(human.contains("a proxy"), "{human}");
    assert!(human.contains("imdspec run: INCONCLUSIVE"), "{human}");
    // Content is still checked without a token (optional mode), and the run says why.
    assert_eq!(outcome(&r, "category.instance-id.format"), Outcome::Pass);
    assert!(
        r.notes.iter().any(|n| n.contains("no session token")),
        "{:?}",
        r.notes
    );

    // A user who declares the hop limit knows the answer does not reach them: expected skips.
    cfg.declared.http_put_response_hop_limit = Some(imds_model::HopLimit::default());
    let r = run(catalogue(), cfg).await;
    for id in ["token.put.ok", "token.use.get"] {
        assert_eq!(outcome(&r, id), Outcome::Skip, "{id}");
    }
    assert_eq!(r.summary.inconclusive, 0, "{:#?}", non_passing(&r));
    assert!(r.unchecked.is_empty());
    let report = Report {
        command: "imdspec run",
        runs: vec![r],
        strict: false,
    };
    assert_eq!(report.verdict(), Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_slash_token_put_accepted() {
    let (server, imds) = model_server(profile("optional")).await;
    let issuer = imds.clone();
    mount(
        &server,
        Mock::given(method("PUT"))
            .and(path("/latest/api/token/"))
            .respond_with(Mutated::new(&imds, move |_, resp| {
                *resp = issuer.handle(
                    &http::Request::put("/latest/api/token")
                        .header(TTL, "21600")
                        .body(())
                        .unwrap(),
                );
            })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(&r, &["token.path.trailing-slash-forbidden"], &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_on_token_path_answers_200() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path("/latest/api/token"))
            .respond_with(ResponseTemplate::new(200)),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &["token.get.method-not-allowed", "token.get.no-token"],
        &[],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dated_versions_not_served() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(path_regex(r"^/(1\.0|[0-9]{4}-[0-9]{2}-[0-9]{2})/"))
            .respond_with(ResponseTemplate::new(404)),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &[
            "versions.dated.instance-id",
            "versions.listed.serve-instance-id",
            "versions.v1-0.listing",
        ],
        &["versions.*", "token.path.*"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_answer_500() {
    let (server, imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET")).respond_with(Mutated::new(&imds, |_, resp| {
            if resp.status() == 404 {
                *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            }
        })),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &["listing.unknown.not-found", "listing.unknown.html-page"],
        // Every case that expects (or tolerates) a 404 sees the 500.
        &[
            "listing.unknown.*",
            "versions.*",
            "tags.*",
            "credentials.*",
            "category.*",
            "methods.metadata.head-not-found",
            "token.ttl.remaining-on-not-found",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_answers_are_retried_and_noted() {
    let (server, _imds) = model_server(profile("optional")).await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/ami-id"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let r = run_on(&server, "optional").await;
    assert_eq!(non_passing(&r), Vec::<String>::new());
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("429") && n.contains("backing off")),
        "{:?}",
        r.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_listing_is_capped() {
    let (server, _imds) = model_server(profile("optional")).await;
    let huge: Vec<String> = (0..1500).map(|n| format!("zone-{n}")).collect();
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path_regex("^/latest/meta-data/placement/?$"))
            .respond_with(ResponseTemplate::new(200).set_body_string(huge.join("\n"))),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &["crawl.listing.entries-resolve", "listing.placement.entries"],
        &["crawl.*"],
    );
    let case = r
        .cases
        .iter()
        .find(|c| c.id == "crawl.listing.entries-resolve")
        .unwrap();
    assert_eq!(case.outcome, Outcome::Error);
    assert!(
        case.reason
            .as_deref()
            .unwrap_or("")
            .contains("1500 entries"),
        "{:?}",
        case.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .and(path("/latest/meta-data/ami-id"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", "/latest/meta-data/ami-launch-index"),
            ),
    )
    .await;
    let r = run_on(&server, "optional").await;
    assert_mutation(
        &r,
        &["category.ami-id.format", "consistency.identity.image-id"],
        &[
            "crawl.*",
            "token.use.reuse",
            "methods.metadata.head-ok",
            "category.content-type.text-plain",
        ],
    );
    let case = r
        .cases
        .iter()
        .find(|c| c.id == "category.ami-id.format")
        .unwrap();
    assert!(
        case.detail.failures[0].observed.starts_with("302"),
        "{:?}",
        case.detail
    );
    // The failing exchange is in the report.
    let ex = &case.detail.exchanges[0];
    assert_eq!(ex.response.as_ref().map(|r| r.status), Some(302));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_deadline_turns_slow_cases_into_errors() {
    let (server, _imds) = model_server(profile("optional")).await;
    mount(
        &server,
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(404).set_delay(Duration::from_secs(3))),
    )
    .await;
    let mut cfg = config(&server.uri(), declared(&profile("optional")));
    cfg.client.timeout = Duration::from_secs(5);
    cfg.deadline = Duration::from_millis(800);
    let r = run(catalogue(), cfg).await;
    let not_error: Vec<String> = r
        .cases
        .iter()
        .filter(|c| !matches!(c.outcome, Outcome::Error | Outcome::Skip))
        .map(|c| format!("{} {:?}", c.id, c.outcome))
        .collect();
    assert!(not_error.is_empty(), "{not_error:?}");
    assert!(
        r.cases
            .iter()
            .any(|c| c.reason.as_deref().is_some_and(|m| m.contains("deadline"))),
        "{:#?}",
        non_passing(&r)
    );
}
