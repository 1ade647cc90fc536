//! The chat of `examples/chat.rs` for an async app, on tokio: Alice and Bob are
//! `AsyncClient`s with encrypted SQLite databases in a temporary directory. Alice sends
//! three messages from three tasks at once through one shared client, Bob restarts from his
//! database, and every message arrives exactly once.
//!
//! Run: `cargo run --example chat_async` (exits non-zero if anything fails)

use std::path::Path;
use std::sync::Arc;

use hemlis::{AsyncClient, AsyncClientParts, InMemoryRelay, SqliteStore};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn parts(
    relay: &InMemoryRelay,
    db: &Path,
    key: [u8; 32],
) -> Result<AsyncClientParts<InMemoryRelay>, Failure> {
    // The system clock, `os_rng()` and the default configuration. An app brings its own
    // `AsyncTransport` (HTTP, WebSocket) instead of the in-memory relay.
    Ok(AsyncClientParts::new(
        key,
        Box::new(SqliteStore::open(db)?),
        relay.clone(),
    ))
}

async fn read(client: &AsyncClient<InMemoryRelay>, expected: &[&str]) -> Result<(), Failure> {
    let report = client.receive().await?;
    let mut got: Vec<String> = report
        .messages
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    for (m, text) in report.messages.iter().zip(&got) {
        println!(
            "{:<6} reads   {text:<30} from {}",
            client.address().user(),
            m.from
        );
    }
    // Messages sent from concurrent tasks have no order among themselves.
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    if got != want {
        return Err(format!("{} expected {want:?}, read {got:?}", client.address().user()).into());
    }
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    client.mark_read(&ids)?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let dir = std::env::temp_dir().join(format!("hemlis-chat-async-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(&dir).await;
    std::fs::remove_dir_all(&dir)?;
    result
}

async fn run(dir: &Path) -> Result<(), Failure> {
    let relay = InMemoryRelay::new();
    let (alice_key, bob_key) = ([0xA1; 32], [0xB0; 32]); // from the Keychain or Keystore
    let (alice_db, bob_db) = (dir.join("alice.db"), dir.join("bob.db"));
    let alice = Arc::new(AsyncClient::create("alice", 1, parts(&relay, &alice_db, alice_key)?).await?);
    let bob = AsyncClient::create("bob", 1, parts(&relay, &bob_db, bob_key)?).await?;
    println!("alice and bob published their prekeys\n");

    alice.send("bob", b"Hi Bob! Lunch on Friday?").await?;
    read(&bob, &["Hi Bob! Lunch on Friday?"]).await?;
    bob.send("alice", b"Yes! Where?").await?;
    read(&alice, &["Yes! Where?"]).await?;

    println!("\n-- three tasks send through alice's one client at once --");
    let texts = ["The noodle place,", "at noon,", "table for two."];
    let mut tasks = Vec::new();
    for text in texts {
        let alice = alice.clone();
        tasks.push(tokio::spawn(
            async move { alice.send("bob", text.as_bytes()).await },
        ));
    }
    for task in tasks {
        task.await??;
    }
    read(&bob, &texts).await?;

    println!("\n-- bob's app is killed and restarts from his database --");
    drop(bob);
    let bob = AsyncClient::open(parts(&relay, &bob_db, bob_key)?)?;
    alice.send("bob", b"Still there?").await?;
    read(&bob, &["Still there?"]).await?;
    bob.send("alice", b"Yes, see you at noon.").await?;
    read(&alice, &["Yes, see you at noon."]).await?;

    let (a, b) = (alice.safety_number("bob")?, bob.safety_number("alice")?);
    if a != b || !alice.is_post_quantum(bob.address())? {
        return Err("safety numbers differ, or the session is not post-quantum".into());
    }
    println!("\nsafety numbers match; the session is post-quantum");
    println!("all messages delivered exactly once");
    Ok(())
}
