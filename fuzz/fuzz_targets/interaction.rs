//! Two parties driven through a byte-encoded schedule (send, deliver, drop, reorder,
//! duplicate, restart from serialized state), checked against the model of
//! `hemlis_test::interaction`: every first delivery of a message whose chain the receiver
//! still keeps decrypts to its plaintext, every other delivery fails with the predicted
//! error and changes nothing; any violation panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hemlis_test::interaction::run_bytes(data);
});
