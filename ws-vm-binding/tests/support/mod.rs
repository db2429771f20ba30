//! Shared by the integration tests and the examples: a tungstenite server on
//! 127.0.0.1 that can be killed and restarted on the same port, and a small
//! VM host that records (or prints) what the module emits.
#![allow(dead_code, unreachable_pub)]

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::Frame;
use tungstenite::{Message, WebSocket};
use ws_vm_binding::{signature_hash, EventType, Host, Value};

/// What the server does with each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Echoes every text and binary message.
    Echo,
    /// Completes the handshake, echoes one message, then stays silent with
    /// the TCP connection open (a half-open link); pings go unanswered.
    SilentAfterOne,
    /// Answers `{"cmd": c, "id": n}` with `{"status": "<c>ed", "id": n}`.
    Command,
    /// Sends `{"value": n}` every `interval_ms`, n counting from 1 per connection.
    Sensors { interval_ms: u64 },
    /// Reads and discards everything (a slow consumer when the client outruns it).
    Sink,
    /// Sends one text message of `len` bytes, then reads.
    Big { len: usize },
    /// Sends a binary message, then "after", then echoes.
    BinaryThenText,
    /// Sends "Hello, fragmented world" in three fragments, then echoes.
    Fragmented,
}

/// A tungstenite server thread; [`Server::kill`] drops the listener and
/// every connection at once (the client sees the TCP connection end).
pub struct Server {
    pub port: u16,
    mode: Mode,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// "connect", "text:<msg>", "binary:<len>", "close:<code>" per event seen.
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// A server on a free port of 127.0.0.1.
    pub fn start(mode: Mode) -> Server {
        Self::start_on(0, mode)
    }

