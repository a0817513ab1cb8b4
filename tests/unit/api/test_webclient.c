/*
 * Tests for the outgoing HTTP client (webclient.h). Each test runs the client and a small HTTP
 * responder on the same fresh libuv loop, on loopback: the responder answers canned responses by
 * path (200 JSON, 500, a redirect, 204, a request it never answers, answers too large with and
 * without Content-Length, an echo of the POST body) and keeps connections alive so curl's
 * connection cache is exercised too. A port bound without listening gives a refused connection.
 *
 * Every wait is for an event (an answer, a request or a closed connection seen by the responder)
 * under a 20 s watchdog; no sleeps, no timing assertions. Each test ends by destroying the client,
 * closing every handle, checking uv_loop_close() and that no allocation made through
 * blend_malloc (curl's included) is left. The allow-list is tested directly.
 */
#include "api/webclient.h"
#include "base/alloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#define WATCHDOG_MS 20000
#define HUGE_BYTES 200000
#define ANSWERS_MAX 64
#define CONN_BUF_BYTES (64 * 1024)

/* --- The responder ---------------------------------------------------------------------------- */

struct conn {
    uv_tcp_t tcp;
    struct server *srv;
    struct conn *prev, *next;
    char buf[CONN_BUF_BYTES];
    size_t len;
    int is_closing;
};

struct server {
    uv_tcp_t tcp;
    int port;
    struct conn *conns;
    int accepted;
    int requests;
    int closed_by_peer; /* connections the client closed */
    char last_method[8];
    char last_path[128];
    char last_ctype[128];
    int last_has_expect;
};

struct wreq {
    uv_write_t w;
    char *data;
    int is_close_after;
};

static void conn_closed(uv_handle_t *h)
{
    free(h); /* the tcp handle is the first member of struct conn */
}

static void conn_close(struct conn *c)
{
    if (c->is_closing) {
        return;
    }
    c->is_closing = 1;
    struct server *srv = c->srv;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *wr = (struct wreq *)w;
    struct conn *c = w->data;
    if ((wr->is_close_after || status < 0) && !c->is_closing) {
        conn_close(c);
    }
    free(wr->data);
    free(wr);
}

static void conn_send(struct conn *c, char *data, size_t len, int is_close_after)
{
    struct wreq *wr = calloc(1, sizeof *wr);
    assert_non_null(wr);
    wr->data = data;
    wr->is_close_after = is_close_after;
    wr->w.data = c;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    assert_int_equal(uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written), 0);
}

static void conn_answer(struct conn *c, int status, const char *extra, const char *body,
                        size_t body_len)
{
    char *out = malloc(body_len + 512);
    assert_non_null(out);
    int n = snprintf(out, 512, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, body_len,
                     extra);
    memcpy(out + n, body, body_len);
    conn_send(c, out, (size_t)n + body_len, 0);
}

static void route(struct conn *c, const char *method, const char *path, const char *body,
                  size_t body_len)
{
    (void)method;
    if (strcmp(path, "/slow") == 0) {
        return; /* never answered */
    }
    if (strncmp(path, "/json", 5) == 0) {
        char json[256];
        int n = snprintf(json, sizeof json, "{\"balance\": 12, \"path\": \"%s\"}", path);
        conn_answer(c, 200, "Content-Type: application/json\r\n", json, (size_t)n);
    } else if (strcmp(path, "/error") == 0) {
        conn_answer(c, 500, "", "{\"error\": \"boom\"}", 17);
    } else if (strcmp(path, "/redirect") == 0) {
        conn_answer(c, 302, "Location: /json\r\n", "moved", 5);
    } else if (strcmp(path, "/empty") == 0) {
        conn_answer(c, 204, "", "", 0);
    } else if (strcmp(path, "/echo") == 0) {
        conn_answer(c, 200, "", body, body_len);
    } else if (strcmp(path, "/huge") == 0) {
        char *big = malloc(HUGE_BYTES);
        assert_non_null(big);
        memset(big, 'x', HUGE_BYTES);
        conn_answer(c, 200, "", big, HUGE_BYTES);
        free(big);
    } else if (strcmp(path, "/huge-unsized") == 0) {
        /* No Content-Length: the answer ends when the connection closes. */
        const char *head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
        size_t head_len = strlen(head);
        char *out = malloc(head_len + HUGE_BYTES);
        assert_non_null(out);
        memcpy(out, head, head_len);
        memset(out + head_len, 'y', HUGE_BYTES);
        conn_send(c, out, head_len + HUGE_BYTES, 1);
    } else {
        conn_answer(c, 404, "", "", 0);
    }
}

