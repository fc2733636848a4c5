//! Keeps `conformance/SPEC.md` honest: every `§` cited in the tree exists, every rule is well
//! formed and names real cases, must-level cases rest on [H] rules, `conformance/COVERAGE.md`
//! matches what the spec and catalogue say, and nothing points outside the repository.

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
        "## §2.1 T\n\n- **R2.1.1** [H] A rule.\n  Why: because.\n  Sources: <https://a.example/x>, <https://b.example/y>\n  Cases: `a.b`, `client:c.d`\n\n## §3 X\n\n- **R3.1** [L] B.\n  Why: w.\n  Sources: none\n  Cases: none — not observable\n",
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
    let r = &spec.rules[1];
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
