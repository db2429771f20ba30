//! [`EspClient`]: a [`ws_proto::Driver`] executed on an `embedded-nal`
//! stack. The driver decides; this file serves it each turn (network state,
//! "every socket may be ready", timers) and hands each action to [`crate::nb`].
//!
//! Commands (`open`, `send_text`, `ping`, `close`, ...) are the
//! [`Transport`] methods: `use ws_transport_esp::Transport` to call them.

use embedded_nal::{Dns, TcpClientStack};
use ws_proto::driver::{Slot, Storage};
use ws_proto::{
    CommandError, ConnId, Driver, HandshakeOptions, Instant, OpenError, Random, SendError,
    SessionEvent, State, Transport,
};

use crate::config::{ClientConfig, NetworkReady, Sizes};
use crate::nb;

/// How many actions one pass executes before handing out events again.
const ACTIONS_PER_PASS: usize = 256;

/// One connection slot: the driver's slot, with the session and its
/// arrays. An empty one ([`Slot::new`], a `const fn`) is all zero bytes.
pub type EspSlot<R, const RX: usize, const TX: usize, const MSG: usize> =
    Slot<R, [u8; TX], [u8; RX], [u8; MSG]>;

/// The storage of a client with `CONNS` connections (sessions and buffers,
/// about `CONNS * (RX + TX + MSG)` bytes): what [`EspClient::new`] and
/// `AsyncClient::new` borrow. Empty, it is all zero bytes, so a `static` of
/// it is `.bss`: `ConstStaticCell::new([const { Slot::new() }; CONNS])`
/// (`static_cell`), as embassy keeps its `StackResources`.
pub type EspSlots<R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize> =
    [EspSlot<R, RX, TX, MSG>; CONNS];

/// The WebSocket client: `CONNS` connections over the stack `T`, with
/// readiness check `N` and random source `R`, in the caller's slots (`'s`).
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
/// The client itself is small (the stack, the sockets, the driver's
/// state); the sessions and their buffers stay where the caller put them,
/// so nothing large is ever built on the stack or moved:
///
/// ```no_run
/// use static_cell::ConstStaticCell;
/// use ws_transport_esp::{AlwaysReady, ClientConfig, EspClient, EspSlots, Slot, Transport};
/// # #[derive(Clone)] struct HwRng;
/// # impl ws_proto::Random for HwRng {
/// #     fn fill(&mut self, b: &mut [u8]) -> Result<(), ws_proto::RandomError> { Err(ws_proto::RandomError) }
/// # }
///
/// // 2 connections with 1 KiB buffers: 6.8 KB of `.bss`.
/// static SLOTS: ConstStaticCell<EspSlots<HwRng, 2, 1024, 1024, 1024>> =
///     ConstStaticCell::new([const { Slot::new() }; 2]);
///
/// # fn demo<T: embedded_nal::TcpClientStack + embedded_nal::Dns>(stack: T, now: impl Fn() -> ws_proto::Instant) {
/// let mut client = EspClient::new(stack, AlwaysReady, HwRng, ClientConfig::default(), SLOTS.take());
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
    's,
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
    driver: Driver<R, [u8; TX], [u8; RX], [u8; MSG], &'s mut EspSlots<R, CONNS, RX, TX, MSG>>,
    /// The socket of each slot, with the id it belongs to.
    sockets: [nb::Entry<T::TcpSocket>; CONNS],
    /// The next `poll` serves the sockets (the turn's first call, after a
    /// command, an end, or a pass that ran out of budget).
    fresh: bool,
}

impl<'s, T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    EspClient<'s, T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    /// A client over `stack`, with no connection yet, whose sessions and
    /// buffers are the caller's `slots` (each [`Slot::new`]; a `static`, see
    /// [`EspSlots`]).
    pub fn new(
        stack: T,
        ready: N,
        rng: R,
        config: ClientConfig,
        slots: &'s mut EspSlots<R, CONNS, RX, TX, MSG>,
    ) -> Self {
        let () = Sizes::<CONNS, RX, TX>::OK;
        EspClient {
            stack,
            ready,
            rng,
            driver: Driver::new(slots, config.driver()),
            sockets: [const { None }; CONNS],
            fresh: true,
        }
    }

    /// How many connections are live (opened, `Closed` not yet delivered).
    pub fn connection_count(&self) -> usize {
        self.driver.connection_count()
    }

    /// How many ended connections still hold a socket (flushing the close
    /// frame, waiting for the server's FIN, each for at most `linger_ms`).
    pub fn lingering(&self) -> usize {
        self.driver.lingering()
    }

    /// The stack, e.g. to poll the network interface it wraps.
    pub fn stack_mut(&mut self) -> &mut T {
        &mut self.stack
    }

    /// Finishes a command: one that was taken makes the next `poll` serve
    /// the sockets.
    fn kicked(&mut self, sent: Result<(), SendError>) -> Result<(), CommandError> {
        self.fresh |= sent.is_ok();
        Ok(sent?)
    }

    /// Tells the driver what an `nb` stack can know (the network's state;
    /// every socket may be ready), then runs one turn of actions and timers.
    fn serve(&mut self, now: Instant) {
        self.driver.set_network(self.ready.is_ready());
        self.driver.handle_ready_all();
        let EspClient {
            stack,
            driver,
            sockets,
            ..
        } = self;
        let all_done = driver.run(now, ACTIONS_PER_PASS, |a| nb::execute(stack, sockets, a));
        self.fresh = !all_done;
    }
}

