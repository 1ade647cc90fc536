//! The device account: identity, prekeys (X25519 and ML-KEM-768) and the replay record,
//! and the responder's handling of initial messages (docs/PROTOCOL.md, sections 3.1, 4.1
//! and 7.2).
//!
//! Commit on success: an initial message that fails for any reason consumes no one-time
//! prekey and records nothing.

use std::collections::BTreeMap;

use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::bundle::PrekeyBundle;
use super::pqxdh::{self, ResponderKeys};
use super::prekeys::{KemPrekeyPublic, OneTimePrekeyPublic, SignedPrekey, SignedPrekeyPublic};
use crate::crypto::kem::KemKeyPair;
use crate::crypto::keys::{DhKeyPair, IdentityKey, IdentityKeyPair};
use crate::crypto::secret::{HandshakeSecret, Secret32, SecretBytes};
use crate::error::{Error, Result, StateError};
use crate::error::{HandshakeError, MisuseError};
use crate::limits::Limits;
use crate::state;
use crate::wire::Envelope;

/// One device's identity and prekeys. Sans-IO: the caller persists it with
/// [`Account::to_bytes`] after every call that takes `&mut self`.
#[derive(Debug)]
pub struct Account {
    identity: IdentityKeyPair,
    signed_prekey: SignedPrekey,
    /// Replaced signed prekeys still in their grace period, oldest first.
    retired_signed_prekeys: Vec<SignedPrekey>,
    one_time_prekeys: BTreeMap<u32, DhKeyPair>,
    one_time_kem_prekeys: BTreeMap<u32, KemKeyPair>,
    next_prekey_id: u32,
    limits: Limits,
}

/// The responder's side of PQXDH for an initial message (docs/PROTOCOL.md, section 4.3),
/// computed without changing the account: what the session layer needs to start the
/// responder's ratchet, and the change to apply to the account once it accepts.
pub(crate) struct Responded {
    /// The handshake secret SK.
    pub(crate) secret: HandshakeSecret,
    /// This device's identity key.
    pub(crate) local_identity: IdentityKey,
    /// The initiator's identity key, opened from the sealed identity.
    pub(crate) initiator: IdentityKey,
    /// The signed prekey the message names: the responder's first ratchet key pair.
    pub(crate) signed_prekey: DhKeyPair,
    /// The handshake included the ML-KEM shared secret.
    pub(crate) post_quantum: bool,
    /// What accepting the message changes in the account.
    pub(crate) change: AccountChange,
}

/// What an accepted initial message changes in the [`Account`] (docs/PROTOCOL.md,
/// section 4.3): the one-time prekeys it used are deleted and its base key is recorded
/// against replay. Staged, not applied: a caller stores the account with the change
/// ([`Account::to_bytes_with`]) together with the new session, and applies it in memory
/// ([`Account::apply`]) only once that commit succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    signed_prekey_id: u32,
    one_time_prekey_id: Option<u32>,
    kem_prekey_id: Option<u32>,
    base_key: [u8; 32],
}

impl AccountChange {
    /// The initiator's base key (public), which the account records against replay.
    pub fn base_key(&self) -> &[u8; 32] {
        &self.base_key
    }
}

#[derive(Serialize, Deserialize)]
struct AccountState {
    seed: Secret32,
    signed_prekey: SignedPrekey,
    retired_signed_prekeys: Vec<SignedPrekey>,
    one_time_prekeys: Vec<(u32, DhKeyPair)>,
    one_time_kem_prekeys: Vec<(u32, KemKeyPair)>,
    next_prekey_id: u32,
}

impl Account {
    /// Creates a device with a new identity, a first signed prekey and its last-resort
    /// KEM prekey.
    ///
    /// Randomness drawn, in order: the identity seed (32 bytes), the signed prekey (32),
    /// the last-resort KEM prekey seed (`d` 32, `z` 32). The signed prekey gets id 1, its
    /// KEM prekey id 2.
    pub fn new<R: CryptoRng + ?Sized>(rng: &mut R, now: u64) -> Self {
        Self::with_identity(IdentityKeyPair::generate(rng), rng, now)
    }

    /// Creates a device around an existing identity, with a first signed prekey.
    pub fn with_identity<R: CryptoRng + ?Sized>(identity: IdentityKeyPair, rng: &mut R, now: u64) -> Self {
        Self {
            identity,
            signed_prekey: SignedPrekey::generate(1, 2, rng, now),
            retired_signed_prekeys: Vec::new(),
            one_time_prekeys: BTreeMap::new(),
            one_time_kem_prekeys: BTreeMap::new(),
            next_prekey_id: 3,
            limits: Limits::DEFAULT,
        }
    }

