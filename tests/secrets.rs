//! Secrets stay secret: `Debug` output never shows key material, serialized state round
//! trips without changing behaviour, and malformed state is refused with the exact error.
//!
//! The secrets are known to the test: every seed and scalar comes from a recorded
//! deterministic RNG, and the keys derived from them (the ML-KEM shared secret, the PQXDH
//! secret, the sealed-identity key, root, chain, header and message keys) are recomputed
//! here with `x25519-dalek`, `ml-kem`, `sha2` and `hemlis::kat`. Each
//! recomputed key is first found in the serialized state (so the derivation is right and
//! the key really is held), then looked for in the `Debug` output.

use std::convert::Infallible;

use hemlis::{Account, Error, IdentityKeyPair, Limits, PeerSessions, Session, StateError, kat};
use hemlis_test::hex::{hex, unhex};
use hemlis_test::party::*;
use hemlis_test::rng::rng;
use hemlis_test::search::contains;
use hemlis_test::sessions::copy_session;
use ml_kem::array::Array;
use ml_kem::{EncapsulationKey, MlKem768};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};
use sha2::{Digest, Sha512};
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

// ---------------------------------------------------------------------------------------
// Helpers

/// A deterministic RNG that remembers every draw.
struct Recorder {
    inner: ChaCha20Rng,
    draws: Vec<Vec<u8>>,
}

impl Recorder {
    fn new(seed: u64) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: Vec::new(),
        }
    }

    /// The 32-byte draws (identity seeds, X25519 scalars, ML-KEM seed halves and messages;
    /// nonces are 24 bytes).
    fn keys(&self) -> Vec<[u8; 32]> {
        self.draws
            .iter()
            .filter_map(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
            .collect()
    }

    fn lens(&self) -> Vec<usize> {
        self.draws.iter().map(Vec::len).collect()
    }
}

impl TryRng for Recorder {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let v = self.inner.next_u32();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let v = self.inner.next_u64();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for Recorder {}

/// The secrets of an Ed25519 identity with this seed: the seed, the SHA-512 halves (the
/// X25519 scalar and the signing nonce key) and the clamped scalar.
fn identity_secrets(seed: &[u8; 32]) -> Vec<[u8; 32]> {
    let h = Sha512::digest(seed);
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&h[..32]);
    let mut prefix = [0u8; 32];
    prefix.copy_from_slice(&h[32..]);
    let mut clamped = scalar;
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    vec![*seed, scalar, clamped, prefix]
}

/// The X25519 scalar of an identity seed.
fn identity_scalar(seed: &[u8; 32]) -> [u8; 32] {
    identity_secrets(seed)[1]
}

fn public(scalar: &[u8; 32]) -> [u8; 32] {
    x25519(*scalar, X25519_BASEPOINT_BYTES)
}

/// Number tokens of a string, read in `radix`: "[12, 3]" gives 12 and 3.
fn tokens(s: &str, radix: u32) -> Vec<Option<u8>> {
    s.split(|c: char| !c.is_digit(radix))
        .filter(|t| !t.is_empty())
        .map(|t| u8::from_str_radix(t, radix).ok())
        .collect()
}

/// Where 8 consecutive bytes of `secret` show in `text`: as hex, or as a run of decimal
/// or hexadecimal numbers (array formatting: `{:?}`, `{:#?}`, `{:x?}`, `{:#x?}`).
fn leak(text: &str, secret: &[u8; 32]) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let decimal = tokens(text, 10);
    let hexadecimal = tokens(&lower.replace("0x", " "), 16);
    for window in secret.windows(8) {
        if lower.contains(&hex(window)) {
            return Some(format!("hex {}", hex(window)));
        }
        let window: Vec<Option<u8>> = window.iter().map(|&b| Some(b)).collect();
        if decimal.windows(8).any(|w| w == window.as_slice()) {
            return Some(format!("decimal {window:?}"));
        }
        if hexadecimal.windows(8).any(|w| w == window.as_slice()) {
            return Some(format!("hex numbers {window:?}"));
        }
    }
    None
}

