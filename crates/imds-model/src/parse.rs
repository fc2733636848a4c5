//! Small, total parsers for everything IMDS reads from outside.
//!
//! Each function accepts any input and returns an error rather than panicking; these are the
//! entry points of the fuzz targets.

use std::fmt;

/// Longest request path the model looks at; longer ones are simply not found.
pub const MAX_PATH_LEN: usize = 4096;
/// Deepest path (in segments) the model looks at.
pub const MAX_PATH_DEPTH: usize = 32;
/// Longest token header value considered; real tokens are 56 characters.
pub const MAX_TOKEN_LEN: usize = 512;
/// Most entries [`parse_listing`] accepts before giving up.
pub const MAX_LISTING_ENTRIES: usize = 10_000;
/// The smallest token TTL in seconds.
pub const MIN_TTL: u32 = 1;
/// The largest token TTL in seconds (6 hours).
pub const MAX_TTL: u32 = 21_600;

/// Why a `X-aws-ec2-metadata-token-ttl-seconds` value was refused (all answer 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TtlError {
    /// The header was empty.
    #[error("TTL header is empty")]
    Empty,
    /// Something other than ASCII digits (signs, spaces, decimals, letters).
    #[error("TTL header is not a whole number of seconds")]
    NotANumber,
    /// Zero, or more than 21600.
    #[error("TTL must be 1..=21600 seconds")]
    OutOfRange,
}

/// Parses a token TTL header value: ASCII digits only, 1..=21600.
///
/// Spec §2.2: missing/0/negative/non-numeric/over 21600 are 400 (\[H\] for missing, \[M\] for the
/// rest). Signs, whitespace and decimals are an open question (§12.1); we refuse them, the strict
/// reading of "whole number of seconds". Leading zeros are accepted (`0005` is 5).
pub fn parse_ttl(value: &[u8]) -> Result<u32, TtlError> {
    if value.is_empty() {
        return Err(TtlError::Empty);
    }
    if !value.iter().all(u8::is_ascii_digit) {
        return Err(TtlError::NotANumber);
    }
    let significant = value
        .iter()
        .position(|&b| b != b'0')
        .map_or(&value[..0], |i| &value[i..]);
    if significant.len() > 5 {
        return Err(TtlError::OutOfRange);
    }
    let n = significant
        .iter()
        .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
    if (MIN_TTL..=MAX_TTL).contains(&n) {
        Ok(n)
    } else {
        Err(TtlError::OutOfRange)
    }
}

/// Why a `X-aws-ec2-metadata-token` value cannot be a token (all answer 401).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenHeaderError {
    /// The header was present but empty.
    #[error("token header is empty")]
    Empty,
    /// Longer than any token this service issues.
    #[error("token header is too long")]
    TooLong,
    /// Contains bytes outside the URL-safe base64 alphabet and `=`.
    #[error("token header has characters no token has")]
    BadCharacter,
}

/// Checks the shape of a token header value and returns it as text. Whether the token is
/// valid is the [`crate::TokenAuthority`]'s business.
pub fn parse_token_header(value: &[u8]) -> Result<&str, TokenHeaderError> {
    if value.is_empty() {
        return Err(TokenHeaderError::Empty);
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(TokenHeaderError::TooLong);
    }
    if !value
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    {
        return Err(TokenHeaderError::BadCharacter);
    }
    // All bytes are ASCII, so this never fails.
    std::str::from_utf8(value).map_err(|_| TokenHeaderError::BadCharacter)
}

/// Why a request path cannot name anything (all answer 404).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path did not start with `/`.
    #[error("path must start with '/'")]
    NotAbsolute,
    /// Longer than [`MAX_PATH_LEN`].
    #[error("path is too long")]
    TooLong,
    /// More than [`MAX_PATH_DEPTH`] segments.
    #[error("path is too deep")]
    TooDeep,
    /// A `.` or `..` segment.
    #[error("path has a '.' or '..' segment")]
    Traversal,
    /// Control characters, spaces or non-ASCII bytes.
    #[error("path has characters outside printable ASCII")]
    BadCharacter,
}

/// A normalised request path: its segments, and whether it ended with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestPath {
    /// The non-empty segments, in order.
    pub segments: Vec<String>,
    /// True when the path ended with `/` (or is `/`).
    pub trailing_slash: bool,
}

impl RequestPath {
    /// The segments joined with `/`, without leading or trailing slash.
    pub fn joined(&self) -> String {
        self.segments.join("/")
    }
}

