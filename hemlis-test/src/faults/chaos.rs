//! Fault injection driven by a seeded RNG: a `Store` wrapper that fails the Nth write or a
//! chosen commit (or commits at random), and a `Transport` wrapper that drops (holds back),
//! duplicates and reorders envelopes and fails sends, answers, acknowledgements and every
//! other call at random. Both change nothing when they fail (a failed commit applies no
//! write), as the `Store` and `Transport` contracts require; the transport's "drop" holds
//! an envelope back from a fetch a bounded number of times, since an envelope the relay
//! really loses cannot be recovered by any client. Switching the faults off leaves a
//! faithful store and relay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hemlis::rand_core::{Rng, SeedableRng};
use hemlis::store::{Rows, StoreError, Table, Write};
use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, InMemoryRelay, Store, Transport};
use rand_chacha::ChaCha20Rng;

use super::{Sent, down};
use crate::forward::{Forward, Forwarding};
use crate::lock;

/// How many faults of each kind were injected.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FaultCounts {
    /// Commits failed.
    pub failed_commits: usize,
    /// Sends failed before the relay.
    pub failed_sends: usize,
    /// Sends that reached the relay and reported failure.
    pub lost_send_answers: usize,
    /// Sends that reached the relay twice.
    pub duplicated_sends: usize,
    /// Acknowledgements failed.
    pub failed_acks: usize,
    /// Fetches failed.
    pub failed_fetches: usize,
    /// Envelopes held back from a fetch.
    pub held_back: usize,
    /// Envelopes handed out twice in one fetch.
    pub duplicated_deliveries: usize,
    /// Fetch answers shuffled.
    pub reordered_fetches: usize,
    /// Other calls failed.
    pub failed_other_calls: usize,
}

/// A probability in parts per thousand, drawn from `rng`.
fn chance(rng: &mut ChaCha20Rng, per_mille: u32) -> bool {
    per_mille > 0 && rng.next_u32() % 1000 < per_mille
}

// ---------------------------------------------------------------------------------------
// Store

/// The plan of a [`ChaosStore`]: deterministic faults (the Nth write, a chosen commit) and
/// random ones, with counts. Clones share everything.
#[derive(Clone)]
pub struct StorePlan(Arc<Mutex<StorePlanState>>);

struct StorePlanState {
    rng: ChaCha20Rng,
    /// Random commit failures, per thousand commits (while `on`).
    per_mille: u32,
    on: bool,
    /// Writes and commits seen (attempted), over the plan's life.
    writes: usize,
    commits: usize,
    /// The commit holding this write (counted from 1 over `writes`) fails.
    fail_write: Option<usize>,
    /// This commit (counted from 1 over `commits`) fails.
    fail_commit: Option<usize>,
    counts: FaultCounts,
}

impl StorePlan {
    /// A plan failing `per_mille` of the commits at random, from `seed`.
    pub fn new(seed: u64, per_mille: u32) -> Self {
        Self(Arc::new(Mutex::new(StorePlanState {
            rng: ChaCha20Rng::seed_from_u64(seed),
            per_mille,
            on: true,
            writes: 0,
            commits: 0,
            fail_write: None,
            fail_commit: None,
            counts: FaultCounts::default(),
        })))
    }

    /// The commit that carries the `n`th write from now (1: the next write) fails.
    pub fn fail_nth_write(&self, n: usize) {
        let mut s = lock(&self.0);
        s.fail_write = Some(s.writes + n);
    }

    /// The `n`th commit from now (1: the next one) fails.
    pub fn fail_nth_commit(&self, n: usize) {
        let mut s = lock(&self.0);
        s.fail_commit = Some(s.commits + n);
    }

    /// Switches the random faults on or off (the deterministic ones stay armed).
    pub fn set_on(&self, on: bool) {
        lock(&self.0).on = on;
    }

