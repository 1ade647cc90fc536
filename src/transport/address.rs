//! Device addresses (docs/ARCHITECTURE.md, section 2: a user id chosen by the app and a device id).

use core::fmt;

use serde::{Deserialize, Serialize};

/// A device: the app's user id and a device number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawAddress")]
pub struct Address {
    /// The user id, 1 to 128 bytes of UTF-8.
    pub user: String,
    /// The device number within the user.
    pub device: u32,
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

    /// True if the user id is 1 to [`Address::MAX_USER_LEN`] bytes (the fields are public,
    /// so an address built by hand may not be).
    pub fn is_valid(&self) -> bool {
        !self.user.is_empty() && self.user.len() <= Self::MAX_USER_LEN
    }

    /// The encoding used as a store key and inside messages:
    /// `user length (1) || user || device (u32)`. An invalid address (see
    /// [`Address::is_valid`]) encodes with its user id cut to [`Address::MAX_USER_LEN`]
    /// bytes; the client refuses such addresses before encoding them.
    pub fn encode(&self) -> Vec<u8> {
        let user = &self.user.as_bytes()[..self.user.len().min(Self::MAX_USER_LEN)];
        let mut out = Vec::with_capacity(5 + user.len());
        out.push(user.len() as u8);
        out.extend_from_slice(user);
        out.extend_from_slice(&self.device.to_be_bytes());
        out
    }

    /// Decodes [`Address::encode`]'s output from the front of `bytes`; returns the rest.
    pub fn decode_prefix(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let (&len, rest) = bytes.split_first()?;
        let len = usize::from(len);
        let user = rest.get(..len)?;
        let device = rest.get(len..len + 4)?;
        let user = core::str::from_utf8(user).ok()?;
        let address = Self::new(user, u32::from_be_bytes(device.try_into().ok()?))?;
        Some((address, rest.get(len + 4..)?))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.user, self.device)
    }
}
