//! [`Transport`]: the one shape every transport has, which the VM binding
//! (and any caller that wants to swap transports) drives.

use core::fmt;
use core::time::Duration;

use super::error::{CommandError, OpenError};
use crate::connection::State;
use crate::handshake::HandshakeOptions;
use crate::session::SessionEvent;
use crate::time::Instant;

/// A set of non-blocking WebSocket connections advanced by
/// [`poll`](Self::poll): what `ws-transport-std`'s `Client` and
/// `ws-transport-esp`'s clients implement over a [`super::Driver`].
///
/// The contract: no method blocks (except [`wait`](Self::wait)); `poll`
/// reports [`SessionEvent::Closed`] exactly once per opened id (also when the
/// connection never got past connect or handshake), after which the id is
/// unknown; ids are never reused.
pub trait Transport {
    /// Names one connection.
    type Id: Copy + Eq + fmt::Debug;

    /// Starts connecting to `url`, offering `options` in the handshake.
    ///
    /// # Errors
    ///
    /// [`OpenError`] when nothing could be started.
    fn open_with(
        &mut self,
        url: &str,
        options: &HandshakeOptions<'_>,
        now: Instant,
    ) -> Result<Self::Id, OpenError>;

    /// Starts connecting to `url` with no subprotocols or extra headers.
    ///
    /// # Errors
    ///
    /// As [`open_with`](Self::open_with).
    fn open(&mut self, url: &str, now: Instant) -> Result<Self::Id, OpenError> {
        self.open_with(url, &HandshakeOptions::default(), now)
    }

    /// Queues a whole text message.
    ///
    /// # Errors
    ///
    /// [`CommandError`]; `Send(SendError::Backpressure)` when the queue is
    /// full for now, `Send(SendError::TooLarge)` when it never fits.
    fn send_text(&mut self, id: Self::Id, text: &str) -> Result<(), CommandError>;

    /// Queues a whole binary message.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    fn send_binary(&mut self, id: Self::Id, data: &[u8]) -> Result<(), CommandError>;

    /// Queues a ping with `payload` (at most 125 bytes).
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    fn ping(&mut self, id: Self::Id, payload: &[u8]) -> Result<(), CommandError>;

    /// Starts the close handshake (or abandons a connection still connecting).
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`] for an ended id; `Send` with
    /// `InvalidCloseCode` / `ReasonTooLong`.
    fn close(
        &mut self,
        id: Self::Id,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandError>;

    /// Sets the keepalive of a connection: ping after `ping_interval_ms` of
    /// silence, fail after `pong_timeout_ms` more (0 turns each off).
    ///
    /// # Errors
    ///
    /// [`CommandError::UnknownConnection`] for an ended id.
    fn set_keepalive(
        &mut self,
        id: Self::Id,
        ping_interval_ms: u64,
        pong_timeout_ms: u64,
        now: Instant,
    ) -> Result<(), CommandError>;

    /// The protocol state, `None` for an unknown or ended id.
    fn state(&self, id: Self::Id) -> Option<State>;

    /// Advances every connection and returns the next event; call until `None`.
    fn poll(&mut self, now: Instant) -> Option<(Self::Id, SessionEvent<'_>)>;

    /// Sleeps until there may be work, at most `max`. The default returns at
    /// once (for transports that cannot sleep, such as a bare-metal one).
    fn wait(&mut self, now: Instant, max: Duration) {
        let _ = (now, max);
    }
}
