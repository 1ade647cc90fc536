//! Sessions per peer device (docs/PROTOCOL.md, section 7.3): simultaneous initiation
//! converges on one session, also when one of the two initial messages is lost; messages
//! under an old session still decrypt; state survives a serialization round trip.

use hemlis::{Account, Error, Limits, PeerSessions, Session, StateError};
use hemlis::{DecryptError, HandshakeError};
use hemlis_test::party::*;
use hemlis_test::rng::rng;
use hemlis_test::sessions::copy_session;

/// True if a message from a copy of `from` decrypts under a copy of `to` (neither party's
/// state changes): `to` is the other end of `from`'s session.
fn talks_to(from: &Session, to: &Session) -> bool {
    let mut probe_rng = rng(999);
    let envelope = copy_session(from).encrypt(b"probe", &mut probe_rng).unwrap();
    copy_session(to).decrypt(&envelope, &mut probe_rng).is_ok()
}

/// The two parties' active sessions are the two ends of one session.
fn same_active_session(a: &Party, b: &Party) -> bool {
    let (a, b) = (a.peer.active().unwrap(), b.peer.active().unwrap());
    talks_to(a, b) && talks_to(b, a)
}

/// Sends `text` from `from`'s active session; `to` must decrypt it under its active session
/// (checked on a copy first), without a new session and without a promotion.
fn exchange(from: &mut Party, to: &mut Party, text: &str) {
    let envelope = from.send(text.as_bytes());
    let active = copy_session(to.peer.active().unwrap());
    assert!(
        copy_session(&active).decrypt(&envelope, &mut rng(7)).is_ok(),
        "{text}: not for the receiver's active session"
    );
    let previous = to.peer.previous_len();
    let d = to.receive(&envelope).unwrap();
    assert_eq!(d.plaintext, text.as_bytes());
    assert!(!d.new_session, "{text}");
    assert_eq!(to.peer.previous_len(), previous, "{text}");
    assert_eq!(
        to.peer.active().unwrap().is_initiator(),
        active.is_initiator(),
        "{text}"
    );
}

/// A round trip and a few more messages both ways, all under the active sessions.
fn converse(a: &mut Party, b: &mut Party, label: &str) {
    for i in 0..3 {
        exchange(a, b, &format!("{label} a{i}"));
        exchange(b, a, &format!("{label} b{i}"));
    }
    assert!(same_active_session(a, b), "{label}");
}

/// Both parties initiate to each other at once. Returns (winner, loser, winner's first
/// message, loser's first message): the winner is the party whose base key is smaller.
fn simultaneous() -> (Party, Party, Vec<u8>, Vec<u8>) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let to_bob = bob.bundle(true);
    let to_alice = alice.bundle(true);
    alice.initiate(&to_bob);
    bob.initiate(&to_alice);
    let a0 = alice.send(b"first");
    let b0 = bob.send(b"first");
    let ka = *alice.peer.active().unwrap().pending_base_key().unwrap();
    let kb = *bob.peer.active().unwrap().pending_base_key().unwrap();
    assert_ne!(ka, kb);
    if ka < kb {
        (alice, bob, a0, b0)
    } else {
        (bob, alice, b0, a0)
    }
}

/// Checks the state right after an initial message was accepted during simultaneous
/// initiation: the winner's session is active on both sides.
fn assert_winner_active(winner: &Party, loser: &Party) {
    let w = winner.peer.active().unwrap();
    let l = loser.peer.active().unwrap();
    assert!(w.is_initiator(), "the winner keeps its own session");
    assert!(!l.is_initiator(), "the loser answers the winner's session");
    assert!(same_active_session(winner, loser));
}

#[test]
fn simultaneous_initiation_converges_on_one_session() {
    let (mut winner, mut loser, w0, l0) = simultaneous();
    let winner_key = *winner.peer.active().unwrap().pending_base_key().unwrap();

    // Both first messages cross: each side accepts the other's as a new session.
    let d = winner.receive(&l0).unwrap();
    assert!(d.new_session);
    assert_eq!(winner.peer.previous_len(), 1);
    // The winner's own, smaller-keyed session stays active, still unanswered.
    assert_eq!(
        winner.peer.active().unwrap().pending_base_key(),
        Some(&winner_key)
    );
    let d = loser.receive(&w0).unwrap();
    assert!(d.new_session);
    assert_eq!(loser.peer.previous_len(), 1);
    assert!(loser.peer.active().unwrap().pending_base_key().is_none());
    assert_winner_active(&winner, &loser);

    // A round trip: no new session, no promotion, the same two previous sessions.
    exchange(&mut winner, &mut loser, "w1");
    exchange(&mut loser, &mut winner, "l1");
    assert!(winner.peer.active().unwrap().pending_base_key().is_none());
    assert!(winner.peer.active().unwrap().is_confirmed());
    converse(&mut winner, &mut loser, "after");
    assert_eq!(winner.peer.previous_len(), 1);
    assert_eq!(loser.peer.previous_len(), 1);
    assert_winner_active(&winner, &loser);
}

