//! Scenario files over time (SPEC.md §3.11, §1.2, §3.9): decoded here, played by the model's
//! engine; entries fire once, when due, and change what the model serves. Time moves by hand;
//! nothing sleeps.

// The model's test fixture (a `Model` on a hand-moved clock), shared rather than copied.
#[path = "../../imds-model/tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::Duration;

use imds_model::scenario::{Action, Trigger, parse_duration};
use imds_model::{Clock as _, HttpTokens, Instance, MetadataOptions, Scenario, ScenarioState};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};
use support::{Fixture, START};

fn toml(text: &str) -> Scenario {
    imds_files::scenario::parse_file(Path::new("s.toml"), text).unwrap_or_else(|e| panic!("{e}"))
}

/// Applies whatever is due at the fixture's clock and `requests` into the running model.
fn step(f: &Fixture, state: &mut ScenarioState, requests: u64) -> Vec<imds_model::Fired> {
    let mut instance = (*f.imds.instance()).clone();
    let mut options = f.imds.options();
    let fired = state.apply_due(f.clock.now(), requests, &mut instance, &mut options);
    f.imds.set_instance(instance);
    f.imds.set_options(options);
    fired
}

#[test]
fn spot_notice_appears_after_ten_seconds() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let mut state = ScenarioState::new(
        toml(
            "[[entry]]\nafter = \"10s\"\nspot-interruption = { action = \"terminate\", time = \"+120s\" }\n",
        ),
        START,
    );
    f.clock.advance(Duration::from_millis(9_999));
    assert!(step(&f, &mut state, 0).is_empty());
    assert_eq!(
        f.get("/latest/meta-data/spot/instance-action").status(),
        404
    );
    assert_eq!(
        f.get("/latest/meta-data/spot/termination-time").status(),
        404
    );

    f.clock.advance(Duration::from_millis(1));
    let fired = step(&f, &mut state, 0);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].index, 0);
    let when = START.plus(Duration::from_secs(130)).to_iso8601();
    let resp = f.get("/latest/meta-data/spot/instance-action");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["action"], "terminate");
    assert_eq!(v["time"], when.as_str());
    let resp = f.get("/latest/meta-data/spot/termination-time");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), when.as_bytes());

    // Idempotent: the same moment again, and later, change nothing.
    assert!(step(&f, &mut state, 0).is_empty());
    f.clock.advance(Duration::from_secs(60));
    assert!(step(&f, &mut state, 0).is_empty());
    assert!(state.finished());
}

#[test]
fn stop_sets_no_termination_time() {
    let mut i = Instance::default();
    let mut o = MetadataOptions::default();
    let s = toml(
        "[[entry]]\nat = \"2026-01-15T09:41:00Z\"\nspot-interruption = { action = \"stop\" }\n",
    );
    let mut state = ScenarioState::new(s, START);
    assert!(state.apply_due(START, 0, &mut i, &mut o).is_empty());
    let t = START.plus(Duration::from_secs(60));
    assert_eq!(state.apply_due(t, 0, &mut i, &mut o).len(), 1);
    let a = i.spot_instance_action.expect("spot action set");
    assert_eq!(a.action, "stop");
    // Two minutes' notice by default.
    assert_eq!(a.time, t.plus(Duration::from_secs(120)).to_iso8601());
    assert_eq!(i.spot_termination_time, None);
}

#[test]
fn after_requests_fires_on_the_nth_request() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let mut state = ScenarioState::new(
        toml("[[entry]]\nafter-requests = 3\nasg-lifecycle = \"Terminated\"\n"),
        START,
    );
    for seen in 0..3 {
        assert!(step(&f, &mut state, seen).is_empty(), "fired at {seen}");
        assert_eq!(
            f.get("/latest/meta-data/autoscaling/target-lifecycle-state")
                .status(),
            404
        );
    }
    assert_eq!(step(&f, &mut state, 3).len(), 1);
    let resp = f.get("/latest/meta-data/autoscaling/target-lifecycle-state");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), b"Terminated");
    assert!(step(&f, &mut state, 4).is_empty());
}

#[test]
fn options_flip_makes_tokenless_gets_401() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let mut state = ScenarioState::new(
        toml("[[entry]]\nafter = \"1m\"\noptions = { HttpTokens = \"required\" }\n"),
        START,
    );
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 200);
    f.clock.advance(Duration::from_secs(60));
    assert_eq!(step(&f, &mut state, 0).len(), 1);
    assert_eq!(f.imds.options().http_tokens, HttpTokens::Required);
    // Fields the entry leaves out are unchanged.
    assert_eq!(
        f.imds.options().http_endpoint,
        MetadataOptions::default().http_endpoint
    );
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 401);
    let token = f.imds.issue_token(60);
    let resp = f.send(
        "GET",
        "/latest/meta-data/instance-id",
        &[("x-aws-ec2-metadata-token", &token)],
    );
    assert_eq!(resp.status(), 200);
}

