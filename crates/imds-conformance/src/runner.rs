//! Running the catalogue against one endpoint: detect options, discover content, select,
//! run cases concurrently under a deadline, apply expectations.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use imds_model::{HopLimit, HttpTokens, Toggle, parse::parse_listing};
use serde::Serialize;
use tokio::sync::{OnceCell, Semaphore};

use crate::catalogue::{Case, CaseBody, Catalogue, EndpointNeed, Need};
use crate::checks::{self, Crawl, Probed};
use crate::client::{Client, ClientConfig, ClientError, Request, Response};
use crate::expectations::Expectations;
use crate::redact::Redactor;
use crate::report::{
    CaseResult, Detail, ExchangeRecord, Failure, Outcome, RequestRecord, ResponseRecord, RunResult,
    Summary, TargetInfo,
};

/// Longest body kept in a report exchange.
const REPORT_BODY_LIMIT: usize = 4096;
/// After this many token PUT timeouts, further token fetches fail at once (a hop-limited
/// PUT never answers; waiting for each one would only make the run slow).
const PUT_TIMEOUT_BREAKER: u32 = 3;
/// Why a case needing a token is skipped when the token PUT's answer never arrives while
/// tokenless GETs are answered: EC2 dropping it at the hop limit is configuration, not a fault.
pub const HOP_LIMITED: &str = "hop-limited: the token PUT answer did not arrive (HttpPutResponseHopLimit too low for this network position, SPEC §13.1)";

/// Target options as far as they are known; `None` where unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TargetOptions {
    /// `HttpTokens`.
    pub http_tokens: Option<HttpTokens>,
    /// `HttpEndpoint`.
    pub http_endpoint: Option<Toggle>,
    /// `InstanceMetadataTags`.
    pub instance_metadata_tags: Option<Toggle>,
    /// `HttpProtocolIpv6`.
    pub http_protocol_ipv6: Option<Toggle>,
    /// `HttpPutResponseHopLimit` (never detectable over HTTP).
    pub http_put_response_hop_limit: Option<HopLimit>,
}

impl TargetOptions {
    /// Every option of `o` that HTTP answers can confirm; the hop limit is left unknown, since
    /// it cannot be observed over loopback and declaring it would only add a note.
    pub fn observable(o: &imds_model::MetadataOptions) -> TargetOptions {
        TargetOptions {
            http_tokens: Some(o.http_tokens),
            http_endpoint: Some(o.http_endpoint),
            instance_metadata_tags: Some(o.instance_metadata_tags),
            http_protocol_ipv6: Some(o.http_protocol_ipv6),
            http_put_response_hop_limit: None,
        }
    }

    /// Fills unknown fields from `other`.
    pub fn or(self, other: TargetOptions) -> TargetOptions {
        TargetOptions {
            http_tokens: self.http_tokens.or(other.http_tokens),
            http_endpoint: self.http_endpoint.or(other.http_endpoint),
            instance_metadata_tags: self.instance_metadata_tags.or(other.instance_metadata_tags),
            http_protocol_ipv6: self.http_protocol_ipv6.or(other.http_protocol_ipv6),
            http_put_response_hop_limit: self
                .http_put_response_hop_limit
                .or(other.http_put_response_hop_limit),
        }
    }

    /// `--http-tokens=optional …` style, `?` for unknown.
    pub fn describe(&self) -> String {
        fn w<T: std::fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "?".to_owned(), T::to_string)
        }
        format!(
            "http-tokens={} http-endpoint={} instance-metadata-tags={} http-protocol-ipv6={} http-put-response-hop-limit={}",
            w(&self.http_tokens),
            w(&self.http_endpoint),
            w(&self.instance_metadata_tags),
            w(&self.http_protocol_ipv6),
            w(&self.http_put_response_hop_limit),
        )
    }
}

/// Which exchanges go into the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DetailLevel {
    /// Exchanges of non-passing cases only.
    #[default]
    Failures,
    /// Exchanges of every case.
    All,
}

/// Called with each case result as it finishes (progress output).
pub type Progress = Arc<dyn Fn(&CaseResult) + Send + Sync>;

