//! Prekey upkeep (docs/PROTOCOL.md, sections 4.1 and 12.1): one-time prekeys of both kinds
//! topped up below a threshold, the signed prekey (with its last-resort KEM prekey)
//! rotated on a schedule and kept for a grace period, and the result published.
//!
//! New keys are committed before they are published, so the relay never hands out a key
//! this device does not hold.

use super::records::ACCOUNT_KEY;
use super::{Client, ClientError};
use crate::store::Table;
use crate::transport::PrekeyUpload;

impl Client {
    /// Rotates, replenishes and publishes prekeys as needed. Call it at start-up and from
    /// time to time (for example after each `receive`). Returns true if it published.
    pub fn upkeep(&mut self) -> Result<bool, ClientError> {
        let now = self.clock.now();
        let config = self.config;
        let mut changed = false;
        if now
            >= self
                .account
                .signed_prekey_created_at()
                .saturating_add(config.signed_prekey_rotation)
        {
            self.account.rotate_signed_prekey(&mut self.rng, now);
            changed = true;
        }
        self.account
            .remove_expired_signed_prekeys(now, config.signed_prekey_grace);
        let mut one_time = Vec::new();
        let have = self.account.one_time_prekeys().len();
        if have < config.replenish_below || (have == 0 && config.one_time_prekeys > 0) {
            one_time = self.account.generate_one_time_prekeys(
                config.one_time_prekeys - have.min(config.one_time_prekeys),
                &mut self.rng,
            );
        }
        let mut one_time_kem = Vec::new();
        let have = self.account.one_time_kem_prekey_count();
        if have < config.replenish_below || (have == 0 && config.one_time_prekeys > 0) {
            one_time_kem = self.account.generate_one_time_kem_prekeys(
                config.one_time_prekeys - have.min(config.one_time_prekeys),
                &mut self.rng,
            );
        }
        changed |= !one_time.is_empty() || !one_time_kem.is_empty();
        if changed {
            self.counters.publish_pending = true;
        }
        if changed || self.counters.publish_pending {
            let account = self.account.to_bytes()?;
            let writes = vec![
                self.sealer
                    .put(Table::Account, ACCOUNT_KEY.to_vec(), &account, &mut self.rng)?,
                self.counters_write()?,
            ];
            if let Err(e) = self.store.commit(writes) {
                self.reload_account()?;
                self.counters = self.reload_counters()?;
                return Err(e.into());
            }
        }
        if !self.counters.publish_pending {
            return Ok(false);
        }
        // Publish everything this device holds unused: the relay adds what it lacks.
        let upload = PrekeyUpload::new(
            &self.account,
            self.account.one_time_prekeys(),
            self.account.one_time_kem_prekeys(),
        );
        self.transport.publish(&self.me, &upload.encode())?;
        self.counters.publish_pending = false;
        let write = self.counters_write()?;
        self.store.commit(vec![write])?;
        Ok(true)
    }
}
