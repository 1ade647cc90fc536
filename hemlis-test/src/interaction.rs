//! The two-party interaction model shared by the schedule and property tests
//! (`tests/slow/schedules.rs`, `tests/slow/properties.rs`) and the `interaction` fuzz
//! target (`fuzz/fuzz_targets/interaction.rs`): a schedule of sends, deliveries, drops,
//! reorderings, duplicates and restarts from serialized state (byte-encoded for the
//! fuzzer), run against two real parties and checked against a model that predicts every
//! outcome.
//!
//! Each party's sending chains are numbered 1, 2, ... (the initiator's first chain is 1,
//! the responder's first chain starts when it receives the initiator's chain 1). A party
//! steps its ratchet when it first decrypts a message of the peer's next chain, and keeps
//! the current receiving chain plus `max_old_chains` (4) old ones. So:
//!
//! - a first delivery decrypts to its plaintext, from the right sender, unless its chain is
//!   more than `max_old_chains` (4) chains behind the receiver's current one;
//! - a redelivery fails with `Duplicate` while its chain is kept;
//! - a message whose chain was evicted fails with `UnknownSession`, or with
//!   `ReplayedInitialMessage` if it is one of the initiator's initial messages (they carry
//!   the PQXDH fields, so the responder's account answers them and finds the base key in
//!   its replay record);
//! - every failure leaves the receiver's whole serialized state unchanged;
//! - a restart (account and sessions serialized, restored, and a new RNG) changes nothing
//!   the model can see.
//!
//! Sessions start post-quantum (PQXDH, with a one-time or the last-resort KEM prekey) or,
//! between parties that allow it, classical (X3DH); the schedules must not care. Any
//! violation panics, which is what the fuzzer looks for.

use std::collections::HashSet;

use hemlis::{Error, Limits};

use crate::party::Party;
use hemlis::{DecryptError, HandshakeError, MisuseError};

/// At most this many operations are taken from a schedule, so no chain can skip more than
/// `max_skip` keys nor hold more than `max_skipped_keys`: the limits never hide a message.
pub const MAX_OPS: usize = 600;

/// Old receiving chains kept (the default limit the model assumes).
const OLD_CHAINS: u32 = Limits::DEFAULT.max_old_chains as u32;

/// How the session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The first message and the reply already went through.
    Established,
    /// Alice has only initiated; her initial messages are in the schedule.
    Fresh {
        /// The bundle has one-time prekeys.
        one_time: bool,
        /// The bundle has no KEM prekey (both parties allow that).
        classical: bool,
    },
}

/// One step of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// A party encrypts a fresh plaintext of `len` bytes; the envelope goes in flight.
    Send {
        /// Alice sends (else Bob).
        from_alice: bool,
        /// The plaintext length.
        len: usize,
    },
    /// The envelope in flight at this index (modulo their number) reaches its receiver.
    Deliver(usize),
    /// The envelope in flight at this index is lost.
    Drop(usize),
    /// An envelope already delivered once is delivered again.
    Duplicate(usize),
    /// The envelope in flight at this index is held back behind all the others.
    Reorder(usize),
    /// A party restarts from its serialized state.
    Restart {
        /// Alice restarts (else Bob).
        alice: bool,
    },
}

/// The schedule a byte string encodes: the first byte picks the start, then each pair of
/// bytes is one operation (kind, argument). Every byte string is a valid schedule.
pub fn decode(bytes: &[u8]) -> (Start, Vec<Op>) {
    let start = match bytes.first().copied().unwrap_or(0) % 6 {
        0 | 1 => Start::Established,
        2 => Start::Fresh {
            one_time: true,
            classical: false,
        },
        3 => Start::Fresh {
            one_time: false,
            classical: false,
        },
        4 => Start::Fresh {
            one_time: true,
            classical: true,
        },
        _ => Start::Fresh {
            one_time: false,
            classical: true,
        },
    };
    let ops = bytes
        .get(1..)
        .unwrap_or_default()
        .chunks_exact(2)
        .take(MAX_OPS)
        .map(|pair| {
            let arg = usize::from(pair[1]);
            match pair[0] % 10 {
                0 | 1 => Op::Send {
                    from_alice: pair[0] % 10 == 0,
                    // 0 to 510 bytes: the first three padding buckets.
                    len: arg * 2,
                },
                2..=4 => Op::Deliver(arg),
                5 => Op::Drop(arg),
                6 => Op::Duplicate(arg),
                7 => Op::Reorder(arg),
                8 => Op::Restart { alice: arg & 1 == 0 },
                _ => Op::Send {
                    from_alice: arg & 1 == 0,
                    len: arg >> 1,
                },
            }
        })
        .collect();
    (start, ops)
}

