//! Crashes at random instants (docs/ARCHITECTURE.md, section 4): Alice and Bob run as child processes of
//! this test (the test binary runs itself with `--exact crash::crash_child --ignored`), each on
//! its own SQLite file, sending numbered messages to each other through a relay in this
//! process over TCP. The parent kills them with SIGKILL at random moments and restarts
//! them, then lets them finish. Afterwards: every message a sender saw committed was
//! received exactly once, no body was delivered under two inbox ids, no two different
//! envelopes share a nonce, and every envelope a receiver refused as a duplicate is a copy
//! of one it had been handed before.
//!
//! Two relays: one of this file, which hands out one envelope per fetch and records each
//! hand-out (so a duplicate is pinned to its envelope), and the library's `serve_relay`
//! with `TcpTransport`.
//!
//! `HEMLIS_CRASH_SEED=<n>` replays a kill schedule (the seed is printed; run with
//! `--nocapture` to see it).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::OpenOptions;
use std::io::{Read, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hemlis::rand_core::Rng;
use hemlis::transport::{Incoming, RelayState, TransportError};
use hemlis::{Address, Client, Envelope, Limits, SqliteStore, Transport};
use hemlis_relay::{TcpTransport, serve_relay};
use hemlis_test::client::*;
use hemlis_test::clock::*;
use hemlis_test::envelope::{header_offset, nonces};
use hemlis_test::lock;
use hemlis_test::rng::*;
use hemlis_test::tempdir::*;

/// Messages each side sends.
const PER_SIDE: u64 = 100;
/// Kills at least before the children are let finish (and until both have tried every
/// number).
const MIN_KILLS: usize = 100;

const ENV_ROLE: &str = "HEMLIS_CRASH_ROLE";
const ENV_DIR: &str = "HEMLIS_CRASH_DIR";
const ENV_RELAY: &str = "HEMLIS_CRASH_RELAY";
const ENV_RNG: &str = "HEMLIS_CRASH_RNG";
const ENV_FINISH: &str = "HEMLIS_CRASH_FINISH";
const ENV_WIRE: &str = "HEMLIS_CRASH_WIRE";

// ---------------------------------------------------------------------------------------
// The relay across processes: a length-prefixed request/answer protocol over TCP, one
// connection per call. A request applies only once it has fully arrived, so a child killed
// mid-request changes nothing; one killed after the request loses only the answer.
//
// frame   = length (u32) || payload
// request = op (1) || fields; answer = status (1: 0 ok, 1 not found, 2 refused) || fields
// field   = length (u32) || bytes

const OP_PUBLISH: u8 = 1;
const OP_PUBLISH_LIST: u8 = 2;
const OP_BUNDLE: u8 = 3;
const OP_SEND: u8 = 4;
const OP_FETCH: u8 = 5;
const OP_ACK: u8 = 6;
const OP_FETCH_LIST: u8 = 7;

fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> std::io::Result<()> {
    let mut frame = (payload.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

fn fields(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        out.push(bytes.get(4..4 + len)?.to_vec());
        bytes = &bytes[4 + len..];
    }
    Some(out)
}

fn decode_address(bytes: &[u8]) -> Option<Address> {
    match Address::decode_prefix(bytes)? {
        (address, []) => Some(address),
        _ => None,
    }
}

/// One envelope the relay accepted.
#[derive(Debug, Clone)]
struct Accepted {
    id: u64,
    from: Address,
    to: Address,
    bytes: Vec<u8>,
}

/// The relay: prekeys and device lists in a `RelayState`, mailboxes of its own that hand
/// out one envelope per fetch (so each `receive` of a child processes at most one), and a
/// record of every envelope accepted and every one handed out.
#[derive(Default)]
struct Relay {
    keys: RelayState,
    mailbox: BTreeMap<u64, Accepted>,
    next_id: u64,
    accepted: Vec<Accepted>,
    handed_out: Vec<(Address, u64)>,
}

impl Relay {
    fn answer(&mut self, request: &[u8]) -> Result<Vec<Vec<u8>>, TransportError> {
        let refused = || TransportError::Rejected("malformed request".into());
        let (&op, rest) = request.split_first().ok_or_else(refused)?;
        let f = fields(rest).ok_or_else(refused)?;
        let address = |i: usize| f.get(i).and_then(|b| decode_address(b)).ok_or_else(refused);
        let user = || {
            let bytes = f.first().ok_or_else(refused)?;
            String::from_utf8(bytes.clone()).map_err(|_| refused())
        };
        match op {
            OP_PUBLISH => {
                self.keys.publish(&address(0)?, f.get(1).ok_or_else(refused)?)?;
                Ok(Vec::new())
            }
            OP_PUBLISH_LIST => {
                self.keys
                    .publish_device_list(&user()?, f.get(1).ok_or_else(refused)?)?;
                Ok(Vec::new())
            }
            OP_FETCH_LIST => Ok(vec![self.keys.fetch_device_list(&user()?)?]),
            OP_BUNDLE => Ok(vec![self.keys.fetch_bundle(&address(0)?)?]),
            OP_SEND => {
                let (from, to) = (address(0)?, address(1)?);
                if !self.keys.devices(to.user()).contains(&to.device()) {
                    return Err(TransportError::NotFound);
                }
                self.next_id += 1;
                let accepted = Accepted {
                    id: self.next_id,
                    from,
                    to,
                    bytes: f.get(2).ok_or_else(refused)?.clone(),
                };
                self.accepted.push(accepted.clone());
                self.mailbox.insert(accepted.id, accepted);
                Ok(Vec::new())
            }
            OP_FETCH => {
                let device = address(0)?;
                let Some(next) = self.mailbox.values().find(|a| a.to == device) else {
                    return Ok(Vec::new());
                };
                self.handed_out.push((device, next.id));
                Ok(vec![
                    next.id.to_be_bytes().to_vec(),
                    next.from.encode(),
                    next.bytes.clone(),
                ])
            }
            OP_ACK => {
                let device = address(0)?;
                for id in &f[1..] {
                    let id = u64::from_be_bytes(id.as_slice().try_into().map_err(|_| refused())?);
                    if self.mailbox.get(&id).is_some_and(|a| a.to == device) {
                        self.mailbox.remove(&id);
                    }
                }
                Ok(Vec::new())
            }
            _ => Err(refused()),
        }
    }
}

struct RelayServer {
    addr: SocketAddr,
    relay: Arc<Mutex<Relay>>,
    stop: Arc<AtomicBool>,
}

impl RelayServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let relay = Arc::new(Mutex::new(Relay::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (relay.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let relay = r.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    // A child killed mid-request: nothing arrived whole, nothing applies.
                    let Ok(request) = read_frame(&mut stream) else {
                        return;
                    };
                    let answer = lock(&relay).answer(&request);
                    let mut payload = Vec::new();
                    match answer {
                        Ok(out) => {
                            payload.push(0);
                            out.iter().for_each(|f| put_field(&mut payload, f));
                        }
                        Err(TransportError::NotFound) => payload.push(1),
                        Err(e) => {
                            payload.push(2);
                            put_field(&mut payload, e.to_string().as_bytes());
                        }
                    }
                    let _ = write_frame(&mut stream, &payload);
                });
            }
        });
        Self { addr, relay, stop }
    }

    fn relay(&self) -> MutexGuard<'_, Relay> {
        lock(&self.relay)
    }
}

