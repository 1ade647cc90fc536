//! Sessions per peer device, after Sesame (docs/PROTOCOL.md, section 7.3): one active
//! session and a bounded list of previous ones.
//!
//! - Sending uses the active session.
//! - A message is tried against every session; one that decrypts under a previous session
//!   promotes it, once the peer has shown it holds that session (`Session::is_confirmed`).
//!   Messages the peer sent before it knew of our answer never promote.
//! - A new initial message becomes the active session, except during simultaneous
//!   initiation: when our active session is our own unanswered initiation, the session
//!   with the smaller base key (EK_A) stays or becomes active. Both sides compare the same
//!   two keys, so they converge on one session without an extra round trip.

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::ratchet::{Session, SessionState};
use super::respond::{Accepted, prepare_initial};
use crate::crypto::keys::{IdentityKey, IdentityKeyPair};
use crate::crypto::secret::{reserve_wiping, wipe_all, wipe_spare};
use crate::error::{DecryptError, HandshakeError, MisuseError};
use crate::error::{Error, Result, StateError};
use crate::handshake::{Account, AccountChange, PrekeyBundle};
use crate::limits::Limits;
use crate::state;
use crate::wire::Envelope;

/// The sessions with one peer device.
///
/// Not `Clone`, as [`Session`] is not: a copy exists only as serialized state
/// ([`PeerSessions::to_bytes`]).
#[derive(Debug)]
pub struct PeerSessions {
    remote_identity: Option<IdentityKey>,
    allow_classical: bool,
    active: Option<Session>,
    previous: Vec<Session>,
    limits: Limits,
}

impl Drop for PeerSessions {
    fn drop(&mut self) {
        wipe_all(&mut self.previous);
    }
}

impl Drop for PeerState {
    fn drop(&mut self) {
        wipe_all(&mut self.sessions);
    }
}

/// A message decrypted with its account change staged (see
/// [`PeerSessions::decrypt_staged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Staged {
    /// The message.
    pub decrypted: Decrypted,
    /// What the account must apply once the sessions are stored: `Some` for a message that
    /// started a new session.
    pub account_change: Option<AccountChange>,
}

/// A decrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The sender device's identity key.
    pub sender: IdentityKey,
    /// True if this message started a new session.
    pub new_session: bool,
}

#[derive(Serialize, Deserialize)]
struct PeerState {
    remote_identity: Option<IdentityKey>,
    allow_classical: bool,
    sessions: Vec<SessionState>,
}

impl PeerSessions {
    /// No sessions yet.
    pub fn new(limits: Limits) -> Self {
        Self {
            remote_identity: None,
            allow_classical: false,
            active: None,
            previous: Vec::new(),
            limits,
        }
    }

    /// Marks this peer device as allowed to use classical X3DH (no ML-KEM): its bundles
    /// without a KEM prekey are accepted and so are its classical initial messages. Off by
    /// default, so that a relay cannot strip the KEM prekey and downgrade a session.
    pub fn set_allow_classical(&mut self, allow: bool) {
        self.allow_classical = allow;
    }

    /// True if this peer device is allowed classical X3DH.
    pub fn allows_classical(&self) -> bool {
        self.allow_classical
    }

    /// The peer device's identity, once a session exists.
    pub fn remote_identity(&self) -> Option<&IdentityKey> {
        self.remote_identity.as_ref()
    }

    /// The session used for sending.
    pub fn active(&self) -> Option<&Session> {
        self.active.as_ref()
    }

    /// Number of previous sessions kept.
    pub fn previous_len(&self) -> usize {
        self.previous.len()
    }

    fn check_identity(&self, identity: &IdentityKey) -> Result<()> {
        match &self.remote_identity {
            Some(known) if known != identity => Err(Error::Handshake(HandshakeError::IdentityMismatch)),
            _ => Ok(()),
        }
    }

    /// Starts a new session from `bundle` and makes it active.
    pub fn initiate<R: CryptoRng + ?Sized>(
        &mut self,
        identity: &IdentityKeyPair,
        bundle: &PrekeyBundle,
        rng: &mut R,
    ) -> Result<()> {
        self.check_identity(bundle.identity())?;
        let session = Session::initiate_with(identity, bundle, self.allow_classical, self.limits, rng)?;
        self.remote_identity = Some(bundle.identity().clone());
        if let Some(old) = self.active.replace(session) {
            self.push_previous(old);
        }
        Ok(())
    }

    fn push_previous(&mut self, session: Session) {
        reserve_wiping(&mut self.previous, 1);
        self.previous.insert(0, session);
        self.previous.truncate(self.limits.max_previous_sessions);
        wipe_spare(&mut self.previous);
    }

    /// Encrypts with the active session.
    pub fn encrypt<R: CryptoRng + ?Sized>(&mut self, plaintext: &[u8], rng: &mut R) -> Result<Vec<u8>> {
        self.active
            .as_mut()
            .ok_or(Error::Misuse(MisuseError::NoSession))?
            .encrypt(plaintext, rng)
    }

