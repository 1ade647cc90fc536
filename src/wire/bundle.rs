//! The prekey bundle codec (docs/PROTOCOL.md, section 4.2). Syntax only: `handshake`
//! validates the keys and the signatures.
//!
//! ```text
//! version (1) || IK (32) || spk_id (4) || SPK (32) || SPK signature (64)
//! || kem_flag (1) [|| kem_id (4) || kem_kind (1) || KEM key (1184) || KEM signature (64)]
//! || opk_flag (1) [|| opk_id (4) || OPK (32)]
//! ```

use super::VERSION;
use super::codec::Codec;
use super::reader::Reader;
use crate::crypto::kem::KEM_PUBLIC_LEN;
use crate::error::DecodeError;

/// The ML-KEM-768 prekey of an encoded bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KemPrekeyFields {
    /// KEM prekey id.
    pub id: u32,
    /// True for a one-time KEM prekey, false for the last-resort one.
    pub one_time: bool,
    /// ML-KEM-768 encapsulation key (1,184 bytes).
    pub key: Vec<u8>,
    /// Ed25519 signature over id, kind and key.
    pub signature: [u8; 64],
}

/// The fields of an encoded prekey bundle, not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFields {
    /// Ed25519 identity key.
    pub identity_key: [u8; 32],
    /// Signed prekey id.
    pub signed_prekey_id: u32,
    /// Signed prekey (X25519).
    pub signed_prekey: [u8; 32],
    /// Ed25519 signature over the signed prekey.
    pub signed_prekey_signature: [u8; 64],
    /// The KEM prekey: a one-time one if the server had one left, else the last-resort one.
    pub kem_prekey: Option<KemPrekeyFields>,
    /// One-time prekey id and key, if the server had one left.
    pub one_time_prekey: Option<(u32, [u8; 32])>,
}

impl BundleFields {
    /// Length of a classical bundle without a one-time prekey.
    pub const MIN_LEN: usize = 1 + 32 + 4 + 32 + 64 + 1 + 1;
    /// Length the KEM prekey adds.
    pub const KEM_LEN: usize = 4 + 1 + KEM_PUBLIC_LEN + 64;
    /// Length the one-time prekey adds.
    pub const ONE_TIME_LEN: usize = 4 + 32;
    /// Length of a bundle with both.
    pub const MAX_LEN: usize = Self::MIN_LEN + Self::KEM_LEN + Self::ONE_TIME_LEN;

    /// Encodes the bundle (the same as [`Codec::to_bytes`]).
    pub fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }

    /// Decodes a bundle, rejecting unknown versions, bad flags, truncation and trailing bytes
    /// (the same as [`Codec::from_bytes`]).
    ///
    /// # Errors
    ///
    /// [`DecodeError::Oversize`] for more than [`BundleFields::MAX_LEN`] bytes, then the
    /// first rule the input breaks (docs/PROTOCOL.md, section 4.2).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
}

impl Codec<'_> for BundleFields {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.identity_key);
        bytes.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        bytes.extend_from_slice(&self.signed_prekey);
        bytes.extend_from_slice(&self.signed_prekey_signature);
        match &self.kem_prekey {
            None => bytes.push(0),
            Some(kem) => {
                bytes.push(1);
                bytes.extend_from_slice(&kem.id.to_be_bytes());
                bytes.push(u8::from(kem.one_time));
                bytes.extend_from_slice(&kem.key);
                bytes.extend_from_slice(&kem.signature);
            }
        }
        match &self.one_time_prekey {
            None => bytes.push(0),
            Some((id, key)) => {
                bytes.push(1);
                bytes.extend_from_slice(&id.to_be_bytes());
                bytes.extend_from_slice(key);
            }
        }
    }

    fn encoded_len(&self) -> usize {
        // The KEM key's length is its own (1,184 bytes in every bundle this crate builds).
        let kem = self
            .kem_prekey
            .as_ref()
            .map_or(0, |kem| Self::KEM_LEN - KEM_PUBLIC_LEN + kem.key.len());
        let one_time = if self.one_time_prekey.is_some() {
            Self::ONE_TIME_LEN
        } else {
            0
        };
        Self::MIN_LEN + kem + one_time
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        Ok(Self {
            identity_key: r.array()?,
            signed_prekey_id: r.u32()?,
            signed_prekey: r.array()?,
            signed_prekey_signature: r.array()?,
            kem_prekey: if r.flag()? {
                Some(KemPrekeyFields {
                    id: r.u32()?,
                    one_time: r.flag()?,
                    key: r.bytes(KEM_PUBLIC_LEN)?.to_vec(),
                    signature: r.array()?,
                })
            } else {
                None
            },
            one_time_prekey: if r.flag()? {
                Some((r.u32()?, r.array()?))
            } else {
                None
            },
        })
    }

    /// Refuses more than [`BundleFields::MAX_LEN`] bytes as [`DecodeError::Oversize`]
    /// before reading any field, then reads one bundle and requires its end.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_LEN {
            return Err(DecodeError::Oversize);
        }
        let mut r = Reader::new(bytes);
        let fields = Self::read(&mut r)?;
        r.finish()?;
        Ok(fields)
    }
}
