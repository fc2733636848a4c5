//! What a target's answers say about its options: the one place that decides it, shared by
//! the conformance runner's detection, its `options.declared.*` checks and the probe, so that
//! `imdspec run` and `imdspec probe` cannot disagree about the same endpoint.
//!
//! Pure: observations in ([`Evidence`]), options out ([`Inference`]), each with the reason.
//! The rules follow `conformance/SPEC.md`: §2.2 (a token PUT answering 403 is the documented
//! sign of a turned-off endpoint), §1.2 (a turned-off endpoint answers GETs 403 too, tagged L),
//! §2.6 and §13.1 (only the token PUT's answer is hop-limited) and §13.5 (an empty tags
//! listing alone cannot tell "tags disabled" from "no tags").

use std::fmt;

use imds_model::{HttpTokens, PartialOptions, Toggle};

/// How one request ended, as far as the inference cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// An HTTP answer arrived.
    Answered {
        /// The status code.
        status: u16,
        /// True when the body was empty or whitespace only.
        blank: bool,
    },
    /// Connected and sent, but no answer came within the budget (a hop-limited PUT looks so).
    TimedOut,
    /// The exchange broke: connection reset, malformed answer, body cut short.
    Reset,
    /// No connection: refused, unreachable, or the connect itself timed out.
    Refused,
}

impl Reply {
    /// An answer with `status` and a body that is blank or not.
    pub fn status_with(status: u16, body: &[u8]) -> Reply {
        Reply::Answered {
            status,
            blank: body.iter().all(u8::is_ascii_whitespace),
        }
    }

    /// The status, when answered.
    pub fn status(self) -> Option<u16> {
        match self {
            Reply::Answered { status, .. } => Some(status),
            _ => None,
        }
    }

    /// True for a 200 whose body is blank.
    pub fn is_blank_200(self) -> bool {
        self == Reply::Answered {
            status: 200,
            blank: true,
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Answered { status, blank } => {
                write!(f, "{status}")?;
                if *status == 200 && *blank {
                    f.write_str(" with an empty body")?;
                }
                Ok(())
            }
            Reply::TimedOut => f.write_str("no answer in time"),
            Reply::Reset => f.write_str("a broken exchange"),
            Reply::Refused => f.write_str("no connection"),
        }
    }
}

/// What was observed on one endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Evidence {
    /// `PUT /latest/api/token` with a TTL.
    pub token_put: Reply,
    /// `GET /latest/meta-data/instance-id` without a token.
    pub tokenless_get: Reply,
    /// `GET /latest/meta-data/tags/instance` (with the token when there is one); `None` when
    /// not asked (see [`Inference::tags_worth_asking`]).
    pub tags_instance: Option<Reply>,
    /// `GET /latest/meta-data/tags/`; only needed when `tags_instance` was an empty 200
    /// (see [`needs_tags_dir`]).
    pub tags_dir: Option<Reply>,
}

impl Evidence {
    /// Evidence of the first two requests only.
    pub fn first(token_put: Reply, tokenless_get: Reply) -> Evidence {
        Evidence {
            token_put,
            tokenless_get,
            tags_instance: None,
            tags_dir: None,
        }
    }
}

/// True when `tags_instance` cannot tell by itself and `meta-data/tags/` should be asked.
pub fn needs_tags_dir(tags_instance: Reply) -> bool {
    tags_instance.is_blank_200()
}

/// One inferred option: its value (`None`: the answers cannot tell) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inferred<T> {
    /// The value, when the answers tell.
    pub value: Option<T>,
    /// What in the answers decided it (or why they cannot).
    pub reason: String,
    /// False when the value is only the likely one: the answers fit another value too, so no
    /// must-level verdict may rest on it (a 404 on `meta-data/tags/instance`, SPEC §12.19).
    pub conclusive: bool,
}

impl<T> Inferred<T> {
    fn known(value: T, reason: impl Into<String>) -> Self {
        Inferred {
            value: Some(value),
            reason: reason.into(),
            conclusive: true,
        }
    }

