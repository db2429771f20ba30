//! `ws.openWith(url, options)`: the extra handshake headers and the
//! subprotocols a script offers, checked whole (so a bad entry is a clear -1,
//! not a handshake that fails later) and copied, so every auto-reconnect
//! offers the same. Bounded: at most [`MAX_HEADERS`] headers,
//! [`MAX_PROTOCOLS`] subprotocols and [`MAX_OPTIONS_BYTES`] bytes in all.

use ws_proto::handshake::{is_reserved_header, is_token, is_valid_header_value};
use ws_proto::HandshakeOptions;

/// The most extra headers `openWith` takes.
pub const MAX_HEADERS: usize = 32;
/// The most subprotocols `openWith` offers.
pub const MAX_PROTOCOLS: usize = 16;
/// The most bytes of header names, values and subprotocols together.
pub const MAX_OPTIONS_BYTES: usize = 8 << 10;

/// What `ws.openWith` adds to the opening handshake (an extension of v0.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions<'a> {
    /// Extra header lines as `(name, value)`, e.g. `("Authorization",
    /// "Bearer ...")`. Names are RFC 7230 tokens and not one the client sets
    /// itself; values hold no control characters (CR, LF, NUL, ...).
    pub headers: &'a [(&'a str, &'a str)],
    /// Subprotocols to offer (`Sec-WebSocket-Protocol`), in order of
    /// preference; each an RFC 7230 token. The server's choice is reported
    /// by "connected" bound as `conn:i32,protocol:string`.
    pub protocols: &'a [&'a str],
}

/// Checked options, owned by a handle for its reconnects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct OwnedOptions {
    headers: Vec<(String, String)>,
    protocols: Vec<String>,
}

impl OwnedOptions {
    /// Checks `options` and copies them, or says what is wrong.
    pub(crate) fn check(options: &OpenOptions<'_>) -> Result<Self, String> {
        if options.headers.len() > MAX_HEADERS {
            return Err(format!(
                "{} headers given, at most {MAX_HEADERS}",
                options.headers.len()
            ));
        }
        if options.protocols.len() > MAX_PROTOCOLS {
            return Err(format!(
                "{} subprotocols given, at most {MAX_PROTOCOLS}",
                options.protocols.len()
            ));
        }
        let total = options
            .headers
            .iter()
            .map(|(n, v)| n.len().saturating_add(v.len()))
            .chain(options.protocols.iter().map(|p| p.len()))
            .fold(0usize, usize::saturating_add);
        if total > MAX_OPTIONS_BYTES {
            return Err(format!(
                "options of {total} bytes, at most {MAX_OPTIONS_BYTES}"
            ));
        }
        for (i, (name, value)) in options.headers.iter().enumerate() {
            if !is_token(name) {
                return Err(format!(
                    "header {i} name {name:?} is not a token (letters, digits, !#$%&'*+-.^_`|~)"
                ));
            }
            if is_reserved_header(name) {
                return Err(format!("header {name:?} is set by the client itself"));
            }
            if !is_valid_header_value(value) {
                return Err(format!(
                    "header {name:?} value holds a control character (CR, LF, NUL, ...)"
                ));
            }
        }
        for (i, p) in options.protocols.iter().enumerate() {
            if !is_token(p) {
                return Err(format!("subprotocol {i} {p:?} is not a token"));
            }
        }
        Ok(OwnedOptions {
            headers: options
                .headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            protocols: options.protocols.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    /// Calls `f` with these options as the core's [`HandshakeOptions`].
    pub(crate) fn with<R>(&self, f: impl FnOnce(&HandshakeOptions<'_>) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let protocols: Vec<&str> = self.protocols.iter().map(String::as_str).collect();
        f(&HandshakeOptions {
            protocols: &protocols,
            headers: &headers,
        })
    }
}
