//! The permessage-deflate state of one connection: the offer made, what the
//! server agreed to, the inflater of the message being received, and the
//! compressor (with `alloc`). [`crate::Connection`] calls it at a few hooks.

#[cfg(feature = "alloc")]
use alloc::{boxed::Box, vec, vec::Vec};

use super::inflate::{InflateError, Inflater};
use super::negotiate::{write_offer, Agreed};
use super::DeflateConfig;
use crate::error::ProtocolError;

/// The inflater as a connection holds it: on the heap with `alloc`, else in
/// place with a ring of 2^[`super::STATIC_WINDOW_BITS`] bytes.
#[cfg(feature = "alloc")]
type Held = Box<Inflater<Vec<u8>>>;
#[cfg(not(feature = "alloc"))]
type Held = Inflater<[u8; 1 << super::STATIC_WINDOW_BITS]>;

/// One connection's permessage-deflate state, when an offer is configured:
/// on the heap with `alloc` (a connection that offers nothing pays one
/// pointer), in place without it.
#[derive(Debug)]
pub(crate) struct Context(Option<Holder<State>>);

#[cfg(feature = "alloc")]
type Holder<T> = Box<T>;
#[cfg(not(feature = "alloc"))]
type Holder<T> = T;

impl Context {
    pub(crate) fn new(offer: Option<DeflateConfig>) -> Self {
        #[cfg(feature = "alloc")]
        let state = offer.map(|o| Box::new(State::new(o)));
        #[cfg(not(feature = "alloc"))]
        let state = offer.map(State::new);
        Context(state)
    }

    /// Starts over for a new connection with `offer` (in place: an old
    /// state's storage is reused, its inflater and compressor dropped).
    pub(crate) fn restart(&mut self, offer: Option<DeflateConfig>) {
        match (offer, self.get_mut()) {
            (Some(o), Some(s)) => s.restart(o),
            (offer, _) => *self = Context::new(offer),
        }
    }

    fn get(&self) -> Option<&State> {
        #[cfg(feature = "alloc")]
        return self.0.as_deref();
        #[cfg(not(feature = "alloc"))]
        return self.0.as_ref();
    }

    fn get_mut(&mut self) -> Option<&mut State> {
        #[cfg(feature = "alloc")]
        return self.0.as_deref_mut();
        #[cfg(not(feature = "alloc"))]
        return self.0.as_mut();
    }

    /// The offer as made (see [`DeflateConfig::effective`]).
    pub(crate) fn offer(&self) -> Option<DeflateConfig> {
        self.get().map(|s| s.offer)
    }

    /// Writes the `Sec-WebSocket-Extensions` value into `buf`, if offering.
    pub(crate) fn offer_line<'b>(&self, buf: &'b mut [u8; 128]) -> Option<&'b [u8]> {
        let n = write_offer(&self.get()?.offer, buf)?;
        buf.get(..n)
    }

    /// The server's answer was checked: `agreed` turns compression on.
    pub(crate) fn agree(&mut self, agreed: Option<Agreed>) {
        if let Some(s) = self.get_mut() {
            s.agree(agreed);
        }
    }

    /// The agreed parameters, once the handshake completed with them.
    pub(crate) fn agreed(&self) -> Option<Agreed> {
        self.get()?.agreed
    }

    /// RSV1 may start a message.
    pub(crate) fn rsv1_allowed(&self) -> bool {
        self.agreed().is_some()
    }

    /// A data message starts; `compressed` is its RSV1.
    pub(crate) fn start_message(&mut self, compressed: bool) {
        if let Some(s) = self.get_mut() {
            s.rx = compressed;
        }
    }

    /// The message being received is compressed.
    pub(crate) fn rx_compressed(&self) -> bool {
        self.get().is_some_and(|s| s.rx)
    }

    /// Inflates a piece of the compressed message (see [`Inflater::step`]):
    /// returns the input used and whether the message is complete; the
    /// output is [`inflated`](Self::inflated).
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        limit: u64,
    ) -> Result<(usize, bool), ProtocolError> {
        let s = self.get_mut().ok_or(ProtocolError::ReservedBits)?;
        s.inflate(input, last, limit)
    }

    /// The output of the last [`inflate`](Self::inflate).
    pub(crate) fn inflated(&self) -> &[u8] {
        self.get().map_or(&[], State::inflated)
    }

    /// The message ended (or was abandoned: `completed` false).
    pub(crate) fn end_message(&mut self, completed: bool) {
        if let Some(s) = self.get_mut() {
            s.end_message(completed);
        }
    }

    /// Whether an outbound message of `len` bytes is compressed.
    #[cfg(feature = "alloc")]
    pub(crate) fn compresses(&self, len: usize) -> bool {
        self.get().is_some_and(|s| s.compresses(len))
    }

    /// Compresses an outbound message (`None`: miniz_oxide failed; send it
    /// uncompressed).
    #[cfg(feature = "alloc")]
    pub(crate) fn compress(&mut self, data: &[u8]) -> Option<&[u8]> {
        self.get_mut()?.compress(data)
    }

    /// The message last compressed was not sent.
    #[cfg(feature = "alloc")]
    pub(crate) fn forget(&mut self) {
        if let Some(s) = self.get_mut() {
            s.tx.forget();
        }
    }
}

