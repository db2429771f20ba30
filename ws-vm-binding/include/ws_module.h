/*
 * ws_module.h - the scripting VM's `ws` module (ws-module v0.1, plus the
 * extensions of docs/ws-module.md) for a VM written in C. The reference of
 * every function, event, layout and limit is docs/ws-module.md. Link the
 * static library built with
 *
 *     cargo build -p ws-vm-binding --features capi [--release]
 *     cc ... -I ws-vm-binding/include target/<profile>/libws_vm_binding.a \
 *            -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
 *
 * One module per process. Call ws_init() once with the host's callbacks,
 * then the functions below from the VM's thread, and ws_tick(now) on every
 * turn of the event loop (runtime.keepAlive()). Nothing blocks except
 * ws_wait(), which sleeps until there may be work.
 *
 * Handles are int32_t >= 0; every function returns -1 on error (bad or
 * closed handle, ...) and ws_last_error() then says why (ws_error). A closed
 * handle stays invalid even after its slot is reused, and handles are
 * unique across ws_init()/ws_shutdown() restarts within the process. At
 * most 16 connections. Keepalive is on (20 s / 20 s) unless configured.
 *
 * Events: ws_on(conn, "connected" | "disconnected" | "message", type) binds
 * an event to a VM event type whose field layout is checked by signature
 * hash: FNV-1a 32-bit (basis 0x811c9dc5, prime 0x01000193) over the fields
 * as "name:type" joined by ",":
 *   "connected", "disconnected": "conn:i32"                 = 0xc9a5ee43
 *   "message":                   "message:string"           = 0x3be99e33
 *                             or "conn:i32,message:string"  = 0x3c884d2b
 * and the extensions (WS_HASH_* below):
 *   "connected":    "conn:i32,protocol:string"              = 0x042d3608
 *   "disconnected": "conn:i32,code:i32,reason:string"       = 0x10b2902b
 *   "message":      "message:bytes"                         = 0x8a8dec79
 *                or "conn:i32,message:bytes"                = 0x8e08c731
 * Events and diagnostics are delivered from ws_tick() (and diagnostics from
 * any call) after the module's lock is released, so the emit callback may
 * call ws_send() and the other functions. signature_hash must not call
 * ws_* functions.
 */
#ifndef WS_MODULE_H
#define WS_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Signature hashes of the layouts each event accepts. */
#define WS_HASH_CONN 0xc9a5ee43u                  /* "conn:i32" */
#define WS_HASH_MESSAGE 0x3be99e33u               /* "message:string" */
#define WS_HASH_CONN_MESSAGE 0x3c884d2bu          /* "conn:i32,message:string" */
#define WS_HASH_MESSAGE_BYTES 0x8a8dec79u         /* "message:bytes" */
#define WS_HASH_CONN_MESSAGE_BYTES 0x8e08c731u    /* "conn:i32,message:bytes" */
#define WS_HASH_CONN_CODE_REASON 0x10b2902bu      /* "conn:i32,code:i32,reason:string" */
#define WS_HASH_CONN_PROTOCOL 0x042d3608u         /* "conn:i32,protocol:string" */

#define WS_VALUE_I32 0
#define WS_VALUE_STR 1
#define WS_VALUE_BYTES 2

/* Why the last call returned -1 (ws_last_error()). Only
 * WS_ERR_BACKPRESSURE means "retry the same call later". */
typedef enum ws_error {
    WS_ERR_NONE = 0,                 /* the last call succeeded */
    WS_ERR_BAD_HANDLE = 1,           /* never issued, closed, or ended for good */
    WS_ERR_NOT_OPEN = 2,             /* connecting, or a reconnect is pending */
    WS_ERR_BACKPRESSURE = 3,         /* outbound buffer full: retry later */
    WS_ERR_TOO_LARGE = 4,            /* over the size limit: never fits (the diagnostic names it) */
    WS_ERR_INVALID_ARGUMENT = 5,     /* close code/reason, keepalive, delays, options, not UTF-8, NULL */
    WS_ERR_UNKNOWN_EVENT = 6,        /* ws_on: not "connected", "disconnected" or "message" */
    WS_ERR_LAYOUT_MISMATCH = 7,      /* ws_on: unknown event type or its hash does not fit */
    WS_ERR_TOO_MANY_CONNECTIONS = 8, /* every slot in use */
    WS_ERR_OPEN_FAILED = 9,          /* bad URL, wss:// without TLS, network not ready, ... */
    WS_ERR_TRANSPORT = 10,           /* refused by the transport (see the diagnostic) */
    WS_ERR_NOT_INITIALIZED = 11      /* before ws_init, or a refused configuration */
} ws_error;

/* One event field, in the event type's declared order. */
typedef struct ws_value {
    int32_t kind;    /* WS_VALUE_I32, WS_VALUE_STR or WS_VALUE_BYTES */
    int32_t i32;     /* the i32 field (conn, code) */
    const char *str; /* string: NUL-terminated UTF-8; bytes: len bytes (a NUL follows them);
                      * valid during the callback; NULL for an i32 field */
    size_t len;      /* its length in bytes without the NUL (either may contain NULs) */
} ws_value;

