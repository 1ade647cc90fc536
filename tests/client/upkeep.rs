//! Prekey upkeep and trust (docs/ARCHITECTURE.md, section 3; docs/PROTOCOL.md, section 12.1): one-time
//! prekeys replenished below the threshold, the signed prekey rotated with a grace period,
//! a changed identity key blocking sends until accepted, safety numbers, several devices.

use std::collections::BTreeSet;

use hemlis::{
    Client, ClientConfig, ClientError, Envelope, Error, HandshakeError, InMemoryRelay, Limits, MemoryStore,
    RejectReason,
};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::faults::*;
use hemlis_test::rng::*;

fn config(one_time: usize, below: usize) -> ClientConfig {
    let mut c = ClientConfig::default();
    c.one_time_prekeys = one_time;
    c.replenish_below = below;
    c
}

struct World {
    transport: TestTransport,
    clock: TestClock,
    draws: Draws,
    next_seed: u64,
}

impl World {
    fn new() -> Self {
        Self {
            transport: TestTransport::new(&InMemoryRelay::new()),
            clock: TestClock::new(T0),
            draws: Draws::default(),
            next_seed: 1,
        }
    }

    fn client_on(
        &mut self,
        transport: &TestTransport,
        user: &str,
        device: u32,
        config: ClientConfig,
    ) -> Client {
        self.next_seed += 1;
        let parts = parts(
            transport.boxed(),
            Box::new(MemoryStore::new()),
            &self.clock,
            self.next_seed,
            &self.draws,
            config,
        );
        Client::create(user, device, parts).expect("create")
    }

    fn client(&mut self, user: &str, device: u32, config: ClientConfig) -> Client {
        let transport = self.transport.clone();
        self.client_on(&transport, user, device, config)
    }

    /// A device waiting to be linked to `user`'s account.
    fn linked(&mut self, user: &str, device: u32, config: ClientConfig) -> Client {
        self.next_seed += 1;
        let parts = parts(
            self.transport.boxed(),
            Box::new(MemoryStore::new()),
            &self.clock,
            self.next_seed,
            &self.draws,
            config,
        );
        Client::create_linked(user, device, parts).expect("create linked")
    }

    fn stock(&self, client: &Client) -> (usize, usize) {
        self.transport
            .relay
            .with_state(|s| s.stock(client.address()))
            .expect("relay")
    }

    /// The initial-envelope fields of the last envelope sent.
    fn last_initial(&self) -> hemlis::wire::InitialPrefix {
        let sent = self.transport.sent();
        let last = &sent.last().expect("an envelope").envelope;
        let envelope = Envelope::parse(last, Limits::default().max_padded_len()).expect("parses");
        envelope.initial().expect("an initial envelope").clone()
    }
}

#[test]
fn one_time_prekeys_are_replenished_below_the_threshold() {
    let mut w = World::new();
    let mut bob = w.client("bob", 1, config(5, 2));
    assert_eq!(w.stock(&bob), (5, 5));
    assert!(!bob.upkeep().expect("upkeep"), "nothing to do");
    let mut senders: Vec<Client> = ["alice", "carol", "dave", "erin"]
        .iter()
        .map(|name| w.client(name, 1, config(5, 2)))
        .collect();
    let mut one_time_ids = BTreeSet::new();
    for sender in &mut senders {
        sender.send("bob", b"hello bob").expect("send");
        let initial = w.last_initial();
        assert!(one_time_ids.insert(initial.one_time_prekey_id.expect("a one-time prekey")));
        assert!(initial.kem.is_some(), "post-quantum");
    }
    assert_eq!(w.stock(&bob), (1, 1), "each bundle took one of each kind");
    // Bob holds all five until the first messages using them decrypt.
    assert!(!bob.upkeep().expect("upkeep"));
    assert_eq!(w.stock(&bob), (1, 1));
    let report = bob.receive().expect("receive");
    assert_eq!(report.messages.len(), 4);
    assert!(report.rejected.is_empty());
    assert_eq!(w.stock(&bob), (1, 1), "receive alone does not publish");
    assert!(bob.upkeep().expect("upkeep"), "one left, below two: replenished");
    assert_eq!(w.stock(&bob), (5, 5));
    assert!(!bob.upkeep().expect("upkeep"), "and only once");
    // Two more senders leave three: not below the threshold.
    for name in ["frank", "grace"] {
        let mut sender = w.client(name, 1, config(5, 2));
        sender.send("bob", b"hi").expect("send");
        senders.push(sender);
    }
    assert_eq!(bob.receive().expect("receive").messages.len(), 6);
    assert!(!bob.upkeep().expect("upkeep"));
    assert_eq!(w.stock(&bob), (3, 3));
    // Every session works both ways.
    bob.mark_read(
        &bob.inbox()
            .expect("inbox")
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
    )
    .expect("mark_read");
    for sender in &mut senders {
        let user = sender.address().user().to_owned();
        bob.send(&user, b"welcome").expect("send");
        assert_eq!(sender.receive().expect("receive").messages.len(), 1);
    }
}

