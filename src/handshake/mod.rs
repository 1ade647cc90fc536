//! X3DH with a hidden initiator (docs/PROTOCOL.md, sections 3.1 and 5.1): prekeys, the
//! signed bundle, the key agreement and the device account that answers initial messages.

mod account;
mod bundle;
mod prekeys;
pub(crate) mod x3dh;

pub use account::Account;
pub use bundle::PrekeyBundle;
pub use prekeys::{OneTimePrekeyPublic, SignedPrekeyPublic};
