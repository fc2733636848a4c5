//! Request in, response out: every IMDS rule in one pure function.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, DATE, EXPECT, HeaderMap,
    HeaderName, HeaderValue, LAST_MODIFIED, SERVER,
};
use http::{Method, Request, Response, StatusCode};

use crate::clock::Clock;
use crate::instance::{Instance, UnauthorizedBody};
use crate::kind::{RequestKind, classify_parsed};
use crate::options::{HttpTokens, MetadataOptions};
use crate::pages::error_page;
use crate::parse::{PathRef, parse_path_ref, parse_token_header, parse_ttl};
use crate::scenario::{Fired, Scenario, ScenarioState};
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

/// The reference IMDS for one instance: options, content, token authority and clock.
///
/// `handle` takes `&self`, and options or content can be swapped while requests are being
/// handled (the equivalent of `ModifyInstanceMetadataOptions` on a running instance).
pub struct Imds {
    state: RwLock<Arc<State>>,
    tokens: TokenAuthority,
    clock: Arc<dyn Clock>,
    /// Set while a scenario has entries left, so requests without one take no extra lock.
    scenario_live: AtomicBool,
    /// Requests handled since the scenario started (for `after-requests`).
    requests: AtomicU64,
    scenario: Mutex<ScenarioRun>,
    /// `notice-clients`: who may see notices, first come first served.
    notices: Mutex<NoticeClients>,
    /// Set while `notice-clients` limits anyone, so other requests take no extra lock.
    notices_limited: AtomicBool,
}

/// The scenario's `notice-clients` limit and the addresses admitted so far.
#[derive(Default)]
struct NoticeClients {
    limit: Option<u32>,
    admitted: Vec<IpAddr>,
}

impl NoticeClients {
    /// Whether `client` sees notices; `admit` records it when a place is free.
    fn allows(&mut self, client: Option<IpAddr>, admit: bool) -> bool {
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

/// The scenario being played and what it has applied so far.
#[derive(Default)]
struct ScenarioRun {
    state: Option<ScenarioState>,
    fired: Vec<Fired>,
}

/// What requests are answered from: options, and content built for them.
struct State {
    options: MetadataOptions,
    content: Arc<Content>,
}

/// Everything served for one instance, built from it once: the path tree, its listings and
/// headers. An options change keeps it, since options only open or close gates, which are
/// checked at lookup. Build it once and share it ([`Imds::with_content`]) to serve the same
/// instance from many services without building its tree again.
pub struct Content {
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

impl std::fmt::Debug for Imds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imds")
            .field("options", &self.options())
            .finish_non_exhaustive()
    }
}

impl Imds {
    /// A service with these options and content, tokens keyed by `key`, time from `clock`.
    pub fn new(
        options: MetadataOptions,
        instance: Instance,
        key: &TokenKey,
        clock: Arc<dyn Clock>,
    ) -> Imds {
        Imds::with_content(options, Arc::new(Content::new(instance)), key, clock)
    }

    /// [`new`](Self::new) with the instance's content already built.
    pub fn with_content(
        options: MetadataOptions,
        content: Arc<Content>,
        key: &TokenKey,
        clock: Arc<dyn Clock>,
    ) -> Imds {
        Imds {
            state: RwLock::new(Arc::new(State { options, content })),
            tokens: TokenAuthority::new(key),
            clock,
            scenario_live: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            scenario: Mutex::new(ScenarioRun::default()),
            notices: Mutex::new(NoticeClients::default()),
            notices_limited: AtomicBool::new(false),
        }
    }

    /// Plays `scenario` from the clock's now, replacing any earlier one; requests are counted
    /// from here. Entries already due fire on the next request (SPEC.md §3.11).
    pub fn set_scenario(&self, scenario: Scenario) {
        let mut run = self.scenario_run();
        *self.notice_clients() = NoticeClients {
            limit: scenario.notice_clients,
            admitted: Vec::new(),
        };
        self.notices_limited
            .store(scenario.notice_clients.is_some(), Ordering::SeqCst);
        run.state = Some(ScenarioState::new(scenario, self.clock.now()));
        run.fired.clear();
        self.requests.store(0, Ordering::SeqCst);
        self.scenario_live.store(true, Ordering::SeqCst);
    }

    /// The scenario entries applied so far, in the order they fired (for logs).
    pub fn scenario_fired(&self) -> Vec<Fired> {
        self.scenario_run().fired.clone()
    }

    /// Whether requests need a [`ClientAddr`]: true while a `notice-clients` limit is in
    /// force. A front end may skip attaching one otherwise (it costs an allocation per request).
    pub fn wants_client_addr(&self) -> bool {
        self.notices_limited.load(Ordering::Acquire)
    }

