//! A blocking-style connection for programs with nothing else to do: every
//! call waits, at most for the timeout it is given.
//!
//! [`WebSocket`] drives one connection of a [`Client`] through its public API
//! only (`open`, `poll`, `wait`, `send_text`, `send_binary`, `close`,
//! `state`, `lingering`), so it follows the client's behaviour, limits and
//! failure reasons exactly. Messages come out owned ([`OwnedMessage`]); pings
//! are answered by the client and not shown.
//!
//! ```no_run
//! use std::time::Duration;
//! use ws_transport_std::blocking::WebSocket;
//!
//! let t = Duration::from_secs(10);
//! let mut ws = WebSocket::connect("ws://127.0.0.1:9001/", t)?;
//! ws.send_text("hello", t)?;
//! println!("{:?}", ws.recv(t)?);
//! ws.close(1000, "bye", t)?;
//! # Ok::<(), ws_transport_std::blocking::Error>(())
//! ```
//!
//! For many connections, or a loop that also serves other sources, use
//! [`Client`] directly.

use core::fmt;
use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use ws_proto::{Disconnect, Instant, Message, SendError, SessionEvent};

use crate::{Client, ClientConfig, Clock, CommandError, ConnId, OpenError};

/// How many bytes of received messages a waiting send (or the flush after
/// one) keeps for later [`WebSocket::recv`] calls. Past it, a send that
/// would have to wait for room fails with [`SendError::Backpressure`]
/// instead of buffering more: receive, then send again.
pub const INBOX_LIMIT: usize = 16 << 20;

/// A whole received message, owned.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OwnedMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl OwnedMessage {
    /// The payload bytes (UTF-8 for text).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            OwnedMessage::Text(t) => t.as_bytes(),
            OwnedMessage::Binary(b) => b,
        }
    }
}

impl From<Message<'_>> for OwnedMessage {
    fn from(m: Message<'_>) -> Self {
        match m {
            Message::Text(t) => OwnedMessage::Text(t.to_owned()),
            Message::Binary(b) => OwnedMessage::Binary(b.to_vec()),
        }
    }
}

/// How a connection ended ([`ws_proto::Disconnect`], owned).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Ended {
    /// The close handshake completed with the server's close frame.
    Clean {
        /// The server's status code (`None` for an empty close frame).
        code: Option<u16>,
        /// The server's reason, possibly empty.
        reason: String,
    },
    /// The protocol ended it: handshake rejected, violation, timeout, EOF.
    Error(ws_proto::Error),
    /// The transport failed below the protocol (refused, reset, DNS, ...).
    Link(ws_proto::LinkError),
    /// This side closed it before the handshake completed.
    Local,
    /// A redirect that was not followed (too many, a loop, `wss` to `ws`,
    /// a bad location).
    Redirect {
        /// The server's status (301, 302, 303, 307 or 308).
        status: u16,
        /// Why it was not followed.
        refusal: ws_proto::redirect::RedirectRefusal,
        /// The `Location` as sent (bytes outside printable ASCII as `?`).
        location: String,
    },
}

impl Ended {
    /// Whether the close handshake completed.
    pub fn is_clean(&self) -> bool {
        matches!(self, Ended::Clean { .. })
    }
}

impl From<Disconnect<'_>> for Ended {
    fn from(d: Disconnect<'_>) -> Self {
        match d {
            Disconnect::Clean(c) => Ended::Clean {
                code: c.code,
                reason: c.reason.to_owned(),
            },
            Disconnect::Error(e) => Ended::Error(e),
            Disconnect::Link(e) => Ended::Link(e),
            Disconnect::Local => Ended::Local,
            Disconnect::Redirect(r) => Ended::Redirect {
                status: r.status,
                refusal: r.refusal,
                location: r.location_lossy().collect(),
            },
        }
    }
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Clean {
                code: Some(code),
                reason,
            } => write!(f, "closed by the close handshake ({code} {reason:?})"),
            Ended::Clean { code: None, .. } => {
                f.write_str("closed by the close handshake (no status)")
            }
            Ended::Error(e) => write!(f, "{e}"),
            Ended::Link(e) => write!(f, "{e}"),
            Ended::Local => f.write_str("closed locally before the handshake completed"),
            Ended::Redirect {
                status,
                refusal,
                location,
            } => ws_proto::redirect::Redirect {
                status: *status,
                refusal: *refusal,
                location: location.as_bytes(),
            }
            .fmt(f),
        }
    }
}

