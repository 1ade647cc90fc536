//! The app's transport in its own language with async calls ([`FfiAsyncTransport`]: Kotlin
//! `suspend fun`, Swift `async`, Python `async def`) and its adapter to
//! [`AsyncTransport`].

use std::sync::Arc;

use super::transport::split_incoming;
use super::{DeviceAddress, IncomingEnvelope, TransportFailure};
use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, AsyncTransport};

/// The networking the app implements in its own language, as async calls: the contract of
/// each is the one of `FfiTransport` (and `hemlis::Transport`). The library drives the
/// calls from the app's own executor (coroutines, Swift tasks, asyncio); it starts no
/// thread and no runtime.
#[uniffi::export(with_foreign)]
#[async_trait::async_trait]
pub trait FfiAsyncTransport: Send + Sync {
    /// Publishes this device's prekey upload (opaque bytes for the relay's prekey logic).
    async fn publish(&self, device: DeviceAddress, upload: Vec<u8>) -> Result<(), TransportFailure>;
    /// Publishes this user's signed device list (opaque bytes), replacing the one the relay
    /// holds.
    async fn publish_device_list(&self, user: String, list: Vec<u8>) -> Result<(), TransportFailure>;
    /// The newest device list the relay holds for a user; `TransportFailure.NotFound` if
    /// none.
    async fn fetch_device_list(&self, user: String) -> Result<Vec<u8>, TransportFailure>;
    /// A prekey bundle of a device; each one-time prekey is handed out once.
    async fn fetch_bundle(&self, device: DeviceAddress) -> Result<Vec<u8>, TransportFailure>;
    /// Queues an envelope for a device.
    async fn send(
        &self,
        sender: DeviceAddress,
        recipient: DeviceAddress,
        envelope: Vec<u8>,
    ) -> Result<(), TransportFailure>;
    /// The envelopes waiting for this device, oldest first.
    async fn fetch(&self, device: DeviceAddress) -> Result<Vec<IncomingEnvelope>, TransportFailure>;
    /// Deletes delivered envelopes at the relay.
    async fn ack(&self, device: DeviceAddress, ids: Vec<u64>) -> Result<(), TransportFailure>;
}

/// [`FfiAsyncTransport`] as an [`AsyncTransport`].
pub(crate) struct ForeignAsyncTransport(pub(crate) Arc<dyn FfiAsyncTransport>);

impl AsyncTransport for ForeignAsyncTransport {
    async fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.publish(device.into(), upload.to_vec()).await?)
    }
    async fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.publish_device_list(user.to_owned(), list.to_vec()).await?)
    }
    async fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.fetch_device_list(user.to_owned()).await?)
    }
    async fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.fetch_bundle(device.into()).await?)
    }
    async fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.send(from.into(), to.into(), envelope.to_vec()).await?)
    }
    async fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let (incoming, invalid) = split_incoming(self.0.fetch(device.into()).await?);
        if !invalid.is_empty() {
            self.0.ack(device.into(), invalid).await?;
        }
        Ok(incoming)
    }
    async fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        Ok(self.0.ack(device.into(), ids.to_vec()).await?)
    }
}
