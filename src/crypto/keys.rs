//! Device identity and Diffie-Hellman keys (docs/PROTOCOL.md, section 2.1 and 2.2).
//!
//! A device identity is one Ed25519 key pair. It signs prekeys, and its X25519 form (the
//! birational map of RFC 7748, as libsodium's `crypto_sign_ed25519_*_to_curve25519`) does
//! the Diffie-Hellman of X3DH.

use core::fmt;

use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::secret::{DhOutput, Secret32, SecretBytes};
use crate::error::KeyError;
use crate::error::{Error, Result};

/// A device's long-term identity: an Ed25519 key pair. Zeroized on drop.
pub struct IdentityKeyPair {
    signing: Box<SigningKey>,
    dh: Secret32,
    public: IdentityKey,
}

impl IdentityKeyPair {
    /// Generates a new identity from 32 bytes of `rng` (the Ed25519 seed).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut_slice());
        Self::from_seed(&seed)
    }

    /// Rebuilds an identity from its 32-byte Ed25519 seed.
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        let signing = Box::new(SigningKey::from_bytes(seed));
        let dh = Secret32::from_bytes(signing.to_scalar_bytes());
        let verifying = signing.verifying_key();
        let public = IdentityKey {
            x25519: verifying.to_montgomery().to_bytes(),
            key: verifying,
        };
        Self { signing, dh, public }
    }

    /// The 32-byte Ed25519 seed, for serialization.
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.signing.to_bytes())
    }

    /// The public identity key.
    pub fn public(&self) -> &IdentityKey {
        &self.public
    }

    /// Signs `message` with the identity key.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }

    /// X25519 with the identity's Montgomery form.
    pub(crate) fn dh(&self, their_public: &[u8; 32]) -> Result<DhOutput> {
        dh(&self.dh, their_public)
    }
}

impl Clone for IdentityKeyPair {
    fn clone(&self) -> Self {
        Self::from_seed(&self.seed())
    }
}

impl fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// A device's public identity: a validated Ed25519 public key (32 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityKey {
    key: VerifyingKey,
    x25519: [u8; 32],
}

impl IdentityKey {
    /// Parses and validates a public identity key: the encoding must be canonical and the
    /// point must not be of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| Error::Key(KeyError::InvalidPublicKey))?;
        // from_bytes accepts a y coordinate >= p; re-encoding exposes that.
        if key.to_edwards().compress().as_bytes() != bytes || key.is_weak() {
            return Err(Error::Key(KeyError::InvalidPublicKey));
        }
        Ok(Self {
            x25519: key.to_montgomery().to_bytes(),
            key,
        })
    }

    /// The 32-byte Ed25519 encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The 32-byte Ed25519 encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The X25519 (Montgomery) form used for Diffie-Hellman.
    pub(crate) fn x25519(&self) -> &[u8; 32] {
        &self.x25519
    }

    /// Verifies a strict Ed25519 signature (canonical `S`, no small-order `R` or key).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8; 64]) -> Result<()> {
        let signature = Signature::from_bytes(signature);
        self.key
            .verify_strict(message, &signature)
            .map_err(|_| Error::Key(KeyError::BadSignature))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl Serialize for IdentityKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> core::result::Result<S::Ok, S::Error> {
        self.as_bytes().serialize(s)
    }
}

impl<'de> Deserialize<'de> for IdentityKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        let bytes = <[u8; 32]>::deserialize(d)?;
        Self::from_bytes(&bytes).map_err(|_| serde::de::Error::custom("invalid identity key"))
    }
}

/// An X25519 key pair: signed, one-time and ratchet keys.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub(crate) struct DhKeyPair {
    secret: Secret32,
    #[zeroize(skip)]
    public: [u8; 32],
}

impl DhKeyPair {
    /// Generates a key pair from 32 bytes of `rng` (the X25519 scalar, clamped when used).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut scalar = [0u8; 32];
        rng.fill_bytes(&mut scalar);
        let secret = StaticSecret::from(scalar);
        scalar.zeroize();
        let public = PublicKey::from(&secret).to_bytes();
        Self {
            secret: Secret32::from_bytes(secret.to_bytes()),
            public,
        }
    }

    /// The public key.
    pub(crate) fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// X25519 with this key pair's secret.
    pub(crate) fn dh(&self, their_public: &[u8; 32]) -> Result<DhOutput> {
        dh(&self.secret, their_public)
    }
}

impl fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DhKeyPair(<redacted>)")
    }
}

/// X25519, refusing an all-zero (non-contributory) output.
fn dh(secret: &Secret32, their_public: &[u8; 32]) -> Result<DhOutput> {
    let secret = StaticSecret::from(*secret.expose());
    let shared = secret.diffie_hellman(&PublicKey::from(*their_public));
    if !shared.was_contributory() {
        return Err(Error::Key(KeyError::NonContributoryKey));
    }
    Ok(DhOutput::from_bytes(shared.to_bytes()))
}

/// Rejects a non-canonical X25519 encoding: the top bit set, or `u >= 2^255 - 19`.
///
/// Small-order keys that pass this check give an all-zero shared secret, which [`dh`]
/// refuses, so this is enough for ratchet keys, which are used in exactly one DH each.
pub(crate) fn check_x25519_canonical(u: &[u8; 32]) -> Result<()> {
    let top_bit = u[31] & 0x80 != 0;
    let at_least_p = u[31] == 0x7f && u[1..31].iter().all(|&b| b == 0xff) && u[0] >= 0xed;
    if top_bit || at_least_p {
        return Err(Error::Key(KeyError::InvalidPublicKey));
    }
    Ok(())
}

/// Full validation of a published X25519 prekey: canonical, on the curve (not its twist),
/// and not of small order.
pub(crate) fn check_x25519_prekey(u: &[u8; 32]) -> Result<()> {
    check_x25519_canonical(u)?;
    match MontgomeryPoint(*u).to_edwards(0) {
        Some(point) if !point.is_small_order() => Ok(()),
        _ => Err(Error::Key(KeyError::InvalidPublicKey)),
    }
}
