/*
 * Internals shared by http.c (server, requests, responses), http_ws.c (WebSocket),
 * http_static.c (static files) and http_route.c (pattern matching). Not for other modules.
 *
 * Ownership: the server owns its connections (struct conn, one per adopted socket, freed on
 * LWS_CALLBACK_WSI_DESTROY) and every live request (listed in http->reqs). A connection points
 * to its current request and the request back to its connection; when the connection dies
 * first, a request the app holds is kept with conn == NULL until the app answers or releases
 * it. Request strings live in one arena addressed by offsets, so the arena may grow while the
 * request is being assembled; it never grows once the handler runs, so pointers handed to the
 * app stay valid.
 */
#ifndef BLEND_API_HTTP_PRIVATE_H
#define BLEND_API_HTTP_PRIVATE_H

#include "api/http.h"
#include "api/metrics.h"
#include "base/buf.h"
#include "base/limits.h"

#include <libwebsockets.h>
#include <stdint.h>

/* Request arena: URI, captured headers, cookies, query and params together. */
#define BLEND__HTTP_ARENA_BYTES_MAX (64 * 1024)
/* Response bytes handed to lws_write per WRITEABLE callback. */
#define BLEND__HTTP_WRITE_CHUNK (16 * 1024)
/* Largest refused body lws reads and drops so the client sees our 413 (beyond: close). */
#define BLEND__HTTP_DRAIN_BYTES_MAX (4 * BLEND_HTTP_BODY_BYTES_MAX)
/* lws header buffer: the URI limit plus all headers we accept, with room to spare. */
#define BLEND__HTTP_LWS_HEADER_BYTES 16384

struct blend__kv {
    uint32_t name; /* offsets into the request arena */
    uint32_t value;
};

enum blend__req_state {
    BLEND__REQ_READING, /* headers in, body arriving */
    BLEND__REQ_APP,     /* handed to the before hook / handler, not answered yet */
    BLEND__REQ_WRITING, /* answered, response being written */
};

struct conn;

struct blend_http_req {
    struct blend_http *http;
    struct conn *conn;                  /* NULL once the client is gone */
    struct blend_http_req *prev, *next; /* http->reqs */
    enum blend__req_state state;
    int is_upgrade;  /* temporary request for a ws on_open: never answered through the writer */
    int close_after; /* close the connection once the response is out */
    unsigned method;
    const char *method_name;
    const struct blend_http_route *route;
    const char *label; /* metrics route label */
    uint64_t start_ns;
    void *ctx;

    struct blend_buf arena;
    uint32_t path;
    uint32_t remote;
    struct blend__kv params[BLEND_ROUTE_PARAMS_MAX];
    size_t params_count;
    struct blend__kv query[BLEND_HTTP_QUERY_PARAMS_MAX];
    size_t query_count;
    struct blend__kv headers[BLEND_HTTP_REQ_HEADERS_MAX];
    size_t headers_count;
    struct blend__kv cookies[BLEND_HTTP_COOKIES_MAX];
    size_t cookies_count;
    struct blend_buf body;

    struct blend_buf extra_headers; /* "name:\0value\0" pairs added by the app */
    /* Response being written. */
    unsigned char *head; /* LWS_PRE bytes, then head_len bytes of headers */
    size_t head_len;
    int head_sent;
    char *resp_body; /* owned */
    size_t resp_len;
    size_t resp_sent;
};

struct conn {
    struct blend_http *http;
    struct lws *wsi;
    struct conn *prev, *next; /* http->conns */
    struct blend_http_req *req;
    struct blend_ws *ws;
    int adopt_failed;  /* lws refused the socket: not counted, freed by WSI_DESTROY or destroy */
    int close_pending; /* close once lws has flushed what it buffered */
};

struct ws_frame {
    struct ws_frame *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes, then the payload */
};

struct blend_ws {
    struct blend_http *http;
    struct conn *conn; /* NULL once the connection is gone */
    const struct blend_ws_endpoint *ep;
    void *ctx;
    struct ws_frame *head, *tail;
    size_t backlog;
    struct blend_buf rx;
    int close_code;    /* nonzero: close with it on the next WRITEABLE */
    int close_started; /* the close was handed to lws */
};

struct blend_http {
    uv_loop_t *loop;
    struct lws_context *lws_ctx; /* NULLed by lws when fully destroyed (info.pcontext) */
    struct lws_vhost *vhost;
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
    uint32_t retry_ms[1];

    uv_tcp_t *listener; /* NULL after stop_accepting */
    int port;
    int is_tls;

    const struct blend_http_route *routes;
    size_t routes_count;
    blend_http_before_fn before;
    const struct blend_ws_endpoint *ws_endpoints;
    size_t ws_endpoints_count;
    void *arg;
    void (*ctx_free)(void *ctx);
    char *static_root;    /* realpath of static_dir, or NULL */
    char **extra_headers; /* lower-case "name:" strings, NULL-terminated */

    size_t body_bytes_max;
    size_t connections_max;
    size_t ws_clients_max;
    size_t ws_backlog_max;

    struct conn *conns;
    size_t conns_count;
    struct blend_http_req *reqs;
    size_t reqs_count;
    size_t ws_count;

    struct blend_metrics *metrics;
    struct blend_metric *m_requests;
    struct blend_metric *m_duration;
    struct blend_metric *m_connections;
    struct blend_metric *m_ws_clients;
    struct blend_metric *m_refused;

    unsigned char scratch[LWS_PRE + BLEND__HTTP_WRITE_CHUNK];
};

/* http.c */
struct blend_http_req *blend__http_req_new(struct conn *c);
void blend__http_req_free(struct blend_http_req *req);
int blend__http_req_snapshot(struct blend_http_req *req, struct lws *wsi, const char *uri,
                             size_t uri_len);
int blend__http_error_body(int status, const char *code, const char *message, json_t *details,
                           char **body_out, size_t *len_out);
int blend__http_build_head(struct blend_http_req *req, struct lws *wsi, int status,
                           const char *content_type, size_t body_len, unsigned char **out,
                           size_t *len_out);
void blend__http_conn_update_gauges(struct blend_http *http);

/* http_ws.c */
int blend__ws_confirm_upgrade(struct conn *c, struct lws *wsi, const char *protocol);
int blend__ws_callback(struct conn *c, struct lws *wsi, enum lws_callback_reasons reason, void *in,
                       size_t len);
void blend__ws_conn_gone(struct conn *c);

/* http_static.c */
/* Maps a request path to a regular file under root (a realpath). Returns 0 with the path in
 * out; BLEND_ENOENT when there is no such file (or it is a directory); BLEND_EPERM when the
 * path would leave root (.., symlinks, hidden names); BLEND_ELIMIT when it is too long. */
int blend__http_static_resolve(const char *root, const char *path, char *out, size_t cap);
/* Reads a whole file up to BLEND_HTTP_STATIC_FILE_BYTES_MAX into an owned buffer. */
int blend__http_static_load(const char *file, char **body_out, size_t *len_out);
/* Content type for a file name, charset added for text. */
const char *blend__http_mime(const char *file);

/* http_route.c */
struct blend__http_param {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};
/* Returns 0 when pattern is valid: "/" or "/seg/{param}/...", params named [a-z_0-9] and at
 * most BLEND_ROUTE_PARAMS_MAX. */
int blend__http_route_validate(const char *pattern);
/* Returns 1 when path matches pattern, filling params (pointers into pattern and path). */
int blend__http_route_match(const char *pattern, const char *path, struct blend__http_param *params,
                            size_t *params_count);

#endif
