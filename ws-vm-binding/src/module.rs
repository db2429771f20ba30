//! [`WsModule`]: the `ws` module's functions, handle table, event table and
//! auto-reconnect, over any [`Transport`] and [`Host`].
//!
//! ```text
//!   script ── open/close/send/on/setAutoReconnect/... ─► WsModule ─► Transport
//!   VM event loop ── tick(now) ─► WsModule ◄── poll(now): SessionEvent
//!                                   │ connected / disconnected / message
//!                                   ▼
//!                       Host::emit(event type, fields)
//! ```
//!
//! A handle names a slot (bits 0-3) and the generation of the connection in
//! it (bits 4-30, so handles are never negative), so a handle that was closed
//! (or whose connection ended for good) is refused by every function, even
//! after its slot serves a newer connection. A generation repeats only after
//! 2^27 opens in the same slot.
//!
//! The life of one handle:
//!
//! ```text
//!   open ─► Active(connecting) ─connected─► Active(open) ─drop─► "disconnected"
//!              │ failed (first open: "disconnected")              │
//!              ▼                                                  ▼
//!     auto-reconnect on? ── yes ─► Waiting(at = now + delay) ─► Active(connecting) ...
//!              └── no ─► slot freed ("closed")
//!   close ─► close handshake in the background ("disconnected" if it was open) ─► slot freed
//! ```

use std::fmt::Write as _;

use ws_proto::{Disconnect, Instant, Message, SendError, SessionEvent, State};

use crate::hash::{CONN_MESSAGE_SIGNATURE, CONN_SIGNATURE, MESSAGE_SIGNATURE};
use crate::host::{EventType, Host, Value};
use crate::transport::{CommandFailure, Transport};

/// The document's connection limit on a host (PC).
pub const HOST_MAX_CONNECTIONS: usize = 16;
/// The document's connection limit on ESP32.
pub const ESP32_MAX_CONNECTIONS: usize = 2;
/// The most entries `setReconnectDelays` accepts.
pub const MAX_DELAYS: usize = 8;
/// The reconnect delay when no schedule was set (1 s).
pub const DEFAULT_DELAY_MS: u64 = 1_000;
/// The close code `close` sends (normal closure).
pub const CLOSE_CODE: u16 = 1000;

/// Bits of a handle that name the slot (16 slots at most).
const SLOT_BITS: u32 = 4;
const SLOT_MASK: i32 = (1 << SLOT_BITS) - 1;
/// Generations use the 27 bits above the slot, so handles stay positive.
const GENERATION_MASK: u32 = (1 << (31 - SLOT_BITS)) - 1;

/// The module's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleConfig {
    /// How many handles may be live at once (1 to 16).
    pub max_connections: usize,
}

impl ModuleConfig {
    /// The host (PC) configuration: 16 connections.
    pub const fn host() -> Self {
        ModuleConfig {
            max_connections: HOST_MAX_CONNECTIONS,
        }
    }

    /// The ESP32 configuration: 2 connections.
    pub const fn esp32() -> Self {
        ModuleConfig {
            max_connections: ESP32_MAX_CONNECTIONS,
        }
    }
}

impl Default for ModuleConfig {
    /// [`ModuleConfig::host`].
    fn default() -> Self {
        Self::host()
    }
}

/// The event names `ws.on` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventName {
    Connected,
    Disconnected,
    Message,
}

/// Which fields a bound event type has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `conn: i32`.
    Conn,
    /// `message: string`.
    Message,
    /// `conn: i32, message: string`.
    ConnMessage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Binding {
    event_type: EventType,
    layout: Layout,
}

/// Where a handle's connection is.
#[derive(Clone, Copy, Debug)]
enum Link<Id> {
    /// A transport connection exists. `open`: its handshake completed.
    /// `initial`: it is the handle's first attempt (from `open`).
    Active { id: Id, open: bool, initial: bool },
    /// Auto-reconnect: the next attempt starts at `at`.
    Waiting { at: Instant },
}

