//! From an effective AEMM configuration to what imdspec serves: an instance, its options, a
//! scenario (notices at AEMM's times, `notice-clients` from `mock-ip-count`) and an address.

use std::collections::BTreeMap;
use std::time::Duration;

use imds_model::instance::{IamRole, NetworkInterface, PublicKey};
use imds_model::scenario::{
    Action, Entry, EventTime, NewEvent, SpotKind, Trigger, When, event_date,
};
use imds_model::{HopLimit, HttpTokens, Instance, MetadataOptions, Scenario, Timestamp, Toggle};
use serde_json::Value;

use crate::args::Command;
use crate::config::{Config, DEFAULT_MAC};

/// What to serve and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The instance content (AEMM's values in EC2's layout).
    pub instance: Instance,
    /// The options: `imdsv2` → `HttpTokens=required`; tags on (AEMM always serves them).
    pub options: MetadataOptions,
    /// The notices over time.
    pub scenario: Scenario,
    /// `server.hostname` (default `0.0.0.0`).
    pub host: String,
    /// `server.port` (default 1338).
    pub port: u16,
    /// Settings read but not acted on, for stderr.
    pub warnings: Vec<String>,
}

/// A setting imdspec cannot serve (AEMM refuses these too, or they break EC2's rules).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError {
    /// The config key (`spot.action`).
    pub key: String,
    /// Why.
    pub message: String,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for PlanError {}

fn bad<T>(key: &str, message: impl Into<String>) -> Result<T, PlanError> {
    Err(PlanError {
        key: key.into(),
        message: message.into(),
    })
}

/// Parses an RFC 3339 time (`2020-01-07T01:03:47Z`, fractions and `+hh:mm` offsets too).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.len() < 20 || !s.is_char_boundary(19) {
        return None;
    }
    let (head, mut tail) = s.split_at(19);
    if let Some(frac) = tail.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        tail = &frac[digits..];
    }
    let base = Timestamp::parse_iso8601(&format!("{head}Z"))?;
    let offset: i64 = match tail {
        "Z" | "z" => 0,
        _ => {
            let b = tail.as_bytes();
            if b.len() != 6 || b[3] != b':' || !matches!(b[0], b'+' | b'-') {
                return None;
            }
            let h: i64 = tail[1..3].parse().ok()?;
            let m: i64 = tail[4..6].parse().ok()?;
            if h > 23
                || m > 59
                || !tail[1..3]
                    .bytes()
                    .chain(tail[4..6].bytes())
                    .all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let o = h * 3600 + m * 60;
            if b[0] == b'-' { -o } else { o }
        }
    };
    let secs = i64::try_from(base.as_secs()).ok()?.checked_sub(offset)?;
    // HTTP dates (and EC2's event dates built from them) end with the year 9999.
    const YEAR_10000: i64 = 253_402_300_800;
    if secs >= YEAR_10000 {
        return None;
    }
    u64::try_from(secs).ok().map(Timestamp::from_secs)
}

fn time(cfg: &Config, key: &str) -> Result<Timestamp, PlanError> {
    let s = cfg.str(key);
    parse_rfc3339(s).map_or_else(
        || {
            bad(
                key,
                format!("{s:?} is not an RFC 3339 time like 2020-01-07T01:03:47Z"),
            )
        },
        Ok,
    )
}

