//! Gathering the raw evidence: a TCP connect, a token PUT and a tokenless GET per endpoint (all
//! at once), then a token-bearing GET and a tags listing on the endpoint that answered.
//!
//! Every step has the per-request timeout as its whole budget and the two rounds run one after
//! the other, so a probe takes at most about two timeouts, whatever the endpoint does.
//! The session token stays inside this module: only its length and shape are recorded.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use imds_model::TTL_HEADER;
use imds_observe::client::{BaseUrl, Client, ClientConfig, ClientError, Request, Response};
use imds_observe::infer::{Evidence, Reply, infer, needs_tags_dir};
use serde::Serialize;
use tokio::net::TcpStream;

/// TTL asked for on the probe's token: short, since the token is dropped at once.
pub const PROBE_TOKEN_TTL: u32 = 60;
/// Longest header value or error text kept from an endpoint (a hostile one may send anything).
const TEXT_CAP: usize = 120;
/// Largest body the probe reads: instance ids, tag listings and error pages are small.
const BODY_CAP: usize = 64 * 1024;

/// The metadata item every instance has; its tokenless GET is the IMDSv1 test.
pub const INSTANCE_ID_PATH: &str = "/latest/meta-data/instance-id";
/// The instance tags listing; answered only with `InstanceMetadataTags=enabled`.
pub const TAGS_PATH: &str = "/latest/meta-data/tags/instance";
/// The tags directory; asked when the listing alone cannot tell.
pub const TAGS_DIR_PATH: &str = "/latest/meta-data/tags/";
/// The IMDSv2 token path.
pub const TOKEN_PATH: &str = "/latest/api/token";
/// The instance identity document (account and region, for findings; SPEC.md §4).
pub const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";

/// Which endpoint of the instance a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// `--endpoint` (default `http://169.254.169.254`).
    Primary,
    /// The IPv6 endpoint asked for with `--ipv6`.
    Ipv6,
}

/// One endpoint to probe.
#[derive(Clone, Debug)]
pub struct Target {
    /// The base URL.
    pub url: String,
    /// Its role.
    pub role: Role,
}

/// What to probe and how long each request may take.
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// `--endpoint`.
    pub primary: Target,
    /// The IPv6 endpoint, with `--ipv6`.
    pub ipv6: Option<Target>,
    /// Budget of one request (connect, head and body together).
    pub timeout: Duration,
    /// Also read the instance identity document in the second round (account and region,
    /// which Security Hub and OCSF findings need).
    pub identity: bool,
}

impl ProbeConfig {
    /// The whole probe's budget: two rounds of requests plus a little for scheduling.
    pub fn budget(&self) -> Duration {
        self.timeout * 2 + Duration::from_millis(200)
    }
}

/// A base URL the probe cannot use.
#[derive(Debug)]
pub struct ConfigError {
    /// Which endpoint it was given for.
    pub role: Role,
    /// Why it is refused.
    pub error: ClientError,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let which = match self.role {
            Role::Primary => "endpoint",
            Role::Ipv6 => "IPv6 endpoint",
        };
        write!(f, "{which}: {}", self.error)
    }
}

impl std::error::Error for ConfigError {}

impl ProbeConfig {
    /// A probe of `primary` (and `ipv6`, when given) with `timeout` per request; refuses a
    /// URL the HTTP client cannot use, or one with a path (`…/latest/`).
    pub fn new(
        primary: &str,
        ipv6: Option<&str>,
        timeout: Duration,
    ) -> Result<ProbeConfig, ConfigError> {
        let target = |url: &str, role| {
            BaseUrl::parse_base(url)
                .map(|_| Target {
                    url: url.to_owned(),
                    role,
                })
                .map_err(|error| ConfigError { role, error })
        };
        Ok(ProbeConfig {
            primary: target(primary, Role::Primary)?,
            ipv6: ipv6.map(|u| target(u, Role::Ipv6)).transpose()?,
            timeout,
            identity: false,
        })
    }

    /// The same probe, also reading the instance identity document.
    pub fn with_identity(mut self) -> ProbeConfig {
        self.identity = true;
        self
    }
}

