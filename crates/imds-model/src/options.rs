//! Instance metadata options, named and serialised as the EC2 API names them.
//!
//! [`MetadataOptions`] has the shape of the JSON that
//! `aws ec2 describe-instances --query "Reservations[].Instances[].MetadataOptions"` prints;
//! `imds_files::options` decodes that text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `HttpTokens`: whether IMDSv1 (tokenless) requests are still answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpTokens {
    /// Tokenless GETs work (IMDSv1 and IMDSv2 both served).
    #[default]
    Optional,
    /// Every metadata request needs a valid session token (IMDSv2 only).
    Required,
}

/// An `enabled`/`disabled` switch (`HttpEndpoint`, `HttpProtocolIpv6`, `InstanceMetadataTags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    /// The feature is on.
    Enabled,
    /// The feature is off.
    #[default]
    Disabled,
}

impl Toggle {
    /// True when enabled.
    pub fn is_enabled(self) -> bool {
        self == Toggle::Enabled
    }
}

/// `State` of a metadata options change (response-only in the EC2 API).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionsState {
    /// The change has not reached the instance yet.
    Pending,
    /// The options are in force.
    #[default]
    Applied,
}

/// `HttpPutResponseHopLimit`: the IP TTL of token PUT responses, 1..=64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct HopLimit(u8);

impl HopLimit {
    /// The smallest allowed hop limit.
    pub const MIN: u8 = 1;
    /// The largest allowed hop limit.
    pub const MAX: u8 = 64;

    /// A hop limit, if `n` is within 1..=64.
    pub fn new(n: i64) -> Result<Self, OptionsError> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&n) {
            Ok(HopLimit(n as u8))
        } else {
            Err(OptionsError::HopLimitOutOfRange(n))
        }
    }

    /// The limit as a number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for HopLimit {
    fn default() -> Self {
        HopLimit(1)
    }
}

impl TryFrom<i64> for HopLimit {
    type Error = OptionsError;
    fn try_from(n: i64) -> Result<Self, OptionsError> {
        HopLimit::new(n)
    }
}

impl From<HopLimit> for i64 {
    fn from(h: HopLimit) -> i64 {
        i64::from(h.0)
    }
}

/// The five instance metadata options, with EC2's defaults for a classic AMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct MetadataOptions {
    /// `State`, as describe-instances reports it; it does not change what is served.
    #[serde(default)]
    pub state: OptionsState,
    /// `HttpTokens`.
    #[serde(default)]
    pub http_tokens: HttpTokens,
    /// `HttpPutResponseHopLimit`.
    #[serde(default)]
    pub http_put_response_hop_limit: HopLimit,
    /// `HttpEndpoint` (default enabled).
    #[serde(default = "enabled")]
    pub http_endpoint: Toggle,
    /// `HttpProtocolIpv6` (default disabled).
    #[serde(default, rename = "HttpProtocolIpv6")]
    pub http_protocol_ipv6: Toggle,
    /// `InstanceMetadataTags` (default disabled).
    #[serde(default)]
    pub instance_metadata_tags: Toggle,
}

fn enabled() -> Toggle {
    Toggle::Enabled
}

impl Default for MetadataOptions {
    fn default() -> Self {
        Self::ec2_default()
    }
}

impl MetadataOptions {
    /// EC2's defaults: tokens optional, endpoint enabled, hop limit 1, IPv6 and tags disabled.
    pub fn ec2_default() -> Self {
        MetadataOptions {
            state: OptionsState::Applied,
            http_tokens: HttpTokens::Optional,
            http_put_response_hop_limit: HopLimit::default(),
            http_endpoint: Toggle::Enabled,
            http_protocol_ipv6: Toggle::Disabled,
            instance_metadata_tags: Toggle::Disabled,
        }
    }

    /// Renders these options as describe-instances prints one instance's options.
    pub fn to_describe_instances_json(&self) -> String {
        serde_json::to_string_pretty(&[self]).unwrap_or_default()
    }
}

