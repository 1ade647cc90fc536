//! The errors that cross the boundary: each becomes an exception in the foreign language.

use thiserror::Error;

use hemlis::ClientError;
use hemlis::store::StoreError;
use hemlis::transport::TransportError;

use crate::protocol_error::ProtocolError;

/// What can go wrong in a `HemlisClient` call: one variant per cause an app can act on
/// (they mirror the Rust `ClientError`). Text fields are called `reason`, not `message`:
/// in Kotlin, `message` is every exception's own property.
#[derive(Debug, Clone, PartialEq, Eq, Error, uniffi::Error)]
#[non_exhaustive]
pub enum HemlisError {
    /// The storage key does not open this database.
    #[error("wrong storage key")]
    WrongStorageKey,
    /// A stored record failed authentication (tampered or damaged).
    #[error("stored record failed authentication: {table}")]
    CorruptRecord {
        /// Which table it belongs to.
        table: String,
    },
    /// The database holds no device (only from calls that need one).
    #[error("no device in this database")]
    NoDevice,
    /// The database holds a different device than the one asked for.
    #[error("the database holds another device: {user}/{device}")]
    DeviceMismatch {
        /// The user of the device in the database.
        user: String,
        /// Its device number.
        device: u32,
    },
    /// The transport failed; what was to be sent stays in the outbox.
    #[error("transport failed: {reason}")]
    Transport {
        /// Which failure.
        kind: TransportKind,
        /// What the transport said.
        reason: String,
    },
    /// The relay holds no device list for the user (an unknown user, or one that never
    /// published).
    #[error("the user has no devices")]
    NoDevices,
    /// The user's account key changed (a new account, or a relay pretending): sending to
    /// the user is blocked until `accept_account`.
    #[error("account key of {user} changed; accept it before sending")]
    AccountChanged {
        /// The user whose account key changed.
        user: String,
    },
    /// The relay gave a device list for the user older than the newest one seen, or one of
    /// the same version with other devices: refused, nothing changed. A relay that does
    /// this is faulty or hostile.
    #[error("the relay gave an older or conflicting device list for {user}")]
    StaleDeviceList {
        /// The user whose list it was.
        user: String,
    },
    /// The relay gave a bundle for a device whose identity key is not the one the user's
    /// signed device list (or the link code) vouches for: nothing was encrypted to it.
    #[error("the identity key of {user}/{device} is not the one its device list vouches for")]
    UnlistedIdentity {
        /// The user of the device.
        user: String,
        /// The device.
        device: u32,
    },
    /// This device does not hold the account key, so it cannot link or unlink devices:
    /// do it from the account's first device.
    #[error("this device cannot sign device lists")]
    CannotSign,
    /// This device is not in its user's device list: not linked yet (show `link_code`
    /// and `receive` until `is_linked`), or unlinked.
    #[error("this device is not linked")]
    NotLinked,
    /// A link code that does not parse, or is for another user, for this very device, or
    /// would push the list over its device limit; also `unlink` of this device itself or of
    /// the last one.
    #[error("invalid link code")]
    InvalidLinkCode,
    /// Nothing is known of this peer yet: no identity for the device, no device list for
    /// the user (`safety_number`); or `unlink` of a device the list does not hold.
    #[error("no identity known for this device")]
    UnknownPeer,
    /// A protocol error (malformed bundle, bad signature, ...), by group and cause.
    #[error("protocol error: {error:?}")]
    Protocol {
        /// The group and the cause.
        error: ProtocolError,
    },
    /// The database failed (I/O, a full disk, a locked file, a newer schema).
    #[error("store failed: {error:?}")]
    Store {
        /// Which failure.
        error: StoreFailure,
    },
    /// An argument the app passed is invalid (a storage key not 32 bytes, an empty user id).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// Which argument and why.
        reason: String,
    },
    /// An earlier call panicked inside the library; this object can no longer be used.
    #[error("internal error: {reason}")]
    Internal {
        /// What happened.
        reason: String,
    },
}

/// Which way a transport call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum TransportKind {
    /// The relay could not be reached or did not answer; the client retries later.
    Unavailable,
    /// The relay knows no such user or device, or has no bundle for it.
    NotFound,
    /// The relay refused the request.
    Rejected,
    /// A failure this layer does not know yet.
    Other,
}

