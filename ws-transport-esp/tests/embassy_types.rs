//! Compile test: embassy-net's `TcpClient` and `DnsSocket` drive an
//! [`AsyncClient`] as they are, with no glue of the user's. There is no
//! network stack on the host, so the task is only built, never run.

use embassy_net::dns::DnsSocket;
use embassy_net::tcp::client::TcpClient;
use static_cell::ConstStaticCell;
use ws_proto::{Instant, Random, RandomError, SessionEvent};
use ws_transport_esp::{AsyncClient, ClientConfig, EspSlots, Slot};

/// Stands in for the ESP32 hardware RNG.
#[derive(Clone)]
struct HwRng;

impl Random for HwRng {
    fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError)
    }
}

/// The client's sessions and buffers, as an embassy program keeps them: a
/// `static` (`.bss`), lent once as `&'static mut`.
static SLOTS: ConstStaticCell<EspSlots<HwRng, 2, 1024, 1024, 1024>> =
    ConstStaticCell::new([const { Slot::new() }; 2]);

/// What an embassy task does: open, poll, send, wait (raced with its timer
/// in a real task).
async fn task(tcp: &TcpClient<'_, 2>, dns: &DnsSocket<'_>, now: impl Fn() -> Instant) {
    let mut client = AsyncClient::new(tcp, dns, HwRng, ClientConfig::default(), SLOTS.take());
    let Ok(id) = client.open("ws://echo.local:8080/", None, now()) else {
        return;
    };
    loop {
        while let Some((_, event)) = client.poll(now()).await {
            if let SessionEvent::Connected { .. } = event {
                if let Ok(conn) = client.connection(id) {
                    let _ = conn.send_text("hello");
                }
            }
        }
        if client.driver().connection_count() == 0 {
            return;
        }
        client.wait(now()).await;
    }
}

#[test]
fn embassy_net_types_need_no_glue() {
    // Naming the task's future type is the test: it compiles.
    fn is_future<F: core::future::Future<Output = ()>>(_: F) {}
    let _ =
        |tcp: &TcpClient<'_, 2>, dns: &DnsSocket<'_>| is_future(task(tcp, dns, || Instant::ZERO));
}
