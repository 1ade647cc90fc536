//! The drivers (docs/ARCHITECTURE.md, section 3): [`Client`] runs a [`Device`] over a
//! blocking [`Transport`], [`AsyncClient`] over an [`AsyncTransport`]. Each is a loop that
//! asks the device what to do, does it on the network, and reports back; all the logic is
//! in the device.
//!
//! Every operation is one store transaction: `send` commits the ratchet step and the
//! envelope to the outbox before the transport sees it; `receive` commits the ratchet step
//! and the plaintext to the inbox before the envelope is acknowledged. A crash at any
//! instant loses nothing; an envelope delivered again is recognised by the ratchet (its key
//! is gone) and acknowledged without a second delivery.

mod asynchronous;
mod blocking;

pub use asynchronous::{AsyncClient, AsyncClientParts};
pub use blocking::{Client, ClientParts};

use crate::device::{ClientConfig, ClientError, Clock, Device, ReceiveReport, Received, SafetyNumber};
use crate::transport::{AsyncTransport, Transport};
