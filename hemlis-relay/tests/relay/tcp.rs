//! The TCP relay (`hemlis_relay::{TcpTransport, serve_relay}`; docs/PROTOCOL.md,
//! section 12.5): a relay and two clients as separate processes exchange messages; the
//! transport against the relay in one process; and malformed frames never bring the relay
//! down.
//!
//! The multi-process test re-runs this test binary (`std::env::current_exe()`) with
//! `--exact tcp::child_<role> --ignored --nocapture` and `HEMLIS_TCP_ROLE` set, so the relay,
//! Alice and Bob are real processes that share nothing but the loopback socket.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hemlis::rand_core::{Rng, SeedableRng};
use hemlis::transport::{Incoming, RelayState, TransportError};
use hemlis::{
    Address, Client, ClientConfig, ClientError, ClientParts, DeviceList, LinkCode, MemoryStore, RejectReason,
    SqliteStore, SystemClock, Transport, os_rng,
};
use hemlis_relay::{TcpTransport, serve_relay};
use hemlis_test::clock::FixedClock;

const ROLE: &str = "HEMLIS_TCP_ROLE";
const DIR: &str = "HEMLIS_TCP_DIR";
const PORT: &str = "HEMLIS_TCP_PORT";
/// The parent kills every child after this long.
const PARENT_TIMEOUT: Duration = Duration::from_secs(60);
/// A child gives up (and fails) after this long.
const CHILD_TIMEOUT: Duration = Duration::from_secs(45);
const ROUNDS: usize = 3;

// ---------------------------------------------------------------------------------------
// Relay and clients as separate processes
// ---------------------------------------------------------------------------------------

