//! The client matrix: every driver under `conformance/clients/drivers/NAME/driver.toml` run
//! against the same scenarios, written as `MATRIX.md` and `MATRIX.json` (clients × scenarios:
//! pass, xfail with its reason, fail, n/a).
//!
//! A driver manifest says how to install and run one real client, which version that is, and
//! what it cannot do (`[not-applicable]`: those scenarios are not run and show as `n/a`):
//!
//! ```toml
//! name = "botocore"                      # the column; also targets/NAME.toml if `expectations` is unset
//! client = "botocore (PyPI)"             # what it is, one line
//! version = "1.43.11"                    # the pinned version the install step puts in place
//! install = "conformance/clients/install.sh botocore"
//! command = ["{target}/clients/venv/bin/python", "{root}/conformance/clients/drivers/botocore/client.py"]
//! probe = ["{target}/clients/venv/bin/python", "-c", "import botocore"]   # exits 0 when installed
//! does = "credentials, region, instance id"
//! components = ["credentials", "region", "instance-id"]   # each loadable alone: `--only C`
//! known-bad = false                      # true: a deliberately bad client, failures expected
//! [capabilities]                         # what the client promises, each with its source
//! imdsv1 = "fallback"                    # fallback (403/404/405/timeout → IMDSv1) | never
//! imdsv1-source = "botocore/utils.py IMDSFetcher._fetch_metadata_token: …"
//! static-stability = true                # keeps expired credentials during an outage
//! static-stability-source = "botocore/utils.py InstanceMetadataFetcher._evaluate_expiration"
//! [not-applicable]
//! "environment.*" = "not an SDK: reads no AWS_* settings"
//! ```
//!
//! `{root}` is the repository root, `{target}` the cargo target directory (`CARGO_TARGET_DIR`,
//! else `{root}/target`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use imds_diag::{LoadError, Seg, Source};
use imds_report::report::RunResult;
use imds_report::{Expectations, Outcome};
use serde::{Deserialize, Serialize};

use crate::{Imdsv1, RunConfig, Scenario, Scenarios};

/// What a client promises, each claim with the source line it rests on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Capabilities {
    /// Whether it falls back to IMDSv1.
    pub imdsv1: Imdsv1,
    /// Where that is written (file and function, or a documentation URL).
    pub imdsv1_source: String,
    /// Whether it keeps expired credentials when it cannot refresh them.
    pub static_stability: bool,
    /// Where that is written.
    pub static_stability_source: String,
}

/// One driver manifest (`driver.toml`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Driver {
    /// The matrix column.
    pub name: String,
    /// What the client is.
    pub client: String,
    /// The pinned version.
    pub version: String,
    /// How it is installed (a command line, for people and `install.sh`).
    pub install: String,
    /// How it is run (placeholders `{root}`, `{target}`).
    pub command: Vec<String>,
    /// A command that exits 0 when the client is installed (default: the program exists).
    #[serde(default)]
    pub probe: Vec<String>,
    /// What the driver loads.
    pub does: String,
    /// The components the driver loads one at a time (`--only COMPONENT`, twice with
    /// `--again-after-ms N`); empty when it cannot, and then scenarios run it whole.
    #[serde(default)]
    pub components: Vec<String>,
    /// `targets/NAME.toml` to apply (default: `name`, if that file exists).
    #[serde(default)]
    pub expectations: Option<String>,
    /// A deliberately bad client: no expectations, failures are the point.
    #[serde(default)]
    pub known_bad: bool,
    /// What the client promises.
    pub capabilities: Capabilities,
    /// Scenario id or glob → why the client cannot take part.
    #[serde(default)]
    pub not_applicable: BTreeMap<String, String>,
    /// The manifest's path, for messages.
    #[serde(skip)]
    pub file: PathBuf,
}

/// Where a driver's placeholders point.
#[derive(Clone, Debug)]
pub struct Places {
    /// The repository root (`{root}`).
    pub root: PathBuf,
    /// The cargo target directory (`{target}`).
    pub target: PathBuf,
}

