//! The prekey bundle: build, verify, encode and decode, and every way a bundle is refused.
//!
//! Encoding (docs/PROTOCOL.md, section 4.2):
//! `version (1) || IK (32) || spk_id (4) || SPK (32) || signature (64) || opk_flag (1)
//! [|| opk_id (4) || OPK (32)]`.

mod common;

use common::*;
use hemlis::wire::{BundleFields, VERSION};
use hemlis::{
    Account, DecodeError, Error, IdentityKey, OneTimePrekeyPublic, PrekeyBundle, SignedPrekeyPublic,
};

const IK: core::ops::Range<usize> = 1..33;
const SPK_ID: core::ops::Range<usize> = 33..37;
const SPK: core::ops::Range<usize> = 37..69;
const SIGNATURE: core::ops::Range<usize> = 69..133;
const FLAG: usize = 133;
const OPK: core::ops::Range<usize> = 138..170;
const WITHOUT: usize = BundleFields::LEN_WITHOUT_ONE_TIME;
const WITH: usize = BundleFields::LEN_WITH_ONE_TIME;

fn hex32(s: &str) -> [u8; 32] {
    assert_eq!(s.len(), 64);
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Little-endian 32 bytes with the low byte `low`, bytes 1..31 `fill` and the top byte `top`.
fn le(low: u8, fill: u8, top: u8) -> [u8; 32] {
    let mut out = [fill; 32];
    out[0] = low;
    out[31] = top;
    out
}

/// A device with a one-time prekey: (account, bundle without, bundle with the prekey).
fn device(seed: u64) -> (Party, PrekeyBundle, PrekeyBundle) {
    let mut party = Party::new(seed);
    let without = party.bundle(false);
    let with = party.bundle(true);
    (party, without, with)
}

/// X25519 u-coordinates that must never be accepted as a prekey: every point of small
/// order (canonical and not), points of the twist, and encodings with the top bit set.
fn bad_x25519_keys(valid: &[u8; 32]) -> Vec<(&'static str, [u8; 32])> {
    let order8_a = hex32("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800");
    let order8_b = hex32("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157");
    let high = |mut k: [u8; 32]| {
        k[31] |= 0x80;
        k
    };
    let mut keys = vec![
        ("u = 0 (order 4)", [0u8; 32]),
        ("u = 1 (order 4)", le(1, 0, 0)),
        ("u = 3256...3504 (order 8)", order8_a),
        ("u = 3938...5823 (order 8)", order8_b),
        ("u = p - 1 (twist, order 4)", le(0xec, 0xff, 0x7f)),
        ("u = 2 (twist)", le(2, 0, 0)),
        ("u = p (non-canonical 0)", le(0xed, 0xff, 0x7f)),
        ("u = p + 1 (non-canonical 1)", le(0xee, 0xff, 0x7f)),
        ("u = p + 9 (non-canonical base point)", le(0xf6, 0xff, 0x7f)),
        ("u = 2^255 - 1", le(0xff, 0xff, 0x7f)),
        ("u = 0, top bit set", high([0u8; 32])),
        ("u = 1, top bit set", high(le(1, 0, 0))),
        ("order 8 a, top bit set", high(order8_a)),
        ("order 8 b, top bit set", high(order8_b)),
        ("u = 2^256 - 1", [0xff; 32]),
        ("valid key, top bit set", high(*valid)),
    ];
    // Every u from p to 2^255 - 1.
    for low in 0xed..=0xff {
        keys.push(("u in p..2^255", le(low, 0xff, 0x7f)));
    }
    keys
}

#[test]
fn build_encode_decode_round_trip() {
    let (party, without, with) = device(7);
    assert_eq!(without.identity(), party.account.identity_key());
    assert_eq!(without.signed_prekey(), &party.account.signed_prekey());
    assert_eq!(without.one_time_prekey(), None);
    without
        .signed_prekey()
        .verify(party.account.identity_key())
        .unwrap();

    let bytes = without.encode();
    assert_eq!(bytes.len(), WITHOUT);
    assert_eq!(bytes[0], VERSION);
    assert_eq!(&bytes[IK], party.account.identity_key().as_bytes());
    assert_eq!(bytes[SPK_ID], 1u32.to_be_bytes());
    assert_eq!(bytes[FLAG], 0);
    assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), without);

    // Rebuilt from its parts.
    let rebuilt = PrekeyBundle::new(
        IdentityKey::from_bytes(party.account.identity_key().as_bytes()).unwrap(),
        party.account.signed_prekey(),
        None,
    )
    .unwrap();
    assert_eq!(rebuilt, without);
    assert_eq!(rebuilt.encode(), bytes);

    // The signed prekey's signature is deterministic: the bundle is the same every time.
    assert_eq!(party.account.prekey_bundle(None).unwrap().encode(), bytes);
    assert_eq!(with.signed_prekey(), without.signed_prekey());
}

