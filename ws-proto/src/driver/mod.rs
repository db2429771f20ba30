//! The life of a set of connections, sans I/O: the one driver every
//! transport executes.
//!
//! A [`Driver`] owns connection slots over caller-chosen storage (an array
//! on a microcontroller, a `Vec` on a host). It decides everything about a
//! connection's life: name resolution, TCP connect (with the next address on
//! failure), handshake, messages, close, the TCP close policy and linger,
//! every timer, fairness across connections, and that the events of bytes
//! received before a fault are delivered before the fault. A transport only
//! executes the driver's [`Action`]s on its sockets and reports what it
//! observed:
//!
//! ```text
//!   transport ── handle_resolved / handle_connect / handle_readiness ──► Driver
//!             ── handle_read / handle_write / handle_timeout(now) ──────►  │
//!   transport ◄── poll_action(now): Resolve, Connect, Read, Write, ────────┤
//!                 Shutdown, Close                                          │
//!   caller    ◄── poll_event(now): (ConnId, SessionEvent) ─────────────────┤
//!   caller    ── open / send_text / send_binary / ping / close ───────────►┘
//!   timer     ◄── poll_timeout()
//! ```
//!
//! Like quinn-proto's `Endpoint`, the driver never calls out: no sockets, no
//! clock (`now` is an argument), no allocation; randomness comes from the
//! [`Random`] source in each connection's storage. Phases and their changes
//! are in [`table`]; a socket layer that cannot be notified of readiness
//! (an `nb` stack) calls [`Driver::handle_ready_all`] each turn and answers
//! with `WouldBlock` when nothing moves.
//!
//! The loop of a transport, one turn:
//!
//! ```text
//!   report readiness, DNS answers; driver.handle_timeout(now)
//!   while let Some(action) = driver.poll_action(now) { execute it, report the result }
//!   while let Some((id, event)) = driver.poll_event(now) { deliver }
//! ```
//!
//! [`Driver::run`] is the middle of that turn for a transport that maps each
//! action to a socket call and a [`Report`].

mod error;
mod io;
pub(crate) mod ip;
mod run;
mod slot;
pub mod table;
mod transport;

#[cfg(test)]
mod redirect_tests;
#[cfg(test)]
mod tests;

use core::marker::PhantomData;
use core::net::{IpAddr, SocketAddr};

pub use error::{CommandError, OpenError};
pub use io::{Action, ConnId, ConnectOutcome, Io, Readiness, Resolution};
pub use run::Report;
pub use slot::{Policy, Slot};
pub use table::{Phase, Trigger, TRANSITIONS};
pub use transport::Transport;

use crate::buffer::Buffer;
use crate::connection::{Config, Connection, State};
use crate::error::UrlError;
use crate::handshake::HandshakeOptions;
use crate::random::Random;
use crate::session::{Session, SessionConfigError, SessionEvent};
use crate::time::Instant;
use crate::url::Url;
use run::Kind;
use slot::{Link, Zeroed};

/// The IP address of a URL whose host is an IP literal (it skips name
/// resolution); `None` for a name. A bracketed host must be an IPv6 address
/// (RFC 3986 section 3.2.2).
fn ip_literal(url: &Url<'_>) -> Result<Option<IpAddr>, OpenError> {
    match ip::parse(url.host, url.ipv6) {
        None if url.ipv6 => Err(OpenError::Url(UrlError::InvalidHost)),
        ip => Ok(ip),
    }
}

/// Starts `session` over in place for `url`: the largest message capped at
/// the assembler's room unless streaming, the storage checked, a new request.
fn restart<R: Random, TX: Buffer, RX: Buffer, A: Buffer>(
    session: &mut Session<R, TX, RX, A>,
    url: &Url<'_>,
    options: &HandshakeOptions<'_>,
    mut proto: Config,
    streaming: bool,
    now: Instant,
) -> Result<(), OpenError> {
    if !streaming {
        let room = session.assembler_capacity() as u64;
        proto.max_message_size = proto.max_message_size.min(room);
    }
    session
        .fits(proto.max_message_size)
        .map_err(OpenError::Storage)?;
    session
        .restart(url, options, proto, now)
        .map_err(OpenError::Request)?;
    session.follow_redirects();
    Ok(())
}

