//! Inflating compressed messages piece by piece, in bounded memory
//! (RFC 7692 section 7.2.2).
//!
//! An [`Inflater`] owns miniz_oxide's decompressor and a ring buffer `W` of
//! a power-of-two size at least the server's window (2^`server_max_window_bits`
//! bytes). Each [`step`](Inflater::step) inflates as much of the given piece of
//! compressed input as fits before the end of the ring; the output is the
//! slice [`output`](Inflater::output), valid until the next step. Input may be
//! split anywhere (inside a frame, between frames); at the message's end the
//! four octets `00 00 ff ff` are inflated too. The inflated size is counted
//! against a limit as it grows: at most one ring of output is produced past
//! the limit before [`InflateError::TooBig`], and none of it leaves the ring.
//!
//! No allocator: `W` is any byte storage (`[u8; 512]`, `Vec<u8>`).

use miniz_oxide::inflate::core::inflate_flags::TINFL_FLAG_HAS_MORE_INPUT;
use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

/// The four octets a sender strips from the end of every message.
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why inflating stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflateError {
    /// The message inflates past the limit.
    TooBig,
    /// Not a valid DEFLATE stream.
    Invalid,
}

/// What one [`Inflater::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Input bytes used.
    pub consumed: usize,
    /// The message is complete: its tail is inflated and all output given.
    pub done: bool,
}

/// A DEFLATE decompressor with its window ring `W`.
pub struct Inflater<W> {
    core: DecompressorOxide,
    ring: W,
    /// Where the next output goes in the ring.
    pos: usize,
    /// The last output, `ring[out.0..out.1]`.
    out: (usize, usize),
    /// How many tail octets were inflated at the end of this message.
    tail: u8,
    /// The inflated size of this message.
    total: u64,
}

