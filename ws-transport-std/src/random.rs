//! Randomness for handshake keys and mask keys.
//!
//! RFC 6455 section 5.3 requires every mask key to be unpredictable, not a
//! system call each. [`MaskRandom`] (what the client uses) is a ChaCha8
//! CSPRNG seeded from the operating system (`getrandom`) on first use and
//! reseeded every [`RESEED_BYTES`]; it holds about 400 bytes per connection.
//! Eight rounds, not twelve: no attack reaches eight rounds of ChaCha (the
//! best known ones stop at seven), and a mask key only has to be
//! unpredictable to a script in the browser-attack model of RFC 6455
//! section 10.3; it saves a third of the generator's cost per key.
//! [`BufferedRandom`] hands out OS bytes directly from a 4 KiB buffer. There
//! is no fixed seed and no fallback: if `getrandom` fails, the caller gets
//! [`ws_proto::RandomError`] and nothing is sent.

use core::fmt;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use ws_proto::{Random, RandomError};

/// How many bytes a [`MaskRandom`] hands out before it reseeds from the OS.
pub const RESEED_BYTES: u32 = 1 << 20;

/// Mask keys a [`MaskRandom`] draws from its generator at once.
const KEYS: usize = 16;

/// A ChaCha8 stream seeded from `getrandom`, reseeded every
/// [`RESEED_BYTES`]: unpredictable mask keys at a few nanoseconds each.
///
/// Mask keys come from a small cache of [`KEYS`] keys (64 bytes), refilled
/// from the generator out of line, so that handing out a key is a few
/// instructions that inline into the frame encoder.
pub struct MaskRandom {
    rng: Option<ChaCha8Rng>,
    /// Bytes left before the next reseed.
    left: u32,
    /// Keys not handed out yet are `keys[next..]`; used ones are wiped.
    keys: [u32; KEYS],
    next: usize,
}

impl MaskRandom {
    /// An unseeded source; the first [`Random::fill`] seeds it from the OS.
    pub const fn new() -> Self {
        MaskRandom {
            rng: None,
            left: 0,
            keys: [0; KEYS],
            next: KEYS,
        }
    }

    /// The generator, seeded (again) from the OS when it has no seed yet or
    /// when fewer than `n` bytes are left before the reseed.
    fn generator(&mut self, n: usize) -> Result<&mut ChaCha8Rng, RandomError> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        if self.rng.is_none() || self.left < n {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|_| RandomError)?;
            self.rng = Some(ChaCha8Rng::from_seed(seed));
            seed.fill(0);
            self.left = RESEED_BYTES;
        }
        self.left = self.left.saturating_sub(n);
        self.rng.as_mut().ok_or(RandomError)
    }

    /// Refills the key cache and hands out its first key.
    #[cold]
    #[inline(never)]
    fn refill_keys(&mut self) -> Result<[u8; 4], RandomError> {
        let mut keys = [0u32; KEYS];
        let rng = self.generator(4 * KEYS)?;
        for k in &mut keys {
            *k = rng.next_u32();
        }
        self.keys = keys;
        self.next = 1;
        let key = self.keys[0];
        self.keys[0] = 0;
        Ok(key.to_le_bytes())
    }
}

impl Default for MaskRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MaskRandom {
    /// Does not print the generator's state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaskRandom")
            .field("seeded", &self.rng.is_some())
            .finish()
    }
}

impl Random for MaskRandom {
    #[inline]
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RandomError> {
        // The hot path, one mask key per frame, from the cache (through
        // `fill_bytes` a key cost about 100 instructions; see benches/README.md).
        if let Ok(key) = <&mut [u8; 4]>::try_from(&mut *out) {
            *key = match self.keys.get_mut(self.next) {
                Some(k) => {
                    self.next += 1;
                    core::mem::take(k).to_le_bytes()
                }
                None => self.refill_keys()?,
            };
            return Ok(());
        }
        self.generator(out.len())?.fill_bytes(out);
        Ok(())
    }
}

/// How many bytes one refill takes from `getrandom` (1,024 mask keys).
///
/// Measured on the pipelined echo benchmark: at 256 bytes, the kernel's
/// per-call set-up (`crng_make_state`) was a third of the cost of randomness.
pub const REFILL: usize = 4096;

/// A [`Random`] source that buffers [`REFILL`] bytes of `getrandom` output.
///
/// Bytes are used once and wiped as they are handed out. Requests larger than
/// the buffer go to `getrandom` directly.
pub struct BufferedRandom {
    buf: [u8; REFILL],
    /// Bytes `buf[pos..]` are unused.
    pos: usize,
}

impl BufferedRandom {
    /// An empty source; the first [`Random::fill`] draws from `getrandom`.
    pub const fn new() -> Self {
        BufferedRandom {
            buf: [0; REFILL],
            pos: REFILL,
        }
    }
}

impl Default for BufferedRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for BufferedRandom {
    /// Does not print the buffered bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedRandom")
            .field("available", &(REFILL - self.pos))
            .finish()
    }
}

impl Random for BufferedRandom {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RandomError> {
        // The hot path: one mask key per frame, from what is buffered.
        if let ([o0, o1, o2, o3], Some([b0, b1, b2, b3])) =
            (&mut *out, self.buf.get_mut(self.pos..self.pos + 4))
        {
            [*o0, *o1, *o2, *o3] = [*b0, *b1, *b2, *b3];
            [*b0, *b1, *b2, *b3] = [0; 4];
            self.pos += 4;
            return Ok(());
        }
        if out.len() > REFILL {
            return getrandom::fill(out).map_err(|_| RandomError);
        }
        let mut done = 0;
        while done < out.len() {
            if self.pos == REFILL {
                getrandom::fill(&mut self.buf).map_err(|_| RandomError)?;
                self.pos = 0;
            }
            let n = (REFILL - self.pos).min(out.len() - done);
            let src = &mut self.buf[self.pos..self.pos + n];
            out[done..done + n].copy_from_slice(src);
            src.fill(0);
            self.pos += n;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_random_streams_differ_and_reseed() {
        let (mut a, mut b) = (MaskRandom::new(), MaskRandom::new());
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_ne!(x, y, "each source has its own OS seed");
        assert_ne!(x, [0; 32]);
        let mut big = vec![0u8; RESEED_BYTES as usize + 10];
        a.fill(&mut big).unwrap();
        assert!(a.left < RESEED_BYTES, "reseeded for the large draw");
        let mut last = [0u8; 4];
        for _ in 0..1000 {
            let mut k = [0u8; 4];
            a.fill(&mut k).unwrap();
            assert_ne!(k, last);
            last = k;
        }
        assert!(!format!("{a:?}").contains('['));
    }

    #[test]
    fn sources_differ_and_refill() {
        let (mut a, mut b) = (BufferedRandom::new(), BufferedRandom::new());
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.fill(&mut x).unwrap();
        b.fill(&mut y).unwrap();
        assert_ne!(x, y);
        assert_ne!(x, [0; 32]);
        // Many small draws cross refills and never repeat a 4-byte key in a row.
        let mut last = [0u8; 4];
        for _ in 0..1000 {
            let mut k = [0u8; 4];
            a.fill(&mut k).unwrap();
            assert_ne!(k, last);
            last = k;
        }
        let mut big = vec![0u8; 1000];
        a.fill(&mut big).unwrap();
        assert!(big.iter().any(|&b| b != 0));
        assert!(!format!("{a:?}").contains('['));
    }
}
