//! The committed OpenAPI document (`GET /openapi.json`) describes the control API the decoder
//! serves: the same paths and methods, the instance file's keys, the options' fields and the
//! error body. Schemathesis checks the running server against it in CI (`.ci/schemathesis`).

use std::collections::BTreeSet;

use imds_model::{Instance, MetadataOptions};
use imds_server::control::{ControlError, OPENAPI, ROUTES};
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_route_and_method_is_described_and_nothing_else() {
    let d = doc();
    assert_eq!(d["openapi"], "3.1.0");
    let paths = &d["paths"];
    let routes: BTreeSet<String> = ROUTES.iter().map(|(p, _)| (*p).to_owned()).collect();
    assert_eq!(keys(paths), routes);
    for (path, allow) in ROUTES {
        let methods: BTreeSet<String> = allow.split(", ").map(str::to_ascii_lowercase).collect();
        assert_eq!(keys(&paths[path]), methods, "{path}");
        for m in &methods {
            let responses = &paths[path][m]["responses"];
            assert!(responses.get("200").is_some(), "{m} {path}");
            if paths[path][m].get("requestBody").is_some() {
                for status in ["400", "413"] {
                    assert!(responses.get(status).is_some(), "{m} {path} {status}");
                }
            }
        }
    }
}

#[test]
fn the_instance_schema_has_the_instance_files_keys() {
    let d = doc();
    // Every key of the instance file (imds-files checks its documented key table against
    // the same serialisation).
    let top = keys(&serde_json::to_value(Instance::default()).unwrap());
    let schemas = &d["components"]["schemas"];
    for name in ["Instance", "InstancePatch"] {
        assert_eq!(keys(&schemas[name]["properties"]), top, "{name}");
    }
    // What GET /instance answers has exactly those keys, and null only where allowed.
    let shown = serde_json::to_value(Instance::default()).unwrap();
    assert_eq!(keys(&shown), top);
    for (key, value) in shown.as_object().unwrap() {
        let ty = &schemas["Instance"]["properties"][key]["type"];
        let nullable = ty.as_array().is_some_and(|t| t.iter().any(|x| x == "null"));
        assert!(
            !value.is_null() || nullable,
            "{key} is null but not nullable"
        );
    }
}

#[test]
fn options_and_errors_match_what_the_server_sends() {
    let d = doc();
    let schemas = &d["components"]["schemas"];
    let shown = serde_json::to_value(MetadataOptions::default()).unwrap();
    assert_eq!(keys(&schemas["Options"]["properties"]), keys(&shown));
    let e: Value = serde_json::from_str(&ControlError::bad(None, "x").to_json()).unwrap();
    assert_eq!(keys(&schemas["Error"]["properties"]), keys(&e));
}
