//! What the relay learns (docs/PROTOCOL.md, section 11): every byte handed to the transport in a
//! three-party conversation is searched for plaintext, private keys, identity keys and
//! ratchet public keys, and every envelope's size is checked against the padding buckets.

use std::collections::BTreeMap;

use hemlis::transport::PrekeyUpload;
use hemlis::wire::padded_len;
use hemlis::{Client, Envelope, InMemoryRelay, Limits, MemoryStore, PrekeyBundle};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::envelope::*;
use hemlis_test::faults::*;
use hemlis_test::keys::*;
use hemlis_test::rng::*;
use hemlis_test::search::*;

const NAMES: [&str; 3] = ["alice", "bob", "carol"];

/// One message of the conversation, with the envelope that carried it.
struct Message {
    from: usize,
    to: usize,
    body: Vec<u8>,
    envelope: Vec<u8>,
}

/// Three clients on one relay, a conversation in every direction with bodies of 0 to 150
/// bytes (and a few larger ones at the end); returns the clients, the messages, the draws.
fn conversation() -> (InMemoryRelay, TestTransport, Vec<Client>, Vec<Message>, Draws) {
    let relay = InMemoryRelay::new();
    let transport = TestTransport::new(&relay);
    let draws = Draws::default();
    let clock = TestClock::new(T0);
    let mut clients: Vec<Client> = NAMES
        .iter()
        .zip(0u64..)
        .map(|(name, i)| {
            let parts = parts(
                transport.boxed(),
                Box::new(MemoryStore::new()),
                &clock,
                100 + i,
                &draws,
                small_config(),
            );
            Client::create(name, 1, parts).expect("create")
        })
        .collect();
    let mut text = rng(7);
    let mut messages = Vec::new();
    let mut send = |clients: &mut Vec<Client>, from: usize, to: usize, body: Vec<u8>| {
        let before = transport.sent_len();
        assert_eq!(clients[from].send(NAMES[to], &body).expect("send"), 1);
        let sent = transport.sent();
        assert_eq!(sent.len(), before + 1, "one envelope per send");
        let envelope = sent[before].envelope.clone();
        messages.push(Message {
            from,
            to,
            body,
            envelope,
        });
    };
    let directions = [(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)];
    let mut lengths = [0usize, 150, 1, 12].into_iter();
    for round in 0..4 {
        for (from, to) in directions {
            let mut expected = Vec::new();
            // Two messages a turn, three every other round, so chains grow between turns.
            for _ in 0..(2 + round % 2) {
                let len = lengths.next().unwrap_or_else(|| 12 + text_len(&mut text, 139));
                let body = random_body(&mut text, len);
                expected.push(body.clone());
                send(&mut clients, from, to, body);
            }
            let expected: Vec<&[u8]> = expected.iter().map(Vec::as_slice).collect();
            receive_exactly(&mut clients[to], &expected);
            clients[to].upkeep().expect("upkeep");
        }
    }
    // Larger bodies land in larger buckets.
    for (i, len) in [151usize, 300, 1000, 5000].into_iter().enumerate() {
        let (from, to) = directions[i % directions.len()];
        let body = random_body(&mut text, len);
        send(&mut clients, from, to, body.clone());
        receive_exactly(&mut clients[to], &[&body]);
    }
    (relay, transport, clients, messages, draws)
}

fn text_len(rng: &mut rand_chacha::ChaCha20Rng, below: usize) -> usize {
    use hemlis::rand_core::Rng;
    rng.next_u32() as usize % below
}

/// The relay's log, split into the entries that parse as envelopes and the rest (uploads
/// and bundles).
fn split_log(relay: &InMemoryRelay) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let log = relay.with_state(|s| s.log().to_vec()).expect("relay");
    let max = Limits::default().max_padded_len();
    log.into_iter()
        .partition(|entry| Envelope::parse(entry, max).is_ok())
}

