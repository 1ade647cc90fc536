//! The async driver (docs/ARCHITECTURE.md, sections 3, 5 and 6): a [`Device`] over an
//! [`AsyncTransport`], polled in the order the device's doc gives.
//!
//! Runtime-agnostic: it spawns nothing and needs no timer; its futures are `Send` and run
//! on any executor. The device sits behind a mutex that is held only while the device
//! computes and commits, never across an `.await`, so one client can be shared by many
//! tasks (`Arc<AsyncClient<T>>`): each envelope of the outbox is handed to one sender at a
//! time, and a message is delivered once however many `receive` calls race.

use std::sync::{Mutex, MutexGuard, PoisonError};

use rand_core::CryptoRng;

use super::{
    AsyncTransport, ClientConfig, ClientError, Clock, Device, ReceiveReport, Received, SafetyNumber,
};
use crate::device::{Lookup, Lookups};
use crate::store::Store;
use crate::transport::{Address, TransportError};
use crate::{DeviceList, IdentityKey, LinkCode, ListChange};

/// Everything an async client needs from the app.
pub struct AsyncClientParts<T> {
    /// The 32-byte key that seals every stored record (keep it in the Keychain/Keystore).
    pub storage_key: [u8; 32],
    /// Where state lives. Its calls are blocking and short (one transaction); a store on a
    /// slow disk blocks the executor for that long.
    pub store: Box<dyn Store>,
    /// How envelopes travel.
    pub transport: T,
    /// What time it is.
    pub clock: Box<dyn Clock>,
    /// Randomness (`hemlis::os_rng()` in apps).
    pub rng: Box<dyn CryptoRng + Send>,
    /// Upkeep settings.
    pub config: ClientConfig,
}

impl<T> AsyncClientParts<T> {
    /// The parts with the defaults an app wants: the system clock,
    /// [`os_rng`](crate::os_rng) and the default configuration (see
    /// [`ClientParts::new`](super::ClientParts::new)).
    pub fn new(storage_key: [u8; 32], store: Box<dyn Store>, transport: T) -> Self {
        Self {
            storage_key,
            store,
            transport,
            clock: Box::new(crate::SystemClock),
            rng: Box::new(crate::os_rng()),
            config: ClientConfig::default(),
        }
    }
}

struct State {
    device: Device,
    rng: Box<dyn CryptoRng + Send>,
}

/// One device, driven over an [`AsyncTransport`]. The same operations, with the same
/// guarantees, as [`Client`](super::Client), as `async` methods that take `&self`.
pub struct AsyncClient<T> {
    state: Mutex<State>,
    transport: T,
    clock: Box<dyn Clock>,
    address: Address,
    identity: IdentityKey,
}

