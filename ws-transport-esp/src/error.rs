//! The errors of [`crate::EspClient`]'s calls: [`OpenError`] and [`CommandError`].
//!
//! Failures that happen after `open` returned (refused, name not found, reset,
//! network down) are not errors of a call: they arrive from `poll` as
//! `SessionEvent::Closed(Disconnect::Link(..))`.

use core::fmt;

use ws_proto::{SendError, SessionConfigError, UrlError};

/// Why [`crate::EspClient::open`] refused to start a connection. Nothing was
/// allocated and no socket was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL is not a usable `ws://` URL (`wss://` gives
    /// [`UrlError::TlsUnsupported`]: this transport has no TLS).
    Url(UrlError),
    /// The network is not ready (the station has no IP yet). Retry later.
    NetworkDown,
    /// Every connection slot is in use.
    TooManyConnections,
    /// The handshake request could not be built: it does not fit the
    /// transmit buffer ([`SendError::RequestTooLarge`]) or the random source
    /// failed ([`SendError::Random`]).
    Request(SendError),
    /// The buffers do not fit the protocol configuration.
    Storage(SessionConfigError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Url(e) => write!(f, "bad URL: {e}"),
            OpenError::NetworkDown => f.write_str("network not ready (no IP address yet)"),
            OpenError::TooManyConnections => f.write_str("all connection slots are in use"),
            OpenError::Request(e) => write!(f, "handshake request: {e}"),
            OpenError::Storage(e) => write!(f, "connection storage: {e}"),
        }
    }
}

impl core::error::Error for OpenError {}

/// Why a command (`send_text`, `send_binary`, `ping`, `close`) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The id names no live connection: never opened, already reported
    /// `Closed`, or its slot was reused since.
    UnknownConnection,
    /// The connection refused it; [`SendError::Backpressure`] means "retry
    /// after the next `poll`", the connection stays open.
    Send(SendError),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownConnection => f.write_str("unknown connection"),
            CommandError::Send(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for CommandError {}
