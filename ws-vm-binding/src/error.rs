//! [`ErrorCode`]: why the module's last call returned -1, as a number a
//! script or a C VM can branch on (the diagnostic text says the same in
//! words). Read it with [`crate::WsModule::last_error`] or `ws_last_error()`.

use core::fmt;

use ws_proto::SendError;

use crate::transport::CommandFailure;

/// Why the last call returned -1 (`ws_error` in C, same numbers).
///
/// [`ErrorCode::Backpressure`] is the only code that says "retry the same
/// call later"; [`ErrorCode::TooLarge`] says it will never succeed.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The last call succeeded.
    None = 0,
    /// The handle was never issued, was closed, or its connection ended for
    /// good.
    BadHandle = 1,
    /// The connection is not open (still connecting, or a reconnect is
    /// pending or under way).
    NotOpen = 2,
    /// The outbound buffer is full: retry on a later turn; the connection
    /// stays open.
    Backpressure = 3,
    /// The message is larger than the limit: it can never be sent (the
    /// diagnostic names the limit); the connection stays open.
    TooLarge = 4,
    /// An argument is invalid: a close code or reason, keepalive values,
    /// reconnect delays, open options, text that is not UTF-8, a null pointer.
    InvalidArgument = 5,
    /// `on` was given an event name other than "connected", "disconnected"
    /// and "message".
    UnknownEvent = 6,
    /// `on` was given an event type the VM does not declare, or whose
    /// fields (signature hash) do not fit the event.
    LayoutMismatch = 7,
    /// Every connection slot is in use.
    TooManyConnections = 8,
    /// `open` could not start: a bad URL (or `wss://` without TLS), the
    /// network is not ready, the handshake request could not be built.
    OpenFailed = 9,
    /// The transport refused the command for another reason (see the
    /// diagnostic).
    Transport = 10,
    /// C only: the module is not initialized (`ws_init` not called, or
    /// `ws_shutdown` since), or the configuration given to it is invalid.
    NotInitialized = 11,
}

impl ErrorCode {
    /// The number C sees (`WS_ERR_*`).
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The code of a refused transport command.
    pub(crate) fn of_command(e: CommandFailure) -> Self {
        match e {
            CommandFailure::UnknownConnection => ErrorCode::NotOpen,
            CommandFailure::Send(s) => match s {
                SendError::Backpressure => ErrorCode::Backpressure,
                SendError::TooLarge => ErrorCode::TooLarge,
                SendError::NotOpen | SendError::Closed => ErrorCode::NotOpen,
                SendError::ControlTooLong
                | SendError::InvalidCloseCode
                | SendError::ReasonTooLong
                | SendError::InvalidUtf8
                | SendError::InvalidHeader => ErrorCode::InvalidArgument,
                _ => ErrorCode::Transport,
            },
            _ => ErrorCode::Transport,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorCode::None => "no error",
            ErrorCode::BadHandle => "invalid or closed handle",
            ErrorCode::NotOpen => "connection not open",
            ErrorCode::Backpressure => "outbound buffer full, retry later",
            ErrorCode::TooLarge => "message over the size limit, it can never be sent",
            ErrorCode::InvalidArgument => "invalid argument",
            ErrorCode::UnknownEvent => "unknown event name",
            ErrorCode::LayoutMismatch => "event type does not fit the event",
            ErrorCode::TooManyConnections => "too many connections",
            ErrorCode::OpenFailed => "could not start the connection",
            ErrorCode::Transport => "refused by the transport",
            ErrorCode::NotInitialized => "module not initialized",
        })
    }
}
