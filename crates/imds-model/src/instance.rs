//! What one instance knows about itself: the content behind every metadata path.
//!
//! [`Instance::default`] is a realistic, self-consistent instance. Files (TOML or JSON, same
//! field names) override any part of it; the identity document, `mac` and the listings are
//! derived, so they always agree with the fields they come from.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use imds_diag::{LoadError, Seg, Source};

/// One EC2 instance's metadata content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Instance {
    /// `instance-id`: `i-` and 8 or 17 hex digits.
    pub instance_id: String,
    /// `ami-id`.
    pub ami_id: String,
    /// `ami-launch-index`.
    pub ami_launch_index: u32,
    /// `ami-manifest-path`: `(unknown)` for EBS-backed AMIs.
    pub ami_manifest_path: String,
    /// `ancestor-ami-ids`; served only when non-empty.
    pub ancestor_ami_ids: Vec<String>,
    /// `instance-type`.
    pub instance_type: String,
    /// `instance-action`: `none`, `shutdown` or `bundle-pending`.
    pub instance_action: String,
    /// `instance-life-cycle`: `on-demand`, `spot`, `scheduled`, `capacity-block`.
    pub instance_life_cycle: String,
    /// `kernel-id`, if any.
    pub kernel_id: Option<String>,
    /// `ramdisk-id`, if any.
    pub ramdisk_id: Option<String>,
    /// Owning account (identity document `accountId`, ENI `owner-id`).
    pub account_id: String,
    /// Identity document `architecture`: `i386`, `x86_64` or `arm64`.
    pub architecture: String,
    /// Launch time, ISO-8601 UTC (identity document `pendingTime`, `Last-Modified`).
    pub launch_time: String,
    /// `hostname`.
    pub hostname: String,
    /// `local-hostname`.
    pub local_hostname: String,
    /// `local-ipv4` (absent on IPv6-only instances).
    pub local_ipv4: Option<String>,
    /// `public-hostname` (absent without a public IPv4).
    pub public_hostname: Option<String>,
    /// `public-ipv4`.
    pub public_ipv4: Option<String>,
    /// `ipv6`: the first IPv6 address of device 0.
    pub ipv6: Option<String>,
    /// `reservation-id`.
    pub reservation_id: String,
    /// `security-groups` (names).
    pub security_groups: Vec<String>,
    /// `product-codes`; served only when non-empty.
    pub product_codes: Vec<String>,
    /// `profile`, e.g. `default-hvm`.
    pub profile: String,
    /// `placement/…`.
    pub placement: Placement,
    /// `block-device-mapping/…`: name (`ami`, `root`, `ebs1`, …) → device.
    pub block_device_mapping: BTreeMap<String, String>,
    /// How many network cards the instance type has. SPEC.md R3.12.4: with one (most types)
    /// EC2 leaves `macs/<mac>/network-card` out (404); with several it serves each
    /// interface's card.
    pub network_cards: u32,
    /// `network/interfaces/macs/…`; the first one is device 0 and gives `mac`.
    pub network_interfaces: Vec<NetworkInterface>,
    /// `public-keys/…`, index order.
    pub public_keys: Vec<PublicKey>,
    /// `iam/…`, when a role is attached.
    pub iam: Option<IamRole>,
    /// `identity-credentials/ec2/…`.
    pub identity_credentials: Option<Credentials>,
    /// `services/…`.
    pub services: Services,
    /// `events/maintenance/…`.
    pub maintenance_events: MaintenanceEvents,
    /// `spot/instance-action`, when an interruption is pending.
    pub spot_instance_action: Option<SpotAction>,
    /// `spot/termination-time`, when marked for termination.
    pub spot_termination_time: Option<String>,
    /// `events/recommendations/rebalance` notice time, after a rebalance recommendation.
    pub rebalance_notice_time: Option<String>,
    /// `autoscaling/target-lifecycle-state`, for Auto Scaling members.
    pub autoscaling_target_lifecycle_state: Option<String>,
    /// `user-data` as text; `user-data-base64` wins when both are given.
    pub user_data: Option<String>,
    /// `user-data` as base64, for binary user data.
    pub user_data_base64: Option<String>,
    /// Instance tags (`tags/instance/…`, served only with `InstanceMetadataTags=enabled`).
    pub tags: BTreeMap<String, String>,
    /// The signature blobs of the identity document.
    pub identity_signatures: IdentitySignatures,
    /// Identity document `billingProducts`.
    pub billing_products: Option<Vec<String>>,
    /// Identity document `marketplaceProductCodes`.
    pub marketplace_product_codes: Option<Vec<String>>,
    /// `dynamic/fws/instance-monitoring`: `enabled` or `disabled`.
    pub instance_monitoring: String,
    /// The form of every 401 this instance's IMDS sends (SPEC R6.1: both are seen on EC2).
    pub unauthorized_body: UnauthorizedBody,
}

/// The two forms of a 401 seen on real EC2 (SPEC R6.1); what decides between them is not
/// known (SPEC §12), so an instance file picks one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnauthorizedBody {
    /// An empty `text/plain` body (`Content-Length: 0`), as in the newest raw record (2024).
    #[default]
    Empty,
    /// EC2's XHTML "401 - Unauthorized" page as `text/html`, as in the 2020 raw capture.
    XhtmlPage,
}

/// `placement/…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Placement {
    /// `placement/region`.
    pub region: String,
    /// `placement/availability-zone`; must start with the region.
    pub availability_zone: String,
    /// `placement/availability-zone-id`.
    pub availability_zone_id: String,
    /// `placement/group-name`.
    pub group_name: Option<String>,
    /// `placement/host-id` (Dedicated Hosts).
    pub host_id: Option<String>,
    /// `placement/partition-number`.
    pub partition_number: Option<u32>,
}

