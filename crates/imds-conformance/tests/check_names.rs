//! Check names are read by serde: a known name loads as its `Check`, an unknown one is
//! refused with the case file, line and field, like any other bad value.

use std::path::PathBuf;

use imds_conformance::Catalogue;
use imds_conformance::catalogue::CaseBody;
use imds_conformance::check::Check;

fn case(check: &str) -> String {
    format!(
        r#"[[case]]
id = "consistency.mac.self"
summary = "network/interfaces/macs/<mac>/mac equals meta-data/mac"
doc = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html"
level = "must"
check = "{check}"
"#
    )
}

fn load(text: String) -> Result<Catalogue, imds_conformance::CatalogueError> {
    Catalogue::from_sources(&[(PathBuf::from("cases/consistency.toml"), text)], None)
}

#[test]
fn a_known_name_loads_as_its_check() {
    let c = load(case("mac-self")).unwrap();
    assert!(matches!(c.cases[0].body, CaseBody::Check(Check::MacSelf)));
}

#[test]
fn an_unknown_name_is_refused_with_file_line_and_field() {
    let e = load(case("mac-everything")).unwrap_err();
    assert_eq!(e.line, 6, "{e}");
    assert!(
        e.to_string().starts_with("cases/consistency.toml:6:"),
        "{e}"
    );
    assert!(e.to_string().contains("mac-everything"), "{e}");
    assert!(e.field.contains("check"), "{e}");
}

/// Every check the committed catalogue registers is one the enum knows (else it would not
/// load), and the declared-options checks are all registered.
#[test]
fn the_catalogue_registers_the_declared_options_checks() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance");
    let c = Catalogue::load(&dir).unwrap();
    let checks: Vec<Check> = c
        .cases
        .iter()
        .filter_map(|c| match c.body {
            CaseBody::Check(k) => Some(k),
            CaseBody::Steps(_) => None,
        })
        .collect();
    for want in [
        Check::DeclaredHttpTokens,
        Check::DeclaredHttpEndpoint,
        Check::DeclaredInstanceMetadataTags,
    ] {
        assert!(checks.contains(&want), "{want:?} not registered");
    }
}
