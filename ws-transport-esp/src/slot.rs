//! One connection slot: its socket's life (resolve, connect, up, drain) and
//! its [`Session`], with the I/O that moves bytes between them.
//!
//! ```text
//!   Free ─open─► Resolve ─DNS─► Ready ─socket()─► Connect ─connect()─► Up ─Closed─► Drain ─► Free
//!                (an IP literal goes straight to Ready)    a failure: Closed(Link(..)), socket closed
//! ```
//!
//! Every stack call is `nb`: `WouldBlock` leaves the slot where it is and the
//! next `poll` tries again, so nothing here ever waits.

use core::net::{IpAddr, SocketAddr};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};
use ws_proto::{Instant, LinkError, Random, Session, SessionEvent, State};

/// The session type of one slot: arrays inside, no heap.
pub(crate) type EspSession<R, const RX: usize, const TX: usize, const MSG: usize> =
    Session<R, [u8; TX], [u8; RX], [u8; MSG]>;

/// Where a slot's socket is.
#[derive(Debug)]
pub(crate) enum Link<S> {
    /// No connection.
    Free,
    /// Waiting for DNS; the host name is read back from the queued request.
    Resolve { port: u16 },
    /// The address is known; no socket yet.
    Ready { ip: IpAddr, port: u16 },
    /// `connect` said `WouldBlock`; call it again.
    Connect { sock: S, ip: IpAddr, port: u16 },
    /// Connected: handshake and frames.
    Up(S),
    /// `Closed` was delivered. When `flush`, the last queued frames (the
    /// close frame) are written first; then the socket is closed and the slot
    /// freed.
    Drain { sock: Option<S>, flush: bool },
}

/// How the socket ended, reported once the buffered events are out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// End of stream.
    Eof,
    /// A failure below the protocol.
    Link(LinkError),
}

/// A slot's bookkeeping, apart from the session so that it can change while
/// an event borrows the session.
#[derive(Debug)]
pub(crate) struct Meta<S> {
    pub(crate) link: Link<S>,
    /// The DNS + connect deadline, then the drain deadline.
    pub(crate) deadline: Instant,
    /// Bumped when the connection ends, so an old id never matches.
    pub(crate) gen: u32,
    /// How the socket ended, not yet reported.
    pub(crate) end: Option<End>,
    /// The session said "no event" since bytes were last read.
    pub(crate) idle: bool,
}

impl<S> Meta<S> {
    /// Records that the end was delivered: the id dies, and the socket drains
    /// (if it carried the handshake, a close frame may be queued) or closes.
    pub(crate) fn ended(&mut self, now: Instant, drain_ms: u64) {
        self.gen = self.gen.wrapping_add(1);
        self.end = None;
        self.deadline = now.plus_millis(drain_ms);
        self.link = match core::mem::replace(&mut self.link, Link::Free) {
            Link::Up(s) => Link::Drain {
                sock: Some(s),
                flush: true,
            },
            // Never connected: the queued request must not go out.
            Link::Connect { sock, .. } => Link::Drain {
                sock: Some(sock),
                flush: false,
            },
            _ => Link::Drain {
                sock: None,
                flush: false,
            },
        };
    }
}

/// One connection: a session and its socket.
#[derive(Debug)]
pub(crate) struct Slot<S, R, const RX: usize, const TX: usize, const MSG: usize> {
    pub(crate) session: Option<EspSession<R, RX, TX, MSG>>,
    pub(crate) meta: Meta<S>,
}

/// What the network side of a step found.
enum Step {
    /// Nothing to report now.
    Quiet,
    /// The link failed before any byte could be buffered: report at once.
    Failed(LinkError),
}

