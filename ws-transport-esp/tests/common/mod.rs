//! Test support: a tungstenite server on loopback, an OS random source, a
//! clock, a stack wrapper that refuses, delays and trickles, and a driver
//! that polls a client into owned events within a time bound.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod nb_stack;

use std::cell::Cell;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use embedded_nal::{nb, AddrType, Dns, TcpClientStack};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};
use ws_proto::{
    DataKind, Disconnect, Error, Instant, LinkError, Random, RandomError, SessionEvent,
};
use ws_transport_esp::{ConnId, EspClient, EspSlots, NetworkReady, Slot, Transport};

/// Every wait in these tests ends by then.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The OS source (getrandom): never a fixed or all-zero source.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// Fresh slots for one client, for the test's whole run (a device has
/// them in a `static`; a test leaks a few KB instead).
pub fn slots<R, const C: usize, const RX: usize, const TX: usize, const MSG: usize>(
) -> &'static mut EspSlots<R, C, RX, TX, MSG> {
    Box::leak(Box::new([const { Slot::new() }; C]))
}

/// Milliseconds since the test started.
pub struct Clock(std::time::Instant);

impl Clock {
    pub fn new() -> Self {
        Clock(std::time::Instant::now())
    }
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.0.elapsed().as_millis() as u64)
    }
}

/// A tungstenite server for one connection on `addr` (port 0); `handler`
/// runs on the accepted WebSocket and its result is joined by the test.
pub fn serve_on<T: Send + 'static>(
    addr: &str,
    handler: impl FnOnce(&mut WebSocket<TcpStream>) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    let listener = TcpListener::bind(addr).unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if start.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(1)),
                Err(e) => panic!("no client connected: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        stream.set_write_timeout(Some(LIMIT)).unwrap();
        // tungstenite takes a request that trickles in byte by byte for an
        // attack: let the whole request arrive first.
        let mut peek = [0u8; 4096];
        while start.elapsed() < LIMIT {
            let n = stream.peek(&mut peek).unwrap();
            if n == 0 || peek[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut ws = tungstenite::accept(stream).unwrap();
        handler(&mut ws)
    });
    (port, h)
}

pub fn serve<T: Send + 'static>(
    handler: impl FnOnce(&mut WebSocket<TcpStream>) -> T + Send + 'static,
) -> (u16, JoinHandle<T>) {
    serve_on("127.0.0.1:0", handler)
}

/// Issue 11's server: after the handshake it waits for `go` (the client's
/// first frame is then in its receive queue, unread), sends `n` text
/// messages `message {i}`, and returns; the socket is then closed with the
/// client's bytes unread, so the kernel resets the connection (RST, not
/// FIN). When the handle is joined, the reset went out.
pub fn serve_then_reset(n: usize, go: mpsc::Receiver<()>) -> (u16, JoinHandle<()>) {
    serve(move |ws| {
        go.recv_timeout(LIMIT).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        for i in 0..n {
            ws.send(Message::text(format!("message {i}"))).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    })
}

/// What a client reports after [`serve_then_reset`]: the `n` messages in
/// order, then the reset.
pub fn messages_then_reset(n: usize) -> Vec<Ev> {
    let mut evs: Vec<Ev> = (0..n).map(|i| Ev::Text(format!("message {i}"))).collect();
    evs.push(Ev::Link(LinkError::Reset));
    evs
}

/// Echoes data messages until the close handshake; returns how many it echoed.
pub fn echo(ws: &mut WebSocket<TcpStream>) -> usize {
    let mut n = 0;
    loop {
        match ws.read() {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                ws.send(m).unwrap();
                n += 1;
            }
            Ok(_) => {}
            Err(_) => return n,
        }
    }
}

/// Writes raw bytes under the WebSocket (for frames tungstenite would not send).
pub fn raw(ws: &mut WebSocket<TcpStream>, bytes: &[u8]) {
    ws.get_mut().write_all(bytes).unwrap();
    ws.get_mut().flush().unwrap();
}

pub fn close_code(m: &Message) -> Option<u16> {
    match m {
        Message::Close(Some(f)) => Some(u16::from(f.code)),
        _ => None,
    }
}

pub fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(tungstenite::protocol::CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }))
}

/// An event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Connected,
    Text(String),
    Binary(Vec<u8>),
    Fragment(DataKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Clean(Option<u16>, String),
    Failed(Error),
    Link(LinkError),
    Local,
}

