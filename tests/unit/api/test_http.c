/*
 * Tests for the HTTP/WebSocket transport. Each test runs a real server on a fresh libuv loop on
 * the main thread and a client on a second thread that speaks raw HTTP/1.1 (and WebSocket
 * frames) over blocking loopback sockets. The client never asserts (cmocka is not
 * thread-safe): it records its first failure, which the main thread checks after joining it.
 * Waits are bounded: sockets time out after 10 s, the loop has a 30 s watchdog, and handshakes
 * between the two threads use timed semaphores. No sleeps.
 *
 * Pure parts (route patterns, static path resolution, JSON body checks) are tested directly.
 */
#include "api/http.h"
#include "api/http_private.h"
#include "api/metrics.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#define BIG_BODY_BYTES (3 * 1024 * 1024 + 17)
#define WATCHDOG_MS 30000

/* --- Fixture ------------------------------------------------------------------------------------
 */

struct fixture;
typedef void (*client_fn)(struct fixture *fx);

struct fixture {
    uv_loop_t loop;
    uv_async_t done;
    uv_timer_t watchdog;
    uv_thread_t thread;
    struct blend_http *http;
    struct blend_metrics *metrics;
    int port;
    client_fn client;
    volatile int client_done;
    int timed_out;
    char failure[512]; /* first client-side failure */

    /* Server-side state the handlers and hooks share with the test. */
    sem_t handler_ran;
    sem_t server_step;
    struct blend_http_req *held;
    uv_timer_t async_timer;
    int ws_opened;
    int ws_closed;
    int ws_send_refused;
    char ws_origin[64];
    int ctx_freed;
    char static_dir[256];
};

static struct fixture *current;

#define CHECK(fx, cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            client_fail(fx, "%s:%d: %s", __FILE__, __LINE__, #cond);                               \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static void client_fail(struct fixture *fx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void client_fail(struct fixture *fx, const char *fmt, ...)
{
    if (fx->failure[0]) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fx->failure, sizeof fx->failure, fmt, ap);
    va_end(ap);
}

static int sem_wait_bounded(sem_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (sem_timedwait(s, &ts) != 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* --- Raw HTTP client (runs on the client thread) ------------------------------------------------
 */

struct resp {
    int status;
    char head[8192];
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
};

static int cl_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int cl_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int cl_sends(int fd, const char *s)
{
    return cl_send(fd, s, strlen(s));
}

static int cl_read_exact(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads the head byte by byte so nothing after it (a body, ws frames) is consumed. */
static int cl_read_head(int fd, char *head, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (recv(fd, head + n, 1, 0) != 1) {
            return -1;
        }
        n++;
        head[n] = '\0';
        if (n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0) {
            return 0;
        }
    }
    return -1;
}

static const char *head_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
            const char *v = l + nlen + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vlen = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)vlen, v);
            return out;
        }
    }
    return NULL;
}

static int cl_read_response(int fd, struct resp *r)
{
    memset(r, 0, sizeof *r);
    if (cl_read_head(fd, r->head, sizeof r->head) != 0 ||
        sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1) {
        return -1;
    }
    char v[64];
    size_t len = 0;
    if (head_value(r->head, "content-length", v, sizeof v)) {
        len = strtoul(v, NULL, 10);
    }
    r->body = malloc(len + 1);
    if (!r->body || cl_read_exact(fd, r->body, len) != 0) {
        free(r->body);
        r->body = NULL;
        return -1;
    }
    r->body[len] = '\0';
    r->body_len = len;
    return 0;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* One request on a fresh connection. */
static int cl_request(int port, const char *raw, struct resp *r)
{
    int fd = cl_connect(port);
    if (fd < 0) {
        return -1;
    }
    int rc = cl_sends(fd, raw) == 0 ? cl_read_response(fd, r) : -1;
    close(fd);
    return rc;
}

static int has_header(const struct resp *r, const char *name, const char *value)
{
    char v[512];
    return head_value(r->head, name, v, sizeof v) && strcasecmp(v, value) == 0;
}

static int error_code_is(const struct resp *r, const char *code)
{
    char want[128];
    snprintf(want, sizeof want, "{\"error\":{\"code\":\"%s\"", code);
    return strncmp(r->body, want, strlen(want)) == 0;
}

static int is_eof(int fd)
{
    char c;
    return recv(fd, &c, 1, 0) == 0;
}

/* --- WebSocket client helpers -------------------------------------------------------------------
 */

static int ws_upgrade(int fd, const char *path_and_query, const char *extra)
{
    char req[1024];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n%s\r\n",
             path_and_query, extra ? extra : "");
    return cl_sends(fd, req);
}

static int ws_send_frame(int fd, int opcode, const char *data, size_t len)
{
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        hdr[h++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(len >> 8);
        hdr[h++] = (unsigned char)len;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) {
            hdr[h++] = (unsigned char)((uint64_t)len >> (8 * i));
        }
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(hdr + h, mask, 4);
    h += 4;
    unsigned char *buf = malloc(h + len);
    if (!buf) {
        return -1;
    }
    memcpy(buf, hdr, h);
    for (size_t i = 0; i < len; i++) {
        buf[h + i] = (unsigned char)data[i] ^ mask[i % 4];
    }
    int rc = cl_send(fd, buf, h + len);
    free(buf);
    return rc;
}

/* Reads one frame; payload is malloc'd. Returns the opcode or -1. */
static int ws_read_frame(int fd, char **payload, size_t *len_out)
{
    unsigned char h[2];
    if (cl_read_exact(fd, h, 2) != 0) {
        return -1;
    }
    uint64_t len = h[1] & 0x7f;
    if (len == 126 || len == 127) {
        unsigned char ext[8];
        size_t n = len == 126 ? 2 : 8;
        if (cl_read_exact(fd, ext, n) != 0) {
            return -1;
        }
        len = 0;
        for (size_t i = 0; i < n; i++) {
            len = (len << 8) | ext[i];
        }
    }
    char *p = malloc(len + 1);
    if (!p || cl_read_exact(fd, p, len) != 0) {
        free(p);
        return -1;
    }
    p[len] = '\0';
    *payload = p;
    *len_out = len;
    return h[0] & 0x0f;
}

/* Reads frames until a close frame; returns its status code or -1. */
static int ws_read_close_code(int fd, int *text_frames)
{
    for (int i = 0; i < 100; i++) {
        char *p;
        size_t len;
        int op = ws_read_frame(fd, &p, &len);
        if (op < 0) {
            return -1;
        }
        if (op == 8) {
            int code = len >= 2 ? ((unsigned char)p[0] << 8) | (unsigned char)p[1] : 1005;
            free(p);
            return code;
        }
        if (op == 1 && text_frames) {
            ++*text_frames;
        }
        free(p);
    }
    return -1;
}

/* --- Server handlers ----------------------------------------------------------------------------
 */