impl<S, R, const RX: usize, const TX: usize, const MSG: usize> Slot<S, R, RX, TX, MSG> {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Slot {
            session: None,
            meta: Meta {
                link: Link::Free,
                deadline: Instant::ZERO,
                gen: 0,
                end: None,
                idle: false,
            },
        }
    }

    /// A connection that can still deliver events (not free, not draining).
    pub(crate) fn is_live(&self) -> bool {
        self.session.is_some() && !matches!(self.meta.link, Link::Free | Link::Drain { .. })
    }

    /// Whether the slot is draining (its `Closed` was delivered).
    pub(crate) fn is_draining(&self) -> bool {
        matches!(self.meta.link, Link::Drain { .. })
    }

    /// Frees the slot now, closing its socket if it has one.
    pub(crate) fn free<T>(&mut self, stack: &mut T)
    where
        T: TcpClientStack<TcpSocket = S>,
    {
        let sock = match core::mem::replace(&mut self.meta.link, Link::Free) {
            Link::Connect { sock, .. }
            | Link::Up(sock)
            | Link::Drain {
                sock: Some(sock), ..
            } => Some(sock),
            _ => None,
        };
        if let Some(sock) = sock {
            // Nothing more can be done about a failing close.
            let _ = stack.close(sock);
        }
        self.session = None;
        self.meta.end = None;
        self.meta.idle = false;
    }
}

impl<S, R, const RX: usize, const TX: usize, const MSG: usize> Slot<S, R, RX, TX, MSG>
where
    R: Random,
{
    /// The network half of `poll` for this slot: drains, advances DNS and
    /// connect, writes and reads. Returns an end to report, if one is due;
    /// events from the session come from `Session::poll_event` afterwards.
    #[inline(never)]
    pub(crate) fn service<T>(
        &mut self,
        stack: &mut T,
        network_up: bool,
        now: Instant,
        drain_ms: u64,
    ) -> Option<SessionEvent<'static>>
    where
        T: TcpClientStack<TcpSocket = S> + Dns,
    {
        let session = self.session.as_mut()?;
        if let Link::Drain { sock, flush } = &mut self.meta.link {
            let mut done = !*flush || now >= self.meta.deadline;
            if let (Some(sock), false) = (sock.as_mut(), done) {
                done = flush_tx(stack, sock, session).is_some() || session.transmit().is_empty();
            }
            if done {
                self.free(stack);
            }
            return None;
        }
        if !network_up && self.meta.end.is_none() {
            self.meta.end = Some(End::Link(LinkError::NetworkDown));
        }
        if let Some(end) = self.meta.end {
            // Report the end once the buffered bytes gave their events.
            if self.meta.idle || session.read_buf().len() == RX {
                let ev = match end {
                    End::Eof => session.handle_eof(),
                    End::Link(e) => session.handle_link_error(e),
                };
                self.meta.ended(now, drain_ms);
                return ev;
            }
            return None;
        }
        if session.connection_ref().state() == State::Closed {
            // Abandoned or failed: `poll_event` reports it; no more I/O.
            return None;
        }
        match advance(stack, &mut self.meta, session, now) {
            Step::Quiet => None,
            Step::Failed(e) => {
                let ev = session.handle_link_error(e);
                self.meta.ended(now, drain_ms);
                ev
            }
        }
    }
}

/// Moves the link one step on; when it is up, writes what is queued and reads
/// what fits.
#[inline(never)]
fn advance<T, R, const RX: usize, const TX: usize, const MSG: usize>(
    stack: &mut T,
    meta: &mut Meta<T::TcpSocket>,
    session: &mut EspSession<R, RX, TX, MSG>,
    now: Instant,
) -> Step
where
    T: TcpClientStack + Dns,
    R: Random,
{
    if let Link::Resolve { port } = meta.link {
        if now >= meta.deadline {
            return Step::Failed(LinkError::ConnectTimeout);
        }
        let Some(host) = request_host(session.transmit()) else {
            return Step::Failed(LinkError::NameNotFound);
        };
        match stack.get_host_by_name(host, AddrType::Either) {
            Ok(ip) => meta.link = Link::Ready { ip, port },
            Err(nb::Error::WouldBlock) => return Step::Quiet,
            Err(nb::Error::Other(_)) => return Step::Failed(LinkError::NameNotFound),
        }
    }
    if let Link::Ready { ip, port } = meta.link {
        match stack.socket() {
            Ok(sock) => meta.link = Link::Connect { sock, ip, port },
            Err(_) => return Step::Failed(LinkError::Io),
        }
    }
    if let Link::Connect { sock, ip, port } = &mut meta.link {
        match stack.connect(sock, SocketAddr::new(*ip, *port)) {
            Ok(()) => {
                let up = match core::mem::replace(&mut meta.link, Link::Free) {
                    Link::Connect { sock, .. } => Link::Up(sock),
                    other => other,
                };
                meta.link = up;
            }
            Err(nb::Error::WouldBlock) if now >= meta.deadline => {
                return Step::Failed(LinkError::ConnectTimeout)
            }
            Err(nb::Error::WouldBlock) => return Step::Quiet,
            Err(nb::Error::Other(_)) => return Step::Failed(LinkError::Refused),
        }
    }
    if let Link::Up(sock) = &mut meta.link {
        if let Some(end) = flush_tx(stack, sock, session) {
            meta.end = Some(end);
            return Step::Quiet;
        }
        let mut got = false;
        meta.end = fill_rx(stack, sock, session, &mut got);
        if got {
            meta.idle = false;
        }
    }
    Step::Quiet
}

