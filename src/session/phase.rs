//! The phase of a session (docs/PROTOCOL.md, sections 3.2, 6.5 and 7.3): which chains it
//! holds, whether its messages still carry the X3DH fields, and whether the peer has shown
//! it holds the session. One enum, so that no impossible combination (an answered session
//! that still sends the X3DH fields, a responder with pending fields, a session without a
//! sending chain) can be represented in memory.
//!
//! ```text
//! initiator:  Initiating --first reply--> Confirmed
//! responder:  Answering --first message--> Responding --next DH step--> Confirmed
//! ```

use super::chain::Chain;
use super::ratchet::Pending;

/// Where a session stands.
#[derive(Debug)]
pub(super) enum Phase {
    /// A responder inside the decryption of the initial message (RatchetInitBobHE): no
    /// chain yet. Never stored: the session exists for the caller only once that message
    /// decrypted.
    Answering,
    /// An initiator whose peer has not answered: a sending chain, and the X3DH fields its
    /// messages repeat.
    Initiating {
        /// The sending chain (CKs, Ns, HKs).
        send: Chain,
        /// The X3DH fields.
        pending: Pending,
    },
    /// A responder after the initial message: both chains, but the peer has not yet shown
    /// it received this device's messages.
    Responding {
        /// The sending chain (CKs, Ns, HKs).
        send: Chain,
        /// The receiving chain (CKr, Nr, HKr).
        recv: Chain,
    },
    /// Both chains, and the peer has shown it received this device's messages.
    Confirmed {
        /// This device started the session.
        initiator: bool,
        /// The sending chain (CKs, Ns, HKs).
        send: Chain,
        /// The receiving chain (CKr, Nr, HKr).
        recv: Chain,
    },
}

impl Phase {
    /// True if this device started the session.
    pub(super) fn is_initiator(&self) -> bool {
        match self {
            Self::Initiating { .. } => true,
            Self::Answering | Self::Responding { .. } => false,
            Self::Confirmed { initiator, .. } => *initiator,
        }
    }

    /// True once the peer has shown it received this device's messages.
    pub(super) fn is_confirmed(&self) -> bool {
        matches!(self, Self::Confirmed { .. })
    }

    /// The X3DH fields, while the messages carry them.
    pub(super) fn pending(&self) -> Option<&Pending> {
        match self {
            Self::Initiating { pending, .. } => Some(pending),
            _ => None,
        }
    }

    /// The sending chain, if any.
    pub(super) fn send(&self) -> Option<&Chain> {
        match self {
            Self::Answering => None,
            Self::Initiating { send, .. } | Self::Responding { send, .. } | Self::Confirmed { send, .. } => {
                Some(send)
            }
        }
    }

    /// The sending chain to step, with the X3DH fields to repeat.
    pub(super) fn sending(&mut self) -> Option<(&mut Chain, Option<&Pending>)> {
        match self {
            Self::Answering => None,
            Self::Initiating { send, pending } => Some((send, Some(pending))),
            Self::Responding { send, .. } | Self::Confirmed { send, .. } => Some((send, None)),
        }
    }

    /// The receiving chain, if any.
    pub(super) fn recv(&self) -> Option<&Chain> {
        match self {
            Self::Answering | Self::Initiating { .. } => None,
            Self::Responding { recv, .. } | Self::Confirmed { recv, .. } => Some(recv),
        }
    }

    /// The receiving chain to step, if any.
    pub(super) fn recv_mut(&mut self) -> Option<&mut Chain> {
        match self {
            Self::Answering | Self::Initiating { .. } => None,
            Self::Responding { recv, .. } | Self::Confirmed { recv, .. } => Some(recv),
        }
    }

