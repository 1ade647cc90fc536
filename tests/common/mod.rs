//! The in-memory two-party harness shared by the scenario tests: deterministic randomness,
//! one `Account` and one `PeerSessions` per party, envelopes passed by hand like a relay.
#![allow(dead_code)]

use hemlis::{Account, Decrypted, Limits, PeerSessions, PrekeyBundle, Result};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

/// A deterministic RNG for tests.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// One device: its account, its sessions with the other party, its RNG.
pub struct Party {
    pub account: Account,
    pub peer: PeerSessions,
    pub rng: ChaCha20Rng,
}

impl Party {
    pub fn new(seed: u64) -> Self {
        Self::with_limits(seed, Limits::default())
    }

    pub fn with_limits(seed: u64, limits: Limits) -> Self {
        let mut rng = rng(seed);
        let mut account = Account::new(&mut rng, 1_000);
        account.set_limits(limits);
        Self {
            account,
            peer: PeerSessions::new(limits),
            rng,
        }
    }

    /// A bundle of this party: with `one_time`, a fresh one-time prekey and a fresh
    /// one-time KEM prekey; without, no one-time prekey and the last-resort KEM prekey.
    pub fn bundle(&mut self, one_time: bool) -> PrekeyBundle {
        let (otp, kem) = if one_time {
            (
                self.account.generate_one_time_prekeys(1, &mut self.rng).pop(),
                self.account.generate_one_time_kem_prekeys(1, &mut self.rng).pop(),
            )
        } else {
            (None, None)
        };
        self.account.prekey_bundle(otp, kem).expect("own bundle verifies")
    }

    pub fn initiate(&mut self, bundle: &PrekeyBundle) {
        let Party { account, peer, rng } = self;
        peer.initiate(account.identity(), bundle, rng).expect("initiate");
    }

    pub fn send(&mut self, text: &[u8]) -> Vec<u8> {
        self.peer.encrypt(text, &mut self.rng).expect("encrypt")
    }

    pub fn receive(&mut self, envelope: &[u8]) -> Result<Decrypted> {
        let Party { account, peer, rng } = self;
        peer.decrypt(account, envelope, rng)
    }

    /// Account and sessions serialized: the whole stored state of this party.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = self.account.to_bytes().expect("account").to_vec();
        out.extend_from_slice(&self.peer.to_bytes().expect("sessions"));
        out
    }
}

/// Alice initiates to Bob (with or without a one-time prekey); Bob receives the first
/// message and answers; Alice receives the answer.
pub fn established(one_time: bool) -> (Party, Party) {
    let mut alice = Party::new(1);
    let mut bob = Party::new(2);
    let bundle = bob.bundle(one_time);
    alice.initiate(&bundle);
    let first = alice.send(b"hello bob");
    assert_eq!(bob.receive(&first).expect("first").plaintext, b"hello bob");
    let reply = bob.send(b"hello alice");
    assert_eq!(alice.receive(&reply).expect("reply").plaintext, b"hello alice");
    (alice, bob)
}
