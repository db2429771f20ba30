//! Time as an input: a millisecond [`Instant`] that the caller supplies.
//!
//! The core never reads a clock. Every call that can start or check a timer takes
//! `now`, and [`crate::Connection::poll_timeout`] says when the caller should call
//! back. Any monotonic millisecond counter works (a `std::time::Instant` offset, an
//! RTOS tick count, a virtual clock in tests).

use core::fmt;

/// A point in time, in milliseconds since an origin the caller picks.
///
/// Only differences between instants matter, so the origin is arbitrary as long
/// as it stays the same for the lifetime of a connection.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Instant = Instant(0);

    /// An instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms)
    }

    /// Milliseconds since the origin.
    pub const fn millis(self) -> u64 {
        self.0
    }

    /// This instant plus `ms` milliseconds, saturating at the far future.
    pub const fn plus_millis(self, ms: u64) -> Self {
        Instant(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 when `earlier` is later.
    pub const fn millis_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_millis(u64::MAX - 1);
        assert_eq!(t.plus_millis(10).millis(), u64::MAX);
        assert_eq!(Instant::ZERO.millis_since(t), 0);
        assert_eq!(t.millis_since(Instant::from_millis(1)), u64::MAX - 2);
    }
}
