//! One stream of the async transport ([`crate::AsyncClient`]): the id it
//! belongs to, its reads and writes polled once with the task's context
//! (`Pending` leaves the task's waker registered), and the drain after a
//! failed write.
//!
//! After a write fails, the driver reads what the socket still holds before
//! it reports the failure (a reset leaves the bytes that came before it
//! readable), and takes a read that would block as the end of them. An
//! async stream's `Pending` does not always mean that: an executor with a
//! reactor (tokio) learns of new bytes only after the task yields, so the
//! first read after the failure can be `Pending` with the bytes already in
//! the socket, and reporting it would lose them. So for [`DRAIN_GRACE_MS`]
//! after a failed write a `Pending` read is not reported: the task waits
//! (the stream wakes it) and the read is tried again. The stream's error or
//! end, or the grace running out, ends the drain. (embassy-net does not
//! need the grace: after a reset its reads return what its buffer holds,
//! then the error, at once.)

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll};

use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use ws_proto::driver::{Action, Io};
use ws_proto::{ConnId, Instant, LinkError};

/// How long after a failed write a `Pending` read is taken as "not known
/// yet" rather than "drained" (see the module documentation).
pub(crate) const DRAIN_GRACE_MS: u64 = 100;

/// The stream of a slot.
pub(crate) struct Stream<S> {
    /// The connection it belongs to.
    id: ConnId,
    io: S,
    /// A write failed: until then a `Pending` read is not reported.
    drain_until: Option<Instant>,
}

impl<S> Stream<S> {
    /// A connected stream of `id`.
    pub(crate) fn new(id: ConnId, io: S) -> Self {
        Stream {
            id,
            io,
            drain_until: None,
        }
    }

    /// When the drain's grace ends, if one runs.
    pub(crate) fn drain_until(&self) -> Option<Instant> {
        self.drain_until
    }
}

/// What one read, write, shutdown or close did.
pub(crate) enum Done {
    /// A read: report it with `handle_read`.
    Read(Io),
    /// A write: report it with `handle_write`.
    Write(Io),
    /// A read during a drain that is not known yet: nothing to report; try
    /// it again after the task waited.
    Deferred,
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
    now: Instant,
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
        Action::Read { buf, .. } => read(stream, buf, now, cx),
        Action::Write { bytes, .. } => {
            let io = match poll_once(stream.io.write(bytes), cx) {
                None => Io::WouldBlock,
                Some(Ok(0)) => Io::Failed(LinkError::Reset),
                Some(Ok(n)) => Io::Done(n),
                Some(Err(e)) => Io::Failed(link_error(e.kind())),
            };
            if matches!(io, Io::Failed(_)) && stream.drain_until.is_none() {
                stream.drain_until = Some(now.plus_millis(DRAIN_GRACE_MS));
            }
            Done::Write(io)
        }
        Action::Close { .. } => {
            *slot = None;
            Done::Other
        }
        // No half-close in embedded-io-async: the linger deadline bounds it.
        _ => Done::Other,
    }
}

/// One read; during a drain's grace a `Pending` one is [`Done::Deferred`].
fn read<S: Read>(
    stream: &mut Stream<S>,
    buf: &mut [u8],
    now: Instant,
    cx: &mut Context<'_>,
) -> Done {
    let io = match poll_once(stream.io.read(buf), cx) {
        None if stream.drain_until.is_some_and(|t| now < t) => return Done::Deferred,
        None => Io::WouldBlock,
        Some(Ok(0)) => Io::Eof,
        Some(Ok(n)) => Io::Done(n),
        Some(Err(e)) => Io::Failed(link_error(e.kind())),
    };
    if !matches!(io, Io::Done(_)) {
        // The drain ended (or none runs).
        stream.drain_until = None;
    }
    Done::Read(io)
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
            driver.open_in_place("ws://127.0.0.1:1/", &options, Instant::ZERO, storage)
        };
        (open().unwrap(), open().unwrap())
    }

    #[test]
    fn a_pending_read_after_a_failed_write_is_deferred_for_the_grace_only() {
        let (id, other_id) = two_ids();
        let mut cx = Context::from_waker(Waker::noop());
        let t0 = Instant::from_millis(1_000);
        let mut slot = Some(Stream::new(id, Dead));
        let mut buf = [0u8; 8];
        let read = |slot: &mut Option<Stream<Dead>>, buf: &mut [u8], now, cx: &mut Context<'_>| {
            try_once(slot, Action::Read { id, buf }, now, cx)
        };
        // Before any failure, Pending is WouldBlock.
        assert!(matches!(
            read(&mut slot, &mut buf, t0, &mut cx),
            Done::Read(Io::WouldBlock)
        ));
        let write = Action::Write { id, bytes: b"x" };
        assert!(matches!(
            try_once(&mut slot, write, t0, &mut cx),
            Done::Write(Io::Failed(LinkError::Reset))
        ));
        let until = t0.plus_millis(DRAIN_GRACE_MS);
        assert_eq!(slot.as_ref().and_then(Stream::drain_until), Some(until));
        // Within the grace: not reported.
        assert!(matches!(
            read(&mut slot, &mut buf, t0, &mut cx),
            Done::Deferred
        ));
        let late = Instant::from_millis(until.millis() - 1);
        assert!(matches!(
            read(&mut slot, &mut buf, late, &mut cx),
            Done::Deferred
        ));
        // At its end: drained, and the grace is over.
        assert!(matches!(
            read(&mut slot, &mut buf, until, &mut cx),
            Done::Read(Io::WouldBlock)
        ));
        assert_eq!(slot.as_ref().and_then(Stream::drain_until), None);
        // Another id's actions never touch this stream.
        let other = Action::Read {
            id: other_id,
            buf: &mut buf,
        };
        assert!(matches!(
            try_once(&mut slot, other, until, &mut cx),
            Done::Read(Io::Failed(LinkError::Io))
        ));
        assert!(slot.is_some());
    }
}
