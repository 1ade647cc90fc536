//! The device (docs/ARCHITECTURE.md, sections 3 to 6; docs/PROTOCOL.md, section 12): all
//! of a client's logic, sans I/O. Identity and prekey upkeep, sessions per peer device,
//! outbox and inbox, trust.
//!
//! A [`Device`] never calls a transport. Each call takes its inputs (the answers of the
//! relay, envelopes that arrived, the time, randomness) and commits at most one store
//! transaction; the work it leaves for the transport is polled. The drivers
//! ([`Client`](crate::Client), [`AsyncClient`](crate::AsyncClient)) are the loops that do
//! that work; an app with its own event loop can drive a `Device` itself.

mod accounts;
mod config;
mod error;
mod payload;
mod receive;
mod records;
mod safety;
mod send;
mod upkeep;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub use accounts::{ListChange, ListUpload};
pub use config::{ClientConfig, Clock, SystemClock, ValidConfig};
pub use error::ClientError;
pub use receive::{ReceiveReport, Received, RejectReason, Rejection};
pub use safety::{SafetyNumber, safety_number};
pub use send::{Lookup, Lookups, Transmit};
pub use upkeep::Upload;

use rand_core::CryptoRng;

use crate::store::{Store, Table, Write};
use crate::transport::Address;
use crate::{Account, IdentityKey, PeerSessions};
use records::{
    ACCOUNT_KEY, CHECK_PLAINTEXT, Counters, META_CHECK, META_COUNTERS, META_DEVICE, PeerRecord, Sealer,
    USER_KEY, UserRecord,
};

/// One device's state and logic, with no I/O: the core of [`Client`](crate::Client) and
/// [`AsyncClient`](crate::AsyncClient).
///
/// # Calls and the work they leave
///
/// Every call that changes state commits one store transaction, or fails and changes
/// nothing (neither the store nor this value). What a call leaves for the network is
/// polled; a driver polls after each call, in this order:
///
/// 1. [`Device::poll_upload`]: prekeys to publish. Publish them, then call
///    [`Device::handle_published`]. Left after [`Device::create`] and after
///    [`Device::upkeep`] made new keys, until published.
/// 2. [`Device::poll_device_list`]: this user's signed device list, after this device
///    made a new account ([`Device::create`]) or added or removed a device
///    ([`Device::link`], [`Device::unlink`]). Publish it, then call
///    [`Device::handle_list_published`]. Before the outbox, so that the relay lists a new
///    device before the provisioning message reaches it.
/// 3. [`Device::poll_transmit`]: envelopes in the outbox, oldest first. Send each, then
///    report how it went with [`Device::handle_transmit`]. Left by [`Device::send`], and by
///    any earlier send whose envelope was not yet accepted.
/// 4. [`Device::poll_acks`]: ids of envelopes that arrived and are now durable (read
///    into the inbox, recognised as copies, or rejected for good). Acknowledge them at the
///    relay. Left by [`Device::handle_incoming`].
///
/// Uploads come first so that the relay can hand out this device's new keys as soon as
/// possible; acknowledgements come last because a lost one only costs a resend, which the
/// ratchet recognises. Nothing polled is ever lost if a driver stops early: the upload and
/// the outbox are durable and polled again after [`Device::open`], and the relay resends
/// what was not acknowledged.
///
/// # Sending
///
/// Take the newest device lists of the recipient user and of this user first
/// ([`Device::handle_device_list`]); [`Device::targets`] then names the devices they list.
/// [`Device::lookups`] says what the relay must be asked before a send (a bundle for each
/// device without a session with its listed identity key); the answers go into
/// [`Device::send`] as [`Lookups`].
///
/// # Receiving
///
/// Before [`Device::handle_incoming`], fetch and take the lists [`Device::lists_needed`]
/// names, so that a sender new to this device is checked against its user's newest list.
///
/// # Time and randomness
///
/// Calls that need them take `now` (seconds since the Unix epoch) and an RNG; a `Device`
/// holds neither a clock nor an RNG.
pub struct Device {
    me: Address,
    account: Account,
    sealer: Sealer,
    store: Box<dyn Store>,
    config: ValidConfig,
    counters: Counters,
    /// The account key (if this device signs), the own device list and the pinned lists
    /// of contacts.
    user: UserRecord,
    /// Outbox ids handed out by `poll_transmit` and not yet reported back.
    in_flight: BTreeSet<u64>,
    /// Outbox ids to hand out next (filled from the store when empty and `rescan`).
    queue: VecDeque<u64>,
    /// The outbox may hold ids that are neither queued nor in flight.
    rescan: bool,
    /// Envelope ids to acknowledge at the relay.
    acks: Vec<u64>,
    /// Counts the upkeeps that made new keys, so an upload polled before one of them
    /// does not mark the newer keys published.
    upload_generation: u64,
}

