//! The control API: applies the ops [`crate::control`] decodes, in process and on a
//! second, loopback-only listener (JSON over HTTP, never on the IMDS listeners).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use imds_model::{Clock, Instance, ManualClock, MetadataOptions, Scenario, Timestamp};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Imds;
use crate::control::{
    self, ControlError, ControlOp, ControlRequest, MAX_BODY, apply_options, patch_instance,
    put_instance,
};
use crate::faults::Faults;
use crate::journal::iso_millis;
use crate::service::Shared;

/// A control answer: status, JSON (or JSON lines for the journal) and, for 405, `Allow`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlResponse {
    /// HTTP status.
    pub status: u16,
    /// `application/json`, or `application/x-ndjson` for the journal.
    pub content_type: &'static str,
    /// The methods the path allows, on a 405.
    pub allow: Option<&'static str>,
    /// The body.
    pub body: String,
}

impl ControlResponse {
    /// A 200 with `value` as JSON, fields in their declared order.
    fn json(value: &impl serde::Serialize) -> Result<ControlResponse, ControlError> {
        let body = serde_json::to_string(value)
            .map_err(|e| ControlError::bad(None, format!("cannot render the answer: {e}")))?;
        Ok(ControlResponse {
            status: 200,
            content_type: JSON,
            allow: None,
            body,
        })
    }

    fn error(e: &ControlError) -> ControlResponse {
        ControlResponse {
            status: e.status,
            content_type: JSON,
            allow: e.allow,
            body: e.to_json(),
        }
    }
}

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

/// What `POST /reset` goes back to.
pub(crate) struct StartState {
    pub(crate) options: MetadataOptions,
    pub(crate) instance: Instance,
    pub(crate) scenario: Option<Scenario>,
    pub(crate) faults: Faults,
}

/// Everything the control ops act on.
pub(crate) struct Controller {
    pub(crate) imds: Arc<Imds>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) manual: Option<Arc<ManualClock>>,
    /// What `POST /reset` goes back to; a reload (SIGHUP) replaces it.
    pub(crate) start: std::sync::Mutex<StartState>,
}

impl Controller {
    /// Decodes ([`control::decode`]) and applies one request.
    pub(crate) fn handle(&self, req: &ControlRequest<'_>) -> ControlResponse {
        match control::decode(req).and_then(|op| self.apply(op)) {
            Ok(r) => r,
            Err(e) => ControlResponse::error(&e),
        }
    }

    /// Applies one op; on an error nothing has changed.
    pub(crate) fn apply(&self, op: ControlOp) -> Result<ControlResponse, ControlError> {
        Ok(match op {
            ControlOp::GetOptions => ControlResponse::json(&self.imds.options())?,
            ControlOp::PutOptions(change) => {
                ControlResponse::json(&self.imds.update_options(|o| apply_options(o, &change)))?
            }
            ControlOp::GetInstance => ControlResponse::json(&*self.imds.instance())?,
            ControlOp::PutInstance(text) => {
                let instance = put_instance(&self.start_instance(), &text)?;
                // Rendered before it is set, so an answer that cannot be made changes nothing.
                let answer = ControlResponse::json(&instance)?;
                self.imds.set_instance(instance);
                answer
            }
            ControlOp::PatchInstance(text) => {
                let i = self.patch_instance(&text)?;
                ControlResponse::json(&*i)?
            }
            ControlOp::GetScenario => self.fired()?,
            ControlOp::PostScenario(scenario) => {
                let entries = scenario.entries.len();
                self.imds.set_scenario(scenario);
                ControlResponse::json(&json!({ "entries": entries }))?
            }
            ControlOp::GetClock => self.clock_json()?,
            ControlOp::AdvanceClock(d) => {
                self.advance_clock(d)?;
                self.clock_json()?
            }
            ControlOp::GetJournal { since } => {
                let mut body = String::new();
                for e in self.shared.journal.entries_since(since) {
                    if let Ok(line) = serde_json::to_string(&e) {
                        body.push_str(&line);
                        body.push('\n');
                    }
                }
                ControlResponse {
                    status: 200,
                    content_type: NDJSON,
                    allow: None,
                    body,
                }
            }
            ControlOp::GetFaults => self.faults_json()?,
            ControlOp::PutFaults(specs) => {
                let faults = parse_faults(&specs)?;
                self.shared.faults.set(faults);
                self.faults_json()?
            }
            ControlOp::DeleteFaults => {
                self.shared.faults.set(Faults::none());
                self.faults_json()?
            }
            ControlOp::GetOpenApi => ControlResponse {
                status: 200,
                content_type: JSON,
                allow: None,
                body: control::OPENAPI.to_owned(),
            },
            ControlOp::Reset => {
                self.reset();
                ControlResponse::json(&json!({ "reset": true }))?
            }
        })
    }

