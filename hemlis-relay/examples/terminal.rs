//! An interactive terminal client over the example TCP relay (the `hemlis-relay` binary): each
//! line typed is sent, end-to-end encrypted, to every device of the peer user; messages that
//! arrive are printed as `[from user:device] text`.
//!
//! Run, in three terminals:
//!
//! ```text
//! cargo run -p hemlis-relay
//! cargo run --example terminal -- --user alice --peer bob --relay 127.0.0.1:7878 --db alice.db
//! cargo run --example terminal -- --user bob --peer alice --relay 127.0.0.1:7878 --db bob.db
//! ```
//!
//! State lives in a SQLite file sealed under a 32-byte storage key. A real app keeps that
//! key in the platform's Keychain or Keystore; this demo reads it from `HEMLIS_STORAGE_KEY`
//! or, failing that, from a key file it creates next to the database.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use hemlis::rand_core::Rng;
use hemlis::{Address, Client, ClientConfig, ClientError, ClientParts, SqliteStore, SystemClock, os_rng};
use hemlis_relay::TcpTransport;
use zeroize::Zeroizing;

const USAGE: &str = "\
usage: terminal --user NAME --peer NAME --db PATH [--relay 127.0.0.1:PORT] [--device N]

  --user NAME     this device's user id
  --peer NAME     the user every line is sent to (all of their devices)
  --db PATH       the SQLite file holding this device (created on first run)
  --relay ADDR    the relay (`cargo run -p hemlis-relay`), default 127.0.0.1:7878
  --device N      this device's number, default 1

Type a line to send it. Commands:
  /safety [N]     the safety number with the peer's device N (default 1): compare it with
                  theirs out of band (in person, on a call) to rule out a relay in between
  /accept         trust the new identity key a peer device presented (after checking it)
  /help           this text
  /quit           leave (or end the input)

Storage key (demo only): the database is sealed under a 32-byte key taken from the
environment variable HEMLIS_STORAGE_KEY (64 hex characters) or, when it is unset, from the
file PATH.key next to the database, created on first run from the operating system's random
number generator with owner-only permissions. A key file beside the data it protects only
guards against someone who gets the database alone; a real app keeps the key in the
platform's Keychain or Keystore.";

/// How often the main loop polls the relay when nothing is typed.
const POLL: Duration = Duration::from_millis(500);
/// How often prekeys are checked (rotated, replenished, republished).
const UPKEEP: Duration = Duration::from_secs(60);

