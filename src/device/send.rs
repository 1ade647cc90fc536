//! Sending (docs/ARCHITECTURE.md, section 5): what the relay must be asked first, then the
//! ratchet step and the envelope enter the outbox in one commit; the outbox is polled for
//! the transport, and each envelope leaves it once the relay took it or refused it for good.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::records::{OutboxRecord, PendingIdentity};
use super::{ByAddress, ClientError, Device, payload};
use crate::PrekeyBundle;
use crate::store::{Table, Write};
use crate::transport::{Address, TransportError};

/// A question for the relay that a send needs answered (see [`Device::lookups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Lookup {
    /// The device has no session: fetch its prekey bundle
    /// ([`Transport::fetch_bundle`](crate::Transport::fetch_bundle)). A send cannot go
    /// without it: a failed fetch fails the send.
    Bundle(Address),
    /// The device has a session: ask which identity key it publishes now
    /// ([`Transport::identity`](crate::Transport::identity)), so a reinstalled peer is
    /// noticed. Optional: a failed lookup is answered as unknown, and the send goes on.
    Identity(Address),
}

/// The relay's answers to a send's [`Lookup`]s.
#[derive(Debug, Clone, Default)]
pub struct Lookups {
    bundles: ByAddress<Vec<u8>>,
    identities: ByAddress<[u8; 32]>,
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

    /// The identity key the relay says `address` publishes (`None`: unknown, which
    /// changes nothing).
    pub fn add_identity(&mut self, address: Address, identity: Option<[u8; 32]>) {
        match identity {
            Some(key) => {
                self.identities.insert(address, key);
            }
            None => {
                self.identities.remove(&address);
            }
        }
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
    /// The devices of `user` to send to, from the ids the relay lists
    /// ([`Transport::devices`](crate::Transport::devices)): all but this device.
    /// `NoDevices` if the relay lists none; `InvalidAddress` if `user` is not a valid
    /// user id.
    pub fn targets(&self, user: &str, devices: &[u32]) -> Result<Vec<Address>, ClientError> {
        if devices.is_empty() {
            return Err(ClientError::NoDevices);
        }
        let mut targets = Vec::with_capacity(devices.len());
        for &device in devices {
            let address = Address::new(user, device).ok_or(ClientError::InvalidAddress)?;
            if address != self.me && !targets.contains(&address) {
                targets.push(address);
            }
        }
        Ok(targets)
    }

    /// What the relay must be asked before [`Device::send`] to `targets`: one [`Lookup`]
    /// per device, in the order of `targets`. Changes nothing. `IdentityChanged` if a
    /// device's new identity key waits for [`Device::accept_identity`].
    pub fn lookups(&self, targets: &[Address]) -> Result<Vec<Lookup>, ClientError> {
        let mut lookups = Vec::with_capacity(targets.len());
        for to in targets {
            let record = self.load_peer(to)?;
            if record.pending.is_some() {
                return Err(ClientError::IdentityChanged { address: to.clone() });
            }
            if self.sessions_of(&record)?.active().is_some() {
                lookups.push(Lookup::Identity(to.clone()));
            } else {
                lookups.push(Lookup::Bundle(to.clone()));
            }
        }
        Ok(lookups)
    }

    /// Encrypts `body` for every device of `targets` and commits the ratchet steps and the
    /// envelopes to the outbox in one transaction. Returns how many devices it was
    /// committed for; the envelopes then wait in [`Device::poll_transmit`].
    ///
    /// `lookups` holds the relay's answers to [`Device::lookups`]. A device without a
    /// session needs a bundle (`BundleNeeded` if none is there). A device whose answer
    /// shows an identity key other than the pinned one is marked changed (that one
    /// record is committed) and the send fails with `IdentityChanged`; nothing else is
    /// committed. On any other error nothing changes.
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
        let payload = Zeroizing::new(payload::encode(&self.me, now, body));
        let mut counters = self.counters.clone();
        let first_id = counters.next_outbox;
        let mut writes: Vec<Write> = Vec::with_capacity(2 * targets.len() + 1);
        for to in targets {
            let mut record = self.load_peer(to)?;
            if record.pending.is_some() {
                return Err(ClientError::IdentityChanged { address: to.clone() });
            }
            let mut sessions = self.sessions_of(&record)?;
            let bundle = match sessions.active() {
                Some(_) => None,
                None => {
                    let bytes = lookups
                        .bundles
                        .get(to)
                        .ok_or_else(|| ClientError::BundleNeeded { address: to.clone() })?;
                    Some(PrekeyBundle::decode(bytes)?)
                }
            };
            let announced = match &bundle {
                Some(bundle) => Some(bundle.identity().to_bytes()),
                None => lookups.identities.get(to).copied(),
            };
            if let (Some(pinned), Some(current)) = (record.pinned, announced)
                && pinned != current
            {
                // The peer reinstalled: its sessions are with a key it no longer holds.
                record.pending = Some(PendingIdentity {
                    identity: current,
                    sessions: Vec::new(),
                });
                let write = self.sealer.put_value(Table::Peers, to.encode(), &record, rng)?;
                self.store.commit(vec![write])?;
                return Err(ClientError::IdentityChanged { address: to.clone() });
            }
            if let Some(bundle) = bundle {
                sessions.initiate(self.account.identity(), &bundle, rng)?;
                record.pinned = Some(bundle.identity().to_bytes());
            }
            let envelope = sessions.encrypt(&payload, rng)?;
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
