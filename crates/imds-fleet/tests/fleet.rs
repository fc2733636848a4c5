//! Fleet reports on generated fleets (every kind of instance, every probe format, Run
//! Command's S3 layout), on real probe outputs of the reference server, and on malformed,
//! truncated and oversized files.

use std::path::{Path, PathBuf};
use std::time::Duration;

use imds_fleet::read::{self, Doc, V1};
use imds_fleet::render::{self, Format};
use imds_fleet::synth::{self, KINDS, Kind};
use imds_fleet::{Declared, Fleet, Status};
use imds_model::{HttpTokens, MetadataOptions, Toggle};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("imds-fleet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// How many of `0..n` are of kind `k`.
fn count(n: usize, k: Kind) -> usize {
    (0..n).filter(|&i| synth::kind(i) == k).count()
}

#[test]
fn ten_thousand_instances_with_every_kind_of_difference() {
    const N: usize = 10_000;
    let declared = Declared::parse("declared.json", &synth::describe_instances(N)).unwrap();
    assert_eq!(declared.len(), N - count(N, Kind::UnknownToControlPlane));
    let mut fleet = Fleet::new(Some(declared));
    // Bytes under their S3 keys: the same reading as from disk, without 10,000 files (the
    // walk itself is tested on a smaller fleet below).
    let mut files = 0;
    for (key, text) in synth::files(N) {
        fleet.add_bytes(Path::new(&key), text.as_bytes());
        files += 1;
    }
    let r = fleet.finish();
    let t = r.totals;
    let c = |k| count(N, k);
    assert_eq!(t.files, files);
    assert_eq!(t.unreadable, 0, "{:?}", r.unreadable);
    assert_eq!(t.instances, N);
    assert_eq!(t.not_probed, c(Kind::NotProbed) + c(Kind::StoppedNotProbed));
    assert_eq!(t.probed, N - t.not_probed);
    assert_eq!(
        t.imdsv1_open,
        c(Kind::OpenAsDeclared) + c(Kind::OpenButRequired) + c(Kind::PendingChange)
    );
    assert_eq!(
        t.imdsv2_required,
        c(Kind::RequiredAsDeclared)
            + c(Kind::HopLimited)
            + c(Kind::TagsDiffer)
            + c(Kind::UnknownToControlPlane)
            + c(Kind::Duplicate)
    );
    assert_eq!(t.endpoint_off, c(Kind::EndpointOff));
    assert_eq!(t.no_answer, c(Kind::NoAnswer));
    assert_eq!(t.hop_limited, c(Kind::HopLimited));
    assert_eq!(t.unknown_to_control_plane, c(Kind::UnknownToControlPlane));
    assert_eq!(
        t.differ,
        c(Kind::OpenButRequired) + c(Kind::PendingChange) + c(Kind::TagsDiffer)
    );
    assert_eq!(t.pending, c(Kind::PendingChange));
    assert_eq!(r.exit_code(), 1);

    // Each kind lands as it should, whatever format its probe output had.
    for i in 0..KINDS.len() * 5 {
        let id = synth::instance_id(i);
        let row = r.instances().find(|x| x.instance_id == id);
        match synth::kind(i) {
            Kind::RequiredAsDeclared => assert!(row.is_none(), "{id} is fine"),
            Kind::OpenAsDeclared => {
                let row = row.unwrap();
                assert_eq!(row.status, Status::Imdsv1Open);
                assert!(!row.differs(), "declared optional: not a difference");
            }
            Kind::OpenButRequired | Kind::PendingChange => {
                let row = row.unwrap();
                assert_eq!(row.differences.len(), 1, "{row:?}");
                assert_eq!(row.differences[0].field, "HttpTokens");
                assert_eq!(row.differences[0].declared, "required");
                assert_eq!(row.differences[0].observed, "optional");
                assert_eq!(row.pending, synth::kind(i) == Kind::PendingChange);
            }
            Kind::HopLimited => {
                let row = row.unwrap();
                assert!(row.hop_limited && !row.differs());
            }
            Kind::EndpointOff => assert_eq!(row.unwrap().status, Status::EndpointOff),
            Kind::NoAnswer => {
                // The id came from the S3 path: the probe could not know it.
                let row = row.unwrap();
                assert_eq!(row.status, Status::NoAnswer);
                assert!(row.differs());
            }
            Kind::TagsDiffer => {
                assert_eq!(row.unwrap().differences[0].field, "InstanceMetadataTags");
            }
            Kind::NotProbed => {
                let row = row.unwrap();
                assert_eq!(row.status, Status::NotProbed);
                assert!(row.differs(), "a running instance should have been probed");
            }
            Kind::StoppedNotProbed => {
                let row = row.unwrap();
                assert_eq!(row.instance_state.as_deref(), Some("stopped"));
                assert!(!row.differs(), "a stopped instance cannot be probed");
            }
            Kind::UnknownToControlPlane => assert!(row.unwrap().unknown_to_control_plane),
            Kind::Duplicate => assert_eq!(row.unwrap().duplicates, 1),
        }
    }

    // Renderers agree with the report.
    let json: serde_json::Value = serde_json::from_str(&render::render(&r, Format::Json)).unwrap();
    assert_eq!(json["format"], "imdspec-fleet/1");
    assert_eq!(json["totals"]["differ"], t.differ);
    let md = render::render(&r, Format::Markdown);
    assert!(
        md.contains(&format!("| differ from declared | {} |", t.differ)),
        "{md:.500}"
    );
    assert_eq!(counts_of_every_format(&r), counts_of_json(&r));
    assert!(r.holds(imds_fleet::Condition::Imdsv1Open));
    assert!(r.holds(imds_fleet::Condition::Differs));
    assert!(r.holds(imds_fleet::Condition::Unreachable));
    assert!(!r.holds(imds_fleet::Condition::Unreadable));
}

/// The counts a reader takes from a report: instances, IMDSv1 open, no answer, not probed,
/// differing from the control plane, needing attention.
type Counts = [usize; 6];

fn counts_of_json(r: &imds_fleet::Report) -> Counts {
    let json: serde_json::Value = serde_json::from_str(&render::json(r)).unwrap();
    let t = &json["totals"];
    let n = |k: &str| t[k].as_u64().unwrap() as usize;
    let listed = json["instances"].as_array().unwrap();
    let marked = listed
        .iter()
        .filter(|row| {
            row["differences"].as_array().is_some_and(|d| !d.is_empty())
                || row["status"] == "no-answer"
                || row["unknown_to_control_plane"] == true
                || (row["status"] == "not-probed"
                    && row.get("instance_state").is_none_or(|s| s == "running"))
        })
        .count();
    assert_eq!(
        marked,
        n("attention"),
        "the JSON rows agree with its totals"
    );
    [
        n("instances"),
        n("imdsv1_open"),
        n("no_answer"),
        n("not_probed"),
        n("differ"),
        n("attention"),
    ]
}

/// The same counts from the human text, Markdown and CSV, each checked to agree with the
/// others; returns them.
fn counts_of_every_format(r: &imds_fleet::Report) -> Counts {
    let number = |text: &str, after: &str| -> usize {
        let re = number_before(after);
        re(text).unwrap_or_else(|| panic!("no {after:?} in {text:.300}"))
    };
    let human = render::human(r);
    let headline = human.lines().next().unwrap();
    let from_headline = |h: &str| -> [usize; 5] {
        [
            number(h, "instance(s)"),
            number(h, "IMDSv1 open"),
            number(h, "no answer"),
            number(h, "not probed"),
            number(h, "need attention"),
        ]
    };
    let [instances, open, no_answer, not_probed, attention] = from_headline(headline);
    let differ = if r.declared {
        number(headline, "differ from the control plane's options")
    } else {
        assert!(
            headline.contains("not compared with the control plane"),
            "{headline}"
        );
        0
    };
    // Human: the marks.
    let marked = human.lines().filter(|l| l.starts_with("! ")).count();
    assert_eq!(marked, attention, "{human:.2000}");
    if marked > 0 {
        assert!(human.contains(render::LEGEND), "a legend for the mark");
    }
    // Markdown: the same headline, the totals table, the attention column.
    let md = render::markdown(r);
    assert_eq!(md.lines().next().unwrap(), format!("**{headline}**"));
    for (name, want) in [
        ("instances", instances),
        ("IMDSv1 open", open),
        ("no answer", no_answer),
        ("not probed", not_probed),
        ("differ from declared", differ),
        ("need attention", attention),
    ] {
        assert!(
            md.contains(&format!("| {name} | {want} |")),
            "{name}: {md:.1500}"
        );
    }
    assert_eq!(md.matches("| ! yes |").count(), attention);
    // CSV: one `instance` row per listed instance; every IMDSv1-open, unanswered and
    // unprobed instance is listed.
    let csv = render::csv(r);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| l.starts_with("instance,"))
        .map(|l| l.split(',').collect())
        .collect();
    let count = |name: &str, value: &str| rows.iter().filter(|r| r[col(name)] == value).count();
    assert_eq!(count("status", "imdsv1-open"), open);
    assert_eq!(count("status", "no-answer"), no_answer);
    assert_eq!(count("status", "not-probed"), not_probed);
    assert_eq!(count("differs", "yes"), differ);
    assert_eq!(count("attention", "yes"), attention);
    for option in imds_model::PartialOptions::FIELDS {
        col(&format!("{option}_declared"));
        col(&format!("{option}_observed"));
    }
    [instances, open, no_answer, not_probed, differ, attention]
}