#[test]
fn simultaneous_initiation_converges_when_the_losers_later_messages_arrive_first() {
    let (mut winner, mut loser, w0, l0) = simultaneous();
    // The loser sends again before it hears of the winner: still its own session.
    let l1 = loser.send(b"second");
    assert!(winner.receive(&l0).unwrap().new_session);
    // l1 decrypts under the winner's previous session (the loser's), which is not
    // confirmed, so it is not promoted.
    let d = winner.receive(&l1).unwrap();
    assert_eq!(d.plaintext, b"second");
    assert!(!d.new_session);
    assert!(winner.peer.active().unwrap().is_initiator());
    assert_eq!(winner.peer.previous_len(), 1);

    assert!(loser.receive(&w0).unwrap().new_session);
    assert_winner_active(&winner, &loser);
    converse(&mut winner, &mut loser, "after");
    assert_winner_active(&winner, &loser);
}

#[test]
fn simultaneous_initiation_converges_when_the_winners_first_message_is_lost() {
    let (mut winner, mut loser, _lost, l0) = simultaneous();
    assert!(winner.receive(&l0).unwrap().new_session);
    // The loser still has only its own session and answers nothing yet; the winner's next
    // message repeats the X3DH fields, and the loser switches to the winner's session.
    let w1 = winner.send(b"w1");
    let d = loser.receive(&w1).unwrap();
    assert!(d.new_session);
    assert_eq!(d.plaintext, b"w1");
    assert_eq!(loser.peer.previous_len(), 1);
    assert_winner_active(&winner, &loser);
    exchange(&mut loser, &mut winner, "l1");
    converse(&mut winner, &mut loser, "after");
    assert_eq!(winner.peer.previous_len(), 1);
    assert_eq!(loser.peer.previous_len(), 1);
}

#[test]
fn simultaneous_initiation_converges_when_the_losers_message_is_lost_and_the_loser_speaks() {
    let (mut winner, mut loser, _lost, l0) = simultaneous();
    assert!(winner.receive(&l0).unwrap().new_session);
    // Before the winner's next message arrives, the loser sends again on its own session.
    let l1 = loser.send(b"l1");
    let d = winner.receive(&l1).unwrap();
    assert!(!d.new_session);
    assert!(winner.peer.active().unwrap().is_initiator(), "not promoted");
    let w1 = winner.send(b"w1");
    assert!(loser.receive(&w1).unwrap().new_session);
    assert_winner_active(&winner, &loser);
    converse(&mut winner, &mut loser, "after");
}

#[test]
fn simultaneous_initiation_converges_when_the_losers_first_message_is_lost() {
    let (mut winner, mut loser, w0, _lost) = simultaneous();
    let d = loser.receive(&w0).unwrap();
    assert!(d.new_session);
    assert_eq!(loser.peer.previous_len(), 1);
    assert_winner_active(&winner, &loser);
    exchange(&mut loser, &mut winner, "l1");
    assert_eq!(winner.peer.previous_len(), 0);
    converse(&mut winner, &mut loser, "after");
}

#[test]
fn simultaneous_initiation_converges_when_the_losers_first_message_is_late() {
    // Documented limit (section 7.3): once the winner's session is answered, a late initial
    // message of the abandoned session is a new session like any other. The loser still
    // holds that session, so the two follow each other to it after a round trip.
    let (mut winner, mut loser, w0, l0) = simultaneous();
    assert!(loser.receive(&w0).unwrap().new_session);
    exchange(&mut loser, &mut winner, "l1");
    converse(&mut winner, &mut loser, "before");

    let d = winner.receive(&l0).unwrap();
    assert!(d.new_session);
    assert!(!winner.peer.active().unwrap().is_initiator());
    assert_eq!(winner.peer.previous_len(), 1);
    // The winner answers on the loser's session; the loser, which confirms its session by
    // that answer, promotes it.
    let w = winner.send(b"on the late session");
    let d = loser.receive(&w).unwrap();
    assert!(!d.new_session);
    assert!(loser.peer.active().unwrap().is_initiator());
    assert!(same_active_session(&winner, &loser));
    converse(&mut winner, &mut loser, "after");
}

