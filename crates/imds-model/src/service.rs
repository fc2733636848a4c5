//! Request in, response out: every IMDS rule in one pure function ([`Snapshot::answer`]), the
//! scenario played beside it ([`Play`]), and [`Model`], which plays both one request at a time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, EXPECT, HeaderMap,
    HeaderName, HeaderValue, LAST_MODIFIED, SERVER,
};
use http::{Method, Request, Response, StatusCode};

use crate::clock::Timestamp;
use crate::instance::{Instance, UnauthorizedBody};
use crate::kind::{RequestKind, classify_parsed};
use crate::options::{HttpTokens, MetadataOptions};
use crate::pages::error_page;
use crate::parse::{PathRef, parse_path_ref, parse_token_header, parse_ttl};
use crate::scenario::{Due, Fired, Scenario, ScenarioState};
use crate::token::{TokenAuthority, TokenCheck, TokenKey};
use crate::tree::{Child, Gate, Node, Tree};
use crate::version::{self, Version};

/// `X-aws-ec2-metadata-token`, the session token header of IMDSv2 GETs.
pub const TOKEN_HEADER: HeaderName = HeaderName::from_static("x-aws-ec2-metadata-token");
/// `X-aws-ec2-metadata-token-ttl-seconds`: requested TTL on PUT, granted/remaining TTL on answers.
pub const TTL_HEADER: HeaderName = HeaderName::from_static("x-aws-ec2-metadata-token-ttl-seconds");
/// `X-Forwarded-For`, which IMDSv2 refuses on token requests.
pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The address a request came from, set by the HTTP layer as a request extension; the model
/// reads it only to decide `notice-clients` (SPEC.md §8). A request without one counts as an
/// allowed client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// A non-standard reason phrase the HTTP layer should send (EC2's `405 Not Allowed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasonPhrase(pub &'static str);

/// Why the model answered as it did: for journals and tests, never sent on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A token was issued.
    TokenIssued,
    /// A metadata path was served (directory or leaf).
    Served,
    /// `HttpEndpoint=disabled`.
    EndpointDisabled,
    /// Token PUT without a usable TTL.
    BadTtl,
    /// Token PUT or token-bearing GET carrying `X-Forwarded-For`.
    ForwardedFor,
    /// Token PUT on a trailing-slash or dated-version token path.
    WrongTokenPath,
    /// A method the path does not allow.
    MethodNotAllowed,
    /// No token in `HttpTokens=required` mode.
    TokenMissing,
    /// A token that was never issued here (or was tampered with).
    TokenInvalid,
    /// A token past its TTL.
    TokenExpired,
    /// No such path (or not at this version, or gated off).
    NotFound,
    /// OPTIONS on the token path.
    Options,
    /// Token PUT carrying `Expect: 100-continue`.
    ExpectationFailed,
}

/// Which clients see notices under a scenario's `notice-clients` limit (SPEC.md §8): the
/// first `limit` distinct addresses to ask for a notice path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeClients {
    limit: Option<u32>,
    admitted: Vec<IpAddr>,
}

impl NoticeClients {
    /// No client admitted yet; `None`: no limit.
    pub fn new(limit: Option<u32>) -> NoticeClients {
        NoticeClients {
            limit,
            admitted: Vec::new(),
        }
    }

    /// Whether `client` sees notices; `admit` records it when a place is free. A request
    /// without an address counts as allowed.
    pub fn allows(&mut self, client: Option<IpAddr>, admit: bool) -> bool {
        let (Some(limit), Some(ip)) = (self.limit, client) else {
            return true;
        };
        if self.admitted.contains(&ip) {
            return true;
        }
        let free = self.admitted.len() < limit as usize;
        if free && admit {
            self.admitted.push(ip);
        }
        free
    }
}

/// A scenario being played: its state, what it has applied so far and its `notice-clients`
/// limit. [`Play::default`] plays nothing.
#[derive(Clone, Debug, Default)]
pub struct Play {
    state: Option<ScenarioState>,
    fired: Vec<Fired>,
    notices: NoticeClients,
}

