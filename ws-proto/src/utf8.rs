//! Incremental UTF-8 validation for text messages that arrive in pieces.
//!
//! A text message may be split anywhere: across input pieces, across frames, even
//! inside a code point. [`Utf8Validator`] keeps what the next bytes of an
//! unfinished code point must be (how many, and the range of the next one)
//! between pieces, and fails at the first byte that makes the sequence invalid,
//! without waiting for the rest of the frame (what Autobahn's strict 6.4.x
//! cases check).
//!
//! Two ways to scan the bulk of a piece, chosen by target:
//! - 64-bit targets: `core::str::from_utf8`, which checks ASCII a word at a time
//!   and multi-byte text about twice as fast as a byte-by-byte state machine
//!   (1.66 against 0.73 GB/s for Cyrillic on x86-64); only an unfinished code
//!   point at either end of a piece goes through [`Utf8Validator::step`].
//! - 32-bit targets (the ESP32): [`Utf8Validator::step`] for every byte that
//!   is not in a 16-byte ASCII run. `core::str::from_utf8` and its 256-byte
//!   width table are about 800 bytes of flash there; the state machine and
//!   its scans are about 400.

/// The bytes seen so far are not valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

/// Validates a byte stream piece by piece.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    /// Continuation bytes the unfinished code point still needs (0: none).
    need: u8,
    /// The least value the next continuation byte may have.
    lo: u8,
    /// The greatest value the next continuation byte may have.
    hi: u8,
}

/// Whether the bulk of a piece goes through `core::str::from_utf8` (see the
/// module documentation).
const CORE_BULK: bool = cfg!(target_pointer_width = "64");

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator {
            need: 0,
            lo: 0,
            hi: 0,
        }
    }

    /// Checks the next piece.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] as soon as the stream cannot be a prefix of valid UTF-8.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), InvalidUtf8> {
        // Finish the code point the last piece cut off, byte by byte.
        let mut rest = piece;
        while self.need > 0 {
            let Some((&b, tail)) = rest.split_first() else {
                return Ok(());
            };
            self.step(b)?;
            rest = tail;
        }
        // The bulk, then carry over a code point cut off at the end.
        let whole = valid_up_to(rest)?;
        self.scan(&rest[whole..]).map(drop)
    }

    /// Takes `piece` by [`step`](Self::step) alone, skipping ASCII 16 bytes
    /// at a time between code points. Returns where the last code point that
    /// it finished ends (0 if none).
    fn scan(&mut self, piece: &[u8]) -> Result<usize, InvalidUtf8> {
        let mut rest = piece;
        let mut boundary = 0;
        loop {
            if self.need == 0 {
                while let Some((run, tail)) = rest.split_first_chunk::<16>() {
                    if !is_ascii(run) {
                        break;
                    }
                    rest = tail;
                }
                boundary = piece.len() - rest.len();
            }
            let Some((&b, tail)) = rest.split_first() else {
                return Ok(boundary);
            };
            self.step(b)?;
            rest = tail;
        }
    }

    /// Takes one byte (RFC 3629 section 4: the well-formed sequences,
    /// without overlong forms, surrogates or code points above U+10FFFF).
    fn step(&mut self, b: u8) -> Result<(), InvalidUtf8> {
        if self.need > 0 {
            if b < self.lo || b > self.hi {
                return Err(InvalidUtf8);
            }
            *self = Utf8Validator {
                need: self.need - 1,
                lo: 0x80,
                hi: 0xbf,
            };
            return Ok(());
        }
        if b < 0x80 {
            return Ok(());
        }
        if !(0xc2..=0xf4).contains(&b) {
            return Err(InvalidUtf8); // a continuation, an overlong lead, or past U+10FFFF
        }
        // The lead's length, then the second byte's narrower range after the
        // leads whose shortest or longest forms are not allowed.
        let need = 1 + u8::from(b >= 0xe0) + u8::from(b >= 0xf0);
        let lo = match b {
            0xe0 => 0xa0, // overlong below U+0800
            0xf0 => 0x90, // overlong below U+10000
            _ => 0x80,
        };
        let hi = match b {
            0xed => 0x9f, // surrogates U+D800..U+DFFF
            0xf4 => 0x8f, // past U+10FFFF
            _ => 0xbf,
        };
        *self = Utf8Validator { need, lo, hi };
        Ok(())
    }

    /// Whether the stream so far ends on a code point boundary (required at the
    /// end of a message).
    pub const fn is_complete(&self) -> bool {
        self.need == 0
    }

    /// Forgets any pending bytes, for the next message.
    pub fn reset(&mut self) {
        self.need = 0;
    }
}

