//! The prekey bundle: build, verify, encode and decode, and every way a bundle is refused.
//!
//! Encoding (docs/PROTOCOL.md, section 4.2):
//! `version (1) || IK (32) || spk_id (4) || SPK (32) || signature (64) || kem_flag (1)
//! [|| kem_id (4) || kem_kind (1) || PQPK (1184) || KEM signature (64)] || opk_flag (1)
//! [|| opk_id (4) || OPK (32)]`.
//!
//! Four bundles of one device are checked throughout: post-quantum with the last-resort
//! KEM prekey and no one-time prekey ("without", 1,388 bytes), post-quantum with a one-time
//! prekey and a one-time KEM prekey ("with", 1,424), and the classical ones without a KEM
//! prekey, without and with a one-time prekey (135 and 171).

use core::ops::Range;

use hemlis::wire::{BundleFields, VERSION};
use hemlis::{
    Account, DecodeError, Error, IdentityKey, KemPrekeyPublic, Limits, OneTimePrekeyPublic, PeerSessions,
    PrekeyBundle, SignedPrekeyPublic,
};
use hemlis::{DecryptError, HandshakeError, KeyError};
use hemlis_test::hex::hex32;
use hemlis_test::party::*;
use hemlis_test::rng::rng;

const IK: Range<usize> = 1..33;
const SPK_ID: Range<usize> = 33..37;
const SPK: Range<usize> = 37..69;
const SIGNATURE: Range<usize> = 69..133;
const KEM_FLAG: usize = 133;
const KEM_ID: Range<usize> = 134..138;
const KEM_KIND: usize = 138;
const KEM_KEY: Range<usize> = 139..1323;
const KEM_SIGNATURE: Range<usize> = 1323..1387;
/// The one-time prekey flag of a post-quantum bundle (134 in a classical one).
const OPK_FLAG: usize = 1387;
const CLASSICAL_OPK_FLAG: usize = 134;

/// ML-KEM-768: q, and the length of the encoded polynomial vector (the rest is rho).
const Q: u16 = 3329;
const COEFFICIENTS: usize = 3 * 256;

const MIN: usize = BundleFields::MIN_LEN;
const MAX: usize = BundleFields::MAX_LEN;
const WITHOUT: usize = BundleFields::MIN_LEN + BundleFields::KEM_LEN;
const WITH: usize = BundleFields::MAX_LEN;
const CLASSICAL_WITH: usize = BundleFields::MIN_LEN + BundleFields::ONE_TIME_LEN;

/// Offset of the one-time prekey flag of an encoded bundle.
fn opk_flag(bytes: &[u8]) -> usize {
    if bytes[KEM_FLAG] == 1 {
        OPK_FLAG
    } else {
        CLASSICAL_OPK_FLAG
    }
}

/// Offsets of the one-time prekey id and key of an encoded bundle.
fn opk_id(bytes: &[u8]) -> Range<usize> {
    let at = opk_flag(bytes) + 1;
    at..at + 4
}

fn opk(bytes: &[u8]) -> Range<usize> {
    let at = opk_flag(bytes) + 5;
    at..at + 32
}

/// Little-endian 32 bytes with the low byte `low`, bytes 1..31 `fill` and the top byte `top`.
fn le(low: u8, fill: u8, top: u8) -> [u8; 32] {
    let mut out = [fill; 32];
    out[0] = low;
    out[31] = top;
    out
}

/// A device and its four bundles.
struct Device {
    party: Party,
    /// Post-quantum, last-resort KEM prekey (id 2), no one-time prekey.
    without: PrekeyBundle,
    /// Post-quantum, one-time prekey (id 3) and one-time KEM prekey (id 4).
    with: PrekeyBundle,
    /// Classical, no one-time prekey.
    classical: PrekeyBundle,
    /// Classical, one-time prekey (id 5).
    classical_with: PrekeyBundle,
}

impl Device {
    fn all(&self) -> [&PrekeyBundle; 4] {
        [&self.without, &self.with, &self.classical, &self.classical_with]
    }

    fn post_quantum(&self) -> [&PrekeyBundle; 2] {
        [&self.without, &self.with]
    }
}

