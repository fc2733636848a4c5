//! Replays every public capture of real EC2 in `conformance/captures/` against the reference
//! server over raw TCP (so header case and order are visible) and compares what the capture
//! shows. A capture the model answers differently must say so in `model_differs`, and the test
//! checks that difference is still there. The format is in `conformance/captures/README.md`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::{RawResponse, manual_clock, request};
use imds_model::{HttpTokens, Instance, MetadataOptions, Toggle, UnauthorizedBody};
use imds_server::ImdsServer;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Capture {
    source: String,
    date: String,
    shows: String,
    #[serde(default)]
    setup: Setup,
    request: CapturedRequest,
    response: CapturedResponse,
    #[serde(default)]
    model_differs: Vec<Difference>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    http_tokens: Option<String>,
    iam_role: Option<String>,
    #[serde(default)]
    extended_credentials: bool,
    instance_metadata_tags: Option<String>,
    /// The instance file's `unauthorized-body`: which of EC2's two 401 forms the capture shows.
    #[serde(default)]
    unauthorized_body: UnauthorizedBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapturedRequest {
    method: String,
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    token: bool,
    inferred: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapturedResponse {
    version: Option<String>,
    status: u16,
    reason: Option<String>,
    raw: bool,
    #[serde(default)]
    complete: bool,
    headers: Vec<String>,
    #[serde(default)]
    values: BTreeMap<String, String>,
    body: CapturedBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
enum CapturedBody {
    Exact { text: String },
    Empty,
    Token { length: usize },
    Listing { lines: Vec<String> },
    JsonObject { keys: Vec<String> },
    XhtmlError { title: String },
    NotShown,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Difference {
    part: Part,
    why: String,
}

/// The parts of an answer that are compared separately.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
enum Part {
    Status,
    Reason,
    Version,
    Headers,
    Values,
    Body,
}

fn captures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/captures")
}

fn load_all() -> Vec<(String, Capture)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(captures_dir())
        .expect("conformance/captures exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            let capture: Capture =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
            (name, capture)
        })
        .collect()
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[test]
fn every_capture_parses_and_says_where_it_is_from() {
    let dir = captures_dir();
    let others: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".toml") && n != "README.md")
        .collect();
    assert!(others.is_empty(), "stray files in captures/: {others:?}");
    let all = load_all();
    assert!(all.len() >= 10, "only {} captures", all.len());
    for (name, c) in &all {
        assert!(
            c.source.starts_with("https://"),
            "{name}: source is not a public link: {}",
            c.source
        );
        assert!(
            is_iso_date(&c.date),
            "{name}: date {:?} is not YYYY-MM-DD",
            c.date
        );
        assert!(
            c.shows.contains("SPEC §"),
            "{name}: `shows` cites no SPEC section"
        );
        assert!(
            c.request.path.starts_with('/'),
            "{name}: path must start with /"
        );
        if let Some(why) = &c.request.inferred {
            assert!(!why.trim().is_empty(), "{name}: empty `inferred`");
        }
        if c.response.raw {
            assert!(!c.response.complete, "{name}: raw already implies complete");
        }
        let mut parts = BTreeSet::new();
        for d in &c.model_differs {
            assert!(parts.insert(d.part), "{name}: {:?} listed twice", d.part);
            assert!(
                d.why.contains("SPEC §"),
                "{name}: model_differs {:?} cites no SPEC section",
                d.part
            );
        }
        // No token material is stored: token bodies are described by their length only.
        for (n, v) in &c.request.headers {
            assert!(
                !n.eq_ignore_ascii_case("x-aws-ec2-metadata-token"),
                "{name}: the request's token value {v:?} must not be stored; use token = true"
            );
        }
    }
}

fn options(setup: &Setup) -> MetadataOptions {
    let toggle = |v: &Option<String>| match v.as_deref() {
        None | Some("disabled") => Toggle::Disabled,
        Some("enabled") => Toggle::Enabled,
        Some(other) => panic!("bad toggle {other:?}"),
    };
    MetadataOptions {
        http_tokens: match setup.http_tokens.as_deref() {
            None | Some("optional") => HttpTokens::Optional,
            Some("required") => HttpTokens::Required,
            Some(other) => panic!("bad http_tokens {other:?}"),
        },
        instance_metadata_tags: toggle(&setup.instance_metadata_tags),
        ..Default::default()
    }
}

fn instance(setup: &Setup) -> Instance {
    let mut instance = Instance::default();
    let iam = instance
        .iam
        .as_mut()
        .expect("the default instance has a role");
    if let Some(role) = &setup.iam_role {
        iam.role_name = role.clone();
    }
    iam.extended_credentials = setup.extended_credentials;
    instance.unauthorized_body = setup.unauthorized_body;
    instance
}

async fn fresh_token(addr: SocketAddr) -> String {
    let r = request(
        addr,
        "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n\
         X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n",
    )
    .await;
    assert_eq!(r.status(), 200, "token PUT: {r:?}");
    String::from_utf8(r.body).unwrap()
}

/// The request as the capture sent it, header order and case kept.
fn request_text(req: &CapturedRequest, token: Option<&str>) -> String {
    let mut text = format!("{} {} HTTP/1.1\r\n", req.method, req.path);
    if !req
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        text.push_str("Host: 169.254.169.254\r\n");
    }
    for (n, v) in &req.headers {
        text.push_str(&format!("{n}: {v}\r\n"));
    }
    if let Some(t) = token {
        text.push_str(&format!("X-aws-ec2-metadata-token: {t}\r\n"));
    }
    text.push_str("\r\n");
    text
}

