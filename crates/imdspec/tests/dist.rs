//! The release checks of `just dist` that CI can afford on every run (the release build itself
//! is `just dist`, far beyond a CI run's budget on a shared 2-core machine): the glibc baseline
//! check reads versioned symbols and fails on a binary that needs a newer glibc, and the
//! licence files the tarball ships exist.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check_glibc(max: &str) -> (Option<i32>, String) {
    let script = root().join("crates/imdspec/dist/check-glibc.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_imdspec"))
        .arg(max)
        .output()
        .expect("bash runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// This test's binary is linked on the build machine (glibc 2.34 or newer: its
/// `__libc_start_main` is versioned GLIBC_2.34), so the 2.17 baseline refuses it, naming the
/// symbols, and a baseline above every version accepts it.
#[test]
fn the_glibc_baseline_check_reads_versioned_symbols() {
    let (code, text) = check_glibc("2.17");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("needs glibc newer than 2.17"), "{text}");
    assert!(text.contains("@GLIBC_2."), "{text}");
    let (code, text) = check_glibc("99.0");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("newest glibc symbol version GLIBC_2."),
        "{text}"
    );
}

/// The manifests declare `MIT OR Apache-2.0`; the release tarball ships both texts.
#[test]
fn the_licence_texts_exist() {
    let read = |f: &str| std::fs::read_to_string(root().join(f)).unwrap();
    assert!(read("LICENSE-MIT").starts_with("MIT License"));
    assert!(read("LICENSE-APACHE").contains("Apache License"));
    assert!(read("Cargo.toml").contains("license = \"MIT OR Apache-2.0\""));
    let build = read("crates/imdspec/dist/build.sh");
    assert!(
        build.contains("LICENSE-MIT LICENSE-APACHE"),
        "the tarball holds both"
    );
}
