//! Payload masking (RFC 6455 section 5.3), the client's hot path.
//!
//! `masked[i] = payload[i] ^ key[(offset + i) % 4]`. The implementation works a
//! 64-bit word at a time (the key repeated twice, rotated to the offset) with no
//! per-byte branch in the body; the compiler turns the word loop into SIMD where
//! the target has it. [`copy_masked`] (what every outbound frame goes through)
//! finishes with one overlapping word instead of a byte loop and aligns its
//! stores on large payloads; [`apply_mask`] (in place, so no overlap) does the
//! tail of fewer than 8 bytes byte by byte. On 32-bit targets [`copy_masked`]
//! goes byte by byte, eight a step: a word there is made of byte loads. With
//! the `std` feature on x86_64, large payloads take the same loop compiled
//! for AVX2 when the CPU has it (the one `unsafe` call here, after the check).

/// XORs `buf` in place with `key`, as if `buf` started at byte `offset` of the
/// masked payload.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let word = word_at(key, offset);
    let key = rotate(key, offset);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        if let Ok(w) = <&mut [u8; 8]>::try_from(chunk) {
            *w = (u64::from_ne_bytes(*w) ^ word).to_ne_bytes();
        }
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// Copies `src` into `dst` (same length) masked with `key` from payload offset 0.
///
/// Fusing the copy and the XOR reads and writes each byte once, which is what
/// the outbound queue does for every frame it encodes.
///
/// Only `min(dst.len(), src.len())` bytes are written.
///
/// On 32-bit targets, eight bytes a step ([`copy_masked_bytes`]). On 64-bit
/// ones, the shape (each step measured, see the benches' README section):
/// - under 8 bytes: byte by byte;
/// - from 8 bytes: whole `u64` words, and the last partial word is done as
///   one more (unaligned) word ending at the last byte, overlapping bytes
///   already written with the same values, so there is no byte loop;
/// - from [`ALIGN_FROM`] bytes: the first 16 bytes are
///   done as two words, then the word loop starts where `dst` is 16-byte
///   aligned (again overlapping), so the vector stores never straddle a cache
///   line. A frame's payload sits after a 2-14 byte header, so without this
///   most stores of a large frame are split, which costs about 30% at 64 KiB;
/// - from [`ALIGN_FROM`] bytes with the `std` feature on an x86_64 CPU that
///   has AVX2: the same loop compiled for AVX2 (32-byte vectors), the first
///   32 bytes as words and the stores aligned to 32 bytes.
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    if cfg!(target_pointer_width = "64") {
        copy_masked_words(dst, src, key);
    } else {
        copy_masked_bytes(dst, src, key);
    }
}

/// [`copy_masked`] on 64-bit targets: `u64` words (see there), with the
/// stores aligned to 16 bytes, or to 32 through [`copy_masked_avx2`] where the
/// CPU has AVX2 and the crate can ask (feature `std`, x86_64).
fn copy_masked_words(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if dst.len().min(src.len()) >= ALIGN_FROM && std::is_x86_feature_detected!("avx2") {
        // SAFETY: `copy_masked_avx2` is safe code compiled for AVX2; its one
        // requirement, a CPU with AVX2, was checked on the line above.
        #[allow(unsafe_code)]
        return unsafe { copy_masked_avx2(dst, src, key) };
    }
    copy_masked_aligned::<16>(dst, src, key);
}

/// [`copy_masked_aligned`] compiled for AVX2: the same words become 32-byte
/// vectors, and the stores are aligned to 32 bytes.
///
/// Measured by `benches/examples/align.rs` (the std Client's 64 KiB send,
/// median of 3,000, alternate runs of both builds): 1,581-1,587 ns against
/// 1,605-1,669 ns for the 16-byte path; 1.02x the aligned u64 XOR anchor,
/// against 0.99-1.02x. Aligning to 64 bytes instead changed nothing.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
fn copy_masked_avx2(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    copy_masked_aligned::<32>(dst, src, key);
}

/// The body of [`copy_masked_words`]: from [`ALIGN_FROM`] bytes, the first
/// `ALIGN` bytes as words, then the word loop from where `dst` is
/// `ALIGN`-byte aligned (`ALIGN` a power of two, at most 64).
#[inline(always)]
fn copy_masked_aligned<const ALIGN: usize>(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if n < 8 {
        for (i, (d, s)) in dst.iter_mut().zip(src).enumerate() {
            *d = s ^ key[i & 3];
        }
        return;
    }
    let mut start = 0;
    if n >= ALIGN_FROM {
        let w = word_at(key, 0);
        for at in (0..ALIGN).step_by(8) {
            xor_word(&mut dst[at..], &src[at..], w);
        }
        // Pointer-to-address casts are safe; only the address's low bits matter.
        start = (dst.as_ptr() as usize).wrapping_neg() & (ALIGN - 1);
    }
    let word = word_at(key, start);
    let mut d = dst[start..].chunks_exact_mut(8);
    let mut s = src[start..].chunks_exact(8);
    for (dc, sc) in (&mut d).zip(&mut s) {
        xor_word(dc, sc, word);
    }
    if !d.into_remainder().is_empty() {
        let at = n - 8;
        xor_word(&mut dst[at..], &src[at..], word_at(key, at));
    }
}

