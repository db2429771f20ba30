//! The outbound queue: whole frames in, bytes out, nothing torn.
//!
//! Frames are encoded straight into caller-provided storage (masked while they
//! are copied) and leave in the order they were queued. A frame either fits
//! whole or is refused with [`SendError::Backpressure`]; a frame that could never
//! fit is refused with [`SendError::TooLarge`]. The tail of the storage is kept
//! for control frames: data may not use the last [`CONTROL_RESERVE`] bytes, a
//! pong may not use the last [`MAX_CONTROL_FRAME`] bytes, and the close frame may
//! use everything, so a pong and the close frame always get out even when data
//! filled the queue.
//!
//! The storage is one linear buffer. Pending bytes are `buf[head..tail]`, handed
//! to the transport as one slice; when a frame does not fit after `tail`, the
//! pending bytes move to the front first.
//!
//! Storage that can grow ([`crate::GrowableBuffer`]) takes a frame by growing
//! while fewer bytes than its soft limit are queued and the total stays within
//! its hard limit; [`SendError::TooLarge`] means a frame over the hard limit,
//! never "full for now". Once empty, the storage gives memory back down to
//! twice the last frame (so a stream of large frames does not reallocate).

use crate::buffer::Buffer;
use crate::error::SendError;
use crate::frame::{encode_masked, header_len, OpCode, MAX_CONTROL_PAYLOAD};
use crate::mask::ALIGN_FROM;

/// Whether large frames are placed for aligned masking ([`TxQueue`]'s
/// `make_room_long`): on 64-bit targets, whose masking works in words.
/// 32-bit ones mask byte by byte, where alignment buys nothing.
const ALIGN_LARGE: bool = cfg!(target_pointer_width = "64");

/// A large frame's payload goes where it has the caller's payload's address
/// modulo this (a cache line): then the masked copy's aligned stores (16 or,
/// with AVX2, 32 bytes) come with aligned loads whatever the caller's
/// alignment. Modulo 16, a payload 16 bytes past a 32-byte boundary took
/// 1,649-1,657 ns (median) to send at 64 KiB against 1,581-1,586 at the
/// other offsets; modulo 64, 1,581-1,586 at every offset
/// (`benches/examples/align.rs`).
const PLACE_MODULO: usize = 64;

/// The largest control frame a client sends: 2 + 4 (mask) + 125 bytes.
pub const MAX_CONTROL_FRAME: usize = 2 + 4 + MAX_CONTROL_PAYLOAD;

/// Bytes of the queue that data frames may not use: room for one pong and the
/// close frame.
pub const CONTROL_RESERVE: usize = 2 * MAX_CONTROL_FRAME;

/// The length of a masked frame with `payload_len` bytes of payload.
#[inline(always)]
fn frame_len(payload_len: usize) -> usize {
    if payload_len < 126 {
        6 + payload_len
    } else {
        header_len(payload_len as u64, true).saturating_add(payload_len)
    }
}

/// Which reserve a frame may dip into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Text, binary, continuation and the caller's pings.
    Data,
    /// An automatic pong.
    Pong,
    /// The one close frame.
    Close,
}

impl Class {
    const fn reserve(self) -> usize {
        match self {
            Class::Data => CONTROL_RESERVE,
            Class::Pong => MAX_CONTROL_FRAME,
            Class::Close => 0,
        }
    }
}

/// A FIFO of encoded frames over storage `S`.
#[derive(Debug)]
pub(crate) struct TxQueue<S> {
    buf: S,
    head: usize,
    tail: usize,
    /// The length of the last frame pushed (what to keep when shrinking).
    last: usize,
}

