//! What EC2 derives stays in step with the instance file (README's "always agree"): device 0's
//! addresses, the IP-based hostnames and the zone follow the keys a file changes, a file that
//! sets both sides to values EC2 could never serve together is refused, and addresses, ids and
//! times are checked with errors that name the file, line and key.

use imds_model::{Instance, InstanceFormat};

fn load(text: &str) -> Result<Instance, imds_model::LoadError> {
    Instance::from_text("i.toml", text, InstanceFormat::Toml)
}

#[test]
fn local_ipv4_carries_device_0_and_the_hostnames_with_it() {
    let i = load("local-ipv4 = \"10.0.0.5\"\n").unwrap();
    let eni = &i.network_interfaces[0];
    assert_eq!(eni.local_ipv4s, ["10.0.0.5"]);
    assert_eq!(i.hostname, "ip-10-0-0-5.ec2.internal");
    assert_eq!(i.local_hostname, "ip-10-0-0-5.ec2.internal");
    assert_eq!(eni.local_hostname, "ip-10-0-0-5.ec2.internal");
    // The public side was not touched.
    assert_eq!(i.public_ipv4, Instance::default().public_ipv4);
    let i = load("public-ipv4 = \"54.1.2.3\"\n").unwrap();
    assert_eq!(i.network_interfaces[0].public_ipv4s, ["54.1.2.3"]);
    let name = "ec2-54-1-2-3.compute-1.amazonaws.com";
    assert_eq!(i.public_hostname.as_deref(), Some(name));
    assert_eq!(
        i.network_interfaces[0].public_hostname.as_deref(),
        Some(name)
    );
}

#[test]
fn the_region_carries_the_zone_and_the_hostnames() {
    let i = load("[placement]\nregion = \"eu-west-1\"\n").unwrap();
    assert_eq!(i.placement.availability_zone, "eu-west-1a");
    assert_eq!(i.hostname, "ip-172-31-16-10.eu-west-1.compute.internal");
    assert_eq!(i.local_hostname, i.hostname);
    assert_eq!(i.network_interfaces[0].local_hostname, i.hostname);
    assert_eq!(
        i.public_hostname.as_deref(),
        Some("ec2-3-88-21-4.eu-west-1.compute.amazonaws.com")
    );
    // A zone given with the region is kept.
    let i =
        load("[placement]\nregion = \"eu-west-1\"\navailability-zone = \"eu-west-1c\"\n").unwrap();
    assert_eq!(i.placement.availability_zone, "eu-west-1c");
}

#[test]
fn interfaces_carry_the_top_level_addresses() {
    let i = load(
        "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\nlocal-ipv4s = [\"10.1.2.3\", \"10.1.2.4\"]\n\
         public-ipv4s = []\nipv6s = [\"2600:1f18::1\"]\n",
    )
    .unwrap();
    assert_eq!(i.local_ipv4.as_deref(), Some("10.1.2.3"));
    assert_eq!(i.public_ipv4, None);
    assert_eq!(i.ipv6.as_deref(), Some("2600:1f18::1"));
    assert_eq!(i.hostname, "ip-10-1-2-3.ec2.internal");
    assert_eq!(i.public_hostname, None);
}

#[test]
fn contradictions_are_refused_naming_the_key() {
    let e = load(
        "local-ipv4 = \"10.0.0.9\"\n\n[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\nlocal-ipv4s = [\"10.0.0.5\"]\n",
    )
    .unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (1, "local-ipv4"), "{e}");
    assert!(e.message.contains("local-ipv4s"), "{e}");
    let e =
        load("local-ipv4 = \"10.0.0.5\"\nhostname = \"ip-10-0-0-6.ec2.internal\"\n").unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (2, "hostname"), "{e}");
    assert!(e.message.contains("10.0.0.5"), "{e}");
    // A resource-based name carries no address and is kept as given.
    let i = load("local-ipv4 = \"10.0.0.5\"\nhostname = \"i-0123456789abcdef0.ec2.internal\"\n")
        .unwrap();
    assert_eq!(i.hostname, "i-0123456789abcdef0.ec2.internal");
    assert_eq!(i.local_hostname, "ip-10-0-0-5.ec2.internal");
}

#[test]
fn addresses_ids_and_times_are_checked_with_the_key() {
    for (text, line, field) in [
        ("local-ipv4 = \"10.0.0.999\"\n", 1, "local-ipv4"),
        (
            "ami-id = \"ami-0abcdef1234567890\"\npublic-ipv4 = \"1.2.3\"\n",
            2,
            "public-ipv4",
        ),
        ("ipv6 = \"2600::zz\"\n", 1, "ipv6"),
        ("account-id = \"12345678901x\"\n", 1, "account-id"),
        ("reservation-id = \"res-1\"\n", 1, "reservation-id"),
        (
            "spot-termination-time = \"soon\"\n",
            1,
            "spot-termination-time",
        ),
        (
            "[[network-interfaces]]\nmac = \"0E:49:61:0F:C3:11\"\n",
            2,
            "network-interfaces[1].mac",
        ),
        (
            "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\nsubnet-id = \"subnet-XYZ\"\n",
            3,
            "network-interfaces[1].subnet-id",
        ),
        (
            "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\nvpc-ipv4-cidr-block = \"172.31.0.0/33\"\n",
            3,
            "network-interfaces[1].vpc-ipv4-cidr-block",
        ),
        (
            "[iam.credentials]\nexpiration = \"tomorrow\"\n",
            2,
            "iam.credentials.expiration",
        ),
    ] {
        let e = load(text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (line, field), "{text}: {e}");
        assert!(e.to_string().starts_with(&format!("i.toml:{line}:")), "{e}");
    }
}

#[test]
fn type_errors_name_the_kind_of_value_not_a_rust_type() {
    let e = load("ami-launch-index = \"zero\"\n").unwrap_err();
    assert_eq!(e.field, "ami-launch-index", "{e}");
    assert!(e.message.contains("whole number"), "{e}");
    assert!(!e.message.contains("u32"), "{e}");
    let e = load("placement = \"eu-west-1\"\n").unwrap_err();
    assert!(!e.message.contains("struct"), "{e}");
}

#[test]
fn every_missing_key_of_an_entry_is_named_at_once() {
    let e =
        load("[maintenance-events]\n[[maintenance-events.scheduled]]\ncode = \"system-reboot\"\n")
            .unwrap_err();
    assert_eq!(e.field, "maintenance-events.scheduled[1]", "{e}");
    for key in ["description", "event-id", "not-before", "state"] {
        assert!(e.message.contains(&format!("`{key}`")), "{e}");
    }
    assert!(!e.message.contains("`code`"), "{e}");
}
