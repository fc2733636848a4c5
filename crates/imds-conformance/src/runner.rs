//! Running the catalogue against one endpoint: detect options, discover content, select,
//! run cases concurrently under a deadline, apply expectations.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::time::{Duration, Instant};

use imds_model::{HttpTokens, Toggle, parse::parse_listing};
use imds_observe::infer::{Evidence, Reply, infer, needs_tags_dir};
use imds_report::Expectations;
use imds_report::report::{
    CaseResult, Cause, Detail, Outcome, RunResult, Summary, TargetInfo, Unchecked, cause_of,
};
use tokio::sync::{OnceCell, Semaphore};

use crate::catalogue::{Case, CaseBody, Catalogue};
use crate::checks;
use crate::client::{Client, ClientConfig, ClientError, Request, Response, reply};
use crate::redact::Redactor;

pub use crate::ctx::{
    DetectionAnswers, HOP_LIMIT_DECLARED, HOP_LIMITED, INVALID_TOKEN, Recorder, RunCtx, Stop,
    contradiction,
};
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
    /// Time between detection's rounds ([`DEFAULT_PROBE_SPACING`]; tests shorten it).
    pub probe_spacing: Duration,
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
/// Rounds of a token PUT and a tokenless GET detection asks when the first is not clean.
pub const DETECTION_ROUNDS: usize = 3;
/// Time between detection's rounds: three rounds spread over a second, so one odd answer
/// (a restart, a brief overload) does not decide the options of a whole run.
pub const DEFAULT_PROBE_SPACING: Duration = Duration::from_millis(500);

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
            probe_spacing: DEFAULT_PROBE_SPACING,
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
    /// What the answers suggest (as `imdspec probe` reports it).
    detected: TargetOptions,
    /// What they prove: `detected` without the values that are only likely.
    decisive: TargetOptions,
    session: Option<String>,
    session_error: Option<String>,
    discovery: Discovery,
    put_timeouts: u32,
    hop_limited: bool,
    answers: DetectionAnswers,
    notes: Vec<String>,
}

/// The instance id amazon-ec2-metadata-mock (and `imdspec aemm`, which copies it) serves by
/// default. Real instance ids are random, so seeing it without a target file earns a note
/// naming the target files that list those mocks' known failures.
const AEMM_DEFAULT_INSTANCE_ID: &str = "i-1234567890abcdef0";

/// True when one round's answers settle the options with nothing odd: a token, and a tokenless
/// GET answered as EC2 answers it (200 or 401). Anything else is asked again before it decides.
fn clean(put: Reply, get: Reply) -> bool {
    matches!(
        put,
        Reply::Answered {
            status: 200,
            blank: false
        }
    ) && matches!(get.status(), Some(200 | 401))
}

/// The answers of several rounds, as evidence: a token handed out beats any other PUT answer
/// (a turned-off endpoint never issues one), and the last GET answer that tells (200, 401,
/// 403) beats the others; otherwise the last answer.
fn settled(answers: &DetectionAnswers) -> Evidence {
    let put = answers
        .puts
        .iter()
        .copied()
        .find(|p| clean(*p, Reply::status_with(200, b"")))
        .or(answers.puts.last().copied())
        .unwrap_or(Reply::TimedOut);
    let get = answers
        .gets
        .iter()
        .rev()
        .copied()
        .find(|g| matches!(g.status(), Some(200 | 401 | 403)))
        .or(answers.gets.last().copied())
        .unwrap_or(Reply::TimedOut);
    Evidence::first(put, get)
}

