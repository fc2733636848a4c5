//! Instance files: every kind of error names the file, the line and the field, in TOML and
//! JSON; the default instance round-trips through both formats.

use imds_model::{Instance, InstanceError, InstanceFormat};

fn toml_err(text: &str) -> InstanceError {
    Instance::from_text("inst.toml", text, InstanceFormat::Toml).unwrap_err()
}

fn json_err(text: &str) -> InstanceError {
    Instance::from_text("inst.json", text, InstanceFormat::Json).unwrap_err()
}

/// Asserts file, line and field, and that the one-line message shows all three.
fn named(e: &InstanceError, file: &str, line: usize, field: &str) {
    assert_eq!(
        (e.file.display().to_string(), e.line, e.field.as_str()),
        (file.to_owned(), line, field),
        "{e}"
    );
    assert!(e.column >= 1, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("{file}:{line}:{}: {field}: ", e.column)),
        "{shown}"
    );
    assert!(!e.message.is_empty());
}

#[test]
fn default_instance_round_trips_through_toml_and_json() {
    let d = Instance::default();
    let toml_text = toml::to_string(&d).unwrap();
    assert_eq!(
        Instance::from_text("d.toml", &toml_text, InstanceFormat::Toml).unwrap(),
        d
    );
    let json_text = serde_json::to_string_pretty(&d).unwrap();
    assert_eq!(
        Instance::from_text("d.json", &json_text, InstanceFormat::Json).unwrap(),
        d
    );
    // Empty files are the default instance (every field has a default).
    assert_eq!(
        Instance::from_text("e.toml", "", InstanceFormat::Toml).unwrap(),
        d
    );
    assert_eq!(
        Instance::from_text("e.json", "{}", InstanceFormat::Json).unwrap(),
        d
    );
}

#[test]
fn syntax_errors() {
    let e = toml_err("ami-id = \"ami-1\"\ninstance-type = \n");
    named(&e, "inst.toml", 2, "(file)");
    assert_eq!(e.column, 17, "{e}");
    let e = json_err("{\n  \"ami-id\": \"ami-1\",\n  \"instance-type\": \n}");
    assert_eq!((e.file.to_str(), e.line), (Some("inst.json"), 4), "{e}");
}

#[test]
fn unknown_fields() {
    let e = toml_err("ami-id = \"ami-1\"\ninstance-typo = \"t3.micro\"\n");
    named(&e, "inst.toml", 2, "instance-typo");
    let e = json_err("{\n  \"ami-id\": \"ami-1\",\n  \"instance-typo\": \"t3.micro\"\n}");
    named(&e, "inst.json", 3, "instance-typo");
}

#[test]
fn unknown_nested_fields() {
    let e = toml_err("[placement]\nregion = \"us-east-1\"\nregoin = \"x\"\n");
    named(&e, "inst.toml", 3, "placement.regoin");
    assert_eq!(e.column, 1, "{e}");
    assert!(e.message.contains("did you mean `region`?"), "{e}");
    let e = json_err("{\n  \"placement\": {\n    \"regoin\": \"x\"\n  }\n}");
    named(&e, "inst.json", 3, "placement.regoin");
    assert!(e.message.contains("did you mean `region`?"), "{e}");
}

#[test]
fn wrong_types() {
    let e = toml_err("ami-launch-index = \"zero\"\n");
    named(&e, "inst.toml", 1, "ami-launch-index");
    let e = json_err(
        "{\n  \"instance-id\": \"i-0123456789abcdef0\",\n  \"ami-launch-index\": \"zero\"\n}",
    );
    named(&e, "inst.json", 3, "ami-launch-index");
}

#[test]
fn missing_required_nested_fields() {
    // A public key needs both its name and its key text.
    let e = toml_err("[[public-keys]]\nname = \"k\"\n");
    assert_eq!(e.field, "public-keys[1].openssh-key", "{e}");
    assert_eq!(e.line, 1, "{e}");
    let e = json_err("{\n  \"public-keys\": [\n    {\"name\": \"k\"}\n  ]\n}");
    assert_eq!(e.field, "public-keys[1].openssh-key", "{e}");
    assert_eq!(e.line, 3, "{e}");
}

// ------------------------------------------------------------------ validation errors

