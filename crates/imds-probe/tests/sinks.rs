//! The fleet-tool formats against the field rules of their documentation, on probes of a
//! loopback reference server:
//! - SSM Inventory item: <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InventoryItem.html>
//!   (TypeName, SchemaVersion and CaptureTime patterns; Content limits);
//! - ASFF: <https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html>
//!   and the `AwsSecurityFinding` API reference (lengths, enums, `Types` namespaces);
//! - OCSF 1.6.0 Compliance Finding: <https://schema.ocsf.io/1.6.0/classes/compliance_finding>
//!   (required attributes, enum ids, `type_uid`).
//!
//! Beyond those hand checks of what each value means, every emitted document goes through the
//! real schemas (`validators/validate.py`, pinned in `validators/requirements.txt`): OCSF's
//! JSON Schema of the version and profiles the finding declares, and botocore's service models
//! of `BatchImportFindings` and `PutInventory` with every limit they record.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use imds_model::{HttpTokens, MetadataOptions, Timestamp, Toggle};
use imds_probe::infer::V2;
use imds_probe::sinks::{self, Where};
use imds_probe::{DeclaredOptions, Probe, ProbeConfig};
use imds_server::ImdsServer;
use regex::Regex;
use serde_json::Value;

/// 2026-03-01T12:00:00Z.
const NOW: Timestamp = Timestamp::from_secs(1_772_366_400);

fn probe_of(options: MetadataOptions, declared: DeclaredOptions) -> Probe {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(ImdsServer::builder().options(options).start())
        .unwrap();
    let config = ProbeConfig::new(&server.url(), None, Duration::from_secs(2))
        .unwrap()
        .with_identity();
    imds_probe::probe_blocking(&config, &declared, None).unwrap()
}

fn optional() -> Probe {
    probe_of(MetadataOptions::default(), DeclaredOptions::default())
}

fn required_as_declared() -> Probe {
    let options = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    probe_of(options, DeclaredOptions::all_of(&options))
}

fn no_answer() -> Probe {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = ProbeConfig::new(
        &format!("http://127.0.0.1:{port}"),
        None,
        Duration::from_millis(300),
    )
    .unwrap()
    .with_identity();
    imds_probe::probe_blocking(&config, &DeclaredOptions::default(), None).unwrap()
}

fn re(p: &str) -> Regex {
    Regex::new(p).unwrap()
}

fn chars(v: &Value) -> usize {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .chars()
        .count()
}

/// InventoryItem: TypeName `^(AWS|Custom):.*$` (1..=100), SchemaVersion
/// `^([0-9]{1,6})(\.[0-9]{1,6})$`, CaptureTime `yyyy-MM-ddTHH:mm:ssZ`, Content at most 10,000
/// maps of at most 50 string entries, keys 1..=64 characters, values at most 4,096.
fn check_ssm_item(item: &Value) {
    let type_name = &item["TypeName"];
    assert!(re(r"^(AWS|Custom):.*$").is_match(type_name.as_str().unwrap()));
    assert!((1..=100).contains(&chars(type_name)));
    assert!(re(r"^([0-9]{1,6})(\.[0-9]{1,6})$").is_match(item["SchemaVersion"].as_str().unwrap()));
    let capture = re(
        r"^(20)[0-9][0-9]-(0[1-9]|1[012])-([12][0-9]|3[01]|0[1-9])(T)(2[0-3]|[0-1][0-9])(:[0-5][0-9])(:[0-5][0-9])(Z)$",
    );
    assert!(
        capture.is_match(item["CaptureTime"].as_str().unwrap()),
        "{item}"
    );
    let content = item["Content"].as_array().unwrap();
    assert!(content.len() <= 10_000);
    for map in content {
        let map = map.as_object().unwrap();
        assert!(map.len() <= 50, "{} entries", map.len());
        for (k, v) in map {
            assert!((1..=64).contains(&k.chars().count()), "{k}");
            assert!(chars(v) <= 4096, "{k}");
        }
    }
    let allowed: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in &allowed {
        assert!(
            [
                "TypeName",
                "SchemaVersion",
                "CaptureTime",
                "ContentHash",
                "Content",
                "Context"
            ]
            .contains(k),
            "{k} is not an InventoryItem member"
        );
    }
}

