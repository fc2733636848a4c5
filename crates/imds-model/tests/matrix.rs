//! The status of every request in the matrix HttpTokens × HttpEndpoint × token state ×
//! method × path kind, against a table written from the spec. The table is read top-down and
//! the first matching row wins; `Any` matches everything.

mod support;

use std::time::Duration;

use imds_model::{HttpTokens, Instance, MetadataOptions, Outcome, Toggle};
use support::Fixture;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    None,
    Valid,
    Expired,
    Invalid,
    OtherKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PathKind {
    Leaf,
    Listing,
    Unknown,
    TokenPath,
}

#[derive(Clone, Copy, Debug)]
enum M<T> {
    Any,
    Is(T),
    Not(T),
}

impl<T: PartialEq> M<T> {
    fn matches(&self, v: &T) -> bool {
        match self {
            M::Any => true,
            M::Is(x) => x == v,
            M::Not(x) => x != v,
        }
    }
}

use M::{Any, Is, Not};

/// One table row: when all fields match, the status is `status`.
struct Row {
    tokens: M<HttpTokens>,
    endpoint: M<Toggle>,
    token: M<Token>,
    method: M<&'static str>,
    path: M<PathKind>,
    status: u16,
    /// Also expect the remaining-TTL header (spec §2.5).
    ttl_header: bool,
    spec: &'static str,
}

// One argument per table column keeps each row on one readable line.
#[allow(clippy::too_many_arguments)]
const fn row(
    tokens: M<HttpTokens>,
    endpoint: M<Toggle>,
    token: M<Token>,
    method: M<&'static str>,
    path: M<PathKind>,
    status: u16,
    ttl_header: bool,
    spec: &'static str,
) -> Row {
    Row {
        tokens,
        endpoint,
        token,
        method,
        path,
        status,
        ttl_header,
        spec,
    }
}

use PathKind::{Leaf, Listing, TokenPath, Unknown};

/// The table. `method` rows for GET/HEAD are written as "not one of the others".
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // HttpEndpoint=disabled: 403 [H] for the token PUT (§1.2, §2.2); for everything else the
    // spec has no answer (§12.6 [L]) and the model also says 403.
    row(Any, Is(Toggle::Disabled), Any, Any, Any, 403, false, "§1.2 [H], §12.6 [L]"),
    // Token path. PUT with a good TTL works in both modes whatever token header is sent (§2.1 [H]).
    row(Any, Any, Any, Is("PUT"), Is(TokenPath), 200, false, "§2.1 [H]"),
    // Any other method on the token path: 405 (GET §2.2 [M] GRUBY-421; others §12.5 [L]).
    row(Any, Any, Any, Any, Is(TokenPath), 405, false, "§2.2 [M], §12.5 [L]"),
    // Metadata paths allow GET and HEAD only (§2.3 [H]); the status for others is §12.5 [L].
    row(Any, Any, Any, Is("PUT"), Any, 405, false, "§2.3 [H], §12.5 [L]"),
    row(Any, Any, Any, Is("POST"), Any, 405, false, "§2.3 [H], §12.5 [L]"),
    row(Any, Any, Any, Is("DELETE"), Any, 405, false, "§2.3 [H], §12.5 [L]"),
    // GET/HEAD. A bad token is 401 in both modes: required [H] §2.4; optional [M/L] §2.4, §12.2.
    row(Any, Any, Is(Token::Expired), Any, Any, 401, false, "§2.4 [H]/[M]"),
    row(Any, Any, Is(Token::Invalid), Any, Any, 401, false, "§2.4 [H]/[M]"),
    row(Any, Any, Is(Token::OtherKey), Any, Any, 401, false, "§2.3 [H] rejected, §12.3 [L] 401"),
    // No token in required mode: 401 [H] §2.4, also for unknown paths (§12.4 [L]: 401 before 404).
    row(Is(HttpTokens::Required), Any, Is(Token::None), Any, Any, 401, false, "§2.4 [H], §12.4 [L]"),
    // Unknown path: 404 [H] §3.5; with a valid token it carries the remaining TTL [H] §2.5.
    row(Any, Any, Is(Token::Valid), Any, Is(Unknown), 404, true, "§3.5 [H], §2.5 [H]"),
    row(Any, Any, Any, Any, Is(Unknown), 404, false, "§3.5 [H]"),
    // Leaf or listing with a valid token: 200 plus the remaining TTL [H] §2.4, §2.5.
    row(Any, Any, Is(Token::Valid), Any, Not(Unknown), 200, true, "§2.4 [H], §2.5 [H]"),
    // Tokenless in optional mode: IMDSv1, 200 [H] §2.4; no TTL header (§2.5 [L]).
    row(Is(HttpTokens::Optional), Any, Is(Token::None), Any, Not(Unknown), 200, false, "§2.4 [H]"),
];

