//! Processing an arbitrary initial message: `Envelope::parse`, then `Account::initial_sender`
//! and `Account::accept_initial` on a fixed responder account. The input is raw bytes or a
//! valid initial envelope with bytes flipped, cut or appended. Only an untouched valid
//! envelope may be accepted, to its plaintext; any failure leaves the account unchanged
//! (no prekey consumed, nothing recorded).
#![no_main]

use hemlis::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fixture = hemlis_fuzz::account_fixture();
    let envelope = hemlis_fuzz::mutate(data, &fixture.envelopes);
    let mut account = hemlis_fuzz::restore_account(&fixture.state);
    let Ok(parsed) = Envelope::parse(&envelope, hemlis_fuzz::limits().max_padded_len()) else {
        return;
    };
    let sender = account.initial_sender(&parsed);
    let mut rng = hemlis_test::rng::rng(7);
    match account.accept_initial(&parsed, &mut rng) {
        Ok((session, plaintext)) => {
            let expected = fixture.plaintext_of(&envelope);
            assert_eq!(
                Some(plaintext.as_slice()),
                expected,
                "an envelope nobody sent was accepted"
            );
            assert_eq!(sender.as_ref().ok(), Some(session.remote_identity()));
        }
        Err(_) => {
            let after = account.to_bytes().expect("state");
            assert!(
                after.as_slice() == fixture.state.as_slice(),
                "a failed initial message changed the account"
            );
        }
    }
});
