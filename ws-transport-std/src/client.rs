//! The [`Client`]: up to `max_connections` WebSocket connections over `mio`
//! sockets, advanced by [`Client::poll`] and put to sleep by [`Client::wait`].
//!
//! Each connection is a slot holding a [`ws_proto::Session`] and its link:
//!
//! ```text
//!   open ─► Resolving (worker thread) ─► Connecting (non-blocking connect, next address on failure)
//!        └► Connecting (IP literal)         │
//!                                           ▼
//!                                     Connected: socket ⇄ session bytes
//!   Closed event ─► the slot is freed; the socket lingers (flush the close frame,
//!                   wait for the server's FIN, bounded by `linger_ms`), then closes.
//! ```
//!
//! Sockets are edge-triggered: a readiness event sets a slot's `readable` /
//! `writable` hint, which stays set until a read or write returns
//! `WouldBlock`. `poll` does the I/O the hints allow, then asks the sessions
//! for events, round-robin across connections. A failure on the socket is
//! reported only after the events of the bytes already read.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::mem;
use std::net::{IpAddr, Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use ws_proto::{
    Config, Connection, Disconnect, HandshakeOptions, Instant, LinkError, Session, SessionEvent,
    State, Url, UrlError, MIN_RECV_BUFFER,
};

use crate::error::{CommandError, OpenError};
use crate::random::BufferedRandom;

/// The token of the waker (DNS answers and [`Notifier`]s).
const WAKER: Token = Token(usize::MAX);

/// The largest buffer a configuration may ask for (each of `rx_buffer`,
/// `tx_capacity`, `max_message_size`).
const MAX_BUFFER: usize = 1 << 30;

/// The session type of one connection.
type Sess = Session<BufferedRandom, Vec<u8>, Vec<u8>, Vec<u8>>;

/// What a name resolution worker sends back.
type Resolved = Result<Vec<SocketAddr>, LinkError>;

/// Limits and timeouts of a [`Client`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// How many connections may be open at once (default 16).
    pub max_connections: usize,
    /// Outbound queue bytes per connection (default 256 KiB). A frame that
    /// does not fit now is refused with `SendError::Backpressure`; one larger
    /// than this minus 262 bytes (the control frame reserve) never fits.
    pub tx_capacity: usize,
    /// Receive buffer bytes per connection (default 64 KiB, at least
    /// [`MIN_RECV_BUFFER`]).
    pub rx_buffer: usize,
    /// The largest message accepted (default 1 MiB); also the size of each
    /// connection's message assembler. It replaces `proto.max_message_size`.
    pub max_message_size: usize,
    /// How long name resolution plus TCP connect may take (default 10 s).
    pub connect_timeout_ms: u64,
    /// After a connection ended, how long its socket may linger to flush the
    /// last bytes (the close frame) and wait for the server to close TCP
    /// first (default 2 s). The slot is free at once; see [`Client::lingering`].
    pub linger_ms: u64,
    /// Handshake and close timeouts. The handshake timeout counts from
    /// [`Client::open`], so it also bounds name resolution and connect.
    pub proto: Config,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_connections: 16,
            tx_capacity: 256 << 10,
            rx_buffer: 64 << 10,
            max_message_size: 1 << 20,
            connect_timeout_ms: 10_000,
            linger_ms: 2_000,
            proto: Config::default(),
        }
    }
}

/// Names one connection of a [`Client`]: a slot and that slot's generation, so
/// an id whose connection ended never reaches a later connection in the slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    index: usize,
    generation: u64,
}

impl ConnId {
    /// The slot index (`0..max_connections`); slots are reused, ids are not.
    pub fn slot(self) -> usize {
        self.index
    }
}

/// Wakes a [`Client::wait`] from another thread (e.g. one that reads input
/// for the event loop). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Notifier(Arc<Waker>);

