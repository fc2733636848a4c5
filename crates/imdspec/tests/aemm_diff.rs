//! The differential test: the same AEMM command lines, environment and config file run against
//! the real amazon-ec2-metadata-mock (v1.13.0, `conformance/clients/install.sh aemm`) and
//! against `imdspec aemm`; every path of either tree (listings included) is requested from both,
//! without and with a token, and status, Content-Type and body (times replaced by `<time>`)
//! are compared. The differences are written as `conformance/aemm/DIFFERENCES.md`, which must
//! equal the committed file (`IMDSPEC_BLESS=1` rewrites it). Every row must be kept on purpose:
//! matched by an entry of `conformance/aemm/JUSTIFIED.toml` (EC2 rule, reason, flag), and
//! every entry must match a row. Under `CI=true` a missing AEMM fails the test; elsewhere it
//! says why it did not run. Loopback only.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use common::{aemm_binary, installed, root, start_aemm_like};

const IMDSPEC: &str = env!("CARGO_BIN_EXE_imdspec");

/// A config file for `-c` with metadata and user-data overrides (AEMM wants user data in
/// base64: plain text makes it panic at start), and a spot action.
const CONFIG: &str = r#"{
  "metadata": { "values": { "instance-id": "i-0aaaabbbbccccdddd", "instance-type": "t3.micro" } },
  "userdata": { "values": { "userdata": "aGVsbG8gZnJvbSB0aGUgY29uZmlnIGZpbGU=" } },
  "spot": { "action": "terminate" }
}
"#;

/// One AEMM invocation: name, arguments (`{config}` is the config file), environment, and
/// imdspec-only flags added on imdspec's side.
type Setup = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

const SETUPS: &[Setup] = &[
    ("default", &[], &[], &[]),
    ("spot", &["spot"], &[], &[]),
    ("events", &["events"], &[], &[]),
    ("asglifecycle", &["asglifecycle"], &[], &[]),
    ("imdsv2", &["--imdsv2"], &[], &[]),
    // The flag README's migration table gives for the one kept difference.
    (
        "imdsv2, imdspec with --imdsv2-open-listings",
        &["--imdsv2"],
        &[],
        &["--imdsv2-open-listings"],
    ),
    ("config file", &["-c", "{config}"], &[], &[]),
    // Timing and audience: notices not yet due, or not for this client.
    (
        "spot, --mock-delay-sec 3600",
        &["spot", "--mock-delay-sec", "3600"],
        &[],
        &[],
    ),
    (
        "events, --mock-trigger-time 2099",
        &["events", "--mock-trigger-time", "2099-01-01T00:00:00Z"],
        &[],
        &[],
    ),
    ("spot, --mock-ip-count 0", &["spot", "-x", "0"], &[], &[]),
    (
        "asglifecycle, --asg-termination-delay-sec 3600",
        &["asglifecycle", "--asg-termination-delay-sec", "3600"],
        &[],
        &[],
    ),
    // Precedence: the flag (hibernate) over the variable (stop) over the file (terminate).
    (
        "spot, flag over env over file",
        &["spot", "-c", "{config}", "-a", "hibernate"],
        &[("AEMM_SPOT_ACTION", "stop")],
        &[],
    ),
    (
        "spot, env over file",
        &["spot", "-c", "{config}"],
        &[("AEMM_SPOT_ACTION", "stop")],
        &[],
    ),
];

/// One kept difference of `conformance/aemm/JUSTIFIED.toml`.
#[derive(Debug)]
struct Justified {
    setup: String,
    token: String,
    request: regex::Regex,
    ours: u16,
}

fn justified(root: &Path) -> Vec<Justified> {
    let file = root.join("conformance/aemm/JUSTIFIED.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap();
    doc["difference"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let field = |k: &str| {
                d.get(k)
                    .and_then(toml::Value::as_str)
                    .unwrap_or_else(|| panic!("{}: difference {i}: no `{k}`", file.display()))
                    .to_owned()
            };
            for k in ["reason", "flag"] {
                assert!(!field(k).trim().is_empty(), "difference {i}: empty `{k}`");
            }
            let rules = d.get("rules").and_then(toml::Value::as_array);
            assert!(
                rules.is_some_and(|r| !r.is_empty()),
                "{}: difference {i} names no SPEC.md rule",
                file.display()
            );
            Justified {
                setup: field("setup"),
                token: field("token"),
                request: regex::Regex::new(&field("request")).unwrap(),
                ours: d
                    .get("ours")
                    .and_then(toml::Value::as_integer)
                    .and_then(|n| u16::try_from(n).ok())
                    .unwrap_or_else(|| panic!("difference {i}: no `ours` status")),
            }
        })
        .collect()
}

