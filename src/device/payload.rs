//! The client payload inside every ratchet message (docs/PROTOCOL.md, section 12.2):
//! `version (1) || sender address || sent_at (u64, seconds) || body`.
//!
//! The sender's address travels encrypted and authenticated, so a relay that lies about
//! who sent an envelope is caught.

use std::borrow::Cow;

use crate::error::DecodeError;
use crate::transport::Address;
use crate::wire::{Codec, Reader};

const PAYLOAD_VERSION: u8 = 1;

/// Frames a message body with its sender and time, in a buffer of exactly its length (the
/// caller wipes it: it holds the plaintext).
pub(crate) fn encode(sender: &Address, sent_at: u64, body: &[u8]) -> Vec<u8> {
    Payload {
        sender: Cow::Borrowed(sender),
        sent_at,
        body,
    }
    .to_bytes()
}

/// Parses a payload; `None` if it is malformed or of another version.
pub(crate) fn decode(payload: &[u8]) -> Option<(Address, u64, &[u8])> {
    let Payload {
        sender,
        sent_at,
        body,
    } = Payload::from_bytes(payload).ok()?;
    Some((sender.into_owned(), sent_at, body))
}

/// A decoded or to-be-encoded payload; the body borrows from the plaintext.
#[derive(Debug)]
struct Payload<'a> {
    sender: Cow<'a, Address>,
    sent_at: u64,
    body: &'a [u8],
}

impl<'a> Codec<'a> for Payload<'a> {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.push(PAYLOAD_VERSION);
        // `Address::encode` (inherent) returns a new vector; this appends in place.
        Codec::encode(self.sender.as_ref(), bytes);
        bytes.extend_from_slice(&self.sent_at.to_be_bytes());
        bytes.extend_from_slice(self.body);
    }

    fn encoded_len(&self) -> usize {
        1 + self.sender.encoded_len() + 8 + self.body.len()
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let version = r.u8()?;
        if version != PAYLOAD_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        Ok(Self {
            sender: Cow::Owned(Address::read(r)?),
            sent_at: r.u64()?,
            body: r.rest(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_round_trips_in_one_exact_buffer() {
        let sender = Address::new("alice", 3).unwrap();
        for body in [&b""[..], b"hello"] {
            let bytes = encode(&sender, 1_700_000_000, body);
            assert_eq!(bytes.len(), 1 + 10 + 8 + body.len());
            assert_eq!(bytes.capacity(), bytes.len());
            assert_eq!(decode(&bytes), Some((sender.clone(), 1_700_000_000, body)));
            for len in 0..1 + 10 + 8 {
                assert_eq!(decode(&bytes[..len]), None, "{len} bytes");
            }
        }
        let mut other_version = encode(&sender, 0, b"x");
        other_version[0] = 2;
        assert_eq!(decode(&other_version), None);
        assert_eq!(
            Payload::from_bytes(&other_version).err(),
            Some(DecodeError::UnsupportedVersion(2))
        );
    }
}
