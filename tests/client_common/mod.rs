//! Helpers shared by the client tests: a deterministic RNG that records every draw, a clock
//! that tests move, stores and transports with switchable faults, temporary directories and
//! byte searches over what a relay or a database holds.
#![allow(dead_code)]

pub mod chaos;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hemlis::client::{ClientConfig, ClientParts};
use hemlis::rand_core::{Infallible, Rng, SeedableRng, TryCryptoRng, TryRng};
use hemlis::store::{Rows, StoreError, Table, Write};
use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, Client, Clock, InMemoryRelay, MemoryStore, Received, Store, Transport};
use rand_chacha::ChaCha20Rng;

/// The time every test starts at.
pub const T0: u64 = 1_700_000_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test thread that panicked while holding the lock already failed the test.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A storage key with entropy, so a search for it in a file means something.
pub fn storage_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    ChaCha20Rng::seed_from_u64(0x5eed_0f57_04a6).fill_bytes(&mut key);
    key
}

/// A small upkeep configuration: few one-time prekeys keep the tests fast.
pub fn small_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.one_time_prekeys = 3;
    config.replenish_below = 2;
    config
}

// ---------------------------------------------------------------------------------------
// Randomness

/// Every byte string handed out by the [`RecordingRng`]s sharing this log, in order.
#[derive(Clone, Default)]
pub struct Draws(Arc<Mutex<Vec<Vec<u8>>>>);

impl Draws {
    pub fn all(&self) -> Vec<Vec<u8>> {
        lock(&self.0).clone()
    }

    /// The draws of exactly `len` bytes.
    pub fn of_len(&self, len: usize) -> Vec<Vec<u8>> {
        lock(&self.0).iter().filter(|d| d.len() == len).cloned().collect()
    }

    /// The 32-byte draws: every X25519 and Ed25519 secret, KEM seed and KEM encapsulation
    /// randomness comes from one.
    pub fn secrets(&self) -> Vec<[u8; 32]> {
        lock(&self.0)
            .iter()
            .filter_map(|d| <[u8; 32]>::try_from(d.as_slice()).ok())
            .collect()
    }

    fn push(&self, draw: Vec<u8>) {
        lock(&self.0).push(draw);
    }
}

/// ChaCha20 seeded from a number, recording every draw.
pub struct RecordingRng {
    inner: ChaCha20Rng,
    draws: Draws,
}

impl RecordingRng {
    pub fn new(seed: u64, draws: &Draws) -> Self {
        Self {
            inner: ChaCha20Rng::seed_from_u64(seed),
            draws: draws.clone(),
        }
    }
}

impl TryRng for RecordingRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let v = self.inner.next_u32();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let v = self.inner.next_u64();
        self.draws.push(v.to_le_bytes().to_vec());
        Ok(v)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.inner.fill_bytes(dst);
        self.draws.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for RecordingRng {}

/// A plain deterministic generator for test data (message bodies, kill times).
pub fn test_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A random body of `len` letters and digits: distinctive, so a search for it in a relay
/// log or a database file cannot hit by chance.
pub fn random_body(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()])
        .collect()
}

/// The 32-byte secrets derived from a raw draw as the library may hold them: the draw, its
/// X25519 clamping, and the Ed25519 secret scalar of it as a seed (the identity's X25519
/// secret).
pub fn secret_forms(draw: &[u8; 32]) -> Vec<[u8; 32]> {
    let mut clamped = *draw;
    clamped[0] &= 248;
    clamped[31] &= 127;
    clamped[31] |= 64;
    let scalar = ed25519_dalek::SigningKey::from_bytes(draw).to_scalar_bytes();
    vec![*draw, clamped, scalar]
}

/// The X25519 public key of a draw used as a secret.
pub fn x25519_public(draw: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::x25519(*draw, x25519_dalek::X25519_BASEPOINT_BYTES)
}

/// The X25519 form of an identity key (the Diffie-Hellman public key).
pub fn identity_x25519(identity: &hemlis::IdentityKey) -> [u8; 32] {
    ed25519_dalek::VerifyingKey::from_bytes(identity.as_bytes())
        .expect("identity keys are valid points")
        .to_montgomery()
        .to_bytes()
}

// ---------------------------------------------------------------------------------------
// Time

/// A clock the test sets; clones share the time.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub fn new(now: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now)))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------------------
// Stores

