//! Tampering: every single-bit flip of every byte of an envelope is rejected with the error
//! of the byte's region, the receiver's stored state stays byte-identical, and the
//! untouched envelope still decrypts afterwards.
//!
//! Regions of a post-quantum initial envelope (docs/PROTOCOL.md, section 5.1; offsets in
//! bytes) and the error of a flip there, for the first message of a session (for a later
//! message of an unanswered initiator, whose session the receiver holds, see
//! `initial_flip_error`):
//!
//! ```text
//! 0          version                -> Decode(UnsupportedVersion)
//! 1          kind                   -> Decode(UnknownKind)
//! 2..6       signed prekey id       -> UnknownSignedPrekey
//! 6          one-time prekey flag   -> Decode(InvalidFlag), or UnknownOneTimePrekey for 0 -> 1
//! 7..11      one-time prekey id     -> UnknownOneTimePrekey, or SealedIdentity if the new id
//!                                      is held (flag 1); Decode(InvalidFlag) (flag 0)
//! 11         KEM flag               -> Decode(InvalidFlag): cleared, the KEM id (never 0)
//!                                      must be 0; any other bit, not a flag
//! 12..16     KEM prekey id          -> UnknownKemPrekey, or SealedIdentity if the new id is
//!                                      another KEM prekey the receiver holds
//! 16..48     EK_A                   -> SealedIdentity, InvalidPublicKey for the top bit
//! 48..1136   KEM ciphertext         -> SealedIdentity
//! 1136..1208 sealed identity        -> SealedIdentity
//! 1208..1288 sealed header          -> UnknownSession
//! 1288..     body nonce, body, tag  -> BodyAuthentication
//! ```
//!
//! Regions of a normal envelope: version, kind, sealed header (2..82) -> UnknownSession,
//! then the body -> BodyAuthentication.
//!
//! The one exception to "every bit of every byte": of the KEM ciphertext of a *first*
//! initial message, where each flip costs an ML-KEM decapsulation, a sample of bytes is
//! flipped here, because `tests/protocol/pqxdh.rs` flips all of its bits (see
//! `sampled_ciphertext_byte`). Later initial messages get every bit of every byte.
//!
//! `tests/protocol/pqxdh.rs` covers the post-quantum fields further: a cleared KEM flag with a zeroed
//! id (a well-formed classical envelope) and held KEM ids after a rotation
//! (`kem_id_and_flag_bit_flips_give_exact_errors`), a stripped ciphertext
//! (`stripped_kem_ciphertext_is_refused`).

use core::ops::Range;

use hemlis::{DecodeError, Error, Limits, PeerSessions, PrekeyBundle};
use hemlis::{DecryptError, HandshakeError, KeyError};
use hemlis_test::party::*;

const VERSION: usize = 0;
const KIND: usize = 1;
const SPK_ID: Range<usize> = 2..6;
const OPK_FLAG: usize = 6;
const OPK_ID: Range<usize> = 7..11;
const KEM_FLAG: usize = 11;
const KEM_ID: Range<usize> = 12..16;
const BASE_KEY: Range<usize> = 16..48;
const CIPHERTEXT: Range<usize> = 48..48 + 1088;
const SEALED_IDENTITY: Range<usize> = CIPHERTEXT.end..CIPHERTEXT.end + 72;
const INITIAL_HEADER: Range<usize> = SEALED_IDENTITY.end..SEALED_IDENTITY.end + 80;
const INITIAL_LEN: usize = INITIAL_HEADER.end + 24 + 192 + 16;
const MESSAGE_HEADER: Range<usize> = 2..82;
const MESSAGE_LEN: usize = 82 + 24 + 192 + 16;

// The layout as docs/PROTOCOL.md, section 5 states it.
const _: () = assert!(SEALED_IDENTITY.start == 1136 && INITIAL_HEADER.start == 1208);
const _: () = assert!(INITIAL_LEN == 1520 && MESSAGE_LEN == 314);

/// The error of a flipped bit in the version or kind byte; `None` for other bytes.
fn decode_error(envelope: &[u8], i: usize, bit: u32) -> Option<Error> {
    let flipped = envelope[i] ^ (1 << bit);
    match i {
        VERSION => Some(Error::Decode(DecodeError::UnsupportedVersion(flipped))),
        KIND => Some(Error::Decode(DecodeError::UnknownKind(flipped))),
        _ => None,
    }
}

