//! hemlis side by side with vodozemac (Olm) and with the primitive floor (BENCHMARKS.md).
//!
//! Each workload is one criterion group holding `hemlis_os` (hemlis with `os_rng()`),
//! `hemlis_fast` (hemlis with `hemlis::fast_rng()`, the library's recommended default),
//! `vodozemac`, and `floor_os` / `floor_fast`: the workload's primitive operations
//! (`common::floors`) run back to back, as a cross-check measured next to the
//! implementations. The group `primitives` times every primitive operation alone;
//! `benches/report.rs` sums those medians into each workload's floor, the figure the targets
//! are checked against.
//!
//! The durable groups time one message between two `Client`s whose SQLite stores hold `n`
//! sessions each (`benches/durable/mod.rs`): `durable_<n>` in CPU time, `durable_tmpfs_<n>`
//! in CPU time with copies of the stores on a tmpfs (fsync costs nothing there), and
//! `durable_wall_<n>` in wall-clock time.
//!
//! Run: `cargo bench --bench compare`, then `cargo bench --bench report`.

#[path = "common/mod.rs"]
mod common;
#[path = "durable/mod.rs"]
mod durable;

use std::hint::black_box;
use std::time::Duration;

use chacha20poly1305::aead::{AeadInOut, KeyInit as AeadKeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use common::*;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hemlis::{Account, Envelope, Limits, PrekeyBundle, Session, fast_rng, os_rng};
use hemlis_test::sessions::copy_session;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use ml_kem::array::Array;
use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use ml_kem::{Decapsulate, KeyExport};
use rand_core::{CryptoRng, Rng};
use sha2::Sha256;
use vodozemac::olm::{Account as OlmAccount, OlmMessage, SessionConfig};
use x25519_dalek::{PublicKey, StaticSecret};

/// Criterion's measurement here: the CPU time of the benchmarking thread
/// (`CLOCK_THREAD_CPUTIME_ID`), so that time spent descheduled while other work shares the
/// cores does not count. Set `HEMLIS_BENCH_WALL_TIME=1` for criterion's wall-clock time
/// (the only measurement off Unix).
#[cfg(unix)]
struct ThreadTime;

#[cfg(unix)]
impl ThreadTime {
    fn now() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

#[cfg(unix)]
impl Measurement for ThreadTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        Self::now()
    }
    fn end(&self, start: Duration) -> Duration {
        Self::now().saturating_sub(start)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

fn group<'a, M: Measurement>(c: &'a mut Criterion<M>, name: &str, samples: usize) -> BenchmarkGroup<'a, M> {
    let mut g = c.benchmark_group(name);
    g.sample_size(samples)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g
}

// ---------------------------------------------------------------------------------------
// Handshake: bundle bytes to the responder's first decrypted message.

fn hemlis_handshake<M: Measurement, R: CryptoRng>(g: &mut BenchmarkGroup<'_, M>, name: &str, rng: &mut R) {
    let limits = Limits::default();
    let alice = Account::new(rng, NOW);
    let (bob_state, bundle) = hemlis_responder(rng);
    let message = plaintext(16);
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            // A fresh responder each time: accepting consumes the one-time prekey and
            // records the base key against replay.
            || Account::from_bytes(&bob_state, limits).expect("account"),
            |bob| {
                let bundle = PrekeyBundle::decode(black_box(&bundle)).expect("bundle");
                let mut a = Session::initiate(alice.identity(), &bundle, limits, rng).expect("initiate");
                let envelope = a.encrypt(&message, rng).expect("encrypt");
                let parsed = Envelope::parse(&envelope, limits.max_padded_len()).expect("parse");
                let (session, received) = bob.accept_initial(&parsed, rng).expect("accept");
                (a, session, received)
            },
            BatchSize::SmallInput,
        )
    });
}