fn device(seed: u64) -> Device {
    let mut party = Party::new(seed);
    let without = party.bundle(false);
    let with = party.bundle(true);
    let otp = party.account.generate_one_time_prekeys(1, &mut party.rng).pop();
    let classical = party.account.classical_prekey_bundle(None).unwrap();
    let classical_with = party.account.classical_prekey_bundle(otp).unwrap();
    Device {
        party,
        without,
        with,
        classical,
        classical_with,
    }
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

/// `key` with its 12-bit coefficient number `i` (ByteEncode_12, FIPS 203) set to `value`.
fn set_coefficient(key: &mut [u8], i: usize, value: u16) {
    assert!(i < COEFFICIENTS && value < 4096);
    let at = 3 * (i / 2);
    if i.is_multiple_of(2) {
        key[at] = value as u8;
        key[at + 1] = (key[at + 1] & 0xf0) | (value >> 8) as u8;
    } else {
        key[at + 1] = (key[at + 1] & 0x0f) | ((value & 0x0f) << 4) as u8;
        key[at + 2] = (value >> 4) as u8;
    }
}

fn coefficient(key: &[u8], i: usize) -> u16 {
    let at = 3 * (i / 2);
    let (b0, b1, b2) = (u16::from(key[at]), u16::from(key[at + 1]), u16::from(key[at + 2]));
    if i.is_multiple_of(2) {
        b0 | ((b1 & 0x0f) << 8)
    } else {
        (b1 >> 4) | (b2 << 4)
    }
}

#[test]
fn lengths_follow_the_constants() {
    assert_eq!(BundleFields::MIN_LEN, 135);
    assert_eq!(BundleFields::KEM_LEN, 4 + 1 + 1184 + 64);
    assert_eq!(BundleFields::ONE_TIME_LEN, 36);
    assert_eq!(BundleFields::MAX_LEN, 1424);
    assert_eq!(WITHOUT, 1388);
    assert_eq!(CLASSICAL_WITH, 171);
    assert_eq!(KEM_SIGNATURE.end, OPK_FLAG);
    assert_eq!(OPK_FLAG + 1, WITHOUT);
    assert_eq!(CLASSICAL_OPK_FLAG + 1, MIN);
    let d = device(7);
    let lens: Vec<usize> = d.all().iter().map(|b| b.encode().len()).collect();
    assert_eq!(lens, [WITHOUT, WITH, MIN, CLASSICAL_WITH]);
}

#[test]
fn build_encode_decode_round_trip() {
    let d = device(7);
    let (account, without) = (&d.party.account, &d.without);
    assert_eq!(without.identity(), account.identity_key());
    assert_eq!(without.signed_prekey(), &account.signed_prekey());
    assert_eq!(without.one_time_prekey(), None);
    assert!(without.is_post_quantum());
    let kem = without.kem_prekey().expect("KEM prekey").clone();
    assert_eq!(kem, account.last_resort_kem_prekey());
    assert_eq!((kem.id, kem.one_time, kem.key.len()), (2, false, 1184));
    without.signed_prekey().verify(account.identity_key()).unwrap();
    kem.verify(account.identity_key()).unwrap();

    let bytes = without.encode();
    assert_eq!(bytes.len(), WITHOUT);
    assert_eq!(bytes[0], VERSION);
    assert_eq!(&bytes[IK], account.identity_key().as_bytes());
    assert_eq!(bytes[SPK_ID], 1u32.to_be_bytes());
    assert_eq!(bytes[SPK], account.signed_prekey().key);
    assert_eq!(bytes[SIGNATURE], account.signed_prekey().signature);
    assert_eq!(bytes[KEM_FLAG], 1);
    assert_eq!(bytes[KEM_ID], 2u32.to_be_bytes());
    assert_eq!(bytes[KEM_KIND], 0);
    assert_eq!(bytes[KEM_KEY], kem.key[..]);
    assert_eq!(bytes[KEM_SIGNATURE], kem.signature);
    assert_eq!(bytes[OPK_FLAG], 0);
    assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), *without);
    let fields = BundleFields::decode(&bytes).unwrap();
    assert_eq!(fields.encode(), bytes);
    assert_eq!(fields.kem_prekey.as_ref().unwrap().key, kem.key);

    // Rebuilt from its parts.
    let rebuilt = PrekeyBundle::new(
        IdentityKey::from_bytes(account.identity_key().as_bytes()).unwrap(),
        account.signed_prekey(),
        Some(account.last_resort_kem_prekey()),
        None,
    )
    .unwrap();
    assert_eq!(rebuilt, *without);
    assert_eq!(rebuilt.encode(), bytes);

    // The signatures are deterministic: the bundle is the same every time.
    assert_eq!(account.prekey_bundle(None, None).unwrap().encode(), bytes);
    assert_eq!(d.with.signed_prekey(), without.signed_prekey());

    // The classical bundle: the same signed prekey, no KEM prekey.
    let classical = &d.classical;
    assert!(!classical.is_post_quantum());
    assert_eq!(classical.kem_prekey(), None);
    assert_eq!(classical.signed_prekey(), without.signed_prekey());
    let bytes = classical.encode();
    assert_eq!(bytes.len(), MIN);
    assert_eq!(bytes[..KEM_FLAG], without.encode()[..KEM_FLAG]);
    assert_eq!(bytes[KEM_FLAG], 0);
    assert_eq!(bytes[CLASSICAL_OPK_FLAG], 0);
    assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), *classical);
    let rebuilt = PrekeyBundle::new(
        account.identity_key().clone(),
        account.signed_prekey(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(rebuilt, *classical);
    assert_eq!(account.classical_prekey_bundle(None).unwrap().encode(), bytes);
}

#[test]
fn one_time_prekey_round_trip() {
    let Device {
        party: mut bob,
        with,
        classical_with,
        ..
    } = device(7);
    let otp = *with.one_time_prekey().expect("one-time prekey");
    let kem = with.kem_prekey().expect("KEM prekey").clone();
    let classical_otp = *classical_with.one_time_prekey().expect("one-time prekey");
    assert_eq!(bob.account.one_time_prekeys(), vec![otp, classical_otp]);
    assert_eq!((otp.id, kem.id, classical_otp.id), (3, 4, 5));
    assert!(kem.one_time);
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);

    let bytes = with.encode();
    assert_eq!(bytes.len(), WITH);
    assert_eq!(bytes[KEM_FLAG], 1);
    assert_eq!(bytes[KEM_ID], 4u32.to_be_bytes());
    assert_eq!(bytes[KEM_KIND], 1);
    assert_eq!(bytes[KEM_KEY], kem.key[..]);
    assert_eq!(bytes[KEM_SIGNATURE], kem.signature);
    assert_eq!(bytes[OPK_FLAG], 1);
    assert_eq!((opk_id(&bytes), opk(&bytes)), (1388..1392, 1392..1424));
    assert_eq!(bytes[opk_id(&bytes)], otp.id.to_be_bytes());
    assert_eq!(bytes[opk(&bytes)], otp.key);
    let decoded = PrekeyBundle::decode(&bytes).unwrap();
    assert_eq!(decoded, with);
    assert_eq!(decoded.one_time_prekey(), Some(&otp));
    assert_eq!(decoded.kem_prekey(), Some(&kem));
    assert_eq!(decoded.encode(), bytes);
    let rebuilt = PrekeyBundle::new(
        with.identity().clone(),
        with.signed_prekey().clone(),
        Some(kem.clone()),
        Some(otp),
    )
    .unwrap();
    assert_eq!(rebuilt, with);

    // The classical bundle with a one-time prekey.
    let bytes = classical_with.encode();
    assert_eq!(bytes.len(), CLASSICAL_WITH);
    assert_eq!(bytes[CLASSICAL_OPK_FLAG], 1);
    assert_eq!((opk_id(&bytes), opk(&bytes)), (135..139, 139..171));
    assert_eq!(bytes[opk_id(&bytes)], classical_otp.id.to_be_bytes());
    assert_eq!(bytes[opk(&bytes)], classical_otp.key);
    assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), classical_with);

    // A session started from the decoded bundle uses both one-time prekeys; they are
    // deleted when (and only when) the first message decrypts.
    let mut alice = Party::new(8);
    alice.initiate(&decoded);
    let first = alice.send(b"with a one-time prekey");
    let mut tampered = first.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let before = bob.snapshot();
    assert_eq!(
        bob.receive(&tampered).map(|d| d.plaintext),
        Err(Error::Decrypt(DecryptError::BodyAuthentication))
    );
    assert!(bob.snapshot() == before);
    assert_eq!(bob.account.one_time_prekeys(), vec![otp, classical_otp]);
    assert_eq!(bob.account.one_time_kem_prekey_count(), 1);
    let got = bob.receive(&first).unwrap();
    assert_eq!(got.plaintext, b"with a one-time prekey");
    assert!(got.new_session);
    assert!(bob.peer.active().unwrap().is_post_quantum());
    assert_eq!(bob.account.one_time_prekeys(), vec![classical_otp]);
    assert_eq!(bob.account.one_time_kem_prekey_count(), 0);

    // A second session to the same (now used) prekeys is refused; the one-time prekey is
    // looked up before the KEM prekey.
    let mut carol = Party::new(9);
    carol.initiate(&decoded);
    let env = carol.send(b"same prekey");
    let mut bob_for_carol = PeerSessions::new(Limits::default());
    assert_eq!(
        bob_for_carol.decrypt(&mut bob.account, &env, &mut bob.rng),
        Err(Error::Handshake(HandshakeError::UnknownOneTimePrekey))
    );
}

