//! From observations to findings: the effective options, IMDSv1/IMDSv2 state, diagnoses, the
//! one-line verdict, what the endpoint looks like, and the comparison with declared options.
//! Pure: no I/O, so every rule is unit-tested on hand-made observations.

use imds_model::{HttpTokens, OptionsState, Toggle};
use imds_observe::CompareOptions;
use serde::Serialize;

use crate::declared::DeclaredOptions;
use crate::observe::{ConnectOutcome, ErrorPage, Observations, PROBE_TOKEN_TTL, Step, StepOutcome};

pub use imds_observe::output::{V1, V2};

/// One thing worth a person's attention, with what to do about it when there is a fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Stable short name, for scripts.
    pub code: &'static str,
    /// What was seen and what it means.
    pub message: String,
    /// What to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// Whether the answers look like real EC2 (information only: a faithful mock looks the same).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LooksLike {
    /// `ec2` (every clue matches EC2), `mock` (some clue does not), `unknown` (no clues).
    pub verdict: &'static str,
    /// The clues, each `name: value (ec2|not ec2)`.
    pub clues: Vec<String>,
}

/// Everything inferred.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Findings {
    /// The one-line verdict.
    pub verdict: String,
    /// False when nothing answered HTTP (exit 3).
    pub answers: bool,
    /// IMDSv1 state.
    pub v1: V1,
    /// IMDSv2 state.
    pub v2: V2,
    /// Effective `HttpTokens`.
    pub http_tokens: Option<HttpTokens>,
    /// Effective `HttpEndpoint`.
    pub http_endpoint: Option<Toggle>,
    /// Effective `InstanceMetadataTags`.
    pub instance_metadata_tags: Option<Toggle>,
    /// Effective `HttpProtocolIpv6` (`None` unless an IPv6 endpoint was probed).
    pub http_protocol_ipv6: Option<Toggle>,
    /// The instance id, when an `i-…` id came back.
    pub instance_id: Option<String>,
    /// Problems seen, most important first.
    pub diagnoses: Vec<Diagnosis>,
    /// Real EC2 or a mock.
    pub looks_like: LooksLike,
}

impl Findings {
    /// The inferred options (the hop limit is never observable).
    pub fn options(&self) -> imds_model::PartialOptions {
        imds_model::PartialOptions {
            http_tokens: self.http_tokens,
            http_endpoint: self.http_endpoint,
            instance_metadata_tags: self.instance_metadata_tags,
            http_protocol_ipv6: self.http_protocol_ipv6,
            http_put_response_hop_limit: None,
        }
    }
}

/// Instance ids are `i-` and hex; anything else from an endpoint is not repeated.
fn instance_id(step: Option<&Step>) -> Option<String> {
    let body = step
        .filter(|s| s.answered() == Some(200))?
        .body
        .as_deref()?;
    let id = body.trim();
    let hex = id.strip_prefix("i-")?;
    (!hex.is_empty() && hex.len() <= 32 && hex.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| id.to_owned())
}

fn status_text(step: &Step) -> String {
    match step.answered() {
        Some(s) => s.to_string(),
        None => match step.outcome {
            StepOutcome::ConnectRefused => "connection refused".into(),
            StepOutcome::ConnectTimeout => "connect timeout".into(),
            StepOutcome::ConnectFailed => "connect failed".into(),
            StepOutcome::ResponseTimeout => "no answer".into(),
            StepOutcome::BodyTimeout => "body timeout".into(),
            StepOutcome::BodyTooLarge => "body too large".into(),
            StepOutcome::HttpError | StepOutcome::Answered => "broken exchange".into(),
        },
    }
}

