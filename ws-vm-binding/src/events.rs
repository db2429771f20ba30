//! The events a handle can bind and the field layouts each accepts (checked
//! by signature hash), and how one event is emitted in its bound layout.
//!
//! | event          | layouts (v0.1 first, then extensions)                          |
//! |----------------|----------------------------------------------------------------|
//! | "connected"    | `conn:i32`; `conn:i32,protocol:string`                         |
//! | "disconnected" | `conn:i32`; `conn:i32,code:i32,reason:string`                  |
//! | "message"      | `message:string`, `conn:i32,message:string`; `message:bytes`, `conn:i32,message:bytes` |

use ws_proto::{Disconnect, Message};

use crate::hash::{
    BYTES_SIGNATURE, CONN_BYTES_SIGNATURE, CONN_CODE_REASON_SIGNATURE, CONN_MESSAGE_SIGNATURE,
    CONN_PROTOCOL_SIGNATURE, CONN_SIGNATURE, MESSAGE_SIGNATURE,
};
use crate::host::{EventType, Host, Value};

/// The close code reported when no close frame arrived (RFC 6455 7.1.5).
pub const ABNORMAL_CLOSE: u16 = 1006;
/// The close code reported for a close frame without a status.
pub const NO_STATUS: u16 = 1005;

/// The event names `ws.on` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventName {
    Connected,
    Disconnected,
    Message,
}

impl EventName {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name {
            "connected" => Some(EventName::Connected),
            "disconnected" => Some(EventName::Disconnected),
            "message" => Some(EventName::Message),
            _ => None,
        }
    }

    /// The layouts this event accepts, in words (for diagnostics).
    pub(crate) fn accepted(self) -> &'static str {
        match self {
            EventName::Connected => "{ conn: i32 } or { conn: i32, protocol: string }",
            EventName::Disconnected => {
                "{ conn: i32 } or { conn: i32, code: i32, reason: string }"
            }
            EventName::Message => {
                "{ message: string }, { conn: i32, message: string }, { message: bytes } or { conn: i32, message: bytes }"
            }
        }
    }

    /// The layout of an event type with signature `hash`, if it fits.
    pub(crate) fn layout(self, hash: u32) -> Option<Layout> {
        Some(match (self, hash) {
            (EventName::Connected | EventName::Disconnected, CONN_SIGNATURE) => Layout::Conn,
            (EventName::Connected, CONN_PROTOCOL_SIGNATURE) => Layout::ConnProtocol,
            (EventName::Disconnected, CONN_CODE_REASON_SIGNATURE) => Layout::ConnCodeReason,
            (EventName::Message, MESSAGE_SIGNATURE) => Layout::Message,
            (EventName::Message, CONN_MESSAGE_SIGNATURE) => Layout::ConnMessage,
            (EventName::Message, BYTES_SIGNATURE) => Layout::Bytes,
            (EventName::Message, CONN_BYTES_SIGNATURE) => Layout::ConnBytes,
            _ => return None,
        })
    }
}

/// Which fields a bound event type has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// `conn: i32`.
    Conn,
    /// `conn: i32, protocol: string`.
    ConnProtocol,
    /// `conn: i32, code: i32, reason: string`.
    ConnCodeReason,
    /// `message: string`.
    Message,
    /// `conn: i32, message: string`.
    ConnMessage,
    /// `message: bytes`.
    Bytes,
    /// `conn: i32, message: bytes`.
    ConnBytes,
}

/// An event name bound to a VM event type with a checked layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) event_type: EventType,
    pub(crate) layout: Layout,
}

/// Emits "connected" (`protocol`: the server's choice, "" for none).
pub(crate) fn connected<H: Host>(host: &mut H, b: Option<Binding>, conn: i32, protocol: &str) {
    match b {
        Some(
            b @ Binding {
                layout: Layout::ConnProtocol,
                ..
            },
        ) => {
            host.emit(b.event_type, &[Value::I32(conn), Value::Str(protocol)]);
        }
        Some(b) => host.emit(b.event_type, &[Value::I32(conn)]),
        None => {}
    }
}

/// Emits "disconnected" with the close code and reason.
pub(crate) fn disconnected<H: Host>(
    host: &mut H,
    b: Option<Binding>,
    conn: i32,
    code: u16,
    reason: &str,
) {
    match b {
        Some(
            b @ Binding {
                layout: Layout::ConnCodeReason,
                ..
            },
        ) => host.emit(
            b.event_type,
            &[
                Value::I32(conn),
                Value::I32(i32::from(code)),
                Value::Str(reason),
            ],
        ),
        Some(b) => host.emit(b.event_type, &[Value::I32(conn)]),
        None => {}
    }
}

/// Emits "message" in its layout: text as a string or as bytes, binary as
/// bytes; a binary message bound as a string is dropped with a diagnostic.
pub(crate) fn message<H: Host>(host: &mut H, b: Option<Binding>, conn: i32, m: Message<'_>) {
    let Some(b) = b else {
        if let Message::Binary(data) = m {
            dropped_binary(host, conn, data.len());
        }
        return;
    };
    let payload = match m {
        Message::Text(t) => match b.layout {
            Layout::Bytes | Layout::ConnBytes => Value::Bytes(t.as_bytes()),
            _ => Value::Str(t),
        },
        Message::Binary(data) => match b.layout {
            Layout::Bytes | Layout::ConnBytes => Value::Bytes(data),
            _ => return dropped_binary(host, conn, data.len()),
        },
    };
    match b.layout {
        Layout::ConnMessage | Layout::ConnBytes => {
            host.emit(b.event_type, &[Value::I32(conn), payload]);
        }
        _ => host.emit(b.event_type, &[payload]),
    }
}

fn dropped_binary<H: Host>(host: &mut H, conn: i32, len: usize) {
    let msg = format!(
        "ws: binary message of {len} bytes on {conn} dropped (\"message\" is not bound as message:bytes)"
    );
    host.diagnostic(&msg);
}

/// The close code and reason "disconnected" reports for how a connection
/// ended: the server's close frame; the code this side sent when it failed
/// the connection (1011 for a keepalive timeout, 1009 for a message over
/// the limit, ...); otherwise 1006 and the link error's text.
pub(crate) fn ending(reason: &Disconnect<'_>) -> (u16, String) {
    match reason {
        Disconnect::Clean(frame) => (frame.code.unwrap_or(NO_STATUS), frame.reason.to_owned()),
        Disconnect::Error(e) => (e.close_code_sent().unwrap_or(ABNORMAL_CLOSE), e.to_string()),
        Disconnect::Link(e) => (ABNORMAL_CLOSE, e.to_string()),
        Disconnect::Local => (ABNORMAL_CLOSE, reason.to_string()),
        Disconnect::Redirect(r) => (ABNORMAL_CLOSE, r.to_string()),
    }
}