    /// The faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        lock(&self.0).counts
    }

    /// The commits attempted so far.
    pub fn commits(&self) -> usize {
        lock(&self.0).commits
    }

    /// Decides the fate of a commit of `writes` writes: true to fail it.
    fn fails(&self, writes: usize) -> bool {
        let mut s = lock(&self.0);
        s.commits += 1;
        let first = s.writes + 1;
        s.writes += writes;
        let by_write = s.fail_write.is_some_and(|n| n >= first && n <= s.writes);
        if by_write {
            s.fail_write = None;
        }
        let by_commit = s.fail_commit == Some(s.commits);
        if by_commit {
            s.fail_commit = None;
        }
        let per_mille = s.per_mille;
        let random = s.on && chance(&mut s.rng, per_mille);
        let fail = by_write || by_commit || random;
        if fail {
            s.counts.failed_commits += 1;
        }
        fail
    }
}

/// A store that fails commits as its [`StorePlan`] says; a failed commit applies nothing.
pub struct ChaosStore {
    inner: Box<dyn Store>,
    plan: StorePlan,
}

impl ChaosStore {
    /// `inner` behind `plan`.
    pub fn new(inner: Box<dyn Store>, plan: &StorePlan) -> Self {
        Self {
            inner,
            plan: plan.clone(),
        }
    }
}

impl Store for ChaosStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }
    fn scan(&self, table: Table) -> Result<Rows, StoreError> {
        self.inner.scan(table)
    }
    fn commit(&mut self, writes: Vec<Write>) -> Result<(), StoreError> {
        if self.plan.fails(writes.len()) {
            return Err(StoreError::Backend("injected commit failure".into()));
        }
        self.inner.commit(writes)
    }
}

// ---------------------------------------------------------------------------------------
// Transport

/// Fault rates of a [`ChaosTransport`], per thousand calls (or envelopes).
#[derive(Debug, Clone, Copy)]
pub struct TransportRates {
    /// `send` fails before the relay.
    pub fail_send: u32,
    /// `send` reaches the relay, but the answer is lost.
    pub lose_send_answer: u32,
    /// `send` reaches the relay twice (two ids, the same bytes).
    pub duplicate_send: u32,
    /// `ack` fails before the relay.
    pub fail_ack: u32,
    /// `fetch` fails.
    pub fail_fetch: u32,
    /// An envelope is held back from one fetch (dropped from it).
    pub hold_back: u32,
    /// An envelope is handed out twice in one fetch.
    pub duplicate_delivery: u32,
    /// A fetch answer is shuffled.
    pub reorder: u32,
    /// `publish`, `publish_device_list`, `fetch_device_list` or `fetch_bundle` fails.
    pub fail_other: u32,
    /// The most times one envelope is held back.
    pub max_hold_backs: u32,
}

impl TransportRates {
    /// The rates of the fault-injection tests.
    pub const DEFAULT: Self = Self {
        fail_send: 80,
        lose_send_answer: 40,
        duplicate_send: 30,
        fail_ack: 100,
        fail_fetch: 50,
        hold_back: 150,
        duplicate_delivery: 30,
        reorder: 300,
        fail_other: 50,
        max_hold_backs: 2,
    };
}

struct TransportState {
    rng: ChaCha20Rng,
    rates: TransportRates,
    /// Times each (device, relay id) was held back.
    held: HashMap<(Address, u64), u32>,
    counts: FaultCounts,
}

