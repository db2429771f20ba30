//! [`Report`]: what the socket layer observed executing one [`Action`], the
//! answer [`super::Driver::run`] hands to the input it belongs to. With it a
//! transport writes only how each action becomes a socket call, never the
//! loop around it.

use super::io::{Action, ConnectOutcome, Io, Resolution};

/// What the socket layer observed while executing one [`Action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Report {
    /// The answer to [`Action::Resolve`].
    Resolved(Resolution),
    /// The answer to [`Action::Connect`].
    Connect(ConnectOutcome),
    /// The result of [`Action::Read`] or [`Action::Write`].
    Io(Io),
    /// [`Action::Shutdown`] and [`Action::Close`] need no answer.
    Done,
}

/// Which input an action's report goes to.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Resolve,
    Connect,
    Read,
    Write,
    Other,
}

impl Kind {
    pub(crate) fn of(action: &Action<'_>) -> Kind {
        match action {
            Action::Resolve { .. } => Kind::Resolve,
            Action::Connect { .. } => Kind::Connect,
            Action::Read { .. } => Kind::Read,
            Action::Write { .. } => Kind::Write,
            Action::Shutdown { .. } | Action::Close { .. } => Kind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{Driver, DriverConfig, Phase, Slot, Storage};
    use crate::handshake::HandshakeOptions;
    use crate::random::{Random, RandomError};
    use crate::time::Instant;

    struct Counter(u8);

    impl Random for Counter {
        fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
            for b in buf {
                self.0 = self.0.wrapping_add(1);
                *b = self.0;
            }
            Ok(())
        }
    }

    type Test = Driver<
        Counter,
        [u8; 512],
        [u8; 256],
        [u8; 256],
        [Slot<Counter, [u8; 512], [u8; 256], [u8; 256]>; 1],
    >;

    fn driver() -> Test {
        Driver::new([const { Slot::new() }; 1], DriverConfig::default())
    }

    fn storage() -> Storage<Counter, [u8; 512], [u8; 256], [u8; 256]> {
        Storage {
            rng: Counter(0),
            tx: [0; 512],
            rx: [0; 256],
            assembler: [0; 256],
        }
    }

    #[test]
    fn one_turn_connects_and_writes_the_request() {
        let mut d = driver();
        let t = Instant::ZERO;
        let opts = HandshakeOptions::default();
        let id = d.open("ws://10.0.0.1:81/", &opts, t, storage).unwrap();
        let mut seen = [0usize; 3];
        let done = d.run(t, 16, |a| match a {
            Action::Connect { addr, .. } => {
                assert_eq!(addr, core::net::SocketAddr::from(([10, 0, 0, 1], 81)));
                seen[0] += 1;
                Report::Connect(ConnectOutcome::Connected)
            }
            Action::Write { bytes, .. } => {
                assert!(bytes.starts_with(b"GET / HTTP/1.1\r\n"));
                seen[1] += 1;
                Report::Io(Io::Done(bytes.len()))
            }
            Action::Read { .. } => {
                seen[2] += 1;
                Report::Io(Io::WouldBlock)
            }
            other => panic!("{other:?}"),
        });
        assert!(done);
        assert_eq!(seen, [1, 1, 1], "connect, write the request, read once");
        assert_eq!(d.phase(id), Some(Phase::Handshake));
    }

    #[test]
    fn a_report_for_another_action_is_ignored_and_the_budget_holds() {
        let mut d = driver();
        let t = Instant::ZERO;
        let opts = HandshakeOptions::default();
        let id = d.open("ws://10.0.0.1/", &opts, t, storage).unwrap();
        // Connect answered with an I/O result: nothing changes, asked again
        // only after readiness.
        assert!(d.run(t, 16, |_| Report::Io(Io::Done(1))));
        assert_eq!(d.phase(id), Some(Phase::Connect));
        d.handle_ready_all();
        let mut calls = 0;
        let done = d.run(t, 1, |_| {
            calls += 1;
            Report::Connect(ConnectOutcome::Connected)
        });
        assert!(!done, "one action, more waiting");
        assert_eq!(calls, 1);
        assert_eq!(d.phase(id), Some(Phase::Handshake));
    }

    #[test]
    fn bracketed_hosts_must_be_ipv6_literals() {
        use crate::driver::OpenError;
        use crate::error::UrlError;
        let mut d = driver();
        let t = Instant::ZERO;
        let opts = HandshakeOptions::default();
        for bad in ["ws://[abc]/", "ws://[1.2.3.4]/", "ws://[1::2::3]/"] {
            let e = d.open(bad, &opts, t, storage);
            assert_eq!(e, Err(OpenError::Url(UrlError::InvalidHost)), "{bad}");
        }
        let id = d.open("ws://[::1]:9/", &opts, t, storage).unwrap();
        assert_eq!(d.phase(id), Some(Phase::Connect), "no name resolution");
        let mut to = None;
        d.run(t, 4, |a| {
            if let Action::Connect { addr, .. } = a {
                to = Some(addr);
            }
            Report::Connect(ConnectOutcome::Pending)
        });
        let v6 = core::net::Ipv6Addr::LOCALHOST;
        assert_eq!(to, Some(core::net::SocketAddr::from((v6, 9))));
    }
}
