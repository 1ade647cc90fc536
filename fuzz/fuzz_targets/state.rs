//! Session-state deserialization (docs/PROTOCOL.md, section 9): `Session::from_bytes`,
//! `Account::from_bytes` and `PeerSessions::from_bytes` on arbitrary bytes return an error
//! or a state that serializes to a fixed point and can be used (encrypt, build a bundle)
//! without panicking.
#![no_main]

use hemlis::{Account, PeerSessions, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = hemlis_fuzz::limits();
    let mut rng = hemlis_test::rng::rng(3);
    if let Ok(mut session) = Session::from_bytes(data, limits) {
        let bytes = session.to_bytes().expect("a restored session serializes");
        let again = Session::from_bytes(&bytes, limits).expect("its own bytes restore");
        assert!(again.to_bytes().expect("serializes").as_slice() == bytes.as_slice());
        let _ = session.encrypt(b"probe", &mut rng);
    }
    if let Ok(mut account) = Account::from_bytes(data, limits) {
        let bytes = account.to_bytes().expect("a restored account serializes");
        let again = Account::from_bytes(&bytes, limits).expect("its own bytes restore");
        assert!(again.to_bytes().expect("serializes").as_slice() == bytes.as_slice());
        let _ = account.prekey_bundle(None, None);
        let _ = account.generate_one_time_prekeys(1, &mut rng);
    }
    if let Ok(mut peer) = PeerSessions::from_bytes(data, limits) {
        let bytes = peer.to_bytes().expect("restored sessions serialize");
        let again = PeerSessions::from_bytes(&bytes, limits).expect("their own bytes restore");
        assert!(again.to_bytes().expect("serializes").as_slice() == bytes.as_slice());
        let _ = peer.encrypt(b"probe", &mut rng);
    }
});
