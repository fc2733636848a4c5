//! Replays every committed fuzz seed and past crash input (`fuzz/seeds/<target>/`, including
//! `regressions/`) through the same entry points the cargo-fuzz targets call, so a plain
//! `cargo test` on stable covers them without cargo-fuzz.

#[path = "../../../fuzz/harness/model.rs"]
mod harness;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

/// Every file under `dir`, recursively, in a stable order.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs `entry` on every seed of `target`; fails naming each seed that panics.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = seeds_dir().join(target);
    let files = files_under(&dir);
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let data = std::fs::read(file).unwrap();
            catch_unwind(AssertUnwindSafe(|| entry(&data)))
                .err()
                .map(|_| file.display().to_string())
        })
        .collect();
    assert!(failures.is_empty(), "{target}: seeds failed: {failures:#?}");
    files.len()
}

#[test]
fn every_model_target_has_a_seed_directory() {
    for (target, _) in harness::TARGETS {
        assert!(
            seeds_dir().join(target).is_dir(),
            "fuzz/seeds/{target} is missing"
        );
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name), harness::$name);
            }
        )*
    };
}

replay_tests!(
    ttl_header,
    token_header,
    request_path,
    listing_body,
    metadata_options_json,
    instance_file,
    model_request,
);

/// The listing bound needs bodies of 20 KB: generated here rather than committed as seeds,
/// so libFuzzer's input length limit (it grows to the largest seed) stays small.
#[test]
fn listing_entry_bound_is_exact() {
    let body = |n: usize| vec!["a"; n].join("\n").into_bytes();
    let at_limit = body(imds_model::parse::MAX_LISTING_ENTRIES);
    harness::listing_body(&at_limit);
    assert!(imds_model::parse::parse_listing(&at_limit).is_ok());
    let over = body(imds_model::parse::MAX_LISTING_ENTRIES + 1);
    harness::listing_body(&over);
    assert_eq!(
        imds_model::parse::parse_listing(&over),
        Err(imds_model::parse::ListingError::TooManyEntries)
    );
}