#[test]
fn every_signature_bit_flip_is_rejected() {
    let d = device(7);
    for bundle in d.all() {
        let bytes = bundle.encode();
        for bit in 0..512 {
            let mut flipped = bytes.clone();
            flipped[SIGNATURE.start + bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                PrekeyBundle::decode(&flipped),
                Err(Error::Key(KeyError::BadSignature)),
                "bit {bit}"
            );
        }
        assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), *bundle);
    }
}

/// docs/PROTOCOL.md, section 4.1: the KEM prekey is signed; no flipped signature bit, of
/// the last-resort or of a one-time KEM prekey, goes unnoticed.
#[test]
fn every_kem_signature_bit_flip_is_rejected() {
    let d = device(7);
    for bundle in d.post_quantum() {
        let bytes = bundle.encode();
        let kem = bundle.kem_prekey().unwrap();
        for bit in 0..512 {
            let mut flipped = bytes.clone();
            flipped[KEM_SIGNATURE.start + bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                PrekeyBundle::decode(&flipped),
                Err(Error::Key(KeyError::BadSignature)),
                "bit {bit} of a KEM prekey (one-time: {})",
                kem.one_time
            );
            let mut signature = kem.signature;
            signature[bit / 8] ^= 1 << (bit % 8);
            let bad = KemPrekeyPublic {
                signature,
                ..kem.clone()
            };
            assert_eq!(
                bad.verify(bundle.identity()),
                Err(Error::Key(KeyError::BadSignature)),
                "bit {bit}"
            );
            assert_eq!(
                PrekeyBundle::new(
                    bundle.identity().clone(),
                    bundle.signed_prekey().clone(),
                    Some(bad),
                    bundle.one_time_prekey().copied()
                ),
                Err(Error::Key(KeyError::BadSignature)),
                "bit {bit}"
            );
        }
        assert_eq!(PrekeyBundle::decode(&bytes).unwrap(), *bundle);
    }
}

