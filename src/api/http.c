/*
 * HTTP server core: the listening socket, libwebsockets on the caller's (foreign) libuv loop,
 * requests, routing and the response writer.
 *
 * We listen with libuv ourselves and hand each accepted socket to lws (lws_adopt_*): this
 * gives us the bound port, a connection cap answered with 503, and a listening socket we can
 * close alone to stop accepting while connections drain; the lws vhost itself never listens.
 *
 * One lws protocol handles HTTP and WebSocket. Each adopted socket carries a struct conn as
 * its opaque user data; LWS_CALLBACK_WSI_DESTROY, which lws sends for every wsi it frees, is
 * the single place where a connection is torn down. Responses are written only from
 * LWS_CALLBACK_HTTP_WRITEABLE, the headers first and then the body in chunks of at most
 * BLEND__HTTP_WRITE_CHUNK, one lws_write per callback; lws buffers what the socket refuses and
 * calls us again once it drained, so large bodies never block the loop.
 *
 * Destruction follows lws's foreign-loop protocol: close our own handles, lws_context_destroy
 * (starts closing lws's uv handles), run the loop until no handle is closing, then call
 * lws_context_destroy again, which frees the context and clears http->lws_ctx (info.pcontext).
 */
#include "api/http_private.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Largest number of loop turns destroy waits for lws to close its handles. */
#define DESTROY_LOOP_TURNS_MAX 100000

static const double duration_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10};

static const char csp_html[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";
static const char csp_other[] = "default-src 'none'; frame-ancestors 'none'";

/* --- Request objects -------------------------------------------------------------------------- */

static int arena_add(struct blend_http_req *req, const char *s, size_t len, uint32_t *off)
{
    size_t at = req->arena.len;
    int rc = blend_buf_append(&req->arena, s, len);
    if (rc == 0) {
        rc = blend_buf_append(&req->arena, "", 1); /* keep each string NUL-terminated */
    }
    if (rc != 0) {
        return rc;
    }
    *off = (uint32_t)at;
    return 0;
}

static const char *arena_str(const struct blend_http_req *req, uint32_t off)
{
    return req->arena.data + off;
}

static int arena_add_kv(struct blend_http_req *req, struct blend__kv *kv, const char *name,
                        size_t name_len, const char *value, size_t value_len)
{
    int rc = arena_add(req, name, name_len, &kv->name);
    if (rc == 0) {
        rc = arena_add(req, value, value_len, &kv->value);
    }
    return rc;
}

static struct blend_http_req *req_create(struct conn *c, int counted)
{
    struct blend_http *http = c->http;
    struct blend_http_req *req = blend_calloc(1, sizeof *req);
    if (!req) {
        return NULL;
    }
    req->http = http;
    req->conn = c;
    req->state = BLEND__REQ_READING;
    req->label = "unmatched";
    req->start_ns = uv_hrtime();
    blend_buf_init(&req->arena, BLEND__HTTP_ARENA_BYTES_MAX);
    blend_buf_init(&req->body, http->body_bytes_max);
    blend_buf_init(&req->extra_headers, 2 * BLEND_HTTP_HEADER_BYTES_MAX);
    if (counted) {
        req->next = http->reqs;
        if (http->reqs) {
            http->reqs->prev = req;
        }
        http->reqs = req;
        http->reqs_count++;
    } else {
        req->is_upgrade = 1;
    }
    return req;
}

struct blend_http_req *blend__http_req_new(struct conn *c)
{
    return req_create(c, 0);
}

void blend__http_req_free(struct blend_http_req *req)
{
    if (!req) {
        return;
    }
    struct blend_http *http = req->http;
    if (!req->is_upgrade) {
        if (req->prev) {
            req->prev->next = req->next;
        } else {
            BLEND_ASSERT(http->reqs == req);
            http->reqs = req->next;
        }
        if (req->next) {
            req->next->prev = req->prev;
        }
        BLEND_ASSERT(http->reqs_count > 0);
        http->reqs_count--;
    }
    if (req->conn && req->conn->req == req) {
        req->conn->req = NULL;
    }
    if (req->ctx && http->ctx_free) {
        http->ctx_free(req->ctx);
    }
    blend_buf_deinit(&req->arena);
    blend_buf_deinit(&req->body);
    blend_buf_deinit(&req->extra_headers);
    blend_free(req->head);
    blend_free(req->resp_body);
    blend_free(req);
}

/* --- Snapshot of the request head ---------------------------------------------------------------
 */

static const struct {
    int lws;
    unsigned method;
    const char *name;
} methods[] = {
    {LWSHUMETH_GET, BLEND_HTTP_GET, "GET"},
    {LWSHUMETH_POST, BLEND_HTTP_POST, "POST"},
    {LWSHUMETH_PUT, BLEND_HTTP_PUT, "PUT"},
    {LWSHUMETH_PATCH, BLEND_HTTP_PATCH, "PATCH"},
    {LWSHUMETH_DELETE, BLEND_HTTP_DELETE, "DELETE"},
    {LWSHUMETH_OPTIONS, BLEND_HTTP_OPTIONS, "OPTIONS"},
    {LWSHUMETH_HEAD, 0, "HEAD"},
    {LWSHUMETH_CONNECT, 0, "CONNECT"},
};

static void set_method(struct blend_http_req *req, int lws_method)
{
    req->method = 0;
    req->method_name = "OTHER";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (methods[i].lws == lws_method) {
            req->method = methods[i].method;
            req->method_name = methods[i].name;
        }
    }
}

