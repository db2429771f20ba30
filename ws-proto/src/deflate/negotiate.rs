//! The permessage-deflate offer and the checks on the server's answer
//! (RFC 7692 section 7.1).
//!
//! [`write_offer`] writes the `Sec-WebSocket-Extensions` value; a
//! [`Negotiation`] takes each `Sec-WebSocket-Extensions` header of the
//! response and yields the [`Agreed`] parameters. Anything the client cannot
//! honour fails the handshake with a [`DeflateError`]: an extension that was
//! not offered, a second acceptance, an unknown parameter, a parameter given
//! twice, a value where none belongs or a bad value, a window larger than
//! asked for, or a `server_*` parameter asked for and left out.

use core::fmt;

use super::DeflateConfig;

/// The parameters both sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Agreed {
    /// The server compresses each message on its own.
    pub server_no_context_takeover: bool,
    /// The client must compress each message on its own.
    pub client_no_context_takeover: bool,
    /// The server's window: 2^bits bytes (15 when not limited).
    pub server_max_window_bits: u8,
    /// The client's window: 2^bits bytes (15 when not limited).
    pub client_max_window_bits: u8,
}

/// Why the server's `Sec-WebSocket-Extensions` answer was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeflateError {
    /// An extension the client did not offer (any, when none was offered).
    NotOffered,
    /// permessage-deflate accepted twice.
    Repeated,
    /// A parameter RFC 7692 does not define.
    UnknownParameter,
    /// The same parameter twice.
    DuplicateParameter,
    /// A missing, extra or out-of-range value (window bits are 8..=15;
    /// `*_no_context_takeover` takes none).
    BadValue,
    /// A parameter the client did not allow: `client_max_window_bits` is
    /// offered by this client, so this means a window larger than offered,
    /// or a `server_max_window_bits` above the one asked for.
    NotAllowed,
    /// A `server_*` parameter the client asked for is missing: the server
    /// declined it, and the client has no other offer.
    Missing,
}

impl fmt::Display for DeflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeflateError::NotOffered => "server accepted an extension not offered",
            DeflateError::Repeated => "server accepted permessage-deflate twice",
            DeflateError::UnknownParameter => "unknown permessage-deflate parameter",
            DeflateError::DuplicateParameter => "repeated permessage-deflate parameter",
            DeflateError::BadValue => "bad permessage-deflate parameter value",
            DeflateError::NotAllowed => "permessage-deflate parameter beyond the offer",
            DeflateError::Missing => "server left out a permessage-deflate parameter asked for",
        })
    }
}

impl core::error::Error for DeflateError {}

/// The extension's name.
pub const NAME: &str = "permessage-deflate";

/// Writes the offer (the value of `Sec-WebSocket-Extensions`) into `out`;
/// returns its length, or `None` if `out` is too short (64 bytes always do).
///
/// ```
/// use ws_proto::deflate::{negotiate::write_offer, DeflateConfig};
/// let mut out = [0u8; 64];
/// let n = write_offer(&DeflateConfig::standard(), &mut out).unwrap();
/// assert_eq!(&out[..n], b"permessage-deflate; client_max_window_bits");
/// ```
pub fn write_offer(offer: &DeflateConfig, out: &mut [u8]) -> Option<usize> {
    let mut at = 0;
    let mut put = |s: &[u8]| -> Option<()> {
        out.get_mut(at..at + s.len())?.copy_from_slice(s);
        at += s.len();
        Some(())
    };
    put(NAME.as_bytes())?;
    if offer.server_no_context_takeover {
        put(b"; server_no_context_takeover")?;
    }
    if offer.client_no_context_takeover {
        put(b"; client_no_context_takeover")?;
    }
    if let Some(bits) = offer.server_max_window_bits {
        let bits = bits.clamp(8, 15);
        put(b"; server_max_window_bits=")?;
        if bits >= 10 {
            put(b"1")?;
        }
        put(&[b'0' + bits % 10])?;
    }
    put(b"; client_max_window_bits")?;
    Some(at)
}

/// Checks the response's `Sec-WebSocket-Extensions` headers against the offer.
#[derive(Clone, Copy, Debug)]
pub struct Negotiation {
    offer: Option<DeflateConfig>,
    agreed: Option<Agreed>,
}

