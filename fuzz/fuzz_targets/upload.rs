//! Prekey upload decoding and verification (docs/PROTOCOL.md, section 12.1):
//! `PrekeyUpload::decode` on arbitrary bytes returns an error or a verified upload that
//! encodes back to the same bytes, never panics.
#![no_main]

use hemlis::transport::PrekeyUpload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(upload) = PrekeyUpload::decode(data) {
        assert_eq!(upload.encode(), data, "a strict decoder round-trips");
    }
});
