//! Load: three clients, each a separate process with its own SQLite file, send 10,000
//! messages each through the TCP relay (`hemlis_relay::{TcpTransport, serve_relay}`)
//! on 127.0.0.1, half to each of the two others, receiving as they go. Every message is
//! delivered, none twice; each client reports its peak memory (VmHWM of
//! /proc/self/status) and its time.
//!
//! It takes about a minute and loads both cores, so it is ignored by default and run
//! explicitly (CI does, after the test suite):
//!
//! ```sh
//! cargo test --all-features -p hemlis-relay --test relay -- --ignored --exact --nocapture load::load_three_clients_through_the_tcp_relay
//! ```
//!
//! `HEMLIS_LOAD_MESSAGES` sets the number per client (default 10,000). The test binary runs
//! itself as the clients (`--exact load::load_child --ignored`), as `tcp.rs` does.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hemlis::rand_core::SeedableRng;
use hemlis::transport::RelayState;
use hemlis::{Client, ClientConfig, ClientParts, SqliteStore, SystemClock};
use hemlis_relay::{TcpTransport, serve_relay};

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const ROLE: &str = "HEMLIS_LOAD_ROLE";
const DIR: &str = "HEMLIS_LOAD_DIR";
const PORT: &str = "HEMLIS_LOAD_PORT";
const MESSAGES: &str = "HEMLIS_LOAD_MESSAGES";
/// Every process gives up after this long.
const TIMEOUT: Duration = Duration::from_secs(1_800);

