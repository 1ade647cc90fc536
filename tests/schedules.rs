//! Random delivery schedules between two parties: messages sent by either side, delivered
//! out of order, dropped and delivered again.
//!
//! A model of the receiving side predicts every outcome exactly. Each party's sending
//! chains are numbered 1, 2, ... (the initiator's first chain is 1, the responder's first
//! chain starts when it receives the initiator's chain 1). A party steps its ratchet when
//! it first decrypts a message of the peer's next chain, and keeps the current receiving
//! chain plus `max_old_chains` (4) old ones. So:
//!
//! - a first delivery decrypts to its plaintext unless its chain is more than 4 chains
//!   behind the receiver's current one;
//! - a redelivery fails with `Duplicate` while its chain is kept;
//! - a message whose chain was evicted fails with `UnknownSession`, or with
//!   `ReplayedInitialMessage` if it is one of the initiator's initial messages (they carry
//!   the PQXDH fields, so the responder's account answers them and finds the base key in
//!   its replay record);
//! - every failure leaves the receiver's whole stored state unchanged.
//!
//! Sessions start post-quantum (PQXDH, with a one-time or the last-resort KEM prekey) or,
//! between parties that allow it, classical (X3DH); the schedules must not care.

mod common;

use std::collections::HashSet;

use common::*;
use hemlis::{DecryptError, HandshakeError, MisuseError};
use hemlis::{Error, Limits};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

/// Old receiving chains kept (the default limit the model assumes).
const OLD_CHAINS: u32 = Limits::DEFAULT.max_old_chains as u32;

#[derive(Debug, Clone)]
enum Op {
    /// A party encrypts a fresh plaintext of `len` bytes; the envelope goes in flight.
    Send { from_alice: bool, len: usize },
    /// An envelope in flight reaches its receiver (first delivery).
    Deliver(Index),
    /// An envelope in flight is lost.
    Drop(Index),
    /// An envelope already delivered once is delivered again.
    Duplicate(Index),
}

#[derive(Debug, Clone, Copy)]
enum Start {
    /// `established(true)`: the first message and the reply already went through.
    Established,
    /// Alice has only initiated; her initial messages are in the schedule too. With
    /// `one_time`, the bundle has a one-time prekey (and, unless `classical`, a one-time
    /// KEM prekey); with `classical`, no KEM prekey, and both parties allow that.
    Fresh { one_time: bool, classical: bool },
}

/// One message as the model sees it.
#[derive(Debug, Clone)]
struct Msg {
    id: usize,
    from_alice: bool,
    /// Sending chain number of the sender.
    chain: u32,
    /// Message number within the chain.
    n: u32,
    /// Sent while Alice's session was unanswered: carries the handshake fields.
    initial: bool,
    plaintext: Vec<u8>,
    envelope: Vec<u8>,
}

/// The model of one party's ratchet position.
#[derive(Debug, Clone, Copy)]
struct Side {
    /// Number of the current sending chain (0: no session yet).
    send_chain: u32,
    /// Messages sent in the current sending chain.
    send_n: u32,
    /// Number of the peer's chain this party currently receives on (0: none yet).
    recv_chain: u32,
}

impl Side {
    /// True if a message of the peer's chain `chain` can still be opened here.
    fn keeps(&self, chain: u32) -> bool {
        chain <= self.recv_chain + 1 && chain + OLD_CHAINS >= self.recv_chain
    }

    /// The peer stepped its ratchet and this side received the first message of it.
    fn ratchet(&mut self) {
        self.recv_chain += 1;
        self.send_chain += 1;
        self.send_n = 0;
    }
}

/// The error a message of an evicted chain gets.
fn evicted_error(msg: &Msg) -> Error {
    if msg.initial {
        Error::Handshake(HandshakeError::ReplayedInitialMessage)
    } else {
        Error::Decrypt(DecryptError::UnknownSession)
    }
}

