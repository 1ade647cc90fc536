//! The prekey bundle codec (docs/PROTOCOL.md, section 4.2). Syntax only: `handshake`
//! validates the keys and the signature.
//!
//! ```text
//! version (1) || IK (32) || spk_id (4) || SPK (32) || signature (64) || opk_flag (1)
//! [|| opk_id (4) || OPK (32)]
//! ```

use super::VERSION;
use super::reader::Reader;
use crate::error::DecodeError;

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
    /// One-time prekey id and key, if the server had one left.
    pub one_time_prekey: Option<(u32, [u8; 32])>,
}

impl BundleFields {
    /// Length without a one-time prekey.
    pub const LEN_WITHOUT_ONE_TIME: usize = 1 + 32 + 4 + 32 + 64 + 1;
    /// Length with a one-time prekey.
    pub const LEN_WITH_ONE_TIME: usize = Self::LEN_WITHOUT_ONE_TIME + 4 + 32;

    /// Encodes the bundle.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::LEN_WITH_ONE_TIME);
        out.push(VERSION);
        out.extend_from_slice(&self.identity_key);
        out.extend_from_slice(&self.signed_prekey_id.to_be_bytes());
        out.extend_from_slice(&self.signed_prekey);
        out.extend_from_slice(&self.signed_prekey_signature);
        match &self.one_time_prekey {
            None => out.push(0),
            Some((id, key)) => {
                out.push(1);
                out.extend_from_slice(&id.to_be_bytes());
                out.extend_from_slice(key);
            }
        }
        out
    }

    /// Decodes a bundle, rejecting unknown versions, bad flags, truncation and trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > Self::LEN_WITH_ONE_TIME {
            return Err(DecodeError::Oversize);
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let fields = Self {
            identity_key: r.array()?,
            signed_prekey_id: r.u32()?,
            signed_prekey: r.array()?,
            signed_prekey_signature: r.array()?,
            one_time_prekey: if r.flag()? {
                Some((r.u32()?, r.array()?))
            } else {
                None
            },
        };
        r.finish()?;
        Ok(fields)
    }
}
