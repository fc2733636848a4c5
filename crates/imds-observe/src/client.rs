//! A small HTTP/1.1 client for talking to IMDS endpoints, real or hostile.
//!
//! One connection per request (EC2 closes them anyway), hyper 1's `client::conn::http1` over a
//! tokio `TcpStream`. Every request has a time budget; which phase ran out of it (connect,
//! response head, body) is reported as such. Bodies are capped, redirects are never followed
//! (a 3xx is just a response), a request-rate cap and a concurrency bound keep it polite on
//! real instances, and 429/503 answers are retried with backoff and noted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method, Uri};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Default per-request time budget.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default body cap: 1 MiB.
pub const DEFAULT_BODY_CAP: usize = 1 << 20;

/// How the client behaves.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Budget for one request: connect, response head and body together.
    pub timeout: Duration,
    /// Largest body read; more is [`ClientError::BodyTooLarge`].
    pub body_cap: usize,
    /// Most requests started per second (`None`: no cap).
    pub max_rps: Option<f64>,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// How often a 429 or 503 answer is retried (with doubling backoff) before it is returned.
    pub throttle_retries: u32,
    /// First backoff after a 429/503.
    pub throttle_backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            timeout: DEFAULT_TIMEOUT,
            body_cap: DEFAULT_BODY_CAP,
            max_rps: None,
            max_in_flight: 16,
            throttle_retries: 2,
            throttle_backoff: Duration::from_millis(250),
        }
    }
}

/// The endpoint: an `http://host[:port]` base URL (IPv6 literals in brackets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    /// Host as given, IPv6 literals without brackets.
    pub host: String,
    /// Port (80 when not given).
    pub port: u16,
    /// Path prefix without trailing slash (usually empty).
    pub prefix: String,
    /// The `Host` header value.
    pub authority: String,
}

impl BaseUrl {
    /// Parses an endpoint URL. Only plain `http` is accepted (IMDS has no TLS).
    pub fn parse(s: &str) -> Result<BaseUrl, ClientError> {
        let bad = |why: &str| ClientError::BadUrl(format!("{s:?}: {why}"));
        let uri: Uri = s.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(bad(&format!(
                    "scheme {other} not supported (IMDS is plain http)"
                )));
            }
            None => return Err(bad("give a full URL such as http://127.0.0.1:1338")),
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if uri.query().is_some() {
            return Err(bad("no query string allowed"));
        }
        Ok(BaseUrl {
            host,
            port: authority.port_u16().unwrap_or(80),
            prefix: uri.path().trim_end_matches('/').to_owned(),
            authority: authority.as_str().to_owned(),
        })
    }

    /// Parses a base URL given by a user (`--endpoint`): as [`BaseUrl::parse`], but a path
    /// is refused with a hint, since every check names its own path from the root
    /// (`http://169.254.169.254/latest/` would make `/latest/latest/…` requests).
    pub fn parse_base(s: &str) -> Result<BaseUrl, ClientError> {
        let base = BaseUrl::parse(s)?;
        if base.prefix.is_empty() {
            Ok(base)
        } else {
            Err(ClientError::BadUrl(format!(
                "{s:?}: give the base URL without a path (http://{}), imdspec adds \
                 /latest/… itself",
                base.authority
            )))
        }
    }

    /// The URL as text (`http://authority/prefix`).
    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }
}

/// One request: method, path (below the base URL) and headers. No body (IMDS takes none).
#[derive(Clone, Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path starting with `/`.
    pub path: String,
    /// Headers, in order.
    pub headers: Vec<(HeaderName, String)>,
    /// Send header names in Title-Case (`X-Aws-Ec2-Metadata-Token-Ttl-Seconds`), as Go does.
    pub title_case_headers: bool,
}

impl Request {
    /// A request with no headers.
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            headers: Vec::new(),
            title_case_headers: false,
        }
    }

    /// A GET.
    pub fn get(path: impl Into<String>) -> Request {
        Request::new(Method::GET, path)
    }

    /// The IMDSv2 token PUT with this TTL.
    pub fn token_put(ttl: u32) -> Request {
        Request::new(Method::PUT, "/latest/api/token")
            .header(imds_model::TTL_HEADER, ttl.to_string())
    }

    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    /// Adds the session token header.
    pub fn token(self, token: &str) -> Request {
        self.header(imds_model::TOKEN_HEADER, token)
    }
}

