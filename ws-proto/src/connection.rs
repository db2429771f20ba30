//! The client connection state machine: handshake, framing, close handshake.
//!
//! [`Connection`] owns the protocol state and the outbound queue. It is driven
//! by three groups of methods, documented on the type in the order to use them:
//! inputs, commands, outputs.

use crate::buffer::Buffer;
use crate::close::{self, CloseFrame};
use crate::deflate::context::Context as DeflateContext;
use crate::deflate::{Agreed, DeflateConfig};
use crate::error::{Error, ProtocolError, SendError};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use crate::handshake::{self, HandshakeOptions, KEY_LEN};
use crate::queue::{Class, TxQueue, CONTROL_RESERVE};
use crate::random::Random;
use crate::time::Instant;
use crate::url::Url;
use crate::utf8::Utf8Validator;

/// Limits and timeouts of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest message accepted, summed over its fragments. A frame that
    /// would pass it fails the connection with 1009 as soon as its header
    /// arrives, before any of its payload is read. Set it to the capacity of
    /// the [`crate::Assembler`] when whole messages are wanted. (On a
    /// 32-bit target a single frame over 4 GiB fails with 1009 too.)
    pub max_message_size: u64,
    /// The longest handshake response header accepted.
    pub max_response_header: usize,
    /// How long the server has to answer the handshake, from [`Connection::new`].
    pub handshake_timeout_ms: u64,
    /// How long the server has to answer our close frame (at most
    /// `u32::MAX` ms, about 49 days; longer values are cut to that).
    pub close_timeout_ms: u64,
    /// Keepalive: when nothing at all has been received for this long while
    /// open, queue a ping (0: keepalive off). Any inbound byte proves the
    /// link alive, so a busy stream never pings.
    pub ping_interval_ms: u64,
    /// Keepalive: when nothing at all arrives within this long after that
    /// ping, fail with [`Error::KeepaliveTimeout`] after queueing a close
    /// frame with 1011 (0: ping, never fail).
    pub pong_timeout_ms: u64,
    /// permessage-deflate (RFC 7692): the offer to make, if any (needs the
    /// `deflate` feature; without it nothing is offered). The size limit
    /// then applies to each message's inflated size.
    pub deflate: Option<DeflateConfig>,
}

impl Default for Config {
    /// 16 MiB messages, 8 KiB response header, 10 s handshake, 5 s close,
    /// keepalive off (a library does what it is told).
    fn default() -> Self {
        Config {
            max_message_size: 16 << 20,
            max_response_header: 8 << 10,
            handshake_timeout_ms: 10_000,
            close_timeout_ms: 5_000,
            ping_interval_ms: 0,
            pong_timeout_ms: 0,
            deflate: None,
        }
    }
}

/// The two kinds of data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl DataKind {
    const fn opcode(self) -> OpCode {
        match self {
            DataKind::Text => OpCode::Text,
            DataKind::Binary => OpCode::Binary,
        }
    }
}

/// What [`Connection::recv`] found in the input. Payloads borrow from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'i> {
    /// The handshake completed; `protocol` is the subprotocol the server chose.
    Connected {
        /// The chosen subprotocol, if any.
        protocol: Option<&'i str>,
    },
    /// A whole text message that arrived in one frame, already validated.
    Text(&'i str),
    /// A whole binary message that arrived in one frame.
    Binary(&'i [u8]),
    /// A piece of a message that arrives in several frames or input pieces;
    /// `fin` marks the last piece. Text pieces may split a code point, but the
    /// bytes so far are checked to be a valid UTF-8 prefix, and the whole
    /// message valid UTF-8 by the time `fin` is reported.
    Fragment {
        /// Text or binary.
        kind: DataKind,
        /// This piece of the payload (may be empty).
        data: &'i [u8],
        /// Whether this piece ends the message.
        fin: bool,
    },
    /// A ping; its pong is already queued.
    Ping(&'i [u8]),
    /// A pong.
    Pong(&'i [u8]),
    /// A piece of a compressed message (permessage-deflate), inflated: the
    /// bytes are [`Connection::inflated`], valid until the next `recv`.
    /// `fin` marks the last piece. Text is checked as for
    /// [`Event::Fragment`].
    Inflated {
        /// Text or binary.
        kind: DataKind,
        /// Whether this piece ends the message.
        fin: bool,
    },
    /// The server's close frame: the close handshake is complete (our close
    /// was answered, or theirs is echoed in the queue). Transmit what is
    /// pending, then close the transport.
    Closed(CloseFrame<'i>),
}

/// The result of one [`Connection::recv`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received<'i> {
    /// How many input bytes were used. The rest must be passed again, with
    /// more bytes appended, on the next call.
    pub consumed: usize,
    /// What the call got to: an event, or what it waits for.
    pub progress: Progress<'i>,
}

impl<'i> Received<'i> {
    const fn found(consumed: usize, event: Event<'i>) -> Self {
        Received {
            consumed,
            progress: Progress::Event(event),
        }
    }

    const fn need(consumed: usize, progress: Progress<'i>) -> Self {
        Received { consumed, progress }
    }

    /// The event found, if the call found one.
    pub const fn event(&self) -> Option<Event<'i>> {
        match self.progress {
            Progress::Event(e) => Some(e),
            Progress::NeedInput | Progress::NeedTransmit => None,
        }
    }
}

/// How far one [`Connection::recv`] call got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress<'i> {
    /// It found an event.
    Event(Event<'i>),
    /// The next frame (or the rest of the response) is not in the input yet:
    /// read more bytes and call again.
    NeedInput,
    /// A ping is waiting for room for its pong in the outbound queue:
    /// transmit, then call again with the same input.
    NeedTransmit,
}

/// Where the frame loop of `recv` goes next (private plumbing).
enum Step<'i> {
    /// Return this.
    Done(Received<'i>),
    /// Go on at this input offset.
    Next(usize),
}

/// Why the frame loop failed the connection (private plumbing): the two
/// [`Error`]s it can end with, in two bytes instead of an `Error`'s forty,
/// which every `Result` of the loop carried.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// [`Error::Protocol`].
    Protocol(ProtocolError),
    /// [`Error::Random`].
    Random,
}

impl From<Fault> for Error {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Protocol(e) => Error::Protocol(e),
            Fault::Random => Error::Random,
        }
    }
}

