//! A [`Connection`] with its receive buffer and message assembler: the part
//! every transport would otherwise write again.
//!
//! A transport that owns a socket does four things with a [`Session`]:
//!
//! ```text
//!   socket.read(session.read_buf()) ─► session.commit_read(n)
//!   while let Some(ev) = session.poll_event(now) { deliver ev }
//!   socket.write(session.transmit()) ─► session.advance_transmit(n)
//!   on EOF: session.handle_eof() ; on a failure: session.handle_link_error(e)
//!   on timer: session.handle_timeout(now)
//! ```
//!
//! The session keeps unconsumed bytes between reads (the contract of
//! [`Connection::recv`]), joins fragmented messages in bounded storage (or
//! streams them as pieces, if built with [`Session::streaming`]), holds back
//! a single-frame message that is only partly read when the receive buffer
//! is storage that grows ([`Buffer::GROWS`]) and can grow to take it whole,
//! so that it comes borrowed from the buffer, copied once, and reports
//! the end of the connection exactly once as [`SessionEvent::Closed`]. An end
//! of stream or a link failure is recorded, and reported only after the
//! events of every byte received before it. Transport failures that happen
//! outside the protocol (refused, name not found, reset) are named by
//! [`LinkError`] so that every transport reports them alike.
//!
//! Most transports do not drive a session by hand: [`crate::driver`] does
//! it for a set of connections, and the transport executes its actions.

use core::fmt;

use crate::assembler::{Assembler, Message};
use crate::buffer::Buffer;
use crate::close::{CloseFrame, MESSAGE_TOO_BIG};
use crate::connection::Config;
use crate::connection::{Connection, DataKind, Event, Progress, State, MIN_RECV_BUFFER};
use crate::error::SendError;
use crate::error::{Error, HandshakeError};
use crate::frame::{FrameHeader, OpCode};
use crate::handshake::HandshakeOptions;
use crate::random::Random;
use crate::redirect::{NotFollowed, Redirect, RedirectRefusal};
use crate::time::Instant;
use crate::url::Url;

/// What a [`Session`] delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent<'a> {
    /// The handshake completed.
    Connected {
        /// The subprotocol the server chose, if any.
        protocol: Option<&'a str>,
    },
    /// A whole message.
    Message(Message<'a>),
    /// A piece of a message (only from a [`Session::streaming`] session).
    Fragment {
        /// Text or binary.
        kind: DataKind,
        /// The piece.
        data: &'a [u8],
        /// Whether it ends the message.
        fin: bool,
    },
    /// A ping arrived (its pong is queued).
    Ping(&'a [u8]),
    /// A pong arrived.
    Pong(&'a [u8]),
    /// The connection ended; reported once, and nothing follows it.
    Closed(Disconnect<'a>),
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disconnect<'a> {
    /// The close handshake completed with the server's close frame.
    Clean(CloseFrame<'a>),
    /// The protocol ended it: handshake failure, violation, timeout, EOF.
    Error(Error),
    /// The transport failed below the protocol.
    Link(LinkError),
    /// This side closed it before the handshake completed.
    Local,
    /// A redirect (3xx with a `Location`) the driver did not follow: too
    /// many, a loop, `wss` to `ws`, a bad location. Names the status, why,
    /// and the location (borrowed from the response, as a clean close's
    /// reason is from its frame).
    Redirect(Redirect<'a>),
}

impl fmt::Display for Disconnect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disconnect::Clean(c) => match c.code {
                Some(code) => write!(f, "closed by the close handshake ({code} {:?})", c.reason),
                None => f.write_str("closed by the close handshake (no status)"),
            },
            Disconnect::Error(e) => write!(f, "{e}"),
            Disconnect::Link(e) => write!(f, "{e}"),
            Disconnect::Local => f.write_str("closed locally before the handshake completed"),
            Disconnect::Redirect(r) => write!(f, "{r}"),
        }
    }
}

/// A transport failure below the WebSocket protocol, named the same way by
/// every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkError {
    /// The server refused the TCP connection.
    Refused,
    /// The host name did not resolve.
    NameNotFound,
    /// TCP connect (or name resolution) did not finish in time.
    ConnectTimeout,
    /// The connection was reset or broke while open.
    Reset,
    /// The network is not up (e.g. the station has no IP yet).
    NetworkDown,
    /// The TLS layer failed (handshake, certificate or alert), and why.
    Tls {
        /// Why.
        reason: crate::tls::TlsReason,
    },
    /// Any other I/O failure.
    Io,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let LinkError::Tls { reason } = self {
            return write!(f, "TLS failure: {reason}");
        }
        f.write_str(match self {
            LinkError::Refused => "connection refused",
            LinkError::NameNotFound => "host name not found",
            LinkError::ConnectTimeout => "connect timed out",
            LinkError::Reset => "connection reset",
            LinkError::NetworkDown => "network is down",
            LinkError::Tls { .. } => "TLS failure",
            LinkError::Io => "I/O error",
        })
    }
}

impl core::error::Error for LinkError {}

/// A session's storage does not fit its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionConfigError {
    /// The receive buffer is smaller than [`MIN_RECV_BUFFER`].
    RecvBufferTooSmall,
    /// The assembler is smaller than the connection's `max_message_size`, so
    /// a message could pass the protocol's limit and still not fit.
    AssemblerTooSmall,
}

