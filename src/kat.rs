//! Known-answer access to the KDFs (docs/PROTOCOL.md, section 3). Hidden from the docs:
//! it exists so tests outside the crate can pin every derivation to fixed vectors.

use crate::crypto::kdf;
use crate::crypto::secret::{ChainKey, DhOutput, HandshakeSecret, KemSecret, RootKey, SecretBytes};

fn bytes(s: &impl SecretBytes) -> [u8; 32] {
    *s.expose()
}

/// KDF_RK(rk, dh) as (root key, chain key, next header key).
pub fn kdf_rk(rk: [u8; 32], dh: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (a, b, c) = kdf::kdf_rk(&RootKey::from_bytes(rk), &DhOutput::from_bytes(dh));
    (bytes(&a), bytes(&b), bytes(&c))
}

/// KDF_CK(ck) as (message key, next chain key).
pub fn kdf_ck(ck: [u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (a, b) = kdf::kdf_ck(&ChainKey::from_bytes(ck));
    (bytes(&a), bytes(&b))
}

/// The handshake secret from three or four DH outputs and, for PQXDH, the KEM secret.
pub fn handshake_secret(dh: &[[u8; 32]], kem_secret: Option<[u8; 32]>) -> [u8; 32] {
    let secrets: Vec<DhOutput> = dh.iter().map(|d| DhOutput::from_bytes(*d)).collect();
    let refs: Vec<&DhOutput> = secrets.iter().collect();
    let ss = kem_secret.map(KemSecret::from_bytes);
    bytes(&kdf::handshake_secret(&refs, ss.as_ref()))
}

/// The ratchet initialisation as (root key, HK_A, NHK_B).
pub fn ratchet_init(sk: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (a, b, c) = kdf::ratchet_init(&HandshakeSecret::from_bytes(sk));
    (bytes(&a), bytes(&b), bytes(&c))
}

/// The sealed-identity key from DH3, the KEM secret (PQXDH), EK_A, SPK_B and IK_B.
pub fn sealed_identity_key(
    dh3: [u8; 32],
    kem_secret: Option<[u8; 32]>,
    ek: [u8; 32],
    spk: [u8; 32],
    ik_b: [u8; 32],
) -> [u8; 32] {
    let ss = kem_secret.map(KemSecret::from_bytes);
    bytes(&kdf::sealed_identity_key(
        &DhOutput::from_bytes(dh3),
        ss.as_ref(),
        &ek,
        &spk,
        &ik_b,
    ))
}

/// ML-KEM-768 key generation from the 64-byte seed `d || z`: the encapsulation key.
pub fn kem_public_from_seed(d: [u8; 32], z: [u8; 32]) -> Vec<u8> {
    crate::crypto::kem::KemKeyPair::from_parts(d, z).public()
}

/// ML-KEM-768 decapsulation with the key of seed `d || z`.
pub fn kem_decapsulate(d: [u8; 32], z: [u8; 32], ciphertext: &[u8; 1088]) -> [u8; 32] {
    bytes(&crate::crypto::kem::KemKeyPair::from_parts(d, z).decapsulate(ciphertext))
}
