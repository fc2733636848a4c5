//! Another layout in front of the model: a front end (such as `imdspec aemm`, which answers
//! as amazon-ec2-metadata-mock does) replaces the status, `Content-Type` and body of answers
//! the model has already decided, while the protocol (tokens, methods, options, headers,
//! the hop limit) stays the model's.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use imds_model::{Outcome, ReasonPhrase, Timestamp};

/// What an overlay is asked about: one request the model has answered.
#[derive(Clone, Copy, Debug)]
pub struct OverlayRequest<'a> {
    /// The request method (`GET`, `HEAD`, ...).
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// What the model made of it (`Served`, `NotFound`, `TokenMissing`, ...).
    pub outcome: Outcome,
    /// The client's address.
    pub peer: IpAddr,
    /// When the request arrived.
    pub now: Timestamp,
}

/// What replaces the model's status, `Content-Type` and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverlayAnswer {
    /// The status code (100..=599).
    pub status: u16,
    /// The `Content-Type` (`None`: the header is removed).
    pub content_type: Option<String>,
    /// The body (dropped for HEAD; `Content-Length` follows it).
    pub body: Bytes,
}

/// Asked after the model's answer to every request; `None` keeps the model's answer.
pub type Overlay = Arc<dyn Fn(&OverlayRequest<'_>) -> Option<OverlayAnswer> + Send + Sync>;

/// Applies `overlay` to the model's response `resp` to `req`.
pub(crate) fn apply(
    overlay: &Overlay,
    req: &Request<()>,
    outcome: Outcome,
    peer: IpAddr,
    now: Timestamp,
    resp: &mut Response<Bytes>,
) {
    let asked = OverlayRequest {
        method: req.method().as_str(),
        path: req.uri().path(),
        outcome,
        peer,
        now,
    };
    let Some(answer) = overlay(&asked) else {
        return;
    };
    if let Ok(status) = StatusCode::from_u16(answer.status)
        && status != resp.status()
    {
        *resp.status_mut() = status;
        // The model's reason phrase belongs to its own status.
        resp.extensions_mut().remove::<ReasonPhrase>();
    }
    match answer.content_type.as_deref().map(HeaderValue::from_str) {
        Some(Ok(v)) => {
            resp.headers_mut().insert(CONTENT_TYPE, v);
        }
        Some(Err(_)) => {}
        None => {
            resp.headers_mut().remove(CONTENT_TYPE);
        }
    }
    let body = if req.method() == http::Method::HEAD {
        Bytes::new()
    } else {
        answer.body
    };
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len() as u64));
    *resp.body_mut() = body;
}
