//! The sans-IO device (docs/ARCHITECTURE.md, sections 3 to 6), driven by hand in the order
//! its doc gives, and the async driver under tokio: one task, many tasks sharing a client,
//! and a transport that fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hemlis::store::{Rows, Table};
use hemlis::transport::{Incoming, TransportError};
use hemlis::{
    Address, AsyncClient, AsyncClientParts, AsyncTransport, ClientConfig, ClientError, Device, InMemoryRelay,
    Lookup, Lookups, MemoryStore, SqliteStore, Transport,
};
use hemlis_test::clock::FixedClock;
use hemlis_test::rng::rng;
use hemlis_test::tempdir::TempDir;
use rand_chacha::ChaCha20Rng;

const NOW: u64 = 1_700_000_000;

/// A device created and published by hand.
fn device(relay: &InMemoryRelay, user: &str, id: u32, rng: &mut ChaCha20Rng) -> Device {
    let mut device = Device::create(
        user,
        id,
        [9; 32],
        Box::new(MemoryStore::new()),
        ClientConfig::default(),
        NOW,
        rng,
    )
    .unwrap();
    assert!(device.upkeep(NOW, rng).unwrap());
    let upload = device.poll_upload().expect("a new device has prekeys to publish");
    Transport::publish(relay, device.address(), &upload.bytes).unwrap();
    device.handle_published(&upload, rng).unwrap();
    assert_eq!(device.poll_upload(), None);
    let list = device
        .poll_device_list()
        .expect("a new account has its list to publish");
    Transport::publish_device_list(relay, user, &list.bytes).unwrap();
    device.handle_list_published(list.version, rng).unwrap();
    assert_eq!(device.poll_device_list(), None);
    device
}

/// Takes `user`'s list from the relay, as a driver does before a send.
fn refresh(device: &mut Device, relay: &InMemoryRelay, user: &str, rng: &mut ChaCha20Rng) {
    let list = Transport::fetch_device_list(relay, user).unwrap();
    device.handle_device_list(user, &list, rng).unwrap();
}

fn snapshot(device: &Device) -> Vec<Rows> {
    [
        Table::Meta,
        Table::Account,
        Table::Peers,
        Table::Outbox,
        Table::Inbox,
    ]
    .into_iter()
    .map(|t| device.store().scan(t).unwrap())
    .collect()
}

fn answer(relay: &InMemoryRelay, lookups: Vec<Lookup>) -> Lookups {
    let mut answers = Lookups::new();
    for lookup in lookups {
        match lookup {
            Lookup::Bundle(to) => {
                let bundle = Transport::fetch_bundle(relay, &to).unwrap();
                answers.add_bundle(to, bundle);
            }
            other => panic!("unexpected lookup {other:?}"),
        }
    }
    answers
}

#[test]
fn a_device_driven_by_hand_in_the_documented_order_delivers_once() {
    let relay = InMemoryRelay::new();
    let mut r = rng(1);
    let mut alice = device(&relay, "alice", 1, &mut r);
    let mut bob = device(&relay, "bob", 1, &mut r);
    refresh(&mut alice, &relay, "bob", &mut r);
    refresh(&mut bob, &relay, "alice", &mut r);
    let to_bob = Address::new("bob", 1).unwrap();

    let targets = alice.targets("bob").unwrap();
    assert_eq!(targets, std::slice::from_ref(&to_bob));
    let lookups = alice.lookups(&targets).unwrap();
    assert_eq!(lookups, [Lookup::Bundle(to_bob.clone())]);
    let answers = answer(&relay, lookups);
    assert_eq!(alice.send(&targets, b"hello", &answers, NOW, &mut r).unwrap(), 1);
    assert_eq!(alice.outbox_len().unwrap(), 1);

    // One envelope, handed out once until it is reported back.
    let transmit = alice.poll_transmit().unwrap().expect("the envelope to send");
    assert_eq!(transmit.to, to_bob);
    assert_eq!(alice.poll_transmit().unwrap(), None);
    let outcome = Transport::send(&relay, alice.address(), &transmit.to, &transmit.envelope);
    alice.handle_transmit(transmit.id, &outcome).unwrap();
    assert_eq!(alice.outbox_len().unwrap(), 0);
    assert_eq!(alice.poll_transmit().unwrap(), None);

    let incoming = Transport::fetch(&relay, bob.address()).unwrap();
    let report = bob.handle_incoming(&incoming, &mut r).unwrap();
    assert_eq!(report.messages.len(), 1);
    assert_eq!(report.messages[0].body, b"hello");
    assert_eq!(report.duplicates, 0);
    let acks = bob.poll_acks();
    assert_eq!(acks, [incoming[0].id]);
    assert!(bob.poll_acks().is_empty(), "acks are taken once");

    // The same envelope again (an acknowledgement lost): recognised, acknowledged again,
    // not delivered twice.
    let again = bob.handle_incoming(&incoming, &mut r).unwrap();
    assert_eq!(again.duplicates, 1);
    assert_eq!(again.messages.len(), 1, "still only the one message in the inbox");
    assert_eq!(bob.poll_acks(), [incoming[0].id]);
    Transport::ack(&relay, bob.address(), &acks).unwrap();

    // With a session with the listed identity key, a send asks the relay nothing.
    assert_eq!(alice.lookups(&targets).unwrap(), []);
}

