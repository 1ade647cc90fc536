//! An in-memory relay for tests and examples (docs/ARCHITECTURE.md, section 8). It keeps bundles and
//! mailboxes like a real server, and records every byte it is handed, so tests can prove
//! what a relay learns.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use core::future::{Future, ready};

use super::{Address, AsyncTransport, Incoming, PrekeyUpload, Transport, TransportError};
use crate::DeviceList;
use crate::handshake::{KemPrekeyPublic, OneTimePrekeyPublic};

#[derive(Debug)]
struct Device {
    upload: PrekeyUpload,
    one_time: VecDeque<OneTimePrekeyPublic>,
    one_time_kem: VecDeque<KemPrekeyPublic>,
    /// Highest one-time prekey id received from this device: a key is added once, so an
    /// upload repeated after a failure never puts a handed-out key back in stock.
    high_water: u32,
    mailbox: BTreeMap<u64, (Address, Vec<u8>)>,
}

/// The relay's state: what a real server would hold. Shared by [`InMemoryRelay`] and the
/// TCP relay example. `RelayState::default()` keeps no log; [`InMemoryRelay`] keeps one.
#[derive(Debug, Default)]
pub struct RelayState {
    devices: BTreeMap<Address, Device>,
    /// The newest signed device list published for each user.
    lists: BTreeMap<String, Vec<u8>>,
    next_id: u64,
    keep_log: bool,
    log: Vec<Vec<u8>>,
}

impl RelayState {
    /// A relay state that records every byte string it is handed or hands out (for tests
    /// that prove what a relay learns; it grows with all traffic).
    pub fn with_log() -> Self {
        Self {
            keep_log: true,
            ..Self::default()
        }
    }

    fn record(&mut self, bytes: &[u8]) {
        if self.keep_log {
            self.log.push(bytes.to_vec());
        }
    }

    /// Stores a device's upload (replacing its signed and last-resort prekeys, adding its
    /// one-time prekeys).
    pub fn publish(&mut self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.record(upload);
        let upload = PrekeyUpload::decode(upload).map_err(|e| TransportError::Rejected(e.to_string()))?;
        let entry = self.devices.entry(device.clone());
        let device = match entry {
            std::collections::btree_map::Entry::Occupied(o) => {
                let d = o.into_mut();
                if d.upload.identity != upload.identity {
                    // A reinstalled device: a new identity replaces the old stock.
                    d.one_time.clear();
                    d.one_time_kem.clear();
                    d.high_water = 0;
                }
                d
            }
            std::collections::btree_map::Entry::Vacant(v) => v.insert(Device {
                upload: upload.clone(),
                one_time: VecDeque::new(),
                one_time_kem: VecDeque::new(),
                high_water: 0,
                mailbox: BTreeMap::new(),
            }),
        };
        let high_water = device.high_water;
        device
            .one_time
            .extend(upload.one_time.iter().filter(|k| k.id > high_water).copied());
        device
            .one_time_kem
            .extend(upload.one_time_kem.iter().filter(|k| k.id > high_water).cloned());
        let ids = upload
            .one_time
            .iter()
            .map(|k| k.id)
            .chain(upload.one_time_kem.iter().map(|k| k.id));
        device.high_water = ids.fold(high_water, u32::max);
        device.upload = PrekeyUpload {
            one_time: Vec::new(),
            one_time_kem: Vec::new(),
            ..upload
        };
        Ok(())
    }

    /// The device ids of a user.
    pub fn devices(&self, user: &str) -> Vec<u32> {
        self.devices
            .keys()
            .filter(|a| a.user() == user)
            .map(Address::device)
            .collect()
    }

    /// Hands out a bundle, consuming one one-time prekey of each kind if any are left.
    pub fn fetch_bundle(&mut self, device: &Address) -> Result<Vec<u8>, TransportError> {
        let d = self.devices.get_mut(device).ok_or(TransportError::NotFound)?;
        let bundle = d
            .upload
            .bundle(d.one_time.pop_front(), d.one_time_kem.pop_front())
            .map_err(|e| TransportError::Rejected(e.to_string()))?
            .encode();
        self.record(&bundle);
        Ok(bundle)
    }

    /// Stores a user's signed device list. It must decode and verify, be for `user`, and
    /// be newer than the one held under the same account key (`Rejected` otherwise); a
    /// list under a new account key replaces the old one (a user who lost every device).
    /// Clients do not rely on any of this: they check every list themselves.
    pub fn publish_device_list(&mut self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.record(list);
        let new = DeviceList::decode(list).map_err(|e| TransportError::Rejected(e.to_string()))?;
        if new.user() != user {
            return Err(TransportError::Rejected("device list of another user".into()));
        }
        if let Some(held) = self.lists.get(user).and_then(|b| DeviceList::decode(b).ok())
            && held.account_key() == new.account_key()
            && held.version() >= new.version()
        {
            if held == new {
                return Ok(());
            }
            return Err(TransportError::Rejected("device list not newer".into()));
        }
        self.lists.insert(user.to_owned(), list.to_vec());
        Ok(())
    }

