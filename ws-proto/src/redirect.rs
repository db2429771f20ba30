//! Redirects of the opening handshake: a `301`/`302`/`303`/`307`/`308`
//! with a `Location` is followed at most [`MAX_REDIRECTS`] times, with the
//! same options, never from `wss` down to `ws`.
//!
//! Bounded and allocation-free. The request of the connection stays in its
//! outbound queue's storage until the response is checked; a redirect
//! rewrites it there:
//!
//! ```text
//!   storage: [GET /old HTTP/1.1 Host: a | other lines, key, options | absolute URL | GET /new .. Host: b]
//!             └──── old start ─────────┘ └────────── tail ─────────┘  resolved     new start (written)
//!   rotate:  [GET /new .. Host: b | tail (fresh key)]
//! ```
//!
//! The `Location` (absolute, scheme-relative, absolute-path, query or
//! relative-path reference, RFC 3986 section 5.2 without dot-segment
//! removal; `http`/`https` stand for `ws`/`wss`) is resolved against the
//! current URL into the same storage and parsed as a [`Url`]. The driver
//! keeps the hop count and a 32-bit key of each URL visited (a loop is
//! found on its first repeat); it closes the socket and starts again at
//! name resolution. A redirect not followed ends the connection with
//! [`crate::Disconnect::Redirect`], which names the status, why, and the
//! location: borrowed from the response, still in the receive buffer, so no
//! copy of it widens every error and event.

use core::fmt;
use core::net::IpAddr;

use crate::handshake::{self, RequestLayout, Writer};
use crate::url::Url;

/// How many redirects one `open` follows.
pub const MAX_REDIRECTS: u8 = 3;

/// Whether `status` is a redirect that is followed when it has a `Location`.
pub const fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Whether `e` is the end of a handshake that a redirect may continue.
pub(crate) fn is_redirect_error(e: crate::Error) -> bool {
    matches!(e, crate::Error::Handshake(crate::HandshakeError::Status(s)) if is_redirect(s))
}

/// Why a redirect was not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RedirectRefusal {
    /// [`MAX_REDIRECTS`] were followed already.
    TooMany,
    /// The location was visited before in this `open` (or is the URL
    /// itself).
    Loop,
    /// From `wss://` to `ws://`: TLS is never given up.
    Downgrade,
    /// The location is not a `ws`/`wss`/`http`/`https` URL or reference
    /// that resolves to a valid URL.
    InvalidLocation,
    /// The new request does not fit the outbound queue's storage.
    TooLarge,
    /// The random source failed while drawing the new request's key.
    Random,
}

impl fmt::Display for RedirectRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedirectRefusal::TooMany => "too many redirects",
            RedirectRefusal::Loop => "redirect loop",
            RedirectRefusal::Downgrade => "from wss:// down to ws://",
            RedirectRefusal::InvalidLocation => "location is not a usable ws/wss URL",
            RedirectRefusal::TooLarge => "new request does not fit the outbound queue",
            RedirectRefusal::Random => "random source failed",
        })
    }
}

/// A redirect the client did not follow: the status, why, and the
/// `Location` as the server sent it (borrowed from the response).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Redirect<'a> {
    /// The server's status (301, 302, 303, 307 or 308).
    pub status: u16,
    /// Why it was not followed.
    pub refusal: RedirectRefusal,
    /// The `Location` field's value, as sent (any bytes: see
    /// [`Redirect::location_lossy`] for text).
    pub location: &'a [u8],
}

impl<'a> Redirect<'a> {
    /// The location as text: bytes outside printable ASCII become `?`.
    pub fn location_lossy(&self) -> impl Iterator<Item = char> + 'a {
        self.location.iter().map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
    }
}

/// Writes the location as [`Redirect::location_lossy`] gives it.
struct Lossy<'r, 'a>(&'r Redirect<'a>);

impl fmt::Display for Lossy<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0
            .location_lossy()
            .try_for_each(|c| fmt::Write::write_char(f, c))
    }
}

impl fmt::Debug for Lossy<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl fmt::Debug for Redirect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redirect")
            .field("status", &self.status)
            .field("refusal", &self.refusal)
            .field("location", &Lossy(self))
            .finish()
    }
}

impl fmt::Display for Redirect<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redirect {} to {} not followed: {}",
            self.status,
            Lossy(self),
            self.refusal
        )
    }
}

/// Why the driver did not follow a held redirect response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotFollowed {
    /// A redirect status without a `Location`: the handshake's status error.
    Status(u16),
    /// Refused: the session ends with [`crate::Disconnect::Redirect`].
    Refused(u16, RedirectRefusal),
}

