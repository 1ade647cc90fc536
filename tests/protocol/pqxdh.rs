//! PQXDH: the ML-KEM-768 part of the handshake, the downgrade refusal, the one-time and
//! last-resort KEM prekeys, their replay protection and their rotation
//! (docs/PROTOCOL.md, sections 2.4, 3.1, 4, 5.1, 7.2 and 8).
//!
//! Every refusal is checked for its exact error and for leaving the receiver's whole stored
//! state (`Party::snapshot`: account and sessions) byte for byte as it was.
//!
//! The bundle side lives in `tests/protocol/bundle.rs`: every single-bit flip of the KEM prekey
//! signature (`every_kem_signature_bit_flip_is_rejected`), a KEM prekey signed by another
//! identity (`kem_signature_covers_identity_id_kind_and_key`), a one-time KEM prekey
//! presented as last-resort (`kem_prekey_kind_is_signed`), invalid ML-KEM encapsulation
//! keys (`invalid_kem_keys_are_rejected`) and the malformed encodings.

use core::ops::Range;
use std::collections::BTreeSet;

use hemlis::wire::BundleFields;
use hemlis::{Account, DecodeError, Envelope, Error, Limits, PeerSessions, PrekeyBundle, Session};
use hemlis::{DecryptError, HandshakeError};
use hemlis_test::party::*;
use hemlis_test::rng::rng;

// Offsets of a post-quantum initial envelope (docs/PROTOCOL.md, section 5.1).
const OPK_FLAG: usize = 6;
const KEM_FLAG: usize = 11;
const KEM_ID: Range<usize> = 12..16;
const EK: Range<usize> = 16..48;
const CIPHERTEXT: Range<usize> = 48..1136;
const SEALED_IDENTITY: Range<usize> = 1136..1208;

/// The stored state of a device towards one peer: account and those sessions.
fn state(account: &Account, peer: &PeerSessions) -> Vec<u8> {
    let mut out = account.to_bytes().unwrap().to_vec();
    out.extend_from_slice(&peer.to_bytes().unwrap());
    out
}

/// Alice (seed 1) initiates to Bob (seed 2) with `bob.bundle(one_time)`; returns both and
/// Alice's first two envelopes (both initial: Bob has not answered).
fn initiated(one_time: bool) -> (Party, Party, Vec<u8>, Vec<u8>) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"first");
    let second = alice.send(b"second");
    for env in [&first, &second] {
        assert_eq!((env[1], env[KEM_FLAG]), (1, 1), "post-quantum initial envelope");
        assert_eq!(env[OPK_FLAG], u8::from(one_time));
    }
    (alice, bob, first, second)
}

fn flip(bytes: &[u8], at: usize, bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at + bit / 8] ^= 1 << (bit % 8);
    out
}

/// A tampered KEM ciphertext decapsulates to an unrelated secret (implicit rejection), and
/// the ciphertext is also in the sealed identity's associated data: every single-bit flip
/// is `SealedIdentity`, and nothing changes. The original is accepted afterwards, and from
/// then on a flipped copy is a replay of that base key.
///
/// Each flip costs an ML-KEM key expansion and decapsulation; all 8,704 bits are flipped
/// in both cases (`stride` 1).
fn kem_ciphertext_bit_flips(one_time: bool, stride: usize) {
    let (_, mut bob, first, second) = initiated(one_time);
    let kem_count = bob.account.one_time_kem_prekey_count();
    assert_eq!(kem_count, usize::from(one_time));
    let before = bob.snapshot();
    for bit in (0..CIPHERTEXT.len() * 8).step_by(stride) {
        let env = flip(&first, CIPHERTEXT.start, bit);
        assert_eq!(
            bob.receive(&env).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::SealedIdentity)),
            "bit {bit}, one-time {one_time}"
        );
        assert!(bob.snapshot() == before, "bit {bit}: state changed");
    }
    assert_eq!(bob.account.one_time_kem_prekey_count(), kem_count);

    let got = bob.receive(&first).unwrap();
    assert_eq!(got.plaintext, b"first");
    assert!(got.new_session);
    assert!(bob.peer.active().unwrap().is_post_quantum());
    assert_eq!(bob.account.one_time_kem_prekey_count(), 0);

    // The base key is now recorded: a flipped copy of the second initial message opens no
    // session's header (the ciphertext is in its associated data too) and reaches the
    // account, which refuses it as a replay.
    let before = bob.snapshot();
    for bit in (0..CIPHERTEXT.len() * 8).step_by(7) {
        let env = flip(&second, CIPHERTEXT.start, bit);
        assert_eq!(
            bob.receive(&env).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::ReplayedInitialMessage)),
            "bit {bit}, one-time {one_time}"
        );
        assert!(bob.snapshot() == before, "bit {bit}: state changed");
    }
    assert_eq!(bob.receive(&second).unwrap().plaintext, b"second");
}

