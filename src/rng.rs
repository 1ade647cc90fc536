//! Randomness for callers (docs/PROTOCOL.md, section 2.3): the core takes any
//! `rand_core::CryptoRng`, so tests pass a seeded generator and apps one of these.

use core::fmt;

use chacha20::ChaCha20Rng;
use getrandom::SysRng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng, UnwrapErr};
use zeroize::Zeroizing;

/// The operating system's CSPRNG (`getrandom`) as an infallible `CryptoRng`: one system
/// call per draw.
///
/// A failing OS generator is unrecoverable for a cryptographic library: this aborts the
/// call with a panic inside `rand_core::UnwrapErr` rather than return weak randomness.
pub type OsRng = UnwrapErr<SysRng>;

/// A handle to the operating system's CSPRNG.
pub fn os_rng() -> OsRng {
    UnwrapErr(SysRng)
}

/// Rekey from the OS after this many bytes of output.
const RESEED_AFTER: usize = 1 << 20;

/// A userspace CSPRNG: ChaCha20 keyed with 32 bytes from the OS, rekeyed from the OS after
/// every MiB of output and whenever the process id changes (a forked child never repeats its
/// parent's stream). Its state is zeroized on drop.
///
/// It costs a few nanoseconds per draw where [`os_rng`] costs a system call, which is most
/// of the randomness cost per message. Limit: a virtual machine snapshot restored twice
/// repeats the output between two rekeys; where that can happen, use [`os_rng`].
pub struct FastRng {
    inner: ChaCha20Rng,
    pid: u32,
    used: usize,
    seeded: bool,
}

impl FastRng {
    /// A generator that keys itself from the OS on first use.
    pub fn new() -> Self {
        Self {
            inner: ChaCha20Rng::from_seed([0u8; 32]),
            pid: 0,
            used: 0,
            seeded: false,
        }
    }

    fn reseed(&mut self) -> Result<(), getrandom::Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        SysRng.try_fill_bytes(seed.as_mut_slice())?;
        self.inner = ChaCha20Rng::from_seed(*seed);
        self.pid = std::process::id();
        self.used = 0;
        self.seeded = true;
        Ok(())
    }
}

impl Default for FastRng {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for FastRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FastRng(<redacted>)")
    }
}

impl TryRng for FastRng {
    type Error = getrandom::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        if !self.seeded || self.used >= RESEED_AFTER || self.pid != std::process::id() {
            self.reseed()?;
        }
        self.used = self.used.saturating_add(dst.len());
        self.inner.fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for FastRng {}

/// [`FastRng`] as an infallible `CryptoRng` (like [`os_rng`], a failing OS generator at a
/// rekey aborts the call).
pub type DefaultRng = UnwrapErr<FastRng>;

/// A new [`FastRng`], ready to pass to the core or a `Client`.
pub fn fast_rng() -> DefaultRng {
    UnwrapErr(FastRng::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_reseed_after_the_budget() {
        let mut rng = fast_rng();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        rng.fill_bytes(&mut a);
        rng.fill_bytes(&mut b);
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
        rng.0.used = RESEED_AFTER;
        rng.fill_bytes(&mut a);
        assert_eq!(rng.0.used, 32);
        assert_eq!(format!("{:?}", rng.0), "FastRng(<redacted>)");
    }
}
