//! Faults between the client and the world (docs/ARCHITECTURE.md, section 4): a transport that fails on
//! send, loses an answer or an acknowledgement; a store that fails a commit; a crash after
//! the inbox commit and before the acknowledgement; a store rolled back. Nothing is lost,
//! nothing is delivered twice.

use hemlis::store::StoreError;
use hemlis::transport::TransportError;
use hemlis::{Client, ClientError, InMemoryRelay, MemoryStore, ReceiveReport, SqliteStore, Store, Transport};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::envelope::*;
use hemlis_test::faults::*;
use hemlis_test::rng::*;
use hemlis_test::store::*;
use hemlis_test::tempdir::*;

struct World {
    transport: TestTransport,
    draws: Draws,
    clock: TestClock,
}

impl World {
    fn new() -> Self {
        Self {
            transport: TestTransport::new(&InMemoryRelay::new()),
            draws: Draws::default(),
            clock: TestClock::new(T0),
        }
    }

    fn create(&self, user: &str, store: Box<dyn Store>, seed: u64) -> Client {
        self.create_on(self.transport.boxed(), user, store, seed)
    }

    fn create_on(
        &self,
        transport: Box<dyn hemlis::Transport>,
        user: &str,
        store: Box<dyn Store>,
        seed: u64,
    ) -> Client {
        let parts = parts(transport, store, &self.clock, seed, &self.draws, small_config());
        Client::create(user, 1, parts).expect("create")
    }

    fn open(&self, store: Box<dyn Store>, seed: u64) -> Client {
        self.open_on(self.transport.boxed(), store, seed)
    }

    fn open_on(&self, transport: Box<dyn hemlis::Transport>, store: Box<dyn Store>, seed: u64) -> Client {
        let parts = parts(transport, store, &self.clock, seed, &self.draws, small_config());
        Client::open(parts).expect("open")
    }

    fn memory(&self, user: &str, seed: u64) -> Client {
        self.create(user, Box::new(MemoryStore::new()), seed)
    }

    fn faults(&self) -> &TransportFaults {
        &self.transport.faults
    }
}

fn set(flag: &std::sync::atomic::AtomicBool, on: bool) {
    TransportFaults::set(flag, on);
}

/// Sessions both ways, so later messages are ordinary ratchet messages.
fn establish(a: &mut Client, b: &mut Client) {
    a.send(b.address().user(), b"hello").expect("send");
    receive_exactly(b, &[b"hello"]);
    b.send(a.address().user(), b"hello back").expect("send");
    receive_exactly(a, &[b"hello back"]);
}

fn bodies(report: &ReceiveReport) -> Vec<&[u8]> {
    report.messages.iter().map(|m| m.body.as_slice()).collect()
}

#[test]
fn a_failed_send_stays_in_the_outbox_and_flush_delivers_it_once() {
    for established in [false, true] {
        let w = World::new();
        let mut alice = w.memory("alice", 1);
        let mut bob = w.memory("bob", 2);
        if established {
            establish(&mut alice, &mut bob);
        }
        set(&w.faults().fail_send, true);
        // Committed: `send` succeeds, the transport error is swallowed.
        assert_eq!(alice.send("bob", b"first").expect("send"), 1);
        assert_eq!(alice.outbox_len().expect("outbox"), 1);
        assert_eq!(w.transport.pending(bob.address()), 0);
        assert!(bob.receive().expect("receive").messages.is_empty());
        // A flush while the relay is still down fails and keeps it.
        assert!(matches!(alice.flush(), Err(ClientError::Transport(_))));
        assert_eq!(alice.outbox_len().expect("outbox"), 1);
        // A second message queues behind the first.
        alice.send("bob", b"second").expect("send");
        assert_eq!(alice.outbox_len().expect("outbox"), 2);
        set(&w.faults().fail_send, false);
        assert_eq!(alice.flush().expect("flush"), 2);
        assert_eq!(alice.outbox_len().expect("outbox"), 0);
        assert_eq!(alice.flush().expect("flush"), 0, "nothing is sent twice");
        let report = bob.receive().expect("receive");
        assert_eq!(bodies(&report), [b"first".as_slice(), b"second"]);
        assert_eq!(report.duplicates, 0);
        bob.mark_read(&report.messages.iter().map(|m| m.id).collect::<Vec<_>>())
            .expect("mark_read");
        assert_eq!(w.transport.pending(bob.address()), 0);
        let report = bob.receive().expect("receive");
        assert!(report.messages.is_empty() && report.duplicates == 0);
        // The conversation goes on in both directions.
        bob.send("alice", b"got them").expect("send");
        receive_exactly(&mut alice, &[b"got them"]);
        alice.send("bob", b"good").expect("send");
        receive_exactly(&mut bob, &[b"good"]);
    }
}

