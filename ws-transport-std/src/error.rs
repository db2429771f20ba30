//! The errors of [`crate::Client`]: [`ConfigError`] from `Client::new`, and
//! the driver's [`OpenError`] and [`CommandError`] (the same types every
//! transport returns) from its calls.

use core::fmt;
use std::io;

pub use ws_proto::{CommandError, OpenError};

/// [`crate::Client::new`] refused the configuration, or the OS poller could
/// not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_connections` must be 1..=65,536.
    MaxConnections,
    /// `rx_buffer` is below `ws_proto::MIN_RECV_BUFFER`.
    RxBufferTooSmall,
    /// A buffer size (`rx_buffer`, `tx_capacity`, `max_message_size`) is
    /// over 1 GiB.
    BufferTooLarge,
    /// The operating system refused the poller or its waker.
    Poller(io::ErrorKind),
    /// The TLS roots (`ClientConfig::tls`) cannot be used.
    Tls(crate::TlsConfigError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MaxConnections => f.write_str("max_connections must be 1..=65536"),
            ConfigError::RxBufferTooSmall => {
                f.write_str("rx_buffer is below ws_proto::MIN_RECV_BUFFER")
            }
            ConfigError::BufferTooLarge => f.write_str("a buffer size is over 1 GiB"),
            ConfigError::Poller(k) => write!(f, "cannot create the OS poller: {k}"),
            ConfigError::Tls(e) => write!(f, "TLS configuration: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}
