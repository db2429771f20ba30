//! Weighs the pieces under ws-proto, each alone (`scripts/footprint.sh` reads
//! the sizes of the `probe_*` functions): httparse's response parser, SHA-1
//! from sha1_smol against a compact rolled one, base64 from the base64 crate
//! against a compact encoder. The compact versions show what a ws-proto
//! change could save; they are not used by ws-proto.
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

/// A compact base64 encoder (padding included).
#[no_mangle]
pub fn probe_base64_compact(data: &[u8; 20], out: &mut [u8; 28]) -> usize {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut n = 0;
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            let c = if i <= chunk.len() {
                A[(v >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
            if let Some(o) = out.get_mut(n) {
                *o = c;
            }
            n += 1;
        }
    }
    n
}

/// A compact SHA-1 (FIPS 180-4), one rolled 80-round loop.
#[no_mangle]
pub fn probe_sha1_compact(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let total = data.len() + 9;
    let blocks = total.div_ceil(64);
    let bits = (data.len() as u64).wrapping_mul(8).to_be_bytes();
    for blk in 0..blocks {
        let mut w = [0u32; 16];
        for (i, word) in w.iter_mut().enumerate() {
            for j in 0..4 {
                let at = blk * 64 + i * 4 + j;
                let byte = match at {
                    _ if at < data.len() => data[at],
                    _ if at == data.len() => 0x80,
                    _ if at >= blocks * 64 - 8 => bits[at - (blocks * 64 - 8)],
                    _ => 0,
                };
                *word = *word << 8 | u32::from(byte);
            }
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for i in 0..80 {
            if i >= 16 {
                let t = w[(i + 13) & 15] ^ w[(i + 8) & 15] ^ w[(i + 2) & 15] ^ w[i & 15];
                w[i & 15] = t.rotate_left(1);
            }
            let (f, k) = match i / 20 {
                0 => ((b & c) | (!b & d), 0x5a82_7999),
                1 => (b ^ c ^ d, 0x6ed9_eba1),
                2 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(w[i & 15]);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (o, x) in out.chunks_mut(4).zip(h) {
        o.copy_from_slice(&x.to_be_bytes());
    }
    out
}
