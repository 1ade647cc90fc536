//! Tampering: every single-bit flip of every byte of an envelope is rejected with the error
//! of the byte's region, the receiver's stored state stays byte-identical, and the
//! untouched envelope still decrypts afterwards.
//!
//! Regions of an initial envelope (offsets in bytes) and the error of a flip there, for the
//! first message of a session (for a later message of an unanswered initiator, whose
//! session the receiver holds, see `initial_flip_error`):
//!
//! ```text
//! 0        version                -> Decode(UnsupportedVersion)
//! 1        kind                   -> Decode(UnknownKind)
//! 2..6     signed prekey id       -> UnknownSignedPrekey
//! 6        one-time prekey flag   -> Decode(InvalidFlag), or UnknownOneTimePrekey for 0 -> 1
//! 7..11    one-time prekey id     -> UnknownOneTimePrekey, or SealedIdentity if the new id
//!                                    is held (flag 1); Decode(InvalidFlag) (flag 0)
//! 11..43   EK_A                   -> SealedIdentity, InvalidPublicKey for the top bit
//! 43..115  sealed identity        -> SealedIdentity
//! 115..195 sealed header          -> UnknownSession
//! 195..    body nonce, body, tag  -> BodyAuthentication
//! ```
//!
//! Regions of a normal envelope: version, kind, sealed header (2..82) -> UnknownSession,
//! then the body -> BodyAuthentication.

mod common;
use common::*;
use hemlis::{DecodeError, Error};

const VERSION: usize = 0;
const KIND: usize = 1;
const SPK_ID: core::ops::Range<usize> = 2..6;
const OPK_FLAG: usize = 6;
const OPK_ID: core::ops::Range<usize> = 7..11;
const BASE_KEY: core::ops::Range<usize> = 11..43;
const SEALED_IDENTITY: core::ops::Range<usize> = 43..115;
const INITIAL_HEADER: core::ops::Range<usize> = 115..195;
const INITIAL_LEN: usize = 195 + 24 + 192 + 16;
const MESSAGE_HEADER: core::ops::Range<usize> = 2..82;
const MESSAGE_LEN: usize = 82 + 24 + 192 + 16;

/// The error of a flipped bit in the version or kind byte; `None` for other bytes.
fn decode_error(envelope: &[u8], i: usize, bit: u32) -> Option<Error> {
    let flipped = envelope[i] ^ (1 << bit);
    match i {
        VERSION => Some(Error::Decode(DecodeError::UnsupportedVersion(flipped))),
        KIND => Some(Error::Decode(DecodeError::UnknownKind(flipped))),
        _ => None,
    }
}

/// Expected error for a bit flip in an initial envelope, following the order of the checks:
/// the codec; the sessions (the prefix is the header's associated data, so a flip in the
/// prefix or the header leaves the envelope to the account); then the account: signed
/// prekey id, replay record, one-time prekey id, the sealed identity (whose associated data
/// is the prefix up to EK_A), the header and the body of the first ratchet message.
///
/// `held`: the one-time prekey ids the receiver holds. `known`: the receiver already
/// accepted an envelope with this base key (this is a later message of an unanswered
/// initiator, and the receiver holds its session).
fn initial_flip_error(envelope: &[u8], held: &[u32], known: bool, i: usize, bit: u32) -> Error {
    if let Some(e) = decode_error(envelope, i, bit) {
        return e;
    }
    let mut flipped = envelope.to_vec();
    flipped[i] ^= 1 << bit;
    let flag = flipped[OPK_FLAG];
    let opk_id = u32::from_be_bytes(flipped[OPK_ID].try_into().unwrap());
    if flag > 1 || (flag == 0 && opk_id != 0) {
        return Error::Decode(DecodeError::InvalidFlag);
    }
    if known && i >= INITIAL_HEADER.end {
        // A session opens the header; the body does not authenticate.
        return Error::BodyAuthentication;
    }
    if SPK_ID.contains(&i) {
        return Error::UnknownSignedPrekey;
    }
    if known && !BASE_KEY.contains(&i) {
        return Error::ReplayedInitialMessage;
    }
    if flag == 1 && !held.contains(&opk_id) {
        return Error::UnknownOneTimePrekey;
    }
    if i == BASE_KEY.end - 1 && bit == 7 {
        // The top bit of EK_A makes it a non-canonical encoding.
        return Error::InvalidPublicKey;
    }
    if i < SEALED_IDENTITY.end {
        return Error::SealedIdentity;
    }
    if INITIAL_HEADER.contains(&i) {
        // The X3DH part is intact; no header key of the new session opens the header.
        return Error::UnknownSession;
    }
    Error::BodyAuthentication
}

/// Expected error for a bit flip in a normal envelope.
fn message_flip_error(envelope: &[u8], i: usize, bit: u32) -> Error {
    if let Some(e) = decode_error(envelope, i, bit) {
        return e;
    }
    if MESSAGE_HEADER.contains(&i) {
        Error::UnknownSession
    } else {
        Error::BodyAuthentication
    }
}