impl fmt::Display for SessionConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionConfigError::RecvBufferTooSmall => "receive buffer below the minimum",
            SessionConfigError::AssemblerTooSmall => "assembler smaller than max_message_size",
        })
    }
}

impl core::error::Error for SessionConfigError {}

/// How the link under a session ended, as the transport saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkEnd {
    /// End of stream: the server closed its side.
    Eof,
    /// The link failed.
    Failed(LinkError),
}

/// A connection, its receive buffer `RX` and its assembler storage `A`.
#[derive(Debug)]
pub struct Session<R, TX, RX, A> {
    conn: Connection<R, TX>,
    rx: RX,
    /// Unconsumed received bytes are `rx[start..end]`.
    start: usize,
    end: usize,
    assembler: Assembler<A>,
    streaming: bool,
    /// How the link ended; reported once the bytes before it gave their events.
    link_end: Option<LinkEnd>,
    /// An end decided outside the decoder (a timer), reported next.
    timer_end: Option<Error>,
    /// Bytes arrived since the connection last heard of it (keepalive).
    fresh: bool,
    /// The last read filled the buffer to its end: growable storage grows.
    filled: bool,
    /// The size of the last read (what to keep when the buffer shrinks).
    last_read: usize,
    /// Payload bytes of the held-back text frame already checked as UTF-8
    /// (or `NO_HOLD`). `u32`: a held frame fits in 4 GiB (the ESP32 slot
    /// size is tested).
    checked: u32,
    /// The size of the frame held back, for which `read_buf` makes room.
    want: u32,
    /// The terminal event was delivered.
    ended: bool,
    /// Redirects are followed by the driver: a 3xx response is held for it
    /// (at `rx[start..end]`) instead of ending the session.
    redirects: bool,
    held: bool,
    /// A held redirect the driver refused (status, why): the session ends
    /// with it, its response still at `rx[start..end]` for the location.
    refused: Option<(u16, RedirectRefusal)>,
}

