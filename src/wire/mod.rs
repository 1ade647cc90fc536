//! The wire format (docs/PROTOCOL.md, sections 4 to 6): strict, versioned codecs for the
//! prekey bundle, the two envelope kinds, the encrypted header and the padding.
//!
//! This layer is syntax only: it checks lengths, versions, flags and buckets, and leaves
//! keys and signatures to `handshake` and `session`.
//!
//! Every format has one shape, [`Codec`], over one bounds-checked [`Reader`]; the formats
//! of the layers above (the prekey upload, the address, the client payload, the TCP relay's
//! frames) implement the same trait.

#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod bundle;
mod codec;
pub(crate) mod envelope;
mod header;
mod padding;
mod reader;

pub use bundle::{BundleFields, KemPrekeyFields};
pub use codec::Codec;
pub(crate) use envelope::Envelope;
pub(crate) use envelope::{
    CLASSICAL_PREFIX_LEN, INITIAL_PREFIX_LEN, SEALED_IDENTITY_LEN, write_initial_prefix,
};
pub use envelope::{EnvelopeKind, InitialPrefix};
pub(crate) use header::{Header, SEALED_HEADER_LEN};
pub use padding::{MIN_PADDED_LEN, padded_len};
pub(crate) use padding::{pad_into, unpad};
pub use reader::Reader;

/// The protocol version this release speaks, first byte of every bundle and envelope.
pub const VERSION: u8 = 1;
