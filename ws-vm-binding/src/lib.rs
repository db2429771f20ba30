//! The scripting VM's `ws` module (document `ws-module-v0.1`), over the
//! sans-IO core `ws-proto` and a non-blocking transport.
//!
//! - [`WsModule`] holds the module's functions, named after the document
//!   (`open`, `close`, `send`, `on`, `set_auto_reconnect`,
//!   `set_reconnect_delays`, `state`, `ping`, `set_timeout`), the
//!   extensions (`open_with`, `close_with`, `send_binary`, `set_keepalive`,
//!   `last_error`) plus [`WsModule::tick`], which the VM's event loop calls
//!   every turn (`runtime.keepAlive()`). The reference of every function,
//!   event, layout, limit and error is `docs/ws-module.md` in the
//!   repository.
//! - The VM supplies a [`Host`]: the signature hash of its event types, event
//!   delivery and a diagnostic channel.
//! - Connections come from a [`Transport`]: `ws_transport_std::Client`
//!   (feature `std`) and `ws_transport_esp::EspClient` (feature `esp`, with
//!   [`ModuleConfig::esp32`]) implement it, both on by default; so can a test
//!   double.
//! - Feature `capi`: the same module behind `extern "C"` functions for a VM
//!   written in C (`include/ws_module.h`, static library `libws_vm_binding.a`).
//!
//! ```text
//!   script ─ ws.open/send/on/... ─► WsModule ─► Transport ─► sockets
//!   event loop ─ tick(now) ───────► WsModule ◄─ SessionEvent (whole messages)
//!                                      └──► Host::emit(event type, fields)
//! ```
//!
//! Handles are `i32`, -1 on error, at most 16 live (2 with
//! [`ModuleConfig::esp32`]); each carries a generation, so a closed handle
//! never reaches a newer connection, and generations come from one counter
//! per process, so handles are unique across module restarts. Event fields
//! are checked by signature hash ([`signature_hash`]): "connected" takes
//! `{ conn: i32 }` or `{ conn: i32, protocol: string }`, "disconnected"
//! `{ conn: i32 }` or `{ conn: i32, code: i32, reason: string }`, "message"
//! `{ message: string }`, `{ conn: i32, message: string }`, `{ message:
//! bytes }` or `{ conn: i32, message: bytes }`. After a -1,
//! [`WsModule::last_error`] gives the [`ErrorCode`]; keepalive is on by
//! default (20 s / 20 s). Events belong to a handle, so the
//! document's "register before or after `open()`" means: right after `open`
//! returned the handle (nothing is emitted before the next `tick`), or later.
//!
//! ```
//! use ws_vm_binding::{CONN_SIGNATURE, fnv1a32};
//! assert_eq!(CONN_SIGNATURE, fnv1a32(b"conn:i32"));
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod error;
mod events;
pub mod hash;
pub mod host;
pub mod module;
pub mod options;
pub mod transport;

#[cfg(feature = "capi")]
pub mod capi;

#[cfg(test)]
mod tests;

pub use error::ErrorCode;
pub use events::{ABNORMAL_CLOSE, NO_STATUS};
pub use hash::{
    fnv1a32, signature_hash, BYTES_SIGNATURE, CONN_BYTES_SIGNATURE, CONN_CODE_REASON_SIGNATURE,
    CONN_MESSAGE_SIGNATURE, CONN_PROTOCOL_SIGNATURE, CONN_SIGNATURE, MESSAGE_SIGNATURE,
};
pub use host::{EventType, Host, Value};
pub use module::{
    HandleState, ModuleConfig, WsModule, CLOSE_CODE, DEFAULT_DELAY_MS, DEFAULT_KEEPALIVE_MS,
    ESP32_MAX_CONNECTIONS, HOST_MAX_CONNECTIONS, MAX_CLOSE_REASON, MAX_DELAYS, MAX_KEEPALIVE_S,
    MIN_DELAY_MS,
};
pub use options::{OpenOptions, MAX_HEADERS, MAX_OPTIONS_BYTES, MAX_PROTOCOLS};
pub use transport::{CommandFailure, OpenFailure, Transport};