impl Ev {
    pub fn from(ev: SessionEvent<'_>) -> Ev {
        match ev {
            SessionEvent::Connected { .. } => Ev::Connected,
            SessionEvent::Message(ws_proto::Message::Text(t)) => Ev::Text(t.into()),
            SessionEvent::Message(ws_proto::Message::Binary(b)) => Ev::Binary(b.into()),
            SessionEvent::Fragment { kind, data, fin } => Ev::Fragment(kind, data.into(), fin),
            SessionEvent::Ping(p) => Ev::Ping(p.into()),
            SessionEvent::Pong(p) => Ev::Pong(p.into()),
            SessionEvent::Closed(Disconnect::Clean(f)) => Ev::Clean(f.code, f.reason.into()),
            SessionEvent::Closed(Disconnect::Error(e)) => Ev::Failed(e),
            SessionEvent::Closed(Disconnect::Link(e)) => Ev::Link(e),
            SessionEvent::Closed(Disconnect::Local) => Ev::Local,
            other => panic!("an event this test does not know: {other:?}"),
        }
    }

    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            Ev::Clean(..) | Ev::Failed(_) | Ev::Link(_) | Ev::Local
        )
    }
}

/// Polls `client` every turn, collecting events, until `done` says so.
/// Panics (failing the test) when [`LIMIT`] passes first.
pub fn drive<T, N, R, const C: usize, const RX: usize, const TX: usize, const MSG: usize>(
    client: &mut EspClient<'_, T, N, R, C, RX, TX, MSG>,
    clock: &Clock,
    mut done: impl FnMut(&[(ConnId, Ev)]) -> bool,
) -> Vec<(ConnId, Ev)>
where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    loop {
        let mut turns = 0;
        while let Some((id, ev)) = client.poll(clock.now()) {
            out.push((id, Ev::from(ev)));
            turns += 1;
            assert!(turns < 100_000, "poll never returned None");
        }
        if done(&out) {
            return out;
        }
        assert!(start.elapsed() < LIMIT, "timed out; events so far: {out:?}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Issue 11 over an nb client: while the client has a frame queued and
/// unwritten, the server sends `n` messages and resets the connection. All
/// `n` arrive, in order, then `Link(Reset)`.
pub fn reset_while_a_write_is_pending<
    T,
    N,
    R,
    const C: usize,
    const RX: usize,
    const TX: usize,
    const MSG: usize,
>(
    client: &mut EspClient<'_, T, N, R, C, RX, TX, MSG>,
    clock: &Clock,
    host: &str,
) where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    const N: usize = 50;
    let (go_tx, go_rx) = mpsc::channel();
    let (port, server) = serve_then_reset(N, go_rx);
    let id = client
        .open(&format!("ws://{host}:{port}/"), clock.now())
        .unwrap();
    connect(client, clock, id);
    client.send_text(id, "left unread by the server").unwrap();
    let sent = std::time::Instant::now();
    let evs = drive(client, clock, |_| {
        sent.elapsed() > Duration::from_millis(100)
    });
    assert!(evs.is_empty(), "{evs:?}");
    go_tx.send(()).unwrap();
    // Queued, and nothing is polled until the reset went out.
    client.send_text(id, &"x".repeat(TX / 2)).unwrap();
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let evs = drive(client, clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert!(evs.iter().all(|(i, _)| *i == id));
    let evs: Vec<Ev> = evs.into_iter().map(|(_, e)| e).collect();
    assert_eq!(evs, messages_then_reset(N));
}

/// Drives until `id` reports `Connected`.
pub fn connect<T, N, R, const C: usize, const RX: usize, const TX: usize, const MSG: usize>(
    client: &mut EspClient<'_, T, N, R, C, RX, TX, MSG>,
    clock: &Clock,
    id: ConnId,
) where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    let evs = drive(client, clock, |e| {
        e.iter()
            .any(|(i, e)| *i == id && (*e == Ev::Connected || e.is_closed()))
    });
    assert_eq!(evs.last().map(|e| &e.1), Some(&Ev::Connected), "{evs:?}");
}

/// A readiness flag the test flips.
#[derive(Clone, Default)]
pub struct Flag(pub Rc<Cell<bool>>);

impl NetworkReady for Flag {
    fn is_ready(&self) -> bool {
        self.0.get()
    }
}

/// Counts what the client asked of the stack.
#[derive(Clone, Default)]
pub struct Counters {
    pub sockets: Rc<Cell<usize>>,
    pub closes: Rc<Cell<usize>>,
}

/// Wraps the std stack: says `WouldBlock` at random points (seeded), moves at
/// most `max_io` bytes per call, answers DNS for its own names, counts calls.
pub struct Chaos {
    pub inner: std_embedded_nal::Stack,
    pub seed: u64,
    /// Percent of calls that say `WouldBlock`.
    pub block: u64,
    pub max_io: usize,
    pub names: Vec<(&'static str, IpAddr)>,
    /// `connect` never completes (for the timeout test).
    pub stall_connect: bool,
    pub counters: Counters,
}

impl Chaos {
    pub fn new(seed: u64, block: u64, max_io: usize) -> Self {
        Chaos {
            inner: std_embedded_nal::Stack,
            seed: seed | 1,
            block,
            max_io,
            names: Vec::new(),
            stall_connect: false,
            counters: Counters::default(),
        }
    }

    fn blocks(&mut self) -> bool {
        // xorshift64: the test's schedule of refusals, not key material.
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % 100 < self.block
    }
}

impl TcpClientStack for Chaos {
    type TcpSocket = <std_embedded_nal::Stack as TcpClientStack>::TcpSocket;
    type Error = <std_embedded_nal::Stack as TcpClientStack>::Error;

    fn socket(&mut self) -> Result<Self::TcpSocket, Self::Error> {
        self.counters.sockets.set(self.counters.sockets.get() + 1);
        self.inner.socket()
    }

    fn connect(
        &mut self,
        s: &mut Self::TcpSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), Self::Error> {
        if self.stall_connect || self.blocks() {
            return Err(nb::Error::WouldBlock);
        }
        self.inner.connect(s, remote)
    }

    fn send(&mut self, s: &mut Self::TcpSocket, buf: &[u8]) -> nb::Result<usize, Self::Error> {
        if self.blocks() {
            return Err(nb::Error::WouldBlock);
        }
        let n = buf.len().min(self.max_io);
        self.inner.send(s, &buf[..n])
    }

    fn receive(
        &mut self,
        s: &mut Self::TcpSocket,
        buf: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        if self.blocks() {
            return Err(nb::Error::WouldBlock);
        }
        let n = buf.len().min(self.max_io);
        self.inner.receive(s, &mut buf[..n])
    }

    fn close(&mut self, s: Self::TcpSocket) -> Result<(), Self::Error> {
        self.counters.closes.set(self.counters.closes.get() + 1);
        self.inner.close(s)
    }
}

impl Dns for Chaos {
    type Error = ();

    fn get_host_by_name(&mut self, host: &str, _: AddrType) -> nb::Result<IpAddr, ()> {
        if self.blocks() {
            return Err(nb::Error::WouldBlock);
        }
        self.names
            .iter()
            .find(|(n, _)| *n == host)
            .map(|(_, ip)| *ip)
            .ok_or(nb::Error::Other(()))
    }

    fn get_host_by_address(&mut self, _: IpAddr, _: &mut [u8]) -> nb::Result<usize, ()> {
        Err(nb::Error::Other(()))
    }
}

/// Keeps polling `client` (so lingering sockets flush) until `server` ends,
/// then until every lingering socket saw the server's FIN and was closed.
pub fn join_polling<
    T,
    N,
    R,
    U,
    const C: usize,
    const RX: usize,
    const TX: usize,
    const MSG: usize,
>(
    client: &mut EspClient<'_, T, N, R, C, RX, TX, MSG>,
    clock: &Clock,
    server: JoinHandle<U>,
) -> U
where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    let start = std::time::Instant::now();
    while !server.is_finished() {
        assert!(
            start.elapsed() < LIMIT + Duration::from_secs(1),
            "server never ended"
        );
        while client.poll(clock.now()).is_some() {}
        std::thread::sleep(Duration::from_micros(200));
    }
    let result = server.join().unwrap();
    while client.lingering() > 0 {
        assert!(
            start.elapsed() < LIMIT + Duration::from_secs(2),
            "a socket lingers after the server closed"
        );
        while client.poll(clock.now()).is_some() {}
        std::thread::sleep(Duration::from_micros(200));
    }
    result
}