/// Where the instance runs, from its identity document: only the fields findings need, each
/// checked for its documented shape (anything else from an endpoint is dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `accountId` (12 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// `region` (`us-east-1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `instanceId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

impl Identity {
    /// Reads the fields from a document; `None` when it is not a JSON object.
    pub fn parse(body: &str) -> Option<Identity> {
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        let field = |k: &str| v.get(k)?.as_str();
        let account_id = field("accountId")
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned);
        let region = field("region")
            .filter(|r| {
                !r.is_empty()
                    && r.len() <= 32
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
            .map(str::to_owned);
        let instance_id = field("instanceId")
            .filter(|i| {
                i.strip_prefix("i-").is_some_and(|h| {
                    !h.is_empty() && h.len() <= 32 && h.bytes().all(|b| b.is_ascii_alphanumeric())
                })
            })
            .map(str::to_owned);
        v.is_object().then_some(Identity {
            account_id,
            region,
            instance_id,
        })
    }
}

/// How a TCP connect ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectOutcome {
    /// Connected.
    Connected,
    /// Actively refused: nothing listens there.
    Refused,
    /// No answer to the connection attempt within the budget (filtered, no route, wrong network).
    Timeout,
    /// Any other failure (unreachable network, bad host name, ...).
    Failed,
}

/// The TCP connect check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectCheck {
    /// How it ended.
    pub outcome: ConnectOutcome,
    /// Time taken.
    pub ms: u64,
    /// The operating system's message, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// How one HTTP request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    /// An HTTP response arrived (any status).
    Answered,
    /// The connection was refused.
    ConnectRefused,
    /// No connection within the budget.
    ConnectTimeout,
    /// The connection failed otherwise.
    ConnectFailed,
    /// Connected and sent, but no response head within the budget.
    ResponseTimeout,
    /// The head arrived, the body did not finish within the budget.
    BodyTimeout,
    /// The body was larger than the probe reads.
    BodyTooLarge,
    /// The exchange broke (reset, malformed response).
    HttpError,
}

impl StepOutcome {
    /// True when the request never got through to a server.
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            StepOutcome::ConnectRefused | StepOutcome::ConnectTimeout | StepOutcome::ConnectFailed
        )
    }

    /// True when a connection was made and the request sent, but nothing came back in time.
    pub fn is_silent(self) -> bool {
        matches!(self, StepOutcome::ResponseTimeout)
    }
}

/// How an error page looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorPage {
    /// EC2's XHTML page with a `<title>NNN - Reason</title>`.
    Ec2Xhtml,
    /// An empty body (EC2's 403s are empty).
    Empty,
    /// Something else.
    Other,
}

/// One HTTP request and what came back (never the token, never a credential).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Method and path, with the token header named but not shown.
    pub request: String,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Status code, when answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time from start to the end of the body (or the failure).
    pub ms: u64,
    /// The `Server` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The `X-aws-ec2-metadata-token-ttl-seconds` header: the granted TTL on a token response,
    /// the remaining TTL on a token-bearing GET.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_header: Option<String>,
    /// Length of the token received (the token itself is never kept in the output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_length: Option<usize>,
    /// Whether the token has EC2's shape: 56 characters of URL-safe base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ec2_shape: Option<bool>,
    /// For 4xx/5xx answers, what the body looks like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_page: Option<ErrorPage>,
    /// Why there was no answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The body, kept only for the instance id and the tag listing (not serialised).
    #[serde(skip)]
    pub body: Option<String>,
}

impl Step {
    /// The status, if the request was answered.
    pub fn answered(&self) -> Option<u16> {
        self.status
            .filter(|_| self.outcome == StepOutcome::Answered)
    }

    /// How the step ended, in the terms of the model's options inference.
    pub fn reply(&self) -> Reply {
        match self.outcome {
            StepOutcome::Answered => Reply::status_with(
                self.status.unwrap_or_default(),
                self.body.as_deref().unwrap_or_default().as_bytes(),
            ),
            StepOutcome::ResponseTimeout => Reply::TimedOut,
            StepOutcome::ConnectRefused
            | StepOutcome::ConnectTimeout
            | StepOutcome::ConnectFailed => Reply::Refused,
            StepOutcome::BodyTimeout | StepOutcome::BodyTooLarge | StepOutcome::HttpError => {
                Reply::Reset
            }
        }
    }