/// The bytes that [`decode`] reads back as this schedule.
pub fn encode(start: Start, ops: &[Op]) -> Vec<u8> {
    let first = match start {
        Start::Established => 0,
        Start::Fresh {
            one_time: true,
            classical: false,
        } => 2,
        Start::Fresh {
            one_time: false,
            classical: false,
        } => 3,
        Start::Fresh {
            one_time: true,
            classical: true,
        } => 4,
        Start::Fresh {
            one_time: false,
            classical: true,
        } => 5,
    };
    let mut out = vec![first];
    for op in ops {
        let (kind, arg) = match *op {
            Op::Send { from_alice, len } => (u8::from(!from_alice), u8::try_from(len / 2).unwrap_or(255)),
            Op::Deliver(i) => (2, i as u8),
            Op::Drop(i) => (5, i as u8),
            Op::Duplicate(i) => (6, i as u8),
            Op::Reorder(i) => (7, i as u8),
            Op::Restart { alice } => (8, u8::from(!alice)),
        };
        out.push(kind);
        out.push(arg);
    }
    out
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

/// Counters, to check that schedules exercise every path.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Envelopes encrypted.
    pub sent: usize,
    /// First deliveries that decrypted.
    pub decrypted: usize,
    /// Deliveries of an envelope that was not the oldest in flight.
    pub out_of_order: usize,
    /// Redeliveries refused as duplicates.
    pub duplicates: usize,
    /// Deliveries refused because their chain was evicted.
    pub evicted: usize,
    /// Ratchet steps of a receiver.
    pub ratchets: usize,
    /// Restarts from serialized state.
    pub restarts: usize,
    /// Envelopes lost.
    pub dropped: usize,
}

impl Stats {
    /// Adds the counts of `other`.
    pub fn add(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.decrypted += other.decrypted;
        self.out_of_order += other.out_of_order;
        self.duplicates += other.duplicates;
        self.evicted += other.evicted;
        self.ratchets += other.ratchets;
        self.restarts += other.restarts;
        self.dropped += other.dropped;
    }
}

/// Two parties, the envelopes in flight and the model.
pub struct World {
    /// The initiator.
    pub alice: Party,
    /// The responder.
    pub bob: Party,
    model_alice: Side,
    model_bob: Side,
    in_flight: Vec<Msg>,
    delivered: Vec<Msg>,
    used: HashSet<Vec<u8>>,
    /// The session is PQXDH (not classical X3DH).
    post_quantum: bool,
    next_id: usize,
    /// What the schedule exercised so far.
    pub stats: Stats,
}

