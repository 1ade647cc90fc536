//! The one shape of every wire format (docs/PROTOCOL.md, sections 4.2, 5, 6.1 and 12;
//! docs/ARCHITECTURE.md, section 8): a type that appends its encoding to a buffer and
//! reads itself from a [`Reader`].

use super::reader::Reader;
use crate::error::DecodeError;

/// A wire format: encodes into a `Vec<u8>` and reads itself strictly from a [`Reader`].
///
/// `'a` is the lifetime of the input a decoded value may borrow from (an envelope borrows
/// its bytes; most formats own theirs and implement `Codec<'_>`).
///
/// Implementations in hemlis: [`BundleFields`](super::BundleFields),
/// [`InitialPrefix`](super::InitialPrefix),
/// [`PrekeyUpload`](crate::transport::PrekeyUpload) and [`Address`](crate::Address), and,
/// inside the crate, the envelope prefix, the message header and the client payload;
/// `hemlis-relay` implements it for its TCP frames.
///
/// # Contract
///
/// - `read` consumes exactly the bytes `encode` wrote, so `from_bytes(&to_bytes(v)) == v`;
///   a strict decoder accepts only what its encoder can write, so the converse holds too.
/// - `read` checks every length against its limit before allocating for it.
/// - `encoded_len` is exact: [`Codec::to_bytes`] allocates it once, so an encoder of
///   secret bytes never leaves a copy behind in a buffer that a reallocation freed.
///
/// # Example
///
/// ```
/// use hemlis::DecodeError;
/// use hemlis::wire::{Codec, Reader};
///
/// /// A counter and a tag, 5 bytes.
/// #[derive(Debug, PartialEq)]
/// struct Tagged(u32, bool);
///
/// impl Codec<'_> for Tagged {
///     type Error = DecodeError;
///     fn encode(&self, bytes: &mut Vec<u8>) {
///         bytes.extend_from_slice(&self.0.to_be_bytes());
///         bytes.push(u8::from(self.1));
///     }
///     fn encoded_len(&self) -> usize {
///         5
///     }
///     fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
///         Ok(Self(r.u32()?, r.flag()?))
///     }
/// }
///
/// let bytes = Tagged(7, true).to_bytes();
/// assert_eq!(bytes, [0, 0, 0, 7, 1]);
/// assert_eq!(Tagged::from_bytes(&bytes), Ok(Tagged(7, true)));
/// assert_eq!(Tagged::from_bytes(&[0, 0, 0, 7, 1, 0]), Err(DecodeError::TrailingBytes));
/// assert_eq!(Tagged::from_bytes(&[0, 0, 0, 7, 2]), Err(DecodeError::InvalidFlag));
/// ```
pub trait Codec<'a>: Sized {
    /// Why a decode failed: [`DecodeError`] for a syntax-only format; a wider error that
    /// wraps it for a format whose decoder checks more (the prekey upload verifies its keys
    /// and signatures and fails with [`crate::Error`]).
    type Error: From<DecodeError>;

    /// Appends the encoding of `self` to `bytes`.
    fn encode(&self, bytes: &mut Vec<u8>);

    /// The exact number of bytes [`Codec::encode`] appends.
    fn encoded_len(&self) -> usize;

    /// Reads one value from the front of `r`, leaving `r` after its last byte.
    ///
    /// # Errors
    ///
    /// The first rule of the format the input breaks; [`DecodeError::Truncated`] if it ends
    /// early.
    fn read(r: &mut Reader<'a>) -> Result<Self, Self::Error>;

    /// The encoding of `self` in a buffer of exactly [`Codec::encoded_len`] bytes.
    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.encode(&mut bytes);
        bytes
    }

    /// Decodes `bytes`, which must hold one value and nothing else.
    ///
    /// # Errors
    ///
    /// Those of [`Codec::read`], then [`DecodeError::TrailingBytes`] if bytes are left.
    fn from_bytes(bytes: &'a [u8]) -> Result<Self, Self::Error> {
        let mut r = Reader::new(bytes);
        let value = Self::read(&mut r)?;
        r.finish()?;
        Ok(value)
    }
}