/// [`copy_masked`] on 32-bit targets (the ESP32): eight bytes a step, each
/// its own load, XOR and store with the key's bytes in registers.
///
/// A word is no faster there: the payload and the queue have no common
/// alignment, so a `u64` (or `u32`) is assembled from byte loads with shifts
/// and split into byte stores again, more instructions than the bytes
/// themselves (riscv32imc under QEMU, `scripts/qemu.sh`, a 1 KiB frame:
/// 5.4 instructions a byte with `u64` words at opt-level "s", 5.7 at "z").
/// One iterator over both sides keeps one counter in the loop.
pub(crate) fn copy_masked_bytes(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = dst.len().min(src.len());
    let whole = n & !7;
    let (Some((dh, dt)), Some((sh, st))) = (
        dst.get_mut(..n).and_then(|d| d.split_at_mut_checked(whole)),
        src.get(..n).and_then(|s| s.split_at_checked(whole)),
    ) else {
        return;
    };
    let [k0, k1, k2, k3] = key;
    for (dc, sc) in dh.chunks_exact_mut(8).zip(sh.chunks_exact(8)) {
        let dc = <&mut [u8; 8]>::try_from(dc);
        if let (Ok(d), Ok(s)) = (dc, <&[u8; 8]>::try_from(sc)) {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = *s;
            *d = [
                s0 ^ k0,
                s1 ^ k1,
                s2 ^ k2,
                s3 ^ k3,
                s4 ^ k0,
                s5 ^ k1,
                s6 ^ k2,
                s7 ^ k3,
            ];
        }
    }
    for (i, (d, s)) in dt.iter_mut().zip(st).enumerate() {
        *d = s ^ key[i & 3];
    }
}

/// [`copy_masked`] for short payloads (a frame under 126 bytes): words and
/// one overlapping last word, no alignment step; small enough to inline.
#[inline(always)]
pub(crate) fn copy_masked_short(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    if n < 8 {
        for (i, (d, s)) in dst.iter_mut().zip(src).enumerate() {
            *d = s ^ key[i & 3];
        }
        return;
    }
    let word = word_at(key, 0);
    if n <= 16 {
        // Two words, the second ending at the last byte (overlapping the
        // first with the same values when n < 16): no loop.
        xor_word(dst, src, word);
        let at = n - 8;
        xor_word(&mut dst[at..], &src[at..], word_at(key, at));
        return;
    }
    let mut at = 0;
    while at + 8 <= n {
        xor_word(&mut dst[at..], &src[at..], word);
        at += 8;
    }
    if at < n {
        let at = n - 8;
        xor_word(&mut dst[at..], &src[at..], word_at(key, at));
    }
}

/// From this payload length on, [`copy_masked`] aligns its stores. Below it
/// the data is in L1 where split stores are cheap and the extra head costs
/// more than it saves (measured at 1 KiB).
pub const ALIGN_FROM: usize = 4096;

/// The key repeated over a `u64`, rotated to payload offset `offset`.
#[inline(always)]
fn word_at(key: [u8; 4], offset: usize) -> u64 {
    // `k | k << 32` is the key repeated twice in either byte order.
    let k = u64::from(u32::from_ne_bytes(rotate(key, offset)));
    k | (k << 32)
}

/// `dst[..8] = src[..8] ^ word` (nothing when either is shorter).
///
/// Through `[u8; 8]` references, not `copy_from_slice`: at opt-level "z" a
/// slice copy stays a call to `memcpy` (a byte loop) per word, 2.4x the
/// instructions of "s" on riscv32imc; an array assignment is inlined.
#[inline(always)]
fn xor_word(dst: &mut [u8], src: &[u8], word: u64) {
    let d = dst
        .get_mut(..8)
        .and_then(|d| <&mut [u8; 8]>::try_from(d).ok());
    let s = src.get(..8).and_then(|s| <&[u8; 8]>::try_from(s).ok());
    if let (Some(d), Some(s)) = (d, s) {
        *d = (u64::from_ne_bytes(*s) ^ word).to_ne_bytes();
    }
}

