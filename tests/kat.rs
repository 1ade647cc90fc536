//! Known-answer tests for every KDF (docs/PROTOCOL.md, section 3): pinned vectors, each
//! also recomputed independently from the raw `hkdf` and `hmac` crates and the labels as
//! written in the spec.

use hemlis::kat;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn arr(s: &str) -> [u8; 32] {
    unhex(s).try_into().unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .unwrap();
    out
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

const A: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const B: &str = "f0e0d0c0b0a090807060504030201000ffeeddccbbaa99887766554433221100";

#[test]
fn kdf_ck_known_answer() {
    let (mk, ck) = kat::kdf_ck(arr(A));
    assert_eq!(mk.to_vec(), hmac(&unhex(A), &[1]));
    assert_eq!(ck.to_vec(), hmac(&unhex(A), &[2]));
    assert_eq!(hex(&mk), KDF_CK_MK);
    assert_eq!(hex(&ck), KDF_CK_CK);
}

#[test]
fn kdf_rk_known_answer() {
    let (rk, ck, nhk) = kat::kdf_rk(arr(A), arr(B));
    let okm = hkdf(&unhex(A), &unhex(B), b"hemlis/v1/root", 96);
    assert_eq!([rk, ck, nhk].concat(), okm);
    assert_eq!(hex(&okm), KDF_RK_OUT);
}

#[test]
fn ratchet_init_known_answer() {
    let (rk, hka, nhkb) = kat::ratchet_init(arr(A));
    let okm = hkdf(&[0; 32], &unhex(A), b"hemlis/v1/ratchet-init", 96);
    assert_eq!([rk, hka, nhkb].concat(), okm);
    assert_eq!(hex(&okm), RATCHET_INIT_OUT);
}

#[test]
fn x3dh_secret_known_answer() {
    let dhs = [arr(A), arr(B), [0x42; 32], [0x24; 32]];
    for (n, expected) in [(3, X3DH_3), (4, X3DH_4)] {
        let mut ikm = vec![0xFF; 32];
        for d in &dhs[..n] {
            ikm.extend_from_slice(d);
        }
        let sk = kat::x3dh_secret(&dhs[..n]);
        assert_eq!(
            sk.to_vec(),
            hkdf(&[0; 32], &ikm, b"hemlis/v1/X3DH/X25519/SHA-256", 32)
        );
        assert_eq!(hex(&sk), expected);
    }
}

#[test]
fn sealed_identity_key_known_answer() {
    let key = kat::sealed_identity_key(arr(A), arr(B), [0x42; 32], [0x24; 32]);
    let info = [
        b"hemlis/v1/sealed-identity".as_slice(),
        &unhex(B),
        &[0x42; 32],
        &[0x24; 32],
    ]
    .concat();
    assert_eq!(key.to_vec(), hkdf(&[0; 32], &unhex(A), &info, 32));
    assert_eq!(hex(&key), SEALED_IDENTITY_KEY);
}

#[test]
#[ignore = "prints the pinned vectors"]
fn print_vectors() {
    let (mk, ck) = kat::kdf_ck(arr(A));
    let (rk, c, n) = kat::kdf_rk(arr(A), arr(B));
    let (r, h, nh) = kat::ratchet_init(arr(A));
    let dhs = [arr(A), arr(B), [0x42; 32], [0x24; 32]];
    println!("const KDF_CK_MK: &str = \"{}\";", hex(&mk));
    println!("const KDF_CK_CK: &str = \"{}\";", hex(&ck));
    println!("const KDF_RK_OUT: &str = \"{}\";", hex(&[rk, c, n].concat()));
    println!(
        "const RATCHET_INIT_OUT: &str = \"{}\";",
        hex(&[r, h, nh].concat())
    );
    println!("const X3DH_3: &str = \"{}\";", hex(&kat::x3dh_secret(&dhs[..3])));
    println!("const X3DH_4: &str = \"{}\";", hex(&kat::x3dh_secret(&dhs)));
    println!(
        "const SEALED_IDENTITY_KEY: &str = \"{}\";",
        hex(&kat::sealed_identity_key(arr(A), arr(B), [0x42; 32], [0x24; 32]))
    );
}
const KDF_CK_MK: &str = "9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7";
const KDF_CK_CK: &str = "4304c22c84a53755ab08ead8d97a8d429be5efa480682d7ad1da27f73e1fbe1d";
const KDF_RK_OUT: &str = "2165fc001e7fdddc43f5361e5e4ee01eecd77384bd8b93e04b97d08d63f624109d31d73e9b4e671173b0e7af1bd36ddb7cc4d36d0a716aa90af1df85b6a592006b39ef9858cfb6056ca076dca03f2d28f42b2dc24ad2f2cfeb327aad505b6f1a";
const RATCHET_INIT_OUT: &str = "0462c44a275786d5931aa06d4dbefe5f4afa86bfa29b7fd9c225c0fb0310a8a5fda0ea1dbc97a53edbb8985ce3254c2e3a1698de785cd089eb31e765051259615b74e266e446ab0c3eb06500165fcfe0c0b4ad075d95d99475d28cfcdc043ed1";
const X3DH_3: &str = "c45a75005e6b50e7ac9344f5c40a670a458c3b3b22bee0c9c00d4fad9cfe2b92";
const X3DH_4: &str = "43b8b3478a589ee5d6c8660ca12af55d24843d556720fbd3a0d50432300d4a6e";
const SEALED_IDENTITY_KEY: &str = "88972e00ade7c929bdf7f3f01db630b9bbc0ed0e12bb9529b3c8ac1ea4fcbc78";