impl Play {
    /// `scenario` played from `now`: nothing fired yet, nobody admitted to notices.
    pub fn start(scenario: Scenario, now: Timestamp) -> Play {
        Play {
            notices: NoticeClients::new(scenario.notice_clients),
            state: Some(ScenarioState::new(scenario, now)),
            fired: Vec::new(),
        }
    }

    /// The entries applied so far, in the order they fired.
    pub fn fired(&self) -> &[Fired] {
        &self.fired
    }

    /// True while some entry has not fired.
    pub fn is_live(&self) -> bool {
        self.state.is_some()
    }

    /// When the next entry is due: requests need not call [`Self::apply_due`] before.
    pub fn next_due(&self) -> Due {
        self.state
            .as_ref()
            .map(ScenarioState::next_due)
            .unwrap_or_default()
    }

    /// The `notice-clients` admissions, while the scenario sets a limit.
    pub fn notices(&mut self) -> Option<&mut NoticeClients> {
        self.notices.limit.is_some().then_some(&mut self.notices)
    }

    /// Applies the entries due at `now` with `requests_seen` requests counted since the
    /// start to `current`; returns the snapshot to serve from now on if one fired. Options
    /// and instance change in one step, so no request sees one without the other.
    pub fn apply_due(
        &mut self,
        now: Timestamp,
        requests_seen: u64,
        current: &Snapshot,
    ) -> Option<Snapshot> {
        let state = self.state.as_mut()?;
        // Most calls find nothing due: skip the instance copy below.
        if !state.any_due(now, requests_seen) {
            return None;
        }
        let mut instance = (*current.content.instance).clone();
        let mut options = current.options;
        let fired = state.apply_due(now, requests_seen, &mut instance, &mut options);
        if state.finished() {
            self.state = None;
        }
        if fired.is_empty() {
            return None;
        }
        self.fired.extend(fired);
        Some(if instance == *current.content.instance {
            current.with_options(options)
        } else {
            Snapshot::new(options, instance)
        })
    }
}

/// What requests are answered from: options, and content built for them, immutable. Every
/// IMDS rule is [`Snapshot::answer`]; a change makes a new snapshot.
pub struct Snapshot {
    options: MetadataOptions,
    content: Arc<Content>,
}

/// Everything built from the instance alone, once: an options change keeps it, since
/// options only open or close gates, which are checked at lookup.
struct Content {
    instance: Arc<Instance>,
    tree: Tree,
    /// The headers of every metadata 200, built once (cloning beats hashing five inserts).
    served_headers: HeaderMap,
    /// The same without `Last-Modified`, for the token PUT, OPTIONS and `GET /`.
    plain_headers: HeaderMap,
    /// Every directory's listing at `latest` with every gate open, rendered once.
    latest_listings: HashMap<String, Listing>,
}

/// A pre-rendered listing, and whether some line of it is behind a gate.
struct Listing {
    body: Bytes,
    gated: bool,
}

/// What one request is answered with besides the snapshot.
struct Ask<'a> {
    tokens: &'a TokenAuthority,
    now: Timestamp,
    notices: Option<&'a mut NoticeClients>,
}

