//! Device addresses (DESIGN section 3: a user id chosen by the app and a device id).

use core::fmt;

use serde::{Deserialize, Serialize};

/// A device: the app's user id and a device number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    /// The user id, 1 to 128 bytes of UTF-8.
    pub user: String,
    /// The device number within the user.
    pub device: u32,
}

impl Address {
    /// Longest user id, in bytes.
    pub const MAX_USER_LEN: usize = 128;

    /// An address; `None` if the user id is empty or longer than [`Address::MAX_USER_LEN`].
    pub fn new(user: impl Into<String>, device: u32) -> Option<Self> {
        let user = user.into();
        (!user.is_empty() && user.len() <= Self::MAX_USER_LEN).then_some(Self { user, device })
    }

    /// The encoding used as a store key and inside messages:
    /// `user length (1) || user || device (u32)`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.user.len());
        out.push(self.user.len() as u8);
        out.extend_from_slice(self.user.as_bytes());
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