static int capture_standard_headers(struct blend_http_req *req, struct lws *wsi)
{
    char value[BLEND_HTTP_HEADER_BYTES_MAX + 1];
    for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)t);
        size_t nlen = name ? strlen(name) : 0;
        /* Header tokens are "name:"; methods, versions and h2 pseudo-headers are not. */
        if (nlen < 2 || name[nlen - 1] != ':' || name[0] == ':') {
            continue;
        }
        int vlen = lws_hdr_total_length(wsi, (enum lws_token_indexes)t);
        if (vlen <= 0 || vlen > BLEND_HTTP_HEADER_BYTES_MAX) {
            continue; /* absent, or too long to copy: treated as absent */
        }
        if (req->headers_count == BLEND_HTTP_REQ_HEADERS_MAX) {
            break;
        }
        int n = lws_hdr_copy(wsi, value, (int)sizeof value, (enum lws_token_indexes)t);
        if (n < 0) {
            continue;
        }
        int rc =
            arena_add_kv(req, &req->headers[req->headers_count], name, nlen - 1, value, (size_t)n);
        if (rc != 0) {
            return rc;
        }
        req->headers_count++;
    }
    return 0;
}

static int capture_extra_headers(struct blend_http_req *req, struct lws *wsi)
{
    char value[BLEND_HTTP_HEADER_BYTES_MAX + 1];
    for (char **h = req->http->extra_headers; h && *h; h++) {
        int nlen = (int)strlen(*h);
        int vlen = lws_hdr_custom_length(wsi, *h, nlen);
        if (vlen < 0 || vlen > BLEND_HTTP_HEADER_BYTES_MAX ||
            req->headers_count == BLEND_HTTP_REQ_HEADERS_MAX) {
            continue;
        }
        int n = lws_hdr_custom_copy(wsi, value, (int)sizeof value, *h, nlen);
        if (n < 0) {
            continue;
        }
        int rc = arena_add_kv(req, &req->headers[req->headers_count], *h, (size_t)nlen - 1, value,
                              (size_t)n);
        if (rc != 0) {
            return rc;
        }
        req->headers_count++;
    }
    return 0;
}

/* Splits "a=1; b=\"2\"" into cookies. Works on a copy: the arena may move while we append. */
static int parse_cookies(struct blend_http_req *req)
{
    const char *header = blend_http_req_header(req, "cookie");
    if (!header) {
        return 0;
    }
    char copy[BLEND_HTTP_HEADER_BYTES_MAX + 1];
    snprintf(copy, sizeof copy, "%s", header);
    const char *p = copy;
    while (*p && req->cookies_count < BLEND_HTTP_COOKIES_MAX) {
        while (*p == ' ' || *p == '\t' || *p == ';') {
            p++;
        }
        size_t nlen = strcspn(p, "=;");
        const char *name = p;
        p += nlen;
        const char *value = "";
        size_t vlen = 0;
        if (*p == '=') {
            value = ++p;
            vlen = strcspn(p, ";");
            p += vlen;
        }
        while (nlen > 0 && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t')) {
            nlen--;
        }
        while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) {
            vlen--;
        }
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value++;
            vlen -= 2;
        }
        if (nlen == 0) {
            continue;
        }
        int rc = arena_add_kv(req, &req->cookies[req->cookies_count], name, nlen, value, vlen);
        if (rc != 0) {
            return rc;
        }
        req->cookies_count++;
    }
    return 0;
}

/* lws stores each query argument URL-decoded as one fragment "name=value". */
static int capture_query(struct blend_http_req *req, struct lws *wsi)
{
    char frag[BLEND_HTTP_URI_BYTES_MAX + 1];
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) {
            return 0;
        }
        if (req->query_count == BLEND_HTTP_QUERY_PARAMS_MAX) {
            return BLEND_ELIMIT;
        }
        size_t nlen = strcspn(frag, "=");
        const char *value = frag[nlen] == '=' ? frag + nlen + 1 : "";
        int rc = arena_add_kv(req, &req->query[req->query_count], frag, nlen, value, strlen(value));
        if (rc != 0) {
            return rc;
        }
        req->query_count++;
    }
}

int blend__http_req_snapshot(struct blend_http_req *req, struct lws *wsi, const char *uri,
                             size_t uri_len)
{
    char *uri_ptr = NULL;
    int len = 0;
    set_method(req, lws_http_get_uri_and_method(wsi, &uri_ptr, &len));
    char remote[64] = "";
    lws_get_peer_simple(wsi, remote, sizeof remote);
    int rc = arena_add(req, uri, uri_len, &req->path);
    if (rc == 0) {
        rc = arena_add(req, remote, strlen(remote), &req->remote);
    }
    if (rc == 0) {
        rc = capture_standard_headers(req, wsi);
    }
    if (rc == 0) {
        rc = capture_extra_headers(req, wsi);
    }
    if (rc == 0) {
        rc = parse_cookies(req);
    }
    if (rc == 0) {
        rc = capture_query(req, wsi);
    }
    return rc;
}

/* --- Accessors ----------------------------------------------------------------------------------
 */

static const char *kv_find(const struct blend_http_req *req, const struct blend__kv *kv,
                           size_t count, const char *name, int nocase)
{
    for (size_t i = 0; i < count; i++) {
        const char *n = arena_str(req, kv[i].name);
        if (nocase ? strcasecmp(n, name) == 0 : strcmp(n, name) == 0) {
            return arena_str(req, kv[i].value);
        }
    }
    return NULL;
}

unsigned blend_http_req_method(const struct blend_http_req *req)
{
    return req->method;
}

const char *blend_http_req_method_name(const struct blend_http_req *req)
{
    return req->method_name;
}

const char *blend_http_req_path(const struct blend_http_req *req)
{
    return arena_str(req, req->path);
}

const struct blend_http_route *blend_http_req_route(const struct blend_http_req *req)
{
    return req->route;
}

const char *blend_http_req_param(const struct blend_http_req *req, const char *name)
{
    return kv_find(req, req->params, req->params_count, name, 0);
}

const char *blend_http_req_query(const struct blend_http_req *req, const char *name)
{
    return kv_find(req, req->query, req->query_count, name, 0);
}

const char *blend_http_req_header(const struct blend_http_req *req, const char *name)
{
    return kv_find(req, req->headers, req->headers_count, name, 1);
}

const char *blend_http_req_cookie(const struct blend_http_req *req, const char *name)
{
    return kv_find(req, req->cookies, req->cookies_count, name, 0);
}

const char *blend_http_req_body(const struct blend_http_req *req, size_t *len_out)
{
    if (len_out) {
        *len_out = req->body.len;
    }
    return req->body.data ? req->body.data : "";
}

