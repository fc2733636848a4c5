//! Every key of the instance file, documented once: `imdspec serve --print-instance` and the
//! table in README.md are both rendered from [`FIELDS`], and a test checks that the list and
//! the `Instance` type name the same keys.

use std::fmt::Write as _;

/// How a key holds its value, which decides how the starter file lays it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string, number, boolean or list of strings: `key = value`.
    Value,
    /// A table with the fixed keys listed after it (`[placement]`).
    Table,
    /// A table whose keys are free (tag names, device names).
    Map,
    /// A list of tables with the fixed keys listed after it (`[[network-interfaces]]`).
    Tables,
}

/// One key of the instance file.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Dotted path: `placement.region`; keys inside a list of tables hang off the list's key
    /// (`network-interfaces.mac`).
    pub key: &'static str,
    /// How it is written.
    pub kind: Kind,
    /// What it sets (one line).
    pub doc: &'static str,
    /// A TOML value shown, commented out, when the default instance leaves the key unset.
    pub example: Option<&'static str>,
    /// Each entry of its list must give it (the others take defaults); only keys inside a
    /// list of tables are required.
    pub required: bool,
}

const fn value(key: &'static str, doc: &'static str) -> Field {
    Field {
        key,
        kind: Kind::Value,
        doc,
        example: None,
        required: false,
    }
}

const fn optional(key: &'static str, doc: &'static str, example: &'static str) -> Field {
    Field {
        key,
        kind: Kind::Value,
        doc,
        example: Some(example),
        required: false,
    }
}

/// A key each entry of its list must give; `example` is shown when the default instance's
/// list is empty.
const fn required(key: &'static str, doc: &'static str, example: &'static str) -> Field {
    Field {
        key,
        kind: Kind::Value,
        doc,
        example: Some(example),
        required: true,
    }
}

const fn group(key: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        key,
        kind,
        doc,
        example: None,
        required: false,
    }
}