/// One ENI under `network/interfaces/macs/<mac>/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct NetworkInterface {
    /// Lower-case, colon-separated MAC.
    pub mac: String,
    /// `device-number`.
    pub device_number: u32,
    /// `network-card`: the network card the interface is attached to, below the instance's
    /// `network-cards`; served only on multi-card types (SPEC.md R3.12.4). The category
    /// table's older `network-card-index` name is accepted here as an alias.
    #[serde(alias = "network-card-index")]
    pub network_card: u32,
    /// `interface-id`.
    pub interface_id: String,
    /// `local-hostname`.
    pub local_hostname: String,
    /// `local-ipv4s`.
    pub local_ipv4s: Vec<String>,
    /// `public-hostname`.
    pub public_hostname: Option<String>,
    /// `public-ipv4s`; each also appears under `ipv4-associations/`.
    pub public_ipv4s: Vec<String>,
    /// `ipv6s`.
    pub ipv6s: Vec<String>,
    /// `security-groups`.
    pub security_groups: Vec<String>,
    /// `security-group-ids`.
    pub security_group_ids: Vec<String>,
    /// `subnet-id`.
    pub subnet_id: String,
    /// `subnet-ipv4-cidr-block`.
    pub subnet_ipv4_cidr_block: String,
    /// `subnet-ipv6-cidr-blocks`.
    pub subnet_ipv6_cidr_blocks: Vec<String>,
    /// `vpc-id`.
    pub vpc_id: String,
    /// `vpc-ipv4-cidr-block`.
    pub vpc_ipv4_cidr_block: String,
    /// `vpc-ipv4-cidr-blocks`.
    pub vpc_ipv4_cidr_blocks: Vec<String>,
    /// `vpc-ipv6-cidr-blocks`.
    pub vpc_ipv6_cidr_blocks: Vec<String>,
    /// `ipv4-prefix`: delegated IPv4 prefixes (CIDR, e.g. `10.0.1.16/28`); the leaf is absent
    /// (404) when empty.
    pub ipv4_prefixes: Vec<String>,
    /// `ipv6-prefix`: delegated IPv6 prefixes (CIDR, e.g. `2600:1f18::a0/80`); absent when empty.
    pub ipv6_prefixes: Vec<String>,
}

/// One launch key (`public-keys/N=name`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PublicKey {
    /// Key pair name.
    pub name: String,
    /// The `openssh-key` line.
    pub openssh_key: String,
}

/// An attached IAM role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IamRole {
    /// Role name (the `security-credentials/` entry).
    pub role_name: String,
    /// `InstanceProfileArn` of `iam/info`.
    pub instance_profile_arn: String,
    /// `InstanceProfileId` of `iam/info`.
    pub instance_profile_id: String,
    /// The role's temporary credentials.
    pub credentials: Credentials,
    /// Instance-file key `extended-credentials` (under `[iam]`): serve and list
    /// `iam/security-credentials-extended/` (credentials plus `AccountId`). Off by default:
    /// SPEC.md §3.9, EC2 serves it only to allow-listed accounts and answers 404 elsewhere,
    /// which SDKs that try it first (Java, Ruby, PHP) take as "use the legacy path".
    pub extended_credentials: bool,
}

/// Temporary credentials. Times left out are derived from the clock: they rotate every hour
/// and expire six hours after issue, so a long-running server never serves stale ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Credentials {
    /// `AccessKeyId`.
    pub access_key_id: String,
    /// `SecretAccessKey`.
    pub secret_access_key: String,
    /// `Token`.
    pub token: String,
    /// `LastUpdated`, ISO-8601; derived from the clock when absent.
    pub last_updated: Option<String>,
    /// `Expiration`, ISO-8601; derived from the clock when absent.
    pub expiration: Option<String>,
}

/// `services/…`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Services {
    /// `services/domain`.
    pub domain: String,
    /// `services/partition`.
    pub partition: String,
}

/// `events/maintenance/scheduled` and `…/history`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaintenanceEvents {
    /// Active events.
    pub scheduled: Vec<MaintenanceEvent>,
    /// Completed or cancelled events.
    pub history: Vec<MaintenanceEvent>,
}

/// One maintenance event; times in EC2's `1 Jan 2021 02:00:00 GMT` form (day not
/// zero-padded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MaintenanceEvent {
    /// `Code`, e.g. `system-reboot`.
    pub code: String,
    /// `Description`.
    pub description: String,
    /// `EventId`.
    pub event_id: String,
    /// `NotBefore`.
    pub not_before: String,
    /// `NotAfter`; EC2 leaves it out for some events (an `instance-stop` seen in the wild had
    /// none), so it may be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// `NotBeforeDeadline`: the latest the event can be rescheduled to; served only when
    /// given (AEMM serves it with every event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before_deadline: Option<String>,
    /// `State`: `active`, `completed` or `canceled`.
    pub state: String,
}

/// A pending spot interruption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SpotAction {
    /// `stop`, `terminate` or `hibernate`.
    pub action: String,
    /// ISO-8601 UTC time of the action.
    pub time: String,
}

/// Bare base64 signature blobs served under `dynamic/instance-identity/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct IdentitySignatures {
    /// `pkcs7` (PKCS#7, no PEM armour, no final newline).
    pub pkcs7: String,
    /// `signature`.
    pub signature: String,
    /// `rsa2048`.
    pub rsa2048: String,
    /// `dsa2048` (listed, undocumented).
    pub dsa2048: String,
}

const ACCOUNT: &str = "123456789012";

