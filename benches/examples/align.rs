//! The std `Client`'s 64 KiB send (`MaskRandom`, default queue: the `encode`
//! bench's `ws_proto_client` row) beside the u64 XOR-copy anchor, with the
//! caller's payload at 0, 1, 8, 16, 32 and 48 bytes past a 64-byte boundary.
//! Each figure is the minimum (which noise only raises) and the median of N
//! runs (default 3000) of the wall clock; LEN (default 65536) sets the
//! payload's length. For A/B runs of one change, built at two commits and
//! run alternately, where criterion's medians move more than the change
//! (and a criterion run has the caller's payload wherever the allocator put
//! it, a figure this example takes apart).
//!
//! ```text
//! cargo build --profile bench -p ws-benches --example align
//! taskset -c 1 target/release/examples/align [N] [LEN]
//! ```
//!
//! The anchor writes to a 64-byte aligned buffer, so at offset 0 both of its
//! sides are aligned (the `encode` bench's target) and at the others only
//! its stores are.

use std::hint::black_box;
use std::time::Instant;

use ws_benches::{ascii_payload, open_connection_with, xor_copy_u64};
use ws_transport_std::ClientConfig;

/// The least and the median time of `n` runs of `f`, in nanoseconds.
fn time_ns(n: usize, mut f: impl FnMut()) -> (u128, u128) {
    let mut runs: Vec<u128> = (0..n.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos()
        })
        .collect();
    runs.sort_unstable();
    (runs[0], runs[runs.len() / 2])
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .map_or(3000, |a| a.parse().expect("usage: align [N] [LEN]"));
    let len: usize = std::env::args()
        .nth(2)
        .map_or(64 * 1024, |a| a.parse().expect("usage: align [N] [LEN]"));
    let text = ascii_payload(len + 128);
    // The first index of `text` on a 64-byte boundary.
    let base = (text.as_ptr() as usize).wrapping_neg() & 63;
    let config = ClientConfig::default();
    let st = config.storage();
    let mut client = open_connection_with(st.rng, st.tx, config.connection_config()).unwrap();
    let mut out = vec![0u8; len + 64];
    let at = (out.as_ptr() as usize).wrapping_neg() & 63;
    for round in 0..3 {
        for shift in [0, 1, 8, 16, 32, 48] {
            let payload = &text[base + shift..base + shift + len];
            let ours = time_ns(n, || {
                client.send_text(black_box(payload)).unwrap();
                let sent = black_box(client.transmit()).len();
                client.advance_transmit(sent);
            });
            let anchor = time_ns(n, || {
                let dst = black_box(&mut out[at..at + len]);
                xor_copy_u64(dst, black_box(payload.as_bytes()), [1, 2, 3, 4]);
            });
            println!(
                "round {round} payload +{shift:2}: client min {:5} median {:5} ns, u64 XOR anchor min {:5} median {:5} ns: ratio {:.3} (min) {:.3} (median)",
                ours.0,
                ours.1,
                anchor.0,
                anchor.1,
                anchor.0 as f64 / ours.0 as f64,
                anchor.1 as f64 / ours.1 as f64
            );
        }
    }
}