/// Infers everything from what was observed.
pub fn infer(obs: &Observations) -> Findings {
    let main = obs.main();
    let put = &main.token_put;
    let put_status = put.answered();
    let answers = obs.endpoints.iter().any(|e| e.answers());

    // The options come from the model's one inference, as in `imdspec run`.
    let inference = imds_observe::infer::infer(&obs.evidence());
    let http_endpoint = inference.http_endpoint.value;
    let http_tokens = inference.http_tokens.value;
    let v1 = match (http_endpoint, http_tokens) {
        (Some(Toggle::Disabled), _) => V1::Disabled,
        (_, Some(HttpTokens::Optional)) => V1::Open,
        (_, Some(HttpTokens::Required)) => V1::Closed,
        _ => V1::Unknown,
    };
    let token_get_status = obs.token_get.as_ref().and_then(Step::answered);
    let hop_limited = inference.hop_limited;
    let v2 = if http_endpoint == Some(Toggle::Disabled) {
        V2::Disabled
    } else if put_status == Some(200) && token_get_status == Some(200) {
        V2::Works
    } else if hop_limited {
        V2::HopLimited
    } else if put_status.is_some() || token_get_status.is_some() {
        V2::Broken
    } else {
        V2::Unknown
    };
    let instance_metadata_tags = inference.instance_metadata_tags.value;
    let ipv6_endpoints: Vec<_> = obs.endpoints.iter().filter(|e| e.ipv6).collect();
    let http_protocol_ipv6 = if ipv6_endpoints.iter().any(|e| e.answers()) {
        Some(Toggle::Enabled)
    } else if !ipv6_endpoints.is_empty()
        && ipv6_endpoints.iter().all(|e| {
            e.tcp_connect.outcome != ConnectOutcome::Connected
                && e.tokenless_get.outcome.is_unreachable()
        })
    {
        Some(Toggle::Disabled)
    } else {
        None
    };
    let instance_id =
        instance_id(obs.token_get.as_ref()).or_else(|| instance_id(Some(&main.tokenless_get)));

    let region = obs.identity.as_ref().and_then(|i| i.region.as_deref());
    let mut diagnoses = diagnose(obs, hop_limited, instance_id.as_deref(), region);
    if v1 == V1::Open {
        // Last, after what breaks IMDS from here; one command fixes it. Tokens that cannot
        // reach this position make "required" alone a lock-out: both flags, in one command.
        let (flags, warning) = if hop_limited {
            (
                &[REQUIRE_TOKENS, RAISE_HOP_LIMIT][..],
                " together with the hop limit: requiring tokens alone would lock software at \
                 this position out, since token answers do not reach it",
            )
        } else {
            (&[REQUIRE_TOKENS][..], "")
        };
        diagnoses.push(Diagnosis {
            code: "imdsv1-open",
            message: "IMDSv1 is open: any process here (or a request forger, SSRF) can read \
                      metadata and role credentials without a token"
                .into(),
            advice: Some(format!(
                "require tokens{warning} (check first that your software uses IMDSv2): {}",
                modify_command(instance_id.as_deref(), region, flags)
            )),
        });
    }
    let verdict = verdict(obs, answers, v1, v2);
    Findings {
        verdict,
        answers,
        v1,
        v2,
        http_tokens,
        http_endpoint,
        instance_metadata_tags,
        http_protocol_ipv6,
        instance_id,
        diagnoses,
        looks_like: looks_like(obs),
    }
}

