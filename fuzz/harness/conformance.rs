//! Fuzz entry points over `imds-conformance`'s parsers and response evaluation.
//!
//! Compiled into the cargo-fuzz targets (`response_eval`, `case_catalogue`) and into
//! `crates/imds-conformance/tests/fuzz_seeds.rs`, so a committed seed checks exactly what the
//! fuzzer checks. (The runner has no listing parser of its own: it uses the model's
//! `parse_listing`, which the `listing_body` target covers.)
#![allow(dead_code)] // each fuzz target uses one entry point

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use imds_conformance::catalogue::{CaseBody, Step};
use imds_conformance::client::Response;
use imds_conformance::eval;
use imds_conformance::redact::Redactor;
use imds_conformance::runner::Recorder;
use imds_conformance::{Catalogue, Expectations};
use imds_model::{
    Instance, MetadataOptions, Snapshot, Timestamp, Toggle, TokenAuthority, TokenKey,
};

/// A fuzz entry point: raw input in, panic on a broken invariant.
pub type Entry = fn(&[u8]);

/// Every conformance target by name, as the seed directories under `fuzz/seeds/` are named.
pub const TARGETS: &[(&str, Entry)] = &[
    ("response_eval", response_eval),
    ("case_catalogue", case_catalogue),
];

/// The committed catalogue (`conformance/`), found from the including crate.
fn conformance_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [here.join("../conformance"), here.join("../../conformance")]
        .into_iter()
        .find(|d| d.join("paths.toml").is_file())
        .expect("conformance/ beside fuzz/ and crates/")
}

struct Loaded {
    catalogue: Catalogue,
    paths_text: String,
    /// Every data step of every case, with its path placeholders filled.
    steps: Vec<(String, Step)>,
    /// The reference model with tags on, for realistic bodies.
    model: Snapshot,
    tokens: TokenAuthority,
}

static LOADED: LazyLock<Loaded> = LazyLock::new(|| {
    let dir = conformance_dir();
    let catalogue = Catalogue::load(&dir).expect("the committed catalogue loads");
    let paths_text = std::fs::read_to_string(dir.join("paths.toml")).expect("paths.toml");
    let steps = data_steps(&catalogue);
    let options = MetadataOptions {
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    };
    Loaded {
        catalogue,
        paths_text,
        steps,
        model: Snapshot::new(options, Instance::default()),
        tokens: TokenAuthority::new(&TokenKey::new([4; 32])),
    }
});

impl Loaded {
    /// The model's answer at a fixed instant.
    fn answer<B>(&self, req: &http::Request<B>) -> http::Response<Bytes> {
        let now = Timestamp::from_secs(1_768_470_000);
        self.model.answer(&self.tokens, req, now, None).0
    }
}

fn data_steps(catalogue: &Catalogue) -> Vec<(String, Step)> {
    let mut out = Vec::new();
    for case in &catalogue.cases {
        if let CaseBody::Steps(steps) = &case.body {
            for s in steps {
                let mut s = s.clone();
                s.path = fill(&s.path);
                out.push((case.id.clone(), s));
            }
        }
    }
    out
}

/// Fills the path placeholders with the default instance's values.
fn fill(path: &str) -> String {
    path.replace("{role}", "imdspec-role")
        .replace("{mac}", "0e:49:61:0f:c3:11")
        .replace("{key_index}", "0")
        .replace("{tag_key}", "Name")
}

// ---------------------------------------------------------------------------------------------
// response_eval

/// Header names the catalogue's expectations look at; `HeaderChoice::Known` picks one.
const KNOWN_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "x-aws-ec2-metadata-token-ttl-seconds",
    "allow",
    "server",
    "connection",
    "last-modified",
    "accept-ranges",
    "date",
    "x-forwarded-for",
];

/// One response to judge.
#[derive(Arbitrary, Debug)]
pub struct EvalInput {
    /// Which data step of the catalogue (index, wrapped).
    step: u16,
    /// The status.
    status: StatusChoice,
    /// A reason phrase.
    reason: Option<String>,
    /// Headers, in order.
    headers: Vec<(HeaderChoice, String)>,
    /// The body.
    body: BodyChoice,
    /// Bodies of earlier steps (for `same_as_step` / `differs_from_step`).
    earlier: Vec<Option<Vec<u8>>>,
}

