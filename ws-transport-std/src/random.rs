//! Randomness for handshake keys and mask keys.
//!
//! RFC 6455 section 5.3 requires every mask key to be unpredictable, not a
//! system call each. [`MaskRandom`] (what the client uses) is a ChaCha8
//! CSPRNG seeded from the operating system (`getrandom`) on first use and
//! reseeded every [`RESEED_BYTES`]; it holds about 330 bytes per connection.
//! Eight rounds, not twelve: no attack reaches eight rounds of ChaCha (the
//! best known ones stop at seven), and a mask key only has to be
//! unpredictable to a script in the browser-attack model of RFC 6455
//! section 10.3; it saves a third of the generator's cost per key.
//! [`BufferedRandom`] hands out OS bytes directly from a 4 KiB buffer. There
//! is no fixed seed and no fallback: if `getrandom` fails, the caller gets
//! [`ws_proto::RandomError`] and nothing is sent.

use core::fmt;

use rand_chacha::ChaCha8Core;
use rand_core::block::Generator;
use rand_core::SeedableRng;
use ws_proto::{Random, RandomError};

/// How many bytes a [`MaskRandom`] hands out before it reseeds from the OS.
pub const RESEED_BYTES: u32 = 1 << 20;

/// Words of keystream one ChaCha8 block computation gives (64: 256 bytes).
const BLOCK_WORDS: usize = 64;

/// The keystream words of one block computation.
type Block = <ChaCha8Core as Generator>::Output;

/// A ChaCha8 stream seeded from `getrandom`, reseeded every
/// [`RESEED_BYTES`]: unpredictable mask keys at a few nanoseconds each.
///
/// It drives the ChaCha8 block function itself and hands out the words of
/// the last block one by one (a mask key is one word), wiping each as it
/// goes; the next block is computed out of line when they run out, so that
/// handing out a key is a few instructions that inline into the frame
/// encoder.
pub struct MaskRandom {
    core: Option<ChaCha8Core>,
    /// Bytes left before the next reseed.
    left: u32,
    /// Words not handed out yet are `words[next..]`; used ones are zero.
    words: Block,
    next: usize,
}

impl MaskRandom {
    /// An unseeded source; the first [`Random::fill`] seeds it from the OS.
    pub fn new() -> Self {
        MaskRandom {
            core: None,
            left: 0,
            words: [0; BLOCK_WORDS],
            next: BLOCK_WORDS,
        }
    }

    /// Computes the next block (seeding from the OS first, and again every
    /// [`RESEED_BYTES`]) and hands out its first word.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> Result<u32, RandomError> {
        let block = (4 * BLOCK_WORDS) as u32;
        let core = match self.core.as_mut() {
            Some(core) if self.left >= block => core,
            _ => {
                let mut seed = [0u8; 32];
                getrandom::fill(&mut seed).map_err(|_| RandomError)?;
                self.left = RESEED_BYTES;
                let core = self.core.insert(ChaCha8Core::from_seed(seed));
                seed.fill(0);
                core
            }
        };
        core.generate(&mut self.words);
        self.left -= block;
        self.next = 1;
        Ok(core::mem::take(&mut self.words[0]))
    }

    /// The next word of the keystream.
    #[inline]
    fn next_word(&mut self) -> Result<u32, RandomError> {
        match self.words.get_mut(self.next) {
            Some(w) => {
                self.next += 1;
                Ok(core::mem::take(w))
            }
            None => self.refill(),
        }
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
            .field("seeded", &self.core.is_some())
            .finish()
    }
}

impl Random for MaskRandom {
    #[inline]
    fn fill(&mut self, out: &mut [u8]) -> Result<(), RandomError> {
        // The hot path, one mask key per frame: one word (through
        // `ChaCha12Rng::fill_bytes` a key cost about 100 instructions; see
        // benches/README.md).
        if let Ok(key) = <&mut [u8; 4]>::try_from(&mut *out) {
            *key = self.next_word()?.to_le_bytes();
            return Ok(());
        }
        for chunk in out.chunks_mut(4) {
            let w = self.next_word()?.to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
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
        assert!(a.left < RESEED_BYTES, "reseeded within the large draw");
        assert!(big[RESEED_BYTES as usize - 64..].iter().any(|&b| b != 0));
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
