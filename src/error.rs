//! Error types (docs/PROTOCOL.md, section 8 lists which input yields which error).
//!
//! One variant per cause a caller can act on. Messages never contain key bytes or user data.

use thiserror::Error;

/// Everything that can go wrong in hemlis.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that are not a well-formed envelope, bundle or key encoding.
    #[error("malformed encoding: {0}")]
    Decode(#[from] DecodeError),
    /// A public key that is non-canonical, not on the curve, or of small order.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A signature that does not verify under the claimed identity key.
    #[error("signature verification failed")]
    BadSignature,
    /// A Diffie-Hellman output was all zeros: the peer's key was of small order.
    #[error("non-contributory Diffie-Hellman output")]
    NonContributoryKey,
    /// An initial message names a signed prekey this device does not hold (any more).
    #[error("unknown or expired signed prekey")]
    UnknownSignedPrekey,
    /// An initial message names a KEM prekey this device does not hold (any more).
    #[error("unknown or already used KEM prekey")]
    UnknownKemPrekey,
    /// The peer offered no post-quantum KEM prekey (or sent a classical initial message)
    /// and classical X3DH is not allowed for it.
    #[error("classical handshake refused: no post-quantum KEM prekey")]
    ClassicalRefused,
    /// An initial message names a one-time prekey this device does not hold (any more).
    #[error("unknown or already used one-time prekey")]
    UnknownOneTimePrekey,
    /// An initial message that was already accepted once.
    #[error("initial message replayed")]
    ReplayedInitialMessage,
    /// The replay record of a signed prekey is full: rotate the signed prekey.
    #[error("replay record of the signed prekey is full")]
    ReplayRecordFull,
    /// The sealed initiator identity of an initial message did not authenticate.
    #[error("sealed initiator identity failed authentication")]
    SealedIdentity,
    /// No header key of the session (or sessions) opens this message's header.
    #[error("no session recognises this message")]
    UnknownSession,
    /// The message was already decrypted, or its key was evicted.
    #[error("message already decrypted or its key discarded")]
    Duplicate,
    /// The message lies further ahead in its chain than `Limits::max_skip` allows.
    #[error("message too far ahead in its chain")]
    TooFarAhead,
    /// The header authenticated but the body did not.
    #[error("message body failed authentication")]
    BodyAuthentication,
    /// The decrypted body's padding was malformed.
    #[error("invalid padding")]
    InvalidPadding,
    /// A plaintext longer than `Limits::max_plaintext_len`.
    #[error("plaintext longer than the configured limit")]
    PlaintextTooLong,
    /// There is no active session with this peer device to encrypt with.
    #[error("no session with this peer device")]
    NoSession,
    /// The sending chain reached 2^32 - 1 messages without a reply.
    #[error("sending chain exhausted")]
    ChainExhausted,
    /// The peer presented an identity key other than the one of its existing sessions.
    #[error("peer identity key differs from the one of its sessions")]
    IdentityMismatch,
    /// A normal message was given where an initial message is needed.
    #[error("not an initial message")]
    NotInitialMessage,
    /// Serialized state that cannot be restored.
    #[error("invalid stored state: {0}")]
    State(#[from] StateError),
}

/// A malformed encoding: which rule of the codec it broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The version byte names a version this release does not speak.
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    /// The kind byte names no known envelope kind.
    #[error("unknown envelope kind {0}")]
    UnknownKind(u8),
    /// The input ended before the encoding did.
    #[error("truncated input")]
    Truncated,
    /// Bytes follow the end of the encoding.
    #[error("trailing bytes")]
    TrailingBytes,
    /// A field or the whole input exceeds its size limit.
    #[error("field exceeds its size limit")]
    Oversize,
    /// A flag byte that is neither 0 nor 1, or a field that must be zero is not.
    #[error("invalid flag or reserved field")]
    InvalidFlag,
    /// A ciphertext whose length is not one of the padding buckets.
    #[error("ciphertext length is not a padding bucket")]
    BadLength,
    /// An address whose user id is empty, longer than 128 bytes or not UTF-8.
    #[error("invalid address")]
    InvalidAddress,
}

/// Serialized state that cannot be restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state version is not one this release can read or migrate.
    #[error("unsupported state version {0}")]
    UnsupportedVersion(u8),
    /// The bytes are not a valid encoding of the state.
    #[error("malformed state encoding")]
    Malformed,
    /// The state holds more than the configured limits allow.
    #[error("state exceeds the configured limits")]
    ExceedsLimits,
}

/// Result with hemlis's `Error`.
pub type Result<T, E = Error> = core::result::Result<T, E>;
