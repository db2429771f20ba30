//! `ws://` and `wss://` URLs (RFC 6455 section 3).
//!
//! `ws://host[:port][/path][?query]`: the host is a DNS name, an IPv4 address or
//! a bracketed IPv6 literal (`[::1]`); the port defaults to 80 for `ws` and 443
//! for `wss`; the resource defaults to `/`. Every form the client cannot use gets
//! its own [`UrlError`]. Nothing is allocated: the parts borrow from the input.

use crate::error::UrlError;

/// A parsed WebSocket URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    /// `wss://` (TLS) rather than `ws://`.
    pub secure: bool,
    /// The host without brackets (`::1` for `[::1]`).
    pub host: &'a str,
    /// Whether the host is an IPv6 literal (written in brackets in `Host:`).
    pub ipv6: bool,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The path and query for the request line, `/` when the URL has none. It
    /// starts with `/`, or with `?` for `ws://host?query` (the request line then
    /// gets `/?query`).
    pub resource: &'a str,
}

impl<'a> Url<'a> {
    /// Parses a `ws://` or `wss://` URL.
    ///
    /// # Errors
    ///
    /// A [`UrlError`] naming the first problem found.
    ///
    /// ```
    /// use ws_proto::Url;
    /// let u = Url::parse("ws://192.168.1.10:8080/stream").unwrap();
    /// assert_eq!((u.host, u.port, u.resource), ("192.168.1.10", 8080, "/stream"));
    /// let u = Url::parse("ws://[::1]").unwrap();
    /// assert_eq!((u.host, u.ipv6, u.port, u.resource), ("::1", true, 80, "/"));
    /// ```
    pub fn parse(url: &'a str) -> Result<Self, UrlError> {
        // On bytes, in one pass over what follows the scheme. In the ESP32
        // Session program: the `&str` pattern searches and slicing of the
        // first version (`TwoWaySearcher`, the str slicing panic path) were
        // 1.9 KiB of flash; a byte search per part after them, 754 bytes;
        // this pass, 644.
        let b = url.as_bytes();
        let colon = b
            .windows(3)
            .position(|w| w == b"://")
            .ok_or(UrlError::MissingScheme)?;
        // `ws` or `wss` in any case: `| 0x20` lowers an ASCII letter and maps
        // no other byte to `w` or `s`.
        let secure = match b[..colon] {
            [w, s, ref t @ ..] if (w | 0x20) == b'w' && (s | 0x20) == b's' => match t {
                [] => false,
                [t] if (t | 0x20) == b's' => true,
                _ => return Err(UrlError::UnsupportedScheme),
            },
            _ => return Err(UrlError::UnsupportedScheme),
        };
        let from = colon + 3;
        // Where the path or query starts (the end when there is none), and
        // what the one pass saw, reported in the order of precedence below.
        let mut split = b.len();
        let (mut user_info, mut bad_path) = (false, false);
        for (i, &c) in b.iter().enumerate().skip(from) {
            if c == b'#' {
                return Err(UrlError::Fragment);
            }
            if split == b.len() {
                if c == b'/' || c == b'?' {
                    split = i;
                }
                user_info |= c == b'@';
            }
            bad_path |= i >= split && !c.is_ascii_graphic();
        }
        if user_info {
            return Err(UrlError::UserInfo);
        }
        let (host, ipv6, port) = host_and_port(&b[from..split])?;
        let port = match port {
            None if secure => 443,
            None => 80,
            Some(p) => parse_port(p)?,
        };
        if bad_path {
            return Err(UrlError::InvalidPath);
        }
        // The spans start and end at ASCII bytes (checked above), so both
        // `get`s are on character boundaries and succeed.
        let resource = match url.get(split..) {
            Some("") => "/",
            Some(r) => r,
            None => return Err(UrlError::InvalidPath),
        };
        Ok(Url {
            secure,
            host: url
                .get(from + host.0..from + host.1)
                .ok_or(UrlError::InvalidHost)?,
            ipv6,
            port,
            resource,
        })
    }

