//! `wsclient`: talk to a WebSocket server from a terminal or a pipe.
//!
//! ```text
//! cargo run -p ws-transport-std --example wsclient -- ws://127.0.0.1:9001/
//! cargo run -p ws-transport-std --example wsclient -- --help
//! ```
//!
//! Text mode (the default): each stdin line goes out as a text message, each
//! message received is printed on its own stdout line. `-b`: stdin is sent in
//! chunks as binary messages and every message received is written to stdout
//! raw, so `wsclient -b URL < in > out` against an echo server copies `in` to
//! `out` byte for byte.
//!
//! At the end of stdin it sends what is still queued, closes with
//! `--close-code` / `--close-reason` (1000, empty) and waits for the server's
//! close; with `-n` it does not close but waits for the server to. Exit code
//! 0 after a clean close handshake, 1 when the connection ends any other way
//! or fails (the reason on stderr), 2 on a usage error.
//!
//! `wss://` URLs trust Mozilla's roots, plus those of `--ca FILE` (PEM);
//! there is no way to skip verification. The chosen subprotocol is printed
//! on connect, and how the connection ended (close code and reason, or the
//! link or protocol error) on exit, both on stderr.
//!
//! Stdin is read on a thread that hands lines or chunks over a bounded
//! channel and wakes the event loop, which never blocks on anything but
//! `Client::wait`.

use std::error::Error;
use std::io::{BufRead, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use ws_transport_std::ws_proto::{close, Url};
use ws_transport_std::{
    Client, ClientConfig, Clock, CommandError, ConnId, Disconnect, HandshakeOptions, Instant,
    Message, SendError, SessionEvent, State, TlsConfig,
};

/// A WebSocket client for the terminal: stdin to the server, the server to stdout.
#[derive(Parser, Debug)]
#[command(name = "wsclient", version)]
struct Cli {
    /// The server, `ws://` or `wss://HOST[:PORT][/PATH][?QUERY]`.
    #[arg(value_parser = parse_url)]
    url: String,
    /// Binary mode: stdin chunks go out as binary messages, messages are written
    /// to stdout raw (no newline added).
    #[arg(short, long)]
    binary: bool,
    /// The largest message accepted (and sent), in bytes (a longer stdin line
    /// is refused with a diagnostic, nothing sent).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20,
          value_parser = clap::value_parser!(u32).range(1..=(1 << 30) - 4096))]
    max_message: u32,
    /// At the end of stdin, do not close: wait for the server to close.
    #[arg(short = 'n', long)]
    no_close: bool,
    /// The status code of our close frame.
    #[arg(long, value_name = "CODE", default_value_t = 1000, value_parser = parse_close_code)]
    close_code: u16,
    /// The reason of our close frame (at most 123 bytes of UTF-8).
    #[arg(long, value_name = "TEXT", default_value = "", value_parser = parse_close_reason)]
    close_reason: String,
    /// Report pings and pongs from the server on stderr.
    #[arg(long)]
    print_pings: bool,
    /// An extra request header, `-H 'Name: value'` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// A subprotocol to offer (repeatable, in order of preference).
    #[arg(long = "protocol", value_name = "P", value_parser = parse_protocol)]
    protocols: Vec<String>,
    /// Also trust the CA certificates in this PEM file for `wss://`
    /// (checked before anything is sent; there is no --insecure).
    #[arg(long, value_name = "FILE", value_parser = parse_ca)]
    ca: Option<TlsConfig>,
    /// Keepalive: send a ping after this many seconds without any byte from
    /// the server (0: off).
    #[arg(long, value_name = "SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    ping_interval: u32,
    /// Keepalive: end the connection (close code 1011) when nothing arrives
    /// this many seconds after that ping (0: ping, never end).
    #[arg(long, value_name = "SECS", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=86_400))]
    ping_timeout: u32,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print to stdout and exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    match run(&cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("wsclient: {e}");
            ExitCode::from(1)
        }
    }
}

/// Opens the connection with the extra headers and subprotocols asked for.
fn open(
    client: &mut Client,
    url: &str,
    opts: &HandshakeOptions<'_>,
    now: Instant,
) -> Result<ConnId, Box<dyn Error>> {
    Ok(client.open_with(url, opts, now)?)
}

/// What the stdin thread hands over.
enum Input {
    Data(Vec<u8>),
    Eof,
    Failed(String),
}

