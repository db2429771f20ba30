//! Randomness as an input: the [`Random`] trait.
//!
//! RFC 6455 section 5.3: "The masking key is a 32-bit value chosen at random by
//! the client. [...] The masking key needs to be unpredictable; thus, the masking
//! key MUST be derived from a strong source of entropy, and the masking key for a
//! given frame MUST NOT make it simple for a server or proxy to predict the masking
//! key for a subsequent frame." Section 4.1 asks the same of the 16-byte
//! `Sec-WebSocket-Key` nonce.
//!
//! The core has no RNG of its own and ships no fixed or all-zero source: the
//! caller brings one (`getrandom` on std, the hardware RNG on an ESP32). With the
//! `rand_core` feature, [`RandCore`] adapts any `rand_core::TryCryptoRng`.

use core::fmt;

/// A source of unpredictable bytes.
pub trait Random {
    /// Fills `buf` entirely with random bytes.
    ///
    /// # Errors
    ///
    /// [`RandomError`] when the source cannot produce bytes; the operation that
    /// asked for them is abandoned and nothing is queued.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: Random + ?Sized> Random for &mut R {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(buf)
    }
}

/// The random source failed to produce bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RandomError;

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random source failed")
    }
}

impl core::error::Error for RandomError {}

/// Adapter from a `rand_core` generator marked cryptographically secure
/// (`TryCryptoRng`); its errors become [`RandomError`].
#[cfg(feature = "rand_core")]
#[derive(Debug)]
pub struct RandCore<R>(pub R);

#[cfg(feature = "rand_core")]
impl<R: rand_core::TryCryptoRng> Random for RandCore<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self.0.try_fill_bytes(buf).map_err(|_| RandomError)
    }
}

#[cfg(all(test, feature = "rand_core"))]
mod rand_core_tests {
    use super::*;

    /// A counter that fails once `left` bytes are used.
    struct Counter {
        next: u8,
        left: usize,
    }

    #[derive(Debug)]
    struct Exhausted;

    impl fmt::Display for Exhausted {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("exhausted")
        }
    }

    impl core::error::Error for Exhausted {}

    impl rand_core::TryRng for Counter {
        type Error = Exhausted;
        fn try_next_u32(&mut self) -> Result<u32, Exhausted> {
            let mut b = [0; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Exhausted> {
            let mut b = [0; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Exhausted> {
            self.left = self.left.checked_sub(dst.len()).ok_or(Exhausted)?;
            for b in dst {
                *b = self.next;
                self.next = self.next.wrapping_add(1);
            }
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Counter {}

    #[test]
    fn rand_core_bytes_and_errors_pass_through() {
        let mut r = RandCore(Counter { next: 1, left: 6 });
        let mut key = [0u8; 4];
        assert_eq!(r.fill(&mut key), Ok(()));
        assert_eq!(key, [1, 2, 3, 4]);
        assert_eq!(r.fill(&mut key), Err(RandomError));
    }
}
