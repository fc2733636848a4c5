//! `imdspec fleet report`: the per-instance probe outputs and conformance reports a fleet
//! tool gathered (SSM Run Command's S3 output, one file per host from Ansible, JSON lines),
//! joined by instance id with the control plane's view (`aws ec2 describe-instances` output
//! as is), and the verdict: per instance what differs, fleet totals, and per conformance
//! case which instances fail it.
//!
//! - [`read`] turns bytes into documents (every `imdspec probe` format, run reports);
//! - [`Fleet`] takes files one by one (each read, reduced to a small record and dropped, so
//!   memory grows with the number of instances, not with the bytes read) and joins them;
//! - [`render`] prints the [`Report`] as human text, JSON, CSV or Markdown;
//! - [`synth`] writes synthetic fleets (every kind of instance and format) for tests and the
//!   benchmark.
//!
//! ```
//! use imds_fleet::{Fleet, Declared};
//! let declared = Declared::parse("d.json", r#"{"Reservations": [{"Instances": [
//!     {"InstanceId": "i-0123456789abcdef0", "MetadataOptions": {"HttpTokens": "required"}}]}]}"#)?;
//! let mut fleet = Fleet::new(Some(declared));
//! fleet.add_bytes(std::path::Path::new("i-0123456789abcdef0/stdout"),
//!     br#"{"format": "imdspec-probe/1", "InstanceId": "i-0123456789abcdef0",
//!          "HttpTokens": "optional", "imdsv1": "open", "hop_limit_too_low": false,
//!          "observations": {"endpoints": [{"tokenless_get": {"status": 200}}]}}"#);
//! let report = fleet.finish();
//! assert_eq!(report.exit_code(), 1);
//! assert_eq!(report.totals.differ, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use imds_model::{DescribedInstance, OptionsState, PartialOptions};
use imds_observe::CompareOptions;
use serde::Serialize;

/// The probe output reader (the format is defined once, in `imds-observe`).
pub use imds_observe::output as read;
pub mod render;
pub mod synth;

use read::{Doc, MAX_FILE_BYTES, Observed, ReadError, V1};

/// Exit code when anything differs.
pub const EXIT_DIFFERS: u8 = 1;
/// Exit code when an input could not be read (the report is still printed).
pub const EXIT_UNREADABLE: u8 = 2;

/// The control plane's view: describe-instances output, by instance id.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    by_id: HashMap<String, DescribedInstance>,
}

impl Declared {
    /// Reads describe-instances output (`Reservations` and all, or a `--query` of instances);
    /// instances without an id are ignored. Errors name the file, line and instance.
    pub fn parse(file: &str, text: &str) -> Result<Declared, ReadError> {
        let all =
            PartialOptions::each_from_describe_instances(Path::new(file), text).map_err(|e| {
                ReadError {
                    file: file.to_owned(),
                    line: e.line,
                    column: e.column,
                    message: format!("{}: {}", e.field, e.message),
                }
            })?;
        let by_id: HashMap<String, DescribedInstance> = all
            .into_iter()
            .filter_map(|d| Some((d.instance_id.clone()?, d)))
            .collect();
        if by_id.is_empty() {
            return Err(ReadError::file(
                file,
                "no instance ids in the file (expected the output of aws ec2 describe-instances)",
            ));
        }
        Ok(Declared { by_id })
    }

    /// Reads a describe-instances file (at most [`MAX_DECLARED_BYTES`]).
    pub fn load(path: &Path) -> Result<Declared, ReadError> {
        let name = path.display().to_string();
        let text = read_capped(path, MAX_DECLARED_BYTES)
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_owned()))
            .map_err(|m| ReadError::file(&name, m))?;
        Declared::parse(&name, &text)
    }

    /// Instances in the file.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when no instance is declared.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// Largest describe-instances file read (it is read whole: about 5 KiB per instance).
pub const MAX_DECLARED_BYTES: u64 = 1024 * 1024 * 1024;

fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(format!(
            "larger than {cap} bytes: not a probe output or run report"
        ));
    }
    Ok(bytes)
}

/// How one instance's endpoint behaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Tokenless requests are answered.
    Imdsv1Open,
    /// A token is required.
    Imdsv2Required,
    /// `HttpEndpoint=disabled`: 403 to everything.
    EndpointOff,
    /// Nothing answered.
    NoAnswer,
    /// Answered, but neither open nor closed could be told.
    Unclear,
    /// In the control plane, no probe output.
    NotProbed,
}

