//! The settings of an [`crate::EspClient`] ([`ClientConfig`]) and the
//! network check it asks before opening ([`NetworkReady`]).

use ws_proto::driver::DriverConfig;
use ws_proto::{Config, MIN_RECV_BUFFER};

/// Says whether the network can carry a connection: on an ESP32, whether the
/// Wi-Fi station has an IP address.
pub trait NetworkReady {
    /// `true` when connections can be opened.
    fn is_ready(&self) -> bool;
}

/// Any `Fn() -> bool` is a readiness check.
impl<F: Fn() -> bool> NetworkReady for F {
    fn is_ready(&self) -> bool {
        self()
    }
}

/// A network that is always ready (a host, or a wired link).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysReady;

impl NetworkReady for AlwaysReady {
    fn is_ready(&self) -> bool {
        true
    }
}

/// Settings of an [`crate::EspClient`]; sizes are its const generics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Handshake and close timeouts, keepalive, response header limit. Its
    /// `max_message_size` is capped at `MSG` unless `streaming`.
    pub proto: Config,
    /// How long DNS + TCP connect may take before the connection ends with
    /// `LinkError::ConnectTimeout`.
    pub connect_timeout_ms: u64,
    /// After `Closed` was delivered, how long the socket may stay to flush
    /// the last frames (the close frame) and wait for the server to close
    /// TCP first, before it is closed anyway.
    pub linger_ms: u64,
    /// Deliver messages that are not whole in the receive buffer as
    /// `SessionEvent::Fragment`s instead of joining them in the `MSG` bytes.
    pub streaming: bool,
}

impl Default for ClientConfig {
    /// ws-proto's defaults, 10 s to connect, 1 s linger, whole messages.
    fn default() -> Self {
        ClientConfig {
            proto: Config::default(),
            connect_timeout_ms: 10_000,
            linger_ms: 1_000,
            streaming: false,
        }
    }
}

impl ClientConfig {
    pub(crate) fn driver(&self) -> DriverConfig {
        DriverConfig {
            proto: self.proto,
            connect_timeout_ms: self.connect_timeout_ms,
            linger_ms: self.linger_ms,
            streaming: self.streaming,
            tls: false,
            // An `nb` read sees the socket as it is: after a failed write,
            // one that would block means drained. (`AsyncClient` sets its own.)
            drain_grace_ms: 0,
        }
    }
}

/// The buffer sizes of a client, checked at compile time: `OK` fails to
/// build for sizes that cannot work.
pub(crate) struct Sizes<const CONNS: usize, const RX: usize, const TX: usize>;

impl<const CONNS: usize, const RX: usize, const TX: usize> Sizes<CONNS, RX, TX> {
    /// Refuses sizes that cannot work, at compile time.
    pub(crate) const OK: () = {
        assert!(CONNS >= 1 && CONNS <= 1024, "CONNS must be 1..=1024");
        assert!(
            RX >= MIN_RECV_BUFFER,
            "RX must be at least ws_proto::MIN_RECV_BUFFER (127)"
        );
        assert!(
            TX >= ws_proto::queue::CONTROL_RESERVE + 128,
            "TX must hold the control reserve (262) plus a handshake request"
        );
    };

    /// A client's `Debug`: its name and sizes.
    pub(crate) fn debug(
        f: &mut core::fmt::Formatter<'_>,
        name: &str,
        msg: usize,
    ) -> core::fmt::Result {
        f.debug_struct(name)
            .field("conns", &CONNS)
            .field("rx", &RX)
            .field("tx", &TX)
            .field("msg", &msg)
            .finish_non_exhaustive()
    }
}
