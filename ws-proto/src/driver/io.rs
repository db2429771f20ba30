//! The driver's vocabulary with the socket layer: what it asks for
//! ([`Action`]) and what the socket layer reports back ([`Resolution`],
//! [`ConnectOutcome`], [`Io`], [`Readiness`]), and the id that names a
//! connection ([`ConnId`]).

use core::fmt;
use core::net::{IpAddr, SocketAddr};

use crate::session::LinkError;

/// Names one connection of a [`super::Driver`]: its slot and the slot's
/// generation, so an id whose connection was released never matches a later
/// connection in the same slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId {
    pub(crate) slot: u16,
    pub(crate) gen: u32,
}

impl ConnId {
    /// The slot index, below the driver's slot count (for tables of
    /// per-slot socket state). Slots are reused; ids are not.
    pub const fn slot(self) -> usize {
        self.slot as usize
    }

    /// The slot's generation for this connection.
    pub const fn generation(self) -> u32 {
        self.gen
    }
}

impl fmt::Debug for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnId({}#{})", self.slot, self.gen)
    }
}

/// What the driver asks the socket layer to do. Each borrows the driver
/// until the socket layer reports the result.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Resolve `host`; report with [`super::Driver::handle_resolved`].
    Resolve {
        /// The connection.
        id: ConnId,
        /// The name, as written in the URL.
        host: &'a str,
        /// The port to connect to afterwards.
        port: u16,
    },
    /// Start, or check the progress of, a TCP connect to `addr`; report
    /// with [`super::Driver::handle_connect`]. The driver asks again for the
    /// same address once the socket is reported ready.
    Connect {
        /// The connection.
        id: ConnId,
        /// Where to connect.
        addr: SocketAddr,
    },
    /// Write a prefix of `bytes` (one write call); report how many were
    /// taken with [`super::Driver::handle_write`].
    Write {
        /// The connection.
        id: ConnId,
        /// The bytes, in order.
        bytes: &'a [u8],
    },
    /// Read into `buf` (one read call); report with
    /// [`super::Driver::handle_read`].
    Read {
        /// The connection.
        id: ConnId,
        /// Where to put the bytes.
        buf: &'a mut [u8],
    },
    /// Shut down the writing half of the socket (TCP FIN); reading goes on.
    Shutdown {
        /// The connection.
        id: ConnId,
    },
    /// Close the socket and forget the id: nothing more comes for it. Every
    /// opened id gets exactly one, last; except when the server redirected
    /// the handshake: then the id's socket is closed and the id starts
    /// again with `Resolve` (or `Connect`), on a new socket.
    Close {
        /// The connection.
        id: ConnId,
    },
}

impl Action<'_> {
    /// The connection the action is for.
    pub fn id(&self) -> ConnId {
        match self {
            Action::Resolve { id, .. }
            | Action::Connect { id, .. }
            | Action::Write { id, .. }
            | Action::Read { id, .. }
            | Action::Shutdown { id }
            | Action::Close { id } => *id,
        }
    }
}

/// The answer to [`Action::Resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Not yet (a non-blocking resolver): the driver asks again after the
    /// next [`super::Driver::handle_ready_all`].
    Pending,
    /// The first address to connect to.
    Found(IpAddr),
    /// The name did not resolve (or the resolver failed).
    Failed(LinkError),
}

/// The answer to [`Action::Connect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Under way: the driver asks again once the socket is reported ready.
    Pending,
    /// TCP is up.
    Connected,
    /// This address failed (the socket layer dropped its socket); `next` is
    /// another address of the same name to try, if the resolver gave one.
    Failed {
        /// Why it failed.
        error: LinkError,
        /// The next address to try.
        next: Option<SocketAddr>,
    },
}

/// The result of one read or write call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Io {
    /// `n` bytes moved (a write of 0 counts as "would block").
    Done(usize),
    /// Nothing can move now; the driver waits for readiness.
    WouldBlock,
    /// End of stream (a read of 0 bytes).
    Eof,
    /// The socket failed.
    Failed(LinkError),
}

/// What a readiness notification said about a socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Readiness {
    /// Bytes (or the end) can be read.
    pub readable: bool,
    /// Bytes can be written.
    pub writable: bool,
    /// The peer closed its side, or the socket failed: the next read
    /// reports it, so a short read no longer means "drained".
    pub read_closed: bool,
}

impl Readiness {
    /// Everything may be possible: for socket layers without notifications
    /// (they try each call and take `WouldBlock` for an answer).
    pub const ALL: Readiness = Readiness {
        readable: true,
        writable: true,
        read_closed: true,
    };

    pub(crate) const NONE: Readiness = Readiness {
        readable: false,
        writable: false,
        read_closed: false,
    };

    pub(crate) fn merge(&mut self, other: Readiness) {
        self.readable |= other.readable;
        self.writable |= other.writable;
        self.read_closed |= other.read_closed;
    }
}
