//! Foreign-language bindings with UniFFI (Kotlin, Swift, Python), behind the `ffi` feature;
//! see docs/MOBILE.md.
//!
//! What is exported:
//!
//! - [`HemlisClient`](client::HemlisClient): one device, a [`Client`](crate::Client) on an encrypted SQLite file,
//!   the system clock and the operating system's randomness;
//! - [`FfiTransport`]: the networking the app implements in its own language (a foreign
//!   trait), adapted to [`Transport`](crate::Transport) inside Rust;
//! - [`RelayCore`](relay::RelayCore): the prekey and mailbox logic of a relay, for tests and demonstration
//!   relays written in the foreign language (a real server does this itself);
//! - [`HemlisError`] and [`TransportFailure`], which become exceptions.
//!
//! # Why this module allows unsafe code
//!
//! The crate denies `unsafe_code`. UniFFI's scaffolding is `extern "C"` functions with
//! `#[unsafe(no_mangle)]` that the foreign side calls with raw pointers, buffers and
//! handles: unsafe by nature. The `uniffi` macros generate all of it in this module
//! (`setup_scaffolding!` is called here, not at the crate root), and this module alone
//! allows it. (Today's rustc does not report the lint on code that an external macro
//! generates, so the allow is a statement of intent as much as a need; it keeps the build
//! working if that changes, without loosening any other module.) The code written in this
//! module contains no `unsafe` block: it only converts types and calls the safe Rust API.
//!
//! # No panic crosses the boundary
//!
//! Nothing here unwraps. The client sits behind a mutex; a poisoned mutex (a panic in an
//! earlier call, which UniFFI catches and reports) becomes [`HemlisError::Internal`] and
//! never a second panic. UniFFI itself also catches any panic at the boundary.
#![allow(unsafe_code)]

mod client;
mod error;
mod relay;
mod transport;

pub use error::{HemlisError, TransportFailure};
pub use transport::{DeviceAddress, FfiTransport, IncomingEnvelope};

// The scaffolding: the `UniFfiTag` every exported type is converted through, the buffer
// functions the foreign side calls, and the metadata the bindings are generated from.
uniffi::setup_scaffolding!("hemlis");

#[cfg(test)]
mod tests;