#[test]
fn a_send_without_the_bundle_it_needs_changes_nothing() {
    let relay = InMemoryRelay::new();
    let mut r = rng(2);
    let mut alice = device(&relay, "alice", 1, &mut r);
    let _bob = device(&relay, "bob", 1, &mut r);
    refresh(&mut alice, &relay, "bob", &mut r);
    let to_bob = Address::new("bob", 1).unwrap();
    let before = snapshot(&alice);
    let err = alice
        .send(std::slice::from_ref(&to_bob), b"hi", &Lookups::new(), NOW, &mut r)
        .unwrap_err();
    assert_eq!(
        err,
        ClientError::BundleNeeded {
            address: to_bob.clone()
        }
    );
    assert_eq!(snapshot(&alice), before);
    assert_eq!(alice.poll_transmit().unwrap(), None);

    // A bundle that does not decode: a protocol error, and still nothing changes.
    let mut answers = Lookups::new();
    answers.add_bundle(to_bob.clone(), vec![1, 2, 3]);
    let err = alice.send(&[to_bob], b"hi", &answers, NOW, &mut r).unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    assert_eq!(snapshot(&alice), before);
}

#[test]
fn a_transmit_that_may_pass_comes_back_first_and_one_refused_for_good_leaves() {
    let relay = InMemoryRelay::new();
    let mut r = rng(3);
    let mut alice = device(&relay, "alice", 1, &mut r);
    let _bob = device(&relay, "bob", 1, &mut r);
    refresh(&mut alice, &relay, "bob", &mut r);
    let to_bob = Address::new("bob", 1).unwrap();
    let targets = [to_bob];
    for body in [b"one", b"two"] {
        let answers = answer(&relay, alice.lookups(&targets).unwrap());
        alice.send(&targets, body, &answers, NOW, &mut r).unwrap();
    }
    let first = alice.poll_transmit().unwrap().unwrap();
    let unavailable = Err(TransportError::Unavailable("down".into()));
    alice.handle_transmit(first.id, &unavailable).unwrap();
    assert_eq!(alice.outbox_len().unwrap(), 2);
    let retried = alice.poll_transmit().unwrap().unwrap();
    assert_eq!(retried, first, "the failed envelope comes back, oldest first");
    alice
        .handle_transmit(retried.id, &Err(TransportError::Rejected("no".into())))
        .unwrap();
    assert_eq!(
        alice.outbox_len().unwrap(),
        1,
        "refused for good: it leaves the outbox"
    );
    let second = alice.poll_transmit().unwrap().unwrap();
    assert_ne!(second.id, first.id);
    alice.handle_transmit(second.id, &Ok(())).unwrap();
    assert_eq!(alice.outbox_len().unwrap(), 0);
}

