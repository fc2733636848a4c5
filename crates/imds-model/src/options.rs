//! Instance metadata options, named and serialised as the EC2 API names them.
//!
//! [`MetadataOptions`] reads the exact JSON that
//! `aws ec2 describe-instances --query "Reservations[].Instances[].MetadataOptions"` prints.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use imds_diag::{LoadError, Seg, Source};

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
    /// text as `(text)`; `imds_files::metadata_options` reads a file and names it.
    pub fn from_describe_instances_json(text: &str) -> Result<Self, LoadError> {
        Self::parse_file(Path::new("(text)"), text)
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
        Self::from_value(&src, object)
    }

    /// Reads one options object already parsed from `src`; errors point at its keys.
    fn from_value(src: &Source<'_>, object: serde_json::Value) -> Result<Self, LoadError> {
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
            let (message, key) = imds_diag::explain(&message);
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

    /// Reads what `aws ec2 describe-instances` printed: the whole output (`Reservations`),
    /// one reservation or instance, a `--query` for `MetadataOptions`, or one options object.
    /// Only the fields present in the file are declared (the rest stay to be detected).
    /// With several instances in the file, `instance_id` picks one; without it the file must
    /// hold exactly one. Also returns `State` when the file gives it.
    pub fn from_describe_instances_json(
        text: &str,
        instance_id: Option<&str>,
    ) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
        Self::parse_file(Path::new("(text)"), text, instance_id)
    }

    /// Parses describe-instances output; `file` is only used in errors.
    pub fn parse_file(
        file: &Path,
        text: &str,
        instance_id: Option<&str>,
    ) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
        let src = Source::json(file, text);
        let err = |m: String| src.at_field(&[], m);
        let value: serde_json::Value = src.parse()?;
        let mut found = Vec::new();
        collect_instances(&value, &mut found);
        let options = match (instance_id, found.as_slice()) {
            (Some(id), _) => {
                let ids: Vec<&str> = found.iter().filter_map(|f| f.id).collect();
                match found.iter().find(|f| f.id == Some(id)) {
                    Some(f) => f.options,
                    None if ids.is_empty() => {
                        return Err(err(format!(
                            "--instance-id {id}: the file names no instance ids (give the full \
                             describe-instances output, or leave --instance-id out)"
                        )));
                    }
                    None => {
                        return Err(err(format!(
                            "--instance-id {id}: not in the file (it holds {})",
                            ids.join(", ")
                        )));
                    }
                }
            }
            (None, [f]) => f.options,
            (None, []) => {
                return Err(err(
                    "no MetadataOptions in the file (expected describe-instances output)".into(),
                ));
            }
            (None, many) => {
                let ids: Vec<&str> = many.iter().map(|f| f.id.unwrap_or("(no id)")).collect();
                return Err(err(format!(
                    "the file holds {} instances ({}); pick one with --instance-id",
                    many.len(),
                    ids.join(", ")
                )));
            }
        };
        Self::declared_of(&src, options)
    }

    /// The declared fields of one `MetadataOptions` object (only those present are declared).
    fn declared_of(
        src: &Source<'_>,
        options: &serde_json::Value,
    ) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
        let err = |m: String| src.at_field(&[], m);
        let serde_json::Value::Object(fields) = options else {
            return Err(err("MetadataOptions is not a JSON object".into()));
        };
        // The model checks the values (and fills the absent ones, which are not declared).
        let all = MetadataOptions::from_value(src, options.clone())?;
        let has = |k: &str| fields.contains_key(k);
        let declared = PartialOptions {
            http_tokens: has("HttpTokens").then_some(all.http_tokens),
            http_endpoint: has("HttpEndpoint").then_some(all.http_endpoint),
            http_put_response_hop_limit: has("HttpPutResponseHopLimit")
                .then_some(all.http_put_response_hop_limit),
            http_protocol_ipv6: has("HttpProtocolIpv6").then_some(all.http_protocol_ipv6),
            instance_metadata_tags: has("InstanceMetadataTags")
                .then_some(all.instance_metadata_tags),
        };
        Ok((declared, has("State").then_some(all.state)))
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

