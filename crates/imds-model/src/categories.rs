//! The metadata categories, one row each: path, since-version, option gate, where the value
//! comes from, and what `conformance/paths.toml` records about it (presence on real
//! instances, the format a crawl checks). The served tree is built by walking
//! [`CATEGORIES`]; `conformance/paths.toml` and the category table in the crate README are
//! rendered from it ([`paths_toml`], [`markdown_table`]) and a test keeps both in step.
//!
//! A path is relative to a version prefix (`meta-data/ami-id`); `{name}` stands for one segment
//! filled from the instance (`{mac}`, `{role}`, `{index}`, `{key}`, `{device}`, `{ip}`).

use std::fmt::Write as _;

use bytes::Bytes;
use serde_json::json;

use crate::body::{Body, events_json, identity_document};
use crate::instance::{Instance, NetworkInterface};
use crate::version::Version;

/// What must be switched on for a category to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Always served.
    Always,
    /// Only with `InstanceMetadataTags=enabled`.
    Tags,
}

/// Whether a path is on every real instance (`presence` in `conformance/paths.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Presence {
    /// On every instance: its absence fails `crawl.paths.always-present`.
    Always,
    /// Only when the feature is set up (role, key, tags, spot notice, …).
    Configured,
    /// May be 404 on any instance (IPv6-only, no public IP, older instances).
    Optional,
    /// On instances launched after `since`; older ones lack it (SPEC.md §13.2).
    Launched,
}

impl Presence {
    /// The word `paths.toml` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Always => "always",
            Presence::Configured => "configured",
            Presence::Optional => "optional",
            Presence::Launched => "launched",
        }
    }
}

/// What `conformance/paths.toml` records for a documented path.
#[derive(Clone, Copy, Debug)]
pub struct Documented {
    /// Whether real instances serve it.
    pub presence: Presence,
    /// The format a crawl checks, as the TOML inline table `paths.toml` holds
    /// (`{ regex = "…" }`, `{ lines = "…" }`, `{ enum = […] }`, `{ json-keys = […] }`,
    /// `{ json-array = true }`); `None` when there is none to check.
    pub format: Option<&'static str>,
}

/// One served leaf (or directory) of a category, with the segments that fill its `{…}`s.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    /// In order of the path's `{…}`s: the segment, and how its parent lists it when not as
    /// the segment itself (`public-keys/` lists `0=my-key` for `0`).
    pub names: Vec<(String, Option<String>)>,
    /// `None` for a directory served even when empty.
    pub body: Option<Body>,
}

impl Item {
    fn leaf(body: Body) -> Item {
        Item {
            names: Vec::new(),
            body: Some(body),
        }
    }

    fn named(mut self, segment: &str) -> Item {
        self.names.insert(0, (segment.to_owned(), None));
        self
    }
}

/// Where a category's leaves come from.
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// Built from the instance: one leaf per item (none: 404).
    Built(fn(&Instance) -> Vec<Item>),
    /// Documented but not modelled (the row's note says why): never served.
    NotServed,
}

/// One metadata category.
#[derive(Clone, Copy)]
pub struct Category {
    /// Below the version prefix, `{…}` for segments filled from the instance.
    pub path: &'static str,
    /// The first version that serves it (SPEC.md §5).
    pub since: Version,
    /// Which option must be on for it to exist.
    pub gate: Gate,
    /// Which instance-file key (or rule) the value comes from, for the docs.
    pub from: &'static str,
    /// Its `conformance/paths.toml` entry; `None` for what the catalogue does not list (the
    /// note says why).
    pub documented: Option<Documented>,
    /// Written above the entry in `paths.toml`; the reason when `documented` is `None`.
    pub note: &'static str,
    pub(crate) source: Source,
}

impl std::fmt::Debug for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Category")
            .field("path", &self.path)
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

impl Category {
    /// Whether the model serves this category at all.
    pub fn is_served(&self) -> bool {
        matches!(self.source, Source::Built(_))
    }

