//! Hex strings, as the test vectors and failure messages write bytes.

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (of even length).
pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length {}", s.len());
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The 32 bytes of a 64-digit hex string.
pub fn hex32(s: &str) -> [u8; 32] {
    assert_eq!(s.len(), 64);
    unhex(s).try_into().expect("32 bytes")
}
