//! [`Buffer`]: the storage a queue, a receive buffer or an assembler works
//! over. Fixed storage (`[u8; N]`, `&mut [u8]`, `Vec<u8>`) never changes
//! size; [`GrowableBuffer`] (feature `alloc`) starts small, grows on demand
//! up to a hard limit and gives memory back when it is empty again, so an
//! idle connection holds a few KiB instead of its limits.

/// Bytes the protocol works in. Every method but the two `AsRef`/`AsMut`
/// ones has a default for storage of a fixed size.
pub trait Buffer: AsRef<[u8]> + AsMut<[u8]> {
    /// Whether this storage can grow ([`grow`](Self::grow) may make it
    /// longer). A session holds a partly read single-frame message back,
    /// to hand it out borrowed from the buffer, only in a receive buffer
    /// that grows; fixed storage takes it in pieces through the assembler.
    /// (Holding in fixed storage saved one copy of at most the buffer's
    /// size per message, for 694 bytes of the ESP32 Session program's flash.)
    const GROWS: bool = false;

    /// The longest this storage can become (the hard limit).
    fn limit(&self) -> usize {
        self.as_ref().len()
    }

    /// The size up to which the storage grows without pushing back: an
    /// outbound queue accepts a frame by growing only while what is queued
    /// is below this mark (the soft limit).
    fn soft_limit(&self) -> usize {
        self.as_ref().len()
    }

    /// Makes the storage at least `len` bytes long (at most
    /// [`limit`](Self::limit)), keeping its contents; returns the new length.
    fn grow(&mut self, len: usize) -> usize {
        let _ = len;
        self.as_ref().len()
    }

    /// The storage is empty beyond its first `keep` bytes: it may give back
    /// memory, down to its initial size (contents past `keep` are lost).
    fn shrink(&mut self, keep: usize) {
        let _ = keep;
    }
}

/// Moves `buf[from..to]` to the front of `buf`, front to back, in copies
/// of at most `from` bytes, which never overlap (the bytes moved past
/// themselves are one copy: how the receive buffer moves them, as it moves
/// only when that frees half of it). Not `copy_within`: its `memmove` was
/// 804 B of the ESP32 program's flash, for the one move the `memcpy` that
/// every program has does as well.
pub(crate) fn move_to_front(buf: &mut [u8], from: usize, to: usize) {
    let (mut dst, mut src) = (0, from);
    while src < to && dst < src {
        let n = (to - src).min(src - dst);
        let Some((front, back)) = buf.split_at_mut_checked(src) else {
            return;
        };
        if let (Some(d), Some(s)) = (front.get_mut(dst..dst + n), back.get(..n)) {
            d.copy_from_slice(s);
        }
        (dst, src) = (dst + n, src + n);
    }
}

impl<const N: usize> Buffer for [u8; N] {}

impl Buffer for &mut [u8] {}

#[cfg(feature = "alloc")]
mod growable {
    extern crate alloc;

    use super::Buffer;
    use alloc::vec::Vec;

    impl Buffer for Vec<u8> {}

    /// Heap storage that grows on demand (doubling, at least to what is
    /// asked) up to `limit` bytes and shrinks back (to `initial`, or to what
    /// recent traffic needed) once empty and more than four times too big.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GrowableBuffer {
        bytes: Vec<u8>,
        initial: usize,
        soft: usize,
        limit: usize,
    }

    impl GrowableBuffer {
        /// Storage of `initial` bytes that may grow to `limit`, pushing back
        /// (for a queue) once `soft` bytes are queued. `initial` and `soft`
        /// are cut to `limit`.
        pub fn new(initial: usize, soft: usize, limit: usize) -> Self {
            let initial = initial.min(limit);
            GrowableBuffer {
                bytes: alloc::vec![0; initial],
                initial,
                soft: soft.min(limit),
                limit,
            }
        }

        /// Bytes of heap held now.
        pub fn allocated(&self) -> usize {
            self.bytes.capacity()
        }
    }

    impl AsRef<[u8]> for GrowableBuffer {
        fn as_ref(&self) -> &[u8] {
            &self.bytes
        }
    }

    impl AsMut<[u8]> for GrowableBuffer {
        fn as_mut(&mut self) -> &mut [u8] {
            &mut self.bytes
        }
    }

    impl Buffer for GrowableBuffer {
        const GROWS: bool = true;

        fn limit(&self) -> usize {
            self.limit
        }

        fn soft_limit(&self) -> usize {
            // Not the grown length: the mark would grow with every frame.
            self.soft.max(self.initial)
        }

        fn grow(&mut self, len: usize) -> usize {
            let have = self.bytes.len();
            if len > have {
                let want = len.max(have.saturating_mul(2)).min(self.limit);
                if want > have && self.bytes.try_reserve_exact(want - have).is_ok() {
                    self.bytes.resize(want, 0);
                }
            }
            self.bytes.len()
        }

        /// Inlined: it is asked after every message, and almost always
        /// does nothing.
        #[inline]
        fn shrink(&mut self, keep: usize) {
            let to = keep.max(self.initial);
            // Only well past what is needed, so that traffic whose size
            // wavers does not reallocate on every turn.
            if self.bytes.len() > to.saturating_mul(4) {
                self.bytes.truncate(to);
                self.bytes.shrink_to(to);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn grows_to_the_limit_and_shrinks_back() {
            let mut b = GrowableBuffer::new(16, 64, 100);
            assert_eq!(b.as_ref().len(), 16);
            assert_eq!(b.grow(20), 32, "doubles");
            b.as_mut()[..3].copy_from_slice(b"abc");
            assert_eq!(b.grow(90), 90);
            assert_eq!(b.grow(1_000), 100, "never past the limit");
            assert_eq!(&b.as_ref()[..3], b"abc", "contents kept");
            assert_eq!(
                b.soft_limit(),
                64,
                "the mark does not grow with the storage"
            );
            b.shrink(3);
            assert_eq!(b.as_ref().len(), 16);
            assert_eq!(&b.as_ref()[..3], b"abc");
            assert!(b.allocated() < 100);
            assert_eq!(b.soft_limit(), 64);
        }
    }
}

#[cfg(feature = "alloc")]
pub use growable::GrowableBuffer;

#[cfg(test)]
mod move_tests {
    use super::move_to_front;
    use proptest::prelude::*;
    use std::prelude::rust_2021::*;

    proptest! {
        #![proptest_config(crate::test_config::proptest(256))]
        /// The same bytes as `copy_within`, for any span.
        #[test]
        fn agrees_with_copy_within(len in 0usize..80, a in 0usize..80, b in 0usize..80) {
            let (from, to) = (a.min(b).min(len), a.max(b).min(len));
            let orig: Vec<u8> = (0..len as u8).collect();
            let mut want = orig.clone();
            want.copy_within(from..to, 0);
            let mut got = orig;
            move_to_front(&mut got, from, to);
            prop_assert_eq!(got, want);
        }
    }
}
