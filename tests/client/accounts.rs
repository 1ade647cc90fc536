//! Accounts (docs/PROTOCOL.md, section 13) against a hostile relay: devices the relay adds,
//! old or forged device lists, linking through a relay that substitutes, users with
//! several devices, pins deleted or rolled back at rest, and safety numbers per user.

use std::sync::{Arc, Mutex};

use hemlis::store::{Table, Write};
use hemlis::transport::TransportError;
use hemlis::{
    Address, Client, ClientError, DecodeError, Error, InMemoryRelay, KeyError, LinkCode, MemoryStore,
    RejectReason, SqliteStore, Store, Transport,
};
use hemlis_test::client::{link, parts, receive_exactly, small_config};
use hemlis_test::clock::{T0, TestClock};
use hemlis_test::forward::{Forward, Forwarding};
use hemlis_test::rng::Draws;
use hemlis_test::store::SharedStore;
use hemlis_test::tempdir::TempDir;

/// What a hostile relay changes in its answers.
#[derive(Default)]
struct Lies {
    /// Hand out this bundle instead of the device's own.
    bundle: Option<(Address, Vec<u8>)>,
    /// Hand out this list instead of the user's newest one.
    list: Option<(String, Vec<u8>)>,
}

/// The relay as its operator could run it: honest storage, answers it can falsify, and
/// devices of its own whose lists it keeps to itself.
#[derive(Clone)]
struct Hostile {
    relay: InMemoryRelay,
    lies: Arc<Mutex<Lies>>,
    /// Lists published through this handle are dropped (the relay's own devices).
    keep_lists: bool,
}

impl Forward for Hostile {
    fn inner(&self) -> &dyn Transport {
        &self.relay
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        if let Some((at, bundle)) = &self.lies.lock().unwrap().bundle
            && at == device
        {
            return Ok(bundle.clone());
        }
        self.relay.fetch_bundle(device)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        if let Some((of, list)) = &self.lies.lock().unwrap().list
            && of == user
        {
            return Ok(list.clone());
        }
        self.relay.fetch_device_list(user)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        if self.keep_lists {
            return Ok(());
        }
        self.relay.publish_device_list(user, list)
    }
}

struct World {
    relay: InMemoryRelay,
    lies: Arc<Mutex<Lies>>,
    clock: TestClock,
    draws: Draws,
    seed: u64,
}

impl World {
    fn new() -> Self {
        Self {
            relay: InMemoryRelay::new(),
            lies: Arc::default(),
            clock: TestClock::new(T0),
            draws: Draws::default(),
            seed: 100,
        }
    }

    fn transport(&self, keep_lists: bool) -> Box<dyn Transport> {
        Box::new(Forwarding(Hostile {
            relay: self.relay.clone(),
            lies: self.lies.clone(),
            keep_lists,
        }))
    }

    fn parts_with(&mut self, store: Box<dyn Store>, rogue: bool) -> hemlis::ClientParts {
        self.seed += 1;
        parts(
            self.transport(rogue),
            store,
            &self.clock,
            self.seed,
            &self.draws,
            small_config(),
        )
    }

    /// The first device of a new account.
    fn first(&mut self, user: &str, device: u32) -> Client {
        let parts = self.parts_with(Box::new(MemoryStore::new()), false);
        Client::create(user, device, parts).expect("create")
    }

    /// A device waiting to be linked.
    fn waiting(&mut self, user: &str, device: u32) -> Client {
        let parts = self.parts_with(Box::new(MemoryStore::new()), false);
        Client::create_linked(user, device, parts).expect("create linked")
    }

    /// A device of the relay's own under `user`: a valid prekey upload under a key the
    /// relay made, and an account of its own that it does not publish.
    fn rogue(&mut self, user: &str, device: u32) -> Client {
        let parts = self.parts_with(Box::new(MemoryStore::new()), true);
        Client::create(user, device, parts).expect("create")
    }

    fn mailbox(&self, device: &Address) -> usize {
        Transport::fetch(&self.relay, device).expect("relay").len()
    }

    fn lie(&self, f: impl FnOnce(&mut Lies)) {
        f(&mut self.lies.lock().unwrap());
    }
}

fn addr(user: &str, device: u32) -> Address {
    Address::new(user, device).expect("address")
}

