//! The control API's requests, decoded and checked without side effects.
//!
//! `imdspec serve --control ADDR` (and [`ImdsServer::control`](crate::ImdsServer::control) in
//! process) changes a running server through JSON over HTTP. This module turns one request
//! (method, path, query, body) into a [`ControlOp`] or a [`ControlError`] naming the field at
//! fault, without side effects (the `control_request` fuzz target calls it); the server then
//! applies the op. Bodies go through the same loaders as files ([`Instance`], [`Scenario`], the
//! scenario's `options` change), so a rule is never stated twice.
//!
//! | method and path | op |
//! | --- | --- |
//! | `GET /options`, `PUT /options` | [`ControlOp::GetOptions`], [`ControlOp::PutOptions`] |
//! | `GET`, `PUT`, `PATCH /instance` | [`ControlOp::GetInstance`], [`ControlOp::PutInstance`], [`ControlOp::PatchInstance`] |
//! | `GET`, `POST /scenario` | [`ControlOp::GetScenario`], [`ControlOp::PostScenario`] |
//! | `GET /clock`, `POST /clock/advance` | [`ControlOp::GetClock`], [`ControlOp::AdvanceClock`] |
//! | `GET /journal?since=SEQ` | [`ControlOp::GetJournal`] |
//! | `GET`, `PUT`, `DELETE /faults` | [`ControlOp::GetFaults`], [`ControlOp::PutFaults`], [`ControlOp::DeleteFaults`] |
//! | `POST /reset` | [`ControlOp::Reset`] |
//! | `GET /openapi.json` | [`ControlOp::GetOpenApi`]: [`OPENAPI`], this API as an OpenAPI 3.1 document |

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use imds_diag::{Format, LoadError, Source, WHOLE_FILE};
use imds_model::instance::{Instance, InstanceFormat};
use imds_model::options::{MetadataOptions, OptionsState};
use imds_model::scenario::{OptionsChange, Scenario};

/// Largest control request body accepted; larger gets 413.
pub const MAX_BODY: usize = 1024 * 1024;

/// Longest single clock advance: ten years, in seconds.
pub const MAX_ADVANCE_SECS: f64 = 10.0 * 365.0 * 86_400.0;

/// The control API as an OpenAPI 3.1 document (`GET /openapi.json`), for generating clients
/// in any language; a test keeps it in step with [`ROUTES`] and the instance file's keys.
pub const OPENAPI: &str = include_str!("../openapi/control.json");

/// What a body is called in errors (`(body):1:5: HttpTokens: …`).
pub const BODY: &str = "(body)";

/// One control request as it came in.
#[derive(Clone, Copy, Debug)]
pub struct ControlRequest<'a> {
    /// The method, e.g. `PUT`.
    pub method: &'a str,
    /// The path, without the query (`/options`).
    pub path: &'a str,
    /// The query string without `?`, if any.
    pub query: Option<&'a str>,
    /// The body bytes (may be empty).
    pub body: &'a [u8],
}

/// A decoded, checked control operation.
#[derive(Clone, Debug, PartialEq)]
pub enum ControlOp {
    /// The options in force.
    GetOptions,
    /// Changes the fields given (like `ModifyInstanceMetadataOptions`); the rest stay.
    PutOptions(OptionsChange),
    /// The instance in force, as JSON.
    GetInstance,
    /// Replaces the instance with this JSON object (checked to be one), laid over the start
    /// instance (the `--instance` file's) as a file is; see [`put_instance`].
    PutInstance(String),
    /// Merges this RFC 7396 JSON merge patch (checked to be an object) into the instance;
    /// see [`patch_instance`].
    PatchInstance(String),
    /// What the scenario has applied so far.
    GetScenario,
    /// Plays a new scenario from now, replacing the one being played.
    PostScenario(Scenario),
    /// The server's time.
    GetClock,
    /// Moves a manual clock forward.
    AdvanceClock(Duration),
    /// Journal entries with `seq >= since`.
    GetJournal {
        /// First sequence number wanted.
        since: u64,
    },
    /// The scripted faults in force, as specs.
    GetFaults,
    /// Replaces the faults with these `--fault` specs (the server parses them).
    PutFaults(Vec<String>),
    /// Removes every fault.
    DeleteFaults,
    /// Back to the start state.
    Reset,
    /// [`OPENAPI`].
    GetOpenApi,
}

