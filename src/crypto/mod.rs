//! Thin typed wrappers over the primitives hemlis uses (docs/PROTOCOL.md, section 2).
//!
//! Nothing here does I/O. Every secret is zeroized on drop and prints as `<redacted>`.

pub(crate) mod aead;
pub(crate) mod kdf;
pub(crate) mod kem;
pub(crate) mod keys;
pub(crate) mod secret;
