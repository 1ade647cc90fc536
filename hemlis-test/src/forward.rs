//! A transport decorator that forwards every call it does not change.
//!
//! A test transport that wraps another (to fail some calls, record what passes, or answer
//! for addresses the relay does not know) implements [`Forward`]: it names its inner
//! transport and overrides only the calls it changes; every other call goes to the inner
//! transport unchanged, including the ones `Transport` may gain later. [`Forwarding`] makes
//! such a wrapper a [`Transport`].
//!
//! ```
//! use hemlis::transport::TransportError;
//! use hemlis::{Address, InMemoryRelay, Transport};
//! use hemlis_test::forward::{Forward, Forwarding};
//!
//! /// The relay, except that nothing can be sent.
//! struct NoSends(InMemoryRelay);
//!
//! impl Forward for NoSends {
//!     fn inner(&self) -> &dyn Transport {
//!         &self.0
//!     }
//!     fn send(&self, _: &Address, _: &Address, _: &[u8]) -> Result<(), TransportError> {
//!         Err(TransportError::Rejected("no sends".into()))
//!     }
//! }
//!
//! let transport = Forwarding(NoSends(InMemoryRelay::new()));
//! let alice = Address::new("alice", 1).unwrap();
//! assert!(transport.send(&alice, &alice, b"hi").is_err());
//! assert!(transport.fetch_device_list("bob").is_err());
//! ```

use std::ops::Deref;
use std::sync::Arc;

use hemlis::transport::{Incoming, TransportError};
use hemlis::{Address, Transport};

/// A wrapper over an inner transport. Every method forwards to [`Forward::inner`] unless
/// the wrapper overrides it.
pub trait Forward: Send + Sync {
    /// The transport the calls go to.
    fn inner(&self) -> &dyn Transport;

    /// [`Transport::publish`].
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.inner().publish(device, upload)
    }
    /// [`Transport::publish_device_list`].
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.inner().publish_device_list(user, list)
    }
    /// [`Transport::fetch_device_list`].
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        self.inner().fetch_device_list(user)
    }
    /// [`Transport::fetch_bundle`].
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.inner().fetch_bundle(device)
    }
    /// [`Transport::send`].
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.inner().send(from, to, envelope)
    }
    /// [`Transport::fetch`].
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        self.inner().fetch(device)
    }
    /// [`Transport::ack`].
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        self.inner().ack(device, ids)
    }
}

/// A shared wrapper: every call, overridden or not, goes to the wrapper behind the `Arc`, so
/// a test can keep a handle on it (to switch it) while a client owns the transport.
impl<F: Forward + ?Sized> Forward for Arc<F> {
    fn inner(&self) -> &dyn Transport {
        (**self).inner()
    }
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        (**self).publish(device, upload)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        (**self).publish_device_list(user, list)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        (**self).fetch_device_list(user)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        (**self).fetch_bundle(device)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        (**self).send(from, to, envelope)
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        (**self).fetch(device)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        (**self).ack(device, ids)
    }
}

/// A [`Forward`] wrapper as a [`Transport`]; it dereferences to the wrapper.
pub struct Forwarding<F>(pub F);

impl<F: Forward> Transport for Forwarding<F> {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        self.0.publish(device, upload)
    }
    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        self.0.publish_device_list(user, list)
    }
    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        self.0.fetch_device_list(user)
    }
    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.0.fetch_bundle(device)
    }
    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        self.0.send(from, to, envelope)
    }
    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        self.0.fetch(device)
    }
    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        self.0.ack(device, ids)
    }
}

impl<F> Deref for Forwarding<F> {
    type Target = F;

    fn deref(&self) -> &F {
        &self.0
    }
}
