//! Stores and transports with faults: [`FaultyStore`] and [`TestTransport`] fail the calls
//! a test switches on; [`chaos`] fails them at random from a seeded RNG. A call that fails
//! changes nothing, as the `Store` and `Transport` contracts require.

pub mod chaos;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hemlis::store::{Rows, StoreError, Table, Write};
use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, InMemoryRelay, Store, Transport};

use crate::forward::{Forward, Forwarding};
use crate::lock;

// ---------------------------------------------------------------------------------------
// Store

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
    /// `inner` behind the switches of `faults`.
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
// Transport

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
    /// Switches one fault on or off.
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
    /// The sender.
    pub from: Address,
    /// The receiver.
    pub to: Address,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

/// The in-memory relay seen through a transport with switchable faults, recording every
/// envelope that reached the relay. Clones share the relay, the switches and the record.
#[derive(Clone)]
pub struct TestTransport {
    /// The relay behind the faults.
    pub relay: InMemoryRelay,
    /// The switches.
    pub faults: Arc<TransportFaults>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl TestTransport {
    /// The relay with every fault off.
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

    /// How many envelopes reached the relay.
    pub fn sent_len(&self) -> usize {
        lock(&self.sent).len()
    }

    /// How many envelopes wait at the relay for a device.
    pub fn pending(&self, device: &Address) -> usize {
        self.relay.fetch(device).expect("relay").len()
    }

    /// A new handle, boxed for a client.
    pub fn boxed(&self) -> Box<dyn Transport> {
        Box::new(Forwarding(self.clone()))
    }
}

impl Forward for TestTransport {
    fn inner(&self) -> &dyn Transport {
        &self.relay
    }
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        if self.faults.fail_publish.load(Ordering::SeqCst) {
            return Err(down("publish"));
        }
        self.relay.publish(device, upload)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        if self.faults.fail_publish.load(Ordering::SeqCst) {
            return Err(down("publish_device_list"));
        }
        self.relay.publish_device_list(user, list)
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
}
