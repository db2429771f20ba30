//! The errors of the driver's calls: [`OpenError`] and [`CommandError`].
//! Every transport returns these, so a caller names failures the same way
//! whatever the socket layer.
//!
//! Failures that happen after `open` returned (refused, name not found,
//! reset, handshake rejected) are not errors of a call: they arrive as
//! [`crate::SessionEvent::Closed`].

use core::fmt;

use crate::error::{SendError, UrlError};
use crate::session::SessionConfigError;

/// Why `open` refused to start a connection. Nothing was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL is not usable (`wss://` gives [`UrlError::TlsUnsupported`]
    /// on a transport without TLS).
    Url(UrlError),
    /// The network is not up (e.g. the station has no IP yet). Retry later.
    NetworkDown,
    /// Every connection slot is in use.
    TooManyConnections,
    /// The handshake request could not be built: it does not fit the
    /// transmit storage, a header or subprotocol is invalid, or the random
    /// source failed.
    Request(SendError),
    /// The storage does not fit the configuration.
    Storage(SessionConfigError),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Url(e) => write!(f, "bad URL: {e}"),
            OpenError::NetworkDown => f.write_str("network not ready"),
            OpenError::TooManyConnections => f.write_str("all connection slots are in use"),
            OpenError::Request(e) => write!(f, "handshake request: {e}"),
            OpenError::Storage(e) => write!(f, "connection storage: {e}"),
        }
    }
}

impl core::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            OpenError::Url(e) => Some(e),
            OpenError::Request(e) => Some(e),
            OpenError::Storage(e) => Some(e),
            OpenError::NetworkDown | OpenError::TooManyConnections => None,
        }
    }
}

/// Why a command (`send_text`, `send_binary`, `ping`, `close`) was refused;
/// the connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandError {
    /// The id names no live connection: never opened, its `Closed` was
    /// delivered, or its slot was reused since.
    UnknownConnection,
    /// The connection refused it; [`SendError::Backpressure`] means "retry
    /// after the queue drained", the connection stays open.
    Send(SendError),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::UnknownConnection => f.write_str("unknown or ended connection"),
            CommandError::Send(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CommandError::UnknownConnection => None,
            CommandError::Send(e) => Some(e),
        }
    }
}

impl From<SendError> for CommandError {
    fn from(e: SendError) -> Self {
        CommandError::Send(e)
    }
}
