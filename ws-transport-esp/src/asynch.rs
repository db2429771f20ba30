//! [`AsyncClient`]: a [`ws_proto::Driver`] executed over
//! `embedded-io-async` streams from an `embedded-nal-async` connector
//! ([`TcpConnect`]) and resolver ([`Dns`]): embassy-net's `TcpClient` and
//! `DnsSocket` as they are, on esp-hal or any other async stack.
//!
//! ```text
//!   Resolve  ─► dns.get_host_by_name(host).await
//!   Connect  ─► connector.connect(addr).await      (the stream is kept in the slot)
//!   Read     ─► stream.read(buf), polled once: Pending is WouldBlock, the waker stays registered
//!               (after a failed write, the driver does not take it as drained for DRAIN_GRACE_MS)
//!   Write    ─► stream.write(bytes), polled once, likewise
//!   Shutdown ─► nothing (no half-close in embedded-io-async; the linger time bounds it)
//!   Close    ─► the stream is dropped
//! ```
//!
//! Reads and writes never wait: each is polled once with the caller's task
//! context, so a socket that cannot move bytes registers the task's waker
//! and the next [`AsyncClient::wait`] wakes when it can. DNS and TCP connect
//! are awaited where the driver asks for them (bounded by the stack's own
//! timeouts; a caller that cancels [`AsyncClient::poll`] loses nothing: the
//! driver asks again, and its connect deadline still holds).
//!
//! One task drives it, with `now` from its clock (embassy-time):
//!
//! ```text
//!   loop {
//!       while let Some((id, event)) = client.poll(now()).await { handle it; send }
//!       select(client.wait(now()), Timer::at(client.driver().poll_timeout())).await;
//!   }
//! ```

use core::future::poll_fn;
use core::net::IpAddr;
use core::task::{Context, Poll};

use embedded_io_async::ErrorKind;
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use ws_proto::driver::{Action, ConnectOutcome, DriverConfig, Resolution, Storage};
use ws_proto::{
    CommandError, ConnId, Connection, Driver, HandshakeOptions, Instant, LinkError, OpenError,
    Random, SessionEvent,
};

use crate::client::EspSlots;
use crate::config::{ClientConfig, Sizes};
use crate::stream::{try_once, Done, Stream};

/// How many actions one turn executes before handing out events again.
const ACTIONS_PER_TURN: usize = 64;

/// The driver's `drain_grace_ms` here: after a failed write, how long a
/// `Pending` read is not taken as "drained". An executor with a reactor
/// (tokio) learns of bytes only after the task yields, so the first read
/// after a reset can be `Pending` with the bytes that came before it
/// already in the socket; reporting it lost them (the reset tests of
/// `tests/async_loopback.rs`). The driver then waits for the stream's wakeup
/// or this deadline (`poll_timeout` includes it). 100 ms is far above a
/// reactor's turn and short against any keepalive. (embassy-net does not
/// need it: after a reset its reads return what its buffer holds, then the
/// error, at once.)
const DRAIN_GRACE_MS: u64 = 100;

/// The driver of an [`AsyncClient`], over the caller's slots.
pub type AsyncDriver<
    'a,
    R,
    const CONNS: usize,
    const RX: usize,
    const TX: usize,
    const MSG: usize,
> = Driver<R, [u8; TX], [u8; RX], [u8; MSG], &'a mut EspSlots<R, CONNS, RX, TX, MSG>>;

/// The WebSocket client over an async stack: `CONNS` connections made by
/// the connector `C` (names resolved by `D`), random source `R`, in the
/// caller's slots.
///
/// Sizes per connection as for [`crate::EspClient`]: `RX` receive buffer,
/// `TX` outbound queue, `MSG` assembler (0 with `streaming`). `R` is cloned
/// into each connection: use a handle whose clones draw independent bytes
/// (the ESP32 hardware RNG). The sessions and buffers stay in the caller's
/// [`EspSlots`] (a `static`, as embassy keeps its resources): nothing large
/// is built on the stack or moved.
///
/// With embassy-net (`C = TcpClient<'_, 2>`, `D = DnsSocket<'_>`):
///
/// ```ignore
/// static SLOTS: ConstStaticCell<EspSlots<Rng, 2, 1024, 1024, 1024>> =
///     ConstStaticCell::new([const { Slot::new() }; 2]);
///
/// let mut client = AsyncClient::new(&tcp_client, &dns_socket, rng, ClientConfig::default(), SLOTS.take());
/// let now = || ws_proto::Instant::from_millis(embassy_time::Instant::now().as_millis());
/// let id = client.open("ws://192.168.1.10:8080/", None, now())?;
/// loop {
///     while let Some((id, event)) = client.poll(now()).await { /* ... */ }
///     let at = client.driver().poll_timeout().map_or(u64::MAX, |t| t.millis());
///     select(client.wait(now()), Timer::at(embassy_time::Instant::from_millis(at))).await;
/// }
/// ```
pub struct AsyncClient<
    'a,
    C,
    D,
    R,
    const CONNS: usize,
    const RX: usize,
    const TX: usize,
    const MSG: usize,
