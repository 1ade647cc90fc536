//! Known-answer access to the KDFs (docs/PROTOCOL.md, section 3). Hidden from the docs:
//! it exists so tests outside the crate can pin every derivation to fixed vectors.

use crate::crypto::kdf;
use crate::crypto::secret::Secret32;

fn bytes(s: &Secret32) -> [u8; 32] {
    *s.expose()
}

/// KDF_RK(rk, dh) as (root key, chain key, next header key).
pub fn kdf_rk(rk: [u8; 32], dh: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (a, b, c) = kdf::kdf_rk(&Secret32::from_bytes(rk), &Secret32::from_bytes(dh));
    (bytes(&a), bytes(&b), bytes(&c))
}

/// KDF_CK(ck) as (message key, next chain key).
pub fn kdf_ck(ck: [u8; 32]) -> ([u8; 32], [u8; 32]) {
    let (a, b) = kdf::kdf_ck(&Secret32::from_bytes(ck));
    (bytes(&a), bytes(&b))
}

/// The X3DH secret from three or four DH outputs.
pub fn x3dh_secret(dh: &[[u8; 32]]) -> [u8; 32] {
    let secrets: Vec<Secret32> = dh.iter().map(|d| Secret32::from_bytes(*d)).collect();
    let refs: Vec<&Secret32> = secrets.iter().collect();
    bytes(&kdf::x3dh_secret(&refs))
}

/// The ratchet initialisation as (root key, HK_A, NHK_B).
pub fn ratchet_init(sk: [u8; 32]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let (a, b, c) = kdf::ratchet_init(&Secret32::from_bytes(sk));
    (bytes(&a), bytes(&b), bytes(&c))
}

/// The sealed-identity key from DH3, EK_A, SPK_B and IK_B.
pub fn sealed_identity_key(dh3: [u8; 32], ek: [u8; 32], spk: [u8; 32], ik_b: [u8; 32]) -> [u8; 32] {
    bytes(&kdf::sealed_identity_key(
        &Secret32::from_bytes(dh3),
        &ek,
        &spk,
        &ik_b,
    ))
}