    fn likely(value: T, reason: impl Into<String>) -> Self {
        Inferred {
            value: Some(value),
            reason: reason.into(),
            conclusive: false,
        }
    }

    fn unknown(reason: impl Into<String>) -> Self {
        Inferred {
            value: None,
            reason: reason.into(),
            conclusive: false,
        }
    }
}

/// Everything the answers say about the options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inference {
    /// `HttpEndpoint`.
    pub http_endpoint: Inferred<Toggle>,
    /// `HttpTokens`.
    pub http_tokens: Inferred<HttpTokens>,
    /// `InstanceMetadataTags`.
    pub instance_metadata_tags: Inferred<Toggle>,
    /// The token PUT got no answer in time while the tokenless GET was answered by an endpoint
    /// that is not turned off: the hop limit drops token answers here (SPEC §13.1).
    pub hop_limited: bool,
}

impl Inference {
    /// The inferred values; `HttpProtocolIpv6` and the hop limit stay unknown.
    pub fn options(&self) -> PartialOptions {
        PartialOptions {
            http_tokens: self.http_tokens.value,
            http_endpoint: self.http_endpoint.value,
            instance_metadata_tags: self.instance_metadata_tags.value,
            ..PartialOptions::default()
        }
    }

    /// True when asking for the tags listing can tell something: the endpoint is on and
    /// the listing can be read (with a token, or tokenless when tokens are optional).
    pub fn tags_worth_asking(&self, have_token: bool) -> bool {
        self.http_endpoint.value == Some(Toggle::Enabled)
            && (have_token || self.http_tokens.value == Some(HttpTokens::Optional))
    }
}

/// Infers the options from `e`.
pub fn infer(e: &Evidence) -> Inference {
    let http_endpoint = endpoint(e.token_put, e.tokenless_get);
    let enabled = http_endpoint.value == Some(Toggle::Enabled);
    let http_tokens = match (http_endpoint.value, e.tokenless_get.status()) {
        (Some(Toggle::Enabled), Some(200)) => Inferred::known(
            HttpTokens::Optional,
            "the tokenless GET was answered 200 (IMDSv1 open)",
        ),
        (Some(Toggle::Enabled), Some(401)) => Inferred::known(
            HttpTokens::Required,
            "the tokenless GET was answered 401 (IMDSv1 closed)",
        ),
        (Some(Toggle::Enabled), _) => Inferred::unknown(format!(
            "the tokenless GET got {} (EC2 answers 200 or 401)",
            e.tokenless_get
        )),
        (Some(Toggle::Disabled), _) => Inferred::unknown("a turned-off endpoint does not show it"),
        (None, _) => Inferred::unknown("whether the endpoint is on is itself unknown"),
    };
    let instance_metadata_tags = if enabled {
        tags(e.tags_instance, e.tags_dir)
    } else {
        Inferred::unknown("the endpoint is not known to be on")
    };
    let hop_limited = e.token_put == Reply::TimedOut
        && e.tokenless_get.status().is_some()
        && http_endpoint.value != Some(Toggle::Disabled);
    Inference {
        http_endpoint,
        http_tokens,
        instance_metadata_tags,
        hop_limited,
    }
}

fn endpoint(put: Reply, get: Reply) -> Inferred<Toggle> {
    match (put.status(), get.status()) {
        (Some(403), Some(200 | 401)) => Inferred::known(
            Toggle::Disabled,
            format!(
                "the token PUT was answered 403, the documented sign of a turned-off endpoint (SPEC §2.2); \
                 the tokenless GET was answered {get}, which a proxy adding X-Forwarded-For in front of a working endpoint also gives"
            ),
        ),
        (Some(403), _) => Inferred::known(
            Toggle::Disabled,
            format!(
                "the token PUT was answered 403, the documented sign of a turned-off endpoint (SPEC §2.2); the tokenless GET got {get}"
            ),
        ),
        (None, Some(403)) => Inferred::known(
            Toggle::Disabled,
            format!("the tokenless GET was answered 403 and the token PUT got {put} (SPEC §1.2)"),
        ),
        (Some(200), _) => Inferred::known(Toggle::Enabled, "the token PUT was answered 200"),
        (_, Some(s @ (200 | 401))) => Inferred::known(
            Toggle::Enabled,
            format!("the tokenless GET was answered {s}"),
        ),
        _ => Inferred::unknown(format!(
            "neither the token PUT ({put}) nor the tokenless GET ({get}) got an answer that tells"
        )),
    }
}

