#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(unreachable_pub, unused_qualifications, rust_2018_idioms)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod account;
mod address;
mod client;
mod crypto;
mod device;
mod error;
mod handshake;
mod limits;
mod rng;
mod session;
mod state;
pub mod store;
pub mod transport;
pub mod wire;

pub use account::{DeviceList, LinkCode};
pub use address::Address;
pub use client::{AsyncClient, AsyncClientParts, Client, ClientParts};
pub use crypto::keys::{IdentityKey, IdentityKeyPair};
pub use device::{
    ClientConfig, ClientError, Clock, Device, ListChange, ListUpload, Lookup, Lookups, ReceiveReport,
    Received, RejectReason, Rejection, SafetyNumber, SystemClock, Transmit, Upload, ValidConfig,
    safety_number,
};
pub use error::{
    DecodeError, DecryptError, Error, HandshakeError, InternalError, KeyError, MisuseError, Result,
    StateError,
};
pub use handshake::{
    Account, AccountChange, KemPrekeyPublic, OneTimePrekeyPublic, PrekeyBundle, SignedPrekeyPublic,
};
pub use limits::Limits;
pub use rand_core;
pub use rng::{DefaultRng, FastRng, OsRng, fast_rng, os_rng};
pub use session::{Decrypted, PeerSessions, Session, Staged};
pub use store::{backend::Store, memory::MemoryStore, sqlite::SqliteStore};
pub use transport::{asynchronous::AsyncTransport, blocking::Transport, memory::InMemoryRelay};
pub use wire::envelope::Envelope;

/// Known-answer access to the key derivations, for the test suite and interoperability
/// checks: behind the `kat` feature, and not part of the stable API.
#[cfg(feature = "kat")]
pub mod kat;
