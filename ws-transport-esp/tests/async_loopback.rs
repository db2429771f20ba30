//! The async transport against a real tungstenite server on 127.0.0.1: a
//! current-thread tokio executor in the test drives `AsyncClient` over
//! tokio's TCP stream (`embedded-io-adapters`) and resolver, the stand-ins
//! for embassy-net's `TcpClient` and `DnsSocket`. Each wait races
//! `AsyncClient::wait` with a timer for the driver's `poll_timeout`, as an
//! embassy task does.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::Duration;

use common::{
    close_code, close_frame, echo, messages_then_reset, raw, serve, serve_then_reset, slots, Clock,
    Ev, OsRandom, LIMIT,
};
use embedded_io_adapters::tokio_1::FromTokio;
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use static_cell::ConstStaticCell;
use tungstenite::Message;
use ws_proto::{
    CommandError, Config, ConnId, Error, HandshakeOptions, ProtocolError, SendError, State,
};
use ws_transport_esp::{AsyncClient, ClientConfig, EspSlots, Slot};

/// Tokio's TCP connect and resolver behind the embedded-nal-async traits.
struct TokioNet;

impl TcpConnect for TokioNet {
    type Error = std::io::Error;
    type Connection<'a> = FromTokio<tokio::net::TcpStream>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> std::io::Result<Self::Connection<'a>> {
        let stream = tokio::net::TcpStream::connect(remote).await?;
        stream.set_nodelay(true)?;
        Ok(FromTokio::new(stream))
    }
}

