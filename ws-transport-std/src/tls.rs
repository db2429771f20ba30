//! TLS for `wss://`: a `rustls` client connection between a connection's
//! socket and the driver's bytes.
//!
//! The driver decides nothing here and knows nothing of TLS beyond the
//! server name it gives for each `wss://` connection
//! ([`ws_proto::Driver::tls_server_name`]). This file owns the trust roots
//! ([`TlsConfig`]), and how the executor's `Read` and `Write` go through
//! rustls:
//!
//! ```text
//!   Read  ─► plaintext buffered in rustls? ─► copy it out
//!            else read_tls(socket) ─► process_new_packets ─► (flush what TLS wants to write)
//!   Write ─► flush earlier TLS records first (WouldBlock until they left)
//!            writer().write(bytes) ─► write_tls(socket)
//! ```
//!
//! A failure of the TLS layer becomes `LinkError::Tls { reason }` (a small
//! `Copy` enum: unknown issuer, name mismatch, expired, an alert, ...),
//! reported after the plaintext already decrypted, like a reset.

use std::fmt;

#[cfg(all(feature = "tls", not(target_os = "espidf")))]
pub(crate) use with_rustls::{client_config, Shared, TlsLink};
#[cfg(not(all(feature = "tls", not(target_os = "espidf"))))]
pub(crate) use without::{client_config, Shared, TlsLink};

/// Where a client's `wss://` connections get the roots they trust. The
/// sources add up; the default trusts Mozilla's roots (`webpki-roots`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// Trust the Mozilla root program's roots, built in (default `true`).
    pub webpki_roots: bool,
    /// Trust the operating system's store, read by `rustls-native-certs`
    /// when the client is made (default `false`).
    pub native_roots: bool,
    /// More roots, as PEM text with one or more `CERTIFICATE` blocks (e.g.
    /// a private CA), checked when the client is made (default none).
    pub pem_roots: Vec<u8>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            webpki_roots: true,
            native_roots: false,
            pem_roots: Vec::new(),
        }
    }
}

impl TlsConfig {
    /// Checks the roots as [`crate::Client::new`] will (PEM parsed, the OS
    /// store read): a bad root file is found before anything is opened.
    ///
    /// # Errors
    ///
    /// The [`TlsConfigError`] that `Client::new` would give.
    pub fn check(&self) -> Result<(), TlsConfigError> {
        client_config(self).map(|_| ())
    }

    /// Trusts only the roots in `pem` (PEM text, e.g. a file's contents).
    pub fn with_pem_roots(pem: impl Into<Vec<u8>>) -> Self {
        TlsConfig {
            webpki_roots: false,
            native_roots: false,
            pem_roots: pem.into(),
        }
    }
}

/// A [`TlsConfig`] that cannot work: found when the client is made, before
/// any connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// `pem_roots` is not valid PEM (a block that does not decode).
    MalformedPem,
    /// `pem_roots` holds no `CERTIFICATE` block.
    NoCertificate,
    /// A certificate in `pem_roots` cannot be used as a root.
    BadRoot,
    /// The operating system's store could not be read.
    NativeRoots,
    /// No root is trusted at all: every `wss://` connection would fail.
    NoRoots,
}

impl fmt::Display for TlsConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsConfigError::MalformedPem => "the PEM roots are not valid PEM",
            TlsConfigError::NoCertificate => "the PEM roots hold no CERTIFICATE block",
            TlsConfigError::BadRoot => "a PEM root is not a usable CA certificate",
            TlsConfigError::NativeRoots => "the OS certificate store could not be read",
            TlsConfigError::NoRoots => "no trusted root certificate",
        })
    }
}

impl std::error::Error for TlsConfigError {}

/// The real TLS layer (feature `tls`, on by default).
#[cfg(all(feature = "tls", not(target_os = "espidf")))]
mod with_rustls {
    use std::io::{self, Read, Write};
    use std::sync::Arc;

    use mio::net::TcpStream;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{CertificateError, ClientConnection, RootCertStore};
    use ws_proto::driver::Io;
    use ws_proto::{LinkError, TlsReason};

    use super::{TlsConfig, TlsConfigError};

    /// The most plaintext handed to rustls per write call: the encrypted
    /// records of one call are flushed before the next is taken.
    const WRITE_CHUNK: usize = 64 << 10;

    /// The configuration every `wss://` connection of a client shares.
    pub(crate) type Shared = Arc<rustls::ClientConfig>;