impl Notifier {
    /// Makes the client's current or next [`Client::wait`] return.
    ///
    /// # Errors
    ///
    /// The operating system's error from writing to the wake-up event.
    pub fn notify(&self) -> io::Result<()> {
        self.0.wake()
    }
}

/// The socket side of a connection.
enum Link {
    /// A worker thread resolves the host name.
    Resolving(mpsc::Receiver<Resolved>),
    /// A non-blocking connect is under way; `rest` are the addresses to try next.
    Connecting {
        stream: TcpStream,
        rest: VecDeque<SocketAddr>,
    },
    /// TCP is up; bytes flow between the socket and the session.
    Connected(TcpStream),
    /// No socket (it failed, or was never made).
    Gone,
}

/// How the socket failed or ended, waiting to be reported after the events
/// of the bytes already read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Eof,
    Link(LinkError),
}

/// A connection in a slot.
struct Active {
    id: ConnId,
    token: Token,
    session: Sess,
    link: Link,
    connect_deadline: Instant,
    readable: bool,
    writable: bool,
    /// A readiness event reported the peer's FIN (or an error): a short read
    /// no longer means the socket is drained, the EOF is still to be read.
    read_closed: bool,
    fault: Option<Fault>,
    /// The session had no event for the bytes read so far.
    idle: bool,
    /// A terminal event produced outside `poll_event` (link failure, timer).
    pending: Option<SessionEvent<'static>>,
    /// The `Closed` event was delivered: the id is dead, the slot is freed on
    /// the next `poll` or `open`.
    ended: bool,
    /// It was `Disconnect::Clean`: the socket waits for the server to close
    /// TCP first (RFC 6455 section 7.1.1) instead of half-closing at once.
    clean: bool,
}

impl Active {
    /// Ends the link and queues the terminal event.
    fn fail(&mut self, registry: &Registry, e: LinkError) {
        self.drop_link(registry);
        if self.pending.is_none() {
            self.pending = self.session.handle_link_error(e);
        }
    }

    fn drop_link(&mut self, registry: &Registry) {
        match mem::replace(&mut self.link, Link::Gone) {
            Link::Connecting { mut stream, .. } | Link::Connected(mut stream) => {
                let _ = registry.deregister(&mut stream);
            }
            Link::Resolving(_) | Link::Gone => {}
        }
    }

    /// Starts a connect to the first address of `addrs` that takes one.
    fn connect(
        &mut self,
        registry: &Registry,
        mut addrs: VecDeque<SocketAddr>,
        mut last: LinkError,
    ) {
        while let Some(addr) = addrs.pop_front() {
            match TcpStream::connect(addr) {
                Ok(mut stream) => {
                    let interest = Interest::READABLE | Interest::WRITABLE;
                    match registry.register(&mut stream, self.token, interest) {
                        Ok(()) => {
                            self.link = Link::Connecting {
                                stream,
                                rest: addrs,
                            };
                            self.readable = false;
                            self.writable = false;
                            self.read_closed = false;
                            return;
                        }
                        Err(e) => last = classify(&e, true),
                    }
                }
                Err(e) => last = classify(&e, true),
            }
        }
        self.fail(registry, last);
    }