impl<R, TX, RX, A> Session<R, TX, RX, A>
where
    R: Random,
    TX: Buffer,
    RX: Buffer,
    A: Buffer,
{
    /// A session that delivers whole messages, joined in `assembler`.
    ///
    /// # Errors
    ///
    /// [`SessionConfigError`] when `rx` is below [`MIN_RECV_BUFFER`] or
    /// `assembler` is smaller than the connection's `max_message_size`.
    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    pub fn new(conn: Connection<R, TX>, rx: RX, assembler: A) -> Result<Self, SessionConfigError> {
        if (assembler.limit() as u64) < conn.max_message_size() {
            return Err(SessionConfigError::AssemblerTooSmall);
        }
        Self::build(conn, rx, assembler, false)
    }

    /// A session that delivers messages as [`SessionEvent::Fragment`]s when
    /// they are not whole in one piece; `assembler` is unused (pass `[]`).
    ///
    /// # Errors
    ///
    /// [`SessionConfigError::RecvBufferTooSmall`].
    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    pub fn streaming(
        conn: Connection<R, TX>,
        rx: RX,
        assembler: A,
    ) -> Result<Self, SessionConfigError> {
        Self::build(conn, rx, assembler, true)
    }

    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    fn build(
        conn: Connection<R, TX>,
        rx: RX,
        assembler: A,
        streaming: bool,
    ) -> Result<Self, SessionConfigError> {
        if rx.as_ref().len() < MIN_RECV_BUFFER {
            return Err(SessionConfigError::RecvBufferTooSmall);
        }
        Ok(Self::over(conn, rx, assembler, streaming))
    }

    /// A session over `conn`, before any byte.
    #[inline(always)]
    fn over(conn: Connection<R, TX>, rx: RX, assembler: A, streaming: bool) -> Self {
        Session {
            conn,
            rx,
            start: 0,
            end: 0,
            assembler: Assembler::new(assembler),
            streaming,
            link_end: None,
            timer_end: None,
            fresh: false,
            filled: false,
            last_read: 0,
            checked: 0,
            want: 0,
            ended: false,
            redirects: false,
            held: false,
            refused: None,
        }
    }

    /// A session over this storage with no connection started (whole
    /// messages, or fragments when `streaming`): [`restart`](Self::restart)
    /// begins one in place, so storage that lives in place (a `static`
    /// slot) is never built on the stack again.
    #[inline(always)]
    pub fn idle(rng: R, tx: TX, rx: RX, assembler: A, streaming: bool) -> Self {
        Self::over(Connection::idle(rng, tx), rx, assembler, streaming)
    }

    /// Whether this storage can carry a connection whose largest message is
    /// `max_message_size`: the checks of [`new`](Self::new) and
    /// [`streaming`](Self::streaming).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new) (the assembler counts only when not streaming).
    pub fn fits(&self, max_message_size: u64) -> Result<(), SessionConfigError> {
        if self.rx.as_ref().len() < MIN_RECV_BUFFER {
            return Err(SessionConfigError::RecvBufferTooSmall);
        }
        if !self.streaming && (self.assembler.capacity() as u64) < max_message_size {
            return Err(SessionConfigError::AssemblerTooSmall);
        }
        Ok(())
    }

    /// The largest message the assembler can join.
    pub fn assembler_capacity(&self) -> usize {
        self.assembler.capacity()
    }

    /// Starts a new connection in place, keeping this session's storage and
    /// mode: [`Connection::restart`], then nothing received, no link end,
    /// the assembler empty. Check the storage first with [`fits`](Self::fits).
    ///
    /// # Errors
    ///
    /// As [`Connection::restart`].
    pub fn restart(
        &mut self,
        url: &Url<'_>,
        opts: &HandshakeOptions<'_>,
        config: Config,
        now: Instant,
    ) -> Result<(), SendError> {
        self.conn.restart(url, opts, config, now)?;
        (self.start, self.end) = (0, 0);
        (self.checked, self.want) = (0, 0);
        self.assembler.reset();
        (self.link_end, self.timer_end) = (None, None);
        (self.fresh, self.filled, self.last_read) = (false, false, 0);
        (self.ended, self.redirects, self.held) = (false, false, false);
        self.refused = None;
        Ok(())
    }

    /// The connection, for commands (`send_text`, `ping`, `close`, ...).
    pub fn connection(&mut self) -> &mut Connection<R, TX> {
        &mut self.conn
    }

    /// The connection, read-only.
    pub fn connection_ref(&self) -> &Connection<R, TX> {
        &self.conn
    }

    fn settle(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            // Empty: growable storage gives back what recent reads did not need.
            if !self.filled {
                self.rx.shrink(self.last_read.saturating_mul(2));
            }
        }
    }

    /// Free room to read socket bytes into; call [`commit_read`](Self::commit_read)
    /// with how many were read. Empty when the buffer is full of bytes the
    /// connection cannot consume yet (transmit first), once the link ended,
    /// or once the connection is closed.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.settle();
        if self.ended || self.link_end.is_some() || self.conn.state() == State::Closed {
            return &mut [];
        }
        // Only storage that grows holds frames (`poll_event`).
        let want = core::mem::take(&mut self.want) as usize;
        if RX::GROWS && want > 0 {
            if make_room(&mut self.rx, &mut self.start, &mut self.end, want) {
                // Read only the rest of the held frame: once it is out, the
                // buffer is empty and the next read starts at its front
                // (reading past it made the next large frame straddle the
                // end, and its start moved to the front: a second copy).
                let (end, stop) = (self.end, self.start + want);
                return &mut self.rx.as_mut()[end..stop];
            }
            // No memory to hold the frame whole: it comes in pieces.
            self.checked = NO_HOLD;
        }
        let cap = self.rx.as_ref().len();
        let pending = self.end - self.start;
        // Move the pending bytes only when that frees at least half the buffer
        // (or they are a short partial frame), so each byte moves about once:
        // moving 64 KiB to free 34 bytes per message made pipelined receive
        // quadratic (found by the echo benchmark).
        if self.end == cap && self.start > 0 && (pending <= cap / 2 || pending < MIN_RECV_BUFFER) {
            let (s, e) = (self.start, self.end);
            crate::buffer::move_to_front(self.rx.as_mut(), s, e);
            self.end -= s;
            self.start = 0;
        }
        if core::mem::take(&mut self.filled) && self.end == self.rx.as_ref().len() {
            // The socket had more than fitted: growable storage doubles, up
            // to its soft limit (past it, only to hold one whole frame).
            let soft = self.rx.soft_limit();
            if cap < soft {
                self.rx.grow(cap.saturating_mul(2).min(soft));
            }
        }
        let end = self.end;
        &mut self.rx.as_mut()[end..]
    }

    /// The whole receive buffer as scratch space, once the terminal event was
    /// delivered (to read and discard what a lingering socket still gets);
    /// empty before that.
    pub fn discard_buf(&mut self) -> &mut [u8] {
        if !self.ended {
            return &mut [];
        }
        self.rx.as_mut()
    }

    /// Records that `n` bytes were read into [`read_buf`](Self::read_buf).
    pub fn commit_read(&mut self, n: usize) {
        let cap = self.rx.as_ref().len();
        self.end = (self.end + n).min(cap);
        self.fresh |= n > 0;
        self.filled = n > 0 && self.end == cap;
        self.last_read = n;
    }

    /// Tells the connection that bytes arrived (the keepalive timer starts
    /// over), once per read.
    fn note_activity(&mut self, now: Instant) {
        if core::mem::take(&mut self.fresh) {
            self.conn.handle_activity(now);
        }
    }

    /// The next event, if any. Call it until `None` after each read, and also
    /// after transmitting (a ping may be waiting for room for its pong).
    /// After an end of stream or a link failure it reports the events of the
    /// bytes received before it, then the end.
    pub fn poll_event(&mut self, now: Instant) -> Option<SessionEvent<'_>> {
        self.settle();
        if self.ended || self.held {
            return None;
        }
        self.note_activity(now);
        if let Some(e) = self.timer_end.take() {
            return self.end_with(Disconnect::Error(e));
        }
        if self.conn.state() == State::Closed && self.link_end.is_none() {
            return self.end_with(Disconnect::Local);
        }
        let Session {
            conn,
            rx,
            start,
            end,
            assembler,
            streaming,
            link_end,
            checked,
            want,
            ended,
            redirects,
            held,
            ..
        } = self;
        let hold = Hold {
            limit: if *streaming || !RX::GROWS {
                0
            } else {
                (*rx).limit()
            },
            checked,
        };
        let rxb: &[u8] = (*rx).as_ref();
        let (pos, stop) = decode(conn, &rxb[..*end], *start, assembler, hold, *streaming, now);
        if let Stop::Hold(total) = stop {
            // `read_buf` makes the room, before the next read.
            *want = total as u32; // checked by `Hold::check` to fit
        }
        match stop {
            Stop::Event(event) => {
                // Consumed now: the event's borrow of the buffer keeps it
                // from moving until the next call (a deferred count here was
                // a store-to-load round trip on every message's path).
                *start = pos;
                *ended = matches!(event, SessionEvent::Closed(_));
                Some(event)
            }
            Stop::Failed(e) => {
                *start = pos;
                if *redirects && crate::redirect::is_redirect_error(e) {
                    *held = true;
                    return None;
                }
                *ended = true;
                Some(SessionEvent::Closed(Disconnect::Error(e)))
            }
            #[cfg(feature = "deflate")]
            Stop::Inflated { kind, fin } => {
                *start = pos;
                let data = conn.inflated();
                Some(SessionEvent::Fragment { kind, data, fin })
            }
            Stop::TooBig => {
                *start = pos;
                let _ = conn.close(now, MESSAGE_TOO_BIG, "");
                None
            }
            Stop::Waiting | Stop::Hold(_) => {
                *start = pos;
                // Full and unable to grow (reads fill the buffer up to its
                // soft limit; past it, it only grows to hold a frame).
                let full = *start == 0 && *end == rxb.len() && rxb.len() >= (*rx).soft_limit();
                let end = match (conn.state(), *link_end) {
                    // The response header does not fit the receive buffer.
                    (State::Connecting, _) if full => {
                        let _ = conn.close(now, crate::close::NORMAL, "");
                        Some(Error::Handshake(HandshakeError::HeaderTooLarge).into())
                    }
                    // The bytes before the end of stream are all decoded.
                    (_, Some(LinkEnd::Eof)) => Some(eof(conn, *end - *start)),
                    // A failed link takes no pong: do not wait for room.
                    (_, Some(LinkEnd::Failed(e))) => {
                        let _ = conn.handle_eof(0);
                        Some(Disconnect::Link(e))
                    }
                    (_, None) => None,
                }?;
                // The assembler is not used again: no reset needed.
                *ended = true;
                Some(SessionEvent::Closed(end))
            }
        }
    }

    /// Checks timers; an expired one ends the session, reported by the next
    /// [`poll_event`](Self::poll_event).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.ending() {
            return;
        }
        self.note_activity(now);
        if let Err(e) = self.conn.handle_timeout(now) {
            self.timer_end = Some(e);
        }
    }

    /// The transport reached end of stream. Reported by
    /// [`poll_event`](Self::poll_event) after the events of the bytes
    /// received before it.
    pub fn handle_eof(&mut self) {
        self.link_end.get_or_insert(LinkEnd::Eof);
    }

    /// The transport failed. Reported by [`poll_event`](Self::poll_event)
    /// after the events of the bytes received before it.
    pub fn handle_link_error(&mut self, e: LinkError) {
        self.link_end.get_or_insert(LinkEnd::Failed(e));
    }

    // ----- redirects (followed by the driver) -------------------------

    /// From now on a redirect response is held for
    /// [`redirect`](Self::redirect) instead of ending the session.
    pub(crate) fn follow_redirects(&mut self) {
        self.redirects = true;
    }

    /// Whether a redirect response is held for the driver to follow.
    pub(crate) fn held_redirect(&self) -> bool {
        self.held && self.refused.is_none()
    }

    /// Runs `f` on the connection and the held response. `Ok`: the session
    /// starts over on a new link (nothing received, no link end). `Err`: it
    /// ends with why, reported by the next poll (a refusal keeps the
    /// response, whose location the end borrows).
    pub(crate) fn redirect<T>(
        &mut self,
        f: impl FnOnce(&mut Connection<R, TX>, &[u8]) -> Result<T, NotFollowed>,
    ) -> Option<T> {
        self.held = false;
        let response = self.rx.as_ref().get(self.start..self.end).unwrap_or(&[]);
        match f(&mut self.conn, response) {
            Ok(t) => {
                (self.start, self.end) = (0, 0);
                (self.checked, self.want) = (0, 0);
                self.link_end = None;
                (self.fresh, self.filled, self.last_read) = (false, false, 0);
                Some(t)
            }
            Err(NotFollowed::Status(status)) => {
                self.timer_end = Some(Error::Handshake(HandshakeError::Status(status)));
                None
            }
            Err(NotFollowed::Refused(status, why)) => {
                // Still held (so `poll_event` stays quiet): the driver
                // reports the end with `end_refused`.
                (self.held, self.refused) = (true, Some((status, why)));
                None
            }
        }
    }

    /// How the link ended, if the transport reported it.
    pub fn link_end(&self) -> Option<LinkEnd> {
        self.link_end
    }

    #[cfg(test)]
    fn assembler_allocated(&self) -> usize {
        self.assembler.allocated()
    }

    /// The end is decided (a timer's, a refused redirect's) or delivered:
    /// no timer is due any more.
    fn ending(&self) -> bool {
        self.ended || self.timer_end.is_some() || self.refused.is_some()
    }

    /// Whether a refused redirect waits to be reported by
    /// [`end_refused`](Self::end_refused) (the driver's part:
    /// [`poll_event`](Self::poll_event) does not link the location scan).
    pub(crate) fn refused(&self) -> bool {
        self.refused.is_some() && !self.ended
    }

    /// The end for a refused redirect, with the held response's location.
    pub(crate) fn end_refused(&mut self) -> Option<SessionEvent<'_>> {
        let (status, refusal) = self.refused?;
        if core::mem::replace(&mut self.ended, true) {
            return None;
        }
        let response = self.rx.as_ref().get(self.start..self.end).unwrap_or(&[]);
        let location = crate::redirect::location(response).and_then(|(_, at)| at);
        Some(SessionEvent::Closed(Disconnect::Redirect(Redirect {
            status,
            refusal,
            location: location.unwrap_or(&[]),
        })))
    }

    fn end_with(&mut self, d: Disconnect<'static>) -> Option<SessionEvent<'static>> {
        if self.ended {
            return None;
        }
        self.ended = true;
        self.assembler.reset();
        Some(SessionEvent::Closed(d))
    }

    /// Bytes to write to the socket.
    pub fn transmit(&self) -> &[u8] {
        self.conn.transmit()
    }

    /// Marks `n` bytes of [`transmit`](Self::transmit) as written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.conn.advance_transmit(n);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.ending() {
            return None;
        }
        self.conn.poll_timeout()
    }

    /// The terminal event was delivered and nothing is left to transmit: the
    /// socket can be closed.
    pub fn is_finished(&self) -> bool {
        self.ended && self.conn.transmit().is_empty()
    }

    /// The terminal event was delivered.
    pub fn has_ended(&self) -> bool {
        self.ended
    }
}

