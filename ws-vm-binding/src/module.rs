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
//! after its slot serves a newer connection. Generations come from one
//! counter for the whole process, so a handle also stays dead across a
//! restart of the module (a new `WsModule`, `ws_init` again); one repeats
//! only after 2^27 opens.
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
use std::sync::atomic::{AtomicU32, Ordering};

use ws_proto::{Disconnect, Instant, SessionEvent, State};

use crate::error::ErrorCode;
use crate::events::{self, Binding, EventName};
use crate::host::{EventType, Host};
use crate::options::{OpenOptions, OwnedOptions};
use crate::transport::{CommandFailure, OpenFailure, Transport};

/// The document's connection limit on a host (PC).
pub const HOST_MAX_CONNECTIONS: usize = 16;
/// The document's connection limit on ESP32.
pub const ESP32_MAX_CONNECTIONS: usize = 2;
/// The most entries `setReconnectDelays` accepts.
pub const MAX_DELAYS: usize = 8;
/// The reconnect delay when no schedule was set (1 s).
pub const DEFAULT_DELAY_MS: u64 = 1_000;
/// The shortest reconnect delay: a delay of 0 in a schedule is taken as
/// this (100 ms), so a server that refuses at once is never retried in a
/// spin.
pub const MIN_DELAY_MS: u64 = 100;
/// The close code `close` sends (normal closure).
pub const CLOSE_CODE: u16 = 1000;
/// The module's keepalive default (Python websockets' default): ping after
/// 20 s of silence, and fail after 20 s more without a byte.
pub const DEFAULT_KEEPALIVE_MS: u64 = 20_000;
/// The largest keepalive interval or timeout `setKeepalive` takes (a day).
pub const MAX_KEEPALIVE_S: i32 = 86_400;
/// The longest close reason `closeWith` takes (a close frame's 125 bytes
/// less the code).
pub const MAX_CLOSE_REASON: usize = 123;

/// Bits of a handle that name the slot (16 slots at most).
const SLOT_BITS: u32 = 4;
const SLOT_MASK: i32 = (1 << SLOT_BITS) - 1;
/// Generations use the 27 bits above the slot, so handles stay positive.
const GENERATION_MASK: u32 = (1 << (31 - SLOT_BITS)) - 1;

/// The next generation for any handle of any module in this process: one
/// counter, so a handle kept across a restart of the module (a new
/// `WsModule`, `ws_init` again) never names a connection of the new one.
static NEXT_GENERATION: AtomicU32 = AtomicU32::new(1);

fn next_generation() -> u32 {
    NEXT_GENERATION.fetch_add(1, Ordering::Relaxed) & GENERATION_MASK
}

/// The module's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleConfig {
    /// How many handles may be live at once (1 to 16).
    pub max_connections: usize,
    /// The largest message `send` / `sendBinary` take, in bytes; a longer
    /// one is -1 with [`ErrorCode::TooLarge`] and a diagnostic naming this
    /// limit (never "buffer full"). Set it to the transport's limit.
    pub max_message_size: usize,
    /// Keepalive of every new connection: ping after this much silence
    /// (0: off). Change it per handle with `setKeepalive`.
    pub keepalive_interval_ms: u64,
    /// Keepalive: fail (close 1011) when no byte arrives this long after
    /// the ping (0: ping, never fail).
    pub keepalive_timeout_ms: u64,
}

impl ModuleConfig {
    /// The host (PC) configuration: 16 connections, 16 MiB messages (the
    /// std transport's default), keepalive 20 s / 20 s.
    pub const fn host() -> Self {
        ModuleConfig {
            max_connections: HOST_MAX_CONNECTIONS,
            max_message_size: 16 << 20,
            keepalive_interval_ms: DEFAULT_KEEPALIVE_MS,
            keepalive_timeout_ms: DEFAULT_KEEPALIVE_MS,
        }
    }

