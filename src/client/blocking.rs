//! The blocking driver (docs/ARCHITECTURE.md, sections 3, 5 and 6): a [`Device`] over a
//! [`Transport`], polled in the order the device's doc gives.

use rand_core::CryptoRng;

use super::{ClientConfig, ClientError, Clock, Device, ReceiveReport, Received, SafetyNumber, Transport};
use crate::device::Lookup;
use crate::store::Store;
use crate::transport::{Address, TransportError};
use crate::{IdentityKey, LinkCode, Lookups};

/// Everything a client needs from the app.
pub struct ClientParts {
    /// The 32-byte key that seals every stored record (keep it in the Keychain/Keystore).
    pub storage_key: [u8; 32],
    /// Where state lives.
    pub store: Box<dyn Store>,
    /// How envelopes travel.
    pub transport: Box<dyn Transport>,
    /// What time it is.
    pub clock: Box<dyn Clock>,
    /// Randomness (`hemlis::os_rng()` in apps).
    pub rng: Box<dyn CryptoRng + Send>,
    /// Upkeep settings.
    pub config: ClientConfig,
}

impl ClientParts {
    /// The parts with the defaults an app wants: the system clock, [`os_rng`](crate::os_rng)
    /// and the default configuration. Override a field with struct update syntax:
    /// `ClientParts { config, ..ClientParts::new(key, store, transport) }`.
    pub fn new(storage_key: [u8; 32], store: Box<dyn Store>, transport: Box<dyn Transport>) -> Self {
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

/// One device, driven over a blocking [`Transport`].
pub struct Client {
    device: Device,
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    rng: Box<dyn CryptoRng + Send>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates the first device of a new account in an empty store (see
    /// [`Device::create`]), and publishes its prekeys and device list (if the transport
    /// fails, the device is still created and [`Client::upkeep`] publishes them later).
    pub fn create(user: &str, device: u32, parts: ClientParts) -> Result<Self, ClientError> {
        Self::create_with(user, device, parts, true)
    }

    /// Creates a device to be linked to an existing account (see
    /// [`Device::create_linked`]) and publishes its prekeys; show
    /// [`Client::link_code`] until a device of the account links it, then
    /// [`Client::receive`] takes the provisioning message.
    pub fn create_linked(user: &str, device: u32, parts: ClientParts) -> Result<Self, ClientError> {
        Self::create_with(user, device, parts, false)
    }

    fn create_with(
        user: &str,
        device: u32,
        mut parts: ClientParts,
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
        let mut client = Self {
            device,
            transport: parts.transport,
            clock: parts.clock,
            rng: parts.rng,
        };
        match client.upkeep() {
            // The device exists now; a relay that cannot be reached gets the prekeys from
            // a later `upkeep`.
            Ok(_) | Err(ClientError::Transport(TransportError::Unavailable(_))) => Ok(client),
            Err(e) => Err(e),
        }
    }

    /// Opens the device in `store`.
    pub fn open(parts: ClientParts) -> Result<Self, ClientError> {
        let device = Device::open(parts.storage_key, parts.store, parts.config)?;
        Ok(Self {
            device,
            transport: parts.transport,
            clock: parts.clock,
            rng: parts.rng,
        })
    }

    /// The device this client drives.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// This device's address.
    pub fn address(&self) -> &Address {
        self.device.address()
    }

    /// This device's identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        self.device.identity_key()
    }

    /// The store (for inspection in tests and tools).
    pub fn store(&self) -> &dyn Store {
        self.device.store()
    }

    /// Sends `body` to every device of `user`'s signed device list, and a copy to this
    /// user's other devices. Returns how many devices it was committed for. Fetches both
    /// users' newest lists first: a list the relay gives that is older than one seen, or
    /// badly signed, fails the send (`StaleDeviceList`, `Protocol`). The envelopes are
    /// durable once this returns, even if the transport failed (then the error is
    /// swallowed and [`Client::flush`] retries; check [`Client::outbox_len`]).
    pub fn send(&mut self, user: &str, body: &[u8]) -> Result<usize, ClientError> {
        self.refresh_list(user)?;
        if user != self.device.address().user() {
            let own = self.device.address().user().to_owned();
            self.refresh_list(&own)?;
        }
        let targets = self.device.targets(user)?;
        self.send_to(&targets, body)
    }

    /// Fetches `user`'s device list from the relay and takes it (see
    /// [`Device::handle_device_list`]); none at the relay is `NoDevices` for another
    /// user and nothing for this one.
    pub fn refresh_list(&mut self, user: &str) -> Result<crate::ListChange, ClientError> {
        match self.transport.fetch_device_list(user) {
            Ok(list) => self.device.handle_device_list(user, &list, &mut self.rng),
            Err(TransportError::NotFound) if user == self.device.address().user() => {
                Ok(crate::ListChange::Unchanged)
            }
            Err(TransportError::NotFound) => Err(ClientError::NoDevices),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `body` to the given devices, in one commit; each must be in a trusted
    /// device list (see [`Device::send`]).
    pub fn send_to(&mut self, targets: &[Address], body: &[u8]) -> Result<usize, ClientError> {
        let mut attempts = 0;
        let sent = loop {
            let answers = self.answer(self.device.lookups(targets)?)?;
            let now = self.clock.now();
            match self.device.send(targets, body, &answers, now, &mut self.rng) {
                Err(ClientError::BundleNeeded { .. }) if attempts < 2 => attempts += 1,
                other => break other?,
            }
        };
        // Durable now; a transport failure leaves the envelopes in the outbox.
        let _ = self.flush();
        Ok(sent)
    }

    fn answer(&mut self, lookups: Vec<Lookup>) -> Result<Lookups, ClientError> {
        let mut answers = Lookups::new();
        for lookup in lookups {
            match lookup {
                Lookup::Bundle(to) => {
                    let bundle = self.transport.fetch_bundle(&to)?;
                    answers.add_bundle(to, bundle);
                }
            }
        }
        Ok(answers)
    }

    /// Links the new device of `code` (shown on its screen) to this account: fetches its
    /// bundle, signs and publishes the new list, and sends the provisioning message (see
    /// [`Device::link`]). Returns the confirmation code, which the new device's
    /// [`Client::link_confirmation`] must show too.
    pub fn link(&mut self, code: &LinkCode) -> Result<String, ClientError> {
        let bundle = self.transport.fetch_bundle(code.address())?;
        let now = self.clock.now();
        let confirmation = self.device.link(code, &bundle, now, &mut self.rng)?;
        // Durable now; what the relay did not take is published by a later upkeep and
        // flush.
        let _ = self.publish_list();
        let _ = self.flush();
        Ok(confirmation)
    }

    /// Removes one of this user's devices from the list and publishes the new list (see
    /// [`Device::unlink`]).
    pub fn unlink(&mut self, device: u32) -> Result<(), ClientError> {
        let now = self.clock.now();
        self.device.unlink(device, now, &mut self.rng)?;
        let _ = self.publish_list();
        Ok(())
    }

    /// This device's link code, while it waits to be linked.
    pub fn link_code(&self) -> Option<LinkCode> {
        self.device.link_code()
    }

    /// The confirmation code of the last link (see [`Device::link_confirmation`]).
    pub fn link_confirmation(&self) -> Option<&str> {
        self.device.link_confirmation()
    }

    /// True once this device is in its user's device list.
    pub fn is_linked(&self) -> bool {
        self.device.is_linked()
    }

    fn publish_list(&mut self) -> Result<bool, ClientError> {
        let Some(upload) = self.device.poll_device_list() else {
            return Ok(false);
        };
        let user = self.device.address().user().to_owned();
        self.transport.publish_device_list(&user, &upload.bytes)?;
        self.device.handle_list_published(upload.version, &mut self.rng)?;
        Ok(true)
    }

    /// Sends what the outbox holds, oldest first. Stops at the first failure that may pass
    /// (`TransportError::Unavailable`), keeping the rest; an envelope the relay refuses for
    /// good (no such device, rejected) leaves the outbox so it cannot block the others.
    /// Returns how many envelopes the relay accepted.
    pub fn flush(&mut self) -> Result<usize, ClientError> {
        let mut sent = 0;
        while let Some(transmit) = self.device.poll_transmit()? {
            let outcome = self
                .transport
                .send(self.device.address(), &transmit.to, &transmit.envelope);
            self.device.handle_transmit(transmit.id, &outcome)?;
            match outcome {
                Ok(()) => sent += 1,
                Err(TransportError::NotFound | TransportError::Rejected(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(sent)
    }

    /// Number of envelopes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<usize, ClientError> {
        self.device.outbox_len()
    }

    /// Fetches, decrypts and stores what the relay holds for this device, acknowledges it,
    /// and returns the inbox. Messages stay in the inbox until [`Client::mark_read`].
    pub fn receive(&mut self) -> Result<ReceiveReport, ClientError> {
        let incoming = self.transport.fetch(self.device.address())?;
        for user in self.device.lists_needed(&incoming) {
            // A list the relay does not have, or gives old or forged, leaves that sender's
            // messages unlisted, and they are rejected as such. A failure that may pass
            // (the relay or the store) stops here, before any envelope is taken, so none
            // is rejected for want of its list.
            settled(self.refresh_list(&user))?;
        }
        let report = self.device.handle_incoming(&incoming, &mut self.rng)?;
        let acks = self.device.poll_acks();
        if !acks.is_empty() {
            // Everything is durable; an acknowledgement that fails is repeated after the
            // relay resends, and the ratchet refuses the copies.
            let _ = self.transport.ack(self.device.address(), &acks);
        }
        Ok(report)
    }

    /// The messages in the inbox, oldest first.
    pub fn inbox(&self) -> Result<Vec<Received>, ClientError> {
        self.device.inbox()
    }

    /// Removes messages the app has stored from the inbox.
    pub fn mark_read(&mut self, ids: &[u64]) -> Result<(), ClientError> {
        self.device.mark_read(ids)
    }

    /// Rotates, replenishes and publishes prekeys as needed, and publishes this user's
    /// device list if the relay lacks the newest one this device signed. Call it at
    /// start-up and from time to time (for example after each `receive`). Returns true if
    /// it published.
    pub fn upkeep(&mut self) -> Result<bool, ClientError> {
        let now = self.clock.now();
        self.device.upkeep(now, &mut self.rng)?;
        let mut published = false;
        if let Some(upload) = self.device.poll_upload() {
            self.transport.publish(self.device.address(), &upload.bytes)?;
            self.device.handle_published(&upload, &mut self.rng)?;
            published = true;
        }
        Ok(self.publish_list()? || published)
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        self.device.peer_identity(address)
    }

    /// The account key of a user whose key changed and was not accepted yet.
    pub fn pending_account(&self, user: &str) -> Option<IdentityKey> {
        self.device.pending_account(user).cloned()
    }

    /// Accepts a user's changed account key (see [`Device::accept_account`]).
    pub fn accept_account(&mut self, user: &str) -> Result<(), ClientError> {
        self.device.accept_account(user, &mut self.rng)
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, address: &Address) -> Result<bool, ClientError> {
        self.device.is_post_quantum(address)
    }

    /// The safety number with another user, over the two account keys.
    pub fn safety_number(&self, user: &str) -> Result<SafetyNumber, ClientError> {
        self.device.safety_number(user)
    }
}

/// A list refresh before a receive: what the relay answered for good is settled (the
/// senders it concerns stay unlisted); a failure that may pass is returned.
pub(super) fn settled(refresh: Result<crate::ListChange, ClientError>) -> Result<(), ClientError> {
    match refresh {
        Ok(_)
        | Err(ClientError::NoDevices | ClientError::StaleDeviceList { .. } | ClientError::Protocol(_)) => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}
