//! Event signature hashes: FNV-1a 32-bit over the declared fields.
//!
//! A VM event type declares fields in order, e.g. `event WsMessage { message:
//! string }`. Its signature is the UTF-8 text `name:type` of each field, joined
//! by `,` (`"message:string"`), and its hash is FNV-1a 32-bit over that text
//! (offset basis `0x811c9dc5`, prime `0x01000193`). [`crate::WsModule::on`]
//! compares the hash the VM reports for an event type with the layouts each
//! event name accepts, so a handler never reads a field at the wrong place.

/// FNV-1a offset basis (32-bit).
pub const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
/// FNV-1a prime (32-bit).
pub const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a 32-bit of `bytes`.
///
/// ```
/// assert_eq!(ws_vm_binding::fnv1a32(b""), 0x811c9dc5);
/// assert_eq!(ws_vm_binding::fnv1a32(b"conn:i32"), 0xc9a5ee43);
/// ```
pub const fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut hash = FNV_OFFSET_BASIS;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    hash
}

/// The hash of a field list given as `(name, type)` pairs in declared order:
/// FNV-1a over `name:type` joined by `,`, computed without allocating.
///
/// ```
/// use ws_vm_binding::{signature_hash, CONN_MESSAGE_SIGNATURE};
/// assert_eq!(signature_hash(&[("conn", "i32"), ("message", "string")]), CONN_MESSAGE_SIGNATURE);
/// ```
pub fn signature_hash(fields: &[(&str, &str)]) -> u32 {
    let mut hash = FNV_OFFSET_BASIS;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(FNV_PRIME);
        }
    };
    for (i, (name, ty)) in fields.iter().enumerate() {
        if i > 0 {
            feed(b",");
        }
        feed(name.as_bytes());
        feed(b":");
        feed(ty.as_bytes());
    }
    hash
}

/// `hash("conn:i32")`: the layout of "connected" and "disconnected"
/// (`event WsConnected { conn: i32 }`).
pub const CONN_SIGNATURE: u32 = fnv1a32(b"conn:i32");
/// `hash("message:string")`: the document's layout of "message"
/// (`event WsMessage { message: string }`).
pub const MESSAGE_SIGNATURE: u32 = fnv1a32(b"message:string");
/// `hash("conn:i32,message:string")`: the layout "message" also accepts, so
/// one handler can serve several connections.
pub const CONN_MESSAGE_SIGNATURE: u32 = fnv1a32(b"conn:i32,message:string");

/// `hash("message:bytes")`: "message" with binary (and text as its UTF-8
/// bytes); an extension of v0.1.
pub const BYTES_SIGNATURE: u32 = fnv1a32(b"message:bytes");
/// `hash("conn:i32,message:bytes")`: as [`BYTES_SIGNATURE`], with the handle.
pub const CONN_BYTES_SIGNATURE: u32 = fnv1a32(b"conn:i32,message:bytes");
/// `hash("conn:i32,code:i32,reason:string")`: "disconnected" with how the
/// connection ended (the close code and reason, or 1006 and the link error's
/// text); an extension of v0.1.
pub const CONN_CODE_REASON_SIGNATURE: u32 = fnv1a32(b"conn:i32,code:i32,reason:string");
/// `hash("conn:i32,protocol:string")`: "connected" with the subprotocol the
/// server chose ("" for none); an extension of v0.1.
pub const CONN_PROTOCOL_SIGNATURE: u32 = fnv1a32(b"conn:i32,protocol:string");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_test_vectors() {
        assert_eq!(fnv1a32(b"conn:i32"), 0xc9a5_ee43);
        assert_eq!(fnv1a32(b"message:string"), 0x3be9_9e33);
        assert_eq!(fnv1a32(b"conn:i32,message:string"), 0x3c88_4d2b);
        assert_eq!(CONN_SIGNATURE, 0xc9a5_ee43);
        assert_eq!(MESSAGE_SIGNATURE, 0x3be9_9e33);
        assert_eq!(CONN_MESSAGE_SIGNATURE, 0x3c88_4d2b);
        // The extensions' layouts.
        assert_eq!(BYTES_SIGNATURE, 0x8a8d_ec79);
        assert_eq!(CONN_BYTES_SIGNATURE, 0x8e08_c731);
        assert_eq!(CONN_CODE_REASON_SIGNATURE, 0x10b2_902b);
        assert_eq!(CONN_PROTOCOL_SIGNATURE, 0x042d_3608);
        // FNV-1a reference vectors (draft-eastlake-fnv).
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn field_list_matches_joined_text() {
        assert_eq!(signature_hash(&[("conn", "i32")]), CONN_SIGNATURE);
        assert_eq!(signature_hash(&[("message", "string")]), MESSAGE_SIGNATURE);
        assert_eq!(
            signature_hash(&[("conn", "i32"), ("message", "string")]),
            CONN_MESSAGE_SIGNATURE
        );
        // Order matters.
        assert_ne!(
            signature_hash(&[("message", "string"), ("conn", "i32")]),
            CONN_MESSAGE_SIGNATURE
        );
        assert_eq!(signature_hash(&[]), FNV_OFFSET_BASIS);
    }
}
