//! A WebSocket client transport over `embedded-nal`: ESP32 (lwIP) and any
//! other `no_std` TCP stack, with no allocator.
//!
//! [`EspClient`] binds [`ws_proto::Session`]s to a stack that implements
//! [`embedded_nal::TcpClientStack`] + [`embedded_nal::Dns`]. Those traits are
//! `nb`-style (every call returns at once or says `WouldBlock`), so no call of
//! this crate ever waits on the network: DNS, connect, handshake, frames and
//! the close handshake all advance from [`EspClient::poll`], which the caller's
//! event loop calls every turn.
//!
//! ```text
//!   caller ── open / send_text / send_binary / ping / close ──► EspClient ─┐
//!   caller ◄──────────── poll(now) -> (ConnId, SessionEvent) ◄─────────────┤ CONNS slots:
//!                                                                          │ Session<[u8;TX],[u8;RX],[u8;MSG]>
//!   TcpClientStack + Dns ◄── socket / connect / send / receive / close ────┘ + socket state
//! ```
//!
//! - Storage is chosen by the caller at compile time: `CONNS` connections, each
//!   with an `RX`-byte receive buffer, a `TX`-byte outbound queue and an
//!   `MSG`-byte assembler (the largest whole message; a larger one fails the
//!   connection with close code 1009). With [`ClientConfig::streaming`],
//!   messages come in pieces ([`ws_proto::SessionEvent::Fragment`]) and `MSG`
//!   can be 0.
//! - [`NetworkReady`] says whether the station has an IP: until it does,
//!   [`EspClient::open`] is refused with [`OpenError::NetworkDown`] and nothing is
//!   allocated; when it loses it, open connections end with
//!   `Disconnect::Link(LinkError::NetworkDown)`.
//! - Randomness (the handshake key and every mask key, RFC 6455 section 5.3)
//!   comes from the caller's [`ws_proto::Random`]: the hardware RNG on an ESP32.
//! - IP literals (`ws://192.168.1.10:8080/`, `ws://[::1]/`) skip DNS.
//!
//! Host tests drive it through `std-embedded-nal` against a real server.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod ip;
mod slot;

use embedded_nal::{Dns, TcpClientStack};
use ws_proto::{
    Config, Connection, HandshakeOptions, Instant, Random, Session, SessionEvent, State, Url,
    UrlError, MIN_RECV_BUFFER,
};

pub use error::{CommandError, OpenError};
use slot::{Link, Slot};

/// Says whether the network can carry a connection: on an ESP32, whether the
/// Wi-Fi station has an IP address.
pub trait NetworkReady {
    /// `true` when connections can be opened.
    fn is_ready(&self) -> bool;
}

/// Any `Fn() -> bool` is a readiness check.
impl<F: Fn() -> bool> NetworkReady for F {
    fn is_ready(&self) -> bool {
        self()
    }
}

/// A network that is always ready (a host, or a wired link).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysReady;

impl NetworkReady for AlwaysReady {
    fn is_ready(&self) -> bool {
        true
    }
}

/// Settings of an [`EspClient`]; sizes are its const generics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Handshake and close timeouts, response header limit. Its
    /// `max_message_size` is capped at `MSG` unless `streaming`.
    pub proto: Config,
    /// How long DNS + TCP connect may take before the connection ends with
    /// `LinkError::ConnectTimeout`.
    pub connect_timeout_ms: u64,
    /// How long to keep flushing the last frames (the close frame) after
    /// `Closed` was delivered before the socket is closed anyway.
    pub drain_timeout_ms: u64,
    /// Deliver messages that are not whole in the receive buffer as
    /// `SessionEvent::Fragment`s instead of joining them in the `MSG` bytes.
    pub streaming: bool,
}

impl Default for ClientConfig {
    /// ws-proto's defaults, 10 s to connect, 1 s to drain, whole messages.
    fn default() -> Self {
        ClientConfig {
            proto: Config::default(),
            connect_timeout_ms: 10_000,
            drain_timeout_ms: 1_000,
            streaming: false,
        }
    }
}

/// A connection's id: its slot and a generation, so an id whose connection
/// ended never matches a later connection in the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    slot: u16,
    gen: u32,
}

impl ConnId {
    /// The slot index, below `CONNS` (for tables indexed by slot).
    pub fn slot(self) -> usize {
        usize::from(self.slot)
    }
}