typedef struct ws_host {
    void *user; /* passed back to every callback */
    /* Required: write the signature hash of event_type to *hash and return 0,
     * or return -1 when the VM has no such event type. */
    int32_t (*signature_hash)(void *user, int32_t event_type, uint32_t *hash);
    /* Required: an event of a bound type with its fields. */
    void (*emit)(void *user, int32_t event_type, const ws_value *fields, size_t count);
    /* Optional (NULL to drop): a diagnostic, NUL-terminated, valid during the call. */
    void (*diagnostic)(void *user, const char *message);
} ws_host;

/* Configuration for ws_init_ex(); start from ws_config_default(). */
typedef struct ws_config {
    uint32_t max_connections;      /* 1 to 16 (16) */
    uint32_t keepalive_interval_s; /* ping after this much silence, 0 to 86400, 0 = off (20) */
    uint32_t keepalive_timeout_s;  /* then fail (close 1011) after this long, 0 to 86400, 0 = never (20) */
    size_t max_message_size;       /* largest message sent or received, bytes (16 MiB) */
    size_t rx_buffer;              /* receive buffer limit per connection, bytes (64 KiB) */
    size_t tx_capacity;            /* outbound queue soft mark per connection, bytes (256 KiB) */
} ws_config;

/* One extra handshake header: a token name and a value without control characters. */
typedef struct ws_header {
    const char *name;
    const char *value;
} ws_header;

/* Options of ws_open_with(): at most 32 headers, 16 subprotocols, 8 KiB in all. */
typedef struct ws_open_options {
    const ws_header *headers;
    size_t header_count;
    const char *const *protocols; /* offered in order of preference */
    size_t protocol_count;
} ws_open_options;

/* The defaults ws_init() uses. */
ws_config ws_config_default(void);
/* Starts (or restarts, dropping every connection) the module; now_ms is the
 * VM's monotonic clock in milliseconds. 0, or -1. */
int32_t ws_init(const ws_host *host, uint64_t now_ms);
/* ws_init() with a configuration (NULL: the defaults). 0, or -1 with
 * WS_ERR_NOT_INITIALIZED and the reason sent to host->diagnostic (a value
 * out of range); a running module stays as it was. */
int32_t ws_init_ex(const ws_host *host, const ws_config *config, uint64_t now_ms);
/* Drops the module and every connection. */
void ws_shutdown(void);

/* ws.open(url): the handle at once (the handshake proceeds in ws_tick), or -1. */
int32_t ws_open(const char *url);
/* ws.openWith(url, options): ws_open with extra headers and subprotocols
 * (options NULL: none), offered again on every reconnect. The handle or -1. */
int32_t ws_open_with(const char *url, const ws_open_options *options);
/* ws.close(conn): close frame, then disconnect; disables auto-reconnect. 0 or -1. */
int32_t ws_close(int32_t conn);
/* ws.closeWith(conn, code, reason): ws_close with a close code (1000-1003,
 * 1007-1011, 3000-4999) and a reason of at most 123 bytes (NULL: empty).
 * 0, or -1 with nothing sent. */
int32_t ws_close_with(int32_t conn, int32_t code, const char *reason);
/* ws.send(conn, msg): payload length in bytes, or -1 (outbound buffer full:
 * retry on a later turn, the connection stays open; not open; bad handle). */
int32_t ws_send(int32_t conn, const char *msg);
/* ws_send for UTF-8 text of len bytes that may contain NUL. */
int32_t ws_send_text_len(int32_t conn, const char *msg, size_t len);
/* ws.sendBinary(conn, data): one binary message of len bytes; len or -1 (as ws_send). */
int32_t ws_send_binary(int32_t conn, const uint8_t *data, size_t len);
/* ws.on(conn, event, EventType): 0, or -1 (unknown event, layout mismatch, bad handle). */
int32_t ws_on(int32_t conn, const char *event, int32_t event_type);
/* ws.setAutoReconnect(conn, enabled != 0). 0 or -1. */
int32_t ws_set_auto_reconnect(int32_t conn, int32_t enabled);
/* ws.setReconnectDelays(conn, delays): seconds, at most 8, the last repeats;
 * refused whole (-1, schedule unchanged) when longer or negative. */
int32_t ws_set_reconnect_delays(int32_t conn, const int64_t *delays, size_t count);
/* ws.state(conn): static "connecting", "open" or "closed". */
const char *ws_state(int32_t conn);
/* ws.ping(conn). 0 or -1. */
int32_t ws_ping(int32_t conn);
/* ws.setTimeout(conn, ms): no-op. 0, or -1 for a bad handle. */
int32_t ws_set_timeout(int32_t conn, int32_t ms);
/* ws.setKeepalive(conn, interval_s, timeout_s): each 0 to 86400 (0 = off),
 * now and on every reconnect. 0, or -1 (nothing changes). */
int32_t ws_set_keepalive(int32_t conn, int32_t interval_s, int32_t timeout_s);
/* Why the last call returned -1: a ws_error (WS_ERR_NONE after a success). */
int32_t ws_last_error(void);

/* One turn of the event loop at now_ms: advances every connection, emits events. */
void ws_tick(uint64_t now_ms);
/* Sleeps until there may be work, at most max_ms. 0, or -1 before ws_init. */
int32_t ws_wait(uint32_t max_ms);

#ifdef __cplusplus
}
#endif

#endif /* WS_MODULE_H */