/// The response status.
#[derive(Arbitrary, Debug)]
pub enum StatusChoice {
    /// One the step allows (by index, wrapped), or 200 when it allows any.
    Allowed(u8),
    /// Any number.
    Any(u16),
}

/// A response header name.
#[derive(Arbitrary, Debug)]
pub enum HeaderChoice {
    /// One of [`KNOWN_HEADERS`].
    Known(u8),
    /// Any text.
    Raw(String),
}

/// The response body.
#[derive(Arbitrary, Debug)]
pub enum BodyChoice {
    /// Any bytes.
    Raw(Vec<u8>),
    /// What the reference model answers for the step's path, with bytes replaced.
    Model(Vec<(u16, u8)>),
    /// Listing-like lines.
    Lines(Vec<String>, bool),
    /// A JSON object with credential-like keys.
    Json(Vec<(JsonKey, JsonValue)>),
}

/// A JSON key.
#[derive(Arbitrary, Debug)]
pub enum JsonKey {
    /// `SecretAccessKey`.
    Secret,
    /// `Token`.
    Token,
    /// `Code`.
    Code,
    /// `Expiration`.
    Expiration,
    /// Any key.
    Raw(String),
}

/// A JSON value.
#[derive(Arbitrary, Debug)]
pub enum JsonValue {
    /// A string.
    Str(String),
    /// A number.
    Num(i64),
    /// null.
    Null,
    /// An array of strings.
    Arr(Vec<String>),
}

/// Judges an arbitrary response against one step of the committed catalogue with the
/// runner's own `eval::check`, after the runner's own redaction.
pub fn response_eval(data: &[u8]) {
    eval_input(data, false);
}

/// What `response_eval` does with `data` (step, status, body kind, failed checks): for naming
/// seeds.
pub fn response_eval_trace(data: &[u8]) -> Option<String> {
    eval_input(data, true)
}

fn eval_input(data: &[u8], trace: bool) -> Option<String> {
    let loaded = &*LOADED;
    let mut u = Unstructured::new(data);
    let Ok(input) = EvalInput::arbitrary(&mut u) else {
        return None;
    };
    let body_kind = match &input.body {
        BodyChoice::Raw(_) => "raw",
        BodyChoice::Model(_) => "model",
        BodyChoice::Lines(..) => "lines",
        BodyChoice::Json(_) => "json",
    };
    let (case_id, step) = &loaded.steps[usize::from(input.step) % loaded.steps.len()];
    let e = &step.expect;
    let status = match input.status {
        StatusChoice::Allowed(i) if !e.status.is_empty() => {
            e.status[usize::from(i) % e.status.len()]
        }
        StatusChoice::Allowed(_) => 200,
        StatusChoice::Any(n) => n,
    };
    let headers: Vec<(String, String)> = input
        .headers
        .into_iter()
        .take(32)
        .map(|(n, v)| {
            let name = match n {
                HeaderChoice::Known(i) => {
                    KNOWN_HEADERS[usize::from(i) % KNOWN_HEADERS.len()].to_owned()
                }
                HeaderChoice::Raw(s) => s,
            };
            (name, v)
        })
        .collect();
    let body = match input.body {
        BodyChoice::Raw(b) => b,
        BodyChoice::Model(edits) => {
            let req = http::Request::builder()
                .method(step.method.clone())
                .uri(step.path.as_str())
                .body(());
            let mut b = req
                .map(|r| loaded.answer(&r).into_body().to_vec())
                .unwrap_or_default();
            for (pos, byte) in edits.into_iter().take(16) {
                if !b.is_empty() {
                    let at = usize::from(pos) % b.len();
                    b[at] = byte;
                }
            }
            b
        }
        BodyChoice::Lines(lines, final_newline) => {
            let mut s = lines.join("\n");
            if final_newline {
                s.push('\n');
            }
            s.into_bytes()
        }
        BodyChoice::Json(fields) => {
            let mut map = serde_json::Map::new();
            for (k, v) in fields.into_iter().take(16) {
                let key = match k {
                    JsonKey::Secret => "SecretAccessKey".to_owned(),
                    JsonKey::Token => "Token".to_owned(),
                    JsonKey::Code => "Code".to_owned(),
                    JsonKey::Expiration => "Expiration".to_owned(),
                    JsonKey::Raw(s) => s,
                };
                let value = match v {
                    JsonValue::Str(s) => serde_json::Value::from(s),
                    JsonValue::Num(n) => serde_json::Value::from(n),
                    JsonValue::Null => serde_json::Value::Null,
                    JsonValue::Arr(a) => serde_json::Value::from(a),
                };
                map.insert(key, value);
            }
            serde_json::to_vec_pretty(&map).unwrap_or_default()
        }
    };
    let resp = Response {
        status,
        reason: input.reason,
        version: "HTTP/1.1".into(),
        headers,
        body: Bytes::from(body),
        elapsed: Duration::ZERO,
        throttled: 0,
    };
    let earlier: Vec<Option<Bytes>> = input
        .earlier
        .into_iter()
        .take(8)
        .map(|b| b.map(Bytes::from))
        .collect();
    let failures = judge(case_id, step, &resp, &earlier);
    trace.then(|| {
        let checks: Vec<&str> = failures.iter().map(|f| f.check.as_str()).collect();
        format!(
            "{case_id} {} {} -> {status}, {body_kind} body, failed {checks:?}",
            step.method, step.path
        )
    })
}