impl Drop for RelayServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// The transport of the children (and of the parent while it creates the devices).
struct TcpMailbox {
    addr: SocketAddr,
    /// The relay ids handed out by the last fetch.
    last_fetch: LastFetch,
}

impl TcpMailbox {
    fn call(&self, op: u8, args: &[&[u8]]) -> Result<Vec<Vec<u8>>, TransportError> {
        let down = |e: std::io::Error| TransportError::Unavailable(e.to_string());
        let mut stream = TcpStream::connect(self.addr).map_err(down)?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(down)?;
        let mut request = vec![op];
        args.iter().for_each(|a| put_field(&mut request, a));
        write_frame(&mut stream, &request).map_err(down)?;
        let answer = read_frame(&mut stream).map_err(down)?;
        let bad = || TransportError::Unavailable("malformed answer".into());
        let (&status, rest) = answer.split_first().ok_or_else(bad)?;
        let f = fields(rest).ok_or_else(bad)?;
        match status {
            0 => Ok(f),
            1 => Err(TransportError::NotFound),
            _ => Err(TransportError::Rejected(
                String::from_utf8_lossy(f.first().map_or(&[][..], |m| m)).into_owned(),
            )),
        }
    }
}

impl Transport for TcpMailbox {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.call(OP_PUBLISH, &[&device.encode(), upload]).map(drop)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.call(OP_PUBLISH_LIST, &[user.as_bytes(), list]).map(drop)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        let mut f = self.call(OP_FETCH_LIST, &[user.as_bytes()])?;
        f.pop().ok_or(TransportError::NotFound)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        let mut f = self.call(OP_BUNDLE, &[&device.encode()])?;
        f.pop().ok_or(TransportError::NotFound)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.call(OP_SEND, &[&from.encode(), &to.encode(), envelope])
            .map(drop)
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let f = self.call(OP_FETCH, &[&device.encode()])?;
        let bad = || TransportError::Unavailable("malformed answer".into());
        let incoming = match f.as_slice() {
            [] => Vec::new(),
            [id, from, envelope] => vec![Incoming {
                id: u64::from_be_bytes(id.as_slice().try_into().map_err(|_| bad())?),
                from: decode_address(from).ok_or_else(bad)?,
                envelope: envelope.clone(),
            }],
            _ => return Err(bad()),
        };
        *lock(&self.last_fetch) = incoming.iter().map(|i| i.id).collect();
        Ok(incoming)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        let ids: Vec<[u8; 8]> = ids.iter().map(|id| id.to_be_bytes()).collect();
        let mut args: Vec<&[u8]> = vec![];
        let device = device.encode();
        args.push(&device);
        args.extend(ids.iter().map(|i| &i[..]));
        self.call(OP_ACK, &args).map(drop)
    }
}

