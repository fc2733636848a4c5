//! Synthetic fleets for tests and the benchmark: every kind of instance a fleet report has
//! to tell apart, in every probe output format, laid out as SSM Run Command writes to S3.
//! Deterministic: instance `n` is always of kind `n % KINDS.len()`.

use std::io::Write as _;
use std::path::Path;

use serde_json::{Value, json};

/// What one synthetic instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// IMDSv2 required, as declared.
    RequiredAsDeclared,
    /// IMDSv1 open, declared optional: listed, not a difference.
    OpenAsDeclared,
    /// Declared required, IMDSv1 answers (a proxy in the way).
    OpenButRequired,
    /// Declared required with `State: pending`, still optional.
    PendingChange,
    /// Required, but the token answer does not reach the prober.
    HopLimited,
    /// Declared and observed off.
    EndpointOff,
    /// Nothing answered (a host firewall).
    NoAnswer,
    /// Tags declared on, not served.
    TagsDiffer,
    /// Running, no probe output.
    NotProbed,
    /// Stopped, no probe output.
    StoppedNotProbed,
    /// Probed, not in describe-instances.
    UnknownToControlPlane,
    /// Two probe outputs for one instance.
    Duplicate,
}

/// Every kind, in the order instance numbers cycle through.
pub const KINDS: [Kind; 12] = [
    Kind::RequiredAsDeclared,
    Kind::OpenAsDeclared,
    Kind::OpenButRequired,
    Kind::PendingChange,
    Kind::HopLimited,
    Kind::EndpointOff,
    Kind::NoAnswer,
    Kind::TagsDiffer,
    Kind::NotProbed,
    Kind::StoppedNotProbed,
    Kind::UnknownToControlPlane,
    Kind::Duplicate,
];

/// The probe output formats, in the order instance numbers cycle through (per kind).
pub const FORMATS: [&str; 5] = ["json", "jsonl", "ssm-inventory", "asff", "ocsf"];

/// Instance `n`'s id.
pub fn instance_id(n: usize) -> String {
    format!("i-{n:017x}")
}

/// Instance `n`'s kind.
pub fn kind(n: usize) -> Kind {
    KINDS[n % KINDS.len()]
}

/// `(declared options, State, instance state)` of a kind, or `None` when describe-instances
/// does not list it.
fn declared(k: Kind) -> Option<(Value, &'static str)> {
    let opts = |tokens: &str, endpoint: &str, tags: &str, state: &str| {
        json!({"State": state, "HttpTokens": tokens, "HttpPutResponseHopLimit": 1,
               "HttpEndpoint": endpoint, "HttpProtocolIpv6": "disabled",
               "InstanceMetadataTags": tags})
    };
    Some(match k {
        Kind::RequiredAsDeclared | Kind::OpenButRequired | Kind::HopLimited | Kind::Duplicate => (
            opts("required", "enabled", "disabled", "applied"),
            "running",
        ),
        Kind::OpenAsDeclared | Kind::NoAnswer => (
            opts("optional", "enabled", "disabled", "applied"),
            "running",
        ),
        Kind::PendingChange => (
            opts("required", "enabled", "disabled", "pending"),
            "running",
        ),
        Kind::EndpointOff => (
            opts("required", "disabled", "disabled", "applied"),
            "running",
        ),
        Kind::TagsDiffer => (opts("required", "enabled", "enabled", "applied"), "running"),
        Kind::NotProbed => (
            opts("required", "enabled", "disabled", "applied"),
            "running",
        ),
        Kind::StoppedNotProbed => (
            opts("required", "enabled", "disabled", "applied"),
            "stopped",
        ),
        Kind::UnknownToControlPlane => return None,
    })
}

