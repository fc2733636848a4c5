//! The metadata path tree built from an [`Instance`]: directories, leaves, and the version
//! ("since") and option gates that decide what each request can see.

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::instance::{Credentials, Instance, MaintenanceEvent};
use crate::version::Version;

/// What must be switched on for a node to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Always served.
    Always,
    /// Only with `InstanceMetadataTags=enabled`.
    Tags,
}

/// A leaf body: fixed bytes, or content that depends on the clock.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    Static(Bytes),
    /// `iam/info`.
    IamInfo,
    /// `iam/security-credentials/<role>` (and the extended form, with `AccountId`).
    RoleCredentials {
        extended: bool,
    },
    /// `identity-credentials/ec2/info`.
    IdentityInfo,
    /// `identity-credentials/ec2/security-credentials/ec2-instance`.
    IdentityCredentials,
}

/// One line of a directory listing and the child it leads to.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    /// The line as served (`iam/`, `0=my-key`, `meta-data`).
    pub line: String,
    /// The path segment it names.
    pub segment: String,
    pub since: Version,
    pub gate: Gate,
}

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Dir { children: Vec<Child> },
    Leaf { body: Body },
}

#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub node: Node,
    pub since: Version,
    pub gate: Gate,
}

/// The whole path space under one version prefix, keyed by the path below it
/// (`""` is the version root, `meta-data/iam` a directory).
#[derive(Clone, Debug)]
pub(crate) struct Tree {
    pub nodes: HashMap<String, Entry>,
    pub last_modified: String,
    launch: Timestamp,
    instance: Instance,
}

/// Directories whose listing keeps the documented (non-alphabetical) order.
const ORDERED_DIRS: &[&str] = &["dynamic/instance-identity"];

struct Builder {
    nodes: HashMap<String, Entry>,
}

impl Builder {
    fn dir_entry(&mut self, path: &str, since: Version, gate: Gate) {
        let e = self.nodes.entry(path.to_owned()).or_insert(Entry {
            node: Node::Dir {
                children: Vec::new(),
            },
            since,
            gate,
        });
        e.since = e.since.min(since);
        if gate == Gate::Always {
            e.gate = Gate::Always;
        }
    }

    /// Adds `path` (a leaf, or a directory when `leaf` is None) and every parent directory,
    /// with listing lines; `line` overrides how the last segment is listed.
    fn add(
        &mut self,
        path: &str,
        since: Version,
        gate: Gate,
        leaf: Option<Body>,
        line: Option<String>,
    ) {
        let segments: Vec<&str> = path.split('/').collect();
        self.dir_entry("", since, gate);
        for depth in 0..segments.len() {
            let parent = segments[..depth].join("/");
            let here = segments[..=depth].join("/");
            let last = depth + 1 == segments.len();
            let is_dir = !last || leaf.is_none();
            let text = match (&line, last) {
                (Some(l), true) => l.clone(),
                _ if parent.is_empty() => segments[depth].to_owned(),
                _ if is_dir => format!("{}/", segments[depth]),
                _ => segments[depth].to_owned(),
            };
            if let Some(Entry {
                node: Node::Dir { children },
                ..
            }) = self.nodes.get_mut(&parent)
            {
                match children.iter_mut().find(|c| c.segment == segments[depth]) {
                    Some(c) => {
                        c.since = c.since.min(since);
                        if gate == Gate::Always {
                            c.gate = Gate::Always;
                        }
                    }
                    None => children.push(Child {
                        line: text,
                        segment: segments[depth].to_owned(),
                        since,
                        gate,
                    }),
                }
            }
            if is_dir {
                self.dir_entry(&here, since, gate);
            }
        }
        if let Some(body) = leaf {
            self.nodes.insert(
                path.to_owned(),
                Entry {
                    node: Node::Leaf { body },
                    since,
                    gate,
                },
            );
        }
    }

    fn leaf(&mut self, path: &str, since: Version, body: impl Into<Bytes>) {
        self.add(
            path,
            since,
            Gate::Always,
            Some(Body::Static(body.into())),
            None,
        );
    }

