//! Walks the whole path tree of generated instances: every listed entry resolves, every path
//! that exists is listed by its parent, and a dated version shows exactly what existed then.
//!
//! The expected path set is written here from the spec's §5 "since" table (an oracle that
//! does not look at the model's tree), so a missing, extra or wrongly dated path fails.

mod support;

use std::collections::BTreeSet;

use imds_model::version::{self, VERSIONS};
use imds_model::{Instance, MetadataOptions, Toggle, Version};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use support::{Fixture, instances, walk};

const fn v(y: u32, m: u32, d: u32) -> Version {
    Version::dated(y, m, d)
}

/// Every leaf path (relative to the version prefix) that `i` has at version `at`, per spec §5
/// (and §3.8–§3.12, §4 for what is present only when set).
fn expected_leaves(i: &Instance, at: Version, tags: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |since: Version, path: String| {
        if since <= at {
            out.insert(path);
        }
    };
    let v1 = Version::V1_0;
    let md = |p: &str| format!("meta-data/{p}");
    add(v1, md("ami-id"));
    add(v1, md("ami-launch-index"));
    add(v1, md("ami-manifest-path"));
    if !i.ancestor_ami_ids.is_empty() {
        add(v(2007, 10, 10), md("ancestor-ami-ids"));
    }
    if i.autoscaling_target_lifecycle_state.is_some() {
        add(v(2021, 7, 15), md("autoscaling/target-lifecycle-state"));
    }
    for name in i.block_device_mapping.keys() {
        add(v(2007, 12, 15), md(&format!("block-device-mapping/{name}")));
    }
    add(v(2018, 8, 17), md("events/maintenance/history"));
    add(v(2018, 8, 17), md("events/maintenance/scheduled"));
    if i.rebalance_notice_time.is_some() {
        add(v(2020, 10, 27), md("events/recommendations/rebalance"));
    }
    add(v1, md("hostname"));
    if let Some(role) = &i.iam {
        add(v(2012, 1, 12), md("iam/info"));
        add(
            v(2012, 1, 12),
            md(&format!("iam/security-credentials/{}", role.role_name)),
        );
        if role.extended_credentials {
            // Spec §9.8 [L]: the model serves the extended path at `latest` only.
            add(
                Version::LATEST,
                md(&format!(
                    "iam/security-credentials-extended/{}",
                    role.role_name
                )),
            );
        }
    }
    if i.identity_credentials.is_some() {
        add(v(2018, 5, 23), md("identity-credentials/ec2/info"));
        add(
            v(2018, 5, 23),
            md("identity-credentials/ec2/security-credentials/ec2-instance"),
        );
    }
    add(v(2008, 9, 1), md("instance-action"));
    add(v1, md("instance-id"));
    add(v(2019, 10, 1), md("instance-life-cycle"));
    add(v(2007, 8, 29), md("instance-type"));
    if i.ipv6.is_some() {
        add(v(2021, 1, 3), md("ipv6"));
    }
    if i.kernel_id.is_some() {
        add(v(2008, 2, 1), md("kernel-id"));
    }
    add(v(2007, 1, 19), md("local-hostname"));
    if i.local_ipv4.is_some() {
        add(v1, md("local-ipv4"));
    }
    add(v(2011, 1, 1), md("mac"));
    for eni in &i.network_interfaces {
        let p = |leaf: &str| md(&format!("network/interfaces/macs/{}/{leaf}", eni.mac));
        let v11 = v(2011, 1, 1);
        let v16 = v(2016, 6, 30);
        add(v11, p("device-number"));
        add(v11, p("interface-id"));
        for public in &eni.public_ipv4s {
            add(v11, p(&format!("ipv4-associations/{public}")));
        }
        let mut some = |since, list: &Vec<String>, leaf: &str| {
            if !list.is_empty() {
                add(since, p(leaf));
            }
        };
        some(v16, &eni.ipv6s, "ipv6s");
        some(v11, &eni.local_ipv4s, "local-ipv4s");
        some(v11, &eni.public_ipv4s, "public-ipv4s");
        some(v11, &eni.security_group_ids, "security-group-ids");
        some(v11, &eni.security_groups, "security-groups");
        some(v16, &eni.subnet_ipv6_cidr_blocks, "subnet-ipv6-cidr-blocks");
        some(v16, &eni.vpc_ipv4_cidr_blocks, "vpc-ipv4-cidr-blocks");
        some(v16, &eni.vpc_ipv6_cidr_blocks, "vpc-ipv6-cidr-blocks");
        some(v(2021, 7, 15), &eni.ipv4_prefixes, "ipv4-prefix");
        some(v(2021, 7, 15), &eni.ipv6_prefixes, "ipv6-prefix");
        add(v(2007, 1, 19), p("local-hostname"));
        add(v11, p("mac"));
        if i.network_cards > 1 {
            add(v(2020, 11, 1), p("network-card"));
        }
        add(v11, p("owner-id"));
        if eni.public_hostname.is_some() {
            add(v11, p("public-hostname"));
        }
        add(v11, p("subnet-id"));
        add(v11, p("subnet-ipv4-cidr-block"));
        add(v11, p("vpc-id"));
        add(v11, p("vpc-ipv4-cidr-block"));
    }
    let pl = &i.placement;
    add(v(2008, 2, 1), md("placement/availability-zone"));
    add(v(2019, 10, 1), md("placement/availability-zone-id"));
    if pl.group_name.is_some() {
        add(v(2020, 8, 24), md("placement/group-name"));
    }
    if pl.host_id.is_some() {
        add(v(2020, 8, 24), md("placement/host-id"));
    }
    if pl.partition_number.is_some() {
        add(v(2020, 8, 24), md("placement/partition-number"));
    }
    add(v(2020, 8, 24), md("placement/region"));
    if !i.product_codes.is_empty() {
        add(v(2007, 3, 1), md("product-codes"));
    }
    add(v1, md("profile"));
    if i.public_hostname.is_some() {
        add(v(2007, 1, 19), md("public-hostname"));
    }
    if i.public_ipv4.is_some() {
        add(v(2007, 1, 19), md("public-ipv4"));
    }
    for n in 0..i.public_keys.len() {
        add(v1, md(&format!("public-keys/{n}/openssh-key")));
    }
    if i.ramdisk_id.is_some() {
        add(v(2007, 10, 10), md("ramdisk-id"));
    }
    add(v1, md("reservation-id"));
    if !i.security_groups.is_empty() {
        add(v1, md("security-groups"));
    }
    add(v(2014, 2, 25), md("services/domain"));
    add(v(2015, 10, 20), md("services/partition"));
    if i.spot_instance_action.is_some() {
        add(v(2016, 11, 15), md("spot/instance-action"));
    }
    if i.spot_termination_time.is_some() {
        add(v(2014, 11, 5), md("spot/termination-time"));
    }
    if tags {
        for key in i.tags.keys() {
            add(v(2021, 3, 23), md(&format!("tags/instance/{key}")));
        }
    }
    let d = v(2009, 4, 4);
    for leaf in [
        "fws/instance-monitoring",
        "instance-identity/document",
        "instance-identity/pkcs7",
        "instance-identity/signature",
        "instance-identity/rsa2048",
        "instance-identity/dsa2048",
    ] {
        add(d, format!("dynamic/{leaf}"));
    }
    if i.user_data_bytes().is_some() {
        add(v1, "user-data".to_owned());
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        rng_seed: RngSeed::Fixed(0x1d5_0002),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/tree_walk.txt",
        ))),
        ..ProptestConfig::default()
    }
}

