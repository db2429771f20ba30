//! The `wsclient` example as a user runs it: its flags, stdin, stdout,
//! stderr and exit codes, against tungstenite servers on 127.0.0.1.
//!
//! `cargo test` builds the examples before it runs the tests, into
//! `<target>/<profile>/examples/` beside this test's `deps/` directory; that
//! is where the binary is taken from (run `cargo build --example wsclient`
//! first when running this test alone with `--test wsclient_cli`). Every run
//! is killed after a deadline.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{binary_of, echo_server, handshake, raw_server, tungstenite_server};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

/// The example binary, built by `cargo test` beside this test's directory.
fn wsclient() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("wsclient{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds it; alone, run `cargo build -p ws-transport-std --example wsclient` first",
        bin.display()
    );
    bin
}

/// What a run printed and how it exited.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

/// Runs wsclient with `args`, feeding `stdin` then closing it (after `hold`
/// at most, while the client runs); kills it after 20 s.
fn run_with(args: &[&str], stdin: Vec<u8>, hold: Duration) -> Run {
    let mut child = Command::new(wsclient())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let (exited, stop) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        // A client that exits early closes the pipe: not an error here.
        let _ = input.write_all(&stdin);
        // Keep stdin open for `hold`, or until the client exited.
        let _ = stop.recv_timeout(hold);
    });
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("wsclient {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(exited);
    writer.join().unwrap();
    Run {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

fn run(args: &[&str], stdin: &[u8]) -> Run {
    run_with(args, stdin.to_vec(), Duration::ZERO)
}

#[test]
fn help_prints_usage_and_exits_0() {
    let r = run(&["--help"], b"");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let help = String::from_utf8(r.stdout).unwrap();
    for flag in [
        "Usage: wsclient",
        "<URL>",
        "--binary",
        "--max-message",
        "--no-close",
        "--close-code",
        "--close-reason",
        "--print-pings",
        "--header",
        "--protocol",
        "--ca",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--bogus", "ws://127.0.0.1/"],
        &["http://127.0.0.1/"],
        &["--ca", "/nonexistent/ca.pem", "wss://127.0.0.1/"],
        &["--insecure", "wss://127.0.0.1/"],
        &["ws://127.0.0.1/", "extra"],
        &["--close-code", "1005", "ws://127.0.0.1/"],
        &["--max-message", "0", "ws://127.0.0.1/"],
        &["-H", "no colon", "ws://127.0.0.1/"],
    ] {
        let r = run(args, b"");
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn failures_exit_1_with_the_reason() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("ws://127.0.0.1:{port}/");
    let r = run(&[&url], b"");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("refused"), "{}", r.stderr);
}

#[test]
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn headers_and_subprotocols_reach_the_server() {
    use tungstenite::handshake::server::{Request, Response};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let check = |req: &Request, mut resp: Response| {
            let h = req.headers();
            assert_eq!(h["authorization"], "Bearer x");
            assert_eq!(h["sec-websocket-protocol"], "chat, superchat");
            resp.headers_mut()
                .insert("sec-websocket-protocol", "chat".parse().unwrap());
            Ok(resp)
        };
        let mut ws = tungstenite::accept_hdr(stream, check).unwrap();
        ws.close(None).unwrap();
        while ws.read().is_ok() {}
    });
    let url = format!("ws://{addr}/");
    let args = [
        "-n",
        "-H",
        "Authorization: Bearer x",
        "--protocol",
        "chat",
        "--protocol",
        "superchat",
        &url,
    ];
    let r = run(&args, b"");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("subprotocol chat"), "{}", r.stderr);
    server.join().unwrap();
}

/// A 1.6 MB line goes out as one text message and comes back whole.
#[test]
fn a_long_line_is_sent_whole() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let line: String = (0..1_600_000)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let input = format!("{line}\n");
    let r = run(&[&format!("ws://{addr}/")], input.as_bytes());
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout == input.as_bytes(), "the echo differs");
    server.join().unwrap();
}

#[test]
fn text_lines_round_trip_and_eof_closes_cleanly() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    let r = run(
        &[&format!("ws://{addr}/")],
        "one\ntwo\n\ncafé\nlast".as_bytes(),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        String::from_utf8(r.stdout).unwrap(),
        "one\ntwo\n\ncafé\nlast\n"
    );
    assert!(!r.stderr.contains("ping"), "{}", r.stderr);
    server.join().unwrap();
}

#[test]
fn binary_round_trip_is_byte_for_byte() {
    let (addr, server) = echo_server("127.0.0.1:0", 1);
    // Several chunks, with newlines, NULs and invalid UTF-8.
    let mut input = binary_of(300_000);
    input.extend_from_slice(b"\n\0\xff\xfe\r\n");
    let r = run_with(
        &["-b", &format!("ws://{addr}/")],
        input.clone(),
        Duration::ZERO,
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.len(), input.len());
    assert!(r.stdout == input, "output differs from input");
    server.join().unwrap();
}