#[test]
fn a_lost_send_answer_resends_and_the_copy_is_only_acknowledged() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let mut bob = w.memory("bob", 2);
    establish(&mut alice, &mut bob);
    // The relay took it, but the answer was lost: the outbox keeps it and resends it.
    set(&w.faults().lose_send_answer, true);
    alice.send("bob", b"once").expect("send");
    assert_eq!(alice.outbox_len().expect("outbox"), 1);
    set(&w.faults().lose_send_answer, false);
    assert_eq!(alice.flush().expect("flush"), 1);
    let sent = w.transport.sent();
    let copies: Vec<_> = sent
        .iter()
        .filter(|s| s.to == *bob.address())
        .rev()
        .take(2)
        .collect();
    assert_eq!(
        copies[0].envelope, copies[1].envelope,
        "the same bytes went twice"
    );
    assert_eq!(w.transport.pending(bob.address()), 2);
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"once".as_slice()]);
    assert_eq!(report.duplicates, 1);
    assert!(report.rejected.is_empty());
    assert_eq!(w.transport.pending(bob.address()), 0, "both copies acknowledged");
}

#[test]
fn a_lost_answer_on_an_initial_envelope_is_only_acknowledged() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let mut bob = w.memory("bob", 2);
    set(&w.faults().lose_send_answer, true);
    alice.send("bob", b"first contact").expect("send");
    set(&w.faults().lose_send_answer, false);
    assert_eq!(alice.flush().expect("flush"), 1);
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"first contact".as_slice()]);
    assert_eq!(report.duplicates, 1);
    assert!(report.rejected.is_empty());
}

/// Bob receives with a failing acknowledgement, "crashes" (the client is dropped) and
/// restarts from his store; `reopen` makes the store handle for the restart.
fn crash_before_ack(w: &World, mut bob: Client, alice: &mut Client, reopen: impl Fn() -> Box<dyn Store>) {
    establish(alice, &mut bob);
    alice.send("bob", b"one").expect("send");
    alice.send("bob", b"two").expect("send");
    set(&w.faults().fail_ack, true);
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"one".as_slice(), b"two"]);
    set(&w.faults().fail_ack, false);
    assert_eq!(w.transport.pending(bob.address()), 2, "not acknowledged");
    drop(bob);

    let mut bob = w.open(reopen(), 20);
    let report = bob.receive().expect("receive");
    assert_eq!(report.duplicates, 2, "the refetched envelopes are recognised");
    assert!(report.rejected.is_empty());
    assert_eq!(bodies(&report), [b"one".as_slice(), b"two"], "in the inbox once");
    assert_eq!(w.transport.pending(bob.address()), 0, "and acknowledged now");
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    bob.mark_read(&ids).expect("mark_read");
    let report = bob.receive().expect("receive");
    assert!(report.messages.is_empty() && report.duplicates == 0);

    // Once more, with the message marked read before the crash.
    alice.send("bob", b"three").expect("send");
    set(&w.faults().fail_ack, true);
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"three".as_slice()]);
    bob.mark_read(&[report.messages[0].id]).expect("mark_read");
    set(&w.faults().fail_ack, false);
    drop(bob);
    let mut bob = w.open(reopen(), 21);
    let report = bob.receive().expect("receive");
    assert_eq!(report.duplicates, 1);
    assert!(report.messages.is_empty(), "not delivered a second time");
    // The sessions are intact both ways.
    bob.send("alice", b"all good").expect("send");
    receive_exactly(alice, &[b"all good"]);
    alice.send("bob", b"yes").expect("send");
    receive_exactly(&mut bob, &[b"yes"]);
}

#[test]
fn a_crash_between_inbox_commit_and_ack_delivers_once_memory_store() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let store = SharedStore::new();
    let bob = w.create("bob", store.boxed(), 2);
    crash_before_ack(&w, bob, &mut alice, || store.boxed());
}

#[test]
fn a_crash_between_inbox_commit_and_ack_delivers_once_sqlite_store() {
    let dir = TempDir::new("faults-ack");
    let db = dir.join("bob.db");
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let bob = w.create("bob", Box::new(SqliteStore::open(&db).expect("open")), 2);
    crash_before_ack(&w, bob, &mut alice, || {
        Box::new(SqliteStore::open(&db).expect("open"))
    });
}

