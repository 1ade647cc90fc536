//! Fault injection (docs/ARCHITECTURE.md, section 4): three clients talk for thousands of random steps
//! through a transport that drops (holds back), duplicates and reorders envelopes and fails
//! sends, answers, acknowledgements and fetches, over stores that fail commits, with
//! restarts from the store at random. Then the faults stop and everyone catches up, and:
//!
//! - every message whose `send` returned `Ok` is delivered exactly once (one inbox id),
//!   and no message whose `send` failed is delivered;
//! - no nonce repeats among the distinct envelopes the relay saw, so no key and nonce pair
//!   ever repeats (the same bytes sent again are the same encryption, not a new one).
//!
//! The seed and the step are printed when it fails; `HEMLIS_FAULT_SEED` and
//! `HEMLIS_FAULT_STEPS` pick others.

use std::collections::{BTreeMap, HashMap, HashSet};

use hemlis::rand_core::{Rng, SeedableRng};
use hemlis::store::{Table, Write};
use hemlis::{Client, InMemoryRelay, MemoryStore, Store, Transport};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::envelope::nonces;
use hemlis_test::faults::chaos::{ChaosStore, ChaosTransport, FaultCounts, StorePlan, TransportRates};
use hemlis_test::forward::Forward;
use hemlis_test::rng::*;
use hemlis_test::store::*;
use rand_chacha::ChaCha20Rng;

const USERS: [&str; 3] = ["alice", "bob", "carol"];

struct Device {
    store: SharedStore,
    client: Client,
}

struct World {
    seed: u64,
    transport: ChaosTransport,
    plan: StorePlan,
    clock: TestClock,
    draws: Draws,
    devices: Vec<Device>,
    next_seed: u64,
    /// Bodies whose `send` returned `Ok`, per (sender, receiver).
    committed: HashSet<Vec<u8>>,
    /// Bodies whose `send` failed.
    failed: HashSet<Vec<u8>>,
    /// (receiver, inbox id) -> body, as the app records them.
    delivered: BTreeMap<(usize, u64), Vec<u8>>,
    next_body: usize,
    stats: BTreeMap<&'static str, usize>,
}

