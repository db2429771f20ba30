//! permessage-deflate on a JSON stream: 1,000 telemetry messages of about
//! 100-200 bytes, each its own message, context kept across messages (the
//! default of both sides). Throughput counts the JSON bytes.
//!
//! - `ws_proto_send`: `Connection::send_text` with compression agreed
//!   (compress, frame, mask, queue) and the queue drained; beside
//!   `ws_proto_send_plain`, the same without the extension.
//! - `flate2_compress`: flate2's raw `Compress` at level 6 with a sync flush
//!   per message and the tail removed, into a reused buffer: the compression
//!   alone, no framing.
//! - `ws_proto_recv`: `Connection::recv` over the server's compressed frames,
//!   inflating every message (bytes read from `Connection::inflated`);
//!   `flate2_decompress`: flate2's raw `Decompress` per message with the
//!   `00 00 ff ff` tail appended, into a reused buffer.
//!
//! Bytes on the wire for the stream are printed once before the runs.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use ws_benches::{response_for, BenchConnection, XorShift};
use ws_proto::{Config, Connection, DeflateConfig, Event, HandshakeOptions, Instant, Url};

const MESSAGES: usize = 1000;

/// Telemetry-like JSON lines, deterministic.
fn json_stream() -> Vec<String> {
    (0..MESSAGES)
        .map(|i| {
            format!(
                "{{\"ts\":{},\"device\":\"sensor-{:03}\",\"temp\":{}.{},\"humidity\":{},\
                 \"status\":\"{}\",\"tags\":[\"lab\",\"floor-{}\"]}}",
                1_700_000_000_000u64 + i as u64 * 250,
                i % 37,
                18 + i % 9,
                (i * 7) % 10,
                40 + (i * 13) % 30,
                if i % 11 == 0 { "warning" } else { "ok" },
                i % 4
            )
        })
        .collect()
}

/// An open connection; with `deflate`, the server agreed to
/// `permessage-deflate` with its defaults.
fn open(deflate: bool) -> BenchConnection {
    let url = Url::parse("ws://127.0.0.1:9001/").unwrap();
    let config = Config {
        max_message_size: 64 << 20,
        deflate: deflate.then(DeflateConfig::standard),
        ..Config::default()
    };
    let mut conn = Connection::new(
        XorShift::new(0x2545_f491_4f6c_dd1d),
        vec![0u8; 1 << 20],
        &url,
        &HandshakeOptions::default(),
        config,
        Instant::ZERO,
    )
    .unwrap();
    let request = conn.transmit().to_vec();
    conn.advance_transmit(request.len());
    let mut response = response_for(&request).unwrap();
    if deflate {
        response.truncate(response.len() - 2);
        response.extend_from_slice(b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    }
    let r = conn.recv(Instant::ZERO, &response).unwrap();
    assert!(matches!(r.event(), Some(Event::Connected { .. })));
    assert_eq!(conn.deflate().is_some(), deflate);
    conn
}

/// Sends every message, draining the queue as a transport would; returns
/// the bytes written.
fn send_all(conn: &mut BenchConnection, msgs: &[String]) -> usize {
    let mut wire = 0;
    for m in msgs {
        conn.send_text(m).unwrap();
        let n = conn.transmit().len();
        black_box(conn.transmit());
        conn.advance_transmit(n);
        wire += n;
    }
    wire
}

/// flate2's per-message compression (raw, level 6, sync flush, tail removed).
fn flate2_compress_all(c: &mut Compress, msgs: &[String], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for m in msgs {
        out.clear();
        out.reserve(m.len() + 64);
        let before = c.total_in();
        loop {
            let used = (c.total_in() - before) as usize;
            c.compress_vec(&m.as_bytes()[used..], out, FlushCompress::Sync)
                .unwrap();
            if (c.total_in() - before) as usize == m.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity());
        }
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        total += out.len() - 4;
        black_box(&out[..out.len() - 4]);
    }
    total
}