/// The number just before `label` in `text` (`12 IMDSv1 open`).
fn number_before(label: &str) -> impl Fn(&str) -> Option<usize> + '_ {
    move |text: &str| {
        let at = text.find(&format!(" {label}"))?;
        let digits: String = text[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().ok()
    }
}

#[test]
fn every_format_gives_the_same_counts_with_and_without_declared_options() {
    const N: usize = 600;
    let files: Vec<(String, String)> = synth::files(N).collect();
    for declared in [true, false] {
        let d = declared
            .then(|| Declared::parse("declared.json", &synth::describe_instances(N)).unwrap());
        let mut fleet = Fleet::new(d);
        for (key, text) in &files {
            fleet.add_bytes(Path::new(key), text.as_bytes());
        }
        let r = fleet.finish();
        let counts = counts_of_every_format(&r);
        assert_eq!(counts, counts_of_json(&r), "declared: {declared}");
        assert!(counts[1] > 0 && counts[5] > 0, "{counts:?}");
        // The gate: IMDSv1 open holds in this fleet whatever is declared.
        assert!(r.holds(imds_fleet::Condition::Imdsv1Open));
        assert_eq!(r.holds(imds_fleet::Condition::Differs), declared);
    }
}

#[test]
fn the_imdsv1_gate_holds_only_when_an_instance_answers_tokenless() {
    let gate = |kinds: &[usize]| {
        let mut fleet = Fleet::new(None);
        for &i in kinds {
            let text = synth::probe_output(i, "json").unwrap();
            fleet.add_bytes(Path::new(&format!("{i}.json")), text.as_bytes());
        }
        fleet.finish().holds(imds_fleet::Condition::Imdsv1Open)
    };
    let of = |k: Kind| (0..).find(|&i| synth::kind(i) == k).unwrap();
    assert!(!gate(&[
        of(Kind::RequiredAsDeclared),
        of(Kind::EndpointOff)
    ]));
    assert!(gate(&[
        of(Kind::RequiredAsDeclared),
        of(Kind::OpenAsDeclared)
    ]));
}