fn options(tags: bool) -> MetadataOptions {
    MetadataOptions {
        instance_metadata_tags: if tags {
            Toggle::Enabled
        } else {
            Toggle::Disabled
        },
        ..MetadataOptions::default()
    }
}

/// Walks `instance` at `at` and compares with the oracle; also checks parents list children.
fn check_version(instance: &Instance, at: Version, tags: bool) -> Result<(), TestCaseError> {
    let f = Fixture::new(options(tags), instance.clone());
    let prefix = at.to_string();
    let found = walk(&f, &prefix);
    let walked: BTreeSet<String> = found.leaves.keys().cloned().collect();
    let want = expected_leaves(instance, at, tags);
    let missing: Vec<_> = want.difference(&walked).collect();
    let extra: Vec<_> = walked.difference(&want).collect();
    prop_assert!(
        missing.is_empty() && extra.is_empty(),
        "at /{prefix}/ (tags {tags}): not reachable through listings {missing:?}; \
         listed but not in spec §5 {extra:?}"
    );
    // Every expected path resolves when asked directly, and so does each of its parent
    // directories; and the parent's listing names the child (with `/` for directories).
    for path in &want {
        let resp = f.get(&format!("/{prefix}/{path}"));
        prop_assert_eq!(resp.status(), 200, "/{}/{} does not resolve", prefix, path);
        let segs: Vec<&str> = path.split('/').collect();
        for depth in 1..segs.len() {
            let parent = segs[..depth].join("/");
            let listing = found.dirs.get(&parent);
            prop_assert!(listing.is_some(), "/{}/{}/ never listed", prefix, parent);
            let child = segs[depth];
            let is_dir = depth + 1 < segs.len();
            let lines: Vec<&str> = listing.map_or(Vec::new(), |l| l.split('\n').collect());
            let named = lines.iter().any(|line| {
                let name = line.strip_suffix('/').unwrap_or(line);
                support::segment_for(&parent, name) == child
                    && (line.ends_with('/') == is_dir
                        || parent.is_empty()
                        || parent.ends_with("public-keys"))
            });
            prop_assert!(
                named,
                "/{}/{}/ does not list {:?}: {:?}",
                prefix,
                parent,
                child,
                lines
            );
        }
    }
    // Tags: the directory exists exactly when the option is on and the version has it.
    let tags_dir = f.get(&format!("/{prefix}/meta-data/tags/instance"));
    let want_dir = tags && at >= v(2021, 3, 23);
    prop_assert_eq!(tags_dir.status() == 200, want_dir);
    // Listings are the same with and without the trailing slash (spec §3.4).
    for dir in found.dirs.keys().filter(|d| !d.is_empty()) {
        let a = f.get(&format!("/{prefix}/{dir}"));
        prop_assert_eq!(a.status(), 200);
        prop_assert_eq!(a.body(), found.dirs[dir].as_bytes());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// `latest` and one dated version per case, tags on and off.
    #[test]
    fn every_listed_path_resolves_and_every_path_is_listed(
        instance in instances(),
        dated in proptest::sample::select(VERSIONS),
    ) {
        for tags in [false, true] {
            check_version(&instance, Version::LATEST, tags)?;
            check_version(&instance, dated, tags)?;
        }
    }

    /// Leaf bodies are the instance's own values (a sample that covers each kind of leaf).
    #[test]
    fn leaf_bodies_come_from_the_instance(instance in instances()) {
        let f = Fixture::new(options(true), instance.clone());
        let body = |p: &str| f.get(&format!("/latest/{p}")).body().clone();
        prop_assert_eq!(body("meta-data/instance-id"), instance.instance_id.as_bytes());
        prop_assert_eq!(body("meta-data/mac"), instance.mac().as_bytes());
        let macs: Vec<&str> = instance.network_interfaces.iter().map(|e| e.mac.as_str()).collect();
        let mut sorted = macs.clone();
        sorted.sort_unstable();
        let listing = sorted.iter().map(|m| format!("{m}/")).collect::<Vec<_>>().join("\n");
        prop_assert_eq!(body("meta-data/network/interfaces/macs/"), listing.as_bytes());
        for eni in &instance.network_interfaces {
            let base = format!("meta-data/network/interfaces/macs/{}", eni.mac);
            prop_assert_eq!(body(&format!("{base}/local-ipv4s")), bytes::Bytes::from(eni.local_ipv4s.join("\n")));
            prop_assert_eq!(body(&format!("{base}/device-number")), bytes::Bytes::from(eni.device_number.to_string()));
        }
        for (n, key) in instance.public_keys.iter().enumerate() {
            prop_assert_eq!(body(&format!("meta-data/public-keys/{n}/openssh-key")), key.openssh_key.as_bytes());
        }
        let keys_listing: Vec<String> = instance.public_keys.iter().enumerate()
            .map(|(n, k)| format!("{n}={}", k.name)).collect();
        if !keys_listing.is_empty() {
            prop_assert_eq!(body("meta-data/public-keys/"), bytes::Bytes::from(keys_listing.join("\n")));
        }
        for (k, val) in &instance.tags {
            prop_assert_eq!(body(&format!("meta-data/tags/instance/{k}")), val.as_bytes());
        }
        match instance.user_data_bytes() {
            Some(bytes) => prop_assert_eq!(body("user-data"), bytes),
            None => prop_assert_eq!(f.get("/latest/user-data").status(), 404),
        }
        // The identity document agrees with meta-data (issue 2, instance content).
        let doc: serde_json::Value =
            serde_json::from_slice(&body("dynamic/instance-identity/document")).unwrap();
        prop_assert_eq!(&doc["instanceId"], &serde_json::json!(instance.instance_id));
        prop_assert_eq!(&doc["privateIp"], &serde_json::json!(instance.local_ipv4));
        prop_assert_eq!(&doc["region"], &serde_json::json!(instance.placement.region));
        prop_assert_eq!(&doc["kernelId"], &serde_json::json!(instance.kernel_id));
    }
}

/// Versions the service does not know are 404 under every category.
#[test]
fn unknown_versions_are_404() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    for prefix in ["2099-01-01", "2016-11-15", "2.0", "LATEST", "latest-1"] {
        assert!(!version::is_served(
            Version::parse(prefix).unwrap_or(v(2099, 1, 1))
        ));
        for p in ["", "meta-data/", "meta-data/instance-id", "user-data"] {
            assert_eq!(
                f.get(&format!("/{prefix}/{p}")).status(),
                404,
                "/{prefix}/{p}"
            );
        }
    }
}