impl From<Error> for Disconnect<'_> {
    fn from(e: Error) -> Self {
        Disconnect::Error(e)
    }
}

/// The end of stream, as the connection judges it: unexpected unless the
/// close handshake had completed.
fn eof<R: Random, TX: Buffer>(
    conn: &mut Connection<R, TX>,
    unconsumed: usize,
) -> Disconnect<'static> {
    match conn.handle_eof(unconsumed) {
        Err(e) => Disconnect::Error(e),
        Ok(()) => Disconnect::Local,
    }
}

/// Where the decoder stopped (private plumbing of `poll_event`).
enum Stop<'a> {
    /// An event to hand out.
    Event(SessionEvent<'a>),
    /// The connection failed.
    Failed(Error),
    /// A message does not fit the assembler.
    TooBig,
    /// A streamed piece of a compressed message: [`Connection::inflated`].
    /// Without the `deflate` feature no connection event is compressed, and
    /// the arms for them are left out (310 B of the ESP32 program's flash).
    #[cfg(feature = "deflate")]
    Inflated {
        /// Text or binary.
        kind: DataKind,
        /// Whether it ends the message.
        fin: bool,
    },
    /// No event in the bytes there are (more input, or room to transmit, is
    /// needed).
    Waiting,
    /// A single-frame message of this many bytes (header included) is
    /// incomplete at the front of the unread bytes and the buffer can take
    /// it whole: wait for the rest instead of decoding its start.
    Hold(usize),
}