impl Default for Instance {
    fn default() -> Self {
        let mac = "0e:49:61:0f:c3:11".to_owned();
        Instance {
            instance_id: "i-0123456789abcdef0".into(),
            ami_id: "ami-0abcdef1234567890".into(),
            ami_launch_index: 0,
            ami_manifest_path: "(unknown)".into(),
            ancestor_ami_ids: Vec::new(),
            instance_type: "t3.micro".into(),
            instance_action: "none".into(),
            instance_life_cycle: "on-demand".into(),
            kernel_id: None,
            ramdisk_id: None,
            account_id: ACCOUNT.into(),
            architecture: "x86_64".into(),
            launch_time: "2026-01-15T09:30:00Z".into(),
            hostname: "ip-172-31-16-10.ec2.internal".into(),
            local_hostname: "ip-172-31-16-10.ec2.internal".into(),
            local_ipv4: Some("172.31.16.10".into()),
            public_hostname: Some("ec2-3-88-21-4.compute-1.amazonaws.com".into()),
            public_ipv4: Some("3.88.21.4".into()),
            ipv6: None,
            reservation_id: "r-0a1b2c3d4e5f67890".into(),
            security_groups: vec!["default".into()],
            product_codes: Vec::new(),
            profile: "default-hvm".into(),
            placement: Placement::default(),
            block_device_mapping: BTreeMap::from([
                ("ami".into(), "/dev/xvda".into()),
                ("root".into(), "/dev/xvda".into()),
            ]),
            network_cards: 1,
            network_interfaces: vec![NetworkInterface {
                mac,
                ..NetworkInterface::default()
            }],
            public_keys: vec![PublicKey {
                name: "imdspec-key".into(),
                openssh_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNkbXBsZS1rZXktZm9yLWltZHNzcGVjLXRlc3Rz imdspec-key".into(),
            }],
            iam: Some(IamRole::default()),
            identity_credentials: Some(Credentials {
                access_key_id: "ASIAIMDSPECIDENTITY1".into(),
                secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYIDENTITY01".into(),
                token: "IQoJb3JpZ2luX2VjEIdentityRoleSessionTokenForImdspec/EXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQ".into(),
                last_updated: None,
                expiration: None,
            }),
            services: Services::default(),
            maintenance_events: MaintenanceEvents {
                scheduled: Vec::new(),
                history: vec![MaintenanceEvent {
                    code: "system-reboot".into(),
                    description: "scheduled reboot".into(),
                    event_id: "instance-event-0d59937288b749b32".into(),
                    not_before: "14 Jan 2026 03:00:00 GMT".into(),
                    not_after: Some("14 Jan 2026 05:00:00 GMT".into()),
                    not_before_deadline: None,
                    state: "completed".into(),
                }],
            },
            spot_instance_action: None,
            spot_termination_time: None,
            rebalance_notice_time: None,
            autoscaling_target_lifecycle_state: None,
            user_data: Some("#!/bin/bash\necho hello from imdspec\n".into()),
            user_data_base64: None,
            tags: BTreeMap::from([
                ("Name".into(), "imdspec-reference".into()),
                ("Environment".into(), "test".into()),
            ]),
            identity_signatures: IdentitySignatures::default(),
            billing_products: None,
            marketplace_product_codes: None,
            instance_monitoring: "disabled".into(),
            unauthorized_body: UnauthorizedBody::default(),
        }
    }
}

impl Default for Placement {
    fn default() -> Self {
        Placement {
            region: "us-east-1".into(),
            availability_zone: "us-east-1a".into(),
            availability_zone_id: "use1-az6".into(),
            group_name: None,
            host_id: None,
            partition_number: None,
        }
    }
}

impl Default for NetworkInterface {
    fn default() -> Self {
        NetworkInterface {
            mac: "0e:49:61:0f:c3:11".into(),
            device_number: 0,
            network_card: 0,
            interface_id: "eni-0a1b2c3d4e5f67890".into(),
            local_hostname: "ip-172-31-16-10.ec2.internal".into(),
            local_ipv4s: vec!["172.31.16.10".into()],
            public_hostname: Some("ec2-3-88-21-4.compute-1.amazonaws.com".into()),
            public_ipv4s: vec!["3.88.21.4".into()],
            ipv6s: Vec::new(),
            security_groups: vec!["default".into()],
            security_group_ids: vec!["sg-0123abcd4567ef890".into()],
            subnet_id: "subnet-0f1e2d3c4b5a69788".into(),
            subnet_ipv4_cidr_block: "172.31.16.0/20".into(),
            subnet_ipv6_cidr_blocks: Vec::new(),
            vpc_id: "vpc-0a1b2c3d4e5f60718".into(),
            vpc_ipv4_cidr_block: "172.31.0.0/16".into(),
            vpc_ipv4_cidr_blocks: vec!["172.31.0.0/16".into()],
            vpc_ipv6_cidr_blocks: Vec::new(),
            ipv4_prefixes: Vec::new(),
            ipv6_prefixes: Vec::new(),
        }
    }
}

impl Default for IamRole {
    fn default() -> Self {
        IamRole {
            role_name: "imdspec-role".into(),
            instance_profile_arn: format!("arn:aws:iam::{ACCOUNT}:instance-profile/imdspec-role"),
            instance_profile_id: "AIPAIMDSPECEXAMPLE001".into(),
            credentials: Credentials::default(),
            extended_credentials: false,
        }
    }
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            access_key_id: "ASIAIMDSPECEXAMPLE01".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            token: "IQoJb3JpZ2luX2VjEImdspecSessionTokenExampleOnlyNotARealCredential//////////wEaCXVzLWVhc3QtMSJGMEQCIA".into(),
            last_updated: None,
            expiration: None,
        }
    }
}

impl Default for Services {
    fn default() -> Self {
        Services {
            domain: "amazonaws.com".into(),
            partition: "aws".into(),
        }
    }
}

impl Default for IdentitySignatures {
    fn default() -> Self {
        // Placeholders in the bare-base64 shape EC2 serves; they verify against nothing.
        let blob = |tag: &str, lines: usize| {
            let line = format!("{tag}{}", "A".repeat(64 - tag.len()));
            vec![line; lines].join("\n")
        };
        IdentitySignatures {
            pkcs7: blob(
                "MIAGCSqGSIb3DQEHAqCAMIACAQExCzAJBgUrDgMCGgUAMIAGCSqGSIb3DQEHAaCA",
                6,
            ),
            signature: "SW1kc3BlY1BsYWNlaG9sZGVyU2lnbmF0dXJlTm90VmVyaWZpYWJsZUFnYWluc3RBbnlLZXkK"
                .into(),
            rsa2048: blob(
                "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0B",
                8,
            ),
            dsa2048: blob(
                "MIAGCSqGSIb3DQEHAqCAMIACAQExDTALBglghkgBZQMEAgEwgAYJKoZIhvcNAQcB",
                6,
            ),
        }
    }
}