#[test]
fn signature_covers_identity_id_and_key() {
    let bob = device(7);
    let carol = device(8);
    let carol_key = carol.party.account.identity_key();
    let carol_bundle = &carol.without;
    for bundle in bob.all() {
        // Bob's signed prekey presented under Carol's identity.
        let mut bytes = bundle.encode();
        bytes[IK].copy_from_slice(carol_key.as_bytes());
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        assert_eq!(
            PrekeyBundle::new(carol_key.clone(), bundle.signed_prekey().clone(), None, None),
            Err(Error::Key(KeyError::BadSignature))
        );
        // Another id.
        let mut bytes = bundle.encode();
        bytes[SPK_ID].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        // Another (valid) key: Carol's signed prekey with Bob's signature.
        let mut bytes = bundle.encode();
        bytes[SPK].copy_from_slice(&carol_bundle.signed_prekey().key);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        // Carol's signature on Bob's key.
        let mut bytes = bundle.encode();
        bytes[SIGNATURE].copy_from_slice(&carol_bundle.signed_prekey().signature);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
    }
    // Carol's whole signed prekey under Carol's identity is fine, under Bob's it is not.
    assert!(
        PrekeyBundle::new(
            carol_key.clone(),
            carol_bundle.signed_prekey().clone(),
            None,
            None
        )
        .is_ok()
    );
    assert_eq!(
        PrekeyBundle::new(
            bob.party.account.identity_key().clone(),
            carol_bundle.signed_prekey().clone(),
            None,
            None
        ),
        Err(Error::Key(KeyError::BadSignature))
    );
    // The one-time prekey is not signed: swapping it for another valid key is accepted.
    for bundle in [&bob.with, &bob.classical_with] {
        let mut bytes = bundle.encode();
        let at = opk(&bytes);
        bytes[at].copy_from_slice(&carol_bundle.signed_prekey().key);
        assert!(PrekeyBundle::decode(&bytes).is_ok());
    }
}