/// `Session::checked` when the frame at the front must not be held (the
/// buffer could not grow for it).
const NO_HOLD: u32 = u32::MAX;

/// What `decode` needs to decide whether to hold a frame back.
struct Hold<'a> {
    /// The most the receive buffer can hold (0: never hold: streaming, or
    /// storage that cannot grow).
    limit: usize,
    /// Payload bytes of the held text frame already checked as UTF-8, or
    /// [`NO_HOLD`].
    checked: &'a mut u32,
}

impl Hold<'_> {
    /// Whether to wait for the rest of the incomplete frame at the front of
    /// `pending` (the connection is between messages): when it is a whole
    /// single-frame message that the receive buffer can take (growing up to
    /// its limit, unread bytes moved to its front), it then comes borrowed
    /// from the buffer, copied once from the socket, instead of in pieces
    /// that the assembler copies a second time.
    ///
    /// Text is checked as it arrives: invalid UTF-8 is not held, so the
    /// connection still fails on it before the rest of the frame comes.
    fn frame(&mut self, pending: &[u8], max_message: u64) -> Option<usize> {
        let total = self.check(pending, max_message);
        if total.is_none() {
            *self.checked = 0;
        }
        total
    }

    fn check(&mut self, pending: &[u8], max_message: u64) -> Option<usize> {
        if *self.checked == NO_HOLD {
            return None;
        }
        let (h, hlen) = FrameHeader::parse(pending).ok()??;
        let data = matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if !data || !h.fin || h.rsv != 0 || h.mask.is_some() || h.payload_len > max_message {
            return None;
        }
        let total = usize::try_from(h.payload_len).ok()?.checked_add(hlen)?;
        // Held sizes are kept in 32 bits.
        u32::try_from(total).ok()?;
        if total <= pending.len() || total > self.limit {
            return None;
        }
        if h.opcode == OpCode::Text {
            let body = pending.get(hlen + *self.checked as usize..)?;
            // Both below `total`, which fits in 32 bits.
            let checked = crate::utf8::valid_up_to(body).ok()?;
            *self.checked += checked as u32;
        }
        Some(total)
    }
}

/// Makes `rx` hold `total` bytes from `start` on: grows it if needed and
/// moves the unread bytes to its front if they would not fit. False when
/// it cannot grow that far.
fn make_room<RX: Buffer>(rx: &mut RX, start: &mut usize, end: &mut usize, total: usize) -> bool {
    if rx.as_ref().len() < total && rx.grow(total) < total {
        return false;
    }
    if *start + total > rx.as_ref().len() {
        crate::buffer::move_to_front(rx.as_mut(), *start, *end);
        *end -= *start;
        *start = 0;
    }
    true
}