/// Why an instance file was refused: the shared loader error (`FILE:LINE:COL: FIELD: MESSAGE`).
pub type InstanceError = LoadError;

/// The format of an instance file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceFormat {
    /// TOML (kebab-case keys).
    Toml,
    /// JSON (same keys).
    Json,
}

impl Instance {
    /// `mac`: the MAC of device 0.
    pub fn mac(&self) -> &str {
        self.network_interfaces
            .first()
            .map_or("", |eni| eni.mac.as_str())
    }

    /// Turns on `iam/security-credentials-extended/` for the attached role (what
    /// `imdspec serve --extended-credentials` does). Fails when no role is attached.
    pub fn enable_extended_credentials(&mut self) -> Result<(), String> {
        match &mut self.iam {
            Some(role) => {
                role.extended_credentials = true;
                Ok(())
            }
            None => Err("the instance has no IAM role to serve extended credentials for".into()),
        }
    }

    /// The user data bytes, if any (`user-data-base64` wins over `user-data`).
    pub fn user_data_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        if let Some(b64) = &self.user_data_base64 {
            return base64::engine::general_purpose::STANDARD.decode(b64).ok();
        }
        self.user_data.as_ref().map(|s| s.as_bytes().to_vec())
    }

    /// Parses and validates instance content over the built-in instance; `file` is only used
    /// in errors.
    pub fn from_text(
        file: &str,
        text: &str,
        format: InstanceFormat,
    ) -> Result<Self, InstanceError> {
        Self::from_text_over(&Instance::default(), file, text, format)
    }

    /// Parses and validates instance content over `base`: keys left out keep `base`'s values
    /// (tables merge key by key, lists and values replace), and what EC2 derives from a key
    /// the text changes follows it (see `Instance::derive`).
    pub fn from_text_over(
        base: &Instance,
        file: &str,
        text: &str,
        format: InstanceFormat,
    ) -> Result<Self, InstanceError> {
        let file = Path::new(file);
        let src = match format {
            InstanceFormat::Toml => Source::toml(file, text),
            InstanceFormat::Json => Source::json(file, text),
        };
        let doc: serde_json::Value = src.parse()?;
        Self::from_doc_over(base, &doc, &src)
    }

    /// `doc` (read from `src`, which errors point into) laid over `base`, derived and checked
    /// (the control API's `PATCH /instance` lays a patch over the instance in force).
    pub fn from_doc_over(
        base: &Instance,
        doc: &serde_json::Value,
        src: &Source<'_>,
    ) -> Result<Self, InstanceError> {
        if !doc.is_object() {
            return Err(src.at_field(&[], "expected a table (object) of instance keys"));
        }
        if let Some((path, message)) = missing_required(doc) {
            return Err(src.at_field(&path, message));
        }
        let mut merged = serde_json::to_value(base)
            .map_err(|e| src.at_field(&[], format!("cannot render the base instance: {e}")))?;
        overlay(&mut merged, doc);
        let mut instance: Instance = src.parse_value(merged).map_err(|e| {
            // The text read alone, if it fails at the same field, places the error exactly
            // (a missing key's table, a value's column) where the merged document cannot.
            match src.parse::<Instance>() {
                Err(direct) if direct.field == e.field => direct,
                _ => e,
            }
        })?;
        // Checked before they are copied into device 0's lists, so the error names them.
        instance
            .top_addresses()
            .map_err(|(path, message)| src.at_field(&path, message))?;
        instance
            .derive(base, doc)
            .map_err(|(path, message)| src.at_field(&path, message))?;
        instance
            .check()
            .map_err(|(path, message)| src.at_field(&path, message))?;
        Ok(instance)
    }

    /// Makes what EC2 derives follow the keys `doc` sets, when `doc` leaves the derived key
    /// out; refuses a `doc` that sets both to values EC2 could never serve together.
    /// Device 0's first `local-ipv4s`, `public-ipv4s` and `ipv6s` entries are `local-ipv4`,
    /// `public-ipv4` and `ipv6`; IP-based hostnames (`ip-10-0-0-5.ec2.internal`,
    /// `ec2-3-88-21-4.compute-1.amazonaws.com`) follow the address and the region, and the
    /// zone follows the region. A hostname the base did not derive (resource-based names,
    /// custom values) is kept.
    fn derive(
        &mut self,
        base: &Instance,
        doc: &serde_json::Value,
    ) -> Result<(), (Vec<Seg>, String)> {
        let k = Seg::key;
        let given = |path: &[&str]| {
            let mut v = doc;
            for key in path {
                match v.get(*key) {
                    Some(next) => v = next,
                    None => return false,
                }
            }
            true
        };
        let enis_given = given(&["network-interfaces"]);
        // Device 0's primary addresses.
        type Pick = fn(&mut Instance) -> (&mut Option<String>, &mut Vec<String>);
        let pairs: [(&str, &str, Pick); 3] = [
            ("local-ipv4", "local-ipv4s", |i| {
                let eni = &mut i.network_interfaces[0];
                (&mut i.local_ipv4, &mut eni.local_ipv4s)
            }),
            ("public-ipv4", "public-ipv4s", |i| {
                let eni = &mut i.network_interfaces[0];
                (&mut i.public_ipv4, &mut eni.public_ipv4s)
            }),
            ("ipv6", "ipv6s", |i| {
                let eni = &mut i.network_interfaces[0];
                (&mut i.ipv6, &mut eni.ipv6s)
            }),
        ];
        if self.network_interfaces.is_empty() {
            return Ok(()); // check() names the missing device 0
        }
        for (top, list_key, pick) in pairs {
            let top_given = given(&[top]);
            let old = match top {
                "local-ipv4" => base.local_ipv4.clone(),
                "public-ipv4" => base.public_ipv4.clone(),
                _ => base.ipv6.clone(),
            };
            let (value, list) = pick(self);
            match (top_given, enis_given) {
                (false, true) => *value = list.first().cloned(),
                (true, false) => {
                    if let Some(old) = &old {
                        list.retain(|a| a != old);
                    }
                    if let Some(new) = value.clone() {
                        list.retain(|a| *a != new);
                        list.insert(0, new);
                    }
                }
                (true, true) => {
                    // An empty list says nothing yet: it takes the address.
                    if let Some(v) = value.as_ref()
                        && list.is_empty()
                    {
                        list.push(v.clone());
                    } else if let Some(v) = value.as_ref()
                        && !list.contains(v)
                    {
                        return Err((
                            vec![k(top)],
                            format!(
                                "{v:?} is not one of device 0's {list_key} ({}); EC2 serves {top} from there",
                                list.join(", ")
                            ),
                        ));
                    }
                }
                (false, false) => {}
            }
        }
        // The zone follows the region.
        if given(&["placement", "region"])
            && !given(&["placement", "availability-zone"])
            && let Some(letter) = base
                .placement
                .availability_zone
                .strip_prefix(base.placement.region.as_str())
        {
            self.placement.availability_zone = format!("{}{letter}", self.placement.region);
        }
        // IP-based hostnames follow their address and region.
        let region_given = given(&["placement", "region"]);
        let ipbn =
            |ip: &Option<String>, region: &str| ip.as_deref().map(|a| private_name(a, region));
        let public =
            |ip: &Option<String>, region: &str| ip.as_deref().map(|a| public_name(a, region));
        let b = base;
        let bregion = b.placement.region.clone();
        let region = self.placement.region.clone();
        let (old_private, new_private) = (
            ipbn(&b.local_ipv4, &bregion),
            ipbn(&self.local_ipv4, &region),
        );
        let (old_public, new_public) = (
            public(&b.public_ipv4, &bregion),
            public(&self.public_ipv4, &region),
        );
        let sources_changed =
            given(&["local-ipv4"]) || given(&["public-ipv4"]) || enis_given || region_given;
        for (key, field) in [("hostname", 0), ("local-hostname", 1)] {
            let value = if field == 0 {
                &mut self.hostname
            } else {
                &mut self.local_hostname
            };
            if given(&[key]) {
                if let (Some(shown), Some(want)) =
                    (ip_in_private_name(value), self.local_ipv4.as_deref())
                    && shown != want
                {
                    return Err((
                        vec![k(key)],
                        format!("{value:?} names address {shown}, but local-ipv4 is {want}"),
                    ));
                }
            } else if sources_changed
                && Some(value.as_str()) == old_private.as_deref()
                && let Some(new) = &new_private
            {
                *value = new.clone();
            }
        }
        if !given(&["public-hostname"]) && sources_changed && self.public_hostname == old_public {
            self.public_hostname = new_public.clone();
        }
        if !enis_given && sources_changed {
            let eni = &mut self.network_interfaces[0];
            if Some(eni.local_hostname.as_str()) == old_private.as_deref()
                && let Some(new) = &new_private
            {
                eni.local_hostname = new.clone();
            }
            if eni.public_hostname == old_public {
                eni.public_hostname = new_public;
            }
        }
        Ok(())
    }

    /// Checks the rules EC2 itself keeps: id shapes, AZ within region, tag key charset.
    /// Returns the offending field's path (`network-interfaces[1].mac`) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.check()
            .map_err(|(path, message)| (imds_diag::render_path(&path), message))
    }

    /// `local-ipv4`, `public-ipv4` and `ipv6` are addresses of their family.
    fn top_addresses(&self) -> Result<(), (Vec<Seg>, String)> {
        let bad = |f: &[Seg], m: String| Err::<(), _>((f.to_vec(), m));
        let k = |s: &str| Seg::key(s);
        for (key, value) in [
            ("local-ipv4", &self.local_ipv4),
            ("public-ipv4", &self.public_ipv4),
        ] {
            if let Some(ip) = value
                && ip.parse::<Ipv4Addr>().is_err()
            {
                return bad(&[k(key)], format!("not an IPv4 address: {ip:?}"));
            }
        }
        if let Some(ip) = &self.ipv6
            && ip.parse::<std::net::Ipv6Addr>().is_err()
        {
            return bad(&[k("ipv6")], format!("not an IPv6 address: {ip:?}"));
        }
        Ok(())
    }

    fn check(&self) -> Result<(), (Vec<Seg>, String)> {
        let bad = |f: &[Seg], m: String| Err((f.to_vec(), m));
        let k = Seg::key;
        let is_hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        match self.instance_id.strip_prefix("i-") {
            Some(hex) if is_hex(hex) && (hex.len() == 8 || hex.len() == 17) => {}
            _ => {
                return bad(
                    &[k("instance-id")],
                    format!(
                        "expected i- and 8 or 17 hex digits, got {:?}",
                        self.instance_id
                    ),
                );
            }
        }
        if !self.ami_id.starts_with("ami-") {
            return bad(
                &[k("ami-id")],
                format!("expected ami-…, got {:?}", self.ami_id),
            );
        }
        if self.network_interfaces.is_empty() {
            return bad(
                &[k("network-interfaces")],
                "at least one interface (device 0) is needed".into(),
            );
        }
        for (i, eni) in self.network_interfaces.iter().enumerate() {
            let parts: Vec<&str> = eni.mac.split(':').collect();
            if parts.len() != 6
                || !parts.iter().all(|p| p.len() == 2 && is_hex(p))
                || eni.mac.bytes().any(|b| b.is_ascii_uppercase())
            {
                return bad(
                    &[k("network-interfaces"), Seg::Index(i), k("mac")],
                    format!("expected a lower-case colon MAC, got {:?}", eni.mac),
                );
            }
        }
        if self.network_cards == 0 {
            return bad(
                &[k("network-cards")],
                "an instance type has at least one network card".into(),
            );
        }
        for (i, eni) in self.network_interfaces.iter().enumerate() {
            if eni.network_card >= self.network_cards {
                return bad(
                    &[k("network-interfaces"), Seg::Index(i), k("network-card")],
                    format!(
                        "card {} does not exist: network-cards = {} (cards are numbered from 0; \
                         set network-cards for a multi-card instance type)",
                        eni.network_card, self.network_cards
                    ),
                );
            }
        }
        let p = &self.placement;
        if p.region.is_empty()
            || !p.availability_zone.starts_with(&p.region)
            || p.availability_zone.len() <= p.region.len()
        {
            return bad(
                &[k("placement"), k("availability-zone")],
                format!(
                    "{:?} is not a zone of region {:?}",
                    p.availability_zone, p.region
                ),
            );
        }
        if !["i386", "x86_64", "arm64"].contains(&self.architecture.as_str()) {
            return bad(
                &[k("architecture")],
                format!(
                    "expected i386, x86_64 or arm64, got {:?}",
                    self.architecture
                ),
            );
        }
        if crate::clock::Timestamp::parse_iso8601(&self.launch_time).is_none() {
            return bad(
                &[k("launch-time")],
                format!("expected YYYY-MM-DDTHH:MM:SSZ, got {:?}", self.launch_time),
            );
        }
        // EC2's account ids are 12 digits; AEMM's default has 10, so only digits are required.
        if self.account_id.is_empty() || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return bad(
                &[k("account-id")],
                format!("expected digits (12 on EC2), got {:?}", self.account_id),
            );
        }
        for (path, value, prefix) in [
            (vec![k("reservation-id")], Some(&self.reservation_id), "r"),
            (vec![k("kernel-id")], self.kernel_id.as_ref(), "aki"),
            (vec![k("ramdisk-id")], self.ramdisk_id.as_ref(), "ari"),
        ] {
            if let Some(id) = value
                && !valid_id(id, prefix)
            {
                return bad(
                    &path,
                    format!("expected {prefix}- and hex digits, got {id:?}"),
                );
            }
        }
        for (key, value) in [
            ("spot-termination-time", self.spot_termination_time.as_ref()),
            ("rebalance-notice-time", self.rebalance_notice_time.as_ref()),
        ] {
            if let Some(t) = value
                && crate::clock::Timestamp::parse_iso8601(t).is_none()
            {
                return bad(
                    &[k(key)],
                    format!("expected a UTC time such as 2026-01-15T09:30:00Z, got {t:?}"),
                );
            }
        }
        if let Some(a) = &self.spot_instance_action
            && crate::clock::Timestamp::parse_iso8601(&a.time).is_none()
        {
            return bad(
                &[k("spot-instance-action"), k("time")],
                format!(
                    "expected a UTC time such as 2026-01-15T09:30:00Z, got {:?}",
                    a.time
                ),
            );
        }
        for (table, creds) in [
            ("iam", self.iam.as_ref().map(|r| &r.credentials)),
            ("identity-credentials", self.identity_credentials.as_ref()),
        ] {
            let Some(c) = creds else { continue };
            for (key, value) in [
                ("last-updated", &c.last_updated),
                ("expiration", &c.expiration),
            ] {
                if let Some(t) = value
                    && crate::clock::Timestamp::parse_iso8601(t).is_none()
                {
                    let mut path = vec![k(table)];
                    if table == "iam" {
                        path.push(k("credentials"));
                    }
                    path.push(k(key));
                    return bad(
                        &path,
                        format!("expected a UTC time such as 2026-01-15T09:30:00Z, got {t:?}"),
                    );
                }
            }
        }
        for (i, eni) in self.network_interfaces.iter().enumerate() {
            let at = |field: &str| vec![k("network-interfaces"), Seg::Index(i), Seg::key(field)];
            for (field, id, prefix) in [
                ("interface-id", &eni.interface_id, "eni"),
                ("subnet-id", &eni.subnet_id, "subnet"),
                ("vpc-id", &eni.vpc_id, "vpc"),
            ] {
                if !valid_id(id, prefix) {
                    return bad(
                        &at(field),
                        format!("expected {prefix}- and hex digits, got {id:?}"),
                    );
                }
            }
            if let Some(id) = eni.security_group_ids.iter().find(|id| !valid_id(id, "sg")) {
                return bad(
                    &at("security-group-ids"),
                    format!("expected sg- and hex digits, got {id:?}"),
                );
            }
            if let Some(ip) = eni
                .ipv6s
                .iter()
                .find(|ip| ip.parse::<std::net::Ipv6Addr>().is_err())
            {
                return bad(&at("ipv6s"), format!("not an IPv6 address: {ip:?}"));
            }
            for (field, blocks, v6) in [
                (
                    "subnet-ipv4-cidr-block",
                    std::slice::from_ref(&eni.subnet_ipv4_cidr_block),
                    false,
                ),
                (
                    "vpc-ipv4-cidr-block",
                    std::slice::from_ref(&eni.vpc_ipv4_cidr_block),
                    false,
                ),
                (
                    "vpc-ipv4-cidr-blocks",
                    eni.vpc_ipv4_cidr_blocks.as_slice(),
                    false,
                ),
                (
                    "subnet-ipv6-cidr-blocks",
                    eni.subnet_ipv6_cidr_blocks.as_slice(),
                    true,
                ),
                (
                    "vpc-ipv6-cidr-blocks",
                    eni.vpc_ipv6_cidr_blocks.as_slice(),
                    true,
                ),
            ] {
                if let Some(b) = blocks.iter().find(|b| !valid_prefix(b, v6)) {
                    return bad(
                        &at(field),
                        format!("not an IPv{} CIDR block: {b:?}", if v6 { 6 } else { 4 }),
                    );
                }
            }
        }
        for key in self.tags.keys() {
            if !valid_tag_key(key) {
                return bad(
                    &[k("tags"), k(key.as_str())],
                    format!(
                        "tag key {key:?} cannot be exposed in instance metadata (letters, digits and + - = . , _ : @ only; not '.', '..' or '_index')"
                    ),
                );
            }
        }
        if let Some(b64) = &self.user_data_base64 {
            use base64::Engine as _;
            if base64::engine::general_purpose::STANDARD
                .decode(b64)
                .is_err()
            {
                return bad(&[k("user-data-base64")], "not valid base64".into());
            }
        }
        if self.user_data_bytes().is_some_and(|d| d.len() > 16 * 1024) {
            return bad(&[k("user-data")], "user data is limited to 16 KiB".into());
        }
        // These fields become path segments; anything else would be listed but unreachable.
        if let Some(role) = &self.iam
            && !valid_role_name(&role.role_name)
        {
            return bad(
                &[k("iam"), k("role-name")],
                format!(
                    "not an IAM role name (1-64 of letters, digits and + = , . @ _ -; not '.' or '..'): {:?}",
                    role.role_name
                ),
            );
        }
        for name in self.block_device_mapping.keys() {
            if !valid_device_name(name) {
                return bad(
                    &[k("block-device-mapping"), k(name.as_str())],
                    format!("expected ami, root, swap, ebsN or ephemeralN, got {name:?}"),
                );
            }
        }
        for (i, eni) in self.network_interfaces.iter().enumerate() {
            for (list, field) in [
                (&eni.public_ipv4s, "public-ipv4s"),
                (&eni.local_ipv4s, "local-ipv4s"),
            ] {
                if let Some(bad_ip) = list.iter().find(|ip| ip.parse::<Ipv4Addr>().is_err()) {
                    return bad(
                        &[k("network-interfaces"), Seg::Index(i), k(field)],
                        format!("not an IPv4 address: {bad_ip:?}"),
                    );
                }
            }
        }
        for (i, eni) in self.network_interfaces.iter().enumerate() {
            for (list, field, v6) in [
                (&eni.ipv4_prefixes, "ipv4-prefixes", false),
                (&eni.ipv6_prefixes, "ipv6-prefixes", true),
            ] {
                if let Some(bad_prefix) = list.iter().find(|p| !valid_prefix(p, v6)) {
                    return bad(
                        &[k("network-interfaces"), Seg::Index(i), k(field)],
                        format!(
                            "not an IPv{} prefix (address/length): {bad_prefix:?}",
                            if v6 { 6 } else { 4 }
                        ),
                    );
                }
            }
        }
        // After device 0's lists, which these are derived from when a file changes those.
        self.top_addresses()?;
        let events = &self.maintenance_events;
        for (list, name) in [
            (&events.scheduled, "scheduled"),
            (&events.history, "history"),
        ] {
            for (n, e) in list.iter().enumerate() {
                for (field, value) in [
                    ("not-before", Some(&e.not_before)),
                    ("not-after", e.not_after.as_ref()),
                    ("not-before-deadline", e.not_before_deadline.as_ref()),
                ] {
                    if let Some(t) = value
                        && !valid_event_time(t)
                    {
                        return bad(
                            &[k("maintenance-events"), k(name), Seg::Index(n), k(field)],
                            format!(
                                "expected EC2's event time such as \"1 Jan 2021 02:00:00 GMT\", got {t:?}"
                            ),
                        );
                    }
                }
            }
        }
        for (i, key) in self.public_keys.iter().enumerate() {
            if key.name.is_empty() || key.name.contains(['\n', '/']) {
                return bad(
                    &[k("public-keys"), Seg::Index(i), k("name")],
                    format!("not a key name: {:?}", key.name),
                );
            }
        }
        Ok(())
    }
}

