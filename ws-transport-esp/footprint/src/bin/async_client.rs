//! The async transport: `AsyncClient` over a fake `embedded-nal-async`
//! connector and resolver (whose stream talks to the same fake server as the
//! nb program), in a task polled by a minimal executor: DNS, connect,
//! handshake, a text and a ping, every frame kind until the server's close.
//! As on a device with embassy, the slots are a `static` (`.bss`) and so is
//! the task's future (the executor's task storage).
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::future::Future;
use core::hint::black_box;
use core::mem::MaybeUninit;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Waker};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::{AddrType, Dns, TcpConnect};
use ws_footprint::{Rng, Server, Slots};
use ws_proto::{Instant, SessionEvent};
use ws_transport_esp::{AsyncClient, ClientConfig, Slot};

/// The client's slots: empty slots are all zero bytes (`.bss`).
static mut SLOTS: Slots = [const { Slot::new() }; 2];
/// The fake network (not the device's code), out of the measured stack.
static mut NET: Net = Net(RefCell::new(Server::new()));

/// The fake network: one server.
struct Net(RefCell<Server>);

/// The fake stack never fails.
#[derive(Debug)]
struct Never;

impl core::fmt::Display for Never {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("never")
    }
}

impl core::error::Error for Never {}

impl embedded_io_async::Error for Never {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// A stream to the server.
struct Stream<'a>(&'a Net);

impl ErrorType for Stream<'_> {
    type Error = Never;
}

impl Read for Stream<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Never> {
        let n = self.0 .0.borrow_mut().give(buf);
        if n == 0 {
            // Nothing yet: a real stream would wait for the network.
            core::future::pending::<()>().await;
        }
        Ok(n)
    }
}

impl Write for Stream<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Never> {
        Ok(self.0 .0.borrow_mut().take(buf))
    }

    async fn flush(&mut self) -> Result<(), Never> {
        Ok(())
    }
}

impl TcpConnect for Net {
    type Error = Never;
    type Connection<'a> = Stream<'a>;

    async fn connect<'a>(&'a self, remote: SocketAddr) -> Result<Stream<'a>, Never> {
        black_box(remote);
        Ok(Stream(self))
    }
}

impl Dns for Net {
    type Error = Never;

    async fn get_host_by_name(&self, host: &str, _: AddrType) -> Result<IpAddr, Never> {
        black_box(host);
        Ok(IpAddr::V4(Ipv4Addr::from(black_box(0x0a00_0001u32))))
    }

    async fn get_host_by_address(&self, _: IpAddr, _: &mut [u8]) -> Result<usize, Never> {
        Err(Never)
    }
}

/// The task, as an embassy program writes it (`#[embassy_executor::task]`):
/// DNS, connect, handshake, a text and a ping, every frame kind until the
/// server's close.
async fn task(net: &'static Net, slots: &'static mut Slots) {
    let mut client = AsyncClient::new(
        net,
        net,
        Rng(black_box(0x2545_f491)),
        ClientConfig::default(),
        slots,
    );
    let url = black_box("ws://echo.local:8080/stream");
    let Ok(id) = client.open(url, None, Instant::ZERO) else {
        return;
    };
    let mut t = 0u64;
    loop {
        t += 1;
        let now = Instant::from_millis(black_box(t));
        let mut connected = false;
        while let Some((_, ev)) = client.poll(now).await {
            match ev {
                SessionEvent::Connected { .. } => connected = true,
                SessionEvent::Closed(d) => {
                    black_box(d);
                    return;
                }
                other => {
                    black_box(other);
                }
            }
        }
        if connected {
            if let Ok(c) = client.connection(id) {
                let _ = c.send_text(black_box("hello"));
                let _ = c.ping(black_box(b"p"));
            }
        }
    }
}

/// Bytes of the future of `f(a, b)`, known at compile time (how embassy's
/// executor sizes a task's static storage).
const fn future_size<A, B, F: FnOnce(A, B) -> T, T: Future>(_: &F) -> usize {
    size_of::<T>()
}

/// Bytes of [`task`]'s future: its state (the client, the poll future,
/// the stack's own DNS and connect futures), kept in [`TASK`].
const TASK_BYTES: usize = future_size(&task);

/// The size of the task's future, for `scripts/footprint.sh`.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
static FOOTPRINT_TASK: [u8; TASK_BYTES] = [0; TASK_BYTES];

/// Where the task's future lives: static memory, as embassy's executor
/// keeps each task's future (its state is RAM, not the stack of whoever
/// polls it).
#[repr(C, align(8))]
struct TaskStorage([MaybeUninit<u8>; TASK_BYTES]);

static mut TASK: TaskStorage = TaskStorage([MaybeUninit::uninit(); TASK_BYTES]);

/// Builds the future that `make` returns in `storage` and polls it to
/// completion (a device's executor sleeps in between).
fn run<F: Future<Output = ()>>(storage: &'static mut TaskStorage, make: impl FnOnce() -> F) {
    const { assert!(size_of::<F>() <= TASK_BYTES && align_of::<F>() <= 8) };
    let at = storage.0.as_mut_ptr().cast::<F>();
    // SAFETY: `at` is aligned and large enough for `F` (checked above) and
    // borrowed for 'static; the future is written once, never moved after,
    // and never dropped (the program ends in a loop).
    let mut f = unsafe {
        at.write(make());
        Pin::new_unchecked(&mut *at)
    };
    let mut cx = Context::from_waker(Waker::noop());
    while f.as_mut().poll(&mut cx).is_pending() {}
}

#[no_mangle]
pub extern "C" fn _start() -> ! {
    // SAFETY: `_start` runs once, alone (one hart, no interrupts), and this
    // is the only place that names SLOTS, NET and TASK: the `&mut`s are
    // unique and NET is never borrowed mutably.
    let (slots, net, storage) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(SLOTS),
            &*core::ptr::addr_of!(NET),
            &mut *core::ptr::addr_of_mut!(TASK),
        )
    };
    run(storage, || task(net, slots));
    loop {
        core::hint::spin_loop();
    }
}