impl Dns for TokioNet {
    type Error = std::io::Error;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> std::io::Result<IpAddr> {
        let mut addrs = tokio::net::lookup_host((host, 0)).await?;
        addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

type Client<'a, const TX: usize, const MSG: usize> =
    AsyncClient<'a, TokioNet, TokioNet, OsRandom, 2, 1024, TX, MSG>;

const NET: TokioNet = TokioNet;

fn client<const TX: usize, const MSG: usize>(config: ClientConfig) -> Client<'static, TX, MSG> {
    AsyncClient::new(&NET, &NET, OsRandom, config, slots())
}

/// Polls until `done`, waiting between turns as an embassy task does.
async fn drive<const TX: usize, const MSG: usize>(
    c: &mut Client<'_, TX, MSG>,
    clock: &Clock,
    mut done: impl FnMut(&[(ConnId, Ev)]) -> bool,
) -> Vec<(ConnId, Ev)> {
    let start = std::time::Instant::now();
    let mut out = Vec::new();
    loop {
        while let Some((id, ev)) = c.poll(clock.now()).await {
            out.push((id, Ev::from(ev)));
            assert!(out.len() < 100_000, "poll never returned None");
        }
        if done(&out) {
            return out;
        }
        assert!(start.elapsed() < LIMIT, "timed out; events so far: {out:?}");
        let now = clock.now();
        let ms = c
            .driver()
            .poll_timeout()
            .map_or(100, |t| t.millis_since(now).min(100));
        let _ = tokio::time::timeout(Duration::from_millis(ms), c.wait(now)).await;
    }
}

/// A text message through the connection's commands.
fn send_text<const TX: usize, const MSG: usize>(
    c: &mut Client<'_, TX, MSG>,
    id: ConnId,
    text: &str,
) -> Result<(), CommandError> {
    Ok(c.connection(id)?.send_text(text)?)
}

fn closed(e: &[(ConnId, Ev)]) -> bool {
    e.iter().any(|(_, e)| e.is_closed())
}

/// Keeps the client turning (lingering streams flush) until `server` ends.
async fn join<T, const TX: usize, const MSG: usize>(
    c: &mut Client<'_, TX, MSG>,
    clock: &Clock,
    server: std::thread::JoinHandle<T>,
) -> T {
    let start = std::time::Instant::now();
    while !server.is_finished() || c.driver().lingering() > 0 {
        assert!(start.elapsed() < LIMIT, "server or linger never ended");
        while c.poll(clock.now()).await.is_some() {}
        let _ = tokio::time::timeout(Duration::from_millis(5), c.wait(clock.now())).await;
    }
    server.join().unwrap()
}

fn kinds(evs: Vec<(ConnId, Ev)>) -> Vec<Ev> {
    evs.into_iter().map(|e| e.1).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn echo_text_and_binary_then_close() {
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://localhost:{port}/"), None, clock.now())
        .unwrap();
    assert_eq!(c.driver().state(id), Some(State::Connecting));
    let evs = drive(&mut c, &clock, |e| !e.is_empty()).await;
    assert_eq!(kinds(evs), vec![Ev::Connected]);
    send_text(&mut c, id, "héllo").unwrap();
    c.connection(id)
        .unwrap()
        .send_binary(&[0, 1, 2, 255])
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.len() >= 2).await;
    assert_eq!(
        kinds(evs),
        vec![Ev::Text("héllo".into()), Ev::Binary(vec![0, 1, 2, 255])]
    );
    c.connection(id)
        .unwrap()
        .close(clock.now(), 1000, "bye")
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(kinds(evs), vec![Ev::Clean(Some(1000), "bye".into())]);
    assert_eq!(
        send_text(&mut c, id, "x"),
        Err(CommandError::UnknownConnection)
    );
    assert_eq!(join(&mut c, &clock, server).await, 2);
    assert_eq!(
        (c.driver().connection_count(), c.driver().lingering()),
        (0, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn server_ping_is_answered_and_client_ping_gets_pong() {
    let (port, server) = serve(|ws| {
        ws.send(Message::Ping(b"there?".to_vec().into())).unwrap();
        let first = ws.read().unwrap();
        ws.send(Message::text("after pong")).unwrap();
        echo(ws);
        first
    });
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| e.len() >= 3).await;
    assert_eq!(
        kinds(evs),
        vec![
            Ev::Connected,
            Ev::Ping(b"there?".to_vec()),
            Ev::Text("after pong".into())
        ]
    );
    c.connection(id).unwrap().ping(b"client ping").unwrap();
    assert_eq!(
        c.connection(id).unwrap().ping(&[0; 126]),
        Err(SendError::ControlTooLong)
    );
    let evs = drive(&mut c, &clock, |e| !e.is_empty()).await;
    assert_eq!(kinds(evs), vec![Ev::Pong(b"client ping".to_vec())]);
    c.connection(id)
        .unwrap()
        .close(clock.now(), 1000, "")
        .unwrap();
    drive(&mut c, &clock, closed).await;
    let first = join(&mut c, &clock, server).await;
    assert_eq!(first, Message::Pong(b"there?".to_vec().into()));
}

#[tokio::test(flavor = "current_thread")]
async fn server_initiated_close_is_echoed() {
    let (port, server) = serve(|ws| {
        ws.send(close_frame(1001, "going away")).unwrap();
        loop {
            match ws.read() {
                Ok(m) if m.is_close() => return close_code(&m),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    });
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(
        kinds(evs),
        vec![Ev::Connected, Ev::Clean(Some(1001), "going away".into())]
    );
    assert_eq!(c.driver().state(id), None);
    let echoed = join(&mut c, &clock, server).await;
    assert!(echoed == Some(1001) || echoed.is_none(), "{echoed:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn server_dropping_mid_frame_ends_the_connection() {
    let (port, server) = serve(|ws| {
        ws.send(Message::text("first")).unwrap();
        // A binary frame announcing 256 bytes, of which 3 arrive.
        raw(ws, &[0x82, 0x7e, 0x01, 0x00, 1, 2, 3]);
    });
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    server.join().unwrap();
    assert_eq!(
        kinds(evs),
        vec![
            Ev::Connected,
            Ev::Text("first".into()),
            Ev::Failed(Error::UnexpectedEof { mid_frame: true })
        ]
    );
    assert_eq!(c.driver().state(id), None);
}

#[tokio::test(flavor = "current_thread")]
async fn backpressure_refuses_whole_frames_and_loses_none() {
    const N: usize = 40;
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
                Ok(_) => {}
                Err(e) => panic!("{e}"),
            }
        }
    });
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    drive(&mut c, &clock, |e| !e.is_empty()).await;
    let msg = |i: usize| format!("{i:03}-{}", "x".repeat(150));
    let mut sent = 0;
    while send_text(&mut c, id, &msg(sent)).is_ok() {
        sent += 1;
    }
    assert!((2..=6).contains(&sent), "queued {sent} before backpressure");
    assert_eq!(
        send_text(&mut c, id, &"y".repeat(2000)),
        Err(CommandError::Send(SendError::TooLarge))
    );
    let start = std::time::Instant::now();
    while sent < N {
        assert!(start.elapsed() < LIMIT);
        while c.poll(clock.now()).await.is_some() {}
        match send_text(&mut c, id, &msg(sent)) {
            Ok(()) => sent += 1,
            Err(CommandError::Send(SendError::Backpressure)) => {
                let wait = c.wait(clock.now());
                let _ = tokio::time::timeout(Duration::from_millis(5), wait).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    c.connection(id)
        .unwrap()
        .close(clock.now(), 1000, "done")
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(kinds(evs), vec![Ev::Clean(Some(1000), "done".into())]);
    let (got, code) = join(&mut c, &clock, server).await;
    assert_eq!(code, Some(1000));
    assert_eq!(got, (0..N).map(msg).collect::<Vec<_>>(), "whole, in order");
}

#[tokio::test(flavor = "current_thread")]
async fn messages_larger_than_the_receive_buffer_are_joined_and_over_msg_fail_1009() {
    let big: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let b2 = big.clone();
    let (port, server) = serve(move |ws| {
        ws.send(Message::binary(b2)).unwrap();
        ws.send(Message::binary(vec![7u8; 5000])).unwrap();
        loop {
            match ws.read() {
                Ok(m) if m.is_close() => return close_code(&m),
                Ok(_) => {}
                Err(e) => panic!("no close frame: {e}"),
            }
        }
    });
    let clock = Clock::new();
    let mut c = client::<1024, 4096>(ClientConfig::default());
    c.open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(
        kinds(evs),
        vec![
            Ev::Connected,
            Ev::Binary(big),
            Ev::Failed(Error::Protocol(ProtocolError::MessageTooBig))
        ]
    );
    assert_eq!(join(&mut c, &clock, server).await, Some(1009));
}

#[tokio::test(flavor = "current_thread")]
async fn keepalive_timeout_ends_a_silent_connection() {
    // The server completes the handshake, then neither reads nor answers.
    let (port, server) = serve(|ws| {
        std::thread::sleep(Duration::from_millis(600));
        let _ = ws;
    });
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    drive(&mut c, &clock, |e| !e.is_empty()).await;
    let start = clock.now();
    c.connection(id).unwrap().set_keepalive(100, 100, start);
    let evs = drive(&mut c, &clock, closed).await;
    let took = clock.now().millis_since(start);
    assert_eq!(kinds(evs), vec![Ev::Failed(Error::KeepaliveTimeout)]);
    assert!((200..500).contains(&took), "ended after {took} ms");
    server.join().unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn refused_unknown_name_and_connect_timeout() {
    let clock = Clock::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(evs, vec![(id, Ev::Link(ws_proto::LinkError::Refused))]);
    let id = c.open("ws://nowhere.invalid/", None, clock.now()).unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(evs, vec![(id, Ev::Link(ws_proto::LinkError::NameNotFound))]);
    // The handshake timeout counts from open: a listener that never accepts.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let config = ClientConfig {
        proto: Config {
            handshake_timeout_ms: 100,
            ..Config::default()
        },
        ..ClientConfig::default()
    };
    let mut c = client::<1024, 1024>(config);
    let addr = listener.local_addr().unwrap();
    c.open(&format!("ws://{addr}/"), None, clock.now()).unwrap();
    let evs = drive(&mut c, &clock, closed).await;
    assert_eq!(kinds(evs), vec![Ev::Failed(Error::HandshakeTimeout)]);
    assert_eq!(
        (c.driver().connection_count(), c.driver().lingering()),
        (0, 0)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn two_connections_at_once_and_a_third_is_refused() {
    let (p1, s1) = serve(echo);
    let (p2, s2) = serve(echo);
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let a = c
        .open(&format!("ws://127.0.0.1:{p1}/"), None, clock.now())
        .unwrap();
    let b = c
        .open(&format!("ws://127.0.0.1:{p2}/"), None, clock.now())
        .unwrap();
    assert_eq!(
        c.open(&format!("ws://127.0.0.1:{p2}/"), None, clock.now()),
        Err(ws_proto::OpenError::TooManyConnections)
    );
    drive(&mut c, &clock, |e| e.len() >= 2).await;
    send_text(&mut c, a, "to a").unwrap();
    send_text(&mut c, b, "to b").unwrap();
    let mut evs = drive(&mut c, &clock, |e| e.len() >= 2).await;
    evs.sort_by_key(|e| e.0);
    assert_eq!(
        evs,
        vec![(a, Ev::Text("to a".into())), (b, Ev::Text("to b".into()))]
    );
    for id in [a, b] {
        c.connection(id)
            .unwrap()
            .close(clock.now(), 1000, "")
            .unwrap();
    }
    drive(&mut c, &clock, |e| e.len() >= 2).await;
    assert_eq!(
        join(&mut c, &clock, s1).await + join(&mut c, &clock, s2).await,
        2
    );
}

#[tokio::test(flavor = "current_thread")]
async fn options_reach_the_request() {
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let bad = HandshakeOptions {
        protocols: &["bad token"],
        headers: &[],
    };
    let url = format!("ws://127.0.0.1:{port}/");
    assert_eq!(
        c.open(&url, Some(&bad), clock.now()),
        Err(ws_proto::OpenError::Request(SendError::InvalidHeader))
    );
    assert_eq!(c.driver().connection_count(), 0, "nothing kept");
    let good = HandshakeOptions {
        protocols: &[],
        headers: &[("X-Device", "esp32-c3")],
    };
    let id = c.open(&url, Some(&good), clock.now()).unwrap();
    drive(&mut c, &clock, |e| !e.is_empty()).await;
    c.connection(id)
        .unwrap()
        .close(clock.now(), 1000, "")
        .unwrap();
    drive(&mut c, &clock, closed).await;
    assert_eq!(join(&mut c, &clock, server).await, 0);
}

/// The slots as a device keeps them: a `static`, all zero bytes, lent once.
static SLOTS: ConstStaticCell<EspSlots<OsRandom, 2, 1024, 1024, 1024>> =
    ConstStaticCell::new([const { Slot::new() }; 2]);

#[tokio::test(flavor = "current_thread")]
async fn slots_in_a_static() {
    let (port, server) = serve(echo);
    let clock = Clock::new();
    let mut c = AsyncClient::new(&NET, &NET, OsRandom, ClientConfig::default(), SLOTS.take());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let mut evs = Vec::new();
    let start = std::time::Instant::now();
    while !evs.contains(&Ev::Text("in place".into())) {
        assert!(start.elapsed() < LIMIT, "{evs:?}");
        while let Some((_, ev)) = c.poll(clock.now()).await {
            let ev = Ev::from(ev);
            if ev == Ev::Connected {
                c.connection(id).unwrap().send_text("in place").unwrap();
            }
            evs.push(ev);
        }
        let _ = tokio::time::timeout(Duration::from_millis(20), c.wait(clock.now())).await;
    }
    c.connection(id)
        .unwrap()
        .close(clock.now(), 1000, "")
        .unwrap();
    while c.driver().lingering() + c.driver().connection_count() > 0 || !server.is_finished() {
        assert!(start.elapsed() < LIMIT);
        while c.poll(clock.now()).await.is_some() {}
        let _ = tokio::time::timeout(Duration::from_millis(5), c.wait(clock.now())).await;
    }
    assert_eq!(server.join().unwrap(), 1);
}

/// Issue 11: while the client has a frame queued and unwritten, the server
/// sends N messages and resets the connection. All N arrive, then the reset.
#[tokio::test(flavor = "current_thread")]
async fn messages_before_a_reset_are_delivered_while_a_write_is_pending() {
    reset_while_a_write_is_pending(Executor::Sleeps).await;
}

/// The same with the executor's thread blocked while the messages and the
/// reset arrive: tokio learns of the stream's new bytes only after the task
/// yields, so the write fails at once and the first read after it says
/// Pending with the bytes there. All N still arrive, then the reset.
#[tokio::test(flavor = "current_thread")]
async fn messages_before_a_reset_are_delivered_when_readiness_comes_late() {
    reset_while_a_write_is_pending(Executor::Blocked).await;
}

/// What the task does while the server sends and resets.
#[derive(Clone, Copy)]
enum Executor {
    /// It sleeps (does not block its thread), so the executor sees the
    /// stream's readiness as an embassy executor would.
    Sleeps,
    /// Its thread is blocked: the reactor does not run.
    Blocked,
}

async fn reset_while_a_write_is_pending(executor: Executor) {
    const N: usize = 50;
    let (go_tx, go_rx) = std::sync::mpsc::channel();
    let (port, server) = serve_then_reset(N, go_rx);
    let clock = Clock::new();
    let mut c = client::<1024, 1024>(ClientConfig::default());
    let id = c
        .open(&format!("ws://127.0.0.1:{port}/"), None, clock.now())
        .unwrap();
    let evs = drive(&mut c, &clock, |e| !e.is_empty()).await;
    assert_eq!(kinds(evs), vec![Ev::Connected]);
    send_text(&mut c, id, "left unread by the server").unwrap();
    let sent = std::time::Instant::now();
    let evs = drive(&mut c, &clock, |_| {
        sent.elapsed() > Duration::from_millis(100)
    })
    .await;
    assert!(evs.is_empty(), "{evs:?}");
    go_tx.send(()).unwrap();
    // Queued, and nothing is polled until the reset went out.
    send_text(&mut c, id, &"x".repeat(512)).unwrap();
    let start = std::time::Instant::now();
    let pause = |ms| async move {
        match executor {
            Executor::Sleeps => tokio::time::sleep(Duration::from_millis(ms)).await,
            Executor::Blocked => std::thread::sleep(Duration::from_millis(ms)),
        }
    };
    while !server.is_finished() {
        assert!(start.elapsed() < LIMIT, "server never ended");
        pause(5).await;
    }
    server.join().unwrap();
    pause(50).await;
    let evs = drive(&mut c, &clock, closed).await;
    assert!(evs.iter().all(|(i, _)| *i == id));
    assert_eq!(kinds(evs), messages_then_reset(N));
}