/// Why a control request was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlError {
    /// HTTP status: 400, 404, 405, 409 or 413.
    pub status: u16,
    /// The field at fault (`HttpTokens`, `entry[1].after`, `since`), if one is.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub message: String,
    /// For 405: the methods the path allows.
    pub allow: Option<&'static str>,
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} {field}: {}", self.status, self.message),
            None => write!(f, "{} {}", self.status, self.message),
        }
    }
}

impl std::error::Error for ControlError {}

impl ControlError {
    /// A 400 about `field` (or the whole body with `None`).
    pub fn bad(field: Option<&str>, message: impl Into<String>) -> ControlError {
        ControlError {
            status: 400,
            field: field.map(str::to_owned),
            message: message.into(),
            allow: None,
        }
    }

    /// A 409: the request is well formed but the server cannot do it as configured.
    pub fn conflict(message: impl Into<String>) -> ControlError {
        ControlError {
            status: 409,
            field: None,
            message: message.into(),
            allow: None,
        }
    }

    /// A 400 from a loader error: its field (none for a syntax error, which concerns the
    /// whole body), and its whole text (which has line and column).
    pub fn from_load(e: &LoadError) -> ControlError {
        if e.field == WHOLE_FILE {
            let at = format!("{}:{}:{}", e.file.display(), e.line, e.column);
            return ControlError::bad(None, format!("{at}: {}", e.message));
        }
        ControlError::bad(Some(&e.field), e.to_string())
    }

    /// The JSON body sent with it: `{"error": MESSAGE, "field": FIELD-or-null}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "error": self.message, "field": self.field }).to_string()
    }
}

/// Every control path and the methods it allows (for 404 and 405 answers).
pub const ROUTES: [(&str, &str); 9] = [
    ("/options", "GET, PUT"),
    ("/instance", "GET, PUT, PATCH"),
    ("/scenario", "GET, POST"),
    ("/clock", "GET"),
    ("/clock/advance", "POST"),
    ("/journal", "GET"),
    ("/faults", "GET, PUT, DELETE"),
    ("/reset", "POST"),
    ("/openapi.json", "GET"),
];

/// Decodes and checks one control request. Pure: the same request always gives the same
/// answer, and nothing is changed by decoding.
pub fn decode(req: &ControlRequest<'_>) -> Result<ControlOp, ControlError> {
    let Some(&(route, allow)) = ROUTES.iter().find(|(p, _)| *p == req.path) else {
        let known: Vec<&str> = ROUTES.iter().map(|(p, _)| *p).collect();
        return Err(ControlError {
            status: 404,
            field: None,
            message: format!(
                "no control path {:?}; the paths are {}",
                truncate(req.path),
                known.join(", ")
            ),
            allow: None,
        });
    };
    let op = match (route, req.method) {
        ("/options", "GET") => ControlOp::GetOptions,
        ("/options", "PUT") => ControlOp::PutOptions(options_change(body_text(req.body)?)?),
        ("/instance", "GET") => ControlOp::GetInstance,
        ("/instance", "PUT") => {
            let text = body_text(req.body)?;
            json_object(text, "an instance must be a JSON object of instance keys")?;
            ControlOp::PutInstance(text.to_owned())
        }
        ("/instance", "PATCH") => {
            let text = body_text(req.body)?;
            json_object(text, "a merge patch for the instance must be a JSON object")?;
            ControlOp::PatchInstance(text.to_owned())
        }
        ("/scenario", "GET") => ControlOp::GetScenario,
        ("/scenario", "POST") => ControlOp::PostScenario(scenario(body_text(req.body)?)?),
        ("/clock", "GET") => ControlOp::GetClock,
        ("/clock/advance", "POST") => ControlOp::AdvanceClock(advance(body_text(req.body)?)?),
        ("/journal", "GET") => ControlOp::GetJournal {
            since: since(req.query)?,
        },
        ("/faults", "GET") => ControlOp::GetFaults,
        ("/faults", "PUT") => ControlOp::PutFaults(fault_specs(body_text(req.body)?)?),
        ("/faults", "DELETE") => ControlOp::DeleteFaults,
        ("/reset", "POST") => ControlOp::Reset,
        ("/openapi.json", "GET") => ControlOp::GetOpenApi,
        _ => {
            return Err(ControlError {
                status: 405,
                field: None,
                message: format!(
                    "{} is not allowed on {route}; use {allow}",
                    truncate(req.method)
                ),
                allow: Some(allow),
            });
        }
    };
    if route != "/journal"
        && let Some(q) = req.query.filter(|q| !q.is_empty())
    {
        return Err(ControlError::bad(
            Some("(query)"),
            format!("{route} takes no query, got {:?}", truncate(q)),
        ));
    }
    Ok(op)
}

