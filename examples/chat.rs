//! Alice and Bob, each with an encrypted SQLite database in a temporary directory, hold a
//! short conversation through an in-memory relay: one delivery arrives out of order, and
//! Bob restarts from his database in the middle, then links his laptop as a second device
//! and both of his devices read along. Each message is printed as sent, as the relay saw
//! it (size and the first bytes), and as received.
//!
//! Run: `cargo run --example chat` (exits non-zero if anything fails)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hemlis::transport::{Incoming, TransportError};
use hemlis::{
    Address, Client, ClientConfig, ClientParts, InMemoryRelay, SqliteStore, SystemClock, Transport, os_rng,
};

/// The relay, seen through a transport that can hand the mailbox over in reverse order.
struct Reordering {
    relay: InMemoryRelay,
    reverse: Arc<AtomicBool>,
}

impl Transport for Reordering {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.relay.publish(device, upload)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.relay.publish_device_list(user, list)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        self.relay.fetch_device_list(user)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.relay.fetch_bundle(device)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.relay.send(from, to, envelope)
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let mut incoming = self.relay.fetch(device)?;
        if self.reverse.load(Ordering::Relaxed) {
            incoming.reverse();
        }
        Ok(incoming)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        self.relay.ack(device, ids)
    }
}

type Failure = Box<dyn std::error::Error>;

struct Chat {
    relay: InMemoryRelay,
    reverse: Arc<AtomicBool>,
    dir: PathBuf,
}

impl Chat {
    fn parts(&self, db: &Path, storage_key: [u8; 32]) -> Result<ClientParts, Failure> {
        Ok(ClientParts {
            storage_key,
            store: Box::new(SqliteStore::open(db)?),
            transport: Box::new(Reordering {
                relay: self.relay.clone(),
                reverse: self.reverse.clone(),
            }),
            clock: Box::new(SystemClock),
            rng: Box::new(os_rng()),
            config: ClientConfig::default(),
        })
    }

    /// What the relay was last handed: its size and first bytes.
    fn relay_saw(&self, count: usize) -> Result<Vec<String>, Failure> {
        let log = self.relay.with_state(|s| s.log().to_vec())?;
        Ok(log[log.len().saturating_sub(count)..]
            .iter()
            .map(|e| {
                let prefix: String = e.iter().take(8).map(|b| format!("{b:02x}")).collect();
                format!("{:>4} bytes {prefix}..", e.len())
            })
            .collect())
    }
}

fn send(chat: &Chat, from: &mut Client, to: &str, text: &str) -> Result<(), Failure> {
    from.send(to, text.as_bytes())?;
    let seen = chat.relay_saw(1)?.join("");
    println!(
        "{:<6} sends   {text:<34} relay sees {seen}",
        from.address().user()
    );
    Ok(())
}

fn receive(client: &mut Client, expected: &[&str]) -> Result<(), Failure> {
    let report = client.receive()?;
    let got: Vec<String> = report
        .messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    for (m, text) in report.messages.iter().zip(&got) {
        let what = match &m.sent_to {
            Some(to) => format!("copy of what {} sent to {to}", m.from),
            None => format!("from {}", m.from),
        };
        println!("{:<6} reads   {text:<34} {what}", client.address().to_string());
    }
    if got != expected {
        return Err(format!("{} expected {expected:?}, read {got:?}", client.address().user()).into());
    }
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    client.mark_read(&ids)?;
    Ok(())
}

fn main() -> Result<(), Failure> {
    let dir = std::env::temp_dir().join(format!("hemlis-chat-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let chat = Chat {
        relay: InMemoryRelay::new(),
        reverse: Arc::new(AtomicBool::new(false)),
        dir,
    };
    let result = run(&chat);
    std::fs::remove_dir_all(&chat.dir)?;
    result
}

fn run(chat: &Chat) -> Result<(), Failure> {
    // In an app the storage keys come from the Keychain or Keystore.
    let (alice_key, bob_key) = ([0xA1; 32], [0xB0; 32]);
    let (alice_db, bob_db) = (chat.dir.join("alice.db"), chat.dir.join("bob.db"));
    let mut alice = Client::create("alice", 1, chat.parts(&alice_db, alice_key)?)?;
    let mut bob = Client::create("bob", 1, chat.parts(&bob_db, bob_key)?)?;
    println!("alice and bob published their prekeys; the relay holds public keys only\n");

    send(chat, &mut alice, "bob", "Hi Bob! Lunch on Friday?")?;
    receive(&mut bob, &["Hi Bob! Lunch on Friday?"])?;
    send(chat, &mut bob, "alice", "Yes! Where?")?;
    receive(&mut alice, &["Yes! Where?"])?;

    println!("\n-- the relay delivers the next two messages in reverse order --");
    send(chat, &mut alice, "bob", "The noodle place,")?;
    send(chat, &mut alice, "bob", "at noon.")?;
    chat.reverse.store(true, Ordering::Relaxed);
    // The inbox keeps the order of arrival; both decrypt (the ratchet kept the skipped key).
    receive(&mut bob, &["at noon.", "The noodle place,"])?;
    chat.reverse.store(false, Ordering::Relaxed);

    println!("\n-- bob's app is killed and restarts from his database --");
    drop(bob);
    let mut bob = Client::open(chat.parts(&bob_db, bob_key)?)?;
    send(chat, &mut alice, "bob", "Still there?")?;
    receive(&mut bob, &["Still there?"])?;
    send(chat, &mut bob, "alice", "Yes, see you at noon.")?;
    receive(&mut alice, &["Yes, see you at noon."])?;

    println!("\n-- bob links his laptop: it shows a link code, his phone reads it --");
    let laptop_db = chat.dir.join("bob-laptop.db");
    let mut laptop = Client::create_linked("bob", 2, chat.parts(&laptop_db, [0xB2; 32])?)?;
    let code = laptop.link_code().ok_or("a new device shows a link code")?;
    println!("laptop shows   {}...", &code.to_text()[..20]);
    let on_phone = bob.link(&code)?;
    laptop.receive()?;
    let on_laptop = laptop.link_confirmation().ok_or("the laptop is not linked")?;
    println!("confirmation   phone {on_phone}, laptop {on_laptop}");
    if on_phone != on_laptop || !laptop.is_linked() {
        return Err("the confirmation codes differ".into());
    }
    send(chat, &mut alice, "bob", "Bring your laptop?")?;
    receive(&mut bob, &["Bring your laptop?"])?;
    receive(&mut laptop, &["Bring your laptop?"])?;
    send(chat, &mut laptop, "alice", "Will do, typing on it now.")?;
    receive(&mut alice, &["Will do, typing on it now."])?;
    receive(&mut bob, &["Will do, typing on it now."])?;

    let (a, b) = (
        alice.safety_number(bob.address().user())?,
        bob.safety_number(alice.address().user())?,
    );
    if a != b {
        return Err("safety numbers differ".into());
    }
    if laptop.safety_number("alice")? != a {
        return Err("the laptop shows another safety number".into());
    }
    let digits: Vec<&str> = (0..12).map(|i| &a.digits[i * 5..i * 5 + 5]).collect();
    println!(
        "\nsafety number (the same on every device, unchanged by the link): {}",
        digits.join(" ")
    );
    let post_quantum = alice.is_post_quantum(bob.address())?;
    println!("session is post-quantum (X25519 + ML-KEM-768): {post_quantum}");
    if !post_quantum {
        return Err("session is not post-quantum".into());
    }
    println!("all messages delivered exactly once");
    Ok(())
}