    /// The rustls configuration for `config`: roots, ring provider, safe
    /// protocol versions.
    pub(crate) fn client_config(config: &TlsConfig) -> Result<Shared, TlsConfigError> {
        let mut roots = RootCertStore::empty();
        if config.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if config.native_roots {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() && !found.errors.is_empty() {
                return Err(TlsConfigError::NativeRoots);
            }
            // Roots of the OS store that rustls cannot use are skipped.
            let _ = roots.add_parsable_certificates(found.certs);
        }
        if !config.pem_roots.is_empty() {
            let certs = CertificateDer::pem_slice_iter(&config.pem_roots)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| TlsConfigError::MalformedPem)?;
            if certs.is_empty() {
                return Err(TlsConfigError::NoCertificate);
            }
            for cert in certs {
                roots.add(cert).map_err(|_| TlsConfigError::BadRoot)?;
            }
        }
        if roots.is_empty() {
            return Err(TlsConfigError::NoRoots);
        }
        // ring on purpose: no cmake-built crypto, and it builds for ESP-IDF.
        // rustls marks it deprecated only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let built = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| TlsConfigError::NoRoots)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(built))
    }

    /// The TLS side of one `wss://` socket.
    pub(crate) struct TlsLink {
        conn: ClientConnection,
        /// The TLS layer failed; reported once the plaintext before it was read.
        failed: Option<LinkError>,
    }

    impl TlsLink {
        /// A client connection for `name` (a DNS name or an IP literal), sending
        /// SNI for a name and verifying the certificate against it.
        pub(crate) fn new(
            config: &Arc<rustls::ClientConfig>,
            name: &str,
        ) -> Result<Self, LinkError> {
            let other = LinkError::Tls {
                reason: TlsReason::Other,
            };
            let name = ServerName::try_from(name.to_owned()).map_err(|_| other)?;
            let mut conn = ClientConnection::new(Arc::clone(config), name).map_err(|_| other)?;
            // The driver bounds what it hands over (one chunk at a time).
            conn.set_buffer_limit(None);
            Ok(TlsLink { conn, failed: None })
        }

        /// Whether TLS records wait to be written.
        pub(crate) fn wants_write(&self) -> bool {
            self.conn.wants_write()
        }

        /// Writes pending TLS records until none is left (`Ok`) or the socket
        /// would block (`Err(WouldBlock)`). A failure is kept for the next
        /// read or write to report.
        pub(crate) fn flush(&mut self, sock: &mut TcpStream) -> io::Result<()> {
            while self.conn.wants_write() {
                match self.conn.write_tls(sock) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        if e.kind() != io::ErrorKind::WouldBlock {
                            self.failed
                                .get_or_insert(crate::client::classify(&e, false));
                        }
                        return Err(e);
                    }
                }
            }
            Ok(())
        }

        /// One `Read` action: plaintext into `buf`, reading and decrypting
        /// records as needed, until `buf` is full or the socket has no more.
        pub(crate) fn read(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> Io {
            let mut total = 0;
            let partial = |total: usize, io: Io| if total > 0 { Io::Done(total) } else { io };
            loop {
                if total == buf.len() {
                    return Io::Done(total);
                }
                match self.conn.reader().read(&mut buf[total..]) {
                    // close_notify: the server's clean end of stream.
                    Ok(0) => return partial(total, Io::Eof),
                    Ok(n) => {
                        total += n;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // TCP ended without close_notify: the WebSocket close
                    // handshake says whether that lost anything.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return partial(total, Io::Eof);
                    }
                    Err(_) => return partial(total, Io::Failed(LinkError::Io)),
                }
                if let Some(e) = self.failed {
                    return partial(total, Io::Failed(e));
                }
                match self.conn.read_tls(sock) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return partial(total, Io::WouldBlock);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.failed = Some(crate::client::classify(&e, false));
                        continue;
                    }
                }
                if let Err(e) = self.conn.process_new_packets() {
                    self.failed = Some(LinkError::Tls { reason: reason(&e) });
                }
                // Handshake messages, or the alert that tells the server why.
                let _ = self.flush(sock);
            }
        }

        /// One `Write` action: earlier records leave first; then a chunk of
        /// `bytes` is encrypted and written.
        pub(crate) fn write(&mut self, sock: &mut TcpStream, bytes: &[u8]) -> Io {
            if let Some(e) = self.failed {
                return Io::Failed(e);
            }
            match self.flush(sock) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Io::WouldBlock,
                Err(_) => return Io::Failed(self.failed.unwrap_or(LinkError::Io)),
            }
            let chunk = &bytes[..bytes.len().min(WRITE_CHUNK)];
            let n = match self.conn.writer().write(chunk) {
                Ok(n) => n,
                Err(_) => return Io::Failed(LinkError::Io),
            };
            // What does not leave now leaves from the next flush (the socket's
            // writable edge, or the next action).
            let _ = self.flush(sock);
            Io::Done(n)
        }

        /// Queues close_notify (once the handshake is done and TLS is sound)
        /// and tries to write it.
        pub(crate) fn close_notify(&mut self, sock: &mut TcpStream) {
            if self.failed.is_none() && !self.conn.is_handshaking() {
                self.conn.send_close_notify();
                let _ = self.flush(sock);
            }
        }
    }

    /// The reason for a rustls error, in the driver's words.
    pub(crate) fn reason(e: &rustls::Error) -> TlsReason {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsReason::UnknownIssuer,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsReason::NameMismatch,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsReason::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsReason::NotYetValid
                }
                CertificateError::Revoked => TlsReason::Revoked,
                _ => TlsReason::BadCertificate,
            },
            E::AlertReceived(a) => TlsReason::Alert(u8::from(*a)),
            E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. }
            | E::InvalidMessage(_)
            | E::NoCertificatesPresented
            | E::DecryptError
            | E::PeerIncompatible(_)
            | E::PeerMisbehaved(_)
            | E::PeerSentOversizedRecord => TlsReason::PeerMisbehaved,
            _ => TlsReason::Other,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn bad_pem_roots_are_refused_whole() {
            let bad = |pem: &[u8]| client_config(&TlsConfig::with_pem_roots(pem)).err();
            assert_eq!(
                bad(b"-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n"),
                Some(TlsConfigError::MalformedPem)
            );
            assert_eq!(bad(b"just text\n"), Some(TlsConfigError::NoCertificate));
            assert_eq!(
                bad(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
                Some(TlsConfigError::BadRoot)
            );
            let none = TlsConfig {
                webpki_roots: false,
                ..TlsConfig::default()
            };
            assert_eq!(client_config(&none).err(), Some(TlsConfigError::NoRoots));
            assert!(client_config(&TlsConfig::default()).is_ok());
        }

        #[test]
        fn rustls_errors_are_named() {
            use rustls::Error as E;
            let cert = |c| reason(&E::InvalidCertificate(c));
            assert_eq!(
                cert(CertificateError::UnknownIssuer),
                TlsReason::UnknownIssuer
            );
            assert_eq!(
                cert(CertificateError::NotValidForName),
                TlsReason::NameMismatch
            );
            assert_eq!(cert(CertificateError::Expired), TlsReason::Expired);
            assert_eq!(
                cert(CertificateError::BadSignature),
                TlsReason::BadCertificate
            );
            let alert = E::AlertReceived(rustls::AlertDescription::HandshakeFailure);
            assert_eq!(reason(&alert), TlsReason::Alert(40));
            assert_eq!(reason(&E::DecryptError), TlsReason::PeerMisbehaved);
            assert_eq!(reason(&E::General("x".into())), TlsReason::Other);
        }
    }
}