impl<S: Buffer> TxQueue<S> {
    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    pub(crate) fn new(buf: S) -> Self {
        TxQueue {
            buf,
            head: 0,
            tail: 0,
            last: 0,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// Bytes waiting to be transmitted.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf.as_ref()[self.head..self.tail]
    }

    /// The whole storage, for reading the request back during the handshake.
    pub(crate) fn storage(&self) -> &[u8] {
        self.buf.as_ref()
    }

    /// The whole storage, for rewriting the request on a redirect.
    pub(crate) fn storage_mut(&mut self) -> &mut [u8] {
        self.buf.as_mut()
    }

    /// The first `len` bytes of the storage (a request written in place)
    /// are pending; nothing else is.
    pub(crate) fn set_front(&mut self, len: usize) {
        self.head = 0;
        self.tail = len.min(self.capacity());
        self.last = self.tail;
    }

    /// Marks `n` pending bytes as transmitted (clamped to what is pending).
    pub(crate) fn advance(&mut self, n: usize) {
        self.head += n.min(self.tail - self.head);
        if self.head == self.tail {
            // Only the indices move: the bytes stay, which the handshake relies on.
            self.head = 0;
            self.tail = 0;
        }
    }

    /// Drops everything pending.
    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.tail = 0;
    }

    /// Fills the empty queue with what `write` puts at the front (the
    /// handshake request); `write` returns how many bytes it wrote. Storage
    /// that can grow is doubled until the request fits.
    pub(crate) fn fill_front<T>(
        &mut self,
        mut write: impl FnMut(&mut [u8]) -> Result<(usize, T), SendError>,
    ) -> Result<T, SendError> {
        self.clear();
        loop {
            match write(self.buf.as_mut()) {
                Err(SendError::RequestTooLarge) if self.capacity() < self.buf.limit() => {
                    let cap = self.capacity();
                    if self.buf.grow(cap.saturating_mul(2).max(1024)) <= cap {
                        return Err(SendError::RequestTooLarge);
                    }
                }
                Err(e) => return Err(e),
                Ok((n, out)) => {
                    self.tail = n.min(self.capacity());
                    return Ok(out);
                }
            }
        }
    }

    /// Grows the storage to at least `len` bytes if it can; whether it holds
    /// that many now.
    pub(crate) fn reserve_total(&mut self, len: usize) -> bool {
        self.capacity() >= len || self.buf.grow(len) >= len
    }

    /// The queue is empty after the handshake: give memory back.
    pub(crate) fn release_idle(&mut self) {
        if self.head == self.tail {
            self.buf.shrink(self.last.saturating_mul(2));
        }
    }

    /// Whether a frame of `len` bytes that must leave `reserve` free is
    /// accepted: at once, after growing the storage, or never.
    fn admit(&self, len: usize, reserve: usize) -> Result<bool, SendError> {
        let need = len.saturating_add(reserve);
        if need > self.buf.limit() {
            return Err(SendError::TooLarge);
        }
        let pending = self.tail - self.head;
        let total = pending.saturating_add(need);
        if total <= self.capacity() {
            return Ok(false);
        }
        if pending < self.buf.soft_limit() && total <= self.buf.limit() {
            return Ok(true);
        }
        Err(SendError::Backpressure)
    }

    /// Makes room for `len` more bytes at the tail, keeping `reserve` free.
    #[inline]
    fn make_room(&mut self, len: usize, reserve: usize) -> Result<(), SendError> {
        // The common case inline: it fits after the tail as the storage is.
        let need = len.saturating_add(reserve);
        let cap = self.capacity();
        if need <= self.buf.limit()
            && (self.tail - self.head).saturating_add(need) <= cap
            && cap - self.tail >= len
        {
            return Ok(());
        }
        self.make_room_slow(len, reserve)
    }

    /// [`make_room`](Self::make_room) when the storage must grow, the
    /// pending bytes move, or the frame is refused.
    #[inline(never)]
    fn make_room_slow(&mut self, len: usize, reserve: usize) -> Result<(), SendError> {
        let grow = self.admit(len, reserve)?;
        let pending = self.tail - self.head;
        if grow && self.buf.grow(pending + len + reserve) < pending + len + reserve {
            return Err(SendError::Backpressure);
        }
        let cap = self.capacity();
        if cap - self.tail < len {
            let (head, tail) = (self.head, self.tail);
            crate::buffer::move_to_front(self.buf.as_mut(), head, tail);
            self.tail -= head;
            self.head = 0;
        }
        Ok(())
    }