/// Every bit, with a one-time prekey and a one-time KEM prekey.
#[test]
fn every_kem_ciphertext_bit_flip_is_rejected() {
    kem_ciphertext_bit_flips(true, 1);
}

/// Every bit of the ciphertext, with the last-resort KEM prekey and no one-time prekey.
#[test]
fn kem_ciphertext_bit_flips_are_rejected_last_resort() {
    kem_ciphertext_bit_flips(false, 1);
}

/// Every single-bit flip of the KEM prekey id and of the KEM flag of an initial envelope.
///
/// - The id names a KEM prekey Bob does not hold: `UnknownKemPrekey`.
/// - The id names another KEM prekey Bob holds (a one-time one, or the last-resort one of
///   another live signed prekey): decapsulation with the wrong key gives an unrelated
///   secret, and the id is in the sealed identity's associated data: `SealedIdentity`.
/// - The flag: cleared, the id must be zero and is not; set to 3, 5, 9, ...: not a flag.
///   Both `Decode(InvalidFlag)`.
#[test]
fn kem_id_and_flag_bit_flips_give_exact_errors() {
    for one_time in [true, false] {
        let (_, mut bob, first, _) = initiated(one_time);
        let used: u32 = u32::from_be_bytes(first[KEM_ID].try_into().unwrap());
        // More KEM prekeys around the one used, so that some flips land on one of them.
        let mut held = BTreeSet::from([2]);
        if one_time {
            // Ids: signed prekey 1 and its KEM prekey 2, one-time prekey 3, one-time KEM
            // prekey 4 (used); rotation: signed prekey 5, last-resort KEM prekey 6 = 4 ^ 2.
            held.insert(used);
            bob.account.rotate_signed_prekey(&mut bob.rng, 2_000);
            let kems = bob.account.generate_one_time_kem_prekeys(1, &mut bob.rng);
            held.extend(kems.iter().map(|k| k.id));
        } else {
            // The last-resort KEM prekey 2 used; one-time KEM prekey 3 = 2 ^ 1, a one-time
            // prekey 4; rotation: signed prekey 5, last-resort KEM prekey 6 = 2 ^ 4.
            let kems = bob.account.generate_one_time_kem_prekeys(1, &mut bob.rng);
            held.extend(kems.iter().map(|k| k.id));
            bob.account.generate_one_time_prekeys(1, &mut bob.rng);
            bob.account.rotate_signed_prekey(&mut bob.rng, 2_000);
        }
        held.insert(bob.account.last_resort_kem_prekey().id);
        assert_eq!(used, if one_time { 4 } else { 2 });
        let expected_held: &[u32] = if one_time { &[2, 4, 6, 7] } else { &[2, 3, 6] };
        assert_eq!(held.iter().copied().collect::<Vec<_>>(), expected_held);

        let before = bob.snapshot();
        let mut sealed = Vec::new();
        for bit in 0..32 {
            let env = flip(&first, KEM_ID.start, bit);
            let id = u32::from_be_bytes(env[KEM_ID].try_into().unwrap());
            let expected = if held.contains(&id) {
                sealed.push(id);
                Error::Handshake(HandshakeError::SealedIdentity)
            } else {
                Error::Handshake(HandshakeError::UnknownKemPrekey)
            };
            assert_eq!(
                bob.receive(&env).map(|d| d.plaintext),
                Err(expected),
                "id {id}, one-time {one_time}"
            );
            assert!(bob.snapshot() == before, "id {id}: state changed");
        }
        assert_eq!(sealed, if one_time { vec![6] } else { vec![3, 6] });

        assert_eq!(first[KEM_FLAG], 1);
        for bit in 0..8 {
            let env = flip(&first, KEM_FLAG, bit);
            assert_eq!(
                bob.receive(&env).map(|d| d.plaintext),
                Err(Error::Decode(DecodeError::InvalidFlag)),
                "flag {}",
                env[KEM_FLAG]
            );
            assert!(bob.snapshot() == before);
        }
        // Cleared flag and a zeroed id, the ciphertext left in place: a well-formed
        // classical envelope, whose sealed identity is the start of the ciphertext and whose
        // body (1,280 padded bytes) is still a padding bucket. Refused as classical; for a
        // peer allowed classical, the sealed identity does not open.
        let mut env = first.clone();
        env[KEM_FLAG] = 0;
        env[KEM_ID].fill(0);
        let parsed = Envelope::parse(&env, Limits::default().max_padded_len()).unwrap();
        assert!(parsed.initial().unwrap().kem.is_none());
        assert_eq!(
            bob.receive(&env).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::ClassicalRefused))
        );
        assert!(bob.snapshot() == before);
        bob.peer.set_allow_classical(true);
        let marked = bob.snapshot();
        assert_eq!(
            bob.receive(&env).map(|d| d.plaintext),
            Err(Error::Handshake(HandshakeError::SealedIdentity))
        );
        assert!(bob.snapshot() == marked);
        bob.peer.set_allow_classical(false);
        assert!(bob.snapshot() == before);

        assert_eq!(bob.receive(&first).unwrap().plaintext, b"first");
    }
}