/// Each validation rule, in both formats, with the line of the offending key.
#[test]
fn validation_errors_name_line_and_field() {
    let cases: &[(&str, &str, usize, &str, usize, &str)] = &[
        // (toml, json, toml line, field, json line, what)
        (
            "ami-id = \"ami-1\"\ninstance-id = \"i-12\"\n",
            "{\n  \"ami-id\": \"ami-1\",\n  \"instance-id\": \"i-12\"\n}",
            2,
            "instance-id",
            3,
            "short instance id",
        ),
        (
            "ami-id = \"img-1\"\n",
            "{\n  \"ami-id\": \"img-1\"\n}",
            1,
            "ami-id",
            2,
            "AMI prefix",
        ),
        (
            "instance-type = \"t3.micro\"\nnetwork-interfaces = []\n",
            "{\n  \"instance-type\": \"t3.micro\",\n  \"network-interfaces\": []\n}",
            2,
            "network-interfaces",
            3,
            "no ENI",
        ),
        (
            "[[network-interfaces]]\ndevice-number = 0\nmac = \"0E:49:61:0F:C3:11\"\n",
            "{\n  \"network-interfaces\": [\n    {\n      \"device-number\": 0,\n      \"mac\": \"0E:49:61:0F:C3:11\"\n    }\n  ]\n}",
            3,
            "network-interfaces[1].mac",
            5,
            "upper-case MAC",
        ),
        (
            "[placement]\navailability-zone = \"eu-west-1a\"\n",
            "{\n  \"placement\": {\n    \"availability-zone\": \"eu-west-1a\"\n  }\n}",
            2,
            "placement.availability-zone",
            3,
            "AZ outside region (a region left out keeps the base's; only a changed region moves the zone)",
        ),
        (
            "architecture = \"sparc\"\n",
            "{\n  \"architecture\": \"sparc\"\n}",
            1,
            "architecture",
            2,
            "architecture",
        ),
        (
            "ami-id = \"ami-1\"\nlaunch-time = \"2026-01-15 09:30\"\n",
            "{\n  \"ami-id\": \"ami-1\",\n  \"launch-time\": \"2026-01-15 09:30\"\n}",
            2,
            "launch-time",
            3,
            "launch time format",
        ),
        (
            "ami-id = \"ami-1\"\n[tags]\nName = \"ok\"\n\"has space\" = \"v\"\n",
            "{\n  \"ami-id\": \"ami-1\",\n  \"tags\": {\n    \"Name\": \"ok\",\n    \"has space\": \"v\"\n  }\n}",
            4,
            "tags.\"has space\"",
            5,
            "tag key charset",
        ),
        (
            "user-data-base64 = \"not base64!\"\n",
            "{\n  \"user-data-base64\": \"not base64!\"\n}",
            1,
            "user-data-base64",
            2,
            "bad base64",
        ),
        (
            "[iam]\nrole-name = \"a/b\"\n",
            "{\n  \"iam\": {\n    \"role-name\": \"a/b\"\n  }\n}",
            2,
            "iam.role-name",
            3,
            "role name",
        ),
        (
            "[[public-keys]]\nname = \"\"\nopenssh-key = \"ssh-ed25519 AAAA k\"\n",
            "{\n  \"public-keys\": [\n    {\n      \"name\": \"\",\n      \"openssh-key\": \"ssh-ed25519 AAAA k\"\n    }\n  ]\n}",
            2,
            "public-keys[1].name",
            4,
            "empty key name",
        ),
        (
            "[iam]\nrole-name = \"..\"\n",
            "{\n  \"iam\": {\n    \"role-name\": \"..\"\n  }\n}",
            2,
            "iam.role-name",
            3,
            "role name no path can reach",
        ),
        (
            "[block-device-mapping]\nami = \"/dev/xvda\"\n\"my disk\" = \"/dev/sdb\"\n",
            "{\n  \"block-device-mapping\": {\n    \"ami\": \"/dev/xvda\",\n    \"my disk\": \"/dev/sdb\"\n  }\n}",
            3,
            "block-device-mapping.\"my disk\"",
            4,
            "device name outside spec 3.13",
        ),
        (
            "[[network-interfaces]]\nmac = \"0e:49:61:0f:c3:11\"\npublic-ipv4s = [\"3.88.21.4/32\"]\n",
            "{\n  \"network-interfaces\": [\n    {\n      \"mac\": \"0e:49:61:0f:c3:11\",\n      \"public-ipv4s\": [\"3.88.21.4/32\"]\n    }\n  ]\n}",
            3,
            "network-interfaces[1].public-ipv4s",
            5,
            "public IPv4 that is not an address",
        ),
    ];
    let mut wrong = Vec::new();
    for (toml_text, json_text, toml_line, field, json_line, what) in cases {
        for (format, text, line) in [
            (InstanceFormat::Toml, toml_text, toml_line),
            (InstanceFormat::Json, json_text, json_line),
        ] {
            let file = if format == InstanceFormat::Toml {
                "inst.toml"
            } else {
                "inst.json"
            };
            let e = Instance::from_text(file, text, format).unwrap_err();
            if (e.file.to_str(), e.line, e.field.as_str()) != (Some(file), *line, *field)
                || !e
                    .to_string()
                    .starts_with(&format!("{file}:{line}:{}: {field}: ", e.column))
            {
                wrong.push(format!("{what}: want {file}:{line}: {field}, got {e}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn user_data_over_16_kib_is_refused() {
    let big = "x".repeat(16 * 1024 + 1);
    let e = toml_err(&format!("ami-id = \"ami-1\"\nuser-data = \"{big}\"\n"));
    named(&e, "inst.toml", 2, "user-data");
    let ok = "x".repeat(16 * 1024);
    assert!(
        Instance::from_text(
            "ok.toml",
            &format!("user-data = \"{ok}\"\n"),
            InstanceFormat::Toml
        )
        .is_ok()
    );
}