/// A response as received: status, reason, headers (lower-case names, in order) and body.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// A non-canonical reason phrase, when the server sent one (`Not Allowed`).
    pub reason: Option<String>,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (at most the cap).
    pub body: Bytes,
    /// Time from send to the end of the body.
    pub elapsed: Duration,
    /// How many 429/503 answers were retried before this one.
    pub throttled: u32,
}

impl Response {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request produced no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The base URL is unusable.
    #[error("bad endpoint URL {0}")]
    BadUrl(String),
    /// The TCP connection failed (refused, unreachable, name not found).
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// Host and port.
        addr: String,
        /// The OS error.
        message: String,
    },
    /// No TCP connection within the budget.
    #[error("connect timed out after {} ms", .0.as_millis())]
    ConnectTimeout(Duration),
    /// Connected, but no response head within the budget (a hop-limited token PUT looks so).
    #[error("no response within {} ms (connection accepted, request sent)", .0.as_millis())]
    ResponseTimeout(Duration),
    /// The head arrived but the body did not finish within the budget.
    #[error("body not complete within {} ms", .0.as_millis())]
    BodyTimeout(Duration),
    /// The body was larger than the cap.
    #[error("body larger than {cap} bytes")]
    BodyTooLarge {
        /// The cap in bytes.
        cap: usize,
    },
    /// The exchange broke at the HTTP level (malformed response, connection reset, …).
    #[error("HTTP error: {0}")]
    Http(String),
    /// The caller decided not to send it (e.g. after earlier identical requests timed out).
    #[error("not sent: {0}")]
    NotSent(String),
}

/// How an exchange ended, in the terms of the model's options inference.
pub fn reply(result: &Result<Response, ClientError>) -> crate::infer::Reply {
    use crate::infer::Reply;
    match result {
        Ok(r) => Reply::status_with(r.status, &r.body),
        Err(
            ClientError::BadUrl(_) | ClientError::Connect { .. } | ClientError::ConnectTimeout(_),
        ) => Reply::Refused,
        // `NotSent` only follows earlier timeouts of the same request (the PUT breaker).
        Err(ClientError::ResponseTimeout(_) | ClientError::NotSent(_)) => Reply::TimedOut,
        Err(_) => Reply::Reset,
    }
}

impl ClientError {
    /// True when the endpoint could not be reached at all (nothing listening, no route).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. } | ClientError::ConnectTimeout(_)
        )
    }
}

struct RateLimiter {
    interval: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl RateLimiter {
    async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// Aborts the connection task when the request is over, so a hung server never keeps a
/// socket (or a task) alive.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The client. Cheap to share behind an `Arc`; all methods take `&self`.
pub struct Client {
    base: BaseUrl,
    config: ClientConfig,
    limiter: Option<RateLimiter>,
    in_flight: Semaphore,
    notes: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `endpoint` (e.g. `http://127.0.0.1:1338` or `http://[::1]:1338`).
    pub fn new(endpoint: &str, config: ClientConfig) -> Result<Client, ClientError> {
        let base = BaseUrl::parse(endpoint)?;
        let limiter = config
            .max_rps
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| RateLimiter {
                interval: Duration::from_secs_f64(1.0 / r),
                next: tokio::sync::Mutex::new(Instant::now()),
            });
        Ok(Client {
            base,
            in_flight: Semaphore::new(config.max_in_flight.max(1)),
            limiter,
            config,
            notes: Mutex::new(Vec::new()),
        })
    }

    /// The endpoint.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Notes gathered so far (throttling seen, backoffs), oldest first, without repeats.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn note(&self, s: String) {
        if let Ok(mut n) = self.notes.lock()
            && !n.contains(&s)
        {
            n.push(s);
        }
    }