fn verdict(obs: &Observations, answers: bool, v1: V1, v2: V2) -> String {
    let main = obs.main();
    if !answers {
        let url = &main.url;
        return match (main.tcp_connect.outcome, main.tokenless_get.outcome) {
            // A reset or a malformed answer is a broken exchange, not a silence.
            (ConnectOutcome::Connected, StepOutcome::HttpError) => format!(
                "IMDS BROKEN: {url} accepts connections but closes or resets them before answering ({})",
                main.tokenless_get
                    .error
                    .as_deref()
                    .unwrap_or("no HTTP answer")
            ),
            (ConnectOutcome::Connected, _) | (_, StepOutcome::ResponseTimeout) => format!(
                "IMDS NOT ANSWERING: {url} accepts connections but sent no HTTP answer within {} ms",
                obs.timeout_ms
            ),
            (ConnectOutcome::Refused, _) => {
                format!("IMDS NOT REACHABLE: connection to {url} refused")
            }
            (ConnectOutcome::Timeout, _) => format!(
                "IMDS NOT REACHABLE: no connection to {url} within {} ms",
                obs.timeout_ms
            ),
            _ => format!(
                "IMDS NOT REACHABLE at {url}: {}",
                main.tcp_connect
                    .error
                    .as_deref()
                    .or(main.tokenless_get.error.as_deref())
                    .unwrap_or("no HTTP answer")
            ),
        };
    }
    let put = status_text(&main.token_put);
    match (v1, v2) {
        (V1::Disabled, _) => "IMDS is TURNED OFF on this instance (HttpEndpoint=disabled: 403 to every request)".into(),
        (V1::Open, V2::Works) => "IMDSv1 is OPEN on this instance (IMDSv2 works too)".into(),
        (V1::Open, V2::HopLimited) => "IMDSv1 is OPEN on this instance; IMDSv2 tokens do not reach this position (hop limit too low)".into(),
        (V1::Open, _) => format!("IMDSv1 is OPEN on this instance; IMDSv2 does not work here (token PUT: {put})"),
        (V1::Closed, V2::Works) => "IMDSv2 required: IMDSv1 closed".into(),
        (V1::Closed, V2::HopLimited) => "IMDSv2 required: IMDSv1 closed, and tokens do not reach this position (hop limit too low): IMDS is unusable from here".into(),
        (V1::Closed, _) => format!("IMDSv2 required: IMDSv1 closed, but IMDSv2 does not work here (token PUT: {put})"),
        (V1::Unknown, V2::Works) => format!(
            "IMDSv2 works; IMDSv1 unclear (tokenless GET: {})",
            status_text(&main.tokenless_get)
        ),
        (V1::Unknown, _) => format!(
            "IMDS answers, but not as EC2 does (tokenless GET: {}, token PUT: {put})",
            status_text(&main.tokenless_get)
        ),
    }
}

/// The `modify-instance-metadata-options` flag that closes IMDSv1.
pub const REQUIRE_TOKENS: &str = "--http-tokens required";
/// The flag that lets token answers reach a container on a bridge network.
pub const RAISE_HOP_LIMIT: &str = "--http-put-response-hop-limit 2";

/// The AWS CLI command that applies `flags`, with the instance id and region when known (the
/// CLI's own placeholders otherwise): it always names `--region`, which the CLI needs unless a
/// profile sets one.
pub fn modify_command(instance_id: Option<&str>, region: Option<&str>, flags: &[&str]) -> String {
    format!(
        "aws ec2 modify-instance-metadata-options --region {} --instance-id {} {}",
        region.unwrap_or("REGION"),
        instance_id.unwrap_or("INSTANCE_ID"),
        flags.join(" ")
    )
}

