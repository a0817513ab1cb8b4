/*
 * Web chat load benchmark (docs/chat-protocol.md, docs/performance.md "Chat sockets"): a
 * libwebsockets client on one thread (a libuv loop, so epoll) against a running `blend serve`
 * with the demo center. For each step N (cumulative: the sockets of earlier steps stay open) it
 *   1. opens the new sockets (at most CONNECT_INFLIGHT at a time) and says hello on the demo
 *      chat entry point (`web-support`), waiting for every welcome;
 *   2. opens a conversation on each new socket: its first message (at most OPEN_INFLIGHT in
 *      flight), timed from the write to its ack, which the server sends after the commit of the
 *      contact, the interaction and the message;
 *   3. with all N sockets open, sends messages at a total rate spread round-robin over the
 *      sockets for a set time, each timed from its write to its ack;
 *   4. reads the server's VmRSS from /proc/<pid>/status with every socket still open.
 * Prints chat.connect, chat.open, chat.flow and chat.memory lines per step; errors (refused or
 * dropped sockets, error frames, acks missing 30 s after the flow) are counted and make the exit
 * status 1. No agent is logged in: conversations stay queued, which the protocol allows.
 *
 * Usage: bench_api_chat PORT SERVER_PID [STEPS [RATE [SECONDS]]]
 *   STEPS: comma-separated socket counts, ascending (default 1000,5000,10000)
 *   RATE: messages per second in the flow phase, all sockets together (default 2000), at most
 *         VISITOR_RATE_MAX (2) per socket
 *   SECONDS: length of the flow phase (default 10)
 */
#include "base/alloc.h"
#include "base/assert.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define STEPS_MAX 8
#define VISITORS_MAX 50000   /* sockets the client will open; the fd limit binds first */
#define CONNECT_INFLIGHT 256 /* handshakes in progress at once (the listen backlog is 511) */
#define OPEN_INFLIGHT 256    /* conversations being opened at once */
#define OUTSTANDING_MAX 128  /* unacknowledged messages per socket the client tracks */
#define TICK_MS 2            /* pacing timer */
#define PHASE_TIMEOUT_NS (180ull * 1000000000ull) /* a connect or open phase gives up */
#define DRAIN_TIMEOUT_NS (30ull * 1000000000ull)  /* acks still missing after it are errors */
#define FRAME_BYTES_MAX 256
#define RX_BYTES_MAX (256 * 1024) /* a welcome with history; the bench's visitors have none */
#define ERRORS_SHOWN_MAX 5
/* Flow messages per visitor per second at most: under the protocol's 5/s with room for a server
 * stall of a few seconds within the burst of 10. */
#define VISITOR_RATE_MAX 2.0
#define SETTLED_RTT_NS (100ull * 1000000ull) /* a ping answered this fast: the server is idle */

enum phase { PH_CONNECT, PH_OPEN, PH_SETTLE, PH_FLOW, PH_DRAIN, PH_DONE };

enum vstate { V_IDLE, V_CONNECTING, V_WELCOMED, V_FAILED };

struct visitor {
    struct bench *b;
    struct lws *wsi;
    uint32_t index;
    uint8_t state;
    uint8_t has_hello; /* hello waiting for WRITEABLE */
    uint8_t has_ping;  /* ping waiting for WRITEABLE */
    uint8_t is_opened; /* its first message was acknowledged */
    uint32_t to_send;  /* messages scheduled, not yet written */
    uint32_t next_seq; /* client_id "m<seq>" of the next message */
    uint32_t outstanding;
    uint64_t sent_ns[OUTSTANDING_MAX]; /* by seq % OUTSTANDING_MAX; 0 when free */
    char *rx;                          /* a frame arriving in fragments */
    size_t rx_len;
};

/* Latencies of one phase, in microseconds. */
struct samples {
    uint32_t *us;
    size_t count;
    size_t cap;
};

