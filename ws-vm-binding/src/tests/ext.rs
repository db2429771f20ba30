//! The extensions beyond v0.1 over the scripted transport: `sendBinary`,
//! the bytes layouts, `closeWith` and the code/reason layout, `openWith`
//! options (and their bounds), `setKeepalive`, the "connected" protocol
//! layout, [`ErrorCode`] after every -1, the 100 ms reconnect floor, and
//! handles unique across module restarts.

use super::*;

/// An open handle with "message" bound to `message_type`.
fn open_connected(m: &mut M, message_type: EventType) -> (i32, u32) {
    let (h, id) = open_bound(m);
    assert_eq!(m.on(h, "message", message_type), 0);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    take_events(m);
    (h, id)
}

fn last_diagnostic(m: &M) -> &str {
    m.host().diagnostics.last().map_or("", String::as_str)
}

#[test]
fn send_binary_queues_bytes_and_returns_their_length() {
    let mut m = module();
    let (h, id) = open_connected(&mut m, WS_BYTES);
    let data = [0u8, 1, 0, 255, 0];
    assert_eq!(m.send_binary(h, &data), 5);
    assert_eq!(m.last_error(), ErrorCode::None);
    assert_eq!(m.send_binary(h, &[]), 0);
    assert_eq!(
        m.transport().sent_binary,
        vec![(id, data.to_vec()), (id, vec![])]
    );
}

#[test]
fn send_binary_minus_one_paths_say_why() {
    let mut m = module();
    // Not open yet.
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.send_binary(h, b"x"), -1);
    assert_eq!(m.last_error(), ErrorCode::NotOpen);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    // Backpressure: -1, no diagnostic, retry later.
    m.transport_mut().backpressure = true;
    let diags = m.host().diagnostics.len();
    assert_eq!(m.send_binary(h, b"x"), -1);
    assert_eq!(m.last_error(), ErrorCode::Backpressure);
    assert_eq!(m.host().diagnostics.len(), diags, "backpressure is routine");
    assert_eq!(m.send(h, "x"), -1);
    assert_eq!(m.last_error(), ErrorCode::Backpressure);
    m.transport_mut().backpressure = false;
    // The transport's hard limit: TooLarge, never Backpressure.
    m.transport_mut().too_large = true;
    assert_eq!(m.send_binary(h, b"xyz"), -1);
    assert_eq!(m.last_error(), ErrorCode::TooLarge);
    assert!(
        last_diagnostic(&m).contains("transport's outbound limit")
            && last_diagnostic(&m).contains("do not retry"),
        "{}",
        last_diagnostic(&m)
    );
    m.transport_mut().too_large = false;
    // Bad handle.
    assert_eq!(m.send_binary(h + 1, b"x"), -1);
    assert_eq!(m.last_error(), ErrorCode::BadHandle);
    assert_eq!(m.send_binary(-1, b"x"), -1);
    assert_eq!(m.last_error(), ErrorCode::BadHandle);
    // A success clears it.
    assert_eq!(m.send_binary(h, b"ok"), 2);
    assert_eq!(m.last_error(), ErrorCode::None);
}

#[test]
fn messages_over_the_module_limit_name_the_limit() {
    let config = ModuleConfig {
        max_message_size: 8,
        ..ModuleConfig::host()
    };
    let mut m = WsModule::new(Mock::default(), Vm::default(), config, Instant::ZERO);
    let (h, id) = open_bound(&mut m);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(m.send(h, "12345678"), 8);
    assert_eq!(m.send(h, "123456789"), -1);
    assert_eq!(m.last_error(), ErrorCode::TooLarge);
    assert!(
        last_diagnostic(&m).contains("over the limit of 8 bytes (max_message_size)"),
        "{}",
        last_diagnostic(&m)
    );
    assert_eq!(m.send_binary(h, &[0; 9]), -1);
    assert_eq!(m.last_error(), ErrorCode::TooLarge);
    assert_eq!(m.state(h), "open", "the connection stays usable");
    assert_eq!(m.transport().sent, vec![(id, "12345678".to_string())]);
    assert!(m.transport().sent_binary.is_empty());
}

#[test]
fn bytes_layouts_receive_binary_and_text() {
    let mut m = module();
    let (h, id) = open_connected(&mut m, WS_BYTES);
    m.transport_mut().binary(id, &[0, 1, 2, 0]);
    m.transport_mut().text(id, "hé");
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![
            (WS_BYTES, vec![V::B(vec![0, 1, 2, 0])]),
            (WS_BYTES, vec![V::B("hé".as_bytes().to_vec())]),
        ]
    );
    assert_eq!(m.on(h, "message", WS_CONN_BYTES), 0);
    m.transport_mut().binary(id, b"\0z");
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![(WS_CONN_BYTES, vec![V::I(h), V::B(b"\0z".to_vec())])]
    );
}

