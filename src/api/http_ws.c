/*
 * WebSocket endpoints. The upgrade is decided in LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, while the
 * request headers are still there: the endpoint is looked up by exact path, the client cap is
 * checked, and the app's on_open sees a request snapshot (headers, query, cookies, remote).
 * A refusal is written there and then as a small JSON error, so the client gets a real 401/403
 * instead of a dropped connection.
 *
 * Outgoing frames wait in a per-client FIFO (bounded by ws_backlog_max) and leave one per
 * LWS_CALLBACK_SERVER_WRITEABLE. A client that lets its backlog fill is closed with 1008; it
 * can reconnect and resume from the event log. Incoming fragments are joined up to
 * BLEND_WS_MESSAGE_BYTES_MAX (1009 beyond it); binary messages are refused with 1003.
 * Keep-alive pings and dead-peer hang-ups come from the vhost's retry_and_idle_policy.
 */
#include "api/http_private.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"

#include <string.h>
#include <strings.h>

static const char *refusal_code(int status)
{
    switch (status) {
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 503:
        return "unavailable";
    default:
        return "refused";
    }
}

/* Writes a complete small error response from inside CONFIRM_UPGRADE (lws then completes the
 * transaction). Returns 1 (answered) or -1 (hang up) as lws expects. */
static int refuse(struct conn *c, struct lws *wsi, int status, const char *message)
{
    struct blend_http *http = c->http;
    struct blend_http_req *req = blend__http_req_new(c);
    char *body = NULL;
    size_t len = 0;
    unsigned char *head = NULL;
    size_t head_len = 0;
    unsigned char *piece = NULL;
    int rc = req ? blend__http_error_body(status, refusal_code(status), message, NULL, &body, &len)
                 : BLEND_ENOMEM;
    if (rc == 0) {
        rc = blend__http_build_head(req, wsi, status, "application/json", len, &head, &head_len);
    }
    if (rc == 0) {
        piece = blend_malloc(LWS_PRE + len);
        rc = piece ? 0 : BLEND_ENOMEM;
    }
    if (rc == 0) {
        memcpy(piece + LWS_PRE, body, len);
        if (lws_write(wsi, head + LWS_PRE, head_len, LWS_WRITE_HTTP_HEADERS) < 0 ||
            lws_write(wsi, piece + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) < 0) {
            rc = BLEND_EIO;
        }
    }
    if (http->metrics) {
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        blend_metric_inc(http->m_requests, "ws", code);
    }
    blend_free(piece);
    blend_free(head);
    blend_free(body);
    blend__http_req_free(req);
    return rc == 0 ? 1 : -1;
}

static const struct blend_ws_endpoint *find_endpoint(struct blend_http *http, const char *path)
{
    for (size_t i = 0; i < http->ws_endpoints_count; i++) {
        if (strcmp(http->ws_endpoints[i].path, path) == 0) {
            return &http->ws_endpoints[i];
        }
    }
    return NULL;
}

static void drop_backlog(struct blend_ws *ws)
{
    struct ws_frame *f = ws->head;
    while (f) {
        struct ws_frame *next = f->next;
        blend_free(f);
        f = next;
    }
    ws->head = ws->tail = NULL;
    ws->backlog = 0;
}

/* Asks the app; returns 0 (accepted, ws_out set) or the HTTP status to refuse with. */
static int open_ws(struct conn *c, struct lws *wsi, const struct blend_ws_endpoint *ep,
                   const char *uri, size_t uri_len, struct blend_ws **ws_out)
{
    struct blend_http *http = c->http;
    struct blend_http_req *req = blend__http_req_new(c);
    struct blend_ws *ws = blend_calloc(1, sizeof *ws);
    if (!req || !ws || blend__http_req_snapshot(req, wsi, uri, uri_len) != 0) {
        blend__http_req_free(req);
        blend_free(ws);
        return 503;
    }
    req->label = "ws";
    ws->http = http;
    ws->ep = ep;
    /* The app may queue frames (a snapshot) from on_open: they go out once established. */
    ws->conn = c;
    blend_buf_init(&ws->rx, BLEND_WS_MESSAGE_BYTES_MAX);
    int status = ep->on_open ? ep->on_open(ws, req, http->arg) : 0;
    blend__http_req_free(req);
    if (status != 0) {
        ws->conn = NULL;
        drop_backlog(ws);
        blend_buf_deinit(&ws->rx);
        blend_free(ws);
        return status >= 400 && status <= 599 ? status : 403;
    }
    *ws_out = ws;
    return 0;
}

int blend__ws_confirm_upgrade(struct conn *c, struct lws *wsi, const char *protocol)
{
    struct blend_http *http = c->http;
    char *uri = NULL;
    int uri_len = 0;
    int method = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    if (!protocol || strcasecmp(protocol, "websocket") != 0 || method != LWSHUMETH_GET ||
        uri_len <= 0 || (size_t)uri_len > BLEND_HTTP_URI_BYTES_MAX) {
        return refuse(c, wsi, 400, "unsupported upgrade");
    }
    char path[BLEND_HTTP_URI_BYTES_MAX + 1];
    memcpy(path, uri, (size_t)uri_len);
    path[uri_len] = '\0';
    const struct blend_ws_endpoint *ep = find_endpoint(http, path);
    if (!ep) {
        return refuse(c, wsi, 404, "no WebSocket endpoint here");
    }
    if (http->ws_count >= http->ws_clients_max) {
        return refuse(c, wsi, 503, "too many WebSocket clients");
    }
    struct blend_ws *ws = NULL;
    int status = open_ws(c, wsi, ep, path, (size_t)uri_len, &ws);
    if (status != 0) {
        return refuse(c, wsi, status, "the WebSocket connection was refused");
    }
    ws->conn = c;
    c->ws = ws;
    http->ws_count++;
    blend__http_conn_update_gauges(http);
    if (http->metrics) {
        blend_metric_inc(http->m_requests, "ws", "101");
    }
    return 0;
}


