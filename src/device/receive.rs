//! Receiving (docs/ARCHITECTURE.md, section 6): each envelope's ratchet step and plaintext
//! enter the inbox in one commit, then its id waits to be acknowledged. An envelope seen
//! again (the relay resent it after a crash) fails as a duplicate in the ratchet and is
//! only acknowledged.
//!
//! Stage, then commit: decryption advances a working copy of the peer's sessions and
//! stages the account's change; the sealed sender is checked before anything is written;
//! the account changes in memory only once the commit succeeded.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::records::{InboxRecord, PeerRecord, PendingIdentity};
use super::{ClientError, Device, payload};
use crate::error::{DecryptError, HandshakeError};
use crate::session::Staged;
use crate::store::{Table, Write};
use crate::transport::{Address, Incoming};
use crate::{Error, IdentityKey, PeerSessions};

/// A message in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Inbox id; pass it to [`Device::mark_read`] once the app has stored the message.
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
    /// sending to it is blocked until [`Device::accept_identity`].
    pub identity_changed: bool,
}

/// What one call of [`Device::handle_incoming`] (or a driver's `receive`) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceiveReport {
    /// Every message in the inbox, the new ones and any not yet marked read, oldest first.
    pub messages: Vec<Received>,
    /// Envelopes recognised as already received, acknowledged without a second delivery.
    pub duplicates: usize,
    /// Envelopes that can never be read (tampered, forged, relabelled, not for any
    /// session), with why; they are acknowledged and dropped.
    pub rejected: Vec<Rejection>,
}

/// An envelope dropped for good: it was acknowledged, nothing of it was stored, and no
/// state changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The relay's id of the envelope.
    pub id: u64,
    /// The sender device the relay named. Not proven: the envelope did not authenticate as
    /// coming from it.
    pub from: Address,
    /// Why it was dropped.
    pub reason: RejectReason,
}

/// Why an envelope was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// The envelope failed the protocol: malformed, forged, tampered, or for no session
    /// (the error's group tells which rule).
    #[error(transparent)]
    Protocol(#[from] Error),
    /// The stored record of the named sender does not authenticate (damaged or tampered
    /// at rest): its messages cannot be read; other peers are unaffected.
    #[error("stored record failed authentication")]
    CorruptRecord(Table),
    /// The sender sealed inside the message is not the device the relay named.
    #[error("the sender inside the message is not the one the relay named")]
    SenderMismatch,
}

/// How one envelope went.
enum Outcome {
    Delivered,
    Duplicate,
    Rejected(RejectReason),
}

impl Device {
    /// Decrypts and stores envelopes that arrived for this device, one commit each, and
    /// returns the inbox. Every envelope it is done with (stored, recognised as a copy, or
    /// rejected for good) waits in [`Device::poll_acks`]. Messages stay in the inbox until
    /// [`Device::mark_read`]. A store failure stops it: the envelopes from that one on
    /// change nothing and are not acknowledged, so the relay delivers them again.
    pub fn handle_incoming<R: CryptoRng + ?Sized>(
        &mut self,
        incoming: &[Incoming],
        rng: &mut R,
    ) -> Result<ReceiveReport, ClientError> {
        let mut report = ReceiveReport::default();
        for envelope in incoming {
            match self.receive_one(envelope, rng)? {
                Outcome::Delivered => {}
                Outcome::Duplicate => report.duplicates += 1,
                Outcome::Rejected(reason) => report.rejected.push(Rejection {
                    id: envelope.id,
                    from: envelope.from.clone(),
                    reason,
                }),
            }
            self.acks.push(envelope.id);
        }
        report.messages = self.inbox()?;
        Ok(report)
    }

    /// The ids of envelopes to acknowledge at the relay
    /// ([`Transport::ack`](crate::Transport::ack)), taken once; empty when there are none.
    /// They are durable already: an acknowledgement that is lost only makes the relay
    /// resend, and the copies are recognised.
    pub fn poll_acks(&mut self) -> Vec<u64> {
        core::mem::take(&mut self.acks)
    }