#[test]
fn maintenance_event_is_scheduled_then_completed() {
    let s = toml(
        r#"
[[entry]]
after = "5s"
maintenance-event = { code = "system-reboot", description = "reboot", id = "instance-event-0123456789abcdef0", not-before = "+1h", not-after = "+3h", not-before-deadline = "2026-01-20T00:00:00Z" }

[[entry]]
after = "10s"
maintenance-event-state = { id = "instance-event-0123456789abcdef0", state = "completed" }
"#,
    );
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let mut state = ScenarioState::new(s, START);
    f.clock.advance(Duration::from_secs(5));
    assert_eq!(step(&f, &mut state, 0).len(), 1);
    let body = f.get("/latest/meta-data/events/maintenance/scheduled");
    let v: serde_json::Value = serde_json::from_slice(body.body()).unwrap();
    assert_eq!(v[0]["EventId"], "instance-event-0123456789abcdef0");
    assert_eq!(v[0]["State"], "active");
    // 09:40:05 + 1h, in EC2's date form.
    assert_eq!(v[0]["NotBefore"], "15 Jan 2026 10:40:05 GMT");
    assert_eq!(v[0]["NotAfter"], "15 Jan 2026 12:40:05 GMT");
    assert_eq!(v[0]["NotBeforeDeadline"], "20 Jan 2026 00:00:00 GMT");
    assert!(f.imds.instance().validate().is_ok());

    f.clock.advance(Duration::from_secs(5));
    assert_eq!(step(&f, &mut state, 0).len(), 1);
    let body = f.get("/latest/meta-data/events/maintenance/scheduled");
    assert_eq!(body.body().as_ref(), b"[]");
    let body = f.get("/latest/meta-data/events/maintenance/history");
    let v: serde_json::Value = serde_json::from_slice(body.body()).unwrap();
    let moved = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["EventId"] == "instance-event-0123456789abcdef0")
        .expect("event moved to history");
    assert_eq!(moved["State"], "completed");
}

#[test]
fn rotation_rebalance_tags_and_user_data() {
    let s = toml(
        r#"
[[entry]]
after = "1s"
rotate-credentials = {}

[[entry]]
after = "1s"
rebalance-recommendation = {}

[[entry]]
after = "1s"
tags = { Name = "renamed" }

[[entry]]
after = "1s"
user-data = "new data"
"#,
    );
    let mut i = Instance::default();
    let before = i.iam.clone().unwrap().credentials;
    let mut o = MetadataOptions::default();
    let mut state = ScenarioState::new(s, START);
    let t = START.plus(Duration::from_secs(2));
    let fired = state.apply_due(t, 0, &mut i, &mut o);
    assert_eq!(
        fired.iter().map(|f| f.index).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    let after = i.iam.as_ref().unwrap().credentials.clone();
    assert_ne!(after.access_key_id, before.access_key_id);
    assert_ne!(after.secret_access_key, before.secret_access_key);
    assert_ne!(after.token, before.token);
    assert!(after.access_key_id.starts_with("ASIA") && after.access_key_id.len() == 20);
    assert_eq!(after.last_updated.as_deref(), Some(t.to_iso8601().as_str()));
    assert_eq!(
        after.expiration,
        Some(t.plus(Duration::from_secs(6 * 3600)).to_iso8601())
    );
    assert_eq!(i.rebalance_notice_time, Some(t.to_iso8601()));
    assert_eq!(i.tags.len(), 1);
    assert_eq!(i.tags["Name"], "renamed");
    assert_eq!(i.user_data_bytes().as_deref(), Some(&b"new data"[..]));
    assert!(i.validate().is_ok());
}

#[test]
fn json_and_toml_load_alike() {
    let t = toml(
        "[[entry]]\nafter = \"1h30m\"\nrebalance-recommendation = { notice-time = \"+5s\" }\n\n[[entry]]\nafter-requests = 2\noptions = { InstanceMetadataTags = \"enabled\", HttpPutResponseHopLimit = 2 }\n",
    );
    let j = imds_files::scenario::parse_file(
        Path::new("s.json"),
        r#"{"entry": [
            {"after": "1h30m", "rebalance-recommendation": {"notice-time": "+5s"}},
            {"after-requests": 2, "options": {"InstanceMetadataTags": "enabled", "HttpPutResponseHopLimit": 2}}
        ]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t, j);
    assert_eq!(
        t.entries[0].trigger,
        Trigger::After(Duration::from_secs(5400))
    );
    assert!(matches!(t.entries[1].action, Action::Options(_)));
}