/// Alice and Bob write both ways and compare safety numbers.
fn verified(w: &mut World, alice: &mut Client, bob: &mut Client) {
    let _ = w;
    alice.send("bob", b"hello bob").expect("send");
    receive_exactly(bob, &[b"hello bob"]);
    bob.send("alice", b"hello alice").expect("send");
    receive_exactly(alice, &[b"hello alice"]);
    assert_eq!(
        alice.safety_number("bob").expect("safety"),
        bob.safety_number("alice").expect("safety")
    );
}

#[test]
fn a_device_the_relay_adds_gets_nothing_and_its_messages_are_rejected_with_sqlite() {
    let dir = TempDir::new("accounts-rogue");
    let mut w = World::new();
    let p = w.parts_with(Box::new(SqliteStore::open(dir.join("alice.db")).unwrap()), false);
    let mut alice = Client::create("alice", 1, p).expect("create");
    let p = w.parts_with(Box::new(SqliteStore::open(dir.join("bob.db")).unwrap()), false);
    let mut bob = Client::create("bob", 1, p).expect("create");
    verified(&mut w, &mut alice, &mut bob);

    // The relay publishes a device of its own under Bob's user id.
    let mut rogue = w.rogue("bob", 99);
    let rogue_address = addr("bob", 99);
    assert_eq!(w.relay.with_state(|s| s.devices("bob")).unwrap(), [1, 99]);

    // Alice to Bob: only Bob's listed device gets anything.
    assert_eq!(alice.send("bob", b"the secret plan").expect("send"), 1);
    assert_eq!(w.mailbox(&rogue_address), 0);
    receive_exactly(&mut bob, &[b"the secret plan"]);

    // The relay's device to Alice (and to Bob, as one of "his own"): rejected, shown
    // nowhere.
    rogue.refresh_list("alice").expect("list");
    assert_eq!(
        rogue
            .send_to(&[addr("alice", 1)], b"it is me, bob")
            .expect("send"),
        1
    );
    let report = alice.receive().expect("receive");
    assert!(report.messages.is_empty());
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].from, rogue_address);
    assert_eq!(report.rejected[0].reason, RejectReason::UnlistedDevice);
    assert_eq!(alice.peer_identity(&rogue_address).unwrap(), None);
    assert_eq!(alice.pending_account("bob"), None);
    // To write to Bob as one of his own devices, the relay's account lists Bob's device
    // (a link code it makes up: its provisioning message is refused too).
    let mut made_up = vec![1, 3];
    made_up.extend_from_slice(b"bob");
    made_up.extend_from_slice(&1u32.to_be_bytes());
    made_up.extend_from_slice(bob.identity_key().as_bytes());
    made_up.extend_from_slice(&[7; 16]);
    rogue
        .link(&LinkCode::from_bytes(&made_up).unwrap())
        .expect("link");
    assert_eq!(
        rogue
            .send_to(&[addr("bob", 1)], b"note from your other device")
            .expect("send"),
        1
    );
    let report = bob.receive().expect("receive");
    assert!(report.messages.is_empty());
    let reasons: Vec<RejectReason> = report.rejected.into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, [RejectReason::Misdirected, RejectReason::UnlistedDevice]);

    // The relay serves a list of its own for Bob, signed by its key: an account change,
    // never silent: Alice's sends are blocked and nothing leaves.
    let forged = w
        .relay
        .with_state(|_| ())
        .map(|()| rogue.device().own_device_list().unwrap().encode());
    w.lie(|l| l.list = Some(("bob".into(), forged.unwrap())));
    let before = w.mailbox(&rogue_address);
    assert_eq!(
        alice.send("bob", b"still there?"),
        Err(ClientError::AccountChanged { user: "bob".into() })
    );
    assert_eq!(w.mailbox(&rogue_address), before);
    assert_eq!(alice.outbox_len().unwrap(), 0);

    // Both conversations are intact afterwards.
    w.lie(|l| l.list = None);
    bob.send("alice", b"still me").expect("send");
    let got = receive_exactly(&mut alice, &[b"still me"]);
    assert!(!got[0].identity_changed);
}