/// Runs the session; `Ok(true)` after a clean close handshake (the reason
/// for any end is already on stderr).
fn run(cli: &Cli) -> Result<bool, Box<dyn Error>> {
    let max_message = cli.max_message as usize;
    let config = ClientConfig {
        max_connections: 1,
        max_message_size: max_message,
        tls: cli.ca.clone().unwrap_or_default(),
        ..ClientConfig::default()
    };
    let mut config = config;
    config.proto.ping_interval_ms = u64::from(cli.ping_interval) * 1000;
    config.proto.pong_timeout_ms = u64::from(cli.ping_timeout) * 1000;
    let clock = Clock::new();
    let mut client = Client::new(config)?;
    let headers: Vec<(&str, &str)> = cli
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let protocols: Vec<&str> = cli.protocols.iter().map(String::as_str).collect();
    let opts = HandshakeOptions {
        protocols: &protocols,
        headers: &headers,
    };
    let id = open(&mut client, &cli.url, &opts, clock.now())?;

    // A bounded channel: a fast stdin waits for the socket instead of piling up.
    let (input_tx, input) = mpsc::sync_channel::<Input>(16);
    let notifier = client.notifier();
    let binary = cli.binary;
    let chunk = max_message.min(64 << 10);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        let mut buf = Vec::new();
        let last = loop {
            buf.clear();
            let read = if binary {
                buf.resize(chunk, 0);
                let n = stdin.read(&mut buf);
                buf.truncate(*n.as_ref().unwrap_or(&0));
                n
            } else {
                let n = stdin.read_until(b'\n', &mut buf);
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                n
            };
            match read {
                Ok(0) => break Input::Eof,
                Ok(_) => {
                    if input_tx.send(Input::Data(buf.clone())).is_err() {
                        return;
                    }
                    let _ = notifier.notify();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Input::Failed(format!("stdin: {e}")),
            }
        };
        let _ = input_tx.send(last);
        let _ = notifier.notify();
    });

    let mut pending: Option<Vec<u8>> = None;
    let mut stdin_done = false;
    let mut closing = false;
    let stdout = std::io::stdout();
    let clean = loop {
        let now = clock.now();
        if client.state(id) == Some(State::Open) {
            loop {
                if pending.is_none() && !stdin_done {
                    match input.try_recv() {
                        Ok(Input::Data(d)) => pending = Some(d),
                        Ok(Input::Eof) | Err(mpsc::TryRecvError::Disconnected) => stdin_done = true,
                        Ok(Input::Failed(e)) => {
                            eprintln!("wsclient: {e}");
                            stdin_done = true;
                        }
                        Err(mpsc::TryRecvError::Empty) => {}
                    }
                }
                let Some(data) = pending.as_deref() else {
                    break;
                };
                let sent = if binary {
                    client.send_binary(id, data)
                } else {
                    client.send_text(id, &String::from_utf8_lossy(data))
                };
                match sent {
                    Ok(()) => pending = None,
                    Err(CommandError::Send(SendError::Backpressure)) => break,
                    Err(e) => {
                        eprintln!("wsclient: not sent: {e}");
                        pending = None;
                    }
                }
            }
            if stdin_done && pending.is_none() && !closing && !cli.no_close {
                client.close(id, now, cli.close_code, &cli.close_reason)?;
                closing = true;
            }
        }
        let mut ended = None;
        let mut any = false;
        while let Some((_, event)) = client.poll(now) {
            any = true;
            match event {
                SessionEvent::Connected { protocol } => match protocol {
                    Some(p) => eprintln!("wsclient: connected to {} (subprotocol {p})", cli.url),
                    None => eprintln!("wsclient: connected to {}", cli.url),
                },
                SessionEvent::Message(m) => {
                    let mut out = stdout.lock();
                    match (m, binary) {
                        (Message::Text(t), false) => writeln!(out, "{t}")?,
                        (Message::Binary(b), false) => {
                            writeln!(out, "{}", String::from_utf8_lossy(b))?
                        }
                        (Message::Text(t), true) => out.write_all(t.as_bytes())?,
                        (Message::Binary(b), true) => out.write_all(b)?,
                    }
                    out.flush()?;
                }
                SessionEvent::Fragment { .. } => {}
                SessionEvent::Ping(p) if cli.print_pings => {
                    eprintln!("wsclient: ping ({} bytes)", p.len())
                }
                SessionEvent::Pong(p) if cli.print_pings => {
                    eprintln!("wsclient: pong ({} bytes)", p.len())
                }
                SessionEvent::Closed(why) => {
                    eprintln!("wsclient: ended: {why}");
                    ended = Some(matches!(why, Disconnect::Clean(_)));
                }
                // Unreported pings and pongs, and kinds a later version adds.
                _ => {}
            }
        }
        if let Some(clean) = ended {
            break clean;
        }
        if any {
            // An event may have made queued input sendable: no sleep yet.
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

fn parse_url(s: &str) -> Result<String, String> {
    Url::parse(s)
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

/// Mozilla's roots plus the file's, checked now.
fn parse_ca(path: &str) -> Result<TlsConfig, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let tls = TlsConfig {
        pem_roots: pem,
        ..TlsConfig::default()
    };
    tls.check().map_err(|e| format!("{path}: {e}"))?;
    Ok(tls)
}

fn parse_close_code(s: &str) -> Result<u16, String> {
    let code: u16 = s.parse().map_err(|e| format!("{e}"))?;
    if close::is_valid_code(code) {
        Ok(code)
    } else {
        Err(format!("{code} may not be sent in a close frame"))
    }
}

fn parse_close_reason(s: &str) -> Result<String, String> {
    if s.len() > 123 {
        return Err(format!("{} bytes, at most 123 fit a close frame", s.len()));
    }
    Ok(s.to_owned())
}

/// An HTTP token (RFC 9110 section 5.6.2).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err("expected 'Name: value'".into());
    };
    let (name, value) = (name.trim(), value.trim());
    if !is_token(name) {
        return Err(format!("{name:?} is not a header name"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a header value may not contain CR, LF or NUL".into());
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_protocol(s: &str) -> Result<String, String> {
    if is_token(s) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not a subprotocol token"))
    }
}