/// The probe's flat summary for a kind: `(answers, imdsv1, imdsv2, tokens, endpoint, tags,
/// hop limited)`.
fn seen(
    k: Kind,
) -> Option<(
    bool,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
)> {
    Some(match k {
        Kind::RequiredAsDeclared | Kind::Duplicate | Kind::UnknownToControlPlane => (
            true, "closed", "works", "required", "enabled", "disabled", false,
        ),
        Kind::OpenAsDeclared | Kind::OpenButRequired | Kind::PendingChange => (
            true, "open", "works", "optional", "enabled", "disabled", false,
        ),
        Kind::HopLimited => (
            true,
            "closed",
            "hop-limited",
            "required",
            "enabled",
            "disabled",
            true,
        ),
        Kind::EndpointOff => (true, "disabled", "disabled", "", "disabled", "", false),
        Kind::NoAnswer => (false, "unknown", "unknown", "", "", "", false),
        Kind::TagsDiffer => (
            true, "closed", "works", "required", "enabled", "disabled", false,
        ),
        Kind::NotProbed | Kind::StoppedNotProbed => return None,
    })
}

/// Instance `n`'s probe output in `format`, or `None` when the kind has none.
pub fn probe_output(n: usize, format: &str) -> Option<String> {
    let k = kind(n);
    let (answers, v1, v2, tokens, endpoint, tags, hop) = seen(k)?;
    let id = instance_id(n);
    // A probe that got no answer cannot know the instance id: the S3 path names it.
    let id_field = if answers { id.clone() } else { String::new() };
    let opt = |s: &str| if s.is_empty() { Value::Null } else { json!(s) };
    let flat = json!({
        "Format": "imdspec-probe/1", "InstanceId": id_field, "AccountId": "123456789012",
        "Region": "eu-west-1", "Endpoint": "http://169.254.169.254", "Answers": answers.to_string(),
        "Verdict": "synthetic", "ImdsV1": v1, "ImdsV2": v2, "HttpTokens": tokens,
        "HttpEndpoint": endpoint, "InstanceMetadataTags": tags, "HttpProtocolIpv6": "",
        "HopLimitTooLow": hop.to_string(), "Diagnoses": "", "LooksLike": "ec2", "Declared": "",
        "Differences": "", "DeclaredState": "", "DeclaredFile": "", "ProbeMs": "3",
    });
    let status = if answers { json!(200) } else { Value::Null };
    let doc = json!({
        "format": "imdspec-probe/1", "endpoint": "http://169.254.169.254",
        "verdict": "synthetic", "InstanceId": opt(&id_field), "HttpTokens": opt(tokens),
        "HttpEndpoint": opt(endpoint), "InstanceMetadataTags": opt(tags),
        "HttpProtocolIpv6": null, "imdsv1": v1, "imdsv2": v2, "hop_limit_too_low": hop,
        "diagnoses": [], "looks_like": {"verdict": "ec2", "clues": []},
        "observations": {"endpoints": [{"url": "http://169.254.169.254", "role": "primary",
            "ipv6": false, "tcp_connect": {"outcome": "connected", "ms": 1},
            "token_put": {"request": "PUT /latest/api/token (TTL 60)", "outcome": "answered",
                          "status": status, "ms": 1},
            "tokenless_get": {"request": "GET /latest/meta-data/instance-id",
                              "outcome": "answered", "status": status, "ms": 1}}],
            "timeout_ms": 1000, "budget_ms": 2200, "total_ms": 3},
    });
    let text = match format {
        "json" => format!("{doc:#}\n"),
        "jsonl" => format!("{doc}\n"),
        "ssm-inventory" => format!(
            "{:#}\n",
            json!([{"TypeName": "Custom:ImdsProbe", "SchemaVersion": "1.0",
                    "CaptureTime": "2026-03-01T12:00:00Z", "Content": [flat]}])
        ),
        "asff" => {
            let fields: serde_json::Map<String, Value> = flat
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (format!("imdspec/{k}"), v.clone()))
                .collect();
            format!(
                "{:#}\n",
                json!([{"SchemaVersion": "2018-10-08", "Id": format!("imdspec/{id}"),
                        "AwsAccountId": "123456789012", "ProductFields": fields}])
            )
        }
        _ => format!(
            "{:#}\n",
            json!({"class_uid": 2003, "category_uid": 2, "activity_id": 1,
                   "type_uid": 200301, "unmapped": flat})
        ),
    };
    Some(text)
}

