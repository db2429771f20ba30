//! The transport through `std-embedded-nal` against a real tungstenite server
//! on loopback: echo, ping both ways, close both ways, a server that drops
//! mid-frame, backpressure with 1 KiB buffers, messages larger than the
//! receive buffer (joined, refused with 1009, or streamed in chunks).

mod common;

use common::*;
use static_cell::ConstStaticCell;
use tungstenite::Message;
use ws_proto::{DataKind, Error, ProtocolError, SendError, State, UrlError};
use ws_transport_esp::{
    AlwaysReady, ClientConfig, CommandError, EspClient, EspSlots, OpenError, Slot, Transport,
};

/// The on-device configuration: 2 connections, 1 KiB buffers.
type Small =
    EspClient<'static, std_embedded_nal::Stack, AlwaysReady, OsRandom, 2, 1024, 1024, 1024>;

fn small() -> Small {
    EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        slots(),
    )
}

#[test]
fn echo_text_and_binary_then_close() {
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/echo"), clock.now())
        .unwrap();
    assert_eq!(c.state(id), Some(State::Connecting));
    assert_eq!(c.connection_count(), 1);
    connect(&mut c, &clock, id);
    assert_eq!(c.state(id), Some(State::Open));
    c.send_text(id, "hello €").unwrap();
    c.send_binary(id, &[0, 1, 2, 255]).unwrap();
    c.send_text(id, "").unwrap();
    let evs = drive(&mut c, &clock, |e| e.len() >= 3);
    let got: Vec<Ev> = evs
        .into_iter()
        .map(|(i, e)| {
            assert_eq!(i, id);
            e
        })
        .collect();
    assert_eq!(
        got,
        vec![
            Ev::Text("hello €".into()),
            Ev::Binary(vec![0, 1, 2, 255]),
            Ev::Text(String::new())
        ]
    );
    c.close(id, clock.now(), 1000, "bye").unwrap();
    assert_eq!(c.state(id), Some(State::Closing));
    assert_eq!(
        c.send_text(id, "late"),
        Err(CommandError::Send(SendError::Closed))
    );
    let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(
        evs.last().map(|e| &e.1),
        Some(&Ev::Clean(Some(1000), "bye".into()))
    );
    // The id is dead from here on.
    assert_eq!(c.state(id), None);
    assert_eq!(c.connection_count(), 0);
    assert_eq!(c.send_text(id, "x"), Err(CommandError::UnknownConnection));
    assert_eq!(
        c.close(id, clock.now(), 1000, ""),
        Err(CommandError::UnknownConnection)
    );
    assert_eq!(server.join().unwrap(), 3);
}

#[test]
fn server_ping_is_answered_and_client_ping_gets_pong() {
    let (port, server) = serve(|ws| {
        ws.send(Message::Ping(b"are you there".to_vec().into()))
            .unwrap();
        // The pong must come before anything else the client sends.
        let first = ws.read().unwrap();
        ws.send(Message::text("after pong")).unwrap();
        let rest = echo(ws);
        (first, rest)
    });
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| {
        e.iter().any(|(_, e)| *e == Ev::Text("after pong".into()))
    });
    let evs: Vec<Ev> = evs.into_iter().map(|e| e.1).collect();
    assert_eq!(
        evs,
        vec![
            Ev::Connected,
            Ev::Ping(b"are you there".to_vec()),
            Ev::Text("after pong".into())
        ]
    );
    c.ping(id, b"client ping").unwrap();
    assert_eq!(
        c.ping(id, &[0; 126]),
        Err(CommandError::Send(SendError::ControlTooLong))
    );
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs[0].1, Ev::Pong(b"client ping".to_vec()));
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    let (first, _) = server.join().unwrap();
    assert_eq!(first, Message::Pong(b"are you there".to_vec().into()));
}

#[test]
fn server_initiated_close_is_echoed() {
    let (port, server) = serve(|ws| {
        ws.send(close_frame(1001, "going away")).unwrap();
        // tungstenite reads the client's echo and then reports the end.
        loop {
            match ws.read() {
                Ok(m) if m.is_close() => return close_code(&m),
                Ok(_) => {}
                Err(tungstenite::Error::ConnectionClosed) => return None,
                Err(e) => panic!("{e}"),
            }
        }
    });
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(
        evs.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![Ev::Connected, Ev::Clean(Some(1001), "going away".into())]
    );
    assert_eq!(c.state(id), None);
    // The echo goes out after `Closed` was delivered (the slot drains).
    let echoed = join_polling(&mut c, &clock, server);
    assert!(echoed == Some(1001) || echoed.is_none(), "{echoed:?}");
}