#[test]
fn ssm_inventory_item_follows_the_put_inventory_rules() {
    for p in [optional(), required_as_declared(), no_answer()] {
        let out: Value =
            serde_json::from_str(&p.ssm_inventory(Some("d.json"), NOW, &Where::default())).unwrap();
        let items = out.as_array().unwrap();
        assert_eq!(items.len(), 1);
        check_ssm_item(&items[0]);
        assert_eq!(items[0]["TypeName"], sinks::SSM_TYPE_NAME);
        assert_eq!(items[0]["CaptureTime"], "2026-03-01T12:00:00Z");
    }
    let p = optional();
    let out: Value = serde_json::from_str(&p.ssm_inventory(None, NOW, &Where::default())).unwrap();
    let c = &out[0]["Content"][0];
    assert_eq!(c["HttpTokens"], "optional");
    assert_eq!(c["ImdsV1"], "open");
    assert_eq!(c["InstanceId"], "i-0123456789abcdef0");
    assert_eq!(c["AccountId"], "123456789012", "from the identity document");
    assert_eq!(c["Region"], "us-east-1");
    assert_eq!(c["HttpProtocolIpv6"], "", "unknown is empty");
}

#[test]
fn ssm_values_are_cut_to_the_limit() {
    let mut p = optional();
    p.findings.verdict = "é".repeat(5000);
    let out: Value = serde_json::from_str(&p.ssm_inventory(None, NOW, &Where::default())).unwrap();
    check_ssm_item(&out[0]);
    assert_eq!(chars(&out[0]["Content"][0]["Verdict"]), 4096);
}

const ASFF_REQUIRED: [&str; 13] = [
    "AwsAccountId",
    "CreatedAt",
    "Description",
    "GeneratorId",
    "Id",
    "ProductArn",
    "Resources",
    "SchemaVersion",
    "Severity",
    "Title",
    "Types",
    "UpdatedAt",
    "ProductFields",
];

