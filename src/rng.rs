//! Randomness for callers (docs/PROTOCOL.md, section 2.3): the core takes any
//! `rand_core::CryptoRng`, so tests pass a seeded generator and apps this one.

/// The operating system's CSPRNG (`getrandom`) as an infallible `CryptoRng`.
///
/// A failing OS generator is unrecoverable for a cryptographic library: this aborts the
/// call with a panic inside `rand_core::UnwrapErr` rather than return weak randomness.
pub type OsRng = rand_core::UnwrapErr<getrandom::SysRng>;

/// A handle to the operating system's CSPRNG.
pub fn os_rng() -> OsRng {
    rand_core::UnwrapErr(getrandom::SysRng)
}