fn diagnose(
    obs: &Observations,
    hop_limited: bool,
    instance_id: Option<&str>,
    region: Option<&str>,
) -> Vec<Diagnosis> {
    let main = obs.main();
    let put = &main.token_put;
    let mut out = Vec::new();
    let mut add = |code, message: String, advice: Option<String>| {
        out.push(Diagnosis {
            code,
            message,
            advice,
        })
    };
    if hop_limited {
        add(
            "hop-limit",
            format!(
                "token response dropped on the way: hop limit too low for this network position (e.g. a container); \
                 the token PUT got no answer in {} ms while the tokenless GET was answered",
                obs.timeout_ms
            ),
            Some(format!(
                "raise HttpPutResponseHopLimit (2 for a container on a bridge network): {}",
                modify_command(instance_id, region, &[RAISE_HOP_LIMIT])
            )),
        );
    }
    let broken = [&main.tokenless_get, put]
        .iter()
        .all(|s| s.outcome == StepOutcome::HttpError);
    if !obs.endpoints.iter().any(|e| e.answers())
        && main.tcp_connect.outcome == ConnectOutcome::Connected
        && broken
    {
        add(
            "broken-exchange",
            format!(
                "{} accepts TCP connections but breaks both the token PUT and the tokenless GET \
                 ({}): a server closing or resetting connections, not a slow one",
                main.url,
                main.tokenless_get
                    .error
                    .as_deref()
                    .unwrap_or("no HTTP answer")
            ),
            None,
        );
    } else if !obs.endpoints.iter().any(|e| e.answers())
        && main.tcp_connect.outcome == ConnectOutcome::Connected
    {
        add(
            "no-answer",
            format!(
                "{} accepts TCP connections but answered neither the token PUT nor the tokenless GET within {} ms \
                 (a hung server, or a proxy holding requests)",
                main.url, obs.timeout_ms
            ),
            None,
        );
    }

    match put.answered() {
        Some(200) => {
            if put.ttl() != Some(PROBE_TOKEN_TTL) {
                add(
                    "ttl-not-echoed",
                    format!(
                        "the token response does not echo the TTL asked for ({PROBE_TOKEN_TTL}); got {}: \
                         the Rust and Go SDKs refuse such a token",
                        put.ttl_header.as_deref().unwrap_or("no header")
                    ),
                    None,
                );
            }
            if put.token_length.is_none() {
                add(
                    "empty-token",
                    "the token PUT answered 200 with an empty body".into(),
                    None,
                );
            }
        }
        Some(403) if matches!(main.tokenless_get.answered(), Some(200 | 401)) => add(
            "token-put-forbidden",
            "the token PUT was refused (403) while tokenless requests are answered: the endpoint is \
             taken as turned off (the documented meaning), but a proxy adding X-Forwarded-For in \
             between, or a blocked token path, looks the same"
                .into(),
            Some("call IMDS directly, not through a forwarding proxy".into()),
        ),
        Some(s) if s != 403 => add(
            "token-put-status",
            format!("the token PUT answered {s}: this endpoint does not issue IMDSv2 tokens as EC2 does"),
            None,
        ),
        _ => {}
    }
    if let Some(tg) = &obs.token_get {
        match tg.answered() {
            Some(200) if tg.ttl_header.is_none() => add(
                "no-remaining-ttl",
                "the token-bearing GET carried no remaining-TTL header (EC2 sends one on every token-bearing answer)"
                    .into(),
                None,
            ),
            Some(200) => {}
            Some(s) => add(
                "token-refused",
                format!("a freshly issued token was refused: GET with it answered {s}"),
                None,
            ),
            None => add(
                "token-get-failed",
                format!("the GET with the token failed: {}", status_text(tg)),
                None,
            ),
        }
    }
    match main.tokenless_get.answered() {
        Some(200 | 401 | 403) | None => {}
        Some(s) => add(
            "tokenless-get-status",
            format!(
                "the tokenless GET of meta-data/instance-id answered {s} (EC2 answers 200 or 401)"
            ),
            None,
        ),
    }
    let throttled: Vec<&Step> = obs
        .endpoints
        .iter()
        .flat_map(|e| [&e.token_put, &e.tokenless_get])
        .chain(obs.token_get.as_ref())
        .chain(obs.tags_get.as_ref())
        .filter(|s| matches!(s.answered(), Some(429 | 503)))
        .collect();
    if !throttled.is_empty() {
        add(
            "throttled",
            format!(
                "IMDS answered 429/503 to {} request(s): throttled, results may be incomplete",
                throttled.len()
            ),
            Some("run the probe again in a few seconds".into()),
        );
    }
    out
}

