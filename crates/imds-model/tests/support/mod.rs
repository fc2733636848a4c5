//! Helpers shared by the integration tests: a fixture around `Model`, a tree walker, and a
//! proptest strategy for valid, varied instances.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use imds_model::instance::{
    IamRole, MaintenanceEvent, NetworkInterface, Placement, PublicKey, SpotAction,
};
use imds_model::parse::parse_listing;
use imds_model::{
    Clock, Fired, Instance, ManualClock, MetadataOptions, Model, Outcome, Scenario, Timestamp,
    TokenKey,
};
use proptest::prelude::*;

/// The instant every fixture starts at (2026-01-15T09:40:00Z, ten minutes after the default
/// instance's launch).
pub const START: Timestamp = Timestamp::from_secs(1_768_470_000);

/// A [`Model`] asked at the readings of a hand-moved clock, through `&self` (tests share
/// fixtures by reference).
pub struct Clocked {
    model: RefCell<Model>,
    clock: Arc<ManualClock>,
}

impl Clocked {
    pub fn new(model: Model, clock: Arc<ManualClock>) -> Clocked {
        Clocked {
            model: RefCell::new(model),
            clock,
        }
    }

    pub fn handle<B>(&self, req: &http::Request<B>) -> http::Response<bytes::Bytes> {
        self.model.borrow_mut().handle(req, self.clock.now())
    }

    pub fn handle_with_outcome<B>(
        &self,
        req: &http::Request<B>,
    ) -> (http::Response<bytes::Bytes>, Outcome) {
        self.model
            .borrow_mut()
            .handle_with_outcome(req, self.clock.now())
    }

    pub fn issue_token(&self, ttl: u32) -> String {
        self.model.borrow().issue_token(ttl, self.clock.now())
    }

    pub fn options(&self) -> MetadataOptions {
        self.model.borrow().options()
    }

    pub fn set_options(&self, options: MetadataOptions) {
        self.model.borrow_mut().set_options(options);
    }

    pub fn instance(&self) -> Arc<Instance> {
        self.model.borrow().instance().clone()
    }

    pub fn set_instance(&self, instance: Instance) {
        self.model.borrow_mut().set_instance(instance);
    }

    pub fn set_scenario(&self, scenario: Scenario) {
        self.model
            .borrow_mut()
            .set_scenario(scenario, self.clock.now());
    }

    pub fn scenario_fired(&self) -> Vec<Fired> {
        self.model.borrow().scenario_fired().to_vec()
    }

    pub fn reset(&self, options: MetadataOptions, instance: Instance) {
        self.model.borrow_mut().reset(options, instance);
    }
}

/// One model instance with a hand-moved clock.
pub struct Fixture {
    pub imds: Clocked,
    pub clock: Arc<ManualClock>,
}

impl Fixture {
    pub fn new(options: MetadataOptions, instance: Instance) -> Fixture {
        Fixture::with_key(options, instance, [9; 32])
    }

    pub fn with_key(options: MetadataOptions, instance: Instance, key: [u8; 32]) -> Fixture {
        let clock = Arc::new(ManualClock::new(START));
        let model = Model::new(options, instance, &TokenKey::new(key));
        Fixture {
            imds: Clocked::new(model, clock.clone()),
            clock,
        }
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> http::Response<bytes::Bytes> {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.imds.handle(&req.body(()).expect("valid request"))
    }

    pub fn get(&self, path: &str) -> http::Response<bytes::Bytes> {
        self.send("GET", path, &[])
    }
}

/// What a walk of the listings found under one version prefix.
#[derive(Debug, Default)]
pub struct Walk {
    /// Directory paths (relative to the version prefix, no trailing slash; `""` is the root).
    pub dirs: BTreeMap<String, String>,
    /// Leaf paths and their bodies.
    pub leaves: BTreeMap<String, bytes::Bytes>,
}

/// The path segment a listing line names. `public-keys/` lines are `N=name` and name `N`
/// (spec §3.8); everywhere else the line is the name, even when it contains `=` (tag keys
/// may: spec §3.10).
pub fn segment_for(parent: &str, name: &str) -> String {
    if parent.ends_with("meta-data/public-keys")
        && let Some((index, _)) = name.split_once('=')
    {
        return index.to_owned();
    }
    name.to_owned()
}

/// Walks every listing reachable from `/<version>/`, asserting as it goes that every listed
/// entry answers 200 and that directories (lines ending in `/`) are listings.
pub fn walk(f: &Fixture, version: &str) -> Walk {
    let mut out = Walk::default();
    let mut queue = VecDeque::from([String::new()]);
    while let Some(dir) = queue.pop_front() {
        let url = if dir.is_empty() {
            format!("/{version}/")
        } else {
            format!("/{version}/{dir}/")
        };
        let resp = f.get(&url);
        assert_eq!(resp.status(), 200, "listing {url} did not resolve");
        let body = String::from_utf8(resp.body().to_vec()).expect("listing is UTF-8");
        let listing = parse_listing(resp.body())
            .unwrap_or_else(|e| panic!("listing {url} is malformed ({e}): {body:?}"));
        assert!(!listing.final_newline, "{url} ends with LF (spec §3.3)");
        out.dirs.insert(dir.clone(), body);
        for entry in listing.entries {
            let seg = segment_for(&dir, &entry.name);
            let child = if dir.is_empty() {
                seg
            } else {
                format!("{dir}/{seg}")
            };
            // public-keys/N is a directory listed without `/` (spec §3.8); a version root lists
            // its top categories without `/` too (spec §3.2). Ask to find out which it is.
            let probe = f.get(&format!("/{version}/{child}"));
            assert_eq!(
                probe.status(),
                200,
                "/{version}/{child} is listed in {url} but does not resolve"
            );
            let looks_dir = entry.is_dir
                || (dir.is_empty() && child != "user-data")
                || dir.ends_with("meta-data/public-keys");
            if looks_dir {
                queue.push_back(child);
            } else {
                out.leaves.insert(child, probe.body().clone());
            }
        }
    }
    out
}

// ---------------------------------------------------------------- instance strategy

pub fn ipv4() -> impl Strategy<Value = String> {
    (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn ipv6() -> impl Strategy<Value = String> {
    (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("2600:1f18:{a:x}:{b:x}::10"))
}

fn hex(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..16, n).prop_map(|v| v.iter().map(|d| format!("{d:x}")).collect())
}

/// Tag keys from the whole charset IMDS allows (spec §3.10), `=` included.
fn tag_key() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+=.,_:@-]{1,16}".prop_filter("reserved tag keys", |k| {
        imds_model::instance::valid_tag_key(k)
    })
}