impl Places {
    /// `root`, with the target directory from `CARGO_TARGET_DIR` or `root/target`.
    pub fn new(root: &Path) -> Places {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| if p.is_absolute() { p } else { root.join(p) })
            .unwrap_or_else(|| root.join("target"));
        Places {
            root: root.to_owned(),
            target,
        }
    }

    fn fill(&self, arg: &str) -> String {
        arg.replace("{root}", &self.root.to_string_lossy())
            .replace("{target}", &self.target.to_string_lossy())
    }
}

impl Driver {
    /// The command with its placeholders filled in.
    pub fn command(&self, places: &Places) -> Vec<String> {
        self.command.iter().map(|a| places.fill(a)).collect()
    }

    /// `Ok` when the client is installed; else why not.
    pub fn available(&self, places: &Places) -> Result<(), String> {
        let command = self.command(places);
        let Some(program) = command.first() else {
            return Err(format!("{}: empty command", self.file.display()));
        };
        crate::find_program(program)?;
        if let Some((program, args)) = self.probe.split_first() {
            let out = std::process::Command::new(places.fill(program))
                .args(args.iter().map(|a| places.fill(a)))
                .output()
                .map_err(|e| format!("probe {program} cannot run: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "probe `{}` failed: {}",
                    self.probe.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        Ok(())
    }

    /// Why scenario `id` does not apply to this client, if it does not.
    pub fn not_applicable(&self, id: &str) -> Option<&str> {
        self.not_applicable
            .iter()
            .find(|(pattern, _)| glob::Pattern::new(pattern).is_ok_and(|p| p.matches(id)))
            .map(|(_, why)| why.as_str())
    }

    /// Why `scenario` does not apply: its `[not-applicable]` entry, or a capability the
    /// scenario's claim needs and the client does not declare.
    pub fn not_applicable_to(&self, scenario: &Scenario) -> Option<String> {
        if let Some(why) = self.not_applicable(&scenario.id) {
            return Some(why.to_owned());
        }
        if !self.components.is_empty()
            && let Some(c) = &scenario.component
            && !self.components.contains(c)
        {
            return Some(format!(
                "the scenario is about the {c}, which this driver does not load (it loads: {})",
                self.components.join(", ")
            ));
        }
        if scenario.load_again_after_ms.is_some() && self.components.is_empty() {
            return Some(
                "the driver cannot load a component again (it takes no --only, \
                 --again-after-ms)"
                    .into(),
            );
        }
        if scenario.requires_static_stability && !self.capabilities.static_stability {
            return Some(format!(
                "the client declares no static stability ({})",
                self.capabilities.static_stability_source
            ));
        }
        None
    }
}

/// Loads every `*/driver.toml` under `dir`, sorted by name; names are unique. Errors name
/// the file, line and field.
pub fn load_drivers(dir: &Path) -> Result<Vec<Driver>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| imds_diag::unreadable(dir, &e))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("driver.toml"))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut drivers: Vec<Driver> = Vec::new();
    for file in files {
        let text = imds_files::read(&file)?;
        let source = Source::toml(&file, &text);
        let mut driver: Driver = source.parse()?;
        if driver.command.is_empty() {
            return Err(source.at_field(&[Seg::key("command")], "must name a program"));
        }
        let caps = &driver.capabilities;
        for (field, claim_source) in [
            ("imdsv1-source", &caps.imdsv1_source),
            ("static-stability-source", &caps.static_stability_source),
        ] {
            if claim_source.trim().is_empty() {
                return Err(source.at_field(
                    &[Seg::key("capabilities"), Seg::key(field)],
                    "must name where the claim is written (source file and function, or a URL)",
                ));
            }
        }
        for (i, c) in driver.components.iter().enumerate() {
            if !crate::scenario::COMPONENTS.contains(&c.as_str()) {
                return Err(source.at_field(
                    &[Seg::key("components"), Seg::Index(i)],
                    format!(
                        "unknown component {c:?}; one of {}",
                        crate::scenario::COMPONENTS.join(", ")
                    ),
                ));
            }
        }
        for pattern in driver.not_applicable.keys() {
            if let Err(e) = glob::Pattern::new(pattern) {
                return Err(source.at_field(
                    &[Seg::key("not-applicable"), Seg::key(pattern.as_str())],
                    format!("bad glob: {e}"),
                ));
            }
        }
        if drivers.iter().any(|d| d.name == driver.name) {
            return Err(source.at_field(
                &[Seg::key("name")],
                format!("driver name {:?} used twice", driver.name),
            ));
        }
        driver.file = file;
        drivers.push(driver);
    }
    if drivers.is_empty() {
        return Err(LoadError {
            file: dir.to_owned(),
            line: 1,
            column: 1,
            field: "(dir)".into(),
            message: "no */driver.toml here".into(),
        });
    }
    drivers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(drivers)
}

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// `pass`, `fail`, `xfail`, `xpass`, `error` or `n/a`.
    pub outcome: String,
    /// Why (xfail, n/a, fail, error), one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The kind of a known difference (`design`, `version`, `bug`, `harness`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The requests that decided the cell, one line each: order, time since the first
    /// request, connection, method, path, token fingerprint, status, fault. Fingerprints and
    /// times differ from run to run, so comparisons of two matrices leave this out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<String>,
}