/// How to run.
#[derive(Clone)]
pub struct RunConfig {
    /// Run (target) name for the report.
    pub name: String,
    /// Base URL.
    pub endpoint: String,
    /// Free text describing the target (e.g. the embedded profile).
    pub description: Option<String>,
    /// Declared options.
    pub declared: TargetOptions,
    /// `--case` globs (empty: all).
    pub include: Vec<glob::Pattern>,
    /// `--skip` globs.
    pub exclude: Vec<glob::Pattern>,
    /// Known failures.
    pub expectations: Option<Expectations>,
    /// HTTP client settings.
    pub client: ClientConfig,
    /// Cases run at once.
    pub concurrency: usize,
    /// Whole-run budget: cases not finished by then are `error`.
    pub deadline: Duration,
    /// Show tokens, credentials and user data in reports.
    pub show_secrets: bool,
    /// Which exchanges to keep.
    pub detail: DetailLevel,
    /// Progress callback.
    pub progress: Option<Progress>,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

impl RunConfig {
    /// Defaults for `endpoint`: polite concurrency, 50 s deadline, no rate cap.
    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> RunConfig {
        RunConfig {
            name: name.into(),
            endpoint: endpoint.into(),
            description: None,
            declared: TargetOptions::default(),
            include: Vec::new(),
            exclude: Vec::new(),
            expectations: None,
            client: ClientConfig::default(),
            concurrency: 8,
            deadline: Duration::from_secs(50),
            show_secrets: false,
            detail: DetailLevel::Failures,
            progress: None,
        }
    }

    /// True when case `id` is selected by `--case`/`--skip`.
    pub fn selects(&self, id: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.matches(id)))
            && !self.exclude.iter().any(|p| p.matches(id))
    }
}

/// Why a run could not happen at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The endpoint URL is unusable (exit 2).
    #[error(transparent)]
    BadEndpoint(ClientError),
    /// Nothing answers at the endpoint (exit 3).
    #[error("endpoint {endpoint} cannot be reached: {error}")]
    Unreachable {
        /// The endpoint.
        endpoint: String,
        /// The connection error.
        error: ClientError,
    },
}

/// Instance content found before the cases run, for placeholders and `needs`.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// First IAM role name.
    pub role: Option<String>,
    /// Primary MAC.
    pub mac: Option<String>,
    /// First public key index.
    pub key_index: Option<String>,
    /// First visible tag key.
    pub tag_key: Option<String>,
    /// User data present.
    pub user_data: bool,
}

impl Discovery {
    fn has(&self, need: Need) -> bool {
        match need {
            Need::Role => self.role.is_some(),
            Need::PublicKey => self.key_index.is_some(),
            Need::UserData => self.user_data,
            Need::Tag => self.tag_key.is_some(),
            Need::Mac => self.mac.is_some(),
        }
    }

    /// Fills `{role}`, `{mac}`, `{key_index}`, `{tag_key}`.
    pub fn expand(&self, path: &str) -> Option<String> {
        let mut out = path.to_owned();
        for (name, value) in [
            ("{role}", &self.role),
            ("{mac}", &self.mac),
            ("{key_index}", &self.key_index),
            ("{tag_key}", &self.tag_key),
        ] {
            if out.contains(name) {
                out = out.replace(name, value.as_deref()?);
            }
        }
        Some(out)
    }
}

/// Shared state of one run, handed to every case.
pub struct RunCtx {
    /// The client.
    pub client: Arc<Client>,
    /// The catalogue.
    pub catalogue: Arc<Catalogue>,
    /// The run's session token (TTL 21600), when the endpoint gave one.
    pub session: Option<String>,
    /// Why there is no session token.
    pub session_error: Option<String>,
    /// Declared options.
    pub declared: TargetOptions,
    /// Detected options.
    pub detected: TargetOptions,
    /// Declared, else detected.
    pub effective: TargetOptions,
    /// Content found.
    pub discovery: Discovery,
    /// Redaction.
    pub redactor: Redactor,
    /// Detection saw the token PUT time out while a tokenless GET was answered.
    pub hop_limited: bool,
    put_timeouts: AtomicU32,
    pub(crate) crawl: OnceCell<Crawl>,
    pub(crate) probed: OnceCell<Probed>,
}