// ---------------------------------------------------------------------------------------
// The children

fn peer_of(role: &str) -> &'static str {
    if role == "alice" { "bob" } else { "alice" }
}

fn append(path: &Path, line: &str) {
    // One write per line: a kill lands before or after it, never inside.
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log");
    file.write_all(line.as_bytes()).expect("write log");
}

fn read_lines(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

/// The relay ids the last fetch of a [`TcpMailbox`] handed out.
type LastFetch = Arc<Mutex<Vec<u64>>>;

/// Which relay the processes talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// The relay of this file ([`RelayServer`], [`TcpMailbox`]): one envelope per fetch,
    /// and a record of every envelope handed out.
    Own,
    /// The library's `serve_relay` and `TcpTransport`.
    Library,
}

impl Wire {
    fn name(self) -> &'static str {
        match self {
            Wire::Own => "own",
            Wire::Library => "library",
        }
    }

    fn from_name(name: &str) -> Self {
        if name == "library" {
            Wire::Library
        } else {
            Wire::Own
        }
    }

    /// A transport to the relay at `addr`, and for [`Wire::Own`] the ids its last fetch
    /// handed out.
    fn transport(self, addr: SocketAddr) -> (Box<dyn Transport>, Option<LastFetch>) {
        match self {
            Wire::Own => {
                let last_fetch = Arc::new(Mutex::new(Vec::new()));
                let transport = TcpMailbox {
                    addr,
                    last_fetch: last_fetch.clone(),
                };
                (Box::new(transport), Some(last_fetch))
            }
            Wire::Library => (
                Box::new(TcpTransport::connect(addr).expect("connect to the relay")),
                None,
            ),
        }
    }
}

