//! Every region and partition the AWS SDKs know fits the formats the catalogue checks (SPEC
//! R5.x placement, §13): a must case must not fail an instance in the European Sovereign Cloud
//! or an isolated partition. The regions come from a pinned copy of botocore's
//! `partitions.json` (`conformance/partitions/`).

mod support;

use imds_conformance::catalogue::{CaseBody, Catalogue, Format};
use regex::Regex;
use serde_json::Value;
use support::*;

fn partitions() -> Vec<Value> {
    let path = conformance_dir().join("partitions/botocore-1.43.11-partitions.json");
    let text = std::fs::read_to_string(&path).expect("the pinned partitions.json is committed");
    let doc: Value = serde_json::from_str(&text).expect("partitions.json is JSON");
    doc["partitions"]
        .as_array()
        .expect("partitions.json has a partitions array")
        .clone()
}

/// The body regex of a case's single step.
fn case_regex(cat: &Catalogue, id: &str) -> Regex {
    let case = cat.cases.iter().find(|c| c.id == id).expect(id);
    match &case.body {
        CaseBody::Steps(steps) => steps[0].expect.body.matches.clone().expect(id),
        CaseBody::Check(_) => panic!("{id} is a check, not steps"),
    }
}

/// The regex format `paths.toml` gives `path`.
fn path_regex(cat: &Catalogue, path: &str) -> Regex {
    let p = cat.paths.iter().find(|p| p.path == path).expect(path);
    match &p.format {
        Some(Format::Regex(r)) => r.clone(),
        other => panic!("{path}: not a regex format: {other:?}"),
    }
}

/// Real region names, without the `aws-global`-style pseudo-regions of endpoint resolution.
fn regions(partition: &Value) -> Vec<String> {
    partition["regions"]
        .as_object()
        .expect("regions")
        .keys()
        .filter(|r| !r.ends_with("-global"))
        .cloned()
        .collect()
}

#[test]
fn every_known_region_and_zone_name_fits_the_formats() {
    let cat = catalogue();
    let region_formats = [
        case_regex(&cat, "category.placement.region.format"),
        path_regex(&cat, "meta-data/placement/region"),
    ];
    let zone_formats = [
        case_regex(&cat, "category.placement.availability-zone.format"),
        path_regex(&cat, "meta-data/placement/availability-zone"),
    ];
    let mut seen = Vec::new();
    for partition in partitions() {
        for region in regions(&partition) {
            for f in &region_formats {
                assert!(f.is_match(&region), "region {region} fails {f}");
            }
            // An ordinary zone, a Local Zone and a Wavelength Zone of the region.
            for zone in [
                format!("{region}a"),
                format!("{region}-lax-1a"),
                format!("{region}-wl1-bos-wlz-1"),
            ] {
                for f in &zone_formats {
                    assert!(f.is_match(&zone), "zone {zone} fails {f}");
                }
            }
            seen.push(region);
        }
    }
    // The partitions that broke the old two-letter pattern are in the pinned file.
    for region in [
        "eusc-de-east-1",
        "us-isob-east-1",
        "eu-isoe-west-1",
        "cn-north-1",
    ] {
        assert!(
            seen.iter().any(|r| r == region),
            "{region} not in the pinned file"
        );
    }
}

#[test]
fn every_known_partition_and_domain_fits_the_formats() {
    let cat = catalogue();
    let partition_formats = [
        case_regex(&cat, "category.services.partition.format"),
        path_regex(&cat, "meta-data/services/partition"),
    ];
    let domain_formats = [
        case_regex(&cat, "category.services.domain.format"),
        path_regex(&cat, "meta-data/services/domain"),
    ];
    for partition in partitions() {
        let id = partition["id"].as_str().expect("partition id");
        let domain = partition["outputs"]["dnsSuffix"]
            .as_str()
            .expect("dnsSuffix");
        for f in &partition_formats {
            assert!(f.is_match(id), "partition {id} fails {f}");
        }
        for f in &domain_formats {
            assert!(f.is_match(domain), "domain {domain} of {id} fails {f}");
        }
    }
}

#[test]
fn the_old_region_pattern_would_have_failed_the_sovereign_cloud() {
    // Guards the test itself: with the two-letter pattern of 2026-11 this region fails.
    let old = Regex::new("^[a-z]{2}(-[a-z]+)+-[0-9]+$").expect("regex");
    assert!(!old.is_match("eusc-de-east-1"));
    assert!(
        case_regex(&catalogue(), "category.placement.region.format").is_match("eusc-de-east-1")
    );
}
