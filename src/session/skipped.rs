//! Skipped message keys and old receiving chains (Double Ratchet spec, sections 3.2 and
//! 4.3; docs/PROTOCOL.md, section 6.5).
//!
//! Keys are grouped by the header key of their chain, oldest chain first and, within a
//! chain, in message order, so insertion order is age order and eviction takes from the
//! front. An old chain is kept, even with no keys left, so that replays of its messages
//! are recognised as duplicates; at most `max_old_chains` are kept.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::crypto::secret::{HeaderKey, MessageKey, reserve_wiping, wipe_all, wipe_spare};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SkippedChain {
    pub(crate) header_key: HeaderKey,
    /// `(message number, message key)`, ascending numbers.
    keys: Vec<(u32, MessageKey)>,
}

impl Drop for SkippedChain {
    fn drop(&mut self) {
        wipe_all(&mut self.keys);
    }
}

/// The skipped keys of one session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SkippedKeys {
    chains: Vec<SkippedChain>,
}

impl Drop for SkippedKeys {
    fn drop(&mut self) {
        wipe_all(&mut self.chains);
    }
}

impl SkippedKeys {
    /// Header keys of the chains kept, oldest first.
    pub(crate) fn header_keys(&self) -> impl Iterator<Item = &HeaderKey> {
        self.chains.iter().map(|c| &c.header_key)
    }

    /// Index of the chain with this header key (constant-time comparison).
    pub(crate) fn chain_index(&self, header_key: &HeaderKey) -> Option<usize> {
        self.chains
            .iter()
            .position(|c| bool::from(c.header_key.ct_eq(header_key)))
    }

    /// The key of message `n` of chain `chain`, if kept.
    pub(crate) fn find(&self, chain: usize, n: u32) -> Option<&MessageKey> {
        let keys = &self.chains.get(chain)?.keys;
        let at = keys.binary_search_by_key(&n, |(k, _)| *k).ok()?;
        keys.get(at).map(|(_, key)| key)
    }

    /// Deletes the key of message `n` of chain `chain` after it decrypted.
    pub(crate) fn remove(&mut self, chain: usize, n: u32) {
        if let Some(c) = self.chains.get_mut(chain)
            && let Ok(at) = c.keys.binary_search_by_key(&n, |(k, _)| *k)
        {
            c.keys.remove(at);
            wipe_spare(&mut c.keys);
        }
    }

    /// Adds keys (ascending numbers, above any kept for that chain) under `header_key`.
    /// With `keep_chain`, the chain is kept even when `keys` is empty.
    pub(crate) fn insert(&mut self, header_key: &HeaderKey, keys: Vec<(u32, MessageKey)>, keep_chain: bool) {
        if keys.is_empty() && !keep_chain {
            return;
        }
        match self.chain_index(header_key) {
            Some(i) => {
                if let Some(chain) = self.chains.get_mut(i) {
                    reserve_wiping(&mut chain.keys, keys.len());
                    chain.keys.extend(keys);
                }
            }
            None => {
                reserve_wiping(&mut self.chains, 1);
                self.chains.push(SkippedChain {
                    header_key: header_key.clone(),
                    keys,
                });
            }
        }
    }

    /// Evicts the oldest keys beyond `max_keys`, then the oldest chains beyond
    /// `max_old_chains`, not counting the chain of `current` (the receiving chain).
    pub(crate) fn enforce(&mut self, max_keys: usize, max_old_chains: usize, current: Option<&HeaderKey>) {
        let mut excess = self.len().saturating_sub(max_keys);
        for chain in &mut self.chains {
            if excess == 0 {
                break;
            }
            let take = excess.min(chain.keys.len());
            chain.keys.drain(..take);
            wipe_spare(&mut chain.keys);
            excess -= take;
        }
        let holds_current = match (current, self.chains.last()) {
            (Some(hk), Some(last)) => bool::from(last.header_key.ct_eq(hk)),
            _ => false,
        };
        let old_chains = self.chains.len() - usize::from(holds_current);
        let extra_chains = old_chains.saturating_sub(max_old_chains);
        self.chains.drain(..extra_chains);
        wipe_spare(&mut self.chains);
    }

    /// Number of message keys kept.
    pub(crate) fn len(&self) -> usize {
        self.chains.iter().map(|c| c.keys.len()).sum()
    }

    /// Number of chains kept.
    pub(crate) fn chain_count(&self) -> usize {
        self.chains.len()
    }

    /// True when every chain's numbers ascend strictly (checked on restore).
    pub(crate) fn is_well_formed(&self) -> bool {
        self.chains
            .iter()
            .all(|c| c.keys.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)))
    }
}
