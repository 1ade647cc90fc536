//! Durable workloads (BENCHMARKS.md): two clients, each with its own `SqliteStore` holding
//! `n` sessions, talking through an `InMemoryRelay`. One measured message is
//! `a.send_to(b)` (ratchet step, outbox commit, relay send, outbox delete), `b.receive()`
//! (relay fetch, decryption, inbox commit, acknowledgement) and `b.mark_read` (inbox
//! delete), exactly what an app does per message.
//!
//! The `n - 1` other sessions of each store are real sessions built through the public
//! API, established in both directions (an initial message and a reply), so their records
//! have the size and shape of a conversation's. Up to `REAL_PEERS_UP_TO` other sessions,
//! each peer is a real `Client` on the relay, created, talked to and dropped, one set of
//! peers per store. Above it, creating a client per peer is too slow, so peers are
//! stand-ins: `STAND_IN_ACCOUNTS` bare `Account`s serve bundles (with their last-resort KEM
//! prekey, as a relay does once the one-time prekeys are gone) for any number of addresses;
//! `a` sends to each address with `Client::send_to`, a stand-in account accepts the initial
//! message and replies through the relay with the client payload of docs/PROTOCOL.md
//! section 12.2 (in a second thread), and `a` receives the reply. `b`'s store gets a copy of
//! these sealed peer records: both stores have the same storage key, and a record is bound
//! to its table and row key only (section 12.3), so the copies are valid records of `b`'s
//! store, of the same size and shape (sessions that `a` holds).
//!
//! Sessions are built in a `MemoryStore` (no fsync per commit); the records are then copied,
//! as they are, into each SQLite file in one commit.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use hemlis::store::{Table, Write};
use hemlis::transport::{RelayState, TransportError};
use hemlis::{
    Account, Address, Client, ClientConfig, ClientParts, Envelope, InMemoryRelay, Limits, MemoryStore,
    SqliteStore, Store, Transport, fast_rng,
};

use hemlis_test::clock::FixedClock;
use hemlis_test::envelope::client_payload;
use hemlis_test::forward::{Forward, Forwarding};

use crate::common::NOW;

/// Sessions in each store.
pub const SESSIONS: [usize; 3] = [1, 1_000, 100_000];
/// Stores with up to this many sessions get real peer clients; larger ones stand-ins.
pub const REAL_PEERS_UP_TO: usize = 1_000;
/// Accounts behind the stand-in addresses (each records the base keys it accepted, at most
/// `Limits::max_replay_records` per signed prekey).
pub const STAND_IN_ACCOUNTS: usize = 8;
/// Peers set up per `send_to` call.
const BATCH: usize = 500;
/// The storage key of every store.
const STORAGE_KEY: [u8; 32] = [0x5a; 32];
/// Body of every message (as one-way 256 B).
pub const BODY_LEN: usize = 256;

/// Prekey settings of the peers: one one-time prekey of each kind is enough for them.
fn small_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.one_time_prekeys = 1;
    config.replenish_below = 1;
    config
}

fn parts(store: Box<dyn Store>, transport: Box<dyn Transport>, config: ClientConfig) -> ClientParts {
    ClientParts {
        storage_key: STORAGE_KEY,
        store,
        transport,
        clock: Box::new(FixedClock(NOW)),
        rng: Box::new(fast_rng()),
        config,
    }
}

/// A relay that keeps no byte log (`InMemoryRelay::new` logs every byte it sees).
pub fn relay() -> InMemoryRelay {
    let relay = InMemoryRelay::new();
    relay.with_state(|s| *s = RelayState::default()).expect("relay");
    relay
}

/// Stand-in peers: `STAND_IN_ACCOUNTS` accounts answering for any address `s<i>` (device 1),
/// the account `i % STAND_IN_ACCOUNTS`.
struct StandIns {
    accounts: Vec<Account>,
    bundles: Vec<Vec<u8>>,
}

impl StandIns {
    fn new() -> Self {
        let mut rng = fast_rng();
        let accounts: Vec<Account> = (0..STAND_IN_ACCOUNTS)
            .map(|_| Account::new(&mut rng, NOW))
            .collect();
        let bundles = accounts
            .iter()
            .map(|a| a.prekey_bundle(None, None).expect("bundle").encode())
            .collect();
        Self { accounts, bundles }
    }

