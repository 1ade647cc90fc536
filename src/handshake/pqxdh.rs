//! The PQXDH key agreement with a sealed initiator identity (docs/PROTOCOL.md, section 3.1).
//!
//! DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
//! DH4 = DH(EK_A, OPK_B) when a one-time prekey is used, and SS, the ML-KEM-768 shared
//! secret encapsulated to the responder's KEM prekey (PQXDH spec, section 3.3). Classical
//! X3DH (no SS) is run only for a peer explicitly allowed it.
//!
//! Beyond the specifications the initiator's identity key travels sealed under a key
//! derived from DH3 and SS, so a relay, which can compute neither, cannot tell who starts
//! a conversation, not even later with a quantum computer.

use rand_core::CryptoRng;

use super::bundle::PrekeyBundle;
use crate::crypto::aead;
use crate::crypto::kdf::{handshake_secret, sealed_identity_key};
use crate::crypto::kem::{KemKeyPair, check_public, encapsulate};
use crate::crypto::keys::{DhKeyPair, IdentityKey, IdentityKeyPair, check_x25519_canonical};
use crate::crypto::secret::{DhOutput, HandshakeSecret, KemSecret};
use crate::error::{Error, Result};
use crate::error::{HandshakeError, InternalError};
use crate::wire::{InitialPrefix, SEALED_IDENTITY_LEN, write_initial_prefix};

/// The associated data of the sealed identity: every initial-prefix byte before it.
fn sealed_identity_ad(prefix: &InitialPrefix) -> Vec<u8> {
    let mut ad = Vec::new();
    write_initial_prefix(&mut ad, Some(prefix));
    ad.truncate(ad.len() - SEALED_IDENTITY_LEN);
    ad
}

/// The initiator's side: returns the shared secret SK and the initial prefix to send.
/// A bundle without a KEM prekey is refused unless `allow_classical`.
///
/// Randomness drawn, in order: EK_A (32 bytes), the ML-KEM message (32, post-quantum
/// only), the sealed identity's nonce (24).
pub(crate) fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PrekeyBundle,
    allow_classical: bool,
    rng: &mut R,
) -> Result<(HandshakeSecret, InitialPrefix)> {
    let kem_key = match bundle.kem_prekey() {
        Some(kem) => Some((kem.id, check_public(&kem.key)?)),
        None if allow_classical => None,
        None => return Err(Error::Handshake(HandshakeError::ClassicalRefused)),
    };
    let ephemeral = DhKeyPair::generate(rng);
    let spk = bundle.signed_prekey();
    let dh1 = identity.dh(&spk.key)?;
    let dh2 = ephemeral.dh(bundle.identity().x25519())?;
    let dh3 = ephemeral.dh(&spk.key)?;
    let dh4 = match bundle.one_time_prekey() {
        Some(otp) => Some(ephemeral.dh(&otp.key)?),
        None => None,
    };
    let (kem, kem_secret) = match kem_key {
        Some((id, key)) => {
            let (ciphertext, secret) = encapsulate(&key, rng);
            (Some((id, ciphertext)), Some(secret))
        }
        None => (None, None),
    };
    let sk = match &dh4 {
        Some(dh4) => handshake_secret(&[&dh1, &dh2, &dh3, dh4], kem_secret.as_ref()),
        None => handshake_secret(&[&dh1, &dh2, &dh3], kem_secret.as_ref()),
    };
    let mut prefix = InitialPrefix {
        signed_prekey_id: spk.id,
        one_time_prekey_id: bundle.one_time_prekey().map(|p| p.id),
        kem,
        base_key: *ephemeral.public(),
        sealed_identity: [0u8; SEALED_IDENTITY_LEN],
    };
    let key = sealed_identity_key(
        &dh3,
        kem_secret.as_ref(),
        ephemeral.public(),
        &spk.key,
        bundle.identity().as_bytes(),
    );
    let mut sealed = Vec::with_capacity(SEALED_IDENTITY_LEN);
    aead::seal_into(
        &mut sealed,
        &key,
        &sealed_identity_ad(&prefix),
        identity.public().as_bytes(),
        rng,
    )
    .map_err(|_| InternalError::Seal)?;
    prefix.sealed_identity.copy_from_slice(&sealed);
    Ok((sk, prefix))
}

/// The responder's secrets for one initial message.
pub(crate) struct ResponderKeys<'a> {
    pub(crate) identity: &'a IdentityKeyPair,
    pub(crate) signed_prekey: &'a DhKeyPair,
    pub(crate) one_time_prekey: Option<&'a DhKeyPair>,
    /// Present exactly when the initial message carries a KEM ciphertext.
    pub(crate) kem_prekey: Option<&'a KemKeyPair>,
}

/// Opens the sealed initiator identity. Returns it with DH3 and SS.
pub(crate) fn open_identity(
    keys: &ResponderKeys<'_>,
    prefix: &InitialPrefix,
) -> Result<(IdentityKey, DhOutput, Option<KemSecret>)> {
    check_x25519_canonical(&prefix.base_key)?;
    let dh3 = keys.signed_prekey.dh(&prefix.base_key)?;
    let kem_secret = match (&prefix.kem, keys.kem_prekey) {
        (Some((_, ciphertext)), Some(pair)) => Some(pair.decapsulate(ciphertext)),
        (None, None) => None,
        _ => return Err(Error::Handshake(HandshakeError::UnknownKemPrekey)),
    };
    let key = sealed_identity_key(
        &dh3,
        kem_secret.as_ref(),
        &prefix.base_key,
        keys.signed_prekey.public(),
        keys.identity.public().as_bytes(),
    );
    let opened = aead::open(&key, &sealed_identity_ad(prefix), &prefix.sealed_identity)
        .map_err(|_| Error::Handshake(HandshakeError::SealedIdentity))?;
    let bytes: &[u8; 32] = opened
        .as_slice()
        .try_into()
        .map_err(|_| Error::Handshake(HandshakeError::SealedIdentity))?;
    Ok((IdentityKey::from_bytes(bytes)?, dh3, kem_secret))
}

/// The responder's side: returns SK and the initiator's identity.
pub(crate) fn respond(
    keys: &ResponderKeys<'_>,
    prefix: &InitialPrefix,
) -> Result<(HandshakeSecret, IdentityKey)> {
    let (initiator, dh3, kem_secret) = open_identity(keys, prefix)?;
    let dh1 = keys.signed_prekey.dh(initiator.x25519())?;
    let dh2 = keys.identity.dh(&prefix.base_key)?;
    let sk = match keys.one_time_prekey {
        Some(otp) => handshake_secret(
            &[&dh1, &dh2, &dh3, &otp.dh(&prefix.base_key)?],
            kem_secret.as_ref(),
        ),
        None => handshake_secret(&[&dh1, &dh2, &dh3], kem_secret.as_ref()),
    };
    Ok((sk, initiator))
}