/// A plaintext of `len` bytes (one more each time it would repeat an earlier one).
fn plaintext(id: usize, mut len: usize, used: &mut HashSet<Vec<u8>>) -> Vec<u8> {
    loop {
        let mut state =
            (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (len as u64) ^ 0xD1B5_4A32_D192_ED03;
        let text: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        if used.insert(text.clone()) {
            return text;
        }
        len += 1;
    }
}

struct World {
    alice: Party,
    bob: Party,
    model_alice: Side,
    model_bob: Side,
    in_flight: Vec<Msg>,
    delivered: Vec<Msg>,
    used: HashSet<Vec<u8>>,
    /// The session is PQXDH (not classical X3DH).
    post_quantum: bool,
    next_id: usize,
    /// Counters, to check that the schedules exercise every path.
    stats: Stats,
}

#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    decrypted: usize,
    out_of_order: usize,
    duplicates: usize,
    evicted: usize,
    ratchets: usize,
}

impl World {
    fn new(start: Start) -> Self {
        let post_quantum = !matches!(start, Start::Fresh { classical: true, .. });
        let (alice, bob, model_alice, model_bob) = match start {
            Start::Established => {
                let (alice, bob) = established(true);
                // Alice: chain 1 carried "hello bob", she stepped on Bob's reply (chain 1).
                let a = Side {
                    send_chain: 2,
                    send_n: 0,
                    recv_chain: 1,
                };
                let b = Side {
                    send_chain: 1,
                    send_n: 1,
                    recv_chain: 1,
                };
                (alice, bob, a, b)
            }
            Start::Fresh { one_time, classical } => {
                let mut alice = Party::new(1);
                let mut bob = Party::new(2);
                let bundle = if classical {
                    alice.peer.set_allow_classical(true);
                    bob.peer.set_allow_classical(true);
                    classical_bundle(&mut bob, one_time)
                } else {
                    bob.bundle(one_time)
                };
                alice.initiate(&bundle);
                assert_eq!(alice.peer.active().unwrap().is_post_quantum(), !classical);
                let a = Side {
                    send_chain: 1,
                    send_n: 0,
                    recv_chain: 0,
                };
                let b = Side {
                    send_chain: 0,
                    send_n: 0,
                    recv_chain: 0,
                };
                (alice, bob, a, b)
            }
        };
        Self {
            alice,
            bob,
            model_alice,
            model_bob,
            in_flight: Vec::new(),
            delivered: Vec::new(),
            used: HashSet::new(),
            post_quantum,
            next_id: 0,
            stats: Stats::default(),
        }
    }

