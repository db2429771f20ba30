//! The blocking helper against servers on 127.0.0.1 (a tungstenite echo
//! server, raw TCP servers that stall): echo, close from either side,
//! timeouts that leave the connection usable, refused connects, bad URLs,
//! and a send that waits for room while keeping what arrives.

mod common;

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{binary_of, echo_server, frame, handshake, raw_server, text_of, tungstenite_server};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use ws_transport_std::blocking::{Ended, Error, OwnedMessage, WebSocket};
use ws_transport_std::{ClientConfig, CommandError, LinkError, OpenError, SendError, State};

const T: Duration = Duration::from_secs(10);

#[test]
fn echo_then_close_cleanly() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let mut ws = WebSocket::connect(&format!("ws://{addr}/"), T).unwrap();
    assert_eq!(ws.state(), Some(State::Open));
    assert_eq!(ws.protocol(), None);
    ws.send_text("hello", T).unwrap();
    assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Text("hello".into()));
    let big = binary_of(200_000);
    ws.send_binary(&big, T).unwrap();
    assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Binary(big));
    // Several queued before any is received come back in order.
    for i in 0..20 {
        ws.send_text(&text_of(i * 100), T).unwrap();
    }
    for i in 0..20 {
        assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Text(text_of(i * 100)));
    }
    let ended = ws.close(1000, "done", T).unwrap();
    assert!(ended.is_clean(), "{ended:?}");
    assert!(matches!(
        ended,
        Ended::Clean {
            code: Some(1000),
            ..
        }
    ));
    assert_eq!(ws.state(), None);
    // Every later call names the same end.
    assert_eq!(ws.recv(T), Err(Error::Closed(ended.clone())));
    assert_eq!(ws.send_text("late", T), Err(Error::Closed(ended)));
    server.join().unwrap();
}

#[test]
fn recv_times_out_and_the_connection_stays_usable() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let mut ws = WebSocket::connect(&format!("ws://{addr}/"), T).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(ws.recv(Duration::from_millis(200)), Err(Error::Timeout));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(190), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    ws.send_text("still here", T).unwrap();
    assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Text("still here".into()));
    assert!(ws.close(1000, "", T).unwrap().is_clean());
    server.join().unwrap();
}

#[test]
fn a_close_from_the_server_ends_recv_with_its_code() {
    let (addr, server) = tungstenite_server("127.0.0.1:0", |mut ws| {
        ws.send(tungstenite::Message::Text("last words".into()))
            .unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::Library(4000),
            reason: "bye".into(),
        }))
        .unwrap();
        // Read until the echo of the close arrives.
        while ws.read().is_ok() {}
    });
    let mut ws = WebSocket::connect(&format!("ws://{addr}/"), T).unwrap();
    assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Text("last words".into()));
    let expected = Ended::Clean {
        code: Some(4000),
        reason: "bye".into(),
    };
    assert_eq!(ws.recv(T), Err(Error::Closed(expected.clone())));
    assert_eq!(ws.ended(), Some(&expected));
    assert_eq!(ws.close(1000, "", T), Err(Error::Closed(expected)));
    server.join().unwrap();
}

#[test]
fn refused_and_bad_urls_fail_with_their_reason() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = WebSocket::connect(&format!("ws://127.0.0.1:{port}/"), T).unwrap_err();
    assert_eq!(e, Error::Closed(Ended::Link(LinkError::Refused)));
    assert!(e.to_string().contains("refused"), "{e}");
    assert!(matches!(
        WebSocket::connect("http://127.0.0.1/", T),
        Err(Error::Open(OpenError::Url(_)))
    ));
    // wss:// is supported: the same refusal, below TLS.
    assert_eq!(
        WebSocket::connect(&format!("wss://127.0.0.1:{port}/"), T).unwrap_err(),
        Error::Closed(Ended::Link(LinkError::Refused))
    );
}

#[test]
fn connect_gives_up_after_its_timeout() {
    let (done_tx, done) = mpsc::channel::<()>();
    let (port, server) = raw_server(move |_s| {
        // Accept, never answer the handshake.
        let _ = done.recv_timeout(Duration::from_secs(10));
    });
    let started = std::time::Instant::now();
    let e = WebSocket::connect(
        &format!("ws://127.0.0.1:{port}/"),
        Duration::from_millis(300),
    );
    assert_eq!(e.unwrap_err(), Error::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    done_tx.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn a_send_waits_for_room_keeps_what_arrives_and_times_out() {
    let (done_tx, done) = mpsc::channel::<()>();
    let (port, server) = raw_server(move |mut s| {
        use std::io::Write;
        handshake(&mut s);
        s.write_all(&frame(0x81, b"early")).unwrap();
        // Read nothing more: the client's queue fills up.
        let _ = done.recv_timeout(Duration::from_secs(20));
    });
    let config = ClientConfig {
        max_connections: 1,
        tx_capacity: 64 << 10,
        max_message_size: 1 << 20,
        ..ClientConfig::default()
    };
    let mut ws = WebSocket::connect_with(&format!("ws://127.0.0.1:{port}/"), config, T).unwrap();
    let chunk = binary_of(16 << 10);
    let mut timed_out = false;
    for _ in 0..2000 {
        match ws.send_binary(&chunk, Duration::from_millis(100)) {
            Ok(()) => {}
            Err(Error::Timeout) => {
                timed_out = true;
                break;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(timed_out, "the socket never pushed back");
    assert_eq!(ws.recv(T).unwrap(), OwnedMessage::Text("early".into()));
    // Over max_message_size: refused at once, not a timeout.
    assert_eq!(
        ws.send_binary(&binary_of((1 << 20) + 1), T),
        Err(Error::Command(CommandError::Send(SendError::TooLarge)))
    );
    done_tx.send(()).unwrap();
    server.join().unwrap();
}