/// The KEM prekey's signature covers the identity, the id, the kind and the key.
#[test]
fn kem_signature_covers_identity_id_kind_and_key() {
    let bob = device(7);
    let carol = device(8);
    let bob_key = bob.party.account.identity_key();
    let carol_key = carol.party.account.identity_key();
    for (bundle, carols) in [(&bob.without, &carol.without), (&bob.with, &carol.with)] {
        let kem = bundle.kem_prekey().unwrap();
        let carol_kem = carols.kem_prekey().unwrap();
        assert_eq!((kem.id, kem.one_time), (carol_kem.id, carol_kem.one_time));

        // A KEM prekey signed by another identity: Carol's (valid, Carol-signed) KEM prekey
        // in Bob's bundle, with Bob's valid signed prekey.
        let mut bytes = bundle.encode();
        bytes[KEM_KEY].copy_from_slice(&carol_kem.key);
        bytes[KEM_SIGNATURE].copy_from_slice(&carol_kem.signature);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        assert_eq!(
            PrekeyBundle::new(
                bob_key.clone(),
                bundle.signed_prekey().clone(),
                Some(carol_kem.clone()),
                None
            ),
            Err(Error::Key(KeyError::BadSignature))
        );
        assert_eq!(carol_kem.verify(bob_key), Err(Error::Key(KeyError::BadSignature)));
        assert_eq!(carol_kem.verify(carol_key), Ok(()));
        // Bob's KEM prekey next to Carol's identity and signed prekey.
        assert_eq!(
            PrekeyBundle::new(
                carol_key.clone(),
                carols.signed_prekey().clone(),
                Some(kem.clone()),
                None
            ),
            Err(Error::Key(KeyError::BadSignature))
        );
        assert!(
            PrekeyBundle::new(
                carol_key.clone(),
                carols.signed_prekey().clone(),
                Some(carol_kem.clone()),
                None
            )
            .is_ok()
        );
        // Carol's signature on Bob's KEM key.
        let mut bytes = bundle.encode();
        bytes[KEM_SIGNATURE].copy_from_slice(&carol_kem.signature);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        // Another (valid) key: Carol's KEM key with Bob's signature.
        let mut bytes = bundle.encode();
        bytes[KEM_KEY].copy_from_slice(&carol_kem.key);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
        // Another id, every bit of it.
        for bit in 0..32 {
            let mut bytes = bundle.encode();
            bytes[KEM_ID.start + bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                PrekeyBundle::decode(&bytes),
                Err(Error::Key(KeyError::BadSignature)),
                "id bit {bit}"
            );
        }
        // The signed prekey's signature in the KEM signature's place: the labels differ.
        let mut bytes = bundle.encode();
        bytes[KEM_SIGNATURE].copy_from_slice(&bundle.signed_prekey().signature);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
    }
}

/// The kind (last-resort or one-time) is signed: a one-time KEM prekey cannot be passed
/// off as the last-resort one (which a device keeps answering), nor the other way round.
#[test]
fn kem_prekey_kind_is_signed() {
    let d = device(7);
    for bundle in d.post_quantum() {
        let kem = bundle.kem_prekey().unwrap();
        let mut bytes = bundle.encode();
        assert_eq!(bytes[KEM_KIND], u8::from(kem.one_time));
        bytes[KEM_KIND] ^= 1;
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature)),
            "one-time {} presented as one-time {}",
            kem.one_time,
            !kem.one_time
        );
        let swapped = KemPrekeyPublic {
            one_time: !kem.one_time,
            ..kem.clone()
        };
        assert_eq!(
            swapped.verify(bundle.identity()),
            Err(Error::Key(KeyError::BadSignature))
        );
        assert_eq!(
            d.party.account.prekey_bundle(None, Some(swapped)),
            Err(Error::Key(KeyError::BadSignature))
        );
    }
    // The server's choices: with a one-time KEM prekey or with the last-resort one.
    let kem = d.with.kem_prekey().unwrap().clone();
    let bundle = d.party.account.prekey_bundle(None, Some(kem.clone())).unwrap();
    assert_eq!(bundle.kem_prekey(), Some(&kem));
    let bundle = d.party.account.prekey_bundle(None, None).unwrap();
    assert_eq!(
        bundle.kem_prekey(),
        Some(&d.party.account.last_resort_kem_prekey())
    );
}

