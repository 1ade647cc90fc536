//! The exported API driven from Rust, through the same foreign-trait adapter the bindings
//! use: a transport implemented "outside" (here in Rust) on a [`RelayCore`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::client::HemlisClient;
use super::relay::RelayCore;
use super::{DeviceAddress, FfiTransport, HemlisError, IncomingEnvelope, TransportFailure};

/// A relay as an app would write it: delegates to a `RelayCore`, can be switched off, and
/// can flip a byte of the next envelope it delivers.
#[derive(Default)]
struct TestRelay {
    core: RelayCore,
    down: AtomicBool,
    tamper_next: Mutex<bool>,
}

impl TestRelay {
    fn up(&self) -> Result<(), TransportFailure> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TransportFailure::Unavailable {
                reason: "down".into(),
            });
        }
        Ok(())
    }
}

impl FfiTransport for TestRelay {
    fn publish(&self, device: DeviceAddress, upload: Vec<u8>) -> Result<(), TransportFailure> {
        self.core.publish(device, upload)
    }
    fn publish_device_list(&self, user: String, list: Vec<u8>) -> Result<(), TransportFailure> {
        self.core.publish_device_list(user, list)
    }
    fn fetch_device_list(&self, user: String) -> Result<Vec<u8>, TransportFailure> {
        self.core.fetch_device_list(user)
    }
    fn fetch_bundle(&self, device: DeviceAddress) -> Result<Vec<u8>, TransportFailure> {
        self.core.fetch_bundle(device)
    }
    fn send(
        &self,
        from: DeviceAddress,
        to: DeviceAddress,
        envelope: Vec<u8>,
    ) -> Result<(), TransportFailure> {
        self.up()?;
        self.core.send(from, to, envelope)
    }
    fn fetch(&self, device: DeviceAddress) -> Result<Vec<IncomingEnvelope>, TransportFailure> {
        let mut incoming = self.core.fetch(device)?;
        let mut tamper = self.tamper_next.lock().map_err(|_| TransportFailure::NotFound)?;
        if *tamper && let Some(first) = incoming.first_mut() {
            let last = first.envelope.len() - 1;
            first.envelope[last] ^= 1;
            *tamper = false;
        }
        Ok(incoming)
    }
    fn ack(&self, device: DeviceAddress, ids: Vec<u64>) -> Result<(), TransportFailure> {
        self.core.ack(device, ids)
    }
}

/// The path of a database in this run's directory.
fn db_path(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("hemlis-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_string_lossy().into_owned()
}

/// The path of a database that does not exist yet.
fn temp_db(name: &str) -> String {
    let path = db_path(name);
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn exchange_restart_tamper_and_outbox() {
    let relay = Arc::new(TestRelay::default());
    let (a_db, b_db) = (temp_db("alice.db"), temp_db("bob.db"));
    let open = |db: &str, key: u8, user: &str| {
        HemlisClient::open_or_create(db.into(), vec![key; 32], user.into(), 1, relay.clone())
    };
    let alice = open(&a_db, 1, "alice").unwrap();
    let bob = open(&b_db, 2, "bob").unwrap();

    assert_eq!(alice.send("bob".into(), b"hi bob".to_vec()).unwrap(), 1);
    let got = bob.receive().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].from_user.as_str(), got[0].body.as_slice()),
        ("alice", &b"hi bob"[..])
    );
    assert_eq!(got[0].sender_identity, alice.identity_key().unwrap());
    bob.mark_read(vec![got[0].id]).unwrap();
    assert!(bob.is_post_quantum("alice".into(), 1).unwrap());
    assert_eq!(
        bob.safety_number("alice".into()).unwrap(),
        alice.safety_number("bob".into()).unwrap()
    );
    assert_eq!(got[0].sent_to, None);

    // Bob restarts from his database; a wrong key or another device is refused.
    drop(bob);
    assert_eq!(open(&b_db, 9, "bob").err(), Some(HemlisError::WrongStorageKey));
    assert!(matches!(
        open(&b_db, 2, "carol"),
        Err(HemlisError::DeviceMismatch { .. })
    ));
    let bob = open(&b_db, 2, "bob").unwrap();

    // A tampered envelope is rejected and changes nothing.
    alice.send("bob".into(), b"one".to_vec()).unwrap();
    *relay.tamper_next.lock().unwrap() = true;
    let report = bob.receive_report().unwrap();
    assert!(report.messages.is_empty());
    assert_eq!(report.rejected.len(), 1);
    alice.send("bob".into(), b"two".to_vec()).unwrap();
    let got = bob.receive().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"two");
    bob.mark_read(vec![got[0].id]).unwrap();

    // A transport that fails keeps the envelope in the outbox until flush.
    relay.down.store(true, Ordering::SeqCst);
    assert_eq!(bob.send("alice".into(), b"later".to_vec()).unwrap(), 1);
    assert_eq!(bob.outbox_len().unwrap(), 1);
    assert!(matches!(bob.flush(), Err(HemlisError::Transport { .. })));
    relay.down.store(false, Ordering::SeqCst);
    assert_eq!(bob.flush().unwrap(), 1);
    assert_eq!(bob.outbox_len().unwrap(), 0);
    let got = alice.receive().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"later");

    // Arguments are checked, not trusted.
    assert!(matches!(
        HemlisClient::open_or_create(temp_db("x.db"), vec![0; 31], "x".into(), 1, relay.clone()),
        Err(HemlisError::InvalidArgument { .. })
    ));
    assert!(matches!(
        alice.send(String::new(), b"x".to_vec()),
        Err(HemlisError::InvalidArgument { .. } | HemlisError::NoDevices)
    ));
    assert_eq!(
        alice.safety_number("nobody".into()).err(),
        Some(HemlisError::UnknownPeer)
    );
    assert!(matches!(
        alice.safety_number("x".repeat(129)),
        Err(HemlisError::InvalidArgument { .. })
    ));
}