#[test]
fn server_dropping_mid_frame_ends_the_connection() {
    let (port, server) = serve(|ws| {
        ws.send(Message::text("first")).unwrap();
        // A binary frame announcing 256 bytes, of which 3 arrive.
        raw(ws, &[0x82, 0x7e, 0x01, 0x00, 1, 2, 3]);
    });
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    server.join().unwrap();
    assert_eq!(
        evs.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![
            Ev::Connected,
            Ev::Text("first".into()),
            Ev::Failed(Error::UnexpectedEof { mid_frame: true })
        ]
    );
    assert_eq!(c.state(id), None);
    assert_eq!(c.connection_count(), 0);
}

#[test]
fn backpressure_with_1k_buffers_refuses_whole_frames() {
    const N: usize = 60;
    let (port, server) = serve(|ws| {
        let mut got = Vec::new();
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => got.push(t.to_string()),
                Ok(m) if m.is_close() => {
                    // Reading on flushes tungstenite's reply to the close.
                    while ws.read().is_ok() {}
                    return (got, close_code(&m));
                }
                Ok(Message::Ping(_)) => {}
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => panic!("{e} after {} messages", got.len()),
            }
        }
    });
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    connect(&mut c, &clock, id);
    let msg = |i: usize| format!("{i:03}-{}", "x".repeat(150));
    // Without a poll nothing drains: the 1 KiB queue fills and refuses.
    let mut sent = 0;
    while c.send_text(id, &msg(sent)).is_ok() {
        sent += 1;
    }
    assert!((2..=6).contains(&sent), "queued {sent} before backpressure");
    assert_eq!(
        c.send_text(id, &msg(sent)),
        Err(CommandError::Send(SendError::Backpressure))
    );
    assert_eq!(
        c.send_text(id, &"y".repeat(2000)),
        Err(CommandError::Send(SendError::TooLarge))
    );
    assert_eq!(c.state(id), Some(State::Open), "backpressure is not fatal");
    let mut refused = 0;
    let start = std::time::Instant::now();
    while sent < N {
        assert!(start.elapsed() < LIMIT);
        while c.poll(clock.now()).is_some() {}
        match c.send_text(id, &msg(sent)) {
            Ok(()) => sent += 1,
            Err(CommandError::Send(SendError::Backpressure)) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    // Full again: the close frame still fits (the queue keeps room for it).
    while c.send_text(id, &msg(sent)).is_ok() {
        sent += 1;
    }
    c.close(id, clock.now(), 1000, "done").unwrap();
    let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(
        evs.last().map(|e| &e.1),
        Some(&Ev::Clean(Some(1000), "done".into()))
    );
    let (got, code) = server.join().unwrap();
    assert_eq!(code, Some(1000));
    assert_eq!(
        got,
        (0..sent).map(msg).collect::<Vec<_>>(),
        "every frame whole, in order"
    );
    eprintln!("backpressure: {sent} messages, {refused} refusals while draining");
}

#[test]
fn message_over_msg_capacity_fails_with_1009() {
    let (port, server) = serve(|ws| {
        ws.send(Message::text("fits")).unwrap();
        ws.send(Message::binary(vec![7u8; 1500])).unwrap();
        loop {
            match ws.read() {
                Ok(m) if m.is_close() => return close_code(&m),
                Ok(_) => {}
                Err(e) => panic!("no close frame: {e}"),
            }
        }
    });
    let clock = Clock::new();
    let mut c = small();
    c.open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(
        evs.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![
            Ev::Connected,
            Ev::Text("fits".into()),
            Ev::Failed(Error::Protocol(ProtocolError::MessageTooBig))
        ]
    );
    // The draining slot still sends the close frame with 1009.
    assert_eq!(join_polling(&mut c, &clock, server), Some(1009));
}

#[test]
fn messages_larger_than_the_receive_buffer_are_joined() {
    let big: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let text = "ünïcödé ".repeat(300); // 3000+ bytes, code points split across reads
    let (b2, t2) = (big.clone(), text.clone());
    let (port, server) = serve(move |ws| {
        ws.send(Message::binary(b2)).unwrap();
        ws.send(Message::text(t2)).unwrap();
        echo(ws)
    });
    let clock = Clock::new();
    // 256-byte receive buffer, 4 KiB messages.
    let mut c: EspClient<'_, _, _, _, 2, 256, 1024, 4096> = EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        slots(),
    );
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.len() >= 3);
    assert_eq!(
        evs.into_iter().map(|e| e.1).collect::<Vec<_>>(),
        vec![Ev::Connected, Ev::Binary(big), Ev::Text(text)]
    );
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    server.join().unwrap();
}

