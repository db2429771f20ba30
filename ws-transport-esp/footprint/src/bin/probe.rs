//! Weighs the dependencies under ws-proto, each alone (`scripts/footprint.sh`
//! reads the sizes of the `probe_*` functions): httparse's response parser,
//! sha1_smol and the base64 encoder.
#![no_std]
#![no_main]

use base64::Engine;
use ws_footprint as _; // the panic handler

#[no_mangle]
pub extern "C" fn _start() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// httparse with ws-proto's 32 header slots.
#[no_mangle]
pub fn probe_httparse(buf: &[u8]) -> usize {
    let mut h = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Response::new(&mut h);
    match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n + r.headers.len() + usize::from(r.code.unwrap_or(0)),
        _ => 0,
    }
}

/// SHA-1 as ws-proto computes it today.
#[no_mangle]
pub fn probe_sha1_smol(data: &[u8]) -> [u8; 20] {
    sha1_smol::Sha1::from(data).digest().bytes()
}

/// Base64 as ws-proto encodes today (key and accept).
#[no_mangle]
pub fn probe_base64(data: &[u8; 20], out: &mut [u8; 28]) -> usize {
    base64::engine::general_purpose::STANDARD
        .encode_slice(data, out)
        .unwrap_or(0)
}