impl World {
    fn new(seed: u64) -> Self {
        let relay = InMemoryRelay::new();
        let transport = ChaosTransport::new(&relay, seed ^ 0x7a, TransportRates::DEFAULT);
        let plan = StorePlan::new(seed ^ 0x5b, 30);
        transport.set_on(false);
        plan.set_on(false);
        let clock = TestClock::new(T0);
        let draws = Draws::default();
        let devices = USERS
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let store = SharedStore::new();
                let boxed = Box::new(ChaosStore::new(store.boxed(), &plan));
                let parts = parts(
                    transport.boxed(),
                    boxed,
                    &clock,
                    seed * 16 + i as u64,
                    &draws,
                    small_config(),
                );
                let client = Client::create(user, 1, parts).expect("create");
                Device { store, client }
            })
            .collect();
        transport.set_on(true);
        plan.set_on(true);
        Self {
            seed,
            transport,
            plan,
            clock,
            draws,
            devices,
            next_seed: seed * 16 + 3,
            committed: HashSet::new(),
            failed: HashSet::new(),
            delivered: BTreeMap::new(),
            next_body: 0,
            stats: BTreeMap::new(),
        }
    }

    fn count(&mut self, what: &'static str) {
        *self.stats.entry(what).or_default() += 1;
    }

    fn send(&mut self, from: usize, to: usize, len: usize) {
        let mut body = format!("{}->{} #{} ", USERS[from], USERS[to], self.next_body).into_bytes();
        self.next_body += 1;
        body.resize(body.len().max(len), b'~');
        match self.devices[from].client.send(USERS[to], &body) {
            Ok(_) => {
                self.committed.insert(body);
                self.count("sends committed");
            }
            Err(_) => {
                self.failed.insert(body);
                self.count("sends refused");
            }
        }
    }

    /// The app's receive loop: record what the inbox holds (by inbox id), then mark it read.
    fn receive(&mut self, i: usize) {
        let messages = match self.devices[i].client.receive() {
            Ok(report) => {
                assert!(
                    report.rejected.is_empty(),
                    "seed {}: {} rejected {:?}",
                    self.seed,
                    USERS[i],
                    report.rejected
                );
                report.messages
            }
            Err(_) => {
                self.count("receives failed");
                // What was committed before the failure is in the inbox.
                match self.devices[i].client.inbox() {
                    Ok(messages) => messages,
                    Err(_) => return,
                }
            }
        };
        let mut ids = Vec::with_capacity(messages.len());
        for message in messages {
            let previous = self.delivered.insert((i, message.id), message.body.clone());
            assert!(
                previous.is_none_or(|p| p == message.body),
                "seed {}: inbox id {} of {} changed",
                self.seed,
                message.id,
                USERS[i]
            );
            ids.push(message.id);
        }
        if self.devices[i].client.mark_read(&ids).is_err() {
            self.count("mark_read failed");
        }
    }

    fn restart(&mut self, i: usize) {
        self.next_seed += 1;
        let store = self.devices[i].store.clone();
        let boxed = Box::new(ChaosStore::new(store.boxed(), &self.plan));
        let parts = parts(
            self.transport.boxed(),
            boxed,
            &self.clock,
            self.next_seed,
            &self.draws,
            small_config(),
        );
        self.devices[i].client = Client::open(parts).expect("open");
        self.count("restarts");
    }

    fn step(&mut self, rng: &mut ChaCha20Rng) {
        let i = (rng.next_u32() % 3) as usize;
        match rng.next_u32() % 100 {
            0..=39 => {
                let to = (i + 1 + (rng.next_u32() % 2) as usize) % 3;
                let len = (rng.next_u32() % 300) as usize;
                self.send(i, to, len);
            }
            40..=79 => self.receive(i),
            80..=89 => {
                if self.devices[i].client.flush().is_err() {
                    self.count("flushes failed");
                }
            }
            90..=93 => {
                let _ = self.devices[i].client.upkeep();
            }
            94..=95 => self.clock.advance(3_600),
            _ => self.restart(i),
        }
    }

    /// Faults off: everyone flushes and receives until nothing moves.
    fn settle(&mut self) {
        self.transport.set_on(false);
        self.plan.set_on(false);
        for _ in 0..6 {
            for i in 0..3 {
                self.devices[i].client.flush().expect("flush without faults");
                self.receive(i);
            }
        }
        for (i, user) in USERS.iter().enumerate() {
            assert_eq!(
                self.devices[i].client.outbox_len().unwrap(),
                0,
                "seed {}: {user}'s outbox",
                self.seed
            );
            assert_eq!(
                self.transport.relay.fetch(&address(user, 1)).unwrap().len(),
                0,
                "seed {}: {user}'s mailbox",
                self.seed
            );
        }
    }

    /// Exactly once, and no nonce twice.
    fn check(&self) {
        let mut seen: HashMap<&[u8], usize> = HashMap::new();
        for body in self.delivered.values() {
            *seen.entry(body.as_slice()).or_default() += 1;
        }
        let twice: Vec<_> = seen
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(b, _)| String::from_utf8_lossy(b))
            .collect();
        assert!(twice.is_empty(), "seed {}: delivered twice: {twice:?}", self.seed);
        let lost: Vec<_> = self
            .committed
            .iter()
            .filter(|b| !seen.contains_key(b.as_slice()))
            .map(|b| String::from_utf8_lossy(b))
            .collect();
        assert!(
            lost.is_empty(),
            "seed {}: lost {} messages: {lost:?}",
            self.seed,
            lost.len()
        );
        let ghosts: Vec<_> = seen.keys().filter(|b| self.failed.contains(**b)).collect();
        assert!(
            ghosts.is_empty(),
            "seed {}: a refused send was delivered",
            self.seed
        );
        assert_eq!(seen.len(), self.committed.len(), "seed {}", self.seed);

        let mut distinct: HashSet<Vec<u8>> = HashSet::new();
        let mut seen_nonces: HashMap<[u8; 24], usize> = HashMap::new();
        for sent in self.transport.sent() {
            if !distinct.insert(sent.envelope.clone()) {
                continue; // the same bytes again: a resend or a duplicate, not a new encryption
            }
            let (header, body) = nonces(&sent.envelope);
            for nonce in [header, body] {
                *seen_nonces.entry(nonce).or_default() += 1;
            }
        }
        let repeated = seen_nonces.values().filter(|n| **n > 1).count();
        assert_eq!(repeated, 0, "seed {}: {repeated} nonces repeat", self.seed);
    }
}

fn run(seed: u64, steps: usize) -> (BTreeMap<&'static str, usize>, FaultCounts, FaultCounts, usize) {
    println!("fault injection: seed {seed}, {steps} steps");
    let mut world = World::new(seed);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for step in 0..steps {
        // A panic inside a step names it (the harness prints this output on failure).
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.step(&mut rng)));
        if let Err(panic) = result {
            println!("failed at step {step} of seed {seed}");
            std::panic::resume_unwind(panic);
        }
    }
    world.settle();
    world.check();
    let envelopes = world.transport.sent().len();
    (
        world.stats,
        world.transport.counts(),
        world.plan.counts(),
        envelopes,
    )
}

