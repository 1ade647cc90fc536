//! Plaintext padding (docs/PROTOCOL.md, section 6.3).
//!
//! The plaintext is followed by one `0x80` byte and zero bytes up to a bucket length. The
//! smallest bucket is 192 bytes, so every plaintext of 0 to 191 bytes yields the same
//! envelope size; above it the buckets follow Padmé (Nikitin et al., 2019), which leaks
//! O(log log n) bits of the length at an overhead of at most 12%.

use zeroize::Zeroizing;

use crate::error::DecryptError;
use crate::error::Error;

/// The smallest padded length; all plaintexts of 0 to `MIN_PADDED_LEN - 1` bytes share it.
pub const MIN_PADDED_LEN: usize = 192;

/// The padded length of a `plaintext_len`-byte plaintext.
pub fn padded_len(plaintext_len: usize) -> usize {
    padme(plaintext_len.saturating_add(1).max(MIN_PADDED_LEN))
}

/// Padmé: keep the top `floor(log2 e) + 1` bits of `l`, where `e = floor(log2 l)`, rounding up.
fn padme(l: usize) -> usize {
    let e = usize::BITS - 1 - l.leading_zeros();
    let s = u32::BITS - e.leading_zeros();
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    l.saturating_add(mask) & !mask
}

/// True when `len` is a length `padded_len` can return.
pub(crate) fn is_bucket(len: usize) -> bool {
    len >= MIN_PADDED_LEN && padme(len) == len
}

/// Appends `plaintext` and its padding to `out` (to be encrypted in place).
pub(crate) fn pad_into(out: &mut Vec<u8>, plaintext: &[u8]) {
    let end = out.len() + padded_len(plaintext.len());
    out.extend_from_slice(plaintext);
    out.push(0x80);
    out.resize(end, 0);
}

/// Removes the padding, checking that it is exactly `0x80` followed by zero bytes.
pub(crate) fn unpad(mut padded: Zeroizing<Vec<u8>>) -> Result<Vec<u8>, Error> {
    let Some(marker) = padded.iter().rposition(|&b| b != 0) else {
        return Err(Error::Decrypt(DecryptError::InvalidPadding));
    };
    if padded.get(marker) != Some(&0x80) {
        return Err(Error::Decrypt(DecryptError::InvalidPadding));
    }
    padded.truncate(marker);
    Ok(core::mem::take(&mut *padded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_plaintexts_share_one_bucket() {
        for len in 0..MIN_PADDED_LEN {
            assert_eq!(padded_len(len), MIN_PADDED_LEN);
        }
        assert!(padded_len(MIN_PADDED_LEN) > MIN_PADDED_LEN);
    }

    #[test]
    fn buckets_are_monotonic_with_bounded_overhead() {
        let mut last = 0;
        for len in 0..70_000 {
            let p = padded_len(len);
            assert!(p > len && p >= last && is_bucket(p));
            assert!(len < MIN_PADDED_LEN || (p as f64) <= (len as f64 + 1.0) * 1.12 + 1.0);
            last = p;
        }
    }

    #[test]
    fn pad_round_trips_and_rejects_bad_padding() {
        for len in [0usize, 1, 191, 192, 1000] {
            let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut padded = Zeroizing::new(vec![7u8; 3]);
            pad_into(&mut padded, &pt);
            assert_eq!(padded.drain(..3).collect::<Vec<u8>>(), [7u8; 3]);
            assert_eq!(padded.len(), padded_len(len));
            assert_eq!(unpad(padded).ok(), Some(pt));
        }
        assert_eq!(
            unpad(Zeroizing::new(vec![0; 192])),
            Err(Error::Decrypt(DecryptError::InvalidPadding))
        );
        let mut bad = vec![0u8; 192];
        bad[3] = 0x81;
        assert_eq!(
            unpad(Zeroizing::new(bad)),
            Err(Error::Decrypt(DecryptError::InvalidPadding))
        );
    }
}
