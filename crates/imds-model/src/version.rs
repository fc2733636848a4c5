//! Metadata API versions: `1.0`, the dated builds, and `latest`.

use std::fmt;

/// A metadata API version. Orders as `1.0` < dated versions (by date) < `latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u32);

impl Version {
    /// `1.0`, the first build.
    pub const V1_0: Version = Version(0);
    /// `latest`.
    pub const LATEST: Version = Version(u32::MAX);

    /// A dated version from its `YYYY-MM-DD` parts (no calendar check beyond ranges).
    pub const fn dated(year: u32, month: u32, day: u32) -> Version {
        Version(year * 10_000 + month * 100 + day)
    }

    /// Parses `1.0`, `latest` or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Version> {
        match s {
            "1.0" => return Some(Version::V1_0),
            "latest" => return Some(Version::LATEST),
            _ => {}
        }
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        ((1..=12).contains(&m) && (1..=31).contains(&d) && y >= 2000)
            .then(|| Version::dated(y, m, d))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Version::V1_0 => f.write_str("1.0"),
            Version::LATEST => f.write_str("latest"),
            Version(n) => write!(f, "{:04}-{:02}-{:02}", n / 10_000, n / 100 % 100, n % 100),
        }
    }
}

/// The versions `GET /` lists, oldest first, ending with `latest`.
///
/// Spec §3.1: the list to 2016-04-19 is documented \[H\]; 2016-06-30 and 2016-09-02 seen on
/// instances \[H\]; 2018-03-28 … 2019-10-01 and 2020-10-27 … 2021-07-15 \[M\]. Whether category
/// release dates such as 2016-11-15 are listed is unknown, so they are not.
pub const VERSIONS: &[Version] = &[
    Version::V1_0,
    Version::dated(2007, 1, 19),
    Version::dated(2007, 3, 1),
    Version::dated(2007, 8, 29),
    Version::dated(2007, 10, 10),
    Version::dated(2007, 12, 15),
    Version::dated(2008, 2, 1),
    Version::dated(2008, 9, 1),
    Version::dated(2009, 4, 4),
    Version::dated(2011, 1, 1),
    Version::dated(2011, 5, 1),
    Version::dated(2012, 1, 12),
    Version::dated(2014, 2, 25),
    Version::dated(2014, 11, 5),
    Version::dated(2015, 10, 20),
    Version::dated(2016, 4, 19),
    Version::dated(2016, 6, 30),
    Version::dated(2016, 9, 2),
    Version::dated(2018, 3, 28),
    Version::dated(2018, 8, 17),
    Version::dated(2018, 9, 24),
    Version::dated(2019, 10, 1),
    Version::dated(2020, 10, 27),
    Version::dated(2021, 1, 3),
    Version::dated(2021, 3, 23),
    Version::dated(2021, 7, 15),
    Version::LATEST,
];

/// True when `v` is one this service serves.
pub fn is_served(v: Version) -> bool {
    VERSIONS.binary_search(&v).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_print_and_sort() {
        for v in VERSIONS {
            assert_eq!(Version::parse(&v.to_string()), Some(*v));
        }
        assert!(VERSIONS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            Version::parse("2009-04-04"),
            Some(Version::dated(2009, 4, 4))
        );
        assert_eq!(Version::parse("2009-4-04"), None);
        assert_eq!(Version::parse("2009-13-04"), None);
        assert!(!is_served(Version::dated(2099, 1, 1)));
    }
}
