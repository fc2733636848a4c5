//! `imdspec fleet report`: the per-instance probe outputs and conformance reports a fleet
//! tool gathered (SSM Run Command's S3 output, one file per host from Ansible, JSON lines),
//! joined by instance id with the control plane's view (`aws ec2 describe-instances` output
//! as is), and the verdict: per instance what differs, fleet totals, and per conformance
//! case which instances fail it.
//!
//! - [`read`] turns bytes into documents (every `imdspec probe` format, run reports);
//! - [`describe`] streams describe-instances output (never held whole);
//! - [`Fleet`] takes files one by one (each read, reduced to a record of about 30 bytes and
//!   dropped; the file's path is kept as a shared template with the instance id left out)
//!   and joins them; the [`Report`] keeps those records and builds each [`Row`] when it is
//!   rendered, so memory stays flat per instance whatever the bytes read;
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

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use imds_diag::WHOLE_FILE;
use imds_model::{LoadError, OptionsState, PartialOptions};
use imds_observe::CompareOptions;
use serde::Serialize;
use serde::ser::SerializeStruct as _;

pub mod describe;
pub mod render;
pub mod synth;

/// The probe output reader (the format is defined once, in `imds-observe`).
pub use imds_observe::output as read;

use describe::DescribedInstance;
use read::{Doc, MAX_FILE_BYTES, Observed, V1};

/// Exit code when anything differs.
pub const EXIT_DIFFERS: u8 = 1;
/// Exit code when an input could not be read (the report is still printed).
pub const EXIT_UNREADABLE: u8 = 2;

/// An error about a whole file (it cannot be read, is too large, holds nothing).
fn whole_file(file: &str, message: impl Into<String>) -> LoadError {
    LoadError {
        file: PathBuf::from(file),
        line: 1,
        column: 1,
        field: WHOLE_FILE.to_owned(),
        message: message.into(),
    }
}

/// An instance id in 11 bytes, ordered as its text is: `i-` or `mi-`, then up to 18 hex
/// digits packed two to a byte, then the digit count; any other id (describe-instances may
/// be hand-written) is kept aside in [`Ids`] and referred to by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key([u8; 11]);

const OTHER_ID: u8 = 2;

impl Key {
    fn packed(s: &str) -> Option<Key> {
        if !read::is_instance_id(s) {
            return None;
        }
        let (kind, hex) = match s.strip_prefix("i-") {
            Some(h) => (0, h),
            None => (1, s.strip_prefix("mi-")?),
        };
        let mut k = [0u8; 11];
        k[0] = kind;
        for (i, b) in hex.bytes().enumerate() {
            let d = (b as char).to_digit(16)? as u8;
            k[1 + i / 2] |= if i % 2 == 0 { d << 4 } else { d };
        }
        k[10] = hex.len() as u8;
        Some(Key(k))
    }

    fn other(n: u32) -> Key {
        let mut k = [0u8; 11];
        k[0] = OTHER_ID;
        k[1..5].copy_from_slice(&n.to_be_bytes());
        Key(k)
    }

    fn text(self, ids: &Ids) -> String {
        let k = self.0;
        if k[0] == OTHER_ID {
            let n = u32::from_be_bytes([k[1], k[2], k[3], k[4]]) as usize;
            return ids.others.get(n).map(|s| s.to_string()).unwrap_or_default();
        }
        let mut out = String::from(if k[0] == 0 { "i-" } else { "mi-" });
        for i in 0..usize::from(k[10]) {
            let d = if i % 2 == 0 {
                k[1 + i / 2] >> 4
            } else {
                k[1 + i / 2] & 15
            };
            out.push(char::from_digit(u32::from(d), 16).unwrap_or('0'));
        }
        out
    }
}

/// Ids that do not pack into a [`Key`], and the instance state names, each kept once.
#[derive(Clone, Debug, Default)]
struct Ids {
    others: Vec<Box<str>>,
    other_index: HashMap<Box<str>, u32>,
    states: Vec<Box<str>>,
}

