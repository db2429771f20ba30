//! The document's three patterns, and a fourth over the module's extensions
//! (binary, `closeWith`), each as the script would run on the VM:
//! `main()` opens and binds, then `runtime.keepAlive()` is an event loop that
//! calls `tick(now)` and runs the `on Ws... fn(e)` handlers for the events
//! the module queued. Each pattern starts its own tungstenite server on
//! 127.0.0.1, prints what the script's `console.log` would, and returns
//! after a few seconds (an error if the pattern did not behave as documented).
#![allow(dead_code)]

#[path = "../../tests/support/mod.rs"]
mod support;

use std::error::Error;
use std::time::{Duration, Instant as StdInstant};

use support::{
    stamp, Ev, Mode, Server, Vm, WS_CLOSED, WS_CONNECTED, WS_CONN_BYTES, WS_DISCONNECTED,
    WS_MESSAGE,
};
use ws_transport_std::{Client, ClientConfig, Clock};
use ws_vm_binding::{ModuleConfig, WsModule};

type Module = WsModule<Client, Vm>;
type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The VM with its clock.
struct Vm0 {
    m: Module,
    clock: Clock,
    started: StdInstant,
}

impl Vm0 {
    fn new() -> Result<Vm0> {
        let clock = Clock::new();
        let host = Vm {
            echo_diagnostics: true,
            ..Vm::default()
        };
        let client = Client::new(ClientConfig::default())?;
        Ok(Vm0 {
            m: WsModule::new(client, host, ModuleConfig::host(), clock.now()),
            clock,
            started: StdInstant::now(),
        })
    }

    /// One turn of `runtime.keepAlive()`: tick, then the events to dispatch.
    fn turn(&mut self) -> Vec<Ev> {
        self.m.tick(self.clock.now());
        let events = std::mem::take(&mut self.m.host_mut().events);
        if events.is_empty() {
            self.m.wait(Duration::from_millis(50));
        }
        events
    }

    /// `ws.close(conn)`, then turns of the loop until the close handshake is
    /// over (at most 2 s), printing the script's remaining events.
    fn close(&mut self, conn: i32) {
        self.m.close(conn);
        let deadline = StdInstant::now() + Duration::from_secs(2);
        while self.m.slots_in_use() > 0 && StdInstant::now() < deadline {
            for ev in self.turn() {
                if let Ev::Disconnected(_) = ev {
                    log_text("disconnected (ws.close)");
                }
            }
        }
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

fn console_log(what: &serde_json::Value) {
    match what {
        serde_json::Value::String(s) => println!("{} console.log: {s}", stamp()),
        other => println!("{} console.log: {other}", stamp()),
    }
}

fn log_text(what: &str) {
    println!("{} console.log: {what}", stamp());
}

fn json(text: &str) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(text)?)
}

/// Pattern: Event-driven Data Stream.
pub(crate) fn data_stream() -> Result {
    let server = Server::start(Mode::Sensors { interval_ms: 200 });
    println!(
        "== Pattern: Event-driven Data Stream (server {})",
        server.url("/sensors")
    );
    let mut vm = Vm0::new()?;
    // fn main()
    let conn = vm.m.open(&server.url("/sensors"));
    vm.m.on(conn, "connected", WS_CONNECTED);
    vm.m.on(conn, "message", WS_MESSAGE);
    // runtime.keepAlive()
    let mut values = 0;
    while values < 5 && vm.elapsed() < Duration::from_secs(10) {
        for ev in vm.turn() {
            match ev {
                Ev::Connected(_) => log_text("streaming"),
                Ev::Message(m) => {
                    let data = json(&m)?;
                    console_log(&data["value"]);
                    values += 1;
                }
                _ => {}
            }
        }
    }
    vm.close(conn);
    if values < 5 {
        return Err(format!("only {values} values streamed").into());
    }
    Ok(())
}

/// Pattern: Command Channel.
pub(crate) fn command_channel() -> Result {
    let server = Server::start(Mode::Command);
    println!(
        "== Pattern: Command Channel (server {})",
        server.url("/control")
    );
    let mut vm = Vm0::new()?;
    let g_conn = vm.m.open(&server.url("/control"));
    vm.m.on(g_conn, "connected", WS_CONNECTED);
    vm.m.on(g_conn, "message", WS_MESSAGE);
    let mut status = None;
    while status.is_none() && vm.elapsed() < Duration::from_secs(10) {
        for ev in vm.turn() {
            match ev {
                Ev::Connected(_) => {
                    // send command once connected — response arrives as event
                    let cmd = serde_json::json!({"cmd": "start", "id": 42}).to_string();
                    let n = vm.m.send(g_conn, &cmd);
                    println!("{} (ws.send({cmd}) returned {n})", stamp());
                }
                Ev::Message(m) => {
                    let resp = json(&m)?;
                    console_log(&resp["status"]);
                    status = resp["status"].as_str().map(str::to_owned);
                }
                _ => {}
            }
        }
    }
    vm.close(g_conn);
    match status.as_deref() {
        Some("started") => Ok(()),
        other => Err(format!("no \"started\" reply: {other:?}").into()),
    }
}