/// The status of a complete response header and its `Location`, if any.
///
/// The response was already parsed by [`handshake::parse_response`] (a
/// redirect is held only after it said `Status`), so its lines are well
/// formed: a scan finds the field without a second 512-byte header array
/// on the stack (the worst call path of `poll` on a microcontroller).
pub(crate) fn location(response: &[u8]) -> Option<(u16, Option<&[u8]>)> {
    let mut lines = response
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status = lines.next()?.strip_prefix(b"HTTP/1.")?.get(2..5)?;
    let status = crate::utf8::validate(status).ok()?.parse().ok()?;
    let location = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            Some((&l[..colon], &l[colon + 1..]))
        })
        .find(|(name, _)| name.eq_ignore_ascii_case(b"location"))
        .map(|(_, value)| value.trim_ascii());
    Some((status, location))
}

/// A 32-bit key of a URL (FNV-1a over scheme, lowercase host, port and
/// resource), to recognise a URL visited before.
pub(crate) fn url_key(url: &Url<'_>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    };
    eat(&[u8::from(url.secure)]);
    for b in url.host.bytes() {
        eat(&[b.to_ascii_lowercase()]);
    }
    eat(&url.port.to_be_bytes());
    if !url.resource.starts_with('/') {
        eat(b"/");
    }
    eat(url.resource.as_bytes());
    h
}

/// Where a followed redirect goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) secure: bool,
    pub(crate) port: u16,
    /// The address, when the host is an IP literal (else it is resolved).
    pub(crate) ip: Option<IpAddr>,
    /// [`url_key`] of the new URL.
    pub(crate) key: u32,
}

/// What the redirect is checked against: the current connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hop<'a> {
    pub(crate) secure: bool,
    pub(crate) port: u16,
    /// Keys of the URLs visited so far (the first is the one opened).
    pub(crate) visited: &'a [u32],
    /// Whether another redirect may be followed.
    pub(crate) allowed: bool,
}

/// The storage a rewrite needs beyond the old request, at most.
pub(crate) fn room(old_len: usize, location: &[u8]) -> usize {
    // URL: scheme, brackets, port and the old resource (all inside the old
    // request) plus the location; the new start repeats it.
    let url = old_len + location.len() + 16;
    old_len + 2 * url + 64
}

/// Rewrites the request at the front of `buf` (`old`) for `location`
/// resolved against it; returns the new request's layout and the target.
/// `buf` must hold [`room`] bytes.
pub(crate) fn rewrite(
    buf: &mut [u8],
    old: RequestLayout,
    location: &[u8],
    hop: Hop<'_>,
) -> Result<(RequestLayout, Target), RedirectRefusal> {
    use RedirectRefusal::*;
    let (head, scratch) = buf.split_at_mut(old.len);
    let base = Base::of(head, old, hop).ok_or(InvalidLocation)?;
    let url_len = resolve(&base, location, scratch).ok_or(TooLarge)?;
    let (url_bytes, rest) = scratch.split_at_mut(url_len);
    let text = crate::utf8::validate(url_bytes).map_err(|_| InvalidLocation)?;
    let url = Url::parse(text).map_err(|_| InvalidLocation)?;
    if hop.secure && !url.secure {
        return Err(Downgrade);
    }
    let key = url_key(&url);
    if hop.visited.contains(&key) {
        return Err(Loop);
    }
    if !hop.allowed {
        return Err(TooMany);
    }
    let target = Target {
        secure: url.secure,
        port: url.port,
        ip: crate::driver::ip::parse(url.host, url.ipv6),
        key,
    };
    let (start_len, host) = handshake::write_request_start(rest, &url).map_err(|_| TooLarge)?;
    let old_start = base.start_len;
    let tail = old.len - old_start;
    let region = &mut buf[..old.len + url_len + start_len];
    region.rotate_right(start_len);
    let from = start_len + old_start;
    region.copy_within(from..from + tail, start_len);
    let moved = |at: usize| at - old_start + start_len;
    let protocols = match old.protocols {
        (0, 0) => (0, 0),
        (a, b) => (moved(a), moved(b)),
    };
    let layout = RequestLayout {
        len: start_len + tail,
        key_at: moved(old.key_at),
        protocols,
        host,
    };
    Ok((layout, target))
}

/// The current URL, read back from the request it wrote.
struct Base<'a> {
    secure: bool,
    port: u16,
    /// As in `Host:`, brackets included for IPv6.
    host: &'a [u8],
    /// The request line's target: `/path?query`.
    resource: &'a [u8],
    /// Where the old request's start (request line and `Host`) ends.
    start_len: usize,
}

