//! The message header, sealed under a header key (docs/PROTOCOL.md, section 6.1).
//!
//! Plaintext layout: ratchet public key (32) || previous chain length (u32) || message
//! number (u32), 40 bytes, sealed to 80 bytes.

use super::reader::Reader;
use crate::crypto::aead::OVERHEAD;
use crate::error::DecodeError;

/// Length of the header plaintext.
pub(crate) const HEADER_LEN: usize = 40;
/// Length of the sealed header on the wire.
pub(crate) const SEALED_HEADER_LEN: usize = HEADER_LEN + OVERHEAD;

/// A decrypted Double Ratchet header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// The sender's current ratchet public key.
    pub(crate) ratchet_key: [u8; 32],
    /// Number of messages in the sender's previous sending chain.
    pub(crate) previous_chain_len: u32,
    /// This message's number in its sending chain.
    pub(crate) n: u32,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..32].copy_from_slice(&self.ratchet_key);
        out[32..36].copy_from_slice(&self.previous_chain_len.to_be_bytes());
        out[36..].copy_from_slice(&self.n.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Self {
            ratchet_key: r.array()?,
            previous_chain_len: r.u32()?,
            n: r.u32()?,
        };
        r.finish()?;
        Ok(header)
    }
}
