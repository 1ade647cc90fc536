//! Smoke test of the client: three devices on an in-memory relay, one restart from SQLite.

use hemlis::{
    Client, ClientConfig, ClientParts, InMemoryRelay, MemoryStore, SqliteStore, Store, Transport as _,
};
use hemlis_test::clock::FixedClock;
use hemlis_test::forward::{Forward, Forwarding};
use hemlis_test::rng::rng;
use hemlis_test::tempdir::TempDir;

fn parts(relay: &InMemoryRelay, store: Box<dyn Store>, seed: u64) -> ClientParts {
    ClientParts {
        storage_key: [7; 32],
        store,
        transport: Box::new(relay.clone()),
        clock: Box::new(FixedClock(1_700_000_000)),
        rng: Box::new(rng(seed)),
        config: ClientConfig::default(),
    }
}

#[test]
fn three_devices_talk_and_one_restarts_from_sqlite() {
    let dir = TempDir::new("smoke");
    let db = dir.join("bob.db");
    let relay = InMemoryRelay::new();
    let mut alice = Client::create("alice", 1, parts(&relay, Box::new(MemoryStore::new()), 1)).unwrap();
    let mut bob = Client::create(
        "bob",
        1,
        parts(&relay, Box::new(SqliteStore::open(&db).unwrap()), 2),
    )
    .unwrap();
    let mut bob2 = Client::create_linked("bob", 2, parts(&relay, Box::new(MemoryStore::new()), 3)).unwrap();
    hemlis_test::client::link(&mut bob, &mut bob2);

    assert_eq!(alice.send("bob", b"hi bob").unwrap(), 2);
    for b in [&mut bob, &mut bob2] {
        let report = b.receive().unwrap();
        assert_eq!(report.messages.len(), 1);
        assert_eq!(report.messages[0].body, b"hi bob");
        assert_eq!(report.messages[0].from.user(), "alice");
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        b.mark_read(&ids).unwrap();
    }
    bob.send("alice", b"hi alice").unwrap();
    drop(bob);
    let mut bob = Client::open(parts(&relay, Box::new(SqliteStore::open(&db).unwrap()), 4)).unwrap();
    let report = alice.receive().unwrap();
    assert_eq!(report.messages.len(), 1);
    assert_eq!(report.messages[0].body, b"hi alice");
    alice.mark_read(&[report.messages[0].id]).unwrap();
    alice.send("bob", b"after restart").unwrap();
    let report = bob.receive().unwrap();
    assert_eq!(report.messages.last().unwrap().body, b"after restart");
    assert_eq!(
        alice.safety_number("bob").unwrap(),
        bob.safety_number("alice").unwrap()
    );
}

/// A relay that relabels the sender of every envelope it hands out.
struct Relabel {
    relay: InMemoryRelay,
    as_from: std::sync::Mutex<Option<hemlis::Address>>,
}

impl Forward for Relabel {
    fn inner(&self) -> &dyn hemlis::Transport {
        &self.relay
    }
    fn fetch(
        &self,
        d: &hemlis::Address,
    ) -> Result<Vec<hemlis::transport::Incoming>, hemlis::transport::TransportError> {
        let mut incoming = self.relay.fetch(d)?;
        if let Some(fake) = self.as_from.lock().unwrap().clone() {
            for i in &mut incoming {
                i.from = fake.clone();
            }
        }
        Ok(incoming)
    }
    fn ack(&self, d: &hemlis::Address, ids: &[u64]) -> Result<(), hemlis::transport::TransportError> {
        // A relay that relabels also keeps the envelope, to see whether the truth still works.
        if self.as_from.lock().unwrap().is_some() {
            return Ok(());
        }
        self.relay.ack(d, ids)
    }
}

#[test]
fn a_relabelled_envelope_changes_nothing_and_the_true_one_still_arrives() {
    let relay = InMemoryRelay::new();
    let mut alice = Client::create("alice", 1, parts(&relay, Box::new(MemoryStore::new()), 11)).unwrap();
    let _carol = Client::create("carol", 1, parts(&relay, Box::new(MemoryStore::new()), 12)).unwrap();
    let carol_address = hemlis::Address::new("carol", 1).unwrap();
    let relabel = std::sync::Arc::new(Relabel {
        relay: relay.clone(),
        as_from: std::sync::Mutex::new(Some(carol_address.clone())),
    });
    let mut bob_parts = parts(&relay, Box::new(MemoryStore::new()), 13);
    bob_parts.transport = Box::new(Forwarding(relabel.clone()));
    let mut bob = Client::create("bob", 1, bob_parts).unwrap();

    alice.send("bob", b"from alice").unwrap();
    let report = bob.receive().unwrap();
    assert!(report.messages.is_empty());
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].reason, hemlis::RejectReason::SenderMismatch);
    assert_eq!(report.rejected[0].from, carol_address);
    // Nothing was learned about carol's device: no session, no pending change, sending is
    // not blocked.
    assert_eq!(bob.peer_identity(&carol_address).unwrap(), None);
    assert_eq!(bob.pending_account("carol"), None);

    // The relay stops lying: the same envelope, truly labelled, is accepted (nothing was
    // consumed by the relabelled attempt).
    *relabel.as_from.lock().unwrap() = None;
    let report = bob.receive().unwrap();
    assert_eq!(report.messages.len(), 1);
    assert_eq!(report.messages[0].body, b"from alice");
    assert_eq!(report.messages[0].from.user(), "alice");
}
