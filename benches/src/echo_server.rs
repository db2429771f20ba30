//! A loopback echo server for the `echo` benchmark: one thread per
//! connection, blocking std sockets, `TCP_NODELAY`.
//!
//! - [`Mode::WebSocket`]: answers the opening handshake, then echoes each
//!   client frame (unmasked, same opcode) and a close frame back. All frames
//!   whole in one read are answered with one write, so a pipelining client is
//!   not held back by the server, and every client meets the same server.
//! - [`Mode::Raw`]: echoes bytes as they come (the raw TCP anchor).
//!
//! It parses with `ws_proto::frame` (role-neutral) and unmasks with
//! `ws_proto::mask`; it is test equipment, not a conforming server.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::mask::apply_mask;

use crate::{push_server_frame, response_for};

/// What the server echoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// WebSocket frames, after the handshake.
    WebSocket,
    /// Raw bytes.
    Raw,
}

/// A running server; dropping it stops accepting (open connections end
/// when their client closes).
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Binds 127.0.0.1 on a free port and starts accepting.
    ///
    /// # Errors
    ///
    /// The bind error.
    pub fn start(mode: Mode) -> io::Result<EchoServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                std::thread::spawn(move || {
                    // A client that goes away mid-frame ends its thread.
                    let _ = serve(stream, mode);
                });
            }
        });
        Ok(EchoServer {
            addr,
            stop,
            accept: Some(accept),
        })
    }

    /// The address to connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://` URL of the server.
    pub fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(mut stream: TcpStream, mode: Mode) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 256 << 10];
    if mode == Mode::Raw {
        loop {
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            stream.write_all(&buf[..n])?;
        }
    }
    let mut input: Vec<u8> = Vec::with_capacity(512 << 10);
    // The handshake request, up to the blank line (bounded at 16 KiB).
    let header_end = loop {
        if let Some(at) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if input.len() > 16 << 10 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "header too long",
            ));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
    };
    let response = response_for(&input[..header_end])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.0))?;
    stream.write_all(&response)?;
    input.drain(..header_end);

    let mut out: Vec<u8> = Vec::with_capacity(512 << 10);
    loop {
        let mut pos = 0;
        let mut closing = false;
        out.clear();
        while let Ok(Some((h, hl))) = FrameHeader::parse(&input[pos..]) {
            let len = usize::try_from(h.payload_len)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame too long"))?;
            let Some(payload) = input.get(pos + hl..pos + hl + len) else {
                break;
            };
            let at = out.len()
                + 2
                + if len < 126 {
                    0
                } else if len <= 0xffff {
                    2
                } else {
                    8
                };
            push_server_frame(&mut out, h.opcode.as_u8(), payload);
            if let Some(key) = h.mask {
                apply_mask(&mut out[at..], key, 0);
            }
            pos += hl + len;
            if h.opcode == OpCode::Close {
                closing = true;
                break;
            }
        }
        if FrameHeader::parse(&input[pos..]).is_err() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame"));
        }
        input.drain(..pos);
        if !out.is_empty() {
            stream.write_all(&out)?;
        }
        if closing {
            return Ok(());
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        input.extend_from_slice(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_echo_echoes() {
        let server = EchoServer::start(Mode::Raw).unwrap();
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(b"hello").unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello");
    }
}
