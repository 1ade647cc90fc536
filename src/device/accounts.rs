//! The account (docs/PROTOCOL.md, section 13): the device lists this device trusts, its own
//! user's list, linking and unlinking devices.
//!
//! Every user's list is pinned by its account key on first use, and a list is taken only
//! if it is at least as new as the newest seen. All of it lives in one record, the user
//! record, whose generation the counters repeat, so a deleted or rolled-back pin shows.

use rand_core::CryptoRng;

use super::payload::{self, Content};
use super::records::{Counters, OutboxRecord, SigningSeed, USER_KEY, UserRecord};
use super::{ClientError, Device};
use crate::account::{DeviceList, LinkCode, LinkSecret, confirmation_code};
use crate::crypto::keys::IdentityKeyPair;
use crate::store::{Table, Write};
use crate::transport::{Address, Incoming};
use crate::{Envelope, IdentityKey, PeerSessions, PrekeyBundle};

/// What [`Device::handle_device_list`] did with a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListChange {
    /// The list was the newest known already, or is this device's own list while it is
    /// not linked yet (that one arrives by provisioning): nothing changed.
    Unchanged,
    /// The first list seen for this user: its account key is now pinned.
    Pinned,
    /// A newer list under the pinned account key replaced the old one.
    Updated,
    /// A list under another account key than the pinned one: an identity change of the
    /// whole user, waiting for [`Device::accept_account`].
    AccountChanged,
}

/// A signed device list to publish ([`Transport::publish_device_list`](crate::Transport::publish_device_list)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListUpload {
    /// The version, to pass back to [`Device::handle_list_published`].
    pub version: u64,
    /// The encoded list.
    pub bytes: Vec<u8>,
}

impl Device {
    /// True if this device holds its user's account key and can add or remove devices.
    pub fn can_sign(&self) -> bool {
        self.user.signing_seed.is_some()
    }

    /// True if this user's newest device list holds this device with its identity key.
    pub fn is_linked(&self) -> bool {
        self.user
            .own
            .as_ref()
            .and_then(|list| list.identity_of(self.me.device()))
            .is_some_and(|key| key == self.identity_key())
    }

    /// This user's newest device list, once linked.
    pub fn own_device_list(&self) -> Option<&DeviceList> {
        self.user.own.as_ref()
    }

    /// The pinned device list of another user, if one was seen.
    pub fn device_list(&self, user: &str) -> Option<&DeviceList> {
        self.user.contacts.get(user).and_then(|c| c.list.as_ref())
    }

    /// The account key of a user whose key changed and was not accepted yet.
    pub fn pending_account(&self, user: &str) -> Option<&IdentityKey> {
        self.user
            .contacts
            .get(user)
            .and_then(|c| c.pending.as_ref())
            .map(DeviceList::account_key)
    }

    /// Accepts a user's changed account key: its list is pinned and sending is unblocked.
    /// Nothing pending: nothing changes.
    pub fn accept_account<R: CryptoRng + ?Sized>(
        &mut self,
        user: &str,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        let mut next = self.user.clone();
        let Some(contact) = next.contacts.get_mut(user) else {
            return Ok(());
        };
        let Some(pending) = contact.pending.take() else {
            return Ok(());
        };
        contact.list = Some(pending);
        self.commit_user(next, Vec::new(), self.counters.clone(), rng)
    }