    /// The messages in the inbox, oldest first.
    pub fn inbox(&self) -> Result<Vec<Received>, ClientError> {
        let mut out = Vec::new();
        for (key, sealed) in self.store.scan(Table::Inbox)? {
            let mut record: InboxRecord = self.sealer.open_value(Table::Inbox, &key, &sealed)?;
            let id = u64::from_be_bytes(
                key.as_slice()
                    .try_into()
                    .map_err(|_| ClientError::CorruptRecord(Table::Inbox))?,
            );
            out.push(Received {
                id,
                from: record.from.clone(),
                sender_identity: IdentityKey::from_bytes(&record.sender_identity)?,
                sent_at: record.sent_at,
                body: core::mem::take(&mut record.body),
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

    fn receive_one<R: CryptoRng + ?Sized>(
        &mut self,
        incoming: &Incoming,
        rng: &mut R,
    ) -> Result<Outcome, ClientError> {
        let mut record = match self.load_peer(&incoming.from) {
            Ok(record) => record,
            // A damaged record of one peer must not block the mailbox: its messages cannot
            // be read, others still can.
            Err(ClientError::CorruptRecord(table)) => {
                return Ok(Outcome::Rejected(RejectReason::CorruptRecord(table)));
            }
            Err(e) => return Err(e),
        };
        let mut sessions = match self.sessions_of(&record) {
            Ok(sessions) => sessions,
            Err(ClientError::Protocol(e)) => return Ok(Outcome::Rejected(RejectReason::Protocol(e))),
            Err(e) => return Err(e),
        };
        let staged = match sessions.decrypt_staged(&self.account, &incoming.envelope, rng) {
            Ok(staged) => Ok((staged, false)),
            Err(Error::Handshake(HandshakeError::IdentityMismatch))
            | Err(Error::Decrypt(DecryptError::UnknownSession))
                if record.pinned.is_some() =>
            {
                self.decrypt_as_changed_identity(&mut record, incoming, rng)
            }
            Err(e) => Err(e),
        };
        let (staged, changed) = match staged {
            Ok(ok) => ok,
            Err(
                Error::Decrypt(DecryptError::Duplicate)
                | Error::Handshake(HandshakeError::ReplayedInitialMessage),
            ) => return Ok(Outcome::Duplicate),
            Err(e) => return Ok(Outcome::Rejected(RejectReason::Protocol(e))),
        };
        let Staged {
            decrypted,
            account_change,
            ..
        } = staged;
        let plaintext = Zeroizing::new(decrypted.plaintext);
        let sender = decrypted.sender;
        let Some((sent_at, body)) = payload::decode(&plaintext)
            .and_then(|(claimed, sent_at, body)| (claimed == incoming.from).then_some((sent_at, body)))
        else {
            // The relay (or the peer) put another sender on this envelope. Trust nothing of
            // it: nothing was committed, and the staged sessions and account change are
            // dropped, so the envelope changes no state.
            return Ok(Outcome::Rejected(RejectReason::SenderMismatch));
        };
        if !changed {
            record.set_sessions(&sessions.to_bytes()?);
            record.pinned.get_or_insert(sender.to_bytes());
        }
        let mut writes = Vec::with_capacity(5);
        writes.push(
            self.sealer
                .put_value(Table::Peers, incoming.from.encode(), &record, rng)?,
        );
        if let Some(change) = &account_change {
            let account = self.account.to_bytes_with(Some(change))?;
            writes.push(self.sealer.put(
                Table::Account,
                super::records::ACCOUNT_KEY.to_vec(),
                &account,
                rng,
            )?);
        }
        let mut counters = self.counters.clone();
        let id = counters.next_inbox;
        counters.next_inbox += 1;
        let inbox = InboxRecord {
            from: incoming.from.clone(),
            sender_identity: sender.to_bytes(),
            sent_at,
            body: body.to_vec(),
            identity_changed: changed,
        };
        writes.push(
            self.sealer
                .put_value(Table::Inbox, id.to_be_bytes().to_vec(), &inbox, rng)?,
        );
        writes.push(self.counters_write(&counters, rng)?);
        self.commit_with(writes, counters)?;
        if let Some(change) = &account_change {
            self.account.apply(change);
        }
        Ok(Outcome::Delivered)
    }

    /// A message from a pinned address that its trusted sessions do not know: a new
    /// identity key for that device. It is decrypted in sessions of its own, kept pending
    /// until the app accepts the new key.
    fn decrypt_as_changed_identity<R: CryptoRng + ?Sized>(
        &self,
        record: &mut PeerRecord,
        incoming: &Incoming,
        rng: &mut R,
    ) -> Result<(Staged, bool), Error> {
        let mut pending = match &record.pending {
            Some(p) if !p.sessions.is_empty() => PeerSessions::from_bytes(&p.sessions, self.config.limits())?,
            _ => PeerSessions::new(self.config.limits()),
        };
        let staged = pending.decrypt_staged(&self.account, &incoming.envelope, rng)?;
        record.pending = Some(PendingIdentity {
            identity: staged.decrypted.sender.to_bytes(),
            sessions: pending.to_bytes()?.to_vec(),
        });
        Ok((staged, true))
    }
}