fn u32_at(bytes: &[u8], at: Range<usize>) -> u32 {
    u32::from_be_bytes(bytes[at].try_into().unwrap())
}

/// The prekeys a receiver holds when a tampered initial envelope arrives.
struct Held {
    /// Ids of its unused one-time (X25519) prekeys.
    one_time: Vec<u32>,
    /// Ids of its KEM prekeys: the unused one-time ones and the last-resort ones of its live
    /// signed prekeys.
    kem: Vec<u32>,
}

impl Held {
    /// What `receiver` holds; `one_time_kem` are the ids of its unused one-time KEM prekeys
    /// (the account does not list them; their count is checked).
    fn of(receiver: &Party, one_time_kem: &[u32]) -> Self {
        assert_eq!(receiver.account.one_time_kem_prekey_count(), one_time_kem.len());
        let mut kem = one_time_kem.to_vec();
        kem.push(receiver.account.last_resort_kem_prekey().id);
        Self {
            one_time: receiver.account.one_time_prekeys().iter().map(|p| p.id).collect(),
            kem,
        }
    }
}

/// Expected error for a bit flip in a post-quantum initial envelope, following the order of
/// the checks: the codec; the sessions (the prefix is the header's associated data, so a
/// flip in the prefix or the header leaves the envelope to the account); then the account:
/// signed prekey id, replay record, one-time prekey id, KEM prekey id, the sealed identity
/// (EK_A must be canonical; its key comes from DH3 and the decapsulated KEM secret, its
/// associated data is the prefix up to the ciphertext), the header and the body of the
/// first ratchet message.
///
/// `known`: the receiver already accepted an envelope with this base key (this is a later
/// message of an unanswered initiator, and the receiver holds its session).
fn initial_flip_error(envelope: &[u8], held: &Held, known: bool, i: usize, bit: u32) -> Error {
    if let Some(e) = decode_error(envelope, i, bit) {
        return e;
    }
    let mut flipped = envelope.to_vec();
    flipped[i] ^= 1 << bit;
    let opk_flag = flipped[OPK_FLAG];
    let opk_id = u32_at(&flipped, OPK_ID);
    let kem_flag = flipped[KEM_FLAG];
    let kem_id = u32_at(&flipped, KEM_ID);
    if opk_flag > 1 || (opk_flag == 0 && opk_id != 0) || kem_flag > 1 || (kem_flag == 0 && kem_id != 0) {
        return Error::Decode(DecodeError::InvalidFlag);
    }
    // The KEM id of the original is not 0 (checked by the callers), so one flip never makes
    // a well-formed classical envelope: the KEM flag is still set here.
    assert_eq!(kem_flag, 1);
    if known && i >= INITIAL_HEADER.end {
        // A session opens the header; the body does not authenticate.
        return Error::Decrypt(DecryptError::BodyAuthentication);
    }
    if SPK_ID.contains(&i) {
        return Error::Handshake(HandshakeError::UnknownSignedPrekey);
    }
    if known && !BASE_KEY.contains(&i) {
        return Error::Handshake(HandshakeError::ReplayedInitialMessage);
    }
    if opk_flag == 1 && !held.one_time.contains(&opk_id) {
        return Error::Handshake(HandshakeError::UnknownOneTimePrekey);
    }
    if !held.kem.contains(&kem_id) {
        return Error::Handshake(HandshakeError::UnknownKemPrekey);
    }
    if i == BASE_KEY.end - 1 && bit == 7 {
        // The top bit of EK_A makes it a non-canonical encoding.
        return Error::Key(KeyError::InvalidPublicKey);
    }
    if i < SEALED_IDENTITY.end {
        // Another held prekey, EK_A, the ciphertext (implicit rejection: an unrelated KEM
        // secret) or the sealed identity itself.
        return Error::Handshake(HandshakeError::SealedIdentity);
    }
    if INITIAL_HEADER.contains(&i) {
        // The PQXDH part is intact; no header key of the new session opens the header.
        return Error::Decrypt(DecryptError::UnknownSession);
    }
    Error::Decrypt(DecryptError::BodyAuthentication)
}

