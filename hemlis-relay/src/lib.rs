//! hemlis-relay: a small relay protocol over TCP (docs/PROTOCOL.md, section 12.5): [`TcpTransport`] is the client side of [`Transport`],
//! [`serve_relay`] the relay side, which applies each request to a shared [`RelayState`].
//!
//! The relay holds nothing but a `RelayState`: prekey uploads and bundles (public keys and
//! signatures) and envelopes with their addresses. It is a demonstration transport for
//! loopback, not part of the protocol between devices: it has no authentication (whoever
//! reaches the port can publish for, read and acknowledge any address; the end-to-end
//! encryption still holds, and a replaced identity key shows as a changed safety number)
//! and no transport encryption (an observer on the path learns what the relay learns).
//!
//! # Framing
//!
//! Integers are big-endian. Every request and every response is one frame:
//!
//! ```text
//! frame    = length (u32, 1 ..= 4,194,304) || body (length bytes)
//! address  = user length (1, 1 ..= 128) || user (UTF-8) || device (u32)    (Address::encode)
//! user     = user length (1, 1 ..= 128) || user (UTF-8)
//!
//! request body = tag (1) || fields
//!   0x01 publish       address || upload (the rest of the body; section 12.1)
//!   0x02 devices       user
//!   0x03 fetch_bundle  address
//!   0x04 send          from address || to address || envelope (the rest, at most
//!                      4,193,280 bytes = 4 MiB - 1 KiB)
//!   0x05 fetch         address
//!   0x06 ack           address || n (u32) || n x id (u64)
//!   0x07 identity      address
//!
//! response body = status (1) || payload
//!   0x00 ok            publish, send, ack: empty
//!                      devices:      n (u32) || n x device (u32)
//!                      fetch_bundle: bundle (the rest of the body; section 4.2)
//!                      fetch:        n (u32) || n x (id (u64) || from address
//!                                                    || length (u32) || envelope)
//!                      identity:     the identity key the device publishes (32)
//!   0x01 not found     empty                       (TransportError::NotFound; for
//!                                                  identity: no such device, `None`)
//!   0x02 rejected      reason (UTF-8, <= 1024)     (TransportError::Rejected)
//!   0x03 malformed     reason (UTF-8, <= 1024)     the request did not decode
//!                                                  (TransportError::Rejected)
//!   0x04 unavailable   reason (UTF-8, <= 1024)     the relay failed inside
//!                                                  (TransportError::Unavailable)
//! ```
//!
//! Both sides decode strictly: a field that runs past the body, bytes after the last field,
//! an unknown tag or status, a count that the rest of the body cannot hold, an invalid
//! address or text is a typed error, and nothing is allocated before the bytes it stands for
//! have arrived (a frame buffer grows as its bytes arrive, up to 4 MiB).
//!
//! # Connections
//!
//! A client sends one request at a time and reads its response before the next. The relay
//! answers a body that does not decode with `malformed` and keeps the connection; a length
//! of 0 or above 4 MiB is answered with `malformed` and the connection closed (the framing
//! is lost), as is a body cut short by the end of the stream. The relay closes a connection
//! idle for 5 minutes and refuses connections beyond 256 at once.
//!
//! A `fetch` response holds the oldest waiting envelopes that fit in one frame; the rest
//! come in later fetches, once these are acknowledged.
//!
//! [`TcpTransport`] keeps one connection. When a call fails on it (an I/O error, a timeout,
//! the relay closed it), it reconnects and sends the request once more; every request
//! tolerates that: `publish` and `ack` are idempotent, a repeated `send` queues a copy that
//! the recipient's ratchet refuses as a duplicate, and a repeated `fetch_bundle` only uses
//! up one more one-time prekey. I/O failures are [`TransportError::Unavailable`], as is a
//! response that does not decode (the connection is then dropped).
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, unused_qualifications, rust_2018_idioms)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use core::fmt;
use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hemlis::transport::{Address, Incoming, RelayState, Transport, TransportError};

/// Largest frame body, either way.
const MAX_FRAME: usize = 4 * 1024 * 1024;
/// Largest envelope the relay queues, so every queued envelope fits in a fetch response.
const MAX_ENVELOPE: usize = MAX_FRAME - 1024;
/// Largest reason text in a response.
const MAX_REASON: usize = 1024;
/// Most connections the relay serves at once.
const MAX_CONNECTIONS: usize = 256;
/// The relay closes a connection that sends nothing for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The client gives up on a connection attempt after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client gives up on a response after this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