    /// Moves the connection forward: DNS answer, connect, socket I/O, timers.
    fn drive(&mut self, registry: &Registry, now: Instant) {
        if self.ended || self.pending.is_some() {
            return;
        }
        if let Link::Resolving(rx) = &self.link {
            match rx.try_recv() {
                Ok(Ok(addrs)) => self.connect(registry, addrs.into(), LinkError::NameNotFound),
                Ok(Err(e)) => self.fail(registry, e),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => self.fail(registry, LinkError::NameNotFound),
            }
        }
        if matches!(self.link, Link::Resolving(_) | Link::Connecting { .. })
            && now >= self.connect_deadline
        {
            self.fail(registry, LinkError::ConnectTimeout);
        }
        if matches!(self.link, Link::Connecting { .. }) && (self.readable || self.writable) {
            self.check_connect(registry);
        }
        if let Link::Connected(stream) = &mut self.link {
            if self.fault.is_none() {
                self.fault = write_out(stream, &mut self.session, &mut self.writable);
            }
            while self.readable && self.fault.is_none() {
                let buf = self.session.read_buf();
                if buf.is_empty() {
                    break;
                }
                match stream.read(buf) {
                    Ok(0) => self.fault = Some(Fault::Eof),
                    Ok(n) => {
                        // A short read drained the socket: with edge-triggered
                        // epoll, bytes that arrive later raise a new event, so
                        // skip the read that would only say WouldBlock. Not
                        // once the FIN is known: it raises no new event, and
                        // only the next read reports it.
                        if n < buf.len() && !self.read_closed {
                            self.readable = false;
                        }
                        self.session.commit_read(n);
                        self.idle = false;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => self.fault = Some(Fault::Link(classify(&e, false))),
                }
            }
        }
        if self.pending.is_none() && self.idle {
            self.pending = match self.fault {
                Some(Fault::Eof) => self.session.handle_eof(),
                Some(Fault::Link(e)) => self.session.handle_link_error(e),
                None => None,
            };
        }
        if self.pending.is_none() {
            self.pending = self.session.handle_timeout(now);
        }
    }

    /// After a readiness event on a connecting socket: done, failed (try the
    /// next address), or not yet.
    fn check_connect(&mut self, registry: &Registry) {
        let Link::Connecting { stream, .. } = &mut self.link else {
            return;
        };
        let result = match stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match stream.peer_addr() {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(false) => {
                self.readable = false;
                self.writable = false;
            }
            Ok(true) => {
                if let Link::Connecting { stream, .. } = mem::replace(&mut self.link, Link::Gone) {
                    let _ = stream.set_nodelay(true);
                    self.link = Link::Connected(stream);
                    self.readable = true;
                    self.writable = true;
                }
            }
            Err(e) => {
                if let Link::Connecting { mut stream, rest } =
                    mem::replace(&mut self.link, Link::Gone)
                {
                    let _ = registry.deregister(&mut stream);
                    self.connect(registry, rest, classify(&e, true));
                }
            }
        }
    }

    /// Whether `poll` has something to do for this connection now.
    fn has_work(&mut self) -> bool {
        if self.ended || self.pending.is_some() || (self.fault.is_some() && self.idle) {
            return true;
        }
        match &self.link {
            Link::Connecting { .. } => self.readable || self.writable,
            Link::Connected(_) if self.fault.is_none() => {
                (self.writable && !self.session.transmit().is_empty())
                    || (self.readable && !self.session.read_buf().is_empty())
            }
            _ => false,
        }
    }

    fn deadline(&self) -> Option<Instant> {
        if self.ended || self.pending.is_some() {
            return None;
        }
        let connect = match self.link {
            Link::Resolving(_) | Link::Connecting { .. } => Some(self.connect_deadline),
            Link::Connected(_) | Link::Gone => None,
        };
        earliest(connect, self.session.poll_timeout())
    }
}

/// Writes what the session has to transmit until done or `WouldBlock`.
fn write_out(stream: &mut TcpStream, session: &mut Sess, writable: &mut bool) -> Option<Fault> {
    while *writable {
        let out = session.transmit();
        if out.is_empty() {
            break;
        }
        match stream.write(out) {
            Ok(0) => return Some(Fault::Link(LinkError::Reset)),
            Ok(n) => session.advance_transmit(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *writable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Some(Fault::Link(classify(&e, false))),
        }
    }
    None
}

/// Resolves a name. Names under `.invalid` fail at once without asking the
/// resolver, as RFC 6761 section 6.4 says name libraries should.
fn lookup(host: &str, port: u16) -> io::Result<std::vec::IntoIter<SocketAddr>> {
    let name = host.trim_end_matches('.');
    let tld = name.rsplit('.').next().unwrap_or(name);
    if tld.eq_ignore_ascii_case("invalid") {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "reserved .invalid name",
        ));
    }
    (host, port).to_socket_addrs()
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Names an I/O error the way every transport does.
fn classify(e: &io::Error, connecting: bool) -> LinkError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => LinkError::Refused,
        io::ErrorKind::TimedOut if connecting => LinkError::ConnectTimeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::TimedOut => LinkError::Reset,
        _ => LinkError::Io,
    }
}