const char *blend_http_req_remote(const struct blend_http_req *req)
{
    return arena_str(req, req->remote);
}

void *blend_http_req_ctx(const struct blend_http_req *req)
{
    return req->ctx;
}

void blend_http_req_set_ctx(struct blend_http_req *req, void *ctx)
{
    req->ctx = ctx;
}

int blend_http_req_is_gone(const struct blend_http_req *req)
{
    return req->conn == NULL;
}

int blend_http_req_json(struct blend_http_req *req, json_t **out, struct blend_http_body_error *err)
{
    size_t len;
    const char *body = blend_http_req_body(req, &len);
    return blend_http_json_parse(blend_http_req_header(req, "content-type"), body, len,
                                 req->http->body_bytes_max, out, err);
}

/* --- Responses ----------------------------------------------------------------------------------
 */

static int is_token_char(char c)
{
    return isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

int blend_http_add_header(struct blend_http_req *req, const char *name, const char *value)
{
    BLEND_ASSERT(req && name && value);
    BLEND_ASSERT(req->state != BLEND__REQ_WRITING);
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > 64) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < nlen; i++) {
        if (!is_token_char(name[i])) {
            return BLEND_EINVAL;
        }
    }
    for (const char *v = value; *v; v++) {
        if (*v == '\r' || *v == '\n') {
            return BLEND_EINVAL; /* header injection */
        }
    }
    size_t mark = req->extra_headers.len;
    int rc = blend_buf_append(&req->extra_headers, name, nlen);
    if (rc == 0) {
        rc = blend_buf_append(&req->extra_headers, ":", 2); /* "name:" and its NUL */
    }
    if (rc == 0) {
        rc = blend_buf_append(&req->extra_headers, value, strlen(value) + 1);
    }
    if (rc != 0) {
        req->extra_headers.len = mark;
    }
    return rc;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
                      unsigned char *end)
{
    return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

static int is_api_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0;
}

int blend__http_build_head(struct blend_http_req *req, struct lws *wsi, int status,
                           const char *content_type, size_t body_len, unsigned char **out,
                           size_t *len_out)
{
    size_t cap = LWS_PRE + 2048 + 2 * req->extra_headers.len;
    unsigned char *buf = blend_malloc(cap);
    if (!buf) {
        return BLEND_ENOMEM;
    }
    unsigned char *start = buf + LWS_PRE;
    unsigned char *p = start;
    unsigned char *end = buf + cap - 1;
    int is_html = content_type && strncmp(content_type, "text/html", 9) == 0;
    int bad = lws_add_http_common_headers(wsi, (unsigned)status, content_type,
                                          (lws_filepos_t)body_len, &p, end) ||
              add_header(wsi, "x-content-type-options:", "nosniff", &p, end) ||
              add_header(wsi, "referrer-policy:", "no-referrer", &p, end) ||
              add_header(wsi, "x-frame-options:", "DENY", &p, end) ||
              add_header(wsi, "content-security-policy:", is_html ? csp_html : csp_other, &p, end);
    if (!bad && req->arena.data && is_api_path(blend_http_req_path(req))) {
        bad = add_header(wsi, "cache-control:", "no-store", &p, end);
    }
    if (!bad && req->close_after) {
        bad = add_header(wsi, "connection:", "close", &p, end);
    }
    const char *h = req->extra_headers.data;
    const char *h_end = h ? h + req->extra_headers.len : NULL;
    while (!bad && h && h < h_end) {
        const char *value = h + strlen(h) + 1;
        bad = add_header(wsi, h, value, &p, end);
        h = value + strlen(value) + 1;
    }
    if (bad || lws_finalize_http_header(wsi, &p, end)) {
        blend_free(buf);
        return BLEND_ELIMIT;
    }
    *out = buf;
    *len_out = (size_t)(p - start);
    return 0;
}

static void count_response(struct blend_http_req *req, int status)
{
    struct blend_http *http = req->http;
    if (!http->metrics) {
        return;
    }
    char code[16];
    snprintf(code, sizeof code, "%d", status);
    blend_metric_inc(http->m_requests, req->label, code);
    double seconds = (double)(uv_hrtime() - req->start_ns) / 1e9;
    blend_metric_observe(http->m_duration, req->label, NULL, seconds);
}

