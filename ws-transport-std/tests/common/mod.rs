//! Shared test helpers: an event-loop harness with bounded waits, owned
//! copies of events, a tungstenite echo server and a raw-TCP server kit.
#![allow(dead_code, unreachable_pub)]

pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use ws_proto::redirect::RedirectRefusal;
use ws_proto::{Disconnect, LinkError, Message, SessionEvent};
use ws_transport_std::{Client, ClientConfig, Clock, ConnId};

/// An event, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    Connected,
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Fragment,
    Closed(End),
}

/// How a connection ended, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum End {
    Clean(Option<u16>, String),
    Error(ws_proto::Error),
    Link(LinkError),
    Local,
    /// A refused redirect: status, why, location.
    Redirect(u16, RedirectRefusal, String),
}

pub fn own(ev: SessionEvent<'_>) -> Ev {
    match ev {
        SessionEvent::Connected { .. } => Ev::Connected,
        SessionEvent::Message(Message::Text(t)) => Ev::Text(t.to_owned()),
        SessionEvent::Message(Message::Binary(b)) => Ev::Binary(b.to_vec()),
        SessionEvent::Ping(p) => Ev::Ping(p.to_vec()),
        SessionEvent::Pong(p) => Ev::Pong(p.to_vec()),
        SessionEvent::Fragment { .. } => Ev::Fragment,
        SessionEvent::Closed(d) => Ev::Closed(match d {
            Disconnect::Clean(c) => End::Clean(c.code, c.reason.to_owned()),
            Disconnect::Error(e) => End::Error(e),
            Disconnect::Link(e) => End::Link(e),
            Disconnect::Local => End::Local,
            Disconnect::Redirect(r) => {
                End::Redirect(r.status, r.refusal, r.location_lossy().collect())
            }
        }),
        other => panic!("an event these tests do not know: {other:?}"),
    }
}

/// A client, its clock, and bounded ways to wait for events.
pub struct Harness {
    pub client: Client,
    pub clock: Clock,
}

impl Harness {
    pub fn new(config: ClientConfig) -> Self {
        Harness {
            client: Client::new(config).unwrap(),
            clock: Clock::new(),
        }
    }

    pub fn open(&mut self, url: &str) -> ConnId {
        let now = self.clock.now();
        self.client.open(url, now).unwrap()
    }

    /// The next event of any connection; panics after `secs` seconds.
    pub fn next(&mut self, secs: u64) -> (ConnId, Ev) {
        self.try_next(secs * 1000)
            .unwrap_or_else(|| panic!("no event within {secs} s"))
    }

    /// The next event within `ms` milliseconds, if any.
    pub fn try_next(&mut self, ms: u64) -> Option<(ConnId, Ev)> {
        let deadline = self.clock.now().plus_millis(ms);
        loop {
            let now = self.clock.now();
            if let Some((id, ev)) = self.client.poll(now) {
                return Some((id, own(ev)));
            }
            if now >= deadline {
                return None;
            }
            let left = Duration::from_millis(deadline.millis_since(now).min(100));
            self.client.wait(now, left).unwrap();
        }
    }

    /// The next event of `id` (events of others are a failure).
    pub fn expect(&mut self, id: ConnId, secs: u64) -> Ev {
        let (got, ev) = self.next(secs);
        assert_eq!(got, id, "event {ev:?} for another connection");
        ev
    }

    /// Polls and waits for `ms` milliseconds, collecting every event.
    pub fn pump(&mut self, ms: u64) -> Vec<(ConnId, Ev)> {
        let deadline = self.clock.now().plus_millis(ms);
        let mut out = Vec::new();
        while let Some(e) = self.try_next(deadline.millis_since(self.clock.now())) {
            out.push(e);
        }
        out
    }
}

/// A text payload of exactly `n` bytes (ASCII, varied).
pub fn text_of(n: usize) -> String {
    (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect()
}

/// A binary payload of `n` bytes.
pub fn binary_of(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Listens on `addr` (port 0) and serves one connection with tungstenite,
/// running `serve` on it in a thread.
pub fn tungstenite_server<F>(addr: &str, serve: F) -> (SocketAddr, JoinHandle<()>)
where
    F: FnOnce(tungstenite::WebSocket<TcpStream>) + Send + 'static,
{
    let listener = TcpListener::bind(addr).unwrap();
    let local = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        serve(tungstenite::accept(stream).unwrap());
    });
    (local, handle)
}

/// Listens on `addr` (port 0) and echoes on `conns` connections, each in its
/// own thread.
pub fn echo_server(addr: &str, conns: usize) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(addr).unwrap();
    let local = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut workers = Vec::new();
        for stream in listener.incoming().take(conns) {
            let stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(20)))
                .unwrap();
            workers.push(std::thread::spawn(move || {
                echo(tungstenite::accept(stream).unwrap())
            }));
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    (local, handle)
}

/// Echoes text and binary messages until the connection ends.
pub fn echo<S: Read + Write>(mut ws: tungstenite::WebSocket<S>) {
    loop {
        match ws.read() {
            Ok(m @ (tungstenite::Message::Text(_) | tungstenite::Message::Binary(_))) => {
                ws.send(m).unwrap();
            }
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Listens on 127.0.0.1:0 and runs `f` on the first connection in a thread.
pub fn raw_server<F>(f: F) -> (u16, JoinHandle<()>)
where
    F: FnOnce(TcpStream) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        f(stream);
    });
    (port, handle)
}

/// Reads the HTTP request header (through the blank line).
pub fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut req = Vec::new();
    let mut byte = [0u8; 1];
    while !req.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "request cut short");
        req.push(byte[0]);
        assert!(req.len() < 8192);
    }
    req
}

/// The `Sec-WebSocket-Accept` value for a request.
pub fn accept_for(req: &[u8]) -> String {
    let text = std::str::from_utf8(req).unwrap();
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    String::from_utf8(ws_proto::handshake::accept_key(key.trim().as_bytes()).to_vec()).unwrap()
}

/// Reads the request and answers 101 with the right accept key.
pub fn handshake(s: &mut TcpStream) {
    let req = read_request(s);
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_for(&req)
    );
    s.write_all(resp.as_bytes()).unwrap();
}

/// An unmasked server frame.
pub fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(n as u8),
        n @ 126..=65535 => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// Reads one client frame: (first byte, unmasked payload). Asserts it is masked.
pub fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).unwrap();
    assert!(h[1] & 0x80 != 0, "client frame not masked");
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut key = [0u8; 4];
    s.read_exact(&mut key).unwrap();
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
    (h[0], payload)
}
