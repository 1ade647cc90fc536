//! Linking a new device (docs/PROTOCOL.md, section 13.4): the link code the new device
//! shows, and the confirmation code both screens show once it is linked.
//!
//! `link code = 0x01 || address (user length (1) || user || device (u32)) ||
//! identity key (32) || link secret (16)`; its text form is the same bytes in RFC 4648
//! base32 without padding. The confirmation code is the first four bytes of
//! `SHA-256("hemlis/v1/link-confirm" || link secret || account key || provisioner's
//! identity key || new device's identity key)`, big-endian, modulo 1,000,000, as six digits.

use core::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::address::Address;
use crate::crypto::keys::IdentityKey;
use crate::error::{DecodeError, Error};
use crate::wire::{Codec, Reader};

const FORMAT: u8 = 1;
const CONFIRM_LABEL: &[u8] = b"hemlis/v1/link-confirm";

/// The 16 random bytes of a link code: only the screen shows them, so a provisioning
/// message that does not carry them did not come from the device that read the code.
#[derive(Clone, Zeroize, ZeroizeOnDrop, serde::Serialize, serde::Deserialize)]
pub(crate) struct LinkSecret([u8; 16]);

impl LinkSecret {
    pub(crate) fn generate<R: rand_core::CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub(crate) fn expose(&self) -> &[u8; 16] {
        &self.0
    }

    /// Constant-time equality.
    pub(crate) fn matches(&self, other: &Self) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }
}

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret(<redacted>)")
    }
}

/// What a new device shows (as a QR code, or as text) so that one of the user's devices
/// that holds the account key can add it: its address, its identity key and a link
/// secret.
///
/// The link secret makes the code itself a secret: show it only on the new device's
/// screen. `Debug` does not print it.
#[derive(Clone)]
pub struct LinkCode {
    address: Address,
    identity: IdentityKey,
    secret: LinkSecret,
}

impl fmt::Debug for LinkCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkCode")
            .field("address", &self.address)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl LinkCode {
    pub(crate) fn new(address: Address, identity: IdentityKey, secret: LinkSecret) -> Self {
        Self {
            address,
            identity,
            secret,
        }
    }

    /// The byte form, for a QR code.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + self.address.encoded_len() + 32 + 16);
        bytes.push(FORMAT);
        Codec::encode(&self.address, &mut bytes);
        bytes.extend_from_slice(self.identity.as_bytes());
        bytes.extend_from_slice(self.secret.expose());
        bytes
    }

    /// The text form (base32, upper case, no padding), for typing or pasting.
    pub fn to_text(&self) -> String {
        data_encoding::BASE32_NOPAD.encode(&self.to_bytes())
    }

    /// Parses the byte form. Strict: format byte 1, a valid address, a valid identity key,
    /// nothing after the secret.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != FORMAT {
            return Err(DecodeError::UnsupportedVersion(format).into());
        }
        let address = Address::read(&mut r)?;
        let identity = IdentityKey::from_bytes(&r.array()?)?;
        let secret = LinkSecret::from_bytes(r.array()?);
        r.finish()?;
        Ok(Self {
            address,
            identity,
            secret,
        })
    }

    /// Parses the text form; case, spaces and dashes are ignored.
    pub fn from_text(text: &str) -> Result<Self, Error> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = data_encoding::BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map_err(|_| Error::Decode(DecodeError::Truncated))?;
        Self::from_bytes(&bytes)
    }

    /// The new device's address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The new device's identity key.
    pub fn identity(&self) -> &IdentityKey {
        &self.identity
    }

    pub(crate) fn secret(&self) -> &LinkSecret {
        &self.secret
    }
}

/// The six-digit code both screens show after linking; they match only if both devices
/// saw the same link secret, account key and identity keys.
pub(crate) fn confirmation_code(
    secret: &LinkSecret,
    account: &IdentityKey,
    provisioner: &IdentityKey,
    new_device: &IdentityKey,
) -> String {
    let mut hash = Sha256::new();
    hash.update(CONFIRM_LABEL);
    hash.update(secret.expose());
    hash.update(account.as_bytes());
    hash.update(provisioner.as_bytes());
    hash.update(new_device.as_bytes());
    let digest = hash.finalize();
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!("{:06}", n % 1_000_000)
}
