//! The opening handshake (RFC 6455 section 4): the client's request and the
//! checks on the server's response.
//!
//! [`write_request`] writes the `GET` request into a caller's buffer;
//! [`parse_response`] reads the response with `httparse` once it is complete
//! ("need more bytes" is `Ok(None)`, not an error) and returns how long its
//! header was, so the bytes after it, which are already frames, are not lost.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::deflate::negotiate::Negotiation;
use crate::deflate::{Agreed, DeflateConfig};
use crate::error::{HandshakeError, SendError};
use crate::url::Url;

/// The GUID of RFC 6455 section 1.3, appended to the key before hashing.
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Length of a base64-encoded 16-byte `Sec-WebSocket-Key`.
pub const KEY_LEN: usize = 24;

/// Length of a `Sec-WebSocket-Accept` value (base64 of a SHA-1 digest).
pub const ACCEPT_LEN: usize = 28;

/// How many response header lines the parser has room for.
pub const MAX_RESPONSE_HEADERS: usize = 32;

/// What the client adds to its handshake request beyond the required headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandshakeOptions<'a> {
    /// Subprotocols to offer, in order of preference (`Sec-WebSocket-Protocol`).
    pub protocols: &'a [&'a str],
    /// Extra header lines, e.g. `("Origin", "http://example.com")`.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Where the parts the response is checked against sit in a written request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLayout {
    /// Total length of the request.
    pub len: usize,
    /// Offset of the 24-byte base64 `Sec-WebSocket-Key` value.
    pub key_at: usize,
    /// Byte range of the offered subprotocol list (empty when none).
    pub protocols: (usize, usize),
    /// Byte range of the host in the `Host` header: the name to resolve, or
    /// the IP literal without brackets and port.
    pub host: (usize, usize),
}

/// Base64 of the 16-byte nonce, as sent in `Sec-WebSocket-Key`.
pub fn encode_key(nonce: &[u8; 16]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    // 16 bytes always encode to exactly 24 characters.
    base64_into(nonce, &mut out);
    out
}

/// The `Sec-WebSocket-Accept` value the server must answer `key` with:
/// base64(SHA-1(key ++ GUID)).
///
/// ```
/// // RFC 6455 section 1.3.
/// let accept = ws_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
/// assert_eq!(&accept, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; ACCEPT_LEN] {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let mut out = [0u8; ACCEPT_LEN];
    // 20 bytes always encode to exactly 28 characters.
    base64_into(&sha.digest().bytes(), &mut out);
    out
}

/// Standard base64 (with padding) of `input` into the start of `out`, which
/// has room for it (nothing is written otherwise).
///
/// The one call of the encoder in the crate, so a program has one copy of
/// it (the ESP32 client program had two: 134 bytes of flash more).
#[inline(never)]
fn base64_into(input: &[u8], out: &mut [u8]) {
    let _ = BASE64.encode_slice(input, out);
}

/// A bounded writer over a byte slice. Past the end it is spent: nothing
/// more is written, and [`end`](Self::end) says so once for the whole
/// request (a check after every piece cost about 10 bytes of code each on
/// the ESP32).
pub(crate) struct Writer<'a> {
    pub(crate) buf: &'a mut [u8],
    /// Bytes written so far; `usize::MAX` once spent.
    pub(crate) at: usize,
}

impl Writer<'_> {
    /// Appends `bytes`, or spends the writer if they do not fit.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        match self
            .buf
            .get_mut(self.at..)
            .and_then(|b| b.get_mut(..bytes.len()))
        {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.at += bytes.len();
            }
            None => self.at = usize::MAX,
        }
    }

    /// Appends `n` in decimal, or spends the writer.
    pub(crate) fn push_u16(&mut self, mut n: u16) {
        let mut digits = [0u8; 5];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    /// The length written, unless the writer is spent.
    pub(crate) fn end(&self) -> Result<usize, SendError> {
        match self.at {
            usize::MAX => Err(SendError::RequestTooLarge),
            at => Ok(at),
        }
    }

    /// [`push`](Self::push), checked at once.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.push(bytes);
        self.end().map(drop)
    }

    /// [`push_u16`](Self::push_u16), checked at once.
    pub(crate) fn put_u16(&mut self, n: u16) -> Result<(), SendError> {
        self.push_u16(n);
        self.end().map(drop)
    }
}