impl Status {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Imdsv1Open => "imdsv1-open",
            Status::Imdsv2Required => "imdsv2-required",
            Status::EndpointOff => "endpoint-off",
            Status::NoAnswer => "no-answer",
            Status::Unclear => "unclear",
            Status::NotProbed => "not-probed",
        }
    }

    fn of(o: &Observed) -> Status {
        match (o.answers, o.v1) {
            (false, _) => Status::NoAnswer,
            (true, V1::Open) => Status::Imdsv1Open,
            (true, V1::Closed) => Status::Imdsv2Required,
            (true, V1::Disabled) => Status::EndpointOff,
            (true, V1::Unknown) => Status::Unclear,
        }
    }
}

pub use imds_observe::{Difference, OptionPair};

/// Every option's declared/observed pair, in describe-instances order (the observers' one
/// comparison).
fn option_pairs(
    declared: Option<&PartialOptions>,
    observed: Option<&PartialOptions>,
) -> Vec<OptionPair> {
    let none = PartialOptions::default();
    let pairs = declared
        .unwrap_or(&none)
        .compare(observed.unwrap_or(&none))
        .pairs;
    pairs.into_iter().collect()
}

/// One instance worth a line: anything but "IMDSv2 required, as declared, reachable".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The instance id, or the file for a probe output that names none.
    pub instance_id: String,
    /// What the endpoint did.
    pub status: Status,
    /// Token answers do not reach the prober's position.
    pub hop_limited: bool,
    /// Declared vs observed, where both are known and differ.
    pub differences: Vec<Difference>,
    /// Every option, declared and observed (what is known of each).
    pub options: Vec<OptionPair>,
    /// The declared `MetadataOptions.State` is `pending`: a change not applied yet.
    pub pending: bool,
    /// The instance's `State.Name` in the control plane (`running`, `stopped`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_state: Option<String>,
    /// Probed, but not in the describe-instances output.
    pub unknown_to_control_plane: bool,
    /// More than one probe output for this instance (the last read is used).
    #[serde(skip_serializing_if = "is_zero")]
    pub duplicates: u32,
    /// The probe output read (the last one, with duplicates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Row {
    /// True when this row needs attention and makes the report exit 1 (marked `!`): a
    /// difference, no answer, a running (or unknown-state) instance not probed, or an
    /// instance the control plane does not know.
    pub fn differs(&self) -> bool {
        !self.differences.is_empty()
            || self.status == Status::NoAnswer
            || self.unknown_to_control_plane
            || (self.status == Status::NotProbed
                && self
                    .instance_state
                    .as_deref()
                    .is_none_or(|s| s == "running"))
    }
}

/// Fleet totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Instances seen (probed or declared).
    pub instances: usize,
    /// Instances with a probe output.
    pub probed: usize,
    /// IMDSv1 answered.
    pub imdsv1_open: usize,
    /// IMDSv2 required.
    pub imdsv2_required: usize,
    /// Endpoint turned off.
    pub endpoint_off: usize,
    /// Token answers lost before the prober's position.
    pub hop_limited: usize,
    /// Nothing answered.
    pub no_answer: usize,
    /// Answered, state unclear.
    pub unclear: usize,
    /// In the control plane, no probe output.
    pub not_probed: usize,
    /// Probed, but not in the control plane's output.
    pub unknown_to_control_plane: usize,
    /// Instances whose endpoint differs from the declared options.
    pub differ: usize,
    /// Instances that need attention ([`Row::differs`], marked `!`): a difference, no
    /// answer, a running instance not probed, or one unknown to the control plane.
    pub attention: usize,
    /// … of which with a pending options change.
    pub pending: usize,
    /// Probe outputs naming no instance id.
    pub without_instance_id: usize,
    /// Run reports read.
    pub run_reports: usize,
    /// Files read.
    pub files: usize,
    /// Files (or lines) that could not be read.
    pub unreadable: usize,
}

/// One conformance case that fails somewhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseFailures {
    /// Case id.
    pub id: String,
    /// Its level (`must`, `should`, `info`).
    pub level: String,
    /// How many instances fail (or error on) it.
    pub count: usize,
    /// Which (instance id, or the report's file when its path names none).
    pub instances: Vec<String>,
}

/// The joined result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `imdspec-fleet/1`.
    pub format: &'static str,
    /// 0, 1 or 2 (see [`Report::exit_code`]).
    pub exit_code: u8,
    /// Whether describe-instances output was given.
    pub declared: bool,
    /// Totals.
    pub totals: Totals,
    /// Instances worth a line, by instance id.
    pub instances: Vec<Row>,
    /// Failing conformance cases, most failing first.
    pub cases: Vec<CaseFailures>,
    /// Inputs that could not be read.
    pub unreadable: Vec<String>,
}