fn looks_like(obs: &Observations) -> LooksLike {
    let steps: Vec<&Step> = obs
        .endpoints
        .iter()
        .flat_map(|e| [&e.token_put, &e.tokenless_get])
        .chain(obs.token_get.as_ref())
        .chain(obs.tags_get.as_ref())
        .filter(|s| s.answered().is_some())
        .collect();
    let mut clues = Vec::new();
    let mut ec2 = true;
    let mut clue = |text: String, like: bool| {
        ec2 &= like;
        clues.push(format!("{text} ({})", if like { "ec2" } else { "not ec2" }));
    };
    let mut servers: Vec<&str> = steps.iter().filter_map(|s| s.server.as_deref()).collect();
    servers.dedup();
    let missing_server = steps.iter().any(|s| s.server.is_none());
    for s in &servers {
        clue(format!("Server: {s}"), *s == "EC2ws");
    }
    if missing_server && !steps.is_empty() {
        clue("no Server header on some answers".into(), false);
    }
    if let Some(put) = steps.iter().find(|s| s.token_length.is_some()) {
        let shape = put.token_ec2_shape == Some(true);
        clue(
            format!(
                "token of {} characters{}",
                put.token_length.unwrap_or(0),
                if shape { ", URL-safe base64" } else { "" }
            ),
            shape,
        );
    }
    for page in steps
        .iter()
        .filter(|s| matches!(s.answered(), Some(401 | 404)))
        .filter_map(|s| s.error_page.map(|p| (s.answered().unwrap_or(0), p)))
        .take(1)
    {
        let (status, p) = page;
        clue(
            format!(
                "{status} page: {}",
                match p {
                    ErrorPage::Ec2Xhtml => "XHTML",
                    ErrorPage::Empty => "empty",
                    ErrorPage::Other => "not EC2's XHTML",
                }
            ),
            // SPEC R6.1: EC2 answers a 401 either with its page or with an empty body.
            p == ErrorPage::Ec2Xhtml || (status == 401 && p == ErrorPage::Empty),
        );
    }
    let verdict = match (clues.is_empty(), ec2) {
        (true, _) => "unknown",
        (false, true) => "ec2",
        (false, false) => "mock",
    };
    LooksLike { verdict, clues }
}

pub use imds_observe::Difference;

/// A declared option the probe could not check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unchecked {
    /// The describe-instances field name.
    pub field: &'static str,
    /// What the declaration says.
    pub declared: String,
    /// Why it was not checked.
    pub why: String,
}

/// Declared options against observed behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// True when no checked field differs.
    pub matches: bool,
    /// Fields that differ.
    pub differences: Vec<Difference>,
    /// Fields declared but not observable here.
    pub unchecked: Vec<Unchecked>,
    /// The declared `State`, when it was `pending` (the instance may still serve old settings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<OptionsState>,
}

