//! [`HemlisClient`]: one device for an app in another language.

use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::transport::ForeignTransport;
use super::{DeviceAddress, FfiTransport, HemlisError, ProtocolError};
use hemlis::{
    Address, Client, ClientConfig, ClientError, ClientParts, ReceiveReport, Received, SqliteStore,
    SystemClock, os_rng,
};

/// A message in the inbox.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivedMessage {
    /// Inbox id; pass it to `mark_read` once the app has stored the message.
    pub id: u64,
    /// The sender's user id (checked against the address sealed inside the message).
    pub from_user: String,
    /// The sender's device number.
    pub from_device: u32,
    /// The sender device's identity key (32 bytes).
    pub sender_identity: Vec<u8>,
    /// The sender's clock when it sent the message (seconds since the Unix epoch).
    pub sent_at: u64,
    /// The message.
    pub body: Vec<u8>,
    /// The sender's identity key differs from the one pinned for it: show a warning;
    /// sending to it is blocked until `accept_identity`.
    pub identity_changed: bool,
}

impl From<Received> for ReceivedMessage {
    fn from(m: Received) -> Self {
        Self {
            id: m.id,
            from_user: m.from.user().to_owned(),
            from_device: m.from.device(),
            sender_identity: m.sender_identity.as_bytes().to_vec(),
            sent_at: m.sent_at,
            body: m.body,
            identity_changed: m.identity_changed,
        }
    }
}

/// An envelope that can never be read (tampered, forged, relabelled); it was acknowledged
/// and dropped.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedEnvelope {
    /// The relay's id of the envelope (it was acknowledged and dropped).
    pub id: u64,
    /// The sender the relay named (not proven: the envelope did not authenticate as it).
    pub sender: DeviceAddress,
    /// Why it was rejected.
    pub reason: RejectReason,
}

/// Why an envelope was rejected (hemlis's `RejectReason`).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum RejectReason {
    /// It failed the protocol: malformed, forged, tampered, or for no session.
    Protocol {
        /// The group and the cause.
        error: ProtocolError,
    },
    /// The stored record of the named sender failed authentication; other peers are
    /// unaffected.
    CorruptRecord {
        /// Which table.
        table: String,
    },
    /// The sender sealed inside the message is not the device the relay named.
    SenderMismatch,
    /// A reason this layer does not know yet.
    Other,
}

impl From<&hemlis::RejectReason> for RejectReason {
    fn from(r: &hemlis::RejectReason) -> Self {
        match r {
            hemlis::RejectReason::Protocol(e) => Self::Protocol { error: e.into() },
            hemlis::RejectReason::CorruptRecord(table) => Self::CorruptRecord {
                table: format!("{table:?}"),
            },
            hemlis::RejectReason::SenderMismatch => Self::SenderMismatch,
            _ => Self::Other,
        }
    }
}

/// What one `receive_report` call did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceiveSummary {
    /// Every message in the inbox, new ones and any not yet marked read, oldest first.
    pub messages: Vec<ReceivedMessage>,
    /// Envelopes recognised as already received, acknowledged without a second delivery.
    pub duplicates: u32,
    /// Envelopes that can never be read, acknowledged and dropped.
    pub rejected: Vec<RejectedEnvelope>,
}

impl From<ReceiveReport> for ReceiveSummary {
    fn from(r: ReceiveReport) -> Self {
        Self {
            messages: r.messages.into_iter().map(Into::into).collect(),
            duplicates: count(r.duplicates),
            rejected: r
                .rejected
                .into_iter()
                .map(|r| RejectedEnvelope {
                    id: r.id,
                    sender: (&r.from).into(),
                    reason: (&r.reason).into(),
                })
                .collect(),
        }
    }
}

/// A safety number for a pair of devices.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SafetyNumberRecord {
    /// 60 digits, shown in 12 groups of 5.
    pub digits: String,
    /// The byte form, 65 bytes, for a QR code.
    pub bytes: Vec<u8>,
}

pub(crate) fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn address(user: &str, device: u32) -> Result<Address, HemlisError> {
    Address::new(user, device).ok_or_else(|| HemlisError::InvalidArgument {
        reason: "invalid user id (1 to 128 bytes of UTF-8)".into(),
    })
}

/// The 32-byte storage key, checked; the caller's copy is wiped.
pub(crate) fn storage_key_of(storage_key: Vec<u8>) -> Result<Zeroizing<[u8; 32]>, HemlisError> {
    let storage_key = Zeroizing::new(storage_key);
    let key: [u8; 32] = storage_key
        .as_slice()
        .try_into()
        .map_err(|_| HemlisError::InvalidArgument {
            reason: "the storage key must be 32 bytes".into(),
        })?;
    Ok(Zeroizing::new(key))
}

/// `DeviceMismatch` unless the database holds the device asked for.
pub(crate) fn check_device(held: &Address, asked: &Address) -> Result<(), HemlisError> {
    if held == asked {
        return Ok(());
    }
    Err(HemlisError::DeviceMismatch {
        user: held.user().to_owned(),
        device: held.device(),
    })
}

/// One device: a `hemlis::Client` on an encrypted SQLite database, with the system clock,
/// the operating system's randomness and the app's transport. Safe to share between
/// threads; calls are serialised.
#[derive(uniffi::Object)]
pub struct HemlisClient {
    client: Mutex<Client>,
}