    fn lines(&mut self, path: &str, since: Version, items: &[String]) {
        if !items.is_empty() {
            self.leaf(path, since, items.join("\n"));
        }
    }

    fn opt(&mut self, path: &str, since: Version, value: &Option<String>) {
        if let Some(v) = value {
            self.leaf(path, since, v.clone());
        }
    }
}

const fn v(y: u32, m: u32, d: u32) -> Version {
    Version::dated(y, m, d)
}

impl Tree {
    /// Builds the tree for `instance`. Since-versions follow the spec's §5 table.
    pub fn build(instance: &Instance) -> Tree {
        let i = instance;
        let mut b = Builder {
            nodes: HashMap::new(),
        };
        let v1 = Version::V1_0;
        let md = |p: &str| format!("meta-data/{p}");

        b.leaf(&md("ami-id"), v1, i.ami_id.clone());
        b.leaf(&md("ami-launch-index"), v1, i.ami_launch_index.to_string());
        b.leaf(&md("ami-manifest-path"), v1, i.ami_manifest_path.clone());
        b.lines(
            &md("ancestor-ami-ids"),
            v(2007, 10, 10),
            &i.ancestor_ami_ids,
        );
        if let Some(state) = &i.autoscaling_target_lifecycle_state {
            b.leaf(
                &md("autoscaling/target-lifecycle-state"),
                v(2021, 7, 15),
                state.clone(),
            );
        }
        for (name, device) in &i.block_device_mapping {
            b.leaf(
                &md(&format!("block-device-mapping/{name}")),
                v(2007, 12, 15),
                device.clone(),
            );
        }
        // SPEC.md §3.11: with no events EC2 answers `[]` (a 2020 crawl), so both leaves always
        // exist; NTH polls `scheduled` and wants a 2xx array.
        b.leaf(
            &md("events/maintenance/history"),
            v(2018, 8, 17),
            events_json(&i.maintenance_events.history),
        );
        b.leaf(
            &md("events/maintenance/scheduled"),
            v(2018, 8, 17),
            events_json(&i.maintenance_events.scheduled),
        );
        if let Some(t) = &i.rebalance_notice_time {
            b.leaf(
                &md("events/recommendations/rebalance"),
                v(2020, 10, 27),
                json!({"noticeTime": t}).to_string(),
            );
        }
        b.leaf(&md("hostname"), v1, i.hostname.clone());
        if let Some(role) = &i.iam {
            let since = v(2012, 1, 12);
            b.add(
                &md("iam/info"),
                since,
                Gate::Always,
                Some(Body::IamInfo),
                None,
            );
            b.add(
                &md(&format!("iam/security-credentials/{}", role.role_name)),
                since,
                Gate::Always,
                Some(Body::RoleCredentials { extended: false }),
                None,
            );
            if role.extended_credentials {
                b.add(
                    &md(&format!(
                        "iam/security-credentials-extended/{}",
                        role.role_name
                    )),
                    Version::LATEST,
                    Gate::Always,
                    Some(Body::RoleCredentials { extended: true }),
                    None,
                );
            }
        }
        if i.identity_credentials.is_some() {
            let since = v(2018, 5, 23);
            b.add(
                &md("identity-credentials/ec2/info"),
                since,
                Gate::Always,
                Some(Body::IdentityInfo),
                None,
            );
            b.add(
                &md("identity-credentials/ec2/security-credentials/ec2-instance"),
                since,
                Gate::Always,
                Some(Body::IdentityCredentials),
                None,
            );
        }
        b.leaf(
            &md("instance-action"),
            v(2008, 9, 1),
            i.instance_action.clone(),
        );
        b.leaf(&md("instance-id"), v1, i.instance_id.clone());
        b.leaf(
            &md("instance-life-cycle"),
            v(2019, 10, 1),
            i.instance_life_cycle.clone(),
        );
        b.leaf(
            &md("instance-type"),
            v(2007, 8, 29),
            i.instance_type.clone(),
        );
        b.opt(&md("ipv6"), v(2021, 1, 3), &i.ipv6);
        b.opt(&md("kernel-id"), v(2008, 2, 1), &i.kernel_id);
        b.leaf(
            &md("local-hostname"),
            v(2007, 1, 19),
            i.local_hostname.clone(),
        );
        b.opt(&md("local-ipv4"), v1, &i.local_ipv4);
        b.leaf(&md("mac"), v(2011, 1, 1), i.mac().to_owned());
        for eni in &i.network_interfaces {
            let base = md(&format!("network/interfaces/macs/{}", eni.mac));
            let p = |leaf: &str| format!("{base}/{leaf}");
            let v11 = v(2011, 1, 1);
            b.leaf(&p("device-number"), v11, eni.device_number.to_string());
            b.leaf(&p("interface-id"), v11, eni.interface_id.clone());
            for (public, private) in eni.public_ipv4s.iter().zip(eni.local_ipv4s.iter().cycle()) {
                b.leaf(
                    &p(&format!("ipv4-associations/{public}")),
                    v11,
                    private.clone(),
                );
            }
            b.lines(&p("ipv6s"), v(2016, 6, 30), &eni.ipv6s);
            b.leaf(
                &p("local-hostname"),
                v(2007, 1, 19),
                eni.local_hostname.clone(),
            );
            b.lines(&p("local-ipv4s"), v11, &eni.local_ipv4s);
            b.leaf(&p("mac"), v11, eni.mac.clone());
            // SPEC.md R3.12.4: the current category table lists `network-card` (editions
            // before it listed `network-card-index`, which EC2 does not serve). Single-card
            // instance types, most of them, answer 404 for it; AWS's VPC CNI takes that as card 0.
            if i.network_cards > 1 {
                b.leaf(
                    &p("network-card"),
                    v(2020, 11, 1),
                    eni.network_card.to_string(),
                );
            }
            // SPEC.md §3.12: delegated prefixes, one per line, 404 when there are none. The
            // table gives no release version; prefix delegation arrived in 2021, so the last
            // dated version is our guess.
            b.lines(&p("ipv4-prefix"), v(2021, 7, 15), &eni.ipv4_prefixes);
            b.lines(&p("ipv6-prefix"), v(2021, 7, 15), &eni.ipv6_prefixes);
            b.leaf(&p("owner-id"), v11, i.account_id.clone());
            b.opt(&p("public-hostname"), v11, &eni.public_hostname);
            b.lines(&p("public-ipv4s"), v11, &eni.public_ipv4s);
            b.lines(&p("security-group-ids"), v11, &eni.security_group_ids);
            b.lines(&p("security-groups"), v11, &eni.security_groups);
            b.leaf(&p("subnet-id"), v11, eni.subnet_id.clone());
            b.leaf(
                &p("subnet-ipv4-cidr-block"),
                v11,
                eni.subnet_ipv4_cidr_block.clone(),
            );
            b.lines(
                &p("subnet-ipv6-cidr-blocks"),
                v(2016, 6, 30),
                &eni.subnet_ipv6_cidr_blocks,
            );
            b.leaf(&p("vpc-id"), v11, eni.vpc_id.clone());
            b.leaf(
                &p("vpc-ipv4-cidr-block"),
                v11,
                eni.vpc_ipv4_cidr_block.clone(),
            );
            b.lines(
                &p("vpc-ipv4-cidr-blocks"),
                v(2016, 6, 30),
                &eni.vpc_ipv4_cidr_blocks,
            );
            b.lines(
                &p("vpc-ipv6-cidr-blocks"),
                v(2016, 6, 30),
                &eni.vpc_ipv6_cidr_blocks,
            );
        }
        let pl = &i.placement;
        b.leaf(
            &md("placement/availability-zone"),
            v(2008, 2, 1),
            pl.availability_zone.clone(),
        );
        b.leaf(
            &md("placement/availability-zone-id"),
            v(2019, 10, 1),
            pl.availability_zone_id.clone(),
        );
        b.opt(&md("placement/group-name"), v(2020, 8, 24), &pl.group_name);
        b.opt(&md("placement/host-id"), v(2020, 8, 24), &pl.host_id);
        b.opt(
            &md("placement/partition-number"),
            v(2020, 8, 24),
            &pl.partition_number.map(|n| n.to_string()),
        );
        b.leaf(&md("placement/region"), v(2020, 8, 24), pl.region.clone());
        b.lines(&md("product-codes"), v(2007, 3, 1), &i.product_codes);
        b.leaf(&md("profile"), v1, i.profile.clone());
        b.opt(&md("public-hostname"), v(2007, 1, 19), &i.public_hostname);
        b.opt(&md("public-ipv4"), v(2007, 1, 19), &i.public_ipv4);
        for (n, key) in i.public_keys.iter().enumerate() {
            b.add(
                &md(&format!("public-keys/{n}")),
                v1,
                Gate::Always,
                None,
                Some(format!("{n}={}", key.name)),
            );
            b.leaf(
                &md(&format!("public-keys/{n}/openssh-key")),
                v1,
                key.openssh_key.clone(),
            );
        }
        b.opt(&md("ramdisk-id"), v(2007, 10, 10), &i.ramdisk_id);
        b.leaf(&md("reservation-id"), v1, i.reservation_id.clone());
        b.lines(&md("security-groups"), v1, &i.security_groups);
        b.leaf(
            &md("services/domain"),
            v(2014, 2, 25),
            i.services.domain.clone(),
        );
        b.leaf(
            &md("services/partition"),
            v(2015, 10, 20),
            i.services.partition.clone(),
        );
        if let Some(a) = &i.spot_instance_action {
            b.leaf(
                &md("spot/instance-action"),
                v(2016, 11, 15),
                json!({"action": a.action, "time": a.time}).to_string(),
            );
        }
        b.opt(
            &md("spot/termination-time"),
            v(2014, 11, 5),
            &i.spot_termination_time,
        );
        // The tags directory exists (empty) when tags are on, so `tags/instance` answers.
        b.add(&md("tags/instance"), v(2021, 3, 23), Gate::Tags, None, None);
        for (key, value) in &i.tags {
            b.add(
                &md(&format!("tags/instance/{key}")),
                v(2021, 3, 23),
                Gate::Tags,
                Some(Body::Static(Bytes::from(value.clone()))),
                None,
            );
        }

        let d = v(2009, 4, 4);
        b.leaf(
            "dynamic/fws/instance-monitoring",
            d,
            i.instance_monitoring.clone(),
        );
        let sig = &i.identity_signatures;
        b.leaf("dynamic/instance-identity/rsa2048", d, sig.rsa2048.clone());
        b.leaf("dynamic/instance-identity/pkcs7", d, sig.pkcs7.clone());
        b.leaf(
            "dynamic/instance-identity/document",
            d,
            identity_document(i),
        );
        b.leaf(
            "dynamic/instance-identity/signature",
            d,
            sig.signature.clone(),
        );
        b.leaf("dynamic/instance-identity/dsa2048", d, sig.dsa2048.clone());

        if let Some(data) = i.user_data_bytes() {
            b.leaf("user-data", v1, data);
        }

        for (path, entry) in &mut b.nodes {
            if let Node::Dir { children } = &mut entry.node
                && !ORDERED_DIRS.contains(&path.as_str())
            {
                children.sort_by(|a, b| a.line.cmp(&b.line));
            }
        }
        let launch = Timestamp::parse_iso8601(&i.launch_time).unwrap_or_default();
        Tree {
            nodes: b.nodes,
            last_modified: launch.to_http_date(),
            launch,
            instance: i.clone(),
        }
    }