impl fmt::Display for RequestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("/")?;
        f.write_str(&self.segments.join("/"))?;
        if self.trailing_slash && !self.segments.is_empty() {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// Parses a request target: drops any `?query` or `#fragment`, collapses repeated slashes,
/// refuses `.`/`..` segments, and bounds length and depth. Percent-escapes are left as they are
/// (no IMDS name contains `%`, so an escaped name is simply not found).
///
/// Normalisation is idempotent: parsing the [`Display`](fmt::Display) of a result gives it back.
pub fn parse_path(target: &str) -> Result<RequestPath, PathError> {
    let p = parse_path_ref(target)?;
    Ok(RequestPath {
        segments: p.segments().map(str::to_owned).collect(),
        trailing_slash: p.trailing_slash,
    })
}

/// A checked request path borrowed from the request: [`parse_path`] without the allocations,
/// for the service's hot path. Same rules, same errors.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PathRef<'a> {
    /// The path with query and fragment removed; starts with `/`.
    path: &'a str,
    /// True when the path ended with `/` (or is `/`).
    pub trailing_slash: bool,
}

impl<'a> PathRef<'a> {
    /// The non-empty segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.path.split('/').filter(|s| !s.is_empty())
    }

    /// The first segment and everything after it joined with `/` (no leading or trailing
    /// slash), or `None` for `/`. Borrowed unless the path had repeated slashes inside.
    pub fn split_first(&self) -> Option<(&'a str, std::borrow::Cow<'a, str>)> {
        let trimmed = self.path.trim_start_matches('/');
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        if first.is_empty() {
            return None;
        }
        let rest = rest.trim_matches('/');
        if rest.contains("//") {
            let joined: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
            Some((first, std::borrow::Cow::Owned(joined.join("/"))))
        } else {
            Some((first, std::borrow::Cow::Borrowed(rest)))
        }
    }
}

/// The checks of [`parse_path`], borrowing instead of copying.
pub(crate) fn parse_path_ref(target: &str) -> Result<PathRef<'_>, PathError> {
    let end = target
        .bytes()
        .position(|b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let path = &target[..end];
    if path.len() > MAX_PATH_LEN {
        return Err(PathError::TooLong);
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    if !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PathError::BadCharacter);
    }
    for (depth, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        if seg == "." || seg == ".." {
            return Err(PathError::Traversal);
        }
        if depth == MAX_PATH_DEPTH {
            return Err(PathError::TooDeep);
        }
    }
    Ok(PathRef {
        path,
        trailing_slash: path.ends_with('/'),
    })
}

/// One line of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListingEntry {
    /// The name as printed, without a trailing `/` (for `public-keys/`, `0=my-key`).
    pub name: String,
    /// True when the line ended with `/` (a sub-directory).
    pub is_dir: bool,
}

impl ListingEntry {
    /// The path segment this entry stands for: `0=my-key` names `0`, `iam/` names `iam`.
    pub fn segment(&self) -> &str {
        match self.name.split_once('=') {
            Some((index, _)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
                index
            }
            _ => &self.name,
        }
    }
}

/// Why a listing body is not a well-formed listing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListingError {
    /// The body was not UTF-8.
    #[error("listing is not UTF-8")]
    NotUtf8,
    /// Line `line` (1-based) was empty.
    #[error("listing line {line} is empty")]
    EmptyLine {
        /// 1-based line number.
        line: usize,
    },
    /// Line `line` has characters a listing entry never has.
    #[error("listing line {line} has an outer space, a control character or a stray '/'")]
    BadEntry {
        /// 1-based line number.
        line: usize,
    },
    /// More than [`MAX_LISTING_ENTRIES`] lines.
    #[error("listing has more than {MAX_LISTING_ENTRIES} entries")]
    TooManyEntries,
}

/// A parsed listing, and whether the body ended with a line feed (EC2's sub-listings do not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The entries in the order served.
    pub entries: Vec<ListingEntry>,
    /// True when the body ended with `\n`.
    pub final_newline: bool,
}

impl Listing {
    /// Renders the listing as EC2 does: entries joined by LF, `/` after directories, and a
    /// final LF only when `final_newline` says so. This is the exact inverse of
    /// [`parse_listing`], including for a body that is a lone LF.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&e.name);
            if e.is_dir {
                out.push('/');
            }
        }
        if self.final_newline {
            out.push('\n');
        }
        out
    }
}

