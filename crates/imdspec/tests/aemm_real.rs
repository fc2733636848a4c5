//! The runner against the real amazon-ec2-metadata-mock (AEMM v1.13.0, installed by
//! `conformance/clients/install.sh aemm` into `{target}/clients/bin/ec2-metadata-mock`): in each
//! of AEMM's modes (default, spot, events and its alias scheduledevents, asglifecycle, --imdsv2), `imdspec run --target aemm` must match `conformance/targets/aemm.toml`
//! exactly (no unexpected failure, no xpass, no error), and every entry of that file must be
//! observed as an xfail in at least one mode. Under `CI=true` a missing AEMM fails the test;
//! elsewhere the test says why it did not run. Loopback only: AEMM listens on 127.0.0.1.

mod common;

use std::collections::BTreeSet;

use common::{aemm_binary, installed, none_stale, root, run_matches, start_aemm_like};

/// An AEMM mode: name, AEMM's arguments, the runner's extra flags, cases skipped in this mode.
type Mode = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const MODES: &[Mode] = &[
    ("default", &[], &[], &[]),
    // spot and asglifecycle serve only their own notice, not events/maintenance/scheduled.
    ("spot", &["spot"], &[], &["category.events.scheduled.*"]),
    ("events", &["events"], &[], &[]),
    ("scheduledevents", &["scheduledevents"], &[], &[]),
    (
        "asglifecycle",
        &["asglifecycle"],
        &[],
        &["category.events.scheduled.*"],
    ),
    ("imdsv2", &["--imdsv2"], &["--http-tokens", "required"], &[]),
];

#[test]
fn the_runner_sees_exactly_aemm_toml_in_every_aemm_mode() {
    let root = root();
    let binary = aemm_binary(&root);
    if !installed(&binary, "aemm") {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("imdspec-aemm-real-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut observed: BTreeSet<String> = BTreeSet::new();
    for (mode, args, flags, skips) in MODES {
        let home = scratch.join(mode);
        std::fs::create_dir_all(&home).unwrap();
        let (_aemm, port) = start_aemm_like(&binary, &[], args, &[], &home);
        let mut run_flags: Vec<&str> = flags.to_vec();
        for skip in *skips {
            run_flags.extend(["--skip", skip]);
        }
        let xfails = run_matches(&root, "aemm", port, &run_flags, mode);
        assert!(
            xfails.len() > 20,
            "AEMM mode {mode}: only {} xfails",
            xfails.len()
        );
        observed.extend(xfails);
    }
    none_stale(&root, "aemm", &observed);
    std::fs::remove_dir_all(&scratch).unwrap();
}