fn client_parts(db: &Path, transport: Box<dyn Transport>, seed: u64) -> hemlis::ClientParts {
    hemlis::ClientParts {
        storage_key: storage_key(),
        store: Box::new(SqliteStore::open(db).expect("open database")),
        transport,
        clock: Box::new(TestClock::new(T0)),
        // A new seed for every run of a child: a restarted process must not replay the
        // randomness of the one before.
        rng: Box::new(rng(seed)),
        config: small_config(),
    }
}

/// The loop of one child: receive, log what arrived, mark it read, send the next number,
/// log it. In the finishing run it stops once both sides have sent everything and its
/// mailbox is empty.
#[test]
#[ignore = "child process of the crash tests"]
fn crash_child() {
    let Ok(role) = std::env::var(ENV_ROLE) else {
        return;
    };
    let var = |name: &str| std::env::var(name).expect(name);
    let dir = PathBuf::from(var(ENV_DIR));
    let addr: SocketAddr = var(ENV_RELAY).parse().expect("relay address");
    let seed: u64 = var(ENV_RNG).parse().expect("seed");
    let wire = Wire::from_name(&var(ENV_WIRE));
    let finish = std::env::var(ENV_FINISH).is_ok();
    let peer = peer_of(&role);
    let sent_log = dir.join(format!("{role}.sent"));
    let received_log = dir.join(format!("{role}.received"));
    let (my_done, peer_done) = (dir.join(format!("{role}.done")), dir.join(format!("{peer}.done")));

    let (transport, last_fetch) = wire.transport(addr);
    let mut client =
        Client::open(client_parts(&dir.join(format!("{role}.db")), transport, seed)).expect("open");
    // A number once tried is never sent again: it may have been committed before a kill.
    let mut next = read_lines(&sent_log)
        .iter()
        .filter(|l| l[0] == "try")
        .map(|l| l[1].parse::<u64>().expect("number") + 1)
        .max()
        .unwrap_or(0);
    loop {
        let peer_was_done = peer_done.exists();
        if client.outbox_len().expect("outbox") > 0 {
            let _ = client.flush();
        }
        let report = client.receive().expect("receive");
        assert!(
            report.rejected.is_empty(),
            "{role} rejected {:?}",
            report.rejected
        );
        if let Some(last_fetch) = &last_fetch {
            // One envelope per fetch: a duplicate is that one.
            let fetched = lock(last_fetch).clone();
            assert!(report.duplicates <= fetched.len());
            if report.duplicates > 0 {
                append(&received_log, &format!("dup {}\n", fetched[0]));
            }
        }
        let mut ids = Vec::new();
        for m in &report.messages {
            assert_eq!(m.from.user(), peer);
            let body = String::from_utf8(m.body.clone()).expect("utf-8");
            append(&received_log, &format!("msg {} {body}\n", m.id));
            ids.push(m.id);
        }
        client.mark_read(&ids).expect("mark_read");
        if next < PER_SIDE {
            append(&sent_log, &format!("try {next}\n"));
            client
                .send(peer, format!("{role}:{next}").as_bytes())
                .expect("send");
            append(&sent_log, &format!("ok {next}\n"));
            next += 1;
        }
        if finish {
            if next >= PER_SIDE && client.outbox_len().expect("outbox") == 0 && !my_done.exists() {
                append(&my_done, "done\n");
            }
            let mailbox_was_empty = ids.is_empty() && report.duplicates == 0;
            if my_done.exists() && peer_was_done && mailbox_was_empty {
                break;
            }
        }
        // Paced so that the sending spans the parent's kill phase.
        std::thread::sleep(Duration::from_millis(if finish { 0 } else { 8 }));
    }
}

// ---------------------------------------------------------------------------------------
// The parent

fn spawn_child(role: &str, dir: &Path, relay: SocketAddr, wire: Wire, seed: u64, finish: bool) -> Child {
    let stderr = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(format!("{role}.stderr")))
        .expect("stderr file");
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "crash::crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_ROLE, role)
        .env(ENV_DIR, dir)
        .env(ENV_RELAY, relay.to_string())
        .env(ENV_WIRE, wire.name())
        .env(ENV_RNG, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    if finish {
        command.env(ENV_FINISH, "1");
    }
    command.spawn().expect("spawn child")
}