/// The options as far as they are known: declared by a user, inferred from answers, or both
/// laid over each other. `None` means unknown. Serialised with snake_case field names (the
/// report's); [`PartialOptions::FIELDS`] gives describe-instances' names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialOptions {
    /// `HttpTokens`.
    #[serde(default)]
    pub http_tokens: Option<HttpTokens>,
    /// `HttpEndpoint`.
    #[serde(default)]
    pub http_endpoint: Option<Toggle>,
    /// `InstanceMetadataTags`.
    #[serde(default)]
    pub instance_metadata_tags: Option<Toggle>,
    /// `HttpProtocolIpv6`.
    #[serde(default)]
    pub http_protocol_ipv6: Option<Toggle>,
    /// `HttpPutResponseHopLimit` (never observable over one hop).
    #[serde(default)]
    pub http_put_response_hop_limit: Option<HopLimit>,
}

impl From<MetadataOptions> for PartialOptions {
    fn from(o: MetadataOptions) -> PartialOptions {
        PartialOptions {
            http_tokens: Some(o.http_tokens),
            http_endpoint: Some(o.http_endpoint),
            instance_metadata_tags: Some(o.instance_metadata_tags),
            http_protocol_ipv6: Some(o.http_protocol_ipv6),
            http_put_response_hop_limit: Some(o.http_put_response_hop_limit),
        }
    }
}

impl PartialOptions {
    /// describe-instances' names of the fields, in the field order above.
    pub const FIELDS: [&'static str; 5] = [
        "HttpTokens",
        "HttpEndpoint",
        "InstanceMetadataTags",
        "HttpProtocolIpv6",
        "HttpPutResponseHopLimit",
    ];

    /// Every option of `o`, known.
    pub fn all_of(o: &MetadataOptions) -> PartialOptions {
        PartialOptions::from(*o)
    }

    /// Every option of `o` that HTTP answers can confirm: the hop limit is left unknown,
    /// since one hop over loopback cannot show it.
    pub fn observable(o: &MetadataOptions) -> PartialOptions {
        PartialOptions {
            http_put_response_hop_limit: None,
            ..PartialOptions::from(*o)
        }
    }

    /// Fills unknown fields from `other`.
    pub fn or(self, other: PartialOptions) -> PartialOptions {
        PartialOptions {
            http_tokens: self.http_tokens.or(other.http_tokens),
            http_endpoint: self.http_endpoint.or(other.http_endpoint),
            instance_metadata_tags: self.instance_metadata_tags.or(other.instance_metadata_tags),
            http_protocol_ipv6: self.http_protocol_ipv6.or(other.http_protocol_ipv6),
            http_put_response_hop_limit: self
                .http_put_response_hop_limit
                .or(other.http_put_response_hop_limit),
        }
    }

    /// Fills unknown fields with EC2's defaults.
    pub fn or_defaults(&self) -> MetadataOptions {
        let d = MetadataOptions::default();
        MetadataOptions {
            http_tokens: self.http_tokens.unwrap_or(d.http_tokens),
            http_endpoint: self.http_endpoint.unwrap_or(d.http_endpoint),
            http_put_response_hop_limit: self
                .http_put_response_hop_limit
                .unwrap_or(d.http_put_response_hop_limit),
            http_protocol_ipv6: self.http_protocol_ipv6.unwrap_or(d.http_protocol_ipv6),
            instance_metadata_tags: self
                .instance_metadata_tags
                .unwrap_or(d.instance_metadata_tags),
            ..d
        }
    }

    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == PartialOptions::default()
    }

    /// `(describe-instances name, value)` of every field, `None` where unknown.
    pub fn fields(&self) -> [(&'static str, Option<String>); 5] {
        fn s<T: fmt::Display>(v: Option<T>) -> Option<String> {
            v.map(|v| v.to_string())
        }
        let [a, b, c, d, e] = Self::FIELDS;
        [
            (a, s(self.http_tokens)),
            (b, s(self.http_endpoint)),
            (c, s(self.instance_metadata_tags)),
            (d, s(self.http_protocol_ipv6)),
            (e, s(self.http_put_response_hop_limit)),
        ]
    }

    /// `http-tokens=optional http-endpoint=? …`, `?` for unknown (the CLI's flag names).
    pub fn describe(&self) -> String {
        fn w<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map_or_else(|| "?".to_owned(), T::to_string)
        }
        format!(
            "http-tokens={} http-endpoint={} instance-metadata-tags={} http-protocol-ipv6={} http-put-response-hop-limit={}",
            w(&self.http_tokens),
            w(&self.http_endpoint),
            w(&self.instance_metadata_tags),
            w(&self.http_protocol_ipv6),
            w(&self.http_put_response_hop_limit),
        )
    }
}