    /// Encodes and appends one masked frame, whole or not at all.
    ///
    /// Inlined into [`Connection`](crate::Connection)'s `queue` on 64-bit
    /// targets, where the call's register saves were 18 of the std Client's
    /// 162 instructions per 16 B message; on 32-bit microcontrollers one
    /// copy of it keeps flash down.
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    #[cfg_attr(not(target_pointer_width = "64"), inline)]
    pub(crate) fn push_frame(
        &mut self,
        class: Class,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
        key: [u8; 4],
    ) -> Result<(), SendError> {
        let reserve = class.reserve();
        if !ALIGN_LARGE {
            self.make_room(frame_len(payload.len()), reserve)?;
        } else if payload.len() < 126 {
            self.make_room(6 + payload.len(), reserve)?;
        } else {
            self.make_room_long(payload, reserve)?;
        }
        let tail = self.tail;
        let written = encode_masked(&mut self.buf.as_mut()[tail..], opcode, fin, payload, key)
            .ok_or(SendError::TooLarge)?;
        self.tail += written;
        self.last = written;
        Ok(())
    }

    /// [`make_room`](Self::make_room) for a frame of 126 bytes or more with
    /// this payload. From [`ALIGN_FROM`] bytes into the empty queue (on
    /// 64-bit targets), the frame starts up to 63 bytes in, so that its
    /// payload has the caller's payload's address modulo [`PLACE_MODULO`]:
    /// [`copy_masked`] aligns its stores, and this aligns its loads as well,
    /// which no fixed offset could do for every caller (the std Client's
    /// 64 KiB send took 5% longer with misaligned loads, `benches/README.md`).
    /// Without room for the 63 bytes more, the frame goes to the front as
    /// usual.
    ///
    /// 64-bit targets only, out of line, which keeps the short frame's
    /// inlined path small (the std Client's send 16 B: 136 -> 132
    /// instructions); 32-bit ones, where `push_frame` has one copy, keep one
    /// `make_room` for both lengths (a second one was 18 bytes of flash).
    ///
    /// [`copy_masked`]: crate::mask::copy_masked
    #[inline(never)]
    fn make_room_long(&mut self, payload: &[u8], reserve: usize) -> Result<(), SendError> {
        let len = frame_len(payload.len());
        if payload.len() < ALIGN_FROM || self.head != self.tail {
            return self.make_room(len, reserve);
        }
        (self.head, self.tail) = (0, 0);
        if self
            .make_room(len.saturating_add(PLACE_MODULO - 1), reserve)
            .is_err()
        {
            return self.make_room(len, reserve);
        }
        // Addresses only (pointer-to-address casts are safe): where the
        // payload would land at the front, and where the caller's is.
        let header = len - payload.len();
        let at = (self.buf.as_ref().as_ptr() as usize).wrapping_add(header);
        let pad = (payload.as_ptr() as usize).wrapping_sub(at) & (PLACE_MODULO - 1);
        (self.head, self.tail) = (pad, pad);
        Ok(())
    }

    /// Sets RSV1 (permessage-deflate: "compressed") on the frame just pushed.
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    pub(crate) fn set_rsv1_last(&mut self) {
        let at = self.tail - self.last;
        if let Some(b0) = self.buf.as_mut().get_mut(at) {
            *b0 |= 0x40;
        }
    }