#[test]
fn the_outbox_is_polled_again_after_open() {
    let relay = InMemoryRelay::new();
    let mut r = rng(4);
    let dir = TempDir::new("device");
    let db = dir.join("alice.db");
    let _ = std::fs::remove_file(&db);
    let mut alice = Device::create(
        "alice",
        1,
        [9; 32],
        Box::new(SqliteStore::open(&db).unwrap()),
        ClientConfig::default(),
        NOW,
        &mut r,
    )
    .unwrap();
    let _bob = device(&relay, "bob", 1, &mut r);
    refresh(&mut alice, &relay, "bob", &mut r);
    let targets = [Address::new("bob", 1).unwrap()];
    let answers = answer(&relay, alice.lookups(&targets).unwrap());
    alice.send(&targets, b"kept", &answers, NOW, &mut r).unwrap();
    let lost = alice.poll_transmit().unwrap().unwrap();
    drop(alice); // the process dies with the envelope in flight
    let store = SqliteStore::open(&db).unwrap();
    let mut reopened = Device::open([9; 32], Box::new(store), ClientConfig::default()).unwrap();
    assert_eq!(reopened.poll_transmit().unwrap(), Some(lost));
    assert!(
        reopened.poll_upload().is_some(),
        "the unpublished prekeys wait too"
    );
    drop(reopened);
}

#[test]
fn an_upload_polled_before_newer_keys_does_not_mark_them_published() {
    let mut r = rng(5);
    let config = ClientConfig::default();
    let mut alice = Device::create(
        "alice",
        1,
        [9; 32],
        Box::new(MemoryStore::new()),
        config,
        NOW,
        &mut r,
    )
    .unwrap();
    assert!(alice.upkeep(NOW, &mut r).unwrap());
    let old = alice.poll_upload().unwrap();
    // Time for a new signed prekey: newer keys than the polled upload holds.
    let later = NOW + config.signed_prekey_rotation;
    assert!(alice.upkeep(later, &mut r).unwrap());
    let new = alice.poll_upload().unwrap();
    assert_ne!(old, new);
    alice.handle_published(&old, &mut r).unwrap();
    assert_eq!(
        alice.poll_upload(),
        Some(new.clone()),
        "the newer keys still wait"
    );
    alice.handle_published(&new, &mut r).unwrap();
    assert_eq!(alice.poll_upload(), None);
    // Nothing to do: no commit, nothing to publish.
    let before = snapshot(&alice);
    assert!(!alice.upkeep(later, &mut r).unwrap());
    assert_eq!(snapshot(&alice), before);
}

#[test]
fn a_device_and_an_async_client_are_send_and_sync_where_they_must_be() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Device>();
    send::<AsyncClient<InMemoryRelay>>();
    sync::<AsyncClient<InMemoryRelay>>();
}

/// An async transport over the in-memory relay that yields to the executor before every
/// call (so tasks interleave) and can be switched to fail sends.
#[derive(Clone)]
struct Yielding {
    relay: InMemoryRelay,
    down: Arc<AtomicBool>,
    sends: Arc<AtomicUsize>,
}

impl Yielding {
    fn new(relay: &InMemoryRelay) -> Self {
        Self {
            relay: relay.clone(),
            down: Arc::new(AtomicBool::new(false)),
            sends: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl AsyncTransport for Yielding {
    async fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        tokio::task::yield_now().await;
        Transport::publish(&self.relay, device, upload)
    }
    async fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        tokio::task::yield_now().await;
        Transport::publish_device_list(&self.relay, user, list)
    }
    async fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        tokio::task::yield_now().await;
        Transport::fetch_device_list(&self.relay, user)
    }
    async fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        tokio::task::yield_now().await;
        Transport::fetch_bundle(&self.relay, device)
    }
    async fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        tokio::task::yield_now().await;
        if self.down.load(Ordering::SeqCst) {
            return Err(TransportError::Unavailable("switched off".into()));
        }
        self.sends.fetch_add(1, Ordering::SeqCst);
        Transport::send(&self.relay, from, to, envelope)
    }
    async fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        tokio::task::yield_now().await;
        Transport::fetch(&self.relay, device)
    }
    async fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        tokio::task::yield_now().await;
        Transport::ack(&self.relay, device, ids)
    }
}