    /// Checks that something accepts TCP connections at the endpoint.
    pub async fn check_reachable(&self) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.config.timeout;
        self.connect(deadline).await.map(drop)
    }

    /// Sends a request, retrying 429/503 answers with backoff.
    pub async fn send(&self, req: &Request) -> Result<Response, ClientError> {
        let mut attempt = 0;
        loop {
            let mut resp = self.send_once(req).await?;
            if !matches!(resp.status, 429 | 503) || attempt >= self.config.throttle_retries {
                resp.throttled = attempt;
                if matches!(resp.status, 429 | 503) {
                    self.note(format!(
                        "endpoint still answered {} after {attempt} backoff(s); result kept",
                        resp.status
                    ));
                }
                return Ok(resp);
            }
            let wait = self.config.throttle_backoff * 2u32.saturating_pow(attempt);
            self.note(format!(
                "endpoint answered {} (throttling?); backing off {} ms and retrying",
                resp.status,
                wait.as_millis()
            ));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn connect(&self, deadline: Instant) -> Result<TcpStream, ClientError> {
        let addr = (self.base.host.as_str(), self.base.port);
        match tokio::time::timeout_at(deadline.into(), TcpStream::connect(addr)).await {
            Err(_) => Err(ClientError::ConnectTimeout(self.config.timeout)),
            Ok(Err(e)) => Err(ClientError::Connect {
                addr: format!("{}:{}", self.base.host, self.base.port),
                message: e.to_string(),
            }),
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
        }
    }

    /// Sends one request, without retries.
    pub async fn send_once(&self, req: &Request) -> Result<Response, ClientError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| ClientError::Http("client closed".into()))?;
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        let timeout = self.config.timeout;
        let start = Instant::now();
        let deadline = start + timeout;
        let stream = self.connect(deadline).await?;
        let http_err = |e: hyper::Error| ClientError::Http(e.to_string());

        let handshake = hyper::client::conn::http1::Builder::new()
            .title_case_headers(req.title_case_headers)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(stream));
        let (mut sender, conn) = tokio::time::timeout_at(deadline.into(), handshake)
            .await
            .map_err(|_| ClientError::ResponseTimeout(timeout))?
            .map_err(http_err)?;
        let _conn = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));

        let uri = format!("{}{}", self.base.prefix, req.path);
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(&uri)
            .header(http::header::HOST, &self.base.authority);
        for (name, value) in &req.headers {
            let value = HeaderValue::from_str(value)
                .map_err(|_| ClientError::Http(format!("bad header value for {name}")))?;
            builder = builder.header(name, value);
        }
        let request = builder
            .body(Empty::<Bytes>::new())
            .map_err(|e| ClientError::Http(e.to_string()))?;

        let resp = tokio::time::timeout_at(deadline.into(), sender.send_request(request))
            .await
            .map_err(|_| ClientError::ResponseTimeout(timeout))?
            .map_err(http_err)?;
        let status = resp.status().as_u16();
        let reason = resp
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        let version = format!("{:?}", resp.version());
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = resp.into_body();
        let mut buf = BytesMut::new();
        let cap = self.config.body_cap;
        loop {
            let frame = tokio::time::timeout_at(deadline.into(), body.frame())
                .await
                .map_err(|_| ClientError::BodyTimeout(timeout))?;
            match frame {
                None => break,
                Some(Err(e)) => return Err(http_err(e)),
                Some(Ok(f)) => {
                    if let Ok(data) = f.into_data() {
                        if buf.len() + data.len() > cap {
                            return Err(ClientError::BodyTooLarge { cap });
                        }
                        buf.extend_from_slice(&data);
                    }
                }
            }
        }
        Ok(Response {
            status,
            reason,
            version,
            headers,
            body: buf.freeze(),
            elapsed: start.elapsed(),
            throttled: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_with_a_path_is_refused_with_a_hint() {
        let e = BaseUrl::parse_base("http://127.0.0.1:1338/latest/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("without a path (http://127.0.0.1:1338)"), "{e}");
        assert!(BaseUrl::parse_base("http://127.0.0.1:1338/").is_ok());
        assert!(BaseUrl::parse_base("http://[::1]:1338").is_ok());
    }

    #[test]
    fn base_urls() {
        let b = BaseUrl::parse("http://127.0.0.1:1338").unwrap();
        assert_eq!(
            (b.host.as_str(), b.port, b.prefix.as_str()),
            ("127.0.0.1", 1338, "")
        );
        let b = BaseUrl::parse("http://[::1]:8080/").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 8080));
        assert_eq!(b.authority, "[::1]:8080");
        assert_eq!(b.url(), "http://[::1]:8080");
        let b = BaseUrl::parse("http://169.254.169.254").unwrap();
        assert_eq!(b.port, 80);
        for bad in [
            "https://x",
            "127.0.0.1:80",
            "http://",
            "ftp://x",
            "http://a/?q",
        ] {
            assert!(
                matches!(BaseUrl::parse(bad), Err(ClientError::BadUrl(_))),
                "{bad}"
            );
        }
    }
}