/// The instance file's keys, in the order the starter file shows them. Within a table, keys
/// holding plain values come first, as TOML requires.
pub const FIELDS: &[Field] = &[
    value("instance-id", "`instance-id`: `i-` and 8 or 17 hex digits"),
    value("ami-id", "`ami-id`"),
    value("ami-launch-index", "`ami-launch-index`"),
    value(
        "ami-manifest-path",
        "`ami-manifest-path`: `(unknown)` for EBS-backed AMIs",
    ),
    value(
        "ancestor-ami-ids",
        "`ancestor-ami-ids`; the path exists only when the list is non-empty",
    ),
    value("instance-type", "`instance-type`"),
    value(
        "instance-action",
        "`instance-action`: `none`, `shutdown` or `bundle-pending`",
    ),
    value(
        "instance-life-cycle",
        "`instance-life-cycle`: `on-demand`, `spot`, `scheduled` or `capacity-block`",
    ),
    optional(
        "kernel-id",
        "`kernel-id` (paravirtual instances only)",
        "\"aki-919dcaf8\"",
    ),
    optional(
        "ramdisk-id",
        "`ramdisk-id` (paravirtual instances only)",
        "\"ari-a51cf9cc\"",
    ),
    value(
        "account-id",
        "owning account: identity document `accountId`, interface `owner-id`",
    ),
    value(
        "architecture",
        "identity document `architecture`: `i386`, `x86_64` or `arm64`",
    ),
    value(
        "launch-time",
        "launch time, UTC (`2026-01-15T09:30:00Z`): identity document `pendingTime` and `Last-Modified`",
    ),
    value("hostname", "`hostname`"),
    value("local-hostname", "`local-hostname`"),
    optional(
        "local-ipv4",
        "`local-ipv4`; leave out on IPv6-only instances",
        "\"172.31.16.10\"",
    ),
    optional(
        "public-hostname",
        "`public-hostname`; leave out without a public IPv4",
        "\"ec2-3-88-21-4.compute-1.amazonaws.com\"",
    ),
    optional("public-ipv4", "`public-ipv4`", "\"3.88.21.4\""),
    optional(
        "ipv6",
        "`ipv6`: the first IPv6 address of device 0",
        "\"2600:1f18:1234:5600::10\"",
    ),
    value("reservation-id", "`reservation-id`"),
    value("security-groups", "`security-groups` (group names)"),
    value(
        "product-codes",
        "`product-codes`; the path exists only when the list is non-empty",
    ),
    value("profile", "`profile`, e.g. `default-hvm`"),
    optional(
        "user-data",
        "`user-data` as text; without it (and without `user-data-base64`) `user-data` is 404",
        "\"#!/bin/bash\\necho hello\\n\"",
    ),
    optional(
        "user-data-base64",
        "`user-data` as base64, for binary data; wins over `user-data`",
        "\"IyEvYmluL2Jhc2gK\"",
    ),
    value(
        "instance-monitoring",
        "`dynamic/fws/instance-monitoring`: `enabled` or `disabled`",
    ),
    value(
        "unauthorized-body",
        "the body of every 401: `empty` (empty `text/plain`) or `xhtml-page` (EC2's `text/html` page); both are seen on EC2 (SPEC R6.1)",
    ),
    optional(
        "billing-products",
        "identity document `billingProducts`",
        "[\"bp-6ba54002\"]",
    ),
    optional(
        "marketplace-product-codes",
        "identity document `marketplaceProductCodes`",
        "[\"1abc2defghijklm3nopqrs4tu\"]",
    ),
    optional(
        "spot-termination-time",
        "`spot/termination-time`, once a spot instance is marked for termination",
        "\"2026-01-15T10:02:00Z\"",
    ),
    optional(
        "rebalance-notice-time",
        "`events/recommendations/rebalance` `noticeTime`, after a rebalance recommendation",
        "\"2026-01-15T10:00:00Z\"",
    ),
    optional(
        "autoscaling-target-lifecycle-state",
        "`autoscaling/target-lifecycle-state`, for Auto Scaling group members",
        "\"InService\"",
    ),
    value(
        "network-cards",
        "network cards of the instance type: with 1 (most types) `network-card` answers 404; with more, each interface's card is served",
    ),
    group("placement", Kind::Table, "`placement/…`"),
    value("placement.region", "`placement/region`"),
    value(
        "placement.availability-zone",
        "`placement/availability-zone`; starts with the region",
    ),
    value(
        "placement.availability-zone-id",
        "`placement/availability-zone-id`",
    ),
    optional(
        "placement.group-name",
        "`placement/group-name` (placement groups)",
        "\"my-cluster\"",
    ),
    optional(
        "placement.host-id",
        "`placement/host-id` (Dedicated Hosts)",
        "\"h-0123456789abcdef0\"",
    ),
    optional(
        "placement.partition-number",
        "`placement/partition-number` (partition placement groups)",
        "1",
    ),
    group(
        "block-device-mapping",
        Kind::Map,
        "`block-device-mapping/NAME`: name (`ami`, `root`, `ebs1`, …) = device",
    ),
    group(
        "tags",
        Kind::Map,
        "instance tags, `tags/instance/KEY` (served only with `InstanceMetadataTags=enabled`)",
    ),
    group("services", Kind::Table, "`services/…`"),
    value("services.domain", "`services/domain`"),
    value("services.partition", "`services/partition`"),
    group(
        "identity-signatures",
        Kind::Table,
        "signature blobs under `dynamic/instance-identity/`",
    ),
    value(
        "identity-signatures.pkcs7",
        "`pkcs7` (base64, no PEM armour)",
    ),
    value("identity-signatures.signature", "`signature`"),
    value("identity-signatures.rsa2048", "`rsa2048`"),
    value("identity-signatures.dsa2048", "`dsa2048`"),
    group(
        "iam",
        Kind::Table,
        "the attached IAM role (`iam/…`); leave the table out for none",
    ),
    value(
        "iam.role-name",
        "role name, the `security-credentials/` entry",
    ),
    value(
        "iam.instance-profile-arn",
        "`InstanceProfileArn` of `iam/info`",
    ),
    value(
        "iam.instance-profile-id",
        "`InstanceProfileId` of `iam/info`",
    ),
    value(
        "iam.extended-credentials",
        "serve `iam/security-credentials-extended/` too (EC2 does for allow-listed accounts only)",
    ),
    group(
        "iam.credentials",
        Kind::Table,
        "the role's temporary credentials",
    ),
    value("iam.credentials.access-key-id", "`AccessKeyId`"),
    value("iam.credentials.secret-access-key", "`SecretAccessKey`"),
    value("iam.credentials.token", "`Token`"),
    optional(
        "iam.credentials.last-updated",
        "`LastUpdated`; when absent, derived from the clock (rotated hourly)",
        "\"2026-01-15T09:30:00Z\"",
    ),
    optional(
        "iam.credentials.expiration",
        "`Expiration`; when absent, derived from the clock (six hours after issue)",
        "\"2026-01-15T15:30:00Z\"",
    ),
    group(
        "identity-credentials",
        Kind::Table,
        "`identity-credentials/ec2/…`; leave the table out for none",
    ),
    value("identity-credentials.access-key-id", "`AccessKeyId`"),
    value(
        "identity-credentials.secret-access-key",
        "`SecretAccessKey`",
    ),
    value("identity-credentials.token", "`Token`"),
    optional(
        "identity-credentials.last-updated",
        "`LastUpdated`; derived from the clock when absent",
        "\"2026-01-15T09:30:00Z\"",
    ),
    optional(
        "identity-credentials.expiration",
        "`Expiration`; derived from the clock when absent",
        "\"2026-01-15T15:30:00Z\"",
    ),
    group(
        "spot-instance-action",
        Kind::Table,
        "`spot/instance-action`, when a spot interruption is pending (else `spot/` is 404)",
    ),
    optional(
        "spot-instance-action.action",
        "`stop`, `terminate` or `hibernate`",
        "\"terminate\"",
    ),
    optional(
        "spot-instance-action.time",
        "when, UTC",
        "\"2026-01-15T10:02:00Z\"",
    ),
    group("maintenance-events", Kind::Table, "`events/maintenance/…`"),
    group(
        "maintenance-events.scheduled",
        Kind::Tables,
        "active events (`events/maintenance/scheduled`)",
    ),
    required(
        "maintenance-events.scheduled.code",
        "`Code`, e.g. `system-reboot`",
        "\"system-reboot\"",
    ),
    required(
        "maintenance-events.scheduled.description",
        "`Description`",
        "\"scheduled reboot\"",
    ),
    required(
        "maintenance-events.scheduled.event-id",
        "`EventId`",
        "\"instance-event-0123456789abcdef0\"",
    ),
    required(
        "maintenance-events.scheduled.not-before",
        "`NotBefore`, in EC2's `D Mon YYYY HH:MM:SS GMT` form",
        "\"21 Jan 2026 03:00:00 GMT\"",
    ),
    optional(
        "maintenance-events.scheduled.not-after",
        "`NotAfter` (EC2 leaves it out for some events)",
        "\"21 Jan 2026 05:00:00 GMT\"",
    ),
    optional(
        "maintenance-events.scheduled.not-before-deadline",
        "`NotBeforeDeadline`, served only when given",
        "\"28 Jan 2026 03:00:00 GMT\"",
    ),
    required(
        "maintenance-events.scheduled.state",
        "`State`: `active`",
        "\"active\"",
    ),
    group(
        "maintenance-events.history",
        Kind::Tables,
        "past events (`events/maintenance/history`)",
    ),
    required(
        "maintenance-events.history.code",
        "`Code`",
        "\"system-reboot\"",
    ),
    required(
        "maintenance-events.history.description",
        "`Description`",
        "\"scheduled reboot\"",
    ),
    required(
        "maintenance-events.history.event-id",
        "`EventId`",
        "\"instance-event-0d59937288b749b32\"",
    ),
    required(
        "maintenance-events.history.not-before",
        "`NotBefore`",
        "\"14 Jan 2026 03:00:00 GMT\"",
    ),
    optional(
        "maintenance-events.history.not-after",
        "`NotAfter` (optional)",
        "\"14 Jan 2026 05:00:00 GMT\"",
    ),
    optional(
        "maintenance-events.history.not-before-deadline",
        "`NotBeforeDeadline` (optional)",
        "\"21 Jan 2026 03:00:00 GMT\"",
    ),
    required(
        "maintenance-events.history.state",
        "`State`: `completed` or `canceled`",
        "\"completed\"",
    ),
    group(
        "network-interfaces",
        Kind::Tables,
        "`network/interfaces/macs/MAC/…`, one table per interface; the first is device 0 and gives `mac`",
    ),
    value("network-interfaces.mac", "lower-case, colon-separated MAC"),
    value("network-interfaces.device-number", "`device-number`"),
    value(
        "network-interfaces.network-card",
        "`network-card`, below `network-cards`; served only when `network-cards` is over 1 (`network-card-index` is read as an alias)",
    ),
    value("network-interfaces.interface-id", "`interface-id`"),
    value("network-interfaces.local-hostname", "`local-hostname`"),
    value("network-interfaces.local-ipv4s", "`local-ipv4s`"),
    optional(
        "network-interfaces.public-hostname",
        "`public-hostname`",
        "\"ec2-3-88-21-4.compute-1.amazonaws.com\"",
    ),
    value(
        "network-interfaces.public-ipv4s",
        "`public-ipv4s`; each also appears under `ipv4-associations/`",
    ),
    value("network-interfaces.ipv6s", "`ipv6s`"),
    value("network-interfaces.security-groups", "`security-groups`"),
    value(
        "network-interfaces.security-group-ids",
        "`security-group-ids`",
    ),
    value("network-interfaces.subnet-id", "`subnet-id`"),
    value(
        "network-interfaces.subnet-ipv4-cidr-block",
        "`subnet-ipv4-cidr-block`",
    ),
    value(
        "network-interfaces.subnet-ipv6-cidr-blocks",
        "`subnet-ipv6-cidr-blocks`",
    ),
    value("network-interfaces.vpc-id", "`vpc-id`"),
    value(
        "network-interfaces.vpc-ipv4-cidr-block",
        "`vpc-ipv4-cidr-block`",
    ),
    value(
        "network-interfaces.vpc-ipv4-cidr-blocks",
        "`vpc-ipv4-cidr-blocks`",
    ),
    value(
        "network-interfaces.vpc-ipv6-cidr-blocks",
        "`vpc-ipv6-cidr-blocks`",
    ),
    value(
        "network-interfaces.ipv4-prefixes",
        "`ipv4-prefix`: delegated IPv4 prefixes (CIDR); 404 when empty",
    ),
    value(
        "network-interfaces.ipv6-prefixes",
        "`ipv6-prefix`: delegated IPv6 prefixes (CIDR); 404 when empty",
    ),
    group(
        "public-keys",
        Kind::Tables,
        "`public-keys/N=NAME/openssh-key`, in index order",
    ),
    required("public-keys.name", "key pair name", "\"my-key\""),
    required(
        "public-keys.openssh-key",
        "the `openssh-key` line",
        "\"ssh-ed25519 AAAA… my-key\"",
    ),
];