/// A condition a pipeline can fail on (`imdspec fleet report --fail-on`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// An instance answers tokenless requests ([`Totals::imdsv1_open`]).
    Imdsv1Open,
    /// An endpoint does not do what the control plane declares ([`Totals::differ`]).
    Differs,
    /// An endpoint answered nothing ([`Totals::no_answer`]).
    Unreachable,
    /// An input could not be read ([`Totals::unreadable`]).
    Unreadable,
}

/// The JSON report's format name.
pub const REPORT_FORMAT: &str = "imdspec-fleet/1";

impl Report {
    /// 2 when an input was unreadable, else 1 when anything needs attention, else 0.
    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }

    /// Whether `c` holds anywhere in the fleet.
    pub fn holds(&self, c: Condition) -> bool {
        let t = &self.totals;
        match c {
            Condition::Imdsv1Open => t.imdsv1_open > 0,
            Condition::Differs => t.differ > 0,
            Condition::Unreachable => t.no_answer > 0,
            Condition::Unreadable => t.unreadable > 0,
        }
    }
}

/// The join in progress. Add files (or bytes) in any order, then [`Fleet::finish`].
#[derive(Debug, Default)]
pub struct Fleet {
    declared: Option<Declared>,
    /// Per probed instance: the last observation, its file and how many were read.
    observed: HashMap<String, (Observed, String, u32)>,
    anonymous: Vec<(Observed, String)>,
    cases: BTreeMap<String, (String, Vec<String>)>,
    totals: Totals,
    unreadable: Vec<String>,
}

impl Fleet {
    /// A join against `declared` (or none).
    pub fn new(declared: Option<Declared>) -> Fleet {
        Fleet {
            declared,
            ..Fleet::default()
        }
    }

    /// Records an input that could not be read.
    pub fn unreadable(&mut self, e: &ReadError) {
        self.totals.unreadable += 1;
        self.unreadable.push(e.to_string());
    }

    /// Reads one file (at most [`MAX_FILE_BYTES`]); a bad file is recorded, never fatal.
    pub fn add_file(&mut self, path: &Path) {
        match read_capped(path, MAX_FILE_BYTES) {
            Ok(bytes) => self.add_bytes(path, &bytes),
            Err(m) => {
                self.totals.files += 1;
                self.unreadable(&ReadError::file(&path.display().to_string(), m));
            }
        }
    }

    /// Takes the contents of one file; `path` names it and may carry the instance id.
    pub fn add_bytes(&mut self, path: &Path, bytes: &[u8]) {
        self.totals.files += 1;
        let name = path.display().to_string();
        let (docs, error) = read::documents(&name, bytes);
        if let Some(e) = error {
            self.unreadable(&e);
        }
        let from_path = read::instance_id_from_path(path);
        for doc in docs {
            match doc {
                Doc::Probe(o) => {
                    // The endpoint's own answer wins; the path names probes that got none.
                    match o.instance_id.clone().or_else(|| from_path.clone()) {
                        Some(id) => {
                            let e = self
                                .observed
                                .entry(id)
                                .or_insert_with(|| (o.clone(), name.clone(), 0));
                            *e = (o, name.clone(), e.2 + 1);
                        }
                        None => self.anonymous.push((o, name.clone())),
                    }
                }
                Doc::Run(r) => {
                    self.totals.run_reports += 1;
                    let who = from_path.clone().unwrap_or_else(|| name.clone());
                    for (id, level, _) in r.failing {
                        let e = self.cases.entry(id).or_insert_with(|| (level, Vec::new()));
                        e.1.push(who.clone());
                    }
                }
            }
        }
    }

