//! The C ABI (feature `capi`): the module for a VM written in C, declared in
//! `include/ws_module.h` and linked from the static library
//! `libws_vm_binding.a` (with `-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`).
//!
//! One module per process, over the std transport, behind a mutex. The C
//! host registers its callbacks with [`ws_init`]. Events and diagnostics
//! are collected while the module runs and delivered to the callbacks after
//! the module's lock is released, so an `emit` callback may call `ws_send`
//! and the other functions (the Command Channel pattern does). Only the
//! `signature_hash` callback runs under the lock: it must not call `ws_*`.
//!
//! Every pointer argument is checked for null; strings must be
//! NUL-terminated UTF-8, or UTF-8 of a given length for
//! [`ws_send_text_len`] (anything else makes the call return -1 with a
//! diagnostic). After any -1, [`ws_last_error`] says why (`ws_error`).
//! Arrays are read only as far as their bound ([`MAX_DELAYS`],
//! [`MAX_HEADERS`], [`MAX_PROTOCOLS`]) plus one. This is the only module of
//! the crate with `unsafe` code, each block with its `// SAFETY:` argument.
#![allow(unsafe_code)]

use core::ffi::{c_char, c_void, CStr};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ws_proto::Instant;
use ws_transport_std::{Client, ClientConfig};

use crate::error::ErrorCode;
use crate::host::{EventType, Host, Value};
use crate::module::{HandleState, ModuleConfig, WsModule, MAX_DELAYS, MAX_KEEPALIVE_S};
use crate::options::{OpenOptions, MAX_HEADERS, MAX_PROTOCOLS};

/// `ws_value.kind` of an `i32` field.
pub const WS_VALUE_I32: i32 = 0;
/// `ws_value.kind` of a `string` field.
pub const WS_VALUE_STR: i32 = 1;
/// `ws_value.kind` of a `bytes` field (`message:bytes`).
pub const WS_VALUE_BYTES: i32 = 2;

/// One event field, as C sees it (`ws_value` in the header).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct ws_value {
    /// [`WS_VALUE_I32`], [`WS_VALUE_STR`] or [`WS_VALUE_BYTES`].
    pub kind: i32,
    /// The value of an `i32` field (0 otherwise).
    pub i32: i32,
    /// A string field: NUL-terminated UTF-8; a bytes field: `len` bytes
    /// (followed by a NUL that is not part of them). Valid during the
    /// callback only; null for an `i32` field.
    pub str: *const c_char,
    /// The length in bytes, without the NUL (either may contain NULs).
    pub len: usize,
}

/// Looks up the signature hash of an event type: writes it to `*hash` and
/// returns 0, or returns -1 for an unknown type.
pub type SignatureHashFn = extern "C" fn(user: *mut c_void, event_type: i32, hash: *mut u32) -> i32;
/// Receives an event of a bound type with `count` fields.
pub type EmitFn =
    extern "C" fn(user: *mut c_void, event_type: i32, fields: *const ws_value, count: usize);
/// Receives a diagnostic (NUL-terminated, valid during the call).
pub type DiagnosticFn = extern "C" fn(user: *mut c_void, message: *const c_char);

/// The C host's callbacks (`ws_host` in the header).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct ws_host {
    /// Passed back to every callback.
    pub user: *mut c_void,
    /// Required.
    pub signature_hash: Option<SignatureHashFn>,
    /// Required.
    pub emit: Option<EmitFn>,
    /// Optional (null: diagnostics are dropped).
    pub diagnostic: Option<DiagnosticFn>,
}

/// The host's `user` pointer, opaque to the module: only passed back.
#[derive(Clone, Copy, Debug)]
struct UserPtr(*mut c_void);

// SAFETY: the module never dereferences the pointer; it hands it back to the
// C host's callbacks, and the header's contract is that the callbacks and
// `user` may be used from whichever thread calls the `ws_*` functions (the
// module itself lives in a `static` behind a mutex, hence `Send`).
unsafe impl Send for UserPtr {}

/// The host's callbacks.
#[derive(Clone, Copy, Debug)]
struct Callbacks {
    user: UserPtr,
    signature_hash: SignatureHashFn,
    emit: EmitFn,
    diagnostic: Option<DiagnosticFn>,
}

impl Callbacks {
    fn user(&self) -> *mut c_void {
        self.user.0
    }
}

/// An event or diagnostic waiting for the lock to be released.
#[derive(Debug)]
enum Pending {
    Emit(EventType, Vec<Field>),
    Diagnostic(Vec<u8>),
}

/// An owned field; strings and bytes keep a trailing NUL for C.
#[derive(Debug)]
enum Field {
    I32(i32),
    Str(Vec<u8>),
    Bytes(Vec<u8>),
}