/// Requests kept per cell in `MATRIX.json`.
const CELL_REQUESTS: usize = 40;

/// One column of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The driver's name.
    pub name: String,
    /// What the client is.
    pub client: String,
    /// Its pinned version.
    pub version: String,
    /// What the driver loads.
    pub does: String,
    /// How it is installed.
    pub install: String,
    /// A deliberately bad client.
    #[serde(default)]
    pub known_bad: bool,
    /// Scenario id → cell; empty when the client was not installed.
    pub cells: BTreeMap<String, Cell>,
    /// Why the client did not run, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
}

/// A row header of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Scenario id.
    pub id: String,
    /// must, should or info.
    pub level: String,
    /// One line.
    pub summary: String,
    /// SPEC.md section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
}

/// Clients that cannot be run here, shown in the matrix with the reason.
pub const OUT_OF_REACH: &[(&str, &str)] = &[];

/// The whole matrix (what `MATRIX.json` holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// Format version of this file.
    pub format: u32,
    /// Scenarios, by id.
    pub rows: Vec<Row>,
    /// Clients, by name.
    pub columns: Vec<Column>,
    /// Clients out of reach: name → why.
    pub out_of_reach: BTreeMap<String, String>,
}

/// One line: the first line of `text`, trimmed.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().trim().to_owned()
}

/// The cells of one client's run.
pub fn cells_of(run: &RunResult) -> BTreeMap<String, Cell> {
    run.cases
        .iter()
        .map(|c| {
            let not_exercised = crate::not_exercised(c);
            let reason = match c.outcome {
                _ if not_exercised => c.reason.as_deref().map(one_line),
                Outcome::Pass => None,
                Outcome::Xfail => c
                    .reason
                    .as_deref()
                    .map(|r| one_line(r.strip_prefix("known failure: ").unwrap_or(r))),
                // Only the names of the failed checks: what they observed carries token
                // fingerprints and timings, which differ from run to run.
                _ if !c.detail.failures.is_empty() => {
                    let checks: Vec<&str> =
                        c.detail.failures.iter().map(|f| f.check.as_str()).collect();
                    Some(format!("failed checks: {}", checks.join("; ")))
                }
                _ => c.reason.as_deref().map(one_line),
            };
            let outcome = if not_exercised && c.outcome == Outcome::Fail {
                "not-exercised"
            } else {
                c.outcome.as_str()
            };
            let kind = match c.outcome {
                Outcome::Xfail | Outcome::Xpass => reason
                    .as_deref()
                    .and_then(crate::xfail_kind)
                    .map(str::to_owned),
                _ => None,
            };
            let requests = c
                .detail
                .notes
                .iter()
                .filter(|n| n.starts_with('#'))
                .take(CELL_REQUESTS)
                .cloned()
                .collect();
            (
                c.id.clone(),
                Cell {
                    outcome: outcome.to_owned(),
                    reason,
                    kind,
                    requests,
                },
            )
        })
        .collect()
}