    fn index(address: &Address) -> Option<usize> {
        address.user().strip_prefix('s')?.parse().ok()
    }

    fn address(i: usize) -> Address {
        Address::new(format!("s{i}"), 1).expect("address")
    }

    /// The stand-in index of an encoded address (a peer row key).
    fn index_of_key(key: &[u8]) -> Option<usize> {
        Self::index(&Address::decode_prefix(key)?.0)
    }
}

/// The envelopes a client sent to stand-ins, waiting for them.
type Mailbox = Arc<Mutex<Vec<(Address, Vec<u8>)>>>;

/// The transport of a client being set up: the relay, except that stand-in addresses get
/// their account's bundle and the envelopes sent to them are kept for the stand-in.
struct SetupTransport {
    relay: InMemoryRelay,
    bundles: Arc<Vec<Vec<u8>>>,
    to_stand_ins: Mailbox,
}

impl Forward for SetupTransport {
    fn inner(&self) -> &dyn Transport {
        &self.relay
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        match StandIns::index(device) {
            Some(i) => Ok(self.bundles[i % self.bundles.len()].clone()),
            None => self.relay.fetch_bundle(device),
        }
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        match StandIns::index(to) {
            Some(_) => {
                self.to_stand_ins
                    .lock()
                    .expect("stand-in mailbox")
                    .push((to.clone(), envelope.to_vec()));
                Ok(())
            }
            None => self.relay.send(from, to, envelope),
        }
    }
}

/// A client being set up in a `MemoryStore`, with the stand-in mailbox of its transport.
struct Building {
    client: Client,
    to_stand_ins: Mailbox,
}

impl Building {
    fn create(user: &str, relay: &InMemoryRelay, bundles: &Arc<Vec<Vec<u8>>>) -> Self {
        let to_stand_ins = Arc::new(Mutex::new(Vec::new()));
        let transport = SetupTransport {
            relay: relay.clone(),
            bundles: bundles.clone(),
            to_stand_ins: to_stand_ins.clone(),
        };
        let client = Client::create(
            user,
            1,
            parts(
                Box::new(MemoryStore::new()),
                Box::new(Forwarding(transport)),
                ClientConfig::default(),
            ),
        )
        .expect("client");
        Self { client, to_stand_ins }
    }

    /// Receives everything waiting, checks it all decrypted, and empties the inbox.
    fn receive_all(&mut self, expected: usize) {
        let report = self.client.receive().expect("receive");
        assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
        assert_eq!(report.messages.len(), expected);
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        self.client.mark_read(&ids).expect("mark read");
    }

    /// `count` sessions with real peer clients `<tag>p<i>`, each created, greeted, made to
    /// reply, and dropped.
    fn add_real_peers(&mut self, tag: &str, count: usize, relay: &InMemoryRelay) {
        let me = self.client.address().clone();
        let mut next = 0;
        while next < count {
            let batch = BATCH.min(count - next);
            let mut peers: Vec<Client> = (next..next + batch)
                .map(|i| {
                    Client::create(
                        &format!("{tag}p{i}"),
                        1,
                        parts(
                            Box::new(MemoryStore::new()),
                            Box::new(relay.clone()),
                            small_config(),
                        ),
                    )
                    .expect("peer")
                })
                .collect();
            let addresses: Vec<Address> = peers.iter().map(|p| p.address().clone()).collect();
            self.client.send_to(&addresses, b"hello").expect("send");
            for peer in &mut peers {
                let report = peer.receive().expect("peer receive");
                assert_eq!(report.messages.len(), 1);
                peer.send_to(std::slice::from_ref(&me), b"hi").expect("reply");
            }
            self.receive_all(batch);
            next += batch;
        }
    }