/* Closes with code on the next WRITEABLE; queued frames are dropped. */
static void start_close(struct blend_ws *ws, int code)
{
    if (ws->close_code || !ws->conn) {
        return;
    }
    drop_backlog(ws);
    ws->close_code = code;
    lws_callback_on_writable(ws->conn->wsi);
}

static int on_receive(struct blend_ws *ws, struct lws *wsi, const void *in, size_t len)
{
    if (ws->close_code) {
        return 0;
    }
    if (lws_frame_is_binary(wsi)) {
        start_close(ws, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE);
        return 0;
    }
    if (len > 0 && blend_buf_append(&ws->rx, in, len) != 0) {
        start_close(ws, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
        return 0;
    }
    if (!lws_is_final_fragment(wsi)) {
        return 0;
    }
    if (ws->ep->on_message) {
        ws->ep->on_message(ws, ws->rx.data ? ws->rx.data : "", ws->rx.len, ws->http->arg);
    }
    blend_buf_reset(&ws->rx);
    return 0;
}

static int on_writeable(struct blend_ws *ws, struct lws *wsi)
{
    if (ws->close_code) {
        /* Returning -1 here would lose the close frame: Debian's lws 4.1.6 is a _DEBUG build
         * whose libuv service path closes a second time ("uv repeat test") and kills the
         * connection while the frame still waits. A synchronous kill request is one close
         * call, which queues the close frame with our code and waits for the peer's ack
         * (5 s at most). */
        if (!ws->close_started) {
            static const char reason[] = "closing";
            ws->close_started = 1;
            lws_close_reason(wsi, (enum lws_close_status)ws->close_code, (unsigned char *)reason,
                             sizeof reason - 1);
            lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
        }
        return 0;
    }
    struct ws_frame *f = ws->head;
    if (!f) {
        return 0;
    }
    /* lws either takes the whole frame or buffers the rest itself; < len means failure. */
    int n = lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT);
    if (n < 0 || (size_t)n < f->len) {
        return -1;
    }
    ws->head = f->next;
    if (!ws->head) {
        ws->tail = NULL;
    }
    ws->backlog--;
    blend_free(f);
    if (ws->head) {
        lws_callback_on_writable(wsi);
    }
    return 0;
}

int blend__ws_callback(struct conn *c, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                       size_t len)
{
    struct blend_ws *ws = c->ws;
    if (!ws) {
        return reason == LWS_CALLBACK_ESTABLISHED ? -1 : 0;
    }
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        if (ws->head || ws->close_code) {
            lws_callback_on_writable(wsi);
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(ws, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(ws, wsi);
    default:
        return 0;
    }
}

void blend__ws_conn_gone(struct conn *c)
{
    struct blend_ws *ws = c->ws;
    struct blend_http *http = c->http;
    BLEND_ASSERT(ws && http->ws_count > 0);
    c->ws = NULL;
    ws->conn = NULL;
    http->ws_count--;
    blend__http_conn_update_gauges(http);
    if (ws->ep->on_close) {
        ws->ep->on_close(ws, http->arg);
    }
    drop_backlog(ws);
    blend_buf_deinit(&ws->rx);
    blend_free(ws);
}

int blend_ws_send(struct blend_ws *ws, const char *text, size_t len)
{
    BLEND_ASSERT(ws && (text || len == 0));
    if (!ws->conn || ws->close_code) {
        return BLEND_ECLOSED;
    }
    struct blend_http *http = ws->http;
    if (ws->backlog >= http->ws_backlog_max) {
        BLEND_LOG_WARN("http", "ws client %s: backlog of %zu frames full, closing", ws->ep->path,
                       ws->backlog);
        start_close(ws, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return BLEND_ELIMIT;
    }
    struct ws_frame *f = blend_malloc(sizeof *f + LWS_PRE + len);
    if (!f) {
        return BLEND_ENOMEM;
    }
    f->next = NULL;
    f->len = len;
    if (len > 0) {
        memcpy(f->data + LWS_PRE, text, len);
    }
    if (ws->tail) {
        ws->tail->next = f;
    } else {
        ws->head = f;
    }
    ws->tail = f;
    ws->backlog++;
    lws_callback_on_writable(ws->conn->wsi);
    return 0;
}

void blend_ws_close(struct blend_ws *ws)
{
    BLEND_ASSERT(ws);
    start_close(ws, LWS_CLOSE_STATUS_NORMAL);
}

void *blend_ws_ctx(const struct blend_ws *ws)
{
    return ws->ctx;
}

void blend_ws_set_ctx(struct blend_ws *ws, void *ctx)
{
    ws->ctx = ctx;
}

size_t blend_ws_backlog(const struct blend_ws *ws)
{
    return ws->backlog;
}
