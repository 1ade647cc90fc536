//! The embedded SQLite store (docs/ARCHITECTURE.md, section 4): the database file and its WAL hold no
//! plaintext and no key, a wrong storage key and a damaged record are caught, and both
//! sides of a conversation restart from their files and carry on.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use hemlis::store::Table;
use hemlis::{Address, Client, ClientError, InMemoryRelay, MemoryStore, RejectReason, SqliteStore};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::faults::*;
use hemlis_test::keys::*;
use hemlis_test::rng::*;
use hemlis_test::search::*;
use hemlis_test::tempdir::*;

/// A client on a SQLite file.
fn sqlite_client(
    user: &str,
    path: &Path,
    transport: &TestTransport,
    seed: u64,
    draws: &Draws,
    create: bool,
) -> Client {
    let store = Box::new(SqliteStore::open(path).expect("open database"));
    let parts = parts(
        transport.boxed(),
        store,
        &TestClock::new(T0),
        seed,
        draws,
        small_config(),
    );
    if create {
        Client::create(user, 1, parts).expect("create")
    } else {
        Client::open(parts).expect("open")
    }
}

fn memory_client(user: &str, transport: &TestTransport, seed: u64, draws: &Draws) -> Client {
    let parts = parts(
        transport.boxed(),
        Box::new(MemoryStore::new()),
        &TestClock::new(T0),
        seed,
        draws,
        small_config(),
    );
    Client::create(user, 1, parts).expect("create")
}

/// Sends `count` random bodies from `from` to `to` and has `to` receive them.
fn talk(
    from: &mut Client,
    to: &mut Client,
    count: usize,
    text: &mut rand_chacha::ChaCha20Rng,
) -> Vec<Vec<u8>> {
    let bodies: Vec<Vec<u8>> = (0..count).map(|i| random_body(text, 20 + 13 * i)).collect();
    for body in &bodies {
        assert_eq!(from.send(to.address().user(), body).expect("send"), 1);
    }
    let expected: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    receive_exactly(to, &expected);
    bodies
}

/// Every `(table, key, value)` row of a database, read with a connection of our own.
fn rows(path: &Path) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
    let conn = rusqlite::Connection::open(path).expect("open database");
    let mut stmt = conn.prepare("SELECT tbl, k, v FROM records").expect("query");
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// Opens a record as docs/PROTOCOL.md section 12.3 specifies: XChaCha20-Poly1305 under the
/// storage key, `nonce (24) || ciphertext || tag`, associated data
/// `"hemlis/v1/record" || table id || row key`.
fn unseal(table: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut ad = b"hemlis/v1/record".to_vec();
    ad.push(table);
    ad.extend_from_slice(key);
    let cipher = XChaCha20Poly1305::new(&Key::from(storage_key()));
    let nonce: [u8; 24] = value[..24].try_into().expect("nonce");
    cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &value[24..],
                aad: &ad,
            },
        )
        .expect("every record opens under the storage key")
}

/// A window of key material rather than structure: most of its bytes distinct.
fn high_entropy(window: &[u8]) -> bool {
    let mut seen = [false; 256];
    window.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count() >= 12
}

/// The database file and its WAL, those that exist.
fn raw_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    let wal = db.with_extension("db-wal");
    [db.to_path_buf(), wal]
        .into_iter()
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p.display().to_string(), b)))
        .collect()
}

fn assert_clean(files: &[(String, Vec<u8>)], needles: &Needles, what: &str) {
    for (name, bytes) in files {
        assert_eq!(needles.find(bytes), None, "{name} holds {what}");
    }
}