/// The first list entry in `doc` lacking keys its list requires, with all of them named at
/// once.
fn missing_required(doc: &serde_json::Value) -> Option<(Vec<Seg>, String)> {
    for (list, required) in REQUIRED_IN_LISTS {
        let Some(items) = list
            .split('.')
            .try_fold(doc, |v, part| v.get(part))
            .and_then(|v| v.as_array())
        else {
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(entry) = item.as_object() else {
                continue;
            };
            let missing: Vec<&str> = required
                .iter()
                .copied()
                .filter(|k| !entry.contains_key(*k))
                .collect();
            let mut path: Vec<Seg> = list.split('.').map(Seg::key).collect();
            path.push(Seg::Index(i));
            match missing.as_slice() {
                [] => {}
                // One alone is left to serde, whose error has the entry's exact position.
                [_] => {}
                many => {
                    let names: Vec<String> = many.iter().map(|k| format!("`{k}`")).collect();
                    return Some((
                        path,
                        format!("required keys {} are missing", names.join(", ")),
                    ));
                }
            }
        }
    }
    None
}

/// The lists of tables in an instance file whose entries must each give some keys (the
/// others take defaults), and those keys. The instance file's documented key table
/// (`imds-files`) marks the same keys "required in each entry"; its test checks they agree.
pub const REQUIRED_IN_LISTS: &[(&str, &[&str])] = &[
    ("maintenance-events.scheduled", EVENT_KEYS),
    ("maintenance-events.history", EVENT_KEYS),
    ("public-keys", &["name", "openssh-key"]),
];