    /// The device list held for a user.
    pub fn fetch_device_list(&mut self, user: &str) -> Result<Vec<u8>, TransportError> {
        let list = self.lists.get(user).cloned().ok_or(TransportError::NotFound)?;
        self.record(&list);
        Ok(list)
    }

    /// Replaces the list held for a user without any check (for tests of a relay that
    /// serves old or forged lists).
    pub fn set_device_list(&mut self, user: &str, list: Vec<u8>) {
        self.lists.insert(user.to_owned(), list);
    }

    /// Queues an envelope.
    pub fn send(&mut self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.record(envelope);
        let d = self.devices.get_mut(to).ok_or(TransportError::NotFound)?;
        self.next_id += 1;
        d.mailbox.insert(self.next_id, (from.clone(), envelope.to_vec()));
        Ok(())
    }

    /// The envelopes waiting for a device.
    pub fn fetch(&self, device: &Address) -> Vec<Incoming> {
        self.devices.get(device).map_or_else(Vec::new, |d| {
            d.mailbox
                .iter()
                .map(|(&id, (from, envelope))| Incoming {
                    id,
                    from: from.clone(),
                    envelope: envelope.clone(),
                })
                .collect()
        })
    }

    /// Deletes delivered envelopes.
    pub fn ack(&mut self, device: &Address, ids: &[u64]) {
        if let Some(d) = self.devices.get_mut(device) {
            for id in ids {
                d.mailbox.remove(id);
            }
        }
    }

    /// Every byte string the relay was handed or handed out, in order: uploads, bundles,
    /// envelopes.
    pub fn log(&self) -> &[Vec<u8>] {
        &self.log
    }

    /// Number of one-time prekeys of each kind in stock for a device.
    pub fn stock(&self, device: &Address) -> (usize, usize) {
        self.devices
            .get(device)
            .map_or((0, 0), |d| (d.one_time.len(), d.one_time_kem.len()))
    }
}

/// A relay in memory, shared by cloning: every clone is a handle to the same relay.
#[derive(Debug, Clone)]
pub struct InMemoryRelay {
    state: Arc<Mutex<RelayState>>,
}

impl InMemoryRelay {
    /// A new, empty relay that logs every byte it sees (see [`RelayState::log`]).
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(RelayState::with_log())),
        }
    }

    /// Runs `f` on the relay's state (for tests: its byte log, its stock).
    pub fn with_state<T>(&self, f: impl FnOnce(&mut RelayState) -> T) -> Result<T, TransportError> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| TransportError::Unavailable("relay state poisoned".into()))?;
        Ok(f(&mut state))
    }
}

impl Default for InMemoryRelay {
    fn default() -> Self {
        Self::new()
    }
}

impl Transport for InMemoryRelay {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.with_state(|s| s.publish(device, upload))?
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.with_state(|s| s.publish_device_list(user, list))?
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        self.with_state(|s| s.fetch_device_list(user))?
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.with_state(|s| s.fetch_bundle(device))?
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.with_state(|s| s.send(from, to, envelope))?
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        self.with_state(|s| s.fetch(device))
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        self.with_state(|s| s.ack(device, ids))
    }
}

/// The same relay for async clients: every future is ready at once.
impl AsyncTransport for InMemoryRelay {
    fn publish(
        &self,
        device: &Address,
        upload: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        ready(Transport::publish(self, device, upload))
    }
    fn publish_device_list(
        &self,
        user: &str,
        list: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        ready(Transport::publish_device_list(self, user, list))
    }
    fn fetch_device_list(&self, user: &str) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send {
        ready(Transport::fetch_device_list(self, user))
    }
    fn fetch_bundle(&self, device: &Address) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send {
        ready(Transport::fetch_bundle(self, device))
    }
    fn send(
        &self,
        from: &Address,
        to: &Address,
        envelope: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        ready(Transport::send(self, from, to, envelope))
    }
    fn fetch(&self, device: &Address) -> impl Future<Output = Result<Vec<Incoming>, TransportError>> + Send {
        ready(Transport::fetch(self, device))
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> impl Future<Output = Result<(), TransportError>> + Send {
        ready(Transport::ack(self, device, ids))
    }
}
