//! Set-up shared by `benches/compare.rs` and `benches/report.rs`: established hemlis and
//! vodozemac (Olm) session pairs, and the state sizes both targets print.
#![allow(dead_code)]

use hemlis::{Account, Envelope, Limits, PrekeyBundle, Session, os_rng};
use hemlis_test::sessions::copy_session;
use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, SeedableRng};
use vodozemac::olm::{
    Account as OlmAccount, OlmMessage, Session as OlmSession, SessionConfig, SessionPickle,
};

/// The app's clock, in seconds; any value works.
pub const NOW: u64 = 1_700_000_000;
/// The key vodozemac encrypts its pickles under.
pub const PICKLE_KEY: [u8; 32] = [7u8; 32];
/// Plaintext sizes of the one-way workload.
pub const SIZES: [usize; 3] = [16, 256, 4096];
/// Messages skipped in the out-of-order workload.
pub const SKIP: usize = 1_000;
/// The skipped message decrypted late. vodozemac keeps only the 40 newest skipped keys of a
/// chain, so this one is inside its window too.
pub const LATE: usize = 980;
/// Round trips that bring a session to its steady idle state (old chains at their bound).
pub const IDLE_ROUND_TRIPS: usize = 10;

/// A bare userspace CSPRNG seeded once from the operating system: the inputs of the primitive
/// benches, and a reference for `hemlis::fast_rng()` (which adds rekeying and a fork check).
pub fn chacha() -> ChaCha20Rng {
    ChaCha20Rng::from_rng(&mut os_rng())
}

/// A plaintext of `len` bytes.
pub fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Bob's account with one one-time prekey and one one-time KEM prekey, serialized, and his
/// encoded bundle naming them.
pub fn hemlis_responder<R: CryptoRng>(rng: &mut R) -> (Vec<u8>, Vec<u8>) {
    let mut bob = Account::new(rng, NOW);
    let one_time = bob.generate_one_time_prekeys(1, rng).pop();
    let one_time_kem = bob.generate_one_time_kem_prekeys(1, rng).pop();
    let bundle = bob
        .prekey_bundle(one_time, one_time_kem)
        .expect("bundle")
        .encode();
    (bob.to_bytes().expect("account state").to_vec(), bundle)
}

/// Sends one envelope from `from` to `to`, checking the plaintext.
pub fn hemlis_send<R: CryptoRng>(from: &mut Session, to: &mut Session, plaintext: &[u8], rng: &mut R) {
    let envelope = from.encrypt(plaintext, rng).expect("encrypt");
    assert_eq!(to.decrypt(&envelope, rng).expect("decrypt"), plaintext);
}

/// An established hemlis session pair (initiator, responder): the handshake, a reply and one
/// more message from the initiator, so that initiator-to-responder messages travel on the
/// responder's current receiving chain and carry no X3DH fields.
pub fn hemlis_pair<R: CryptoRng>(rng: &mut R) -> (Session, Session) {
    let limits = Limits::default();
    let alice = Account::new(rng, NOW);
    let (bob_state, bundle) = hemlis_responder(rng);
    let mut bob = Account::from_bytes(&bob_state, limits).expect("account");
    let bundle = PrekeyBundle::decode(&bundle).expect("bundle");
    let mut a = Session::initiate(alice.identity(), &bundle, limits, rng).expect("initiate");
    let first = a.encrypt(b"hello", rng).expect("encrypt");
    let parsed = Envelope::parse(&first, limits.max_padded_len()).expect("parse");
    let (mut b, _) = bob.accept_initial(&parsed, rng).expect("accept");
    hemlis_send(&mut b, &mut a, b"hi", rng);
    hemlis_send(&mut a, &mut b, b"again", rng);
    (a, b)
}

