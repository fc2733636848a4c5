//! AEMM's configuration: defaults, a JSON config file, `AEMM_*` environment variables and
//! flags, merged with AEMM's precedence (flag > environment > file > default). Keys are
//! AEMM's dotted names (`mock-delay-sec`, `spot.action`, `metadata.values.instance-id`).
//! Unknown keys and variables give warnings, never errors, as in AEMM.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imds_diag::{LoadError, Seg, Source};
use imds_model::Timestamp;
use serde_json::{Map, Value, json};

use crate::args::{Cli, parse_bool};

/// The MAC in AEMM's default paths, replaced by `metadata.values.mac` when that is changed.
pub const DEFAULT_MAC: &str = "0e:49:61:0f:c3:11";

/// The environment variable naming the config file.
pub const CONFIG_FILE_ENV: &str = "AEMM_CONFIG_FILE";

/// Keys whose value is a JSON object, taken as one value (their members are not checked).
const OBJECT_KEYS: [&str; 5] = [
    "metadata.values.tags-instance",
    "metadata.values.iam-info",
    "metadata.values.iam-security-credentials",
    "metadata.values.elastic-inference-accelerator",
    "dynamic.values.instance-identity-document",
];

/// `metadata.paths` in AEMM's defaults: key and path below `/latest/meta-data/`; `{mac}`
/// stands for the MAC.
const METADATA_PATHS: &[(&str, &str)] = &[
    ("ami-id", "ami-id"),
    ("ami-launch-index", "ami-launch-index"),
    ("ami-manifest-path", "ami-manifest-path"),
    ("block-device-mapping-ami", "block-device-mapping/ami"),
    ("block-device-mapping-ebs", "block-device-mapping/ebs0"),
    (
        "block-device-mapping-ephemeral",
        "block-device-mapping/ephemeral0",
    ),
    ("block-device-mapping-root", "block-device-mapping/root"),
    ("block-device-mapping-swap", "block-device-mapping/swap"),
    (
        "elastic-inference-associations",
        "elastic-inference/associations",
    ),
    (
        "elastic-inference-accelerator",
        "elastic-inference/associations/eia-bfa21c7904f64a82a21b9f4540169ce1",
    ),
    ("events", "events/maintenance/scheduled"),
    ("hostname", "hostname"),
    ("iam-info", "iam/info"),
    ("iam-security-credentials-role", "iam/security-credentials"),
    (
        "iam-security-credentials",
        "iam/security-credentials/baskinc-role",
    ),
    ("instance-action", "instance-action"),
    ("instance-id", "instance-id"),
    ("instance-life-cycle", "instance-life-cycle"),
    ("instance-type", "instance-type"),
    ("kernel-id", "kernel-id"),
    ("local-hostname", "local-hostname"),
    ("local-ipv4", "local-ipv4"),
    ("mac", "mac"),
    (
        "mac-device-number",
        "network/interfaces/macs/{mac}/device-number",
    ),
    (
        "mac-ipv4-associations",
        "network/interfaces/macs/{mac}/ipv4-associations/192.0.2.54",
    ),
    (
        "mac-ipv6-associations",
        "network/interfaces/macs/{mac}/ipv6s",
    ),
    (
        "mac-local-hostname",
        "network/interfaces/macs/{mac}/local-hostname",
    ),
    (
        "mac-local-ipv4s",
        "network/interfaces/macs/{mac}/local-ipv4s",
    ),
    ("mac-mac", "network/interfaces/macs/{mac}/mac"),
    (
        "mac-network-interface-id",
        "network/interfaces/macs/{mac}/interface-id",
    ),
    (
        "mac-network-interface-card-index",
        "network/interfaces/macs/{mac}/network-card-index",
    ),
    ("mac-owner-id", "network/interfaces/macs/{mac}/owner-id"),
    (
        "mac-public-hostname",
        "network/interfaces/macs/{mac}/public-hostname",
    ),
    (
        "mac-public-ipv4s",
        "network/interfaces/macs/{mac}/public-ipv4s",
    ),
    (
        "mac-security-group-ids",
        "network/interfaces/macs/{mac}/security-group-ids",
    ),
    (
        "mac-security-groups",
        "network/interfaces/macs/{mac}/security-groups",
    ),
    ("mac-subnet-id", "network/interfaces/macs/{mac}/subnet-id"),
    (
        "mac-subnet-ipv4-cidr-block",
        "network/interfaces/macs/{mac}/subnet-ipv4-cidr-block",
    ),
    (
        "mac-subnet-ipv6-cidr-blocks",
        "network/interfaces/macs/{mac}/subnet-ipv6-cidr-blocks",
    ),
    ("mac-vpc-id", "network/interfaces/macs/{mac}/vpc-id"),
    (
        "mac-vpc-ipv4-cidr-block",
        "network/interfaces/macs/{mac}/vpc-ipv4-cidr-block",
    ),
    (
        "mac-vpc-ipv4-cidr-blocks",
        "network/interfaces/macs/{mac}/vpc-ipv4-cidr-blocks",
    ),
    (
        "mac-vpc-ipv6-cidr-blocks",
        "network/interfaces/macs/{mac}/vpc-ipv6-cidr-blocks",
    ),
    ("placement-availability-zone", "placement/availability-zone"),
    (
        "placement-availability-zone-id",
        "placement/availability-zone-id",
    ),
    ("placement-group-name", "placement/group-name"),
    ("placement-host-id", "placement/host-id"),
    ("placement-partition-number", "placement/partition-number"),
    ("placement-region", "placement/region"),
    ("product-codes", "product-codes"),
    ("public-hostname", "public-hostname"),
    ("public-ipv4", "public-ipv4"),
    ("public-key", "public-keys/0/openssh-key"),
    ("ramdisk-id", "ramdisk-id"),
    ("reservation-id", "reservation-id"),
    ("security-groups", "security-groups"),
    ("services-domain", "services/domain"),
    ("services-partition", "services/partition"),
    ("spot", "spot/instance-action"),
    ("spot-termination-time", "spot/termination-time"),
    ("rebalance-rec-time", "events/recommendations/rebalance"),
    ("tags-instance-name", "tags/instance/Name"),
    ("tags-instance-test", "tags/instance/Test"),
    (
        "target-lifecycle-state",
        "autoscaling/target-lifecycle-state",
    ),
];