impl Ask<'_> {
    /// Whether `client` sees notices (`admit`: and takes a free place if it has none).
    fn notices_allowed(&mut self, client: Option<IpAddr>, admit: bool) -> bool {
        self.notices
            .as_deref_mut()
            .is_none_or(|n| n.allows(client, admit))
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    /// `instance` served under `options` (builds the content tree: about 200 µs).
    pub fn new(options: MetadataOptions, instance: Instance) -> Snapshot {
        Snapshot {
            options,
            content: Arc::new(Content::new(Arc::new(instance))),
        }
    }

    /// The options in force.
    pub fn options(&self) -> MetadataOptions {
        self.options
    }

    /// The instance served.
    pub fn instance(&self) -> &Arc<Instance> {
        &self.content.instance
    }

    /// The same content under other options (cheap: the content is shared).
    pub fn with_options(&self, options: MetadataOptions) -> Snapshot {
        Snapshot {
            options,
            content: self.content.clone(),
        }
    }

    /// Other content under the same options.
    pub fn with_instance(&self, instance: Instance) -> Snapshot {
        Snapshot::new(self.options, instance)
    }

    /// Answers one request at `now` and says why: every IMDS rule. Tokens are checked and
    /// issued by `tokens`; `notices` is the scenario's `notice-clients` admissions while it
    /// sets a limit (`None`: every client sees notices). The request body is ignored.
    pub fn answer<B>(
        &self,
        tokens: &TokenAuthority,
        req: &Request<B>,
        now: Timestamp,
        notices: Option<&mut NoticeClients>,
    ) -> (Response<Bytes>, Outcome) {
        let mut ask = Ask {
            tokens,
            now,
            notices,
        };
        let head = req.method() == Method::HEAD;
        let (mut resp, outcome) = self.route(&mut ask, req);
        // The OPTIONS answer is a 200 but EC2 lays it out like its errors (spec §2.2, §3.6).
        let order = if resp.status().is_success() && outcome != Outcome::Options {
            &SUCCESS_ORDER[..]
        } else if resp.status() == StatusCode::UNAUTHORIZED && resp.body().is_empty() {
            &EMPTY_UNAUTHORIZED_ORDER[..]
        } else {
            &ERROR_ORDER[..]
        };
        finish(&mut resp, head, http_date(now), order);
        (resp, outcome)
    }
}

/// The model for one instance, played one request at a time: a [`Snapshot`], a token
/// authority and a scenario, changed only through `&mut self`. Given the same key, clock
/// readings and requests, it gives the same responses. (A server shares the same parts between
/// threads: `imds_server::Imds`.)
pub struct Model {
    snapshot: Arc<Snapshot>,
    tokens: TokenAuthority,
    play: Play,
    /// Requests handled since the scenario started (for `after-requests`).
    requests: u64,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("options", &self.options())
            .finish_non_exhaustive()
    }
}

impl Model {
    /// A model with these options and content, tokens keyed by `key`.
    pub fn new(options: MetadataOptions, instance: Instance, key: &TokenKey) -> Model {
        Model::from_snapshot(Arc::new(Snapshot::new(options, instance)), key)
    }

    /// A model serving a snapshot already built: building the content tree costs about
    /// 200 µs, so callers serving one instance many times (the `model_request` fuzz target)
    /// build it once and share it.
    pub fn from_snapshot(snapshot: Arc<Snapshot>, key: &TokenKey) -> Model {
        Model {
            snapshot,
            tokens: TokenAuthority::new(key),
            play: Play::default(),
            requests: 0,
        }
    }

    /// Answers one request at `now`, after applying the scenario entries due by then.
    pub fn handle<B>(&mut self, req: &Request<B>, now: Timestamp) -> Response<Bytes> {
        self.handle_with_outcome(req, now).0
    }

    /// Answers one request at `now` and says why.
    pub fn handle_with_outcome<B>(
        &mut self,
        req: &Request<B>,
        now: Timestamp,
    ) -> (Response<Bytes>, Outcome) {
        if self.play.is_live() {
            self.requests += 1;
            if let Some(next) = self.play.apply_due(now, self.requests, &self.snapshot) {
                self.snapshot = Arc::new(next);
            }
        }
        self.snapshot
            .answer(&self.tokens, req, now, self.play.notices())
    }

    /// The snapshot requests are answered from.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The options in force.
    pub fn options(&self) -> MetadataOptions {
        self.snapshot.options
    }

    /// Replaces the options (the content built from the instance is kept).
    pub fn set_options(&mut self, options: MetadataOptions) {
        self.snapshot = Arc::new(self.snapshot.with_options(options));
    }

