//! Sending (docs/ARCHITECTURE.md, section 5): what the relay must be asked first, then the
//! ratchet step and the envelope enter the outbox in one commit; the outbox is polled for
//! the transport, and each envelope leaves it once the relay took it or refused it for good.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::payload::{self, Content};
use super::records::{OutboxRecord, PeerRecord};
use super::{ByAddress, ClientError, Device};
use crate::store::{Table, Write};
use crate::transport::{Address, TransportError};
use crate::{IdentityKey, PrekeyBundle};

/// A question for the relay that a send needs answered (see [`Device::lookups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// The device has no session with the identity key its user's list vouches for:
    /// fetch its prekey bundle ([`Transport::fetch_bundle`](crate::Transport::fetch_bundle)).
    /// A send cannot go without it: a failed fetch fails the send.
    Bundle(Address),
}

/// The relay's answers to a send's [`Lookup`]s.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    bundles: ByAddress<Vec<u8>>,
}

impl Lookups {
    /// No answers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bundle the relay gave for `address` (encoded `PrekeyBundle`).
    pub fn add_bundle(&mut self, address: Address, bundle: Vec<u8>) {
        self.bundles.insert(address, bundle);
    }
}

/// An envelope from the outbox, to send (see [`Device::poll_transmit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transmit {
    /// The outbox id, to pass back to [`Device::handle_transmit`].
    pub id: u64,
    /// The device it is for.
    pub to: Address,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

impl Device {
    /// The devices a message to `user` goes to: every device of `user`'s pinned device
    /// list and every other device of this user's own list, never this device. Call
    /// [`Device::handle_device_list`] with the relay's newest lists first (both
    /// [`Client::send`](crate::Client::send) and the async driver do).
    ///
    /// `NoDevices` if no list of `user` is known; `AccountChanged` while `user`'s account
    /// key change waits for [`Device::accept_account`]; `NotLinked` if this device is not
    /// in its own list (not linked yet, or removed); `InvalidAddress` for an invalid user id.
    pub fn targets(&self, user: &str) -> Result<Vec<Address>, ClientError> {
        Address::new(user, 0).ok_or(ClientError::InvalidAddress)?;
        if !self.is_linked() {
            return Err(ClientError::NotLinked);
        }
        let mut targets = Vec::new();
        if user != self.me.user() {
            let contact = self.user.contacts.get(user).ok_or(ClientError::NoDevices)?;
            if contact.pending.is_some() {
                return Err(ClientError::AccountChanged {
                    user: user.to_owned(),
                });
            }
            let list = contact.list.as_ref().ok_or(ClientError::NoDevices)?;
            for (id, _) in list.devices() {
                targets.extend(Address::new(user, id));
            }
        }
        if let Some(own) = &self.user.own {
            for (id, _) in own.devices() {
                if id != self.me.device() {
                    targets.extend(Address::new(self.me.user(), id));
                }
            }
        }
        Ok(targets)
    }

    /// What the relay must be asked before [`Device::send`] to `targets`: a bundle for
    /// each device without a session with the identity key its list vouches for, in the
    /// order of `targets`. Changes nothing. `NotLinked` if this device is not in its own
    /// list; `UnlistedIdentity` for a device no trusted list holds; `AccountChanged` for one of a user whose account change waits.
    pub fn lookups(&self, targets: &[Address]) -> Result<Vec<Lookup>, ClientError> {
        if !self.is_linked() {
            return Err(ClientError::NotLinked);
        }
        let mut lookups = Vec::with_capacity(targets.len());
        for to in targets {
            let listed = self.sendable_identity(to)?;
            let record = self.load_peer(to)?;
            let current =
                record.pinned == Some(listed.to_bytes()) && self.sessions_of(&record)?.active().is_some();
            if !current {
                lookups.push(Lookup::Bundle(to.clone()));
            }
        }
        Ok(lookups)
    }

    /// The identity key the trusted list vouches for at `to`, if a message may go to it.
    fn sendable_identity(&self, to: &Address) -> Result<IdentityKey, ClientError> {
        let pending = to.user() != self.me.user()
            && self
                .user
                .contacts
                .get(to.user())
                .is_some_and(|c| c.pending.is_some());
        if pending {
            return Err(ClientError::AccountChanged {
                user: to.user().to_owned(),
            });
        }
        self.listed_identity(to)
            .cloned()
            .ok_or_else(|| ClientError::UnlistedIdentity { address: to.clone() })
    }