#[test]
fn invalid_x25519_prekeys_are_rejected() {
    let d = device(7);
    let (without, with) = (&d.without, &d.with);
    let spk = without.signed_prekey().clone();
    let kem = without.kem_prekey().cloned();
    let otp = *with.one_time_prekey().unwrap();
    for (what, key) in bad_x25519_keys(&spk.key) {
        // As the signed prekey: the key is checked before the signatures, so the (now
        // wrong) signature does not matter.
        let bad_spk = SignedPrekeyPublic { key, ..spk.clone() };
        for kem in [kem.clone(), None] {
            assert_eq!(
                PrekeyBundle::new(without.identity().clone(), bad_spk.clone(), kem, None),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "signed prekey {what}"
            );
        }
        for bundle in [without, &d.classical] {
            let mut bytes = bundle.encode();
            bytes[SPK].copy_from_slice(&key);
            assert_eq!(
                PrekeyBundle::decode(&bytes),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "signed prekey {what}"
            );
        }

        // As the one-time prekey, next to a valid signed prekey.
        let bad_otp = OneTimePrekeyPublic { id: otp.id, key };
        for kem in [kem.clone(), None] {
            assert_eq!(
                PrekeyBundle::new(without.identity().clone(), spk.clone(), kem, Some(bad_otp)),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "one-time prekey {what}"
            );
        }
        for bundle in [with, &d.classical_with] {
            let mut bytes = bundle.encode();
            let at = opk(&bytes);
            bytes[at].copy_from_slice(&key);
            assert_eq!(
                PrekeyBundle::decode(&bytes),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "one-time prekey {what}"
            );
        }
    }
    // Control: the base point u = 9 is a valid key, so only the signature fails.
    let nine = le(9, 0, 0);
    for bundle in d.all() {
        let mut bytes = bundle.encode();
        bytes[SPK].copy_from_slice(&nine);
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::BadSignature))
        );
    }
    for bundle in [with, &d.classical_with] {
        let mut bytes = bundle.encode();
        let at = opk(&bytes);
        bytes[at].copy_from_slice(&nine);
        assert!(PrekeyBundle::decode(&bytes).is_ok());
    }
}