/* Parses every complete request in the connection's buffer (keep-alive: several may come). */
static void conn_parse(struct conn *c)
{
    struct server *srv = c->srv;
    for (;;) {
        c->buf[c->len] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end) {
            return;
        }
        size_t head_len = (size_t)(end - c->buf) + 4;
        size_t body_len = 0;
        char *cl = strcasestr(c->buf, "\r\ncontent-length:");
        if (cl && cl < end) {
            body_len = strtoul(cl + 17, NULL, 10);
        }
        if (c->len < head_len + body_len) {
            return;
        }
        char method[8] = "", path[128] = "";
        assert_int_equal(sscanf(c->buf, "%7s %127s", method, path), 2);
        snprintf(srv->last_method, sizeof srv->last_method, "%s", method);
        snprintf(srv->last_path, sizeof srv->last_path, "%s", path);
        srv->last_ctype[0] = '\0';
        char *ct = strcasestr(c->buf, "\r\ncontent-type:");
        if (ct && ct < end) {
            sscanf(ct + 15, " %127[^\r]", srv->last_ctype);
        }
        char *ex = strcasestr(c->buf, "\r\nexpect:");
        srv->last_has_expect = ex && ex < end;
        srv->requests++;
        route(c, method, path, c->buf + head_len, body_len);
        memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
        c->len -= head_len + body_len;
    }
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = (struct conn *)h;
    (void)suggested;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = (struct conn *)s;
    (void)b;
    if (n < 0) {
        c->srv->closed_by_peer++;
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    assert_true(c->len < sizeof c->buf - 1);
    conn_parse(c);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct server *srv = l->data;
    assert_int_equal(status, 0);
    struct conn *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->srv = srv;
    assert_int_equal(uv_tcp_init(l->loop, &c->tcp), 0);
    assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
    c->next = srv->conns;
    if (srv->conns) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->accepted++;
    assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read), 0);
}

static void server_start(uv_loop_t *loop, struct server *srv)
{
    memset(srv, 0, sizeof *srv);
    struct sockaddr_in sa;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
    assert_int_equal(uv_tcp_init(loop, &srv->tcp), 0);
    srv->tcp.data = srv;
    assert_int_equal(uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&sa, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&srv->tcp, 256, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    assert_int_equal(uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&got, &len), 0);
    srv->port = ntohs(got.sin_port);
}

static void server_stop(struct server *srv)
{
    while (srv->conns) {
        conn_close(srv->conns);
    }
    uv_close((uv_handle_t *)&srv->tcp, NULL);
}

/* --- Fixture ---------------------------------------------------------------------------------- */

struct answer {
    int calls;
    int rc;
    int status;
    char body[512]; /* the start of the body */
    size_t len;
    uint32_t hash; /* of the whole body */
};

/* FNV-1a, to compare whole bodies without keeping them. */
static uint32_t hash_of(const char *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)p[i]) * 16777619u;
    }
    return h;
}

struct fixture {
    uv_loop_t loop;
    uv_timer_t watchdog;
    struct server srv;
    struct blend_webclient *wc;
    int refused_fd; /* bound, never listening: connections to it are refused */
    int refused_port;
    int in_send;
    int answered;
    struct answer answers[ANSWERS_MAX];
    long live_before;
    /* Hooks run from the callback of the request with this token (-1: none). */
    long destroy_on_token;
    long send_on_token;
    int send_in_cb_rc;
};