/// What running one driver gave.
pub struct DriverRun {
    /// Its column.
    pub column: Column,
    /// The full run (for a JSON report), when it ran.
    pub run: Option<RunResult>,
    /// Wall time.
    pub elapsed: Duration,
}

/// The expectations of `driver`: `targets/NAME.toml` (its `expectations` or its name) from
/// `clients_dir` or the compiled-in ones; none for a known-bad client.
pub fn driver_expectations(
    driver: &Driver,
    clients_dir: Option<&Path>,
) -> Result<Option<Expectations>, String> {
    if driver.known_bad {
        return Ok(None);
    }
    let name = driver.expectations.as_deref().unwrap_or(&driver.name);
    match crate::target_expectations(clients_dir, name) {
        Ok(e) => Ok(Some(e)),
        Err(e) => Err(format!(
            "{}: expectations {name}: {e}",
            driver.file.display()
        )),
    }
}

/// Runs one driver over `scenarios` (minus its `[not-applicable]` ones) and returns its column.
pub async fn run_driver(
    driver: &Driver,
    places: &Places,
    selected: &[Scenario],
    catalogue: &Scenarios,
    expectations: Option<&Expectations>,
    timeout: Duration,
    concurrency: usize,
) -> DriverRun {
    let started = Instant::now();
    let mut column = Column {
        name: driver.name.clone(),
        client: driver.client.clone(),
        version: driver.version.clone(),
        does: driver.does.clone(),
        install: driver.install.clone(),
        known_bad: driver.known_bad,
        cells: BTreeMap::new(),
        not_run: None,
    };
    if let Err(why) = driver.available(places) {
        column.not_run = Some(format!(
            "not installed: {why} (install: {})",
            driver.install
        ));
        return DriverRun {
            column,
            run: None,
            elapsed: started.elapsed(),
        };
    }
    let (selected, skipped): (Vec<&Scenario>, Vec<&Scenario>) = selected
        .iter()
        .partition(|s| driver.not_applicable_to(s).is_none());
    let config = RunConfig {
        name: driver.name.clone(),
        command: driver.command(places),
        timeout,
        concurrency,
        all_exchanges: false,
        imdsv1: driver.capabilities.imdsv1,
        components: driver.components.clone(),
    };
    let selected: Vec<Scenario> = selected.into_iter().cloned().collect();
    let run = crate::run(&config, selected, catalogue, expectations).await;
    column.cells = cells_of(&run);
    for s in skipped {
        column.cells.insert(
            s.id.clone(),
            Cell {
                outcome: "n/a".into(),
                reason: driver.not_applicable_to(s),
                kind: None,
                requests: Vec::new(),
            },
        );
    }
    DriverRun {
        column,
        run: Some(run),
        elapsed: started.elapsed(),
    }
}

impl Matrix {
    /// The matrix of these columns over `scenarios`.
    pub fn new(scenarios: &[Scenario], columns: Vec<Column>) -> Matrix {
        Matrix {
            format: 1,
            rows: scenarios
                .iter()
                .map(|s| Row {
                    id: s.id.clone(),
                    level: s.level.to_string(),
                    summary: s.summary.clone(),
                    spec: s.spec.clone(),
                })
                .collect(),
            columns,
            out_of_reach: OUT_OF_REACH
                .iter()
                .map(|(n, why)| ((*n).to_owned(), (*why).to_owned()))
                .collect(),
        }
    }

