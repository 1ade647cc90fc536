//! Bundle decoding and verification (docs/PROTOCOL.md, section 4.2): `PrekeyBundle::decode`
//! on arbitrary bytes returns an error or a verified bundle that encodes back to the same
//! bytes (the decoder is strict), never panics.
#![no_main]

use hemlis::PrekeyBundle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = PrekeyBundle::decode(data) {
        assert_eq!(bundle.encode(), data, "a strict decoder round-trips");
        assert_eq!(bundle.is_post_quantum(), bundle.kem_prekey().is_some());
    }
});
