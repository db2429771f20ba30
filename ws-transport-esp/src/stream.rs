//! One stream of the async transport ([`crate::AsyncClient`]): the id it
//! belongs to, and its reads and writes polled once with the task's context
//! (`Pending` is `WouldBlock`, and leaves the task's waker registered).
//!
//! What a `Pending` read means after a failed write (drained, or bytes the
//! reactor has not seen yet) is the driver's decision, within its
//! `drain_grace_ms` (set by [`crate::AsyncClient::new`]).

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use ws_proto::driver::{Action, Io};
use ws_proto::{ConnId, LinkError};

/// The stream of a slot.
pub(crate) struct Stream<S> {
    /// The connection it belongs to.
    id: ConnId,
    io: S,
}

impl<S> Stream<S> {
    /// A connected stream of `id`.
    pub(crate) fn new(id: ConnId, io: S) -> Self {
        Stream { id, io }
    }
}

/// What one read, write, shutdown or close did.
pub(crate) enum Done {
    /// A read: report it with `handle_read`.
    Read(Io),
    /// A write: report it with `handle_write`.
    Write(Io),
    /// Nothing to report.
    Other,
}

impl Done {
    /// Whether bytes moved.
    pub(crate) fn moved(&self) -> bool {
        matches!(self, Done::Read(Io::Done(_)) | Done::Write(Io::Done(_)))
    }
}

/// Executes a read, write, shutdown or close on the stream of its id (in
/// `slot`), polling a read or write once with `cx`.
pub(crate) fn try_once<S: Read + Write>(
    slot: &mut Option<Stream<S>>,
    action: Action<'_>,
    cx: &mut Context<'_>,
) -> Done {
    let id = action.id();
    let Some(stream) = slot.as_mut().filter(|s| s.id == id) else {
        return match action {
            Action::Read { .. } => Done::Read(Io::Failed(LinkError::Io)),
            Action::Write { .. } => Done::Write(Io::Failed(LinkError::Io)),
            _ => Done::Other,
        };
    };
    match action {
        Action::Read { buf, .. } => Done::Read(match poll_once(stream.io.read(buf), cx) {
            None => Io::WouldBlock,
            Some(Ok(0)) => Io::Eof,
            Some(Ok(n)) => Io::Done(n),
            Some(Err(e)) => Io::Failed(link_error(e.kind())),
        }),
        Action::Write { bytes, .. } => Done::Write(match poll_once(stream.io.write(bytes), cx) {
            None => Io::WouldBlock,
            Some(Ok(0)) => Io::Failed(LinkError::Reset),
            Some(Ok(n)) => Io::Done(n),
            Some(Err(e)) => Io::Failed(link_error(e.kind())),
        }),
        Action::Close { .. } => {
            *slot = None;
            Done::Other
        }
        // No half-close in embedded-io-async: the linger deadline bounds it.
        _ => Done::Other,
    }
}

/// Polls `f` once.
fn poll_once<F: Future>(f: F, cx: &mut Context<'_>) -> Option<F::Output> {
    match pin!(f).poll(cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Names a stream error the way every transport does.
pub(crate) fn link_error(kind: ErrorKind) -> LinkError {
    match kind {
        ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe
        | ErrorKind::NotConnected
        | ErrorKind::TimedOut => LinkError::Reset,
        _ => LinkError::Io,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Waker;

    /// A stream whose writes fail and whose reads never complete.
    struct Dead;

    impl embedded_io_async::ErrorType for Dead {
        type Error = ErrorKind;
    }

    impl Read for Dead {
        async fn read(&mut self, _: &mut [u8]) -> Result<usize, ErrorKind> {
            core::future::pending().await
        }
    }

    impl Write for Dead {
        async fn write(&mut self, _: &[u8]) -> Result<usize, ErrorKind> {
            Err(ErrorKind::BrokenPipe)
        }

        async fn flush(&mut self) -> Result<(), ErrorKind> {
            Err(ErrorKind::BrokenPipe)
        }
    }

    /// A source for the handshake key.
    #[derive(Clone)]
    struct Sevens;

    impl ws_proto::Random for Sevens {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), ws_proto::RandomError> {
            buf.fill(7);
            Ok(())
        }
    }

    /// The ids of two connections (only a driver makes them).
    fn two_ids() -> (ConnId, ConnId) {
        use ws_proto::driver::{DriverConfig, Slot, Storage};
        let mut slots: crate::EspSlots<Sevens, 2, 512, 512, 512> = [const { Slot::new() }; 2];
        let mut driver = ws_proto::Driver::new(&mut slots, DriverConfig::default());
        let mut open = || {
            let storage = || Storage {
                rng: Sevens,
                tx: [0; 512],
                rx: [0; 512],
                assembler: [0; 512],
            };
            let options = ws_proto::HandshakeOptions::default();
            driver.open_in_place(
                "ws://127.0.0.1:1/",
                &options,
                ws_proto::Instant::ZERO,
                storage,
            )
        };
        (open().unwrap(), open().unwrap())
    }

    #[test]
    fn pending_is_would_block_even_after_a_failed_write() {
        let (id, other_id) = two_ids();
        let mut cx = Context::from_waker(Waker::noop());
        let mut slot = Some(Stream::new(id, Dead));
        let mut buf = [0u8; 8];
        let read = |slot: &mut Option<Stream<Dead>>, buf: &mut [u8], cx: &mut Context<'_>| {
            try_once(slot, Action::Read { id, buf }, cx)
        };
        assert!(matches!(
            read(&mut slot, &mut buf, &mut cx),
            Done::Read(Io::WouldBlock)
        ));
        let write = Action::Write { id, bytes: b"x" };
        assert!(matches!(
            try_once(&mut slot, write, &mut cx),
            Done::Write(Io::Failed(LinkError::Reset))
        ));
        // Whether that means drained is the driver's call (its grace).
        assert!(matches!(
            read(&mut slot, &mut buf, &mut cx),
            Done::Read(Io::WouldBlock)
        ));
        // Another id's actions never touch this stream.
        let other = Action::Read {
            id: other_id,
            buf: &mut buf,
        };
        assert!(matches!(
            try_once(&mut slot, other, &mut cx),
            Done::Read(Io::Failed(LinkError::Io))
        ));
        assert!(slot.is_some());
    }
}