fn nul_terminated(s: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s);
    v.push(0);
    v
}

/// The [`Host`] behind the C ABI: hashes through the callback, queues the rest.
#[derive(Debug)]
struct CHost {
    callbacks: Callbacks,
    pending: Vec<Pending>,
}

impl Host for CHost {
    fn signature_hash(&self, event_type: EventType) -> Option<u32> {
        let mut hash = 0u32;
        let rc = (self.callbacks.signature_hash)(self.callbacks.user(), event_type, &mut hash);
        (rc == 0).then_some(hash)
    }

    fn emit(&mut self, event_type: EventType, fields: &[Value<'_>]) {
        let fields = fields
            .iter()
            .map(|f| match f {
                Value::I32(i) => Field::I32(*i),
                Value::Str(s) => Field::Str(nul_terminated(s.as_bytes())),
                Value::Bytes(b) => Field::Bytes(nul_terminated(b)),
            })
            .collect();
        self.pending.push(Pending::Emit(event_type, fields));
    }

    fn diagnostic(&mut self, message: &str) {
        // Interior NULs would cut the message short in C; none are expected.
        let clean: String = message.chars().filter(|c| *c != '\0').collect();
        self.pending
            .push(Pending::Diagnostic(nul_terminated(clean.as_bytes())));
    }
}

/// Calls the C callbacks for what the module queued (without the lock).
fn deliver(callbacks: Callbacks, pending: Vec<Pending>) {
    for p in pending {
        match p {
            Pending::Emit(event_type, fields) => {
                let values: Vec<ws_value> = fields
                    .iter()
                    .map(|f| match f {
                        Field::I32(i) => ws_value {
                            kind: WS_VALUE_I32,
                            i32: *i,
                            str: core::ptr::null(),
                            len: 0,
                        },
                        Field::Str(bytes) | Field::Bytes(bytes) => ws_value {
                            kind: if matches!(f, Field::Str(_)) {
                                WS_VALUE_STR
                            } else {
                                WS_VALUE_BYTES
                            },
                            i32: 0,
                            str: bytes.as_ptr().cast::<c_char>(),
                            len: bytes.len().saturating_sub(1),
                        },
                    })
                    .collect();
                // `values` points into `fields`, both alive for the call.
                (callbacks.emit)(callbacks.user(), event_type, values.as_ptr(), values.len());
            }
            Pending::Diagnostic(text) => {
                if let Some(d) = callbacks.diagnostic {
                    d(callbacks.user(), text.as_ptr().cast::<c_char>());
                }
            }
        }
    }
}

type CModule = WsModule<Client, CHost>;

static MODULE: Mutex<Option<CModule>> = Mutex::new(None);

/// Why the last call returned -1 ([`ErrorCode`] as a number).
static LAST_ERROR: AtomicI32 = AtomicI32::new(0);

fn set_last_error(code: ErrorCode) {
    LAST_ERROR.store(code.code(), Ordering::Relaxed);
}

fn lock() -> MutexGuard<'static, Option<CModule>> {
    // A panic while holding the lock cannot leave the module half-updated in
    // a way that matters more than refusing all further calls would.
    MODULE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `f` on the module (or returns `absent` before `ws_init`), then
/// delivers what it queued after releasing the lock.
fn with_module<R>(absent: R, f: impl FnOnce(&mut CModule) -> R) -> R {
    let (result, callbacks, pending) = {
        let mut guard = lock();
        let Some(module) = guard.as_mut() else {
            set_last_error(ErrorCode::NotInitialized);
            return absent;
        };
        let result = f(module);
        set_last_error(module.last_error());
        let host = module.host_mut();
        (result, host.callbacks, core::mem::take(&mut host.pending))
    };
    deliver(callbacks, pending);
    result
}

/// Reports a bad argument through the module's diagnostic channel; the
/// call returns -1 with [`ErrorCode::InvalidArgument`].
fn report(message: &str) {
    with_module((), |m| m.host_mut().diagnostic(message));
    set_last_error(ErrorCode::InvalidArgument);
}

/// Reads a NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `p` is null or points to a NUL-terminated string that stays valid and
/// unmodified for `'a`.
unsafe fn read_str<'a>(p: *const c_char, what: &str) -> Option<&'a str> {
    if p.is_null() {
        report(&format!("ws: {what} is null"));
        return None;
    }
    // SAFETY: non-null, and the caller guarantees a NUL-terminated string
    // valid for 'a (the function's contract, passed on from the C caller).
    let bytes = unsafe { CStr::from_ptr(p) };
    match bytes.to_str() {
        Ok(s) => Some(s),
        Err(_) => {
            report(&format!("ws: {what} is not UTF-8"));
            None
        }
    }
}

/// Reads up to `MAX_DELAYS + 1` of the `count` delays at `p`.
///
/// # Safety
///
/// When `count > 0`, `p` is null or points to `count` readable `i64`s.
unsafe fn read_delays<'a>(p: *const i64, count: usize) -> Option<&'a [i64]> {
    if count == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        report("ws_set_reconnect_delays: delays is null");
        return None;
    }
    let n = count.min(MAX_DELAYS + 1);
    // SAFETY: non-null, aligned and readable for `count >= n` elements by the
    // caller's contract; i64 has no invalid bit patterns.
    Some(unsafe { core::slice::from_raw_parts(p, n) })
}