#[test]
fn relay_and_two_clients_as_separate_processes() {
    let dir = temp_dir("processes");
    let mut children = Children::default();

    children.spawn("relay", &dir, None);
    let port = wait_for_port(&dir, &mut children);
    children.spawn("alice", &dir, Some(port));
    children.spawn("bob", &dir, Some(port));

    let deadline = Instant::now() + PARENT_TIMEOUT;
    for role in ["alice", "bob"] {
        let status = children.wait(role, deadline);
        if !status.is_some_and(|s| s.success()) {
            let logs = children.logs(&dir);
            children.kill_all();
            panic!("{role} did not succeed ({status:?}):\n{logs}");
        }
    }
    // The relay is still serving after both clients left, then goes.
    assert!(
        children.wait("relay", Instant::now()).is_none(),
        "the relay exited early"
    );
    children.kill_all();

    let alice = std::fs::read_to_string(dir.join("alice.safety")).unwrap();
    let bob = std::fs::read_to_string(dir.join("bob.safety")).unwrap();
    assert_eq!(alice.len(), 60);
    assert!(alice.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(alice, bob, "both sides compute the same safety number");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Child: the relay, on a free loopback port written to `DIR/port`.
#[test]
#[ignore = "a child process of relay_and_two_clients_as_separate_processes"]
fn child_relay() {
    let Some(dir) = child_dir("relay") else { return };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Write, then rename, so the parent never reads half a number.
    std::fs::write(dir.join("port.tmp"), port.to_string()).unwrap();
    std::fs::rename(dir.join("port.tmp"), dir.join("port")).unwrap();
    println!("relay listening on port {port}");
    serve_relay(listener, Arc::new(Mutex::new(RelayState::default()))).unwrap();
}

/// Child: Alice sends `ROUNDS` messages, restarts from her SQLite file, reads Bob's
/// replies, and says goodbye.
#[test]
#[ignore = "a child process of relay_and_two_clients_as_separate_processes"]
fn child_alice() {
    let Some(dir) = child_dir("alice") else { return };
    let relay = child_relay_addr();
    let db = dir.join("alice.db");
    let deadline = Instant::now() + CHILD_TIMEOUT;

    let mut alice = Client::create("alice", 1, process_parts(relay, &db)).unwrap();
    // Bob may not have published yet.
    until(deadline, "bob's device to appear", || {
        match alice.send("bob", b"alice 1") {
            Ok(n) => Some(n),
            Err(ClientError::NoDevices) => None,
            Err(e) => panic!("send failed: {e}"),
        }
    });
    for i in 2..=ROUNDS {
        assert_eq!(alice.send("bob", format!("alice {i}").as_bytes()).unwrap(), 1);
    }
    assert_eq!(alice.outbox_len().unwrap(), 0, "everything reached the relay");

    // A restart: the device, its sessions and its pinned peers come back from SQLite, over
    // a new connection.
    drop(alice);
    let mut alice = Client::open(process_parts(relay, &db)).unwrap();
    assert_eq!(alice.address(), &Address::new("alice", 1).unwrap());
    let replies = collect(&mut alice, ROUNDS, deadline);
    let expected: Vec<String> = (1..=ROUNDS).map(|i| format!("bob {i}")).collect();
    assert_eq!(replies, expected);

    assert_eq!(alice.send("bob", b"bye").unwrap(), 1);
    assert_eq!(alice.outbox_len().unwrap(), 0);
    let number = alice.safety_number("bob").unwrap();
    std::fs::write(dir.join("alice.safety"), number.digits).unwrap();
}

/// Child: Bob reads Alice's messages, replies to each, and waits for her goodbye.
#[test]
#[ignore = "a child process of relay_and_two_clients_as_separate_processes"]
fn child_bob() {
    let Some(dir) = child_dir("bob") else { return };
    let relay = child_relay_addr();
    let deadline = Instant::now() + CHILD_TIMEOUT;

    let mut bob = Client::create("bob", 1, process_parts(relay, &dir.join("bob.db"))).unwrap();
    let received = collect(&mut bob, ROUNDS, deadline);
    let expected: Vec<String> = (1..=ROUNDS).map(|i| format!("alice {i}")).collect();
    assert_eq!(received, expected);
    for i in 1..=ROUNDS {
        assert_eq!(bob.send("alice", format!("bob {i}").as_bytes()).unwrap(), 1);
    }
    assert_eq!(bob.outbox_len().unwrap(), 0);
    assert_eq!(collect(&mut bob, 1, deadline), ["bye"]);

    let number = bob.safety_number("alice").unwrap();
    std::fs::write(dir.join("bob.safety"), number.digits).unwrap();
}

/// Receives until `n` messages arrived, checks where they came from, and marks them read.
fn collect(client: &mut Client, n: usize, deadline: Instant) -> Vec<String> {
    let mut bodies = Vec::new();
    until(deadline, "messages", || {
        let report = client.receive().unwrap();
        assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        for message in report.messages {
            assert_eq!(message.from.device(), 1);
            assert_ne!(&message.from, client.address());
            assert!(!message.identity_changed);
            assert_eq!(message.sent_to, None);
            bodies.push(String::from_utf8(message.body).unwrap());
        }
        client.mark_read(&ids).unwrap();
        (bodies.len() >= n).then_some(())
    });
    assert_eq!(bodies.len(), n, "no more messages than expected: {bodies:?}");
    bodies
}

fn process_parts(relay: SocketAddr, db: &Path) -> ClientParts {
    ClientParts {
        storage_key: [0x5a; 32],
        store: Box::new(SqliteStore::open(db).unwrap()),
        transport: Box::new(TcpTransport::connect(relay).unwrap()),
        clock: Box::new(SystemClock),
        rng: Box::new(os_rng()),
        config: ClientConfig::default(),
    }
}

/// Runs `step` every 50 ms until it returns `Some`; panics at the deadline.
fn until<T>(deadline: Instant, what: &str, mut step: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(done) = step() {
            return done;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(50));
    }
}

/// The working directory of a child, or `None` when the test runs without the parent
/// (`cargo test -- --ignored`): then it does nothing.
fn child_dir(role: &str) -> Option<PathBuf> {
    (std::env::var(ROLE).ok()? == role).then(|| PathBuf::from(std::env::var(DIR).unwrap()))
}

fn child_relay_addr() -> SocketAddr {
    let port: u16 = std::env::var(PORT).unwrap().parse().unwrap();
    (Ipv4Addr::LOCALHOST, port).into()
}

/// The child processes, killed (by their own handles) when the test ends, pass or fail.
#[derive(Default)]
struct Children(Vec<(&'static str, Child)>);

impl Children {
    fn spawn(&mut self, role: &'static str, dir: &Path, port: Option<u16>) {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                &format!("tcp::child_{role}"),
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(DIR, dir)
            .stdin(Stdio::null())
            .stdout(File::create(dir.join(format!("{role}.out"))).unwrap())
            .stderr(File::create(dir.join(format!("{role}.err"))).unwrap());
        if let Some(port) = port {
            command.env(PORT, port.to_string());
        }
        self.0.push((role, command.spawn().unwrap()));
    }

    /// The exit status of a child, waiting for it until `deadline`; `None` if it still runs.
    fn wait(&mut self, role: &str, deadline: Instant) -> Option<std::process::ExitStatus> {
        let (_, child) = self.0.iter_mut().find(|(r, _)| *r == role)?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill_all(&mut self) {
        for (_, child) in &mut self.0 {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    fn logs(&self, dir: &Path) -> String {
        let mut out = String::new();
        for (role, _) in &self.0 {
            for stream in ["out", "err"] {
                let text = std::fs::read_to_string(dir.join(format!("{role}.{stream}"))).unwrap_or_default();
                out += &format!("--- {role} std{stream} ---\n{text}\n");
            }
        }
        out
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn wait_for_port(dir: &Path, children: &mut Children) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(dir.join("port")) {
            return text.trim().parse().unwrap();
        }
        if let Some(status) = children.wait("relay", Instant::now()) {
            panic!("the relay exited ({status}):\n{}", children.logs(dir));
        }
        assert!(Instant::now() < deadline, "the relay never wrote its port");
        thread::sleep(Duration::from_millis(20));
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hemlis-tcp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------
// The transport against a relay in this process
// ---------------------------------------------------------------------------------------

/// A relay serving on a free loopback port from a thread of this process.
fn start_relay() -> (SocketAddr, Arc<Mutex<RelayState>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(RelayState::with_log()));
    let shared = Arc::clone(&state);
    thread::spawn(move || serve_relay(listener, shared));
    (addr, state)
}

fn memory_parts(relay: SocketAddr, seed: u64) -> ClientParts {
    ClientParts {
        storage_key: [7; 32],
        store: Box::new(MemoryStore::new()),
        transport: Box::new(TcpTransport::connect(relay).unwrap()),
        clock: Box::new(FixedClock(1_700_000_000)),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        config: ClientConfig::default(),
    }
}

fn sqlite_parts(relay: SocketAddr, db: &Path, seed: u64) -> ClientParts {
    ClientParts {
        storage_key: [9; 32],
        store: Box::new(SqliteStore::open(db).unwrap()),
        transport: Box::new(TcpTransport::connect(relay).unwrap()),
        clock: Box::new(FixedClock(1_700_000_000)),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(seed)),
        config: ClientConfig::default(),
    }
}

/// Receives, checks that nothing was rejected, marks every message read, and returns the
/// bodies.
fn read_all(client: &mut Client) -> Vec<Vec<u8>> {
    let report = client.receive().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    client.mark_read(&ids).unwrap();
    report.messages.into_iter().map(|m| m.body).collect()
}

/// A relay's own device: an account the relay made, whose device list it keeps to itself.
struct KeepsItsList(TcpTransport);

impl hemlis_test::forward::Forward for KeepsItsList {
    fn inner(&self) -> &dyn hemlis::Transport {
        &self.0
    }
    fn publish_device_list(&self, _: &str, _: &[u8]) -> Result<(), hemlis::transport::TransportError> {
        Ok(())
    }
}

/// A relay that adds a device under a user's id gains nothing. The test plays the relay:
/// it publishes a valid prekey upload for `bob/99` under a key pair of its own (a device of
/// an account the relay made and keeps to itself). Bob's signed device list,
/// which only his account key can sign, still names bob/1 alone, so Alice encrypts
/// nothing to bob/99 (not even its bundle is fetched), and what bob/99 sends her is
/// rejected as unlisted and never reaches her inbox. Real SQLite stores, the real TCP
/// relay.
#[test]
fn relay_added_device_gets_nothing_and_is_rejected_over_tcp() {
    let dir = temp_dir("relay-added-device");
    let (relay, state) = start_relay();
    let mut alice = Client::create("alice", 1, sqlite_parts(relay, &dir.join("alice.db"), 21)).unwrap();
    let mut bob = Client::create("bob", 1, sqlite_parts(relay, &dir.join("bob.db"), 22)).unwrap();
    assert_eq!(alice.send("bob", b"hi bob").unwrap(), 1);
    assert_eq!(read_all(&mut bob), [b"hi bob"]);
    assert_eq!(bob.send("alice", b"hi alice").unwrap(), 1);
    assert_eq!(read_all(&mut alice), [b"hi alice"]);

    // The relay adds bob/99: a valid upload under a key pair it made.
    let rogue_parts = ClientParts {
        transport: Box::new(hemlis_test::forward::Forwarding(KeepsItsList(
            TcpTransport::connect(relay).unwrap(),
        ))),
        ..sqlite_parts(relay, &dir.join("rogue.db"), 23)
    };
    let mut rogue = Client::create("bob", 99, rogue_parts).unwrap();
    let rogue_address = rogue.address().clone();
    let stock = {
        let mut state = state.lock().unwrap();
        assert_eq!(state.devices("bob"), [1, 99]);
        let list = DeviceList::decode(&state.fetch_device_list("bob").unwrap()).unwrap();
        assert_eq!(list.devices().map(|(id, _)| id).collect::<Vec<_>>(), [1]);
        let stock = state.stock(&rogue_address);
        assert_ne!(stock, (0, 0));
        stock
    };

    // Alice encrypts to Bob's listed device only.
    assert_eq!(alice.send("bob", b"for bob only").unwrap(), 1);
    assert_eq!(alice.outbox_len().unwrap(), 0);
    {
        let state = state.lock().unwrap();
        assert!(state.fetch(&rogue_address).is_empty(), "nothing for bob/99");
        assert_eq!(
            state.stock(&rogue_address),
            stock,
            "no bundle of bob/99 handed out"
        );
        assert_eq!(state.fetch(bob.address()).len(), 1);
    }
    assert_eq!(read_all(&mut bob), [b"for bob only"]);

    // bob/99 writes to Alice, with her list and a bundle of hers from the relay, as any
    // device of hers would accept from a device of Bob's list.
    rogue.refresh_list("alice").unwrap();
    assert_eq!(
        rogue
            .send_to(std::slice::from_ref(alice.address()), b"it is me, bob")
            .unwrap(),
        1
    );
    assert_eq!(rogue.outbox_len().unwrap(), 0);
    assert_eq!(state.lock().unwrap().fetch(alice.address()).len(), 1);
    let report = alice.receive().unwrap();
    assert!(report.messages.is_empty(), "{:?}", report.messages);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].from, rogue_address);
    assert_eq!(report.rejected[0].reason, RejectReason::UnlistedDevice);
    assert!(alice.inbox().unwrap().is_empty());
    // Dropped for good: acknowledged at the relay, and nothing delivered on a second look.
    assert!(state.lock().unwrap().fetch(alice.address()).is_empty());
    assert!(read_all(&mut alice).is_empty());

    // Alice and Bob carry on, the rogue device still shut out.
    assert_eq!(bob.send("alice", b"still me").unwrap(), 1);
    assert_eq!(read_all(&mut alice), [b"still me"]);
    assert_eq!(alice.send("bob", b"good").unwrap(), 1);
    assert!(state.lock().unwrap().fetch(&rogue_address).is_empty());
    drop((alice, bob, rogue));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clients_talk_through_the_relay_in_process() {
    let (relay, state) = start_relay();
    let mut alice = Client::create("alice", 1, memory_parts(relay, 1)).unwrap();
    let mut bob = Client::create("bob", 1, memory_parts(relay, 2)).unwrap();
    // Bob's second device is linked over the relay: its link code (typed as text), its
    // bundle, the new device list and the provisioning message all cross the socket.
    let mut bob2 = Client::create_linked("bob", 2, memory_parts(relay, 3)).unwrap();
    let code = LinkCode::from_text(&bob2.link_code().unwrap().to_text()).unwrap();
    let confirmation = bob.link(&code).unwrap();
    assert!(!bob2.is_linked());
    let report = bob2.receive().unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(bob2.is_linked());
    assert_eq!(bob2.link_confirmation(), Some(confirmation.as_str()));
    assert!(bob2.link_code().is_none());
    let held = state.lock().unwrap().fetch_device_list("bob").unwrap();
    let list = DeviceList::decode(&held).unwrap();
    assert_eq!(list.version(), 2);
    assert_eq!(list.devices().map(|(id, _)| id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(bob2.device().own_device_list(), Some(&list));

    assert_eq!(alice.send("bob", b"hi bob").unwrap(), 2);
    for b in [&mut bob, &mut bob2] {
        let report = b.receive().unwrap();
        assert_eq!(report.messages.len(), 1);
        assert_eq!(report.messages[0].body, b"hi bob");
        assert_eq!(report.messages[0].from, *alice.address());
        assert_eq!(report.messages[0].sent_to, None);
        b.mark_read(&[report.messages[0].id]).unwrap();
    }
    // Each reply goes to Alice and, as a sent copy, to Bob's other device.
    for i in 0..5 {
        assert_eq!(bob.send("alice", format!("reply {i}").as_bytes()).unwrap(), 2);
    }
    let replies: [&[u8]; 5] = [b"reply 0", b"reply 1", b"reply 2", b"reply 3", b"reply 4"];
    for (client, sent_to) in [(&mut alice, None), (&mut bob2, Some("alice".to_owned()))] {
        let report = client.receive().unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let bodies: Vec<&[u8]> = report.messages.iter().map(|m| m.body.as_slice()).collect();
        assert_eq!(bodies, replies);
        assert!(
            report
                .messages
                .iter()
                .all(|m| m.from == *bob.address() && m.sent_to == sent_to)
        );
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        client.mark_read(&ids).unwrap();
        // Acknowledged: nothing waits at the relay any more.
        assert!(client.receive().unwrap().messages.is_empty());
    }
    let state = state.lock().unwrap();
    for address in [alice.address(), bob.address(), bob2.address()] {
        assert!(state.fetch(address).is_empty());
    }
    // What crossed the socket is what the relay state logged: uploads, bundles, envelopes.
    assert!(!state.log().is_empty());
}

#[test]
fn transport_calls_map_to_the_relay_and_its_errors() {
    let (relay, _state) = start_relay();
    let transport = TcpTransport::connect(relay).unwrap();
    let nobody = Address::new("nobody", 9).unwrap();
    assert_eq!(transport.relay(), relay);
    assert_eq!(
        transport.fetch_device_list("nobody"),
        Err(TransportError::NotFound)
    );
    assert_eq!(transport.fetch_bundle(&nobody), Err(TransportError::NotFound));
    assert_eq!(
        transport.send(&nobody, &nobody, b"x"),
        Err(TransportError::NotFound)
    );
    assert_eq!(transport.fetch(&nobody).unwrap(), Vec::<Incoming>::new());
    assert_eq!(transport.ack(&nobody, &[1, 2, 3]), Ok(()));
    assert!(matches!(
        transport.publish(&nobody, b"not an upload"),
        Err(TransportError::Rejected(_))
    ));
    assert!(matches!(
        transport.publish_device_list("nobody", b"not a list"),
        Err(TransportError::Rejected(_))
    ));

    // A device published by a client, with its signed device list; then envelopes queued
    // and fetched, oldest first.
    let mut bob = Client::create("bob", 4, memory_parts(relay, 5)).unwrap();
    let bob_address = bob.address().clone();
    let first_list = transport.fetch_device_list("bob").unwrap();
    let list = DeviceList::decode(&first_list).unwrap();
    assert_eq!((list.user(), list.version()), ("bob", 1));
    assert_eq!(list.devices().collect::<Vec<_>>(), [(4, bob.identity_key())]);
    assert_eq!(bob.device().own_device_list(), Some(&list));
    assert!(!transport.fetch_bundle(&bob_address).unwrap().is_empty());
    // The relay's checks on a list come back as `rejected`: under another user id, or
    // older than the one it holds; the same list again is taken (a retried publish).
    assert!(matches!(
        transport.publish_device_list("alice", &first_list),
        Err(TransportError::Rejected(_))
    ));
    assert_eq!(transport.publish_device_list("bob", &first_list), Ok(()));
    let new_device = Client::create_linked("bob", 5, memory_parts(relay, 6)).unwrap();
    bob.link(&new_device.link_code().unwrap()).unwrap();
    let second_list = transport.fetch_device_list("bob").unwrap();
    assert_eq!(DeviceList::decode(&second_list).unwrap().version(), 2);
    assert!(matches!(
        transport.publish_device_list("bob", &first_list),
        Err(TransportError::Rejected(_))
    ));
    assert_eq!(transport.fetch_device_list("bob"), Ok(second_list.clone()));
    for body in [&b"one"[..], b"two", &[0u8; 70_000]] {
        transport.send(&nobody, &bob_address, body).unwrap();
    }
    let waiting = transport.fetch(&bob_address).unwrap();
    assert_eq!(waiting.len(), 3);
    assert_eq!(waiting[0].envelope, b"one");
    assert_eq!(waiting[1].envelope, b"two");
    assert_eq!(waiting[2].envelope.len(), 70_000);
    assert!(waiting.iter().all(|w| w.from == nobody));
    assert!(waiting[0].id < waiting[1].id && waiting[1].id < waiting[2].id);
    transport
        .ack(&bob_address, &[waiting[0].id, waiting[2].id])
        .unwrap();
    let waiting = transport.fetch(&bob_address).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].envelope, b"two");

    // Refused before the wire: an envelope above the limit, a user id that cannot encode (an
    // address with one cannot be made at all).
    let huge = vec![0u8; 4 * 1024 * 1024];
    assert!(matches!(
        transport.send(&nobody, &bob_address, &huge),
        Err(TransportError::Rejected(_))
    ));
    assert_eq!(Address::new("x".repeat(300), 1), None);
    for user in ["x".repeat(300), String::new()] {
        assert!(matches!(
            transport.fetch_device_list(&user),
            Err(TransportError::Rejected(_))
        ));
        assert!(matches!(
            transport.publish_device_list(&user, &second_list),
            Err(TransportError::Rejected(_))
        ));
    }
    // A device list is 1 to 4,096 bytes.
    for list in [Vec::new(), vec![1; 4097]] {
        assert!(matches!(
            transport.publish_device_list("bob", &list),
            Err(TransportError::Rejected(_))
        ));
    }
    // The connection is still good.
    assert_eq!(transport.fetch_device_list("bob"), Ok(second_list));
}

/// Over TCP too, a peer that reinstalled (a new account, so a new account key and a new
/// identity at the same address) is noticed before anything is encrypted to the key it no
/// longer holds: the relay hands out the list the new account published, and sending
/// waits until Alice accepts the new account key, which changes the safety number.
#[test]
fn a_reinstalled_peer_blocks_sending_over_tcp() {
    let (relay, _state) = start_relay();
    let mut alice = Client::create("alice", 1, memory_parts(relay, 11)).unwrap();
    let mut bob = Client::create("bob", 1, memory_parts(relay, 12)).unwrap();
    alice.send("bob", b"hi").unwrap();
    assert_eq!(bob.receive().unwrap().messages.len(), 1);
    let old_identity = *bob.identity_key().as_bytes();
    let old_number = alice.safety_number("bob").unwrap();
    drop(bob);

    let mut new_bob = Client::create("bob", 1, memory_parts(relay, 13)).unwrap();
    assert_ne!(*new_bob.identity_key().as_bytes(), old_identity);
    let new_account = new_bob.device().own_device_list().unwrap().account_key().clone();
    assert_eq!(
        alice.send("bob", b"still there?"),
        Err(ClientError::AccountChanged { user: "bob".into() })
    );
    assert_eq!(alice.outbox_len().unwrap(), 0);
    assert_eq!(alice.pending_account("bob"), Some(new_account));
    assert_eq!(
        alice.safety_number("bob").unwrap(),
        old_number,
        "not yet accepted"
    );

    // Once accepted (after comparing the new safety number), messages go to the new key.
    alice.accept_account("bob").unwrap();
    assert_eq!(alice.pending_account("bob"), None);
    let new_number = alice.safety_number("bob").unwrap();
    assert_ne!(new_number, old_number);
    assert_eq!(alice.send("bob", b"welcome back").unwrap(), 1);
    assert_eq!(read_all(&mut new_bob), [b"welcome back"]);
    // The new Bob fetched Alice's list to take her message: both see the same number.
    assert_eq!(new_bob.safety_number("alice").unwrap(), new_number);
}

#[test]
fn a_fetch_answer_holds_what_fits_in_a_frame_and_the_rest_comes_later() {
    let (relay, _state) = start_relay();
    let transport = TcpTransport::connect(relay).unwrap();
    let _bob = Client::create("bob", 1, memory_parts(relay, 6)).unwrap();
    let bob = Address::new("bob", 1).unwrap();
    // Five envelopes of 1 MiB: four fit in a 4 MiB frame only without framing overhead.
    for i in 0..5u8 {
        transport.send(&bob, &bob, &vec![i; 1024 * 1024]).unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        let waiting = transport.fetch(&bob).unwrap();
        if waiting.is_empty() {
            break;
        }
        assert!(waiting.len() < 5);
        seen.extend(waiting.iter().map(|w| w.envelope[0]));
        let ids: Vec<u64> = waiting.iter().map(|w| w.id).collect();
        transport.ack(&bob, &ids).unwrap();
    }
    assert_eq!(seen, [0, 1, 2, 3, 4]);
}

#[test]
fn an_unreachable_relay_is_unavailable_and_the_outbox_keeps_the_message() {
    let (relay, _state) = start_relay();
    let mut alice = Client::create("alice", 1, memory_parts(relay, 7)).unwrap();
    let _bob = Client::create("bob", 1, memory_parts(relay, 8)).unwrap();
    // A port with nothing listening.
    let closed = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap()
    };
    assert!(matches!(
        TcpTransport::connect(closed),
        Err(TransportError::Unavailable(_))
    ));
    // A relay that goes away mid-conversation: a proxy we can cut.
    let proxy = Proxy::start(relay);
    let mut carol = Client::create("carol", 1, memory_parts(proxy.addr, 9)).unwrap();
    assert_eq!(carol.send("alice", b"first").unwrap(), 1);
    assert_eq!(carol.outbox_len().unwrap(), 0);
    proxy.drop_connections();
    proxy.refuse();
    // `send` asks the relay for the user's device list first; `send_to` to a device with a
    // session needs no relay.
    assert!(matches!(
        carol.send("alice", b"lost"),
        Err(ClientError::Transport(TransportError::Unavailable(_)))
    ));
    assert_eq!(
        carol
            .send_to(std::slice::from_ref(alice.address()), b"second")
            .unwrap(),
        1
    );
    assert_eq!(carol.outbox_len().unwrap(), 1, "kept for a retry");
    assert!(matches!(
        carol.flush(),
        Err(ClientError::Transport(TransportError::Unavailable(_)))
    ));
    proxy.accept();
    assert_eq!(carol.flush().unwrap(), 1);
    let bodies: Vec<Vec<u8>> = alice
        .receive()
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, [b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn the_transport_reconnects_once_when_its_connection_drops() {
    let (relay, _state) = start_relay();
    let bob = Client::create("bob", 1, memory_parts(relay, 10)).unwrap();
    let list = bob.device().own_device_list().unwrap().encode();
    let proxy = Proxy::start(relay);
    let transport = TcpTransport::connect(proxy.addr).unwrap();
    assert_eq!(transport.fetch_device_list("bob").unwrap(), list);
    // The relay side drops every open connection; the next call notices and reconnects.
    proxy.drop_connections();
    assert_eq!(transport.fetch_device_list("bob").unwrap(), list);
    assert_eq!(proxy.connections(), 2);
    // A publish retried on a new connection is taken again (the same list).
    proxy.drop_connections();
    assert_eq!(transport.publish_device_list("bob", &list), Ok(()));
    assert_eq!(proxy.connections(), 3);
    // A connection that fails again right away is given up on after one retry.
    proxy.drop_connections();
    proxy.refuse();
    assert!(matches!(
        transport.fetch_device_list("bob"),
        Err(TransportError::Unavailable(_))
    ));
    proxy.accept();
    assert_eq!(transport.fetch_device_list("bob").unwrap(), list);
}

/// A loopback proxy to the relay that the test can cut: it can close the connections it
/// carries, and close new ones as soon as they are accepted.
struct Proxy {
    addr: SocketAddr,
    inner: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    refusing: bool,
    accepted: usize,
    open: Vec<TcpStream>,
}

impl Proxy {
    fn start(relay: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(ProxyState::default()));
        let shared = Arc::clone(&inner);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let mut state = shared.lock().unwrap();
                if state.refusing {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                state.accepted += 1;
                let upstream = TcpStream::connect(relay).unwrap();
                state.open.push(client.try_clone().unwrap());
                state.open.push(upstream.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), upstream.try_clone().unwrap());
                pipe(upstream, client);
            }
        });
        Self { addr, inner }
    }

    fn refuse(&self) {
        self.inner.lock().unwrap().refusing = true;
    }

    fn accept(&self) {
        self.inner.lock().unwrap().refusing = false;
    }

    fn drop_connections(&self) {
        for stream in self.inner.lock().unwrap().open.drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn connections(&self) -> usize {
        self.inner.lock().unwrap().accepted
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}

// ---------------------------------------------------------------------------------------
// Malformed frames
// ---------------------------------------------------------------------------------------

const STATUS_OK: u8 = 0x00;
const STATUS_REJECTED: u8 = 0x02;
const STATUS_MALFORMED: u8 = 0x03;

/// A raw connection speaking the framing by hand.
fn raw(relay: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(relay).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Reads one response frame; `None` if the relay closed the connection instead.
fn read_response(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 4];
    match stream.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("reading a response: {e}"),
    }
    let len = u32::from_be_bytes(header) as usize;
    assert!((1..=4 * 1024 * 1024).contains(&len), "response length {len}");
    let mut body = vec![0u8; len];
    match stream.read_exact(&mut body) {
        Ok(()) => Some(body),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
        Err(e) => panic!("reading a response body: {e}"),
    }
}

/// After a response, or instead of one, the relay closes the connection.
fn assert_closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected a closed connection, got {other:?}"),
    }
}

/// `fetch_device_list` (tag 0x09) for `user`, framed by hand.
fn list_request(user: &str) -> Vec<u8> {
    let mut body = vec![0x09, user.len() as u8];
    body.extend_from_slice(user.as_bytes());
    frame(&body)
}

/// The relay still answers a well-formed request on a fresh connection: Bob's list (bob/1
/// alone), byte for byte what the transport gets.
fn assert_serving(relay: SocketAddr) {
    let mut stream = raw(relay);
    stream.write_all(&list_request("bob")).unwrap();
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response[0], STATUS_OK);
    let list = DeviceList::decode(&response[1..]).unwrap();
    assert_eq!(list.user(), "bob");
    assert_eq!(list.devices().map(|(id, _)| id).collect::<Vec<_>>(), [1]);
    let transport = TcpTransport::connect(relay).unwrap();
    assert_eq!(transport.fetch_device_list("bob").unwrap(), response[1..]);
}

