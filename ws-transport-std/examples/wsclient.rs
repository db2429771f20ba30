//! A line-based WebSocket client: each stdin line goes out as a text
//! message, each message received is printed on its own stdout line.
//!
//! ```text
//! cargo run -p ws-transport-std --example wsclient -- ws://127.0.0.1:9001/
//! ```
//!
//! Diagnostics go to stderr. At the end of stdin (Ctrl-D) it sends every line
//! still queued, closes with 1000, waits for the server's close and exits 0.
//! It exits 1 when the connection ends any other way, 2 on bad usage.
//! Stdin is read on a thread that hands lines over a channel and wakes the
//! event loop, which never blocks on anything but `Client::wait`.

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use ws_proto::{Disconnect, Message, SendError, SessionEvent, State};
use ws_transport_std::{Client, ClientConfig, Clock, CommandError};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(url), None) = (args.next(), args.next()) else {
        eprintln!("usage: wsclient ws://HOST[:PORT][/PATH]");
        return ExitCode::from(2);
    };
    match run(&url) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("wsclient: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs the session; `Ok(true)` for a clean close.
fn run(url: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let clock = Clock::new();
    let config = ClientConfig {
        max_connections: 1,
        ..ClientConfig::default()
    };
    let mut client = Client::new(config)?;
    let id = client.open(url, clock.now())?;

    let (lines_tx, lines) = mpsc::channel::<Option<String>>();
    let notifier = client.notifier();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    if lines_tx.send(Some(line)).is_err() {
                        return;
                    }
                    let _ = notifier.notify();
                }
            }
        }
        let _ = lines_tx.send(None);
        let _ = notifier.notify();
    });

    let mut outbox: VecDeque<String> = VecDeque::new();
    let mut stdin_done = false;
    let mut closing = false;
    let stdout = std::io::stdout();
    let clean = loop {
        let now = clock.now();
        while let Ok(line) = lines.try_recv() {
            match line {
                Some(l) => outbox.push_back(l),
                None => stdin_done = true,
            }
        }
        if client.state(id) == Some(State::Open) {
            while let Some(line) = outbox.front() {
                match client.send_text(id, line) {
                    Ok(()) => {
                        outbox.pop_front();
                    }
                    Err(CommandError::Send(SendError::Backpressure)) => break,
                    Err(e) => {
                        eprintln!("wsclient: line not sent: {e}");
                        outbox.pop_front();
                    }
                }
            }
            if stdin_done && outbox.is_empty() && !closing {
                client.close(id, now, 1000, "")?;
                closing = true;
            }
        }
        let mut ended = None;
        let mut any = false;
        while let Some((_, event)) = client.poll(now) {
            any = true;
            match event {
                SessionEvent::Connected { .. } => eprintln!("wsclient: connected to {url}"),
                SessionEvent::Message(Message::Text(t)) => {
                    let mut out = stdout.lock();
                    writeln!(out, "{t}")?;
                    out.flush()?;
                }
                SessionEvent::Message(Message::Binary(b)) => {
                    let mut out = stdout.lock();
                    writeln!(out, "{}", String::from_utf8_lossy(b))?;
                    out.flush()?;
                }
                SessionEvent::Fragment { .. } => {}
                SessionEvent::Ping(_) => eprintln!("wsclient: ping"),
                SessionEvent::Pong(_) => eprintln!("wsclient: pong"),
                SessionEvent::Closed(why) => {
                    eprintln!("wsclient: {why}");
                    ended = Some(matches!(why, Disconnect::Clean(_)));
                }
            }
        }
        if let Some(clean) = ended {
            break clean;
        }
        if any {
            // An event may have made queued lines sendable: no sleep yet.
            continue;
        }
        client.wait(clock.now(), Duration::from_secs(1))?;
    };
    // Let the last bytes (a close echo) leave before exiting.
    let until = clock.now().plus_millis(3_000);
    loop {
        while client.poll(clock.now()).is_some() {}
        if client.lingering() == 0 || clock.now() >= until {
            break;
        }
        client.wait(clock.now(), Duration::from_millis(100))?;
    }
    Ok(clean)
}