impl Ids {
    fn key(&mut self, id: &str) -> Key {
        if let Some(k) = Key::packed(id) {
            return k;
        }
        let n = match self.other_index.get(id) {
            Some(n) => *n,
            None => {
                let n = self.others.len() as u32;
                self.others.push(id.into());
                self.other_index.insert(id.into(), n);
                n
            }
        };
        Key::other(n)
    }

    /// 0 for none, else 1 + the index of the name.
    fn state(&mut self, name: Option<&str>) -> u16 {
        let Some(name) = name else { return 0 };
        let i = match self.states.iter().position(|s| &**s == name) {
            Some(i) => i,
            None => {
                self.states.push(name.into());
                self.states.len() - 1
            }
        };
        u16::try_from(i + 1).unwrap_or(0)
    }

    fn state_name(&self, n: u16) -> Option<String> {
        let i = usize::from(n).checked_sub(1)?;
        self.states.get(i).map(|s| s.to_string())
    }

    /// Text order, as the report lists instances.
    fn cmp(&self, a: Key, b: Key) -> Ordering {
        if a.0[0] != OTHER_ID && b.0[0] != OTHER_ID {
            a.cmp(&b)
        } else {
            a.text(self).cmp(&b.text(self))
        }
    }
}

/// What the control plane declares for one instance.
#[derive(Clone, Copy, Debug)]
struct DeclaredRec {
    key: Key,
    options: PartialOptions,
    state: Option<OptionsState>,
    /// [`Ids::state`] of the instance's `State.Name`.
    instance_state: u16,
}

/// The control plane's view: describe-instances output, by instance id.
#[derive(Clone, Debug, Default)]
pub struct Declared {
    /// Sorted by id (text order), one per id (the last in the file).
    recs: Vec<DeclaredRec>,
    ids: Ids,
}

impl Declared {
    /// Reads describe-instances output (`Reservations` and all, or a `--query` of instances);
    /// instances without an id are ignored. Errors are `FILE:LINE:COL: FIELD: MESSAGE`,
    /// naming the instance for a bad value.
    pub fn parse(file: &str, text: &str) -> Result<Declared, LoadError> {
        Declared::read(file, text.as_bytes())
    }

    /// Streams a describe-instances file (at most [`MAX_DECLARED_BYTES`]).
    pub fn load(path: &Path) -> Result<Declared, LoadError> {
        let name = path.display().to_string();
        let f = std::fs::File::open(path)
            .map_err(|e| whole_file(&name, format!("cannot read: {e}")))?;
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_DECLARED_BYTES {
            return Err(whole_file(
                &name,
                format!("larger than {MAX_DECLARED_BYTES} bytes: not describe-instances output"),
            ));
        }
        Declared::read(&name, std::io::BufReader::with_capacity(1 << 16, f))
    }

    fn read(file: &str, reader: impl std::io::Read) -> Result<Declared, LoadError> {
        let mut d = Declared::default();
        let mut each = |i: DescribedInstance| {
            let Some(id) = i.instance_id else { return };
            let key = d.ids.key(&id);
            let instance_state = d.ids.state(i.instance_state.as_deref());
            d.recs.push(DeclaredRec {
                key,
                options: i.options,
                state: i.state,
                instance_state,
            });
        };
        describe::each_instance(Path::new(file), reader, &mut each)?;
        if d.recs.is_empty() {
            return Err(whole_file(
                file,
                "no instance ids in the file (expected the output of aws ec2 describe-instances)",
            ));
        }
        let ids = &d.ids;
        // Stable: the last entry of an id is the one kept.
        d.recs.sort_by(|a, b| ids.cmp(a.key, b.key));
        d.recs.reverse();
        d.recs.dedup_by_key(|r| r.key);
        d.recs.reverse();
        d.recs.shrink_to_fit();
        Ok(d)
    }