    /// Renders a leaf body at time `now`.
    pub fn render(&self, body: &Body, now: Timestamp) -> Bytes {
        let i = &self.instance;
        match body {
            Body::Static(b) => b.clone(),
            Body::IamInfo => {
                let Some(role) = &i.iam else {
                    return Bytes::new();
                };
                let (updated, _) = credential_times(&role.credentials, self.launch, now);
                Bytes::from(ec2_json(&[
                    ("Code", json!("Success")),
                    ("LastUpdated", json!(updated)),
                    ("InstanceProfileArn", json!(role.instance_profile_arn)),
                    ("InstanceProfileId", json!(role.instance_profile_id)),
                ]))
            }
            Body::RoleCredentials { extended } => {
                let Some(role) = &i.iam else {
                    return Bytes::new();
                };
                let mut doc = credentials_fields(&role.credentials, self.launch, now);
                if *extended {
                    doc.push(("AccountId", json!(i.account_id)));
                }
                Bytes::from(ec2_json(&doc))
            }
            Body::IdentityInfo => {
                let Some(c) = &i.identity_credentials else {
                    return Bytes::new();
                };
                let (updated, _) = credential_times(c, self.launch, now);
                Bytes::from(ec2_json(&[
                    ("Code", json!("Success")),
                    ("LastUpdated", json!(updated)),
                    ("AccountId", json!(i.account_id)),
                ]))
            }
            Body::IdentityCredentials => {
                let Some(c) = &i.identity_credentials else {
                    return Bytes::new();
                };
                Bytes::from(ec2_json(&credentials_fields(c, self.launch, now)))
            }
        }
    }
}

