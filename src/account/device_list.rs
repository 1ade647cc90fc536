//! The signed device list (docs/PROTOCOL.md, section 13.1): which devices a user's account
//! key vouches for, in one strictly versioned, signed record.
//!
//! `body = 0x01 || user length (1) || user || version (u64) || timestamp (u64) ||
//! account key (32) || count (u16) || count × (device id (u32) || identity key (32))`,
//! device ids strictly ascending; the list is `body || Ed25519 signature (64)` by the
//! account key over `"hemlis/v1/device-list" || body`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::crypto::keys::{IdentityKey, IdentityKeyPair};
use crate::error::{DecodeError, Error, KeyError};
use crate::wire::Reader;

/// The domain of the list signature: no other signature in hemlis signs this prefix.
pub(crate) const DEVICE_LIST_LABEL: &[u8] = b"hemlis/v1/device-list";
const FORMAT: u8 = 1;

/// A user's device list, signed by the user's account key: the devices a sender encrypts
/// to and a receiver accepts messages from.
///
/// A value of this type always holds a valid signature by [`DeviceList::account_key`]
/// over its contents: [`DeviceList::decode`] checks it, and only the holder of the
/// account key makes new lists.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    user: String,
    version: u64,
    timestamp: u64,
    account: IdentityKey,
    devices: BTreeMap<u32, IdentityKey>,
    #[serde(with = "signature")]
    signature: [u8; 64],
}

mod signature {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(sig)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let bytes: &[u8] = <&[u8]>::deserialize(d)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"64 bytes"))
    }
}

impl core::fmt::Debug for DeviceList {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceList")
            .field("user", &self.user)
            .field("version", &self.version)
            .field("devices", &self.devices.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DeviceList {
    /// The most devices one list holds.
    pub const MAX_DEVICES: usize = 64;

    /// Signs a new list with the account key. `None` if `user` is not a valid user id,
    /// or `devices` is empty or holds more than [`DeviceList::MAX_DEVICES`].
    pub(crate) fn sign(
        account: &IdentityKeyPair,
        user: &str,
        version: u64,
        timestamp: u64,
        devices: BTreeMap<u32, IdentityKey>,
    ) -> Option<Self> {
        Address::new(user, 0)?;
        if devices.is_empty() || devices.len() > Self::MAX_DEVICES {
            return None;
        }
        let mut list = Self {
            user: user.to_owned(),
            version,
            timestamp,
            account: account.public().clone(),
            devices,
            signature: [0; 64],
        };
        let mut message = DEVICE_LIST_LABEL.to_vec();
        list.encode_body(&mut message);
        list.signature = account.sign(&message);
        Some(list)
    }

    /// Parses a list and checks its signature. Strict: the user id must be valid, the
    /// device count 1 to [`DeviceList::MAX_DEVICES`] (`BadLength`), the ids strictly
    /// ascending (`NotCanonical`), every key a valid Ed25519 point (`InvalidPublicKey`),
    /// the signature valid (`BadSignature`), and no byte may follow (`TrailingBytes`).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes);
        let format = r.u8()?;
        if format != FORMAT {
            return Err(DecodeError::UnsupportedVersion(format).into());
        }
        let user = Address::read_user(&mut r)?;
        let version = r.u64()?;
        let timestamp = r.u64()?;
        let account = IdentityKey::from_bytes(&r.array()?)?;
        let count = usize::from(r.u16()?);
        if count == 0 {
            return Err(DecodeError::NotCanonical.into());
        }
        if count > Self::MAX_DEVICES {
            return Err(DecodeError::Oversize.into());
        }
        r.check_room(count, 36)?;
        let mut devices = BTreeMap::new();
        let mut last: Option<u32> = None;
        for _ in 0..count {
            let id = r.u32()?;
            if last.is_some_and(|l| id <= l) {
                return Err(DecodeError::NotCanonical.into());
            }
            last = Some(id);
            devices.insert(id, IdentityKey::from_bytes(&r.array()?)?);
        }
        let body_len = r.position();
        let signature: [u8; 64] = r.array()?;
        r.finish()?;
        let mut message = DEVICE_LIST_LABEL.to_vec();
        message.extend_from_slice(&bytes[..body_len]);
        account
            .verify(&message, &signature)
            .map_err(|_| Error::Key(KeyError::BadSignature))?;
        Ok(Self {
            user,
            version,
            timestamp,
            account,
            devices,
            signature,
        })
    }

    /// The list's bytes (the signed body, then the signature).
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.encode_body(&mut bytes);
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    fn encoded_len(&self) -> usize {
        1 + 1 + self.user.len() + 8 + 8 + 32 + 2 + 36 * self.devices.len() + 64
    }

    fn encode_body(&self, bytes: &mut Vec<u8>) {
        bytes.push(FORMAT);
        // At most MAX_USER_LEN (128): `sign` and `decode` refuse longer user ids.
        bytes.push(u8::try_from(self.user.len()).unwrap_or(u8::MAX));
        bytes.extend_from_slice(self.user.as_bytes());
        bytes.extend_from_slice(&self.version.to_be_bytes());
        bytes.extend_from_slice(&self.timestamp.to_be_bytes());
        bytes.extend_from_slice(self.account.as_bytes());
        // At most MAX_DEVICES (64).
        bytes.extend_from_slice(
            &u16::try_from(self.devices.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        for (id, key) in &self.devices {
            bytes.extend_from_slice(&id.to_be_bytes());
            bytes.extend_from_slice(key.as_bytes());
        }
    }

    /// The user the list is for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The list's version: a sender never goes back to a lower one.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// When the list was signed (seconds since the Unix epoch, the signer's clock).
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The account key that signed the list.
    pub fn account_key(&self) -> &IdentityKey {
        &self.account
    }

    /// The devices, by id, with their identity keys.
    pub fn devices(&self) -> impl Iterator<Item = (u32, &IdentityKey)> {
        self.devices.iter().map(|(id, key)| (*id, key))
    }

    /// The identity key the list vouches for device `id`, if it lists it.
    pub fn identity_of(&self, id: u32) -> Option<&IdentityKey> {
        self.devices.get(&id)
    }

    /// The devices as a map, to build the next list from.
    pub(crate) fn device_map(&self) -> &BTreeMap<u32, IdentityKey> {
        &self.devices
    }
}
