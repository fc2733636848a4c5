//! The control API's ops applied to a shared model (what `imdspec serve --control` does, minus
//! HTTP), and writers that must not lose each other's changes.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use imds_model::scenario::{Action, Entry, Trigger};
use imds_model::{
    HttpTokens, Instance, ManualClock, MetadataOptions, Scenario, Timestamp, TokenKey,
};
use imds_server::Imds;
use imds_server::control::{ControlOp, ControlRequest, apply_options, decode, patch_instance};

/// One shared model with a hand-moved clock.
struct Fixture {
    imds: Imds,
    clock: Arc<ManualClock>,
}

impl Fixture {
    fn new(options: MetadataOptions, instance: Instance) -> Fixture {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1_768_470_000)));
        let imds = Imds::new(options, instance, &TokenKey::new([9; 32]), clock.clone());
        Fixture { imds, clock }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> http::Response<bytes::Bytes> {
        let mut req = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.imds.handle(&req.body(()).expect("valid request"))
    }

    fn get(&self, path: &str) -> http::Response<bytes::Bytes> {
        self.send("GET", path, &[])
    }
}

fn op(method: &str, path: &str, body: &str) -> ControlOp {
    decode(&ControlRequest {
        method,
        path,
        query: None,
        body: body.as_bytes(),
    })
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

#[test]
fn options_flip_then_scenario_notice_with_a_manual_clock() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 200);
    let ControlOp::PutOptions(change) = op("PUT", "/options", r#"{"HttpTokens":"required"}"#)
    else {
        panic!()
    };
    let now = f.imds.update_options(|o| apply_options(o, &change));
    assert_eq!(now.http_tokens, HttpTokens::Required);
    assert_eq!(f.get("/latest/meta-data/instance-id").status(), 401);

    let ControlOp::PostScenario(s) = op(
        "POST",
        "/scenario",
        r#"[{"after":"30s","spot-interruption":{"action":"terminate"}}]"#,
    ) else {
        panic!()
    };
    f.imds.set_scenario(s);
    let token = f.imds.issue_token(60);
    let get = |p: &str| f.send("GET", p, &[("x-aws-ec2-metadata-token", &token)]);
    assert_eq!(get("/latest/meta-data/spot/instance-action").status(), 404);
    f.clock.advance(Duration::from_secs(30));
    let r = get("/latest/meta-data/spot/instance-action");
    assert_eq!(r.status(), 200);
    assert!(
        std::str::from_utf8(r.body())
            .unwrap()
            .contains("\"terminate\"")
    );
    // Past the token's 60 s: the same token is refused.
    f.clock.advance(Duration::from_secs(31));
    assert_eq!(get("/latest/meta-data/instance-id").status(), 401);
}

#[test]
fn a_refused_patch_changes_nothing() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    let before = f.imds.instance();
    let ControlOp::PatchInstance(p) = op("PATCH", "/instance", r#"{"region":"nowhere-1"}"#) else {
        panic!()
    };
    let start = Instance::default();
    let e = f
        .imds
        .try_update_instance(|i| patch_instance(i, &start, &p))
        .unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.field.is_some(), "{e}");
    assert_eq!(*f.imds.instance(), *before);
}

/// A scenario applying entries on one thread while another changes the options: with the
/// scenario's write based on what it read before the other write, the options change would
/// be lost. Repeated, since a lost update needs the two to interleave.
#[test]
fn option_changes_are_not_lost_to_scenario_entries() {
    for round in 0..20 {
        let f = Arc::new(Fixture::new(
            MetadataOptions::default(),
            Instance::default(),
        ));
        let entries = (1..=40)
            .map(|n| Entry {
                trigger: Trigger::AfterRequests(n),
                action: Action::UserData(format!("round {round} request {n}")),
            })
            .collect();
        f.imds.set_scenario(Scenario {
            entries,
            ..Scenario::default()
        });
        let requests = {
            let f = f.clone();
            thread::spawn(move || {
                for _ in 0..40 {
                    f.get("/latest/meta-data/instance-id");
                }
            })
        };
        thread::sleep(Duration::from_micros(200 * (round % 5)));
        f.imds.update_options(|o| MetadataOptions {
            http_tokens: HttpTokens::Required,
            ..o
        });
        requests.join().unwrap();
        assert_eq!(
            f.imds.options().http_tokens,
            HttpTokens::Required,
            "round {round}"
        );
        assert_eq!(f.imds.scenario_fired().len(), 40);
    }
}

#[test]
fn reset_restores_options_and_instance_and_stops_the_scenario() {
    let f = Fixture::new(MetadataOptions::default(), Instance::default());
    f.imds.set_scenario(Scenario {
        entries: vec![Entry::asg_termination(Trigger::AfterRequests(2))],
        ..Scenario::default()
    });
    f.imds.set_options(MetadataOptions {
        http_tokens: HttpTokens::Required,
        ..MetadataOptions::default()
    });
    f.imds
        .reset(MetadataOptions::default(), Instance::default());
    assert_eq!(f.imds.options(), MetadataOptions::default());
    for _ in 0..3 {
        f.get("/latest/meta-data/instance-id");
    }
    assert!(f.imds.scenario_fired().is_empty());
}