/// Reads `len` bytes at `p` (`what` names the argument in diagnostics).
///
/// # Safety
///
/// When `len > 0`, `p` is null or points to `len` readable bytes that stay
/// valid and unmodified for `'a`.
unsafe fn read_bytes<'a>(p: *const u8, len: usize, what: &str) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        report(&format!("ws: {what} is null"));
        return None;
    }
    if isize::try_from(len).is_err() {
        report(&format!("ws: {what}: length {len} is not a possible size"));
        return None;
    }
    // SAFETY: non-null, `len` readable bytes by the caller's contract, and
    // `len <= isize::MAX` (checked above).
    Some(unsafe { core::slice::from_raw_parts(p, len) })
}

/// One extra header of `ws_open_with` (`ws_header` in the header).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct ws_header {
    /// NUL-terminated UTF-8 header name (an RFC 7230 token).
    pub name: *const c_char,
    /// NUL-terminated UTF-8 value (no control characters).
    pub value: *const c_char,
}

/// The options of `ws_open_with` (`ws_open_options` in the header).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(non_camel_case_types)]
pub struct ws_open_options {
    /// `header_count` headers (may be null when the count is 0).
    pub headers: *const ws_header,
    /// At most [`MAX_HEADERS`].
    pub header_count: usize,
    /// `protocol_count` NUL-terminated subprotocols, in order of preference.
    pub protocols: *const *const c_char,
    /// At most [`MAX_PROTOCOLS`].
    pub protocol_count: usize,
}

/// The strings of `ws_open_options`, borrowed from the caller.
#[derive(Debug, Default, PartialEq, Eq)]
struct ReadOptions<'a> {
    headers: Vec<(&'a str, &'a str)>,
    protocols: Vec<&'a str>,
}

/// Reads the options (null: none), refusing counts over their bounds
/// before reading any entry.
///
/// # Safety
///
/// `o` is null or points to a valid `ws_open_options` whose arrays hold
/// their counts of entries, each string null or NUL-terminated, all valid
/// and unmodified for `'a`.
unsafe fn read_options<'a>(o: *const ws_open_options) -> Option<ReadOptions<'a>> {
    if o.is_null() {
        return Some(ReadOptions::default());
    }
    // SAFETY: non-null and valid by the contract; the struct is `Copy` and
    // any bit pattern of its fields is valid.
    let o = unsafe { *o };
    if o.header_count > MAX_HEADERS || o.protocol_count > MAX_PROTOCOLS {
        report(&format!(
            "ws_open_with: {} headers and {} subprotocols given, at most {MAX_HEADERS} and {MAX_PROTOCOLS}",
            o.header_count, o.protocol_count
        ));
        return None;
    }
    let mut read = ReadOptions::default();
    if o.header_count > 0 {
        if o.headers.is_null() {
            report("ws_open_with: headers is null");
            return None;
        }
        // SAFETY: non-null, `header_count` (bounded above) entries by the
        // contract; `ws_header` is two pointers, any bit pattern valid.
        let headers = unsafe { core::slice::from_raw_parts(o.headers, o.header_count) };
        for h in headers {
            // SAFETY: each string is null or NUL-terminated by the contract.
            let name = unsafe { read_str(h.name, "ws_open_with: header name") }?;
            // SAFETY: as above.
            let value = unsafe { read_str(h.value, "ws_open_with: header value") }?;
            read.headers.push((name, value));
        }
    }
    if o.protocol_count > 0 {
        if o.protocols.is_null() {
            report("ws_open_with: protocols is null");
            return None;
        }
        // SAFETY: non-null, `protocol_count` (bounded above) pointers by the
        // contract.
        let protocols = unsafe { core::slice::from_raw_parts(o.protocols, o.protocol_count) };
        for p in protocols {
            // SAFETY: each string is null or NUL-terminated by the contract.
            read.protocols
                .push(unsafe { read_str(*p, "ws_open_with: subprotocol") }?);
        }
    }
    Some(read)
}

