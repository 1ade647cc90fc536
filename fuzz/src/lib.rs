//! Fixtures shared by the fuzz targets and the seed-corpus generator
//! (`examples/make_corpus.rs`): a fixed conversation from a seeded RNG, a fixed responder
//! account with initial envelopes addressed to it, and the record format of the `records`
//! target. Everything is deterministic, so a crash reproduces from its input alone. The
//! parties, the RNG and the two-party interaction model (the `interaction` target) come
//! from `hemlis-test`, the harness of the tests.

use std::sync::OnceLock;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hemlis::store::Table;
use hemlis::{Account, ClientConfig, ClientParts, InMemoryRelay, Limits, MemoryStore};
use hemlis_test::clock::FixedClock;
use hemlis_test::party::Party;
use hemlis_test::rng::rng;

/// Valid envelopes to a fixed receiver state, with their plaintexts.
pub struct Fixture {
    /// The receiver's serialized state (a `Session` or an `Account`).
    pub state: Vec<u8>,
    /// `(envelope, plaintext)` pairs the state accepts.
    pub envelopes: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Fixture {
    /// The plaintext of `envelope` if it is one of the valid ones.
    pub fn plaintext_of(&self, envelope: &[u8]) -> Option<&[u8]> {
        self.envelopes
            .iter()
            .find(|(e, _)| e.as_slice() == envelope)
            .map(|(_, p)| p.as_slice())
    }
}

/// Bob's established session with Alice (a `Session`), and envelopes Alice sent him: the
/// already-delivered first message (a duplicate now), three of her current chain and, after
/// his reply reached her, two of her next chain.
pub fn session_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut alice = Party::new(11);
        let mut bob = Party::new(12);
        let bundle = bob.bundle(true);
        alice.initiate(&bundle);
        let first = alice.send(b"hello bob");
        bob.receive(&first).expect("first message");
        let mut envelopes = vec![(first, b"hello bob".to_vec())];
        for text in [&b"one"[..], b"two", &[7u8; 300]] {
            envelopes.push((alice.send(text), text.to_vec()));
        }
        let reply = bob.send(b"hello alice");
        alice.receive(&reply).expect("reply");
        for text in [&b"three"[..], b""] {
            envelopes.push((alice.send(text), text.to_vec()));
        }
        let state = bob
            .peer
            .active()
            .expect("session")
            .to_bytes()
            .expect("state")
            .to_vec();
        Fixture { state, envelopes }
    })
}

/// Bob's account (an `Account`) before any session, and initial envelopes to it: from two
/// initiators, one through a one-time prekey and one-time KEM prekey, one through the
/// last-resort KEM prekey; the second message of each is an initial envelope too.
pub fn account_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut bob = Party::new(22);
        let with_one_time = bob.bundle(true);
        let last_resort = bob.bundle(false);
        let mut envelopes = Vec::new();
        for (seed, bundle) in [(23, &with_one_time), (24, &last_resort)] {
            let mut alice = Party::new(seed);
            alice.initiate(bundle);
            for text in [&b"first"[..], b"second"] {
                envelopes.push((alice.send(text), text.to_vec()));
            }
        }
        let state = bob.account.to_bytes().expect("state").to_vec();
        Fixture { state, envelopes }
    })
}

/// The limits every target uses.
pub fn limits() -> Limits {
    Limits::default()
}

/// A fresh account restored from `bytes` (panics if the fixture does not restore).
pub fn restore_account(bytes: &[u8]) -> Account {
    Account::from_bytes(bytes, limits()).expect("fixture restores")
}

// ---------------------------------------------------------------------------------------
// Records at rest (docs/PROTOCOL.md, section 12.3)

/// The storage key of the `records` target.
pub const STORAGE_KEY: [u8; 32] = [0x5a; 32];

/// The tables in the order of their ids (1 to 5).
pub const TABLES: [Table; 5] = [
    Table::Meta,
    Table::Account,
    Table::Peers,
    Table::Outbox,
    Table::Inbox,
];

