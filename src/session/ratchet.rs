//! A Double Ratchet session with header encryption: state, initialisation and sending
//! (Double Ratchet spec, section 4; docs/PROTOCOL.md, sections 6.1 to 6.4).
//!
//! Receiving is in `receive.rs`; this file holds the state both directions share: in
//! memory a [`Ratchet`] with its [`Phase`], stored as a `SessionState` (section 9), whose
//! layout is unchanged.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::chain::Chain;
use super::phase::Phase;
use super::skipped::SkippedKeys;
use crate::crypto::aead;
use crate::crypto::kdf::{kdf_ck, kdf_rk, ratchet_init};
use crate::crypto::kem::KEM_CIPHERTEXT_LEN;
use crate::crypto::keys::{DhKeyPair, IdentityKey, IdentityKeyPair};
use crate::crypto::secret::{HandshakeSecret, HeaderKey, RootKey};
use crate::error::{Error, Result, StateError};
use crate::error::{InternalError, MisuseError};
use crate::handshake::PrekeyBundle;
use crate::handshake::pqxdh;
use crate::limits::Limits;
use crate::state;
use crate::wire::{
    CLASSICAL_PREFIX_LEN, Codec, Envelope, Header, INITIAL_PREFIX_LEN, InitialPrefix, SEALED_HEADER_LEN,
    SEALED_IDENTITY_LEN, pad_into, padded_len, write_initial_prefix,
};

/// One end of a session with one peer device. Sans-IO: bytes in, bytes out; the caller
/// passes randomness in and persists the state with [`Session::to_bytes`] after each call.
///
/// Not `Clone`: two live copies of one ratchet would encrypt different messages under the
/// same message keys. A copy exists only as serialized state, restored on purpose.
///
/// ```compile_fail
/// fn copyable<T: Clone>() {}
/// copyable::<hemlis::Session>();
/// ```
///
/// ```compile_fail
/// fn copyable<T: Clone>() {}
/// copyable::<hemlis::PeerSessions>();
/// ```
#[derive(Debug)]
pub struct Session {
    pub(super) state: Ratchet,
    pub(super) limits: Limits,
}

/// A session's state in memory: the ratchet keys and counters, and the [`Phase`], which
/// holds the chains and the handshake fields in the combinations that can occur.
#[derive(Debug)]
pub(super) struct Ratchet {
    pub(super) local_identity: IdentityKey,
    pub(super) remote_identity: IdentityKey,
    /// The handshake included the ML-KEM-768 shared secret (PQXDH).
    pub(super) post_quantum: bool,
    /// Our current ratchet key pair (DHs).
    pub(super) ratchet: DhKeyPair,
    pub(super) root: RootKey,
    pub(super) next_send_header_key: HeaderKey,
    pub(super) next_recv_header_key: HeaderKey,
    /// Length of our previous sending chain (PN).
    pub(super) previous_send_len: u32,
    pub(super) skipped: SkippedKeys,
    pub(super) phase: Phase,
}

/// The handshake fields an initiator repeats on every message until the peer answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Pending {
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    /// KEM prekey id and ciphertext (1,088 bytes), for a post-quantum session.
    kem: Option<(u32, Vec<u8>)>,
    pub(super) base_key: [u8; 32],
    sealed_identity: Vec<u8>,
}

/// A session's state as stored (docs/PROTOCOL.md, section 9): its fields in this order.
/// Restoring turns it into a [`Ratchet`] and refuses a combination no session reaches.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SessionState {
    pub(super) local_identity: IdentityKey,
    pub(super) remote_identity: IdentityKey,
    pub(super) initiator: bool,
    /// The handshake included the ML-KEM-768 shared secret (PQXDH).
    pub(super) post_quantum: bool,
    /// Our current ratchet key pair (DHs).
    pub(super) ratchet: DhKeyPair,
    pub(super) root: RootKey,
    /// Sending chain (CKs, Ns, HKs); `None` only inside a responder's first decryption.
    pub(super) send: Option<Chain>,
    pub(super) next_send_header_key: HeaderKey,
    /// Receiving chain (CKr, Nr, HKr); `None` until the peer's first message.
    pub(super) recv: Option<Chain>,
    pub(super) next_recv_header_key: HeaderKey,
    /// Length of our previous sending chain (PN).
    pub(super) previous_send_len: u32,
    pub(super) skipped: SkippedKeys,
    /// Initiator only: the X3DH fields, until the first message from the peer decrypts.
    pub(super) pending: Option<Pending>,
    /// The peer has shown it received our messages in this session.
    pub(super) confirmed: bool,
}

