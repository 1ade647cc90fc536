//! Known-answer access to the KDFs (docs/PROTOCOL.md, section 3) and to the account
//! formats (section 13). Hidden from the docs: it exists so tests outside the crate can pin
//! every derivation and encoding to fixed vectors.

use std::collections::BTreeMap;

use crate::account::{DeviceList, LinkCode, LinkSecret, confirmation_code};
use crate::address::Address;
use crate::crypto::kdf;
use crate::crypto::keys::{IdentityKey, IdentityKeyPair};
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

/// The public identity key (its Ed25519 encoding) of a 32-byte seed (docs/PROTOCOL.md,
/// section 2.1); account keys are made the same way (section 13).
pub fn identity_public(seed: [u8; 32]) -> [u8; 32] {
    IdentityKeyPair::from_seed(&seed).public().to_bytes()
}

/// A device list (docs/PROTOCOL.md, section 13.1) signed by the account key of
/// `account_seed`: its encoding. The order of `devices` does not matter (the list holds
/// them by ascending id). `None` for a list the signer refuses to make: an invalid user
/// id, no device or more than [`DeviceList::MAX_DEVICES`], an identity key that is not
/// valid (section 2.1), or a device id given twice.
pub fn sign_device_list(
    account_seed: [u8; 32],
    user: &str,
    version: u64,
    timestamp: u64,
    devices: &[(u32, [u8; 32])],
) -> Option<Vec<u8>> {
    let mut map = BTreeMap::new();
    for (id, key) in devices {
        let key = IdentityKey::from_bytes(key).ok()?;
        if map.insert(*id, key).is_some() {
            return None;
        }
    }
    let account = IdentityKeyPair::from_seed(&account_seed);
    DeviceList::sign(&account, user, version, timestamp, map).map(|list| list.encode())
}

/// A link code (docs/PROTOCOL.md, section 13.4) from its parts; `None` for an invalid user
/// id or identity key.
pub fn link_code(user: &str, device: u32, identity: [u8; 32], secret: [u8; 16]) -> Option<LinkCode> {
    let address = Address::new(user, device)?;
    let identity = IdentityKey::from_bytes(&identity).ok()?;
    Some(LinkCode::new(address, identity, LinkSecret::from_bytes(secret)))
}

/// The six-digit link confirmation code (docs/PROTOCOL.md, section 13.4) of a link secret,
/// the account key, the provisioning device's identity key and the new device's; `None`
/// if a key is not valid (section 2.1).
pub fn link_confirmation_code(
    secret: [u8; 16],
    account: [u8; 32],
    provisioner: [u8; 32],
    new_device: [u8; 32],
) -> Option<String> {
    Some(confirmation_code(
        &LinkSecret::from_bytes(secret),
        &IdentityKey::from_bytes(&account).ok()?,
        &IdentityKey::from_bytes(&provisioner).ok()?,
        &IdentityKey::from_bytes(&new_device).ok()?,
    ))
}
