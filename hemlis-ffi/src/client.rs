//! [`HemlisClient`]: one device for an app in another language.

use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::transport::ForeignTransport;
use super::{DeviceAddress, FfiTransport, HemlisError, ProtocolError};
use hemlis::{
    Address, Client, ClientConfig, ClientError, ClientParts, DeviceList, LinkCode, ReceiveReport, Received,
    SafetyNumber, SqliteStore, SystemClock, os_rng,
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
    /// The sender's user changed account key and the sender is in the new key's device
    /// list, not yet accepted: show a warning; sending to the user is blocked until
    /// `accept_account`.
    pub identity_changed: bool,
    /// Set on a copy of a message this user sent from another of its devices
    /// (`from_device`): the user it was sent to. Unset on a message from `from_user` to
    /// this user.
    pub sent_to: Option<String>,
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
            sent_to: m.sent_to,
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
    /// The sender device is in no device list of its user that this device trusts, or is
    /// there with another identity key (a device the relay added, or one removed).
    UnlistedDevice,
    /// This device is not linked yet: it reads only the provisioning message that links
    /// it.
    NotLinked,
    /// A message of a kind its sender may not send here: a sent copy or provisioning
    /// message from another user, or a provisioning message that does not complete this
    /// device's link.
    Misdirected,
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
            hemlis::RejectReason::UnlistedDevice => Self::UnlistedDevice,
            hemlis::RejectReason::NotLinked => Self::NotLinked,
            hemlis::RejectReason::Misdirected => Self::Misdirected,
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

/// A safety number for a pair of users, over their two account keys: the same on both
/// sides, unchanged while devices are linked and unlinked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SafetyNumberRecord {
    /// 60 digits, shown in 12 groups of 5.
    pub digits: String,
    /// The byte form, 65 bytes, for a QR code.
    pub bytes: Vec<u8>,
}

impl From<SafetyNumber> for SafetyNumberRecord {
    fn from(n: SafetyNumber) -> Self {
        Self {
            digits: n.digits,
            bytes: n.bytes,
        }
    }
}

/// One device of a signed device list.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListedDevice {
    /// The device number.
    pub device: u32,
    /// The device's identity key (32 bytes).
    pub identity: Vec<u8>,
}

/// This user's signed device list, as this device holds it: the devices messages to the
/// user are encrypted to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OwnDevices {
    /// The list's version; every link and unlink makes the next one.
    pub version: u64,
    /// The account key that signs it (32 bytes).
    pub account_key: Vec<u8>,
    /// The devices, by device number.
    pub devices: Vec<ListedDevice>,
}

impl From<&DeviceList> for OwnDevices {
    fn from(list: &DeviceList) -> Self {
        Self {
            version: list.version(),
            account_key: list.account_key().as_bytes().to_vec(),
            devices: list
                .devices()
                .map(|(device, identity)| ListedDevice {
                    device,
                    identity: identity.as_bytes().to_vec(),
                })
                .collect(),
        }
    }
}

/// A link code in its byte form (a QR code), checked; one that does not parse is
/// `InvalidLinkCode`.
pub(crate) fn link_code_of(bytes: &[u8]) -> Result<LinkCode, HemlisError> {
    LinkCode::from_bytes(bytes).map_err(|_| HemlisError::InvalidLinkCode)
}

/// A link code in its text form (base32; case, spaces and dashes ignored), checked.
pub(crate) fn link_code_of_text(text: &str) -> Result<LinkCode, HemlisError> {
    LinkCode::from_text(text).map_err(|_| HemlisError::InvalidLinkCode)
}

/// A user id, checked like the user of an address.
pub(crate) fn user_id(user: &str) -> Result<&str, HemlisError> {
    address(user, 0)?;
    Ok(user)
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

    fn parts(
        key: &Zeroizing<[u8; 32]>,
        db_path: &str,
        transport: &Arc<dyn FfiTransport>,
    ) -> Result<ClientParts, HemlisError> {
        Ok(ClientParts {
            storage_key: **key,
            store: Box::new(SqliteStore::open(db_path)?),
            transport: Box::new(ForeignTransport(transport.clone())),
            clock: Box::new(SystemClock),
            rng: Box::new(os_rng()),
            config: ClientConfig::default(),
        })
    }
}

