//! Keepalive on a virtual clock: a silent link is pinged after
//! `ping_interval_ms`, fails with 1011 and `KeepaliveTimeout` after
//! `pong_timeout_ms` more of silence; any inbound byte starts the timer over;
//! it is off by default.

mod common;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{Config, Error, Instant, LinkError, Session, SessionEvent, State};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn keepalive(interval: u64, timeout: u64) -> Config {
    Config {
        ping_interval_ms: interval,
        pong_timeout_ms: timeout,
        max_message_size: 1 << 16,
        ..Config::default()
    }
}

#[test]
fn off_by_default() {
    let mut conn = open(1);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.handle_timeout(at(u64::MAX / 2)), Ok(()));
    assert!(conn.transmit().is_empty());
    assert_eq!(conn.state(), State::Open);
}

/// Opened at 0: ping exactly at the interval, fail exactly at ping + timeout.
#[test]
fn silent_link_is_pinged_then_failed_at_the_deadlines() {
    let mut conn = open_with(2, keepalive(20_000, 5_000), TX_CAP);
    assert_eq!(conn.poll_timeout(), Some(at(20_000)));
    assert_eq!(conn.handle_timeout(at(19_999)), Ok(()));
    assert!(conn.transmit().is_empty(), "no ping before the interval");
    assert_eq!(conn.handle_timeout(at(20_000)), Ok(()));
    let out = drain(&mut conn);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].opcode, OpCode::Ping);
    assert_eq!(out[0].payload.len(), 4);
    assert_eq!(conn.poll_timeout(), Some(at(25_000)));
    assert_eq!(conn.handle_timeout(at(24_999)), Ok(()));
    assert_eq!(
        conn.handle_timeout(at(25_000)),
        Err(Error::KeepaliveTimeout)
    );
    assert_eq!(conn.state(), State::Closed);
    expect_close_on_wire(&mut conn, Some(1011));
    assert_eq!(Error::KeepaliveTimeout.close_code_sent(), Some(1011));
}

/// Any inbound byte (here a pong, then a text frame) restarts the timer; a
/// busy stream never pings.
#[test]
fn any_inbound_byte_restarts_the_timer() {
    let mut conn = open_with(3, keepalive(1_000, 500), TX_CAP);
    for t in (900..10_000).step_by(900) {
        conn.handle_activity(at(t));
        assert_eq!(conn.handle_timeout(at(t + 999)), Ok(()));
    }
    assert!(conn.transmit().is_empty(), "a busy stream never pings");
    conn.handle_activity(at(20_000));
    assert_eq!(conn.handle_timeout(at(21_000)), Ok(()));
    assert_eq!(drain(&mut conn).len(), 1, "pinged");
    // The pong (any byte) arrives before the timeout: back to the interval.
    conn.handle_activity(at(21_400));
    assert_eq!(conn.poll_timeout(), Some(at(22_400)));
    assert_eq!(conn.handle_timeout(at(21_600)), Ok(()));
    assert_eq!(conn.state(), State::Open);
}

/// A zero pong timeout pings and never fails.
#[test]
fn zero_timeout_pings_only() {
    let mut conn = open_with(4, keepalive(1_000, 0), TX_CAP);
    assert_eq!(conn.handle_timeout(at(1_000)), Ok(()));
    assert_eq!(drain(&mut conn).len(), 1);
    assert_eq!(conn.poll_timeout(), None);
    assert_eq!(conn.handle_timeout(at(1 << 40)), Ok(()));
    assert_eq!(conn.state(), State::Open);
}

/// Through a session: bytes read count as activity; silence ends it with
/// `KeepaliveTimeout`, reported once.
#[test]
fn session_reports_the_timeout_and_reads_count_as_activity() {
    let mut conn = connecting(5, keepalive(1_000, 1_000), TX_CAP);
    let (_, key) = take_request(&mut conn);
    let mut s = Session::new(conn, vec![0u8; 512], vec![0u8; 1 << 16]).unwrap();
    let resp = response_for(&key, "");
    s.read_buf()[..resp.len()].copy_from_slice(&resp);
    s.commit_read(resp.len());
    assert!(matches!(
        s.poll_event(at(0)),
        Some(SessionEvent::Connected { .. })
    ));
    let text = frame(TEXT, b"hi");
    s.read_buf()[..text.len()].copy_from_slice(&text);
    s.commit_read(text.len());
    s.handle_timeout(at(1_500));
    assert!(
        s.transmit().is_empty(),
        "the read at 1500 counts as activity"
    );
    assert!(s.poll_event(at(1_500)).is_some());
    s.handle_timeout(at(2_500));
    assert_eq!(parse_client_frames(s.transmit()).0.len(), 1, "ping");
    s.handle_timeout(at(3_499));
    assert!(s.poll_event(at(3_499)).is_none());
    s.handle_timeout(at(3_500));
    assert_eq!(
        s.poll_event(at(3_500)),
        Some(SessionEvent::Closed(ws_proto::Disconnect::Error(
            Error::KeepaliveTimeout
        )))
    );
    s.handle_link_error(LinkError::Reset);
    assert!(s.poll_event(at(3_500)).is_none());
}