/// The server's side of the stream: compressed payloads (context kept).
fn server_payloads(msgs: &[String]) -> Vec<Vec<u8>> {
    let mut c = Compress::new(Compression::new(6), false);
    msgs.iter()
        .map(|m| {
            let mut out = Vec::with_capacity(m.len() + 64);
            c.compress_vec(m.as_bytes(), &mut out, FlushCompress::Sync)
                .unwrap();
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            out.truncate(out.len() - 4);
            out
        })
        .collect()
}

/// Server frames (RSV1 set, unmasked) for `payloads`.
fn server_frames(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        let at = out.len();
        ws_benches::push_server_frame(&mut out, 1, p);
        out[at] |= 0x40;
    }
    out
}

fn recv_all(conn: &mut BenchConnection, stream: &[u8]) -> usize {
    let mut pending = stream;
    let mut inflated = 0;
    loop {
        let r = conn.recv(Instant::ZERO, pending).unwrap();
        match r.event() {
            Some(Event::Inflated { .. }) => inflated += black_box(conn.inflated()).len(),
            Some(other) => panic!("{other:?}"),
            None => return inflated,
        }
        pending = &pending[r.consumed..];
    }
}

fn flate2_decompress_all(d: &mut Decompress, payloads: &[Vec<u8>], out: &mut Vec<u8>) -> usize {
    let mut input = Vec::new();
    let mut total = 0;
    for p in payloads {
        input.clear();
        input.extend_from_slice(p);
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        out.clear();
        let before = d.total_in();
        while ((d.total_in() - before) as usize) < input.len() {
            let used = (d.total_in() - before) as usize;
            out.reserve(4096);
            d.decompress_vec(&input[used..], out, FlushDecompress::Sync)
                .unwrap();
        }
        total += black_box(&*out).len();
    }
    total
}

fn deflate(c: &mut Criterion) {
    let msgs = json_stream();
    let plain: usize = msgs.iter().map(String::len).sum();
    let payloads = server_payloads(&msgs);
    let frames = server_frames(&payloads);

    // Bytes on the wire, once.
    let ours = send_all(&mut open(true), &msgs);
    let uncompressed = send_all(&mut open(false), &msgs);
    let flate2 = flate2_compress_all(
        &mut Compress::new(Compression::new(6), false),
        &msgs,
        &mut Vec::new(),
    );
    let server: usize = payloads.iter().map(Vec::len).sum();
    eprintln!(
        "deflate_json: {MESSAGES} messages, {plain} B of JSON; client frames on the wire: \
         {uncompressed} B plain, {ours} B compressed ({:.1}%); compressed payloads: \
         ws-proto {} B, flate2 {flate2} B (level 6, dynamic codes); server payloads {server} B",
        100.0 * ours as f64 / uncompressed as f64,
        // Each client frame of these sizes has a 6-byte header (2 + mask key).
        ours - 6 * MESSAGES,
    );
    assert_eq!(recv_all(&mut open(true), &frames), plain);

    let mut g = c.benchmark_group("deflate_json");
    g.throughput(Throughput::Bytes(plain as u64));
    g.bench_function("ws_proto_send", |b| {
        b.iter_batched_ref(
            || open(true),
            |conn| send_all(conn, &msgs),
            BatchSize::LargeInput,
        );
    });
    g.bench_function("ws_proto_send_plain", |b| {
        let mut conn = open(false);
        b.iter(|| send_all(&mut conn, &msgs));
    });
    g.bench_function("flate2_compress", |b| {
        let mut out = Vec::new();
        b.iter_batched_ref(
            || Compress::new(Compression::new(6), false),
            |c| flate2_compress_all(c, &msgs, &mut out),
            BatchSize::LargeInput,
        );
    });
    g.bench_function("ws_proto_recv", |b| {
        b.iter_batched_ref(
            || open(true),
            |conn| recv_all(conn, &frames),
            BatchSize::LargeInput,
        );
    });
    g.bench_function("flate2_decompress", |b| {
        let mut out = Vec::new();
        b.iter_batched_ref(
            || Decompress::new(false),
            |d| flate2_decompress_all(d, &payloads, &mut out),
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(1000))
        .measurement_time(std::time::Duration::from_millis(2000))
        .sample_size(30)
        .configure_from_args();
    targets = deflate
}
criterion_main!(benches);