/// A relay strips the KEM ciphertext from a post-quantum initial envelope to downgrade it
/// to classical X3DH: refused as classical, or, for a peer allowed classical, the sealed
/// identity (keyed with SS, bound to the ciphertext) does not open.
#[test]
fn stripped_kem_ciphertext_is_refused() {
    let (_, mut bob, first, _) = initiated(true);
    let mut stripped = first[..KEM_FLAG].to_vec();
    stripped.extend_from_slice(&[0; 5]);
    stripped.extend_from_slice(&first[EK]);
    stripped.extend_from_slice(&first[SEALED_IDENTITY.start..]);
    assert_eq!(stripped.len(), first.len() - 1088);
    let parsed = Envelope::parse(&stripped, Limits::default().max_padded_len()).unwrap();
    assert!(parsed.initial().unwrap().kem.is_none());

    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&stripped).map(|d| d.plaintext),
        Err(Error::Handshake(HandshakeError::ClassicalRefused))
    );
    assert!(bob.snapshot() == before);
    bob.peer.set_allow_classical(true);
    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&stripped).map(|d| d.plaintext),
        Err(Error::Handshake(HandshakeError::SealedIdentity))
    );
    assert!(bob.snapshot() == before);
    // The untouched envelope still makes a post-quantum session.
    let got = bob.receive(&first).unwrap();
    assert!(got.new_session);
    assert!(bob.peer.active().unwrap().is_post_quantum());
}

/// docs/PROTOCOL.md, section 7.2: an initial message without a one-time prekey that used
/// the last-resort KEM prekey is protected by the replay record alone.
#[test]
fn replayed_last_resort_initial_message_is_rejected() {
    let (mut alice, mut bob, first, second) = initiated(false);
    assert_eq!(first[KEM_ID], 2u32.to_be_bytes(), "the last-resort KEM prekey");
    let last_resort = bob.account.last_resort_kem_prekey();
    assert!(bob.receive(&first).unwrap().new_session);

    for round in 0..2 {
        // With the session still present: the session recognises its own message.
        let before = bob.snapshot();
        assert_eq!(
            bob.receive(&first).map(|d| d.plaintext),
            Err(Error::Decrypt(DecryptError::Duplicate)),
            "round {round}"
        );
        assert!(bob.snapshot() == before);

        // To fresh sessions with the same account: the replay record.
        let mut fresh = PeerSessions::new(Limits::default());
        let before = state(&bob.account, &fresh);
        assert_eq!(
            fresh.decrypt(&mut bob.account, &first, &mut bob.rng),
            Err(Error::Handshake(HandshakeError::ReplayedInitialMessage)),
            "round {round}"
        );
        assert!(state(&bob.account, &fresh) == before);
        let parsed = Envelope::parse(&first, Limits::default().max_padded_len()).unwrap();
        let before = bob.account.to_bytes().unwrap();
        assert_eq!(
            bob.account.accept_initial(&parsed, &mut bob.rng).map(drop),
            Err(Error::Handshake(HandshakeError::ReplayedInitialMessage))
        );
        assert!(bob.account.to_bytes().unwrap() == before);

        // The conversation goes on; the replay is still refused.
        let reply = bob.send(b"reply");
        assert_eq!(alice.receive(&reply).unwrap().plaintext, b"reply");
        let env = alice.send(b"more");
        assert_eq!(bob.receive(&env).unwrap().plaintext, b"more");
    }
    // The late second initial message is not a replay: it belongs to the session.
    assert_eq!(bob.receive(&second).unwrap().plaintext, b"second");
    // The last-resort KEM prekey stays.
    assert_eq!(bob.account.last_resort_kem_prekey(), last_resort);
}

