//! The async transport (docs/ARCHITECTURE.md, section 8): the same calls as
//! [`Transport`](super::Transport), as futures, for apps on an async runtime. No runtime
//! is assumed: the futures are `Send` and are polled by whatever executor the app uses.

use core::future::Future;

use super::{Address, Incoming, TransportError};

/// The networking an async app provides; [`Transport`](super::Transport) with futures.
/// Each method has the meaning of the blocking one of the same name. Implement the
/// methods as `async fn`; the futures must be `Send`.
pub trait AsyncTransport: Send + Sync {
    /// Publishes this device's prekeys (an encoded [`PrekeyUpload`](super::PrekeyUpload)).
    fn publish(
        &self,
        device: &Address,
        upload: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// Publishes this user's signed device list.
    fn publish_device_list(
        &self,
        user: &str,
        list: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// The newest device list the relay holds for a user; `NotFound` if none.
    fn fetch_device_list(&self, user: &str) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;
    /// A bundle of a device (encoded `PrekeyBundle`).
    fn fetch_bundle(&self, device: &Address) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;
    /// Queues an envelope for a device.
    fn send(
        &self,
        from: &Address,
        to: &Address,
        envelope: &[u8],
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
    /// The envelopes waiting for this device, oldest first.
    fn fetch(&self, device: &Address) -> impl Future<Output = Result<Vec<Incoming>, TransportError>> + Send;
    /// Deletes delivered envelopes at the relay.
    fn ack(&self, device: &Address, ids: &[u64]) -> impl Future<Output = Result<(), TransportError>> + Send;
}
