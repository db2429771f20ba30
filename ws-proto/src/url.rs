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
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, ipv6, port) = if let Some(after) = authority.strip_prefix('[') {
            let (host, after) = after.split_once(']').ok_or(UrlError::InvalidHost)?;
            if host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
            {
                return Err(UrlError::InvalidHost);
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(UrlError::InvalidHost)?),
            };
            (host, true, port)
        } else {
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(UrlError::EmptyHost);
            }
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
            {
                return Err(UrlError::InvalidHost);
            }
            (host, false, port)
        };
        let port = match port {
            None => {
                if secure {
                    443
                } else {
                    80
                }
            }
            Some(p) => parse_port(p)?,
        };
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError::InvalidPath);
        }
        let resource = if resource.is_empty() { "/" } else { resource };
        Ok(Url {
            secure,
            host,
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

fn parse_port(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

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