const TAG_PUBLISH: u8 = 0x01;
const TAG_DEVICES: u8 = 0x02;
const TAG_FETCH_BUNDLE: u8 = 0x03;
const TAG_SEND: u8 = 0x04;
const TAG_FETCH: u8 = 0x05;
const TAG_ACK: u8 = 0x06;
const TAG_IDENTITY: u8 = 0x07;

const STATUS_OK: u8 = 0x00;
const STATUS_NOT_FOUND: u8 = 0x01;
const STATUS_REJECTED: u8 = 0x02;
const STATUS_MALFORMED: u8 = 0x03;
const STATUS_UNAVAILABLE: u8 = 0x04;

/// A [`Transport`] that talks to a relay run by [`serve_relay`] over one TCP connection.
#[derive(Debug)]
pub struct TcpTransport {
    relay: SocketAddr,
    connection: Mutex<Option<TcpStream>>,
}

impl TcpTransport {
    /// Connects to the relay at `relay`. Later calls reconnect by themselves when the
    /// connection fails.
    pub fn connect(relay: SocketAddr) -> Result<Self, TransportError> {
        let stream = open(relay)?;
        Ok(Self {
            relay,
            connection: Mutex::new(Some(stream)),
        })
    }

    /// The relay's address.
    pub fn relay(&self) -> SocketAddr {
        self.relay
    }

    /// Sends a request and returns the payload of an `ok` response, or the error that the
    /// response's status stands for.
    fn call(&self, request: &Request<'_>) -> Result<Vec<u8>, TransportError> {
        let body = request.encode();
        if body.len() > MAX_FRAME {
            return Err(TransportError::Rejected(
                "request exceeds the 4 MiB frame limit".into(),
            ));
        }
        let mut connection = self.lock();
        let mut failure = String::new();
        for _ in 0..2 {
            let stream = match connection.as_mut() {
                Some(stream) => stream,
                None => connection.insert(open(self.relay)?),
            };
            match exchange(stream, &body) {
                Ok(response) => {
                    return match Response::decode(&response) {
                        Ok(response) => response.into_result(),
                        Err(e) => {
                            *connection = None;
                            Err(malformed_response(e))
                        }
                    };
                }
                Err(ReadError::Frame(e)) => {
                    *connection = None;
                    return Err(malformed_response(e));
                }
                Err(ReadError::Closed) => {
                    *connection = None;
                    failure = "the relay closed the connection".into();
                }
                Err(ReadError::Io(e)) => {
                    *connection = None;
                    failure = e.to_string();
                }
            }
        }
        Err(TransportError::Unavailable(failure))
    }

    /// The connection; a panic in another thread mid-call may have left it between frames,
    /// so after one it is dropped and reopened.
    fn lock(&self) -> MutexGuard<'_, Option<TcpStream>> {
        match self.connection.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                let mut guard = poisoned.into_inner();
                *guard = None;
                guard
            }
        }
    }
}

impl Transport for TcpTransport {
    fn publish(&self, device: &Address, upload: &[u8]) -> Result<(), TransportError> {
        empty(self.call(&Request::Publish {
            device: Cow::Borrowed(device),
            upload,
        })?)
    }

    fn devices(&self, user: &str) -> Result<Vec<u32>, TransportError> {
        check_user(user)?;
        let payload = self.call(&Request::Devices { user })?;
        decode_devices(&payload).map_err(malformed_response)
    }

    fn fetch_bundle(&self, device: &Address) -> Result<Vec<u8>, TransportError> {
        self.call(&Request::FetchBundle {
            device: Cow::Borrowed(device),
        })
    }

    fn send(&self, from: &Address, to: &Address, envelope: &[u8]) -> Result<(), TransportError> {
        if envelope.len() > MAX_ENVELOPE {
            return Err(TransportError::Rejected(
                "envelope exceeds the relay's size limit".into(),
            ));
        }
        empty(self.call(&Request::Send {
            from: Cow::Borrowed(from),
            to: Cow::Borrowed(to),
            envelope,
        })?)
    }

