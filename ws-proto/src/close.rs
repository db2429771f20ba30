//! Close status codes (RFC 6455 section 7.4) and close frame payloads.

use crate::error::ProtocolError;

/// 1000: normal closure.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away.
pub const GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1005: no status code was present (never sent on the wire).
pub const NO_STATUS: u16 = 1005;
/// 1006: the connection closed without a close frame (never sent on the wire).
pub const ABNORMAL: u16 = 1006;
/// 1007: payload data inconsistent with the message type (invalid UTF-8).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: policy violation.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1011: the server hit an unexpected condition.
pub const INTERNAL_ERROR: u16 = 1011;

/// The longest close reason: a control payload is at most 125 bytes, 2 of them
/// the code.
pub const MAX_REASON_LEN: usize = 123;

/// Whether `code` may appear in a close frame on the wire.
///
/// Allowed: 1000-1003 and 1007-1014 (the codes defined by RFC 6455 and
/// registered with IANA), and 3000-4999 (libraries, frameworks, applications).
/// 1004-1006 and 1015 are reserved and must never be sent; everything else is
/// unassigned.
pub const fn is_valid_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A received close frame's payload, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, or `None` for an empty close payload (code 1005 in
    /// APIs that need a number).
    pub code: Option<u16>,
    /// The UTF-8 reason, possibly empty.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses and validates a close frame payload (section 5.5.1).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::InvalidClosePayload`] for a 1-byte payload,
    /// [`ProtocolError::InvalidCloseCode`] for a code that may not be sent,
    /// [`ProtocolError::InvalidCloseReason`] for a reason that is not UTF-8.
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        match payload {
            [] => Ok(CloseFrame {
                code: None,
                reason: "",
            }),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !is_valid_code(code) {
                    return Err(ProtocolError::InvalidCloseCode);
                }
                let reason =
                    crate::utf8::validate(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(CloseFrame {
                    code: Some(code),
                    reason,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::prelude::rust_2021::*;

    #[test]
    fn autobahn_code_lists() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(is_valid_code(ok), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_code(bad), "{bad}");
        }
    }

    #[test]
    fn payloads() {
        assert_eq!(CloseFrame::parse(&[]).unwrap().code, None);
        assert_eq!(
            CloseFrame::parse(&[3]),
            Err(ProtocolError::InvalidClosePayload)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, b'o', b'k']).unwrap(),
            CloseFrame {
                code: Some(1000),
                reason: "ok"
            }
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed]),
            Err(ProtocolError::InvalidCloseCode)
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff]),
            Err(ProtocolError::InvalidCloseReason)
        );
    }
}
