//! [`HemlisAsyncClient`]: one device for an app in another language whose networking is
//! async (Kotlin coroutines, Swift async, Python asyncio).

use std::sync::Arc;

use super::async_transport::{FfiAsyncTransport, ForeignAsyncTransport};
use super::client::{
    ReceiveSummary, ReceivedMessage, SafetyNumberRecord, address, check_device, count, storage_key_of,
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

/// Opens the device in the database at `db_path`, or creates it (and publishes its
/// prekeys) if the database holds none: `HemlisClient.open_or_create` for an async
/// transport (an async function, since constructors cannot be async in every language).
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
    let parts = || -> Result<AsyncClientParts<ForeignAsyncTransport>, HemlisError> {
        Ok(AsyncClientParts {
            storage_key: *key,
            store: Box::new(SqliteStore::open(&db_path)?),
            transport: ForeignAsyncTransport(transport.clone()),
            clock: Box::new(SystemClock),
            rng: Box::new(os_rng()),
            config: ClientConfig::default(),
        })
    };
    let client = match AsyncClient::open(parts()?) {
        Ok(client) => client,
        Err(ClientError::NoDevice) => AsyncClient::create(me.user(), me.device(), parts()?).await?,
        Err(e) => return Err(e.into()),
    };
    check_device(client.address(), &me)?;
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

    /// Sends `body` to every device of `user` (except this one). Returns how many devices
    /// it was committed for; the envelopes are durable even if the transport failed (then
    /// `flush` retries; see `outbox_len`).
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

    /// Rotates, replenishes and publishes prekeys as needed; call it at start-up and from
    /// time to time. Returns true if it published.
    pub async fn upkeep(&self) -> Result<bool, HemlisError> {
        Ok(self.client.upkeep().await?)
    }

    /// The safety number with a peer device, to compare out of band.
    pub fn safety_number(&self, user: String, device: u32) -> Result<SafetyNumberRecord, HemlisError> {
        let number = self.client.safety_number(&address(&user, device)?)?;
        Ok(SafetyNumberRecord {
            digits: number.digits,
            bytes: number.bytes,
        })
    }

    /// Accepts a peer device's changed identity key, unblocking sending to it.
    pub fn accept_identity(&self, user: String, device: u32) -> Result<(), HemlisError> {
        Ok(self.client.accept_identity(&address(&user, device)?)?)
    }

    /// The identity key pinned for a peer device, if any.
    pub fn peer_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client.peer_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// The new identity key a peer device presented, if it changed and was not accepted.
    pub fn pending_identity(&self, user: String, device: u32) -> Result<Option<Vec<u8>>, HemlisError> {
        let key = self.client.pending_identity(&address(&user, device)?)?;
        Ok(key.map(|k| k.as_bytes().to_vec()))
    }

    /// True if the active session with a peer device is post-quantum (PQXDH).
    pub fn is_post_quantum(&self, user: String, device: u32) -> Result<bool, HemlisError> {
        Ok(self.client.is_post_quantum(&address(&user, device)?)?)
    }
}