/// The module's configuration for [`ws_init_ex`] (`ws_config` in the
/// header); start from [`ws_config_default`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub struct ws_config {
    /// Live handles at most, 1 to 16 (default 16).
    pub max_connections: u32,
    /// Keepalive of new connections: ping after this many seconds of
    /// silence, 0 to 86400, 0 off (default 20).
    pub keepalive_interval_s: u32,
    /// Keepalive: fail after this many more seconds without a byte, 0 to
    /// 86400, 0 never (default 20).
    pub keepalive_timeout_s: u32,
    /// The largest message sent or received, bytes (default 16 MiB).
    pub max_message_size: usize,
    /// The receive buffer's limit per connection, bytes (default 64 KiB).
    pub rx_buffer: usize,
    /// The outbound queue's soft mark per connection, bytes (default 256 KiB).
    pub tx_capacity: usize,
}

/// The default configuration (what [`ws_init`] uses).
#[no_mangle]
pub extern "C" fn ws_config_default() -> ws_config {
    let client = ClientConfig::default();
    let module = ModuleConfig::host();
    ws_config {
        max_connections: 16,
        keepalive_interval_s: 20,
        keepalive_timeout_s: 20,
        max_message_size: client.max_message_size.min(module.max_message_size),
        rx_buffer: client.rx_buffer,
        tx_capacity: client.tx_capacity,
    }
}

/// The module and client configurations of `c`, or why it is refused.
fn configs(c: &ws_config) -> Result<(ModuleConfig, ClientConfig), String> {
    let n = usize::try_from(c.max_connections).unwrap_or(usize::MAX);
    if !(1..=crate::HOST_MAX_CONNECTIONS).contains(&n) {
        return Err(format!(
            "max_connections {} is not 1 to {}",
            c.max_connections,
            crate::HOST_MAX_CONNECTIONS
        ));
    }
    let limit = u32::try_from(MAX_KEEPALIVE_S).unwrap_or(u32::MAX);
    if c.keepalive_interval_s > limit || c.keepalive_timeout_s > limit {
        return Err(format!(
            "keepalive {} s / {} s: each must be 0 to {limit}",
            c.keepalive_interval_s, c.keepalive_timeout_s
        ));
    }
    let module = ModuleConfig {
        max_connections: n,
        max_message_size: c.max_message_size,
        keepalive_interval_ms: u64::from(c.keepalive_interval_s) * 1_000,
        keepalive_timeout_ms: u64::from(c.keepalive_timeout_s) * 1_000,
    };
    let client = ClientConfig {
        max_connections: n,
        max_message_size: c.max_message_size,
        rx_buffer: c.rx_buffer,
        tx_capacity: c.tx_capacity,
        ..ClientConfig::default()
    };
    Ok((module, client))
}

/// Passes an `init` failure to the host's diagnostic callback (there is no
/// module to queue it) and returns -1.
fn init_failed(host: &ws_host, message: &str) -> i32 {
    set_last_error(ErrorCode::NotInitialized);
    if let Some(d) = host.diagnostic {
        let text = nul_terminated(message.replace('\0', "").as_bytes());
        d(host.user, text.as_ptr().cast::<c_char>());
    }
    -1
}

/// Starts (or restarts) the module with the host's callbacks; `now_ms` is
/// the VM's monotonic clock. A previous module and its connections are
/// dropped. Returns 0, or -1 (null `host`, a required callback missing, the
/// transport could not start).
///
/// # Safety
///
/// `host` is null or points to a valid `ws_host`; its callbacks and `user`
/// stay valid until `ws_shutdown` or the next `ws_init`.
#[no_mangle]
pub unsafe extern "C" fn ws_init(host: *const ws_host, now_ms: u64) -> i32 {
    // SAFETY: forwarded from this function's contract; null: the default.
    unsafe { ws_init_ex(host, core::ptr::null(), now_ms) }
}

