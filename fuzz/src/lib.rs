//! Shared helpers of the `ws-proto` fuzz targets: a deterministic random
//! source, an opened connection (handshake done with a valid 101 response),
//! server frame encoding, and a checker that reads the client's output back as
//! an RFC 6455 client stream.
//!
//! Nothing here depends on libFuzzer, so `examples/seeds.rs` reuses it to write
//! the seed corpus.
#![forbid(unsafe_code)]

use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::handshake::{accept_key, KEY_LEN};
use ws_proto::{Config, Connection, HandshakeOptions, Instant, Random, RandomError, Url};

/// A deterministic xorshift source: the same seed draws the same mask keys,
/// so two runs over the same input emit the same bytes.
#[derive(Debug, Clone)]
pub struct Xorshift(pub u64);

impl Random for Xorshift {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
        Ok(())
    }
}

/// The URL every target connects to.
pub const URL: &str = "ws://example.com/chat";

/// The connection every target drives.
pub type Conn = Connection<Xorshift, Vec<u8>>;

/// A fresh connection in the `Connecting` state, the request length and the
/// server's valid 101 response for its key.
pub fn connecting(tx_cap: usize, config: Config) -> Option<(Conn, usize, Vec<u8>)> {
    let url = Url::parse(URL).ok()?;
    let conn = Connection::new(
        Xorshift(0x9e37_79b9_7f4a_7c15),
        vec![0u8; tx_cap],
        &url,
        &HandshakeOptions::default(),
        config,
        Instant::ZERO,
    )
    .ok()?;
    let request = conn.transmit().to_vec();
    let response = response_for(&request)?;
    Some((conn, request.len(), response))
}

/// The 101 response a server would send to `request`.
pub fn response_for(request: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"Sec-WebSocket-Key: ";
    let at = request.windows(NAME.len()).position(|w| w == NAME)? + NAME.len();
    let key = request.get(at..at + KEY_LEN)?;
    Some(response_with_accept(&accept_key(key)))
}

/// A 101 response carrying `accept`.
pub fn response_with_accept(accept: &[u8]) -> Vec<u8> {
    let mut r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: "
        .to_vec();
    r.extend_from_slice(accept);
    r.extend_from_slice(b"\r\n\r\n");
    r
}

/// An unmasked server frame (minimal length encoding).
pub fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (opcode & 0x0f)];
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

/// A close payload: the code, then the reason.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// One frame the client wrote, unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireFrame {
    /// The opcode.
    pub opcode: OpCode,
    /// The FIN bit.
    pub fin: bool,
    /// The payload after unmasking.
    pub payload: Vec<u8>,
}

/// Parses `bytes` as whole masked client frames. Returns the frames and how
/// many bytes they cover; a trailing partial frame is left unparsed. Panics
/// (a fuzz finding) on anything a server would reject in a client frame's
/// header: RSV bits, an unmasked frame, a reserved opcode, a bad control frame.
pub fn parse_client_frames(bytes: &[u8]) -> (Vec<WireFrame>, usize) {
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &bytes[pos..];
        let (h, hl) = match FrameHeader::parse(rest) {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => panic!("client wrote a malformed frame header at {pos}: {e:?}"),
        };
        assert_eq!(h.rsv, 0, "client frame with RSV bits");
        let key = h.mask.expect("client frame not masked");
        let Some(total) = usize::try_from(h.payload_len)
            .ok()
            .and_then(|l| l.checked_add(hl))
        else {
            break;
        };
        let Some(frame) = rest.get(..total) else {
            break;
        };
        let payload = frame[hl..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        frames.push(WireFrame {
            opcode: h.opcode,
            fin: h.fin,
            payload,
        });
        pos += total;
    }
    (frames, pos)
}

/// Checks a client's frame sequence the way a strict server would: control
/// frames are whole and at most 125 bytes, fragments follow their message,
/// text messages are UTF-8, close payloads are valid, and nothing at all
/// follows the close frame.
#[derive(Debug, Default)]
pub struct ClientStreamChecker {
    /// The message being sent in fragments: text?, bytes so far.
    message: Option<(bool, Vec<u8>)>,
    /// A close frame was written.
    pub closed: bool,
    /// Frames checked.
    pub frames: usize,
}

impl ClientStreamChecker {
    /// Checks the next frame.
    pub fn check(&mut self, f: &WireFrame) {
        assert!(!self.closed, "frame {:?} after the close frame", f.opcode);
        self.frames += 1;
        match f.opcode {
            OpCode::Ping | OpCode::Pong | OpCode::Close => {
                assert!(f.fin, "fragmented control frame");
                assert!(f.payload.len() <= 125, "control frame over 125 bytes");
                if f.opcode == OpCode::Close {
                    self.closed = true;
                    if let Err(e) = ws_proto::CloseFrame::parse(&f.payload) {
                        panic!("client sent an invalid close payload: {e:?}");
                    }
                }
            }
            OpCode::Text | OpCode::Binary => {
                assert!(
                    self.message.is_none(),
                    "new message inside a fragmented one"
                );
                let text = f.opcode == OpCode::Text;
                if f.fin {
                    if text {
                        assert!(std::str::from_utf8(&f.payload).is_ok(), "text not UTF-8");
                    }
                } else {
                    self.message = Some((text, f.payload.clone()));
                }
            }
            OpCode::Continuation => {
                let (text, mut data) = self.message.take().expect("continuation without a message");
                data.extend_from_slice(&f.payload);
                if f.fin {
                    if text {
                        assert!(std::str::from_utf8(&data).is_ok(), "text not UTF-8");
                    }
                } else {
                    self.message = Some((text, data));
                }
            }
        }
    }
}