/// Whether `s` is an RFC 7230 `token` (what header names and subprotocol
/// names must be): letters, digits and ``!#$%&'*+-.^_`|~``, not empty.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether `name` is a header the client writes itself (compared without
/// case), which a caller may not set.
pub fn is_reserved_header(name: &str) -> bool {
    RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Whether `value` can be a header value: no control character but tab
/// (CR, LF or NUL would end or inject lines).
pub fn is_valid_header_value(value: &str) -> bool {
    !value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Header names the client writes itself; a caller may not repeat them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Writes the handshake request for `url` with the base64 `key` into `out`.
///
/// # Errors
///
/// [`SendError::RequestTooLarge`] if `out` is too short, and
/// [`SendError::InvalidHeader`] for a subprotocol that is not a token, a header
/// name that is not a token or is one the client sets itself, or a header value
/// with CR, LF or another control character (which would inject lines).
pub fn write_request(
    out: &mut [u8],
    url: &Url<'_>,
    key: &[u8; KEY_LEN],
    opts: &HandshakeOptions<'_>,
) -> Result<RequestLayout, SendError> {
    write_request_with(out, url, key, opts, None)
}

/// [`write_request`] with a `Sec-WebSocket-Extensions` value (the
/// permessage-deflate offer, see [`crate::deflate::negotiate::write_offer`]).
///
/// # Errors
///
/// As [`write_request`].
pub fn write_request_with(
    out: &mut [u8],
    url: &Url<'_>,
    key: &[u8; KEY_LEN],
    opts: &HandshakeOptions<'_>,
    extensions: Option<&[u8]>,
) -> Result<RequestLayout, SendError> {
    if !opts.protocols.iter().all(|p| is_token(p)) {
        return Err(SendError::InvalidHeader);
    }
    for (name, value) in opts.headers {
        if is_reserved_header(name) || !is_token(name) || !is_valid_header_value(value) {
            return Err(SendError::InvalidHeader);
        }
    }
    let (at, host) = write_request_start(out, url)?;
    let mut w = Writer { buf: out, at };
    w.push(b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    let key_at = w.at;
    w.push(key);
    w.push(b"\r\nSec-WebSocket-Version: 13\r\n");
    let mut protocols = (0, 0);
    if !opts.protocols.is_empty() {
        w.push(b"Sec-WebSocket-Protocol: ");
        let start = w.at;
        for (i, p) in opts.protocols.iter().enumerate() {
            if i > 0 {
                w.push(b", ");
            }
            w.push(p.as_bytes());
        }
        protocols = (start, w.at);
        w.push(b"\r\n");
    }
    if let Some(ext) = extensions {
        w.push(b"Sec-WebSocket-Extensions: ");
        w.push(ext);
        w.push(b"\r\n");
    }
    for (name, value) in opts.headers {
        w.push(name.as_bytes());
        w.push(b": ");
        w.push(value.as_bytes());
        w.push(b"\r\n");
    }
    w.push(b"\r\n");
    Ok(RequestLayout {
        len: w.end()?,
        key_at,
        protocols,
        host,
    })
}

/// Writes the start of the request for `url` (the request line and the
/// `Host` line) into `out`; returns its length and the host's span (as in
/// [`RequestLayout::host`]). A redirect rewrites only this part.
pub(crate) fn write_request_start(
    out: &mut [u8],
    url: &Url<'_>,
) -> Result<(usize, (usize, usize)), SendError> {
    let mut w = Writer { buf: out, at: 0 };
    w.push(b"GET ");
    if url.resource.starts_with('?') {
        w.push(b"/");
    }
    w.push(url.resource.as_bytes());
    w.push(b" HTTP/1.1\r\nHost: ");
    if url.ipv6 {
        w.push(b"[");
    }
    let host_at = w.at;
    w.push(url.host.as_bytes());
    let host = (host_at, w.at);
    if url.ipv6 {
        w.push(b"]");
    }
    if !url.default_port() {
        w.push(b":");
        w.push_u16(url.port);
    }
    w.push(b"\r\n");
    Ok((w.end()?, host))
}

/// A valid `101 Switching Protocols` response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response<'i> {
    /// The length of the response header; frames start right after it.
    pub header_len: usize,
    /// The subprotocol the server chose, if any.
    pub protocol: Option<&'i str>,
    /// The permessage-deflate parameters agreed, if the server accepted it.
    pub deflate: Option<Agreed>,
}

/// Parses and checks the server's handshake response.
///
/// `key` is the base64 key that was sent, `offered` the comma-separated
/// subprotocol list that was offered (empty for none), `max_header` the longest
/// response header accepted.
///
/// Returns `Ok(None)` while the header is incomplete.
///
/// # Errors
///
/// A [`HandshakeError`] for a status other than 101, a malformed or oversized
/// header, a missing or wrong `Upgrade`, `Connection` or `Sec-WebSocket-Accept`,
/// any extension (none is offered), or a subprotocol that was not offered.
///
/// # Warning
///
/// The server controls the header's length: `max_header` bounds it.
///
/// ```
/// use ws_proto::handshake::parse_response;
/// let resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
/// let r = parse_response(resp, b"dGhlIHNhbXBsZSBub25jZQ==", b"", 4096).unwrap().unwrap();
/// assert_eq!(&resp[r.header_len..], b"\x81\x00");
/// assert_eq!(parse_response(&resp[..20], b"dGhlIHNhbXBsZSBub25jZQ==", b"", 4096), Ok(None));
/// ```
pub fn parse_response<'i>(
    input: &'i [u8],
    key: &[u8],
    offered: &[u8],
    max_header: usize,
) -> Result<Option<Response<'i>>, HandshakeError> {
    parse_response_with(input, key, offered, max_header, None)
}

