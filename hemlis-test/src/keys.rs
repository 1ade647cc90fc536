//! The forms a drawn secret takes inside the library, for searches of memory, files and
//! relay logs.

/// The 32-byte secrets derived from a raw draw as the library may hold them: the draw, its
/// X25519 clamping, and the Ed25519 secret scalar of it as a seed (the identity's X25519
/// secret).
pub fn secret_forms(draw: &[u8; 32]) -> Vec<[u8; 32]> {
    let mut clamped = *draw;
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let scalar = ed25519_dalek::SigningKey::from_bytes(draw).to_scalar_bytes();
    vec![*draw, clamped, scalar]
}

/// The X25519 public key of a draw used as a secret.
pub fn x25519_public(draw: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*draw, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// The X25519 form of an identity key (the Diffie-Hellman public key).
pub fn identity_x25519(identity: &hemlis::IdentityKey) -> [u8; 32] {
    ed25519_dalek::VerifyingKey::from_bytes(identity.as_bytes())
        .expect("identity keys are valid points")
        .to_montgomery()
        .to_bytes()
}