/// Writes queued bytes until the socket would block. Returns how the socket
/// ended, if it did.
fn flush_tx<T, R, const RX: usize, const TX: usize, const MSG: usize>(
    stack: &mut T,
    sock: &mut T::TcpSocket,
    session: &mut EspSession<R, RX, TX, MSG>,
) -> Option<End>
where
    T: TcpClientStack,
    R: Random,
{
    loop {
        let pending = session.transmit();
        if pending.is_empty() {
            return None;
        }
        match stack.send(sock, pending) {
            Ok(0) | Err(nb::Error::WouldBlock) => return None,
            Ok(n) => session.advance_transmit(n),
            Err(nb::Error::Other(e)) => return Some(end_of(&e)),
        }
    }
}

/// Reads until the socket would block or the receive buffer is full; `got`
/// says whether any byte came. Returns how the socket ended, if it did.
#[inline(never)]
fn fill_rx<T, R, const RX: usize, const TX: usize, const MSG: usize>(
    stack: &mut T,
    sock: &mut T::TcpSocket,
    session: &mut EspSession<R, RX, TX, MSG>,
    got: &mut bool,
) -> Option<End>
where
    T: TcpClientStack,
    R: Random,
{
    loop {
        let buf = session.read_buf();
        if buf.is_empty() {
            return None;
        }
        match stack.receive(sock, buf) {
            // embedded-nal: no data yet is WouldBlock, so 0 bytes is the end.
            Ok(0) => return Some(End::Eof),
            Ok(n) => {
                session.commit_read(n);
                *got = true;
            }
            Err(nb::Error::WouldBlock) => return None,
            Err(nb::Error::Other(e)) => return Some(end_of(&e)),
        }
    }
}

fn end_of<E: TcpError>(e: &E) -> End {
    match e.kind() {
        TcpErrorKind::PipeClosed => End::Eof,
        _ => End::Link(LinkError::Reset),
    }
}

/// The host name of a request written by `ws_proto::handshake::write_request`:
/// the `Host:` line (the first header), without the port. IP literals never
/// get here (they skip DNS).
pub(crate) fn request_host(request: &[u8]) -> Option<&str> {
    const HOST: &[u8] = b"\r\nHost: ";
    let at = request.windows(HOST.len()).position(|w| w == HOST)? + HOST.len();
    let rest = &request[at..];
    let len = rest.iter().position(|&b| b == b'\r' || b == b':')?;
    core::str::from_utf8(&rest[..len])
        .ok()
        .filter(|h| !h.is_empty())
}

#[cfg(test)]
mod tests {
    use super::request_host;

    #[test]
    fn host_is_read_back_from_the_request() {
        let r = b"GET /x HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(request_host(r), Some("example.com"));
        let r = b"GET / HTTP/1.1\r\nHost: a.b\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(request_host(r), Some("a.b"));
        assert_eq!(request_host(b"GET / HTTP/1.1\r\nHost: \r\n"), None);
        assert_eq!(request_host(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(request_host(b""), None);
    }
}