    /// The leaves (and empty directories) this category has on `instance`.
    pub(crate) fn items(&self, instance: &Instance) -> Vec<Item> {
        match self.source {
            Source::Built(build) => build(instance),
            Source::NotServed => Vec::new(),
        }
    }

    const fn gated(self, gate: Gate) -> Category {
        Category { gate, ..self }
    }

    const fn note(self, note: &'static str) -> Category {
        Category { note, ..self }
    }

    const fn from(self, from: &'static str) -> Category {
        Category { from, ..self }
    }

    const fn undocumented(self) -> Category {
        Category {
            documented: None,
            ..self
        }
    }
}

/// A served category.
const fn row(
    path: &'static str,
    since: Version,
    presence: Presence,
    format: Option<&'static str>,
    from: &'static str,
    build: fn(&Instance) -> Vec<Item>,
) -> Category {
    Category {
        path,
        since,
        gate: Gate::Always,
        from,
        documented: Some(Documented { presence, format }),
        note: "",
        source: Source::Built(build),
    }
}

/// A documented category the model does not serve.
const fn not_served(
    path: &'static str,
    since: Version,
    presence: Presence,
    format: Option<&'static str>,
    why: &'static str,
) -> Category {
    Category {
        path,
        since,
        gate: Gate::Always,
        from: "not served",
        documented: Some(Documented { presence, format }),
        note: why,
        source: Source::NotServed,
    }
}

/// A leaf holding `value`.
fn text(value: impl Into<Bytes>) -> Vec<Item> {
    vec![Item::leaf(Body::Static(value.into()))]
}

/// A leaf when `value` is set.
fn maybe(value: &Option<String>) -> Vec<Item> {
    value.iter().flat_map(|v| text(v.clone())).collect()
}

/// One value per line; no leaf for an empty list.
fn lines(values: &[String]) -> Vec<Item> {
    if values.is_empty() {
        Vec::new()
    } else {
        text(values.join("\n"))
    }
}

/// `leaf` for every network interface, named by its MAC.
fn per_interface(
    instance: &Instance,
    leaf: impl Fn(&Instance, &NetworkInterface) -> Vec<Item>,
) -> Vec<Item> {
    instance
        .network_interfaces
        .iter()
        .flat_map(|eni| {
            leaf(instance, eni)
                .into_iter()
                .map(|item| item.named(&eni.mac))
        })
        .collect()
}

const V1: Version = Version::V1_0;

const fn v(y: u32, m: u32, d: u32) -> Version {
    Version::dated(y, m, d)
}

use Presence::{Always, Configured, Launched, Optional};

const IPV4: &str = r#"{ regex = "^([0-9]{1,3}\\.){3}[0-9]{1,3}$" }"#;
const IPV4_LINES: &str = r#"{ lines = "^([0-9]{1,3}\\.){3}[0-9]{1,3}$" }"#;
const IPV4_CIDR: &str = r#"{ regex = "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$" }"#;
const IPV4_CIDR_LINES: &str = r#"{ lines = "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$" }"#;
const IPV6_CIDR_LINES: &str = r#"{ lines = "^[0-9a-f:]+/[0-9]{1,3}$" }"#;
const MAC: &str = r#"{ regex = "^([0-9a-f]{2}:){5}[0-9a-f]{2}$" }"#;
const DNS_NAMES: &str = r#"{ regex = "^\\S+( \\S+)*$" }"#;
const WORD: &str = r#"{ regex = "^\\S+$" }"#;
const NUMBER: &str = r#"{ regex = "^[0-9]+$" }"#;
const DEVICE: &str = r#"{ regex = "^(/dev/)?[a-z0-9]+$" }"#;
const BASE64_LINES: &str = r#"{ lines = "^[A-Za-z0-9+/=]+$" }"#;
const SEVERAL_NAMES: &str = "SPEC §13.3: several DHCP domain names";
const ENI_SINCE: Version = v(2011, 1, 1);
const PREFIX_NOTE: &str = "Delegated prefixes (SPEC.md §3.12): no release version in the table; prefix delegation came\nin 2021, so the last dated version is a guess.";