#[test]
fn a_fleet_on_disk_is_walked_in_the_run_command_layout() {
    const N: usize = 240;
    let dir = temp("disk");
    let files = synth::write_fleet(&dir.join("observed"), &dir.join("declared.json"), N).unwrap();
    let mut from_disk = Fleet::new(Some(Declared::load(&dir.join("declared.json")).unwrap()));
    from_disk.add_paths(&[dir.join("observed")]);
    let from_disk = from_disk.finish();
    assert_eq!(from_disk.totals.files, files);
    let mut in_memory = Fleet::new(Some(
        Declared::parse("declared.json", &synth::describe_instances(N)).unwrap(),
    ));
    for (key, text) in synth::files(N) {
        in_memory.add_bytes(Path::new(&key), text.as_bytes());
    }
    let in_memory = in_memory.finish();
    assert_eq!(from_disk.totals, in_memory.totals);
    let ids = |r: &imds_fleet::Report| -> Vec<String> {
        r.instances().map(|x| x.instance_id.clone()).collect()
    };
    assert_eq!(ids(&from_disk), ids(&in_memory));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_truncated_and_oversized_files_are_listed_not_fatal() {
    let dir = temp("bad");
    let observed = dir.join("observed");
    synth::write_fleet(&observed, &dir.join("declared.json"), 24).unwrap();
    let good = synth::probe_output(0, "json").unwrap();
    let bad = |name: &str, bytes: &[u8]| {
        let p = observed.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    };
    bad("truncated.json", &good.as_bytes()[..good.len() / 2]);
    bad("garbage.json", b"IMDSv1 is OPEN\n");
    bad("empty.jsonl", b"");
    bad(
        "bad-value.json",
        br#"[{"TypeName": "Custom:ImdsProbe", "Content": [{"Format": "imdspec-probe/1", "HttpTokens": "maybe"}]}]"#,
    );
    // Skipped by the walk: Run Command's stderr and files that are not probe outputs.
    bad("cmd/i-0aaaaaaaaaaaaaaaa/x/stderr", b"not json");
    bad("notes.txt", b"not json");
    let big = observed.join("huge.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(read::MAX_FILE_BYTES + 1).unwrap();

    let mut fleet = Fleet::new(Some(Declared::load(&dir.join("declared.json")).unwrap()));
    fleet.add_paths(&[observed.clone(), dir.join("missing")]);
    let r = fleet.finish();
    assert_eq!(r.exit_code(), 2);
    let text = r.unreadable.join("\n");
    assert_eq!(r.unreadable.len(), 6, "{text}");
    assert!(
        text.contains("truncated.json:") && text.contains("truncated: EOF"),
        "{text}"
    );
    // One style, as every loader's: FILE:LINE:COL: FIELD: MESSAGE, never line 0.
    let shape = regex::Regex::new(r"^\S+:[1-9][0-9]*:[1-9][0-9]*: \S+: \S").unwrap();
    for line in text.lines() {
        assert!(shape.is_match(line), "{line}");
    }
    assert!(
        text.contains("garbage.json:1:1: (file): expected value"),
        "{text}"
    );
    assert!(text.contains("empty.jsonl:1:1: (file): empty"), "{text}");
    assert!(
        text.contains(
            "bad-value.json:1:77: Content.HttpTokens: expected one of optional, required"
        ),
        "{text}"
    );
    assert!(
        text.contains("huge.json:1:1: (file): larger than"),
        "{text}"
    );
    assert!(text.contains("missing:1:1: (file): cannot read"), "{text}");
    assert!(
        !text.contains("stderr") && !text.contains("notes.txt"),
        "{text}"
    );
    // The rest of the fleet is still reported.
    assert_eq!(r.totals.probed, 20);
    let human = render::human(&r);
    assert!(
        human.starts_with("FLEET: ")
            && human
                .lines()
                .next()
                .unwrap()
                .ends_with("; 6 input(s) unreadable"),
        "{human}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn jsonl_keeps_lines_before_a_bad_one_and_names_the_line() {
    let line = |i| {
        let v: serde_json::Value =
            serde_json::from_str(&synth::probe_output(i, "json").unwrap()).unwrap();
        v.to_string()
    };
    let text = format!("{}\n{}\n{{\"format\": \n", line(0), line(1));
    let (docs, e) = read::documents("all.jsonl", text.as_bytes());
    assert_eq!(docs.len(), 2);
    let e = e.unwrap();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.to_string().starts_with("all.jsonl:4:"), "{e}");
}

#[test]
fn without_declared_options_states_only_and_exit_zero_when_nothing_is_wrong() {
    let mut fleet = Fleet::new(None);
    fleet.add_bytes(
        Path::new("a.json"),
        synth::probe_output(0, "jsonl").unwrap().as_bytes(),
    );
    let r = fleet.finish();
    assert_eq!(r.exit_code(), 0);
    assert_eq!(r.totals.imdsv2_required, 1);
    let human = render::human(&r);
    assert!(
        human.starts_with("FLEET: 1 instance(s): 0 IMDSv1 open, 1 IMDSv2 required"),
        "{human}"
    );
    assert!(human.contains("not compared with the control plane (no --declared)"));
}

#[test]
fn run_reports_list_failing_cases_by_instance() {
    let report = |fails: &[&str]| {
        let cases: Vec<serde_json::Value> = ["token.put.ok", "tags.listing", "hop.limit"]
            .iter()
            .map(|id| {
                let outcome = if fails.contains(id) { "fail" } else { "pass" };
                serde_json::json!({"id": id, "level": "must", "outcome": outcome, "target": "endpoint"})
            })
            .collect();
        serde_json::json!({"version": 1, "command": "imdspec run", "exit_code": 1, "cases": cases})
            .to_string()
    };
    let mut fleet = Fleet::new(None);
    let at = |id: &str| format!("runs/cmd-1/{id}/awsrunShellScript/0.awsrunShellScript/stdout");
    fleet.add_bytes(
        Path::new(&at("i-0aaaaaaaaaaaaaaaa")),
        report(&["hop.limit"]).as_bytes(),
    );
    fleet.add_bytes(
        Path::new(&at("i-0bbbbbbbbbbbbbbbb")),
        report(&["hop.limit", "tags.listing"]).as_bytes(),
    );
    fleet.add_bytes(
        Path::new(&at("i-0cccccccccccccccc")),
        report(&[]).as_bytes(),
    );
    // Ansible, one file per host named after the host: the file names the report.
    fleet.add_bytes(
        Path::new("observed/web-1.json"),
        report(&["hop.limit"]).as_bytes(),
    );
    let r = fleet.finish();
    assert_eq!(r.totals.run_reports, 4);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.cases.len(), 2);
    assert_eq!(r.cases[0].id, "hop.limit");
    assert_eq!(r.cases[0].count, 3);
    assert_eq!(
        r.cases[0].instances,
        [
            "i-0aaaaaaaaaaaaaaaa",
            "i-0bbbbbbbbbbbbbbbb",
            "observed/web-1.json"
        ]
    );
    assert_eq!(r.cases[1].instances, ["i-0bbbbbbbbbbbbbbbb"]);
    let csv = render::csv(&r);
    let cases: Vec<Vec<&str>> = csv
        .lines()
        .filter(|l| l.starts_with("case,"))
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(cases.len(), 4, "{csv}");
    assert!(
        cases
            .iter()
            .any(|c| c[1] == "i-0bbbbbbbbbbbbbbbb" && c.ends_with(&["tags.listing", "must", ""])),
        "{csv}"
    );
    let md = render::markdown(&r);
    assert!(md.contains("| `hop.limit` | must | 3 |"), "{md}");
}

#[test]
fn describe_instances_errors_name_file_line_and_instance() {
    let e = Declared::parse("d.json", "{\"Reservations\": [").unwrap_err();
    assert!(e.to_string().starts_with("d.json:1:"), "{e}");
    let e = Declared::parse(
        "d.json",
        r#"{"Reservations": [{"Instances": [{"InstanceId": "i-1",
            "MetadataOptions": {"HttpEndpoint": "sometimes"}}]}]}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("instance i-1:"), "{e}");
    let e = Declared::parse("d.json", r#"[{"HttpTokens": "required"}]"#).unwrap_err();
    assert!(e.to_string().contains("no instance ids"), "{e}");
}

