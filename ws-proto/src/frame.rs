//! Frame headers (RFC 6455 section 5.2): opcodes, parsing and encoding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! This module is role-neutral: [`FrameHeader::parse`] reads masked and unmasked
//! headers alike and only rejects what is malformed for any endpoint. The
//! client's own rules (server frames must not be masked, no extension is
//! negotiated, fragmentation order) live in [`crate::Connection`].

use crate::error::ProtocolError;

/// The largest header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: the next fragment of a data message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one.
    pub const fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }

    /// Close, ping and pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this frame ends its message.
    pub fin: bool,
    /// The three RSV bits, as `0b0rrr` (RSV1 is `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the start of `input`.
    ///
    /// Returns `Ok(None)` when `input` holds only part of the header (need more
    /// bytes: not an error), else the header and its length in bytes.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::UnknownOpcode`], [`ProtocolError::ControlFrameTooLong`],
    /// [`ProtocolError::FragmentedControlFrame`] and
    /// [`ProtocolError::LengthOverflow`] (a 64-bit length with its top bit set).
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// // RFC 6455 section 5.7: a single-frame unmasked text message "Hello".
    /// let (h, n) = FrameHeader::parse(&[0x81, 0x05, 0x48, 0x65]).unwrap().unwrap();
    /// assert_eq!((h.opcode, h.fin, h.payload_len, n), (OpCode::Text, true, 5, 2));
    /// assert_eq!(FrameHeader::parse(&[0x81]).unwrap(), None);
    /// ```
    pub fn parse(input: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let (b0, b1) = match input {
            [b0, b1, ..] => (*b0, *b1),
            _ => return Ok(None),
        };
        let opcode = OpCode::from_u8(b0 & 0x0f).ok_or(ProtocolError::UnknownOpcode)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        if opcode.is_control() {
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if usize::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        // The 16- or 64-bit extended length, big-endian, in one loop for
        // both (on 32-bit targets a `u64::from_be_bytes` is a byte swap per
        // half; this is the smaller code, and it runs once per frame).
        let mut at = match len7 {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        let Some(ext) = input.get(2..at) else {
            return Ok(None);
        };
        let short = if at == 2 { u64::from(len7) } else { 0 };
        let payload_len = ext.iter().fold(short, |n, &b| (n << 8) | u64::from(b));
        if payload_len >> 63 != 0 {
            return Err(ProtocolError::LengthOverflow);
        }
        let mask = if masked {
            match input.get(at..at + 4) {
                Some(k) => {
                    at += 4;
                    Some([k[0], k[1], k[2], k[3]])
                }
                None => return Ok(None),
            }
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv: (b0 >> 4) & 0x07,
                opcode,
                mask,
                payload_len,
            },
            at,
        )))
    }

    /// The encoded length of this header.
    pub const fn encoded_len(&self) -> usize {
        header_len(self.payload_len, self.mask.is_some())
    }

    /// Writes this header at the start of `out` (minimal length encoding) and
    /// returns the number of bytes written, or `None` if `out` is too short.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// // RFC 6455 section 5.7: the header of a 256-byte unmasked binary message.
    /// let h = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask: None, payload_len: 256 };
    /// let mut out = [0u8; 14];
    /// assert_eq!(h.encode(&mut out), Some(4));
    /// assert_eq!(out[..4], [0x82, 0x7e, 0x01, 0x00]);
    /// ```
    pub fn encode(&self, out: &mut [u8]) -> Option<usize> {
        let n = self.encoded_len();
        let out = out.get_mut(..n)?;
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let (len7, at) = match self.payload_len {
            0..=125 => (self.payload_len as u8, 2),
            126..=0xffff => (126, 4),
            _ => (127, 10),
        };
        out[1] = mask_bit | len7;
        // The extended length, big-endian, last byte first (one loop for
        // both widths, as in `parse`).
        let mut len = self.payload_len;
        for b in out[2..at].iter_mut().rev() {
            *b = len as u8;
            len >>= 8;
        }
        if let Some(k) = self.mask {
            out[at..at + 4].copy_from_slice(&k);
        }
        Some(n)
    }
}

/// The encoded length of a header for a payload of `payload_len` bytes.
pub const fn header_len(payload_len: u64, masked: bool) -> usize {
    let base = if payload_len < 126 {
        2
    } else if payload_len <= u16::MAX as u64 {
        4
    } else {
        10
    };
    if masked {
        base + 4
    } else {
        base
    }
}

