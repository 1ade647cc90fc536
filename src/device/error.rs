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
/// cannot be reached as asked (`AccountChanged`, `NoDevices`, `StaleDeviceList`,
/// `UnlistedIdentity`); this device's place in its account (`CannotSign`, `NotLinked`,
/// `InvalidLinkCode`). An incoming envelope that
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
    /// The relay holds no device list for the user (unknown user, or never published).
    #[error("the user has no device list")]
    NoDevices,
    /// The relay gave a device list older than the newest one seen for the user, or one of
    /// the same version with other devices: refused, nothing changed. A relay that does
    /// this is faulty or hostile.
    #[error("the relay gave an older or conflicting device list")]
    StaleDeviceList {
        /// The user whose list it was.
        user: String,
    },
    /// The user's account key changed (a new account, or a relay pretending): sending to
    /// the user is blocked until the app calls
    /// [`Device::accept_account`](super::Device::accept_account).
    #[error("a contact's account key changed; accept it before sending")]
    AccountChanged {
        /// The user whose account key changed.
        user: String,
    },
    /// The relay gave a bundle for a device whose identity key is not the one the user's
    /// signed device list vouches for: nothing was encrypted to it.
    #[error("a bundle's identity key is not the one the device list vouches for")]
    UnlistedIdentity {
        /// The device.
        address: Address,
    },
    /// This device does not hold the account key, so it cannot add or remove devices.
    #[error("this device cannot sign device lists")]
    CannotSign,
    /// This device is not in its user's device list: not linked yet, or removed.
    #[error("this device is not linked")]
    NotLinked,
    /// A link code for another user, for this very device, or one that a link would
    /// push over the list's device limit.
    #[error("invalid link code")]
    InvalidLinkCode,
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
