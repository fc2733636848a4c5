//! Fuzz entry point over `imds-aemm`: the config file and `AEMM_*` environment layers (and
//! a command line), compiled into the cargo-fuzz target `aemm_config` and into
//! `crates/imds-aemm/tests/fuzz_seeds.rs`, which replays every committed seed on stable.
//!
//! Input: `FILE \0 ENV \0 ARGS`, each part optional: the config file's text, `NAME=VALUE`
//! lines, whitespace-separated arguments.
#![allow(dead_code)]

use std::path::Path;

use imds_aemm::prepare;
use imds_model::Timestamp;

/// 2026-01-15T09:40:00Z, the start every input is planned from.
const START: Timestamp = Timestamp::from_secs(1_768_470_000);
const FILE: &str = "/fuzz/aemm-config.json";

fn run(
    file: &str,
    env: &[(String, String)],
    args: &[String],
) -> Result<imds_aemm::Prepared, imds_aemm::Error> {
    let mut all = vec![("AEMM_CONFIG_FILE".to_owned(), FILE.to_owned())];
    all.extend(env.iter().cloned());
    prepare(args, &all, None, START, |p| {
        if p == Path::new(FILE) {
            Ok(file.to_owned())
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    })
}

/// Splits an input into its parts and plans it.
fn prepare_input(data: &[u8]) -> Option<imds_aemm::Prepared> {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let file = parts.next().unwrap_or("");
    let env: Vec<(String, String)> = parts
        .next()
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let args: Vec<String> = parts
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    run(file, &env, &args).ok()
}

/// Whether an input is accepted (so the seed replay can check its seeds reach the
/// round trip rather than stopping at an error).
pub fn accepted(data: &[u8]) -> bool {
    prepare_input(data).is_some()
}

/// No panic; an accepted configuration is a valid instance, and what `-s` would save reads
/// back (as a config file alone, same subcommand) to the same plan.
pub fn aemm_config(data: &[u8]) {
    let Some(p) = prepare_input(data) else {
        return;
    };
    assert!(
        p.plan.instance.validate().is_ok(),
        "planned an invalid instance"
    );
    let saved = p.config.to_json();
    let v: serde_json::Value = serde_json::from_str(&saved).expect("saved config is JSON");
    assert!(v.is_object());
    // Help and version runs plan nothing; the save keeps everything else.
    let word = match p.cli.command {
        imds_aemm::Command::All => None,
        imds_aemm::Command::Spot => Some("spot"),
        imds_aemm::Command::Events => Some("events"),
        imds_aemm::Command::AsgLifecycle => Some("asglifecycle"),
    };
    let args: Vec<String> = word.into_iter().map(str::to_owned).collect();
    let back = run(&saved, &[], &args).expect("saved config reads back");
    assert!(
        back.config.warnings.is_empty(),
        "{:?}",
        back.config.warnings
    );
    assert_eq!(back.plan.instance, p.plan.instance);
    assert_eq!(back.plan.options, p.plan.options);
    assert_eq!(back.plan.scenario, p.plan.scenario);
    assert_eq!((back.plan.host, back.plan.port), (p.plan.host, p.plan.port));
}