/* The response cannot be produced: drop the connection (lws closes it on its next turn). */
static void abort_request(struct blend_http_req *req)
{
    if (req->conn) {
        lws_set_timeout(req->conn->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    blend__http_req_free(req);
}

void blend_http_respond_take(struct blend_http_req *req, int status, const char *content_type,
                             char *body, size_t len)
{
    BLEND_ASSERT(req);
    BLEND_ASSERT(!req->is_upgrade);
    BLEND_ASSERT(req->state != BLEND__REQ_WRITING); /* answered twice */
    BLEND_ASSERT(status >= 100 && status <= 599);
    BLEND_ASSERT(body || len == 0);
    count_response(req, status);
    if (!req->conn) {
        blend_free(body); /* the client is gone: nobody to answer */
        blend__http_req_free(req);
        return;
    }
    struct lws *wsi = req->conn->wsi;
    int rc =
        blend__http_build_head(req, wsi, status, content_type, len, &req->head, &req->head_len);
    if (rc != 0) {
        BLEND_LOG_ERROR("http", "cannot build response headers for %s: %s",
                        blend_http_req_path(req), blend_strerror(rc));
        blend_free(body);
        abort_request(req);
        return;
    }
    req->resp_body = body;
    req->resp_len = len;
    req->state = BLEND__REQ_WRITING;
    lws_callback_on_writable(wsi);
}

void blend_http_respond(struct blend_http_req *req, int status, const char *content_type,
                        const void *body, size_t len)
{
    char *copy = NULL;
    if (len > 0) {
        copy = blend_malloc(len);
        if (!copy) {
            count_response(req, 500);
            abort_request(req);
            return;
        }
        memcpy(copy, body, len);
    }
    blend_http_respond_take(req, status, content_type, copy, len);
}

static int dump_json(const json_t *doc, char **out, size_t *len_out)
{
    size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    size_t n = json_dumpb(doc, NULL, 0, flags);
    if (n == 0) {
        return BLEND_ENOMEM;
    }
    char *buf = blend_malloc(n + 1);
    if (!buf) {
        return BLEND_ENOMEM;
    }
    if (json_dumpb(doc, buf, n, flags) != n) {
        blend_free(buf);
        return BLEND_EINTERNAL;
    }
    buf[n] = '\0';
    *out = buf;
    *len_out = n;
    return 0;
}

void blend_http_respond_json(struct blend_http_req *req, int status, json_t *body)
{
    if (!body) {
        /* Usually a json_pack() that failed (out of memory, invalid UTF-8): never answer the
         * intended status with an empty body. */
        BLEND_LOG_ERROR("http", "%s: no JSON body to send; answering 500",
                        blend_http_req_path(req));
        blend_http_respond_error(req, 500, "internal", "the response could not be built", NULL);
        return;
    }
    char *text;
    size_t len;
    int rc = dump_json(body, &text, &len);
    json_decref(body);
    if (rc != 0) {
        count_response(req, 500);
        abort_request(req);
        return;
    }
    blend_http_respond_take(req, status, "application/json", text, len);
}

int blend__http_error_body(int status, const char *code, const char *message, json_t *details,
                           char **body_out, size_t *len_out)
{
    (void)status;
    json_t *err = json_object();
    json_t *root = json_object();
    json_t *jcode = json_string(code);
    json_t *jmsg = json_string(message ? message : "");
    if (!jmsg) {
        jmsg = json_string("(message is not valid UTF-8)");
    }
    int bad = !err || !root || !jcode || !jmsg;
    bad |= json_object_set_new(err, "code", jcode) != 0;
    bad |= json_object_set_new(err, "message", jmsg) != 0;
    if (details) {
        bad |= json_object_set_new(err, "details", details) != 0;
    }
    bad |= json_object_set(root, "error", err) != 0;
    int rc = bad ? BLEND_ENOMEM : dump_json(root, body_out, len_out);
    json_decref(err);
    json_decref(root);
    return rc;
}

void blend_http_respond_error(struct blend_http_req *req, int status, const char *code,
                              const char *message, json_t *details)
{
    BLEND_ASSERT(code);
    char *body;
    size_t len;
    if (blend__http_error_body(status, code, message, details, &body, &len) != 0) {
        count_response(req, status);
        abort_request(req);
        return;
    }
    blend_http_respond_take(req, status, "application/json", body, len);
}

void blend_http_respond_body_error(struct blend_http_req *req,
                                   const struct blend_http_body_error *err)
{
    blend_http_respond_error(req, err->status, err->code, err->message, NULL);
}

void blend_http_req_release(struct blend_http_req *req)
{
    BLEND_ASSERT(req && req->state == BLEND__REQ_APP);
    blend_http_respond_error(req, 500, "internal", "the request was abandoned", NULL);
}

/* --- Request flow -------------------------------------------------------------------------------
 */

static void layer_error(struct blend_http_req *req, int status, const char *code,
                        const char *message, int close)
{
    req->close_after |= close;
    blend_http_respond_error(req, status, code, message, NULL);
}

static int unanswered(const struct conn *c, const struct blend_http_req *req)
{
    return c->req == req && req->state == BLEND__REQ_APP;
}

static void run_route(struct blend_http_req *req, const struct blend_http_route *route)
{
    struct blend_http *http = req->http;
    struct conn *c = req->conn;
    if (http->before) {
        int stop = http->before(req, route, http->arg);
        if (stop != 0) {
            if (unanswered(c, req)) {
                BLEND_LOG_ERROR("http", "before hook stopped %s without answering", route->name);
                blend_http_respond_error(req, 500, "internal", "internal error", NULL);
            }
            return;
        }
    }
    int rc = route->handler(req, http->arg);
    if (rc == BLEND_HTTP_PENDING || !unanswered(c, req)) {
        return;
    }
    if (rc == BLEND_HTTP_DONE) {
        BLEND_LOG_ERROR("http", "handler %s returned without answering", route->name);
    }
    blend_http_respond_error(req, 500, "internal", "internal error", NULL);
}

static int store_params(struct blend_http_req *req, const struct blend__http_param *params,
                        size_t count)
{
    /* Every value points into the arena (the path), which an append may move: all of them are
     * copied out before the first append. */
    char values[BLEND_HTTP_URI_BYTES_MAX + 1];
    size_t off[BLEND_ROUTE_PARAMS_MAX], len[BLEND_ROUTE_PARAMS_MAX], used = 0;
    BLEND_ASSERT(count <= BLEND_ROUTE_PARAMS_MAX);
    for (size_t i = 0; i < count; i++) {
        size_t room = BLEND_HTTP_URI_BYTES_MAX - used;
        len[i] = params[i].value_len < room ? params[i].value_len : room;
        off[i] = used;
        memcpy(values + used, params[i].value, len[i]);
        used += len[i];
    }
    for (size_t i = 0; i < count; i++) {
        int rc = arena_add_kv(req, &req->params[i], params[i].name, params[i].name_len,
                              values + off[i], len[i]);
        if (rc != 0) {
            return rc;
        }
        req->params_count++;
    }
    return 0;
}

static void allow_header(struct blend_http_req *req, unsigned allowed)
{
    char allow[64] = "";
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (methods[i].method & allowed) {
            if (allow[0]) {
                strcat(allow, ", ");
            }
            strcat(allow, methods[i].name);
        }
    }
    (void)!blend_http_add_header(req, "Allow", allow);
}

static void serve_static(struct blend_http_req *req)
{
    req->label = "static";
    if (req->method != BLEND_HTTP_GET) {
        allow_header(req, BLEND_HTTP_GET);
        blend_http_respond_error(req, 405, "method_not_allowed", "only GET is allowed here", NULL);
        return;
    }
    char file[PATH_MAX];
    int rc = blend__http_static_resolve(req->http->static_root, blend_http_req_path(req), file,
                                        sizeof file);
    if (rc != 0) {
        /* Missing, outside the root or absurdly long: all look the same to the client. */
        blend_http_respond_error(req, 404, "not_found", "no such file", NULL);
        return;
    }
    char *body = NULL;
    size_t len = 0;
    rc = blend__http_static_load(file, &body, &len);
    if (rc == BLEND_ENOENT) {
        blend_http_respond_error(req, 404, "not_found", "no such file", NULL);
    } else if (rc != 0) {
        BLEND_LOG_ERROR("http", "static %s: %s", blend_http_req_path(req), blend_strerror(rc));
        blend_http_respond_error(req, rc == BLEND_ENOMEM ? 503 : 500, "internal",
                                 "the file cannot be served", NULL);
    } else {
        blend_http_respond_take(req, 200, blend__http_mime(file), body, len);
    }
}

static void dispatch(struct blend_http_req *req)
{
    struct blend_http *http = req->http;
    const char *path = blend_http_req_path(req);
    const struct blend_http_route *hit = NULL;
    struct blend__http_param params[BLEND_ROUTE_PARAMS_MAX];
    size_t params_count = 0;
    unsigned allowed = 0;
    req->state = BLEND__REQ_APP;
    for (size_t i = 0; i < http->routes_count; i++) {
        const struct blend_http_route *r = &http->routes[i];
        struct blend__http_param tmp[BLEND_ROUTE_PARAMS_MAX];
        size_t n;
        if (!blend__http_route_match(r->pattern, path, tmp, &n)) {
            continue;
        }
        allowed |= r->method;
        if (!hit && r->method == req->method) {
            hit = r;
            memcpy(params, tmp, n * sizeof tmp[0]);
            params_count = n;
        }
    }
    if (hit) {
        req->route = hit;
        req->label = hit->name;
        if (store_params(req, params, params_count) != 0) {
            layer_error(req, 503, "unavailable", "out of memory", 1);
            return;
        }
        run_route(req, hit);
    } else if (allowed) {
        allow_header(req, allowed);
        blend_http_respond_error(req, 405, "method_not_allowed",
                                 "this method is not allowed on this path", NULL);
    } else if (http->static_root && !is_api_path(path)) {
        serve_static(req);
    } else {
        blend_http_respond_error(req, 404, "not_found", "no such resource", NULL);
    }
}

/* Parses a Content-Length value: digits only, no sign, no overflow. */
static int parse_length(const char *s, size_t *out)
{
    size_t v = 0;
    if (!s || !*s) {
        return BLEND_EINVAL;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10) {
            return BLEND_EINVAL;
        }
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Refuses what cannot be served before any body is read. Returns 1 when it answered. */
static int refuse_early(struct blend_http_req *req, struct lws *wsi, int lws_method, int *wait_body)
{
    const char *cl_text = blend_http_req_header(req, "content-length");
    size_t cl = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        /* Chunked bodies are not read: a body needs a Content-Length. */
        layer_error(req, 411, "length_required", "send the body with a Content-Length", 1);
        return 1;
    }
    /* A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112
     * §6.3): a bodiless POST (`curl -X POST`) is answered at once. lws would go on reading
     * the connection as that POST's body, so the connection closes after the answer. */
    int has_body_method = req->method & (BLEND_HTTP_POST | BLEND_HTTP_PUT | BLEND_HTTP_PATCH);
    if (has_body_method && !cl_text) {
        req->close_after = 1;
    }
    if (cl_text && parse_length(cl_text, &cl) != 0) {
        layer_error(req, 400, "bad_request", "invalid Content-Length", 1);
        return 1;
    }
    if (cl > req->http->body_bytes_max) {
        /* A client that is sending the body would get a reset, not our 413, if we closed with
         * its bytes unread: let lws discard a bounded body and keep the connection. Close when
         * the body is huge, or when the client waits for a 100 Continue (lws sends none) and
         * the body will never come. */
        const char *expect = blend_http_req_header(req, "expect");
        int waits = expect && strncasecmp(expect, "100-continue", 12) == 0;
        int drain = cl <= BLEND__HTTP_DRAIN_BYTES_MAX && !waits;
        char msg[96];
        snprintf(msg, sizeof msg, "the request body exceeds %zu bytes", req->http->body_bytes_max);
        layer_error(req, 413, "payload_too_large", msg, !drain);
        return 1;
    }
    /* lws reports a body (then BODY_COMPLETION) when one is declared, and for POST always
     * when a Content-Length header is present, even zero. */
    *wait_body = cl > 0 || (lws_method == LWSHUMETH_POST && cl_text);
    return 0;
}

static int on_http(struct conn *c, struct lws *wsi)
{
    if (c->req) {
        BLEND_LOG_ERROR("http", "new request while one is outstanding; closing");
        return -1;
    }
    struct blend_http_req *req = req_create(c, 1);
    if (!req) {
        return -1;
    }
    c->req = req;
    char *uri = NULL;
    int uri_len = 0;
    int lws_method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    int args_len = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    set_method(req, lws_method);
    int bad_line = lws_method < 0 || uri_len <= 0 || uri[0] != '/';
    int too_long = (size_t)(uri_len > 0 ? uri_len : 0) + (size_t)(args_len > 0 ? args_len : 0) >
                   BLEND_HTTP_URI_BYTES_MAX;
    if (bad_line || too_long) {
        if (arena_add(req, "/", 1, &req->path) != 0) {
            abort_request(req);
        } else if (bad_line) {
            layer_error(req, 400, "bad_request", "malformed request line", 1);
        } else {
            layer_error(req, 414, "uri_too_long", "the request URI is too long", 1);
        }
        return 0;
    }
    int rc = blend__http_req_snapshot(req, wsi, uri, (size_t)uri_len);
    if (rc == BLEND_ELIMIT && req->query_count == BLEND_HTTP_QUERY_PARAMS_MAX) {
        layer_error(req, 400, "bad_request", "too many query parameters", 1);
        return 0;
    }
    if (rc != 0) {
        abort_request(req);
        return 0;
    }
    int wait_body = 0;
    if (refuse_early(req, wsi, lws_method, &wait_body) || wait_body) {
        return 0;
    }
    dispatch(req);
    return 0;
}

static int on_body(struct conn *c, const void *in, size_t len)
{
    struct blend_http_req *req = c->req;
    if (!req || req->state != BLEND__REQ_READING || len == 0) {
        return 0; /* an answered request's remaining body is discarded */
    }
    int rc = blend_buf_append(&req->body, in, len);
    if (rc == BLEND_ELIMIT) {
        layer_error(req, 413, "payload_too_large", "the request body is too large", 1);
    } else if (rc != 0) {
        layer_error(req, 503, "unavailable", "out of memory", 1);
    }
    return 0;
}

static int on_body_done(struct conn *c)
{
    struct blend_http_req *req = c->req;
    if (req && req->state == BLEND__REQ_READING) {
        dispatch(req);
    }
    return 0;
}

static int on_writeable(struct conn *c, struct lws *wsi)
{
    struct blend_http_req *req = c->req;
    if (!req || req->state != BLEND__REQ_WRITING) {
        return 0;
    }
    if (!req->head_sent) {
        if (lws_write(wsi, req->head + LWS_PRE, req->head_len, LWS_WRITE_HTTP_HEADERS) < 0) {
            return -1;
        }
        req->head_sent = 1;
    } else {
        size_t n = req->resp_len - req->resp_sent;
        n = n < BLEND__HTTP_WRITE_CHUNK ? n : BLEND__HTTP_WRITE_CHUNK;
        int final = req->resp_sent + n == req->resp_len;
        unsigned char *piece = c->http->scratch + LWS_PRE;
        memcpy(piece, req->resp_body + req->resp_sent, n);
        if (lws_write(wsi, piece, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0) {
            return -1;
        }
        req->resp_sent += n;
    }
    if (req->resp_sent < req->resp_len) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    int close = req->close_after;
    blend__http_req_free(req);
    if (close) {
        return -1; /* lws flushes what it buffered before closing */
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* --- Connections --------------------------------------------------------------------------------
 */

void blend__http_conn_update_gauges(struct blend_http *http)
{
    if (http->metrics) {
        blend_metric_set(http->m_connections, NULL, NULL, (double)http->conns_count);
        blend_metric_set(http->m_ws_clients, NULL, NULL, (double)http->ws_count);
    }
}

static void conn_unlink(struct conn *c)
{
    struct blend_http *http = c->http;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        http->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
}

static void on_wsi_destroy(struct conn *c)
{
    struct blend_http *http = c->http;
    if (c->ws) {
        blend__ws_conn_gone(c);
    }
    struct blend_http_req *req = c->req;
    if (req) {
        c->req = NULL;
        req->conn = NULL;
        if (req->state != BLEND__REQ_APP) {
            blend__http_req_free(req);
        } /* else the app holds it: it stays listed until answered or released */
    }
    conn_unlink(c);
    if (!c->adopt_failed) {
        BLEND_ASSERT(http->conns_count > 0);
        http->conns_count--;
    }
    blend__http_conn_update_gauges(http);
    blend_free(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
    if (!c) {
        return 0;
    }
    c->wsi = wsi;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(c, wsi);
    case LWS_CALLBACK_HTTP_BODY:
        return on_body(c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return on_body_done(c);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return blend__ws_confirm_upgrade(c, wsi, in);
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return blend__ws_callback(c, wsi, reason, in, len);
    case LWS_CALLBACK_WSI_DESTROY:
        on_wsi_destroy(c);
        return 0;
    default:
        return 0;
    }
}

#define BUSY_BODY "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections\"}}"
/* Written straight to a refused plain-text socket: lws never sees it. */
static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Content-Type: application/json\r\n"
                                    "Content-Length: %zu\r\n"
                                    "Connection: close\r\n"
                                    "\r\n%s";

static void free_handle(uv_handle_t *h)
{
    blend_free(h);
}

static void adopt(struct blend_http *http, int fd)
{
    struct conn *c = blend_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->http = http;
    c->next = http->conns;
    if (http->conns) {
        http->conns->prev = c;
    }
    http->conns = c;
    http->conns_count++;
    lws_adopt_desc_t info;
    memset(&info, 0, sizeof info);
    info.vh = http->vhost;
    info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL;
    info.fd.sockfd = fd;
    info.opaque = c;
    struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&info); /* closes fd on failure */
    if (!wsi) {
        /* lws may or may not send WSI_DESTROY for it later: keep it listed until one of
         * that or destroy frees it, but stop counting it now. */
        c->adopt_failed = 1;
        http->conns_count--;
    } else {
        c->wsi = wsi;
    }
    blend__http_conn_update_gauges(http);
}

static void on_connection(uv_stream_t *server, int status)
{
    struct blend_http *http = server->data;
    if (status < 0) {
        BLEND_LOG_WARN("http", "accept: %s", uv_strerror(status));
        return;
    }
    uv_tcp_t *client = blend_malloc(sizeof *client);
    if (!client) {
        return; /* the connection stays in the backlog until memory returns */
    }
    uv_tcp_init(http->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) != 0) {
        uv_close((uv_handle_t *)client, free_handle);
        return;
    }
    if (http->conns_count >= http->connections_max) {
        if (!http->is_tls) {
            char text[256];
            int n = snprintf(text, sizeof text, busy_response, sizeof BUSY_BODY - 1, BUSY_BODY);
            uv_buf_t b = uv_buf_init(text, (unsigned)n);
            (void)uv_try_write((uv_stream_t *)client, &b, 1);
        }
        if (http->metrics) {
            blend_metric_inc(http->m_refused, NULL, NULL);
        }
        uv_close((uv_handle_t *)client, free_handle);
        return;
    }
    /* Responses are written whole, so Nagle's algorithm only adds delayed-ACK stalls (~40 ms
     * per keep-alive request); the option is inherited by the duplicate lws takes. */
    (void)uv_tcp_nodelay(client, 1);
    /* lws takes its own descriptor; libuv keeps (and closes) the one it accepted. */
    uv_os_fd_t fd;
    int dup_fd = -1;
    if (uv_fileno((uv_handle_t *)client, &fd) == 0) {
        dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
    uv_close((uv_handle_t *)client, free_handle);
    if (dup_fd >= 0) {
        adopt(http, dup_fd);
    }
}

/* --- Creation and destruction -------------------------------------------------------------------
 */

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    blend_log(level == LLL_ERR ? BLEND_LOG_ERROR : BLEND_LOG_WARN, "lws", "%.*s", (int)n, line);
}

static size_t lower_limit(size_t configured, size_t limit)
{
    return configured > 0 && configured < limit ? configured : limit;
}

static int config_valid(const struct blend_http_config *cfg)
{
    if (cfg->routes_count > BLEND_HTTP_ROUTES_MAX || (cfg->routes_count && !cfg->routes) ||
        cfg->ws_endpoints_count > BLEND_HTTP_WS_ENDPOINTS_MAX ||
        (cfg->ws_endpoints_count && !cfg->ws_endpoints) ||
        (!cfg->tls_cert_path != !cfg->tls_key_path) || cfg->port < 0 || cfg->port > 65535) {
        return 0;
    }
    for (size_t i = 0; i < cfg->routes_count; i++) {
        const struct blend_http_route *r = &cfg->routes[i];
        int one_method =
            r->method != 0 && (r->method & (r->method - 1)) == 0 && r->method <= BLEND_HTTP_OPTIONS;
        if (!one_method || !r->handler || !r->name || blend__http_route_validate(r->pattern) != 0) {
            return 0;
        }
        for (size_t j = 0; j < i; j++) {
            if (cfg->routes[j].method == r->method &&
                strcmp(cfg->routes[j].pattern, r->pattern) == 0) {
                return 0;
            }
        }
    }
    for (size_t i = 0; i < cfg->ws_endpoints_count; i++) {
        const char *p = cfg->ws_endpoints[i].path;
        if (!p || p[0] != '/') {
            return 0;
        }
    }
    return 1;
}

static int copy_extra_headers(struct blend_http *http, const char *const *names)
{
    size_t n = 0;
    while (names && names[n]) {
        n++;
    }
    http->extra_headers = blend_calloc(n + 1, sizeof(char *));
    if (!http->extra_headers) {
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        char *h = blend_malloc(len + 2);
        if (!h) {
            return BLEND_ENOMEM;
        }
        for (size_t k = 0; k < len; k++) {
            h[k] = (char)tolower((unsigned char)names[i][k]);
        }
        memcpy(h + len, ":", 2); /* lws looks custom headers up as "name:" */
        http->extra_headers[i] = h;
    }
    return 0;
}

static int register_metrics(struct blend_http *http)
{
    struct blend_metrics *m = http->metrics;
    if (!m) {
        return 0;
    }
    int rc = blend_metrics_register(m, BLEND_METRIC_COUNTER, "blend_http_requests_total",
                                    "HTTP requests answered, by route and status.", "route",
                                    "status", NULL, 0, &http->m_requests);
    if (rc == 0) {
        rc = blend_metrics_register(
            m, BLEND_METRIC_HISTOGRAM, "blend_http_request_duration_seconds",
            "Time from request head to response, by route.", "route", NULL, duration_bounds,
            sizeof duration_bounds / sizeof duration_bounds[0], &http->m_duration);
    }
    if (rc == 0) {
        rc = blend_metrics_register(m, BLEND_METRIC_GAUGE, "blend_http_connections",
                                    "Open HTTP and WebSocket connections.", NULL, NULL, NULL, 0,
                                    &http->m_connections);
    }
    if (rc == 0) {
        rc = blend_metrics_register(m, BLEND_METRIC_GAUGE, "blend_ws_clients",
                                    "Open WebSocket clients.", NULL, NULL, NULL, 0,
                                    &http->m_ws_clients);
    }
    if (rc == 0) {
        rc = blend_metrics_register(m, BLEND_METRIC_COUNTER, "blend_http_connections_refused_total",
                                    "Connections refused at the connection limit.", NULL, NULL,
                                    NULL, 0, &http->m_refused);
    }
    return rc;
}

static int start_lws(struct blend_http *http, const struct blend_http_config *cfg)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    http->protocols[0].name = "blend";
    http->protocols[0].callback = callback;
    http->protocols[0].rx_buffer_size = 4096;
    http->retry_ms[0] = 1000;
    http->retry.retry_ms_table = http->retry_ms;
    http->retry.retry_ms_table_count = 1;
    http->retry.conceal_count = 1;
    http->retry.secs_since_valid_ping = (uint16_t)(cfg->ws_ping_s ? cfg->ws_ping_s : 30);
    http->retry.secs_since_valid_hangup = (uint16_t)(cfg->ws_hangup_s ? cfg->ws_hangup_s : 60);
    if (http->retry.secs_since_valid_hangup <= http->retry.secs_since_valid_ping) {
        return BLEND_EINVAL;
    }
    void *loops[1] = {http->loop};
    /* The context is created without a vhost and the vhost separately: if lws_create_context
     * itself failed on a foreign loop (as it does when the default vhost's TLS files are bad),
     * it would leave closing handles behind whose callbacks live in the unloaded evlib plugin.
     * A failed lws_create_vhost leaves a sound context that destroy takes down normally. */
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (http->is_tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    }
    info.foreign_loops = loops;
    info.pcontext = &http->lws_ctx;
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.server_string = "blend";
    info.max_http_header_data = BLEND__HTTP_LWS_HEADER_BYTES;
    info.user = http;
    http->lws_ctx = lws_create_context(&info);
    if (!http->lws_ctx) {
        return BLEND_EIO;
    }
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (http->is_tls) {
        /* lws checks this flag on the vhost's info too before it sets up server TLS. */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert_path;
        info.ssl_private_key_filepath = cfg->tls_key_path;
        /* HTTP/1.1 only: h2 streams are child wsi that never carry our connection state. */
        info.alpn = "http/1.1";
    }
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = http->protocols;
    info.vhost_name = "blend";
    info.keepalive_timeout = (int)(cfg->keepalive_s ? cfg->keepalive_s : 5);
    info.retry_and_idle_policy = &http->retry;
    http->vhost = lws_create_vhost(http->lws_ctx, &info);
    return http->vhost ? 0 : BLEND_EIO;
}

static int start_listener(struct blend_http *http, const struct blend_http_config *cfg)
{
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    struct sockaddr_storage addr;
    int rc = strchr(host, ':') ? uv_ip6_addr(host, cfg->port, (struct sockaddr_in6 *)&addr)
                               : uv_ip4_addr(host, cfg->port, (struct sockaddr_in *)&addr);
    if (rc != 0) {
        return BLEND_EINVAL;
    }
    http->listener = blend_malloc(sizeof *http->listener);
    if (!http->listener) {
        return BLEND_ENOMEM;
    }
    uv_tcp_init(http->loop, http->listener);
    http->listener->data = http;
    rc = uv_tcp_bind(http->listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)http->listener, 511, on_connection);
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    if (rc == 0) {
        rc = uv_tcp_getsockname(http->listener, (struct sockaddr *)&bound, &bound_len);
    }
    if (rc != 0) {
        BLEND_LOG_ERROR("http", "cannot listen on %s:%d: %s", host, cfg->port, uv_strerror(rc));
        return BLEND_EIO;
    }
    http->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                             : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    BLEND_LOG_INFO("http", "listening on %s:%d%s", host, http->port, http->is_tls ? " (TLS)" : "");
    return 0;
}

int blend_http_create(uv_loop_t *loop, const struct blend_http_config *cfg, struct blend_http **out)
{
    BLEND_ASSERT(loop && cfg && out);
    if (!config_valid(cfg)) {
        return BLEND_EINVAL;
    }
    struct blend_http *http = blend_calloc(1, sizeof *http);
    if (!http) {
        return BLEND_ENOMEM;
    }
    http->loop = loop;
    http->is_tls = cfg->tls_cert_path != NULL;
    http->routes = cfg->routes;
    http->routes_count = cfg->routes_count;
    http->before = cfg->before;
    http->ws_endpoints = cfg->ws_endpoints;
    http->ws_endpoints_count = cfg->ws_endpoints_count;
    http->arg = cfg->arg;
    http->ctx_free = cfg->ctx_free;
    http->metrics = cfg->metrics;
    http->body_bytes_max = lower_limit(cfg->body_bytes_max, BLEND_HTTP_BODY_BYTES_MAX);
    http->connections_max = lower_limit(cfg->connections_max, BLEND_HTTP_CONNECTIONS_MAX);
    http->ws_clients_max = lower_limit(cfg->ws_clients_max, BLEND_WS_CLIENTS_MAX);
    http->ws_backlog_max = lower_limit(cfg->ws_backlog_max, BLEND_WS_CLIENT_BACKLOG_MAX);
    int rc = 0;
    if (cfg->static_dir) {
        char real[PATH_MAX];
        rc = realpath(cfg->static_dir, real) ? 0 : BLEND_EINVAL;
        if (rc == 0) {
            http->static_root = blend_strdup(real);
            rc = http->static_root ? 0 : BLEND_ENOMEM;
        }
    }
    if (rc == 0) {
        rc = copy_extra_headers(http, cfg->extra_headers);
    }
    if (rc == 0) {
        rc = register_metrics(http);
    }
    if (rc == 0) {
        rc = start_lws(http, cfg);
    }
    if (rc == 0) {
        rc = start_listener(http, cfg);
    }
    if (rc != 0) {
        blend_http_destroy(http);
        return rc;
    }
    *out = http;
    return 0;
}

int blend_http_port(const struct blend_http *http)
{
    return http->listener ? http->port : 0;
}

void blend_http_stop_accepting(struct blend_http *http)
{
    if (http->listener) {
        uv_close((uv_handle_t *)http->listener, free_handle);
        http->listener = NULL;
        BLEND_LOG_INFO("http", "stopped accepting connections");
    }
}

size_t blend_http_inflight(const struct blend_http *http)
{
    return http->reqs_count;
}

size_t blend_http_connections(const struct blend_http *http)
{
    return http->conns_count;
}

size_t blend_http_ws_clients(const struct blend_http *http)
{
    return http->ws_count;
}

static void count_closing(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h)) {
        ++*(int *)arg;
    }
}

