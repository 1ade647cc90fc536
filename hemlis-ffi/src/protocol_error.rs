//! The protocol's errors across the boundary, by group (hemlis's `Error`; docs/PROTOCOL.md,
//! section 8): nested enums that Kotlin `when`, Swift `switch` and Python `match` can branch
//! on. Each mirrors the Rust enum of the same group; a cause a newer hemlis adds that this
//! layer does not know yet arrives as the group's `Other`.

use hemlis::{DecodeError, DecryptError, Error, HandshakeError, KeyError, MisuseError, StateError};

/// A protocol error: which group, then which cause.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Bytes that are not a well-formed envelope, bundle or key: drop the input.
    Decode {
        /// Which rule of the codec they broke.
        kind: DecodeKind,
    },
    /// A key or signature the peer presented does not hold up.
    Key {
        /// Which check failed.
        kind: KeyKind,
    },
    /// An initial message or bundle this device cannot or will not accept.
    Handshake {
        /// Why.
        kind: HandshakeKind,
    },
    /// A message that does not decrypt.
    Decrypt {
        /// Why.
        kind: DecryptKind,
    },
    /// A call the API does not allow.
    Misuse {
        /// Which.
        kind: MisuseKind,
    },
    /// Local state that cannot be restored or must be renewed.
    State {
        /// Which.
        kind: StateKind,
    },
    /// A primitive failed where it cannot (a bug): nothing was changed.
    Internal,
}

/// Which rule of the codec an input broke.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum DecodeKind {
    /// A version this release does not speak.
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// An envelope kind byte that names no kind.
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// The input ended early.
    Truncated,
    /// Bytes after the end of the encoding.
    TrailingBytes,
    /// A field or the input over its size limit.
    Oversize,
    /// A flag byte not 0 or 1, or a reserved field not zero.
    InvalidFlag,
    /// A ciphertext length that is not a padding bucket.
    BadLength,
    /// An address whose user id is empty, over 128 bytes or not UTF-8.
    InvalidAddress,
    /// An empty, unordered or repeated set (the devices of a device list).
    NotCanonical,
    /// A rule this layer does not know yet.
    Other,
}

/// Which key check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum KeyKind {
    /// A public key that is non-canonical, off the curve or of small order.
    InvalidPublicKey,
    /// A signature that does not verify.
    BadSignature,
    /// An all-zero Diffie-Hellman output.
    NonContributoryKey,
    /// A check this layer does not know yet.
    Other,
}

/// Why a session could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum HandshakeKind {
    /// An unknown or expired signed prekey.
    UnknownSignedPrekey,
    /// An unknown or used KEM prekey.
    UnknownKemPrekey,
    /// An unknown or used one-time prekey.
    UnknownOneTimePrekey,
    /// No post-quantum KEM prekey, and classical X3DH is not allowed.
    ClassicalRefused,
    /// An initial message accepted before.
    ReplayedInitialMessage,
    /// The sealed initiator identity did not authenticate.
    SealedIdentity,
    /// The peer's identity key differs from the one of its sessions.
    IdentityMismatch,
    /// A cause this layer does not know yet.
    Other,
}

/// Why a message did not decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum DecryptKind {
    /// No session recognises it.
    UnknownSession,
    /// Already decrypted, or its key discarded.
    Duplicate,
    /// Further ahead in its chain than the limit allows.
    TooFarAhead,
    /// The body failed authentication.
    BodyAuthentication,
    /// Malformed padding.
    InvalidPadding,
    /// A cause this layer does not know yet.
    Other,
}

/// Which call the API does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum MisuseKind {
    /// A plaintext over the configured limit.
    PlaintextTooLong,
    /// No session to encrypt with.
    NoSession,
    /// A normal message where an initial message is needed.
    NotInitialMessage,
    /// A misuse this layer does not know yet.
    Other,
}