    fn fetch(&self, device: &Address) -> Result<Vec<Incoming>, TransportError> {
        let payload = self.call(&Request::Fetch {
            device: Cow::Borrowed(device),
        })?;
        decode_incoming(&payload).map_err(malformed_response)
    }

    fn ack(&self, device: &Address, ids: &[u64]) -> Result<(), TransportError> {
        if ids.is_empty() {
            return Ok(());
        }
        // Acknowledge in batches that fit in a frame.
        for batch in ids.chunks((MAX_FRAME - 256) / 8) {
            empty(self.call(&Request::Ack {
                device: Cow::Borrowed(device),
                ids: batch.to_vec(),
            })?)?;
        }
        Ok(())
    }

    fn identity(&self, device: &Address) -> Result<Option<[u8; 32]>, TransportError> {
        match self.call(&Request::Identity {
            device: Cow::Borrowed(device),
        }) {
            Ok(payload) => <[u8; 32]>::try_from(payload.as_slice())
                .map(Some)
                .map_err(|_| malformed_response(FrameError::BadIdentity)),
            Err(TransportError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Serves the relay protocol on `listener`, one thread per connection, applying every
/// request to `state`. Runs until the process ends; returns early only if the listener
/// cannot be put in blocking mode. Failed accepts (out of file descriptors, a connection
/// reset before it was accepted) are retried after a pause.
pub fn serve_relay(listener: TcpListener, state: Arc<Mutex<RelayState>>) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let slot = Slot(Arc::clone(&open));
        let state = Arc::clone(&state);
        let spawned = std::thread::Builder::new()
            .name("hemlis-relay-connection".into())
            .spawn(move || {
                let _slot = slot;
                serve_connection(stream, &state);
            });
        if spawned.is_err() {
            // The closure (with its stream and slot) is dropped: the connection closes and
            // its slot is given back.
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One connection's place in the relay's count, given back when the connection ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Answers requests on one connection until it closes, fails, or loses its framing.
fn serve_connection(mut stream: TcpStream, state: &Mutex<RelayState>) {
    let setup = stream
        .set_read_timeout(Some(IDLE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(CALL_TIMEOUT)))
        .and_then(|()| stream.set_nodelay(true));
    if setup.is_err() {
        return;
    }
    loop {
        let body = match read_frame(&mut stream) {
            Ok(body) => body,
            Err(ReadError::Frame(e)) => {
                // The framing is lost: say why, then close.
                let _ = write_frame(&mut stream, &Response::Malformed(e.to_string()).encode());
                return;
            }
            Err(ReadError::Closed | ReadError::Io(_)) => return,
        };
        let response = match Request::decode(&body) {
            Ok(request) => apply(&request, state),
            Err(e) => Response::Malformed(e.to_string()),
        };
        if write_frame(&mut stream, &response.encode()).is_err() {
            return;
        }
    }
}

/// Applies one request to the relay state.
fn apply(request: &Request<'_>, state: &Mutex<RelayState>) -> Response {
    let Ok(mut state) = state.lock() else {
        return Response::Unavailable("relay state poisoned".into());
    };
    let result = match request {
        Request::Publish { device, upload } => state.publish(device, upload).map(|()| Vec::new()),
        Request::Devices { user } => encode_devices(&state.devices(user)),
        Request::FetchBundle { device } => state.fetch_bundle(device),
        Request::Send { from, to, envelope } => {
            if envelope.len() > MAX_ENVELOPE {
                Err(TransportError::Rejected(
                    "envelope exceeds the relay's size limit".into(),
                ))
            } else {
                state.send(from, to, envelope).map(|()| Vec::new())
            }
        }
        Request::Fetch { device } => {
            let waiting = state.fetch(device);
            drop(state);
            Ok(encode_incoming(&waiting))
        }
        Request::Ack { device, ids } => {
            state.ack(device, ids);
            Ok(Vec::new())
        }
        Request::Identity { device } => state
            .identity(device)
            .map(|key| key.to_vec())
            .ok_or(TransportError::NotFound),
    };
    match result {
        Ok(payload) => Response::Ok(payload),
        Err(TransportError::NotFound) => Response::NotFound,
        Err(TransportError::Rejected(reason)) => Response::Rejected(reason),
        Err(TransportError::Unavailable(reason)) => Response::Unavailable(reason),
        // A cause this protocol has no status for: the relay failed inside.
        Err(other) => Response::Unavailable(other.to_string()),
    }
}

/// A request, borrowing its fields from the caller or from the frame it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Request<'a> {
    Publish {
        device: Cow<'a, Address>,
        upload: &'a [u8],
    },
    Devices {
        user: &'a str,
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
    Identity {
        device: Cow<'a, Address>,
    },
}

impl<'a> Request<'a> {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Publish { device, upload } => {
                out.push(TAG_PUBLISH);
                out.extend_from_slice(&device.encode());
                out.extend_from_slice(upload);
            }
            Request::Devices { user } => {
                out.push(TAG_DEVICES);
                // The caller checked the length (1 to 128 bytes).
                out.push(user.len() as u8);
                out.extend_from_slice(user.as_bytes());
            }
            Request::FetchBundle { device } => {
                out.push(TAG_FETCH_BUNDLE);
                out.extend_from_slice(&device.encode());
            }
            Request::Send { from, to, envelope } => {
                out.push(TAG_SEND);
                out.extend_from_slice(&from.encode());
                out.extend_from_slice(&to.encode());
                out.extend_from_slice(envelope);
            }
            Request::Fetch { device } => {
                out.push(TAG_FETCH);
                out.extend_from_slice(&device.encode());
            }
            Request::Ack { device, ids } => {
                out.push(TAG_ACK);
                out.extend_from_slice(&device.encode());
                // At most (MAX_FRAME - 256) / 8 ids per request (see `ack`).
                out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
                for id in ids {
                    out.extend_from_slice(&id.to_be_bytes());
                }
            }
            Request::Identity { device } => {
                out.push(TAG_IDENTITY);
                out.extend_from_slice(&device.encode());
            }
        }
        out
    }

    fn decode(body: &'a [u8]) -> Result<Self, FrameError> {
        let mut r = Fields::new(body);
        let request = match r.u8()? {
            TAG_PUBLISH => Request::Publish {
                device: Cow::Owned(r.address()?),
                upload: r.rest(),
            },
            TAG_DEVICES => Request::Devices { user: r.user()? },
            TAG_FETCH_BUNDLE => Request::FetchBundle {
                device: Cow::Owned(r.address()?),
            },
            TAG_SEND => Request::Send {
                from: Cow::Owned(r.address()?),
                to: Cow::Owned(r.address()?),
                envelope: r.rest(),
            },
            TAG_FETCH => Request::Fetch {
                device: Cow::Owned(r.address()?),
            },
            TAG_ACK => {
                let device = Cow::Owned(r.address()?);
                let n = r.count(8)?;
                let mut ids = Vec::with_capacity(n);
                for _ in 0..n {
                    ids.push(r.u64()?);
                }
                Request::Ack { device, ids }
            }
            TAG_IDENTITY => Request::Identity {
                device: Cow::Owned(r.address()?),
            },
            tag => return Err(FrameError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(request)
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Response {
    Ok(Vec<u8>),
    NotFound,
    Rejected(String),
    Malformed(String),
    Unavailable(String),
}

impl Response {
    fn encode(&self) -> Vec<u8> {
        let (status, payload): (u8, &[u8]) = match self {
            Response::Ok(payload) => (STATUS_OK, payload),
            Response::NotFound => (STATUS_NOT_FOUND, &[]),
            Response::Rejected(reason) => (STATUS_REJECTED, truncate(reason).as_bytes()),
            Response::Malformed(reason) => (STATUS_MALFORMED, truncate(reason).as_bytes()),
            Response::Unavailable(reason) => (STATUS_UNAVAILABLE, truncate(reason).as_bytes()),
        };
        let mut out = Vec::with_capacity(1 + payload.len());
        out.push(status);
        out.extend_from_slice(payload);
        out
    }

    fn decode(body: &[u8]) -> Result<Self, FrameError> {
        let mut r = Fields::new(body);
        let status = r.u8()?;
        let rest = r.rest();
        let reason = || -> Result<String, FrameError> {
            if rest.len() > MAX_REASON {
                return Err(FrameError::Oversize);
            }
            String::from_utf8(rest.to_vec()).map_err(|_| FrameError::InvalidText)
        };
        Ok(match status {
            STATUS_OK => Response::Ok(rest.to_vec()),
            STATUS_NOT_FOUND if rest.is_empty() => Response::NotFound,
            STATUS_NOT_FOUND => return Err(FrameError::TrailingBytes),
            STATUS_REJECTED => Response::Rejected(reason()?),
            STATUS_MALFORMED => Response::Malformed(reason()?),
            STATUS_UNAVAILABLE => Response::Unavailable(reason()?),
            status => return Err(FrameError::UnknownStatus(status)),
        })
    }

    fn into_result(self) -> Result<Vec<u8>, TransportError> {
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
}

/// The longest prefix of `text` of at most [`MAX_REASON`] bytes that ends on a character.
fn truncate(text: &str) -> &str {
    let mut end = text.len().min(MAX_REASON);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn encode_devices(devices: &[u32]) -> Result<Vec<u8>, TransportError> {
    let n = u32::try_from(devices.len())
        .ok()
        .filter(|_| 5 + 4 * devices.len() <= MAX_FRAME)
        .ok_or_else(|| TransportError::Rejected("too many devices for one response".into()))?;
    let mut out = Vec::with_capacity(4 + 4 * devices.len());
    out.extend_from_slice(&n.to_be_bytes());
    for device in devices {
        out.extend_from_slice(&device.to_be_bytes());
    }
    Ok(out)
}

fn decode_devices(payload: &[u8]) -> Result<Vec<u32>, FrameError> {
    let mut r = Fields::new(payload);
    let n = r.count(4)?;
    let mut devices = Vec::with_capacity(n);
    for _ in 0..n {
        devices.push(r.u32()?);
    }
    r.finish()?;
    Ok(devices)
}

/// The oldest envelopes that fit in one response frame (status byte included). An envelope
/// that could never fit (only possible if something other than this relay queued it) is
/// left out.
fn encode_incoming(waiting: &[Incoming]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut n: u32 = 0;
    let mut size = 1 + 4;
    for incoming in waiting {
        let from = incoming.from.encode();
        let entry = 8 + from.len() + 4 + incoming.envelope.len();
        if entry > MAX_FRAME - 5 {
            continue;
        }
        if size + entry > MAX_FRAME {
            break;
        }
        // Fits in the frame, so in a u32.
        let Ok(length) = u32::try_from(incoming.envelope.len()) else {
            continue;
        };
        size += entry;
        n += 1;
        entries.extend_from_slice(&incoming.id.to_be_bytes());
        entries.extend_from_slice(&from);
        entries.extend_from_slice(&length.to_be_bytes());
        entries.extend_from_slice(&incoming.envelope);
    }
    let mut out = Vec::with_capacity(4 + entries.len());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&entries);
    out
}

fn decode_incoming(payload: &[u8]) -> Result<Vec<Incoming>, FrameError> {
    let mut r = Fields::new(payload);
    // Each entry takes at least id (8) + shortest address (6) + length (4) bytes.
    let n = r.count(18)?;
    let mut incoming = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u64()?;
        let from = r.address()?;
        let length = usize::try_from(r.u32()?).map_err(|_| FrameError::Truncated)?;
        let envelope = r.bytes(length)?.to_vec();
        incoming.push(Incoming { id, from, envelope });
    }
    r.finish()?;
    Ok(incoming)
}

/// Why a frame or a field did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrameError {
    /// A frame of length 0.
    Empty,
    /// A frame or field above its size limit.
    Oversize,
    /// A frame or field that ends early.
    Truncated,
    /// Bytes after the last field.
    TrailingBytes,
    /// A request tag that names no request.
    UnknownTag(u8),
    /// A response status that names no status.
    UnknownStatus(u8),
    /// An address or user id that is empty, too long or not UTF-8.
    InvalidAddress,
    /// A reason that is not UTF-8.
    InvalidText,
    /// An identity answer that is not 32 bytes.
    BadIdentity,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Empty => write!(f, "empty frame"),
            FrameError::Oversize => write!(f, "frame or field exceeds its size limit"),
            FrameError::Truncated => write!(f, "truncated frame or field"),
            FrameError::TrailingBytes => write!(f, "trailing bytes"),
            FrameError::UnknownTag(tag) => write!(f, "unknown request tag {tag:#04x}"),
            FrameError::UnknownStatus(status) => write!(f, "unknown response status {status:#04x}"),
            FrameError::BadIdentity => write!(f, "identity key not 32 bytes"),
            FrameError::InvalidAddress => write!(f, "invalid address or user id"),
            FrameError::InvalidText => write!(f, "reason is not UTF-8"),
        }
    }
}

/// Reads fields front to back; every read checks the remaining length first.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self { rest: body }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if n > self.rest.len() {
            return Err(FrameError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, FrameError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, FrameError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, FrameError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A count of items of at least `min_item` bytes each, checked against what is left,
    /// so a count never reserves memory for items that are not there.
    fn count(&mut self, min_item: usize) -> Result<usize, FrameError> {
        let n = usize::try_from(self.u32()?).map_err(|_| FrameError::Oversize)?;
        if n > self.rest.len() / min_item {
            return Err(FrameError::Truncated);
        }
        Ok(n)
    }

    fn address(&mut self) -> Result<Address, FrameError> {
        let (address, rest) = Address::decode_prefix(self.rest).ok_or(FrameError::InvalidAddress)?;
        self.rest = rest;
        Ok(address)
    }

    fn user(&mut self) -> Result<&'a str, FrameError> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > Address::MAX_USER_LEN {
            return Err(FrameError::InvalidAddress);
        }
        core::str::from_utf8(self.bytes(len)?).map_err(|_| FrameError::InvalidAddress)
    }

    fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.rest)
    }