/// Pattern: Resilient WebSocket Stream. The server is stopped after a few
/// values and restarted on the same port two seconds later; the module
/// reconnects on its schedule (1 s, then 2 s) and the stream resumes.
pub(crate) fn resilient() -> Result {
    let mut server = Server::start(Mode::Sensors { interval_ms: 200 });
    println!(
        "== Pattern: Resilient WebSocket Stream (server {})",
        server.url("/sensors")
    );
    let mut vm = Vm0::new()?;
    let conn = vm.m.open(&server.url("/sensors"));
    vm.m.set_auto_reconnect(conn, true);
    vm.m.set_reconnect_delays(conn, &[1, 2, 5, 10, 30]);
    vm.m.on(conn, "connected", WS_CONNECTED);
    vm.m.on(conn, "disconnected", WS_DISCONNECTED);
    vm.m.on(conn, "message", WS_MESSAGE);
    let (mut connected, mut disconnected, mut values) = (0, 0, 0);
    let mut stopped_at: Option<StdInstant> = None;
    let mut values_after = 0;
    while vm.elapsed() < Duration::from_secs(15) {
        for ev in vm.turn() {
            match ev {
                Ev::Connected(_) => {
                    log_text("connected");
                    connected += 1;
                }
                Ev::Disconnected(_) => {
                    log_text("disconnected — will reconnect");
                    disconnected += 1;
                }
                Ev::Message(m) => {
                    let data = json(&m)?;
                    console_log(&data["value"]);
                    values += 1;
                    if connected == 2 {
                        values_after += 1;
                    }
                }
                _ => {}
            }
        }
        if values == 3 && stopped_at.is_none() {
            println!("{} [demo] stopping the server", stamp());
            server.kill();
            stopped_at = Some(StdInstant::now());
        }
        if let Some(t) = stopped_at {
            if connected == 1 && t.elapsed() >= Duration::from_secs(2) && !server_running(&server) {
                println!(
                    "{} [demo] restarting the server on port {}",
                    stamp(),
                    server.port
                );
                server.restart();
            }
        }
        if values_after >= 3 {
            break;
        }
    }
    println!("{} [demo] ws.state(conn) = {:?}", stamp(), vm.m.state(conn));
    vm.close(conn);
    if connected == 2 && disconnected == 1 && values_after >= 3 {
        Ok(())
    } else {
        Err(format!(
            "expected 2 connects, 1 disconnect, 3 values after: {connected}, {disconnected}, {values_after}"
        )
        .into())
    }
}

fn server_running(server: &Server) -> bool {
    // A killed server has no thread; `restart` gives it one.
    server.is_running()
}

/// Pattern: Binary Records and closeWith (extensions of v0.1). The script
/// declares `WsBytes { conn: i32, message: bytes }` and `WsClosed { conn:
/// i32, code: i32, reason: string }`, sends a binary record (with NUL
/// bytes) once connected, prints the echoed record, then closes with code
/// 4000 "bye" and prints the code "disconnected" carries.
pub(crate) fn binary_close() -> Result {
    let server = Server::start(Mode::Echo);
    println!(
        "== Pattern: Binary Records and closeWith (server {})",
        server.url("/records")
    );
    let mut vm = Vm0::new()?;
    let conn = vm.m.open(&server.url("/records"));
    vm.m.on(conn, "connected", WS_CONNECTED);
    vm.m.on(conn, "message", WS_CONN_BYTES);
    vm.m.on(conn, "disconnected", WS_CLOSED);
    // A record: id (u16 big-endian), flags, value (i16): NUL bytes included.
    let record = [0x00u8, 0x2a, 0x00, 0xff, 0x38];
    let mut echoed = None;
    let mut closed = None;
    while closed.is_none() && vm.elapsed() < Duration::from_secs(10) {
        for ev in vm.turn() {
            match ev {
                Ev::Connected(_) => {
                    let n = vm.m.send_binary(conn, &record);
                    println!(
                        "{} (ws.sendBinary(conn, {record:02x?}) returned {n})",
                        stamp()
                    );
                }
                Ev::ConnBytes(_, bytes) => {
                    log_text(&format!("record {bytes:02x?}"));
                    echoed = Some(bytes);
                    let r = vm.m.close_with(conn, 4000, "bye");
                    println!(
                        "{} (ws.closeWith(conn, 4000, \"bye\") returned {r})",
                        stamp()
                    );
                }
                Ev::Closed(_, code, reason) => {
                    log_text(&format!("disconnected: {code} {reason}"));
                    closed = Some((code, reason));
                }
                _ => {}
            }
        }
    }
    if vm.m.state(conn) != "closed" {
        vm.close(conn);
    }
    match (echoed, closed) {
        (Some(bytes), Some((4000, reason))) if bytes == record && reason == "bye" => Ok(()),
        other => Err(format!("expected the record echoed and 4000 \"bye\": {other:?}").into()),
    }
}
