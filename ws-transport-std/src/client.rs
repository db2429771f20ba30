//! The [`Client`]: a [`ws_proto::Driver`] executed on `mio` sockets, with
//! name resolution on worker threads.
//!
//! The driver decides everything about a connection's life (resolve,
//! connect, next address, handshake, timers, the TCP close policy, linger,
//! fairness, faults after buffered events). This file only executes its
//! actions:
//!
//! ```text
//!   Resolve  ─► a worker thread runs getaddrinfo, wakes the poller; the answer goes to handle_resolved
//!   Connect  ─► non-blocking TcpStream::connect, registered with mio; on readiness, take_error/peer_addr
//!   Read     ─► stream.read(buf)      ─► handle_read(Io)
//!   Write    ─► stream.write(bytes)   ─► handle_write(Io)
//!   Shutdown ─► stream.shutdown(Write)
//!   Close    ─► deregister, drop
//! ```
//!
//! For a `wss://` connection (the driver names its server), `Connect` also
//! starts a rustls client, and `Read`/`Write` go through it ([`crate::tls`]);
//! `Shutdown` and `Close` send TLS close_notify first.
//!
//! Sockets are edge-triggered: a readiness event is passed on as a
//! [`Readiness`] hint, which the driver keeps until a read or write says
//! `WouldBlock`.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use ws_proto::driver::{
    Action, ConnectOutcome, DriverConfig, Io, Readiness, Resolution, Slot, Storage,
};
use ws_proto::frame::MAX_HEADER_LEN;
use ws_proto::queue::CONTROL_RESERVE;
use ws_proto::{
    CommandError, Config, ConnId, Connection, DeflateConfig, Driver, GrowableBuffer,
    HandshakeOptions, Instant, LinkError, OpenError, SessionConfigError, SessionEvent, State,
    Transport, MIN_RECV_BUFFER,
};

use crate::error::ConfigError;
use crate::random::MaskRandom;
use crate::tls::{self, TlsConfig, TlsLink};

/// The token of the waker (DNS answers and [`Notifier`]s).
const WAKER: Token = Token(usize::MAX);

/// The largest buffer a configuration may ask for (each of `rx_buffer`,
/// `tx_capacity`, `max_message_size`).
const MAX_BUFFER: usize = 1 << 30;

/// How many actions one pass executes before handing out events again.
const ACTIONS_PER_PASS: usize = 4096;

/// The storage of one connection: grows on demand, shrinks back.
type Buf = GrowableBuffer;

/// What each buffer starts with: an idle connection holds this much of
/// each, not its limits.
const INITIAL_BUFFER: usize = 4 << 10;

/// Bytes each connection slot of a [`Client`] holds inline (allocated for
/// every slot by [`Client::new`]; buffers are apart and grow on demand).
pub const SLOT_BYTES: usize = size_of::<Slot<MaskRandom, Buf, Buf, Buf>>();

/// The driver of a client.
type Core = Driver<MaskRandom, Buf, Buf, Buf, Vec<Slot<MaskRandom, Buf, Buf, Buf>>>;

/// What a name resolution worker sends back.
type Resolved = Result<Vec<SocketAddr>, LinkError>;

