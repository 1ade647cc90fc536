//! The envelope codec (docs/PROTOCOL.md, section 5): the only bytes a relay sees of a
//! conversation.
//!
//! ```text
//! version (1) || kind (1)
//! [initial only: spk_id (4) || opk_flag (1) || opk_id (4) || kem_flag (1) || kem_id (4)
//!  || EK_A (32) || [KEM ciphertext (1088) if kem_flag] || sealed identity (72)]
//! sealed header (80) || body nonce (24) || body ciphertext (a padding bucket) || tag (16)
//! ```

use std::borrow::Cow;

use super::VERSION;
use super::codec::Codec;
use super::header::SEALED_HEADER_LEN;
use super::padding::{is_bucket, padded_len};
use super::reader::Reader;
use crate::crypto::aead::OVERHEAD;
use crate::crypto::kem::KEM_CIPHERTEXT_LEN;
use crate::error::DecodeError;

/// Length of the sealed initiator identity: nonce, the 32-byte key, tag.
pub(crate) const SEALED_IDENTITY_LEN: usize = 32 + OVERHEAD;
/// Length of version and kind.
pub(crate) const MESSAGE_PREFIX_LEN: usize = 2;
/// Length of everything before the header in a classical initial envelope.
pub(crate) const CLASSICAL_PREFIX_LEN: usize =
    MESSAGE_PREFIX_LEN + 4 + 1 + 4 + 1 + 4 + 32 + SEALED_IDENTITY_LEN;
/// Length of everything before the header in a post-quantum initial envelope.
pub(crate) const INITIAL_PREFIX_LEN: usize = CLASSICAL_PREFIX_LEN + KEM_CIPHERTEXT_LEN;

const KIND_INITIAL: u8 = 1;
const KIND_MESSAGE: u8 = 2;

/// Which of the two envelope kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// Starts a session: carries the X3DH fields, then a ratchet message.
    Initial,
    /// A ratchet message in an established session.
    Message,
}

/// The X3DH fields of an initial envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialPrefix {
    /// Id of the responder's signed prekey used.
    pub signed_prekey_id: u32,
    /// Id of the responder's one-time prekey used, if any.
    pub one_time_prekey_id: Option<u32>,
    /// Id of the responder's ML-KEM-768 prekey used and the KEM ciphertext (post-quantum).
    pub kem: Option<(u32, Box<[u8; KEM_CIPHERTEXT_LEN]>)>,
    /// The initiator's ephemeral public key EK_A (the session's base key).
    pub base_key: [u8; 32],
    /// The initiator's identity key, sealed under a key derived from DH3.
    pub sealed_identity: [u8; SEALED_IDENTITY_LEN],
}

/// A parsed envelope borrowing its bytes. Parsing checks syntax only.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    bytes: &'a [u8],
    prefix: EnvelopePrefix<'static>,
    header_at: usize,
}

impl<'a> Envelope<'a> {
    /// Parses an envelope whose padded body may be at most `max_padded_len` bytes.
    ///
    /// # Errors
    ///
    /// The [`DecodeError`] of the first rule the input breaks, in the order of
    /// docs/PROTOCOL.md, section 5.2: the prefix (version, kind, flags), then the sealed
    /// header, then the body's length.
    pub fn parse(bytes: &'a [u8], max_padded_len: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let prefix = EnvelopePrefix::read(&mut r)?;
        let header_at = r.position();
        r.bytes(SEALED_HEADER_LEN)?;
        let body = r.rest();
        let Some(padded) = body.len().checked_sub(OVERHEAD) else {
            return Err(DecodeError::Truncated);
        };
        if padded > max_padded_len {
            return Err(DecodeError::Oversize);
        }
        if padded < padded_len(0) {
            return Err(DecodeError::Truncated);
        }
        if !is_bucket(padded) {
            return Err(DecodeError::BadLength);
        }
        Ok(Self {
            bytes,
            prefix,
            header_at,
        })
    }

    /// The kind of envelope.
    pub fn kind(&self) -> EnvelopeKind {
        match self.prefix {
            EnvelopePrefix::Initial(_) => EnvelopeKind::Initial,
            EnvelopePrefix::Message => EnvelopeKind::Message,
        }
    }

    /// The X3DH fields, for an initial envelope.
    pub fn initial(&self) -> Option<&InitialPrefix> {
        match &self.prefix {
            EnvelopePrefix::Initial(initial) => Some(initial),
            EnvelopePrefix::Message => None,
        }
    }

