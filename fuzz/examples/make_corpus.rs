//! Writes the seed corpora of every fuzz target to `fuzz/corpus/<target>/` (a few valid
//! and near-valid inputs each, all deterministic):
//!
//! ```sh
//! cargo run --manifest-path fuzz/Cargo.toml --example make_corpus
//! ```

use std::path::Path;

use hemlis::store::Table;
use hemlis::transport::PrekeyUpload;
use hemlis::{Client, InMemoryRelay, MemoryStore};
use hemlis_fuzz::{RecordInput, TABLES};
use hemlis_test::interaction::{self, Op, Start};
use hemlis_test::party::Party;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("corpus dir");
    std::fs::write(dir.join(name), bytes).expect("write seed");
}

/// `[mode] || bytes`: mode 0 takes the bytes as they are.
fn raw(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(bytes);
    out
}

fn main() {
    // Envelopes, sessions and initial messages.
    let session = hemlis_fuzz::session_fixture();
    let account = hemlis_fuzz::account_fixture();
    for (i, (envelope, _)) in session.envelopes.iter().enumerate() {
        write("envelope", &format!("message-{i}"), envelope);
        write("session_decrypt", &format!("valid-{i}"), &raw(envelope));
    }
    write("session_decrypt", "edited", &[1, 1, 0, 40, 0x01]);
    write("session_decrypt", "cut", &[1, 0x82, 0, 100, 0]);
    for (i, (envelope, _)) in account.envelopes.iter().enumerate() {
        write("envelope", &format!("initial-{i}"), envelope);
        write("initial", &format!("valid-{i}"), &raw(envelope));
    }
    write("initial", "edited-kem", &[1, 0, 0, 200, 0x10]);
    write("initial", "edited-header", &[1, 2, 0x04, 0xc0, 0x80]);
    write("envelope", "short", &[1, 2, 0]);

    // Bundles and uploads.
    let mut bob = Party::new(31);
    write("bundle", "one-time", &bob.bundle(true).encode());
    write("bundle", "last-resort", &bob.bundle(false).encode());
    write("bundle", "classical", &bob.classical_bundle(true).encode());
    let mut rng = hemlis_test::rng::rng(32);
    let otp = bob.account.generate_one_time_prekeys(2, &mut rng);
    let kem = bob.account.generate_one_time_kem_prekeys(1, &mut rng);
    write(
        "upload",
        "empty",
        &PrekeyUpload::new(&bob.account, Vec::new(), Vec::new()).encode(),
    );
    write(
        "upload",
        "full",
        &PrekeyUpload::new(&bob.account, otp, kem).encode(),
    );

    // Serialized state: sessions, accounts and peer sessions, mid-conversation.
    let mut world = interaction::World::new(Start::Established);
    for op in [
        Op::Send {
            from_alice: true,
            len: 10,
        },
        Op::Send {
            from_alice: true,
            len: 10,
        },
        Op::Deliver(1),
        Op::Send {
            from_alice: false,
            len: 10,
        },
    ] {
        world.apply(op);
    }
    let active = world.bob.peer.active().expect("session");
    write("state", "session", &active.to_bytes().expect("state"));
    write("state", "account", &world.bob.account.to_bytes().expect("state"));
    write(
        "state",
        "peer-sessions",
        &world.bob.peer.to_bytes().expect("state"),
    );
    write("state", "fresh-account", &account.state);

    // Records at rest: the stores of two devices after a message each way (one unread).
    let relay = InMemoryRelay::new();
    let mut alice = Client::create(
        "alice",
        1,
        hemlis_fuzz::client_parts(MemoryStore::new(), &relay, 41),
    )
    .expect("alice");
    let mut bob = Client::create(
        "bob",
        1,
        hemlis_fuzz::client_parts(MemoryStore::new(), &relay, 42),
    )
    .expect("bob");
    alice.send("bob", b"hi bob").expect("send");
    bob.receive().expect("receive");
    bob.send("alice", b"hi alice").expect("send");
    alice.receive().expect("receive");
    for (name, client) in [("alice", &alice), ("bob", &bob)] {
        let mut records = Vec::new();
        for table in TABLES {
            for (key, sealed) in client.store().scan(table).expect("scan") {
                if table == Table::Meta && key == b"check" {
                    continue; // the target puts the check record in itself
                }
                let value = hemlis_fuzz::open_record(table, &key, &sealed).expect("sealed under the key");
                records.push(RecordInput {
                    table,
                    seal: true,
                    key,
                    value,
                });
            }
        }
        write("records", name, &hemlis_fuzz::encode_records(&records));
    }
    write("records", "empty", &[]);

    // Schedules.
    use Op::*;
    let schedules: [(&str, Start, Vec<Op>); 4] = [
        (
            "established",
            Start::Established,
            vec![
                Send {
                    from_alice: true,
                    len: 4,
                },
                Send {
                    from_alice: true,
                    len: 200,
                },
                Deliver(1),
                Duplicate(0),
                Restart { alice: false },
                Send {
                    from_alice: false,
                    len: 0,
                },
                Deliver(1),
                Deliver(0),
            ],
        ),
        (
            "fresh",
            Start::Fresh {
                one_time: true,
                classical: false,
            },
            vec![
                Send {
                    from_alice: true,
                    len: 2,
                },
                Send {
                    from_alice: true,
                    len: 2,
                },
                Reorder(0),
                Deliver(0),
                Send {
                    from_alice: false,
                    len: 6,
                },
                Restart { alice: true },
                Deliver(1),
                Drop(0),
            ],
        ),
        (
            "last-resort",
            Start::Fresh {
                one_time: false,
                classical: false,
            },
            vec![
                Send {
                    from_alice: true,
                    len: 2,
                },
                Deliver(0),
                Duplicate(0),
            ],
        ),
        (
            "classical",
            Start::Fresh {
                one_time: false,
                classical: true,
            },
            vec![
                Send {
                    from_alice: true,
                    len: 8,
                },
                Send {
                    from_alice: false,
                    len: 8,
                },
                Deliver(0),
            ],
        ),
    ];
    for (name, start, ops) in schedules {
        let bytes = interaction::encode(start, &ops);
        assert_eq!(interaction::decode(&bytes), (start, ops), "{name} round-trips");
        interaction::run_bytes(&bytes);
        write("interaction", name, &bytes);
    }
    println!("corpora written to {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
