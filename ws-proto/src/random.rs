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
//! `rand_core` feature, [`RandCore`] adapts any `rand_core::RngCore`.

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

/// Adapter from a `rand_core::RngCore` (use a cryptographically secure one).
#[cfg(feature = "rand_core")]
#[derive(Debug)]
pub struct RandCore<R>(pub R);

#[cfg(feature = "rand_core")]
impl<R: rand_core::RngCore> Random for RandCore<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill_bytes(buf);
        Ok(())
    }
}