impl<'a> Base<'a> {
    fn of(request: &'a [u8], old: RequestLayout, hop: Hop<'_>) -> Option<Self> {
        let line_end = request.windows(2).position(|w| w == b"\r\n")?;
        let resource = request[..line_end]
            .strip_prefix(b"GET ")?
            .strip_suffix(b" HTTP/1.1")?;
        let (mut from, mut to) = old.host;
        if from > 0 && request.get(from - 1) == Some(&b'[') {
            from -= 1;
            to += 1;
        }
        let host = request.get(from..to)?;
        let after_host = request.get(to..)?;
        let start_len = to + after_host.windows(2).position(|w| w == b"\r\n")? + 2;
        Some(Base {
            secure: hop.secure,
            port: hop.port,
            host,
            resource,
            start_len,
        })
    }

    fn scheme(&self) -> &'static [u8] {
        if self.secure {
            b"wss:"
        } else {
            b"ws:"
        }
    }
}

/// Writes the authority of `base` (`//host[:port]`).
fn authority(w: &mut Writer<'_>, base: &Base<'_>) -> Option<()> {
    w.put(b"//").ok()?;
    w.put(base.host).ok()?;
    let default = if base.secure { 443 } else { 80 };
    if base.port != default {
        w.put(b":").ok()?;
        w.put_u16(base.port).ok()?;
    }
    Some(())
}