    /// Whether `client` sees notices (`admit`: and takes a free place if it has none).
    fn notices_allowed(&self, client: Option<IpAddr>, admit: bool) -> bool {
        !self.notices_limited.load(Ordering::Acquire) || self.notice_clients().allows(client, admit)
    }

    fn notice_clients(&self) -> std::sync::MutexGuard<'_, NoticeClients> {
        match self.notices.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn scenario_run(&self) -> std::sync::MutexGuard<'_, ScenarioRun> {
        match self.scenario.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Counts this request and applies the scenario entries now due, as `set_instance` and
    /// `set_options` would. The scenario lock is also every writer's lock, so the state read
    /// here is still the state in force when the result is written.
    fn play_scenario(&self) {
        let mut run = self.scenario_run();
        let seen = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let Some(state) = run.state.as_mut() else {
            return;
        };
        let now = self.clock.now();
        // Most requests find nothing due: skip the instance copy below.
        if !state.any_due(now, seen) {
            return;
        }
        let current = self.current();
        let mut instance = (*current.content.instance).clone();
        let mut options = current.options;
        let fired = state.apply_due(now, seen, &mut instance, &mut options);
        if state.finished() {
            self.scenario_live.store(false, Ordering::SeqCst);
        }
        if fired.is_empty() {
            return;
        }
        // One swap, so no request sees the new instance with the old options.
        let content =
            (instance != *current.content.instance).then(|| Arc::new(Content::new(instance)));
        self.update(|old| State {
            options,
            content: content.unwrap_or_else(|| old.content.clone()),
        });
        run.fired.extend(fired);
    }

    /// The options in force.
    pub fn options(&self) -> MetadataOptions {
        self.current().options
    }

    /// Replaces the options; later requests see the new ones. Cheap: the content built from
    /// the instance is kept.
    pub fn set_options(&self, options: MetadataOptions) {
        self.update_options(|_| options);
    }

    /// Changes the options from the ones in force, as one step: no scenario entry or other
    /// writer lands between the read and the write. Returns the new options.
    pub fn update_options(
        &self,
        change: impl FnOnce(MetadataOptions) -> MetadataOptions,
    ) -> MetadataOptions {
        let _writer = self.scenario_run();
        let options = change(self.current().options);
        self.update(|old| State {
            options,
            content: old.content.clone(),
        });
        options
    }

    /// The instance content in force.
    pub fn instance(&self) -> Arc<Instance> {
        self.current().content.instance.clone()
    }

    /// Replaces the instance content; later requests see the new one.
    pub fn set_instance(&self, instance: Instance) {
        // Built before taking any lock, so neither requests nor writers wait for it.
        let content = Arc::new(Content::new(instance));
        let _writer = self.scenario_run();
        self.update(|old| State {
            options: old.options,
            content,
        });
    }

    /// Changes the instance from the one in force, as one step (see
    /// [`update_options`](Self::update_options)); when `change` fails nothing changes.
    pub fn try_update_instance<E>(
        &self,
        change: impl FnOnce(&Instance) -> Result<Instance, E>,
    ) -> Result<Arc<Instance>, E> {
        let _writer = self.scenario_run();
        let instance = Arc::new(change(&self.current().content.instance)?);
        let content = Arc::new(Content::build(instance.clone()));
        self.update(|old| State {
            options: old.options,
            content,
        });
        Ok(instance)
    }

    /// Sets options and instance together (one swap: no request sees one without the other)
    /// and stops the scenario being played, if any.
    pub fn reset(&self, options: MetadataOptions, instance: Instance) {
        let content = Arc::new(Content::new(instance));
        let mut run = self.scenario_run();
        run.state = None;
        run.fired.clear();
        self.scenario_live.store(false, Ordering::SeqCst);
        // The stopped scenario's `notice-clients` limit goes with it.
        *self.notice_clients() = NoticeClients::default();
        self.notices_limited.store(false, Ordering::SeqCst);
        self.update(|_| State { options, content });
    }

    /// The clock this service reads.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Issues a token directly (as a PUT would), for tests that need one without HTTP.
    pub fn issue_token(&self, ttl: u32) -> String {
        self.tokens.issue(self.clock.now(), ttl).token
    }

