//! Decrypting arbitrary bytes on an established session (`Session::decrypt`), after a
//! fixed handshake from a seeded RNG. The input is either raw envelope bytes (first byte
//! even) or one of the session's valid envelopes with bytes flipped, cut or appended. Only
//! an untouched valid envelope may decrypt, to its plaintext; any failure leaves the
//! session's state unchanged.
#![no_main]

use hemlis::Session;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fixture = hemlis_fuzz::session_fixture();
    let envelope = hemlis_fuzz::mutate(data, &fixture.envelopes);
    let mut session = Session::from_bytes(&fixture.state, hemlis_fuzz::limits()).expect("fixture restores");
    let mut rng = hemlis_test::rng::rng(u64::from(data.first().copied().unwrap_or(0)));
    match session.decrypt(&envelope, &mut rng) {
        Ok(plaintext) => {
            let expected = fixture.plaintext_of(&envelope);
            assert_eq!(
                Some(plaintext.as_slice()),
                expected,
                "an envelope nobody sent decrypted"
            );
        }
        Err(_) => {
            let after = session.to_bytes().expect("state");
            assert!(
                after.as_slice() == fixture.state.as_slice(),
                "a failed decryption changed the state"
            );
        }
    }
});
