//! The relay protocol's frames (docs/PROTOCOL.md, section 12.5; the crate documentation,
//! "Framing", gives the layout): requests, responses and the payload of `fetch`, each a
//! [`Codec`] over hemlis's one [`Reader`].
//!
//! Every decoder is strict and allocates nothing for a count before the bytes it stands
//! for are there.

use core::fmt;
use std::borrow::Cow;

use hemlis::transport::{Incoming, TransportError};
use hemlis::wire::{Codec, Reader};
use hemlis::{Address, DecodeError, DeviceList};

/// Largest frame body, either way.
pub(crate) const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Largest envelope the relay queues, so every queued envelope fits in a fetch response.
pub(crate) const MAX_ENVELOPE: usize = MAX_FRAME - 1024;
/// Largest reason text in a response.
const MAX_REASON: usize = 1024;
/// Largest encoded device list (docs/PROTOCOL.md, section 13.1), either way.
pub(crate) const MAX_DEVICE_LIST: usize = 4096;

/// The longest list hemlis can sign (a 128-byte user id and
/// [`DeviceList::MAX_DEVICES`] devices) fits under [`MAX_DEVICE_LIST`].
const _: () = assert!(
    1 + 1 + Address::MAX_USER_LEN + 8 + 8 + 32 + 2 + DeviceList::MAX_DEVICES * (4 + 32) + 64
        <= MAX_DEVICE_LIST
);

const TAG_PUBLISH: u8 = 0x01;
// 0x02 was `devices` and 0x07 `identity`: retired, now unknown tags.
const TAG_FETCH_BUNDLE: u8 = 0x03;
const TAG_SEND: u8 = 0x04;
const TAG_FETCH: u8 = 0x05;
const TAG_ACK: u8 = 0x06;
const TAG_PUBLISH_DEVICE_LIST: u8 = 0x08;
const TAG_FETCH_DEVICE_LIST: u8 = 0x09;

const STATUS_OK: u8 = 0x00;
const STATUS_NOT_FOUND: u8 = 0x01;
const STATUS_REJECTED: u8 = 0x02;
const STATUS_MALFORMED: u8 = 0x03;
const STATUS_UNAVAILABLE: u8 = 0x04;

/// One frame: `length (u32, 1 ..= MAX_FRAME) || body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a>(pub(crate) &'a [u8]);

impl<'a> Codec<'a> for Frame<'a> {
    type Error = FrameError;

    /// The body is at most [`MAX_FRAME`] bytes (every caller checks).
    fn encode(&self, bytes: &mut Vec<u8>) {
        let length = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(self.0);
    }

    fn encoded_len(&self) -> usize {
        4 + self.0.len()
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, FrameError> {
        let length = frame_length(r.array()?)?;
        Ok(Self(r.bytes(length)?))
    }
}

/// The body length a frame header announces, checked before anything is read for it.
pub(crate) fn frame_length(header: [u8; 4]) -> Result<usize, FrameError> {
    let length =
        usize::try_from(u32::from_be_bytes(header)).map_err(|_| FrameError::Decode(DecodeError::Oversize))?;
    if length == 0 {
        return Err(FrameError::Empty);
    }
    if length > MAX_FRAME {
        return Err(FrameError::Decode(DecodeError::Oversize));
    }
    Ok(length)
}

/// A request, borrowing its fields from the caller or from the frame it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    Publish {
        device: Cow<'a, Address>,
        upload: &'a [u8],
    },
    FetchBundle {
        device: Cow<'a, Address>,
    },
    Send {
        from: Cow<'a, Address>,
        to: Cow<'a, Address>,
        envelope: &'a [u8],
    },
    Fetch {
        device: Cow<'a, Address>,
    },
    Ack {
        device: Cow<'a, Address>,
        ids: Vec<u64>,
    },
    PublishDeviceList {
        user: &'a str,
        list: &'a [u8],
    },
    FetchDeviceList {
        user: &'a str,
    },
}