static int h_agent_get(struct blend_http_req *req, void *arg)
{
    const char *q = blend_http_req_query(req, "name");
    const char *cookie = blend_http_req_cookie(req, "sid");
    const char *hdr = blend_http_req_header(req, "X-Request-Id");
    blend_http_req_set_ctx(req, blend_strdup("principal"));
    blend_http_respond_json(
        req, 200,
        json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s}", "id", blend_http_req_param(req, "id"),
                  "method", blend_http_req_method_name(req), "name", q, "sid", cookie, "rid", hdr,
                  "remote", blend_http_req_remote(req), "route", blend_http_req_route(req)->name));
    return BLEND_HTTP_DONE;
}

static int h_two_params(struct blend_http_req *req, void *arg)
{
    blend_http_respond_json(req, 200,
                            json_pack("{s:s, s:s}", "a", blend_http_req_param(req, "a"), "b",
                                      blend_http_req_param(req, "b")));
    return BLEND_HTTP_DONE;
}

static int h_echo(struct blend_http_req *req, void *arg)
{
    json_t *doc;
    struct blend_http_body_error err;
    if (blend_http_req_json(req, &doc, &err) != 0) {
        blend_http_respond_body_error(req, &err);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_add_header(req, "Location", "/api/v1/echo/1") != 0 ||
        blend_http_add_header(req, "Bad\nName", "x") != BLEND_EINVAL ||
        blend_http_add_header(req, "X-Evil", "a\r\nSet-Cookie: x=1") != BLEND_EINVAL) {
        json_decref(doc);
        blend_http_respond_error(req, 500, "test", "add_header misbehaved", NULL);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(req, 201, doc);
    return BLEND_HTTP_DONE;
}

static void async_timer_fired(uv_timer_t *t)
{
    struct fixture *fx = t->data;
    struct blend_http_req *req = fx->held;
    fx->held = NULL;
    blend_http_respond(req, 200, "text/plain", "later", 5);
}

static int h_slow(struct blend_http_req *req, void *arg)
{
    struct fixture *fx = arg;
    fx->held = req;
    fx->async_timer.data = fx;
    uv_timer_start(&fx->async_timer, async_timer_fired, 5, 0);
    return BLEND_HTTP_PENDING;
}

static int h_hold(struct blend_http_req *req, void *arg)
{
    struct fixture *fx = arg;
    fx->held = req;
    sem_post(&fx->handler_ran);
    return BLEND_HTTP_PENDING;
}

static int h_big(struct blend_http_req *req, void *arg)
{
    char *body = blend_malloc(BIG_BODY_BYTES);
    if (!body) {
        blend_http_respond_error(req, 503, "unavailable", "oom", NULL);
        return BLEND_HTTP_DONE;
    }
    for (size_t i = 0; i < BIG_BODY_BYTES; i++) {
        body[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    }
    blend_http_respond_take(req, 200, "application/octet-stream", body, BIG_BODY_BYTES);
    return BLEND_HTTP_DONE;
}

static int h_forgetful(struct blend_http_req *req, void *arg)
{
    return BLEND_HTTP_DONE; /* a bug: returns without answering */
}

static int h_failing(struct blend_http_req *req, void *arg)
{
    return BLEND_EIO;
}

static int h_null_json(struct blend_http_req *req, void *arg)
{
    /* json_pack refuses invalid UTF-8 and returns NULL: the layer must not send a 200. */
    blend_http_respond_json(req, 200, json_pack("{s:s}", "bad", "\xff"));
    return BLEND_HTTP_DONE;
}

static int h_metrics(struct blend_http_req *req, void *arg)
{
    struct fixture *fx = arg;
    struct blend_buf b;
    blend_buf_init(&b, 1 << 20);
    if (blend_metrics_render(fx->metrics, &b) != 0) {
        blend_buf_deinit(&b);
        blend_http_respond_error(req, 500, "internal", "render", NULL);
        return BLEND_HTTP_DONE;
    }
    size_t len = b.len;
    blend_http_respond_take(req, 200, "text/plain; version=0.0.4", blend_buf_take(&b), len);
    return BLEND_HTTP_DONE;
}

/* The app's hook: routes with access 1 need "Authorization: Bearer ok". */
static int before(struct blend_http_req *req, const struct blend_http_route *route, void *arg)
{
    if (route->access != 1) {
        return 0;
    }
    const char *auth = blend_http_req_header(req, "authorization");
    if (auth && strcmp(auth, "Bearer ok") == 0) {
        return 0;
    }
    blend_http_respond_error(req, 401, "unauthenticated", "log in first", NULL);
    return 1;
}

static const struct blend_http_route routes[] = {
    {BLEND_HTTP_GET, "/api/v1/agents/{id}", "agents.get", 0, h_agent_get},
    {BLEND_HTTP_PUT, "/api/v1/agents/{id}", "agents.put", 0, h_echo},
    {BLEND_HTTP_GET, "/api/v1/queues/{a}/members/{b}", "members.get", 0, h_two_params},
    {BLEND_HTTP_POST, "/api/v1/echo", "echo", 0, h_echo},
    {BLEND_HTTP_GET, "/api/v1/slow", "slow", 0, h_slow},
    {BLEND_HTTP_GET, "/api/v1/hold", "hold", 0, h_hold},
    {BLEND_HTTP_GET, "/api/v1/big", "big", 0, h_big},
    {BLEND_HTTP_GET, "/api/v1/secret", "secret", 1, h_two_params},
    {BLEND_HTTP_GET, "/api/v1/forgetful", "forgetful", 0, h_forgetful},
    {BLEND_HTTP_GET, "/api/v1/failing", "failing", 0, h_failing},
    {BLEND_HTTP_GET, "/api/v1/null-json", "null_json", 0, h_null_json},
    {BLEND_HTTP_GET, "/metrics", "metrics", 0, h_metrics},
};

static int ws_open(struct blend_ws *ws, struct blend_http_req *req, void *arg)
{
    struct fixture *fx = arg;
    const char *token = blend_http_req_query(req, "token");
    const char *origin = blend_http_req_header(req, "Origin");
    snprintf(fx->ws_origin, sizeof fx->ws_origin, "%s", origin ? origin : "");
    if (!token || strcmp(token, "good") != 0) {
        return 401;
    }
    if (blend_http_req_cookie(req, "deny")) {
        return 403;
    }
    blend_ws_set_ctx(ws, fx);
    fx->ws_opened++;
    return 0;
}

static void ws_message(struct blend_ws *ws, const char *text, size_t len, void *arg)
{
    struct fixture *fx = blend_ws_ctx(ws);
    if (len == 5 && memcmp(text, "flood", 5) == 0) {
        for (int i = 0; i < 10; i++) {
            if (blend_ws_send(ws, "x", 1) != 0) {
                fx->ws_send_refused++;
            }
        }
        return;
    }
    if (len == 3 && memcmp(text, "bye", 3) == 0) {
        blend_ws_close(ws);
        return;
    }
    (void)blend_ws_send(ws, text, len);
}

static void ws_close(struct blend_ws *ws, void *arg)
{
    struct fixture *fx = arg;
    fx->ws_closed++;
}

static const struct blend_ws_endpoint endpoints[] = {
    {"/api/v1/events", ws_open, ws_message, ws_close},
};

static void count_ctx_free(void *ctx)
{
    if (current) {
        current->ctx_freed++;
    }
    blend_free(ctx);
}

/* --- Fixture plumbing ---------------------------------------------------------------------------
 */

static const char *const extra_headers[] = {"X-Request-Id", NULL};

static struct blend_http_config default_config(struct fixture *fx)
{
    struct blend_http_config cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .routes = routes,
        .routes_count = sizeof routes / sizeof routes[0],
        .before = before,
        .ws_endpoints = endpoints,
        .ws_endpoints_count = 1,
        .arg = fx,
        .metrics = fx->metrics,
        .extra_headers = extra_headers,
        .body_bytes_max = 1024,
        .ws_backlog_max = 4,
        .ctx_free = count_ctx_free,
    };
    return cfg;
}

static void on_done(uv_async_t *a)
{
    struct fixture *fx = a->data;
    fx->client_done = 1;
}

static void on_watchdog(uv_timer_t *t)
{
    struct fixture *fx = t->data;
    fx->timed_out = 1;
}

static void fx_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    current = fx;
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(blend_metrics_create(&fx->metrics), 0);
    sem_init(&fx->handler_ran, 0, 0);
    sem_init(&fx->server_step, 0, 0);
    uv_async_init(&fx->loop, &fx->done, on_done);
    fx->done.data = fx;
    uv_timer_init(&fx->loop, &fx->watchdog);
    fx->watchdog.data = fx;
    uv_timer_start(&fx->watchdog, on_watchdog, WATCHDOG_MS, 0);
    uv_timer_init(&fx->loop, &fx->async_timer);
}

