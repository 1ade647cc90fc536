//! ML-KEM-768 (FIPS 203) for the post-quantum part of the handshake (docs/PROTOCOL.md,
//! section 2.4).
//!
//! A decapsulation key is kept as its 64-byte FIPS 203 seed `d || z` and expanded when used;
//! the encapsulation key (1,184 bytes) is derived from it when published.

use core::fmt;

use ml_kem::array::Array;
use ml_kem::{Decapsulate, DecapsulationKey, EncapsulationKey, KeyExport, MlKem768};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::secret::{KemSecret, Secret32, SecretBytes};
use crate::error::KeyError;
use crate::error::{Error, Result};

/// Length of an ML-KEM-768 encapsulation (public) key.
pub(crate) const KEM_PUBLIC_LEN: usize = 1184;
/// Length of an ML-KEM-768 ciphertext.
pub(crate) const KEM_CIPHERTEXT_LEN: usize = 1088;

/// An ML-KEM-768 key pair, stored as its seed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub(crate) struct KemKeyPair {
    d: Secret32,
    z: Secret32,
}

impl KemKeyPair {
    /// Generates a key pair from 64 bytes of `rng`: `d` (32) then `z` (32).
    pub(crate) fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut d = [0u8; 32];
        let mut z = [0u8; 32];
        rng.fill_bytes(&mut d);
        rng.fill_bytes(&mut z);
        Self {
            d: Secret32::from_bytes(d),
            z: Secret32::from_bytes(z),
        }
    }

    /// The key pair of the seed `d || z` (known-answer tests).
    #[cfg(any(test, feature = "kat"))]
    pub(crate) fn from_parts(d: [u8; 32], z: [u8; 32]) -> Self {
        Self {
            d: Secret32::from_bytes(d),
            z: Secret32::from_bytes(z),
        }
    }

    fn expand(&self) -> DecapsulationKey<MlKem768> {
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(self.d.expose());
        seed[32..].copy_from_slice(self.z.expose());
        let key = DecapsulationKey::from_seed(Array::from(seed));
        seed.zeroize();
        key
    }

    /// The encapsulation key to publish.
    pub(crate) fn public(&self) -> Vec<u8> {
        self.expand().encapsulation_key().to_bytes().to_vec()
    }

    /// Decapsulates `ciphertext`. ML-KEM never fails here: a tampered ciphertext yields an
    /// unrelated shared secret (implicit rejection), which the next AEAD check then refuses.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8; KEM_CIPHERTEXT_LEN]) -> KemSecret {
        let shared = self.expand().decapsulate(&Array::from(*ciphertext));
        let mut out = [0u8; 32];
        out.copy_from_slice(&shared);
        KemSecret::from_bytes(out)
    }
}

impl fmt::Debug for KemKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KemKeyPair(<redacted>)")
    }
}

/// Checks that `public` is a valid ML-KEM-768 encapsulation key (FIPS 203 modulus check).
pub(crate) fn check_public(public: &[u8]) -> Result<EncapsulationKey<MlKem768>> {
    let bytes: [u8; KEM_PUBLIC_LEN] = public
        .try_into()
        .map_err(|_| Error::Key(KeyError::InvalidPublicKey))?;
    EncapsulationKey::new(&Array::from(bytes)).map_err(|_| Error::Key(KeyError::InvalidPublicKey))
}

/// Encapsulates to `public` with 32 bytes of `rng` (the FIPS 203 message `m`).
pub(crate) fn encapsulate<R: CryptoRng + ?Sized>(
    public: &EncapsulationKey<MlKem768>,
    rng: &mut R,
) -> (Box<[u8; KEM_CIPHERTEXT_LEN]>, KemSecret) {
    let mut m = [0u8; 32];
    rng.fill_bytes(&mut m);
    let (ciphertext, shared) = public.encapsulate_deterministic(&Array::from(m));
    m.zeroize();
    let mut ct = Box::new([0u8; KEM_CIPHERTEXT_LEN]);
    ct.copy_from_slice(&ciphertext);
    let mut ss = [0u8; 32];
    ss.copy_from_slice(&shared);
    (ct, KemSecret::from_bytes(ss))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn encapsulate_then_decapsulate_agree() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let pair = KemKeyPair::generate(&mut rng);
        let public = check_public(&pair.public()).unwrap();
        let (ct, ss) = encapsulate(&public, &mut rng);
        assert_eq!(pair.decapsulate(&ct).expose(), ss.expose());
        let mut bad = *ct;
        bad[0] ^= 1;
        assert_ne!(pair.decapsulate(&bad).expose(), ss.expose());
    }

    #[test]
    fn rejects_malformed_public_keys() {
        assert!(check_public(&[0u8; 10]).is_err());
        // Coefficients are 12-bit values below q = 3329; 0xFFF encodes 4095.
        assert!(check_public(&[0xFF; KEM_PUBLIC_LEN]).is_err());
    }
}