/// A memory store behind a shared handle: a client "restarts" by opening a new handle,
/// finding the state exactly as the last commit left it; `snapshot` copies it.
#[derive(Clone, Default)]
pub struct SharedStore(Arc<Mutex<MemoryStore>>);

impl SharedStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_snapshot(store: MemoryStore) -> Self {
        Self(Arc::new(Mutex::new(store)))
    }

    pub fn snapshot(&self) -> MemoryStore {
        lock(&self.0).clone()
    }

    pub fn boxed(&self) -> Box<dyn Store> {
        Box::new(self.clone())
    }
}

impl Store for SharedStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        lock(&self.0).get(table, key)
    }
    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        lock(&self.0).scan(table)
    }
    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        lock(&self.0).commit(writes)
    }
}

/// Switches for a [`FaultyStore`]: let `pass` more commits through, then fail `fail`.
#[derive(Clone, Default)]
pub struct StoreFaults {
    pass: Arc<AtomicUsize>,
    fail: Arc<AtomicUsize>,
    commits: Arc<AtomicUsize>,
}

impl StoreFaults {
    /// The next `pass` commits succeed, the `fail` after them fail (changing nothing).
    pub fn fail_commits(&self, pass: usize, fail: usize) {
        self.pass.store(pass, Ordering::SeqCst);
        self.fail.store(fail, Ordering::SeqCst);
    }

    /// Commits that reached the inner store.
    pub fn commits(&self) -> usize {
        self.commits.load(Ordering::SeqCst)
    }
}

/// A store whose commits can be made to fail.
pub struct FaultyStore {
    inner: Box<dyn Store>,
    faults: StoreFaults,
}

impl FaultyStore {
    pub fn new(inner: Box<dyn Store>, faults: &StoreFaults) -> Self {
        Self {
            inner,
            faults: faults.clone(),
        }
    }
}

impl Store for FaultyStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }
    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        self.inner.scan(table)
    }
    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        let f = &self.faults;
        if f.pass.load(Ordering::SeqCst) > 0 {
            f.pass.fetch_sub(1, Ordering::SeqCst);
        } else if f.fail.load(Ordering::SeqCst) > 0 {
            f.fail.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Backend("injected commit failure".into()));
        }
        f.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(writes)
    }
}

// ---------------------------------------------------------------------------------------
// Transports

/// Switches for a [`TestTransport`]; all off by default.
#[derive(Default)]
pub struct TransportFaults {
    /// `send` fails without reaching the relay.
    pub fail_send: AtomicBool,
    /// `send` reaches the relay but reports failure (the answer was lost).
    pub lose_send_answer: AtomicBool,
    /// `ack` fails without reaching the relay.
    pub fail_ack: AtomicBool,
    /// `fetch` fails.
    pub fail_fetch: AtomicBool,
    /// `publish` fails without reaching the relay.
    pub fail_publish: AtomicBool,
}

impl TransportFaults {
    pub fn set(flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::SeqCst);
    }
}

fn down(what: &str) -> TransportError {
    TransportError::Unavailable(format!("injected {what} failure"))
}

/// One envelope handed to the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub from: Address,
    pub to: Address,
    pub envelope: Vec<u8>,
}

/// The in-memory relay seen through a transport with switchable faults, recording every
/// envelope that reached the relay. Clones share the relay, the switches and the record.
#[derive(Clone)]
pub struct TestTransport {
    pub relay: InMemoryRelay,
    pub faults: Arc<TransportFaults>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl TestTransport {
    pub fn new(relay: &InMemoryRelay) -> Self {
        Self {
            relay: relay.clone(),
            faults: Arc::default(),
            sent: Arc::default(),
        }
    }

    /// Every envelope that reached the relay, in order.
    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.sent).clone()
    }

    pub fn sent_len(&self) -> usize {
        lock(&self.sent).len()
    }

    /// How many envelopes wait at the relay for a device.
    pub fn pending(&self, device: &Address) -> usize {
        self.relay.fetch(device).expect("relay").len()
    }

    pub fn boxed(&self) -> Box<dyn Transport> {
        Box::new(self.clone())
    }
}