impl World {
    /// Two parties whose session starts as `start` says.
    pub fn new(start: Start) -> Self {
        let mut alice = Party::new(1);
        let mut bob = Party::new(2);
        let (post_quantum, model_alice, model_bob) = match start {
            Start::Established => {
                let bundle = bob.bundle(true);
                alice.initiate(&bundle);
                let first = alice.send(b"hello bob");
                assert_eq!(bob.receive(&first).expect("first").plaintext, b"hello bob");
                let reply = bob.send(b"hello alice");
                assert_eq!(alice.receive(&reply).expect("reply").plaintext, b"hello alice");
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
                (true, a, b)
            }
            Start::Fresh { one_time, classical } => {
                if classical {
                    alice.peer.set_allow_classical(true);
                    bob.peer.set_allow_classical(true);
                }
                let bundle = if classical {
                    bob.classical_bundle(one_time)
                } else {
                    bob.bundle(one_time)
                };
                alice.initiate(&bundle);
                let active = alice.peer.active().expect("alice initiated");
                assert_eq!(active.is_post_quantum(), !classical);
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
                (!classical, a, b)
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

    /// A plaintext of `len` bytes never used before (longer by one if it would repeat).
    fn plaintext(&mut self, mut len: usize) -> Vec<u8> {
        let id = self.next_id as u64;
        loop {
            let mut state = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (len as u64) ^ 0xD1B5_4A32_D192_ED03;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            if self.used.insert(text.clone()) {
                return text;
            }
            len += 1;
        }
    }

    fn send(&mut self, from_alice: bool, len: usize) {
        let has_chain = if from_alice {
            self.model_alice.send_chain
        } else {
            self.model_bob.send_chain
        } != 0;
        if !has_chain {
            // Bob before the first message reached him: nothing to send with.
            let party = if from_alice {
                &mut self.alice
            } else {
                &mut self.bob
            };
            let result = party.peer.encrypt(b"too early", &mut party.rng);
            assert_eq!(result, Err(Error::Misuse(MisuseError::NoSession)));
            return;
        }
        let text = self.plaintext(len);
        let id = self.next_id;
        self.next_id += 1;
        let (party, side) = if from_alice {
            (&mut self.alice, &mut self.model_alice)
        } else {
            (&mut self.bob, &mut self.model_bob)
        };
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
        self.stats.sent += 1;
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
            "model: chain {} before chain {}",
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
        } else if msg.initial {
            Error::Handshake(HandshakeError::ReplayedInitialMessage)
        } else {
            Error::Decrypt(DecryptError::UnknownSession)
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

    /// Applies one operation, checking every delivery against the model.
    pub fn apply(&mut self, op: Op) {
        match op {
            Op::Send { from_alice, len } => self.send(from_alice, len),
            Op::Deliver(index) => {
                if self.in_flight.is_empty() {
                    return;
                }
                let at = index % self.in_flight.len();
                if at != 0 {
                    self.stats.out_of_order += 1;
                }
                let msg = self.in_flight.remove(at);
                self.deliver(&msg, true);
                self.delivered.push(msg);
            }
            Op::Drop(index) => {
                if !self.in_flight.is_empty() {
                    let at = index % self.in_flight.len();
                    self.in_flight.remove(at);
                    self.stats.dropped += 1;
                }
            }
            Op::Duplicate(index) => {
                if !self.delivered.is_empty() {
                    let msg = self.delivered[index % self.delivered.len()].clone();
                    self.deliver(&msg, false);
                }
            }
            Op::Reorder(index) => {
                if !self.in_flight.is_empty() {
                    let at = index % self.in_flight.len();
                    let msg = self.in_flight.remove(at);
                    self.in_flight.push(msg);
                }
            }
            Op::Restart { alice } => {
                if alice {
                    self.alice.restart();
                } else {
                    self.bob.restart();
                }
                self.stats.restarts += 1;
            }
        }
    }

    /// Delivers everything still in flight, oldest first, then checks that both sides
    /// still talk, in the kind of session they started.
    pub fn finish(mut self) -> Stats {
        while !self.in_flight.is_empty() {
            let msg = self.in_flight.remove(0);
            self.deliver(&msg, true);
            self.delivered.push(msg);
        }
        let post_quantum = self.post_quantum;
        let active = self.alice.peer.active().expect("alice keeps her session");
        assert_eq!(active.is_post_quantum(), post_quantum);
        if let Some(session) = self.bob.peer.active() {
            assert_eq!(session.is_post_quantum(), post_quantum);
            let env = self.alice.send(b"closing a");
            assert_eq!(self.bob.receive(&env).expect("closing a").plaintext, b"closing a");
            let env = self.bob.send(b"closing b");
            assert_eq!(
                self.alice.receive(&env).expect("closing b").plaintext,
                b"closing b"
            );
        }
        self.stats
    }
}

/// Runs a schedule; panics on any outcome the model does not predict.
pub fn run(start: Start, ops: &[Op]) -> Stats {
    let mut world = World::new(start);
    for op in ops {
        world.apply(*op);
    }
    world.finish()
}

/// Runs the schedule a byte string encodes.
pub fn run_bytes(bytes: &[u8]) -> Stats {
    let (start, ops) = decode(bytes);
    run(start, &ops)
}
