//! Fuzz entry points over `imds-model`'s public API.
//!
//! This one file is compiled twice: into the cargo-fuzz targets (`fuzz/fuzz_targets/*.rs`) and
//! into `crates/imds-model/tests/fuzz_seeds.rs`, which replays every committed seed on stable.
//! So a seed checks exactly what the fuzzer checks. Each function takes raw bytes, must never
//! panic on its own, and panics (an `assert!`) when the model breaks an invariant.
#![allow(dead_code)] // each fuzz target uses one entry point

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use imds_model::parse::{
    self, ListingError, MAX_LISTING_ENTRIES, MAX_PATH_DEPTH, MAX_PATH_LEN, MAX_TOKEN_LEN,
    RequestPath, TokenHeaderError, TtlError,
};
use imds_model::{
    Clock, FORWARDED_FOR, HttpTokens, Instance, InstanceFormat, ManualClock, MetadataOptions,
    Model, Outcome, ReasonPhrase, Snapshot, TOKEN_HEADER, TTL_HEADER, Timestamp, Toggle,
    TokenAuthority, TokenCheck, TokenKey, Version,
};

/// A [`Model`] asked at a hand-moved clock's readings, through `&self` (the listing walk
/// borrows it while a run owns it).
struct Clocked {
    model: std::cell::RefCell<Model>,
    clock: Arc<ManualClock>,
}

impl Clocked {
    fn new(snapshot: Arc<Snapshot>, key: &TokenKey, clock: Arc<ManualClock>) -> Clocked {
        Clocked {
            model: std::cell::RefCell::new(Model::from_snapshot(snapshot, key)),
            clock,
        }
    }

    fn handle(&self, req: &Request<()>) -> Response<Bytes> {
        self.handle_with_outcome(req).0
    }

    fn handle_with_outcome(&self, req: &Request<()>) -> (Response<Bytes>, Outcome) {
        self.model
            .borrow_mut()
            .handle_with_outcome(req, self.clock.now())
    }

    fn set_options(&self, options: MetadataOptions) {
        self.model.borrow_mut().set_options(options);
    }
}

/// A fuzz entry point: raw input in, panic on a broken invariant.
pub type Entry = fn(&[u8]);

/// Every model target by name, as the seed directories under `fuzz/seeds/` are named.
pub const TARGETS: &[(&str, Entry)] = &[
    ("ttl_header", ttl_header),
    ("token_header", token_header),
    ("request_path", request_path),
    ("listing_body", listing_body),
    ("instance_file", instance_file),
    ("model_request", model_request),
];

// ---------------------------------------------------------------------------------------------
// Small parsers

/// `parse_ttl` against an independent reading of the rule: ASCII digits only, 1..=21600.
pub fn ttl_header(data: &[u8]) {
    let got = parse::parse_ttl(data);
    let expected = if data.is_empty() {
        Err(TtlError::Empty)
    } else if !data.iter().all(u8::is_ascii_digit) {
        Err(TtlError::NotANumber)
    } else {
        // Digits only: drop leading zeros, anything longer than 6 digits is far out of range.
        let digits = std::str::from_utf8(data)
            .unwrap_or("")
            .trim_start_matches('0');
        match digits.len() {
            0 => Err(TtlError::OutOfRange),
            1..=6 => match digits.parse::<u32>() {
                Ok(n) if (1..=21_600).contains(&n) => Ok(n),
                _ => Err(TtlError::OutOfRange),
            },
            _ => Err(TtlError::OutOfRange),
        }
    };
    assert_eq!(
        got,
        expected,
        "parse_ttl({:?})",
        String::from_utf8_lossy(data)
    );
}

