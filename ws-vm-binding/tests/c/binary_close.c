/*
 * The module's extensions from C: ws_init_ex with a configuration, the
 * signature hash #defines, ws_open_with (a header and a subprotocol),
 * binary and text with NUL bytes both ways, ws_close_with(4000, "bye") seen
 * in a "disconnected" bound as conn:i32,code:i32,reason:string, keepalive
 * settings, ws_last_error() after each -1, and handles unique across a
 * ws_shutdown/ws_init restart. Usage: binary_close ws://127.0.0.1:PORT/
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ws_module.h"

enum { CONNECTED = 1, BYTES = 2, CLOSED = 3 };

/* Prints the call's result and then ws_last_error() (in that order). */
#define SHOW(label, call)                                                  \
    do {                                                                   \
        int32_t rc_ = (call);                                              \
        printf("%s=%d err=%d\n", label, rc_, ws_last_error());            \
    } while (0)

static int32_t g_conn = -1;
static int g_echoes = 0;
static int g_closed = 0;

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
    case CONNECTED: *hash = WS_HASH_CONN_PROTOCOL; return 0;
    case BYTES: *hash = WS_HASH_CONN_MESSAGE_BYTES; return 0;
    case CLOSED: *hash = WS_HASH_CONN_CODE_REASON; return 0;
    default: return -1;
    }
}

static void emit(void *user, int32_t event_type, const ws_value *f, size_t n) {
    (void)user;
    if (event_type == CONNECTED && n == 2 && f[1].kind == WS_VALUE_STR) {
        printf("connected protocol=%.*s\n", (int)f[1].len, f[1].str);
        static const uint8_t data[] = {0, 1, 2, 0, 255};
        printf("send_binary=%d\n", ws_send_binary(g_conn, data, sizeof data));
        printf("send_text_len=%d\n", ws_send_text_len(g_conn, "a\0b", 3));
    } else if (event_type == BYTES && n == 2 && f[1].kind == WS_VALUE_BYTES) {
        printf("bytes conn_matches=%d len=%zu hex=", f[0].i32 == g_conn, f[1].len);
        for (size_t i = 0; i < f[1].len; i++) {
            printf("%02x", (unsigned)(uint8_t)f[1].str[i]);
        }
        printf("\n");
        g_echoes++;
    } else if (event_type == CLOSED && n == 3 && f[1].kind == WS_VALUE_I32) {
        printf("disconnected conn_matches=%d code=%d reason=%.*s\n", f[0].i32 == g_conn,
               f[1].i32, (int)f[2].len, f[2].str);
        g_closed = 1;
    } else {
        printf("unexpected event %d with %zu fields\n", event_type, n);
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

static void run_until(int *flag) {
    uint64_t deadline = now_ms() + 10000;
    while (!*flag && now_ms() < deadline) {
        ws_tick(now_ms());
        ws_wait(20);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ws://host:port/path\n", argv[0]);
        return 2;
    }
    printf("hashes=%d\n", WS_HASH_CONN == fnv1a("conn:i32") &&
                              WS_HASH_MESSAGE == fnv1a("message:string") &&
                              WS_HASH_CONN_MESSAGE == fnv1a("conn:i32,message:string") &&
                              WS_HASH_MESSAGE_BYTES == fnv1a("message:bytes") &&
                              WS_HASH_CONN_MESSAGE_BYTES == fnv1a("conn:i32,message:bytes") &&
                              WS_HASH_CONN_CODE_REASON == fnv1a("conn:i32,code:i32,reason:string") &&
                              WS_HASH_CONN_PROTOCOL == fnv1a("conn:i32,protocol:string"));
    SHOW("before_init", ws_open(argv[1]));
    ws_host host = {NULL, signature_hash, emit, diagnostic};
    ws_config config = ws_config_default();
    config.max_connections = 0;
    SHOW("init_ex(bad)", ws_init_ex(&host, &config, now_ms()));
    config.max_connections = 4;
    config.max_message_size = 1 << 20;
    if (ws_init_ex(&host, &config, now_ms()) != 0) {
        return 2;
    }
    /* Handles stay unique across a restart of the module. */
    int32_t before = ws_open(argv[1]);
    ws_shutdown();
    if (ws_init_ex(&host, &config, now_ms()) != 0) {
        return 2;
    }
    SHOW("old_handle_send", ws_send(before, "x"));

    ws_header bad_name = {"Bad Name", "v"};
    ws_open_options bad = {&bad_name, 1, NULL, 0};
    SHOW("open_with(bad name)", ws_open_with(argv[1], &bad));
    ws_open_options many = {&bad_name, 10000, NULL, 0};
    SHOW("open_with(10000 headers)", ws_open_with(argv[1], &many));
    ws_open_options null_headers = {NULL, 1, NULL, 0};
    SHOW("open_with(null headers)", ws_open_with(argv[1], &null_headers));

    ws_header headers[] = {{"X-Token", "c-token"}};
    const char *protocols[] = {"chat.v2", "chat"};
    ws_open_options options = {headers, 1, protocols, 2};
    g_conn = ws_open_with(argv[1], &options);
    printf("open_with=%s unique=%d\n", g_conn >= 0 ? "ok" : "failed", g_conn != before);
    printf("on=%d%d%d\n", ws_on(g_conn, "connected", CONNECTED), ws_on(g_conn, "message", BYTES),
           ws_on(g_conn, "disconnected", CLOSED));
    SHOW("on(message, CLOSED)", ws_on(g_conn, "message", CLOSED));
    SHOW("keepalive(-1)", ws_set_keepalive(g_conn, -1, 5));
    SHOW("keepalive", ws_set_keepalive(g_conn, 30, 30));
    fflush(stdout);
    int connected_and_echoed = 0;
    uint64_t deadline = now_ms() + 10000;
    while (g_echoes < 2 && now_ms() < deadline) {
        ws_tick(now_ms());
        ws_wait(20);
    }
    connected_and_echoed = g_echoes == 2;
    size_t big_len = 2u << 20;
    uint8_t *big = calloc(big_len, 1);
    SHOW("send_binary(2 MiB)", ws_send_binary(g_conn, big, big_len));
    free(big);
    SHOW("send_text_len(bad utf8)", ws_send_text_len(g_conn, "\xff", 1));
    SHOW("close_with(999)", ws_close_with(g_conn, 999, "x"));
    printf("state=%s\n", ws_state(g_conn));
    SHOW("close_with(4000)", ws_close_with(g_conn, 4000, "bye"));
    fflush(stdout);
    run_until(&g_closed);
    SHOW("close(again)", ws_close(g_conn));
    ws_shutdown();
    return connected_and_echoed && g_closed ? 0 : 1;
}