/// Encodes a whole masked client frame (header, then `payload` masked with
/// `key`) at the start of `out`. Returns the frame's length, or `None` if `out`
/// is too short (then `out` may be partly written).
///
/// ```
/// use ws_proto::frame::{encode_masked, OpCode};
/// // RFC 6455 section 5.7: a single-frame masked text message "Hello".
/// let mut out = [0u8; 11];
/// assert_eq!(encode_masked(&mut out, OpCode::Text, true, b"Hello", [0x37, 0xfa, 0x21, 0x3d]), Some(11));
/// assert_eq!(out, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// ```
#[inline]
pub fn encode_masked(
    out: &mut [u8],
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    key: [u8; 4],
) -> Option<usize> {
    if payload.len() < 126 {
        // The common short frame: a 6-byte header written directly, and a
        // masking loop without the large-payload alignment (inlined into
        // the queue: the call and the long path's register saves were a
        // third of a 16-byte frame's cost).
        let end = 6 + payload.len();
        // The header as one array: no range index or 4-byte copy left as a
        // call at opt-level "z".
        let (head, body) = out.get_mut(..end)?.split_first_chunk_mut::<6>()?;
        let [k0, k1, k2, k3] = key;
        let b0 = (u8::from(fin) << 7) | opcode.as_u8();
        *head = [b0, 0x80 | payload.len() as u8, k0, k1, k2, k3];
        if cfg!(target_pointer_width = "64") {
            crate::mask::copy_masked_short(body, payload, key);
        } else {
            // 32-bit targets (the ESP32): the one masking loop of the long
            // path, called (a second, inlined copy is flash for little).
            crate::mask::copy_masked(body, payload, key);
        }
        return Some(end);
    }
    encode_masked_long(out, opcode, fin, payload, key)
}

/// [`encode_masked`] for payloads of 126 bytes and more.
#[inline(never)]
fn encode_masked_long(
    out: &mut [u8],
    opcode: OpCode,
    fin: bool,
    payload: &[u8],
    key: [u8; 4],
) -> Option<usize> {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let h = header.encode(out)?;
    let end = h.checked_add(payload.len())?;
    crate::mask::copy_masked(out.get_mut(h..end)?, payload, key);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    fn parse(b: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::parse(b).unwrap().unwrap()
    }

    #[test]
    fn rfc_5_7_headers() {
        // Unmasked "Hello".
        let (h, n) = parse(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // Masked "Hello".
        let (h, n) = parse(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f]);
        assert_eq!(
            (h.mask, h.payload_len, n),
            (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6)
        );
        // Fragmented "Hel" + "lo".
        let (h, _) = parse(&[0x01, 0x03, 0x48, 0x65, 0x6c]);
        assert_eq!((h.fin, h.opcode), (false, OpCode::Text));
        let (h, _) = parse(&[0x80, 0x02, 0x6c, 0x6f]);
        assert_eq!((h.fin, h.opcode), (true, OpCode::Continuation));
        // Unmasked ping "Hello".
        let (h, _) = parse(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((h.opcode, h.payload_len), (OpCode::Ping, 5));
        // 256 bytes binary.
        let (h, n) = parse(&[0x82, 0x7e, 0x01, 0x00]);
        assert_eq!((h.opcode, h.payload_len, n), (OpCode::Binary, 256, 4));
        // 64 KiB binary.
        let (h, n) = parse(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn encode_round_trips_and_matches_rfc() {
        let h = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: None,
            payload_len: 65536,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = h.encode(&mut out).unwrap();
        assert_eq!(&out[..n], &[0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00]);
        for len in [0u64, 125, 126, 65535, 65536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                for opcode in [OpCode::Text, OpCode::Continuation] {
                    let h = FrameHeader {
                        fin: len % 2 == 0,
                        rsv: 0,
                        opcode,
                        mask,
                        payload_len: len,
                    };
                    let n = h.encode(&mut out).unwrap();
                    assert_eq!(n, h.encoded_len());
                    assert_eq!(parse(&out[..n]), (h, n));
                    for short in 0..n {
                        assert_eq!(FrameHeader::parse(&out[..short]).unwrap(), None);
                    }
                }
            }
        }
        assert_eq!(h.encode(&mut [0u8; 9]), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::test_config::proptest(256))]

        /// Any length up to 2^63 - 1 is written in the shortest form, its
        /// extended bytes big-endian as `to_be_bytes` gives them, and
        /// parsed back; one more bit is refused.
        #[test]
        fn any_length_round_trips(
            len in proptest::prop_oneof![0u64..=70_000, 0u64..=(u64::MAX >> 1)],
            masked: bool,
        ) {
            let mask = masked.then_some([9, 8, 7, 6]);
            let h = FrameHeader { fin: true, rsv: 0, opcode: OpCode::Binary, mask, payload_len: len };
            let mut out = [0u8; MAX_HEADER_LEN];
            let n = h.encode(&mut out).unwrap();
            let be = len.to_be_bytes();
            let ext = match len {
                0..=125 => &be[8..],
                126..=0xffff => &be[6..],
                _ => &be[..],
            };
            proptest::prop_assert_eq!(&out[2..2 + ext.len()], ext);
            proptest::prop_assert_eq!(FrameHeader::parse(&out[..n]).unwrap(), Some((h, n)));
            if ext.len() == 8 {
                out[2] |= 0x80;
                proptest::prop_assert_eq!(FrameHeader::parse(&out[..n]), Err(ProtocolError::LengthOverflow));
            }
        }
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(
            FrameHeader::parse(&[0x83, 0x00]),
            Err(ProtocolError::UnknownOpcode)
        );
        assert_eq!(
            FrameHeader::parse(&[0x8b, 0x00]),
            Err(ProtocolError::UnknownOpcode)
        );
        assert_eq!(
            FrameHeader::parse(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 0x7e]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert_eq!(
            FrameHeader::parse(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            Err(ProtocolError::LengthOverflow)
        );
    }
}