/// A hemlis pair after `IDLE_ROUND_TRIPS` round trips: each side holds the most old
/// (empty) receiving chains `Limits` allows, as a session does after a conversation.
pub fn hemlis_idle_pair<R: CryptoRng>(rng: &mut R) -> (Session, Session) {
    let (mut a, mut b) = hemlis_pair(rng);
    for _ in 0..IDLE_ROUND_TRIPS {
        hemlis_send(&mut b, &mut a, b"ping", rng);
        hemlis_send(&mut a, &mut b, b"pong", rng);
    }
    (a, b)
}

/// The responder of a hemlis pair after receiving message `SKIP` of a chain whose messages
/// `0..SKIP` it has not seen (it holds `SKIP` skipped keys), and the envelopes of the chain.
pub fn hemlis_skipped<R: CryptoRng>(rng: &mut R) -> (Session, Session, Vec<Vec<u8>>) {
    let (mut a, b) = hemlis_idle_pair(rng);
    let envelopes: Vec<Vec<u8>> = (0..=SKIP)
        .map(|i| a.encrypt(&(i as u32).to_be_bytes(), rng).expect("encrypt"))
        .collect();
    let mut skipped = copy_session(&b);
    skipped.decrypt(&envelopes[SKIP], rng).expect("decrypt");
    assert_eq!(skipped.skipped_key_count(), SKIP);
    (b, skipped, envelopes)
}

/// An Olm message as it travels: encoded to bytes and parsed back.
pub fn olm_wire(message: &OlmMessage) -> OlmMessage {
    let (kind, bytes) = message.to_parts();
    OlmMessage::from_parts(kind, &bytes).expect("olm message")
}

/// A copy of an Olm session (vodozemac's `Session` is not `Clone`).
pub fn olm_clone(session: &OlmSession) -> OlmSession {
    OlmSession::from_pickle(session.pickle())
}

/// Sends one Olm message from `from` to `to` through its wire encoding.
pub fn olm_send(from: &mut OlmSession, to: &mut OlmSession, plaintext: &[u8]) {
    let message = olm_wire(&from.encrypt(plaintext).expect("encrypt"));
    assert_eq!(to.decrypt(&message).expect("decrypt"), plaintext);
}

/// Bob's Olm account with one one-time key, and that key.
pub fn olm_responder() -> (OlmAccount, vodozemac::Curve25519PublicKey) {
    let mut bob = OlmAccount::new();
    bob.generate_one_time_keys(1);
    let one_time = *bob.one_time_keys().values().next().expect("one-time key");
    bob.mark_keys_as_published();
    (bob, one_time)
}

/// An established Olm session pair, in the same state as [`hemlis_pair`].
pub fn olm_pair() -> (OlmSession, OlmSession) {
    let alice = OlmAccount::new();
    let (mut bob, one_time) = olm_responder();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), one_time)
        .expect("outbound");
    let OlmMessage::PreKey(first) = olm_wire(&a.encrypt(b"hello").expect("encrypt")) else {
        panic!("the first Olm message is a pre-key message");
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
        .expect("inbound")
        .session;
    olm_send(&mut b, &mut a, b"hi");
    olm_send(&mut a, &mut b, b"again");
    (a, b)
}

/// An Olm pair after `IDLE_ROUND_TRIPS` round trips.
pub fn olm_idle_pair() -> (OlmSession, OlmSession) {
    let (mut a, mut b) = olm_pair();
    for _ in 0..IDLE_ROUND_TRIPS {
        olm_send(&mut b, &mut a, b"ping");
        olm_send(&mut a, &mut b, b"pong");
    }
    (a, b)
}

/// As [`hemlis_skipped`], for Olm (which keeps only the 40 newest skipped keys).
pub fn olm_skipped() -> (OlmSession, OlmSession, Vec<OlmMessage>) {
    let (mut a, b) = olm_idle_pair();
    let messages: Vec<OlmMessage> = (0..=SKIP)
        .map(|i| olm_wire(&a.encrypt((i as u32).to_be_bytes()).expect("encrypt")))
        .collect();
    let mut skipped = olm_clone(&b);
    skipped.decrypt(&messages[SKIP]).expect("decrypt");
    (b, skipped, messages)
}