/// docs/PROTOCOL.md, section 3.1, downgrade resistance.
#[test]
fn classical_needs_explicit_permission() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let limits = Limits::default();
    let otp = bob.account.generate_one_time_prekeys(1, &mut bob.rng).pop();
    // A relay that strips the KEM prekey from a post-quantum bundle makes a bundle that
    // verifies (the signed prekey's signature does not cover the KEM prekey)...
    let mut fields = BundleFields::decode(&bob.bundle(false).encode()).unwrap();
    fields.kem_prekey = None;
    let stripped = PrekeyBundle::decode(&fields.encode()).unwrap();
    assert_eq!(stripped, bob.account.classical_prekey_bundle(None).unwrap());
    let classical_bundles = [stripped, bob.account.classical_prekey_bundle(otp).unwrap()];

    // ... which the initiator refuses by default, drawing no randomness.
    for bundle in &classical_bundles {
        assert!(!bundle.is_post_quantum());
        let mut r = rng(10);
        assert_eq!(
            Session::initiate(alice.account.identity(), bundle, limits, &mut r).map(drop),
            Err(Error::Handshake(HandshakeError::ClassicalRefused))
        );
        assert_eq!(r, rng(10), "no randomness drawn");
        let before = alice.snapshot();
        assert_eq!(
            alice
                .peer
                .initiate(alice.account.identity(), bundle, &mut alice.rng),
            Err(Error::Handshake(HandshakeError::ClassicalRefused))
        );
        assert!(alice.snapshot() == before);
        assert!(alice.peer.active().is_none());
    }

    // Under the explicit flag: classical sessions.
    for bundle in &classical_bundles {
        let mut session =
            Session::initiate_allowing_classical(alice.account.identity(), bundle, limits, &mut rng(11))
                .unwrap();
        assert!(!session.is_post_quantum());
        let env = session.encrypt(b"classical", &mut rng(12)).unwrap();
        assert_eq!((env.len(), env[KEM_FLAG]), (432, 0));
    }
    // The flag allows classical, it does not force it.
    let session = Session::initiate_allowing_classical(
        alice.account.identity(),
        &bob.bundle(false),
        limits,
        &mut rng(13),
    )
    .unwrap();
    assert!(session.is_post_quantum());

    // The same through PeerSessions: Alice marks Bob, Bob does not mark Alice yet.
    alice.peer.set_allow_classical(true);
    assert!(alice.peer.allows_classical());
    alice.initiate(&classical_bundles[1]);
    assert!(!alice.peer.active().unwrap().is_post_quantum());
    let first = alice.send(b"classical hello");
    assert_eq!((first.len(), first[KEM_FLAG]), (432, 0));
    assert!(!bob.peer.allows_classical());
    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&first).map(|d| d.plaintext),
        Err(Error::Handshake(HandshakeError::ClassicalRefused))
    );
    assert!(bob.snapshot() == before);
    let parsed = Envelope::parse(&first, limits.max_padded_len()).unwrap();
    assert_eq!(
        bob.account.accept_initial(&parsed, &mut bob.rng).map(drop),
        Err(Error::Handshake(HandshakeError::ClassicalRefused))
    );
    assert!(bob.snapshot() == before);

    // Once Bob marks Alice (the mark is stored with the sessions), it is accepted.
    bob.peer.set_allow_classical(true);
    let restored = PeerSessions::from_bytes(&bob.peer.to_bytes().unwrap(), limits).unwrap();
    assert!(restored.allows_classical());
    let got = bob.receive(&first).unwrap();
    assert_eq!(got.plaintext, b"classical hello");
    assert!(got.new_session);
    assert!(!bob.peer.active().unwrap().is_post_quantum());
    assert!(bob.account.one_time_prekeys().is_empty(), "one-time prekey used");
    let reply = bob.send(b"classical reply");
    assert_eq!(reply.len(), 314);
    assert_eq!(alice.receive(&reply).unwrap().plaintext, b"classical reply");
    assert!(!alice.peer.active().unwrap().is_post_quantum());
    assert!(!bob.peer.active().unwrap().is_post_quantum());
    let env = alice.send(b"still classical");
    assert_eq!(bob.receive(&env).unwrap().plaintext, b"still classical");

    // Normal sessions are post-quantum on both sides, with or without one-time prekeys.
    for one_time in [true, false] {
        let (alice, bob) = established(one_time);
        assert!(alice.peer.active().unwrap().is_post_quantum());
        assert!(bob.peer.active().unwrap().is_post_quantum());
    }
}