/// What is wrong with the local state.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[non_exhaustive]
pub enum StateKind {
    /// A state version this release cannot read.
    UnsupportedVersion {
        /// The version byte.
        version: u8,
    },
    /// Not a valid encoding of the state.
    Malformed,
    /// More than the configured limits allow.
    ExceedsLimits,
    /// The signed prekey's replay record is full: rotate it.
    ReplayRecordFull,
    /// The sending chain is used up: start a new session.
    ChainExhausted,
    /// A cause this layer does not know yet.
    Other,
}

impl From<&Error> for ProtocolError {
    fn from(e: &Error) -> Self {
        match e {
            Error::Decode(e) => Self::Decode { kind: (*e).into() },
            Error::Key(e) => Self::Key { kind: (*e).into() },
            Error::Handshake(e) => Self::Handshake { kind: (*e).into() },
            Error::Decrypt(e) => Self::Decrypt { kind: (*e).into() },
            Error::Misuse(e) => Self::Misuse { kind: (*e).into() },
            Error::State(e) => Self::State { kind: (*e).into() },
            // `Internal`, and any group a newer hemlis adds.
            _ => Self::Internal,
        }
    }
}

impl From<DecodeError> for DecodeKind {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::UnsupportedVersion(version) => Self::UnsupportedVersion { version },
            DecodeError::UnknownKind(kind) => Self::UnknownKind { kind },
            DecodeError::Truncated => Self::Truncated,
            DecodeError::TrailingBytes => Self::TrailingBytes,
            DecodeError::Oversize => Self::Oversize,
            DecodeError::InvalidFlag => Self::InvalidFlag,
            DecodeError::BadLength => Self::BadLength,
            DecodeError::InvalidAddress => Self::InvalidAddress,
            DecodeError::NotCanonical => Self::NotCanonical,
            _ => Self::Other,
        }
    }
}

impl From<KeyError> for KeyKind {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::InvalidPublicKey => Self::InvalidPublicKey,
            KeyError::BadSignature => Self::BadSignature,
            KeyError::NonContributoryKey => Self::NonContributoryKey,
            _ => Self::Other,
        }
    }
}

impl From<HandshakeError> for HandshakeKind {
    fn from(e: HandshakeError) -> Self {
        match e {
            HandshakeError::UnknownSignedPrekey => Self::UnknownSignedPrekey,
            HandshakeError::UnknownKemPrekey => Self::UnknownKemPrekey,
            HandshakeError::UnknownOneTimePrekey => Self::UnknownOneTimePrekey,
            HandshakeError::ClassicalRefused => Self::ClassicalRefused,
            HandshakeError::ReplayedInitialMessage => Self::ReplayedInitialMessage,
            HandshakeError::SealedIdentity => Self::SealedIdentity,
            HandshakeError::IdentityMismatch => Self::IdentityMismatch,
            _ => Self::Other,
        }
    }
}

impl From<DecryptError> for DecryptKind {
    fn from(e: DecryptError) -> Self {
        match e {
            DecryptError::UnknownSession => Self::UnknownSession,
            DecryptError::Duplicate => Self::Duplicate,
            DecryptError::TooFarAhead => Self::TooFarAhead,
            DecryptError::BodyAuthentication => Self::BodyAuthentication,
            DecryptError::InvalidPadding => Self::InvalidPadding,
            _ => Self::Other,
        }
    }
}

impl From<MisuseError> for MisuseKind {
    fn from(e: MisuseError) -> Self {
        match e {
            MisuseError::PlaintextTooLong => Self::PlaintextTooLong,
            MisuseError::NoSession => Self::NoSession,
            MisuseError::NotInitialMessage => Self::NotInitialMessage,
            _ => Self::Other,
        }
    }
}

impl From<StateError> for StateKind {
    fn from(e: StateError) -> Self {
        match e {
            StateError::UnsupportedVersion(version) => Self::UnsupportedVersion { version },
            StateError::Malformed => Self::Malformed,
            StateError::ExceedsLimits => Self::ExceedsLimits,
            StateError::ReplayRecordFull => Self::ReplayRecordFull,
            StateError::ChainExhausted => Self::ChainExhausted,
            _ => Self::Other,
        }
    }
}
