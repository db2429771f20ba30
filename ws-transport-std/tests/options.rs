//! Open options on the std client against servers that check them: the
//! `Authorization` header and the subprotocols offered arrive (over ws://
//! and wss://), the chosen subprotocol is reported, a subprotocol that was
//! not offered is refused, and header injection is refused before a
//! single byte (or even a connection) reaches the server.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use common::tls::{tls_server, Ca, Validity};
use common::{End, Ev, Harness};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use ws_proto::{Error, HandshakeError, HandshakeOptions, OpenError, SendError, SessionEvent};
use ws_transport_std::{ClientConfig, ConnId, TlsConfig};

/// The tungstenite callback: 401 without the right token, else the first
/// offered subprotocol it knows ("chat").
#[allow(clippy::result_large_err)]
fn check(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let auth = req.headers().get("authorization").map(|v| v.as_bytes());
    if auth != Some(b"Bearer t0k3n") {
        let mut e = ErrorResponse::new(Some("no token".into()));
        *e.status_mut() = tungstenite::http::StatusCode::UNAUTHORIZED;
        return Err(e);
    }
    let offered = req
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if offered.split(',').any(|p| p.trim() == "chat") {
        resp.headers_mut()
            .insert("sec-websocket-protocol", "chat".parse().unwrap());
    }
    Ok(resp)
}

/// Polls until `id` connects or ends: the chosen subprotocol, or the end.
fn connect(h: &mut Harness, id: ConnId) -> Result<Option<String>, Ev> {
    let deadline = h.clock.now().plus_millis(10_000);
    loop {
        let now = h.clock.now();
        assert!(now < deadline, "no event in 10 s");
        match h.client.poll(now) {
            Some((got, SessionEvent::Connected { protocol })) => {
                assert_eq!(got, id);
                return Ok(protocol.map(str::to_owned));
            }
            Some((_, other)) => return Err(common::own(other)),
            None => h.client.wait(now, Duration::from_millis(100)).unwrap(),
        }
    }
}

fn options(token: &str) -> [(&str, String); 1] {
    [("Authorization", format!("Bearer {token}"))]
}

fn open(h: &mut Harness, url: &str, token: &str) -> ConnId {
    let headers = options(token);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let opts = HandshakeOptions {
        protocols: &["superchat", "chat"],
        headers: &headers,
    };
    let now = h.clock.now();
    h.client.open_with(url, &opts, now).unwrap()
}

fn echo_once(h: &mut Harness, id: ConnId) {
    h.client.send_text(id, "authorised").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("authorised".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
}

#[test]
fn authorization_and_subprotocol_reach_a_ws_server() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..2 {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            if let Ok(ws) = tungstenite::accept_hdr(s, check) {
                common::echo(ws);
            }
        }
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = open(&mut h, &format!("ws://127.0.0.1:{port}/"), "t0k3n");
    assert_eq!(connect(&mut h, id), Ok(Some("chat".into())));
    echo_once(&mut h, id);
    // The wrong token: the server's 401.
    let id = open(&mut h, &format!("ws://127.0.0.1:{port}/"), "wrong");
    assert_eq!(
        connect(&mut h, id),
        Err(Ev::Closed(End::Error(Error::Handshake(
            HandshakeError::Status(401)
        ))))
    );
    server.join().unwrap();
}

#[test]
fn authorization_and_subprotocol_reach_a_wss_server() {
    let ca = Ca::new("options CA");
    let (addr, server) = tls_server(
        "127.0.0.1:0",
        ca.server(&["localhost"], Validity::Now),
        |s| {
            let ws = tungstenite::accept_hdr(s, check).unwrap();
            common::echo(ws);
        },
    );
    let mut h = Harness::new(ClientConfig {
        tls: TlsConfig::with_pem_roots(ca.pem.clone()),
        ..ClientConfig::default()
    });
    let id = open(
        &mut h,
        &format!("wss://localhost:{}/", addr.port()),
        "t0k3n",
    );
    assert_eq!(connect(&mut h, id), Ok(Some("chat".into())));
    echo_once(&mut h, id);
    server.join().unwrap();
}

#[test]
fn a_subprotocol_that_was_not_offered_is_refused() {
    let (port, server) = common::raw_server(|mut s| {
        let req = common::read_request(&mut s);
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            common::accept_for(&req)
        );
        s.write_all(resp.as_bytes()).unwrap();
        let _ = std::io::Read::read(&mut s, &mut [0u8; 16]);
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = open(&mut h, &format!("ws://127.0.0.1:{port}/"), "t0k3n");
    assert_eq!(
        connect(&mut h, id),
        Err(Ev::Closed(End::Error(Error::Handshake(
            HandshakeError::Protocol
        ))))
    );
    drop(h);
    server.join().unwrap();
}

#[test]
fn header_injection_is_refused_before_anything_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let mut h = Harness::new(ClientConfig::default());
    let now = h.clock.now();
    let headers: &[(&str, &str)] = &[
        ("X-A", "a\r\nEvil: 1"),
        ("X-A", "a\nEvil: 1"),
        ("X-A", "a\rb"),
        ("X-A", "nul\0"),
        ("Host", "evil.test"),
        ("sec-websocket-key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ("Connection", "close"),
        ("Sec-WebSocket-Protocol", "x"),
        ("Bad Name", "v"),
        ("Bad:Name", "v"),
        ("", "v"),
    ];
    for bad in headers {
        let opts = HandshakeOptions {
            headers: core::slice::from_ref(bad),
            ..Default::default()
        };
        assert_eq!(
            h.client.open_with(&url, &opts, now),
            Err(OpenError::Request(SendError::InvalidHeader)),
            "{bad:?}"
        );
    }
    for bad in ["a b", "chat\r\nEvil: 1", "", "a,b"] {
        let opts = HandshakeOptions {
            protocols: &[bad],
            ..Default::default()
        };
        assert_eq!(
            h.client.open_with(&url, &opts, now),
            Err(OpenError::Request(SendError::InvalidHeader)),
            "{bad:?}"
        );
    }
    assert_eq!(h.client.connection_count(), 0);
    assert!(h.pump(200).is_empty());
    assert!(
        listener.accept().is_err(),
        "a connection reached the server"
    );
}