struct Args {
    user: String,
    peer: String,
    relay: SocketAddr,
    db: PathBuf,
    device: u32,
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("terminal: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("terminal: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let mut client = open_or_create(args)?;
    println!(
        "{} connected to {}; talking to {}. /help for commands.",
        client.address(),
        args.relay,
        args.peer
    );
    let lines = spawn_stdin_reader();
    let mut changed = BTreeSet::new();
    let mut last_upkeep = Instant::now();
    loop {
        match lines.recv_timeout(POLL) {
            Ok(line) => {
                if !command(&mut client, args, &mut changed, line.trim_end()) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Retry what an earlier failure left in the outbox, then read what arrived.
        let _ = client.flush();
        poll(&mut client, &mut changed);
        if last_upkeep.elapsed() >= UPKEEP {
            last_upkeep = Instant::now();
            if let Err(e) = client.upkeep() {
                println!("(prekey upkeep failed, will retry: {e})");
            }
        }
    }
    poll(&mut client, &mut changed);
    let waiting = client.outbox_len().unwrap_or(0);
    if waiting > 0 {
        println!("({waiting} message(s) still in the outbox; they are sent on the next run)");
    }
    Ok(())
}

/// Handles one line of input; false to quit.
fn command(client: &mut Client, args: &Args, changed: &mut BTreeSet<Address>, line: &str) -> bool {
    let mut words = line.split_whitespace();
    match words.next() {
        None => {}
        Some("/quit") => return false,
        Some("/help") => println!("{USAGE}"),
        Some("/safety") => {
            let device = match words.next().map(str::parse::<u32>) {
                None => 1,
                Some(Ok(device)) => device,
                Some(Err(_)) => {
                    println!("(usage: /safety [device number])");
                    return true;
                }
            };
            show_safety_number(client, &args.peer, device);
        }
        Some("/accept") => {
            if changed.is_empty() {
                println!("(no changed identity key to accept)");
            }
            for address in std::mem::take(changed) {
                match client.accept_identity(&address) {
                    Ok(()) => {
                        println!("(accepted the new identity key of {address})");
                        show_safety_number(client, address.user(), address.device());
                    }
                    Err(e) => println!("(could not accept {address}: {e})"),
                }
            }
        }
        Some(word) if word.starts_with('/') => println!("(unknown command {word}; /help lists them)"),
        Some(_) => match client.send(&args.peer, line.as_bytes()) {
            Ok(_) => {
                if client.outbox_len().unwrap_or(0) > 0 {
                    println!("(relay unreachable: queued, will retry)");
                }
            }
            Err(ClientError::IdentityChanged { address }) => {
                println!(
                    "(not sent: {address} presents a new identity key; check the safety number \
                     with them, then /accept)"
                );
                changed.insert(address);
            }
            Err(ClientError::NoDevices) => {
                println!("(not sent: {} has no devices at the relay yet)", args.peer);
            }
            Err(e) => println!("(not sent: {e})"),
        },
    }
    true
}

/// Fetches what arrived, prints it, and marks it read.
fn poll(client: &mut Client, changed: &mut BTreeSet<Address>) {
    let report = match client.receive() {
        Ok(report) => report,
        Err(e) => {
            println!("(receive failed, will retry: {e})");
            return;
        }
    };
    let mut read = Vec::with_capacity(report.messages.len());
    for message in &report.messages {
        if message.identity_changed && changed.insert(message.from.clone()) {
            println!(
                "(warning: {} presents a new identity key; check the safety number with them, \
                 then /accept)",
                message.from
            );
        }
        println!("[from {}] {}", message.from, printable(&message.body));
        read.push(message.id);
    }
    for rejection in &report.rejected {
        println!(
            "(dropped an envelope claiming to be from {}: {})",
            rejection.from, rejection.reason
        );
    }
    if !read.is_empty()
        && let Err(e) = client.mark_read(&read)
    {
        println!("(could not mark messages read: {e})");
    }
    let _ = std::io::stdout().flush();
}

fn show_safety_number(client: &Client, user: &str, device: u32) {
    let Some(address) = Address::new(user, device) else {
        println!("(invalid address)");
        return;
    };
    match client.safety_number(&address) {
        Ok(number) => {
            let groups: Vec<&str> = (0..number.digits.len())
                .step_by(5)
                .filter_map(|i| number.digits.get(i..i + 5))
                .collect();
            println!("safety number with {address}:");
            for row in groups.chunks(4) {
                println!("  {}", row.join(" "));
            }
        }
        Err(ClientError::UnknownPeer) => {
            println!("(no identity known for {address} yet: exchange a message first)");
        }
        Err(e) => println!("(no safety number: {e})"),
    }
}

/// The message as text, with control characters escaped so a peer cannot drive the terminal.
fn printable(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Reads stdin lines on a thread of its own, so the main loop can poll the relay meanwhile.
fn spawn_stdin_reader() -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

fn open_or_create(args: &Args) -> Result<Client, String> {
    let key = storage_key(&args.db)?;
    let parts = || -> Result<ClientParts, String> {
        let store = SqliteStore::open(&args.db).map_err(|e| format!("{}: {e}", args.db.display()))?;
        let transport =
            TcpTransport::connect(args.relay).map_err(|e| format!("{e} (is hemlis-relay running?)"))?;
        Ok(ClientParts {
            storage_key: *key,
            store: Box::new(store),
            transport: Box::new(transport),
            clock: Box::new(SystemClock),
            rng: Box::new(os_rng()),
            config: ClientConfig::default(),
        })
    };
    let client = match Client::open(parts()?) {
        Ok(client) => client,
        Err(ClientError::NoDevice) => {
            let client = Client::create(&args.user, args.device, parts()?).map_err(|e| e.to_string())?;
            println!("created {} in {}", client.address(), args.db.display());
            client
        }
        Err(ClientError::WrongStorageKey) => {
            return Err(format!(
                "the storage key does not open {} (HEMLIS_STORAGE_KEY or the key file)",
                args.db.display()
            ));
        }
        Err(e) => return Err(e.to_string()),
    };
    let expected = Address::new(args.user.as_str(), args.device).ok_or("invalid user id")?;
    if client.address() != &expected {
        return Err(format!(
            "{} holds the device {}, not {expected}",
            args.db.display(),
            client.address()
        ));
    }
    Ok(client)
}

/// The storage key: `HEMLIS_STORAGE_KEY`, else the key file next to the database, created
/// with OS randomness on first use.
fn storage_key(db: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
    if let Ok(hex) = std::env::var("HEMLIS_STORAGE_KEY") {
        return parse_key(hex.trim()).ok_or_else(|| "HEMLIS_STORAGE_KEY must be 64 hex characters".into());
    }
    let mut path = db.as_os_str().to_owned();
    path.push(".key");
    let path = PathBuf::from(path);
    match std::fs::read_to_string(&path) {
        Ok(hex) => {
            return parse_key(hex.trim())
                .ok_or_else(|| format!("{} must hold 64 hex characters", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", path.display())),
    }
    if db.exists() {
        return Err(format!(
            "{} exists but its key file {} does not: set HEMLIS_STORAGE_KEY",
            db.display(),
            path.display()
        ));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    os_rng().fill_bytes(&mut key[..]);
    let hex = Zeroizing::new(key.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(hex.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("(demo) created storage key file {}", path.display());
    Ok(key)
}

fn parse_key(hex: &str) -> Option<Zeroizing<[u8; 32]>> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (byte, pair) in key.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        let pair = core::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(key)
}

/// The arguments, or `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut user, mut peer, mut db) = (None, None, None);
    let mut relay: SocketAddr = ([127, 0, 0, 1], 7878).into();
    let mut device = 1;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--user" => user = Some(value()?),
            "--peer" => peer = Some(value()?),
            "--db" => db = Some(PathBuf::from(value()?)),
            "--relay" => {
                let v = value()?;
                relay = v.parse().map_err(|_| format!("not an address: {v:?}"))?;
            }
            "--device" => {
                let v = value()?;
                device = v.parse().map_err(|_| format!("not a device number: {v:?}"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let user = user.ok_or("--user is required")?;
    let peer = peer.ok_or("--peer is required")?;
    let db = db.ok_or("--db is required")?;
    for name in [&user, &peer] {
        if Address::new(name.as_str(), 0).is_none() {
            return Err(format!("invalid user id {name:?} (1 to 128 bytes)"));
        }
    }
    Ok(Some(Args {
        user,
        peer,
        relay,
        db,
        device,
    }))
}