#[test]
fn message_under_an_old_session_still_decrypts_and_promotes_it_when_confirmed() {
    let (mut alice, mut bob) = established(true);
    // Bob's session is confirmed once he receives Alice's first message after his answer.
    exchange(&mut alice, &mut bob, "m0");
    assert!(bob.peer.active().unwrap().is_confirmed());
    let late = alice.send(b"late");
    let old_alice = copy_session(alice.peer.active().unwrap());

    // Alice starts a new session; Bob accepts it.
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    let d = bob.receive(&alice.send(b"new")).unwrap();
    assert!(d.new_session);
    assert_eq!(bob.peer.previous_len(), 1);
    assert!(same_active_session(&alice, &bob));

    // The late message of the old session decrypts. The old session is confirmed, so it is
    // promoted (Sesame; the known limit of section 7.3).
    let d = bob.receive(&late).unwrap();
    assert_eq!(d.plaintext, b"late");
    assert!(!d.new_session);
    assert_eq!(bob.peer.previous_len(), 1);
    let bob_active = bob.peer.active().unwrap();
    assert!(talks_to(&old_alice, bob_active) && talks_to(bob_active, &old_alice));
    // Bob now answers on the old session, which Alice holds as a previous, confirmed
    // session: she follows, and they converge.
    let r = bob.send(b"answer");
    let d = alice.receive(&r).unwrap();
    assert_eq!(d.plaintext, b"answer");
    assert!(!d.new_session);
    assert_eq!(alice.peer.previous_len(), 1);
    assert!(same_active_session(&alice, &bob));
    converse(&mut alice, &mut bob, "after");
}

#[test]
fn message_under_an_unconfirmed_old_session_decrypts_without_promotion() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    let f0 = alice.send(b"f0");
    let f1 = alice.send(b"f1");
    assert!(bob.receive(&f0).unwrap().new_session);
    // Alice gives up on the unanswered session and starts another one.
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    let g0 = alice.send(b"g0");
    assert!(bob.receive(&g0).unwrap().new_session);
    assert!(same_active_session(&alice, &bob));
    // f1 was sent before Alice knew of any answer: it decrypts, and promotes nothing.
    let d = bob.receive(&f1).unwrap();
    assert_eq!(d.plaintext, b"f1");
    assert!(!d.new_session);
    assert_eq!(bob.peer.previous_len(), 1);
    assert!(same_active_session(&alice, &bob));
    converse(&mut alice, &mut bob, "after");
}

#[test]
fn initial_message_from_another_identity_is_refused_without_consuming_anything() {
    let (mut alice, mut bob) = established(true);
    let mut mallory = Party::new(3);
    let bundle = bob.bundle(true);
    mallory.initiate(&bundle);
    let envelope = mallory.send(b"hi, it's alice");
    let before = bob.snapshot();
    let prekeys = bob.account.one_time_prekeys();
    assert_eq!(prekeys.len(), 1);
    assert_eq!(
        bob.receive(&envelope).unwrap_err(),
        Error::Handshake(HandshakeError::IdentityMismatch)
    );
    assert!(bob.snapshot() == before);
    assert_eq!(bob.account.one_time_prekeys(), prekeys);
    converse(&mut alice, &mut bob, "after");
}

/// Replaces a party's account and sessions by their restored serializations, checking that
/// they serialize back to the same bytes.
fn restore(party: &mut Party, limits: Limits) {
    let account = party.account.to_bytes().unwrap();
    let peer = party.peer.to_bytes().unwrap();
    let restored_account = Account::from_bytes(&account, limits).unwrap();
    let restored_peer = PeerSessions::from_bytes(&peer, limits).unwrap();
    assert_eq!(*restored_account.to_bytes().unwrap(), *account);
    assert_eq!(*restored_peer.to_bytes().unwrap(), *peer);
    assert_eq!(restored_account.identity_key(), party.account.identity_key());
    assert_eq!(
        restored_account.one_time_prekeys(),
        party.account.one_time_prekeys()
    );
    assert_eq!(restored_account.signed_prekey(), party.account.signed_prekey());
    assert_eq!(restored_peer.remote_identity(), party.peer.remote_identity());
    assert_eq!(restored_peer.previous_len(), party.peer.previous_len());
    party.account = restored_account;
    party.peer = restored_peer;
}

