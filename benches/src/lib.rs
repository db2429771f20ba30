//! Shared setup for the side-by-side benchmarks in `benches/benches/`.
//!
//! The benchmark binaries (`encode`, `decode`, `alloc`, `echo`) compare
//! `ws-proto` with `tungstenite`, `fastwebsockets` and `embedded-websocket`
//! and with physical anchors (a plain copy, `core::str::from_utf8`). This
//! library holds what they share: a fast test random source, an open
//! [`Connection`] (handshake done), and buffers of server frames.
//!
//! [`echo_server`] is the loopback server the `echo` benchmark's clients share.
//!
//! `scripts/bench-table.sh` runs them and prints the ratio table.

use core::fmt;

use ws_proto::handshake::accept_key;
use ws_proto::{
    Buffer, Config, Connection, Event, HandshakeOptions, Instant, Random, RandomError, Url,
};

/// A xorshift64 generator: fast and free of system calls, so the benchmarks
/// measure the protocol and not the kernel's RNG.
///
/// **Not cryptographically secure.** RFC 6455 section 5.3 requires
/// unpredictable mask keys; a real client passes a strong source (see
/// [`ws_proto::Random`]). It exists only so that the benchmarks' numbers are
/// not dominated by `getrandom`.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is replaced by a fixed non-zero seed).
    pub const fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

impl Random for XorShift {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        // A mask key (4 bytes) is by far the most common request.
        if let Ok(key) = <&mut [u8; 4]>::try_from(&mut *buf) {
            *key = (self.next_u64() as u32).to_le_bytes();
            return Ok(());
        }
        for chunk in buf.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

/// Setting up a benchmark connection failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError(pub &'static str);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "benchmark setup failed: {}", self.0)
    }
}

impl std::error::Error for SetupError {}

/// [`XorShift`] for crates that take a `rand_core` 0.6 generator
/// (embedded-websocket).
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

/// The connection type the benchmarks drive.
pub type BenchConnection = Connection<XorShift, Vec<u8>>;

/// A connection in the open state: the request was "sent" and a valid 101
/// response fed back. `tx_capacity` is the outbound queue's size in bytes.
///
/// # Errors
///
/// [`SetupError`] if the handshake does not complete (a bug in `ws-proto`).
pub fn open_connection(tx_capacity: usize) -> Result<BenchConnection, SetupError> {
    let config = Config {
        max_message_size: 64 << 20,
        ..Config::default()
    };
    open_connection_with(
        XorShift::new(0x2545_f491_4f6c_dd1d),
        vec![0u8; tx_capacity],
        config,
    )
}

/// As [`open_connection`], with the caller's random source, outbound queue
/// and configuration (e.g. those of `ws_transport_std::ClientConfig::storage`).
///
/// # Errors
///
/// [`SetupError`] if the handshake does not complete (a bug in `ws-proto`).
pub fn open_connection_with<R: Random, TX: Buffer>(
    rng: R,
    tx: TX,
    config: Config,
) -> Result<Connection<R, TX>, SetupError> {
    let url = Url::parse("ws://127.0.0.1:9001/").map_err(|_| SetupError("url"))?;
    let mut conn = Connection::new(
        rng,
        tx,
        &url,
        &HandshakeOptions::default(),
        config,
        Instant::ZERO,
    )
    .map_err(|_| SetupError("Connection::new"))?;
    let request = conn.transmit().to_vec();
    conn.advance_transmit(request.len());
    let response = response_for(&request)?;
    let r = conn
        .recv(Instant::ZERO, &response)
        .map_err(|_| SetupError("handshake response rejected"))?;
    match r.event() {
        Some(Event::Connected { .. }) if r.consumed == response.len() => Ok(conn),
        _ => Err(SetupError("handshake did not complete")),
    }
}

/// The server's 101 response to a client handshake `request`.
///
/// # Errors
///
/// [`SetupError`] if the request carries no `Sec-WebSocket-Key`.
pub fn response_for(request: &[u8]) -> Result<Vec<u8>, SetupError> {
    const NAME: &[u8] = b"Sec-WebSocket-Key: ";
    let at = request
        .windows(NAME.len())
        .position(|w| w.eq_ignore_ascii_case(NAME))
        .ok_or(SetupError("no Sec-WebSocket-Key"))?
        + NAME.len();
    let key = request
        .get(at..at + 24)
        .ok_or(SetupError("short Sec-WebSocket-Key"))?;
    let mut resp = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
    resp.extend_from_slice(&accept_key(key));
    resp.extend_from_slice(b"\r\n\r\n");
    Ok(resp)
}

/// Appends one unmasked server frame (FIN set) with `opcode` and `payload`.
pub fn push_server_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | (opcode & 0x0f));
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// A buffer of `count` unmasked server frames, each carrying `payload`.
pub fn server_frames(opcode: u8, payload: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (payload.len() + 10));
    for _ in 0..count {
        push_server_frame(&mut out, opcode, payload);
    }
    out
}

/// An ASCII text payload of `len` bytes (printable, varied).
pub fn ascii_payload(len: usize) -> String {
    (0..len)
        .map(|i| char::from(b' ' + (i * 7 % 95) as u8))
        .collect()
}

/// A binary payload of `len` bytes.
pub fn binary_payload(len: usize) -> Vec<u8> {
    let mut rng = XorShift::new(len as u64 + 1);
    let mut v = vec![0u8; len];
    for chunk in v.chunks_mut(8) {
        let w = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&w[..chunk.len()]);
    }
    v
}

/// The physical anchor for masking: XOR-copy `src` into `dst` a `u64` word at
/// a time (written the plain way, as the issue states the target), bytes
/// after the last whole word one by one.
pub fn xor_copy_u64(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let n = dst.len().min(src.len());
    let words = n / 8;
    for i in 0..words {
        let mut b = [0u8; 8];
        b.copy_from_slice(&src[i * 8..i * 8 + 8]);
        dst[i * 8..i * 8 + 8].copy_from_slice(&(u64::from_ne_bytes(b) ^ word).to_ne_bytes());
    }
    for i in words * 8..n {
        dst[i] = src[i] ^ key[i & 3];
    }
}

pub mod echo_server;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_decodes_the_frames_it_is_given() {
        let mut conn = open_connection(1 << 16).unwrap();
        let text = ascii_payload(16);
        let buf = server_frames(1, text.as_bytes(), 3);
        let mut pos = 0;
        let mut n = 0;
        while pos < buf.len() {
            let r = conn.recv(Instant::ZERO, &buf[pos..]).unwrap();
            assert_eq!(r.event(), Some(Event::Text(&text)));
            pos += r.consumed;
            n += 1;
        }
        assert_eq!(n, 3);
        let big = binary_payload(70_000);
        let buf = server_frames(2, &big, 1);
        let r = conn.recv(Instant::ZERO, &buf).unwrap();
        assert_eq!(r.event(), Some(Event::Binary(&big)));
    }

    #[test]
    fn anchor_xor_matches_ws_proto() {
        let src = binary_payload(1001);
        let (mut a, mut b) = (vec![0u8; 1001], vec![0u8; 1001]);
        xor_copy_u64(&mut a, &src, [1, 2, 3, 4]);
        ws_proto::mask::copy_masked(&mut b, &src, [1, 2, 3, 4]);
        assert_eq!(a, b);
    }
}