/// Where crawling starts, besides what the listings name.
const SEEDS: &[&str] = &[
    "/",
    "/latest",
    "/latest/",
    "/latest/meta-data/",
    "/latest/dynamic/",
    "/latest/user-data",
];

/// One answer: status, Content-Type, body.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// One HTTP/1.0 request (so neither server chunks the body), read to the end (5 s cap).
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut raw = format!("{method} {path} HTTP/1.0\r\nHost: 169.254.169.254\r\n");
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    s.write_all(raw.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: body.to_owned(),
    }
}

fn token(port: u16) -> Option<String> {
    let a = request(
        port,
        "PUT",
        "/latest/api/token",
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
    );
    (a.status == 200).then_some(a.body)
}

/// Every path reachable from the seeds through 200 listings (bounded: 2,000 paths).
fn crawl(port: u16, token: Option<&str>) -> BTreeSet<String> {
    let headers: Vec<(&str, &str)> = token
        .map(|t| ("X-aws-ec2-metadata-token", t))
        .into_iter()
        .collect();
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = SEEDS.iter().map(|s| (*s).to_owned()).collect();
    while let Some(path) = todo.pop() {
        if seen.len() >= 2000 || !seen.insert(path.clone()) {
            continue;
        }
        if !path.ends_with('/') {
            continue;
        }
        let a = request(port, "GET", &path, &headers);
        if a.status != 200 || a.body.trim_start().starts_with(['<', '{', '[']) {
            continue;
        }
        for line in a.body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            // public-keys/ lists `0=name`; the child is `0/`.
            let name = match line.split_once('=') {
                Some((index, _)) if path.ends_with("public-keys/") => format!("{index}/"),
                _ => line.to_owned(),
            };
            todo.push(format!("{path}{name}"));
        }
    }
    seen
}