/// Without the `tls` feature, and on ESP-IDF (see Cargo.toml): no TLS
/// layer, and the driver refuses `wss://` URLs (`UrlError::TlsUnsupported`),
/// so none of this is reached.
#[cfg(not(all(feature = "tls", not(target_os = "espidf"))))]
mod without {
    use mio::net::TcpStream;
    use ws_proto::driver::Io;
    use ws_proto::LinkError;

    use super::{TlsConfig, TlsConfigError};

    /// Nothing is shared without TLS.
    pub(crate) struct Shared;

    /// Accepts any roots: they are never used.
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn client_config(_: &TlsConfig) -> Result<Shared, TlsConfigError> {
        Ok(Shared)
    }

    /// No TLS link can exist without the feature.
    pub(crate) enum TlsLink {}

    impl TlsLink {
        pub(crate) fn new(_: &Shared, _: &str) -> Result<Self, LinkError> {
            Err(LinkError::Io)
        }
        pub(crate) fn wants_write(&self) -> bool {
            match *self {}
        }
        pub(crate) fn flush(&mut self, _: &mut TcpStream) -> std::io::Result<()> {
            match *self {}
        }
        pub(crate) fn read(&mut self, _: &mut TcpStream, _: &mut [u8]) -> Io {
            match *self {}
        }
        pub(crate) fn write(&mut self, _: &mut TcpStream, _: &[u8]) -> Io {
            match *self {}
        }
        pub(crate) fn close_notify(&mut self, _: &mut TcpStream) {
            match *self {}
        }
    }
}