static struct fixture *fx_of(void **state)
{
    return *state;
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    fail_msg("watchdog: no event within %d ms", WATCHDOG_MS);
}

static void on_answer(void *arg, uint64_t token, int rc, int status, const char *body, size_t len)
{
    struct fixture *fx = arg;
    assert_false(fx->in_send); /* never inside send() */
    assert_true(token < ANSWERS_MAX);
    struct answer *a = &fx->answers[token];
    a->calls++;
    a->rc = rc;
    a->status = status;
    a->len = len;
    assert_non_null(body);
    a->hash = hash_of(body, len);
    assert_int_equal(body[len], '\0');
    snprintf(a->body, sizeof a->body, "%s", body);
    fx->answered++;
    if ((long)token == fx->send_on_token) {
        fx->send_on_token = -1;
        struct blend_webclient_request r = {.method = "GET", .timeout_ms = 5000};
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/json?chained", fx->srv.port);
        r.url = url;
        fx->send_in_cb_rc = blend__webclient_send(fx->wc, &r, on_answer, fx, token + 1, NULL);
    }
    if ((long)token == fx->destroy_on_token) {
        fx->destroy_on_token = -1;
        blend__webclient_destroy(fx->wc);
        fx->wc = NULL;
    }
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    fx->destroy_on_token = -1;
    fx->send_on_token = -1;
    fx->live_before = blend_alloc_live();
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(uv_timer_init(&fx->loop, &fx->watchdog), 0);
    assert_int_equal(uv_timer_start(&fx->watchdog, on_watchdog, WATCHDOG_MS, 0), 0);
    server_start(&fx->loop, &fx->srv);

    fx->refused_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fx->refused_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fx->refused_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fx->refused_fd, (struct sockaddr *)&sa, &sl), 0);
    fx->refused_port = ntohs(sa.sin_port);

    assert_int_equal(blend__webclient_create(&fx->loop, &fx->wc), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = fx_of(state);
    blend__webclient_destroy(fx->wc);
    server_stop(&fx->srv);
    uv_close((uv_handle_t *)&fx->watchdog, NULL);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    close(fx->refused_fd);
    assert_int_equal(blend_alloc_live(), fx->live_before);
    free(fx);
    return 0;
}

/* Runs the loop until *counter reaches n. */
static void run_until(struct fixture *fx, const int *counter, int n)
{
    while (*counter < n) {
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
}

static void send_full(struct fixture *fx, const struct blend_webclient_request *r, uint64_t token,
                      uint64_t *id_out)
{
    fx->in_send = 1;
    int rc = blend__webclient_send(fx->wc, r, on_answer, fx, token, id_out);
    fx->in_send = 0;
    assert_int_equal(rc, 0);
}

static void send_req(struct fixture *fx, const char *method, const char *path, int timeout_ms,
                     uint64_t token, uint64_t *id_out)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", fx->srv.port, path);
    struct blend_webclient_request r = {.method = method, .url = url, .timeout_ms = timeout_ms};
    send_full(fx, &r, token, id_out);
}

/* --- Requests --------------------------------------------------------------------------------- */