    fn send(&mut self, from_alice: bool, len: usize) {
        let (party, side) = if from_alice {
            (&mut self.alice, &mut self.model_alice)
        } else {
            (&mut self.bob, &mut self.model_bob)
        };
        if side.send_chain == 0 {
            // Bob before the first message reached him: nothing to send with.
            let result = party.peer.encrypt(b"too early", &mut party.rng);
            assert_eq!(result, Err(Error::Misuse(MisuseError::NoSession)));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let text = plaintext(id, len, &mut self.used);
        let envelope = party.send(&text);
        let initial = from_alice && side.recv_chain == 0;
        assert_eq!(envelope[1] == 1, initial, "envelope kind of message {id}");
        if initial {
            // The KEM flag of the initial envelope (docs/PROTOCOL.md, section 5.1).
            assert_eq!(envelope[11] == 1, self.post_quantum, "message {id}");
        }
        self.in_flight.push(Msg {
            id,
            from_alice,
            chain: side.send_chain,
            n: side.send_n,
            initial,
            plaintext: text,
            envelope,
        });
        side.send_n += 1;
    }

    /// Delivers `msg` to its receiver and checks the outcome against the model.
    fn deliver(&mut self, msg: &Msg, first: bool) {
        let (receiver, side, sender_key) = if msg.from_alice {
            (
                &mut self.bob,
                &mut self.model_bob,
                self.alice.account.identity_key().clone(),
            )
        } else {
            (
                &mut self.alice,
                &mut self.model_alice,
                self.bob.account.identity_key().clone(),
            )
        };
        assert!(
            msg.chain <= side.recv_chain + 1,
            "model: chain {} cannot exist before chain {} was received",
            msg.chain,
            side.recv_chain + 1
        );
        let kept = side.keeps(msg.chain);
        let had_session = receiver.peer.active().is_some();
        let before = receiver.snapshot();
        let result = receiver.receive(&msg.envelope);
        let context = format!(
            "message {} (from {}, chain {}, n {}, initial {}, first delivery {first}) to a receiver on chain {}",
            msg.id,
            if msg.from_alice { "alice" } else { "bob" },
            msg.chain,
            msg.n,
            msg.initial,
            side.recv_chain,
        );
        if first && kept {
            let decrypted = result.unwrap_or_else(|e| panic!("{context}: {e:?}"));
            assert_eq!(decrypted.plaintext, msg.plaintext, "{context}");
            assert_eq!(decrypted.sender, sender_key, "{context}");
            assert_eq!(decrypted.new_session, !had_session, "{context}");
            if msg.chain == side.recv_chain + 1 {
                side.ratchet();
                self.stats.ratchets += 1;
            }
            self.stats.decrypted += 1;
            return;
        }
        let expected = if kept {
            Error::Decrypt(DecryptError::Duplicate)
        } else {
            evicted_error(msg)
        };
        assert_eq!(result.map(|d| d.plaintext), Err(expected), "{context}");
        assert!(
            receiver.snapshot() == before,
            "{context}: state changed by a failed decryption"
        );
        if kept {
            self.stats.duplicates += 1;
        } else {
            self.stats.evicted += 1;
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Send { from_alice, len } => self.send(*from_alice, *len),
            Op::Deliver(index) => {
                if self.in_flight.is_empty() {
                    return;
                }
                let at = index.index(self.in_flight.len());
                if at != 0 {
                    self.stats.out_of_order += 1;
                }
                let msg = self.in_flight.remove(at);
                self.deliver(&msg, true);
                self.delivered.push(msg);
            }
            Op::Drop(index) => {
                if !self.in_flight.is_empty() {
                    let at = index.index(self.in_flight.len());
                    self.in_flight.remove(at);
                }
            }
            Op::Duplicate(index) => {
                if !self.delivered.is_empty() {
                    let msg = self.delivered[index.index(self.delivered.len())].clone();
                    self.deliver(&msg, false);
                }
            }
        }
    }

    /// Delivers everything still in flight, oldest first.
    fn drain(&mut self) {
        while !self.in_flight.is_empty() {
            let msg = self.in_flight.remove(0);
            self.deliver(&msg, true);
            self.delivered.push(msg);
        }
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0usize..400).prop_map(|(from_alice, len)| Op::Send { from_alice, len }),
        4 => any::<Index>().prop_map(Op::Deliver),
        1 => any::<Index>().prop_map(Op::Drop),
        2 => any::<Index>().prop_map(Op::Duplicate),
    ]
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![
        2 => Just(Start::Established),
        1 => Just(Start::Fresh { one_time: true, classical: false }),
        1 => Just(Start::Fresh { one_time: false, classical: false }),
        1 => Just(Start::Fresh { one_time: true, classical: true }),
        1 => Just(Start::Fresh { one_time: false, classical: true }),
    ]
}

/// A classical bundle of `party` (no KEM prekey), with a fresh one-time prekey if
/// `one_time`.
fn classical_bundle(party: &mut Party, one_time: bool) -> hemlis::PrekeyBundle {
    let otp = if one_time {
        party.account.generate_one_time_prekeys(1, &mut party.rng).pop()
    } else {
        None
    };
    party.account.classical_prekey_bundle(otp).unwrap()
}

fn run(start: Start, ops: &[Op]) -> Stats {
    let mut world = World::new(start);
    for op in ops {
        world.apply(op);
    }
    world.drain();
    // After everything, both sides still talk, in the kind of session they started.
    let post_quantum = world.post_quantum;
    let mut alice = world.alice;
    let mut bob = world.bob;
    assert_eq!(alice.peer.active().unwrap().is_post_quantum(), post_quantum);
    if let Some(session) = bob.peer.active() {
        assert_eq!(session.is_post_quantum(), post_quantum);
        let env = alice.send(b"closing a");
        assert_eq!(bob.receive(&env).unwrap().plaintext, b"closing a");
        let env = bob.send(b"closing b");
        assert_eq!(alice.receive(&env).unwrap().plaintext, b"closing b");
    }
    world.stats
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
        run(start, &ops);
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
            classical_bundle(&mut bob, one_time)
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
        let stats = run(start, &ops);
        total.decrypted += stats.decrypted;
        total.out_of_order += stats.out_of_order;
        total.duplicates += stats.duplicates;
        total.evicted += stats.evicted;
        total.ratchets += stats.ratchets;
    }
    println!("{total:?}");
    assert!(total.decrypted > 0 && total.out_of_order > 0 && total.duplicates > 0);
    assert!(total.evicted > 0 && total.ratchets > 0, "{total:?}");
}