    /// `count` sessions with the stand-in addresses `s0..`: this thread sends the initial
    /// messages and receives the replies, a second one answers as the stand-ins.
    fn add_stand_ins(&mut self, count: usize, stand_ins: &mut StandIns, relay: &InMemoryRelay) {
        let me = self.client.address().clone();
        let (to_stand_ins, batches) = sync_channel::<Vec<(Address, Vec<u8>)>>(4);
        let mut received = 0;
        std::thread::scope(|scope| {
            let me = &me;
            scope.spawn(move || {
                let limits = Limits::default();
                let mut rng = fast_rng();
                for batch in batches {
                    for (address, envelope) in batch {
                        let i = StandIns::index(&address).expect("stand-in");
                        let account = &mut stand_ins.accounts[i % STAND_IN_ACCOUNTS];
                        let parsed = Envelope::parse(&envelope, limits.max_padded_len()).expect("parse");
                        let (mut session, _) = account.accept_initial(&parsed, &mut rng).expect("accept");
                        let reply = session
                            .encrypt(&client_payload(&address, NOW, b"hi"), &mut rng)
                            .expect("reply");
                        relay.send(&address, me, &reply).expect("relay");
                    }
                }
            });
            for first in (0..count).step_by(BATCH) {
                if first % 20_000 == 0 {
                    eprintln!("durable: {first} of {count} stand-in sessions");
                }
                let addresses: Vec<Address> =
                    (first..count.min(first + BATCH)).map(StandIns::address).collect();
                self.client.send_to(&addresses, b"hello").expect("send");
                let sent = std::mem::take(&mut *self.to_stand_ins.lock().expect("mailbox"));
                assert_eq!(sent.len(), addresses.len());
                to_stand_ins.send(sent).expect("stand-in thread");
                received += self.receive_waiting();
            }
            drop(to_stand_ins);
        });
        // The stand-in thread has answered everything.
        received += self.receive_waiting();
        assert_eq!(received, count);
    }

    /// Receives what is waiting, checks it all decrypted, empties the inbox; returns how many.
    fn receive_waiting(&mut self) -> usize {
        let report = self.client.receive().expect("receive");
        assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        self.client.mark_read(&ids).expect("mark read");
        ids.len()
    }

    /// Every record: `(table, row key, sealed record)`.
    fn records(&self) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        for table in [
            Table::Meta,
            Table::Account,
            Table::Peers,
            Table::Outbox,
            Table::Inbox,
        ] {
            for (key, value) in self.client.store().scan(table).expect("scan") {
                out.push((table, key, value));
            }
        }
        out
    }
}

/// Copies `records` into a new SQLite file at `path`, in one commit.
fn persist(records: Vec<(Table, Vec<u8>, Vec<u8>)>, path: &Path) {
    let mut sqlite = SqliteStore::open(path).expect("sqlite");
    let writes = records
        .into_iter()
        .map(|(table, key, value)| Write::Put { table, key, value })
        .collect();
    sqlite.commit(writes).expect("commit");
}

/// Opens the client in the SQLite file `db` on `relay`, checking it holds `n` sessions and
/// an empty outbox.
fn open(db: &Path, relay: &InMemoryRelay, n: usize) -> Client {
    let mut client = Client::open(parts(
        Box::new(SqliteStore::open(db).expect("sqlite")),
        Box::new(relay.clone()),
        ClientConfig::default(),
    ))
    .expect("open");
    // The relay already holds these prekeys; nothing to publish.
    assert!(!client.upkeep().expect("upkeep"));
    assert_eq!(client.store().scan(Table::Peers).expect("scan").len(), n);
    assert_eq!(client.outbox_len().expect("outbox"), 0);
    client
}

/// Two clients whose SQLite stores hold `n` sessions each (one with each other), open on
/// an `InMemoryRelay`, and the directory of their files.
pub struct DurablePair {
    pub a: Client,
    pub b: Client,
    b_address: Address,
    relay: InMemoryRelay,
    sessions: usize,
    dir: PathBuf,
    body: Vec<u8>,
    /// How long `build` took, in seconds.
    pub setup_seconds: f64,
    /// Size of both database files after `build`, in bytes.
    pub setup_disk_bytes: u64,
    /// Messages sent by `message` so far.
    pub messages: u64,
}

