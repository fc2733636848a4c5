//! Other mocks judged as AEMM is (aemm_real.rs): each is started on 127.0.0.1 and
//! `imdspec run --target NAME` must match `conformance/targets/NAME.toml` exactly: no
//! unexpected failure, no xpass, no error, and every entry observed as an xfail.
//!
//! - moto's `moto_server` (PyPI, pinned, `conformance/clients/install.sh moto`); under
//!   `CI=true` a missing install fails the test, elsewhere the test says why it did not run.
//! - `imdspec aemm` itself (`conformance/targets/imdspec-aemm.toml`): AEMM's content over EC2's
//!   protocol, the target file its start-up note names.
//!
//! purpleclay/imds-mock is not judged: the Go module proxy does not serve it
//! (conformance/targets/README.md).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    KillOnDrop, aemm_binary, free_port, installed, listening, none_stale, root, run_matches,
    start_aemm_like,
};

const IMDSPEC: &str = env!("CARGO_BIN_EXE_imdspec");

/// `{target}/clients`, where install.sh puts the mocks.
fn clients_dir(root: &Path) -> PathBuf {
    aemm_binary(root)
        .parent()
        .and_then(Path::parent)
        .expect("clients dir")
        .to_path_buf()
}

/// Starts `cmd` (which must listen on 127.0.0.1:`port`) and waits up to 20 s for it.
fn start(mut cmd: Command, port: u16, what: &str) -> KillOnDrop {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = KillOnDrop(
        cmd.spawn()
            .unwrap_or_else(|e| panic!("{what} cannot start: {e}")),
    );
    assert!(
        listening(port, Duration::from_secs(20)),
        "{what} did not listen on 127.0.0.1:{port} within 20 s"
    );
    child
}

#[test]
fn moto_server_matches_moto_toml() {
    let root = root();
    let server = clients_dir(&root).join("moto-venv/bin/moto_server");
    if !installed(&server, "moto") {
        return;
    }
    let port = free_port();
    let mut cmd = Command::new(&server);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let _moto = start(cmd, port, "moto_server");
    let observed: BTreeSet<String> = run_matches(&root, "moto", port, &[], "default")
        .into_iter()
        .collect();
    none_stale(&root, "moto", &observed);
}

#[test]
fn imdspec_aemm_matches_imdspec_aemm_toml() {
    let root = root();
    let home = std::env::temp_dir().join(format!("imdspec-mock-targets-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut observed = BTreeSet::new();
    for (mode, args, flags) in [
        ("default", &[][..], &[][..]),
        (
            "imdsv2",
            &["--imdsv2"][..],
            &["--http-tokens", "required"][..],
        ),
    ] {
        let (_ours, port) = start_aemm_like(Path::new(IMDSPEC), &["aemm"], args, &[], &home);
        observed.extend(run_matches(&root, "imdspec-aemm", port, flags, mode));
    }
    none_stale(&root, "imdspec-aemm", &observed);
    std::fs::remove_dir_all(&home).unwrap();
}

/// Run against `imdspec aemm` with no target file, the report names the target files that
/// list AEMM's known failures; given one, it does not repeat the advice.
#[test]
fn a_run_without_a_target_names_the_aemm_target_files() {
    let root = root();
    let home = std::env::temp_dir().join(format!("imdspec-mock-note-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let no_args: &[&str] = &[];
    let (_ours, port) = start_aemm_like(Path::new(IMDSPEC), &["aemm"], no_args, &[], &home);
    let run = |target: &[&str]| {
        let out = Command::new(IMDSPEC)
            .arg("run")
            .args(target)
            .arg("--endpoint")
            .arg(format!("http://127.0.0.1:{port}"))
            .arg("--conformance-dir")
            .arg(root.join("conformance"))
            .output()
            .expect("imdspec runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let bare = run(&[]);
    assert!(
        bare.contains("amazon-ec2-metadata-mock's default")
            && bare.contains("--target imdspec-aemm")
            && bare.contains("--target aemm"),
        "{bare}"
    );
    let targeted = run(&["--target", "imdspec-aemm"]);
    assert!(
        !targeted.contains("amazon-ec2-metadata-mock's default"),
        "{targeted}"
    );
    std::fs::remove_dir_all(&home).unwrap();
}
