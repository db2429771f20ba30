//! A sans-IO WebSocket client (RFC 6455): bytes in, events and bytes out.
//!
//! This crate is the protocol and nothing else: no networking code, no clock,
//! no random number generator, no allocator. It is `#![no_std]` and builds for
//! bare-metal targets such as `riscv32imc-unknown-none-elf`. A transport (the
//! `ws-transport-std` and `ws-transport-esp` crates, or your own) moves bytes
//! between a socket and a [`Connection`]; time and randomness are inputs.
//!
//! ```text
//!              ┌──────────────────────── Connection ───────────────────────┐
//!  socket ───► │ recv(now, bytes) ─► handshake / frame decoder ─► Event    │ ───► caller
//!              │                          │ auto-pong, close echo          │
//!  caller ───► │ send_text / send_binary / ping / close ─► outbound queue  │
//!  socket ◄─── │ transmit() + advance_transmit(n)  ◄── whole masked frames │
//!  timer  ◄──► │ poll_timeout() / handle_timeout(now)                      │
//!              └───────────────────────────────────────────────────────────┘
//! ```
//!
//! - Input may arrive split at any byte. [`Connection::recv`] says how much it
//!   consumed; the caller passes the rest again with the next bytes. Payloads
//!   borrow from the input: the steady state copies nothing.
//! - Messages whole in one frame come as [`Event::Text`] / [`Event::Binary`];
//!   others stream as [`Event::Fragment`]s, which an [`Assembler`] over bounded
//!   storage joins for callers who want whole messages.
//! - Safe code throughout but three `unsafe` lines. Two turn a payload
//!   already checked into `&str` without a second pass: one checked to be
//!   ASCII (measured: 16-byte text decode from 331 to 140 instructions), one
//!   checked by the validator's state machine on 32-bit targets (which leaves
//!   `core::str::from_utf8` out of an ESP32's flash); see `utf8::validate`.
//!   The third (feature `std`, x86_64) calls the masking loop compiled for
//!   AVX2 once the CPU is known to have it; see [`mask`].
//! - Every violation of RFC 6455 by the server ends in a typed [`Error`] after
//!   the close frame with the right code is queued. Nothing panics, nothing
//!   grows: all storage is the caller's and bounded.
//! - Outbound frames are always masked with a fresh key from the caller's
//!   [`Random`] source and are queued whole or refused whole
//!   ([`SendError::Backpressure`]); a pong and the close frame always fit.
//!
//! Modules: [`url`] (`ws://` URLs), [`handshake`] (request and response),
//! [`frame`] (headers), [`mask`] (the masking hot path), [`utf8`] (incremental
//! validation), [`close`] (close codes), [`connection`] (the state machine),
//! [`assembler`] (whole messages), [`deflate`] (permessage-deflate, RFC 7692),
//! [`session`] (connection + buffers),
//! [`driver`] (the lifecycle of a set of connections, for transports),
//! [`redirect`] (handshake redirects, followed by the driver), [`tls`] (how
//! a transport's TLS layer names its failures), [`queue`] (the outbound queue), [`time`],
//! [`random`], [`error`].
#![no_std]
// Two measured conversions need `unsafe` (in `utf8::validate`: the ASCII fast
// path, and the 32-bit path that has no `from_utf8`), and one measured call
// (in `mask`: the AVX2 loop after the CPU check); each with its SAFETY
// comment and Miri-run tests. Everything else is safe code.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// `std` only for asking the CPU what it has (feature `std`), and in tests.
#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(all(feature = "alloc", feature = "deflate"))]
extern crate alloc;

#[cfg(test)]
mod test_config {
    /// Proptest settings for the unit tests: `cases` normally, a handful under
    /// Miri, and no failure files (Miri's isolation forbids the file system).
    pub(crate) fn proptest(cases: u32) -> proptest::prelude::ProptestConfig {
        proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 4 } else { cases },
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        }
    }
}

pub mod assembler;
pub mod buffer;
pub mod close;
pub mod connection;
pub mod deflate;
pub mod driver;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
pub mod queue;
pub mod random;
pub mod redirect;
pub mod session;
pub mod time;
pub mod tls;
pub mod url;
pub mod utf8;

pub use assembler::{AssembleError, Assembler, Message};
pub use buffer::Buffer;
#[cfg(feature = "alloc")]
pub use buffer::GrowableBuffer;
pub use close::CloseFrame;
pub use connection::{
    Config, Connection, DataKind, Event, Progress, Received, State, MIN_RECV_BUFFER,
};
pub use deflate::{Agreed, DeflateConfig, DeflateError};
pub use driver::{CommandError, ConnId, Driver, DriverConfig, OpenError, Transport};
pub use error::{Error, HandshakeError, ProtocolError, SendError, UrlError};
pub use handshake::HandshakeOptions;
pub use random::{Random, RandomError};
pub use session::{Disconnect, LinkEnd, LinkError, Session, SessionConfigError, SessionEvent};
pub use time::Instant;
pub use tls::TlsReason;
pub use url::Url;

#[cfg(feature = "rand_core")]
pub use random::RandCore;
