//! Running the catalogue against one endpoint: detect options, discover content, select,
//! run cases concurrently under a deadline, apply expectations.

use std::sync::Arc;
use std::sync::atomic::AtomicU32;
use std::time::{Duration, Instant};

use imds_model::infer::{Evidence, infer, needs_tags_dir};
use imds_model::{HttpTokens, Toggle, parse::parse_listing};
use tokio::sync::{OnceCell, Semaphore};

use crate::catalogue::{Case, CaseBody, Catalogue};
use crate::checks;
use crate::client::{Client, ClientConfig, ClientError, Request, Response, reply};
use crate::expectations::Expectations;
use crate::redact::Redactor;
use crate::report::{CaseResult, Detail, Outcome, RunResult, Summary, TargetInfo};

pub use crate::ctx::{HOP_LIMITED, INVALID_TOKEN, Recorder, RunCtx};
pub use crate::target::{Discovery, TargetOptions};

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

/// Cases run at once against a real endpoint (`imdspec run --endpoint`'s default too).
pub const DEFAULT_CONCURRENCY: usize = 4;
/// Request rate cap against a real endpoint, per second (`imdspec run --endpoint`'s default
/// too): EC2 throttles IMDS per instance, and a polite run stays well under that.
pub const DEFAULT_MAX_RPS: f64 = 50.0;
/// Whole-run budget (`imdspec run`'s default too).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(50);

impl RunConfig {
    /// The polite defaults `imdspec run --endpoint` uses: [`DEFAULT_CONCURRENCY`] cases at
    /// once, at most [`DEFAULT_MAX_RPS`] requests a second, [`DEFAULT_DEADLINE`].
    pub fn new(name: impl Into<String>, endpoint: impl Into<String>) -> RunConfig {
        RunConfig {
            name: name.into(),
            endpoint: endpoint.into(),
            description: None,
            declared: TargetOptions::default(),
            include: Vec::new(),
            exclude: Vec::new(),
            expectations: None,
            client: ClientConfig {
                max_rps: Some(DEFAULT_MAX_RPS),
                max_in_flight: DEFAULT_CONCURRENCY * 2,
                ..ClientConfig::default()
            },
            concurrency: DEFAULT_CONCURRENCY,
            deadline: DEFAULT_DEADLINE,
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
    let mut evidence = Evidence::first(reply(&put), reply(&v1));
    let first = infer(&evidence);
    let mut notes = Vec::new();
    if first.http_endpoint.value == Some(Toggle::Disabled) {
        notes.push(format!(
            "HttpEndpoint detected as disabled: {}",
            first.http_endpoint.reason
        ));
    }
    let put_timed_out = matches!(put, Err(ClientError::ResponseTimeout(_)));
    let hop_limited = first.hop_limited;
    if hop_limited {
        notes.push(format!("{HOP_LIMITED}; cases needing a token are skipped"));
    }
    let (session, session_error) = match &put {
        Ok(r) if r.status == 200 && !r.body.is_empty() => (Some(r.text()), None),
        Ok(r) => (
            None,
            Some(format!("PUT /latest/api/token answered {}", r.status)),
        ),
        Err(e) => (None, Some(format!("PUT /latest/api/token: {e}"))),
    };
    let mut discovery = Discovery::default();
    // Declared tokens count too: a declared `optional` lets tokenless discovery try.
    let tokens = declared.http_tokens.or(first.http_tokens.value);
    let usable = first.http_endpoint.value == Some(Toggle::Enabled)
        && (session.is_some() || tokens == Some(HttpTokens::Optional));
    if usable {
        let get = |path: &str| {
            let req = Request::get(path);
            let req = match &session {
                Some(t) => req.token(t),
                None => req,
            };
            let client = client.clone();
            async move { client.send(&req).await }
        };
        let first_entry = |r: &Result<Response, ClientError>| {
            r.as_ref()
                .ok()
                .filter(|r| r.status == 200)
                .and_then(|r| parse_listing(&r.body).ok())
                .and_then(|l| l.entries.first().map(|e| e.segment().to_owned()))
        };
        let tags = get("/latest/meta-data/tags/instance").await;
        evidence.tags_instance = Some(reply(&tags));
        if evidence.tags_instance.is_some_and(needs_tags_dir) {
            evidence.tags_dir = Some(reply(&get("/latest/meta-data/tags/").await));
        }
        discovery.tag_key = first_entry(&tags);
        discovery.role = first_entry(&get("/latest/meta-data/iam/security-credentials/").await);
        discovery.key_index = first_entry(&get("/latest/meta-data/public-keys/").await);
        discovery.mac = get("/latest/meta-data/mac")
            .await
            .ok()
            .filter(|r| r.status == 200 && !r.body.is_empty() && !r.body.contains(&b'/'))
            .map(|r| r.text().trim().to_owned());
        discovery.user_data = get("/latest/user-data")
            .await
            .is_ok_and(|r| r.status == 200);
    }
    let detected = infer(&evidence).options();
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
        CaseBody::Check(check) => checks::run(*check, ctx, rec).await,
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
    fn library_defaults_are_polite() {
        let c = RunConfig::new("t", "http://127.0.0.1:1");
        assert_eq!(c.concurrency, DEFAULT_CONCURRENCY);
        assert_eq!(c.client.max_rps, Some(DEFAULT_MAX_RPS));
        assert!(c.client.max_in_flight <= 2 * c.concurrency);
        assert_eq!(c.deadline, DEFAULT_DEADLINE);
    }
}