impl Negotiation {
    /// Starts checking a response to `offer` (`None`: nothing was offered).
    pub const fn new(offer: Option<DeflateConfig>) -> Self {
        Negotiation {
            offer,
            agreed: None,
        }
    }

    /// Takes the value of one `Sec-WebSocket-Extensions` header.
    ///
    /// # Errors
    ///
    /// A [`DeflateError`] naming what the client cannot accept.
    pub fn header(&mut self, value: &[u8]) -> Result<(), DeflateError> {
        for ext in split_list(value) {
            let mut parts = ext.split(|&b| b == b';').map(<[u8]>::trim_ascii);
            let name = parts.next().unwrap_or_default();
            let Some(offer) = self
                .offer
                .filter(|_| name.eq_ignore_ascii_case(NAME.as_bytes()))
            else {
                return Err(DeflateError::NotOffered);
            };
            if self.agreed.is_some() {
                return Err(DeflateError::Repeated);
            }
            self.agreed = Some(agree(&offer, parts)?);
        }
        Ok(())
    }

    /// The agreed parameters, or `None` when the server accepted nothing.
    pub fn finish(self) -> Option<Agreed> {
        self.agreed
    }
}

/// The comma-separated items of a header value (a quoted comma would split
/// too, but no permessage-deflate value holds one).
fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
}

/// Seen parameters, one bit each (duplicates).
const SERVER_NCT: u8 = 1;
const CLIENT_NCT: u8 = 2;
const SERVER_BITS: u8 = 4;
const CLIENT_BITS: u8 = 8;

fn agree<'a>(
    offer: &DeflateConfig,
    params: impl Iterator<Item = &'a [u8]>,
) -> Result<Agreed, DeflateError> {
    let mut agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };
    let mut seen = 0u8;
    for param in params {
        let (name, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => (param[..i].trim_ascii(), Some(unquote(&param[i + 1..]))),
            None => (param, None),
        };
        let bit = param_bit(name)?;
        if seen & bit != 0 {
            return Err(DeflateError::DuplicateParameter);
        }
        seen |= bit;
        match bit {
            SERVER_NCT | CLIENT_NCT => {
                if value.is_some() {
                    return Err(DeflateError::BadValue);
                }
                if bit == SERVER_NCT {
                    agreed.server_no_context_takeover = true;
                } else {
                    agreed.client_no_context_takeover = true;
                }
            }
            SERVER_BITS => {
                let bits = window_bits(value)?;
                if offer
                    .server_max_window_bits
                    .is_some_and(|asked| bits > asked)
                {
                    return Err(DeflateError::NotAllowed);
                }
                agreed.server_max_window_bits = bits;
            }
            _ => agreed.client_max_window_bits = window_bits(value)?,
        }
    }
    let asked_nct = offer.server_no_context_takeover && !agreed.server_no_context_takeover;
    let asked_bits = offer.server_max_window_bits.is_some() && seen & SERVER_BITS == 0;
    if asked_nct || asked_bits {
        return Err(DeflateError::Missing);
    }
    Ok(agreed)
}

fn param_bit(name: &[u8]) -> Result<u8, DeflateError> {
    const NAMES: [(&[u8], u8); 4] = [
        (b"server_no_context_takeover", SERVER_NCT),
        (b"client_no_context_takeover", CLIENT_NCT),
        (b"server_max_window_bits", SERVER_BITS),
        (b"client_max_window_bits", CLIENT_BITS),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, bit)| bit)
        .ok_or(DeflateError::UnknownParameter)
}