    /// The instance content in force.
    pub fn instance(&self) -> &Arc<Instance> {
        self.snapshot.instance()
    }

    /// Replaces the instance content.
    pub fn set_instance(&mut self, instance: Instance) {
        self.snapshot = Arc::new(self.snapshot.with_instance(instance));
    }

    /// Plays `scenario` from `now`, replacing any earlier one; requests are counted from
    /// here. Entries already due fire on the next request (SPEC.md §3.11).
    pub fn set_scenario(&mut self, scenario: Scenario, now: Timestamp) {
        self.play = Play::start(scenario, now);
        self.requests = 0;
    }

    /// The scenario entries applied so far, in the order they fired.
    pub fn scenario_fired(&self) -> &[Fired] {
        self.play.fired()
    }

    /// Sets options and instance together and stops the scenario being played, if any.
    pub fn reset(&mut self, options: MetadataOptions, instance: Instance) {
        self.snapshot = Arc::new(Snapshot::new(options, instance));
        self.play = Play::default();
    }

    /// Issues a token at `now` directly (as a PUT would), for tests that need one.
    pub fn issue_token(&self, ttl: u32, now: Timestamp) -> String {
        self.tokens.issue(now, ttl).token
    }
}

impl Content {
    fn new(instance: Arc<Instance>) -> Content {
        let tree = Tree::build(&instance);
        let plain_headers = ok_headers(None);
        let served_headers = ok_headers(Some(&tree.last_modified));
        let latest_listings = tree
            .nodes
            .iter()
            .filter_map(|(key, entry)| match &entry.node {
                Node::Dir { children } => Some((
                    key.clone(),
                    Listing {
                        body: listing(children, Version::LATEST, |_| true),
                        gated: children.iter().any(|c| c.gate != Gate::Always),
                    },
                )),
                Node::Leaf { .. } => None,
            })
            .collect();
        Content {
            instance,
            tree,
            served_headers,
            plain_headers,
            latest_listings,
        }
    }
}

impl Snapshot {
    fn route<B>(&self, ask: &mut Ask<'_>, req: &Request<B>) -> (Response<Bytes>, Outcome) {
        let opts = &self.options;
        let method = req.method();
        let headers = req.headers();

        // Spec §1.2 [H] for PUT; what GETs get is §12.6 [L]: we answer 403 to everything.
        if !opts.http_endpoint.is_enabled() {
            return (forbidden(), Outcome::EndpointDisabled);
        }
        let path = parse_path_ref(req.uri().path()).ok();
        match classify_parsed(method.as_str(), path.as_ref()) {
            RequestKind::TokenPut => self.token_put(ask, headers),
            // [H] UG-retrieve, UGPR-183: dated token paths answer 403 to PUT; [H] BEAM-47:
            // so does a trailing slash, with an empty text/plain body.
            RequestKind::MisplacedTokenPut => (forbidden(), Outcome::WrongTokenPath),
            RequestKind::TokenPathOther => {
                if method == Method::OPTIONS && path.is_some_and(|p| !p.trailing_slash) {
                    self.token_options()
                } else {
                    // [M] GRUBY-421: GET answers 405 "Not Allowed" with `Allow: OPTIONS, PUT`;
                    // other methods are §12.5 [L] and get the same.
                    (
                        error(StatusCode::METHOD_NOT_ALLOWED, Some("OPTIONS, PUT")),
                        Outcome::MethodNotAllowed,
                    )
                }
            }
            // Spec §12.5 [L]: metadata paths allow GET and HEAD (UG-v2); others get 405.
            RequestKind::Other => (
                error(StatusCode::METHOD_NOT_ALLOWED, Some("GET, HEAD")),
                Outcome::MethodNotAllowed,
            ),
            RequestKind::MetadataRead => {
                let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
                self.read(ask, headers, path, client)
            }
        }
    }

