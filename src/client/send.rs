//! Sending (docs/ARCHITECTURE.md, section 5): the ratchet step and the envelope enter the outbox in one
//! commit, then the transport is tried; what it refuses stays for [`Client::flush`].

use super::records::{OutboxRecord, PendingIdentity};
use super::{Client, ClientError, payload};
use crate::PrekeyBundle;
use crate::store::{Table, Write};
use crate::transport::{Address, TransportError};

impl Client {
    /// Sends `body` to every device of `user`. Returns how many devices it was committed
    /// for. The envelopes are durable once this returns, even if the transport failed (then
    /// the error is swallowed and [`Client::flush`] retries; check [`Client::outbox_len`]).
    pub fn send(&mut self, user: &str, body: &[u8]) -> Result<usize, ClientError> {
        let devices = self.transport.devices(user)?;
        if devices.is_empty() {
            return Err(ClientError::NoDevices);
        }
        let mut targets = Vec::with_capacity(devices.len());
        for device in devices {
            let address = Address::new(user, device).ok_or(ClientError::InvalidAddress)?;
            if address != self.me {
                targets.push(address);
            }
        }
        self.send_to(&targets, body)
    }

    /// Sends `body` to the given devices, in one commit.
    pub fn send_to(&mut self, targets: &[Address], body: &[u8]) -> Result<usize, ClientError> {
        let payload = payload::encode(&self.me, self.clock.now(), body);
        let mut writes: Vec<Write> = Vec::with_capacity(2 * targets.len() + 1);
        for to in targets {
            let mut record = self.load_peer(to)?;
            if record.pending.is_some() {
                return Err(ClientError::IdentityChanged { address: to.clone() });
            }
            let mut sessions = self.sessions_of(&record)?;
            // An early warning only: when the relay cannot answer, the message is still
            // committed to the outbox (sending works offline), and a changed identity shows
            // on a later send or when the peer writes.
            if sessions.active().is_some()
                && let Ok(Some(current)) = self.transport.identity(to)
                && record.pinned.is_some_and(|pinned| pinned != current)
            {
                // The peer reinstalled: its sessions are with a key it no longer holds.
                record.pending = Some(PendingIdentity {
                    identity: current,
                    sessions: Vec::new(),
                });
                let write = self
                    .sealer
                    .put_value(Table::Peers, to.encode(), &record, &mut self.rng)?;
                self.store.commit(vec![write])?;
                return Err(ClientError::IdentityChanged { address: to.clone() });
            }
            if sessions.active().is_none() {
                let bundle = PrekeyBundle::decode(&self.transport.fetch_bundle(to)?)?;
                let identity = bundle.identity().to_bytes();
                if record.pinned.is_some_and(|pinned| pinned != identity) {
                    record.pending = Some(PendingIdentity {
                        identity,
                        sessions: Vec::new(),
                    });
                    let write = self
                        .sealer
                        .put_value(Table::Peers, to.encode(), &record, &mut self.rng)?;
                    self.store.commit(vec![write])?;
                    return Err(ClientError::IdentityChanged { address: to.clone() });
                }
                sessions.initiate(self.account.identity(), &bundle, &mut self.rng)?;
                record.pinned = Some(identity);
            }
            let envelope = sessions.encrypt(&payload, &mut self.rng)?;
            record.sessions = sessions.to_bytes()?.to_vec();
            writes.push(
                self.sealer
                    .put_value(Table::Peers, to.encode(), &record, &mut self.rng)?,
            );
            let id = self.counters.next_outbox;
            self.counters.next_outbox += 1;
            let outbox = OutboxRecord {
                to: to.clone(),
                envelope,
            };
            writes.push(self.sealer.put_value(
                Table::Outbox,
                id.to_be_bytes().to_vec(),
                &outbox,
                &mut self.rng,
            )?);
        }
        writes.push(self.counters_write()?);
        if let Err(e) = self.store.commit(writes) {
            self.counters = self.reload_counters()?;
            return Err(e.into());
        }
        // Durable now; a transport failure leaves the envelopes in the outbox.
        let _ = self.flush();
        Ok(targets.len())
    }

    /// Sends what the outbox holds, oldest first. Stops at the first failure that may pass
    /// (`TransportError::Unavailable`), keeping the rest; an envelope the relay refuses for
    /// good (no such device, rejected) leaves the outbox so it cannot block the others.
    /// Returns how many envelopes the relay accepted.
    pub fn flush(&mut self) -> Result<usize, ClientError> {
        let mut sent = 0;
        for (key, sealed) in self.store.scan(Table::Outbox)? {
            let record: OutboxRecord = self.sealer.open_value(Table::Outbox, &key, &sealed)?;
            match self.transport.send(&self.me, &record.to, &record.envelope) {
                Ok(()) => sent += 1,
                Err(TransportError::NotFound | TransportError::Rejected(_)) => {}
                Err(e) => return Err(e.into()),
            }
            // A crash here sends the envelope again; the receiver's ratchet refuses the copy.
            self.store.commit(vec![Write::Delete {
                table: Table::Outbox,
                key,
            }])?;
        }
        Ok(sent)
    }

    /// Number of envelopes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<usize, ClientError> {
        Ok(self.store.scan(Table::Outbox)?.len())
    }
}
