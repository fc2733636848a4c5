//! IMDSv2 session tokens: stateless, keyed-MAC protected, 56 characters like EC2's.
//!
//! A token is 40 bytes in URL-safe base64 with padding (56 characters):
//! `01 00 04 | issued-at ms (u64 BE) | TTL s (u16 BE) | nonce (u64 BE) | HMAC-SHA256[..19]`.
//! The MAC covers every byte before it, keyed by a per-instance secret, so nothing is stored
//! per token and a token from another instance (another key) never verifies.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::clock::Timestamp;
use crate::parse::{MAX_TTL, MIN_TTL};

/// Length of every issued token, in characters.
pub const TOKEN_LEN: usize = 56;
const RAW_LEN: usize = 40;
const HEADER_LEN: usize = 21;
const MAC_LEN: usize = RAW_LEN - HEADER_LEN;
const PREFIX: [u8; 3] = [0x01, 0x00, 0x04];

/// A secret key for one model instance. Supply real randomness in servers.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        TokenKey(bytes)
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

/// What a presented token turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenCheck {
    /// Issued here and still live; `remaining` whole seconds of life, as EC2 echoes them.
    Valid {
        /// Remaining lifetime in seconds (the granted TTL right after issue).
        remaining: u32,
    },
    /// Issued here but its TTL has run out.
    Expired,
    /// Not a token this authority issued (wrong shape, wrong key, tampered).
    Invalid,
}

/// A token just issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token text for the response body.
    pub token: String,
    /// The granted TTL in seconds (echoed in the response header).
    pub ttl: u32,
}

/// Issues and checks tokens for one instance. Deterministic: the same key, clock readings and
/// order of calls give the same tokens.
#[derive(Debug)]
pub struct TokenAuthority {
    mac: Hmac<Sha256>,
    counter: AtomicU64,
}

impl TokenAuthority {
    /// An authority keyed by `key`.
    pub fn new(key: &TokenKey) -> Self {
        // HMAC takes keys of any length, so this cannot fail.
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        TokenAuthority {
            mac,
            counter: AtomicU64::new(0),
        }
    }

    /// Issues a token valid for `ttl` seconds from `now`; `ttl` is clamped into 1..=21600.
    pub fn issue(&self, now: Timestamp, ttl: u32) -> IssuedToken {
        let ttl = ttl.clamp(MIN_TTL, MAX_TTL);
        let nonce = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut raw = [0u8; RAW_LEN];
        raw[..3].copy_from_slice(&PREFIX);
        raw[3..11].copy_from_slice(&now.as_millis().to_be_bytes());
        raw[11..13].copy_from_slice(&(ttl as u16).to_be_bytes());
        raw[13..21].copy_from_slice(&nonce.to_be_bytes());
        let tag = self.tag(&raw[..HEADER_LEN]);
        raw[HEADER_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        IssuedToken {
            token: URL_SAFE.encode(raw),
            ttl,
        }
    }

    /// Checks a presented token at time `now`. A token is valid while its age is under its
    /// TTL; at exactly TTL seconds it has expired. A token "from the future" (issued after
    /// `now`, e.g. after a clock was set back) is treated as just issued.
    pub fn check(&self, token: &str, now: Timestamp) -> TokenCheck {
        let Some(raw) = decode(token) else {
            return TokenCheck::Invalid;
        };
        let tag = self.tag(&raw[..HEADER_LEN]);
        if !bool::from(tag[..MAC_LEN].ct_eq(&raw[HEADER_LEN..])) {
            return TokenCheck::Invalid;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&raw[3..11]);
        let issued = u64::from_be_bytes(issued);
        let ttl = u64::from(u16::from_be_bytes([raw[11], raw[12]]));
        let age_ms = now.as_millis().saturating_sub(issued);
        if age_ms >= ttl * 1000 {
            return TokenCheck::Expired;
        }
        TokenCheck::Valid {
            remaining: (ttl - age_ms / 1000) as u32,
        }
    }

    fn tag(&self, header: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(header);
        mac.finalize().into_bytes().into()
    }
}

fn decode(token: &str) -> Option<[u8; RAW_LEN]> {
    if token.len() != TOKEN_LEN {
        return None;
    }
    let mut raw = [0u8; RAW_LEN + 2];
    let n = URL_SAFE.decode_slice(token, &mut raw).ok()?;
    if n != RAW_LEN || raw[..3] != PREFIX {
        return None;
    }
    let mut out = [0u8; RAW_LEN];
    out.copy_from_slice(&raw[..RAW_LEN]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authority(byte: u8) -> TokenAuthority {
        TokenAuthority::new(&TokenKey::new([byte; 32]))
    }

    #[test]
    fn token_looks_like_ec2s() {
        let t = authority(1).issue(Timestamp::from_secs(1000), 21600);
        assert_eq!(t.token.len(), TOKEN_LEN);
        assert!(t.token.starts_with("AQAE"), "{}", t.token);
        assert!(t.token.ends_with("=="), "{}", t.token);
        assert_eq!(t.ttl, 21600);
    }

    #[test]
    fn expiry_is_exact_at_the_boundary() {
        let a = authority(1);
        let t0 = Timestamp::from_secs(1000);
        let t = a.issue(t0, 2);
        assert_eq!(a.check(&t.token, t0), TokenCheck::Valid { remaining: 2 });
        assert_eq!(
            a.check(&t.token, Timestamp(t0.0 + 999)),
            TokenCheck::Valid { remaining: 2 }
        );
        assert_eq!(
            a.check(&t.token, Timestamp(t0.0 + 1000)),
            TokenCheck::Valid { remaining: 1 }
        );
        assert_eq!(
            a.check(&t.token, Timestamp(t0.0 + 1999)),
            TokenCheck::Valid { remaining: 1 }
        );
        assert_eq!(
            a.check(&t.token, Timestamp(t0.0 + 2000)),
            TokenCheck::Expired
        );
    }

    #[test]
    fn other_keys_and_tampering_are_invalid() {
        let now = Timestamp::from_secs(5);
        let t = authority(1).issue(now, 60);
        assert_eq!(authority(2).check(&t.token, now), TokenCheck::Invalid);
        let mut bytes = t.token.clone().into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(authority(1).check(&tampered, now), TokenCheck::Invalid);
        assert_eq!(authority(1).check("", now), TokenCheck::Invalid);
        assert_eq!(authority(1).check(&t.token[..55], now), TokenCheck::Invalid);
    }

    #[test]
    fn tokens_are_distinct_and_deterministic() {
        let now = Timestamp::from_secs(5);
        let (a, b) = (authority(3), authority(3));
        let (x, y) = (a.issue(now, 60), a.issue(now, 60));
        assert_ne!(x.token, y.token);
        assert_eq!(b.issue(now, 60).token, x.token);
    }
}
