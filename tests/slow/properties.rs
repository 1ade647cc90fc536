//! Properties of delivery schedules, shared with the fuzz targets: the two-party model of
//! `hemlis_test::interaction` (also the `interaction` fuzz target) run on random byte
//! strings and on generated schedules, with restarts from serialized state; and three
//! clients that restart from their SQLite files at random points while they talk, where
//! every message arrives exactly once and in order.

use std::collections::BTreeMap;

use hemlis::{Client, InMemoryRelay, SqliteStore};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::faults::*;
use hemlis_test::interaction::{self, Op, Stats};
use hemlis_test::rng::*;
use hemlis_test::tempdir::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

use crate::schedules::start;

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0usize..400).prop_map(|(from_alice, len)| Op::Send { from_alice, len }),
        4 => any::<u8>().prop_map(|i| Op::Deliver(i.into())),
        1 => any::<u8>().prop_map(|i| Op::Drop(i.into())),
        2 => any::<u8>().prop_map(|i| Op::Duplicate(i.into())),
        1 => any::<u8>().prop_map(|i| Op::Reorder(i.into())),
        1 => any::<bool>().prop_map(|alice| Op::Restart { alice }),
    ]
}

proptest! {
    #![proptest_config(config(48))]

    /// Any byte string is a schedule (the fuzz target's input format); every outcome is
    /// the model's.
    #[test]
    fn byte_schedules_follow_the_model(bytes in prop::collection::vec(any::<u8>(), 1..500)) {
        interaction::run_bytes(&bytes);
    }

    /// Generated schedules with restarts from serialized state follow the model, and
    /// survive the byte encoding unchanged.
    #[test]
    fn generated_schedules_with_restarts_follow_the_model(
        start in start(),
        ops in prop::collection::vec(op(), 1..250),
    ) {
        let ops: Vec<Op> = ops
            .into_iter()
            .map(|op| match op {
                // The byte encoding carries even lengths up to 510.
                Op::Send { from_alice, len } => Op::Send { from_alice, len: len & !1 },
                other => other,
            })
            .collect();
        let bytes = interaction::encode(start, &ops);
        prop_assert_eq!(interaction::decode(&bytes), (start, ops.clone()));
        interaction::run(start, &ops);
    }
}

/// The generated schedules reach every path: out-of-order and duplicate deliveries,
/// evicted chains, ratchet steps, drops and restarts.
#[test]
fn schedules_with_restarts_cover_every_path() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (start(), prop::collection::vec(op(), 1..250));
    let mut total = Stats::default();
    for _ in 0..24 {
        let (start, ops) = strategy.new_tree(&mut runner).unwrap().current();
        total.add(&interaction::run(start, &ops));
    }
    println!("{total:?}");
    assert!(
        total.decrypted > 0 && total.out_of_order > 0 && total.duplicates > 0,
        "{total:?}"
    );
    assert!(total.evicted > 0 && total.ratchets > 0, "{total:?}");
    assert!(total.restarts > 0 && total.dropped > 0, "{total:?}");
}

// ---------------------------------------------------------------------------------------
// Clients restarting from SQLite

const USERS: [&str; 3] = ["alice", "bob", "carol"];

#[derive(Debug, Clone)]
enum ClientOp {
    /// Client `from` sends a message of `len` bytes to the client `to_offset` (1 or 2)
    /// places after it.
    Send {
        from: usize,
        to_offset: usize,
        len: usize,
    },
    /// A client receives what waits for it.
    Receive(usize),
    /// A client is closed and opened again from its database file.
    Restart(usize),
}

fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        4 => (0usize..3, 1usize..3, 0usize..300).prop_map(|(from, to_offset, len)| ClientOp::Send { from, to_offset, len }),
        3 => (0usize..3).prop_map(ClientOp::Receive),
        2 => (0usize..3).prop_map(ClientOp::Restart),
    ]
}

