//! The probe's output format, defined once: the names and values `imdspec probe` writes
//! (JSON, JSON lines, SSM Inventory item, ASFF finding, OCSF finding) and the reader that
//! takes every form of it back, with `imdspec run --format json` reports, for fleet tools.
//! Pure: bytes in, documents out; the fleet report does the files.

use std::path::{Path, PathBuf};

use imds_diag::{Seg, Source, WHOLE_FILE, position, render_path};
use imds_model::{HttpTokens, LoadError, PartialOptions, Toggle};
use serde_json::{Map, Value};

use serde::Serialize;

/// The probe JSON document's format name and version (`imdspec probe --format json|jsonl`,
/// and the `Format` of the flat summary).
pub const PROBE_FORMAT: &str = "imdspec-probe/1";
/// The SSM Inventory type name of a probe (custom types start with `Custom:`).
pub const SSM_TYPE_NAME: &str = "Custom:ImdsProbe";
/// The ASFF `GeneratorId`.
pub const GENERATOR: &str = "imdspec";
/// Prefix of the probe's keys in an ASFF finding's `ProductFields` ([`GENERATOR`] and `/`).
pub const ASFF_FIELD_PREFIX: &str = "imdspec/";
/// OCSF Compliance Finding class.
pub const OCSF_CLASS_UID: u32 = 2003;
/// Largest file read: a probe output is a few KiB, a run report with exchanges a few MiB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The keys of the flat summary every sink carries (SSM `Content`, ASFF `ProductFields` after
/// [`ASFF_FIELD_PREFIX`], OCSF `unmapped`): strings only, empty for unknown. The option keys
/// are describe-instances' names ([`imds_model::PartialOptions::FIELDS`]).
pub mod key {
    /// [`super::PROBE_FORMAT`].
    pub const FORMAT: &str = "Format";
    /// The instance id.
    pub const INSTANCE_ID: &str = "InstanceId";
    /// `true` when anything answered.
    pub const ANSWERS: &str = "Answers";
    /// [`super::V1`], lowercase.
    pub const IMDSV1: &str = "ImdsV1";
    /// [`super::V2`], kebab-case.
    pub const IMDSV2: &str = "ImdsV2";
    /// `true` when token answers do not reach the prober.
    pub const HOP_LIMIT_TOO_LOW: &str = "HopLimitTooLow";
    /// `HttpTokens`.
    pub const HTTP_TOKENS: &str = "HttpTokens";
    /// `HttpEndpoint`.
    pub const HTTP_ENDPOINT: &str = "HttpEndpoint";
    /// `InstanceMetadataTags`.
    pub const INSTANCE_METADATA_TAGS: &str = "InstanceMetadataTags";
    /// `HttpProtocolIpv6`.
    pub const HTTP_PROTOCOL_IPV6: &str = "HttpProtocolIpv6";
}

/// Whether tokenless (IMDSv1) requests are answered, as the probe saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum V1 {
    /// A tokenless GET got 200.
    Open,
    /// A tokenless GET got 401.
    Closed,
    /// The endpoint refuses everything (403).
    Disabled,
    /// No clear answer.
    Unknown,
}

impl V1 {
    /// The lowercase name the probe writes.
    pub fn as_str(self) -> &'static str {
        match self {
            V1::Open => "open",
            V1::Closed => "closed",
            V1::Disabled => "disabled",
            V1::Unknown => "unknown",
        }
    }
}

/// Whether IMDSv2 works from the prober's position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum V2 {
    /// Token issued and accepted.
    Works,
    /// The token PUT got no answer while other requests did: hop limit.
    HopLimited,
    /// Something else went wrong (a status, a refused token).
    Broken,
    /// The endpoint refuses everything (403).
    Disabled,
    /// No clear answer.
    Unknown,
}

impl V2 {
    /// The kebab-case name the probe writes.
    pub fn as_str(self) -> &'static str {
        match self {
            V2::Works => "works",
            V2::HopLimited => "hop-limited",
            V2::Broken => "broken",
            V2::Disabled => "disabled",
            V2::Unknown => "unknown",
        }
    }
}