    /// Takes the device list the relay gave for `user`
    /// ([`Transport::fetch_device_list`](crate::Transport::fetch_device_list)). It must be
    /// `user`'s (`StaleDeviceList` otherwise: the relay answered with another user's).
    /// The signature must hold (`Protocol(Key(BadSignature))`, or a decode error); a list
    /// older than the newest one seen for the user under the same account key, or of the
    /// same version with other devices, is refused with `StaleDeviceList`; this user's
    /// own list must be under this user's account key (`StaleDeviceList` too). On error
    /// nothing changes.
    pub fn handle_device_list<R: CryptoRng + ?Sized>(
        &mut self,
        user: &str,
        bytes: &[u8],
        rng: &mut R,
    ) -> Result<ListChange, ClientError> {
        let list = DeviceList::decode(bytes)?;
        let user = user.to_owned();
        let stale = || ClientError::StaleDeviceList { user: user.clone() };
        if list.user() != user {
            return Err(stale());
        }
        let mut next = self.user.clone();
        let change = if user == self.me.user() {
            let Some(own) = &next.own else {
                return Ok(ListChange::Unchanged);
            };
            if own.account_key() != list.account_key() {
                return Err(stale());
            }
            match newer(own, &list) {
                None => return Err(stale()),
                Some(false) => return Ok(ListChange::Unchanged),
                Some(true) => {}
            }
            next.own = Some(list);
            ListChange::Updated
        } else {
            let pins_lost = next.pins_lost;
            let contact = next.contacts.entry(user.clone()).or_default();
            match (&contact.list, &contact.pending) {
                (Some(current), _) if current.account_key() == list.account_key() => {
                    match newer(current, &list) {
                        None => return Err(stale()),
                        Some(false) => return Ok(ListChange::Unchanged),
                        Some(true) => contact.list = Some(list),
                    }
                    ListChange::Updated
                }
                (None, None) if !pins_lost => {
                    contact.list = Some(list);
                    ListChange::Pinned
                }
                (_, Some(pending)) if pending.account_key() == list.account_key() => {
                    match newer(pending, &list) {
                        None => return Err(stale()),
                        Some(false) => return Ok(ListChange::AccountChanged),
                        Some(true) => contact.pending = Some(list),
                    }
                    ListChange::AccountChanged
                }
                _ => {
                    contact.pending = Some(list);
                    ListChange::AccountChanged
                }
            }
        };
        self.commit_user(next, Vec::new(), self.counters.clone(), rng)?;
        Ok(change)
    }

    /// The users whose device lists to fetch before [`Device::handle_incoming`] takes
    /// `incoming`: each sender the relay named whose device is in no list this device
    /// holds for that user, or, for an initial message, whose sealed identity key (opened
    /// here, nothing stored) is not the one listed. Changes nothing.
    pub fn lists_needed(&self, incoming: &[Incoming]) -> Vec<String> {
        let mut users: Vec<String> = Vec::new();
        for envelope in incoming {
            let from = &envelope.from;
            let sealed = Envelope::parse(&envelope.envelope, self.config.limits().max_padded_len())
                .ok()
                .and_then(|e| self.account.initial_sender(&e).ok());
            let fits = |list: &DeviceList| match (list.identity_of(from.device()), &sealed) {
                (None, _) => false,
                (Some(listed), Some(sender)) => listed == sender,
                (Some(_), None) => true,
            };
            let known = if from.user() == self.me.user() {
                self.user.own.as_ref().is_none_or(fits)
            } else {
                self.user
                    .contacts
                    .get(from.user())
                    .is_some_and(|c| [&c.list, &c.pending].into_iter().flatten().any(fits))
            };
            if !known && !users.iter().any(|u| u == from.user()) {
                users.push(from.user().to_owned());
            }
        }
        users
    }

    /// This user's device list to publish, while the relay does not have the newest one
    /// this device signed. Changes nothing.
    pub fn poll_device_list(&self) -> Option<ListUpload> {
        if !self.user.publish_list {
            return None;
        }
        let own = self.user.own.as_ref()?;
        Some(ListUpload {
            version: own.version(),
            bytes: own.encode(),
        })
    }

    /// The relay took the list of `version`; once it is the newest, nothing waits.
    pub fn handle_list_published<R: CryptoRng + ?Sized>(
        &mut self,
        version: u64,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        if !self.user.publish_list || self.user.own.as_ref().map(DeviceList::version) != Some(version) {
            return Ok(());
        }
        let mut next = self.user.clone();
        next.publish_list = false;
        self.commit_user(next, Vec::new(), self.counters.clone(), rng)
    }

    /// The link code to show while this device waits to be linked (made by
    /// [`Device::create_linked`]); `None` once linked.
    pub fn link_code(&self) -> Option<LinkCode> {
        let secret = self.user.link_secret.clone()?;
        Some(LinkCode::new(
            self.me.clone(),
            self.identity_key().clone(),
            secret,
        ))
    }