/// AEMM's timing: a trigger time wins; else `delay` whole seconds after the start's second.
fn due(
    cfg: &Config,
    delay_key: &str,
    trigger_key: &str,
    start: Timestamp,
) -> Result<Trigger, PlanError> {
    if !cfg.str(trigger_key).is_empty() {
        return time(cfg, trigger_key).map(Trigger::At);
    }
    let delay = cfg.int(delay_key);
    let at = i64::try_from(start.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(delay)
        .max(0);
    Ok(Trigger::At(Timestamp::from_secs(at.unsigned_abs())))
}

/// AEMM values are strings; several values are written one a line.
fn lines(s: &str) -> Vec<String> {
    s.split(['\n', ','])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn some(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

fn member<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Builds the instance from `metadata.values`, `dynamic.values` and `userdata.values`.
fn instance(cfg: &Config, warnings: &mut Vec<String>) -> Result<Instance, PlanError> {
    let v = |k: &str| cfg.str(&format!("metadata.values.{k}")).to_owned();
    let key = |k: &str| format!("metadata.values.{k}");
    // Starting from imdspec's default keeps the fields AEMM has no key for (rsa2048, the
    // identity credentials); every other field is set below.
    let mut i = Instance {
        instance_id: v("instance-id"),
        ..Instance::default()
    };
    i.ami_id = v("ami-id");
    i.ami_launch_index = match v("ami-launch-index").trim().parse() {
        Ok(n) => n,
        Err(_) => return bad(&key("ami-launch-index"), "not a whole number"),
    };
    i.ami_manifest_path = v("ami-manifest-path");
    i.instance_type = v("instance-type");
    i.instance_action = v("instance-action");
    i.instance_life_cycle = v("instance-life-cycle");
    i.kernel_id = some(&v("kernel-id"));
    i.ramdisk_id = some(&v("ramdisk-id"));
    i.hostname = v("hostname");
    i.local_hostname = v("local-hostname");
    i.local_ipv4 = some(&v("local-ipv4"));
    i.public_hostname = some(&v("public-hostname"));
    i.public_ipv4 = some(&v("public-ipv4"));
    i.reservation_id = v("reservation-id");
    i.security_groups = lines(&v("security-groups"));
    i.product_codes = lines(&v("product-codes"));
    i.placement.region = v("placement-region");
    i.placement.availability_zone = v("placement-availability-zone");
    i.placement.availability_zone_id = v("placement-availability-zone-id");
    i.placement.group_name = some(&v("placement-group-name"));
    i.placement.host_id = some(&v("placement-host-id"));
    i.placement.partition_number = match some(&v("placement-partition-number")) {
        None => None,
        Some(n) => match n.trim().parse() {
            Ok(n) => Some(n),
            Err(_) => return bad(&key("placement-partition-number"), "not a whole number"),
        },
    };
    i.services.domain = v("services-domain");
    i.services.partition = v("services-partition");
    let mut bdm = BTreeMap::new();
    for (name, k) in [
        ("ami", "block-device-mapping-ami"),
        ("ebs0", "block-device-mapping-ebs"),
        ("ephemeral0", "block-device-mapping-ephemeral"),
        ("root", "block-device-mapping-root"),
        ("swap", "block-device-mapping-swap"),
    ] {
        if let Some(dev) = some(&v(k)) {
            bdm.insert(name.to_owned(), dev);
        }
    }
    i.block_device_mapping = bdm;

    let num = |k: &str| -> Result<u32, PlanError> {
        v(k).trim()
            .parse()
            .or_else(|_| bad(&key(k), "not a whole number"))
    };
    let mac = v("mac");
    if v("mac-mac") != mac && v("mac-mac") != DEFAULT_MAC {
        warnings.push(format!(
            "metadata.values.mac-mac ({}) differs from metadata.values.mac ({mac}); EC2 serves \
             one MAC in both places, so mac is used (SPEC.md §3.12)",
            v("mac-mac")
        ));
    }
    let card = num("mac-network-interface-card-index")?;
    // A card above 0 exists only on a multi-card instance type (SPEC.md R3.12.4).
    i.network_cards = i.network_cards.max(card.saturating_add(1));
    i.network_interfaces = vec![NetworkInterface {
        mac,
        device_number: num("mac-device-number")?,
        network_card: card,
        interface_id: v("mac-network-interface-id"),
        local_hostname: v("mac-local-hostname"),
        local_ipv4s: lines(&v("mac-local-ipv4s")),
        public_hostname: some(&v("mac-public-hostname")),
        public_ipv4s: lines(&v("mac-public-ipv4s")),
        ipv6s: lines(&v("mac-ipv6-associations")),
        security_groups: lines(&v("mac-security-groups")),
        security_group_ids: lines(&v("mac-security-group-ids")),
        subnet_id: v("mac-subnet-id"),
        subnet_ipv4_cidr_block: v("mac-subnet-ipv4-cidr-block"),
        subnet_ipv6_cidr_blocks: lines(&v("mac-subnet-ipv6-cidr-blocks")),
        vpc_id: v("mac-vpc-id"),
        vpc_ipv4_cidr_block: v("mac-vpc-ipv4-cidr-block"),
        vpc_ipv4_cidr_blocks: lines(&v("mac-vpc-ipv4-cidr-blocks")),
        vpc_ipv6_cidr_blocks: lines(&v("mac-vpc-ipv6-cidr-blocks")),
        ..NetworkInterface::default()
    }];
    i.ipv6 = lines(&v("mac-ipv6-associations")).into_iter().next();
    i.public_keys = match some(&v("public-key")) {
        None => Vec::new(),
        Some(k) => {
            let parts: Vec<&str> = k.split_whitespace().collect();
            let name = if parts.len() >= 3 {
                parts[2]
            } else {
                "aemm-key"
            };
            vec![PublicKey {
                name: name.to_owned(),
                openssh_key: k.clone(),
            }]
        }
    };

    let info = cfg.get("metadata.values.iam-info");
    let creds = cfg.get("metadata.values.iam-security-credentials");
    let role = v("iam-security-credentials-role");
    i.iam = some(&role).map(|role_name| {
        let mut r = IamRole {
            role_name,
            ..IamRole::default()
        };
        if let Some(s) = member(info, "InstanceProfileArn") {
            r.instance_profile_arn = s.to_owned();
        }
        if let Some(s) = member(info, "InstanceProfileId") {
            r.instance_profile_id = s.to_owned();
        }
        let c = &mut r.credentials;
        for (field, k) in [
            (&mut c.access_key_id, "AccessKeyId"),
            (&mut c.secret_access_key, "SecretAccessKey"),
            (&mut c.token, "Token"),
        ] {
            if let Some(s) = member(creds, k) {
                *field = s.to_owned();
            }
        }
        // AEMM's default times are fixed in 2020 (long expired); EC2's credentials always
        // expire in the future, so only times other than those defaults are kept and the
        // model's rolling times stand in for them (SPEC.md §3.9).
        let defaults = crate::config::defaults(Timestamp::from_secs(0));
        let default_creds = &defaults["metadata"]["values"]["iam-security-credentials"];
        let changed = ["LastUpdated", "Expiration"]
            .iter()
            .any(|k| member(creds, k) != member(default_creds, k));
        if changed {
            c.last_updated = member(creds, "LastUpdated").map(str::to_owned);
            c.expiration = member(creds, "Expiration").map(str::to_owned);
        }
        r
    });

    i.tags = match cfg.get("metadata.values.tags-instance") {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                (k.clone(), v)
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    // The per-tag keys count only when changed from AEMM's defaults, so a saved config
    // (which lists them) reads back to the same tags.
    for (k, tag, default) in [
        ("tags-instance-name", "Name", "test-instance"),
        ("tags-instance-test", "Test", "test-tag"),
    ] {
        if v(k) != default {
            i.tags.insert(tag.to_owned(), v(k));
        }
    }

    let doc = cfg.get("dynamic.values.instance-identity-document");
    if let Some(a) = member(doc, "accountId") {
        i.account_id = a.to_owned();
    }
    if let Some(a) = member(doc, "architecture") {
        i.architecture = a.to_owned();
    }
    if let Some(t) = member(doc, "pendingTime") {
        i.launch_time = t.to_owned();
    }
    i.identity_signatures.pkcs7 = cfg.str("dynamic.values.instance-identity-pkcs").to_owned();
    i.identity_signatures.signature = cfg
        .str("dynamic.values.instance-identity-signature")
        .to_owned();
    i.instance_monitoring = cfg.str("dynamic.values.fws-instance-monitoring").to_owned();

    let ud = cfg.str("userdata.values.userdata");
    i.user_data = None;
    i.user_data_base64 = None;
    if !ud.is_empty() {
        use base64::Engine as _;
        if base64::engine::general_purpose::STANDARD
            .decode(ud)
            .is_err()
        {
            return bad(
                "userdata.values.userdata",
                "not base64 (AEMM decodes it before serving)",
            );
        }
        i.user_data_base64 = Some(ud.to_owned());
    }
    i.maintenance_events = Default::default();
    i.identity_credentials = Instance::default().identity_credentials;

    if let Err((field, message)) = i.validate() {
        return bad("metadata.values", format!("{field}: {message}"));
    }
    Ok(i)
}

/// Warns about `*.paths` settings that move a path: `imdspec aemm` serves the value there, as
/// AEMM does, but `imdspec serve --aemm-config` serves EC2's paths.
fn path_warnings(cfg: &Config, warnings: &mut Vec<String>) {
    let mac = cfg.str("metadata.values.mac");
    let defaults = crate::config::defaults(Timestamp::from_secs(0));
    for key in cfg.keys() {
        let is_path = ["metadata.paths.", "dynamic.paths.", "userdata.paths."]
            .iter()
            .any(|p| key.starts_with(p));
        if !is_path || !cfg.is_given(key) {
            continue;
        }
        let mut default = &defaults;
        for part in key.split('.') {
            default = &default[part];
        }
        let expected = default.as_str().unwrap_or("").replace(DEFAULT_MAC, mac);
        if cfg.str(key) != expected {
            warnings.push(format!(
                "`{key}` = {:?}: imdspec aemm serves the value there; imdspec serve \
                 --aemm-config keeps EC2's path ({expected})",
                cfg.str(key)
            ));
        }
    }
}

fn spot_kind(cfg: &Config) -> Result<SpotKind, PlanError> {
    cfg.str("spot.action").parse().or_else(|_| {
        bad(
            "spot.action",
            format!(
                "{:?}: use terminate, hibernate or stop",
                cfg.str("spot.action")
            ),
        )
    })
}

/// Turns an effective configuration into what to serve, for `command`, with `start` as
/// the process start.
pub fn plan(cfg: &Config, command: Command, start: Timestamp) -> Result<Plan, PlanError> {
    let mut warnings = Vec::new();
    path_warnings(cfg, &mut warnings);
    if cfg.bool("watch-config-file") {
        warnings.push("watch-config-file: the config file is read once at start".into());
    }
    let mut instance = instance(cfg, &mut warnings)?;
    let mut entries = Vec::new();

    // Checked whatever the subcommand, as AEMM validates every family's settings.
    let kind = spot_kind(cfg)?;
    let code = cfg.str("events.code");
    if !imds_model::scenario::EVENT_CODES.contains(&code) {
        return bad(
            "events.code",
            format!(
                "{code:?}: use one of {}",
                imds_model::scenario::EVENT_CODES.join(", ")
            ),
        );
    }
    let state = cfg.str("events.state");
    if !["active", "completed", "canceled"].contains(&state) {
        return bad(
            "events.state",
            format!("{state:?}: use active, completed or canceled"),
        );
    }
    let event_times = [
        time(cfg, "events.not-before")?,
        time(cfg, "events.not-after")?,
        time(cfg, "events.not-before-deadline")?,
    ];
    let notice = due(cfg, "mock-delay-sec", "mock-trigger-time", start)?;
    let rebalance = due(cfg, "rebalance-delay-sec", "rebalance-trigger-time", start)?;
    let asg = due(
        cfg,
        "asg-termination-delay-sec",
        "asg-termination-trigger-time",
        start,
    )?;
    let spot_time = match cfg.str("spot.time") {
        "" => When::Plus(Duration::from_secs(120)),
        _ => When::At(time(cfg, "spot.time")?),
    };
    let rebalance_time = match cfg.str("spot.rebalance-rec-time") {
        "" => None,
        _ => Some(When::At(time(cfg, "spot.rebalance-rec-time")?)),
    };

    if command.spot() {
        entries.push(Entry {
            trigger: notice,
            action: Action::SpotInterruption {
                action: kind,
                time: spot_time,
            },
        });
        entries.push(Entry {
            trigger: rebalance,
            action: Action::RebalanceRecommendation {
                notice_time: rebalance_time,
            },
        });
    }
    if command.events() {
        let [nb, na, nbd] = event_times.map(|t| EventTime::Fixed(event_date(t)));
        entries.push(Entry {
            trigger: notice,
            action: Action::MaintenanceEvent(NewEvent {
                code: code.to_owned(),
                state: state.to_owned(),
                description: format!("The instance is scheduled for {code}"),
                id: Some(cfg.str("metadata.values.event-id").to_owned()),
                not_before: nb,
                not_after: Some(na),
                not_before_deadline: Some(nbd),
            }),
        });
    }
    if command.asg() {
        instance.autoscaling_target_lifecycle_state = Some("InService".into());
        entries.push(Entry::asg_termination(asg));
    }
    let ip_count = cfg.int("mock-ip-count");
    let scenario = Scenario {
        entries,
        notice_clients: u32::try_from(ip_count)
            .ok()
            .or((ip_count >= 0).then_some(u32::MAX)),
    };

    let options = MetadataOptions {
        http_tokens: if cfg.bool("imdsv2") {
            HttpTokens::Required
        } else {
            HttpTokens::Optional
        },
        // AEMM answers any number of hops (it runs behind Kubernetes services); so does this.
        http_put_response_hop_limit: HopLimit::new(64).unwrap_or_default(),
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    };
    let port_s = cfg.str("server.port");
    let Ok(port) = port_s.trim().parse::<u16>() else {
        return bad("server.port", format!("{port_s:?} is not a port number"));
    };
    let host = match cfg.str("server.hostname") {
        "" => "0.0.0.0".to_owned(),
        h => h.to_owned(),
    };
    Ok(Plan {
        instance,
        options,
        scenario,
        host,
        port,
        warnings,
    })
}