impl DurablePair {
    /// Builds both stores in a new directory under `root`.
    pub fn build(n: usize, root: &Path) -> Self {
        let started = std::time::Instant::now();
        let dir = root.join(format!("hemlis-durable-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("bench directory");
        let relay = relay();
        let mut stand_ins = StandIns::new();
        let bundles = Arc::new(stand_ins.bundles.clone());
        let mut a = Building::create("alice", &relay, &bundles);
        let mut b = Building::create("bob", &relay, &bundles);
        // Their own session, established both ways.
        let (a_address, b_address) = (a.client.address().clone(), b.client.address().clone());
        a.client
            .send_to(std::slice::from_ref(&b_address), b"hello")
            .expect("send");
        b.receive_all(1);
        b.client
            .send_to(std::slice::from_ref(&a_address), b"hi")
            .expect("send");
        a.receive_all(1);

        let others = n - 1;
        let mut b_records = Vec::new();
        if others <= REAL_PEERS_UP_TO {
            std::thread::scope(|scope| {
                for (building, tag) in [(&mut a, "a"), (&mut b, "b")] {
                    let relay = &relay;
                    scope.spawn(move || building.add_real_peers(tag, others, relay));
                }
            });
        } else {
            a.add_stand_ins(others, &mut stand_ins, &relay);
            b_records = a
                .records()
                .into_iter()
                .filter(|(table, key, _)| *table == Table::Peers && StandIns::index_of_key(key).is_some())
                .collect();
        }
        let (a_db, b_db) = (dir.join("alice.sqlite"), dir.join("bob.sqlite"));
        let (a_records, mut b_own) = (a.records(), b.records());
        b_own.append(&mut b_records);
        drop((a, b));
        std::thread::scope(|scope| {
            scope.spawn(|| persist(a_records, &a_db));
            scope.spawn(|| persist(b_own, &b_db));
        });
        let (a, b) = (open(&a_db, &relay, n), open(&b_db, &relay, n));
        let mut pair = Self {
            a,
            b,
            b_address,
            relay,
            sessions: n,
            dir,
            body: crate::common::plaintext(BODY_LEN),
            setup_seconds: started.elapsed().as_secs_f64(),
            setup_disk_bytes: 0,
            messages: 0,
        };
        pair.setup_disk_bytes = pair.disk_bytes();
        println!(
            "\ndurable: two stores of {n} session(s) each set up in {:.1} s, {:.1} MB on disk",
            pair.setup_seconds,
            pair.setup_disk_bytes as f64 / 1e6
        );
        pair
    }

    /// A second pair from a copy of both database files in a new directory under `root`, on
    /// the same relay (each message is received before the next is sent, so the two pairs
    /// never meet in a mailbox). With `root` on a tmpfs, fsync costs nothing: what remains
    /// is the library's and SQLite's own work.
    pub fn copy_to(&self, root: &Path) -> Self {
        let dir = root.join(format!(
            "hemlis-durable-copy-{}-{}",
            std::process::id(),
            self.sessions
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("copy directory");
        // Between two messages no transaction is open: the file and its WAL are consistent
        // (SQLite rebuilds the WAL index of the copy).
        for name in ["alice.sqlite", "alice.sqlite-wal", "bob.sqlite", "bob.sqlite-wal"] {
            let from = self.dir.join(name);
            if from.exists() {
                std::fs::copy(&from, dir.join(name)).expect("copy");
            }
        }
        let n = self.sessions;
        Self {
            a: open(&dir.join("alice.sqlite"), &self.relay, n),
            b: open(&dir.join("bob.sqlite"), &self.relay, n),
            b_address: self.b_address.clone(),
            relay: self.relay.clone(),
            sessions: n,
            dir,
            body: self.body.clone(),
            setup_seconds: 0.0,
            setup_disk_bytes: 0,
            messages: 0,
        }
    }

    /// One message: `a` sends, `b` receives and marks it read.
    pub fn message(&mut self) {
        let sent = self
            .a
            .send_to(std::slice::from_ref(&self.b_address), &self.body)
            .expect("send");
        assert_eq!(sent, 1);
        let report = self.b.receive().expect("receive");
        assert_eq!(report.messages.len(), 1);
        self.b.mark_read(&[report.messages[0].id]).expect("mark read");
        self.messages += 1;
    }

    /// Size of both database files (with their WAL), in bytes.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

impl Drop for DurablePair {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