/// docs/PROTOCOL.md, section 2.4: an encapsulation key is accepted only if every
/// coefficient is below q; it is checked before any signature.
#[test]
fn invalid_kem_keys_are_rejected() {
    let d = device(7);
    for bundle in d.post_quantum() {
        let kem = bundle.kem_prekey().unwrap().clone();
        let with_key = |key: Vec<u8>| KemPrekeyPublic { key, ..kem.clone() };
        let build = |key: Vec<u8>| {
            PrekeyBundle::new(
                bundle.identity().clone(),
                bundle.signed_prekey().clone(),
                Some(with_key(key)),
                bundle.one_time_prekey().copied(),
            )
        };
        let decode = |key: &[u8]| {
            let mut bytes = bundle.encode();
            bytes[KEM_KEY].copy_from_slice(key);
            PrekeyBundle::decode(&bytes)
        };

        // All 0xFF: every coefficient is 4095.
        let ones = vec![0xffu8; 1184];
        assert_eq!(coefficient(&ones, 0), 4095);
        assert_eq!(decode(&ones), Err(Error::Key(KeyError::InvalidPublicKey)));
        assert_eq!(build(ones.clone()), Err(Error::Key(KeyError::InvalidPublicKey)));
        // Checked before the signatures: with a broken signature too, still the key.
        let mut bytes = bundle.encode();
        bytes[KEM_KEY].copy_from_slice(&ones);
        bytes[KEM_SIGNATURE.start] ^= 1;
        bytes[SIGNATURE.start] ^= 1;
        assert_eq!(
            PrekeyBundle::decode(&bytes),
            Err(Error::Key(KeyError::InvalidPublicKey))
        );

        // One coefficient out of range, at every position: q and 4095 are refused; q - 1
        // is a valid key, so only the signature fails.
        for i in 0..COEFFICIENTS {
            for (value, expected) in [
                (Q, Error::Key(KeyError::InvalidPublicKey)),
                (4095, Error::Key(KeyError::InvalidPublicKey)),
                (Q - 1, Error::Key(KeyError::BadSignature)),
            ] {
                let mut key = kem.key.clone();
                if coefficient(&key, i) == value {
                    continue;
                }
                set_coefficient(&mut key, i, value);
                assert_eq!(coefficient(&key, i), value);
                assert_eq!(decode(&key), Err(expected.clone()), "coefficient {i} = {value}");
            }
        }
        let mut key = kem.key.clone();
        set_coefficient(&mut key, COEFFICIENTS - 1, Q);
        assert_eq!(build(key), Err(Error::Key(KeyError::InvalidPublicKey)));

        // rho (the last 32 bytes) is any value: a changed one is a valid key.
        let mut key = kem.key.clone();
        key[1183] ^= 0x80;
        assert_eq!(decode(&key), Err(Error::Key(KeyError::BadSignature)));
        assert_eq!(build(key), Err(Error::Key(KeyError::BadSignature)));

        // Wrong lengths (only possible through `PrekeyBundle::new`).
        for len in [0, 1, 1183, 1185, 2 * 1184] {
            let mut key = kem.key.clone();
            key.resize(len, 0);
            assert_eq!(
                build(key),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "length {len}"
            );
        }
        assert_eq!(build(kem.key.clone()), Ok(bundle.clone()));
    }
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
    let d = device(7);
    for (what, key) in keys {
        assert_eq!(
            IdentityKey::from_bytes(&key),
            Err(Error::Key(KeyError::InvalidPublicKey)),
            "{what} {key:02x?}"
        );
        for bundle in d.all() {
            let mut bytes = bundle.encode();
            bytes[IK].copy_from_slice(&key);
            assert_eq!(
                PrekeyBundle::decode(&bytes),
                Err(Error::Key(KeyError::InvalidPublicKey)),
                "{what}"
            );
        }
    }
    // Control: y = 3 and y = 4 canonically encoded are points of large order and are
    // accepted, so p + 3 and p + 4 above were refused for being non-canonical.
    for y in [3u8, 4] {
        let key = le(y, 0, 0);
        assert_eq!(IdentityKey::from_bytes(&key).unwrap().to_bytes(), key);
    }
    // A real identity round-trips.
    let real = d.without.identity().to_bytes();
    assert_eq!(IdentityKey::from_bytes(&real).unwrap(), *d.without.identity());
}

#[test]
fn wrong_version_is_rejected() {
    let d = device(7);
    for bundle in d.all() {
        let bytes = bundle.encode();
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
    let d = device(7);
    for bundle in d.all() {
        let bytes = bundle.encode();
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
    let d = device(7);
    // Trailing bytes up to the longest length (MAX_LEN) are trailing bytes; beyond it, the
    // input is oversize before anything is read.
    for bundle in d.all() {
        let bytes = bundle.encode();
        let room = MAX - bytes.len();
        let extras = (1..=64).chain([room, room + 1, room + 64]);
        for extra in extras.filter(|&e| e > 0) {
            for fill in [0u8, 1, 0xff] {
                let mut b = bytes.clone();
                b.extend(std::iter::repeat_n(fill, extra));
                let expected = if bytes.len() + extra <= MAX {
                    DecodeError::TrailingBytes
                } else {
                    DecodeError::Oversize
                };
                assert_eq!(
                    PrekeyBundle::decode(&b),
                    Err(Error::Decode(expected)),
                    "{extra} bytes after {}",
                    bytes.len()
                );
                assert_eq!(BundleFields::decode(&b), Err(expected));
            }
        }
    }
    // With a one-time prekey and a KEM prekey, any extra byte makes it oversize.
    assert_eq!(d.with.encode().len(), MAX);
    // Oversize is checked before the version.
    let mut b = vec![0u8; MAX + 1];
    b[0] = 9;
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::Oversize))
    );
}