#[test]
fn a_crash_right_after_the_commit_of_a_first_message_delivers_once() {
    // The first (initial) envelope: the crash snapshot is taken right after the commit
    // that accepted it, before anything else happens.
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let store = SharedStore::new();
    let mut bob = w.create("bob", store.boxed(), 2);
    alice.send("bob", b"hi").expect("send");
    alice.send("bob", b"hi again").expect("send");
    set(&w.faults().fail_ack, true);
    assert_eq!(
        bodies(&bob.receive().expect("receive")),
        [b"hi".as_slice(), b"hi again"]
    );
    let crashed = store.snapshot();
    set(&w.faults().fail_ack, false);
    drop(bob);
    let mut bob = w.open(SharedStore::from_snapshot(crashed).boxed(), 3);
    let report = bob.receive().expect("receive");
    assert_eq!(
        (report.duplicates, bodies(&report)),
        (2, vec![b"hi".as_slice(), b"hi again"])
    );
    bob.send("alice", b"hello").expect("send");
    receive_exactly(&mut alice, &[b"hello"]);
}

#[test]
fn a_failed_commit_while_receiving_loses_nothing() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let faults = StoreFaults::default();
    let mut bob = w.create(
        "bob",
        Box::new(FaultyStore::new(Box::new(MemoryStore::new()), &faults)),
        2,
    );
    establish(&mut alice, &mut bob);
    for body in [b"a".as_slice(), b"b", b"c"] {
        alice.send("bob", body).expect("send");
    }
    // The first envelope commits, the second's commit fails: `receive` stops there and
    // acknowledges nothing.
    faults.fail_commits(1, 1);
    let err = bob.receive().expect_err("the commit failed");
    assert!(
        matches!(err, ClientError::Store(StoreError::Backend(_))),
        "{err:?}"
    );
    assert_eq!(w.transport.pending(bob.address()), 3);
    assert_eq!(bob.inbox().expect("inbox").len(), 1);
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"a".as_slice(), b"b", b"c"]);
    assert_eq!(report.duplicates, 1);
    assert_eq!(w.transport.pending(bob.address()), 0);
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    let mut sorted = ids.clone();
    sorted.dedup();
    assert_eq!(sorted, ids, "distinct inbox ids");
    bob.mark_read(&ids).expect("mark_read");
    bob.send("alice", b"ok").expect("send");
    receive_exactly(&mut alice, &[b"ok"]);
}

#[test]
fn a_failed_commit_of_a_first_message_keeps_the_prekeys() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let faults = StoreFaults::default();
    let mut bob = w.create(
        "bob",
        Box::new(FaultyStore::new(Box::new(MemoryStore::new()), &faults)),
        2,
    );
    alice.send("bob", b"first").expect("send");
    faults.fail_commits(0, 1);
    assert!(matches!(bob.receive(), Err(ClientError::Store(_))));
    // The one-time prekey was not consumed in memory either: the retry accepts it.
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"first".as_slice()]);
    assert_eq!((report.duplicates, report.rejected.len()), (0, 0));
    bob.send("alice", b"welcome").expect("send");
    receive_exactly(&mut alice, &[b"welcome"]);
}

#[test]
fn a_failed_commit_while_sending_sends_nothing() {
    for established in [false, true] {
        let w = World::new();
        let faults = StoreFaults::default();
        let mut alice = w.create(
            "alice",
            Box::new(FaultyStore::new(Box::new(MemoryStore::new()), &faults)),
            1,
        );
        let mut bob = w.memory("bob", 2);
        if established {
            establish(&mut alice, &mut bob);
        }
        faults.fail_commits(0, 1);
        assert!(matches!(alice.send("bob", b"lost"), Err(ClientError::Store(_))));
        assert_eq!(alice.outbox_len().expect("outbox"), 0);
        assert_eq!(w.transport.pending(bob.address()), 0);
        alice.send("bob", b"kept").expect("send");
        receive_exactly(&mut bob, &[b"kept"]);
        bob.send("alice", b"fine").expect("send");
        receive_exactly(&mut alice, &[b"fine"]);
        alice.send("bob", b"again").expect("send");
        receive_exactly(&mut bob, &[b"again"]);
    }
}

#[test]
fn a_failed_fetch_changes_nothing() {
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let mut bob = w.memory("bob", 2);
    alice.send("bob", b"waiting").expect("send");
    set(&w.faults().fail_fetch, true);
    assert!(matches!(
        bob.receive(),
        Err(ClientError::Transport(TransportError::Unavailable(_)))
    ));
    set(&w.faults().fail_fetch, false);
    receive_exactly(&mut bob, &[b"waiting"]);
}

