//! The client for one device (docs/ARCHITECTURE.md, sections 3 to 6; docs/PROTOCOL.md, section 12):
//! identity and prekey upkeep, sessions per peer device, outbox and inbox, trust.
//!
//! Every operation is one store transaction: `send` commits the ratchet step and the
//! envelope to the outbox before the transport sees it; `receive` commits the ratchet step
//! and the plaintext to the inbox before the envelope is acknowledged. A crash at any
//! instant loses nothing; an envelope delivered again is recognised by the ratchet (its key
//! is gone) and acknowledged without a second delivery.

mod payload;
mod receive;
mod records;
mod safety;
mod send;
mod upkeep;

pub use receive::{ReceiveReport, Received};
pub use safety::{SafetyNumber, safety_number};

use rand_core::CryptoRng;
use thiserror::Error;

use crate::store::{Store, StoreError, Table};
use crate::transport::{Address, Transport, TransportError};
use crate::{Account, IdentityKey, Limits, PeerSessions};
use records::{
    ACCOUNT_KEY, CHECK_PLAINTEXT, Counters, META_CHECK, META_COUNTERS, META_DEVICE, PeerRecord, Sealer,
};

/// What can go wrong in the client.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A protocol error (see `hemlis::Error`).
    #[error(transparent)]
    Protocol(#[from] crate::Error),
    /// The store failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport failed; what was to be sent stays in the outbox.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The storage key does not open this store.
    #[error("wrong storage key")]
    WrongStorageKey,
    /// A stored record does not authenticate (tampered or damaged); others are unaffected.
    #[error("stored record failed authentication")]
    CorruptRecord(Table),
    /// The store holds no device: create one first.
    #[error("no device in this store")]
    NoDevice,
    /// The store already holds a device.
    #[error("the store already holds a device")]
    DeviceExists,
    /// A user id that is empty or too long.
    #[error("invalid user id")]
    InvalidAddress,
    /// The user has no devices at the relay.
    #[error("the user has no devices")]
    NoDevices,
    /// A peer device's identity key changed: sending to it is blocked until the app calls
    /// [`Client::accept_identity`].
    #[error("a peer device's identity key changed; accept it before sending")]
    IdentityChanged {
        /// The device whose key changed.
        address: Address,
    },
    /// An envelope whose sealed sender address is not the device the transport named.
    #[error("the sender inside the message is not the one the relay named")]
    SenderMismatch,
    /// A configuration the client cannot work with (for example more one-time prekeys
    /// than one upload holds).
    #[error("invalid client configuration")]
    InvalidConfig,
    /// No identity is known for this device yet.
    #[error("no identity known for this device")]
    UnknownPeer,
}

fn check_config(config: &ClientConfig) -> Result<(), ClientError> {
    let upload_max = crate::transport::PrekeyUpload::MAX_ONE_TIME;
    if config.one_time_prekeys > upload_max || config.replenish_below > config.one_time_prekeys {
        return Err(ClientError::InvalidConfig);
    }
    Ok(())
}

/// A source of time, in seconds since the Unix epoch.
pub trait Clock: Send {
    /// The current time.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Prekey upkeep settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// One-time prekeys of each kind kept published.
    pub one_time_prekeys: usize,
    /// Replenish when fewer than this many remain unused.
    pub replenish_below: usize,
    /// Rotate the signed prekey (and its last-resort KEM prekey) after this many seconds.
    pub signed_prekey_rotation: u64,
    /// Keep a replaced signed prekey answering for this many seconds.
    pub signed_prekey_grace: u64,
    /// Protocol limits for every session.
    pub limits: Limits,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            one_time_prekeys: 50,
            replenish_below: 10,
            signed_prekey_rotation: 7 * 24 * 3600,
            signed_prekey_grace: 14 * 24 * 3600,
            limits: Limits::default(),
        }
    }
}

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

