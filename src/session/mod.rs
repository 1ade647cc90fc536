//! The Double Ratchet with header encryption (docs/PROTOCOL.md, section 6) and the
//! sessions kept per peer device (section 7.3).

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod chain;
mod dh_step;
mod peer;
mod phase;
mod ratchet;
mod receive;
mod respond;
mod skipped;

pub use peer::{Decrypted, PeerSessions, Staged};
pub use ratchet::Session;
