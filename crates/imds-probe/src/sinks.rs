//! Output for the tools fleets already run, each shaped by its own documentation:
//!
//! - JSON lines: the JSON document on one compact line, for SSM Run Command output
//!   (`GetCommandInvocation` keeps the first [`GET_COMMAND_INVOCATION_LIMIT`] characters);
//! - an SSM Inventory custom item (`Custom:ImdsProbe`) for `aws ssm put-inventory --items`:
//!   <https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InventoryItem.html>;
//! - an AWS Security Finding Format finding for `aws securityhub batch-import-findings`:
//!   <https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html>;
//! - an OCSF 1.6.0 Compliance Finding (class 2003) with the `cloud` profile, the version
//!   Security Hub reads findings in:
//!   <https://schema.ocsf.io/1.6.0/classes/compliance_finding?profiles=cloud>.
//!
//! Every format carries the same flat [`summary`] (under `Content`, `ProductFields` or
//! `unmapped`), which is what `imdspec fleet report` reads back. Time is passed in, never read.

use imds_model::Timestamp;
use serde_json::{Map, Value, json};

use crate::Probe;
use crate::infer::{V1, V2};
use crate::render::JSON_FORMAT;
use imds_observe::output::key;

/// Output characters `GetCommandInvocation` returns (the rest goes to S3 only).
pub const GET_COMMAND_INVOCATION_LIMIT: usize = 24_000;
pub use imds_observe::output::{ASFF_FIELD_PREFIX, GENERATOR, OCSF_CLASS_UID, SSM_TYPE_NAME};
/// The SSM Inventory schema version of the item.
pub const SSM_SCHEMA_VERSION: &str = "1.0";
/// Longest SSM Inventory attribute value.
pub const SSM_VALUE_LIMIT: usize = 4096;
/// The ASFF schema version.
pub const ASFF_SCHEMA_VERSION: &str = "2018-10-08";
/// The OCSF schema version the finding follows: Security Hub's OCSF findings are 1.6
/// (1.1.0, the first to have Compliance Finding, has no `resources` list).
pub const OCSF_VERSION: &str = "1.6.0";
/// The OCSF profiles the finding uses (`cloud`: the account and region).
pub const OCSF_PROFILES: [&str; 1] = ["cloud"];

/// Account, region and instance id for findings, when the identity document cannot tell
/// (IMDS off, or not answering); what the document says wins.
#[derive(Clone, Debug, Default)]
pub struct Where {
    /// 12-digit AWS account id.
    pub account_id: Option<String>,
    /// Region (`us-east-1`).
    pub region: Option<String>,
    /// Instance id.
    pub instance_id: Option<String>,
}

/// The variables SSM Agent sets for every command it runs (Run Command, State Manager): the
/// managed node's id and region. The account is not among them.
pub const RUN_COMMAND_ENV: [&str; 2] = ["AWS_SSM_INSTANCE_ID", "AWS_SSM_REGION_NAME"];

impl Where {
    /// Fills what is still unknown from SSM Agent's command environment ([`RUN_COMMAND_ENV`]),
    /// read through `var` (`std::env::var`, or a map in tests).
    pub fn or_run_command_env(self, var: impl Fn(&str) -> Option<String>) -> Where {
        let [id, region] = RUN_COMMAND_ENV.map(|k| var(k).filter(|v| !v.is_empty()));
        Where {
            instance_id: self.instance_id.or(id),
            region: self.region.or(region),
            ..self
        }
    }
}

/// What a finding needs and nothing gave: every missing field, named at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing(pub Vec<&'static str>);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags: Vec<String> = self
            .0
            .iter()
            .map(|field| format!("--aws-{}", field.replace(' ', "-")))
            .collect();
        write!(
            f,
            "the finding needs the {} and neither the instance identity document (IMDS off or \
             not answering) nor SSM Agent's environment ({}) gave it; pass {}",
            self.0.join(" and the "),
            RUN_COMMAND_ENV.join(", "),
            flags.join(" and ")
        )
    }
}

impl std::error::Error for Missing {}

/// What is wrong with one instance's IMDS, for findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The endpoint does not do what the declared options say.
    Differs,
    /// Tokenless requests are answered.
    Imdsv1Open,
    /// Token answers do not reach this position.
    HopLimitTooLow,
    /// Nothing answered.
    NoAnswer,
}

