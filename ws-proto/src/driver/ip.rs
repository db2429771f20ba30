//! IP literals in URL hosts (which skip name resolution), parsed in a few
//! hundred bytes of code: `core::net`'s general parser costs about 1.7 KiB
//! of flash at opt-level "z", a tenth of a microcontroller client.
//!
//! IPv4: four decimal octets (`192.168.1.10`), no leading `+`, at most three
//! digits each. IPv6 (the URL already removed the brackets): groups of one to
//! four hex digits, one `::` at most; an embedded IPv4 tail (`::ffff:1.2.3.4`)
//! is accepted. Anything else is a host name, for DNS.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The IP address `host` spells, if it is an IP literal.
pub(crate) fn parse(host: &str, ipv6: bool) -> Option<IpAddr> {
    let s = host.as_bytes();
    if ipv6 {
        parse_v6(s).map(|g| IpAddr::V6(Ipv6Addr::from(g)))
    } else {
        parse_v4(s).map(|o| IpAddr::V4(Ipv4Addr::from(o)))
    }
}

fn parse_v4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut i = 0;
    let mut val: u16 = 0;
    let mut digits = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                if digits == 1 && val == 0 {
                    return None; // a leading zero
                }
                val = val * 10 + u16::from(b - b'0');
                digits += 1;
                if val > 255 {
                    return None;
                }
            }
            b'.' if digits > 0 && i < 3 => {
                out[i] = val as u8;
                i += 1;
                val = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if digits == 0 || i != 3 {
        return None;
    }
    out[3] = val as u8;
    Some(out)
}

fn hex(b: u8) -> Option<u16> {
    let v = match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => return None,
    };
    Some(u16::from(v))
}

fn parse_v6(s: &[u8]) -> Option<[u16; 8]> {
    let mut g = [0u16; 8];
    let mut n = 0;
    let mut gap = None;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = Some(0);
        i = 2;
    }
    while i < s.len() {
        let end = s[i..]
            .iter()
            .position(|&b| b == b':')
            .map_or(s.len(), |p| i + p);
        let part = &s[i..end];
        if end == s.len() && part.contains(&b'.') {
            // An IPv4 tail: the last two groups.
            let v4 = parse_v4(part)?;
            if n > 6 {
                return None;
            }
            g[n] = u16::from_be_bytes([v4[0], v4[1]]);
            g[n + 1] = u16::from_be_bytes([v4[2], v4[3]]);
            n += 2;
            break;
        }
        if part.is_empty() || part.len() > 4 || n >= 8 {
            return None;
        }
        let mut v = 0u16;
        for &b in part {
            v = v << 4 | hex(b)?;
        }
        g[n] = v;
        n += 1;
        i = end;
        if i < s.len() {
            i += 1; // the ':'
            if s.get(i) == Some(&b':') {
                if gap.is_some() {
                    return None;
                }
                gap = Some(n);
                i += 1;
            } else if i == s.len() {
                return None; // a trailing single ':'
            }
        }
    }
    match gap {
        None if n == 8 => Some(g),
        Some(at) if n <= 7 => {
            let tail = n - at;
            g.copy_within(at..n, 8 - tail);
            g[at..8 - tail].fill(0);
            Some(g)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use core::net::IpAddr;

    #[test]
    fn literals_parse_like_core_net() {
        for s in ["127.0.0.1", "192.168.1.10", "0.0.0.0", "255.255.255.255"] {
            assert_eq!(parse(s, false), s.parse::<IpAddr>().ok(), "{s}");
        }
        for s in [
            "::1",
            "::",
            "fe80::1",
            "2001:db8::8a2e:370:7334",
            "1:2:3:4:5:6:7:8",
            "1::8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "::ffff:192.168.1.1",
            "ABCD:ef01::",
        ] {
            assert_eq!(parse(s, true), s.parse::<IpAddr>().ok(), "{s}");
            assert!(parse(s, true).is_some(), "{s}");
        }
        for s in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            "a.b.c.d",
            "",
            "1.2.3.4 ",
            "0001.2.3.4",
            "1.2.3.04",
            "example.com",
            "+1.2.3.4",
        ] {
            assert_eq!(parse(s, false), None, "{s}");
        }
        for s in [
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1",
            "1:",
            "12345::",
            "g::",
            "1:2:3:4:5:6:7:8::",
            "::1.2.3.4.5",
            ":::",
            "+1::",
        ] {
            assert_eq!(parse(s, true), None, "{s}");
            assert_eq!(s.parse::<core::net::Ipv6Addr>().ok(), None, "{s}");
        }
    }

    /// Random strings over the literals' alphabet parse as `core::net` says.
    #[test]
    fn random_strings_agree_with_core_net() {
        const ALPHABET: &[u8] = b"0123456789abcdefAF:.:.:x";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut buf = [0u8; 24];
        for _ in 0..if cfg!(miri) { 200 } else { 200_000 } {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let mut r = seed;
            for b in &mut buf[..len] {
                r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                *b = ALPHABET[(r >> 33) as usize % ALPHABET.len()];
            }
            let Ok(s) = core::str::from_utf8(&buf[..len]) else {
                continue;
            };
            let v4 = s.parse::<core::net::Ipv4Addr>().ok().map(IpAddr::V4);
            let v6 = s.parse::<core::net::Ipv6Addr>().ok().map(IpAddr::V6);
            assert_eq!(parse(s, false), v4, "{s}");
            assert_eq!(parse(s, true), v6, "{s}");
        }
    }
}