/// Runs the connection over `rx[start..]` until an event, joining fragments
/// in `assembler` unless `streaming`, or until a frame to
/// hold back. Returns the offset it got to.
fn decode<'a, R, TX, A>(
    conn: &mut Connection<R, TX>,
    rx: &'a [u8],
    mut start: usize,
    assembler: &'a mut Assembler<A>,
    mut hold: Hold<'_>,
    streaming: bool,
    now: Instant,
) -> (usize, Stop<'a>)
where
    R: Random,
    TX: Buffer,
    A: Buffer,
{
    // A small whole message first, straight through.
    if let Some((n, event)) = conn.recv_small(now, &rx[start..]) {
        if !streaming {
            assembler.note_whole(n - 2);
        }
        return (start + n, Stop::Event(direct(event)));
    }
    loop {
        if hold.limit > 0 && conn.between_messages() {
            if let Some(total) = hold.frame(&rx[start..], conn.max_message_size()) {
                return (start, Stop::Hold(total));
            }
        }
        // `recv` without its small-frame path, tried above already (and
        // not needed after a fragment): one copy of it in the program.
        let r = match conn.recv_general(now, &rx[start..]) {
            Ok(r) => r,
            Err(e) => {
                assembler.reset();
                return (start, Stop::Failed(e));
            }
        };
        start += r.consumed;
        let event = match r.progress {
            Progress::Event(event) => event,
            Progress::NeedInput | Progress::NeedTransmit => return (start, Stop::Waiting),
        };
        let stop = match event {
            Event::Fragment { kind, data, fin } if !streaming => {
                if !fin {
                    if assembler.push(kind, data, false).is_err() {
                        return (start, Stop::TooBig);
                    }
                    continue;
                }
                match assembler.push(kind, data, true) {
                    Ok(Some(m)) => Stop::Event(SessionEvent::Message(m)),
                    Ok(None) | Err(_) => Stop::TooBig,
                }
            }
            // Inflated bytes live in the connection: copy them, and end a
            // message with an empty last piece.
            #[cfg(feature = "deflate")]
            Event::Inflated { kind, fin } if !streaming => {
                if assembler.push(kind, conn.inflated(), false).is_err() {
                    return (start, Stop::TooBig);
                }
                if !fin {
                    continue;
                }
                match assembler.push(kind, &[], true) {
                    Ok(Some(m)) => Stop::Event(SessionEvent::Message(m)),
                    Ok(None) | Err(_) => Stop::TooBig,
                }
            }
            #[cfg(feature = "deflate")]
            Event::Inflated { kind, fin } => Stop::Inflated { kind, fin },
            Event::Text(t) if !streaming => {
                assembler.note_whole(t.len());
                Stop::Event(direct(event))
            }
            Event::Binary(b) if !streaming => {
                assembler.note_whole(b.len());
                Stop::Event(direct(event))
            }
            other => Stop::Event(direct(other)),
        };
        return (start, stop);
    }
}

/// The session event for a connection event that needs no joining.
fn direct(event: Event<'_>) -> SessionEvent<'_> {
    match event {
        Event::Connected { protocol } => SessionEvent::Connected { protocol },
        Event::Text(t) => SessionEvent::Message(Message::Text(t)),
        Event::Binary(b) => SessionEvent::Message(Message::Binary(b)),
        Event::Fragment { kind, data, fin } => SessionEvent::Fragment { kind, data, fin },
        // Handled by `decode` (its bytes are in the connection).
        Event::Inflated { kind, fin } => SessionEvent::Fragment {
            kind,
            data: &[],
            fin,
        },
        Event::Ping(p) => SessionEvent::Ping(p),
        Event::Pong(p) => SessionEvent::Pong(p),
        Event::Closed(frame) => SessionEvent::Closed(Disconnect::Clean(frame)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::close::CloseFrame;
    use crate::connection::Config;
    use crate::handshake::{accept_key, HandshakeOptions};
    use crate::random::RandomError;
    use crate::url::Url;
    use std::prelude::rust_2021::*;
    use std::vec;

    struct Xorshift(u64);
    impl Random for Xorshift {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
            for b in buf {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                *b = self.0 as u8;
            }
            Ok(())
        }
    }

    type TestSession = Session<Xorshift, Vec<u8>, Vec<u8>, Vec<u8>>;

    fn session(max_message: u64, asm: usize) -> (TestSession, Vec<u8>) {
        let url = Url::parse("ws://127.0.0.1:9001/").unwrap();
        let config = Config {
            max_message_size: max_message,
            ..Config::default()
        };
        let conn = Connection::new(
            Xorshift(7),
            vec![0; 1024],
            &url,
            &HandshakeOptions::default(),
            config,
            Instant::ZERO,
        )
        .unwrap();
        let s = Session::new(conn, vec![0; 256], vec![0; asm]).unwrap();
        let req = s.transmit().to_vec();
        let at = req
            .windows(19)
            .position(|w| w == b"Sec-WebSocket-Key: ")
            .unwrap()
            + 19;
        let mut resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
        resp.extend_from_slice(&accept_key(&req[at..at + 24]));
        resp.extend_from_slice(b"\r\n\r\n");
        (s, resp)
    }

    #[derive(Debug, PartialEq)]
    enum Owned {
        Connected,
        Text(String),
        Binary(Vec<u8>),
        Ping(Vec<u8>),
        Closed(Option<u16>),
        Failed(Error),
    }

    /// Feeds `stream` through a small receive buffer, `piece` bytes per read.
    fn run(s: &mut TestSession, stream: &[u8], piece: usize) -> Vec<Owned> {
        let mut out = Vec::new();
        let mut at = 0;
        for _ in 0..100_000 {
            let buf = s.read_buf();
            let n = buf.len().min(piece).min(stream.len() - at);
            buf[..n].copy_from_slice(&stream[at..at + n]);
            s.commit_read(n);
            at += n;
            while let Some(ev) = s.poll_event(Instant::ZERO) {
                out.push(match ev {
                    SessionEvent::Connected { .. } => Owned::Connected,
                    SessionEvent::Message(Message::Text(t)) => Owned::Text(t.into()),
                    SessionEvent::Message(Message::Binary(b)) => Owned::Binary(b.into()),
                    SessionEvent::Ping(p) => Owned::Ping(p.into()),
                    SessionEvent::Closed(Disconnect::Clean(CloseFrame { code, .. })) => {
                        Owned::Closed(code)
                    }
                    SessionEvent::Closed(Disconnect::Error(e)) => Owned::Failed(e),
                    other => std::panic!("unexpected {other:?}"),
                });
            }
            let n = s.transmit().len();
            s.advance_transmit(n);
            // Stop at the end (the session reads nothing more once ended),
            // or when all input is in and nothing is left to do.
            if s.has_ended() || (at == stream.len() && n == 0) {
                break;
            }
        }
        out
    }

    #[test]
    fn whole_messages_from_any_read_size() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\x01\x03Hel\x89\x02hi\x80\x02lo"); // fragmented, ping inside
        stream.extend_from_slice(b"\x82\x7e\x00\xc8");
        stream.extend_from_slice(&[9u8; 200]); // a binary frame larger than the receive buffer
        stream.extend_from_slice(b"\x81\x04\xe2\x82\xac!"); // "€!"
        stream.extend_from_slice(b"\x88\x02\x03\xe8");
        let expected = vec![
            Owned::Connected,
            Owned::Ping(b"hi".to_vec()),
            Owned::Text("Hello".into()),
            Owned::Binary(vec![9; 200]),
            Owned::Text("€!".into()),
            Owned::Closed(Some(1000)),
        ];
        for piece in [1, 2, 3, 7, 64, 1000] {
            let (mut s, mut all) = session(1 << 10, 1 << 10);
            all.extend_from_slice(&stream);
            assert_eq!(run(&mut s, &all, piece), expected, "piece {piece}");
            assert!(s.is_finished());
        }
    }

    /// A session over growable storage: receive buffer of 128 bytes that
    /// reads grow to 256 and frames to 4096, assembler from 0 to 4096.
    fn growable_session() -> (
        Session<Xorshift, Vec<u8>, crate::GrowableBuffer, crate::GrowableBuffer>,
        Vec<u8>,
    ) {
        let (s, resp) = session(4096, 4096);
        let rx = crate::GrowableBuffer::new(128, 256, 4096);
        let asm = crate::GrowableBuffer::new(0, 0, 4096);
        (Session::new(s.conn, rx, asm).unwrap(), resp)
    }

    /// Feeds `stream` in `piece`-byte reads; returns the events, whether
    /// the assembler ever held memory, and the most bytes fed before the
    /// first event after `Connected`.
    fn feed_growable(stream: &[u8], piece: usize) -> (Vec<String>, bool, usize) {
        let (mut s, mut all) = growable_session();
        let skip = all.len();
        all.extend_from_slice(stream);
        let (mut out, mut asm_used, mut first) = (Vec::new(), false, 0);
        let mut at = 0;
        while at < all.len() && !s.has_ended() {
            let buf = s.read_buf();
            let n = buf.len().min(piece).min(all.len() - at);
            buf[..n].copy_from_slice(&all[at..at + n]);
            s.commit_read(n);
            at += n;
            while let Some(ev) = s.poll_event(Instant::ZERO) {
                if out.len() == 1 && first == 0 {
                    first = at - skip;
                }
                out.push(std::format!("{ev:?}"));
            }
            asm_used |= s.assembler.capacity() > 0 && s.assembler_allocated() > 0;
        }
        (out, asm_used, first)
    }

    /// A 1000-byte binary frame of 7s, then a 1000-byte text frame of `a`s
    /// ending in "é".
    fn two_1000_byte_frames() -> Vec<u8> {
        let mut stream = b"\x82\x7e\x03\xe8".to_vec();
        stream.extend_from_slice(&[7u8; 1000]);
        stream.extend_from_slice(b"\x81\x7e\x03\xe8");
        stream.extend(core::iter::repeat_n(b'a', 998));
        stream.extend_from_slice("é".as_bytes());
        stream
    }

    #[test]
    fn a_frame_larger_than_the_buffer_is_held_whole_not_assembled() {
        let stream = two_1000_byte_frames();
        // Under Miri, which interprets every byte, fewer read sizes.
        let pieces: &[usize] = if cfg!(miri) {
            &[100]
        } else {
            &[1, 7, 100, 5000]
        };
        for &piece in pieces {
            let (events, asm_used, _) = feed_growable(&stream, piece);
            assert_eq!(events.len(), 3, "piece {piece}: {events:?}");
            assert!(
                events[1].starts_with("Message(Binary([7, 7"),
                "{}",
                events[1]
            );
            assert!(events[2].starts_with("Message(Text(\"aaa"), "{}", events[2]);
            assert!(events[2].ends_with("é\"))"), "{}", events[2]);
            assert!(
                !asm_used,
                "piece {piece}: the assembler copied a whole frame"
            );
        }
    }

    #[test]
    fn fixed_storage_takes_a_partly_read_frame_through_the_assembler() {
        // The same frames as above, into a fixed receive buffer that could
        // hold either whole: fixed storage never holds (`Buffer::GROWS`),
        // so they come in pieces through the assembler, as the same whole
        // messages.
        let stream = two_1000_byte_frames();
        let (s, mut all) = session(4096, 4096);
        let mut s = Session::new(s.conn, vec![0u8; 2048], vec![0u8; 4096]).unwrap();
        all.extend_from_slice(&stream);
        let (mut events, mut at) = (Vec::new(), 0);
        while at < all.len() {
            let buf = s.read_buf();
            let n = buf.len().min(7).min(all.len() - at);
            buf[..n].copy_from_slice(&all[at..at + n]);
            s.commit_read(n);
            at += n;
            while let Some(ev) = s.poll_event(Instant::ZERO) {
                events.push(std::format!("{ev:?}"));
            }
            assert_eq!(s.want, 0, "fixed storage was asked to hold a frame");
        }
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[1],
            std::format!("Message(Binary({:?}))", [7u8; 1000])
        );
        let text = std::format!("{}é", "a".repeat(998));
        assert_eq!(events[2], std::format!("Message(Text({text:?}))"));
    }

    #[test]
    fn held_text_still_fails_on_the_first_bad_byte() {
        // A 1000-byte text frame whose 11th payload byte is not UTF-8.
        let mut stream = b"\x81\x7e\x03\xe8".to_vec();
        stream.extend_from_slice(&[b'a'; 10]);
        stream.push(0xff);
        stream.extend_from_slice(&[b'a'; 989]);
        let (events, _, first) = feed_growable(&stream, 7);
        assert!(events[1].contains("InvalidUtf8"), "{events:?}");
        assert!(
            first < 100,
            "failed after {first} bytes, not at the bad byte"
        );
    }

    #[test]
    fn events_buffered_before_a_fault_come_first() {
        for fault in [None, Some(LinkError::Reset)] {
            let (mut s, mut all) = session(100, 100);
            all.extend_from_slice(b"\x81\x02hi\x81\x01!");
            let buf = s.read_buf();
            buf[..all.len()].copy_from_slice(&all);
            s.commit_read(all.len());
            match fault {
                Some(e) => s.handle_link_error(e),
                None => s.handle_eof(),
            }
            assert!(s.read_buf().is_empty(), "no read after the end");
            let mut got = Vec::new();
            while let Some(ev) = s.poll_event(Instant::ZERO) {
                got.push(std::format!("{ev:?}"));
            }
            assert_eq!(got.len(), 4, "{got:?}");
            assert!(got[1].contains("\"hi\"") && got[2].contains("\"!\""));
            assert!(got[3].starts_with("Closed("), "{got:?}");
            assert!(s.has_ended());
        }
    }

    #[test]
    fn limits_and_storage_checks() {
        let (mut s, mut all) = session(100, 100);
        all.extend_from_slice(b"\x82\x65");
        let events = run(&mut s, &all, 1000);
        assert_eq!(
            events.last(),
            Some(&Owned::Failed(Error::Protocol(
                crate::ProtocolError::MessageTooBig
            )))
        );
        let url = Url::parse("ws://h/").unwrap();
        let conn = || {
            Connection::new(
                Xorshift(1),
                vec![0; 1024],
                &url,
                &HandshakeOptions::default(),
                Config::default(),
                Instant::ZERO,
            )
            .unwrap()
        };
        assert_eq!(
            Session::new(conn(), vec![0; 4096], vec![0; 10]).err(),
            Some(SessionConfigError::AssemblerTooSmall)
        );
        assert_eq!(
            Session::streaming(conn(), vec![0; 10], Vec::new()).err(),
            Some(SessionConfigError::RecvBufferTooSmall)
        );
    }

    #[test]
    fn end_is_reported_once() {
        let (mut s, all) = session(100, 100);
        let events = run(&mut s, &all, 1000);
        assert_eq!(events, vec![Owned::Connected]);
        s.handle_eof();
        assert!(matches!(
            s.poll_event(Instant::ZERO),
            Some(SessionEvent::Closed(Disconnect::Error(
                Error::UnexpectedEof { .. }
            )))
        ));
        s.handle_eof();
        s.handle_link_error(LinkError::Reset);
        assert_eq!(s.poll_event(Instant::ZERO), None);
        // A local abort before the handshake ends once, as Local.
        let (mut s, _) = session(100, 100);
        s.connection().close(Instant::ZERO, 1000, "").unwrap();
        assert_eq!(
            s.poll_event(Instant::ZERO),
            Some(SessionEvent::Closed(Disconnect::Local))
        );
        assert_eq!(s.poll_event(Instant::ZERO), None);
        assert!(s.is_finished());
        // A response header larger than the receive buffer fails the handshake.
        let (mut s, mut all) = session(100, 100);
        let padding = b"X-Padding: 0123456789012345678901234567890123456789\r\n".repeat(4);
        all.splice(34..34, padding);
        assert_eq!(
            run(&mut s, &all, 1000),
            vec![Owned::Failed(Error::Handshake(
                HandshakeError::HeaderTooLarge
            ))]
        );
    }
}