fn rfc3339(t: Timestamp) -> String {
    t.to_iso8601()
}

/// AEMM's defaults, in its config file's shape; event times count from `start`.
pub fn defaults(start: Timestamp) -> Value {
    let day = Duration::from_secs(24 * 3600);
    let paths: Map<String, Value> = METADATA_PATHS
        .iter()
        .map(|(k, p)| {
            let p = p.replace("{mac}", DEFAULT_MAC);
            (
                (*k).to_owned(),
                Value::String(format!("/latest/meta-data/{p}")),
            )
        })
        .collect();
    json!({
        "config-file": "$HOME/aemm-config.json",
        "mock-delay-sec": 0,
        "mock-trigger-time": "",
        "mock-ip-count": 2,
        "save-config-to-file": false,
        "watch-config-file": false,
        "imdsv2": false,
        "imdsv2-open-listings": false,
        "rebalance-delay-sec": 0,
        "rebalance-trigger-time": "",
        "asg-termination-delay-sec": 0,
        "asg-termination-trigger-time": "",
        "server": { "hostname": "0.0.0.0", "port": "1338" },
        "spot": { "action": "terminate", "time": "", "rebalance-rec-time": "" },
        "events": {
            "code": "system-reboot",
            "state": "active",
            "not-before": rfc3339(start),
            "not-after": rfc3339(start.plus(day * 7)),
            "not-before-deadline": rfc3339(start.plus(day * 9)),
        },
        "metadata": {
            "paths": paths,
            "values": {
                "ami-id": "ami-0a887e401f7654935",
                "ami-launch-index": "0",
                "ami-manifest-path": "(unknown)",
                "block-device-mapping-ami": "/dev/xvda",
                "block-device-mapping-ebs": "sdb",
                "block-device-mapping-ephemeral": "sdb",
                "block-device-mapping-root": "/dev/xvda",
                "block-device-mapping-swap": "sdcs",
                "elastic-inference-associations": "eia-bfa21c7904f64a82a21b9f4540169ce1",
                "elastic-inference-accelerator": {
                    "version_2018_04_12": {
                        "elastic-inference-accelerator-id": "eia-bfa21c7904f64a82a21b9f4540169ce1",
                        "elastic-inference-accelerator-type": "eia1.medium"
                    }
                },
                "event-id": "instance-event-1234567890abcdef0",
                "hostname": "ip-172-16-34-43.ec2.internal",
                "iam-info": {
                    "Code": "Success",
                    "LastUpdated": "2020-04-02T18:50:40Z",
                    "InstanceProfileArn": "arn:aws:iam::896453262835:instance-profile/baskinc-role",
                    "InstanceProfileId": "AIPA5BOGHHXZELSK34VU4"
                },
                "iam-security-credentials-role": "baskinc-role",
                "iam-security-credentials": {
                    "Code": "Success",
                    "LastUpdated": "2020-04-02T18:50:40Z",
                    "Type": "AWS-HMAC",
                    "AccessKeyId": "12345678901",
                    "SecretAccessKey": "v/12345678901",
                    "Token": "TEST92test48TEST+y6RpoTEST92test48TEST/8oWVAiBqTEsT5Ky7ty2tEStxC1T==",
                    "Expiration": "2020-04-02T00:49:51Z"
                },
                "instance-action": "none",
                "instance-id": "i-1234567890abcdef0",
                "instance-life-cycle": "on-demand",
                "instance-type": "m4.xlarge",
                "kernel-id": "aki-5c21674b",
                "local-hostname": "ip-172-16-34-43.ec2.internal",
                "local-ipv4": "172.16.34.43",
                "mac": DEFAULT_MAC,
                "mac-device-number": "0",
                "mac-ipv4-associations": "192.0.2.54",
                "mac-ipv6-associations": "2001:db8:8:4::2",
                "mac-local-hostname": "ip-172-16-34-43.ec2.internal",
                "mac-local-ipv4s": "172.16.34.43",
                "mac-mac": DEFAULT_MAC,
                "mac-network-interface-id": "eni-0f95d3625f5c521cc",
                "mac-network-interface-card-index": "0",
                "mac-owner-id": "515336597381",
                "mac-public-hostname": "ec2-192-0-2-54.compute-1.amazonaws.com",
                "mac-public-ipv4s": "192.0.2.54",
                "mac-security-group-ids": "sg-0b07f8f6cb485d4df",
                "mac-security-groups": "ura-launch-wizard-harry-1",
                "mac-subnet-id": "subnet-0ac62554",
                "mac-subnet-ipv4-cidr-block": "192.0.2.0/24",
                "mac-subnet-ipv6-cidr-blocks": "2001:db8::/32",
                "mac-vpc-id": "vpc-d295a6a7",
                "mac-vpc-ipv4-cidr-block": "192.0.2.0/24",
                "mac-vpc-ipv4-cidr-blocks": "192.0.2.0/24",
                "mac-vpc-ipv6-cidr-blocks": "2001:db8::/32",
                "placement-availability-zone": "us-east-1a",
                "placement-availability-zone-id": "use1-az4",
                "placement-group-name": "a-placement-group",
                "placement-host-id": "h-0da999999f9999fb9",
                "placement-partition-number": "1",
                "placement-region": "us-east-1",
                "product-codes": "3iplms73etrdhxdepv72l6ywj",
                "public-hostname": "ec2-192-0-2-54.compute-1.amazonaws.com",
                "public-ipv4": "192.0.2.54",
                "public-key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC/JxGByvHDHgQAU+0nRFWdvMPi22OgNUn9ansrI8QN1ZJGxD1ML8DRnJ3Q3zFKqqjGucfNWW0xpVib+ttkIBp8G9P/EOcX9C3FF63O3SnnIUHJsp5faRAZsTJPx0G5HUbvhBvnAcCtSqQgmr02c1l582vAWx48pOmeXXMkl9qe9V/s7K3utmeZkRLo9DqnbsDlg5GWxLC/rWKYaZR66CnMEyZ7yBy3v3abKaGGRovLkHNAgWjSSgmUTI1nT5/S2OLxxuDnsC7+BiABLPaqlIE70SzcWZ0swx68Bo2AY9T9ymGqeAM/1T4yRtg0sPB98TpT7WrY5A3iia2UVtLO/xcTt test",
                "ramdisk-id": "ari-01bb5768",
                "reservation-id": "r-046cb3eca3e201d2f",
                "security-groups": "ura-launch-wizard-harry-1",
                "services-domain": "amazonaws.com",
                "services-partition": "aws",
                "tags-instance": { "Name": "test-instance", "Test": "test-tag" },
                "tags-instance-name": "test-instance",
                "tags-instance-test": "test-tag"
            }
        },
        "dynamic": {
            "paths": {
                "instance-identity-document": "/latest/dynamic/instance-identity/document",
                "instance-identity-pkcs": "/latest/dynamic/instance-identity/pkcs7",
                "instance-identity-signature": "/latest/dynamic/instance-identity/signature",
                "fws-instance-monitoring": "/latest/dynamic/fws/instance-monitoring"
            },
            "values": {
                "instance-identity-document": {
                    "accountId": "0123456789",
                    "imageId": "ami-0b69ea66ff7391e80",
                    "availabilityZone": "us-east-1f",
                    "ramdiskId": null,
                    "kernelId": null,
                    "devpayProductCodes": null,
                    "marketplaceProductCodes": null,
                    "version": "2017-09-30",
                    "privateIp": "10.0.7.10",
                    "billingProducts": null,
                    "instanceId": "i-1234567890abcdef0",
                    "pendingTime": "2019-10-31T07:02:24Z",
                    "architecture": "x86_64",
                    "instanceType": "m4.xlarge",
                    "region": "us-east-1"
                },
                "instance-identity-pkcs": "TESTCSqGSIb3DQEHZqCZPIZCZQExCzZJGgUrDgPCGgUZPIZGCSqGSIb3DQEHZaCZJIZEggHderog\nICJhY2NvdW50SWQiIDogIjUxNTPzNjU5NzP4PCIsCiZgImFyY2hpdGVjdHVyZSIgOiZieDg2XzY0\nIirKICZiYXZhaWxhYmlsaXR5Wm9uZSIgOiZidXPtZWFzdC0xYSIsCiZgImJpbGxpbmdQcm9kdWN0\ncyIgOiGudWxsLZogICJkZXZrYXlQcm9kdWN0Q29kZXPiIDogbnVsbCrKICZibWFya2V0cGxhY2VQ\ncm9kdWN0Q29kZXPiIDogbnVsbCrKICZiaW1hZ2VJZCIgOiZiYW1pLTGhODg3ZTQrPWY3NjU0OTP1\nIirKICZiaW5zdGFuY2VJZCIgOiZiaS0rYjU5YTdiN2NlN2UzYmIrYSIsCiZgImluc3RhbmNlVHlr\nZSIgOiZibTQueGxhcmdlIirKICZia2VybmVsSWQiIDogbnVsbCrKICZicGVuZGluZ1RpbWUiIDog\nIjIrPjZtPDPtPDJUPjZ6PzY6NThaIirKICZicHJpdmF0ZUlrIiZ6ICIxNzIuPzEuPzQuNDPiLZog\nICJyYW1kaXNrSWQiIDogbnVsbCrKICZicmVnaW9uIiZ6ICJ1cy1lYXN0LTEiLZogICJ2ZXJzaW9u\nIiZ6ICIyPDE3LTZ5LTPrIgp9ZZZZZZZZPYIGGTCCZRUCZQEraTGcPQsrCQYDVQQGErJVUzEZPGcG\nZ1UECGPQV2FzaGluZ3RvbiGTdGF0ZTEQPZ4GZ1UEGxPHU2VhdHRsZTEgPG4GZ1UEChPXQW1hem9u\nIFdlYiGTZXJ2aWNlcyGPTEPCCQCWukjZ5V4aZzZJGgUrDgPCGgUZoF0rGZYJKoZIhvcNZQkDPQsG\nCSqGSIb3DQEHZTZcGgkqhkiG9r0GCQUxDxcNPjZrPzZyPjZzNzZ1WjZjGgkqhkiG9r0GCQQxFgQU\nN1xlDhvo6cYuGjXZ+mlTW66Ff8rrCQYHKoZIzjgEZrQrPC4CFQCjzjYV1zGUZUxTf6rGO0en/PxR\n3ZIVZK589qSkEaslLdCzeX2GnQ6dz9UeZZZZZZZZ",
                "instance-identity-signature": "TesTTKmBbj+DUw6ut6BOr4mFGpax/k6BhIbsotUHvSIhqv7oKqwB4HZhgGP2Gvcxtz5m3QGUbnwI\nhy33GWxjn7+qfZ/GUeZB1Ilc+3rW/P9G/tGxIB3HtqB6q2J6B4DOh6CJiH+BnrHazGW+bJD406Nz\neP9n/rGEGGm0cGEbbeB=",
                "fws-instance-monitoring": "disabled"
            }
        },
        "userdata": {
            "paths": { "userdata": "/latest/user-data" },
            "values": { "userdata": "MTIzNCxqb2huLHJlYm9vdCx0cnVlCg==" }
        }
    })
}