#[uniffi::export]
impl HemlisClient {
    /// Opens the device in the database at `db_path`, or creates it if the database holds
    /// none: the first device of a new account (a new account key, a signed device list
    /// of this device alone), whose prekeys and list it publishes. `storage_key` is the
    /// 32-byte key that seals every record: keep it in the Keychain or Keystore. Fails
    /// with `DeviceMismatch` if the database holds another device, `WrongStorageKey` if
    /// the key does not open it. A device made with `create_linked` is reopened here too.
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
        let client = match Client::open(Self::parts(&key, &db_path, &transport)?) {
            Ok(client) => client,
            Err(ClientError::NoDevice) => {
                Client::create(me.user(), me.device(), Self::parts(&key, &db_path, &transport)?)?
            }
            Err(e) => return Err(e.into()),
        };
        check_device(client.address(), &me)?;
        Ok(Self {
            client: Mutex::new(client),
        })
    }

    /// Creates, in an empty database, a new device for an existing account, and publishes
    /// its prekeys: show `link_code` (or `link_code_text`) until a device of the account
    /// that holds its account key calls `link` with it, then `receive` takes the
    /// provisioning message that links it (`is_linked`). Until then it sends nothing and
    /// reads nothing else. `InvalidArgument` if the database already holds a device: reopen
    /// it with `open_or_create`.
    #[uniffi::constructor]
    pub fn create_linked(
        db_path: String,
        storage_key: Vec<u8>,
        user: String,
        device: u32,
        transport: Arc<dyn FfiTransport>,
    ) -> Result<Self, HemlisError> {
        let key = storage_key_of(storage_key)?;
        let me = address(&user, device)?;
        let client = Client::create_linked(me.user(), me.device(), Self::parts(&key, &db_path, &transport)?)?;
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

    /// Sends `body` to every device of `user`'s signed device list, and a sent copy to this
    /// user's other devices. Returns how many devices it was committed for, copies
    /// included; the envelopes are durable even if the transport failed (then `flush`
    /// retries; see `outbox_len`).
    pub fn send(&self, user: String, body: Vec<u8>) -> Result<u32, HemlisError> {
        Ok(count(self.client()?.send(&user, &body)?))
    }

    /// Sends `body` to the given devices, in one commit; each must be in a signed device
    /// list this device trusts.
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

    /// Rotates, replenishes and publishes prekeys as needed, and publishes this user's
    /// device list if the relay lacks the newest one this device signed; call it at
    /// start-up and from time to time. Returns true if it published.
    pub fn upkeep(&self) -> Result<bool, HemlisError> {
        Ok(self.client()?.upkeep()?)
    }

    /// This device's link code in its byte form (for a QR code), while it waits to be
    /// linked; none once linked, or on a device made with `open_or_create`. The code is a
    /// secret: show it only on this device's screen.
    pub fn link_code(&self) -> Result<Option<Vec<u8>>, HemlisError> {
        Ok(self.client()?.link_code().map(|c| c.to_bytes()))
    }

    /// The same link code as text (base32), for typing or pasting.
    pub fn link_code_text(&self) -> Result<Option<String>, HemlisError> {
        Ok(self.client()?.link_code().map(|c| c.to_text()))
    }

    /// Links the new device whose link code (byte form) was scanned from its screen:
    /// adds it to this user's signed device list, publishes the list and sends the new
    /// device the provisioning message. Returns the six-digit confirmation code; the new
    /// device's `link_confirmation` must show the same one, else do not trust the link
    /// (`unlink` it). `CannotSign` on a device without the account key; `InvalidLinkCode`
    /// for a code that does not parse or is not for another device of this user;
    /// `UnlistedIdentity` if the relay's bundle for the new device is not the code's.
    pub fn link(&self, code: Vec<u8>) -> Result<String, HemlisError> {
        let code = link_code_of(&code)?;
        Ok(self.client()?.link(&code)?)
    }

    /// `link` with the code's text form (case, spaces and dashes ignored).
    pub fn link_text(&self, code: String) -> Result<String, HemlisError> {
        let code = link_code_of_text(&code)?;
        Ok(self.client()?.link(&code)?)
    }

    /// The six-digit confirmation code of the last link: on the device that linked
    /// another, and on the new device once its `receive` took the provisioning message.
    pub fn link_confirmation(&self) -> Result<Option<String>, HemlisError> {
        Ok(self.client()?.link_confirmation().map(str::to_owned))
    }

    /// True once this device is in its user's signed device list.
    pub fn is_linked(&self) -> Result<bool, HemlisError> {
        Ok(self.client()?.is_linked())
    }

    /// Removes one of this user's other devices from the signed device list and publishes
    /// the new list: senders that see it encrypt nothing more to that device, and its
    /// messages are refused. `CannotSign` on a device without the account key;
    /// `InvalidLinkCode` for this device itself; `UnknownPeer` for a device not listed.
    pub fn unlink(&self, device: u32) -> Result<(), HemlisError> {
        Ok(self.client()?.unlink(device)?)
    }

    /// This user's signed device list as this device holds it; none until linked.
    pub fn own_devices(&self) -> Result<Option<OwnDevices>, HemlisError> {
        Ok(self.client()?.device().own_device_list().map(Into::into))
    }

    /// The safety number with another user, over the two account keys, to compare out of
    /// band. `UnknownPeer` if no device list of `user` was seen yet.
    pub fn safety_number(&self, user: String) -> Result<SafetyNumberRecord, HemlisError> {
        Ok(self.client()?.safety_number(user_id(&user)?)?.into())
    }

    /// Accepts a user's changed account key (see `pending_account`): its new device list
    /// is trusted from now on and sending to the user is unblocked. Nothing pending:
    /// nothing changes.
    pub fn accept_account(&self, user: String) -> Result<(), HemlisError> {
        Ok(self.client()?.accept_account(user_id(&user)?)?)
    }

    /// The new account key (32 bytes) a user's device list is signed with, if it changed
    /// and was not accepted yet; sending to the user fails with `AccountChanged` until
    /// `accept_account`.
    pub fn pending_account(&self, user: String) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client()?.pending_account(user_id(&user)?);
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// The identity key of a peer device that this device's sessions with it are with,
    /// if any.
    pub fn peer_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client()?.peer_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, user: String, device: u32) -> Result<bool, HemlisError> {
        Ok(self.client()?.is_post_quantum(&address(&user, device)?)?)
    }
}