    /// A metadata `GET`/`HEAD`: token checks (spec §2.3, §2.4), then the path tree.
    fn read(
        &self,
        ask: &mut Ask<'_>,
        headers: &HeaderMap,
        path: Option<PathRef<'_>>,
        client: Option<IpAddr>,
    ) -> (Response<Bytes>, Outcome) {
        let opts = &self.options;
        let mut remaining = None;
        let tokens = headers.get_all(TOKEN_HEADER);
        if tokens.iter().next().is_some() {
            // Spec §2.4 [L] (K2I #279): a token-bearing request through a proxy is refused.
            if headers.contains_key(FORWARDED_FOR) {
                return (forbidden(), Outcome::ForwardedFor);
            }
            // Spec §2.4 [M/L]: an invalid or expired token is 401 in both modes (§12.2 best guess).
            let mut values = tokens.iter();
            let check = match (values.next(), values.next()) {
                (Some(v), None) => match parse_token_header(v.as_bytes()) {
                    Ok(t) => ask.tokens.check(t, ask.now),
                    Err(_) => TokenCheck::Invalid,
                },
                _ => TokenCheck::Invalid,
            };
            match check {
                TokenCheck::Valid { remaining: r } => remaining = Some(r),
                TokenCheck::Expired => return (self.unauthorized(), Outcome::TokenExpired),
                TokenCheck::Invalid => return (self.unauthorized(), Outcome::TokenInvalid),
            }
        } else if opts.http_tokens == HttpTokens::Required {
            // Spec §12.4 [L]: 401 comes before 404, so unknown paths also get 401 without a token.
            return (self.unauthorized(), Outcome::TokenMissing);
        }
        let (mut resp, outcome) = match path.and_then(|p| self.resolve(&p, ask, client)) {
            Some(resp) => (resp, Outcome::Served),
            None => (error(StatusCode::NOT_FOUND, None), Outcome::NotFound),
        };
        // Spec §2.5 [H]: every answer to a token-bearing GET carries the remaining TTL, 404s too.
        if let Some(r) = remaining {
            resp.headers_mut().insert(TTL_HEADER, decimal(r.into()));
        }
        (resp, outcome)
    }

    /// A 401 in the form this instance's file chose (spec R6.1: both forms are seen on EC2).
    fn unauthorized(&self) -> Response<Bytes> {
        match self.content.instance.unauthorized_body {
            UnauthorizedBody::Empty => empty_unauthorized(),
            UnauthorizedBody::XhtmlPage => error(StatusCode::UNAUTHORIZED, None),
        }
    }

    /// `PUT /latest/api/token` (spec §2.1, §2.2).
    fn token_put(&self, ask: &Ask<'_>, headers: &HeaderMap) -> (Response<Bytes>, Outcome) {
        // [M/H] UG-v2, K2I: a PUT through a proxy is refused.
        if headers.contains_key(FORWARDED_FOR) {
            return (forbidden(), Outcome::ForwardedFor);
        }
        // Spec §2.2: a PUT asking for `100 Continue` is refused with 417 (s3fs-fuse #1765).
        if headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        {
            return (
                error(StatusCode::EXPECTATION_FAILED, None),
                Outcome::ExpectationFailed,
            );
        }
        let mut values = headers.get_all(TTL_HEADER).iter();
        let ttl = match (values.next(), values.next()) {
            (Some(v), None) => parse_ttl(v.as_bytes()).ok(),
            _ => None,
        };
        let Some(ttl) = ttl else {
            return (error(StatusCode::BAD_REQUEST, None), Outcome::BadTtl);
        };
        let issued = ask.tokens.issue(ask.now, ttl);
        let mut resp = ok_text(Bytes::from(issued.token), &self.content.plain_headers);
        // Spec §3.6 [H] (RS traffic): the token answer has no Accept-Ranges.
        resp.headers_mut().remove(ACCEPT_RANGES);
        resp.headers_mut()
            .insert(TTL_HEADER, decimal(issued.ttl.into()));
        (resp, Outcome::TokenIssued)
    }

