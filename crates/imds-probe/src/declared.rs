//! The options a user says the instance has, to compare with what the probe sees.

use imds_model::{HopLimit, HttpTokens, MetadataOptions, OptionsState, Toggle};
use serde_json::Value;

/// Options as declared by the user; `None` where nothing was said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeclaredOptions {
    /// HttpTokens, if declared.
    pub http_tokens: Option<HttpTokens>,
    /// HttpEndpoint, if declared.
    pub http_endpoint: Option<Toggle>,
    /// HttpPutResponseHopLimit, if declared.
    pub http_put_response_hop_limit: Option<HopLimit>,
    /// HttpProtocolIpv6, if declared.
    pub http_protocol_ipv6: Option<Toggle>,
    /// InstanceMetadataTags, if declared.
    pub instance_metadata_tags: Option<Toggle>,
}

impl DeclaredOptions {
    /// Every option of `o`, declared.
    pub fn all_of(o: &MetadataOptions) -> DeclaredOptions {
        DeclaredOptions {
            http_tokens: Some(o.http_tokens),
            http_endpoint: Some(o.http_endpoint),
            http_put_response_hop_limit: Some(o.http_put_response_hop_limit),
            http_protocol_ipv6: Some(o.http_protocol_ipv6),
            instance_metadata_tags: Some(o.instance_metadata_tags),
        }
    }

    /// Fills what was not declared with EC2's defaults.
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
    ) -> Result<(DeclaredOptions, Option<OptionsState>), DeclareError> {
        let err = |m: String| DeclareError(m);
        let value: Value = serde_json::from_str(text).map_err(|e| {
            err(format!(
                "not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        let mut found = Vec::new();
        collect_instances(&value, &mut found);
        let options = match (instance_id, found.as_slice()) {
            (Some(id), _) => {
                let ids: Vec<&str> = found.iter().filter_map(|(i, _)| *i).collect();
                match found.iter().find(|(i, _)| *i == Some(id)) {
                    Some((_, o)) => *o,
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
            (None, [(_, o)]) => *o,
            (None, []) => {
                return Err(err(
                    "no MetadataOptions in the file (expected describe-instances output)".into(),
                ));
            }
            (None, many) => {
                let ids: Vec<&str> = many.iter().map(|(i, _)| i.unwrap_or("(no id)")).collect();
                return Err(err(format!(
                    "the file holds {} instances ({}); pick one with --instance-id",
                    many.len(),
                    ids.join(", ")
                )));
            }
        };
        let Value::Object(fields) = options else {
            return Err(err("MetadataOptions is not a JSON object".into()));
        };
        // The model checks the values (and fills the absent ones, which are not declared).
        let all = MetadataOptions::from_describe_instances_json(&options.to_string())
            .map_err(|e| err(e.to_string()))?;
        let has = |k: &str| fields.contains_key(k);
        let declared = DeclaredOptions {
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

    /// True when nothing was declared.
    pub fn is_empty(&self) -> bool {
        *self == DeclaredOptions::default()
    }
}

/// Why a `--metadata-options` file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclareError(pub String);

impl std::fmt::Display for DeclareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeclareError {}

/// Every instance's (id, `MetadataOptions`) in describe-instances output, whatever its shape:
/// `{"Reservations": [{"Instances": [...]}]}`, a reservation, an instance, arrays of these
/// (nested as `--query` leaves them), or bare options objects.
fn collect_instances<'a>(v: &'a Value, out: &mut Vec<(Option<&'a str>, &'a Value)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_instances(i, out)),
        Value::Object(o) => {
            if let Some(r) = o.get("Reservations") {
                collect_instances(r, out);
            } else if let Some(i) = o.get("Instances") {
                collect_instances(i, out);
            } else if let Some(m) = o.get("MetadataOptions") {
                out.push((o.get("InstanceId").and_then(Value::as_str), m));
            } else {
                out.push((None, v));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
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
            DeclaredOptions::from_describe_instances_json(r#"[{"HttpTokens": "required"}]"#, None)
                .unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.http_endpoint, None);
        assert_eq!(d.http_put_response_hop_limit, None);
        assert_eq!(d.instance_metadata_tags, None);
        assert_eq!(state, None);
    }

    #[test]
    fn full_describe_instances_output_needs_an_instance_id_when_it_holds_several() {
        let e = DeclaredOptions::from_describe_instances_json(FULL, None).unwrap_err();
        assert!(e.0.contains("2 instances (i-0aaa, i-0bbb)"), "{e}");
        assert!(e.0.contains("--instance-id"), "{e}");
        let (d, state) =
            DeclaredOptions::from_describe_instances_json(FULL, Some("i-0aaa")).unwrap();
        assert_eq!(d.http_tokens, Some(HttpTokens::Required));
        assert_eq!(d.http_put_response_hop_limit.map(HopLimit::get), Some(2));
        assert_eq!(d.http_endpoint, None);
        assert_eq!(state, Some(OptionsState::Applied));
        let (d, _) = DeclaredOptions::from_describe_instances_json(FULL, Some("i-0bbb")).unwrap();
        assert_eq!(d.http_endpoint, Some(Toggle::Enabled));
        let e = DeclaredOptions::from_describe_instances_json(FULL, Some("i-0ccc")).unwrap_err();
        assert!(
            e.0.contains("not in the file (it holds i-0aaa, i-0bbb)"),
            "{e}"
        );
    }

    #[test]
    fn one_instance_is_taken_without_an_id_and_bad_values_are_named() {
        let one = r#"{"Reservations": [{"Instances": [{"InstanceId": "i-0aaa",
            "MetadataOptions": {"HttpEndpoint": "disabled"}}]}]}"#;
        let (d, _) = DeclaredOptions::from_describe_instances_json(one, None).unwrap();
        assert_eq!(d.http_endpoint, Some(Toggle::Disabled));
        assert_eq!(d.http_tokens, None);
        let e =
            DeclaredOptions::from_describe_instances_json(r#"{"HttpTokens": "sometimes"}"#, None)
                .unwrap_err();
        assert!(e.0.contains("sometimes"), "{e}");
        let e = DeclaredOptions::from_describe_instances_json("{\"Reservations\": []}", None)
            .unwrap_err();
        assert!(e.0.contains("no MetadataOptions"), "{e}");
        assert!(DeclaredOptions::from_describe_instances_json("{", None).is_err());
    }
}
