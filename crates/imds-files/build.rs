//! Compiles in every catalogue directory's `*.toml` files, listed from the directory itself,
//! so a new case, client scenario or expectations file cannot be left out of the binary.

use std::fmt::Write as _;
use std::path::Path;

/// (constant name, directory under the repository's `conformance/`).
const DIRS: &[(&str, &str)] = &[
    ("CASES", "cases"),
    ("RUN_TARGETS", "targets"),
    ("CLIENT_SCENARIOS", "clients"),
    ("CLIENT_TARGETS", "clients/targets"),
];

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let conformance = Path::new(&manifest).join("../../conformance");
    let mut out = String::new();
    for (name, dir) in DIRS {
        let full = conformance.join(dir);
        println!("cargo:rerun-if-changed={}", full.display());
        let mut names: Vec<String> = std::fs::read_dir(&full)
            .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        names.sort();
        let _ = writeln!(
            out,
            "/// `conformance/{dir}/*.toml`, compiled in.\npub const {name}: Embedded = Embedded {{\n    dir: \"conformance/{dir}\",\n    files: &["
        );
        for n in names {
            let path = full.join(&n);
            let _ = writeln!(
                out,
                "        ({n:?}, include_str!({:?})),",
                path.display().to_string()
            );
        }
        let _ = writeln!(out, "    ],\n}};");
    }
    let paths = conformance.join("paths.toml");
    println!("cargo:rerun-if-changed={}", paths.display());
    let _ = writeln!(
        out,
        "/// `conformance/paths.toml`, compiled in.\npub const PATHS: (&str, &str) = (\"conformance/paths.toml\", include_str!({:?}));",
        paths.display().to_string()
    );
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded.rs");
    std::fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