#[test]
fn malformed_frames_get_a_typed_error_or_a_closed_connection() {
    let (relay, _state) = start_relay();
    let _bob = Client::create("bob", 1, memory_parts(relay, 11)).unwrap();

    // The example of docs/PROTOCOL.md, section 12.5: a `fetch_device_list` frame, and the
    // `not found` answer for a user without a list.
    assert_eq!(list_request("bob"), [0, 0, 0, 5, 0x09, 3, b'b', b'o', b'b']);
    let mut stream = raw(relay);
    stream.write_all(&list_request("nobody")).unwrap();
    assert_eq!(read_response(&mut stream).unwrap(), [0x01]);

    // An oversized length: `malformed`, then the connection closes (its framing is lost).
    // Nothing near 4 GiB is allocated: the relay has not read past the length.
    let mut stream = raw(relay);
    stream.write_all(&u32::MAX.to_be_bytes()).unwrap();
    let response = read_response(&mut stream).unwrap();
    assert_eq!(response[0], STATUS_MALFORMED);
    assert_closed(&mut stream);
    assert_serving(relay);

    // Just above the 4 MiB limit.
    let mut stream = raw(relay);
    stream.write_all(&(4 * 1024 * 1024 + 1u32).to_be_bytes()).unwrap();
    assert_eq!(read_response(&mut stream).unwrap()[0], STATUS_MALFORMED);
    assert_closed(&mut stream);

    // A zero length.
    let mut stream = raw(relay);
    stream.write_all(&[0, 0, 0, 0]).unwrap();
    assert_eq!(read_response(&mut stream).unwrap()[0], STATUS_MALFORMED);
    assert_closed(&mut stream);

    // A body cut short by the end of the stream: closed, at most after a `malformed`.
    let mut stream = raw(relay);
    stream.write_all(&100u32.to_be_bytes()).unwrap();
    stream.write_all(&[0x09, 3, b'b', b'o', b'b']).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    if let Some(response) = read_response(&mut stream) {
        assert_eq!(response[0], STATUS_MALFORMED);
    }
    assert_closed(&mut stream);
    // A header cut short.
    let mut stream = raw(relay);
    stream.write_all(&[0, 0]).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    if let Some(response) = read_response(&mut stream) {
        assert_eq!(response[0], STATUS_MALFORMED);
    }
    assert_closed(&mut stream);
    assert_serving(relay);

    // Bodies that do not decode: `malformed` with a reason, and the connection stays usable.
    let address = |user: &str, device: u32| {
        let mut out = vec![user.len() as u8];
        out.extend_from_slice(user.as_bytes());
        out.extend_from_slice(&device.to_be_bytes());
        out
    };
    let mut ack_overflow = vec![0x06];
    ack_overflow.extend_from_slice(&address("bob", 1));
    ack_overflow.extend_from_slice(&u32::MAX.to_be_bytes());
    let mut trailing = vec![0x05];
    trailing.extend_from_slice(&address("bob", 1));
    trailing.push(0);
    let user = |user: &str| [vec![user.len() as u8], user.as_bytes().to_vec()].concat();
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("unknown tag", vec![0xee, 1, 2, 3]),
        ("tag zero", vec![0x00]),
        ("retired devices tag", [vec![0x02], user("bob")].concat()),
        ("retired identity tag", [vec![0x07], address("bob", 1)].concat()),
        ("truncated address", vec![0x05, 3, b'b', b'o']),
        ("empty user", vec![0x09, 0]),
        ("user too long", [vec![0x09, 200], vec![b'a'; 200]].concat()),
        ("user not UTF-8", vec![0x09, 2, 0xff, 0xfe]),
        (
            "fetch_device_list trailing",
            [vec![0x09], user("bob"), vec![0]].concat(),
        ),
        (
            "publish_device_list without a list",
            [vec![0x08], user("bob")].concat(),
        ),
        (
            "publish_device_list above 4,096 bytes",
            [vec![0x08], user("bob"), vec![1; 4097]].concat(),
        ),
        (
            "publish_device_list empty user",
            [vec![0x08, 0], vec![1; 100]].concat(),
        ),
        ("address without device", vec![0x03, 3, b'b', b'o', b'b', 0]),
        ("ack count past the body", ack_overflow),
        ("trailing bytes", trailing),
        (
            "send without a recipient",
            [vec![0x04], address("bob", 1)].concat(),
        ),
    ];
    let mut stream = raw(relay);
    for (what, body) in &malformed {
        stream.write_all(&frame(body)).unwrap();
        let response = read_response(&mut stream).unwrap_or_else(|| panic!("{what}: connection closed"));
        assert_eq!(response[0], STATUS_MALFORMED, "{what}");
        assert!(
            std::str::from_utf8(&response[1..]).is_ok(),
            "{what}: a text reason"
        );
        // Still in step: a good request on the same connection gets its answer.
        stream.write_all(&list_request("bob")).unwrap();
        assert_eq!(read_response(&mut stream).unwrap()[0], STATUS_OK, "{what}");
    }
    // A list that decodes as a frame but not as a device list is `rejected`, not
    // `malformed`; Bob's list is unchanged.
    stream
        .write_all(&frame(&[vec![0x08], user("bob"), vec![1; 300]].concat()))
        .unwrap();
    assert_eq!(read_response(&mut stream).unwrap()[0], STATUS_REJECTED);
    assert_serving(relay);
}

