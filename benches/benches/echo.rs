//! Loopback echo of 32-byte text messages over one connection, against the
//! same echo server (`ws_benches::echo_server`, one thread per connection):
//! - ping-pong: send one message, wait for its echo;
//! - pipelined: send 10,000, read 10,000 (as fast as the socket takes them).
//!
//! ws-proto through its std transport (`ws-transport-std`: mio, `poll` +
//! `wait`, getrandom-backed mask keys) against tungstenite's client (blocking
//! socket for ping-pong; non-blocking + mio readiness for pipelining), and
//! the anchor: raw TCP echo of the same 32 bytes (no WebSocket framing).
//! Run pinned to one CPU (`taskset -c 1`) so client and server share it.
//! Every connection stays open while the group's members run one after
//! another (criterion), each timed in the process's CPU time
//! (`common::ProcessCpu`: both threads and their system calls), which on
//! one pinned CPU is the round trip without other processes' load.

mod common;

use std::hint::black_box;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use criterion::Throughput;
use mio::{Events, Interest, Poll, Token};
use ws_benches::ascii_payload;
use ws_benches::echo_server::{EchoServer, Mode};
use ws_proto::{Message, SessionEvent};
use ws_transport_std::{Client, ClientConfig, Clock, CommandError, ConnId};

const LEN: usize = 32;
const PIPELINE: usize = 10_000;
const WAIT: Duration = Duration::from_secs(5);

fn open_ours(url: &str) -> (Client, ConnId, Clock) {
    let clock = Clock::new();
    let mut client = Client::new(ClientConfig::default()).unwrap();
    let id = client.open(url, clock.now()).unwrap();
    loop {
        match client.poll(clock.now()) {
            Some((_, SessionEvent::Connected { .. })) => break,
            Some((_, SessionEvent::Closed(why))) => panic!("connect failed: {why}"),
            Some(_) => {}
            None => client.wait(clock.now(), WAIT).unwrap(),
        }
    }
    (client, id, clock)
}

/// Receives until `n` text messages arrived.
fn receive_ours(client: &mut Client, clock: &Clock, n: usize) {
    let mut got = 0;
    while got < n {
        match client.poll(clock.now()) {
            Some((_, SessionEvent::Message(Message::Text(t)))) => {
                black_box(t);
                got += 1;
            }
            Some((_, SessionEvent::Closed(why))) => panic!("closed: {why}"),
            Some(_) => {}
            None => client.wait(clock.now(), WAIT).unwrap(),
        }
    }
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if io.kind() == ErrorKind::WouldBlock)
}