    /// The ESP32 configuration: 2 connections, 4 KiB messages, keepalive
    /// 20 s / 20 s.
    pub const fn esp32() -> Self {
        ModuleConfig {
            max_connections: ESP32_MAX_CONNECTIONS,
            max_message_size: 4 << 10,
            keepalive_interval_ms: DEFAULT_KEEPALIVE_MS,
            keepalive_timeout_ms: DEFAULT_KEEPALIVE_MS,
        }
    }
}

impl Default for ModuleConfig {
    /// [`ModuleConfig::host`].
    fn default() -> Self {
        Self::host()
    }
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

/// Keepalive of one handle, in milliseconds (0: off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Keepalive {
    interval_ms: u64,
    timeout_ms: u64,
}

/// One live handle.
#[derive(Debug)]
struct Conn<Id> {
    url: String,
    options: OwnedOptions,
    keepalive: Keepalive,
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
    /// The next reconnect delay (ms, at least [`MIN_DELAY_MS`]), advancing
    /// the index; the last repeats.
    fn next_delay(&mut self) -> u64 {
        let delay = match self.delay_count {
            0 => DEFAULT_DELAY_MS,
            n => self.delays[self.retry.min(n - 1)],
        };
        self.retry = self.retry.saturating_add(1);
        delay.max(MIN_DELAY_MS)
    }
}

#[derive(Debug)]
struct Slot<Id> {
    generation: u32,
    conn: Option<Conn<Id>>,
}

/// Opens a transport connection for a handle: its options, then its keepalive.
fn start_link<T: Transport>(
    transport: &mut T,
    url: &str,
    options: &OwnedOptions,
    keepalive: Keepalive,
    now: Instant,
) -> Result<T::Id, OpenFailure> {
    let id = options.with(|o| transport.open_with(url, o, now))?;
    // A fresh id is live, so this cannot fail; if it did, the connection
    // would simply run without keepalive.
    let _ = transport.set_keepalive(id, keepalive.interval_ms, keepalive.timeout_ms, now);
    Ok(id)
}

/// The VM's `ws` module.
///
/// Function names follow the document (`ws.open` is [`open`](Self::open),
/// `ws.setAutoReconnect` is [`set_auto_reconnect`](Self::set_auto_reconnect),
/// ...), plus the extensions of `docs/ws-module.md` (`sendBinary`,
/// `closeWith`, `openWith`, `setKeepalive`). Functions the document types
/// `void` return 0, or -1 for a bad handle, so a binding may report misuse;
/// the VM may ignore it. After any -1, [`last_error`](Self::last_error) says
/// why and a diagnostic says it in words (except for backpressure, which is
/// routine).
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
    config: ModuleConfig,
    last_error: ErrorCode,
}

/// The handle of slot `index` with `generation`: always >= 0.
fn make_handle(index: usize, generation: u32) -> i32 {
    // Both parts are masked to fit 31 bits, so the conversions cannot fail.
    let slot = i32::try_from(index).unwrap_or(0) & SLOT_MASK;
    let generation = i32::try_from(generation & GENERATION_MASK).unwrap_or(0);
    (generation << SLOT_BITS) | slot
}