/// Closes every socket still open (a stack has few of them).
impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize> Drop
    for EspClient<'_, T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
{
    fn drop(&mut self) {
        for (_, sock) in self.sockets.iter_mut().filter_map(Option::take) {
            let _ = self.stack.close(sock);
        }
    }
}

/// The commands and `poll`. Never blocks: `open` parses the URL, takes a slot
/// and queues the handshake request; DNS, connect and handshake advance in
/// `poll`, which reports `Connected` or `Closed` (also for every failure
/// after `open` returned). `open` refuses with [`OpenError::NetworkDown`]
/// until the [`NetworkReady`] check passes; a request that does not fit `TX`
/// is [`OpenError::Request`].
impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize> Transport
    for EspClient<'_, T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
    N: NetworkReady,
    R: Random + Clone,
{
    fn open_with(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<Self::Id, OpenError> {
        self.driver.set_network(self.ready.is_ready());
        let rng = self.rng.clone();
        let id = self.driver.open_in_place(url, options, now, || Storage {
            rng,
            tx: [0; TX],
            rx: [0; RX],
            assembler: [0; MSG],
        })?;
        self.fresh = true;
        Ok(id)
    }

    fn send_text(&mut self, id: Self::Id, text: &str) -> Result<(), CommandError> {
        let sent = self.driver.connection(id)?.send_text(text);
        self.kicked(sent)
    }

    fn send_binary(&mut self, id: Self::Id, data: &[u8]) -> Result<(), CommandError> {
        let sent = self.driver.connection(id)?.send_binary(data);
        self.kicked(sent)
    }

    fn ping(&mut self, id: Self::Id, payload: &[u8]) -> Result<(), CommandError> {
        let sent = self.driver.connection(id)?.ping(payload);
        self.kicked(sent)
    }

    fn close(
        &mut self,
        id: Self::Id,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandError> {
        let sent = self.driver.connection(id)?.close(now, code, reason);
        self.kicked(sent)
    }

    fn set_keepalive(
        &mut self,
        id: Self::Id,
        ping_interval_ms: u64,
        pong_timeout_ms: u64,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.driver
            .connection(id)?
            .set_keepalive(ping_interval_ms, pong_timeout_ms, now);
        self.kicked(Ok(()))
    }

    fn state(&self, id: Self::Id) -> Option<State> {
        self.driver.state(id)
    }

    /// Never blocks. The first call of a turn (and the first after a
    /// command or an end) serves the sockets; the calls after it hand out
    /// the events of the bytes read, taking connections in turn. A message
    /// larger than `RX` is joined over several turns. After `Closed` the id
    /// is dead; its socket lingers to flush the close frame, then closes.
    fn poll(&mut self, now: Instant) -> Option<(Self::Id, SessionEvent<'_>)> {
        if core::mem::take(&mut self.fresh) {
            self.serve(now);
        }
        let next = self.driver.poll_event(now);
        self.fresh = next
            .as_ref()
            .is_none_or(|(_, e)| matches!(e, SessionEvent::Closed(_)));
        next
    }

    /// Slot and generation: never reused.
    type Id = ConnId;
}

impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    core::fmt::Debug for EspClient<'_, T, N, R, CONNS, RX, TX, MSG>
where
    T: TcpClientStack + Dns,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Sizes::<CONNS, RX, TX>::debug(f, "EspClient", MSG)
    }
}

/// Bytes of RAM per connection slot of an `EspClient<T, _, R, _, RX, TX, MSG>`
/// (the driver's slot with the session and its buffers, plus the socket).
pub const fn slot_size<T, R, const RX: usize, const TX: usize, const MSG: usize>() -> usize
where
    T: TcpClientStack,
{
    size_of::<EspSlot<R, RX, TX, MSG>>() + size_of::<nb::Entry<T::TcpSocket>>()
}
