//! The one harness of hemlis's integration tests (`tests/`, `hemlis-relay/tests/`), benches
//! and fuzz targets (`fuzz/`): the scaffolding exists once, and the scenarios read as
//! stories on top of it.
//!
//! - [`party`]: one device of the core (an `Account` and its `PeerSessions` with the
//!   other party), two of them talking by hand as a relay would;
//! - [`interaction`]: the two-party interaction model: schedules of sends, deliveries,
//!   drops, reorderings, duplicates and restarts, and the outcome of each predicted;
//! - [`sessions`]: copies of sessions (what `Clone` would give, through serialization);
//! - [`rng`] and [`clock`]: deterministic randomness (recording every draw) and time;
//! - [`client`]: the parts of a client under test, addresses, receiving exactly;
//! - [`store`]: a memory store behind a shared handle;
//! - [`faults`]: stores and transports that fail when told to or at random;
//! - [`forward`]: a transport decorator that forwards every call it does not change;
//! - [`envelope`]: the envelope and payload layout the tests read bytes from;
//! - [`keys`]: the forms a drawn secret takes inside the library;
//! - [`search`], [`hex`], [`tempdir`]: byte searches, hex strings, temporary directories.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod clock;
pub mod envelope;
pub mod faults;
pub mod forward;
pub mod hex;
pub mod interaction;
pub mod keys;
pub mod party;
pub mod rng;
pub mod search;
pub mod sessions;
pub mod store;
pub mod tempdir;

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, also after a panic of another holder: a test thread that panicked while
/// holding the lock already failed the test.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