    /// `OPTIONS /latest/api/token`: \[L\] GRUBY-421 advertises OPTIONS; we answer it with the
    /// Allow list.
    fn token_options(&self) -> (Response<Bytes>, Outcome) {
        let mut resp = ok_text(Bytes::new(), &self.content.plain_headers);
        // Spec §2.2 [H] (CAPA-1609 capture): no Accept-Ranges, laid out like an error.
        resp.headers_mut().remove(ACCEPT_RANGES);
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("OPTIONS, PUT"));
        (resp, Outcome::Options)
    }

    /// Looks a metadata path up; `None` is 404.
    fn resolve(
        &self,
        path: &PathRef<'_>,
        ask: &mut Ask<'_>,
        client: Option<IpAddr>,
    ) -> Option<Response<Bytes>> {
        let Some((first, key)) = path.split_first() else {
            // `GET /`: the version list (no final newline, as on sub-listings).
            let list: Vec<String> = version::VERSIONS.iter().map(Version::to_string).collect();
            return Some(ok_text(
                Bytes::from(list.join("\n")),
                &self.content.plain_headers,
            ));
        };
        let content = &*self.content;
        let at = Version::parse(first).filter(|v| version::is_served(*v))?;
        let entry = content.tree.nodes.get(key.as_ref())?;
        if entry.since > at || !self.gate_open(entry.gate) {
            return None;
        }
        let modified = &content.served_headers;
        let gates = |g| self.gate_open(g);
        // `notice-clients` (SPEC.md §8): asking for a notice path takes a place if one is
        // free; the listing only looks.
        let notice = key
            .strip_prefix("meta-data/")
            .is_some_and(|rest| NOTICE_DIRS.contains(&rest.split('/').next().unwrap_or(rest)));
        if notice && !ask.notices_allowed(client, true) {
            return None;
        }
        if let (Node::Dir { children }, "meta-data") = (&entry.node, key.as_ref())
            && !ask.notices_allowed(client, false)
        {
            let kept: Vec<Child> = children
                .iter()
                .filter(|c| !NOTICE_DIRS.contains(&c.segment.as_str()))
                .cloned()
                .collect();
            return Some(ok_text(listing(&kept, at, gates), modified));
        }
        match &entry.node {
            Node::Dir { children } if at == Version::LATEST => {
                let body = match content.latest_listings.get(key.as_ref()) {
                    Some(l) if !l.gated => l.body.clone(),
                    _ => listing(children, at, gates),
                };
                Some(ok_text(body, modified))
            }
            Node::Dir { children } => Some(ok_text(listing(children, at, gates), modified)),
            // Spec §12.8 [L]: a leaf with a trailing slash is served as the leaf.
            Node::Leaf { body } => Some(ok_text(content.tree.render(body, ask.now), modified)),
        }
    }

    fn gate_open(&self, gate: Gate) -> bool {
        match gate {
            Gate::Always => true,
            Gate::Tags => self.options.instance_metadata_tags.is_enabled(),
        }
    }
}

/// A directory's listing at version `at`, keeping the lines whose gate `open` lets through.
fn listing(children: &[Child], at: Version, open: impl Fn(Gate) -> bool) -> Bytes {
    let mut body = String::new();
    for c in children {
        if c.since <= at && open(c.gate) {
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(&c.line);
        }
    }
    Bytes::from(body)
}

/// The directories under `meta-data/` that hold notices, which `notice-clients` hides.
const NOTICE_DIRS: [&str; 3] = ["spot", "events", "autoscaling"];

const EC2WS: HeaderValue = HeaderValue::from_static("EC2ws");
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain");