/// `SEAL(STORAGE_KEY, "hemlis/v1/record" || table id || key, plaintext)` with a nonce of
/// `nonce_byte`s, written from the protocol document rather than with the library's code.
pub fn seal_record(table: Table, key: &[u8], plaintext: &[u8], nonce_byte: u8) -> Vec<u8> {
    let mut ad = b"hemlis/v1/record".to_vec();
    ad.push(table.id());
    ad.extend_from_slice(key);
    let nonce = [nonce_byte; 24];
    let cipher = XChaCha20Poly1305::new((&STORAGE_KEY).into());
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &ad,
            },
        )
        .expect("sealing cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

/// Opens a record sealed under [`STORAGE_KEY`] (for the corpus generator).
pub fn open_record(table: Table, key: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let mut ad = b"hemlis/v1/record".to_vec();
    ad.push(table.id());
    ad.extend_from_slice(key);
    let (nonce, body) = sealed.split_at_checked(24)?;
    let cipher = XChaCha20Poly1305::new((&STORAGE_KEY).into());
    cipher
        .decrypt(&XNonce::try_from(nonce).ok()?, Payload { msg: body, aad: &ad })
        .ok()
}

/// One record of a `records` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordInput {
    pub table: Table,
    /// Seal `value` as the plaintext (else store it as is).
    pub seal: bool,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Reads records from fuzzer bytes: per record `table (1) || key length (1) || value length
/// (2, big-endian) || key || value`; the table byte's low three bits pick the table (modulo
/// 5) and its top bit stores the value unsealed.
pub fn parse_records(mut data: &[u8]) -> Vec<RecordInput> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let table = TABLES[usize::from(data[0] & 7) % 5];
        let seal = data[0] & 0x80 == 0;
        let key_len = usize::from(data[1] % 40);
        let value_len = usize::from(u16::from_be_bytes([data[2], data[3]]) % 8192);
        data = &data[4..];
        let key_len = key_len.min(data.len());
        let (key, rest) = data.split_at(key_len);
        let value_len = value_len.min(rest.len());
        let (value, rest) = rest.split_at(value_len);
        out.push(RecordInput {
            table,
            seal,
            key: key.to_vec(),
            value: value.to_vec(),
        });
        data = rest;
    }
    out
}

/// The bytes [`parse_records`] reads back as `records`.
pub fn encode_records(records: &[RecordInput]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let index = TABLES.iter().position(|t| *t == r.table).expect("known table") as u8;
        out.push(index | if r.seal { 0 } else { 0x80 });
        out.push(r.key.len() as u8);
        out.extend_from_slice(&(r.value.len() as u16).to_be_bytes());
        out.extend_from_slice(&r.key);
        out.extend_from_slice(&r.value);
    }
    out
}

/// The key check record's plaintext (docs/PROTOCOL.md, section 12.3).
pub const CHECK_PLAINTEXT: &[u8] = b"hemlis storage key check v1";

/// A small configuration, so an upkeep generates few keys.
pub fn small_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.one_time_prekeys = 2;
    config.replenish_below = 1;
    config
}

/// Client parts over `store` and `relay`, under [`STORAGE_KEY`].
pub fn client_parts(store: MemoryStore, relay: &InMemoryRelay, seed: u64) -> ClientParts {
    ClientParts {
        storage_key: STORAGE_KEY,
        store: Box::new(store),
        transport: Box::new(relay.clone()),
        clock: Box::new(FixedClock(1_700_000_000)),
        rng: Box::new(rng(seed)),
        config: small_config(),
    }
}

/// The envelope a `session_decrypt` or `initial` input stands for: with an even first byte
/// (or an empty input), the bytes after it as they are; with an odd first byte, the valid
/// envelope the second byte picks, edited by the rest: each 3-byte group `(position high,
/// position low, x)` XORs `x` into the byte at that position (modulo the length), and a
/// second byte with the top bit set cuts the envelope at the position of the last group
/// (or, with bit 6 also set, appends the group's bytes instead).
pub fn mutate(data: &[u8], valid: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode & 1 == 0 || valid.is_empty() {
        return rest.to_vec();
    }
    let Some((&pick, edits)) = rest.split_first() else {
        return valid[0].0.clone();
    };
    let mut envelope = valid[usize::from(pick) % valid.len()].0.clone();
    let mut last = None;
    for group in edits.chunks_exact(3) {
        let at = usize::from(u16::from_be_bytes([group[0], group[1]])) % envelope.len();
        envelope[at] ^= group[2];
        last = Some((at, group));
    }
    if pick & 0x80 != 0
        && let Some((at, group)) = last
    {
        if pick & 0x40 != 0 {
            envelope.extend_from_slice(group);
        } else {
            envelope.truncate(at);
        }
    }
    envelope
}
