//! The `hemlis-relay` binary: serves the TCP relay protocol (docs/PROTOCOL.md, section 12.5)
//! on loopback, keeping bundles, device lists and mailboxes in memory. Pair it with the terminal example
//! (`hemlis-relay/examples/terminal.rs`).
//!
//! Run: `cargo run -p hemlis-relay -- --listen 127.0.0.1:7878`
//!
//! It listens on 127.0.0.1 only: the protocol has no authentication and no transport
//! encryption (the messages are end-to-end encrypted, but anyone who reaches the port could
//! publish for, drain or flood any address), so it refuses any other address.
#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use hemlis::transport::RelayState;
use hemlis_relay::serve_relay;

const USAGE: &str = "\
usage: hemlis-relay [--listen 127.0.0.1:PORT]

Serves the hemlis example relay protocol on loopback (default 127.0.0.1:7878; port 0 picks
a free port). Bundles, device lists and mailboxes live in memory and are lost when the
relay stops. Only 127.0.0.1 is accepted: this demonstration relay has no authentication.";

fn main() -> ExitCode {
    let listen = match parse_args(std::env::args().skip(1)) {
        Ok(Some(listen)) => listen,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("hemlis-relay: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("hemlis-relay: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(e) => {
            eprintln!("hemlis-relay: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("hemlis relay listening on {local} (port {})", local.port());
    match serve_relay(listener, Arc::new(Mutex::new(RelayState::default()))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hemlis-relay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The address to listen on, or `None` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SocketAddr>, String> {
    let mut listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 7878));
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                let value = args.next().ok_or("--listen needs an address")?;
                listen = value
                    .parse()
                    .map_err(|_| format!("not an address: {value:?} (expected 127.0.0.1:PORT)"))?;
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if listen.ip() != Ipv4Addr::LOCALHOST {
        return Err(format!(
            "refusing to listen on {}: this relay listens on 127.0.0.1 only",
            listen.ip()
        ));
    }
    Ok(Some(listen))
}
