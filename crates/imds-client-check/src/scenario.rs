//! The scenario catalogue (`conformance/clients/*.toml`): what server to start, what
//! environment to give the client, and what its requests and exit status must look like.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use imds_diag::{LoadError, Seg};
use imds_files::catalogue::{CatalogueFile, embedded, load_entries};
use imds_model::{HttpTokens, Instance, MetadataOptions, Timestamp, Toggle};
use imds_report::Level;
use imds_server::Faults;
use serde::Deserialize;

/// The variable every client run gets, pointing at that scenario's loopback server.
pub const ENDPOINT_VAR: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";

/// What a driver can load on its own (`--only COMPONENT`).
pub const COMPONENTS: [&str; 3] = ["credentials", "region", "instance-id"];

/// `LastUpdated` of the credentials a `credentials-expired` server serves.
const EXPIRED_UPDATED: &str = "2020-01-01T00:00:00Z";
/// `Expiration` of those credentials: long past on any clock a test runs with.
const EXPIRED_AT: &str = "2020-01-01T06:00:00Z";

/// One client scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Stable dotted id, starting with the area.
    pub id: String,
    /// One line saying what is checked.
    pub summary: String,
    /// Documentation URL for the rule.
    pub doc: String,
    /// Spec section(s).
    pub spec: Option<String>,
    /// How much a failure matters.
    pub level: Level,
    /// The area: the file's stem.
    pub area: String,
    /// The server to start.
    pub server: ServerSpec,
    /// Extra environment for the client.
    pub env: BTreeMap<String, String>,
    /// What the run must look like.
    pub expect: Expect,
    /// What the run must look like for a client that never uses IMDSv1 (`imdsv1 = "never"`
    /// in its `driver.toml`), when the claim depends on it; else `expect` applies to all.
    pub expect_imdsv1_never: Option<Expect>,
    /// Only clients that declare static stability (`static-stability = true`) are judged;
    /// for the others the scenario is `n/a`, with their source.
    pub requires_static_stability: bool,
    /// The one component this scenario is about: a driver that loads components one at a
    /// time is run with `--only COMPONENT` (one of [`COMPONENTS`]).
    pub component: Option<String>,
    /// Load the component a second time this many ms after the client started (the driver
    /// gets `--again-after-ms N`), reusing the same provider, as a long-running application.
    pub load_again_after_ms: Option<u64>,
    /// Where it was defined, for messages.
    pub file: PathBuf,
    /// 1-based line of its `id`.
    pub line: usize,
}

/// The reference server's behaviour for one scenario.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSpec {
    /// `HttpTokens` (default: EC2's default).
    #[serde(default)]
    pub http_tokens: Option<HttpTokens>,
    /// `HttpEndpoint` (default: enabled).
    #[serde(default)]
    pub http_endpoint: Option<Toggle>,
    /// Serve the extended credentials path (§9.8).
    #[serde(default)]
    pub extended_credentials: bool,
    /// Serve role credentials whose `Expiration` (and `LastUpdated`) lie in the past, as
    /// during an outage of the credential service (SDK static stability).
    #[serde(default)]
    pub credentials_expired: bool,
    /// Fault specs, `imdspec serve --fault` syntax.
    #[serde(default)]
    pub faults: Vec<String>,
    /// An outage that begins this many ms after the server starts: the role credentials
    /// served expire then (rounded up to the second), and the scripted faults only take
    /// effect from then on (before, every answer is the model's).
    #[serde(default)]
    pub outage_after_ms: Option<u64>,
}

impl ServerSpec {
    /// The metadata options to start the server with.
    pub fn options(&self) -> MetadataOptions {
        let d = MetadataOptions::default();
        MetadataOptions {
            http_tokens: self.http_tokens.unwrap_or(d.http_tokens),
            http_endpoint: self.http_endpoint.unwrap_or(d.http_endpoint),
            ..d
        }
    }