#[test]
fn a_device_created_while_the_relay_is_down_publishes_later() {
    let w = World::new();
    set(&w.faults().fail_publish, true);
    let store = SharedStore::new();
    let mut bob = w.create("bob", store.boxed(), 2);
    assert!(
        w.transport
            .relay
            .with_state(|s| s.devices("bob"))
            .expect("relay")
            .is_empty()
    );
    assert!(w.transport.relay.fetch_device_list("bob").is_err());
    assert!(matches!(bob.upkeep(), Err(ClientError::Transport(_))));
    // Still pending after a restart.
    drop(bob);
    let mut bob = w.open(store.boxed(), 3);
    set(&w.faults().fail_publish, false);
    assert!(bob.upkeep().expect("upkeep"), "published now");
    assert!(!bob.upkeep().expect("upkeep"), "and only once");
    let mut alice = w.memory("alice", 1);
    alice.send("bob", b"found you").expect("send");
    receive_exactly(&mut bob, &[b"found you"]);
}

#[test]
fn a_rolled_back_store_never_reuses_a_nonce() {
    // A backup restored after a message left: the restored state derives the same message
    // key again, but the fresh random nonces keep the two plaintexts apart.
    let w = World::new();
    let mut alice_store = SharedStore::new();
    let mut alice = w.create("alice", alice_store.boxed(), 1);
    let mut bob = w.memory("bob", 2);
    establish(&mut alice, &mut bob);
    let backup = alice_store.snapshot();
    alice.send("bob", b"before the rollback").expect("send");
    drop(alice);
    alice_store = SharedStore::from_snapshot(backup);
    let mut alice = w.open(alice_store.boxed(), 11);
    alice.send("bob", b"after the rollback").expect("send");
    let sent = w.transport.sent();
    let (first, second) = (&sent[sent.len() - 2].envelope, &sent[sent.len() - 1].envelope);
    assert_ne!(first, second);
    let (h1, b1) = nonces(first);
    let (h2, b2) = nonces(second);
    assert!(h1 != h2 && b1 != b2, "fresh nonces after the rollback");
    // Bob reads the first; the second reuses its key and is refused as a duplicate rather
    // than decrypted.
    let report = bob.receive().expect("receive");
    assert_eq!(bodies(&report), [b"before the rollback".as_slice()]);
    assert_eq!(report.duplicates, 1);
    let _ = alice.store();
}

#[test]
fn a_transport_that_fails_every_call_loses_nothing() {
    // Alice's transport is down for her whole session; a second handle on the same store
    // with a working transport (the app restarted with the network back) sends it all.
    let w = World::new();
    let mut bob = w.memory("bob", 2);
    let store = SharedStore::new();
    let mut alice = w.create("alice", store.boxed(), 1);
    establish(&mut alice, &mut bob);
    set(&w.faults().fail_send, true);
    for body in [b"1".as_slice(), b"2", b"3", b"4"] {
        alice.send("bob", body).expect("send");
    }
    assert_eq!(alice.outbox_len().expect("outbox"), 4);
    drop(alice);
    set(&w.faults().fail_send, false);
    let mut alice = w.open(store.boxed(), 5);
    assert_eq!(alice.flush().expect("flush"), 4);
    receive_exactly(&mut bob, &[b"1", b"2", b"3", b"4"]);
}

#[test]
fn an_envelope_the_relay_hands_out_again_later_is_only_acknowledged() {
    // The relay resends envelopes already delivered and acknowledged, after the
    // conversation moved on by a few messages and two ratchet turns: each is recognised.
    let w = World::new();
    let mut alice = w.memory("alice", 1);
    let mut bob = w.memory("bob", 2);
    alice.send("bob", b"initial").expect("send");
    let initial = w.transport.sent().last().expect("sent").clone();
    receive_exactly(&mut bob, &[b"initial"]);
    let mut old = vec![initial];
    for round in 0..2 {
        for i in 0..3 {
            alice
                .send("bob", format!("{round}.{i}").as_bytes())
                .expect("send");
            old.push(w.transport.sent().last().expect("sent").clone());
        }
        let report = bob.receive().expect("receive");
        assert_eq!(report.messages.len(), 3);
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        bob.mark_read(&ids).expect("mark_read");
        bob.send("alice", b"turn").expect("send");
        receive_exactly(&mut alice, &[b"turn"]);
    }
    for copy in &old {
        w.transport
            .relay
            .send(&copy.from, &copy.to, &copy.envelope)
            .expect("requeue");
    }
    let report = bob.receive().expect("receive");
    assert!(report.messages.is_empty(), "nothing delivered twice");
    assert_eq!(report.duplicates, old.len(), "rejected: {:?}", report.rejected);
    assert_eq!(w.transport.pending(bob.address()), 0);
}