/// One instance found in describe-instances output.
struct Found<'a> {
    id: Option<&'a str>,
    options: &'a serde_json::Value,
}

/// Every instance's id and `MetadataOptions` in describe-instances output,
/// whatever its shape: `{"Reservations": [{"Instances": [...]}]}`, a reservation, an
/// instance, arrays of these (nested as `--query` leaves them), or bare options objects.
fn collect_instances<'a>(v: &'a serde_json::Value, out: &mut Vec<Found<'a>>) {
    match v {
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_instances(i, out)),
        serde_json::Value::Object(o) => {
            if let Some(r) = o.get("Reservations") {
                collect_instances(r, out);
            } else if let Some(i) = o.get("Instances") {
                collect_instances(i, out);
            } else if let Some(m) = o.get("MetadataOptions") {
                out.push(Found {
                    id: o.get("InstanceId").and_then(serde_json::Value::as_str),
                    options: m,
                });
            } else {
                out.push(Found {
                    id: None,
                    options: v,
                });
            }
        }
        _ => {}
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
    fn partial_options_fill_and_name() {
        let o = MetadataOptions::from_describe_instances_json(DESCRIBE).unwrap();
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

#[cfg(test)]
mod describe_instances_tests {
    use super::*;

    const FULL: &str = r#"{"Reservations": [
        {"Instances": [{"InstanceId": "i-0aaa", "MetadataOptions":
            {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2}}]},
        {"Instances": [{"InstanceId": "i-0bbb", "MetadataOptions":
            {"HttpTokens": "optional", "HttpEndpoint": "enabled"}}]}
    ]}"#;

    #[test]
    fn only_the_fields_in_the_file_are_declared() {
        let (d, state) =
            PartialOptions::from_describe_instances_json(r#"[{"HttpTokens": "required"}]"#, None)
                .unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.http_endpoint, None);
        assert_eq!(d.http_put_response_hop_limit, None);
        assert_eq!(d.instance_metadata_tags, None);
        assert_eq!(state, None);
    }

    #[test]
    fn full_describe_instances_output_needs_an_instance_id_when_it_holds_several() {
        let e = PartialOptions::from_describe_instances_json(FULL, None).unwrap_err();
        assert!(
            e.to_string().contains("2 instances (i-0aaa, i-0bbb)"),
            "{e}"
        );
        assert!(e.to_string().contains("--instance-id"), "{e}");
        let (d, state) =
            PartialOptions::from_describe_instances_json(FULL, Some("i-0aaa")).unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.http_put_response_hop_limit.map(HopLimit::get), Some(2));
        assert_eq!(d.http_endpoint, None);
        assert_eq!(state, Some(OptionsState::Applied));
        let (d, _) = PartialOptions::from_describe_instances_json(FULL, Some("i-0bbb")).unwrap();
        assert_eq!(d.http_endpoint, Some(Toggle::Enabled));
        let e = PartialOptions::from_describe_instances_json(FULL, Some("i-0ccc")).unwrap_err();
        assert!(
            e.to_string()
                .contains("not in the file (it holds i-0aaa, i-0bbb)"),
            "{e}"
        );
    }

    #[test]
    fn one_instance_is_taken_without_an_id_and_bad_values_are_named() {
        let one = r#"{"Reservations": [{"Instances": [{"InstanceId": "i-0aaa",
            "MetadataOptions": {"HttpEndpoint": "disabled"}}]}]}"#;
        let (d, _) = PartialOptions::from_describe_instances_json(one, None).unwrap();
        assert_eq!(d.http_endpoint, Some(Toggle::Disabled));
        assert_eq!(d.http_tokens, None);
        let e =
            PartialOptions::from_describe_instances_json(r#"{"HttpTokens": "sometimes"}"#, None)
                .unwrap_err();
        assert!(e.to_string().contains("sometimes"), "{e}");
        let e = PartialOptions::from_describe_instances_json("{\"Reservations\": []}", None)
            .unwrap_err();
        assert!(e.to_string().contains("no MetadataOptions"), "{e}");
        assert!(PartialOptions::from_describe_instances_json("{", None).is_err());
    }
}