struct bench {
    uv_loop_t loop;
    uv_timer_t tick;
    struct lws_context *ctx;
    struct lws_protocols protocols[2];
    int port;
    int server_pid;
    size_t steps[STEPS_MAX];
    size_t steps_count;
    size_t step;
    double rate_per_s;      /* asked for */
    double step_rate_per_s; /* this step's: at most VISITOR_RATE_MAX per socket */
    double flow_s;
    struct visitor *v;
    size_t n;      /* sockets in this step */
    size_t n_prev; /* sockets of earlier steps */
    enum phase phase;
    uint64_t phase_ns;
    size_t next; /* next visitor to connect or open */
    size_t inflight;
    size_t welcomed; /* this step's new sockets */
    size_t opened;
    size_t failed;   /* sockets lost, all steps */
    uint64_t errors; /* this step */
    uint64_t errors_total;
    uint64_t scheduled; /* flow messages */
    size_t rr;
    uint64_t acked;
    uint64_t outstanding; /* written, not acknowledged */
    uint64_t unsent;      /* scheduled, not written */
    struct samples open_lat;
    struct samples flow_lat;
    uint64_t connect_ns; /* length of this step's connect phase */
    uint64_t open_ns;    /* and of its open phase */
    uint64_t settle_ns;  /* until a ping is answered within SETTLED_RTT_NS */
    uint64_t ping_ns;    /* the ping in flight was written then; 0 none */
    int is_settled;
    long rss_base_kib;
    int is_stopping;
    int shown;
};