#[test]
fn state_restore_round_trip_mid_conversation() {
    let limits = Limits::default();
    let (mut alice, mut bob) = established(true);
    converse(&mut alice, &mut bob, "start");
    // Held messages: skipped keys in the current chain and in an old chain, both ways.
    let held_a: Vec<Vec<u8>> = (0..3)
        .map(|i| alice.send(format!("held a{i}").as_bytes()))
        .collect();
    exchange(&mut alice, &mut bob, "a3");
    let held_b: Vec<Vec<u8>> = (0..3)
        .map(|i| bob.send(format!("held b{i}").as_bytes()))
        .collect();
    exchange(&mut bob, &mut alice, "b3");
    exchange(&mut alice, &mut bob, "a4");
    let held_a2 = alice.send(b"held a5");
    exchange(&mut alice, &mut bob, "a6");
    assert_eq!(bob.peer.active().unwrap().skipped_key_count(), 4);
    assert_eq!(alice.peer.active().unwrap().skipped_key_count(), 3);
    // A second session, so that previous sessions are stored too, and an unanswered one.
    let bundle = bob.bundle(true);
    bob.bundle(true);
    alice.initiate(&bundle);
    let fresh = alice.send(b"new session");
    assert!(bob.receive(&fresh).unwrap().new_session);
    let unanswered = alice.send(b"still initial");
    assert_eq!(alice.peer.previous_len(), 1);
    assert_eq!(bob.peer.previous_len(), 1);
    assert!(alice.peer.active().unwrap().pending_base_key().is_some());
    let bob_prekeys = bob.account.one_time_prekeys();
    assert_eq!(bob_prekeys.len(), 1);

    let (alice_before, bob_before) = (alice.snapshot(), bob.snapshot());
    restore(&mut alice, limits);
    restore(&mut bob, limits);
    assert!(alice.snapshot() == alice_before);
    assert!(bob.snapshot() == bob_before);

    // Everything held still decrypts, replays are still refused, and the conversation
    // goes on in the new session.
    let d = bob.receive(&unanswered).unwrap();
    assert_eq!(d.plaintext, b"still initial");
    assert!(!d.new_session);
    for (i, m) in held_a.iter().enumerate() {
        assert_eq!(bob.receive(m).unwrap().plaintext, format!("held a{i}").as_bytes());
    }
    assert_eq!(bob.receive(&held_a2).unwrap().plaintext, b"held a5");
    for (i, m) in held_b.iter().enumerate() {
        assert_eq!(
            alice.receive(m).unwrap().plaintext,
            format!("held b{i}").as_bytes()
        );
    }
    for m in held_a.iter().chain([&held_a2, &fresh, &unanswered]) {
        assert_eq!(
            bob.receive(m).unwrap_err(),
            Error::Decrypt(DecryptError::Duplicate)
        );
    }
    assert_eq!(bob.account.one_time_prekeys(), bob_prekeys);
    converse(&mut alice, &mut bob, "after restore");
    restore(&mut alice, limits);
    restore(&mut bob, limits);
    converse(&mut alice, &mut bob, "after second restore");
}

#[test]
fn restore_refuses_state_beyond_the_limits() {
    let (mut alice, mut bob) = established(true);
    let held: Vec<Vec<u8>> = (0..5).map(|i| alice.send(format!("m{i}").as_bytes())).collect();
    bob.receive(&held[4]).unwrap();
    assert_eq!(bob.peer.active().unwrap().skipped_key_count(), 4);
    let bundle = bob.bundle(false);
    alice.initiate(&bundle);
    bob.receive(&alice.send(b"second session")).unwrap();
    assert_eq!(bob.peer.previous_len(), 1);
    let bytes = bob.peer.to_bytes().unwrap();

    let mut l = Limits::default();
    l.max_skipped_keys = 3;
    assert_eq!(
        PeerSessions::from_bytes(&bytes, l).unwrap_err(),
        Error::State(StateError::ExceedsLimits)
    );
    let mut l = Limits::default();
    l.max_previous_sessions = 0;
    assert_eq!(
        PeerSessions::from_bytes(&bytes, l).unwrap_err(),
        Error::State(StateError::ExceedsLimits)
    );
    let mut l = Limits::default();
    l.max_skipped_keys = 4;
    l.max_previous_sessions = 1;
    let restored = PeerSessions::from_bytes(&bytes, l).unwrap();
    assert_eq!(*restored.to_bytes().unwrap(), *bytes);
    // Kinds are not interchangeable.
    assert_eq!(
        Account::from_bytes(&bytes, Limits::default()).unwrap_err(),
        Error::State(StateError::Malformed)
    );
}