/// The keys directly under `parent` (`""`: the top level), in [`FIELDS`] order.
fn children(parent: &str) -> impl Iterator<Item = (&'static str, &'static Field)> + '_ {
    FIELDS.iter().filter_map(move |f| {
        let rest = if parent.is_empty() {
            f.key
        } else {
            f.key.strip_prefix(parent)?.strip_prefix('.')?
        };
        (!rest.contains('.')).then_some((rest, f))
    })
}

/// `instance` as a commented TOML instance file: every key with a line saying what it sets,
/// and keys it leaves unset shown commented out (`#key = example`) to start from.
pub fn starter_file(instance: &impl serde::Serialize) -> String {
    let mut out = String::from(
        "# imdspec instance file (`imdspec serve --instance FILE`); every key is optional and\n\
         # falls back to the value shown. Lines starting `#` without a space are unset keys.\n\
         # In a list of tables keys left out of an entry take defaults (an interface: the\n\
         # built-in interface's values), except keys marked \"required in each entry\".\n",
    );
    match toml::Value::try_from(instance) {
        Ok(toml::Value::Table(root)) => render(&mut out, "", Some(&root), false),
        // Serialising plain strings, numbers and maps cannot fail; say so rather than panic.
        _ => out.push_str("# (this instance cannot be shown as TOML)\n"),
    }
    out
}