fn err(file: &str, text: &str) -> imds_model::LoadError {
    match imds_files::scenario::parse_file(Path::new(file), text) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_files_name_the_entry_and_field() {
    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nuser-data = \"x\"\n\n[[entry]]\nafter = \"10 seconds\"\nuser-data = \"y\"\n",
    );
    assert_eq!(e.field, "entry[2].after", "{e}");
    assert_eq!(e.line, 6, "{e}");
    assert!(e.message.contains("not a duration"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nat = \"2026-01-15T10:00:00Z\"\nuser-data = \"x\"\n",
    );
    assert_eq!(e.field, "entry[1].at", "{e}");
    assert!(e.message.contains("two triggers"), "{e}");

    let e = err("s.toml", "[[entry]]\nuser-data = \"x\"\n");
    assert_eq!(e.field, "entry[1]", "{e}");
    assert!(e.message.contains("no trigger"), "{e}");

    let e = err("s.toml", "[[entry]]\nafter = \"1s\"\n");
    assert!(e.message.contains("no action"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nuser-data = \"x\"\ntags = { a = \"b\" }\n",
    );
    assert_eq!(e.field, "entry[1].tags", "{e}");
    assert!(e.message.contains("two actions"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nspot-interruption = { action = \"terminat\" }\n",
    );
    assert_eq!(e.field, "entry[1].spot-interruption.action", "{e}");
    assert!(e.message.contains("did you mean `terminate`?"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\noptions = { HttpToken = \"required\" }\n",
    );
    assert_eq!(e.field, "entry[1].options.HttpToken", "{e}");
    assert!(e.message.contains("did you mean `HttpTokens`?"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nspot-interuption = {}\n",
    );
    assert!(
        e.message.contains("did you mean `spot-interruption`?"),
        "{e}"
    );

    let e = err(
        "s.json",
        "{\"entry\": [\n {\"after\": \"1s\", \"maintenance-event-state\": {\"id\": \"x\", \"state\": \"cancelled\"}}\n]}",
    );
    assert_eq!(e.field, "entry[1].maintenance-event-state.state", "{e}");
    assert!(e.message.contains("did you mean `canceled`?"), "{e}");
    assert_eq!(e.line, 2, "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nasg-lifecycle = \"Inservice\"\n",
    );
    assert!(e.message.contains("did you mean `InService`?"), "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nmaintenance-event = { code = \"system-reboot\", not-before = \"tomorrow\" }\n",
    );
    assert_eq!(e.field, "entry[1].maintenance-event.not-before", "{e}");
    assert_eq!(e.line, 3, "{e}");

    let e = err(
        "s.toml",
        "[[entry]]\nafter-requests = 0\nuser-data = \"x\"\n",
    );
    assert_eq!(e.field, "entry[1].after-requests", "{e}");

    // A time inside an action is read as `--spot-interruption` reads its time: same words.
    let e = err(
        "s.toml",
        "[[entry]]\nafter = \"1s\"\nspot-interruption = { action = \"stop\", time = \"soon\" }\n",
    );
    assert_eq!(e.field, "entry[1].spot-interruption.time", "{e}");
    assert_eq!(
        Err(e.message),
        imds_model::scenario::When::parse("soon"),
        "the file's and the command line's message"
    );
}

#[test]
fn same_moment_entries_apply_in_file_order() {
    let s = toml(
        "[[entry]]\nafter = \"2s\"\nuser-data = \"first\"\n\n[[entry]]\nafter = \"1s\"\nuser-data = \"second\"\n",
    );
    let (mut i, mut o) = (Instance::default(), MetadataOptions::default());
    let mut state = ScenarioState::new(s, START);
    let fired = state.apply_due(START.plus(Duration::from_secs(5)), 0, &mut i, &mut o);
    assert_eq!(fired.iter().map(|f| f.index).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(i.user_data.as_deref(), Some("second"));
}

#[test]
fn durations_accept_the_documented_forms() {
    assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert!(parse_duration("1.5h").is_err());
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(0x5ce_0001),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/scenario.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Entries with a mix of triggers, all setting user data (so each firing is visible).
fn scenario() -> impl Strategy<Value = Scenario> {
    let trigger = prop_oneof![
        (0u64..120_000).prop_map(|ms| format!("after = \"{ms}ms\"")),
        (0u64..120).prop_map(|s| format!(
            "at = \"{}\"",
            START.plus(Duration::from_secs(s)).to_iso8601()
        )),
        (1u64..50).prop_map(|n| format!("after-requests = {n}")),
    ];
    proptest::collection::vec(trigger, 0..8).prop_map(|ts| {
        let text: String = ts
            .iter()
            .enumerate()
            .map(|(i, t)| format!("[[entry]]\n{t}\nuser-data = \"{i}\"\n\n"))
            .collect();
        imds_files::scenario::parse_file(Path::new("p.toml"), &text).expect("generated file parses")
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// Any sequence of calls with non-decreasing time and request counts fires every entry
    /// exactly once, provided the last call is past every trigger.
    #[test]
    fn each_entry_fires_exactly_once(
        s in scenario(),
        steps in proptest::collection::vec((0u64..20_000, 0u64..8), 0..30),
    ) {
        let n = s.entries.len();
        let mut state = ScenarioState::new(s, START);
        let mut i = Instance::default();
        let mut o = MetadataOptions::default();
        let mut counts = vec![0u32; n];
        let (mut now, mut reqs) = (START, 0u64);
        let record = |fired: Vec<imds_model::Fired>, counts: &mut Vec<u32>| {
            let mut last = None;
            for f in fired {
                prop_assert!(last < Some(f.index), "fired out of file order");
                last = Some(f.index);
                counts[f.index] += 1;
            }
            Ok(())
        };
        for (dt, dr) in steps {
            now = now.plus(Duration::from_millis(dt));
            reqs += dr;
            let fired = state.apply_due(now, reqs, &mut i, &mut o);
            record(fired, &mut counts)?;
            // Repeating the same call is a no-op.
            prop_assert!(state.apply_due(now, reqs, &mut i, &mut o).is_empty());
        }
        let end = START.plus(Duration::from_secs(3600));
        let fired = state.apply_due(end.max(now), reqs.max(50), &mut i, &mut o);
        record(fired, &mut counts)?;
        prop_assert!(counts.iter().all(|c| *c == 1), "{counts:?}");
        prop_assert!(state.finished());
    }
}

// Scenarios played by the model itself: `Model::set_scenario`, then plain `handle` calls.

#[test]
fn played_spot_notice_appears_through_handle_after_ten_seconds() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(toml(
        "[[entry]]\nafter = \"10s\"\nspot-interruption = { action = \"terminate\", time = \"+120s\" }\n",
    ));
    f.clock.advance(Duration::from_millis(9_999));
    assert_eq!(
        f.get("/latest/meta-data/spot/instance-action").status(),
        404
    );
    assert!(f.imds.scenario_fired().is_empty());
    f.clock.advance(Duration::from_millis(1));
    let resp = f.get("/latest/meta-data/spot/instance-action");
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["action"], "terminate");
    let when = START.plus(Duration::from_secs(130)).to_iso8601();
    assert_eq!(v["time"], when.as_str());
    let fired = f.imds.scenario_fired();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].index, 0);
    assert_eq!(fired[0].at, START.plus(Duration::from_secs(10)));
}

#[test]
fn played_after_requests_fires_on_that_request() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(toml(
        "[[entry]]\nafter-requests = 3\nspot-interruption = { action = \"stop\", time = \"+120s\" }\n",
    ));
    let path = "/latest/meta-data/spot/instance-action";
    assert_eq!(f.get(path).status(), 404);
    assert_eq!(f.get(path).status(), 404);
    assert!(f.imds.scenario_fired().is_empty());
    // The third request is answered with the entry already applied.
    let resp = f.get(path);
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["action"], "stop");
    assert_eq!(f.imds.scenario_fired().len(), 1);
    // It fires once.
    assert_eq!(f.get(path).status(), 200);
    assert_eq!(f.imds.scenario_fired().len(), 1);
}

#[test]
fn played_options_entry_makes_tokenless_gets_401() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(toml(
        "[[entry]]\nafter = \"5s\"\noptions = { HttpTokens = \"required\" }\n",
    ));
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 200);
    f.clock.advance(Duration::from_secs(5));
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 401);
    assert_eq!(f.imds.options().http_tokens, HttpTokens::Required);
}

#[test]
fn a_new_scenario_replaces_the_old_and_counts_requests_afresh() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(toml(
        "[[entry]]\nafter = \"1h\"\noptions = { HttpTokens = \"required\" }\n",
    ));
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 200);
    f.imds.set_scenario(toml(
        "[[entry]]\nafter-requests = 2\noptions = { HttpTokens = \"required\" }\n",
    ));
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 200);
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 401);
    // The replaced scenario's one-hour entry never fires.
    f.clock.advance(Duration::from_secs(3600));
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 401);
    assert_eq!(f.imds.scenario_fired().len(), 1);
}