fn expected(
    tokens: HttpTokens,
    endpoint: Toggle,
    token: Token,
    method: &'static str,
    path: PathKind,
) -> &'static Row {
    TABLE
        .iter()
        .find(|r| {
            r.tokens.matches(&tokens)
                && r.endpoint.matches(&endpoint)
                && r.token.matches(&token)
                && r.method.matches(&method)
                && r.path.matches(&path)
        })
        .unwrap_or_else(|| {
            panic!("table has no row for {tokens:?} {endpoint:?} {token:?} {method} {path:?}")
        })
}

#[test]
fn status_matrix_matches_the_spec_table() {
    let mut checked = 0;
    let mut rows_used = vec![0usize; TABLE.len()];
    for tokens in [HttpTokens::Optional, HttpTokens::Required] {
        for endpoint in [Toggle::Enabled, Toggle::Disabled] {
            let options = MetadataOptions {
                http_tokens: tokens,
                http_endpoint: endpoint,
                ..MetadataOptions::default()
            };
            for token in [
                Token::None,
                Token::Valid,
                Token::Expired,
                Token::Invalid,
                Token::OtherKey,
            ] {
                let f = Fixture::with_key(options, Instance::default(), [3; 32]);
                let other = Fixture::with_key(options, Instance::default(), [4; 32]);
                // Tokens are minted straight from the authority, so they exist even when the
                // endpoint is disabled.
                let value = match token {
                    Token::None => None,
                    Token::Valid => Some(f.imds.issue_token(21600)),
                    Token::Expired => {
                        let t = f.imds.issue_token(1);
                        f.clock.advance(Duration::from_secs(1));
                        Some(t)
                    }
                    Token::Invalid => {
                        Some("AQAEAnot-a-real-token_but-the-right-shape-000000000000==".into())
                    }
                    Token::OtherKey => Some(other.imds.issue_token(21600)),
                };
                for method in ["GET", "HEAD", "PUT", "POST", "DELETE"] {
                    for path in [Leaf, Listing, Unknown, TokenPath] {
                        let uri = match path {
                            Leaf => "/latest/meta-data/instance-id",
                            Listing => "/latest/meta-data/",
                            Unknown => "/latest/meta-data/no-such-thing",
                            TokenPath => "/latest/api/token",
                        };
                        let mut headers = vec![("x-aws-ec2-metadata-token-ttl-seconds", "21600")];
                        if let Some(t) = &value {
                            headers.push(("x-aws-ec2-metadata-token", t.as_str()));
                        }
                        let resp = f.send(method, uri, &headers);
                        let want = expected(tokens, endpoint, token, method, path);
                        let idx = TABLE.iter().position(|r| std::ptr::eq(r, want)).unwrap();
                        rows_used[idx] += 1;
                        let case = format!(
                            "{tokens:?} {endpoint:?} token={token:?} {method} {uri} (row: {})",
                            want.spec
                        );
                        assert_eq!(resp.status().as_u16(), want.status, "{case}");
                        let has_ttl = resp
                            .headers()
                            .contains_key("x-aws-ec2-metadata-token-ttl-seconds");
                        // A successful PUT echoes the granted TTL instead (spec §2.1 [H]).
                        let put_ok = want.status == 200 && path == TokenPath;
                        assert_eq!(has_ttl, want.ttl_header || put_ok, "TTL header: {case}");
                        if want.ttl_header {
                            assert_eq!(
                                resp.headers()["x-aws-ec2-metadata-token-ttl-seconds"],
                                "21600",
                                "{case}"
                            );
                        }
                        if method == "HEAD" {
                            assert!(resp.body().is_empty(), "HEAD has no body: {case}");
                        }
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 2 * 5 * 5 * 4);
    for (r, n) in TABLE.iter().zip(&rows_used) {
        assert!(*n > 0, "table row never used: {}", r.spec);
    }
}

/// The error kinds carry the headers the spec lists (§6): a 401 in the instance's form (empty
/// `text/plain` by default, or the XHTML page), 404 XHTML `text/html`, 405 with `Allow` and
/// the "Not Allowed" reason, 403 empty `text/plain`.
#[test]
fn error_headers_follow_the_spec() {
    let required = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let f = Fixture::new(required, Instance::default());
    let r401 = f.get("/latest/meta-data/ami-id");
    assert_eq!(r401.status(), 401);
    assert_eq!(r401.headers()["content-type"], "text/plain");
    assert_eq!(r401.headers()["content-length"], "0");
    assert!(r401.body().is_empty());
    let names: Vec<&str> = r401.headers().keys().map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "content-length",
            "date",
            "server",
            "connection",
            "content-type"
        ]
    );
    let paged = Fixture::new(
        required,
        Instance {
            unauthorized_body: imds_model::UnauthorizedBody::XhtmlPage,
            ..Instance::default()
        },
    );
    for token in [None, Some("not-a-token")] {
        let headers: Vec<(&str, &str)> = token
            .map(|t| vec![("x-aws-ec2-metadata-token", t)])
            .unwrap_or_default();
        let page = paged.send("GET", "/latest/meta-data/ami-id", &headers);
        assert_eq!(page.status(), 401);
        assert_eq!(page.headers()["content-type"], "text/html");
        assert_eq!(page.headers()["content-length"], "343");
        assert!(
            std::str::from_utf8(page.body())
                .unwrap()
                .contains("<title>401 - Unauthorized</title>")
        );
    }
    let r405 = f.send("GET", "/latest/api/token", &[]);
    assert_eq!(r405.headers()["allow"], "OPTIONS, PUT");
    assert_eq!(
        r405.extensions().get::<imds_model::ReasonPhrase>(),
        Some(&imds_model::ReasonPhrase("Not Allowed"))
    );
    let r403 = f.send(
        "PUT",
        "/latest/api/token/",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "60")],
    );
    assert_eq!(r403.status(), 403);
    assert_eq!(r403.headers()["content-type"], "text/plain");
    assert_eq!(r403.headers()["content-length"], "0");
    assert_eq!(r403.headers()["server"], "EC2ws");
    for r in [&r401, &r405, &r403] {
        assert_eq!(r.headers()["server"], "EC2ws");
    }
}