/// Validates a whole payload and returns it as text.
///
/// Short text messages are mostly ASCII; one ASCII check (a word at a time
/// on 64-bit targets) and no second pass. Measured with callgrind on a
/// 16-byte text frame: `Connection::recv` from 331 to 140 instructions.
///
/// # Errors
///
/// [`InvalidUtf8`] when `bytes` is not UTF-8.
#[inline]
pub fn validate(bytes: &[u8]) -> Result<&str, InvalidUtf8> {
    if is_ascii(bytes) {
        // SAFETY: `is_ascii` has just checked that every byte is below 0x80,
        // and any sequence of such bytes is valid UTF-8 (each is a one-byte
        // code point), which is the only requirement of `from_utf8_unchecked`.
        #[allow(unsafe_code)]
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    if CORE_BULK {
        return core::str::from_utf8(bytes).map_err(|_| InvalidUtf8);
    }
    validate_by_steps(bytes)
}

/// Whether every byte is below 0x80. 64-bit targets: core's check, a word
/// at a time. 32-bit targets: the bytes ORed together four at a time,
/// without core's alignment prologue and epilogue: 188 bytes less flash in
/// the ESP32 Session program, 10 to 20 more instructions per 16-byte text
/// message (`scripts/footprint.sh`, `scripts/qemu.sh`).
fn is_ascii(bytes: &[u8]) -> bool {
    if CORE_BULK {
        return bytes.is_ascii();
    }
    is_ascii_by_or(bytes)
}

/// [`is_ascii`] on 32-bit targets: the OR of all bytes has its top bit clear.
fn is_ascii_by_or(bytes: &[u8]) -> bool {
    let (mut seen, mut rest) = (0, bytes);
    while let [a, b, c, d, tail @ ..] = rest {
        seen |= a | b | c | d;
        rest = tail;
    }
    rest.iter().fold(seen, |seen, &b| seen | b) < 0x80
}

/// [`validate`] without `core::str::from_utf8` (32-bit targets).
fn validate_by_steps(bytes: &[u8]) -> Result<&str, InvalidUtf8> {
    if Utf8Validator::new().scan(bytes)? != bytes.len() {
        return Err(InvalidUtf8);
    }
    // SAFETY: `scan` took every byte of `bytes` through `step`, which accepts
    // exactly the well-formed sequences of RFC 3629 (checked against
    // `core::str::from_utf8` for every sequence of up to three bytes and every
    // four-byte lead in this module's tests), and the last code point ended
    // at the end: `bytes` is valid UTF-8, the one requirement of
    // `from_utf8_unchecked`.
    #[allow(unsafe_code)]
    Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// How many leading bytes of `bytes` are whole code points, when the rest
/// is the start of one cut off (or nothing): what a stream that continues
/// later has checked so far.
///
/// # Errors
///
/// [`InvalidUtf8`] when no continuation could make `bytes` valid.
pub(crate) fn valid_up_to(bytes: &[u8]) -> Result<usize, InvalidUtf8> {
    if !CORE_BULK {
        return Utf8Validator::new().scan(bytes);
    }
    match core::str::from_utf8(bytes) {
        Ok(_) => Ok(bytes.len()),
        Err(e) if e.error_len().is_none() => Ok(e.valid_up_to()),
        Err(_) => Err(InvalidUtf8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::prelude::rust_2021::*;

    fn feed_all(pieces: &[&[u8]]) -> Result<bool, InvalidUtf8> {
        let mut v = Utf8Validator::new();
        for p in pieces {
            v.feed(p)?;
        }
        Ok(v.is_complete())
    }

    #[test]
    fn split_code_points() {
        let euro = "€".as_bytes(); // e2 82 ac
        assert_eq!(feed_all(&[&euro[..1], &euro[1..2], &euro[2..]]), Ok(true));
        assert_eq!(feed_all(&[&euro[..2]]), Ok(false));
        let kappa = "κόσμε".as_bytes();
        for i in 0..kappa.len() {
            assert_eq!(feed_all(&[&kappa[..i], &kappa[i..]]), Ok(true));
        }
    }

    #[test]
    fn fails_fast_on_the_first_bad_byte() {
        // Autobahn 6.4.1: a code point above U+10FFFF is rejected at f4 90,
        // before the rest of the sequence arrives.
        assert_eq!(feed_all(&[b"ok", &[0xf4], &[0x90]]), Err(InvalidUtf8));
        assert_eq!(feed_all(&[&[0xf4, 0x90]]), Err(InvalidUtf8));
        assert_eq!(feed_all(&[&[0xc0]]), Err(InvalidUtf8));
        assert_eq!(feed_all(&[&[0xed, 0xa0]]), Err(InvalidUtf8)); // surrogate
        assert_eq!(feed_all(&[&[0xe2, 0x82], b"a"]), Err(InvalidUtf8));
    }

    #[test]
    fn validate_agrees_with_from_utf8() {
        // Runs under Miri in CI: it exercises the one `unsafe` block.
        let cases: &[&[u8]] = &[
            b"",
            b"Hello",
            b"0123456789abcdef\x7f",
            "κόσμε".as_bytes(),
            b"ok\xff",
            b"\xe2\x82",
            b"\x80",
        ];
        for c in cases {
            assert_eq!(validate(c).ok(), core::str::from_utf8(c).ok(), "{c:?}");
        }
        let long = [b'a'; 100];
        assert_eq!(validate(&long).map(str::len), Ok(100));
    }

    /// What `core::str::from_utf8` says of `bytes` as a stream: `Some(true)`
    /// valid, `Some(false)` a valid prefix cut inside a code point, `None`
    /// invalid.
    fn core_says(bytes: &[u8]) -> Option<bool> {
        match core::str::from_utf8(bytes) {
            Ok(_) => Some(true),
            Err(e) if e.error_len().is_none() => Some(false),
            Err(_) => None,
        }
    }

    /// The same, by the state machine alone (what 32-bit targets run).
    fn steps_say(bytes: &[u8]) -> Option<bool> {
        let mut v = Utf8Validator::new();
        v.scan(bytes).ok().map(|_| v.is_complete())
    }

    /// The ground for `validate_by_steps`'s `unsafe`: the state machine
    /// agrees with `core` on every sequence of one to three bytes, and on
    /// every four-byte sequence from a lead of 0xf0 or more with each
    /// continuation byte at or just outside its range's ends.
    #[test]
    #[cfg_attr(
        miri,
        ignore = "16 million sequences; the unsafe block has its own test"
    )]
    fn steps_agree_with_core_on_every_short_sequence() {
        for a in 0..=255u8 {
            assert_eq!(steps_say(&[a]), core_says(&[a]), "{a:02x}");
            for b in 0..=255u8 {
                assert_eq!(steps_say(&[a, b]), core_says(&[a, b]), "{a:02x} {b:02x}");
                if a < 0xc0 {
                    continue; // an ASCII or stray lead: decided by its first two bytes
                }
                for c in 0..=255u8 {
                    let seq = [a, b, c];
                    assert_eq!(steps_say(&seq), core_says(&seq), "{seq:02x?}");
                }
            }
        }
        let edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for a in 0xf0..=0xffu8 {
            for b in 0..=255u8 {
                for c in edges {
                    for d in edges {
                        let seq = [a, b, c, d];
                        assert_eq!(steps_say(&seq), core_says(&seq), "{seq:02x?}");
                    }
                }
            }
        }
    }

    /// `validate_by_steps` (the `unsafe` conversion; runs under Miri in CI).
    #[test]
    fn validate_by_steps_agrees_with_from_utf8() {
        let long = "κόσμε €𝄞 ".repeat(8);
        let cases: &[&[u8]] = &[
            b"",
            b"Hello, 0123456789abcdef and more ASCII",
            long.as_bytes(),
            b"ok\xff",
            b"\xe2\x82",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"0123456789abcdef\xc3",
        ];
        for c in cases {
            assert_eq!(
                validate_by_steps(c).ok(),
                core::str::from_utf8(c).ok(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn ascii_by_or_agrees_with_core() {
        // Every length up to 20 with one byte at 0x80 in each place, and none.
        for len in 0..20 {
            let mut bytes = vec![b'a'; len];
            assert!(is_ascii_by_or(&bytes), "{len}");
            for at in 0..len {
                for high in [0x80, 0xff, 0xc3] {
                    bytes[at] = high;
                    assert_eq!(is_ascii_by_or(&bytes), bytes.is_ascii(), "{len} {at}");
                    bytes[at] = 0x7f;
                }
            }
        }
    }

    proptest! {
        #![proptest_config(crate::test_config::proptest(512))]
        #[test]
        fn any_split_agrees_with_from_utf8(data in proptest::collection::vec(
                prop_oneof![any::<u8>(), 0x80u8..0xc0, Just(b'a')], 0..64),
                cuts in proptest::collection::vec(0usize..64, 0..6)) {
            let whole = core_says(&data);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            // `feed` (as this target runs it) and the state machine alone.
            let (mut fed, mut stepped) = (Utf8Validator::new(), Utf8Validator::new());
            let (mut fed_ok, mut stepped_ok) = (Ok(()), Ok(()));
            let mut prev = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                fed_ok = fed_ok.and_then(|()| fed.feed(&data[prev..c]));
                stepped_ok = stepped_ok.and_then(|()| stepped.scan(&data[prev..c]).map(drop));
                prev = c;
            }
            prop_assert_eq!(fed_ok.ok().map(|()| fed.is_complete()), whole);
            prop_assert_eq!(stepped_ok.ok().map(|()| stepped.is_complete()), whole);
            // Where a continuing stream has checked up to (`valid_up_to`
            // on 32-bit targets).
            let core_upto = match core::str::from_utf8(&data) {
                Ok(_) => Some(data.len()),
                Err(e) if e.error_len().is_none() => Some(e.valid_up_to()),
                Err(_) => None,
            };
            prop_assert_eq!(Utf8Validator::new().scan(&data).ok(), core_upto);
            prop_assert_eq!(valid_up_to(&data).ok(), core_upto);
            if let Some(true) = whole {
                prop_assert_eq!(validate_by_steps(&data).ok(), core::str::from_utf8(&data).ok());
            }
        }
    }
}
