//! Instructions retired per operation on the hot paths, read from `minstret`
//! (exact under QEMU's `-icount`): (count after N operations - count before)
//! / N, the loop's own few instructions included, like `scripts/icount.sh`
//! on the host. The cases match that script's: `recv_text_16`,
//! `send_text_16`, `encode_masked_16`, and masking per byte at 1 KiB.

use core::hint::black_box;

use ws_proto::frame::{encode_masked, OpCode};
use ws_proto::{Config, Event, Instant, Message, Session, SessionEvent};

use crate::peer::{ensure, open, Check, ScriptRng};
use crate::rt::instret;

/// Operations per measurement.
const N: u32 = 1000;
/// The 16-byte text of the frames.
const TEXT: &str = "0123456789abcdef";

/// `minstret` counts retired instructions exactly: two reads around ten
/// `nop`s differ by 11 (the first read and the ten).
fn calibrated() -> Check {
    let a = instret();
    crate::rt::ten_nops();
    let b = instret();
    ensure(
        b.wrapping_sub(a) == 11,
        "minstret is not exact: run under QEMU with -icount shift=0",
    )
}

/// Measures `op` N times; instructions per operation.
fn per_op(mut op: impl FnMut() -> bool) -> Result<u32, &'static str> {
    ensure(op(), "the operation failed (warm-up)")?;
    let start = instret();
    let mut ok = true;
    for _ in 0..N {
        ok &= op();
    }
    let spent = instret().wrapping_sub(start);
    ensure(ok, "the operation failed")?;
    Ok(spent / N)
}

/// Prints the instructions per 16-byte text frame decoded and encoded.
pub(crate) fn frames() -> Check {
    calibrated()?;
    let mut frame = [0u8; 18];
    frame[..2].copy_from_slice(&[0x81, 16]);
    frame[2..].copy_from_slice(TEXT.as_bytes());

    let mut conn = open::<4096>(ScriptRng::new(&[]), Config::default())?;
    // As the host's `recv_text_16`: the payload goes through `black_box`,
    // not the whole event (that forced two moves of its 15 bytes after the
    // tag, each a `memcpy` call with a byte loop here: 218 instructions).
    let decode = per_op(|| match conn.recv(Instant::ZERO, black_box(&frame)) {
        Ok(r) => matches!(r.event(), Some(Event::Text(t)) if black_box(t).len() == 16),
        Err(_) => false,
    })?;

    let send = per_op(|| {
        let ok = conn.send_text(black_box(TEXT)).is_ok();
        let n = black_box(conn.transmit()).len();
        conn.advance_transmit(n);
        ok && n == 22
    })?;

    let mut out = [0u8; 1024 + 14];
    let mut key = 0x2545_f491u32;
    let mut next_key = || {
        key ^= key << 13;
        key ^= key >> 17;
        key ^= key << 5;
        key.to_ne_bytes()
    };
    let encode = per_op(|| {
        let n = encode_masked(
            &mut out,
            OpCode::Text,
            true,
            black_box(TEXT.as_bytes()),
            next_key(),
        );
        black_box(&out);
        n == Some(22)
    })?;

    let payload = [0x5au8; 1024];
    let encode_1k = per_op(|| {
        let n = encode_masked(
            &mut out,
            OpCode::Binary,
            true,
            black_box(&payload),
            next_key(),
        );
        black_box(&out);
        n == Some(1024 + 8)
    })?;

    let session = session_text()?;
    crate::println!(
        "     per 16 B text frame: decode (Connection::recv) {decode}, \
         through a Session {session}, \
         encode (send_text + transmit) {send}, frame::encode_masked {encode} instructions"
    );
    crate::println!(
        "     per 1 KiB binary frame: frame::encode_masked {encode_1k} instructions ({}.{:02} per byte)",
        encode_1k / 1024,
        (encode_1k % 1024) * 100 / 1024
    );
    Ok(())
}

/// Frames per read in [`session_text`]: as many 18-byte frames as fit 1 KiB.
const PER_READ: usize = 56;

/// Instructions per 16 B text message through a `Session` (1 KiB receive
/// buffer and assembler) as a transport drives it, the host's
/// `session_text_16`: reads of [`PER_READ`] whole frames copied into
/// `read_buf`, each message polled and its text used.
fn session_text() -> Result<u32, &'static str> {
    let conn = open::<512>(
        ScriptRng::new(&[]),
        Config {
            max_message_size: 1024,
            ..Config::default()
        },
    )?;
    let mut s =
        Session::new(conn, [0u8; 1024], [0u8; 1024]).map_err(|_| "Session refused its storage")?;
    let mut frames = [0u8; 18 * PER_READ];
    for f in frames.chunks_exact_mut(18) {
        f[..2].copy_from_slice(&[0x81, 16]);
        f[2..].copy_from_slice(TEXT.as_bytes());
    }
    let per_read = per_op(|| {
        let buf = s.read_buf();
        let n = buf.len().min(frames.len());
        buf[..n].copy_from_slice(&frames[..n]);
        s.commit_read(n);
        let mut got = 0;
        while let Some(e) = s.poll_event(Instant::ZERO) {
            if matches!(e, SessionEvent::Message(Message::Text(t)) if black_box(t).len() == 16) {
                got += 1;
            }
        }
        n == frames.len() && got == PER_READ
    })?;
    Ok(per_read / PER_READ as u32)
}