/// `parse_token_header` keeps exactly the token alphabet; `TokenAuthority::check` refuses
/// anything that is not an issued token, and any change to an issued one.
pub fn token_header(data: &[u8]) {
    match parse::parse_token_header(data) {
        Ok(text) => {
            assert_eq!(text.as_bytes(), data);
            assert!(!data.is_empty() && data.len() <= MAX_TOKEN_LEN);
            assert!(
                data.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_=".contains(b))
            );
        }
        Err(TokenHeaderError::Empty) => assert!(data.is_empty()),
        Err(TokenHeaderError::TooLong) => assert!(data.len() > MAX_TOKEN_LEN),
        Err(TokenHeaderError::BadCharacter) => assert!(
            data.iter()
                .any(|b| !(b.is_ascii_alphanumeric() || b"-_=".contains(b)))
        ),
        Err(e) => panic!("unexpected token header error {e:?}"),
    }

    let now = Timestamp::from_secs(1_768_470_000);
    let authority = TokenAuthority::new(&TokenKey::new([0x5a; 32]));
    // Issuing is deterministic, so the fuzzer can learn this token from the comparison below
    // and hand it back as input: it is the one string that must be accepted.
    let issued = authority.issue(now, 60).token;
    assert_eq!(
        authority.check(&issued, now),
        TokenCheck::Valid { remaining: 60 }
    );
    if let Ok(text) = std::str::from_utf8(data)
        && text != issued
    {
        // Any other text is not a token this authority issued (first of its nonces).
        assert_eq!(authority.check(text, now), TokenCheck::Invalid, "{text:?}");
    }

    // Edit a real token with the input: (position, replacement byte) pairs. base64 decoding
    // is canonical (no trailing bits), so a different string is different bytes, and the MAC
    // covers all of them: any edit must make the token invalid.
    let mut edited = issued.clone().into_bytes();
    for pair in data.chunks_exact(2) {
        let pos = usize::from(pair[0]) % edited.len();
        edited[pos] = pair[1];
    }
    if let Ok(text) = std::str::from_utf8(&edited)
        && text != issued
    {
        assert_eq!(
            authority.check(text, now),
            TokenCheck::Invalid,
            "edited token {text:?} (from {issued:?}) was accepted"
        );
    }
}

/// `parse_path`: bounded, normalised, and normalisation is idempotent.
pub fn request_path(data: &[u8]) {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(p) = parse::parse_path(target) else {
        return;
    };
    check_normal_path(target, &p);
}

fn check_normal_path(target: &str, p: &RequestPath) {
    assert!(p.segments.len() <= MAX_PATH_DEPTH, "{target:?} too deep");
    for s in &p.segments {
        assert!(
            !s.is_empty() && s != "." && s != "..",
            "{target:?}: segment {s:?}"
        );
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_graphic() && !b"/?#".contains(&b))
        );
    }
    let shown = p.to_string();
    assert!(shown.starts_with('/'));
    assert!(shown.len() <= MAX_PATH_LEN && shown.len() <= target.len().max(1));
    let again = parse::parse_path(&shown).unwrap_or_else(|e| panic!("{shown:?} refused: {e}"));
    assert_eq!(&again, p, "parse(display(parse({target:?}))) differs");
    assert_eq!(again.to_string(), shown, "display is not idempotent");
    assert_eq!(p.joined(), p.segments.join("/"));
}

/// `parse_listing`: bounded; `render(parse(x)) == x` for well-formed bodies; parse∘render
/// is the identity on parsed listings.
pub fn listing_body(data: &[u8]) {
    match parse::parse_listing(data) {
        Ok(listing) => {
            assert!(listing.entries.len() <= MAX_LISTING_ENTRIES);
            let rendered = listing.render();
            // Well-formed (LF only): rendering gives the body back byte for byte.
            if !data.contains(&b'\r') {
                assert_eq!(rendered.as_bytes(), data, "render(parse(x)) != x");
            }
            let again = parse::parse_listing(rendered.as_bytes())
                .unwrap_or_else(|e| panic!("rendered listing {rendered:?} refused: {e}"));
            assert_eq!(again, listing, "parse(render(l)) != l");
            for e in &listing.entries {
                assert!(!e.name.is_empty() && !e.name.contains(['/', '\n']));
                assert!(!e.name.starts_with(' ') && !e.name.ends_with(' '));
                let seg = e.segment();
                assert!(!seg.is_empty() && e.name.starts_with(seg));
            }
        }
        Err(ListingError::NotUtf8) => assert!(std::str::from_utf8(data).is_err()),
        Err(ListingError::EmptyLine { line } | ListingError::BadEntry { line }) => {
            assert!(line >= 1 && line <= data.iter().filter(|&&b| b == b'\n').count() + 1);
        }
        Err(ListingError::TooManyEntries) => {
            assert!(data.iter().filter(|&&b| b == b'\n').count() >= MAX_LISTING_ENTRIES);
        }
        Err(e) => panic!("unexpected listing error {e:?}"),
    }
}

