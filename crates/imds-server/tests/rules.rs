//! The spec's [H] rules (`conformance/SPEC.md` §11 and the sections it cites) over real loopback
//! HTTP, in every option profile: tokens optional and required, endpoint disabled, tags on
//! and off. Plus options and content changed while running, and token expiry by ManualClock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use imds_model::{HttpTokens, Instance, ManualClock, MetadataOptions, Toggle, UnauthorizedBody};
use imds_server::ImdsServer;

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let r = req.send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

async fn get(base: &str, path: &str, token: Option<&str>) -> Reply {
    let mut req = client().get(format!("{base}{path}"));
    if let Some(t) = token {
        req = req.header("x-aws-ec2-metadata-token", t);
    }
    send(req).await
}

async fn put_token(base: &str, path: &str, ttl: Option<&str>) -> Reply {
    let mut req = client().put(format!("{base}{path}"));
    if let Some(t) = ttl {
        req = req.header("x-aws-ec2-metadata-token-ttl-seconds", t);
    }
    send(req).await
}

fn profiles() -> Vec<(&'static str, MetadataOptions)> {
    let base = MetadataOptions::default();
    vec![
        ("optional", base),
        (
            "required",
            MetadataOptions {
                http_tokens: HttpTokens::Required,
                ..base
            },
        ),
        (
            "optional+tags",
            MetadataOptions {
                instance_metadata_tags: Toggle::Enabled,
                ..base
            },
        ),
        (
            "required+tags",
            MetadataOptions {
                http_tokens: HttpTokens::Required,
                instance_metadata_tags: Toggle::Enabled,
                ..base
            },
        ),
    ]
}

/// Everything an enabled endpoint must do, whatever the token mode and tags setting.
async fn check_enabled_profile(name: &str, options: MetadataOptions, form: UnauthorizedBody) {
    let clock = manual_clock();
    let server = ImdsServer::builder()
        .options(options)
        .instance(Instance {
            unauthorized_body: form,
            ..Instance::default()
        })
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let base = server.url();
    let instance = server.imds().instance();

    // §2.1 / §11.1: token PUT works in both modes; TTL echoed; 56 chars, no trailing LF.
    let r = put_token(&base, "/latest/api/token", Some("21600")).await;
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{name}");
    assert_eq!(
        r.header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600"),
        "{name}"
    );
    assert_eq!(r.body.len(), 56, "{name}");
    assert!(!r.body.ends_with('\n'), "{name}");
    let token = r.body;

    // §2.2 / §11.3: no TTL → 400. §11.6: trailing slash and dated token paths → 403.
    assert_eq!(
        put_token(&base, "/latest/api/token", None).await.status,
        400,
        "{name}"
    );
    for path in ["/latest/api/token/", "/2021-03-23/api/token"] {
        assert_eq!(
            put_token(&base, path, Some("60")).await.status,
            403,
            "{name} {path}"
        );
    }

    // §11.8: token-bearing GET → 200, remaining TTL ≤ granted.
    let r = get(&base, "/latest/meta-data/instance-id", Some(&token)).await;
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(r.body, instance.instance_id, "{name}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{name}");
    let remaining: u32 = r
        .header("x-aws-ec2-metadata-token-ttl-seconds")
        .unwrap()
        .parse()
        .unwrap();
    assert!(remaining <= 21600, "{name}");

    // §11.9: tokenless GET: 200 when optional, 401 when required, in the instance's form (R6.1).
    let r = get(&base, "/latest/meta-data/instance-id", None).await;
    match options.http_tokens {
        HttpTokens::Optional => {
            assert_eq!(r.status, 200, "{name}");
            assert_eq!(r.body, instance.instance_id, "{name}");
        }
        HttpTokens::Required => {
            assert_eq!(r.status, 401, "{name}");
            match instance.unauthorized_body {
                UnauthorizedBody::Empty => {
                    assert_eq!(r.header("content-type"), Some("text/plain"), "{name}");
                    assert!(r.body.is_empty(), "{name}");
                }
                UnauthorizedBody::XhtmlPage => {
                    assert_eq!(r.header("content-type"), Some("text/html"), "{name}");
                    assert!(r.body.contains("401 - Unauthorized"), "{name}");
                }
            }
        }
    }

    // §2.5 / §11.11: unknown path → 404 XHTML, with the remaining TTL on token-bearing GETs.
    let r = get(&base, "/latest/meta-data/no-such-thing", Some(&token)).await;
    assert_eq!(r.status, 404, "{name}");
    assert_eq!(r.header("content-type"), Some("text/html"), "{name}");
    assert!(r.body.contains("<title>404 - Not Found</title>"), "{name}");
    assert!(
        r.header("x-aws-ec2-metadata-token-ttl-seconds").is_some(),
        "{name}"
    );

    // §11.12: both spellings of the directory give the same listing; subdirs end with '/'.
    let a = get(&base, "/latest/meta-data/", Some(&token)).await;
    let b = get(&base, "/latest/meta-data", Some(&token)).await;
    assert_eq!(a.status, 200, "{name}");
    assert_eq!(a.body, b.body, "{name}");
    let lines: Vec<&str> = a.body.lines().collect();
    for dir in ["iam/", "placement/", "public-keys/", "network/"] {
        assert!(lines.contains(&dir), "{name}: {dir} missing from {lines:?}");
    }
    assert!(lines.contains(&"instance-id"), "{name}");
    assert_eq!(
        lines.contains(&"tags/"),
        options.instance_metadata_tags.is_enabled(),
        "{name}: tags/ listed iff InstanceMetadataTags=enabled"
    );

    // §11.13: the version list.
    let r = get(&base, "/", Some(&token)).await;
    let versions: Vec<&str> = r.body.lines().collect();
    assert!(
        versions.contains(&"latest") && versions.contains(&"1.0"),
        "{name}"
    );

    // §11.14: public keys.
    let r = get(&base, "/latest/meta-data/public-keys/", Some(&token)).await;
    assert_eq!(
        r.body,
        format!("0={}", instance.public_keys[0].name),
        "{name}"
    );
    let r = get(&base, "/latest/meta-data/public-keys/0/", Some(&token)).await;
    assert_eq!(r.body, "openssh-key", "{name}");

    // §11.15: IAM role and credentials with the seven fields.
    let role = &instance.iam.as_ref().unwrap().role_name;
    let r = get(
        &base,
        "/latest/meta-data/iam/security-credentials/",
        Some(&token),
    )
    .await;
    assert_eq!(&r.body, role, "{name}");
    let r = get(
        &base,
        &format!("/latest/meta-data/iam/security-credentials/{role}"),
        Some(&token),
    )
    .await;
    assert_eq!(r.status, 200, "{name}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{name}");
    let creds: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    for field in [
        "Code",
        "LastUpdated",
        "Type",
        "AccessKeyId",
        "SecretAccessKey",
        "Token",
        "Expiration",
    ] {
        assert!(creds.get(field).is_some(), "{name}: {field} missing");
    }

    // §11.16: identity document.
    let r = get(
        &base,
        "/latest/dynamic/instance-identity/document",
        Some(&token),
    )
    .await;
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["instanceId"], instance.instance_id.as_str(), "{name}");
    assert_eq!(doc["region"], instance.placement.region.as_str(), "{name}");

    // §11.17: user data byte for byte.
    let r = get(&base, "/latest/user-data", Some(&token)).await;
    assert_eq!(
        r.body.as_bytes(),
        instance.user_data_bytes().unwrap(),
        "{name}"
    );

    // §3.10: tags only when enabled.
    let r = get(&base, "/latest/meta-data/tags/instance/Name", Some(&token)).await;
    if options.instance_metadata_tags.is_enabled() {
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.body, instance.tags["Name"], "{name}");
    } else {
        assert_eq!(r.status, 404, "{name}");
    }

    // §11.2: a token with TTL 1 is refused once its second has passed (no sleeping).
    let short = put_token(&base, "/latest/api/token", Some("1")).await.body;
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", Some(&short))
            .await
            .status,
        200,
        "{name}"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", Some(&short))
            .await
            .status,
        401,
        "{name}: expired token"
    );
    // The long-lived token is still good.
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", Some(&token))
            .await
            .status,
        200,
        "{name}"
    );
}

