//! Keeps `conformance/SPEC.md` honest: every `§` cited in the tree exists, every rule is well
//! formed and names real cases, must-level cases rest on [H] rules that are not single-source
//! and name their newest evidence, rules resting on repositories alone do not grow in number,
//! `conformance/COVERAGE.md` matches what the spec and catalogue say, and nothing points
//! outside the repository. "Documented", "repository source" and "single-source" are defined in
//! SPEC §0.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use imds_conformance::{Catalogue, Level};
use regex::Regex;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// One `- **R…**` item of SPEC.md.
#[derive(Debug)]
struct Rule {
    id: String,
    /// The `## §…` section it sits in, without the `§`.
    section: String,
    /// `H`, `M` or `L`; empty when missing.
    tag: String,
    line: usize,
    why: bool,
    sources: Vec<String>,
    /// `None` when there is no `Cases:` line.
    cases: Option<Cases>,
    model: bool,
    /// The text after `Newest evidence:`, if the rule has that line.
    newest: Option<String>,
}

/// Hosts whose pages are AWS's own documentation (SPEC §0).
const AWS_DOC_HOSTS: [&str; 4] = [
    "docs.aws.amazon.com",
    "docs.amazonaws.cn",
    "aws.amazon.com",
    "repost.aws",
];

/// How many rules may rest on repository sources alone. Lower it when a rule gains AWS
/// documentation or goes away; never raise it (SPEC §0).
const REPOSITORY_ONLY_CEILING: usize = 40;

/// An undocumented rule backs must-level cases only with a record from this year or later.
const OLDEST_UNDOCUMENTED_MUST_YEAR: u32 = 2022;

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

fn is_aws_documentation(url: &str) -> bool {
    AWS_DOC_HOSTS.contains(&host(url))
}

/// The repository a non-documentation link points into: `github.com/owner/name`, or the host
/// and first path segment elsewhere.
fn repository(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut parts = rest.split('/').filter(|p| !p.is_empty());
    let host = parts.next().unwrap_or("");
    let depth = if host == "github.com" { 2 } else { 1 };
    std::iter::once(host)
        .chain(parts.take(depth))
        .collect::<Vec<_>>()
        .join("/")
}

impl Rule {
    fn documented(&self) -> bool {
        self.sources.iter().any(|u| is_aws_documentation(u))
    }

    /// Distinct repositories among the sources that are not AWS documentation.
    fn repositories(&self) -> BTreeSet<String> {
        self.sources
            .iter()
            .filter(|u| !is_aws_documentation(u))
            .map(|u| repository(u))
            .collect()
    }

    fn single_source(&self) -> bool {
        !self.documented() && self.repositories().len() <= 1
    }
}

#[derive(Debug)]
enum Cases {
    /// `Cases: none — reason`.
    None(String),
    /// Catalogue ids and `client:` scenario ids, in order.
    Ids(Vec<String>),
}

struct Spec {
    /// Section numbers of the `## §…` headings, without the `§`.
    sections: BTreeSet<String>,
    rules: Vec<Rule>,
}