    /// Whether the port is the scheme's default (then `Host:` omits it).
    pub const fn default_port(&self) -> bool {
        self.port == if self.secure { 443 } else { 80 }
    }
}

/// The host's span in an authority, whether it is a bracketed IPv6 literal,
/// and the port's digits if any.
type HostPort<'b> = ((usize, usize), bool, Option<&'b [u8]>);

/// Splits `authority` (what is between `://` and the path) into its
/// [`HostPort`] parts, checking the host's bytes and what follows it.
fn host_and_port(authority: &[u8]) -> Result<HostPort<'_>, UrlError> {
    let (span, ipv6, after) = match authority {
        [b'[', inner @ ..] => {
            let close = find(inner, b']').ok_or(UrlError::InvalidHost)?;
            ((1, 1 + close), true, &inner[close + 1..])
        }
        _ => {
            let end = find(authority, b':').unwrap_or(authority.len());
            ((0, end), false, &authority[end..])
        }
    };
    let host = &authority[span.0..span.1];
    if host.is_empty() {
        return Err(if ipv6 {
            UrlError::InvalidHost
        } else {
            UrlError::EmptyHost
        });
    }
    if !host.iter().all(|&c| host_byte(c, ipv6)) {
        return Err(UrlError::InvalidHost);
    }
    match after {
        [] => Ok((span, ipv6, None)),
        [b':', p @ ..] => Ok((span, ipv6, Some(p))),
        _ => Err(UrlError::InvalidHost),
    }
}

/// A byte of a host: of an IPv6 literal (hex digits, `:`, `.` for an
/// embedded IPv4 address), or of a DNS name or IPv4 address (letters,
/// digits, and `-`, `.`, `_`, `~`).
fn host_byte(c: u8, ipv6: bool) -> bool {
    if ipv6 {
        c.is_ascii_hexdigit() || c == b':' || c == b'.'
    } else {
        c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
    }
}

/// The first `c` in `bytes`.
fn find(bytes: &[u8], c: u8) -> Option<usize> {
    bytes.iter().position(|&b| b == c)
}