#[test]
fn random_frames_never_bring_the_relay_down() {
    let (relay, _state) = start_relay();
    let _bob = Client::create("bob", 1, memory_parts(relay, 12)).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(13);
    let mut stream = raw(relay);
    for _ in 0..500 {
        let len = 1 + (rng.next_u32() % 300) as usize;
        let mut body = vec![0u8; len];
        rng.fill_bytes(&mut body);
        // Mostly valid tags, so the field decoders see the noise.
        body[0] = (rng.next_u32() % 10) as u8;
        if len > 1 && rng.next_u32() % 2 == 0 {
            body[1] = (rng.next_u32() % 8) as u8;
        }
        stream.write_all(&frame(&body)).unwrap();
        let response = read_response(&mut stream).expect("a well-framed request gets an answer");
        assert!(response[0] <= 0x04, "a known status");
    }
    // Random bytes as the frame stream itself.
    for _ in 0..50 {
        let mut stream = raw(relay);
        let mut noise = vec![0u8; 1 + (rng.next_u32() % 64) as usize];
        rng.fill_bytes(&mut noise);
        // The relay may close first (a zero or oversized length), so either may fail.
        let _ = stream.write_all(&noise);
        let _ = stream.shutdown(Shutdown::Write);
        while read_response(&mut stream).is_some() {}
    }
    assert_serving(relay);
}

#[test]
fn many_clients_at_once() {
    let (relay, _state) = start_relay();
    let _bob = Client::create("bob", 1, memory_parts(relay, 14)).unwrap();
    let bob = Address::new("bob", 1).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let bob = bob.clone();
            thread::spawn(move || {
                let transport = TcpTransport::connect(relay).unwrap();
                let from = Address::new(format!("sender{i}"), 1).unwrap();
                for j in 0..20u8 {
                    transport.send(&from, &bob, &[i, j]).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let transport = TcpTransport::connect(relay).unwrap();
    let waiting = transport.fetch(&bob).unwrap();
    assert_eq!(waiting.len(), 16 * 20);
    // Each sender's envelopes arrive in the order it sent them.
    for i in 0..16u8 {
        let mine: Vec<u8> = waiting
            .iter()
            .filter(|w| w.envelope[0] == i)
            .map(|w| w.envelope[1])
            .collect();
        assert_eq!(mine, (0..20).collect::<Vec<u8>>());
    }
}