#[test]
fn an_exhausted_stock_falls_back_to_the_last_resort_prekeys() {
    let mut w = World::new();
    let mut bob = w.client("bob", 1, config(2, 1));
    let mut senders = Vec::new();
    for (i, name) in ["alice", "carol", "dave", "erin"].iter().enumerate() {
        let mut sender = w.client(name, 1, config(2, 1));
        sender.send("bob", name.as_bytes()).expect("send");
        let initial = w.last_initial();
        assert_eq!(initial.one_time_prekey_id.is_some(), i < 2);
        // The last-resort KEM prekey when the one-time ones ran out: still post-quantum.
        assert!(initial.kem.is_some());
        senders.push(sender);
    }
    assert_eq!(w.stock(&bob), (0, 0));
    let report = bob.receive().expect("receive");
    assert_eq!(report.messages.len(), 4, "rejected: {:?}", report.rejected);
    assert!(bob.upkeep().expect("upkeep"));
    assert_eq!(w.stock(&bob), (2, 2));
}

#[test]
fn the_signed_prekey_rotates_and_the_old_one_answers_during_the_grace_period() {
    let mut w = World::new();
    let mut c = config(5, 2);
    c.signed_prekey_rotation = 1_000;
    c.signed_prekey_grace = 500;
    let mut bob = w.client("bob", 1, c);
    let mut alice = w.client("alice", 1, c);
    // Carol's transport is down: her first message waits in her outbox.
    let carol_transport = TestTransport::new(&w.transport.relay);
    TransportFaults::set(&carol_transport.faults.fail_send, true);
    let mut carol = w.client_on(&carol_transport, "carol", 1, c);

    alice.send("bob", b"sent before the rotation").expect("send");
    let old_id = w.last_initial().signed_prekey_id;
    carol.send("bob", b"sent before, delivered after").expect("send");
    assert_eq!(carol.outbox_len().expect("outbox"), 1);

    w.clock.advance(999);
    assert!(!bob.upkeep().expect("upkeep"), "not yet");
    w.clock.advance(1);
    assert!(bob.upkeep().expect("upkeep"), "rotated and published");
    let mut dave = w.client("dave", 1, c);
    dave.send("bob", b"after the rotation").expect("send");
    let new_id = w.last_initial().signed_prekey_id;
    assert_ne!(new_id, old_id);

    // Inside the grace period the old signed prekey still answers.
    w.clock.advance(499);
    assert!(!bob.upkeep().expect("upkeep"));
    let report = bob.receive().expect("receive");
    let bodies: Vec<&[u8]> = report.messages.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(
        bodies,
        [b"sent before the rotation".as_slice(), b"after the rotation"]
    );
    assert!(report.rejected.is_empty());

    // After it, the old signed prekey is gone: Carol's late first message is rejected.
    w.clock.advance(1);
    bob.upkeep().expect("upkeep");
    TransportFaults::set(&carol_transport.faults.fail_send, false);
    assert_eq!(carol.flush().expect("flush"), 1);
    let report = bob.receive().expect("receive");
    assert_eq!(report.messages.len(), 2, "only the two earlier ones, unread");
    let rejected: Vec<_> = report
        .rejected
        .iter()
        .map(|r| (r.from.clone(), r.reason.clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![(
            carol.address().clone(),
            RejectReason::Protocol(Error::Handshake(HandshakeError::UnknownSignedPrekey))
        )]
    );
    assert_eq!(
        w.transport.pending(bob.address()),
        0,
        "rejected envelopes are acknowledged"
    );

    // The sessions made in time keep working, across a second rotation too.
    w.clock.advance(1_000);
    assert!(bob.upkeep().expect("upkeep"));
    bob.send("alice", b"still here").expect("send");
    receive_exactly(&mut alice, &[b"still here"]);
    alice.send("bob", b"me too").expect("send");
    assert_eq!(bob.receive().expect("receive").messages.len(), 3);
}

/// Alice and Bob talk; Bob then loses his only device and makes a new account (a new
/// store, a new account key and identity, the same address); returns both Bobs.
fn reinstall(w: &mut World, alice: &mut Client) -> (Client, Client) {
    let mut bob = w.client("bob", 1, config(3, 1));
    alice.send("bob", b"hi bob").expect("send");
    receive_exactly(&mut bob, &[b"hi bob"]);
    bob.send("alice", b"hi alice").expect("send");
    receive_exactly(alice, &[b"hi alice"]);
    let new_bob = w.client("bob", 1, config(3, 1));
    assert_ne!(new_bob.identity_key(), bob.identity_key());
    (bob, new_bob)
}

#[test]
fn a_changed_account_key_blocks_sending_until_accepted() {
    let mut w = World::new();
    let mut alice = w.client("alice", 1, config(3, 1));
    let (old_bob, mut bob) = reinstall(&mut w, &mut alice);
    let address = bob.address().clone();
    let old_safety = alice.safety_number("bob").expect("safety number");

    // The new device writes first: the message arrives, flagged.
    bob.send("alice", b"I reinstalled").expect("send");
    let report = alice.receive().expect("receive");
    assert_eq!(report.messages.len(), 1, "rejected: {:?}", report.rejected);
    let message = &report.messages[0];
    assert_eq!(message.body, b"I reinstalled");
    assert!(message.identity_changed);
    assert_eq!(&message.sender_identity, bob.identity_key());
    alice.mark_read(&[message.id]).expect("mark_read");
    let new_account = bob
        .device()
        .own_device_list()
        .expect("own list")
        .account_key()
        .clone();
    assert_eq!(alice.pending_account("bob"), Some(new_account.clone()));
    assert_ne!(
        alice.device().device_list("bob").expect("pinned").account_key(),
        &new_account
    );
    drop(old_bob);

    // Sending is blocked, and nothing leaves.
    let before = w.transport.sent_len();
    let blocked = Err(ClientError::AccountChanged { user: "bob".into() });
    assert_eq!(alice.send("bob", b"are you really bob?").map(|_| ()), blocked);
    assert_eq!(alice.send("bob", b"still blocked").map(|_| ()), blocked);
    assert_eq!(w.transport.sent_len(), before);
    assert_eq!(alice.outbox_len().expect("outbox"), 0);
    assert_eq!(alice.safety_number("bob").expect("safety number"), old_safety);

    alice.accept_account("bob").expect("accept");
    assert_eq!(alice.pending_account("bob"), None);
    assert_eq!(
        alice.device().device_list("bob").expect("pinned").account_key(),
        &new_account
    );
    let new_safety = alice.safety_number("bob").expect("safety number");
    assert_ne!(new_safety, old_safety);
    assert_eq!(bob.safety_number("alice").expect("safety number"), new_safety);

    alice.send("bob", b"welcome back").expect("send");
    receive_exactly(&mut bob, &[b"welcome back"]);
    assert_eq!(
        alice.peer_identity(&address).expect("session"),
        Some(bob.identity_key().clone())
    );
    bob.send("alice", b"thanks").expect("send");
    let received = receive_exactly(&mut alice, &[b"thanks"]);
    assert!(!received[0].identity_changed);
}

/// A peer with a new account that does not write first is caught on send: the sender
/// fetches the user's list before every send, and a list under another account key blocks
/// sending instead of encrypting to a device the sender never verified.
#[test]
fn a_changed_account_key_at_the_relay_blocks_sending() {
    let mut w = World::new();
    let mut alice = w.client("alice", 1, config(3, 1));
    let (_old_bob, mut bob) = reinstall(&mut w, &mut alice);
    let before = w.transport.sent_len();
    let sent = alice.send("bob", b"do you get this?");
    assert_eq!(sent, Err(ClientError::AccountChanged { user: "bob".into() }));
    assert_eq!(w.transport.sent_len(), before);
    assert!(bob.receive().expect("receive").messages.is_empty());
}

#[test]
fn safety_numbers_match_on_both_sides_and_differ_between_pairs() {
    let mut w = World::new();
    let mut alice = w.client("alice", 1, config(3, 1));
    let mut bob = w.client("bob", 1, config(3, 1));
    let mut carol = w.client("carol", 1, config(3, 1));
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let clients = [&mut alice, &mut bob, &mut carol];
        let user = clients[b].address().user().to_owned();
        clients[a].send(&user, b"hi").expect("send");
        receive_exactly(clients[b], &[b"hi"]);
    }
    let ab = alice.safety_number(bob.address().user()).expect("safety number");
    assert_eq!(
        bob.safety_number(alice.address().user()).expect("safety number"),
        ab
    );
    let ac = alice
        .safety_number(carol.address().user())
        .expect("safety number");
    assert_eq!(
        carol
            .safety_number(alice.address().user())
            .expect("safety number"),
        ac
    );
    let bc = bob.safety_number(carol.address().user()).expect("safety number");
    assert_eq!(
        carol.safety_number(bob.address().user()).expect("safety number"),
        bc
    );
    assert!(ab != ac && ab != bc && ac != bc);
    for n in [&ab, &ac, &bc] {
        assert_eq!(n.digits.len(), 60);
        assert!(n.digits.bytes().all(|d| d.is_ascii_digit()));
        assert_eq!(n.bytes.len(), 65);
        assert_eq!(n.bytes[0], 1);
    }
    // The byte forms differ in every pair too, and a stranger has none.
    assert!(ab.bytes != ac.bytes && ab.bytes != bc.bytes);
    let dave = w.client("dave", 1, config(3, 1));
    assert_eq!(
        alice.safety_number(dave.address().user()).err(),
        Some(ClientError::UnknownPeer)
    );
}

