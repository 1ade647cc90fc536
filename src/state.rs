//! Versioned serialization of sans-IO state (docs/PROTOCOL.md, section 9):
//! `state version (1) || kind (1) || postcard body`.
//!
//! The version lets a later release migrate old state; the kind stops one sort of state
//! being restored as another. Decoding is strict: no trailing bytes, bounded allocation
//! (postcard caps preallocation by the input length), limits checked by the caller.

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::error::InternalError;
use crate::error::{Result, StateError};

/// The state format this release writes and reads.
pub(crate) const STATE_VERSION: u8 = 1;
/// Kind byte of a serialized [`crate::Account`].
pub(crate) const KIND_ACCOUNT: u8 = 1;
/// Kind byte of a serialized [`crate::Session`].
pub(crate) const KIND_SESSION: u8 = 2;
/// Kind byte of serialized [`crate::PeerSessions`].
pub(crate) const KIND_PEER_SESSIONS: u8 = 3;

/// Counts the bytes postcard writes, without keeping them.
struct Count(usize);

impl Extend<u8> for Count {
    fn extend<I: IntoIterator<Item = u8>>(&mut self, bytes: I) {
        self.0 += bytes.into_iter().count();
    }
}

/// Serializes `value` (postcard, no header) into a zeroizing buffer of exactly the right
/// size, counted first, so the buffer never grows and leaves no copy in freed memory: the
/// encoder of the client's records (docs/PROTOCOL.md, sections 2.5 and 12.3).
pub(crate) fn to_exact_vec<T: Serialize>(value: &T) -> Option<Zeroizing<Vec<u8>>> {
    let Count(len) = postcard::to_extend(value, Count(0)).ok()?;
    let out = Zeroizing::new(Vec::with_capacity(len));
    let mut out = out;
    let body = postcard::to_extend(value, core::mem::take(&mut *out)).ok()?;
    *out = body;
    Some(out)
}

/// Serializes `value` into a zeroizing buffer of exactly the right size: a first pass
/// counts the bytes, so the buffer never grows and leaves no copy of a secret in freed
/// memory.
pub(crate) fn encode<T: Serialize>(kind: u8, value: &T) -> Result<Zeroizing<Vec<u8>>> {
    let Count(len) = postcard::to_extend(value, Count(0)).map_err(|_| InternalError::Encode)?;
    let mut out = Zeroizing::new(Vec::with_capacity(2 + len));
    out.push(STATE_VERSION);
    out.push(kind);
    let body = postcard::to_extend(value, core::mem::take(&mut *out)).map_err(|_| InternalError::Encode)?;
    *out = body;
    Ok(out)
}

/// Restores a value written by [`encode`] with the same kind.
pub(crate) fn decode<T: DeserializeOwned>(kind: u8, bytes: &[u8]) -> Result<T> {
    let [version, found_kind, body @ ..] = bytes else {
        return Err(StateError::Malformed.into());
    };
    if *version != STATE_VERSION {
        return Err(StateError::UnsupportedVersion(*version).into());
    }
    if *found_kind != kind {
        return Err(StateError::Malformed.into());
    }
    let (value, rest) = postcard::take_from_bytes(body).map_err(|_| StateError::Malformed)?;
    if !rest.is_empty() {
        return Err(StateError::Malformed.into());
    }
    Ok(value)
}
