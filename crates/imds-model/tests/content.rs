//! What the tree serves for content EC2 added after the category table was written:
//! `network-card`, delegated prefixes, maintenance events in EC2's layout, and the extended
//! credentials path (SPEC.md §3.9, §3.11, §3.12).

use imds_model::{Instance, InstanceFormat, MetadataOptions, Model, Timestamp, TokenKey};

fn get(instance: Instance, path: &str) -> (u16, String) {
    let mut model = Model::new(
        MetadataOptions::default(),
        instance,
        &TokenKey::new([9; 32]),
    );
    let req = http::Request::builder()
        .method("GET")
        .uri(path)
        .body(())
        .unwrap();
    let resp = model.handle(&req, Timestamp::from_secs(1_768_470_000));
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(resp.body()).into_owned(),
    )
}

fn toml(text: &str) -> Instance {
    Instance::from_text("t.toml", text, InstanceFormat::Toml).unwrap()
}

const MAC: &str = "/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/";

#[test]
fn network_card_is_404_on_a_single_card_instance_type() {
    // SPEC.md R3.12.4: most instance types have one network card and answer 404.
    assert_eq!(Instance::default().network_cards, 1);
    let (status, _) = get(Instance::default(), &format!("{MAC}network-card"));
    assert_eq!(status, 404);
    let (_, listing) = get(Instance::default(), MAC);
    assert!(!listing.contains("network-card"), "{listing}");
    let (status, _) = get(Instance::default(), &format!("{MAC}network-card-index"));
    assert_eq!(status, 404);
}

#[test]
fn network_card_is_served_on_a_multi_card_instance_type() {
    let i = toml(
        "instance-type = \"c6in.32xlarge\"\nnetwork-cards = 2\n\
         [[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\n\
         [[network-interfaces]]\nmac = \"0e:49:61:0f:c3:12\"\nnetwork-card = 1\n",
    );
    assert_eq!(
        get(i.clone(), &format!("{MAC}network-card")),
        (200, "0".into())
    );
    let (_, listing) = get(i.clone(), MAC);
    assert!(listing.lines().any(|l| l == "network-card"), "{listing}");
    assert!(!listing.contains("network-card-index"), "{listing}");
    let second = "/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:12/network-card";
    assert_eq!(get(i.clone(), second), (200, "1".into()));
    assert_eq!(get(i, &format!("{MAC}network-card-index")).0, 404);
}

#[test]
fn network_card_index_key_still_reads_as_network_card() {
    let card = |key: &str| {
        toml(&format!(
            "network-cards = 2\n[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\n{key} = 1\n"
        ))
        .network_interfaces[0]
            .network_card
    };
    assert_eq!(card("network-card"), 1);
    assert_eq!(card("network-card-index"), 1);
}

#[test]
fn a_card_the_instance_type_lacks_is_refused() {
    let e = Instance::from_text(
        "t.toml",
        "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\nnetwork-card = 1\n",
        InstanceFormat::Toml,
    )
    .unwrap_err();
    assert_eq!(
        (e.line, e.field.as_str()),
        (3, "network-interfaces[1].network-card"),
        "{e}"
    );
    assert!(e.message.contains("network-cards"), "{e}");
    let e = Instance::from_text("t.toml", "network-cards = 0\n", InstanceFormat::Toml).unwrap_err();
    assert_eq!(e.field, "network-cards", "{e}");
}

#[test]
fn prefixes_are_absent_by_default_and_listed_when_delegated() {
    for leaf in ["ipv4-prefix", "ipv6-prefix"] {
        assert_eq!(get(Instance::default(), &format!("{MAC}{leaf}")).0, 404);
        assert!(!get(Instance::default(), MAC).1.contains(leaf));
    }
    let i = toml(
        "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\n\
         ipv4-prefixes = [\"172.31.16.32/28\", \"172.31.16.48/28\"]\n\
         ipv6-prefixes = [\"2600:1f18:abc:de00:1234::/80\"]\n",
    );
    let listing = get(i.clone(), MAC).1;
    assert!(listing.lines().any(|l| l == "ipv4-prefix"), "{listing}");
    assert!(listing.lines().any(|l| l == "ipv6-prefix"), "{listing}");
    assert_eq!(
        get(i.clone(), &format!("{MAC}ipv4-prefix")),
        (200, "172.31.16.32/28\n172.31.16.48/28".to_owned())
    );
    assert_eq!(
        get(i.clone(), &format!("{MAC}ipv6-prefix")),
        (200, "2600:1f18:abc:de00:1234::/80".to_owned())
    );
    // A version from before prefix delegation does not serve them.
    assert_eq!(
        get(
            i,
            "/2020-10-27/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/ipv4-prefix"
        )
        .0,
        404
    );
}

