//! The errors of [`crate::Client`]'s commands.

use core::fmt;
use std::io;

use ws_proto::{SendError, UrlError};

/// [`crate::Client::open`] could not start a connection. Nothing was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenError {
    /// The URL is not a usable `ws://` URL (`wss://` gives
    /// [`UrlError::TlsUnsupported`]: this transport has no TLS).
    Url(UrlError),
    /// All `max_connections` slots are in use.
    TooManyConnections,
    /// The handshake request could not be queued (e.g. `tx_capacity` too small).
    Request(SendError),
    /// The operating system refused a resource (a thread for name resolution).
    Io(io::ErrorKind),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Url(e) => write!(f, "bad URL: {e}"),
            OpenError::TooManyConnections => f.write_str("too many connections open"),
            OpenError::Request(e) => write!(f, "cannot queue the handshake request: {e}"),
            OpenError::Io(k) => write!(f, "I/O error: {k}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Url(e) => Some(e),
            OpenError::Request(e) => Some(e),
            OpenError::TooManyConnections | OpenError::Io(_) => None,
        }
    }
}

/// A command on a connection was refused; the connection is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandError {
    /// The id never existed, or its connection ended (its `Closed` event was
    /// delivered): ids are never reused.
    UnknownConnection,
    /// The connection refused it (backpressure, not open yet, closing, ...).
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

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
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
