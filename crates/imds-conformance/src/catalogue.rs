//! The case catalogue (`conformance/cases/*.toml`) and the documented path catalogue
//! (`conformance/paths.toml`), loaded and checked.
//!
//! A broken file is refused with the shared loader error (`FILE:LINE:COL: FIELD: MESSAGE`,
//! see `imds_diag`), so a typo in a case never silently drops a check. Keys are
//! kebab-case; the old snake_case spelling is still read. The ids in `NAME.toml` all start
//! with `NAME.`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use http::{HeaderName, Method};
use imds_diag::{LoadError, Seg, Source, position};
use imds_files::catalogue::{At, CatalogueFile, embedded, field_path, load_entries};
use imds_model::{HttpTokens, Toggle, Version};
use imds_report::Expectations;

use regex::Regex;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::check::Check;

/// How much a case's failure matters (shared with the other checks, in `imds-report`).
pub use imds_report::Level;

/// Which target options a case needs; a case whose needs do not fit is skipped.
///
/// `endpoint` left out means `enabled`: almost every case needs a working endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applies {
    /// `HttpTokens` the case needs.
    #[serde(default)]
    pub tokens: Option<HttpTokens>,
    /// `HttpEndpoint` the case needs (default: enabled).
    #[serde(default)]
    pub endpoint: Option<EndpointNeed>,
    /// `InstanceMetadataTags` the case needs.
    #[serde(default)]
    pub tags: Option<Toggle>,
    /// `HttpProtocolIpv6` the case needs.
    #[serde(default)]
    pub ipv6: Option<Toggle>,
}

/// The `HttpEndpoint` a case needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointNeed {
    /// IMDS on (the default for every case).
    Enabled,
    /// IMDS off.
    Disabled,
    /// Either (cases that check the setting itself).
    Any,
}

/// Instance content a case needs; without it the case is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// An attached IAM role (`{role}`).
    Role,
    /// A launch key (`{key_index}`).
    PublicKey,
    /// User data.
    UserData,
    /// At least one instance tag visible (`{tag_key}`).
    Tag,
    /// The primary MAC (`{mac}`).
    Mac,
}

impl Need {
    /// What is missing, for skip messages.
    pub fn describe(self) -> &'static str {
        match self {
            Need::Role => "no IAM role attached",
            Need::PublicKey => "no launch key",
            Need::UserData => "no user data",
            Need::Tag => "no instance tag visible",
            Need::Mac => "no mac",
        }
    }

    fn from_placeholder(name: &str) -> Option<Need> {
        match name {
            "role" => Some(Need::Role),
            "key_index" => Some(Need::PublicKey),
            "tag_key" => Some(Need::Tag),
            "mac" => Some(Need::Mac),
            _ => None,
        }
    }
}

/// Which token a step sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenUse {
    /// The session token; when the endpoint gave none and it is in optional mode, no token
    /// (so content checks still run against IMDSv1-only endpoints). The default.
    #[default]
    Auto,
    /// The run's shared session token (TTL 21600), fetched once; `error` without one.
    Session,
    /// No token header.
    None,
    /// A token fetched for this step with `token_ttl` (default 21600).
    Fresh,
    /// A well-formed token this endpoint never issued.
    Invalid,
    /// A token fetched with `token_ttl` (default 1) and left to expire before the step.
    Expired,
    /// The body of the latest successful PUT step of this case.
    FromPut,
}

/// The JSON type a value must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonKind {
    /// Any JSON value.
    Any,
    /// An object.
    Object,
    /// An array.
    Array,
    /// A string.
    String,
    /// A number.
    Number,
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool,
}