/// One live handle.
#[derive(Debug)]
struct Conn<Id> {
    url: String,
    link: Link<Id>,
    auto_reconnect: bool,
    /// Delays in milliseconds; `delay_count == 0` means the default.
    delays: [u64; MAX_DELAYS],
    delay_count: usize,
    /// The index of the next delay; reset when a handshake succeeds.
    retry: usize,
    /// `close()` was called; the handle is dead to the script and the slot
    /// waits for the transport to finish the close handshake.
    closing: bool,
    connected: Option<Binding>,
    disconnected: Option<Binding>,
    message: Option<Binding>,
}

impl<Id> Conn<Id> {
    /// The next reconnect delay (ms), advancing the index; the last repeats.
    fn next_delay(&mut self) -> u64 {
        let delay = match self.delay_count {
            0 => DEFAULT_DELAY_MS,
            n => self.delays[self.retry.min(n - 1)],
        };
        self.retry = self.retry.saturating_add(1);
        delay
    }
}

#[derive(Debug)]
struct Slot<Id> {
    generation: u32,
    conn: Option<Conn<Id>>,
}

/// The VM's `ws` module.
///
/// Function names follow the document (`ws.open` is [`open`](Self::open),
/// `ws.setAutoReconnect` is [`set_auto_reconnect`](Self::set_auto_reconnect),
/// ...). Functions the document types `void` return 0, or -1 for a bad
/// handle, so a binding may report misuse; the VM may ignore it.
///
/// Time: the module never reads a clock. [`tick`](Self::tick) passes `now`
/// (milliseconds, any monotonic origin) and the functions called between two
/// ticks use the latest one, so create the module with the VM's current time.
#[derive(Debug)]
pub struct WsModule<T: Transport, H: Host> {
    transport: T,
    host: H,
    slots: Vec<Slot<T::Id>>,
    now: Instant,
}

/// The handle of slot `index` with `generation`: always >= 0.
fn make_handle(index: usize, generation: u32) -> i32 {
    // Both parts are masked to fit 31 bits, so the conversions cannot fail.
    let slot = i32::try_from(index).unwrap_or(0) & SLOT_MASK;
    let generation = i32::try_from(generation & GENERATION_MASK).unwrap_or(0);
    (generation << SLOT_BITS) | slot
}

impl<T: Transport, H: Host> WsModule<T, H> {
    /// A module over `transport` reporting to `host`; `now` is the VM's
    /// current time. `config.max_connections` is clamped to 1..=16.
    pub fn new(transport: T, host: H, config: ModuleConfig, now: Instant) -> Self {
        let n = config.max_connections.clamp(1, HOST_MAX_CONNECTIONS);
        let slots = (0..n)
            .map(|_| Slot {
                generation: 0,
                conn: None,
            })
            .collect();
        WsModule {
            transport,
            host,
            slots,
            now,
        }
    }

    /// The host.
    pub fn host(&self) -> &H {
        &self.host
    }

