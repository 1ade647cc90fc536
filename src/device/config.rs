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
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidConfig`] if it cannot.
    pub fn check(&self) -> Result<(), ClientError> {
        if self.one_time_prekeys > PrekeyUpload::MAX_ONE_TIME || self.replenish_below > self.one_time_prekeys
        {
            return Err(ClientError::InvalidConfig);
        }
        Ok(())
    }

    /// The settings as a [`ValidConfig`], the only form a [`Device`](super::Device) runs
    /// with, once [`ClientConfig::check`] passes.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidConfig`] if a device cannot work with these settings.
    ///
    /// ```
    /// use hemlis::ClientConfig;
    ///
    /// let valid = ClientConfig::default().validate().unwrap();
    /// assert_eq!(valid.one_time_prekeys(), 50);
    ///
    /// let mut config = ClientConfig::default();
    /// config.replenish_below = config.one_time_prekeys + 1;
    /// assert!(config.validate().is_err());
    /// ```
    pub fn validate(self) -> Result<ValidConfig, ClientError> {
        self.check()?;
        Ok(ValidConfig(self))
    }
}

/// A [`ClientConfig`] a device can work with: made only by [`ClientConfig::validate`], and
/// read-only from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidConfig(ClientConfig);

impl ValidConfig {
    /// One-time prekeys of each kind kept published.
    pub fn one_time_prekeys(&self) -> usize {
        self.0.one_time_prekeys
    }

    /// Replenish when fewer than this many remain unused.
    pub fn replenish_below(&self) -> usize {
        self.0.replenish_below
    }

    /// Rotate the signed prekey (and its last-resort KEM prekey) after this many seconds.
    pub fn signed_prekey_rotation(&self) -> u64 {
        self.0.signed_prekey_rotation
    }

    /// Keep a replaced signed prekey answering for this many seconds.
    pub fn signed_prekey_grace(&self) -> u64 {
        self.0.signed_prekey_grace
    }

    /// Protocol limits for every session.
    pub fn limits(&self) -> Limits {
        self.0.limits
    }

    /// The settings, read-only.
    pub fn as_config(&self) -> &ClientConfig {
        &self.0
    }
}

impl From<ValidConfig> for ClientConfig {
    fn from(valid: ValidConfig) -> Self {
        valid.0
    }
}