/// Where a value came from (for messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// An `AEMM_*` variable.
    Env(String),
    /// The config file.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag"),
            Origin::Env(name) => write!(f, "${name}"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Why a configuration was refused (AEMM refuses these too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The config file could not be read, is not a JSON object, or holds a bad value: the
    /// loaders' one error (`FILE:LINE:COL: KEY: MESSAGE`).
    File(LoadError),
    /// A value of the wrong type or shape from a flag or an `AEMM_*` variable.
    Value {
        /// Its key (`mock-delay-sec`).
        key: String,
        /// Where it came from.
        origin: Origin,
        /// Why.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::File(e) => e.fmt(f),
            ConfigError::Value {
                key,
                origin: Origin::Flag,
                message,
            } => write!(f, "flag for `{key}`: {message}"),
            ConfigError::Value {
                key,
                origin,
                message,
            } => write!(f, "{origin}: `{key}`: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The effective configuration: every key with its value after precedence.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    values: BTreeMap<String, Value>,
    /// What was ignored, for stderr (unknown keys and variables, unsupported settings).
    pub warnings: Vec<String>,
    /// The config file read, if any.
    pub file_used: Option<PathBuf>,
    /// Keys set by the file, environment or a flag (not left at their default).
    pub given: Vec<String>,
}

fn flatten(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !OBJECT_KEYS.contains(&prefix) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &key, out);
            }
        }
        _ => out.push((prefix.to_owned(), v.clone())),
    }
}

