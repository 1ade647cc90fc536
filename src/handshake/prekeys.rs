//! Signed and one-time prekeys (docs/PROTOCOL.md, section 4.1).
//!
//! The signed prekey's signature covers a domain-separated encoding of its id and key:
//! `"hemlis/v1/signed-prekey" || id (u32) || key (32)`.

use serde::{Deserialize, Serialize};

use crate::crypto::keys::{DhKeyPair, IdentityKey, IdentityKeyPair};
use crate::error::Result;

/// Domain separation label of the signed prekey signature.
pub(crate) const SIGNED_PREKEY_LABEL: &[u8] = b"hemlis/v1/signed-prekey";

/// The message an identity signs to vouch for a signed prekey.
pub(crate) fn signed_prekey_message(id: u32, key: &[u8; 32]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGNED_PREKEY_LABEL.len() + 36);
    m.extend_from_slice(SIGNED_PREKEY_LABEL);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(key);
    m
}

/// The public half of a signed prekey, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPrekeyPublic {
    /// Prekey id, unique per device.
    pub id: u32,
    /// X25519 public key.
    pub key: [u8; 32],
    /// Ed25519 signature by the device identity over the id and key.
    pub signature: [u8; 64],
}

impl SignedPrekeyPublic {
    /// Verifies the signature under `identity`.
    pub fn verify(&self, identity: &IdentityKey) -> Result<()> {
        identity.verify(&signed_prekey_message(self.id, &self.key), &self.signature)
    }
}

/// The public half of a one-time prekey, as published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OneTimePrekeyPublic {
    /// Prekey id, unique per device.
    pub id: u32,
    /// X25519 public key.
    pub key: [u8; 32],
}

/// A signed prekey held by its device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SignedPrekey {
    pub(crate) id: u32,
    pub(crate) pair: DhKeyPair,
    /// When it was created (seconds, the caller's clock).
    pub(crate) created_at: u64,
    /// When it was replaced by a newer one; it still answers until the grace period ends.
    pub(crate) retired_at: Option<u64>,
    /// Base keys of the initial messages accepted with it (replay record).
    pub(crate) seen: std::collections::BTreeSet<[u8; 32]>,
}

impl SignedPrekey {
    /// The published form; the signature is recomputed (Ed25519 is deterministic).
    pub(crate) fn public(&self, identity: &IdentityKeyPair) -> SignedPrekeyPublic {
        SignedPrekeyPublic {
            id: self.id,
            key: *self.pair.public(),
            signature: identity.sign(&signed_prekey_message(self.id, self.pair.public())),
        }
    }
}