fn check_asff(f: &Value) {
    for k in ASFF_REQUIRED {
        assert!(f.get(k).is_some(), "missing {k}: {f}");
    }
    assert!(re(r"^\d{12}$").is_match(f["AwsAccountId"].as_str().unwrap()));
    assert_eq!(f["SchemaVersion"], "2018-10-08");
    let time = re(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$");
    for k in ["CreatedAt", "UpdatedAt"] {
        assert!(time.is_match(f[k].as_str().unwrap()), "{k}");
    }
    assert!((1..=256).contains(&chars(&f["Title"])));
    assert!((1..=1024).contains(&chars(&f["Description"])));
    assert!((1..=512).contains(&chars(&f["Id"])));
    assert!((1..=512).contains(&chars(&f["GeneratorId"])));
    assert!(
        re(r"^arn:aws(-cn|-us-gov)?:securityhub:[a-z0-9-]+:\d{12}:product/\d{12}/default$")
            .is_match(f["ProductArn"].as_str().unwrap()),
        "{}",
        f["ProductArn"]
    );
    let label = f["Severity"]["Label"].as_str().unwrap();
    assert!(["INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"].contains(&label));
    let namespaces = [
        "Software and Configuration Checks",
        "TTPs",
        "Effects",
        "Unusual Behaviors",
        "Sensitive Data Identifications",
    ];
    for t in f["Types"].as_array().unwrap() {
        let ns = t.as_str().unwrap().split('/').next().unwrap();
        assert!(namespaces.contains(&ns), "{t}");
    }
    let resources = f["Resources"].as_array().unwrap();
    assert!((1..=32).contains(&resources.len()));
    for r in resources {
        assert_eq!(r["Type"], "AwsEc2Instance");
        assert!(
            re(r"^arn:aws(-cn|-us-gov)?:ec2:[a-z0-9-]+:\d{12}:instance/i-[0-9a-f]+$")
                .is_match(r["Id"].as_str().unwrap())
        );
    }
    let status = f["Compliance"]["Status"].as_str().unwrap();
    assert!(["PASSED", "WARNING", "FAILED", "NOT_AVAILABLE"].contains(&status));
    assert!(["ACTIVE", "ARCHIVED"].contains(&f["RecordState"].as_str().unwrap()));
    assert!(
        ["NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"]
            .contains(&f["Workflow"]["Status"].as_str().unwrap())
    );
    assert!(chars(&f["Remediation"]["Recommendation"]["Text"]) <= 512);
    let fields = f["ProductFields"].as_object().unwrap();
    assert!(fields.len() <= 50);
    for (k, v) in fields {
        assert!(k.chars().count() <= 128 && chars(v) <= 2048, "{k}");
        assert!(!k.starts_with("aws/"), "aws/ is reserved: {k}");
    }
    // BatchImportFindings takes findings of at most 240 KB.
    assert!(f.to_string().len() < 240 * 1024);
}

fn asff_of(p: &Probe, fallback: &Where) -> Value {
    let out: Value = serde_json::from_str(&p.asff(None, NOW, fallback).unwrap()).unwrap();
    let all = out.as_array().unwrap();
    assert_eq!(all.len(), 1, "one finding per instance");
    all[0].clone()
}

#[test]
fn asff_imdsv1_open_is_high_with_the_exact_command() {
    let f = asff_of(&optional(), &Where::default());
    check_asff(&f);
    assert_eq!(f["Severity"]["Label"], "HIGH");
    assert_eq!(f["Compliance"]["Status"], "FAILED");
    assert_eq!(f["AwsAccountId"], "123456789012");
    assert_eq!(
        f["Resources"][0]["Id"],
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
    );
    let text = f["Remediation"]["Recommendation"]["Text"].as_str().unwrap();
    assert!(
        text.contains(
            "aws ec2 modify-instance-metadata-options --region us-east-1 --instance-id i-0123456789abcdef0 --http-tokens required"
        ),
        "{text}"
    );
    assert!(!text.contains("lock"), "no hop limit, no lock-out: {text}");

    // IMDSv1 open and tokens lost on the way: both flags in one command, and the warning.
    let mut hop = optional();
    hop.findings.v2 = V2::HopLimited;
    let f = asff_of(&hop, &Where::default());
    let text = f["Remediation"]["Recommendation"]["Text"].as_str().unwrap();
    assert!(
        text.contains("--http-tokens required --http-put-response-hop-limit 2"),
        "{text}"
    );
    assert!(text.contains("requiring tokens alone would lock"), "{text}");
    // The same instance always has the same finding id: a re-import updates it.
    assert_eq!(f["Id"], asff_of(&optional(), &Where::default())["Id"]);
}

#[test]
fn asff_passes_when_required_as_declared_and_flags_differences_and_hop_limit() {
    let p = required_as_declared();
    let f = asff_of(&p, &Where::default());
    check_asff(&f);
    assert_eq!(f["Compliance"]["Status"], "PASSED");
    assert_eq!(f["Severity"]["Label"], "INFORMATIONAL");

    // The probe saw a token answer lost on the way back.
    let mut hop = p.clone();
    hop.findings.v2 = V2::HopLimited;
    let f = asff_of(&hop, &Where::default());
    check_asff(&f);
    assert_eq!(f["Severity"]["Label"], "MEDIUM");
    let text = f["Remediation"]["Recommendation"]["Text"].as_str().unwrap();
    assert!(text.contains("--http-put-response-hop-limit 2"), "{text}");

    // Declared tags on, endpoint serves none: differs.
    let options = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let declared = DeclaredOptions {
        instance_metadata_tags: Some(Toggle::Enabled),
        ..DeclaredOptions::all_of(&options)
    };
    let f = asff_of(&probe_of(options, declared), &Where::default());
    check_asff(&f);
    assert_eq!(f["Compliance"]["Status"], "FAILED");
    assert!(
        f["Description"]
            .as_str()
            .unwrap()
            .contains("InstanceMetadataTags declared enabled, observed disabled"),
        "{f}"
    );
}

#[test]
fn asff_without_identity_needs_the_placement_given() {
    let p = no_answer();
    // Every missing field is named at once.
    let e = p.asff(None, NOW, &Where::default()).unwrap_err();
    assert_eq!(e.0, ["account id", "region", "instance id"]);
    for flag in ["--aws-account-id", "--aws-region", "--aws-instance-id"] {
        assert!(e.to_string().contains(flag), "{e}");
    }
    // SSM Agent's command environment gives the id and region; only the account is left.
    let env = |k: &str| match k {
        "AWS_SSM_INSTANCE_ID" => Some("i-0fedcba9876543210".to_owned()),
        "AWS_SSM_REGION_NAME" => Some("eu-west-1".to_owned()),
        _ => None,
    };
    let from_agent = Where::default().or_run_command_env(env);
    let e = p.asff(None, NOW, &from_agent).unwrap_err();
    assert_eq!(e.0, ["account id"], "{e}");
    let f: Value = serde_json::from_str(&p.ocsf(None, NOW, &from_agent).unwrap()).unwrap();
    assert_eq!(f["resources"][0]["uid"], "i-0fedcba9876543210");
    assert_eq!(f["cloud"]["region"], "eu-west-1");
    let item: Value = serde_json::from_str(&p.ssm_inventory(None, NOW, &from_agent)).unwrap();
    assert_eq!(item[0]["Content"][0]["InstanceId"], "i-0fedcba9876543210");
    assert_eq!(item[0]["Content"][0]["Region"], "eu-west-1");
    // A flag wins over the agent's environment.
    let flagged = Where {
        region: Some("us-west-2".into()),
        ..Where::default()
    }
    .or_run_command_env(env);
    assert_eq!(flagged.region.as_deref(), Some("us-west-2"));
    let given = Where {
        account_id: Some("210987654321".into()),
        region: Some("cn-north-1".into()),
        instance_id: Some("i-0fedcba9876543210".into()),
    };
    let f = asff_of(&p, &given);
    check_asff(&f);
    assert_eq!(f["Compliance"]["Status"], "NOT_AVAILABLE");
    assert!(
        f["ProductArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws-cn:securityhub:cn-north-1:210987654321:")
    );
}

fn check_ocsf(f: &Value) {
    for k in [
        "activity_id",
        "category_uid",
        "class_uid",
        "compliance",
        "finding_info",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    ] {
        assert!(f.get(k).is_some(), "missing {k}");
    }
    let activity = f["activity_id"].as_u64().unwrap();
    assert!([0, 1, 2, 3, 99].contains(&activity));
    assert_eq!(f["category_uid"], 2);
    assert_eq!(f["class_uid"], 2003);
    assert_eq!(f["type_uid"].as_u64().unwrap(), 2003 * 100 + activity);
    assert!([0, 1, 2, 3, 4, 5, 6, 99].contains(&f["severity_id"].as_u64().unwrap()));
    assert!([0, 1, 2, 3, 4, 99].contains(&f["status_id"].as_u64().unwrap()));
    assert!(f["time"].is_u64());
    assert!(f["metadata"]["version"].as_str().unwrap().starts_with("1."));
    assert!(f["metadata"]["product"]["name"].is_string());
    assert!(f["metadata"]["product"]["vendor_name"].is_string());
    assert!(f["finding_info"]["uid"].is_string());
    assert!(f["finding_info"]["title"].is_string());
    assert!(!f["compliance"]["standards"].as_array().unwrap().is_empty());
    assert!([0, 1, 2, 3, 99].contains(&f["compliance"]["status_id"].as_u64().unwrap()));
    if let Some(cloud) = f.get("cloud") {
        assert!(cloud["provider"].is_string(), "cloud.provider is required");
    }
}

#[test]
fn ocsf_compliance_finding_has_its_required_attributes() {
    let p = optional();
    let f: Value = serde_json::from_str(&p.ocsf(None, NOW, &Where::default()).unwrap()).unwrap();
    check_ocsf(&f);
    assert_eq!(f["time"], 1_772_366_400_000u64);
    assert_eq!(f["severity_id"], 4);
    assert_eq!(f["compliance"]["status_id"], 3);
    assert_eq!(f["cloud"]["account"]["uid"], "123456789012");
    assert_eq!(f["unmapped"]["HttpTokens"], "optional");

    let f: Value = serde_json::from_str(
        &required_as_declared()
            .ocsf(None, NOW, &Where::default())
            .unwrap(),
    )
    .unwrap();
    check_ocsf(&f);
    assert_eq!(f["compliance"]["status_id"], 1);
    assert_eq!(f["severity_id"], 1);

    let silent = no_answer();
    assert!(silent.ocsf(None, NOW, &Where::default()).is_err());
    let given = Where {
        instance_id: Some("i-0fedcba9876543210".into()),
        ..Where::default()
    };
    let f: Value = serde_json::from_str(&silent.ocsf(None, NOW, &given).unwrap()).unwrap();
    check_ocsf(&f);
    assert_eq!(f["compliance"]["status_id"], 0);
    assert!(f.get("cloud").unwrap().get("region").is_none());
}

#[test]
fn jsonl_is_one_line_well_under_the_run_command_limit() {
    for p in [optional(), required_as_declared(), no_answer()] {
        let line = p.jsonl(Some("declared.json"));
        assert!(line.ends_with('\n'));
        assert_eq!(line.matches('\n').count(), 1);
        assert!(
            line.len() < sinks::GET_COMMAND_INVOCATION_LIMIT / 4,
            "{}",
            line.len()
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        let pretty: Value = serde_json::from_str(&p.json(Some("declared.json"))).unwrap();
        assert_eq!(v, pretty, "the same document as --format json");
    }
}

/// The identity document is asked only when the formats need it, and never without a way in.
#[test]
fn identity_document_is_read_only_when_asked() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(ImdsServer::builder().start()).unwrap();
    let plain = ProbeConfig::new(&server.url(), None, Duration::from_secs(2)).unwrap();
    let p = imds_probe::probe_blocking(&plain, &DeclaredOptions::default(), None).unwrap();
    assert!(p.observations.identity_get.is_none());
    assert!(!p.json(None).contains("identity"));
    let p = imds_probe::probe_blocking(&plain.with_identity(), &DeclaredOptions::default(), None)
        .unwrap();
    let step = p.observations.identity_get.as_ref().unwrap();
    assert_eq!(step.status, Some(200));
    assert!(step.body.is_none(), "the document itself is not kept");
    assert_eq!(
        p.observations
            .identity
            .as_ref()
            .unwrap()
            .account_id
            .as_deref(),
        Some("123456789012")
    );
}

/// The validators' Python: `IMDSPEC_VALIDATOR_PYTHON`, else the client matrix's venv under the
/// target dir (`validators/install.sh` puts the packages there). `Err` says why it cannot run.
fn validator_python() -> Result<PathBuf, String> {
    let python = match std::env::var_os("IMDSPEC_VALIDATOR_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .map_or_else(|| root.join("target"), |t| root.join(t));
            target.join("clients/venv/bin/python")
        }
    };
    let check = Command::new(&python)
        .args(["-c", "import botocore, jsonschema, ocsf_json_schema"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !check.status.success() {
        return Err(format!(
            "{}: {}",
            python.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        ));
    }
    Ok(python)
}

/// Runs `validate.py KIND` on `docs` (written to files): its exit code and output. `None`
/// outside CI when the validators are not installed (a failure under `CI=true`).
fn validate(kind: &str, docs: &[(&str, String)]) -> Option<(i32, String)> {
    let python = match validator_python() {
        Ok(p) => p,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "the schema validators must be installed under CI=true \
             (bash crates/imds-probe/validators/install.sh): {why}"
        ),
        Err(why) => {
            println!("schema validation not run outside CI: {why}");
            return None;
        }
    };
    let dir = std::env::temp_dir().join(format!(
        "imdspec-schemas-{}-{kind}-{}",
        std::process::id(),
        docs.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<PathBuf> = docs
        .iter()
        .map(|(name, text)| {
            let f = dir.join(format!("{name}.json"));
            std::fs::write(&f, text).unwrap();
            f
        })
        .collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("validators/validate.py");
    let out = Command::new(python)
        .arg(script)
        .arg(kind)
        .args(&files)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Some((out.status.code().unwrap_or(-1), text))
}

/// Every kind of probe result the sinks see: IMDSv1 open, required as declared, hop-limited,
/// differing from the declaration, and nothing answering.
fn every_kind() -> Vec<(&'static str, Probe)> {
    let required = required_as_declared();
    let mut hop = required.clone();
    hop.findings.v2 = V2::HopLimited;
    let options = MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    };
    let differs = probe_of(
        options,
        DeclaredOptions {
            instance_metadata_tags: Some(Toggle::Enabled),
            ..DeclaredOptions::all_of(&options)
        },
    );
    vec![
        ("imdsv1-open", optional()),
        ("required", required),
        ("hop-limited", hop),
        ("differs", differs),
        ("no-answer", no_answer()),
    ]
}

/// For a probe that reached no identity document.
fn given() -> Where {
    Where {
        account_id: Some("210987654321".into()),
        region: Some("eu-west-1".into()),
        instance_id: Some("i-0fedcba9876543210".into()),
    }
}

#[test]
fn every_ocsf_finding_is_valid_for_the_version_it_declares() {
    let docs: Vec<(&str, String)> = every_kind()
        .into_iter()
        .map(|(name, p)| (name, p.ocsf(Some("d.json"), NOW, &given()).unwrap()))
        .collect();
    let Some((code, out)) = validate("ocsf", &docs) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": ok").count(), docs.len(), "{out}");

    // The same finding claiming 1.1.0 is refused: that version has no `resources` list.
    let mut old: Value = serde_json::from_str(&docs[0].1).unwrap();
    old["metadata"]["version"] = "1.1.0".into();
    let (code, out) = validate("ocsf", &[("claims-1.1.0", old.to_string())]).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("'resources' was unexpected"), "{out}");
}

