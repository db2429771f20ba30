//! Adapters the benchmark binaries share: in-memory streams for the peer
//! crates (std `Read`/`Write` for tungstenite, tokio's `AsyncRead`/`AsyncWrite`
//! for fastwebsockets), a no-op executor, the xorshift source for
//! embedded-websocket's `rand_core` 0.6, and criterion's short configuration.
#![allow(dead_code, unreachable_pub)]

use std::cell::Cell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use criterion::Criterion;
use ws_benches::XorShift;

/// Short runs: the machine is shared (`--warm-up-time`/`--measurement-time`
/// on the command line still override these).
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(1000))
        .measurement_time(Duration::from_millis(2000))
        .sample_size(30)
        .configure_from_args()
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

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls a future that never waits (the in-memory streams are always ready).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// `XorShift` for crates that take a `rand_core` 0.6 generator.
pub struct Rng06(pub XorShift);

impl rand_core_06::RngCore for Rng06 {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let w = self.0.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Leaks `v` for the `'static` buffers the replay streams read.
pub fn leak(v: Vec<u8>) -> &'static [u8] {
    Box::leak(v.into_boxed_slice())
}
