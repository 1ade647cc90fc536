//! The transport the app brings (docs/ARCHITECTURE.md, section 8; docs/PROTOCOL.md, section 12): publish
//! prekeys, fetch bundles, send envelopes, fetch and acknowledge what arrived.
//!
//! Everything that crosses it is a prekey upload or a bundle (public keys and signatures)
//! or an envelope; the relay learns addresses, sizes and times, never a plaintext or a key.

mod address;
mod asynchronous;
mod memory;
mod upload;

pub use address::Address;
pub use asynchronous::AsyncTransport;
pub use memory::{InMemoryRelay, RelayState};
pub use upload::PrekeyUpload;

use thiserror::Error;

/// An envelope waiting at the relay for this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The relay's id for it, to acknowledge.
    pub id: u64,
    /// The sender device, as the relay claims it (the client checks it against the
    /// address sealed inside the message).
    pub from: Address,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

/// Why a transport call failed. The data it carried is never lost: the client keeps it
/// and retries.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The relay could not be reached or did not answer; try again later.
    #[error("relay unavailable: {0}")]
    Unavailable(String),
    /// The relay knows no such user or device, or has no bundle for it.
    #[error("no such user or device at the relay")]
    NotFound,
    /// The relay refused the request.
    #[error("relay refused the request: {0}")]
    Rejected(String),
}

/// The networking an app provides. Methods take `&self`: implementations are shared
/// handles (a connection, an HTTP client) and synchronise inside.
pub trait Transport: Send + Sync {
    /// Publishes this device's prekeys (an encoded [`PrekeyUpload`]): the relay replaces the
    /// signed and last-resort KEM prekeys and adds to its stock the one-time prekeys whose
    /// id is above the highest it has taken from this device, so a repeated upload never
    /// puts a handed-out key back.
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError>;
    /// The device ids of a user.
    fn devices(&self, user: &str) -> Result<Vec<u32>, TransportError>;
    /// A bundle of a device (encoded `PrekeyBundle`); the relay hands out each one-time
    /// prekey once.
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError>;
    /// Queues an envelope for a device.
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError>;
    /// The envelopes waiting for this device, oldest first.
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError>;
    /// Deletes delivered envelopes at the relay.
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError>;

    /// The identity key a device currently publishes, without taking a prekey: lets a
    /// sender notice that a peer reinstalled (a new identity) while it still holds a session
    /// with the old one. The default answers `None` (unknown), and such a change is then
    /// only noticed when the peer writes first. An error here never blocks a send: the
    /// client commits the message to its outbox as if the answer were `None`.
    fn identity(&self, device: &Address) -> Result<Option<[u8; 32]>, TransportError> {
        let _ = device;
        Ok(None)
    }
}
