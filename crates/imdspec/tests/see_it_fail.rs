//! README "See it fail": `imdspec run` against `imdspec serve --fault …` that breaks the shape
//! of the answers must end FAIL and name the case that caught it. The README's commands are
//! read from the README itself, so the two cannot drift apart. Loopback only.

mod common;

use common::{Serve, imdspec_in, text};
use serde_json::Value;

/// Each README command's fault, and the must-level case that has to catch it.
const README_COMMANDS: [(&str, &str); 3] = [
    ("get=drop-ttl", "token.ttl.remaining-header"),
    (
        "get=content-type:application/json",
        "category.content-type.text-plain",
    ),
    (
        "get[/latest/meta-data/]=line:1:ami-idx",
        "listing.meta-data.core-entries",
    ),
];

/// The `--fault` of each command line between the README's see-it-fail markers.
fn readme_faults() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- see-it-fail:start -->")
        .expect("README has a see-it-fail block");
    let (block, _) = rest.split_once("<!-- see-it-fail:end -->").unwrap();
    block
        .lines()
        .filter(|l| l.starts_with("imdspec serve"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| *w == "--fault").unwrap();
            // The commands quote only with '…' (globs), which the shell strips.
            words[at + 1].trim_matches('\'').to_owned()
        })
        .collect()
}

/// `imdspec serve --fault FAULT` and `imdspec run --endpoint` against it, as the README has them
/// (a free port instead of 1338): the exit code and the JSON report.
fn run_against(fault: &str) -> (Option<i32>, Value) {
    let server = Serve::start(&[], &["--listen", "127.0.0.1:0", "--fault", fault]);
    let out = imdspec_in(
        &[],
        &["run", "--endpoint", server.url(), "--format", "json"],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{fault}: {e}\n{}", text(&out.stderr)));
    (out.status.code(), report)
}

fn outcome<'a>(report: &'a Value, id: &str) -> &'a str {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no case {id}"))["outcome"]
        .as_str()
        .unwrap()
}

fn assert_caught(fault: &str, case: &str) {
    let (code, report) = run_against(fault);
    assert_eq!(
        outcome(&report, case),
        "fail",
        "{fault} must fail {case}: {:#}",
        report["summary"]
    );
    assert_eq!(
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == case)
            .unwrap()["level"],
        "must"
    );
    assert_eq!(code, Some(1), "{fault}: a must-level failure fails the run");
    assert_eq!(report["exit_code"], 1, "{fault}");
}

#[test]
fn the_readme_shows_exactly_these_faults() {
    let want: Vec<&str> = README_COMMANDS.iter().map(|(f, _)| *f).collect();
    assert_eq!(readme_faults(), want);
}

#[test]
fn the_runner_catches_answers_without_the_remaining_ttl() {
    let (fault, case) = README_COMMANDS[0];
    assert_caught(fault, case);
}

#[test]
fn the_runner_catches_a_wrong_content_type() {
    let (fault, case) = README_COMMANDS[1];
    assert_caught(fault, case);
}

#[test]
fn the_runner_catches_a_changed_listing_line() {
    let (fault, case) = README_COMMANDS[2];
    assert_caught(fault, case);
}

#[test]
fn the_runner_catches_a_wrong_status_on_one_path() {
    assert_caught(
        "get[/latest/meta-data/instance-id]=status:404",
        "category.instance-id.format",
    );
}

/// The same server without a fault passes: the failures above are the faults', not the setup's.
#[test]
fn without_a_fault_the_same_run_passes() {
    let server = Serve::start(&[], &["--listen", "127.0.0.1:0"]);
    let out = imdspec_in(
        &[],
        &["run", "--endpoint", server.url(), "--format", "json"],
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (_, case) in README_COMMANDS {
        assert_eq!(outcome(&report, case), "pass", "{case}");
    }
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