#[test]
fn the_log_parses_into_exactly_the_envelopes_sent() {
    let (relay, transport, _clients, messages, _draws) = conversation();
    let (envelopes, others) = split_log(&relay);
    let sent: Vec<Vec<u8>> = transport.sent().into_iter().map(|s| s.envelope).collect();
    assert_eq!(envelopes, sent, "the log's envelopes are the ones handed to send");
    assert_eq!(sent.len(), messages.len());
    assert!(!others.is_empty(), "uploads and bundles are logged too");
    for entry in &others {
        assert!(
            PrekeyBundle::decode(entry).is_ok()
                || PrekeyUpload::decode(entry).is_ok()
                || hemlis::DeviceList::decode(entry).is_ok(),
            "a non-envelope entry of {} bytes is neither a bundle, an upload nor a device list",
            entry.len()
        );
    }
}

#[test]
fn no_plaintext_reaches_the_relay() {
    let (relay, _transport, _clients, messages, _draws) = conversation();
    let log = relay.with_state(|s| s.log().to_vec()).expect("relay");
    // Any 12 consecutive bytes of any body: a partial leak is caught too.
    let mut needles = Needles::new(12);
    for (i, m) in messages.iter().enumerate() {
        needles.add(format!("body of message {i}"), &m.body);
    }
    assert!(needles.len() > 1000);
    for (i, entry) in log.iter().enumerate() {
        assert_eq!(needles.find(entry), None, "log entry {i} holds plaintext");
    }
    // Whole short bodies as well (those under 12 bytes have no window).
    for m in messages.iter().filter(|m| m.body.len() >= 4) {
        assert!(log.iter().all(|entry| !contains(entry, &m.body)));
    }
}

#[test]
fn no_private_key_reaches_the_relay() {
    let (relay, _transport, _clients, _messages, draws) = conversation();
    let log = relay.with_state(|s| s.log().to_vec()).expect("relay");
    let secrets = draws.secrets();
    // Three identities, their signed prekeys and last-resort KEM seeds, one-time prekeys
    // of both kinds, ephemeral keys, ratchet keys and KEM encapsulation randomness.
    assert!(secrets.len() >= 60, "only {} secret draws", secrets.len());
    let mut needles = Needles::new(16);
    for (i, draw) in secrets.iter().enumerate() {
        for (j, form) in secret_forms(draw).iter().enumerate() {
            needles.add(format!("secret draw {i} (form {j})"), form);
        }
    }
    needles.add("storage key", &storage_key());
    for (i, entry) in log.iter().enumerate() {
        assert_eq!(needles.find(entry), None, "log entry {i} holds secret bytes");
    }
    // The search is not vacuous: the public halves of those draws are in the uploads.
    let publics: Vec<[u8; 32]> = secrets.iter().map(x25519_public).collect();
    let published = publics
        .iter()
        .filter(|p| log.iter().any(|entry| contains(entry, &p[..])))
        .count();
    assert!(
        published >= 3 * 4,
        "only {published} public keys found in the log"
    );
}

#[test]
fn no_identity_key_in_any_envelope() {
    let (relay, _transport, clients, _messages, _draws) = conversation();
    let (envelopes, others) = split_log(&relay);
    let mut needles = Needles::new(16);
    for client in &clients {
        let ik = client.identity_key();
        needles.add(format!("identity of {}", client.address()), ik.as_bytes());
        needles.add(
            format!("X25519 identity of {}", client.address()),
            &identity_x25519(ik),
        );
        // It is in that client's own uploads and in the bundles handed out for it.
        assert!(others.iter().any(|e| contains(e, ik.as_bytes())));
    }
    for (i, envelope) in envelopes.iter().enumerate() {
        assert_eq!(needles.find(envelope), None, "envelope {i} holds an identity key");
    }
}

#[test]
fn no_ratchet_public_key_in_any_envelope() {
    let (relay, _transport, _clients, _messages, draws) = conversation();
    let (envelopes, _) = split_log(&relay);
    let publics: BTreeMap<[u8; 32], usize> = draws
        .secrets()
        .iter()
        .enumerate()
        .map(|(i, d)| (x25519_public(d), i))
        .collect();
    let mut needles = Needles::new(16);
    for (public, i) in &publics {
        needles.add(format!("public key of draw {i}"), public);
    }
    let mut initial = 0;
    for (i, envelope) in envelopes.iter().enumerate() {
        let mut scrubbed = envelope.clone();
        if envelope[1] == 1 {
            // EK_A is sent in clear by design (X3DH); it must be one of the draws.
            initial += 1;
            let base: [u8; 32] = envelope[16..48].try_into().expect("32 bytes");
            assert!(
                publics.contains_key(&base),
                "EK_A of envelope {i} is no drawn key"
            );
            scrubbed[16..48].fill(0);
        }
        assert_eq!(needles.find(&scrubbed), None, "envelope {i} holds a public key");
    }
    assert!(initial >= 6, "every direction starts with an initial envelope");
}