/// The fields of the probe's JSON document (`imdspec probe --format json|jsonl`) that fleet
/// tools read back, in the document's order; the probe flattens it into its document and
/// [`documents`] reads it (with `observations.endpoints[].token_put|tokenless_get.status`
/// for whether anything answered). Options use describe-instances' names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeHead<'a> {
    /// The instance id, when the endpoint gave it.
    #[serde(rename = "InstanceId")]
    pub instance_id: Option<&'a str>,
    /// Inferred `HttpTokens`.
    #[serde(rename = "HttpTokens")]
    pub http_tokens: Option<HttpTokens>,
    /// Inferred `HttpEndpoint`.
    #[serde(rename = "HttpEndpoint")]
    pub http_endpoint: Option<Toggle>,
    /// Inferred `InstanceMetadataTags`.
    #[serde(rename = "InstanceMetadataTags")]
    pub instance_metadata_tags: Option<Toggle>,
    /// Inferred `HttpProtocolIpv6`.
    #[serde(rename = "HttpProtocolIpv6")]
    pub http_protocol_ipv6: Option<Toggle>,
    /// IMDSv1 state.
    pub imdsv1: V1,
    /// IMDSv2 state.
    pub imdsv2: V2,
    /// Token answers do not reach the prober's position.
    pub hop_limit_too_low: bool,
}

/// One probe output, reduced to what a fleet report needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// The instance id the endpoint gave (or the identity document), when it gave one.
    pub instance_id: Option<String>,
    /// False when nothing answered.
    pub answers: bool,
    /// IMDSv1 state.
    pub v1: V1,
    /// Token answers do not reach the prober's position.
    pub hop_limit_too_low: bool,
    /// The inferred options (the hop limit is never observable).
    pub options: PartialOptions,
}

/// One `imdspec run --format json` report: the cases that did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// `(case id, level, outcome)` of every failed or errored case.
    pub failing: Vec<(String, String, String)>,
}

/// A document found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Doc {
    /// A probe output.
    Probe(Observed),
    /// A conformance report.
    Run(RunReport),
}

/// An error about the whole file (`FILE:1:1: (file): MESSAGE`).
pub fn whole_file(file: &str, message: impl Into<String>) -> LoadError {
    LoadError {
        file: PathBuf::from(file),
        line: 1,
        column: 1,
        field: WHOLE_FILE.to_owned(),
        message: message.into(),
    }
}

/// The field named at the head of a reader message (`Content.HttpTokens: expected …`) as
/// path segments, and the rest; no field for a message about the document as a whole.
fn split_field(message: &str) -> (Vec<Seg>, &str) {
    let Some((head, rest)) = message.split_once(": ") else {
        return (Vec::new(), message);
    };
    if head.contains(' ') || head.is_empty() {
        return (Vec::new(), message);
    }
    let mut path = Vec::new();
    for part in head.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            path.push(Seg::key(name));
        }
        if let Some(i) = index {
            path.push(Seg::Index(i.saturating_sub(1)));
        }
    }
    (path, rest)
}

/// An error about the document at `start..end` of `text`: at its field's key when the
/// message names one, else at the document's start.
fn in_document(file: &str, text: &str, start: usize, end: usize, message: &str) -> LoadError {
    let (path, rest) = split_field(message);
    let (line0, col0) = position(text, start);
    let doc = text.get(start..end).unwrap_or("");
    let (line, column) = if path.is_empty() {
        (line0, col0)
    } else {
        match Source::json(Path::new(file), doc).locate(&path) {
            (1, c) => (line0, col0 + c - 1),
            (l, c) => (line0 + l - 1, c),
        }
    };
    LoadError {
        file: PathBuf::from(file),
        line,
        column,
        field: if path.is_empty() {
            "(document)".to_owned()
        } else {
            render_path(&path)
        },
        message: rest.to_owned(),
    }
}

