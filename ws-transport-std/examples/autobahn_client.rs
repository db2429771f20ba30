//! The Autobahn|Testsuite client protocol over this transport.
//!
//! ```text
//! cargo run --release -p ws-transport-std --example autobahn_client -- ws://127.0.0.1:9001 AGENT
//! ```
//!
//! `GET /getCaseCount`, then for each case `/runCase?case=N&agent=AGENT`
//! echoing every text and binary message back unchanged, then
//! `/updateReports?agent=AGENT`. Each case runs until its connection ends
//! (when the server closes, ws-proto queues the echo of its close frame and the
//! socket lingers until it is flushed and the server closed TCP).
//! With `AUTOBAHN_TRACE` set, each connection's timing goes to stderr.
//! Over `wss://` (`scripts/autobahn-wss.sh`, a TLS front before the fuzzing
//! server), `AUTOBAHN_CA` names a PEM file of roots to trust as well.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use ws_proto::{Message, SendError, SessionEvent};
use ws_transport_std::{Client, ClientConfig, Clock, CommandError, ConnId, TlsConfig};

/// Autobahn's largest messages (9.x) are 16 MiB.
const MAX_MESSAGE: usize = (16 << 20) + (64 << 10);

enum Echo {
    Text(String),
    Binary(Vec<u8>),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, agent] = args.as_slice() else {
        eprintln!("usage: autobahn_client ws://127.0.0.1:9001 AGENT");
        return ExitCode::from(2);
    };
    let base = base.trim_end_matches('/');
    match run(base, agent) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn_client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(base: &str, agent: &str) -> Result<(), Box<dyn std::error::Error>> {
    let config = ClientConfig {
        max_connections: 1,
        tx_capacity: MAX_MESSAGE + (64 << 10),
        rx_buffer: 256 << 10,
        max_message_size: MAX_MESSAGE,
        tls: TlsConfig {
            pem_roots: match std::env::var_os("AUTOBAHN_CA") {
                Some(path) => std::fs::read(path)?,
                None => Vec::new(),
            },
            ..TlsConfig::default()
        },
        ..ClientConfig::default()
    };
    let mut client = Client::new(config)?;
    let clock = Clock::new();
    let count = session(&mut client, &clock, &format!("{base}/getCaseCount"), false)?
        .ok_or("no case count")?;
    let count: u32 = count.trim().parse()?;
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        session(&mut client, &clock, &url, true)?;
    }
    session(
        &mut client,
        &clock,
        &format!("{base}/updateReports?agent={agent}"),
        false,
    )?;
    Ok(())
}

/// Runs one connection until it ends; returns its first text message.
fn session(
    client: &mut Client,
    clock: &Clock,
    url: &str,
    echo: bool,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let t0 = clock.now();
    let trace = std::env::var_os("AUTOBAHN_TRACE").is_some();
    let id = client.open(url, clock.now())?;
    let mut first = None;
    let mut pending: VecDeque<Echo> = VecDeque::new();
    let give_up = clock.now().plus_millis(300_000);
    loop {
        let mut ended = false;
        let now = clock.now();
        while let Some((_, event)) = client.poll(now) {
            match event {
                SessionEvent::Message(Message::Text(t)) => {
                    if first.is_none() {
                        first = Some(t.to_owned());
                    }
                    if echo {
                        pending.push_back(Echo::Text(t.to_owned()));
                    }
                }
                SessionEvent::Message(Message::Binary(b)) if echo => {
                    pending.push_back(Echo::Binary(b.to_vec()));
                }
                SessionEvent::Connected { .. } if trace => {
                    eprintln!("{url}: connected after {} ms", clock.now().millis_since(t0));
                }
                SessionEvent::Closed(why) => {
                    if trace {
                        eprintln!("{url}: {why} after {} ms", clock.now().millis_since(t0));
                    }
                    ended = true;
                }
                _ => {}
            }
            if echo && !ended {
                flush(client, id, &mut pending);
            }
        }
        if ended {
            break;
        }
        if echo {
            flush(client, id, &mut pending);
        }
        if clock.now() >= give_up {
            return Err(format!("{url}: no end after 300 s").into());
        }
        client.wait(clock.now(), Duration::from_secs(1))?;
    }
    let until = clock.now().plus_millis(5_000);
    loop {
        while client.poll(clock.now()).is_some() {}
        if client.lingering() == 0 || clock.now() >= until {
            break;
        }
        client.wait(clock.now(), Duration::from_millis(200))?;
    }
    if trace {
        eprintln!("{url}: done after {} ms", clock.now().millis_since(t0));
    }
    Ok(first)
}

/// Sends queued echoes in order until the queue pushes back.
fn flush(client: &mut Client, id: ConnId, pending: &mut VecDeque<Echo>) {
    while let Some(m) = pending.front() {
        let r = match m {
            Echo::Text(t) => client.send_text(id, t),
            Echo::Binary(b) => client.send_binary(id, b),
        };
        match r {
            Err(CommandError::Send(SendError::Backpressure)) => return,
            // Sent, or refused for good (the connection is closing): drop it.
            _ => {
                pending.pop_front();
            }
        }
    }
}