impl Session {
    /// Starts a post-quantum session (PQXDH) as the initiator from a verified prekey bundle.
    /// A bundle without a KEM prekey is refused with
    /// [`HandshakeError::ClassicalRefused`](crate::HandshakeError::ClassicalRefused).
    ///
    /// Randomness drawn, in order: EK_A (32 bytes), the ML-KEM message (32), the sealed
    /// identity's nonce (24), the first ratchet key (32).
    pub fn initiate<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        bundle: &PrekeyBundle,
        limits: Limits,
        rng: &mut R,
    ) -> Result<Self> {
        Self::initiate_with(identity, bundle, false, limits, rng)
    }

    /// Like [`Session::initiate`], but runs classical X3DH if the bundle has no KEM prekey.
    /// Only for a peer the app has explicitly marked as unable to do post-quantum.
    pub fn initiate_allowing_classical<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        bundle: &PrekeyBundle,
        limits: Limits,
        rng: &mut R,
    ) -> Result<Self> {
        Self::initiate_with(identity, bundle, true, limits, rng)
    }

    pub(crate) fn initiate_with<R: CryptoRng + ?Sized>(
        identity: &IdentityKeyPair,
        bundle: &PrekeyBundle,
        allow_classical: bool,
        limits: Limits,
        rng: &mut R,
    ) -> Result<Self> {
        let (sk, prefix) = pqxdh::initiate(identity, bundle, allow_classical, rng)?;
        let (root, header_key_a, next_header_key_b) = ratchet_init(&sk);
        let ratchet = DhKeyPair::generate(rng);
        let (root, send_key, next_send_header_key) = kdf_rk(&root, &ratchet.dh(&bundle.signed_prekey().key)?);
        Ok(Self {
            state: Ratchet {
                local_identity: identity.public().clone(),
                remote_identity: bundle.identity().clone(),
                post_quantum: prefix.kem.is_some(),
                ratchet,
                root,
                next_send_header_key,
                next_recv_header_key: next_header_key_b,
                previous_send_len: 0,
                skipped: SkippedKeys::default(),
                phase: Phase::Initiating {
                    send: Chain {
                        key: send_key,
                        n: 0,
                        header_key: header_key_a,
                    },
                    pending: Pending {
                        signed_prekey_id: prefix.signed_prekey_id,
                        one_time_prekey_id: prefix.one_time_prekey_id,
                        kem: prefix.kem.as_ref().map(|(id, ct)| (*id, ct.to_vec())),
                        base_key: prefix.base_key,
                        sealed_identity: prefix.sealed_identity.to_vec(),
                    },
                },
            },
            limits,
        })
    }

    /// The responder's state before its first decryption (Double Ratchet spec,
    /// RatchetInitBobHE): the signed prekey is the first ratchet key.
    pub(crate) fn responder(
        sk: &HandshakeSecret,
        local_identity: IdentityKey,
        remote_identity: IdentityKey,
        signed_prekey: DhKeyPair,
        post_quantum: bool,
        limits: Limits,
    ) -> Self {
        let (root, header_key_a, next_header_key_b) = ratchet_init(sk);
        Self {
            state: Ratchet {
                local_identity,
                remote_identity,
                post_quantum,
                ratchet: signed_prekey,
                root,
                next_send_header_key: next_header_key_b,
                next_recv_header_key: header_key_a,
                previous_send_len: 0,
                skipped: SkippedKeys::default(),
                phase: Phase::Answering,
            },
            limits,
        }
    }

    /// The peer device's identity key.
    pub fn remote_identity(&self) -> &IdentityKey {
        &self.state.remote_identity
    }

    /// This device's identity key.
    pub fn local_identity(&self) -> &IdentityKey {
        &self.state.local_identity
    }

    /// True if this device started the session.
    pub fn is_initiator(&self) -> bool {
        self.state.phase.is_initiator()
    }

    /// True if the session was established with PQXDH (X25519 and ML-KEM-768), false if
    /// with classical X3DH.
    pub fn is_post_quantum(&self) -> bool {
        self.state.post_quantum
    }

    /// True once the peer has shown it received this device's messages in this session.
    pub fn is_confirmed(&self) -> bool {
        self.state.phase.is_confirmed()
    }

    /// The initiator's base key (EK_A) while its messages still carry the X3DH fields.
    pub fn pending_base_key(&self) -> Option<&[u8; 32]> {
        self.state.phase.pending().map(|p| &p.base_key)
    }

    /// Number of skipped message keys held.
    pub fn skipped_key_count(&self) -> usize {
        self.state.skipped.len()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The associated data of every body: initiator identity || responder identity.
    pub(super) fn associated_data(&self) -> [u8; 64] {
        let (a, b) = if self.state.phase.is_initiator() {
            (&self.state.local_identity, &self.state.remote_identity)
        } else {
            (&self.state.remote_identity, &self.state.local_identity)
        };
        let mut ad = [0u8; 64];
        ad[..32].copy_from_slice(a.as_bytes());
        ad[32..].copy_from_slice(b.as_bytes());
        ad
    }

    /// Encrypts `plaintext` into an envelope (initial while the peer has not answered).
    ///
    /// Randomness drawn: one 48-byte draw, the header nonce (24 bytes) then the body nonce
    /// (24).
    pub fn encrypt<R: CryptoRng + ?Sized>(&mut self, plaintext: &[u8], rng: &mut R) -> Result<Vec<u8>> {
        if plaintext.len() > self.limits.max_plaintext_len {
            return Err(Error::Misuse(MisuseError::PlaintextTooLong));
        }
        let ad = self.associated_data();
        let state = &mut self.state;
        let (send, pending) = state
            .phase
            .sending()
            .ok_or(Error::Misuse(MisuseError::NoSession))?;
        let next_n = send
            .n
            .checked_add(1)
            .ok_or(Error::State(StateError::ChainExhausted))?;
        let (message_key, next_chain_key) = kdf_ck(&send.key);
        let header = Header {
            ratchet_key: *state.ratchet.public(),
            previous_chain_len: state.previous_send_len,
            n: send.n,
        };
        let mut nonces = [0u8; 2 * aead::NONCE_LEN];
        rng.fill_bytes(&mut nonces);
        let (header_nonce, body_nonce) = nonces.split_at(aead::NONCE_LEN);
        let padded_len = padded_len(plaintext.len());
        // The exact capacity: the plaintext is padded and encrypted in place, never copied
        // into a buffer that a reallocation would leave behind unwiped.
        let mut out =
            Vec::with_capacity(INITIAL_PREFIX_LEN + SEALED_HEADER_LEN + padded_len + aead::OVERHEAD);
        let prefix = pending.map(Pending::to_prefix).transpose()?;
        write_initial_prefix(&mut out, prefix.as_ref());
        // The body's AD: the session AD, the prefix and the sealed header (section 6.4); the
        // header's AD is the prefix.
        let mut body_ad = Vec::with_capacity(ad.len() + out.len() + SEALED_HEADER_LEN);
        body_ad.extend_from_slice(&ad);
        body_ad.extend_from_slice(&out);
        let header_start = out.len();
        out.extend_from_slice(header_nonce);
        // Into the envelope, sized up front: the header plaintext is never copied elsewhere.
        header.encode(&mut out);
        aead::seal_tail(
            &mut out,
            header_start,
            &send.header_key,
            body_ad.get(ad.len()..).unwrap_or_default(),
        )
        .map_err(|_| InternalError::Seal)?;
        body_ad.extend_from_slice(out.get(header_start..).unwrap_or_default());
        let body_start = out.len();
        out.extend_from_slice(body_nonce);
        pad_into(&mut out, plaintext);
        aead::seal_tail(&mut out, body_start, &message_key, &body_ad).map_err(|_| InternalError::Seal)?;
        send.key = next_chain_key;
        send.n = next_n;
        Ok(out)
    }

    /// Decrypts an envelope of this session. On any error the state is unchanged.
    pub fn decrypt<R: CryptoRng + ?Sized>(&mut self, envelope: &[u8], rng: &mut R) -> Result<Vec<u8>> {
        let envelope = Envelope::parse(envelope, self.limits.max_padded_len())?;
        self.decrypt_parsed(&envelope, rng)
    }

    /// Size of the envelope that `encrypt` produces now for a plaintext of `len` bytes.
    pub fn envelope_len(&self, len: usize) -> usize {
        let prefix = match self.state.phase.pending() {
            Some(p) if p.kem.is_some() => INITIAL_PREFIX_LEN,
            Some(_) => CLASSICAL_PREFIX_LEN,
            None => 2,
        };
        prefix + SEALED_HEADER_LEN + padded_len(len) + aead::OVERHEAD
    }

    /// Serializes the session (versioned; docs/PROTOCOL.md, section 9).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        state::encode(state::KIND_SESSION, &self.to_state())
    }

    /// Restores a session written by [`Session::to_bytes`], checking it against `limits`.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Self> {
        let state: SessionState = state::decode(state::KIND_SESSION, bytes)?;
        Self::from_state(state, limits)
    }

    /// The stored form of the state: copies of its keys, zeroized when dropped.
    pub(super) fn to_state(&self) -> SessionState {
        let state = &self.state;
        SessionState {
            local_identity: state.local_identity.clone(),
            remote_identity: state.remote_identity.clone(),
            initiator: state.phase.is_initiator(),
            post_quantum: state.post_quantum,
            ratchet: state.ratchet.clone(),
            root: state.root.clone(),
            send: state.phase.send().cloned(),
            next_send_header_key: state.next_send_header_key.clone(),
            recv: state.phase.recv().cloned(),
            next_recv_header_key: state.next_recv_header_key.clone(),
            previous_send_len: state.previous_send_len,
            skipped: state.skipped.clone(),
            pending: state.phase.pending().cloned(),
            confirmed: state.phase.is_confirmed(),
        }
    }

    /// Restores a stored state: its limits, then its phase. A combination that no session
    /// reaches (no sending chain; handshake fields on a responder's, an answered or a
    /// confirmed session, or of the wrong size; an answered initiator not confirmed; a
    /// responder without a receiving chain) is `Malformed`.
    pub(super) fn from_state(state: SessionState, limits: Limits) -> Result<Self> {
        if state.skipped.len() > limits.max_skipped_keys
            || state.skipped.chain_count() > limits.max_old_chains + 1
        {
            return Err(StateError::ExceedsLimits.into());
        }
        if !state.skipped.is_well_formed() {
            return Err(StateError::Malformed.into());
        }
        let SessionState {
            local_identity,
            remote_identity,
            initiator,
            post_quantum,
            ratchet,
            root,
            send,
            next_send_header_key,
            recv,
            next_recv_header_key,
            previous_send_len,
            skipped,
            pending,
            confirmed,
        } = state;
        let phase = match (initiator, send, recv, pending, confirmed) {
            (true, Some(send), None, Some(pending), false) if pending.is_well_formed(post_quantum) => {
                Phase::Initiating { send, pending }
            }
            (false, Some(send), Some(recv), None, false) => Phase::Responding { send, recv },
            (initiator, Some(send), Some(recv), None, true) => Phase::Confirmed {
                initiator,
                send,
                recv,
            },
            _ => return Err(StateError::Malformed.into()),
        };
        Ok(Self {
            state: Ratchet {
                local_identity,
                remote_identity,
                post_quantum,
                ratchet,
                root,
                next_send_header_key,
                next_recv_header_key,
                previous_send_len,
                skipped,
                phase,
            },
            limits,
        })
    }
}

impl Pending {
    /// The sealed identity and the KEM ciphertext have their sizes, and the KEM fields are
    /// present exactly for a post-quantum session.
    fn is_well_formed(&self, post_quantum: bool) -> bool {
        self.sealed_identity.len() == SEALED_IDENTITY_LEN
            && self.kem.is_some() == post_quantum
            && self
                .kem
                .as_ref()
                .is_none_or(|(_, ct)| ct.len() == KEM_CIPHERTEXT_LEN)
    }

    fn to_prefix(&self) -> Result<InitialPrefix> {
        Ok(InitialPrefix {
            signed_prekey_id: self.signed_prekey_id,
            one_time_prekey_id: self.one_time_prekey_id,
            kem: match &self.kem {
                Some((id, ct)) => {
                    let ct: [u8; KEM_CIPHERTEXT_LEN] =
                        ct.as_slice().try_into().map_err(|_| StateError::Malformed)?;
                    Some((*id, Box::new(ct)))
                }
                None => None,
            },
            base_key: self.base_key,
            sealed_identity: self
                .sealed_identity
                .as_slice()
                .try_into()
                .map_err(|_| StateError::Malformed)?,
        })
    }
}
