//! The app's transport in its own language ([`FfiTransport`]) and its adapter to
//! [`Transport`].

use std::sync::Arc;

use super::TransportFailure;
use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, Transport};

/// A device: a user id and a device number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct DeviceAddress {
    /// The user id, 1 to 128 bytes of UTF-8.
    pub user: String,
    /// The device number within the user.
    pub device: u32,
}

impl From<&Address> for DeviceAddress {
    fn from(a: &Address) -> Self {
        Self {
            user: a.user().to_owned(),
            device: a.device(),
        }
    }
}

impl DeviceAddress {
    /// The address, checked: a user id that is empty or longer than 128 bytes is refused.
    pub(crate) fn to_address(&self) -> Result<Address, TransportFailure> {
        Address::new(self.user.clone(), self.device).ok_or_else(|| TransportFailure::Rejected {
            reason: "invalid user id (1 to 128 bytes of UTF-8)".into(),
        })
    }
}

/// An envelope waiting at the relay.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IncomingEnvelope {
    /// The relay's id for it, to acknowledge.
    pub id: u64,
    /// The sender device, as the relay claims it (checked against the sealed sender).
    pub sender: DeviceAddress,
    /// The envelope bytes.
    pub envelope: Vec<u8>,
}

/// The networking the app implements in its own language (see `hemlis::Transport` for
/// the contract of each call). Calls come from whichever thread calls the client.
#[uniffi::export(foreign)]
pub trait FfiTransport: Send + Sync {
    /// Publishes this device's prekey upload (opaque bytes for the relay's prekey logic).
    fn publish(&self, device: DeviceAddress, upload: Vec<u8>) -> Result<(), TransportFailure>;
    /// Publishes this user's signed device list (opaque bytes), replacing the one the relay
    /// holds. The relay is not trusted with it: clients check the signature and never take
    /// an older version.
    fn publish_device_list(&self, user: String, list: Vec<u8>) -> Result<(), TransportFailure>;
    /// The newest device list the relay holds for a user; `TransportFailure.NotFound` if
    /// none.
    fn fetch_device_list(&self, user: String) -> Result<Vec<u8>, TransportFailure>;
    /// A prekey bundle of a device; each one-time prekey is handed out once.
    fn fetch_bundle(&self, device: DeviceAddress) -> Result<Vec<u8>, TransportFailure>;
    /// Queues an envelope for a device.
    fn send(
        &self,
        sender: DeviceAddress,
        recipient: DeviceAddress,
        envelope: Vec<u8>,
    ) -> Result<(), TransportFailure>;
    /// The envelopes waiting for this device, oldest first.
    fn fetch(&self, device: DeviceAddress) -> Result<Vec<IncomingEnvelope>, TransportFailure>;
    /// Deletes delivered envelopes at the relay.
    fn ack(&self, device: DeviceAddress, ids: Vec<u64>) -> Result<(), TransportFailure>;
}

/// [`FfiTransport`] as a [`Transport`].
pub(crate) struct ForeignTransport(pub(crate) Arc<dyn FfiTransport>);

impl Transport for ForeignTransport {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.publish(device.into(), upload.to_vec())?)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.publish_device_list(user.to_owned(), list.to_vec())?)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.fetch_device_list(user.to_owned())?)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.fetch_bundle(device.into())?)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        Ok(self.0.send(from.into(), to.into(), envelope.to_vec())?)
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let (incoming, invalid) = split_incoming(self.0.fetch(device.into())?);
        if !invalid.is_empty() {
            self.0.ack(device.into(), invalid)?;
        }
        Ok(incoming)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        Ok(self.0.ack(device.into(), ids.to_vec())?)
    }
}

/// The envelopes a foreign relay handed over, and the ids of those whose sender address is
/// invalid. No device has such an address, so no message can come from it: the relay
/// broke its protocol, and the client acknowledges them so they cannot block the mailbox.
pub(crate) fn split_incoming(envelopes: Vec<IncomingEnvelope>) -> (Vec<Incoming>, Vec<u64>) {
    let mut incoming = Vec::with_capacity(envelopes.len());
    let mut invalid = Vec::new();
    for i in envelopes {
        match i.sender.to_address() {
            Ok(from) => incoming.push(Incoming {
                id: i.id,
                from,
                envelope: i.envelope,
            }),
            Err(_) => invalid.push(i.id),
        }
    }
    (incoming, invalid)
}