/// Detects options, gets the session token and discovers content. The token PUT and the
/// tokenless GET are asked once; unless that round is clean ([`clean`]), twice more,
/// `spacing` apart, before an answer that would skip whole areas decides anything.
async fn detect(
    client: &Arc<Client>,
    declared: TargetOptions,
    spacing: Duration,
    has_expectations: bool,
) -> Result<Detection, ClientError> {
    let mut answers = DetectionAnswers::default();
    let mut session = None;
    let mut session_error = None;
    let mut put_timeouts = 0;
    let mut mock_default_id = false;
    for round in 0..DETECTION_ROUNDS {
        if round > 0 {
            tokio::time::sleep(spacing).await;
        }
        let put = client.send(&Request::token_put(21600)).await;
        let get = client
            .send(&Request::get("/latest/meta-data/instance-id"))
            .await;
        if let (Err(e), Err(_)) = (&put, &get)
            && e.is_unreachable()
            && round == 0
        {
            return Err(e.clone());
        }
        if round == 0 {
            mock_default_id = get
                .as_ref()
                .is_ok_and(|r| r.status == 200 && r.text().trim() == AEMM_DEFAULT_INSTANCE_ID);
        }
        put_timeouts += u32::from(matches!(put, Err(ClientError::ResponseTimeout(_))));
        match &put {
            Ok(r) if r.status == 200 && !r.body.is_empty() => {
                session.get_or_insert_with(|| r.text());
            }
            Ok(r) => session_error = Some(format!("PUT /latest/api/token answered {}", r.status)),
            Err(e) => session_error = Some(format!("PUT /latest/api/token: {e}")),
        }
        answers.puts.push(reply(&put));
        answers.gets.push(reply(&get));
        if round == 0 && clean(answers.puts[0], answers.gets[0]) {
            break;
        }
    }
    let session_error = if session.is_some() {
        None
    } else {
        session_error
    };
    let mut evidence = settled(&answers);
    let first = infer(&evidence);
    let mut notes = Vec::new();
    for (what, replies) in [
        ("the token PUT", &answers.puts),
        ("the tokenless GET of meta-data/instance-id", &answers.gets),
    ] {
        if let Some(c) = contradiction(replies) {
            notes.push(format!(
                "{what} answered {c}: detection used what the endpoint demonstrably does (options.consistent-answers)"
            ));
        }
    }
    if first.http_endpoint.value == Some(Toggle::Disabled) {
        notes.push(format!(
            "HttpEndpoint detected as disabled: {}",
            first.http_endpoint.reason
        ));
    }
    if mock_default_id && !has_expectations {
        notes.push(format!(
            "the instance id is {AEMM_DEFAULT_INSTANCE_ID}, amazon-ec2-metadata-mock's default: \
             if this is AEMM, its known failures are --target aemm; if it is `imdspec aemm`, \
             --target imdspec-aemm (conformance/targets/)"
        ));
    }
    let hop_limited = first.hop_limited;
    if hop_limited {
        let what = if declared.http_put_response_hop_limit.is_some() {
            "skipped, as the declared hop limit says they would be"
        } else {
            "inconclusive"
        };
        notes.push(format!("{HOP_LIMITED}; cases needing a token are {what}"));
    }
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
    let inference = infer(&evidence);
    let detected = inference.options();
    let mut decisive = detected;
    if !inference.instance_metadata_tags.conclusive && detected.instance_metadata_tags.is_some() {
        // A 404 is what a turned-off tags category answers, and perhaps also an instance
        // with tags on and none set (SPEC §12.19): reported, but not enough to choose by.
        notes.push(format!(
            "InstanceMetadataTags detected only as likely {}, so no case is chosen by it: {}",
            inference
                .instance_metadata_tags
                .value
                .map_or("?".into(), |v| v.to_string()),
            inference.instance_metadata_tags.reason
        ));
        decisive.instance_metadata_tags = None;
    }
    Ok(Detection {
        detected,
        decisive,
        session,
        session_error,
        discovery,
        put_timeouts,
        hop_limited,
        answers,
        notes,
    })
}

/// Runs the catalogue against `config.endpoint`: detect, run every selected case, and when
/// the cases' answers contradict the detection (a token handed out by an endpoint detected as
/// turned off), detect once more and run them again on what the endpoint demonstrably does.
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
    let detect_in_time = async || match tokio::time::timeout_at(
        deadline.into(),
        detect(
            &client,
            config.declared,
            config.probe_spacing,
            config.expectations.is_some(),
        ),
    )
    .await
    {
        Ok(d) => d,
        Err(_) => Ok(Detection {
            detected: TargetOptions::default(),
            decisive: TargetOptions::default(),
            session: None,
            session_error: Some("run deadline reached while detecting the target's options".into()),
            discovery: Discovery::default(),
            put_timeouts: 0,
            hop_limited: false,
            answers: DetectionAnswers::default(),
            notes: Vec::new(),
        }),
    };
    let detection = detect_in_time().await.map_err(unreachable)?;
    let mut notes = Vec::new();
    let mut ctx = context(&client, &catalogue, &config, detection, &mut notes);
    let mut cases = run_cases(&ctx, &config, deadline).await;
    let contradicted = config.declared.http_endpoint.is_none()
        && (ctx.detected.http_endpoint == Some(Toggle::Disabled) || ctx.hop_limited)
        && ctx.token_issued.load(std::sync::atomic::Ordering::Relaxed);
    if contradicted {
        let first = ctx.detected;
        let mut again = detect_in_time().await.map_err(unreachable)?;
        let later = "a case's token PUT was answered with a token after detection had found none"
            .to_owned();
        notes.push(format!(
            "re-detected: {later}; detected {} at first, then {}",
            first.describe(),
            again.detected.describe()
        ));
        again.answers.later.push(later);
        ctx = context(&client, &catalogue, &config, again, &mut notes);
        cases = run_cases(&ctx, &config, deadline).await;
    }
    let stale = config
        .expectations
        .as_ref()
        .map(|e| catalogue.stale(e))
        .unwrap_or_default();
    let mut all_notes = client.notes();
    all_notes.extend(notes);
    if let Some(e) = &ctx.session_error
        && ctx.effective.http_endpoint != Some(Toggle::Disabled)
    {
        all_notes.push(format!("no session token: {e}"));
    }
    if let Some(n) = config.declared.http_put_response_hop_limit {
        all_notes.push(format!(
            "HttpPutResponseHopLimit {n} declared: it cannot be observed over one hop, but a token PUT left unanswered while GETs are answered is then an expected skip, not inconclusive"
        ));
    }
    Ok(RunResult {
        target: TargetInfo {
            name: config.name.clone(),
            endpoint: client.base().url(),
            description: config.description.clone(),
            declared: config.declared,
            detected: ctx.detected,
            effective: ctx.effective,
            expectations: config.expectations.as_ref().map(|e| e.source.clone()),
        },
        summary: Summary::of(&cases),
        stale_expectations: stale,
        unchecked: unchecked(&cases),
        notes: all_notes,
        duration_ms: started.elapsed().as_millis() as u64,
        cases,
    })
}

