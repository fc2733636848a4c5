//! Leaf bodies and EC2's JSON layout, shared by the category table (which builds leaves) and
//! the tree (which renders the clock-dependent ones).

use bytes::Bytes;
use serde_json::{Value, json};

use crate::instance::{Instance, MaintenanceEvent};

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

/// The identity document, derived from the same fields as meta-data so the two agree.
pub(crate) fn identity_document(i: &Instance) -> String {
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
pub(crate) fn ec2_json(fields: &[(&str, Value)]) -> String {
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
pub(crate) fn events_json(list: &[MaintenanceEvent]) -> String {
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
}
