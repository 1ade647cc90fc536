//! Alice and Bob in one process: Bob publishes a prekey bundle, Alice starts a session
//! from it, and they exchange messages, two of them out of order. For every envelope it
//! prints what a relay would see next to what the recipient reads.
//!
//! Run: `cargo run --example quickstart`

use hemlis::DecryptError;
use hemlis::{Account, Error, Limits, PeerSessions, PrekeyBundle, os_rng};

/// One device: its account (identity and prekeys) and its sessions with the other device.
struct Device {
    name: &'static str,
    account: Account,
    peer: PeerSessions,
}

fn relay_view(envelope: &[u8]) -> String {
    let prefix: String = envelope.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("{:>4} bytes {prefix}..", envelope.len())
}

fn show(from: &Device, label: &str, envelope: &[u8], read: &[u8]) {
    let read = String::from_utf8_lossy(read);
    let read: String = read.chars().take(36).collect();
    println!(
        "{:<6} {:<30} {:<34} {read:?}",
        from.name,
        label,
        relay_view(envelope)
    );
}

fn send(from: &mut Device, to: &mut Device, text: &str) -> Result<(), Error> {
    let mut rng = os_rng();
    let envelope = from.peer.encrypt(text.as_bytes(), &mut rng)?;
    let read = to.peer.decrypt(&mut to.account, &envelope, &mut rng)?;
    let label: String = text.chars().take(30).collect();
    show(from, &label, &envelope, &read.plaintext);
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut rng = os_rng();
    let now = 1_700_000_000;
    let device = |name, rng: &mut hemlis::OsRng| Device {
        name,
        account: Account::new(rng, now),
        peer: PeerSessions::new(Limits::default()),
    };
    let mut alice = device("alice", &mut rng);
    let mut bob = device("bob", &mut rng);

    // Bob publishes a bundle; a server would hand it out with one one-time prekey.
    let one_time = bob.account.generate_one_time_prekeys(10, &mut rng).pop();
    let one_time_kem = bob.account.generate_one_time_kem_prekeys(10, &mut rng).pop();
    let published = bob.account.prekey_bundle(one_time, one_time_kem)?.encode();
    println!(
        "Bob's prekey bundle: {} bytes of public keys and a signature\n",
        published.len()
    );

    // Alice verifies the bundle and starts a session; her first envelope is an initial one.
    let bundle = PrekeyBundle::decode(&published)?;
    alice.peer.initiate(alice.account.identity(), &bundle, &mut rng)?;
    let post_quantum = alice.peer.active().is_some_and(|s| s.is_post_quantum());
    println!("Alice's session is post-quantum (X25519 + ML-KEM-768): {post_quantum}\n");

    println!(
        "{:<6} {:<30} {:<34} recipient reads",
        "from", "plaintext", "relay sees"
    );
    send(&mut alice, &mut bob, "Hi Bob, it's Alice.")?;
    send(&mut bob, &mut alice, "Hello Alice!")?;
    send(&mut alice, &mut bob, "Lunch tomorrow?")?;
    send(
        &mut bob,
        &mut alice,
        &"A longer message lands in a larger size bucket. ".repeat(6),
    )?;

    // Out of order: Bob sends two, the relay delivers the second first.
    let first = bob.peer.encrypt(b"first", &mut rng)?;
    let second = bob.peer.encrypt(b"second", &mut rng)?;
    for envelope in [&second, &first] {
        let read = alice.peer.decrypt(&mut alice.account, envelope, &mut rng)?;
        show(&bob, "(delivered out of order)", envelope, &read.plaintext);
    }

    // A replayed envelope is refused and changes nothing.
    match alice.peer.decrypt(&mut alice.account, &first, &mut rng) {
        Err(Error::Decrypt(DecryptError::Duplicate)) => {
            println!("\nreplayed envelope: refused as a duplicate")
        }
        Err(other) => return Err(other),
        Ok(_) => return Err(Error::Decrypt(DecryptError::Duplicate)),
    }
    if let Some(session) = alice.peer.active() {
        println!(
            "Alice's session state: {} bytes serialized",
            session.to_bytes()?.len()
        );
    }
    Ok(())
}