    pub(crate) fn advance_clock(&self, d: Duration) -> Result<Timestamp, ControlError> {
        match &self.manual {
            Some(clock) => {
                clock.advance(d);
                Ok(clock.now())
            }
            None => Err(ControlError::conflict(
                "the server runs on the system clock; start it with `--clock manual` \
                 (ImdsServerBuilder::manual_clock) to move time by hand",
            )),
        }
    }

    pub(crate) fn reset(&self) {
        let s = self.start_state();
        self.imds.reset(s.options, s.instance.clone());
        if let Some(scenario) = &s.scenario {
            self.imds.set_scenario(scenario.clone());
        }
        self.shared.faults.set(s.faults.clone());
    }

    /// Serves `instance` and plays `scenario` from now, and makes them the state `reset`
    /// returns to; options and faults are kept.
    pub(crate) fn reload(&self, instance: Instance, scenario: Option<Scenario>) {
        let mut s = self.start_state();
        self.imds.set_instance(instance.clone());
        if let Some(scenario) = &scenario {
            self.imds.set_scenario(scenario.clone());
        }
        s.instance = instance;
        s.scenario = scenario;
    }

    /// The instance the server started with (its `--instance` file), which `PUT /instance`
    /// and a `null` in `PATCH /instance` fall back to.
    fn start_instance(&self) -> Instance {
        self.start_state().instance.clone()
    }

    /// `PATCH /instance` with `text`; a refused patch changes nothing.
    pub(crate) fn patch_instance(&self, text: &str) -> Result<Arc<Instance>, ControlError> {
        let start = self.start_instance();
        self.imds
            .try_update_instance(|i| patch_instance(i, &start, text))
    }

    fn start_state(&self) -> std::sync::MutexGuard<'_, StartState> {
        crate::lock_unpoisoned(&self.start)
    }

    fn fired(&self) -> Result<ControlResponse, ControlError> {
        let fired: Vec<_> = self
            .imds
            .scenario_fired()
            .into_iter()
            .map(|f| json!({ "index": f.index, "at": iso_millis(f.at), "summary": f.summary }))
            .collect();
        ControlResponse::json(&json!({ "fired": fired }))
    }

    fn clock_json(&self) -> Result<ControlResponse, ControlError> {
        let now = self.clock.now();
        ControlResponse::json(&json!({
            "now": iso_millis(now),
            "now_ms": now.as_millis(),
            "manual": self.manual.is_some(),
        }))
    }

    fn faults_json(&self) -> Result<ControlResponse, ControlError> {
        ControlResponse::json(&json!(self.shared.faults.get().specs()))
    }
}

/// `--fault` specs through the one fault parser; an error names the spec's position.
pub(crate) fn parse_faults(specs: &[String]) -> Result<Faults, ControlError> {
    Faults::parse_all(specs.iter().map(String::as_str)).map_err(|e| {
        let at = specs.iter().position(|s| *s == e.spec).unwrap_or(0);
        ControlError::bad(Some(&format!("[{}]", at + 1)), e.to_string())
    })
}

/// Serves the control API on `listener` until shutdown.
pub(crate) async fn serve(
    listener: TcpListener,
    controller: Arc<Controller>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let controller = controller.clone();
        let http = http.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let controller = controller.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&controller, req).await) }
            });
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

async fn answer(controller: &Controller, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let resp = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => {
            let body = body.to_bytes();
            controller.handle(&ControlRequest {
                method: parts.method.as_str(),
                path: parts.uri.path(),
                query: parts.uri.query(),
                body: &body,
            })
        }
        Err(e) => {
            let too_big = e.is::<http_body_util::LengthLimitError>();
            ControlResponse::error(&ControlError {
                status: if too_big { 413 } else { 400 },
                field: None,
                message: if too_big {
                    format!("the body is over {MAX_BODY} bytes")
                } else {
                    format!("cannot read the body: {e}")
                },
                allow: None,
            })
        }
    };
    to_hyper(resp)
}

fn to_hyper(r: ControlResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(r.body)));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(r.content_type));
    if let Some(allow) = r.allow {
        h.insert(ALLOW, HeaderValue::from_static(allow));
    }
    resp
}

/// True when `addr` is a loopback address (the only kind the control listener binds).
pub(crate) fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}
