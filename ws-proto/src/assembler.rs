//! Whole messages from pieces: a bounded assembler over caller storage.
//!
//! [`crate::Connection`] streams messages that arrive in several frames (or
//! partly) as [`crate::Event::Fragment`]s, so the core itself needs no message
//! buffer. Callers who want whole messages (the VM binding) push the pieces into
//! an [`Assembler`]; a message that is whole in one piece passes through
//! without a copy.

use core::fmt;

use crate::buffer::Buffer;
use crate::connection::{DataKind, Event};

/// A whole message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// The assembler could not take a piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssembleError {
    /// The message is larger than the storage. Configure the connection's
    /// `max_message_size` to the capacity so the server gets 1009 first.
    TooLarge,
    /// The joined text is not UTF-8 (only possible when pieces did not come
    /// from a [`crate::Connection`], which validates them).
    InvalidUtf8,
    /// A piece of one kind while a message of the other kind was in progress.
    KindMismatch,
}

impl fmt::Display for AssembleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AssembleError::TooLarge => "message larger than the assembler",
            AssembleError::InvalidUtf8 => "assembled text is not UTF-8",
            AssembleError::KindMismatch => "fragment kind differs from the message in progress",
        })
    }
}

impl core::error::Error for AssembleError {}

/// Joins message pieces in storage `S`; holds at most one message.
#[derive(Debug)]
pub struct Assembler<S> {
    buf: S,
    len: usize,
    kind: Option<DataKind>,
    /// The length of the last message joined (what to keep when shrinking).
    last: usize,
}

impl<S: Buffer> Assembler<S> {
    /// An empty assembler over `buf`.
    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    pub fn new(buf: S) -> Self {
        Assembler {
            buf,
            len: 0,
            kind: None,
            last: 0,
        }
    }

    /// The largest message it can hold (storage that grows counts with
    /// its limit).
    pub fn capacity(&self) -> usize {
        self.buf.limit()
    }

    /// Bytes of storage it holds now (for tests of when it copies).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> usize {
        self.buf.as_ref().len()
    }

    /// A whole message of `len` bytes went by without being joined here:
    /// memory held for a much larger earlier one goes back.
    pub fn note_whole(&mut self, len: usize) {
        if self.kind.is_none() {
            self.buf.shrink(self.last.saturating_mul(2));
            self.last = len;
        }
    }

    /// Drops a partly assembled message (e.g. after the connection failed).
    pub fn reset(&mut self) {
        self.len = 0;
        self.kind = None;
    }

    /// Turns a connection event into a whole message, if it completes one:
    /// whole-message events pass through, fragments are joined, other events
    /// give `Ok(None)`.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    ///
    /// ```
    /// use ws_proto::{Assembler, DataKind, Event, Message};
    /// let mut asm = Assembler::new([0u8; 16]);
    /// let a = Event::Fragment { kind: DataKind::Text, data: b"Hel", fin: false };
    /// assert_eq!(asm.accept(a), Ok(None));
    /// let b = Event::Fragment { kind: DataKind::Text, data: b"lo", fin: true };
    /// assert_eq!(asm.accept(b), Ok(Some(Message::Text("Hello"))));
    /// ```
    pub fn accept<'a>(
        &'a mut self,
        event: Event<'a>,
    ) -> Result<Option<Message<'a>>, AssembleError> {
        match event {
            Event::Text(t) => Ok(Some(Message::Text(t))),
            Event::Binary(b) => Ok(Some(Message::Binary(b))),
            Event::Fragment { kind, data, fin } => self.push(kind, data, fin),
            _ => Ok(None),
        }
    }

    /// Adds a piece; returns the message when `fin` completes it. A message in
    /// one piece is returned without copying.
    ///
    /// # Errors
    ///
    /// [`AssembleError::TooLarge`] past the capacity,
    /// [`AssembleError::KindMismatch`] for a piece of the other kind,
    /// [`AssembleError::InvalidUtf8`] for text that is not UTF-8. After an
    /// error the partial message is dropped.
    pub fn push<'a>(
        &'a mut self,
        kind: DataKind,
        data: &'a [u8],
        fin: bool,
    ) -> Result<Option<Message<'a>>, AssembleError> {
        if self.kind.is_some_and(|k| k != kind) {
            self.reset();
            return Err(AssembleError::KindMismatch);
        }
        if self.kind.is_none() {
            // A new message: memory held for a much larger last one goes back.
            self.buf.shrink(self.last.saturating_mul(2));
            if fin {
                self.last = data.len();
                return message(kind, data);
            }
        }
        let end = self.len.saturating_add(data.len());
        if end > self.buf.as_ref().len() {
            self.buf.grow(end);
        }
        let Some(dst) = self.buf.as_mut().get_mut(self.len..end) else {
            self.reset();
            return Err(AssembleError::TooLarge);
        };
        dst.copy_from_slice(data);
        self.len = end;
        self.kind = Some(kind);
        if !fin {
            return Ok(None);
        }
        self.kind = None;
        self.len = 0;
        self.last = end;
        message(kind, &self.buf.as_ref()[..end])
    }
}

fn message(kind: DataKind, data: &[u8]) -> Result<Option<Message<'_>>, AssembleError> {
    Ok(Some(match kind {
        DataKind::Binary => Message::Binary(data),
        DataKind::Text => {
            Message::Text(crate::utf8::validate(data).map_err(|_| AssembleError::InvalidUtf8)?)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    #[test]
    fn joins_and_bounds() {
        let mut asm = Assembler::new([0u8; 4]);
        assert_eq!(asm.push(DataKind::Binary, b"ab", false), Ok(None));
        assert_eq!(
            asm.push(DataKind::Binary, b"cd", true),
            Ok(Some(Message::Binary(b"abcd")))
        );
        // A single piece bigger than the storage passes through (no copy).
        assert_eq!(
            asm.push(DataKind::Binary, b"abcdef", true),
            Ok(Some(Message::Binary(b"abcdef")))
        );
        assert_eq!(asm.push(DataKind::Text, b"abc", false), Ok(None));
        assert_eq!(
            asm.push(DataKind::Text, b"de", true),
            Err(AssembleError::TooLarge)
        );
        // The failed message is gone; the next starts clean.
        assert_eq!(asm.push(DataKind::Text, b"\xe2\x82", false), Ok(None));
        assert_eq!(
            asm.push(DataKind::Text, b"\xac", true),
            Ok(Some(Message::Text("€")))
        );
        assert_eq!(asm.push(DataKind::Text, b"x", false), Ok(None));
        assert_eq!(
            asm.push(DataKind::Binary, b"x", true),
            Err(AssembleError::KindMismatch)
        );
        assert_eq!(
            asm.push(DataKind::Text, b"\xff", true),
            Err(AssembleError::InvalidUtf8)
        );
    }
}