/// Severity, in ASFF's labels (OCSF's ids beside).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Nothing to fix.
    Informational,
    /// Worth knowing.
    Low,
    /// Fix soon.
    Medium,
    /// Fix now.
    High,
}

impl Severity {
    /// ASFF `Severity.Label`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
        }
    }

    /// OCSF `severity_id` and caption.
    pub fn ocsf(self) -> (u8, &'static str) {
        match self {
            Severity::Informational => (1, "Informational"),
            Severity::Low => (2, "Low"),
            Severity::Medium => (3, "Medium"),
            Severity::High => (4, "High"),
        }
    }
}

impl Problem {
    fn severity(self) -> Severity {
        match self {
            Problem::Imdsv1Open => Severity::High,
            Problem::Differs | Problem::HopLimitTooLow => Severity::Medium,
            Problem::NoAnswer => Severity::Low,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Problem::Differs => {
                "IMDS endpoint differs from the instance's declared metadata options"
            }
            Problem::Imdsv1Open => "IMDSv1 is open (instance metadata is served without a token)",
            Problem::HopLimitTooLow => {
                "IMDSv2 tokens do not reach this position (hop limit too low)"
            }
            Problem::NoAnswer => "IMDS did not answer the probe",
        }
    }
}

/// The problems of a probe, most severe first.
pub fn problems(p: &Probe) -> Vec<Problem> {
    let f = &p.findings;
    let mut out = Vec::new();
    if !f.answers {
        out.push(Problem::NoAnswer);
        return out;
    }
    if f.v1 == V1::Open {
        out.push(Problem::Imdsv1Open);
    }
    if p.comparison.as_ref().is_some_and(|c| !c.matches) {
        out.push(Problem::Differs);
    }
    if f.v2 == V2::HopLimited {
        out.push(Problem::HopLimitTooLow);
    }
    out
}

