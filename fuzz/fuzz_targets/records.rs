//! Stored-record decryption (docs/PROTOCOL.md, section 12.3): `Client::open` on a
//! `MemoryStore` whose records the fuzzer supplies (sealed under the right storage key by
//! the target, or stored as given), then every call that reads records: the inbox, the
//! outbox (`flush`), a send to a peer (its sessions record), `receive`. Damaged or hostile
//! records must give errors, never a panic.
#![no_main]

use hemlis::store::{Table, Write};
use hemlis::{Address, Client, InMemoryRelay, MemoryStore, Store};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut store = MemoryStore::new();
    let mut writes = vec![Write::Put {
        table: Table::Meta,
        key: b"check".to_vec(),
        value: hemlis_fuzz::seal_record(Table::Meta, b"check", hemlis_fuzz::CHECK_PLAINTEXT, 0),
    }];
    for (i, record) in hemlis_fuzz::parse_records(data).into_iter().enumerate() {
        let value = if record.seal {
            hemlis_fuzz::seal_record(record.table, &record.key, &record.value, i as u8)
        } else {
            record.value
        };
        writes.push(Write::Put {
            table: record.table,
            key: record.key,
            value,
        });
    }
    store.commit(writes).expect("memory store");
    let relay = InMemoryRelay::new();
    let Ok(mut client) = Client::open(hemlis_fuzz::client_parts(store, &relay, 5)) else {
        return;
    };
    let _ = client.inbox();
    let _ = client.outbox_len();
    let _ = client.flush();
    if let Some(peer) = Address::new("bob", 1) {
        let _ = client.peer_identity(&peer);
        let _ = client.safety_number("bob");
        let _ = client.send_to(&[peer], b"probe");
    }
    let _ = client.receive();
});