impl<'a> Codec<'a> for Request<'a> {
    type Error = FrameError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        match self {
            Request::Publish { device, upload } => {
                bytes.push(TAG_PUBLISH);
                put_address(bytes, device);
                bytes.extend_from_slice(upload);
            }
            Request::FetchBundle { device } => {
                bytes.push(TAG_FETCH_BUNDLE);
                put_address(bytes, device);
            }
            Request::Send { from, to, envelope } => {
                bytes.push(TAG_SEND);
                put_address(bytes, from);
                put_address(bytes, to);
                bytes.extend_from_slice(envelope);
            }
            Request::Fetch { device } => {
                bytes.push(TAG_FETCH);
                put_address(bytes, device);
            }
            Request::Ack { device, ids } => {
                bytes.push(TAG_ACK);
                put_address(bytes, device);
                // At most (MAX_FRAME - 256) / 8 ids per request (see `TcpTransport::ack`).
                bytes.extend_from_slice(&(ids.len() as u32).to_be_bytes());
                for id in ids {
                    bytes.extend_from_slice(&id.to_be_bytes());
                }
            }
            Request::PublishDeviceList { user, list } => {
                bytes.push(TAG_PUBLISH_DEVICE_LIST);
                put_user(bytes, user);
                // The caller checked the length (see `check_device_list`).
                bytes.extend_from_slice(list);
            }
            Request::FetchDeviceList { user } => {
                bytes.push(TAG_FETCH_DEVICE_LIST);
                put_user(bytes, user);
            }
        }
    }

    fn encoded_len(&self) -> usize {
        1 + match self {
            Request::Publish { device, upload } => device.encoded_len() + upload.len(),
            Request::Send { from, to, envelope } => from.encoded_len() + to.encoded_len() + envelope.len(),
            Request::Ack { device, ids } => device.encoded_len() + 4 + 8 * ids.len(),
            Request::FetchBundle { device } | Request::Fetch { device } => device.encoded_len(),
            Request::PublishDeviceList { user, list } => 1 + user.len() + list.len(),
            Request::FetchDeviceList { user } => 1 + user.len(),
        }
    }

    fn read(r: &mut Reader<'a>) -> Result<Self, FrameError> {
        Ok(match r.u8()? {
            TAG_PUBLISH => Request::Publish {
                device: read_address(r)?,
                upload: r.rest(),
            },
            TAG_FETCH_BUNDLE => Request::FetchBundle {
                device: read_address(r)?,
            },
            TAG_SEND => Request::Send {
                from: read_address(r)?,
                to: read_address(r)?,
                envelope: r.rest(),
            },
            TAG_FETCH => Request::Fetch {
                device: read_address(r)?,
            },
            TAG_ACK => {
                let device = read_address(r)?;
                let n = read_count(r, 8)?;
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(r.u64()?);
                }
                Request::Ack { device, ids }
            }
            TAG_PUBLISH_DEVICE_LIST => {
                let user = read_user(r)?;
                let list = r.rest();
                check_device_list(list)?;
                Request::PublishDeviceList { user, list }
            }
            TAG_FETCH_DEVICE_LIST => Request::FetchDeviceList { user: read_user(r)? },
            tag => return Err(FrameError::UnknownTag(tag)),
        })
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Response {
    Ok(Vec<u8>),
    NotFound,
    Rejected(String),
    Malformed(String),
    Unavailable(String),
}

impl Response {
    /// The payload of an `ok` response, or the error its status stands for.
    pub(crate) fn into_result(self) -> Result<Vec<u8>, TransportError> {
        match self {
            Response::Ok(payload) => Ok(payload),
            Response::NotFound => Err(TransportError::NotFound),
            Response::Rejected(reason) => Err(TransportError::Rejected(reason)),
            Response::Malformed(reason) => Err(TransportError::Rejected(format!(
                "the relay could not decode the request: {reason}"
            ))),
            Response::Unavailable(reason) => Err(TransportError::Unavailable(reason)),
        }
    }

    fn status_and_payload(&self) -> (u8, &[u8]) {
        match self {
            Response::Ok(payload) => (STATUS_OK, payload),
            Response::NotFound => (STATUS_NOT_FOUND, &[]),
            Response::Rejected(reason) => (STATUS_REJECTED, truncate(reason).as_bytes()),
            Response::Malformed(reason) => (STATUS_MALFORMED, truncate(reason).as_bytes()),
            Response::Unavailable(reason) => (STATUS_UNAVAILABLE, truncate(reason).as_bytes()),
        }
    }
}