/// [`parse_response`] after a permessage-deflate `offer`: the server's
/// `Sec-WebSocket-Extensions` answer is checked against it.
///
/// # Errors
///
/// As [`parse_response`]; [`HandshakeError::Extension`] for an extension
/// not offered, [`HandshakeError::Deflate`] for a permessage-deflate answer
/// the client cannot accept.
pub fn parse_response_with<'i>(
    input: &'i [u8],
    key: &[u8],
    offered: &[u8],
    max_header: usize,
    offer: Option<DeflateConfig>,
) -> Result<Option<Response<'i>>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_RESPONSE_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    // Only the first `max_header` bytes can hold the header. Parsing no further
    // bounds the work, and makes the result independent of how the input was
    // split: a bad byte past the limit is `HeaderTooLarge` however it arrives
    // (found by the `handshake_response` fuzz target).
    let head = input.get(..max_header).unwrap_or(input);
    let header_len = match resp.parse(head) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if input.len() >= max_header {
                Err(HandshakeError::HeaderTooLarge)
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
        Err(_) => return Err(HandshakeError::Malformed),
    };
    if resp.version != Some(1) {
        return Err(HandshakeError::Malformed);
    }
    match resp.code {
        Some(101) => {}
        Some(code) => return Err(HandshakeError::Status(code)),
        None => return Err(HandshakeError::Malformed),
    }
    let expected_accept = accept_key(key);
    let (mut upgrade, mut connection, mut accept) = (false, false, false);
    let mut protocol = None;
    let mut deflate = Negotiation::new(offer);
    for h in resp.headers.iter() {
        let value = h.value;
        // One search of a table, not a comparison call per name.
        match CHECKED_HEADERS
            .iter()
            .position(|n| n.eq_ignore_ascii_case(h.name))
        {
            Some(0) => upgrade |= has_token(value, b"websocket"),
            Some(1) => connection |= has_token(value, b"upgrade"),
            Some(2) => {
                if accept || trim(value) != expected_accept {
                    return Err(HandshakeError::Accept);
                }
                accept = true;
            }
            Some(3) => extensions(&mut deflate, value)?,
            Some(_) => {
                let chosen = trim(value);
                let offered_it = tokens(offered).any(|t| t == chosen);
                if protocol.is_some() || !offered_it {
                    return Err(HandshakeError::Protocol);
                }
                protocol =
                    Some(crate::utf8::validate(chosen).map_err(|_| HandshakeError::Protocol)?);
            }
            None => {}
        }
    }
    if !upgrade {
        return Err(HandshakeError::Upgrade);
    }
    if !connection {
        return Err(HandshakeError::Connection);
    }
    if !accept {
        return Err(HandshakeError::Accept);
    }
    Ok(Some(Response {
        header_len,
        protocol,
        deflate: deflate.finish(),
    }))
}