/// An ended connection whose socket still flushes its last bytes.
struct Lingering {
    token: Token,
    session: Sess,
    stream: TcpStream,
    deadline: Instant,
    readable: bool,
    writable: bool,
    /// Send FIN once flushed (the end was not a clean close handshake, so
    /// the server has no reason to close first).
    half_close: bool,
    /// The server already closed its side: done once flushed.
    peer_closed: bool,
}

impl Lingering {
    /// Flushes, half-closes unless the end was clean, then reads and
    /// discards until the server closes. Returns whether the socket can be
    /// closed.
    fn drive(&mut self, now: Instant) -> bool {
        if now >= self.deadline
            || write_out(&mut self.stream, &mut self.session, &mut self.writable).is_some()
        {
            return true;
        }
        if !self.session.transmit().is_empty() {
            return false;
        }
        if self.peer_closed {
            return true;
        }
        if self.half_close {
            self.half_close = false;
            if self.stream.shutdown(Shutdown::Write).is_err() {
                return true;
            }
        }
        let mut scratch = [0u8; 4096];
        while self.readable {
            match self.stream.read(&mut scratch) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return true,
            }
        }
        false
    }

    fn has_work(&self) -> bool {
        self.readable || (self.writable && !self.session.transmit().is_empty())
    }
}

/// One connection slot.
struct Slot {
    /// The generation the next connection in this slot gets.
    generation: u64,
    active: Option<Active>,
}

/// A non-blocking WebSocket client over `mio` for up to
/// [`ClientConfig::max_connections`] connections.
///
/// Drive it with a loop like this one (see the `wsclient` example): one
/// reading of the clock per turn (timeouts are in milliseconds), `poll`
/// until `None`, then `wait`.
///
/// ```no_run
/// use std::time::Duration;
/// use ws_proto::{Message, SessionEvent};
/// use ws_transport_std::{Client, ClientConfig, Clock};
///
/// let clock = Clock::new();
/// let mut client = Client::new(ClientConfig::default())?;
/// let id = client.open("ws://127.0.0.1:9001/", clock.now())?;
/// loop {
///     let now = clock.now();
///     while let Some((_, event)) = client.poll(now) {
///         match event {
///             SessionEvent::Message(Message::Text(t)) => println!("{t}"),
///             SessionEvent::Closed(why) => { eprintln!("{why}"); return Ok(()); }
///             _ => {}
///         }
///     }
///     client.wait(clock.now(), Duration::from_secs(1))?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Client {
    config: ClientConfig,
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
    slots: Vec<Slot>,
    lingering: Vec<Lingering>,
    next_token: usize,
    /// Where the next event search starts (round-robin).
    cursor: usize,
    /// A command or wake-up since the sockets were last served.
    kick: bool,
    /// `poll` should collect readiness events first (no `wait` since the last turn).
    harvest: bool,
    /// The sockets were served since `poll` last returned `None`: events
    /// already buffered in the sessions are handed out before the next pass.
    served: bool,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("connections", &self.connection_count())
            .field("lingering", &self.lingering.len())
            .finish()
    }
}

