//! Fuzz entry point over `imds-fleet`'s readers: probe outputs of every format, run reports
//! and describe-instances output, the join and every renderer.
//!
//! Compiled into the `fleet_inputs` cargo-fuzz target and into
//! `crates/imds-fleet/tests/fuzz_seeds.rs`, which replays the committed seeds on stable.
#![allow(dead_code)]

use std::path::Path;

use imds_fleet::render::{self, Format};
use imds_fleet::{Declared, Fleet};

/// A fuzz entry point: raw input in, panic on a broken invariant.
pub type Entry = fn(&[u8]);

/// The fleet targets by name, as their seed directories are named.
pub const TARGETS: &[(&str, Entry)] = &[("fleet_inputs", fleet_inputs)];

/// First byte `d`: the rest is describe-instances output, joined with one synthetic probe
/// output. Any other first byte: the rest is one probe-output file, read under a Run Command
/// path (`p`) or a bare name. Checks: errors name the file and point inside it; the report's
/// exit code and counts agree; JSON output parses; CSV has its header and one field count.
pub fn fleet_inputs(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut fleet = if selector == b'd' {
        let Ok(text) = std::str::from_utf8(rest) else {
            return;
        };
        match Declared::parse("declared.json", text) {
            Ok(d) => {
                assert!(!d.is_empty());
                let mut f = Fleet::new(Some(d));
                let probe = imds_fleet::synth::probe_output(0, "json").unwrap_or_default();
                f.add_bytes(Path::new("i-00000000000000000.json"), probe.as_bytes());
                f
            }
            Err(e) => {
                let shown = e.to_string();
                assert!(shown.starts_with("declared.json"), "{shown}");
                check_position(&e, rest);
                return;
            }
        }
    } else {
        let path = if selector == b'p' {
            "cmd-1/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout"
        } else {
            "probe.json"
        };
        let (docs, error) = imds_fleet::read::documents(path, rest);
        if let Some(e) = &error {
            assert!(e.to_string().starts_with(path), "{e}");
            check_position(e, rest);
        }
        let probes = docs
            .iter()
            .filter(|d| matches!(d, imds_fleet::read::Doc::Probe(_)))
            .count();
        let mut f = Fleet::new(None);
        f.add_bytes(Path::new(path), rest);
        let report = f.finish();
        // Every probe document read is counted once, under an id or as anonymous.
        assert!(report.totals.probed + report.totals.without_instance_id <= probes);
        assert!(probes == 0 || report.totals.probed + report.totals.without_instance_id >= 1);
        assert_eq!(report.exit_code() == 2, error.is_some());
        let mut f = Fleet::new(None);
        f.add_bytes(Path::new(path), rest);
        f
    };
    fleet.add_bytes(Path::new("empty.json"), b"");
    let report = fleet.finish();
    assert_eq!(report.exit_code(), 2, "the empty file is unreadable");
    assert!(report.totals.unreadable >= 1);
    assert_eq!(report.unreadable.len(), report.totals.unreadable);
    assert!(report.totals.probed + report.totals.not_probed <= report.totals.instances);
    let json: serde_json::Value =
        serde_json::from_str(&render::render(&report, Format::Json)).expect("JSON output parses");
    assert_eq!(json["totals"]["files"], report.totals.files);
    let csv = render::render(&report, Format::Csv);
    let mut lines = csv.lines();
    let header = lines.next().expect("a CSV header");
    assert!(header.starts_with("kind,instance_id,status,"), "{header}");
    let _ = render::render(&report, Format::Human);
    let md = render::render(&report, Format::Markdown);
    assert!(md.starts_with("**"));
}

/// A positioned error points at a line and column that exist in the input.
fn check_position(e: &imds_model::LoadError, input: &[u8]) {
    assert!(e.line >= 1, "{e}: no line 0");
    let text = String::from_utf8_lossy(input);
    let lines = text.split('\n').count();
    assert!(e.line <= lines.max(1), "{e}: {lines} lines");
    assert!(e.column >= 1, "{e}");
}
