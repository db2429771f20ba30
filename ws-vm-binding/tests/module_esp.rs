//! The module in its ESP32 configuration (2 connections) over the
//! embedded-nal transport, run on the host through `std-embedded-nal`
//! against a tungstenite server on 127.0.0.1: `open` is refused until the
//! network is ready, the third `open` is refused, the Command Channel works.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use support::{Ev, Mode, Server, Vm, WS_CONNECTED, WS_MESSAGE};
use ws_proto::{Instant, Random, RandomError};
use ws_transport_esp::{ClientConfig, EspClient, EspSlots, NetworkReady, Slot};
use ws_vm_binding::{ModuleConfig, WsModule};

/// The OS random source.
#[derive(Clone, Debug)]
struct OsRandom;

impl Random for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// "The station has an IP", switched by the test.
struct Wifi(Arc<AtomicBool>);

impl NetworkReady for Wifi {
    fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

type Esp<'s> = EspClient<'s, std_embedded_nal::Stack, Wifi, OsRandom, 2, 1024, 2048, 4096>;

#[test]
fn esp32_configuration_over_embedded_nal() {
    let server = Server::start(Mode::Command);
    let wifi = Arc::new(AtomicBool::new(false));
    // The sessions and buffers (a `static` on a device).
    let mut slots: EspSlots<OsRandom, 2, 1024, 2048, 4096> = [const { Slot::new() }; 2];
    let client: Esp<'_> = EspClient::new(
        std_embedded_nal::Stack,
        Wifi(wifi.clone()),
        OsRandom,
        ClientConfig::default(),
        &mut slots,
    );
    let started = StdInstant::now();
    let now = || Instant::from_millis(started.elapsed().as_millis() as u64);
    let mut m = WsModule::new(client, Vm::default(), ModuleConfig::esp32(), now());
    let url = server.url("/control");
    // No IP yet: refused.
    assert_eq!(m.open(&url), -1);
    assert!(m.host().diagnostics[0].contains("network not ready"));
    wifi.store(true, Ordering::SeqCst);
    let h = m.open(&url);
    assert!(h >= 0);
    assert_eq!(m.on(h, "connected", WS_CONNECTED), 0);
    assert_eq!(m.on(h, "message", WS_MESSAGE), 0);
    let h2 = m.open(&url);
    assert!(h2 >= 0);
    assert_eq!(m.open(&url), -1, "third open on ESP32");
    let deadline = StdInstant::now() + Duration::from_secs(10);
    let mut sent = false;
    while !m.host().events.iter().any(|e| matches!(e, Ev::Message(_))) {
        assert!(StdInstant::now() < deadline, "{:?}", m.host().diagnostics);
        m.tick(now());
        if !sent && m.host().events.contains(&Ev::Connected(h)) {
            assert_eq!(m.send(h, r#"{"cmd":"start","id":42}"#), 23);
            sent = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let Some(Ev::Message(reply)) = m.host().events.last() else {
        panic!()
    };
    let v: serde_json::Value = serde_json::from_str(reply).unwrap();
    assert_eq!(v["status"], "started");
    assert_eq!(m.state(h2), "open");
    assert_eq!(m.close(h), 0);
    assert_eq!(m.state(h), "closed");
    let deadline = StdInstant::now() + Duration::from_secs(10);
    while m.slots_in_use() > 1 {
        assert!(StdInstant::now() < deadline);
        m.tick(now());
        std::thread::sleep(Duration::from_millis(2));
    }
    let h3 = m.open(&url);
    assert!(h3 >= 0 && h3 != h);
    assert_eq!(m.send(h, "stale"), -1);
}
