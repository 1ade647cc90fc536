//! The one bounds-checked reader every decoder reads from (docs/PROTOCOL.md, section 1:
//! integers are big-endian; sections 4, 5, 6.1 and 12: every length is fixed or bounded).

use crate::error::DecodeError;

/// Reads fields front to back from a byte slice; every read checks the remaining length
/// first and fails with [`DecodeError::Truncated`] instead of reading past the end.
///
/// A `Reader` never allocates and never panics: it hands out integers, fixed-size arrays
/// and sub-slices that borrow from the input. A decoder that allocates for a count read
/// from the input checks the count against its limit (or with [`Reader::check_room`]
/// against the bytes left) before allocating.
///
/// # Example
///
/// ```
/// use hemlis::DecodeError;
/// use hemlis::wire::Reader;
///
/// let mut r = Reader::new(&[1, 0, 0, 0, 7, 0xaa]);
/// assert_eq!(r.flag(), Ok(true));
/// assert_eq!(r.u32(), Ok(7));
/// assert_eq!(r.remaining(), 1);
/// assert_eq!(r.u32(), Err(DecodeError::Truncated));
/// assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if fewer than `n` bytes are left (nothing is consumed).
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if fewer than `N` bytes are left.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// One byte.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] at the end of the input.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let [byte] = self.array()?;
        Ok(byte)
    }

    /// A big-endian `u16`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if fewer than 2 bytes are left.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if fewer than 4 bytes are left.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if fewer than 8 bytes are left.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A flag byte: 0 is false, 1 is true.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] at the end of the input, [`DecodeError::InvalidFlag`] for
    /// any other byte.
    pub fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidFlag),
        }
    }

    /// Checks, before anything is allocated for them, that the bytes left can hold `count`
    /// items of at least `min_item_len` bytes each.
    ///
    /// # Errors
    ///
    /// [`DecodeError::Truncated`] if they cannot.
    pub fn check_room(&self, count: usize, min_item_len: usize) -> Result<(), DecodeError> {
        match count.checked_mul(min_item_len) {
            Some(needed) if needed <= self.remaining() => Ok(()),
            _ => Err(DecodeError::Truncated),
        }
    }

    /// Everything not read yet (for a field that runs to the end of its input).
    pub fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }

    /// Succeeds only if every byte was read.
    ///
    /// # Errors
    ///
    /// [`DecodeError::TrailingBytes`] if any byte is left.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}
