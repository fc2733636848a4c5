//! Every scenario action has a complete example file in `examples/scenarios/` (named after the
//! action), README documents each for command-line users, every example loads, and errors
//! name kinds of value rather than Rust types.

use std::path::{Path, PathBuf};

use imds_model::scenario::Action;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios")
}

/// The action keys the loader knows: what it lists for an unknown key, less the triggers.
fn actions() -> Vec<String> {
    let e = imds_files::scenario::parse(
        Path::new("x.toml"),
        "[[entry]]\nno-such-action = 1\n",
        imds_diag::Format::Toml,
    )
    .unwrap_err();
    let listed: Vec<String> = e
        .message
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(listed.len() > 3, "{e}");
    listed
        .into_iter()
        .filter(|k| !["no-such-action", "after", "at", "after-requests"].contains(&k.as_str()))
        .collect()
}

fn name(a: &Action) -> &'static str {
    match a {
        Action::SpotInterruption { .. } => "spot-interruption",
        Action::RebalanceRecommendation { .. } => "rebalance-recommendation",
        Action::MaintenanceEvent(_) => "maintenance-event",
        Action::MaintenanceEventState { .. } => "maintenance-event-state",
        Action::AsgLifecycle(_) => "asg-lifecycle",
        Action::Options(_) => "options",
        Action::RotateCredentials => "rotate-credentials",
        Action::Tags(_) => "tags",
        Action::UserData(_) => "user-data",
    }
}

#[test]
fn every_action_has_a_loading_example_and_a_readme_line() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let actions = actions();
    assert_eq!(actions.len(), 9, "{actions:?}");
    for action in &actions {
        let file = examples().join(format!("{action}.toml"));
        let s = imds_files::scenario::parse_file(&file, &std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            s.entries.iter().any(|e| name(&e.action) == action),
            "{} has no {action} entry",
            file.display()
        );
        assert!(
            readme.contains(&format!("`examples/scenarios/{action}.toml`")),
            "README does not point to the {action} example"
        );
        assert!(
            readme.contains(&format!("| `{action}` |")),
            "README lacks a row for {action}"
        );
    }
    let files = std::fs::read_dir(examples()).unwrap().count();
    assert_eq!(files, actions.len(), "one example per action, nothing else");
}

#[test]
fn errors_name_kinds_of_value_not_rust_types() {
    for text in [
        "[[entry]]\nafter = \"1s\"\nrebalance-recommendation = \"now\"\n",
        "[[entry]]\nafter-requests = \"five\"\nrotate-credentials = {}\n",
        "[[entry]]\nafter = \"1s\"\nspot-interruption = 3\n",
    ] {
        let e = imds_files::scenario::parse(Path::new("s.toml"), text, imds_diag::Format::Toml)
            .unwrap_err();
        let shown = e.to_string();
        for rust in ["struct", "Raw", "u64", "u32", "enum "] {
            assert!(!shown.contains(rust), "{shown}");
        }
    }
}

/// The scenario file shown under `imdspec serve` in README.md parses.
#[test]
fn readme_scenario_example_parses() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let section = &readme[readme.find("### Scenarios").expect("a Scenarios section")..];
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a TOML example");
    let scenario = imds_files::scenario::parse_file(Path::new("README.toml"), block)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.entries.len(), 3);
}