#[test]
fn string_layouts_still_drop_binary_with_a_diagnostic() {
    for layout in [WS_MESSAGE, WS_CONN_MESSAGE] {
        let mut m = module();
        let (h, id) = open_connected(&mut m, layout);
        m.transport_mut().binary(id, &[1, 2, 3]);
        m.tick(Instant::ZERO);
        assert!(take_events(&mut m).is_empty());
        assert!(
            last_diagnostic(&m).contains("binary message of 3 bytes")
                && last_diagnostic(&m).contains("message:bytes"),
            "{}",
            last_diagnostic(&m)
        );
        assert_eq!(m.state(h), "open");
    }
}

#[test]
fn close_with_sends_the_code_and_reports_it() {
    let mut m = module();
    let (h, id) = open_connected(&mut m, WS_MESSAGE);
    assert_eq!(m.on(h, "disconnected", WS_CLOSED), 0);
    assert_eq!(m.close_with(h, 4000, "bye"), 0);
    assert_eq!(m.state(h), "closed");
    assert_eq!(
        m.transport().close_frames,
        vec![(id, 4000, "bye".to_string())]
    );
    m.tick(Instant::ZERO);
    // The mock's server echoes the code without the reason.
    assert_eq!(
        take_events(&mut m),
        vec![(WS_CLOSED, vec![V::I(h), V::I(4000), V::S(String::new())])]
    );
    assert_eq!(m.close_with(h, 4000, "bye"), -1);
    assert_eq!(m.last_error(), ErrorCode::BadHandle);
}

#[test]
fn close_with_refuses_bad_codes_and_long_reasons_sending_nothing() {
    let mut m = module();
    let (h, _) = open_connected(&mut m, WS_MESSAGE);
    for code in [
        -1,
        0,
        999,
        1004,
        1005,
        1006,
        1015,
        2999,
        5000,
        70_000,
        i32::MAX,
    ] {
        assert_eq!(m.close_with(h, code, ""), -1, "code {code}");
        assert_eq!(m.last_error(), ErrorCode::InvalidArgument);
        assert!(last_diagnostic(&m).contains("may not be sent"));
    }
    let long = "r".repeat(MAX_CLOSE_REASON + 1);
    assert_eq!(m.close_with(h, 1000, &long), -1);
    assert!(last_diagnostic(&m).contains("124 bytes, at most 123"));
    // "é" is 2 bytes: 62 of them are 124 bytes.
    assert_eq!(m.close_with(h, 1000, &"é".repeat(62)), -1);
    assert!(m.transport().close_frames.is_empty(), "nothing sent");
    assert_eq!(m.state(h), "open", "the handle is untouched");
    let fits = "r".repeat(MAX_CLOSE_REASON);
    assert_eq!(m.close_with(h, 3000, &fits), 0);
}

#[test]
fn disconnected_code_and_reason_for_every_ending() {
    let cases: [(Disconnect<'static>, u16, &str); 6] = [
        (
            Disconnect::Clean(CloseFrame {
                code: Some(1001),
                reason: "going away",
            }),
            1001,
            "going away",
        ),
        (
            Disconnect::Clean(CloseFrame {
                code: None,
                reason: "",
            }),
            1005,
            "",
        ),
        (reset(), 1006, ""),
        (
            Disconnect::Error(Error::KeepaliveTimeout),
            1011,
            "keepalive",
        ),
        (
            Disconnect::Error(Error::Protocol(ProtocolError::MessageTooBig)),
            1009,
            "",
        ),
        (
            Disconnect::Redirect(ws_proto::redirect::Redirect {
                status: 302,
                refusal: ws_proto::redirect::RedirectRefusal::TooMany,
                location: b"ws://example.com/next",
            }),
            1006,
            "redirect 302 to ws://example.com/next not followed: too many redirects",
        ),
    ];
    for (ending, code, reason_part) in cases {
        let mut m = module();
        let (h, id) = open_connected(&mut m, WS_MESSAGE);
        assert_eq!(m.on(h, "disconnected", WS_CLOSED), 0);
        m.transport_mut().end(id, ending);
        m.tick(Instant::ZERO);
        let events = take_events(&mut m);
        let [(WS_CLOSED, fields)] = &events[..] else {
            panic!("{events:?}");
        };
        let [V::I(conn), V::I(c), V::S(reason)] = &fields[..] else {
            panic!("{fields:?}");
        };
        assert_eq!((*conn, *c), (h, i32::from(code)), "{ending:?}");
        assert!(reason.contains(reason_part), "{reason:?} for {ending:?}");
        if code == 1006 {
            assert_eq!(reason, &ending.to_string(), "the link error's text");
        }
    }
}

#[test]
fn connected_carries_the_chosen_protocol() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.on(h, "connected", WS_PROTOCOL), 0);
    m.transport_mut().protocol = Some("chat.v2".into());
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![(WS_PROTOCOL, vec![V::I(h), V::S("chat.v2".into())])]
    );
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.on(h, "connected", WS_PROTOCOL), 0);
    m.transport_mut().protocol = None;
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    assert_eq!(
        take_events(&mut m),
        vec![(WS_PROTOCOL, vec![V::I(h), V::S(String::new())])]
    );
}