    /// `MATRIX.json`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// `MATRIX.md`.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# IMDS client matrix\n\n");
        out.push_str(
            "Written by `just client-matrix` (`imdspec client-check --all`); a test compares \
             it with a fresh run (`IMDSPEC_BLESS=1` rewrites it). Every client ran against \
             the same loopback reference server, one server per scenario. Cells: `pass`; \
             `xfail` (a known, documented difference, reason below); `fail`; `n/a` (the \
             client cannot do this, reason below). Scenarios: `conformance/clients/*.toml`; \
             drivers: `conformance/clients/drivers/`.\n\n",
        );
        out.push_str("## Clients\n\n| client | what | version | loads |\n|---|---|---|---|\n");
        for c in &self.columns {
            let what = if c.known_bad && !c.client.contains("deliberately bad") {
                format!("{} (deliberately bad)", c.client)
            } else {
                c.client.clone()
            };
            let version = match &c.not_run {
                Some(why) => format!("{} ({})", c.version, why),
                None => c.version.clone(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.name,
                escape(&what),
                escape(&version),
                escape(&c.does)
            ));
        }
        for (name, why) in &self.out_of_reach {
            out.push_str(&format!("| {name} | — | — | {} |\n", escape(why)));
        }
        out.push_str("\n## Results\n\n| scenario | level |");
        for c in &self.columns {
            out.push_str(&format!(" {} |", c.name));
        }
        out.push_str("\n|---|---|");
        for _ in &self.columns {
            out.push_str("---|");
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!("| `{}` | {} |", r.id, r.level));
            for c in &self.columns {
                let cell = match c.cells.get(&r.id) {
                    None => "not run".to_owned(),
                    Some(Cell {
                        outcome,
                        kind: Some(kind),
                        ..
                    }) => format!("{outcome} ({kind})"),
                    Some(cell) => cell.outcome.clone(),
                };
                out.push_str(&format!(" {cell} |"));
            }
            out.push('\n');
        }
        out.push_str("\n## Scenarios\n\n");
        for r in &self.rows {
            let spec = r
                .spec
                .as_deref()
                .map(|s| format!(" (SPEC.md {s})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "- `{}` [{}]{spec}: {}\n",
                r.id,
                r.level,
                escape(&r.summary)
            ));
        }
        out.push_str("\n## Why, per client\n");
        for c in &self.columns {
            out.push_str(&format!("\n### {}\n\n", c.name));
            if let Some(why) = &c.not_run {
                out.push_str(&format!("Not run: {}\n", escape(why)));
                continue;
            }
            let mut any = false;
            for (id, cell) in &c.cells {
                if cell.outcome == "pass" {
                    continue;
                }
                any = true;
                let why = cell.reason.as_deref().unwrap_or("");
                out.push_str(&format!(
                    "- `{id}` {}: {}\n",
                    cell.outcome,
                    link_sources(&escape(why))
                ));
            }
            if !any {
                out.push_str("Every scenario passes.\n");
            }
        }
        out
    }
}

/// The reason with its bare `https://` sources as Markdown links.
fn link_sources(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("https://") {
        out.push_str(&rest[..at]);
        let url_len = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ';' | ','))
            .unwrap_or(rest.len() - at);
        let url = &rest[at..at + url_len];
        out.push_str(&format!("<{url}>"));
        rest = &rest[at + url_len..];
    }
    out.push_str(rest);
    out
}

