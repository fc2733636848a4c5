//! Token properties (issue 2; spec §2.1–§2.5): a token is accepted iff this authority issued
//! it and its age is under its TTL, and any change to its text or bytes is rejected.

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use imds_model::token::TOKEN_LEN;
use imds_model::{
    HttpTokens, Instance, MetadataOptions, Timestamp, TokenAuthority, TokenCheck, TokenKey,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use support::{Fixture, START};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x1d5_0001),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/tokens.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Clock advances in ms, concentrated around the TTL boundary but covering the whole range.
fn advance_for(ttl: u32) -> impl Strategy<Value = u64> {
    let boundary = u64::from(ttl) * 1000;
    prop_oneof![
        (boundary.saturating_sub(2000)..=boundary + 2000),
        (0..=boundary * 2),
        Just(boundary - 1),
        Just(boundary),
    ]
}

fn ttl_and_advance() -> impl Strategy<Value = (u32, u64)> {
    (1u32..=21600).prop_flat_map(|ttl| (Just(ttl), advance_for(ttl)))
}

fn required() -> MetadataOptions {
    MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    }
}

fn get_with(f: &Fixture, token: &[u8]) -> Option<http::Response<bytes::Bytes>> {
    let value = http::HeaderValue::from_bytes(token).ok()?;
    let req = http::Request::get("/latest/meta-data/instance-id")
        .header("x-aws-ec2-metadata-token", value)
        .body(())
        .expect("valid request");
    Some(f.imds.handle(&req))
}

proptest! {
    #![proptest_config(config(256))]

    /// Accepted iff issued here and age < TTL; the remaining TTL counts down in whole seconds.
    #[test]
    fn accepted_iff_issued_here_and_younger_than_ttl(
        (ttl, advance_ms) in ttl_and_advance(),
        key in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        start_ms in 0u64..=4_000_000_000_000,
    ) {
        prop_assume!(key != other);
        let here = TokenAuthority::new(&TokenKey::new(key));
        let elsewhere = TokenAuthority::new(&TokenKey::new(other));
        let issued_at = Timestamp(start_ms);
        let issued = here.issue(issued_at, ttl);
        prop_assert_eq!(issued.ttl, ttl);
        prop_assert_eq!(issued.token.len(), TOKEN_LEN);
        let now = Timestamp(start_ms + advance_ms);
        let expected = if advance_ms < u64::from(ttl) * 1000 {
            TokenCheck::Valid { remaining: ttl - (advance_ms / 1000) as u32 }
        } else {
            TokenCheck::Expired
        };
        prop_assert_eq!(here.check(&issued.token, now), expected);
        // Another instance (another key) never accepts it, at any age.
        prop_assert_eq!(elsewhere.check(&issued.token, now), TokenCheck::Invalid);
        prop_assert_eq!(elsewhere.check(&issued.token, issued_at), TokenCheck::Invalid);
    }

    /// The same property through `Model::handle`, in required mode: 200 with the remaining TTL
    /// header before expiry, 401 from the TTL-th second on (spec §2.4, §2.5, §11 item 2).
    #[test]
    fn handle_enforces_expiry((ttl, advance_ms) in ttl_and_advance()) {
        let f = Fixture::new(required(), Instance::default());
        let put = f.send(
            "PUT",
            "/latest/api/token",
            &[("x-aws-ec2-metadata-token-ttl-seconds", &ttl.to_string())],
        );
        prop_assert_eq!(put.status(), 200);
        let echoed = put.headers()["x-aws-ec2-metadata-token-ttl-seconds"].to_str().unwrap().to_owned();
        prop_assert_eq!(echoed, ttl.to_string());
        let token = put.body().clone();
        f.clock.advance(Duration::from_millis(advance_ms));
        let resp = get_with(&f, &token).unwrap();
        if advance_ms < u64::from(ttl) * 1000 {
            prop_assert_eq!(resp.status(), 200);
            let remaining = ttl - (advance_ms / 1000) as u32;
            prop_assert_eq!(
                resp.headers()["x-aws-ec2-metadata-token-ttl-seconds"].to_str().unwrap(),
                remaining.to_string()
            );
        } else {
            prop_assert_eq!(resp.status(), 401);
            prop_assert!(resp.headers().get("x-aws-ec2-metadata-token-ttl-seconds").is_none());
        }
    }

    /// Flipping any one bit of the token text is rejected.
    #[test]
    fn any_bit_flip_in_the_text_is_rejected(
        ttl in 1u32..=21600,
        pos in 0usize..TOKEN_LEN,
        bit in 0u8..8,
    ) {
        let f = Fixture::new(required(), Instance::default());
        let token = f.imds.issue_token(ttl);
        let mut bytes = token.into_bytes();
        bytes[pos] ^= 1 << bit;
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let authority = TokenAuthority::new(&TokenKey::new([9; 32]));
            prop_assert_eq!(authority.check(text, START), TokenCheck::Invalid);
        }
        // A flip that makes the header value illegal never reaches the model at all.
        if let Some(resp) = get_with(&f, &bytes) {
            prop_assert_eq!(resp.status(), 401);
        }
    }

    /// Flipping any one bit of the decoded bytes (and re-encoding) is rejected.
    #[test]
    fn any_bit_flip_in_the_bytes_is_rejected(
        ttl in 1u32..=21600,
        pos in 0usize..40,
        bit in 0u8..8,
    ) {
        let f = Fixture::new(MetadataOptions::default(), Instance::default());
        let token = f.imds.issue_token(ttl);
        let mut raw = URL_SAFE.decode(&token).unwrap();
        prop_assert_eq!(raw.len(), 40);
        raw[pos] ^= 1 << bit;
        let forged = URL_SAFE.encode(&raw);
        prop_assert_eq!(forged.len(), TOKEN_LEN);
        let resp = get_with(&f, forged.as_bytes()).unwrap();
        prop_assert_eq!(resp.status(), 401);
    }

    /// Cutting characters off, or adding any, is rejected.
    #[test]
    fn truncation_and_extension_are_rejected(
        ttl in 1u32..=21600,
        cut in 1usize..=TOKEN_LEN,
        extra in "[A-Za-z0-9_=-]{1,8}",
    ) {
        let f = Fixture::new(required(), Instance::default());
        let token = f.imds.issue_token(ttl);
        let authority = TokenAuthority::new(&TokenKey::new([9; 32]));
        let fresh = matches!(authority.check(&token, START), TokenCheck::Valid { .. });
        prop_assert!(fresh, "the untouched token must be valid");
        let short = &token[..TOKEN_LEN - cut];
        prop_assert_eq!(authority.check(short, START), TokenCheck::Invalid);
        let long = format!("{token}{extra}");
        prop_assert_eq!(authority.check(&long, START), TokenCheck::Invalid);
        let front = format!("{extra}{token}");
        prop_assert_eq!(authority.check(&front, START), TokenCheck::Invalid);
        if !short.is_empty() {
            prop_assert_eq!(get_with(&f, short.as_bytes()).unwrap().status(), 401);
        }
        prop_assert_eq!(get_with(&f, long.as_bytes()).unwrap().status(), 401);
    }
}

