//! The socket calls of the `nb` transport: each driver action as one
//! `embedded-nal` call, and the `nb` results mapped to what the driver
//! understands ([`Resolution`], [`ConnectOutcome`], [`Io`]). No decision
//! about a connection's life is made here.
//!
//! ```text
//!   Resolve  ─► get_host_by_name          (WouldBlock: Pending, asked again next turn)
//!   Connect  ─► socket() once, connect()  (WouldBlock: Pending; an error closes the socket)
//!   Read     ─► receive(buf)              (Ok(0): end of stream)
//!   Write    ─► send(bytes)
//!   Shutdown ─► nothing (embedded-nal has no half-close; the linger time bounds it)
//!   Close    ─► close()
//! ```

use core::net::SocketAddr;

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};
use ws_proto::driver::{Action, ConnectOutcome, Io, Report, Resolution};
use ws_proto::{ConnId, LinkError};

/// The socket of one slot, with the id it belongs to.
pub(crate) type Entry<S> = Option<(ConnId, S)>;

/// Executes one action on `stack`; `sockets` holds the socket of each slot.
pub(crate) fn execute<T: TcpClientStack + Dns>(
    stack: &mut T,
    sockets: &mut [Entry<T::TcpSocket>],
    action: Action<'_>,
) -> Report {
    let Some(entry) = sockets.get_mut(action.id().slot()) else {
        return Report::Done;
    };
    match action {
        Action::Resolve { host, .. } => Report::Resolved(resolve(stack, host)),
        Action::Connect { id, addr } => Report::Connect(connect(stack, entry, id, addr)),
        Action::Read { id, buf } => Report::Io(receive(stack, socket_of(entry, id), buf)),
        Action::Write { id, bytes } => Report::Io(send(stack, socket_of(entry, id), bytes)),
        Action::Shutdown { .. } => Report::Done,
        Action::Close { id } => {
            close(stack, entry, id);
            Report::Done
        }
    }
}

/// One DNS call: the answer, or `Pending` while the stack is still asking.
fn resolve<T: Dns>(stack: &mut T, host: &str) -> Resolution {
    match stack.get_host_by_name(host, AddrType::Either) {
        Ok(ip) => Resolution::Found(ip),
        Err(nb::Error::WouldBlock) => Resolution::Pending,
        Err(nb::Error::Other(_)) => Resolution::Failed(LinkError::NameNotFound),
    }
}

/// Starts a connect to `addr` (making the socket), or checks the one under
/// way. A socket left by another id is closed first; a failed one is closed.
fn connect<T: TcpClientStack>(
    stack: &mut T,
    entry: &mut Entry<T::TcpSocket>,
    id: ConnId,
    addr: SocketAddr,
) -> ConnectOutcome {
    let mut sock = match entry.take() {
        Some((owner, sock)) if owner == id => sock,
        other => {
            if let Some((_, sock)) = other {
                // Nothing more can be done about a failing close.
                let _ = stack.close(sock);
            }
            match stack.socket() {
                Ok(sock) => sock,
                Err(_) => return failed(LinkError::Io),
            }
        }
    };
    match stack.connect(&mut sock, addr) {
        Ok(()) => {
            *entry = Some((id, sock));
            ConnectOutcome::Connected
        }
        Err(nb::Error::WouldBlock) => {
            *entry = Some((id, sock));
            ConnectOutcome::Pending
        }
        Err(nb::Error::Other(_)) => {
            let _ = stack.close(sock);
            failed(LinkError::Refused)
        }
    }
}

fn failed(error: LinkError) -> ConnectOutcome {
    ConnectOutcome::Failed { error, next: None }
}

/// The socket of `id`, if the slot holds it.
fn socket_of<S>(entry: &mut Entry<S>, id: ConnId) -> Option<&mut S> {
    match entry {
        Some((owner, sock)) if *owner == id => Some(sock),
        _ => None,
    }
}

/// One receive call. `embedded-nal` says `WouldBlock` when no data is
/// there, so 0 bytes is the end of the stream. `WouldBlock` is the stack's
/// state at the call (no readiness is cached in between), so after a failed
/// send it says the socket is drained: the driver's `drain_grace_ms` is 0
/// here (`crate::config`). (The async transport's `Pending` cannot say so:
/// its driver has a grace, see `crate::asynch`.)
fn receive<T: TcpClientStack>(
    stack: &mut T,
    sock: Option<&mut T::TcpSocket>,
    buf: &mut [u8],
) -> Io {
    let Some(sock) = sock else {
        return Io::Failed(LinkError::Io);
    };
    match stack.receive(sock, buf) {
        Ok(0) => Io::Eof,
        Ok(n) => Io::Done(n),
        Err(nb::Error::WouldBlock) => Io::WouldBlock,
        Err(nb::Error::Other(e)) => io_error(&e),
    }
}

/// One send call (0 bytes taken counts as `WouldBlock` for the driver).
fn send<T: TcpClientStack>(stack: &mut T, sock: Option<&mut T::TcpSocket>, bytes: &[u8]) -> Io {
    let Some(sock) = sock else {
        return Io::Failed(LinkError::Io);
    };
    match stack.send(sock, bytes) {
        Ok(n) => Io::Done(n),
        Err(nb::Error::WouldBlock) => Io::WouldBlock,
        Err(nb::Error::Other(e)) => io_error(&e),
    }
}

/// Closes the socket of `id`, if the slot holds it.
fn close<T: TcpClientStack>(stack: &mut T, entry: &mut Entry<T::TcpSocket>, id: ConnId) {
    match entry.take() {
        Some((owner, sock)) if owner == id => {
            let _ = stack.close(sock);
        }
        other => *entry = other,
    }
}

/// Names a stack error: a closed pipe is the end of the stream, anything
/// else a reset.
fn io_error<E: TcpError>(e: &E) -> Io {
    match e.kind() {
        TcpErrorKind::PipeClosed => Io::Eof,
        _ => Io::Failed(LinkError::Reset),
    }
}