/// Credentials rotate hourly (offset by launch time) and expire six hours after issue.
fn credential_times(c: &Credentials, launch: Timestamp, now: Timestamp) -> (String, String) {
    let period = 3600;
    let now_s = now.as_secs().max(launch.as_secs());
    let issued = now_s - (now_s - launch.as_secs()) % period;
    let updated = c
        .last_updated
        .clone()
        .unwrap_or_else(|| Timestamp::from_secs(issued).to_iso8601());
    let expires = c
        .expiration
        .clone()
        .unwrap_or_else(|| Timestamp::from_secs(issued + 6 * 3600).to_iso8601());
    (updated, expires)
}

fn credentials_fields(
    c: &Credentials,
    launch: Timestamp,
    now: Timestamp,
) -> Vec<(&'static str, Value)> {
    let (updated, expires) = credential_times(c, launch, now);
    vec![
        ("Code", json!("Success")),
        ("LastUpdated", json!(updated)),
        ("Type", json!("AWS-HMAC")),
        ("AccessKeyId", json!(c.access_key_id)),
        ("SecretAccessKey", json!(c.secret_access_key)),
        ("Token", json!(c.token)),
        ("Expiration", json!(expires)),
    ]
}

/// The identity document, derived from the same fields as meta-data so the two agree.
fn identity_document(i: &Instance) -> String {
    let codes = |v: &Option<Vec<String>>| v.as_ref().map_or(Value::Null, |c| json!(c));
    ec2_json(&[
        ("accountId", json!(i.account_id)),
        ("architecture", json!(i.architecture)),
        ("availabilityZone", json!(i.placement.availability_zone)),
        ("billingProducts", codes(&i.billing_products)),
        ("devpayProductCodes", Value::Null),
        ("imageId", json!(i.ami_id)),
        ("instanceId", json!(i.instance_id)),
        ("instanceType", json!(i.instance_type)),
        ("kernelId", json!(i.kernel_id)),
        (
            "marketplaceProductCodes",
            codes(&i.marketplace_product_codes),
        ),
        ("pendingTime", json!(i.launch_time)),
        ("privateIp", json!(i.local_ipv4)),
        ("ramdiskId", json!(i.ramdisk_id)),
        ("region", json!(i.placement.region)),
        ("version", json!("2017-09-30")),
    ])
}