/// The connection's lifecycle, as seen from outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// The handshake request is queued or sent; no response yet.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// Our close frame is queued; waiting for the server's.
    Closing,
    /// Done. Transmit what is pending, then close the transport.
    Closed,
}

#[derive(Clone, Copy, Debug)]
enum Phase {
    Handshake { deadline: Instant },
    Open,
    Closing { deadline: Instant },
    Closed,
}

/// The data frame being received.
#[derive(Clone, Copy, Debug)]
struct InFrame {
    kind: DataKind,
    fin: bool,
    /// Payload bytes still to come (`usize`: checked to fit when the frame
    /// started, so the per-piece arithmetic is one register on 32-bit).
    remaining: usize,
}

/// A WebSocket client connection, sans I/O.
///
/// `R` is the random source for the key and mask keys, `S` the storage of the
/// outbound queue (`[u8; N]`, `&mut [u8]`, `Vec<u8>`, ...).
///
/// ```text
///            bytes from the socket                       bytes to the socket
///   transport ────────────────────► recv(now, input) ┐   ┌► transmit() / poll_transmit(out)
///                                     │ Event         │   │
///   caller ◄──────────────────────────┘               │   │
///   caller ── send_text / send_binary / ping / close ─┴───┘  (queued whole)
///   timer  ── handle_timeout(now) ◄── poll_timeout()
/// ```
///
/// Method groups, in the order to call them:
/// - inputs: [`recv`](Self::recv), [`handle_timeout`](Self::handle_timeout),
///   [`handle_eof`](Self::handle_eof);
/// - commands: [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///   [`send_fragment`](Self::send_fragment), [`ping`](Self::ping),
///   [`close`](Self::close);
/// - outputs: [`transmit`](Self::transmit) + [`advance_transmit`](Self::advance_transmit)
///   (or [`poll_transmit`](Self::poll_transmit)), [`poll_timeout`](Self::poll_timeout),
///   [`state`](Self::state), [`is_finished`](Self::is_finished).
///
/// The caller keeps unconsumed input: [`Received::consumed`] says how much of
/// the input was used, and the rest is passed again with the next bytes. A
/// receive buffer of [`MIN_RECV_BUFFER`] bytes lets every frame make progress
/// (the handshake response needs more: see there).
#[derive(Debug)]
pub struct Connection<R, S> {
    rng: R,
    tx: TxQueue<S>,
    limits: Limits,
    phase: Phase,
    /// Where the key and the offered subprotocols sit in the request, which
    /// stays in the queue's storage until the response arrives.
    request: RequestSpans,
    frame: Option<InFrame>,
    /// The kind of the data message being received, and its length so far.
    message: Option<DataKind>,
    message_len: u64,
    rx_utf8: Utf8Validator,
    /// The kind of the fragmented message being sent, and its UTF-8 state.
    sending: Option<DataKind>,
    tx_utf8: Utf8Validator,
    /// The keepalive timer (used while open, when configured).
    keepalive: Keepalive,
    /// permessage-deflate: offer, agreement, inflater, compressor.
    ext: DeflateContext,
}

/// The keepalive timer: until `deadline`, nothing to do; at it, ping (or,
/// once `pinged`, fail).
#[derive(Clone, Copy, Debug)]
struct Keepalive {
    deadline: Instant,
    pinged: bool,
}

/// What a connection keeps of its [`Config`], compactly: on a microcontroller
/// a connection's state is counted in bytes. The handshake timeout is turned
/// into a deadline at once and needs no field.
#[derive(Clone, Copy, Debug)]
struct Limits {
    max_message_size: u64,
    close_timeout_ms: u32,
    max_response_header: u32,
    ping_interval_ms: u32,
    pong_timeout_ms: u32,
}

impl From<&Config> for Limits {
    fn from(config: &Config) -> Self {
        let saturate = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Limits {
            max_message_size: config.max_message_size,
            close_timeout_ms: saturate(config.close_timeout_ms),
            max_response_header: saturate(config.max_response_header as u64),
            ping_interval_ms: saturate(config.ping_interval_ms),
            pong_timeout_ms: saturate(config.pong_timeout_ms),
        }
    }
}

/// Offsets into the request (which is never longer than 64 KiB).
#[derive(Clone, Copy, Debug)]
struct RequestSpans {
    key_at: u16,
    protocols: (u16, u16),
    host: (u16, u16),
}

impl RequestSpans {
    /// The spans of a written request, if every offset fits in 16 bits:
    /// one check, on the largest (each span's end is at or after its start).
    fn of(request: &handshake::RequestLayout) -> Option<Self> {
        let last = request.key_at.max(request.protocols.1).max(request.host.1);
        u16::try_from(last).ok()?;
        let span = |at: usize| at as u16;
        Some(RequestSpans {
            key_at: span(request.key_at),
            protocols: (span(request.protocols.0), span(request.protocols.1)),
            host: (span(request.host.0), span(request.host.1)),
        })
    }
}

