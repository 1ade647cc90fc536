//! Error types (docs/PROTOCOL.md, section 8 lists which input yields which error).
//!
//! Grouped by who must act, as rustls groups by fault: the bytes that arrived are not well
//! formed ([`DecodeError`]); a key the peer presented does not hold up ([`KeyError`]); an
//! initial message cannot be accepted ([`HandshakeError`]); a message does not decrypt
//! ([`DecryptError`]); the caller asked for something the API does not allow
//! ([`MisuseError`]); the local state cannot be restored or has to be renewed
//! ([`StateError`]); a primitive failed where it cannot ([`InternalError`]). One variant per
//! cause a caller can act on. Messages never contain key bytes or user data. A failed
//! operation changes nothing.

use thiserror::Error;

/// Everything that can go wrong in hemlis's protocol layer, by group.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes that are not a well-formed envelope, bundle, upload or key encoding: the sender
    /// (or the relay) sent garbage; drop the input.
    #[error("malformed encoding: {0}")]
    Decode(#[from] DecodeError),
    /// A key or signature the peer presented does not hold up: the bundle or initial
    /// message is forged or damaged; drop it.
    #[error("key rejected: {0}")]
    Key(#[from] KeyError),
    /// An initial message (or a bundle to start a session with) that this device cannot or
    /// will not accept: the peer must start again, or the app decides on its trust policy.
    #[error("handshake refused: {0}")]
    Handshake(#[from] HandshakeError),
    /// A message that does not decrypt: a copy, a message for no session, or tampered.
    #[error("message not decrypted: {0}")]
    Decrypt(#[from] DecryptError),
    /// The caller asked for something the API does not allow: fix the call.
    #[error("API misuse: {0}")]
    Misuse(#[from] MisuseError),
    /// The local state cannot be restored, or has run out of room and must be renewed.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// A primitive failed where it cannot (a bug in hemlis or below): nothing was changed;
    /// report it.
    #[error("internal error: {0}")]
    Internal(#[from] InternalError),
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
    /// A set that must be non-empty and strictly ascending (the devices of a device list)
    /// is empty, out of order or repeats an entry.
    #[error("empty, unordered or repeated entries")]
    NotCanonical,
}

/// A public key or signature that does not hold up (docs/PROTOCOL.md, sections 2.1 to 2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A public key that is non-canonical, not on the curve, or of small order.
    #[error("invalid public key")]
    InvalidPublicKey,
    /// A signature that does not verify under the claimed identity key.
    #[error("signature verification failed")]
    BadSignature,
    /// A Diffie-Hellman output was all zeros: the peer's key was of small order.
    #[error("non-contributory Diffie-Hellman output")]
    NonContributoryKey,
}

/// Why a session could not be started (docs/PROTOCOL.md, sections 3.1, 7.2 and 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// An initial message names a signed prekey this device does not hold (any more).
    #[error("unknown or expired signed prekey")]
    UnknownSignedPrekey,
    /// An initial message names a KEM prekey this device does not hold (any more).
    #[error("unknown or already used KEM prekey")]
    UnknownKemPrekey,
    /// An initial message names a one-time prekey this device does not hold (any more).
    #[error("unknown or already used one-time prekey")]
    UnknownOneTimePrekey,
    /// The peer offered no post-quantum KEM prekey (or sent a classical initial message)
    /// and classical X3DH is not allowed for it.
    #[error("classical handshake refused: no post-quantum KEM prekey")]
    ClassicalRefused,
    /// An initial message that was already accepted once.
    #[error("initial message replayed")]
    ReplayedInitialMessage,
    /// The sealed initiator identity of an initial message did not authenticate.
    #[error("sealed initiator identity failed authentication")]
    SealedIdentity,
    /// The peer presented an identity key other than the one of its existing sessions: a
    /// decision for the caller's trust policy.
    #[error("peer identity key differs from the one of its sessions")]
    IdentityMismatch,
}

/// Why a message did not decrypt (docs/PROTOCOL.md, section 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecryptError {
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
}

/// A call the API does not allow: the caller must change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MisuseError {
    /// A plaintext longer than `Limits::max_plaintext_len`.
    #[error("plaintext longer than the configured limit")]
    PlaintextTooLong,
    /// There is no active session with this peer device to encrypt with.
    #[error("no session with this peer device")]
    NoSession,
    /// A normal message was given where an initial message is needed.
    #[error("not an initial message")]
    NotInitialMessage,
}

/// Local state that cannot be restored, or that has run out of room and must be renewed.
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
    /// The replay record of a signed prekey is full: rotate the signed prekey.
    #[error("replay record of the signed prekey is full")]
    ReplayRecordFull,
    /// The sending chain reached 2^32 - 1 messages without a reply: start a new session.
    #[error("sending chain exhausted")]
    ChainExhausted,
}

/// A primitive failed where it cannot: a bug in hemlis or in a dependency. Nothing was
/// changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum InternalError {
    /// The AEAD refused to seal (its input is bounded far below the cipher's limit).
    #[error("encryption failed")]
    Seal,
    /// A state could not be serialized.
    #[error("state encoding failed")]
    Encode,
}

/// Result with hemlis's `Error`.
pub type Result<T, E = Error> = core::result::Result<T, E>;