/// `AEMM_` and the key in capitals, `-` and `.` written `_` (viper's replacer).
pub fn env_name(key: &str) -> String {
    let mut s = String::from("AEMM_");
    s.extend(key.chars().map(|c| match c {
        '-' | '.' => '_',
        c => c.to_ascii_uppercase(),
    }));
    s
}

/// Gives `given` the type of `default` as viper's weak decoding does.
fn coerce(default: &Value, given: &Value) -> Result<Value, String> {
    match (default, given) {
        (Value::String(_), Value::String(_)) => Ok(given.clone()),
        (Value::String(_), Value::Number(n)) => Ok(Value::String(n.to_string())),
        (Value::String(_), Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (Value::Number(_), Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
            .map(Value::from)
            .ok_or_else(|| format!("{n} is not a whole number")),
        (Value::Number(_), Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{s:?} is not a whole number")),
        (Value::Bool(_), Value::Bool(_)) => Ok(given.clone()),
        (Value::Bool(_), Value::String(s)) => parse_bool(s)
            .map(Value::Bool)
            .ok_or_else(|| format!("{s:?} is not true or false")),
        (Value::Object(_), Value::Object(_)) => Ok(given.clone()),
        (Value::Object(_), _) => Err("expected a JSON object".into()),
        (Value::Number(_), _) => Err(format!("expected a whole number, got {given}")),
        (Value::Bool(_), _) => Err(format!("expected true or false, got {given}")),
        _ => Err(format!("expected a string, got {given}")),
    }
}

/// Members of `given` over those of `base`, one level deep (an override of `iam-info` that
/// names only `Code` keeps the rest).
fn merge(base: &Value, given: &Value) -> Value {
    match (base, given) {
        (Value::Object(b), Value::Object(g)) => {
            let mut out = b.clone();
            for (k, v) in g {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        _ => given.clone(),
    }
}

impl Config {
    /// The effective configuration for `cli`, reading the environment from `env`, the
    /// default config file from `home`, and files through `read`. `start` is when the
    /// process started (default event times count from it).
    pub fn load(
        cli: &Cli,
        env: &[(String, String)],
        home: Option<&Path>,
        start: Timestamp,
        read: impl Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Config, ConfigError> {
        let mut flat = Vec::new();
        flatten(&defaults(start), "", &mut flat);
        let mut cfg = Config {
            values: flat.into_iter().collect(),
            warnings: Vec::new(),
            file_used: None,
            given: Vec::new(),
        };
        let env_file = env
            .iter()
            .rev()
            .find(|(k, _)| k == CONFIG_FILE_ENV)
            .map(|(_, v)| v.clone());
        let flag_file = cli.flags.get("config-file").and_then(Value::as_str);
        let explicit = flag_file.map(str::to_owned).or(env_file);
        match (&explicit, home) {
            (Some(p), _) => {
                let path = PathBuf::from(p);
                let text =
                    read(&path).map_err(|e| ConfigError::File(imds_diag::unreadable(&path, &e)))?;
                cfg.apply_file(&path, &text)?;
            }
            (None, Some(home)) => {
                let path = home.join("aemm-config.json");
                if let Ok(text) = read(&path) {
                    cfg.apply_file(&path, &text)?;
                }
            }
            (None, None) => {}
        }
        cfg.apply_env(env)?;
        for (key, v) in &cli.flags {
            cfg.set(key, v, Origin::Flag)?;
        }
        cfg.follow_mac();
        Ok(cfg)
    }

    /// Parses a config file's text and applies it (the file layer only), for tests and fuzzing.
    pub fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let src = Source::json(path, text);
        let json: Value = src.parse().map_err(ConfigError::File)?;
        if !json.is_object() {
            return Err(ConfigError::File(
                src.at_field(&[], "the config file must hold a JSON object"),
            ));
        }
        self.file_used = Some(path.to_owned());
        let mut flat = Vec::new();
        flatten(&json, "", &mut flat);
        // A flattened key (`metadata.values.mac`) is the path of object keys it came from.
        let at = |key: &str| -> Vec<Seg> { key.split('.').map(Seg::key).collect() };
        for (key, v) in flat {
            if self.values.contains_key(&key) {
                self.set(&key, &v, Origin::File(path.to_owned()))
                    .map_err(|e| match e {
                        ConfigError::Value { message, .. } => {
                            ConfigError::File(src.at_field(&at(&key), message))
                        }
                        other => other,
                    })?;
            } else {
                let hint = did_you_mean(&key, self.values.keys().map(String::as_str));
                let warning = src.at_field(&at(&key), format!("unknown key `{key}` ignored{hint}"));
                self.warnings.push(warning.to_string());
            }
        }
        Ok(())
    }

    /// As AEMM does, paths left at their default follow a changed MAC, so a saved config
    /// shows the paths served.
    pub fn follow_mac(&mut self) {
        let mac = self.str("metadata.values.mac").to_owned();
        if mac == DEFAULT_MAC || mac.is_empty() {
            return;
        }
        let keys: Vec<String> = self
            .values
            .keys()
            .filter(|k| k.starts_with("metadata.paths.") && !self.is_given(k))
            .cloned()
            .collect();
        for key in keys {
            if let Some(Value::String(p)) = self.values.get_mut(&key) {
                *p = p.replace(DEFAULT_MAC, &mac);
            }
        }
    }

    /// Applies the `AEMM_*` variables (the environment layer only).
    pub fn apply_env(&mut self, env: &[(String, String)]) -> Result<(), ConfigError> {
        let names: BTreeMap<String, String> = self
            .values
            .iter()
            .filter(|(k, v)| !v.is_object() && k.as_str() != "config-file")
            .map(|(k, _)| (env_name(k), k.clone()))
            .collect();
        for (name, value) in env {
            if !name.starts_with("AEMM_") || name == CONFIG_FILE_ENV {
                continue;
            }
            match names.get(name) {
                Some(key) => {
                    let key = key.clone();
                    self.set(
                        &key,
                        &Value::String(value.clone()),
                        Origin::Env(name.clone()),
                    )?;
                }
                None => {
                    let hint = did_you_mean(name, names.keys().map(String::as_str));
                    self.warnings
                        .push(format!("unknown environment variable {name} ignored{hint}"));
                }
            }
        }
        if let Some((_, v)) = env.iter().rev().find(|(k, _)| k == CONFIG_FILE_ENV) {
            self.values
                .insert("config-file".into(), Value::String(v.clone()));
        }
        Ok(())
    }

    fn set(&mut self, key: &str, v: &Value, origin: Origin) -> Result<(), ConfigError> {
        let Some(default) = self.values.get(key) else {
            return Err(ConfigError::Value {
                key: key.into(),
                origin,
                message: "unknown key".into(),
            });
        };
        let value = coerce(default, v).map_err(|message| ConfigError::Value {
            key: key.into(),
            origin: origin.clone(),
            message,
        })?;
        // Tags are a set: a new one replaces the defaults; other objects are merged.
        let value = if value.is_object() && key != "metadata.values.tags-instance" {
            merge(default, &value)
        } else {
            value
        };
        self.values.insert(key.to_owned(), value);
        if !self.given.iter().any(|g| g == key) {
            self.given.push(key.to_owned());
        }
        Ok(())
    }

    /// The value of `key` (`Null` when unknown).
    pub fn get(&self, key: &str) -> &Value {
        self.values.get(key).unwrap_or(&Value::Null)
    }

    /// A string key's value (`""` when unknown or not a string).
    pub fn str(&self, key: &str) -> &str {
        self.get(key).as_str().unwrap_or("")
    }

    /// A number key's value (0 when unknown).
    pub fn int(&self, key: &str) -> i64 {
        self.get(key).as_i64().unwrap_or(0)
    }

    /// A boolean key's value (false when unknown).
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).as_bool().unwrap_or(false)
    }

    /// Whether `key` was set by the file, the environment or a flag.
    pub fn is_given(&self, key: &str) -> bool {
        self.given.iter().any(|g| g == key)
    }

    /// The effective configuration in AEMM's file shape (what `-s` writes), pretty JSON.
    pub fn to_json(&self) -> String {
        let mut root = Map::new();
        for (key, v) in &self.values {
            let mut parts: Vec<&str> = key.split('.').collect();
            let last = parts.pop().unwrap_or_default();
            let mut node = &mut root;
            for p in parts {
                let entry = node
                    .entry(p.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                let Value::Object(m) = entry else {
                    return String::new();
                };
                node = m;
            }
            node.insert(last.to_owned(), v.clone());
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(root)).unwrap_or_default();
        text.push('\n');
        text
    }

    /// All known keys (for the environment-variable table and tests).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// `; did you mean `KEY`?` for the known name nearest a typo, else nothing (the project's one
/// suggestion rule, `imds_diag::suggest`).
fn did_you_mean<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    imds_diag::suggest(unknown, known)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}
