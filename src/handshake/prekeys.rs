//! Signed and one-time prekeys (docs/PROTOCOL.md, section 4.1).
//!
//! The signed prekey's signature covers a domain-separated encoding of its id and key:
//! `"hemlis/v1/signed-prekey" || id (u32) || key (32)`; a KEM prekey's signature covers
//! `"hemlis/v1/kem-prekey" || id (u32) || kind (1) || key (1184)`.

use serde::{Deserialize, Serialize};

use crate::crypto::kem::KemKeyPair;
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

/// Domain separation label of the KEM prekey signature.
pub(crate) const KEM_PREKEY_LABEL: &[u8] = b"hemlis/v1/kem-prekey";

/// The message an identity signs to vouch for a KEM prekey.
pub(crate) fn kem_prekey_message(id: u32, one_time: bool, key: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(KEM_PREKEY_LABEL.len() + 5 + key.len());
    m.extend_from_slice(KEM_PREKEY_LABEL);
    m.extend_from_slice(&id.to_be_bytes());
    m.push(u8::from(one_time));
    m.extend_from_slice(key);
    m
}

/// The public half of an ML-KEM-768 prekey, as published: the last-resort one (rotated
/// with the signed prekey) or a one-time one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KemPrekeyPublic {
    /// Prekey id, unique per device.
    pub id: u32,
    /// True for a one-time KEM prekey, false for the last-resort one.
    pub one_time: bool,
    /// ML-KEM-768 encapsulation key (1,184 bytes).
    pub key: Vec<u8>,
    /// Ed25519 signature by the device identity over id, kind and key.
    pub signature: [u8; 64],
}

impl KemPrekeyPublic {
    /// Verifies the signature under `identity`.
    pub fn verify(&self, identity: &IdentityKey) -> Result<()> {
        identity.verify(
            &kem_prekey_message(self.id, self.one_time, &self.key),
            &self.signature,
        )
    }

    pub(crate) fn sign(identity: &IdentityKeyPair, id: u32, one_time: bool, pair: &KemKeyPair) -> Self {
        let key = pair.public();
        Self {
            signature: identity.sign(&kem_prekey_message(id, one_time, &key)),
            id,
            one_time,
            key,
        }
    }
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
    /// The last-resort ML-KEM-768 prekey, rotated with this signed prekey.
    pub(crate) kem_id: u32,
    pub(crate) kem: KemKeyPair,
    /// When it was created (seconds, the caller's clock).
    pub(crate) created_at: u64,
    /// When it was replaced by a newer one; it still answers until the grace period ends.
    pub(crate) retired_at: Option<u64>,
    /// Base keys of the initial messages accepted with it, with or without its
    /// last-resort KEM prekey (replay record).
    pub(crate) seen: std::collections::BTreeSet<[u8; 32]>,
}

impl SignedPrekey {
    /// A new signed prekey with its last-resort KEM prekey. Randomness drawn, in order: the
    /// X25519 secret (32 bytes), the KEM seed (`d` 32, `z` 32).
    pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(
        id: u32,
        kem_id: u32,
        rng: &mut R,
        now: u64,
    ) -> Self {
        Self {
            id,
            pair: DhKeyPair::generate(rng),
            kem_id,
            kem: KemKeyPair::generate(rng),
            created_at: now,
            retired_at: None,
            seen: Default::default(),
        }
    }

    /// The published form; the signature is recomputed (Ed25519 is deterministic).
    pub(crate) fn public(&self, identity: &IdentityKeyPair) -> SignedPrekeyPublic {
        SignedPrekeyPublic {
            id: self.id,
            key: *self.pair.public(),
            signature: identity.sign(&signed_prekey_message(self.id, self.pair.public())),
        }
    }
}