    /// Instances in the file.
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    /// True when no instance is declared.
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
}

/// Largest describe-instances file read (it is streamed, never held whole).
pub const MAX_DECLARED_BYTES: u64 = 16 * 1024 * 1024 * 1024;

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

/// What a probe saw, as the report needs it (9 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    options: PartialOptions,
    v1: V1,
    answers: bool,
    hop_limit_too_low: bool,
}

impl Seen {
    fn of(o: &Observed) -> Seen {
        Seen {
            options: o.options,
            v1: o.v1,
            answers: o.answers,
            hop_limit_too_low: o.hop_limit_too_low,
        }
    }
}

/// One probe output of an instance with an id.
#[derive(Clone, Copy, Debug)]
struct ObservedRec {
    key: Key,
    seen: Seen,
    /// Index of the file's path in [`Files`], with the instance id cut out.
    file: u32,
    /// Probe outputs read for this id (set when the records are joined).
    count: u32,
}

/// File paths, kept once per shape: `…/cmd-1/i-0abc…/…/stdout` is stored as
/// `…/cmd-1/\0/…/stdout` and the id put back when the path is shown.
#[derive(Clone, Debug, Default)]
struct Files {
    templates: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

/// Stands for the instance id in a [`Files`] template (no path holds it).
const ID_HOLE: char = '\0';

impl Files {
    fn add(&mut self, path: &str, id: &str) -> u32 {
        let template = match path.rfind(id) {
            Some(i) if !id.is_empty() => {
                format!("{}{ID_HOLE}{}", &path[..i], &path[i + id.len()..])
            }
            _ => path.to_owned(),
        };
        if let Some(n) = self.index.get(template.as_str()) {
            return *n;
        }
        let n = self.templates.len() as u32;
        self.templates.push(template.clone().into());
        self.index.insert(template.into(), n);
        n
    }

    fn path(&self, n: u32, id: &str) -> String {
        self.templates
            .get(n as usize)
            .map(|t| t.replacen(ID_HOLE, id, 1))
            .unwrap_or_default()
    }
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

    fn of(o: &Seen) -> Status {
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

/// The joined result. The instances worth a line are built from compact records each time
/// they are asked for ([`Report::instances`]), in instance id order.
#[derive(Clone, Debug)]
pub struct Report {
    /// `imdspec-fleet/1`.
    pub format: &'static str,
    /// 0, 1 or 2 (see [`Report::exit_code`]).
    pub exit_code: u8,
    /// Whether describe-instances output was given.
    pub declared: bool,
    /// Totals.
    pub totals: Totals,
    /// Failing conformance cases, most failing first.
    pub cases: Vec<CaseFailures>,
    /// Inputs that could not be read.
    pub unreadable: Vec<String>,
    joined: Joined,
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

    /// The instances worth a line (anything but "IMDSv2 required, as declared, reachable"),
    /// by instance id.
    pub fn instances(&self) -> impl Iterator<Item = Row> + '_ {
        let mut scratch = Totals::default();
        self.joined
            .entries()
            .filter_map(move |e| self.joined.row(e, &mut scratch))
    }
}

impl Serialize for Report {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The rows, serialised one by one as they are built.
        struct Rows<'a>(&'a Report);
        impl Serialize for Rows<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(self.0.instances())
            }
        }
        let mut st = s.serialize_struct("Report", 7)?;
        st.serialize_field("format", self.format)?;
        st.serialize_field("exit_code", &self.exit_code)?;
        st.serialize_field("declared", &self.declared)?;
        st.serialize_field("totals", &self.totals)?;
        st.serialize_field("instances", &Rows(self))?;
        st.serialize_field("cases", &self.cases)?;
        st.serialize_field("unreadable", &self.unreadable)?;
        st.end()
    }
}