/// Expected error for a bit flip in a normal envelope.
fn message_flip_error(envelope: &[u8], i: usize, bit: u32) -> Error {
    if let Some(e) = decode_error(envelope, i, bit) {
        return e;
    }
    if MESSAGE_HEADER.contains(&i) {
        Error::Decrypt(DecryptError::UnknownSession)
    } else {
        Error::Decrypt(DecryptError::BodyAuthentication)
    }
}

/// Flips every bit of the bytes of `envelope` that `bytes` selects, in turn, delivers it to
/// `receiver`, and checks the error, that the stored state is byte-identical and that no
/// one-time prekey or one-time KEM prekey was consumed.
fn assert_flips_rejected(
    receiver: &mut Party,
    envelope: &[u8],
    bytes: impl Fn(usize) -> bool,
    expected: impl Fn(usize, u32) -> Error,
) {
    let before = receiver.snapshot();
    let prekeys = receiver.account.one_time_prekeys();
    let kem_prekeys = receiver.account.one_time_kem_prekey_count();
    let mut tampered = envelope.to_vec();
    for i in (0..envelope.len()).filter(|&i| bytes(i)) {
        for bit in 0..8 {
            tampered[i] ^= 1 << bit;
            match receiver.receive(&tampered) {
                Ok(d) => panic!(
                    "byte {i} bit {bit}: accepted a tampered envelope: {:?}",
                    d.plaintext
                ),
                Err(e) => assert_eq!(e, expected(i, bit), "byte {i} bit {bit}"),
            }
            assert!(
                receiver.snapshot() == before,
                "byte {i} bit {bit}: stored state changed"
            );
            tampered[i] ^= 1 << bit;
        }
    }
    assert_eq!(tampered, envelope);
    assert_eq!(receiver.account.one_time_prekeys(), prekeys);
    assert_eq!(receiver.account.one_time_kem_prekey_count(), kem_prekeys);
}

/// Every bit of every byte.
fn assert_every_flip_rejected(receiver: &mut Party, envelope: &[u8], expected: impl Fn(usize, u32) -> Error) {
    assert_flips_rejected(receiver, envelope, |_| true, expected);
}

/// The bytes whose every bit `first_initial_message` flips: all bytes outside the KEM
/// ciphertext and, of the ciphertext, the first two, the last two and every 17th byte.
/// Each ciphertext flip costs an ML-KEM key expansion and decapsulation; every bit of the
/// whole ciphertext of a first initial message, with and without one-time prekeys, is
/// flipped in `tests/protocol/pqxdh.rs` (`every_kem_ciphertext_bit_flip_is_rejected` and
/// `kem_ciphertext_bit_flips_are_rejected_last_resort`, both through
/// `kem_ciphertext_bit_flips` with stride 1), with the same expected error
/// (`SealedIdentity`), the same state check and the original decrypting afterwards.
fn sampled_ciphertext_byte(i: usize) -> bool {
    if !CIPHERTEXT.contains(&i) {
        return true;
    }
    let k = i - CIPHERTEXT.start;
    k < 2 || k >= CIPHERTEXT.len() - 2 || k.is_multiple_of(17)
}

/// The KEM prekey id a bundle carries and, for a one-time KEM prekey, that id.
fn kem_ids(bundle: &PrekeyBundle) -> (u32, Vec<u32>) {
    let kem = bundle.kem_prekey().expect("post-quantum bundle");
    (kem.id, if kem.one_time { vec![kem.id] } else { vec![] })
}

