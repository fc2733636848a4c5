//! The public parsers are total (never panic) and normalisation is idempotent; listings
//! round-trip through render and parse.

use imds_model::parse::{
    Listing, ListingEntry, MAX_PATH_DEPTH, MAX_PATH_LEN, MAX_TTL, MIN_TTL, PathError,
    parse_listing, parse_path, parse_token_header, parse_ttl,
};
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, RngSeed};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x1d5_0003),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/parsers.txt",
        ))),
        ..ProptestConfig::default()
    }
}

/// Path-like strings: slashes, dots, query and fragment markers and ordinary segment text, so
/// the interesting cases (`//`, `/./`, `..`, `?`) come up often.
fn pathish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("/".to_owned()),
            Just("//".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("?".to_owned()),
            Just("#".to_owned()),
            Just("%2F".to_owned()),
            "[a-z0-9=:@.,_+-]{1,8}",
            "[ -~]{1,4}",
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|parts| parts.concat())
}

fn well_formed_entry() -> impl Strategy<Value = ListingEntry> {
    // Names a listing can carry: no `/`, no spaces or control characters (unicode allowed).
    (
        "[A-Za-z0-9=:@.,_+-][A-Za-z0-9=:@.,_+\\-é€]{0,15}",
        any::<bool>(),
    )
        .prop_map(|(name, is_dir)| ListingEntry { name, is_dir })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_path_is_total_and_idempotent(p in pathish()) {
        if let Ok(once) = parse_path(&p) {
            let shown = once.to_string();
            let twice = parse_path(&shown);
            prop_assert_eq!(twice.as_ref(), Ok(&once), "display {:?}", shown);
            // Normalised output never has empty, `.` or `..` segments, query or fragment.
            prop_assert!(shown.starts_with('/'));
            prop_assert!(!shown.contains("//") && !shown.contains(['?', '#']));
            prop_assert!(once.segments.iter().all(|s| !s.is_empty() && s != "." && s != ".."));
            prop_assert!(once.segments.len() <= MAX_PATH_DEPTH);
        }
    }

    #[test]
    fn parse_path_never_panics_on_any_string(s in any::<String>()) {
        let _ = parse_path(&s);
        let slash = format!("/{s}");
        if let Ok(p) = parse_path(&slash) {
            prop_assert_eq!(parse_path(&p.to_string()), Ok(p));
        }
    }

    #[test]
    fn listings_round_trip(
        entries in proptest::collection::vec(well_formed_entry(), 0..20),
        final_newline in any::<bool>(),
    ) {
        let l = Listing { final_newline, entries };
        let text = l.render();
        prop_assert_eq!(parse_listing(text.as_bytes()), Ok(l.clone()), "{:?}", text);
        // CRLF line ends are tolerated and give the same entries.
        prop_assume!(!l.entries.is_empty());
        let crlf = text.replace('\n', "\r\n");
        prop_assert_eq!(parse_listing(crlf.as_bytes()).map(|p| p.entries), Ok(l.entries));
    }

    #[test]
    fn parse_listing_is_total(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(l) = parse_listing(&body) {
            // Whatever it accepts renders back to something it accepts identically.
            prop_assert_eq!(parse_listing(l.render().as_bytes()), Ok(l));
        }
    }

    #[test]
    fn parse_ttl_is_total_and_exact(value in proptest::collection::vec(any::<u8>(), 0..32)) {
        match parse_ttl(&value) {
            Ok(n) => {
                prop_assert!((MIN_TTL..=MAX_TTL).contains(&n));
                prop_assert!(value.iter().all(u8::is_ascii_digit));
                let text = std::str::from_utf8(&value).unwrap();
                prop_assert_eq!(text.trim_start_matches('0').parse::<u32>().ok(), Some(n));
            }
            Err(_) => {
                let in_range = std::str::from_utf8(&value)
                    .ok()
                    .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|t| t.trim_start_matches('0').parse::<u64>().ok())
                    .is_some_and(|n| (1..=21600).contains(&n));
                prop_assert!(!in_range, "refused a valid TTL {:?}", value);
            }
        }
    }

    #[test]
    fn every_ttl_in_range_parses(n in 0u64..=100_000, zeros in 0usize..4) {
        let text = format!("{}{n}", "0".repeat(zeros));
        let got = parse_ttl(text.as_bytes());
        prop_assert_eq!(got.is_ok(), (1..=21600).contains(&n), "{}", text);
        if let Ok(v) = got {
            prop_assert_eq!(u64::from(v), n);
        }
    }

    #[test]
    fn parse_token_header_is_total(value in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(text) = parse_token_header(&value) {
            prop_assert_eq!(text.as_bytes(), &value[..]);
            prop_assert!(!text.is_empty() && text.len() <= 512);
        }
    }
}

/// A body that is only a line feed is an empty listing that ended with LF; rendering it must
/// give the line feed back, or `parse_listing(render(l)) == l` fails for it.
#[test]
fn a_lone_line_feed_round_trips() {
    let l = parse_listing(b"\n").unwrap();
    assert!(l.entries.is_empty() && l.final_newline);
    assert_eq!(l.render(), "\n");
    assert_eq!(parse_listing(b"").unwrap().render(), "");
}

#[test]
fn path_limits_are_errors_not_panics() {
    let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
    assert_eq!(parse_path(&long), Err(PathError::TooLong));
    let deep = "/a".repeat(MAX_PATH_DEPTH + 1);
    assert_eq!(parse_path(&deep), Err(PathError::TooDeep));
    let ok = "/a".repeat(MAX_PATH_DEPTH);
    assert_eq!(parse_path(&ok).unwrap().segments.len(), MAX_PATH_DEPTH);
    assert_eq!(parse_path("/a/./b"), Err(PathError::Traversal));
    assert_eq!(parse_path("/é"), Err(PathError::BadCharacter));
    assert_eq!(parse_path(""), Err(PathError::NotAbsolute));
    // The query is dropped before the length check, so a long query does not hide a path.
    let q = format!("/latest/meta-data/?{}", "x".repeat(MAX_PATH_LEN * 2));
    assert_eq!(parse_path(&q).unwrap().segments, ["latest", "meta-data"]);
}
