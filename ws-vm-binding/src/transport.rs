//! The [`Transport`] the module drives: `ws_proto`'s one trait, which
//! `ws_transport_std::Client` and `ws_transport_esp`'s clients implement
//! directly over the sans-IO driver (no adapters here).
//!
//! [`OpenFailure`] and [`CommandFailure`] are the driver's [`OpenError`] and
//! [`CommandError`] under the names this crate has used since v0.1.

pub use ws_proto::driver::{CommandError, OpenError, Transport};

/// The transport could not start a connection; nothing was opened.
pub type OpenFailure = OpenError;

/// A command on a connection was refused; the connection is unchanged.
pub type CommandFailure = CommandError;