/// Every document in `bytes` (one JSON value, pretty or compact, or several one after the
/// other as JSON lines), and the first error, if any, as `FILE:LINE:COL: FIELD: MESSAGE`:
/// the documents before a bad line are kept. `file` names the input in errors.
pub fn documents(file: &str, bytes: &[u8]) -> (Vec<Doc>, Option<LoadError>) {
    let mut docs = Vec::new();
    // Text up to the first byte that is not UTF-8; that byte is the error.
    let (text, bad_utf8) = match std::str::from_utf8(bytes) {
        Ok(t) => (t, None),
        Err(e) => (
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
            Some(e.valid_up_to()),
        ),
    };
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut seen = false;
    loop {
        let before = stream.byte_offset();
        let Some(item) = stream.next() else { break };
        match item {
            Ok(v) => {
                seen = true;
                let end = stream.byte_offset();
                let start = before + text[before..end].len() - text[before..end].trim_start().len();
                if let Err(message) = classify(v, &mut docs) {
                    return (docs, Some(in_document(file, text, start, end, &message)));
                }
            }
            Err(e) => {
                if e.is_eof()
                    && let Some(at) = bad_utf8
                {
                    let (line, column) = position(text, at);
                    let e = LoadError {
                        file: PathBuf::from(file),
                        line,
                        column,
                        field: WHOLE_FILE.to_owned(),
                        message: "not UTF-8 text".to_owned(),
                    };
                    return (docs, Some(e));
                }
                let message = e.to_string();
                let message = message
                    .rsplit_once(" at line ")
                    .map_or(message.as_str(), |(m, _)| m)
                    .to_owned();
                let message = if e.is_eof() {
                    format!("truncated: {message}")
                } else {
                    message
                };
                return (
                    docs,
                    Some(LoadError {
                        file: PathBuf::from(file),
                        line: e.line().max(1),
                        column: e.column().max(1),
                        field: WHOLE_FILE.to_owned(),
                        message,
                    }),
                );
            }
        }
    }
    if let Some(at) = bad_utf8 {
        let (line, column) = position(text, at);
        let e = LoadError {
            file: PathBuf::from(file),
            line,
            column,
            field: WHOLE_FILE.to_owned(),
            message: "not UTF-8 text".to_owned(),
        };
        return (docs, Some(e));
    }
    if !seen {
        return (docs, Some(whole_file(file, "empty: no JSON document")));
    }
    (docs, None)
}

