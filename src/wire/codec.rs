//! The one shape of every wire format (docs/PROTOCOL.md, sections 4.2, 5, 6.1 and 12;
//! docs/ARCHITECTURE.md, section 9): a type that appends its encoding to a buffer and
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

#[cfg(test)]
mod tests {
    use core::fmt::Debug;

    use super::*;
    use crate::wire::envelope::EnvelopePrefix;
    use crate::wire::{BundleFields, Header, InitialPrefix, KemPrekeyFields};

    /// The contract of [`Codec`] for one value: an exact length, one allocation, a round
    /// trip, and every strict prefix refused.
    fn check<T>(value: &T)
    where
        T: for<'a> Codec<'a, Error = DecodeError> + Debug + PartialEq,
    {
        let bytes = value.to_bytes();
        assert_eq!(bytes.len(), value.encoded_len(), "{value:?}");
        assert_eq!(bytes.capacity(), value.encoded_len(), "{value:?}");
        assert_eq!(T::from_bytes(&bytes).as_ref(), Ok(value));
        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = Reader::new(&longer);
        assert_eq!(T::read(&mut r).as_ref(), Ok(value));
        assert_eq!(r.remaining(), 1);
        for len in 0..bytes.len() {
            assert!(T::from_bytes(bytes.get(..len).unwrap()).is_err(), "{len} bytes");
        }
    }

    fn initial(kem: bool, one_time: bool) -> InitialPrefix {
        InitialPrefix {
            signed_prekey_id: 7,
            one_time_prekey_id: one_time.then_some(9),
            kem: kem.then(|| (8, Box::new([3u8; 1088]))),
            base_key: [4; 32],
            sealed_identity: [5; 72],
        }
    }

    #[test]
    fn every_wire_format_keeps_the_contract() {
        check(&Header {
            ratchet_key: [1; 32],
            previous_chain_len: 2,
            n: u32::MAX,
        });
        for (kem, one_time) in [(false, false), (false, true), (true, false), (true, true)] {
            check(&initial(kem, one_time));
            check(&EnvelopePrefix::Initial(std::borrow::Cow::Owned(initial(
                kem, one_time,
            ))));
            check(&BundleFields {
                identity_key: [1; 32],
                signed_prekey_id: 2,
                signed_prekey: [3; 32],
                signed_prekey_signature: [4; 64],
                kem_prekey: kem.then(|| KemPrekeyFields {
                    id: 5,
                    one_time,
                    key: vec![6; 1184],
                    signature: [7; 64],
                }),
                one_time_prekey: one_time.then_some((8, [9; 32])),
            });
        }
        check(&EnvelopePrefix::Message);
    }

    #[test]
    fn the_envelope_prefix_has_the_bytes_of_section_5() {
        assert_eq!(EnvelopePrefix::Message.to_bytes(), [1, 2]);
        let bytes = EnvelopePrefix::from(Some(&initial(true, false))).to_bytes();
        assert_eq!(bytes.len(), crate::wire::INITIAL_PREFIX_LEN);
        assert_eq!(
            bytes.get(..16),
            Some(&[1, 1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 8][..])
        );
        let classical = EnvelopePrefix::from(Some(&initial(false, true))).to_bytes();
        assert_eq!(classical.len(), crate::wire::CLASSICAL_PREFIX_LEN);
        assert_eq!(
            EnvelopePrefix::from_bytes(&[1, 3]),
            Err(DecodeError::UnknownKind(3))
        );
        assert_eq!(
            EnvelopePrefix::from_bytes(&[2, 2]),
            Err(DecodeError::UnsupportedVersion(2))
        );
        // An id without its flag.
        let mut bad = classical.clone();
        if let Some(flag) = bad.get_mut(6) {
            *flag = 0;
        }
        assert_eq!(EnvelopePrefix::from_bytes(&bad), Err(DecodeError::InvalidFlag));
    }

    #[test]
    fn the_reader_checks_before_it_reads() {
        let mut r = Reader::new(&[0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.bytes(usize::MAX), Err(DecodeError::Truncated));
        assert_eq!(r.position(), 2);
        assert_eq!(r.check_room(7, 1), Ok(()));
        assert_eq!(r.check_room(8, 1), Err(DecodeError::Truncated));
        assert_eq!(r.check_room(usize::MAX, 2), Err(DecodeError::Truncated));
        assert_eq!(r.u64(), Err(DecodeError::Truncated));
        assert_eq!(r.flag(), Err(DecodeError::InvalidFlag));
        assert_eq!(r.rest(), [3, 4, 5, 6, 7, 8]);
        assert_eq!(r.u8(), Err(DecodeError::Truncated));
        assert_eq!(r.finish(), Ok(()));
    }
}