impl Client {
    /// A client with no connections.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a configuration that cannot work (no connections,
    /// a receive buffer under [`MIN_RECV_BUFFER`], a buffer over 1 GiB); the
    /// OS error when the poller cannot be made.
    pub fn new(config: ClientConfig) -> io::Result<Client> {
        if config.max_connections == 0 || config.max_connections >= (1 << 24) {
            return Err(invalid("max_connections must be 1..2^24"));
        }
        if config.rx_buffer < MIN_RECV_BUFFER {
            return Err(invalid("rx_buffer below ws_proto::MIN_RECV_BUFFER"));
        }
        if [
            config.rx_buffer,
            config.tx_capacity,
            config.max_message_size,
        ]
        .iter()
        .any(|&n| n > MAX_BUFFER)
        {
            return Err(invalid("a buffer size is over 1 GiB"));
        }
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let slots = (0..config.max_connections)
            .map(|_| Slot {
                generation: 0,
                active: None,
            })
            .collect();
        Ok(Client {
            events: Events::with_capacity(64),
            next_token: config.max_connections,
            config,
            poll,
            waker,
            slots,
            lingering: Vec::new(),
            cursor: 0,
            kick: false,
            harvest: true,
            served: false,
        })
    }

    /// A handle that wakes [`wait`](Self::wait) from another thread.
    pub fn notifier(&self) -> Notifier {
        Notifier(Arc::clone(&self.waker))
    }

    /// Starts a connection. Never blocks: it parses the URL, reserves a slot,
    /// queues the handshake request, and starts name resolution on a worker
    /// thread (or, for an IP literal, a non-blocking connect). Every later
    /// failure (refused, name not found, timeout, handshake rejected) comes
    /// as a [`SessionEvent::Closed`] from [`poll`](Self::poll).
    ///
    /// # Errors
    ///
    /// [`OpenError::Url`] for a URL that is not `ws://` (`wss://` gives
    /// [`UrlError::TlsUnsupported`]), [`OpenError::TooManyConnections`] when
    /// every slot is taken, [`OpenError::Request`] when the request does not
    /// fit `tx_capacity`, [`OpenError::Io`] when no worker thread can start.
    pub fn open(&mut self, url: &str, now: Instant) -> Result<ConnId, OpenError> {
        self.reap(now);
        let parsed = Url::parse(url).map_err(OpenError::Url)?;
        if parsed.secure {
            return Err(OpenError::Url(UrlError::TlsUnsupported));
        }
        let index = self
            .slots
            .iter()
            .position(|s| s.active.is_none())
            .ok_or(OpenError::TooManyConnections)?;
        let proto = Config {
            max_message_size: self.config.max_message_size as u64,
            ..self.config.proto
        };
        let conn = Connection::new(
            BufferedRandom::new(),
            vec![0; self.config.tx_capacity],
            &parsed,
            &HandshakeOptions::default(),
            proto,
            now,
        )
        .map_err(OpenError::Request)?;
        let session = Session::new(
            conn,
            vec![0; self.config.rx_buffer],
            vec![0; self.config.max_message_size],
        )
        .map_err(|_| OpenError::Io(io::ErrorKind::InvalidInput))?;
        let port = parsed.port;
        let ip = parsed.host.parse::<IpAddr>().ok();
        let resolving = match ip {
            Some(_) => None,
            None => Some(self.resolve(parsed.host, port)?),
        };
        let slot = &mut self.slots[index];
        let id = ConnId {
            index,
            generation: slot.generation,
        };
        let mut active = Active {
            id,
            token: Token(index),
            session,
            link: Link::Gone,
            connect_deadline: now.plus_millis(self.config.connect_timeout_ms),
            readable: false,
            writable: false,
            read_closed: false,
            fault: None,
            idle: false,
            pending: None,
            ended: false,
            clean: false,
        };
        match (resolving, ip) {
            (Some(rx), _) => active.link = Link::Resolving(rx),
            (None, Some(ip)) => {
                let addrs = VecDeque::from([SocketAddr::new(ip, port)]);
                active.connect(self.poll.registry(), addrs, LinkError::Io);
            }
            (None, None) => active.fail(self.poll.registry(), LinkError::NameNotFound),
        }
        slot.active = Some(active);
        self.kick = true;
        Ok(id)
    }

