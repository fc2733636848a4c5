//! The judge tested like the runner: every deliberately broken client of
//! `conformance/clients/mutants/client.py` must be caught by a must- or should-level scenario,
//! and the faithful client in the same program must pass every must-level one. The kill table
//! in `conformance/clients/README.md` (between the `mutants:` markers) names, per mutant, the
//! scenarios that catch it; each must fail for that mutant here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use imds_client_check::{Imdsv1, RunConfig};
use imds_report::report::RunResult;
use imds_report::{Level, Outcome};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn program() -> String {
    root()
        .join("conformance/clients/mutants/client.py")
        .to_string_lossy()
        .into_owned()
}

/// Every mode the program knows, with what it breaks.
fn modes() -> Vec<(String, String)> {
    let out = Command::new("python3")
        .arg(program())
        .arg("--list")
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, what) = l.split_once('\t').expect("NAME\tWHAT");
            (name.to_owned(), what.to_owned())
        })
        .collect()
}

fn run(mode: &str) -> RunResult {
    let scenarios = imds_client_check::scenarios(None).unwrap();
    let config = RunConfig {
        name: mode.to_owned(),
        command: vec!["python3".into(), program(), mode.into()],
        // Long enough for the 1 s timeouts and a few retries; a hung mutant is killed here.
        timeout: Duration::from_secs(15),
        concurrency: 6,
        all_exchanges: false,
        imdsv1: Imdsv1::Fallback,
        // Scenarios about one component run it alone (`--only`), as the matrix's drivers.
        components: ["credentials", "region", "instance-id"]
            .map(String::from)
            .to_vec(),
    };
    imds_client_check::run_blocking(&config, scenarios.all.clone(), &scenarios, None).unwrap()
}

/// README's kill table: mutant → scenario ids named in its "caught by" column.
fn kill_table() -> BTreeMap<String, BTreeSet<String>> {
    let readme = std::fs::read_to_string(root().join("conformance/clients/README.md")).unwrap();
    let table = readme
        .split("<!-- mutants:start -->")
        .nth(1)
        .and_then(|t| t.split("<!-- mutants:end -->").next())
        .expect("conformance/clients/README.md has the mutants markers");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cols: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cols[1].trim_matches('`').to_owned();
            let ids = cols[3]
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            (name, ids)
        })
        .collect()
}

#[test]
fn every_mutant_is_caught_and_the_faithful_client_passes_every_must() {
    let modes = modes();
    let table = kill_table();
    let names: BTreeSet<&str> = modes.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains("faithful"));
    assert!(names.len() > 12, "at least 12 mutants: {names:?}");
    let listed: BTreeSet<&str> = table.keys().map(String::as_str).collect();
    let mutants: BTreeSet<&str> = names.iter().copied().filter(|n| *n != "faithful").collect();
    assert_eq!(
        listed, mutants,
        "README's kill table lists every mutant, and only those"
    );

    let faithful = run("faithful");
    for c in &faithful.cases {
        if c.level == Level::Must {
            assert_eq!(
                c.outcome,
                Outcome::Pass,
                "faithful client fails must-level {}: {:?} {:?}",
                c.id,
                c.reason,
                c.detail.failures
            );
        }
    }
    for mutant in mutants {
        let result = run(mutant);
        let caught: BTreeSet<&str> = result
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Fail && c.level != Level::Info)
            .map(|c| c.id.as_str())
            .collect();
        assert!(
            !caught.is_empty(),
            "mutant {mutant} survives every must and should scenario"
        );
        for id in &table[mutant] {
            assert!(
                caught.contains(id.as_str()),
                "README says {id} catches {mutant}, but it does not (caught by: {caught:?})"
            );
        }
    }
}
