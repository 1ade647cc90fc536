//! The client payload inside every ratchet message (docs/PROTOCOL.md, section 12.2). The
//! first byte is its kind:
//!
//! - `0x01` message: `0x01 || sender address || sent_at (u64, seconds) || body`;
//! - `0x02` sent copy, to the sender's own other devices: `0x02 || sender address ||
//!   sent_at || recipient user (length (1) || user) || body`;
//! - `0x03` provisioning, to a device being linked: `0x03 || sender address || sent_at ||
//!   link secret (16) || the user's signed device list`.
//!
//! The sender's address travels encrypted and authenticated, so a relay that lies about
//! who sent an envelope is caught.

use crate::account::LinkSecret;
use crate::error::DecodeError;
use crate::transport::Address;
use crate::wire::{Codec, Reader};

const KIND_MESSAGE: u8 = 1;
const KIND_SENT_COPY: u8 = 2;
const KIND_PROVISION: u8 = 3;

/// What a payload carries after its sender and time.
#[derive(Debug)]
pub(crate) enum Content<'a> {
    /// A message from the sender to this device's user.
    Message(&'a [u8]),
    /// A copy of a message this user sent (from the sender device) to `to`.
    SentCopy {
        /// The recipient user.
        to: String,
        /// The message.
        body: &'a [u8],
    },
    /// The link secret and device list that complete linking this device.
    Provision {
        /// The secret of this device's link code, as the sender read it.
        secret: LinkSecret,
        /// The encoded device list that now holds this device.
        list: &'a [u8],
    },
}

/// A decoded or to-be-encoded payload; the body borrows from the plaintext.
#[derive(Debug)]
pub(crate) struct Payload<'a> {
    pub(crate) sender: Address,
    pub(crate) sent_at: u64,
    pub(crate) content: Content<'a>,
}

/// Frames a payload in a buffer of exactly its length (the caller wipes it: it holds the
/// plaintext).
pub(crate) fn encode(sender: &Address, sent_at: u64, content: Content<'_>) -> Vec<u8> {
    Payload {
        sender: sender.clone(),
        sent_at,
        content,
    }
    .to_bytes()
}

/// Parses a payload; `None` if it is malformed or of an unknown kind.
pub(crate) fn decode(payload: &[u8]) -> Option<Payload<'_>> {
    Payload::from_bytes(payload).ok()
}

impl<'a> Codec<'a> for Payload<'a> {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        let kind = match &self.content {
            Content::Message(_) => KIND_MESSAGE,
            Content::SentCopy { .. } => KIND_SENT_COPY,
            Content::Provision { .. } => KIND_PROVISION,
        };
        bytes.push(kind);
        Codec::encode(&self.sender, bytes);
        bytes.extend_from_slice(&self.sent_at.to_be_bytes());
        match &self.content {
            Content::Message(body) => bytes.extend_from_slice(body),
            Content::SentCopy { to, body } => {
                // At most MAX_USER_LEN (128): only valid user ids are sent to.
                bytes.push(u8::try_from(to.len()).unwrap_or(u8::MAX));
                bytes.extend_from_slice(to.as_bytes());
                bytes.extend_from_slice(body);
            }
            Content::Provision { secret, list } => {
                bytes.extend_from_slice(secret.expose());
                bytes.extend_from_slice(list);
            }
        }
    }

    fn encoded_len(&self) -> usize {
        1 + self.sender.encoded_len()
            + 8
            + match &self.content {
                Content::Message(body) => body.len(),
                Content::SentCopy { to, body } => 1 + to.len() + body.len(),
                Content::Provision { list, .. } => 16 + list.len(),
            }
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let kind = r.u8()?;
        if !(KIND_MESSAGE..=KIND_PROVISION).contains(&kind) {
            return Err(DecodeError::UnsupportedVersion(kind));
        }
        let sender = Address::read(r)?;
        let sent_at = r.u64()?;
        let content = match kind {
            KIND_MESSAGE => Content::Message(r.rest()),
            KIND_SENT_COPY => Content::SentCopy {
                to: Address::read_user(r)?,
                body: r.rest(),
            },
            _ => Content::Provision {
                secret: LinkSecret::from_bytes(r.array()?),
                list: r.rest(),
            },
        };
        Ok(Self {
            sender,
            sent_at,
            content,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(p: &Payload<'_>) -> Vec<u8> {
        match &p.content {
            Content::Message(b) => b.to_vec(),
            Content::SentCopy { to, body } => [to.as_bytes(), b"|", body].concat(),
            Content::Provision { secret, list } => [&secret.expose()[..], list].concat(),
        }
    }

    #[test]
    fn the_payload_round_trips_in_one_exact_buffer() {
        let sender = Address::new("alice", 3).unwrap();
        for b in [&b""[..], b"hello"] {
            let bytes = encode(&sender, 1_700_000_000, Content::Message(b));
            assert_eq!(bytes.len(), 1 + 10 + 8 + b.len());
            assert_eq!(bytes.capacity(), bytes.len());
            let p = decode(&bytes).unwrap();
            assert_eq!(
                (p.sender.clone(), p.sent_at, body(&p)),
                (sender.clone(), 1_700_000_000, b.to_vec())
            );
            for len in 0..1 + 10 + 8 {
                assert!(decode(&bytes[..len]).is_none(), "{len} bytes");
            }
        }
        let copy = encode(
            &sender,
            5,
            Content::SentCopy {
                to: "bob".into(),
                body: b"hi",
            },
        );
        assert_eq!(copy.len(), copy.capacity());
        assert_eq!(body(&decode(&copy).unwrap()), b"bob|hi");
        let provision = encode(
            &sender,
            5,
            Content::Provision {
                secret: LinkSecret::from_bytes([7; 16]),
                list: b"list",
            },
        );
        assert_eq!(
            body(&decode(&provision).unwrap()),
            [&[7u8; 16][..], b"list"].concat()
        );
        assert!(decode(&provision[..provision.len() - 5 - 16 + 1]).is_none());
        for kind in [0u8, 4, 255] {
            let mut other = encode(&sender, 0, Content::Message(b"x"));
            other[0] = kind;
            assert!(decode(&other).is_none());
            assert_eq!(
                Payload::from_bytes(&other).err(),
                Some(DecodeError::UnsupportedVersion(kind))
            );
        }
    }
}