fn bodies(client: &HemlisClient) -> Vec<(u32, Vec<u8>, Option<String>)> {
    let messages = client.receive().unwrap();
    client.mark_read(messages.iter().map(|m| m.id).collect()).unwrap();
    messages
        .into_iter()
        .map(|m| (m.from_device, m.body, m.sent_to))
        .collect()
}

#[test]
fn link_a_second_device_and_send_to_both() {
    let relay = Arc::new(TestRelay::default());
    let open = |name: &str, user: &str, device: u32| {
        HemlisClient::open_or_create(temp_db(name), vec![7; 32], user.into(), device, relay.clone()).unwrap()
    };
    let alice = open("l-alice.db", "alice", 1);
    let bob1 = open("l-bob1.db", "bob", 1);
    assert!(bob1.is_linked().unwrap());
    assert_eq!(bob1.link_code().unwrap(), None);
    let before = bob1.own_devices().unwrap().unwrap();
    assert_eq!(before.devices.len(), 1);
    assert_eq!(before.devices[0].identity, bob1.identity_key().unwrap());

    // The new device shows its code; the first device links it with the code.
    let bob2 = HemlisClient::create_linked(temp_db("l-bob2.db"), vec![8; 32], "bob".into(), 2, relay.clone())
        .unwrap();
    assert!(!bob2.is_linked().unwrap());
    assert_eq!(bob2.own_devices().unwrap(), None);
    assert_eq!(
        bob2.send("alice".into(), b"x".to_vec()).err(),
        Some(HemlisError::NotLinked)
    );
    let code = bob2.link_code().unwrap().unwrap();
    assert!(bob2.link_code_text().unwrap().unwrap().len() > 40);
    let confirmation = bob1.link(code).unwrap();
    assert_eq!(confirmation.len(), 6);
    assert!(confirmation.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        bob1.link_confirmation().unwrap().as_deref(),
        Some(confirmation.as_str())
    );
    assert_eq!(
        bodies(&bob2),
        Vec::new(),
        "the provisioning message is no inbox message"
    );
    assert!(bob2.is_linked().unwrap());
    assert_eq!(bob2.link_confirmation().unwrap(), Some(confirmation));
    assert_eq!(bob2.link_code().unwrap(), None);
    let list = bob1.own_devices().unwrap().unwrap();
    assert_eq!(list, bob2.own_devices().unwrap().unwrap());
    assert_eq!(list.version, before.version + 1);
    assert_eq!(list.account_key, before.account_key);
    let ids: Vec<u32> = list.devices.iter().map(|d| d.device).collect();
    assert_eq!(ids, [1, 2]);

    // Alice sends to both of Bob's devices.
    assert_eq!(alice.send("bob".into(), b"hi both".to_vec()).unwrap(), 2);
    assert_eq!(bodies(&bob1), [(1, b"hi both".to_vec(), None)]);
    assert_eq!(bodies(&bob2), [(1, b"hi both".to_vec(), None)]);
    // Bob replies from one device; his other device gets a sent copy.
    assert_eq!(bob2.send("alice".into(), b"from 2".to_vec()).unwrap(), 2);
    assert_eq!(bodies(&alice), [(2, b"from 2".to_vec(), None)]);
    assert_eq!(bodies(&bob1), [(2, b"from 2".to_vec(), Some("alice".into()))]);
    // The safety number is over the account keys: the same from either of Bob's devices.
    assert_eq!(
        bob2.safety_number("alice".into()).unwrap(),
        alice.safety_number("bob".into()).unwrap()
    );
    assert_eq!(
        bob1.safety_number("alice".into()).unwrap(),
        alice.safety_number("bob".into()).unwrap()
    );

    // Linking is checked.
    let bob3 = HemlisClient::create_linked(temp_db("l-bob3.db"), vec![9; 32], "bob".into(), 3, relay.clone())
        .unwrap();
    let code3 = bob3.link_code_text().unwrap().unwrap();
    assert_eq!(bob2.link_text(code3.clone()).err(), Some(HemlisError::CannotSign));
    assert_eq!(
        alice.link_text(code3.clone()).err(),
        Some(HemlisError::InvalidLinkCode)
    );
    assert_eq!(bob1.link(vec![1, 2, 3]).err(), Some(HemlisError::InvalidLinkCode));
    assert_eq!(
        bob1.link_text("not a code".into()).err(),
        Some(HemlisError::InvalidLinkCode)
    );
    assert!(matches!(
        HemlisClient::create_linked(db_path("l-bob1.db"), vec![7; 32], "bob".into(), 1, relay.clone()),
        Err(HemlisError::InvalidArgument { .. })
    ));

    // Unlinking: the removed device gets nothing more.
    assert_eq!(bob1.unlink(1).err(), Some(HemlisError::InvalidLinkCode));
    assert_eq!(bob1.unlink(9).err(), Some(HemlisError::UnknownPeer));
    assert_eq!(bob2.unlink(1).err(), Some(HemlisError::CannotSign));
    bob1.unlink(2).unwrap();
    assert_eq!(bob1.own_devices().unwrap().unwrap().devices.len(), 1);
    assert_eq!(alice.send("bob".into(), b"only one".to_vec()).unwrap(), 1);
    assert_eq!(bodies(&bob1), [(1, b"only one".to_vec(), None)]);
    assert_eq!(bodies(&bob2), Vec::new());
}