#[test]
fn an_old_or_forged_device_list_is_refused_and_a_removed_device_gets_nothing() {
    let mut w = World::new();
    let mut alice = w.first("alice", 1);
    let mut bob = w.first("bob", 1);
    let v1 = Transport::fetch_device_list(&w.relay, "bob").unwrap();
    let mut bob2 = w.waiting("bob", 2);
    link(&mut bob, &mut bob2);
    assert_eq!(alice.send("bob", b"to both").expect("send"), 2);
    receive_exactly(&mut bob, &[b"to both"]);
    receive_exactly(&mut bob2, &[b"to both"]);
    assert_eq!(alice.device().device_list("bob").unwrap().version(), 2);

    // A replay of version 1 (which lacks bob/2): refused, nothing sent.
    w.lie(|l| l.list = Some(("bob".into(), v1.clone())));
    assert_eq!(
        alice.send("bob", b"x"),
        Err(ClientError::StaleDeviceList { user: "bob".into() })
    );
    // A list with one bit of its signature or of its body flipped.
    let v2 = Transport::fetch_device_list(&w.relay, "bob").unwrap();
    for at in [v2.len() - 1, 20] {
        let mut bad = v2.clone();
        bad[at] ^= 1;
        w.lie(|l| l.list = Some(("bob".into(), bad)));
        assert_eq!(
            alice.send("bob", b"x"),
            Err(ClientError::Protocol(Error::Key(KeyError::BadSignature)))
        );
    }
    // A list cut short (its signature missing): refused.
    let mut bad = v2.clone();
    bad.truncate(v2.len() - 64);
    w.lie(|l| l.list = Some(("bob".into(), bad)));
    assert_eq!(
        alice.send("bob", b"x"),
        Err(ClientError::Protocol(Error::Decode(DecodeError::Truncated)))
    );
    w.lie(|l| l.list = None);
    assert_eq!(alice.outbox_len().unwrap(), 0);
    assert_eq!(alice.device().device_list("bob").unwrap().version(), 2);

    // Bob removes device 2: after Alice sees version 3, it gets nothing more, from her or
    // from Bob, and what it sends is refused.
    bob.unlink(2).expect("unlink");
    assert_eq!(bob.device().own_device_list().unwrap().version(), 3);
    let bob2_address = addr("bob", 2);
    assert_eq!(alice.send("bob", b"only you now").expect("send"), 1);
    assert_eq!(bob.send("alice", b"I removed my tablet").expect("send"), 1);
    assert_eq!(w.mailbox(&bob2_address), 0);
    receive_exactly(&mut bob, &[b"only you now"]);
    receive_exactly(&mut alice, &[b"I removed my tablet"]);
    let report = bob2.receive().expect("receive");
    assert!(report.messages.is_empty());
    // It learns that it was removed from the newest list, and sends nothing.
    assert_eq!(bob2.send("alice", b"x").err(), Some(ClientError::NotLinked));
    assert!(!bob2.is_linked());
    assert_eq!(bob2.unlink(1).err(), Some(ClientError::CannotSign));
}

#[test]
fn a_relay_that_substitutes_the_link_is_refused_and_the_codes_differ() {
    let mut w = World::new();
    let mut bob = w.first("bob", 1);
    let mut tablet = w.waiting("bob", 2);
    let code = tablet.link_code().expect("code");
    assert_eq!(
        LinkCode::from_text(&code.to_text()).unwrap().to_bytes(),
        code.to_bytes()
    );

    // The relay hands out a bundle of its own device for bob/2: the phone refuses, and
    // nothing changes.
    let rogue = w.rogue("mallory", 2);
    drop(rogue);
    let fake = Transport::fetch_bundle(&w.relay, &addr("mallory", 2)).unwrap();
    w.lie(|l| l.bundle = Some((addr("bob", 2), fake)));
    assert_eq!(
        bob.link(&code),
        Err(ClientError::UnlistedIdentity {
            address: addr("bob", 2)
        })
    );
    assert_eq!(bob.device().own_device_list().unwrap().version(), 1);
    assert_eq!(bob.outbox_len().unwrap(), 0);
    w.lie(|l| l.bundle = None);

    // The relay sends its own provisioning message (its own account, a guessed secret):
    // the tablet refuses it and stays unlinked.
    let mut rogue = w.rogue("bob", 7);
    let mut guessed = code.to_bytes();
    let last = guessed.len() - 1;
    guessed[last] ^= 1;
    let guessed = LinkCode::from_bytes(&guessed).unwrap();
    rogue
        .link(&guessed)
        .expect("the relay's own account links what it likes");
    let report = tablet.receive().expect("receive");
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].reason, RejectReason::Misdirected);
    assert!(!tablet.is_linked());
    assert!(tablet.link_code().is_some());

    // Someone who saw the code on the screen links the tablet first: the tablet cannot
    // tell, but its confirmation code is not the phone's.
    let on_rogue = rogue.link(&code).expect("link");
    tablet.receive().expect("receive");
    assert!(tablet.is_linked());
    let on_tablet = tablet.link_confirmation().unwrap().to_owned();
    assert_eq!(on_tablet, on_rogue);
    let on_phone = bob.link(&code).expect("link");
    assert_ne!(on_phone, on_tablet, "the substituted link shows on the screens");
    assert_eq!(on_phone.len(), 6);
    // And the phone's own provisioning is refused by the tablet, already linked.
    let report = tablet.receive().expect("receive");
    assert_eq!(report.rejected[0].reason, RejectReason::Misdirected);
}