#[test]
fn invalid_flag_is_rejected() {
    let d = device(7);
    for bundle in d.all() {
        let bytes = bundle.encode();
        let mut positions = vec![("one-time prekey flag", opk_flag(&bytes)), ("KEM flag", KEM_FLAG)];
        if bundle.is_post_quantum() {
            positions.push(("KEM kind", KEM_KIND));
        }
        for (what, at) in positions {
            for flag in 2..=255u8 {
                let mut b = bytes.clone();
                b[at] = flag;
                assert_eq!(
                    PrekeyBundle::decode(&b),
                    Err(Error::Decode(DecodeError::InvalidFlag)),
                    "{what} {flag} in a {}-byte bundle",
                    bytes.len()
                );
            }
        }
    }
    // One-time prekey flag and length disagree.
    for bundle in [&d.without, &d.classical] {
        let mut b = bundle.encode();
        let at = opk_flag(&b);
        b[at] = 1;
        assert_eq!(
            PrekeyBundle::decode(&b),
            Err(Error::Decode(DecodeError::Truncated))
        );
    }
    for bundle in [&d.with, &d.classical_with] {
        let mut b = bundle.encode();
        let at = opk_flag(&b);
        b[at] = 0;
        assert_eq!(
            PrekeyBundle::decode(&b),
            Err(Error::Decode(DecodeError::TrailingBytes))
        );
    }
    // KEM flag and length disagree. Cleared in a post-quantum bundle: the first byte of
    // the KEM id (0) is read as the one-time prekey flag, and the rest trails.
    for bundle in d.post_quantum() {
        let mut b = bundle.encode();
        assert_eq!(b[KEM_ID.start], 0);
        b[KEM_FLAG] = 0;
        assert_eq!(
            PrekeyBundle::decode(&b),
            Err(Error::Decode(DecodeError::TrailingBytes))
        );
    }
    // Set in a classical bundle without a one-time prekey: the KEM id is cut short.
    let mut b = d.classical.encode();
    b[KEM_FLAG] = 1;
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::Truncated))
    );
    // Set in a classical bundle with one: the KEM kind is read from the last byte of the
    // one-time prekey id (5), an invalid flag.
    let mut b = d.classical_with.encode();
    b[KEM_FLAG] = 1;
    assert_eq!(b[KEM_KIND], 5);
    assert_eq!(
        PrekeyBundle::decode(&b),
        Err(Error::Decode(DecodeError::InvalidFlag))
    );
}

#[test]
fn fresh_account_bundle_verifies() {
    let mut rng = rng(42);
    let mut account = Account::new(&mut rng, 5);
    assert_eq!(account.signed_prekey().id, 1);
    assert_eq!(account.last_resort_kem_prekey().id, 2);
    let otps = account.generate_one_time_prekeys(3, &mut rng);
    assert_eq!(otps.iter().map(|p| p.id).collect::<Vec<_>>(), vec![3, 4, 5]);
    let kems = account.generate_one_time_kem_prekeys(2, &mut rng);
    assert_eq!(kems.iter().map(|p| p.id).collect::<Vec<_>>(), vec![6, 7]);
    assert!(
        kems.iter()
            .all(|k| k.one_time && k.verify(account.identity_key()).is_ok())
    );
    assert_eq!(account.one_time_kem_prekey_count(), 2);
    for otp in otps.iter().copied().map(Some).chain([None]) {
        for kem in kems.iter().cloned().map(Some).chain([None]) {
            let bundle = account.prekey_bundle(otp, kem).unwrap();
            assert!(bundle.is_post_quantum());
            assert_eq!(PrekeyBundle::decode(&bundle.encode()).unwrap(), bundle);
        }
        let bundle = account.classical_prekey_bundle(otp).unwrap();
        assert_eq!(PrekeyBundle::decode(&bundle.encode()).unwrap(), bundle);
    }
    let old_kem = account.last_resort_kem_prekey();
    let rotated = account.rotate_signed_prekey(&mut rng, 6);
    assert_eq!(rotated.id, 8);
    let kem = account.last_resort_kem_prekey();
    assert_eq!((kem.id, kem.one_time), (9, false));
    assert_ne!(kem.key, old_kem.key);
    let bundle = account.prekey_bundle(None, None).unwrap();
    assert_eq!(bundle.signed_prekey(), &rotated);
    assert_eq!(bundle.kem_prekey(), Some(&kem));
    assert_eq!(PrekeyBundle::decode(&bundle.encode()).unwrap(), bundle);
    // One-time KEM prekeys outlive the rotation.
    assert_eq!(account.one_time_kem_prekey_count(), 2);
}
