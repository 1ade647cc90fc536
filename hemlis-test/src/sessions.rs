//! Copies of live sessions. `Session` and `PeerSessions` are not meant to be duplicated
//! (a copy reuses message keys); a test that needs the state of a session twice, to try
//! something on one copy and keep the other, copies it through its serialization, which
//! restores exactly the state a clone would hold.

use hemlis::{Limits, PeerSessions, Session};

/// A copy of `session`, restored under the limits it checks.
pub fn copy_session(session: &Session) -> Session {
    let bytes = session.to_bytes().expect("a live session serializes");
    Session::from_bytes(&bytes, *session.limits()).expect("a serialized session restores")
}

/// A copy of `peer`, restored under `limits` (the limits it was made with).
pub fn copy_peer(peer: &PeerSessions, limits: Limits) -> PeerSessions {
    let bytes = peer.to_bytes().expect("live sessions serialize");
    PeerSessions::from_bytes(&bytes, limits).expect("serialized sessions restore")
}