fn messages() -> usize {
    std::env::var(MESSAGES)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// The peak resident memory of this process (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
#[ignore = "a load test of minutes: run it explicitly (see the file's header)"]
fn load_three_clients_through_the_tcp_relay() {
    let per_client = messages();
    let dir = std::env::temp_dir().join(format!("hemlis-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let relay: SocketAddr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(RelayState::default()));
    let shared = Arc::clone(&state);
    thread::spawn(move || serve_relay(listener, shared));

    let started = Instant::now();
    let mut children: Vec<(&str, Child)> = USERS
        .iter()
        .map(|user| {
            let child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "load::load_child",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(ROLE, user)
                .env(DIR, &dir)
                .env(PORT, relay.port().to_string())
                .env(MESSAGES, per_client.to_string())
                .stdin(Stdio::null())
                .stdout(File::create(dir.join(format!("{user}.out"))).unwrap())
                .stderr(File::create(dir.join(format!("{user}.err"))).unwrap())
                .spawn()
                .unwrap();
            (*user, child)
        })
        .collect();
    let deadline = Instant::now() + TIMEOUT;
    let mut failed = Vec::new();
    for (user, child) in &mut children {
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(100));
        };
        if !status.is_some_and(|s| s.success()) {
            let err = std::fs::read_to_string(dir.join(format!("{user}.err"))).unwrap_or_default();
            let out = std::fs::read_to_string(dir.join(format!("{user}.out"))).unwrap_or_default();
            failed.push(format!("{user} ({status:?}):\n{out}\n{err}"));
        }
    }
    let elapsed = started.elapsed();
    assert!(failed.is_empty(), "clients failed:\n{}", failed.join("\n"));

    let mut total_lost = 0;
    let mut total_duplicated = 0;
    println!("load: 3 clients x {per_client} messages through the TCP relay in {elapsed:.1?}");
    for user in USERS {
        let report = std::fs::read_to_string(dir.join(format!("{user}.report"))).unwrap();
        let fields: HashMap<&str, u64> = report
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, v.parse().unwrap()))
            .collect();
        println!("  {user}: {report}");
        total_lost += fields["lost"];
        total_duplicated += fields["duplicated"];
        assert_eq!(fields["sent"], per_client as u64);
        assert_eq!(fields["received"], per_client as u64);
    }
    println!(
        "  total: sent {}, lost {total_lost}, duplicated {total_duplicated}",
        3 * per_client
    );
    let state = state.lock().unwrap();
    for user in USERS {
        let address = hemlis::Address::new(user, 1).unwrap();
        assert!(state.fetch(&address).is_empty(), "{user}'s mailbox is empty");
    }
    assert_eq!(total_lost, 0);
    assert_eq!(total_duplicated, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

fn parts(dir: &Path, user: &str, relay: SocketAddr) -> ClientParts {
    let mut key = [0u8; 32];
    key[0] = user.as_bytes()[0];
    ClientParts {
        storage_key: key,
        store: Box::new(SqliteStore::open(dir.join(format!("{user}.db"))).unwrap()),
        transport: Box::new(TcpTransport::connect(relay).unwrap()),
        clock: Box::new(SystemClock),
        rng: Box::new(rand_chacha::ChaCha20Rng::seed_from_u64(
            user.len() as u64 * 7 + u64::from(key[0]),
        )),
        config: ClientConfig::default(),
    }
}

/// One client: create the device, wait for the others, send `n` messages (alternating
/// between the two others) receiving every 20, then receive until `n` have arrived.
#[test]
#[ignore = "a child process of load_three_clients_through_the_tcp_relay"]
fn load_child() {
    let Ok(user) = std::env::var(ROLE) else { return };
    let dir = PathBuf::from(std::env::var(DIR).unwrap());
    let port: u16 = std::env::var(PORT).unwrap().parse().unwrap();
    let n = messages();
    let relay: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    let deadline = Instant::now() + TIMEOUT;
    let me = USERS.iter().position(|u| *u == user).unwrap();
    let others = [USERS[(me + 1) % 3], USERS[(me + 2) % 3]];

    let mut client = Client::create(&user, 1, parts(&dir, &user, relay)).unwrap();
    std::fs::write(dir.join(format!("{user}.ready")), b"").unwrap();
    while !USERS.iter().all(|u| dir.join(format!("{u}.ready")).exists()) {
        assert!(Instant::now() < deadline, "the others never came");
        thread::sleep(Duration::from_millis(20));
    }

    let started = Instant::now();
    // (sender, number) -> times received
    let mut received: BTreeMap<(String, usize), u32> = BTreeMap::new();
    let receive = |client: &mut Client, received: &mut BTreeMap<(String, usize), u32>| {
        let report = client.receive().unwrap();
        assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
        for m in &report.messages {
            // One device per user: no sent copies.
            assert_eq!(m.sent_to, None);
            let text = String::from_utf8(m.body.clone()).unwrap();
            let number: usize = text
                .split('#')
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            *received.entry((m.from.user().to_owned(), number)).or_default() += 1;
        }
        client.mark_read(&ids).unwrap();
    };
    for i in 0..n {
        let body = format!("{user}#{i} {}", "x".repeat(i % 150));
        client.send(others[i % 2], body.as_bytes()).unwrap();
        if i % 20 == 19 {
            receive(&mut client, &mut received);
        }
    }
    assert_eq!(client.outbox_len().unwrap(), 0);
    let sending = started.elapsed();
    while received.len() < n {
        assert!(
            Instant::now() < deadline,
            "{user}: {} of {n} received",
            received.len()
        );
        receive(&mut client, &mut received);
        thread::sleep(Duration::from_millis(10));
    }
    // Stay a moment for late copies, which would count as duplicates.
    thread::sleep(Duration::from_millis(300));
    receive(&mut client, &mut received);
    let elapsed = started.elapsed();

    // Each other sender sent the messages of its own numbers with this receiver's parity.
    let mut lost = 0;
    for (k, other) in others.iter().enumerate() {
        let sender = USERS.iter().position(|u| u == other).unwrap();
        // The sender's others: [sender+1, sender+2]; index i goes to others[i % 2].
        let slot = if (sender + 1) % 3 == me { 0 } else { 1 };
        let _ = k;
        for i in (slot..n).step_by(2) {
            if !received.contains_key(&(other.to_string(), i)) {
                lost += 1;
            }
        }
    }
    let duplicated: u32 = received.values().map(|c| c - 1).sum();
    let report = format!(
        "sent={n} received={} lost={lost} duplicated={duplicated} peak_kib={} send_ms={} total_ms={}",
        received.len(),
        peak_kib(),
        sending.as_millis(),
        elapsed.as_millis()
    );
    std::fs::write(dir.join(format!("{user}.report")), &report).unwrap();
    println!("{report}");
    // Wait for the others before leaving: the relay must keep nothing for anyone.
    std::fs::write(dir.join(format!("{user}.done")), b"").unwrap();
}