/// The run context for one detection; its notes go to `notes`.
fn context(
    client: &Arc<Client>,
    catalogue: &Arc<Catalogue>,
    config: &RunConfig,
    detection: Detection,
    notes: &mut Vec<String>,
) -> Arc<RunCtx> {
    let Detection {
        detected,
        decisive,
        session,
        session_error,
        discovery,
        put_timeouts,
        hop_limited,
        answers,
        notes: detect_notes,
    } = detection;
    notes.extend(detect_notes);
    Arc::new(RunCtx {
        client: client.clone(),
        catalogue: catalogue.clone(),
        session,
        session_error,
        declared: config.declared,
        detected,
        effective: config.declared.or(decisive),
        discovery,
        redactor: Redactor {
            show_secrets: config.show_secrets,
        },
        hop_limited,
        answers,
        put_timeouts: AtomicU32::new(put_timeouts),
        token_issued: AtomicBool::new(false),
        crawl: OnceCell::new(),
        probed: OnceCell::new(),
    })
}

/// Runs the selected cases at most `config.concurrency` at once, until `deadline`; results in
/// catalogue order.
async fn run_cases(ctx: &Arc<RunCtx>, config: &RunConfig, deadline: Instant) -> Vec<CaseResult> {
    let selected: Vec<Case> = ctx
        .catalogue
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
                Err(why) => {
                    let mut rec = Recorder::default();
                    rec.stop(Stop::Skip(why));
                    rec
                }
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
            result.group = cause_of(&result);
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
    results.into_iter().map(|(_, r)| r).collect()
}

/// What the inconclusive cases could not check, with the likely causes and their fixes.
fn unchecked(cases: &[CaseResult]) -> Vec<Unchecked> {
    let of = |reason: &str| -> Vec<String> {
        cases
            .iter()
            .filter(|c| c.outcome == Outcome::Inconclusive && c.reason.as_deref() == Some(reason))
            .map(|c| c.id.clone())
            .collect()
    };
    let mut out = Vec::new();
    let hop = of(HOP_LIMITED);
    if !hop.is_empty() {
        out.push(Unchecked {
            what: "the token rules: the token PUT never got an answer while tokenless GETs did, so no case that needs a token could run".into(),
            cases: hop,
            causes: vec![
                Cause {
                    cause: "a hop limit: the instance's HttpPutResponseHopLimit is lower than the hops to here (a container on a bridge network is one hop further than the host)".into(),
                    fix: "aws ec2 modify-instance-metadata-options --instance-id <id> --http-put-response-hop-limit 2, or run imdspec on the host; if the limit is intended, say so with --http-put-response-hop-limit 1 and these cases become skips".into(),
                },
                Cause {
                    cause: "a proxy or firewall between here and the endpoint that forwards GETs but not PUTs (or not their answers)".into(),
                    fix: "run against the endpoint directly, or let the proxy pass PUT /latest/api/token and its answer".into(),
                },
                Cause {
                    cause: "a hung or flaky endpoint that stops answering token PUTs".into(),
                    fix: "check the endpoint's logs; `imdspec probe` shows the timings; run again with a longer --timeout-ms".into(),
                },
            ],
        });
    }
    let rest: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| c.outcome == Outcome::Inconclusive && c.reason.as_deref() != Some(HOP_LIMITED))
        .collect();
    let mut reasons: Vec<&str> = rest.iter().filter_map(|c| c.reason.as_deref()).collect();
    reasons.sort_unstable();
    reasons.dedup();
    for reason in reasons {
        out.push(Unchecked {
            what: reason.to_owned(),
            cases: of(reason),
            causes: vec![Cause {
                cause: "the endpoint's answers do not tell what the rule needs to know".into(),
                fix: "declare the option (see --help) or capture what a real instance answers and add it to SPEC.md".into(),
            }],
        });
    }
    out
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
    let (outcome, reason) = match rec.stop {
        Some(Stop::Skip(why)) => (Outcome::Skip, Some(why)),
        Some(Stop::Inconclusive(why)) => (Outcome::Inconclusive, Some(why)),
        Some(Stop::Error(why)) => (Outcome::Error, Some(why)),
        None if !rec.failures.is_empty() => (Outcome::Fail, None),
        None => (Outcome::Pass, None),
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
        group: None,
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
