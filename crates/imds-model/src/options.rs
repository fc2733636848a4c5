//! Instance metadata options, named and serialised as the EC2 API names them.
//!
//! [`MetadataOptions`] reads the exact JSON that
//! `aws ec2 describe-instances --query "Reservations[].Instances[].MetadataOptions"` prints.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::load::{self, LoadError, Seg, Source};

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

    /// Reads describe-instances output: either one options object or an array of them
    /// (the `--query "Reservations[].Instances[].MetadataOptions"` form). An array must
    /// hold exactly one object, since one model stands for one instance. Errors name the
    /// text as `(text)`; [`MetadataOptions::load`] names the file.
    pub fn from_describe_instances_json(text: &str) -> Result<Self, LoadError> {
        Self::parse_file(Path::new("(text)"), text)
    }

    /// Reads a describe-instances options file (see
    /// [`MetadataOptions::from_describe_instances_json`]).
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Self::parse_file(path, &load::read(path)?)
    }

    /// Parses describe-instances output; `file` is only used in errors.
    pub fn parse_file(file: &Path, text: &str) -> Result<Self, LoadError> {
        let src = Source::json(file, text);
        let value: serde_json::Value = src.parse()?;
        let object = match value {
            serde_json::Value::Array(mut items) => {
                // Some queries nest one more level (`Reservations[].Instances[]` without flattening).
                while items.len() == 1 && items[0].is_array() {
                    if let Some(serde_json::Value::Array(inner)) = items.pop() {
                        items = inner;
                    }
                }
                match items.len() {
                    1 => items.pop().unwrap_or_default(),
                    n => {
                        return Err(src.at_field(
                            &[],
                            format!("expected the options of exactly one instance, found {n}"),
                        ));
                    }
                }
            }
            other => other,
        };
        // The object is read again from the parsed value, so positions come from its keys.
        serde_path_to_error::deserialize(object).map_err(|e| {
            let mut path: Vec<Seg> = e
                .path()
                .iter()
                .filter_map(|s| match s {
                    serde_path_to_error::Segment::Map { key } => Some(Seg::key(key.as_str())),
                    _ => None,
                })
                .collect();
            let message = e.into_inner().to_string();
            let (message, key) = load::explain(&message);
            if let Some(key) = key
                && path.last() != Some(&Seg::Key(key.clone()))
            {
                path.push(Seg::Key(key));
            }
            src.at_field(&path, message)
        })
    }

    /// Renders these options as describe-instances prints one instance's options.
    pub fn to_describe_instances_json(&self) -> String {
        serde_json::to_string_pretty(&[self]).unwrap_or_default()
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

    const DESCRIBE: &str = r#"[
    {
        "State": "applied",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 2,
        "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled",
        "InstanceMetadataTags": "enabled"
    }
]"#;

    #[test]
    fn loads_describe_instances_output() {
        let o = MetadataOptions::from_describe_instances_json(DESCRIBE).unwrap();
        assert_eq!(o.http_tokens, HttpTokens::Required);
        assert_eq!(o.http_put_response_hop_limit.get(), 2);
        assert_eq!(o.instance_metadata_tags, Toggle::Enabled);
        assert_eq!(o.http_protocol_ipv6, Toggle::Disabled);
        let again = MetadataOptions::from_describe_instances_json(&o.to_describe_instances_json());
        assert_eq!(again.unwrap(), o);
    }

    #[test]
    fn missing_fields_take_ec2_defaults() {
        let o = MetadataOptions::from_describe_instances_json("{}").unwrap();
        assert_eq!(o, MetadataOptions::ec2_default());
        assert_eq!(o.http_endpoint, Toggle::Enabled);
    }

    #[test]
    fn bad_files_name_the_problem() {
        let e = MetadataOptions::from_describe_instances_json(r#"[{"HttpTokens": "sometimes"}]"#)
            .unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
        let e = MetadataOptions::from_describe_instances_json(r#"{"HttpPutResponseHopLimit": 65}"#)
            .unwrap_err();
        assert!(e.to_string().contains("65"), "{e}");
        let e = MetadataOptions::from_describe_instances_json("[{},{}]").unwrap_err();
        assert!(e.message.contains("exactly one instance, found 2"), "{e}");
        let e = MetadataOptions::from_describe_instances_json("{\n  \"HttpTokens\": ").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn errors_name_file_line_column_and_key() {
        let text =
            "[\n  {\n    \"HttpTokens\": \"required\",\n    \"HttpTokenz\": \"required\"\n  }\n]";
        let e = MetadataOptions::parse_file(Path::new("o.json"), text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "o.json:4:5: HttpTokenz: unknown key `HttpTokenz`; did you mean `HttpTokens`?"
        );
        let e = MetadataOptions::parse_file(
            Path::new("o.json"),
            "{\n  \"HttpPutResponseHopLimit\": 65\n}",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 3), "{e}");
        assert_eq!(e.field, "HttpPutResponseHopLimit", "{e}");
        assert!(e.message.contains("65"), "{e}");
        let e =
            MetadataOptions::parse_file(Path::new("o.json"), "{\"HttpEndpoint\": 1}").unwrap_err();
        assert_eq!((e.field.as_str(), e.column), ("HttpEndpoint", 2), "{e}");
        assert!(e.message.contains("invalid type"), "{e}");
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