/// Why a metadata options value or file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `HttpPutResponseHopLimit` was outside 1..=64.
    #[error("HttpPutResponseHopLimit must be 1..=64, got {0}")]
    HopLimitOutOfRange(i64),
    /// A word was not one of the allowed values.
    #[error("{field}: expected one of {allowed}, got {got:?}")]
    Value {
        /// The option name.
        field: &'static str,
        /// The allowed values.
        allowed: &'static str,
        /// What was given.
        got: String,
    },
}

macro_rules! word_enum {
    ($ty:ty, $field:literal, $allowed:literal, { $($word:literal => $val:expr),* $(,)? }) => {
        impl FromStr for $ty {
            type Err = OptionsError;
            fn from_str(s: &str) -> Result<Self, OptionsError> {
                match s {
                    $($word => Ok($val),)*
                    _ => Err(OptionsError::Value { field: $field, allowed: $allowed, got: s.to_owned() }),
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                $(if *self == $val { return f.write_str($word); })*
                Ok(())
            }
        }
    };
}

word_enum!(HttpTokens, "HttpTokens", "optional, required", {
    "optional" => HttpTokens::Optional,
    "required" => HttpTokens::Required,
});
word_enum!(Toggle, "enabled/disabled option", "enabled, disabled", {
    "enabled" => Toggle::Enabled,
    "disabled" => Toggle::Disabled,
});

impl fmt::Display for HopLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for HopLimit {
    type Err = OptionsError;
    fn from_str(s: &str) -> Result<Self, OptionsError> {
        let n: i64 = s.parse().map_err(|_| OptionsError::Value {
            field: "HttpPutResponseHopLimit",
            allowed: "a whole number 1..=64",
            got: s.to_owned(),
        })?;
        HopLimit::new(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_options_fill_and_name() {
        let o = MetadataOptions {
            http_tokens: HttpTokens::Required,
            http_put_response_hop_limit: HopLimit::new(2).unwrap(),
            instance_metadata_tags: Toggle::Enabled,
            ..MetadataOptions::ec2_default()
        };
        let all = PartialOptions::from(o);
        assert_eq!(all.or_defaults(), o);
        assert!(PartialOptions::default().is_empty());
        assert_eq!(
            PartialOptions::observable(&o).http_put_response_hop_limit,
            None
        );
        let tokens = PartialOptions {
            http_tokens: Some(HttpTokens::Optional),
            ..PartialOptions::default()
        };
        let laid = tokens.or(all);
        assert_eq!(laid.http_tokens, Some(HttpTokens::Optional));
        assert_eq!(laid.instance_metadata_tags, Some(Toggle::Enabled));
        assert_eq!(
            tokens.or_defaults().http_endpoint,
            MetadataOptions::ec2_default().http_endpoint
        );
        assert_eq!(tokens.fields()[0], ("HttpTokens", Some("optional".into())));
        assert_eq!(tokens.fields()[4], ("HttpPutResponseHopLimit", None));
        assert!(
            tokens
                .describe()
                .starts_with("http-tokens=optional http-endpoint=? ")
        );
        // The report's spelling: snake_case, unknown is null.
        let json = serde_json::to_string(&tokens).unwrap();
        assert!(
            json.starts_with(r#"{"http_tokens":"optional","http_endpoint":null"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<PartialOptions>(&json).unwrap(),
            tokens
        );
    }

    #[test]
    fn words_round_trip() {
        assert_eq!(
            "required".parse::<HttpTokens>().unwrap().to_string(),
            "required"
        );
        assert_eq!("disabled".parse::<Toggle>().unwrap(), Toggle::Disabled);
        assert!("Required".parse::<HttpTokens>().is_err());
        assert_eq!("64".parse::<HopLimit>().unwrap().get(), 64);
        assert!("0".parse::<HopLimit>().is_err());
    }
}
