//! Accounts (docs/PROTOCOL.md, section 13): the user's account key vouches for each of the
//! user's devices in a signed device list, and new devices join through a link code.
//!
//! No I/O: these are the formats and checks; the [`Device`](crate::Device) keeps the
//! lists it trusts and drives linking.

mod device_list;
mod link;

pub use device_list::DeviceList;
pub use link::LinkCode;
pub(crate) use link::{LinkSecret, confirmation_code};
