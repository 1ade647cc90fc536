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
use crate::wire::VERSION;
use crate::wire::reader::Reader;
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

    /// Encodes the upload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            1500 + 36 * self.one_time.len() + (KEM_PUBLIC_LEN + 68) * self.one_time_kem.len(),
        );
        out.push(VERSION);
        out.extend_from_slice(self.identity.as_bytes());
        out.extend_from_slice(&self.signed_prekey.id.to_be_bytes());
        out.extend_from_slice(&self.signed_prekey.key);
        out.extend_from_slice(&self.signed_prekey.signature);
        let put_kem = |out: &mut Vec<u8>, kem: &KemPrekeyPublic| {
            out.extend_from_slice(&kem.id.to_be_bytes());
            out.extend_from_slice(&kem.key);
            out.extend_from_slice(&kem.signature);
        };
        put_kem(&mut out, &self.last_resort_kem);
        out.extend_from_slice(&(self.one_time.len() as u16).to_be_bytes());
        for otp in &self.one_time {
            out.extend_from_slice(&otp.id.to_be_bytes());
            out.extend_from_slice(&otp.key);
        }
        out.extend_from_slice(&(self.one_time_kem.len() as u16).to_be_bytes());
        for kem in &self.one_time_kem {
            put_kem(&mut out, kem);
        }
        out
    }

    /// Decodes an upload strictly and verifies every key and signature.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
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
        let read_kem = |r: &mut Reader<'_>, one_time: bool| -> Result<KemPrekeyPublic> {
            Ok(KemPrekeyPublic {
                id: r.u32()?,
                one_time,
                key: r.bytes(KEM_PUBLIC_LEN)?.to_vec(),
                signature: r.array()?,
            })
        };
        let last_resort_kem = read_kem(&mut r, false)?;
        let count = |r: &mut Reader<'_>| -> Result<usize> {
            let n = usize::from(u16::from_be_bytes(r.array()?));
            if n > Self::MAX_ONE_TIME {
                return Err(DecodeError::Oversize.into());
            }
            Ok(n)
        };
        let n = count(&mut r)?;
        let mut one_time = Vec::with_capacity(n);
        for _ in 0..n {
            one_time.push(OneTimePrekeyPublic {
                id: r.u32()?,
                key: r.array()?,
            });
        }
        let m = count(&mut r)?;
        let mut one_time_kem = Vec::with_capacity(m);
        for _ in 0..m {
            one_time_kem.push(read_kem(&mut r, true)?);
        }
        r.finish().map_err(Error::from)?;
        let upload = Self {
            identity,
            signed_prekey,
            last_resort_kem,
            one_time,
            one_time_kem,
        };
        // A bundle with each piece checks every key and signature once.
        upload.bundle(None, None)?;
        for otp in &upload.one_time {
            upload.bundle(Some(*otp), None)?;
        }
        for kem in &upload.one_time_kem {
            kem.verify(&upload.identity)?;
        }
        Ok(upload)
    }
}