/// Flips every bit of `envelope` in turn, delivers it to `receiver`, and checks the error,
/// that the stored state is byte-identical and that no one-time prekey was consumed.
fn assert_every_flip_rejected(receiver: &mut Party, envelope: &[u8], expected: impl Fn(usize, u32) -> Error) {
    let before = receiver.snapshot();
    let prekeys = receiver.account.one_time_prekeys();
    let mut tampered = envelope.to_vec();
    for i in 0..envelope.len() {
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
}

fn first_initial_message(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");
    assert_eq!(first.len(), INITIAL_LEN);
    assert_eq!(first[OPK_FLAG], u8::from(one_time));

    let prekeys = bob.account.one_time_prekeys();
    assert_eq!(prekeys.len(), usize::from(one_time));
    let held: Vec<u32> = prekeys.iter().map(|p| p.id).collect();
    assert_every_flip_rejected(&mut bob, &first, |i, bit| {
        initial_flip_error(&first, &held, false, i, bit)
    });
    assert!(bob.peer.active().is_none());
    assert_eq!(bob.account.one_time_prekeys(), prekeys);

    let d = bob.receive(&first).expect("original decrypts");
    assert_eq!(d.plaintext, b"hello bob");
    assert!(d.new_session);
    assert_eq!(&d.sender, alice.account.identity_key());
    assert!(
        bob.account.one_time_prekeys().is_empty(),
        "the one-time prekey is consumed"
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

/// A later message of an unanswered initiator still carries the X3DH prefix; the responder
/// already holds its session.
fn later_initial_message(one_time: bool) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"first");
    let second = alice.send(b"second");
    assert_eq!(second.len(), INITIAL_LEN);
    assert_eq!(first[..INITIAL_HEADER.start], second[..INITIAL_HEADER.start]);
    assert!(bob.receive(&first).unwrap().new_session);

    let held: Vec<u32> = bob.account.one_time_prekeys().iter().map(|p| p.id).collect();
    assert!(held.is_empty());
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

#[test]
fn tampered_initial_message_consumes_no_one_time_prekey() {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    // Bob holds three one-time prekeys, ids 2, 3 and 4; the bundle carries id 3, so that
    // flipping the lowest bit of its id names another prekey Bob holds (2).
    bob.account.generate_one_time_prekeys(1, &mut bob.rng);
    let bundle = bob.bundle(true);
    bob.account.generate_one_time_prekeys(1, &mut bob.rng);
    let used = *bundle.one_time_prekey().unwrap();
    assert_eq!(used.id, 3);
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");

    let prekeys = bob.account.one_time_prekeys();
    assert_eq!(prekeys.iter().map(|p| p.id).collect::<Vec<_>>(), [2, 3, 4]);
    let before = bob.snapshot();
    // One flip in each region that gets past the codec.
    for (i, bit, expected) in [
        (SPK_ID.start + 3, 0, Error::UnknownSignedPrekey),
        // Id 3 -> 2: a prekey Bob holds, but not the one the envelope was made for.
        (OPK_ID.end - 1, 0, Error::SealedIdentity),
        // Id 3 -> 7: no such prekey.
        (OPK_ID.end - 1, 2, Error::UnknownOneTimePrekey),
        (BASE_KEY.start, 0, Error::SealedIdentity),
        (BASE_KEY.end - 1, 7, Error::InvalidPublicKey),
        (SEALED_IDENTITY.start + 30, 0, Error::SealedIdentity),
        (INITIAL_HEADER.start + 40, 0, Error::UnknownSession),
        (INITIAL_LEN - 100, 0, Error::BodyAuthentication),
        (INITIAL_LEN - 1, 0, Error::BodyAuthentication),
    ] {
        let mut tampered = first.clone();
        tampered[i] ^= 1 << bit;
        assert_eq!(
            bob.receive(&tampered).unwrap_err(),
            expected,
            "byte {i} bit {bit}"
        );
        assert_eq!(bob.account.one_time_prekeys(), prekeys, "byte {i} bit {bit}");
        assert!(
            bob.snapshot() == before,
            "byte {i} bit {bit}: stored state changed"
        );
        assert!(bob.peer.active().is_none());
    }

    assert_eq!(bob.receive(&first).unwrap().plaintext, b"hello bob");
    let left = bob.account.one_time_prekeys();
    assert_eq!(left.iter().map(|p| p.id).collect::<Vec<_>>(), [2, 4]);
    assert_eq!(
        left,
        prekeys.iter().copied().filter(|p| *p != used).collect::<Vec<_>>()
    );
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
    assert_eq!(bob.receive(&longer).unwrap_err(), Error::BodyAuthentication);
    assert!(bob.snapshot() == before);
    assert_eq!(bob.receive(&m).unwrap().plaintext, b"m");
}