    /// The six-digit confirmation code of the last link: on the device that linked another
    /// (also returned by [`Device::link`]) and on the device linked. Both screens show
    /// the same code unless someone substituted the link.
    pub fn link_confirmation(&self) -> Option<&str> {
        self.user.confirmation.as_deref()
    }

    /// Adds the device of `code` to this user's list and sends it, end-to-end encrypted,
    /// the provisioning message that completes its linking, in one commit. `bundle` is the
    /// new device's prekey bundle from the relay
    /// ([`Transport::fetch_bundle`](crate::Transport::fetch_bundle)); its identity key
    /// must be the code's (else `UnlistedIdentity`: the relay substituted it). Returns the
    /// confirmation code to show. The new list waits in [`Device::poll_device_list`], the
    /// provisioning message in [`Device::poll_transmit`].
    ///
    /// `CannotSign` on a device without the account key; `InvalidLinkCode` for a code of
    /// another user, of this device, or one more device than a list holds.
    pub fn link<R: CryptoRng + ?Sized>(
        &mut self,
        code: &LinkCode,
        bundle: &[u8],
        now: u64,
        rng: &mut R,
    ) -> Result<String, ClientError> {
        let (seed, own) = self.signer()?;
        let to = code.address().clone();
        if to.user() != self.me.user() || to.device() == self.me.device() {
            return Err(ClientError::InvalidLinkCode);
        }
        let bundle = PrekeyBundle::decode(bundle)?;
        if bundle.identity() != code.identity() {
            return Err(ClientError::UnlistedIdentity { address: to });
        }
        let mut devices = own.device_map().clone();
        devices.insert(to.device(), code.identity().clone());
        let account = IdentityKeyPair::from_seed(&seed.0);
        let list = DeviceList::sign(&account, self.me.user(), own.version() + 1, now, devices)
            .ok_or(ClientError::InvalidLinkCode)?;
        let mut sessions = PeerSessions::new(self.config.limits());
        sessions.initiate(self.account.identity(), &bundle, rng)?;
        let list_bytes = list.encode();
        let plaintext = zeroize::Zeroizing::new(payload::encode(
            &self.me,
            now,
            Content::Provision {
                secret: code.secret().clone(),
                list: &list_bytes,
            },
        ));
        let envelope = sessions.encrypt(&plaintext, rng)?;
        let mut record = super::records::PeerRecord::default();
        record.set_sessions(&sessions.to_bytes()?);
        record.pinned = Some(code.identity().to_bytes());
        let confirmation = confirmation_code(
            code.secret(),
            account.public(),
            self.identity_key(),
            code.identity(),
        );
        let mut next = self.user.clone();
        next.own = Some(list);
        next.publish_list = true;
        next.confirmation = Some(confirmation.clone());
        let mut counters = self.counters.clone();
        let id = counters.next_outbox;
        counters.next_outbox += 1;
        let outbox = OutboxRecord {
            to: to.clone(),
            envelope,
        };
        let writes = vec![
            self.sealer.put_value(Table::Peers, to.encode(), &record, rng)?,
            self.sealer
                .put_value(Table::Outbox, id.to_be_bytes().to_vec(), &outbox, rng)?,
        ];
        self.commit_user(next, writes, counters, rng)?;
        if !self.rescan {
            self.queue.push_back(id);
        }
        Ok(confirmation)
    }