fn parse_spec(text: &str) -> Spec {
    let heading = Regex::new(r"^## §(\d+(?:\.\d+)*)(?:\s|$)").unwrap();
    let rule_re = Regex::new(r"^- \*\*(R[\d.]+)\*\* (?:\[([HML])\] )?").unwrap();
    let link = Regex::new(r"<(https?://[^>\s]+)>").unwrap();
    let id_re = Regex::new(r"`([^`]+)`").unwrap();
    let mut sections = BTreeSet::new();
    let mut rules: Vec<Rule> = Vec::new();
    let mut section = String::new();
    let mut in_rule = false;
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = heading.captures(line) {
            section = c[1].to_owned();
            sections.insert(section.clone());
            in_rule = false;
        } else if let Some(c) = rule_re.captures(line) {
            rules.push(Rule {
                id: c[1].to_owned(),
                section: section.clone(),
                tag: c.get(2).map_or(String::new(), |m| m.as_str().to_owned()),
                line: i + 1,
                why: false,
                sources: Vec::new(),
                cases: None,
                model: false,
                newest: None,
            });
            in_rule = true;
        } else if in_rule && line.starts_with("  ") {
            let rule = rules.last_mut().unwrap();
            let field = line.trim_start();
            if let Some(rest) = field.strip_prefix("Why:") {
                rule.why = !rest.trim().is_empty();
            } else if let Some(rest) = field.strip_prefix("Sources:") {
                rule.sources = link.captures_iter(rest).map(|c| c[1].to_owned()).collect();
            } else if let Some(rest) = field.strip_prefix("Cases:") {
                let rest = rest.trim();
                rule.cases = Some(match rest.strip_prefix("none") {
                    Some(reason) => {
                        Cases::None(reason.trim_start_matches([' ', '—', '-']).trim().to_owned())
                    }
                    None => {
                        Cases::Ids(id_re.captures_iter(rest).map(|c| c[1].to_owned()).collect())
                    }
                });
            } else if let Some(rest) = field.strip_prefix("Model:") {
                rule.model = !rest.trim().is_empty();
            } else if let Some(rest) = field.strip_prefix("Newest evidence:") {
                rule.newest = Some(rest.trim().to_owned());
            }
        } else {
            in_rule = false;
        }
    }
    Spec { sections, rules }
}

fn spec() -> Spec {
    parse_spec(&read(&workspace().join("conformance/SPEC.md")))
}

fn catalogue() -> Catalogue {
    Catalogue::load(&workspace().join("conformance")).expect("the catalogue loads")
}

/// Client-check scenario ids and levels from `conformance/clients/*.toml`.
fn client_scenarios() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let dir = workspace().join("conformance/clients");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let doc: toml::Table =
            toml::from_str(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Some(list) = doc.get("scenario").and_then(|s| s.as_array()) else {
            continue;
        };
        for s in list {
            let id = s.get("id").and_then(|v| v.as_str());
            let level = s.get("level").and_then(|v| v.as_str());
            if let (Some(id), Some(level)) = (id, level) {
                out.insert(id.to_owned(), level.to_owned());
            }
        }
    }
    assert!(
        !out.is_empty(),
        "no client scenarios under {}",
        dir.display()
    );
    out
}

/// Every case listed by some rule: id → level (`None` for an unknown id).
fn level_of(
    id: &str,
    cases: &BTreeMap<String, Level>,
    clients: &BTreeMap<String, String>,
) -> Option<String> {
    match id.strip_prefix("client:") {
        Some(c) => clients.get(c).cloned(),
        None => cases.get(id).map(|l| l.to_string()),
    }
}

fn case_levels(catalogue: &Catalogue) -> BTreeMap<String, Level> {
    catalogue
        .cases
        .iter()
        .map(|c| (c.id.clone(), c.level))
        .collect()
}

/// Files whose `§` citations must resolve, with the lines to read in each.
fn citing_files() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = Vec::new();
    walk(&root.join("conformance"), &mut files);
    files.push(root.join("README.md"));
    files.push(root.join("fuzz/README.md"));
    let mut rust = Vec::new();
    walk(&root.join("crates"), &mut rust);
    for f in rust {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let crate_readme =
            name == "README.md" && f.parent().and_then(Path::parent) == Some(&root.join("crates"));
        if name.ends_with(".rs") || crate_readme {
            files.push(f);
        }
    }
    files
}

