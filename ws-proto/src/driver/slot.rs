//! One connection slot: a [`Session`] and the life of its socket, with the
//! decisions the socket layer must not make (what to do next, when a fault
//! is reported, how TCP is closed).

use core::net::SocketAddr;

use super::io::{Action, ConnId, ConnectOutcome, Io, Readiness, Resolution};
use super::table::Phase;
use super::DriverConfig;
use crate::buffer::Buffer;
use crate::connection::State;
use crate::error::Error;
use crate::random::Random;
use crate::redirect::{self, Hop, NotFollowed, MAX_REDIRECTS};
use crate::session::{Disconnect, LinkEnd, LinkError, Session};
use crate::time::Instant;

/// Where a slot's socket is. `repr(u8)`: `Free` is the byte 0, so an empty
/// slot is all zero bytes (see [`Slot::new`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Link {
    /// No connection.
    Free = 0,
    /// The name is being resolved; `asked` until the answer (or `Pending`
    /// and a readiness report) comes.
    Resolve { asked: bool },
    /// TCP connect to `addr`; `asked` until the outcome or readiness comes.
    Connect { addr: SocketAddr, asked: bool },
    /// Connected: handshake, messages, close handshake.
    Up,
    /// `Closed` was delivered; the socket flushes and closes as `policy` says.
    Linger { policy: Policy, shut: bool },
    /// The socket is to be closed now (the `Close` action is next).
    Release,
}

/// How a socket ends once its connection's `Closed` was delivered: the TCP
/// close policy, decided once here for every transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The close handshake completed: flush, then wait for the server to
    /// close TCP first (RFC 6455 section 7.1.1), bounded by the linger time.
    AwaitFin,
    /// Ended by an error with a close frame queued: flush, shut down
    /// writing, wait for the server's FIN, bounded by the linger time.
    HalfClose,
    /// The server already closed its side: flush what is queued, close.
    FlushThenClose,
    /// Nothing more can or should be sent (the link failed, the handshake
    /// never completed, or the peer is gone): close now.
    Abort,
}

/// The policy for a connection whose end is `how`, after `link_end`.
pub(crate) fn policy(link: Link, how: &Disconnect<'_>, link_end: Option<LinkEnd>) -> Policy {
    if link != Link::Up {
        return Policy::Abort;
    }
    match (link_end, how) {
        (Some(LinkEnd::Failed(_)), _)
        | (_, Disconnect::Link(_) | Disconnect::Local | Disconnect::Redirect(_)) => Policy::Abort,
        (_, Disconnect::Error(Error::Handshake(_) | Error::HandshakeTimeout)) => Policy::Abort,
        (_, Disconnect::Error(Error::KeepaliveTimeout)) => Policy::Abort,
        (Some(LinkEnd::Eof), _) => Policy::FlushThenClose,
        (None, Disconnect::Clean(_)) => Policy::AwaitFin,
        (None, Disconnect::Error(_)) => Policy::HalfClose,
    }
}

/// The drain after a failed write: reads take what the socket still holds
/// (a reset keeps the bytes that arrived before it readable), then the
/// write's error is reported. `None` is the byte 0 (an empty slot is all
/// zero bytes).
///
/// A read that would block ends the drain, except during the grace
/// ([`DriverConfig::drain_grace_ms`] from the first read the drain hands
/// out, the slot's `deadline`): then the slot waits for readiness or the
/// grace's end, which [`Slot::poll_timeout`] includes. An async stream
/// can say `Pending` before its reactor has seen the bytes that came
/// before the reset; a grace of 0 is for sockets read synchronously.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Drain {
    /// No write failed.
    None = 0,
    /// A write failed with this error; the grace has not started (no `now`
    /// was seen since).
    Failed(LinkError),
    /// Reads handed out now are within the grace.
    Grace(LinkError),
    /// The grace is over: a read that would block means drained.
    Over(LinkError),
}