#[test]
fn shortcut_entries_are_built_without_toml() {
    use imds_model::scenario::{Entry, SpotKind};
    assert_eq!(
        Trigger::parse_when("+10s"),
        Ok(Trigger::After(Duration::from_secs(10)))
    );
    assert_eq!(
        Trigger::parse_when("2026-01-15T10:00:00Z"),
        Ok(Trigger::At(
            imds_model::Timestamp::parse_iso8601("2026-01-15T10:00:00Z").unwrap()
        ))
    );
    assert!(Trigger::parse_when("10s").is_err());
    assert!(Trigger::parse_when("+ten").is_err());
    assert!("explode".parse::<SpotKind>().is_err());
    assert!(Entry::maintenance_event(Trigger::AfterRequests(1), "reboot-now").is_err());

    let now = Trigger::After(Duration::ZERO);
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(Scenario {
        entries: vec![
            Entry::spot_interruption(now, "hibernate".parse().unwrap()),
            Entry::rebalance_recommendation(now),
            Entry::maintenance_event(now, "instance-stop").unwrap(),
            Entry::asg_termination(now),
        ],
        notice_clients: None,
    });
    let v: serde_json::Value =
        serde_json::from_slice(f.get("/latest/meta-data/spot/instance-action").body()).unwrap();
    assert_eq!(v["action"], "hibernate");
    assert_eq!(
        f.get("/latest/meta-data/events/recommendations/rebalance")
            .status(),
        200
    );
    let body = f.get("/latest/meta-data/events/maintenance/scheduled");
    assert!(
        String::from_utf8_lossy(body.body()).contains("\"instance-stop\""),
        "{body:?}"
    );
    let asg = f.get("/latest/meta-data/autoscaling/target-lifecycle-state");
    assert_eq!(asg.body().as_ref(), b"Terminated");
    assert_eq!(f.imds.scenario_fired().len(), 4);
}

