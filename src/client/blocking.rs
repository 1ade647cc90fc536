//! The blocking driver (docs/ARCHITECTURE.md, sections 3, 5 and 6): a [`Device`] over a
//! [`Transport`], polled in the order the device's doc gives.

use rand_core::CryptoRng;

use super::{ClientConfig, ClientError, Clock, Device, ReceiveReport, Received, SafetyNumber, Transport};
use crate::device::Lookup;
use crate::store::Store;
use crate::transport::{Address, TransportError};
use crate::{IdentityKey, Lookups};

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
    /// Creates a new device in an empty store, and publishes its prekeys (if the transport
    /// fails, the device is still created and [`Client::upkeep`] publishes them later).
    pub fn create(user: &str, device: u32, mut parts: ClientParts) -> Result<Self, ClientError> {
        let now = parts.clock.now();
        let device = Device::create(
            user,
            device,
            parts.storage_key,
            parts.store,
            parts.config,
            now,
            &mut parts.rng,
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

    /// Sends `body` to every device of `user`. Returns how many devices it was committed
    /// for. The envelopes are durable once this returns, even if the transport failed (then
    /// the error is swallowed and [`Client::flush`] retries; check [`Client::outbox_len`]).
    pub fn send(&mut self, user: &str, body: &[u8]) -> Result<usize, ClientError> {
        let devices = self.transport.devices(user)?;
        let targets = self.device.targets(user, &devices)?;
        self.send_to(&targets, body)
    }

    /// Sends `body` to the given devices, in one commit.
    pub fn send_to(&mut self, targets: &[Address], body: &[u8]) -> Result<usize, ClientError> {
        let mut attempts = 0;
        let sent = loop {
            let mut answers = Lookups::new();
            for lookup in self.device.lookups(targets)? {
                match lookup {
                    Lookup::Bundle(to) => {
                        let bundle = self.transport.fetch_bundle(&to)?;
                        answers.add_bundle(to, bundle);
                    }
                    // An early warning only: when the relay cannot answer, the message is
                    // still committed (sending works offline), and a changed identity
                    // shows on a later send or when the peer writes.
                    Lookup::Identity(to) => {
                        let identity = self.transport.identity(&to).ok().flatten();
                        answers.add_identity(to, identity);
                    }
                }
            }
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

    /// Rotates, replenishes and publishes prekeys as needed. Call it at start-up and from
    /// time to time (for example after each `receive`). Returns true if it published.
    pub fn upkeep(&mut self) -> Result<bool, ClientError> {
        let now = self.clock.now();
        self.device.upkeep(now, &mut self.rng)?;
        let Some(upload) = self.device.poll_upload() else {
            return Ok(false);
        };
        self.transport.publish(self.device.address(), &upload.bytes)?;
        self.device.handle_published(&upload, &mut self.rng)?;
        Ok(true)
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        self.device.peer_identity(address)
    }

    /// The new identity key a peer device presented, if it changed and was not accepted yet.
    pub fn pending_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        self.device.pending_identity(address)
    }

    /// Accepts a peer device's changed identity key: it is pinned, its sessions replace the
    /// old ones, and sending is unblocked.
    pub fn accept_identity(&mut self, address: &Address) -> Result<(), ClientError> {
        self.device.accept_identity(address, &mut self.rng)
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, address: &Address) -> Result<bool, ClientError> {
        self.device.is_post_quantum(address)
    }

    /// The safety number with a peer device, from its pinned identity key.
    pub fn safety_number(&self, address: &Address) -> Result<SafetyNumber, ClientError> {
        self.device.safety_number(address)
    }
}
