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

use super::payload::{self, Content};
use super::records::{InboxRecord, PeerRecord};
use super::{ClientError, Device};
use crate::account::{DeviceList, LinkSecret, confirmation_code};
use crate::error::{DecryptError, HandshakeError};
use crate::session::Staged;
use crate::store::{Table, Write};
use crate::transport::{Address, Incoming};
use crate::{AccountChange, Error, IdentityKey, PeerSessions};

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
    /// The sender's user changed account key and this device is in the new key's list,
    /// not yet accepted: show a warning; sending to the user is blocked until
    /// [`Device::accept_account`].
    pub identity_changed: bool,
    /// `Some(user)`: a copy of a message this user sent to `user` from another of its
    /// devices (`from`); `None`: a message from `from` to this user.
    pub sent_to: Option<String>,
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
    /// The sender device is in no device list of its user that this device trusts, or
    /// with another identity key (a device the relay added, or one removed): nothing of it
    /// is shown.
    #[error("the sender device is not in its user's signed device list")]
    UnlistedDevice,
    /// This device is not linked yet: it reads only the provisioning message that links
    /// it.
    #[error("this device is not linked yet")]
    NotLinked,
    /// A sent copy or provisioning message from a device of another user, or a
    /// provisioning message that does not complete this device's link (wrong link secret,
    /// a list without this device, or not from a listed device): refused.
    #[error("a message of a kind its sender may not send here")]
    Misdirected,
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
                sent_to: record.sent_to.take(),
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
        let record = match self.load_peer(&incoming.from) {
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
        let mut fresh = false;
        let staged = match sessions.decrypt_staged(&self.account, &incoming.envelope, rng) {
            Err(Error::Handshake(HandshakeError::IdentityMismatch))
            | Err(Error::Decrypt(DecryptError::UnknownSession))
                if record.pinned.is_some() =>
            {
                // A new session from another identity key at this address (a device
                // reinstalled and linked again): tried in sessions of its own, kept only if
                // the list vouches for the new key.
                sessions = PeerSessions::new(self.config.limits());
                fresh = true;
                sessions.decrypt_staged(&self.account, &incoming.envelope, rng)
            }
            other => other,
        };
        let staged = match staged {
            Ok(staged) => staged,
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
        let Some(payload) = payload::decode(&plaintext).filter(|p| p.sender == incoming.from) else {
            // The relay (or the peer) put another sender on this envelope. Trust nothing of
            // it: nothing was committed, and the staged sessions and account change are
            // dropped, so the envelope changes no state.
            return Ok(Outcome::Rejected(RejectReason::SenderMismatch));
        };
        let own_user = incoming.from.user() == self.me.user();
        if let Content::Provision { secret, list } = &payload.content {
            return self.provisioned(incoming, &sender, secret, list, sessions, account_change, rng);
        }
        if self.user.own.is_none() {
            return Ok(Outcome::Rejected(RejectReason::NotLinked));
        }
        let Some(changed) = self.listed_as(&incoming.from, &sender) else {
            return Ok(Outcome::Rejected(RejectReason::UnlistedDevice));
        };
        let (body, sent_to) = match &payload.content {
            Content::Message(body) => (*body, None),
            Content::SentCopy { to, body } if own_user => (*body, Some(to.clone())),
            _ => return Ok(Outcome::Rejected(RejectReason::Misdirected)),
        };
        let mut record = record;
        if fresh {
            record = PeerRecord::default();
        }
        record.set_sessions(&sessions.to_bytes()?);
        record.pinned = Some(sender.to_bytes());
        let mut writes = Vec::with_capacity(5);
        writes.push(
            self.sealer
                .put_value(Table::Peers, incoming.from.encode(), &record, rng)?,
        );
        if let Some(change) = &account_change {
            writes.push(self.account_write(change, rng)?);
        }
        let mut counters = self.counters.clone();
        let id = counters.next_inbox;
        counters.next_inbox += 1;
        let inbox = InboxRecord {
            from: incoming.from.clone(),
            sender_identity: sender.to_bytes(),
            sent_at: payload.sent_at,
            body: body.to_vec(),
            identity_changed: changed,
            sent_to,
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

    /// The sealed account with `change` applied, as a write.
    fn account_write<R: CryptoRng + ?Sized>(
        &self,
        change: &AccountChange,
        rng: &mut R,
    ) -> Result<Write, ClientError> {
        let account = self.account.to_bytes_with(Some(change))?;
        self.sealer.put(
            Table::Account,
            super::records::ACCOUNT_KEY.to_vec(),
            &account,
            rng,
        )
    }

    /// A provisioning message: it completes this device's link if this device waits for
    /// one, the link secret is its own, the list holds this device with its identity key
    /// and the sender with the key its session is with. Then the list becomes this user's,
    /// in one commit with the sessions.
    #[allow(clippy::too_many_arguments)]
    fn provisioned<R: CryptoRng + ?Sized>(
        &mut self,
        incoming: &Incoming,
        sender: &IdentityKey,
        secret: &LinkSecret,
        list: &[u8],
        sessions: PeerSessions,
        account_change: Option<AccountChange>,
        rng: &mut R,
    ) -> Result<Outcome, ClientError> {
        let Some(own_secret) = &self.user.link_secret else {
            return Ok(Outcome::Rejected(RejectReason::Misdirected));
        };
        if incoming.from.user() != self.me.user() || !own_secret.matches(secret) {
            return Ok(Outcome::Rejected(RejectReason::Misdirected));
        }
        let list = match DeviceList::decode(list) {
            Ok(list) => list,
            Err(e) => return Ok(Outcome::Rejected(RejectReason::Protocol(e))),
        };
        let holds = |device: u32, key: &IdentityKey| list.identity_of(device) == Some(key);
        if list.user() != self.me.user()
            || !holds(self.me.device(), self.identity_key())
            || !holds(incoming.from.device(), sender)
        {
            return Ok(Outcome::Rejected(RejectReason::Misdirected));
        }
        let confirmation = confirmation_code(secret, list.account_key(), sender, self.identity_key());
        let mut record = PeerRecord::default();
        record.set_sessions(&sessions.to_bytes()?);
        record.pinned = Some(sender.to_bytes());
        let mut writes = vec![
            self.sealer
                .put_value(Table::Peers, incoming.from.encode(), &record, rng)?,
        ];
        if let Some(change) = &account_change {
            writes.push(self.account_write(change, rng)?);
        }
        let mut next = self.user.clone();
        next.own = Some(list);
        next.link_secret = None;
        next.confirmation = Some(confirmation);
        self.commit_user(next, writes, self.counters.clone(), rng)?;
        if let Some(change) = &account_change {
            self.account.apply(change);
        }
        Ok(Outcome::Delivered)
    }
}
