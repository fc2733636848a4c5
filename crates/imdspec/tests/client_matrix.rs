//! The client matrix (`imdspec client-check --all`): every real client under
//! `conformance/clients/drivers/` runs against the same scenarios, and the result must equal
//! the committed `conformance/clients/MATRIX.md` and `MATRIX.json` (`IMDSPEC_BLESS=1`
//! rewrites them). Under `CI=true` every client must be installed (`conformance/clients/
//! install.sh` does it); elsewhere a missing one is skipped with its reason printed and only
//! the clients that ran are compared.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const IMDSPEC: &str = env!("CARGO_BIN_EXE_imdspec");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `value` without the cells' `requests` (token fingerprints and times differ per run).
fn without_requests(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "requests")
                .map(|(k, v)| (k.clone(), without_requests(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_requests).collect()),
        other => other.clone(),
    }
}

#[test]
fn the_committed_client_matrix_matches_a_fresh_run() {
    let root = root();
    let committed = root.join("conformance/clients");
    let bless = std::env::var_os("IMDSPEC_BLESS").is_some();
    let out_dir = if bless {
        committed.clone()
    } else {
        let d = std::env::temp_dir().join(format!("imdspec-matrix-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let started = std::time::Instant::now();
    let out = Command::new(IMDSPEC)
        .args([
            "client-check",
            "--all",
            "--concurrency",
            "4",
            "--timeout-ms",
            "25000",
        ])
        .arg("--root")
        .arg(&root)
        .arg("--matrix-dir")
        .arg(&out_dir)
        .output()
        .expect("imdspec runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    println!("full matrix run: {:.1} s", started.elapsed().as_secs_f64());
    let code = out.status.code().expect("exited");
    if in_ci() {
        assert_ne!(
            code, 3,
            "a client is not installed under CI=true:\n{stderr}"
        );
    }
    assert_eq!(
        code, 0,
        "every installed client meets its expectations:\n{stdout}\n{stderr}"
    );
    let fresh: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("MATRIX.json")).unwrap())
            .unwrap();
    let columns = fresh["columns"].as_array().unwrap();
    assert!(columns.len() >= 8, "{}", columns.len());
    let not_run: Vec<&Value> = columns
        .iter()
        .filter(|c| c.get("not_run").is_some())
        .collect();
    for c in &not_run {
        // Outside CI only (asserted above): say which client and why.
        println!("skipped client {}: {}", c["name"], c["not_run"]);
    }
    // The known-bad client is caught by must-level scenarios.
    let bad = columns
        .iter()
        .find(|c| c["known_bad"] == true)
        .expect("a known-bad row");
    if bad.get("not_run").is_none() {
        for id in ["tokens.v2-first", "server.required-mode"] {
            assert_eq!(bad["cells"][id]["outcome"], "fail", "{id}");
        }
        // It never sends a token PUT, so it cannot pass (or fail) a token-PUT fault.
        for id in [
            "fallback.put-403",
            "fallback.put-404",
            "fallback.put-405",
            "fallback.never-on-400",
        ] {
            assert_eq!(bad["cells"][id]["outcome"], "not-exercised", "{id}");
        }
    }
    // Every xfail and n/a says why, every xfail its kind.
    for c in columns {
        for (id, cell) in c["cells"].as_object().unwrap() {
            if matches!(cell["outcome"].as_str(), Some("xfail" | "n/a")) {
                assert!(
                    cell["reason"].as_str().is_some_and(|r| !r.is_empty()),
                    "{} {id}",
                    c["name"]
                );
            }
            if cell["outcome"] == "xfail" {
                assert!(
                    cell["kind"].is_string(),
                    "{} {id}: xfail without kind",
                    c["name"]
                );
            }
        }
    }
    if bless {
        return;
    }
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(committed.join("MATRIX.json")).expect("committed MATRIX.json"),
    )
    .unwrap();
    assert_eq!(
        fresh["rows"], old["rows"],
        "scenarios changed: IMDSPEC_BLESS=1"
    );
    for c in columns {
        if c.get("not_run").is_some() {
            continue;
        }
        let name = &c["name"];
        let was = old["columns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| &o["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the committed matrix: IMDSPEC_BLESS=1"));
        for (id, cell) in c["cells"].as_object().unwrap() {
            assert_eq!(
                without_requests(cell),
                without_requests(&was["cells"][id]),
                "{name} {id} differs from conformance/clients/MATRIX.json (IMDSPEC_BLESS=1 \
                 rewrites it after a review)"
            );
        }
        assert_eq!(
            without_requests(c),
            without_requests(was),
            "{name}: header differs (IMDSPEC_BLESS=1)"
        );
    }
    if not_run.is_empty() {
        assert_eq!(without_requests(&fresh), without_requests(&old));
        assert_eq!(
            std::fs::read_to_string(out_dir.join("MATRIX.md")).unwrap(),
            std::fs::read_to_string(committed.join("MATRIX.md")).unwrap(),
            "MATRIX.md differs: IMDSPEC_BLESS=1"
        );
    }
    std::fs::remove_dir_all(&out_dir).unwrap();
}

#[test]
fn readme_shows_the_committed_matrix() {
    let root = root();
    let md = std::fs::read_to_string(root.join("conformance/clients/MATRIX.md")).unwrap();
    let start = md.find("| scenario | level |").expect("results table");
    let end = md[start..].find("\n## ").map_or(md.len(), |e| start + e);
    let table = md[start..end].trim_end();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let shown = readme
        .split("<!-- client-matrix:start -->")
        .nth(1)
        .and_then(|r| r.split("<!-- client-matrix:end -->").next())
        .expect("README.md has the client-matrix markers");
    assert_eq!(
        shown.trim(),
        table,
        "README.md's client matrix differs from conformance/clients/MATRIX.md: copy the table"
    );
}

#[test]
fn all_refuses_a_program_and_unknown_drivers() {
    let out = Command::new(IMDSPEC)
        .args([
            "client-check",
            "--all",
            "--driver",
            "no-such-client",
            "--root",
        ])
        .arg(root())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-client") && err.contains("botocore"),
        "{err}"
    );
    assert!(err.contains("Usage:"), "{err}");
    let out = Command::new(IMDSPEC)
        .args(["client-check", "--all", "--target", "botocore"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_installed_driver_refuses_an_endpoint_that_is_not_loopback_port() {
    // Each value would reach at most a loopback port or nothing if a driver did not refuse it;
    // no test sends anything to the link-local address.
    let root = root();
    let places = imds_client_check::matrix::Places::new(&root);
    let drivers =
        imds_client_check::matrix::load_drivers(&root.join("conformance/clients/drivers")).unwrap();
    let mut checked = 0;
    for d in &drivers {
        if let Err(why) = d.available(&places) {
            assert!(!in_ci(), "{} is not installed under CI=true: {why}", d.name);
            println!("skipped client {}: {why}", d.name);
            continue;
        }
        let command = d.command(&places);
        for endpoint in [
            None,
            Some(""),
            Some("https://127.0.0.1:9"),
            Some("http://127.0.0.2:9"),
        ] {
            let mut cmd = Command::new(&command[0]);
            cmd.args(&command[1..])
                .env_remove("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                .env("AWS_CONFIG_FILE", "/dev/null")
                .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
            if let Some(e) = endpoint {
                cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", e);
            }
            let out = cmd.output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(2),
                "{} with endpoint {endpoint:?}: {}",
                d.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        checked += 1;
    }
    assert!(checked > 0 || !in_ci());
}