> where
    C: TcpConnect,
{
    connector: &'a C,
    dns: &'a D,
    rng: R,
    driver: AsyncDriver<'a, R, CONNS, RX, TX, MSG>,
    /// The stream of each slot.
    streams: [Option<Stream<C::Connection<'a>>>; CONNS],
}

impl<'a, C, D, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    AsyncClient<'a, C, D, R, CONNS, RX, TX, MSG>
where
    C: TcpConnect + 'a,
    D: Dns,
    R: Random + Clone,
{
    /// A client that connects with `connector` and resolves with `dns`, with
    /// no connection yet, whose sessions and buffers are the caller's
    /// `slots` (each [`Slot::new`](ws_proto::driver::Slot::new); a `static`,
    /// see [`EspSlots`]).
    pub fn new(
        connector: &'a C,
        dns: &'a D,
        rng: R,
        config: ClientConfig,
        slots: &'a mut EspSlots<R, CONNS, RX, TX, MSG>,
    ) -> Self {
        let () = Sizes::<CONNS, RX, TX>::OK;
        AsyncClient {
            connector,
            dns,
            rng,
            driver: Driver::new(
                slots,
                DriverConfig {
                    drain_grace_ms: DRAIN_GRACE_MS,
                    ..config.driver()
                },
            ),
            streams: core::array::from_fn(|_| None),
        }
    }

    /// Starts a connection to `url`, offering `options` (subprotocols,
    /// extra headers; `None` for none) in the handshake, and returns at once;
    /// [`poll`](Self::poll) resolves, connects and reports `Connected` or
    /// `Closed`.
    ///
    /// # Errors
    ///
    /// [`OpenError`]: a bad URL (`wss://` is `UrlError::TlsUnsupported`),
    /// the network down, every slot live, a request that does not fit `TX`
    /// or a bad header. Nothing is kept.
    pub fn open(
        &mut self,
        url: &str,
        options: Option<&HandshakeOptions<'_>>,
        now: Instant,
    ) -> Result<ConnId, OpenError> {
        let rng = self.rng.clone();
        let none = HandshakeOptions::default();
        self.driver
            .open_in_place(url, options.unwrap_or(&none), now, || Storage {
                rng,
                tx: [0; TX],
                rx: [0; RX],
                assembler: [0; MSG],
            })
    }

    /// The connection `id`, for commands: `send_text`, `send_binary`,
    /// `ping`, `close`, `set_keepalive` queue their frames and the next
    /// [`poll`](Self::poll) writes them. `SendError::Backpressure` means:
    /// poll, then retry.
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`] once its `Closed` was delivered.
    pub fn connection(&mut self, id: ConnId) -> Result<&mut Connection<R, [u8; TX]>, CommandError> {
        self.driver.connection(id)
    }

    /// The driver, to read: `state(id)`, `connection_count()`,
    /// `lingering()`, and `poll_timeout()`: when [`poll`](Self::poll) must
    /// run again at the latest (race [`wait`](Self::wait) with a timer for
    /// it).
    pub fn driver(&self) -> &AsyncDriver<'a, R, CONNS, RX, TX, MSG> {
        &self.driver
    }

    /// Whether the network is up (embassy: `stack.is_config_up()`). While it
    /// is down `open` is refused; live connections end with `NetworkDown`.
    pub fn set_network(&mut self, up: bool) {
        self.driver.set_network(up);
    }

    /// Runs one turn (DNS and connects awaited; reads and writes tried once;
    /// the timers due at `now`) and returns the next event. Call it until
    /// `None`, then [`wait`](Self::wait). After `Closed` the id is dead; its
    /// stream lingers to flush the close frame, then is dropped.
    pub async fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        self.driver.handle_ready_all();
        if self.turn(now).await {
            self.driver.handle_timeout(now);
            self.turn(now).await;
        }
        self.driver.poll_event(now)
    }

    /// Waits until a stream moved bytes (read into the receive buffer, or
    /// written) or the driver asks to resolve or connect: then
    /// [`poll`](Self::poll) has something to do. Cancel-safe: race it with
    /// a timer for the driver's `poll_timeout`.
    pub async fn wait(&mut self, now: Instant) {
        poll_fn(|cx| {
            self.driver.handle_ready_all();
            if self.try_io(now, cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Executes actions, awaiting DNS and connects; `false` when the budget
    /// ran out.
    async fn turn(&mut self, now: Instant) -> bool {
        for _ in 0..ACTIONS_PER_TURN {
            let Some(action) = self.driver.poll_action(now) else {
                return true;
            };
            let id = action.id();
            let slot = &mut self.streams[id.slot()];
            match action {
                // The stack's own futures are awaited here, not wrapped in
                // futures of ours: each wrapper would add its arguments
                // to the task's future.
                Action::Resolve { host, .. } => {
                    let found = self.dns.get_host_by_name(host, AddrType::Either).await;
                    self.driver.handle_resolved(id, resolution(found));
                }
                Action::Connect { addr, .. } => {
                    // A stream left by another id is dropped first.
                    *slot = None;
                    let made = self.connector.connect(addr).await;
                    let outcome = connected(slot, id, made);
                    self.driver.handle_connect(id, outcome, now);
                }
                other => {
                    // Tried once with the task's own context (no waker is
                    // cloned): its waker is what the stream registers.
                    let mut once = Some(other);
                    let done = poll_fn(|cx| {
                        let done = once.take().map(|a| try_once(slot, a, cx));
                        Poll::Ready(done.unwrap_or(Done::Other))
                    })
                    .await;
                    report::<R, CONNS, RX, TX, MSG>(&mut self.driver, id, done);
                }
            }
        }
        false
    }

    /// Tries every read and write the driver asks for once; `true` when
    /// one moved bytes or the driver needs `poll` (resolve, connect).
    fn try_io(&mut self, now: Instant, cx: &mut Context<'_>) -> bool {
        for _ in 0..ACTIONS_PER_TURN {
            let Some(action) = self.driver.poll_action(now) else {
                return false;
            };
            let id = action.id();
            if matches!(action, Action::Resolve { .. } | Action::Connect { .. }) {
                return true;
            }
            let done = try_once(&mut self.streams[id.slot()], action, cx);
            let moved = done.moved();
            report::<R, CONNS, RX, TX, MSG>(&mut self.driver, id, done);
            if moved {
                return true;
            }
        }
        true
    }
}

impl<'a, C, D, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>
    core::fmt::Debug for AsyncClient<'a, C, D, R, CONNS, RX, TX, MSG>
where
    C: TcpConnect + 'a,
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        Sizes::<CONNS, RX, TX>::debug(f, "AsyncClient", MSG)
    }
}

/// Hands the result of [`try_once`] to the driver.
fn report<R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize>(
    driver: &mut AsyncDriver<'_, R, CONNS, RX, TX, MSG>,
    id: ConnId,
    done: Done,
) where
    R: Random,
{
    match done {
        Done::Read(io) => driver.handle_read(id, io),
        Done::Write(io) => driver.handle_write(id, io),
        Done::Other => {}
    }
}

/// What a DNS query found.
fn resolution<E>(found: Result<IpAddr, E>) -> Resolution {
    match found {
        Ok(ip) => Resolution::Found(ip),
        Err(_) => Resolution::Failed(LinkError::NameNotFound),
    }
}

/// What a TCP connect made: the stream is kept in `slot`.
fn connected<S, E: embedded_io_async::Error>(
    slot: &mut Option<Stream<S>>,
    id: ConnId,
    made: Result<S, E>,
) -> ConnectOutcome {
    match made {
        Ok(stream) => {
            *slot = Some(Stream::new(id, stream));
            ConnectOutcome::Connected
        }
        Err(e) => ConnectOutcome::Failed {
            error: match e.kind() {
                ErrorKind::ConnectionRefused => LinkError::Refused,
                ErrorKind::TimedOut => LinkError::ConnectTimeout,
                _ => LinkError::Io,
            },
            next: None,
        },
    }
}
