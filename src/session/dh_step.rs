//! The DH ratchet step with header encryption (Double Ratchet spec, section 4.3,
//! `DHRatchetHE`; docs/PROTOCOL.md, section 6.5), computed apart from the session so the
//! caller can authenticate the message before anything is written:
//!
//! ```text
//! RK, CKr, NHKr = KDF_RK_HE(RK, DH(DHs, DHr))
//! DHs           = GENERATE_DH()
//! RK, CKs, NHKs = KDF_RK_HE(RK, DH(DHs, DHr))
//! ```
//!
//! The header-key shifts (`HKs = NHKs`, `HKr = NHKr`) and the counters (`PN = Ns`,
//! `Ns = Nr = 0`) are applied by the caller when it commits the step.

use rand_core::CryptoRng;

use crate::crypto::kdf::kdf_rk;
use crate::crypto::keys::DhKeyPair;
use crate::crypto::secret::{ChainKey, HeaderKey, RootKey};
use crate::error::Result;

/// Everything one DH ratchet step derives.
pub(super) struct DhStep {
    /// The root key after both halves.
    pub(super) root: RootKey,
    /// The new receiving chain key (CKr).
    pub(super) recv_key: ChainKey,
    /// The next receiving header key (NHKr).
    pub(super) next_recv_header_key: HeaderKey,
    /// The new sending ratchet key pair (DHs).
    pub(super) ratchet: DhKeyPair,
    /// The new sending chain key (CKs).
    pub(super) send_key: ChainKey,
    /// The next sending header key (NHKs).
    pub(super) next_send_header_key: HeaderKey,
}

/// `DHRatchetHE`'s derivations from the root key, our current ratchet key pair and the
/// peer's new ratchet public key. Changes nothing; draws one key pair from `rng`.
pub(super) fn dh_ratchet_he<R: CryptoRng + ?Sized>(
    root: &RootKey,
    ours: &DhKeyPair,
    theirs: &[u8; 32],
    rng: &mut R,
) -> Result<DhStep> {
    let (root, recv_key, next_recv_header_key) = kdf_rk(root, &ours.dh(theirs)?);
    let ratchet = DhKeyPair::generate(rng);
    let (root, send_key, next_send_header_key) = kdf_rk(&root, &ratchet.dh(theirs)?);
    Ok(DhStep {
        root,
        recv_key,
        next_recv_header_key,
        ratchet,
        send_key,
        next_send_header_key,
    })
}