/// `text` read as JSON, refused unless it is an object.
fn json_object(text: &str, not_object: &str) -> Result<Value, ControlError> {
    let value: Value = Source::json(Path::new(BODY), text)
        .parse()
        .map_err(|e| ControlError::from_load(&e))?;
    if !value.is_object() {
        return Err(ControlError::bad(None, not_object));
    }
    Ok(value)
}

/// Paths and methods quoted in errors are cut short, so an error never echoes a huge input.
fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn body_text(body: &[u8]) -> Result<&str, ControlError> {
    if body.len() > MAX_BODY {
        return Err(ControlError {
            status: 413,
            field: None,
            message: format!("the body is over {MAX_BODY} bytes"),
            allow: None,
        });
    }
    std::str::from_utf8(body)
        .map_err(|e| ControlError::bad(None, format!("the body is not UTF-8: {e}")))
}

/// `PUT /options`: the options shape with EC2's field names, as the scenario's `options`
/// action reads it. `State` (which GET shows) is accepted and ignored, so a GET body can be
/// sent back.
fn options_change(text: &str) -> Result<OptionsChange, ControlError> {
    let src = Source::json(Path::new(BODY), text);
    let mut value: Value = src.parse().map_err(|e| ControlError::from_load(&e))?;
    let Some(object) = value.as_object_mut() else {
        return Err(ControlError::bad(
            None,
            "expected a JSON object of metadata options, e.g. {\"HttpTokens\": \"required\"}",
        ));
    };
    if let Some(state) = object.remove("State") {
        OptionsState::deserialize(state)
            .map_err(|e| ControlError::bad(Some("State"), format!("{BODY}: State: {e}")))?;
    }
    // Read from the text again with `State` gone, so errors keep their field paths.
    let text = value.to_string();
    Source::json(Path::new(BODY), &text)
        .parse()
        .map_err(|e| ControlError::from_load(&e))
}

/// `POST /scenario`: the scenario file's JSON (`{"entry": [...]}`), or just the entry array.
fn scenario(text: &str) -> Result<Scenario, ControlError> {
    let trimmed = text.trim_start();
    let wrapped;
    let text = if trimmed.starts_with('[') {
        wrapped = format!("{{\"entry\":{text}}}");
        wrapped.as_str()
    } else {
        text
    };
    imds_files::scenario::parse(Path::new(BODY), text, Format::Json)
        .map_err(|e| ControlError::from_load(&e))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: f64,
}

/// `POST /clock/advance`: `{"seconds": N}`, 0 ≤ N ≤ ten years (fractions allowed, to the
/// millisecond).
fn advance(text: &str) -> Result<Duration, ControlError> {
    let a: Advance = Source::json(Path::new(BODY), text)
        .parse()
        .map_err(|e| ControlError::from_load(&e))?;
    if !(0.0..=MAX_ADVANCE_SECS).contains(&a.seconds) {
        return Err(ControlError::bad(
            Some("seconds"),
            format!(
                "{} is out of range: give 0 to {MAX_ADVANCE_SECS} seconds (the clock only moves forward)",
                a.seconds
            ),
        ));
    }
    Ok(Duration::from_millis((a.seconds * 1000.0).round() as u64))
}

