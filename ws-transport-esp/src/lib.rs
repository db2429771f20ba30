//! A WebSocket client transport over `embedded-nal`: ESP32 (lwIP) and any
//! other `no_std` TCP stack, with no allocator.
//!
//! [`EspClient`] executes the actions of a [`ws_proto::Driver`] on a stack
//! that implements [`embedded_nal::TcpClientStack`] + [`embedded_nal::Dns`].
//! The driver decides everything about a connection's life (resolve,
//! connect, handshake, timers, the TCP close policy, linger, fairness); this
//! crate makes the socket calls and maps their `nb` results. Those calls
//! return at once or say `WouldBlock`, so nothing here ever waits: DNS,
//! connect, handshake, frames and the close handshake all advance from
//! [`EspClient::poll`], which the caller's event loop calls every turn.
//!
//! ```text
//!   caller ── open / send_text / send_binary / ping / close ──► EspClient ──► Driver
//!   caller ◄──────────── poll(now) -> (ConnId, SessionEvent) ◄──┘  │ CONNS slots of
//!   TcpClientStack + Dns ◄── get_host_by_name / socket / connect ──┤ Session<[u8;TX],[u8;RX],[u8;MSG]>
//!                        ◄── send / receive / close ◄── actions ───┘
//! ```
//!
//! - Storage is chosen by the caller at compile time: `CONNS` connections, each
//!   with an `RX`-byte receive buffer, a `TX`-byte outbound queue and an
//!   `MSG`-byte assembler (the largest whole message; a larger one fails the
//!   connection with close code 1009). With [`ClientConfig::streaming`],
//!   messages come in pieces ([`ws_proto::SessionEvent::Fragment`]) and `MSG`
//!   can be 0.
//! - [`NetworkReady`] says whether the station has an IP: until it does,
//!   [`EspClient::open`] is refused with [`OpenError::NetworkDown`] and nothing
//!   is allocated; when it loses it, open connections end with
//!   `Disconnect::Link(LinkError::NetworkDown)`.
//! - Randomness (the handshake key and every mask key, RFC 6455 section 5.3)
//!   comes from the caller's [`ws_proto::Random`]: the hardware RNG on an ESP32.
//! - IP literals (`ws://192.168.1.10:8080/`, `ws://[::1]/`) skip DNS.
//! - `embedded-nal` has no half-close: where the driver asks for a TCP
//!   shutdown, the socket stays as it is until the server closes or the
//!   linger time ends.
//!
//! With the feature `async`, `AsyncClient` executes the same driver over
//! `embedded-io-async` streams from `embedded-nal-async`'s `TcpConnect` and
//! `Dns`: embassy-net's `TcpClient` and `DnsSocket` on esp-hal, as they are.
//!
//! Host tests drive both against a real server: `EspClient` through
//! `std-embedded-nal`, `AsyncClient` through tokio.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "async")]
mod asynch;
mod client;
mod config;
mod nb;
#[cfg(feature = "async")]
mod stream;

#[cfg(feature = "async")]
pub use asynch::{AsyncClient, AsyncDriver};
pub use client::{slot_size, EspClient, EspSlot, EspSlots};
pub use config::{AlwaysReady, ClientConfig, NetworkReady};
pub use ws_proto::driver::Slot;
pub use ws_proto::{CommandError, ConnId, OpenError, Transport};
