//! The client payload inside every ratchet message (docs/PROTOCOL.md, section 12.2):
//! `version (1) || sender address || sent_at (u64, seconds) || body`.
//!
//! The sender's address travels encrypted and authenticated, so a relay that lies about
//! who sent an envelope is caught.

use crate::transport::Address;

const PAYLOAD_VERSION: u8 = 1;

/// Frames a message body with its sender and time.
pub(crate) fn encode(sender: &Address, sent_at: u64, body: &[u8]) -> Vec<u8> {
    let address = sender.encode();
    let mut out = Vec::with_capacity(1 + address.len() + 8 + body.len());
    out.push(PAYLOAD_VERSION);
    out.extend_from_slice(&address);
    out.extend_from_slice(&sent_at.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Parses a payload; `None` if it is malformed or of another version.
pub(crate) fn decode(payload: &[u8]) -> Option<(Address, u64, &[u8])> {
    let (&version, rest) = payload.split_first()?;
    if version != PAYLOAD_VERSION {
        return None;
    }
    let (sender, rest) = Address::decode_prefix(rest)?;
    let sent_at = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    Some((sender, sent_at, rest.get(8..)?))
}