/// [`ws_init`] with a configuration (null: [`ws_config_default`]). -1 (and
/// [`ErrorCode::NotInitialized`], with the reason passed to the host's
/// diagnostic callback) for a null `host`, a required callback missing, a
/// configuration out of range, or a transport that could not start; a
/// module already running stays as it was.
///
/// # Safety
///
/// As [`ws_init`]; `config` is null or points to a valid `ws_config`.
#[no_mangle]
pub unsafe extern "C" fn ws_init_ex(
    host: *const ws_host,
    config: *const ws_config,
    now_ms: u64,
) -> i32 {
    if host.is_null() {
        set_last_error(ErrorCode::NotInitialized);
        return -1;
    }
    // SAFETY: non-null and valid by the caller's contract; `ws_host` is
    // `Copy` and every bit pattern of its fields is valid (`Option<fn>`
    // admits null).
    let host = unsafe { *host };
    let (Some(signature_hash), Some(emit)) = (host.signature_hash, host.emit) else {
        return init_failed(&host, "ws_init: signature_hash and emit are required");
    };
    let config = if config.is_null() {
        ws_config_default()
    } else {
        // SAFETY: non-null and valid by the contract; plain integers.
        unsafe { *config }
    };
    let (module_config, client_config) = match configs(&config) {
        Ok(c) => c,
        Err(why) => return init_failed(&host, &format!("ws_init_ex: {why}")),
    };
    let client = match Client::new(client_config) {
        Ok(c) => c,
        Err(e) => return init_failed(&host, &format!("ws_init_ex: {e}")),
    };
    let chost = CHost {
        callbacks: Callbacks {
            user: UserPtr(host.user),
            signature_hash,
            emit,
            diagnostic: host.diagnostic,
        },
        pending: Vec::new(),
    };
    let module = WsModule::new(client, chost, module_config, Instant::from_millis(now_ms));
    let old = lock().replace(module);
    drop(old);
    set_last_error(ErrorCode::None);
    0
}

/// Drops the module and every connection (without close handshakes).
#[no_mangle]
pub extern "C" fn ws_shutdown() {
    let old = lock().take();
    drop(old);
}

/// `ws.open(url)`: the handle, or -1.
///
/// # Safety
///
/// `url` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_open(url: *const c_char) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(url) = (unsafe { read_str(url, "ws_open: url") }) else {
        return -1;
    };
    with_module(-1, |m| m.open(url))
}

/// `ws.close(conn)`: 0, or -1 for a bad handle.
#[no_mangle]
pub extern "C" fn ws_close(conn: i32) -> i32 {
    with_module(-1, |m| m.close(conn))
}

/// `ws.send(conn, msg)`: the payload length in bytes, or -1 (backpressure,
/// not open, bad handle).
///
/// # Safety
///
/// `msg` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_send(conn: i32, msg: *const c_char) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(msg) = (unsafe { read_str(msg, "ws_send: msg") }) else {
        return -1;
    };
    with_module(-1, |m| m.send(conn, msg))
}

/// `ws.on(conn, event, EventType)`: 0, or -1.
///
/// # Safety
///
/// `event` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_on(conn: i32, event: *const c_char, event_type: i32) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(event) = (unsafe { read_str(event, "ws_on: event") }) else {
        return -1;
    };
    with_module(-1, |m| m.on(conn, event, event_type))
}

/// `ws.setAutoReconnect(conn, enabled)` (`enabled` non-zero: on): 0, or -1.
#[no_mangle]
pub extern "C" fn ws_set_auto_reconnect(conn: i32, enabled: i32) -> i32 {
    with_module(-1, |m| m.set_auto_reconnect(conn, enabled != 0))
}

/// `ws.setReconnectDelays(conn, delays)`: `count` delays in seconds. 0, or
/// -1 (more than 8, a negative one, a null array, a bad handle).
///
/// # Safety
///
/// When `count > 0`, `delays` is null or points to `count` `int64_t`s.
#[no_mangle]
pub unsafe extern "C" fn ws_set_reconnect_delays(
    conn: i32,
    delays: *const i64,
    count: usize,
) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(d) = (unsafe { read_delays(delays, count) }) else {
        return -1;
    };
    with_module(-1, |m| m.set_reconnect_delays_given(conn, d, count))
}

/// `ws.state(conn)`: a static NUL-terminated "connecting", "open" or "closed".
#[no_mangle]
pub extern "C" fn ws_state(conn: i32) -> *const c_char {
    let s: &'static CStr = match with_module(HandleState::Closed, |m| m.state(conn)) {
        HandleState::Connecting => c"connecting",
        HandleState::Open => c"open",
        HandleState::Closed => c"closed",
    };
    s.as_ptr()
}

/// `ws.ping(conn)`: 0, or -1.
#[no_mangle]
pub extern "C" fn ws_ping(conn: i32) -> i32 {
    with_module(-1, |m| m.ping(conn))
}

/// `ws.setTimeout(conn, ms)`: a no-op; 0, or -1 for a bad handle.
#[no_mangle]
pub extern "C" fn ws_set_timeout(conn: i32, ms: i32) -> i32 {
    with_module(-1, |m| m.set_timeout(conn, ms))
}

/// `ws.openWith(url, options)`: [`ws_open`] with extra headers and
/// subprotocols (`options` null: none). The handle, or -1.
///
/// # Safety
///
/// `url` is null or a NUL-terminated string; `options` is null or points
/// to a valid `ws_open_options` whose arrays hold their counts of entries,
/// each string null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ws_open_with(url: *const c_char, options: *const ws_open_options) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(url) = (unsafe { read_str(url, "ws_open_with: url") }) else {
        return -1;
    };
    // SAFETY: forwarded from this function's contract.
    let Some(o) = (unsafe { read_options(options) }) else {
        return -1;
    };
    let options = OpenOptions {
        headers: &o.headers,
        protocols: &o.protocols,
    };
    with_module(-1, |m| m.open_with(url, &options))
}