/// The key as it applies from payload offset `offset`: rotated left by
/// `offset % 4` bytes. Done on a `u32` (`<[u8]>::rotate_left` is a call that
/// costs about 36 instructions per frame; this is two).
#[inline(always)]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian view: rotating the bytes left rotates the value right.
    let shift = 8 * (offset & 3) as u32;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::prelude::rust_2021::*;
    use std::vec;

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_hello_vector() {
        // RFC 6455 section 5.7: masked "Hello" with key 37 fa 21 3d.
        let mut p = *b"Hello";
        apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(p, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        let mut out = [0u8; 5];
        copy_masked(&mut out, b"Hello", [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(out, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    /// Checks `copy` against [`reference`] for short lengths and lengths
    /// either side of [`ALIGN_FROM`], at every destination address mod 32
    /// and a few source ones, and that nothing outside `dst` is written.
    fn check_every_alignment_and_tail(copy: fn(&mut [u8], &[u8], [u8; 4])) {
        let data: Vec<u8> = (0..ALIGN_FROM as u32 + 64)
            .map(|i| (i * 31 + 7) as u8)
            .collect();
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![0u8; data.len() + 64];
        // Under Miri, which interprets every byte, only the edges of each
        // path: short tails, and one length either side of the aligned path.
        let (near, dsts, srcs) = if cfg!(miri) { (1, 3, 1) } else { (20, 32, 3) };
        let lens = (0..40).chain(ALIGN_FROM - near..ALIGN_FROM + near);
        for len in lens {
            for dst_at in 0..dsts {
                for src_at in 0..srcs {
                    // Reset what earlier rounds may have written (at most 32
                    // bytes past this one's end).
                    let reset_end = (dst_at + len + 32).min(out.len());
                    out[..reset_end].fill(0);
                    let src = &data[src_at..src_at + len];
                    copy(&mut out[dst_at..dst_at + len], src, key);
                    let mut expect = src.to_vec();
                    reference(&mut expect, key, 0);
                    assert_eq!(
                        &out[dst_at..dst_at + len],
                        &expect[..],
                        "len {len} dst_at {dst_at}"
                    );
                    assert!(out[..dst_at].iter().all(|&b| b == 0), "nothing before dst");
                    assert!(
                        out[dst_at + len..reset_end].iter().all(|&b| b == 0),
                        "nothing after dst"
                    );
                }
            }
        }
    }

    #[test]
    fn copy_masked_every_alignment_and_tail() {
        check_every_alignment_and_tail(copy_masked);
    }

    /// Both alignments of the 64-bit loop on every target: 16 (what
    /// [`copy_masked`] takes without AVX2) and 32 (the AVX2 path's body,
    /// here compiled without AVX2).
    #[test]
    fn copy_masked_aligned_16_and_32_every_alignment_and_tail() {
        check_every_alignment_and_tail(copy_masked_aligned::<16>);
        check_every_alignment_and_tail(copy_masked_aligned::<32>);
    }

    /// The AVX2 path itself, where it is built and the CPU has AVX2 (CI runs
    /// it natively and under Miri with `-C target-feature=+avx2`).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn copy_masked_avx2_every_alignment_and_tail() {
        // Built with AVX2 enabled (as CI's Miri run is), the check must see it,
        // so that run cannot pass without taking the AVX2 path.
        let detected = std::is_x86_feature_detected!("avx2");
        assert!(detected || !cfg!(target_feature = "avx2"));
        if detected {
            #[allow(unsafe_code)]
            // SAFETY: the CPU has AVX2, checked on the line above.
            check_every_alignment_and_tail(|d, s, k| unsafe { copy_masked_avx2(d, s, k) });
        }
    }

    #[test]
    fn copy_masked_short_every_length() {
        let data: Vec<u8> = (0..140u32).map(|i| (i * 37 + 5) as u8).collect();
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for len in 0..data.len() {
            let mut out = vec![0u8; len];
            copy_masked_short(&mut out, &data[..len], key);
            let mut expect = data[..len].to_vec();
            reference(&mut expect, key, 0);
            assert_eq!(out, expect, "len {len}");
        }
    }

    proptest! {
        #![proptest_config(crate::test_config::proptest(256))]
        #[test]
        fn word_mask_equals_bytewise(data in prop_oneof![proptest::collection::vec(any::<u8>(), 0..200),
                                             proptest::collection::vec(any::<u8>(), ALIGN_FROM - 8..ALIGN_FROM + 100)],
                                     key in any::<[u8; 4]>(), offset in 0usize..16, start in 0usize..8) {
            // `start` shifts the slice in memory so unaligned words are covered.
            let start = start.min(data.len());
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast[start..], key, offset);
            reference(&mut slow[start..], key, offset);
            prop_assert_eq!(&fast, &slow);

            // The destination is shifted by `start` as well.
            let mut copied = vec![0u8; data.len()];
            copy_masked(&mut copied[start..], &data[start..], key);
            let mut expect = data[start..].to_vec();
            reference(&mut expect, key, 0);
            prop_assert_eq!(&copied[start..], &expect[..]);

            // The 32-bit targets' loop, whatever the host: also into a
            // longer destination (only the source's length is written).
            let mut bytes = vec![0u8; data.len() + 3];
            copy_masked_bytes(&mut bytes[start..], &data[start..], key);
            prop_assert_eq!(&bytes[start..data.len()], &expect[..]);
            prop_assert!(bytes[data.len()..].iter().all(|&b| b == 0));
        }
    }
}