#[test]
fn envelope_sizes_reveal_only_the_bucket() {
    let (relay, _transport, _clients, messages, _draws) = conversation();
    let (envelopes, _) = split_log(&relay);
    let small_message = MESSAGE_OVERHEAD + padded_len(0);
    let small_initial = INITIAL_OVERHEAD + padded_len(0);
    assert_eq!((small_message, small_initial), (314, 1520));
    let mut allowed = vec![small_message, small_initial];
    let (mut kinds, mut bodies) = (BTreeMap::new(), BTreeMap::new());
    for m in &messages {
        let overhead = if m.envelope[1] == 1 {
            INITIAL_OVERHEAD
        } else {
            MESSAGE_OVERHEAD
        };
        let size = overhead + padded_len(payload_len(NAMES[m.from], m.body.len()));
        assert_eq!(m.envelope.len(), size, "{} -> {}", NAMES[m.from], NAMES[m.to]);
        allowed.push(size);
        if m.body.len() <= 150 {
            assert!(m.envelope.len() == small_message || m.envelope.len() == small_initial);
            *kinds.entry(m.envelope[1]).or_insert(0) += 1;
            bodies.insert(m.body.len(), m.envelope.len());
        }
    }
    // Both kinds occurred, for bodies from empty to 150 bytes.
    assert!(kinds.len() == 2 && bodies.contains_key(&0) && bodies.contains_key(&150));
    for (i, envelope) in envelopes.iter().enumerate() {
        assert!(
            allowed.contains(&envelope.len()),
            "envelope {i}: {} bytes",
            envelope.len()
        );
    }
    // A body of 151 bytes still fits the smallest bucket with its framing (170 bytes of
    // payload); the larger ones move up the Padme buckets.
    for m in messages.iter().filter(|m| m.body.len() > 150) {
        let grows = payload_len(NAMES[m.from], m.body.len()) >= padded_len(0);
        assert_eq!(m.envelope.len() > small_message, grows, "{} bytes", m.body.len());
    }
}

#[test]
fn every_nonce_on_the_wire_is_fresh() {
    let (relay, _transport, _clients, _messages, draws) = conversation();
    let (envelopes, _) = split_log(&relay);
    let mut seen = BTreeMap::new();
    for (i, envelope) in envelopes.iter().enumerate() {
        let (header, body) = nonces(envelope);
        for nonce in [header, body] {
            assert!(seen.insert(nonce, i).is_none(), "envelope {i} repeats a nonce");
        }
    }
    // The nonces come from the clients' generators: each `encrypt` draws both of its
    // nonces at once (48 bytes); the sealed identity and the stored records take 24.
    let mut drawn = draws.of_len(24);
    drawn.extend(
        draws
            .of_len(48)
            .iter()
            .flat_map(|d| d.chunks(24).map(<[u8]>::to_vec)),
    );
    assert!(
        seen.keys()
            .all(|n| drawn.iter().any(|d| d.as_slice() == n.as_slice()))
    );
}

#[test]
fn the_searches_find_planted_leaks() {
    let (relay, _transport, clients, messages, draws) = conversation();
    let (envelopes, _) = split_log(&relay);
    let secret = draws.secrets()[5];
    let mut needles = Needles::new(16);
    needles.add("secret", &secret);
    needles.add("identity", clients[0].identity_key().as_bytes());
    let mut bodies = Needles::new(12);
    bodies.add("body", &messages[5].body);
    for (plant, found) in [
        (&secret[3..19], &needles),
        (&clients[0].identity_key().as_bytes()[10..26], &needles),
        (&messages[5].body[1..13], &bodies),
    ] {
        let mut envelope = envelopes[2].clone();
        envelope[200..200 + plant.len()].copy_from_slice(plant);
        assert_eq!(found.find(&envelope).map(|(_, at)| at), Some(200));
    }
}