/// Why a [`WebSocket`] call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Nothing happened in time: no handshake, no message, no room to send,
    /// no close answer. The connection is unchanged (still usable, except
    /// after a failed [`WebSocket::connect`], which drops it).
    Timeout,
    /// The connection ended (also the reason every later call gives). For a
    /// close started by the server this is `Ended::Clean`.
    Closed(Ended),
    /// [`Client::open`] refused the URL or the configuration.
    Open(OpenError),
    /// The client refused the command (message too large, not open, ...).
    Command(CommandError),
    /// [`Client::new`] refused the configuration.
    Config(crate::ConfigError),
    /// The operating system refused the poller or a wait on it.
    Io(io::ErrorKind),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Timeout => f.write_str("timed out"),
            Error::Closed(e) => write!(f, "connection ended: {e}"),
            Error::Open(e) => write!(f, "{e}"),
            Error::Command(e) => write!(f, "{e}"),
            Error::Config(e) => write!(f, "{e}"),
            Error::Io(k) => write!(f, "I/O error: {k}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open(e) => Some(e),
            Error::Command(e) => Some(e),
            Error::Config(e) => Some(e),
            Error::Timeout | Error::Closed(_) | Error::Io(_) => None,
        }
    }
}

impl From<crate::ConfigError> for Error {
    fn from(e: crate::ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e.kind())
    }
}

/// One WebSocket connection whose calls block, each for at most its timeout.
#[derive(Debug)]
pub struct WebSocket {
    client: Client,
    id: ConnId,
    clock: Clock,
    protocol: Option<String>,
    /// Messages that arrived while a send waited or flushed.
    inbox: VecDeque<OwnedMessage>,
    inbox_bytes: usize,
    /// Set once the connection's `Closed` event was seen.
    ended: Option<Ended>,
}

impl WebSocket {
    /// Connects to a `ws://` URL and waits for the handshake, at most
    /// `timeout`, with a one-connection [`ClientConfig`] otherwise default
    /// (1 MiB messages).
    ///
    /// # Errors
    ///
    /// [`Error::Open`] for a bad URL, [`Error::Closed`] when the connection
    /// failed (refused, name not found, handshake rejected, ...),
    /// [`Error::Timeout`], or [`Error::Io`] from the poller.
    pub fn connect(url: &str, timeout: Duration) -> Result<WebSocket, Error> {
        Self::connect_with(
            url,
            ClientConfig {
                max_connections: 1,
                ..ClientConfig::default()
            },
            timeout,
        )
    }