    /// The host, mutable (e.g. to drain the events it queued).
    pub fn host_mut(&mut self) -> &mut H {
        &mut self.host
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, mutable.
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// The latest `now` the module was given.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How many slots are in use (live handles plus connections still
    /// finishing their close handshake).
    pub fn slots_in_use(&self) -> usize {
        self.slots.iter().filter(|s| s.conn.is_some()).count()
    }

    /// The slot limit (16 on host, 2 on ESP32).
    pub fn max_connections(&self) -> usize {
        self.slots.len()
    }

    /// The slot of a live handle (not closed, not stale).
    fn lookup(&self, handle: i32) -> Option<usize> {
        if handle < 0 {
            return None;
        }
        let index = usize::try_from(handle & SLOT_MASK).ok()?;
        let generation = u32::try_from(handle >> SLOT_BITS).ok()?;
        let slot = self.slots.get(index)?;
        match &slot.conn {
            Some(conn) if slot.generation == generation && !conn.closing => Some(index),
            _ => None,
        }
    }

    fn lookup_or_report(&mut self, handle: i32, function: &str) -> Option<usize> {
        let found = self.lookup(handle);
        if found.is_none() {
            let msg = format!("ws.{function}: invalid or closed handle {handle}");
            self.host.diagnostic(&msg);
        }
        found
    }

    /// The open transport connection of a live handle.
    fn open_link(&self, index: usize) -> Option<T::Id> {
        match self.slots.get(index)?.conn.as_ref()?.link {
            Link::Active { id, open: true, .. } => Some(id),
            _ => None,
        }
    }

    /// `ws.open(url)`: starts connecting and returns the handle at once, or -1
    /// (bad URL, every slot in use, the transport refused, and on ESP32 the
    /// network is not ready). The handshake proceeds in [`tick`](Self::tick);
    /// bind events with [`on`](Self::on) before the next tick.
    pub fn open(&mut self, url: &str) -> i32 {
        let Some(index) = self.slots.iter().position(|s| s.conn.is_none()) else {
            let msg = format!(
                "ws.open: too many connections (at most {})",
                self.slots.len()
            );
            self.host.diagnostic(&msg);
            return -1;
        };
        let id = match self.transport.open(url, self.now) {
            Ok(id) => id,
            Err(e) => {
                let msg = format!("ws.open({url:?}): {e}");
                self.host.diagnostic(&msg);
                return -1;
            }
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        slot.generation = slot.generation.wrapping_add(1) & GENERATION_MASK;
        slot.conn = Some(Conn {
            url: url.into(),
            link: Link::Active {
                id,
                open: false,
                initial: true,
            },
            auto_reconnect: false,
            delays: [0; MAX_DELAYS],
            delay_count: 0,
            retry: 0,
            closing: false,
            connected: None,
            disconnected: None,
            message: None,
        });
        make_handle(index, slot.generation)
    }

    /// `ws.close(conn)`: sends the close frame and disconnects; disables
    /// auto-reconnect. From now on the handle is invalid and
    /// [`state`](Self::state) is "closed"; the close handshake finishes in
    /// the background, and "disconnected" fires when it does if the
    /// connection was open. Returns 0, or -1 for a bad handle.
    pub fn close(&mut self, handle: i32) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "close") else {
            return -1;
        };
        let now = self.now;
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return -1;
        };
        conn.auto_reconnect = false;
        match conn.link {
            Link::Active { id, .. } => {
                match self.transport.close(id, now, CLOSE_CODE, "") {
                    Ok(()) => conn.closing = true,
                    // Already ended inside the transport: nothing to wait for.
                    Err(_) => slot.conn = None,
                }
            }
            Link::Waiting { .. } => slot.conn = None,
        }
        0
    }

    /// `ws.send(conn, msg)`: queues a text frame whole and returns its
    /// payload length in bytes (UTF-8), or -1: the outbound buffer is full
    /// (backpressure: the connection stays open, retry on a later turn), the
    /// connection is not open, the message can never fit, or a bad handle.
    pub fn send(&mut self, handle: i32, message: &str) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "send") else {
            return -1;
        };
        let Ok(len) = i32::try_from(message.len()) else {
            self.host
                .diagnostic("ws.send: message longer than i32::MAX bytes");
            return -1;
        };
        let Some(id) = self.open_link(index) else {
            let msg = format!("ws.send: connection {handle} is not open");
            self.host.diagnostic(&msg);
            return -1;
        };
        match self.transport.send_text(id, message) {
            Ok(()) => len,
            // Backpressure is routine flow control: no diagnostic.
            Err(CommandFailure::Send(SendError::Backpressure)) => -1,
            Err(e) => {
                let msg = format!("ws.send on {handle}: {e}");
                self.host.diagnostic(&msg);
                -1
            }
        }
    }

    /// `ws.on(conn, event, EventType)`: binds "connected", "disconnected" or
    /// "message" of this handle to a VM event type. The type's signature hash
    /// must be `conn:i32` for the first two and `message:string` or
    /// `conn:i32,message:string` for "message". Returns 0, or -1 for an
    /// unknown event name, an unknown event type, a layout that does not
    /// match, or a bad handle. Binding again replaces the previous binding.
    pub fn on(&mut self, handle: i32, event: &str, event_type: EventType) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "on") else {
            return -1;
        };
        let name = match event {
            "connected" => EventName::Connected,
            "disconnected" => EventName::Disconnected,
            "message" => EventName::Message,
            _ => {
                let msg = format!(
                    "ws.on: unknown event {event:?} (expected \"connected\", \"disconnected\" or \"message\")"
                );
                self.host.diagnostic(&msg);
                return -1;
            }
        };
        let Some(hash) = self.host.signature_hash(event_type) else {
            let msg = format!("ws.on({event:?}): unknown event type {event_type}");
            self.host.diagnostic(&msg);
            return -1;
        };
        let layout = match (name, hash) {
            (EventName::Connected | EventName::Disconnected, CONN_SIGNATURE) => Layout::Conn,
            (EventName::Message, MESSAGE_SIGNATURE) => Layout::Message,
            (EventName::Message, CONN_MESSAGE_SIGNATURE) => Layout::ConnMessage,
            (EventName::Message, _) => {
                let msg = format!(
                    "ws.on(\"message\"): event type {event_type} must declare {{ message: string }} or {{ conn: i32, message: string }} (signature hash {hash:#010x})"
                );
                self.host.diagnostic(&msg);
                return -1;
            }
            _ => {
                let msg = format!(
                    "ws.on({event:?}): event type {event_type} must declare {{ conn: i32 }} (signature hash {hash:#010x})"
                );
                self.host.diagnostic(&msg);
                return -1;
            }
        };
        let Some(conn) = self.slots.get_mut(index).and_then(|s| s.conn.as_mut()) else {
            return -1;
        };
        let binding = Some(Binding { event_type, layout });
        match name {
            EventName::Connected => conn.connected = binding,
            EventName::Disconnected => conn.disconnected = binding,
            EventName::Message => conn.message = binding,
        }
        0
    }

    /// `ws.setAutoReconnect(conn, enabled)`: whether an unexpected disconnect
    /// starts the reconnect schedule. Disabling it while a reconnect is
    /// pending cancels it and the handle ends ("closed"). Returns 0, or -1 for
    /// a bad handle.
    pub fn set_auto_reconnect(&mut self, handle: i32, enabled: bool) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "setAutoReconnect") else {
            return -1;
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return -1;
        };
        conn.auto_reconnect = enabled;
        if !enabled && matches!(conn.link, Link::Waiting { .. }) {
            slot.conn = None;
        }
        0
    }

    /// `ws.setReconnectDelays(conn, delays)`: the backoff schedule in seconds,
    /// at most 8 entries; the last one repeats. An empty schedule restores the
    /// default (1 s). More than 8 entries or a negative delay is refused
    /// whole with a diagnostic (-1) and the previous schedule stays. Returns
    /// 0, or -1.
    pub fn set_reconnect_delays(&mut self, handle: i32, delays_s: &[i64]) -> i32 {
        self.set_reconnect_delays_given(handle, delays_s, delays_s.len())
    }

    /// [`set_reconnect_delays`](Self::set_reconnect_delays) where the caller
    /// was given `given` entries but passes at most `MAX_DELAYS + 1` of them
    /// (the C ABI does not read past what it needs to refuse a schedule).
    pub(crate) fn set_reconnect_delays_given(
        &mut self,
        handle: i32,
        delays_s: &[i64],
        given: usize,
    ) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "setReconnectDelays") else {
            return -1;
        };
        if given > MAX_DELAYS || delays_s.len() > MAX_DELAYS {
            let msg = format!(
                "ws.setReconnectDelays: {} delays given, at most {MAX_DELAYS}; schedule unchanged",
                given.max(delays_s.len())
            );
            self.host.diagnostic(&msg);
            return -1;
        }
        if let Some(bad) = delays_s.iter().find(|d| **d < 0) {
            let msg = format!("ws.setReconnectDelays: negative delay {bad}; schedule unchanged");
            self.host.diagnostic(&msg);
            return -1;
        }
        let Some(conn) = self.slots.get_mut(index).and_then(|s| s.conn.as_mut()) else {
            return -1;
        };
        for (dst, src) in conn.delays.iter_mut().zip(delays_s) {
            *dst = u64::try_from(*src).unwrap_or(0).saturating_mul(1_000);
        }
        conn.delay_count = delays_s.len();
        0
    }

    /// `ws.state(conn)`: "connecting" from `open` until the handshake
    /// completes and while an auto-reconnect is pending or under way; "open"
    /// while messages can be sent; "closed" from `close()` on, after a drop
    /// with no reconnect, and for any handle that is not live.
    pub fn state(&self, handle: i32) -> &'static str {
        let Some(conn) = self
            .lookup(handle)
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.conn.as_ref())
        else {
            return "closed";
        };
        match conn.link {
            Link::Waiting { .. } => "connecting",
            Link::Active { id, .. } => match self.transport.state(id) {
                Some(State::Open) => "open",
                Some(State::Connecting) => "connecting",
                // Ended inside the transport; the next tick reports it.
                _ if conn.auto_reconnect => "connecting",
                _ => "closed",
            },
        }
    }

    /// `ws.ping(conn)`: queues a ping frame (empty payload). Returns 0, or -1
    /// when the connection is not open, the queue is full, or a bad handle.
    pub fn ping(&mut self, handle: i32) -> i32 {
        let Some(index) = self.lookup_or_report(handle, "ping") else {
            return -1;
        };
        let Some(id) = self.open_link(index) else {
            let msg = format!("ws.ping: connection {handle} is not open");
            self.host.diagnostic(&msg);
            return -1;
        };
        match self.transport.ping(id, b"") {
            Ok(()) => 0,
            Err(e) => {
                let msg = format!("ws.ping on {handle}: {e}");
                self.host.diagnostic(&msg);
                -1
            }
        }
    }

    /// `ws.setTimeout(conn, ms)`: a no-op kept for compatibility (every
    /// socket is non-blocking). Returns 0, or -1 for a bad handle.
    pub fn set_timeout(&mut self, handle: i32, ms: i32) -> i32 {
        let _ = ms;
        match self.lookup_or_report(handle, "setTimeout") {
            Some(_) => 0,
            None => -1,
        }
    }

    /// When the next reconnect attempt is due, if one is scheduled: the VM
    /// must call [`tick`](Self::tick) by then.
    pub fn next_reconnect(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| match s.conn.as_ref()?.link {
                Link::Waiting { at } => Some(at),
                Link::Active { .. } => None,
            })
            .min()
    }

    /// Whether some handle has a transport connection under way or open
    /// (as opposed to none, or only pending reconnects).
    pub fn has_active_links(&self) -> bool {
        self.slots.iter().any(|s| {
            s.conn
                .as_ref()
                .is_some_and(|c| matches!(c.link, Link::Active { .. }))
        })
    }

    /// Sleeps in the transport until there may be work, at most `max` and
    /// never past the next reconnect.
    pub fn wait(&mut self, max: core::time::Duration) {
        let mut max = max;
        if let Some(at) = self.next_reconnect() {
            let until = at.millis_since(self.now);
            max = max.min(core::time::Duration::from_millis(until));
        }
        self.transport.wait(self.now, max);
    }

    /// One turn of the VM's event loop: advances every connection, emits the
    /// events they produced, and starts the reconnect attempts that are due.
    pub fn tick(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        while let Some((id, event)) = self.transport.poll(now) {
            dispatch(&mut self.slots, &mut self.host, id, event, now);
        }
        for index in 0..self.slots.len() {
            self.reconnect_if_due(index, now);
        }
    }

    fn reconnect_if_due(&mut self, index: usize, now: Instant) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let handle = make_handle(index, slot.generation);
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        match conn.link {
            Link::Waiting { at } if at <= now => {}
            _ => return,
        }
        match self.transport.open(&conn.url, now) {
            Ok(id) => {
                conn.link = Link::Active {
                    id,
                    open: false,
                    initial: false,
                };
                let msg = format!("ws: reconnecting {handle} to {}", conn.url);
                self.host.diagnostic(&msg);
            }
            Err(e) => {
                // A failed attempt: the next delay, no second "disconnected".
                let at = now.plus_millis(conn.next_delay());
                conn.link = Link::Waiting { at };
                let msg = format!("ws: reconnect of {handle} failed: {e}");
                self.host.diagnostic(&msg);
            }
        }
    }
}