/// Seconds (a script's `i32`) to milliseconds, when in `0..=MAX_KEEPALIVE_S`.
fn keepalive_ms(seconds: i32) -> Option<u64> {
    (0..=MAX_KEEPALIVE_S)
        .contains(&seconds)
        .then(|| u64::from(seconds.unsigned_abs()) * 1_000)
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
            config: ModuleConfig {
                max_connections: n,
                ..config
            },
            last_error: ErrorCode::None,
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

    /// The configuration in force (`max_connections` after clamping).
    pub fn config(&self) -> ModuleConfig {
        self.config
    }

    /// The latest `now` the module was given.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Why the last call that can fail returned -1 ([`ErrorCode::None`]
    /// after a success). `state` and the accessors leave it alone.
    pub fn last_error(&self) -> ErrorCode {
        self.last_error
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

    /// Records why a call fails, tells the script's developer, returns -1.
    fn fail(&mut self, code: ErrorCode, message: &str) -> i32 {
        self.last_error = code;
        self.host.diagnostic(message);
        -1
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

    /// Starts a call: clears the last error, finds the handle's slot (or
    /// records [`ErrorCode::BadHandle`] with a diagnostic).
    fn begin(&mut self, handle: i32, function: &str) -> Option<usize> {
        self.last_error = ErrorCode::None;
        let found = self.lookup(handle);
        if found.is_none() {
            let msg = format!("ws.{function}: invalid or closed handle {handle}");
            self.fail(ErrorCode::BadHandle, &msg);
        }
        found
    }

    fn conn_mut(&mut self, index: usize) -> Option<&mut Conn<T::Id>> {
        self.slots.get_mut(index)?.conn.as_mut()
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
        self.open_with(url, &OpenOptions::default())
    }

    /// `ws.openWith(url, options)` (extension): [`open`](Self::open) with
    /// extra handshake headers and subprotocols, offered again on every
    /// reconnect. -1 when [`open`](Self::open) would, and for options that
    /// are not valid or over their bounds (see [`OpenOptions`]).
    pub fn open_with(&mut self, url: &str, options: &OpenOptions<'_>) -> i32 {
        self.last_error = ErrorCode::None;
        let options = match OwnedOptions::check(options) {
            Ok(o) => o,
            Err(why) => {
                return self.fail(ErrorCode::InvalidArgument, &format!("ws.openWith: {why}"));
            }
        };
        let Some(index) = self.slots.iter().position(|s| s.conn.is_none()) else {
            let msg = format!(
                "ws.open: too many connections (at most {})",
                self.slots.len()
            );
            return self.fail(ErrorCode::TooManyConnections, &msg);
        };
        let keepalive = Keepalive {
            interval_ms: self.config.keepalive_interval_ms,
            timeout_ms: self.config.keepalive_timeout_ms,
        };
        let id = match start_link(&mut self.transport, url, &options, keepalive, self.now) {
            Ok(id) => id,
            Err(e) => {
                let code = match e {
                    OpenFailure::TooManyConnections => ErrorCode::TooManyConnections,
                    _ => ErrorCode::OpenFailed,
                };
                let shown: String = url.chars().take(200).collect();
                return self.fail(code, &format!("ws.open({shown:?}): {e}"));
            }
        };
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        slot.generation = next_generation();
        slot.conn = Some(Conn {
            url: url.into(),
            options,
            keepalive,
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

    /// `ws.close(conn)`: sends the close frame (1000) and disconnects;
    /// disables auto-reconnect. From now on the handle is invalid and
    /// [`state`](Self::state) is "closed"; the close handshake finishes in
    /// the background, and "disconnected" fires when it does if the
    /// connection was open. Returns 0, or -1 for a bad handle.
    pub fn close(&mut self, handle: i32) -> i32 {
        let Some(index) = self.begin(handle, "close") else {
            return -1;
        };
        self.close_slot(index, CLOSE_CODE, "")
    }

    /// `ws.closeWith(conn, code, reason)` (extension): [`close`](Self::close)
    /// with a close code and a UTF-8 reason of at most 123 bytes. -1 with
    /// nothing sent (the handle stays as it was) for a code a client may not
    /// send (only 1000-1003, 1007-1011 and 3000-4999 may be sent), a reason
    /// too long, or a bad handle.
    pub fn close_with(&mut self, handle: i32, code: i32, reason: &str) -> i32 {
        let Some(index) = self.begin(handle, "closeWith") else {
            return -1;
        };
        let valid = u16::try_from(code)
            .ok()
            .filter(|c| ws_proto::close::is_valid_code(*c));
        let Some(code) = valid else {
            let msg = format!(
                "ws.closeWith: close code {code} may not be sent (1000-1003, 1007-1011, 3000-4999); nothing sent"
            );
            return self.fail(ErrorCode::InvalidArgument, &msg);
        };
        if reason.len() > MAX_CLOSE_REASON {
            let msg = format!(
                "ws.closeWith: reason of {} bytes, at most {MAX_CLOSE_REASON}; nothing sent",
                reason.len()
            );
            return self.fail(ErrorCode::InvalidArgument, &msg);
        }
        self.close_slot(index, code, reason)
    }

    fn close_slot(&mut self, index: usize, code: u16, reason: &str) -> i32 {
        let now = self.now;
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return -1;
        };
        conn.auto_reconnect = false;
        match conn.link {
            Link::Active { id, .. } => match self.transport.close(id, now, code, reason) {
                Ok(()) => conn.closing = true,
                // Already ended inside the transport: nothing to wait for.
                Err(CommandFailure::UnknownConnection) => slot.conn = None,
                Err(e) => {
                    let msg = format!("ws.closeWith: {e}; nothing sent");
                    return self.fail(ErrorCode::of_command(e), &msg);
                }
            },
            Link::Waiting { .. } => slot.conn = None,
        }
        0
    }

    /// `ws.send(conn, msg)`: queues a text frame whole and returns its
    /// payload length in bytes (UTF-8), or -1: the outbound buffer is full
    /// ([`ErrorCode::Backpressure`]: the connection stays open, retry on a
    /// later turn; no diagnostic), the message is over the limit
    /// ([`ErrorCode::TooLarge`]: it never fits, the diagnostic names the
    /// limit), the connection is not open, or a bad handle.
    pub fn send(&mut self, handle: i32, message: &str) -> i32 {
        self.send_data(handle, "send", message.len(), |t, id| {
            t.send_text(id, message)
        })
    }

    /// `ws.sendBinary(conn, data)` (extension): as [`send`](Self::send), a
    /// binary frame.
    pub fn send_binary(&mut self, handle: i32, data: &[u8]) -> i32 {
        self.send_data(handle, "sendBinary", data.len(), |t, id| {
            t.send_binary(id, data)
        })
    }

    fn send_data(
        &mut self,
        handle: i32,
        function: &str,
        len: usize,
        queue: impl FnOnce(&mut T, T::Id) -> Result<(), CommandFailure>,
    ) -> i32 {
        let Some(index) = self.begin(handle, function) else {
            return -1;
        };
        let limit = self.config.max_message_size.min(i32::MAX as usize);
        let Ok(n) =
            i32::try_from(len).map_err(drop).and_then(
                |n| {
                    if len > limit {
                        Err(())
                    } else {
                        Ok(n)
                    }
                },
            )
        else {
            let msg = format!(
                "ws.{function} on {handle}: message of {len} bytes is over the limit of {limit} bytes (max_message_size); it can never be sent, do not retry"
            );
            return self.fail(ErrorCode::TooLarge, &msg);
        };
        let Some(id) = self.open_link(index) else {
            let msg = format!("ws.{function}: connection {handle} is not open");
            return self.fail(ErrorCode::NotOpen, &msg);
        };
        match queue(&mut self.transport, id) {
            Ok(()) => n,
            // Backpressure is routine flow control: no diagnostic.
            Err(e @ CommandFailure::Send(ws_proto::SendError::Backpressure)) => {
                self.last_error = ErrorCode::of_command(e);
                -1
            }
            Err(e) => {
                let code = ErrorCode::of_command(e);
                let msg = if code == ErrorCode::TooLarge {
                    format!("ws.{function} on {handle}: message of {len} bytes is larger than the transport's outbound limit; it can never be sent, do not retry")
                } else {
                    format!("ws.{function} on {handle}: {e}")
                };
                self.fail(code, &msg)
            }
        }
    }

    /// `ws.on(conn, event, EventType)`: binds "connected", "disconnected" or
    /// "message" of this handle to a VM event type whose signature hash is
    /// one of the event's layouts (see `docs/ws-module.md`). Returns 0, or
    /// -1 for an unknown event name, an unknown event type, a layout that
    /// does not fit, or a bad handle. Binding again replaces the previous
    /// binding.
    pub fn on(&mut self, handle: i32, event: &str, event_type: EventType) -> i32 {
        let Some(index) = self.begin(handle, "on") else {
            return -1;
        };
        let Some(name) = EventName::parse(event) else {
            let shown: String = event.chars().take(64).collect();
            let msg = format!(
                "ws.on: unknown event {shown:?} (expected \"connected\", \"disconnected\" or \"message\")"
            );
            return self.fail(ErrorCode::UnknownEvent, &msg);
        };
        let Some(hash) = self.host.signature_hash(event_type) else {
            let msg = format!("ws.on({event:?}): unknown event type {event_type}");
            return self.fail(ErrorCode::LayoutMismatch, &msg);
        };
        let Some(layout) = name.layout(hash) else {
            let msg = format!(
                "ws.on({event:?}): event type {event_type} must declare {} (signature hash {hash:#010x})",
                name.accepted()
            );
            return self.fail(ErrorCode::LayoutMismatch, &msg);
        };
        let Some(conn) = self.conn_mut(index) else {
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
        let Some(index) = self.begin(handle, "setAutoReconnect") else {
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
    /// default (1 s); a delay of 0 is taken as [`MIN_DELAY_MS`] (100 ms).
    /// More than 8 entries or a negative delay is refused whole with a
    /// diagnostic (-1) and the previous schedule stays. Returns 0, or -1.
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
        let Some(index) = self.begin(handle, "setReconnectDelays") else {
            return -1;
        };
        if given > MAX_DELAYS || delays_s.len() > MAX_DELAYS {
            let msg = format!(
                "ws.setReconnectDelays: {} delays given, at most {MAX_DELAYS}; schedule unchanged",
                given.max(delays_s.len())
            );
            return self.fail(ErrorCode::InvalidArgument, &msg);
        }
        if let Some(bad) = delays_s.iter().find(|d| **d < 0) {
            let msg = format!("ws.setReconnectDelays: negative delay {bad}; schedule unchanged");
            return self.fail(ErrorCode::InvalidArgument, &msg);
        }
        let Some(conn) = self.conn_mut(index) else {
            return -1;
        };
        for (dst, src) in conn.delays.iter_mut().zip(delays_s) {
            *dst = u64::try_from(*src)
                .unwrap_or(0)
                .saturating_mul(1_000)
                .max(MIN_DELAY_MS);
        }
        conn.delay_count = delays_s.len();
        0
    }

    /// `ws.setKeepalive(conn, interval_s, timeout_s)` (extension): ping
    /// after `interval_s` seconds without a byte from the server, and end
    /// the connection (close 1011, "disconnected") when nothing arrives
    /// within `timeout_s` more. 0 turns either off (interval 0: no pings;
    /// timeout 0: ping, never fail). Applies now and to every reconnect of
    /// the handle. Each value must be 0 to 86400 (a day), else -1 with a
    /// diagnostic and nothing changes. New handles start with
    /// [`ModuleConfig`]'s keepalive (20 s / 20 s).
    pub fn set_keepalive(&mut self, handle: i32, interval_s: i32, timeout_s: i32) -> i32 {
        let Some(index) = self.begin(handle, "setKeepalive") else {
            return -1;
        };
        let (Some(interval_ms), Some(timeout_ms)) =
            (keepalive_ms(interval_s), keepalive_ms(timeout_s))
        else {
            let msg = format!(
                "ws.setKeepalive: interval {interval_s} s and timeout {timeout_s} s must each be 0 to {MAX_KEEPALIVE_S}; keepalive unchanged"
            );
            return self.fail(ErrorCode::InvalidArgument, &msg);
        };
        let now = self.now;
        let Some(slot) = self.slots.get_mut(index) else {
            return -1;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return -1;
        };
        conn.keepalive = Keepalive {
            interval_ms,
            timeout_ms,
        };
        if let Link::Active { id, .. } = conn.link {
            // An id that just ended is reported by the next tick; the next
            // reconnect takes the new values.
            let _ = self
                .transport
                .set_keepalive(id, interval_ms, timeout_ms, now);
        }
        0
    }

    /// `ws.state(conn)`: "connecting" from `open` until the handshake
    /// completes and while an auto-reconnect is pending or under way; "open"
    /// while messages can be sent; "closed" from `close()` on, after a drop
    /// with no reconnect, and for any handle that is not live.
    pub fn state(&self, handle: i32) -> HandleState {
        let Some(conn) = self
            .lookup(handle)
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.conn.as_ref())
        else {
            return HandleState::Closed;
        };
        match conn.link {
            Link::Waiting { .. } => HandleState::Connecting,
            Link::Active { id, .. } => match self.transport.state(id) {
                Some(State::Open) => HandleState::Open,
                Some(State::Connecting) => HandleState::Connecting,
                // Ended inside the transport; the next tick reports it.
                _ if conn.auto_reconnect => HandleState::Connecting,
                _ => HandleState::Closed,
            },
        }
    }

    /// `ws.ping(conn)`: queues a ping frame (empty payload). Returns 0, or -1
    /// when the connection is not open, the queue is full, or a bad handle.
    pub fn ping(&mut self, handle: i32) -> i32 {
        let Some(index) = self.begin(handle, "ping") else {
            return -1;
        };
        let Some(id) = self.open_link(index) else {
            let msg = format!("ws.ping: connection {handle} is not open");
            return self.fail(ErrorCode::NotOpen, &msg);
        };
        match self.transport.ping(id, b"") {
            Ok(()) => 0,
            Err(e) => self.fail(
                ErrorCode::of_command(e),
                &format!("ws.ping on {handle}: {e}"),
            ),
        }
    }

    /// `ws.setTimeout(conn, ms)`: a no-op kept for compatibility (every
    /// socket is non-blocking). Returns 0, or -1 for a bad handle.
    pub fn set_timeout(&mut self, handle: i32, ms: i32) -> i32 {
        let _ = ms;
        match self.begin(handle, "setTimeout") {
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
        match start_link(
            &mut self.transport,
            &conn.url,
            &conn.options,
            conn.keepalive,
            now,
        ) {
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
        SessionEvent::Connected { protocol } => {
            conn.link = Link::Active {
                id,
                open: true,
                initial,
            };
            conn.retry = 0;
            if !conn.closing {
                events::connected(host, conn.connected, handle, protocol.unwrap_or(""));
            }
        }
        SessionEvent::Message(m) if !conn.closing => {
            events::message(host, conn.message, handle, m);
        }
        SessionEvent::Fragment { data, .. } => {
            let msg = format!(
                "ws: message fragment of {} bytes on {handle} dropped (streaming transport)",
                data.len()
            );
            host.diagnostic(&msg);
        }
        SessionEvent::Closed(reason) => {
            let mut msg = String::new();
            let _ = write!(msg, "ws: connection {handle} ended: {reason}");
            if let Disconnect::Error(ws_proto::Error::Protocol(p)) = reason {
                if p.close_code() == ws_proto::close::MESSAGE_TOO_BIG {
                    let _ = write!(msg, " (a message exceeded the receive limit)");
                }
            }
            host.diagnostic(&msg);
            let (code, text) = events::ending(&reason);
            if conn.closing {
                if open {
                    events::disconnected(host, conn.disconnected, handle, code, &text);
                }
                slot.conn = None;
                return;
            }
            // Once per open connection that ends, and once when the first
            // open never connected; failed reconnect attempts stay silent.
            if open || initial {
                events::disconnected(host, conn.disconnected, handle, code, &text);
            }
            if conn.auto_reconnect {
                let at = now.plus_millis(conn.next_delay());
                conn.link = Link::Waiting { at };
            } else {
                slot.conn = None;
            }
        }
        // Pings and pongs (answered by the core), and kinds a later core adds.
        _ => {}
    }
}

/// What `ws.state(conn)` says of a handle; the VM sees [`as_str`](Self::as_str).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandleState {
    /// From `open` until the handshake completes, and while an
    /// auto-reconnect is pending or under way.
    Connecting,
    /// Messages can be sent.
    Open,
    /// From `close()` on, after a drop with no reconnect, and for any handle
    /// that is not live.
    Closed,
}

impl HandleState {
    /// The module's word for it: "connecting", "open" or "closed".
    pub const fn as_str(self) -> &'static str {
        match self {
            HandleState::Connecting => "connecting",
            HandleState::Open => "open",
            HandleState::Closed => "closed",
        }
    }
}

impl core::fmt::Display for HandleState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with the module's word, as scripts do (`ws.state(c) == "open"`).
impl PartialEq<&str> for HandleState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