    /// The instance to serve for a server started at `now` (ms since the epoch): the
    /// default one, with the extended path on or off, and the credentials' expiration that
    /// `credentials-expired` or `outage-after-ms` asks for.
    pub fn instance(&self, now_ms: u64) -> Instance {
        let mut i = Instance::default();
        if let Some(role) = i.iam.as_mut() {
            role.extended_credentials = self.extended_credentials;
            if self.credentials_expired {
                role.credentials.last_updated = Some(EXPIRED_UPDATED.into());
                role.credentials.expiration = Some(EXPIRED_AT.into());
            }
            if let Some(at) = self.outage_at(now_ms) {
                role.credentials.last_updated = Some(Timestamp(now_ms).to_iso8601());
                role.credentials.expiration = Some(Timestamp(at).to_iso8601());
            }
        }
        i
    }

    /// When the outage of `outage-after-ms` begins for a server started at `now_ms`: on a
    /// whole second, as credential times are written to the second.
    pub fn outage_at(&self, now_ms: u64) -> Option<u64> {
        self.outage_after_ms.map(|after| {
            now_ms
                .saturating_add(after)
                .div_ceil(1000)
                .saturating_mul(1000)
        })
    }

    /// The parsed faults (checked when the catalogue was loaded).
    pub fn faults(&self) -> Faults {
        Faults::parse_all(self.faults.iter().map(String::as_str)).unwrap_or_default()
    }
}

/// The exit status wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExitWant {
    /// Exit status 0.
    Zero,
    /// A non-zero exit status (a client killed at the timeout does not count).
    Nonzero,
}

/// What the first request must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FirstWant {
    /// `PUT /latest/api/token`.
    TokenPut,
}

/// What a client declares about IMDSv1 (`imdsv1` in its `driver.toml`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Imdsv1 {
    /// IMDSv2 first, IMDSv1 when the token PUT is refused (403/404/405) or times out: the SDK
    /// reference's documented behaviour.
    #[default]
    Fallback,
    /// IMDSv2 only: a failed token PUT is an error.
    Never,
}

impl Scenario {
    /// The expectations for a client with this IMDSv1 behaviour.
    pub fn expect_for(&self, imdsv1: Imdsv1) -> &Expect {
        match (imdsv1, &self.expect_imdsv1_never) {
            (Imdsv1::Never, Some(e)) => e,
            _ => &self.expect,
        }
    }
}

/// Expectations over the journal and the exit status; every field set is one check.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expect {
    /// Exit status.
    #[serde(default)]
    pub exit: Option<ExitWant>,
    /// At most this many requests (connection attempts count).
    #[serde(default)]
    pub requests_max: Option<usize>,
    /// What the first request is.
    #[serde(default)]
    pub first: Option<FirstWant>,
    /// At least this many token PUTs.
    #[serde(default)]
    pub token_puts_min: Option<usize>,
    /// At most this many token PUTs.
    #[serde(default)]
    pub token_puts_max: Option<usize>,
    /// At least this many GETs without a token header.
    #[serde(default)]
    pub tokenless_gets_min: Option<usize>,
    /// At most this many GETs without a token header.
    #[serde(default)]
    pub tokenless_gets_max: Option<usize>,
    /// Every token PUT asks for a TTL in this inclusive range.
    #[serde(default)]
    pub ttl_range: Option<[u32; 2]>,
    /// No request carries any of these headers (lower case).
    #[serde(default)]
    pub absent_headers: Vec<String>,
    /// After the first response with this status, a new token is fetched and the refused
    /// request is sent again with it and answered 200.
    #[serde(default)]
    pub new_token_after: Option<u16>,
    /// The first GET answered with this status is sent again.
    #[serde(default)]
    pub retried_after: Option<u16>,
    /// No read (method and path, token PUTs aside) is sent more than this many times.
    #[serde(default)]
    pub same_path_max: Option<usize>,
    /// These paths are requested (a directory with or without its trailing slash counts as
    /// the same path, as EC2 answers both alike).
    #[serde(default)]
    pub requested: Vec<String>,
    /// The client falls back in order: its first request is a token PUT that got no token,
    /// no GET without a token comes before such a PUT, and a GET without a token succeeds.
    #[serde(default)]
    pub falls_back: bool,
    /// The first request a scripted fault answered is sent again (same method and path).
    #[serde(default)]
    pub retries_faulted: bool,
    /// Once the server revoked its tokens, the client gets a fresh token (before or after a
    /// 401 on a revoked one), a GET with that fresh token succeeds, and no token answered 401
    /// is sent again.
    #[serde(default)]
    pub fresh_token_after_revocation: bool,
    /// Role credentials were read from the legacy path: a GET of
    /// `iam/security-credentials/NAME` succeeded, however the name was found.
    #[serde(default)]
    pub legacy_credentials: bool,
    /// Static stability: after a role document was read, a later credentials request was
    /// answered by a scripted fault (a refresh attempt that failed), no role document was
    /// served after it, and the client still exited 0 (it kept the credentials it had).
    #[serde(default)]
    pub keeps_credentials_after_failed_refresh: bool,
}