#[test]
fn no_close_waits_for_the_server_to_close() {
    let (addr, server) = tungstenite_server("127.0.0.1:0", |mut ws| {
        assert_eq!(ws.read().unwrap(), Message::Text("hi".into()));
        // The client saw the end of its stdin and sends nothing more (no
        // close frame) for half a second.
        let tcp = ws.get_mut();
        tcp.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        match ws.read() {
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            other => panic!("expected silence, got {other:?}"),
        }
        ws.get_mut()
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        ws.send(Message::Text("reply 1".into())).unwrap();
        ws.send(Message::Text("reply 2".into())).unwrap();
        ws.close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "server done".into(),
        }))
        .unwrap();
        while ws.read().is_ok() {}
    });
    let r = run(&["-n", &format!("ws://{addr}/")], b"hi\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(String::from_utf8(r.stdout).unwrap(), "reply 1\nreply 2\n");
    assert!(r.stderr.contains("server done"), "{}", r.stderr);
    server.join().unwrap();
}

#[test]
fn close_code_and_reason_reach_the_server() {
    let (tx, got) = mpsc::channel();
    let (addr, server) = tungstenite_server("127.0.0.1:0", move |mut ws| loop {
        match ws.read() {
            Ok(Message::Close(f)) => {
                let f = f.map(|f| (u16::from(f.code), f.reason.to_string()));
                tx.send(f).unwrap();
            }
            Ok(_) => {}
            Err(_) => return,
        }
    });
    let url = format!("ws://{addr}/");
    let r = run(
        &["--close-code", "4001", "--close-reason", "bye now", &url],
        b"",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let frame = got.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(frame, Some((4001, "bye now".to_owned())));
    server.join().unwrap();
}

#[test]
fn pings_are_reported_only_with_print_pings() {
    for print in [false, true] {
        let (addr, server) = tungstenite_server("127.0.0.1:0", |mut ws| {
            ws.send(Message::Ping(b"p".to_vec().into())).unwrap();
            // The pong comes back before the close.
            loop {
                match ws.read().unwrap() {
                    Message::Pong(_) => break,
                    _ => continue,
                }
            }
            ws.close(None).unwrap();
            while ws.read().is_ok() {}
        });
        let url = format!("ws://{addr}/");
        let mut args = vec!["-n", &url];
        if print {
            args.push("--print-pings");
        }
        // stdin stays open: only the server's close ends the run.
        let r = run_with(&args, Vec::new(), Duration::from_secs(10));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(r.stderr.contains("ping"), print, "{}", r.stderr);
        server.join().unwrap();
    }
}

#[test]
fn max_message_is_enforced() {
    let (addr, server) = tungstenite_server("127.0.0.1:0", |mut ws| {
        let _ = ws.send(Message::Binary(vec![7u8; 2000].into()));
        while ws.read().is_ok() {}
    });
    let url = format!("ws://{addr}/");
    let r = run_with(
        &["-n", "--max-message", "1000", &url],
        Vec::new(),
        Duration::from_secs(10),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("1009") || r.stderr.contains("too big"),
        "{}",
        r.stderr
    );
    server.join().unwrap();
}

#[test]
fn wss_echo_with_a_ca_file_and_the_end_printed() {
    use common::tls::{wss_echo_server, Ca, Validity};
    let ca = Ca::new("wsclient CA");
    let (addr, server) = wss_echo_server("127.0.0.1:0", ca.server(&["localhost"], Validity::Now));
    let pem = ca.write_pem("wsclient-ok");
    let url = format!("wss://localhost:{}/", addr.port());
    let r = run(
        &[
            "--ca",
            pem.to_str().unwrap(),
            "--close-reason",
            "done",
            &url,
        ],
        b"over tls\n",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, b"over tls\n");
    assert!(
        r.stderr
            .contains("ended: closed by the close handshake (1000 \"done\")"),
        "{}",
        r.stderr
    );
    server.join().unwrap();
}

#[test]
fn an_untrusted_server_is_a_tls_failure_named_on_exit() {
    use common::tls::{tls_server, Ca, Validity};
    let ca = Ca::new("unknown CA");
    let (addr, server) = tls_server(
        "127.0.0.1:0",
        ca.server(&["127.0.0.1"], Validity::Now),
        common::tls::plaintext_received,
    );
    let r = run(&[&format!("wss://127.0.0.1:{}/", addr.port())], b"x\n");
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("ended: TLS failure: certificate issuer not trusted"),
        "{}",
        r.stderr
    );
    assert_eq!(server.join().unwrap(), 0, "nothing was sent");
}

#[test]
fn a_bad_ca_file_is_a_usage_error_before_any_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("wss://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let dir = std::env::temp_dir().join(format!("ws-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text, says) in [
        (
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----\n",
            "not valid PEM",
        ),
        ("empty.pem", "no certificate here\n", "no CERTIFICATE"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let r = run(&["--ca", path.to_str().unwrap(), &url], b"");
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(r.stderr.contains(says), "{}", r.stderr);
    }
    assert!(listener.accept().is_err(), "a connection was made");
}

#[test]
fn ping_flags_detect_a_silent_server() {
    // The server completes the handshake, then sends nothing and keeps TCP
    // open: only keepalive can tell.
    let (port, server) = raw_server(|mut s| {
        handshake(&mut s);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut sink = [0u8; 256];
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
    });
    let url = format!("ws://127.0.0.1:{port}/");
    let started = Instant::now();
    let r = run_with(
        &["-n", "--ping-interval", "1", "--ping-timeout", "1", &url],
        Vec::new(),
        Duration::from_secs(15),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("keepalive"), "{}", r.stderr);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "{took:?}");
    server.join().unwrap();
}