/// Limits, timeouts and trusted roots of a [`Client`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// How many connections may be open at once (default 16).
    pub max_connections: usize,
    /// The outbound queue's soft mark per connection (default 256 KiB): a
    /// frame is taken whole (the queue grows for it) while fewer bytes than
    /// this are queued and the total stays within `max_message_size` plus
    /// framing; otherwise `SendError::Backpressure` (retry after `poll`). A
    /// message over `max_message_size` is `SendError::TooLarge`.
    pub tx_capacity: usize,
    /// The receive buffer's size for reads per connection (default 64 KiB,
    /// at least [`MIN_RECV_BUFFER`]); it starts at 4 KiB and grows up to this
    /// while reads fill it. Past it, it grows only to take one whole
    /// single-frame message (up to `max_message_size`), so that a large
    /// message is copied once, not into the assembler again; it shrinks back
    /// once small messages follow.
    pub rx_buffer: usize,
    /// The largest message accepted and sent (default 16 MiB, as
    /// tungstenite); the assembler grows up to it as a message arrives and
    /// gives the memory back afterwards. It replaces `proto.max_message_size`.
    pub max_message_size: usize,
    /// How long name resolution plus TCP connect may take (default 10 s).
    pub connect_timeout_ms: u64,
    /// After a connection ended, how long its socket may linger to flush the
    /// last bytes (the close frame) and wait for the server to close TCP
    /// first (default 2 s). See [`Client::lingering`].
    pub linger_ms: u64,
    /// Handshake and close timeouts, and keepalive (`ping_interval_ms`,
    /// `pong_timeout_ms`; off by default). The handshake timeout counts from
    /// [`Client::open`], so it also bounds name resolution and connect.
    pub proto: Config,
    /// permessage-deflate (RFC 7692): offered by default, as Python
    /// websockets does (`DeflateConfig::standard()`: the server may use a
    /// 32 KiB window, messages of 64 bytes or more go compressed); `None`
    /// offers nothing. Once agreed, a connection holds about 42 KiB to
    /// inflate, and about 310 KiB more from its first compressed send. It
    /// replaces `proto.deflate`. Needs the `deflate` feature (default).
    pub deflate: Option<DeflateConfig>,
    /// The roots `wss://` connections trust (default: Mozilla's, from
    /// `webpki-roots`).
    pub tls: TlsConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_connections: 16,
            tx_capacity: 256 << 10,
            rx_buffer: 64 << 10,
            max_message_size: 16 << 20,
            connect_timeout_ms: 10_000,
            linger_ms: 2_000,
            proto: Config::default(),
            deflate: Some(DeflateConfig::standard()),
            tls: TlsConfig::default(),
        }
    }
}

impl ClientConfig {
    /// Refuses a configuration that cannot work.
    fn check(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 || self.max_connections > (1 << 16) {
            return Err(ConfigError::MaxConnections);
        }
        if self.rx_buffer < MIN_RECV_BUFFER {
            return Err(ConfigError::RxBufferTooSmall);
        }
        let sizes = [self.rx_buffer, self.tx_capacity, self.max_message_size];
        if sizes.iter().any(|&n| n > MAX_BUFFER) {
            return Err(ConfigError::BufferTooLarge);
        }
        Ok(())
    }

    /// The storage one connection of a [`Client`] with this configuration
    /// starts with: its random source and its three growable buffers (what
    /// the benchmarks measure as "the client's defaults").
    pub fn storage(&self) -> Storage<MaskRandom, GrowableBuffer, GrowableBuffer, GrowableBuffer> {
        storage(&self.limits())
    }

    /// The limits each connection gets unless opened with
    /// [`Client::open_with_limits`].
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_message_size: self.max_message_size,
            tx_capacity: self.tx_capacity,
            rx_buffer: self.rx_buffer,
        }
    }

    /// The protocol configuration each connection runs with
    /// (`proto` with `max_message_size` applied).
    pub fn connection_config(&self) -> Config {
        self.driver().proto
    }

    fn driver(&self) -> DriverConfig {
        DriverConfig {
            proto: Config {
                max_message_size: self.max_message_size as u64,
                deflate: self.deflate,
                ..self.proto
            },
            connect_timeout_ms: self.connect_timeout_ms,
            linger_ms: self.linger_ms,
            streaming: false,
            tls: cfg!(all(feature = "tls", not(target_os = "espidf"))),
            // mio's reads see the socket as it is: after a failed write, a
            // read that would block means drained.
            drain_grace_ms: 0,
        }
    }
}

/// The limits of one connection: what [`ClientConfig`] sets for all, or
/// [`Client::open_with_limits`] for one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// The largest message accepted and sent.
    pub max_message_size: usize,
    /// The outbound queue's soft mark (see [`ClientConfig::tx_capacity`]).
    pub tx_capacity: usize,
    /// The receive buffer's size for reads (see [`ClientConfig::rx_buffer`]).
    pub rx_buffer: usize,
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