#[test]
fn users_with_three_devices_one_linked_mid_conversation_reach_every_current_device() {
    let mut w = World::new();
    let mut alice = vec![w.first("alice", 1)];
    let mut bob = vec![w.first("bob", 1)];
    for d in 2..=3 {
        let mut new = w.waiting("alice", d);
        link(&mut alice[0], &mut new);
        alice.push(new);
    }
    let mut new = w.waiting("bob", 2);
    link(&mut bob[0], &mut new);
    bob.push(new);

    // Every message reaches every current device of both users, the sender's own other
    // devices as copies.
    let round = |alice: &mut Vec<Client>, bob: &mut Vec<Client>, from_alice: usize, text: &[u8]| {
        let total = bob.len() + alice.len() - 1;
        assert_eq!(
            alice[from_alice]
                .send(bob[0].address().user(), text)
                .expect("send"),
            total
        );
        for b in bob.iter_mut() {
            let got = receive_exactly(b, &[text]);
            assert_eq!(got[0].sent_to, None);
        }
        for (i, a) in alice.iter_mut().enumerate() {
            if i != from_alice {
                let got = receive_exactly(a, &[text]);
                assert_eq!(got[0].sent_to.as_deref(), Some(bob[0].address().user()));
            }
        }
    };
    round(&mut alice, &mut bob, 0, b"one");
    round(&mut alice, &mut bob, 2, b"two");
    // Bob's third device joins mid-conversation.
    let mut new = w.waiting("bob", 3);
    link(&mut bob[0], &mut new);
    bob.push(new);
    round(&mut alice, &mut bob, 1, b"three");
    for i in 0..bob.len() {
        let (mut b, mut a) = (std::mem::take(&mut bob), std::mem::take(&mut alice));
        round(&mut b, &mut a, i, format!("from bob {i}").as_bytes());
        (bob, alice) = (b, a);
    }
    // Alice removes her third device: it gets nothing more.
    alice[0].unlink(3).expect("unlink");
    let gone = alice.pop().unwrap();
    round(&mut alice, &mut bob, 1, b"after the removal");
    assert_eq!(w.mailbox(gone.address()), 0);
    let (mut b, mut a) = (std::mem::take(&mut bob), std::mem::take(&mut alice));
    round(&mut b, &mut a, 2, b"bob after the removal");
    assert_eq!(w.mailbox(gone.address()), 0);
}

/// The user record of a store, and a store with `record` put back in its place.
fn user_row(store: &SharedStore) -> Vec<u8> {
    store
        .snapshot()
        .get(Table::Account, b"user")
        .unwrap()
        .expect("the user record")
}

fn with_user_row(store: &SharedStore, row: Option<Vec<u8>>) -> SharedStore {
    let mut snapshot = store.snapshot();
    let write = match row {
        Some(value) => Write::Put {
            table: Table::Account,
            key: b"user".to_vec(),
            value,
        },
        None => Write::Delete {
            table: Table::Account,
            key: b"user".to_vec(),
        },
    };
    snapshot.commit(vec![write]).unwrap();
    SharedStore::from_snapshot(snapshot)
}