/// The smallest receive buffer with which every frame makes progress: it holds
/// the largest control frame (2 + 125 bytes) and the largest unmasked data
/// header.
///
/// The whole handshake response must also fit before it can be parsed: a bare
/// `101 Switching Protocols` is about 130 bytes and real servers add headers,
/// so give the receive buffer at least 512 bytes. A [`crate::Session`] whose
/// buffer fills up with an unfinished response fails with
/// [`crate::HandshakeError::HeaderTooLarge`].
pub const MIN_RECV_BUFFER: usize = 2 + MAX_CONTROL_PAYLOAD;

/// The RSV1 bit in [`FrameHeader::rsv`].
const RSV1: u8 = 0b100;

/// The limit on a message's bytes on the wire: its size limit, or for a
/// compressed message (whose inflated size is checked as it inflates) the
/// limit plus DEFLATE's worst-case growth, so that a stream of empty blocks
/// cannot run forever.
const fn compressed_cap(max_message_size: u64, compressed: bool) -> u64 {
    if compressed {
        max_message_size
            .saturating_add(max_message_size / 8)
            .saturating_add(1024)
    } else {
        max_message_size
    }
}

impl<R: Random, S: Buffer> Connection<R, S> {
    /// Starts a connection: queues the handshake request for `url`, with a
    /// fresh key from `rng`, into `tx_storage`.
    ///
    /// # Errors
    ///
    /// [`SendError::RequestTooLarge`] when `tx_storage` cannot hold the request
    /// or is smaller than the control reserve plus the request;
    /// [`SendError::InvalidHeader`] for a bad subprotocol or header in `opts`;
    /// [`SendError::Random`] when `rng` fails.
    // Inlined into the caller: storage by value is built once in the
    // caller's frame, not copied per call (ESP32 `open`: 6.5 -> 3.4 KiB of stack).
    #[inline(always)]
    pub fn new(
        rng: R,
        tx_storage: S,
        url: &Url<'_>,
        opts: &HandshakeOptions<'_>,
        config: Config,
        now: Instant,
    ) -> Result<Self, SendError> {
        let mut conn = Connection::idle(rng, tx_storage);
        conn.restart(url, opts, config, now)?;
        Ok(conn)
    }

    /// Writes the handshake request (a fresh key) at the front of the
    /// queue, with room for a close frame beside it.
    fn write_request(
        &mut self,
        url: &Url<'_>,
        opts: &HandshakeOptions<'_>,
    ) -> Result<RequestSpans, SendError> {
        let mut nonce = [0u8; 16];
        self.rng.fill(&mut nonce)?;
        let key = handshake::encode_key(&nonce);
        let mut offer = [0u8; 128];
        let offer = self.ext.offer_line(&mut offer);
        let tx = &mut self.tx;
        tx.clear();
        if !tx.reserve_total(CONTROL_RESERVE) {
            return Err(SendError::RequestTooLarge);
        }
        let request = tx.fill_front(|buf| {
            handshake::write_request_with(buf, url, &key, opts, offer).map(|l| (l.len, l))
        })?;
        // The request may still be pending when the response arrives; the
        // close frame must fit beside it.
        if !tx.reserve_total(request.len.saturating_add(CONTROL_RESERVE)) {
            return Err(SendError::RequestTooLarge);
        }
        RequestSpans::of(&request).ok_or(SendError::RequestTooLarge)
    }

    /// A connection over `tx_storage` that has not started (closed, nothing
    /// queued): [`restart`](Self::restart) begins a handshake in place.
    #[inline(always)]
    pub fn idle(rng: R, tx_storage: S) -> Self {
        Connection {
            rng,
            tx: TxQueue::new(tx_storage),
            limits: Limits::from(&Config::default()),
            phase: Phase::Closed,
            request: RequestSpans {
                key_at: 0,
                protocols: (0, 0),
                host: (0, 0),
            },
            frame: None,
            message: None,
            message_len: 0,
            rx_utf8: Utf8Validator::new(),
            sending: None,
            tx_utf8: Utf8Validator::new(),
            keepalive: Keepalive {
                deadline: Instant::ZERO,
                pinged: false,
            },
            ext: DeflateContext::new(None),
        }
    }

