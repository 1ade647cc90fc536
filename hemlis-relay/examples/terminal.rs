//! An interactive terminal client over the example TCP relay (the `hemlis-relay` binary): each
//! line typed is sent, end-to-end encrypted, to every device in the peer user's signed device
//! list (and a copy to this user's other devices); messages that arrive are printed as
//! `[from user:device] text`, copies of what this user sent from another device as
//! `[sent from user:device to peer] text`.
//!
//! Run, in three terminals:
//!
//! ```text
//! cargo run -p hemlis-relay
//! cargo run --example terminal -- --user alice --peer bob --relay 127.0.0.1:7878 --db alice.db
//! cargo run --example terminal -- --user bob --peer alice --relay 127.0.0.1:7878 --db bob.db
//! ```
//!
//! A second device for Bob starts with `--link`: it prints a link code, which Bob types on
//! his first device as `/link CODE`; both then show the same confirmation code.
//!
//! ```text
//! cargo run --example terminal -- --user bob --peer alice --device 2 --link --db bob2.db
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
use hemlis::transport::TransportError;
use hemlis::{
    Address, Client, ClientConfig, ClientError, ClientParts, LinkCode, SqliteStore, SystemClock, os_rng,
};
use hemlis_relay::TcpTransport;
use zeroize::Zeroizing;

const USAGE: &str = "\
usage: terminal --user NAME --peer NAME --db PATH [--relay 127.0.0.1:PORT] [--device N] [--link]

  --user NAME     this device's user id
  --peer NAME     the user every line is sent to (every device of their signed list)
  --db PATH       the SQLite file holding this device (created on first run)
  --relay ADDR    the relay (`cargo run -p hemlis-relay`), default 127.0.0.1:7878
  --device N      this device's number, default 1 (unique among the user's devices)
  --link          on first run, create this device as a new device of an existing
                  account: it prints a link code to type on a device of the account
                  (/link), and shows the confirmation code once linked. Without it, the
                  first run creates a new account with this device as its first

Type a line to send it. Commands:
  /safety         the safety number with the peer (over both account keys): compare it
                  with theirs out of band (in person, on a call) to rule out a relay in
                  between
  /accept         trust the peer's new account key (after checking the safety number)
  /link CODE      link the new device that shows CODE to this account; prints the
                  confirmation code the new device must show too
  /devices        this account's device list: its version and device numbers
  /unlink N       remove device N from this account's list
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
    link: bool,
}