#[test]
fn csv_fields_are_quoted() {
    let mut fleet = Fleet::new(None);
    fleet.add_bytes(Path::new("a,\"b\".json"), b"IMDS");
    let csv = render::csv(&fleet.finish());
    let line = csv.lines().find(|l| l.starts_with("unreadable,")).unwrap();
    assert!(
        line.ends_with(",\"a,\"\"b\"\".json:1:1: (file): expected value\""),
        "{csv}"
    );
}

/// What `imdspec probe` really writes, in every format, reads back as what it saw.
#[test]
fn real_probe_outputs_of_every_format_read_back() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let options = MetadataOptions {
        http_tokens: HttpTokens::Required,
        instance_metadata_tags: Toggle::Enabled,
        ..MetadataOptions::default()
    };
    let server = runtime
        .block_on(imds_server::ImdsServer::builder().options(options).start())
        .unwrap();
    let config = imds_probe::ProbeConfig::new(&server.url(), None, Duration::from_secs(2))
        .unwrap()
        .with_identity();
    let declared = imds_probe::DeclaredOptions {
        http_tokens: Some(HttpTokens::Optional),
        ..Default::default()
    };
    let p = imds_probe::probe_blocking(&config, &declared, None).unwrap();
    let now = imds_model::Timestamp::from_secs(1_772_366_400);
    let w = imds_probe::sinks::Where::default();
    assert_eq!(imds_probe::render::JSON_FORMAT, read::PROBE_FORMAT);
    assert_eq!(imds_probe::sinks::SSM_TYPE_NAME, read::SSM_TYPE_NAME);
    let outputs = [
        ("json", p.json(None)),
        ("jsonl", p.jsonl(None)),
        ("ssm-inventory", p.ssm_inventory(None, now, &w)),
        ("asff", p.asff(None, now, &w).unwrap()),
        ("ocsf", p.ocsf(None, now, &w).unwrap()),
    ];
    let mut seen = Vec::new();
    for (format, text) in &outputs {
        let (docs, e) = read::documents(format, text.as_bytes());
        assert!(e.is_none(), "{format}: {e:?}");
        let [Doc::Probe(o)] = docs.as_slice() else {
            panic!("{format}: {docs:?}");
        };
        assert_eq!(
            o.instance_id.as_deref(),
            Some("i-0123456789abcdef0"),
            "{format}"
        );
        assert!(o.answers, "{format}");
        assert_eq!(o.v1, V1::Closed, "{format}");
        assert_eq!(
            o.options.http_tokens,
            Some(HttpTokens::Required),
            "{format}"
        );
        assert_eq!(
            o.options.instance_metadata_tags,
            Some(Toggle::Enabled),
            "{format}"
        );
        seen.push(o.clone());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
    // ASFF in batch-import-findings' --cli-input-json form.
    let wrapped = format!("{{\"Findings\": {}}}", p.asff(None, now, &w).unwrap());
    let (docs, e) = read::documents("cli-input.json", wrapped.as_bytes());
    assert!(e.is_none() && docs.len() == 1, "{e:?}");
}

#[test]
fn instance_ids_come_from_run_command_paths_and_file_names() {
    let id = |p: &str| read::instance_id_from_path(Path::new(p));
    assert_eq!(
        id("s3/imds-probe/0b1c/i-0123456789abcdef0/awsrunShellScript/0.awsrunShellScript/stdout")
            .as_deref(),
        Some("i-0123456789abcdef0")
    );
    assert_eq!(
        id("observed/i-0123456789abcdef0.json").as_deref(),
        Some("i-0123456789abcdef0")
    );
    assert_eq!(
        id("observed/mi-0123456789abcdef0.json").as_deref(),
        Some("mi-0123456789abcdef0")
    );
    assert_eq!(id("observed/web-1.json"), None);
    assert_eq!(id("observed/i-XYZ/stdout"), None);
}