#[test]
fn database_and_wal_hold_no_plaintext_and_no_key() {
    let dir = TempDir::new("sqlite-clean");
    let relay = InMemoryRelay::new();
    let transport = TestTransport::new(&relay);
    let draws = Draws::default();
    let dbs = [dir.join("alice.db"), dir.join("bob.db")];
    let mut alice = sqlite_client("alice", &dbs[0], &transport, 1, &draws, true);
    let mut bob = sqlite_client("bob", &dbs[1], &transport, 2, &draws, true);
    let mut carol = memory_client("carol", &transport, 3, &draws);
    let mut text = rng(11);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.extend(talk(&mut alice, &mut bob, 3, &mut text));
        bodies.extend(talk(&mut bob, &mut alice, 2, &mut text));
        bodies.extend(talk(&mut carol, &mut alice, 2, &mut text));
        bodies.extend(talk(&mut bob, &mut carol, 2, &mut text));
        bodies.extend(talk(&mut alice, &mut carol, 1, &mut text));
    }
    // Unread messages stay in the inbox, and unsent ones in the outbox, sealed.
    let unread = random_body(&mut text, 120);
    alice.send("bob", &unread).expect("send");
    assert_eq!(bob.receive().expect("receive").messages.len(), 1);
    TransportFaults::set(&transport.faults.fail_send, true);
    let unsent = random_body(&mut text, 90);
    bob.send("alice", &unsent).expect("send");
    assert_eq!(bob.outbox_len().expect("outbox"), 1);
    bodies.extend([unread.clone(), unsent.clone()]);

    let mut plaintext = Needles::new(12);
    for (i, body) in bodies.iter().enumerate() {
        plaintext.add(format!("body {i}"), body);
    }
    let mut secrets = Needles::new(16);
    for (i, draw) in draws.secrets().iter().enumerate() {
        for form in secret_forms(draw) {
            secrets.add(format!("secret draw {i}"), &form);
        }
    }
    secrets.add("storage key", &storage_key());
    // Everything the records hold once opened: sessions (root, chain, header and skipped
    // message keys), the account, peers, inbox and outbox.
    let mut opened = Needles::new(16);
    let mut opened_records = 0;
    let mut state_needles = |opened: &mut Needles| {
        for db in &dbs {
            for (table, key, value) in rows(db) {
                let plain = unseal(table, &key, &value);
                opened_records += 1;
                for w in plain.windows(16).filter(|w| high_entropy(w)) {
                    opened.add(format!("record {table}/{key:?}"), w);
                }
            }
        }
    };
    state_needles(&mut opened);
    assert!(opened_records >= 12 && opened.len() > 1000);
    // The searches are not vacuous: the opened records hold the unread body and secrets.
    let bob_rows: Vec<Vec<u8>> = rows(&dbs[1])
        .into_iter()
        .map(|(t, k, v)| unseal(t, &k, &v))
        .collect();
    assert!(bob_rows.iter().any(|r| contains(r, &unread)));
    assert!(bob_rows.iter().any(|r| secrets.find(r).is_some()));

    let mut files: Vec<(String, Vec<u8>)> = dbs.iter().flat_map(|db| raw_files(db)).collect();
    assert!(
        files
            .iter()
            .any(|(name, bytes)| name.ends_with("-wal") && !bytes.is_empty()),
        "the WAL is in use while the clients are open"
    );
    assert_clean(&files, &plaintext, "plaintext (open)");
    assert_clean(&files, &secrets, "a secret draw (open)");
    assert_clean(&files, &opened, "bytes of an opened record (open)");

    drop((alice, bob));
    files = dbs.iter().flat_map(|db| raw_files(db)).collect();
    assert_clean(&files, &plaintext, "plaintext (closed)");
    assert_clean(&files, &secrets, "a secret draw (closed)");
    assert_clean(&files, &opened, "bytes of an opened record (closed)");
}

#[test]
fn the_wrong_storage_key_is_refused() {
    let dir = TempDir::new("sqlite-key");
    let db = dir.join("alice.db");
    let relay = InMemoryRelay::new();
    let transport = TestTransport::new(&relay);
    let draws = Draws::default();
    let identity = sqlite_client("alice", &db, &transport, 1, &draws, true)
        .identity_key()
        .clone();
    let mut wrong = parts(
        transport.boxed(),
        Box::new(SqliteStore::open(&db).expect("open")),
        &TestClock::new(T0),
        2,
        &draws,
        small_config(),
    );
    wrong.storage_key[0] ^= 1;
    assert_eq!(Client::open(wrong).err(), Some(ClientError::WrongStorageKey));
    // Nothing changed: the right key still opens it.
    let alice = sqlite_client("alice", &db, &transport, 3, &draws, false);
    assert_eq!(alice.identity_key(), &identity);
    drop(alice);
    // A second device in the same file is refused; an empty file holds no device.
    let again = parts(
        transport.boxed(),
        Box::new(SqliteStore::open(&db).expect("open")),
        &TestClock::new(T0),
        4,
        &draws,
        small_config(),
    );
    assert_eq!(
        Client::create("alice", 2, again).err(),
        Some(ClientError::DeviceExists)
    );
    let empty = parts(
        transport.boxed(),
        Box::new(SqliteStore::open(dir.join("empty.db")).expect("open")),
        &TestClock::new(T0),
        5,
        &draws,
        small_config(),
    );
    assert_eq!(Client::open(empty).err(), Some(ClientError::NoDevice));
}

/// Bob (SQLite) has sessions with Alice and Carol; returns everything to go on.
struct Trio {
    _dir: TempDir,
    db: std::path::PathBuf,
    transport: TestTransport,
    draws: Draws,
    alice: Client,
    bob: Client,
    carol: Client,
    text: rand_chacha::ChaCha20Rng,
}

