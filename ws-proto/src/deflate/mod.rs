//! permessage-deflate (RFC 7692): the offer, the server's answer, and the
//! per-connection compression state.
//!
//! - [`negotiate`] writes the offer ([`DeflateConfig`]) into the request and
//!   checks the `Sec-WebSocket-Extensions` answer into an [`Agreed`] set of
//!   parameters, or a typed [`DeflateError`]. It needs no feature.
//! - `inflate` (feature `deflate`) inflates a compressed message piece by piece
//!   into a ring buffer of 2^window bytes, appending `00 00 ff ff` at the end of
//!   each message and counting the inflated size against the message limit
//!   while it inflates. It needs no allocator.
//! - `compress` (features `deflate` + `alloc`) compresses outbound messages
//!   (miniz_oxide's compressor keeps its tables on the heap).
//!
//! Memory per connection: with `alloc`, nothing until the server agreed;
//! without it, the inflater sits in the connection whenever the feature is on,
//! with a fixed 512-byte ring (so a build without `alloc` always asks for
//! `server_max_window_bits=9`). The inflater is miniz_oxide's
//! `DecompressorOxide` ([`INFLATER_STATE_BYTES`], 10,544 bytes on x86_64)
//! plus a ring of 2^`server_max_window_bits`
//! bytes: about 42 KiB with the default 32 KiB window. The compressor,
//! allocated at the first compressed send, holds about 310 KiB (miniz_oxide's
//! hash chains, code and output buffers) plus a scratch buffer of the largest
//! compressed message.
//!
//! The device profile ([`DeflateConfig::device`]) asks for a 512-byte server
//! window and never compresses: the connection then needs
//! [`INFLATER_STATE_BYTES`] + 512 bytes (about 10.8 KiB) more, and no
//! compressor.

pub mod negotiate;

#[cfg(feature = "deflate")]
pub(crate) mod context;
#[cfg(feature = "deflate")]
pub mod inflate;

#[cfg(all(feature = "deflate", feature = "alloc"))]
pub(crate) mod compress;

#[cfg(not(feature = "deflate"))]
pub(crate) mod context_off;
#[cfg(not(feature = "deflate"))]
pub(crate) use context_off as context;

pub use negotiate::{Agreed, DeflateError};

/// The bytes of miniz_oxide's inflate state (without the window ring).
#[cfg(feature = "deflate")]
pub const INFLATER_STATE_BYTES: usize = size_of::<inflate::Inflater<[u8; 0]>>();

/// The bytes of miniz_oxide's inflate state (without the window ring); 0
/// without the `deflate` feature.
#[cfg(not(feature = "deflate"))]
pub const INFLATER_STATE_BYTES: usize = 0;

/// The bytes a [`crate::Connection`] spends on permessage-deflate state: 0
/// without the feature, one pointer with `alloc` (the rest is on the heap
/// while an offer is configured), the inflater in place without `alloc`.
pub const CONNECTION_BYTES: usize = size_of::<context::Context>();

/// The largest server window a build without `alloc` can inflate: 2^9 bytes.
pub const STATIC_WINDOW_BITS: u8 = 9;

/// What the client offers for permessage-deflate (RFC 7692), in
/// [`crate::Config::deflate`]. The offer is one `permessage-deflate` line
/// with `client_max_window_bits` (the client can always compress with a
/// smaller window, or not at all) and the `server_*` parameters asked for.
///
/// Needs the `deflate` feature; without it nothing is offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeflateConfig {
    /// Ask the server to use at most 2^bits bytes of window (8..=15;
    /// `server_max_window_bits`). `None` asks nothing (the server may use
    /// 32 KiB). A build without `alloc` asks for at most 9.
    pub server_max_window_bits: Option<u8>,
    /// Ask the server to compress each message on its own
    /// (`server_no_context_takeover`).
    pub server_no_context_takeover: bool,
    /// Compress each outbound message on its own
    /// (`client_no_context_takeover` in the offer).
    pub client_no_context_takeover: bool,
    /// Outbound messages shorter than this go uncompressed (RFC 7692 allows
    /// it per message); `usize::MAX` never compresses. Compression needs the
    /// `alloc` feature; without it every message goes uncompressed.
    pub compress_threshold: usize,
    /// The compression level, 1 (fastest) to 9 (smallest); 0 is taken as 1.
    /// The default, 3, compresses text about 5 times faster than 6 (zlib's
    /// default) with miniz_oxide, for about 6% more bytes.
    pub compress_level: u8,
}

impl DeflateConfig {
    /// What Python websockets offers (`permessage-deflate;
    /// client_max_window_bits`), compressing messages of 64 bytes or more.
    pub const fn standard() -> Self {
        DeflateConfig {
            server_max_window_bits: None,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            compress_threshold: 64,
            compress_level: 3,
        }
    }

    /// The device profile: a 512-byte server window, nothing compressed.
    pub const fn device() -> Self {
        DeflateConfig {
            server_max_window_bits: Some(STATIC_WINDOW_BITS),
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            compress_threshold: usize::MAX,
            compress_level: 3,
        }
    }

    /// The offer as this build makes it: without `alloc` the server window is
    /// capped to [`STATIC_WINDOW_BITS`] and nothing is compressed. Window bits
    /// outside 8..=15 are clamped into it.
    pub fn effective(self) -> Self {
        let bits = self.server_max_window_bits.map(|b| b.clamp(8, 15));
        if cfg!(feature = "alloc") {
            return DeflateConfig {
                server_max_window_bits: bits,
                ..self
            };
        }
        DeflateConfig {
            server_max_window_bits: Some(
                bits.map_or(STATIC_WINDOW_BITS, |b| b.min(STATIC_WINDOW_BITS)),
            ),
            compress_threshold: usize::MAX,
            ..self
        }
    }
}

impl Default for DeflateConfig {
    /// [`DeflateConfig::standard`].
    fn default() -> Self {
        Self::standard()
    }
}
