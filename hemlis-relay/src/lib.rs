//! hemlis-relay: a small relay protocol over TCP (docs/PROTOCOL.md, section 12.5): [`TcpTransport`] is the client side of [`Transport`],
//! [`serve_relay`] the relay side, which applies each request to a shared [`RelayState`].
//!
//! The relay holds nothing but a `RelayState`: prekey uploads and bundles (public keys and
//! signatures), each user's signed device list, and envelopes with their addresses. It is
//! a demonstration transport for loopback, not part of the protocol between devices: it
//! has no authentication (whoever reaches the port can publish for, read and acknowledge
//! any address; the end-to-end encryption still holds: clients encrypt only to the devices
//! of a device list signed by the user's account key and take messages only from them, and
//! a replaced account key shows as a changed safety number) and no transport encryption
//! (an observer on the path learns what the relay learns).
//!
//! # Framing
//!
//! Integers are big-endian. Every request and every response is one frame:
//!
//! ```text
//! frame    = length (u32, 1 ..= 4,194,304) || body (length bytes)
//! address  = user length (1, 1 ..= 128) || user (UTF-8) || device (u32)    (Address::encode)
//! user     = user length (1, 1 ..= 128) || user (UTF-8)
//! list     = a signed device list (DeviceList::encode; section 13.1), 1 ..= 4,096 bytes
//!
//! request body = tag (1) || fields
//!   0x01 publish              address || upload (the rest of the body; section 12.1)
//!   0x03 fetch_bundle         address
//!   0x04 send                 from address || to address || envelope (the rest, at
//!                             most 4,193,280 bytes = 4 MiB - 1 KiB)
//!   0x05 fetch                address
//!   0x06 ack                  address || n (u32) || n x id (u64)
//!   0x08 publish_device_list  user || list (the rest of the body)
//!   0x09 fetch_device_list    user
//!   (0x02 and 0x07, once `devices` and `identity`, are retired: unknown tags)
//!
//! response body = status (1) || payload
//!   0x00 ok            publish, send, ack, publish_device_list: empty
//!                      fetch_bundle:      bundle (the rest of the body; section 4.2)
//!                      fetch:             n (u32) || n x (id (u64) || from address
//!                                                         || length (u32) || envelope)
//!                      fetch_device_list: list (the rest of the body): the newest
//!                                         the relay holds for the user
//!   0x01 not found     empty                       (TransportError::NotFound: no such
//!                                                  device; for fetch_device_list, no
//!                                                  list for the user)
//!   0x02 rejected      reason (UTF-8, <= 1024)     (TransportError::Rejected; for
//!                                                  publish_device_list: a list that does
//!                                                  not verify, is another user's, or is
//!                                                  not newer than the one held under the
//!                                                  same account key)
//!   0x03 malformed     reason (UTF-8, <= 1024)     the request did not decode
//!                                                  (TransportError::Rejected)
//!   0x04 unavailable   reason (UTF-8, <= 1024)     the relay failed inside
//!                                                  (TransportError::Unavailable)
//! ```
//!
//! The relay checks a published list as `RelayState::publish_device_list` does (it must
//! verify under the account key it names, be for the user of the request, and be newer
//! than the list held under the same account key; a list under another account key
//! replaces the held one). Clients trust none of this: they verify every list they fetch
//! and never take an older one.
//!
//! Both sides decode strictly: a field that runs past the body, bytes after the last field,
//! an unknown tag or status, a count that the rest of the body cannot hold, an invalid
//! address, user id or text, or a list outside 1 to 4,096 bytes is a typed error, and
//! nothing is allocated before the bytes it stands for have arrived (a frame buffer grows
//! as its bytes arrive, up to 4 MiB).
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
//! tolerates that: `publish`, `publish_device_list` (the same list again is taken) and
//! `ack` are idempotent, `fetch_device_list` changes nothing, a repeated `send` queues a
//! copy that the recipient's ratchet refuses as a duplicate, and a repeated `fetch_bundle`
//! only uses up one more one-time prekey. I/O failures are [`TransportError::Unavailable`], as is a
//! response that does not decode (the connection is then dropped).
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub, unused_qualifications, rust_2018_idioms)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hemlis::transport::{Incoming, RelayState, TransportError};
use hemlis::wire::Codec;
use hemlis::{Address, DecodeError, Transport};

mod frames;

use frames::{
    Frame, FrameError, MAX_DEVICE_LIST, MAX_ENVELOPE, MAX_FRAME, Mailbox, Request, Response,
    check_device_list, frame_length,
};