impl Transport for TestTransport {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        if self.faults.fail_publish.load(Ordering::SeqCst) {
            return Err(down("publish"));
        }
        self.relay.publish(device, upload)
    }
    fn devices(&self, user: &str) -> Result<Vec<u32>, TransportError> {
        self.relay.devices(user)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.relay.fetch_bundle(device)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        if self.faults.fail_send.load(Ordering::SeqCst) {
            return Err(down("send"));
        }
        self.relay.send(from, to, envelope)?;
        lock(&self.sent).push(Sent {
            from: from.clone(),
            to: to.clone(),
            envelope: envelope.to_vec(),
        });
        if self.faults.lose_send_answer.load(Ordering::SeqCst) {
            return Err(down("send answer"));
        }
        Ok(())
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        if self.faults.fail_fetch.load(Ordering::SeqCst) {
            return Err(down("fetch"));
        }
        self.relay.fetch(device)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        if self.faults.fail_ack.load(Ordering::SeqCst) {
            return Err(down("ack"));
        }
        self.relay.ack(device, ids)
    }
    fn identity(&self, device: &Address) -> Result<Option<[u8; 32]>, TransportError> {
        self.relay.identity(device)
    }
}

// ---------------------------------------------------------------------------------------
// Clients

/// The parts of a client with a recording RNG.
pub fn parts(
    transport: Box<dyn Transport>,
    store: Box<dyn Store>,
    clock: &TestClock,
    seed: u64,
    draws: &Draws,
    config: ClientConfig,
) -> ClientParts {
    ClientParts {
        storage_key: storage_key(),
        store,
        transport,
        clock: Box::new(clock.clone()),
        rng: Box::new(RecordingRng::new(seed, draws)),
        config,
    }
}

pub fn address(user: &str, device: u32) -> Address {
    Address::new(user, device).expect("valid address")
}

/// Receives, checks that exactly `expected` (in order) is new in the inbox besides what
/// was already there, marks everything read and returns the new messages.
pub fn receive_exactly(client: &mut Client, expected: &[&[u8]]) -> Vec<Received> {
    let report = client.receive().expect("receive");
    let bodies: Vec<&[u8]> = report.messages.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, expected, "{} received other messages", client.address());
    assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    client.mark_read(&ids).expect("mark_read");
    report.messages
}

// ---------------------------------------------------------------------------------------
// Files

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "hemlis-{tag}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Byte searches

/// A set of labelled needles, searched as all their windows of one length: a hit means a
/// haystack holds at least `width` consecutive bytes of a needle.
pub struct Needles {
    width: usize,
    windows: HashMap<Vec<u8>, String>,
}

impl Needles {
    pub fn new(width: usize) -> Self {
        Self {
            width,
            windows: HashMap::new(),
        }
    }

    /// Adds every `width`-byte window of `bytes` (nothing if it is shorter).
    pub fn add(&mut self, label: impl Into<String>, bytes: &[u8]) {
        let label = label.into();
        for w in bytes.windows(self.width) {
            self.windows.entry(w.to_vec()).or_insert_with(|| label.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The first needle window found in `haystack`: (label, offset).
    pub fn find(&self, haystack: &[u8]) -> Option<(String, usize)> {
        haystack
            .windows(self.width)
            .enumerate()
            .find_map(|(at, w)| self.windows.get(w).map(|label| (label.clone(), at)))
    }
}

/// True if `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Envelope layout (docs/PROTOCOL.md, section 5)

/// Envelope bytes before the padded body in a message envelope: version, kind, sealed
/// header (80), body nonce (24), plus the body tag (16).
pub const MESSAGE_OVERHEAD: usize = 2 + 80 + 24 + 16;
/// The same for a post-quantum initial envelope (prefix of 1,208 bytes).
pub const INITIAL_OVERHEAD: usize = 1208 + 80 + 24 + 16;

/// Where the message part (sealed header) starts: 2 for a message envelope, 1,208 (or 120
/// when classical) for an initial one.
pub fn header_offset(envelope: &[u8]) -> usize {
    match envelope[1] {
        2 => 2,
        1 if envelope[11] == 1 => 1208,
        1 => 120,
        kind => panic!("unknown envelope kind {kind}"),
    }
}

/// The header nonce (first 24 bytes of the sealed header) and the body nonce.
pub fn nonces(envelope: &[u8]) -> ([u8; 24], [u8; 24]) {
    let h = header_offset(envelope);
    let header: [u8; 24] = envelope[h..h + 24].try_into().expect("24 bytes");
    let body: [u8; 24] = envelope[h + 80..h + 104].try_into().expect("24 bytes");
    (header, body)
}

/// The client payload length of a body from `user` (docs/PROTOCOL.md, section 12.2).
pub fn payload_len(user: &str, body_len: usize) -> usize {
    1 + 1 + user.len() + 4 + 8 + body_len
}