/// Every file under `dir`, skipping build output, git data and fuzzing artefacts.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let root = workspace();
    let skip = [
        "target",
        ".git",
        "fuzz/target",
        "fuzz/corpus",
        "fuzz/artifacts",
    ]
    .map(|s| root.join(s));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if skip.contains(&path) || path.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_cited_section_exists() {
    let spec = spec();
    let cite = Regex::new(r"§(\d+(?:\.\d+)*)").unwrap();
    let root = workspace();
    let mut missing = Vec::new();
    let mut seen = 0;
    for file in citing_files() {
        let Ok(text) = fs::read_to_string(&file) else {
            continue; // binary files under conformance/ cite nothing
        };
        let rust = file.extension().is_some_and(|e| e == "rs");
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start();
            if rust && !(t.starts_with("///") || t.starts_with("//!")) {
                continue;
            }
            for c in cite.captures_iter(line) {
                seen += 1;
                let n = &c[1];
                let prefix = format!("{n}.");
                if !spec.sections.contains(n)
                    && !spec.sections.iter().any(|s| s.starts_with(&prefix))
                {
                    let rel = file.strip_prefix(&root).unwrap_or(&file);
                    missing.push(format!("{}:{}: §{n}", rel.display(), i + 1));
                }
            }
        }
    }
    assert!(
        seen > 100,
        "only {seen} citations found: is the walk broken?"
    );
    assert!(
        missing.is_empty(),
        "citations with no `## §` heading in conformance/SPEC.md:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_parser_reads_rules_and_sections() {
    let spec = parse_spec(
        "## §2.1 T\n\n- **R2.1.1** [H] A rule.\n  Why: because.\n  Sources: <https://a.example/x>, <https://b.example/y>\n  Newest evidence: 2024-08, a log.\n  Cases: `a.b`, `client:c.d`\n\n## §3 X\n\n- **R3.1** [L] B.\n  Why: w.\n  Sources: none\n  Cases: none — not observable\n",
    );
    assert_eq!(
        spec.sections,
        BTreeSet::from(["2.1".to_owned(), "3".to_owned()])
    );
    assert_eq!(spec.rules.len(), 2);
    let r = &spec.rules[0];
    assert_eq!(
        (r.id.as_str(), r.section.as_str(), r.tag.as_str()),
        ("R2.1.1", "2.1", "H")
    );
    assert_eq!(r.sources.len(), 2);
    assert!(matches!(&r.cases, Some(Cases::Ids(ids)) if ids == &["a.b", "client:c.d"]));
    assert_eq!(r.newest.as_deref(), Some("2024-08, a log."));
    let r = &spec.rules[1];
    assert_eq!(r.newest, None);
    assert!(r.sources.is_empty());
    assert!(matches!(&r.cases, Some(Cases::None(reason)) if reason == "not observable"));
}