    /// Decrypts an envelope from this peer device. An initial envelope that no existing
    /// session recognises is answered through `account`. On error nothing changes, in
    /// these sessions or in the account.
    pub fn decrypt<R: CryptoRng + ?Sized>(
        &mut self,
        account: &mut Account,
        envelope: &[u8],
        rng: &mut R,
    ) -> Result<Decrypted> {
        let staged = self.decrypt_staged(account, envelope, rng)?;
        if let Some(change) = &staged.account_change {
            account.apply(change);
        }
        Ok(staged.decrypted)
    }

    /// Decrypts as [`PeerSessions::decrypt`] does, but stages the account's part (the
    /// "stage, then commit" pattern of docs/ARCHITECTURE.md, section 4): these sessions
    /// advance, `account` does not change. The caller stores the sessions and
    /// [`Account::to_bytes_with`] the staged change in one commit, then applies the change
    /// with [`Account::apply`]; if it refuses the message instead, it drops both. On error
    /// nothing changes.
    pub fn decrypt_staged<R: CryptoRng + ?Sized>(
        &mut self,
        account: &Account,
        envelope: &[u8],
        rng: &mut R,
    ) -> Result<Staged> {
        let envelope = Envelope::parse(envelope, self.limits.max_padded_len())?;
        let offset = usize::from(self.active.is_some());
        for index in 0..offset + self.previous.len() {
            let session = if index < offset {
                self.active.as_mut()
            } else {
                self.previous.get_mut(index - offset)
            };
            let Some(session) = session else { break };
            match session.decrypt_parsed(&envelope, rng) {
                Err(Error::Decrypt(DecryptError::UnknownSession)) => continue,
                Err(e) => return Err(e),
                Ok(plaintext) => {
                    let sender = session.remote_identity().clone();
                    if index >= offset && session.is_confirmed() {
                        self.promote(index - offset);
                    }
                    return Ok(Staged {
                        decrypted: Decrypted {
                            plaintext,
                            sender,
                            new_session: false,
                        },
                        account_change: None,
                    });
                }
            }
        }
        if envelope.initial().is_none() {
            return Err(Error::Decrypt(DecryptError::UnknownSession));
        }
        let accepted = prepare_initial(account, &envelope, self.allow_classical, self.limits, rng)?;
        self.check_identity(accepted.session.remote_identity())?;
        let Accepted {
            session,
            plaintext,
            change,
        } = accepted;
        let sender = session.remote_identity().clone();
        self.remote_identity = Some(sender.clone());
        self.install_inbound(session, change.base_key());
        Ok(Staged {
            decrypted: Decrypted {
                plaintext,
                sender,
                new_session: true,
            },
            account_change: Some(change),
        })
    }

    fn promote(&mut self, previous_index: usize) {
        if previous_index < self.previous.len() {
            let session = self.previous.remove(previous_index);
            wipe_spare(&mut self.previous);
            if let Some(old) = self.active.replace(session) {
                self.push_previous(old);
            }
        }
    }

    fn install_inbound(&mut self, session: Session, their_base_key: &[u8; 32]) {
        let Some(active) = self.active.take() else {
            self.active = Some(session);
            return;
        };
        // Simultaneous initiation: our own unanswered session against theirs.
        let keep_ours = active
            .pending_base_key()
            .is_some_and(|ours| ours < their_base_key);
        if keep_ours {
            self.active = Some(active);
            self.push_previous(session);
        } else {
            self.active = Some(session);
            self.push_previous(active);
        }
    }

    /// Serializes all sessions (versioned; docs/PROTOCOL.md, section 9).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let sessions: Vec<SessionState> = self
            .active
            .iter()
            .chain(&self.previous)
            .map(Session::to_state)
            .collect();
        let has_active = self.active.is_some();
        state::encode(
            state::KIND_PEER_SESSIONS,
            &(
                has_active,
                PeerState {
                    remote_identity: self.remote_identity.clone(),
                    allow_classical: self.allow_classical,
                    sessions,
                },
            ),
        )
    }

    /// Restores sessions written by [`PeerSessions::to_bytes`], checking them against `limits`.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Self> {
        let (has_active, peer): (bool, PeerState) = state::decode(state::KIND_PEER_SESSIONS, bytes)?;
        if peer.sessions.len() > limits.max_previous_sessions + 1 {
            return Err(StateError::ExceedsLimits.into());
        }
        // Cloned, not moved out: moving would leave bitwise copies of every secret in the
        // decoded vector's block when it is freed; dropped in place, they are zeroized.
        let mut sessions = peer
            .sessions
            .iter()
            .map(|s| Session::from_state(s.clone(), limits))
            .collect::<Result<Vec<_>>>()?;
        let identity_consistent = sessions
            .iter()
            .all(|s| peer.remote_identity.as_ref() == Some(s.remote_identity()));
        if !identity_consistent || (has_active && sessions.is_empty()) {
            return Err(StateError::Malformed.into());
        }
        let active = if has_active {
            let first = sessions.remove(0);
            wipe_spare(&mut sessions);
            Some(first)
        } else {
            None
        };
        Ok(Self {
            remote_identity: peer.remote_identity.clone(),
            allow_classical: peer.allow_classical,
            active,
            previous: sessions,
            limits,
        })
    }
}