/// IAM role names: letters, digits and `+=,.@_-` (IAM's own rule), never `.` or `..`.
pub fn role_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+=,.@_-]{1,24}".prop_filter("dot names", |n| n != "." && n != "..")
}

fn eni(index: usize, mac_base: u8) -> impl Strategy<Value = NetworkInterface> {
    (
        proptest::collection::vec(ipv4(), 1..=2),
        proptest::collection::vec(ipv4(), 0..=2),
        proptest::collection::vec(ipv6(), 0..=2),
        any::<bool>(),
        hex(17),
        0u32..2,
        0usize..3,
    )
        .prop_map(move |(locals, publics, ipv6s, vpc6, id, card, prefixes)| {
            let mac = format!("0e:{mac_base:02x}:00:00:00:{index:02x}");
            let publics: Vec<String> = publics
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            NetworkInterface {
                mac,
                device_number: index as u32,
                network_card: card,
                interface_id: format!("eni-{id}"),
                public_hostname: publics
                    .first()
                    .map(|p| format!("ec2-{}.compute-1.amazonaws.com", p.replace('.', "-"))),
                public_ipv4s: publics,
                subnet_ipv6_cidr_blocks: if ipv6s.is_empty() {
                    Vec::new()
                } else {
                    vec!["2600:1f18::/64".into()]
                },
                vpc_ipv6_cidr_blocks: if vpc6 {
                    vec!["2600:1f18::/56".into()]
                } else {
                    Vec::new()
                },
                local_ipv4s: locals,
                ipv6s,
                // Prefix delegation: none (the usual case), or a few /28 and /80 prefixes.
                ipv4_prefixes: (0..prefixes)
                    .map(|n| format!("10.{index}.{n}.16/28"))
                    .collect(),
                ipv6_prefixes: (0..prefixes)
                    .map(|n| format!("2600:1f18:{index:x}:{n:x}::/80"))
                    .collect(),
                ..NetworkInterface::default()
            }
        })
}

fn enis() -> impl Strategy<Value = Vec<NetworkInterface>> {
    (1usize..=3, any::<u8>())
        .prop_flat_map(|(n, base)| (0..n).map(|i| eni(i, base)).collect::<Vec<_>>())
}

fn public_keys() -> impl Strategy<Value = Vec<PublicKey>> {
    proptest::collection::vec("[A-Za-z0-9_.-]{1,20}", 0..=3).prop_map(|names| {
        names
            .into_iter()
            .map(|name| PublicKey {
                openssh_key: format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{name} {name}"),
                name,
            })
            .collect()
    })
}

fn iam() -> impl Strategy<Value = Option<IamRole>> {
    proptest::option::of(
        (role_name(), any::<bool>()).prop_map(|(role_name, extended)| IamRole {
            instance_profile_arn: format!("arn:aws:iam::123456789012:instance-profile/{role_name}"),
            role_name,
            extended_credentials: extended,
            ..IamRole::default()
        }),
    )
}