struct Clients {
    _dir: TempDir,
    transport: TestTransport,
    clock: TestClock,
    draws: Draws,
    paths: Vec<std::path::PathBuf>,
    clients: Vec<Option<Client>>,
    next_seed: u64,
    /// Per (sender, receiver): bodies sent, in order.
    sent: BTreeMap<(usize, usize), Vec<Vec<u8>>>,
    /// Per (sender, receiver): bodies received, in order.
    received: BTreeMap<(usize, usize), Vec<Vec<u8>>>,
    restarts: usize,
}

impl Clients {
    fn new() -> Self {
        let dir = TempDir::new("properties");
        let transport = TestTransport::new(&InMemoryRelay::new());
        let clock = TestClock::new(T0);
        let draws = Draws::default();
        let paths: Vec<_> = USERS.iter().map(|u| dir.join(&format!("{u}.db"))).collect();
        let clients = USERS
            .iter()
            .zip(&paths)
            .enumerate()
            .map(|(i, (user, path))| {
                let store = Box::new(SqliteStore::open(path).expect("database"));
                let parts = parts(
                    transport.boxed(),
                    store,
                    &clock,
                    100 + i as u64,
                    &draws,
                    small_config(),
                );
                Some(Client::create(user, 1, parts).expect("create"))
            })
            .collect();
        Self {
            _dir: dir,
            transport,
            clock,
            draws,
            paths,
            clients,
            next_seed: 1_000,
            sent: BTreeMap::new(),
            received: BTreeMap::new(),
            restarts: 0,
        }
    }

    fn client(&mut self, i: usize) -> &mut Client {
        self.clients[i].as_mut().expect("client open")
    }

    fn apply(&mut self, op: &ClientOp) {
        match *op {
            ClientOp::Send { from, to_offset, len } => {
                let to = (from + to_offset) % 3;
                let list = self.sent.entry((from, to)).or_default();
                let mut body = format!("{}->{} #{} ", USERS[from], USERS[to], list.len()).into_bytes();
                body.resize(body.len().max(len), b'.');
                list.push(body.clone());
                self.client(from).send(USERS[to], &body).expect("send");
            }
            ClientOp::Receive(i) => {
                self.receive(i);
            }
            ClientOp::Restart(i) => {
                // Closed first: a restart is a new process on the same file.
                self.clients[i] = None;
                let store = Box::new(SqliteStore::open(&self.paths[i]).expect("database"));
                self.next_seed += 1;
                // A new RNG seed: a restarted device draws new randomness.
                let parts = parts(
                    self.transport.boxed(),
                    store,
                    &self.clock,
                    self.next_seed,
                    &self.draws,
                    small_config(),
                );
                self.clients[i] = Some(Client::open(parts).expect("open"));
                self.restarts += 1;
            }
        }
    }

    fn receive(&mut self, i: usize) -> usize {
        let report = self.client(i).receive().expect("receive");
        assert!(
            report.rejected.is_empty(),
            "{}: rejected {:?}",
            USERS[i],
            report.rejected
        );
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        for message in &report.messages {
            let from = USERS
                .iter()
                .position(|u| *u == message.from.user())
                .expect("known sender");
            self.received
                .entry((from, i))
                .or_default()
                .push(message.body.clone());
        }
        self.client(i).mark_read(&ids).expect("mark_read");
        ids.len()
    }

    /// Everyone receives until nothing is left, then every message arrived once, in order.
    fn finish(mut self) -> usize {
        for _ in 0..4 {
            for i in 0..3 {
                self.receive(i);
            }
        }
        for (i, user) in USERS.iter().enumerate() {
            assert_eq!(self.client(i).outbox_len().expect("outbox"), 0);
            assert_eq!(self.transport.pending(&address(user, 1)), 0);
        }
        assert_eq!(self.sent, self.received, "every message exactly once, in order");
        self.restarts
    }
}

proptest! {
    #![proptest_config(config(10))]

    #[test]
    fn clients_restarting_from_sqlite_deliver_every_message_once(
        ops in prop::collection::vec(client_op(), 1..50),
    ) {
        let mut clients = Clients::new();
        for op in &ops {
            clients.apply(op);
        }
        clients.finish();
    }
}