/// `Option`, with `None` as the byte 0 whatever the payload's niches, so
/// that an empty slot is all zero bytes.
#[derive(Debug)]
#[repr(u8)]
pub(crate) enum Zeroed<T> {
    /// Nothing.
    None = 0,
    /// A value.
    Some(T),
}

impl<T> Zeroed<T> {
    pub(crate) fn as_ref(&self) -> Option<&T> {
        match self {
            Zeroed::Some(v) => Some(v),
            Zeroed::None => None,
        }
    }

    pub(crate) fn as_mut(&mut self) -> Option<&mut T> {
        match self {
            Zeroed::Some(v) => Some(v),
            Zeroed::None => None,
        }
    }

    pub(crate) fn is_none(&self) -> bool {
        matches!(self, Zeroed::None)
    }
}

/// One connection slot. An empty one ([`Slot::new`]) is all zero bytes, so
/// a `static` array of them lives in `.bss` and costs no flash.
#[derive(Debug)]
pub struct Slot<R, TX, RX, A> {
    pub(crate) session: Zeroed<Session<R, TX, RX, A>>,
    /// The generation of the connection in the slot (or of the last one).
    pub(crate) gen: u32,
    pub(crate) link: Link,
    /// The connect deadline, then the end of a drain's grace (see
    /// [`Drain`]), then the linger deadline.
    pub(crate) deadline: Instant,
    pub(crate) port: u16,
    /// The URL is `wss://`: the socket layer puts TLS under the bytes.
    pub(crate) secure: bool,
    /// Redirects followed since `open`.
    pub(crate) hops: u8,
    /// [`redirect::url_key`] of the URL opened and of each redirect's.
    pub(crate) visited: [u32; MAX_REDIRECTS as usize + 1],
    pub(crate) ready: Readiness,
    /// How many bytes the last `Read` lent.
    pub(crate) lent: usize,
    /// A write failed: reads drain what arrived before the failure is
    /// reported.
    pub(crate) drain: Drain,
    /// The generation of an earlier connection whose socket is still to be
    /// closed (its slot was taken over while it lingered).
    pub(crate) stale: Option<u32>,
    /// The session (its storage) stays when the connection ends, for the
    /// next one to restart in place ([`super::Driver::open_in_place`]).
    pub(crate) kept: bool,
}

impl<R, TX, RX, A> Slot<R, TX, RX, A> {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot {
            session: Zeroed::None,
            gen: 0,
            link: Link::Free,
            deadline: Instant::ZERO,
            port: 0,
            secure: false,
            hops: 0,
            visited: [0; MAX_REDIRECTS as usize + 1],
            ready: Readiness::NONE,
            lent: 0,
            drain: Drain::None,
            stale: None,
            kept: false,
        }
    }
}

impl<R, TX, RX, A> Default for Slot<R, TX, RX, A> {
    fn default() -> Self {
        Slot::new()
    }
}

