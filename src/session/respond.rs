//! The responder's first message (docs/PROTOCOL.md, section 4.3): the handshake layer runs
//! PQXDH ([`Account`]'s side, changing nothing), this module starts the responder's ratchet
//! from the handshake secret and decrypts the first message. Only when that succeeds is the
//! account's change applied (or staged for the caller).

use rand_core::CryptoRng;

use super::ratchet::Session;
use crate::error::Result;
use crate::handshake::{Account, AccountChange};
use crate::limits::Limits;
use crate::wire::Envelope;

/// An initial message that decrypted, its account change not yet applied.
pub(crate) struct Accepted {
    pub(crate) session: Session,
    pub(crate) plaintext: Vec<u8>,
    pub(crate) change: AccountChange,
}

/// Runs PQXDH as the responder and decrypts the first message under a new session that
/// runs under `limits`. `account` is unchanged.
pub(crate) fn prepare_initial<R: CryptoRng + ?Sized>(
    account: &Account,
    envelope: &Envelope<'_>,
    allow_classical: bool,
    limits: Limits,
    rng: &mut R,
) -> Result<Accepted> {
    let responded = account.respond(envelope, allow_classical)?;
    let mut session = Session::responder(
        &responded.secret,
        responded.local_identity,
        responded.initiator,
        responded.signed_prekey,
        responded.post_quantum,
        limits,
    );
    let plaintext = session.decrypt_parsed(envelope, rng)?;
    Ok(Accepted {
        session,
        plaintext,
        change: responded.change,
    })
}

impl Account {
    /// Answers an initial envelope: runs PQXDH as the responder and decrypts the first
    /// message. Only when that succeeds are the one-time prekeys deleted and the base key
    /// recorded against replay. A classical (no KEM) initial message is refused.
    pub fn accept_initial<R: CryptoRng + ?Sized>(
        &mut self,
        envelope: &Envelope<'_>,
        rng: &mut R,
    ) -> Result<(Session, Vec<u8>)> {
        let accepted = prepare_initial(self, envelope, false, *self.limits(), rng)?;
        self.apply(&accepted.change);
        Ok((accepted.session, accepted.plaintext))
    }
}
