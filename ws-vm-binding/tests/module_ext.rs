//! The module's extensions over the real std transport against tungstenite
//! servers on 127.0.0.1: binary with NUL bytes both ways, `closeWith` and
//! the code the server echoes, `openWith` headers and the chosen
//! subprotocol, and keepalive on by default: a server that echoes once and
//! then goes silent with TCP open is detected on a virtual clock, and
//! auto-reconnect finds the server again once it is back.

mod support;

use std::time::{Duration, Instant as StdInstant};

use support::{Ev, Mode, Server, Vm, WS_CLOSED, WS_CONN_BYTES, WS_PROTOCOL};
use ws_proto::Instant;
use ws_transport_std::{Client, ClientConfig};
use ws_vm_binding::{ErrorCode, ModuleConfig, OpenOptions, WsModule};

type Module = WsModule<Client, Vm>;

/// A module whose clock only moves when the test says so.
fn module() -> Module {
    let client = Client::new(ClientConfig::default()).unwrap();
    WsModule::new(client, Vm::default(), ModuleConfig::host(), Instant::ZERO)
}

/// Ticks at virtual time `now` (real time passes for the sockets) until
/// `done`, or panics after 10 s of real time.
fn settle(m: &mut Module, now: u64, what: &str, mut done: impl FnMut(&Module) -> bool) {
    let deadline = StdInstant::now() + Duration::from_secs(10);
    loop {
        m.tick(Instant::from_millis(now));
        if done(m) {
            return;
        }
        assert!(
            StdInstant::now() < deadline,
            "timed out waiting for {what}; events {:?}; diagnostics {:?}",
            m.host().events,
            m.host().diagnostics
        );
        m.wait(Duration::from_millis(5));
    }
}

fn bind(m: &mut Module, h: i32) {
    assert_eq!(m.on(h, "connected", WS_PROTOCOL), 0);
    assert_eq!(m.on(h, "disconnected", WS_CLOSED), 0);
    assert_eq!(m.on(h, "message", WS_CONN_BYTES), 0);
}

#[test]
fn binary_with_nul_bytes_round_trips_and_close_with_reports_the_code() {
    let server = Server::start(Mode::Echo);
    let mut m = module();
    let headers = [("X-Token", "s3cret")];
    let protocols = ["chat.v2", "chat"];
    let h = m.open_with(
        &server.url("/"),
        &OpenOptions {
            headers: &headers,
            protocols: &protocols,
        },
    );
    assert!(h >= 0);
    bind(&mut m, h);
    settle(&mut m, 0, "connected", |m| !m.host().events.is_empty());
    assert_eq!(m.host().events, vec![Ev::Protocol(h, "chat.v2".into())]);
    let log = server.log();
    assert!(log.contains(&"x-token:s3cret".to_string()), "{log:?}");
    assert!(log.contains(&"protocol:chat.v2".to_string()), "{log:?}");

    let data = [0u8, 1, 2, 0, 0, 255, 0];
    assert_eq!(m.send_binary(h, &data), 7);
    assert_eq!(m.send(h, "a\0b"), 3, "text with NUL");
    settle(&mut m, 0, "two echoes", |m| m.host().events.len() == 3);
    assert_eq!(
        m.host().events[1..],
        [
            Ev::ConnBytes(h, data.to_vec()),
            Ev::ConnBytes(h, b"a\0b".to_vec())
        ]
    );

    // Invalid codes and reasons: -1, nothing sent, still open.
    assert_eq!(m.close_with(h, 1005, "x"), -1);
    assert_eq!(m.close_with(h, 4000, &"r".repeat(124)), -1);
    assert_eq!(m.last_error(), ErrorCode::InvalidArgument);
    assert_eq!(m.state(h), "open");
    assert_eq!(m.close_with(h, 4000, "bye"), 0);
    assert_eq!(m.state(h), "closed");
    settle(&mut m, 0, "disconnected", |m| m.slots_in_use() == 0);
    assert_eq!(
        m.host().events.last(),
        Some(&Ev::Closed(h, 4000, "bye".into())),
        "tungstenite echoes the code and reason"
    );
    let log = server.log();
    assert!(log.contains(&"binary:7".to_string()), "{log:?}");
    assert!(log.contains(&"close:4000".to_string()), "{log:?}");
}

#[test]
fn a_silent_server_is_detected_by_the_default_keepalive_then_reconnected() {
    let mut server = Server::start(Mode::SilentAfterOne);
    let mut m = module();
    let h = m.open(&server.url("/"));
    bind(&mut m, h);
    assert_eq!(m.set_auto_reconnect(h, true), 0);
    assert_eq!(m.set_reconnect_delays(h, &[1]), 0);
    settle(&mut m, 0, "connected", |m| !m.host().events.is_empty());
    assert_eq!(m.send_binary(h, b"x"), 1);
    assert_eq!(m.send(h, "once"), 4);
    settle(&mut m, 0, "the one echo", |m| m.host().events.len() == 2);
    settle(&mut m, 0, "the server falls silent", |_| {
        server.log().contains(&"silent".to_string())
    });
    // 20 s of silence: a ping goes out (the server never answers).
    m.tick(Instant::from_millis(19_999));
    m.tick(Instant::from_millis(20_000));
    // Up to interval + timeout nothing ends.
    m.tick(Instant::from_millis(39_999));
    assert_eq!(m.state(h), "open");
    assert_eq!(m.host().events.len(), 2);
    // At 40 s: "disconnected" with 1011, and a reconnect is scheduled.
    settle(&mut m, 40_000, "keepalive timeout", |m| {
        m.host().events.len() == 3
    });
    let Ev::Closed(conn, code, reason) = &m.host().events[2] else {
        panic!("{:?}", m.host().events);
    };
    assert_eq!((*conn, *code), (h, 1011));
    assert!(reason.contains("keepalive"), "{reason}");
    assert_eq!(m.state(h), "connecting");
    assert_eq!(m.next_reconnect(), Some(Instant::from_millis(41_000)));
    // The server is restarted (an echo server on the same port): the
    // scheduled attempt connects again.
    server.kill();
    let port = server.port;
    let _back = Server::start_on(port, Mode::Echo);
    settle(&mut m, 41_000, "connected again", |m| {
        m.host().events.len() == 4
    });
    assert_eq!(m.host().events[3], Ev::Protocol(h, String::new()));
    assert_eq!(m.send(h, "back"), 4);
    settle(&mut m, 41_000, "an echo after the reconnect", |m| {
        m.host().events.len() == 5
    });
    assert_eq!(m.close(h), 0);
}