/// What a driver needs to know of its transport and its limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriverConfig {
    /// Limits and timeouts of each connection. `max_message_size` is capped
    /// at the assembler's size unless `streaming`.
    pub proto: Config,
    /// How long name resolution plus TCP connect may take, from `open`.
    pub connect_timeout_ms: u64,
    /// After `Closed` was delivered, how long the socket may linger to
    /// flush the last bytes (the close frame) and wait for the server to
    /// close TCP first.
    pub linger_ms: u64,
    /// Deliver messages that are not whole in the receive buffer as
    /// [`SessionEvent::Fragment`]s instead of joining them.
    pub streaming: bool,
    /// Whether the transport has TLS (so `wss://` URLs are accepted).
    pub tls: bool,
    /// After a write failed, reads drain what the socket still holds before
    /// the failure is reported. For this long from the drain's first read,
    /// a read that would block does not mean drained: the connection waits
    /// for readiness or the end of it ([`poll_timeout`](Driver::poll_timeout)
    /// includes it). 0 (the default) suits sockets whose reads see what
    /// arrived synchronously (`nb`, mio); an async stream whose reactor
    /// learns of bytes only after the task yields needs a grace.
    pub drain_grace_ms: u64,
}

impl Default for DriverConfig {
    /// ws-proto's defaults, 10 s to connect, 2 s linger, whole messages, no
    /// TLS, no drain grace.
    fn default() -> Self {
        DriverConfig {
            proto: Config::default(),
            connect_timeout_ms: 10_000,
            linger_ms: 2_000,
            streaming: false,
            tls: false,
            drain_grace_ms: 0,
        }
    }
}

/// The storage of one connection, made by the transport when a slot is
/// free: its random source, outbound queue, receive buffer and assembler.
#[derive(Debug)]
pub struct Storage<R, TX, RX, A> {
    /// The random source for the key and mask keys (RFC 6455 section 5.3).
    pub rng: R,
    /// The outbound queue's bytes.
    pub tx: TX,
    /// The receive buffer.
    pub rx: RX,
    /// The assembler's bytes (the largest whole message; unused when streaming).
    pub assembler: A,
}

/// Names the storage types a driver's slots hold (variance only).
type StorageTypes<R, TX, RX, A> = fn() -> (R, TX, RX, A);

/// A set of connections over the slots `S` (`[Slot<..>; N]`, `Vec<Slot<..>>`).
/// See the [module documentation](self).
#[derive(Debug)]
pub struct Driver<R, TX, RX, A, S> {
    slots: S,
    config: DriverConfig,
    network_up: bool,
    /// Where the next event and action searches start (round robin).
    event_cursor: usize,
    action_cursor: usize,
    _storage: PhantomData<StorageTypes<R, TX, RX, A>>,
}