/// Keeps a table cell one cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drivers_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance/clients/drivers")
    }

    #[test]
    fn every_committed_driver_loads_and_names_real_scenarios_and_targets() {
        let drivers = load_drivers(&drivers_dir()).unwrap();
        assert!(drivers.len() >= 8, "{}", drivers.len());
        let scenarios = crate::scenarios(None).unwrap();
        for d in &drivers {
            for pattern in d.not_applicable.keys() {
                let p = glob::Pattern::new(pattern).unwrap();
                assert!(
                    scenarios.all.iter().any(|s| p.matches(&s.id)),
                    "{}: not-applicable {pattern:?} matches no scenario",
                    d.name
                );
            }
            assert!(
                !d.known_bad || d.expectations.is_none(),
                "{}: a known-bad client has no expectations",
                d.name
            );
            let e = driver_expectations(d, None).unwrap();
            assert_eq!(e.is_none(), d.known_bad, "{}", d.name);
            assert!(!d.version.trim().is_empty(), "{}", d.name);
        }
    }

    #[test]
    fn bad_manifests_name_file_and_line() {
        let dir = std::env::temp_dir().join(format!("imdspec-drivers-{}", std::process::id()));
        let sub = dir.join("x");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(
            sub.join("driver.toml"),
            "name = \"x\"\nclient = \"x\"\nversion = \"1\"\ninstall = \"-\"\ncommand = [\"x\"]\ndoes = \"-\"\ncolour = 1\n[capabilities]\nimdsv1 = \"never\"\nimdsv1-source = \"a\"\nstatic-stability = false\nstatic-stability-source = \"b\"\n",
        )
        .unwrap();
        let err = load_drivers(&dir).unwrap_err().to_string();
        assert!(err.contains("driver.toml"), "{err}");
        assert!(err.contains(":7:"), "{err}");
        assert!(err.contains("colour"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn placeholders_and_not_applicable_globs() {
        let places = Places {
            root: "/r".into(),
            target: "/t".into(),
        };
        let d = Driver {
            name: "x".into(),
            client: "x".into(),
            version: "1".into(),
            install: "-".into(),
            command: vec!["{target}/bin/x".into(), "{root}/a.py".into()],
            probe: vec![],
            does: "-".into(),
            components: vec!["credentials".into(), "region".into()],
            expectations: None,
            known_bad: false,
            capabilities: Capabilities {
                imdsv1: Imdsv1::Never,
                imdsv1_source: "x.rs".into(),
                static_stability: false,
                static_stability_source: "x.rs".into(),
            },
            not_applicable: [("credentials.*".to_owned(), "no creds".to_owned())].into(),
            file: "driver.toml".into(),
        };
        assert_eq!(d.command(&places), ["/t/bin/x", "/r/a.py"]);
        assert_eq!(d.not_applicable("credentials.extended"), Some("no creds"));
        assert_eq!(d.not_applicable("tokens.reused"), None);
        assert!(d.available(&places).unwrap_err().contains("/t/bin/x"));
    }

    #[test]
    fn a_scenario_about_one_component_runs_the_driver_for_that_component_alone() {
        let scenarios = crate::scenarios(None).unwrap();
        let by_id = |id: &str| scenarios.all.iter().find(|s| s.id == id).unwrap();
        let drivers = load_drivers(&drivers_dir()).unwrap();
        let driver = |name: &str| drivers.iter().find(|d| d.name == name).unwrap();
        let config = |d: &Driver| RunConfig {
            name: d.name.clone(),
            command: vec!["client".into()],
            timeout: Duration::from_secs(1),
            concurrency: 1,
            all_exchanges: false,
            imdsv1: d.capabilities.imdsv1,
            components: d.components.clone(),
        };
        // Region alone: the credentials (which come first when a driver loads everything)
        // cannot hide what the region lookup does.
        let region = by_id("fallback.never-on-400-region");
        let go = config(driver("aws-sdk-go-v2"));
        assert_eq!(go.command_for(region), ["client", "--only", "region"]);
        // Static stability loads the credentials twice, the second time after the outage.
        let stable = by_id("credentials.expired-static-stability");
        let again = stable.load_again_after_ms.unwrap().to_string();
        assert_eq!(
            go.command_for(stable),
            [
                "client",
                "--only",
                "credentials",
                "--again-after-ms",
                again.as_str()
            ]
        );
        // A scenario about no one component runs the driver whole.
        assert_eq!(go.command_for(by_id("tokens.v2-first")), ["client"]);
        // A driver without that component: n/a, with the reason.
        let chain = driver("aws-sdk-js-v3");
        let why = chain.not_applicable_to(region).unwrap();
        assert!(why.contains("does not load"), "{why}");
        assert_eq!(
            config(driver("aws-sdk-js-v3-metadata-service")).command_for(region)[1..],
            ["--only", "region"]
        );
        // Every SDK driver loads its components one at a time.
        for d in &drivers {
            if d.name.starts_with("aws-sdk-") || d.name == "botocore" {
                assert!(!d.components.is_empty(), "{}: no components", d.name);
            }
        }
    }
}
