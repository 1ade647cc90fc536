//! The account formats of docs/PROTOCOL.md, section 13: the worked examples of the device
//! list (13.1) and of the link code and confirmation code (13.4), recomputed from the
//! inputs the document gives, and the strict decoders, rule by rule.
//!
//! Every `name = value` line of those examples must equal what this code computes, and
//! every value computed here must be in the document, so the spec cannot drift from the
//! code. The encodings are also rebuilt by hand from the spec's field list and signed with
//! `ed25519-dalek` directly, so the document, the library and an independent encoder agree.
//! A failing comparison prints the block to paste into the document.

use ed25519_dalek::{Signer, SigningKey};
use hemlis::{DecodeError, DeviceList, Error, KeyError, LinkCode, kat};
use hemlis_test::hex::{hex, hex32, unhex};
use sha2::{Digest, Sha256};

const LIST_LABEL: &[u8] = b"hemlis/v1/device-list";
const CONFIRM_LABEL: &[u8] = b"hemlis/v1/link-confirm";

// ---------------------------------------------------------------------------------------
// The documented examples
// ---------------------------------------------------------------------------------------

/// The `name = value` lines of the code blocks that follow "Worked example" in one
/// subsection of docs/PROTOCOL.md (from its `### ` heading to the next heading); a value
/// may continue on following lines indented by four spaces.
fn documented(heading: &str) -> Vec<(String, String)> {
    let doc = include_str!("../../docs/PROTOCOL.md");
    let start = doc
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("docs/PROTOCOL.md has `{heading}`"))
        + 1;
    let section = &doc[start..];
    let end = section[4..]
        .find("\n### ")
        .into_iter()
        .chain(section[4..].find("\n## "))
        .min()
        .map_or(section.len(), |e| e + 4);
    let section = &section[..end];
    let example = section
        .find("Worked example")
        .unwrap_or_else(|| panic!("`{heading}` has a worked example"));
    let mut out: Vec<(String, String)> = Vec::new();
    let mut in_block = false;
    for line in section[example..].lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let trimmed = line.trim();
        if let Some((name, value)) = trimmed.split_once(" = ") {
            out.push((name.trim().to_owned(), value.trim().to_owned()));
        } else if line.starts_with("    ")
            && !trimmed.is_empty()
            && trimmed.chars().all(|c| c.is_ascii_alphanumeric())
            && let Some(last) = out.last_mut()
        {
            last.1.push_str(trimmed);
        }
    }
    out
}

/// The value named `name` in `values`.
fn value<'a>(values: &'a [(String, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("the example names `{name}`"))
}

/// The block as the document writes it: values over 64 characters continue on lines
/// indented by four spaces.
fn render(values: &[(String, String)]) -> String {
    let mut s = String::new();
    for (name, value) in values {
        let mut chunks = value.as_bytes().chunks(64);
        let first = std::str::from_utf8(chunks.next().unwrap_or_default()).unwrap();
        s.push_str(&format!("{name} = {first}\n"));
        for c in chunks {
            s.push_str(&format!("    {}\n", std::str::from_utf8(c).unwrap()));
        }
    }
    s
}

fn assert_documented(heading: &str, computed: &[(String, String)]) {
    let documented = documented(heading);
    assert!(
        documented == computed,
        "docs/PROTOCOL.md `{heading}` differs from the code; the block should read:\n{}",
        render(computed)
    );
}

fn seed(s: &str) -> [u8; 32] {
    hex32(s)
}