/// Collects what one case did.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Unmet expectations.
    pub failures: Vec<Failure>,
    /// Exchanges.
    pub exchanges: Vec<ExchangeRecord>,
    /// Expectation lines.
    pub expected: Vec<String>,
    /// Notes.
    pub notes: Vec<String>,
    /// Set when the case could not be run.
    pub error: Option<String>,
    /// Set when the case turned out not to apply.
    pub skip: Option<String>,
}

impl Recorder {
    /// Adds a failure.
    pub fn fail(
        &mut self,
        step: Option<usize>,
        check: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
    ) {
        self.failures.push(Failure {
            step,
            check: check.into(),
            expected: expected.into(),
            observed: observed.into(),
        });
    }

    /// Marks the case as not runnable (the first reason wins).
    pub fn error(&mut self, message: impl Into<String>) {
        if self.error.is_none() {
            self.error = Some(message.into());
        }
    }
}

/// An obviously never-issued token of EC2's shape (56 URL-safe base64 characters).
pub const INVALID_TOKEN: &str = "AQAEAImdspecNeverIssuedThisTokenToAnyoneAnywhere0000000=";

impl RunCtx {
    /// Sends `req`, recording the exchange; on a transport error marks the case `error`.
    pub async fn exchange(
        &self,
        rec: &mut Recorder,
        step: Option<usize>,
        req: Request,
    ) -> Option<Response> {
        let result = self.send_guarded(&req).await;
        let record = self.record(step, &req, &result);
        rec.exchanges.push(record);
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                if self.hop_limited && req.method == http::Method::PUT {
                    rec.skip.get_or_insert_with(|| HOP_LIMITED.to_owned());
                }
                rec.error(format!("{} {}: {e}", req.method, req.path));
                None
            }
        }
    }

    /// Marks a case that cannot get a token: `skip` on a hop-limited target, else `error`.
    pub fn no_token(&self, rec: &mut Recorder, message: impl Into<String>) {
        if self.hop_limited {
            rec.skip.get_or_insert_with(|| HOP_LIMITED.to_owned());
        }
        rec.error(message);
    }

    /// Builds the report record of an exchange (redacted).
    pub fn record(
        &self,
        step: Option<usize>,
        req: &Request,
        result: &Result<Response, ClientError>,
    ) -> ExchangeRecord {
        let request = RequestRecord {
            method: req.method.to_string(),
            path: req.path.clone(),
            headers: req
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), self.redactor.header_value(n.as_str(), v)))
                .collect(),
        };
        match result {
            Ok(r) => {
                let body = self.show_body(req, r);
                let truncated = body.len() > REPORT_BODY_LIMIT;
                let body = if truncated {
                    let mut cut = REPORT_BODY_LIMIT;
                    while !body.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    body[..cut].to_owned()
                } else {
                    body
                };
                ExchangeRecord {
                    step,
                    request,
                    response: Some(ResponseRecord {
                        status: r.status,
                        reason: r.reason.clone(),
                        version: r.version.clone(),
                        headers: r.headers.clone(),
                        body,
                        body_bytes: r.body.len(),
                        body_truncated: truncated,
                    }),
                    error: None,
                    elapsed_ms: r.elapsed.as_millis() as u64,
                }
            }
            Err(e) => ExchangeRecord {
                step,
                request,
                response: None,
                error: Some(e.to_string()),
                elapsed_ms: 0,
            },
        }
    }

    /// Sends `req`; token PUTs go through a breaker: after [`PUT_TIMEOUT_BREAKER`] of them
    /// timed out, further ones fail at once instead of waiting out their timeout.
    async fn send_guarded(&self, req: &Request) -> Result<Response, ClientError> {
        let token_put = imds_model::classify(req.method.as_str(), &req.path).is_token_request();
        if token_put && self.put_timeouts.load(Ordering::Relaxed) >= PUT_TIMEOUT_BREAKER {
            return Err(ClientError::NotSent(format!(
                "{PUT_TIMEOUT_BREAKER} token PUTs already timed out (a hop limit dropping the answer looks like this)"
            )));
        }
        let result = self.client.send(req).await;
        if token_put && matches!(result, Err(ClientError::ResponseTimeout(_))) {
            self.put_timeouts.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// A response body as it may be shown.
    pub fn show_body(&self, req: &Request, r: &Response) -> String {
        self.redactor
            .body(req.method.as_str(), &req.path, r.status, &r.body)
    }

    /// A GET of `path` with the session token when there is one (tokenless otherwise, which
    /// only works in optional mode).
    pub fn get(&self, path: &str) -> Request {
        let req = Request::get(path);
        match &self.session {
            Some(t) => req.token(t),
            None => req,
        }
    }

    /// Fetches a new token with `ttl`; on failure marks the case `error`.
    pub async fn fresh_token(
        &self,
        rec: &mut Recorder,
        step: Option<usize>,
        ttl: u32,
    ) -> Option<(String, Instant)> {
        let req = Request::token_put(ttl);
        let result = self.send_guarded(&req).await;
        rec.exchanges.push(self.record(step, &req, &result));
        match result {
            Ok(r) if r.status == 200 && !r.body.is_empty() => Some((r.text(), Instant::now())),
            Ok(r) => {
                rec.error(format!(
                    "could not get a token: PUT /latest/api/token answered {}",
                    r.status
                ));
                None
            }
            Err(e) => {
                self.no_token(rec, format!("could not get a token: {e}"));
                None
            }
        }
    }

    /// The token to send by default: the session token, or none (a tokenless fallback) in
    /// optional mode when there is no session token. `None` means the case cannot run (and
    /// is marked `error`).
    pub fn session_or_fallback(&self, rec: &mut Recorder) -> Option<Option<String>> {
        if let Some(t) = &self.session {
            return Some(Some(t.clone()));
        }
        let why = self.session_error.clone().unwrap_or_default();
        if self.effective.http_tokens == Some(HttpTokens::Optional) {
            rec.notes
                .push(format!("no session token ({why}); sent without a token"));
            Some(None)
        } else {
            self.no_token(rec, format!("no session token: {why}"));
            None
        }
    }

    fn applies(&self, case: &Case) -> Result<(), String> {
        let a = &case.applies;
        let eff = &self.effective;
        fn need<T: PartialEq + std::fmt::Display + Copy>(
            name: &str,
            want: Option<T>,
            have: Option<T>,
        ) -> Result<(), String> {
            match (want, have) {
                (None, _) => Ok(()),
                (Some(w), Some(h)) if w == h => Ok(()),
                (Some(w), Some(h)) => Err(format!("needs {name}={w}; target has {h}")),
                (Some(w), None) => {
                    Err(format!("needs {name}={w}; not declared and not detectable"))
                }
            }
        }
        need("HttpTokens", a.tokens, eff.http_tokens)?;
        let endpoint = match a.endpoint.unwrap_or(EndpointNeed::Enabled) {
            EndpointNeed::Any => None,
            EndpointNeed::Enabled => Some(Toggle::Enabled),
            EndpointNeed::Disabled => Some(Toggle::Disabled),
        };
        need(
            "HttpEndpoint",
            endpoint,
            Some(eff.http_endpoint.unwrap_or(Toggle::Enabled)),
        )?;
        need("InstanceMetadataTags", a.tags, eff.instance_metadata_tags)?;
        need("HttpProtocolIpv6", a.ipv6, eff.http_protocol_ipv6)?;
        for n in &case.needs {
            if !self.discovery.has(*n) {
                return Err(format!("target has {}", n.describe()));
            }
        }
        Ok(())
    }
}

/// What detection found.
struct Detection {
    detected: TargetOptions,
    session: Option<String>,
    session_error: Option<String>,
    discovery: Discovery,
    put_timed_out: bool,
    hop_limited: bool,
    notes: Vec<String>,
}

/// `InstanceMetadataTags` as far as the answers tell (SPEC §13.5): a listing with entries on
/// `meta-data/tags/instance` proves enabled; a 404 there, or on `meta-data/tags/`, proves
/// disabled; an empty 200 alone cannot tell (a disabled instance and one without tags both
/// answer it).
pub fn tags_state(instance: Option<(u16, &[u8])>, tags_dir: Option<u16>) -> Option<Toggle> {
    match instance {
        Some((200, body)) if !body.iter().all(u8::is_ascii_whitespace) => Some(Toggle::Enabled),
        Some((404, _)) => Some(Toggle::Disabled),
        _ if tags_dir == Some(404) => Some(Toggle::Disabled),
        _ => None,
    }
}

/// `HttpEndpoint` from the token PUT's and a tokenless GET's statuses: only the PUT's 403 is
/// documented for a turned-off endpoint, so it alone decides "disabled".
pub fn endpoint_state(put: Option<u16>, get: Option<u16>) -> Option<Toggle> {
    match (put, get) {
        (Some(403), _) => Some(Toggle::Disabled),
        (Some(200), _) | (_, Some(200 | 401)) => Some(Toggle::Enabled),
        _ => None,
    }
}

/// Detects options, gets the session token and discovers content.
async fn detect(client: &Arc<Client>, declared: TargetOptions) -> Result<Detection, ClientError> {
    let put = client.send(&Request::token_put(21600)).await;
    let v1 = client
        .send(&Request::get("/latest/meta-data/instance-id"))
        .await;
    if let (Err(e), Err(_)) = (&put, &v1)
        && e.is_unreachable()
    {
        return Err(e.clone());
    }
    let status = |r: &Result<Response, ClientError>| r.as_ref().ok().map(|r| r.status);
    let (put_status, v1_status) = (status(&put), status(&v1));
    let http_endpoint = endpoint_state(put_status, v1_status);
    let mut notes = Vec::new();
    if http_endpoint == Some(Toggle::Disabled) {
        notes.push(format!(
            "HttpEndpoint detected as disabled from the token PUT's 403 (the documented answer); the tokenless GET answered {}",
            v1_status.map_or("nothing".into(), |s| s.to_string())
        ));
    }
    let put_timed_out = matches!(put, Err(ClientError::ResponseTimeout(_)));
    let hop_limited = put_timed_out && v1_status.is_some();
    if hop_limited {
        notes.push(format!("{HOP_LIMITED}; cases needing a token are skipped"));
    }
    let http_tokens = match (http_endpoint, v1_status) {
        (Some(Toggle::Enabled), Some(200)) => Some(HttpTokens::Optional),
        (Some(Toggle::Enabled), Some(401)) => Some(HttpTokens::Required),
        _ => None,
    };
    let mut detected = TargetOptions {
        http_tokens,
        http_endpoint,
        ..TargetOptions::default()
    };
    let (session, session_error) = match &put {
        Ok(r) if r.status == 200 && !r.body.is_empty() => (Some(r.text()), None),
        Ok(r) => (
            None,
            Some(format!("PUT /latest/api/token answered {}", r.status)),
        ),
        Err(e) => (None, Some(format!("PUT /latest/api/token: {e}"))),
    };
    let mut discovery = Discovery::default();
    let tokens = declared.http_tokens.or(detected.http_tokens);
    let usable = detected.http_endpoint == Some(Toggle::Enabled)
        && (session.is_some() || tokens == Some(HttpTokens::Optional));
    if usable {
        let get = |path: &str| {
            let req = Request::get(path);
            let req = match &session {
                Some(t) => req.token(t),
                None => req,
            };
            let client = client.clone();
            async move { client.send(&req).await.ok() }
        };
        let first_entry = |r: &Option<Response>| {
            r.as_ref()
                .filter(|r| r.status == 200)
                .and_then(|r| parse_listing(&r.body).ok())
                .and_then(|l| l.entries.first().map(|e| e.segment().to_owned()))
        };
        let tags = get("/latest/meta-data/tags/instance").await;
        let tags_dir = match tags.as_ref() {
            Some(r) if r.status == 200 && r.body.iter().all(u8::is_ascii_whitespace) => {
                get("/latest/meta-data/tags/").await.map(|r| r.status)
            }
            _ => None,
        };
        detected.instance_metadata_tags =
            tags_state(tags.as_ref().map(|r| (r.status, r.body.as_ref())), tags_dir);
        discovery.tag_key = first_entry(&tags);
        discovery.role = first_entry(&get("/latest/meta-data/iam/security-credentials/").await);
        discovery.key_index = first_entry(&get("/latest/meta-data/public-keys/").await);
        discovery.mac = get("/latest/meta-data/mac")
            .await
            .filter(|r| r.status == 200 && !r.body.is_empty() && !r.body.contains(&b'/'))
            .map(|r| r.text().trim().to_owned());
        discovery.user_data = get("/latest/user-data")
            .await
            .is_some_and(|r| r.status == 200);
    }
    Ok(Detection {
        detected,
        session,
        session_error,
        discovery,
        put_timed_out,
        hop_limited,
        notes,
    })
}

/// Runs the catalogue against `config.endpoint`.
pub async fn run(catalogue: Arc<Catalogue>, config: RunConfig) -> Result<RunResult, RunError> {
    let started = Instant::now();
    let deadline = started + config.deadline;
    let client = Arc::new(
        Client::new(&config.endpoint, config.client.clone()).map_err(RunError::BadEndpoint)?,
    );
    let unreachable = |error| RunError::Unreachable {
        endpoint: config.endpoint.clone(),
        error,
    };
    client.check_reachable().await.map_err(unreachable)?;
    let Detection {
        detected,
        session,
        session_error,
        discovery,
        put_timed_out,
        hop_limited,
        notes: detect_notes,
    } = match tokio::time::timeout_at(deadline.into(), detect(&client, config.declared)).await {
        Ok(d) => d.map_err(unreachable)?,
        Err(_) => Detection {
            detected: TargetOptions::default(),
            session: None,
            session_error: Some("run deadline reached while detecting the target's options".into()),
            discovery: Discovery::default(),
            put_timed_out: false,
            hop_limited: false,
            notes: Vec::new(),
        },
    };
    let effective = config.declared.or(detected);
    let ctx = Arc::new(RunCtx {
        client: client.clone(),
        catalogue: catalogue.clone(),
        session,
        session_error,
        declared: config.declared,
        detected,
        effective,
        discovery,
        redactor: Redactor {
            show_secrets: config.show_secrets,
        },
        hop_limited,
        put_timeouts: AtomicU32::new(u32::from(put_timed_out)),
        crawl: OnceCell::new(),
        probed: OnceCell::new(),
    });

    let selected: Vec<Case> = catalogue
        .cases
        .iter()
        .filter(|c| config.selects(&c.id))
        .cloned()
        .collect();
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (index, case) in selected.into_iter().enumerate() {
        let ctx = ctx.clone();
        let permits = permits.clone();
        let name = config.name.clone();
        let detail = config.detail;
        let expectations = config.expectations.clone();
        let progress = config.progress.clone();
        set.spawn(async move {
            let case_start = Instant::now();
            let rec = match ctx.applies(&case) {
                Err(why) => Recorder {
                    skip: Some(why),
                    ..Recorder::default()
                },
                Ok(()) => {
                    let _permit = permits.acquire().await;
                    let mut rec = Recorder::default();
                    let work = run_case(&ctx, &case, &mut rec);
                    if tokio::time::timeout_at(deadline.into(), work)
                        .await
                        .is_err()
                    {
                        rec.error("run deadline reached before the case finished");
                    }
                    rec
                }
            };
            let mut result = finish(&case, &name, rec, case_start.elapsed(), detail);
            if let Some(e) = &expectations {
                e.apply(&mut result);
            }
            if let Some(p) = &progress {
                p(&result);
            }
            (index, result)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Ok(r) = joined {
            results.push(r);
        }
    }
    results.sort_by_key(|(i, _)| *i);
    let cases: Vec<CaseResult> = results.into_iter().map(|(_, r)| r).collect();
    let stale = config
        .expectations
        .as_ref()
        .map(|e| e.stale(&catalogue))
        .unwrap_or_default();
    let mut notes = client.notes();
    notes.extend(detect_notes);
    if let Some(e) = &ctx.session_error
        && ctx.effective.http_endpoint != Some(Toggle::Disabled)
    {
        notes.push(format!("no session token: {e}"));
    }
    if config.declared.http_put_response_hop_limit.is_some() {
        notes.push(
            "HttpPutResponseHopLimit cannot be observed over one hop; declared value only reported"
                .into(),
        );
    }
    Ok(RunResult {
        target: TargetInfo {
            name: config.name.clone(),
            endpoint: client.base().url(),
            description: config.description.clone(),
            declared: config.declared,
            detected,
            effective,
            expectations: config.expectations.as_ref().map(|e| e.source.clone()),
        },
        summary: Summary::of(&cases),
        stale_expectations: stale,
        notes,
        duration_ms: started.elapsed().as_millis() as u64,
        cases,
    })
}

async fn run_case(ctx: &Arc<RunCtx>, case: &Case, rec: &mut Recorder) {
    match &case.body {
        CaseBody::Steps(steps) => crate::eval::run_steps(ctx, steps, rec).await,
        CaseBody::Check(name) => checks::run(name, ctx, rec).await,
    }
}

fn finish(
    case: &Case,
    target: &str,
    rec: Recorder,
    elapsed: Duration,
    detail: DetailLevel,
) -> CaseResult {
    let (outcome, reason) = if let Some(s) = rec.skip {
        (Outcome::Skip, Some(s))
    } else if let Some(e) = rec.error {
        (Outcome::Error, Some(e))
    } else if !rec.failures.is_empty() {
        (Outcome::Fail, None)
    } else {
        (Outcome::Pass, None)
    };
    let keep_exchanges =
        detail == DetailLevel::All || !matches!(outcome, Outcome::Pass | Outcome::Skip);
    CaseResult {
        id: case.id.clone(),
        target: target.to_owned(),
        level: case.level,
        area: case.area.clone(),
        outcome,
        summary: case.summary.clone(),
        doc: case.doc.clone(),
        spec: case.spec.clone(),
        reason,
        duration_ms: elapsed.as_millis() as u64,
        detail: Detail {
            expected: rec.expected,
            failures: rec.failures,
            notes: rec.notes,
            exchanges: if keep_exchanges {
                rec.exchanges
            } else {
                Vec::new()
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_token_has_ec2_shape() {
        assert_eq!(INVALID_TOKEN.len(), 56);
        assert!(imds_model::parse::parse_token_header(INVALID_TOKEN.as_bytes()).is_ok());
    }

    #[test]
    fn tags_state_needs_a_listed_tag_to_say_enabled() {
        assert_eq!(
            tags_state(Some((200, b"Name")), None),
            Some(Toggle::Enabled)
        );
        assert_eq!(tags_state(Some((404, b"")), None), Some(Toggle::Disabled));
        // SPEC §13.5: an empty 200 alone cannot tell; tags/ answering 404 can.
        assert_eq!(tags_state(Some((200, b"")), None), None);
        assert_eq!(tags_state(Some((200, b"\n")), Some(200)), None);
        assert_eq!(
            tags_state(Some((200, b"")), Some(404)),
            Some(Toggle::Disabled)
        );
        assert_eq!(tags_state(None, None), None);
    }

    #[test]
    fn endpoint_state_decides_disabled_from_the_put_alone() {
        assert_eq!(endpoint_state(Some(403), Some(403)), Some(Toggle::Disabled));
        assert_eq!(endpoint_state(Some(403), Some(404)), Some(Toggle::Disabled));
        assert_eq!(endpoint_state(Some(403), None), Some(Toggle::Disabled));
        assert_eq!(endpoint_state(Some(200), None), Some(Toggle::Enabled));
        assert_eq!(endpoint_state(None, Some(401)), Some(Toggle::Enabled));
        assert_eq!(endpoint_state(None, None), None);
        assert_eq!(endpoint_state(Some(500), Some(500)), None);
    }

    #[test]
    fn discovery_expands_placeholders() {
        let d = Discovery {
            role: Some("r".into()),
            ..Discovery::default()
        };
        assert_eq!(d.expand("/a/{role}/b").as_deref(), Some("/a/r/b"));
        assert_eq!(d.expand("/a/{mac}"), None);
        assert_eq!(d.expand("/a").as_deref(), Some("/a"));
    }
}
