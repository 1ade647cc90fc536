//! Smoke test of the client: three devices on an in-memory relay, one restart from SQLite.

use hemlis::client::{ClientConfig, ClientParts};
use hemlis::rand_core::SeedableRng;
use hemlis::{Client, Clock, InMemoryRelay, MemoryStore, SqliteStore, Store};

struct FixedClock(u64);
impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

fn parts(relay: &InMemoryRelay, store: Box<dyn Store>, seed: u64) -> ClientParts {
    ClientParts {
        storage_key: [7; 32],
        store,
        transport: Box::new(relay.clone()),
        clock: Box::new(FixedClock(1_700_000_000)),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        config: ClientConfig::default(),
    }
}

#[test]
fn three_devices_talk_and_one_restarts_from_sqlite() {
    let dir = std::env::temp_dir().join(format!("hemlis-smoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("bob.db");
    let relay = InMemoryRelay::new();
    let mut alice = Client::create("alice", 1, parts(&relay, Box::new(MemoryStore::new()), 1)).unwrap();
    let mut bob = Client::create(
        "bob",
        1,
        parts(&relay, Box::new(SqliteStore::open(&db).unwrap()), 2),
    )
    .unwrap();
    let mut bob2 = Client::create("bob", 2, parts(&relay, Box::new(MemoryStore::new()), 3)).unwrap();

    assert_eq!(alice.send("bob", b"hi bob").unwrap(), 2);
    for b in [&mut bob, &mut bob2] {
        let report = b.receive().unwrap();
        assert_eq!(report.messages.len(), 1);
        assert_eq!(report.messages[0].body, b"hi bob");
        assert_eq!(report.messages[0].from.user, "alice");
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
        alice.safety_number(bob.address()).unwrap(),
        bob.safety_number(alice.address()).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