impl<R, TX, RX, A> Slot<R, TX, RX, A>
where
    R: Random,
    TX: Buffer,
    RX: Buffer,
    A: Buffer,
{
    pub(crate) fn id(&self, index: usize) -> ConnId {
        ConnId {
            slot: index as u16,
            gen: self.gen,
        }
    }

    /// Whether the connection can still deliver events and take commands.
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self.link,
            Link::Resolve { .. } | Link::Connect { .. } | Link::Up
        ) && self.session.as_ref().is_some_and(|s| !s.has_ended())
    }

    /// The phase, for the table and for callers.
    pub(crate) fn phase(&self) -> Option<Phase> {
        Some(match self.link {
            Link::Free => return None,
            Link::Resolve { .. } => Phase::Resolve,
            Link::Connect { .. } => Phase::Connect,
            Link::Up if self.session.as_ref()?.held_redirect() => Phase::Handshake,
            Link::Up => match self.session.as_ref()?.connection_ref().state() {
                State::Connecting => Phase::Handshake,
                State::Open => Phase::Open,
                State::Closing | State::Closed => Phase::Closing,
            },
            Link::Linger { .. } => Phase::Linger,
            Link::Release => Phase::Released,
        })
    }

    /// Ends the connection with a link failure, reported after the events
    /// of what was already read.
    pub(crate) fn fail(&mut self, e: LinkError) {
        if let Some(s) = self.session.as_mut() {
            s.handle_link_error(e);
        }
    }

    pub(crate) fn handle_resolved(&mut self, r: Resolution) {
        if !matches!(self.link, Link::Resolve { .. }) || !self.is_live() {
            return;
        }
        match r {
            Resolution::Pending => {}
            Resolution::Found(ip) => {
                let addr = SocketAddr::new(ip, self.port);
                self.link = Link::Connect { addr, asked: false };
            }
            Resolution::Failed(e) => self.fail(e),
        }
    }

    pub(crate) fn handle_connect(&mut self, outcome: ConnectOutcome, now: Instant) {
        if !matches!(self.link, Link::Connect { .. }) || !self.is_live() {
            return;
        }
        match outcome {
            ConnectOutcome::Pending => {}
            ConnectOutcome::Connected => {
                self.link = Link::Up;
                self.ready = Readiness {
                    readable: true,
                    writable: true,
                    read_closed: false,
                };
            }
            ConnectOutcome::Failed {
                next: Some(addr), ..
            } if now < self.deadline => {
                self.link = Link::Connect { addr, asked: false };
            }
            ConnectOutcome::Failed { error, .. } => self.fail(error),
        }
    }

    pub(crate) fn handle_readiness(&mut self, r: Readiness) {
        self.ready.merge(r);
        match &mut self.link {
            Link::Resolve { asked } | Link::Connect { asked, .. } => *asked = false,
            _ => {}
        }
    }

    pub(crate) fn handle_read(&mut self, io: Io) {
        let lent = core::mem::take(&mut self.lent);
        match self.link {
            Link::Up => self.up_read(io, lent),
            Link::Linger { .. } => match io {
                Io::Done(_) => {}
                Io::WouldBlock => self.ready.readable = false,
                Io::Eof | Io::Failed(_) => self.link = Link::Release,
            },
            _ => {}
        }
    }

    /// A read while connected: commit the bytes, or record how the link
    /// ended. After a failed write, the first read that brings no bytes
    /// reports that write's failure, unless it would block within the
    /// drain's grace (see [`Drain`]).
    fn up_read(&mut self, io: Io, lent: usize) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match io {
            Io::Done(n) => {
                session.commit_read(n);
                // A short read drained the socket, unless the end is known
                // to be waiting (it raises no new readiness).
                if n < lent && !self.ready.read_closed {
                    self.ready.readable = false;
                }
                return;
            }
            Io::WouldBlock => self.ready.readable = false,
            Io::Eof | Io::Failed(_) => self.ready.readable = false,
        }
        match (self.drain, io) {
            // Not known to be drained yet: wait for readiness or the grace's end.
            (Drain::Grace(_), Io::WouldBlock) => {}
            (Drain::Failed(e) | Drain::Grace(e) | Drain::Over(e), _) => {
                // Reported: no grace runs any more.
                self.drain = Drain::Over(e);
                session.handle_link_error(e);
            }
            (Drain::None, Io::Eof) => session.handle_eof(),
            (Drain::None, Io::Failed(e)) => session.handle_link_error(e),
            (Drain::None, _) => {}
        }
    }

    pub(crate) fn handle_write(&mut self, io: Io) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match io {
            Io::Done(0) | Io::WouldBlock => self.ready.writable = false,
            Io::Done(n) => {
                session.advance_transmit(n);
                // All sent: try a read before waiting for readiness. The
                // reply to a request often is there already (the peer ran
                // while we wrote), and then one readiness wait per round
                // trip is saved; if not, the read says WouldBlock.
                if session.transmit().is_empty() {
                    self.ready.readable = true;
                }
            }
            Io::Eof | Io::Failed(_) if !matches!(self.link, Link::Up) => {
                self.link = Link::Release;
            }
            Io::Eof => self.write_error(LinkError::Reset),
            Io::Failed(e) => self.write_error(e),
        }
    }

    /// A write failed: drain what the socket still holds (a reset keeps
    /// the bytes that arrived before it readable), then report `e`.
    fn write_error(&mut self, e: LinkError) {
        if self.drain == Drain::None {
            self.drain = Drain::Failed(e);
        }
        self.ready.readable = true;
        self.ready.read_closed = true;
    }

    /// Before a read is handed out: whether the drain (if one runs) is
    /// within its grace, which starts at the drain's first read.
    fn drain_clock(&mut self, now: Instant, grace_ms: u64) {
        let e = match self.drain {
            Drain::Failed(e) => {
                self.deadline = now.plus_millis(grace_ms);
                e
            }
            Drain::Grace(e) => e,
            Drain::None | Drain::Over(_) => return,
        };
        self.drain = if now < self.deadline {
            Drain::Grace(e)
        } else {
            Drain::Over(e)
        };
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        match self.link {
            Link::Resolve { .. } | Link::Connect { .. } if now >= self.deadline => {
                self.fail(LinkError::ConnectTimeout);
            }
            Link::Resolve { .. } | Link::Connect { .. } | Link::Up => {
                // A grace runs only while `Up` (a redirect clears the drain).
                if let Drain::Grace(e) = self.drain {
                    if now >= self.deadline {
                        self.drain = Drain::Over(e);
                        // The socket stayed silent: drained. (If it is
                        // readable, the next read says.)
                        if !self.ready.readable {
                            self.fail(e);
                        }
                    }
                }
                if let Some(s) = self.session.as_mut() {
                    s.handle_timeout(now);
                }
            }
            Link::Linger { .. } if now >= self.deadline => self.link = Link::Release,
            _ => {}
        }
    }

    /// The earliest deadline of the slot.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        // The slot's own deadline (connect, drain's grace), then the
        // session's timers.
        let own = match self.link {
            Link::Resolve { .. } | Link::Connect { .. } => Some(self.deadline),
            Link::Up if matches!(self.drain, Drain::Grace(_)) => Some(self.deadline),
            Link::Up => None,
            Link::Linger { .. } => return Some(self.deadline),
            Link::Free | Link::Release => return None,
        };
        match (self.session.as_ref().and_then(Session::poll_timeout), own) {
            (Some(p), Some(o)) => Some(p.min(o)),
            (p, o) => p.or(o),
        }
    }

    /// Whether [`next_action`](Self::next_action) has something now.
    pub(crate) fn has_action(&mut self) -> bool {
        if self.stale.is_some() {
            return true;
        }
        let Some(session) = self.session.as_mut() else {
            return false;
        };
        let writable = self.ready.writable && !session.transmit().is_empty();
        match self.link {
            Link::Free => false,
            Link::Resolve { asked } | Link::Connect { asked, .. } => !asked && self.is_live(),
            Link::Up => {
                session.held_redirect()
                    || (writable && self.drain == Drain::None)
                    || (self.ready.readable && !session.read_buf().is_empty())
            }
            Link::Linger { policy, shut } => {
                writable
                    || session.transmit().is_empty()
                        && (policy == Policy::FlushThenClose
                            || (policy == Policy::HalfClose && !shut)
                            || self.ready.readable)
            }
            Link::Release => true,
        }
    }

    /// The next thing the socket layer should do for this slot.
    pub(crate) fn next_action(
        &mut self,
        index: usize,
        now: Instant,
        config: &DriverConfig,
    ) -> Option<Action<'_>> {
        if let Some(gen) = self.stale.take() {
            let id = ConnId {
                slot: index as u16,
                gen,
            };
            return Some(Action::Close { id });
        }
        let id = self.id(index);
        let live = self.is_live();
        match &mut self.link {
            Link::Free => None,
            Link::Resolve { asked } if !*asked && live => {
                *asked = true;
                let port = self.port;
                let host = self.session.as_ref()?.connection_ref().request_host()?;
                Some(Action::Resolve { id, host, port })
            }
            Link::Connect { addr, asked } if !*asked && live => {
                *asked = true;
                self.ready = Readiness::NONE;
                Some(Action::Connect { id, addr: *addr })
            }
            Link::Resolve { .. } | Link::Connect { .. } => None,
            Link::Up if self.session.as_ref()?.held_redirect() => self.redirect(id, now, config),
            Link::Up => {
                self.drain_clock(now, config.drain_grace_ms);
                self.up_action(id)
            }
            Link::Linger { .. } => self.linger_action(id),
            Link::Release => Some(self.release(id)),
        }
    }

    /// Follows the redirect the session holds: this `Close` ends the old
    /// socket, and the connection starts again at resolve (or connect)
    /// with its rewritten request. If it may not be followed, the session
    /// ends with why (its `Closed` comes from the next poll).
    fn redirect(
        &mut self,
        id: ConnId,
        now: Instant,
        config: &DriverConfig,
    ) -> Option<Action<'static>> {
        let hop = Hop {
            secure: self.secure,
            port: self.port,
            visited: &self.visited[..=usize::from(self.hops)],
            allowed: self.hops < MAX_REDIRECTS,
        };
        let deadline = now.plus_millis(config.proto.handshake_timeout_ms);
        let session = self.session.as_mut()?;
        let target = session.redirect(|conn, response| {
            let (status, location) = redirect::location(response).unwrap_or((0, None));
            let location = location.ok_or(NotFollowed::Status(status))?;
            conn.redirect(location, hop, deadline)
                .map_err(|why| NotFollowed::Refused(status, why))
        })?;
        self.hops += 1;
        if let Some(k) = self.visited.get_mut(usize::from(self.hops)) {
            *k = target.key;
        }
        self.secure = target.secure;
        self.port = target.port;
        self.link = match target.ip {
            Some(ip) => Link::Connect {
                addr: SocketAddr::new(ip, target.port),
                asked: false,
            },
            None => Link::Resolve { asked: false },
        };
        self.deadline = now.plus_millis(config.connect_timeout_ms);
        self.ready = Readiness::NONE;
        self.drain = Drain::None;
        self.lent = 0;
        Some(Action::Close { id })
    }

    fn up_action(&mut self, id: ConnId) -> Option<Action<'_>> {
        let session = self.session.as_mut()?;
        let write = self.ready.writable && self.drain == Drain::None;
        if write && !session.transmit().is_empty() {
            return Some(Action::Write {
                id,
                bytes: session.transmit(),
            });
        }
        if !self.ready.readable {
            return None;
        }
        // After a failed write, reads drain the socket until it says
        // WouldBlock (after the grace) or its end; with no room, the
        // buffered events go out first (`poll_event` frees the room) and
        // the drain goes on.
        let buf = session.read_buf();
        if buf.is_empty() {
            return None;
        }
        self.lent = buf.len();
        Some(Action::Read { id, buf })
    }

    fn linger_action(&mut self, id: ConnId) -> Option<Action<'_>> {
        let Link::Linger { policy, shut } = self.link else {
            return None;
        };
        if !self.session.as_ref()?.transmit().is_empty() {
            if !self.ready.writable {
                return None;
            }
            let bytes = self.session.as_ref()?.transmit();
            return Some(Action::Write { id, bytes });
        }
        match (policy, shut) {
            (Policy::FlushThenClose | Policy::Abort, _) => Some(self.release(id)),
            (Policy::HalfClose, false) => {
                self.link = Link::Linger { policy, shut: true };
                Some(Action::Shutdown { id })
            }
            _ if self.ready.readable => {
                let buf = self.session.as_mut()?.discard_buf();
                self.lent = buf.len();
                Some(Action::Read { id, buf })
            }
            _ => None,
        }
    }

    /// Frees the slot: the socket's `Close` is the id's last action.
    fn release(&mut self, id: ConnId) -> Action<'static> {
        self.link = Link::Free;
        if !self.kept {
            self.session = Zeroed::None;
        }
        self.ready = Readiness::NONE;
        self.drain = Drain::None;
        Action::Close { id }
    }
}
