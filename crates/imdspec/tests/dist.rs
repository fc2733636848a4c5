//! The release checks of `just dist` that CI can afford on every run (the release build itself
//! is `just dist`, far beyond a CI run's budget on a shared 2-core machine): the glibc baseline
//! check reads versioned symbols and fails on a binary that needs a newer glibc, the licence
//! files the packages ship exist, and the packaging script makes a right .deb, .rpm, tarball
//! and SHA256SUMS (on a stub binary: packaging the real one takes seconds, building it half
//! an hour).

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

/// The manifests declare `MIT OR Apache-2.0`; both texts exist for the packages to ship
/// (the packaging test checks they do).
#[test]
fn the_licence_texts_exist() {
    let read = |f: &str| std::fs::read_to_string(root().join(f)).unwrap();
    assert!(read("LICENSE-MIT").starts_with("MIT License"));
    assert!(read("LICENSE-APACHE").contains("Apache License"));
    assert!(read("Cargo.toml").contains("license = \"MIT OR Apache-2.0\""));
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// dpkg-deb ships with Debian; rpmbuild is Debian's `rpm` package, which `.ci/run` installs.
fn packaging_tools() -> bool {
    let have = |t: &str| Command::new(t).arg("--version").output().is_ok();
    if have("dpkg-deb") && have("rpmbuild") {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "dpkg-deb or rpmbuild missing under CI"
    );
    eprintln!("skipped: no dpkg-deb or rpmbuild (apt-get install rpm)");
    false
}

/// `package.sh` (what `just dist` runs on each release binary) on a stub file standing in for
/// the binary, with the man page made from this build's `--help`: the .deb and the .rpm carry
/// the manifest's name, version, summary and licence, the right architecture and the same file
/// tree (binary, man page, both licence texts), and SHA256SUMS covers every artefact.
#[test]
fn package_script_builds_deb_and_rpm_with_manifest_metadata_and_checksums() {
    if !packaging_tools() {
        return;
    }
    let out = std::env::temp_dir().join(format!("imdspec-dist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let stub = out.join("stub-binary");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(&stub, b"not really imdspec\n").unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let summary = env!("CARGO_PKG_DESCRIPTION").trim_end_matches('.');
    let script = root().join("crates/imdspec/dist/package.sh");
    let dist = out.join("dist");
    for triple in ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"] {
        run(Command::new("bash")
            .arg(&script)
            .arg(&stub)
            .arg(triple)
            .arg(&dist)
            .arg(env!("CARGO_BIN_EXE_imdspec")));
    }

    let files = [
        format!("imdspec-{version}-x86_64-unknown-linux-gnu"),
        format!("imdspec-{version}-x86_64-unknown-linux-gnu.tar.gz"),
        format!("imdspec_{version}-1_amd64.deb"),
        format!("imdspec-{version}-1.x86_64.rpm"),
        format!("imdspec-{version}-aarch64-unknown-linux-gnu"),
        format!("imdspec-{version}-aarch64-unknown-linux-gnu.tar.gz"),
        format!("imdspec_{version}-1_arm64.deb"),
        format!("imdspec-{version}-1.aarch64.rpm"),
    ];
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    let mut listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
    listed.sort_unstable();
    let mut want: Vec<&str> = files.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(listed, want, "{sums}");
    run(Command::new("sha256sum")
        .args(["--check", "--quiet", "SHA256SUMS"])
        .current_dir(&dist));
    // README's install lines name what the script makes.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for name in &files[1..4] {
        assert!(readme.contains(name.as_str()), "README lacks {name}");
    }

    let tree = [
        "/usr/bin/imdspec",
        "/usr/share/man/man1/imdspec.1.gz",
        "/usr/share/doc/imdspec/LICENSE-APACHE",
        "/usr/share/doc/imdspec/LICENSE-MIT",
    ];
    for (deb_arch, rpm_arch) in [("amd64", "x86_64"), ("arm64", "aarch64")] {
        let deb = dist.join(format!("imdspec_{version}-1_{deb_arch}.deb"));
        let info = run(Command::new("dpkg-deb").arg("-I").arg(&deb));
        for field in [
            "Package: imdspec\n".to_owned(),
            format!("Version: {version}-1\n"),
            format!("Architecture: {deb_arch}\n"),
            // The stub links nothing, so only the glibc baseline.
            "Depends: libc6 (>= 2.17)\n".to_owned(),
            format!("Description: {summary}\n"),
            "Licence: MIT OR Apache-2.0".to_owned(),
        ] {
            assert!(info.contains(&format!(" {field}")), "{field:?} in\n{info}");
        }
        let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
        let mut files: Vec<(&str, &str)> = listing
            .lines()
            .filter(|l| !l.starts_with('d'))
            .map(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                assert_eq!(cols[1], "root/root", "{l}");
                (cols[0], cols[5].trim_start_matches('.'))
            })
            .collect();
        files.sort_unstable();
        let mut want: Vec<(&str, &str)> = tree
            .iter()
            .map(|&f| {
                (
                    if f.ends_with("bin/imdspec") {
                        "-rwxr-xr-x"
                    } else {
                        "-rw-r--r--"
                    },
                    f,
                )
            })
            .collect();
        want.sort_unstable();
        assert_eq!(files, want, "{listing}");

        let rpm = dist.join(format!("imdspec-{version}-1.{rpm_arch}.rpm"));
        let info = run(Command::new("rpm").args([
            "-qp",
            "--qf",
            "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{LICENSE}|%{SUMMARY}\n[%{FILENAMES} %{FILEMODES:perms} %{FILEFLAGS:fflags}\n]",
        ]).arg(&rpm));
        let mut lines = info.lines();
        assert_eq!(
            lines.next().unwrap(),
            format!("imdspec|{version}|1|{rpm_arch}|MIT OR Apache-2.0|{summary}")
        );
        let files: Vec<&str> = lines.collect();
        assert_eq!(
            files,
            [
                "/usr/bin/imdspec -rwxr-xr-x ",
                "/usr/share/licenses/imdspec/LICENSE-APACHE -rw-r--r-- l",
                "/usr/share/licenses/imdspec/LICENSE-MIT -rw-r--r-- l",
                "/usr/share/man/man1/imdspec.1.gz -rw-r--r-- d",
            ]
        );
        let listed = run(Command::new("rpm").arg("-qlp").arg(&rpm));
        assert_eq!(listed.lines().count(), 4, "{listed}");
        let requires = run(Command::new("rpm").arg("-qRp").arg(&rpm));
        assert!(requires.contains("glibc >= 2.17"), "{requires}");
    }

    // What the packages install: the stub as the binary, a man page covering every command.
    let unpacked = out.join("unpacked");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(dist.join(format!("imdspec_{version}-1_amd64.deb")))
        .arg(&unpacked));
    assert_eq!(
        std::fs::read(unpacked.join("usr/bin/imdspec")).unwrap(),
        std::fs::read(&stub).unwrap()
    );
    assert_eq!(
        std::fs::read(unpacked.join("usr/share/doc/imdspec/LICENSE-MIT")).unwrap(),
        std::fs::read(root().join("LICENSE-MIT")).unwrap()
    );
    let man = run(Command::new("gzip")
        .arg("-dc")
        .arg(unpacked.join("usr/share/man/man1/imdspec.1.gz")));
    assert!(man.starts_with(".TH IMDSPEC 1 "), "{man}");
    for command in [
        "serve",
        "run",
        "probe",
        "client-check",
        "aemm",
        "fleet",
        "fleet report",
    ] {
        assert!(
            man.contains(&format!(".SS \"imdspec {command}\"\n")),
            "man page lacks {command}"
        );
    }
    assert!(man.contains("--fail-on"), "the probe's options are in it");
    let tarball = run(Command::new("tar").arg("-tzf").arg(dist.join(format!(
        "imdspec-{version}-aarch64-unknown-linux-gnu.tar.gz"
    ))));
    let mut entries: Vec<&str> = tarball.lines().filter(|l| *l != "./").collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            "./LICENSE-APACHE",
            "./LICENSE-MIT",
            "./README.md",
            "./imdspec",
            "./imdspec.1.gz"
        ]
    );

    // A target without a package architecture is a usage error, not a mislabelled package.
    let bad = Command::new("bash")
        .arg(&script)
        .arg(&stub)
        .arg("riscv64gc-unknown-linux-gnu")
        .arg(&dist)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("riscv64gc-unknown-linux-gnu"));
    std::fs::remove_dir_all(&out).unwrap();
}
