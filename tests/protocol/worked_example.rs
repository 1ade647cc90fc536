//! The worked example of docs/PROTOCOL.md, section 10, recomputed from its inputs.
//!
//! Every `name = hex` line in that section must equal what this code computes, and every
//! value computed here must be in the document, so the spec cannot drift from the code.
//! `cargo test --test protocol -- --ignored --exact --nocapture worked_example::print_worked_example`
//! prints the block afresh.

use core::convert::Infallible;

use hemlis::{Account, Envelope, IdentityKeyPair, Limits, Session, kat};
use hemlis_test::hex::hex;
use rand_core::{TryCryptoRng, TryRng};

/// Randomness from a script: each draw must take exactly the next value.
struct ScriptedRng {
    draws: Vec<Vec<u8>>,
}

impl TryRng for ScriptedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        unreachable!("hemlis draws bytes only")
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        unreachable!("hemlis draws bytes only")
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        assert!(!self.draws.is_empty(), "more draws than the script holds");
        let next = self.draws.remove(0);
        assert_eq!(next.len(), dst.len(), "draw of unexpected length");
        dst.copy_from_slice(&next);
        Ok(())
    }
}
impl TryCryptoRng for ScriptedRng {}

fn rep(byte: u8, n: usize) -> Vec<u8> {
    vec![byte; n]
}

fn x25519_public(scalar: &[u8]) -> [u8; 32] {
    let s: [u8; 32] = scalar.try_into().unwrap();
    x25519_dalek::x25519(s, x25519_dalek::X25519_BASEPOINT_BYTES)
}

fn dh(scalar: &[u8], public: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(scalar.try_into().unwrap(), *public)
}

