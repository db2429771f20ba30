//! Handshake redirects against raw TCP servers answering 3xx: followed up
//! to three times with the same options (relative and absolute locations,
//! another port), refused after four, on a loop, from wss to ws, and for a
//! location that is no URL.

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{End, Ev, Harness};
use ws_proto::redirect::{RedirectRefusal, MAX_REDIRECTS};
use ws_proto::{Error, HandshakeError, HandshakeOptions};
use ws_transport_std::blocking::{Ended, Error as BlockingError, WebSocket};
use ws_transport_std::ClientConfig;

/// What one connection to a scripted server gets.
enum Answer {
    /// This status with this `Location`.
    Redirect(u16, String),
    /// 101, then a text message "at <path>", then a close.
    Accept,
}

/// Serves the answers in order, one connection each; returns the requests.
fn server(answers: Vec<Answer>) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let req = common::read_request(&mut s);
            let text = String::from_utf8(req).unwrap();
            let path = text.split(' ').nth(1).unwrap().to_owned();
            requests.push(text.clone());
            match answer {
                Answer::Redirect(status, location) => {
                    let resp = format!(
                        "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                    );
                    s.write_all(resp.as_bytes()).unwrap();
                }
                Answer::Accept => {
                    let resp = format!(
                        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\
                         Sec-WebSocket-Protocol: chat\r\n\r\n",
                        common::accept_for(text.as_bytes())
                    );
                    s.write_all(resp.as_bytes()).unwrap();
                    let msg = format!("at {path}");
                    s.write_all(&common::frame(0x81, msg.as_bytes())).unwrap();
                    s.write_all(&common::frame(0x88, &1000u16.to_be_bytes()))
                        .unwrap();
                    // The client's close echo, or its socket's end.
                    let _ = std::io::Read::read(&mut s, &mut [0u8; 64]);
                }
            }
        }
        requests
    });
    (port, handle)
}

const OPTIONS: HandshakeOptions<'static> = HandshakeOptions {
    protocols: &["chat"],
    headers: &[("Authorization", "Bearer secret")],
};

/// Opens `url` with [`OPTIONS`]; the events until the end.
fn run(url: &str) -> Vec<Ev> {
    let mut h = Harness::new(ClientConfig::default());
    let id = h.client.open_with(url, &OPTIONS, h.clock.now()).unwrap();
    let mut events = Vec::new();
    loop {
        let ev = h.expect(id, 10);
        let end = matches!(ev, Ev::Closed(_));
        events.push(ev);
        if end {
            return events;
        }
    }
}

fn accepted_at(path: &str) -> Vec<Ev> {
    vec![
        Ev::Connected,
        Ev::Text(format!("at {path}")),
        Ev::Closed(End::Clean(Some(1000), String::new())),
    ]
}

fn refused(events: &[Ev]) -> (u16, RedirectRefusal, String) {
    match events {
        [Ev::Closed(End::Redirect(status, why, location))] => (*status, *why, location.clone()),
        other => panic!("not a refused redirect: {other:?}"),
    }
}

/// The request line's target and whether the options came along.
fn check_request(req: &str, target: &str) {
    assert!(
        req.starts_with(&format!("GET {target} HTTP/1.1\r\n")),
        "{req}"
    );
    assert!(
        req.contains("\r\nAuthorization: Bearer secret\r\n"),
        "{req}"
    );
    assert!(
        req.contains("\r\nSec-WebSocket-Protocol: chat\r\n"),
        "{req}"
    );
    assert_eq!(req.matches("\r\nHost: ").count(), 1, "{req}");
}

fn key_of(req: &str) -> &str {
    req.lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap()
}

#[test]
fn a_302_to_a_relative_path_is_followed_with_the_same_options() {
    let (port, handle) = server(vec![
        Answer::Redirect(302, "next?x=1".into()),
        Answer::Accept,
    ]);
    let events = run(&format!("ws://127.0.0.1:{port}/dir/start"));
    assert_eq!(events, accepted_at("/dir/next?x=1"));
    let reqs = handle.join().unwrap();
    check_request(&reqs[0], "/dir/start");
    check_request(&reqs[1], "/dir/next?x=1");
    assert!(reqs[1].contains(&format!("\r\nHost: 127.0.0.1:{port}\r\n")));
    assert_ne!(
        key_of(&reqs[0]),
        key_of(&reqs[1]),
        "a fresh key per request"
    );
}

#[test]
fn a_301_to_another_port_is_followed() {
    let (to, target) = server(vec![Answer::Accept]);
    let (from, first) = server(vec![Answer::Redirect(
        301,
        format!("ws://localhost:{to}/elsewhere"),
    )]);
    let events = run(&format!("ws://127.0.0.1:{from}/"));
    assert_eq!(events, accepted_at("/elsewhere"));
    check_request(&first.join().unwrap()[0], "/");
    let reqs = target.join().unwrap();
    check_request(&reqs[0], "/elsewhere");
    assert!(reqs[0].contains(&format!("\r\nHost: localhost:{to}\r\n")));
}

#[test]
fn three_hops_are_followed() {
    let (port, handle) = server(vec![
        Answer::Redirect(307, "/1".into()),
        Answer::Redirect(308, "/2".into()),
        Answer::Redirect(303, "/3".into()),
        Answer::Accept,
    ]);
    assert_eq!(MAX_REDIRECTS, 3);
    let events = run(&format!("ws://127.0.0.1:{port}/0"));
    assert_eq!(events, accepted_at("/3"));
    let reqs = handle.join().unwrap();
    for (req, target) in reqs.iter().zip(["/0", "/1", "/2", "/3"]) {
        check_request(req, target);
    }
}

