//! Shared parts of the footprint programs: the panic handler, a stand-in
//! random source, a fake server inside a fake `embedded-nal` stack, and the
//! size markers that `scripts/footprint.sh` reads.
//!
//! Inputs pass through `core::hint::black_box`, so the optimizer cannot fold
//! the protocol work away: what is measured is the code a device would run.
//! The size markers are zero-filled statics in their own `.footprint`
//! section, one byte per byte of the type they measure; the script reads
//! their symbol sizes and leaves that section out of the flash sum.
#![no_std]

use core::hint::black_box;
use core::net::{IpAddr, Ipv4Addr};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpErrorKind};
use ws_proto::{Random, RandomError};

/// Per-connection buffer sizes measured: receive, transmit, assembler.
pub const RX: usize = 1024;
/// Outbound queue bytes.
pub const TX: usize = 1024;
/// Largest whole message.
pub const MSG: usize = 1024;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A stand-in for the ESP32 hardware RNG (one register read per word on the
/// device). This xorshift is only here so the program links; it is no source
/// for real keys.
#[derive(Clone)]
pub struct Rng(pub u32);

impl Random for Rng {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            *b = self.0 as u8;
        }
        Ok(())
    }
}

/// The server's bytes: the 101 response, then a text, a fragmented text
/// with a ping inside, a binary, a close (1000).
///
/// The peer is the network, not the device's code, so it is bytes made
/// beforehand, not code: the programs' `Rng` seed is fixed, so the client's
/// first 16 random bytes, and with them its key, are known
/// (`OqusJq8jGnFskV0xGD680g==`, checked by running `Session::restart` with
/// this `Rng` on a host). The accept is base64(SHA-1(key ++ GUID)) of it;
/// the client still computes and checks it (what is measured).
pub const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: jFC9RQjXu9GKn6KTbg97EbBOeaM=\r\n\r\n\
\x81\x05hello\x01\x03Hel\x89\x02hi\x80\x02lo\x82\x03abc\x88\x02\x03\xe8";

/// A fake server: takes whatever the client sends, answers with
/// [`RESPONSE`] (opaque to the optimizer: the client's parsing and checks
/// are all compiled and run as on a device).
pub struct Server {
    at: usize,
}

impl Server {
    /// A server that has sent nothing yet.
    pub const fn new() -> Self {
        Server { at: 0 }
    }

    /// Takes client bytes (all of them).
    pub fn take(&mut self, data: &[u8]) -> usize {
        black_box(data).len()
    }

    /// Gives server bytes, at most `buf.len()`; 0 when none are left.
    pub fn give(&mut self, buf: &mut [u8]) -> usize {
        let rest = black_box(RESPONSE).get(self.at..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        n
    }
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

/// A fake `embedded-nal` stack whose one peer is a [`Server`] (a handle, as
/// a device's stack is one: the server's bytes are not the client's).
pub struct LoopStack(pub &'static mut Server);

/// The fake stack's error (it never fails).
#[derive(Debug)]
pub struct Never;

impl embedded_nal::TcpError for Never {
    fn kind(&self) -> TcpErrorKind {
        TcpErrorKind::Other
    }
}

impl TcpClientStack for LoopStack {
    /// lwIP's sockets are `int` descriptors.
    type TcpSocket = i32;
    type Error = Never;

    fn socket(&mut self) -> Result<i32, Never> {
        Ok(black_box(3))
    }
    fn connect(&mut self, _: &mut i32, remote: core::net::SocketAddr) -> nb::Result<(), Never> {
        black_box(remote);
        Ok(())
    }
    fn send(&mut self, _: &mut i32, buf: &[u8]) -> nb::Result<usize, Never> {
        Ok(self.0.take(buf))
    }
    fn receive(&mut self, _: &mut i32, buf: &mut [u8]) -> nb::Result<usize, Never> {
        match self.0.give(buf) {
            0 => Err(nb::Error::WouldBlock),
            n => Ok(n),
        }
    }
    fn close(&mut self, s: i32) -> Result<(), Never> {
        black_box(s);
        Ok(())
    }
}

impl Dns for LoopStack {
    type Error = Never;
    fn get_host_by_name(&mut self, host: &str, _: AddrType) -> nb::Result<IpAddr, Never> {
        black_box(host);
        Ok(IpAddr::V4(Ipv4Addr::from(black_box(0x0a00_0001u32))))
    }
    fn get_host_by_address(&mut self, _: IpAddr, _: &mut [u8]) -> nb::Result<usize, Never> {
        Err(nb::Error::Other(Never))
    }
}

type Session = ws_proto::Session<Rng, [u8; TX], [u8; RX], [u8; MSG]>;
type Connection = ws_proto::Connection<Rng, [u8; TX]>;
/// Its slots (sessions and buffers), a `static` in the programs.
pub type Slots = ws_transport_esp::EspSlots<Rng, 2, RX, TX, MSG>;
/// The measured client: 2 connections, as on an ESP32, over slots in
/// static memory.
pub type Client = ws_transport_esp::EspClient<
    'static,
    LoopStack,
    ws_transport_esp::AlwaysReady,
    Rng,
    2,
    RX,
    TX,
    MSG,
>;

/// One connection slot of [`Client`]: state + socket + session with buffers.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
pub static FOOTPRINT_SLOT: [u8; ws_transport_esp::slot_size::<LoopStack, Rng, RX, TX, MSG>()] =
    [0; ws_transport_esp::slot_size::<LoopStack, Rng, RX, TX, MSG>()];
/// `ws_proto::Session` with its buffers.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
pub static FOOTPRINT_SESSION: [u8; core::mem::size_of::<Session>()] =
    [0; core::mem::size_of::<Session>()];
/// `ws_proto::Connection` with its transmit buffer.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
pub static FOOTPRINT_CONNECTION: [u8; core::mem::size_of::<Connection>()] =
    [0; core::mem::size_of::<Connection>()];
/// The whole client: the client value and its 2 slots.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
pub static FOOTPRINT_CLIENT: [u8; core::mem::size_of::<Client>() + core::mem::size_of::<Slots>()] =
    [0; core::mem::size_of::<Client>() + core::mem::size_of::<Slots>()];
/// The socket handle.
#[no_mangle]
#[used]
#[link_section = ".footprint"]
pub static FOOTPRINT_SOCKET: [u8; core::mem::size_of::<i32>()] = [0; 4];
