//! insta snapshots of the whole default tree (every path reachable from `/latest/`, with its
//! body) and of the error responses, stored under the workspace's `snapshots/model/`.
//!
//! The clock is a `ManualClock` and the token key is fixed, so nothing needs redacting: the
//! credential times and tokens are the same on every run.

mod support;

use std::fmt::Write as _;

use imds_model::{HttpTokens, Instance, MetadataOptions, ReasonPhrase, Toggle};
use support::{Fixture, walk};

/// Runs `f` with snapshots going to `<workspace>/snapshots/model/` (relative to this file).
fn in_snapshot_dir(f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../snapshots/model");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.bind(f);
}

/// One exchange, written out: request line, status, every header (sorted), then the body.
fn describe(out: &mut String, request: &str, resp: &http::Response<bytes::Bytes>) {
    let _ = writeln!(out, "=== {request}");
    let reason = resp
        .extensions()
        .get::<ReasonPhrase>()
        .map(|r| r.0)
        .or(resp.status().canonical_reason())
        .unwrap_or("");
    let _ = writeln!(out, "{} {reason}", resp.status().as_u16());
    let mut headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    headers.sort();
    for (k, v) in headers {
        let _ = writeln!(out, "{k}: {v}");
    }
    body(out, resp.body());
}

/// The body as text, then a marker that shows whether it ended with a line feed.
fn body(out: &mut String, bytes: &[u8]) {
    out.push('\n');
    let text = String::from_utf8_lossy(bytes);
    out.push_str(&text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
    let end = if bytes.is_empty() {
        "(empty body)"
    } else if bytes.ends_with(b"\n") {
        "(ends with LF)"
    } else {
        "(no final LF)"
    };
    let _ = writeln!(out, "--- {end}\n");
}

/// Everything reachable from `/latest/` under `options`, plus `/` and `/latest/` themselves:
/// one block per path, headers in full for `/`, listings with status and length.
fn tree_dump(options: MetadataOptions) -> String {
    let f = Fixture::new(options, Instance::default());
    let found = walk(&f, "latest");
    let mut out = String::new();
    describe(&mut out, "GET /", &f.get("/"));
    for dir in found.dirs.keys() {
        let path = if dir.is_empty() {
            "/latest/".to_owned()
        } else {
            format!("/latest/{dir}/")
        };
        describe(&mut out, &format!("GET {path}"), &f.get(&path));
    }
    for leaf in found.leaves.keys() {
        let path = format!("/latest/{leaf}");
        describe(&mut out, &format!("GET {path}"), &f.get(&path));
    }
    out
}

#[test]
fn default_tree() {
    let dump = tree_dump(MetadataOptions::default());
    in_snapshot_dir(|| insta::assert_snapshot!("tree_default", dump));
}

#[test]
fn tree_with_tags_enabled() {
    let dump = tree_dump(MetadataOptions {
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    });
    in_snapshot_dir(|| insta::assert_snapshot!("tree_tags_enabled", dump));
}

/// The token exchange and every error kind, with all headers.
#[test]
fn token_and_error_responses() {
    let required = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let f = Fixture::new(required, Instance::default());
    let mut out = String::new();
    let mut ex = |title: &str, f: &Fixture, method: &str, path: &str, headers: &[(&str, &str)]| {
        let mut line = format!("{method} {path}");
        for (k, v) in headers {
            let _ = write!(line, " [{k}: {v}]");
        }
        let _ = writeln!(out, "##### {title}");
        describe(&mut out, &line, &f.send(method, path, headers));
    };
    let ttl = ("x-aws-ec2-metadata-token-ttl-seconds", "21600");
    ex("200 token PUT", &f, "PUT", "/latest/api/token", &[ttl]);
    let token = f.imds.issue_token(21600);
    let tok = ("x-aws-ec2-metadata-token", token.as_str());
    ex(
        "200 leaf GET with token",
        &f,
        "GET",
        "/latest/meta-data/instance-id",
        &[tok],
    );
    ex(
        "200 HEAD with token",
        &f,
        "HEAD",
        "/latest/meta-data/instance-id",
        &[tok],
    );
    ex(
        "400 token PUT without TTL",
        &f,
        "PUT",
        "/latest/api/token",
        &[],
    );
    ex(
        "400 token PUT with TTL 21601",
        &f,
        "PUT",
        "/latest/api/token",
        &[("x-aws-ec2-metadata-token-ttl-seconds", "21601")],
    );
    ex(
        "401 no token in required mode",
        &f,
        "GET",
        "/latest/meta-data/instance-id",
        &[],
    );
    ex(
        "401 invalid token",
        &f,
        "GET",
        "/latest/meta-data/instance-id",
        &[("x-aws-ec2-metadata-token", "not-a-token")],
    );
    ex(
        "403 token PUT with trailing slash",
        &f,
        "PUT",
        "/latest/api/token/",
        &[ttl],
    );
    ex(
        "403 token PUT on a dated version",
        &f,
        "PUT",
        "/2021-03-23/api/token",
        &[ttl],
    );
    ex(
        "403 token PUT with X-Forwarded-For",
        &f,
        "PUT",
        "/latest/api/token",
        &[ttl, ("x-forwarded-for", "10.0.0.7")],
    );
    ex(
        "404 unknown path with token",
        &f,
        "GET",
        "/latest/meta-data/no-such-thing",
        &[tok],
    );
    ex(
        "405 GET on the token path",
        &f,
        "GET",
        "/latest/api/token",
        &[],
    );
    ex(
        "405 POST on a metadata path",
        &f,
        "POST",
        "/latest/meta-data/instance-id",
        &[tok],
    );
    let off = Fixture::new(
        MetadataOptions {
            http_endpoint: Toggle::Disabled,
            ..MetadataOptions::default()
        },
        Instance::default(),
    );
    ex(
        "403 HttpEndpoint=disabled",
        &off,
        "PUT",
        "/latest/api/token",
        &[ttl],
    );
    in_snapshot_dir(|| insta::assert_snapshot!("responses", out));
}

/// Dated versions: the listings a 2009 client and a 2016 client see.
#[test]
fn dated_version_listings() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let mut out = String::new();
    for version in ["1.0", "2009-04-04", "2016-09-02", "2021-03-23"] {
        for dir in ["", "meta-data/", "dynamic/"] {
            let path = format!("/{version}/{dir}");
            describe(&mut out, &format!("GET {path}"), &f.get(&path));
        }
    }
    in_snapshot_dir(|| insta::assert_snapshot!("dated_versions", out));
}

/// Every snapshot this file writes; `snapshots/model/` must hold exactly these.
const SNAPSHOTS: &[&str] = &[
    "dated_versions",
    "responses",
    "tree_default",
    "tree_tags_enabled",
];

/// Stale-snapshot guard. `cargo insta test --unreferenced=reject` only walks the crate's own
/// directory, so it cannot see `snapshots/model/`; this test does the same job in plain
/// `cargo test` (and CI): a renamed or removed snapshot test leaves a file that fails here.
#[test]
fn no_unreferenced_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../snapshots/model");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.strip_suffix(".snap").map(str::to_owned))
        .collect();
    on_disk.sort();
    assert_eq!(
        on_disk, SNAPSHOTS,
        "snapshots/model/ holds files no test writes (or misses some)"
    );
}
