//! PQXDH (X3DH with ML-KEM-768) with a hidden initiator (docs/PROTOCOL.md, sections 3.1 and 5.1): prekeys, the
//! signed bundle, the key agreement and the device account that answers initial messages.

mod account;
mod bundle;
pub(crate) mod pqxdh;
mod prekeys;

pub use account::{Account, AccountChange};
pub use bundle::PrekeyBundle;
pub use prekeys::{KemPrekeyPublic, OneTimePrekeyPublic, SignedPrekeyPublic};