#[test]
fn a_fourth_hop_is_refused_and_named() {
    let (port, handle) = server(vec![
        Answer::Redirect(302, "/1".into()),
        Answer::Redirect(302, "/2".into()),
        Answer::Redirect(302, "/3".into()),
        Answer::Redirect(302, "/4".into()),
    ]);
    let events = run(&format!("ws://127.0.0.1:{port}/0"));
    assert_eq!(
        refused(&events),
        (302, RedirectRefusal::TooMany, "/4".into())
    );
    let text = format!("{events:?}");
    assert!(text.contains("/4"), "{text}");
    assert_eq!(handle.join().unwrap().len(), 4);
}

#[test]
fn a_long_location_is_named_whole_also_by_the_blocking_api() {
    // Longer than any fixed copy would keep: the end borrows the response.
    let long = format!("/{}", "x".repeat(300));
    let (port, handle) = server(vec![Answer::Redirect(308, long.clone())]);
    let url = format!("ws://127.0.0.1:{port}{long}");
    let e = WebSocket::connect(&url, Duration::from_secs(5)).unwrap_err();
    let want = Ended::Redirect {
        status: 308,
        refusal: RedirectRefusal::Loop,
        location: long.clone(),
    };
    assert_eq!(e, BlockingError::Closed(want));
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "redirect 308 to {long} not followed: redirect loop"
        )),
        "{text}"
    );
    assert_eq!(handle.join().unwrap().len(), 1);
}

#[test]
fn a_loop_is_refused() {
    let (port, handle) = server(vec![
        Answer::Redirect(302, "/b".into()),
        Answer::Redirect(302, "/a".into()),
    ]);
    let events = run(&format!("ws://127.0.0.1:{port}/a"));
    assert_eq!(refused(&events), (302, RedirectRefusal::Loop, "/a".into()));
    assert_eq!(handle.join().unwrap().len(), 2);
    // Straight back to itself.
    let (port, handle) = server(vec![Answer::Redirect(301, "/self".into())]);
    let events = run(&format!("ws://127.0.0.1:{port}/self"));
    assert_eq!(
        refused(&events),
        (301, RedirectRefusal::Loop, "/self".into())
    );
    handle.join().unwrap();
}

#[test]
fn unusable_locations_are_refused_before_anything_is_sent() {
    for location in [
        "ftp://127.0.0.1/",
        "ws://127.0.0.1:99999/",
        "ws://a b/",
        "ws://u@h/",
    ] {
        let (port, handle) = server(vec![Answer::Redirect(302, location.into())]);
        let events = run(&format!("ws://127.0.0.1:{port}/"));
        // What is kept of the location is printable (a space shows as '?').
        let kept = location.replace(' ', "?");
        assert_eq!(
            refused(&events),
            (302, RedirectRefusal::InvalidLocation, kept),
        );
        assert_eq!(handle.join().unwrap().len(), 1);
    }
}

#[test]
fn a_3xx_without_location_is_its_status() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        common::read_request(&mut s);
        s.write_all(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let events = run(&format!("ws://127.0.0.1:{port}/"));
    assert_eq!(
        events,
        [Ev::Closed(End::Error(Error::Handshake(
            HandshakeError::Status(302)
        )))]
    );
    handle.join().unwrap();
}

#[test]
fn wss_to_ws_is_refused() {
    use common::tls::{tls_server, Ca, Validity};
    let ca = Ca::new("redirect CA");
    let (plain, never) = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        (l.local_addr().unwrap().port(), l)
    };
    let location = format!("ws://127.0.0.1:{plain}/");
    let answer = location.clone();
    let config = ca.server(&["127.0.0.1"], Validity::Now);
    let (addr, handle) = tls_server("127.0.0.1:0", config, move |mut s| {
        let mut req = Vec::new();
        let mut b = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") {
            std::io::Read::read_exact(&mut s, &mut b).unwrap();
            req.push(b[0]);
        }
        let resp = format!("HTTP/1.1 302 Found\r\nLocation: {answer}\r\n\r\n");
        s.write_all(resp.as_bytes()).unwrap();
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(100));
    });
    let mut h = Harness::new(ClientConfig {
        tls: ws_transport_std::TlsConfig::with_pem_roots(ca.pem.clone()),
        ..ClientConfig::default()
    });
    let id = h.open(&format!("wss://127.0.0.1:{}/", addr.port()));
    let ev = h.expect(id, 10);
    assert_eq!(refused(&[ev]), (302, RedirectRefusal::Downgrade, location));
    handle.join().unwrap();
    never.set_nonblocking(true).unwrap();
    assert!(never.accept().is_err(), "the plain server was contacted");
}

#[test]
fn ws_to_wss_is_followed_with_tls_for_the_new_name() {
    use common::tls::{wss_echo_server, Ca, Validity};
    let ca = Ca::new("redirect CA");
    let (addr, tls_handle) =
        wss_echo_server("127.0.0.1:0", ca.server(&["localhost"], Validity::Now));
    let (port, handle) = server(vec![Answer::Redirect(
        302,
        format!("wss://localhost:{}/secure", addr.port()),
    )]);
    let mut h = Harness::new(ClientConfig {
        tls: ws_transport_std::TlsConfig::with_pem_roots(ca.pem.clone()),
        ..ClientConfig::default()
    });
    let id = h.open(&format!("ws://127.0.0.1:{port}/"));
    assert_eq!(h.expect(id, 10), Ev::Connected);
    h.client.send_text(id, "secured").unwrap();
    assert_eq!(h.expect(id, 10), Ev::Text("secured".into()));
    h.client.close(id, h.clock.now(), 1000, "").unwrap();
    assert!(matches!(h.expect(id, 10), Ev::Closed(End::Clean(..))));
    handle.join().unwrap();
    tls_handle.join().unwrap();
}