/// Compares declared options with what was inferred (the observers' one comparison,
/// [`CompareOptions::compare`]), saying why each unchecked option could not be seen.
pub fn compare(
    declared: &DeclaredOptions,
    state: Option<OptionsState>,
    f: &Findings,
) -> Comparison {
    let pairs = declared.compare(&f.options());
    let why = |field: &str, declared: &str| -> String {
        match field {
            "HttpPutResponseHopLimit" if f.v2 == V2::HopLimited => format!(
                "not visible over HTTP, but token responses do not reach here: {declared} is too low for this network position"
            ),
            "HttpPutResponseHopLimit" => "not visible over HTTP (only a too-low limit shows, as a token PUT that never answers)".into(),
            "HttpProtocolIpv6" => {
                "no IPv6 endpoint probed (add --ipv6) or it neither answered nor refused".into()
            }
            _ if f.http_endpoint == Some(Toggle::Disabled) => {
                "the endpoint is turned off, so this cannot be seen".into()
            }
            _ => "the endpoint's answers did not show it".into(),
        }
    };
    let unchecked = pairs
        .unchecked()
        .filter_map(|p| {
            let declared = p.declared.clone()?;
            Some(Unchecked {
                field: p.field,
                why: why(p.field, &declared),
                declared,
            })
        })
        .collect();
    Comparison {
        matches: pairs.matches(),
        differences: pairs.differences(),
        unchecked,
        state: state.filter(|s| *s == OptionsState::Pending),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ConnectCheck, EndpointObservation, Role};

    fn answered(status: u16) -> Step {
        Step {
            request: "X".into(),
            outcome: StepOutcome::Answered,
            status: Some(status),
            ms: 1,
            server: Some("EC2ws".into()),
            ttl_header: None,
            token_length: None,
            token_ec2_shape: None,
            error_page: None,
            error: None,
            body: (status == 200).then(|| "i-0123456789abcdef0".into()),
        }
    }

    fn failed(outcome: StepOutcome) -> Step {
        Step {
            outcome,
            status: None,
            server: None,
            body: None,
            error: Some("x".into()),
            ..answered(0)
        }
    }

    fn token(status: u16) -> Step {
        let mut s = answered(status);
        s.body = None;
        if status == 200 {
            s.ttl_header = Some(PROBE_TOKEN_TTL.to_string());
            s.token_length = Some(56);
            s.token_ec2_shape = Some(true);
        }
        s
    }

    fn endpoint(put: Step, get: Step, connect: ConnectOutcome, ipv6: bool) -> EndpointObservation {
        EndpointObservation {
            url: "http://127.0.0.1:1".into(),
            role: if ipv6 { Role::Ipv6 } else { Role::Primary },
            ipv6,
            tcp_connect: ConnectCheck {
                outcome: connect,
                ms: 0,
                error: None,
            },
            token_put: put,
            tokenless_get: get,
        }
    }

    fn obs(put: Step, get: Step, token_get: Option<Step>, tags: Option<Step>) -> Observations {
        Observations {
            endpoints: vec![endpoint(put, get, ConnectOutcome::Connected, false)],
            main: 0,
            token_get,
            tags_get: tags,
            tags_dir_get: None,
            identity_get: None,
            identity: None,
            timeout_ms: 1000,
            budget_ms: 2200,
            total_ms: 5,
        }
    }

    #[test]
    fn optional_with_tags() {
        let mut tg = answered(200);
        tg.ttl_header = Some("60".into());
        let f = infer(&obs(
            token(200),
            answered(200),
            Some(tg),
            Some(answered(200)),
        ));
        assert_eq!(f.v1, V1::Open);
        assert_eq!(f.v2, V2::Works);
        assert_eq!(f.http_tokens, Some(HttpTokens::Optional));
        assert_eq!(f.http_endpoint, Some(Toggle::Enabled));
        assert_eq!(f.instance_metadata_tags, Some(Toggle::Enabled));
        assert_eq!(f.http_protocol_ipv6, None);
        assert_eq!(f.instance_id.as_deref(), Some("i-0123456789abcdef0"));
        assert!(f.verdict.starts_with("IMDSv1 is OPEN"), "{}", f.verdict);
        let codes: Vec<&str> = f.diagnoses.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["imdsv1-open"]);
        assert_eq!(
            f.diagnoses[0]
                .advice
                .as_deref()
                .map(|a| a.rsplit(": ").next()),
            Some(Some(
                "aws ec2 modify-instance-metadata-options --region REGION --instance-id i-0123456789abcdef0 --http-tokens required"
            ))
        );
        assert_eq!(f.looks_like.verdict, "ec2");
    }

    #[test]
    fn required_without_tags() {
        let mut tg = answered(200);
        tg.ttl_header = Some("60".into());
        let f = infer(&obs(
            token(200),
            answered(401),
            Some(tg),
            Some(answered(404)),
        ));
        assert_eq!(f.v1, V1::Closed);
        assert_eq!(f.http_tokens, Some(HttpTokens::Required));
        assert_eq!(f.instance_metadata_tags, Some(Toggle::Disabled));
        assert_eq!(f.verdict, "IMDSv2 required: IMDSv1 closed");
    }

    #[test]
    fn an_empty_tags_listing_needs_the_tags_directory() {
        let mut empty = answered(200);
        empty.body = Some(String::new());
        let mut o = obs(token(200), answered(200), None, Some(empty));
        // SPEC §13.5: no tags and tags turned off both answer an empty 200.
        assert_eq!(infer(&o).instance_metadata_tags, None);
        o.tags_dir_get = Some(answered(404));
        assert_eq!(infer(&o).instance_metadata_tags, Some(Toggle::Disabled));
        o.tags_dir_get = Some(answered(200));
        assert_eq!(infer(&o).instance_metadata_tags, None);
    }

    #[test]
    fn a_put_403_beside_an_open_get_is_disabled_with_the_proxy_named() {
        let f = infer(&obs(token(403), answered(200), None, None));
        assert_eq!(f.http_endpoint, Some(Toggle::Disabled));
        assert_eq!(f.v1, V1::Disabled);
        assert_eq!(f.diagnoses[0].code, "token-put-forbidden");
        assert!(f.diagnoses[0].message.contains("X-Forwarded-For"));
    }

    #[test]
    fn disabled_hides_tokens_and_tags() {
        let f = infer(&obs(token(403), answered(403), None, None));
        assert_eq!(f.v1, V1::Disabled);
        assert_eq!(f.v2, V2::Disabled);
        assert_eq!(f.http_endpoint, Some(Toggle::Disabled));
        assert_eq!(f.http_tokens, None);
        assert!(f.diagnoses.is_empty(), "{:?}", f.diagnoses);
        let c = compare(
            &DeclaredOptions {
                http_tokens: Some(HttpTokens::Required),
                http_endpoint: Some(Toggle::Enabled),
                ..DeclaredOptions::default()
            },
            None,
            &f,
        );
        assert!(!c.matches);
        assert_eq!(c.differences.len(), 1);
        assert_eq!(c.differences[0].field, "HttpEndpoint");
        assert_eq!(c.unchecked[0].field, "HttpTokens");
        assert!(c.unchecked[0].why.contains("turned off"));
    }

    #[test]
    fn silent_put_with_answered_get_is_the_hop_limit() {
        for (get, tokens) in [(200, HttpTokens::Optional), (401, HttpTokens::Required)] {
            let f = infer(&obs(
                failed(StepOutcome::ResponseTimeout),
                answered(get),
                None,
                None,
            ));
            assert_eq!(f.v2, V2::HopLimited);
            assert_eq!(f.http_tokens, Some(tokens));
            assert_eq!(f.diagnoses[0].code, "hop-limit");
            assert!(f.diagnoses[0].message.contains("hop limit too low"));
            assert!(
                f.diagnoses[0]
                    .advice
                    .as_deref()
                    .unwrap()
                    .contains("--http-put-response-hop-limit 2")
            );
            assert!(f.verdict.contains("hop limit too low"), "{}", f.verdict);
        }
    }

    #[test]
    fn a_turned_off_endpoint_is_not_a_hop_limit() {
        let f = infer(&obs(
            failed(StepOutcome::ResponseTimeout),
            answered(403),
            None,
            None,
        ));
        assert_eq!(f.v2, V2::Disabled);
        assert!(f.diagnoses.is_empty(), "{:?}", f.diagnoses);
    }

    #[test]
    fn nothing_answering_is_not_a_hop_limit() {
        let silent = || failed(StepOutcome::ResponseTimeout);
        let f = infer(&obs(silent(), silent(), None, None));
        assert!(!f.answers);
        assert_eq!(f.v2, V2::Unknown);
        assert!(f.verdict.starts_with("IMDS NOT ANSWERING"), "{}", f.verdict);
        assert_eq!(f.diagnoses[0].code, "no-answer");
        assert!(!f.diagnoses.iter().any(|d| d.code == "hop-limit"));
    }

    #[test]
    fn a_reset_connection_is_never_called_a_timeout() {
        let mut reset = failed(StepOutcome::HttpError);
        reset.error = Some("HTTP error: connection reset by peer".into());
        let f = infer(&obs(reset.clone(), reset, None, None));
        assert!(!f.answers);
        assert!(f.verdict.starts_with("IMDS BROKEN"), "{}", f.verdict);
        assert!(f.verdict.contains("connection reset"), "{}", f.verdict);
        assert!(!f.verdict.contains("within"), "{}", f.verdict);
        assert_eq!(f.diagnoses[0].code, "broken-exchange");
        for d in &f.diagnoses {
            assert!(!d.message.contains(" ms"), "{}", d.message);
        }
    }

    #[test]
    fn refused_and_timeout_are_told_apart() {
        let mut o = obs(
            failed(StepOutcome::ConnectRefused),
            failed(StepOutcome::ConnectRefused),
            None,
            None,
        );
        o.endpoints[0].tcp_connect.outcome = ConnectOutcome::Refused;
        assert!(infer(&o).verdict.contains("refused"));
        o.endpoints[0].tcp_connect.outcome = ConnectOutcome::Timeout;
        assert!(infer(&o).verdict.contains("no connection"));
    }

    #[test]
    fn ipv6_enabled_only_when_it_answers() {
        let mut o = obs(token(200), answered(200), None, None);
        o.endpoints.push(endpoint(
            token(200),
            answered(200),
            ConnectOutcome::Connected,
            true,
        ));
        assert_eq!(infer(&o).http_protocol_ipv6, Some(Toggle::Enabled));
        o.endpoints[1] = endpoint(
            failed(StepOutcome::ConnectRefused),
            failed(StepOutcome::ConnectRefused),
            ConnectOutcome::Refused,
            true,
        );
        assert_eq!(infer(&o).http_protocol_ipv6, Some(Toggle::Disabled));
        o.endpoints[1] = endpoint(
            failed(StepOutcome::ResponseTimeout),
            failed(StepOutcome::ResponseTimeout),
            ConnectOutcome::Connected,
            true,
        );
        assert_eq!(infer(&o).http_protocol_ipv6, None);
    }

    #[test]
    fn odd_answers_are_diagnosed_and_look_like_a_mock() {
        let mut put = answered(200);
        put.body = None;
        put.token_length = Some(10);
        put.token_ec2_shape = Some(false);
        put.server = Some("mock".into());
        let mut tg = answered(401);
        tg.error_page = Some(ErrorPage::Other);
        let f = infer(&obs(put, answered(200), Some(tg), None));
        let codes: Vec<_> = f.diagnoses.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["ttl-not-echoed", "token-refused", "imdsv1-open"]);
        assert_eq!(f.v2, V2::Broken);
        assert_eq!(f.looks_like.verdict, "mock");
        assert!(
            f.looks_like
                .clues
                .iter()
                .any(|c| c == "Server: mock (not ec2)")
        );
    }

    #[test]
    fn instance_ids_from_endpoints_are_checked() {
        for (body, want) in [
            ("i-0abc\n", Some("i-0abc")),
            ("i-", None),
            ("<script>", None),
            ("i-0a b", None),
        ] {
            let mut s = answered(200);
            s.body = Some(body.into());
            assert_eq!(instance_id(Some(&s)).as_deref(), want, "{body:?}");
        }
    }

    #[test]
    fn comparison_lists_only_declared_fields() {
        let f = infer(&obs(token(200), answered(200), None, Some(answered(404))));
        let c = compare(&DeclaredOptions::default(), None, &f);
        assert!(c.matches && c.differences.is_empty() && c.unchecked.is_empty());
        let declared = DeclaredOptions {
            http_tokens: Some(HttpTokens::Required),
            instance_metadata_tags: Some(Toggle::Disabled),
            http_protocol_ipv6: Some(Toggle::Enabled),
            http_put_response_hop_limit: Some(imds_model::HopLimit::new(2).unwrap()),
            ..DeclaredOptions::default()
        };
        let c = compare(&declared, Some(OptionsState::Pending), &f);
        assert!(!c.matches);
        assert_eq!(
            c.differences,
            [Difference {
                field: "HttpTokens",
                declared: "required".into(),
                observed: "optional".into()
            }]
        );
        let unchecked: Vec<_> = c.unchecked.iter().map(|u| u.field).collect();
        assert_eq!(unchecked, ["HttpProtocolIpv6", "HttpPutResponseHopLimit"]);
        assert_eq!(c.state, Some(OptionsState::Pending));
    }
}