static void get_answers_with_any_status(void **state)
{
    struct fixture *fx = fx_of(state);
    send_req(fx, "GET", "/json", 5000, 0, NULL);
    send_req(fx, "GET", "/error", 5000, 1, NULL);
    send_req(fx, "GET", "/redirect", 5000, 2, NULL);
    send_req(fx, "GET", "/empty", 5000, 3, NULL);
    send_req(fx, "GET", "/nowhere", 5000, 4, NULL);
    assert_int_equal(fx->answered, 0); /* nothing answered inside send() */
    run_until(fx, &fx->answered, 5);
    assert_int_equal(fx->answers[0].rc, 0);
    assert_int_equal(fx->answers[0].status, 200);
    assert_string_equal(fx->answers[0].body, "{\"balance\": 12, \"path\": \"/json\"}");
    assert_int_equal(fx->answers[0].len, strlen(fx->answers[0].body));
    assert_int_equal(fx->answers[1].rc, 0);
    assert_int_equal(fx->answers[1].status, 500);
    assert_string_equal(fx->answers[1].body, "{\"error\": \"boom\"}");
    /* The redirect is not followed: its own answer comes back and /json is asked only once. */
    assert_int_equal(fx->answers[2].rc, 0);
    assert_int_equal(fx->answers[2].status, 302);
    assert_string_equal(fx->answers[2].body, "moved");
    assert_int_equal(fx->answers[3].status, 204);
    assert_int_equal(fx->answers[3].len, 0);
    assert_int_equal(fx->answers[4].status, 404);
    assert_int_equal(fx->srv.requests, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fx->answers[i].calls, 1);
    }
    assert_string_equal(fx->srv.last_method, "GET");
}

static void post_body_is_sent_and_copied(void **state)
{
    struct fixture *fx = fx_of(state);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", fx->srv.port);
    /* Over 1 KiB, where older curls asked for "100 Continue". */
    char body[3000];
    for (size_t i = 0; i < sizeof body; i++) {
        body[i] = (char)('a' + i % 26);
    }
    struct blend_webclient_request r = {.method = "POST",
                                        .url = url,
                                        .content_type = "application/json",
                                        .body = body,
                                        .body_len = sizeof body,
                                        .timeout_ms = 5000};
    send_full(fx, &r, 0, NULL);
    char expect[sizeof body];
    memcpy(expect, body, sizeof body);
    memset(body, '!', sizeof body); /* the caller's buffer is free after send() */
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[0].rc, 0);
    assert_int_equal(fx->answers[0].status, 200);
    assert_int_equal(fx->answers[0].len, sizeof body);
    assert_int_equal(fx->answers[0].hash, hash_of(expect, sizeof expect));
    assert_string_equal(fx->srv.last_method, "POST");
    assert_string_equal(fx->srv.last_ctype, "application/json");
    assert_false(fx->srv.last_has_expect);

    /* An empty POST without a content type. */
    struct blend_webclient_request e = {.method = "POST", .url = url, .timeout_ms = 5000};
    send_full(fx, &e, 1, NULL);
    run_until(fx, &fx->answered, 2);
    assert_int_equal(fx->answers[1].rc, 0);
    assert_int_equal(fx->answers[1].len, 0);
    assert_string_equal(fx->srv.last_method, "POST");
}

static void timeout_is_etimedout(void **state)
{
    struct fixture *fx = fx_of(state);
    send_req(fx, "GET", "/slow", 100, 0, NULL);
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[0].rc, BLEND_ETIMEDOUT);
    assert_int_equal(fx->answers[0].status, 0);
    assert_int_equal(fx->answers[0].len, 0);
    assert_string_equal(fx->answers[0].body, "");
}

static void large_answers_are_elimit(void **state)
{
    struct fixture *fx = fx_of(state);
    send_req(fx, "GET", "/huge", 5000, 0, NULL);         /* Content-Length over the bound */
    send_req(fx, "GET", "/huge-unsized", 5000, 1, NULL); /* found while reading */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/huge", fx->srv.port);
    struct blend_webclient_request r = {
        .method = "GET", .url = url, .timeout_ms = 5000, .response_bytes_max = HUGE_BYTES};
    send_full(fx, &r, 2, NULL);
    r.response_bytes_max = HUGE_BYTES - 1;
    send_full(fx, &r, 3, NULL);
    run_until(fx, &fx->answered, 4);
    assert_int_equal(fx->answers[0].rc, BLEND_ELIMIT);
    assert_int_equal(fx->answers[1].rc, BLEND_ELIMIT);
    assert_int_equal(fx->answers[1].len, 0);
    /* Exactly at the bound is fine; one byte over is not. */
    assert_int_equal(fx->answers[2].rc, 0);
    assert_int_equal(fx->answers[2].len, HUGE_BYTES);
    assert_int_equal(fx->answers[3].rc, BLEND_ELIMIT);
}