/// A one-time KEM prekey serves one initiator; the last-resort one serves many.
#[test]
fn one_time_kem_prekey_is_used_once() {
    let mut bob = Party::new(2);
    let kems = bob.account.generate_one_time_kem_prekeys(2, &mut bob.rng);
    // No one-time (X25519) prekey: only the KEM prekey is one-time.
    let bundle = bob.account.prekey_bundle(None, Some(kems[0].clone())).unwrap();
    let mut alice = Party::new(1);
    let mut carol = Party::new(3);
    alice.initiate(&bundle);
    carol.initiate(&bundle);
    let from_alice = alice.send(b"from alice");
    let from_carol = carol.send(b"from carol");
    assert_eq!(from_alice[KEM_ID], kems[0].id.to_be_bytes());
    assert_eq!(from_carol[KEM_ID], kems[0].id.to_be_bytes());
    assert_eq!(bob.account.one_time_kem_prekey_count(), 2);

    // A first message that fails does not use it up.
    let mut tampered = from_alice.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&tampered).map(|d| d.plaintext),
        Err(Error::Decrypt(DecryptError::BodyAuthentication))
    );
    assert!(bob.snapshot() == before);

    let got = bob.receive(&from_alice).unwrap();
    assert_eq!(got.plaintext, b"from alice");
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);

    let mut bob_for_carol = PeerSessions::new(Limits::default());
    let before = state(&bob.account, &bob_for_carol);
    assert_eq!(
        bob_for_carol.decrypt(&mut bob.account, &from_carol, &mut bob.rng),
        Err(Error::Handshake(HandshakeError::UnknownKemPrekey))
    );
    assert!(state(&bob.account, &bob_for_carol) == before);
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);
    // Alice's session goes on.
    let reply = bob.send(b"hi alice");
    assert_eq!(alice.receive(&reply).unwrap().plaintext, b"hi alice");

    // The other one-time KEM prekey is untouched and serves Dave.
    let bundle = bob.account.prekey_bundle(None, Some(kems[1].clone())).unwrap();
    let mut dave = Party::new(4);
    dave.initiate(&bundle);
    let env = dave.send(b"from dave");
    let mut bob_for_dave = PeerSessions::new(Limits::default());
    let got = bob_for_dave
        .decrypt(&mut bob.account, &env, &mut bob.rng)
        .unwrap();
    assert_eq!(got.plaintext, b"from dave");
    assert_eq!(bob.account.one_time_kem_prekey_count(), 0);

    // The last-resort KEM prekey serves many initiators, and stays.
    let last_resort = bob.account.last_resort_kem_prekey();
    let bundle = bob.bundle(false);
    assert_eq!(bundle.kem_prekey(), Some(&last_resort));
    for seed in 10..15 {
        let mut other = Party::new(seed);
        other.initiate(&bundle);
        let env = other.send(b"via the last-resort KEM prekey");
        assert_eq!(env[KEM_ID], last_resort.id.to_be_bytes());
        let mut peer = PeerSessions::new(Limits::default());
        let got = peer.decrypt(&mut bob.account, &env, &mut bob.rng).unwrap();
        assert_eq!(got.plaintext, b"via the last-resort KEM prekey");
        assert!(peer.active().unwrap().is_post_quantum());
    }
    assert_eq!(bob.account.last_resort_kem_prekey(), last_resort);
}

