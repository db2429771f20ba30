//! Adapters the benchmark binaries share: in-memory streams for the peer
//! crates (std `Read`/`Write` for tungstenite, tokio's `AsyncRead`/`AsyncWrite`
//! for fastwebsockets and tokio-websockets), a no-op executor whose waker
//! does not allocate, the xorshift source for embedded-websocket's
//! `rand_core` 0.6, the std client's own connection storage, and the
//! criterion settings of the side-by-side groups ([`criterion`], [`group`]).
#![allow(dead_code, unreachable_pub)]

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkGroup, Criterion, Throughput};

use ws_benches::{open_connection_with, response_for};
use ws_proto::{Connection, GrowableBuffer, Session};
use ws_transport_std::{ClientConfig, MaskRandom};

/// Criterion as the side-by-side benches run it: no plots, fewer bootstrap
/// resamples than its default (the table needs point estimates, not tight
/// confidence intervals), then the command line (`cargo bench -- FILTER`,
/// criterion's own flags). `measurement` is [`ThreadCpu`] for work that
/// stays in the thread, [`WallTime`] for round trips over sockets.
pub fn criterion<M: Measurement>(measurement: M) -> Criterion<M> {
    Criterion::default()
        .with_measurement(measurement)
        .without_plots()
        .nresamples(20_000)
        .configure_from_args()
}

/// Criterion's measurement of the benchmark thread's CPU time
/// (`CLOCK_THREAD_CPUTIME_ID`), in nanoseconds as [`WallTime`].
///
/// Members of a group run one after another, and on a machine shared with
/// other work a process that runs beside one member for a second would
/// inflate its wall time and not its neighbours' (measured: the same 64 KiB
/// encode at 1.2, 1.9 and 3.5 us wall time in three runs beside its
/// anchor at 1.14 us). The time the thread is preempted is not its CPU time,
/// so this leaves only the cache pollution of whatever ran between.
pub struct ThreadCpu;

/// Criterion's measurement of the whole process's CPU time
/// (`CLOCK_PROCESS_CPUTIME_ID`: every thread, the echo server's too, and
/// the kernel's work in their system calls), in nanoseconds as
/// [`WallTime`]. For the loopback echo pinned to one CPU, where client and
/// server take turns and the CPU is never idle within a round trip, this is
/// the round trip's time without the other processes that share the CPU.
pub struct ProcessCpu;

/// Implements [`Measurement`] for a CPU-time clock of the `cpu_time` crate.
macro_rules! cpu_measurement {
    ($name:ident, $clock:ty) => {
        impl Measurement for $name {
            type Intermediate = $clock;
            type Value = Duration;

            fn start(&self) -> $clock {
                <$clock>::now()
            }
            fn end(&self, started: $clock) -> Duration {
                started.elapsed()
            }
            fn add(&self, a: &Duration, b: &Duration) -> Duration {
                *a + *b
            }
            fn zero(&self) -> Duration {
                Duration::ZERO
            }
            fn to_f64(&self, value: &Duration) -> f64 {
                value.as_nanos() as f64
            }
            fn formatter(&self) -> &dyn ValueFormatter {
                WALL.formatter()
            }
        }
    };
}

cpu_measurement!(ProcessCpu, cpu_time::ProcessTime);
cpu_measurement!(ThreadCpu, cpu_time::ThreadTime);

/// Only for its formatter: the values are nanoseconds in both.
static WALL: WallTime = WallTime;

/// One row of the table: a criterion group whose members (ours, each peer,
/// the anchors) run the same input, one after another in one run, each with
/// `warm_up` and `measure` time and 50 samples. Results land in
/// `target/criterion/<group>/<member>/new/estimates.json`, which
/// `scripts/bench-table.sh` reads.
pub fn group<'a, M: Measurement>(
    c: &'a mut Criterion<M>,
    name: impl Into<String>,
    throughput: Throughput,
    warm_up: Duration,
    measure: Duration,
) -> BenchmarkGroup<'a, M> {
    let mut g = c.benchmark_group(name);
    g.throughput(throughput)
        .sample_size(50)
        .warm_up_time(warm_up)
        .measurement_time(measure);
    g
}

/// A connection as the std `Client` makes it with `config`: its mask-key
/// source (`MaskRandom`, ChaCha8 seeded from getrandom) and its growable
/// outbound queue, handshake done.
pub fn client_connection(config: &ClientConfig) -> Connection<MaskRandom, GrowableBuffer> {
    let st = config.storage();
    open_connection_with(st.rng, st.tx, config.connection_config()).unwrap()
}

/// The std client's session type.
pub type ClientSession = Session<MaskRandom, GrowableBuffer, GrowableBuffer, GrowableBuffer>;

/// A session as the std `Client` makes it with `config` (receive buffer and
/// assembler from `ClientConfig::storage`), handshake done.
pub fn client_session(config: &ClientConfig) -> ClientSession {
    let st = config.storage();
    let conn = open_connection_with(st.rng, st.tx, config.connection_config()).unwrap();
    Session::new(conn, st.rx, st.assembler).unwrap()
}

/// A tokio-websockets client stream over `stream` (handshake taken as done).
pub fn tokio_ws<S>(stream: S) -> tokio_websockets::WebSocketStream<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio_websockets::ClientBuilder::new().take_over(stream)
}

/// The 101 response for `request` (re-exported for the benches).
pub fn response(request: &[u8]) -> Vec<u8> {
    response_for(request).unwrap()
}

/// A stream that replays `data` on read (from `pos`) and swallows writes.
/// `pos` is shared so that a benchmark can rewind a stream a peer owns.
pub struct Replay {
    pub data: &'static [u8],
    pub pos: Rc<Cell<usize>>,
    pub written: usize,
}

impl Replay {
    pub fn new(data: &'static [u8]) -> Self {
        Replay {
            data,
            pos: Rc::new(Cell::new(0)),
            written: 0,
        }
    }
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let rest = &self.data[self.pos.get()..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos.set(self.pos.get() + n);
        Ok(n)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += std::hint::black_box(buf).len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Replay {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let rest = &this.data[this.pos.get()..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        this.pos.set(this.pos.get() + n);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Replay {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.written += std::hint::black_box(buf).len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n: usize = bufs.iter().map(|b| std::hint::black_box(&**b).len()).sum();
        this.written += n;
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Polls a future that never waits (the in-memory streams are always ready).
/// The waker is `Waker::noop()`: nothing is allocated per call, so the
/// allocation counts are the peers' own.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Leaks `v` for the `'static` buffers the replay streams read.
pub fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}
