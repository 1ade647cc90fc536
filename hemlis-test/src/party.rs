//! One device of the core, as the scenario tests drive it: an `Account`, its
//! `PeerSessions` with the other party and a deterministic RNG. Two parties talk by passing
//! envelopes by hand, as a relay would.

use hemlis::{Account, Decrypted, Limits, PeerSessions, PrekeyBundle, Result};
use rand_chacha::ChaCha20Rng;

use crate::rng::rng;

/// One device: its account, its sessions with the other party, its RNG.
pub struct Party {
    /// The device's identity and prekeys.
    pub account: Account,
    /// Its sessions with the other party.
    pub peer: PeerSessions,
    /// Every draw of this party comes from here.
    pub rng: ChaCha20Rng,
    /// Restarts draw from RNGs seeded from this and their number.
    seed: u64,
    restarts: u64,
}

impl Party {
    /// A party with the default limits whose RNG is seeded with `seed`; its account is
    /// created at time 1,000.
    pub fn new(seed: u64) -> Self {
        Self::with_limits(seed, Limits::default())
    }

    /// A party whose account and sessions check `limits`.
    pub fn with_limits(seed: u64, limits: Limits) -> Self {
        let mut rng = rng(seed);
        let mut account = Account::new(&mut rng, 1_000);
        account.set_limits(limits);
        Self {
            account,
            peer: PeerSessions::new(limits),
            rng,
            seed,
            restarts: 0,
        }
    }

    /// A party of restored parts (restarts then draw from RNGs seeded from 0).
    pub fn from_parts(account: Account, peer: PeerSessions, rng: ChaCha20Rng) -> Self {
        Self {
            account,
            peer,
            rng,
            seed: 0,
            restarts: 0,
        }
    }

    /// The limits of this party's account and sessions.
    pub fn limits(&self) -> Limits {
        *self.account.limits()
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

    /// A classical bundle of this party (no KEM prekey), with a fresh one-time prekey if
    /// `one_time`.
    pub fn classical_bundle(&mut self, one_time: bool) -> PrekeyBundle {
        let otp = if one_time {
            self.account.generate_one_time_prekeys(1, &mut self.rng).pop()
        } else {
            None
        };
        self.account
            .classical_prekey_bundle(otp)
            .expect("own bundle verifies")
    }

    /// Starts a session from the other party's bundle.
    pub fn initiate(&mut self, bundle: &PrekeyBundle) {
        let Party {
            account, peer, rng, ..
        } = self;
        peer.initiate(account.identity(), bundle, rng).expect("initiate");
    }

    /// Encrypts `text` to the other party.
    pub fn send(&mut self, text: &[u8]) -> Vec<u8> {
        self.peer.encrypt(text, &mut self.rng).expect("encrypt")
    }

    /// Decrypts an envelope from the other party (an initial one through the account).
    ///
    /// # Errors
    ///
    /// What `PeerSessions::decrypt` returns.
    pub fn receive(&mut self, envelope: &[u8]) -> Result<Decrypted> {
        let Party {
            account, peer, rng, ..
        } = self;
        peer.decrypt(account, envelope, rng)
    }

    /// Account and sessions serialized: the whole stored state of this party.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = self.account.to_bytes().expect("account").to_vec();
        out.extend_from_slice(&self.peer.to_bytes().expect("sessions"));
        out
    }

    /// Restarts from the serialized state, with a new RNG; the state must come back
    /// byte for byte.
    pub fn restart(&mut self) {
        let before = self.snapshot();
        let allow_classical = self.peer.allows_classical();
        let account = self.account.to_bytes().expect("account");
        let peer = self.peer.to_bytes().expect("sessions");
        let limits = self.limits();
        self.account = Account::from_bytes(&account, limits).expect("account restores");
        self.peer = PeerSessions::from_bytes(&peer, limits).expect("sessions restore");
        assert_eq!(self.peer.allows_classical(), allow_classical);
        self.restarts += 1;
        self.rng = rng(self.seed ^ (self.restarts << 32));
        assert!(self.snapshot() == before, "a restart changed the state");
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