    /// Encrypts `body` for every device of `targets` and commits the ratchet steps and the
    /// envelopes to the outbox in one transaction. Returns how many devices it was
    /// committed for; the envelopes then wait in [`Device::poll_transmit`]. This user's
    /// own devices among `targets` get a sent copy, naming the user the message is to
    /// (the first user of `targets` other than this one; this one if there is none).
    ///
    /// This device must be in its own list (`NotLinked`), and each device of `targets` in
    /// a trusted list (`UnlistedIdentity`, `AccountChanged`, as [`Device::lookups`]). `lookups` holds the relay's answers to [`Device::lookups`]:
    /// a device without a session with its listed identity key needs a bundle
    /// (`BundleNeeded` if none is there), and the bundle's identity key must be the listed
    /// one (`UnlistedIdentity` if not: the relay substituted it). On any error nothing
    /// changes.
    ///
    /// Each record is loaded again rather than taken from what [`Device::lookups`] saw:
    /// between the two calls a driver may let other calls run (the async driver does while
    /// it awaits the relay), and a send must encrypt with the sessions as they are now.
    pub fn send<R: CryptoRng + ?Sized>(
        &mut self,
        targets: &[Address],
        body: &[u8],
        lookups: &Lookups,
        now: u64,
        rng: &mut R,
    ) -> Result<usize, ClientError> {
        if !self.is_linked() {
            return Err(ClientError::NotLinked);
        }
        let recipient = targets
            .iter()
            .map(Address::user)
            .find(|u| *u != self.me.user())
            .unwrap_or(self.me.user())
            .to_owned();
        let message = Zeroizing::new(payload::encode(&self.me, now, Content::Message(body)));
        let copy = Zeroizing::new(payload::encode(
            &self.me,
            now,
            Content::SentCopy { to: recipient, body },
        ));
        let mut counters = self.counters.clone();
        let first_id = counters.next_outbox;
        let mut writes: Vec<Write> = Vec::with_capacity(2 * targets.len() + 1);
        for to in targets {
            let listed = self.sendable_identity(to)?;
            let mut record = self.load_peer(to)?;
            if record.pinned != Some(listed.to_bytes()) {
                // No session yet, or sessions with a key the list no longer vouches for
                // (the device was reinstalled and linked again): start afresh.
                record = PeerRecord::default();
            }
            let mut sessions = self.sessions_of(&record)?;
            if sessions.active().is_none() {
                let bytes = lookups
                    .bundles
                    .get(to)
                    .ok_or_else(|| ClientError::BundleNeeded { address: to.clone() })?;
                let bundle = PrekeyBundle::decode(bytes)?;
                if *bundle.identity() != listed {
                    return Err(ClientError::UnlistedIdentity { address: to.clone() });
                }
                sessions.initiate(self.account.identity(), &bundle, rng)?;
                record.pinned = Some(listed.to_bytes());
            }
            let plaintext = if to.user() == self.me.user() {
                &copy
            } else {
                &message
            };
            let envelope = sessions.encrypt(plaintext, rng)?;
            record.set_sessions(&sessions.to_bytes()?);
            writes.push(self.sealer.put_value(Table::Peers, to.encode(), &record, rng)?);
            let id = counters.next_outbox;
            counters.next_outbox += 1;
            let outbox = OutboxRecord {
                to: to.clone(),
                envelope,
            };
            writes.push(
                self.sealer
                    .put_value(Table::Outbox, id.to_be_bytes().to_vec(), &outbox, rng)?,
            );
        }
        writes.push(self.counters_write(&counters, rng)?);
        let next = counters.next_outbox;
        self.commit_with(writes, counters)?;
        if !self.rescan {
            self.queue.extend(first_id..next);
        }
        Ok(targets.len())
    }

    /// The next envelope of the outbox to send, oldest first; `None` when every envelope
    /// is sent or in flight. Each is handed out once until it is reported back with
    /// [`Device::handle_transmit`]. Changes nothing durable.
    pub fn poll_transmit(&mut self) -> Result<Option<Transmit>, ClientError> {
        if self.rescan {
            let ids = self.outbox_ids()?;
            self.queue = ids
                .into_iter()
                .filter(|id| !self.in_flight.contains(id))
                .collect();
            self.rescan = false;
        }
        while let Some(id) = self.queue.pop_front() {
            let key = id.to_be_bytes();
            let sealed = match self.store.get(Table::Outbox, &key) {
                Ok(Some(sealed)) => sealed,
                // Sent and reported by another caller in the meantime.
                Ok(None) => continue,
                Err(e) => {
                    self.rescan = true;
                    return Err(e.into());
                }
            };
            let record: OutboxRecord = match self.sealer.open_value(Table::Outbox, &key, &sealed) {
                Ok(record) => record,
                Err(e) => {
                    self.rescan = true;
                    return Err(e);
                }
            };
            self.in_flight.insert(id);
            return Ok(Some(Transmit {
                id,
                to: record.to,
                envelope: record.envelope,
            }));
        }
        Ok(None)
    }

    /// How sending a [`Transmit`] went. Accepted by the relay, or refused for good (no such
    /// device: `NotFound`; `Rejected`): the envelope leaves the outbox (one commit), so it
    /// cannot block the others. Any other failure may pass: the envelope stays, and the
    /// next [`Device::poll_transmit`] hands it out again, first (so a driver stops polling
    /// until it wants to retry).
    pub fn handle_transmit(
        &mut self,
        id: u64,
        outcome: &Result<(), TransportError>,
    ) -> Result<(), ClientError> {
        self.in_flight.remove(&id);
        match outcome {
            Ok(()) | Err(TransportError::NotFound | TransportError::Rejected(_)) => {
                // A crash before this commit sends the envelope again; the receiver's
                // ratchet refuses the copy.
                let delete = Write::Delete {
                    table: Table::Outbox,
                    key: id.to_be_bytes().to_vec(),
                };
                if let Err(e) = self.store.commit(vec![delete]) {
                    self.rescan = true;
                    return Err(e.into());
                }
                Ok(())
            }
            Err(_) => {
                self.rescan = true;
                Ok(())
            }
        }
    }

    /// Number of envelopes waiting in the outbox (in flight included).
    pub fn outbox_len(&self) -> Result<usize, ClientError> {
        Ok(self.store.keys(Table::Outbox)?.len())
    }
}