#[test]
fn a_changed_account_blocks_sending_until_accepted() {
    let relay = Arc::new(TestRelay::default());
    let open = |name: &str, user: &str| {
        HemlisClient::open_or_create(temp_db(name), vec![5; 32], user.into(), 1, relay.clone()).unwrap()
    };
    let alice = open("a-alice.db", "alice");
    let carol = open("a-carol.db", "carol");
    alice.send("carol".into(), b"hi".to_vec()).unwrap();
    assert_eq!(bodies(&carol).len(), 1);
    let old = carol.own_devices().unwrap().unwrap().account_key;
    drop(carol);

    // Carol reinstalls: a new database, so a new account for the same user.
    let carol = open("a-carol-new.db", "carol");
    let new = carol.own_devices().unwrap().unwrap().account_key;
    assert_ne!(old, new);
    carol.send("alice".into(), b"new phone".to_vec()).unwrap();
    let got = alice.receive().unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].identity_changed, "shown with a warning");
    alice.mark_read(vec![got[0].id]).unwrap();
    assert_eq!(alice.pending_account("carol".into()).unwrap(), Some(new));
    assert_eq!(
        alice.send("carol".into(), b"who?".to_vec()).err(),
        Some(HemlisError::AccountChanged { user: "carol".into() })
    );
    alice.accept_account("carol".into()).unwrap();
    assert_eq!(alice.pending_account("carol".into()).unwrap(), None);
    assert_eq!(alice.send("carol".into(), b"welcome back".to_vec()).unwrap(), 1);
    assert_eq!(bodies(&carol), [(1, b"welcome back".to_vec(), None)]);
}