/// `notice-clients = 1` (SPEC.md §8, AEMM's `--mock-ip-count`): the first address that asks
/// for a notice path keeps seeing notices; a second one gets 404 there and no `spot/` line.
#[test]
fn notice_clients_admit_the_first_addresses_only() {
    use imds_model::ClientAddr;
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let s = toml(
        "notice-clients = 1\n[[entry]]\nafter = \"2s\"\nspot-interruption = { action = \"stop\" }\n",
    );
    assert_eq!(s.notice_clients, Some(1));
    f.imds.set_scenario(s);
    let from = |ip: &str, path: &str| {
        let mut req = http::Request::get(path).body(()).unwrap();
        req.extensions_mut().insert(ClientAddr(ip.parse().unwrap()));
        f.imds.handle(&req)
    };
    let spot = "/latest/meta-data/spot/instance-action";
    // Asking before the notice exists already takes the place, as AEMM does.
    assert_eq!(from("10.0.0.1", spot).status(), 404);
    f.clock.advance(Duration::from_secs(2));
    assert_eq!(from("10.0.0.1", spot).status(), 200);
    assert_eq!(from("10.0.0.2", spot).status(), 404);
    assert_eq!(from("10.0.0.2", "/latest/meta-data/spot/").status(), 404);
    let listing = |ip| String::from_utf8(from(ip, "/latest/meta-data/").body().to_vec()).unwrap();
    assert!(listing("10.0.0.1").lines().any(|l| l == "spot/"));
    assert!(!listing("10.0.0.2").lines().any(|l| l == "spot/"));
    // Other paths are untouched; a request without an address is not limited.
    assert_eq!(
        from("10.0.0.2", "/latest/meta-data/instance-id").status(),
        200
    );
    assert_eq!(f.get(spot).status(), 200);

    // 0: nobody; absent: everybody.
    f.imds.set_scenario(toml("notice-clients = 0\n"));
    assert_eq!(from("10.0.0.1", spot).status(), 404);
    f.imds.set_scenario(Scenario::default());
    assert_eq!(from("10.0.0.2", spot).status(), 200);
    // Reset stops the scenario and lifts its limit with it.
    f.imds.set_scenario(toml("notice-clients = 0\n"));
    let spotted = f.imds.instance().as_ref().clone();
    f.imds.reset(MetadataOptions::default(), spotted);
    assert_eq!(from("10.0.0.1", spot).status(), 200);
    assert!(
        imds_files::scenario::parse_file(Path::new("s.toml"), "notice-clients = -1\n").is_err()
    );
}