fn async_parts<T>(transport: T, seed: u64) -> AsyncClientParts<T> {
    AsyncClientParts {
        storage_key: [7; 32],
        store: Box::new(MemoryStore::new()),
        transport,
        clock: Box::new(FixedClock(NOW)),
        rng: Box::new(rng(seed)),
        config: ClientConfig::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_async_clients_talk_under_tokio() {
    let relay = InMemoryRelay::new();
    let alice = AsyncClient::create("alice", 1, async_parts(relay.clone(), 10))
        .await
        .unwrap();
    let bob = AsyncClient::create("bob", 1, async_parts(Yielding::new(&relay), 11))
        .await
        .unwrap();
    assert_eq!(alice.send("bob", b"hello bob").await.unwrap(), 1);
    let report = bob.receive().await.unwrap();
    assert_eq!(report.messages.len(), 1);
    assert_eq!(report.messages[0].body, b"hello bob");
    assert_eq!(&report.messages[0].from, alice.address());
    bob.mark_read(&[report.messages[0].id]).unwrap();
    assert_eq!(bob.send("alice", b"hello alice").await.unwrap(), 1);
    let report = alice.receive().await.unwrap();
    assert_eq!(report.messages[0].body, b"hello alice");
    assert_eq!(
        alice.safety_number("bob").unwrap(),
        bob.safety_number("alice").unwrap()
    );
    assert!(alice.is_post_quantum(bob.address()).unwrap());
    assert!(bob.receive().await.unwrap().messages.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_async_client_and_every_message_arrives_once() {
    let relay = InMemoryRelay::new();
    let transport = Yielding::new(&relay);
    let sends = transport.sends.clone();
    let alice = Arc::new(
        AsyncClient::create("alice", 1, async_parts(transport, 20))
            .await
            .unwrap(),
    );
    let bob = Arc::new(
        AsyncClient::create("bob", 1, async_parts(Yielding::new(&relay), 21))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for i in 0..20u8 {
        let alice = alice.clone();
        tasks.push(tokio::spawn(async move {
            alice.send("bob", &[i]).await.unwrap();
            alice.flush().await.unwrap();
        }));
    }
    // Receives race the sends.
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let bob = bob.clone();
        receivers.push(tokio::spawn(
            async move { bob.receive().await.unwrap().duplicates },
        ));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for receiver in receivers {
        receiver.await.unwrap();
    }
    assert_eq!(alice.outbox_len().unwrap(), 0);
    assert_eq!(
        sends.load(Ordering::SeqCst),
        20,
        "each envelope went to the relay once"
    );
    bob.receive().await.unwrap();
    let mut bodies: Vec<u8> = bob.inbox().unwrap().iter().map(|m| m.body[0]).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, (0..20).collect::<Vec<u8>>(), "every message once");
}

#[tokio::test(flavor = "current_thread")]
async fn an_async_send_that_the_transport_fails_waits_in_the_outbox() {
    let relay = InMemoryRelay::new();
    let transport = Yielding::new(&relay);
    let down = transport.down.clone();
    let alice = AsyncClient::create("alice", 1, async_parts(transport, 30))
        .await
        .unwrap();
    let bob = AsyncClient::create("bob", 1, async_parts(relay.clone(), 31))
        .await
        .unwrap();
    down.store(true, Ordering::SeqCst);
    assert_eq!(alice.send("bob", b"later").await.unwrap(), 1);
    assert_eq!(alice.outbox_len().unwrap(), 1);
    assert!(matches!(
        alice.flush().await,
        Err(ClientError::Transport(TransportError::Unavailable(_)))
    ));
    assert!(bob.receive().await.unwrap().messages.is_empty());
    down.store(false, Ordering::SeqCst);
    assert_eq!(alice.flush().await.unwrap(), 1);
    assert_eq!(alice.outbox_len().unwrap(), 0);
    let report = bob.receive().await.unwrap();
    assert_eq!(report.messages.len(), 1);
    assert_eq!(report.messages[0].body, b"later");
}
