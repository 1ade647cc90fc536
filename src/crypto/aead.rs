//! The one AEAD construction of hemlis (docs/PROTOCOL.md, section 2.3):
//! XChaCha20-Poly1305 with a fresh random 24-byte nonce per call, sealed as
//! `nonce (24) || ciphertext || tag (16)`.
//!
//! A random nonce keeps encryption safe after a state rollback: even when a restored
//! state derives the same key again, two plaintexts never meet under one key and nonce.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::secret::{HeaderKey, MessageKey, SealedIdentityKey, SecretBytes, StorageKey};

/// Length of the random nonce.
pub(crate) const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag; never truncated.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a sealed box adds to its plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// The sealed box did not authenticate under this key and associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpenError;

/// A key of a role that seals and opens with the AEAD: header, message, sealed-identity
/// and storage keys. Root and chain keys do not, so neither can be used as one by mistake.
pub(crate) trait AeadKey {
    /// The key bytes, for the cipher only.
    fn aead_bytes(&self) -> &[u8; 32];
}

impl AeadKey for HeaderKey {
    fn aead_bytes(&self) -> &[u8; 32] {
        self.expose()
    }
}

impl AeadKey for MessageKey {
    fn aead_bytes(&self) -> &[u8; 32] {
        self.expose()
    }
}

impl AeadKey for SealedIdentityKey {
    fn aead_bytes(&self) -> &[u8; 32] {
        self.expose()
    }
}

impl AeadKey for StorageKey {
    fn aead_bytes(&self) -> &[u8; 32] {
        self.expose()
    }
}

fn cipher(key: &impl AeadKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Key::from(*key.aead_bytes()))
}

/// The plaintext was longer than the cipher can take (2^38 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SealError;

/// Appends `nonce || ciphertext || tag` of `plaintext` to `out`, with a nonce drawn from
/// `rng`.
pub(crate) fn seal_into<R: CryptoRng + ?Sized>(
    out: &mut Vec<u8>,
    key: &impl AeadKey,
    ad: &[u8],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<(), SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    out.reserve(plaintext.len() + OVERHEAD);
    let start = out.len();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    seal_tail(out, start, key, ad)
}

/// Seals in place the tail of `out` from `start`, which holds `nonce || plaintext`: the
/// plaintext is replaced by its ciphertext and the tag is appended. On error the tail is
/// removed. With enough capacity reserved beforehand, the plaintext is never copied.
pub(crate) fn seal_tail(
    out: &mut Vec<u8>,
    start: usize,
    key: &impl AeadKey,
    ad: &[u8],
) -> Result<(), SealError> {
    let Some(body) = start.checked_add(NONCE_LEN).filter(|&b| b <= out.len()) else {
        out.truncate(start);
        return Err(SealError);
    };
    let (head, plaintext) = out.split_at_mut(body);
    let nonce = XNonce::try_from(&head[start..]).map_err(|_| SealError)?;
    match cipher(key).encrypt_inout_detached(&nonce, ad, plaintext.into()) {
        Ok(tag) => {
            out.extend_from_slice(&tag);
            Ok(())
        }
        Err(_) => {
            out[start..].zeroize();
            out.truncate(start);
            Err(SealError)
        }
    }
}

/// Opens `nonce || ciphertext || tag`, returning the plaintext in a zeroizing buffer.
pub(crate) fn open(key: &impl AeadKey, ad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if sealed.len() < OVERHEAD {
        return Err(OpenError);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce = XNonce::try_from(nonce).map_err(|_| OpenError)?;
    let tag = Tag::try_from(tag).map_err(|_| OpenError)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher(key)
        .decrypt_inout_detached(&nonce, ad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| OpenError)?;
    Ok(buf)
}