#[test]
fn bad_prefixes_are_refused_with_the_field() {
    for (key, value) in [
        ("ipv4-prefixes", "172.31.16.32"),
        ("ipv4-prefixes", "172.31.16.32/33"),
        ("ipv4-prefixes", "2600::/80"),
        ("ipv6-prefixes", "10.0.0.0/28"),
        ("ipv6-prefixes", "2600::/129"),
    ] {
        let text =
            format!("[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\n{key} = [\"{value}\"]\n");
        let e = Instance::from_text("p.toml", &text, InstanceFormat::Toml).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (3, format!("network-interfaces[1].{key}").as_str()),
            "{value}: {e}"
        );
        assert!(e.message.contains(value), "{e}");
    }
}

#[test]
fn no_scheduled_events_is_an_empty_array() {
    let (status, body) = get(
        Instance::default(),
        "/latest/meta-data/events/maintenance/scheduled",
    );
    assert_eq!((status, body.as_str()), (200, "[]"));
}

#[test]
fn events_may_omit_not_after_and_use_ec2_layout() {
    let i = toml(
        "[[maintenance-events.scheduled]]\ncode = \"instance-stop\"\n\
         description = \"The instance is running on degraded hardware\"\n\
         event-id = \"instance-event-07a1c1c08b77d4bf1\"\n\
         not-before = \"1 Jan 2021 02:00:00 GMT\"\nstate = \"active\"\n",
    );
    assert_eq!(i.maintenance_events.scheduled[0].not_after, None);
    let (status, body) = get(i, "/latest/meta-data/events/maintenance/scheduled");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        "[ {\n  \"NotBefore\" : \"1 Jan 2021 02:00:00 GMT\",\n  \"Code\" : \"instance-stop\",\n  \
         \"Description\" : \"The instance is running on degraded hardware\",\n  \
         \"EventId\" : \"instance-event-07a1c1c08b77d4bf1\",\n  \"State\" : \"active\"\n} ]"
    );
}

#[test]
fn event_times_must_be_in_ec2_form() {
    for bad in [
        "01 Jan 2021 02:00:00 GMT",
        "2021-01-01T02:00:00Z",
        "1 January 2021 02:00:00 GMT",
        "1 Jan 2021 24:00:00 GMT",
        "1 Jan 2021 02:00:00 UTC",
    ] {
        let text = format!(
            "[[maintenance-events.history]]\ncode = \"system-reboot\"\ndescription = \"d\"\n\
             event-id = \"instance-event-1\"\nnot-before = \"1 Jan 2021 02:00:00 GMT\"\n\
             not-after = \"{bad}\"\nstate = \"completed\"\n"
        );
        let e = Instance::from_text("e.toml", &text, InstanceFormat::Toml).unwrap_err();
        assert_eq!(
            e.field, "maintenance-events.history[1].not-after",
            "{bad}: {e}"
        );
        assert_eq!(e.line, 6, "{bad}: {e}");
    }
}

#[test]
fn extended_credentials_are_off_and_unlisted_by_default() {
    let (status, listing) = get(Instance::default(), "/latest/meta-data/iam/");
    assert_eq!(status, 200);
    assert!(
        !listing.contains("security-credentials-extended"),
        "{listing}"
    );
    let (status, _) = get(
        Instance::default(),
        "/latest/meta-data/iam/security-credentials-extended/",
    );
    assert_eq!(status, 404);

    let on = toml("[iam]\nrole-name = \"r\"\nextended-credentials = true\n");
    let (_, listing) = get(on.clone(), "/latest/meta-data/iam/");
    assert!(
        listing
            .lines()
            .any(|l| l == "security-credentials-extended/"),
        "{listing}"
    );
    let (status, body) = get(on, "/latest/meta-data/iam/security-credentials-extended/r");
    assert_eq!(status, 200);
    assert!(body.contains("\"AccountId\" : \"123456789012\""), "{body}");
}
