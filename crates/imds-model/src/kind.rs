//! What kind of request this is: the one place that decides it.
//!
//! The model answers by this kind, and the server (faults, hop limit, journal), the
//! conformance runner and its redactor ask the same function, so a request that the model
//! treats as a token request is one everywhere else too.

use http::Method;

use crate::parse::{PathRef, parse_path_ref};
use crate::version::Version;

/// The kind of an IMDS request, from its method and path alone.
///
/// Paths are read as the model reads them ([`crate::parse::parse_path`]): the query is
/// dropped and repeated slashes collapse, so `/latest//api/token?x` is the token path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `PUT /latest/api/token`: a token request (`SPEC.md` §2.1; its refusals §2.2).
    TokenPut,
    /// `PUT` on a token path that is not the token path: with a trailing slash, or under a
    /// dated version instead of `latest` (403, `SPEC.md` §2.2 R2.2.4 and R2.2.6).
    MisplacedTokenPut,
    /// Any other method on `/latest/api/token` (with or without a trailing slash): `OPTIONS`
    /// answers 200, the rest 405 with `Allow: OPTIONS, PUT` (`SPEC.md` §2.2, §12.5).
    TokenPathOther,
    /// `GET` or `HEAD` on anything else: a metadata read, subject to tokens (`SPEC.md`
    /// §2.3, §2.4) and answered from the path tree or 404 (§3).
    MetadataRead,
    /// Any other method on anything else: 405 with `Allow: GET, HEAD` (`SPEC.md` §12.5).
    Other,
}

impl RequestKind {
    /// True for a `PUT` the model takes as asking for a token, whether it issues one
    /// ([`RequestKind::TokenPut`]) or refuses the path ([`RequestKind::MisplacedTokenPut`]).
    pub fn is_token_request(self) -> bool {
        matches!(self, RequestKind::TokenPut | RequestKind::MisplacedTokenPut)
    }
}

/// Classifies a request by its method and request target (path, optionally with a query).
///
/// Methods are case-sensitive as in HTTP: `put` is not `PUT`. A target the model cannot
/// parse (not absolute, too deep, `..`) is no token path: a metadata read for `GET`/`HEAD`
/// (answered 404), [`RequestKind::Other`] for the rest.
pub fn classify(method: &str, target: &str) -> RequestKind {
    // Every token path has a `token` segment; most requests are skipped without a parse.
    let path = if target.contains("token") {
        parse_path_ref(target).ok()
    } else {
        None
    };
    classify_parsed(method, path.as_ref())
}

/// [`classify`] for a path the service has already parsed.
pub(crate) fn classify_parsed(method: &str, path: Option<&PathRef<'_>>) -> RequestKind {
    let put = method == Method::PUT.as_str();
    match path.and_then(token_path) {
        Some(TokenPath::Latest) if put => RequestKind::TokenPut,
        Some(TokenPath::LatestSlash | TokenPath::Dated) if put => RequestKind::MisplacedTokenPut,
        Some(TokenPath::Latest | TokenPath::LatestSlash) => RequestKind::TokenPathOther,
        // Only a PUT makes a dated token path special; a GET there is a read that finds nothing.
        Some(TokenPath::Dated) | None => {
            if method == Method::GET.as_str() || method == Method::HEAD.as_str() {
                RequestKind::MetadataRead
            } else {
                RequestKind::Other
            }
        }
    }
}

/// Which token path a path is, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenPath {
    /// `/latest/api/token`.
    Latest,
    /// `/latest/api/token/`.
    LatestSlash,
    /// `/<dated version>/api/token`, with or without a trailing slash.
    Dated,
}

fn token_path(path: &PathRef<'_>) -> Option<TokenPath> {
    let mut segments = path.segments();
    let (Some(version), Some("api"), Some("token"), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    if version == "latest" {
        Some(if path.trailing_slash {
            TokenPath::LatestSlash
        } else {
            TokenPath::Latest
        })
    } else {
        Version::parse(version).map(|_| TokenPath::Dated)
    }
}

/// Request headers whose values are secrets: the IMDSv2 token and the usual credentials.
/// Every journal and report redacts these (the server's journal, the runner's exchanges).
pub const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-amz-security-token",
    "x-aws-ec2-metadata-token",
];

/// True when a header of this name (any letter case) carries a secret.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_paths() {
        use RequestKind::*;
        let cases = [
            ("PUT", "/latest/api/token", TokenPut),
            ("PUT", "/latest/api/token?x=1", TokenPut),
            ("PUT", "//latest//api/token", TokenPut),
            ("PUT", "/latest/api/token/", MisplacedTokenPut),
            ("PUT", "/2021-03-23/api/token", MisplacedTokenPut),
            ("PUT", "/1.0/api/token/", MisplacedTokenPut),
            ("PUT", "/foo/api/token", Other),
            ("PUT", "/latest/api/token/x", Other),
            ("PUT", "/latest/meta-data/", Other),
            // Methods are case-sensitive: `put` is an extension method, not a token request.
            ("put", "/latest/api/token", TokenPathOther),
            ("GET", "/latest/api/token", TokenPathOther),
            ("OPTIONS", "/latest/api/token/", TokenPathOther),
            ("DELETE", "/latest/api/token", TokenPathOther),
            ("GET", "/2021-03-23/api/token", MetadataRead),
            ("HEAD", "/foo/api/token", MetadataRead),
            ("GET", "/latest/meta-data/", MetadataRead),
            ("GET", "latest/api/token", MetadataRead),
            ("POST", "/latest/../api/token", Other),
            ("OPTIONS", "/2021-03-23/api/token", Other),
        ];
        for (method, path, want) in cases {
            assert_eq!(classify(method, path), want, "{method} {path}");
        }
    }

    #[test]
    fn token_requests() {
        assert!(classify("PUT", "/latest/api/token").is_token_request());
        assert!(classify("PUT", "/2009-04-04/api/token").is_token_request());
        assert!(!classify("GET", "/latest/api/token").is_token_request());
    }
}