/// `ws.send(conn, msg)` for text of `len` bytes that may contain NUL: the
/// length, or -1 (as [`ws_send`]; also text that is not UTF-8).
///
/// # Safety
///
/// When `len > 0`, `msg` is null or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_send_text_len(conn: i32, msg: *const c_char, len: usize) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(bytes) = (unsafe { read_bytes(msg.cast::<u8>(), len, "ws_send_text_len: msg") })
    else {
        return -1;
    };
    let Ok(text) = core::str::from_utf8(bytes) else {
        report("ws_send_text_len: msg is not UTF-8");
        return -1;
    };
    with_module(-1, |m| m.send(conn, text))
}

/// `ws.sendBinary(conn, data)`: `len` bytes as one binary message. The
/// length, or -1 (as [`ws_send`]).
///
/// # Safety
///
/// When `len > 0`, `data` is null or points to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn ws_send_binary(conn: i32, data: *const u8, len: usize) -> i32 {
    // SAFETY: forwarded from this function's contract.
    let Some(bytes) = (unsafe { read_bytes(data, len, "ws_send_binary: data") }) else {
        return -1;
    };
    with_module(-1, |m| m.send_binary(conn, bytes))
}

/// `ws.closeWith(conn, code, reason)`: [`ws_close`] with a close code and a
/// reason of at most 123 bytes (`reason` null: empty). 0, or -1 with nothing
/// sent (invalid code, reason too long or not UTF-8, bad handle).
///
/// # Safety
///
/// `reason` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ws_close_with(conn: i32, code: i32, reason: *const c_char) -> i32 {
    let reason = if reason.is_null() {
        ""
    } else {
        // SAFETY: non-null, NUL-terminated by this function's contract.
        match unsafe { read_str(reason, "ws_close_with: reason") } {
            Some(r) => r,
            None => return -1,
        }
    };
    with_module(-1, |m| m.close_with(conn, code, reason))
}

/// `ws.setKeepalive(conn, interval_s, timeout_s)`: 0, or -1 (a value
/// outside 0..=86400, bad handle).
#[no_mangle]
pub extern "C" fn ws_set_keepalive(conn: i32, interval_s: i32, timeout_s: i32) -> i32 {
    with_module(-1, |m| m.set_keepalive(conn, interval_s, timeout_s))
}

/// Why the last call returned -1 (`WS_ERR_*`, 0 after a success).
#[no_mangle]
pub extern "C" fn ws_last_error() -> i32 {
    LAST_ERROR.load(Ordering::Relaxed)
}

/// One turn of the event loop at `now_ms`: emits events through the callbacks.
#[no_mangle]
pub extern "C" fn ws_tick(now_ms: u64) {
    with_module((), |m| m.tick(Instant::from_millis(now_ms)));
}

/// Sleeps until a socket is ready, a timer or reconnect is due, or `max_ms`
/// passes. Returns 0, or -1 before `ws_init`.
#[no_mangle]
pub extern "C" fn ws_wait(max_ms: u32) -> i32 {
    // The sleep happens under the lock; C callbacks do not run meanwhile.
    with_module(-1, |m| {
        m.wait(Duration::from_millis(u64::from(max_ms)));
        0
    })
}

#[cfg(test)]
mod tests {
    //! Pointer handling, runnable under Miri (no sockets):
    //! `cargo +nightly miri test -p ws-vm-binding --features capi --lib capi::`

    use super::*;
    use std::sync::Mutex as StdMutex;

    /// A field as the callback saw it: (kind, i32, string bytes).
    type SeenField = (i32, i32, Option<Vec<u8>>);

    /// What the test callbacks saw: (event type, fields).
    static SEEN: StdMutex<Vec<(i32, Vec<SeenField>)>> = StdMutex::new(Vec::new());
    static DIAGS: StdMutex<Vec<String>> = StdMutex::new(Vec::new());

    extern "C" fn emit(user: *mut c_void, event_type: i32, fields: *const ws_value, count: usize) {
        // SAFETY: the tests pass a pointer to `USER`.
        assert_eq!(unsafe { *user.cast::<u32>() }, 0x1234);
        // SAFETY: `deliver` passes `count` valid fields.
        let fields = unsafe { core::slice::from_raw_parts(fields, count) };
        let owned = fields
            .iter()
            .map(|f| {
                let s = (!f.str.is_null()).then(|| {
                    // SAFETY: `len` bytes plus a NUL are readable at `str`.
                    let with_nul =
                        unsafe { core::slice::from_raw_parts(f.str.cast::<u8>(), f.len + 1) };
                    assert_eq!(with_nul[f.len], 0, "NUL-terminated");
                    with_nul[..f.len].to_vec()
                });
                (f.kind, f.i32, s)
            })
            .collect();
        SEEN.lock().unwrap().push((event_type, owned));
    }