    /// Removes device `device` from this user's list, in one commit: the new list waits in
    /// [`Device::poll_device_list`], and its sessions are deleted here. Senders that see
    /// the new list encrypt nothing more to it, and its messages are refused.
    /// `CannotSign` on a device without the account key; `InvalidLinkCode` for this device
    /// itself or the last device; `UnknownPeer` if the list does not hold it.
    pub fn unlink<R: CryptoRng + ?Sized>(
        &mut self,
        device: u32,
        now: u64,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        let (seed, own) = self.signer()?;
        if device == self.me.device() {
            return Err(ClientError::InvalidLinkCode);
        }
        let mut devices = own.device_map().clone();
        if devices.remove(&device).is_none() {
            return Err(ClientError::UnknownPeer);
        }
        let account = IdentityKeyPair::from_seed(&seed.0);
        let list = DeviceList::sign(&account, self.me.user(), own.version() + 1, now, devices)
            .ok_or(ClientError::InvalidLinkCode)?;
        let removed = Address::new(self.me.user(), device).ok_or(ClientError::InvalidAddress)?;
        let mut next = self.user.clone();
        next.own = Some(list);
        next.publish_list = true;
        let writes = vec![Write::Delete {
            table: Table::Peers,
            key: removed.encode(),
        }];
        self.commit_user(next, writes, self.counters.clone(), rng)
    }

    /// The account key seed and the own list, for a device that can sign.
    fn signer(&self) -> Result<(SigningSeed, DeviceList), ClientError> {
        let seed = self.user.signing_seed.clone().ok_or(ClientError::CannotSign)?;
        let own = self.user.own.clone().ok_or(ClientError::NotLinked)?;
        Ok((seed, own))
    }

    /// The identity key the pinned list vouches for at `address` (this user's own list
    /// for its own devices).
    pub(crate) fn listed_identity(&self, address: &Address) -> Option<&IdentityKey> {
        let list = if address.user() == self.me.user() {
            self.user.own.as_ref()
        } else {
            self.user.contacts.get(address.user())?.list.as_ref()
        };
        list?.identity_of(address.device())
    }

    /// Whether a trusted list holds `address` with `key`: `Some(false)` the pinned one,
    /// `Some(true)` only a list under a changed account key not accepted yet, `None`
    /// neither.
    pub(crate) fn listed_as(&self, address: &Address, key: &IdentityKey) -> Option<bool> {
        if self.listed_identity(address) == Some(key) {
            return Some(false);
        }
        let pending = self.user.contacts.get(address.user())?.pending.as_ref()?;
        (address.user() != self.me.user() && pending.identity_of(address.device()) == Some(key))
            .then_some(true)
    }

    /// Commits `writes`, the user record `next` (its generation bumped) and `counters`
    /// (naming that generation) in one transaction; only then do they become this
    /// device's.
    pub(crate) fn commit_user<R: CryptoRng + ?Sized>(
        &mut self,
        mut next: UserRecord,
        mut writes: Vec<Write>,
        mut counters: Counters,
        rng: &mut R,
    ) -> Result<(), ClientError> {
        next.generation = self.user.generation.max(counters.user_generation) + 1;
        counters.user_generation = next.generation;
        writes.push(
            self.sealer
                .put_value(Table::Account, USER_KEY.to_vec(), &next, rng)?,
        );
        writes.push(self.counters_write(&counters, rng)?);
        self.commit_with(writes, counters)?;
        self.user = next;
        Ok(())
    }

    /// Signs the first list of a new account: this device alone.
    pub(crate) fn first_list<R: CryptoRng + ?Sized>(
        user: &str,
        device: u32,
        identity: &IdentityKey,
        now: u64,
        rng: &mut R,
    ) -> Result<(SigningSeed, DeviceList), ClientError> {
        let account = IdentityKeyPair::generate(rng);
        let devices = [(device, identity.clone())].into_iter().collect();
        let list = DeviceList::sign(&account, user, 1, now, devices).ok_or(ClientError::InvalidAddress)?;
        Ok((SigningSeed(*account.seed()), list))
    }

    /// A fresh link secret.
    pub(crate) fn new_link_secret<R: CryptoRng + ?Sized>(rng: &mut R) -> LinkSecret {
        LinkSecret::generate(rng)
    }
}

/// `Some(true)` if `candidate` is newer than `current`, `Some(false)` if it is the same
/// list, `None` if it is older or conflicts (same version, other contents).
fn newer(current: &DeviceList, candidate: &DeviceList) -> Option<bool> {
    if candidate.version() > current.version() {
        Some(true)
    } else if candidate.version() == current.version() && candidate == current {
        Some(false)
    } else {
        None
    }
}
