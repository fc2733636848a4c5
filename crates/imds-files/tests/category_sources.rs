//! The category table names, for each value, the instance-file keys it comes from; those names
//! must be keys this crate documents (the table lives in the model, the key list here).

use imds_files::instance_fields::{FIELDS, Kind};
use imds_model::categories::CATEGORIES;

/// Every instance-file key a row says its value comes from is a key of the instance file.
#[test]
fn value_sources_name_instance_file_keys() {
    let known = |key: &str| {
        FIELDS.iter().any(|f| f.key == key)
            || key
                .rsplit_once('.')
                .is_some_and(|(map, _)| FIELDS.iter().any(|f| f.key == map && f.kind == Kind::Map))
    };
    let mut named = 0;
    for c in CATEGORIES {
        for quoted in c.from.split('`').skip(1).step_by(2) {
            if quoted.contains(['=', '{', '/']) {
                continue; // an option setting or a path, not a key
            }
            assert!(
                known(quoted),
                "{}: `{quoted}` is not an instance-file key",
                c.path
            );
            named += 1;
        }
    }
    assert!(named > 50, "only {named} keys named");
}