/// Times differ from run to run; everything else must not.
fn normalize(body: &str) -> String {
    let rfc3339 = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    let http_date = regex::Regex::new(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT").unwrap();
    let body = rfc3339.replace_all(body, "<time>");
    http_date.replace_all(&body, "<time>").into_owned()
}

/// A table cell: status, Content-Type, the body's first 60 characters (escaped).
fn cell(a: &Answer, body: &str) -> String {
    let mut shown: String = body
        .chars()
        .take(60)
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('|', "\\|")
        .replace('`', "'");
    if body.chars().count() > 60 {
        shown.push('…');
    }
    let ct = if a.content_type.is_empty() {
        "-"
    } else {
        &a.content_type
    };
    format!("{} {} `{}`", a.status, ct, shown)
}

#[test]
fn imdspec_aemm_answers_as_the_real_aemm_does_or_differences_md_says_why_not() {
    let root = root();
    let aemm = aemm_binary(&root);
    if !installed(&aemm, "aemm") {
        return;
    }
    let scratch = std::env::temp_dir().join(format!("imdspec-aemm-diff-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let config = scratch.join("aemm-config.json");
    std::fs::write(&config, CONFIG).unwrap();
    let mut out = String::from(
        "# `imdspec aemm` next to the real amazon-ec2-metadata-mock\n\n\
         Written by `crates/imdspec/tests/aemm_diff.rs` (`IMDSPEC_BLESS=1` rewrites it; the \
         test fails when a fresh run differs). Each setup runs AEMM v1.13.0 and `imdspec aemm` \
         with the same arguments, `AEMM_*` variables and config file, on 127.0.0.1; every path \
         either tree lists is requested from both without and with a token (each server's own). \
         A row is a request whose status, Content-Type or body (times shown as `<time>`) \
         differ (token `either` when both ways differ alike); cells show status, Content-Type \
         and the body's start. Every row left is kept on purpose: conformance/aemm/JUSTIFIED.toml \
         gives the EC2 rule and the flag that gives AEMM's answer (README.md, \"imdspec aemm: \
         migrating from amazon-ec2-metadata-mock\").\n",
    );
    let allowed = justified(&root);
    let mut used = vec![false; allowed.len()];
    let mut unjustified = Vec::new();
    for (name, args, env, ours_only) in SETUPS {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{config}", &config.to_string_lossy()))
            .collect();
        let home_a = scratch.join(format!("{name}-aemm"));
        let home_b = scratch.join(format!("{name}-imdspec"));
        std::fs::create_dir_all(&home_a).unwrap();
        std::fs::create_dir_all(&home_b).unwrap();
        let (_real, a_port) = start_aemm_like(&aemm, &[], &args, env, &home_a);
        let ours_args: Vec<String> = args
            .iter()
            .cloned()
            .chain(ours_only.iter().map(|a| (*a).to_owned()))
            .collect();
        let (_ours, b_port) =
            start_aemm_like(Path::new(IMDSPEC), &["aemm"], &ours_args, env, &home_b);
        let a_token = token(a_port);
        let b_token = token(b_port);
        let mut paths = crawl(a_port, a_token.as_deref());
        paths.extend(crawl(b_port, b_token.as_deref()));
        assert!(
            paths.len() > 50,
            "{name}: the crawl found only {} paths",
            paths.len()
        );
        let mut rows: BTreeMap<(String, &str), (String, String)> = BTreeMap::new();
        let put_a = request(
            a_port,
            "PUT",
            "/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        );
        let put_b = request(
            b_port,
            "PUT",
            "/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        );
        if (put_a.status, &put_a.content_type) != (put_b.status, &put_b.content_type) {
            rows.insert(
                ("PUT /latest/api/token".into(), "-"),
                (cell(&put_a, "<token>"), cell(&put_b, "<token>")),
            );
        }
        for path in &paths {
            for (with_token, label) in [(false, "no"), (true, "yes")] {
                let header = |t: &Option<String>| -> Vec<(&str, String)> {
                    match (with_token, t) {
                        (true, Some(t)) => vec![("X-aws-ec2-metadata-token", t.clone())],
                        _ => vec![],
                    }
                };
                let ha = header(&a_token);
                let hb = header(&b_token);
                let ha: Vec<(&str, &str)> = ha.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let hb: Vec<(&str, &str)> = hb.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let a = request(a_port, "GET", path, &ha);
                let b = request(b_port, "GET", path, &hb);
                let (na, nb) = (normalize(&a.body), normalize(&b.body));
                if a.status != b.status || a.content_type != b.content_type || na != nb {
                    let request = format!("GET {path}");
                    let why = allowed.iter().position(|j| {
                        j.setup == *name
                            && (j.token == "any" || j.token == label)
                            && j.request.is_match(&request)
                            && j.ours == b.status
                    });
                    match why {
                        Some(i) => used[i] = true,
                        None => unjustified.push(format!("{name}: {request} (token: {label})")),
                    }
                    rows.insert(
                        (format!("GET {path}"), label),
                        (cell(&a, &na), cell(&b, &nb)),
                    );
                }
            }
        }
        let shown_args = if args.is_empty() {
            "(none)".to_owned()
        } else {
            args.iter()
                .map(|a| {
                    if a.ends_with("aemm-config.json") {
                        "aemm-config.json"
                    } else {
                        a
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let shown_env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!(
            "\n## {name}\n\narguments: `{shown_args}`{}{}; {} paths compared, {} answers differ\n\n",
            if shown_env.is_empty() {
                String::new()
            } else {
                format!("; environment: `{}`", shown_env.join(" "))
            },
            if ours_only.is_empty() {
                String::new()
            } else {
                format!("; imdspec aemm also given `{}`", ours_only.join(" "))
            },
            paths.len(),
            rows.len()
        ));
        if !rows.is_empty() {
            out.push_str("| request | token | AEMM v1.13.0 | imdspec aemm |\n|---|---|---|---|\n");
            for ((req, label), (a, b)) in &rows {
                // One row when the answer does not depend on the token.
                let other = if *label == "no" { "yes" } else { "no" };
                let same = rows.get(&(req.clone(), other)) == Some(&(a.clone(), b.clone()));
                match (same, *label) {
                    (true, "yes") => continue,
                    (true, _) => out.push_str(&format!("| `{req}` | either | {a} | {b} |\n")),
                    _ => out.push_str(&format!("| `{req}` | {label} | {a} | {b} |\n")),
                }
            }
        }
    }
    if !CONFIG.is_empty() {
        out.push_str(&format!(
            "\nThe config file of the setups that use one:\n\n```json\n{CONFIG}```\n"
        ));
    }
    std::fs::remove_dir_all(&scratch).unwrap();
    let file = root.join("conformance/aemm/DIFFERENCES.md");
    if std::env::var_os("IMDSPEC_BLESS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &out).unwrap();
    }
    assert!(
        unjustified.is_empty(),
        "imdspec aemm answers otherwise than AEMM where conformance/aemm/JUSTIFIED.toml keeps no \
         difference: make imdspec aemm answer as AEMM does, or justify it there (EC2 rule, flag) \
         and in README's migration table: {unjustified:#?}"
    );
    let stale: Vec<&Justified> = allowed
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(j, _)| j)
        .collect();
    assert!(
        stale.is_empty(),
        "entries of conformance/aemm/JUSTIFIED.toml that no difference matches any more: {stale:#?}"
    );
    if std::env::var_os("IMDSPEC_BLESS").is_some() {
        return;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == out,
        "imdspec aemm and the real AEMM differ otherwise than {} says (IMDSPEC_BLESS=1 rewrites \
         it after a review); fresh run:\n{out}",
        file.display()
    );
}
