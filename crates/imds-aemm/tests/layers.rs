//! AEMM's inputs, layer by layer: every flag form, alias, environment variable and config
//! key, the precedence between them, and what the plan serves (SPEC.md §8).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imds_aemm::config::env_name;
use imds_aemm::plan::parse_rfc3339;
use imds_aemm::{Cli, Command, ConfigError, Error, Prepared, prepare};
use imds_model::scenario::{Action, EventTime, Trigger, When};
use imds_model::{HttpTokens, Timestamp};
use serde_json::{Value, json};

/// 2026-01-15T09:40:00.750Z: mid-second, so whole-second timing shows.
const START: Timestamp = Timestamp::from_secs(1_768_470_000);

fn start() -> Timestamp {
    START.plus(Duration::from_millis(750))
}

fn words(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

fn cli(args: &[&str]) -> Cli {
    Cli::parse(&words(args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs every layer with these files (path → text) and environment.
fn run(args: &[&str], env: &[(&str, &str)], files: &[(&str, &str)]) -> Result<Prepared, Error> {
    let files: BTreeMap<PathBuf, String> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
        .collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    prepare(
        &words(args),
        &env,
        Some(Path::new("/home/u")),
        start(),
        |p| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        },
    )
}

fn ok(args: &[&str], env: &[(&str, &str)], files: &[(&str, &str)]) -> Prepared {
    run(args, env, files).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn every_flag_in_every_pflag_form() {
    let forms: &[(&[&str], &str, Value)] = &[
        (&["-p", "1550"], "server.port", json!("1550")),
        (&["--port=1550"], "server.port", json!("1550")),
        (&["-p1550"], "server.port", json!("1550")),
        (&["-p=1550"], "server.port", json!("1550")),
        (&["-n", "127.0.0.1"], "server.hostname", json!("127.0.0.1")),
        (&["--hostname", "::1"], "server.hostname", json!("::1")),
        (&["-I"], "imdsv2", json!(true)),
        (&["--imdsv2"], "imdsv2", json!(true)),
        (&["--imdsv2=false"], "imdsv2", json!(false)),
        (&["-I=false"], "imdsv2", json!(false)),
        (&["-c", "/x.json"], "config-file", json!("/x.json")),
        (&["--config-file=/x.json"], "config-file", json!("/x.json")),
        (&["-d", "5"], "mock-delay-sec", json!(5)),
        (&["-d5"], "mock-delay-sec", json!(5)),
        (&["--mock-delay-sec", "5"], "mock-delay-sec", json!(5)),
        (
            &["--mock-trigger-time", "2026-01-15T10:00:00Z"],
            "mock-trigger-time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (&["-x", "1"], "mock-ip-count", json!(1)),
        (&["-x=1"], "mock-ip-count", json!(1)),
        (&["-x", "-1"], "mock-ip-count", json!(-1)),
        (&["-x=-1"], "mock-ip-count", json!(-1)),
        (&["--mock-ip-count=-1"], "mock-ip-count", json!(-1)),
        (&["--mock-ip-count", "-1"], "mock-ip-count", json!(-1)),
        (
            &["--rebalance-delay-sec", "3"],
            "rebalance-delay-sec",
            json!(3),
        ),
        (
            &["--rebalance-trigger-time=2026-01-15T10:00:00Z"],
            "rebalance-trigger-time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["--asg-termination-delay-sec", "4"],
            "asg-termination-delay-sec",
            json!(4),
        ),
        (
            &["--asg-termination-trigger-time", "2026-01-15T10:00:00Z"],
            "asg-termination-trigger-time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (&["-s"], "save-config-to-file", json!(true)),
        (
            &["--save-config-to-file"],
            "save-config-to-file",
            json!(true),
        ),
        (&["-w"], "watch-config-file", json!(true)),
        (&["--watch-config-file"], "watch-config-file", json!(true)),
        (&["spot", "-a", "stop"], "spot.action", json!("stop")),
        (
            &["spot", "--action=hibernate"],
            "spot.action",
            json!("hibernate"),
        ),
        (
            &["spot", "-t", "2026-01-15T10:00:00Z"],
            "spot.time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["spot", "--time=2026-01-15T10:00:00Z"],
            "spot.time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["spot", "-r", "2026-01-15T10:00:00Z"],
            "spot.rebalance-rec-time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["spot", "--rebalance-rec-time", "2026-01-15T10:00:00Z"],
            "spot.rebalance-rec-time",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["events", "-o", "instance-stop"],
            "events.code",
            json!("instance-stop"),
        ),
        (
            &["events", "--code=instance-stop"],
            "events.code",
            json!("instance-stop"),
        ),
        (
            &["events", "-t", "completed"],
            "events.state",
            json!("completed"),
        ),
        (
            &["events", "--state", "canceled"],
            "events.state",
            json!("canceled"),
        ),
        (
            &["events", "-b", "2026-01-15T10:00:00Z"],
            "events.not-before",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["events", "--not-before=2026-01-15T10:00:00Z"],
            "events.not-before",
            json!("2026-01-15T10:00:00Z"),
        ),
        (
            &["events", "-a", "2026-01-16T10:00:00Z"],
            "events.not-after",
            json!("2026-01-16T10:00:00Z"),
        ),
        (
            &["events", "--not-after", "2026-01-16T10:00:00Z"],
            "events.not-after",
            json!("2026-01-16T10:00:00Z"),
        ),
        (
            &["events", "-l", "2026-01-17T10:00:00Z"],
            "events.not-before-deadline",
            json!("2026-01-17T10:00:00Z"),
        ),
        (
            &["events", "--not-before-deadline=2026-01-17T10:00:00Z"],
            "events.not-before-deadline",
            json!("2026-01-17T10:00:00Z"),
        ),
    ];
    for (args, key, want) in forms {
        let c = cli(args);
        assert_eq!(c.flags.get(*key), Some(want), "{args:?}");
        assert_eq!(c.flags.len(), 1, "{args:?}: {:?}", c.flags);
    }
}

#[test]
fn subcommands_aliases_and_flag_positions() {
    for (word, want) in [
        ("spot", Command::Spot),
        ("events", Command::Events),
        ("se", Command::Events),
        ("scheduledevents", Command::Events),
        ("asglifecycle", Command::AsgLifecycle),
        ("autoscaling", Command::AsgLifecycle),
        ("asg", Command::AsgLifecycle),
    ] {
        assert_eq!(cli(&[word]).command, want, "{word}");
    }
    assert_eq!(cli(&[]).command, Command::All);
    // Global flags before or after the subcommand; local flags before it too (cobra).
    let a = cli(&["-d", "3", "spot", "-a", "stop", "-p", "9"]);
    let b = cli(&["spot", "-p", "9", "--mock-delay-sec=3", "--action", "stop"]);
    let c = cli(&["-a", "stop", "-d3", "-p=9", "spot"]);
    assert_eq!(a.command, Command::Spot);
    assert_eq!(a.flags, b.flags);
    assert_eq!(a.flags, c.flags);
    // `-t` and `-a` mean different things under spot and events.
    assert_eq!(
        cli(&["events", "-a", "2026-01-15T10:00:00Z"]).flags["events.not-after"],
        "2026-01-15T10:00:00Z"
    );
    // Clustered booleans, `--` and the value of a save flag.
    let c = cli(&["-Iw"]);
    assert_eq!(c.flags["imdsv2"], true);
    assert_eq!(c.flags["watch-config-file"], true);
    for form in [
        &["-s=/tmp/out.json"][..],
        &["-s", "/tmp/out.json"],
        &["--save-config-to-file", "/tmp/out.json", "spot"],
        &["spot", "-Is", "/tmp/out.json"],
    ] {
        let c = cli(form);
        assert_eq!(c.save_path.as_deref(), Some("/tmp/out.json"), "{form:?}");
        assert_eq!(c.flags["save-config-to-file"], true);
        assert!(c.ignored.is_empty(), "{form:?}");
    }
    // AEMM's plain switch before a subcommand stays a switch.
    let c = cli(&["-s", "spot"]);
    assert_eq!((c.command, c.save_path.as_deref()), (Command::Spot, None));
    assert_eq!(c.flags["save-config-to-file"], true);
    assert_eq!(cli(&["--", "-d", "5"]).ignored, ["-d", "5"]);
    assert!(cli(&["-h"]).help && cli(&["spot", "--help"]).help && cli(&["help"]).help);
    assert!(cli(&["--version"]).version && cli(&["-v", "spot"]).version);
}

#[test]
fn bad_command_lines_are_refused() {
    for (args, needle) in [
        (&["bogus"][..], "unknown command \"bogus\""),
        (&["--bogus"], "unknown flag: --bogus"),
        (&["-q"], "unknown shorthand flag: 'q'"),
        (&["-a", "stop"], "unknown shorthand flag: 'a'"),
        (&["events", "-r", "x"], "unknown shorthand flag: 'r'"),
        (&["-d", "soon"], "invalid argument \"soon\" for \"-d\""),
        (&["--imdsv2=maybe"], "not a boolean"),
        (&["-p"], "flag needs an argument"),
        (&["--port"], "flag needs an argument: --port"),
    ] {
        let e = Cli::parse(&words(args)).expect_err(&format!("{args:?}"));
        assert!(e.0.contains(needle), "{args:?}: {e}");
    }
}

#[test]
fn environment_variables_set_each_scalar_key() {
    assert_eq!(env_name("spot.action"), "AEMM_SPOT_ACTION");
    assert_eq!(env_name("mock-delay-sec"), "AEMM_MOCK_DELAY_SEC");
    assert_eq!(
        env_name("metadata.values.instance-id"),
        "AEMM_METADATA_VALUES_INSTANCE_ID"
    );
    let p = ok(
        &[],
        &[
            ("AEMM_MOCK_DELAY_SEC", "12"),
            ("AEMM_MOCK_IP_COUNT", "-1"),
            ("AEMM_IMDSV2", "true"),
            ("AEMM_SPOT_ACTION", "hibernate"),
            ("AEMM_EVENTS_CODE", "instance-stop"),
            ("AEMM_SERVER_PORT", "1550"),
            ("AEMM_SERVER_HOSTNAME", "127.0.0.1"),
            ("AEMM_METADATA_VALUES_INSTANCE_ID", "i-0aaaaaaaaaaaaaaaa"),
            ("AEMM_USERDATA_VALUES_USERDATA", "aGk="),
            ("AEMM_REBALANCE_DELAY_SEC", "2"),
            ("AEMM_ASG_TERMINATION_DELAY_SEC", "3"),
            ("AEMM_NOT_A_SETTING", "1"),
            ("PATH", "/bin"),
        ],
        &[],
    );
    let c = &p.config;
    assert_eq!(c.int("mock-delay-sec"), 12);
    assert_eq!(c.int("mock-ip-count"), -1);
    assert!(c.bool("imdsv2"));
    assert_eq!(c.str("spot.action"), "hibernate");
    assert_eq!(c.str("events.code"), "instance-stop");
    assert_eq!((p.plan.host.as_str(), p.plan.port), ("127.0.0.1", 1550));
    assert_eq!(p.plan.instance.instance_id, "i-0aaaaaaaaaaaaaaaa");
    assert_eq!(p.plan.instance.user_data_bytes().unwrap(), b"hi");
    assert_eq!(p.plan.options.http_tokens, HttpTokens::Required);
    assert_eq!(p.plan.scenario.notice_clients, None);
    assert_eq!(
        c.warnings,
        ["unknown environment variable AEMM_NOT_A_SETTING ignored"]
    );
    // Every scalar key has its variable.
    let every = run(&[], &[], &[]).unwrap().config;
    for key in every.keys().filter(|k| !every.get(k).is_object()) {
        if key == "config-file" {
            continue;
        }
        let value = match every.get(key) {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        let name = env_name(key);
        let c = run(&[], &[(name.as_str(), value.as_str())], &[])
            .unwrap()
            .config;
        assert!(c.is_given(key), "{name} did not set {key}");
        assert!(c.warnings.is_empty(), "{name}: {:?}", c.warnings);
    }
    // A value of the wrong type names the variable.
    let e = run(&[], &[("AEMM_MOCK_DELAY_SEC", "soon")], &[]).unwrap_err();
    assert!(e.to_string().contains("$AEMM_MOCK_DELAY_SEC"), "{e}");
}

const DOC_FILE: &str = r#"{
  "metadata": {
    "values": {
      "mac": "0e:49:61:0f:c3:77",
      "public-ipv4": "54.92.157.77",
      "tags-instance": { "team": "Blue", "Name": "web-1" },
      "iam-security-credentials": { "AccessKeyId": "ASIAFILEKEY000000000" }
    }
  },
  "dynamic": { "values": { "instance-identity-document": { "accountId": "210987654321" } } },
  "userdata": { "values": { "userdata": "IyEvYmluL3NoCg==" } },
  "spot": { "action": "stop", "time": "2020-01-07T01:03:47Z", "rebalance-rec-time": "2020-01-07T01:01:47Z" },
  "events": { "code": "instance-retirement", "state": "active" },
  "imdsv2": true,
  "mock-delay-sec": 7,
  "mock-ip-count": 0,
  "rebalance-delay-sec": 8,
  "asg-termination-delay-sec": 9,
  "server": { "port": "1550", "hostname": "127.0.0.1" },
  "spot-itn": { "instance-action": "stop" },
  "metadata-typo": 1
}"#;

#[test]
fn config_file_keys_and_unknown_keys() {
    let p = ok(
        &["-c", "/etc/aemm.json"],
        &[],
        &[("/etc/aemm.json", DOC_FILE)],
    );
    let i = &p.plan.instance;
    assert_eq!(i.mac(), "0e:49:61:0f:c3:77");
    assert_eq!(i.public_ipv4.as_deref(), Some("54.92.157.77"));
    assert_eq!(i.tags.get("team").map(String::as_str), Some("Blue"));
    assert_eq!(i.tags.len(), 2, "a file's tags replace the defaults");
    let role = i.iam.as_ref().unwrap();
    assert_eq!(role.credentials.access_key_id, "ASIAFILEKEY000000000");
    assert_eq!(
        role.credentials.secret_access_key, "v/12345678901",
        "merged"
    );
    assert_eq!(i.account_id, "210987654321");
    assert_eq!(i.user_data_bytes().unwrap(), b"#!/bin/sh\n");
    assert_eq!(p.plan.options.http_tokens, HttpTokens::Required);
    assert_eq!(p.plan.scenario.notice_clients, Some(0));
    assert_eq!((p.plan.host.as_str(), p.plan.port), ("127.0.0.1", 1550));
    let c = &p.config;
    assert_eq!(c.str("spot.action"), "stop");
    assert_eq!(c.str("events.code"), "instance-retirement");
    assert_eq!(
        (
            c.int("mock-delay-sec"),
            c.int("rebalance-delay-sec"),
            c.int("asg-termination-delay-sec")
        ),
        (7, 8, 9)
    );
    assert_eq!(c.file_used.as_deref(), Some(Path::new("/etc/aemm.json")));
    assert_eq!(
        c.warnings,
        [
            "/etc/aemm.json:21:3: metadata-typo: unknown key `metadata-typo` ignored",
            "/etc/aemm.json:20:17: spot-itn.instance-action: unknown key `spot-itn.instance-action` ignored",
        ]
    );
}

#[test]
fn unknown_keys_and_variables_get_the_nearest_known_name() {
    let file = r#"{"mock-delay-secs": 3, "spot": {"acton": "stop"}, "zzz": 1}"#;
    let p = ok(
        &["-c", "/etc/aemm.json"],
        &[("AEMM_MOCK_DELAY_SECS", "4")],
        &[("/etc/aemm.json", file)],
    );
    let w = &p.config.warnings;
    let has = |s: &str| w.iter().any(|x| x == s);
    assert!(
        has(
            "/etc/aemm.json:1:2: mock-delay-secs: unknown key `mock-delay-secs` ignored; did you mean `mock-delay-sec`?"
        ),
        "{w:?}"
    );
    assert!(
        has(
            "/etc/aemm.json:1:33: spot.acton: unknown key `spot.acton` ignored; did you mean `spot.action`?"
        ),
        "{w:?}"
    );
    assert!(
        has("/etc/aemm.json:1:51: zzz: unknown key `zzz` ignored"),
        "{w:?}"
    );
    assert!(
        has(
            "unknown environment variable AEMM_MOCK_DELAY_SECS ignored; did you mean `AEMM_MOCK_DELAY_SEC`?"
        ),
        "{w:?}"
    );
}

#[test]
fn config_file_is_found_by_flag_then_environment_then_home() {
    let files = [
        ("/flag.json", r#"{"mock-delay-sec": 1}"#),
        ("/env.json", r#"{"mock-delay-sec": 2}"#),
        ("/home/u/aemm-config.json", r#"{"mock-delay-sec": 3}"#),
    ];
    let env = [("AEMM_CONFIG_FILE", "/env.json")];
    let delay = |p: Prepared| p.config.int("mock-delay-sec");
    assert_eq!(delay(ok(&["-c", "/flag.json"], &env, &files)), 1);
    assert_eq!(delay(ok(&[], &env, &files)), 2);
    assert_eq!(delay(ok(&[], &[], &files)), 3);
    // No default file: AEMM's defaults, quietly.
    let p = ok(&[], &[], &[]);
    assert_eq!(p.config.file_used, None);
    assert_eq!(delay(p), 0);
    // A named file that is missing or broken is fatal, naming file, line and column.
    let e = run(&["-c", "/missing.json"], &[], &[]).unwrap_err();
    assert!(matches!(e, Error::Config(ConfigError::File(_))), "{e}");
    assert!(
        e.to_string()
            .starts_with("/missing.json:1:1: (file): cannot read"),
        "{e}"
    );
    let e = run(
        &["-c", "/bad.json"],
        &[],
        &[("/bad.json", "{\n  \"imdsv2\": tru\n}")],
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("/bad.json:3:1: (file): expected"),
        "{e}"
    );
    let e = run(&["-c", "/arr.json"], &[], &[("/arr.json", "[1]")]).unwrap_err();
    assert!(e.to_string().contains("JSON object"), "{e}");
    let e = run(
        &["-c", "/t.json"],
        &[],
        &[("/t.json", r#"{"mock-ip-count": "two"}"#)],
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("/t.json:1:2: mock-ip-count: "),
        "{e}"
    );
}

/// AEMM's documented precedence example: flag > environment > file > default.
#[test]
fn precedence_flag_over_env_over_file_over_default() {
    let file = r#"{"imdsv2": true, "server": {"port": "1550"}, "spot": {"action": "stop"},
                   "mock-delay-sec": 4}"#;
    let p = ok(
        &["--mock-delay-sec", "8"],
        &[
            ("AEMM_MOCK_DELAY_SEC", "12"),
            ("AEMM_SPOT_ACTION", "hibernate"),
            ("AEMM_CONFIG_FILE", "/path/to/my-custom-aemm-config.json"),
        ],
        &[("/path/to/my-custom-aemm-config.json", file)],
    );
    let c = &p.config;
    assert_eq!(c.int("mock-delay-sec"), 8, "flag");
    assert_eq!(c.str("spot.action"), "hibernate", "env");
    assert_eq!(c.str("config-file"), "/path/to/my-custom-aemm-config.json");
    assert!(c.bool("imdsv2"), "file");
    assert_eq!(c.str("server.port"), "1550", "file");
    assert!(!c.bool("save-config-to-file"), "default");
    assert_eq!(c.str("server.hostname"), "0.0.0.0", "default");
}

fn trigger_of(p: &Prepared, pick: impl Fn(&Action) -> bool) -> Trigger {
    p.plan
        .scenario
        .entries
        .iter()
        .find(|e| pick(&e.action))
        .map(|e| e.trigger)
        .unwrap_or_else(|| panic!("no such entry in {:?}", p.plan.scenario))
}

#[test]
fn timing_follows_aemm() {
    let at = |s: u64| Trigger::At(START.plus(Duration::from_secs(s)));
    let p = ok(
        &[
            "-d",
            "2",
            "--rebalance-delay-sec",
            "3",
            "--asg-termination-delay-sec",
            "4",
        ],
        &[],
        &[],
    );
    // Whole seconds from the start's second, as AEMM subtracts Unix seconds.
    assert_eq!(
        trigger_of(&p, |a| matches!(a, Action::SpotInterruption { .. })),
        at(2)
    );
    assert_eq!(
        trigger_of(&p, |a| matches!(a, Action::MaintenanceEvent(_))),
        at(2)
    );
    assert_eq!(
        trigger_of(&p, |a| matches!(a, Action::RebalanceRecommendation { .. })),
        at(3)
    );
    assert_eq!(
        trigger_of(&p, |a| matches!(a, Action::AsgLifecycle(_))),
        at(4)
    );
    assert_eq!(
        p.plan
            .instance
            .autoscaling_target_lifecycle_state
            .as_deref(),
        Some("InService")
    );
    // Spot time: two minutes after the notice is first served, unless given.
    let spot = p
        .plan
        .scenario
        .entries
        .iter()
        .find_map(|e| match &e.action {
            Action::SpotInterruption { action, time } => Some((*action, *time)),
            _ => None,
        });
    assert_eq!(
        spot.map(|s| s.1),
        Some(When::Plus(Duration::from_secs(120)))
    );
    // A trigger time wins over the delay; it may carry an offset.
    let p = ok(
        &[
            "-d",
            "99",
            "--mock-trigger-time",
            "2026-01-15T11:00:00+01:00",
        ],
        &[],
        &[],
    );
    assert_eq!(
        trigger_of(&p, |a| matches!(a, Action::SpotInterruption { .. })),
        Trigger::At(parse_rfc3339("2026-01-15T10:00:00Z").unwrap())
    );
    // Event times default to the start, +7 and +9 days, in EC2's date form.
    let p = ok(&["events"], &[], &[]);
    let Some(Action::MaintenanceEvent(e)) = p.plan.scenario.entries.first().map(|e| &e.action)
    else {
        panic!("{:?}", p.plan.scenario)
    };
    assert_eq!(
        e.not_before,
        EventTime::Fixed("15 Jan 2026 09:40:00 GMT".into())
    );
    assert_eq!(
        e.not_after,
        Some(EventTime::Fixed("22 Jan 2026 09:40:00 GMT".into()))
    );
    assert_eq!(
        e.not_before_deadline,
        Some(EventTime::Fixed("24 Jan 2026 09:40:00 GMT".into()))
    );
    assert_eq!(e.description, "The instance is scheduled for system-reboot");
    assert_eq!(e.id.as_deref(), Some("instance-event-1234567890abcdef0"));
}

#[test]
fn subcommands_gate_the_families() {
    let kinds = |args: &[&str]| -> Vec<&'static str> {
        ok(args, &[], &[])
            .plan
            .scenario
            .entries
            .iter()
            .map(|e| match e.action {
                Action::SpotInterruption { .. } => "spot",
                Action::RebalanceRecommendation { .. } => "rebalance",
                Action::MaintenanceEvent(_) => "event",
                Action::AsgLifecycle(_) => "asg",
                _ => "other",
            })
            .collect()
    };
    assert_eq!(kinds(&[]), ["spot", "rebalance", "event", "asg"]);
    assert_eq!(kinds(&["spot"]), ["spot", "rebalance"]);
    assert_eq!(kinds(&["se"]), ["event"]);
    assert_eq!(kinds(&["asg"]), ["asg"]);
    assert_eq!(
        ok(&["spot"], &[], &[])
            .plan
            .instance
            .autoscaling_target_lifecycle_state,
        None
    );
}

#[test]
fn mock_ip_count_becomes_notice_clients() {
    let n = |v: &str| ok(&["-x", v], &[], &[]).plan.scenario.notice_clients;
    assert_eq!(ok(&[], &[], &[]).plan.scenario.notice_clients, Some(2));
    assert_eq!(n("0"), Some(0));
    assert_eq!(n("5"), Some(5));
    assert_eq!(n("-1"), None);
    assert_eq!(n("-7"), None);
}

#[test]
fn aemm_defaults_and_validation() {
    let p = ok(&[], &[], &[]);
    let i = &p.plan.instance;
    assert_eq!(i.instance_id, "i-1234567890abcdef0");
    assert_eq!(i.mac(), "0e:49:61:0f:c3:11");
    assert_eq!(
        i.network_interfaces[0].interface_id,
        "eni-0f95d3625f5c521cc"
    );
    assert_eq!(i.instance_type, "m4.xlarge");
    assert_eq!(i.user_data_bytes().unwrap(), b"1234,john,reboot,true\n");
    assert_eq!(i.iam.as_ref().unwrap().role_name, "baskinc-role");
    assert_eq!(
        i.tags.get("Name").map(String::as_str),
        Some("test-instance")
    );
    assert_eq!(p.plan.port, 1338);
    assert_eq!(p.plan.options.http_tokens, HttpTokens::Optional);
    assert!(p.plan.options.instance_metadata_tags.is_enabled());
    for (args, key) in [
        (&["spot", "-a", "explode"][..], "spot.action"),
        (&["events", "-o", "reboot-now"], "events.code"),
        (&["events", "-t", "pending"], "events.state"),
        (&["events", "-b", "yesterday"], "events.not-before"),
        (&["--mock-trigger-time", "10:00"], "mock-trigger-time"),
        (&["-p", "http"], "server.port"),
    ] {
        let e = run(args, &[], &[]).unwrap_err();
        assert!(
            matches!(&e, Error::Plan(p) if p.key == key),
            "{args:?}: {e}"
        );
    }
    let e = run(&[], &[("AEMM_METADATA_VALUES_INSTANCE_ID", "web-1")], &[]).unwrap_err();
    assert!(e.to_string().contains("instance-id"), "{e}");
    // Moving a path is reported, not obeyed; a changed MAC moves the default paths along.
    let moved = r#"{"metadata": {"paths": {"ami-id": "/latest/meta-data/image"},
                    "values": {"mac": "0e:00:00:00:00:01"}}}"#;
    let same = r#"{"metadata": {"values": {"mac": "0e:00:00:00:00:01"}, "paths": {
        "mac-device-number": "/latest/meta-data/network/interfaces/macs/0e:00:00:00:00:01/device-number"}}}"#;
    let p = ok(&["-c", "/m.json"], &[], &[("/m.json", moved)]);
    assert_eq!(p.plan.warnings.len(), 1, "{:?}", p.plan.warnings);
    assert!(p.plan.warnings[0].contains("metadata.paths.ami-id"));
    assert!(
        ok(&["-c", "/s.json"], &[], &[("/s.json", same)])
            .plan
            .warnings
            .is_empty()
    );
}

#[test]
fn saved_config_reads_back_to_the_same_configuration() {
    let p = ok(
        &["spot", "-a", "stop", "-d", "3", "-x=-1", "-I"],
        &[("AEMM_SERVER_PORT", "1551")],
        &[],
    );
    let text = p.config.to_json();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["spot"]["action"], "stop");
    assert_eq!(v["mock-delay-sec"], 3);
    assert_eq!(v["server"]["port"], "1551");
    assert_eq!(
        v["metadata"]["values"]["instance-id"],
        "i-1234567890abcdef0"
    );
    let back = ok(
        &["spot", "-c", "/saved.json"],
        &[],
        &[("/saved.json", &text)],
    );
    assert_eq!(back.plan.scenario, p.plan.scenario);
    assert_eq!(back.plan.instance, p.plan.instance);
    assert_eq!(back.plan.options, p.plan.options);
    assert_eq!(back.plan.port, 1551);
    assert!(
        back.config.warnings.is_empty(),
        "{:?}",
        back.config.warnings
    );

    // A changed MAC moves the default paths in the saved file too, so reading it back
    // warns about nothing.
    let p = ok(
        &[],
        &[("AEMM_METADATA_VALUES_MAC", "0e:00:00:00:00:09")],
        &[],
    );
    let text = p.config.to_json();
    assert!(text.contains("/macs/0e:00:00:00:00:09/device-number"));
    assert!(!text.contains("macs/0e:49:61:0f:c3:11"));
    let back = ok(&["-c", "/saved.json"], &[], &[("/saved.json", &text)]);
    assert!(back.plan.warnings.is_empty(), "{:?}", back.plan.warnings);
    assert_eq!(back.plan.instance, p.plan.instance);
}

#[test]
fn rfc3339_forms() {
    let z = parse_rfc3339("2020-01-07T01:03:47Z").unwrap();
    assert_eq!(parse_rfc3339("2020-01-07T01:03:47.123Z"), Some(z));
    assert_eq!(parse_rfc3339("2020-01-07T03:03:47+02:00"), Some(z));
    assert_eq!(parse_rfc3339("2020-01-06T23:03:47-02:00"), Some(z));
    // The last second an HTTP date can hold; past it is refused, not a panic later.
    assert!(parse_rfc3339("9999-12-31T23:59:59Z").is_some());
    for bad in [
        "9999-12-31T23:59:59-00:01",
        "",
        "2020-01-07",
        "2020-01-07T01:03:47",
        "2020-01-07T01:03:47+2",
        "x".repeat(25).as_str(),
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}

/// Every key of AEMM's defaults can be set from a config file, without a warning.
#[test]
fn every_config_key_is_read_from_the_file() {
    let every = run(&[], &[], &[]).unwrap().config;
    let keys: Vec<String> = every.keys().map(str::to_owned).collect();
    assert!(keys.len() > 90, "{}", keys.len());
    for key in keys {
        let mut value = every.get(&key).clone();
        // Nest `a.b.c = v` as {"a": {"b": {"c": v}}}.
        for part in key.rsplit('.') {
            value = json!({ part: value });
        }
        let text = value.to_string();
        let c = run(&["-c", "/k.json"], &[], &[("/k.json", text.as_str())])
            .unwrap_or_else(|e| panic!("{key}: {e}"))
            .config;
        assert!(c.is_given(&key), "{key} not read from {text}");
        assert!(c.warnings.is_empty(), "{key}: {:?}", c.warnings);
    }
}