/// vodozemac's encrypted pickle (what its API offers for storage).
pub fn olm_pickle(session: &OlmSession) -> String {
    session.pickle().encrypt(&PICKLE_KEY)
}

/// vodozemac's unencrypted pickle as JSON (its pickle's serde form).
pub fn olm_json(session: &OlmSession) -> Vec<u8> {
    serde_json::to_vec(&session.pickle()).expect("json")
}

/// Restores an Olm session from [`olm_pickle`].
pub fn olm_unpickle(pickle: &str) -> OlmSession {
    OlmSession::from_pickle(SessionPickle::from_encrypted(pickle, &PICKLE_KEY).expect("unpickle"))
}

/// Restores an Olm session from [`olm_json`].
pub fn olm_from_json(json: &[u8]) -> OlmSession {
    OlmSession::from_pickle(serde_json::from_slice::<SessionPickle>(json).expect("json"))
}

/// Serialized state sizes, in bytes: `(what, bytes)`.
pub fn state_sizes() -> Vec<(String, usize)> {
    let mut rng = os_rng();
    let size = |s: &Session| s.to_bytes().expect("state").len();
    let (a, b) = hemlis_pair(&mut rng);
    let (a_idle, b_idle) = hemlis_idle_pair(&mut rng);
    let (_, skipped, _) = hemlis_skipped(&mut rng);
    let (oa, ob) = olm_pair();
    let (oa_idle, ob_idle) = olm_idle_pair();
    let (_, olm_skip, _) = olm_skipped();
    vec![
        ("hemlis, initiator, after one round trip".into(), size(&a)),
        ("hemlis, responder, after one round trip".into(), size(&b)),
        (
            format!("hemlis, initiator, idle after {IDLE_ROUND_TRIPS} round trips"),
            size(&a_idle),
        ),
        (
            format!("hemlis, responder, idle after {IDLE_ROUND_TRIPS} round trips"),
            size(&b_idle),
        ),
        (format!("hemlis, holding {SKIP} skipped keys"), size(&skipped)),
        (
            "vodozemac, initiator, after one round trip (encrypted pickle)".into(),
            olm_pickle(&oa).len(),
        ),
        (
            "vodozemac, responder, after one round trip (encrypted pickle)".into(),
            olm_pickle(&ob).len(),
        ),
        (
            format!("vodozemac, initiator, idle after {IDLE_ROUND_TRIPS} round trips (encrypted pickle)"),
            olm_pickle(&oa_idle).len(),
        ),
        (
            format!("vodozemac, responder, idle after {IDLE_ROUND_TRIPS} round trips (encrypted pickle)"),
            olm_pickle(&ob_idle).len(),
        ),
        (
            format!("vodozemac, responder, idle after {IDLE_ROUND_TRIPS} round trips (JSON pickle)"),
            olm_json(&ob_idle).len(),
        ),
        (
            format!("vodozemac, after skipping {SKIP} (keeps 40 keys; encrypted pickle)"),
            olm_pickle(&olm_skip).len(),
        ),
        (
            format!("vodozemac, after skipping {SKIP} (keeps 40 keys; JSON pickle)"),
            olm_json(&olm_skip).len(),
        ),
    ]
}

