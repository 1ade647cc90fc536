//! A 32-byte secret: root, chain, header and message keys, X25519 scalars
//! (docs/PROTOCOL.md, section 2.5).
//!
//! Zeroized on drop, never `Copy`, compared in constant time, `Debug` redacted.

use core::fmt;

use serde::{Deserialize, Serialize};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 32-byte secret value.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub(crate) struct Secret32([u8; 32]);

impl Secret32 {
    /// Wraps `bytes`; the caller zeroizes its own copy if it has one.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The secret bytes.
    pub(crate) fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for Secret32 {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}