/// The socket side of one slot.
enum Sock {
    /// A worker thread resolves the name.
    Resolving(mpsc::Receiver<Resolved>),
    /// Resolved; the addresses not tried yet.
    Addresses(VecDeque<SocketAddr>),
    /// A socket (connecting or connected), and the addresses to try next.
    Stream {
        stream: TcpStream,
        rest: VecDeque<SocketAddr>,
        /// The TLS layer of a `wss://` connection.
        tls: Option<Box<TlsLink>>,
    },
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
    driver: Core,
    /// The rustls configuration (roots) of every `wss://` connection.
    tls: tls::Shared,
    /// The socket side of each slot, with the id it belongs to.
    sockets: Vec<Option<(ConnId, Sock)>>,
    poll: Poll,
    events: Events,
    waker: Arc<Waker>,
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
            .field("lingering", &self.lingering())
            .finish()
    }
}

impl Client {
    /// A client with no connections.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for a configuration that cannot work (no connections,
    /// a receive buffer under [`MIN_RECV_BUFFER`], a buffer over 1 GiB,
    /// PEM roots that do not parse), or when the OS poller cannot be made.
    pub fn new(config: ClientConfig) -> Result<Client, ConfigError> {
        config.check()?;
        let tls = tls::client_config(&config.tls).map_err(ConfigError::Tls)?;
        let os = |e: io::Error| ConfigError::Poller(e.kind());
        let poll = Poll::new().map_err(os)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(os)?);
        let slots = (0..config.max_connections).map(|_| Slot::new()).collect();
        Ok(Client {
            driver: Driver::new(slots, config.driver()),
            tls,
            sockets: (0..config.max_connections).map(|_| None).collect(),
            events: Events::with_capacity(64),
            config,
            poll,
            waker,
            kick: false,
            harvest: true,
            served: false,
        })
    }

    /// A handle that wakes [`wait`](Self::wait) from another thread.
    pub fn notifier(&self) -> Notifier {
        Notifier(Arc::clone(&self.waker))
    }

    /// Starts a connection. Never blocks: it parses the URL, reserves a slot
    /// and queues the handshake request; name resolution (on a worker
    /// thread) and the non-blocking connect start from [`poll`](Self::poll).
    /// Every later failure (refused, name not found, timeout, TLS, handshake
    /// rejected, a redirect not followed) comes as a
    /// [`SessionEvent::Closed`] from `poll`. A `wss://` URL runs TLS with
    /// the roots of [`ClientConfig::tls`]; a 301/302/303/307/308 with a
    /// `Location` is followed up to 3 times with the same options
    /// ([`ws_proto::redirect`]).
    ///
    /// # Errors
    ///
    /// [`OpenError::Url`] for a URL that is not `ws://` or `wss://`,
    /// [`OpenError::TooManyConnections`] when
    /// every slot is taken, [`OpenError::Request`] when the request does not
    /// fit `tx_capacity`.
    pub fn open(&mut self, url: &str, now: Instant) -> Result<ConnId, OpenError> {
        self.open_with(url, &HandshakeOptions::default(), now)
    }

    /// As [`open`](Self::open), offering subprotocols and extra header lines
    /// (validated: no CR/LF, no reserved handshake headers) in the request.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); [`OpenError::Request`] with
    /// `SendError::InvalidHeader` for a bad subprotocol or header.
    pub fn open_with(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<ConnId, OpenError> {
        let limits = self.config.limits();
        let id = self.driver.open(url, options, now, || storage(&limits))?;
        self.kick = true;
        Ok(id)
    }

    /// As [`open_with`](Self::open_with), with limits of its own for this
    /// connection (e.g. a small `max_message_size` for a telemetry feed
    /// beside a bulk one). Each limit is at most the client's
    /// ([`ClientConfig`]): a larger one is cut to it.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Self::open_with); [`OpenError::Storage`] with
    /// `RecvBufferTooSmall` for an `rx_buffer` under [`MIN_RECV_BUFFER`].
    pub fn open_with_limits(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        limits: ConnectionLimits,
        now: Instant,
    ) -> Result<ConnId, OpenError> {
        if limits.rx_buffer < MIN_RECV_BUFFER {
            return Err(OpenError::Storage(SessionConfigError::RecvBufferTooSmall));
        }
        let own = self.config.limits();
        let limits = ConnectionLimits {
            max_message_size: limits.max_message_size.min(own.max_message_size),
            tx_capacity: limits.tx_capacity.min(own.tx_capacity),
            rx_buffer: limits.rx_buffer.min(own.rx_buffer),
        };
        let id = self.driver.open(url, options, now, || storage(&limits))?;
        self.kick = true;
        Ok(id)
    }

    fn command(
        &mut self,
        id: ConnId,
        f: impl FnOnce(&mut Connection<MaskRandom, Buf>) -> Result<(), ws_proto::SendError>,
    ) -> Result<(), CommandError> {
        f(self.driver.connection(id)?)?;
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

    /// Sets the keepalive of one connection (the default comes from
    /// `ClientConfig::proto`): ping after `ping_interval_ms` of silence,
    /// fail with `KeepaliveTimeout` after `pong_timeout_ms` more (0 turns
    /// each off).
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`].
    pub fn set_keepalive(
        &mut self,
        id: ConnId,
        ping_interval_ms: u64,
        pong_timeout_ms: u64,
        now: Instant,
    ) -> Result<(), CommandError> {
        let conn = self.driver.connection(id)?;
        conn.set_keepalive(ping_interval_ms, pong_timeout_ms, now);
        self.kick = true;
        Ok(())
    }

    /// The connection's state, or `None` for an unknown or ended id.
    /// `Connecting` covers name resolution, TCP connect and the handshake.
    pub fn state(&self, id: ConnId) -> Option<State> {
        self.driver.state(id)
    }

    /// How many connections are open or opening (ended ones not counted).
    pub fn connection_count(&self) -> usize {
        self.driver.connection_count()
    }

    /// How many ended connections still flush their last bytes or wait for
    /// the server to close TCP (each for at most `linger_ms`). A program that
    /// is about to exit can poll until this is 0 so its close frame leaves.
    pub fn lingering(&self) -> usize {
        self.driver.lingering()
    }

    /// Never blocks. Returns the next event, taking connections in turn.
    /// After a command, a wake-up or a `None`, it first serves the sockets
    /// (DNS answers, connects, writes, reads, timers); otherwise it hands out
    /// the events of bytes already read. Call it until `None` on each turn of
    /// the loop, then [`wait`](Self::wait) (which returns at once when a
    /// socket can move more bytes).
    ///
    /// After a connection's `Closed` event its id is dead (commands give
    /// [`CommandError::UnknownConnection`], [`state`](Self::state) gives
    /// `None`); its socket lingers to flush the close frame, then closes.
    pub fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        // Measured on the pipelined echo benchmark: serving every socket
        // before each event was a quarter of the client's time.
        if !self.served || self.kick {
            self.serve(now);
        }
        match self.driver.poll_event(now) {
            Some((id, event)) => {
                // After an end, the next call lets the socket linger or close.
                self.served &= !matches!(event, SessionEvent::Closed(_));
                Some((id, event))
            }
            None => {
                self.served = false;
                self.harvest = true;
                None
            }
        }
    }

    /// Collects readiness and DNS answers, runs the timers and executes the
    /// driver's actions.
    fn serve(&mut self, now: Instant) {
        if self.harvest {
            // A failed zero-timeout poll only delays readiness to `wait`.
            let _ = self.harvest(Duration::ZERO);
        }
        self.collect_answers();
        self.flush_tls();
        // Reads first, so bytes waiting in the socket count before a
        // keepalive deadline; then the timers, and what they queued.
        let budget_left = self.execute(now) && {
            self.driver.handle_timeout(now);
            self.execute(now)
        };
        self.served = true;
        // Out of budget: more actions are waiting; `wait` must not sleep.
        self.kick = !budget_left;
    }

    /// Executes actions until the driver has none; `false` when it stopped
    /// at the budget instead.
    fn execute(&mut self, now: Instant) -> bool {
        let Client {
            driver,
            sockets,
            poll,
            waker,
            tls,
            ..
        } = self;
        let registry = poll.registry();
        for _ in 0..ACTIONS_PER_PASS {
            let Some(action) = driver.poll_action(now) else {
                return true;
            };
            match action {
                Action::Resolve { id, host, port } => {
                    let r = resolve(host, port, Arc::clone(waker));
                    match r {
                        Ok(rx) => sockets[id.slot()] = Some((id, Sock::Resolving(rx))),
                        Err(e) => driver.handle_resolved(id, Resolution::Failed(e)),
                    }
                }
                Action::Connect { id, addr } => {
                    let name = driver.tls_server_name(id);
                    let start_tls = || name.map(|n| TlsLink::new(tls, n).map(Box::new)).transpose();
                    let outcome = connect(registry, &mut sockets[id.slot()], id, addr, start_tls);
                    driver.handle_connect(id, outcome, now);
                }
                Action::Read { id, buf } => {
                    let io = with_stream(sockets, id, |s, tls| match tls {
                        Some(tls) => tls.read(s, buf),
                        None => read(s, buf),
                    });
                    driver.handle_read(id, io);
                }
                Action::Write { id, bytes } => {
                    let io = with_stream(sockets, id, |s, tls| match tls {
                        Some(tls) => tls.write(s, bytes),
                        None => write(s, bytes),
                    });
                    driver.handle_write(id, io);
                }
                Action::Shutdown { id } => {
                    // A failed shutdown is bounded by the linger deadline.
                    let _ = with_stream(sockets, id, |s, tls| {
                        if let Some(tls) = tls {
                            tls.close_notify(s);
                        }
                        let _ = s.shutdown(Shutdown::Write);
                        Io::Done(0)
                    });
                }
                Action::Close { id } => {
                    if let Some((owner, sock)) = sockets[id.slot()].take() {
                        if owner == id {
                            drop_sock(registry, sock);
                        } else {
                            sockets[id.slot()] = Some((owner, sock));
                        }
                    }
                }
            }
        }
        false
    }

    /// Writes the TLS records that waited for the socket (handshake
    /// messages, data encrypted when the socket was full); a failure waits
    /// for the connection's next read or write.
    fn flush_tls(&mut self) {
        for entry in self.sockets.iter_mut().flatten() {
            if let (
                _,
                Sock::Stream {
                    stream,
                    tls: Some(tls),
                    ..
                },
            ) = entry
            {
                if tls.wants_write() {
                    let _ = tls.flush(stream);
                }
            }
        }
    }

    /// Hands finished name resolutions to the driver.
    fn collect_answers(&mut self) {
        for entry in &mut self.sockets {
            let Some((id, Sock::Resolving(rx))) = entry else {
                continue;
            };
            let id = *id;
            let answer = match rx.try_recv() {
                Ok(answer) => answer,
                Err(TryRecvError::Empty) => continue,
                Err(TryRecvError::Disconnected) => Err(LinkError::NameNotFound),
            };
            let resolution = match answer {
                Ok(addrs) => {
                    let mut addrs: VecDeque<SocketAddr> = addrs.into();
                    let first = addrs.pop_front();
                    *entry = Some((id, Sock::Addresses(addrs)));
                    first.map_or(Resolution::Failed(LinkError::NameNotFound), |a| {
                        Resolution::Found(a.ip())
                    })
                }
                Err(e) => Resolution::Failed(e),
            };
            self.driver.handle_resolved(id, resolution);
        }
    }

    /// Passes the collected readiness events to the driver.
    fn dispatch_events(&mut self) {
        for event in self.events.iter() {
            let token = event.token();
            if token == WAKER {
                self.kick = true;
                continue;
            }
            let Some(Some((id, _))) = self.sockets.get(token.0) else {
                continue;
            };
            let r = Readiness {
                readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                writable: event.is_writable() || event.is_write_closed() || event.is_error(),
                read_closed: event.is_read_closed() || event.is_error(),
            };
            self.driver.handle_readiness(*id, r);
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
        if self.kick || self.driver.has_action() {
            return Ok(());
        }
        let timeout = match self.driver.poll_timeout() {
            Some(d) => max.min(Duration::from_millis(d.millis_since(now))),
            None => max,
        };
        self.harvest(timeout)
    }
}

impl Transport for Client {
    type Id = ConnId;

    fn open_with(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<ConnId, OpenError> {
        Client::open_with(self, url, options, now)
    }

    fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandError> {
        Client::send_text(self, id, text)
    }

    fn send_binary(&mut self, id: ConnId, data: &[u8]) -> Result<(), CommandError> {
        Client::send_binary(self, id, data)
    }

    fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandError> {
        Client::ping(self, id, payload)
    }

    fn close(
        &mut self,
        id: ConnId,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandError> {
        Client::close(self, id, now, code, reason)
    }

    fn set_keepalive(
        &mut self,
        id: ConnId,
        ping_interval_ms: u64,
        pong_timeout_ms: u64,
        now: Instant,
    ) -> Result<(), CommandError> {
        Client::set_keepalive(self, id, ping_interval_ms, pong_timeout_ms, now)
    }

    fn state(&self, id: ConnId) -> Option<State> {
        Client::state(self, id)
    }

    fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        Client::poll(self, now)
    }

    fn wait(&mut self, now: Instant, max: Duration) {
        // A failed wait (the OS poll failing) only means the loop spins once more.
        let _ = Client::wait(self, now, max);
    }
}

/// The storage of a new connection: small buffers that grow up to the
/// configured limits. The queue's hard limit is one largest message with
/// its header, plus the control reserve; `tx_capacity` is its soft mark.
fn storage(c: &ConnectionLimits) -> Storage<MaskRandom, Buf, Buf, Buf> {
    let hard = c.max_message_size + MAX_HEADER_LEN + CONTROL_RESERVE;
    let tx_initial = INITIAL_BUFFER.max(CONTROL_RESERVE + 1024);
    Storage {
        rng: MaskRandom::new(),
        tx: GrowableBuffer::new(tx_initial, c.tx_capacity.max(tx_initial), hard),
        // Reads grow it up to `rx_buffer`; past that it grows only to hold
        // one whole single-frame message (up to the largest message), which
        // then comes borrowed from it, copied once, instead of being copied
        // again into the assembler.
        rx: GrowableBuffer::new(
            INITIAL_BUFFER,
            c.rx_buffer,
            c.rx_buffer.max(c.max_message_size + MAX_HEADER_LEN),
        ),
        assembler: GrowableBuffer::new(0, 0, c.max_message_size),
    }
}

/// Starts resolving `host` on a worker thread that wakes the poller when done.
fn resolve(
    host: &str,
    port: u16,
    waker: Arc<Waker>,
) -> Result<mpsc::Receiver<Resolved>, LinkError> {
    let (tx, rx) = mpsc::channel();
    let host = host.to_owned();
    std::thread::Builder::new()
        .name("ws-dns".into())
        .spawn(move || {
            let result = match lookup(&host, port) {
                Ok(addrs) => Ok(addrs.collect()),
                Err(_) => Err(LinkError::NameNotFound),
            };
            // The connection may be gone already: then nobody listens.
            if tx.send(result).is_ok() {
                let _ = waker.wake();
            }
        })
        .map_err(|_| LinkError::Io)?;
    Ok(rx)
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

/// Starts a connect to `addr`, or checks the one under way. TLS starts
/// once TCP is up (`start_tls`: `None` for `ws://`), so nothing is written
/// to a socket still connecting.
fn connect(
    registry: &Registry,
    entry: &mut Option<(ConnId, Sock)>,
    id: ConnId,
    addr: SocketAddr,
    start_tls: impl FnOnce() -> Result<Option<Box<TlsLink>>, LinkError>,
) -> ConnectOutcome {
    let mut rest = match entry.take() {
        Some((
            owner,
            Sock::Stream {
                mut stream, rest, ..
            },
        )) if owner == id => {
            let progress = connect_progress(&stream).map_err(|e| classify(&e, true));
            let up = progress.and_then(|done| match done {
                true => start_tls().map(Some),
                false => Ok(None),
            });
            match up {
                Ok(Some(tls)) => {
                    let _ = stream.set_nodelay(true);
                    *entry = Some((id, Sock::Stream { stream, rest, tls }));
                    return ConnectOutcome::Connected;
                }
                Ok(None) => {
                    *entry = Some((
                        id,
                        Sock::Stream {
                            stream,
                            rest,
                            tls: None,
                        },
                    ));
                    return ConnectOutcome::Pending;
                }
                Err(error) => {
                    let _ = registry.deregister(&mut stream);
                    let mut rest = rest;
                    let next = rest.pop_front();
                    *entry = Some((id, Sock::Addresses(rest)));
                    return ConnectOutcome::Failed { error, next };
                }
            }
        }
        Some((owner, Sock::Addresses(rest))) if owner == id => rest,
        other => {
            if let Some((_, sock)) = other {
                drop_sock(registry, sock);
            }
            VecDeque::new()
        }
    };
    let started = TcpStream::connect(addr).and_then(|mut stream| {
        let interest = Interest::READABLE | Interest::WRITABLE;
        registry.register(&mut stream, Token(id.slot()), interest)?;
        Ok(stream)
    });
    match started {
        Ok(stream) => {
            *entry = Some((
                id,
                Sock::Stream {
                    stream,
                    rest,
                    tls: None,
                },
            ));
            ConnectOutcome::Pending
        }
        Err(e) => {
            let next = rest.pop_front();
            *entry = Some((id, Sock::Addresses(rest)));
            ConnectOutcome::Failed {
                error: classify(&e, true),
                next,
            }
        }
    }
}

/// Whether a non-blocking connect finished (`Ok(false)`: not yet).
fn connect_progress(stream: &TcpStream) -> io::Result<bool> {
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        Ok(None) => match stream.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        },
    }
}

