//! Prekey upkeep (docs/PROTOCOL.md, sections 4.1 and 12.1): one-time prekeys of both kinds
//! topped up below a threshold, the signed prekey (with its last-resort KEM prekey)
//! rotated on a schedule and kept for a grace period, and the result published.
//!
//! New keys are committed before they are published, so the relay never hands out a key
//! this device does not hold. Stage, then commit: the changes are made on a copy of the
//! account, which replaces it only once the commit succeeded.

use rand_core::CryptoRng;

use super::records::ACCOUNT_KEY;
use super::{ClientError, Device};
use crate::store::Table;
use crate::transport::PrekeyUpload;

impl Device {
    /// Rotates and replenishes prekeys as [`ClientConfig`](super::ClientConfig) says, in
    /// one commit. Returns true if it made new keys. What is not yet published waits in
    /// [`Device::poll_upload`]. Call it at start-up and from time to time (for example
    /// after each receive). On error nothing changes.
    pub fn upkeep<R: CryptoRng + ?Sized>(&mut self, now: u64, rng: &mut R) -> Result<bool, ClientError> {
        let config = *self.config.as_config();
        let want = config.one_time_prekeys;
        let short = |have: usize| (have < config.replenish_below || have == 0) && have < want;
        let rotate = now
            >= self
                .account
                .signed_prekey_created_at()
                .saturating_add(config.signed_prekey_rotation);
        let one_time_short = short(self.account.one_time_prekeys().len());
        let kem_short = short(self.account.one_time_kem_prekey_count());
        if !(rotate || one_time_short || kem_short) {
            // Nothing to make, so no copy of the account's secrets. Expired signed prekeys
            // leave memory now and the store with the next commit of the account; they
            // answer nothing either way.
            self.account
                .remove_expired_signed_prekeys(now, config.signed_prekey_grace);
            return Ok(false);
        }
        let mut account = self.account.staged_copy();
        if rotate {
            account.rotate_signed_prekey(rng, now);
        }
        account.remove_expired_signed_prekeys(now, config.signed_prekey_grace);
        if one_time_short {
            let have = account.one_time_prekeys().len();
            account.generate_one_time_prekeys(want - have.min(want), rng);
        }
        if kem_short {
            let have = account.one_time_kem_prekey_count();
            account.generate_one_time_kem_prekeys(want - have.min(want), rng);
        }
        let mut counters = self.counters.clone();
        counters.publish_pending = true;
        let writes = vec![
            self.sealer
                .put(Table::Account, ACCOUNT_KEY.to_vec(), &account.to_bytes()?, rng)?,
            self.counters_write(&counters, rng)?,
        ];
        self.commit_with(writes, counters)?;
        self.account = account;
        self.upload_generation += 1;
        Ok(true)
    }

    /// The prekeys to publish ([`Transport::publish`](crate::Transport::publish)): an
    /// [`Upload`] of everything this device holds unused (the relay adds what it lacks),
    /// or `None` when the relay has them all. It stays until [`Device::handle_published`].
    /// Changes nothing.
    pub fn poll_upload(&self) -> Option<Upload> {
        if !self.counters.publish_pending {
            return None;
        }
        let upload = PrekeyUpload::new(
            &self.account,
            self.account.one_time_prekeys(),
            self.account.one_time_kem_prekeys(),
        );
        Some(Upload {
            bytes: upload.encode(),
            generation: self.upload_generation,
        })
    }

    /// The relay took `upload`: records that (one commit), unless newer keys were made
    /// since it was polled (they still wait in [`Device::poll_upload`]).
    pub fn handle_published<R: CryptoRng + ?Sized>(
        &mut self,
        upload: &Upload,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        if !self.counters.publish_pending || upload.generation != self.upload_generation {
            return Ok(());
        }
        let mut counters = self.counters.clone();
        counters.publish_pending = false;
        let write = self.counters_write(&counters, rng)?;
        self.commit_with(vec![write], counters)
    }
}

/// Prekeys to publish (see [`Device::poll_upload`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The encoded [`PrekeyUpload`] (public keys and signatures only).
    pub bytes: Vec<u8>,
    /// The keys it holds: newer keys made after it was polled are not in it.
    generation: u64,
}