static void refused_connection_is_eio(void **state)
{
    struct fixture *fx = fx_of(state);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/json", fx->refused_port);
    struct blend_webclient_request r = {.method = "GET", .url = url, .timeout_ms = 5000};
    send_full(fx, &r, 0, NULL);
    assert_int_equal(fx->answered, 0);
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[0].rc, BLEND_EIO);
    assert_int_equal(fx->answers[0].status, 0);
}

static void bad_requests_are_refused(void **state)
{
    struct fixture *fx = fx_of(state);
    char ok_url[128];
    snprintf(ok_url, sizeof ok_url, "http://127.0.0.1:%d/json", fx->srv.port);
    static char long_url[BLEND_WEBCLIENT_URL_BYTES_MAX + 64];
    int n = snprintf(long_url, sizeof long_url, "http://127.0.0.1:%d/", fx->srv.port);
    memset(long_url + n, 'a', sizeof long_url - (size_t)n - 1);
    const struct {
        const char *method, *url, *ctype;
        const char *body;
        size_t body_len;
        int timeout_ms;
        size_t max;
    } bad[] = {
        {"PUT", ok_url, NULL, NULL, 0, 1000, 0},
        {"get", ok_url, NULL, NULL, 0, 1000, 0},
        {"GET", ok_url, NULL, NULL, 0, 0, 0},
        {"GET", ok_url, NULL, NULL, 0, BLEND_WEBCLIENT_TIMEOUT_MS_MAX + 1, 0},
        {"GET", ok_url, NULL, NULL, 0, -5, 0},
        {"GET", ok_url, NULL, "x", 1, 1000, 0},
        {"GET", ok_url, "text/plain", NULL, 0, 1000, 0},
        {"POST", ok_url, "text/plain\r\nX-Evil: 1", "x", 1, 1000, 0},
        {"POST", ok_url, NULL, NULL, 5, 1000, 0},
        {"POST", ok_url, NULL, "x", BLEND_WEBCLIENT_BODY_BYTES_MAX + 1, 1000, 0},
        {"GET", ok_url, NULL, NULL, 0, 1000, BLEND_WEBCLIENT_RESPONSE_BYTES_MAX + 1},
        {"GET", "ftp://127.0.0.1/x", NULL, NULL, 0, 1000, 0},
        {"GET", "file:///etc/passwd", NULL, NULL, 0, 1000, 0},
        {"GET", "gopher://127.0.0.1/", NULL, NULL, 0, 1000, 0},
        {"GET", "127.0.0.1/json", NULL, NULL, 0, 1000, 0},
        {"GET", "http://", NULL, NULL, 0, 1000, 0},
        {"GET", "http://127.0.0.1/a b", NULL, NULL, 0, 1000, 0},
        {"GET", "http://127.0.0.1/\r\nHost: evil", NULL, NULL, 0, 1000, 0},
        {"GET", long_url, NULL, NULL, 0, 1000, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct blend_webclient_request r = {.method = bad[i].method,
                                            .url = bad[i].url,
                                            .content_type = bad[i].ctype,
                                            .body = bad[i].body,
                                            .body_len = bad[i].body_len,
                                            .timeout_ms = bad[i].timeout_ms,
                                            .response_bytes_max = bad[i].max};
        uint64_t id = 777;
        int rc = blend__webclient_send(fx->wc, &r, on_answer, fx, 0, &id);
        if (rc != BLEND_EINVAL) {
            fail_msg("case %zu: %s", i, blend_errname(rc));
        }
        assert_int_equal(id, 777);
    }
    /* The limits themselves are accepted; the client still works. */
    struct blend_webclient_request r = {.method = "GET",
                                        .url = ok_url,
                                        .timeout_ms = BLEND_WEBCLIENT_TIMEOUT_MS_MAX,
                                        .response_bytes_max = BLEND_WEBCLIENT_RESPONSE_BYTES_MAX};
    uint64_t id = 0;
    send_full(fx, &r, 1, &id);
    assert_true(id > 0);
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[1].rc, 0);
    assert_int_equal(fx->answers[0].calls, 0);
}

