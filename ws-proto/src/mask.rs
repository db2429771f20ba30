//! Payload masking (RFC 6455 section 5.3), the client's hot path.
//!
//! `masked[i] = payload[i] ^ key[(offset + i) % 4]`. The implementation works a
//! 64-bit word at a time (the key repeated twice, rotated to the offset) with no
//! per-byte branch in the body; the compiler turns the word loop into SIMD where
//! the target has it. Only the tail of fewer than 8 bytes goes byte by byte.

/// XORs `buf` in place with `key`, as if `buf` started at byte `offset` of the
/// masked payload.
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let word = u64::from_ne_bytes(repeat(key));
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
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
pub fn copy_masked(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    let n = dst.len().min(src.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    let word = u64::from_ne_bytes(repeat(key));
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (dc, sc) in (&mut d).zip(&mut s) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(sc);
        dc.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    for (i, (db, sb)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *db = sb ^ key[i & 3];
    }
}

fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(offset & 3);
    k
}

fn repeat(k: [u8; 4]) -> [u8; 8] {
    [k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 8 } else { 256 }))]
        #[test]
        fn word_mask_equals_bytewise(data in proptest::collection::vec(any::<u8>(), 0..200),
                                     key in any::<[u8; 4]>(), offset in 0usize..16, start in 0usize..8) {
            // `start` shifts the slice in memory so unaligned words are covered.
            let start = start.min(data.len());
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast[start..], key, offset);
            reference(&mut slow[start..], key, offset);
            prop_assert_eq!(&fast, &slow);

            let mut copied = vec![0u8; data.len() - start];
            copy_masked(&mut copied, &data[start..], key);
            let mut expect = data[start..].to_vec();
            reference(&mut expect, key, 0);
            prop_assert_eq!(copied, expect);
        }
    }
}