/// A value, without the quotes of the quoted-string form.
fn unquote(v: &[u8]) -> &[u8] {
    let v = v.trim_ascii();
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

/// Window bits: 1*DIGIT between 8 and 15, no leading zero.
fn window_bits(value: Option<&[u8]>) -> Result<u8, DeflateError> {
    match value {
        Some([d @ b'8'..=b'9']) => Ok(d - b'0'),
        Some([b'1', d @ b'0'..=b'5']) => Ok(10 + d - b'0'),
        _ => Err(DeflateError::BadValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> DeflateConfig {
        DeflateConfig::standard()
    }

    fn check(
        offer: Option<DeflateConfig>,
        values: &[&str],
    ) -> Result<Option<Agreed>, DeflateError> {
        let mut n = Negotiation::new(offer);
        for v in values {
            n.header(v.as_bytes())?;
        }
        Ok(n.finish())
    }

    const DEFAULT: Agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
    };

    #[test]
    fn offers() {
        let mut out = [0u8; 128];
        let all = DeflateConfig {
            server_max_window_bits: Some(10),
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            compress_threshold: 0,
            compress_level: 3,
        };
        let n = write_offer(&all, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
              server_max_window_bits=10; client_max_window_bits"
                .as_slice()
        );
        let n = write_offer(&DeflateConfig::device(), &mut out).unwrap();
        assert_eq!(
            &out[..n],
            b"permessage-deflate; server_max_window_bits=9; client_max_window_bits".as_slice()
        );
        assert_eq!(write_offer(&all, &mut out[..40]), None);
    }

    #[test]
    fn good_answers() {
        assert_eq!(check(Some(offer()), &[]), Ok(None));
        assert_eq!(check(None, &[""]), Ok(None));
        assert_eq!(
            check(Some(offer()), &["permessage-deflate"]),
            Ok(Some(DEFAULT))
        );
        assert_eq!(
            check(
                Some(offer()),
                &["Permessage-Deflate ; client_max_window_bits=\"9\";server_no_context_takeover; \
                   CLIENT_NO_CONTEXT_TAKEOVER; server_max_window_bits = 12"]
            ),
            Ok(Some(Agreed {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 12,
                client_max_window_bits: 9,
            }))
        );
        let asked = DeflateConfig {
            server_max_window_bits: Some(10),
            server_no_context_takeover: true,
            ..offer()
        };
        let agreed = check(
            Some(asked),
            &["permessage-deflate; server_max_window_bits=8; server_no_context_takeover"],
        )
        .unwrap()
        .unwrap();
        assert_eq!(agreed.server_max_window_bits, 8);
    }

    #[test]
    fn every_bad_answer() {
        use DeflateError::*;
        let bad = |offer: Option<DeflateConfig>, values: &[&str], e: DeflateError| {
            assert_eq!(check(offer, values), Err(e), "{values:?}");
        };
        // Not offered at all, another extension, or offered once and accepted twice.
        bad(None, &["permessage-deflate"], NotOffered);
        bad(Some(offer()), &["x-webkit-deflate-frame"], NotOffered);
        bad(
            Some(offer()),
            &["permessage-deflate, permessage-deflate"],
            Repeated,
        );
        bad(
            Some(offer()),
            &["permessage-deflate", "permessage-deflate"],
            Repeated,
        );
        bad(Some(offer()), &["permessage-deflate, foo"], NotOffered);
        // Unknown and duplicate parameters.
        bad(
            Some(offer()),
            &["permessage-deflate; foo"],
            UnknownParameter,
        );
        bad(
            Some(offer()),
            &["permessage-deflate; foo=1"],
            UnknownParameter,
        );
        for p in [
            "server_no_context_takeover",
            "client_no_context_takeover",
            "server_max_window_bits=10",
            "client_max_window_bits=10",
        ] {
            bad(
                Some(offer()),
                &[&std::format!("permessage-deflate; {p}; {p}")],
                DuplicateParameter,
            );
        }
        bad(
            Some(offer()),
            &["permessage-deflate; server_max_window_bits=10; server_max_window_bits=9"],
            DuplicateParameter,
        );
        // Bad values.
        for v in [
            "server_no_context_takeover=1",
            "client_no_context_takeover=",
            "server_max_window_bits",
            "server_max_window_bits=7",
            "server_max_window_bits=16",
            "client_max_window_bits",
            "client_max_window_bits=08",
            "client_max_window_bits=abc",
            "client_max_window_bits=\"\"",
            "client_max_window_bits=-9",
        ] {
            bad(
                Some(offer()),
                &[&std::format!("permessage-deflate; {v}")],
                BadValue,
            );
        }
        // Beyond what was asked, or left out.
        let asked = DeflateConfig {
            server_max_window_bits: Some(10),
            ..offer()
        };
        bad(
            Some(asked),
            &["permessage-deflate; server_max_window_bits=11"],
            NotAllowed,
        );
        bad(Some(asked), &["permessage-deflate"], Missing);
        let nct = DeflateConfig {
            server_no_context_takeover: true,
            ..offer()
        };
        bad(Some(nct), &["permessage-deflate"], Missing);
    }
}