#[test]
fn one_time_prekey_round_trip() {
    let (mut bob, _, with) = device(7);
    let otp = *with.one_time_prekey().expect("one-time prekey");
    assert_eq!(bob.account.one_time_prekeys(), vec![otp]);

    let bytes = with.encode();
    assert_eq!(bytes.len(), WITH);
    assert_eq!(bytes[FLAG], 1);
    assert_eq!(bytes[134..138], otp.id.to_be_bytes());
    assert_eq!(bytes[OPK], otp.key);
    let decoded = PrekeyBundle::decode(&bytes).unwrap();
    assert_eq!(decoded, with);
    assert_eq!(decoded.one_time_prekey(), Some(&otp));
    assert_eq!(decoded.encode(), bytes);
    let rebuilt =
        PrekeyBundle::new(with.identity().clone(), with.signed_prekey().clone(), Some(otp)).unwrap();
    assert_eq!(rebuilt, with);

    // A session started from the decoded bundle uses the one-time prekey; the prekey is
    // deleted when (and only when) the first message decrypts.
    let mut alice = Party::new(8);
    alice.initiate(&decoded);
    let first = alice.send(b"with a one-time prekey");
    let mut tampered = first.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        bob.receive(&tampered).map(|d| d.plaintext),
        Err(Error::BodyAuthentication)
    );
    assert_eq!(bob.account.one_time_prekeys(), vec![otp]);
    let got = bob.receive(&first).unwrap();
    assert_eq!(got.plaintext, b"with a one-time prekey");
    assert!(got.new_session);
    assert!(bob.account.one_time_prekeys().is_empty());

    // A second session to the same (now used) one-time prekey is refused.
    let mut carol = Party::new(9);
    carol.initiate(&decoded);
    let env = carol.send(b"same prekey");
    let mut bob_for_carol = hemlis::PeerSessions::new(hemlis::Limits::default());
    assert_eq!(
        bob_for_carol.decrypt(&mut bob.account, &env, &mut bob.rng),
        Err(Error::UnknownOneTimePrekey)
    );
}

#[test]
fn every_signature_bit_flip_is_rejected() {
    let (_, without, with) = device(7);
    for bundle in [without, with] {
        let bytes = bundle.encode();
        for bit in 0..512 {
            let mut flipped = bytes.clone();
            flipped[SIGNATURE.start + bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                PrekeyBundle::decode(&flipped),
                Err(Error::BadSignature),
                "bit {bit}"
            );
        }
        assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), bundle);
    }
}

#[test]
fn signature_covers_identity_id_and_key() {
    let (bob, without, with) = device(7);
    let (carol, carol_bundle, _) = device(8);
    let carol_key = carol.account.identity_key();
    for bundle in [&without, &with] {
        // Bob's signed prekey presented under Carol's identity.
        let mut bytes = bundle.encode();
        bytes[IK].copy_from_slice(carol_key.as_bytes());
        assert_eq!(PrekeyBundle::decode(&bytes), Err(Error::BadSignature));
        assert_eq!(
            PrekeyBundle::new(carol_key.clone(), bundle.signed_prekey().clone(), None),
            Err(Error::BadSignature)
        );
        // Another id.
        let mut bytes = bundle.encode();
        bytes[SPK_ID].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(PrekeyBundle::decode(&bytes), Err(Error::BadSignature));
        // Another (valid) key: Carol's signed prekey with Bob's signature.
        let mut bytes = bundle.encode();
        bytes[SPK].copy_from_slice(&carol_bundle.signed_prekey().key);
        assert_eq!(PrekeyBundle::decode(&bytes), Err(Error::BadSignature));
        // Carol's signature on Bob's key.
        let mut bytes = bundle.encode();
        bytes[SIGNATURE].copy_from_slice(&carol_bundle.signed_prekey().signature);
        assert_eq!(PrekeyBundle::decode(&bytes), Err(Error::BadSignature));
    }
    // Carol's whole signed prekey under Carol's identity is fine, under Bob's it is not.
    assert!(PrekeyBundle::new(carol_key.clone(), carol_bundle.signed_prekey().clone(), None).is_ok());
    assert_eq!(
        PrekeyBundle::new(
            bob.account.identity_key().clone(),
            carol_bundle.signed_prekey().clone(),
            None
        ),
        Err(Error::BadSignature)
    );
    // The one-time prekey is not signed: swapping it for another valid key is accepted.
    let mut bytes = with.encode();
    bytes[OPK].copy_from_slice(&carol_bundle.signed_prekey().key);
    assert!(PrekeyBundle::decode(&bytes).is_ok());
}