static void cancel_means_no_callback(void **state)
{
    struct fixture *fx = fx_of(state);
    uint64_t early = 0, late = 0;
    /* Cancelled before the loop ran: no connection needed. */
    send_req(fx, "GET", "/slow", 10000, 0, &early);
    blend__webclient_cancel(fx->wc, early);
    /* Cancelled once the responder holds the request: the connection is closed. */
    send_req(fx, "GET", "/slow", 10000, 1, &late);
    assert_true(late != early);
    run_until(fx, &fx->srv.requests, 1);
    blend__webclient_cancel(fx->wc, late);
    run_until(fx, &fx->srv.closed_by_peer, 1);
    /* Unknown and repeated ids are no-ops; the client goes on working. */
    blend__webclient_cancel(fx->wc, late);
    blend__webclient_cancel(fx->wc, 987654);
    send_req(fx, "GET", "/json", 5000, 2, NULL);
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[2].rc, 0);
    assert_int_equal(fx->answers[0].calls, 0);
    assert_int_equal(fx->answers[1].calls, 0);
    /* Cancelling an answered request is a no-op too. */
    uint64_t done = 0;
    send_req(fx, "GET", "/json", 5000, 3, &done);
    run_until(fx, &fx->answered, 2);
    blend__webclient_cancel(fx->wc, done);
    assert_int_equal(fx->answers[3].calls, 1);
}

static void destroy_answers_in_flight(void **state)
{
    struct fixture *fx = fx_of(state);
    /* A finished request leaves a kept-alive connection in curl's cache. */
    send_req(fx, "GET", "/json", 5000, 0, NULL);
    run_until(fx, &fx->answered, 1);
    for (uint64_t t = 1; t <= 3; t++) {
        send_req(fx, "GET", "/slow", 10000, t, NULL);
    }
    run_until(fx, &fx->srv.requests, 4);
    send_req(fx, "GET", "/slow", 10000, 4, NULL); /* not started yet */
    fx->send_on_token = 2;                        /* a send from a callback inside destroy */
    blend__webclient_destroy(fx->wc);
    assert_int_equal(fx->answered, 5); /* answered inside destroy */
    for (int t = 1; t <= 4; t++) {
        assert_int_equal(fx->answers[t].calls, 1);
        assert_int_equal(fx->answers[t].rc, BLEND_ECLOSED);
        assert_int_equal(fx->answers[t].status, 0);
    }
    assert_int_equal(fx->send_in_cb_rc, BLEND_ECLOSED);
    fx->wc = NULL;
    /* The responder sees every connection closed (the three held and the cached one). */
    run_until(fx, &fx->srv.closed_by_peer, fx->srv.accepted);
}

static void destroy_from_a_callback(void **state)
{
    struct fixture *fx = fx_of(state);
    send_req(fx, "GET", "/slow", 10000, 1, NULL);
    run_until(fx, &fx->srv.requests, 1);
    fx->destroy_on_token = 0;
    send_req(fx, "GET", "/json", 5000, 0, NULL);
    run_until(fx, &fx->answered, 2);
    assert_null(fx->wc);
    assert_int_equal(fx->answers[0].rc, 0);
    assert_int_equal(fx->answers[1].rc, BLEND_ECLOSED);
}

static void send_from_a_callback(void **state)
{
    struct fixture *fx = fx_of(state);
    fx->send_on_token = 0;
    send_req(fx, "GET", "/json", 5000, 0, NULL);
    run_until(fx, &fx->answered, 2);
    assert_int_equal(fx->send_in_cb_rc, 0);
    assert_int_equal(fx->answers[1].rc, 0);
    assert_string_equal(fx->answers[1].body, "{\"balance\": 12, \"path\": \"/json?chained\"}");
}