fn first_initial_message(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");
    assert_eq!(first.len(), INITIAL_LEN);
    assert_eq!(first[OPK_FLAG], u8::from(one_time));
    assert_eq!(first[KEM_FLAG], 1);
    let (kem_id, one_time_kem) = kem_ids(&bundle);
    assert_eq!(u32_at(&first, KEM_ID), kem_id);
    assert_ne!(kem_id, 0);
    assert_eq!(one_time_kem.len(), usize::from(one_time));

    let prekeys = bob.account.one_time_prekeys();
    assert_eq!(prekeys.len(), usize::from(one_time));
    let held = Held::of(&bob, &one_time_kem);
    assert_flips_rejected(&mut bob, &first, sampled_ciphertext_byte, |i, bit| {
        initial_flip_error(&first, &held, false, i, bit)
    });
    assert!(bob.peer.active().is_none());
    assert_eq!(bob.account.one_time_prekeys(), prekeys);
    assert_eq!(bob.account.one_time_kem_prekey_count(), usize::from(one_time));

    let d = bob.receive(&first).expect("original decrypts");
    assert_eq!(d.plaintext, b"hello bob");
    assert!(d.new_session);
    assert_eq!(&d.sender, alice.account.identity_key());
    assert!(bob.peer.active().unwrap().is_post_quantum());
    assert!(
        bob.account.one_time_prekeys().is_empty(),
        "the one-time prekey is consumed"
    );
    assert_eq!(
        bob.account.one_time_kem_prekey_count(),
        0,
        "the one-time KEM prekey is consumed"
    );
}

#[test]
fn every_bit_flip_of_an_initial_envelope_with_one_time_prekey_is_rejected() {
    first_initial_message(true);
}

#[test]
fn every_bit_flip_of_an_initial_envelope_without_one_time_prekey_is_rejected() {
    first_initial_message(false);
}

/// A later message of an unanswered initiator still carries the PQXDH prefix; the responder
/// already holds its session. A flip in the ciphertext reaches the replay record before any
/// decapsulation, so every bit of every byte is flipped here.
fn later_initial_message(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"first");
    let second = alice.send(b"second");
    assert_eq!(second.len(), INITIAL_LEN);
    assert_eq!(first[..INITIAL_HEADER.start], second[..INITIAL_HEADER.start]);
    assert_ne!(u32_at(&second, KEM_ID), 0);
    assert!(bob.receive(&first).unwrap().new_session);

    // The one-time prekey and one-time KEM prekey are used up; the last-resort KEM prekey
    // stays.
    let held = Held::of(&bob, &[]);
    assert!(held.one_time.is_empty());
    assert_eq!(held.kem, [2]);
    assert_every_flip_rejected(&mut bob, &second, |i, bit| {
        initial_flip_error(&second, &held, true, i, bit)
    });

    let d = bob.receive(&second).expect("original decrypts");
    assert_eq!(d.plaintext, b"second");
    assert!(!d.new_session);
}

#[test]
fn every_bit_flip_of_a_later_initial_envelope_with_one_time_prekey_is_rejected() {
    later_initial_message(true);
}

#[test]
fn every_bit_flip_of_a_later_initial_envelope_without_one_time_prekey_is_rejected() {
    later_initial_message(false);
}

