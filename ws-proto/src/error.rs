//! Error types.
//!
//! As h11 does, the peer's violations ([`ProtocolError`], [`HandshakeError`]) are
//! kept apart from the caller's misuse ([`SendError`], [`UrlError`]). A protocol
//! error carries the close code the connection sent; after it the connection is
//! closed but still hands out its close frame through `poll_transmit`.

use core::fmt;

use crate::random::RandomError;

/// The server broke RFC 6455 framing rules. The connection queued a close frame
/// with [`ProtocolError::close_code`] and is now closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An RSV bit was set with no extension negotiated, or RSV1 where
    /// permessage-deflate does not allow it: on a continuation or control
    /// frame (1002).
    ReservedBits,
    /// A reserved opcode (1002).
    UnknownOpcode,
    /// The server masked a frame (1002).
    MaskedFrame,
    /// A control frame with a payload over 125 bytes (1002).
    ControlFrameTooLong,
    /// A control frame without FIN (1002).
    FragmentedControlFrame,
    /// A continuation frame with no message in progress (1002).
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was in progress (1002).
    ExpectedContinuation,
    /// A 64-bit payload length with the most significant bit set (1002).
    LengthOverflow,
    /// A close frame with a 1-byte payload (1002).
    InvalidClosePayload,
    /// A close code that may not be sent (1002).
    InvalidCloseCode,
    /// A close reason that is not UTF-8 (1007).
    InvalidCloseReason,
    /// A text message that is not UTF-8 (1007).
    InvalidUtf8,
    /// A message over the configured size limit (1009); for a compressed
    /// message, its inflated size.
    MessageTooBig,
    /// A compressed message that is not valid DEFLATE data (1007).
    InvalidCompressedData,
}

