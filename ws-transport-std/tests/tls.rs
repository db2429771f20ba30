//! `wss://` against a TLS WebSocket server built in the test (rustls +
//! tungstenite), with a CA and certificates made at run time by rcgen:
//! echo by IP address and by name, and each certificate failure as its
//! typed error with no frame sent.

mod common;

use common::tls::{plaintext_received, tls_server, wss_echo_server, Ca, Validity};
use common::{End, Ev, Harness};
use ws_proto::{LinkError, TlsReason};
use ws_transport_std::{ClientConfig, ConfigError, TlsConfig, TlsConfigError};

fn trusting(ca: &Ca) -> ClientConfig {
    ClientConfig {
        tls: TlsConfig {
            pem_roots: ca.pem.clone().into_bytes(),
            ..TlsConfig::default()
        },
        ..ClientConfig::default()
    }
}

fn echo_over(url_host: &str, listen: &str) {
    let ca = Ca::new("ws test CA");
    let server = ca.server(&["localhost", "127.0.0.1", "::1"], Validity::Now);
    let (addr, handle) = wss_echo_server(listen, server);
    let mut h = Harness::new(trusting(&ca));
    let id = h.open(&format!("wss://{url_host}:{}/chat", addr.port()));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    let big = common::text_of(100_000);
    for text in ["hello over TLS", big.as_str()] {
        h.client.send_text(id, text).unwrap();
        assert_eq!(h.expect(id, 10), Ev::Text(text.to_owned()));
    }
    h.client.send_binary(id, &[0, 1, 2, 255]).unwrap();
    assert_eq!(h.expect(id, 10), Ev::Binary(vec![0, 1, 2, 255]));
    h.client.close(id, h.clock.now(), 1000, "bye").unwrap();
    assert_eq!(
        h.expect(id, 10),
        Ev::Closed(End::Clean(Some(1000), "bye".into()))
    );
    handle.join().unwrap();
}

#[test]
fn echo_by_ip_address() {
    echo_over("127.0.0.1", "127.0.0.1:0");
}

#[test]
fn echo_by_name() {
    echo_over("localhost", "127.0.0.1:0");
}

/// Opens `url_host` against a server with `config`; returns how the
/// connection ended and how many plaintext bytes the server received.
fn failing(
    client: ClientConfig,
    server: std::sync::Arc<rustls::ServerConfig>,
    url_host: &str,
) -> (Ev, usize) {
    let (addr, handle) = tls_server("127.0.0.1:0", server, plaintext_received);
    let mut h = Harness::new(client);
    let id = h.open(&format!("wss://{url_host}:{}/", addr.port()));
    let ev = h.expect(id, 10);
    // The socket closes: the server's read ends.
    let _ = h.pump(100);
    (ev, handle.join().unwrap())
}

fn tls_end(reason: TlsReason) -> Ev {
    Ev::Closed(End::Link(LinkError::Tls { reason }))
}

#[test]
fn untrusted_ca_is_unknown_issuer_and_sends_nothing() {
    let ours = Ca::new("trusted CA");
    let theirs = Ca::new("someone else's CA");
    let server = theirs.server(&["127.0.0.1"], Validity::Now);
    let (ev, plaintext) = failing(trusting(&ours), server, "127.0.0.1");
    assert_eq!(ev, tls_end(TlsReason::UnknownIssuer));
    assert_eq!(plaintext, 0, "the handshake request went out");
    // Mozilla's roots (the default) do not know a test CA either.
    let server = theirs.server(&["127.0.0.1"], Validity::Now);
    let (ev, plaintext) = failing(ClientConfig::default(), server, "127.0.0.1");
    assert_eq!(ev, tls_end(TlsReason::UnknownIssuer));
    assert_eq!(plaintext, 0);
}

#[test]
fn wrong_name_is_a_name_mismatch_and_sends_nothing() {
    let ca = Ca::new("ws test CA");
    let server = ca.server(&["example.test", "10.9.8.7"], Validity::Now);
    let (ev, plaintext) = failing(trusting(&ca), server.clone(), "localhost");
    assert_eq!(ev, tls_end(TlsReason::NameMismatch));
    assert_eq!(plaintext, 0);
    // An IP address is checked against the certificate's IP addresses.
    let (ev, plaintext) = failing(trusting(&ca), server, "127.0.0.1");
    assert_eq!(ev, tls_end(TlsReason::NameMismatch));
    assert_eq!(plaintext, 0);
}

#[test]
fn expired_certificate_is_expired_and_sends_nothing() {
    let ca = Ca::new("ws test CA");
    let server = ca.server(&["127.0.0.1"], Validity::Expired);
    let (ev, plaintext) = failing(trusting(&ca), server, "127.0.0.1");
    assert_eq!(ev, tls_end(TlsReason::Expired));
    assert_eq!(plaintext, 0);
}

#[test]
fn a_plain_server_behind_wss_is_a_tls_failure() {
    // A ws:// server where wss:// was asked: its HTTP answer is no TLS.
    let (port, handle) = common::raw_server(|mut s| {
        use std::io::{Read, Write};
        let mut b = [0u8; 512];
        let _ = s.read(&mut b);
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    let mut h = Harness::new(ClientConfig::default());
    let id = h.open(&format!("wss://127.0.0.1:{port}/"));
    assert_eq!(h.expect(id, 10), tls_end(TlsReason::PeerMisbehaved));
    handle.join().unwrap();
}

#[test]
fn an_alert_mid_stream_ends_the_link_after_the_messages_before_it() {
    let ca = Ca::new("ws test CA");
    let server = ca.server(&["127.0.0.1"], Validity::Now);
    let (addr, handle) = tls_server("127.0.0.1:0", server, |stream| {
        let mut ws = tungstenite::accept(stream).unwrap();
        ws.send(tungstenite::Message::text("one")).unwrap();
        ws.send(tungstenite::Message::text("two")).unwrap();
        // Then a fatal alert (decrypt_error, 51) in the clear, as a broken
        // middlebox would send: TLS 1.3 record type 21.
        let tcp = ws.get_mut().get_mut();
        use std::io::Write;
        tcp.write_all(&[21, 3, 3, 0, 2, 2, 51]).unwrap();
        tcp.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
    });
    let mut h = Harness::new(trusting(&ca));
    let id = h.open(&format!("wss://127.0.0.1:{}/", addr.port()));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    assert_eq!(h.expect(id, 10), Ev::Text("one".into()));
    assert_eq!(h.expect(id, 10), Ev::Text("two".into()));
    assert_eq!(h.expect(id, 10), tls_end(TlsReason::PeerMisbehaved));
    handle.join().unwrap();
}

#[test]
fn an_alert_from_the_server_is_named() {
    // A server that wants a client certificate: the client has none, the
    // server answers with the certificate_required alert (116).
    let ca = Ca::new("ws test CA");
    let config = ca.server_wanting_client_certs(&["127.0.0.1"]);
    let (ev, _) = failing(trusting(&ca), config, "127.0.0.1");
    assert_eq!(ev, tls_end(TlsReason::Alert(116)));
}

#[test]
fn bad_root_files_are_refused_when_the_client_is_made() {
    let config = |pem: &[u8]| ClientConfig {
        tls: TlsConfig::with_pem_roots(pem),
        ..ClientConfig::default()
    };
    let err = |pem: &[u8]| ws_transport_std::Client::new(config(pem)).err();
    assert_eq!(
        err(b"-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n"),
        Some(ConfigError::Tls(TlsConfigError::MalformedPem))
    );
    assert_eq!(
        err(b"not a certificate"),
        Some(ConfigError::Tls(TlsConfigError::NoCertificate))
    );
}