/// Runs `eval::check` as the runner does and checks what it reports.
fn judge(
    case_id: &str,
    step: &Step,
    resp: &Response,
    earlier: &[Option<Bytes>],
) -> Vec<imds_conformance::report::Failure> {
    let shown = Redactor::default().body(step.method.as_str(), &step.path, resp.status, &resp.body);
    let mut rec = Recorder::default();
    eval::check(&step.expect, resp, &shown, earlier, Some(1), &mut rec);
    let e = &step.expect;
    let ctx = || {
        format!(
            "case {case_id} {} {}: {:?}",
            step.method, step.path, rec.failures
        )
    };

    // A wrong status is reported once, and nothing else is (the rest would only restate it).
    if !e.status.is_empty() && !e.status.contains(&resp.status) {
        assert_eq!(rec.failures.len(), 1, "{}", ctx());
        assert_eq!(rec.failures[0].check, "status", "{}", ctx());
    }
    if e.status.contains(&resp.status) && e.status_not.is_empty() {
        assert!(
            rec.failures.iter().all(|f| f.check != "status"),
            "{}",
            ctx()
        );
    }

    // Secrets never reach a report: not a credential value, nor a whole token or user data.
    let mut secrets: Vec<String> = Vec::new();
    if let Ok(serde_json::Value::Object(map)) =
        serde_json::from_slice::<serde_json::Value>(&resp.body)
    {
        for key in ["SecretAccessKey", "Token"] {
            if let Some(serde_json::Value::String(s)) = map.get(key) {
                secrets.push(s.clone());
            }
        }
    }
    let json_secrets = secrets.clone();
    let path = step
        .path
        .split('?')
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let whole = (step.method == http::Method::PUT && path.ends_with("/api/token"))
        || path.ends_with("/user-data");
    if whole && resp.status == 200 {
        secrets.push(String::from_utf8_lossy(&resp.body).into_owned());
        // Each line of a whole-body secret is as secret as the whole.
        secrets.extend(
            String::from_utf8_lossy(&resp.body)
                .lines()
                .map(str::to_owned),
        );
    }
    // What the report itself writes around bodies: a secret that is only a piece of these
    // (e.g. a body "acted token, 5" next to "<redacted token, 59 bytes>") is not a leak.
    let strip = |text: &str| -> String {
        let mut t = text.to_owned();
        if shown.starts_with("<redacted ") {
            t = t.replace(shown.as_str(), "\u{0}");
        }
        for phrase in [
            "<redacted>",
            " (body ",
            " bytes) vs ",
            " bytes in step ",
            "line ",
        ] {
            t = t.replace(phrase, "\u{0}");
        }
        t
    };
    let body_text = String::from_utf8_lossy(&resp.body);
    for secret in secrets.iter().filter(|s| {
        // A value that also appears elsewhere in the body (inside another field) may be
        // quoted from there.
        // (The field's own JSON-escaped value is taken out first.)
        let elsewhere = json_secrets.contains(s) && {
            let quoted = serde_json::to_string(s.as_str()).unwrap_or_default();
            let rest = body_text.replacen(&quoted, "", 1);
            rest.contains(s.as_str()) || rest.contains(&quoted[1..quoted.len() - 1])
        };
        s.len() >= 12 && is_distinctive(s) && !elsewhere
    }) {
        for f in &rec.failures {
            // The case's own expectation text may legitimately contain any string.
            if f.expected.contains(secret.as_str()) {
                continue;
            }
            let escaped = format!("{secret:?}");
            let escaped = &escaped[1..escaped.len() - 1];
            let observed = strip(&f.observed);
            assert!(
                !observed.contains(secret.as_str()) && !observed.contains(escaped),
                "secret {secret:?} in a report: {}",
                ctx()
            );
        }
        assert!(
            !strip(&shown).contains(secret.as_str()),
            "secret {secret:?} in the shown body {shown:?}"
        );
    }
    rec.failures
}

