//! Receiving: header trial decryption, skipped keys, the DH ratchet step (Double Ratchet
//! spec, section 4.3, RatchetDecryptHE; docs/PROTOCOL.md, section 6.5).
//!
//! Commit on success: every path derives what it needs into locals, opens the body, and
//! only then writes the state. A message that fails for any reason changes nothing.

use rand_core::CryptoRng;

use super::chain::{Advance, Chain, advance, skip_to};
use super::dh_step::{DhStep, dh_ratchet_he};
use super::ratchet::Session;
use crate::crypto::aead;
use crate::crypto::keys::check_x25519_canonical;
use crate::crypto::secret::{HeaderKey, MessageKey};
use crate::error::DecryptError;
use crate::error::{Error, Result};
use crate::wire::{Envelope, Header, unpad};

/// Which key opened the header.
enum Opened {
    /// The current receiving chain's header key.
    Current(Header),
    /// The next header key: the peer has stepped its DH ratchet.
    Next(Header),
    /// The header key of an old chain held in the skipped-key store.
    Old(usize, Header),
}

fn open_header(header_key: &HeaderKey, envelope: &Envelope<'_>) -> Option<Header> {
    let plaintext = aead::open(header_key, envelope.before_header(), envelope.sealed_header()).ok()?;
    Header::decode(&plaintext).ok()
}

impl Session {
    fn open_any_header(&self, envelope: &Envelope<'_>) -> Option<Opened> {
        let state = &self.state;
        if let Some(recv) = state.phase.recv()
            && let Some(h) = open_header(&recv.header_key, envelope)
        {
            return Some(Opened::Current(h));
        }
        if let Some(h) = open_header(&state.next_recv_header_key, envelope) {
            return Some(Opened::Next(h));
        }
        state
            .skipped
            .header_keys()
            .enumerate()
            .find_map(|(i, hk)| open_header(hk, envelope).map(|h| Opened::Old(i, h)))
    }

    fn open_body(&self, message_key: &MessageKey, envelope: &Envelope<'_>) -> Result<Vec<u8>> {
        let ad = self.associated_data();
        let before = envelope.before_body();
        let mut body_ad = Vec::with_capacity(ad.len() + before.len());
        body_ad.extend_from_slice(&ad);
        body_ad.extend_from_slice(before);
        let padded = aead::open(message_key, &body_ad, envelope.sealed_body())
            .map_err(|_| Error::Decrypt(DecryptError::BodyAuthentication))?;
        unpad(padded)
    }

    /// Decrypts a parsed envelope; the state changes only if this returns `Ok`.
    pub(crate) fn decrypt_parsed<R: CryptoRng + ?Sized>(
        &mut self,
        envelope: &Envelope<'_>,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        match self
            .open_any_header(envelope)
            .ok_or(Error::Decrypt(DecryptError::UnknownSession))?
        {
            Opened::Current(h) => self.receive_current(h, envelope),
            Opened::Next(h) => self.receive_next(h, envelope, rng),
            Opened::Old(chain, h) => self.receive_skipped(chain, h.n, envelope),
        }
    }

    /// A message from a kept chain: its key must still be stored.
    fn receive_skipped(&mut self, chain: usize, n: u32, envelope: &Envelope<'_>) -> Result<Vec<u8>> {
        let key = self
            .state
            .skipped
            .find(chain, n)
            .ok_or(Error::Decrypt(DecryptError::Duplicate))?;
        let plaintext = self.open_body(key, envelope)?;
        self.state.skipped.remove(chain, n);
        Ok(plaintext)
    }

    /// A message of the current receiving chain.
    fn receive_current(&mut self, header: Header, envelope: &Envelope<'_>) -> Result<Vec<u8>> {
        let Some(recv) = self.state.phase.recv() else {
            return Err(Error::Decrypt(DecryptError::UnknownSession));
        };
        if header.n < recv.n {
            let chain = self
                .state
                .skipped
                .chain_index(&recv.header_key)
                .ok_or(Error::Decrypt(DecryptError::Duplicate))?;
            return self.receive_skipped(chain, header.n, envelope);
        }
        if header.n - recv.n > self.limits.max_skip || header.n == u32::MAX {
            return Err(Error::Decrypt(DecryptError::TooFarAhead));
        }
        let Advance {
            skipped,
            message_key,
            next_chain_key,
        } = advance(&recv.key, recv.n, header.n);
        let plaintext = self.open_body(&message_key, envelope)?;

        let limits = self.limits;
        let state = &mut self.state;
        if let Some(recv) = state.phase.recv_mut() {
            state.skipped.insert(&recv.header_key, skipped, false);
            recv.key = next_chain_key;
            recv.n = header.n + 1;
            state.skipped.enforce(
                limits.max_skipped_keys,
                limits.max_old_chains,
                Some(&recv.header_key),
            );
        }
        Ok(plaintext)
    }

    /// A message under the next header key: the peer stepped its DH ratchet.
    fn receive_next<R: CryptoRng + ?Sized>(
        &mut self,
        header: Header,
        envelope: &Envelope<'_>,
        rng: &mut R,
    ) -> Result<Vec<u8>> {
        check_x25519_canonical(&header.ratchet_key)?;
        let state = &self.state;
        let old_remaining = state
            .phase
            .recv()
            .map_or(0, |r| header.previous_chain_len.saturating_sub(r.n));
        if old_remaining > self.limits.max_skip || header.n > self.limits.max_skip || header.n == u32::MAX {
            return Err(Error::Decrypt(DecryptError::TooFarAhead));
        }
        let old_skipped = match state.phase.recv() {
            Some(r) => skip_to(&r.key, r.n, header.previous_chain_len),
            None => Vec::new(),
        };
        let DhStep {
            root,
            recv_key,
            next_recv_header_key,
            ratchet,
            send_key,
            next_send_header_key,
        } = dh_ratchet_he(&state.root, &state.ratchet, &header.ratchet_key, rng)?;
        let Advance {
            skipped: new_skipped,
            message_key,
            next_chain_key,
        } = advance(&recv_key, 0, header.n);
        let plaintext = self.open_body(&message_key, envelope)?;

        // The body authenticated: commit the step.
        let limits = self.limits;
        let state = &mut self.state;
        // The old chains are not moved out: that would leave their keys behind in the
        // state's memory; they are dropped (and zeroized) in place when the phase is
        // replaced.
        if let Some(old) = state.phase.recv() {
            state.skipped.insert(&old.header_key, old_skipped, true);
        }
        state.previous_send_len = state.phase.send().map_or(0, |s| s.n);
        let send_header_key = core::mem::replace(&mut state.next_send_header_key, next_send_header_key);
        let recv_header_key = core::mem::replace(&mut state.next_recv_header_key, next_recv_header_key);
        state.skipped.insert(&recv_header_key, new_skipped, false);
        state.skipped.enforce(
            limits.max_skipped_keys,
            limits.max_old_chains,
            Some(&recv_header_key),
        );
        state.phase = state.phase.after_dh_step(
            Chain {
                key: send_key,
                n: 0,
                header_key: send_header_key,
            },
            Chain {
                key: next_chain_key,
                n: header.n + 1,
                header_key: recv_header_key,
            },
        );
        state.root = root;
        state.ratchet = ratchet;
        Ok(plaintext)
    }
}