#[test]
fn every_rule_is_well_formed() {
    let spec = spec();
    assert!(
        spec.rules.len() > 50,
        "only {} rules parsed",
        spec.rules.len()
    );
    let catalogue = catalogue();
    let cases = case_levels(&catalogue);
    let clients = client_scenarios();
    let mut faults = Vec::new();
    let mut ids = BTreeSet::new();
    for r in &spec.rules {
        let at = format!("SPEC.md:{} {}", r.line, r.id);
        if !ids.insert(r.id.clone()) {
            faults.push(format!("{at}: the id is used twice"));
        }
        let parent = r.id[1..].rsplit_once('.').map_or("", |(p, _)| p);
        if parent != r.section {
            faults.push(format!(
                "{at}: sits in §{} but its id says §{parent}",
                r.section
            ));
        }
        if r.tag.is_empty() {
            faults.push(format!("{at}: no [H]/[M]/[L] tag"));
        }
        if !r.why {
            faults.push(format!("{at}: no `Why:` line"));
        }
        if r.sources.is_empty() {
            faults.push(format!("{at}: `Sources:` has no <https://…> link"));
        }
        if (r.tag == "M" || r.tag == "L") && !r.model {
            faults.push(format!("{at}: an [{}] rule needs a `Model:` line", r.tag));
        }
        match &r.cases {
            None => faults.push(format!("{at}: no `Cases:` line")),
            Some(Cases::None(reason)) if reason.is_empty() => {
                faults.push(format!("{at}: `Cases: none` needs a reason"))
            }
            Some(Cases::None(_)) => {}
            Some(Cases::Ids(list)) if list.is_empty() => {
                faults.push(format!("{at}: `Cases:` lists no `id`"))
            }
            Some(Cases::Ids(list)) => {
                for id in list {
                    if level_of(id, &cases, &clients).is_none() {
                        faults.push(format!(
                            "{at}: lists `{id}`, which is neither a case in conformance/cases/ nor a scenario in conformance/clients/ (planned by another branch but missing here?)"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        faults.is_empty(),
        "{} malformed rule(s):\n{}",
        faults.len(),
        faults.join("\n")
    );
}

#[test]
fn must_cases_rest_on_h_rules_and_h_rules_have_must_cases() {
    let spec = spec();
    let catalogue = catalogue();
    let cases = case_levels(&catalogue);
    let clients = client_scenarios();
    let mut faults = Vec::new();
    let mut backed: BTreeSet<&str> = BTreeSet::new();
    for r in spec.rules.iter().filter(|r| r.tag == "H") {
        match &r.cases {
            Some(Cases::Ids(list)) => {
                let must = list
                    .iter()
                    .filter(|id| level_of(id, &cases, &clients).as_deref() == Some("must"));
                if must.count() == 0 {
                    faults.push(format!(
                        "[H] rule {} lists no must-level case (nor `Cases: none — reason`): {}",
                        r.id,
                        list.join(", ")
                    ));
                }
                if !r.sources.is_empty() {
                    backed.extend(list.iter().map(String::as_str));
                }
            }
            Some(Cases::None(_)) => {}
            None => faults.push(format!("[H] rule {} has no `Cases:` line", r.id)),
        }
    }
    for (id, level) in &cases {
        if *level == Level::Must && !backed.contains(id.as_str()) {
            let weaker: Vec<String> = spec
                .rules
                .iter()
                .filter(|r| matches!(&r.cases, Some(Cases::Ids(l)) if l.contains(id)))
                .map(|r| format!("[{}] {}", r.tag, r.id))
                .collect();
            let hint = if weaker.is_empty() {
                "no rule lists it".to_owned()
            } else {
                format!(
                    "only {} list it: re-grade the case or back it with an [H] rule",
                    weaker.join(", ")
                )
            };
            faults.push(format!(
                "must-level case {id} is listed under no [H] rule with sources ({hint})"
            ));
        }
    }
    assert!(
        faults.is_empty(),
        "{} fault(s):\n{}",
        faults.len(),
        faults.join("\n")
    );
}

/// `conformance/COVERAGE.md`, generated from SPEC.md and the catalogue.
fn coverage(
    spec: &Spec,
    cases: &BTreeMap<String, Level>,
    clients: &BTreeMap<String, String>,
) -> String {
    let mut out = String::from(
        "<!-- Generated by crates/imds-conformance/tests/spec.rs from conformance/SPEC.md and the\n     \
         case catalogue. Do not edit: IMDSPEC_BLESS=1 cargo test -p imds-conformance --test spec -->\n\n\
         # Coverage of conformance/SPEC.md\n\n## Rules\n\n| rule | tag | sources | cases |\n|---|---|---:|---|\n",
    );
    let mut rules_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &spec.rules {
        let listed = match &r.cases {
            Some(Cases::Ids(list)) => list
                .iter()
                .map(|id| {
                    rules_of.entry(id).or_default().push(&r.id);
                    let level = level_of(id, cases, clients).unwrap_or_else(|| "missing".into());
                    format!("`{id}` ({level})")
                })
                .collect::<Vec<_>>()
                .join(", "),
            Some(Cases::None(reason)) => format!("none — {reason}"),
            None => "(no Cases line)".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {listed} |\n",
            r.id,
            r.tag,
            r.sources.len()
        ));
    }
    out.push_str("\n## Must-level cases\n\n| case | rules |\n|---|---|\n");
    for (id, level) in cases {
        if *level == Level::Must {
            let rules = rules_of
                .get(id.as_str())
                .map_or("**none**".into(), |r| r.join(", "));
            out.push_str(&format!("| `{id}` | {rules} |\n"));
        }
    }
    out.push_str("\n## Cases no rule lists\n\n");
    let unlisted: Vec<String> = cases
        .iter()
        .filter(|(id, _)| !rules_of.contains_key(id.as_str()))
        .map(|(id, level)| format!("- `{id}` ({level})\n"))
        .collect();
    if unlisted.is_empty() {
        out.push_str("None.\n");
    } else {
        out.extend(unlisted);
    }
    out
}

#[test]
fn committed_coverage_table_matches() {
    let spec = spec();
    let catalogue = catalogue();
    let now = coverage(&spec, &case_levels(&catalogue), &client_scenarios());
    let file = workspace().join("conformance/COVERAGE.md");
    if std::env::var_os("IMDSPEC_BLESS").is_some_and(|v| v == "1") {
        fs::write(&file, &now).unwrap();
        return;
    }
    let committed = fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == now,
        "conformance/COVERAGE.md is stale (IMDSPEC_BLESS=1 cargo test -p imds-conformance --test spec to rewrite it):\n--- committed\n{committed}\n+++ now\n{now}"
    );
}

#[test]
fn nothing_points_outside_the_repository() {
    // Built at run time so that this file does not match itself.
    let needles = [
        ["..", "/shared"].concat(),
        ["imds-", "behaviour.md"].concat(),
        ["toolchain", ".md"].concat(),
        ["peers", ".md"].concat(),
    ];
    let root = workspace();
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(files.len() > 50, "only {} files walked", files.len());
    let mut hits = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for n in &needles {
                if line.contains(n.as_str()) {
                    let rel = file.strip_prefix(&root).unwrap_or(&file);
                    hits.push(format!("{}:{}: {n}", rel.display(), i + 1));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "references to files outside the repository:\n{}",
        hits.join("\n")
    );
}

#[test]
fn captures_index_lists_every_capture_file() {
    let text = read(&workspace().join("conformance/SPEC.md"));
    let start = text
        .find("## §14 ")
        .expect("SPEC.md has a §14 section indexing the captures");
    let section = &text[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |i| i + 3);
    let row = Regex::new(r"(?m)^\| `([^`]+\.toml)` \|").unwrap();
    let indexed: BTreeSet<String> = row
        .captures_iter(&section[..end])
        .map(|c| c[1].to_owned())
        .collect();
    let on_disk: BTreeSet<String> = fs::read_dir(workspace().join("conformance/captures"))
        .expect("conformance/captures exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    assert!(!on_disk.is_empty(), "no capture files found");
    let missing: Vec<_> = on_disk.difference(&indexed).collect();
    let stale: Vec<_> = indexed.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "SPEC.md §14 and conformance/captures/ disagree: not indexed {missing:?}; indexed but absent {stale:?}"
    );
}

/// Must-level catalogue cases and the [H] rules with sources that list each.
fn must_case_backers<'a>(
    spec: &'a Spec,
    cases: &BTreeMap<String, Level>,
) -> BTreeMap<String, Vec<&'a Rule>> {
    let mut out: BTreeMap<String, Vec<&Rule>> = cases
        .iter()
        .filter(|(_, l)| **l == Level::Must)
        .map(|(id, _)| (id.clone(), Vec::new()))
        .collect();
    for r in spec
        .rules
        .iter()
        .filter(|r| r.tag == "H" && !r.sources.is_empty())
    {
        if let Some(Cases::Ids(list)) = &r.cases {
            for id in list {
                if let Some(backers) = out.get_mut(id) {
                    backers.push(r);
                }
            }
        }
    }
    out
}

#[test]
fn sources_are_classified_as_spec_section_0_says() {
    let rule = |sources: &[&str]| Rule {
        id: "R0.1".into(),
        section: "0".into(),
        tag: "H".into(),
        line: 1,
        why: true,
        sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        cases: None,
        model: false,
        newest: None,
    };
    let doc = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/x.html";
    let a1 = "https://github.com/owner/a/issues/1";
    let a2 = "https://github.com/owner/a/pull/2";
    let b = "https://github.com/owner/b/blob/main/x.rs";
    assert!(rule(&[doc]).documented() && !rule(&[doc]).single_source());
    assert!(rule(&[a1]).single_source());
    assert!(
        rule(&[a1, a2]).single_source(),
        "two links into one repository are one source"
    );
    assert!(!rule(&[a1, b]).single_source());
    assert!(!rule(&[a1, doc]).single_source());
    assert!(!rule(&["https://docs.aws.amazon.com.evil.example/x"]).documented());
    assert_eq!(
        repository("https://sources.debian.org/src/pkg/1.0/x.go/"),
        "sources.debian.org/src"
    );
}

#[test]
fn no_must_case_rests_only_on_single_source_rules() {
    let spec = spec();
    let cases = case_levels(&catalogue());
    let backers = must_case_backers(&spec, &cases);
    assert!(
        backers.len() > 50,
        "only {} must-level cases found",
        backers.len()
    );
    let faults: Vec<String> = backers
        .iter()
        .filter(|(_, rules)| !rules.is_empty() && rules.iter().all(|r| r.single_source()))
        .map(|(id, rules)| {
            let named: Vec<String> = rules
                .iter()
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.id,
                        r.repositories().into_iter().collect::<Vec<_>>().join(", ")
                    )
                })
                .collect();
            format!(
                "{id}: backed only by single-source rules {}",
                named.join("; ")
            )
        })
        .collect();
    assert!(
        faults.is_empty(),
        "must-level cases that rest on one source (find a second, independent source or AWS documentation, or re-grade the case to should; SPEC §0):\n{}",
        faults.join("\n")
    );
}