/// Every category, in `conformance/paths.toml`'s order. Adding one: see the crate README.
#[rustfmt::skip]
pub const CATEGORIES: &[Category] = &[
    row("meta-data/ami-id", V1, Always, Some(r#"{ regex = "^ami-[0-9a-f]{8,17}$" }"#), "`ami-id`", |i| text(i.ami_id.clone())),
    row("meta-data/ami-launch-index", V1, Always, Some(NUMBER), "`ami-launch-index`", |i| text(i.ami_launch_index.to_string())),
    row("meta-data/ami-manifest-path", V1, Always, Some(r#"{ regex = "^\\S+$" }"#), "`ami-manifest-path`", |i| text(i.ami_manifest_path.clone())),
    row("meta-data/ancestor-ami-ids", v(2007, 10, 10), Configured, Some(r#"{ lines = "^ami-[0-9a-f]{8,17}$" }"#), "`ancestor-ami-ids`, when non-empty", |i| lines(&i.ancestor_ami_ids)),
    row("meta-data/autoscaling/target-lifecycle-state", v(2021, 7, 15), Configured, Some(r#"{ enum = ["Detached", "InService", "Standby", "Terminated", "Warmed:Hibernated", "Warmed:Running", "Warmed:Stopped", "Warmed:Terminated"] }"#), "`autoscaling-target-lifecycle-state`, when set", |i| maybe(&i.autoscaling_target_lifecycle_state)),
    not_served("meta-data/block-device-mapping/ami", v(2007, 12, 15), Always, Some(DEVICE), "Served as a `{device}` below when the instance maps `ami`.")
        .from("`block-device-mapping.ami`, as a `{device}`"),
    not_served("meta-data/block-device-mapping/root", v(2007, 12, 15), Optional, Some(DEVICE), "Real listings without root: coreos/bugs #954. Served as a `{device}` below when the\ninstance maps `root`.")
        .from("`block-device-mapping.root`, as a `{device}`"),
    row("meta-data/block-device-mapping/{device}", v(2007, 12, 15), Optional, Some(DEVICE), "`block-device-mapping`, one leaf per entry", |i| {
        i.block_device_mapping.iter().flat_map(|(name, device)| text(device.clone()).into_iter().map(|item| item.named(name))).collect()
    }),
    not_served("meta-data/elastic-gpus/associations/{id}", v(2016, 11, 30), Configured, None, "Not modelled: the instance file has no such key."),
    not_served("meta-data/elastic-inference/associations/{id}", v(2018, 11, 29), Configured, None, "Not modelled: the instance file has no such key."),
    row("meta-data/events/maintenance/history", v(2018, 8, 17), Optional, Some("{ json-array = true }"), "`maintenance-events.history` ([] when empty, SPEC.md §3.11)", |i| text(events_json(&i.maintenance_events.history))),
    row("meta-data/events/maintenance/scheduled", v(2018, 8, 17), Optional, Some("{ json-array = true }"), "`maintenance-events.scheduled` ([] when empty; NTH wants a 2xx array)", |i| text(events_json(&i.maintenance_events.scheduled))),
    row("meta-data/events/recommendations/rebalance", v(2020, 10, 27), Configured, Some(r#"{ json-keys = ["noticeTime"] }"#), "`rebalance-notice-time`, when set", |i| {
        i.rebalance_notice_time.iter().flat_map(|t| text(json!({"noticeTime": t}).to_string())).collect()
    }),
    row("meta-data/hostname", V1, Always, Some(DNS_NAMES), "`hostname`", |i| text(i.hostname.clone())).note(SEVERAL_NAMES),
    row("meta-data/iam/info", v(2012, 1, 12), Configured, Some(r#"{ json-keys = ["LastUpdated", "InstanceProfileArn", "InstanceProfileId"] }"#), "`iam`, rendered at request time", |i| {
        i.iam.iter().map(|_| Item::leaf(Body::IamInfo)).collect()
    }),
    row("meta-data/iam/security-credentials/{role}", v(2012, 1, 12), Configured, Some(r#"{ json-keys = ["Code", "LastUpdated", "Type", "AccessKeyId", "SecretAccessKey", "Token", "Expiration"] }"#), "`iam.credentials`, rotated at request time", |i| {
        i.iam.iter().map(|role| Item::leaf(Body::RoleCredentials { extended: false }).named(&role.role_name)).collect()
    }),
    row("meta-data/iam/security-credentials-extended/{role}", Version::LATEST, Configured, None, "`iam.credentials` and `account-id`, with `iam.extended-credentials`", |i| {
        i.iam.iter().filter(|role| role.extended_credentials).map(|role| Item::leaf(Body::RoleCredentials { extended: true }).named(&role.role_name)).collect()
    })
    .undocumented()
    .note("Not in the User Guide's table (SPEC.md §12.15): served at `latest` only, when asked for."),
    row("meta-data/identity-credentials/ec2/info", v(2018, 5, 23), Optional, Some("{ json-keys = [] }"), "`identity-credentials`, rendered at request time", |i| {
        i.identity_credentials.iter().map(|_| Item::leaf(Body::IdentityInfo)).collect()
    }),
    row("meta-data/identity-credentials/ec2/security-credentials/ec2-instance", v(2018, 5, 23), Optional, Some(r#"{ json-keys = ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] }"#), "`identity-credentials`, rotated at request time", |i| {
        i.identity_credentials.iter().map(|_| Item::leaf(Body::IdentityCredentials)).collect()
    }),
    row("meta-data/instance-action", v(2008, 9, 1), Always, Some(r#"{ enum = ["none", "shutdown", "bundle-pending"] }"#), "`instance-action`", |i| text(i.instance_action.clone())),
    row("meta-data/instance-id", V1, Always, Some(r#"{ regex = "^i-([0-9a-f]{8}|[0-9a-f]{17})$" }"#), "`instance-id`", |i| text(i.instance_id.clone())),
    row("meta-data/instance-life-cycle", v(2019, 10, 1), Launched, Some(r#"{ regex = "^[a-z-]+$" }"#), "`instance-life-cycle`", |i| text(i.instance_life_cycle.clone())),
    row("meta-data/instance-type", v(2007, 8, 29), Always, Some(r#"{ regex = "^[a-z0-9-]+\\.[a-z0-9-]+$" }"#), "`instance-type`", |i| text(i.instance_type.clone())),
    row("meta-data/ipv6", v(2021, 1, 3), Optional, Some(r#"{ regex = "^[0-9a-f:]+$" }"#), "`ipv6`, when set", |i| maybe(&i.ipv6)),
    row("meta-data/kernel-id", v(2008, 2, 1), Optional, Some(r#"{ regex = "^aki-[0-9a-f]{8,17}$" }"#), "`kernel-id`, when set", |i| maybe(&i.kernel_id)),
    row("meta-data/local-hostname", v(2007, 1, 19), Always, Some(DNS_NAMES), "`local-hostname`", |i| text(i.local_hostname.clone())).note(SEVERAL_NAMES),
    row("meta-data/local-ipv4", V1, Optional, Some(IPV4), "`local-ipv4`, when set", |i| maybe(&i.local_ipv4)),
    row("meta-data/mac", v(2011, 1, 1), Always, Some(MAC), "the first network interface's `network-interfaces.mac`", |i| text(i.mac().to_owned())),
    not_served("meta-data/metrics/vhostmd", v(2011, 5, 1), Optional, None, "Not modelled: the instance file has no such key."),
    row("meta-data/network/interfaces/macs/{mac}/device-number", ENI_SINCE, Always, Some(NUMBER), "`network-interfaces.device-number`", |i| per_interface(i, |_, e| text(e.device_number.to_string()))),
    row("meta-data/network/interfaces/macs/{mac}/interface-id", ENI_SINCE, Always, Some(r#"{ regex = "^eni-[0-9a-f]{8,17}$" }"#), "`network-interfaces.interface-id`", |i| per_interface(i, |_, e| text(e.interface_id.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/ipv4-associations/{ip}", ENI_SINCE, Optional, Some(IPV4), "`network-interfaces.public-ipv4s`, each to a `network-interfaces.local-ipv4s` address", |i| {
        per_interface(i, |_, e| {
            e.public_ipv4s.iter().zip(e.local_ipv4s.iter().cycle()).flat_map(|(public, private)| text(private.clone()).into_iter().map(|item| item.named(public))).collect()
        })
    }),
    row("meta-data/network/interfaces/macs/{mac}/ipv4-prefix", v(2021, 7, 15), Configured, Some(r#"{ lines = "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$" }"#), "`network-interfaces.ipv4-prefixes`, when non-empty", |i| per_interface(i, |_, e| lines(&e.ipv4_prefixes))).note(PREFIX_NOTE),
    row("meta-data/network/interfaces/macs/{mac}/ipv6-prefix", v(2021, 7, 15), Configured, Some(IPV6_CIDR_LINES), "`network-interfaces.ipv6-prefixes`, when non-empty", |i| per_interface(i, |_, e| lines(&e.ipv6_prefixes))),
    row("meta-data/network/interfaces/macs/{mac}/ipv6s", v(2016, 6, 30), Optional, Some(r#"{ lines = "^[0-9a-f:]+$" }"#), "`network-interfaces.ipv6s`, when non-empty", |i| per_interface(i, |_, e| lines(&e.ipv6s))),
    row("meta-data/network/interfaces/macs/{mac}/local-hostname", v(2007, 1, 19), Always, Some(DNS_NAMES), "`network-interfaces.local-hostname`", |i| per_interface(i, |_, e| text(e.local_hostname.clone()))).note(SEVERAL_NAMES),
    row("meta-data/network/interfaces/macs/{mac}/local-ipv4s", ENI_SINCE, Optional, Some(IPV4_LINES), "`network-interfaces.local-ipv4s`, when non-empty", |i| per_interface(i, |_, e| lines(&e.local_ipv4s))),
    row("meta-data/network/interfaces/macs/{mac}/mac", ENI_SINCE, Always, Some(MAC), "`network-interfaces.mac`", |i| per_interface(i, |_, e| text(e.mac.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/network-card", v(2020, 11, 1), Optional, Some(NUMBER), "`network-interfaces.network-card`, when `network-cards` > 1", |i| {
        // Single-card instance types answer 404; AWS's VPC CNI takes that as card 0.
        per_interface(i, |i, e| if i.network_cards > 1 { text(e.network_card.to_string()) } else { Vec::new() })
    })
    .note("SPEC.md R3.12.4: the current category table lists `network-card`, served only on multi-card\ninstance types (404 on the rest, so optional); older editions of the table listed\n`network-card-index`, kept here (optional) so a target that serves it is still format-checked."),
    not_served("meta-data/network/interfaces/macs/{mac}/network-card-index", v(2020, 11, 1), Optional, Some(NUMBER), ""),
    row("meta-data/network/interfaces/macs/{mac}/owner-id", ENI_SINCE, Always, Some(r#"{ regex = "^[0-9]{12}$" }"#), "`account-id`", |i| per_interface(i, |i, _| text(i.account_id.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/public-hostname", ENI_SINCE, Optional, Some(WORD), "`network-interfaces.public-hostname`, when set", |i| per_interface(i, |_, e| maybe(&e.public_hostname))),
    row("meta-data/network/interfaces/macs/{mac}/public-ipv4s", ENI_SINCE, Optional, Some(IPV4_LINES), "`network-interfaces.public-ipv4s`, when non-empty", |i| per_interface(i, |_, e| lines(&e.public_ipv4s))),
    row("meta-data/network/interfaces/macs/{mac}/security-group-ids", ENI_SINCE, Optional, Some(r#"{ lines = "^sg-[0-9a-f]{8,17}$" }"#), "`network-interfaces.security-group-ids`, when non-empty", |i| per_interface(i, |_, e| lines(&e.security_group_ids))),
    row("meta-data/network/interfaces/macs/{mac}/security-groups", ENI_SINCE, Optional, Some(r#"{ lines = "^.+$" }"#), "`network-interfaces.security-groups`, when non-empty", |i| per_interface(i, |_, e| lines(&e.security_groups))),
    row("meta-data/network/interfaces/macs/{mac}/subnet-id", ENI_SINCE, Always, Some(r#"{ regex = "^subnet-[0-9a-f]{8,17}$" }"#), "`network-interfaces.subnet-id`", |i| per_interface(i, |_, e| text(e.subnet_id.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/subnet-ipv4-cidr-block", ENI_SINCE, Optional, Some(IPV4_CIDR), "`network-interfaces.subnet-ipv4-cidr-block`", |i| per_interface(i, |_, e| text(e.subnet_ipv4_cidr_block.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/subnet-ipv6-cidr-blocks", v(2016, 6, 30), Optional, Some(IPV6_CIDR_LINES), "`network-interfaces.subnet-ipv6-cidr-blocks`, when non-empty", |i| per_interface(i, |_, e| lines(&e.subnet_ipv6_cidr_blocks))),
    row("meta-data/network/interfaces/macs/{mac}/vpc-id", ENI_SINCE, Always, Some(r#"{ regex = "^vpc-[0-9a-f]{8,17}$" }"#), "`network-interfaces.vpc-id`", |i| per_interface(i, |_, e| text(e.vpc_id.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/vpc-ipv4-cidr-block", ENI_SINCE, Optional, Some(IPV4_CIDR), "`network-interfaces.vpc-ipv4-cidr-block`", |i| per_interface(i, |_, e| text(e.vpc_ipv4_cidr_block.clone()))),
    row("meta-data/network/interfaces/macs/{mac}/vpc-ipv4-cidr-blocks", v(2016, 6, 30), Optional, Some(IPV4_CIDR_LINES), "`network-interfaces.vpc-ipv4-cidr-blocks`, when non-empty", |i| per_interface(i, |_, e| lines(&e.vpc_ipv4_cidr_blocks))),
    row("meta-data/network/interfaces/macs/{mac}/vpc-ipv6-cidr-blocks", v(2016, 6, 30), Optional, Some(IPV6_CIDR_LINES), "`network-interfaces.vpc-ipv6-cidr-blocks`, when non-empty", |i| per_interface(i, |_, e| lines(&e.vpc_ipv6_cidr_blocks))),
    row("meta-data/placement/availability-zone", v(2008, 2, 1), Always, Some(r#"{ regex = "^[a-z]{2,4}(-[a-z0-9]+)+([a-z]|-wlz-[0-9]+)$" }"#), "`placement.availability-zone`", |i| text(i.placement.availability_zone.clone())).note("SPEC §13.4: Wavelength"),
    row("meta-data/placement/availability-zone-id", v(2019, 10, 1), Launched, Some(r#"{ regex = "^[a-z0-9]+(-[a-z0-9]+)*-(az|wlz)[0-9]+$" }"#), "`placement.availability-zone-id`", |i| text(i.placement.availability_zone_id.clone())).note("SPEC §13.4: Wavelength"),
    row("meta-data/placement/group-name", v(2020, 8, 24), Optional, Some(r#"{ regex = "^.+$" }"#), "`placement.group-name`, when set", |i| maybe(&i.placement.group_name)),
    row("meta-data/placement/host-id", v(2020, 8, 24), Optional, Some(r#"{ regex = "^h-[0-9a-f]{8,17}$" }"#), "`placement.host-id`, when set", |i| maybe(&i.placement.host_id)),
    row("meta-data/placement/partition-number", v(2020, 8, 24), Optional, Some(NUMBER), "`placement.partition-number`, when set", |i| maybe(&i.placement.partition_number.map(|n| n.to_string()))),
    row("meta-data/placement/region", v(2020, 8, 24), Launched, Some(r#"{ regex = "^[a-z]{2,4}(-[a-z]+)+-[0-9]+$" }"#), "`placement.region`", |i| text(i.placement.region.clone())),
    row("meta-data/product-codes", v(2007, 3, 1), Optional, Some(r#"{ lines = "^[a-z0-9]+$" }"#), "`product-codes`, when non-empty", |i| lines(&i.product_codes)),
    row("meta-data/profile", V1, Optional, Some(WORD), "`profile`", |i| text(i.profile.clone())),
    row("meta-data/public-hostname", v(2007, 1, 19), Optional, Some(WORD), "`public-hostname`, when set", |i| maybe(&i.public_hostname)),
    row("meta-data/public-ipv4", v(2007, 1, 19), Optional, Some(IPV4), "`public-ipv4`, when set", |i| maybe(&i.public_ipv4)),
    row("meta-data/public-keys/{index}/openssh-key", V1, Configured, Some(r#"{ regex = "^(ssh-|ecdsa-)\\S+ \\S+" }"#), "`public-keys`, listed as `{index}={name}`", |i| {
        i.public_keys.iter().enumerate().map(|(n, key)| Item {
            names: vec![(n.to_string(), Some(format!("{n}={}", key.name)))],
            body: Some(Body::Static(Bytes::from(key.openssh_key.clone()))),
        }).collect()
    }),
    row("meta-data/ramdisk-id", v(2007, 10, 10), Optional, Some(r#"{ regex = "^ari-[0-9a-f]{8,17}$" }"#), "`ramdisk-id`, when set", |i| maybe(&i.ramdisk_id)),
    row("meta-data/reservation-id", V1, Always, Some(r#"{ regex = "^r-[0-9a-f]{8,17}$" }"#), "`reservation-id`", |i| text(i.reservation_id.clone())),
    row("meta-data/security-groups", V1, Always, Some(r#"{ lines = "^.+$" }"#), "`security-groups`, when non-empty", |i| lines(&i.security_groups)),
    row("meta-data/services/domain", v(2014, 2, 25), Always, Some(r#"{ regex = "^[a-z0-9.-]+$" }"#), "`services.domain`", |i| text(i.services.domain.clone())),
    row("meta-data/services/partition", v(2015, 10, 20), Always, Some(r#"{ regex = "^aws(-[a-z]+)*$" }"#), "`services.partition`", |i| text(i.services.partition.clone())),
    row("meta-data/spot/instance-action", v(2016, 11, 15), Configured, Some(r#"{ json-keys = ["action", "time"] }"#), "`spot-instance-action`, when set", |i| {
        i.spot_instance_action.iter().flat_map(|a| text(json!({"action": a.action, "time": a.time}).to_string())).collect()
    }),
    row("meta-data/spot/termination-time", v(2014, 11, 5), Configured, None, "`spot-termination-time`, when set", |i| maybe(&i.spot_termination_time))
        .note("No format: not set to a time when the Spot Instance was terminated by its owner (SPEC §3.11)."),
    row("meta-data/tags/instance/", v(2021, 3, 23), Configured, None, "`InstanceMetadataTags=enabled`", |_| vec![Item { names: Vec::new(), body: None }])
        .gated(Gate::Tags)
        .undocumented()
        .note("The directory exists (empty) when tags are on, so `tags/instance` answers."),
    row("meta-data/tags/instance/{key}", v(2021, 3, 23), Configured, None, "`tags`, with `InstanceMetadataTags=enabled`", |i| {
        i.tags.iter().flat_map(|(key, value)| text(value.clone()).into_iter().map(|item| item.named(key))).collect()
    })
    .gated(Gate::Tags),
    row("dynamic/fws/instance-monitoring", v(2009, 4, 4), Always, Some(r#"{ enum = ["enabled", "disabled"] }"#), "`instance-monitoring`", |i| text(i.instance_monitoring.clone())),
    row("dynamic/instance-identity/document", v(2009, 4, 4), Always, Some(r#"{ json-keys = ["accountId", "architecture", "availabilityZone", "billingProducts", "devpayProductCodes", "imageId", "instanceId", "instanceType", "kernelId", "marketplaceProductCodes", "pendingTime", "privateIp", "ramdiskId", "region", "version"] }"#), "the same fields as meta-data", |i| text(identity_document(i))),
    row("dynamic/instance-identity/pkcs7", v(2009, 4, 4), Always, Some(BASE64_LINES), "`identity-signatures.pkcs7`", |i| text(i.identity_signatures.pkcs7.clone())),
    row("dynamic/instance-identity/signature", v(2009, 4, 4), Always, Some(BASE64_LINES), "`identity-signatures.signature`", |i| text(i.identity_signatures.signature.clone())),
    row("dynamic/instance-identity/rsa2048", v(2009, 4, 4), Always, Some(BASE64_LINES), "`identity-signatures.rsa2048`", |i| text(i.identity_signatures.rsa2048.clone())),
    row("dynamic/instance-identity/dsa2048", v(2009, 4, 4), Optional, None, "`identity-signatures.dsa2048`", |i| text(i.identity_signatures.dsa2048.clone())),
    row("user-data", V1, Configured, None, "`user-data` or `user-data-base64`, when set", |i| i.user_data_bytes().map(text).unwrap_or_default())
        .undocumented()
        .note("Not a category: SPEC.md §3.7 and the user-data cases check it."),
];

/// Directories whose listing keeps EC2's documented (non-alphabetical) order; every other
/// listing is sorted.
pub(crate) const LISTING_ORDER: &[(&str, &[&str])] = &[(
    "dynamic/instance-identity",
    &["rsa2048", "pkcs7", "document", "signature", "dsa2048"],
)];

const PATHS_TOML_HEADER: &str = "\
# GENERATED from crates/imds-model/src/categories.rs; do not edit. To change it, edit the table
# there and run `IMDSPEC_BLESS=1 cargo test -p imds-model --test categories`.
#
# The documented IMDS path catalogue: the spec's §5 category table (UG-cat, \"version when
# released\"), plus §3/§4 formats. Paths are below a version prefix (`/latest/`, `/2009-04-04/`);
# `{name}` stands for one path segment (`{mac}`, `{role}`, `{index}` and `{key}` are filled from
# the target when probing). Used by the crawl cases (crawl.*) and versions.dated.no-newer-categories.
#
# presence: always     — on every instance (absent = a failure of crawl.paths.always-present)
#           configured — only when the feature is set up (role, key, tags, spot notice, …)
#           optional   — may be 404 on any instance (IPv6-only, no public IP, older instances)
#           launched   — on instances launched after `since`; older ones lack it (SPEC §13.2)
# format:   exactly one of regex (whole body), lines (every line), enum, json-keys, json-array.
# `profile` is not in the UG-cat table (UG-retrieve's listing shows it); since 1.0 is a guess.
";

/// `conformance/paths.toml`, rendered from [`CATEGORIES`].
pub fn paths_toml() -> String {
    let mut out = String::from(PATHS_TOML_HEADER);
    for c in CATEGORIES {
        let Some(doc) = c.documented else { continue };
        out.push('\n');
        for line in c.note.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "[[path]]");
        let _ = writeln!(out, "path = \"{}\"", c.path);
        let _ = writeln!(out, "since = \"{}\"", c.since);
        let _ = writeln!(out, "presence = \"{}\"", doc.presence.as_str());
        if let Some(format) = doc.format {
            let _ = writeln!(out, "format = {format}");
        }
    }
    out
}

/// The category table of the crate README, rendered from [`CATEGORIES`].
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| path | since | gate | value from | `paths.toml` presence |\n| --- | --- | --- | --- | --- |\n",
    );
    for c in CATEGORIES {
        let gate = match c.gate {
            Gate::Always => "—",
            Gate::Tags => "tags",
        };
        let presence = c.documented.map_or("not listed", |d| d.presence.as_str());
        let _ = writeln!(
            out,
            "| `{}` | {} | {gate} | {} | {presence} |",
            c.path, c.since, c.from
        );
    }
    out
}