/// Every `Debug` rendering of `value` is free of every secret.
fn assert_no_leak<T: core::fmt::Debug>(what: &str, value: &T, secrets: &[(&str, [u8; 32])]) {
    let renderings = [
        format!("{value:?}"),
        format!("{value:#?}"),
        format!("{value:x?}"),
        format!("{value:#X?}"),
    ];
    for (_, secret) in secrets {
        // The checker itself finds the secret in its usual formats.
        assert!(leak(&format!("{secret:?}"), secret).is_some());
        assert!(leak(&format!("{secret:#?}"), secret).is_some());
        assert!(leak(&format!("{secret:#x?}"), secret).is_some());
        assert!(leak(&hex(secret).to_uppercase(), secret).is_some());
    }
    for text in &renderings {
        for (name, secret) in secrets {
            if let Some(found) = leak(text, secret) {
                panic!("Debug of {what} shows {name} ({found}):\n{text}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Debug

#[test]
fn identity_key_pair_debug_is_pinned() {
    const SEED: u64 = 0x5EC2E7;
    let identity = IdentityKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(SEED));
    let mut seed = [0u8; 32];
    ChaCha20Rng::seed_from_u64(SEED).fill_bytes(&mut seed);

    let public = hex(identity.public().as_bytes());
    assert_eq!(
        format!("{identity:?}"),
        format!("IdentityKeyPair {{ public: IdentityKey({public}), secret: \"<redacted>\" }}")
    );
    assert_eq!(
        format!("{identity:#?}"),
        format!("IdentityKeyPair {{\n    public: IdentityKey({public}),\n    secret: \"<redacted>\",\n}}")
    );
    assert_eq!(format!("{:?}", identity.clone()), format!("{identity:?}"));

    // The seed drawn from the identical RNG is this identity's: an account built the same
    // way stores exactly it.
    let account = Account::new(&mut ChaCha20Rng::seed_from_u64(SEED), 0);
    assert_eq!(account.identity_key(), identity.public());
    assert!(contains(&account.to_bytes().unwrap(), &seed));

    let secrets: Vec<_> = identity_secrets(&seed)
        .into_iter()
        .map(|s| ("identity secret", s))
        .collect();
    assert_no_leak("IdentityKeyPair", &identity, &secrets);
    assert_no_leak("Account", &account, &secrets);
    assert!(format!("{account:?}").contains(&format!("{identity:?}")));
}

#[test]
fn account_and_session_debug_hide_every_key() {
    let mut ra = Recorder::new(0xA11CE);
    let mut rb = Recorder::new(0xB0B);
    let mut alice = Account::new(&mut ra, 1);
    let mut bob = Account::new(&mut rb, 1);
    let otps = bob.generate_one_time_prekeys(2, &mut rb);
    let kems = bob.generate_one_time_kem_prekeys(2, &mut rb);
    let bundle = bob.prekey_bundle(Some(otps[0]), Some(kems[0].clone())).unwrap();
    let mut alice_peer = PeerSessions::new(Limits::default());
    alice_peer.initiate(alice.identity(), &bundle, &mut ra).unwrap();
    let _m0 = alice_peer.encrypt(b"zero", &mut ra).unwrap();
    let m1 = alice_peer.encrypt(b"one", &mut ra).unwrap();
    let mut bob_peer = PeerSessions::new(Limits::default());
    // Message 1 before message 0: Bob keeps the key of message 0.
    assert_eq!(
        bob_peer.decrypt(&mut bob, &m1, &mut rb).unwrap().plaintext,
        b"one"
    );

    // Alice drew: identity seed, signed prekey, last-resort KEM seed (d, z), EK_A, the
    // ML-KEM message, sealed-identity nonce, ratchet key, then both nonces of each message
    // in one 48-byte draw.
    // Bob: seed, signed prekey, last-resort KEM seed (d, z), two one-time prekeys, two
    // one-time KEM seeds (d, z each), and his first ratchet key when Alice's message
    // decrypted.
    assert_eq!(ra.lens(), [32, 32, 32, 32, 32, 32, 24, 32, 48, 48]);
    assert_eq!(rb.lens(), [32; 11]);
    let [seed_a, spk_a, lr_d_a, lr_z_a, ek, kem_m, ratchet_a] = ra.keys()[..] else {
        panic!()
    };
    let [
        seed_b,
        spk_b,
        lr_d_b,
        lr_z_b,
        otp1,
        otp2,
        kem1_d,
        kem1_z,
        kem2_d,
        kem2_z,
        ratchet_b,
    ] = rb.keys()[..]
    else {
        panic!()
    };
    assert_eq!(public(&spk_b), bundle.signed_prekey().key);
    assert_eq!(public(&otp1), otps[0].key);
    assert_eq!(public(&otp2), otps[1].key);
    assert_eq!(kat::kem_public_from_seed(kem1_d, kem1_z), kems[0].key);
    assert_eq!(kat::kem_public_from_seed(kem2_d, kem2_z), kems[1].key);
    assert_eq!(
        kat::kem_public_from_seed(lr_d_b, lr_z_b),
        bob.last_resort_kem_prekey().key
    );
    assert_eq!(
        kat::kem_public_from_seed(lr_d_a, lr_z_a),
        alice.last_resort_kem_prekey().key
    );

    // PQXDH as the initiator computes it; the encapsulation is recomputed with the ml-kem
    // crate from the recorded message and must give the ciphertext Alice sent.
    let ik_b = public(&identity_scalar(&seed_b));
    let dh1 = x25519(identity_scalar(&seed_a), bundle.signed_prekey().key);
    let dh2 = x25519(ek, ik_b);
    let dh3 = x25519(ek, bundle.signed_prekey().key);
    let dh4 = x25519(ek, otps[0].key);
    let ek_a = public(&ek);
    let kem_key: [u8; 1184] = kems[0].key.as_slice().try_into().unwrap();
    let (ciphertext, ss) = EncapsulationKey::<MlKem768>::new(&Array::from(kem_key))
        .unwrap()
        .encapsulate_deterministic(&Array::from(kem_m));
    let ss: [u8; 32] = ss.as_slice().try_into().unwrap();
    assert_eq!(&m1[48..48 + 1088], ciphertext.as_slice());
    let ciphertext: [u8; 1088] = ciphertext.as_slice().try_into().unwrap();
    assert_eq!(kat::kem_decapsulate(kem1_d, kem1_z, &ciphertext), ss);
    let sk = kat::handshake_secret(&[dh1, dh2, dh3, dh4], Some(ss));
    let sealed_identity_key = kat::sealed_identity_key(
        dh3,
        Some(ss),
        ek_a,
        bundle.signed_prekey().key,
        bundle.identity().to_bytes(),
    );
    let (rk0, hk_a, nhk_b) = kat::ratchet_init(sk);
    // Alice's first sending chain, two messages sent.
    let (rk1, cka0, nhk_a) = kat::kdf_rk(rk0, x25519(ratchet_a, bundle.signed_prekey().key));
    let (mk_a0, cka1) = kat::kdf_ck(cka0);
    let (mk_a1, cka2) = kat::kdf_ck(cka1);
    // Bob's first sending chain, after his DH ratchet step.
    let (rk2, ckb0, nhk_b2) = kat::kdf_rk(rk1, x25519(ratchet_b, public(&ratchet_a)));

    let alice_session = alice_peer.active().unwrap().to_bytes().unwrap();
    let bob_session = bob_peer.active().unwrap().to_bytes().unwrap();
    let alice_account = alice.to_bytes().unwrap();
    let bob_account = bob.to_bytes().unwrap();

    // Positive control: the state holds exactly the keys the derivation predicts.
    for (name, key) in [
        ("root", rk1),
        ("sending chain", cka2),
        ("sending header", hk_a),
        ("next sending header", nhk_a),
        ("next receiving header", nhk_b),
        ("ratchet", ratchet_a),
    ] {
        assert!(
            contains(&alice_session, &key),
            "Alice's session holds its {name} key"
        );
    }
    for (name, key) in [
        ("root", rk2),
        ("sending chain", ckb0),
        ("sending header", nhk_b),
        ("next sending header", nhk_b2),
        ("receiving chain", cka2),
        ("receiving header", hk_a),
        ("next receiving header", nhk_a),
        ("skipped message", mk_a0),
        ("ratchet", ratchet_b),
    ] {
        assert!(contains(&bob_session, &key), "Bob's session holds its {name} key");
    }
    assert!(contains(&alice_account, &seed_a) && contains(&alice_account, &spk_a));
    assert!(contains(&alice_account, &lr_d_a) && contains(&alice_account, &lr_z_a));
    assert!(contains(&bob_account, &seed_b) && contains(&bob_account, &spk_b));
    assert!(contains(&bob_account, &lr_d_b) && contains(&bob_account, &lr_z_b));
    assert!(contains(&bob_account, &otp2));
    assert!(contains(&bob_account, &kem2_d) && contains(&bob_account, &kem2_z));
    assert_eq!(bob.one_time_kem_prekey_count(), 1);
    // Forward secrecy: what was used once is gone.
    assert!(
        !contains(&bob_account, &otp1),
        "the used one-time prekey is deleted"
    );
    assert!(
        !contains(&bob_account, &kem1_d) && !contains(&bob_account, &kem1_z),
        "the used one-time KEM prekey is deleted"
    );
    for (name, key) in [
        ("EK_A", ek),
        ("ML-KEM message", kem_m),
        ("SS", ss),
        ("sealed-identity key", sealed_identity_key),
        ("SK", sk),
        ("first root key", rk0),
        ("DH1", dh1),
        ("DH3", dh3),
        ("DH4", dh4),
        ("used chain key", cka0),
        ("used chain key", cka1),
        ("used message key", mk_a1),
    ] {
        for state in [&alice_session, &bob_session, &alice_account, &bob_account] {
            assert!(!contains(state, &key), "{name} is not stored");
        }
    }
    assert!(
        !contains(&alice_session, &mk_a0),
        "Alice does not keep her message keys"
    );

    // No Debug rendering shows any of them.
    let mut secrets = vec![
        ("EK_A", ek),
        ("Alice's signed prekey", spk_a),
        ("Alice's ratchet key", ratchet_a),
        ("Bob's signed prekey", spk_b),
        ("Bob's one-time prekey", otp1),
        ("Bob's other one-time prekey", otp2),
        ("Alice's last-resort KEM seed d", lr_d_a),
        ("Alice's last-resort KEM seed z", lr_z_a),
        ("Bob's last-resort KEM seed d", lr_d_b),
        ("Bob's last-resort KEM seed z", lr_z_b),
        ("Bob's one-time KEM seed d", kem1_d),
        ("Bob's one-time KEM seed z", kem1_z),
        ("Bob's other one-time KEM seed d", kem2_d),
        ("Bob's other one-time KEM seed z", kem2_z),
        ("ML-KEM message", kem_m),
        ("SS", ss),
        ("sealed-identity key", sealed_identity_key),
        ("Bob's ratchet key", ratchet_b),
        ("SK", sk),
        ("DH1", dh1),
        ("DH2", dh2),
        ("DH3", dh3),
        ("DH4", dh4),
        ("root key 0", rk0),
        ("root key 1", rk1),
        ("root key 2", rk2),
        ("header key A", hk_a),
        ("next header key A", nhk_a),
        ("next header key B", nhk_b),
        ("next header key B 2", nhk_b2),
        ("chain key A0", cka0),
        ("chain key A1", cka1),
        ("chain key A2", cka2),
        ("chain key B0", ckb0),
        ("message key A0", mk_a0),
        ("message key A1", mk_a1),
    ];
    for s in identity_secrets(&seed_a) {
        secrets.push(("Alice's identity", s));
    }
    for s in identity_secrets(&seed_b) {
        secrets.push(("Bob's identity", s));
    }
    assert_no_leak("Alice's Account", &alice, &secrets);
    assert_no_leak("Bob's Account", &bob, &secrets);
    assert_no_leak("Alice's PeerSessions", &alice_peer, &secrets);
    assert_no_leak("Bob's PeerSessions", &bob_peer, &secrets);
    assert_no_leak("Alice's Session", alice_peer.active().unwrap(), &secrets);
    assert_no_leak("Bob's Session", bob_peer.active().unwrap(), &secrets);
    assert_no_leak("Alice's identity", alice.identity(), &secrets);
    assert_no_leak("Bob's identity", bob.identity(), &secrets);

    // The redacted forms are what shows instead.
    let session = format!("{:?}", bob_peer.active().unwrap());
    for redacted in ["RootKey", "ChainKey", "HeaderKey", "DhKeyPair"] {
        assert!(session.contains(&format!("{redacted}(<redacted>)")), "{redacted}");
    }
    assert!(format!("{bob:?}").contains("DhKeyPair(<redacted>)"));
    assert!(format!("{bob:?}").contains("KemKeyPair(<redacted>)"));

    // A few more turns, each with a fresh ratchet key: still nothing shows.
    for turn in 0..3 {
        let env = bob_peer.encrypt(format!("b{turn}").as_bytes(), &mut rb).unwrap();
        alice_peer.decrypt(&mut alice, &env, &mut ra).unwrap();
        let env = alice_peer
            .encrypt(format!("a{turn}").as_bytes(), &mut ra)
            .unwrap();
        bob_peer.decrypt(&mut bob, &env, &mut rb).unwrap();
    }
    let recorded: Vec<_> = ra
        .keys()
        .into_iter()
        .chain(rb.keys())
        .map(|k| ("recorded key", k))
        .collect();
    assert_eq!(recorded.len(), 7 + 11 + 6);
    let ratchet_now = recorded[recorded.len() - 1].1;
    assert!(contains(&bob_peer.to_bytes().unwrap(), &ratchet_now));
    assert_no_leak("Alice's PeerSessions", &alice_peer, &recorded);
    assert_no_leak("Bob's PeerSessions", &bob_peer, &recorded);
}

// ---------------------------------------------------------------------------------------
// Serialization round trips

/// Two parties mid-conversation, with skipped keys and an old chain on both sides.
fn conversation() -> (Party, Party, Vec<Vec<u8>>) {
    let (mut alice, mut bob) = established(true);
    let mut late = Vec::new();
    for round in 0..3 {
        late.push(alice.send(format!("late a{round}").as_bytes()));
        let env = alice.send(format!("a{round}").as_bytes());
        bob.receive(&env).unwrap();
        late.push(bob.send(format!("late b{round}").as_bytes()));
        let env = bob.send(format!("b{round}").as_bytes());
        alice.receive(&env).unwrap();
    }
    (alice, bob, late)
}

#[test]
fn session_round_trip_preserves_behaviour() {
    let (mut alice, mut bob, late) = conversation();
    let limits = Limits::default();
    for alice_first in [true, false] {
        let (party, peer) = if alice_first {
            (&mut alice, &bob)
        } else {
            (&mut bob, &alice)
        };
        // The session kept in memory: the party's active one (its only session, so the
        // party's sessions encrypt and decrypt with exactly this one).
        let original = party.peer.active().unwrap();
        let bytes = original.to_bytes().unwrap();
        let restored = Session::from_bytes(&bytes, limits).unwrap();
        assert_eq!(*restored.to_bytes().unwrap(), *bytes);
        assert_eq!(restored.remote_identity(), original.remote_identity());
        assert_eq!(restored.local_identity(), original.local_identity());
        assert_eq!(restored.is_initiator(), original.is_initiator());
        assert_eq!(restored.is_confirmed(), original.is_confirmed());
        assert!(original.is_post_quantum() && restored.is_post_quantum());
        assert_eq!(restored.pending_base_key(), original.pending_base_key());
        assert_eq!(restored.skipped_key_count(), original.skipped_key_count());
        assert!(original.skipped_key_count() > 0);

        // Encrypting with the same randomness gives the same envelope.
        let mut b = restored;
        let (mut ra, mut rb) = (party.rng.clone(), party.rng.clone());
        let from_original = party.peer.encrypt(b"same", &mut ra).unwrap();
        assert_eq!(b.encrypt(b"same", &mut rb).unwrap(), from_original);
        let a = |party: &Party| party.peer.active().unwrap().to_bytes().unwrap();
        assert_eq!(*a(party), *b.to_bytes().unwrap());

        // Decrypting the late messages from the peer gives the same plaintexts and states.
        for env in &late {
            let x = party.peer.decrypt(&mut party.account, env, &mut ra);
            let (x, y) = (x.map(|d| d.plaintext), b.decrypt(env, &mut rb));
            assert_eq!(x, y);
            assert_eq!(*a(party), *b.to_bytes().unwrap());
        }
        // The peer's next message.
        let mut peer_session = copy_session(peer.peer.active().unwrap());
        let env = peer_session.encrypt(b"fresh", &mut rng(5)).unwrap();
        let x = party.peer.decrypt(&mut party.account, &env, &mut ra);
        assert_eq!(x.unwrap().plaintext, b"fresh");
        assert_eq!(b.decrypt(&env, &mut rb).unwrap(), b"fresh");
        assert_eq!(*a(party), *b.to_bytes().unwrap());
    }
}

#[test]
fn account_round_trip_preserves_behaviour() {
    let mut bob = Party::new(2);
    let used = bob.bundle(true);
    let mut alice = Party::new(1);
    alice.initiate(&used);
    let first = alice.send(b"first");
    bob.receive(&first).unwrap();
    bob.account.generate_one_time_prekeys(3, &mut bob.rng);
    let kems = bob.account.generate_one_time_kem_prekeys(2, &mut bob.rng);
    // A bundle with the signed prekey and last-resort KEM prekey about to be retired.
    let retiring = bob.bundle(false);
    bob.account.rotate_signed_prekey(&mut bob.rng, 2_000);

    let limits = Limits::default();
    let bytes = bob.account.to_bytes().unwrap();
    let restored = Account::from_bytes(&bytes, limits).unwrap();
    assert_eq!(*restored.to_bytes().unwrap(), *bytes);
    assert_eq!(restored.identity_key(), bob.account.identity_key());
    assert_eq!(restored.signed_prekey(), bob.account.signed_prekey());
    assert_eq!(restored.signed_prekey_created_at(), 2_000);
    assert_eq!(restored.one_time_prekeys(), bob.account.one_time_prekeys());
    assert_eq!(
        restored.last_resort_kem_prekey(),
        bob.account.last_resort_kem_prekey()
    );
    assert_eq!(restored.one_time_kem_prekey_count(), 2);
    assert_eq!(restored.limits(), &limits);
    let otp = bob.account.one_time_prekeys()[1];
    for kem in [None, Some(kems[1].clone())] {
        assert_eq!(
            restored.prekey_bundle(Some(otp), kem.clone()).unwrap(),
            bob.account.prekey_bundle(Some(otp), kem).unwrap()
        );
    }
    assert_eq!(format!("{restored:?}"), format!("{:?}", bob.account));

    // The replay record survived: the first message is refused as a replay.
    let mut fresh_account = Account::from_bytes(&bytes, limits).unwrap();
    assert_eq!(
        PeerSessions::new(limits).decrypt(&mut fresh_account, &first, &mut rng(3)),
        Err(Error::Handshake(HandshakeError::ReplayedInitialMessage))
    );

    // Carol starts a session to the new signed prekey, a new one-time prekey and a new
    // one-time KEM prekey; Dave one to the retired signed prekey and its last-resort KEM
    // prekey: the original and the restored account answer identically.
    let bundle = bob
        .account
        .prekey_bundle(Some(otp), Some(kems[1].clone()))
        .unwrap();
    let mut carol = Party::new(3);
    carol.initiate(&bundle);
    let env = carol.send(b"to the rotated prekey");
    let mut dave = Party::new(4);
    dave.initiate(&retiring);
    let env_dave = dave.send(b"to the retired prekey");
    let mut copies = [
        Account::from_bytes(&bytes, limits).unwrap(),
        Account::from_bytes(&bytes, limits).unwrap(),
    ];
    let mut results = Vec::new();
    for (i, account) in copies.iter_mut().enumerate() {
        let mut peer = PeerSessions::new(limits);
        let got = peer.decrypt(account, &env, &mut rng(4)).unwrap();
        assert_eq!(got.plaintext, b"to the rotated prekey", "copy {i}");
        let mut peer_dave = PeerSessions::new(limits);
        let got = peer_dave.decrypt(account, &env_dave, &mut rng(5)).unwrap();
        assert_eq!(got.plaintext, b"to the retired prekey", "copy {i}");
        results.push((
            account.to_bytes().unwrap(),
            peer.to_bytes().unwrap(),
            peer_dave.to_bytes().unwrap(),
        ));
    }
    let mut peer = PeerSessions::new(limits);
    let got = peer.decrypt(&mut bob.account, &env, &mut rng(4)).unwrap();
    assert!(got.new_session);
    let mut peer_dave = PeerSessions::new(limits);
    let got = peer_dave
        .decrypt(&mut bob.account, &env_dave, &mut rng(5))
        .unwrap();
    assert!(got.new_session && peer_dave.active().unwrap().is_post_quantum());
    assert_eq!(*bob.account.to_bytes().unwrap(), *results[0].0);
    assert_eq!(*peer.to_bytes().unwrap(), *results[0].1);
    assert_eq!(*peer_dave.to_bytes().unwrap(), *results[0].2);
    assert_eq!(results[0], results[1]);
    assert!(!bob.account.one_time_prekeys().contains(&otp));
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);
}

#[test]
fn peer_sessions_round_trip_preserves_behaviour() {
    let (mut alice, mut bob, late) = conversation();
    // A second session from Alice: Bob then holds an active and a previous session.
    let bundle = bob.bundle(false);
    alice.initiate(&bundle);
    let env = alice.send(b"second session");
    assert!(bob.receive(&env).unwrap().new_session);
    assert_eq!(bob.peer.previous_len(), 1);

    let limits = Limits::default();
    for party in [&alice, &bob] {
        let bytes = party.peer.to_bytes().unwrap();
        let restored = PeerSessions::from_bytes(&bytes, limits).unwrap();
        assert_eq!(*restored.to_bytes().unwrap(), *bytes);
        assert_eq!(restored.previous_len(), party.peer.previous_len());
        assert_eq!(restored.remote_identity(), party.peer.remote_identity());
        assert_eq!(
            *restored.active().unwrap().to_bytes().unwrap(),
            *party.peer.active().unwrap().to_bytes().unwrap()
        );
    }

    // Bob restored from bytes and Bob kept in memory behave the same, message by message,
    // including late messages for his previous session.
    let account_bytes = bob.account.to_bytes().unwrap();
    let mut twin = Party::from_parts(
        Account::from_bytes(&account_bytes, limits).unwrap(),
        PeerSessions::from_bytes(&bob.peer.to_bytes().unwrap(), limits).unwrap(),
        bob.rng.clone(),
    );
    let mut inbound: Vec<Vec<u8>> = late.into_iter().step_by(2).collect();
    inbound.push(alice.send(b"more"));
    inbound.push(inbound[0].clone());
    for env in &inbound {
        let (a, b) = (bob.receive(env), twin.receive(env));
        assert_eq!(a, b);
        assert!(bob.snapshot() == twin.snapshot());
    }
    let (a, b) = (bob.send(b"reply"), twin.send(b"reply"));
    assert_eq!(a, b);
    assert_eq!(alice.receive(&a).unwrap().plaintext, b"reply");

    // No sessions at all round-trips too.
    let empty = PeerSessions::new(limits);
    let bytes = empty.to_bytes().unwrap();
    let restored = PeerSessions::from_bytes(&bytes, limits).unwrap();
    assert!(restored.active().is_none() && restored.remote_identity().is_none());
    assert_eq!(*restored.to_bytes().unwrap(), *bytes);
}

// ---------------------------------------------------------------------------------------
// Malformed state

type Restore = fn(&[u8]) -> Result<(), Error>;

fn restore_session(b: &[u8]) -> Result<(), Error> {
    Session::from_bytes(b, Limits::default()).map(drop)
}
fn restore_account(b: &[u8]) -> Result<(), Error> {
    Account::from_bytes(b, Limits::default()).map(drop)
}
fn restore_peer(b: &[u8]) -> Result<(), Error> {
    PeerSessions::from_bytes(b, Limits::default()).map(drop)
}

/// (name, valid state, restore function) for each kind of state.
fn states() -> Vec<(&'static str, Vec<u8>, Restore)> {
    let (alice, bob, _) = conversation();
    vec![
        (
            "session",
            bob.peer.active().unwrap().to_bytes().unwrap().to_vec(),
            restore_session as Restore,
        ),
        (
            "account",
            alice.account.to_bytes().unwrap().to_vec(),
            restore_account,
        ),
        (
            "peer sessions",
            alice.peer.to_bytes().unwrap().to_vec(),
            restore_peer,
        ),
    ]
}

const MALFORMED: Error = Error::State(StateError::Malformed);

#[test]
fn truncated_state_is_malformed() {
    for (name, bytes, restore) in states() {
        assert_eq!(restore(&bytes), Ok(()), "{name}");
        for len in 0..bytes.len() {
            assert_eq!(
                restore(&bytes[..len]),
                Err(MALFORMED),
                "{name} cut to {len} bytes"
            );
        }
    }
}

#[test]
fn trailing_bytes_in_state_are_malformed() {
    for (name, bytes, restore) in states() {
        for tail in [&[0u8][..], &[1], &[0xff], &[0; 7], &bytes[..]] {
            let mut b = bytes.clone();
            b.extend_from_slice(tail);
            assert_eq!(
                restore(&b),
                Err(MALFORMED),
                "{name} with {} trailing bytes",
                tail.len()
            );
        }
    }
}

#[test]
fn wrong_state_version_is_refused() {
    for (name, bytes, restore) in states() {
        assert_eq!(bytes[0], 1, "{name}: state version 1");
        for v in (0..=255u8).filter(|&v| v != 1) {
            let mut b = bytes.clone();
            b[0] = v;
            assert_eq!(
                restore(&b),
                Err(Error::State(StateError::UnsupportedVersion(v))),
                "{name}"
            );
            // The version is read before the kind.
            b[1] = 0xee;
            assert_eq!(restore(&b), Err(Error::State(StateError::UnsupportedVersion(v))));
            // Version and kind are needed before anything is read.
            assert_eq!(restore(&b[..1]), Err(MALFORMED));
            assert_eq!(
                restore(&b[..2]),
                Err(Error::State(StateError::UnsupportedVersion(v)))
            );
        }
    }
}

#[test]
fn wrong_state_kind_is_malformed() {
    let states = states();
    for (name, bytes, _) in &states {
        for (other, _, restore) in &states {
            if name != other {
                assert_eq!(restore(bytes), Err(MALFORMED), "{name} restored as {other}");
            }
        }
    }
    for (name, bytes, restore) in &states {
        for kind in [0u8, 4, 0xff] {
            let mut b = bytes.clone();
            b[1] = kind;
            assert_eq!(restore(&b), Err(MALFORMED), "{name} with kind {kind}");
        }
    }
}

/// A pending session's KEM fields must agree with its post-quantum flag (the byte after
/// the two identity keys and the initiator flag).
#[test]
fn post_quantum_flag_must_match_pending_fields() {
    const PQ: usize = 2 + 32 + 32 + 1;
    for classical in [false, true] {
        let mut alice = Party::new(1);
        let mut bob = Party::new(2);
        let bundle = if classical {
            alice.peer.set_allow_classical(true);
            bob.account.classical_prekey_bundle(None).unwrap()
        } else {
            bob.bundle(false)
        };
        alice.initiate(&bundle);
        let session = alice.peer.active().unwrap();
        assert!(session.pending_base_key().is_some());
        assert_eq!(session.is_post_quantum(), !classical);
        let bytes = session.to_bytes().unwrap().to_vec();
        assert_eq!(&bytes[2..34], alice.account.identity_key().as_bytes());
        assert_eq!(&bytes[34..66], bob.account.identity_key().as_bytes());
        assert_eq!((bytes[66], bytes[PQ]), (1, u8::from(!classical)));
        assert_eq!(restore_session(&bytes), Ok(()));
        for flag in [u8::from(classical), 2, 0xff] {
            let mut b = bytes.clone();
            b[PQ] = flag;
            assert_eq!(
                restore_session(&b),
                Err(MALFORMED),
                "classical {classical}, flag {flag}"
            );
        }
    }
}

#[test]
fn state_beyond_limits_is_refused() {
    let exceeds = Error::State(StateError::ExceedsLimits);
    let (mut alice, mut bob, _) = conversation();

    // Skipped keys and old chains of a session.
    let session = bob.peer.active().unwrap();
    let count = session.skipped_key_count();
    assert!(count > 0);
    let bytes = session.to_bytes().unwrap();
    let mut limits = Limits::default();
    limits.max_skipped_keys = count;
    assert!(Session::from_bytes(&bytes, limits).is_ok());
    limits.max_skipped_keys = count - 1;
    assert_eq!(
        Session::from_bytes(&bytes, limits).map(drop),
        Err(exceeds.clone())
    );
    let mut limits = Limits::default();
    limits.max_old_chains = 0;
    assert_eq!(
        Session::from_bytes(&bytes, limits).map(drop),
        Err(exceeds.clone())
    );

    // Previous sessions.
    let bundle = bob.bundle(false);
    alice.initiate(&bundle);
    assert_eq!(alice.peer.previous_len(), 1);
    let bytes = alice.peer.to_bytes().unwrap();
    let mut limits = Limits::default();
    limits.max_previous_sessions = 1;
    assert!(PeerSessions::from_bytes(&bytes, limits).is_ok());
    limits.max_previous_sessions = 0;
    assert_eq!(
        PeerSessions::from_bytes(&bytes, limits).map(drop),
        Err(exceeds.clone())
    );

    // Replay records of the signed prekey (one initial message accepted).
    let env = alice.send(b"second session");
    bob.receive(&env).unwrap();
    let bytes = bob.account.to_bytes().unwrap();
    let mut limits = Limits::default();
    limits.max_replay_records = 2;
    assert!(Account::from_bytes(&bytes, limits).is_ok());
    limits.max_replay_records = 1;
    assert_eq!(Account::from_bytes(&bytes, limits).map(drop), Err(exceeds));
}

// ---------------------------------------------------------------------------------------
// Size

#[test]
fn idle_session_size() {
    let (mut alice, mut bob) = established(true);
    for round in 0..10 {
        for i in 0..10 {
            let text = format!("a{round}-{i}");
            let env = alice.send(text.as_bytes());
            assert_eq!(bob.receive(&env).unwrap().plaintext, text.as_bytes());
        }
        for i in 0..10 {
            let text = format!("b{round}-{i}");
            let env = bob.send(text.as_bytes());
            assert_eq!(alice.receive(&env).unwrap().plaintext, text.as_bytes());
        }
    }
    for (name, party) in [("alice", &alice), ("bob", &bob)] {
        let session = party.peer.active().unwrap();
        assert_eq!(session.skipped_key_count(), 0);
        assert!(session.is_post_quantum() && session.pending_base_key().is_none());
        let len = session.to_bytes().unwrap().len();
        let all = party.peer.to_bytes().unwrap().len();
        println!("idle session of {name}: {len} bytes (PeerSessions: {all} bytes)");
        assert!(len <= 512, "idle session of {name} is {len} bytes");
    }
}

// ---------------------------------------------------------------------------------------
// No copies left behind by serialization
//
// `state::encode` reserves the zeroizing output buffer up front "so that growing it never
// leaves copies of secrets in freed memory". A global allocator that counts reallocations
// made while serializing checks that the reservation is large enough: a reallocation means
// the buffer grew and its old block, holding every secret written so far, went back to the
// allocator without being zeroized.

use hemlis::HandshakeError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// The secret sought at offset 2 of moved blocks (the identity seed of an account
    /// state: version, kind, then the seed), while this thread is being watched.
    static WATCHED: Cell<Option<[u8; 32]>> = const { Cell::new(None) };
    static REALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static SECRET_MOVED: Cell<bool> = const { Cell::new(false) };
    /// While true, every block this thread frees (or moves) is copied into `FREED`.
    static CAPTURE: Cell<bool> = const { Cell::new(false) };
    static FREED: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Keeps a copy of a block that goes back to the allocator (capturing is off meanwhile, so
/// the copy's own allocations are not captured).
///
/// # Safety
/// `ptr` must be valid for reads of `len` bytes.
unsafe fn capture(ptr: *const u8, len: usize) {
    if len < 48 || !CAPTURE.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    CAPTURE.with(|c| c.set(false));
    let mut copy = vec![0u8; len];
    // SAFETY: the caller guarantees `len` readable bytes; `copy` holds `len` bytes.
    unsafe { core::ptr::copy_nonoverlapping(ptr, copy.as_mut_ptr(), len) };
    if let Ok(pattern) = std::env::var("HEMLIS_DEBUG_PATTERN") {
        let pattern = unhex(&pattern);
        if copy.windows(pattern.len()).any(|w| w == pattern.as_slice()) {
            eprintln!("FREED {len}:\n{}", std::backtrace::Backtrace::force_capture());
        }
    }
    let _ = FREED.try_with(|f| f.borrow_mut().push(copy));
    CAPTURE.with(|c| c.set(true));
}

/// The system allocator, counting the reallocations of watched threads.
struct Watcher;

// SAFETY: every call is forwarded to `System` unchanged; `realloc` only reads 32 bytes of
// the new block that were copied from initialized bytes of the old one.
unsafe impl GlobalAlloc for Watcher {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the block is still allocated, `layout.size()` bytes long.
        unsafe { capture(ptr, layout.size()) };
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() && new != ptr {
            // The old block went back to the allocator; its bytes are now at `new`.
            // SAFETY: realloc copied min(old, new) bytes into the new block.
            unsafe { capture(new, layout.size().min(new_size)) };
        }
        if let Ok(Some(secret)) = WATCHED.try_with(Cell::get) {
            let _ = REALLOCATIONS.try_with(|c| c.set(c.get() + 1));
            if !new.is_null() && new != ptr && layout.size() >= 34 && new_size >= 34 {
                // SAFETY: the first 34 bytes of the buffer were written (the state header
                // and the seed) before the state could outgrow a reservation of 256 bytes,
                // and realloc copied them into the new block.
                let head = unsafe { core::slice::from_raw_parts(new.add(2), 32) };
                if head == secret {
                    let _ = SECRET_MOVED.try_with(|c| c.set(true));
                }
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Watcher = Watcher;

/// Runs `f` on this thread, returning the reallocations it made and whether a block that
/// moved held `secret` at offset 2.
fn watch<T>(secret: [u8; 32], f: impl FnOnce() -> T) -> (T, usize, bool) {
    REALLOCATIONS.with(|c| c.set(0));
    SECRET_MOVED.with(|c| c.set(false));
    WATCHED.with(|c| c.set(Some(secret)));
    let out = f();
    WATCHED.with(|c| c.set(None));
    (out, REALLOCATIONS.with(Cell::get), SECRET_MOVED.with(Cell::get))
}

#[test]
fn serializing_sessions_never_regrows_the_buffer() {
    let (mut alice, mut bob, _) = conversation();
    // Skipped keys in every chain Bob keeps: four old chains and the current one.
    for round in 0..6 {
        for _ in 0..=round * 7 {
            let _ = alice.send(b"never delivered");
        }
        let env = alice.send(b"delivered");
        bob.receive(&env).unwrap();
        let env = bob.send(b"reply");
        alice.receive(&env).unwrap();
    }
    assert!(bob.peer.active().unwrap().skipped_key_count() > 50);
    // An unanswered second session (pending X3DH fields) on top of the first.
    let bundle = bob.bundle(true);
    alice.initiate(&bundle);
    let _ = alice.send(b"unanswered");
    assert!(alice.peer.active().unwrap().pending_base_key().is_some());
    for (name, party) in [("alice", &alice), ("bob", &bob)] {
        let session = party.peer.active().unwrap();
        let (bytes, reallocations, _) = watch([0; 32], || session.to_bytes().unwrap());
        assert_eq!(reallocations, 0, "{name}'s session ({} bytes)", bytes.len());
        let (bytes, reallocations, _) = watch([0; 32], || party.peer.to_bytes().unwrap());
        assert_eq!(reallocations, 0, "{name}'s sessions ({} bytes)", bytes.len());
    }
    // The watcher does see a growing buffer.
    let ((), reallocations, _) = watch([0; 32], || {
        let mut v = Vec::with_capacity(1);
        v.extend_from_slice(&[0u8; 64]);
    });
    assert!(reallocations > 0);
}

#[test]
fn serializing_an_account_never_regrows_the_buffer() {
    const SEED: u64 = 77;
    let mut seed = [0u8; 32];
    rng(SEED).fill_bytes(&mut seed);
    let mut bob = Party::new(SEED);
    assert!(contains(&bob.account.to_bytes().unwrap(), &seed));
    // Five devices start sessions with Bob without one-time prekeys: five replay records.
    for i in 0..5 {
        let bundle = bob.bundle(false);
        let mut other = Party::new(100 + i);
        other.initiate(&bundle);
        let env = other.send(b"hi");
        let mut peer = PeerSessions::new(Limits::default());
        peer.decrypt(&mut bob.account, &env, &mut bob.rng).unwrap();
    }
    let (bytes, reallocations, seed_moved) = watch(seed, || bob.account.to_bytes().unwrap());
    assert!(
        reallocations == 0 && !seed_moved,
        "serializing a {}-byte account reallocated {reallocations} times; the identity seed was \
         left in a freed block: {seed_moved}",
        bytes.len()
    );
}

/// Opens a client record as PROTOCOL.md 12.3 describes it: XChaCha20-Poly1305 under the
/// storage key, `nonce (24) || ciphertext || tag`, associated data
/// `"hemlis/v1/record" || table id || row key`.
fn unseal_record(storage_key: [u8; 32], table: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    use chacha20poly1305::aead::{Aead, KeyInit, Payload};
    use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
    let mut ad = b"hemlis/v1/record".to_vec();
    ad.push(table);
    ad.extend_from_slice(key);
    let nonce: [u8; 24] = value[..24].try_into().unwrap();
    XChaCha20Poly1305::new(&Key::from(storage_key))
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &value[24..],
                aad: &ad,
            },
        )
        .unwrap()
}

#[test]
fn client_send_and_receive_leave_no_session_secret_in_freed_memory() {
    use hemlis::store::Table;
    use hemlis::{Client, ClientConfig, ClientParts, Clock, InMemoryRelay, MemoryStore};

    struct Fixed;
    impl Clock for Fixed {
        fn now(&self) -> u64 {
            1_700_000_000
        }
    }
    const KEY: [u8; 32] = [7; 32];
    let relay = InMemoryRelay::new();
    let parts = |seed| ClientParts {
        storage_key: KEY,
        store: Box::new(MemoryStore::new()),
        transport: Box::new(relay.clone()),
        clock: Box::new(Fixed),
        rng: Box::new(rng(seed)),
        config: ClientConfig::default(),
    };
    let mut alice = Client::create("alice", 1, parts(1)).unwrap();
    let mut bob = Client::create("bob", 1, parts(2)).unwrap();

    CAPTURE.with(|c| c.set(true));
    for i in 0..10u8 {
        alice.send("bob", &[i; 40]).unwrap();
        bob.receive().unwrap();
        bob.send("alice", &[i; 40]).unwrap();
        alice.receive().unwrap();
    }
    CAPTURE.with(|c| c.set(false));
    let freed = FREED.with(|f| core::mem::take(&mut *f.borrow_mut()));
    assert!(!freed.is_empty(), "the watcher captures freed blocks");

    // What each side's store holds for the other: the serialized sessions (PROTOCOL.md
    // 12.3: a postcard record whose first field is the length-prefixed `PeerSessions`
    // state). Every 32-byte window of key material in them must be absent from every block
    // the 40 calls gave back to the allocator.
    let mut leaks = Vec::new();
    for (name, client, peer) in [("alice", &alice, bob.address()), ("bob", &bob, alice.address())] {
        let row = peer.encode();
        let sealed = client.store().get(Table::Peers, &row).unwrap().unwrap();
        let record = unseal_record(KEY, Table::Peers.id(), &row, &sealed);
        let (len, at) = varint(&record);
        let sessions = &record[at..at + len];
        assert!(PeerSessions::from_bytes(sessions, Limits::default()).is_ok());
        // The identity keys are public (they sit side by side in a session, and in the
        // associated data of every message): windows that are mostly identity key are not
        // secrets; every other window of key material is.
        let (ours, theirs) = (
            *client.identity_key().as_bytes(),
            *client.peer_identity(peer).unwrap().unwrap().as_bytes(),
        );
        let mut public = vec![false; sessions.len()];
        for key in [ours, theirs] {
            for (at, _) in sessions.windows(32).enumerate().filter(|(_, w)| *w == key) {
                public[at..at + 32].iter_mut().for_each(|p| *p = true);
            }
        }
        let windows: std::collections::HashSet<&[u8]> = sessions
            .windows(32)
            .enumerate()
            .filter(|(at, w)| distinct(w) >= 24 && public[*at..*at + 32].iter().filter(|p| **p).count() < 16)
            .map(|(_, w)| w)
            .collect();
        assert!(
            windows.len() > 200,
            "the sessions hold key material: {}",
            windows.len()
        );
        let hits = freed
            .iter()
            .filter(|block| block.windows(32).any(|w| windows.contains(w)))
            .count();
        // HEMLIS_DEBUG_LEAKS=1 lists each hit (block size, offset in it, offset in the
        // sessions); HEMLIS_DEBUG_PATTERN=<hex> prints where a block holding those bytes
        // was freed.
        if std::env::var("HEMLIS_DEBUG_LEAKS").is_ok() {
            for block in &freed {
                let pairs: Vec<(usize, usize)> = block
                    .windows(32)
                    .enumerate()
                    .filter(|(_, w)| windows.contains(w))
                    .map(|(i, w)| (i, sessions.windows(32).position(|x| x == w).unwrap()))
                    .collect();
                if !pairs.is_empty() {
                    eprintln!("{name}: block of {} bytes: {pairs:?}", block.len());
                }
            }
        }
        if hits > 0 {
            leaks.push(format!("{name}: {hits} freed blocks hold its session state"));
        }
    }
    assert!(leaks.is_empty(), "{leaks:?}");
}

/// A postcard varint (a length) and the offset after it.
fn varint(bytes: &[u8]) -> (usize, usize) {
    let mut value = 0usize;
    for (i, &b) in bytes.iter().enumerate().take(5) {
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    panic!("bad varint");
}

/// How many distinct byte values a window holds: key material has many, structure few.
fn distinct(window: &[u8]) -> usize {
    let mut seen = [false; 256];
    window.iter().for_each(|&b| seen[usize::from(b)] = true);
    seen.iter().filter(|&&s| s).count()
}

#[test]
fn link_code_debug_hides_the_link_secret() {
    let pair = IdentityKeyPair::generate(&mut ChaCha20Rng::seed_from_u64(0x11C0DE));
    let secret = [0xa5u8; 16];
    let code = kat::link_code("bob", 2, *pair.public().as_bytes(), secret).expect("valid code");
    let text = format!("{code:?}");
    assert!(text.starts_with("LinkCode { address: "), "{text}");
    assert!(text.ends_with(", .. }"), "{text}");
    assert!(!text.to_lowercase().contains(&hex(&secret)), "{text}");
    assert!(!text.contains("165, 165"), "{text}");
    assert!(!text.contains(&code.to_text()), "{text}");
}