#[test]
fn on_refuses_hash_mismatches_with_a_code() {
    let mut m = module();
    let (h, _) = open_bound(&mut m);
    let refused = [
        ("connected", WS_CLOSED),
        ("connected", WS_MESSAGE),
        ("disconnected", WS_PROTOCOL),
        ("disconnected", WS_BYTES),
        ("message", WS_CLOSED),
        ("message", WS_PROTOCOL),
        ("message", WS_CONNECTED),
        ("message", OTHER),
    ];
    for (name, ty) in refused {
        assert_eq!(m.on(h, name, ty), -1, "{name} {ty}");
        assert_eq!(m.last_error(), ErrorCode::LayoutMismatch);
        assert!(last_diagnostic(&m).contains("signature hash"));
    }
    assert_eq!(m.on(h, "message", 99), -1);
    assert_eq!(m.last_error(), ErrorCode::LayoutMismatch);
    assert_eq!(m.on(h, "error", WS_CONNECTED), -1);
    assert_eq!(m.last_error(), ErrorCode::UnknownEvent);
    for (name, ty) in [
        ("connected", WS_PROTOCOL),
        ("disconnected", WS_CLOSED),
        ("message", WS_BYTES),
        ("message", WS_CONN_BYTES),
    ] {
        assert_eq!(m.on(h, name, ty), 0, "{name} {ty}");
        assert_eq!(m.last_error(), ErrorCode::None);
    }
}

#[test]
fn open_with_offers_headers_and_protocols_on_every_attempt() {
    let mut m = module();
    let headers = [("Authorization", "Bearer t0k"), ("Origin", "http://x")];
    let protocols = ["chat.v2", "chat"];
    let options = OpenOptions {
        headers: &headers,
        protocols: &protocols,
    };
    let h = m.open_with("ws://h/", &options);
    assert!(h >= 0);
    m.set_auto_reconnect(h, true);
    let id = m.transport().last_id();
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    m.transport_mut().end(id, reset());
    m.tick(Instant::from_millis(10));
    m.tick(Instant::from_millis(1_010));
    let expected = (
        headers
            .iter()
            .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
            .collect::<Vec<_>>(),
        protocols.iter().map(|p| (*p).to_string()).collect(),
    );
    assert_eq!(m.transport().options, vec![expected.clone(), expected]);
}

#[test]
fn open_with_refuses_bad_or_oversized_options_before_opening() {
    let mut m = module();
    let many: Vec<(&str, &str)> = (0..10_000).map(|_| ("X-A", "b")).collect();
    let huge = "p".repeat(1 << 20);
    let list: Vec<&str> = (0..100_000).map(|_| "p").collect();
    let huge_value = "v".repeat(MAX_OPTIONS_BYTES + 1);
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case<'_>; 11] = [
        (&[("X-\0", "v")], &[], "not a token"),
        (&[("", "v")], &[], "not a token"),
        (&[("X A", "v")], &[], "not a token"),
        (&[("X-A", "a\r\nEvil: 1")], &[], "control character"),
        (&[("X-A", "a\0")], &[], "control character"),
        (&[("Sec-WebSocket-Key", "k")], &[], "set by the client"),
        (&many, &[], "10000 headers given, at most 32"),
        (&[("X-A", &huge_value)], &[], "at most 8192"),
        (&[], &[&huge], "at most 8192"),
        (&[], &list, "100000 subprotocols given, at most 16"),
        (&[], &["a b"], "not a token"),
    ];
    for (headers, protocols, why) in cases {
        let h = m.open_with("ws://h/", &OpenOptions { headers, protocols });
        assert_eq!(h, -1);
        assert_eq!(m.last_error(), ErrorCode::InvalidArgument);
        assert!(last_diagnostic(&m).contains(why), "{}", last_diagnostic(&m));
    }
    assert!(m.transport().opens.is_empty(), "nothing was opened");
    assert_eq!(m.slots_in_use(), 0);
}