#[test]
fn rules_that_back_must_cases_name_their_newest_evidence() {
    let spec = spec();
    let cases = case_levels(&catalogue());
    let backing: BTreeSet<&str> = must_case_backers(&spec, &cases)
        .values()
        .flatten()
        .map(|r| r.id.as_str())
        .collect();
    let form = Regex::new(r"^(?:documented\b|(\d{4})-(0[1-9]|1[0-2])\b)").unwrap();
    let mut faults = Vec::new();
    for r in &spec.rules {
        let at = format!("SPEC.md:{} {}", r.line, r.id);
        let must = backing.contains(r.id.as_str());
        match &r.newest {
            None if must => faults.push(format!(
                "{at}: backs a must-level case but has no `Newest evidence:` line"
            )),
            None => {}
            Some(text) => match form.captures(text) {
                None => faults.push(format!(
                    "{at}: `Newest evidence: {text}` is neither `documented` nor `YYYY-MM, …`"
                )),
                Some(c) => {
                    if must && c.get(1).is_none() && !r.documented() {
                        faults.push(format!(
                            "{at}: says `documented` but cites no AWS documentation"
                        ));
                    }
                    let year: Option<u32> = c.get(1).and_then(|y| y.as_str().parse().ok());
                    if must
                        && !r.documented()
                        && year.is_some_and(|y| y < OLDEST_UNDOCUMENTED_MUST_YEAR)
                    {
                        faults.push(format!(
                            "{at}: not documented and its newest evidence ({text}) predates {OLDEST_UNDOCUMENTED_MUST_YEAR}: find a newer record or re-grade its must cases to should"
                        ));
                    }
                }
            },
        }
    }
    assert!(
        backing.len() > 30,
        "only {} rules back must-level cases",
        backing.len()
    );
    assert!(
        faults.is_empty(),
        "{} fault(s):\n{}",
        faults.len(),
        faults.join("\n")
    );
}

#[test]
fn rules_resting_on_repositories_alone_do_not_grow() {
    let spec = spec();
    let listed: Vec<String> = spec
        .rules
        .iter()
        .filter(|r| !r.sources.is_empty() && !r.documented())
        .map(|r| {
            format!(
                "{} [{}]: {}",
                r.id,
                r.tag,
                r.repositories().into_iter().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    assert!(
        listed.len() <= REPOSITORY_ONLY_CEILING,
        "{} rules rest on repository sources alone, over the ceiling of {REPOSITORY_ONLY_CEILING}: back the new ones with AWS documentation (SPEC §0):\n{}",
        listed.len(),
        listed.join("\n")
    );
    assert!(
        listed.len() == REPOSITORY_ONLY_CEILING,
        "only {} rules rest on repository sources alone now: lower REPOSITORY_ONLY_CEILING in {} to {} so the count cannot grow back:\n{}",
        listed.len(),
        file!(),
        listed.len(),
        listed.join("\n")
    );
}
