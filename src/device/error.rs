//! The client's errors (docs/ARCHITECTURE.md, section 7).

use thiserror::Error;

use crate::store::{StoreError, Table};
use crate::transport::{Address, TransportError};

/// What can go wrong in the client, by who must act: the protocol layer refused
/// ([`Protocol`](Self::Protocol), its own groups inside); the store or the transport failed
/// (nothing was changed, or what was to be sent stays in the outbox); the storage key is
/// wrong or a record is damaged (`WrongStorageKey`, `CorruptRecord`); the call was wrong
/// for this store or its arguments (`NoDevice`, `DeviceExists`, `InvalidAddress`,
/// `InvalidConfig`, `UnknownPeer`, `BundleNeeded`); a peer needs the user's decision or
/// cannot be reached as asked (`IdentityChanged`, `NoDevices`). An incoming envelope that
/// fails is not an error of the call: it is a [`Rejection`](super::Rejection) in the
/// report.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A protocol error (see `hemlis::Error`).
    #[error(transparent)]
    Protocol(#[from] crate::Error),
    /// The store failed; nothing was changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The transport failed; what was to be sent stays in the outbox.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The storage key does not open this store.
    #[error("wrong storage key")]
    WrongStorageKey,
    /// A stored record does not authenticate (tampered or damaged); others are unaffected.
    #[error("stored record failed authentication")]
    CorruptRecord(Table),
    /// The store holds no device: create one first.
    #[error("no device in this store")]
    NoDevice,
    /// The store already holds a device.
    #[error("the store already holds a device")]
    DeviceExists,
    /// A user id that is empty or too long.
    #[error("invalid user id")]
    InvalidAddress,
    /// The user has no devices at the relay.
    #[error("the user has no devices")]
    NoDevices,
    /// A peer device's identity key changed: sending to it is blocked until the app calls
    /// [`Device::accept_identity`](super::Device::accept_identity).
    #[error("a peer device's identity key changed; accept it before sending")]
    IdentityChanged {
        /// The device whose key changed.
        address: Address,
    },
    /// A configuration the client cannot work with (for example more one-time prekeys
    /// than one upload holds).
    #[error("invalid client configuration")]
    InvalidConfig,
    /// A device to send to has no session and the answers given to
    /// [`Device::send`](super::Device::send) hold no bundle for it (its sessions changed
    /// since [`Device::lookups`](super::Device::lookups) was asked): ask again.
    #[error("a bundle is needed for a device")]
    BundleNeeded {
        /// The device that needs a bundle.
        address: Address,
    },
    /// No identity is known for this device yet.
    #[error("no identity known for this device")]
    UnknownPeer,
}