/// The state behind a [`Context`] that offers.
#[derive(Debug)]
struct State {
    offer: DeflateConfig,
    agreed: Option<Agreed>,
    inflater: Option<Held>,
    /// The message being received is compressed.
    rx: bool,
    #[cfg(feature = "alloc")]
    tx: super::compress::Compressor,
}

impl State {
    fn new(offer: DeflateConfig) -> Self {
        State {
            offer: offer.effective(),
            agreed: None,
            inflater: None,
            rx: false,
            #[cfg(feature = "alloc")]
            tx: super::compress::Compressor::default(),
        }
    }

    fn restart(&mut self, offer: DeflateConfig) {
        self.offer = offer.effective();
        self.agreed = None;
        self.inflater = None;
        self.rx = false;
        #[cfg(feature = "alloc")]
        {
            self.tx = super::compress::Compressor::default();
        }
    }

    fn agree(&mut self, agreed: Option<Agreed>) {
        self.agreed = agreed;
        let Some(a) = agreed else { return };
        #[cfg(feature = "alloc")]
        {
            let ring = vec![0u8; 1 << a.server_max_window_bits.max(9)];
            self.inflater = Some(Box::new(Inflater::new(ring)));
        }
        #[cfg(not(feature = "alloc"))]
        {
            let _ = a;
            self.inflater = Some(Inflater::new([0u8; 1 << super::STATIC_WINDOW_BITS]));
        }
    }

    fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        limit: u64,
    ) -> Result<(usize, bool), ProtocolError> {
        let inf = self.inflater.as_mut().ok_or(ProtocolError::ReservedBits)?;
        match inf.step(input, last, limit) {
            Ok(s) => Ok((s.consumed, s.done)),
            Err(InflateError::TooBig) => Err(ProtocolError::MessageTooBig),
            Err(InflateError::Invalid) => Err(ProtocolError::InvalidCompressedData),
        }
    }

    fn inflated(&self) -> &[u8] {
        self.inflater.as_ref().map_or(&[], |i| i.output())
    }

    fn end_message(&mut self, completed: bool) {
        let keep = completed && !self.agreed.is_some_and(|a| a.server_no_context_takeover);
        if let (true, Some(inf)) = (core::mem::take(&mut self.rx), self.inflater.as_mut()) {
            inf.end_message(keep);
        }
    }

    #[cfg(feature = "alloc")]
    fn compresses(&self, len: usize) -> bool {
        let Some(a) = self.agreed else {
            return false;
        };
        // miniz_oxide always uses a 32 KiB window: below that, only a message
        // compressed on its own and no longer than the window stays within it.
        let fits = a.client_max_window_bits >= 15
            || (self.fresh_context() && len <= 1 << a.client_max_window_bits);
        len >= self.offer.compress_threshold && fits
    }

    #[cfg(feature = "alloc")]
    fn fresh_context(&self) -> bool {
        self.offer.client_no_context_takeover
            || self.agreed.is_some_and(|a| a.client_no_context_takeover)
    }

    #[cfg(feature = "alloc")]
    fn compress(&mut self, data: &[u8]) -> Option<&[u8]> {
        let fresh = self.fresh_context();
        self.tx.compress(data, self.offer.compress_level, fresh)
    }
}
