//! The blocking transport the app brings (docs/ARCHITECTURE.md, section 8; docs/PROTOCOL.md,
//! section 12): the [`Transport`] trait, exported at the crate root; its async twin is in
//! `asynchronous.rs`.

use super::{Address, Incoming, TransportError};

/// The networking an app provides. Methods take `&self`: implementations are shared
/// handles (a connection, an HTTP client) and synchronise inside.
pub trait Transport: Send + Sync {
    /// Publishes this device's prekeys (an encoded [`PrekeyUpload`](super::PrekeyUpload)): the relay replaces the
    /// signed and last-resort KEM prekeys and adds to its stock the one-time prekeys whose
    /// id is above the highest it has taken from this device, so a repeated upload never
    /// puts a handed-out key back.
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError>;
    /// Publishes this user's signed device list (an encoded [`DeviceList`](crate::DeviceList)),
    /// replacing the one the relay holds. The relay is not trusted with it: clients check
    /// the signature and never go back to an older version.
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError>;
    /// The newest device list the relay holds for a user; `NotFound` if none.
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError>;
    /// A bundle of a device (encoded `PrekeyBundle`); the relay hands out each one-time
    /// prekey once.
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError>;
    /// Queues an envelope for a device.
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError>;
    /// The envelopes waiting for this device, oldest first.
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError>;
    /// Deletes delivered envelopes at the relay.
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError>;
}
