//! Compressing outbound messages (RFC 7692 section 7.2.1), with `alloc`:
//! miniz_oxide keeps its hash chains and code buffer on the heap.
//!
//! Each message is compressed whole with a sync flush, and the trailing
//! `00 00 ff ff` is removed. The compressor is made at the first message
//! compressed; without context takeover it starts over for each message.

use alloc::boxed::Box;
use alloc::vec::Vec;

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

use super::inflate::TAIL;

/// miniz_oxide's `CompressionStrategy::Fixed`: fixed Huffman codes only.
const FIXED_CODES: i32 = 4;

/// An upper bound of the compressed size of `len` bytes: stored blocks cost
/// 5 bytes per 16 KiB or more of input, plus the flush.
pub(crate) const fn bound(len: usize) -> usize {
    len.saturating_add(len / 1024).saturating_add(64)
}

/// The outbound compressor and its output buffer.
#[derive(Default)]
pub(crate) struct Compressor {
    core: Option<Box<CompressorOxide>>,
    out: Vec<u8>,
}

impl core::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Compressor")
            .field("made", &self.core.is_some())
            .field("out", &self.out.capacity())
            .finish()
    }
}

impl Compressor {
    /// Compresses `data` as one message at `level` (1..=9, fixed at the
    /// first call); `fresh` starts without context.
    /// Returns the payload to send, or `None` if miniz_oxide failed (the
    /// context is then lost: the caller must not send anything compressed
    /// again without starting over).
    pub(crate) fn compress(&mut self, data: &[u8], level: u8, fresh: bool) -> Option<&[u8]> {
        // Raw DEFLATE (negative window bits) with fixed Huffman codes: for
        // every message miniz_oxide would otherwise build dynamic tables, and
        // on a stream of 100-byte JSON messages fixed codes are 24 times
        // faster and give half the bytes (large messages come out about 25%
        // larger than with dynamic codes, at the same speed).
        let level = i32::from(level.clamp(1, 9));
        let flags = create_comp_flags_from_zip_params(level, -15, FIXED_CODES);
        let core = self
            .core
            .get_or_insert_with(|| Box::new(CompressorOxide::new(flags)));
        if fresh {
            core.reset();
        }
        // Give back memory a much larger earlier message needed.
        if self.out.capacity() > bound(data.len()).saturating_mul(4).max(64 << 10) {
            self.out = Vec::new();
        }
        self.out.clear();
        self.out.reserve(bound(data.len()));
        let out = &mut self.out;
        let (status, used) = compress_to_output(core, data, TDEFLFlush::Sync, |chunk| {
            out.extend_from_slice(chunk);
            true
        });
        if status != TDEFLStatus::Okay || used != data.len() || !self.out.ends_with(&TAIL) {
            self.core = None;
            return None;
        }
        self.out.truncate(self.out.len() - TAIL.len());
        Some(&self.out)
    }

    /// The last compressed message was not sent after all: start the next
    /// one without context, as the server's window lacks this one.
    pub(crate) fn forget(&mut self) {
        self.core = None;
    }
}
