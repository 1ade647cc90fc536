//! Receiving (docs/ARCHITECTURE.md, section 6): each envelope's ratchet step and plaintext enter the inbox
//! in one commit, then the envelopes are acknowledged. An envelope seen again (the relay
//! resent it after a crash) fails as a duplicate in the ratchet and is only acknowledged.

use super::records::{InboxRecord, PeerRecord, PendingIdentity};
use super::{Client, ClientError, payload};
use crate::store::{Table, Write};
use crate::transport::{Address, Incoming};
use crate::{Decrypted, Error, IdentityKey, PeerSessions};

/// A message in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Inbox id; pass it to [`Client::mark_read`] once the app has stored the message.
    pub id: u64,
    /// The sender device (checked against the address sealed inside the message).
    pub from: Address,
    /// The sender device's identity key.
    pub sender_identity: IdentityKey,
    /// The sender's clock when it sent the message (seconds).
    pub sent_at: u64,
    /// The message.
    pub body: Vec<u8>,
    /// The sender's identity key differs from the one pinned for it: show a warning;
    /// sending to it is blocked until [`Client::accept_identity`].
    pub identity_changed: bool,
}

/// What one call of [`Client::receive`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveReport {
    /// Every message in the inbox, the new ones and any not yet marked read, oldest first.
    pub messages: Vec<Received>,
    /// Envelopes recognised as already received, acknowledged without a second delivery.
    pub duplicates: usize,
    /// Envelopes that can never be read (tampered, forged, relabelled, not for any
    /// session), with why; they are acknowledged and dropped.
    pub rejected: Vec<(Address, ClientError)>,
}

/// How one envelope went.
enum Outcome {
    Delivered,
    Duplicate,
    Rejected(ClientError),
}

impl Client {
    /// Fetches, decrypts and stores what the relay holds for this device, acknowledges it,
    /// and returns the inbox. Messages stay in the inbox until [`Client::mark_read`].
    pub fn receive(&mut self) -> Result<ReceiveReport, ClientError> {
        let incoming = self.transport.fetch(&self.me)?;
        let mut report = ReceiveReport::default();
        let mut acks = Vec::with_capacity(incoming.len());
        for envelope in &incoming {
            match self.receive_one(envelope)? {
                Outcome::Delivered => {}
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Rejected(e) => report.rejected.push((envelope.from.clone(), e)),
            }
            acks.push(envelope.id);
        }
        if !acks.is_empty() {
            // Everything is durable; an acknowledgement that fails is repeated after the
            // relay resends, and the ratchet refuses the copies.
            let _ = self.transport.ack(&self.me, &acks);
        }
        report.messages = self.inbox()?;
        Ok(report)
    }

    /// The messages in the inbox, oldest first.
    pub fn inbox(&self) -> Result<Vec<Received>, ClientError> {
        let mut out = Vec::new();
        for (key, sealed) in self.store.scan(Table::Inbox)? {
            let record: InboxRecord = self.sealer.open_value(Table::Inbox, &key, &sealed)?;
            let id = u64::from_be_bytes(
                key.as_slice()
                    .try_into()
                    .map_err(|_| ClientError::CorruptRecord(Table::Inbox))?,
            );
            out.push(Received {
                id,
                from: record.from,
                sender_identity: IdentityKey::from_bytes(&record.sender_identity)?,
                sent_at: record.sent_at,
                body: record.body,
                identity_changed: record.identity_changed,
            });
        }
        Ok(out)
    }

    /// Removes messages the app has stored from the inbox.
    pub fn mark_read(&mut self, ids: &[u64]) -> Result<(), ClientError> {
        let writes = ids
            .iter()
            .map(|id| Write::Delete {
                table: Table::Inbox,
                key: id.to_be_bytes().to_vec(),
            })
            .collect();
        Ok(self.store.commit(writes)?)
    }

