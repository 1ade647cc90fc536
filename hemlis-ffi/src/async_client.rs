//! [`HemlisAsyncClient`]: one device for an app in another language whose networking is
//! async (Kotlin coroutines, Swift async, Python asyncio).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::async_transport::{FfiAsyncTransport, ForeignAsyncTransport};
use super::client::{
    ReceiveSummary, ReceivedMessage, SafetyNumberRecord, address, check_device, count, link_code_of,
    link_code_of_text, storage_key_of, user_id,
};
use super::{DeviceAddress, HemlisError};
use hemlis::{AsyncClient, AsyncClientParts, ClientConfig, ClientError, SqliteStore, SystemClock, os_rng};

/// One device: a `hemlis::AsyncClient` on an encrypted SQLite database, with the system
/// clock, the operating system's randomness and the app's async transport. The calls that
/// reach the network are async; the others only read or write the database. Safe to share
/// between tasks: the device is locked only while it computes and commits, never while a
/// transport call is awaited.
#[derive(uniffi::Object)]
pub struct HemlisAsyncClient {
    client: AsyncClient<ForeignAsyncTransport>,
}

impl core::fmt::Debug for HemlisAsyncClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HemlisAsyncClient").finish_non_exhaustive()
    }
}

/// The parts of a client on the database at `db_path`.
fn parts(
    key: &Zeroizing<[u8; 32]>,
    db_path: &str,
    transport: &Arc<dyn FfiAsyncTransport>,
) -> Result<AsyncClientParts<ForeignAsyncTransport>, HemlisError> {
    Ok(AsyncClientParts {
        storage_key: **key,
        store: Box::new(SqliteStore::open(db_path)?),
        transport: ForeignAsyncTransport(transport.clone()),
        clock: Box::new(SystemClock),
        rng: Box::new(os_rng()),
        config: ClientConfig::default(),
    })
}

/// Opens the device in the database at `db_path`, or creates it (the first device of a
/// new account, whose prekeys and device list it publishes) if the database holds none:
/// `HemlisClient.open_or_create` for an async transport (an async function, since
/// constructors cannot be async in every language).
#[uniffi::export]
pub async fn open_or_create_async_client(
    db_path: String,
    storage_key: Vec<u8>,
    user: String,
    device: u32,
    transport: Arc<dyn FfiAsyncTransport>,
) -> Result<Arc<HemlisAsyncClient>, HemlisError> {
    let key = storage_key_of(storage_key)?;
    let me = address(&user, device)?;
    let client = match AsyncClient::open(parts(&key, &db_path, &transport)?) {
        Ok(client) => client,
        Err(ClientError::NoDevice) => {
            AsyncClient::create(me.user(), me.device(), parts(&key, &db_path, &transport)?).await?
        }
        Err(e) => return Err(e.into()),
    };
    check_device(client.address(), &me)?;
    Ok(Arc::new(HemlisAsyncClient { client }))
}

/// Creates, in an empty database, a new device for an existing account, and publishes its
/// prekeys: `HemlisClient.create_linked` for an async transport. Reopen it later with
/// `open_or_create_async_client`.
#[uniffi::export]
pub async fn create_linked_async_client(
    db_path: String,
    storage_key: Vec<u8>,
    user: String,
    device: u32,
    transport: Arc<dyn FfiAsyncTransport>,
) -> Result<Arc<HemlisAsyncClient>, HemlisError> {
    let key = storage_key_of(storage_key)?;
    let me = address(&user, device)?;
    let client =
        AsyncClient::create_linked(me.user(), me.device(), parts(&key, &db_path, &transport)?).await?;
    Ok(Arc::new(HemlisAsyncClient { client }))
}

#[uniffi::export]
impl HemlisAsyncClient {
    /// This device's address.
    pub fn address(&self) -> DeviceAddress {
        self.client.address().into()
    }

    /// This device's identity key (32 bytes).
    pub fn identity_key(&self) -> Vec<u8> {
        self.client.identity_key().as_bytes().to_vec()
    }

    /// Sends `body` to every device of `user`'s signed device list, and a sent copy to this
    /// user's other devices. Returns how many devices it was committed for, copies
    /// included; the envelopes are durable even if the transport failed (then `flush`
    /// retries; see `outbox_len`).
    pub async fn send(&self, user: String, body: Vec<u8>) -> Result<u32, HemlisError> {
        Ok(count(self.client.send(&user, &body).await?))
    }