#[test]
fn a_deleted_or_rolled_back_pin_is_an_identity_change_never_a_first_use() {
    let mut w = World::new();
    let store = SharedStore::new();
    let p = w.parts_with(store.boxed(), false);
    let mut alice = Client::create("alice", 1, p).expect("create");
    let before_bob = user_row(&store);
    let mut bob = w.first("bob", 1);
    verified(&mut w, &mut alice, &mut bob);
    drop(alice);

    // Rolled back to before Bob was pinned: Bob's list is an account change.
    let rolled = with_user_row(&store, Some(before_bob));
    let p = w.parts_with(rolled.boxed(), false);
    let mut alice = Client::open(p).expect("open");
    assert_eq!(
        alice.send("bob", b"x"),
        Err(ClientError::AccountChanged { user: "bob".into() })
    );
    bob.send("alice", b"flagged").expect("send");
    let got = receive_exactly(&mut alice, &[b"flagged"]);
    assert!(got[0].identity_changed);
    alice.accept_account("bob").expect("accept");
    alice.send("bob", b"accepted").expect("send");
    receive_exactly(&mut bob, &[b"accepted"]);

    // Deleted: the device no longer knows its own account and refuses to send; a
    // contact's messages are flagged, never pinned as new.
    let deleted = with_user_row(&store, None);
    let p = w.parts_with(deleted.boxed(), false);
    let mut alice = Client::open(p).expect("open");
    assert_eq!(alice.send("bob", b"x").err(), Some(ClientError::NotLinked));
    bob.send("alice", b"after the deletion").expect("send");
    let report = alice.receive().expect("receive");
    assert_eq!(report.messages.len(), 0);
    assert_eq!(report.rejected[0].reason, RejectReason::NotLinked);
}

#[test]
fn a_deleted_peer_row_does_not_reset_the_pin() {
    let mut w = World::new();
    let store = SharedStore::new();
    let p = w.parts_with(store.boxed(), false);
    let mut alice = Client::create("alice", 1, p).expect("create");
    let mut bob = w.first("bob", 1);
    verified(&mut w, &mut alice, &mut bob);
    drop(alice);
    let mut snapshot = store.snapshot();
    snapshot
        .commit(vec![Write::Delete {
            table: Table::Peers,
            key: addr("bob", 1).encode(),
        }])
        .unwrap();
    let p = w.parts_with(SharedStore::from_snapshot(snapshot).boxed(), false);
    let mut alice = Client::open(p).expect("open");
    // The relay hands out a bundle of its own for bob/1: refused, not pinned.
    let rogue = w.rogue("mallory", 1);
    drop(rogue);
    let fake = Transport::fetch_bundle(&w.relay, &addr("mallory", 1)).unwrap();
    w.lie(|l| l.bundle = Some((addr("bob", 1), fake)));
    assert_eq!(
        alice.send("bob", b"x"),
        Err(ClientError::UnlistedIdentity {
            address: addr("bob", 1)
        })
    );
    w.lie(|l| l.bundle = None);
    alice.send("bob", b"a new session").expect("send");
    receive_exactly(&mut bob, &[b"a new session"]);
}

#[test]
fn safety_numbers_are_per_user_and_survive_device_changes() {
    let mut w = World::new();
    let mut alice = w.first("alice", 1);
    let mut bob = w.first("bob", 1);
    verified(&mut w, &mut alice, &mut bob);
    let before = alice.safety_number("bob").unwrap();
    assert_eq!(before.digits.len(), 60);
    assert_eq!(before.bytes.len(), 65);
    let mut tablet = w.waiting("bob", 2);
    link(&mut bob, &mut tablet);
    alice.send("bob", b"hi both").expect("send");
    receive_exactly(&mut tablet, &[b"hi both"]);
    assert_eq!(alice.safety_number("bob").unwrap(), before, "unchanged by a link");
    assert_eq!(
        tablet.safety_number("alice").unwrap(),
        before,
        "the same on every device"
    );
    assert_eq!(bob.safety_number("alice").unwrap(), before);
    bob.unlink(2).expect("unlink");
    alice.send("bob", b"hi").expect("send");
    assert_eq!(
        alice.safety_number("bob").unwrap(),
        before,
        "unchanged by an unlink"
    );

    // Bob loses every device: a new account key, a new safety number once accepted.
    let mut new_bob = w.first("bob", 1);
    assert_eq!(
        alice.send("bob", b"x"),
        Err(ClientError::AccountChanged { user: "bob".into() })
    );
    alice.accept_account("bob").unwrap();
    let after = alice.safety_number("bob").unwrap();
    assert_ne!(after, before);
    assert_eq!(
        new_bob.safety_number("alice").err(),
        Some(ClientError::UnknownPeer)
    );
    alice.send("bob", b"welcome").expect("send");
    // The old device's unread envelopes wait in the same mailbox and open nothing.
    let report = new_bob.receive().expect("receive");
    let bodies: Vec<&[u8]> = report.messages.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, [b"welcome".as_slice()]);
    assert_eq!(new_bob.safety_number("alice").unwrap(), after);
}