fn emit<H: Host>(host: &mut H, binding: Option<Binding>, handle: i32, message: Option<&str>) {
    let Some(b) = binding else {
        return;
    };
    match (b.layout, message) {
        (Layout::Conn, _) => host.emit(b.event_type, &[Value::I32(handle)]),
        (Layout::Message, Some(m)) => host.emit(b.event_type, &[Value::Str(m)]),
        (Layout::ConnMessage, Some(m)) => {
            host.emit(b.event_type, &[Value::I32(handle), Value::Str(m)]);
        }
        (Layout::Message | Layout::ConnMessage, None) => {}
    }
}

/// Applies one transport event to the handle whose link it belongs to.
fn dispatch<Id: Copy + Eq, H: Host>(
    slots: &mut [Slot<Id>],
    host: &mut H,
    id: Id,
    event: SessionEvent<'_>,
    now: Instant,
) {
    let found = slots.iter_mut().enumerate().find(|(_, s)| {
        s.conn
            .as_ref()
            .is_some_and(|c| matches!(c.link, Link::Active { id: i, .. } if i == id))
    });
    // An event for an id no handle holds (cannot happen with a conforming
    // transport) is ignored.
    let Some((index, slot)) = found else {
        return;
    };
    let handle = make_handle(index, slot.generation);
    let Some(conn) = slot.conn.as_mut() else {
        return;
    };
    let Link::Active { open, initial, .. } = conn.link else {
        return;
    };
    match event {
        SessionEvent::Connected { .. } => {
            conn.link = Link::Active {
                id,
                open: true,
                initial,
            };
            conn.retry = 0;
            if !conn.closing {
                emit(host, conn.connected, handle, None);
            }
        }
        SessionEvent::Message(Message::Text(text)) => {
            if !conn.closing {
                emit(host, conn.message, handle, Some(text));
            }
        }
        SessionEvent::Message(Message::Binary(data)) => {
            let msg = format!(
                "ws: binary message of {} bytes on {handle} dropped (v0.1 delivers text only)",
                data.len()
            );
            host.diagnostic(&msg);
        }
        SessionEvent::Fragment { data, .. } => {
            let msg = format!(
                "ws: message fragment of {} bytes on {handle} dropped (streaming transport)",
                data.len()
            );
            host.diagnostic(&msg);
        }
        SessionEvent::Ping(_) | SessionEvent::Pong(_) => {}
        SessionEvent::Closed(reason) => {
            let mut msg = String::new();
            let _ = write!(msg, "ws: connection {handle} ended: {reason}");
            if let Disconnect::Error(ws_proto::Error::Protocol(p)) = reason {
                if p.close_code() == ws_proto::close::MESSAGE_TOO_BIG {
                    let _ = write!(msg, " (a message exceeded the receive limit)");
                }
            }
            host.diagnostic(&msg);
            if conn.closing {
                if open {
                    emit(host, conn.disconnected, handle, None);
                }
                slot.conn = None;
                return;
            }
            // Once per open connection that ends, and once when the first
            // open never connected; failed reconnect attempts stay silent.
            if open || initial {
                emit(host, conn.disconnected, handle, None);
            }
            if conn.auto_reconnect {
                let at = now.plus_millis(conn.next_delay());
                conn.link = Link::Waiting { at };
            } else {
                slot.conn = None;
            }
        }
    }
}
