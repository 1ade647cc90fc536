//! The prekey bundle: build and verify (docs/PROTOCOL.md, section 4.2).
//!
//! "Parse, don't validate": a [`PrekeyBundle`] value exists only once its identity key,
//! prekeys and signature have been checked.

use super::prekeys::{KemPrekeyPublic, OneTimePrekeyPublic, SignedPrekeyPublic};
use crate::crypto::kem::check_public;
use crate::crypto::keys::{IdentityKey, check_x25519_prekey};
use crate::error::Result;
use crate::wire::{BundleFields, KemPrekeyFields};

/// A verified prekey bundle: what an initiator needs to start a session with a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrekeyBundle {
    identity: IdentityKey,
    signed_prekey: SignedPrekeyPublic,
    kem_prekey: Option<KemPrekeyPublic>,
    one_time_prekey: Option<OneTimePrekeyPublic>,
}

impl PrekeyBundle {
    /// Assembles and verifies a bundle from published parts. Keys are checked first, then
    /// the signatures. A bundle without a KEM prekey is valid here; initiating from it is
    /// refused unless classical X3DH is allowed for that peer.
    pub fn new(
        identity: IdentityKey,
        signed_prekey: SignedPrekeyPublic,
        kem_prekey: Option<KemPrekeyPublic>,
        one_time_prekey: Option<OneTimePrekeyPublic>,
    ) -> Result<Self> {
        check_x25519_prekey(&signed_prekey.key)?;
        if let Some(otp) = &one_time_prekey {
            check_x25519_prekey(&otp.key)?;
        }
        if let Some(kem) = &kem_prekey {
            check_public(&kem.key)?;
        }
        signed_prekey.verify(&identity)?;
        if let Some(kem) = &kem_prekey {
            kem.verify(&identity)?;
        }
        Ok(Self {
            identity,
            signed_prekey,
            kem_prekey,
            one_time_prekey,
        })
    }

    /// Decodes and verifies an encoded bundle.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let fields = BundleFields::decode(bytes)?;
        let identity = IdentityKey::from_bytes(&fields.identity_key)?;
        Self::new(
            identity,
            SignedPrekeyPublic {
                id: fields.signed_prekey_id,
                key: fields.signed_prekey,
                signature: fields.signed_prekey_signature,
            },
            fields.kem_prekey.map(|k| KemPrekeyPublic {
                id: k.id,
                one_time: k.one_time,
                key: k.key,
                signature: k.signature,
            }),
            fields
                .one_time_prekey
                .map(|(id, key)| OneTimePrekeyPublic { id, key }),
        )
    }

    /// Encodes the bundle.
    pub fn encode(&self) -> Vec<u8> {
        BundleFields {
            identity_key: self.identity.to_bytes(),
            signed_prekey_id: self.signed_prekey.id,
            signed_prekey: self.signed_prekey.key,
            signed_prekey_signature: self.signed_prekey.signature,
            kem_prekey: self.kem_prekey.as_ref().map(|k| KemPrekeyFields {
                id: k.id,
                one_time: k.one_time,
                key: k.key.clone(),
                signature: k.signature,
            }),
            one_time_prekey: self.one_time_prekey.map(|p| (p.id, p.key)),
        }
        .encode()
    }

    /// The device's identity key.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    /// The signed prekey.
    pub fn signed_prekey(&self) -> &SignedPrekeyPublic {
        &self.signed_prekey
    }

    /// The ML-KEM-768 prekey, if the bundle has one.
    pub fn kem_prekey(&self) -> Option<&KemPrekeyPublic> {
        self.kem_prekey.as_ref()
    }

    /// True if the bundle offers a post-quantum KEM prekey.
    pub fn is_post_quantum(&self) -> bool {
        self.kem_prekey.is_some()
    }

    /// The one-time prekey, if the bundle has one.
    pub fn one_time_prekey(&self) -> Option<&OneTimePrekeyPublic> {
        self.one_time_prekey.as_ref()
    }
}
