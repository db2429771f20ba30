//! Writes the hand-made seed corpus into `fuzz/seeds/<target>/`: RFC 6455
//! vectors (section 5.7 frames, the section 1.3 / 4.2.2 handshake) and
//! Autobahn-like frame sequences (fragmented text, pings between fragments,
//! invalid UTF-8, close frames with codes, protocol violations).
//!
//! The seeds are checked in; `fuzz/corpus/` is the ignored working corpus
//! that `cargo fuzz run` grows. `scripts/fuzz-smoke.sh` copies the seeds into a
//! temporary corpus, so they never grow.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (any toolchain).
//! The `connection` target's seeds are not written here: its input is decoded
//! by `arbitrary`, so its checked-in seeds are a minimized fuzzing corpus
//! (`cargo fuzz cmin`).

use std::fs;
use std::path::{Path, PathBuf};

use ws_proto_fuzz::{close_payload, server_frame};

fn dir(target: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&d).expect("create corpus dir");
    d
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    fs::write(dir(target).join(name), bytes).expect("write seed");
}

/// A `frame_decoder` input: `[cfg, k, sizes.., stream..]`.
fn decoder(cfg: u8, sizes: &[u8], stream: &[u8]) -> Vec<u8> {
    let mut v = vec![cfg, sizes.len() as u8];
    v.extend_from_slice(sizes);
    v.extend_from_slice(stream);
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

const RFC_ACCEPT_RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

fn frame_decoder_seeds() {
    let hello_masked: &[u8] = &[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let pong_masked: &[u8] = &[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let kosme = "κόσμε".as_bytes();
    let close_1000 = server_frame(0x8, true, &close_payload(1000, b""));
    let streams: Vec<(&str, Vec<u8>)> = vec![
        // RFC 6455 section 5.7.
        ("rfc-hello", server_frame(0x1, true, b"Hello")),
        ("rfc-hello-masked", hello_masked.to_vec()),
        (
            "rfc-fragmented-hello",
            cat(&[
                server_frame(0x1, false, b"Hel"),
                server_frame(0x0, true, b"lo"),
            ]),
        ),
        ("rfc-ping", server_frame(0x9, true, b"Hello")),
        ("rfc-pong-masked", pong_masked.to_vec()),
        ("rfc-binary-256", server_frame(0x2, true, &[0xab; 256])),
        (
            "rfc-binary-64k-header",
            [&[0x82u8, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0][..], &[7; 100]].concat(),
        ),
        // Autobahn-like sequences.
        (
            "fragmented-text-pings-between",
            cat(&[
                server_frame(0x1, false, b"frag1"),
                server_frame(0x9, true, b"p1"),
                server_frame(0x0, false, b"frag2"),
                server_frame(0xa, true, b""),
                server_frame(0x9, true, b"p2"),
                server_frame(0x0, true, b"frag3"),
                close_1000.clone(),
            ]),
        ),
        (
            "text-split-in-code-points",
            cat(&[
                server_frame(0x1, false, &kosme[..1]),
                server_frame(0x0, false, &kosme[1..4]),
                server_frame(0x0, false, &kosme[4..]),
                server_frame(0x0, true, b""),
            ]),
        ),
        (
            "invalid-utf8-fail-fast",
            server_frame(
                0x1,
                true,
                &[
                    0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90,
                    0x80, 0x80, 0x65, 0x64,
                ],
            ),
        ),
        (
            "invalid-utf8-across-fragments",
            cat(&[
                server_frame(0x1, false, &[0xe2, 0x82]),
                server_frame(0x0, true, b"a"),
            ]),
        ),
        ("surrogate", server_frame(0x1, true, &[0xed, 0xa0, 0x80])),
        ("close-1000", close_1000.clone()),
        (
            "close-1000-reason",
            server_frame(0x8, true, &close_payload(1000, "bye ☃".as_bytes())),
        ),
        ("close-empty", server_frame(0x8, true, b"")),
        ("close-1-byte", server_frame(0x8, true, &[0x03])),
        (
            "close-1005",
            server_frame(0x8, true, &close_payload(1005, b"")),
        ),
        (
            "close-4999",
            server_frame(0x8, true, &close_payload(4999, b"app")),
        ),
        (
            "close-bad-reason",
            server_frame(0x8, true, &close_payload(1000, &[0xff])),
        ),
        ("reserved-opcode-3", server_frame(0x3, true, b"")),
        ("reserved-opcode-b", server_frame(0xb, true, b"")),
        ("rsv1", vec![0xc1, 0x01, b'a']),
        (
            "ping-126",
            [&[0x89u8, 0x7e, 0x00, 0x7e][..], &[0; 126]].concat(),
        ),
        ("fragmented-ping", server_frame(0x9, false, b"x")),
        ("continuation-first", server_frame(0x0, true, b"x")),
        (
            "text-inside-fragmented",
            cat(&[
                server_frame(0x2, false, b"a"),
                server_frame(0x1, true, b"b"),
            ]),
        ),
        (
            "length-top-bit",
            vec![0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0],
        ),
        (
            "non-minimal-length",
            [&[0x81u8, 0x7e, 0x00, 0x03][..], b"abc"].concat(),
        ),
        (
            "many-small",
            (0..40u8)
                .flat_map(|i| server_frame(0x1 + (i % 2), true, &[b'a' + i % 26; 3]))
                .collect(),
        ),
    ];
    for (name, stream) in &streams {
        // Whole-ish pieces, one byte at a time, and an uneven cycle of sizes;
        // with a 1 MiB-class limit, and with the limit at 125 (1009 paths).
        write("frame_decoder", name, &decoder(0x06, &[255], stream));
        write(
            "frame_decoder",
            &format!("{name}-bytewise"),
            &decoder(0x05, &[], stream),
        );
        write(
            "frame_decoder",
            &format!("{name}-uneven"),
            &decoder(0x03, &[2, 0, 6, 1], stream),
        );
    }
    // The handshake response itself split with the frames after it.
    write(
        "frame_decoder",
        "handshake-in-stream",
        &decoder(
            0x0e,
            &[9, 30, 3],
            &cat(&[server_frame(0x1, true, b"Hello"), close_1000.clone()]),
        ),
    );
}

fn handshake_response_seeds() {
    let r = RFC_ACCEPT_RESPONSE;
    let with = |extra: &str| r.replace("\r\n\r\n", &format!("\r\n{extra}\r\n\r\n"));
    // cfg: bits 0-2 max_header (6 = 1024), bits 3-4 offered list (1 = "chat").
    let seeds: Vec<(&str, u8, Vec<u8>)> = vec![
        ("rfc-4.2.2", 6, r.as_bytes().to_vec()),
        (
            "rfc-with-frames",
            6,
            [r.as_bytes(), &[0x81, 0x05], b"Hello"].concat(),
        ),
        ("rfc-max-header-tight", 4, r.as_bytes().to_vec()),
        ("rfc-max-header-small", 3, r.as_bytes().to_vec()),
        (
            "protocol-chat",
            6 | 1 << 3,
            with("Sec-WebSocket-Protocol: chat").into_bytes(),
        ),
        (
            "protocol-not-offered",
            6,
            with("Sec-WebSocket-Protocol: chat").into_bytes(),
        ),
        (
            "extension",
            6,
            with("Sec-WebSocket-Extensions: permessage-deflate").into_bytes(),
        ),
        (
            "lowercase-token-lists",
            7,
            r.replace("Upgrade: websocket", "upgrade: foo, WebSocket")
                .replace("Connection: Upgrade", "connection: keep-alive, upgrade")
                .into_bytes(),
        ),
        (
            "404",
            6,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        (
            "http-1.0",
            6,
            r.replace("HTTP/1.1", "HTTP/1.0").into_bytes(),
        ),
        ("bad-accept", 6, r.replace("s3pP", "AAAA").into_bytes()),
        (
            "two-accepts",
            6,
            with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=").into_bytes(),
        ),
        ("bare-lf", 6, r.replace("\r\n", "\n").into_bytes()),
        ("garbage", 6, b"garbage\r\n\r\n".to_vec()),
    ];
    for (name, cfg, bytes) in seeds {
        write("handshake_response", name, &[&[cfg][..], &bytes].concat());
    }
}

fn url_seeds() {
    let urls: &[&[u8]] = &[
        b"ws://example.com/chat",
        b"ws://example.com",
        b"wss://example.com:443/a/b?x=1&y=%20",
        b"ws://[::1]:9001/runCase?case=1&agent=ws",
        b"ws://192.168.1.10:8080/stream",
        b"ws://h:65535?q",
        b"ws://user:pw@example.com/",
        b"ws://h/#frag",
        b"ws://h/a\r\nX: y",
        b"http://example.com",
        b"ws://example.com/chat\xffOrigin\xffhttp://example.com",
        b"ws://example.com/chat\xffX-A\xffv\r\nInjected: 1\xffchat",
        b"ws://example.com/chat\xffHost\xffevil\xffsuperchat",
    ];
    for (i, u) in urls.iter().enumerate() {
        write("url", &format!("seed-{i:02}"), u);
    }
}

fn main() {
    frame_decoder_seeds();
    handshake_response_seeds();
    url_seeds();
    println!("wrote seeds under {}", dir("").display());
}