/// Writes `location` resolved against `base` as an absolute `ws`/`wss` URL
/// into `out`; returns its length (`None` when it does not fit). A
/// location that cannot resolve is written anyway and fails to parse.
fn resolve(base: &Base<'_>, location: &[u8], out: &mut [u8]) -> Option<usize> {
    // The fragment belongs to the client, never to the request.
    let location = match location.iter().position(|&b| b == b'#') {
        Some(i) => &location[..i],
        None => location,
    };
    let mut w = Writer { buf: out, at: 0 };
    let scheme_end = location
        .iter()
        .position(|&b| matches!(b, b':' | b'/' | b'?'))
        .filter(|&i| location[i] == b':');
    if let Some(i) = scheme_end {
        let scheme = &location[..i];
        let rest = &location[i..];
        let mapped: &[u8] =
            if scheme.eq_ignore_ascii_case(b"ws") || scheme.eq_ignore_ascii_case(b"http") {
                b"ws"
            } else if scheme.eq_ignore_ascii_case(b"wss") || scheme.eq_ignore_ascii_case(b"https") {
                b"wss"
            } else {
                // Left as it is: parsing it fails with the scheme named.
                scheme
            };
        w.put(mapped).ok()?;
        w.put(rest).ok()?;
    } else if location.starts_with(b"//") {
        w.put(base.scheme()).ok()?;
        w.put(location).ok()?;
    } else {
        w.put(base.scheme()).ok()?;
        authority(&mut w, base)?;
        if location.starts_with(b"/") {
            w.put(location).ok()?;
        } else if location.starts_with(b"?") || location.is_empty() {
            let path_end = base.resource.iter().position(|&b| b == b'?');
            w.put(&base.resource[..path_end.unwrap_or(base.resource.len())])
                .ok()?;
            w.put(location).ok()?;
        } else {
            // Relative path: replaces the last segment of the base path.
            let path_end = base.resource.iter().position(|&b| b == b'?');
            let path = &base.resource[..path_end.unwrap_or(base.resource.len())];
            let dir = path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
            w.put(b"/").ok()?;
            w.put(path.get(1..dir).unwrap_or_default()).ok()?;
            w.put(location).ok()?;
        }
    }
    Some(w.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{write_request, HandshakeOptions};
    use std::string::String;

    const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

    fn resolved(base_url: &str, location: &str) -> Option<String> {
        let url = Url::parse(base_url).unwrap();
        let mut buf = [0u8; 1024];
        let layout = write_request(&mut buf, &url, KEY, &HandshakeOptions::default()).unwrap();
        let hop = Hop {
            secure: url.secure,
            port: url.port,
            visited: &[],
            allowed: true,
        };
        let base = Base::of(&buf[..layout.len], layout, hop)?;
        let mut out = [0u8; 512];
        let n = resolve(&base, location.as_bytes(), &mut out)?;
        Some(String::from_utf8(out[..n].to_vec()).unwrap())
    }

    #[test]
    fn locations_resolve_against_the_current_url() {
        let cases = [
            ("ws://h/a/b?q", "/x", "ws://h/x"),
            ("ws://h:9/a/b?q", "/x?y", "ws://h:9/x?y"),
            ("ws://h/a/b?q", "c", "ws://h/a/c"),
            ("ws://h/a/b", "c/d?e", "ws://h/a/c/d?e"),
            ("ws://h/", "c", "ws://h/c"),
            ("ws://h/a/b?q", "?z", "ws://h/a/b?z"),
            ("ws://h/a", "//other:81/p", "ws://other:81/p"),
            ("wss://h/a", "//other/p", "wss://other/p"),
            ("wss://[::1]:8443/a", "/b", "wss://[::1]:8443/b"),
            ("wss://h:443/a", "/b", "wss://h/b"),
            ("ws://h/a", "http://o/p", "ws://o/p"),
            ("ws://h/a", "HTTPS://o/p#frag", "wss://o/p"),
            ("ws://h/a", "wss://o:1/p", "wss://o:1/p"),
            ("ws://h/a", "ftp://o/p", "ftp://o/p"),
        ];
        for (base, loc, want) in cases {
            assert_eq!(resolved(base, loc).as_deref(), Some(want), "{base} + {loc}");
        }
    }

    fn follow(base_url: &str, location: &str, visited: &[u32]) -> Result<String, RedirectRefusal> {
        follow_to(base_url, location, visited).map(|(text, _)| text)
    }

    /// The rewritten request and where it goes.
    fn follow_to(
        base_url: &str,
        location: &str,
        visited: &[u32],
    ) -> Result<(String, Target), RedirectRefusal> {
        let url = Url::parse(base_url).unwrap();
        let opts = HandshakeOptions {
            protocols: &["chat", "v2"],
            headers: &[("Authorization", "Bearer x")],
        };
        let mut buf = [0u8; 2048];
        let old = write_request(&mut buf, &url, KEY, &opts).unwrap();
        let hop = Hop {
            secure: url.secure,
            port: url.port,
            visited,
            allowed: visited.len() <= usize::from(MAX_REDIRECTS),
        };
        assert!(room(old.len, location.as_bytes()) <= buf.len());
        let (new, target) = rewrite(&mut buf, old, location.as_bytes(), hop)?;
        let text = String::from_utf8(buf[..new.len].to_vec()).unwrap();
        assert_eq!(&buf[new.key_at..new.key_at + 24], KEY);
        assert_eq!(&text[new.protocols.0..new.protocols.1], "chat, v2");
        Ok((text, target))
    }

    #[test]
    fn the_request_is_rewritten_with_the_same_options() {
        let text = follow("ws://h:9001/a/b", "/next?x=1", &[]).unwrap();
        assert!(
            text.starts_with("GET /next?x=1 HTTP/1.1\r\nHost: h:9001\r\n"),
            "{text}"
        );
        assert!(text
            .contains("\r\nSec-WebSocket-Protocol: chat, v2\r\nAuthorization: Bearer x\r\n\r\n"));
        assert_eq!(text.matches("Host:").count(), 1);
        let text = follow("ws://h/a", "ws://[::1]:81/z", &[]).unwrap();
        assert!(
            text.starts_with("GET /z HTTP/1.1\r\nHost: [::1]:81\r\n"),
            "{text}"
        );
        let text = follow(
            "ws://longer-host-name.example/a/very/long/path",
            "wss://x/",
            &[],
        )
        .unwrap();
        assert!(
            text.starts_with("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"),
            "{text}"
        );
    }

    /// An IP-literal target is connected to without resolution; a name is
    /// resolved (the driver's own literal parser, as for the first URL).
    #[test]
    fn a_target_that_is_an_ip_literal_skips_resolution() {
        let target = |location: &str| follow_to("ws://h/a", location, &[]).unwrap().1;
        let v4 = target("ws://192.168.1.10:8080/x");
        assert_eq!(v4.ip, Some(IpAddr::from([192, 168, 1, 10])));
        assert_eq!(v4.port, 8080);
        let v6 = target("ws://[::1]/x");
        assert_eq!(v6.ip, Some(IpAddr::from(core::net::Ipv6Addr::LOCALHOST)));
        assert_eq!(target("ws://example.com/x").ip, None);
        assert_eq!(target("ws://1.2.3/x").ip, None, "not an address: a name");
    }

    #[test]
    fn redirects_that_are_not_followed() {
        use RedirectRefusal::*;
        assert_eq!(follow("wss://h/", "ws://h/", &[]), Err(Downgrade));
        assert_eq!(follow("wss://h/", "http://h/", &[]), Err(Downgrade));
        assert_eq!(follow("ws://h/", "ftp://h/", &[]), Err(InvalidLocation));
        assert_eq!(follow("ws://h/", "/a b", &[]), Err(InvalidLocation));
        assert_eq!(follow("ws://h/", "ws://u@h/", &[]), Err(InvalidLocation));
        assert_eq!(follow("ws://h/", "ws://h:0/", &[]), Err(InvalidLocation));
        let me = url_key(&Url::parse("ws://h/a").unwrap());
        assert_eq!(follow("ws://h/a", "/a", &[me]), Err(Loop));
        assert_eq!(follow("ws://h/a", "ws://H:80/a", &[me]), Err(Loop));
        assert_eq!(follow("ws://h/a", "/b", &[1, 2, 3, 4]), Err(TooMany));
        // A request that fills the storage: no room to rewrite.
        let url = Url::parse("ws://h/").unwrap();
        let mut buf = [0u8; 200];
        let old = write_request(&mut buf, &url, KEY, &HandshakeOptions::default()).unwrap();
        let hop = Hop {
            secure: false,
            port: 80,
            visited: &[],
            allowed: true,
        };
        assert_eq!(
            rewrite(
                &mut buf,
                old,
                b"/a-much-longer-path-than-fits-here/and-more/and-more",
                hop
            ),
            Err(TooLarge)
        );
    }

    #[test]
    fn a_refused_redirect_names_status_and_location() {
        let r = Redirect {
            status: 302,
            refusal: RedirectRefusal::TooMany,
            location: b"ws://h/next",
        };
        assert_eq!(
            std::format!("{r}"),
            "redirect 302 to ws://h/next not followed: too many redirects"
        );
        let r = Redirect {
            location: b"/\xff\n",
            ..r
        };
        assert_eq!(r.location_lossy().collect::<String>(), "/??");
        assert!(std::format!("{r:?}").contains("location: \"/??\""));
    }

    proptest::proptest! {
        #![proptest_config(crate::test_config::proptest(512))]
        /// Any location, into any storage size: a typed refusal or a request
        /// that starts with the new target and keeps the old tail; no panic.
        #[test]
        fn any_location_rewrites_or_is_refused(
            location in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(b"/:?#[]@.ws".to_vec()),
                ],
                0..80,
            ),
            size in 150usize..600,
            secure in proptest::prelude::any::<bool>(),
        ) {
            let url = if secure { "wss://h:8443/a/b?c" } else { "ws://[::1]/a" };
            let url = Url::parse(url).unwrap();
            let mut buf = std::vec![0u8; size];
            let Ok(old) = write_request(&mut buf, &url, KEY, &HandshakeOptions::default()) else {
                return Ok(());
            };
            let tail = buf[old.key_at - 19..old.len].to_vec();
            let hop = Hop { secure, port: url.port, visited: &[], allowed: true };
            if let Ok((new, target)) = rewrite(&mut buf, old, &location, hop) {
                proptest::prop_assert!(new.len <= size);
                proptest::prop_assert!(buf[..new.len].starts_with(b"GET /"));
                proptest::prop_assert!(buf[..new.len].ends_with(&tail));
                proptest::prop_assert!(!secure || target.secure);
            }
        }
    }

    #[test]
    fn location_is_read_from_the_response() {
        let r = b"HTTP/1.1 302 Found\r\nlocation:  /x \r\n\r\n";
        assert_eq!(location(r), Some((302, Some(&b"/x"[..]))));
        assert_eq!(location(b"HTTP/1.1 302 Found\r\n\r\n"), Some((302, None)));
    }

    /// The scan reads what httparse reads from any response it parses.
    #[test]
    fn location_scan_agrees_with_httparse() {
        let by_httparse = |r: &[u8]| -> Option<(u16, Option<std::vec::Vec<u8>>)> {
            let mut headers = [httparse::EMPTY_HEADER; handshake::MAX_RESPONSE_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            resp.parse(r).ok()?;
            let loc = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("location"));
            Some((resp.code?, loc.map(|h| h.value.trim_ascii().to_vec())))
        };
        for r in [
            &b"HTTP/1.1 301 Moved\r\nX-Location: no\r\nLOCATION:\tws://h:9/a?b=c \r\n\r\n"[..],
            b"HTTP/1.1 307 \nServer: s\nLocation: /n\n\n",
            b"HTTP/1.1 308 P\r\nA: 1\r\nB: 2\r\nLocation:\r\n\r\nLocation: /body\r\n",
            b"HTTP/1.1 303 See Other\r\nContent-Length: 0\r\n\r\n",
        ] {
            let want = by_httparse(r).unwrap_or_else(|| panic!("{r:?}"));
            let got = location(r).map(|(s, l)| (s, l.map(<[u8]>::to_vec)));
            assert_eq!(got, Some(want), "{:?}", core::str::from_utf8(r));
        }
    }
}