/// Tokens issued by one `Model` are not accepted by another with a different key (spec §2.3).
#[test]
fn other_instance_tokens_get_401_in_both_modes() {
    for tokens in [HttpTokens::Optional, HttpTokens::Required] {
        let opts = MetadataOptions {
            http_tokens: tokens,
            ..MetadataOptions::default()
        };
        let a = Fixture::with_key(opts, Instance::default(), [1; 32]);
        let b = Fixture::with_key(opts, Instance::default(), [2; 32]);
        let from_b = b.imds.issue_token(21600);
        assert_eq!(get_with(&a, from_b.as_bytes()).unwrap().status(), 401);
        let from_a = a.imds.issue_token(21600);
        assert_eq!(get_with(&a, from_a.as_bytes()).unwrap().status(), 200);
    }
}

/// Nothing is stored per token: a fresh `Model` with the same key accepts an earlier token
/// (the MAC carries everything), and many tokens stay valid side by side (spec §2.3).
#[test]
fn tokens_are_stateless_and_unlimited() {
    let a = Fixture::with_key(required(), Instance::default(), [5; 32]);
    let tokens: Vec<String> = (0..1000).map(|_| a.imds.issue_token(60)).collect();
    let distinct: std::collections::BTreeSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), tokens.len());
    let b = Fixture::with_key(required(), Instance::default(), [5; 32]);
    for t in tokens.iter().step_by(97) {
        assert_eq!(get_with(&b, t.as_bytes()).unwrap().status(), 200);
        assert_eq!(get_with(&a, t.as_bytes()).unwrap().status(), 200);
    }
}

/// Tokens look like EC2's: 56 characters of URL-safe base64 with `=` padding (spec §2.1 [M]).
#[test]
fn token_shape_matches_ec2() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    for ttl in [1, 300, 21600] {
        let t = f.imds.issue_token(ttl);
        assert_eq!(t.len(), 56);
        assert!(t.starts_with("AQAEA"), "{t}");
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(&b))
        );
    }
}
