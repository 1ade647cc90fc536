//! The transport the app brings (docs/ARCHITECTURE.md, section 8; docs/PROTOCOL.md, section 12): publish
//! prekeys, fetch bundles, send envelopes, fetch and acknowledge what arrived.
//!
//! Everything that crosses it is a prekey upload or a bundle (public keys and signatures)
//! or an envelope; the relay learns addresses, sizes and times, never a plaintext or a key.

pub(crate) mod asynchronous;
pub(crate) mod blocking;
pub(crate) mod memory;
mod upload;

pub(crate) use crate::address::Address;
pub(crate) use asynchronous::AsyncTransport;
pub(crate) use blocking::Transport;
pub use memory::RelayState;
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