fn child_failed(role: &str, dir: &Path, status: std::process::ExitStatus) -> ! {
    let stderr = std::fs::read_to_string(dir.join(format!("{role}.stderr"))).unwrap_or_default();
    let tail: String = stderr
        .chars()
        .rev()
        .take(4000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    panic!("child {role} exited on its own ({status}):\n{tail}");
}

/// What a receiver's log says: inbox id -> body, and the relay ids refused as duplicates.
fn received(dir: &Path, role: &str) -> (BTreeMap<u64, String>, Vec<u64>) {
    let mut by_id = BTreeMap::new();
    let mut dups = Vec::new();
    for line in read_lines(&dir.join(format!("{role}.received"))) {
        match line[0].as_str() {
            "msg" => {
                let id: u64 = line[1].parse().expect("id");
                let body = line[2].clone();
                // A message logged again after a kill before mark_read: same id, same body.
                if let Some(old) = by_id.insert(id, body.clone()) {
                    assert_eq!(old, body, "{role}'s inbox id {id} carried two bodies");
                }
            }
            "dup" => dups.push(line[1].parse().expect("relay id")),
            other => panic!("unexpected log line {other}"),
        }
    }
    (by_id, dups)
}

/// The numbers a sender tried and the ones it saw committed.
fn sent(dir: &Path, role: &str) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let (mut tried, mut committed) = (BTreeSet::new(), BTreeSet::new());
    for line in read_lines(&dir.join(format!("{role}.sent"))) {
        let n: u64 = line[1].parse().expect("number");
        match line[0].as_str() {
            "try" => assert!(tried.insert(n), "{role} tried {n} twice"),
            "ok" => assert!(committed.insert(n), "{role} committed {n} twice"),
            other => panic!("unexpected log line {other}"),
        }
    }
    assert!(committed.is_subset(&tried));
    (tried, committed)
}

/// The relay the parent runs, of either kind.
enum RelayHandle {
    Own(RelayServer),
    Library {
        addr: SocketAddr,
        state: Arc<Mutex<RelayState>>,
    },
}