/// Compares one answer with its capture; each differing part with a description.
fn compare(c: &CapturedResponse, got: &RawResponse) -> BTreeMap<Part, String> {
    let mut diff = BTreeMap::new();
    let mut line = got.status_line.splitn(3, ' ');
    let (version, _, reason) = (
        line.next().unwrap_or(""),
        line.next(),
        line.next().unwrap_or(""),
    );
    if got.status() != c.status {
        diff.insert(
            Part::Status,
            format!("status {} (capture {})", got.status(), c.status),
        );
    }
    if let Some(want) = &c.version
        && version != want
    {
        diff.insert(Part::Version, format!("{version} (capture {want})"));
    }
    if let Some(want) = &c.reason
        && reason != want
    {
        diff.insert(
            Part::Reason,
            format!("reason {reason:?} (capture {want:?})"),
        );
    }
    let names: Vec<&str> = got.headers.iter().map(|(n, _)| n.as_str()).collect();
    let lower =
        |v: &[&str]| -> BTreeSet<String> { v.iter().map(|n| n.to_ascii_lowercase()).collect() };
    let want: Vec<&str> = c.headers.iter().map(String::as_str).collect();
    let headers_ok = if c.raw {
        names == want
    } else if c.complete {
        lower(&names) == lower(&want)
    } else {
        lower(&want).is_subset(&lower(&names))
    };
    if !headers_ok {
        diff.insert(
            Part::Headers,
            format!("header names {names:?} (capture {want:?})"),
        );
    }
    let bad_values: Vec<String> = c
        .values
        .iter()
        .filter(|(n, v)| got.header(n) != Some(v.as_str()))
        .map(|(n, v)| format!("{n}: {:?} (capture {v:?})", got.header(n)))
        .collect();
    if !bad_values.is_empty() {
        diff.insert(Part::Values, bad_values.join("; "));
    }
    let body = &got.body;
    let text = String::from_utf8_lossy(body);
    let body_problem = match &c.body {
        CapturedBody::Exact { text: want } => {
            (body != want.as_bytes()).then(|| format!("body {text:?} (capture {want:?})"))
        }
        CapturedBody::Empty => (!body.is_empty()).then(|| format!("body {text:?} is not empty")),
        CapturedBody::Token { length } => (body.len() != *length
            || !body
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(b)))
        .then(|| format!("token {text:?} is not {length} token characters")),
        CapturedBody::Listing { lines } => {
            let want = lines.join("\n");
            (text != want).then(|| format!("listing {text:?} (capture {want:?})"))
        }
        CapturedBody::JsonObject { keys } => {
            match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Object(map)) => {
                    let missing: Vec<&String> =
                        keys.iter().filter(|k| !map.contains_key(*k)).collect();
                    (!missing.is_empty()).then(|| format!("JSON object lacks {missing:?}"))
                }
                _ => Some(format!("body {text:?} is not a JSON object")),
            }
        }
        CapturedBody::XhtmlError { title } => (!text.starts_with("<?xml")
            || !text.contains(&format!("<title>{title}</title>")))
        .then(|| format!("body {text:?} is not the XHTML page titled {title:?}")),
        CapturedBody::NotShown => None,
    };
    if let Some(p) = body_problem {
        diff.insert(Part::Body, p);
    }
    diff
}

#[tokio::test]
async fn every_capture_replays_against_the_reference_server() {
    let mut failures = Vec::new();
    for (name, c) in load_all() {
        let server = ImdsServer::builder()
            .options(options(&c.setup))
            .instance(instance(&c.setup))
            .clock(manual_clock())
            .start()
            .await
            .unwrap();
        let token = if c.request.token {
            Some(fresh_token(server.addr()).await)
        } else {
            None
        };
        let got = request(server.addr(), &request_text(&c.request, token.as_deref())).await;
        let diff = compare(&c.response, &got);
        let declared: BTreeSet<Part> = c.model_differs.iter().map(|d| d.part).collect();
        for (part, what) in &diff {
            if !declared.contains(part) {
                failures.push(format!("{name}: {part:?} differs: {what}"));
            }
        }
        for part in &declared {
            if !diff.contains_key(part) {
                failures.push(format!(
                    "{name}: model_differs lists {part:?} but the server now matches the \
                     capture; remove the note"
                ));
            }
        }
        server.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The comparison itself catches a wrong answer (so a pass above means something).
#[test]
fn comparison_notices_each_kind_of_difference() {
    let want: CapturedResponse = toml::from_str(
        r#"
        version = "HTTP/1.1"
        status = 403
        reason = "Forbidden"
        raw = true
        headers = ["Content-Length", "Content-Type", "Date", "Server"]
        values = { "Content-Length" = "0", "Server" = "EC2ws" }
        body = { kind = "empty" }
        "#,
    )
    .unwrap();
    let good = RawResponse {
        status_line: "HTTP/1.1 403 Forbidden".into(),
        headers: [
            "Content-Length: 0",
            "Content-Type: text/plain",
            "Date: x",
            "Server: EC2ws",
        ]
        .iter()
        .map(|l| {
            let (n, v) = l.split_once(": ").unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect(),
        body: Vec::new(),
    };
    assert!(compare(&want, &good).is_empty());
    let mut lower = RawResponse {
        status_line: "HTTP/1.0 403 Nope".into(),
        headers: good
            .headers
            .iter()
            .rev()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        body: b"x".to_vec(),
    };
    lower.headers[0].1 = "nginx".into();
    let diff = compare(&want, &lower);
    assert_eq!(
        diff.keys().copied().collect::<Vec<_>>(),
        [
            Part::Reason,
            Part::Version,
            Part::Headers,
            Part::Values,
            Part::Body
        ]
    );
}