/// Runs `f` on the stream of `id` and its TLS layer; a missing one is a
/// failed link.
fn with_stream(
    sockets: &mut [Option<(ConnId, Sock)>],
    id: ConnId,
    f: impl FnOnce(&mut TcpStream, Option<&mut TlsLink>) -> Io,
) -> Io {
    match sockets.get_mut(id.slot()) {
        Some(Some((owner, Sock::Stream { stream, tls, .. }))) if *owner == id => {
            f(stream, tls.as_deref_mut())
        }
        _ => Io::Failed(LinkError::Io),
    }
}

/// One read call (retried on `Interrupted`).
fn read(stream: &mut TcpStream, buf: &mut [u8]) -> Io {
    loop {
        return match stream.read(buf) {
            Ok(0) => Io::Eof,
            Ok(n) => Io::Done(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Io::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Io::Failed(classify(&e, false)),
        };
    }
}

/// One write call (retried on `Interrupted`).
fn write(stream: &mut TcpStream, bytes: &[u8]) -> Io {
    loop {
        return match stream.write(bytes) {
            Ok(0) => Io::Failed(LinkError::Reset),
            Ok(n) => Io::Done(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Io::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Io::Failed(classify(&e, false)),
        };
    }
}

/// Closes a socket (after TLS close_notify, when it can still be sent).
fn drop_sock(registry: &Registry, sock: Sock) {
    if let Sock::Stream {
        mut stream, tls, ..
    } = sock
    {
        if let Some(mut tls) = tls {
            tls.close_notify(&mut stream);
        }
        let _ = registry.deregister(&mut stream);
    }
}

/// Names an I/O error the way every transport does.
pub(crate) fn classify(e: &io::Error, connecting: bool) -> LinkError {
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
        let cases = [
            (
                ClientConfig {
                    max_connections: 0,
                    ..ClientConfig::default()
                },
                ConfigError::MaxConnections,
            ),
            (
                ClientConfig {
                    rx_buffer: MIN_RECV_BUFFER - 1,
                    ..ClientConfig::default()
                },
                ConfigError::RxBufferTooSmall,
            ),
            (
                ClientConfig {
                    max_message_size: usize::MAX,
                    ..ClientConfig::default()
                },
                ConfigError::BufferTooLarge,
            ),
            (
                ClientConfig {
                    tx_capacity: MAX_BUFFER + 1,
                    ..ClientConfig::default()
                },
                ConfigError::BufferTooLarge,
            ),
        ];
        for (config, want) in cases {
            assert_eq!(Client::new(config.clone()).err(), Some(want), "{config:?}");
        }
    }
}