/// Everything optional in an instance, each switched on or off.
#[derive(Clone, Debug)]
struct Optionals {
    kernel: bool,
    ramdisk: bool,
    ipv6: bool,
    ipv4_only_public: bool,
    ancestors: bool,
    product_codes: bool,
    placement_extras: bool,
    identity_credentials: bool,
    scheduled_event: bool,
    spot: bool,
    termination: bool,
    rebalance: bool,
    autoscaling: bool,
}

fn optionals() -> impl Strategy<Value = Optionals> {
    (
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(|((a, b, c, d), (e, f, g, h), (i, j, k, l, m))| Optionals {
            kernel: a,
            ramdisk: b,
            ipv6: c,
            ipv4_only_public: d,
            ancestors: e,
            product_codes: f,
            placement_extras: g,
            identity_credentials: h,
            scheduled_event: i,
            spot: j,
            termination: k,
            rebalance: l,
            autoscaling: m,
        })
}

#[derive(Clone, Debug)]
enum UserData {
    None,
    Text(String),
    Binary(Vec<u8>),
}

fn user_data() -> impl Strategy<Value = UserData> {
    prop_oneof![
        Just(UserData::None),
        "[ -~\n]{0,64}".prop_map(UserData::Text),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(UserData::Binary),
    ]
}

/// Valid, varied instances: 1–3 ENIs, 0–3 public keys, with or without an IAM role (and the
/// extended credentials path), tags, optional fields, user data, spot / rebalance / autoscaling
/// state. Every one passes `Instance::validate`.
pub fn instances() -> impl Strategy<Value = Instance> {
    (
        enis(),
        public_keys(),
        iam(),
        proptest::collection::btree_map(tag_key(), "[ -~]{0,12}", 0..=3),
        optionals(),
        user_data(),
        hex(17),
    )
        .prop_map(|(enis, keys, iam, tags, o, ud, id)| {
            let d = Instance::default();
            let first = &enis[0];
            let local_ipv4 = first.local_ipv4s.first().cloned();
            let public_ipv4 = first.public_ipv4s.first().cloned();
            // A card above 0 needs a multi-card instance type; all on card 0 is the common
            // single-card type, where `network-card` is 404.
            let network_cards = 1 + enis.iter().map(|e| e.network_card).max().unwrap_or(0);
            let mut i = Instance {
                instance_id: format!("i-{id}"),
                kernel_id: o.kernel.then(|| "aki-919dcaf8".into()),
                ramdisk_id: o.ramdisk.then(|| "ari-a51cf9cc".into()),
                ipv6: if o.ipv6 {
                    first.ipv6s.first().cloned()
                } else {
                    None
                },
                local_ipv4,
                public_hostname: if o.ipv4_only_public {
                    None
                } else {
                    first.public_hostname.clone()
                },
                public_ipv4,
                ancestor_ami_ids: if o.ancestors {
                    vec![
                        "ami-0aaa1111bbbb2222c".into(),
                        "ami-0ddd3333eeee4444f".into(),
                    ]
                } else {
                    Vec::new()
                },
                product_codes: if o.product_codes {
                    vec!["774F4FF8".into()]
                } else {
                    Vec::new()
                },
                placement: if o.placement_extras {
                    Placement {
                        group_name: Some("imdspec-cluster".into()),
                        host_id: Some("h-0123456789abcdef0".into()),
                        partition_number: Some(3),
                        ..Placement::default()
                    }
                } else {
                    Placement::default()
                },
                identity_credentials: if o.identity_credentials {
                    d.identity_credentials.clone()
                } else {
                    None
                },
                spot_instance_action: o.spot.then(|| SpotAction {
                    action: "terminate".into(),
                    time: "2026-01-15T10:00:00Z".into(),
                }),
                spot_termination_time: o.termination.then(|| "2026-01-15T10:00:00Z".into()),
                rebalance_notice_time: o.rebalance.then(|| "2026-01-15T09:50:00Z".into()),
                autoscaling_target_lifecycle_state: o.autoscaling.then(|| "InService".into()),
                network_cards,
                network_interfaces: enis,
                public_keys: keys,
                iam,
                tags,
                user_data: None,
                user_data_base64: None,
                ..d
            };
            if o.scheduled_event {
                i.maintenance_events.scheduled.push(MaintenanceEvent {
                    code: "instance-stop".into(),
                    description: "The instance is running on degraded hardware".into(),
                    event_id: "instance-event-0123456789abcdef0".into(),
                    not_before: "21 Jan 2026 09:00:43 GMT".into(),
                    not_after: Some("21 Jan 2026 11:00:43 GMT".into()),
                    not_before_deadline: None,
                    state: "active".into(),
                });
            }
            match ud {
                UserData::None => {}
                UserData::Text(t) => i.user_data = Some(t),
                UserData::Binary(b) => {
                    use base64::Engine as _;
                    i.user_data_base64 = Some(base64::engine::general_purpose::STANDARD.encode(b));
                }
            }
            i
        })
        .prop_filter("valid instances only", |i| i.validate().is_ok())
}
