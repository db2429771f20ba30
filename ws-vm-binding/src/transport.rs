//! The [`Transport`] the module drives, and its adapters.
//!
//! It mirrors the shape both transport crates share (`open`, `send_text`,
//! `ping`, `close`, `state`, `poll`, and `wait` where a thread may sleep):
//! time is a [`ws_proto::Instant`] the caller passes in, events are
//! [`ws_proto::SessionEvent`]s, and each connection is named by an id that
//! never matches a newer connection. `ws_transport_std::Client` implements it
//! with the default `std` feature.

use core::fmt;
use core::time::Duration;

use ws_proto::{Instant, SendError, SessionEvent, State, UrlError};

/// The transport could not start a connection; nothing was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenFailure {
    /// The URL is not a usable `ws://` URL.
    Url(UrlError),
    /// Every connection slot of the transport is in use.
    TooManyConnections,
    /// The network is not up (ESP32: the station has no IP yet).
    NetworkDown,
    /// Any other reason the transport gave (resources, request too large).
    Other,
}

impl fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenFailure::Url(e) => write!(f, "bad URL: {e}"),
            OpenFailure::TooManyConnections => f.write_str("too many connections"),
            OpenFailure::NetworkDown => f.write_str("network not ready"),
            OpenFailure::Other => f.write_str("the transport could not open a connection"),
        }
    }
}

impl core::error::Error for OpenFailure {}

/// A command on a connection was refused; the connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandFailure {
    /// The id is unknown or its connection already ended.
    UnknownConnection,
    /// The connection refused it; [`SendError::Backpressure`] means "retry later".
    Send(SendError),
}

impl fmt::Display for CommandFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandFailure::UnknownConnection => f.write_str("unknown or ended connection"),
            CommandFailure::Send(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for CommandFailure {}

/// A set of non-blocking WebSocket connections, advanced by [`poll`](Self::poll).
///
/// The contract the module relies on: no method blocks (except
/// [`wait`](Self::wait)); `poll` reports [`SessionEvent::Closed`] exactly once
/// per opened id (also when the connection never got past the connect or the
/// handshake), after which the id is unknown; ids are never reused.
pub trait Transport {
    /// Names one connection.
    type Id: Copy + Eq + fmt::Debug;

    /// Starts connecting to `url` (DNS, TCP, handshake proceed in `poll`).
    ///
    /// # Errors
    ///
    /// [`OpenFailure`] when nothing could be started.
    fn open(&mut self, url: &str, now: Instant) -> Result<Self::Id, OpenFailure>;

    /// Queues a whole text message.
    ///
    /// # Errors
    ///
    /// [`CommandFailure`]; `Send(SendError::Backpressure)` when the outbound
    /// queue is full for now.
    fn send_text(&mut self, id: Self::Id, text: &str) -> Result<(), CommandFailure>;

    /// Queues a ping with `payload`.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    fn ping(&mut self, id: Self::Id, payload: &[u8]) -> Result<(), CommandFailure>;

    /// Starts the close handshake (or abandons a connection still connecting).
    ///
    /// # Errors
    ///
    /// [`CommandFailure::UnknownConnection`] for an ended id.
    fn close(
        &mut self,
        id: Self::Id,
        now: Instant,
        code: u16,
        reason: &str,
    ) -> Result<(), CommandFailure>;

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

#[cfg(feature = "std")]
mod std_client {
    //! [`Transport`] for `ws_transport_std::Client`.

    use super::*;
    use ws_transport_std::{Client, CommandError, ConnId, OpenError};

    fn command(e: CommandError) -> CommandFailure {
        match e {
            CommandError::Send(s) => CommandFailure::Send(s),
            _ => CommandFailure::UnknownConnection,
        }
    }

    impl Transport for Client {
        type Id = ConnId;

        fn open(&mut self, url: &str, now: Instant) -> Result<ConnId, OpenFailure> {
            Client::open(self, url, now).map_err(|e| match e {
                OpenError::Url(u) => OpenFailure::Url(u),
                OpenError::TooManyConnections => OpenFailure::TooManyConnections,
                _ => OpenFailure::Other,
            })
        }

        fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandFailure> {
            Client::send_text(self, id, text).map_err(command)
        }

        fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandFailure> {
            Client::ping(self, id, payload).map_err(command)
        }

        fn close(
            &mut self,
            id: ConnId,
            now: Instant,
            code: u16,
            reason: &str,
        ) -> Result<(), CommandFailure> {
            Client::close(self, id, now, code, reason).map_err(command)
        }

        fn state(&self, id: ConnId) -> Option<State> {
            Client::state(self, id)
        }

        fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
            Client::poll(self, now)
        }

        fn wait(&mut self, now: Instant, max: Duration) {
            // A failed wait (the OS poll failing) only means the loop spins once more.
            let _ = Client::wait(self, now, max);
        }
    }
}

#[cfg(feature = "esp")]
mod esp_client {
    //! [`Transport`] for `ws_transport_esp::EspClient` (no `wait`: a
    //! bare-metal loop polls).

    use super::*;
    use embedded_nal::{Dns, TcpClientStack};
    use ws_proto::Random;
    use ws_transport_esp::{CommandError, ConnId, EspClient, NetworkReady, OpenError};

    fn command(e: CommandError) -> CommandFailure {
        match e {
            CommandError::Send(s) => CommandFailure::Send(s),
            _ => CommandFailure::UnknownConnection,
        }
    }

    impl<T, N, R, const CONNS: usize, const RX: usize, const TX: usize, const MSG: usize> Transport
        for EspClient<T, N, R, CONNS, RX, TX, MSG>
    where
        T: TcpClientStack + Dns,
        N: NetworkReady,
        R: Random + Clone,
    {
        type Id = ConnId;

        fn open(&mut self, url: &str, now: Instant) -> Result<ConnId, OpenFailure> {
            EspClient::open(self, url, now).map_err(|e| match e {
                OpenError::Url(u) => OpenFailure::Url(u),
                OpenError::NetworkDown => OpenFailure::NetworkDown,
                OpenError::TooManyConnections => OpenFailure::TooManyConnections,
                _ => OpenFailure::Other,
            })
        }

        fn send_text(&mut self, id: ConnId, text: &str) -> Result<(), CommandFailure> {
            EspClient::send_text(self, id, text).map_err(command)
        }

        fn ping(&mut self, id: ConnId, payload: &[u8]) -> Result<(), CommandFailure> {
            EspClient::ping(self, id, payload).map_err(command)
        }

        fn close(
            &mut self,
            id: ConnId,
            now: Instant,
            code: u16,
            reason: &str,
        ) -> Result<(), CommandFailure> {
            EspClient::close(self, id, now, code, reason).map_err(command)
        }

        fn state(&self, id: ConnId) -> Option<State> {
            EspClient::state(self, id)
        }

        fn poll(&mut self, now: Instant) -> Option<(ConnId, SessionEvent<'_>)> {
            EspClient::poll(self, now)
        }
    }
}