fn handshake<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = group(c, "handshake", 30);
    hemlis_handshake(&mut g, "hemlis_os", &mut os_rng());
    hemlis_handshake(&mut g, "hemlis_fast", &mut fast_rng());

    let alice = OlmAccount::new();
    let (bob, one_time) = olm_responder();
    let bob_pickle = bob.pickle().encrypt(&PICKLE_KEY);
    let bob_key = bob.curve25519_key();
    let message = plaintext(16);
    g.bench_function("vodozemac", |b| {
        b.iter_batched_ref(
            || {
                OlmAccount::from_pickle(
                    vodozemac::olm::AccountPickle::from_encrypted(&bob_pickle, &PICKLE_KEY).expect("account"),
                )
            },
            |bob| {
                let mut a = alice
                    .create_outbound_session(SessionConfig::version_1(), bob_key, black_box(one_time))
                    .expect("outbound");
                let OlmMessage::PreKey(first) = olm_wire(&a.encrypt(&message).expect("encrypt")) else {
                    panic!("pre-key message expected");
                };
                let inbound = bob
                    .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &first)
                    .expect("inbound");
                (a, inbound.session, inbound.plaintext)
            },
            BatchSize::SmallInput,
        )
    });
    floor_with_both_rngs(&mut g, &handshake_floor());
    g.finish();
}

// ---------------------------------------------------------------------------------------
// One-way: encrypt plus decrypt on an established chain.

fn hemlis_one_way<M: Measurement, R: CryptoRng>(
    g: &mut BenchmarkGroup<'_, M>,
    name: &str,
    len: usize,
    rng: &mut R,
) {
    let (mut a, mut b) = hemlis_pair(rng);
    let message = plaintext(len);
    g.bench_function(name, |bench| {
        bench.iter(|| {
            let envelope = a.encrypt(black_box(&message), rng).expect("encrypt");
            b.decrypt(&envelope, rng).expect("decrypt")
        })
    });
}

