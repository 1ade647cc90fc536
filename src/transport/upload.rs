//! The prekey upload a device publishes (docs/PROTOCOL.md, section 12.1): its identity,
//! signed prekey, last-resort KEM prekey, and new one-time prekeys of both kinds.
//!
//! ```text
//! version (1) || IK (32) || spk_id (4) || SPK (32) || SPK signature (64)
//! || kem_id (4) || last-resort KEM key (1184) || KEM signature (64)
//! || n (u16) || n x (opk_id (4) || OPK (32))
//! || m (u16) || m x (kem_id (4) || KEM key (1184) || KEM signature (64))
//! ```

use crate::crypto::kem::KEM_PUBLIC_LEN;
use crate::error::{DecodeError, Error, Result};
use crate::handshake::{KemPrekeyPublic, OneTimePrekeyPublic, PrekeyBundle, SignedPrekeyPublic};
use crate::wire::{Codec, Reader, VERSION};
use crate::{Account, IdentityKey};

/// What a device publishes; every key is checked and every signature verified on decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrekeyUpload {
    /// The device identity.
    pub identity: IdentityKey,
    /// The current signed prekey.
    pub signed_prekey: SignedPrekeyPublic,
    /// The current last-resort KEM prekey.
    pub last_resort_kem: KemPrekeyPublic,
    /// New one-time prekeys to add to the relay's stock.
    pub one_time: Vec<OneTimePrekeyPublic>,
    /// New one-time KEM prekeys to add to the relay's stock.
    pub one_time_kem: Vec<KemPrekeyPublic>,
}

impl PrekeyUpload {
    /// Most one-time prekeys of each kind in one upload.
    pub const MAX_ONE_TIME: usize = 1000;

    /// The upload of `account`'s current prekeys with the given new one-time prekeys.
    pub fn new(
        account: &Account,
        one_time: Vec<OneTimePrekeyPublic>,
        one_time_kem: Vec<KemPrekeyPublic>,
    ) -> Self {
        Self {
            identity: account.identity_key().clone(),
            signed_prekey: account.signed_prekey(),
            last_resort_kem: account.last_resort_kem_prekey(),
            one_time,
            one_time_kem,
        }
    }

    /// The bundle a relay hands out with the given one-time prekeys (or the last-resort KEM
    /// prekey when no one-time KEM prekey is left).
    pub fn bundle(
        &self,
        one_time: Option<OneTimePrekeyPublic>,
        one_time_kem: Option<KemPrekeyPublic>,
    ) -> Result<PrekeyBundle> {
        PrekeyBundle::new(
            self.identity.clone(),
            self.signed_prekey.clone(),
            Some(one_time_kem.unwrap_or_else(|| self.last_resort_kem.clone())),
            one_time,
        )
    }

    /// Encodes the upload (the same as [`Codec::to_bytes`]).
    pub fn encode(&self) -> Vec<u8> {
        self.to_bytes()
    }

    /// Decodes an upload strictly and verifies every key and signature (the same as
    /// [`Codec::from_bytes`]).
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] for bytes that break the format of docs/PROTOCOL.md, section 12.1
    /// (an identity key that fails its check is
    /// [`KeyError::InvalidPublicKey`](crate::KeyError::InvalidPublicKey) as soon as it is read); then, once the whole input is known to be well formed, the first key or
    /// signature that fails (section 4.2).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_bytes(bytes)
    }

    /// Reads the fields; only the identity key is checked (it is needed as a key).
    fn read_unverified(r: &mut Reader<'_>) -> Result<Self> {
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version).into());
        }
        let identity = IdentityKey::from_bytes(&r.array()?)?;
        let signed_prekey = SignedPrekeyPublic {
            id: r.u32()?,
            key: r.array()?,
            signature: r.array()?,
        };
        let last_resort_kem = read_kem(r, false)?;
        let n = read_count(r)?;
        let mut one_time = Vec::with_capacity(n);
        for _ in 0..n {
            one_time.push(OneTimePrekeyPublic {
                id: r.u32()?,
                key: r.array()?,
            });
        }
        let m = read_count(r)?;
        let mut one_time_kem = Vec::with_capacity(m);
        for _ in 0..m {
            one_time_kem.push(read_kem(r, true)?);
        }
        Ok(Self {
            identity,
            signed_prekey,
            last_resort_kem,
            one_time,
            one_time_kem,
        })
    }

    /// Checks every key and signature: a bundle with each piece checks each once.
    fn verify(&self) -> Result<()> {
        self.bundle(None, None)?;
        for otp in &self.one_time {
            self.bundle(Some(*otp), None)?;
        }
        for kem in &self.one_time_kem {
            kem.verify(&self.identity)?;
        }
        Ok(())
    }
}