/// `?since=SEQ` (default 0); any other parameter is refused.
fn since(query: Option<&str>) -> Result<u64, ControlError> {
    let mut since = 0;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "since" {
            return Err(ControlError::bad(
                Some(truncate(key)),
                "unknown query parameter; /journal takes `since=SEQ`",
            ));
        }
        since = value.parse().map_err(|_| {
            ControlError::bad(
                Some("since"),
                format!("{:?} is not a sequence number (0 or more)", truncate(value)),
            )
        })?;
    }
    Ok(since)
}

/// `PUT /faults`: a JSON array of `--fault` spec strings.
fn fault_specs(text: &str) -> Result<Vec<String>, ControlError> {
    Source::json(Path::new(BODY), text)
        .parse()
        .map_err(|e| ControlError::from_load(&e))
}

/// Merges an RFC 7396 JSON merge patch into `target`: objects merge key by key, `null`
/// removes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (key, value) in patch {
            if value.is_null() {
                t.remove(key);
            } else {
                merge_patch(t.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// `PUT /instance`: `text` laid over `start` (the instance the server started with, i.e. its
/// `--instance` file), as a file is laid over the built-in instance.
pub fn put_instance(start: &Instance, text: &str) -> Result<Instance, ControlError> {
    Instance::from_text_over(start, BODY, text, InstanceFormat::Json)
        .map_err(|e| ControlError::from_load(&e))
}

/// `PATCH /instance`: `current` with the merge patch `text` merged in (RFC 7396), checked by
/// the instance file's own loader. A key removed with `null` takes `start`'s value (the
/// `--instance` file's, else the built-in one), as a file that leaves it out. Errors point
/// into `text`, the patch as sent.
pub fn patch_instance(
    current: &Instance,
    start: &Instance,
    text: &str,
) -> Result<Instance, ControlError> {
    let patch = json_object(text, "a merge patch for the instance must be a JSON object")?;
    let start = serde_json::to_value(start)
        .map_err(|e| ControlError::bad(None, format!("cannot render the instance: {e}")))?;
    let doc = nulls_from(&patch, Some(&start));
    let src = Source::json(Path::new(BODY), text);
    Instance::from_doc_over(current, &doc, &src).map_err(|e| ControlError::from_load(&e))
}

/// `patch` with each `null` replaced by `start`'s value at the same place (`null` where
/// `start` has none), so laying it over the instance is the RFC 7396 merge with "removed"
/// meaning "back to the start".
fn nulls_from(patch: &Value, start: Option<&Value>) -> Value {
    match patch {
        Value::Null => start.cloned().unwrap_or(Value::Null),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), nulls_from(v, start.and_then(|s| s.get(k)))))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The options after applying `change` (absent fields unchanged).
pub fn apply_options(current: MetadataOptions, change: &OptionsChange) -> MetadataOptions {
    let mut o = current;
    change.apply(&mut o);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(method: &'a str, path: &'a str, body: &'a str) -> ControlRequest<'a> {
        let (path, query) = match path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path, None),
        };
        ControlRequest {
            method,
            path,
            query,
            body: body.as_bytes(),
        }
    }

    fn err(method: &str, path: &str, body: &str) -> ControlError {
        decode(&req(method, path, body)).unwrap_err()
    }

    #[test]
    fn options_fields_are_ec2_names_and_absent_ones_stay() {
        let op = decode(&req("PUT", "/options", r#"{"HttpTokens":"required"}"#)).unwrap();
        let ControlOp::PutOptions(change) = op else {
            panic!("{op:?}")
        };
        let o = apply_options(MetadataOptions::default(), &change);
        assert_eq!(o.http_tokens, imds_model::HttpTokens::Required);
        assert_eq!(o.http_endpoint, imds_model::Toggle::Enabled);
        // What GET shows can be sent back.
        let back = serde_json::to_string(&o).unwrap();
        let ControlOp::PutOptions(again) = decode(&req("PUT", "/options", &back)).unwrap() else {
            panic!()
        };
        assert_eq!(apply_options(MetadataOptions::default(), &again), o);
    }

    #[test]
    fn bad_options_name_the_field() {
        let e = err("PUT", "/options", r#"{"HttpTokens":"maybe"}"#);
        assert_eq!((e.status, e.field.as_deref()), (400, Some("HttpTokens")));
        let e = err("PUT", "/options", r#"{"HttpPutResponseHopLimit":65}"#);
        assert_eq!(e.field.as_deref(), Some("HttpPutResponseHopLimit"));
        assert!(e.message.contains("65"), "{}", e.message);
        let e = err("PUT", "/options", r#"{"HttpToken":"required"}"#);
        assert_eq!(e.field.as_deref(), Some("HttpToken"));
        assert!(e.message.contains("HttpTokens"), "{}", e.message);
        let e = err("PUT", "/options", r#"{"State":"done"}"#);
        assert_eq!(e.field.as_deref(), Some("State"));
        let e = err("PUT", "/options", "{");
        assert_eq!(e.status, 400);
        assert!(e.message.starts_with("(body):1:"), "{}", e.message);
        assert_eq!(err("PUT", "/options", "[1]").status, 400);
    }

    #[test]
    fn paths_methods_and_queries() {
        let e = err("GET", "/nope", "");
        assert_eq!(e.status, 404);
        assert!(e.message.contains("/options"));
        let e = err("DELETE", "/options", "");
        assert_eq!((e.status, e.allow), (405, Some("GET, PUT")));
        assert_eq!(
            decode(&req("GET", "/journal?since=7", "")).unwrap(),
            ControlOp::GetJournal { since: 7 }
        );
        assert_eq!(
            decode(&req("GET", "/journal", "")).unwrap(),
            ControlOp::GetJournal { since: 0 }
        );
        assert_eq!(
            err("GET", "/journal?since=-1", "").field.as_deref(),
            Some("since")
        );
        assert_eq!(
            err("GET", "/journal?from=1", "").field.as_deref(),
            Some("from")
        );
        assert_eq!(
            err("GET", "/options?x=1", "").field.as_deref(),
            Some("(query)")
        );
        let big = "x".repeat(MAX_BODY + 1);
        assert_eq!(err("PUT", "/options", &big).status, 413);
    }

    #[test]
    fn clock_advance_is_checked() {
        assert_eq!(
            decode(&req("POST", "/clock/advance", r#"{"seconds": 1.5}"#)).unwrap(),
            ControlOp::AdvanceClock(Duration::from_millis(1500))
        );
        for bad in [r#"{"seconds": -1}"#, r#"{"seconds": 1e20}"#] {
            assert_eq!(
                err("POST", "/clock/advance", bad).field.as_deref(),
                Some("seconds"),
                "{bad}"
            );
        }
        assert_eq!(
            err("POST", "/clock/advance", r#"{"secs": 1}"#)
                .field
                .as_deref(),
            Some("secs")
        );
        assert_eq!(err("POST", "/clock/advance", "").status, 400);
    }

    #[test]
    fn scenario_bodies_use_the_file_loader() {
        let one = r#"[{"after":"10s","spot-interruption":{"action":"stop"}}]"#;
        let ControlOp::PostScenario(s) = decode(&req("POST", "/scenario", one)).unwrap() else {
            panic!()
        };
        assert_eq!(s.entries.len(), 1);
        let wrapped = format!("{{\"entry\":{one}}}");
        assert_eq!(
            decode(&req("POST", "/scenario", &wrapped)).unwrap(),
            ControlOp::PostScenario(s)
        );
        let e = err(
            "POST",
            "/scenario",
            r#"[{"after":"10x","asg-lifecycle":"Terminated"}]"#,
        );
        assert_eq!(e.field.as_deref(), Some("entry[1].after"));
    }

    #[test]
    fn instance_put_and_patch() {
        let d = Instance::default();
        let e = put_instance(&d, r#"{"instance-id":"x"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("instance-id"));
        let e = err("PATCH", "/instance", "[]");
        assert_eq!(e.status, 400);
        let patch = r#"{"instance-type": "m7g.large", "tags": {"Name": "a"}}"#;
        let i = patch_instance(&d, &d, patch).unwrap();
        assert_eq!(i.instance_type, "m7g.large");
        assert_eq!(i.tags.get("Name").map(String::as_str), Some("a"));
        let bad = r#"{"instance-id": "i-zz"}"#;
        assert_eq!(
            patch_instance(&d, &d, bad).unwrap_err().field.as_deref(),
            Some("instance-id")
        );
    }

    #[test]
    fn put_and_null_fall_back_to_the_start_instance_not_the_built_in_one() {
        let start = Instance::from_text(
            "start.toml",
            "instance-type = \"c7i.large\"\nami-launch-index = 4\n",
            InstanceFormat::Toml,
        )
        .unwrap();
        let i = put_instance(&start, r#"{"ami-id": "ami-0123456789abcdef0"}"#).unwrap();
        assert_eq!(
            (i.instance_type.as_str(), i.ami_launch_index),
            ("c7i.large", 4)
        );
        let current = patch_instance(&start, &start, r#"{"instance-type": "m7g.large"}"#).unwrap();
        assert_eq!(current.instance_type, "m7g.large");
        let back = patch_instance(&current, &start, r#"{"instance-type": null}"#).unwrap();
        assert_eq!(back.instance_type, "c7i.large");
        let back = patch_instance(&current, &start, r#"{"placement": {"region": null}}"#).unwrap();
        assert_eq!(back.placement, start.placement);
    }

    #[test]
    fn patch_errors_point_into_the_patch_as_sent() {
        let d = Instance::default();
        let patch = "{\n  \"instance-type\": \"m7g.large\",\n  \"ami-launch-index\": \"x\"\n}";
        let e = patch_instance(&d, &d, patch).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ami-launch-index"));
        assert!(
            e.message.starts_with("(body):3:25: ami-launch-index:"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("u32"), "{}", e.message);
        let e = patch_instance(&d, &d, "{\n\n \"placement\": {\"regoin\": \"eu-west-1\"}}")
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("placement.regoin"));
        assert!(e.message.starts_with("(body):3:"), "{}", e.message);
        assert!(
            e.message.contains("did you mean `region`?"),
            "{}",
            e.message
        );
    }

    #[test]
    fn syntax_errors_name_no_field() {
        for (method, path) in [
            ("PUT", "/options"),
            ("PUT", "/instance"),
            ("PATCH", "/instance"),
            ("POST", "/scenario"),
            ("PUT", "/faults"),
            ("POST", "/clock/advance"),
        ] {
            let e = err(method, path, "{ nope");
            assert_eq!(
                (e.status, e.field.as_deref()),
                (400, None),
                "{method} {path}: {e}"
            );
            assert!(e.message.starts_with("(body):1:"), "{}", e.message);
            assert!(!e.to_json().contains("(file)"), "{}", e.to_json());
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // RFC 7396 appendix A, a few of its rows.
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (
                r#"{"a":{"b":"c"}}"#,
                r#"{"a":{"b":"d","c":null}}"#,
                r#"{"a":{"b":"d"}}"#,
            ),
            (r#"["a","b"]"#, r#"{"a":"b"}"#, r#"{"a":"b"}"#),
            (
                r#"{}"#,
                r#"{"a":{"bb":{"ccc":null}}}"#,
                r#"{"a":{"bb":{}}}"#,
            ),
        ];
        for (target, patch, want) in cases {
            let mut t: Value = serde_json::from_str(target).unwrap();
            merge_patch(&mut t, &serde_json::from_str(patch).unwrap());
            assert_eq!(
                t,
                serde_json::from_str::<Value>(want).unwrap(),
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn faults_are_a_list_of_strings() {
        assert_eq!(
            decode(&req("PUT", "/faults", r#"["get=500"]"#)).unwrap(),
            ControlOp::PutFaults(vec!["get=500".into()])
        );
        assert_eq!(
            err("PUT", "/faults", r#"[1]"#).field.as_deref(),
            Some("[1]")
        );
    }
}