/// The join in progress. Add files (or bytes) in any order, then [`Fleet::finish`].
#[derive(Debug, Default)]
pub struct Fleet {
    declared: Option<Declared>,
    /// Every probe output with an id, in reading order (joined in [`Fleet::finish`]).
    observed: Vec<ObservedRec>,
    files: Files,
    anonymous: Vec<(Seen, String)>,
    cases: BTreeMap<String, (String, Vec<String>)>,
    totals: Totals,
    unreadable: Vec<String>,
}

/// The compact records of a finished join.
#[derive(Clone, Debug, Default)]
struct Joined {
    declared: Option<Declared>,
    /// Sorted by id, one per id (the last read), `count` set.
    observed: Vec<ObservedRec>,
    files: Files,
    /// Probe outputs naming no instance id, by file.
    anonymous: Vec<(Seen, String)>,
}

/// One line of the join, before it is judged.
enum Entry<'a> {
    /// A probe output of an instance with an id, and its declaration: `None` without
    /// describe-instances output, `Some(None)` when the instance is not in it.
    Probed(&'a ObservedRec, Option<Option<&'a DeclaredRec>>),
    /// A probe output naming no instance.
    Anonymous(&'a Seen, &'a str),
    /// Declared, not probed.
    NotProbed(&'a DeclaredRec),
}

impl Joined {
    fn ids(&self) -> Option<&Ids> {
        self.declared.as_ref().map(|d| &d.ids)
    }

    fn key_text(&self, k: Key) -> String {
        match self.ids() {
            Some(ids) => k.text(ids),
            None => k.text(&Ids::default()),
        }
    }

    fn cmp(&self, a: Key, b: Key) -> Ordering {
        match self.ids() {
            Some(ids) => ids.cmp(a, b),
            None => a.cmp(&b),
        }
    }

    /// Every probed and declared instance, in the order the report lists them: by instance
    /// id (the file for a probe output naming none), as text.
    fn entries(&self) -> impl Iterator<Item = Entry<'_>> + '_ {
        let declared: &[DeclaredRec] = self.declared.as_ref().map_or(&[], |d| &d.recs);
        let has_declared = self.declared.is_some();
        let (mut o, mut d, mut a) = (0, 0, 0);
        std::iter::from_fn(move || {
            // The next id-keyed entry, without consuming it yet.
            let next_keyed = match (self.observed.get(o), declared.get(d)) {
                (None, None) => None,
                (Some(x), None) => Some((x.key, 0)),
                (None, Some(y)) => Some((y.key, 1)),
                (Some(x), Some(y)) => Some(match self.cmp(x.key, y.key) {
                    Ordering::Less => (x.key, 0),
                    Ordering::Equal => (x.key, 2),
                    Ordering::Greater => (y.key, 1),
                }),
            };
            if let Some((seen, file)) = self.anonymous.get(a) {
                let before =
                    next_keyed.is_none_or(|(k, _)| file.as_str() < self.key_text(k).as_str());
                if before {
                    a += 1;
                    return Some(Entry::Anonymous(seen, file));
                }
            }
            let (_, which) = next_keyed?;
            Some(match which {
                0 => {
                    o += 1;
                    Entry::Probed(&self.observed[o - 1], has_declared.then_some(None))
                }
                1 => {
                    d += 1;
                    Entry::NotProbed(&declared[d - 1])
                }
                _ => {
                    o += 1;
                    d += 1;
                    Entry::Probed(&self.observed[o - 1], Some(Some(&declared[d - 1])))
                }
            })
        })
    }

    fn instance_state(&self, d: &DeclaredRec) -> Option<String> {
        self.ids().and_then(|ids| ids.state_name(d.instance_state))
    }