fn one_way<M: Measurement>(c: &mut Criterion<M>) {
    for len in SIZES {
        let mut g = group(c, &format!("one_way_{len}"), 60);
        hemlis_one_way(&mut g, "hemlis_os", len, &mut os_rng());
        hemlis_one_way(&mut g, "hemlis_fast", len, &mut fast_rng());
        let (mut a, mut b) = olm_pair();
        let message = plaintext(len);
        g.bench_function("vodozemac", |bench| {
            bench.iter(|| {
                let sent = olm_wire(&a.encrypt(black_box(&message)).expect("encrypt"));
                b.decrypt(&sent).expect("decrypt")
            })
        });
        floor_with_both_rngs(&mut g, &one_way_floor(hemlis::wire::padded_len(len)));
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------
// Ping-pong: the direction alternates, so every message carries a DH ratchet step.

fn hemlis_ping_pong<M: Measurement, R: CryptoRng>(g: &mut BenchmarkGroup<'_, M>, name: &str, rng: &mut R) {
    let (mut a, mut b) = hemlis_pair(rng);
    let message = plaintext(16);
    // The last message of the set-up went from a to b: b speaks first.
    let mut b_turn = true;
    g.bench_function(name, |bench| {
        bench.iter(|| {
            let (from, to) = if b_turn {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            b_turn = !b_turn;
            let envelope = from.encrypt(black_box(&message), rng).expect("encrypt");
            to.decrypt(&envelope, rng).expect("decrypt")
        })
    });
}

fn ping_pong<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = group(c, "ping_pong", 60);
    hemlis_ping_pong(&mut g, "hemlis_os", &mut os_rng());
    hemlis_ping_pong(&mut g, "hemlis_fast", &mut fast_rng());
    let (mut a, mut b) = olm_pair();
    let message = plaintext(16);
    let mut b_turn = true;
    g.bench_function("vodozemac", |bench| {
        bench.iter(|| {
            let (from, to) = if b_turn {
                (&mut b, &mut a)
            } else {
                (&mut a, &mut b)
            };
            b_turn = !b_turn;
            let sent = olm_wire(&from.encrypt(black_box(&message)).expect("encrypt"));
            to.decrypt(&sent).expect("decrypt")
        })
    });
    floor_with_both_rngs(&mut g, &ping_pong_floor());
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Out of order: message SKIP after skipping SKIP messages, then skipped message LATE.

fn out_of_order<M: Measurement>(c: &mut Criterion<M>) {
    let mut rng = os_rng();
    let (fresh, skipped, envelopes) = hemlis_skipped(&mut rng);
    let (olm_fresh, olm_skipped_session, messages) = olm_skipped();

    let mut g = group(c, "out_of_order_skip", 30);
    g.bench_function("hemlis", |b| {
        b.iter_batched_ref(
            || copy_session(&fresh),
            |s| s.decrypt(black_box(&envelopes[SKIP]), &mut rng).expect("decrypt"),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("vodozemac", |b| {
        b.iter_batched_ref(
            || olm_clone(&olm_fresh),
            |s| s.decrypt(&olm_wire(black_box(&messages[SKIP]))).expect("decrypt"),
            BatchSize::SmallInput,
        )
    });
    composed_floor(&mut g, "floor", &skip_floor(), os_rng());
    g.finish();

    let mut g = group(c, "out_of_order_late", 30);
    g.bench_function("hemlis", |b| {
        b.iter_batched_ref(
            || copy_session(&skipped),
            |s| s.decrypt(black_box(&envelopes[LATE]), &mut rng).expect("decrypt"),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("vodozemac", |b| {
        b.iter_batched_ref(
            || olm_clone(&olm_skipped_session),
            |s| s.decrypt(&olm_wire(black_box(&messages[LATE]))).expect("decrypt"),
            BatchSize::SmallInput,
        )
    });
    composed_floor(&mut g, "floor", &late_floor(), os_rng());
    g.finish();
}

// ---------------------------------------------------------------------------------------
// State: serialize plus deserialize.

fn state<M: Measurement>(c: &mut Criterion<M>) {
    println!("\nSerialized state sizes (bytes):");
    for (what, bytes) in state_sizes() {
        println!("  {bytes:>7}  {what}");
    }
    println!();

    let mut rng = os_rng();
    let limits = Limits::default();
    let (_, idle) = hemlis_idle_pair(&mut rng);
    let (_, skipped, _) = hemlis_skipped(&mut rng);
    let (_, olm_idle) = olm_idle_pair();
    let (_, olm_skip, _) = olm_skipped();
    for (name, session, olm) in [
        ("state_idle", &idle, &olm_idle),
        ("state_skipped", &skipped, &olm_skip),
    ] {
        let mut g = group(c, name, 30);
        g.bench_function("hemlis", |b| {
            b.iter(|| {
                let bytes = black_box(session).to_bytes().expect("state");
                Session::from_bytes(&bytes, limits).expect("restore")
            })
        });
        g.bench_function("vodozemac", |b| {
            b.iter(|| olm_unpickle(&olm_pickle(black_box(olm))))
        });
        g.bench_function("vodozemac_json", |b| {
            b.iter(|| olm_from_json(&olm_json(black_box(olm))))
        });
        g.finish();
    }
}

// ---------------------------------------------------------------------------------------
// The primitive floor: each primitive operation the workloads need, as the protocol
// specifies it (docs/PROTOCOL.md, sections 2 and 3), with nothing around it.

/// The AEAD shapes the workloads use: `(name, plaintext length, associated data length)`
/// (docs/PROTOCOL.md, sections 3.1, 5 and 6.4). The sealed identity's AD is the initial
/// prefix before it (48 bytes and the 1,088-byte KEM ciphertext). Header AD: version and kind
/// (2), or the 1,208-byte initial prefix. Body AD: the 64-byte session AD, the prefix and the
/// sealed header (80).
const AEAD_SHAPES: [(&str, usize, usize); 7] = [
    ("identity_32", 32, 1136),
    ("header_40", 40, 2),
    ("header_40_initial", 40, 1208),
    ("body_192", 192, 146),
    ("body_192_initial", 192, 1352),
    ("body_272", 272, 146),
    ("body_4352", 4352, 146),
];

/// The primitives of `common::Formula` other than the RNG draws and the AEAD shapes.
const PRIMITIVES: [&str; 15] = [
    "x25519_keygen",
    "x25519_dh",
    "x25519_prekey_check",
    "ed25519_key_decode",
    "ed25519_verify",
    "ed25519_verify_kem",
    "ml_kem_ek_check",
    "ml_kem_encaps",
    "ml_kem_expand",
    "ml_kem_decaps",
    "kdf_ck",
    "hkdf_pqxdh",
    "hkdf_sealed_identity",
    "hkdf_96",
    "open_fail_header_40",
];

/// One primitive operation of a floor formula (`common::Formula`).
#[derive(Clone, Copy)]
enum Op {
    Rng24,
    Rng32,
    Rng48,
    X25519Keygen,
    X25519Dh,
    X25519PrekeyCheck,
    Ed25519KeyDecode,
    Ed25519Verify,
    Ed25519VerifyKem,
    MlKemEkCheck,
    MlKemEncaps,
    MlKemExpand,
    MlKemDecaps,
    KdfCk,
    HkdfPqxdh,
    HkdfSealedIdentity,
    Hkdf96,
    Seal(usize),
    Open(usize),
    OpenFailHeader40,
}

impl Op {
    /// The operation of a primitive bench name (the names of `common::Formula`).
    fn named(name: &str) -> Self {
        let shape = |s: &str| {
            AEAD_SHAPES
                .iter()
                .position(|(n, _, _)| *n == s)
                .unwrap_or_else(|| panic!("unknown AEAD shape {s}"))
        };
        match name {
            "rng_24" => Op::Rng24,
            "rng_32" => Op::Rng32,
            "rng_48" => Op::Rng48,
            "x25519_keygen" => Op::X25519Keygen,
            "x25519_dh" => Op::X25519Dh,
            "x25519_prekey_check" => Op::X25519PrekeyCheck,
            "ed25519_key_decode" => Op::Ed25519KeyDecode,
            "ed25519_verify" => Op::Ed25519Verify,
            "ed25519_verify_kem" => Op::Ed25519VerifyKem,
            "ml_kem_ek_check" => Op::MlKemEkCheck,
            "ml_kem_encaps" => Op::MlKemEncaps,
            "ml_kem_expand" => Op::MlKemExpand,
            "ml_kem_decaps" => Op::MlKemDecaps,
            "kdf_ck" => Op::KdfCk,
            "hkdf_pqxdh" => Op::HkdfPqxdh,
            "hkdf_sealed_identity" => Op::HkdfSealedIdentity,
            "hkdf_96" => Op::Hkdf96,
            "open_fail_header_40" => Op::OpenFailHeader40,
            other => match (other.strip_prefix("seal_"), other.strip_prefix("open_")) {
                (Some(s), _) => Op::Seal(shape(s)),
                (_, Some(s)) => Op::Open(shape(s)),
                _ => panic!("unknown primitive {other}"),
            },
        }
    }
}

/// `XChaCha20-Poly1305` seal into a reused buffer: `nonce || ciphertext || tag`.
fn seal(key: &[u8; 32], nonce: &[u8; 24], ad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let tag = XChaCha20Poly1305::new(&Key::from(*key))
        .encrypt_inout_detached(&XNonce::from(*nonce), ad, (&mut out[24..]).into())
        .expect("seal");
    out.extend_from_slice(&tag);
}

/// `XChaCha20-Poly1305` open into a reused buffer; true if the tag verified.
fn open(key: &[u8; 32], ad: &[u8], sealed: &[u8], out: &mut Vec<u8>) -> bool {
    let (nonce, rest) = sealed.split_at(24);
    let (ciphertext, tag) = rest.split_at(rest.len() - 16);
    out.clear();
    out.extend_from_slice(ciphertext);
    XChaCha20Poly1305::new(&Key::from(*key))
        .decrypt_inout_detached(
            &XNonce::try_from(nonce).expect("nonce"),
            ad,
            out.as_mut_slice().into(),
            &Tag::try_from(tag).expect("tag"),
        )
        .is_ok()
}

/// KDF_CK: `HMAC(CK, 0x01)` and `HMAC(CK, 0x02)`.
fn kdf_ck(ck: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(ck).expect("key");
    let mut for_message = keyed.clone();
    for_message.update(&[0x01]);
    let mut for_chain = keyed;
    for_chain.update(&[0x02]);
    let mut mk = [0u8; 32];
    let mut next = [0u8; 32];
    mk.copy_from_slice(&for_message.finalize().into_bytes());
    next.copy_from_slice(&for_chain.finalize().into_bytes());
    (mk, next)
}

fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut okm = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut okm)
        .expect("hkdf");
    okm
}

/// An AEAD shape's inputs, and its plaintext sealed for the open benches.
struct Shape {
    plaintext: Vec<u8>,
    ad: Vec<u8>,
    sealed: Vec<u8>,
}

/// The inputs of every primitive, and an RNG for the draws.
struct Primitives<R> {
    rng: R,
    draw: [u8; 48],
    scalar: [u8; 32],
    secret: StaticSecret,
    their: PublicKey,
    prekey: [u8; 32],
    identity: [u8; 32],
    verifying: VerifyingKey,
    signed: Vec<u8>,
    signature: ed25519_dalek::Signature,
    kem_signed: Vec<u8>,
    kem_signature: ed25519_dalek::Signature,
    kem_public: [u8; 1184],
    kem_key: EncapsulationKey,
    kem_message: [u8; 32],
    kem_seed: [u8; 64],
    kem_pair: DecapsulationKey,
    kem_ciphertext: Ciphertext,
    chain_key: [u8; 32],
    ikm_pqxdh: Vec<u8>,
    ikm_sealed: [u8; 64],
    info_sealed: Vec<u8>,
    root: [u8; 32],
    dh: [u8; 32],
    key: [u8; 32],
    wrong_key: [u8; 32],
    nonce: [u8; 24],
    shapes: Vec<Shape>,
    out: Vec<u8>,
}

impl<R: CryptoRng> Primitives<R> {
    fn new(rng: R) -> Self {
        let mut inputs = chacha();
        let mut random = |n: usize| {
            let mut v = vec![0u8; n];
            inputs.fill_bytes(&mut v);
            v
        };
        let mut bytes32 = || -> [u8; 32] { random(32).try_into().expect("32 bytes") };
        let signing = SigningKey::from_bytes(&bytes32());
        let their = PublicKey::from(&StaticSecret::from(bytes32()));
        let prekey = their.to_bytes();
        // The signed-prekey message: label, id, key (59 bytes).
        let mut signed = b"hemlis/v1/signed-prekey".to_vec();
        signed.extend_from_slice(&2u32.to_be_bytes());
        signed.extend_from_slice(&prekey);
        // The ML-KEM-768 prekey: expanded from a 64-byte seed, its 1,184-byte encapsulation
        // key signed as label, id, kind, key (1,209 bytes), and a ciphertext to it.
        let kem_seed: [u8; 64] = [bytes32(), bytes32()].concat().try_into().expect("64 bytes");
        let kem_pair = DecapsulationKey::from_seed(Array::from(kem_seed));
        let kem_public: [u8; 1184] = kem_pair
            .encapsulation_key()
            .to_bytes()
            .as_slice()
            .try_into()
            .expect("1184 bytes");
        let mut kem_signed = b"hemlis/v1/kem-prekey".to_vec();
        kem_signed.extend_from_slice(&3u32.to_be_bytes());
        kem_signed.push(1);
        kem_signed.extend_from_slice(&kem_public);
        let kem_key = EncapsulationKey::new(&Array::from(kem_public)).expect("ML-KEM key");
        let kem_message = bytes32();
        let (kem_ciphertext, _) = kem_key.encapsulate_deterministic(&Array::from(kem_message));
        let mut info_sealed = b"hemlis/v1/sealed-identity".to_vec();
        info_sealed.extend_from_slice(&[9u8; 96]);
        let key = bytes32();
        let nonce = [5u8; 24];
        let shapes = AEAD_SHAPES
            .iter()
            .map(|&(_, len, ad_len)| {
                let plaintext = vec![0x42; len];
                let ad = vec![0x17; ad_len];
                let mut sealed = Vec::new();
                seal(&key, &nonce, &ad, &plaintext, &mut sealed);
                Shape {
                    plaintext,
                    ad,
                    sealed,
                }
            })
            .collect();
        Self {
            rng,
            draw: [0u8; 48],
            scalar: bytes32(),
            secret: StaticSecret::from(bytes32()),
            their,
            prekey,
            identity: signing.verifying_key().to_bytes(),
            verifying: signing.verifying_key(),
            signature: signing.sign(&signed),
            signed,
            kem_signature: signing.sign(&kem_signed),
            kem_signed,
            kem_public,
            kem_key,
            kem_message,
            kem_seed,
            kem_pair,
            kem_ciphertext,
            chain_key: bytes32(),
            // 0xFF^32, DH1..DH4, SS.
            ikm_pqxdh: [[0xFF; 32], bytes32(), bytes32(), bytes32(), bytes32(), bytes32()].concat(),
            ikm_sealed: [bytes32(), bytes32()].concat().try_into().expect("64 bytes"),
            info_sealed,
            root: bytes32(),
            dh: bytes32(),
            wrong_key: bytes32(),
            key,
            nonce,
            shapes,
            out: Vec::with_capacity(8192),
        }
    }

    /// Runs one primitive operation.
    fn run(&mut self, op: Op) {
        match op {
            Op::Rng24 => {
                self.rng.fill_bytes(&mut self.draw[..24]);
                black_box(&self.draw);
            }
            Op::Rng32 => {
                self.rng.fill_bytes(&mut self.draw[..32]);
                black_box(&self.draw);
            }
            Op::Rng48 => {
                self.rng.fill_bytes(&mut self.draw);
                black_box(&self.draw);
            }
            // Key generation from 32 random bytes (the draw is counted apart).
            Op::X25519Keygen => {
                let secret = StaticSecret::from(black_box(self.scalar));
                black_box(PublicKey::from(&secret).to_bytes());
            }
            // DH with the contributory check of section 2.2.
            Op::X25519Dh => {
                let shared = self.secret.diffie_hellman(black_box(&self.their));
                assert!(shared.was_contributory());
                black_box(shared.to_bytes());
            }
            // A published prekey's full check: on the curve (not the twist), not small order.
            Op::X25519PrekeyCheck => {
                let point = MontgomeryPoint(black_box(self.prekey))
                    .to_edwards(0)
                    .expect("on curve");
                assert!(!point.is_small_order());
            }
            // An identity key's decoding, small-order check and X25519 form (section 2.1).
            Op::Ed25519KeyDecode => {
                let key = VerifyingKey::from_bytes(black_box(&self.identity)).expect("key");
                assert!(!key.is_weak());
                black_box(key.to_montgomery().to_bytes());
            }
            // The signed prekey's signature (59-byte message).
            Op::Ed25519Verify => self
                .verifying
                .verify_strict(black_box(&self.signed), black_box(&self.signature))
                .expect("signature"),
            // The KEM prekey's signature (1,209-byte message).
            Op::Ed25519VerifyKem => self
                .verifying
                .verify_strict(black_box(&self.kem_signed), black_box(&self.kem_signature))
                .expect("signature"),
            // The FIPS 203 input check of an encapsulation key, parsed for use (section 2.4).
            Op::MlKemEkCheck => {
                let key = EncapsulationKey::new(&Array::from(black_box(self.kem_public))).expect("key");
                black_box(key);
            }
            // Encapsulation with a 32-byte message (the draw is counted apart).
            Op::MlKemEncaps => {
                black_box(
                    self.kem_key
                        .encapsulate_deterministic(&Array::from(black_box(self.kem_message))),
                );
            }
            // The decapsulation key expanded from its stored 64-byte seed.
            Op::MlKemExpand => {
                black_box(DecapsulationKey::from_seed(Array::from(black_box(self.kem_seed))));
            }
            Op::MlKemDecaps => {
                black_box(self.kem_pair.decapsulate(black_box(&self.kem_ciphertext)));
            }
            Op::KdfCk => {
                black_box(kdf_ck(black_box(&self.chain_key)));
            }
            // SK: 192-byte ikm (0xFF^32, four DHs, SS).
            Op::HkdfPqxdh => {
                black_box(hkdf::<32>(
                    &[0u8; 32],
                    black_box(&self.ikm_pqxdh),
                    b"hemlis/v1/PQXDH/X25519/SHA-256/ML-KEM-768",
                ));
            }
            // K_id: 64-byte ikm (DH3, SS), 121-byte info.
            Op::HkdfSealedIdentity => {
                black_box(hkdf::<32>(
                    &[0u8; 32],
                    black_box(&self.ikm_sealed),
                    &self.info_sealed,
                ));
            }
            Op::Hkdf96 => {
                black_box(hkdf::<96>(&self.root, black_box(&self.dh), b"hemlis/v1/root"));
            }
            Op::Seal(i) => {
                let s = &self.shapes[i];
                seal(
                    &self.key,
                    &self.nonce,
                    black_box(&s.ad),
                    black_box(&s.plaintext),
                    &mut self.out,
                );
                black_box(&self.out);
            }
            Op::Open(i) => {
                let s = &self.shapes[i];
                assert!(open(
                    &self.key,
                    black_box(&s.ad),
                    black_box(&s.sealed),
                    &mut self.out
                ));
            }
            // A header tried under the wrong header key (section 6.5 tries HKr before NHKr).
            Op::OpenFailHeader40 => {
                let s = &self.shapes[1];
                assert!(!open(
                    &self.wrong_key,
                    black_box(&s.ad),
                    black_box(&s.sealed),
                    &mut self.out
                ));
            }
        }
    }
}

/// Every primitive on its own, in the group `primitives`. The RNG draws are timed for
/// `os_rng()`, `fast_rng()`, and, for reference, a bare `rand_chacha::ChaCha20Rng`.
fn primitives<M: Measurement>(c: &mut Criterion<M>) {
    let mut g = group(c, "primitives", 60);
    let mut os = Primitives::new(os_rng());
    let mut fast = Primitives::new(fast_rng());
    let mut cha = Primitives::new(chacha());
    for (draw, op) in [("24", Op::Rng24), ("32", Op::Rng32), ("48", Op::Rng48)] {
        g.bench_function(format!("rng_os_{draw}"), |b| b.iter(|| os.run(op)));
        g.bench_function(format!("rng_fast_{draw}"), |b| b.iter(|| fast.run(op)));
        g.bench_function(format!("rng_chacha_{draw}"), |b| b.iter(|| cha.run(op)));
    }
    let mut names: Vec<String> = PRIMITIVES.map(String::from).to_vec();
    for (shape, _, _) in AEAD_SHAPES {
        names.push(format!("seal_{shape}"));
        names.push(format!("open_{shape}"));
    }
    for name in names {
        let op = Op::named(&name);
        g.bench_function(name, |b| b.iter(|| os.run(op)));
    }
    g.finish();
}

/// A workload's floor run as one sequence of its primitive operations, in its own group,
/// next to the implementations (a cross-check of the floor summed from `primitives`).
fn composed_floor<M: Measurement, R: CryptoRng>(
    g: &mut BenchmarkGroup<'_, M>,
    name: &str,
    formula: &Formula,
    rng: R,
) {
    let ops: Vec<(usize, Op)> = formula.iter().map(|&(n, p)| (n, Op::named(p))).collect();
    let mut p = Primitives::new(rng);
    g.bench_function(name, |b| {
        b.iter(|| {
            for &(n, op) in &ops {
                for _ in 0..n {
                    p.run(op);
                }
            }
        })
    });
}

/// The composed floors of the workloads that draw randomness, with each RNG.
fn floor_with_both_rngs<M: Measurement>(g: &mut BenchmarkGroup<'_, M>, formula: &Formula) {
    composed_floor(g, "floor_os", formula, os_rng());
    composed_floor(g, "floor_fast", formula, fast_rng());
}

// ---------------------------------------------------------------------------------------
// Durable: one message between two clients whose SQLite stores hold n sessions each.

/// Times a message between two clients whose stores hold `n` sessions each, in CPU time
/// (`durable_<n>`) and, with `wall`, in wall-clock time (`durable_wall_<n>`). A pair of
/// stores is built when the first bench of its size runs, so a name filter that selects
/// neither skips the set-up (minutes for 100,000 sessions); the largest size comes first, so
/// that the CPU-time groups of all sizes run within seconds of each other, under the same
/// load. Each set-up is recorded in `<criterion dir>/durable_setup.json` (not in test mode).
/// `cargo test --benches` (no `--bench` argument) skips the 100,000-session stores.
fn durable<M: Measurement>(c: &mut Criterion<M>, wall: Option<&mut Criterion<WallTime>>) {
    let root = std::env::var_os("HEMLIS_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = durable::SESSIONS
        .into_iter()
        .rev()
        .filter(|&n| {
            let run = n <= durable::REAL_PEERS_UP_TO || benchmarking;
            if !run {
                println!("durable_{n}: skipped outside `cargo bench` (the set-up takes minutes)");
            }
            run
        })
        .collect();
    let mut pairs: Vec<Option<durable::DurablePair>> = sizes.iter().map(|_| None).collect();
    for (&n, pair) in sizes.iter().zip(&mut pairs) {
        durable_group(c, format!("durable_{n}"), pair, n, &root, None);
    }
    // The same stores copied to a tmpfs, where fsync costs nothing.
    let tmpfs = std::path::Path::new("/dev/shm");
    if tmpfs.is_dir() {
        let mut copies: Vec<Option<durable::DurablePair>> = sizes.iter().map(|_| None).collect();
        for ((&n, pair), copy) in sizes.iter().zip(&mut pairs).zip(&mut copies) {
            let original = Some((&mut *pair, tmpfs));
            durable_group(c, format!("durable_tmpfs_{n}"), copy, n, &root, original);
        }
    }
    if let Some(w) = wall {
        for (&n, pair) in sizes.iter().zip(&mut pairs) {
            durable_group(w, format!("durable_wall_{n}"), pair, n, &root, None);
        }
    }
    if !benchmarking {
        return;
    }
    let setup_file = criterion_dir().join("durable_setup.json");
    let mut setups: serde_json::Map<String, serde_json::Value> = std::fs::read(&setup_file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    for (n, pair) in sizes.iter().zip(&pairs) {
        if let Some(pair) = pair {
            setups.insert(
                n.to_string(),
                serde_json::json!({
                    "setup_seconds": pair.setup_seconds,
                    "disk_bytes": pair.setup_disk_bytes,
                    "messages": pair.messages,
                }),
            );
        }
    }
    if let Some(dir) = setup_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let json = serde_json::to_vec_pretty(&setups).expect("json");
    if let Err(e) = std::fs::write(&setup_file, json) {
        eprintln!("could not write {}: {e}", setup_file.display());
    }
}

/// One durable group. Its pair is built (under `root`) when the bench first runs, or, with
/// `copy_of`, copied from that pair (built first if need be) into the given directory.
fn durable_group<M: Measurement>(
    c: &mut Criterion<M>,
    name: String,
    pair: &mut Option<durable::DurablePair>,
    n: usize,
    root: &std::path::Path,
    mut copy_of: Option<(&mut Option<durable::DurablePair>, &std::path::Path)>,
) {
    let mut g = group(c, &name, 20);
    g.sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5));
    g.bench_function("hemlis_fast", |b| {
        let pair = pair.get_or_insert_with(|| match copy_of.take() {
            Some((original, to)) => original
                .get_or_insert_with(|| durable::DurablePair::build(n, root))
                .copy_to(to),
            None => durable::DurablePair::build(n, root),
        });
        b.iter(|| pair.message())
    });
    g.finish();
}

fn run_all<M: Measurement>(c: &mut Criterion<M>) {
    primitives(c);
    handshake(c);
    one_way(c);
    ping_pong(c);
    out_of_order(c);
    state(c);
}

fn main() {
    let mut wall = Criterion::default().configure_from_args();
    #[cfg(unix)]
    if std::env::var_os("HEMLIS_BENCH_WALL_TIME").is_none() {
        let mut c = Criterion::default()
            .with_measurement(ThreadTime)
            .configure_from_args();
        run_all(&mut c);
        durable(&mut c, Some(&mut wall));
        c.final_summary();
        wall.final_summary();
        return;
    }
    run_all(&mut wall);
    durable(&mut wall, None);
    wall.final_summary();
}
