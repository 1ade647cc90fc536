//! Random delivery schedules between two parties: messages sent by either side, delivered
//! out of order, dropped and delivered again, checked against the model of
//! `hemlis_test::interaction`, which predicts every outcome exactly (see its doc: a first
//! delivery decrypts unless its chain was evicted, a redelivery is a `Duplicate`, an
//! evicted chain is an `UnknownSession` or, for an initial message, a
//! `ReplayedInitialMessage`, and every failure leaves the receiver's stored state
//! unchanged).
//!
//! Sessions start post-quantum (PQXDH, with a one-time or the last-resort KEM prekey) or,
//! between parties that allow it, classical (X3DH); the schedules must not care.

use hemlis::Error;
use hemlis::{DecryptError, HandshakeError};
use hemlis_test::interaction::{self, Op, Start, Stats};
use hemlis_test::party::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

/// Sends, deliveries, drops and duplicates (no reordering, no restart).
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0usize..400).prop_map(|(from_alice, len)| Op::Send { from_alice, len }),
        4 => any::<usize>().prop_map(Op::Deliver),
        1 => any::<usize>().prop_map(Op::Drop),
        2 => any::<usize>().prop_map(Op::Duplicate),
    ]
}

/// How a schedule starts: established, or fresh in each of the four ways.
pub(crate) fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        2 => Just(Start::Established),
        1 => Just(Start::Fresh { one_time: true, classical: false }),
        1 => Just(Start::Fresh { one_time: false, classical: false }),
        1 => Just(Start::Fresh { one_time: true, classical: true }),
        1 => Just(Start::Fresh { one_time: false, classical: true }),
    ]
}

fn config() -> Config {
    Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_schedules(start in start(), ops in prop::collection::vec(op(), 1..200)) {
        interaction::run(start, &ops);
    }
}

/// Sends from `from` and delivers to `to` at once.
fn exchange(from: &mut Party, to: &mut Party, text: &[u8]) {
    let env = from.send(text);
    assert_eq!(to.receive(&env).unwrap().plaintext, text);
}

/// The exact eviction boundary: a late message of a chain 4 turns back still decrypts, of
/// a chain 5 turns back it is unknown; both leave the state as it was when they fail.
#[test]
fn old_chain_boundary() {
    for turns in [3, 4, 5, 6] {
        let (mut alice, mut bob) = established(true);
        let late = alice.send(b"late");
        let later = alice.send(b"later");
        exchange(&mut alice, &mut bob, b"on time");
        for turn in 0..turns {
            exchange(&mut bob, &mut alice, format!("b{turn}").as_bytes());
            exchange(&mut alice, &mut bob, format!("a{turn}").as_bytes());
        }
        let before = bob.snapshot();
        let result = bob.receive(&late).map(|d| d.plaintext);
        if turns <= 4 {
            assert_eq!(result.unwrap(), b"late", "turns {turns}");
            assert_eq!(
                bob.receive(&late).map(|d| d.plaintext),
                Err(Error::Decrypt(DecryptError::Duplicate))
            );
            assert_eq!(bob.receive(&later).unwrap().plaintext, b"later");
        } else {
            assert_eq!(
                result,
                Err(Error::Decrypt(DecryptError::UnknownSession)),
                "turns {turns}"
            );
            assert!(bob.snapshot() == before);
            assert_eq!(
                bob.receive(&later).map(|d| d.plaintext),
                Err(Error::Decrypt(DecryptError::UnknownSession))
            );
        }
    }
}

/// An initial message of an evicted chain reaches the account, which recognises its base
/// key: `ReplayedInitialMessage`, state unchanged, with or without a one-time prekey, with
/// a one-time or the last-resort KEM prekey, or classical.
#[test]
fn evicted_initial_message_is_a_replay() {
    for (one_time, classical) in [(true, false), (false, false), (true, true), (false, true)] {
        let mut alice = Party::new(1);
        let mut bob = Party::new(2);
        let bundle = if classical {
            alice.peer.set_allow_classical(true);
            bob.peer.set_allow_classical(true);
            bob.classical_bundle(one_time)
        } else {
            bob.bundle(one_time)
        };
        alice.initiate(&bundle);
        let first = alice.send(b"first");
        let late = alice.send(b"late initial");
        assert_eq!(late[1], 1, "still an initial envelope");
        assert!(bob.receive(&first).unwrap().new_session);
        for turn in 0..5 {
            exchange(&mut bob, &mut alice, format!("b{turn}").as_bytes());
            exchange(&mut alice, &mut bob, format!("a{turn}").as_bytes());
        }
        let before = bob.snapshot();
        assert_eq!(
            bob.receive(&late).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::ReplayedInitialMessage)),
            "one_time {one_time}, classical {classical}"
        );
        assert!(bob.snapshot() == before);
        assert_eq!(
            bob.receive(&first).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::ReplayedInitialMessage))
        );
        assert!(bob.snapshot() == before);
    }
}

/// The generated schedules do reach every path the properties talk about.
#[test]
fn schedules_cover_every_path() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (start(), prop::collection::vec(op(), 1..200));
    let mut total = Stats::default();
    for _ in 0..32 {
        let (start, ops) = strategy.new_tree(&mut runner).unwrap().current();
        total.add(&interaction::run(start, &ops));
    }
    println!("{total:?}");
    assert!(total.decrypted > 0 && total.out_of_order > 0 && total.duplicates > 0);
    assert!(total.evicted > 0 && total.ratchets > 0, "{total:?}");
}
