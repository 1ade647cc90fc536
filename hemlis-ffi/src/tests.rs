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
    fn devices(&self, user: String) -> Result<Vec<u32>, TransportFailure> {
        self.core.devices(user)
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

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("hemlis-ffi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path.to_string_lossy().into_owned()
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
        bob.safety_number("alice".into(), 1).unwrap(),
        alice.safety_number("bob".into(), 1).unwrap()
    );

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
        alice.safety_number("nobody".into(), 1).err(),
        Some(HemlisError::UnknownPeer)
    );
}