    /// The TTL header as a number.
    pub fn ttl(&self) -> Option<u32> {
        self.ttl_header
            .as_deref()
            .and_then(|t| t.trim().parse().ok())
    }
}

/// What one endpoint said in the first round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointObservation {
    /// The base URL.
    pub url: String,
    /// Primary or IPv6.
    pub role: Role,
    /// Whether the host is an IPv6 address.
    pub ipv6: bool,
    /// The TCP connect check.
    pub tcp_connect: ConnectCheck,
    /// `PUT /latest/api/token` with a TTL.
    pub token_put: Step,
    /// `GET /latest/meta-data/instance-id` without a token.
    pub tokenless_get: Step,
}

impl EndpointObservation {
    /// True when at least one request got an HTTP answer.
    pub fn answers(&self) -> bool {
        self.token_put.answered().is_some() || self.tokenless_get.answered().is_some()
    }
}

/// Everything the probe saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observations {
    /// First round, per endpoint, primary first.
    pub endpoints: Vec<EndpointObservation>,
    /// Index in `endpoints` of the endpoint the second round used (the first that answered).
    #[serde(skip)]
    pub main: usize,
    /// `GET /latest/meta-data/instance-id` with the probe's token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_get: Option<Step>,
    /// `GET /latest/meta-data/tags/instance`, with the token when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_get: Option<Step>,
    /// `GET /latest/meta-data/tags/`, asked only when the tags listing was an empty 200
    /// (which alone cannot tell whether tags are on, SPEC §13.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_dir_get: Option<Step>,
    /// `GET /latest/dynamic/instance-identity/document`, when asked for (its body is not
    /// kept: only [`Observations::identity`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_get: Option<Step>,
    /// What the identity document said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The per-request timeout.
    pub timeout_ms: u64,
    /// The probe's total budget.
    pub budget_ms: u64,
    /// Time the whole probe took.
    pub total_ms: u64,
}

impl Observations {
    /// The endpoint the verdict is about.
    pub fn main(&self) -> &EndpointObservation {
        &self.endpoints[self.main]
    }