/// Parses a directory listing body (LF-separated; a CR before the LF is tolerated and
/// dropped). An empty body is an empty listing.
pub fn parse_listing(body: &[u8]) -> Result<Listing, ListingError> {
    let text = std::str::from_utf8(body).map_err(|_| ListingError::NotUtf8)?;
    let final_newline = text.ends_with('\n');
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut entries = Vec::new();
    if text.is_empty() {
        return Ok(Listing {
            entries,
            final_newline,
        });
    }
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        if entries.len() == MAX_LISTING_ENTRIES {
            return Err(ListingError::TooManyEntries);
        }
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.is_empty() {
            return Err(ListingError::EmptyLine { line });
        }
        let (name, is_dir) = match raw.strip_suffix('/') {
            Some(n) => (n, true),
            None => (raw, false),
        };
        // Key-pair names (`0=my key`) may hold inner spaces; nothing listed starts or ends
        // with one.
        if name.is_empty()
            || name.contains('/')
            || name.starts_with(' ')
            || name.ends_with(' ')
            || name.chars().any(char::is_control)
        {
            return Err(ListingError::BadEntry { line });
        }
        entries.push(ListingEntry {
            name: name.to_owned(),
            is_dir,
        });
    }
    Ok(Listing {
        entries,
        final_newline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_edges() {
        assert_eq!(parse_ttl(b"1"), Ok(1));
        assert_eq!(parse_ttl(b"21600"), Ok(21600));
        assert_eq!(parse_ttl(b"0005"), Ok(5));
        assert_eq!(parse_ttl(b"0000000000000000021600"), Ok(21600));
        assert_eq!(parse_ttl(b"0"), Err(TtlError::OutOfRange));
        assert_eq!(parse_ttl(b"21601"), Err(TtlError::OutOfRange));
        assert_eq!(
            parse_ttl(b"99999999999999999999"),
            Err(TtlError::OutOfRange)
        );
        assert_eq!(parse_ttl(b""), Err(TtlError::Empty));
        for bad in [&b"-1"[..], b"+5", b" 5", b"5.0", b"abc", b"5 ", b"\xff"] {
            assert_eq!(parse_ttl(bad), Err(TtlError::NotANumber), "{bad:?}");
        }
    }

    #[test]
    fn token_header_shapes() {
        assert_eq!(parse_token_header(b"AQAEA-_x=="), Ok("AQAEA-_x=="));
        assert_eq!(parse_token_header(b""), Err(TokenHeaderError::Empty));
        assert_eq!(
            parse_token_header(b"a b"),
            Err(TokenHeaderError::BadCharacter)
        );
        assert_eq!(
            parse_token_header(&[b'a'; MAX_TOKEN_LEN + 1]),
            Err(TokenHeaderError::TooLong)
        );
    }

    #[test]
    fn paths_normalise() {
        let p = parse_path("/latest//meta-data/?x=1").unwrap();
        assert_eq!(p.segments, ["latest", "meta-data"]);
        assert!(p.trailing_slash);
        assert_eq!(p.to_string(), "/latest/meta-data/");
        assert_eq!(parse_path(&p.to_string()).unwrap(), p);
        let root = parse_path("/").unwrap();
        assert!(root.segments.is_empty() && root.trailing_slash);
        assert_eq!(root.to_string(), "/");
        assert_eq!(parse_path("/latest/../x"), Err(PathError::Traversal));
        assert_eq!(parse_path("latest"), Err(PathError::NotAbsolute));
        assert_eq!(parse_path("/a b"), Err(PathError::BadCharacter));
        assert_eq!(parse_path(&"/a".repeat(40)), Err(PathError::TooDeep));
    }

    #[test]
    fn borrowed_paths_match_owned_ones() {
        for target in [
            "/",
            "//",
            "/latest",
            "/latest/",
            "/latest/meta-data/iam/",
            "/latest//meta-data//iam//info/?q",
            "/latest/meta-data#frag",
        ] {
            let owned = parse_path(target).unwrap();
            let borrowed = parse_path_ref(target).unwrap();
            let split = borrowed.split_first();
            match owned.segments.split_first() {
                None => assert!(split.is_none(), "{target}"),
                Some((first, rest)) => {
                    let (f, r) = split.unwrap();
                    assert_eq!((f, r.as_ref()), (first.as_str(), rest.join("/").as_str()));
                }
            }
            assert_eq!(borrowed.trailing_slash, owned.trailing_slash);
        }
    }

    #[test]
    fn listings_parse_and_render() {
        let body = b"ami-id\niam/\n0=my-key";
        let l = parse_listing(body).unwrap();
        assert_eq!(l.entries.len(), 3);
        assert!(l.entries[1].is_dir);
        assert_eq!(l.entries[2].segment(), "0");
        assert_eq!(l.entries[1].segment(), "iam");
        assert!(!l.final_newline);
        assert_eq!(l.render().as_bytes(), body);
        assert!(parse_listing(b"a\n\nb").is_err());
        assert!(parse_listing(b"a/b").is_err());
        assert_eq!(
            parse_listing(b"0=my key").unwrap().entries[0].segment(),
            "0"
        );
        assert!(parse_listing(b" a").is_err() && parse_listing(b"a ").is_err());
        assert!(parse_listing(b"").unwrap().entries.is_empty());
        assert!(parse_listing(b"latest\n").unwrap().final_newline);
    }
}
