//! Device addresses (docs/ARCHITECTURE.md, section 2: a user id chosen by the app and a device id).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DecodeError;
use crate::wire::{Codec, Reader};

/// A device: the app's user id and a device number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawAddress")]
pub struct Address {
    /// The user id, 1 to 128 bytes of UTF-8 (checked by every constructor).
    user: String,
    /// The device number within the user.
    device: u32,
}

/// The unchecked form that deserialization goes through.
#[derive(Deserialize)]
struct RawAddress {
    user: String,
    device: u32,
}

impl TryFrom<RawAddress> for Address {
    type Error = &'static str;
    fn try_from(raw: RawAddress) -> Result<Self, Self::Error> {
        Address::new(raw.user, raw.device).ok_or("invalid user id")
    }
}

impl Address {
    /// Longest user id, in bytes.
    pub const MAX_USER_LEN: usize = 128;

    /// An address; `None` if the user id is empty or longer than [`Address::MAX_USER_LEN`].
    pub fn new(user: impl Into<String>, device: u32) -> Option<Self> {
        let user = user.into();
        (!user.is_empty() && user.len() <= Self::MAX_USER_LEN).then_some(Self { user, device })
    }

    /// The user id: 1 to [`Address::MAX_USER_LEN`] bytes of UTF-8.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The device number within the user.
    pub fn device(&self) -> u32 {
        self.device
    }

    /// The encoding used as a store key and inside messages (the same as
    /// [`Codec::to_bytes`]): `user length (1) || user || device (u32)`.
    pub fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }

    /// Decodes [`Address::encode`]'s output from the front of `bytes`; returns the rest.
    /// `None` for anything [`Codec::read`] refuses.
    pub fn decode_prefix(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let mut r = Reader::new(bytes);
        let address = Self::read(&mut r).ok()?;
        Some((address, r.rest()))
    }
}

/// `user length (1) || user (UTF-8) || device (u32)`. Every address holds a user id of 1 to
/// [`Address::MAX_USER_LEN`] bytes (the constructors check it), so the length fits in its
/// byte; a decoded one is checked the same way.
impl Codec<'_> for Address {
    type Error = DecodeError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        let user = self.user.as_bytes();
        // At most MAX_USER_LEN (128): the constructors refuse longer user ids.
        bytes.push(u8::try_from(user.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(user);
        bytes.extend_from_slice(&self.device.to_be_bytes());
    }

    fn encoded_len(&self) -> usize {
        1 + self.user.len() + 4
    }

    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if the input ends early; [`DecodeError::InvalidAddress`]
    /// for a user id that is empty, longer than [`Address::MAX_USER_LEN`] or not UTF-8.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let len = usize::from(r.u8()?);
        let user = r.bytes(len)?;
        let device = r.u32()?;
        let user = core::str::from_utf8(user).map_err(|_| DecodeError::InvalidAddress)?;
        Self::new(user, device).ok_or(DecodeError::InvalidAddress)
    }
}

impl Address {
    /// Reads `user length (1) || user`, checked as in an address.
    pub(crate) fn read_user(r: &mut Reader<'_>) -> Result<String, DecodeError> {
        let len = usize::from(r.u8()?);
        let user = r.bytes(len)?;
        let user = core::str::from_utf8(user).map_err(|_| DecodeError::InvalidAddress)?;
        Self::new(user, 0)
            .map(|a| a.user)
            .ok_or(DecodeError::InvalidAddress)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.user, self.device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codec_round_trips_and_refuses_invalid_user_ids() {
        for address in [
            Address::new("a", 0).unwrap(),
            Address::new("é".repeat(64), u32::MAX).unwrap(),
        ] {
            let bytes = address.to_bytes();
            assert_eq!(bytes.len(), address.encoded_len());
            assert_eq!(bytes, address.encode());
            assert_eq!(Address::from_bytes(&bytes), Ok(address.clone()));
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[9, 9]);
            assert_eq!(Address::decode_prefix(&longer), Some((address, &[9u8, 9][..])));
            assert_eq!(Address::from_bytes(&longer), Err(DecodeError::TrailingBytes));
            assert_eq!(
                Address::from_bytes(&bytes[..bytes.len() - 1]),
                Err(DecodeError::Truncated)
            );
        }
        assert_eq!(
            Address::from_bytes(&[0, 0, 0, 0, 1]),
            Err(DecodeError::InvalidAddress)
        );
        assert_eq!(
            Address::from_bytes(&[1, 0xff, 0, 0, 0, 1]),
            Err(DecodeError::InvalidAddress)
        );
        let long = [vec![129], vec![b'a'; 129], vec![0; 4]].concat();
        assert_eq!(Address::from_bytes(&long), Err(DecodeError::InvalidAddress));
        assert_eq!(Address::decode_prefix(&long), None);
    }
}
