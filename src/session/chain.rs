//! Symmetric-key chains (Double Ratchet spec, section 2.2; docs/PROTOCOL.md, section 6.2).

use serde::{Deserialize, Serialize};

use crate::crypto::kdf::kdf_ck;
use crate::crypto::secret::{ChainKey, HeaderKey, MessageKey};

/// A sending or receiving chain: chain key, number of the next message, header key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Chain {
    pub(crate) key: ChainKey,
    pub(crate) n: u32,
    pub(crate) header_key: HeaderKey,
}

/// Keys derived ahead of time while a message is being checked; applied only on success.
pub(crate) struct Advance {
    /// Message keys of the messages skipped over, with their numbers.
    pub(crate) skipped: Vec<(u32, MessageKey)>,
    /// The message key of the target message.
    pub(crate) message_key: MessageKey,
    /// The chain key after the target message.
    pub(crate) next_chain_key: ChainKey,
}

/// Steps a chain at message `from` with key `key` to message `to` (`to >= from`),
/// keeping the keys of the messages in between. The caller bounds `to - from` first.
pub(crate) fn advance(key: &ChainKey, from: u32, to: u32) -> Advance {
    let mut skipped = Vec::with_capacity(to.saturating_sub(from) as usize);
    let (mut message_key, mut next_chain_key) = kdf_ck(key);
    for n in from..to {
        skipped.push((n, message_key));
        (message_key, next_chain_key) = kdf_ck(&next_chain_key);
    }
    Advance {
        skipped,
        message_key,
        next_chain_key,
    }
}

/// The keys of messages `from..to` of a chain (none if `to <= from`), without a target.
pub(crate) fn skip_to(key: &ChainKey, from: u32, to: u32) -> Vec<(u32, MessageKey)> {
    let mut out = Vec::with_capacity(to.saturating_sub(from) as usize);
    let mut chain_key = key.clone();
    for n in from..to {
        let (message_key, next) = kdf_ck(&chain_key);
        out.push((n, message_key));
        chain_key = next;
    }
    out
}