fn trio(tag: &str) -> Trio {
    let dir = TempDir::new(tag);
    let db = dir.join("bob.db");
    let relay = InMemoryRelay::new();
    let transport = TestTransport::new(&relay);
    let draws = Draws::default();
    let mut alice = memory_client("alice", &transport, 1, &draws);
    let mut bob = sqlite_client("bob", &db, &transport, 2, &draws, true);
    let mut carol = memory_client("carol", &transport, 3, &draws);
    let mut text = rng(5);
    talk(&mut alice, &mut bob, 2, &mut text);
    talk(&mut bob, &mut alice, 1, &mut text);
    talk(&mut carol, &mut bob, 2, &mut text);
    talk(&mut bob, &mut carol, 1, &mut text);
    Trio {
        _dir: dir,
        db,
        transport,
        draws,
        alice,
        bob,
        carol,
        text,
    }
}

/// Rewrites one `records.v` value of a closed database.
fn rewrite_record(db: &Path, table: Table, key: &[u8], f: impl FnOnce(&mut Vec<u8>)) {
    let conn = rusqlite::Connection::open(db).expect("open database");
    let mut value: Vec<u8> = conn
        .query_row(
            "SELECT v FROM records WHERE tbl = ?1 AND k = ?2",
            rusqlite::params![table.id(), key],
            |row| row.get(0),
        )
        .expect("the record exists");
    f(&mut value);
    let changed = conn
        .execute(
            "UPDATE records SET v = ?3 WHERE tbl = ?1 AND k = ?2",
            rusqlite::params![table.id(), key, value],
        )
        .expect("update");
    assert_eq!(changed, 1);
}

fn record_value(db: &Path, table: Table, key: &[u8]) -> Vec<u8> {
    let conn = rusqlite::Connection::open(db).expect("open database");
    conn.query_row(
        "SELECT v FROM records WHERE tbl = ?1 AND k = ?2",
        rusqlite::params![table.id(), key],
        |row| row.get(0),
    )
    .expect("the record exists")
}

/// Checks that Bob cannot use Carol's record but still talks with Alice.
fn carol_is_corrupt_alice_works(t: &mut Trio) {
    let carol = t.carol.address().clone();
    let corrupt = Err(ClientError::CorruptRecord(Table::Peers));
    assert_eq!(t.bob.send("carol", b"to carol").map(|_| ()), corrupt);
    assert_eq!(t.bob.peer_identity(&carol).map(|_| ()), corrupt);
    // The safety number is over account keys, which live in the user record, not here.
    assert!(t.bob.safety_number("carol").is_ok());
    assert_eq!(t.bob.outbox_len().expect("outbox"), 0, "nothing was committed");
    talk(&mut t.bob, &mut t.alice, 2, &mut t.text);
    talk(&mut t.alice, &mut t.bob, 2, &mut t.text);
    assert!(t.bob.safety_number(t.alice.address().user()).is_ok());
}

fn reopen_bob(t: &mut Trio, seed: u64) {
    t.bob = sqlite_client("bob", &t.db, &t.transport, seed, &t.draws, false);
}

#[test]
fn a_flipped_byte_in_one_peer_record_fails_that_peer_only() {
    let mut t = trio("sqlite-flip");
    drop(std::mem::replace(
        &mut t.bob,
        memory_client("placeholder", &t.transport, 9, &t.draws),
    ));
    let key = Address::new("carol", 1).expect("address").encode();
    rewrite_record(&t.db, Table::Peers, &key, |v| {
        let middle = v.len() / 2;
        v[middle] ^= 0x01;
    });
    reopen_bob(&mut t, 20);
    carol_is_corrupt_alice_works(&mut t);
}

#[test]
fn a_record_moved_to_another_row_does_not_open() {
    let mut t = trio("sqlite-move");
    drop(std::mem::replace(
        &mut t.bob,
        memory_client("placeholder", &t.transport, 9, &t.draws),
    ));
    // Alice's record, valid in itself, copied into Carol's row.
    let alice_key = Address::new("alice", 1).expect("address").encode();
    let alice_record = record_value(&t.db, Table::Peers, &alice_key);
    let carol_key = Address::new("carol", 1).expect("address").encode();
    rewrite_record(&t.db, Table::Peers, &carol_key, |v| *v = alice_record);
    reopen_bob(&mut t, 21);
    carol_is_corrupt_alice_works(&mut t);
}

