//! `handshake_response`: `parse_response` on arbitrary bytes, whole and as
//! every (or, for long inputs, many) prefixes.
//!
//! Input layout: `[cfg, response ..]`: `cfg & 7` picks `max_header`,
//! `(cfg >> 3) & 3` the offered subprotocol list. The key is RFC 6455's sample.
//!
//! Checked: the result is a function of the bytes seen so far that, once it
//! is decided, never changes as bytes are appended (so the connection's
//! answer does not depend on how TCP split the response): every strict
//! prefix of a complete valid response is `Ok(None)`, and from the first
//! decided prefix on every longer prefix gives the same result;
//! `header_len` is at most the input's length and at most `max_header`; a
//! chosen subprotocol is one that was offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::parse_response;

const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";
const MAX_HEADERS: [usize; 8] = [0, 16, 64, 129, 130, 200, 1024, 8192];
const OFFERED: [&[u8]; 4] = [b"", b"chat", b"chat, superchat", b" a,b ,, c "];

fuzz_target!(|data: &[u8]| {
    let [cfg, input @ ..] = data else {
        return;
    };
    let max_header = MAX_HEADERS[usize::from(cfg & 7)];
    let offered = OFFERED[usize::from((cfg >> 3) & 3)];
    let parse = |n: usize| parse_response(&input[..n], KEY, offered, max_header);

    let whole = parse(input.len());
    if let Ok(Some(r)) = whole {
        assert!(r.header_len > 0);
        assert!(r.header_len <= input.len(), "header_len past the input");
        assert!(r.header_len <= max_header, "header_len over max_header");
        if let Some(p) = r.protocol {
            let offered_it = offered
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii() == p.as_bytes());
            assert!(offered_it, "chose {p:?}, not offered");
        }
    }

    // The prefixes to try: all of them for short inputs, else a spread plus
    // the lengths around the header's end and around max_header.
    let mut lengths: Vec<usize> = if input.len() <= 400 {
        (0..=input.len()).collect()
    } else {
        let step = input.len() / 128 + 1;
        (0..=input.len()).step_by(step).collect()
    };
    let mut near = vec![max_header.saturating_sub(1), max_header, max_header + 1];
    if let Ok(Some(r)) = whole {
        near.extend([r.header_len - 1, r.header_len, r.header_len + 1]);
    }
    lengths.extend(near.into_iter().filter(|&n| n <= input.len()));
    lengths.push(input.len());
    lengths.sort_unstable();
    lengths.dedup();

    let mut decided: Option<(usize, _)> = None;
    for n in lengths {
        let r = parse(n);
        if let Ok(Some(ok)) = whole {
            if n < ok.header_len {
                assert_eq!(
                    r,
                    Ok(None),
                    "prefix {n} of a valid response is not Ok(None)"
                );
            }
        }
        match decided {
            Some((at, first)) => assert_eq!(
                r, first,
                "prefix {n} disagrees with prefix {at} (the result changed as bytes arrived)"
            ),
            None if r != Ok(None) => decided = Some((n, r)),
            None => {}
        }
    }
    if decided.is_none() {
        assert_eq!(whole, Ok(None));
        assert!(input.len() < max_header, "undecided past max_header");
    }
});
