//! [`RelayCore`]: a relay's state for relays written in the foreign language (tests,
//! demonstrations). Assembling a bundle from a device's upload needs the prekey decoding
//! and signature checks of this crate; a foreign relay delegates that here and may keep
//! the mailboxes itself.

use std::sync::{Mutex, MutexGuard};

use super::{DeviceAddress, IncomingEnvelope, TransportFailure};
use hemlis::transport::RelayState;

/// A relay's prekey stock and mailboxes, in memory (`hemlis::transport::RelayState`).
#[derive(Debug, Default, uniffi::Object)]
pub struct RelayCore {
    state: Mutex<RelayState>,
}

impl RelayCore {
    fn state(&self) -> Result<MutexGuard<'_, RelayState>, TransportFailure> {
        self.state.lock().map_err(|_| TransportFailure::Unavailable {
            reason: "relay state poisoned".into(),
        })
    }
}

#[uniffi::export]
impl RelayCore {
    /// An empty relay.
    #[uniffi::constructor]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a device's prekey upload (decoded and verified; refused if malformed).
    pub fn publish(&self, device: DeviceAddress, upload: Vec<u8>) -> Result<(), TransportFailure> {
        Ok(self.state()?.publish(&device.to_address()?, &upload)?)
    }

    /// The device ids of a user that published prekeys (for the relay's own bookkeeping:
    /// clients send to the devices of the user's signed device list, not to these).
    pub fn devices(&self, user: String) -> Result<Vec<u32>, TransportFailure> {
        Ok(self.state()?.devices(&user))
    }

    /// Stores a user's signed device list: it must decode, verify, be for `user`, and be
    /// newer than the one held under the same account key (`Rejected` otherwise). Clients
    /// do not rely on these checks; they check every list themselves.
    pub fn publish_device_list(&self, user: String, list: Vec<u8>) -> Result<(), TransportFailure> {
        Ok(self.state()?.publish_device_list(&user, &list)?)
    }

    /// The newest device list held for a user; `NotFound` if none.
    pub fn fetch_device_list(&self, user: String) -> Result<Vec<u8>, TransportFailure> {
        Ok(self.state()?.fetch_device_list(&user)?)
    }

    /// Hands out a bundle, consuming one one-time prekey of each kind if any are left.
    pub fn fetch_bundle(&self, device: DeviceAddress) -> Result<Vec<u8>, TransportFailure> {
        Ok(self.state()?.fetch_bundle(&device.to_address()?)?)
    }

    /// Queues an envelope for a device that published prekeys.
    pub fn send(
        &self,
        sender: DeviceAddress,
        recipient: DeviceAddress,
        envelope: Vec<u8>,
    ) -> Result<(), TransportFailure> {
        Ok(self
            .state()?
            .send(&sender.to_address()?, &recipient.to_address()?, &envelope)?)
    }

    /// The envelopes waiting for a device, oldest first.
    pub fn fetch(&self, device: DeviceAddress) -> Result<Vec<IncomingEnvelope>, TransportFailure> {
        Ok(self
            .state()?
            .fetch(&device.to_address()?)
            .into_iter()
            .map(|i| IncomingEnvelope {
                id: i.id,
                sender: (&i.from).into(),
                envelope: i.envelope,
            })
            .collect())
    }

    /// Deletes delivered envelopes.
    pub fn ack(&self, device: DeviceAddress, ids: Vec<u64>) -> Result<(), TransportFailure> {
        self.state()?.ack(&device.to_address()?, &ids);
        Ok(())
    }
}