/// A floor: the primitive operations a workload must do, as `(count, primitive)`, each
/// primitive named as its bench in the group `primitives`. `rng_24`, `rng_32` and `rng_48`
/// stand for the draws of whichever RNG the implementation uses (`rng_os_*` or `rng_fast_*`).
pub type Formula = Vec<(usize, &'static str)>;

/// One-way, per message, with a body padded to `padded` bytes: the sender's and the
/// receiver's KDF_CK, the header sealed and opened, the body sealed and opened, and the two
/// nonces (one 48-byte draw, docs/PROTOCOL.md section 6.4).
pub fn one_way_floor(padded: usize) -> Formula {
    let (seal, open) = match padded {
        192 => ("seal_body_192", "open_body_192"),
        272 => ("seal_body_272", "open_body_272"),
        4352 => ("seal_body_4352", "open_body_4352"),
        other => panic!("no AEAD shape for a {other}-byte body"),
    };
    vec![
        (2, "kdf_ck"),
        (1, "seal_header_40"),
        (1, "open_header_40"),
        (1, seal),
        (1, open),
        (1, "rng_48"),
    ]
}

/// Ping-pong, per message: one-way (192-byte body) plus the receiver's DH ratchet step,
/// KDF_RK(RK, DH(DHs, DHr)), a new ratchet key pair, KDF_RK(RK', DH(DHs', DHr)).
pub fn ping_pong_floor() -> Formula {
    let mut f = one_way_floor(192);
    f.extend([
        (1, "x25519_keygen"),
        (1, "rng_32"),
        (2, "x25519_dh"),
        (2, "hkdf_96"),
    ]);
    f
}

/// Handshake with a one-time prekey, a one-time KEM prekey and a 16-byte first message,
/// both sides (docs/PROTOCOL.md, sections 2.4, 3.1, 4 and 6): the bundle check, PQXDH with
/// the sealed identity, both ratchet initialisations, the first message and the responder's
/// DH step.
pub fn handshake_floor() -> Formula {
    vec![
        (1, "ed25519_verify"),       // the signed prekey's signature (59-byte message)
        (1, "ed25519_verify_kem"),   // the KEM prekey's signature (1,209-byte message)
        (2, "ed25519_key_decode"),   // IK_B from the bundle, IK_A from the sealed identity
        (2, "x25519_prekey_check"),  // SPK_B and OPK_B in the bundle
        (1, "ml_kem_ek_check"),      // PQPK_B: FIPS 203 input check, parsed for use
        (1, "ml_kem_encaps"),        // the initiator's (CT, SS)
        (1, "ml_kem_expand"),        // the responder's decapsulation key from its 64-byte seed
        (1, "ml_kem_decaps"),        // the responder's SS
        (3, "x25519_keygen"),        // EK_A, the initiator's and the responder's ratchet keys
        (4, "rng_32"),               // their secrets, and the ML-KEM message m
        (11, "x25519_dh"),           // 4 + 1 initiator, 4 + 2 responder
        (2, "hkdf_pqxdh"),           // SK, both sides
        (2, "hkdf_sealed_identity"), // K_id, both sides
        (5, "hkdf_96"),              // ratchet-init x 2, KDF_RK x 3
        (2, "kdf_ck"),               // the first message, both sides
        (1, "seal_identity_32"),
        (1, "open_identity_32"),
        (1, "seal_header_40_initial"),
        (1, "open_header_40_initial"),
        (1, "seal_body_192_initial"),
        (1, "open_body_192_initial"),
        (1, "rng_24"), // the sealed identity's nonce
        (1, "rng_48"), // the header's and the body's nonces, one draw
    ]
}

/// Out of order, decrypting message `SKIP` (receiver only): the header opened, `SKIP + 1`
/// chain steps, the body opened.
pub fn skip_floor() -> Formula {
    vec![(1, "open_header_40"), (SKIP + 1, "kdf_ck"), (1, "open_body_192")]
}

/// Out of order, decrypting a skipped message (receiver only): header and body opened.
pub fn late_floor() -> Formula {
    vec![(1, "open_header_40"), (1, "open_body_192")]
}

/// Where criterion writes its results: `CRITERION_HOME`, else `criterion` in the target
/// directory (`CARGO_TARGET_DIR`, else `target` next to `Cargo.toml`).
pub fn criterion_dir() -> std::path::PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        Into::into,
    );
    target.join("criterion")
}

/// The floor of each workload group.
pub fn floors() -> Vec<(&'static str, Formula)> {
    vec![
        ("handshake", handshake_floor()),
        ("one_way_16", one_way_floor(192)),
        ("one_way_256", one_way_floor(272)),
        ("one_way_4096", one_way_floor(4352)),
        ("ping_pong", ping_pong_floor()),
        ("out_of_order_skip", skip_floor()),
        ("out_of_order_late", late_floor()),
    ]
}
