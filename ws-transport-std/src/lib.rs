//! A non-blocking WebSocket client for `std`: `ws-proto` sessions over `mio`
//! sockets.
//!
//! The protocol and the connection lifecycle live in [`ws_proto`] (its
//! [`ws_proto::driver`]); this crate only executes the driver's actions on
//! sockets and maps OS errors. A
//! [`Client`] holds up to [`ClientConfig::max_connections`] connections (16
//! by default), each a [`ws_proto::Session`] with its own bounded receive
//! buffer, message assembler and outbound queue.
//!
//! ```text
//!   open(url) ──► DNS on a worker thread ──► non-blocking connect ──► handshake
//!                                                                        │
//!   caller ◄── poll(now): SessionEvent ◄── session ◄── socket reads ◄────┤
//!   caller ──► send_text / send_binary / ping / close ──► queue ──► socket writes
//!   caller ──► wait(now, max): sleeps on readiness, DNS answers and deadlines
//! ```
//!
//! - Nothing blocks: names resolve on a worker thread, connects and all I/O
//!   are non-blocking and advanced by [`Client::poll`]; [`Client::wait`]
//!   sleeps until something can happen, so an idle loop uses no CPU.
//! - Every failure is a [`ws_proto::SessionEvent::Closed`] with a typed
//!   reason: [`ws_proto::LinkError`] (refused, name not found, connect timeout,
//!   reset, TLS with its [`ws_proto::TlsReason`]), or [`ws_proto::Error`] (handshake rejected with the HTTP status,
//!   protocol violation with the close code sent, close timeout, connection
//!   lost mid-frame).
//! - `wss://` runs rustls (ring provider) between the socket and the
//!   driver's bytes, trusting the roots of [`TlsConfig`] (Mozilla's by
//!   default, PEM roots, the OS store); redirects are followed as the driver
//!   decides ([`ws_proto::redirect`]).
//! - Sends are whole frames or [`ws_proto::SendError::Backpressure`]; the
//!   queue drains as the socket takes bytes.
//! - Mask keys and handshake keys come from `getrandom` through
//!   [`MaskRandom`] (ChaCha8 seeded from the OS, reseeded every MiB).
//!
//! The types the client hands out are re-exported here ([`SessionEvent`],
//! [`Message`], [`Disconnect`], ...), and so is the whole core as
//! [`ws_proto`], so one dependency is enough. [`blocking::WebSocket`] wraps
//! one connection in calls that wait (each for at most its timeout), for
//! programs with nothing else to do.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod blocking;
mod client;
mod clock;
mod error;
mod random;
mod tls;

pub use client::{Client, ClientConfig, Notifier, SLOT_BYTES};
pub use clock::Clock;
pub use error::{CommandError, ConfigError, OpenError};
pub use random::{BufferedRandom, MaskRandom, REFILL, RESEED_BYTES};
pub use tls::{TlsConfig, TlsConfigError};
pub use ws_proto::ConnId;

/// The protocol core, for everything not re-exported below.
pub use ws_proto;
pub use ws_proto::{
    CloseFrame, Config, DataKind, DeflateConfig, Disconnect, Error, HandshakeError,
    HandshakeOptions, Instant, LinkError, Message, ProtocolError, SendError, SessionEvent, State,
    UrlError, MIN_RECV_BUFFER,
};

// Every code block of the workspace README compiles (and runs, unless marked
// `no_run`) as a doctest of this crate; C blocks are built by
// ws-vm-binding/tests/readme_c.rs, the others are not Rust (`text`, `sh`).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    /// The client can move to another thread (e.g. the VM's event loop thread).
    #[test]
    fn client_is_send() {
        fn send<T: Send>() {}
        send::<crate::Client>();
        send::<crate::Notifier>();
        send::<crate::ConnId>();
    }
}