#[test]
fn open_failures_have_codes() {
    let mut m = module();
    assert_eq!(m.open("http://h/"), -1);
    assert_eq!(m.last_error(), ErrorCode::OpenFailed);
    for _ in 0..16 {
        assert!(m.open("ws://h/") >= 0);
        assert_eq!(m.last_error(), ErrorCode::None);
    }
    assert_eq!(m.open("ws://h/"), -1);
    assert_eq!(m.last_error(), ErrorCode::TooManyConnections);
}

#[test]
fn keepalive_is_on_by_default_and_set_per_handle() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    assert_eq!(m.transport().keepalives, vec![(id, 20_000, 20_000)]);
    assert_eq!(m.set_keepalive(h, 5, 3), 0);
    assert_eq!(m.transport().keepalives.last(), Some(&(id, 5_000, 3_000)));
    // Bad values: -1, nothing changes.
    for (i, t) in [(-1, 5), (5, -1), (MAX_KEEPALIVE_S + 1, 5), (5, i32::MAX)] {
        assert_eq!(m.set_keepalive(h, i, t), -1, "{i} {t}");
        assert_eq!(m.last_error(), ErrorCode::InvalidArgument);
        assert!(last_diagnostic(&m).contains("must each be 0 to 86400"));
    }
    assert_eq!(m.transport().keepalives.len(), 2);
    // A reconnect takes the handle's values.
    m.set_auto_reconnect(h, true);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    m.transport_mut()
        .end(id, Disconnect::Error(Error::KeepaliveTimeout));
    m.tick(Instant::ZERO);
    m.tick(Instant::from_millis(1_000));
    let id2 = m.transport().last_id();
    assert_ne!(id, id2);
    assert_eq!(m.transport().keepalives.last(), Some(&(id2, 5_000, 3_000)));
    // 0 turns it off; the day-long maximum is taken.
    assert_eq!(m.set_keepalive(h, 0, 0), 0);
    assert_eq!(m.transport().keepalives.last(), Some(&(id2, 0, 0)));
    assert_eq!(m.set_keepalive(h, MAX_KEEPALIVE_S, MAX_KEEPALIVE_S), 0);
    assert_eq!(m.set_keepalive(h + 16, 1, 1), -1);
    assert_eq!(m.last_error(), ErrorCode::BadHandle);
    // The configuration's default applies to new handles.
    let config = ModuleConfig {
        keepalive_interval_ms: 0,
        ..ModuleConfig::host()
    };
    let mut m = WsModule::new(Mock::default(), Vm::default(), config, Instant::ZERO);
    let (_, id) = open_bound(&mut m);
    assert_eq!(m.transport().keepalives, vec![(id, 0, 20_000)]);
}

#[test]
fn a_transport_that_refuses_at_once_is_not_retried_in_a_spin() {
    let mut m = module();
    let (h, id) = open_bound(&mut m);
    m.set_auto_reconnect(h, true);
    assert_eq!(m.set_reconnect_delays(h, &[0]), 0);
    m.transport_mut().connect(id);
    m.tick(Instant::ZERO);
    m.transport_mut().fail_open = Some(OpenFailure::NetworkDown);
    m.transport_mut().end(id, reset());
    // One second of 1 ms turns: at most one attempt per 100 ms.
    for t in 0..=1_000 {
        m.tick(Instant::from_millis(t));
    }
    let attempts = m.transport().opens.len() - 1;
    assert_eq!(attempts, 10, "{:?}", m.transport().opens);
}

#[test]
fn handles_stay_unique_across_module_restarts() {
    let mut first = module();
    let old: Vec<i32> = (0..4).map(|_| first.open("ws://h/")).collect();
    drop(first);
    let mut second = module();
    for h in &old {
        assert_eq!(second.state(*h), "closed");
        assert_eq!(second.set_timeout(*h, 0), -1);
    }
    let new: Vec<i32> = (0..4).map(|_| second.open("ws://h/")).collect();
    for h in &new {
        assert!(!old.contains(h), "{h} repeats a handle of the first module");
    }
    for h in &old {
        assert_eq!(second.send(*h, "x"), -1, "an old handle reaches nothing");
        assert_eq!(second.last_error(), ErrorCode::BadHandle);
    }
}