/// Why the database failed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum StoreFailure {
    /// The backend failed (I/O, a full disk, a locked or corrupt database).
    Backend {
        /// What the backend said.
        reason: String,
    },
    /// The database was written by a newer release with a schema this one cannot read.
    UnsupportedSchema {
        /// The schema version found.
        version: i64,
    },
    /// A failure this layer does not know yet.
    Other {
        /// What it said.
        reason: String,
    },
}

impl From<&StoreError> for StoreFailure {
    fn from(e: &StoreError) -> Self {
        match e {
            StoreError::Backend(reason) => Self::Backend {
                reason: reason.clone(),
            },
            StoreError::UnsupportedSchema(version) => Self::UnsupportedSchema { version: *version },
            other => Self::Other {
                reason: other.to_string(),
            },
        }
    }
}

impl From<&TransportError> for TransportKind {
    fn from(e: &TransportError) -> Self {
        match e {
            TransportError::Unavailable(_) => Self::Unavailable,
            TransportError::NotFound => Self::NotFound,
            TransportError::Rejected(_) => Self::Rejected,
            _ => Self::Other,
        }
    }
}

impl From<ClientError> for HemlisError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Protocol(e) => Self::Protocol { error: (&e).into() },
            ClientError::Store(e) => Self::Store { error: (&e).into() },
            ClientError::Transport(e) => Self::Transport {
                kind: (&e).into(),
                reason: e.to_string(),
            },
            ClientError::WrongStorageKey => Self::WrongStorageKey,
            ClientError::CorruptRecord(table) => Self::CorruptRecord {
                table: format!("{table:?}"),
            },
            ClientError::NoDevice => Self::NoDevice,
            ClientError::DeviceExists => Self::InvalidArgument {
                reason: "the database already holds a device".into(),
            },
            ClientError::InvalidAddress => Self::InvalidArgument {
                reason: "invalid user id (1 to 128 bytes of UTF-8)".into(),
            },
            ClientError::NoDevices => Self::NoDevices,
            ClientError::AccountChanged { user } => Self::AccountChanged { user },
            ClientError::StaleDeviceList { user } => Self::StaleDeviceList { user },
            ClientError::UnlistedIdentity { address } => Self::UnlistedIdentity {
                user: address.user().to_owned(),
                device: address.device(),
            },
            ClientError::CannotSign => Self::CannotSign,
            ClientError::NotLinked => Self::NotLinked,
            ClientError::InvalidLinkCode => Self::InvalidLinkCode,
            ClientError::UnknownPeer => Self::UnknownPeer,
            ClientError::InvalidConfig => Self::InvalidArgument {
                reason: "invalid client configuration".into(),
            },
            other => Self::Internal {
                reason: other.to_string(),
            },
        }
    }
}

impl From<StoreError> for HemlisError {
    fn from(e: StoreError) -> Self {
        ClientError::from(e).into()
    }
}

/// Why a call of the app's `FfiTransport` failed; raised by the app's implementation. Any other exception it raises counts as `Unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, Error, uniffi::Error)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The relay could not be reached or did not answer; the client retries later.
    #[error("relay unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// The relay knows no such user or device, or has no bundle for it.
    #[error("no such user or device at the relay")]
    NotFound,
    /// The relay refused the request.
    #[error("relay refused the request: {reason}")]
    Rejected {
        /// Why.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportFailure {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Unavailable { reason: e.reason }
    }
}

impl From<TransportFailure> for TransportError {
    fn from(e: TransportFailure) -> Self {
        match e {
            TransportFailure::Unavailable { reason } => Self::Unavailable(reason),
            TransportFailure::NotFound => Self::NotFound,
            TransportFailure::Rejected { reason } => Self::Rejected(reason),
        }
    }
}

impl From<TransportError> for TransportFailure {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Unavailable(reason) => Self::Unavailable { reason },
            TransportError::NotFound => Self::NotFound,
            TransportError::Rejected(reason) => Self::Rejected { reason },
            other => Self::Unavailable {
                reason: other.to_string(),
            },
        }
    }
}