impl<W: AsRef<[u8]>> core::fmt::Debug for Inflater<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("ring", &self.ring.as_ref().len())
            .field("pos", &self.pos)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl<W: AsRef<[u8]> + AsMut<[u8]>> Inflater<W> {
    /// An inflater over `ring`, whose length must be a power of two at least
    /// the server's window (else steps fail with [`InflateError::Invalid`]).
    pub fn new(ring: W) -> Self {
        Inflater {
            core: DecompressorOxide::new(),
            ring,
            pos: 0,
            out: (0, 0),
            tail: 0,
            total: 0,
        }
    }

    /// The output of the last step.
    pub fn output(&self) -> &[u8] {
        self.ring
            .as_ref()
            .get(self.out.0..self.out.1)
            .unwrap_or_default()
    }

    /// The inflated size of the message so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Inflates from `input`, a piece of the message's compressed payload;
    /// `last` says that no input follows it in this message. Call again with
    /// the rest of the input (and `last` once it is all given) until
    /// [`Step::done`]; each call's output is in [`output`](Self::output).
    /// Every call with input uses some of it or gives output, and every call
    /// with `last` and no input moves toward `done`.
    ///
    /// # Errors
    ///
    /// [`InflateError::TooBig`] when the message inflates past `limit`
    /// bytes, [`InflateError::Invalid`] for data that is not DEFLATE. The
    /// output before the fault (up to the limit) is still in
    /// [`output`](Self::output), so that a caller checking it (UTF-8) finds
    /// the first fault in the stream whatever the input pieces were. The
    /// inflater must then be [`reset`](Self::reset) before it is used again.
    pub fn step(&mut self, input: &[u8], last: bool, limit: u64) -> Result<Step, InflateError> {
        self.out = (self.pos, self.pos);
        let tail_at = usize::from(self.tail);
        let (src, tail) = match (input.is_empty(), last) {
            (false, _) => (input, false),
            (true, true) => (TAIL.get(tail_at..).unwrap_or_default(), true),
            (true, false) => {
                return Ok(Step {
                    consumed: 0,
                    done: false,
                })
            }
        };
        let ring = self.ring.as_mut();
        if self.pos >= ring.len() {
            self.pos = 0;
        }
        let flags = TINFL_FLAG_HAS_MORE_INPUT;
        let (status, used, written) = decompress(&mut self.core, src, ring, self.pos, flags);
        self.out = (self.pos, self.pos + written);
        self.pos += written;
        self.total = self.total.saturating_add(written as u64);
        if self.total > limit {
            // The output stops at the limit, so that what was handed out of
            // a message never depends on how its input was split.
            let over = usize::try_from(self.total - limit).unwrap_or(usize::MAX);
            self.out.1 -= over.min(written);
            return Err(InflateError::TooBig);
        }
        let drained = match status {
            TINFLStatus::NeedsMoreInput => true,
            TINFLStatus::HasMoreOutput => false,
            // A final block (BFINAL=1): what follows starts a new stream that
            // shares the window (RFC 7692 section 7.2.3.4).
            TINFLStatus::Done => {
                self.core.init();
                used == src.len()
            }
            _ => return Err(InflateError::Invalid),
        };
        if used == 0 && written == 0 && !src.is_empty() && !drained {
            return Err(InflateError::Invalid);
        }
        if tail {
            self.tail += used as u8;
            let done = usize::from(self.tail) == TAIL.len() && drained;
            return Ok(Step { consumed: 0, done });
        }
        Ok(Step {
            consumed: used,
            done: false,
        })
    }

    /// Ends a message: the next one starts with a fresh size count, and,
    /// with `keep_context` false, a fresh decompressor (no context takeover).
    /// The last output stays readable until the next step.
    pub fn end_message(&mut self, keep_context: bool) {
        self.tail = 0;
        self.total = 0;
        if !keep_context {
            self.reset();
        }
    }

    /// Forgets the stream (after an error, or without context takeover); the
    /// last output stays readable until the next step.
    pub fn reset(&mut self) {
        self.core.init();
        self.pos = 0;
        self.tail = 0;
        self.total = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Inflates one message given in `pieces`, collecting the output.
    fn inflate_pieces<W: AsRef<[u8]> + AsMut<[u8]>>(
        inf: &mut Inflater<W>,
        pieces: &[&[u8]],
        limit: u64,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let last = i + 1 == pieces.len();
            let mut rest = *piece;
            loop {
                let s = inf.step(rest, last, limit)?;
                out.extend_from_slice(inf.output());
                rest = &rest[s.consumed..];
                if s.done {
                    inf.end_message(true);
                    return Ok(out);
                }
                if rest.is_empty() && !last {
                    break;
                }
            }
        }
        Err(InflateError::Invalid)
    }

    #[test]
    fn rfc7692_hello() {
        // Section 7.2.3.1: "Hello" compressed, one frame and two frames.
        let data = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut inf = Inflater::new([0u8; 512]);
        assert_eq!(inflate_pieces(&mut inf, &[&data], 100).unwrap(), b"Hello");
        let mut inf = Inflater::new([0u8; 512]);
        assert_eq!(
            inflate_pieces(&mut inf, &[&data[..3], &data[3..]], 100).unwrap(),
            b"Hello"
        );
    }

    #[test]
    fn limit_is_on_inflated_size() {
        let data = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut inf = Inflater::new([0u8; 512]);
        assert_eq!(
            inflate_pieces(&mut inf, &[&data], 4),
            Err(InflateError::TooBig)
        );
        let mut inf = Inflater::new([0u8; 512]);
        assert_eq!(inflate_pieces(&mut inf, &[&data], 5).unwrap(), b"Hello");
    }

    #[test]
    fn state_size_is_as_documented() {
        // The figure the device profile's memory statement rests on.
        let n = crate::deflate::INFLATER_STATE_BYTES;
        assert!((10_000..=11_000).contains(&n), "{n}");
    }

    #[test]
    fn garbage_is_invalid() {
        let mut inf = Inflater::new([0u8; 512]);
        assert_eq!(
            inflate_pieces(&mut inf, &[&[0xff, 0xff, 0xff, 0xff]], 100),
            Err(InflateError::Invalid)
        );
        // A ring that is not a power of two.
        let mut inf = Inflater::new([0u8; 500]);
        assert_eq!(
            inflate_pieces(&mut inf, &[&[0xf2, 0x48]], 100),
            Err(InflateError::Invalid)
        );
    }
}
