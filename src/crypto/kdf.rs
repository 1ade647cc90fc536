//! Every key derivation of hemlis (docs/PROTOCOL.md, section 3): the PQXDH (or classical
//! X3DH) secret, the ratchet initialisation, KDF_RK, KDF_CK and the sealed-identity key.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::secret::{
    ChainKey, DhOutput, HandshakeSecret, HeaderKey, KemSecret, MessageKey, RootKey, SealedIdentityKey,
    SecretBytes,
};

/// HKDF info of the PQXDH secret: names the protocol version, curve, hash and KEM.
pub(crate) const INFO_PQXDH: &[u8] = b"hemlis/v1/PQXDH/X25519/SHA-256/ML-KEM-768";
/// HKDF info of the classical X3DH secret (only for peers explicitly allowed it).
pub(crate) const INFO_X3DH: &[u8] = b"hemlis/v1/X3DH/X25519/SHA-256";
/// HKDF info that expands the X3DH secret into the first root key and two header keys.
pub(crate) const INFO_RATCHET_INIT: &[u8] = b"hemlis/v1/ratchet-init";
/// HKDF info of KDF_RK.
pub(crate) const INFO_ROOT: &[u8] = b"hemlis/v1/root";
/// HKDF info prefix of the key that seals the initiator's identity.
pub(crate) const INFO_SEALED_IDENTITY: &[u8] = b"hemlis/v1/sealed-identity";

/// 32 zero bytes: the HKDF salt where the spec names none.
const ZERO_SALT: [u8; 32] = [0u8; 32];

fn hkdf_expand<const N: usize>(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; N]> {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; N]);
    // N is at most 96 bytes here, far below HKDF-SHA256's limit of 255 * 32 bytes.
    let expanded = hk.expand_multi_info(info, okm.as_mut_slice());
    debug_assert!(expanded.is_ok());
    okm
}

fn take32<K: SecretBytes>(okm: &[u8], at: usize) -> K {
    let mut b = [0u8; 32];
    b.copy_from_slice(&okm[at..at + 32]);
    K::from_bytes(b)
}

/// The three 32-byte keys of a 96-byte output: a root key, then two keys of roles `A`, `B`.
fn split3<A: SecretBytes, B: SecretBytes>(okm: &[u8; 96]) -> (RootKey, A, B) {
    (take32(okm, 0), take32(okm, 32), take32(okm, 64))
}

/// The handshake secret:
/// `SK = HKDF(salt = 0^32, ikm = 0xFF^32 || DH1 || DH2 || DH3 [|| DH4] [|| SS], info)`, with
/// `info = INFO_PQXDH` when the ML-KEM shared secret `SS` is present, else `INFO_X3DH`.
pub(crate) fn handshake_secret(dh_outputs: &[&DhOutput], kem_secret: Option<&KemSecret>) -> HandshakeSecret {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (2 + dh_outputs.len())));
    ikm.extend_from_slice(&[0xFF; 32]);
    for dh in dh_outputs {
        ikm.extend_from_slice(dh.expose());
    }
    let info = match kem_secret {
        Some(ss) => {
            ikm.extend_from_slice(ss.expose());
            INFO_PQXDH
        }
        None => INFO_X3DH,
    };
    take32(hkdf_expand::<32>(&ZERO_SALT, &ikm, &[info]).as_slice(), 0)
}

/// Ratchet initialisation: `RK || HK_A || NHK_B = HKDF(salt = 0^32, ikm = SK, info = INFO_RATCHET_INIT)`.
///
/// `HK_A` is the initiator's first sending header key, `NHK_B` the responder's.
pub(crate) fn ratchet_init(sk: &HandshakeSecret) -> (RootKey, HeaderKey, HeaderKey) {
    split3(&hkdf_expand::<96>(&ZERO_SALT, sk.expose(), &[INFO_RATCHET_INIT]))
}

/// KDF_RK: `RK' || CK || NHK = HKDF(salt = RK, ikm = DH output, info = INFO_ROOT)`.
pub(crate) fn kdf_rk(rk: &RootKey, dh_out: &DhOutput) -> (RootKey, ChainKey, HeaderKey) {
    split3(&hkdf_expand::<96>(rk.expose(), dh_out.expose(), &[INFO_ROOT]))
}

/// KDF_CK: message key `HMAC-SHA256(CK, 0x01)`, next chain key `HMAC-SHA256(CK, 0x02)`.
pub(crate) fn kdf_ck(ck: &ChainKey) -> (MessageKey, ChainKey) {
    // HMAC pads a key shorter than the hash's 64-byte block with zeros, so keying with the
    // zero-padded block is HMAC under the 32-byte key, through the infallible constructor.
    let mut block = Zeroizing::new([0u8; 64]);
    block[..32].copy_from_slice(ck.expose());
    let keyed = <Hmac<Sha256> as KeyInit>::new(&(*block).into());
    let mut for_message = keyed.clone();
    for_message.update(&[0x01]);
    let mut for_chain = keyed;
    for_chain.update(&[0x02]);
    (
        take32(&for_message.finalize().into_bytes(), 0),
        take32(&for_chain.finalize().into_bytes(), 0),
    )
}

/// The key sealing the initiator's identity:
/// `HKDF(salt = 0^32, ikm = DH3 [|| SS], info = INFO_SEALED_IDENTITY || EK_A || SPK_B || IK_B)`.
pub(crate) fn sealed_identity_key(
    dh3: &DhOutput,
    kem_secret: Option<&KemSecret>,
    ephemeral: &[u8; 32],
    signed_prekey: &[u8; 32],
    responder_identity: &[u8; 32],
) -> SealedIdentityKey {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(dh3.expose());
    let len = match kem_secret {
        Some(ss) => {
            ikm[32..].copy_from_slice(ss.expose());
            64
        }
        None => 32,
    };
    let okm = hkdf_expand::<32>(
        &ZERO_SALT,
        &ikm[..len],
        &[INFO_SEALED_IDENTITY, ephemeral, signed_prekey, responder_identity],
    );
    take32(okm.as_slice(), 0)
}
