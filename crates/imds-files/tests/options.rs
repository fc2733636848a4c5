//! describe-instances output decoded into options: whole (`metadata_options`) or only the
//! fields given (`declared_options`), with errors that name file, line, column and key.

use std::path::Path;

use imds_files::options::{declared_options, metadata_options};
use imds_model::{
    HopLimit, HttpTokens, LoadError, MetadataOptions, OptionsState, PartialOptions, Toggle,
};

fn one(text: &str) -> Result<MetadataOptions, LoadError> {
    metadata_options(Path::new("(text)"), text)
}

fn declared(
    text: &str,
    id: Option<&str>,
) -> Result<(PartialOptions, Option<OptionsState>), LoadError> {
    declared_options(Path::new("(text)"), text, id)
}

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
    let o = one(DESCRIBE).unwrap();
    assert_eq!(o.http_tokens, HttpTokens::Required);
    assert_eq!(o.http_put_response_hop_limit.get(), 2);
    assert_eq!(o.instance_metadata_tags, Toggle::Enabled);
    assert_eq!(o.http_protocol_ipv6, Toggle::Disabled);
    let again = one(&o.to_describe_instances_json());
    assert_eq!(again.unwrap(), o);
}

#[test]
fn missing_fields_take_ec2_defaults() {
    let o = one("{}").unwrap();
    assert_eq!(o, MetadataOptions::ec2_default());
    assert_eq!(o.http_endpoint, Toggle::Enabled);
}

#[test]
fn bad_files_name_the_problem() {
    let e = one(r#"[{"HttpTokens": "sometimes"}]"#).unwrap_err();
    assert!(e.to_string().contains("sometimes"), "{e}");
    let e = one(r#"{"HttpPutResponseHopLimit": 65}"#).unwrap_err();
    assert!(e.to_string().contains("65"), "{e}");
    let e = one("[{},{}]").unwrap_err();
    assert!(e.message.contains("exactly one instance, found 2"), "{e}");
    let e = one("{\n  \"HttpTokens\": ").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn errors_name_file_line_column_and_key() {
    let text =
        "[\n  {\n    \"HttpTokens\": \"required\",\n    \"HttpTokenz\": \"required\"\n  }\n]";
    let e = metadata_options(Path::new("o.json"), text).unwrap_err();
    assert_eq!(
        e.to_string(),
        "o.json:4:5: HttpTokenz: unknown key `HttpTokenz`; did you mean `HttpTokens`?"
    );
    let e = metadata_options(
        Path::new("o.json"),
        "{\n  \"HttpPutResponseHopLimit\": 65\n}",
    )
    .unwrap_err();
    assert_eq!((e.line, e.column), (2, 3), "{e}");
    assert_eq!(e.field, "HttpPutResponseHopLimit", "{e}");
    assert!(e.message.contains("65"), "{e}");
    let e = metadata_options(Path::new("o.json"), "{\"HttpEndpoint\": 1}").unwrap_err();
    assert_eq!((e.field.as_str(), e.column), ("HttpEndpoint", 2), "{e}");
    assert!(e.message.contains("invalid type"), "{e}");
}

const FULL: &str = r#"{"Reservations": [
    {"Instances": [{"InstanceId": "i-0aaa", "MetadataOptions":
        {"State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2}}]},
    {"Instances": [{"InstanceId": "i-0bbb", "MetadataOptions":
        {"HttpTokens": "optional", "HttpEndpoint": "enabled"}}]}
]}"#;

#[test]
fn only_the_fields_in_the_file_are_declared() {
    let (d, state) = declared(r#"[{"HttpTokens": "required"}]"#, None).unwrap();
    assert_eq!(d.http_tokens, Some(HttpTokens::Required));
    assert_eq!(d.http_endpoint, None);
    assert_eq!(d.http_put_response_hop_limit, None);
    assert_eq!(d.instance_metadata_tags, None);
    assert_eq!(state, None);
}

#[test]
fn full_describe_instances_output_needs_an_instance_id_when_it_holds_several() {
    let e = declared(FULL, None).unwrap_err();
    assert!(
        e.to_string().contains("2 instances (i-0aaa, i-0bbb)"),
        "{e}"
    );
    assert!(e.to_string().contains("--instance-id"), "{e}");
    let (d, state) = declared(FULL, Some("i-0aaa")).unwrap();
    assert_eq!(d.http_tokens, Some(HttpTokens::Required));
    assert_eq!(d.http_put_response_hop_limit.map(HopLimit::get), Some(2));
    assert_eq!(d.http_endpoint, None);
    assert_eq!(state, Some(OptionsState::Applied));
    let (d, _) = declared(FULL, Some("i-0bbb")).unwrap();
    assert_eq!(d.http_endpoint, Some(Toggle::Enabled));
    let e = declared(FULL, Some("i-0ccc")).unwrap_err();
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
    let (d, _) = declared(one, None).unwrap();
    assert_eq!(d.http_endpoint, Some(Toggle::Disabled));
    assert_eq!(d.http_tokens, None);
    let e = declared(r#"{"HttpTokens": "sometimes"}"#, None).unwrap_err();
    assert!(e.to_string().contains("sometimes"), "{e}");
    let e = declared("{\"Reservations\": []}", None).unwrap_err();
    assert!(e.to_string().contains("no MetadataOptions"), "{e}");
    assert!(declared("{", None).is_err());
}
