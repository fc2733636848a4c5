//! The run context every case gets: the client, the catalogue, the session token, what was
//! declared and detected, the shared crawl; and the [`Recorder`] of one case with the
//! exchange helpers that fill it. Nothing here runs cases: that is [`crate::runner`]'s job,
//! which builds this context.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use bytes::Bytes;
use imds_model::parse::Listing;
use imds_model::{HttpTokens, Toggle};
use imds_report::report::{ExchangeRecord, Failure, RequestRecord, ResponseRecord};
use tokio::sync::OnceCell;

use crate::catalogue::{Case, Catalogue, EndpointNeed, Presence};
use crate::client::{Client, ClientError, Request, Response};
use crate::redact::Redactor;
use crate::target::{Discovery, TargetOptions};

/// Longest body kept in a report exchange.
const REPORT_BODY_LIMIT: usize = 4096;
/// After this many token PUT timeouts, further token fetches fail at once (a hop-limited
/// PUT never answers; waiting for each one would only make the run slow).
const PUT_TIMEOUT_BREAKER: u32 = 3;
/// Why a case needing a token is inconclusive when the token PUT's answer never arrives while
/// tokenless GETs are answered: a hop limit dropping it is configuration, not a fault, but a
/// run that never got a token cannot say the token rules hold either.
pub const HOP_LIMITED: &str = "hop-limited: the token PUT answer did not arrive while tokenless GETs were answered (HttpPutResponseHopLimit too low for this network position?, SPEC §13.1)";
/// Why such a case is skipped instead when the user declared the hop limit
/// (`--http-put-response-hop-limit N`): they know the answer does not reach them.
pub const HOP_LIMIT_DECLARED: &str = "hop-limited, as declared: the token PUT answer does not reach this network position (HttpPutResponseHopLimit declared, SPEC §13.1)";

/// One path the crawl visited.
#[derive(Clone, Debug)]
pub struct CrawlNode {
    /// Status, or `None` when the request failed.
    pub status: Option<u16>,
    /// Transport error.
    pub error: Option<String>,
    /// The body.
    pub body: Bytes,
    /// The parsed listing, when fetched as a directory and well-formed.
    pub listing: Option<Listing>,
    /// Why the body was not a listing.
    pub listing_error: Option<String>,
    /// How the parent listed it (`iam/`, `0=key`, `ami-id`).
    pub line: String,
    /// True when the parent marked it as a directory (trailing `/`).
    pub listed_as_dir: bool,
    /// True when fetched with a trailing slash.
    pub fetched_as_dir: bool,
}

/// What the crawl of `/latest/meta-data/` and `/latest/dynamic/` found.
#[derive(Clone, Debug, Default)]
pub struct Crawl {
    /// Paths below `/latest/` (no slashes at the ends) → what they answered.
    pub nodes: BTreeMap<String, CrawlNode>,
    /// Set when a cap stopped the crawl.
    pub capped: Option<String>,
    /// Exchanges that did not answer 200 (at most a few).
    pub odd_exchanges: Vec<ExchangeRecord>,
}

/// Documented paths probed directly (those the crawl did not reach too).
#[derive(Clone, Debug, Default)]
pub struct Probed {
    /// (concrete path, template index, status, body).
    pub entries: Vec<(String, usize, Option<u16>, Bytes)>,
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
    /// Declared, else detected where the answers prove it (a likely value is left out).
    pub effective: TargetOptions,
    /// Content found.
    pub discovery: Discovery,
    /// Redaction.
    pub redactor: Redactor,
    /// Detection saw the token PUT time out while a tokenless GET was answered.
    pub hop_limited: bool,
    /// What detection's rounds got, in order (see [`crate::runner`]), plus what later
    /// answers contradicted.
    pub answers: DetectionAnswers,
    pub(crate) put_timeouts: AtomicU32,
    /// A case's token PUT got a token (which a turned-off endpoint never hands out).
    pub(crate) token_issued: std::sync::atomic::AtomicBool,
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
    /// Why the case stopped short of a verdict from its failures, if it did.
    pub stop: Option<Stop>,
}

/// Why a case ended without a pass or fail of its own evidence. Whoever stops a case says so
/// with [`Recorder::stop`]; the most telling reason wins: "does not apply" over "could not be
/// checked" over "could not run".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The case does not apply to this target (`skip`).
    Skip(String),
    /// The endpoint kept the case from being checked (`inconclusive`).
    Inconclusive(String),
    /// The case could not be run (`error`).
    Error(String),
}