#[test]
fn invalid_x25519_prekeys_are_rejected() {
    let (_, without, with) = device(7);
    let spk = without.signed_prekey().clone();
    let otp = *with.one_time_prekey().unwrap();
    for (what, key) in bad_x25519_keys(&spk.key) {
        // As the signed prekey: the key is checked before the signature, so the
        // (now wrong) signature does not matter.
        let bad_spk = SignedPrekeyPublic { key, ..spk.clone() };
        assert_eq!(
            PrekeyBundle::new(without.identity().clone(), bad_spk, None),
            Err(Error::InvalidPublicKey),
            "signed prekey {what}"
        );
        let mut bytes = without.encode();
        bytes[SPK].copy_from_slice(&key);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::InvalidPublicKey),
            "signed prekey {what}"
        );

        // As the one-time prekey, next to a valid signed prekey.
        let bad_otp = OneTimePrekeyPublic { id: otp.id, key };
        assert_eq!(
            PrekeyBundle::new(without.identity().clone(), spk.clone(), Some(bad_otp)),
            Err(Error::InvalidPublicKey),
            "one-time prekey {what}"
        );
        let mut bytes = with.encode();
        bytes[OPK].copy_from_slice(&key);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::InvalidPublicKey),
            "one-time prekey {what}"
        );
    }
    // Control: the base point u = 9 is a valid key, so only the signature fails.
    let nine = le(9, 0, 0);
    let mut bytes = without.encode();
    bytes[SPK].copy_from_slice(&nine);
    assert_eq!(PrekeyBundle::decode(&bytes), Err(Error::BadSignature));
    let mut bytes = with.encode();
    bytes[OPK].copy_from_slice(&nine);
    assert!(PrekeyBundle::decode(&bytes).is_ok());
}

#[test]
fn invalid_identity_keys_are_rejected() {
    let p_minus_1 = le(0xec, 0xff, 0x7f);
    let order8_a = hex32("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a");
    let order8_b = hex32("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05");
    let sign = |mut k: [u8; 32]| {
        k[31] ^= 0x80;
        k
    };
    let mut keys = vec![
        ("identity point (order 1)", le(1, 0, 0)),
        ("y = -1 (order 2)", p_minus_1),
        ("y = 0 (order 4)", [0u8; 32]),
        ("y = 0, x negative (order 4)", sign([0u8; 32])),
        ("order 8 a", order8_a),
        ("order 8 a, other x", sign(order8_a)),
        ("order 8 b", order8_b),
        ("order 8 b, other x", sign(order8_b)),
        ("identity point, x = -0", sign(le(1, 0, 0))),
        ("y = -1, x = -0", sign(p_minus_1)),
        ("y = 2 (not on the curve)", le(2, 0, 0)),
    ];
    // Every non-canonical y (p + k for k in 0..19), with either sign: these include
    // small-order points (p, p + 1) and points of large order (p + 3, p + 4, ...).
    for k in 0u8..19 {
        keys.push(("y = p + k", le(0xed + k, 0xff, 0x7f)));
        keys.push(("y = p + k, x negative", le(0xed + k, 0xff, 0xff)));
    }
    let (_, without, _) = device(7);
    for (what, key) in keys {
        assert_eq!(
            IdentityKey::from_bytes(&key),
            Err(Error::InvalidPublicKey),
            "{what} {key:02x?}"
        );
        let mut bytes = without.encode();
        bytes[IK].copy_from_slice(&key);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::InvalidPublicKey),
            "{what}"
        );
    }
    // Control: y = 3 and y = 4 canonically encoded are points of large order and are
    // accepted, so p + 3 and p + 4 above were refused for being non-canonical.
    for y in [3u8, 4] {
        let key = le(y, 0, 0);
        assert_eq!(IdentityKey::from_bytes(&key).unwrap().to_bytes(), key);
    }
    // A real identity round-trips.
    let real = without.identity().to_bytes();
    assert_eq!(IdentityKey::from_bytes(&real).unwrap(), *without.identity());
}