/// The list body of the spec's field list, built by hand: `0x01 || user length || user ||
/// version || timestamp || account key || count || count x (id || identity key)`.
fn body(
    user: &[u8],
    version: u64,
    timestamp: u64,
    account: &[u8; 32],
    devices: &[(u32, [u8; 32])],
) -> Vec<u8> {
    let mut b = vec![1u8, u8::try_from(user.len()).unwrap()];
    b.extend_from_slice(user);
    b.extend_from_slice(&version.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(account);
    b.extend_from_slice(&u16::try_from(devices.len()).unwrap().to_be_bytes());
    for (id, key) in devices {
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(key);
    }
    b
}

/// `body || Ed25519 signature by the key of seed over "hemlis/v1/device-list" || body`,
/// signed without the library.
fn signed(account_seed: &[u8; 32], body: &[u8]) -> Vec<u8> {
    let key = SigningKey::from_bytes(account_seed);
    let signature = key.sign(&[LIST_LABEL, body].concat());
    [body, &signature.to_bytes()[..]].concat()
}

/// The 13.1 example, computed from the inputs the document gives (the seeds, the user,
/// the version, the timestamp, the device ids), in document order.
fn compute_list_example() -> Vec<(String, String)> {
    let doc = documented("### 13.1");
    let account_seed = seed(value(&doc, "account.seed"));
    let user = value(&doc, "user").to_owned();
    let version: u64 = value(&doc, "version").parse().unwrap();
    let timestamp: u64 = value(&doc, "timestamp").parse().unwrap();
    let d1: u32 = value(&doc, "device1.id").parse().unwrap();
    let d1_seed = seed(value(&doc, "device1.seed"));
    let d2: u32 = value(&doc, "device2.id").parse().unwrap();
    let d2_seed = seed(value(&doc, "device2.seed"));

    let account = kat::identity_public(account_seed);
    let (k1, k2) = (kat::identity_public(d1_seed), kat::identity_public(d2_seed));
    let devices = [(d1, k1), (d2, k2)];
    let list =
        kat::sign_device_list(account_seed, &user, version, timestamp, &devices).expect("a valid list");

    // The same bytes from the spec's field list and a signer outside the library.
    let by_hand = body(user.as_bytes(), version, timestamp, &account, &devices);
    assert_eq!(
        hex(&signed(&account_seed, &by_hand)),
        hex(&list),
        "the library encodes the spec's field list"
    );
    assert_eq!(list.len(), by_hand.len() + 64);
    let (body, signature) = list.split_at(list.len() - 64);

    let s = |x: &str| x.to_owned();
    vec![
        (s("account.seed"), hex(&account_seed)),
        (s("account.key"), hex(&account)),
        (s("user"), user.clone()),
        (s("version"), version.to_string()),
        (s("timestamp"), timestamp.to_string()),
        (s("device1.id"), d1.to_string()),
        (s("device1.seed"), hex(&d1_seed)),
        (s("device1.identity"), hex(&k1)),
        (s("device2.id"), d2.to_string()),
        (s("device2.seed"), hex(&d2_seed)),
        (s("device2.identity"), hex(&k2)),
        (s("body"), hex(body)),
        (s("signature"), hex(signature)),
        (s("list"), hex(&list)),
    ]
}

/// The 13.4 example: the link code of a new device and the confirmation code when device
/// 1 of the 13.1 example links it.
fn compute_link_example() -> Vec<(String, String)> {
    let lists = documented("### 13.1");
    let account = kat::identity_public(seed(value(&lists, "account.seed")));
    let provisioner = kat::identity_public(seed(value(&lists, "device1.seed")));
    let doc = documented("### 13.4");
    let user = value(&doc, "link.user").to_owned();
    let device: u32 = value(&doc, "link.device").parse().unwrap();
    let identity_seed = seed(value(&doc, "link.identity_seed"));
    let secret: [u8; 16] = unhex(value(&doc, "link.secret")).try_into().expect("16 bytes");
    let identity = kat::identity_public(identity_seed);

    let code = kat::link_code(&user, device, identity, secret).expect("a valid code");
    let bytes = code.to_bytes();
    let by_hand = [
        &[1u8, u8::try_from(user.len()).unwrap()][..],
        user.as_bytes(),
        &device.to_be_bytes(),
        &identity,
        &secret,
    ]
    .concat();
    assert_eq!(
        hex(&bytes),
        hex(&by_hand),
        "the library encodes the spec's field list"
    );
    let text = code.to_text();
    assert_eq!(
        text,
        data_encoding::BASE32_NOPAD.encode(&by_hand),
        "RFC 4648 base32, no padding"
    );

    let hash = Sha256::digest([CONFIRM_LABEL, &secret, &account, &provisioner, &identity].concat());
    let n = u32::from_be_bytes(hash[..4].try_into().unwrap());
    let confirmation =
        kat::link_confirmation_code(secret, account, provisioner, identity).expect("valid keys");
    assert_eq!(
        confirmation,
        format!("{:06}", n % 1_000_000),
        "the spec's formula"
    );

    let s = |x: &str| x.to_owned();
    vec![
        (s("link.user"), user),
        (s("link.device"), device.to_string()),
        (s("link.identity_seed"), hex(&identity_seed)),
        (s("link.identity"), hex(&identity)),
        (s("link.secret"), hex(&secret)),
        (s("link_code"), hex(&bytes)),
        (s("link_code.text"), text),
        (s("confirmation.hash"), hex(&hash)),
        (s("confirmation"), confirmation),
    ]
}

#[test]
fn protocol_md_device_list_example_matches_the_code() {
    assert_documented("### 13.1", &compute_list_example());
}

#[test]
fn protocol_md_link_example_matches_the_code() {
    assert_documented("### 13.4", &compute_link_example());
}

#[test]
fn the_documented_list_decodes_to_its_inputs() {
    let doc = documented("### 13.1");
    let bytes = unhex(value(&doc, "list"));
    let list = DeviceList::decode(&bytes).expect("the example decodes");
    assert_eq!(list.user(), value(&doc, "user"));
    assert_eq!(list.version().to_string(), value(&doc, "version"));
    assert_eq!(list.timestamp().to_string(), value(&doc, "timestamp"));
    assert_eq!(hex(list.account_key().as_bytes()), value(&doc, "account.key"));
    let devices: Vec<(String, String)> = list
        .devices()
        .map(|(id, key)| (id.to_string(), hex(key.as_bytes())))
        .collect();
    let expected: Vec<(String, String)> = ["device1", "device2"]
        .iter()
        .map(|d| {
            (
                value(&doc, &format!("{d}.id")).to_owned(),
                value(&doc, &format!("{d}.identity")).to_owned(),
            )
        })
        .collect();
    assert_eq!(devices, expected);
    let first: u32 = value(&doc, "device1.id").parse().unwrap();
    assert_eq!(
        list.identity_of(first).map(|k| hex(k.as_bytes())).as_deref(),
        Some(value(&doc, "device1.identity"))
    );
    assert_eq!(list.identity_of(u32::MAX), None);
    assert_eq!(list.encode(), bytes, "decode and encode round-trip");
}

// ---------------------------------------------------------------------------------------
// The device list decoder, rule by rule (13.1)
// ---------------------------------------------------------------------------------------

const ACCOUNT: [u8; 32] = [0xa1; 32];
const OTHER_ACCOUNT: [u8; 32] = [0xa2; 32];

fn key(n: u8) -> [u8; 32] {
    kat::identity_public([n; 32])
}

fn account_key() -> [u8; 32] {
    kat::identity_public(ACCOUNT)
}

/// A well-formed two-device list of "bob", version 2.
fn example() -> Vec<u8> {
    kat::sign_device_list(ACCOUNT, "bob", 2, 1_700_000_000, &[(1, key(1)), (2, key(2))]).unwrap()
}

/// A list whose body is `devices` as given (in that order), validly signed: only the
/// rule the test breaks is broken.
fn list_with_devices(devices: &[(u32, [u8; 32])]) -> Vec<u8> {
    signed(&ACCOUNT, &body(b"bob", 2, 7, &account_key(), devices))
}

fn decode_err(bytes: &[u8]) -> Error {
    DeviceList::decode(bytes).expect_err("refused")
}

/// An Ed25519 encoding that is not a valid identity key: the neutral point (small order).
const NEUTRAL: [u8; 32] = {
    let mut k = [0u8; 32];
    k[0] = 1;
    k
};

/// A non-canonical encoding: y = p = 2^255 - 19 (reduces to y = 0).
const Y_IS_P: [u8; 32] = {
    let mut k = [0xff; 32];
    k[0] = 0xed;
    k[31] = 0x7f;
    k
};

#[test]
fn the_library_and_the_hand_encoding_agree() {
    let devices = [(1, key(1)), (2, key(2))];
    assert_eq!(
        example(),
        signed(
            &ACCOUNT,
            &body(b"bob", 2, 1_700_000_000, &account_key(), &devices)
        )
    );
    // The signer sorts by id: the input order does not matter.
    let reversed = kat::sign_device_list(ACCOUNT, "bob", 2, 1_700_000_000, &[(2, key(2)), (1, key(1))]);
    assert_eq!(reversed, Some(example()));
}

#[test]
fn every_truncation_of_a_list_is_truncated() {
    for list in [example(), list_with_devices(&[(9, key(9))])] {
        for len in 0..list.len() {
            assert_eq!(
                decode_err(&list[..len]),
                Error::Decode(DecodeError::Truncated),
                "{len} of {} bytes",
                list.len()
            );
        }
        assert!(DeviceList::decode(&list).is_ok());
    }
}

#[test]
fn a_trailing_byte_is_refused() {
    for extra in [&[0u8][..], &[0xff], &[0; 64]] {
        let list = [&example()[..], extra].concat();
        assert_eq!(decode_err(&list), Error::Decode(DecodeError::TrailingBytes));
    }
}

#[test]
fn a_format_byte_other_than_1_is_refused() {
    for format in [0u8, 2, 0x80, 0xff] {
        let mut b = body(b"bob", 2, 7, &account_key(), &[(1, key(1))]);
        b[0] = format;
        assert_eq!(
            decode_err(&signed(&ACCOUNT, &b)),
            Error::Decode(DecodeError::UnsupportedVersion(format))
        );
    }
}

#[test]
fn an_invalid_user_id_is_refused() {
    let devices = [(1, key(1))];
    for user in [
        &b""[..],
        &[b'a'; 129],
        &[0xff],
        &[b'b', 0xc3],
        &[0xed, 0xa0, 0x80],
    ] {
        let list = signed(&ACCOUNT, &body(user, 2, 7, &account_key(), &devices));
        assert_eq!(
            decode_err(&list),
            Error::Decode(DecodeError::InvalidAddress),
            "user {user:?}"
        );
        // The signer refuses the same user ids.
        if let Ok(user) = std::str::from_utf8(user) {
            assert_eq!(kat::sign_device_list(ACCOUNT, user, 2, 7, &devices), None);
        }
    }
    // The limits themselves are accepted: 1 and 128 bytes, any UTF-8.
    for user in ["b", &"a".repeat(128), &"é".repeat(64)] {
        let list = kat::sign_device_list(ACCOUNT, user, 2, 7, &devices).unwrap();
        assert_eq!(DeviceList::decode(&list).unwrap().user(), user);
    }
}

#[test]
fn a_list_without_devices_is_not_canonical() {
    assert_eq!(
        decode_err(&list_with_devices(&[])),
        Error::Decode(DecodeError::NotCanonical)
    );
    assert_eq!(kat::sign_device_list(ACCOUNT, "bob", 2, 7, &[]), None);
}

#[test]
fn more_than_64_devices_are_oversize() {
    let devices: Vec<(u32, [u8; 32])> = (0..65u8).map(|i| (u32::from(i), key(i))).collect();
    assert_eq!(
        decode_err(&list_with_devices(&devices)),
        Error::Decode(DecodeError::Oversize)
    );
    assert_eq!(kat::sign_device_list(ACCOUNT, "bob", 2, 7, &devices), None);
    // The count is checked before the room for its entries: a count of 65 with nothing
    // after it is oversize too, and so is the largest count.
    for count in [65u16, u16::MAX] {
        let mut b = body(b"bob", 2, 7, &account_key(), &[]);
        let at = b.len() - 2;
        b[at..].copy_from_slice(&count.to_be_bytes());
        assert_eq!(
            decode_err(&b),
            Error::Decode(DecodeError::Oversize),
            "count {count}"
        );
    }
    // 64 is the limit.
    let list = kat::sign_device_list(ACCOUNT, "bob", 2, 7, &devices[..64]).unwrap();
    assert_eq!(
        DeviceList::decode(&list).unwrap().devices().count(),
        DeviceList::MAX_DEVICES
    );
    assert_eq!(
        DeviceList::decode(&list_with_devices(&devices[..64]))
            .unwrap()
            .devices()
            .count(),
        64
    );
}

#[test]
fn unordered_or_repeated_device_ids_are_not_canonical() {
    for devices in [
        vec![(2, key(2)), (1, key(1))],
        vec![(1, key(1)), (1, key(1))],
        vec![(1, key(1)), (1, key(2))],
        vec![(1, key(1)), (3, key(3)), (2, key(2))],
        vec![(u32::MAX, key(1)), (0, key(2))],
    ] {
        assert_eq!(
            decode_err(&list_with_devices(&devices)),
            Error::Decode(DecodeError::NotCanonical),
            "ids {:?}",
            devices.iter().map(|d| d.0).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        kat::sign_device_list(ACCOUNT, "bob", 2, 7, &[(1, key(1)), (1, key(2))]),
        None
    );
    // The extremes of the id range, ascending, are fine.
    assert!(DeviceList::decode(&list_with_devices(&[(0, key(1)), (u32::MAX, key(2))])).is_ok());
}

#[test]
fn an_invalid_public_key_is_refused() {
    for bad in [NEUTRAL, Y_IS_P] {
        for devices in [vec![(1, bad)], vec![(1, key(1)), (2, bad)]] {
            assert_eq!(
                decode_err(&list_with_devices(&devices)),
                Error::Key(KeyError::InvalidPublicKey)
            );
        }
        assert_eq!(kat::sign_device_list(ACCOUNT, "bob", 2, 7, &[(1, bad)]), None);
        // The account key is checked the same way.
        let b = body(b"bob", 2, 7, &bad, &[(1, key(1))]);
        assert_eq!(
            decode_err(&signed(&ACCOUNT, &b)),
            Error::Key(KeyError::InvalidPublicKey)
        );
    }
}

#[test]
fn every_flipped_signature_bit_is_a_bad_signature() {
    let list = example();
    for bit in (list.len() - 64) * 8..list.len() * 8 {
        let mut flipped = list.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            decode_err(&flipped),
            Error::Key(KeyError::BadSignature),
            "bit {bit}"
        );
    }
}

#[test]
fn a_flipped_body_bit_is_a_bad_signature_or_breaks_a_rule() {
    let list = example();
    // Offsets: format 0, user length 1, user 2..5, version 5..13, timestamp 13..21,
    // account key 21..53, count 53..55, devices 55..127, signature 127..191.
    assert_eq!(list.len(), 191);
    let signature_at = list.len() - 64;
    for bit in 0..signature_at * 8 {
        let mut flipped = list.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let err = decode_err(&flipped);
        let byte = bit / 8;
        // Where a flipped bit still leaves a well-formed body, only the signature catches
        // it: the user's low bits, the version, the timestamp, the ids' low bits (still
        // ascending), any bit of a key that leaves a valid key.
        let expected_here: &[Error] = match byte {
            0 => &[Error::Decode(DecodeError::UnsupportedVersion(
                list[0] ^ (1 << (bit % 8)),
            ))],
            1 => &[
                Error::Decode(DecodeError::Truncated),
                Error::Decode(DecodeError::InvalidAddress),
                Error::Decode(DecodeError::Oversize),
                Error::Decode(DecodeError::NotCanonical),
                Error::Key(KeyError::InvalidPublicKey),
                Error::Key(KeyError::BadSignature),
            ],
            2..=4 if bit % 8 == 7 => &[Error::Decode(DecodeError::InvalidAddress)],
            2..=20 => &[Error::Key(KeyError::BadSignature)],
            53..=54 => &[
                Error::Decode(DecodeError::NotCanonical),
                Error::Key(KeyError::InvalidPublicKey),
                Error::Decode(DecodeError::Oversize),
                Error::Decode(DecodeError::Truncated),
            ],
            _ => &[
                Error::Key(KeyError::InvalidPublicKey),
                Error::Decode(DecodeError::NotCanonical),
                Error::Key(KeyError::BadSignature),
            ],
        };
        assert!(expected_here.contains(&err), "bit {bit} (byte {byte}): {err:?}");
    }
}

#[test]
fn a_signature_by_another_key_is_refused() {
    let devices = [(1, key(1)), (2, key(2))];
    // The body names the account key; another key signed it.
    let b = body(b"bob", 2, 7, &account_key(), &devices);
    assert_eq!(
        decode_err(&signed(&OTHER_ACCOUNT, &b)),
        Error::Key(KeyError::BadSignature)
    );
    // The account key field swapped for the other key under the first key's signature.
    let mut list = kat::sign_device_list(ACCOUNT, "bob", 2, 7, &devices).unwrap();
    list[21..53].copy_from_slice(&kat::identity_public(OTHER_ACCOUNT));
    assert_eq!(decode_err(&list), Error::Key(KeyError::BadSignature));
    // A signature over the body without the domain label is refused.
    let key = SigningKey::from_bytes(&ACCOUNT);
    let unlabelled = [&b[..], &key.sign(&b).to_bytes()[..]].concat();
    assert_eq!(decode_err(&unlabelled), Error::Key(KeyError::BadSignature));
    // And the same body signed as the spec says is accepted.
    assert!(DeviceList::decode(&signed(&ACCOUNT, &b)).is_ok());
}

// ---------------------------------------------------------------------------------------
// The link code (13.4)
// ---------------------------------------------------------------------------------------

fn link_example() -> (Vec<u8>, String) {
    let doc = documented("### 13.4");
    (
        unhex(value(&doc, "link_code")),
        value(&doc, "link_code.text").to_owned(),
    )
}

#[test]
fn the_link_code_round_trips_in_bytes_and_text() {
    let doc = documented("### 13.4");
    let (bytes, text) = link_example();
    let code = LinkCode::from_bytes(&bytes).expect("the example decodes");
    assert_eq!(code.address().user(), value(&doc, "link.user"));
    assert_eq!(code.address().device().to_string(), value(&doc, "link.device"));
    assert_eq!(hex(code.identity().as_bytes()), value(&doc, "link.identity"));
    assert_eq!(code.to_bytes(), bytes);
    assert_eq!(code.to_text(), text);
    assert_eq!(
        LinkCode::from_text(&text).expect("text decodes").to_bytes(),
        bytes
    );
    // Case, spaces, line breaks and dashes are ignored.
    let lower = text.to_ascii_lowercase();
    let groups: Vec<&str> = lower
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let spaced = format!(" {} \n", groups.join("- "));
    assert_eq!(
        LinkCode::from_text(&spaced)
            .expect("grouped text decodes")
            .to_bytes(),
        bytes
    );
    // Debug does not show the secret.
    let secret = value(&doc, "link.secret");
    assert!(!format!("{code:?}").contains(secret));
    // Other codes round-trip too.
    for (user, device) in [("a", 0u32), (&*"é".repeat(64), u32::MAX)] {
        let code = kat::link_code(user, device, key(7), [0x42; 16]).unwrap();
        let again = LinkCode::from_text(&code.to_text()).unwrap();
        assert_eq!(again.to_bytes(), code.to_bytes());
        assert_eq!(again.address(), code.address());
        assert_eq!(again.identity(), code.identity());
    }
}

#[test]
fn the_link_code_decoder_is_strict() {
    let (bytes, _) = link_example();
    let err = |b: &[u8]| LinkCode::from_bytes(b).expect_err("refused");
    for len in 0..bytes.len() {
        assert_eq!(
            err(&bytes[..len]),
            Error::Decode(DecodeError::Truncated),
            "{len} bytes"
        );
    }
    for extra in [&[0u8][..], &[0xff; 16]] {
        assert_eq!(
            err(&[&bytes[..], extra].concat()),
            Error::Decode(DecodeError::TrailingBytes)
        );
    }
    for format in [0u8, 2, 0xff] {
        let mut b = bytes.clone();
        b[0] = format;
        assert_eq!(err(&b), Error::Decode(DecodeError::UnsupportedVersion(format)));
    }
    let code = |user: &[u8], identity: &[u8; 32]| {
        [
            &[1u8, u8::try_from(user.len()).unwrap()][..],
            user,
            &[0, 0, 0, 3],
            identity,
            &[0x5c; 16],
        ]
        .concat()
    };
    for user in [&b""[..], &[b'a'; 129], &[0xff]] {
        assert_eq!(
            err(&code(user, &key(3))),
            Error::Decode(DecodeError::InvalidAddress)
        );
    }
    for bad in [NEUTRAL, Y_IS_P] {
        assert_eq!(err(&code(b"bob", &bad)), Error::Key(KeyError::InvalidPublicKey));
        assert!(kat::link_code("bob", 3, bad, [0; 16]).is_none());
    }
    assert!(LinkCode::from_bytes(&code(b"bob", &key(3))).is_ok());
    // Text that is not base32 (a digit outside 2 to 7, padding, a length no byte string
    // has) is refused; the decoder reports it as a truncated code.
    let text = data_encoding::BASE32_NOPAD.encode(&bytes);
    for bad in [
        format!("{text}1"),
        format!("{text}="),
        format!("0{}", &text[1..]),
        format!("{text}AB"),
    ] {
        assert_eq!(
            LinkCode::from_text(&bad).expect_err("refused"),
            Error::Decode(DecodeError::Truncated),
            "{bad}"
        );
    }
    assert_eq!(
        LinkCode::from_text("").expect_err("refused"),
        Error::Decode(DecodeError::Truncated)
    );
    // Text of a code with a trailing byte decodes as base32 and is refused by the codec.
    let longer = data_encoding::BASE32_NOPAD.encode(&[&bytes[..], &[0]].concat());
    assert_eq!(
        LinkCode::from_text(&longer).expect_err("refused"),
        Error::Decode(DecodeError::TrailingBytes)
    );
}

#[test]
fn the_confirmation_code_binds_every_input() {
    let secret = [0x5c; 16];
    let (account, provisioner, new_device) = (account_key(), key(1), key(3));
    let code = kat::link_confirmation_code(secret, account, provisioner, new_device).unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let mut other_secret = secret;
    other_secret[15] ^= 1;
    for other in [
        kat::link_confirmation_code(other_secret, account, provisioner, new_device),
        kat::link_confirmation_code(
            secret,
            kat::identity_public(OTHER_ACCOUNT),
            provisioner,
            new_device,
        ),
        kat::link_confirmation_code(secret, account, key(2), new_device),
        kat::link_confirmation_code(secret, account, provisioner, key(4)),
        // The two device keys in the other order.
        kat::link_confirmation_code(secret, account, new_device, provisioner),
    ] {
        assert_ne!(other.unwrap(), code);
    }
    assert_eq!(
        kat::link_confirmation_code(secret, NEUTRAL, provisioner, new_device),
        None
    );
}
