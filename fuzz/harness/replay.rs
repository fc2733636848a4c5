//! Seed replay for `cargo test`: runs every committed seed and past crash input of a fuzz
//! target (`fuzz/seeds/<target>/`, including `regressions/`) through its entry point.
//!
//! Included with `#[path]` by each crate's `tests/fuzz_seeds.rs`, beside the harness file
//! the cargo-fuzz target uses, so a seed is checked exactly as the fuzzer checks it.
#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// `fuzz/seeds`, found from the including crate (`crates/<name>`).
pub fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

/// Every file under `dir`, recursively, in a stable order.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
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

/// Runs `entry` on every seed of `target`; fails naming each seed that panics. Returns how
/// many seeds ran.
pub fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let dir = seeds_dir().join(target);
    let files = files_under(&dir);
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            catch_unwind(AssertUnwindSafe(|| entry(&data)))
                .err()
                .map(|_| file.display().to_string())
        })
        .collect();
    assert!(failures.is_empty(), "{target}: seeds failed: {failures:#?}");
    files.len()
}
