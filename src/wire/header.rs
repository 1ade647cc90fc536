//! The message header, sealed under a header key (docs/PROTOCOL.md, section 6.1).
//!
//! Plaintext layout: ratchet public key (32) || previous chain length (u32) || message
//! number (u32), 40 bytes, sealed to 80 bytes.

use super::codec::Codec;
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

impl Codec<'_> for Header {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.ratchet_key);
        bytes.extend_from_slice(&self.previous_chain_len.to_be_bytes());
        bytes.extend_from_slice(&self.n.to_be_bytes());
    }

    fn encoded_len(&self) -> usize {
        HEADER_LEN
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            ratchet_key: r.array()?,
            previous_chain_len: r.u32()?,
            n: r.u32()?,
        })
    }
}

impl Header {
    /// Decodes a header plaintext: exactly [`HEADER_LEN`] bytes.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes(bytes)
    }
}