static void many_in_parallel(void **state)
{
    struct fixture *fx = fx_of(state);
    enum { N = 50 };
    uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        char path[32];
        snprintf(path, sizeof path, "/json?i=%d", i);
        send_req(fx, "GET", path, 10000, (uint64_t)i, &ids[i]);
        for (int j = 0; j < i; j++) {
            assert_true(ids[j] != ids[i]);
        }
    }
    run_until(fx, &fx->answered, N);
    for (int i = 0; i < N; i++) {
        char want[96];
        snprintf(want, sizeof want, "{\"balance\": 12, \"path\": \"/json?i=%d\"}", i);
        assert_int_equal(fx->answers[i].calls, 1);
        assert_int_equal(fx->answers[i].rc, 0);
        assert_string_equal(fx->answers[i].body, want);
    }
    assert_int_equal(fx->srv.requests, N);
}

static void requests_in_flight_are_bounded(void **state)
{
    struct fixture *fx = fx_of(state);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/json", fx->refused_port);
    struct blend_webclient_request r = {.method = "GET", .url = url, .timeout_ms = 5000};
    for (int i = 0; i < BLEND_WEBCLIENT_REQUESTS_MAX; i++) {
        assert_int_equal(blend__webclient_send(fx->wc, &r, on_answer, fx, 0, NULL), 0);
    }
    assert_int_equal(blend__webclient_send(fx->wc, &r, on_answer, fx, 0, NULL), BLEND_ELIMIT);
    blend__webclient_destroy(fx->wc);
    fx->wc = NULL;
    assert_int_equal(fx->answers[0].calls, BLEND_WEBCLIENT_REQUESTS_MAX);
    assert_int_equal(fx->answers[0].rc, BLEND_ECLOSED);
}

static void allocation_failures_in_send(void **state)
{
    struct fixture *fx = fx_of(state);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/echo", fx->srv.port);
    struct blend_webclient_request r = {.method = "POST",
                                        .url = url,
                                        .content_type = "text/plain",
                                        .body = "hello",
                                        .body_len = 5,
                                        .timeout_ms = 5000};
    long live = blend_alloc_live();
    int rc = -1;
    long nth;
    for (nth = 1; nth < 500 && rc != 0; nth++) {
        blend_alloc_fail_nth(nth);
        rc = blend__webclient_send(fx->wc, &r, on_answer, fx, 0, NULL);
        blend_alloc_fail_nth(0);
        if (rc != 0) {
            /* curl's URL parser does not tell "no memory" from "bad URL". */
            assert_true(rc == BLEND_ENOMEM || rc == BLEND_EINVAL || rc == BLEND_EINTERNAL);
            assert_int_equal(blend_alloc_live(), live);
        }
    }
    assert_int_equal(rc, 0);
    assert_true(nth > 3); /* several allocations were failed on the way */
    run_until(fx, &fx->answered, 1);
    assert_int_equal(fx->answers[0].rc, 0);
    assert_string_equal(fx->answers[0].body, "hello");
}

/* --- Allow-list ------------------------------------------------------------------------------- */