fn seeds_and_steps() -> (Vec<u64>, usize) {
    let seeds = std::env::var("HEMLIS_FAULT_SEED")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().parse().expect("HEMLIS_FAULT_SEED: numbers"))
                .collect()
        })
        .unwrap_or_else(|| vec![0x0fa0_17ed, 0x5eed_0002]);
    let steps = std::env::var("HEMLIS_FAULT_STEPS")
        .ok()
        .map(|s| s.parse().expect("HEMLIS_FAULT_STEPS: a number"))
        .unwrap_or(10_000);
    (seeds, steps)
}

#[test]
fn randomized_faults_deliver_every_message_exactly_once() {
    let (seeds, steps) = seeds_and_steps();
    for seed in seeds {
        let started = std::time::Instant::now();
        let (stats, transport, store, envelopes) = run(seed, steps);
        println!("seed {seed}: {steps} steps in {:.1?}", started.elapsed());
        println!("  operations: {stats:?}");
        println!("  envelopes at the relay: {envelopes}");
        println!("  transport faults: {transport:?}");
        println!("  store faults: {store:?}");
        assert!(transport.held_back > 0 && transport.duplicated_sends > 0 && transport.failed_acks > 0);
        assert!(transport.reordered_fetches > 0 && transport.lost_send_answers > 0);
        assert!(store.failed_commits > 0 && stats.get("restarts").is_some_and(|n| *n > 0));
    }
}

// ---------------------------------------------------------------------------------------
// The wrappers themselves

fn put(key: u8) -> Write {
    Write::Put {
        table: Table::Meta,
        key: vec![key],
        value: vec![key],
    }
}

#[test]
fn the_store_wrapper_fails_the_nth_write_and_the_chosen_commit_and_changes_nothing() {
    let plan = StorePlan::new(1, 0);
    let inner = SharedStore::new();
    let mut store = ChaosStore::new(inner.boxed(), &plan);
    // Writes 1, 2 | 3, 4, 5 | 6: the 4th write fails the second commit, all of it.
    plan.fail_nth_write(4);
    store.commit(vec![put(1), put(2)]).expect("first commit");
    assert!(store.commit(vec![put(3), put(4), put(5)]).is_err());
    assert_eq!(
        inner.snapshot().records().count(),
        2,
        "a failed commit applies no write"
    );
    store.commit(vec![put(6)]).expect("only that commit fails");
    // The 2nd commit from now fails.
    plan.fail_nth_commit(2);
    store.commit(vec![put(7)]).expect("first");
    assert!(store.commit(vec![put(8)]).is_err());
    store.commit(vec![put(9)]).expect("third");
    assert_eq!(inner.snapshot().records().count(), 5);
    assert_eq!(plan.counts().failed_commits, 2);
    assert_eq!(plan.commits(), 6);
    // Random faults at 50%, switched off: nothing fails.
    let plan = StorePlan::new(2, 500);
    let mut store = ChaosStore::new(Box::new(MemoryStore::new()), &plan);
    plan.set_on(false);
    for k in 0..50 {
        store.commit(vec![put(k)]).expect("faults off");
    }
}

#[test]
fn the_transport_wrapper_holds_back_a_bounded_number_of_times_and_loses_nothing() {
    let relay = InMemoryRelay::new();
    let rates = TransportRates {
        hold_back: 1000,
        max_hold_backs: 2,
        duplicate_delivery: 0,
        fail_fetch: 0,
        ..TransportRates::DEFAULT
    };
    let transport = ChaosTransport::new(&relay, 3, rates);
    let (a, b) = (address("a", 1), address("b", 1));
    let account = hemlis::Account::new(&mut rng(5), T0);
    let upload = hemlis::transport::PrekeyUpload::new(&account, Vec::new(), Vec::new());
    relay.publish(&b, &upload.encode()).unwrap();
    relay.send(&a, &b, b"one").unwrap();
    // Held back twice, then handed out.
    assert!(transport.fetch(&b).unwrap().is_empty());
    assert!(transport.fetch(&b).unwrap().is_empty());
    assert_eq!(transport.fetch(&b).unwrap().len(), 1);
    // Duplicated sends reach the relay twice and are both recorded.
    let rates = TransportRates {
        fail_send: 0,
        lose_send_answer: 0,
        duplicate_send: 1000,
        ..TransportRates::DEFAULT
    };
    let transport = ChaosTransport::new(&relay, 4, rates);
    transport.send(&a, &b, b"two").unwrap();
    assert_eq!(transport.sent().len(), 2);
    transport.set_on(false);
    assert_eq!(transport.fetch(&b).unwrap().len(), 3);
}
