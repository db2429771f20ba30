//! The phases of a connection and every transition between them, in one
//! table. The driver's tests walk each row (script the trigger, check the
//! phase after), and the driver fuzz target checks that every change it
//! observes is a row.

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Waiting for name resolution.
    Resolve,
    /// TCP connect under way.
    Connect,
    /// TCP is up; the handshake request is out or going, no response yet.
    Handshake,
    /// Messages flow both ways.
    Open,
    /// A close frame was sent or the connection failed: waiting for the
    /// server's close, or for the end to be delivered.
    Closing,
    /// `Closed` was delivered (the id takes no commands); the socket
    /// flushes, shuts down and waits for the server's FIN as the TCP close
    /// policy says.
    Linger,
    /// The socket is to be closed: the id's last action, `Close`, is next.
    Released,
}

/// What moves a connection from one phase to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// `handle_resolved(Found)`.
    Resolved,
    /// `handle_connect(Connected)`.
    Connected,
    /// The server's 101 was accepted (the `Connected` event).
    Accepted,
    /// `close()` while open: our close frame is queued.
    LocalClose,
    /// A protocol violation, failed handshake, timeout or server close frame
    /// ended the protocol before the end was delivered.
    ProtocolEnd,
    /// `Closed` was delivered and the TCP close policy keeps the socket open
    /// to flush or to wait for the server's FIN.
    DeliveredLinger,
    /// `Closed` was delivered and the policy closes the socket now (a failed
    /// link, no handshake, a keepalive timeout).
    DeliveredAbort,
    /// Lingering: flushed, and the policy needs nothing more, or the server
    /// closed TCP, or the socket failed.
    LingerDone,
    /// The linger deadline passed.
    LingerTimeout,
    /// `open` took over the slot of a lingering connection.
    Reclaimed,
    /// The server redirected the handshake to a host name and the redirect
    /// is followed: the socket closes and the connection starts again (see
    /// [`crate::redirect`]).
    Redirected,
    /// The same, to an IP address (no resolution).
    RedirectedToAddress,
}

/// Every phase change: `(from, trigger, to)`. Anything else leaves the
/// phase as it is. Link failures, refusals and timeouts before `Open` do not
/// change the phase by themselves: they are recorded and the end follows
/// with `DeliveredAbort` once the events before them are out. Nor does the
/// drain after a failed write (reads, then the failure at the first read
/// that finds nothing, or at the end of `drain_grace_ms`): it ends with the
/// failure recorded, like a read fault.
pub const TRANSITIONS: &[(Phase, Trigger, Phase)] = &[
    (Phase::Resolve, Trigger::Resolved, Phase::Connect),
    (Phase::Resolve, Trigger::DeliveredAbort, Phase::Released),
    (Phase::Connect, Trigger::Connected, Phase::Handshake),
    (Phase::Connect, Trigger::DeliveredAbort, Phase::Released),
    (Phase::Handshake, Trigger::Accepted, Phase::Open),
    (Phase::Handshake, Trigger::ProtocolEnd, Phase::Closing),
    (Phase::Handshake, Trigger::DeliveredAbort, Phase::Released),
    (Phase::Handshake, Trigger::Redirected, Phase::Resolve),
    (
        Phase::Handshake,
        Trigger::RedirectedToAddress,
        Phase::Connect,
    ),
    (Phase::Open, Trigger::LocalClose, Phase::Closing),
    (Phase::Open, Trigger::ProtocolEnd, Phase::Closing),
    (Phase::Open, Trigger::DeliveredLinger, Phase::Linger),
    (Phase::Open, Trigger::DeliveredAbort, Phase::Released),
    (Phase::Closing, Trigger::DeliveredLinger, Phase::Linger),
    (Phase::Closing, Trigger::DeliveredAbort, Phase::Released),
    (Phase::Linger, Trigger::LingerDone, Phase::Released),
    (Phase::Linger, Trigger::LingerTimeout, Phase::Released),
    (Phase::Linger, Trigger::Reclaimed, Phase::Released),
];

/// Whether `from -> to` is a row of [`TRANSITIONS`] (with any trigger).
pub fn is_transition(from: Phase, to: Phase) -> bool {
    TRANSITIONS.iter().any(|&(f, _, t)| f == from && t == to)
}
