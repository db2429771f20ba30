//! Why a TLS layer failed: [`TlsReason`], carried by
//! [`crate::LinkError::Tls`].
//!
//! The core has no TLS (it is a layer between a transport's socket and the
//! driver's bytes), but every transport that has one names its failures the
//! same small way, so callers can tell an untrusted certificate from a
//! wrong name or an expired one without depending on the TLS library.

use core::fmt;

/// Why the TLS layer under a connection failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsReason {
    /// The server's certificate chain does not lead to a trusted root.
    UnknownIssuer,
    /// The certificate is valid but not for the host name (or IP address)
    /// the URL names.
    NameMismatch,
    /// The certificate (or one in its chain) has expired.
    Expired,
    /// The certificate (or one in its chain) is not valid yet.
    NotYetValid,
    /// The certificate was revoked.
    Revoked,
    /// Any other problem with the server's certificate (bad encoding, bad
    /// signature, wrong usage, ...).
    BadCertificate,
    /// The server sent a fatal alert (the TLS alert description code, RFC
    /// 8446 section 6), e.g. during the handshake or mid-stream.
    Alert(u8),
    /// The server broke the TLS protocol (a record that does not decrypt,
    /// an unexpected message, no common version or cipher suite).
    PeerMisbehaved,
    /// Another failure of the TLS layer on this side.
    Other,
}

impl fmt::Display for TlsReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsReason::UnknownIssuer => f.write_str("certificate issuer not trusted"),
            TlsReason::NameMismatch => f.write_str("certificate not valid for this host"),
            TlsReason::Expired => f.write_str("certificate expired"),
            TlsReason::NotYetValid => f.write_str("certificate not valid yet"),
            TlsReason::Revoked => f.write_str("certificate revoked"),
            TlsReason::BadCertificate => f.write_str("bad certificate"),
            TlsReason::Alert(code) => write!(f, "alert {code} from the server"),
            TlsReason::PeerMisbehaved => f.write_str("server broke the TLS protocol"),
            TlsReason::Other => f.write_str("TLS failure"),
        }
    }
}