#[test]
fn a_message_to_a_user_with_three_devices_reaches_all_three() {
    let mut w = World::new();
    let mut alice = w.client("alice", 1, config(3, 1));
    let mut bobs: Vec<Client> = vec![w.client("bob", 1, config(3, 1))];
    for d in 2..=3 {
        let mut new = w.linked("bob", d, config(3, 1));
        link(&mut bobs[0], &mut new);
        bobs.push(new);
    }
    assert_eq!(
        w.transport.relay.with_state(|s| s.devices("bob")).expect("relay"),
        vec![1, 2, 3]
    );
    let before = w.transport.sent_len();
    assert_eq!(alice.send("bob", b"to all of you").expect("send"), 3);
    let sent = w.transport.sent();
    let targets: BTreeSet<u32> = sent[before..].iter().map(|s| s.to.device()).collect();
    assert_eq!(targets, BTreeSet::from([1, 2, 3]));
    for bob in &mut bobs {
        receive_exactly(bob, &[b"to all of you"]);
    }
    for i in 0..3 {
        let reply = format!("device {}", bobs[i].address().device());
        // To Alice's one device, and a copy to each of Bob's other two.
        assert_eq!(bobs[i].send("alice", reply.as_bytes()).expect("send"), 3);
        for (j, other) in bobs.iter_mut().enumerate() {
            if j != i {
                let copy = receive_exactly(other, &[reply.as_bytes()]);
                assert_eq!(copy[0].sent_to.as_deref(), Some("alice"));
            }
        }
    }
    let report = alice.receive().expect("receive");
    let from: Vec<u32> = report.messages.iter().map(|m| m.from.device()).collect();
    assert_eq!(from, vec![1, 2, 3]);
    for m in &report.messages {
        assert_eq!(m.body, format!("device {}", m.from.device()).as_bytes());
        assert_eq!(m.sent_to, None);
        assert_eq!(
            alice.peer_identity(&m.from).expect("pinned"),
            Some(m.sender_identity.clone())
        );
    }
    alice
        .mark_read(&report.messages.iter().map(|m| m.id).collect::<Vec<_>>())
        .expect("mark_read");
    // Established sessions: ordinary message envelopes to all three; a fourth device
    // is linked and is reached too.
    let mut bob4 = w.linked("bob", 4, config(3, 1));
    link(&mut bobs[0], &mut bob4);
    assert_eq!(alice.send("bob", b"again").expect("send"), 4);
    let sent = w.transport.sent();
    let kinds: Vec<(u32, u8)> = sent[sent.len() - 4..]
        .iter()
        .map(|s| (s.to.device(), s.envelope[1]))
        .collect();
    assert_eq!(kinds, vec![(1, 2), (2, 2), (3, 2), (4, 1)]);
    for bob in bobs.iter_mut().chain([&mut bob4]) {
        receive_exactly(bob, &[b"again"]);
    }
    // Another device of Alice's own gets a copy of what she sends, and her own device is
    // never a target of her own send.
    let mut alice2 = w.linked("alice", 2, config(3, 1));
    link(&mut alice, &mut alice2);
    assert_eq!(alice.send("alice", b"note to self").expect("send"), 1);
    let note = receive_exactly(&mut alice2, &[b"note to self"]);
    assert_eq!(note[0].sent_to.as_deref(), Some("alice"));
    // Bob's device 1 writes to both of Alice's devices and copies to his three others.
    assert_eq!(bobs[0].send("alice", b"both of you").expect("send"), 5);
    receive_exactly(&mut alice, &[b"both of you"]);
    receive_exactly(&mut alice2, &[b"both of you"]);
}

/// `ClientConfig::one_time_prekeys` above `PrekeyUpload::MAX_ONE_TIME` (1,000) could never
/// be published (every upload holds all unused one-time prekeys): such a configuration is
/// refused when the device is created, and nothing reaches the relay.
#[test]
fn a_config_the_upload_cannot_hold_is_refused_or_published() {
    let w = World::new();
    let parts = parts(
        w.transport.boxed(),
        Box::new(MemoryStore::new()),
        &w.clock,
        1,
        &w.draws,
        config(1001, 10),
    );
    assert_eq!(
        Client::create("bob", 1, parts).err(),
        Some(ClientError::InvalidConfig)
    );
    assert!(
        w.transport
            .relay
            .with_state(|s| s.devices("bob"))
            .expect("relay")
            .is_empty()
    );
}