impl<R, TX, RX, A, S> Driver<R, TX, RX, A, S>
where
    R: Random,
    TX: Buffer,
    RX: Buffer,
    A: Buffer,
    S: AsRef<[Slot<R, TX, RX, A>]> + AsMut<[Slot<R, TX, RX, A>]>,
{
    /// A driver over `slots` (each [`Slot::new`]), with no connection yet.
    /// At most 65,536 slots are used.
    pub fn new(slots: S, config: DriverConfig) -> Self {
        Driver {
            slots,
            config,
            network_up: true,
            event_cursor: 0,
            action_cursor: 0,
            _storage: PhantomData,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    fn slots(&self) -> &[Slot<R, TX, RX, A>] {
        let s = self.slots.as_ref();
        &s[..s.len().min(1 << 16)]
    }

    fn slots_mut(&mut self) -> &mut [Slot<R, TX, RX, A>] {
        let s = self.slots.as_mut();
        let n = s.len().min(1 << 16);
        &mut s[..n]
    }

    // ----- commands -----------------------------------------------------

    /// Starts a connection to `url` and returns at once; resolution, connect
    /// and handshake follow from [`poll_action`](Self::poll_action), and
    /// [`poll_event`](Self::poll_event) reports `Connected` or `Closed`.
    /// `storage` is called only once a slot is free and the URL is good,
    /// and only if the slot holds none: a slot taken over from a lingering
    /// connection restarts that connection's storage in place (its socket
    /// closes, even if this `open` fails).
    ///
    /// # Errors
    ///
    /// [`OpenError`]: a bad URL (`wss://` without TLS), the network down,
    /// every slot live, a request that does not fit, storage too small.
    /// Nothing is kept on error.
    pub fn open(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
        storage: impl FnOnce() -> Storage<R, TX, RX, A>,
    ) -> Result<ConnId, OpenError> {
        self.start(url, options, now, storage, false)
    }

    /// As [`open`](Self::open), but the slot keeps its storage for its whole
    /// life: `storage` is called only for the slot's first connection (its
    /// session is built in place, then), and every later `open` in that
    /// slot restarts the session in place (a new request written into the
    /// queue, the receive buffer and assembler emptied). Nothing large is
    /// built or moved on the stack: the open of a microcontroller's
    /// fixed-array slots.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_in_place(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
        storage: impl FnOnce() -> Storage<R, TX, RX, A>,
    ) -> Result<ConnId, OpenError> {
        self.start(url, options, now, storage, true)
    }

    /// `open`, keeping the slot's storage when `keep`.
    #[inline(always)]
    fn start(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
        storage: impl FnOnce() -> Storage<R, TX, RX, A>,
        keep: bool,
    ) -> Result<ConnId, OpenError> {
        if !self.network_up {
            return Err(OpenError::NetworkDown);
        }
        let url = Url::parse(url).map_err(OpenError::Url)?;
        if url.secure && !self.config.tls {
            return Err(OpenError::Url(UrlError::TlsUnsupported));
        }
        let link = match ip_literal(&url)? {
            Some(ip) => Link::Connect {
                addr: SocketAddr::new(ip, url.port),
                asked: false,
            },
            None => Link::Resolve { asked: false },
        };
        let index = self.free_slot().ok_or(OpenError::TooManyConnections)?;
        let deadline = now.plus_millis(self.config.connect_timeout_ms);
        let (proto, streaming) = (self.config.proto, self.config.streaming);
        let slot = &mut self.slots_mut()[index];
        if slot.link != Link::Free {
            // A lingering connection gives way; its socket closes first.
            slot.stale = Some(slot.gen);
            slot.link = Link::Free;
        }
        slot.kept |= keep;
        if slot.session.is_none() {
            let st = storage();
            let session = Session::idle(st.rng, st.tx, st.rx, st.assembler, streaming);
            slot.session = Zeroed::Some(session);
        }
        let started = match slot.session.as_mut() {
            Some(session) => restart(session, &url, options, proto, streaming, now),
            // Never: the session was put there above.
            None => Err(OpenError::Storage(SessionConfigError::RecvBufferTooSmall)),
        };
        if let Err(e) = started {
            if !slot.kept {
                slot.session = Zeroed::None;
            }
            return Err(e);
        }
        slot.gen = slot.gen.wrapping_add(1);
        slot.link = link;
        slot.deadline = deadline;
        slot.port = url.port;
        slot.secure = url.secure;
        slot.hops = 0;
        slot.visited[0] = crate::redirect::url_key(&url);
        slot.ready = Readiness::NONE;
        slot.drain = slot::Drain::None;
        Ok(slot.id(index))
    }

    /// A free slot, or else the one lingering longest.
    fn free_slot(&self) -> Option<usize> {
        let slots = self.slots();
        if let Some(i) = slots.iter().position(|s| s.link == Link::Free) {
            return Some(i);
        }
        slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.link, Link::Linger { .. } | Link::Release))
            .min_by_key(|(_, s)| s.deadline)
            .map(|(i, _)| i)
    }

    fn live(&mut self, id: ConnId) -> Option<&mut Slot<R, TX, RX, A>> {
        self.slots_mut()
            .get_mut(id.slot())
            .filter(|s| s.gen == id.gen && s.is_live())
    }

    /// The connection, for commands (`send_text`, `ping`, `close`, ...).
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`] for an id whose `Closed` was
    /// delivered, or that never existed.
    pub fn connection(&mut self, id: ConnId) -> Result<&mut Connection<R, TX>, CommandError> {
        self.live(id)
            .and_then(|s| s.session.as_mut())
            .map(Session::connection)
            .ok_or(CommandError::UnknownConnection)
    }

    /// The connection's protocol state; `None` for an id that is not live.
    /// `Connecting` covers resolution, TCP connect and the handshake.
    pub fn state(&self, id: ConnId) -> Option<State> {
        let slot = self.slots().get(id.slot())?;
        let session = slot.session.as_ref()?;
        (slot.gen == id.gen && slot.is_live()).then(|| session.connection_ref().state())
    }

    /// For a `wss://` connection, the name its TLS layer sends (SNI) and
    /// verifies the server's certificate against: the URL's host, a DNS
    /// name or an IP literal (without brackets). `None` for `ws://`, or
    /// once the handshake is over. A socket layer with TLS asks it when it
    /// executes [`Action::Connect`] (after a redirect it may differ from
    /// the first one).
    pub fn tls_server_name(&self, id: ConnId) -> Option<&str> {
        let slot = self.slots().get(id.slot())?;
        let session = slot.session.as_ref()?;
        if slot.gen != id.gen || !slot.secure || !slot.is_live() {
            return None;
        }
        session.connection_ref().request_host()
    }

    /// The connection's phase; `None` once its `Close` action was given
    /// (or for an id that never existed).
    pub fn phase(&self, id: ConnId) -> Option<Phase> {
        let slot = self.slots().get(id.slot())?;
        slot.phase().filter(|_| slot.gen == id.gen)
    }

    /// How many connections are live (opened, `Closed` not yet delivered).
    pub fn connection_count(&self) -> usize {
        self.slots().iter().filter(|s| s.is_live()).count()
    }

    /// How many ended connections still hold a socket (flushing, waiting
    /// for the server's FIN, each for at most `linger_ms`).
    pub fn lingering(&self) -> usize {
        let ending = |s: &&Slot<R, TX, RX, A>| {
            matches!(s.link, Link::Linger { .. } | Link::Release) || s.stale.is_some()
        };
        self.slots().iter().filter(ending).count()
    }

    // ----- inputs -------------------------------------------------------

    fn slot(&mut self, id: ConnId) -> Option<&mut Slot<R, TX, RX, A>> {
        self.slots_mut()
            .get_mut(id.slot())
            .filter(|s| s.gen == id.gen && s.link != Link::Free)
    }

    /// The answer to [`Action::Resolve`]. Stale ids are ignored.
    pub fn handle_resolved(&mut self, id: ConnId, r: Resolution) {
        if let Some(s) = self.slot(id) {
            s.handle_resolved(r);
        }
    }

    /// The answer to [`Action::Connect`]. Stale ids are ignored.
    pub fn handle_connect(&mut self, id: ConnId, outcome: ConnectOutcome, now: Instant) {
        if let Some(s) = self.slot(id) {
            s.handle_connect(outcome, now);
        }
    }

    /// A readiness notification for the socket of `id`.
    pub fn handle_readiness(&mut self, id: ConnId, r: Readiness) {
        if let Some(s) = self.slot(id) {
            s.handle_readiness(r);
        }
    }

    /// For socket layers without readiness notifications: everything may be
    /// possible on every socket (pending resolutions and connects are asked
    /// again).
    pub fn handle_ready_all(&mut self) {
        for s in self.slots_mut() {
            if s.link != Link::Free {
                s.handle_readiness(Readiness::ALL);
            }
        }
    }

    /// The result of the [`Action::Read`] for `id`.
    pub fn handle_read(&mut self, id: ConnId, io: Io) {
        if let Some(s) = self.slot(id) {
            s.handle_read(io);
        }
    }

    /// The result of the [`Action::Write`] for `id`.
    pub fn handle_write(&mut self, id: ConnId, io: Io) {
        if let Some(s) = self.slot(id) {
            s.handle_write(io);
        }
    }

    /// Whether the network is up (on an ESP32: the station has an IP). While
    /// it is down, `open` is refused, and live connections end with
    /// `LinkError::NetworkDown` when it goes down.
    pub fn set_network(&mut self, up: bool) {
        if self.network_up && !up {
            for s in self.slots_mut() {
                if s.is_live() {
                    s.fail(crate::session::LinkError::NetworkDown);
                }
            }
        }
        self.network_up = up;
    }

    /// Runs every timer that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for s in self.slots_mut() {
            s.handle_timeout(now);
        }
    }

    // ----- outputs ------------------------------------------------------

    /// The next action for the socket layer, taking connections in turn.
    /// Execute it and report its result before asking again.
    pub fn poll_action(&mut self, now: Instant) -> Option<Action<'_>> {
        let config = self.config;
        for (i, slot) in in_turn(self.slots.as_mut(), self.action_cursor) {
            if slot.has_action() {
                self.action_cursor = i + 1;
                return slot.next_action(i, now, &config);
            }
        }
        None
    }

    /// The next event, taking connections in turn. Call it until `None`.
    /// After a connection's `Closed` its id is dead for commands; its
    /// socket lingers as the TCP close policy says.
    pub fn poll_event(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
        let linger_ms = self.config.linger_ms;
        for (i, slot) in in_turn(self.slots.as_mut(), self.event_cursor) {
            if !slot.is_live() {
                continue;
            }
            let id = slot.id(i);
            let link = slot.link;
            let Slot {
                session,
                link: slot_link,
                deadline,
                ..
            } = slot;
            let Some(session) = session.as_mut() else {
                continue;
            };
            let link_end = session.link_end();
            let event = if session.refused() {
                session.end_refused()
            } else {
                session.poll_event(now)
            };
            let Some(event) = event else {
                continue;
            };
            if let SessionEvent::Closed(how) = &event {
                let policy = slot::policy(link, how, link_end);
                *slot_link = match policy {
                    Policy::Abort => Link::Release,
                    p => Link::Linger {
                        policy: p,
                        shut: false,
                    },
                };
                *deadline = now.plus_millis(linger_ms);
            }
            self.event_cursor = i + 1;
            return Some((id, event));
        }
        None
    }

    /// One turn of a transport's loop: executes actions with `exec` until there are none, runs the
    /// timers due at `now` (after the reads, so bytes already waiting count
    /// before a keepalive deadline), then executes what they queued. At most
    /// `budget` actions each time; `false` when the budget ran out (call
    /// again before sleeping). Readiness and DNS answers are reported before.
    pub fn run(
        &mut self,
        now: Instant,
        budget: usize,
        mut exec: impl FnMut(Action<'_>) -> Report,
    ) -> bool {
        self.run_actions(now, budget, &mut exec) && {
            self.handle_timeout(now);
            self.run_actions(now, budget, &mut exec)
        }
    }

    fn run_actions(
        &mut self,
        now: Instant,
        budget: usize,
        exec: &mut impl FnMut(Action<'_>) -> Report,
    ) -> bool {
        for _ in 0..budget {
            let Some(action) = self.poll_action(now) else {
                return true;
            };
            let (id, kind) = (action.id(), Kind::of(&action));
            match (kind, exec(action)) {
                (Kind::Resolve, Report::Resolved(r)) => self.handle_resolved(id, r),
                (Kind::Connect, Report::Connect(c)) => self.handle_connect(id, c, now),
                (Kind::Read, Report::Io(io)) => self.handle_read(id, io),
                (Kind::Write, Report::Io(io)) => self.handle_write(id, io),
                // A report that does not answer its action says nothing.
                _ => {}
            }
        }
        false
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots().iter().filter_map(Slot::poll_timeout).min()
    }

    /// Whether [`poll_action`](Self::poll_action) has something to do now,
    /// with no new input (a transport that sleeps checks this first).
    pub fn has_action(&mut self) -> bool {
        self.slots_mut().iter_mut().any(Slot::has_action)
    }
}

/// The first 65,536 slots with their indices, starting at `cursor` and
/// wrapping around (round robin).
fn in_turn<T>(slots: &mut [T], cursor: usize) -> impl Iterator<Item = (usize, &mut T)> {
    let n = slots.len().min(1 << 16);
    let start = cursor % n.max(1);
    let (head, tail) = slots[..n].split_at_mut(start);
    let tail = tail
        .iter_mut()
        .enumerate()
        .map(move |(k, s)| (start + k, s));
    tail.chain(head.iter_mut().enumerate())
}