/// Writes the keys under `path` (present in `table`, or commented out from their examples).
fn render(out: &mut String, path: &str, table: Option<&toml::Table>, commented: bool) {
    let off = if commented { "#" } else { "" };
    for (name, field) in children(path).filter(|(_, f)| f.kind == Kind::Value) {
        match table.and_then(|t| t.get(name)) {
            Some(v) => {
                let _ = writeln!(out, "# {}{}", field.doc, required_note(field));
                let _ = write!(out, "{off}{}", key_value(name, v));
            }
            None => {
                if let Some(example) = field.example {
                    let _ = writeln!(out, "# {}{}", field.doc, required_note(field));
                    let _ = writeln!(out, "#{name} = {example}");
                }
            }
        }
    }
    for (name, field) in children(path).filter(|(_, f)| f.kind != Kind::Value) {
        let full = field.key;
        let value = table.and_then(|t| t.get(name));
        match (field.kind, value) {
            (Kind::Map, Some(toml::Value::Table(map))) => {
                let _ = writeln!(out, "\n# {}\n{off}[{full}]", field.doc);
                for (k, v) in map {
                    let _ = write!(out, "{off}{}", key_value(k, v));
                }
            }
            (Kind::Table, Some(toml::Value::Table(sub))) => {
                let _ = writeln!(out, "\n# {}\n{off}[{full}]", field.doc);
                render(out, full, Some(sub), commented);
            }
            (Kind::Table, _) => {
                let _ = writeln!(out, "\n# {}\n#[{full}]", field.doc);
                render(out, full, None, true);
            }
            (Kind::Tables, Some(toml::Value::Array(items))) if !items.is_empty() => {
                let _ = writeln!(out, "\n# {}", field.doc);
                for item in items {
                    let _ = writeln!(out, "{off}[[{full}]]");
                    render(out, full, item.as_table(), commented);
                }
            }
            (Kind::Tables, _) => {
                let _ = writeln!(out, "\n# {}\n#[[{full}]]", field.doc);
                render(out, full, None, true);
            }
            _ => {}
        }
    }
}