    /// The main endpoint's evidence, as the model's options inference reads it.
    pub fn evidence(&self) -> Evidence {
        let main = self.main();
        Evidence {
            tags_instance: self.tags_get.as_ref().map(Step::reply),
            tags_dir: self.tags_dir_get.as_ref().map(Step::reply),
            ..Evidence::first(main.token_put.reply(), main.tokenless_get.reply())
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Printable, bounded text from an untrusted source.
pub fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(TEXT_CAP)
        .collect();
    if s.chars().count() > TEXT_CAP {
        out.push('…');
    }
    out
}

/// EC2 tokens are 56 characters of URL-safe base64 with `=` padding (spec §2.1).
pub fn has_ec2_token_shape(token: &str) -> bool {
    token.len() == imds_model::token::TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
}

fn error_page(resp: &Response) -> Option<ErrorPage> {
    if resp.status < 400 {
        return None;
    }
    let text = resp.text();
    let title = format!("<title>{} - ", resp.status);
    Some(if resp.body.is_empty() {
        ErrorPage::Empty
    } else if text.contains("-//W3C//DTD XHTML") && text.contains(&title) {
        ErrorPage::Ec2Xhtml
    } else {
        ErrorPage::Other
    })
}

fn outcome_of(e: &ClientError) -> StepOutcome {
    match e {
        ClientError::Connect { message, .. } if is_refused_message(message) => {
            StepOutcome::ConnectRefused
        }
        // Reset while connecting: a server accepted and broke the exchange (see tcp_connect).
        ClientError::Connect { message, .. } if is_reset_message(message) => StepOutcome::HttpError,
        ClientError::Connect { .. } | ClientError::BadUrl(_) => StepOutcome::ConnectFailed,
        ClientError::ConnectTimeout(_) => StepOutcome::ConnectTimeout,
        ClientError::ResponseTimeout(_) => StepOutcome::ResponseTimeout,
        ClientError::BodyTimeout(_) => StepOutcome::BodyTimeout,
        ClientError::BodyTooLarge { .. } => StepOutcome::BodyTooLarge,
        _ => StepOutcome::HttpError,
    }
}

/// The shared client reports a failed connect as text only; the probe's own TCP check keeps
/// the error kind, this is the fallback for the HTTP steps.
fn is_refused_message(message: &str) -> bool {
    message.to_ascii_lowercase().contains("refused")
}

fn is_reset_message(message: &str) -> bool {
    message.to_ascii_lowercase().contains("reset")
}

async fn step(
    client: &Client,
    label: &str,
    req: &Request,
    keep_token: bool,
) -> (Step, Option<String>) {
    let start = Instant::now();
    let result = client.send_once(req).await;
    let elapsed = ms(start.elapsed());
    match result {
        Err(e) => (
            Step {
                request: label.to_owned(),
                outcome: outcome_of(&e),
                status: None,
                ms: elapsed,
                server: None,
                ttl_header: None,
                token_length: None,
                token_ec2_shape: None,
                error_page: None,
                error: Some(clean(&e.to_string())),
                body: None,
            },
            None,
        ),
        Ok(resp) => {
            let token = (keep_token && resp.status == 200 && !resp.body.is_empty())
                .then(|| resp.text())
                .filter(|t| !t.is_empty());
            let body = (!keep_token && resp.status == 200).then(|| resp.text());
            let step = Step {
                request: label.to_owned(),
                outcome: StepOutcome::Answered,
                status: Some(resp.status),
                ms: elapsed,
                server: resp.header("server").map(clean),
                ttl_header: resp.header(TTL_HEADER.as_str()).map(clean),
                token_length: token.as_ref().map(String::len),
                token_ec2_shape: token.as_deref().map(has_ec2_token_shape),
                error_page: error_page(&resp),
                error: None,
                body,
            };
            (step, token)
        }
    }
}

async fn tcp_connect(base: &BaseUrl, timeout: Duration) -> ConnectCheck {
    let start = Instant::now();
    let addr = (base.host.as_str(), base.port);
    let (outcome, error) = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => (ConnectOutcome::Timeout, None),
        Ok(Ok(_)) => (ConnectOutcome::Connected, None),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            (ConnectOutcome::Refused, Some(clean(&e.to_string())))
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            (ConnectOutcome::Timeout, Some(clean(&e.to_string())))
        }
        // A reset is sent by something that accepted the connection (nothing listening
        // refuses): the handshake completed, the server broke it at once.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            (ConnectOutcome::Connected, Some(clean(&e.to_string())))
        }
        Ok(Err(e)) => (ConnectOutcome::Failed, Some(clean(&e.to_string()))),
    };
    ConnectCheck {
        outcome,
        ms: ms(start.elapsed()),
        error,
    }
}

fn client_config(timeout: Duration) -> ClientConfig {
    ClientConfig {
        timeout,
        body_cap: BODY_CAP,
        max_rps: None,
        max_in_flight: 4,
        // A 429/503 is evidence to report, not something to wait out: the budget is tight.
        throttle_retries: 0,
        ..ClientConfig::default()
    }
}

/// The token PUT label, as shown in reports.
pub fn token_put_label() -> String {
    format!("PUT {TOKEN_PATH} (TTL {PROBE_TOKEN_TTL})")
}

struct FirstRound {
    observation: EndpointObservation,
    client: Client,
    token: Option<String>,
}

async fn first_round(target: &Target, timeout: Duration) -> Result<FirstRound, ClientError> {
    let client = Client::new(&target.url, client_config(timeout))?;
    let put = Request::token_put(PROBE_TOKEN_TTL);
    let get = Request::get(INSTANCE_ID_PATH);
    let put_label = token_put_label();
    let get_label = format!("GET {INSTANCE_ID_PATH}");
    let (tcp, (token_put, token), (tokenless_get, _)) = tokio::join!(
        tcp_connect(client.base(), timeout),
        step(&client, &put_label, &put, true),
        step(&client, &get_label, &get, false),
    );
    let ipv6 = client
        .base()
        .host
        .parse::<IpAddr>()
        .is_ok_and(|a| a.is_ipv6());
    Ok(FirstRound {
        observation: EndpointObservation {
            url: client.base().url(),
            role: target.role,
            ipv6,
            tcp_connect: tcp,
            token_put,
            tokenless_get,
        },
        client,
        token,
    })
}