fn main() {
    let mut c = common::criterion(common::ProcessCpu);
    let text = ascii_payload(LEN);
    let stat: &'static str = Box::leak(text.clone().into_boxed_str());
    let ws_server = EchoServer::start(Mode::WebSocket).unwrap();
    let raw_server = EchoServer::start(Mode::Raw).unwrap();
    let url = ws_server.url();

    // ---- ping-pong ----
    let mut g = common::group(
        &mut c,
        "echo_pingpong",
        Throughput::Elements(1),
        Duration::from_millis(500),
        Duration::from_secs(2),
    );
    let (mut client, id, clock) = open_ours(&url);
    g.bench_function("ws_proto", move |b| {
        b.iter(|| {
            client.send_text(id, stat).unwrap();
            receive_ours(&mut client, &clock, 1);
        })
    });

    let stream = TcpStream::connect(ws_server.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
    let msg = tungstenite::Utf8Bytes::from_static(stat);
    g.bench_function("tungstenite", move |b| {
        b.iter(|| {
            ws.send(tungstenite::Message::Text(msg.clone())).unwrap();
            match ws.read().unwrap() {
                tungstenite::Message::Text(t) => black_box(t),
                m => panic!("unexpected {m:?}"),
            };
        })
    });

    let mut raw = TcpStream::connect(raw_server.addr()).unwrap();
    raw.set_nodelay(true).unwrap();
    let mut back = [0u8; LEN];
    g.bench_function("anchor_raw_tcp", move |b| {
        b.iter(|| {
            raw.write_all(stat.as_bytes()).unwrap();
            raw.read_exact(&mut back).unwrap();
            black_box(&back);
        })
    });
    g.finish();

    // ---- pipelined ----
    let mut g = common::group(
        &mut c,
        "echo_pipelined",
        Throughput::Elements(PIPELINE as u64),
        Duration::from_millis(500),
        Duration::from_secs(2),
    );
    let (mut client, id, clock) = open_ours(&url);
    g.bench_function("ws_proto", move |b| {
        b.iter(|| {
            {
                let (mut sent, mut got) = (0, 0);
                while got < PIPELINE {
                    while sent < PIPELINE {
                        match client.send_text(id, stat) {
                            Ok(()) => sent += 1,
                            Err(CommandError::Send(ws_proto::SendError::Backpressure)) => break,
                            Err(e) => panic!("send: {e}"),
                        }
                    }
                    let mut progressed = false;
                    // One clock reading per turn, as the VM binding's `tick` does.
                    let now = clock.now();
                    while let Some((_, ev)) = client.poll(now) {
                        match ev {
                            SessionEvent::Message(Message::Text(t)) => {
                                black_box(t);
                                got += 1;
                                progressed = true;
                            }
                            SessionEvent::Closed(why) => panic!("closed: {why}"),
                            _ => {}
                        }
                    }
                    if !progressed && got < PIPELINE {
                        client.wait(clock.now(), WAIT).unwrap();
                    }
                }
            }
        })
    });

    // tungstenite over a non-blocking socket, woken by mio (edge-triggered:
    // every read and write goes on until WouldBlock before waiting).
    let stream = TcpStream::connect(ws_server.addr()).unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
    let (mut poll, mut events, dup) = readiness(ws.get_ref());
    let msg = tungstenite::Utf8Bytes::from_static(stat);
    g.bench_function("tungstenite", move |b| {
        b.iter(|| {
            let _registered = &dup; // mio watches this duplicate
            {
                let (mut sent, mut got) = (0, 0);
                while got < PIPELINE {
                    let mut progressed = false;
                    while sent < PIPELINE {
                        sent += 1; // queued even when the write would block
                        progressed = true;
                        match ws.write(tungstenite::Message::Text(msg.clone())) {
                            Ok(()) => {}
                            Err(e) if would_block(&e) => break,
                            Err(e) => panic!("write: {e}"),
                        }
                    }
                    match ws.flush() {
                        Ok(()) => {}
                        Err(e) if would_block(&e) => {}
                        Err(e) => panic!("flush: {e}"),
                    }
                    loop {
                        match ws.read() {
                            Ok(tungstenite::Message::Text(t)) => {
                                black_box(t);
                                got += 1;
                                progressed = true;
                            }
                            Ok(_) => {}
                            Err(e) if would_block(&e) => break,
                            Err(e) => panic!("read: {e}"),
                        }
                    }
                    if !progressed && got < PIPELINE {
                        poll.poll(&mut events, Some(WAIT)).unwrap();
                    }
                }
            }
        })
    });

    let raw2 = TcpStream::connect(raw_server.addr()).unwrap();
    raw2.set_nodelay(true).unwrap();
    let (mut rpoll, mut revents, rdup) = readiness(&raw2);
    let mut raw2 = raw2;
    let out: Vec<u8> = text.as_bytes().repeat(PIPELINE);
    let mut inbuf = vec![0u8; 256 << 10];
    g.bench_function("anchor_raw_tcp", move |b| {
        b.iter(|| {
            let _registered = &rdup;
            {
                let (mut sent, mut got) = (0, 0);
                while got < out.len() {
                    let mut progressed = false;
                    while sent < out.len() {
                        match raw2.write(&out[sent..]) {
                            Ok(n) => {
                                sent += n;
                                progressed = true;
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("write: {e}"),
                        }
                    }
                    loop {
                        match raw2.read(&mut inbuf) {
                            Ok(0) => panic!("server closed"),
                            Ok(n) => {
                                black_box(&inbuf[..n]);
                                got += n;
                                progressed = true;
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("read: {e}"),
                        }
                    }
                    if !progressed && got < out.len() {
                        rpoll.poll(&mut revents, Some(WAIT)).unwrap();
                    }
                }
            }
        })
    });
    g.finish();
    c.final_summary();
}

/// Makes `stream` non-blocking and registers a duplicate of it with a new
/// mio poller (the flag is shared by both handles). Keep the returned
/// duplicate alive while polling.
fn readiness(stream: &TcpStream) -> (Poll, Events, mio::net::TcpStream) {
    let dup = stream.try_clone().unwrap();
    dup.set_nonblocking(true).unwrap();
    let mut mio_stream = mio::net::TcpStream::from_std(dup);
    let poll = Poll::new().unwrap();
    poll.registry()
        .register(
            &mut mio_stream,
            Token(0),
            Interest::READABLE | Interest::WRITABLE,
        )
        .unwrap();
    (poll, Events::with_capacity(8), mio_stream)
}