static void fx_start(struct fixture *fx, const struct blend_http_config *cfg)
{
    assert_int_equal(blend_http_create(&fx->loop, cfg, &fx->http), 0);
    fx->port = blend_http_port(fx->http);
    assert_true(fx->port > 0);
}

static void thread_main(void *arg)
{
    struct fixture *fx = arg;
    fx->client(fx);
    uv_async_send(&fx->done);
}

/* Turns the loop until pred holds or the watchdog fires. */
static int run_until(struct fixture *fx, int (*pred)(struct fixture *))
{
    while (!pred(fx) && !fx->timed_out) {
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    return !fx->timed_out;
}

static int client_finished(struct fixture *fx)
{
    return fx->client_done;
}

static void fx_run_client(struct fixture *fx, client_fn fn)
{
    fx->client = fn;
    fx->client_done = 0;
    assert_int_equal(uv_thread_create(&fx->thread, thread_main, fx), 0);
    int ok = run_until(fx, client_finished);
    uv_thread_join(&fx->thread);
    if (fx->failure[0]) {
        fail_msg("client: %s", fx->failure);
    }
    assert_true(ok);
}

static void close_cb(uv_handle_t *h)
{
}

static void fx_finish(struct fixture *fx)
{
    blend_http_destroy(fx->http);
    fx->http = NULL;
    uv_close((uv_handle_t *)&fx->done, close_cb);
    uv_close((uv_handle_t *)&fx->watchdog, close_cb);
    uv_close((uv_handle_t *)&fx->async_timer, close_cb);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    /* Every handle lws created on our loop is closed: the loop closes cleanly. */
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    blend_metrics_destroy(fx->metrics);
    sem_destroy(&fx->handler_ran);
    sem_destroy(&fx->server_step);
    current = NULL;
    assert_int_equal(blend_alloc_live(), 0);
}

/* --- Tests: routing, query, headers -------------------------------------------------------------
 */

static void client_routing(struct fixture *fx)
{
    struct resp r;
    CHECK(fx, cl_request(fx->port,
                         "GET /api/v1/agents/42?name=J%C3%B6rg%20X&x=1 HTTP/1.1\r\nHost: h\r\n"
                         "Cookie: a=1; sid=\"abc\"\r\nX-Request-Id: rid-7\r\n\r\n",
                         &r) == 0);
    CHECK(fx, r.status == 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    CHECK(fx, doc != NULL);
    const char *id = NULL, *name = NULL, *sid = NULL, *rid = NULL, *remote = NULL, *route = NULL;
    int ok = json_unpack(doc, "{s:s, s:s, s:s, s:s, s:s, s:s}", "id", &id, "name", &name, "sid",
                         &sid, "rid", &rid, "remote", &remote, "route", &route) == 0;
    ok = ok && strcmp(id, "42") == 0 && strcmp(name, "J\xc3\xb6rg X") == 0 &&
         strcmp(sid, "abc") == 0 && strcmp(rid, "rid-7") == 0 && strcmp(remote, "127.0.0.1") == 0 &&
         strcmp(route, "agents.get") == 0;
    json_decref(doc);
    CHECK(fx, ok);
    CHECK(fx, has_header(&r, "content-type", "application/json"));
    CHECK(fx, has_header(&r, "x-content-type-options", "nosniff"));
    CHECK(fx, has_header(&r, "cache-control", "no-store"));
    resp_free(&r);

    CHECK(fx, cl_request(fx->port, "GET /api/v1/queues/q1/members/m2 HTTP/1.1\r\nHost: h\r\n\r\n",
                         &r) == 0);
    CHECK(fx, r.status == 200 && strstr(r.body, "\"a\":\"q1\"") && strstr(r.body, "\"b\":\"m2\""));
    resp_free(&r);

    /* Long values: storing the first parameter grows the request's arena, which holds the path
     * the second one is read from (each is copied out before any is stored). */
    {
        char a[701], b[701], req[1600];
        memset(a, 'a', 700);
        memset(b, 'b', 700);
        a[700] = b[700] = '\0';
        snprintf(req, sizeof req, "GET /api/v1/queues/%s/members/%s HTTP/1.1\r\nHost: h\r\n\r\n", a,
                 b);
        CHECK(fx, cl_request(fx->port, req, &r) == 0);
        json_t *two = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
        CHECK(fx, two && strcmp(json_string_value(json_object_get(two, "a")), a) == 0 &&
                      strcmp(json_string_value(json_object_get(two, "b")), b) == 0);
        json_decref(two);
        resp_free(&r);
    }

    /* Unknown path: 404 with the JSON error shape. */
    CHECK(fx, cl_request(fx->port, "GET /api/v1/nope HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 404);
    CHECK(fx, strcmp(r.body, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such "
                             "resource\"}}") == 0);
    resp_free(&r);
    /* A pattern never matches a partial or longer path. */
    CHECK(fx, cl_request(fx->port, "GET /api/v1/agents HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 404);
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "GET /api/v1/agents/1/x HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 404);
    resp_free(&r);

    /* Known path, wrong method: 405 and Allow lists what the path accepts. */
    CHECK(fx,
          cl_request(fx->port, "DELETE /api/v1/agents/42 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 405);
    CHECK(fx, has_header(&r, "allow", "GET, PUT"));
    CHECK(fx, strstr(r.body, "\"method_not_allowed\"") != NULL);
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "HEAD /api/v1/agents/42 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 405);
    resp_free(&r);

    /* The before hook runs with the route's access value and may answer. */
    CHECK(fx, cl_request(fx->port, "GET /api/v1/secret HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 401 && strstr(r.body, "\"unauthenticated\""));
    resp_free(&r);

    /* Handlers that return without answering, or fail, get a 500 from the layer. */
    CHECK(fx, cl_request(fx->port, "GET /api/v1/forgetful HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 500 && strstr(r.body, "\"internal\""));
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "GET /api/v1/failing HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 500);
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "GET /api/v1/null-json HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 500 && error_code_is(&r, "internal"));
    resp_free(&r);

    /* A URI over the limit gets 414, and the connection closes. */
    static char line[BLEND_HTTP_URI_BYTES_MAX + 200];
    int n = snprintf(line, sizeof line, "GET /api/v1/agents/");
    memset(line + n, 'a', BLEND_HTTP_URI_BYTES_MAX);
    snprintf(line + n + BLEND_HTTP_URI_BYTES_MAX,
             sizeof line - (size_t)n - BLEND_HTTP_URI_BYTES_MAX, " HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(fx, cl_request(fx->port, line, &r) == 0);
    CHECK(fx, r.status == 414);
    resp_free(&r);

    /* Metrics count answered requests by route and status. */
    CHECK(fx, cl_request(fx->port, "GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 200);
    CHECK(fx, strstr(r.body, "blend_http_requests_total{route=\"agents.get\",status=\"200\"} 1\n"));
    CHECK(fx, strstr(r.body, "blend_http_requests_total{route=\"unmatched\",status=\"404\"} 3\n"));
    CHECK(fx, strstr(r.body, "blend_http_requests_total{route=\"unmatched\",status=\"405\"} 2\n"));
    CHECK(fx, strstr(r.body, "blend_http_request_duration_seconds_count{route=\"agents.get\"} 1"));
    CHECK(fx, !has_header(&r, "cache-control", "no-store")); /* not under /api/ */
    resp_free(&r);
}

static void routing_params_and_errors(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_routing);
    assert_int_equal(fx.ctx_freed, 1); /* the principal set on agents.get */
    assert_int_equal(blend_http_inflight(fx.http), 0);
    fx_finish(&fx);
}

/* --- Tests: JSON bodies -------------------------------------------------------------------------
 */

static int post_json(struct fixture *fx, const char *ct, const char *body, size_t len,
                     struct resp *r)
{
    char head[512];
    snprintf(head, sizeof head,
             "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nContent-Type: %s\r\n"
             "Content-Length: %zu\r\n\r\n",
             ct, len);
    int fd = cl_connect(fx->port);
    if (fd < 0) {
        return -1;
    }
    int rc = cl_sends(fd, head) == 0 && cl_send(fd, body, len) == 0 ? cl_read_response(fd, r) : -1;
    close(fd);
    return rc;
}

static void client_json(struct fixture *fx)
{
    struct resp r;
    const char *ok = "{\"a\":[1,2,{\"b\":\"\xc3\xa9\"}]}";
    CHECK(fx, post_json(fx, "application/json; charset=utf-8", ok, strlen(ok), &r) == 0);
    CHECK(fx, r.status == 201 && strcmp(r.body, ok) == 0);
    CHECK(fx, has_header(&r, "location", "/api/v1/echo/1"));
    resp_free(&r);

    CHECK(fx, post_json(fx, "text/plain", ok, strlen(ok), &r) == 0);
    CHECK(fx, r.status == 415 && error_code_is(&r, "unsupported_media_type"));
    resp_free(&r);
    CHECK(fx, post_json(fx, "application/json; charset=latin1", ok, strlen(ok), &r) == 0);
    CHECK(fx, r.status == 415);
    resp_free(&r);

    char deep[64] = "";
    for (int i = 0; i < BLEND_JSON_DEPTH_MAX + 1; i++) {
        strcat(deep, "[");
    }
    for (int i = 0; i < BLEND_JSON_DEPTH_MAX + 1; i++) {
        strcat(deep, "]");
    }
    CHECK(fx, post_json(fx, "application/json", deep, strlen(deep), &r) == 0);
    CHECK(fx, r.status == 400 && error_code_is(&r, "json_too_deep"));
    resp_free(&r);
    /* Exactly at the limit is fine. */
    CHECK(fx, post_json(fx, "application/json", deep + 1, strlen(deep) - 2, &r) == 0);
    CHECK(fx, r.status == 201);
    resp_free(&r);

    const char *dup = "{\"a\":1,\"a\":2}";
    CHECK(fx, post_json(fx, "application/json", dup, strlen(dup), &r) == 0);
    CHECK(fx, r.status == 400 && error_code_is(&r, "duplicate_key"));
    resp_free(&r);

    const char *bad_utf8 = "{\"a\":\"\xff\xfe\"}";
    CHECK(fx, post_json(fx, "application/json", bad_utf8, strlen(bad_utf8), &r) == 0);
    CHECK(fx, r.status == 400 && error_code_is(&r, "invalid_json"));
    resp_free(&r);
    CHECK(fx, post_json(fx, "application/json", "{\"a\":", 5, &r) == 0);
    CHECK(fx, r.status == 400 && error_code_is(&r, "invalid_json"));
    resp_free(&r);

    /* POST with an explicit empty body reaches the handler. */
    CHECK(fx, post_json(fx, "application/json", "", 0, &r) == 0);
    CHECK(fx, r.status == 400 && error_code_is(&r, "empty_body"));
    resp_free(&r);

    /* A declared body over the limit is refused with 413 as soon as the head arrives; a body
     * the client sends anyway is read and dropped, and the connection stays usable. */
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nContent-Type: "
                           "application/json\r\nContent-Length: 5000\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 413 && error_code_is(&r, "payload_too_large"));
    CHECK(fx, !has_header(&r, "connection", "close"));
    resp_free(&r);
    static char junk[5000];
    memset(junk, '[', sizeof junk); /* would be refused as JSON if it were ever parsed */
    CHECK(fx, cl_send(fd, junk, sizeof junk) == 0);
    CHECK(fx, cl_sends(fd, "GET /api/v1/agents/5 HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && strstr(r.body, "\"id\":\"5\""));
    resp_free(&r);
    close(fd);
    /* A client waiting for 100 Continue never sends the body: 413, then close. */
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nContent-Type: "
                           "application/json\r\nExpect: 100-continue\r\n"
                           "Content-Length: 1025\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 413 && has_header(&r, "connection", "close"));
    resp_free(&r);
    CHECK(fx, is_eof(fd));
    close(fd);
    /* So does a body too large to be worth reading. */
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nContent-Type: "
                           "application/json\r\nContent-Length: 999999999999\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 413 && has_header(&r, "connection", "close"));
    resp_free(&r);
    CHECK(fx, is_eof(fd));
    close(fd);

    /* A body method without Content-Length has no body: it is answered (here the handler sees
     * an empty body), then the connection closes. A chunked body is refused with 411. */
    CHECK(fx, cl_request(fx->port, "PUT /api/v1/agents/1 HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status != 411 && r.status != 0 && has_header(&r, "connection", "close"));
    resp_free(&r);
    CHECK(fx, cl_request(fx->port,
                         "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
                         "\r\n\r\n0\r\n\r\n",
                         &r) == 0);
    CHECK(fx, r.status == 411);
    resp_free(&r);
    CHECK(fx, cl_request(fx->port,
                         "POST /api/v1/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n",
                         &r) == 0);
    CHECK(fx, r.status == 400);
    resp_free(&r);

    /* PUT with a body: params and body together; the 1024-byte limit is inclusive. */
    char body[1025];
    memset(body, ' ', 1024);
    body[0] = '{';
    body[1022] = '}';
    body[1024] = '\0';
    int fd2 = cl_connect(fx->port);
    CHECK(fx, fd2 >= 0);
    CHECK(fx, cl_sends(fd2, "PUT /api/v1/agents/9 HTTP/1.1\r\nHost: h\r\nContent-Type: "
                            "application/json\r\nContent-Length: 1024\r\n\r\n") == 0);
    CHECK(fx, cl_send(fd2, body, 1024) == 0);
    CHECK(fx, cl_read_response(fd2, &r) == 0);
    CHECK(fx, r.status == 201 && strcmp(r.body, "{}") == 0);
    resp_free(&r);
    close(fd2);
}

static void json_body_errors(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_json);
    fx_finish(&fx);
}

/* --- Tests: asynchronous answers, disconnects, keep-alive, large bodies ------------------------
 */

static void client_async_keepalive_big(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    struct resp r;
    /* Asynchronous answer after a timer, then two more requests on the same connection. */
    CHECK(fx, cl_sends(fd, "GET /api/v1/slow HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && strcmp(r.body, "later") == 0);
    CHECK(fx, has_header(&r, "content-type", "text/plain"));
    resp_free(&r);
    CHECK(fx, cl_sends(fd, "GET /api/v1/agents/1 HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && strstr(r.body, "\"id\":\"1\""));
    resp_free(&r);
    CHECK(fx, cl_sends(fd, "GET /api/v1/big HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && r.body_len == BIG_BODY_BYTES);
    int same = 1;
    for (size_t i = 0; i < BIG_BODY_BYTES && same; i++) {
        same = r.body[i] == (char)('a' + (i * 7 + i / 1000) % 26);
    }
    resp_free(&r);
    CHECK(fx, same);
    CHECK(fx, cl_sends(fd, "GET /api/v1/agents/2 HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && strstr(r.body, "\"id\":\"2\""));
    resp_free(&r);
    close(fd);
}

static void async_keepalive_and_large_response(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_async_keepalive_big);
    assert_int_equal(blend_http_inflight(fx.http), 0);
    fx_finish(&fx);
}

static void client_disconnects(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "GET /api/v1/hold HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0);
    close(fd); /* gone before the answer */
}

static int held_is_gone(struct fixture *fx)
{
    return fx->held && blend_http_req_is_gone(fx->held);
}

static int no_connections(struct fixture *fx)
{
    return blend_http_connections(fx->http) == 0;
}

static void disconnect_before_async_answer(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_disconnects);
    assert_true(run_until(&fx, held_is_gone));
    assert_true(run_until(&fx, no_connections));
    /* The request outlives its connection until the app answers; the answer is dropped. */
    assert_int_equal(blend_http_inflight(fx.http), 1);
    assert_string_equal(blend_http_req_path(fx.held), "/api/v1/hold");
    blend_http_respond_json(fx.held, 200, json_pack("{s:s}", "late", "yes"));
    fx.held = NULL;
    assert_int_equal(blend_http_inflight(fx.http), 0);
    fx_finish(&fx);
}

static void client_release(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "GET /api/v1/hold HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    struct resp r;
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 500);
    resp_free(&r);
    close(fd);
}

static void release_step(uv_timer_t *t)
{
    struct fixture *fx = t->data;
    if (sem_trywait(&fx->handler_ran) == 0) {
        blend_http_req_release(fx->held);
        fx->held = NULL;
        uv_timer_stop(t);
    }
}

static void release_answers_500(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx.async_timer.data = &fx;
    uv_timer_start(&fx.async_timer, release_step, 1, 1);
    fx_run_client(&fx, client_release);
    fx_finish(&fx);
}

/* --- Tests: static files ------------------------------------------------------------------------
 */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void make_static_tree(struct fixture *fx, char *base, size_t cap)
{
    snprintf(base, cap, "/tmp/blend-http-XXXXXX");
    assert_non_null(mkdtemp(base));
    char p[512];
    snprintf(fx->static_dir, sizeof fx->static_dir, "%s/www", base);
    assert_int_equal(mkdir(fx->static_dir, 0700), 0);
    snprintf(p, sizeof p, "%s/secret.txt", base);
    write_file(p, "TOP-SECRET");
    snprintf(p, sizeof p, "%s/index.html", fx->static_dir);
    write_file(p, "<!doctype html><title>Blend</title>");
    snprintf(p, sizeof p, "%s/app.mjs", fx->static_dir);
    write_file(p, "export const x = 1;");
    snprintf(p, sizeof p, "%s/.env", fx->static_dir);
    write_file(p, "HIDDEN");
    snprintf(p, sizeof p, "%s/sub", fx->static_dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub/index.html", fx->static_dir);
    write_file(p, "<p>sub</p>");
    char target[512];
    snprintf(target, sizeof target, "%s/secret.txt", base);
    snprintf(p, sizeof p, "%s/link.txt", fx->static_dir);
    assert_int_equal(symlink(target, p), 0);
}

static void remove_static_tree(struct fixture *fx, const char *base)
{
    const char *files[] = {"www/index.html",     "www/app.mjs",  "www/.env",
                           "www/sub/index.html", "www/link.txt", "secret.txt"};
    char p[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", base, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/www/sub", base);
    rmdir(p);
    snprintf(p, sizeof p, "%s/www", base);
    rmdir(p);
    rmdir(base);
}

static void client_static(struct fixture *fx)
{
    struct resp r;
    CHECK(fx, cl_request(fx->port, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 200 && strcmp(r.body, "<!doctype html><title>Blend</title>") == 0);
    CHECK(fx, has_header(&r, "content-type", "text/html; charset=utf-8"));
    char csp[512];
    CHECK(fx, head_value(r.head, "content-security-policy", csp, sizeof csp) &&
                  strstr(csp, "default-src 'self'") && strstr(csp, "frame-ancestors 'none'"));
    CHECK(fx, has_header(&r, "x-content-type-options", "nosniff"));
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "GET /app.mjs HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 200 && has_header(&r, "content-type", "text/javascript; charset=utf-8"));
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "GET /sub/ HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 200 && strcmp(r.body, "<p>sub</p>") == 0);
    resp_free(&r);

    /* Nothing outside the root, whatever the spelling. */
    const char *escapes[] = {
        "/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt", "/link.txt", "/.env",
        "/sub",           "/missing.js",        "/..%2fsecret.txt"};
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        char req[256];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", escapes[i]);
        if (cl_request(fx->port, req, &r) != 0) {
            continue; /* lws may drop a request it finds malformed: also a refusal */
        }
        int leaked = strstr(r.body, "SECRET") != NULL || strstr(r.body, "HIDDEN") != NULL;
        int status = r.status;
        resp_free(&r);
        if (leaked || status == 200) {
            client_fail(fx, "static escape via %s: status %d", escapes[i], status);
            return;
        }
    }
    /* /api/ is never served from disk; other methods are refused. */
    CHECK(fx, cl_request(fx->port, "GET /api/index.html HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 404 && error_code_is(&r, "not_found"));
    resp_free(&r);
    CHECK(fx, cl_request(fx->port, "DELETE /index.html HTTP/1.1\r\nHost: h\r\n\r\n", &r) == 0);
    CHECK(fx, r.status == 405 && has_header(&r, "allow", "GET"));
    resp_free(&r);
}

static void static_files(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    char base[256];
    make_static_tree(&fx, base, sizeof base);
    struct blend_http_config cfg = default_config(&fx);
    cfg.static_dir = fx.static_dir;
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_static);
    fx_finish(&fx);

    /* The resolver itself, below lws's URI normalisation. */
    char root[512], out[512];
    assert_non_null(realpath(fx.static_dir, root));
    assert_int_equal(blend__http_static_resolve(root, "/index.html", out, sizeof out), 0);
    assert_int_equal(blend__http_static_resolve(root, "/", out, sizeof out), 0);
    assert_non_null(strstr(out, "/www/index.html"));
    assert_int_equal(blend__http_static_resolve(root, "/../secret.txt", out, sizeof out),
                     BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "/sub/../index.html", out, sizeof out),
                     BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "/./index.html", out, sizeof out),
                     BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "//index.html", out, sizeof out),
                     BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "/sub\\..\\x", out, sizeof out), BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "/link.txt", out, sizeof out), BLEND_EPERM);
    assert_int_equal(blend__http_static_resolve(root, "/sub", out, sizeof out), BLEND_ENOENT);
    assert_int_equal(blend__http_static_resolve(root, "/nope", out, sizeof out), BLEND_ENOENT);
    assert_int_equal(blend__http_static_resolve(root, "/index.html", out, 4), BLEND_ELIMIT);
    assert_string_equal(blend__http_mime("a.css"), "text/css; charset=utf-8");
    assert_string_equal(blend__http_mime("a.wasm"), "application/wasm");
    assert_string_equal(blend__http_mime("a.bin"), "application/octet-stream");
    remove_static_tree(&fx, base);
}

/* --- Tests: WebSocket ---------------------------------------------------------------------------
 */

static void client_ws(struct fixture *fx)
{
    struct resp r;
    /* Refused before the upgrade: a real 401/403/404 with a JSON body. */
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=bad", NULL) == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 401 && error_code_is(&r, "unauthorized"));
    resp_free(&r);
    close(fd);
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=good", "Cookie: deny=1\r\n") == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 403);
    resp_free(&r);
    close(fd);
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/other?token=good", NULL) == 0);
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 404);
    resp_free(&r);
    close(fd);

    /* Accepted: echo, then a normal close asked by the server. */
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=good", "Origin: http://localhost\r\n") == 0);
    char head[2048];
    CHECK(fx, cl_read_head(fd, head, sizeof head) == 0);
    CHECK(fx, strncmp(head, "HTTP/1.1 101", 12) == 0);
    CHECK(fx, ws_send_frame(fd, 1, "hello", 5) == 0);
    char *p;
    size_t len;
    CHECK(fx, ws_read_frame(fd, &p, &len) == 1);
    int same = len == 5 && memcmp(p, "hello", 5) == 0;
    free(p);
    CHECK(fx, same);
    /* A message sent in two fragments arrives whole. */
    unsigned char frag1[] = {0x01, 0x83, 0, 0, 0, 0, 'a', 'b', 'c'};
    unsigned char frag2[] = {0x80, 0x82, 0, 0, 0, 0, 'd', 'e'};
    CHECK(fx, cl_send(fd, frag1, sizeof frag1) == 0 && cl_send(fd, frag2, sizeof frag2) == 0);
    CHECK(fx, ws_read_frame(fd, &p, &len) == 1);
    same = len == 5 && memcmp(p, "abcde", 5) == 0;
    free(p);
    CHECK(fx, same);
    CHECK(fx, ws_send_frame(fd, 1, "bye", 3) == 0);
    int code = ws_read_close_code(fd, NULL);
    if (code != 1000) {
        client_fail(fx, "close code %d", code);
        return;
    }
    close(fd);

    /* A client that lets its backlog overflow is closed with 1008. */
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=good", NULL) == 0);
    CHECK(fx, cl_read_head(fd, head, sizeof head) == 0 && strncmp(head, "HTTP/1.1 101", 12) == 0);
    CHECK(fx, ws_send_frame(fd, 1, "flood", 5) == 0);
    int texts = 0;
    CHECK(fx, ws_read_close_code(fd, &texts) == 1008);
    CHECK(fx, texts == 0); /* queued frames are dropped with the close */
    close(fd);

    /* A message over BLEND_WS_MESSAGE_BYTES_MAX closes with 1009. */
    fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=good", NULL) == 0);
    CHECK(fx, cl_read_head(fd, head, sizeof head) == 0 && strncmp(head, "HTTP/1.1 101", 12) == 0);
    char *huge = malloc(BLEND_WS_MESSAGE_BYTES_MAX + 10);
    CHECK(fx, huge != NULL);
    memset(huge, 'z', BLEND_WS_MESSAGE_BYTES_MAX + 10);
    int sent = ws_send_frame(fd, 1, huge, BLEND_WS_MESSAGE_BYTES_MAX + 10);
    free(huge);
    CHECK(fx, sent == 0);
    CHECK(fx, ws_read_close_code(fd, NULL) == 1009);
    close(fd);
}

static int ws_all_closed(struct fixture *fx)
{
    return fx->ws_closed == 3 && blend_http_ws_clients(fx->http) == 0;
}

static void websocket_endpoint(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_ws);
    assert_true(run_until(&fx, ws_all_closed));
    assert_int_equal(fx.ws_opened, 3);
    assert_int_equal(fx.ws_send_refused, 6); /* 4 queued; the 5th overflows, 6-10 see closing */
    assert_string_equal(fx.ws_origin, "");
    fx_finish(&fx);
}

/* on_close runs for clients still open when the server is destroyed. */
static void client_ws_stays(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, ws_upgrade(fd, "/api/v1/events?token=good", "Origin: http://o.example\r\n") == 0);
    char head[2048];
    CHECK(fx, cl_read_head(fd, head, sizeof head) == 0 && strncmp(head, "HTTP/1.1 101", 12) == 0);
    CHECK(fx, ws_send_frame(fd, 1, "ping", 4) == 0);
    char *p;
    size_t len;
    CHECK(fx, ws_read_frame(fd, &p, &len) == 1);
    free(p);
    sem_post(&fx->server_step); /* connected; the main thread destroys the server now */
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0);
    close(fd);
}

static void destroy_step(uv_timer_t *t)
{
    struct fixture *fx = t->data;
    if (sem_trywait(&fx->server_step) == 0) {
        uv_timer_stop(t);
        uv_stop(&fx->loop);
    }
}

static void destroy_with_open_websocket(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx.client = client_ws_stays;
    assert_int_equal(uv_thread_create(&fx.thread, thread_main, &fx), 0);
    fx.async_timer.data = &fx;
    uv_timer_start(&fx.async_timer, destroy_step, 1, 1);
    uv_run(&fx.loop, UV_RUN_DEFAULT); /* until destroy_step stops it */
    assert_false(fx.timed_out);
    assert_int_equal(blend_http_ws_clients(fx.http), 1);
    assert_string_equal(fx.ws_origin, "http://o.example");
    blend_http_destroy(fx.http);
    fx.http = NULL;
    assert_int_equal(fx.ws_closed, 1);
    sem_post(&fx.handler_ran);
    uv_thread_join(&fx.thread);
    assert_string_equal(fx.failure, "");
    blend_http_destroy(NULL);
    fx_finish(&fx);
}

/* --- Tests: connection limit, graceful stop ----------------------------------------------------
 */

static void client_limit(struct fixture *fx)
{
    struct resp r;
    int a = cl_connect(fx->port);
    int b = cl_connect(fx->port);
    CHECK(fx, a >= 0 && b >= 0);
    /* Complete a request on each so both are adopted before the third arrives. */
    CHECK(fx, cl_sends(a, "GET /api/v1/agents/1 HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(a, &r) == 0 && r.status == 200);
    resp_free(&r);
    CHECK(fx, cl_sends(b, "GET /api/v1/agents/2 HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, cl_read_response(b, &r) == 0 && r.status == 200);
    resp_free(&r);
    int c = cl_connect(fx->port);
    CHECK(fx, c >= 0);
    if (cl_read_response(c, &r) != 0) {
        client_fail(fx, "third connection: errno %d head [%s]", errno, r.head);
        return;
    }
    CHECK(fx, r.status == 503 && error_code_is(&r, "unavailable"));
    resp_free(&r);
    CHECK(fx, is_eof(c));
    close(c);
    close(a);
    close(b);
}

static void connection_limit(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    cfg.connections_max = 2;
    fx_start(&fx, &cfg);
    fx_run_client(&fx, client_limit);
    struct blend_buf b;
    blend_buf_init(&b, 1 << 16);
    assert_int_equal(blend_metrics_render(fx.metrics, &b), 0);
    assert_non_null(strstr(b.data, "blend_http_connections_refused_total 1\n"));
    blend_buf_deinit(&b);
    fx_finish(&fx);
}

static void client_graceful(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "GET /api/v1/hold HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0);
    sem_post(&fx->server_step); /* the server stops accepting now */
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0);
    int refused = cl_connect(fx->port);
    int err = errno;
    if (refused >= 0) {
        close(refused);
    }
    CHECK(fx, refused < 0 && err == ECONNREFUSED);
    sem_post(&fx->server_step); /* the in-flight request may finish */
    struct resp r;
    CHECK(fx, cl_read_response(fd, &r) == 0);
    CHECK(fx, r.status == 200 && strcmp(r.body, "{\"done\":true}") == 0);
    resp_free(&r);
    close(fd);
}

static void graceful_step(uv_timer_t *t)
{
    struct fixture *fx = t->data;
    if (sem_trywait(&fx->server_step) != 0) {
        return;
    }
    if (blend_http_port(fx->http) != 0) {
        blend_http_stop_accepting(fx->http);
        blend_http_stop_accepting(fx->http); /* idempotent */
        sem_post(&fx->handler_ran);
        return;
    }
    assert_int_equal(blend_http_inflight(fx->http), 1);
    blend_http_respond_json(fx->held, 200, json_pack("{s:b}", "done", 1));
    fx->held = NULL;
    uv_timer_stop(t);
}

static void stop_accepting_then_destroy(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx.async_timer.data = &fx;
    uv_timer_start(&fx.async_timer, graceful_step, 1, 1);
    fx_run_client(&fx, client_graceful);
    assert_int_equal(blend_http_port(fx.http), 0);
    assert_int_equal(blend_http_inflight(fx.http), 0);
    fx_finish(&fx);
}

/* Destroy frees requests the app still holds on live connections. */
static void client_hold_forever(struct fixture *fx)
{
    int fd = cl_connect(fx->port);
    CHECK(fx, fd >= 0);
    CHECK(fx, cl_sends(fd, "GET /api/v1/hold HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0);
    sem_post(&fx->server_step);
    CHECK(fx, sem_wait_bounded(&fx->handler_ran) == 0); /* the server is gone */
    CHECK(fx, is_eof(fd));
    close(fd);
}

static void destroy_with_pending_request(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    fx_start(&fx, &cfg);
    fx.client = client_hold_forever;
    assert_int_equal(uv_thread_create(&fx.thread, thread_main, &fx), 0);
    fx.async_timer.data = &fx;
    uv_timer_start(&fx.async_timer, destroy_step, 1, 1);
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    assert_false(fx.timed_out);
    assert_int_equal(blend_http_inflight(fx.http), 1);
    blend_http_destroy(fx.http); /* the held request is freed with the server */
    fx.http = NULL;
    fx.held = NULL;
    sem_post(&fx.handler_ran);
    uv_thread_join(&fx.thread);
    assert_string_equal(fx.failure, "");
    fx_finish(&fx);
}

/* --- Tests: configuration and pure helpers ------------------------------------------------------
 */

static void config_is_validated(void **state)
{
    struct fixture fx;
    fx_init(&fx);
    struct blend_http_config cfg = default_config(&fx);
    struct blend_http *http;
    struct blend_http_route bad[] = {{BLEND_HTTP_GET, "/a/{x}/{x", "bad", 0, h_echo}};
    cfg.routes = bad;
    cfg.routes_count = 1;
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL);
    struct blend_http_route dup[] = {{BLEND_HTTP_GET, "/a", "one", 0, h_echo},
                                     {BLEND_HTTP_GET, "/a", "two", 0, h_echo}};
    cfg.routes = dup;
    cfg.routes_count = 2;
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL);
    struct blend_http_route two_methods[] = {
        {BLEND_HTTP_GET | BLEND_HTTP_POST, "/a", "x", 0, h_echo}};
    cfg.routes = two_methods;
    cfg.routes_count = 1;
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL);
    cfg = default_config(&fx);
    cfg.tls_cert_path = "/nonexistent/cert.pem";
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL); /* key missing */
    cfg.tls_key_path = "/nonexistent/key.pem";
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EIO);
    cfg = default_config(&fx);
    cfg.host = "not-an-address";
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL);
    cfg = default_config(&fx);
    cfg.static_dir = "/nonexistent/www";
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EINVAL);
    /* A port already in use. */
    cfg = default_config(&fx);
    struct blend_http *first;
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &first), 0);
    cfg.port = blend_http_port(first);
    cfg.metrics = NULL;
    assert_int_equal(blend_http_create(&fx.loop, &cfg, &http), BLEND_EIO);
    fx.http = first;
    fx_finish(&fx);
}

static void route_patterns(void **state)
{
    assert_int_equal(blend__http_route_validate("/"), 0);
    assert_int_equal(blend__http_route_validate("/api/v1/agents/{id}"), 0);
    assert_int_equal(blend__http_route_validate("/a/{b}/c/{d_2}"), 0);
    assert_int_equal(blend__http_route_validate("api"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/a/"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/a//b"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/a/{}"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/a/x{y}"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/a/{y-z}"), BLEND_EINVAL);
    assert_int_equal(blend__http_route_validate("/{a}/{b}/{c}/{d}"), 0);
    assert_int_equal(blend__http_route_validate("/{a}/{b}/{c}/{d}/{e}"), BLEND_EINVAL);
    struct blend__http_param p[BLEND_ROUTE_PARAMS_MAX];
    size_t n;
    assert_int_equal(blend__http_route_match("/a/{id}/c", "/a/77/c", p, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(p[0].name_len, 2);
    assert_memory_equal(p[0].name, "id", 2);
    assert_int_equal(p[0].value_len, 2);
    assert_memory_equal(p[0].value, "77", 2);
    assert_int_equal(blend__http_route_match("/a/{id}/c", "/a//c", p, &n), 0);
    assert_int_equal(blend__http_route_match("/a/{id}/c", "/a/1/c/", p, &n), 0);
    assert_int_equal(blend__http_route_match("/a/{id}/c", "/a/1", p, &n), 0);
    assert_int_equal(blend__http_route_match("/a/b", "/a/bc", p, &n), 0);
    assert_int_equal(blend__http_route_match("/", "/", p, &n), 1);
    assert_int_equal(blend__http_route_match("/", "/x", p, &n), 0);
}

static void json_parse_rules(void **state)
{
    json_t *doc = NULL;
    struct blend_http_body_error err;
    /* The depth scan ignores brackets inside strings and escaped quotes. */
    assert_int_equal(blend_http_json_depth_check("[\"[[[[\\\"[[[[\"]", 14, 1), 0);
    assert_int_equal(blend_http_json_depth_check("[[1]]", 5, 1), BLEND_ELIMIT);
    assert_int_equal(blend_http_json_depth_check("{\"a\":{\"b\":[]}}", 14, 3), 0);
    assert_int_equal(blend_http_json_depth_check("]]]]}}}[[", 9, 2), 0);
    assert_int_equal(blend_http_json_depth_check("", 0, 0), 0);
    const char *ok = "{\"k\":[true]}";
    assert_int_equal(
        blend_http_json_parse("application/vnd.blend+json", ok, strlen(ok), 100, &doc, &err), 0);
    json_decref(doc);
    assert_int_equal(blend_http_json_parse("Application/JSON ; Charset=\"UTF-8\"", ok, strlen(ok),
                                           100, &doc, &err),
                     0);
    json_decref(doc);
    assert_int_equal(blend_http_json_parse(NULL, ok, strlen(ok), 100, &doc, &err), BLEND_EINVAL);
    assert_int_equal(err.status, 415);
    assert_int_equal(blend_http_json_parse("application/jsonx", ok, strlen(ok), 100, &doc, &err),
                     BLEND_EINVAL);
    assert_int_equal(blend_http_json_parse("application/json", ok, strlen(ok), 5, &doc, &err),
                     BLEND_ELIMIT);
    assert_int_equal(err.status, 413);
    assert_string_equal(err.code, "payload_too_large");
    assert_int_equal(blend_http_json_parse("application/json", "\"str\"", 5, 100, &doc, &err),
                     BLEND_EPARSE);
    assert_int_equal(err.status, 400);
    assert_int_equal(
        blend_http_json_parse("application/json", "{\"a\":\"\\u0000\"}", 14, 100, &doc, &err),
        BLEND_EPARSE);
    assert_int_equal(blend_http_json_parse("application/json", "{} {}", 5, 100, &doc, &err),
                     BLEND_EPARSE);
    assert_non_null(strstr(err.message, "line 1"));
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    blend_log_set_level(getenv("BLEND_TEST_LOG") ? BLEND_LOG_DEBUG : BLEND_LOG_OFF);
    if (getenv("BLEND_TEST_FILTER")) {
        cmocka_set_test_filter(getenv("BLEND_TEST_FILTER"));
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(route_patterns),
        cmocka_unit_test(json_parse_rules),
        cmocka_unit_test(config_is_validated),
        cmocka_unit_test(routing_params_and_errors),
        cmocka_unit_test(json_body_errors),
        cmocka_unit_test(async_keepalive_and_large_response),
        cmocka_unit_test(disconnect_before_async_answer),
        cmocka_unit_test(release_answers_500),
        cmocka_unit_test(static_files),
        cmocka_unit_test(websocket_endpoint),
        cmocka_unit_test(destroy_with_open_websocket),
        cmocka_unit_test(connection_limit),
        cmocka_unit_test(stop_accepting_then_destroy),
        cmocka_unit_test(destroy_with_pending_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