/// The in-memory relay behind seeded random faults, recording every envelope that reached
/// the relay (copies included). Clones share the relay, the faults and the record.
#[derive(Clone)]
pub struct ChaosTransport {
    /// The relay behind the faults.
    pub relay: InMemoryRelay,
    on: Arc<AtomicBool>,
    state: Arc<Mutex<TransportState>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl ChaosTransport {
    /// The relay behind faults at `rates`, drawn from `seed`.
    pub fn new(relay: &InMemoryRelay, seed: u64, rates: TransportRates) -> Self {
        Self {
            relay: relay.clone(),
            on: Arc::new(AtomicBool::new(true)),
            state: Arc::new(Mutex::new(TransportState {
                rng: ChaCha20Rng::seed_from_u64(seed),
                rates,
                held: HashMap::new(),
                counts: FaultCounts::default(),
            })),
            sent: Arc::default(),
        }
    }

    /// Switches the faults on or off.
    pub fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::SeqCst);
    }

    /// The faults injected so far.
    pub fn counts(&self) -> FaultCounts {
        lock(&self.state).counts
    }

    /// Every envelope that reached the relay, in order (a duplicated send twice).
    pub fn sent(&self) -> Vec<Sent> {
        lock(&self.sent).clone()
    }

    /// A new handle, boxed for a client.
    pub fn boxed(&self) -> Box<dyn Transport> {
        Box::new(Forwarding(self.clone()))
    }

    /// Runs `f` on the state if the faults are on.
    fn roll(&self, f: impl FnOnce(&mut TransportState) -> bool) -> bool {
        self.on.load(Ordering::SeqCst) && f(&mut lock(&self.state))
    }

    fn other_call_fails(&self) -> bool {
        self.roll(|s| {
            let fail = chance(&mut s.rng, s.rates.fail_other);
            s.counts.failed_other_calls += usize::from(fail);
            fail
        })
    }

    fn record(&self, from: &Address, to: &Address, envelope: &[u8]) {
        lock(&self.sent).push(Sent {
            from: from.clone(),
            to: to.clone(),
            envelope: envelope.to_vec(),
        });
    }
}

impl Forward for ChaosTransport {
    fn inner(&self) -> &dyn Transport {
        &self.relay
    }

    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        if self.other_call_fails() {
            return Err(down("publish"));
        }
        self.relay.publish(device, upload)
    }

    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        if self.other_call_fails() {
            return Err(down("publish_device_list"));
        }
        self.relay.publish_device_list(user, list)
    }

    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        if self.other_call_fails() {
            return Err(down("fetch_device_list"));
        }
        self.relay.fetch_device_list(user)
    }

    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        if self.other_call_fails() {
            return Err(down("fetch_bundle"));
        }
        self.relay.fetch_bundle(device)
    }

    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        let (fail, twice, lose) = if self.on.load(Ordering::SeqCst) {
            let s = &mut *lock(&self.state);
            let fail = chance(&mut s.rng, s.rates.fail_send);
            let twice = !fail && chance(&mut s.rng, s.rates.duplicate_send);
            let lose = !fail && chance(&mut s.rng, s.rates.lose_send_answer);
            s.counts.failed_sends += usize::from(fail);
            s.counts.duplicated_sends += usize::from(twice);
            s.counts.lost_send_answers += usize::from(lose);
            (fail, twice, lose)
        } else {
            (false, false, false)
        };
        if fail {
            return Err(down("send"));
        }
        for _ in 0..if twice { 2 } else { 1 } {
            self.relay.send(from, to, envelope)?;
            self.record(from, to, envelope);
        }
        if lose {
            return Err(down("send answer"));
        }
        Ok(())
    }

    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let waiting = self.relay.fetch(device)?;
        if !self.on.load(Ordering::SeqCst) {
            return Ok(waiting);
        }
        let s = &mut *lock(&self.state);
        if chance(&mut s.rng, s.rates.fail_fetch) {
            s.counts.failed_fetches += 1;
            return Err(down("fetch"));
        }
        let mut out = Vec::with_capacity(waiting.len());
        for incoming in waiting {
            let key = (device.clone(), incoming.id);
            let held = s.held.get(&key).copied().unwrap_or(0);
            if held < s.rates.max_hold_backs && chance(&mut s.rng, s.rates.hold_back) {
                s.held.insert(key, held + 1);
                s.counts.held_back += 1;
                continue;
            }
            if chance(&mut s.rng, s.rates.duplicate_delivery) {
                s.counts.duplicated_deliveries += 1;
                out.push(incoming.clone());
            }
            out.push(incoming);
        }
        if out.len() > 1 && chance(&mut s.rng, s.rates.reorder) {
            s.counts.reordered_fetches += 1;
            for i in (1..out.len()).rev() {
                let j = (s.rng.next_u32() as usize) % (i + 1);
                out.swap(i, j);
            }
        }
        Ok(out)
    }

    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        let fail = self.roll(|s| {
            let fail = chance(&mut s.rng, s.rates.fail_ack);
            s.counts.failed_acks += usize::from(fail);
            fail
        });
        if fail {
            return Err(down("ack"));
        }
        self.relay.ack(device, ids)
    }
}