/* Turns the loop until no handle is closing: lws's close callbacks start further closes, so a
 * single turn is not enough. Bounded, in case a handle never finishes closing. */
static void run_until_closed(uv_loop_t *loop)
{
    for (int turn = 0; turn < DESTROY_LOOP_TURNS_MAX; turn++) {
        int closing = 0;
        uv_walk(loop, count_closing, &closing);
        if (closing == 0) {
            return;
        }
        uv_run(loop, UV_RUN_NOWAIT);
    }
    BLEND_LOG_ERROR("http", "handles still closing after %d loop turns", DESTROY_LOOP_TURNS_MAX);
}

void blend_http_destroy(struct blend_http *http)
{
    if (!http) {
        return;
    }
    blend_http_stop_accepting(http);
    if (http->lws_ctx) {
        lws_context_destroy(http->lws_ctx); /* starts closing every wsi and lws's handles */
        run_until_closed(http->loop);
        if (http->lws_ctx) {
            lws_context_destroy(http->lws_ctx); /* second stage: frees the context */
        }
        if (http->lws_ctx) {
            BLEND_LOG_ERROR("http", "libwebsockets context not fully destroyed");
        }
    }
    run_until_closed(http->loop);
    while (http->conns) { /* only sockets lws refused at adoption can be left */
        struct conn *c = http->conns;
        conn_unlink(c);
        blend_free(c);
    }
    while (http->reqs) { /* requests the app still held */
        blend__http_req_free(http->reqs);
    }
    for (char **h = http->extra_headers; h && *h; h++) {
        blend_free(*h);
    }
    blend_free(http->extra_headers);
    blend_free(http->static_root);
    blend_free(http);
}