    fn finish(self) -> Result<(), FrameError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(FrameError::TrailingBytes)
        }
    }
}

/// Why reading a frame failed.
#[derive(Debug)]
enum ReadError {
    /// The stream ended cleanly before a frame began.
    Closed,
    /// The stream failed or timed out.
    Io(io::Error),
    /// The frame is malformed (its length, or its end before the length said).
    Frame(FrameError),
}

/// Reads one frame; the buffer grows as bytes arrive, never beyond [`MAX_FRAME`].
fn read_frame(stream: &mut impl Read) -> Result<Vec<u8>, ReadError> {
    let mut header = [0u8; 4];
    let mut filled = 0;
    while filled < header.len() {
        match stream.read(&mut header[filled..]) {
            Ok(0) if filled == 0 => return Err(ReadError::Closed),
            Ok(0) => return Err(ReadError::Frame(FrameError::Truncated)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    let length = u32::from_be_bytes(header);
    let length = usize::try_from(length).map_err(|_| ReadError::Frame(FrameError::Oversize))?;
    if length == 0 {
        return Err(ReadError::Frame(FrameError::Empty));
    }
    if length > MAX_FRAME {
        return Err(ReadError::Frame(FrameError::Oversize));
    }
    let mut body = Vec::new();
    // `length` is at most MAX_FRAME, so it fits in a u64.
    stream
        .take(length as u64)
        .read_to_end(&mut body)
        .map_err(ReadError::Io)?;
    if body.len() != length {
        return Err(ReadError::Frame(FrameError::Truncated));
    }
    Ok(body)
}

/// Writes one frame; `body` is at most [`MAX_FRAME`] bytes (both callers check).
fn write_frame(stream: &mut impl Write, body: &[u8]) -> io::Result<()> {
    let length = u32::try_from(body.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame)?;
    stream.flush()
}

/// One request and its response on a connection.
fn exchange(stream: &mut TcpStream, body: &[u8]) -> Result<Vec<u8>, ReadError> {
    write_frame(stream, body).map_err(ReadError::Io)?;
    read_frame(stream)
}

fn open(relay: SocketAddr) -> Result<TcpStream, TransportError> {
    let unavailable = |e: io::Error| TransportError::Unavailable(format!("{relay}: {e}"));
    let stream = TcpStream::connect_timeout(&relay, CONNECT_TIMEOUT).map_err(unavailable)?;
    stream.set_read_timeout(Some(CALL_TIMEOUT)).map_err(unavailable)?;
    stream
        .set_write_timeout(Some(CALL_TIMEOUT))
        .map_err(unavailable)?;
    stream.set_nodelay(true).map_err(unavailable)?;
    Ok(stream)
}

fn malformed_response(e: FrameError) -> TransportError {
    TransportError::Unavailable(format!("malformed response from the relay: {e}"))
}

fn empty(payload: Vec<u8>) -> Result<(), TransportError> {
    if payload.is_empty() {
        Ok(())
    } else {
        Err(malformed_response(FrameError::TrailingBytes))
    }
}

fn check_user(user: &str) -> Result<(), TransportError> {
    if user.is_empty() || user.len() > Address::MAX_USER_LEN {
        return Err(TransportError::Rejected("invalid user id".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rand_core::{Rng, SeedableRng};

    use super::*;

    fn address(user: &str, device: u32) -> Cow<'static, Address> {
        Cow::Owned(Address::new(user, device).unwrap())
    }

    #[test]
    fn requests_round_trip() {
        let requests = [
            Request::Publish {
                device: address("alice", 1),
                upload: b"upload",
            },
            Request::Devices { user: "bob" },
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
            Request::Identity {
                device: address("bob", 2),
            },
        ];
        for request in requests {
            assert_eq!(Request::decode(&request.encode()).unwrap(), request);
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
            assert_eq!(Response::decode(&response.encode()).unwrap(), response);
        }
        // A reason is cut to 1024 bytes on a character boundary.
        let long = Response::Rejected("é".repeat(1000)).encode();
        assert!(long.len() <= 1 + MAX_REASON);
        assert!(matches!(Response::decode(&long).unwrap(), Response::Rejected(r) if r.len() == 1024));

        let devices = [0, 1, u32::MAX];
        assert_eq!(
            decode_devices(&encode_devices(&devices).unwrap()).unwrap(),
            devices
        );
        let incoming = vec![
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
        ];
        assert_eq!(decode_incoming(&encode_incoming(&incoming)).unwrap(), incoming);
    }

    #[test]
    fn decoders_refuse_what_is_not_there() {
        // Counts larger than the rest of the body could hold: refused before allocating.
        assert_eq!(
            decode_devices(&[0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            decode_incoming(&[0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            decode_devices(&[0, 0, 0, 1, 0, 0, 0, 1, 0]),
            Err(FrameError::TrailingBytes)
        );
        assert_eq!(Request::decode(&[0x09]), Err(FrameError::UnknownTag(9)));
        assert_eq!(Response::decode(&[0x09]), Err(FrameError::UnknownStatus(9)));
        assert_eq!(
            Response::decode(&[STATUS_NOT_FOUND, 0]),
            Err(FrameError::TrailingBytes)
        );
        assert_eq!(
            Response::decode(&[STATUS_REJECTED, 0xff]),
            Err(FrameError::InvalidText)
        );
        assert_eq!(Response::decode(&[]), Err(FrameError::Truncated));
        let mut long = vec![STATUS_UNAVAILABLE];
        long.resize(2 + MAX_REASON, b'a');
        assert_eq!(Response::decode(&long), Err(FrameError::Oversize));
    }

    #[test]
    fn frames_are_bounded() {
        let read = |bytes: &[u8]| read_frame(&mut &bytes[..]);
        assert!(matches!(read(&[]), Err(ReadError::Closed)));
        assert!(matches!(
            read(&[0, 0]),
            Err(ReadError::Frame(FrameError::Truncated))
        ));
        assert!(matches!(
            read(&[0, 0, 0, 0]),
            Err(ReadError::Frame(FrameError::Empty))
        ));
        assert!(matches!(
            read(&[0, 0x40, 0, 1]),
            Err(ReadError::Frame(FrameError::Oversize))
        ));
        assert!(matches!(
            read(&[0, 0, 0, 3, 1, 2]),
            Err(ReadError::Frame(FrameError::Truncated))
        ));
        // Exactly 4 MiB is allowed, and read only as far as the bytes go.
        assert!(matches!(
            read(&[0, 0x40, 0, 0, 1]),
            Err(ReadError::Frame(FrameError::Truncated))
        ));
        let mut frame = Vec::new();
        write_frame(&mut frame, &[7, 8, 9]).unwrap();
        assert_eq!(read(&frame).unwrap(), [7, 8, 9]);
    }

    #[test]
    fn random_bytes_never_panic_a_decoder() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..20_000 {
            let mut bytes = vec![0u8; (rng.next_u32() % 64) as usize];
            rng.fill_bytes(&mut bytes);
            if let Some(first) = bytes.first_mut() {
                *first %= 8;
            }
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
            let _ = decode_devices(&bytes);
            let _ = decode_incoming(&bytes);
            let _ = read_frame(&mut &bytes[..]);
        }
    }
}