/// Probes every target: the first round at once on all of them, the second on the first
/// endpoint that answered. Fails only on a bad URL.
pub async fn observe(config: &ProbeConfig) -> Result<Observations, ClientError> {
    let start = Instant::now();
    let (primary, ipv6) = tokio::join!(first_round(&config.primary, config.timeout), async {
        match &config.ipv6 {
            Some(t) => Some(first_round(t, config.timeout).await),
            None => None,
        }
    },);
    let mut rounds = vec![primary?];
    if let Some(r) = ipv6 {
        rounds.push(r?);
    }
    let main = rounds
        .iter()
        .position(|r| r.observation.answers())
        .unwrap_or(0);

    let (mut token_get, mut tags_get, mut tags_dir_get) = (None, None, None);
    let (mut identity_get, mut identity) = (None, None);
    if let Some(round) = rounds.get(main).filter(|r| r.observation.answers()) {
        let second_round = Instant::now();
        let first = infer(&Evidence::first(
            round.observation.token_put.reply(),
            round.observation.tokenless_get.reply(),
        ));
        let with_token = |req: Request| match &round.token {
            Some(t) => req.token(t),
            None => req,
        };
        let tags_label = |path: &str| match &round.token {
            Some(_) => format!("GET {path} (with token)"),
            None => format!("GET {path} (no token)"),
        };
        let token_get_label = format!("GET {INSTANCE_ID_PATH} (with token)");
        let tags_req = with_token(Request::get(TAGS_PATH));
        // The same rule as the conformance runner's detection.
        let tags_useful = first.tags_worth_asking(round.token.is_some());
        let identity_label = match &round.token {
            Some(_) => format!("GET {IDENTITY_PATH} (with token)"),
            None => format!("GET {IDENTITY_PATH} (no token)"),
        };
        let (tg, tags, id) = tokio::join!(
            async {
                match &round.token {
                    Some(t) => {
                        let req = Request::get(INSTANCE_ID_PATH).token(t);
                        Some(step(&round.client, &token_get_label, &req, false).await.0)
                    }
                    None => None,
                }
            },
            async {
                if !tags_useful {
                    return (None, None);
                }
                let tags = step(&round.client, &tags_label(TAGS_PATH), &tags_req, false)
                    .await
                    .0;
                if !needs_tags_dir(tags.reply()) {
                    return (Some(tags), None);
                }
                // Only what is left of the round's one timeout, to keep the probe's budget.
                let left = config.timeout.saturating_sub(second_round.elapsed());
                let dir_req = with_token(Request::get(TAGS_DIR_PATH));
                let dir = tokio::time::timeout(
                    left,
                    step(&round.client, &tags_label(TAGS_DIR_PATH), &dir_req, false),
                )
                .await
                .ok()
                .map(|(s, _)| s);
                (Some(tags), dir)
            },
            async {
                // Only worth asking when something can come back: IMDSv1 open or a token.
                if !config.identity
                    || (round.token.is_none()
                        && first.http_tokens.value != Some(imds_model::HttpTokens::Optional))
                {
                    return None;
                }
                let req = with_token(Request::get(IDENTITY_PATH));
                let (mut s, _) = step(&round.client, &identity_label, &req, false).await;
                let doc = s.body.take().and_then(|b| Identity::parse(&b));
                Some((s, doc))
            },
        );
        if let Some((s, doc)) = id {
            identity_get = Some(s);
            identity = doc;
        }
        token_get = tg;
        (tags_get, tags_dir_get) = tags;
    }
    Ok(Observations {
        endpoints: rounds.into_iter().map(|r| r.observation).collect(),
        main,
        token_get,
        tags_get,
        tags_dir_get,
        identity_get,
        identity,
        timeout_ms: ms(config.timeout),
        budget_ms: ms(config.budget()),
        total_ms: ms(start.elapsed()),
    })
}