    /// The whole envelope.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Everything before the sealed header: the header's associated data.
    pub(crate) fn before_header(&self) -> &'a [u8] {
        self.bytes.get(..self.header_at).unwrap_or_default()
    }

    /// The sealed header.
    pub(crate) fn sealed_header(&self) -> &'a [u8] {
        self.bytes
            .get(self.header_at..self.header_at + SEALED_HEADER_LEN)
            .unwrap_or_default()
    }

    /// Everything before the sealed body: with the session AD, the body's associated data.
    pub(crate) fn before_body(&self) -> &'a [u8] {
        self.bytes
            .get(..self.header_at + SEALED_HEADER_LEN)
            .unwrap_or_default()
    }

    /// The sealed body.
    pub(crate) fn sealed_body(&self) -> &'a [u8] {
        self.bytes
            .get(self.header_at + SEALED_HEADER_LEN..)
            .unwrap_or_default()
    }
}

/// Writes version, kind and, for an initial envelope, the handshake fields.
pub(crate) fn write_initial_prefix(out: &mut Vec<u8>, initial: Option<&InitialPrefix>) {
    EnvelopePrefix::from(initial).encode(out);
}

/// Everything before the sealed header (section 5): version, kind and, in an initial
/// envelope, the handshake fields. Borrows the fields to encode them, owns them once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnvelopePrefix<'p> {
    /// Kind `0x01`.
    Initial(Cow<'p, InitialPrefix>),
    /// Kind `0x02`.
    Message,
}

impl<'p> From<Option<&'p InitialPrefix>> for EnvelopePrefix<'p> {
    fn from(initial: Option<&'p InitialPrefix>) -> Self {
        initial.map_or(Self::Message, |p| Self::Initial(Cow::Borrowed(p)))
    }
}

impl Codec<'_> for EnvelopePrefix<'_> {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.push(VERSION);
        match self {
            Self::Initial(initial) => {
                bytes.push(KIND_INITIAL);
                initial.encode(bytes);
            }
            Self::Message => bytes.push(KIND_MESSAGE),
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Initial(initial) => MESSAGE_PREFIX_LEN + initial.encoded_len(),
            Self::Message => MESSAGE_PREFIX_LEN,
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        match r.u8()? {
            KIND_INITIAL => Ok(Self::Initial(Cow::Owned(InitialPrefix::read(r)?))),
            KIND_MESSAGE => Ok(Self::Message),
            other => Err(DecodeError::UnknownKind(other)),
        }
    }
}

/// The fields of an initial envelope after its kind byte (section 5.1), from the signed
/// prekey id to the sealed identity. A one-time prekey id or KEM prekey id that is not 0
/// with its flag 0 is [`DecodeError::InvalidFlag`].
impl Codec<'_> for InitialPrefix {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        bytes.push(u8::from(self.one_time_prekey_id.is_some()));
        bytes.extend_from_slice(&self.one_time_prekey_id.unwrap_or(0).to_be_bytes());
        bytes.push(u8::from(self.kem.is_some()));
        bytes.extend_from_slice(&self.kem.as_ref().map_or(0, |(id, _)| *id).to_be_bytes());
        bytes.extend_from_slice(&self.base_key);
        if let Some((_, ciphertext)) = &self.kem {
            bytes.extend_from_slice(ciphertext.as_slice());
        }
        bytes.extend_from_slice(&self.sealed_identity);
    }

    fn encoded_len(&self) -> usize {
        let kem = if self.kem.is_some() { KEM_CIPHERTEXT_LEN } else { 0 };
        CLASSICAL_PREFIX_LEN - MESSAGE_PREFIX_LEN + kem
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let signed_prekey_id = r.u32()?;
        let has_one_time = r.flag()?;
        let one_time_id = r.u32()?;
        let has_kem = r.flag()?;
        let kem_id = r.u32()?;
        if (!has_one_time && one_time_id != 0) || (!has_kem && kem_id != 0) {
            return Err(DecodeError::InvalidFlag);
        }
        let base_key = r.array()?;
        let kem = if has_kem {
            let mut ciphertext = Box::new([0u8; KEM_CIPHERTEXT_LEN]);
            ciphertext.copy_from_slice(r.bytes(KEM_CIPHERTEXT_LEN)?);
            Some((kem_id, ciphertext))
        } else {
            None
        };
        Ok(Self {
            signed_prekey_id,
            one_time_prekey_id: has_one_time.then_some(one_time_id),
            kem,
            base_key,
            sealed_identity: r.array()?,
        })
    }
}