/// An envelope from a peer whose record is damaged must not block the mailbox: it is
/// reported as rejected, the others are delivered. (Before 3856768 `receive` failed on it
/// every time, leaving everything behind it at the relay.)
#[test]
fn a_corrupt_peer_record_does_not_block_receiving_from_others() {
    let mut t = trio("sqlite-poison");
    drop(std::mem::replace(
        &mut t.bob,
        memory_client("placeholder", &t.transport, 9, &t.draws),
    ));
    let key = Address::new("carol", 1).expect("address").encode();
    rewrite_record(&t.db, Table::Peers, &key, |v| {
        let last = v.len() - 1;
        v[last] ^= 0x80;
    });
    reopen_bob(&mut t, 22);
    // Carol writes first, then Alice: Carol's envelope cannot be processed.
    t.carol.send("bob", b"from carol").expect("send");
    t.alice.send("bob", b"from alice").expect("send");
    let report = t.bob.receive();
    let bodies: Vec<Vec<u8>> = t
        .bob
        .inbox()
        .expect("inbox")
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(
        bodies,
        vec![b"from alice".to_vec()],
        "Alice's message is in the inbox"
    );
    let report = report.expect("receive still works for the other peers");
    assert_eq!(report.messages.len(), 1);
    let carol = t.carol.address().clone();
    let rejected: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.from.clone(), r.reason.clone()))
        .collect();
    assert_eq!(rejected, vec![(carol, RejectReason::CorruptRecord(Table::Peers))]);
    assert_eq!(t.transport.pending(t.bob.address()), 0);
    // And it goes on working: Alice's next message arrives, and her envelope is not
    // fetched and processed again forever.
    t.alice.send("bob", b"again").expect("send");
    let report = t.bob.receive().expect("receive");
    assert_eq!(report.duplicates, 0);
    assert_eq!(report.messages.len(), 2);
}

#[test]
fn both_sides_restart_from_their_files_and_carry_on() {
    let dir = TempDir::new("sqlite-restart");
    let relay = InMemoryRelay::new();
    let transport = TestTransport::new(&relay);
    let draws = Draws::default();
    let (a_db, b_db) = (dir.join("alice.db"), dir.join("bob.db"));
    let mut alice = sqlite_client("alice", &a_db, &transport, 1, &draws, true);
    let mut bob = sqlite_client("bob", &b_db, &transport, 2, &draws, true);
    let mut text = rng(3);
    talk(&mut alice, &mut bob, 2, &mut text);
    talk(&mut bob, &mut alice, 2, &mut text);
    let safety = alice.safety_number(bob.address().user()).expect("safety number");
    // In flight both ways when both stop, and one more left in Alice's outbox.
    let to_bob: Vec<Vec<u8>> = (0..3).map(|_| random_body(&mut text, 40)).collect();
    let to_alice: Vec<Vec<u8>> = (0..2).map(|_| random_body(&mut text, 40)).collect();
    for body in &to_bob[..2] {
        alice.send("bob", body).expect("send");
    }
    for body in &to_alice {
        bob.send("alice", body).expect("send");
    }
    TransportFaults::set(&transport.faults.fail_send, true);
    alice.send("bob", &to_bob[2]).expect("committed to the outbox");
    assert_eq!(alice.outbox_len().expect("outbox"), 1);
    drop((alice, bob));
    TransportFaults::set(&transport.faults.fail_send, false);

    let mut alice = sqlite_client("alice", &a_db, &transport, 11, &draws, false);
    let mut bob = sqlite_client("bob", &b_db, &transport, 12, &draws, false);
    assert_eq!(alice.outbox_len().expect("outbox"), 1, "the outbox survived");
    assert_eq!(alice.flush().expect("flush"), 1);
    let expected: Vec<&[u8]> = to_bob.iter().map(Vec::as_slice).collect();
    receive_exactly(&mut bob, &expected);
    let expected: Vec<&[u8]> = to_alice.iter().map(Vec::as_slice).collect();
    receive_exactly(&mut alice, &expected);
    assert_eq!(
        alice.safety_number(bob.address().user()).expect("safety number"),
        safety
    );
    assert_eq!(
        bob.safety_number(alice.address().user()).expect("safety number"),
        safety
    );
    for round in 0..3 {
        talk(&mut alice, &mut bob, 1 + round, &mut text);
        talk(&mut bob, &mut alice, 2, &mut text);
    }
    // And once more, with unread messages in both inboxes at the restart.
    alice.send("bob", b"unread by bob").expect("send");
    bob.receive().expect("receive");
    bob.send("alice", b"unread by alice").expect("send");
    alice.receive().expect("receive");
    drop((alice, bob));
    let mut alice = sqlite_client("alice", &a_db, &transport, 21, &draws, false);
    let mut bob = sqlite_client("bob", &b_db, &transport, 22, &draws, false);
    receive_exactly(&mut bob, &[b"unread by bob"]);
    receive_exactly(&mut alice, &[b"unread by alice"]);
    talk(&mut alice, &mut bob, 2, &mut text);
    talk(&mut bob, &mut alice, 2, &mut text);
}