    /// The phase after a DH ratchet step with the new chains: the initiator's first reply
    /// confirms its session; a responder's session is confirmed by the step after the
    /// initial message, which shows the peer received the responder's answer.
    pub(super) fn after_dh_step(&self, send: Chain, recv: Chain) -> Self {
        match self {
            Self::Answering => Self::Responding { send, recv },
            Self::Initiating { .. } => Self::Confirmed {
                initiator: true,
                send,
                recv,
            },
            Self::Responding { .. } => Self::Confirmed {
                initiator: false,
                send,
                recv,
            },
            Self::Confirmed { initiator, .. } => Self::Confirmed {
                initiator: *initiator,
                send,
                recv,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::super::ratchet::{Session, SessionState};
    use crate::error::{Error, StateError};
    use crate::handshake::Account;
    use crate::limits::Limits;
    use crate::wire::Envelope;

    fn restore(state: SessionState) -> Result<Session, Error> {
        Session::from_state(state, Limits::default())
    }

    fn assert_round_trip(session: &Session) {
        let bytes = session.to_bytes().unwrap();
        let restored = Session::from_bytes(&bytes, Limits::default()).unwrap();
        assert_eq!(*restored.to_bytes().unwrap(), *bytes);
        assert_eq!(restored.is_initiator(), session.is_initiator());
        assert_eq!(restored.is_confirmed(), session.is_confirmed());
        assert_eq!(restored.pending_base_key(), session.pending_base_key());
    }

    /// Each phase a session goes through, and what its accessors and stored form say.
    #[test]
    fn phases_of_both_ends() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let alice = Account::new(&mut rng, 0);
        let mut bob = Account::new(&mut rng, 0);
        let bundle = bob.prekey_bundle(None, None).unwrap();
        let mut a = Session::initiate(alice.identity(), &bundle, Limits::default(), &mut rng).unwrap();
        assert!(matches!(a.state.phase, super::Phase::Initiating { .. }));
        assert!(a.is_initiator() && !a.is_confirmed() && a.pending_base_key().is_some());
        assert_round_trip(&a);

        let first = a.encrypt(b"hello", &mut rng).unwrap();
        let (mut b, _) = bob
            .accept_initial(&Envelope::parse(&first, usize::MAX).unwrap(), &mut rng)
            .unwrap();
        assert!(matches!(b.state.phase, super::Phase::Responding { .. }));
        assert!(!b.is_initiator() && !b.is_confirmed() && b.pending_base_key().is_none());
        assert_round_trip(&b);

        let reply = b.encrypt(b"hi", &mut rng).unwrap();
        a.decrypt(&reply, &mut rng).unwrap();
        assert!(matches!(
            a.state.phase,
            super::Phase::Confirmed { initiator: true, .. }
        ));
        assert!(a.is_initiator() && a.is_confirmed() && a.pending_base_key().is_none());
        assert_round_trip(&a);

        let again = a.encrypt(b"again", &mut rng).unwrap();
        b.decrypt(&again, &mut rng).unwrap();
        assert!(matches!(
            b.state.phase,
            super::Phase::Confirmed { initiator: false, .. }
        ));
        assert!(!b.is_initiator() && b.is_confirmed());
        assert_round_trip(&b);
    }

    /// A stored state in a combination no session reaches does not restore.
    #[test]
    fn impossible_combinations_are_malformed() {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let alice = Account::new(&mut rng, 0);
        let mut bob = Account::new(&mut rng, 0);
        let bundle = bob.prekey_bundle(None, None).unwrap();
        let mut a = Session::initiate(alice.identity(), &bundle, Limits::default(), &mut rng).unwrap();
        let first = a.encrypt(b"hello", &mut rng).unwrap();
        let (b, _) = bob
            .accept_initial(&Envelope::parse(&first, usize::MAX).unwrap(), &mut rng)
            .unwrap();
        let initiating = a.to_state();
        let responding = b.to_state();
        let malformed = Err(Error::State(StateError::Malformed));

        let mut s = initiating.clone();
        s.recv = s.send.clone();
        assert_eq!(restore(s).map(drop), malformed, "pending with a receiving chain");
        let mut s = initiating.clone();
        s.confirmed = true;
        assert_eq!(restore(s).map(drop), malformed, "pending and confirmed");
        let mut s = initiating.clone();
        s.initiator = false;
        assert_eq!(restore(s).map(drop), malformed, "a responder with pending fields");
        let mut s = initiating.clone();
        s.pending = None;
        assert_eq!(
            restore(s).map(drop),
            malformed,
            "an initiator answered without a reply"
        );
        let mut s = initiating;
        s.send = None;
        assert_eq!(restore(s).map(drop), malformed, "no sending chain");

        let mut s = responding.clone();
        s.recv = None;
        assert_eq!(
            restore(s).map(drop),
            malformed,
            "a responder without a receiving chain"
        );
        let mut s = responding.clone();
        s.initiator = true;
        assert_eq!(
            restore(s).map(drop),
            malformed,
            "an answered initiator not confirmed"
        );
        let mut s = responding.clone();
        s.pending = a.to_state().pending;
        assert_eq!(restore(s).map(drop), malformed, "a responder with pending fields");
        let mut s = responding.clone();
        s.confirmed = true;
        assert!(restore(s).is_ok_and(|s| s.is_confirmed()));
        assert!(restore(responding).is_ok());
    }
}