/// docs/PROTOCOL.md, section 4.1: the signed prekey and its last-resort KEM prekey rotate
/// together; the replaced pair answers until the grace period ends, then is unknown.
#[test]
fn rotated_prekeys_answer_until_the_grace_period_ends() {
    const ROTATED_AT: u64 = 5_000;
    const GRACE: u64 = 3_600;
    let mut bob = Party::new(2);
    let old = bob.bundle(false);
    let old_kem = bob.account.last_resort_kem_prekey();
    let mut alice = Party::new(1);
    let mut carol = Party::new(3);
    alice.initiate(&old);
    carol.initiate(&old);
    let from_alice = alice.send(b"to the old prekeys");
    let from_carol = carol.send(b"to the old prekeys, late");

    let new_spk = bob.account.rotate_signed_prekey(&mut bob.rng, ROTATED_AT);
    let new_kem = bob.account.last_resort_kem_prekey();
    assert_ne!(new_spk, *old.signed_prekey());
    assert_ne!(Some(&new_kem), old.kem_prekey());
    assert_ne!(new_kem.key, old_kem.key);
    let new = bob.bundle(false);
    assert_eq!(
        (new.signed_prekey(), new.kem_prekey()),
        (&new_spk, Some(&new_kem))
    );

    // Inside the grace period.
    bob.account
        .remove_expired_signed_prekeys(ROTATED_AT + GRACE - 1, GRACE);
    let got = bob.receive(&from_alice).unwrap();
    assert_eq!(got.plaintext, b"to the old prekeys");
    assert!(bob.peer.active().unwrap().is_post_quantum());
    let reply = bob.send(b"answered");
    assert_eq!(alice.receive(&reply).unwrap().plaintext, b"answered");

    // After it: the old signed prekey, its KEM prekey and its replay record are gone.
    bob.account
        .remove_expired_signed_prekeys(ROTATED_AT + GRACE, GRACE);
    let mut bob_for_carol = PeerSessions::new(Limits::default());
    let before = state(&bob.account, &bob_for_carol);
    assert_eq!(
        bob_for_carol.decrypt(&mut bob.account, &from_carol, &mut bob.rng),
        Err(Error::Handshake(HandshakeError::UnknownSignedPrekey))
    );
    assert!(state(&bob.account, &bob_for_carol) == before);
    // A replay of Alice's initial message: a duplicate for her session, unknown for the
    // account.
    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&from_alice).map(|d| d.plaintext),
        Err(Error::Decrypt(DecryptError::Duplicate))
    );
    assert!(bob.snapshot() == before);
    let mut fresh = PeerSessions::new(Limits::default());
    let before = state(&bob.account, &fresh);
    assert_eq!(
        fresh.decrypt(&mut bob.account, &from_alice, &mut bob.rng),
        Err(Error::Handshake(HandshakeError::UnknownSignedPrekey))
    );
    assert!(state(&bob.account, &fresh) == before);

    // The sessions made before live on, and the new prekeys serve Dave.
    let env = alice.send(b"after expiry");
    assert_eq!(bob.receive(&env).unwrap().plaintext, b"after expiry");
    let mut dave = Party::new(4);
    dave.initiate(&new);
    let env = dave.send(b"to the new prekeys");
    let mut bob_for_dave = PeerSessions::new(Limits::default());
    let got = bob_for_dave
        .decrypt(&mut bob.account, &env, &mut bob.rng)
        .unwrap();
    assert_eq!(got.plaintext, b"to the new prekeys");
    assert!(bob_for_dave.active().unwrap().is_post_quantum());
}