static void allow_list_rules(void **state)
{
    (void)state;
    const char *list = "https://crm.example/api/, http://10.0.0.5:8080/hooks  http://[::1]/v1";
    static const char *const yes[] = {
        "https://crm.example/api/balance",
        "https://crm.example/api/",
        "https://CRM.Example/api/x?q=1#frag",
        "https://crm.example/api/x?next=%2e%2e%2f", /* the query is not the path */
        "https://crm.example/api/caf%C3%A9",
        "HTTPS://crm.example/api/x",
        "https://crm.example:443/api/x",
        "https://user:pw@crm.example/api/x",
        "https://crm.example/api/a/../b",
        "http://10.0.0.5:8080/hooks",
        "http://10.0.0.5:8080/hooks/",
        "http://10.0.0.5:8080/hooks/x",
        "http://10.0.0.5:8080/hooks?x=1",
        "http://[::1]/v1/x",
        "http://[::1]:80/v1",
    };
    static const char *const no[] = {
        "https://crm.example/api", /* the entry asks for the directory */
        "https://crm.example/apix",
        "https://crm.example/other",
        "https://crm.example/api/../admin",     /* normalised to /admin */
        "https://crm.example/api/%2e%2e/admin", /* encoded dots, slashes, backslashes */
        "https://crm.example/api/%2E%2E/admin",
        "https://crm.example/api/..%2fadmin",
        "https://crm.example/api/..%5Cadmin",
        "https://crm.example/api/x%2Ey",
        "http://crm.example/api/x",       /* scheme differs */
        "https://crm.example:8443/api/x", /* port differs */
        "https://crm.example.evil/api/x",
        "https://evil.crm.example/api/x",
        "https://crm.example@evil/api/x", /* host is evil */
        "https://crm.example:443@evil/api/x",
        "https://evil/https://crm.example/api/x",
        "https://evil?https://crm.example/api/",
        "https://evil#@crm.example/api/",
        "https://crm.example./api/x",
        "http://10.0.0.5/hooks", /* default port 80 is not 8080 */
        "http://10.0.0.5:8080/hooksx",
        "http://10.0.0.5:8080/hook",
        "http://10.0.0.50:8080/hooks",
        "http://[::2]/v1",
        "ftp://crm.example/api/x",
        "file:///api/x",
        "crm.example/api/x",
        "",
        "https://crm.example/api/\r\n",
        "https://crm example/api/",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!blend__webclient_url_allowed(list, yes[i])) {
            fail_msg("should allow %s", yes[i]);
        }
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (blend__webclient_url_allowed(list, no[i])) {
            fail_msg("should refuse %s", no[i]);
        }
    }
    /* Empty lists, separators only and unparsable entries allow nothing. */
    assert_false(blend__webclient_url_allowed("", "https://crm.example/api/x"));
    assert_false(blend__webclient_url_allowed(" ,, \n", "https://crm.example/api/x"));
    assert_false(blend__webclient_url_allowed("crm.example", "https://crm.example/api/x"));
    assert_false(blend__webclient_url_allowed("ftp://crm.example/", "ftp://crm.example/x"));
    /* An entry without a path allows the whole origin. */
    assert_true(blend__webclient_url_allowed("https://crm.example", "https://crm.example/x/y"));
    assert_true(blend__webclient_url_allowed("https://crm.example/", "https://crm.example"));
    /* An entry's query and user part do not matter. */
    assert_true(
        blend__webclient_url_allowed("https://u@crm.example/api?x=1", "https://crm.example/api/x"));
    /* An over-long list allows nothing. */
    static char huge[BLEND_WEBCLIENT_ALLOW_LIST_BYTES_MAX + 64];
    memset(huge, ' ', sizeof huge - 1);
    memcpy(huge, "https://crm.example/", 20);
    assert_true(blend__webclient_url_allowed("https://crm.example/", "https://crm.example/a"));
    assert_false(blend__webclient_url_allowed(huge, "https://crm.example/a"));
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    /* curl's process-wide state is made once, by the first use; later tests count from there. */
    assert_false(blend__webclient_url_allowed("", "http://a/"));
    assert_true(blend__webclient_url_allowed("http://a/", "http://a/"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allow_list_rules),
        cmocka_unit_test_setup_teardown(get_answers_with_any_status, setup, teardown),
        cmocka_unit_test_setup_teardown(post_body_is_sent_and_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(timeout_is_etimedout, setup, teardown),
        cmocka_unit_test_setup_teardown(large_answers_are_elimit, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_connection_is_eio, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_requests_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(cancel_means_no_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_answers_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(destroy_from_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(send_from_a_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(many_in_parallel, setup, teardown),
        cmocka_unit_test_setup_teardown(requests_in_flight_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(allocation_failures_in_send, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