/// Arbitrary printable text, for fields that become path segments.
fn any_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,12}",
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("a b".to_owned()),
        Just("a?b".to_owned()),
        Just("x/y".to_owned()),
        Just("%2e".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..config() })]

    /// Whatever an instance file puts in the fields that become path segments (role name,
    /// block-device names, public IPv4s), an instance that passes validation has a tree where
    /// every path is listed and every listed entry resolves: validation refuses the rest, so
    /// a server can never be loaded with a half-reachable tree.
    #[test]
    fn validated_instances_have_fully_reachable_trees(
        instance in instances(),
        role in prop_oneof![2 => support::role_name(), 1 => any_segment()],
        device in prop_oneof![2 => "(ebs|ephemeral)[0-9]{1,2}", 1 => any_segment()],
        public_ip in prop_oneof![2 => support::ipv4(), 1 => any_segment()],
    ) {
        let mut i = instance;
        if let Some(r) = i.iam.as_mut() {
            r.role_name = role;
        }
        i.block_device_mapping.insert(device, "/dev/sdb".into());
        i.network_interfaces[0].public_ipv4s.push(public_ip);
        match i.validate() {
            // Refused: the error names one of the fields we filled in.
            Err((field, _)) => prop_assert!(
                field == "iam.role-name"
                    || field.starts_with("block-device-mapping.")
                    || field == "network-interfaces[1].public-ipv4s",
                "unexpected field {}", field
            ),
            Ok(()) => check_version(&i, Version::LATEST, true)?,
        }
    }
}
