//! Regression tests for what the cargo-fuzz targets in `fuzz/` found: each is
//! the (minimized) crashing input as plain bytes, replayed without any fuzz
//! dependency.

use ws_proto::handshake::parse_response;
use ws_proto::HandshakeError;

const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";

/// `handshake_response` crash-290ea0b2: with `max_header` 0 the empty input
/// was `HeaderTooLarge` but the 1-byte input `0e` was `Malformed`. More
/// generally, a bad byte past `max_header` made the whole input `Malformed`
/// while the same bytes cut at `max_header` were `HeaderTooLarge`: the error
/// depended on how TCP split the response.
#[test]
fn response_error_does_not_depend_on_the_split_past_max_header() {
    assert_eq!(
        parse_response(b"", KEY, b"", 0),
        Err(HandshakeError::HeaderTooLarge)
    );
    assert_eq!(
        parse_response(b"\x0e", KEY, b"", 0),
        Err(HandshakeError::HeaderTooLarge)
    );

    let input = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: web\x01socket\r\n\r\n";
    let max_header = 40;
    let whole = parse_response(input, KEY, b"", max_header);
    assert_eq!(whole, Err(HandshakeError::HeaderTooLarge));
    for n in max_header..input.len() {
        assert_eq!(
            parse_response(&input[..n], KEY, b"", max_header),
            whole,
            "prefix of {n} bytes"
        );
    }
    // Within the limit a bad byte is still Malformed, at every length from it.
    for n in 47..=input.len() {
        assert_eq!(
            parse_response(&input[..n], KEY, b"", 4096),
            Err(HandshakeError::Malformed),
            "prefix of {n} bytes"
        );
    }
}