impl core::fmt::Debug for Device {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Device")
            .field("me", &self.me)
            .field("identity", self.account.identity_key())
            .finish_non_exhaustive()
    }
}

impl Device {
    /// Creates the first device of a new account in an empty store, in one commit: a new
    /// account key and a device list of this device alone. Its prekeys are made by the
    /// first [`Device::upkeep`] and wait to be published ([`Device::poll_upload`]), its
    /// list in [`Device::poll_device_list`]. A user who lost every device makes a new
    /// account this way; contacts then see an account change.
    pub fn create<R: CryptoRng + ?Sized>(
        user: &str,
        device: u32,
        storage_key: [u8; 32],
        store: Box<dyn Store>,
        config: ClientConfig,
        now: u64,
        rng: &mut R,
    ) -> Result<Self, ClientError> {
        Self::create_with(user, device, storage_key, store, config, now, rng, true)
    }

    /// Creates a device to be linked to an existing account, in an empty store, in one
    /// commit. It shows [`Device::link_code`] until a device of the account that can sign
    /// links it ([`Device::link`]); until then it reads nothing but the provisioning
    /// message. Its prekeys must be published first, so the linking device can reach it.
    pub fn create_linked<R: CryptoRng + ?Sized>(
        user: &str,
        device: u32,
        storage_key: [u8; 32],
        store: Box<dyn Store>,
        config: ClientConfig,
        now: u64,
        rng: &mut R,
    ) -> Result<Self, ClientError> {
        Self::create_with(user, device, storage_key, store, config, now, rng, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn create_with<R: CryptoRng + ?Sized>(
        user: &str,
        device: u32,
        storage_key: [u8; 32],
        mut store: Box<dyn Store>,
        config: ClientConfig,
        now: u64,
        rng: &mut R,
        first: bool,
    ) -> Result<Self, ClientError> {
        let me = Address::new(user, device).ok_or(ClientError::InvalidAddress)?;
        let config = config.validate()?;
        let sealer = Sealer::new(storage_key);
        if store.get(Table::Meta, META_CHECK)?.is_some() {
            return Err(ClientError::DeviceExists);
        }
        let mut account = Account::new(rng, now);
        account.set_limits(config.limits());
        let mut record = UserRecord {
            generation: 1,
            ..UserRecord::default()
        };
        if first {
            let (seed, list) = Self::first_list(user, device, account.identity_key(), now, rng)?;
            record.signing_seed = Some(seed);
            record.own = Some(list);
            record.publish_list = true;
        } else {
            record.link_secret = Some(Self::new_link_secret(rng));
        }
        let counters = Counters {
            publish_pending: true,
            user_generation: 1,
            ..Counters::default()
        };
        let writes = vec![
            sealer.put(Table::Meta, META_CHECK.to_vec(), CHECK_PLAINTEXT, rng)?,
            sealer.put_value(Table::Meta, META_DEVICE.to_vec(), &me, rng)?,
            sealer.put(Table::Account, ACCOUNT_KEY.to_vec(), &account.to_bytes()?, rng)?,
            sealer.put_value(Table::Account, USER_KEY.to_vec(), &record, rng)?,
            sealer.put_value(Table::Meta, META_COUNTERS.to_vec(), &counters, rng)?,
        ];
        store.commit(writes)?;
        Ok(Self::assemble(
            me, account, sealer, store, config, counters, record,
        ))
    }

    /// Opens the device in `store`.
    pub fn open(
        storage_key: [u8; 32],
        store: Box<dyn Store>,
        config: ClientConfig,
    ) -> Result<Self, ClientError> {
        let config = config.validate()?;
        let sealer = Sealer::new(storage_key);
        let check = store.get(Table::Meta, META_CHECK)?.ok_or(ClientError::NoDevice)?;
        match sealer.open(Table::Meta, META_CHECK, &check) {
            Ok(plain) if plain.as_slice() == CHECK_PLAINTEXT => {}
            _ => return Err(ClientError::WrongStorageKey),
        }
        let device = store
            .get(Table::Meta, META_DEVICE)?
            .ok_or(ClientError::NoDevice)?;
        let me: Address = sealer.open_value(Table::Meta, META_DEVICE, &device)?;
        let account = store
            .get(Table::Account, ACCOUNT_KEY)?
            .ok_or(ClientError::NoDevice)?;
        let account = sealer.open(Table::Account, ACCOUNT_KEY, &account)?;
        let account = Account::from_bytes(&account, config.limits())?;
        let counters: Counters = match store.get(Table::Meta, META_COUNTERS)? {
            Some(sealed) => sealer.open_value(Table::Meta, META_COUNTERS, &sealed)?,
            None => Counters::default(),
        };
        // The pins hold only if the user record is the one the counters name: a record
        // deleted, rolled back or missing its counters means some pins may be gone, so
        // every user seen from now on for the first time is an account change.
        let mut user: UserRecord = match store.get(Table::Account, USER_KEY)? {
            Some(sealed) => sealer.open_value(Table::Account, USER_KEY, &sealed)?,
            None => UserRecord::default(),
        };
        if user.generation == 0 || user.generation != counters.user_generation {
            user.pins_lost = true;
        }
        Ok(Self::assemble(me, account, sealer, store, config, counters, user))
    }

    fn assemble(
        me: Address,
        account: Account,
        sealer: Sealer,
        store: Box<dyn Store>,
        config: ValidConfig,
        counters: Counters,
        user: UserRecord,
    ) -> Self {
        Self {
            me,
            account,
            sealer,
            store,
            config,
            counters,
            user,
            in_flight: BTreeSet::new(),
            queue: VecDeque::new(),
            rescan: true,
            acks: Vec::new(),
            upload_generation: 0,
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

    /// The settings this device runs with.
    pub fn config(&self) -> &ValidConfig {
        &self.config
    }

    /// The store (for inspection in tests and tools).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
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
            Ok(PeerSessions::new(self.config.limits()))
        } else {
            Ok(PeerSessions::from_bytes(&record.sessions, self.config.limits())?)
        }
    }

    /// The identity key of a peer device that this device's sessions with it are with, if
    /// any.
    pub fn peer_identity(&self, address: &Address) -> Result<Option<IdentityKey>, ClientError> {
        let record = self.load_peer(address)?;
        Ok(match record.pinned {
            Some(bytes) => Some(IdentityKey::from_bytes(&bytes)?),
            None => None,
        })
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, address: &Address) -> Result<bool, ClientError> {
        let record = self.load_peer(address)?;
        let sessions = self.sessions_of(&record)?;
        Ok(sessions.active().is_some_and(|s| s.is_post_quantum()))
    }

    /// The safety number with another user, over the two account keys: the same on both
    /// sides, unchanged while devices come and go. `UnknownPeer` if no list of `user` is
    /// pinned; `NotLinked` before this device is linked.
    pub fn safety_number(&self, user: &str) -> Result<SafetyNumber, ClientError> {
        let mine = self.user.own.as_ref().ok_or(ClientError::NotLinked)?;
        let theirs = self.device_list(user).ok_or(ClientError::UnknownPeer)?;
        Ok(safety_number(
            self.me.user(),
            mine.account_key(),
            user,
            theirs.account_key(),
        ))
    }

    /// The write of `counters`, sealed.
    fn counters_write<R: CryptoRng + ?Sized>(
        &self,
        counters: &Counters,
        rng: &mut R,
    ) -> Result<Write, ClientError> {
        self.sealer
            .put_value(Table::Meta, META_COUNTERS.to_vec(), counters, rng)
    }

    /// Commits `writes`; only then does `counters` become this device's.
    fn commit_with(&mut self, writes: Vec<Write>, counters: Counters) -> Result<(), ClientError> {
        self.store.commit(writes)?;
        self.counters = counters;
        Ok(())
    }

    /// Ids of outbox records, by key order (oldest first).
    fn outbox_ids(&self) -> Result<Vec<u64>, ClientError> {
        let mut ids = Vec::new();
        for key in self.store.keys(Table::Outbox)? {
            let bytes: [u8; 8] = key
                .as_slice()
                .try_into()
                .map_err(|_| ClientError::CorruptRecord(Table::Outbox))?;
            ids.push(u64::from_be_bytes(bytes));
        }
        Ok(ids)
    }
}

/// Answers collected for a send, keyed by device.
type ByAddress<T> = BTreeMap<Address, T>;
