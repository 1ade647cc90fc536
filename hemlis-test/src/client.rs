//! The parts of a client under test, and what the client tests do with one.

use hemlis::rand_core::{Rng, SeedableRng};
use hemlis::{Address, Client, ClientConfig, ClientParts, Received, Store, Transport};
use rand_chacha::ChaCha20Rng;

use crate::clock::TestClock;
use crate::rng::{Draws, RecordingRng};

/// A storage key with entropy, so a search for it in a file means something.
pub fn storage_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    ChaCha20Rng::seed_from_u64(0x5eed_0f57_04a6).fill_bytes(&mut key);
    key
}

/// A small upkeep configuration: few one-time prekeys keep the tests fast.
pub fn small_config() -> ClientConfig {
    let mut config = ClientConfig::default();
    config.one_time_prekeys = 3;
    config.replenish_below = 2;
    config
}

/// The parts of a client with a recording RNG, under [`storage_key`].
pub fn parts(
    transport: Box<dyn Transport>,
    store: Box<dyn Store>,
    clock: &TestClock,
    seed: u64,
    draws: &Draws,
    config: ClientConfig,
) -> ClientParts {
    ClientParts {
        storage_key: storage_key(),
        store,
        transport,
        clock: Box::new(clock.clone()),
        rng: Box::new(RecordingRng::new(seed, draws)),
        config,
    }
}

/// A valid address.
pub fn address(user: &str, device: u32) -> Address {
    Address::new(user, device).expect("valid address")
}

/// Receives, checks that exactly `expected` (in order) is new in the inbox besides what
/// was already there, marks everything read and returns the new messages.
pub fn receive_exactly(client: &mut Client, expected: &[&[u8]]) -> Vec<Received> {
    let report = client.receive().expect("receive");
    let bodies: Vec<&[u8]> = report.messages.iter().map(|m| m.body.as_slice()).collect();
    assert_eq!(bodies, expected, "{} received other messages", client.address());
    assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
    let ids: Vec<u64> = report.messages.iter().map(|m| m.id).collect();
    client.mark_read(&ids).expect("mark_read");
    report.messages
}

/// Links `new` (made by `Client::create_linked`) to the account of `signer`: the signer
/// reads the new device's link code, the new device receives the provisioning message, and
/// both show the same confirmation code, which is returned.
pub fn link(signer: &mut Client, new: &mut Client) -> String {
    let code = new
        .link_code()
        .expect("a device waiting to be linked shows a code");
    let confirmation = signer.link(&code).expect("link");
    let report = new.receive().expect("receive the provisioning message");
    assert!(report.rejected.is_empty(), "rejected: {:?}", report.rejected);
    assert!(new.is_linked(), "{} is linked", new.address());
    assert_eq!(new.link_confirmation(), Some(confirmation.as_str()));
    assert_eq!(new.link_code().map(|c| c.to_bytes()), None);
    confirmation
}