/// `1520` as `1,520`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The sizes of docs/PROTOCOL.md, sections 4.2 and 5.
#[test]
fn sizes_match_the_protocol_document() {
    let mut bob = Party::new(2);
    let bundle_without = bob.bundle(false).encode().len();
    let bundle_with = bob.bundle(true).encode().len();
    let otp = bob.account.generate_one_time_prekeys(1, &mut bob.rng).pop();
    let classical_without = bob.account.classical_prekey_bundle(None).unwrap().encode().len();
    let classical_with = bob.account.classical_prekey_bundle(otp).unwrap().encode().len();

    let mut initial = BTreeSet::new();
    let mut classical_initial = BTreeSet::new();
    let mut message = BTreeSet::new();
    for len in [0, 1, 100, 191] {
        let text = vec![b'x'; len];
        let (mut alice, mut bob) = (Party::new(1), Party::new(2));
        alice.initiate(&bob.bundle(len.is_multiple_of(2)));
        let expected = alice.peer.active().unwrap().envelope_len(len);
        let env = alice.send(&text);
        assert_eq!(env.len(), expected);
        initial.insert(env.len());
        bob.receive(&env).unwrap();
        let reply = bob.send(&text);
        message.insert(reply.len());
        alice.receive(&reply).unwrap();
        message.insert(alice.send(&text).len());

        let (mut alice, mut bob) = (Party::new(1), Party::new(2));
        alice.peer.set_allow_classical(true);
        bob.peer.set_allow_classical(true);
        let otp = if len.is_multiple_of(2) {
            bob.account.generate_one_time_prekeys(1, &mut bob.rng).pop()
        } else {
            None
        };
        alice.initiate(&bob.account.classical_prekey_bundle(otp).unwrap());
        let expected = alice.peer.active().unwrap().envelope_len(len);
        let env = alice.send(&text);
        assert_eq!(env.len(), expected);
        classical_initial.insert(env.len());
        bob.receive(&env).unwrap();
    }
    let [initial] = initial.into_iter().collect::<Vec<_>>()[..] else {
        panic!("initial envelopes of different sizes")
    };
    let [classical_initial] = classical_initial.into_iter().collect::<Vec<_>>()[..] else {
        panic!("classical initial envelopes of different sizes")
    };
    let [message] = message.into_iter().collect::<Vec<_>>()[..] else {
        panic!("message envelopes of different sizes")
    };
    println!("bundle without one-time prekey: {bundle_without} bytes");
    println!("bundle with one-time prekey: {bundle_with} bytes");
    println!("classical bundle without / with one-time prekey: {classical_without} / {classical_with} bytes");
    println!("initial envelope (0 to 191 bytes of plaintext): {initial} bytes");
    println!("classical initial envelope: {classical_initial} bytes");
    println!("message envelope: {message} bytes");

    assert_eq!((bundle_without, bundle_with), (1388, 1424));
    assert_eq!((classical_without, classical_with), (135, 171));
    assert_eq!((initial, classical_initial, message), (1520, 432, 314));
    assert_eq!(bundle_with, BundleFields::MAX_LEN);
    assert_eq!(classical_without, BundleFields::MIN_LEN);

    // The same numbers, as the document states them.
    let doc = include_str!("../../docs/PROTOCOL.md")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let section5 = format!(
        "A plaintext of 0 to 191 bytes gives a {}-byte message envelope and a {}-byte initial \
         envelope ({} if classical); a bundle is {} or {} bytes",
        thousands(message),
        thousands(initial),
        thousands(classical_initial),
        thousands(bundle_without),
        thousands(bundle_with),
    );
    assert!(doc.contains(&section5), "docs/PROTOCOL.md, section 5: {section5}");
    let section4 = format!(
        "A bundle is {} bytes, or {} with a one-time prekey (a classical bundle, without KEM \
         prekey, {} or {})",
        thousands(bundle_without),
        thousands(bundle_with),
        classical_without,
        classical_with,
    );
    assert!(
        doc.contains(&section4),
        "docs/PROTOCOL.md, section 4.2: {section4}"
    );

    // One byte more of plaintext moves to the next bucket.
    let (mut alice, mut bob) = (Party::new(1), Party::new(2));
    alice.initiate(&bob.bundle(false));
    assert!(alice.send(&[0; 192]).len() > initial);
}