fn word<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn lower<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The flat summary every sink carries: describe-instances names for the options, strings
/// only, empty for unknown. `file` is the declared-options file, when there was one; the
/// placement is what the probe knows, else `fallback`.
pub fn summary(p: &Probe, file: Option<&str>, fallback: &Where) -> Vec<(&'static str, String)> {
    let f = &p.findings;
    let [account, region, id] = known_placement(p, fallback);
    let (declared, differences, state) = match &p.comparison {
        None => (String::new(), String::new(), String::new()),
        Some(c) => (
            if c.matches { "matches" } else { "differs" }.to_owned(),
            c.differences
                .iter()
                .map(|d| {
                    format!(
                        "{}: declared {}, observed {}",
                        d.field, d.declared, d.observed
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
            c.state.map(lower).unwrap_or_default(),
        ),
    };
    let mut out = vec![
        (key::FORMAT, JSON_FORMAT.to_owned()),
        (key::INSTANCE_ID, word(id)),
        ("AccountId", word(account)),
        ("Region", word(region)),
        ("Endpoint", p.observations.main().url.clone()),
        (key::ANSWERS, f.answers.to_string()),
        ("Verdict", f.verdict.clone()),
        (key::IMDSV1, lower(f.v1)),
        (key::IMDSV2, lower(f.v2)),
        (key::HTTP_TOKENS, word(f.http_tokens)),
        (key::HTTP_ENDPOINT, word(f.http_endpoint)),
        (key::INSTANCE_METADATA_TAGS, word(f.instance_metadata_tags)),
        (key::HTTP_PROTOCOL_IPV6, word(f.http_protocol_ipv6)),
        (key::HOP_LIMIT_TOO_LOW, (f.v2 == V2::HopLimited).to_string()),
        (
            "Diagnoses",
            f.diagnoses
                .iter()
                .map(|d| d.code)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("LooksLike", f.looks_like.verdict.to_owned()),
        ("Declared", declared),
        ("Differences", differences),
        ("DeclaredState", state),
        ("DeclaredFile", word(file)),
        ("ProbeMs", p.observations.total_ms.to_string()),
    ];
    for (_, v) in &mut out {
        cut(v, SSM_VALUE_LIMIT);
    }
    out
}

/// Cuts `s` to at most `max` characters.
fn cut(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}

/// The JSON document on one line (no newline inside), with a final newline.
pub fn jsonl(p: &Probe, file: Option<&str>) -> String {
    let pretty = p.json(file);
    let mut line = serde_json::from_str::<Value>(&pretty)
        .map(|v| v.to_string())
        .unwrap_or_default();
    line.push('\n');
    line
}

/// One SSM Inventory item, as the array `aws ssm put-inventory --items` takes; the
/// placement as in [`summary`].
pub fn ssm_inventory(p: &Probe, file: Option<&str>, now: Timestamp, fallback: &Where) -> String {
    let content: Map<String, Value> = summary(p, file, fallback)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    let item = json!([{
        "TypeName": SSM_TYPE_NAME,
        "SchemaVersion": SSM_SCHEMA_VERSION,
        "CaptureTime": now.to_iso8601(),
        "Content": [content],
    }]);
    format!("{item:#}\n")
}

/// Account, region and instance id as far as known: the probe's instance id, then the
/// identity document's values, then `fallback`.
fn known_placement(p: &Probe, fallback: &Where) -> [Option<String>; 3] {
    let doc = p.observations.identity.clone().unwrap_or_default();
    let id = p
        .findings
        .instance_id
        .clone()
        .or(doc.instance_id)
        .or_else(|| fallback.instance_id.clone());
    [
        doc.account_id.or_else(|| fallback.account_id.clone()),
        doc.region.or_else(|| fallback.region.clone()),
        id,
    ]
}

/// Account, region and instance id, all three needed; every missing one is named.
fn placement(p: &Probe, fallback: &Where) -> Result<(String, String, String), Missing> {
    match known_placement(p, fallback) {
        [Some(account), Some(region), Some(id)] => Ok((account, region, id)),
        known => Err(Missing(
            ["account id", "region", "instance id"]
                .into_iter()
                .zip(known)
                .filter_map(|(name, v)| v.is_none().then_some(name))
                .collect(),
        )),
    }
}

/// The AWS partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// What to do, with the exact command (region included) where one fixes it.
fn remediation(p: &Probe, problems: &[Problem], id: &str, region: Option<&str>) -> String {
    let mut flags = Vec::new();
    let mut text = Vec::new();
    if problems.contains(&Problem::Imdsv1Open) && problems.contains(&Problem::HopLimitTooLow) {
        text.push(
            "Apply both flags together: requiring tokens alone would lock software at this \
             position out, since token answers do not reach it.",
        );
    }
    for pr in problems {
        match pr {
            Problem::Imdsv1Open => flags.push(crate::infer::REQUIRE_TOKENS),
            Problem::HopLimitTooLow => flags.push(crate::infer::RAISE_HOP_LIMIT),
            Problem::Differs => text.push(
                if p.comparison.as_ref().is_some_and(|c| c.state.is_some()) {
                    "A metadata options change is pending: probe again once it is applied."
                } else {
                    "The endpoint does not do what the control plane says: look for a proxy, \
                     a container network or a host firewall on the IMDS path."
                },
            ),
            Problem::NoAnswer => text.push(
                "Check that HttpEndpoint is enabled and that nothing on the instance blocks \
                 169.254.169.254.",
            ),
        }
    }
    let mut out = String::new();
    if !flags.is_empty() {
        out = format!(
            "Run: {} (check first that software on the instance uses IMDSv2).",
            crate::infer::modify_command(Some(id), region, &flags)
        );
    }
    for t in text {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(t);
    }
    if out.is_empty() {
        out = "Nothing to do: IMDSv2 is required and works from here.".into();
    }
    cut(&mut out, 512);
    out
}

fn title_and_description(p: &Probe, problems: &[Problem]) -> (String, String) {
    let title = match problems.first() {
        Some(first) => first.title().to_owned(),
        None => "IMDS enforces IMDSv2 as expected".to_owned(),
    };
    let mut desc = p.findings.verdict.clone();
    if let Some(c) = p.comparison.as_ref().filter(|c| !c.matches) {
        let d: Vec<String> = c
            .differences
            .iter()
            .map(|d| {
                format!(
                    "{} declared {}, observed {}",
                    d.field, d.declared, d.observed
                )
            })
            .collect();
        desc = format!("{desc}. Differs from declared options: {}", d.join("; "));
    }
    cut(&mut desc, 1024);
    (title, desc)
}

/// One ASFF finding (as the `--findings` array of `batch-import-findings` takes it).
/// Account and region come from the identity document, else from `fallback`.
pub fn asff(
    p: &Probe,
    file: Option<&str>,
    now: Timestamp,
    fallback: &Where,
) -> Result<String, Missing> {
    let (account, region, id) = placement(p, fallback)?;
    let part = partition(&region);
    let problems = problems(p);
    let severity = problems
        .iter()
        .map(|x| x.severity())
        .max()
        .unwrap_or(Severity::Informational);
    let status = match problems.first() {
        None => "PASSED",
        Some(Problem::NoAnswer) => "NOT_AVAILABLE",
        Some(_) => "FAILED",
    };
    let (title, description) = title_and_description(p, &problems);
    // ProductFields values are NonEmptyString in the service model: unknown is left out.
    let fields: Map<String, Value> = summary(p, file, fallback)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, mut v)| {
            cut(&mut v, 2048);
            (format!("{ASFF_FIELD_PREFIX}{k}"), Value::String(v))
        })
        .collect();
    let time = now.to_iso8601();
    let finding = json!([{
        "SchemaVersion": ASFF_SCHEMA_VERSION,
        "Id": format!("{GENERATOR}/{region}/{account}/{id}/imds"),
        "ProductArn": format!("arn:{part}:securityhub:{region}:{account}:product/{account}/default"),
        "GeneratorId": format!("{GENERATOR}-probe"),
        "AwsAccountId": account,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices"],
        "CreatedAt": time,
        "UpdatedAt": time,
        "Severity": {"Label": severity.label()},
        "Title": title,
        "Description": description,
        "Remediation": {"Recommendation": {
            "Text": remediation(p, &problems, &id, Some(&region)),
            "Url": "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-options.html",
        }},
        "ProductFields": fields,
        "Resources": [{
            "Type": "AwsEc2Instance",
            "Id": format!("arn:{part}:ec2:{region}:{account}:instance/{id}"),
            "Partition": part,
            "Region": region,
        }],
        "Compliance": {"Status": status},
        "RecordState": "ACTIVE",
        "Workflow": {"Status": "NEW"},
    }]);
    Ok(format!("{finding:#}\n"))
}

/// One OCSF Compliance Finding. The cloud placement is given when known (from the identity
/// document, else `fallback`); the instance id is needed.
pub fn ocsf(
    p: &Probe,
    file: Option<&str>,
    now: Timestamp,
    fallback: &Where,
) -> Result<String, Missing> {
    let [account, region, id] = known_placement(p, fallback);
    let id = id.ok_or_else(|| Missing(vec!["instance id"]))?;
    let problems = problems(p);
    let severity = problems
        .iter()
        .map(|x| x.severity())
        .max()
        .unwrap_or(Severity::Informational);
    let (severity_id, severity_name) = severity.ocsf();
    let (status_id, status) = match problems.first() {
        None => (1, "Pass"),
        Some(Problem::NoAnswer) => (0, "Unknown"),
        Some(_) => (3, "Fail"),
    };
    let (title, desc) = title_and_description(p, &problems);
    let unmapped: Map<String, Value> = summary(p, file, fallback)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect();
    let mut cloud = json!({"provider": "AWS"});
    if let Some(r) = &region {
        cloud["region"] = json!(r);
    }
    if let Some(a) = &account {
        cloud["account"] = json!({"uid": a, "type": "AWS Account", "type_id": 10});
    }
    let mut resource = json!({"uid": id, "type": "AWS::EC2::Instance"});
    if let Some(r) = &region {
        resource["region"] = json!(r);
        resource["cloud_partition"] = json!(partition(r));
    }
    let finding = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": OCSF_CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": OCSF_CLASS_UID * 100 + 1,
        "type_name": "Compliance Finding: Create",
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": 1,
        "status": "New",
        "time": now.as_millis(),
        "message": p.findings.verdict,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": OCSF_PROFILES,
            "product": {"name": "imdspec", "vendor_name": "imdspec", "version": env!("CARGO_PKG_VERSION")},
        },
        "finding_info": {
            "uid": format!("{GENERATOR}/{id}/imds"),
            "title": title,
            "desc": desc,
            "types": problems.iter().map(|x| x.title()).collect::<Vec<_>>(),
        },
        "compliance": {
            "control": "IMDSv2 required and usable (HttpTokens=required)",
            "standards": ["imdspec"],
            "status_id": status_id,
            "status": status,
        },
        "remediation": {"desc": remediation(p, &problems, &id, region.as_deref())},
        "cloud": cloud,
        "resources": [resource],
        "unmapped": unmapped,
    });
    Ok(format!("{finding:#}\n"))
}