/// describe-instances output for instances `0..n` (those the control plane knows).
pub fn describe_instances(n: usize) -> String {
    let mut out = Vec::new();
    // Writing to a Vec does not fail.
    let _ = write_describe_instances(&mut out, n);
    String::from_utf8(out).unwrap_or_default()
}

/// Writes [`describe_instances`] to `w` one instance at a time (a million instances make
/// about 300 MB).
pub fn write_describe_instances(w: &mut dyn std::io::Write, n: usize) -> std::io::Result<()> {
    w.write_all(b"{\n  \"Reservations\": [\n    {\n      \"ReservationId\": \"r-1\",\n      \"Instances\": [")?;
    let mut first = true;
    for i in 0..n {
        let Some((options, state)) = declared(kind(i)) else {
            continue;
        };
        let instance = json!({"InstanceId": instance_id(i), "InstanceType": "t3.micro",
                              "State": {"Code": 16, "Name": state}, "MetadataOptions": options});
        w.write_all(if first { b"\n        " } else { b",\n        " })?;
        first = false;
        serde_json::to_writer(&mut *w, &instance)?;
    }
    w.write_all(b"\n      ]\n    }\n  ]\n}\n")
}

/// Where [`write_fleet_as`] puts probe files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Run Command's S3 output: `cmd-0000/<instance-id>/awsrunShellScript/0.awsrunShellScript/stdout`
    /// (three directories per instance).
    RunCommand,
    /// One file per host as Ansible's `fetch` leaves them, a thousand to a directory:
    /// `0001/<instance-id>.json` (duplicates as `<instance-id>.1.json`).
    PerHost,
}

/// The S3 key of instance `n`'s output under a Run Command prefix.
pub fn s3_key(n: usize, copy: usize) -> String {
    format!(
        "cmd-{copy:04}/{}/awsrunShellScript/0.awsrunShellScript/stdout",
        instance_id(n)
    )
}

/// Every probe file of instances `0..n` as `(S3 key, contents)`: formats cycle, duplicates
/// come twice, instances without a probe output have none.
pub fn files(n: usize) -> impl Iterator<Item = (String, String)> {
    (0..n).flat_map(|i| {
        let format = FORMATS[(i / KINDS.len()) % FORMATS.len()];
        let copies = if kind(i) == Kind::Duplicate { 2 } else { 1 };
        (0..copies).filter_map(move |copy| Some((s3_key(i, copy), probe_output(i, format)?)))
    })
}

/// Writes instances `0..n` under `dir` in Run Command's S3 layout ([`files`]) and their
/// describe-instances output to `declared`. Returns how many probe files were written.
pub fn write_fleet(dir: &Path, declared: &Path, n: usize) -> std::io::Result<usize> {
    write_fleet_as(dir, declared, n, Layout::RunCommand)
}

/// [`write_fleet`] in either [`Layout`].
pub fn write_fleet_as(
    dir: &Path,
    declared: &Path,
    n: usize,
    layout: Layout,
) -> std::io::Result<usize> {
    let mut written = 0;
    for (key, text) in files(n) {
        let path = match layout {
            Layout::RunCommand => dir.join(key),
            Layout::PerHost => {
                // `cmd-NNNN/<id>/…`: the copy number and the id are all this layout keeps.
                let mut parts = key.split('/');
                let copy = parts.next().unwrap_or("cmd-0000");
                let id = parts.next().unwrap_or("i-0");
                let n = usize::from_str_radix(id.trim_start_matches("i-"), 16).unwrap_or(0);
                let name = match copy.trim_start_matches("cmd-").trim_start_matches('0') {
                    "" => format!("{id}.json"),
                    c => format!("{id}.{c}.json"),
                };
                dir.join(format!("{:04}", n / 1000)).join(name)
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::File::create(&path)?.write_all(text.as_bytes())?;
        written += 1;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(declared)?);
    write_describe_instances(&mut out, n)?;
    out.flush()?;
    Ok(written)
}