/// A tampered initial message consumes no one-time prekey and no one-time KEM prekey, also
/// when its prekey ids are flipped to name other prekeys Bob holds; the original then
/// consumes exactly the two it names.
#[test]
fn tampered_initial_message_consumes_no_one_time_prekey() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    // Ids: signed prekey 1, its last-resort KEM prekey 2, one-time prekeys 3, 4 and 5,
    // one-time KEM prekeys 6 and 7. The bundle carries one-time prekey 4 and one-time KEM
    // prekey 6, so that single-bit flips of their ids name other prekeys Bob holds, of the
    // same kind or of the other.
    let otps = bob.account.generate_one_time_prekeys(3, &mut bob.rng);
    let kems = bob.account.generate_one_time_kem_prekeys(2, &mut bob.rng);
    assert_eq!(otps.iter().map(|p| p.id).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(kems.iter().map(|k| k.id).collect::<Vec<_>>(), [6, 7]);
    assert_eq!(bob.account.last_resort_kem_prekey().id, 2);
    let used = otps[1];
    let bundle = bob
        .account
        .prekey_bundle(Some(used), Some(kems[0].clone()))
        .unwrap();
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");
    assert_eq!(first.len(), INITIAL_LEN);
    assert_eq!(u32_at(&first, OPK_ID), 4);
    assert_eq!(u32_at(&first, KEM_ID), 6);

    let prekeys = bob.account.one_time_prekeys();
    assert_eq!(prekeys, otps);
    let before = bob.snapshot();
    // One flip in each region that gets past the codec.
    for (i, bit, expected) in [
        (
            SPK_ID.start + 3,
            0,
            Error::Handshake(HandshakeError::UnknownSignedPrekey),
        ),
        // Id 4 -> 5: a one-time prekey Bob holds, but not the one the envelope was made for.
        (
            OPK_ID.end - 1,
            0,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        // Id 4 -> 6: no such one-time prekey (6 is a one-time KEM prekey).
        (
            OPK_ID.end - 1,
            1,
            Error::Handshake(HandshakeError::UnknownOneTimePrekey),
        ),
        // Id 4 -> 12: no such prekey.
        (
            OPK_ID.end - 1,
            3,
            Error::Handshake(HandshakeError::UnknownOneTimePrekey),
        ),
        // KEM id 6 -> 7: another one-time KEM prekey Bob holds; decapsulation with the wrong
        // key gives an unrelated secret.
        (
            KEM_ID.end - 1,
            0,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        // KEM id 6 -> 2: the last-resort KEM prekey.
        (
            KEM_ID.end - 1,
            2,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        // KEM id 6 -> 4: no such KEM prekey (4 is a one-time prekey).
        (
            KEM_ID.end - 1,
            1,
            Error::Handshake(HandshakeError::UnknownKemPrekey),
        ),
        // KEM id 6 -> 14: no such prekey.
        (
            KEM_ID.end - 1,
            3,
            Error::Handshake(HandshakeError::UnknownKemPrekey),
        ),
        (
            BASE_KEY.start,
            0,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        (BASE_KEY.end - 1, 7, Error::Key(KeyError::InvalidPublicKey)),
        (
            CIPHERTEXT.start,
            0,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        (
            CIPHERTEXT.start + 500,
            3,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        (
            CIPHERTEXT.end - 1,
            7,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        (
            SEALED_IDENTITY.start + 30,
            0,
            Error::Handshake(HandshakeError::SealedIdentity),
        ),
        (
            INITIAL_HEADER.start + 40,
            0,
            Error::Decrypt(DecryptError::UnknownSession),
        ),
        (
            INITIAL_LEN - 100,
            0,
            Error::Decrypt(DecryptError::BodyAuthentication),
        ),
        (
            INITIAL_LEN - 1,
            0,
            Error::Decrypt(DecryptError::BodyAuthentication),
        ),
    ] {
        let mut tampered = first.clone();
        tampered[i] ^= 1 << bit;
        assert_eq!(
            bob.receive(&tampered).unwrap_err(),
            expected,
            "byte {i} bit {bit}"
        );
        assert_eq!(bob.account.one_time_prekeys(), prekeys, "byte {i} bit {bit}");
        assert_eq!(bob.account.one_time_kem_prekey_count(), 2, "byte {i} bit {bit}");
        assert!(
            bob.snapshot() == before,
            "byte {i} bit {bit}: stored state changed"
        );
        assert!(bob.peer.active().is_none());
    }

    assert_eq!(bob.receive(&first).unwrap().plaintext, b"hello bob");
    let left = bob.account.one_time_prekeys();
    assert_eq!(left.iter().map(|p| p.id).collect::<Vec<_>>(), [3, 5]);
    assert_eq!(
        left,
        prekeys.iter().copied().filter(|p| *p != used).collect::<Vec<_>>()
    );
    // Exactly the used one-time KEM prekey is gone: 6 is now unknown, 7 still answers.
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);
    let mut carol = Party::new(3);
    carol.initiate(
        &bob.account
            .prekey_bundle(Some(otps[0]), Some(kems[0].clone()))
            .unwrap(),
    );
    let stale = carol.send(b"to a used KEM prekey");
    let mut bob_for_carol = PeerSessions::new(Limits::default());
    let before = bob.account.to_bytes().unwrap();
    assert_eq!(
        bob_for_carol
            .decrypt(&mut bob.account, &stale, &mut bob.rng)
            .map(|d| d.plaintext),
        Err(Error::Handshake(HandshakeError::UnknownKemPrekey))
    );
    assert!(bob.account.to_bytes().unwrap() == before);
    let mut dave = Party::new(4);
    dave.initiate(
        &bob.account
            .prekey_bundle(Some(otps[2]), Some(kems[1].clone()))
            .unwrap(),
    );
    let fresh = dave.send(b"to the other KEM prekey");
    let mut bob_for_dave = PeerSessions::new(Limits::default());
    let got = bob_for_dave
        .decrypt(&mut bob.account, &fresh, &mut bob.rng)
        .unwrap();
    assert_eq!(got.plaintext, b"to the other KEM prekey");
    assert_eq!(bob.account.one_time_kem_prekey_count(), 0);
    assert_eq!(bob.account.one_time_prekeys(), [otps[0]]);
}

/// Normal envelopes on every receive path: a new chain (DH ratchet step), the current
/// chain ahead (skipping), the current chain behind (a skipped key) and an old chain.
#[test]
fn every_bit_flip_of_a_normal_envelope_is_rejected_on_every_receive_path() {
    let (mut alice, mut bob) = established(true);

    // New chain: Alice stepped her ratchet on Bob's reply.
    let m0 = alice.send(b"m0");
    assert_eq!(m0.len(), MESSAGE_LEN);
    assert_every_flip_rejected(&mut bob, &m0, |i, bit| message_flip_error(&m0, i, bit));
    assert_eq!(bob.receive(&m0).unwrap().plaintext, b"m0");

    // Current chain, one ahead: the key of m1 would be skipped.
    let m1 = alice.send(b"m1");
    let m2 = alice.send(b"m2");
    let m3 = alice.send(b"m3");
    assert_every_flip_rejected(&mut bob, &m2, |i, bit| message_flip_error(&m2, i, bit));
    assert_eq!(bob.active_skipped(), 0);
    assert_eq!(bob.receive(&m2).unwrap().plaintext, b"m2");
    assert_eq!(bob.active_skipped(), 1);

    // Current chain, behind: m1's key is a stored skipped key.
    assert_every_flip_rejected(&mut bob, &m1, |i, bit| message_flip_error(&m1, i, bit));
    assert_eq!(bob.receive(&m1).unwrap().plaintext, b"m1");
    assert_eq!(bob.active_skipped(), 0);

    // Old chain: m3 is left behind when Alice's chain moves on.
    let r = bob.send(b"r");
    alice.receive(&r).unwrap();
    let p0 = alice.send(b"p0");
    assert_eq!(bob.receive(&p0).unwrap().plaintext, b"p0");
    assert_eq!(bob.active_skipped(), 1);
    assert_every_flip_rejected(&mut bob, &m3, |i, bit| message_flip_error(&m3, i, bit));
    assert_eq!(bob.receive(&m3).unwrap().plaintext, b"m3");
    assert_eq!(bob.active_skipped(), 0);
}

trait SkippedCount {
    fn active_skipped(&self) -> usize;
}

impl SkippedCount for Party {
    fn active_skipped(&self) -> usize {
        self.peer.active().expect("active session").skipped_key_count()
    }
}

#[test]
fn truncated_and_extended_envelopes_are_rejected_by_the_codec() {
    let (mut alice, mut bob) = established(true);
    let m = alice.send(b"m");
    let before = bob.snapshot();
    for len in 0..m.len() {
        assert_eq!(
            bob.receive(&m[..len]).unwrap_err(),
            Error::Decode(DecodeError::Truncated),
            "length {len}"
        );
    }
    for extra in 1..16 {
        let mut longer = m.clone();
        longer.resize(m.len() + extra, 0);
        // 192 + extra is no Padmé bucket (the next one is 208).
        assert_eq!(
            bob.receive(&longer).unwrap_err(),
            Error::Decode(DecodeError::BadLength),
            "extended by {extra}"
        );
    }
    // 208 is a bucket: the codec accepts the length, the body does not authenticate.
    let mut longer = m.clone();
    longer.resize(m.len() + 16, 0);
    assert_eq!(
        bob.receive(&longer).unwrap_err(),
        Error::Decrypt(DecryptError::BodyAuthentication)
    );
    assert!(bob.snapshot() == before);
    assert_eq!(bob.receive(&m).unwrap().plaintext, b"m");
}
