/*
 * ws_module.h - the scripting VM's `ws` module (ws-module v0.1) for a VM
 * written in C. Link the static library built with
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
 * closed handle, ...). A closed handle stays invalid even after its slot is
 * reused. At most 16 connections.
 *
 * Events: ws_on(conn, "connected" | "disconnected" | "message", type) binds
 * an event to a VM event type whose field layout is checked by signature
 * hash: FNV-1a 32-bit (basis 0x811c9dc5, prime 0x01000193) over the fields
 * as "name:type" joined by ",":
 *   "connected", "disconnected": "conn:i32"                 = 0xc9a5ee43
 *   "message":                   "message:string"           = 0x3be99e33
 *                             or "conn:i32,message:string"  = 0x3c884d2b
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

#define WS_VALUE_I32 0
#define WS_VALUE_STR 1

/* One event field, in the event type's declared order. */
typedef struct ws_value {
    int32_t kind;    /* WS_VALUE_I32 or WS_VALUE_STR */
    int32_t i32;     /* the i32 field (conn) */
    const char *str; /* the string field (message): NUL-terminated UTF-8, valid during the callback */
    size_t len;      /* its length in bytes without the NUL (the text may contain NULs) */
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

/* Starts (or restarts, dropping every connection) the module; now_ms is the
 * VM's monotonic clock in milliseconds. 0, or -1. */
int32_t ws_init(const ws_host *host, uint64_t now_ms);
/* Drops the module and every connection. */
void ws_shutdown(void);

/* ws.open(url): the handle at once (the handshake proceeds in ws_tick), or -1. */
int32_t ws_open(const char *url);
/* ws.close(conn): close frame, then disconnect; disables auto-reconnect. 0 or -1. */
int32_t ws_close(int32_t conn);
/* ws.send(conn, msg): payload length in bytes, or -1 (outbound buffer full:
 * retry on a later turn, the connection stays open; not open; bad handle). */
int32_t ws_send(int32_t conn, const char *msg);
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

/* One turn of the event loop at now_ms: advances every connection, emits events. */
void ws_tick(uint64_t now_ms);
/* Sleeps until there may be work, at most max_ms. 0, or -1 before ws_init. */
int32_t ws_wait(uint32_t max_ms);

#ifdef __cplusplus
}
#endif

#endif /* WS_MODULE_H */
