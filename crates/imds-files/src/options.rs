//! describe-instances output, decoded into the model's options: [`metadata_options`] takes one
//! instance's options whole (absent fields get EC2's defaults), [`declared_options`] only the
//! fields the text gives (the rest stay to be detected). Errors name file, line, column and key.

use std::path::Path;

use imds_diag::{LoadError, Source};
use imds_model::{MetadataOptions, OptionsState, PartialOptions};

/// Reads describe-instances output: either one options object or an array of them (the
/// `--query "Reservations[].Instances[].MetadataOptions"` form). An array must hold exactly one
/// object, since one model stands for one instance. `file` is only used in errors.
pub fn metadata_options(file: &Path, text: &str) -> Result<MetadataOptions, LoadError> {
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
    src.parse_value(object)
}

/// Reads what `aws ec2 describe-instances` printed: the whole output (`Reservations`), one
/// reservation or instance, a `--query` for `MetadataOptions`, or one options object. Only the
/// fields present are declared. With several instances in the text, `instance_id` picks one;
/// without it the text must hold exactly one. Also returns `State` when the text gives it.
/// `file` is only used in errors.
pub fn declared_options(
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
    declared_of(&src, options)
}

/// The declared fields of one `MetadataOptions` object (only those present are declared).
fn declared_of(
    src: &Source<'_>,
    options: &serde_json::Value,
) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
    let serde_json::Value::Object(fields) = options else {
        return Err(src.at_field(&[], "MetadataOptions is not a JSON object".to_owned()));
    };
    // The model's types check the values (and fill the absent ones, which are not declared).
    let all: MetadataOptions = src.parse_value(options.clone())?;
    let has = |k: &str| fields.contains_key(k);
    let declared = PartialOptions {
        http_tokens: has("HttpTokens").then_some(all.http_tokens),
        http_endpoint: has("HttpEndpoint").then_some(all.http_endpoint),
        http_put_response_hop_limit: has("HttpPutResponseHopLimit")
            .then_some(all.http_put_response_hop_limit),
        http_protocol_ipv6: has("HttpProtocolIpv6").then_some(all.http_protocol_ipv6),
        instance_metadata_tags: has("InstanceMetadataTags").then_some(all.instance_metadata_tags),
    };
    Ok((declared, has("State").then_some(all.state)))
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