/// The WebSocket client: `CONNS` connections over the stack `T`, with
/// readiness check `N` and random source `R`.
///
/// Sizes per connection: `RX` receive buffer (at least
/// [`ws_proto::MIN_RECV_BUFFER`]), `TX` outbound queue (at least
/// [`ws_proto::queue::CONTROL_RESERVE`] plus the handshake request), `MSG`
/// assembler. Sizes that cannot work are refused at compile time.
///
/// `R` is cloned into each connection: use a handle whose clones draw
/// independent bytes (the ESP32 hardware RNG, the OS source), never a copy of
/// a seeded generator, which would repeat mask keys across connections.
///
/// ```no_run
/// use ws_transport_esp::{AlwaysReady, ClientConfig, EspClient};
/// # #[derive(Clone)] struct HwRng;
/// # impl ws_proto::Random for HwRng {
/// #     fn fill(&mut self, b: &mut [u8]) -> Result<(), ws_proto::RandomError> { Err(ws_proto::RandomError) }
/// # }
/// # fn demo<T: embedded_nal::TcpClientStack + embedded_nal::Dns>(stack: T, now: impl Fn() -> ws_proto::Instant) {
/// let mut client: EspClient<T, AlwaysReady, HwRng, 2, 1024, 1024, 1024> =
///     EspClient::new(stack, AlwaysReady, HwRng, ClientConfig::default());
/// let id = client.open("ws://192.168.1.10:8080/stream", now()).unwrap();
/// loop {
///     while let Some((conn, event)) = client.poll(now()) {
///         // deliver `event`
///     }
///     # break;
/// }
/// # }
/// ```
pub struct EspClient<
    T,
    N,
    R,
    const CONNS: usize,
    const RX: usize,
    const TX: usize,
    const MSG: usize,
> where
    T: TcpClientStack + Dns,
{
    stack: T,
    ready: N,
    rng: R,
    config: ClientConfig,
    slots: [Slot<T::TcpSocket, R, RX, TX, MSG>; CONNS],
    /// Where the next `poll` starts looking for events (round robin).
    cursor: usize,
}

impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    EspClient<T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    /// Refuses sizes that cannot work, at compile time.
    const SIZES_OK: () = {
        assert!(CONNS >= 1 && CONNS <= 1024, "CONNS must be 1..=1024");
        assert!(
            RX >= MIN_RECV_BUFFER,
            "RX must be at least ws_proto::MIN_RECV_BUFFER (127)"
        );
        assert!(
            TX >= ws_proto::queue::CONTROL_RESERVE + 128,
            "TX must hold the control reserve (262) plus a handshake request"
        );
    };

    /// A client over `stack`, with no connection yet.
    pub fn new(stack: T, ready: N, rng: R, config: ClientConfig) -> Self {
        let () = Self::SIZES_OK;
        EspClient {
            stack,
            ready,
            rng,
            config,
            slots: core::array::from_fn(|_| Slot::new()),
            cursor: 0,
        }
    }

    /// Starts a connection to `url` (`ws://host[:port][/path][?query]`) and
    /// returns at once; DNS, connect and handshake advance in
    /// [`poll`](Self::poll), which reports `Connected` or `Closed`.
    ///
    /// # Errors
    ///
    /// [`OpenError::NetworkDown`] until the [`NetworkReady`] check passes,
    /// [`OpenError::Url`] for a bad URL (`wss://` is
    /// [`UrlError::TlsUnsupported`]), [`OpenError::TooManyConnections`] when
    /// all `CONNS` slots are live, [`OpenError::Request`] when the request does
    /// not fit `TX` or the random source failed. Nothing is kept on error.
    pub fn open(&mut self, url: &str, now: Instant) -> Result<ConnId, OpenError> {
        self.open_with(url, &HandshakeOptions::default(), now)
    }

    /// As [`open`](Self::open), offering subprotocols and extra header lines
    /// in the handshake request.
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
        if !self.ready.is_ready() {
            return Err(OpenError::NetworkDown);
        }
        let url = Url::parse(url).map_err(OpenError::Url)?;
        if url.secure {
            return Err(OpenError::Url(UrlError::TlsUnsupported));
        }
        let index = match self.slots.iter().position(|s| s.session.is_none()) {
            Some(i) => i,
            None => {
                // A connection whose end was delivered gives way.
                let i = self
                    .slots
                    .iter()
                    .position(Slot::is_draining)
                    .ok_or(OpenError::TooManyConnections)?;
                self.slots[i].free(&mut self.stack);
                i
            }
        };
        let mut proto = self.config.proto;
        if !self.config.streaming {
            proto.max_message_size = proto.max_message_size.min(MSG as u64);
        }
        let conn = Connection::new(self.rng.clone(), [0u8; TX], &url, options, proto, now)
            .map_err(OpenError::Request)?;
        let session = if self.config.streaming {
            Session::streaming(conn, [0u8; RX], [0u8; MSG])
        } else {
            Session::new(conn, [0u8; RX], [0u8; MSG])
        }
        .map_err(OpenError::Storage)?;
        let link = match ip::parse(url.host, url.ipv6) {
            Some(ip) => Link::Ready { ip, port: url.port },
            None => Link::Resolve { port: url.port },
        };
        let slot = &mut self.slots[index];
        slot.session = Some(session);
        slot.meta.link = link;
        slot.meta.deadline = now.plus_millis(self.config.connect_timeout_ms);
        slot.meta.end = None;
        slot.meta.idle = false;
        Ok(ConnId {
            slot: index as u16,
            gen: slot.meta.gen,
        })
    }

    fn live(&mut self, id: ConnId) -> Result<&mut Connection<R, [u8; TX]>, CommandError> {
        match self.slots.get_mut(id.slot()) {
            Some(s) if s.meta.gen == id.gen && s.is_live() => s
                .session
                .as_mut()
                .map(Session::connection)
                .ok_or(CommandError::UnknownConnection),
            _ => Err(CommandError::UnknownConnection),
        }
    }

    /// Queues a text message as one frame, whole or not at all.
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`]; [`CommandError::Send`] with
    /// `Backpressure` (the queue is full now: retry after `poll`), `TooLarge`
    /// (it never fits `TX`), `NotOpen` before the handshake completed.
    pub fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandError> {
        self.live(id)?.send_text(text).map_err(CommandError::Send)
    }

    /// Queues a binary message as one frame, whole or not at all.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, id: ConnId, data: &[u8]) -> Result<(), CommandError> {
        self.live(id)?.send_binary(data).map_err(CommandError::Send)
    }

    /// Queues a ping (payload at most 125 bytes).
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text), plus `ControlTooLong`.
    pub fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandError> {
        self.live(id)?.ping(payload).map_err(CommandError::Send)
    }

    /// Starts the close handshake (or abandons a connection still
    /// connecting); `poll` reports `Closed` when it is done.
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`]; [`CommandError::Send`] with
    /// `InvalidCloseCode` or `ReasonTooLong` (over 123 bytes).
    pub fn close(
        &mut self,
        id: ConnId,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandError> {
        self.live(id)?
            .close(now, code, reason)
            .map_err(CommandError::Send)
    }

    /// The connection's state; `None` for an unknown id or one whose
    /// `Closed` was delivered. `Connecting` covers DNS, TCP connect and the
    /// handshake.
    pub fn state(&self, id: ConnId) -> Option<State> {
        match self.slots.get(id.slot()) {
            Some(s) if s.meta.gen == id.gen && s.is_live() => {
                s.session.as_ref().map(|s| s.connection_ref().state())
            }
            _ => None,
        }
    }

    /// How many connections are live (opened, `Closed` not yet delivered).
    pub fn connection_count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_live()).count()
    }

    /// The stack, e.g. to poll the network interface it wraps.
    pub fn stack_mut(&mut self) -> &mut T {
        &mut self.stack
    }

    /// Never blocks. Advances DNS, connects, writes, reads and timers of every
    /// connection and returns the next event. Call it until `None` each loop
    /// turn. After `Closed` the id is invalid (commands give
    /// [`CommandError::UnknownConnection`], [`state`](Self::state) `None`);
    /// the last frames (the close frame) are still flushed, then the socket is
    /// closed.
    ///
    /// `None` means no buffered byte gives an event now. A message larger
    /// than `RX` is joined over several turns, one receive buffer per turn
    /// (the borrow checker does not let one call go back to a session after
    /// it said "no event"); an end of stream in the middle of a frame, and a
    /// close frame queued by a protocol failure, likewise take effect on the
    /// next turn.
    // Out of line: measured smaller at opt-level "z".
    #[inline(never)]
    pub fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        let up = self.ready.is_ready();
        let drain_ms = self.config.drain_timeout_ms;
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let gen = slot.meta.gen;
            if let Some(ev) = slot.service(&mut self.stack, up, now, drain_ms) {
                return Some((id(i, gen), ev));
            }
        }
        // Only this last pass may return events that borrow a session.
        let start = self.cursor % CONNS;
        let (a, b) = self.slots.split_at_mut(start);
        let rotated = b
            .iter_mut()
            .enumerate()
            .map(|(k, s)| (k + start, s))
            .chain(a.iter_mut().enumerate());
        for (i, slot) in rotated {
            if !slot.is_live() {
                continue;
            }
            let Some(session) = slot.session.as_mut() else {
                continue;
            };
            let meta = &mut slot.meta;
            match session.poll_event(now) {
                Some(ev) => {
                    let conn = id(i, meta.gen);
                    if matches!(ev, SessionEvent::Closed(_)) {
                        meta.ended(now, drain_ms);
                    }
                    self.cursor = i + 1;
                    return Some((conn, ev));
                }
                None => meta.idle = true,
            }
        }
        None
    }
}

/// Closes every socket still open (a stack has few of them).
impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize> Drop
    for EspClient<T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
{
    fn drop(&mut self) {
        for slot in &mut self.slots {
            slot.free(&mut self.stack);
        }
    }
}

fn id(slot: usize, gen: u32) -> ConnId {
    ConnId {
        slot: slot as u16,
        gen,
    }
}

impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    core::fmt::Debug for EspClient<T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EspClient")
            .field("conns", &CONNS)
            .field("rx", &RX)
            .field("tx", &TX)
            .field("msg", &MSG)
            .finish_non_exhaustive()
    }
}

/// Bytes of RAM per connection slot of an `EspClient<T, _, R, _, RX, TX, MSG>`
/// (session with its buffers, socket state, bookkeeping).
pub const fn slot_size<T, R, const RX: usize, const TX: usize, const MSG: usize>() -> usize
where
    T: TcpClientStack,
{
    size_of::<Slot<T::TcpSocket, R, RX, TX, MSG>>()
}
