//! `url`: `Url::parse` on arbitrary strings, and the request written for
//! every URL it accepts (with an optional fuzzed header and subprotocol).
//!
//! Input layout: up to four parts separated by `0xff` (never in UTF-8):
//! the URL, an extra header's name, its value, a subprotocol.
//!
//! Checked, for an accepted URL: the host is non-empty and only DNS/IP
//! characters; the resource starts with `/` or `?` and is printable ASCII; the
//! port is not 0; writing the URL back and parsing it again gives the same
//! `Url`. The request `write_request` writes parses with `httparse` as a whole
//! request of exactly the written length: `GET`, the URL's path, HTTP/1.1, one
//! `Host` equal to the URL's host (bracketed for IPv6, port when not the
//! default), the key where the layout says, and exactly the expected header
//! lines, so neither the URL nor an accepted header or subprotocol can inject
//! a line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{write_request, KEY_LEN};
use ws_proto::{HandshakeOptions, SendError, Url};

const KEY: &[u8; KEY_LEN] = b"dGhlIHNhbXBsZSBub25jZQ==";

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0xff);
    let Some(Ok(text)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let header = match (parts.next(), parts.next()) {
        (Some(n), Some(v)) => match (std::str::from_utf8(n), std::str::from_utf8(v)) {
            (Ok(n), Ok(v)) => Some((n, v)),
            _ => return,
        },
        _ => None,
    };
    let protocol = match parts.next().map(std::str::from_utf8) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return,
        None => None,
    };

    let Ok(url) = Url::parse(text) else {
        return;
    };
    assert!(!url.host.is_empty(), "empty host");
    assert!(
        url.resource.starts_with('/') || url.resource.starts_with('?'),
        "resource {:?}",
        url.resource
    );
    assert!(url.resource.bytes().all(|b| b.is_ascii_graphic()));
    assert!(!text.contains('#'));
    assert_ne!(url.port, 0);
    if url.ipv6 {
        assert!(url
            .host
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'));
    } else {
        assert!(url
            .host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
    }

    // Written back and parsed again: the same URL.
    let scheme = if url.secure { "wss" } else { "ws" };
    let host = if url.ipv6 {
        format!("[{}]", url.host)
    } else {
        url.host.to_string()
    };
    let again_text = format!("{scheme}://{host}:{}{}", url.port, url.resource);
    assert_eq!(Url::parse(&again_text), Ok(url), "{again_text:?}");

    // The request.
    let headers: Vec<(&str, &str)> = header.into_iter().collect();
    let protocols: Vec<&str> = protocol.into_iter().collect();
    let opts = HandshakeOptions {
        protocols: &protocols,
        headers: &headers,
    };
    let mut buf = vec![0u8; data.len() * 2 + 512];
    let layout = match write_request(&mut buf, &url, KEY, &opts) {
        Ok(l) => l,
        Err(SendError::InvalidHeader) if header.is_some() || protocol.is_some() => return,
        Err(e) => panic!("write_request refused {text:?}: {e:?}"),
    };
    let request = &buf[..layout.len];
    assert_eq!(&request[layout.key_at..layout.key_at + KEY_LEN], KEY);

    let mut parsed = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut parsed);
    match req.parse(request) {
        Ok(httparse::Status::Complete(n)) => {
            assert_eq!(n, request.len(), "bytes after the request")
        }
        other => panic!(
            "request does not parse: {other:?}\n{}",
            String::from_utf8_lossy(request)
        ),
    }
    assert_eq!(req.method, Some("GET"));
    assert_eq!(req.version, Some(1));
    let path = if url.resource.starts_with('?') {
        format!("/{}", url.resource)
    } else {
        url.resource.to_string()
    };
    assert_eq!(req.path, Some(path.as_str()));

    let expected_host = if url.default_port() {
        host
    } else {
        format!("{host}:{}", url.port)
    };
    let find = |name: &str| -> Vec<&[u8]> {
        req.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect()
    };
    assert_eq!(find("host"), vec![expected_host.as_bytes()]);
    assert_eq!(find("sec-websocket-key"), vec![&KEY[..]]);
    assert_eq!(find("sec-websocket-version"), vec![&b"13"[..]]);
    assert_eq!(find("upgrade"), vec![&b"websocket"[..]]);
    let mut count = 5;
    if let Some(p) = protocol {
        assert_eq!(find("sec-websocket-protocol"), vec![p.as_bytes()]);
        count += 1;
    }
    if let Some((name, value)) = header {
        let values = find(name);
        assert_eq!(
            values.len(),
            1,
            "header {name:?} appears {} times",
            values.len()
        );
        let trim = |v: &[u8]| v.trim_ascii().to_vec();
        assert_eq!(trim(values[0]), trim(value.as_bytes()), "header {name:?}");
        count += 1;
    }
    assert_eq!(req.headers.len(), count, "header lines were injected");
});