    fn receive_one(&mut self, incoming: &Incoming) -> Result<Outcome, ClientError> {
        let mut record = match self.load_peer(&incoming.from) {
            Ok(record) => record,
            // A damaged record of one peer must not block the mailbox: its messages cannot
            // be read, others still can.
            Err(e @ ClientError::CorruptRecord(_)) => return Ok(Outcome::Rejected(e)),
            Err(e) => return Err(e),
        };
        let mut sessions = match self.sessions_of(&record) {
            Ok(sessions) => sessions,
            Err(e @ ClientError::Protocol(_)) => return Ok(Outcome::Rejected(e)),
            Err(e) => return Err(e),
        };
        let decrypted = match sessions.decrypt(&mut self.account, &incoming.envelope, &mut self.rng) {
            Ok(d) => Ok((d, false)),
            Err(Error::IdentityMismatch) | Err(Error::UnknownSession) if record.pinned.is_some() => {
                self.decrypt_as_changed_identity(&mut record, incoming)
            }
            Err(e) => Err(e),
        };
        let (decrypted, changed) = match decrypted {
            Ok(ok) => ok,
            Err(Error::Duplicate | Error::ReplayedInitialMessage) => return Ok(Outcome::Duplicate),
            Err(e) => return Ok(Outcome::Rejected(e.into())),
        };
        let Decrypted {
            plaintext,
            sender,
            new_session,
            ..
        } = decrypted;
        let Some((sent_at, body)) = payload::decode(&plaintext)
            .and_then(|(claimed, sent_at, body)| (claimed == incoming.from).then_some((sent_at, body)))
        else {
            // The relay (or the peer) put another sender on this envelope. Trust nothing of
            // it: write nothing, and undo in memory what decryption did to the account
            // (a consumed one-time prekey, a replay record), so the envelope changes no state.
            self.reload_account()?;
            return Ok(Outcome::Rejected(ClientError::SenderMismatch));
        };
        if !changed {
            record.sessions = sessions.to_bytes()?.to_vec();
            record.pinned.get_or_insert(sender.to_bytes());
        }
        let mut writes = Vec::with_capacity(5);
        writes.push(
            self.sealer
                .put_value(Table::Peers, incoming.from.encode(), &record, &mut self.rng)?,
        );
        if new_session {
            let account = self.account.to_bytes()?;
            writes.push(self.sealer.put(
                Table::Account,
                super::records::ACCOUNT_KEY.to_vec(),
                &account,
                &mut self.rng,
            )?);
        }
        let id = self.counters.next_inbox;
        self.counters.next_inbox += 1;
        let inbox = InboxRecord {
            from: incoming.from.clone(),
            sender_identity: sender.to_bytes(),
            sent_at,
            body: body.to_vec(),
            identity_changed: changed,
        };
        writes.push(
            self.sealer
                .put_value(Table::Inbox, id.to_be_bytes().to_vec(), &inbox, &mut self.rng)?,
        );
        writes.push(self.counters_write()?);
        if let Err(e) = self.store.commit(writes) {
            self.reload_account()?;
            self.counters = self.reload_counters()?;
            return Err(e.into());
        }
        Ok(Outcome::Delivered)
    }

    /// A message from a pinned address that its trusted sessions do not know: a new
    /// identity key for that device. It is decrypted in sessions of its own, kept pending
    /// until the app accepts the new key.
    fn decrypt_as_changed_identity(
        &mut self,
        record: &mut PeerRecord,
        incoming: &Incoming,
    ) -> Result<(Decrypted, bool), Error> {
        let mut pending = match &record.pending {
            Some(p) if !p.sessions.is_empty() => PeerSessions::from_bytes(&p.sessions, self.config.limits)?,
            _ => PeerSessions::new(self.config.limits),
        };
        let decrypted = pending.decrypt(&mut self.account, &incoming.envelope, &mut self.rng)?;
        record.pending = Some(PendingIdentity {
            identity: decrypted.sender.to_bytes(),
            sessions: pending.to_bytes()?.to_vec(),
        });
        Ok((decrypted, true))
    }
}