impl core::fmt::Debug for HemlisClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HemlisClient").finish_non_exhaustive()
    }
}

impl HemlisClient {
    fn client(&self) -> Result<MutexGuard<'_, Client>, HemlisError> {
        self.client.lock().map_err(|_| HemlisError::Internal {
            reason: "an earlier call panicked; open the client again".into(),
        })
    }
}

#[uniffi::export]
impl HemlisClient {
    /// Opens the device in the database at `db_path`, or creates it (and publishes its
    /// prekeys) if the database holds none. `storage_key` is the 32-byte key that seals
    /// every record: keep it in the Keychain or Keystore. Fails with `DeviceMismatch` if
    /// the database holds another device, `WrongStorageKey` if the key does not open it.
    #[uniffi::constructor]
    pub fn open_or_create(
        db_path: String,
        storage_key: Vec<u8>,
        user: String,
        device: u32,
        transport: Arc<dyn FfiTransport>,
    ) -> Result<Self, HemlisError> {
        let key = storage_key_of(storage_key)?;
        let me = address(&user, device)?;
        let parts = || -> Result<ClientParts, HemlisError> {
            Ok(ClientParts {
                storage_key: *key,
                store: Box::new(SqliteStore::open(&db_path)?),
                transport: Box::new(ForeignTransport(transport.clone())),
                clock: Box::new(SystemClock),
                rng: Box::new(os_rng()),
                config: ClientConfig::default(),
            })
        };
        let client = match Client::open(parts()?) {
            Ok(client) => client,
            Err(ClientError::NoDevice) => Client::create(me.user(), me.device(), parts()?)?,
            Err(e) => return Err(e.into()),
        };
        check_device(client.address(), &me)?;
        Ok(Self {
            client: Mutex::new(client),
        })
    }

    /// This device's address.
    pub fn address(&self) -> Result<DeviceAddress, HemlisError> {
        Ok(self.client()?.address().into())
    }

    /// This device's identity key (32 bytes).
    pub fn identity_key(&self) -> Result<Vec<u8>, HemlisError> {
        Ok(self.client()?.identity_key().as_bytes().to_vec())
    }

    /// Sends `body` to every device of `user` (except this one). Returns how many devices
    /// it was committed for; the envelopes are durable even if the transport failed (then
    /// `flush` retries; see `outbox_len`).
    pub fn send(&self, user: String, body: Vec<u8>) -> Result<u32, HemlisError> {
        Ok(count(self.client()?.send(&user, &body)?))
    }

    /// Sends `body` to the given devices, in one commit.
    pub fn send_to(&self, targets: Vec<DeviceAddress>, body: Vec<u8>) -> Result<u32, HemlisError> {
        let targets = targets
            .iter()
            .map(|t| address(&t.user, t.device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(count(self.client()?.send_to(&targets, &body)?))
    }

    /// Hands the outbox to the transport again. Returns how many envelopes it took.
    pub fn flush(&self) -> Result<u32, HemlisError> {
        Ok(count(self.client()?.flush()?))
    }

    /// Number of envelopes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u32, HemlisError> {
        Ok(count(self.client()?.outbox_len()?))
    }

    /// Fetches, decrypts, stores and acknowledges what the relay holds for this device,
    /// and returns the inbox (messages stay in it until `mark_read`).
    pub fn receive(&self) -> Result<Vec<ReceivedMessage>, HemlisError> {
        Ok(self.receive_report()?.messages)
    }

    /// Like `receive`, and also says how many envelopes were duplicates and which were
    /// rejected (tampered, forged: acknowledged and dropped).
    pub fn receive_report(&self) -> Result<ReceiveSummary, HemlisError> {
        Ok(self.client()?.receive()?.into())
    }

    /// The messages in the inbox, oldest first, without asking the relay.
    pub fn inbox(&self) -> Result<Vec<ReceivedMessage>, HemlisError> {
        Ok(self.client()?.inbox()?.into_iter().map(Into::into).collect())
    }

    /// Removes messages the app has stored from the inbox.
    pub fn mark_read(&self, ids: Vec<u64>) -> Result<(), HemlisError> {
        Ok(self.client()?.mark_read(&ids)?)
    }

    /// Rotates, replenishes and publishes prekeys as needed; call it at start-up and from
    /// time to time. Returns true if it published.
    pub fn upkeep(&self) -> Result<bool, HemlisError> {
        Ok(self.client()?.upkeep()?)
    }

    /// The safety number with a peer device, to compare out of band.
    pub fn safety_number(&self, user: String, device: u32) -> Result<SafetyNumberRecord, HemlisError> {
        let number = self.client()?.safety_number(&address(&user, device)?)?;
        Ok(SafetyNumberRecord {
            digits: number.digits,
            bytes: number.bytes,
        })
    }

    /// Accepts a peer device's changed identity key, unblocking sending to it.
    pub fn accept_identity(&self, user: String, device: u32) -> Result<(), HemlisError> {
        Ok(self.client()?.accept_identity(&address(&user, device)?)?)
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client()?.peer_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// The new identity key a peer device presented, if it changed and was not accepted.
    pub fn pending_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client()?.pending_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, user: String, device: u32) -> Result<bool, HemlisError> {
        Ok(self.client()?.is_post_quantum(&address(&user, device)?)?)
    }
}