    /// As [`connect`](Self::connect), with the client's limits and timeouts
    /// from `config` (its `proto.handshake_timeout_ms` still applies too).
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect); [`Error::Config`] for a configuration
    /// [`Client::new`] refuses.
    pub fn connect_with(
        url: &str,
        config: ClientConfig,
        timeout: Duration,
    ) -> Result<WebSocket, Error> {
        let clock = Clock::new();
        let mut client = Client::new(config)?;
        let id = client.open(url, clock.now()).map_err(Error::Open)?;
        let mut ws = WebSocket {
            client,
            id,
            clock,
            protocol: None,
            inbox: VecDeque::new(),
            inbox_bytes: 0,
            ended: None,
        };
        let deadline = ws.deadline(timeout);
        loop {
            match ws.next_event(deadline)? {
                Some(Step::Connected(protocol)) => {
                    ws.protocol = protocol;
                    return Ok(ws);
                }
                Some(Step::Message(m)) => ws.keep(m),
                Some(Step::Ended(e)) => return Err(Error::Closed(e)),
                None => return Err(Error::Timeout),
            }
        }
    }

    /// The subprotocol the server chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's state (`None` once it ended).
    pub fn state(&self) -> Option<ws_proto::State> {
        self.client.state(self.id)
    }

    /// How the connection ended, once it did.
    pub fn ended(&self) -> Option<&Ended> {
        self.ended.as_ref()
    }

    /// Sends a text message as one frame. Waits at most `timeout` for room in
    /// the outbound queue, then writes as much as the socket takes now; the
    /// rest leaves during the next call. Messages that arrive meanwhile are
    /// kept for [`recv`](Self::recv).
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when there was no room in time, [`Error::Closed`]
    /// when the connection ended, [`Error::Command`] for a message the
    /// connection refuses (`TooLarge` over the queue's capacity, `NotOpen`
    /// after [`close`](Self::close), or `Backpressure` when
    /// [`INBOX_LIMIT`] bytes wait to be received), [`Error::Io`].
    pub fn send_text(&mut self, text: &str, timeout: Duration) -> Result<(), Error> {
        self.send_with(timeout, |c, id| c.send_text(id, text))
    }

    /// Sends a binary message as one frame; as [`send_text`](Self::send_text).
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8], timeout: Duration) -> Result<(), Error> {
        self.send_with(timeout, |c, id| c.send_binary(id, data))
    }

    /// The next message, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when none arrived in time (the connection stays
    /// open), [`Error::Closed`] when the connection ended (a close from the
    /// server is `Ended::Clean`; its echo is flushed before this returns,
    /// within `timeout`), [`Error::Io`].
    pub fn recv(&mut self, timeout: Duration) -> Result<OwnedMessage, Error> {
        if let Some(m) = self.inbox.pop_front() {
            self.inbox_bytes -= m.as_bytes().len();
            return Ok(m);
        }
        let deadline = self.deadline(timeout);
        loop {
            match self.next_event(deadline)? {
                Some(Step::Message(m)) => return Ok(m),
                Some(Step::Connected(_)) => {}
                Some(Step::Ended(e)) => return Err(Error::Closed(e)),
                None => return Err(Error::Timeout),
            }
        }
    }

    /// Starts the close handshake with `code` and `reason`, waits at most
    /// `timeout` for the server's close frame, then for the socket to flush
    /// and close. Messages that arrive after the close frame went out are
    /// dropped: receive what you expect first. Returns how the connection
    /// ended (`Ended::Clean` with the server's code when it answered; the
    /// client's close timeout gives `Ended::Error`).
    ///
    /// # Errors
    ///
    /// [`Error::Command`] for an invalid code or a reason over 123 bytes
    /// (nothing was sent), [`Error::Closed`] when the connection had already
    /// ended, [`Error::Timeout`], [`Error::Io`].
    pub fn close(&mut self, code: u16, reason: &str, timeout: Duration) -> Result<Ended, Error> {
        self.check_open()?;
        let deadline = self.deadline(timeout);
        self.client
            .close(self.id, self.clock.now(), code, reason)
            .map_err(Error::Command)?;
        let ended = loop {
            match self.next_event(deadline)? {
                Some(Step::Ended(e)) => break e,
                Some(_) => {}
                None => return Err(Error::Timeout),
            }
        };
        Ok(ended)
    }

    /// After the `Closed` event: lets the last bytes leave (a close echo,
    /// our FIN) and the server close TCP, until `deadline` at most.
    fn finish(&mut self, deadline: Instant) -> Result<(), Error> {
        loop {
            let now = self.clock.now();
            while self.client.poll(now).is_some() {}
            if self.client.lingering() == 0 || now >= deadline {
                return Ok(());
            }
            self.client.wait(now, left(now, deadline))?;
        }
    }

    /// Queues with `f`, waiting for room, then flushes.
    fn send_with(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&mut Client, ConnId) -> Result<(), CommandError>,
    ) -> Result<(), Error> {
        self.check_open()?;
        let deadline = self.deadline(timeout);
        loop {
            match f(&mut self.client, self.id) {
                Ok(()) => break,
                Err(CommandError::Send(SendError::Backpressure)) => {
                    if self.inbox_bytes >= INBOX_LIMIT {
                        return Err(Error::Command(CommandError::Send(SendError::Backpressure)));
                    }
                    if !self.pump(deadline)? {
                        return Err(Error::Timeout);
                    }
                }
                Err(CommandError::UnknownConnection) => return Err(self.closed_error()),
                Err(e) => return Err(Error::Command(e)),
            }
        }
        // Write what the socket takes now; keep what arrives.
        let now = self.clock.now();
        while self.inbox_bytes < INBOX_LIMIT {
            match self.poll_step(now) {
                Some(Step::Message(m)) => self.keep(m),
                Some(Step::Connected(_)) => {}
                Some(Step::Ended(e)) => {
                    self.finish(deadline)?;
                    return Err(Error::Closed(e));
                }
                None => break,
            }
        }
        Ok(())
    }

    /// Polls (keeping messages) and waits once, until `deadline`. `false`
    /// when the deadline passed.
    fn pump(&mut self, deadline: Instant) -> Result<bool, Error> {
        let now = self.clock.now();
        while let Some(step) = self.poll_step(now) {
            match step {
                Step::Message(m) => self.keep(m),
                Step::Connected(_) => {}
                Step::Ended(e) => {
                    self.finish(deadline)?;
                    return Err(Error::Closed(e));
                }
            }
        }
        if now >= deadline {
            return Ok(false);
        }
        self.client.wait(now, left(now, deadline))?;
        Ok(true)
    }

    /// The next event of this connection before `deadline`, or `None`.
    fn next_event(&mut self, deadline: Instant) -> Result<Option<Step>, Error> {
        if let Some(e) = &self.ended {
            return Ok(Some(Step::Ended(e.clone())));
        }
        loop {
            let now = self.clock.now();
            if let Some(step) = self.poll_step(now) {
                if matches!(step, Step::Ended(_)) {
                    self.finish(deadline)?;
                }
                return Ok(Some(step));
            }
            if now >= deadline {
                return Ok(None);
            }
            self.client.wait(now, left(now, deadline))?;
        }
    }

    /// One `poll`, owned; pings, pongs and fragments are skipped (`Connected`
    /// is reported so the caller can see the subprotocol).
    fn poll_step(&mut self, now: Instant) -> Option<Step> {
        loop {
            let (id, event) = self.client.poll(now)?;
            if id != self.id {
                continue;
            }
            return Some(match event {
                SessionEvent::Connected { protocol } => {
                    Step::Connected(protocol.map(str::to_owned))
                }
                SessionEvent::Message(m) => Step::Message(m.into()),
                SessionEvent::Closed(d) => {
                    let e = Ended::from(d);
                    self.ended = Some(e.clone());
                    Step::Ended(e)
                }
                // Pings, pongs, fragments, and kinds a later version adds.
                _ => continue,
            });
        }
    }

    fn keep(&mut self, m: OwnedMessage) {
        self.inbox_bytes += m.as_bytes().len();
        self.inbox.push_back(m);
    }

    fn check_open(&self) -> Result<(), Error> {
        match &self.ended {
            Some(e) => Err(Error::Closed(e.clone())),
            None => Ok(()),
        }
    }

    fn closed_error(&self) -> Error {
        Error::Closed(self.ended.clone().unwrap_or(Ended::Local))
    }

    fn deadline(&self, timeout: Duration) -> Instant {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.clock.now().plus_millis(ms)
    }
}

/// What [`WebSocket::poll_step`] found.
enum Step {
    Connected(Option<String>),
    Message(OwnedMessage),
    Ended(Ended),
}

/// The time from `now` to `deadline`.
fn left(now: Instant, deadline: Instant) -> Duration {
    Duration::from_millis(deadline.millis_since(now))
}
