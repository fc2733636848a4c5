//! The whole catalogue against the reference model (served through wiremock) in every profile:
//! everything passes or is skipped.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_passes_every_case_in_every_profile() {
    let catalogue = catalogue();
    assert!(
        catalogue.cases.len() >= 120,
        "{} cases",
        catalogue.cases.len()
    );
    for name in ["optional", "required", "required-tags", "disabled"] {
        let options = profile(name);
        let (server, _imds) = model_server(options).await;
        let r = run(catalogue.clone(), config(&server.uri(), declared(&options))).await;
        assert_eq!(non_passing(&r), Vec::<String>::new(), "profile {name}");
        assert!(r.summary.pass > 10, "profile {name}: {:?}", r.summary);
    }
}