impl Stop {
    fn rank(&self) -> u8 {
        match self {
            Stop::Skip(_) => 3,
            Stop::Inconclusive(_) => 2,
            Stop::Error(_) => 1,
        }
    }
}

/// The answers option detection got: one token PUT and one tokenless GET per round.
#[derive(Clone, Debug, Default)]
pub struct DetectionAnswers {
    /// The token PUTs' answers, in order.
    pub puts: Vec<imds_observe::infer::Reply>,
    /// The tokenless `meta-data/instance-id` GETs' answers, in order.
    pub gets: Vec<imds_observe::infer::Reply>,
    /// Answers of the cases that contradicted the detection (the run re-detected).
    pub later: Vec<String>,
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

    /// Stops the case for `why`, unless it was already stopped for a more telling reason
    /// (of equal ones, the first wins).
    pub fn stop(&mut self, why: Stop) {
        if self.stop.as_ref().is_none_or(|s| why.rank() > s.rank()) {
            self.stop = Some(why);
        }
    }

    /// Marks the case as not runnable.
    pub fn error(&mut self, message: impl Into<String>) {
        self.stop(Stop::Error(message.into()));
    }
}

/// `403, 403, then 200`, or `None` when every answer was the same.
pub fn contradiction(replies: &[imds_observe::infer::Reply]) -> Option<String> {
    let first = replies.first()?;
    if replies.iter().all(|r| r == first) {
        return None;
    }
    let words: Vec<String> = replies.iter().map(ToString::to_string).collect();
    let (last, rest) = words.split_last()?;
    Some(format!("{}, then {last}", rest.join(", ")))
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
                if req.method == http::Method::PUT {
                    self.mark_hop_limited(rec);
                }
                rec.error(format!("{} {}: {e}", req.method, req.path));
                None
            }
        }
    }

    /// Marks a case that cannot get a token: on a hop-limited target `inconclusive` (or
    /// `skip` when the hop limit was declared), else `error`.
    pub fn no_token(&self, rec: &mut Recorder, message: impl Into<String>) {
        self.mark_hop_limited(rec);
        rec.error(message);
    }

    fn mark_hop_limited(&self, rec: &mut Recorder) {
        if !self.hop_limited {
        } else if self.declared.http_put_response_hop_limit.is_some() {
            rec.stop(Stop::Skip(HOP_LIMIT_DECLARED.to_owned()));
        } else {
            rec.stop(Stop::Inconclusive(HOP_LIMITED.to_owned()));
        }
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
    pub(crate) async fn send_guarded(&self, req: &Request) -> Result<Response, ClientError> {
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
        if token_put && matches!(&result, Ok(r) if r.status == 200 && !r.body.is_empty()) {
            self.token_issued.store(true, Ordering::Relaxed);
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

    pub(crate) fn applies(&self, case: &Case) -> Result<(), String> {
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

    /// The skip reason for a 404 on `path` when it is a category that instances launched
    /// before it appeared do not serve (SPEC §13.2).
    pub fn absent_by_age(&self, path: &str, status: u16) -> Option<String> {
        let doc = self.catalogue.documented(path)?;
        (status == 404 && doc.presence == Presence::Launched).then(|| {
            format!(
                "absent: instances launched before {} do not serve {path}, SPEC §13.2",
                doc.since
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_telling_stop_wins() {
        let mut rec = Recorder::default();
        rec.error("timeout");
        rec.error("a later timeout");
        assert_eq!(rec.stop, Some(Stop::Error("timeout".into())));
        rec.stop(Stop::Inconclusive("hop-limited".into()));
        rec.error("no token");
        assert_eq!(rec.stop, Some(Stop::Inconclusive("hop-limited".into())));
        rec.stop(Stop::Skip("declared".into()));
        rec.stop(Stop::Inconclusive("again".into()));
        assert_eq!(rec.stop, Some(Stop::Skip("declared".into())));
    }

    #[test]
    fn invalid_token_has_ec2_shape() {
        assert_eq!(INVALID_TOKEN.len(), 56);
        assert!(imds_model::parse::parse_token_header(INVALID_TOKEN.as_bytes()).is_ok());
    }
}