/// The response headers the client checks, in the order of the arms of
/// [`parse_response_with`]'s match.
const CHECKED_HEADERS: [&str; 5] = [
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
];

/// The server's `Sec-WebSocket-Extensions` value, checked against the offer.
#[cfg(feature = "deflate")]
fn extensions(deflate: &mut Negotiation, value: &[u8]) -> Result<(), HandshakeError> {
    use crate::deflate::DeflateError;
    deflate.header(value).map_err(|e| match e {
        DeflateError::NotOffered => HandshakeError::Extension,
        e => HandshakeError::Deflate(e),
    })
}

/// Without the `deflate` feature nothing is offered: any extension named (a
/// non-empty item of the list) is one not offered. The negotiation's parser
/// is left out of the program.
#[cfg(not(feature = "deflate"))]
fn extensions(_: &mut Negotiation, value: &[u8]) -> Result<(), HandshakeError> {
    if value.iter().any(|&b| !b.is_ascii_whitespace() && b != b',') {
        return Err(HandshakeError::Extension);
    }
    Ok(())
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

fn tokens(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b',')
        .map(trim)
        .filter(|t| !t.is_empty())
}

fn has_token(list: &[u8], token: &[u8]) -> bool {
    tokens(list).any(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::prelude::rust_2021::*;

    const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    #[test]
    fn rfc_1_3_vector() {
        // RFC 6455 section 1.3 and 4.1: the nonce "the sample nonce".
        assert_eq!(&encode_key(b"the sample nonce"), KEY);
        assert_eq!(&accept_key(KEY), ACCEPT.as_bytes());
    }

    fn request(url: &str, opts: &HandshakeOptions<'_>) -> (String, RequestLayout) {
        let mut out = [0u8; 512];
        let url = Url::parse(url).unwrap();
        let layout = write_request(&mut out, &url, KEY, opts).unwrap();
        (
            String::from_utf8(out[..layout.len].to_vec()).unwrap(),
            layout,
        )
    }

    #[test]
    fn request_text() {
        let (req, layout) = request("ws://server.example.com/chat", &HandshakeOptions::default());
        assert_eq!(
            req,
            "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        assert_eq!(&req.as_bytes()[layout.key_at..layout.key_at + 24], KEY);
        let (h0, h1) = layout.host;
        assert!(matches!(req.as_bytes()[h0 - 1], b' ' | b'['));
        assert!(matches!(req.as_bytes()[h1], b'\r' | b':' | b']'));
        assert_eq!(layout.protocols, (0, 0));

        let opts = HandshakeOptions {
            protocols: &["chat", "superchat"],
            headers: &[("Origin", "http://example.com")],
        };
        let (req, layout) = request("ws://[::1]:9001?x=1", &opts);
        assert!(
            req.starts_with("GET /?x=1 HTTP/1.1\r\nHost: [::1]:9001\r\n"),
            "{req}"
        );
        assert!(req.contains(
            "\r\nSec-WebSocket-Protocol: chat, superchat\r\nOrigin: http://example.com\r\n\r\n"
        ));
        assert_eq!(
            &req[layout.protocols.0..layout.protocols.1],
            "chat, superchat"
        );
        let (req, _) = request("wss://h:443/", &HandshakeOptions::default());
        assert!(req.contains("Host: h\r\n"));
        let (req, _) = request("ws://h:443/", &HandshakeOptions::default());
        assert!(req.contains("Host: h:443\r\n"));
    }

    #[test]
    fn request_rejects_injection_and_small_buffers() {
        let url = Url::parse("ws://h/").unwrap();
        let mut out = [0u8; 512];
        for opts in [
            HandshakeOptions {
                protocols: &["a b"],
                headers: &[],
            },
            HandshakeOptions {
                protocols: &[""],
                headers: &[],
            },
            HandshakeOptions {
                protocols: &[],
                headers: &[("X", "a\r\nEvil: 1")],
            },
            HandshakeOptions {
                protocols: &[],
                headers: &[("X Y", "v")],
            },
            HandshakeOptions {
                protocols: &[],
                headers: &[("host", "other")],
            },
            HandshakeOptions {
                protocols: &[],
                headers: &[("Sec-WebSocket-Key", "x")],
            },
        ] {
            assert_eq!(
                write_request(&mut out, &url, KEY, &opts),
                Err(SendError::InvalidHeader)
            );
        }
        let full = write_request(&mut out, &url, KEY, &HandshakeOptions::default())
            .unwrap()
            .len;
        for n in 0..full {
            assert_eq!(
                write_request(&mut out[..n], &url, KEY, &HandshakeOptions::default()),
                Err(SendError::RequestTooLarge)
            );
        }
    }

    fn response(extra: &str) -> String {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {ACCEPT}\r\n{extra}\r\n"
        )
    }

    #[test]
    fn good_responses() {
        let r = response("");
        let parsed = parse_response(r.as_bytes(), KEY, b"", 4096)
            .unwrap()
            .unwrap();
        assert_eq!(
            parsed,
            Response {
                header_len: r.len(),
                protocol: None,
                deflate: None,
            }
        );
        for n in 0..r.len() {
            assert_eq!(parse_response(&r.as_bytes()[..n], KEY, b"", 4096), Ok(None));
        }
        // Case-insensitive names and values, token lists, trailing frames.
        let r = format!(
            "HTTP/1.1 101 OK\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n\
             sec-websocket-accept:   {ACCEPT}  \r\nSec-WebSocket-Protocol: superchat\r\n\r\n\x01\x02hi"
        );
        let parsed = parse_response(r.as_bytes(), KEY, b"chat, superchat", 4096)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.protocol, Some("superchat"));
        assert_eq!(&r.as_bytes()[parsed.header_len..], b"\x01\x02hi");
    }

    #[test]
    fn bad_responses() {
        use HandshakeError::*;
        let check = |text: &str, offered: &[u8], err: HandshakeError| {
            assert_eq!(
                parse_response(text.as_bytes(), KEY, offered, 4096),
                Err(err),
                "{text}"
            );
        };
        check(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            b"",
            Status(404),
        );
        check("HTTP/1.0 101 Switching\r\n\r\n", b"", Malformed);
        check("garbage\r\n\r\n", b"", Malformed);
        check(
            &response("").replace("Upgrade: websocket\r\n", ""),
            b"",
            Upgrade,
        );
        check(
            &response("").replace("Upgrade: websocket", "Upgrade: h2c"),
            b"",
            Upgrade,
        );
        check(
            &response("").replace("Connection: Upgrade\r\n", ""),
            b"",
            Connection,
        );
        check(
            &response("").replace(ACCEPT, "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            b"",
            Accept,
        );
        check(
            &response("").replace(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n"), ""),
            b"",
            Accept,
        );
        check(
            &response(&format!("Sec-WebSocket-Accept: {ACCEPT}\r\n")),
            b"",
            Accept,
        );
        check(
            &response("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            b"",
            Extension,
        );
        check(
            &response("Sec-WebSocket-Extensions: , x-other ,\r\n"),
            b"",
            Extension,
        );
        // An empty list names no extension (with and without the feature).
        let r = response("Sec-WebSocket-Extensions:  , ,\r\n");
        assert!(matches!(
            parse_response(r.as_bytes(), KEY, b"", 4096),
            Ok(Some(_))
        ));
        check(&response("Sec-WebSocket-Protocol: chat\r\n"), b"", Protocol);
        check(
            &response("Sec-WebSocket-Protocol: chat\r\n"),
            b"superchat",
            Protocol,
        );
        check(
            &response("Sec-WebSocket-Protocol: chat, superchat\r\n"),
            b"chat, superchat",
            Protocol,
        );
        let many: String = (0..40).map(|i| format!("X-{i}: v\r\n")).collect();
        check(&response(&many), b"", TooManyHeaders);
        let r = response("");
        assert_eq!(
            parse_response(r.as_bytes(), KEY, b"", 50),
            Err(HeaderTooLarge)
        );
        assert_eq!(
            parse_response(&r.as_bytes()[..60], KEY, b"", 50),
            Err(HeaderTooLarge)
        );
    }
}
