//! What EC2 answers varies between instances in ways no single capture shows (SPEC R6.1, §13):
//! both forms of the 401 and every partition's region names must run without a must-level
//! failure.

mod support;

use imds_conformance::report::Outcome;
use imds_model::{Instance, UnauthorizedBody};
use support::*;

async fn must_failures_on(instance: Instance, profile_name: &str) -> Vec<String> {
    let (server, _imds) = instance_model_server(profile(profile_name), instance).await;
    let cfg = config(&server.uri(), declared(&profile(profile_name)));
    let r = run(catalogue(), cfg).await;
    for id in [
        "auth.required.tokenless-html-body",
        "auth.required.unauthorized-title",
    ] {
        if profile_name == "required" {
            assert_eq!(outcome(&r, id), Outcome::Pass, "{id}");
        }
    }
    must_failures(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_forms_of_the_401_pass() {
    for form in [UnauthorizedBody::Empty, UnauthorizedBody::XhtmlPage] {
        let instance = Instance {
            unauthorized_body: form,
            ..Instance::default()
        };
        assert_eq!(
            must_failures_on(instance, "required").await,
            Vec::<String>::new(),
            "{form:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_in_the_european_sovereign_cloud_passes() {
    let mut instance = Instance::default();
    instance.placement.region = "eusc-de-east-1".into();
    instance.placement.availability_zone = "eusc-de-east-1a".into();
    instance.services.partition = "aws-eusc".into();
    instance.services.domain = "amazonaws.eu".into();
    for profile_name in ["optional", "required"] {
        assert_eq!(
            must_failures_on(instance.clone(), profile_name).await,
            Vec::<String>::new(),
            "{profile_name}"
        );
    }
}