impl Codec<'_> for Response {
    type Error = FrameError;

    /// A reason is cut to [`MAX_REASON`] bytes on a character boundary.
    fn encode(&self, bytes: &mut Vec<u8>) {
        let (status, payload) = self.status_and_payload();
        bytes.push(status);
        bytes.extend_from_slice(payload);
    }

    fn encoded_len(&self) -> usize {
        1 + self.status_and_payload().1.len()
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, FrameError> {
        let status = r.u8()?;
        let rest = r.rest();
        let reason = || -> Result<String, FrameError> {
            if rest.len() > MAX_REASON {
                return Err(DecodeError::Oversize.into());
            }
            String::from_utf8(rest.to_vec()).map_err(|_| FrameError::InvalidText)
        };
        Ok(match status {
            STATUS_OK => Response::Ok(rest.to_vec()),
            STATUS_NOT_FOUND if rest.is_empty() => Response::NotFound,
            STATUS_NOT_FOUND => return Err(DecodeError::TrailingBytes.into()),
            STATUS_REJECTED => Response::Rejected(reason()?),
            STATUS_MALFORMED => Response::Malformed(reason()?),
            STATUS_UNAVAILABLE => Response::Unavailable(reason()?),
            status => return Err(FrameError::UnknownStatus(status)),
        })
    }
}

/// The longest prefix of `text` of at most [`MAX_REASON`] bytes that ends on a character.
fn truncate(text: &str) -> &str {
    let mut end = text.len().min(MAX_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// A device list as it travels (the rest of a `publish_device_list` request, or the
/// payload of an `ok` answer to `fetch_device_list`): 1 to [`MAX_DEVICE_LIST`] bytes. Only
/// its size is checked here: the relay's state decodes and verifies what is published, and
/// clients verify what they fetch.
pub(crate) fn check_device_list(list: &[u8]) -> Result<(), FrameError> {
    if list.is_empty() {
        return Err(DecodeError::Truncated.into());
    }
    if list.len() > MAX_DEVICE_LIST {
        return Err(DecodeError::Oversize.into());
    }
    Ok(())
}

/// The payload of an `ok` answer to `fetch`:
/// `n (u32) || n x (id (u64) || from address || length (u32) || envelope)`.
/// Every entry fits in one response frame by construction ([`Mailbox::fitting`], or the
/// 32-bit lengths of a decoded one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox(Vec<Incoming>);

impl Mailbox {
    /// The oldest envelopes that fit in one response frame (status byte included). An
    /// envelope that could never fit (only possible if something other than this relay
    /// queued it) is left out.
    pub(crate) fn fitting(waiting: Vec<Incoming>) -> Self {
        let mut kept = Vec::new();
        let mut size = 1 + 4;
        for incoming in waiting {
            let entry = entry_len(&incoming);
            if entry > MAX_FRAME - 5 {
                continue;
            }
            if size + entry > MAX_FRAME {
                break;
            }
            size += entry;
            kept.push(incoming);
        }
        Self(kept)
    }

    /// The envelopes, oldest first.
    pub(crate) fn into_inner(self) -> Vec<Incoming> {
        self.0
    }
}

/// Length of one entry of a [`Mailbox`].
fn entry_len(incoming: &Incoming) -> usize {
    8 + incoming.from.encoded_len() + 4 + incoming.envelope.len()
}

impl Codec<'_> for Mailbox {
    type Error = FrameError;

    fn encode(&self, bytes: &mut Vec<u8>) {
        // At most MAX_FRAME entries and bytes per envelope: both fit in a u32.
        let n = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&n.to_be_bytes());
        for incoming in &self.0 {
            let length = u32::try_from(incoming.envelope.len()).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&incoming.id.to_be_bytes());
            put_address(bytes, &incoming.from);
            bytes.extend_from_slice(&length.to_be_bytes());
            bytes.extend_from_slice(&incoming.envelope);
        }
    }

    fn encoded_len(&self) -> usize {
        4 + self.0.iter().map(entry_len).sum::<usize>()
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, FrameError> {
        // Each entry takes at least id (8) + shortest address (6) + length (4) bytes.
        let n = read_count(r, 18)?;
        let mut incoming = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.u64()?;
            let from = read_address(r)?.into_owned();
            let length = usize::try_from(r.u32()?).map_err(|_| DecodeError::Truncated)?;
            let envelope = r.bytes(length)?.to_vec();
            incoming.push(Incoming { id, from, envelope });
        }
        Ok(Self(incoming))
    }
}