impl ProtocolError {
    /// The close code this error sends.
    pub const fn close_code(self) -> u16 {
        match self {
            ProtocolError::InvalidCloseReason
            | ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCompressedData => 1007,
            ProtocolError::MessageTooBig => 1009,
            _ => 1002,
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            ProtocolError::ReservedBits => "RSV bit set without a negotiated extension",
            ProtocolError::UnknownOpcode => "reserved opcode",
            ProtocolError::MaskedFrame => "masked frame from the server",
            ProtocolError::ControlFrameTooLong => "control frame payload over 125 bytes",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnexpectedContinuation => "continuation frame with no message started",
            ProtocolError::ExpectedContinuation => "new data frame inside a fragmented message",
            ProtocolError::LengthOverflow => "64-bit payload length with the top bit set",
            ProtocolError::InvalidClosePayload => "close frame payload of 1 byte",
            ProtocolError::InvalidCloseCode => "invalid close code",
            ProtocolError::InvalidCloseReason => "close reason is not UTF-8",
            ProtocolError::InvalidUtf8 => "text message is not UTF-8",
            ProtocolError::MessageTooBig => "message over the size limit",
            ProtocolError::InvalidCompressedData => "compressed message is not valid DEFLATE",
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (closed with {})", self.describe(), self.close_code())
    }
}

impl core::error::Error for ProtocolError {}

/// The server's handshake response was not a valid WebSocket upgrade
/// (RFC 6455 section 4.2.2 / 4.1 client requirements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The status was not 101; the code is the server's. (Through the
    /// driver, a redirect with a `Location` is followed, or ends as
    /// [`crate::Disconnect::Redirect`].)
    Status(u16),
    /// Not a parseable HTTP/1.1 response.
    Malformed,
    /// The response header is longer than the configured limit.
    HeaderTooLarge,
    /// More header lines than the parser has room for.
    TooManyHeaders,
    /// `Upgrade: websocket` is missing or different.
    Upgrade,
    /// `Connection: upgrade` is missing or different.
    Connection,
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    Accept,
    /// The server accepted an extension the client did not offer.
    Extension,
    /// The server chose a subprotocol the client did not offer, or several.
    Protocol,
    /// The server's permessage-deflate answer cannot be accepted.
    Deflate(crate::deflate::DeflateError),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Status(s) => write!(f, "handshake rejected with HTTP status {s}"),
            HandshakeError::Malformed => f.write_str("malformed HTTP response"),
            HandshakeError::HeaderTooLarge => f.write_str("response header too large"),
            HandshakeError::TooManyHeaders => f.write_str("too many response headers"),
            HandshakeError::Upgrade => f.write_str("missing or wrong Upgrade header"),
            HandshakeError::Connection => f.write_str("missing or wrong Connection header"),
            HandshakeError::Accept => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            HandshakeError::Extension => f.write_str("server accepted an extension not offered"),
            HandshakeError::Protocol => f.write_str("server chose a subprotocol not offered"),
            HandshakeError::Deflate(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for HandshakeError {}

/// What stopped a connection. Returned by [`crate::Connection::recv`],
/// [`crate::Connection::handle_timeout`] and [`crate::Connection::handle_eof`];
/// after any of these the connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The opening handshake failed.
    Handshake(HandshakeError),
    /// The server broke the protocol; a close frame with the code is queued.
    Protocol(ProtocolError),
    /// No handshake response before the configured timeout.
    HandshakeTimeout,
    /// The server did not answer our close frame before the configured timeout.
    CloseTimeout,
    /// The transport reached end of stream before the close handshake
    /// (`mid_frame`: inside a frame or a fragmented message).
    UnexpectedEof {
        /// Whether the stream ended inside a frame or message.
        mid_frame: bool,
    },
    /// The random source failed while a pong or close frame was due; the
    /// connection closed without sending it.
    Random,
    /// Keepalive: nothing at all arrived within the pong timeout after a
    /// ping; a close frame with 1011 was queued and the link is released
    /// at once (the peer is presumed gone).
    KeepaliveTimeout,
}

impl Error {
    /// The close code sent to the server for this error, if one was sent.
    pub const fn close_code_sent(&self) -> Option<u16> {
        match self {
            Error::Protocol(p) => Some(p.close_code()),
            Error::KeepaliveTimeout => Some(crate::close::INTERNAL_ERROR),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::HandshakeTimeout => f.write_str("handshake timed out"),
            Error::CloseTimeout => f.write_str("close handshake timed out"),
            Error::UnexpectedEof { mid_frame: true } => f.write_str("connection lost mid-frame"),
            Error::UnexpectedEof { mid_frame: false } => {
                f.write_str("connection lost without a close handshake")
            }
            Error::Random => f.write_str("random source failed"),
            Error::KeepaliveTimeout => f.write_str("no answer to the keepalive ping"),
        }
    }
}

impl core::error::Error for Error {}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

/// A command the connection refused. Nothing was queued; the connection is
/// unchanged (none of these closes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// The outbound queue has no room for this frame now; retry after
    /// `poll_transmit` drained some. The connection stays open.
    Backpressure,
    /// The frame can never fit the outbound queue (its capacity is too small).
    TooLarge,
    /// The handshake has not completed yet.
    NotOpen,
    /// `close` was called or the connection ended; no more messages.
    Closed,
    /// A ping payload over 125 bytes.
    ControlTooLong,
    /// A close code that may not be sent (see [`crate::close::is_valid_code`]).
    InvalidCloseCode,
    /// A close reason over 123 bytes.
    ReasonTooLong,
    /// A fragment of one kind while a message of the other kind is in progress.
    FragmentKind,
    /// A whole message while a fragmented one is still in progress.
    FragmentInProgress,
    /// Text fragments that are not valid UTF-8.
    InvalidUtf8,
    /// The random source failed, so no mask key could be drawn.
    Random(RandomError),
    /// The handshake request does not fit the outbound queue.
    RequestTooLarge,
    /// A subprotocol or header name/value that would break the request
    /// (not a token, CR or LF in a value, or a header the client sets itself).
    InvalidHeader,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Backpressure => "outbound queue full, retry later",
            SendError::TooLarge => "frame larger than the outbound queue",
            SendError::NotOpen => "connection not open yet",
            SendError::Closed => "connection closing or closed",
            SendError::ControlTooLong => "control payload over 125 bytes",
            SendError::InvalidCloseCode => "close code may not be sent",
            SendError::ReasonTooLong => "close reason over 123 bytes",
            SendError::FragmentKind => "fragment kind differs from the message in progress",
            SendError::FragmentInProgress => "a fragmented message is in progress",
            SendError::InvalidUtf8 => "text is not valid UTF-8",
            SendError::Random(_) => "random source failed",
            SendError::RequestTooLarge => "handshake request larger than the outbound queue",
            SendError::InvalidHeader => "invalid subprotocol or header",
        })
    }
}

impl core::error::Error for SendError {}

impl From<RandomError> for SendError {
    fn from(e: RandomError) -> Self {
        SendError::Random(e)
    }
}

/// A URL the client cannot connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` prefix.
    MissingScheme,
    /// A scheme other than `ws` or `wss`.
    UnsupportedScheme,
    /// `wss://` where the transport has no TLS.
    TlsUnsupported,
    /// `user:pass@` is not allowed in a WebSocket URL.
    UserInfo,
    /// No host.
    EmptyHost,
    /// A host with characters outside a DNS name or an IP literal.
    InvalidHost,
    /// A port that is not a number in 1..=65535.
    InvalidPort,
    /// A `#fragment` (RFC 6455 section 3 forbids it).
    Fragment,
    /// A path or query with spaces, control or non-ASCII characters.
    InvalidPath,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::MissingScheme => "URL has no scheme (expected ws://)",
            UrlError::UnsupportedScheme => "URL scheme is not ws or wss",
            UrlError::TlsUnsupported => "wss:// is not supported by this transport",
            UrlError::UserInfo => "URL may not contain user info",
            UrlError::EmptyHost => "URL has no host",
            UrlError::InvalidHost => "URL host is invalid",
            UrlError::InvalidPort => "URL port is invalid",
            UrlError::Fragment => "URL may not contain a #fragment",
            UrlError::InvalidPath => "URL path has characters that must be percent-encoded",
        })
    }
}

impl core::error::Error for UrlError {}