/// The headers of a 200 (spec §3.6 \[H\]), with room for `Content-Length` and the TTL header.
fn ok_headers(last_modified: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(8);
    h.insert(CONTENT_TYPE, TEXT_PLAIN);
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("none"));
    if let Some(lm) = last_modified.and_then(|s| HeaderValue::from_str(s).ok()) {
        h.insert(LAST_MODIFIED, lm);
    }
    h.insert(SERVER, EC2WS);
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    h
}

fn ok_text(body: Bytes, headers: &HeaderMap) -> Response<Bytes> {
    let mut resp = Response::new(body);
    // Room for the TTL header, `Content-Length` and `Date` too, so `finish` does not grow it
    // (a clone would be exactly as large as `headers`).
    let h = resp.headers_mut();
    h.reserve(headers.len() + 3);
    h.extend(headers.iter().map(|(n, v)| (n.clone(), v.clone())));
    resp
}

/// 403: empty `text/plain`, no `Connection` header (BEAM-47 capture).
fn forbidden() -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::FORBIDDEN;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, TEXT_PLAIN);
    h.insert(SERVER, EC2WS);
    resp
}

/// 401 with an empty `text/plain` body and `Connection: close` (the 2024 raw record, R6.1).
fn empty_unauthorized() -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, TEXT_PLAIN);
    h.insert(SERVER, EC2WS);
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// An XHTML error page; 405 carries `Allow` and EC2's "Not Allowed" reason phrase.
fn error(status: StatusCode, allow: Option<&'static str>) -> Response<Bytes> {
    let reason = match status {
        StatusCode::METHOD_NOT_ALLOWED => "Not Allowed",
        s => s.canonical_reason().unwrap_or("Error"),
    };
    let mut resp = Response::new(Bytes::from(error_page(status.as_u16(), reason)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(SERVER, EC2WS);
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    if let Some(allow) = allow {
        h.insert(ALLOW, HeaderValue::from_static(allow));
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        resp.extensions_mut().insert(ReasonPhrase("Not Allowed"));
    }
    resp
}

/// EC2's answer to a refused request with `status`, complete (`Content-Length`, `Date` from
/// `now`, EC2's error header order, spec §3.6, §6): a 403 is empty `text/plain`, any other
/// status the XHTML page. For layers that refuse a request before the model sees it (the
/// server's scripted faults).
pub fn error_response(status: StatusCode, now: crate::clock::Timestamp) -> Response<Bytes> {
    let mut resp = if status == StatusCode::FORBIDDEN {
        forbidden()
    } else {
        error(status, None)
    };
    finish(&mut resp, false, http_date(now), &ERROR_ORDER);
    resp
}

/// EC2's header order on a success (spec §3.6 \[H\], the Ruby SDK's raw 2025 log).
const SUCCESS_ORDER: [HeaderName; 8] = [
    TTL_HEADER,
    CONTENT_TYPE,
    ACCEPT_RANGES,
    LAST_MODIFIED,
    CONTENT_LENGTH,
    DATE,
    SERVER,
    CONNECTION,
];

/// EC2's header order on an error and on the token path's OPTIONS answer (spec §3.6: curl's
/// 403 and OPTIONS captures, the 401 capture; where the TTL header goes is a guess).
const ERROR_ORDER: [HeaderName; 7] = [
    ALLOW,
    TTL_HEADER,
    CONTENT_LENGTH,
    CONTENT_TYPE,
    DATE,
    CONNECTION,
    SERVER,
];

/// The empty 401's header order, as `curl -v` showed it on an IMDSv2-only instance in 2024
/// (spec R6.1).
const EMPTY_UNAUTHORIZED_ORDER: [HeaderName; 5] =
    [CONTENT_LENGTH, DATE, SERVER, CONNECTION, CONTENT_TYPE];

/// `n` as a header value: one allocation (`HeaderValue::from` an integer takes two).
fn decimal(mut n: u64) -> HeaderValue {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    HeaderValue::from_bytes(&digits[start..]).unwrap_or(HeaderValue::from_static("0"))
}

/// The `Date` header for `now`. Formatted once a second per thread: a request then costs a
/// reference count, not a date formatting and two allocations. Only a cache, so the answer is
/// still a function of `now`.
fn http_date(now: Timestamp) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(u64, HeaderValue)>> =
            const { std::cell::RefCell::new(None) };
    }
    let secs = now.as_millis() / 1000;
    LAST.with_borrow_mut(|last| match last {
        Some((s, v)) if *s == secs => v.clone(),
        _ => {
            let v = HeaderValue::from_str(&now.to_http_date())
                .unwrap_or(HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"));
            *last = Some((secs, v.clone()));
            v
        }
    })
}

/// Sets `Content-Length` and `Date`, puts the headers in EC2's order (the HTTP layer keeps
/// it) and, for HEAD, drops the body (keeping the length).
fn finish(resp: &mut Response<Bytes>, head: bool, date: HeaderValue, order: &[HeaderName]) {
    // A response has a handful of headers: reordering them as a list costs one hash per header
    // (the final insert), where moving them between maps by name cost three. Draining keeps
    // the map's allocation for the headers put back.
    let len = resp.body().len();
    let h = resp.headers_mut();
    let mut rest: Vec<(HeaderName, HeaderValue)> = Vec::with_capacity(h.len() + 2);
    let mut last: Option<HeaderName> = None;
    for (name, value) in h.drain() {
        // The map yields a name with its first value only.
        if name.is_some() {
            last = name;
        }
        if let Some(n) = &last
            && n != CONTENT_LENGTH
            && n != DATE
        {
            rest.push((n.clone(), value));
        }
    }
    rest.push((CONTENT_LENGTH, decimal(len as u64)));
    rest.push((DATE, date));
    // Known names in `order`, anything else after them; the sort is stable, so values keep
    // their relative order within each rank.
    rest.sort_by_key(|(n, _)| order.iter().position(|o| o == n).unwrap_or(order.len()));
    h.reserve(rest.len());
    for (n, v) in rest {
        h.append(n, v);
    }
    if head {
        *resp.body_mut() = Bytes::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(resp: &Response<Bytes>) -> Vec<&str> {
        resp.headers().keys().map(HeaderName::as_str).collect()
    }

    #[test]
    fn success_headers_leave_in_ec2_order() {
        let mut served = HeaderMap::new();
        served.insert(SERVER, EC2WS);
        served.insert(CONNECTION, HeaderValue::from_static("close"));
        served.insert(LAST_MODIFIED, HeaderValue::from_static("x"));
        served.insert(ACCEPT_RANGES, HeaderValue::from_static("none"));
        served.insert(CONTENT_TYPE, TEXT_PLAIN);
        let mut resp = ok_text(Bytes::from_static(b"abc"), &served);
        resp.headers_mut()
            .insert(TTL_HEADER, HeaderValue::from(5u32));
        finish(
            &mut resp,
            false,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            &SUCCESS_ORDER,
        );
        assert_eq!(
            names(&resp),
            [
                "x-aws-ec2-metadata-token-ttl-seconds",
                "content-type",
                "accept-ranges",
                "last-modified",
                "content-length",
                "date",
                "server",
                "connection"
            ]
        );
        assert_eq!(resp.headers()[CONTENT_LENGTH], "3");
    }

    #[test]
    fn error_headers_leave_in_ec2_order() {
        let mut resp = forbidden();
        finish(
            &mut resp,
            false,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            &ERROR_ORDER,
        );
        assert_eq!(
            names(&resp),
            ["content-length", "content-type", "date", "server"]
        );
        let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, Some("OPTIONS, PUT"));
        finish(
            &mut resp,
            true,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
            &ERROR_ORDER,
        );
        assert_eq!(
            names(&resp),
            [
                "allow",
                "content-length",
                "content-type",
                "date",
                "connection",
                "server"
            ]
        );
        assert!(resp.body().is_empty());
    }
}