#[test]
fn streaming_delivers_chunks_no_larger_than_the_buffer() {
    let big: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let b2 = big.clone();
    let (port, server) = serve(move |ws| {
        ws.send(Message::binary(b2)).unwrap();
        ws.send(Message::text("small")).unwrap();
        echo(ws)
    });
    let clock = Clock::new();
    let config = ClientConfig {
        streaming: true,
        ..ClientConfig::default()
    };
    let mut c: EspClient<'_, _, _, _, 2, 256, 512, 0> = EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        config,
        slots(),
    );
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| {
        e.iter().any(|(_, e)| *e == Ev::Text("small".into()))
    });
    let mut joined = Vec::new();
    let mut pieces = 0;
    for (_, e) in &evs[1..evs.len() - 1] {
        match e {
            Ev::Fragment(DataKind::Binary, data, fin) => {
                assert!(data.len() <= 256);
                joined.extend_from_slice(data);
                pieces += 1;
                assert_eq!(*fin, joined.len() == big.len());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pieces >= 20_000 / 256);
    assert_eq!(joined, big);
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    server.join().unwrap();
}

#[test]
fn ipv6_literal_skips_dns() {
    let (port, server) = serve_on("[::1]:0", echo);
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://[::1]:{port}/v6"), clock.now())
        .unwrap();
    connect(&mut c, &clock, id);
    c.send_text(id, "over v6").unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs[0].1, Ev::Text("over v6".into()));
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(server.join().unwrap(), 1);
}

#[test]
fn slots_ids_and_url_errors() {
    let (p1, s1) = serve(echo);
    let (p2, s2) = serve(echo);
    let clock = Clock::new();
    let mut c = small();
    assert_eq!(
        c.open("wss://127.0.0.1/", clock.now()),
        Err(OpenError::Url(UrlError::TlsUnsupported))
    );
    assert_eq!(
        c.open("http://x/", clock.now()),
        Err(OpenError::Url(UrlError::UnsupportedScheme))
    );
    assert_eq!(
        c.open("ws://a/#f", clock.now()),
        Err(OpenError::Url(UrlError::Fragment))
    );
    let a = c
        .open(&format!("ws://127.0.0.1:{p1}/"), clock.now())
        .unwrap();
    let b = c
        .open(&format!("ws://127.0.0.1:{p2}/"), clock.now())
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(
        c.open("ws://127.0.0.1:1/", clock.now()),
        Err(OpenError::TooManyConnections)
    );
    assert_eq!(c.connection_count(), 2);
    let evs = drive(&mut c, &clock, |e| e.len() >= 2);
    assert!(evs.contains(&(a, Ev::Connected)) && evs.contains(&(b, Ev::Connected)));
    c.send_text(a, "to a").unwrap();
    c.send_text(b, "to b").unwrap();
    let evs = drive(&mut c, &clock, |e| e.len() >= 2);
    assert!(evs.contains(&(a, Ev::Text("to a".into()))));
    assert!(evs.contains(&(b, Ev::Text("to b".into()))));
    c.close(a, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| {
        e.iter().any(|(i, e)| *i == a && e.is_closed())
    });
    // The slot is reused; the old id stays dead.
    let (p3, s3) = serve(echo);
    let a2 = c
        .open(&format!("ws://127.0.0.1:{p3}/"), clock.now())
        .unwrap();
    assert_eq!(a2.slot(), a.slot());
    assert_ne!(a2, a);
    assert_eq!(
        c.send_text(a, "stale"),
        Err(CommandError::UnknownConnection)
    );
    assert_eq!(c.state(a), None);
    connect(&mut c, &clock, a2);
    for id in [a2, b] {
        c.close(id, clock.now(), 1000, "").unwrap();
    }
    drive(&mut c, &clock, |e| {
        e.iter().filter(|(_, e)| e.is_closed()).count() == 2
    });
    assert_eq!(c.connection_count(), 0);
    for s in [s1, s2, s3] {
        s.join().unwrap();
    }
}