    /// Counts one entry in `totals` and returns its row when it is worth one.
    fn row(&self, e: Entry<'_>, totals: &mut Totals) -> Option<Row> {
        match e {
            Entry::Probed(o, declared) => {
                let id = self.key_text(o.key);
                let file = self.files.path(o.file, &id);
                let declared = declared.map(|d| d.map(|d| (d, self.instance_state(d))));
                probe_row(id, &o.seen, &file, o.count, declared, totals)
            }
            Entry::Anonymous(seen, file) => probe_row(file.to_owned(), seen, file, 1, None, totals),
            Entry::NotProbed(d) => {
                totals.not_probed += 1;
                Some(Row {
                    instance_id: self.key_text(d.key),
                    status: Status::NotProbed,
                    hop_limited: false,
                    differences: Vec::new(),
                    options: option_pairs(Some(&d.options), None),
                    pending: d.state == Some(OptionsState::Pending),
                    instance_state: self.instance_state(d),
                    unknown_to_control_plane: false,
                    duplicates: 0,
                    file: None,
                })
            }
        }
    }
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
    pub fn unreadable(&mut self, e: &LoadError) {
        self.totals.unreadable += 1;
        self.unreadable.push(e.to_string());
    }

    /// Reads one file (at most [`MAX_FILE_BYTES`]); a bad file is recorded, never fatal.
    pub fn add_file(&mut self, path: &Path) {
        match read_capped(path, MAX_FILE_BYTES) {
            Ok(bytes) => self.add_bytes(path, &bytes),
            Err(m) => {
                self.totals.files += 1;
                self.unreadable(&whole_file(&path.display().to_string(), m));
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
                    let seen = Seen::of(&o);
                    match o.instance_id.or_else(|| from_path.clone()) {
                        Some(id) => {
                            let key = Key::packed(&id);
                            match key {
                                Some(key) => {
                                    let file = self.files.add(&name, &id);
                                    self.observed.push(ObservedRec {
                                        key,
                                        seen,
                                        file,
                                        count: 1,
                                    });
                                }
                                // Ids are checked by the reader: this does not happen.
                                None => self.anonymous.push((seen, name.clone())),
                            }
                        }
                        None => self.anonymous.push((seen, name.clone())),
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
                    self.unreadable(&whole_file(
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
                self.unreadable(&whole_file(
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
            mut observed,
            files,
            mut anonymous,
            cases,
            mut totals,
            unreadable,
        } = self;
        // One record per id: the last read, with how many were read.
        observed.sort_by_key(|r| r.key);
        let mut joined_observed: Vec<ObservedRec> = Vec::with_capacity(observed.len());
        for r in observed {
            match joined_observed.last_mut() {
                Some(last) if last.key == r.key => {
                    *last = ObservedRec {
                        count: last.count + 1,
                        ..r
                    }
                }
                _ => joined_observed.push(r),
            }
        }
        joined_observed.shrink_to_fit();
        anonymous.sort_by(|a, b| a.1.cmp(&b.1));
        let joined = Joined {
            declared,
            observed: joined_observed,
            files,
            anonymous,
        };
        totals.probed = joined.observed.len();
        totals.without_instance_id = joined.anonymous.len();
        let mut any_differs = false;
        for e in joined.entries() {
            if let Some(row) = joined.row(e, &mut totals)
                && row.differs()
            {
                totals.attention += 1;
                any_differs = true;
            }
        }
        totals.instances = totals.probed + totals.not_probed + totals.without_instance_id;
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
        let differs = any_differs || !cases.is_empty();
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
            declared: joined.declared.is_some(),
            totals,
            cases,
            unreadable,
            joined,
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
/// `None` without describe-instances output, `Some(None)` when the instance is not in it;
/// with the instance's state name.
fn probe_row(
    instance_id: String,
    o: &Seen,
    file: &str,
    count: u32,
    declared: Option<Option<(&DeclaredRec, Option<String>)>>,
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
    let options = option_pairs(
        declared
            .as_ref()
            .and_then(|d| d.as_ref())
            .map(|(d, _)| &d.options),
        Some(&o.options),
    );
    match declared {
        Some(Some((d, state))) => {
            pending = d.state == Some(OptionsState::Pending);
            instance_state = state;
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
