//! Envelope decoding (docs/PROTOCOL.md, section 5): `Envelope::parse` on arbitrary bytes
//! must return an error or an envelope whose accessors agree with the bytes, never panic.
#![no_main]

use hemlis::Envelope;
use hemlis::wire::EnvelopeKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = hemlis_fuzz::limits();
    if let Ok(envelope) = Envelope::parse(data, limits.max_padded_len()) {
        assert_eq!(envelope.as_bytes(), data);
        match envelope.kind() {
            EnvelopeKind::Initial => assert!(envelope.initial().is_some()),
            _ => assert!(envelope.initial().is_none()),
        }
    }
    // A small limit must refuse at least what the default one refuses.
    if Envelope::parse(data, limits.max_padded_len()).is_err() {
        assert!(Envelope::parse(data, 256).is_err());
    }
});