fn required_note(field: &Field) -> &'static str {
    if field.required {
        " (required in each entry)"
    } else {
        ""
    }
}

/// The keys each entry of the list of tables `list` must give.
pub fn required_in(list: &str) -> Vec<&'static str> {
    FIELDS
        .iter()
        .filter(|f| f.required)
        .filter_map(|f| f.key.strip_prefix(list)?.strip_prefix('.'))
        .filter(|rest| !rest.contains('.'))
        .collect()
}

/// `name = value` as TOML writes it (quoting the key when it needs it), with its newline.
fn key_value(name: &str, value: &toml::Value) -> String {
    let mut one = toml::Table::new();
    one.insert(name.to_owned(), value.clone());
    toml::to_string(&one).unwrap_or_default()
}

/// The Markdown table of every key, as README.md shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| key | kind | what it sets |\n| --- | --- | --- |\n");
    for f in FIELDS {
        let kind = match f.kind {
            Kind::Value if f.required => "value, required in each entry",
            Kind::Value if f.example.is_some() => "value, optional",
            Kind::Value => "value",
            Kind::Table => "table",
            Kind::Map => "table of free keys",
            Kind::Tables => "list of tables",
        };
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} |",
            f.key,
            f.doc.replace('|', "\\|")
        );
    }
    out
}