impl JsonKind {
    /// True when `v` has this kind.
    pub fn matches(self, v: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        matches!(
            (self, v),
            (JsonKind::Any, _)
                | (JsonKind::Object, V::Object(_))
                | (JsonKind::Array, V::Array(_))
                | (JsonKind::String, V::String(_))
                | (JsonKind::Number, V::Number(_))
                | (JsonKind::Null, V::Null)
                | (JsonKind::Bool, V::Bool(_))
        )
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCaseFile {
    #[serde(default)]
    case: Vec<Spanned<RawCase>>,
}

impl CatalogueFile for RawCaseFile {
    type Entry = Spanned<RawCase>;
    const TABLE: &'static str = "case";
    fn entries(self) -> Vec<Spanned<RawCase>> {
        self.case
    }
    fn id(entry: &Spanned<RawCase>) -> &str {
        &entry.get_ref().id
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCase {
    id: String,
    summary: String,
    doc: String,
    level: Level,
    #[serde(default)]
    spec: Option<String>,
    #[serde(default)]
    applies: Applies,
    #[serde(default)]
    needs: Vec<Need>,
    #[serde(default)]
    check: Option<Check>,
    #[serde(default)]
    step: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStep {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    token: TokenUse,
    #[serde(default, alias = "token_ttl")]
    token_ttl: Option<u32>,
    #[serde(default, alias = "wait_ms")]
    wait_ms: u64,
    #[serde(default, alias = "title_case_headers")]
    title_case_headers: bool,
    #[serde(default, alias = "allow_absent")]
    allow_absent: bool,
    #[serde(default)]
    expect: RawExpect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExpect {
    #[serde(default)]
    status: Option<OneOrMany<u16>>,
    #[serde(default, alias = "status_not")]
    status_not: Vec<u16>,
    #[serde(default, alias = "content_type")]
    content_type: Option<String>,
    #[serde(default)]
    headers: RawHeaderExpect,
    #[serde(default)]
    body: RawBodyExpect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHeaderExpect {
    #[serde(default)]
    present: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    #[serde(default)]
    equals: BTreeMap<String, String>,
    #[serde(default)]
    matches: BTreeMap<String, String>,
    #[serde(default, alias = "int_range")]
    int_range: BTreeMap<String, [i64; 2]>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawBodyExpect {
    #[serde(default)]
    equals: Option<String>,
    #[serde(default)]
    matches: Option<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default, alias = "not_contains")]
    not_contains: Vec<String>,
    #[serde(default)]
    empty: Option<bool>,
    #[serde(default, alias = "final_newline")]
    final_newline: Option<bool>,
    #[serde(default, alias = "max_bytes")]
    max_bytes: Option<usize>,
    #[serde(default, alias = "lines_match")]
    lines_match: Option<String>,
    #[serde(default)]
    listing: bool,
    #[serde(default, alias = "listing_has")]
    listing_has: Vec<String>,
    #[serde(default, alias = "listing_lacks")]
    listing_lacks: Vec<String>,
    #[serde(default)]
    json: Option<JsonKind>,
    #[serde(default, alias = "json_keys")]
    json_keys: Vec<String>,
    #[serde(default, alias = "json_values")]
    json_values: BTreeMap<String, String>,
    #[serde(default, alias = "json_types")]
    json_types: BTreeMap<String, OneOrMany<JsonKind>>,
    #[serde(default, alias = "same_as_step")]
    same_as_step: Option<usize>,
    #[serde(default, alias = "differs_from_step")]
    differs_from_step: Option<usize>,
}

/// One conformance case.
#[derive(Clone, Debug)]
pub struct Case {
    /// Stable dotted id, never reused.
    pub id: String,
    /// One line saying what is checked.
    pub summary: String,
    /// AWS documentation URL for the rule.
    pub doc: String,
    /// How much a failure matters.
    pub level: Level,
    /// The area (the case file's stem: `tokens`, `ttl`, …).
    pub area: String,
    /// The spec section, e.g. `§2.2`.
    pub spec: Option<String>,
    /// Options the case needs.
    pub applies: Applies,
    /// Instance content the case needs.
    pub needs: Vec<Need>,
    /// Steps, or the name of a check written in code.
    pub body: CaseBody,
    /// Where the case was defined.
    pub source: SourceLocation,
}

/// A file and line, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// What a case does.
#[derive(Clone, Debug)]
pub enum CaseBody {
    /// Requests with expectations, in order.
    Steps(Vec<Step>),
    /// A check written in code ([`crate::checks`]).
    Check(Check),
}

/// One request of a data case and what its answer must look like.
#[derive(Clone, Debug)]
pub struct Step {
    /// HTTP method.
    pub method: Method,
    /// Path, possibly with `{role}`, `{mac}`, `{key_index}`, `{tag_key}` placeholders.
    pub path: String,
    /// Extra request headers.
    pub headers: Vec<(HeaderName, String)>,
    /// Which token to send.
    pub token: TokenUse,
    /// TTL for `fresh`/`expired` tokens.
    pub token_ttl: Option<u32>,
    /// Wait this long (after getting the token) before sending.
    pub wait_ms: u64,
    /// Send header names in Title-Case (as Go does).
    pub title_case_headers: bool,
    /// A 404 passes the step without checking the rest (for items that may be absent).
    pub allow_absent: bool,
    /// What the answer must look like.
    pub expect: Expect,
}

/// Expectations on one response.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// Allowed statuses (any when empty).
    pub status: Vec<u16>,
    /// Forbidden statuses.
    pub status_not: Vec<u16>,
    /// Media type of `Content-Type` (parameters ignored, case-insensitive).
    pub content_type: Option<String>,
    /// Headers that must be present.
    pub header_present: Vec<HeaderName>,
    /// Headers that must be absent.
    pub header_absent: Vec<HeaderName>,
    /// Headers that must equal a value.
    pub header_equals: Vec<(HeaderName, String)>,
    /// Headers that must match a regex.
    pub header_matches: Vec<(HeaderName, Regex)>,
    /// Headers that must be integers in a closed range.
    pub header_int_range: Vec<(HeaderName, i64, i64)>,
    /// Body expectations.
    pub body: BodyExpect,
}

/// Expectations on a response body.
#[derive(Clone, Debug, Default)]
pub struct BodyExpect {
    /// Exact body.
    pub equals: Option<String>,
    /// Regex the body must match (use anchors for whole-body matches).
    pub matches: Option<Regex>,
    /// Substrings that must appear.
    pub contains: Vec<String>,
    /// Substrings that must not appear.
    pub not_contains: Vec<String>,
    /// Body must (true) or must not (false) be empty.
    pub empty: Option<bool>,
    /// Body must (true) or must not (false) end with LF.
    pub final_newline: Option<bool>,
    /// Largest allowed body.
    pub max_bytes: Option<usize>,
    /// Every line must match.
    pub lines_match: Option<Regex>,
    /// Body must be a well-formed listing.
    pub listing: bool,
    /// Listing lines that must appear (as printed, `iam/` for a directory).
    pub listing_has: Vec<String>,
    /// Listing lines that must not appear.
    pub listing_lacks: Vec<String>,
    /// Body must be JSON of this kind.
    pub json: Option<JsonKind>,
    /// Top-level keys the JSON object must have.
    pub json_keys: Vec<String>,
    /// Top-level string values that must match a regex.
    pub json_values: Vec<(String, Regex)>,
    /// Top-level values that must have one of these kinds.
    pub json_types: Vec<(String, Vec<JsonKind>)>,
    /// Body must equal that of an earlier step (1-based).
    pub same_as_step: Option<usize>,
    /// Body must differ from that of an earlier step (1-based).
    pub differs_from_step: Option<usize>,
}

/// One documented path (`conformance/paths.toml`).
#[derive(Clone, Debug)]
pub struct DocumentedPath {
    /// Path below a version prefix, with `{name}` placeholders for one segment each.
    pub path: String,
    /// The first version that serves it.
    pub since: Version,
    /// When it must be there.
    pub presence: Presence,
    /// The value format.
    pub format: Option<Format>,
    segments: Vec<String>,
}

impl DocumentedPath {
    /// True when `path` (below the version prefix, no slashes at the ends) fits this template.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        parts.len() == self.segments.len()
            && self
                .segments
                .iter()
                .zip(&parts)
                .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
    }

    /// True when the template has no placeholders.
    pub fn is_concrete(&self) -> bool {
        !self.path.contains('{')
    }
}

/// When a documented path must exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// On every instance.
    Always,
    /// When the feature is configured (role, key, tags, user data, spot notice, …).
    Configured,
    /// May be absent (404) on any instance.
    Optional,
    /// On every instance launched after the category appeared; instances launched before
    /// keep the categories they had at launch (SPEC §13.2), so a 404 is no failure.
    Launched,
}

/// A documented value format.
#[derive(Clone, Debug)]
pub enum Format {
    /// The whole body matches.
    Regex(Regex),
    /// Every line matches.
    Lines(Regex),
    /// One of these words.
    Enum(Vec<String>),
    /// A JSON object with these keys.
    JsonKeys(Vec<String>),
    /// A JSON array.
    JsonArray,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPathsFile {
    #[serde(default)]
    path: Vec<RawPath>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPath {
    path: String,
    since: String,
    presence: Presence,
    #[serde(default)]
    format: Option<RawFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFormat {
    #[serde(default)]
    regex: Option<String>,
    #[serde(default)]
    lines: Option<String>,
    #[serde(default, rename = "enum")]
    one_of: Option<Vec<String>>,
    #[serde(default, alias = "json_keys")]
    json_keys: Option<Vec<String>>,
    #[serde(default, alias = "json_array")]
    json_array: bool,
}

/// Everything loaded from `conformance/`.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// Cases, sorted by id.
    pub cases: Vec<Case>,
    /// Documented paths.
    pub paths: Vec<DocumentedPath>,
}

/// Why a catalogue file was refused: the shared loader error
/// (`FILE:LINE:COL: FIELD: MESSAGE`), kept under this name for the runner's callers.
pub type CatalogueError = LoadError;

/// Errors of one case, through the shared catalogue loader's [`At`].
struct Ctx<'a, 'b> {
    at: &'b At<'a>,
}

impl Ctx<'_, '_> {
    fn err(&self, field: impl AsRef<str>, message: impl Into<String>) -> CatalogueError {
        self.at.err(field.as_ref(), message)
    }

    fn regex(&self, field: &str, pattern: &str) -> Result<Regex, CatalogueError> {
        Regex::new(pattern).map_err(|e| self.err(field, format!("invalid regex: {e}")))
    }

    fn header(&self, field: &str, name: &str) -> Result<HeaderName, CatalogueError> {
        HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| self.err(field, format!("{name:?} is not a header name")))
    }
}

fn placeholders(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(&rest[start + 1..start + len]);
        rest = &rest[start + len + 1..];
    }
    out
}

fn convert_case(at: &At<'_>, raw: Spanned<RawCase>) -> Result<Case, CatalogueError> {
    let src = at.src;
    let (line, _) = position(src.text, raw.span().start);
    let raw = raw.into_inner();
    let cx = Ctx { at };
    if raw.summary.trim().is_empty() || raw.summary.contains('\n') {
        return Err(cx.err("summary", "must be one non-empty line"));
    }
    if !raw.doc.starts_with("https://") {
        return Err(cx.err("doc", "must be an https:// documentation URL"));
    }
    let mut needs = raw.needs.clone();
    let body = match (raw.check, raw.step.is_empty()) {
        (Some(_), false) => return Err(cx.err("check", "a case has either `check` or steps")),
        (None, true) => return Err(cx.err("step", "a case needs at least one step or a `check`")),
        (Some(check), true) => CaseBody::Check(check),
        (None, false) => {
            let mut steps = Vec::new();
            for (i, s) in raw.step.into_iter().enumerate() {
                let n = i + 1;
                for p in placeholders(&s.path) {
                    match Need::from_placeholder(p) {
                        Some(need) => {
                            if !needs.contains(&need) {
                                needs.push(need);
                            }
                        }
                        None => {
                            return Err(cx.err(
                                format!("step[{n}].path"),
                                format!("unknown placeholder {{{p}}}"),
                            ));
                        }
                    }
                }
                steps.push(convert_step(&cx, n, s)?);
            }
            for (i, s) in steps.iter().enumerate() {
                for (field, r) in [
                    ("same-as-step", s.expect.body.same_as_step),
                    ("differs-from-step", s.expect.body.differs_from_step),
                ] {
                    if r.is_some_and(|r| r == 0 || r > i) {
                        return Err(cx.err(
                            format!("step[{}].expect.body.{field}", i + 1),
                            "must name an earlier step (1-based)",
                        ));
                    }
                }
            }
            CaseBody::Steps(steps)
        }
    };
    Ok(Case {
        id: raw.id,
        summary: raw.summary,
        doc: raw.doc,
        level: raw.level,
        area: at.area.to_owned(),
        spec: raw.spec,
        applies: raw.applies,
        needs,
        body,
        source: SourceLocation {
            file: src.file.to_owned(),
            line,
        },
    })
}

fn convert_step(cx: &Ctx<'_, '_>, n: usize, s: RawStep) -> Result<Step, CatalogueError> {
    let f = |name: &str| format!("step[{n}].{name}");
    let method = match s.method.as_deref() {
        None => Method::GET,
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| cx.err(f("method"), format!("{m:?} is not an HTTP method")))?,
    };
    if !s.path.starts_with('/') {
        return Err(cx.err(f("path"), "must start with '/'"));
    }
    let mut headers = Vec::new();
    for (k, v) in &s.headers {
        let name = cx.header(&f("headers"), k)?;
        if http::HeaderValue::from_str(v).is_err() {
            return Err(cx.err(f("headers"), format!("{v:?} is not a header value")));
        }
        headers.push((name, v.clone()));
    }
    if s.token_ttl.is_some() && !matches!(s.token, TokenUse::Fresh | TokenUse::Expired) {
        return Err(cx.err(f("token-ttl"), "only for token = \"fresh\" or \"expired\""));
    }
    let e = s.expect;
    let ef = |name: &str| format!("step[{n}].expect.{name}");
    let mut expect = Expect {
        status: e.status.map(OneOrMany::into_vec).unwrap_or_default(),
        status_not: e.status_not,
        content_type: e.content_type,
        ..Expect::default()
    };
    for st in expect.status.iter().chain(&expect.status_not) {
        if !(100..=599).contains(st) {
            return Err(cx.err(ef("status"), format!("{st} is not an HTTP status")));
        }
    }
    for h in &e.headers.present {
        expect
            .header_present
            .push(cx.header(&ef("headers.present"), h)?);
    }
    for h in &e.headers.absent {
        expect
            .header_absent
            .push(cx.header(&ef("headers.absent"), h)?);
    }
    for (k, v) in e.headers.equals {
        expect
            .header_equals
            .push((cx.header(&ef("headers.equals"), &k)?, v));
    }
    for (k, v) in e.headers.matches {
        let field = ef("headers.matches");
        expect
            .header_matches
            .push((cx.header(&field, &k)?, cx.regex(&field, &v)?));
    }
    for (k, [lo, hi]) in e.headers.int_range {
        let field = ef("headers.int-range");
        if lo > hi {
            return Err(cx.err(field, format!("empty range [{lo}, {hi}]")));
        }
        expect
            .header_int_range
            .push((cx.header(&field, &k)?, lo, hi));
    }
    let b = e.body;
    let bf = |name: &str| format!("step[{n}].expect.body.{name}");
    expect.body = BodyExpect {
        equals: b.equals,
        matches: b
            .matches
            .map(|r| cx.regex(&bf("matches"), &r))
            .transpose()?,
        contains: b.contains,
        not_contains: b.not_contains,
        empty: b.empty,
        final_newline: b.final_newline,
        max_bytes: b.max_bytes,
        lines_match: b
            .lines_match
            .map(|r| cx.regex(&bf("lines-match"), &r))
            .transpose()?,
        listing: b.listing || !b.listing_has.is_empty() || !b.listing_lacks.is_empty(),
        listing_has: b.listing_has,
        listing_lacks: b.listing_lacks,
        json: b.json.or_else(|| {
            (!b.json_keys.is_empty() || !b.json_values.is_empty() || !b.json_types.is_empty())
                .then_some(JsonKind::Object)
        }),
        json_keys: b.json_keys,
        json_values: b
            .json_values
            .into_iter()
            .map(|(k, v)| Ok((k, cx.regex(&bf("json-values"), &v)?)))
            .collect::<Result<_, CatalogueError>>()?,
        json_types: b
            .json_types
            .into_iter()
            .map(|(k, v)| (k, v.into_vec()))
            .collect(),
        same_as_step: b.same_as_step,
        differs_from_step: b.differs_from_step,
    };
    Ok(Step {
        method,
        path: s.path,
        headers,
        token: s.token,
        token_ttl: s.token_ttl,
        wait_ms: s.wait_ms,
        title_case_headers: s.title_case_headers,
        allow_absent: s.allow_absent,
        expect,
    })
}

impl Catalogue {
    /// Loads `dir/cases/*.toml` and `dir/paths.toml`.
    pub fn load(dir: &Path) -> Result<Catalogue, CatalogueError> {
        let sources = imds_files::toml_files(&dir.join("cases"))?;
        let paths_file = dir.join("paths.toml");
        let paths_text = imds_files::read(&paths_file)?;
        Catalogue::from_sources(&sources, Some((&paths_file, &paths_text)))
    }

    /// The catalogue compiled in from `conformance/cases` and `conformance/paths.toml`.
    pub fn embedded() -> Result<Catalogue, CatalogueError> {
        let (paths_file, paths_text) = embedded::PATHS;
        Catalogue::from_sources(
            &embedded::CASES.sources(),
            Some((Path::new(paths_file), paths_text)),
        )
    }

    /// Builds a catalogue from in-memory case files (`(file name, text)`) and an optional
    /// paths file. The area of each case is its file's stem.
    pub fn from_sources(
        case_files: &[(PathBuf, String)],
        paths: Option<(&Path, &str)>,
    ) -> Result<Catalogue, CatalogueError> {
        let mut cases = load_entries::<RawCaseFile, _>(case_files, convert_case)?;
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let paths = match paths {
            Some((file, text)) => load_paths(file, text)?,
            None => Vec::new(),
        };
        Ok(Catalogue { cases, paths })
    }

    /// The entries of `expectations` that match no case of this catalogue.
    pub fn stale(&self, expectations: &Expectations) -> Vec<String> {
        expectations.stale_entries(self.cases.iter().map(|c| c.id.as_str()))
    }

    /// The case with this id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The documented path template that `path` (below a version prefix) fits, if any.
    pub fn documented(&self, path: &str) -> Option<&DocumentedPath> {
        // Concrete templates win over placeholder ones.
        self.paths
            .iter()
            .filter(|p| p.matches(path))
            .min_by_key(|p| !p.is_concrete())
    }

    /// True when some documented path lies below `path` (so `path` is a directory).
    pub fn is_documented_dir(&self, path: &str) -> bool {
        let depth = path.split('/').count();
        self.paths.iter().any(|p| {
            p.segments.len() > depth && {
                let prefix = DocumentedPath {
                    path: p.segments[..depth].join("/"),
                    since: p.since,
                    presence: p.presence,
                    format: None,
                    segments: p.segments[..depth].to_vec(),
                };
                prefix.matches(path)
            }
        })
    }

    /// The earliest version that serves anything under the top-level entry `name` of `area`
    /// (`meta-data` or `dynamic`); `None` when the catalogue does not know it.
    pub fn since_of(&self, area: &str, name: &str) -> Option<Version> {
        let prefix = format!("{area}/{name}");
        self.paths
            .iter()
            .filter(|p| p.path == prefix || p.path.starts_with(&format!("{prefix}/")))
            .map(|p| p.since)
            .min()
    }
}

fn load_paths(file: &Path, text: &str) -> Result<Vec<DocumentedPath>, CatalogueError> {
    let src = Source::toml(file, text);
    let raw: RawPathsFile = src.parse()?;
    let mut out: Vec<DocumentedPath> = Vec::new();
    for (index, rp) in raw.path.into_iter().enumerate() {
        let err = |field: &str, message: String| {
            let mut at = vec![Seg::key("path"), Seg::Index(index)];
            at.extend(field_path(field));
            src.at_field(&at, format!("path `{}`: {message}", rp.path))
        };
        if rp.path.starts_with('/') || rp.path.ends_with('/') || rp.path.is_empty() {
            return Err(err(
                "path",
                "give it without leading or trailing '/'".into(),
            ));
        }
        if out.iter().any(|p| p.path == rp.path) {
            return Err(err("path", "listed twice".into()));
        }
        let since = Version::parse(&rp.since)
            .ok_or_else(|| err("since", format!("{:?} is not a version", rp.since)))?;
        let regex = |field: &str, r: &str| {
            Regex::new(r).map_err(|e| err(field, format!("invalid regex: {e}")))
        };
        let format = match rp.format {
            None => None,
            Some(f) => {
                let mut found = Vec::new();
                if let Some(r) = &f.regex {
                    found.push(Format::Regex(regex("format.regex", r)?));
                }
                if let Some(r) = &f.lines {
                    found.push(Format::Lines(regex("format.lines", r)?));
                }
                if let Some(words) = f.one_of {
                    found.push(Format::Enum(words));
                }
                if let Some(keys) = f.json_keys {
                    found.push(Format::JsonKeys(keys));
                }
                if f.json_array {
                    found.push(Format::JsonArray);
                }
                if found.len() != 1 {
                    return Err(err(
                        "format",
                        "give exactly one of regex, lines, enum, json-keys, json-array".into(),
                    ));
                }
                found.pop()
            }
        };
        out.push(DocumentedPath {
            segments: rp.path.split('/').map(str::to_owned).collect(),
            path: rp.path,
            since,
            presence: rp.presence,
            format,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Catalogue, CatalogueError> {
        load_as("cases/token.toml", text)
    }

    fn load_as(file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::from_sources(&[(PathBuf::from(file), text.to_owned())], None)
    }

    const GOOD: &str = r#"
[[case]]
id = "token.put.ok"
summary = "A token PUT works"
doc = "https://docs.aws.amazon.com/x"
level = "must"

[[case.step]]
method = "PUT"
path = "/latest/api/token"
headers = { "x-aws-ec2-metadata-token-ttl-seconds" = "21600" }
token = "none"
expect.status = 200
expect.headers.equals = { "x-aws-ec2-metadata-token-ttl-seconds" = "21600" }
expect.body.final-newline = false
"#;

    #[test]
    fn loads_a_good_case() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.cases.len(), 1);
        let case = &c.cases[0];
        assert_eq!(case.area, "token");
        assert_eq!(case.source.line, 2);
        let CaseBody::Steps(steps) = &case.body else {
            panic!("steps")
        };
        assert_eq!(steps[0].method, Method::PUT);
        assert_eq!(steps[0].expect.status, vec![200]);
        assert_eq!(steps[0].expect.body.final_newline, Some(false));
    }

    #[test]
    fn kebab_and_old_snake_keys_load_the_same() {
        let kebab = r#"
[[case]]
id = "token.a.b"
summary = "s"
doc = "https://docs.aws.amazon.com/x"
level = "should"
[[case.step]]
path = "/latest/meta-data/"
token = "fresh"
token-ttl = 60
wait-ms = 5
title-case-headers = true
allow-absent = true
expect.status-not = [500]
expect.content-type = "text/plain"
expect.headers.int-range = { "content-length" = [0, 9] }
expect.body = { not-contains = ["x"], final-newline = false, max-bytes = 9, lines-match = "^a$", listing-has = ["a"], listing-lacks = ["b"] }
[[case.step]]
path = "/latest/dynamic/instance-identity/document"
expect.body = { json-keys = ["a"], json-values = { a = "^b$" }, json-types = { a = "string" }, same-as-step = 1 }
[[case.step]]
path = "/latest/"
expect.body.differs-from-step = 2
"#;
        // The same case in the old snake_case spelling, still read.
        let snake = kebab
            .replace("token-ttl", "token_ttl")
            .replace("wait-ms", "wait_ms")
            .replace("title-case-headers", "title_case_headers")
            .replace("allow-absent", "allow_absent")
            .replace("status-not", "status_not")
            .replace("content-type =", "content_type =")
            .replace("int-range", "int_range")
            .replace("not-contains", "not_contains")
            .replace("final-newline", "final_newline")
            .replace("max-bytes", "max_bytes")
            .replace("lines-match", "lines_match")
            .replace("listing-has", "listing_has")
            .replace("listing-lacks", "listing_lacks")
            .replace("json-keys", "json_keys")
            .replace("json-values", "json_values")
            .replace("json-types", "json_types")
            .replace("same-as-step", "same_as_step")
            .replace("differs-from-step", "differs_from_step");
        // 18 keys, three of them of three words.
        assert_eq!(snake.matches('_').count(), 21, "{snake}");
        let a = load(kebab).unwrap();
        let b = load(&snake).unwrap();
        let steps = |c: &Catalogue| format!("{:?}", c.cases[0].body);
        assert_eq!(steps(&a), steps(&b));
        let CaseBody::Steps(s) = &a.cases[0].body else {
            panic!("steps")
        };
        assert_eq!((s[0].token_ttl, s[0].wait_ms), (Some(60), 5));
        assert!(s[0].title_case_headers && s[0].allow_absent);
        assert_eq!(s[0].expect.body.max_bytes, Some(9));
        assert_eq!(s[1].expect.body.same_as_step, Some(1));
        assert_eq!(s[2].expect.body.differs_from_step, Some(2));
    }

    #[test]
    fn unknown_key_names_file_line_column_path_and_suggests() {
        let bad = GOOD.replace("expect.status = 200", "expect.statuz = 200");
        let e = load(&bad).unwrap_err();
        assert_eq!(e.field, "case[1].step[1].expect.statuz", "{e}");
        assert_eq!((e.line, e.column), (13, 8), "{e}");
        assert_eq!(
            e.to_string(),
            "cases/token.toml:13:8: case[1].step[1].expect.statuz: unknown key `statuz`; did you mean `status`?"
        );
        let e = load(&GOOD.replace("final-newline", "final-newlin")).unwrap_err();
        assert!(e.message.contains("did you mean `final-newline`?"), "{e}");
    }

    #[test]
    fn bad_level_names_the_field() {
        let e = load(&GOOD.replace("\"must\"", "\"mustt\"")).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.line, e.column),
            ("case[1].level", 6, 9),
            "{e}"
        );
        assert!(e.message.contains("did you mean `must`?"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_field_path() {
        let e = load(&GOOD.replace("token = \"none\"", "wait-ms = \"soon\"")).unwrap_err();
        assert_eq!(e.field, "case[1].step[1].wait-ms", "{e}");
        assert_eq!((e.line, e.column), (12, 11), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn bad_toml_names_the_line() {
        let e = load(&GOOD.replace("level = \"must\"", "level = ")).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = format!("{GOOD}\n{}", &GOOD[1..]);
        let e = load(&text).unwrap_err();
        assert_eq!(e.field, "case[2].id");
        assert!(e.message.contains("duplicate"), "{e}");
        assert_eq!((e.line, e.column), (18, 1), "{e}");
    }

    #[test]
    fn ids_must_match_their_file() {
        let e = load_as("cases/tokens.toml", GOOD).unwrap_err();
        assert_eq!((e.field.as_str(), e.line), ("case[1].id", 3), "{e}");
        assert!(e.message.contains("does not belong in tokens.toml"), "{e}");
        // A file stem may itself be dotted; the id must start with all of it.
        assert!(load_as("cases/token.put.toml", GOOD).is_ok());
        let e = load_as("cases/token.ttl.toml", GOOD).unwrap_err();
        assert!(e.message.contains("`token.ttl.`"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let cases = [
            (GOOD.replace("token.put.ok", "Token"), "case[1].id", 3),
            (
                GOOD.replace("https://docs", "http://docs"),
                "case[1].doc",
                5,
            ),
            (
                GOOD.replace("\"PUT\"", "\"P T\""),
                "case[1].step[1].method",
                9,
            ),
            (
                GOOD.replace(
                    "expect.body.final-newline = false",
                    "expect.body.matches = \"(\"",
                ),
                "case[1].step[1].expect.body.matches",
                15,
            ),
            (
                GOOD.replace("/latest/api/token", "/latest/{nope}"),
                "case[1].step[1].path",
                10,
            ),
            (
                GOOD.replace(
                    "expect.body.final-newline = false",
                    "expect.body.same-as-step = 1",
                ),
                "case[1].step[1].expect.body.same-as-step",
                15,
            ),
            (
                GOOD.replace(
                    "expect.body.final-newline = false",
                    "expect.body.lines_match = \"[\"",
                ),
                "case[1].step[1].expect.body.lines-match",
                15,
            ),
        ];
        for (text, field, line) in cases {
            let e = load(&text).unwrap_err();
            assert_eq!((e.field.as_str(), e.line), (field, line), "{e}");
            assert!(e.message.starts_with("case `"), "{e}");
        }
    }

    #[test]
    fn placeholders_add_needs() {
        let c = load(&GOOD.replace(
            "/latest/api/token",
            "/latest/meta-data/iam/security-credentials/{role}",
        ))
        .unwrap();
        assert_eq!(c.cases[0].needs, vec![Need::Role]);
    }

    #[test]
    fn path_templates_match_segments() {
        let text = r#"
[[path]]
path = "meta-data/network/interfaces/macs/{mac}/vpc-id"
since = "2011-01-01"
presence = "always"
format = { regex = "^vpc-" }
[[path]]
path = "meta-data/ami-id"
since = "1.0"
presence = "always"
"#;
        let p = load_paths(Path::new("paths.toml"), text).unwrap();
        assert!(p[0].matches("meta-data/network/interfaces/macs/0e:aa/vpc-id"));
        assert!(!p[0].matches("meta-data/network/interfaces/macs/vpc-id"));
        let cat = Catalogue {
            cases: Vec::new(),
            paths: p,
        };
        assert!(cat.is_documented_dir("meta-data/network"));
        assert!(cat.is_documented_dir("meta-data/network/interfaces/macs/xx"));
        assert!(!cat.is_documented_dir("meta-data/ami-id"));
        assert_eq!(
            cat.since_of("meta-data", "network"),
            Some(Version::dated(2011, 1, 1))
        );
        let e = load_paths(
            Path::new("paths.toml"),
            &text.replace("2011-01-01", "2011-1-1"),
        )
        .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.line, e.column),
            ("path[1].since", 4, 1)
        );
        let e = load_paths(
            Path::new("paths.toml"),
            &text.replace("format = { regex", "format = { regexp"),
        )
        .unwrap_err();
        assert_eq!(e.field, "path[1].format.regexp", "{e}");
        assert!(e.message.contains("did you mean `regex`?"), "{e}");
        let e = load_paths(
            Path::new("paths.toml"),
            &text.replace("\"2011-01-01\"", "2011"),
        )
        .unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.line, e.column),
            ("path[1].since", 4, 9),
            "{e}"
        );
        assert!(e.message.contains("invalid type"), "{e}");
        // The old snake_case format keys are still read.
        for (kebab, snake) in [
            (
                "format = { json-keys = [\"a\"] }",
                "format = { json_keys = [\"a\"] }",
            ),
            (
                "format = { json-array = true }",
                "format = { json_array = true }",
            ),
        ] {
            let one = |f: &str| {
                let t = text.replace("format = { regex = \"^vpc-\" }", f);
                format!(
                    "{:?}",
                    load_paths(Path::new("paths.toml"), &t).unwrap()[0].format
                )
            };
            assert_eq!(one(kebab), one(snake));
            assert!(one(kebab).starts_with("Some(Json"), "{}", one(kebab));
        }
    }
}