/// Text that can only come from the body (not from a fixed phrase of the report).
///
/// Only printable ASCII without quotes, backslashes or angle brackets counts: credentials,
/// tokens and user-data lines look like that, and such text reads the same escaped or not,
/// so it cannot be mistaken for the report's own quoting or placeholders.
fn is_distinctive(s: &str) -> bool {
    s.chars().any(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c == ' ' || (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '<' | '>')))
}

// ---------------------------------------------------------------------------------------------
// case_catalogue

/// The TOML loaders: `data[0] % 3` picks a case file (`0`), the paths file (`1`) or an
/// expectations file (`2`); the rest is the file's text. A case file that loads is then run
/// against the model's answers with the runner's `eval::check`.
pub fn case_catalogue(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let loaded = &*LOADED;
    match which % 3 {
        0 => {
            let name = case_file_name(text);
            let file = PathBuf::from(&name);
            let paths = Path::new("paths.toml");
            match Catalogue::from_sources(
                &[(file.clone(), text.to_owned())],
                Some((paths, &loaded.paths_text)),
            ) {
                Ok(catalogue) => {
                    for (id, step) in data_steps(&catalogue).iter().take(64) {
                        let req = http::Request::builder()
                            .method(step.method.clone())
                            .uri(step.path.as_str())
                            .body(());
                        let Ok(req) = req else {
                            continue;
                        };
                        let answer = loaded.answer(&req);
                        let resp = Response {
                            status: answer.status().as_u16(),
                            reason: None,
                            version: "HTTP/1.1".into(),
                            headers: answer
                                .headers()
                                .iter()
                                .map(|(n, v)| {
                                    (
                                        n.as_str().to_owned(),
                                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                    )
                                })
                                .collect(),
                            body: answer.into_body(),
                            elapsed: Duration::ZERO,
                            throttled: 0,
                        };
                        let _ = judge(id, step, &resp, &[]);
                    }
                }
                Err(e) => check_error(&e, &name, text),
            }
        }
        1 => {
            if let Err(e) = Catalogue::from_sources(&[], Some((Path::new("fuzz-paths.toml"), text)))
            {
                check_error(&e, "fuzz-paths.toml", text);
            }
        }
        _ => {
            if let Err(e) = Expectations::parse(Path::new("fuzz-target.toml"), text) {
                check_error(&e, "fuzz-target.toml", text);
            }
        }
    }
}

/// The file a case text is loaded as: named after the first segment of its first id, as a
/// committed case file is (ids must start with their file's stem), so seeds copied from
/// `conformance/cases/` load and get evaluated.
fn case_file_name(text: &str) -> String {
    let first = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("id = \""))
        .and_then(|rest| rest.split(['.', '"']).next())
        .filter(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    format!("{}.toml", first.unwrap_or("fuzz-cases"))
}

/// A load error names the file once, and a line and column that exist in the text.
fn check_error(e: &imds_conformance::LoadError, name: &str, text: &str) {
    let message = e.to_string();
    assert_eq!(e.file, Path::new(name), "{message}");
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        e.line >= 1 && e.line <= lines.len(),
        "line {} of {}: {message}",
        e.line,
        lines.len()
    );
    let width = lines[e.line - 1].chars().count();
    assert!(
        e.column >= 1 && e.column <= width + 1,
        "column {} of {width}: {message}",
        e.column
    );
    let place = format!("{name}:{}:{}: ", e.line, e.column);
    assert!(message.starts_with(&place), "{message}");
    assert!(
        !message[place.len()..].contains(&place),
        "position shown twice: {message}"
    );
    assert!(!e.field.is_empty() && !e.message.is_empty(), "{message}");
}