    extern "C" fn diagnostic(_user: *mut c_void, message: *const c_char) {
        // SAFETY: `deliver` passes a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(message) };
        DIAGS.lock().unwrap().push(s.to_str().unwrap().to_owned());
    }

    /// Diagnostics of `ws_init_ex` failures (apart from `DIAGS`, which
    /// another test checks whole).
    static INIT_DIAGS: StdMutex<Vec<String>> = StdMutex::new(Vec::new());

    extern "C" fn init_diagnostic(_user: *mut c_void, message: *const c_char) {
        // SAFETY: `init_failed` passes a NUL-terminated string.
        let s = unsafe { CStr::from_ptr(message) };
        INIT_DIAGS
            .lock()
            .unwrap()
            .push(s.to_str().unwrap().to_owned());
    }

    extern "C" fn signature_hash(_user: *mut c_void, event_type: i32, hash: *mut u32) -> i32 {
        if event_type != 7 {
            return -1;
        }
        // SAFETY: `CHost::signature_hash` passes a valid `u32` location.
        unsafe { *hash = crate::CONN_SIGNATURE };
        0
    }

    static USER: u32 = 0x1234;

    fn callbacks() -> Callbacks {
        Callbacks {
            user: UserPtr(core::ptr::from_ref(&USER).cast_mut().cast::<c_void>()),
            signature_hash,
            emit,
            diagnostic: Some(diagnostic),
        }
    }