#[test]
#[allow(clippy::result_large_err)] // tungstenite's callback signature, not ours
fn open_with_offers_subprotocols_and_headers() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(LIMIT)).unwrap();
        let mut seen = (String::new(), String::new());
        let callback = |req: &tungstenite::handshake::server::Request,
                        mut resp: tungstenite::handshake::server::Response| {
            let h = |n: &str| {
                req.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            };
            seen = (h("Sec-WebSocket-Protocol"), h("X-Device"));
            resp.headers_mut()
                .insert("Sec-WebSocket-Protocol", "chat.v2".parse().unwrap());
            Ok(resp)
        };
        let mut ws = tungstenite::accept_hdr(stream, callback).unwrap();
        echo(&mut ws);
        seen
    });
    let clock = Clock::new();
    let mut c = small();
    let opts = ws_proto::HandshakeOptions {
        protocols: &["chat.v1", "chat.v2"],
        headers: &[("X-Device", "esp32-c3")],
    };
    let id = c
        .open_with(&format!("ws://127.0.0.1:{port}/"), &opts, clock.now())
        .unwrap();
    let start = std::time::Instant::now();
    let protocol = loop {
        assert!(start.elapsed() < LIMIT);
        if let Some((i, ev)) = c.poll(clock.now()) {
            assert_eq!(i, id);
            match ev {
                ws_proto::SessionEvent::Connected { protocol } => break protocol.map(String::from),
                other => panic!("unexpected {other:?}"),
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    };
    assert_eq!(protocol.as_deref(), Some("chat.v2"));
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    let (offered, device) = server.join().unwrap();
    assert_eq!(offered, "chat.v1, chat.v2");
    assert_eq!(device, "esp32-c3");
    let bad = ws_proto::HandshakeOptions {
        protocols: &["bad token"],
        headers: &[],
    };
    assert_eq!(
        c.open_with("ws://127.0.0.1:1/", &bad, clock.now()),
        Err(OpenError::Request(SendError::InvalidHeader))
    );
    assert_eq!(c.connection_count(), 0);
}

/// The slots as a device keeps them: a `static`, all zero bytes, lent once.
static SLOTS: ConstStaticCell<EspSlots<OsRandom, 2, 1024, 1024, 1024>> =
    ConstStaticCell::new([const { Slot::new() }; 2]);

#[test]
fn slots_in_a_static() {
    let mut c = EspClient::new(
        std_embedded_nal::Stack,
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        SLOTS.take(),
    );
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), clock.now())
        .unwrap();
    connect(&mut c, &clock, id);
    c.send_text(id, "in place").unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Text("in place".into()))]);
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| e.iter().any(|(_, e)| e.is_closed()));
    assert_eq!(join_polling(&mut c, &clock, server), 1);
}

/// Issue 11: the messages a server sent before it reset the connection are
/// all delivered before the fault, while a write was pending.
#[test]
fn messages_before_a_reset_are_delivered_while_a_write_is_pending() {
    let clock = Clock::new();
    reset_while_a_write_is_pending(&mut small(), &clock, "127.0.0.1");
}

#[test]
fn a_redirect_is_followed_on_a_new_socket() {
    // The driver decides redirects; this executor only closes the old
    // socket and opens the new one.
    let (to, server) = serve(echo);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let from = listener.local_addr().unwrap().port();
    let redirector = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut b = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            req.push(b[0]);
        }
        let resp = format!("HTTP/1.1 307 Moved\r\nLocation: ws://127.0.0.1:{to}/there\r\n\r\n");
        s.write_all(resp.as_bytes()).unwrap();
    });
    let clock = Clock::new();
    let mut c = small();
    let id = c
        .open(&format!("ws://127.0.0.1:{from}/here"), clock.now())
        .unwrap();
    connect(&mut c, &clock, id);
    c.send_text(id, "moved").unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![(id, Ev::Text("moved".into()))]);
    c.close(id, clock.now(), 1000, "").unwrap();
    drive(&mut c, &clock, |e| !e.is_empty());
    redirector.join().unwrap();
    assert_eq!(server.join().unwrap(), 1);
}