/// `Instance::from_text` (TOML and JSON): total, accepted content round-trips through both
/// formats, and the tree built from it keeps listing/resolve consistency.
pub fn instance_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [InstanceFormat::Toml, InstanceFormat::Json] {
        let Ok(instance) = Instance::from_text("fuzz", text, format) else {
            continue;
        };
        if let Ok(json) = serde_json::to_string(&instance) {
            let back = Instance::from_text("fuzz.json", &json, InstanceFormat::Json)
                .unwrap_or_else(|e| panic!("own JSON refused: {e}\n{json}"));
            assert_eq!(back, instance);
        }
        if let Ok(toml_text) = toml::to_string(&instance) {
            let back = Instance::from_text("fuzz.toml", &toml_text, InstanceFormat::Toml)
                .unwrap_or_else(|e| panic!("own TOML refused: {e}\n{toml_text}"));
            assert_eq!(back, instance);
        }
        if instance != Instance::default() {
            crawl(instance);
        }
    }
}

/// Walks every listing from `/latest/` (tags on), checking each entry resolves.
fn crawl(instance: Instance) {
    let options = MetadataOptions {
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    };
    let clock = Arc::new(ManualClock::new(START));
    let snapshot = Arc::new(Snapshot::new(options, instance));
    let imds = Clocked::new(snapshot, &TokenKey::new([1; 32]), clock);
    let mut queue = VecDeque::from([String::from("/latest/")]);
    let mut seen = BTreeSet::new();
    let mut budget = 400usize;
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(resp) = get(&imds, &path, &[]) else {
            continue;
        };
        if resp.status() != StatusCode::OK {
            continue;
        }
        for child in listing_children(&imds, &path, resp.body(), &[], &mut budget) {
            queue.push_back(child);
        }
        if budget == 0 {
            break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// model_request: arbitrary operation sequences through `Model`

const START: Timestamp = Timestamp::from_secs(1_768_470_000);
const MAX_OPS: usize = 48;

/// Paths worth hitting often; `PathChoice::Known` picks one.
const KNOWN_PATHS: &[&str] = &[
    "/",
    "/latest",
    "/latest/",
    "/latest/meta-data",
    "/latest/meta-data/",
    "/latest/meta-data/ami-id",
    "/latest/meta-data/iam/",
    "/latest/meta-data/iam/info",
    "/latest/meta-data/iam/security-credentials/",
    "/latest/meta-data/iam/security-credentials/imdspec-role",
    "/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance",
    "/latest/meta-data/public-keys/",
    "/latest/meta-data/public-keys/0/",
    "/latest/meta-data/public-keys/0/openssh-key",
    "/latest/meta-data/network/interfaces/macs/",
    "/latest/meta-data/placement/",
    "/latest/meta-data/events/maintenance/history",
    "/latest/meta-data/tags/instance",
    "/latest/meta-data/tags/instance/Name",
    "/latest/dynamic/",
    "/latest/dynamic/instance-identity/",
    "/latest/dynamic/instance-identity/document",
    "/latest/user-data",
    "/latest/api/token",
    "/latest/api/token/",
    "/2021-07-15/api/token",
    "/1.0/meta-data/",
    "/2009-04-04/dynamic/",
    "/2016-09-02/meta-data/",
    "/2099-01-01/meta-data/",
    "/latest//meta-data//",
    "/latest/meta-data/?x=1",
    "/latest/meta-data/../",
    "/latest/meta-data/ami-id/",
    "*",
];

/// Path segments `PathChoice::Segments` is built from.
const KNOWN_SEGMENTS: &[&str] = &[
    "latest",
    "1.0",
    "2009-04-04",
    "2021-07-15",
    "2030-01-01",
    "meta-data",
    "dynamic",
    "user-data",
    "api",
    "token",
    "iam",
    "info",
    "security-credentials",
    "imdspec-role",
    "public-keys",
    "0",
    "0=imdspec-key",
    "openssh-key",
    "tags",
    "instance",
    "Name",
    "network",
    "interfaces",
    "macs",
    "0e:49:61:0f:c3:11",
    "placement",
    "instance-identity",
    "document",
    ".",
    "..",
    "",
    "%2e",
];

/// One step of a `model_request` run.
#[derive(Arbitrary, Debug)]
pub enum Op {
    /// A token request.
    Put {
        /// The requested TTL header.
        ttl: TtlChoice,
        /// Where to send it (usually `/latest/api/token`).
        path: Option<PathChoice>,
        /// Add `X-Forwarded-For`.
        forwarded: bool,
    },
    /// Any other request.
    Request {
        /// The method.
        method: MethodChoice,
        /// The target.
        path: PathChoice,
        /// Which token to present.
        token: TokenChoice,
        /// Add `X-Forwarded-For`.
        forwarded: bool,
    },
    /// Move the clock forward by whole seconds.
    AdvanceSecs(u16),
    /// Move the clock forward by milliseconds (to probe expiry boundaries).
    AdvanceMillis(u16),
    /// Set the clock back (tokens "from the future" count as just issued).
    SetBackSecs(u16),
    /// Replace the options.
    SetOptions {
        /// `HttpTokens=required`.
        tokens_required: bool,
        /// `HttpEndpoint=enabled`.
        endpoint_enabled: bool,
        /// `InstanceMetadataTags=enabled`.
        tags_enabled: bool,
    },
}

/// The TTL header of a token PUT.
#[derive(Arbitrary, Debug)]
pub enum TtlChoice {
    /// No header.
    Missing,
    /// A number, printed in decimal.
    Number(u16),
    /// Any bytes.
    Raw(Vec<u8>),
    /// The header twice.
    Twice(u16, u16),
}

/// A method.
#[derive(Arbitrary, Debug)]
pub enum MethodChoice {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// PUT.
    Put,
    /// POST.
    Post,
    /// DELETE.
    Delete,
    /// OPTIONS.
    Options,
    /// Any token (refused by `http` when not a valid method).
    Other(String),
}

/// A request target.
#[derive(Arbitrary, Debug)]
pub enum PathChoice {
    /// One of [`KNOWN_PATHS`].
    Known(u8),
    /// `/` + known segments joined with `/`, optionally ending with `/`.
    Segments(Vec<u8>, bool),
    /// Any text (refused by `http` when not a valid URI).
    Raw(String),
}

/// The token header of a request.
#[derive(Arbitrary, Debug)]
pub enum TokenChoice {
    /// No token header.
    None,
    /// One of the tokens issued so far (by index); none issued yet means no header.
    Issued(u8),
    /// An issued token with one character replaced.
    Tampered(u8, u8, u8),
    /// An issued token sent twice.
    Twice(u8),
    /// A well-formed token from another instance's key.
    Foreign(u8),
    /// Any bytes.
    Garbage(Vec<u8>),
}

/// What the harness knows about a token it saw issued.
#[derive(Clone, Copy, Debug)]
struct Issued {
    at: Timestamp,
    ttl: u32,
}

struct Run {
    imds: Clocked,
    clock: Arc<ManualClock>,
    options: MetadataOptions,
    issued: Vec<String>,
    tokens: HashMap<String, Issued>,
    foreign: TokenAuthority,
    /// When set, one line per operation (for picking and naming seeds).
    trace: Option<Vec<String>>,
}

/// Decodes up to [`MAX_OPS`] operations from `data` and runs them through one `Model`,
/// checking every answer against what the harness expects.
pub fn model_request(data: &[u8]) {
    run_model_request(data, false);
}

/// What `model_request` does with `data`, one line per operation: for naming seeds.
pub fn model_request_trace(data: &[u8]) -> Vec<String> {
    run_model_request(data, true).unwrap_or_default()
}

fn run_model_request(data: &[u8], trace: bool) -> Option<Vec<String>> {
    let mut u = Unstructured::new(data);
    let clock = Arc::new(ManualClock::new(START));
    let mut run = Run {
        imds: Clocked::new(default_snapshot(), &key_for(data), clock.clone()),
        clock,
        options: MetadataOptions::default(),
        issued: Vec::new(),
        tokens: HashMap::new(),
        foreign: TokenAuthority::new(&TokenKey::new([8; 32])),
        trace: trace.then(Vec::new),
    };
    for _ in 0..MAX_OPS {
        if u.is_empty() {
            break;
        }
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        if let Some(t) = &mut run.trace
            && !matches!(op, Op::Put { .. } | Op::Request { .. })
        {
            t.push(format!("{op:?}"));
        }
        run.step(op);
    }
    run.trace
}

/// The default instance under default options, built once per process: every input serves
/// the same instance, so rebuilding its tree per input would only measure `Tree::build`.
fn default_snapshot() -> Arc<Snapshot> {
    static SNAPSHOT: OnceLock<Arc<Snapshot>> = OnceLock::new();
    SNAPSHOT
        .get_or_init(|| {
            Arc::new(Snapshot::new(
                MetadataOptions::default(),
                Instance::default(),
            ))
        })
        .clone()
}

/// A token key derived from the whole input. Tokens are deterministic given key, clock and
/// nonce, and libFuzzer learns strings from comparisons, so with a fixed key it could replay a
/// token issued in an earlier input as "garbage" before this input issued it, which the
/// model rightly accepts. Keying by the input makes such a token unforgeable.
fn key_for(data: &[u8]) -> TokenKey {
    use std::hash::{Hash, Hasher};
    let mut key = [0u8; 32];
    for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
        let mut h = std::hash::DefaultHasher::new();
        (i, data).hash(&mut h);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    TokenKey::new(key)
}

/// Why the harness expects what it expects.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Status(u16),
    /// 200 with a fresh token whose TTL is this.
    Issue(u32),
    /// Served or not found; a token was accepted with this many seconds left.
    Found(Option<u32>),
}

impl Run {
    fn step(&mut self, op: Op) {
        match op {
            Op::AdvanceSecs(s) => self.clock.advance(Duration::from_secs(u64::from(s))),
            Op::AdvanceMillis(ms) => self.clock.advance(Duration::from_millis(u64::from(ms))),
            Op::SetBackSecs(s) => {
                let now = self.clock.now().as_millis();
                self.clock
                    .set(Timestamp(now.saturating_sub(u64::from(s) * 1000)));
            }
            Op::SetOptions {
                tokens_required,
                endpoint_enabled,
                tags_enabled,
            } => {
                let toggle = |on: bool| {
                    if on {
                        Toggle::Enabled
                    } else {
                        Toggle::Disabled
                    }
                };
                self.options = MetadataOptions {
                    http_tokens: if tokens_required {
                        HttpTokens::Required
                    } else {
                        HttpTokens::Optional
                    },
                    http_endpoint: toggle(endpoint_enabled),
                    instance_metadata_tags: toggle(tags_enabled),
                    ..MetadataOptions::default()
                };
                self.imds.set_options(self.options);
            }
            Op::Put {
                ttl,
                path,
                forwarded,
            } => {
                let target = match &path {
                    None => Some("/latest/api/token".to_owned()),
                    Some(p) => path_text(p),
                };
                let mut headers = Vec::new();
                match ttl {
                    TtlChoice::Missing => {}
                    TtlChoice::Number(n) => headers.push((TTL_HEADER, n.to_string().into_bytes())),
                    TtlChoice::Raw(b) => headers.push((TTL_HEADER, b)),
                    TtlChoice::Twice(a, b) => {
                        headers.push((TTL_HEADER, a.to_string().into_bytes()));
                        headers.push((TTL_HEADER, b.to_string().into_bytes()));
                    }
                }
                if forwarded {
                    headers.push((FORWARDED_FOR, b"203.0.113.7".to_vec()));
                }
                if let Some(target) = target {
                    self.send(Method::PUT, &target, headers);
                }
            }
            Op::Request {
                method,
                path,
                token,
                forwarded,
            } => {
                let method = match method {
                    MethodChoice::Get => Method::GET,
                    MethodChoice::Head => Method::HEAD,
                    MethodChoice::Put => Method::PUT,
                    MethodChoice::Post => Method::POST,
                    MethodChoice::Delete => Method::DELETE,
                    MethodChoice::Options => Method::OPTIONS,
                    MethodChoice::Other(m) => match Method::from_bytes(m.as_bytes()) {
                        Ok(m) => m,
                        Err(_) => return,
                    },
                };
                let Some(target) = path_text(&path) else {
                    return;
                };
                let mut headers = Vec::new();
                let pick = |i: u8| -> Option<&String> {
                    (!self.issued.is_empty())
                        .then(|| &self.issued[usize::from(i) % self.issued.len()])
                };
                match token {
                    TokenChoice::None => {}
                    TokenChoice::Issued(i) => {
                        if let Some(t) = pick(i) {
                            headers.push((TOKEN_HEADER, t.clone().into_bytes()));
                        }
                    }
                    TokenChoice::Twice(i) => {
                        if let Some(t) = pick(i) {
                            headers.push((TOKEN_HEADER, t.clone().into_bytes()));
                            headers.push((TOKEN_HEADER, t.clone().into_bytes()));
                        }
                    }
                    TokenChoice::Tampered(i, pos, byte) => {
                        if let Some(t) = pick(i) {
                            let mut b = t.clone().into_bytes();
                            let pos = usize::from(pos) % b.len();
                            b[pos] = byte;
                            headers.push((TOKEN_HEADER, b));
                        }
                    }
                    TokenChoice::Foreign(ttl) => {
                        let t = self.foreign.issue(self.clock.now(), u32::from(ttl));
                        headers.push((TOKEN_HEADER, t.token.into_bytes()));
                    }
                    TokenChoice::Garbage(b) => headers.push((TOKEN_HEADER, b)),
                }
                if forwarded {
                    headers.push((FORWARDED_FOR, b"203.0.113.7".to_vec()));
                }
                self.send(method, &target, headers);
            }
        }
    }

    /// Sends one request (skipped when `http` refuses to build it) and checks the answer.
    fn send(&mut self, method: Method, target: &str, headers: Vec<(HeaderName, Vec<u8>)>) {
        let mut builder = Request::builder().method(method.clone()).uri(target);
        let mut sent = Vec::new();
        for (name, value) in headers {
            let Ok(value) = HeaderValue::from_bytes(&value) else {
                return;
            };
            builder = builder.header(name.clone(), value.clone());
            sent.push((name, value));
        }
        let Ok(req) = builder.body(()) else {
            return;
        };
        let expect = self.expect(&req);
        let (resp, outcome) = self.imds.handle_with_outcome(&req);
        let status = resp.status().as_u16();
        if let Some(t) = &mut self.trace {
            let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
            t.push(format!(
                "{method} {target} {names:?} -> {status} {outcome:?}"
            ));
        }
        let ctx = || {
            format!(
                "{method} {target} {sent:?} (options {:?}) -> {status} {outcome:?}",
                self.options
            )
        };

        assert!(
            [200, 400, 401, 403, 404, 405].contains(&status),
            "status outside the IMDS set: {}",
            ctx()
        );
        check_framing(&req, &resp, &ctx);
        match expect {
            Expect::Status(s) => assert_eq!(status, s, "{}", ctx()),
            Expect::Issue(ttl) => {
                assert_eq!(status, 200, "{}", ctx());
                assert_eq!(
                    header_u32(&resp, &TTL_HEADER),
                    Some(ttl),
                    "granted TTL: {}",
                    ctx()
                );
                let token = String::from_utf8(resp.body().to_vec()).unwrap_or_default();
                assert_eq!(token.len(), imds_model::token::TOKEN_LEN, "{}", ctx());
                assert!(
                    self.tokens
                        .insert(
                            token.clone(),
                            Issued {
                                at: self.clock.now(),
                                ttl
                            }
                        )
                        .is_none(),
                    "token issued twice: {}",
                    ctx()
                );
                self.issued.push(token);
            }
            Expect::Found(remaining) => {
                assert!(status == 200 || status == 404, "{}", ctx());
                let header = header_u32(&resp, &TTL_HEADER);
                assert_eq!(header, remaining, "remaining-TTL header: {}", ctx());
                if status == 200
                    && method == Method::GET
                    && first_crawl(req.uri().path(), &self.options, resp.body(), &sent)
                {
                    let token_headers: Vec<_> = sent
                        .iter()
                        .filter(|(n, _)| *n == TOKEN_HEADER)
                        .cloned()
                        .collect();
                    let mut budget = 200;
                    let path = req.uri().path().to_owned();
                    let _ = listing_children(
                        &self.imds,
                        &path,
                        resp.body(),
                        &token_headers,
                        &mut budget,
                    );
                }
            }
        }
    }

    /// The oracle: what the spec (as the model reads it) requires for `req` right now.
    fn expect(&self, req: &Request<()>) -> Expect {
        let method = req.method();
        let headers = req.headers();
        if !self.options.http_endpoint.is_enabled() {
            return Expect::Status(403);
        }
        let path = parse::parse_path(req.uri().path()).ok();
        let forwarded = headers.contains_key(FORWARDED_FOR);
        if let Some(p) = &path
            && let [version, api, token] = p.segments.as_slice()
            && api == "api"
            && token == "token"
        {
            if version == "latest" {
                if *method == Method::PUT {
                    if p.trailing_slash || forwarded {
                        return Expect::Status(403);
                    }
                    let ttls: Vec<_> = headers.get_all(TTL_HEADER).iter().collect();
                    return match ttls.as_slice() {
                        [one] => match parse::parse_ttl(one.as_bytes()) {
                            Ok(ttl) => Expect::Issue(ttl),
                            Err(_) => Expect::Status(400),
                        },
                        _ => Expect::Status(400),
                    };
                }
                if *method == Method::OPTIONS && !p.trailing_slash {
                    return Expect::Status(200);
                }
                return Expect::Status(405);
            }
            if *method == Method::PUT && Version::parse(version).is_some() {
                return Expect::Status(403);
            }
        }
        if *method != Method::GET && *method != Method::HEAD {
            return Expect::Status(405);
        }
        let tokens: Vec<_> = headers.get_all(TOKEN_HEADER).iter().collect();
        if tokens.is_empty() {
            return if self.options.http_tokens == HttpTokens::Required {
                Expect::Status(401)
            } else {
                Expect::Found(None)
            };
        }
        if forwarded {
            return Expect::Status(403);
        }
        let [one] = tokens.as_slice() else {
            return Expect::Status(401);
        };
        let Some(issued) = one.to_str().ok().and_then(|t| self.tokens.get(t)) else {
            return Expect::Status(401);
        };
        let age_ms = self
            .clock
            .now()
            .as_millis()
            .saturating_sub(issued.at.as_millis());
        let ttl_ms = u64::from(issued.ttl) * 1000;
        if age_ms >= ttl_ms {
            return Expect::Status(401);
        }
        let remaining = issued.ttl - (age_ms / 1000) as u32;
        assert!(remaining >= 1 && remaining <= issued.ttl);
        Expect::Found(Some(remaining))
    }
}

fn path_text(p: &PathChoice) -> Option<String> {
    match p {
        PathChoice::Known(i) => Some(KNOWN_PATHS[usize::from(*i) % KNOWN_PATHS.len()].to_owned()),
        PathChoice::Segments(segs, trailing) => {
            let mut s = String::new();
            for i in segs.iter().take(MAX_PATH_DEPTH + 2) {
                s.push('/');
                s.push_str(KNOWN_SEGMENTS[usize::from(*i) % KNOWN_SEGMENTS.len()]);
            }
            if *trailing || s.is_empty() {
                s.push('/');
            }
            Some(s)
        }
        PathChoice::Raw(s) => Some(s.clone()),
    }
}

fn header_u32(resp: &Response<Bytes>, name: &HeaderName) -> Option<u32> {
    resp.headers().get(name).map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX)
    })
}