/// The outcome reported alongside the response names the rule that fired.
#[test]
fn outcomes_name_the_rule() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let req = |m: &str, p: &str, h: &[(&str, &str)]| {
        let mut b = http::Request::builder().method(m).uri(p);
        for (k, v) in h {
            b = b.header(*k, *v);
        }
        f.imds.handle_with_outcome(&b.body(()).unwrap()).1
    };
    let ttl = [("x-aws-ec2-metadata-token-ttl-seconds", "60")];
    assert_eq!(req("PUT", "/latest/api/token", &ttl), Outcome::TokenIssued);
    assert_eq!(req("PUT", "/latest/api/token", &[]), Outcome::BadTtl);
    assert_eq!(
        req("PUT", "/latest/api/token/", &ttl),
        Outcome::WrongTokenPath
    );
    assert_eq!(
        req("PUT", "/2021-03-23/api/token", &ttl),
        Outcome::WrongTokenPath
    );
    assert_eq!(
        req("GET", "/latest/api/token", &[]),
        Outcome::MethodNotAllowed
    );
    assert_eq!(req("GET", "/latest/meta-data/x", &[]), Outcome::NotFound);
    assert_eq!(req("GET", "/latest/meta-data/", &[]), Outcome::Served);
    assert_eq!(
        req(
            "GET",
            "/latest/meta-data/",
            &[("x-aws-ec2-metadata-token", "x")]
        ),
        Outcome::TokenInvalid
    );
}

/// Spec §2.2: a token PUT with `Expect: 100-continue` gets 417 and no token; without the
/// header, or with another expectation value, the same PUT gets its token.
#[test]
fn token_put_with_expect_continue_is_417() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let put = |expect: Option<&str>| {
        let mut b = http::Request::builder()
            .method("PUT")
            .uri("/latest/api/token")
            .header("x-aws-ec2-metadata-token-ttl-seconds", "60");
        if let Some(e) = expect {
            b = b.header("expect", e);
        }
        f.imds.handle_with_outcome(&b.body(()).unwrap())
    };
    for value in ["100-continue", "100-Continue"] {
        let (r, o) = put(Some(value));
        assert_eq!(r.status(), 417, "{value}");
        assert_eq!(o, Outcome::ExpectationFailed);
        assert!(
            r.headers()
                .get("x-aws-ec2-metadata-token-ttl-seconds")
                .is_none()
        );
        assert_eq!(r.headers()["content-type"], "text/html");
    }
    let (r, o) = put(None);
    assert_eq!((r.status().as_u16(), o), (200, Outcome::TokenIssued));
}