    #[test]
    fn events_and_diagnostics_reach_c_callbacks() {
        let mut host = CHost {
            callbacks: callbacks(),
            pending: Vec::new(),
        };
        assert_eq!(host.signature_hash(7), Some(crate::CONN_SIGNATURE));
        assert_eq!(host.signature_hash(8), None);
        host.emit(3, &[Value::I32(16), Value::Str("a\0b €")]);
        host.emit(4, &[]);
        host.diagnostic("hello\0world");
        deliver(host.callbacks, core::mem::take(&mut host.pending));
        let seen = SEEN.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (
                    3,
                    vec![
                        (WS_VALUE_I32, 16, None),
                        (WS_VALUE_STR, 0, Some(b"a\0b \xe2\x82\xac".to_vec()))
                    ]
                ),
                (4, vec![])
            ]
        );
        assert_eq!(
            DIAGS.lock().unwrap().clone(),
            vec!["helloworld".to_string()]
        );
    }

    #[test]
    fn string_and_array_arguments() {
        // SAFETY (all blocks below): the pointers come from live Rust values
        // of the stated length, or are null.
        assert_eq!(
            unsafe { read_str(c"ws://h/".as_ptr(), "url") },
            Some("ws://h/")
        );
        assert_eq!(unsafe { read_str(core::ptr::null(), "url") }, None);
        let bad = [0xffu8 as c_char, 0];
        assert_eq!(unsafe { read_str(bad.as_ptr(), "url") }, None);
        let delays = [1i64, 2, 5];
        assert_eq!(
            unsafe { read_delays(delays.as_ptr(), 3) },
            Some(&delays[..])
        );
        assert_eq!(unsafe { read_delays(core::ptr::null(), 0) }, Some(&[][..]));
        assert_eq!(unsafe { read_delays(core::ptr::null(), 2) }, None);
        // Only MAX_DELAYS + 1 entries are read of a longer array.
        let many = [1i64; 20];
        assert_eq!(
            unsafe { read_delays(many.as_ptr(), 20) }.map(<[i64]>::len),
            Some(MAX_DELAYS + 1)
        );
        // Null host, missing callbacks, calls before init.
        assert_eq!(unsafe { ws_init(core::ptr::null(), 0) }, -1);
        let incomplete = ws_host {
            user: core::ptr::null_mut(),
            signature_hash: Some(signature_hash),
            emit: None,
            diagnostic: None,
        };
        assert_eq!(unsafe { ws_init(&incomplete, 0) }, -1);
        assert_eq!(ws_close(16), -1);
        assert_eq!(unsafe { ws_send(16, c"x".as_ptr()) }, -1);
        assert_eq!(unsafe { ws_open(core::ptr::null()) }, -1);
        // SAFETY: ws_state returns a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(ws_state(16)) }, c"closed");
        assert_eq!(ws_wait(0), -1);
    }

    #[test]
    fn bytes_and_text_with_length() {
        let data = [0u8, 1, 0, 255];
        // SAFETY (all blocks below): pointers from live Rust values of the
        // stated length, or null.
        assert_eq!(
            unsafe { read_bytes(data.as_ptr(), 4, "data") },
            Some(&data[..])
        );
        assert_eq!(
            unsafe { read_bytes(core::ptr::null(), 0, "data") },
            Some(&[][..])
        );
        assert_eq!(unsafe { read_bytes(core::ptr::null(), 1, "data") }, None);
        assert_eq!(
            unsafe { read_bytes(data.as_ptr(), usize::MAX, "data") },
            None
        );
        // Before ws_init every call is -1; text must be UTF-8.
        assert_eq!(unsafe { ws_send_binary(16, data.as_ptr(), 4) }, -1);
        assert_eq!(unsafe { ws_send_text_len(16, c"a".as_ptr(), 1) }, -1);
        assert_eq!(unsafe { ws_send_text_len(16, core::ptr::null(), 3) }, -1);
        assert_eq!(unsafe { ws_close_with(16, 4000, c"bye".as_ptr()) }, -1);
        assert_eq!(unsafe { ws_close_with(16, 4000, core::ptr::null()) }, -1);
        assert_eq!(ws_set_keepalive(16, 1, 1), -1);
        assert_eq!(ws_last_error(), ErrorCode::NotInitialized.code());
    }

    #[test]
    fn open_options_are_read_within_their_bounds() {
        // SAFETY (all blocks below): pointers to live Rust values whose
        // arrays hold the counts given, or null with the counts refused
        // before any read.
        assert_eq!(
            unsafe { read_options(core::ptr::null()) },
            Some(ReadOptions::default())
        );
        let headers = [ws_header {
            name: c"X-Token".as_ptr(),
            value: c"t".as_ptr(),
        }];
        let protocols = [c"chat".as_ptr(), c"v2".as_ptr()];
        let o = ws_open_options {
            headers: headers.as_ptr(),
            header_count: 1,
            protocols: protocols.as_ptr(),
            protocol_count: 2,
        };
        assert_eq!(
            unsafe { read_options(&o) },
            Some(ReadOptions {
                headers: vec![("X-Token", "t")],
                protocols: vec!["chat", "v2"],
            })
        );
        // Counts over the bounds are refused without reading the (short)
        // arrays; null arrays with a count and null strings are refused.
        let huge = ws_open_options {
            header_count: 10_000,
            ..o
        };
        assert_eq!(unsafe { read_options(&huge) }, None);
        let many = ws_open_options {
            protocol_count: MAX_PROTOCOLS + 1,
            ..o
        };
        assert_eq!(unsafe { read_options(&many) }, None);
        let null = ws_open_options {
            headers: core::ptr::null(),
            ..o
        };
        assert_eq!(unsafe { read_options(&null) }, None);
        let null_name = [ws_header {
            name: core::ptr::null(),
            value: c"t".as_ptr(),
        }];
        let o2 = ws_open_options {
            headers: null_name.as_ptr(),
            ..o
        };
        assert_eq!(unsafe { read_options(&o2) }, None);
        assert_eq!(unsafe { ws_open_with(c"ws://h/".as_ptr(), &o) }, -1);
    }

    #[test]
    fn configurations_out_of_range_are_refused_with_a_reason() {
        let d = ws_config_default();
        assert_eq!(d.max_connections, 16);
        assert_eq!((d.keepalive_interval_s, d.keepalive_timeout_s), (20, 20));
        assert_eq!(d.max_message_size, 16 << 20);
        let (module, client) = configs(&d).unwrap();
        assert_eq!(module, ModuleConfig::host());
        assert_eq!(client.max_message_size, 16 << 20);
        for bad in [
            ws_config {
                max_connections: 0,
                ..d
            },
            ws_config {
                max_connections: 17,
                ..d
            },
            ws_config {
                keepalive_timeout_s: 86_401,
                ..d
            },
        ] {
            assert!(configs(&bad).is_err(), "{bad:?}");
        }
        let host = ws_host {
            user: core::ptr::from_ref(&USER).cast_mut().cast::<c_void>(),
            signature_hash: Some(signature_hash),
            emit: Some(emit),
            diagnostic: Some(init_diagnostic),
        };
        let bad = ws_config {
            max_connections: 0,
            ..d
        };
        // SAFETY: pointers to live values.
        assert_eq!(unsafe { ws_init_ex(&host, &bad, 0) }, -1);
        assert_eq!(ws_last_error(), ErrorCode::NotInitialized.code());
        assert!(INIT_DIAGS
            .lock()
            .unwrap()
            .iter()
            .any(|d| d.contains("max_connections 0 is not 1 to 16")));
    }
}