/// Framing every answer keeps: `Content-Length` is the GET body length (HEAD sends none),
/// 405 carries `Allow` and the "Not Allowed" reason phrase.
fn check_framing<B>(req: &Request<B>, resp: &Response<Bytes>, ctx: &dyn Fn() -> String) {
    let length =
        header_u32(resp, &CONTENT_LENGTH).unwrap_or_else(|| panic!("no Content-Length: {}", ctx()));
    if req.method() == Method::HEAD {
        assert!(resp.body().is_empty(), "HEAD with a body: {}", ctx());
    } else {
        assert_eq!(
            length as usize,
            resp.body().len(),
            "Content-Length: {}",
            ctx()
        );
    }
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        assert!(
            resp.headers().contains_key(ALLOW),
            "405 without Allow: {}",
            ctx()
        );
        assert_eq!(
            resp.extensions().get::<ReasonPhrase>(),
            Some(&ReasonPhrase("Not Allowed")),
            "{}",
            ctx()
        );
    }
}

fn get(
    imds: &Clocked,
    target: &str,
    headers: &[(HeaderName, HeaderValue)],
) -> Option<Response<Bytes>> {
    let mut builder = Request::get(target);
    for (n, v) in headers {
        builder = builder.header(n.clone(), v.clone());
    }
    builder.body(()).ok().map(|req| imds.handle(&req))
}