/// What the main loop remembers between lines.
struct Session {
    /// The peer's account key changed and was not accepted yet.
    changed: BTreeSet<String>,
    /// This device was in its account's list at the last look (the confirmation code shows
    /// once it is).
    linked: bool,
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
    let mut session = Session {
        changed: BTreeSet::new(),
        linked: client.is_linked(),
    };
    if let Some(code) = client.link_code() {
        show_link_code(&client, &code.to_text());
    }
    let lines = spawn_stdin_reader();
    let mut last_upkeep = Instant::now();
    loop {
        match lines.recv_timeout(POLL) {
            Ok(line) => {
                if !command(&mut client, args, &mut session, line.trim_end()) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Retry what an earlier failure left in the outbox, then read what arrived.
        let _ = client.flush();
        poll(&mut client, &mut session);
        if last_upkeep.elapsed() >= UPKEEP {
            last_upkeep = Instant::now();
            if let Err(e) = client.upkeep() {
                println!("(prekey upkeep failed, will retry: {e})");
            }
        }
    }
    poll(&mut client, &mut session);
    let waiting = client.outbox_len().unwrap_or(0);
    if waiting > 0 {
        println!("({waiting} message(s) still in the outbox; they are sent on the next run)");
    }
    Ok(())
}

/// Handles one line of input; false to quit.
fn command(client: &mut Client, args: &Args, session: &mut Session, line: &str) -> bool {
    let mut words = line.split_whitespace();
    match words.next() {
        None => {}
        Some("/quit") => return false,
        Some("/help") => println!("{USAGE}"),
        Some("/safety") => show_safety_number(client, &args.peer),
        Some("/accept") => {
            session.changed.insert(args.peer.clone());
            let mut any = false;
            for user in std::mem::take(&mut session.changed) {
                if client.pending_account(&user).is_none() {
                    continue;
                }
                any = true;
                match client.accept_account(&user) {
                    Ok(()) => {
                        println!("(accepted the new account key of {user})");
                        show_safety_number(client, &user);
                    }
                    Err(e) => println!("(could not accept {user}: {e})"),
                }
            }
            if !any {
                println!("(no changed account key to accept)");
            }
        }
        Some("/link") => {
            // The code may be typed in groups: spaces and dashes are ignored.
            let text: String = words.collect();
            if text.is_empty() {
                println!("(usage: /link CODE, the code the new device shows)");
                return true;
            }
            link(client, &text);
        }
        Some("/devices") => show_devices(client),
        Some("/unlink") => {
            let Some(Ok(device)) = words.next().map(str::parse::<u32>) else {
                println!("(usage: /unlink N, a device number from /devices)");
                return true;
            };
            match client.unlink(device) {
                Ok(()) => {
                    println!("(removed device {device}; its messages are refused from now on)");
                    show_devices(client);
                }
                Err(ClientError::UnknownPeer) => println!("(device {device} is not in the list)"),
                Err(ClientError::InvalidLinkCode) => {
                    println!("(cannot unlink this device itself, or the last device)");
                }
                Err(ClientError::CannotSign) => {
                    println!("(this device cannot change the list: only the account's first device can)");
                }
                Err(e) => println!("(could not unlink device {device}: {e})"),
            }
        }
        Some(word) if word.starts_with('/') => println!("(unknown command {word}; /help lists them)"),
        Some(_) => match client.send(&args.peer, line.as_bytes()) {
            Ok(_) => {
                if client.outbox_len().unwrap_or(0) > 0 {
                    println!("(relay unreachable: queued, will retry)");
                }
            }
            Err(ClientError::AccountChanged { user }) => {
                println!(
                    "(not sent: {user} has a new account key; check the safety number with them \
                     (/safety), then /accept)"
                );
                session.changed.insert(user);
            }
            Err(ClientError::NoDevices) => {
                println!("(not sent: {} has no device list at the relay yet)", args.peer);
            }
            Err(ClientError::NotLinked) => {
                println!(
                    "(not sent: this device is not in its account's device list: not linked yet \
                     (type its link code on a device of the account), or removed)"
                );
            }
            Err(e) => println!("(not sent: {e})"),
        },
    }
    true
}

/// `/link`: links the device of the code and prints the confirmation code.
fn link(client: &mut Client, text: &str) {
    let code = match LinkCode::from_text(text) {
        Ok(code) => code,
        Err(e) => {
            println!("(not a link code: {e})");
            return;
        }
    };
    let address = code.address().clone();
    match client.link(&code) {
        Ok(confirmation) => {
            println!("linked {address}. Confirmation code: {confirmation}");
            println!(
                "(the new device must show the same code; if it does not, /unlink {})",
                address.device()
            );
        }
        Err(ClientError::CannotSign) => {
            println!("(this device cannot link devices: only the account's first device can)");
        }
        Err(ClientError::InvalidLinkCode) => {
            println!("(a code of another user, of this device, or one device too many)");
        }
        Err(ClientError::UnlistedIdentity { address }) => {
            println!("(not linked: the relay gave a key for {address} other than the code's)");
        }
        Err(ClientError::Transport(TransportError::NotFound)) => {
            println!("(not linked: the relay has no keys for {address}; was it started with --link?)");
        }
        Err(e) => println!("(not linked: {e})"),
    }
}

/// `/devices`: this account's device list as this device holds it.
fn show_devices(client: &Client) {
    let Some(list) = client.device().own_device_list() else {
        println!("(not linked yet: no device list)");
        return;
    };
    let me = client.address().device();
    println!("device list of {}, version {}:", list.user(), list.version());
    for (id, _) in list.devices() {
        let marker = if id == me { "  (this device)" } else { "" };
        println!("  {id}{marker}");
    }
}

fn show_link_code(client: &Client, text: &str) {
    println!(
        "{} waits to be linked. On a device of {}, type:\n  /link {text}\n\
         Keep this code to yourself: it lets a device of the account add this one.",
        client.address(),
        client.address().user()
    );
}

/// Fetches what arrived, prints it, and marks it read.
fn poll(client: &mut Client, session: &mut Session) {
    let report = match client.receive() {
        Ok(report) => report,
        Err(e) => {
            println!("(receive failed, will retry: {e})");
            return;
        }
    };
    let mut read = Vec::with_capacity(report.messages.len());
    for message in &report.messages {
        let user = message.from.user().to_owned();
        if message.identity_changed && session.changed.insert(user.clone()) {
            println!(
                "(warning: {user} has a new account key; check the safety number with them \
                 (/safety), then /accept)"
            );
        }
        match &message.sent_to {
            Some(to) => println!(
                "[sent from {} to {to}] {}",
                message.from,
                printable(&message.body)
            ),
            None => println!("[from {}] {}", message.from, printable(&message.body)),
        }
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
    if session.linked && !client.is_linked() {
        session.linked = false;
        println!(
            "({} was removed from the account's device list)",
            client.address()
        );
    } else if !session.linked && client.is_linked() {
        session.linked = true;
        match client.link_confirmation() {
            Some(code) => println!(
                "{} is linked. Confirmation code: {code} (the device that linked this one \
                 shows the same code; if it does not, do not use this device)",
                client.address()
            ),
            None => println!("{} is linked.", client.address()),
        }
        show_devices(client);
    }
    let _ = std::io::stdout().flush();
}

fn show_safety_number(client: &Client, user: &str) {
    match client.safety_number(user) {
        Ok(number) => {
            let groups: Vec<&str> = (0..number.digits.len())
                .step_by(5)
                .filter_map(|i| number.digits.get(i..i + 5))
                .collect();
            println!("safety number with {user}:");
            for row in groups.chunks(4) {
                println!("  {}", row.join(" "));
            }
            if client.pending_account(user).is_some() {
                println!("(this is for the account key you trust; {user} now presents a new one: /accept)");
            }
        }
        Err(ClientError::UnknownPeer) => {
            println!("(no account key known for {user} yet: exchange a message first)");
        }
        Err(ClientError::NotLinked) => println!("(this device is not linked yet)"),
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
        Err(ClientError::NoDevice) if args.link => {
            let client =
                Client::create_linked(&args.user, args.device, parts()?).map_err(|e| e.to_string())?;
            println!(
                "created {} in {}, to be linked to the account",
                client.address(),
                args.db.display()
            );
            client
        }
        Err(ClientError::NoDevice) => {
            let client = Client::create(&args.user, args.device, parts()?).map_err(|e| e.to_string())?;
            println!(
                "created {} in {}, the first device of a new account",
                client.address(),
                args.db.display()
            );
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
    let mut link = false;
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
            "--link" => link = true,
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
        link,
    }))
}
