//! "No call ever waits on the network", tested: the nb transport over a
//! non-blocking stack of our own (`common::nb_stack`: mio sockets, a
//! resolver that answers late), against a server that is slow to answer.
//! Every `poll` and every stack call is timed while DNS, connect and the
//! handshake take hundreds of milliseconds.

mod common;

use std::time::Duration;

use common::nb_stack::NbStack;
use common::*;
use tungstenite::Message;
use ws_proto::{Config, Error, LinkError};
use ws_transport_esp::{AlwaysReady, ClientConfig, EspClient, Transport};

/// Far below the delays the network takes here.
const QUICK: Duration = Duration::from_millis(100);

/// Polls until `done`, timing each `poll` call.
fn drive_timed<const MSG: usize>(
    c: &mut EspClient<'static, NbStack, AlwaysReady, OsRandom, 2, 512, 1024, MSG>,
    clock: &Clock,
    mut done: impl FnMut(&[Ev]) -> bool,
) -> (Vec<Ev>, Duration, usize) {
    let start = std::time::Instant::now();
    let (mut out, mut slowest, mut turns) = (Vec::new(), Duration::ZERO, 0);
    loop {
        loop {
            let t = std::time::Instant::now();
            let ev = c.poll(clock.now()).map(|(_, e)| Ev::from(e));
            slowest = slowest.max(t.elapsed());
            match ev {
                Some(e) => out.push(e),
                None => break,
            }
        }
        turns += 1;
        if done(&out) {
            return (out, slowest, turns);
        }
        assert!(start.elapsed() < LIMIT, "timed out: {out:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn slow_dns_and_a_slow_server_never_block_a_poll() {
    let (port, server) = serve(|ws| {
        // The handshake was read; the 101 already went. Now be slow.
        std::thread::sleep(Duration::from_millis(300));
        ws.send(Message::text("late")).unwrap();
        echo(ws)
    });
    let clock = Clock::new();
    let mut stack = NbStack::new();
    stack.name_after(
        "slow.test",
        "127.0.0.1".parse().unwrap(),
        Duration::from_millis(300),
    );
    let mut c: EspClient<'_, _, _, _, 2, 512, 1024, 1024> = EspClient::new(
        stack,
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        slots(),
    );
    let opened = std::time::Instant::now();
    let id = c
        .open(&format!("ws://slow.test:{port}/"), clock.now())
        .unwrap();
    let (evs, slowest, turns) =
        drive_timed(&mut c, &clock, |e| e.contains(&Ev::Text("late".into())));
    assert_eq!(evs, vec![Ev::Connected, Ev::Text("late".into())]);
    assert!(
        opened.elapsed() >= Duration::from_millis(600),
        "DNS and server were slow"
    );
    assert!(slowest < QUICK, "a poll took {slowest:?}");
    assert!(turns > 50, "{turns} turns: the loop kept running meanwhile");
    let stack = c.stack_mut();
    assert!(
        stack.would_block > 50,
        "{} WouldBlock answers",
        stack.would_block
    );
    assert!(
        stack.slowest < QUICK,
        "a stack call took {:?}",
        stack.slowest
    );

    c.send_text(id, "echo me").unwrap();
    let (evs, slowest, _) = drive_timed(&mut c, &clock, |e| !e.is_empty());
    assert_eq!(evs, vec![Ev::Text("echo me".into())]);
    assert!(slowest < QUICK);
    c.close(id, clock.now(), 1000, "").unwrap();
    let (evs, _, _) = drive_timed(&mut c, &clock, |e| e.iter().any(Ev::is_closed));
    assert_eq!(evs, vec![Ev::Clean(Some(1000), String::new())]);
    assert_eq!(join_polling(&mut c, &clock, server), 1);
}

#[test]
fn timeouts_fire_while_the_network_is_silent() {
    // DNS that answers after the connect deadline: the connection ends with
    // ConnectTimeout at the deadline, not when the resolver answers.
    let clock = Clock::new();
    let mut stack = NbStack::new();
    stack.name_after(
        "never.test",
        "127.0.0.1".parse().unwrap(),
        Duration::from_secs(60),
    );
    let config = ClientConfig {
        connect_timeout_ms: 200,
        proto: Config {
            handshake_timeout_ms: 400,
            ..Config::default()
        },
        ..ClientConfig::default()
    };
    let mut c: EspClient<'_, _, _, _, 2, 512, 1024, 1024> =
        EspClient::new(stack, AlwaysReady, OsRandom, config, slots());
    let t0 = clock.now();
    c.open("ws://never.test:9/", t0).unwrap();
    let (evs, slowest, _) = drive_timed(&mut c, &clock, |e| !e.is_empty());
    let took = clock.now().millis_since(t0);
    assert_eq!(evs, vec![Ev::Link(LinkError::ConnectTimeout)]);
    assert!((200..600).contains(&took), "ended after {took} ms");
    assert!(slowest < QUICK);

    // A server that accepts TCP and never answers the handshake (the
    // handshake timeout counts from `open`).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t0 = clock.now();
    c.open(&format!("ws://127.0.0.1:{port}/"), t0).unwrap();
    let (evs, slowest, _) = drive_timed(&mut c, &clock, |e| !e.is_empty());
    let took = clock.now().millis_since(t0);
    assert_eq!(evs, vec![Ev::Failed(Error::HandshakeTimeout)]);
    assert!((400..900).contains(&took), "ended after {took} ms");
    assert!(slowest < QUICK);
    drop(listener);
}

/// Issue 11 over the non-blocking stack: the messages a server sent before
/// it reset the connection are all delivered before the fault, while a
/// write was pending.
#[test]
fn messages_before_a_reset_are_delivered_while_a_write_is_pending() {
    let clock = Clock::new();
    let mut c: EspClient<'_, _, _, _, 2, 512, 1024, 1024> = EspClient::new(
        NbStack::new(),
        AlwaysReady,
        OsRandom,
        ClientConfig::default(),
        slots(),
    );
    reset_while_a_write_is_pending(&mut c, &clock, "127.0.0.1");
}