/// True the first time this process sees this listing answered (path, options, body, and
/// whether and how many token headers came with it): every input serves the same default
/// instance, and the model answers the same request the same way, so crawling a listing
/// already crawled would repeat the same requests, at up to 200 per listing. Bounded.
fn first_crawl(
    path: &str,
    options: &MetadataOptions,
    body: &[u8],
    sent: &[(HeaderName, HeaderValue)],
) -> bool {
    static SEEN: OnceLock<Mutex<HashSet<u64>>> = OnceLock::new();
    let tokens = sent.iter().filter(|(n, _)| *n == TOKEN_HEADER).count();
    // `DefaultHasher::new` has fixed keys: the same listing hashes alike in every run.
    let mut hasher = std::hash::DefaultHasher::new();
    (path, options, body, tokens).hash(&mut hasher);
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.len() >= 1 << 16 {
        seen.clear();
    }
    seen.insert(hasher.finish())
}

/// When the 200 body served at `path` is a directory listing, checks that every entry
/// resolves (GET with the same headers answers 200) and returns the children's paths.
///
/// A body counts as a listing when it parses as one and at least one entry resolves: a leaf
/// never has children, so its body can parse as a listing but no entry below it resolves.
/// An entry resolves by its name or, for `N=name` lines, by the index before `=`.
fn listing_children(
    imds: &Clocked,
    path: &str,
    body: &[u8],
    headers: &[(HeaderName, HeaderValue)],
    budget: &mut usize,
) -> Vec<String> {
    let Ok(listing) = parse::parse_listing(body) else {
        return Vec::new();
    };
    let Ok(dir) = parse::parse_path(path) else {
        return Vec::new();
    };
    let base = if dir.segments.is_empty() {
        String::new()
    } else {
        format!("/{}", dir.joined())
    };
    let mut children = Vec::new();
    let mut missing = Vec::new();
    for entry in &listing.entries {
        if *budget == 0 {
            return children;
        }
        let mut found = None;
        for seg in [entry.segment(), entry.name.as_str()] {
            *budget = budget.saturating_sub(1);
            let child = format!("{base}/{seg}{}", if entry.is_dir { "/" } else { "" });
            if get(imds, &child, headers).is_some_and(|r| r.status() == StatusCode::OK) {
                found = Some(child);
                break;
            }
        }
        match found {
            Some(c) => children.push(c),
            None => missing.push(entry.name.clone()),
        }
    }
    assert!(
        children.is_empty() || missing.is_empty(),
        "listing at {path:?} has entries that do not resolve: {missing:?} (body {:?})",
        String::from_utf8_lossy(body)
    );
    children
}
