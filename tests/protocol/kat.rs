//! Known-answer tests for every KDF (docs/PROTOCOL.md, section 3): pinned vectors, each
//! also recomputed independently from the raw `hkdf` and `hmac` crates and the labels as
//! written in the spec.

use hemlis::kat;
use hemlis_test::hex::{hex, hex32, unhex};
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

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
const SS: [u8; 32] = [0x77; 32];

fn dhs() -> [[u8; 32]; 4] {
    [hex32(A), hex32(B), [0x42; 32], [0x24; 32]]
}

#[test]
fn kdf_ck_known_answer() {
    let (mk, ck) = kat::kdf_ck(hex32(A));
    assert_eq!(mk.to_vec(), hmac(&unhex(A), &[1]));
    assert_eq!(ck.to_vec(), hmac(&unhex(A), &[2]));
    assert_eq!(hex(&mk), KDF_CK_MK);
    assert_eq!(hex(&ck), KDF_CK_CK);
}

#[test]
fn kdf_rk_known_answer() {
    let (rk, ck, nhk) = kat::kdf_rk(hex32(A), hex32(B));
    let okm = hkdf(&unhex(A), &unhex(B), b"hemlis/v1/root", 96);
    assert_eq!([rk, ck, nhk].concat(), okm);
    assert_eq!(hex(&okm), KDF_RK_OUT);
}

#[test]
fn ratchet_init_known_answer() {
    let (rk, hka, nhkb) = kat::ratchet_init(hex32(A));
    let okm = hkdf(&[0; 32], &unhex(A), b"hemlis/v1/ratchet-init", 96);
    assert_eq!([rk, hka, nhkb].concat(), okm);
    assert_eq!(hex(&okm), RATCHET_INIT_OUT);
}

#[test]
fn handshake_secret_known_answer() {
    let dhs = dhs();
    let cases = [
        (3, None, X3DH_3),
        (4, None, X3DH_4),
        (3, Some(SS), PQXDH_3),
        (4, Some(SS), PQXDH_4),
    ];
    for (n, kem, expected) in cases {
        let mut ikm = vec![0xFF; 32];
        for d in &dhs[..n] {
            ikm.extend_from_slice(d);
        }
        let info: &[u8] = match kem {
            Some(ss) => {
                ikm.extend_from_slice(&ss);
                b"hemlis/v1/PQXDH/X25519/SHA-256/ML-KEM-768"
            }
            None => b"hemlis/v1/X3DH/X25519/SHA-256",
        };
        let sk = kat::handshake_secret(&dhs[..n], kem);
        assert_eq!(sk.to_vec(), hkdf(&[0; 32], &ikm, info, 32));
        assert_eq!(hex(&sk), expected);
    }
}

#[test]
fn sealed_identity_key_known_answer() {
    let info = [
        b"hemlis/v1/sealed-identity".as_slice(),
        &unhex(B),
        &[0x42; 32],
        &[0x24; 32],
    ]
    .concat();
    let key = kat::sealed_identity_key(hex32(A), None, hex32(B), [0x42; 32], [0x24; 32]);
    assert_eq!(key.to_vec(), hkdf(&[0; 32], &unhex(A), &info, 32));
    assert_eq!(hex(&key), SEALED_IDENTITY_KEY);
    let key = kat::sealed_identity_key(hex32(A), Some(SS), hex32(B), [0x42; 32], [0x24; 32]);
    let ikm = [unhex(A), SS.to_vec()].concat();
    assert_eq!(key.to_vec(), hkdf(&[0; 32], &ikm, &info, 32));
    assert_eq!(hex(&key), SEALED_IDENTITY_KEY_PQ);
}

#[test]
#[ignore = "prints the pinned vectors"]
fn print_vectors() {
    let (mk, ck) = kat::kdf_ck(hex32(A));
    let (rk, c, n) = kat::kdf_rk(hex32(A), hex32(B));
    let (r, h, nh) = kat::ratchet_init(hex32(A));
    let dhs = dhs();
    let sealed = |ss| kat::sealed_identity_key(hex32(A), ss, hex32(B), [0x42; 32], [0x24; 32]);
    let values = [
        ("KDF_CK_MK", hex(&mk)),
        ("KDF_CK_CK", hex(&ck)),
        ("KDF_RK_OUT", hex(&[rk, c, n].concat())),
        ("RATCHET_INIT_OUT", hex(&[r, h, nh].concat())),
        ("X3DH_3", hex(&kat::handshake_secret(&dhs[..3], None))),
        ("X3DH_4", hex(&kat::handshake_secret(&dhs, None))),
        ("PQXDH_3", hex(&kat::handshake_secret(&dhs[..3], Some(SS)))),
        ("PQXDH_4", hex(&kat::handshake_secret(&dhs, Some(SS)))),
        ("SEALED_IDENTITY_KEY", hex(&sealed(None))),
        ("SEALED_IDENTITY_KEY_PQ", hex(&sealed(Some(SS)))),
    ];
    for (name, value) in values {
        println!("const {name}: &str = \"{value}\";");
    }
}

const KDF_CK_MK: &str = "9b4c8120a4823a95f47cde17a244f4507244ee6e3957d1fab9fa29b44d3829b7";
const KDF_CK_CK: &str = "4304c22c84a53755ab08ead8d97a8d429be5efa480682d7ad1da27f73e1fbe1d";
const KDF_RK_OUT: &str = "2165fc001e7fdddc43f5361e5e4ee01eecd77384bd8b93e04b97d08d63f624109d31d73e9b4e671173b0e7af1bd36ddb7cc4d36d0a716aa90af1df85b6a592006b39ef9858cfb6056ca076dca03f2d28f42b2dc24ad2f2cfeb327aad505b6f1a";
const RATCHET_INIT_OUT: &str = "0462c44a275786d5931aa06d4dbefe5f4afa86bfa29b7fd9c225c0fb0310a8a5fda0ea1dbc97a53edbb8985ce3254c2e3a1698de785cd089eb31e765051259615b74e266e446ab0c3eb06500165fcfe0c0b4ad075d95d99475d28cfcdc043ed1";
const X3DH_3: &str = "c45a75005e6b50e7ac9344f5c40a670a458c3b3b22bee0c9c00d4fad9cfe2b92";
const X3DH_4: &str = "43b8b3478a589ee5d6c8660ca12af55d24843d556720fbd3a0d50432300d4a6e";
const SEALED_IDENTITY_KEY: &str = "88972e00ade7c929bdf7f3f01db630b9bbc0ed0e12bb9529b3c8ac1ea4fcbc78";
const PQXDH_3: &str = "425d1263b719c904e8d0f8a321093042ca8a504e3722c8bb0da683cc43ac8561";
const PQXDH_4: &str = "4cb5c061aa34930213b700c37eb37a617b5b9fe3837b13f5087f3c1a0b69248e";
const SEALED_IDENTITY_KEY_PQ: &str = "32e7aaa748f0bcc2a922d314ef8eee2c74cf2dc30a7b359d182e93a00b4e6b54";
