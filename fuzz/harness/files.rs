//! Fuzz entry points over `imds-files`' decoders: describe-instances options and scenario files.
//!
//! Compiled into the `metadata_options_json` and `scenario_file` cargo-fuzz targets and into
//! `crates/imds-files/tests/fuzz_seeds.rs`, which replays the committed seeds on stable.
#![allow(dead_code)] // each fuzz target uses one entry point

use std::path::Path;
use std::time::Duration;

use imds_files::options::metadata_options;
use imds_files::scenario;
use imds_model::scenario::Trigger;
use imds_model::{Instance, MetadataOptions, ScenarioState, Timestamp};

type Entry = fn(&[u8]);

/// Every target here, by name: the seed-replay test checks each has a seed directory.
pub const TARGETS: &[(&str, Entry)] = &[
    ("metadata_options_json", metadata_options_json),
    ("scenario_file", scenario_file),
];

const START: Timestamp = Timestamp::from_secs(1_768_470_000);

/// `options::metadata_options`: total, and what it accepts round-trips.
pub fn metadata_options_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(options) = metadata_options(Path::new("fuzz"), text) {
        let shown = options.to_describe_instances_json();
        let again = metadata_options(Path::new("fuzz"), &shown)
            .unwrap_or_else(|e| panic!("own output {shown:?} refused: {e}"));
        assert_eq!(again, options);
    }
}

/// `scenario::parse` (TOML and JSON): total, deterministic, errors name the file, and playing
/// an accepted scenario to its end never leaves an instance the model would refuse to load.
pub fn scenario_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [imds_diag::Format::Toml, imds_diag::Format::Json] {
        let file = Path::new("fuzz-scenario");
        let parsed = scenario::parse(file, text, format);
        assert_eq!(parsed, scenario::parse(file, text, format));
        let scenario = match parsed {
            Ok(s) => s,
            Err(e) => {
                assert!(
                    e.to_string().contains("fuzz-scenario"),
                    "error lost the file: {e}"
                );
                continue;
            }
        };
        let mut state = ScenarioState::new(scenario.clone(), START);
        let mut instance = Instance::default();
        let mut options = MetadataOptions::default();
        let mut fired = 0;
        // Early, late, and far past every trigger; request counts up to the largest.
        for (secs, requests) in [
            (0, 1),
            (60, 10),
            (86_400, 1_000),
            (40 * 365 * 86_400, u64::MAX),
        ] {
            let now = START.plus(Duration::from_secs(secs));
            let due = state.any_due(now, requests);
            let applied = state
                .apply_due(now, requests, &mut instance, &mut options)
                .len();
            assert_eq!(
                due,
                applied > 0,
                "any_due disagrees with apply_due at +{secs}s"
            );
            fired += applied;
            // Applying again at the same moment does nothing.
            assert!(!state.any_due(now, requests));
            assert!(
                state
                    .apply_due(now, requests, &mut instance, &mut options)
                    .is_empty()
            );
            if let Err((field, message)) = instance.validate() {
                panic!("scenario left an invalid instance at +{secs}s: {field}: {message}");
            }
        }
        let end = START.plus(Duration::from_secs(40 * 365 * 86_400));
        let due_by_end = scenario
            .entries
            .iter()
            .filter(|e| match e.trigger {
                Trigger::After(d) => START.plus(d) <= end,
                Trigger::At(t) => t <= end,
                Trigger::AfterRequests(_) => true,
            })
            .count();
        assert_eq!(
            fired, due_by_end,
            "every entry due by the end fires exactly once"
        );
    }
}