/// Runs the example; returns every named value in document order.
fn compute() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut put = |name: &'static str, bytes: &[u8]| out.push((name, hex(bytes)));

    let alice_seed = rep(0x11, 32);
    let bob_seed = rep(0x22, 32);
    let bob_spk = rep(0x33, 32);
    let bob_opk = rep(0x44, 32);
    let (bob_lr_kem_d, bob_lr_kem_z) = (rep(0x3a, 32), rep(0x3b, 32));
    let (bob_kem_d, bob_kem_z) = (rep(0x4a, 32), rep(0x4b, 32));
    let kem_message = rep(0x5a, 32);
    let alice_ek = rep(0x55, 32);
    let identity_nonce = rep(0x66, 24);
    let alice_ratchet = rep(0x77, 32);
    let a_header_nonce = rep(0x88, 24);
    let a_body_nonce = rep(0x99, 24);
    let bob_ratchet = rep(0xaa, 32);
    let b_header_nonce = rep(0xbb, 24);
    let b_body_nonce = rep(0xcc, 24);
    let msg1 = b"Hello, Bob!";
    let msg2 = b"Hi Alice";

    // Bob: account (identity seed, signed prekey), one one-time prekey.
    let mut rng = ScriptedRng {
        draws: vec![
            bob_seed.clone(),
            bob_spk.clone(),
            bob_lr_kem_d.clone(),
            bob_lr_kem_z.clone(),
            bob_opk.clone(),
            bob_kem_d.clone(),
            bob_kem_z.clone(),
        ],
    };
    let mut bob = Account::new(&mut rng, 0);
    let otp = bob.generate_one_time_prekeys(1, &mut rng).pop().unwrap();
    let kem = bob.generate_one_time_kem_prekeys(1, &mut rng).pop().unwrap();
    assert!(rng.draws.is_empty());
    let bundle = bob.prekey_bundle(Some(otp), Some(kem)).unwrap();

    // Alice: identity, then X3DH and the first message.
    let mut rng = ScriptedRng {
        draws: vec![
            alice_seed.clone(),
            alice_ek.clone(),
            kem_message.clone(),
            identity_nonce.clone(),
            alice_ratchet.clone(),
            [a_header_nonce.clone(), a_body_nonce.clone()].concat(),
        ],
    };
    let alice_identity = IdentityKeyPair::generate(&mut rng);
    let mut alice = Session::initiate(&alice_identity, &bundle, Limits::default(), &mut rng).unwrap();
    let envelope1 = alice.encrypt(msg1, &mut rng).unwrap();
    assert!(rng.draws.is_empty());

    // Bob answers the initial message, then replies.
    let mut rng = ScriptedRng {
        draws: vec![
            bob_ratchet.clone(),
            [b_header_nonce.clone(), b_body_nonce.clone()].concat(),
        ],
    };
    let parsed = Envelope::parse(&envelope1, Limits::default().max_padded_len()).unwrap();
    let (mut bob_session, plaintext) = bob.accept_initial(&parsed, &mut rng).unwrap();
    assert_eq!(plaintext, msg1);
    let envelope2 = bob_session.encrypt(msg2, &mut rng).unwrap();
    assert!(rng.draws.is_empty());
    let mut rng = ScriptedRng {
        draws: vec![rep(0xdd, 32)],
    };
    assert_eq!(alice.decrypt(&envelope2, &mut rng).unwrap(), msg2);

    // Inputs.
    put("alice.identity_seed", &alice_seed);
    put("bob.identity_seed", &bob_seed);
    put("bob.signed_prekey_secret", &bob_spk);
    put("bob.one_time_prekey_secret", &bob_opk);
    put("bob.last_resort_kem_d", &bob_lr_kem_d);
    put("bob.last_resort_kem_z", &bob_lr_kem_z);
    put("bob.one_time_kem_d", &bob_kem_d);
    put("bob.one_time_kem_z", &bob_kem_z);
    put("alice.ephemeral_secret", &alice_ek);
    put("alice.kem_message", &kem_message);
    put("alice.sealed_identity_nonce", &identity_nonce);
    put("alice.ratchet_secret", &alice_ratchet);
    put("alice.header_nonce", &a_header_nonce);
    put("alice.body_nonce", &a_body_nonce);
    put("alice.plaintext", msg1);
    put("bob.ratchet_secret", &bob_ratchet);
    put("bob.header_nonce", &b_header_nonce);
    put("bob.body_nonce", &b_body_nonce);
    put("bob.plaintext", msg2);

    // Public keys and the bundle.
    let ik_a = alice_identity.public().to_bytes();
    let ik_b = bob.identity_key().to_bytes();
    let ik_a_x = ed25519_dalek::VerifyingKey::from_bytes(&ik_a)
        .unwrap()
        .to_montgomery()
        .to_bytes();
    let ik_b_x = ed25519_dalek::VerifyingKey::from_bytes(&ik_b)
        .unwrap()
        .to_montgomery()
        .to_bytes();
    let ik_a_secret_x =
        ed25519_dalek::SigningKey::from_bytes(&alice_seed.clone().try_into().unwrap()).to_scalar_bytes();
    let ik_b_secret_x =
        ed25519_dalek::SigningKey::from_bytes(&bob_seed.clone().try_into().unwrap()).to_scalar_bytes();
    put("IK_A", &ik_a);
    put("IK_A.x25519", &ik_a_x);
    put("IK_A.x25519_secret", &ik_a_secret_x);
    put("IK_B", &ik_b);
    put("IK_B.x25519", &ik_b_x);
    put("IK_B.x25519_secret", &ik_b_secret_x);
    let spk_b = x25519_public(&bob_spk);
    let opk_b = x25519_public(&bob_opk);
    let ek_a = x25519_public(&alice_ek);
    put("SPK_B", &spk_b);
    put("OPK_B", &opk_b);
    put("EK_A", &ek_a);
    put("bundle", &bundle.encode());

    // X3DH.
    let dh1 = dh(&ik_a_secret_x, &spk_b);
    let dh2 = dh(&alice_ek, &ik_b_x);
    let dh3 = dh(&alice_ek, &spk_b);
    let dh4 = dh(&alice_ek, &opk_b);
    assert_eq!(dh1, dh(&bob_spk, &ik_a_x));
    assert_eq!(dh2, dh(&ik_b_secret_x, &ek_a));
    put("DH1", &dh1);
    put("DH2", &dh2);
    put("DH3", &dh3);
    put("DH4", &dh4);
    let kem_public = kat::kem_public_from_seed(
        bob_kem_d.clone().try_into().unwrap(),
        bob_kem_z.clone().try_into().unwrap(),
    );
    assert_eq!(bundle.kem_prekey().unwrap().key, kem_public);
    let ciphertext: [u8; 1088] = envelope1[48..48 + 1088].try_into().unwrap();
    let ss = kat::kem_decapsulate(
        bob_kem_d.clone().try_into().unwrap(),
        bob_kem_z.clone().try_into().unwrap(),
        &ciphertext,
    );
    put("SS", &ss);
    let sk = kat::handshake_secret(&[dh1, dh2, dh3, dh4], Some(ss));
    put("SK", &sk);
    put(
        "sealed_identity_key",
        &kat::sealed_identity_key(dh3, Some(ss), ek_a, spk_b, ik_b),
    );
    let (rk0, hk_a, nhk_b) = kat::ratchet_init(sk);
    put("RK0", &rk0);
    put("HK_A", &hk_a);
    put("NHK_B", &nhk_b);

    // Alice's first sending chain.
    let ra = x25519_public(&alice_ratchet);
    put("alice.ratchet_public", &ra);
    let dh_a = dh(&alice_ratchet, &spk_b);
    let (rk1, cks_a, nhk_a) = kat::kdf_rk(rk0, dh_a);
    put("RK1", &rk1);
    put("alice.CK0", &cks_a);
    put("alice.NHK", &nhk_a);
    let (mk_a0, _) = kat::kdf_ck(cks_a);
    put("alice.MK0", &mk_a0);
    put("envelope1", &envelope1);

    // Bob's ratchet step and reply.
    let (rk1_bob, ckr_b, nhk_a2) = kat::kdf_rk(rk0, dh(&bob_spk, &ra));
    assert_eq!((rk1_bob, ckr_b, nhk_a2), (rk1, cks_a, nhk_a));
    let rb = x25519_public(&bob_ratchet);
    put("bob.ratchet_public", &rb);
    let (rk2, cks_b, nhk_b2) = kat::kdf_rk(rk1, dh(&bob_ratchet, &ra));
    put("RK2", &rk2);
    put("bob.CK0", &cks_b);
    put("bob.NHK", &nhk_b2);
    let (mk_b0, _) = kat::kdf_ck(cks_b);
    put("bob.MK0", &mk_b0);
    put("envelope2", &envelope2);
    out
}