    /// Sends `body` to the given devices, in one commit.
    pub async fn send_to(&self, targets: Vec<DeviceAddress>, body: Vec<u8>) -> Result<u32, HemlisError> {
        let targets = targets
            .iter()
            .map(|t| address(&t.user, t.device))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(count(self.client.send_to(&targets, &body).await?))
    }

    /// Hands the outbox to the transport again. Returns how many envelopes it took.
    pub async fn flush(&self) -> Result<u32, HemlisError> {
        Ok(count(self.client.flush().await?))
    }

    /// Number of envelopes waiting in the outbox.
    pub fn outbox_len(&self) -> Result<u32, HemlisError> {
        Ok(count(self.client.outbox_len()?))
    }

    /// Fetches, decrypts, stores and acknowledges what the relay holds for this device,
    /// and returns the inbox (messages stay in it until `mark_read`).
    pub async fn receive(&self) -> Result<Vec<ReceivedMessage>, HemlisError> {
        Ok(self.receive_report().await?.messages)
    }

    /// Like `receive`, and also says how many envelopes were duplicates and which were
    /// rejected (tampered, forged: acknowledged and dropped).
    pub async fn receive_report(&self) -> Result<ReceiveSummary, HemlisError> {
        Ok(self.client.receive().await?.into())
    }

    /// The messages in the inbox, oldest first, without asking the relay.
    pub fn inbox(&self) -> Result<Vec<ReceivedMessage>, HemlisError> {
        Ok(self.client.inbox()?.into_iter().map(Into::into).collect())
    }

    /// Removes messages the app has stored from the inbox.
    pub fn mark_read(&self, ids: Vec<u64>) -> Result<(), HemlisError> {
        Ok(self.client.mark_read(&ids)?)
    }

    /// Rotates, replenishes and publishes prekeys as needed, and publishes this user's
    /// device list if the relay lacks the newest one this device signed; call it at
    /// start-up and from time to time. Returns true if it published.
    pub async fn upkeep(&self) -> Result<bool, HemlisError> {
        Ok(self.client.upkeep().await?)
    }

    /// This device's link code in its byte form (for a QR code), while it waits to be
    /// linked (see `HemlisClient.link_code`).
    pub fn link_code(&self) -> Option<Vec<u8>> {
        self.client.link_code().map(|c| c.to_bytes())
    }

    /// The same link code as text (base32), for typing or pasting.
    pub fn link_code_text(&self) -> Option<String> {
        self.client.link_code().map(|c| c.to_text())
    }

    /// Links the new device whose link code (byte form) was scanned from its screen, and
    /// returns the six-digit confirmation code (see `HemlisClient.link`).
    pub async fn link(&self, code: Vec<u8>) -> Result<String, HemlisError> {
        let code = link_code_of(&code)?;
        Ok(self.client.link(&code).await?)
    }

    /// `link` with the code's text form (case, spaces and dashes ignored).
    pub async fn link_text(&self, code: String) -> Result<String, HemlisError> {
        let code = link_code_of_text(&code)?;
        Ok(self.client.link(&code).await?)
    }

    /// The six-digit confirmation code of the last link (see
    /// `HemlisClient.link_confirmation`).
    pub fn link_confirmation(&self) -> Option<String> {
        self.client.link_confirmation()
    }

    /// True once this device is in its user's signed device list.
    pub fn is_linked(&self) -> bool {
        self.client.is_linked()
    }

    /// Removes one of this user's other devices from the signed device list and publishes
    /// the new list (see `HemlisClient.unlink`).
    pub async fn unlink(&self, device: u32) -> Result<(), HemlisError> {
        Ok(self.client.unlink(device).await?)
    }

    /// The safety number with another user, over the two account keys, to compare out of
    /// band. `UnknownPeer` if no device list of `user` was seen yet.
    pub fn safety_number(&self, user: String) -> Result<SafetyNumberRecord, HemlisError> {
        Ok(self.client.safety_number(user_id(&user)?)?.into())
    }

    /// Accepts a user's changed account key (see `HemlisClient.accept_account`).
    pub fn accept_account(&self, user: String) -> Result<(), HemlisError> {
        Ok(self.client.accept_account(user_id(&user)?)?)
    }

    /// The new account key (32 bytes) of a user whose key changed and was not accepted
    /// yet.
    pub fn pending_account(&self, user: String) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client.pending_account(user_id(&user)?);
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// The identity key of a peer device that this device's sessions with it are with,
    /// if any.
    pub fn peer_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client.peer_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, user: String, device: u32) -> Result<bool, HemlisError> {
        Ok(self.client.is_post_quantum(&address(&user, device)?)?)
    }
}