#[tokio::test]
async fn h_rules_hold_in_every_enabled_profile() {
    for (name, options) in profiles() {
        for form in [UnauthorizedBody::Empty, UnauthorizedBody::XhtmlPage] {
            check_enabled_profile(name, options, form).await;
        }
    }
}

#[tokio::test]
async fn endpoint_disabled_answers_403_to_everything() {
    for tokens in [HttpTokens::Optional, HttpTokens::Required] {
        let server = ImdsServer::builder()
            .options(MetadataOptions {
                http_endpoint: Toggle::Disabled,
                http_tokens: tokens,
                ..MetadataOptions::default()
            })
            .start()
            .await
            .unwrap();
        let base = server.url();
        // §1.2 [H]: the token PUT gets 403.
        assert_eq!(
            put_token(&base, "/latest/api/token", Some("60"))
                .await
                .status,
            403
        );
        let token = server.imds().issue_token(60);
        for path in ["/latest/meta-data/instance-id", "/", "/latest/user-data"] {
            assert_eq!(
                get(&base, path, None).await.status,
                403,
                "{tokens:?} {path}"
            );
            assert_eq!(
                get(&base, path, Some(&token)).await.status,
                403,
                "{tokens:?} {path} with token"
            );
        }
    }
}

#[tokio::test]
async fn options_and_content_change_while_running() {
    let server = ImdsServer::start().await.unwrap();
    let base = server.url();
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", None)
            .await
            .status,
        200
    );
    // ModifyInstanceMetadataOptions on a live instance: later requests see it at once.
    server.imds().set_options(MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    });
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", None)
            .await
            .status,
        401
    );
    let token = token(&base, 60).await;
    server.imds().set_options(MetadataOptions {
        http_endpoint: Toggle::Disabled,
        ..MetadataOptions::default()
    });
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", Some(&token))
            .await
            .status,
        403
    );
    server.imds().set_options(MetadataOptions::default());
    // Tokens issued before the change stay valid.
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", Some(&token))
            .await
            .status,
        200
    );
    let mut instance = (*server.imds().instance()).clone();
    instance.instance_id = "i-0fedcba9876543210".into();
    server.imds().set_instance(instance);
    assert_eq!(
        get(&base, "/latest/meta-data/instance-id", None).await.body,
        "i-0fedcba9876543210"
    );
}

#[tokio::test]
async fn tokens_from_another_server_are_refused() {
    // Each server draws its own key from the OS RNG: a token is bound to its instance.
    let clock: Arc<ManualClock> = manual_clock();
    let a = ImdsServer::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let b = ImdsServer::builder().clock(clock).start().await.unwrap();
    let t = token(&a.url(), 60).await;
    assert_eq!(
        get(&a.url(), "/latest/meta-data/instance-id", Some(&t))
            .await
            .status,
        200
    );
    assert_eq!(
        get(&b.url(), "/latest/meta-data/instance-id", Some(&t))
            .await
            .status,
        401
    );
}
