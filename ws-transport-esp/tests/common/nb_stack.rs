//! A non-blocking `embedded-nal` stack for the host tests, so that "no call
//! ever waits on the network" is tested (std-embedded-nal blocks inside
//! connect and DNS): TCP over `mio` sockets (connect returns at once and is
//! checked on later calls), and a resolver that answers each name only once
//! its delay has passed, saying `WouldBlock` until then. Every call is timed.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};

/// A socket: no stream until `connect` is first called.
#[derive(Debug, Default)]
pub struct NbSocket(Option<mio::net::TcpStream>);

/// An I/O error, named for embedded-nal.
#[derive(Debug)]
pub struct NbError(pub io::ErrorKind);

impl TcpError for NbError {
    fn kind(&self) -> TcpErrorKind {
        match self.0 {
            io::ErrorKind::BrokenPipe => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

/// The stack: names with the time from which they resolve, and statistics.
#[derive(Debug)]
pub struct NbStack {
    pub names: Vec<(&'static str, IpAddr, Instant)>,
    /// How many calls said `WouldBlock`.
    pub would_block: usize,
    /// The longest any call took.
    pub slowest: Duration,
}

impl NbStack {
    pub fn new() -> Self {
        NbStack {
            names: Vec::new(),
            would_block: 0,
            slowest: Duration::ZERO,
        }
    }

    /// `name` resolves to `ip` once `delay` has passed from now.
    pub fn name_after(&mut self, name: &'static str, ip: IpAddr, delay: Duration) {
        self.names.push((name, ip, Instant::now() + delay));
    }

    /// Times `f`, counts its `WouldBlock`.
    fn timed<T, E>(&mut self, f: impl FnOnce(&mut Self) -> nb::Result<T, E>) -> nb::Result<T, E> {
        let start = Instant::now();
        let r = f(self);
        self.slowest = self.slowest.max(start.elapsed());
        if matches!(r, Err(nb::Error::WouldBlock)) {
            self.would_block += 1;
        }
        r
    }
}

fn nb_io<T>(r: io::Result<T>) -> nb::Result<T, NbError> {
    r.map_err(|e| match e.kind() {
        io::ErrorKind::WouldBlock => nb::Error::WouldBlock,
        k => nb::Error::Other(NbError(k)),
    })
}

/// Whether a non-blocking connect finished.
fn connected(stream: &mio::net::TcpStream) -> nb::Result<(), NbError> {
    if let Ok(Some(e)) | Err(e) = stream.take_error() {
        return Err(nb::Error::Other(NbError(e.kind())));
    }
    match stream.peer_addr() {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Err(nb::Error::WouldBlock),
        Err(e) => Err(nb::Error::Other(NbError(e.kind()))),
    }
}

impl TcpClientStack for NbStack {
    type TcpSocket = NbSocket;
    type Error = NbError;

    fn socket(&mut self) -> Result<NbSocket, NbError> {
        Ok(NbSocket::default())
    }

    fn connect(&mut self, s: &mut NbSocket, remote: SocketAddr) -> nb::Result<(), NbError> {
        self.timed(|_| {
            if s.0.is_none() {
                s.0 = Some(nb_io(mio::net::TcpStream::connect(remote))?);
            }
            match &s.0 {
                Some(stream) => connected(stream),
                None => Err(nb::Error::WouldBlock),
            }
        })
    }

    fn send(&mut self, s: &mut NbSocket, buf: &[u8]) -> nb::Result<usize, NbError> {
        self.timed(|_| match &mut s.0 {
            Some(stream) => nb_io(stream.write(buf)),
            None => Err(nb::Error::Other(NbError(io::ErrorKind::NotConnected))),
        })
    }

    fn receive(&mut self, s: &mut NbSocket, buf: &mut [u8]) -> nb::Result<usize, NbError> {
        self.timed(|_| match &mut s.0 {
            Some(stream) => nb_io(stream.read(buf)),
            None => Err(nb::Error::Other(NbError(io::ErrorKind::NotConnected))),
        })
    }

    fn close(&mut self, _: NbSocket) -> Result<(), NbError> {
        Ok(())
    }
}

impl Dns for NbStack {
    type Error = NbError;

    fn get_host_by_name(&mut self, host: &str, _: AddrType) -> nb::Result<IpAddr, NbError> {
        self.timed(|st| match st.names.iter().find(|(n, _, _)| *n == host) {
            Some((_, ip, at)) if Instant::now() >= *at => Ok(*ip),
            Some(_) => Err(nb::Error::WouldBlock),
            None => Err(nb::Error::Other(NbError(io::ErrorKind::NotFound))),
        })
    }

    fn get_host_by_address(&mut self, _: IpAddr, _: &mut [u8]) -> nb::Result<usize, NbError> {
        Err(nb::Error::Other(NbError(io::ErrorKind::Unsupported)))
    }
}
