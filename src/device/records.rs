//! Records at rest (docs/PROTOCOL.md, section 12.3): every record a store holds is sealed
//! with XChaCha20-Poly1305 under the app's 32-byte storage key, with
//! `"hemlis/v1/record" || table id (1) || row key` as associated data, so a record moved to
//! another row or table does not open.

use rand_core::CryptoRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ClientError;
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
/// The plaintext of the storage-key check record.
pub(crate) const CHECK_PLAINTEXT: &[u8] = b"hemlis storage key check v1";

/// Sequence numbers and flags.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Counters {
    pub(crate) next_outbox: u64,
    pub(crate) next_inbox: u64,
    /// The relay has not yet received the current prekeys.
    pub(crate) publish_pending: bool,
}

/// Sessions and trust for one peer device. Its serialized sessions hold ratchet secrets:
/// wiped on drop, and on replacement ([`PeerRecord::set_sessions`]).
#[derive(Debug, Default, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PeerRecord {
    /// `PeerSessions::to_bytes` of the trusted identity's sessions (empty: none yet).
    pub(crate) sessions: Vec<u8>,
    /// The identity key pinned on first use (or accepted later).
    pub(crate) pinned: Option<[u8; 32]>,
    /// A different identity key seen for this address, waiting for the app's decision,
    /// with the sessions it started (if it sent a message).
    pub(crate) pending: Option<PendingIdentity>,
}

/// A changed identity key waiting for acceptance (its sessions wiped on drop).
#[derive(Debug, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PendingIdentity {
    pub(crate) identity: [u8; 32],
    pub(crate) sessions: Vec<u8>,
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
}

impl Drop for InboxRecord {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}