/// Most connections the relay serves at once.
const MAX_CONNECTIONS: usize = 256;
/// The relay closes a connection that sends nothing for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The client gives up on a connection attempt after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The client gives up on a response after this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

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
        let body = request.to_bytes();
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
                    return match Response::from_bytes(&response) {
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

    fn publish_device_list(&self, user: &str, list: &[u8]) -> Result<(), TransportError> {
        check_user(user)?;
        if list.is_empty() || list.len() > MAX_DEVICE_LIST {
            return Err(TransportError::Rejected(
                "device list empty or above the relay's size limit".into(),
            ));
        }
        empty(self.call(&Request::PublishDeviceList { user, list })?)
    }

    fn fetch_device_list(&self, user: &str) -> Result<Vec<u8>, TransportError> {
        check_user(user)?;
        let list = self.call(&Request::FetchDeviceList { user })?;
        check_device_list(&list).map_err(malformed_response)?;
        Ok(list)
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
        Mailbox::from_bytes(&payload)
            .map(Mailbox::into_inner)
            .map_err(malformed_response)
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
                let _ = write_frame(&mut stream, &Response::Malformed(e.to_string()).to_bytes());
                return;
            }
            Err(ReadError::Closed | ReadError::Io(_)) => return,
        };
        let response = match Request::from_bytes(&body) {
            Ok(request) => apply(&request, state),
            Err(e) => Response::Malformed(e.to_string()),
        };
        if write_frame(&mut stream, &response.to_bytes()).is_err() {
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
            Ok(Mailbox::fitting(waiting).to_bytes())
        }
        Request::Ack { device, ids } => {
            state.ack(device, ids);
            Ok(Vec::new())
        }
        Request::PublishDeviceList { user, list } => {
            state.publish_device_list(user, list).map(|()| Vec::new())
        }
        Request::FetchDeviceList { user } => state.fetch_device_list(user).and_then(|list| {
            // Only a list the state took unchecked (`set_device_list`) can be out of bounds.
            check_device_list(&list)
                .map(|()| list)
                .map_err(|e| TransportError::Unavailable(format!("the held device list: {e}")))
        }),
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
            Ok(0) => return Err(ReadError::Frame(DecodeError::Truncated.into())),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    let length = frame_length(header).map_err(ReadError::Frame)?;
    let mut body = Vec::new();
    // `length` is at most MAX_FRAME, so it fits in a u64.
    stream
        .take(length as u64)
        .read_to_end(&mut body)
        .map_err(ReadError::Io)?;
    if body.len() != length {
        return Err(ReadError::Frame(DecodeError::Truncated.into()));
    }
    Ok(body)
}

/// Writes one frame; `body` is at most [`MAX_FRAME`] bytes (both callers check).
fn write_frame(stream: &mut impl Write, body: &[u8]) -> io::Result<()> {
    if u32::try_from(body.len()).is_err() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    stream.write_all(&Frame(body).to_bytes())?;
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
        Err(malformed_response(DecodeError::TrailingBytes.into()))
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

    #[test]
    fn frames_are_bounded() {
        let read = |bytes: &[u8]| read_frame(&mut &bytes[..]);
        let truncated = FrameError::Decode(DecodeError::Truncated);
        let oversize = FrameError::Decode(DecodeError::Oversize);
        assert!(matches!(read(&[]), Err(ReadError::Closed)));
        assert!(matches!(read(&[0, 0]), Err(ReadError::Frame(e)) if e == truncated));
        assert!(matches!(
            read(&[0, 0, 0, 0]),
            Err(ReadError::Frame(FrameError::Empty))
        ));
        assert!(matches!(read(&[0, 0x40, 0, 1]), Err(ReadError::Frame(e)) if e == oversize));
        assert!(matches!(read(&[0, 0, 0, 3, 1, 2]), Err(ReadError::Frame(e)) if e == truncated));
        // Exactly 4 MiB is allowed, and read only as far as the bytes go.
        assert!(matches!(read(&[0, 0x40, 0, 0, 1]), Err(ReadError::Frame(e)) if e == truncated));
        let mut frame = Vec::new();
        write_frame(&mut frame, &[7, 8, 9]).unwrap();
        assert_eq!(read(&frame).unwrap(), [7, 8, 9]);
    }

    #[test]
    fn random_bytes_never_panic_the_frame_reader() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for _ in 0..20_000 {
            let mut bytes = vec![0u8; (rng.next_u32() % 64) as usize];
            rng.fill_bytes(&mut bytes);
            let _ = read_frame(&mut &bytes[..]);
        }
    }
}
