//! Records at rest (docs/PROTOCOL.md, section 12.3): every record a store holds is sealed
//! with XChaCha20-Poly1305 under the app's 32-byte storage key, with
//! `"hemlis/v1/record" || table id (1) || row key` as associated data, so a record moved to
//! another row or table does not open.

use rand_core::CryptoRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use std::collections::BTreeMap;

use super::ClientError;
use crate::account::{DeviceList, LinkSecret};
use crate::crypto::aead;
use crate::crypto::secret::{SecretBytes, StorageKey};
use crate::error::{Error, InternalError};
use crate::store::{Table, Write};

const RECORD_LABEL: &[u8] = b"hemlis/v1/record";

fn associated_data(table: Table, key: &[u8]) -> Vec<u8> {
    let mut ad = Vec::with_capacity(RECORD_LABEL.len() + 1 + key.len());
    ad.extend_from_slice(RECORD_LABEL);
    ad.push(table.id());
    ad.extend_from_slice(key);
    ad
}

/// Seals records for the store and opens them again.
pub(crate) struct Sealer {
    key: StorageKey,
}

impl Sealer {
    pub(crate) fn new(storage_key: [u8; 32]) -> Self {
        Self {
            key: StorageKey::from_bytes(storage_key),
        }
    }

    /// A `Put` of `plaintext`, sealed.
    pub(crate) fn put<R: CryptoRng + ?Sized>(
        &self,
        table: Table,
        key: Vec<u8>,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Write, ClientError> {
        let mut value = Vec::with_capacity(plaintext.len() + aead::OVERHEAD);
        aead::seal_into(
            &mut value,
            &self.key,
            &associated_data(table, &key),
            plaintext,
            rng,
        )
        .map_err(|_| Error::Internal(InternalError::Seal))?;
        Ok(Write::Put { table, key, value })
    }

    /// A `Put` of a serialized value, sealed.
    pub(crate) fn put_value<T: Serialize, R: CryptoRng + ?Sized>(
        &self,
        table: Table,
        key: Vec<u8>,
        value: &T,
        rng: &mut R,
    ) -> Result<Write, ClientError> {
        // Sized before it is written: a growing buffer would leave copies of the sessions
        // a record holds in freed memory.
        let bytes = crate::state::to_exact_vec(value).ok_or(Error::Internal(InternalError::Encode))?;
        self.put(table, key, &bytes, rng)
    }

    /// Opens a sealed record; a record that does not authenticate is `CorruptRecord`.
    pub(crate) fn open(
        &self,
        table: Table,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, ClientError> {
        aead::open(&self.key, &associated_data(table, key), sealed)
            .map_err(|_| ClientError::CorruptRecord(table))
    }

    /// Opens and deserializes a sealed record.
    pub(crate) fn open_value<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<T, ClientError> {
        let bytes = self.open(table, key, sealed)?;
        postcard::from_bytes(&bytes).map_err(|_| ClientError::CorruptRecord(table))
    }
}

/// Meta row keys.
pub(crate) const META_CHECK: &[u8] = b"check";
pub(crate) const META_DEVICE: &[u8] = b"device";
pub(crate) const META_COUNTERS: &[u8] = b"counters";
/// The account row key.
pub(crate) const ACCOUNT_KEY: &[u8] = b"account";
/// The row (in the account table) of the user record: the account key, this user's device
/// list and every pinned contact, authenticated as one.
pub(crate) const USER_KEY: &[u8] = b"user";
/// The plaintext of the storage-key check record.
pub(crate) const CHECK_PLAINTEXT: &[u8] = b"hemlis storage key check v1";

/// Sequence numbers and flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub(crate) next_outbox: u64,
    pub(crate) next_inbox: u64,
    /// The relay has not yet received the current prekeys.
    pub(crate) publish_pending: bool,
    /// The generation of the user record written with these counters: a user record of
    /// another generation was rolled back or replaced, and its pins are not trusted.
    pub(crate) user_generation: u64,
}

/// The user record (docs/PROTOCOL.md, section 13.3): the account key (on the devices that
/// can sign), this user's own device list, and the device list pinned for every contact.
/// One row, written in the same commit as the counters that name its generation, so a
/// deleted or rolled-back pin is noticed as a whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    /// Bumped by every commit of this record; equal to `Counters::user_generation`.
    pub(crate) generation: u64,
    /// The Ed25519 seed of the account key, on a device that can sign lists.
    pub(crate) signing_seed: Option<SigningSeed>,
    /// This user's newest device list (`None` on a new device not yet linked).
    pub(crate) own: Option<DeviceList>,
    /// The relay has not yet received `own`.
    pub(crate) publish_list: bool,
    /// The secret of this device's link code, while it waits to be linked.
    pub(crate) link_secret: Option<LinkSecret>,
    /// The confirmation code of the last link this device took part in.
    pub(crate) confirmation: Option<String>,
    /// Every other user this device has trusted, by user id.
    pub(crate) contacts: BTreeMap<String, Contact>,
    /// The pins were lost or rolled back: a user seen for the first time is an identity
    /// change, never a first use.
    pub(crate) pins_lost: bool,
}

/// The account key's seed (wiped on drop; `Debug` redacted).
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct SigningSeed(pub(crate) [u8; 32]);

impl core::fmt::Debug for SigningSeed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SigningSeed(<redacted>)")
    }
}

/// The trust in one other user.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Contact {
    /// The newest list under the pinned account key (`None`: only `pending` is known).
    pub(crate) list: Option<DeviceList>,
    /// The newest list under another account key, waiting for the app to accept it.
    pub(crate) pending: Option<DeviceList>,
}

/// Sessions and trust for one peer device. Its serialized sessions hold ratchet secrets:
/// wiped on drop, and on replacement ([`PeerRecord::set_sessions`]).
#[derive(Debug, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PeerRecord {
    /// `PeerSessions::to_bytes` of the trusted identity's sessions (empty: none yet).
    pub(crate) sessions: Vec<u8>,
    /// The identity key the sessions are with (the one the user's device list vouched
    /// for when they began).
    pub(crate) pinned: Option<[u8; 32]>,
}

impl PeerRecord {
    /// Replaces the trusted identity's serialized sessions, wiping the old ones.
    pub(crate) fn set_sessions(&mut self, sessions: &[u8]) {
        self.sessions.zeroize();
        self.sessions.extend_from_slice(sessions);
    }
}

/// An envelope committed for sending.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OutboxRecord {
    pub(crate) to: crate::transport::Address,
    pub(crate) envelope: Vec<u8>,
}

/// A received message not yet taken by the app (its body wiped on drop).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InboxRecord {
    pub(crate) from: crate::transport::Address,
    pub(crate) sender_identity: [u8; 32],
    pub(crate) sent_at: u64,
    pub(crate) body: Vec<u8>,
    pub(crate) identity_changed: bool,
    /// A copy of what this user sent from another device, to this user.
    pub(crate) sent_to: Option<String>,
}

impl Drop for InboxRecord {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}
