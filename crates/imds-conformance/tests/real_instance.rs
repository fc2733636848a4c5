//! Real instances that differ from the typical one (SPEC §13): what EC2 itself causes there
//! must never be reported as a must-level failure or error.

mod support;

use std::time::Duration;

use imds_conformance::report::Outcome;
use imds_conformance::runner::{HOP_LIMIT_DECLARED, HOP_LIMITED, TargetOptions};
use imds_model::{Instance, MetadataOptions, Toggle};
use support::*;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn reason<'a>(r: &'a imds_conformance::report::RunResult, id: &str) -> &'a str {
    r.cases
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| c.reason.as_deref())
        .unwrap_or_default()
}

/// A wiremock server answering from a model of `instance`.
async fn instance_server(options: MetadataOptions, instance: Instance) -> MockServer {
    instance_model_server(options, instance).await.0
}

async fn hang_token_put(server: &MockServer) {
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .with_priority(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_limited_required_mode_leaves_every_token_case_inconclusive_or_skipped_if_declared() {
    let (server, _imds) = model_server(profile("required")).await;
    hang_token_put(&server).await;
    let mut cfg = config(&server.uri(), declared(&profile("required")));
    cfg.client.timeout = Duration::from_millis(400);
    let r = run(catalogue(), cfg.clone()).await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    let token_cases = [
        "token.put.ok",
        "token.use.get",
        "category.instance-id.format",
        "auth.required.valid-token-ok",
        "crawl.paths.always-present",
    ];
    for id in token_cases {
        assert_eq!(outcome(&r, id), Outcome::Inconclusive, "{id}");
        assert_eq!(reason(&r, id), HOP_LIMITED, "{id}");
    }
    // What needs no token still runs: tokenless GETs get 401 as documented.
    assert_eq!(
        outcome(&r, "auth.required.tokenless-unauthorized"),
        Outcome::Pass
    );
    assert!(
        r.notes.iter().any(|n| n.starts_with("hop-limited")),
        "{:?}",
        r.notes
    );
    // Declared: the same cases are skips, as documented.
    cfg.declared.http_put_response_hop_limit = Some(imds_model::HopLimit::default());
    let r = run(catalogue(), cfg).await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    for id in token_cases {
        assert_eq!(outcome(&r, id), Outcome::Skip, "{id}");
        assert_eq!(reason(&r, id), HOP_LIMIT_DECLARED, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_timing_out_with_gets_timing_out_too_is_not_hop_limited() {
    let (server, _imds) = model_server(profile("optional")).await;
    hang_token_put(&server).await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/instance-id"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri(), declared(&profile("optional")));
    cfg.client.timeout = Duration::from_millis(400);
    let r = run(catalogue(), cfg).await;
    // No answer at all is a broken endpoint, not a hop limit: errors, not skips.
    assert_eq!(outcome(&r, "token.put.ok"), Outcome::Error);
    assert!(!r.notes.iter().any(|n| n.starts_with("hop-limited")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_older_than_newer_categories_passes() {
    let (server, _imds) = model_server(profile("optional")).await;
    Mock::given(method("GET"))
        .and(path_regex(
            "^/latest/meta-data/(placement/region|placement/availability-zone-id|instance-life-cycle)$",
        ))
        .respond_with(ResponseTemplate::new(404).set_body_string("not here"))
        .with_priority(1)
        .mount(&server)
        .await;
    let r = run_on(&server, "optional").await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    for id in [
        "consistency.identity.region",
        "consistency.placement.az-in-region",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Skip, "{id}");
        assert!(
            reason(&r, id).contains("SPEC §13.2"),
            "{id}: {}",
            reason(&r, id)
        );
    }
    for id in [
        "category.placement.region.format",
        "category.placement.availability-zone-id.format",
        "crawl.paths.always-present",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Pass, "{id}");
    }
    let region = r
        .cases
        .iter()
        .find(|c| c.id == "category.placement.region.format")
        .unwrap();
    assert!(
        region.detail.notes.iter().any(|n| n.contains("SPEC §13.2")),
        "{:?}",
        region.detail.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_domain_hostnames_and_wavelength_zones_pass() {
    let mut instance = Instance::default();
    let names = "ip-172-31-16-10.my.domain us-east-1.compute.internal".to_owned();
    instance.hostname = names.clone();
    instance.local_hostname = names.clone();
    for eni in &mut instance.network_interfaces {
        eni.local_hostname = names.clone();
    }
    instance.placement.availability_zone = "us-east-1-wl1-bos-wlz-1".into();
    instance.placement.availability_zone_id = "use1-wl1-bos-wlz1".into();
    let server = instance_server(profile("optional"), instance).await;
    let r = run_on(&server, "optional").await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    for id in [
        "category.hostname.present",
        "category.local-hostname.present",
        "category.placement.availability-zone.format",
        "category.placement.availability-zone-id.format",
        "crawl.paths.documented-format",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Pass, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_zone_names_still_fail() {
    let mut instance = Instance::default();
    instance.placement.availability_zone = "us-east-1-wl1-bos-1".into();
    instance.placement.availability_zone_id = "use1-bos".into();
    instance.local_hostname = "two  spaces".into();
    let server = instance_server(profile("optional"), instance).await;
    let r = run_on(&server, "optional").await;
    for id in [
        "category.placement.availability-zone.format",
        "category.placement.availability-zone-id.format",
        "category.local-hostname.present",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Fail, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_disabled_answering_an_empty_200_is_not_a_failure() {
    let (server, _imds) = model_server(profile("optional")).await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/tags/instance"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain")
                .set_body_string(""),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let r = run_on(&server, "optional").await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    assert_eq!(outcome(&r, "tags.disabled.not-found"), Outcome::Pass);
    // meta-data/tags/ answers 404 here, which agrees with the declared "disabled".
    assert_eq!(
        outcome(&r, "options.declared.instance-metadata-tags"),
        Outcome::Pass
    );

    // Undeclared, detection does not choose cases by it: an instance with tags on and none
    // set has never been captured, and may answer meta-data/tags/ 404 too (SPEC §12.19).
    let r = run(catalogue(), config(&server.uri(), TargetOptions::default())).await;
    assert_eq!(
        r.target.detected.instance_metadata_tags,
        Some(Toggle::Disabled)
    );
    assert_eq!(r.target.effective.instance_metadata_tags, None);
    assert_eq!(must_failures(&r), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_with_an_empty_200_everywhere_cannot_be_told() {
    let (server, _imds) = model_server(profile("optional")).await;
    Mock::given(method("GET"))
        .and(path_regex("^/latest/meta-data/tags(/instance)?/?$"))
        .respond_with(ResponseTemplate::new(200).set_body_string(""))
        .with_priority(1)
        .mount(&server)
        .await;
    let mut declared_enabled = declared(&profile("optional"));
    declared_enabled.instance_metadata_tags = Some(Toggle::Enabled);
    let r = run(catalogue(), config(&server.uri(), declared_enabled)).await;
    assert_eq!(r.target.detected.instance_metadata_tags, None);
    assert_eq!(
        outcome(&r, "options.declared.instance-metadata-tags"),
        Outcome::Skip
    );
    // A non-empty listing is what proves "enabled".
    let (server, _imds) = model_server(profile("required-tags")).await;
    let r = run(catalogue(), config(&server.uri(), TargetOptions::default())).await;
    assert_eq!(
        r.target.detected.instance_metadata_tags,
        Some(Toggle::Enabled)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_disabled_is_detected_from_the_put_403_alone() {
    let (server, _imds) = model_server(profile("disabled")).await;
    // What a GET gets on a turned-off endpoint is undocumented; here it is a 404.
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("gone"))
        .with_priority(1)
        .mount(&server)
        .await;
    let r = run(catalogue(), config(&server.uri(), TargetOptions::default())).await;
    assert_eq!(r.target.detected.http_endpoint, Some(Toggle::Disabled));
    assert_eq!(must_failures(&r), Vec::<String>::new());
    assert_eq!(
        outcome(&r, "endpoint.disabled.put-forbidden"),
        Outcome::Pass
    );
    assert_eq!(outcome(&r, "endpoint.disabled.get-no-data"), Outcome::Pass);
    assert_eq!(outcome(&r, "category.instance-id.format"), Outcome::Skip);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("the token PUT was answered 403")),
        "{:?}",
        r.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_of_a_misconfigured_role_are_a_skip() {
    let (server, _imds) = model_server(profile("optional")).await;
    Mock::given(method("GET"))
        .and(path_regex("^/latest/meta-data/iam/security-credentials/[^/]+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain")
                .set_body_string(
                    "{\n  \"Code\" : \"AssumeRoleUnauthorizedAccess\",\n  \"Message\" : \"EC2 cannot assume the role imdspec-role.\",\n  \"LastUpdated\" : \"2026-11-30T12:00:00Z\"\n}",
                ),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let r = run_on(&server, "optional").await;
    assert_eq!(must_failures(&r), Vec::<String>::new());
    for id in [
        "credentials.role.code-success",
        "credentials.role.fields",
        "credentials.role.expiration-format",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Skip, "{id}");
        assert!(
            reason(&r, id).contains("AssumeRoleUnauthorizedAccess"),
            "{id}: {}",
            reason(&r, id)
        );
    }
}

async fn run_on(server: &MockServer, profile_name: &str) -> imds_conformance::report::RunResult {
    let cfg = config(&server.uri(), declared(&profile(profile_name)));
    run(catalogue(), cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tags_404_is_never_a_must_failure_of_the_declared_tags_option() {
    // The model answers meta-data/tags/instance 404 with tags off. An instance with tags on
    // and none set may answer so too (SPEC §12.19): nobody has captured it.
    let (server, _imds) = model_server(profile("optional")).await;
    let check = "options.declared.instance-metadata-tags";
    let mut declared = declared(&profile("optional"));
    declared.instance_metadata_tags = Some(Toggle::Enabled);
    let r = run(catalogue(), config(&server.uri(), declared)).await;
    assert_eq!(outcome(&r, check), Outcome::Inconclusive);
    assert!(
        reason(&r, check).contains("§12.19"),
        "{}",
        reason(&r, check)
    );
    // A declared "disabled" agrees with the 404, and the case says what it rests on.
    declared.instance_metadata_tags = Some(Toggle::Disabled);
    let r = run(catalogue(), config(&server.uri(), declared)).await;
    assert_eq!(outcome(&r, check), Outcome::Pass);
    // Undeclared, detection does not choose the tags cases by a 404.
    let r = run(catalogue(), config(&server.uri(), TargetOptions::default())).await;
    // It reports the likely value, as `imdspec probe` does, without choosing by it.
    assert_eq!(
        r.target.detected.instance_metadata_tags,
        Some(Toggle::Disabled)
    );
    assert_eq!(r.target.effective.instance_metadata_tags, None);
    assert_eq!(outcome(&r, "tags.disabled.not-found"), Outcome::Skip);
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("InstanceMetadataTags detected only as likely disabled")),
        "{:?}",
        r.notes
    );
    assert_eq!(must_failures(&r), Vec::<String>::new());
}