    /// Resolves `host` on a worker thread that wakes the poller when done.
    fn resolve(&self, host: &str, port: u16) -> Result<mpsc::Receiver<Resolved>, OpenError> {
        let (tx, rx) = mpsc::channel();
        let waker = Arc::clone(&self.waker);
        let host = host.to_owned();
        std::thread::Builder::new()
            .name("ws-dns".into())
            .spawn(move || {
                let result = match lookup(&host, port) {
                    Ok(addrs) => {
                        let addrs: Vec<SocketAddr> = addrs.collect();
                        if addrs.is_empty() {
                            Err(LinkError::NameNotFound)
                        } else {
                            Ok(addrs)
                        }
                    }
                    Err(_) => Err(LinkError::NameNotFound),
                };
                // The connection may be gone already: then nobody listens.
                if tx.send(result).is_ok() {
                    let _ = waker.wake();
                }
            })
            .map_err(|e| OpenError::Io(e.kind()))?;
        Ok(rx)
    }

    fn active_mut(&mut self, id: ConnId) -> Result<&mut Active, CommandError> {
        match self.slots.get_mut(id.index).and_then(|s| s.active.as_mut()) {
            Some(a) if a.id == id && !a.ended => Ok(a),
            _ => Err(CommandError::UnknownConnection),
        }
    }

    fn command(
        &mut self,
        id: ConnId,
        f: impl FnOnce(&mut Connection<BufferedRandom, Vec<u8>>) -> Result<(), ws_proto::SendError>,
    ) -> Result<(), CommandError> {
        let active = self.active_mut(id)?;
        f(active.session.connection())?;
        self.kick = true;
        Ok(())
    }