/// 1 to 65535, in 1 to 5 decimal digits.
fn parse_port(p: &[u8]) -> Result<u16, UrlError> {
    if p.is_empty() || p.len() > 5 {
        return Err(UrlError::InvalidPort);
    }
    let mut n: u32 = 0;
    for &d in p {
        if !d.is_ascii_digit() {
            return Err(UrlError::InvalidPort);
        }
        n = n * 10 + u32::from(d - b'0');
    }
    match u16::try_from(n) {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    /// The parser as it was before the one-pass version: a search per part,
    /// each check in its own place. Kept as the oracle the one-pass parser
    /// is compared with.
    fn reference(url: &str) -> Result<Url<'_>, UrlError> {
        let b = url.as_bytes();
        let colon = b
            .windows(3)
            .position(|w| matches!(w, [b':', b'/', b'/']))
            .ok_or(UrlError::MissingScheme)?;
        let scheme = &b[..colon];
        let secure = if scheme.eq_ignore_ascii_case(b"ws") {
            false
        } else if scheme.eq_ignore_ascii_case(b"wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        let from = colon + 3;
        let rest = &b[from..];
        if find(rest, b'#').is_some() {
            return Err(UrlError::Fragment);
        }
        let split = from
            + rest
                .iter()
                .position(|&c| c == b'/' || c == b'?')
                .unwrap_or(rest.len());
        let authority = &b[from..split];
        if find(authority, b'@').is_some() {
            return Err(UrlError::UserInfo);
        }
        // The host's span in `url`, and the port's bytes if any.
        let (host, ipv6, port) = if authority.first() == Some(&b'[') {
            let close = find(authority, b']').ok_or(UrlError::InvalidHost)?;
            let host = &authority[1..close];
            if host.is_empty()
                || !host
                    .iter()
                    .all(|&c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            {
                return Err(UrlError::InvalidHost);
            }
            let port = match &authority[close + 1..] {
                [] => None,
                [b':', p @ ..] => Some(p),
                _ => return Err(UrlError::InvalidHost),
            };
            ((from + 1, from + close), true, port)
        } else {
            let end = find(authority, b':').unwrap_or(authority.len());
            let host = &authority[..end];
            if host.is_empty() {
                return Err(UrlError::EmptyHost);
            }
            if !host
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~'))
            {
                return Err(UrlError::InvalidHost);
            }
            ((from, from + end), false, authority.get(end + 1..))
        };
        let port = match port {
            None if secure => 443,
            None => 80,
            Some(p) => parse_port(p)?,
        };
        if !b[split..].iter().all(u8::is_ascii_graphic) {
            return Err(UrlError::InvalidPath);
        }
        // Both spans end at ASCII bytes (checked above), so both `get`s are
        // on character boundaries and succeed.
        let resource = match url.get(split..) {
            Some("") => "/",
            Some(r) => r,
            None => return Err(UrlError::InvalidPath),
        };
        Ok(Url {
            secure,
            host: url.get(host.0..host.1).ok_or(UrlError::InvalidHost)?,
            ipv6,
            port,
            resource,
        })
    }

    proptest::proptest! {
        #![proptest_config(crate::test_config::proptest(256))]

        /// The one-pass parser returns what the search-per-part parser
        /// did, error for error, on strings made of the bytes that matter
        /// to it (after a scheme or not).
        #[test]
        fn one_pass_agrees_with_the_reference(
            scheme in proptest::sample::select(vec!["ws://", "WSS://", "wS://", "http://", "ws:/", "", "w://", "wsss://"]),
            rest in "[a-zA-Z0-9:/\\[\\]@#?.~_%é -]{0,16}",
        ) {
            let url = format!("{scheme}{rest}");
            proptest::prop_assert_eq!(Url::parse(&url), reference(&url), "{:?}", url);
        }
    }

    #[test]
    fn good_urls() {
        let u = Url::parse("ws://example.com").unwrap();
        assert_eq!(
            (u.secure, u.host, u.port, u.resource, u.ipv6),
            (false, "example.com", 80, "/", false)
        );
        assert!(u.default_port());
        let u = Url::parse("WSS://example.com/a/b?x=1&y=%20").unwrap();
        assert_eq!(
            (u.secure, u.port, u.resource),
            (true, 443, "/a/b?x=1&y=%20")
        );
        let u = Url::parse("ws://[::1]:9001/runCase?case=1&agent=ws").unwrap();
        assert_eq!(
            (u.host, u.ipv6, u.port, u.resource),
            ("::1", true, 9001, "/runCase?case=1&agent=ws")
        );
        assert!(!u.default_port());
        let u = Url::parse("ws://h:65535?q").unwrap();
        assert_eq!((u.port, u.resource), (65535, "?q"));
        let u = Url::parse("ws://server:9000/control").unwrap();
        assert_eq!((u.host, u.port), ("server", 9000));
    }

    #[test]
    fn bad_urls() {
        use UrlError::*;
        let cases: &[(&str, UrlError)] = &[
            ("example.com", MissingScheme),
            ("http://example.com", UnsupportedScheme),
            ("ws://user:pw@example.com/", UserInfo),
            ("ws:///path", EmptyHost),
            ("ws://:80/", EmptyHost),
            ("ws://exa mple.com/", InvalidHost),
            ("ws://[::1/", InvalidHost),
            ("ws://[]/", InvalidHost),
            ("ws://[::1]x/", InvalidHost),
            ("ws://h:0/", InvalidPort),
            ("ws://h:65536/", InvalidPort),
            ("ws://h:/", InvalidPort),
            ("ws://h:8o/", InvalidPort),
            ("ws://h:+80/", InvalidPort),
            ("ws://h/#frag", Fragment),
            ("ws://h/a b", InvalidPath),
            ("ws://h/a\r\nX: y", InvalidPath),
            ("ws://h/é", InvalidPath),
        ];
        for (url, err) in cases {
            assert_eq!(Url::parse(url), Err(*err), "{url}");
        }
    }
}