impl<T> core::fmt::Debug for AsyncClient<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsyncClient")
            .field("me", &self.address)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl<T: AsyncTransport> AsyncClient<T> {
    /// Creates the first device of a new account in an empty store, and publishes its
    /// prekeys and device list (see [`Client::create`](super::Client::create)).
    pub async fn create(user: &str, device: u32, parts: AsyncClientParts<T>) -> Result<Self, ClientError> {
        Self::create_with(user, device, parts, true).await
    }

    /// Creates a device to be linked to an existing account (see
    /// [`Client::create_linked`](super::Client::create_linked)).
    pub async fn create_linked(
        user: &str,
        device: u32,
        parts: AsyncClientParts<T>,
    ) -> Result<Self, ClientError> {
        Self::create_with(user, device, parts, false).await
    }

    async fn create_with(
        user: &str,
        device: u32,
        mut parts: AsyncClientParts<T>,
        first: bool,
    ) -> Result<Self, ClientError> {
        let now = parts.clock.now();
        let make = if first {
            Device::create::<dyn CryptoRng + Send>
        } else {
            Device::create_linked::<dyn CryptoRng + Send>
        };
        let device = make(
            user,
            device,
            parts.storage_key,
            parts.store,
            parts.config,
            now,
            &mut *parts.rng,
        )?;
        let client = Self::assemble(device, parts.rng, parts.transport, parts.clock);
        match client.upkeep().await {
            Ok(_) | Err(ClientError::Transport(TransportError::Unavailable(_))) => Ok(client),
            Err(e) => Err(e),
        }
    }

    /// Opens the device in `store`.
    pub fn open(parts: AsyncClientParts<T>) -> Result<Self, ClientError> {
        let device = Device::open(parts.storage_key, parts.store, parts.config)?;
        Ok(Self::assemble(device, parts.rng, parts.transport, parts.clock))
    }

    fn assemble(device: Device, rng: Box<dyn CryptoRng + Send>, transport: T, clock: Box<dyn Clock>) -> Self {
        Self {
            address: device.address().clone(),
            identity: device.identity_key().clone(),
            state: Mutex::new(State { device, rng }),
            transport,
            clock,
        }
    }

    /// The device, locked. Every device call either commits or changes nothing, so a
    /// panic elsewhere while the lock was held leaves it consistent.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This device's address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// This device's identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        &self.identity
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// Sends `body` to every device of `user`'s device list and a copy to this user's
    /// other devices (see [`Client::send`](super::Client::send)).
    pub async fn send(&self, user: &str, body: &[u8]) -> Result<usize, ClientError> {
        self.refresh_list(user).await?;
        if user != self.address.user() {
            self.refresh_list(self.address.user()).await?;
        }
        let targets = self.lock().device.targets(user)?;
        self.send_to(&targets, body).await
    }

    /// Fetches and takes `user`'s device list (see
    /// [`Client::refresh_list`](super::Client::refresh_list)).
    pub async fn refresh_list(&self, user: &str) -> Result<ListChange, ClientError> {
        match self.transport.fetch_device_list(user).await {
            Ok(list) => {
                let mut state = self.lock();
                let State { device, rng } = &mut *state;
                device.handle_device_list(user, &list, rng)
            }
            Err(TransportError::NotFound) if user == self.address.user() => Ok(ListChange::Unchanged),
            Err(TransportError::NotFound) => Err(ClientError::NoDevices),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `body` to the given devices, in one commit (see
    /// [`Client::send_to`](super::Client::send_to)).
    pub async fn send_to(&self, targets: &[Address], body: &[u8]) -> Result<usize, ClientError> {
        let mut attempts = 0;
        let sent = loop {
            let lookups = self.lock().device.lookups(targets)?;
            let mut answers = Lookups::new();
            for lookup in lookups {
                match lookup {
                    Lookup::Bundle(to) => {
                        let bundle = self.transport.fetch_bundle(&to).await?;
                        answers.add_bundle(to, bundle);
                    }
                }
            }
            let now = self.clock.now();
            let result = {
                let mut state = self.lock();
                let State { device, rng } = &mut *state;
                device.send(targets, body, &answers, now, rng)
            };
            match result {
                Err(ClientError::BundleNeeded { .. }) if attempts < 2 => attempts += 1,
                other => break other?,
            }
        };
        let _ = self.flush().await;
        Ok(sent)
    }

    /// Links the new device of `code` (see [`Client::link`](super::Client::link)).
    pub async fn link(&self, code: &LinkCode) -> Result<String, ClientError> {
        let bundle = self.transport.fetch_bundle(code.address()).await?;
        let now = self.clock.now();
        let confirmation = {
            let mut state = self.lock();
            let State { device, rng } = &mut *state;
            device.link(code, &bundle, now, rng)?
        };
        let _ = self.publish_list().await;
        let _ = self.flush().await;
        Ok(confirmation)
    }

    /// Removes one of this user's devices (see [`Client::unlink`](super::Client::unlink)).
    pub async fn unlink(&self, device: u32) -> Result<(), ClientError> {
        let now = self.clock.now();
        {
            let mut state = self.lock();
            let State { device: d, rng } = &mut *state;
            d.unlink(device, now, rng)?;
        }
        let _ = self.publish_list().await;
        Ok(())
    }

    /// This device's link code, while it waits to be linked.
    pub fn link_code(&self) -> Option<LinkCode> {
        self.lock().device.link_code()
    }

    /// The confirmation code of the last link.
    pub fn link_confirmation(&self) -> Option<String> {
        self.lock().device.link_confirmation().map(str::to_owned)
    }

    /// True once this device is in its user's device list.
    pub fn is_linked(&self) -> bool {
        self.lock().device.is_linked()
    }

    /// This user's newest device list, once linked (see
    /// [`Device::own_device_list`](crate::Device::own_device_list)).
    pub fn own_device_list(&self) -> Option<DeviceList> {
        self.lock().device.own_device_list().cloned()
    }

    async fn publish_list(&self) -> Result<bool, ClientError> {
        let Some(upload) = self.lock().device.poll_device_list() else {
            return Ok(false);
        };
        self.transport
            .publish_device_list(self.address.user(), &upload.bytes)
            .await?;
        let mut state = self.lock();
        let State { device, rng } = &mut *state;
        device.handle_list_published(upload.version, rng)?;
        Ok(true)
    }

    /// Sends what the outbox holds (see [`Client::flush`](super::Client::flush)).
    pub async fn flush(&self) -> Result<usize, ClientError> {
        let mut sent = 0;
        loop {
            let Some(transmit) = self.lock().device.poll_transmit()? else {
                return Ok(sent);
            };
            let outcome = self
                .transport
                .send(&self.address, &transmit.to, &transmit.envelope)
                .await;
            self.lock().device.handle_transmit(transmit.id, &outcome)?;
            match outcome {
                Ok(()) => sent += 1,
                Err(TransportError::NotFound | TransportError::Rejected(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Number of envelopes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<usize, ClientError> {
        self.lock().device.outbox_len()
    }

    /// Fetches, decrypts and stores what the relay holds for this device, acknowledges it,
    /// and returns the inbox (see [`Client::receive`](super::Client::receive)).
    pub async fn receive(&self) -> Result<ReceiveReport, ClientError> {
        let incoming = self.transport.fetch(&self.address).await?;
        let needed = self.lock().device.lists_needed(&incoming);
        for user in needed {
            // As in the blocking driver: a failure that may pass stops before any
            // envelope is taken.
            super::blocking::settled(self.refresh_list(&user).await)?;
        }
        let (report, acks) = {
            let mut state = self.lock();
            let State { device, rng } = &mut *state;
            let report = device.handle_incoming(&incoming, rng)?;
            (report, device.poll_acks())
        };
        if !acks.is_empty() {
            let _ = self.transport.ack(&self.address, &acks).await;
        }
        Ok(report)
    }

    /// The messages in the inbox, oldest first.
    pub fn inbox(&self) -> Result<Vec<Received>, ClientError> {
        self.lock().device.inbox()
    }

    /// Removes messages the app has stored from the inbox.
    pub fn mark_read(&self, ids: &[u64]) -> Result<(), ClientError> {
        self.lock().device.mark_read(ids)
    }

    /// Rotates, replenishes and publishes prekeys as needed (see
    /// [`Client::upkeep`](super::Client::upkeep)). Returns true if it published.
    pub async fn upkeep(&self) -> Result<bool, ClientError> {
        let now = self.clock.now();
        let upload = {
            let mut state = self.lock();
            let State { device, rng } = &mut *state;
            device.upkeep(now, rng)?;
            device.poll_upload()
        };
        let mut published = false;
        if let Some(upload) = upload {
            self.transport.publish(&self.address, &upload.bytes).await?;
            let mut state = self.lock();
            let State { device, rng } = &mut *state;
            device.handle_published(&upload, rng)?;
            published = true;
        }
        Ok(self.publish_list().await? || published)
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        self.lock().device.peer_identity(address)
    }

    /// The account key of a user whose key changed and was not accepted yet.
    pub fn pending_account(&self, user: &str) -> Option<IdentityKey> {
        self.lock().device.pending_account(user).cloned()
    }

    /// Accepts a user's changed account key (see
    /// [`Client::accept_account`](super::Client::accept_account)).
    pub fn accept_account(&self, user: &str) -> Result<(), ClientError> {
        let mut state = self.lock();
        let State { device, rng } = &mut *state;
        device.accept_account(user, rng)
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, address: &Address) -> Result<bool, ClientError> {
        self.lock().device.is_post_quantum(address)
    }

    /// The safety number with another user, over the two account keys.
    pub fn safety_number(&self, user: &str) -> Result<SafetyNumber, ClientError> {
        self.lock().device.safety_number(user)
    }
}
