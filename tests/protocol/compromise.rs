//! Someone holding a copy of a device's state (a thief with the storage key, an old backup):
//! what the copy can and cannot read (docs/PROTOCOL.md, section 11; SECURITY.md).
//!
//! - Forward secrecy: a copy taken after messages were read opens none of them again.
//! - Post-compromise security: a copy reads what is sent in the chains it knows, and stops
//!   reading once both sides have made a ratchet turn with randomness it did not see.

use hemlis::{Limits, PeerSessions};
use hemlis_test::party::*;
use hemlis_test::rng::rng;

/// A copy of `party`'s sessions and account, as a thief restores them from stolen bytes,
/// with an RNG of its own.
fn steal(party: &Party, seed: u64) -> Party {
    Party::from_parts(
        hemlis::Account::from_bytes(&party.account.to_bytes().unwrap(), Limits::default()).unwrap(),
        PeerSessions::from_bytes(&party.peer.to_bytes().unwrap(), Limits::default()).unwrap(),
        rng(seed),
    )
}

#[test]
fn a_stolen_state_opens_no_message_read_before_the_theft() {
    let (mut alice, mut bob) = established(true);
    let mut recorded = Vec::new();
    for i in 0..3 {
        let envelope = alice.send(format!("a{i}").as_bytes());
        bob.receive(&envelope).expect("delivered");
        recorded.push(envelope);
        let envelope = bob.send(format!("b{i}").as_bytes());
        alice.receive(&envelope).expect("delivered");
    }
    let mut thief = steal(&bob, 99);
    for (i, envelope) in recorded.iter().enumerate() {
        let result = thief.receive(envelope);
        assert!(
            result.is_err(),
            "message {i} opened from a later state: {result:?}"
        );
    }
}

#[test]
fn a_stolen_state_stops_reading_after_a_ratchet_turn() {
    let (mut alice, mut bob) = established(true);
    let thief_state = steal(&bob, 7);
    // Within the chains the copy knows, it reads (that is the compromise).
    let same_chain = alice.send(b"still readable");
    let mut thief = steal(&thief_state, 8);
    assert_eq!(
        thief.receive(&same_chain).expect("readable").plaintext,
        b"still readable"
    );
    bob.receive(&same_chain).expect("delivered");
    // Bob answers with a fresh ratchet key, Alice answers that: a turn the thief did not see.
    let reply = bob.send(b"turn");
    alice.receive(&reply).expect("delivered");
    let after = alice.send(b"after the turn");
    for copy in [&thief_state, &thief] {
        let mut copy = steal(copy, 9);
        let result = copy.receive(&after);
        assert!(
            result.is_err(),
            "the copy read a message after the turn: {result:?}"
        );
    }
    assert_eq!(
        bob.receive(&after).expect("delivered").plaintext,
        b"after the turn"
    );
}
