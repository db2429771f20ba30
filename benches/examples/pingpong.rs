//! Runs N ping-pong round trips of 32 B text over loopback (the `echo`
//! bench's first group) with one client, for counting system calls and CPU
//! time per round trip:
//!
//! ```text
//! perf stat -e 'syscalls:sys_enter_*' -e task-clock \
//!     taskset -c 1 target/release/examples/pingpong ours 20000
//! ```
//!
//! Per round trip = (count(N) - count(0)) / N; the server (a thread of the
//! same process, `ws_benches::echo_server`) is counted too, the same for
//! every client. CLIENT is `ours` (the std `Client`, `poll` + `wait`) or
//! `tungstenite` (its blocking client).

use std::hint::black_box;
use std::net::TcpStream;
use std::time::Duration;

use ws_benches::ascii_payload;
use ws_benches::echo_server::{EchoServer, Mode};
use ws_proto::{Message, SessionEvent};
use ws_transport_std::{Client, ClientConfig, Clock};

const WAIT: Duration = Duration::from_secs(5);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (who, n) = match args.as_slice() {
        [_, who, n] => (who.as_str(), n.parse::<usize>().unwrap()),
        _ => panic!("usage: pingpong ours|tungstenite N"),
    };
    let text: &'static str = Box::leak(ascii_payload(32).into_boxed_str());
    let server = EchoServer::start(Mode::WebSocket).unwrap();
    let url = server.url();
    match who {
        "ours" => {
            let clock = Clock::new();
            let mut client = Client::new(ClientConfig::default()).unwrap();
            let id = client.open(&url, clock.now()).unwrap();
            let mut got = 0;
            let mut connected = false;
            // The handshake, then 1,000 warm-up round trips and n more.
            while got < 1000 + n {
                match client.poll(clock.now()) {
                    Some((_, SessionEvent::Connected { .. })) => connected = true,
                    Some((_, SessionEvent::Message(Message::Text(t)))) => {
                        black_box(t);
                        got += 1;
                    }
                    Some((_, SessionEvent::Closed(why))) => panic!("closed: {why}"),
                    Some(_) => continue,
                    None => {
                        client.wait(clock.now(), WAIT).unwrap();
                        continue;
                    }
                }
                if connected {
                    client.send_text(id, text).unwrap();
                }
            }
        }
        "tungstenite" => {
            let stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_nodelay(true).unwrap();
            let (mut ws, _) = tungstenite::client(url.as_str(), stream).unwrap();
            let msg = tungstenite::Utf8Bytes::from_static(text);
            for _ in 0..1000 + n {
                ws.send(tungstenite::Message::Text(msg.clone())).unwrap();
                black_box(ws.read().unwrap());
            }
        }
        other => panic!("unknown client {other}"),
    }
}