    /// Walks `paths` (files, and directories recursively in name order) and adds every
    /// probe output found: in directories, files named `stdout` or ending in `.json`,
    /// `.jsonl` or `.ndjson` (Run Command's `stderr` and anything else are skipped); files
    /// named on the command line are always read.
    pub fn add_paths(&mut self, paths: &[PathBuf]) {
        for p in paths {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => self.walk(p),
                Ok(_) => self.add_file(p),
                Err(e) => {
                    self.totals.files += 1;
                    self.unreadable(&ReadError::file(
                        &p.display().to_string(),
                        format!("cannot read: {e}"),
                    ));
                }
            }
        }
    }

    fn walk(&mut self, dir: &Path) {
        // The entry's own type (from the directory listing, no extra stat): a symlink is
        // neither a file nor a directory here, so a link loop is never walked.
        let mut entries: Vec<(PathBuf, std::fs::FileType)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| {
                    let e = e.ok()?;
                    Some((e.path(), e.file_type().ok()?))
                })
                .collect(),
            Err(e) => {
                self.unreadable(&ReadError::file(
                    &dir.display().to_string(),
                    format!("cannot list: {e}"),
                ));
                return;
            }
        };
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (p, kind) in entries {
            if kind.is_dir() {
                self.walk(&p);
            } else if kind.is_file() && wanted(&p) {
                self.add_file(&p);
            }
        }
    }

    /// The joined report.
    pub fn finish(self) -> Report {
        let Fleet {
            declared,
            observed,
            anonymous,
            cases,
            mut totals,
            unreadable,
        } = self;
        let mut rows = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        totals.probed = observed.len();
        for (id, (o, file, count)) in &observed {
            seen.insert(id);
            let d = declared.as_ref().map(|d| d.by_id.get(id));
            let row = probe_row(id.clone(), o, file, *count, d, &mut totals);
            if let Some(r) = row {
                rows.push(r);
            }
        }
        totals.without_instance_id = anonymous.len();
        for (o, file) in &anonymous {
            if let Some(r) = probe_row(file.clone(), o, file, 1, None, &mut totals) {
                rows.push(r);
            }
        }
        if let Some(d) = &declared {
            for (id, di) in &d.by_id {
                if seen.contains(id.as_str()) {
                    continue;
                }
                totals.not_probed += 1;
                rows.push(Row {
                    instance_id: id.clone(),
                    status: Status::NotProbed,
                    hop_limited: false,
                    differences: Vec::new(),
                    options: option_pairs(Some(&di.options), None),
                    pending: di.state == Some(OptionsState::Pending),
                    instance_state: di.instance_state.clone(),
                    unknown_to_control_plane: false,
                    duplicates: 0,
                    file: None,
                });
            }
        }
        totals.instances = totals.probed + totals.not_probed + totals.without_instance_id;
        rows.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        totals.attention = rows.iter().filter(|r| r.differs()).count();
        let mut cases: Vec<CaseFailures> = cases
            .into_iter()
            .map(|(id, (level, mut instances))| {
                instances.sort();
                CaseFailures {
                    id,
                    level,
                    count: instances.len(),
                    instances,
                }
            })
            .collect();
        cases.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        let differs = rows.iter().any(Row::differs) || !cases.is_empty();
        let exit_code = if !unreadable.is_empty() {
            EXIT_UNREADABLE
        } else if differs {
            EXIT_DIFFERS
        } else {
            0
        };
        Report {
            format: REPORT_FORMAT,
            exit_code,
            declared: declared.is_some(),
            totals,
            instances: rows,
            cases,
            unreadable,
        }
    }
}

/// Files a directory walk reads.
fn wanted(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "stdout"
        || [".json", ".jsonl", ".ndjson"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Counts one probed instance and returns its row when it is worth one. `declared` is
/// `None` without describe-instances output, `Some(None)` when the instance is not in it.
fn probe_row(
    instance_id: String,
    o: &Observed,
    file: &str,
    count: u32,
    declared: Option<Option<&DescribedInstance>>,
    totals: &mut Totals,
) -> Option<Row> {
    let status = Status::of(o);
    match status {
        Status::Imdsv1Open => totals.imdsv1_open += 1,
        Status::Imdsv2Required => totals.imdsv2_required += 1,
        Status::EndpointOff => totals.endpoint_off += 1,
        Status::NoAnswer => totals.no_answer += 1,
        Status::Unclear => totals.unclear += 1,
        Status::NotProbed => {}
    }
    if o.hop_limit_too_low {
        totals.hop_limited += 1;
    }
    let mut differences = Vec::new();
    let (mut pending, mut instance_state, mut unknown) = (false, None, false);
    let options = option_pairs(declared.flatten().map(|d| &d.options), Some(&o.options));
    match declared {
        Some(Some(d)) => {
            pending = d.state == Some(OptionsState::Pending);
            instance_state = d.instance_state.clone();
            differences = options.iter().filter_map(OptionPair::difference).collect();
        }
        Some(None) => {
            unknown = true;
            totals.unknown_to_control_plane += 1;
        }
        None => {}
    }
    if !differences.is_empty() {
        totals.differ += 1;
        if pending {
            totals.pending += 1;
        }
    }
    let fine = status == Status::Imdsv2Required
        && !o.hop_limit_too_low
        && differences.is_empty()
        && !unknown
        && count == 1;
    (!fine).then(|| Row {
        instance_id,
        status,
        hop_limited: o.hop_limit_too_low,
        differences,
        options,
        pending,
        instance_state,
        unknown_to_control_plane: unknown,
        duplicates: count.saturating_sub(1),
        file: Some(file.to_owned()),
    })
}
