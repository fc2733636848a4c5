//! Replays every committed fuzz seed and past crash input of the model targets
//! (`fuzz/seeds/<target>/`, including `regressions/`) through the same entry points the
//! cargo-fuzz targets call, so a plain `cargo test` on stable covers them without cargo-fuzz.

#[path = "../../../fuzz/harness/model.rs"]
mod harness;
#[path = "../../../fuzz/harness/replay.rs"]
mod replay;

#[test]
fn every_model_target_has_a_seed_directory() {
    for (target, _) in harness::TARGETS {
        assert!(
            replay::seeds_dir().join(target).is_dir(),
            "fuzz/seeds/{target} is missing"
        );
    }
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay::replay(stringify!($name), harness::$name);
            }
        )*
    };
}

replay_tests!(
    ttl_header,
    token_header,
    request_path,
    listing_body,
    instance_file,
    model_request,
);

/// The listing bound needs bodies of 20 KB: generated here rather than committed as seeds,
/// so libFuzzer's input length limit (it grows to the largest seed) stays small.
#[test]
fn listing_entry_bound_is_exact() {
    let body = |n: usize| vec!["a"; n].join("\n").into_bytes();
    let at_limit = body(imds_model::parse::MAX_LISTING_ENTRIES);
    harness::listing_body(&at_limit);
    assert!(imds_model::parse::parse_listing(&at_limit).is_ok());
    let over = body(imds_model::parse::MAX_LISTING_ENTRIES + 1);
    harness::listing_body(&over);
    assert_eq!(
        imds_model::parse::parse_listing(&over),
        Err(imds_model::parse::ListingError::TooManyEntries)
    );
}