impl Codec<'_> for PrekeyUpload {
    type Error = Error;

    fn encode(&self, bytes: &mut Vec<u8>) {
        bytes.push(VERSION);
        bytes.extend_from_slice(self.identity.as_bytes());
        bytes.extend_from_slice(&self.signed_prekey.id.to_be_bytes());
        bytes.extend_from_slice(&self.signed_prekey.key);
        bytes.extend_from_slice(&self.signed_prekey.signature);
        put_kem(bytes, &self.last_resort_kem);
        // At most MAX_ONE_TIME of each kind in an upload this crate makes.
        bytes.extend_from_slice(&(self.one_time.len() as u16).to_be_bytes());
        for otp in &self.one_time {
            bytes.extend_from_slice(&otp.id.to_be_bytes());
            bytes.extend_from_slice(&otp.key);
        }
        bytes.extend_from_slice(&(self.one_time_kem.len() as u16).to_be_bytes());
        for kem in &self.one_time_kem {
            put_kem(bytes, kem);
        }
    }

    fn encoded_len(&self) -> usize {
        let kem_len = |kem: &KemPrekeyPublic| 4 + kem.key.len() + 64;
        1 + 32
            + (4 + 32 + 64)
            + kem_len(&self.last_resort_kem)
            + 2
            + (4 + 32) * self.one_time.len()
            + 2
            + self.one_time_kem.iter().map(kem_len).sum::<usize>()
    }

    /// Reads the fields and verifies every key and signature.
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let upload = Self::read_unverified(r)?;
        upload.verify()?;
        Ok(upload)
    }

    /// Reads the fields and requires the end of the input before verifying any signature,
    /// so a malformed upload is always a decode error.
    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let upload = Self::read_unverified(&mut r)?;
        r.finish()?;
        upload.verify()?;
        Ok(upload)
    }
}

/// A KEM prekey of the upload: id, key and signature (its kind is implied by its place).
fn put_kem(bytes: &mut Vec<u8>, kem: &KemPrekeyPublic) {
    bytes.extend_from_slice(&kem.id.to_be_bytes());
    bytes.extend_from_slice(&kem.key);
    bytes.extend_from_slice(&kem.signature);
}

fn read_kem(r: &mut Reader<'_>, one_time: bool) -> Result<KemPrekeyPublic, DecodeError> {
    Ok(KemPrekeyPublic {
        id: r.u32()?,
        one_time,
        key: r.bytes(KEM_PUBLIC_LEN)?.to_vec(),
        signature: r.array()?,
    })
}

/// A count of one-time prekeys, checked against [`PrekeyUpload::MAX_ONE_TIME`] before
/// anything is allocated for them.
fn read_count(r: &mut Reader<'_>) -> Result<usize, DecodeError> {
    let n = usize::from(r.u16()?);
    if n > PrekeyUpload::MAX_ONE_TIME {
        return Err(DecodeError::Oversize);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KeyError;

    #[test]
    fn the_upload_round_trips_and_decodes_before_it_verifies() {
        let mut rng = crate::fast_rng();
        let mut account = Account::new(&mut rng, 0);
        let one_time = account.generate_one_time_prekeys(2, &mut rng);
        let one_time_kem = account.generate_one_time_kem_prekeys(1, &mut rng);
        let upload = PrekeyUpload::new(&account, one_time, one_time_kem);
        let bytes = upload.to_bytes();
        assert_eq!(bytes.len(), upload.encoded_len());
        assert_eq!(bytes.len(), 1 + 32 + 100 + 1252 + 2 + 2 * 36 + 2 + 1252);
        assert_eq!(PrekeyUpload::decode(&bytes), Ok(upload.clone()));
        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = Reader::new(&longer);
        assert_eq!(PrekeyUpload::read(&mut r), Ok(upload));
        assert_eq!(r.remaining(), 1);
        assert_eq!(
            PrekeyUpload::decode(&longer),
            Err(Error::Decode(DecodeError::TrailingBytes))
        );
        // A broken signature and a trailing byte: the malformed input is reported first.
        let last = bytes.len() - 1;
        longer[last] ^= 1;
        assert_eq!(
            PrekeyUpload::decode(&longer),
            Err(Error::Decode(DecodeError::TrailingBytes))
        );
        assert_eq!(
            PrekeyUpload::decode(&longer[..bytes.len()]),
            Err(Error::Key(KeyError::BadSignature))
        );
    }
}