#[test]
fn every_asff_finding_passes_botocore_batch_import_findings() {
    let docs: Vec<(&str, String)> = every_kind()
        .into_iter()
        .map(|(name, p)| (name, p.asff(Some("d.json"), NOW, &given()).unwrap()))
        .collect();
    let Some((code, out)) = validate("asff", &docs) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": ok").count(), docs.len(), "{out}");

    // What the model forbids is caught: a missing required member, an empty ProductFields value.
    let mut bad: Value = serde_json::from_str(&docs[0].1).unwrap();
    bad[0].as_object_mut().unwrap().remove("Title");
    bad[0]["ProductFields"]["imdspec/Empty"] = "".into();
    let (code, out) = validate("asff", &[("broken", bad.to_string())]).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Missing required parameter") && out.contains("Title"),
        "{out}"
    );
    assert!(out.contains("imdspec/Empty"), "{out}");
}

#[test]
fn every_ssm_inventory_item_passes_botocore_put_inventory() {
    let docs: Vec<(&str, String)> = every_kind()
        .into_iter()
        .map(|(name, p)| (name, p.ssm_inventory(Some("d.json"), NOW, &given())))
        .collect();
    let Some((code, out)) = validate("ssm-inventory", &docs) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches(": ok").count(), docs.len(), "{out}");

    // The documented limits come from the model: 50 keys, 4,096-character values, the
    // CaptureTime pattern (no fractions of a second).
    let mut bad: Value = serde_json::from_str(&docs[0].1).unwrap();
    let content = bad[0]["Content"][0].as_object_mut().unwrap();
    for i in 0..50 {
        content.insert(format!("Extra{i}"), "x".into());
    }
    content.insert("Verdict".into(), "v".repeat(4097).into());
    bad[0]["CaptureTime"] = "2026-03-01T12:00:00.000Z".into();
    let (code, out) = validate("ssm-inventory", &[("broken", bad.to_string())]).unwrap();
    assert_eq!(code, 1, "{out}");
    for want in [
        "over the maximum 50",
        "4097 is over the maximum 4096",
        "CaptureTime",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
}