const EVENT_KEYS: &[&str] = &["code", "description", "event-id", "not-before", "state"];

/// Lays `doc` over `base`: tables merge key by key, anything else (lists, values, null)
/// replaces. An instance file or control body changes only what it names.
pub(crate) fn overlay(base: &mut serde_json::Value, doc: &serde_json::Value) {
    match (base, doc) {
        (serde_json::Value::Object(b), serde_json::Value::Object(d)) => {
            for (key, value) in d {
                match b.get_mut(key) {
                    Some(slot) => overlay(slot, value),
                    None => {
                        b.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (b, d) => *b = d.clone(),
    }
}

/// EC2's IP-based private name: `ip-10-0-0-5.ec2.internal` in us-east-1,
/// `ip-10-0-0-5.REGION.compute.internal` elsewhere.
fn private_name(ip: &str, region: &str) -> String {
    let dashed = ip.replace('.', "-");
    if region == "us-east-1" {
        format!("ip-{dashed}.ec2.internal")
    } else {
        format!("ip-{dashed}.{region}.compute.internal")
    }
}

/// EC2's public name: `ec2-3-88-21-4.compute-1.amazonaws.com` in us-east-1,
/// `ec2-….REGION.compute.amazonaws.com` elsewhere.
fn public_name(ip: &str, region: &str) -> String {
    let dashed = ip.replace('.', "-");
    if region == "us-east-1" {
        format!("ec2-{dashed}.compute-1.amazonaws.com")
    } else {
        format!("ec2-{dashed}.{region}.compute.amazonaws.com")
    }
}

/// The address an IP-based private name (`ip-10-0-0-5.…`) carries, if it is one.
fn ip_in_private_name(name: &str) -> Option<String> {
    let label = name.split('.').next()?.strip_prefix("ip-")?;
    let ip = label.replace('-', ".");
    ip.parse::<Ipv4Addr>().ok().map(|_| ip)
}

/// `PREFIX-` and lower-case hex digits: EC2's resource ids (`eni-0a1b…`, `vpc-…`).
fn valid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            !hex.is_empty()
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// IAM's role name rule (1–64 of `[A-Za-z0-9+=,.@_-]`), minus `.` and `..`, which no request
/// path can name.
fn valid_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// `block-device-mapping/` names (spec §3.13 \[H\]): `ami`, `root`, `swap`, `ebsN`, `ephemeralN`.
fn valid_device_name(name: &str) -> bool {
    let numbered = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(name, "ami" | "root" | "swap") || numbered("ebs") || numbered("ephemeral")
}

/// `address/length` with an address of the right family and a length it allows.
fn valid_prefix(prefix: &str, v6: bool) -> bool {
    let Some((addr, len)) = prefix.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    if v6 {
        addr.parse::<std::net::Ipv6Addr>().is_ok() && len <= 128
    } else {
        addr.parse::<Ipv4Addr>().is_ok() && len <= 32
    }
}

/// EC2's event time (SPEC.md §3.11): `D Mon YYYY HH:MM:SS GMT`, day 1–31 without a leading zero.
pub fn valid_event_time(t: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = t.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let day_ok = digits(day)
        && !day.starts_with('0')
        && day.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    let hms: Vec<&str> = time.split(':').collect();
    let time_ok = hms.len() == 3
        && hms.iter().all(|p| p.len() == 2 && digits(p))
        && hms[0] < "24"
        && hms[1] < "60"
        && hms[2] < "61";
    day_ok && MONTHS.contains(month) && year.len() == 4 && digits(year) && time_ok
}

/// Tag keys allowed when tags are exposed in instance metadata (spec §3.10).
pub fn valid_tag_key(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && key != "_index"
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-=.,_:@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_instance_is_valid() {
        Instance::default().validate().unwrap();
        assert_eq!(Instance::default().mac(), "0e:49:61:0f:c3:11");
    }

    #[test]
    fn toml_round_trips_and_overrides() {
        let i = Instance::from_text(
            "x.toml",
            "instance-type = \"m7g.large\"\n",
            InstanceFormat::Toml,
        )
        .unwrap();
        assert_eq!(i.instance_type, "m7g.large");
        assert_eq!(i.ami_id, Instance::default().ami_id);
        let text = toml::to_string(&Instance::default()).unwrap();
        let back = Instance::from_text("d.toml", &text, InstanceFormat::Toml).unwrap();
        assert_eq!(back, Instance::default());
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let e = Instance::from_text(
            "bad.toml",
            "ami-id = \"ami-1\"\ninstance-typo = 3\n",
            InstanceFormat::Toml,
        )
        .unwrap_err();
        assert_eq!(
            (e.file.to_str(), e.line, e.column, e.field.as_str()),
            (Some("bad.toml"), 2, 1, "instance-typo")
        );
        assert!(e.message.contains("did you mean `instance-type`?"), "{e}");
        let e = Instance::from_text(
            "bad.toml",
            "ami-id = \"ami-1\"\n\ninstance-id = \"x-1\"\n",
            InstanceFormat::Toml,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (3, "instance-id"));
        assert!(
            e.to_string().starts_with("bad.toml:3:1: instance-id:"),
            "{e}"
        );
        let e = Instance::from_text(
            "bad.json",
            "{\n  \"ami-launch-index\": \"zero\"\n}",
            InstanceFormat::Json,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "ami-launch-index"));
        let e = Instance::from_text(
            "t.toml",
            "[tags]\n\"has space\" = \"v\"\n",
            InstanceFormat::Toml,
        )
        .unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (2, "tags.\"has space\""));
        let e = Instance::from_text(
            "p.toml",
            "[placement]\nregion = \"eu-west-1\"\navailability-zone = \"us-east-1a\"\n",
            InstanceFormat::Toml,
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (3, "placement.availability-zone")
        );
    }

    #[test]
    fn tag_keys_follow_the_imds_charset() {
        assert!(valid_tag_key("aws:autoscaling:groupName"));
        assert!(valid_tag_key("a+b=c,d@e"));
        for bad in ["", ".", "..", "_index", "a b", "a/b", "é"] {
            assert!(!valid_tag_key(bad), "{bad:?}");
        }
    }
}
