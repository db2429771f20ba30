//! Redirects through the driver with scripted socket observations and a
//! virtual clock: the actions in order, the rewritten request, the phases.

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::string::String;
use std::vec::Vec;

use super::*;
use crate::random::RandomError;
use crate::redirect::RedirectRefusal;

/// Counts up: every key differs.
struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RandomError> {
        for b in out {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
        Ok(())
    }
}

type Slots = [Slot<Counter, [u8; 1024], [u8; 1024], [u8; 1024]>; 1];
type TestDriver = Driver<Counter, [u8; 1024], [u8; 1024], [u8; 1024], Slots>;

fn driver() -> TestDriver {
    let config = DriverConfig {
        proto: Config {
            max_message_size: 1024,
            ..Config::default()
        },
        tls: true,
        ..DriverConfig::default()
    };
    Driver::new([Slot::new()], config)
}

fn storage() -> Storage<Counter, [u8; 1024], [u8; 1024], [u8; 1024]> {
    Storage {
        rng: Counter(0),
        tx: [0; 1024],
        rx: [0; 1024],
        assembler: [0; 1024],
    }
}

/// What an action was, owned.
#[derive(Debug, PartialEq)]
enum Did {
    Resolve(String, u16),
    Connect(SocketAddr),
    Wrote(String),
    Read,
    Close,
    Other,
}

/// Runs actions until none is left: connects succeed, resolves give
/// 127.0.0.1, writes take everything, reads give `incoming` once.
fn run(d: &mut TestDriver, now: Instant, incoming: &mut Option<&[u8]>) -> Vec<Did> {
    let mut did = Vec::new();
    for _ in 0..50 {
        let Some(action) = d.poll_action(now) else {
            break;
        };
        match action {
            Action::Resolve { id, host, port } => {
                did.push(Did::Resolve(host.into(), port));
                let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
                d.handle_resolved(id, Resolution::Found(ip));
            }
            Action::Connect { id, addr } => {
                did.push(Did::Connect(addr));
                d.handle_connect(id, ConnectOutcome::Connected, now);
            }
            Action::Write { id, bytes } => {
                did.push(Did::Wrote(String::from_utf8_lossy(bytes).into()));
                let n = bytes.len();
                d.handle_write(id, Io::Done(n));
            }
            Action::Read { id, buf } => {
                did.push(Did::Read);
                let io = match incoming.take() {
                    Some(bytes) => {
                        buf[..bytes.len()].copy_from_slice(bytes);
                        Io::Done(bytes.len())
                    }
                    None => Io::WouldBlock,
                };
                d.handle_read(id, io);
            }
            Action::Close { .. } => did.push(Did::Close),
            Action::Shutdown { .. } => did.push(Did::Other),
        }
    }
    did
}

fn first_line(req: &str) -> &str {
    req.split("\r\n").next().unwrap_or_default()
}

#[test]
fn a_redirect_closes_the_socket_and_starts_again_with_the_new_request() {
    let mut d = driver();
    let now = Instant::ZERO;
    let opts = HandshakeOptions {
        protocols: &["chat"],
        headers: &[("Authorization", "Bearer t")],
    };
    let id = d
        .open("ws://127.0.0.1:8080/a/b", &opts, now, storage)
        .unwrap();
    let mut resp: Option<&[u8]> = None;
    let did = run(&mut d, now, &mut resp);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
    assert_eq!(did[0], Did::Connect(addr));
    let Did::Wrote(first) = &did[1] else {
        panic!("{did:?}")
    };
    assert_eq!(first_line(first), "GET /a/b HTTP/1.1");

    // The server redirects to a name on another port.
    let mut resp: Option<&[u8]> =
        Some(b"HTTP/1.1 302 Found\r\nLocation: wss://example.test:9443/c\r\n\r\n");
    d.handle_readiness(id, Readiness::ALL);
    let did = run(&mut d, now, &mut resp);
    assert_eq!(did, [Did::Read, Did::Read]);
    assert!(d.poll_event(now).is_none(), "the redirect is not an event");
    assert_eq!(d.phase(id), Some(Phase::Handshake));
    let did = run(&mut d, now, &mut None);
    assert_eq!(did[0], Did::Close);
    assert_eq!(did[1], Did::Resolve("example.test".into(), 9443));
    assert_eq!(d.tls_server_name(id), Some("example.test"));
    assert_eq!(did[2], Did::Connect(SocketAddr::new(addr.ip(), 9443)));
    let Did::Wrote(second) = &did[3] else {
        panic!("{did:?}")
    };
    assert_eq!(first_line(second), "GET /c HTTP/1.1");
    assert!(
        second.contains("\r\nHost: example.test:9443\r\n"),
        "{second}"
    );
    assert!(second.contains("\r\nSec-WebSocket-Protocol: chat\r\nAuthorization: Bearer t\r\n\r\n"));
    let key = |r: &str| {
        r.lines()
            .find(|l| l.starts_with("Sec-WebSocket-Key"))
            .map(String::from)
    };
    assert_ne!(key(first), key(second));
    assert_eq!(d.state(id), Some(State::Connecting));
}

#[test]
fn a_refused_redirect_is_the_connections_end() {
    let mut d = driver();
    let now = Instant::ZERO;
    let id = d
        .open(
            "wss://127.0.0.1/",
            &HandshakeOptions::default(),
            now,
            storage,
        )
        .unwrap();
    run(&mut d, now, &mut None);
    let mut resp: Option<&[u8]> = Some(b"HTTP/1.1 301 Moved\r\nLocation: ws://127.0.0.1/\r\n\r\n");
    d.handle_readiness(id, Readiness::ALL);
    run(&mut d, now, &mut resp);
    assert!(d.poll_event(now).is_none());
    assert!(run(&mut d, now, &mut None).is_empty());
    match d.poll_event(now) {
        Some((got, SessionEvent::Closed(crate::Disconnect::Redirect(r)))) => {
            assert_eq!(got, id);
            assert_eq!((r.status, r.refusal), (301, RedirectRefusal::Downgrade));
            assert_eq!(r.location, b"ws://127.0.0.1/");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run(&mut d, now, &mut None), [Did::Close]);
}