fn tags(instance: Option<Reply>, dir: Option<Reply>) -> Inferred<Toggle> {
    let Some(instance) = instance else {
        return Inferred::unknown("meta-data/tags/instance was not asked");
    };
    match (instance, dir.and_then(Reply::status)) {
        (
            Reply::Answered {
                status: 200,
                blank: false,
            },
            _,
        ) => Inferred::known(Toggle::Enabled, "meta-data/tags/instance lists tags"),
        (Reply::Answered { status: 404, .. }, _) => Inferred::likely(
            Toggle::Disabled,
            "meta-data/tags/instance was answered 404: what a turned-off tags category answers, \
             and perhaps also an instance with tags on and none set (SPEC §12.19)",
        ),
        (_, Some(404)) => Inferred::likely(
            Toggle::Disabled,
            format!(
                "meta-data/tags/instance got {instance} and meta-data/tags/ was answered 404: what a \
                 turned-off tags category answers, and perhaps also an instance with tags on and \
                 none set (SPEC §12.19)"
            ),
        ),
        (_, dir_status) => Inferred::unknown(match dir_status {
            Some(d) => format!(
                "meta-data/tags/instance got {instance} and meta-data/tags/ was answered {d}: \
                 an instance without tags and one with tags turned off can both answer so (SPEC §13.5)"
            ),
            None => format!("meta-data/tags/instance got {instance}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(status: u16) -> Reply {
        Reply::Answered {
            status,
            blank: false,
        }
    }

    fn blank(status: u16) -> Reply {
        Reply::Answered {
            status,
            blank: true,
        }
    }

    fn with_tags(put: Reply, get: Reply, tags: Reply, dir: Option<Reply>) -> Inference {
        infer(&Evidence {
            tags_instance: Some(tags),
            tags_dir: dir,
            ..Evidence::first(put, get)
        })
    }

    #[test]
    fn the_put_403_alone_decides_disabled() {
        for get in [blank(403), ok(404), ok(200), Reply::TimedOut, Reply::Reset] {
            let i = infer(&Evidence::first(blank(403), get));
            assert_eq!(i.http_endpoint.value, Some(Toggle::Disabled), "{get:?}");
            assert_eq!(i.http_tokens.value, None);
            assert!(!i.hop_limited);
        }
        let proxy = infer(&Evidence::first(blank(403), ok(200)));
        assert!(proxy.http_endpoint.reason.contains("X-Forwarded-For"));
    }

    #[test]
    fn a_get_403_beside_a_silent_put_is_disabled_not_hop_limited() {
        for put in [Reply::TimedOut, Reply::Reset, Reply::Refused] {
            let i = infer(&Evidence::first(put, blank(403)));
            assert_eq!(i.http_endpoint.value, Some(Toggle::Disabled), "{put:?}");
            assert!(!i.hop_limited);
        }
    }

    #[test]
    fn tokens_follow_the_tokenless_get() {
        let i = infer(&Evidence::first(ok(200), ok(200)));
        assert_eq!(i.http_endpoint.value, Some(Toggle::Enabled));
        assert_eq!(i.http_tokens.value, Some(HttpTokens::Optional));
        let i = infer(&Evidence::first(ok(200), ok(401)));
        assert_eq!(i.http_tokens.value, Some(HttpTokens::Required));
        let i = infer(&Evidence::first(ok(200), ok(500)));
        assert_eq!(i.http_tokens.value, None);
        assert!(
            i.http_tokens.reason.contains("500"),
            "{}",
            i.http_tokens.reason
        );
        assert!(!i.hop_limited);
    }

    #[test]
    fn a_silent_put_beside_an_answered_get_is_the_hop_limit() {
        for (get, tokens) in [(200, HttpTokens::Optional), (401, HttpTokens::Required)] {
            let i = infer(&Evidence::first(Reply::TimedOut, ok(get)));
            assert!(i.hop_limited);
            assert_eq!(i.http_endpoint.value, Some(Toggle::Enabled));
            assert_eq!(i.http_tokens.value, Some(tokens));
        }
        let i = infer(&Evidence::first(Reply::TimedOut, Reply::TimedOut));
        assert!(!i.hop_limited);
        assert_eq!(i.options(), PartialOptions::default());
        // A reset is not a dropped answer.
        assert!(!infer(&Evidence::first(Reply::Reset, ok(200))).hop_limited);
    }

    #[test]
    fn other_statuses_tell_nothing() {
        for (put, get) in [
            (ok(500), ok(500)),
            (ok(404), ok(404)),
            (ok(405), blank(403)),
        ] {
            let i = infer(&Evidence::first(put, get));
            // A 405 PUT beside a GET 403: only an unanswered PUT lets the GET's 403 decide.
            assert_eq!(i.http_endpoint.value, None, "{put:?} {get:?}");
            assert!(i.http_endpoint.reason.contains("neither"));
        }
    }

    #[test]
    fn tags_need_a_listed_tag_or_a_404() {
        let on = |tags, dir| with_tags(ok(200), ok(200), tags, dir).instance_metadata_tags;
        assert_eq!(on(ok(200), None).value, Some(Toggle::Enabled));
        assert_eq!(on(blank(404), None).value, Some(Toggle::Disabled));
        // SPEC §13.5: an empty 200 alone cannot tell; tags/ answering 404 can.
        assert_eq!(on(blank(200), None).value, None);
        assert_eq!(on(blank(200), Some(ok(200))).value, None);
        assert!(on(blank(200), Some(ok(200))).reason.contains("§13.5"));
        assert_eq!(
            on(blank(200), Some(blank(404))).value,
            Some(Toggle::Disabled)
        );
        assert_eq!(on(Reply::TimedOut, None).value, None);
        // Only a listed tag is conclusive: a 404 may also be tags on with none set (§12.19).
        assert!(on(ok(200), None).conclusive);
        assert!(!on(blank(404), None).conclusive);
        assert!(!on(blank(200), Some(blank(404))).conclusive);
        assert!(on(blank(404), None).reason.contains("§12.19"));
        assert!(needs_tags_dir(blank(200)));
        assert!(!needs_tags_dir(ok(200)) && !needs_tags_dir(blank(404)));
        // Tags say nothing about an endpoint not known to be on.
        let off = with_tags(blank(403), blank(403), ok(200), None);
        assert_eq!(off.instance_metadata_tags.value, None);
    }

    #[test]
    fn tags_are_asked_only_where_they_can_be_read() {
        let optional = infer(&Evidence::first(ok(200), ok(200)));
        assert!(optional.tags_worth_asking(false));
        let required = infer(&Evidence::first(Reply::TimedOut, ok(401)));
        assert!(!required.tags_worth_asking(false));
        assert!(required.tags_worth_asking(true));
        let off = infer(&Evidence::first(blank(403), blank(403)));
        assert!(!off.tags_worth_asking(true));
    }

    #[test]
    fn options_carry_the_values() {
        let i = with_tags(ok(200), ok(401), ok(200), None);
        assert_eq!(
            i.options(),
            PartialOptions {
                http_tokens: Some(HttpTokens::Required),
                http_endpoint: Some(Toggle::Enabled),
                instance_metadata_tags: Some(Toggle::Enabled),
                ..PartialOptions::default()
            }
        );
        assert_eq!(blank(200).to_string(), "200 with an empty body");
        assert_eq!(Reply::status_with(200, b" \n"), blank(200));
    }
}