impl Expect {
    /// True when nothing is expected (refused: a scenario must check something).
    fn is_empty(&self) -> bool {
        self.exit.is_none()
            && self.requests_max.is_none()
            && self.first.is_none()
            && self.token_puts_min.is_none()
            && self.token_puts_max.is_none()
            && self.tokenless_gets_min.is_none()
            && self.tokenless_gets_max.is_none()
            && self.ttl_range.is_none()
            && self.absent_headers.is_empty()
            && self.new_token_after.is_none()
            && self.retried_after.is_none()
            && self.same_path_max.is_none()
            && self.requested.is_empty()
            && !self.falls_back
            && !self.retries_faulted
            && !self.fresh_token_after_revocation
            && !self.legacy_credentials
            && !self.keeps_credentials_after_failed_refresh
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFile {
    #[serde(default)]
    scenario: Vec<RawScenario>,
}

impl CatalogueFile for RawFile {
    type Entry = RawScenario;
    const TABLE: &'static str = "scenario";
    fn entries(self) -> Vec<RawScenario> {
        self.scenario
    }
    fn id(entry: &RawScenario) -> &str {
        &entry.id
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawScenario {
    id: String,
    summary: String,
    doc: String,
    #[serde(default)]
    spec: Option<String>,
    level: Level,
    #[serde(default)]
    server: ServerSpec,
    #[serde(default)]
    env: BTreeMap<String, String>,
    expect: Expect,
    #[serde(default)]
    expect_imdsv1_never: Option<Expect>,
    #[serde(default)]
    requires_static_stability: bool,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    load_again_after_ms: Option<u64>,
}

/// All scenarios, sorted by id.
#[derive(Clone, Debug, Default)]
pub struct Scenarios {
    /// The scenarios.
    pub all: Vec<Scenario>,
}

impl Scenarios {
    /// Loads every `*.toml` directly in `dir` (not `targets/`).
    pub fn load(dir: &Path) -> Result<Scenarios, LoadError> {
        Scenarios::from_sources(&imds_files::toml_files(dir)?)
    }

    /// The scenarios compiled in from `conformance/clients`.
    pub fn embedded() -> Result<Scenarios, LoadError> {
        Scenarios::from_sources(&embedded::CLIENT_SCENARIOS.sources())
    }

    /// Builds the catalogue from `(file name, text)` pairs; the area is the file's stem.
    pub fn from_sources(files: &[(PathBuf, String)]) -> Result<Scenarios, LoadError> {
        let mut all = load_entries::<RawFile, _>(files, |at, r| {
            let err = |field: &str, message: String| Err(at.err(field, message));
            for (name, value) in [("summary", &r.summary), ("doc", &r.doc)] {
                if value.trim().is_empty() {
                    return err(name, "must not be empty".into());
                }
            }
            if !r.doc.starts_with("https://") {
                return err("doc", "must be an https:// URL".into());
            }
            if let Err(e) = Faults::parse_all(r.server.faults.iter().map(String::as_str)) {
                return err("server.faults", e.to_string());
            }
            if let Some(c) = &r.component
                && !COMPONENTS.contains(&c.as_str())
            {
                return err(
                    "component",
                    format!("unknown component {c:?}; one of {}", COMPONENTS.join(", ")),
                );
            }
            if r.load_again_after_ms.is_some() && r.component.is_none() {
                return err(
                    "load-again-after-ms",
                    "needs `component`: the component to load again".into(),
                );
            }
            for key in r.env.keys() {
                let env_err = |message: &str| {
                    let mut path = at.path("env");
                    path.push(Seg::key(key.as_str()));
                    Err(at.err_at(&path, message))
                };
                if key == ENDPOINT_VAR {
                    return env_err("is always the scenario's loopback server; it cannot be set");
                }
                if key.is_empty() || key.contains('=') || key.contains('\0') {
                    return env_err("not a variable name");
                }
            }
            for (field, expect) in std::iter::once(("expect", &r.expect)).chain(
                r.expect_imdsv1_never
                    .iter()
                    .map(|e| ("expect-imdsv1-never", e)),
            ) {
                if expect.is_empty() {
                    return err(field, "expects nothing; add at least one check".into());
                }
                if let Some([lo, hi]) = expect.ttl_range
                    && lo > hi
                {
                    return err(&format!("{field}.ttl-range"), format!("{lo} > {hi}"));
                }
            }
            Ok(Scenario {
                id: r.id,
                summary: r.summary,
                doc: r.doc,
                spec: r.spec,
                level: r.level,
                area: at.area.to_owned(),
                server: r.server,
                env: r.env,
                expect: r.expect,
                expect_imdsv1_never: r.expect_imdsv1_never,
                requires_static_stability: r.requires_static_stability,
                component: r.component,
                load_again_after_ms: r.load_again_after_ms,
                file: at.src.file.to_owned(),
                line: at.line(),
            })
        })?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Scenarios { all })
    }

    /// The scenarios whose id matches any of `globs` (all of them when `globs` is empty).
    pub fn select(&self, globs: &[glob::Pattern]) -> Vec<&Scenario> {
        self.all
            .iter()
            .filter(|s| globs.is_empty() || globs.iter().any(|g| g.matches(&s.id)))
            .collect()
    }

    /// The ids.
    #[cfg(test)]
    pub fn ids(&self) -> std::collections::BTreeSet<&str> {
        self.all.iter().map(|s| s.id.as_str()).collect()
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenarios, LoadError> {
        Scenarios::from_sources(&[(PathBuf::from("tokens.toml"), text.to_owned())])
    }

    const GOOD: &str = r#"
[[scenario]]
id = "tokens.a"
summary = "s"
doc = "https://example.invalid/"
level = "must"
[scenario.server]
faults = ["token-put=403"]
[scenario.env]
X = "1"
[scenario.expect]
exit = "zero"
"#;

    #[test]
    fn loads_a_scenario() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.all.len(), 1);
        let a = &s.all[0];
        assert_eq!(
            (a.id.as_str(), a.area.as_str(), a.line),
            ("tokens.a", "tokens", 3)
        );
        assert_eq!(a.expect.exit, Some(ExitWant::Zero));
        assert_eq!(a.server.faults().specs(), vec!["token-put=403"]);
    }

    #[test]
    fn scenarios_take_the_answer_changing_faults_and_suggest_near_misses() {
        let s = parse(&GOOD.replace("token-put=403", "token-put=drop-ttl")).unwrap();
        assert_eq!(s.all[0].server.faults().specs(), vec!["token-put=drop-ttl"]);
        let e = parse(&GOOD.replace("token-put=403", "token-put=drop-tll"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("tokens.toml:8:1: scenario[1].server.faults: "),
            "{e}"
        );
        assert!(e.contains("did you mean \"token-put=drop-ttl\"?"), "{e}");
    }

    #[test]
    fn bad_scenarios_name_file_line_and_field() {
        let cases = [
            (
                GOOD.replace("tokens.a", "other.a"),
                "tokens.toml:3:1: scenario[1].id: ",
                "does not belong in tokens.toml",
            ),
            (
                GOOD.replace("token-put=403", "token-put=200"),
                "tokens.toml:8:1: scenario[1].server.faults: ",
                "outside 400..=599",
            ),
            (
                GOOD.replace("X = ", "AWS_EC2_METADATA_SERVICE_ENDPOINT = "),
                "tokens.toml:10:1: scenario[1].env.AWS_EC2_METADATA_SERVICE_ENDPOINT: ",
                "cannot be set",
            ),
            (
                GOOD.replace("exit = \"zero\"", ""),
                "tokens.toml:11:11: scenario[1].expect: ",
                "expects nothing",
            ),
            (
                GOOD.replace("exit = \"zero\"", "exits = \"zero\""),
                "tokens.toml:12:1: scenario[1].expect.exits: ",
                "unknown key `exits`; did you mean `exit`?",
            ),
            (
                GOOD.replace("\"must\"", "\"maybe\""),
                "tokens.toml:6:9: scenario[1].level: ",
                "unknown value `maybe`",
            ),
            (
                GOOD.replace(
                    "[scenario.expect]",
                    "[scenario.expect]\nrequests-max = \"few\"",
                ),
                "tokens.toml:12:16: scenario[1].expect.requests-max: ",
                "invalid type",
            ),
            (
                format!("{GOOD}{GOOD}"),
                "tokens.toml:15:1: scenario[2].id: ",
                "duplicate id",
            ),
        ];
        for (text, place, problem) in cases {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(place), "{e}");
            assert!(e.contains(problem), "{e}");
            // The position is shown once (a duplicate also names where the first one is).
            let wanted = if problem == "duplicate id" { 2 } else { 1 };
            assert_eq!(e.matches("tokens.toml:").count(), wanted, "{e}");
        }
    }

    #[test]
    fn components_are_known_and_a_second_load_names_one() {
        let with =
            |extra: &str| GOOD.replace("level = \"must\"", &format!("level = \"must\"\n{extra}"));
        let s = parse(&with("component = \"region\"\nload-again-after-ms = 500")).unwrap();
        assert_eq!(s.all[0].component.as_deref(), Some("region"));
        assert_eq!(s.all[0].load_again_after_ms, Some(500));
        let e = parse(&with("component = \"disk\""))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("tokens.toml:7:"), "{e}");
        assert!(
            e.contains("scenario[1].component: ") && e.contains("unknown component"),
            "{e}"
        );
        let e = parse(&with("load-again-after-ms = 500"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("load-again-after-ms") && e.contains("needs `component`"),
            "{e}"
        );
    }

    #[test]
    fn an_outage_begins_on_a_whole_second_and_the_credentials_expire_then() {
        let spec = ServerSpec {
            outage_after_ms: Some(4000),
            ..ServerSpec::default()
        };
        let start = 1_700_000_000_250;
        assert_eq!(spec.outage_at(start), Some(1_700_000_005_000));
        let i = spec.instance(start);
        let c = &i.iam.as_ref().unwrap().credentials;
        assert_eq!(
            c.expiration.as_deref(),
            Some(Timestamp(1_700_000_005_000).to_iso8601().as_str())
        );
        assert_eq!(ServerSpec::default().outage_at(start), None);
    }

    #[test]
    fn the_committed_catalogue_loads_and_covers_the_contract() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/clients");
        let s = Scenarios::load(&dir).unwrap();
        for id in [
            "tokens.v2-first",
            "tokens.reused",
            "tokens.refresh-after-401",
            "tokens.refresh-after-expiry",
            "tokens.ttl-in-range",
            "fallback.put-403",
            "fallback.put-404",
            "fallback.put-405",
            "fallback.put-timeout",
            "fallback.never-on-400",
            "fallback.never-when-v1-disabled",
            "environment.disabled-no-traffic",
            "retries.get-500",
            "retries.get-429",
            "retries.bounded",
            "headers.no-x-forwarded-for",
            "credentials.extended",
            "credentials.extended-404-legacy",
            "credentials.expired-static-stability",
            "credentials.profile-name-from-env",
            "environment.disabled-other-value",
            "fallback.put-500",
            "retries.credentials-500-once",
            "timeouts.slow-credentials-once",
            "timeouts.slow-everything",
            "tokens.ttl-default-21600",
            "fallback.never-on-400-region",
        ] {
            assert!(s.ids().contains(id), "{id} missing");
        }
        let globs = [glob::Pattern::new("fallback.put-*").unwrap()];
        assert_eq!(s.select(&globs).len(), 5);
    }
}