/// Why a frame or a field did not decode: a rule every hemlis codec shares
/// ([`DecodeError`]: truncated, trailing bytes, oversize) or one of this protocol's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// A frame or field that ends early, has bytes after its last field, or exceeds its
    /// size limit.
    Decode(DecodeError),
    /// A frame of length 0.
    Empty,
    /// A request tag that names no request.
    UnknownTag(u8),
    /// A response status that names no status.
    UnknownStatus(u8),
    /// An address or user id that is empty, too long, not UTF-8 or cut short.
    InvalidAddress,
    /// A reason that is not UTF-8.
    InvalidText,
}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        FrameError::Decode(e)
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Decode(DecodeError::Truncated) => write!(f, "truncated frame or field"),
            FrameError::Decode(DecodeError::TrailingBytes) => write!(f, "trailing bytes"),
            FrameError::Decode(DecodeError::Oversize) => {
                write!(f, "frame or field exceeds its size limit")
            }
            FrameError::Decode(other) => write!(f, "{other}"),
            FrameError::Empty => write!(f, "empty frame"),
            FrameError::UnknownTag(tag) => write!(f, "unknown request tag {tag:#04x}"),
            FrameError::UnknownStatus(status) => write!(f, "unknown response status {status:#04x}"),
            FrameError::InvalidAddress => write!(f, "invalid address or user id"),
            FrameError::InvalidText => write!(f, "reason is not UTF-8"),
        }
    }
}

/// Appends an address (`Address::encode` returns a new vector instead).
fn put_address(bytes: &mut Vec<u8>, address: &Address) {
    Codec::encode(address, bytes);
}

/// Appends `user length (1) || user`; the caller checked the length (1 to 128 bytes).
fn put_user(bytes: &mut Vec<u8>, user: &str) {
    bytes.push(u8::try_from(user.len()).unwrap_or(u8::MAX));
    bytes.extend_from_slice(user.as_bytes());
}

/// An address; any way it fails (cut short included) is [`FrameError::InvalidAddress`].
fn read_address<'a>(r: &mut Reader<'_>) -> Result<Cow<'a, Address>, FrameError> {
    Address::read(r)
        .map(Cow::Owned)
        .map_err(|_| FrameError::InvalidAddress)
}

/// `user length (1, 1 ..= 128) || user (UTF-8)`.
fn read_user<'a>(r: &mut Reader<'a>) -> Result<&'a str, FrameError> {
    let len = usize::from(r.u8()?);
    if len == 0 || len > Address::MAX_USER_LEN {
        return Err(FrameError::InvalidAddress);
    }
    core::str::from_utf8(r.bytes(len)?).map_err(|_| FrameError::InvalidAddress)
}

