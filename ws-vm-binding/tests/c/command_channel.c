/*
 * The document's Command Channel pattern, written as a C VM would host it:
 * open, bind "connected" and "message", send a JSON command from the
 * connected handler, print the reply's status, close. Also checks a few -1
 * paths. Usage: command_channel ws://127.0.0.1:PORT/control
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ws_module.h"

enum { WS_CONNECTED = 1, WS_MESSAGE = 3, OTHER = 9 };

static int32_t g_conn = -1;
static int g_done = 0;

static uint32_t fnv1a(const char *s) {
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x01000193u;
    }
    return h;
}

static int32_t signature_hash(void *user, int32_t event_type, uint32_t *hash) {
    (void)user;
    switch (event_type) {
    case WS_CONNECTED: *hash = fnv1a("conn:i32"); return 0;
    case WS_MESSAGE: *hash = fnv1a("message:string"); return 0;
    case OTHER: *hash = fnv1a("value:i32"); return 0;
    default: return -1;
    }
}

static void emit(void *user, int32_t event_type, const ws_value *fields, size_t count) {
    (void)user;
    if (event_type == WS_CONNECTED && count == 1 && fields[0].kind == WS_VALUE_I32) {
        printf("connected conn_matches=%d\n", fields[0].i32 == g_conn);
        /* send command once connected - response arrives as event (re-entrant call) */
        printf("send=%d\n", ws_send(g_conn, "{\"cmd\":\"start\",\"id\":42}"));
    } else if (event_type == WS_MESSAGE && count == 1 && fields[0].kind == WS_VALUE_STR) {
        printf("message=%.*s\n", (int)fields[0].len, fields[0].str);
        g_done = 1;
    } else {
        printf("unexpected event %d with %zu fields\n", event_type, count);
    }
    fflush(stdout);
}

static void diagnostic(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "diagnostic: %s\n", message);
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ws://host:port/path\n", argv[0]);
        return 2;
    }
    ws_host host = {NULL, signature_hash, emit, diagnostic};
    if (ws_init(&host, now_ms()) != 0) {
        return 2;
    }
    printf("open(NULL)=%d\n", ws_open(NULL));
    printf("send(bad)=%d\n", ws_send(12345, "x"));
    g_conn = ws_open(argv[1]);
    printf("open=%s\n", g_conn >= 0 ? "ok" : "failed");
    printf("on(connected)=%d\n", ws_on(g_conn, "connected", WS_CONNECTED));
    printf("on(message)=%d\n", ws_on(g_conn, "message", WS_MESSAGE));
    printf("on(error)=%d\n", ws_on(g_conn, "error", WS_CONNECTED));
    printf("on(message, WsConnected)=%d\n", ws_on(g_conn, "message", WS_CONNECTED));
    printf("on(connected, Other)=%d\n", ws_on(g_conn, "connected", OTHER));
    int64_t too_many[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    printf("delays(9)=%d\n", ws_set_reconnect_delays(g_conn, too_many, 9));
    int64_t delays[5] = {1, 2, 5, 10, 30};
    printf("delays(5)=%d\n", ws_set_reconnect_delays(g_conn, delays, 5));
    printf("send(early)=%d\n", ws_send(g_conn, "early"));
    printf("setTimeout=%d\n", ws_set_timeout(g_conn, 5000));
    printf("setAutoReconnect=%d\n", ws_set_auto_reconnect(g_conn, 0));
    printf("setAutoReconnect(bad)=%d\n", ws_set_auto_reconnect(-1, 1));
    printf("state=%s\n", ws_state(g_conn));
    fflush(stdout);
    uint64_t deadline = now_ms() + 10000;
    while (!g_done && now_ms() < deadline) { /* runtime.keepAlive() */
        ws_tick(now_ms());
        ws_wait(20);
    }
    printf("state=%s\n", ws_state(g_conn));
    printf("ping=%d\n", ws_ping(g_conn));
    printf("close=%d\n", ws_close(g_conn));
    printf("state=%s\n", ws_state(g_conn));
    printf("close(again)=%d\n", ws_close(g_conn));
    ws_tick(now_ms());
    ws_shutdown();
    return g_done ? 0 : 1;
}