    /// A server on `port` (0: any free port); retries while the port is busy.
    pub fn start_on(port: u16, mode: Mode) -> Server {
        let deadline = StdInstant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => break l,
                Err(e) if StdInstant::now() < deadline => {
                    eprintln!("bind 127.0.0.1:{port}: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (stop.clone(), log.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, mode, s, l));
        Server {
            port,
            mode,
            stop,
            thread: Some(thread),
            log,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// Stops accepting and drops every connection; returns when all are gone.
    pub fn kill(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }

    /// A new server with the same mode on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let fresh = Server::start_on(self.port, self.mode);
        // The old (already killed) server is dropped here.
        drop(std::mem::replace(self, fresh));
    }

    /// Whether the server accepts connections (not killed).
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn accept_loop(
    listener: TcpListener,
    mode: Mode,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
) {
    let mut conns = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (s, l) = (stop.clone(), log.clone());
                conns.push(std::thread::spawn(move || serve(stream, mode, &s, &l)));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    drop(listener);
    for c in conns {
        let _ = c.join();
    }
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

fn serve(stream: TcpStream, mode: Mode, stop: &AtomicBool, log: &Mutex<Vec<String>>) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The first offered subprotocol is chosen; it and an `X-Token` header
    // are logged ("protocol:<p>", "x-token:<v>") before the response goes
    // out, so a client that saw "connected" finds them in the log.
    let seen = |line: String| log.lock().unwrap().push(line);
    // tungstenite's callback type returns its large `ErrorResponse`.
    #[allow(clippy::result_large_err)]
    let pick = |req: &Request, mut resp: Response| {
        if let Some(v) = req.headers().get("x-token") {
            seen(format!("x-token:{}", v.to_str().unwrap_or("?")));
        }
        let first = req
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(|p| p.trim().to_string());
        if let Some(p) = first {
            seen(format!("protocol:{p}"));
            resp.headers_mut()
                .insert("sec-websocket-protocol", p.parse().unwrap());
        }
        Ok(resp)
    };
    let Ok(mut ws) = tungstenite::accept_hdr(stream, pick) else {
        return;
    };
    log.lock().unwrap().push("connect".into());
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    if mode == Mode::SilentAfterOne {
        return echo_once_then_silent(&mut ws, stop, log);
    }
    let mut counter = 0u64;
    let mut last_sent = StdInstant::now();
    match mode {
        Mode::Big { len } => send(&mut ws, Message::text("x".repeat(len))),
        Mode::BinaryThenText => {
            send(&mut ws, Message::binary(vec![1u8, 2, 3]));
            send(&mut ws, Message::text("after"));
        }
        Mode::Fragmented => {
            let t = OpCode::Data(Data::Text);
            let c = OpCode::Data(Data::Continue);
            for frame in [
                Frame::message("Hello, ", t, false),
                Frame::message("fragmented", c, false),
                Frame::message(" world", c, true),
            ] {
                send(&mut ws, Message::Frame(frame));
            }
        }
        _ => {}
    }
    while !stop.load(Ordering::SeqCst) {
        if let Mode::Sensors { interval_ms } = mode {
            if last_sent.elapsed() >= Duration::from_millis(interval_ms) {
                counter += 1;
                last_sent = StdInstant::now();
                let msg = format!("{{\"value\": {counter}}}");
                if ws.send(Message::text(msg)).is_err() {
                    return;
                }
            }
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                log.lock().unwrap().push(format!("text:{}", t.as_str()));
                let reply = match mode {
                    Mode::Echo | Mode::BinaryThenText | Mode::Fragmented => Some(t.to_string()),
                    Mode::Command => Some(command_reply(t.as_str())),
                    _ => None,
                };
                if let Some(r) = reply {
                    if ws.send(Message::text(r)).is_err() {
                        return;
                    }
                }
            }
            Ok(Message::Binary(b)) => {
                log.lock().unwrap().push(format!("binary:{}", b.len()));
                if mode == Mode::Echo && ws.send(Message::binary(b)).is_err() {
                    return;
                }
            }
            Ok(Message::Close(frame)) => {
                let code = frame.map_or(1005, |f| u16::from(f.code));
                log.lock().unwrap().push(format!("close:{code}"));
            }
            Ok(_) => {}
            Err(e) if would_block(&e) => {}
            Err(_) => return,
        }
    }
    // Killed: drop the socket without a close frame, like a crashed server.
}

/// Echoes the first text message, then reads nothing more (pings go
/// unanswered) and keeps the TCP connection open until killed.
fn echo_once_then_silent(
    ws: &mut WebSocket<TcpStream>,
    stop: &AtomicBool,
    log: &Mutex<Vec<String>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match ws.read() {
            Ok(Message::Text(t)) => {
                log.lock().unwrap().push(format!("text:{}", t.as_str()));
                if ws.send(Message::text(t)).is_err() {
                    return;
                }
                break;
            }
            Ok(_) => {}
            Err(e) if would_block(&e) => {}
            Err(_) => return,
        }
    }
    log.lock().unwrap().push("silent".into());
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn send(ws: &mut WebSocket<TcpStream>, m: Message) {
    let _ = ws.send(m);
}

fn command_reply(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let cmd = v["cmd"].as_str().unwrap_or("unknown");
    serde_json::json!({ "status": format!("{cmd}ed"), "id": v["id"] }).to_string()
}

/// Seconds since the first call, as "[  1.234s]", for timestamped output.
pub fn stamp() -> String {
    static EPOCH: OnceLock<StdInstant> = OnceLock::new();
    let t = EPOCH.get_or_init(StdInstant::now).elapsed();
    format!("[{:7.3}s]", t.as_secs_f64())
}

/// The event types a script declares for the document's patterns.
pub const WS_CONNECTED: EventType = 1;
pub const WS_DISCONNECTED: EventType = 2;
pub const WS_MESSAGE: EventType = 3;
pub const WS_CONN_MESSAGE: EventType = 4;
/// `{ conn: i32, message: bytes }`.
pub const WS_CONN_BYTES: EventType = 5;
/// `{ conn: i32, code: i32, reason: string }`.
pub const WS_CLOSED: EventType = 6;
/// `{ conn: i32, protocol: string }`.
pub const WS_PROTOCOL: EventType = 7;

/// An emitted event, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    Connected(i32),
    Disconnected(i32),
    Message(String),
    ConnMessage(i32, String),
    ConnBytes(i32, Vec<u8>),
    Closed(i32, i32, String),
    Protocol(i32, String),
}

/// A VM that declares `WsConnected { conn: i32 }`, `WsDisconnected { conn:
/// i32 }`, `WsMessage { message: string }` and `WsConnMessage { conn: i32,
/// message: string }`, and queues what the module emits, like a VM's event
/// queue; `echo_diagnostics` prints diagnostics as they come.
#[derive(Debug, Default)]
pub struct Vm {
    pub events: Vec<Ev>,
    pub diagnostics: Vec<String>,
    pub echo_diagnostics: bool,
}

impl Host for Vm {
    fn signature_hash(&self, event_type: EventType) -> Option<u32> {
        Some(match event_type {
            WS_CONNECTED | WS_DISCONNECTED => signature_hash(&[("conn", "i32")]),
            WS_MESSAGE => signature_hash(&[("message", "string")]),
            WS_CONN_MESSAGE => signature_hash(&[("conn", "i32"), ("message", "string")]),
            WS_CONN_BYTES => signature_hash(&[("conn", "i32"), ("message", "bytes")]),
            WS_CLOSED => signature_hash(&[("conn", "i32"), ("code", "i32"), ("reason", "string")]),
            WS_PROTOCOL => signature_hash(&[("conn", "i32"), ("protocol", "string")]),
            _ => return None,
        })
    }

    fn emit(&mut self, event_type: EventType, fields: &[Value<'_>]) {
        let ev = match (event_type, fields) {
            (WS_CONNECTED, [Value::I32(c)]) => Ev::Connected(*c),
            (WS_DISCONNECTED, [Value::I32(c)]) => Ev::Disconnected(*c),
            (WS_MESSAGE, [Value::Str(m)]) => Ev::Message((*m).to_string()),
            (WS_CONN_MESSAGE, [Value::I32(c), Value::Str(m)]) => {
                Ev::ConnMessage(*c, (*m).to_string())
            }
            (WS_CONN_BYTES, [Value::I32(c), Value::Bytes(b)]) => Ev::ConnBytes(*c, b.to_vec()),
            (WS_CLOSED, [Value::I32(c), Value::I32(code), Value::Str(r)]) => {
                Ev::Closed(*c, *code, (*r).to_string())
            }
            (WS_PROTOCOL, [Value::I32(c), Value::Str(p)]) => Ev::Protocol(*c, (*p).to_string()),
            other => panic!("emit with a layout the type does not declare: {other:?}"),
        };
        self.events.push(ev);
    }

    fn diagnostic(&mut self, message: &str) {
        if self.echo_diagnostics {
            println!("{} [ws diagnostic] {message}", stamp());
        }
        self.diagnostics.push(message.to_string());
    }
}