    /// Replaces the limits (they are not part of the serialized state).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn take_prekey_id(&mut self) -> u32 {
        let id = self.next_prekey_id;
        self.next_prekey_id = self.next_prekey_id.checked_add(1).unwrap_or(1);
        id
    }

    /// The device identity key pair.
    pub fn identity(&self) -> &IdentityKeyPair {
        &self.identity
    }

    /// The public device identity.
    pub fn identity_key(&self) -> &IdentityKey {
        self.identity.public()
    }

    /// The current signed prekey, as published.
    pub fn signed_prekey(&self) -> SignedPrekeyPublic {
        self.signed_prekey.public(&self.identity)
    }

    /// The current last-resort ML-KEM-768 prekey, as published. It rotates with the signed
    /// prekey and is used when no one-time KEM prekey is left.
    pub fn last_resort_kem_prekey(&self) -> KemPrekeyPublic {
        KemPrekeyPublic::sign(
            &self.identity,
            self.signed_prekey.kem_id,
            false,
            &self.signed_prekey.kem,
        )
    }

    /// When the current signed prekey was created (the caller's clock).
    pub fn signed_prekey_created_at(&self) -> u64 {
        self.signed_prekey.created_at
    }

    /// Replaces the signed prekey; the old one keeps answering until
    /// [`Account::remove_expired_signed_prekeys`] drops it.
    pub fn rotate_signed_prekey<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
    ) -> SignedPrekeyPublic {
        let (id, kem_id) = (self.take_prekey_id(), self.take_prekey_id());
        let fresh = SignedPrekey::generate(id, kem_id, rng, now);
        let mut old = core::mem::replace(&mut self.signed_prekey, fresh);
        old.retired_at = Some(now);
        self.retired_signed_prekeys.push(old);
        self.signed_prekey()
    }

    /// Drops retired signed prekeys (and their replay records) whose grace period is over.
    pub fn remove_expired_signed_prekeys(&mut self, now: u64, grace_seconds: u64) {
        self.retired_signed_prekeys
            .retain(|s| s.retired_at.is_none_or(|t| now < t.saturating_add(grace_seconds)));
    }

    /// Generates `count` one-time prekeys and returns their public halves to publish.
    pub fn generate_one_time_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        count: usize,
        rng: &mut R,
    ) -> Vec<OneTimePrekeyPublic> {
        (0..count)
            .map(|_| {
                let id = self.take_prekey_id();
                let pair = DhKeyPair::generate(rng);
                let public = OneTimePrekeyPublic {
                    id,
                    key: *pair.public(),
                };
                self.one_time_prekeys.insert(id, pair);
                public
            })
            .collect()
    }

    /// Generates `count` signed one-time ML-KEM-768 prekeys and returns them to publish.
    ///
    /// Randomness drawn per key: the KEM seed (`d` 32, `z` 32).
    pub fn generate_one_time_kem_prekeys<R: CryptoRng + ?Sized>(
        &mut self,
        count: usize,
        rng: &mut R,
    ) -> Vec<KemPrekeyPublic> {
        (0..count)
            .map(|_| {
                let id = self.take_prekey_id();
                let pair = KemKeyPair::generate(rng);
                let public = KemPrekeyPublic::sign(&self.identity, id, true, &pair);
                self.one_time_kem_prekeys.insert(id, pair);
                public
            })
            .collect()
    }

    /// The unused one-time KEM prekeys this device still holds, signed, as published.
    pub fn one_time_kem_prekeys(&self) -> Vec<KemPrekeyPublic> {
        self.one_time_kem_prekeys
            .iter()
            .map(|(&id, pair)| KemPrekeyPublic::sign(&self.identity, id, true, pair))
            .collect()
    }

    /// Number of unused one-time KEM prekeys this device still holds.
    pub fn one_time_kem_prekey_count(&self) -> usize {
        self.one_time_kem_prekeys.len()
    }

    /// The unused one-time prekeys this device still holds.
    pub fn one_time_prekeys(&self) -> Vec<OneTimePrekeyPublic> {
        self.one_time_prekeys
            .iter()
            .map(|(&id, pair)| OneTimePrekeyPublic {
                id,
                key: *pair.public(),
            })
            .collect()
    }

    /// A bundle of this device as a server would hand it out: the given one-time prekey, and
    /// the given one-time KEM prekey or, without one, the last-resort KEM prekey.
    pub fn prekey_bundle(
        &self,
        one_time_prekey: Option<OneTimePrekeyPublic>,
        one_time_kem_prekey: Option<KemPrekeyPublic>,
    ) -> Result<PrekeyBundle> {
        let kem = one_time_kem_prekey.unwrap_or_else(|| self.last_resort_kem_prekey());
        PrekeyBundle::new(
            self.identity_key().clone(),
            self.signed_prekey(),
            Some(kem),
            one_time_prekey,
        )
    }

    /// A classical bundle without any KEM prekey, for peers that explicitly allow
    /// classical X3DH (and for tests of the downgrade refusal).
    pub fn classical_prekey_bundle(
        &self,
        one_time_prekey: Option<OneTimePrekeyPublic>,
    ) -> Result<PrekeyBundle> {
        PrekeyBundle::new(
            self.identity_key().clone(),
            self.signed_prekey(),
            None,
            one_time_prekey,
        )
    }

    /// Reads who sent an initial envelope, changing nothing. Lets a caller find the
    /// sessions of that peer before decrypting.
    pub fn initial_sender(&self, envelope: &Envelope<'_>) -> Result<IdentityKey> {
        let prefix = envelope
            .initial()
            .ok_or(Error::Misuse(MisuseError::NotInitialMessage))?;
        let spk = self.signed_prekey_by_id(prefix.signed_prekey_id)?;
        let keys = ResponderKeys {
            identity: &self.identity,
            signed_prekey: &spk.pair,
            one_time_prekey: None,
            kem_prekey: self.kem_prekey_for(prefix.kem.as_ref().map(|(id, _)| *id))?,
        };
        Ok(pqxdh::open_identity(&keys, prefix)?.0)
    }

    /// The KEM key pair an initial message names: a one-time one, or the last-resort one of
    /// a live signed prekey.
    fn kem_prekey_for(&self, id: Option<u32>) -> Result<Option<&KemKeyPair>> {
        let Some(id) = id else { return Ok(None) };
        if let Some(pair) = self.one_time_kem_prekeys.get(&id) {
            return Ok(Some(pair));
        }
        core::iter::once(&self.signed_prekey)
            .chain(&self.retired_signed_prekeys)
            .find(|s| s.kem_id == id)
            .map(|s| Some(&s.kem))
            .ok_or(Error::Handshake(HandshakeError::UnknownKemPrekey))
    }

    fn signed_prekey_by_id(&self, id: u32) -> Result<&SignedPrekey> {
        core::iter::once(&self.signed_prekey)
            .chain(&self.retired_signed_prekeys)
            .find(|s| s.id == id)
            .ok_or(Error::Handshake(HandshakeError::UnknownSignedPrekey))
    }

    /// Runs PQXDH as the responder for an initial envelope, changing nothing: checks the
    /// replay record and the prekeys it names, and derives the handshake secret. The
    /// session layer starts the ratchet from it and decrypts the first message
    /// ([`Account::accept_initial`]); a classical (no KEM) message is refused unless
    /// `allow_classical`.
    pub(crate) fn respond(&self, envelope: &Envelope<'_>, allow_classical: bool) -> Result<Responded> {
        let prefix = envelope
            .initial()
            .ok_or(Error::Misuse(MisuseError::NotInitialMessage))?;
        if prefix.kem.is_none() && !allow_classical {
            return Err(Error::Handshake(HandshakeError::ClassicalRefused));
        }
        let spk = self.signed_prekey_by_id(prefix.signed_prekey_id)?;
        if spk.seen.contains(&prefix.base_key) {
            return Err(Error::Handshake(HandshakeError::ReplayedInitialMessage));
        }
        if spk.seen.len() >= self.limits.max_replay_records {
            return Err(Error::State(StateError::ReplayRecordFull));
        }
        let one_time = match prefix.one_time_prekey_id {
            Some(id) => Some(
                self.one_time_prekeys
                    .get(&id)
                    .ok_or(Error::Handshake(HandshakeError::UnknownOneTimePrekey))?,
            ),
            None => None,
        };
        let keys = ResponderKeys {
            identity: &self.identity,
            signed_prekey: &spk.pair,
            one_time_prekey: one_time,
            kem_prekey: self.kem_prekey_for(prefix.kem.as_ref().map(|(id, _)| *id))?,
        };
        let (secret, initiator) = pqxdh::respond(&keys, prefix)?;
        Ok(Responded {
            secret,
            local_identity: self.identity_key().clone(),
            initiator,
            signed_prekey: spk.pair.clone(),
            post_quantum: prefix.kem.is_some(),
            change: AccountChange {
                signed_prekey_id: prefix.signed_prekey_id,
                one_time_prekey_id: prefix.one_time_prekey_id,
                kem_prekey_id: prefix.kem.as_ref().map(|(id, _)| *id),
                base_key: prefix.base_key,
            },
        })
    }

    /// A copy to stage changes on (upkeep's rotation and new prekeys): the caller stores
    /// the copy and replaces the account with it only once that commit succeeded.
    pub(crate) fn staged_copy(&self) -> Self {
        Self {
            identity: IdentityKeyPair::from_seed(&self.identity.seed()),
            signed_prekey: self.signed_prekey.clone(),
            retired_signed_prekeys: self.retired_signed_prekeys.clone(),
            one_time_prekeys: self.one_time_prekeys.clone(),
            one_time_kem_prekeys: self.one_time_kem_prekeys.clone(),
            next_prekey_id: self.next_prekey_id,
            limits: self.limits,
        }
    }

    /// Applies a staged change: deletes the one-time prekeys the initial message used (a
    /// last-resort KEM prekey stays) and records its base key against replay. Applying
    /// the same change twice changes nothing the second time.
    pub fn apply(&mut self, change: &AccountChange) {
        if let Some(id) = change.one_time_prekey_id {
            self.one_time_prekeys.remove(&id);
        }
        if let Some(id) = change.kem_prekey_id {
            self.one_time_kem_prekeys.remove(&id);
        }
        if let Some(spk) = core::iter::once(&mut self.signed_prekey)
            .chain(&mut self.retired_signed_prekeys)
            .find(|s| s.id == change.signed_prekey_id)
        {
            spk.seen.insert(change.base_key);
        }
    }

    /// Serializes the account (versioned; see docs/PROTOCOL.md, section 9).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        self.to_bytes_with(None)
    }

    /// Serializes the account as it will be once `change` is applied, leaving `self` as it
    /// is: the bytes to store in the same commit as the session the change belongs to.
    pub fn to_bytes_with(&self, change: Option<&AccountChange>) -> Result<Zeroizing<Vec<u8>>> {
        let skip_one_time = change.and_then(|c| c.one_time_prekey_id);
        let skip_kem = change.and_then(|c| c.kem_prekey_id);
        let mut state = AccountState {
            seed: Secret32::from_bytes(*self.identity.seed()),
            signed_prekey: self.signed_prekey.clone(),
            retired_signed_prekeys: self.retired_signed_prekeys.clone(),
            one_time_prekeys: self
                .one_time_prekeys
                .iter()
                .filter(|(id, _)| Some(**id) != skip_one_time)
                .map(|(&id, pair)| (id, pair.clone()))
                .collect(),
            one_time_kem_prekeys: self
                .one_time_kem_prekeys
                .iter()
                .filter(|(id, _)| Some(**id) != skip_kem)
                .map(|(&id, pair)| (id, pair.clone()))
                .collect(),
            next_prekey_id: self.next_prekey_id,
        };
        if let Some(change) = change
            && let Some(spk) = core::iter::once(&mut state.signed_prekey)
                .chain(&mut state.retired_signed_prekeys)
                .find(|s| s.id == change.signed_prekey_id)
        {
            spk.seen.insert(change.base_key);
        }
        state::encode(state::KIND_ACCOUNT, &state)
    }

    /// Restores an account serialized by [`Account::to_bytes`].
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Self> {
        let state: AccountState = state::decode(state::KIND_ACCOUNT, bytes)?;
        if core::iter::once(&state.signed_prekey)
            .chain(&state.retired_signed_prekeys)
            .any(|s| s.seen.len() > limits.max_replay_records)
        {
            return Err(StateError::ExceedsLimits.into());
        }
        let mut one_time_prekeys = BTreeMap::new();
        for (id, pair) in state.one_time_prekeys {
            if one_time_prekeys.insert(id, pair).is_some() {
                return Err(StateError::Malformed.into());
            }
        }
        let mut one_time_kem_prekeys = BTreeMap::new();
        for (id, pair) in state.one_time_kem_prekeys {
            if one_time_kem_prekeys.insert(id, pair).is_some() {
                return Err(StateError::Malformed.into());
            }
        }
        Ok(Self {
            identity: IdentityKeyPair::from_seed(state.seed.expose()),
            one_time_kem_prekeys,
            signed_prekey: state.signed_prekey,
            retired_signed_prekeys: state.retired_signed_prekeys,
            one_time_prekeys,
            next_prekey_id: state.next_prekey_id,
            limits,
        })
    }
}