#[test]
fn wrong_version_is_rejected() {
    let (_, without, with) = device(7);
    for bytes in [without.encode(), with.encode()] {
        for v in (0..=255u8).filter(|&v| v != VERSION) {
            let mut b = bytes.clone();
            b[0] = v;
            assert_eq!(
                PrekeyBundle::decode(&b),
                Err(Error::Decode(DecodeError::UnsupportedVersion(v)))
            );
            assert_eq!(
                PrekeyBundle::decode(&b[..1]),
                Err(Error::Decode(DecodeError::UnsupportedVersion(v)))
            );
        }
    }
}

#[test]
fn truncation_at_every_length_is_rejected() {
    let (_, without, with) = device(7);
    for bytes in [without.encode(), with.encode()] {
        for len in 0..bytes.len() {
            assert_eq!(
                PrekeyBundle::decode(&bytes[..len]),
                Err(Error::Decode(DecodeError::Truncated)),
                "length {len} of {}",
                bytes.len()
            );
            assert_eq!(BundleFields::decode(&bytes[..len]), Err(DecodeError::Truncated));
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let (_, without, with) = device(7);
    // Without a one-time prekey: trailing bytes up to the longer length are trailing
    // bytes; beyond it, the input is oversize before anything is read.
    let bytes = without.encode();
    for extra in 1..=64 {
        for fill in [0u8, 1, 0xff] {
            let mut b = bytes.clone();
            b.extend(std::iter::repeat_n(fill, extra));
            let expected = if WITHOUT + extra <= WITH {
                DecodeError::TrailingBytes
            } else {
                DecodeError::Oversize
            };
            assert_eq!(
                PrekeyBundle::decode(&b),
                Err(Error::Decode(expected)),
                "{extra} bytes"
            );
        }
    }
    // With a one-time prekey, any extra byte makes it oversize.
    let bytes = with.encode();
    for extra in 1..=64 {
        let mut b = bytes.clone();
        b.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(
            PrekeyBundle::decode(&b),
            Err(Error::Decode(DecodeError::Oversize))
        );
    }
    // Oversize is checked before the version.
    let mut b = vec![0u8; WITH + 1];
    b[0] = 9;
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::Oversize))
    );
}

#[test]
fn invalid_flag_is_rejected() {
    let (_, without, with) = device(7);
    for bytes in [without.encode(), with.encode()] {
        for flag in 2..=255u8 {
            let mut b = bytes.clone();
            b[FLAG] = flag;
            assert_eq!(
                PrekeyBundle::decode(&b),
                Err(Error::Decode(DecodeError::InvalidFlag)),
                "flag {flag}"
            );
        }
    }
    // Flag and length disagree.
    let mut b = without.encode();
    b[FLAG] = 1;
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::Truncated))
    );
    let mut b = with.encode();
    b[FLAG] = 0;
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::TrailingBytes))
    );
}

#[test]
fn fresh_account_bundle_verifies() {
    let mut rng = rng(42);
    let mut account = Account::new(&mut rng, 5);
    let otps = account.generate_one_time_prekeys(3, &mut rng);
    assert_eq!(otps.iter().map(|p| p.id).collect::<Vec<_>>(), vec![2, 3, 4]);
    for otp in otps {
        let bundle = account.prekey_bundle(Some(otp)).unwrap();
        assert_eq!(PrekeyBundle::decode(&bundle.encode()).unwrap(), bundle);
    }
    let rotated = account.rotate_signed_prekey(&mut rng, 6);
    assert_eq!(rotated.id, 5);
    let bundle = account.prekey_bundle(None).unwrap();
    assert_eq!(bundle.signed_prekey(), &rotated);
    assert_eq!(PrekeyBundle::decode(&bundle.encode()).unwrap(), bundle);
}