/// Parses `name = hex` lines (hex may continue on following indented lines) from the
/// worked-example section of docs/PROTOCOL.md.
fn documented() -> Vec<(String, String)> {
    let doc = include_str!("../../docs/PROTOCOL.md");
    let start = doc.find("## 10. Worked example").expect("section 10 exists");
    let section = &doc[start..];
    let end = section[3..].find("\n## ").map_or(section.len(), |e| e + 3);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in section[..end].lines() {
        let trimmed = line.trim();
        if let Some((name, value)) = trimmed.split_once(" = ") {
            let name = name.trim();
            if !name.is_empty() && !name.contains(' ') {
                out.push((name.to_string(), value.trim().to_string()));
            }
        } else if line.starts_with("    ")
            && !trimmed.is_empty()
            && trimmed.chars().all(|c| c.is_ascii_hexdigit())
            && let Some(last) = out.last_mut()
        {
            last.1.push_str(trimmed);
        }
    }
    out
}

fn render(values: &[(&str, String)]) -> String {
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

#[test]
fn protocol_md_worked_example_matches_the_code() {
    let computed = compute();
    let documented = documented();
    let computed: Vec<(String, String)> = computed.into_iter().map(|(n, v)| (n.to_string(), v)).collect();
    assert_eq!(
        documented, computed,
        "docs/PROTOCOL.md section 10 differs from the code; regenerate with --ignored --nocapture"
    );
}

#[test]
#[ignore = "prints the worked example block for docs/PROTOCOL.md"]
fn print_worked_example() {
    print!("{}", render(&compute()));
}
