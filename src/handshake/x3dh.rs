//! The X3DH key agreement with a sealed initiator identity (docs/PROTOCOL.md, section 3.1).
//!
//! DH1 = DH(IK_A, SPK_B), DH2 = DH(EK_A, IK_B), DH3 = DH(EK_A, SPK_B),
//! DH4 = DH(EK_A, OPK_B) when a one-time prekey is used. Beyond the X3DH specification the
//! initiator's identity key travels sealed under a key derived from DH3, so a relay, which
//! cannot compute DH3, cannot tell who starts a conversation.

use rand_core::CryptoRng;

use super::bundle::PrekeyBundle;
use crate::crypto::aead;
use crate::crypto::kdf::{sealed_identity_key, x3dh_secret};
use crate::crypto::keys::{DhKeyPair, IdentityKey, IdentityKeyPair, check_x25519_canonical};
use crate::crypto::secret::Secret32;
use crate::error::{Error, Result};
use crate::wire::{INITIAL_PREFIX_LEN, InitialPrefix, SEALED_IDENTITY_LEN, write_initial_prefix};

/// The associated data of the sealed identity: the initial prefix up to and including EK_A.
fn sealed_identity_ad(prefix: &InitialPrefix) -> Vec<u8> {
    let mut ad = Vec::with_capacity(INITIAL_PREFIX_LEN);
    write_initial_prefix(&mut ad, Some(prefix));
    ad.truncate(INITIAL_PREFIX_LEN - SEALED_IDENTITY_LEN);
    ad
}

/// The initiator's side: returns the shared secret SK and the initial prefix to send.
///
/// Randomness drawn, in order: EK_A (32 bytes), the sealed identity's nonce (24 bytes).
pub(crate) fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PrekeyBundle,
    rng: &mut R,
) -> Result<(Secret32, InitialPrefix)> {
    let ephemeral = DhKeyPair::generate(rng);
    let spk = bundle.signed_prekey();
    let dh1 = identity.dh(&spk.key)?;
    let dh2 = ephemeral.dh(bundle.identity().x25519())?;
    let dh3 = ephemeral.dh(&spk.key)?;
    let dh4 = match bundle.one_time_prekey() {
        Some(otp) => Some(ephemeral.dh(&otp.key)?),
        None => None,
    };
    let sk = match &dh4 {
        Some(dh4) => x3dh_secret(&[&dh1, &dh2, &dh3, dh4]),
        None => x3dh_secret(&[&dh1, &dh2, &dh3]),
    };
    let mut prefix = InitialPrefix {
        signed_prekey_id: spk.id,
        one_time_prekey_id: bundle.one_time_prekey().map(|p| p.id),
        base_key: *ephemeral.public(),
        sealed_identity: [0u8; SEALED_IDENTITY_LEN],
    };
    let key = sealed_identity_key(&dh3, ephemeral.public(), &spk.key, bundle.identity().as_bytes());
    let mut sealed = Vec::with_capacity(SEALED_IDENTITY_LEN);
    aead::seal_into(
        &mut sealed,
        &key,
        &sealed_identity_ad(&prefix),
        identity.public().as_bytes(),
        rng,
    )
    .map_err(|_| Error::PlaintextTooLong)?;
    prefix.sealed_identity.copy_from_slice(&sealed);
    Ok((sk, prefix))
}

/// Opens the sealed initiator identity. Returns it with DH3.
pub(crate) fn open_identity(
    own: &IdentityKeyPair,
    signed_prekey: &DhKeyPair,
    prefix: &InitialPrefix,
) -> Result<(IdentityKey, Secret32)> {
    check_x25519_canonical(&prefix.base_key)?;
    let dh3 = signed_prekey.dh(&prefix.base_key)?;
    let key = sealed_identity_key(
        &dh3,
        &prefix.base_key,
        signed_prekey.public(),
        own.public().as_bytes(),
    );
    let opened = aead::open(&key, &sealed_identity_ad(prefix), &prefix.sealed_identity)
        .map_err(|_| Error::SealedIdentity)?;
    let bytes: &[u8; 32] = opened.as_slice().try_into().map_err(|_| Error::SealedIdentity)?;
    Ok((IdentityKey::from_bytes(bytes)?, dh3))
}

/// The responder's side: returns SK and the initiator's identity.
pub(crate) fn respond(
    own: &IdentityKeyPair,
    signed_prekey: &DhKeyPair,
    one_time_prekey: Option<&DhKeyPair>,
    prefix: &InitialPrefix,
) -> Result<(Secret32, IdentityKey)> {
    let (initiator, dh3) = open_identity(own, signed_prekey, prefix)?;
    let dh1 = signed_prekey.dh(initiator.x25519())?;
    let dh2 = own.dh(&prefix.base_key)?;
    let sk = match one_time_prekey {
        Some(otp) => x3dh_secret(&[&dh1, &dh2, &dh3, &otp.dh(&prefix.base_key)?]),
        None => x3dh_secret(&[&dh1, &dh2, &dh3]),
    };
    Ok((sk, initiator))
}
