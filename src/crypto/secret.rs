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

/// Wipes the spare capacity of a vector of secret-holding values: the slots a `remove`,
/// `drain` or `truncate` shifted values out of still hold bitwise copies of them, which
/// no destructor reaches. Call it after every such change and before the vector is freed.
pub(crate) fn wipe_spare<T>(values: &mut Vec<T>) {
    values.spare_capacity_mut().zeroize();
}

/// Drops every value of a vector of secret-holding values, then wipes its whole block:
/// besides the values' own zeroization, this reaches the bytes no destructor owns (the
/// payload area of a `None`, padding), which moves may have filled with copies of secrets.
/// For `Drop` implementations.
pub(crate) fn wipe_all<T>(values: &mut Vec<T>) {
    values.clear();
    wipe_spare(values);
}

/// Makes room for `additional` more values without letting the allocator move them: a
/// reallocation would free the old block with every value still in it. The values move
/// to a new block, and the old block is wiped before it is freed.
pub(crate) fn reserve_wiping<T>(values: &mut Vec<T>, additional: usize) {
    let needed = values.len().saturating_add(additional);
    if needed <= values.capacity() {
        return;
    }
    let mut grown = Vec::with_capacity(needed.max(values.capacity().saturating_mul(2)));
    grown.append(values);
    wipe_spare(values);
    *values = grown;
}