/// Sorts one JSON value into documents.
fn classify(v: Value, out: &mut Vec<Doc>) -> Result<(), String> {
    match v {
        Value::Array(items) => {
            if items.is_empty() {
                return Err("an empty array: no probe output in it".into());
            }
            items.into_iter().try_for_each(|i| classify(i, out))
        }
        Value::Object(o) => {
            out.push(object(o)?);
            Ok(())
        }
        other => Err(format!(
            "expected a JSON object (a probe output or a run report), found {}",
            kind(&other)
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn object(mut o: Map<String, Value>) -> Result<Doc, String> {
    if let Some(f) = o.get("format") {
        return match f.as_str() {
            Some(PROBE_FORMAT) => probe_json(&o).map(Doc::Probe),
            _ => Err(format!("format: {f} is not {PROBE_FORMAT}")),
        };
    }
    if let Some(t) = o.get("TypeName") {
        if t.as_str() != Some(SSM_TYPE_NAME) {
            return Err(format!("TypeName: {t} is not {SSM_TYPE_NAME}"));
        }
        let content = match o.remove("Content") {
            Some(Value::Array(mut maps)) if maps.len() == 1 => maps.pop().unwrap_or_default(),
            Some(Value::Array(maps)) => {
                return Err(format!("Content: expected one map, found {}", maps.len()));
            }
            Some(v @ Value::Object(_)) => v,
            _ => return Err("Content: missing or not a list of maps".into()),
        };
        let Value::Object(content) = content else {
            return Err("Content[1]: not a map".into());
        };
        return flat(&content, "", "Content.").map(Doc::Probe);
    }
    if let Some(findings) = o.remove("Findings") {
        // `batch-import-findings --cli-input-json` form: {"Findings": [...]}.
        let Value::Array(items) = findings else {
            return Err("Findings: not an array".into());
        };
        let mut docs = Vec::new();
        for i in items {
            classify(i, &mut docs)?;
        }
        return match <[Doc; 1]>::try_from(docs) {
            Ok([d]) => Ok(d),
            Err(v) => Err(format!(
                "Findings: expected one finding per instance, found {}",
                v.len()
            )),
        };
    }
    if let Some(fields) = o.get("ProductFields") {
        let Value::Object(fields) = fields else {
            return Err("ProductFields: not an object".into());
        };
        return flat(fields, ASFF_FIELD_PREFIX, "ProductFields.").map(Doc::Probe);
    }
    if let Some(c) = o.get("class_uid") {
        if c.as_u64() != Some(OCSF_CLASS_UID.into()) {
            return Err(format!(
                "class_uid: {c} is not {OCSF_CLASS_UID} (Compliance Finding)"
            ));
        }
        let Some(Value::Object(fields)) = o.get("unmapped") else {
            return Err("unmapped: missing (not an imdspec finding)".into());
        };
        return flat(fields, "", "unmapped.").map(Doc::Probe);
    }
    if o.get("command").and_then(Value::as_str) == Some("imdspec run") {
        return run_report(&o).map(Doc::Run);
    }
    Err(
        "not an imdspec probe output or run report (no format, TypeName, ProductFields, \
         class_uid or command field)"
            .into(),
    )
}

fn instance_id(v: Option<&str>, field: &str) -> Result<Option<String>, String> {
    match v {
        None | Some("") => Ok(None),
        Some(id) if is_instance_id(id) => Ok(Some(id.to_owned())),
        Some(id) => Err(format!("{field}: {id:?} is not an instance id")),
    }
}

/// `i-` (or `mi-` for SSM managed instances) and 8 to 17 lowercase hex digits.
pub fn is_instance_id(s: &str) -> bool {
    let hex = s.strip_prefix("i-").or_else(|| s.strip_prefix("mi-"));
    hex.is_some_and(|h| {
        (8..=17).contains(&h.len())
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn v1_of(s: &str, field: &str) -> Result<V1, String> {
    if s.is_empty() {
        return Ok(V1::Unknown);
    }
    let all = [V1::Open, V1::Closed, V1::Disabled, V1::Unknown];
    all.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
        format!("{field}: expected one of open, closed, disabled, unknown, got {s:?}")
    })
}

fn option<T: std::str::FromStr>(v: Option<&str>, field: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    match v {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<T>().map(Some).map_err(|e| {
            // The model's message starts with its own name for the field: ours replaces it.
            let e = e.to_string();
            let message = e.split_once(": ").map_or(e.as_str(), |(_, m)| m);
            format!("{field}: {message}")
        }),
    }
}

fn boolean(v: Option<&str>, field: &str) -> Result<bool, String> {
    match v {
        Some("true") => Ok(true),
        Some("false") | None => Ok(false),
        Some(other) => Err(format!("{field}: expected true or false, got {other:?}")),
    }
}

/// The probe's flat summary (SSM `Content`, ASFF `ProductFields`, OCSF `unmapped`).
fn flat(m: &Map<String, Value>, prefix: &str, at: &str) -> Result<Observed, String> {
    let get = |k: &str| -> Result<Option<&str>, String> {
        match m.get(&format!("{prefix}{k}")) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(format!(
                "{at}{prefix}{k}: expected a string, found {}",
                kind(v)
            )),
        }
    };
    let name = |k: &str| format!("{at}{prefix}{k}");
    match get(key::FORMAT)? {
        Some(PROBE_FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "{}: {other:?} is not {PROBE_FORMAT}",
                name(key::FORMAT)
            ));
        }
        None => {
            return Err(format!(
                "{}: missing (not an imdspec probe)",
                name(key::FORMAT)
            ));
        }
    }
    Ok(Observed {
        instance_id: instance_id(get(key::INSTANCE_ID)?, &name(key::INSTANCE_ID))?,
        answers: boolean(get(key::ANSWERS)?, &name(key::ANSWERS))?,
        v1: v1_of(get(key::IMDSV1)?.unwrap_or(""), &name(key::IMDSV1))?,
        hop_limit_too_low: boolean(get(key::HOP_LIMIT_TOO_LOW)?, &name(key::HOP_LIMIT_TOO_LOW))?,
        options: PartialOptions {
            http_tokens: option::<HttpTokens>(get(key::HTTP_TOKENS)?, &name(key::HTTP_TOKENS))?,
            http_endpoint: option::<Toggle>(get(key::HTTP_ENDPOINT)?, &name(key::HTTP_ENDPOINT))?,
            instance_metadata_tags: option::<Toggle>(
                get(key::INSTANCE_METADATA_TAGS)?,
                &name(key::INSTANCE_METADATA_TAGS),
            )?,
            http_protocol_ipv6: option::<Toggle>(
                get(key::HTTP_PROTOCOL_IPV6)?,
                &name(key::HTTP_PROTOCOL_IPV6),
            )?,
            http_put_response_hop_limit: None,
        },
    })
}

/// A string or null field of a JSON document.
fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> Result<Option<&'a str>, String> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{k}: expected a string or null, found {}", kind(v))),
    }
}