/// A count (u32) of items of at least `min_item` bytes each, checked against what is left,
/// so a count never reserves memory for items that are not there.
fn read_count(r: &mut Reader<'_>, min_item: usize) -> Result<usize, FrameError> {
    let n = usize::try_from(r.u32()?).map_err(|_| DecodeError::Oversize)?;
    r.check_room(n, min_item)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use rand_core::{Rng, SeedableRng};

    use super::*;

    fn address(user: &str, device: u32) -> Cow<'static, Address> {
        Cow::Owned(Address::new(user, device).unwrap())
    }

    /// Every value's encoding is as long as it says and decodes back to it.
    fn round_trip<'a, T>(value: &T, bytes: &'a mut Vec<u8>) -> T
    where
        T: Codec<'a, Error = FrameError> + fmt::Debug,
    {
        *bytes = value.to_bytes();
        assert_eq!(bytes.len(), value.encoded_len(), "{value:?}");
        let bytes: &'a Vec<u8> = bytes;
        T::from_bytes(bytes).unwrap()
    }

    #[test]
    fn requests_round_trip() {
        let longest_list = vec![0xa5; MAX_DEVICE_LIST];
        let requests = [
            Request::Publish {
                device: address("alice", 1),
                upload: b"upload",
            },
            Request::FetchBundle {
                device: address("bob", 7),
            },
            Request::Send {
                from: address("alice", 1),
                to: address(&"b".repeat(128), u32::MAX),
                envelope: &[1, 2, 3],
            },
            Request::Send {
                from: address("alice", 1),
                to: address("bob", 1),
                envelope: &[],
            },
            Request::Fetch {
                device: address("ünïcode", 0),
            },
            Request::Ack {
                device: address("alice", 1),
                ids: vec![1, u64::MAX],
            },
            Request::Ack {
                device: address("alice", 1),
                ids: vec![],
            },
            Request::PublishDeviceList {
                user: "bob",
                list: &[1],
            },
            Request::PublishDeviceList {
                user: &"b".repeat(128),
                list: &longest_list,
            },
            Request::FetchDeviceList { user: "bob" },
            Request::FetchDeviceList { user: "ünïcode" },
        ];
        for request in requests {
            assert_eq!(round_trip(&request, &mut Vec::new()), request);
        }
    }

    #[test]
    fn responses_and_payloads_round_trip() {
        for response in [
            Response::Ok(vec![]),
            Response::Ok(vec![9; 100]),
            Response::NotFound,
            Response::Rejected("no".into()),
            Response::Malformed(String::new()),
            Response::Unavailable("down".into()),
        ] {
            assert_eq!(round_trip(&response, &mut Vec::new()), response);
        }
        // A reason is cut to 1024 bytes on a character boundary.
        let long = Response::Rejected("é".repeat(1000));
        let bytes = long.to_bytes();
        assert_eq!(bytes.len(), long.encoded_len());
        assert!(bytes.len() <= 1 + MAX_REASON);
        assert!(matches!(Response::from_bytes(&bytes).unwrap(), Response::Rejected(r) if r.len() == 1024));

        let incoming = Mailbox::fitting(vec![
            Incoming {
                id: 3,
                from: Address::new("alice", 1).unwrap(),
                envelope: vec![1; 10],
            },
            Incoming {
                id: 4,
                from: Address::new("carol", 2).unwrap(),
                envelope: vec![],
            },
        ]);
        assert_eq!(incoming.0.len(), 2);
        assert_eq!(round_trip(&incoming, &mut Vec::new()), incoming);
        let frame = Frame(&[7, 8, 9]);
        assert_eq!(round_trip(&frame, &mut Vec::new()), frame);
    }

    #[test]
    fn decoders_refuse_what_is_not_there() {
        let truncated = FrameError::Decode(DecodeError::Truncated);
        let trailing = FrameError::Decode(DecodeError::TrailingBytes);
        let oversize = FrameError::Decode(DecodeError::Oversize);
        // Counts larger than the rest of the body could hold: refused before allocating.
        assert_eq!(Mailbox::from_bytes(&[0xff, 0xff, 0xff, 0xff]), Err(truncated));
        assert_eq!(Request::from_bytes(&[0x0a]), Err(FrameError::UnknownTag(0x0a)));
        // The retired `devices` (0x02) and `identity` (0x07) are unknown tags now.
        assert_eq!(
            Request::from_bytes(&[0x02, 3, b'b', b'o', b'b']),
            Err(FrameError::UnknownTag(0x02))
        );
        assert_eq!(
            Request::from_bytes(&[0x07, 3, b'b', b'o', b'b', 0, 0, 0, 1]),
            Err(FrameError::UnknownTag(0x07))
        );
        // A device list: 1 to MAX_DEVICE_LIST bytes after a valid user id.
        let publish_list = |user: &[u8], list_len: usize| {
            let mut body = vec![TAG_PUBLISH_DEVICE_LIST, user.len() as u8];
            body.extend_from_slice(user);
            body.resize(body.len() + list_len, 0x5a);
            body
        };
        assert_eq!(Request::from_bytes(&publish_list(b"bob", 0)), Err(truncated));
        assert_eq!(
            Request::from_bytes(&publish_list(b"bob", MAX_DEVICE_LIST + 1)),
            Err(oversize)
        );
        assert!(matches!(
            Request::from_bytes(&publish_list(b"bob", MAX_DEVICE_LIST)),
            Ok(Request::PublishDeviceList { user: "bob", list }) if list.len() == MAX_DEVICE_LIST
        ));
        assert_eq!(
            Request::from_bytes(&publish_list(b"", 10)),
            Err(FrameError::InvalidAddress)
        );
        assert_eq!(
            Request::from_bytes(&publish_list(&[0xff, 0xfe], 10)),
            Err(FrameError::InvalidAddress)
        );
        assert_eq!(Request::from_bytes(&[TAG_PUBLISH_DEVICE_LIST]), Err(truncated));
        // `fetch_device_list`: a user id and nothing after it.
        assert_eq!(
            Request::from_bytes(&[TAG_FETCH_DEVICE_LIST, 3, b'b', b'o', b'b', 0]),
            Err(trailing)
        );
        assert_eq!(
            Request::from_bytes(&[TAG_FETCH_DEVICE_LIST, 3, b'b', b'o']),
            Err(truncated)
        );
        assert_eq!(
            Request::from_bytes(&[TAG_FETCH_DEVICE_LIST, 0]),
            Err(FrameError::InvalidAddress)
        );
        let mut too_long = vec![TAG_FETCH_DEVICE_LIST, 129];
        too_long.resize(2 + 129, b'a');
        assert_eq!(Request::from_bytes(&too_long), Err(FrameError::InvalidAddress));
        assert_eq!(check_device_list(&[]), Err(truncated));
        assert_eq!(check_device_list(&[0; MAX_DEVICE_LIST + 1]), Err(oversize));
        assert_eq!(check_device_list(&[0; MAX_DEVICE_LIST]), Ok(()));
        assert_eq!(Response::from_bytes(&[0x09]), Err(FrameError::UnknownStatus(9)));
        assert_eq!(Response::from_bytes(&[STATUS_NOT_FOUND, 0]), Err(trailing));
        assert_eq!(
            Response::from_bytes(&[STATUS_REJECTED, 0xff]),
            Err(FrameError::InvalidText)
        );
        assert_eq!(Response::from_bytes(&[]), Err(truncated));
        let mut long = vec![STATUS_UNAVAILABLE];
        long.resize(2 + MAX_REASON, b'a');
        assert_eq!(Response::from_bytes(&long), Err(oversize));
        // A cut-short address is an invalid address, as any other bad address.
        assert_eq!(
            Request::from_bytes(&[TAG_FETCH, 3, b'b', b'o']),
            Err(FrameError::InvalidAddress)
        );
        assert_eq!(Frame::from_bytes(&[0, 0, 0, 0]), Err(FrameError::Empty));
        assert_eq!(
            Frame::from_bytes(&[0, 0x40, 0, 1]),
            Err(FrameError::Decode(DecodeError::Oversize))
        );
        assert_eq!(Frame::from_bytes(&[0, 0, 0, 3, 1, 2]), Err(truncated));
    }

    #[test]
    fn reasons_keep_their_texts() {
        // The texts the relay sends back in `malformed`.
        assert_eq!(
            FrameError::Decode(DecodeError::Truncated).to_string(),
            "truncated frame or field"
        );
        assert_eq!(
            FrameError::Decode(DecodeError::TrailingBytes).to_string(),
            "trailing bytes"
        );
        assert_eq!(
            FrameError::Decode(DecodeError::Oversize).to_string(),
            "frame or field exceeds its size limit"
        );
        assert_eq!(
            FrameError::UnknownTag(0xee).to_string(),
            "unknown request tag 0xee"
        );
    }

    #[test]
    fn random_bytes_never_panic_a_decoder() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..20_000 {
            let mut bytes = vec![0u8; (rng.next_u32() % 64) as usize];
            rng.fill_bytes(&mut bytes);
            if let Some(first) = bytes.first_mut() {
                *first %= 10;
            }
            let _ = Request::from_bytes(&bytes);
            let _ = Response::from_bytes(&bytes);
            let _ = Mailbox::from_bytes(&bytes);
            let _ = Frame::from_bytes(&bytes);
        }
    }
}