static void samples_add(struct samples *s, uint64_t ns)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        uint32_t *p = blend_malloc(cap * sizeof *p);
        BLEND_ASSERT(p);
        if (s->count) {
            memcpy(p, s->us, s->count * sizeof *p);
        }
        blend_free(s->us);
        s->us = p;
        s->cap = cap;
    }
    uint64_t us = ns / 1000;
    s->us[s->count++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* p in 0..100 of sorted samples, in ms; NaN when empty. */
static double pct_ms(const struct samples *s, double p)
{
    if (s->count == 0) {
        return NAN;
    }
    size_t i = (size_t)(p / 100.0 * (double)(s->count - 1) + 0.5);
    return s->us[i < s->count ? i : s->count - 1] / 1000.0;
}

static long rss_kib(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

static void error_seen(struct bench *b, const char *what, const char *detail)
{
    b->errors++;
    if (b->shown < ERRORS_SHOWN_MAX) {
        b->shown++;
        fprintf(stderr, "bench_api_chat: %s: %s\n", what, detail ? detail : "");
    }
}

/* ---- Sockets ------------------------------------------------------------------------------- */

static void connect_one(struct bench *b, struct visitor *v)
{
    char host[32];
    snprintf(host, sizeof host, "127.0.0.1:%d", b->port);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = b->ctx;
    ci.address = "127.0.0.1";
    ci.port = b->port;
    ci.path = "/api/v1/chat";
    ci.host = host;
    ci.local_protocol_name = b->protocols[0].name;
    ci.userdata = v;
    ci.opaque_user_data = v; /* still there when a refused handshake's callback has no user */
    ci.pwsi = &v->wsi;
    v->state = V_CONNECTING;
    b->inflight++;
    if (!lws_client_connect_via_info(&ci)) {
        v->state = V_FAILED;
        b->inflight--;
        b->failed++;
        error_seen(b, "connect", "lws_client_connect_via_info failed");
    }
}

static void lost(struct bench *b, struct visitor *v, const char *why)
{
    if (v->state == V_FAILED) {
        return;
    }
    int is_opening = b->phase == PH_OPEN && !v->is_opened && (v->to_send || v->outstanding);
    if (v->state == V_CONNECTING || is_opening) {
        b->inflight--;
    }
    b->outstanding -= v->outstanding;
    b->unsent -= v->to_send;
    v->outstanding = 0;
    v->to_send = 0;
    v->state = V_FAILED;
    v->wsi = NULL;
    b->failed++;
    if (!b->is_stopping) {
        error_seen(b, "socket lost", why);
    }
}

static int write_frame(struct lws *wsi, const char *text, size_t len)
{
    unsigned char buf[LWS_PRE + FRAME_BYTES_MAX];
    BLEND_ASSERT(len <= FRAME_BYTES_MAX);
    memcpy(buf + LWS_PRE, text, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    return n < (int)len ? -1 : 0;
}

static int on_writeable(struct bench *b, struct visitor *v)
{
    char frame[FRAME_BYTES_MAX];
    int len;
    if (v->has_hello) {
        v->has_hello = 0;
        len = snprintf(frame, sizeof frame,
                       "{\"type\":\"hello\",\"entry_point\":\"web-support\",\"name\":\"bench %u\"}",
                       v->index);
    } else if (v->has_ping) {
        v->has_ping = 0;
        len = snprintf(frame, sizeof frame, "{\"type\":\"ping\"}");
        b->ping_ns = uv_hrtime();
    } else if (v->to_send > 0) {
        uint32_t seq = v->next_seq;
        uint64_t *slot = &v->sent_ns[seq % OUTSTANDING_MAX];
        v->to_send--;
        b->unsent--;
        if (*slot) { /* the server is a minute behind: the message is not sent, but counted */
            error_seen(b, "client", "more than 128 unacknowledged messages on one socket");
            if (v->to_send > 0) {
                lws_callback_on_writable(v->wsi);
            }
            return 0;
        }
        v->next_seq++;
        len = snprintf(frame, sizeof frame,
                       "{\"type\":\"message\",\"client_id\":\"m%" PRIu32
                       "\",\"text\":\"bench message %" PRIu32 "\"}",
                       seq, seq);
        *slot = uv_hrtime();
        v->outstanding++;
        b->outstanding++;
    } else {
        return 0;
    }
    if (write_frame(v->wsi, frame, (size_t)len) != 0) {
        return -1;
    }
    if (v->has_hello || v->has_ping || v->to_send > 0) {
        lws_callback_on_writable(v->wsi);
    }
    return 0;
}

/* The message client_id names leaves flight (acknowledged or refused): its send time in *ns.
 * Returns its seq, or -1 when no such message is in flight. */
static int64_t settle(struct bench *b, struct visitor *v, const char *client_id, uint64_t *ns)
{
    unsigned seq = 0;
    char end = 0;
    if (!client_id || sscanf(client_id, "m%u%c", &seq, &end) != 1) {
        return -1;
    }
    uint64_t *slot = &v->sent_ns[seq % OUTSTANDING_MAX];
    if (!*slot) {
        return -1;
    }
    *ns = uv_hrtime() - *slot;
    *slot = 0;
    v->outstanding--;
    b->outstanding--;
    if (seq == 0 && b->phase == PH_OPEN) {
        b->inflight--; /* an opening ended, well or not */
    }
    return seq;
}

static void on_ack(struct bench *b, struct visitor *v, const char *client_id)
{
    uint64_t ns = 0;
    int64_t seq = settle(b, v, client_id, &ns);
    if (seq < 0) {
        error_seen(b, "ack", "an ack for no message in flight");
        return;
    }
    b->acked++;
    if (seq == 0) {
        v->is_opened = 1;
        b->opened++;
        samples_add(&b->open_lat, ns);
    } else {
        samples_add(&b->flow_lat, ns);
    }
}

static void on_frame(struct bench *b, struct visitor *v, const char *text, size_t len)
{
    json_error_t jerr;
    json_t *f = json_loadb(text, len, 0, &jerr);
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!type) {
        error_seen(b, "frame", "not a JSON object with a type");
    } else if (strcmp(type, "ack") == 0) {
        on_ack(b, v, json_string_value(json_object_get(f, "client_id")));
    } else if (strcmp(type, "welcome") == 0) {
        if (v->state == V_CONNECTING) {
            v->state = V_WELCOMED;
            b->welcomed++;
            b->inflight--;
        }
    } else if (strcmp(type, "pong") == 0) {
        b->is_settled = b->ping_ns && uv_hrtime() - b->ping_ns < SETTLED_RTT_NS;
        b->ping_ns = 0;
    } else if (strcmp(type, "error") == 0) {
        char detail[160];
        snprintf(detail, sizeof detail, "%s (%s)", json_string_value(json_object_get(f, "code")),
                 json_string_value(json_object_get(f, "message")));
        error_seen(b, "error frame", detail);
        uint64_t ns = 0;
        (void)settle(b, v, json_string_value(json_object_get(f, "client_id")), &ns);
    }
    /* state, message, typing, read, pong: not measured */
    json_decref(f);
}

static int on_receive(struct bench *b, struct visitor *v, struct lws *wsi, const char *in,
                      size_t len)
{
    int is_whole = lws_is_first_fragment(wsi) && lws_is_final_fragment(wsi) && !v->rx;
    if (is_whole) {
        on_frame(b, v, in, len);
        return 0;
    }
    if (v->rx_len + len > RX_BYTES_MAX) {
        error_seen(b, "frame", "larger than the client takes");
        return -1;
    }
    char *p = blend_malloc(v->rx_len + len + 1);
    BLEND_ASSERT(p);
    if (v->rx_len) {
        memcpy(p, v->rx, v->rx_len);
    }
    memcpy(p + v->rx_len, in, len);
    blend_free(v->rx);
    v->rx = p;
    v->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        on_frame(b, v, v->rx, v->rx_len);
        blend_free(v->rx);
        v->rx = NULL;
        v->rx_len = 0;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct visitor *v = user ? user : lws_get_opaque_user_data(wsi);
    struct bench *b = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        v->has_hello = 1;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return v->state == V_FAILED ? -1 : on_writeable(b, v);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(b, v, wsi, in, len);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[160];
        int status = lws_http_client_http_response(wsi);
        snprintf(why, sizeof why, "connection error: %s (HTTP %d)", in ? (const char *)in : "?",
                 status);
        if (v) {
            lost(b, v, why);
        } else {
            error_seen(b, "socket lost", why);
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (v) {
            blend_free(v->rx);
            v->rx = NULL;
            v->rx_len = 0;
            lost(b, v, "closed by the server");
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- Phases -------------------------------------------------------------------------------- */

static void print_step(struct bench *b, uint64_t connect_ns, uint64_t open_ns, uint64_t sent)
{
    size_t n_new = b->n - b->n_prev;
    qsort(b->open_lat.us, b->open_lat.count, sizeof *b->open_lat.us, cmp_u32);
    qsort(b->flow_lat.us, b->flow_lat.count, sizeof *b->flow_lat.us, cmp_u32);
    printf("chat.connect n=%zu new=%zu welcomed=%zu seconds=%.2f sockets_per_s=%.0f\n", b->n, n_new,
           b->welcomed, connect_ns / 1e9, b->welcomed / (connect_ns / 1e9));
    printf("chat.open n=%zu opened=%zu seconds=%.2f conversations_per_s=%.0f open_p50_ms=%.1f "
           "open_p99_ms=%.1f open_max_ms=%.1f settle_s=%.2f\n",
           b->n, b->opened, open_ns / 1e9, b->opened / (open_ns / 1e9), pct_ms(&b->open_lat, 50),
           pct_ms(&b->open_lat, 99), pct_ms(&b->open_lat, 100), b->settle_ns / 1e9);
    printf("chat.flow n=%zu rate=%.0f seconds=%.0f sent=%" PRIu64 " acked=%zu ack_p50_ms=%.1f "
           "ack_p99_ms=%.1f ack_max_ms=%.1f errors=%" PRIu64 "\n",
           b->n, b->step_rate_per_s, b->flow_s, sent, b->flow_lat.count, pct_ms(&b->flow_lat, 50),
           pct_ms(&b->flow_lat, 99), pct_ms(&b->flow_lat, 100), b->errors);
    long rss = rss_kib(b->server_pid);
    size_t live = b->n - b->failed;
    printf("chat.memory n=%zu open_sockets=%zu rss_before_kib=%ld rss_kib=%ld "
           "rss_per_chat_kib=%.1f\n",
           b->n, live, b->rss_base_kib, rss,
           live ? (double)(rss - b->rss_base_kib) / (double)live : 0.0);
    fflush(stdout);
}

static void step_start(struct bench *b)
{
    b->n_prev = b->step ? b->steps[b->step - 1] : 0;
    b->n = b->steps[b->step];
    b->next = b->n_prev;
    b->inflight = 0;
    b->welcomed = b->opened = 0;
    b->errors = 0;
    b->scheduled = b->acked = 0;
    b->rr = 0;
    b->open_lat.count = b->flow_lat.count = 0;
    b->shown = 0;
    b->step_rate_per_s = b->rate_per_s < VISITOR_RATE_MAX * (double)b->n
                             ? b->rate_per_s
                             : VISITOR_RATE_MAX * (double)b->n;
    b->phase = PH_CONNECT;
    b->phase_ns = uv_hrtime();
}

static int phase_timed_out(struct bench *b, uint64_t now, const char *what)
{
    if (now - b->phase_ns < PHASE_TIMEOUT_NS) {
        return 0;
    }
    error_seen(b, what, "phase timed out");
    return 1;
}

static void tick_connect(struct bench *b, uint64_t now, uint64_t *connect_ns)
{
    while (b->next < b->n && b->inflight < CONNECT_INFLIGHT) {
        connect_one(b, &b->v[b->next++]);
    }
    if ((b->next == b->n && b->inflight == 0) || phase_timed_out(b, now, "connect")) {
        *connect_ns = now - b->phase_ns;
        fprintf(stderr, "bench_api_chat: %zu sockets: connected in %.1f s, opening\n", b->n,
                *connect_ns / 1e9);
        b->phase = PH_OPEN;
        b->phase_ns = now;
        b->next = b->n_prev;
        b->inflight = 0;
    }
}

static void tick_open(struct bench *b, uint64_t now, uint64_t *open_ns)
{
    while (b->next < b->n && b->inflight < OPEN_INFLIGHT) {
        struct visitor *v = &b->v[b->next++];
        if (v->state == V_WELCOMED && v->wsi) {
            v->to_send++;
            b->unsent++;
            b->inflight++;
            lws_callback_on_writable(v->wsi);
        }
    }
    if ((b->next == b->n && b->inflight == 0) || phase_timed_out(b, now, "open")) {
        *open_ns = now - b->phase_ns;
        fprintf(stderr, "bench_api_chat: %zu sockets: opened in %.1f s, settling\n", b->n,
                *open_ns / 1e9);
        b->phase = PH_SETTLE;
        b->phase_ns = now;
        b->is_settled = 0;
        b->ping_ns = 0;
    }
}

/* Waits until the server answers a ping within SETTLED_RTT_NS: the flow starts once the server
 * has digested the openings (its event follower catches up after the acks). */
static void tick_settle(struct bench *b, uint64_t now)
{
    struct visitor *probe = NULL;
    for (size_t i = 0; i < b->n && !probe; i++) {
        probe = b->v[i].state == V_WELCOMED && b->v[i].wsi ? &b->v[i] : NULL;
    }
    if (b->is_settled || !probe || phase_timed_out(b, now, "settle")) {
        b->settle_ns = now - b->phase_ns;
        fprintf(stderr, "bench_api_chat: %zu sockets: settled in %.1f s, messages flowing\n", b->n,
                b->settle_ns / 1e9);
        b->phase = PH_FLOW;
        b->phase_ns = now;
        return;
    }
    if (!b->ping_ns && !probe->has_ping) {
        probe->has_ping = 1;
        lws_callback_on_writable(probe->wsi);
    }
}

/* Schedules the messages due by now, round-robin over every open socket. */
static void tick_flow(struct bench *b, uint64_t now)
{
    double elapsed_s = (now - b->phase_ns) / 1e9;
    if (elapsed_s >= b->flow_s) {
        b->phase = PH_DRAIN;
        b->phase_ns = now;
        return;
    }
    uint64_t due = (uint64_t)(elapsed_s * b->step_rate_per_s);
    for (size_t tries = 0; b->scheduled < due && tries < 4 * b->n;) {
        struct visitor *v = &b->v[b->rr];
        b->rr = (b->rr + 1) % b->n;
        if (v->state != V_WELCOMED || !v->is_opened || !v->wsi) {
            tries++;
            continue;
        }
        v->to_send++;
        b->unsent++;
        b->scheduled++;
        lws_callback_on_writable(v->wsi);
    }
}

static void forget_outstanding(struct bench *b)
{
    for (size_t i = 0; i < b->n; i++) {
        memset(b->v[i].sent_ns, 0, sizeof b->v[i].sent_ns);
        b->v[i].outstanding = 0;
        b->v[i].to_send = 0;
    }
    b->outstanding = 0;
    b->unsent = 0;
}

static void on_tick(uv_timer_t *t)
{
    struct bench *b = t->data;
    uint64_t now = uv_hrtime();
    switch (b->phase) {
    case PH_CONNECT:
        tick_connect(b, now, &b->connect_ns);
        break;
    case PH_OPEN:
        tick_open(b, now, &b->open_ns);
        break;
    case PH_SETTLE:
        tick_settle(b, now);
        break;
    case PH_FLOW:
        tick_flow(b, now);
        break;
    case PH_DRAIN:
        if (b->outstanding + b->unsent == 0 || now - b->phase_ns >= DRAIN_TIMEOUT_NS) {
            if (b->outstanding + b->unsent) {
                char d[96];
                snprintf(d, sizeof d, "%" PRIu64 " acks missing, %" PRIu64 " messages unsent",
                         b->outstanding, b->unsent);
                error_seen(b, "drain", d);
                b->errors += b->outstanding + b->unsent - 1;
                forget_outstanding(b); /* a late ack is an error of the next step */
            }
            print_step(b, b->connect_ns, b->open_ns, b->scheduled);
            b->errors_total += b->errors;
            if (++b->step < b->steps_count) {
                step_start(b);
            } else {
                b->phase = PH_DONE;
            }
        }
        break;
    case PH_DONE:
        b->is_stopping = 1;
        uv_timer_stop(t);
        uv_close((uv_handle_t *)t, NULL);
        lws_context_destroy(b->ctx); /* closes every socket; the loop runs until it is done */
        break;
    }
}

/* ---- Setup --------------------------------------------------------------------------------- */

static int parse_steps(struct bench *b, const char *text)
{
    const char *p = text;
    while (*p && b->steps_count < STEPS_MAX) {
        char *end = NULL;
        errno = 0;
        unsigned long n = strtoul(p, &end, 10);
        size_t prev = b->steps_count ? b->steps[b->steps_count - 1] : 0;
        if (errno || end == p || n <= prev || n > VISITORS_MAX || (*end && *end != ',')) {
            return -1;
        }
        b->steps[b->steps_count++] = n;
        p = *end ? end + 1 : end;
    }
    return *p ? -1 : 0;
}

static int parse_args(struct bench *b, int argc, char **argv)
{
    if (argc < 3) {
        return -1;
    }
    b->port = atoi(argv[1]);
    b->server_pid = atoi(argv[2]);
    b->rate_per_s = argc > 4 ? atof(argv[4]) : 2000.0;
    b->flow_s = argc > 5 ? atof(argv[5]) : 10.0;
    if (parse_steps(b, argc > 3 ? argv[3] : "1000,5000,10000") != 0 || b->steps_count == 0 ||
        b->port <= 0 || b->port > 65535 || b->server_pid <= 0 || b->rate_per_s <= 0 ||
        b->flow_s <= 0) {
        return -1;
    }
    return 0;
}

static int start(struct bench *b)
{
    size_t nmax = b->steps[b->steps_count - 1];
    b->v = blend_calloc(nmax, sizeof *b->v);
    if (!b->v) {
        return -1;
    }
    for (size_t i = 0; i < nmax; i++) {
        b->v[i].b = b;
        b->v[i].index = (uint32_t)i;
    }
    uv_loop_init(&b->loop);
    b->protocols[0].name = "blend-chat-bench";
    b->protocols[0].callback = callback;
    b->protocols[0].rx_buffer_size = 4096;
    void *loops[1] = {&b->loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = b->protocols;
    info.fd_limit_per_thread = (unsigned)(nmax + 64);
    info.user = b;
    info.pcontext = &b->ctx; /* cleared when the context is finally freed */
    b->ctx = lws_create_context(&info);
    if (!b->ctx) {
        fprintf(stderr, "bench_api_chat: cannot create the libwebsockets context\n");
        return -1;
    }
    b->rss_base_kib = rss_kib(b->server_pid);
    if (b->rss_base_kib < 0) {
        fprintf(stderr, "bench_api_chat: no process %d\n", b->server_pid);
        return -1;
    }
    uv_timer_init(&b->loop, &b->tick);
    b->tick.data = b;
    uv_timer_start(&b->tick, on_tick, TICK_MS, TICK_MS);
    step_start(b);
    return 0;
}

int main(int argc, char **argv)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    lws_set_log_level(LLL_ERR, NULL);
    struct bench b;
    memset(&b, 0, sizeof b);
    if (parse_args(&b, argc, argv) != 0) {
        fprintf(stderr,
                "usage: %s PORT SERVER_PID [STEPS [RATE [SECONDS]]]\n"
                "  STEPS ascending, comma-separated (default 1000,5000,10000)\n",
                argv[0]);
        return 2;
    }
    int rc = start(&b);
    if (rc == 0) {
        uv_run(&b.loop, UV_RUN_DEFAULT);
        if (b.ctx) {
            lws_context_destroy(b.ctx); /* second stage of the foreign-loop teardown */
        }
        (void)uv_loop_close(&b.loop);
    }
    size_t nmax = b.steps_count ? b.steps[b.steps_count - 1] : 0;
    for (size_t i = 0; b.v && i < nmax; i++) {
        blend_free(b.v[i].rx);
    }
    blend_free(b.v);
    blend_free(b.open_lat.us);
    blend_free(b.flow_lat.us);
    if (rc == 0 && blend_alloc_live() != 0) {
        fprintf(stderr, "bench_api_chat: %ld allocations live at exit\n", blend_alloc_live());
        rc = -1;
    }
    if (rc != 0) {
        return 1;
    }
    printf("chat.errors total=%" PRIu64 "\n", b.errors_total);
    return b.errors_total ? 1 : 0;
}
