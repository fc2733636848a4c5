//! The names of the cases written in code (`check = "…"` in a case file). Plain data: serde
//! reads the name, so an unknown one is refused with the case file's name and line.

use serde::Deserialize;

/// A check written in code; the catalogue names it in kebab-case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// Every listed entry answers.
    CrawlEntriesResolve,
    /// Directories are listed with a trailing `/`.
    CrawlDirectoriesMarked,
    /// The same, at every depth.
    CrawlDeepDirectoriesMarked,
    /// Parents list every child the crawl found.
    CrawlParentsListChildren,
    /// Documented paths have their documented format.
    CrawlDocumentedFormat,
    /// Paths every instance has are present.
    CrawlAlwaysPresent,
    /// Sub-listings have no final newline.
    CrawlSubListingNoFinalNewline,
    /// No listing repeats an entry.
    CrawlNoDuplicateEntries,
    /// The identity document's `instanceId` matches `meta-data/instance-id`.
    IdentityInstanceId,
    /// … its `region` matches `placement/region`.
    IdentityRegion,
    /// … its `availabilityZone` matches `placement/availability-zone`.
    IdentityAvailabilityZone,
    /// … its `privateIp` matches `local-ipv4`.
    IdentityPrivateIp,
    /// … its `imageId` matches `ami-id`.
    IdentityImageId,
    /// … its `instanceType` matches `instance-type`.
    IdentityInstanceType,
    /// … its `accountId` matches the primary interface's `owner-id`.
    IdentityAccountOwner,
    /// The primary MAC is listed under `network/interfaces/macs/`.
    MacListed,
    /// The primary MAC's own `mac` entry is itself.
    MacSelf,
    /// The availability zone lies in the region.
    AzInRegion,
    /// `local-ipv4` is among the primary interface's addresses.
    LocalIpv4OnEni,
    /// Dated versions serve no category newer than themselves.
    VersionsNoNewerCategories,
    /// Every listed version serves `meta-data/instance-id`.
    VersionsListedServeInstanceId,
    /// The declared `HttpTokens` holds.
    DeclaredHttpTokens,
    /// The declared `HttpEndpoint` holds.
    DeclaredHttpEndpoint,
    /// The declared `InstanceMetadataTags` holds.
    DeclaredInstanceMetadataTags,
    /// The token PUT and a tokenless GET answer alike each time they are asked.
    ConsistentAnswers,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct One {
        check: Check,
    }

    #[test]
    fn names_are_kebab_case_and_unknown_ones_refused() {
        let one: One = toml::from_str(r#"check = "versions-no-newer-categories""#).unwrap();
        assert_eq!(one.check, Check::VersionsNoNewerCategories);
        let one: One = toml::from_str(r#"check = "local-ipv4-on-eni""#).unwrap();
        assert_eq!(one.check, Check::LocalIpv4OnEni);
        let e = toml::from_str::<One>(r#"check = "crawl-everything""#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("crawl-everything"), "{e}");
    }
}
