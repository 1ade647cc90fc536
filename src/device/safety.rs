//! Safety numbers (docs/PROTOCOL.md, section 12.4): what two people compare out of band to
//! be sure no one sits between their devices.
//!
//! Each side's fingerprint is `SHA-512` iterated 5,200 times: `h0 = SHA-512(0x00 0x01 ||
//! IK || user)`, `h(i+1) = SHA-512(h(i) || IK)`. Its first 30 bytes, as six 5-byte big-endian
//! numbers modulo 100,000, give 30 digits. The safety number is the two 30-digit strings,
//! smaller first (so both sides see the same 60 digits); its byte form (for a QR code) is
//! `version 0x01 || first 32 bytes of the smaller fingerprint || of the larger`.

use sha2::{Digest, Sha512};

use crate::IdentityKey;

const ITERATIONS: usize = 5200;

/// A safety number for a pair of users, over their account keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafetyNumber {
    /// 60 digits, in 12 groups of 5 when displayed.
    pub digits: String,
    /// The byte form, 65 bytes, for a QR code.
    pub bytes: Vec<u8>,
}

fn fingerprint(identity: &IdentityKey, user: &str) -> [u8; 64] {
    let mut hash = Sha512::new();
    hash.update([0x00, 0x01]);
    hash.update(identity.as_bytes());
    hash.update(user.as_bytes());
    let mut h: [u8; 64] = hash.finalize().into();
    for _ in 1..ITERATIONS {
        let mut hash = Sha512::new();
        hash.update(h);
        hash.update(identity.as_bytes());
        h = hash.finalize().into();
    }
    h
}

fn digits(fp: &[u8; 64]) -> String {
    fp[..30]
        .chunks_exact(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            format!("{:05}", n % 100_000)
        })
        .collect()
}

/// The safety number of two (user, account key) pairs; the order of the pairs does not
/// matter.
pub fn safety_number(a_user: &str, a: &IdentityKey, b_user: &str, b: &IdentityKey) -> SafetyNumber {
    let (fa, fb) = (fingerprint(a, a_user), fingerprint(b, b_user));
    let (da, db) = (digits(&fa), digits(&fb));
    let ((d1, f1), (d2, f2)) = if da <= db {
        ((da, fa), (db, fb))
    } else {
        ((db, fb), (da, fa))
    };
    let mut bytes = Vec::with_capacity(65);
    bytes.push(0x01);
    bytes.extend_from_slice(&f1[..32]);
    bytes.extend_from_slice(&f2[..32]);
    SafetyNumber {
        digits: d1 + &d2,
        bytes,
    }
}
