//! The device's settings and its source of time (docs/ARCHITECTURE.md, section 3;
//! docs/PROTOCOL.md, section 12.1).

use super::ClientError;
use crate::Limits;
use crate::transport::PrekeyUpload;

/// A source of time, in seconds since the Unix epoch. The drivers read it once per call
/// and pass the value to the [`Device`](super::Device).
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Prekey upkeep settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// One-time prekeys of each kind kept published.
    pub one_time_prekeys: usize,
    /// Replenish when fewer than this many remain unused.
    pub replenish_below: usize,
    /// Rotate the signed prekey (and its last-resort KEM prekey) after this many seconds.
    pub signed_prekey_rotation: u64,
    /// Keep a replaced signed prekey answering for this many seconds.
    pub signed_prekey_grace: u64,
    /// Protocol limits for every session.
    pub limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            one_time_prekeys: 50,
            replenish_below: 10,
            signed_prekey_rotation: 7 * 24 * 3600,
            signed_prekey_grace: 14 * 24 * 3600,
            limits: Limits::default(),
        }
    }
}

impl ClientConfig {
    /// Checks that a device can work with these settings: at most
    /// [`PrekeyUpload::MAX_ONE_TIME`] one-time prekeys of each kind (what one upload holds),
    /// and a replenish threshold no higher than that number.
    pub fn check(&self) -> Result<(), ClientError> {
        if self.one_time_prekeys > PrekeyUpload::MAX_ONE_TIME || self.replenish_below > self.one_time_prekeys
        {
            return Err(ClientError::InvalidConfig);
        }
        Ok(())
    }
}