impl RelayHandle {
    fn start(wire: Wire) -> Self {
        match wire {
            Wire::Own => RelayHandle::Own(RelayServer::start()),
            Wire::Library => {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
                let addr = listener.local_addr().expect("address");
                let state = Arc::new(Mutex::new(RelayState::with_log()));
                let shared = state.clone();
                // Serves until the test process ends.
                std::thread::spawn(move || serve_relay(listener, shared));
                RelayHandle::Library { addr, state }
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            RelayHandle::Own(server) => server.addr,
            RelayHandle::Library { addr, .. } => *addr,
        }
    }

    /// Every envelope the relay accepted, in order.
    fn envelopes(&self) -> Vec<Vec<u8>> {
        match self {
            RelayHandle::Own(server) => server.relay().accepted.iter().map(|a| a.bytes.clone()).collect(),
            RelayHandle::Library { state, .. } => {
                let max = Limits::default().max_padded_len();
                lock(state)
                    .log()
                    .iter()
                    .filter(|entry| Envelope::parse(entry, max).is_ok())
                    .cloned()
                    .collect()
            }
        }
    }

    fn mailboxes_empty(&self) -> bool {
        match self {
            RelayHandle::Own(server) => server.relay().mailbox.is_empty(),
            RelayHandle::Library { state, .. } => {
                let state = lock(state);
                ["alice", "bob"]
                    .iter()
                    .all(|u| state.fetch(&Address::new(*u, 1).expect("address")).is_empty())
            }
        }
    }
}

/// Runs one crash test and returns a summary line.
fn run_crash_test(wire: Wire, min_kills: usize) -> String {
    // One at a time: the kill schedule means little when two runs share the CPU.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = lock(&ONE_AT_A_TIME);
    let seed = std::env::var("HEMLIS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!(
        "crash test ({} relay) seed: {seed} (HEMLIS_CRASH_SEED={seed} replays the kill schedule)",
        wire.name()
    );
    let started = Instant::now();
    let mut rng = rng(seed);
    let tmp = TempDir::new("crash");
    let dir = tmp.path().to_path_buf();
    let relay = RelayHandle::start(wire);
    let addr = relay.addr();

    // The devices exist before the first child starts.
    for (i, role) in ["alice", "bob"].into_iter().enumerate() {
        let (transport, _) = wire.transport(addr);
        let parts = client_parts(
            &dir.join(format!("{role}.db")),
            transport,
            seed ^ ((i as u64 + 1) << 60),
        );
        Client::create(role, 1, parts).expect("create");
    }

    let mut runs = 0u64;
    let mut next_seed = |rng: &mut rand_chacha::ChaCha20Rng| {
        runs += 1;
        rng.next_u64()
    };
    let roles = ["alice", "bob"];
    let mut children: Vec<Child> = roles
        .iter()
        .map(|role| spawn_child(role, &dir, addr, wire, next_seed(&mut rng), false))
        .collect();
    let tried = |role: &str| {
        let lines = read_lines(&dir.join(format!("{role}.sent")));
        lines.iter().filter(|l| l[0] == "try").count() as u64
    };
    let (mut kills, mut while_sending) = (0, 0);
    while kills < min_kills || roles.iter().any(|r| tried(r) < PER_SIDE) {
        std::thread::sleep(Duration::from_millis(5 + rng.next_u64() % 60));
        let victims: &[usize] = match rng.next_u64() % 3 {
            0 => &[0],
            1 => &[1],
            _ => &[0, 1],
        };
        for &v in victims {
            if let Some(status) = children[v].try_wait().expect("try_wait") {
                child_failed(roles[v], &dir, status);
            }
            // `Child::kill` is SIGKILL on Unix.
            children[v].kill().expect("SIGKILL");
            children[v].wait().expect("reap");
            kills += 1;
            if tried(roles[v]) < PER_SIDE {
                while_sending += 1;
            }
            children[v] = spawn_child(roles[v], &dir, addr, wire, next_seed(&mut rng), false);
        }
    }
    let kill_phase = started.elapsed();
    for (v, child) in children.iter_mut().enumerate() {
        if let Some(status) = child.try_wait().expect("try_wait") {
            child_failed(roles[v], &dir, status);
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        kills += 1;
    }

    // Finish cleanly: both run until everything is sent and received.
    let mut children: Vec<Child> = roles
        .iter()
        .map(|role| spawn_child(role, &dir, addr, wire, next_seed(&mut rng), true))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for (v, child) in children.iter_mut().enumerate() {
        loop {
            match child.try_wait().expect("try_wait") {
                Some(status) if status.success() => break,
                Some(status) => child_failed(roles[v], &dir, status),
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("child {} did not finish", roles[v]);
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    // Exactly once: every number a sender saw committed arrived once, under one inbox id;
    // nothing arrived that was not tried.
    let mut duplicates = 0;
    for role in roles {
        let peer = peer_of(role);
        let (tried, committed) = sent(&dir, peer);
        assert_eq!(tried.len() as u64, PER_SIDE);
        let (by_id, dups) = received(&dir, role);
        duplicates += dups.len();
        let mut ids_of: HashMap<u64, Vec<u64>> = HashMap::new();
        for (id, body) in &by_id {
            let (from, n) = body.split_once(':').expect("role:number");
            assert_eq!(from, peer);
            let n: u64 = n.parse().expect("number");
            assert!(
                tried.contains(&n),
                "{role} received {n}, which {peer} never tried"
            );
            ids_of.entry(n).or_default().push(*id);
        }
        for (n, ids) in &ids_of {
            assert_eq!(
                ids.len(),
                1,
                "{role} received {peer}'s {n} under inbox ids {ids:?}"
            );
        }
        for n in &committed {
            assert!(
                ids_of.contains_key(n),
                "{peer}'s committed {n} never reached {role}"
            );
        }
    }

    // Keys and nonces: no two different envelopes share a header or body nonce; copies of
    // one initial envelope's sealed identity are identical.
    assert!(relay.mailboxes_empty(), "every envelope was acknowledged");
    let envelopes = relay.envelopes();
    let max = Limits::default().max_padded_len();
    let mut distinct: BTreeMap<&[u8], usize> = BTreeMap::new();
    for (i, bytes) in envelopes.iter().enumerate() {
        Envelope::parse(bytes, max).expect("every envelope parses");
        distinct.entry(bytes).or_insert(i);
    }
    let mut nonce_owner: HashMap<[u8; 24], usize> = HashMap::new();
    let mut sealed_identities: HashMap<&[u8], &[u8]> = HashMap::new();
    for (bytes, i) in &distinct {
        let (header, body) = nonces(bytes);
        for nonce in [header, body] {
            if let Some(other) = nonce_owner.insert(nonce, *i) {
                panic!("envelopes {other} and {i} differ but share a nonce");
            }
        }
        if bytes[1] == 1 {
            let at = header_offset(bytes) - 72;
            let (nonce, sealed) = (&bytes[at..at + 24], &bytes[at..at + 72]);
            let same = sealed_identities.insert(nonce, sealed);
            assert!(same.is_none_or(|s| s == sealed), "a sealed identity nonce reused");
        }
    }

    // Every envelope refused as a duplicate was a copy of one handed to that receiver
    // before: a second envelope under the same key would be refused without being one.
    let mut handed = 0;
    if let RelayHandle::Own(server) = &relay {
        let relay = server.relay();
        let bytes_of: HashMap<u64, &[u8]> = relay
            .accepted
            .iter()
            .map(|a| (a.id, a.bytes.as_slice()))
            .collect();
        for role in roles {
            let me = Address::new(role, 1).expect("address");
            let handed: Vec<u64> = relay
                .handed_out
                .iter()
                .filter(|(to, _)| *to == me)
                .map(|(_, id)| *id)
                .collect();
            for dup in received(&dir, role).1 {
                let last = handed.iter().rposition(|&id| id == dup).expect("handed out");
                let copy_before = handed[..last].iter().any(|id| bytes_of[id] == bytes_of[&dup]);
                assert!(
                    copy_before,
                    "{role} refused envelope {dup}, which is no copy of one it had"
                );
            }
        }
        handed = relay.handed_out.len();
    }

    // The sessions survived it all.
    let open = |role: &str, seed: u64| {
        let (transport, _) = wire.transport(addr);
        Client::open(client_parts(&dir.join(format!("{role}.db")), transport, seed)).expect("open")
    };
    let mut alice = open("alice", next_seed(&mut rng));
    let mut bob = open("bob", next_seed(&mut rng));
    for client in [&alice, &bob] {
        assert_eq!(client.outbox_len().expect("outbox"), 0);
        assert!(client.inbox().expect("inbox").is_empty());
    }
    alice.send("bob", b"after it all").expect("send");
    receive_exactly(&mut bob, &[b"after it all"]);
    bob.send("alice", b"still here").expect("send");
    receive_exactly(&mut alice, &[b"still here"]);

    format!(
        "crash test ({} relay): {kills} kills ({while_sending} while sending) over {runs} runs \
         (kill phase {:.1}s), {} envelopes accepted ({} resent copies), {handed} hand-outs \
         recorded, {duplicates} duplicates pinned to their envelopes; {:.1}s in all",
        wire.name(),
        kill_phase.as_secs_f64(),
        envelopes.len(),
        envelopes.len() - distinct.len(),
        started.elapsed().as_secs_f64()
    )
}

#[test]
fn crash_at_random_points_loses_and_repeats_nothing() {
    println!("{}", run_crash_test(Wire::Own, MIN_KILLS));
}

#[test]
fn crash_at_random_points_over_the_library_tcp_relay() {
    println!("{}", run_crash_test(Wire::Library, MIN_KILLS / 2));
}