/// One device.
pub struct Client {
    me: Address,
    account: Account,
    sealer: Sealer,
    store: Box<dyn Store>,
    transport: Box<dyn Transport>,
    clock: Box<dyn Clock>,
    rng: Box<dyn CryptoRng + Send>,
    config: ClientConfig,
    counters: Counters,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("me", &self.me)
            .field("identity", self.account.identity_key())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Creates a new device in an empty store, and publishes its prekeys (if the transport
    /// fails, the device is still created and [`Client::upkeep`] publishes them later).
    pub fn create(user: &str, device: u32, mut parts: ClientParts) -> Result<Self, ClientError> {
        let me = Address::new(user, device).ok_or(ClientError::InvalidAddress)?;
        check_config(&parts.config)?;
        let sealer = Sealer::new(parts.storage_key);
        if parts.store.get(Table::Meta, META_CHECK)?.is_some() {
            return Err(ClientError::DeviceExists);
        }
        let now = parts.clock.now();
        let mut account = Account::new(&mut parts.rng, now);
        account.set_limits(parts.config.limits);
        let rng = &mut parts.rng;
        let writes = vec![
            sealer.put(Table::Meta, META_CHECK.to_vec(), CHECK_PLAINTEXT, rng)?,
            sealer.put_value(Table::Meta, META_DEVICE.to_vec(), &me, rng)?,
            sealer.put(Table::Account, ACCOUNT_KEY.to_vec(), &account.to_bytes()?, rng)?,
        ];
        parts.store.commit(writes)?;
        let mut client = Self::assemble(me, account, sealer, parts, Counters::default());
        client.counters.publish_pending = true;
        match client.upkeep() {
            // The device exists now; a relay that cannot be reached gets the prekeys from
            // a later `upkeep`.
            Ok(_) | Err(ClientError::Transport(TransportError::Unavailable(_))) => Ok(client),
            Err(e) => Err(e),
        }
    }

    /// Opens the device in `store`.
    pub fn open(parts: ClientParts) -> Result<Self, ClientError> {
        check_config(&parts.config)?;
        let sealer = Sealer::new(parts.storage_key);
        let check = parts
            .store
            .get(Table::Meta, META_CHECK)?
            .ok_or(ClientError::NoDevice)?;
        match sealer.open(Table::Meta, META_CHECK, &check) {
            Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => {}
            _ => return Err(ClientError::WrongStorageKey),
        }
        let device = parts
            .store
            .get(Table::Meta, META_DEVICE)?
            .ok_or(ClientError::NoDevice)?;
        let me: Address = sealer.open_value(Table::Meta, META_DEVICE, &device)?;
        let account = parts
            .store
            .get(Table::Account, ACCOUNT_KEY)?
            .ok_or(ClientError::NoDevice)?;
        let account = sealer.open(Table::Account, ACCOUNT_KEY, &account)?;
        let account = Account::from_bytes(&account, parts.config.limits)?;
        let counters = match parts.store.get(Table::Meta, META_COUNTERS)? {
            Some(sealed) => sealer.open_value(Table::Meta, META_COUNTERS, &sealed)?,
            None => Counters::default(),
        };
        Ok(Self::assemble(me, account, sealer, parts, counters))
    }

    fn assemble(
        me: Address,
        account: Account,
        sealer: Sealer,
        parts: ClientParts,
        counters: Counters,
    ) -> Self {
        Self {
            me,
            account,
            sealer,
            store: parts.store,
            transport: parts.transport,
            clock: parts.clock,
            rng: parts.rng,
            config: parts.config,
            counters,
        }
    }

    /// This device's address.
    pub fn address(&self) -> &Address {
        &self.me
    }

    /// This device's identity key.
    pub fn identity_key(&self) -> &IdentityKey {
        self.account.identity_key()
    }

    /// The store (for inspection in tests and tools).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Reloads the account from the store after a failed commit, so memory never runs
    /// ahead of what is durable.
    fn reload_account(&mut self) -> Result<(), ClientError> {
        let sealed = self
            .store
            .get(Table::Account, ACCOUNT_KEY)?
            .ok_or(ClientError::NoDevice)?;
        let bytes = self.sealer.open(Table::Account, ACCOUNT_KEY, &sealed)?;
        self.account = Account::from_bytes(&bytes, self.config.limits)?;
        Ok(())
    }

    fn load_peer(&self, address: &Address) -> Result<PeerRecord, ClientError> {
        let key = address.encode();
        match self.store.get(Table::Peers, &key)? {
            Some(sealed) => self.sealer.open_value(Table::Peers, &key, &sealed),
            None => Ok(PeerRecord::default()),
        }
    }

    fn sessions_of(&self, record: &PeerRecord) -> Result<PeerSessions, ClientError> {
        if record.sessions.is_empty() {
            Ok(PeerSessions::new(self.config.limits))
        } else {
            Ok(PeerSessions::from_bytes(&record.sessions, self.config.limits)?)
        }
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        let record = self.load_peer(address)?;
        Ok(match record.pinned {
            Some(bytes) => Some(IdentityKey::from_bytes(&bytes)?),
            None => None,
        })
    }

    /// The new identity key a peer device presented, if it changed and was not accepted yet.
    pub fn pending_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        let record = self.load_peer(address)?;
        Ok(match record.pending {
            Some(p) => Some(IdentityKey::from_bytes(&p.identity)?),
            None => None,
        })
    }

    /// Accepts a peer device's changed identity key: it is pinned, its sessions replace the
    /// old ones, and sending is unblocked.
    pub fn accept_identity(&mut self, address: &Address) -> Result<(), ClientError> {
        let mut record = self.load_peer(address)?;
        let Some(pending) = record.pending.take() else {
            return Ok(());
        };
        record.pinned = Some(pending.identity);
        record.sessions = pending.sessions;
        let write = self
            .sealer
            .put_value(Table::Peers, address.encode(), &record, &mut self.rng)?;
        self.store.commit(vec![write])?;
        Ok(())
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, address: &Address) -> Result<bool, ClientError> {
        let record = self.load_peer(address)?;
        let sessions = self.sessions_of(&record)?;
        Ok(sessions.active().is_some_and(|s| s.is_post_quantum()))
    }

    /// The safety number with a peer device, from its pinned identity key.
    pub fn safety_number(&self, address: &Address) -> Result<SafetyNumber, ClientError> {
        let theirs = self.peer_identity(address)?.ok_or(ClientError::UnknownPeer)?;
        Ok(safety_number(
            self.me.user(),
            self.identity_key(),
            address.user(),
            &theirs,
        ))
    }

    fn reload_counters(&self) -> Result<Counters, ClientError> {
        Ok(match self.store.get(Table::Meta, META_COUNTERS)? {
            Some(sealed) => self.sealer.open_value(Table::Meta, META_COUNTERS, &sealed)?,
            None => Counters::default(),
        })
    }

    fn counters_write(&mut self) -> Result<crate::store::Write, ClientError> {
        self.sealer
            .put_value(Table::Meta, META_COUNTERS.to_vec(), &self.counters, &mut self.rng)
    }
}