    /// Starts over in place, as [`new`](Self::new) with this connection's
    /// random source and storage: the handshake request is written into the
    /// existing queue (nothing large is built or moved) and every state of
    /// the earlier connection is dropped. On error the connection is closed.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn restart(
        &mut self,
        url: &Url<'_>,
        opts: &HandshakeOptions<'_>,
        config: Config,
        now: Instant,
    ) -> Result<(), SendError> {
        self.phase = Phase::Closed;
        self.ext.restart(config.deflate);
        self.request = match self.write_request(url, opts) {
            Ok(spans) => spans,
            Err(e) => {
                self.tx.clear();
                return Err(e);
            }
        };
        self.limits = Limits::from(&config);
        self.phase = Phase::Handshake {
            deadline: now.plus_millis(config.handshake_timeout_ms),
        };
        (self.frame, self.message, self.message_len) = (None, None, 0);
        (self.rx_utf8, self.tx_utf8) = (Utf8Validator::new(), Utf8Validator::new());
        self.sending = None;
        self.keepalive = Keepalive {
            deadline: now,
            pinged: false,
        };
        Ok(())
    }

    // ----- inputs -------------------------------------------------------

    /// Processes received bytes; returns at most one event per call.
    ///
    /// Call it in a loop while it returns an event, handing back the input
    /// from `consumed` on. Whole messages come as [`Event::Text`] /
    /// [`Event::Binary`]; messages in several frames, or whose frame is only
    /// partly in `input`, come as [`Event::Fragment`]s (join them with
    /// [`crate::Assembler`] if you want them whole).
    ///
    /// # Errors
    ///
    /// An [`Error`] ends the connection: a failed handshake, a protocol
    /// violation (whose close frame is then queued), or an expired timer.
    ///
    /// ```
    /// use ws_proto::{Connection, Config, Event, HandshakeOptions, Instant, Random, RandomError, Url};
    /// struct Counter(u8); // A test source. Use a real one: see `Random`.
    /// impl Random for Counter {
    ///     fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
    ///         for b in buf { self.0 = self.0.wrapping_add(1); *b = self.0; }
    ///         Ok(())
    ///     }
    /// }
    /// let url = Url::parse("ws://example.com/chat").unwrap();
    /// let mut conn = Connection::new(Counter(0), [0u8; 1024], &url,
    ///     &HandshakeOptions::default(), Config::default(), Instant::ZERO).unwrap();
    /// let request = conn.transmit().to_vec();
    /// conn.advance_transmit(request.len());
    /// // The server's answer, computed from the key in the request.
    /// let key = &request[request.windows(19).position(|w| w == b"Sec-WebSocket-Key: ").unwrap() + 19..][..24];
    /// let accept = ws_proto::handshake::accept_key(key);
    /// let mut input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ".to_vec();
    /// input.extend_from_slice(&accept);
    /// input.extend_from_slice(b"\r\n\r\n\x81\x05Hello");
    /// let r = conn.recv(Instant::ZERO, &input).unwrap();
    /// assert_eq!(r.event(), Some(Event::Connected { protocol: None }));
    /// let r = conn.recv(Instant::ZERO, &input[r.consumed..]).unwrap();
    /// assert_eq!(r.event(), Some(Event::Text("Hello")));
    /// ```
    #[inline]
    pub fn recv<'i>(&mut self, now: Instant, input: &'i [u8]) -> Result<Received<'i>, Error> {
        // Small whole messages skip the general decoder, and its call (the
        // register saves of a large function were a quarter of the cost).
        match self.recv_small(now, input) {
            Some((n, event)) => Ok(Received::found(n, event)),
            None => self.recv_general(now, input),
        }
    }

    /// [`recv`](Self::recv) for everything but the small common case.
    #[inline(never)]
    pub(crate) fn recv_general<'i>(
        &mut self,
        now: Instant,
        input: &'i [u8],
    ) -> Result<Received<'i>, Error> {
        self.handle_timeout(now)?;
        match self.phase {
            Phase::Handshake { .. } => {
                let r = self.recv_handshake(input)?;
                if let Phase::Open = self.phase {
                    self.handle_activity(now);
                }
                Ok(r)
            }
            Phase::Open | Phase::Closing { .. } => self.recv_frames(input),
            Phase::Closed => Ok(Received::need(input.len(), Progress::NeedInput)),
        }
    }

    /// The common case without the general decoder: open, between messages,
    /// no timer due, and `input` starts with a whole unfragmented text or
    /// binary frame of under 126 bytes (RSV bits clear, unmasked) that is
    /// valid. `None` hands everything else, failures included, to the
    /// general path, which decides the same way for these frames.
    #[inline(always)]
    pub(crate) fn recv_small<'i>(
        &mut self,
        now: Instant,
        input: &'i [u8],
    ) -> Option<(usize, Event<'i>)> {
        if !matches!(self.phase, Phase::Open)
            || self.frame.is_some()
            || self.message.is_some()
            || self.keepalive_due(now)
        {
            return None;
        }
        let ([b0, b1], rest) = input.split_first_chunk::<2>()?;
        if *b1 >= 126 || u64::from(*b1) > self.limits.max_message_size {
            return None;
        }
        let payload = rest.get(..usize::from(*b1))?;
        let event = match *b0 {
            0x81 => Event::Text(crate::utf8::validate(payload).ok()?),
            0x82 => Event::Binary(payload),
            _ => return None,
        };
        Some((2 + payload.len(), event))
    }

    /// Open and between messages: the next data frame starts a message
    /// (what the session checks before it holds back an incomplete frame).
    pub(crate) fn between_messages(&self) -> bool {
        matches!(self.phase, Phase::Open) && self.frame.is_none() && self.message.is_none()
    }

    /// Checks the timers against `now`.
    ///
    /// # Errors
    ///
    /// [`Error::HandshakeTimeout`] or [`Error::CloseTimeout`] when one expired;
    /// the connection is then closed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        match self.phase {
            Phase::Handshake { deadline } if now >= deadline => {
                self.phase = Phase::Closed;
                self.tx.clear();
                Err(Error::HandshakeTimeout)
            }
            Phase::Closing { deadline } if now >= deadline => {
                self.phase = Phase::Closed;
                Err(Error::CloseTimeout)
            }
            Phase::Open if self.keepalive_due(now) => self.keepalive_expired(now),
            _ => Ok(()),
        }
    }

    /// Changes the keepalive of this connection (see
    /// [`Config::ping_interval_ms`] and [`Config::pong_timeout_ms`]; 0 turns
    /// each off). The timer starts over at `now`.
    pub fn set_keepalive(&mut self, ping_interval_ms: u64, pong_timeout_ms: u64, now: Instant) {
        let saturate = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        self.limits.ping_interval_ms = saturate(ping_interval_ms);
        self.limits.pong_timeout_ms = saturate(pong_timeout_ms);
        self.handle_activity(now);
    }

    /// Bytes arrived from the server at `now` (whatever they hold): the link
    /// is alive, so the keepalive timer starts over.
    pub fn handle_activity(&mut self, now: Instant) {
        let interval = u64::from(self.limits.ping_interval_ms);
        self.keepalive = Keepalive {
            deadline: now.plus_millis(interval),
            pinged: false,
        };
    }

    fn keepalive_due(&self, now: Instant) -> bool {
        self.keepalive_deadline().is_some_and(|d| now >= d)
    }

    /// When the keepalive timer fires next, if it is on.
    fn keepalive_deadline(&self) -> Option<Instant> {
        let ka = self.keepalive;
        let on =
            self.limits.ping_interval_ms > 0 && !(ka.pinged && self.limits.pong_timeout_ms == 0);
        on.then_some(ka.deadline)
    }

    /// Silence for the ping interval: ping. Silence for the pong timeout
    /// after that: fail with 1011, the peer is presumed gone.
    fn keepalive_expired(&mut self, now: Instant) -> Result<(), Error> {
        if self.keepalive.pinged {
            self.close_and_stop(close::INTERNAL_ERROR);
            return Err(Error::KeepaliveTimeout);
        }
        // Best effort: the ping rides in the control reserve; if even that
        // is taken, the silence is timed all the same.
        let mut payload = [0u8; 4];
        if self.rng.fill(&mut payload).is_ok() {
            let _ = self.queue(Class::Pong, OpCode::Ping, true, &payload);
        }
        let timeout = u64::from(self.limits.pong_timeout_ms);
        self.keepalive = Keepalive {
            deadline: now.plus_millis(timeout),
            pinged: true,
        };
        Ok(())
    }

    /// The transport reached end of stream; `unconsumed` is how many received
    /// bytes were never consumed.
    ///
    /// # Errors
    ///
    /// [`Error::UnexpectedEof`] unless the close handshake had completed.
    pub fn handle_eof(&mut self, unconsumed: usize) -> Result<(), Error> {
        if let Phase::Closed = self.phase {
            return Ok(());
        }
        let mid_frame = unconsumed > 0 || self.frame.is_some() || self.message.is_some();
        self.phase = Phase::Closed;
        Err(Error::UnexpectedEof { mid_frame })
    }

    fn recv_handshake<'i>(&mut self, input: &'i [u8]) -> Result<Received<'i>, Error> {
        let storage = self.tx.storage();
        let key_at = usize::from(self.request.key_at);
        let (from, to) = self.request.protocols;
        let key = &storage[key_at..key_at + KEY_LEN];
        let offered = &storage[usize::from(from)..usize::from(to)];
        let max_header = self.limits.max_response_header as usize;
        let offer = self.ext.offer();
        match handshake::parse_response_with(input, key, offered, max_header, offer) {
            Ok(None) => Ok(Received::need(0, Progress::NeedInput)),
            Ok(Some(resp)) => {
                self.phase = Phase::Open;
                self.ext.agree(resp.deflate);
                let event = Event::Connected {
                    protocol: resp.protocol,
                };
                Ok(Received::found(resp.header_len, event))
            }
            Err(e) => {
                self.phase = Phase::Closed;
                self.tx.clear();
                Err(Error::Handshake(e))
            }
        }
    }

    fn recv_frames<'i>(&mut self, input: &'i [u8]) -> Result<Received<'i>, Error> {
        let mut pos = 0;
        loop {
            let step = match self.frame {
                Some(frame) => self.recv_payload(frame, input, pos)?,
                None => self.recv_header(input, pos)?,
            };
            match step {
                Step::Done(r) => return Ok(r),
                Step::Next(at) => pos = at,
            }
        }
    }

    /// The next piece of the data frame being received, from `input[pos..]`.
    fn recv_payload<'i>(
        &mut self,
        frame: InFrame,
        input: &'i [u8],
        pos: usize,
    ) -> Result<Step<'i>, Fault> {
        if self.ext.rx_compressed() {
            return self.recv_inflate(frame, input, pos);
        }
        let n = frame.remaining.min(input.len() - pos);
        if n == 0 && frame.remaining > 0 {
            return Ok(Step::Done(Received::need(pos, Progress::NeedInput)));
        }
        let data = &input[pos..pos + n];
        let remaining = frame.remaining - n;
        let fin = remaining == 0 && frame.fin;
        self.frame = (remaining > 0).then_some(InFrame { remaining, ..frame });
        if frame.kind == DataKind::Text
            && (self.rx_utf8.feed(data).is_err() || (fin && !self.rx_utf8.is_complete()))
        {
            return Err(self.fail(ProtocolError::InvalidUtf8));
        }
        if fin {
            self.end_message();
        }
        if n == 0 && !fin {
            // An empty frame that does not end the message: read on.
            return Ok(Step::Next(pos));
        }
        let event = Event::Fragment {
            kind: frame.kind,
            data,
            fin,
        };
        Ok(Step::Done(Received::found(pos + n, event)))
    }

    /// A frame header at `input[pos..]`: a control frame is handled whole, a
    /// data frame starts (and comes whole when it is all in `input`).
    fn recv_header<'i>(&mut self, input: &'i [u8], pos: usize) -> Result<Step<'i>, Fault> {
        let rest = &input[pos..];
        let parsed = FrameHeader::parse(rest).map_err(|e| self.fail(e))?;
        let Some((header, header_len)) = parsed else {
            return Ok(Step::Done(Received::need(pos, Progress::NeedInput)));
        };
        // RSV1 marks a compressed message (RFC 7692 section 6): only when
        // negotiated, only on its first frame.
        let rsv1_ok = header.rsv == RSV1
            && self.ext.rsv1_allowed()
            && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if header.rsv != 0 && !rsv1_ok {
            return Err(self.fail(ProtocolError::ReservedBits));
        }
        if header.mask.is_some() {
            return Err(self.fail(ProtocolError::MaskedFrame));
        }
        if header.opcode.is_control() {
            // At most 125 bytes: wait until the whole frame is here.
            let total = header_len + header.payload_len as usize;
            let Some(payload) = rest.get(header_len..total) else {
                return Ok(Step::Done(Received::need(pos, Progress::NeedInput)));
            };
            let received = match self.control(header.opcode, payload)? {
                Some(event) => Received::found(pos + total, event),
                None => Received::need(pos, Progress::NeedTransmit),
            };
            return Ok(Step::Done(received));
        }
        self.start_data(&header, input, pos + header_len)
    }

    /// A data frame whose payload starts at `input[pos..]`.
    fn start_data<'i>(
        &mut self,
        header: &FrameHeader,
        input: &'i [u8],
        pos: usize,
    ) -> Result<Step<'i>, Fault> {
        let kind = match (header.opcode, self.message) {
            (OpCode::Continuation, Some(kind)) => kind,
            (OpCode::Continuation, None) => {
                return Err(self.fail(ProtocolError::UnexpectedContinuation))
            }
            (_, Some(_)) => return Err(self.fail(ProtocolError::ExpectedContinuation)),
            (OpCode::Text, None) => DataKind::Text,
            (_, None) => DataKind::Binary,
        };
        let total_len = self.message_len.saturating_add(header.payload_len);
        let compressed = match self.message {
            None => header.rsv == RSV1,
            Some(_) => self.ext.rx_compressed(),
        };
        // A frame within the limit is counted in `usize` from here on; on a
        // 32-bit target a single frame over 4 GiB is refused as too big.
        let len = usize::try_from(header.payload_len).ok();
        let Some(len) =
            len.filter(|_| total_len <= compressed_cap(self.limits.max_message_size, compressed))
        else {
            return Err(self.fail(ProtocolError::MessageTooBig));
        };
        // Fast path: a whole single-frame message already in the input.
        let whole = input
            .get(pos..)
            .and_then(|rest| rest.get(..len))
            .filter(|_| header.fin && self.message.is_none() && !compressed);
        if let Some(payload) = whole {
            let event = match kind {
                DataKind::Binary => Event::Binary(payload),
                DataKind::Text => match crate::utf8::validate(payload) {
                    Ok(text) => Event::Text(text),
                    Err(_) => return Err(self.fail(ProtocolError::InvalidUtf8)),
                },
            };
            return Ok(Step::Done(Received::found(pos + payload.len(), event)));
        }
        if self.message.is_none() {
            self.ext.start_message(compressed);
        }
        self.message = Some(kind);
        self.message_len = total_len;
        self.frame = Some(InFrame {
            kind,
            fin: header.fin,
            remaining: len,
        });
        Ok(Step::Next(pos))
    }

    /// Handles a whole control frame. `Ok(None)` means a pong does not fit the
    /// outbound queue yet: the ping stays unconsumed.
    fn control<'i>(
        &mut self,
        opcode: OpCode,
        payload: &'i [u8],
    ) -> Result<Option<Event<'i>>, Fault> {
        match opcode {
            OpCode::Ping => {
                if let Phase::Open = self.phase {
                    if !self.tx.has_room(Class::Pong, payload.len()) {
                        return Ok(None);
                    }
                    // has_room said yes, so only the random source can fail.
                    if let Err(SendError::Random(_)) =
                        self.queue(Class::Pong, OpCode::Pong, true, payload)
                    {
                        return Err(self.fail_silently());
                    }
                }
                Ok(Some(Event::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Event::Pong(payload))),
            _ => {
                let frame = CloseFrame::parse(payload).map_err(|e| self.fail(e))?;
                if let Phase::Open = self.phase {
                    // Echo the code (RFC 6455 section 5.5.1); an empty close is
                    // answered with an empty close.
                    let code = frame.code.map(u16::to_be_bytes);
                    let echo: &[u8] = code.as_ref().map_or(&[], |c| c);
                    let _ = self.queue(Class::Close, OpCode::Close, true, echo);
                }
                self.phase = Phase::Closed;
                self.frame = None;
                self.message = None;
                self.ext.end_message(false);
                Ok(Some(Event::Closed(frame)))
            }
        }
    }

    fn end_message(&mut self) {
        self.message = None;
        self.message_len = 0;
        self.rx_utf8.reset();
        self.ext.end_message(true);
    }

    /// The next piece of a compressed message's frame, from `input[pos..]`:
    /// inflated, checked against the size limit as it grows, and handed out
    /// as [`Event::Inflated`] when it gives output. At the message's end the
    /// `00 00 ff ff` tail is inflated too.
    fn recv_inflate<'i>(
        &mut self,
        frame: InFrame,
        input: &'i [u8],
        pos: usize,
    ) -> Result<Step<'i>, Fault> {
        let n = frame.remaining.min(input.len() - pos);
        if n == 0 && frame.remaining > 0 {
            return Ok(Step::Done(Received::need(pos, Progress::NeedInput)));
        }
        let last = frame.fin && n == frame.remaining;
        let limit = self.limits.max_message_size;
        let result = self.ext.inflate(&input[pos..pos + n], last, limit);
        let done = matches!(result, Ok((_, true)));
        // The output before a fault is checked first: the first fault in the
        // inflated stream wins, however the input was split.
        let out = self.ext.inflated();
        let produced = !out.is_empty();
        let bad_text = frame.kind == DataKind::Text
            && (self.rx_utf8.feed(out).is_err() || (done && !self.rx_utf8.is_complete()));
        if bad_text {
            return Err(self.fail(ProtocolError::InvalidUtf8));
        }
        let used = match result {
            Ok((used, _)) => used,
            Err(e) => return Err(self.fail(e)),
        };
        let remaining = frame.remaining - used;
        // The frame stays current while its payload lasts, and at the
        // message's end until the tail is inflated.
        let current = remaining > 0 || (frame.fin && !done);
        self.frame = current.then_some(InFrame { remaining, ..frame });
        if done {
            self.end_message();
        }
        if produced || done {
            let event = Event::Inflated {
                kind: frame.kind,
                fin: done,
            };
            return Ok(Step::Done(Received::found(pos + used, event)));
        }
        Ok(Step::Next(pos + used))
    }

    /// Fails the connection: queues a close frame with the error's code
    /// (unless ours was already sent) and closes.
    fn fail(&mut self, e: ProtocolError) -> Fault {
        self.close_and_stop(e.close_code());
        Fault::Protocol(e)
    }

    /// Queues a close frame with `code` (unless ours was already sent) and
    /// closes.
    fn close_and_stop(&mut self, code: u16) {
        if let Phase::Open = self.phase {
            let _ = self.queue(Class::Close, OpCode::Close, true, &code.to_be_bytes());
        }
        self.phase = Phase::Closed;
        self.frame = None;
        self.message = None;
        self.ext.end_message(false);
    }

    /// Closes without a close frame (the random source failed).
    fn fail_silently(&mut self) -> Fault {
        self.phase = Phase::Closed;
        Fault::Random
    }

    /// Queues one frame, masked with a fresh key (drawn first, so a refused
    /// frame used one too). One call for every frame queued: each caller
    /// drawing its key was about 20 bytes of code per caller on the ESP32.
    /// On 64-bit targets it is inlined into each caller, with the queue's
    /// `push_frame` (the std Client's send 16 B: 162 -> 138 instructions).
    #[cfg_attr(target_pointer_width = "64", inline(always))]
    fn queue(
        &mut self,
        class: Class,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let key = self.mask_key()?;
        self.tx.push_frame(class, opcode, fin, payload, key)
    }

    fn mask_key(&mut self) -> Result<[u8; 4], SendError> {
        let mut key = [0u8; 4];
        self.rng.fill(&mut key)?;
        Ok(key)
    }

    // ----- commands -----------------------------------------------------

    fn check_open(&self) -> Result<(), SendError> {
        match self.phase {
            Phase::Open => Ok(()),
            Phase::Handshake { .. } => Err(SendError::NotOpen),
            Phase::Closing { .. } | Phase::Closed => Err(SendError::Closed),
        }
    }

    /// Queues a whole text message as one frame.
    ///
    /// # Errors
    ///
    /// [`SendError::Backpressure`] when the queue has no room now (retry after
    /// transmitting), [`SendError::TooLarge`] when it never will,
    /// [`SendError::NotOpen`] / [`SendError::Closed`] outside the open state,
    /// [`SendError::FragmentInProgress`] during a fragmented send.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_whole(OpCode::Text, text.as_bytes())
    }

    /// Queues a whole binary message as one frame.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_whole(OpCode::Binary, data)
    }

    fn send_whole(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        #[cfg(all(feature = "deflate", feature = "alloc"))]
        if self.ext.compresses(data.len())
            && self
                .tx
                .has_room(Class::Data, crate::deflate::compress::bound(data.len()))
        {
            return self.send_compressed(opcode, data);
        }
        self.queue(Class::Data, opcode, true, data)
    }

    /// Queues a whole message compressed, with RSV1 set; uncompressed if
    /// miniz_oxide fails. A refused frame leaves the compressor starting
    /// over, as the server never saw the message.
    #[cfg(all(feature = "deflate", feature = "alloc"))]
    fn send_compressed(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        let key = self.mask_key()?;
        let Some(payload) = self.ext.compress(data) else {
            return self.tx.push_frame(Class::Data, opcode, true, data, key);
        };
        match self.tx.push_frame(Class::Data, opcode, true, payload, key) {
            Ok(()) => {
                self.tx.set_rsv1_last();
                Ok(())
            }
            Err(e) => {
                self.ext.forget();
                Err(e)
            }
        }
    }

    /// Queues one fragment of a message; `fin` ends it. The first fragment
    /// sets the kind; the next ones must repeat it. Text fragments may split a
    /// code point, but together must be valid UTF-8.
    ///
    /// # Errors
    ///
    /// As [`send_text`](Self::send_text), plus [`SendError::FragmentKind`] for
    /// a kind other than the message's, and [`SendError::InvalidUtf8`] for text
    /// that is not UTF-8. A refused fragment changes nothing.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = match self.sending {
            Some(k) if k != kind => return Err(SendError::FragmentKind),
            Some(_) => OpCode::Continuation,
            None => kind.opcode(),
        };
        let mut utf8 = if self.sending.is_some() {
            self.tx_utf8
        } else {
            Utf8Validator::new()
        };
        if kind == DataKind::Text && (utf8.feed(data).is_err() || (fin && !utf8.is_complete())) {
            return Err(SendError::InvalidUtf8);
        }
        self.queue(Class::Data, opcode, fin, data)?;
        self.tx_utf8 = utf8;
        self.sending = (!fin).then_some(kind);
        Ok(())
    }

    /// Queues a ping with `payload` (at most 125 bytes).
    ///
    /// # Errors
    ///
    /// [`SendError::ControlTooLong`], or as [`send_text`](Self::send_text).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.queue(Class::Data, OpCode::Ping, true, payload)
    }

    /// Starts the close handshake: queues a close frame with `code` and
    /// `reason`, refuses further sends, and waits (until the close timeout)
    /// for the server's close. Before the handshake completed, it abandons the
    /// connection instead. Calling it again does nothing.
    ///
    /// # Errors
    ///
    /// [`SendError::InvalidCloseCode`] for a code that may not be sent,
    /// [`SendError::ReasonTooLong`] for a reason over 123 bytes,
    /// [`SendError::Random`] if no mask key could be drawn.
    pub fn close(&mut self, now: Instant, code: u16, reason: &str) -> Result<(), SendError> {
        if !close::is_valid_code(code) {
            return Err(SendError::InvalidCloseCode);
        }
        if reason.len() > close::MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong);
        }
        match self.phase {
            Phase::Handshake { .. } => {
                self.phase = Phase::Closed;
                self.tx.clear();
            }
            Phase::Open => {
                let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
                payload[..2].copy_from_slice(&code.to_be_bytes());
                payload[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
                self.queue(
                    Class::Close,
                    OpCode::Close,
                    true,
                    &payload[..2 + reason.len()],
                )?;
                self.phase = Phase::Closing {
                    deadline: now.plus_millis(u64::from(self.limits.close_timeout_ms)),
                };
            }
            Phase::Closing { .. } | Phase::Closed => {}
        }
        Ok(())
    }

    // ----- outputs ------------------------------------------------------

    /// The bytes waiting to be written to the transport, in order.
    pub fn transmit(&self) -> &[u8] {
        self.tx.pending()
    }

    /// Marks the first `n` bytes of [`transmit`](Self::transmit) as written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n);
        // The request stays in the storage until the response is checked.
        if !matches!(self.phase, Phase::Handshake { .. }) {
            self.tx.release_idle();
        }
    }

    /// Copies as many pending bytes as fit into `out`, marks them written, and
    /// returns how many.
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> usize {
        let pending = self.tx.pending();
        let n = pending.len().min(out.len());
        out[..n].copy_from_slice(&pending[..n]);
        self.advance_transmit(n);
        n
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Handshake { deadline } | Phase::Closing { deadline } => Some(deadline),
            Phase::Open => self.keepalive_deadline(),
            Phase::Closed => None,
        }
    }

    /// The lifecycle state.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Handshake { .. } => State::Connecting,
            Phase::Open => State::Open,
            Phase::Closing { .. } => State::Closing,
            Phase::Closed => State::Closed,
        }
    }

    /// Closed with nothing left to transmit: the transport can be closed.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Closed) && self.tx.pending().is_empty()
    }

    /// The host named in the request (a name to resolve or an IP literal,
    /// without brackets or port) until the handshake ends; `None` after.
    /// The request stays in the queue's storage until then, so transports
    /// resolve the name from here instead of parsing the request again.
    pub fn request_host(&self) -> Option<&str> {
        if !matches!(self.phase, Phase::Handshake { .. }) {
            return None;
        }
        let (from, to) = self.request.host;
        let bytes = self.tx.storage().get(usize::from(from)..usize::from(to))?;
        crate::utf8::validate(bytes).ok()
    }

    /// The bytes of the last [`Event::Inflated`] (empty otherwise); valid
    /// until the next [`recv`](Self::recv).
    pub fn inflated(&self) -> &[u8] {
        self.ext.inflated()
    }

    /// The permessage-deflate parameters agreed in the handshake, if any.
    pub fn deflate(&self) -> Option<Agreed> {
        self.ext.agreed()
    }

    /// Starts the handshake again for a redirect (the driver calls it, see
    /// [`crate::redirect`]): the request still in the queue's storage is
    /// rewritten for `location` with a fresh key and queued, and the
    /// response is awaited until `deadline`.
    pub(crate) fn redirect(
        &mut self,
        location: &[u8],
        hop: crate::redirect::Hop<'_>,
        deadline: Instant,
    ) -> Result<crate::redirect::Target, crate::redirect::RedirectRefusal> {
        use crate::redirect::{self, RedirectRefusal};
        let spans = self.request;
        let host_end = usize::from(spans.host.1);
        let storage = self.tx.storage();
        let end = storage
            .get(host_end..)
            .and_then(|s| s.windows(4).position(|w| w == b"\r\n\r\n"))
            .ok_or(RedirectRefusal::TooLarge)?;
        let old = handshake::RequestLayout {
            len: host_end + end + 4,
            key_at: usize::from(spans.key_at),
            protocols: (
                usize::from(spans.protocols.0),
                usize::from(spans.protocols.1),
            ),
            host: (usize::from(spans.host.0), host_end),
        };
        // Grows the storage to the most a rewrite can need, if it can; a
        // fixed one may still be enough (else the rewrite says TooLarge).
        let _ = self.tx.reserve_total(redirect::room(old.len, location));
        let (new, target) = redirect::rewrite(self.tx.storage_mut(), old, location, hop)?;
        let mut nonce = [0u8; 16];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| RedirectRefusal::Random)?;
        let key_at = new.key_at;
        self.tx.storage_mut()[key_at..key_at + KEY_LEN]
            .copy_from_slice(&handshake::encode_key(&nonce));
        self.request = RequestSpans::of(&new).ok_or(RedirectRefusal::TooLarge)?;
        if !self
            .tx
            .reserve_total(new.len.saturating_add(CONTROL_RESERVE))
        {
            return Err(RedirectRefusal::TooLarge);
        }
        self.tx.set_front(new.len);
        self.phase = Phase::Handshake { deadline };
        Ok(target)
    }

    /// The largest message accepted ([`Config::max_message_size`]).
    pub fn max_message_size(&self) -> u64 {
        self.limits.max_message_size
    }

    /// Whether a data frame with this payload length fits the queue now (a
    /// [`send_text`](Self::send_text) of it would not hit backpressure).
    pub fn can_send(&self, payload_len: usize) -> bool {
        matches!(self.phase, Phase::Open) && self.tx.has_room(Class::Data, payload_len)
    }
}