    /// Whether a frame with this payload length would be accepted now.
    pub(crate) fn has_room(&self, class: Class, payload_len: usize) -> bool {
        self.admit(frame_len(payload_len), class.reserve()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    #[test]
    fn whole_or_nothing_and_reserve() {
        let mut q = TxQueue::new([0u8; CONTROL_RESERVE + 20]);
        // 14 + 6 = 20 bytes: exactly fits data room.
        q.push_frame(Class::Data, OpCode::Binary, true, &[7; 14], [0; 4])
            .unwrap();
        assert_eq!(q.pending().len(), 20);
        assert_eq!(
            q.push_frame(Class::Data, OpCode::Binary, true, &[], [0; 4]),
            Err(SendError::Backpressure)
        );
        assert_eq!(
            q.pending().len(),
            20,
            "a refused frame leaves nothing behind"
        );
        q.push_frame(Class::Pong, OpCode::Pong, true, &[1; 125], [0; 4])
            .unwrap();
        assert_eq!(
            q.push_frame(Class::Pong, OpCode::Pong, true, &[1; 1], [0; 4]),
            Err(SendError::Backpressure)
        );
        q.push_frame(Class::Close, OpCode::Close, true, &[1; 125], [0; 4])
            .unwrap();
        assert_eq!(q.pending().len(), q.capacity());
        assert_eq!(
            q.push_frame(Class::Data, OpCode::Binary, true, &[0; 300], [0; 4]),
            Err(SendError::TooLarge)
        );
    }

    /// Growable storage: a frame is taken by growing while fewer than the
    /// soft limit's bytes are queued; over the hard limit is `TooLarge`,
    /// never `Backpressure`; empty, it shrinks back.
    #[test]
    fn growable_soft_and_hard_limits() {
        let hard = CONTROL_RESERVE + 10_008;
        let mut q = TxQueue::new(crate::GrowableBuffer::new(512, 1_000, hard));
        assert_eq!(q.capacity(), 512);
        // Much larger than the storage and the soft mark, but within the limit.
        q.push_frame(Class::Data, OpCode::Binary, true, &[1; 10_000], [0; 4])
            .unwrap();
        assert_eq!(q.pending().len(), 10_008);
        // Now over the soft mark: push back, whatever the size.
        assert_eq!(
            q.push_frame(Class::Data, OpCode::Binary, true, &[1; 1], [0; 4]),
            Err(SendError::Backpressure)
        );
        // The reserve still takes a pong and the close frame.
        q.push_frame(Class::Pong, OpCode::Pong, true, &[2; 125], [0; 4])
            .unwrap();
        q.push_frame(Class::Close, OpCode::Close, true, &[3; 2], [0; 4])
            .unwrap();
        q.advance(usize::MAX);
        q.release_idle();
        assert!(q.capacity() < 10_000, "shrunk to {}", q.capacity());
        // Over the hard limit: TooLarge, at once and always.
        assert_eq!(
            q.push_frame(Class::Data, OpCode::Binary, true, &[1; 10_001], [0; 4]),
            Err(SendError::TooLarge)
        );
        assert!(q.pending().is_empty());
    }

    /// A large frame into the empty queue gets its payload at the caller's
    /// payload's address modulo 64 (64-bit targets), is the same frame, and
    /// leaves the control reserve intact; without room for the shift it goes
    /// to the front.
    #[test]
    fn large_frame_placed_for_aligned_masking() {
        let len = ALIGN_FROM + 3;
        let frame = header_len(len as u64, true) + len;
        let src: Vec<u8> = (0..len + PLACE_MODULO).map(|i| i as u8).collect();
        let key = [1, 2, 3, 4];
        // Under Miri, which interprets every byte, a few of the shifts.
        let step = if cfg!(miri) { 21 } else { 1 };
        for shift in (0..PLACE_MODULO).step_by(step) {
            let payload = &src[shift..shift + len];
            let mut expected = vec![0u8; frame];
            encode_masked(&mut expected, OpCode::Binary, true, payload, key).unwrap();
            let mut q = TxQueue::new(vec![0u8; frame + PLACE_MODULO - 1 + CONTROL_RESERVE]);
            q.push_frame(Class::Data, OpCode::Binary, true, payload, key)
                .unwrap();
            assert_eq!(q.pending(), &expected[..]);
            let at = q.pending()[frame - len..].as_ptr() as usize;
            let apart = at.wrapping_sub(payload.as_ptr() as usize) & (PLACE_MODULO - 1);
            if ALIGN_LARGE {
                assert_eq!(apart, 0, "shift {shift}");
            }
            q.push_frame(Class::Pong, OpCode::Pong, true, &[1; 125], key)
                .unwrap();
            q.push_frame(Class::Close, OpCode::Close, true, &[1; 125], key)
                .unwrap();
            assert_eq!(q.pending().len(), frame + 2 * MAX_CONTROL_FRAME);
            assert_eq!(&q.pending()[..frame], &expected[..]);

            // Exactly enough room: the frame at the front.
            let mut q = TxQueue::new(vec![0u8; frame + CONTROL_RESERVE]);
            q.push_frame(Class::Data, OpCode::Binary, true, payload, key)
                .unwrap();
            assert_eq!(q.pending(), &expected[..]);
            assert_eq!(q.pending().as_ptr(), q.storage().as_ptr());
        }
    }

    /// Runs `ops` (frame kind, payload length, payload offset, bytes to
    /// transmit after it) on `q`; checks that the bytes that leave are
    /// exactly the accepted frames, whole and in order.
    fn bytes_out_are_accepted_frames<S: Buffer>(
        mut q: TxQueue<S>,
        ops: &[(u8, usize, usize, usize)],
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let src: Vec<u8> = (0..9000 + PLACE_MODULO).map(|i| (i * 7) as u8).collect();
        let (mut sent, mut accepted) = (Vec::new(), Vec::new());
        for &(kind, len, shift, take) in ops {
            let (class, opcode, len) = match kind {
                0 => (Class::Data, OpCode::Binary, len),
                1 => (Class::Data, OpCode::Text, len),
                _ => (Class::Pong, OpCode::Pong, len.min(125)),
            };
            let payload = &src[shift..shift + len];
            let key = [shift as u8, 2, 3, 4];
            if q.push_frame(class, opcode, true, payload, key).is_ok() {
                let mut frame = vec![0u8; frame_len(len)];
                let n = encode_masked(&mut frame, opcode, true, payload, key).unwrap();
                accepted.extend_from_slice(&frame[..n]);
            }
            let n = take.min(q.pending().len());
            sent.extend_from_slice(&q.pending()[..n]);
            q.advance(n);
            proptest::prop_assert_eq!(&sent[..], &accepted[..sent.len()]);
        }
        sent.extend_from_slice(q.pending());
        proptest::prop_assert_eq!(sent, accepted);
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(crate::test_config::proptest(256))]
        /// Any mix of small and large frames (placed or not), partial
        /// transmits and refusals, over fixed and growable storage.
        #[test]
        fn bytes_out_are_the_accepted_frames_in_order(
            ops in proptest::collection::vec(
                (0u8..3, 0usize..9000, 0usize..PLACE_MODULO, 0usize..12000), 1..24),
        ) {
            bytes_out_are_accepted_frames(TxQueue::new(vec![0u8; 12_000]), &ops)?;
            let growable = crate::GrowableBuffer::new(512, 12_000, 20_000);
            bytes_out_are_accepted_frames(TxQueue::new(growable), &ops)?;
        }
    }

    #[test]
    fn compacts_and_keeps_order() {
        let mut q = TxQueue::new([0u8; CONTROL_RESERVE + 64]);
        q.push_frame(
            Class::Data,
            OpCode::Text,
            true,
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            [0; 4],
        )
        .unwrap();
        q.push_frame(Class::Data, OpCode::Text, true, b"bb", [0; 4])
            .unwrap();
        q.advance(36); // the first frame went out
        assert_eq!(q.pending(), &[0x81, 0x82, 0, 0, 0, 0, b'b', b'b']);
        q.push_frame(Class::Data, OpCode::Text, true, &[b'c'; 40], [0; 4])
            .unwrap();
        assert_eq!(&q.pending()[..8], &[0x81, 0x82, 0, 0, 0, 0, b'b', b'b']);
        assert_eq!(q.pending().len(), 8 + 46);
        q.advance(1000);
        assert!(q.pending().is_empty());
    }
}