/// EC2's JSON layout: two-space indent, `"Key" : value`, keys in the given order.
fn ec2_json(fields: &[(&str, Value)]) -> String {
    let mut out = String::from("{\n");
    for (n, (key, value)) in fields.iter().enumerate() {
        let rendered = match value {
            Value::Array(items) if items.is_empty() => "[ ]".to_owned(),
            Value::Array(items) => {
                let inner: Vec<String> = items.iter().map(Value::to_string).collect();
                format!("[ {} ]", inner.join(", "))
            }
            other => other.to_string(),
        };
        out.push_str(&format!("  \"{key}\" : {rendered}"));
        out.push_str(if n + 1 < fields.len() { ",\n" } else { "\n" });
    }
    out.push('}');
    out
}

/// `events/maintenance/*` in EC2's layout (SPEC.md §3.11): `[ {` … `}, {` … `} ]`, keys at
/// two spaces as `"Key" : "value"`, in EC2's order, `NotAfter` and `NotBeforeDeadline` only when the event has them;
/// `[]` when there are no events.
fn events_json(list: &[MaintenanceEvent]) -> String {
    if list.is_empty() {
        return "[]".to_owned();
    }
    let objects: Vec<String> = list
        .iter()
        .map(|e| {
            let mut fields = vec![
                ("NotBefore", json!(e.not_before)),
                ("Code", json!(e.code)),
                ("Description", json!(e.description)),
                ("EventId", json!(e.event_id)),
            ];
            if let Some(after) = &e.not_after {
                fields.push(("NotAfter", json!(after)));
            }
            if let Some(deadline) = &e.not_before_deadline {
                fields.push(("NotBeforeDeadline", json!(deadline)));
            }
            fields.push(("State", json!(e.state)));
            ec2_json(&fields)
        })
        .collect();
    format!("[ {} ]", objects.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_json_layout() {
        let s = ec2_json(&[
            ("A", json!("x")),
            ("B", json!(["p", "q"])),
            ("C", Value::Null),
        ]);
        assert_eq!(
            s,
            "{\n  \"A\" : \"x\",\n  \"B\" : [ \"p\", \"q\" ],\n  \"C\" : null\n}"
        );
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["B"][1], "q");
    }

    #[test]
    fn events_use_ec2_layout_and_order() {
        assert_eq!(events_json(&[]), "[]");
        let stop = MaintenanceEvent {
            code: "instance-stop".into(),
            description: "degraded hardware".into(),
            event_id: "instance-event-07a1c1c08b77d4bf1".into(),
            not_before: "1 Jan 2021 02:00:00 GMT".into(),
            not_after: None,
            not_before_deadline: None,
            state: "active".into(),
        };
        let one = events_json(std::slice::from_ref(&stop));
        assert_eq!(
            one,
            "[ {\n  \"NotBefore\" : \"1 Jan 2021 02:00:00 GMT\",\n  \"Code\" : \"instance-stop\",\n  \"Description\" : \"degraded hardware\",\n  \"EventId\" : \"instance-event-07a1c1c08b77d4bf1\",\n  \"State\" : \"active\"\n} ]"
        );
        let reboot = MaintenanceEvent {
            code: "system-reboot".into(),
            not_after: Some("1 Jan 2021 04:00:00 GMT".into()),
            ..stop.clone()
        };
        let two = events_json(&[stop.clone(), reboot]);
        assert!(two.starts_with("[ {\n") && two.ends_with("\n} ]"), "{two}");
        assert!(two.contains("\n}, {\n"), "{two}");
        assert!(two.contains("\"EventId\" : \"instance-event-07a1c1c08b77d4bf1\",\n  \"NotAfter\" : \"1 Jan 2021 04:00:00 GMT\",\n  \"State\""), "{two}");
        let v: Value = serde_json::from_str(&two).unwrap();
        assert_eq!(v[1]["NotAfter"], "1 Jan 2021 04:00:00 GMT");
        assert!(v[0].get("NotAfter").is_none());
        let late = MaintenanceEvent {
            not_before_deadline: Some("3 Jan 2021 02:00:00 GMT".into()),
            ..stop
        };
        let v: Value = serde_json::from_str(&events_json(&[late])).unwrap();
        assert_eq!(v[0]["NotBeforeDeadline"], "3 Jan 2021 02:00:00 GMT");
        assert!(v[0].get("NotAfter").is_none());
    }

    #[test]
    fn credentials_rotate_hourly_and_last_six_hours() {
        let c = Credentials::default();
        let launch = Timestamp::parse_iso8601("2026-01-15T09:30:00Z").unwrap();
        let now = Timestamp::parse_iso8601("2026-01-15T12:45:10Z").unwrap();
        let (u, e) = credential_times(&c, launch, now);
        assert_eq!(u, "2026-01-15T12:30:00Z");
        assert_eq!(e, "2026-01-15T18:30:00Z");
    }
}