    /// Queues a text message as one frame; [`poll`](Self::poll) writes it.
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`], or [`CommandError::Send`] with
    /// `Backpressure` (the queue is full now: poll and retry; the connection
    /// stays open), `TooLarge`, `NotOpen`, `Closed`.
    pub fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandError> {
        self.command(id, |c| c.send_text(text))
    }

    /// Queues a binary message as one frame.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, id: ConnId, data: &[u8]) -> Result<(), CommandError> {
        self.command(id, |c| c.send_binary(data))
    }

    /// Queues a ping (payload at most 125 bytes).
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text), plus `ControlTooLong`.
    pub fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandError> {
        self.command(id, |c| c.ping(payload))
    }

    /// Starts the close handshake (or abandons a connection still connecting).
    /// The `Closed` event follows from [`poll`](Self::poll) when the server
    /// answers, or with `CloseTimeout` when it does not.
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`], or [`CommandError::Send`] with
    /// `InvalidCloseCode` / `ReasonTooLong`.
    pub fn close(
        &mut self,
        id: ConnId,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandError> {
        self.command(id, |c| c.close(now, code, reason))
    }

    /// The connection's state, or `None` for an unknown or ended id.
    /// `Connecting` covers name resolution, TCP connect and the handshake.
    pub fn state(&self, id: ConnId) -> Option<State> {
        match self.slots.get(id.index).and_then(|s| s.active.as_ref()) {
            Some(a) if a.id == id && !a.ended => Some(a.session.connection_ref().state()),
            _ => None,
        }
    }

    /// How many connections are open or opening (ended ones not counted).
    pub fn connection_count(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.active.as_ref().is_some_and(|a| !a.ended))
            .count()
    }

    /// How many ended connections still flush their last bytes or wait for
    /// the server to close TCP (each for at most `linger_ms`). A program that
    /// is about to exit can poll until this is 0 so its close frame leaves.
    pub fn lingering(&self) -> usize {
        let ended = self
            .slots
            .iter()
            .filter(|s| s.active.as_ref().is_some_and(|a| a.ended));
        self.lingering.len() + ended.count()
    }

    /// Frees the slots of ended connections; their sockets linger.
    fn reap(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if !slot.active.as_ref().is_some_and(|a| a.ended) {
                continue;
            }
            let Some(mut active) = slot.active.take() else {
                continue;
            };
            slot.generation += 1;
            let registry = self.poll.registry();
            // A socket that failed is closed at once; one the server only
            // half-closed may still take the echo of its close frame.
            if let (Link::Connected(mut stream), None | Some(Fault::Eof)) =
                (mem::replace(&mut active.link, Link::Gone), active.fault)
            {
                let token = Token(self.next_token);
                self.next_token = self
                    .next_token
                    .wrapping_add(1)
                    .max(self.config.max_connections);
                let interest = Interest::READABLE | Interest::WRITABLE;
                if registry.reregister(&mut stream, token, interest).is_ok() {
                    self.lingering.push(Lingering {
                        token,
                        session: active.session,
                        stream,
                        deadline: now.plus_millis(self.config.linger_ms),
                        readable: active.readable,
                        writable: active.writable,
                        half_close: !active.clean,
                        peer_closed: active.fault == Some(Fault::Eof),
                    });
                } else {
                    let _ = stream.shutdown(Shutdown::Both);
                }
            } else {
                active.drop_link(registry);
            }
        }
    }

    /// Sets the readiness hints from the collected events.
    fn dispatch_events(&mut self) {
        for event in self.events.iter() {
            let token = event.token();
            if token == WAKER {
                self.kick = true;
                continue;
            }
            let readable = event.is_readable() || event.is_read_closed() || event.is_error();
            let writable = event.is_writable() || event.is_write_closed() || event.is_error();
            if let Some(a) = self.slots.get_mut(token.0).and_then(|s| s.active.as_mut()) {
                a.readable |= readable;
                a.writable |= writable;
                a.read_closed |= event.is_read_closed() || event.is_error();
            } else if let Some(l) = self.lingering.iter_mut().find(|l| l.token == token) {
                l.readable |= readable;
                l.writable |= writable;
            }
        }
    }

    fn harvest(&mut self, timeout: Duration) -> io::Result<()> {
        match self.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            Err(e) => return Err(e),
        }
        self.dispatch_events();
        self.harvest = false;
        Ok(())
    }

    /// Never blocks. Returns the next event, taking connections in turn.
    /// After a command, a wake-up or a `None`, it first advances every
    /// connection (DNS answers, connects, writes, reads, timers); otherwise
    /// it hands out the events of bytes already read. Call it until `None` on
    /// each turn of the loop, then [`wait`](Self::wait) (which returns at once
    /// when a socket can move more bytes).
    ///
    /// After a connection's `Closed` event its id is dead (commands give
    /// [`CommandError::UnknownConnection`], [`state`](Self::state) gives
    /// `None`) and its slot is free; its socket lingers to flush the close
    /// frame, then closes.
    pub fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        // Measured on the pipelined echo benchmark: serving every socket
        // before each event was a quarter of the client's time.
        if !self.served || self.kick {
            self.serve(now);
        }
        let Client {
            slots,
            cursor,
            served,
            harvest,
            ..
        } = self;
        let n = slots.len();
        let start = *cursor % n;
        let (head, tail) = slots.split_at_mut(start);
        for (k, slot) in tail.iter_mut().chain(head.iter_mut()).enumerate() {
            let Some(a) = slot.active.as_mut() else {
                continue;
            };
            if a.ended {
                continue;
            }
            let next = (start + k + 1) % n;
            if let Some(event) = a.pending.take() {
                a.ended = matches!(event, SessionEvent::Closed(_));
                // The next call frees the slot and flushes its last bytes.
                *served &= !a.ended;
                *cursor = next;
                return Some((a.id, event));
            }
            match a.session.poll_event(now) {
                Some(event) => {
                    a.idle = false;
                    a.ended = matches!(event, SessionEvent::Closed(_));
                    a.clean = matches!(event, SessionEvent::Closed(Disconnect::Clean(_)));
                    *served &= !a.ended;
                    *cursor = next;
                    return Some((a.id, event));
                }
                None => a.idle = true,
            }
        }
        // Nothing buffered: the next call serves the sockets again.
        *served = false;
        *harvest = true;
        None
    }

    /// Collects readiness, frees ended slots and moves every connection's
    /// I/O and timers forward.
    fn serve(&mut self, now: Instant) {
        if self.harvest {
            // A failed zero-timeout poll only delays readiness to `wait`.
            let _ = self.harvest(Duration::ZERO);
        }
        self.reap(now);
        let registry = self.poll.registry();
        for slot in &mut self.slots {
            if let Some(a) = slot.active.as_mut() {
                a.drive(registry, now);
            }
        }
        self.lingering.retain_mut(|l| {
            let done = l.drive(now);
            if done {
                let _ = registry.deregister(&mut l.stream);
            }
            !done
        });
        self.served = true;
        self.kick = false;
    }

    /// Blocks until a socket is ready, a DNS answer or [`Notifier`] arrives,
    /// the earliest connect/handshake/close/linger deadline passes, or `max`
    /// elapses, whichever is first. Returns at once when [`poll`](Self::poll)
    /// has work (a command was given, bytes are waiting). An idle loop of
    /// `poll` + `wait` uses no CPU.
    ///
    /// # Errors
    ///
    /// The operating system's error from the poller.
    pub fn wait(&mut self, now: Instant, max: Duration) -> io::Result<()> {
        if self.has_work() {
            return Ok(());
        }
        let mut deadline = None;
        for a in self.slots.iter().filter_map(|s| s.active.as_ref()) {
            deadline = earliest(deadline, a.deadline());
        }
        for l in &self.lingering {
            deadline = earliest(deadline, Some(l.deadline));
        }
        let timeout = match deadline {
            Some(d) => max.min(Duration::from_millis(d.millis_since(now))),
            None => max,
        };
        self.harvest(timeout)
    }

    fn has_work(&mut self) -> bool {
        self.kick
            || self
                .slots
                .iter_mut()
                .filter_map(|s| s.active.as_mut())
                .any(Active::has_work)
            || self.lingering.iter().any(Lingering::has_work)
    }
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_tld_never_reaches_the_resolver() {
        for name in ["x.invalid", "a.b.INVALID", "invalid", "y.invalid."] {
            let e = lookup(name, 80).err().map(|e| e.kind());
            assert_eq!(e, Some(io::ErrorKind::NotFound), "{name}");
        }
        assert!(lookup("localhost", 80).is_ok_and(|mut a| a.next().is_some()));
        assert!(lookup("127.0.0.1", 80).is_ok());
    }

    #[test]
    fn io_errors_are_named() {
        let e = |k| io::Error::from(k);
        assert_eq!(
            classify(&e(io::ErrorKind::ConnectionRefused), true),
            LinkError::Refused
        );
        assert_eq!(
            classify(&e(io::ErrorKind::TimedOut), true),
            LinkError::ConnectTimeout
        );
        assert_eq!(
            classify(&e(io::ErrorKind::TimedOut), false),
            LinkError::Reset
        );
        assert_eq!(
            classify(&e(io::ErrorKind::BrokenPipe), false),
            LinkError::Reset
        );
        assert_eq!(classify(&e(io::ErrorKind::Other), false), LinkError::Io);
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        for config in [
            ClientConfig {
                max_connections: 0,
                ..ClientConfig::default()
            },
            ClientConfig {
                rx_buffer: MIN_RECV_BUFFER - 1,
                ..ClientConfig::default()
            },
            ClientConfig {
                max_message_size: usize::MAX,
                ..ClientConfig::default()
            },
            ClientConfig {
                tx_capacity: MAX_BUFFER + 1,
                ..ClientConfig::default()
            },
        ] {
            let e = Client::new(config).err().map(|e| e.kind());
            assert_eq!(e, Some(io::ErrorKind::InvalidInput), "{config:?}");
        }
    }
}