/// `imdspec probe --format json|jsonl`.
fn probe_json(o: &Map<String, Value>) -> Result<Observed, String> {
    let answered = |step: &Value| step.get("status").is_some_and(Value::is_u64);
    let answers = match o.get("observations").and_then(|x| x.get("endpoints")) {
        Some(Value::Array(eps)) => eps
            .iter()
            .any(|e| answered(&e["token_put"]) || answered(&e["tokenless_get"])),
        _ => return Err("observations.endpoints: missing or not an array".into()),
    };
    let hop = match o.get("hop_limit_too_low") {
        Some(Value::Bool(b)) => *b,
        None => false,
        Some(v) => {
            return Err(format!(
                "hop_limit_too_low: expected a boolean, found {}",
                kind(v)
            ));
        }
    };
    Ok(Observed {
        instance_id: instance_id(str_field(o, "InstanceId")?, "InstanceId")?,
        answers,
        v1: v1_of(str_field(o, "imdsv1")?.unwrap_or(""), "imdsv1")?,
        hop_limit_too_low: hop,
        options: PartialOptions {
            http_tokens: option(str_field(o, "HttpTokens")?, "HttpTokens")?,
            http_endpoint: option(str_field(o, "HttpEndpoint")?, "HttpEndpoint")?,
            instance_metadata_tags: option(
                str_field(o, "InstanceMetadataTags")?,
                "InstanceMetadataTags",
            )?,
            http_protocol_ipv6: option(str_field(o, "HttpProtocolIpv6")?, "HttpProtocolIpv6")?,
            http_put_response_hop_limit: None,
        },
    })
}

/// `imdspec run --format json`: the failed and errored cases.
fn run_report(o: &Map<String, Value>) -> Result<RunReport, String> {
    let Some(Value::Array(cases)) = o.get("cases") else {
        return Err("cases: missing or not an array".into());
    };
    let mut failing = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let field = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("cases[{}].{k}: missing or not a string", i + 1))
        };
        let outcome = field("outcome")?;
        if matches!(outcome, "fail" | "error") {
            failing.push((
                field("id")?.to_owned(),
                field("level")?.to_owned(),
                outcome.to_owned(),
            ));
        }
    }
    Ok(RunReport { failing })
}

/// The instance id in a path: the last component that is one (`…/<instance-id>/…/stdout` of
/// Run Command's S3 output), else the file name without extension (`i-….json`).
pub fn instance_id_from_path(path: &std::path::Path) -> Option<String> {
    let from_dirs = path.parent().and_then(|p| {
        p.components()
            .rev()
            .filter_map(|c| c.as_os_str().to_str())
            .find(|c| is_instance_id(c))
    });
    from_dirs
        .or_else(|| path.file_stem()?.to_str().filter(|s| is_instance_id(s)))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the probe writes through [`ProbeHead`] and the flat [`key`]s reads back.
    #[test]
    fn the_written_fields_read_back() {
        let head = ProbeHead {
            instance_id: Some("i-0123456789abcdef0"),
            http_tokens: Some(HttpTokens::Optional),
            http_endpoint: Some(Toggle::Enabled),
            instance_metadata_tags: None,
            http_protocol_ipv6: Some(Toggle::Disabled),
            imdsv1: V1::Open,
            imdsv2: V2::HopLimited,
            hop_limit_too_low: true,
        };
        let mut doc = serde_json::to_value(head).unwrap();
        doc["format"] = PROBE_FORMAT.into();
        doc["observations"] =
            serde_json::json!({"endpoints": [{"tokenless_get": {"status": 200}}]});
        let want = Observed {
            instance_id: Some("i-0123456789abcdef0".into()),
            answers: true,
            v1: V1::Open,
            hop_limit_too_low: true,
            options: PartialOptions {
                http_tokens: Some(HttpTokens::Optional),
                http_endpoint: Some(Toggle::Enabled),
                http_protocol_ipv6: Some(Toggle::Disabled),
                ..PartialOptions::default()
            },
        };
        let (docs, e) = documents("x.json", doc.to_string().as_bytes());
        assert_eq!((docs, e), (vec![Doc::Probe(want.clone())], None));

        let flat: Map<String, Value> = [
            (key::FORMAT, PROBE_FORMAT),
            (key::INSTANCE_ID, "i-0123456789abcdef0"),
            (key::ANSWERS, "true"),
            (key::IMDSV1, V1::Open.as_str()),
            (key::IMDSV2, V2::HopLimited.as_str()),
            (key::HOP_LIMIT_TOO_LOW, "true"),
            (key::HTTP_TOKENS, "optional"),
            (key::HTTP_ENDPOINT, "enabled"),
            (key::INSTANCE_METADATA_TAGS, ""),
            (key::HTTP_PROTOCOL_IPV6, "disabled"),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{ASFF_FIELD_PREFIX}{k}"), Value::from(v)))
        .collect();
        let asff = serde_json::json!({ "ProductFields": flat });
        let (docs, e) = documents("asff.json", asff.to_string().as_bytes());
        assert_eq!((docs, e), (vec![Doc::Probe(want)], None));
        assert_eq!(ASFF_FIELD_PREFIX, format!("{GENERATOR}/"));
    }
}
