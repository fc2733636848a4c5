//! The shape of every crate stays acyclic: for each crate of the workspace, the modules of
//! `src/**/*.rs` and their `crate::…` references (`use` lines and paths in code, grouped
//! `use crate::{a, b::c}` too) form a graph that must have no cycle. A cycle fails the test
//! with the modules named in order.
//!
//! References from a file's trailing `#[cfg(test)]` section are left out (test fixtures may
//! reach anywhere), and so are comments. `lib.rs`/`main.rs` are the root, not a node: every
//! module may use what the root re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → `` (the root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts.join("::")
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` section.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        // A trailing comment: cut at `//` outside a string (good enough for this code base).
        let code = match line.find("//") {
            Some(i) if line[..i].matches('"').count() % 2 == 0 => &line[..i],
            _ => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every path written after `crate::`, as segment lists (groups expanded one level deep).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` in macros, or `foo_crate::` in another name.
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        out.extend(expand(rest, Vec::new()));
    }
    out
}

fn expand(s: &str, prefix: Vec<String>) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(group) = s.strip_prefix('{') {
        let mut depth = 0;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    items.push(&group[start..i]);
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&group[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return items
            .into_iter()
            .flat_map(|item| expand(item, prefix.clone()))
            .collect();
    }
    let name = ident(s);
    if name.is_empty() || name == "self" {
        return vec![prefix];
    }
    let mut path = prefix;
    path.push(name.to_owned());
    match s[name.len()..].strip_prefix("::") {
        Some(more) => expand(more, path),
        None => vec![path],
    }
}

/// Module graph of one crate: module → modules it refers to.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_of(src, file);
        if from.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let deps = g.entry(from.clone()).or_default();
        for path in crate_paths(&code_of(&text)) {
            // The longest prefix naming a module file is the target.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|m| modules.contains(m));
            if let Some(t) = target
                && t != from
                && !t.is_empty()
            {
                deps.insert(t);
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan), each in a cycle order.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(cycle_through(s.g, &component));
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One concrete cycle inside a component, starting at its first module (for the message).
fn cycle_through(g: &BTreeMap<String, BTreeSet<String>>, component: &[String]) -> Vec<String> {
    let inside: BTreeSet<&str> = component.iter().map(String::as_str).collect();
    let start = inside.iter().next().copied().unwrap_or_default();
    // Breadth-first from `start` back to `start`, inside the component.
    let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !inside.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![v.to_owned()];
                let mut at = v;
                while at != start {
                    at = prev[at];
                    path.push(at.to_owned());
                }
                path.reverse();
                path.push(start.to_owned());
                return path;
            }
            if !prev.contains_key(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    component.to_vec()
}

/// Modules that both reach `start` and are reached from it.
fn tangle_of<'a>(g: &'a BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<&'a str> {
    let reach = |from: &str, forward: bool| -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(v) = todo.pop() {
            let next: Vec<&'a str> = if forward {
                g.get(&v)
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect()
            } else {
                g.iter()
                    .filter(|(_, deps)| deps.contains(&v))
                    .map(|(k, _)| k.as_str())
                    .collect()
            };
            for w in next {
                if seen.insert(w) {
                    todo.push(w.to_owned());
                }
            }
        }
        seen
    };
    let fwd = reach(start, true);
    reach(start, false).intersection(&fwd).copied().collect()
}

fn crates() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(workspace().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src").is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

#[test]
fn no_crate_has_a_module_cycle() {
    let mut found = Vec::new();
    let all = crates();
    assert!(
        all.len() >= 5,
        "expected the workspace's crates, got {all:?}"
    );
    for (name, dir) in all {
        let g = graph(&dir.join("src"));
        for cycle in cycles(&g) {
            // The rest of the tangle, so one fix is not followed by a surprise.
            let tangle: BTreeSet<&str> = tangle_of(&g, &cycle[0]);
            let others: Vec<&str> = tangle
                .into_iter()
                .filter(|m| !cycle.iter().any(|c| c == m))
                .collect();
            let also = if others.is_empty() {
                String::new()
            } else {
                format!(" (same tangle: {})", others.join(", "))
            };
            found.push(format!("{name}: {}{also}", cycle.join(" → ")));
        }
    }
    assert!(
        found.is_empty(),
        "module cycles (split shared data into a module both can use):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_parser_sees_every_form_of_reference() {
    let code = code_of(
        "use crate::a::{B, c::D};\nuse crate::{e, f::G, self};\n// crate::h\nlet x = crate::i::J::new(); // crate::k\n$crate::l::m\n#[cfg(test)]\nuse crate::n;\n",
    );
    let firsts: BTreeSet<String> = crate_paths(&code)
        .into_iter()
        .filter_map(|p| p.first().cloned())
        .collect();
    let want: BTreeSet<String> = ["a", "e", "f", "i"].map(String::from).into();
    assert_eq!(firsts, want);
}

#[test]
fn a_cycle_is_found_and_named() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a", "d"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&g), [vec!["a", "b", "c", "a"]]);
    let tangle: Vec<&str> = tangle_of(&g, "a").into_iter().collect();
    assert_eq!(tangle, ["a", "b", "c"]);
    let mut acyclic = g.clone();
    acyclic.get_mut("c").unwrap().remove("a");
    assert!(cycles(&acyclic).is_empty());
}