    fn current(&self) -> Arc<State> {
        match self.state.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Swaps the state under the write lock, so concurrent option and content changes both
    /// land.
    fn update(&self, next: impl FnOnce(&State) -> State) {
        let mut g = match self.state.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = Arc::new(next(&g));
    }

    /// Answers one request. The request body is ignored (IMDS requests have none).
    pub fn handle<B>(&self, req: &Request<B>) -> Response<Bytes> {
        self.handle_with_outcome(req).0
    }

    /// Answers one request and says why.
    pub fn handle_with_outcome<B>(&self, req: &Request<B>) -> (Response<Bytes>, Outcome) {
        if self.scenario_live.load(Ordering::Acquire) {
            self.play_scenario();
        }
        let state = self.current();
        let head = req.method() == Method::HEAD;
        let (mut resp, outcome) = state.answer(self, req);
        // The OPTIONS answer is a 200 but EC2 lays it out like its errors (spec §2.2, §3.6).
        let order = if resp.status().is_success() && outcome != Outcome::Options {
            &SUCCESS_ORDER[..]
        } else if resp.status() == StatusCode::UNAUTHORIZED && resp.body().is_empty() {
            &EMPTY_UNAUTHORIZED_ORDER[..]
        } else {
            &ERROR_ORDER[..]
        };
        finish(&mut resp, head, &self.clock.now().to_http_date(), order);
        (resp, outcome)
    }
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("instance", &self.instance.instance_id)
            .finish_non_exhaustive()
    }
}

impl Content {
    /// Builds everything served for `instance`.
    pub fn new(instance: Instance) -> Content {
        Content::build(Arc::new(instance))
    }

    /// The instance this content was built from.
    pub fn instance(&self) -> &Arc<Instance> {
        &self.instance
    }

    fn build(instance: Arc<Instance>) -> Content {
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

impl State {
    fn answer<B>(&self, imds: &Imds, req: &Request<B>) -> (Response<Bytes>, Outcome) {
        let opts = &self.options;
        let method = req.method();
        let headers = req.headers();

        // Spec §1.2 [H] for PUT; what GETs get is §12.6 [L]: we answer 403 to everything.
        if !opts.http_endpoint.is_enabled() {
            return (forbidden(), Outcome::EndpointDisabled);
        }
        let path = parse_path_ref(req.uri().path()).ok();
        match classify_parsed(method.as_str(), path.as_ref()) {
            RequestKind::TokenPut => self.token_put(imds, headers),
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
                self.read(imds, headers, path, client)
            }
        }
    }

    /// A metadata `GET`/`HEAD`: token checks (spec §2.3, §2.4), then the path tree.
    fn read(
        &self,
        imds: &Imds,
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
                    Ok(t) => imds.tokens.check(t, imds.clock.now()),
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
        let (mut resp, outcome) = match path.and_then(|p| self.resolve(&p, imds, client)) {
            Some(resp) => (resp, Outcome::Served),
            None => (error(StatusCode::NOT_FOUND, None), Outcome::NotFound),
        };
        // Spec §2.5 [H]: every answer to a token-bearing GET carries the remaining TTL, 404s too.
        if let Some(r) = remaining {
            resp.headers_mut().insert(TTL_HEADER, HeaderValue::from(r));
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
    fn token_put(&self, imds: &Imds, headers: &HeaderMap) -> (Response<Bytes>, Outcome) {
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
        let issued = imds.tokens.issue(imds.clock.now(), ttl);
        let mut resp = ok_text(Bytes::from(issued.token), &self.content.plain_headers);
        // Spec §3.6 [H] (RS traffic): the token answer has no Accept-Ranges.
        resp.headers_mut().remove(ACCEPT_RANGES);
        resp.headers_mut()
            .insert(TTL_HEADER, HeaderValue::from(issued.ttl));
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
        imds: &Imds,
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
        if notice && !imds.notices_allowed(client, true) {
            return None;
        }
        if let (Node::Dir { children }, "meta-data") = (&entry.node, key.as_ref())
            && !imds.notices_allowed(client, false)
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
            Node::Leaf { body } => Some(ok_text(
                content.tree.render(body, imds.clock.now()),
                modified,
            )),
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
    *resp.headers_mut() = headers.clone();
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
    finish(&mut resp, false, &now.to_http_date(), &ERROR_ORDER);
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

/// Sets `Content-Length` and `Date`, puts the headers in EC2's order (the HTTP layer keeps
/// it) and, for HEAD, drops the body (keeping the length).
fn finish(resp: &mut Response<Bytes>, head: bool, date: &str, order: &[HeaderName]) {
    let len = resp.body().len();
    let mut rest = std::mem::take(resp.headers_mut());
    rest.insert(CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(date) = HeaderValue::from_str(date) {
        rest.insert(DATE, date);
    }
    let h = resp.headers_mut();
    h.reserve(rest.len());
    for name in order {
        if let http::header::Entry::Occupied(e) = rest.entry(name) {
            let (name, values) = e.remove_entry_mult();
            for v in values {
                h.append(&name, v);
            }
        }
    }
    // Anything else keeps its relative order after the known names.
    let mut last = None;
    for (name, value) in rest {
        if let Some(n) = name {
            last = Some(n);
        }
        if let Some(n) = &last {
            h.append(n, value);
        }
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
            "Sun, 06 Nov 1994 08:49:37 GMT",
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
            "Sun, 06 Nov 1994 08:49:37 GMT",
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
            "Sun, 06 Nov 1994 08:49:37 GMT",
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
