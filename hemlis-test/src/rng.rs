//! Deterministic randomness: a seeded generator, and one that records every draw so a test
//! can look for the secrets made from them.

use std::sync::{Arc, Mutex};

use hemlis::rand_core::{Infallible, Rng, SeedableRng, TryCryptoRng, TryRng};
use rand_chacha::ChaCha20Rng;

use crate::lock;

/// A deterministic RNG: ChaCha20 seeded from a number.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Every byte string handed out by the [`RecordingRng`]s sharing this log, in order.
#[derive(Clone, Default)]
pub struct Draws(Arc<Mutex<Vec<Vec<u8>>>>);

impl Draws {
    /// Every draw so far.
    pub fn all(&self) -> Vec<Vec<u8>> {
        lock(&self.0).clone()
    }

    /// The draws of exactly `len` bytes.
    pub fn of_len(&self, len: usize) -> Vec<Vec<u8>> {
        lock(&self.0).iter().filter(|d| d.len() == len).cloned().collect()
    }

    /// The 32-byte draws: every X25519 and Ed25519 secret, KEM seed and KEM encapsulation
    /// randomness comes from one.
    pub fn secrets(&self) -> Vec<[u8; 32]> {
        lock(&self.0)
            .iter()
            .filter_map(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
            .collect()
    }

    fn push(&self, draw: Vec<u8>) {
        lock(&self.0).push(draw);
    }
}

/// ChaCha20 seeded from a number, recording every draw.
pub struct RecordingRng {
    inner: ChaCha20Rng,
    draws: Draws,
}

impl RecordingRng {
    /// A generator seeded with `seed` that records into `draws`.
    pub fn new(seed: u64, draws: &Draws) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: draws.clone(),
        }
    }
}

impl TryRng for RecordingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let v = self.inner.next_u32();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let v = self.inner.next_u64();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for RecordingRng {}

/// A random body of `len` letters and digits: distinctive, so a search for it in a relay
/// log or a database file cannot hit by chance.
pub fn random_body(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()])
        .collect()
}
