//! The envelope and client payload layout (docs/PROTOCOL.md, sections 5 and 12.2), for
//! tests that read or edit envelope bytes.

/// Envelope bytes before the padded body in a message envelope: version, kind, sealed
/// header (80), body nonce (24), plus the body tag (16).
pub const MESSAGE_OVERHEAD: usize = 2 + 80 + 24 + 16;
/// The same for a post-quantum initial envelope (prefix of 1,208 bytes).
pub const INITIAL_OVERHEAD: usize = 1208 + 80 + 24 + 16;

/// Where the message part (sealed header) starts: 2 for a message envelope, 1,208 (or 120
/// when classical) for an initial one.
pub fn header_offset(envelope: &[u8]) -> usize {
    match envelope[1] {
        2 => 2,
        1 if envelope[11] == 1 => 1208,
        1 => 120,
        kind => panic!("unknown envelope kind {kind}"),
    }
}

/// The header nonce (first 24 bytes of the sealed header) and the body nonce.
pub fn nonces(envelope: &[u8]) -> ([u8; 24], [u8; 24]) {
    let h = header_offset(envelope);
    let header: [u8; 24] = envelope[h..h + 24].try_into().expect("24 bytes");
    let body: [u8; 24] = envelope[h + 80..h + 104].try_into().expect("24 bytes");
    (header, body)
}

/// The client payload length of a body from `user` (docs/PROTOCOL.md, section 12.2).
pub fn payload_len(user: &str, body_len: usize) -> usize {
    1 + 1 + user.len() + 4 + 8 + body_len
}

/// The client payload (docs/PROTOCOL.md, section 12.2) of a message from `from` sent at
/// `time`: version 1, the sender address, the time and the body.
pub fn client_payload(from: &hemlis::Address, time: u64, body: &[u8]) -> Vec<u8> {
    let mut out = vec![1u8];
    out.extend_from_slice(&from.encode());
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(body);
    out
}
