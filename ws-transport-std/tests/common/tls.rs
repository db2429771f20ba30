//! Test PKI made at run time with rcgen (a CA, server certificates valid,
//! expired or for another name) and a TLS server: rustls on top of a
//! loopback socket, tungstenite on top of that.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A TLS server stream.
pub type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// A certificate authority made for one test.
pub struct Ca {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// How long a server certificate is valid.
#[derive(Clone, Copy)]
pub enum Validity {
    Now,
    Expired,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `names` (DNS names or IP literals) signed by this
    /// CA, and its key.
    fn cert(
        &self,
        names: &[&str],
        validity: Validity,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "test server");
        if let Validity::Expired = validity {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (chain, key)
    }

    /// A server configuration with a certificate for `names` signed by
    /// this CA.
    pub fn server(&self, names: &[&str], validity: Validity) -> Arc<ServerConfig> {
        let (chain, key) = self.cert(names, validity);
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }

    /// As [`server`](Self::server), wanting a client certificate from this
    /// CA (a client without one gets the certificate_required alert).
    pub fn server_wanting_client_certs(&self, names: &[&str]) -> Arc<ServerConfig> {
        let (chain, key) = self.cert(names, Validity::Now);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.pem.as_bytes()).unwrap())
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        let config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }

    /// Writes the CA's PEM to a file in the target dir; returns its path.
    pub fn write_pem(&self, tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ws-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{tag}.pem"));
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// The ring provider (deprecated only for lacking post-quantum groups).
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Listens on `addr` (port 0), accepts one connection and runs `f` on its
/// TLS stream in a thread.
pub fn tls_server<F, T>(addr: &str, config: Arc<ServerConfig>, f: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(TlsStream) -> T + Send + 'static,
    T: Send + 'static,
{
    let listener = TcpListener::bind(addr).unwrap();
    let local = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let conn = ServerConnection::new(config).unwrap();
        f(StreamOwned::new(conn, tcp))
    });
    (local, handle)
}

/// A TLS server that runs tungstenite on the first connection (accepting
/// the handshake with `check` over the request) and echoes until the end.
pub fn wss_echo_server(addr: &str, config: Arc<ServerConfig>) -> (SocketAddr, JoinHandle<()>) {
    tls_server(addr, config, |stream| {
        super::echo(tungstenite::accept(stream).unwrap());
    })
}

/// Reads whatever plaintext arrives until the TLS session or the socket
/// fails or ends: how many bytes the client sent inside TLS.
pub fn plaintext_received(mut s: TlsStream) -> usize {
    let mut total = 0;
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}
