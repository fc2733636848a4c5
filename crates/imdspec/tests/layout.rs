//! The workspace's shape: which crate may use which (no cycles, no arrow up), and the model
//! reading no files. Adding a crate or an arrow means adding it to `ALLOWED` here.

use std::path::Path;

/// Each crate and the workspace crates it may depend on, lowest first: a crate may only use
/// crates listed before it.
const ALLOWED: &[(&str, &[&str])] = &[
    ("imds-diag", &[]),
    ("imds-model", &["imds-diag"]),
    ("imds-files", &["imds-diag", "imds-model"]),
    ("imds-server", &["imds-diag", "imds-model", "imds-files"]),
    ("imds-aemm", &["imds-diag", "imds-model"]),
    // What every observer shares: the HTTP client, redaction, inference, the probe format.
    ("imds-observe", &["imds-diag", "imds-model"]),
    // What every check reports (outcomes, results, expectations, renderings): the runner's
    // and client-check's shared vocabulary, so neither borrows the other's internals.
    ("imds-report", &["imds-diag", "imds-model", "imds-files"]),
    (
        "imds-conformance",
        &[
            "imds-diag",
            "imds-model",
            "imds-files",
            "imds-observe",
            "imds-report",
        ],
    ),
    ("imds-probe", &["imds-model", "imds-observe"]),
    ("imds-fleet", &["imds-diag", "imds-model", "imds-observe"]),
    (
        "imds-client-check",
        &[
            "imds-diag",
            "imds-model",
            "imds-files",
            "imds-observe",
            "imds-report",
            "imds-server",
        ],
    ),
    (
        "imdspec",
        &[
            "imds-diag",
            "imds-model",
            "imds-files",
            "imds-server",
            "imds-aemm",
            "imds-observe",
            "imds-report",
            "imds-conformance",
            "imds-probe",
            "imds-fleet",
            "imds-client-check",
        ],
    ),
];

fn crates_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The workspace crates named in `[dependencies]` of a manifest.
fn workspace_deps(manifest: &str) -> Vec<String> {
    let doc: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| {
            d.keys()
                .filter(|k| k.starts_with("imds"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_crate_uses_only_crates_below_it() {
    let mut on_disk: Vec<String> = std::fs::read_dir(crates_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = ALLOWED.iter().map(|(c, _)| (*c).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every crate has a place in ALLOWED");
    for (rank, (name, allowed)) in ALLOWED.iter().enumerate() {
        for dep in *allowed {
            let below = ALLOWED[..rank].iter().any(|(c, _)| c == dep);
            assert!(
                below,
                "ALLOWED lets {name} use {dep}, which is not below it"
            );
        }
        let manifest = std::fs::read_to_string(crates_dir().join(name).join("Cargo.toml")).unwrap();
        for dep in workspace_deps(&manifest) {
            assert!(
                allowed.contains(&dep.as_str()),
                "{name} depends on {dep}, which ALLOWED does not let it use"
            );
        }
    }
}

/// The model decodes text; `imds-files` reads files.
#[test]
fn the_model_reads_no_files() {
    let src = crates_dir().join("imds-model/src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for word in ["std::fs", "File::open", "read_to_string"] {
            assert!(!text.contains(word), "{} uses {word}", path.display());
        }
        checked += 1;
    }
    assert!(checked > 5, "{checked} files under {}", src.display());
}

/// The model keeps one job (IMDS's rules and content), and its size says so: every file
/// format, shell or observer helper that once landed there grew it. Over the budget, move what
/// is not a rule out (decoders to `imds-files`, shells to `imds-server`), or raise it knowingly.
#[test]
fn the_model_stays_within_its_line_budget() {
    const BUDGET: usize = 5_500;
    fn rust_lines(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| match p.extension() {
                _ if p.is_dir() => rust_lines(&p),
                Some(x) if x == "rs" => std::fs::read_to_string(&p).unwrap().lines().count(),
                _ => 0,
            })
            .sum()
    }
    let src = crates_dir().join("imds-model/src");
    let lines = rust_lines(&src);
    assert!(lines > 1_000, "{lines} lines under {}", src.display());
    assert!(
        lines <= BUDGET,
        "imds-model/src has {lines} lines, over its budget of {BUDGET}"
    );
}
