/*
 * HTTP/1.1 and WebSocket transport on the caller's libuv loop (libwebsockets on a foreign
 * loop). A generic server layer without business rules: it routes requests by method and path
 * pattern to handlers, serves a static directory, streams responses, and carries WebSocket
 * text messages. Authentication and authorisation belong to the app, in the `before` hook.
 *
 * Threading: every call here happens on the loop's thread (handlers run on it too).
 *
 * Request lifetime: the layer creates a request when its headers (and body) have arrived and
 * hands it to a handler. The handler answers with one blend_http_respond_*() call, now or
 * later (BLEND_HTTP_PENDING). After that call the request must not be touched: it is freed once
 * the response is written. If the client disconnects while the app still holds the request,
 * the request stays valid until the app responds (the answer is dropped) or releases it.
 *
 * Limits (src/base/limits.h; configuration may lower, never raise them): a declared body over
 * BLEND_HTTP_BODY_BYTES_MAX is refused with 413 before anything is buffered; a URI over
 * BLEND_HTTP_URI_BYTES_MAX gets 414; beyond BLEND_HTTP_CONNECTIONS_MAX new connections get
 * 503 and are closed; beyond BLEND_WS_CLIENTS_MAX upgrades get 503; a WebSocket client with
 * more than BLEND_WS_CLIENT_BACKLOG_MAX unsent frames is closed with 1008.
 *
 * Every response carries `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
 * `X-Frame-Options: DENY`, a strict `Content-Security-Policy` (same-origin only for HTML,
 * `default-src 'none'` for everything else) and `Cache-Control: no-store` under /api/. Errors are
 * JSON: {"error":{"code","message","details"}}.
 */
#ifndef BLEND_API_HTTP_H
#define BLEND_API_HTTP_H

#include "base/error.h"
#include "base/limits.h"

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

struct blend_http;
struct blend_http_req;
struct blend_ws;
struct blend_metrics;

/* Methods, as bits so a path's allowed set is one mask (for 405 + Allow). */
enum blend_http_method {
    BLEND_HTTP_GET = 1u << 0,
    BLEND_HTTP_POST = 1u << 1,
    BLEND_HTTP_PUT = 1u << 2,
    BLEND_HTTP_PATCH = 1u << 3,
    BLEND_HTTP_DELETE = 1u << 4,
    BLEND_HTTP_OPTIONS = 1u << 5,
};

/* Handler results: answered now (a respond call was made), or the app answers later. */
#define BLEND_HTTP_DONE 0
#define BLEND_HTTP_PENDING 1

/*
 * A handler answers the request (any blend_http_respond_* call) and returns BLEND_HTTP_DONE,
 * or keeps it and returns BLEND_HTTP_PENDING. A negative BLEND_E* return without a response
 * is answered with 500 by the layer.
 */
typedef int (*blend_http_handler_fn)(struct blend_http_req *req, void *arg);

struct blend_http_route {
    unsigned method;     /* one enum blend_http_method value */
    const char *pattern; /* "/api/v1/agents/{id}": literal segments and {name} parameters */
    const char *name;    /* stable label for metrics and logs, e.g. "agents.get" */
    unsigned access;     /* opaque to this layer, given to the before hook (the app's RBAC) */
    blend_http_handler_fn handler;
};

/*
 * Runs after routing and before the handler. Returns 0 to go on; non-zero to stop, after it
 * has answered the request itself (if it stops without answering, the layer answers 500).
 */
typedef int (*blend_http_before_fn)(struct blend_http_req *req,
                                    const struct blend_http_route *route, void *arg);

/*
 * A WebSocket endpoint. on_open runs before the upgrade completes with the upgrade request's
 * headers, query and cookies: it returns 0 to accept or an HTTP status (401, 403...) to
 * refuse, which the client receives as a JSON error. on_close runs exactly once for every
 * accepted ws (also when the handshake fails later or the server is destroyed); the ws is
 * freed when it returns. on_message receives each complete text message.
 */
struct blend_ws_endpoint {
    const char *path; /* exact path, e.g. "/api/v1/events" */
    int (*on_open)(struct blend_ws *ws, struct blend_http_req *req, void *arg);
    void (*on_message)(struct blend_ws *ws, const char *text, size_t len, void *arg);
    void (*on_close)(struct blend_ws *ws, void *arg);
};

struct blend_http_config {
    const char *host;          /* listen address; NULL = "127.0.0.1"; IPv6 literal allowed */
    int port;                  /* 0 = any free port (see blend_http_port) */
    const char *tls_cert_path; /* PEM; both or neither of cert and key */
    const char *tls_key_path;
    const char *static_dir; /* NULL = no static files; served for GET outside /api/ */

    const struct blend_http_route *routes; /* borrowed; must outlive the server */
    size_t routes_count;
    blend_http_before_fn before;                  /* NULL = no hook */
    const struct blend_ws_endpoint *ws_endpoints; /* borrowed; must outlive the server */
    size_t ws_endpoints_count;
    void *arg; /* given to handlers, the before hook and ws hooks */
    /* Frees a request's ctx slot (when non-NULL) as the request is freed, e.g. blend_free for
     * a principal the before hook allocated. NULL = the app manages ctx itself. */
    void (*ctx_free)(void *ctx);

    /* Optional registry (borrowed) where the layer counts blend_http_requests_total{route,
     * status}, blend_http_request_duration_seconds{route}, connections and ws clients. */
    struct blend_metrics *metrics;

    /* Request header names beyond the standard ones to capture (NULL-terminated, borrowed),
     * e.g. {"X-Request-Id", NULL}. Standard headers (Authorization, Cookie, If-Match,
     * Content-Type, Origin, ...) are always captured. */
    const char *const *extra_headers;

    /* Lower limits; 0 keeps the limits.h value. */
    size_t body_bytes_max;
    size_t connections_max;
    size_t ws_clients_max;
    size_t ws_backlog_max;
    /* WebSocket keep-alive: ping after this many idle seconds, hang up after the second
     * value without a pong (0 = 30 s and 60 s). HTTP keep-alive idle timeout (0 = 5 s). */
    unsigned ws_ping_s;
    unsigned ws_hangup_s;
    unsigned keepalive_s;
};

/*
 * Creates the server and starts listening on loop (borrowed; must outlive the server).
 * cfg and the strings in it are copied except the borrowed tables noted above.
 * Returns 0; BLEND_EINVAL for a bad config (address, route pattern, too many routes or
 * params, duplicate route); BLEND_EIO when the address cannot be bound or TLS files fail to
 * load; BLEND_ENOMEM. Call it outside uv_run: a failure after libwebsockets started is undone
 * like blend_http_destroy, which turns the loop. HTTP/1.1 only (TLS ALPN offers http/1.1).
 */
BLEND_MUST_USE int blend_http_create(uv_loop_t *loop, const struct blend_http_config *cfg,
                                     struct blend_http **out);
/* The TCP port being listened on (useful with port 0); 0 after stop_accepting. */
int blend_http_port(const struct blend_http *http);
/* Closes the listening socket: new connections are refused, open ones continue. */
void blend_http_stop_accepting(struct blend_http *http);
/* Requests created and not yet freed (including those the app holds after a disconnect). */
size_t blend_http_inflight(const struct blend_http *http);
/* Open connections (HTTP and WebSocket). */
size_t blend_http_connections(const struct blend_http *http);
/*
 * Closes every connection (ws on_close hooks run), frees every request still held by the app
 * (the app must drop its pointers) and the server. Must be called outside uv_run: it runs the
 * loop itself until libwebsockets has closed its handles. NULL is a no-op.
 */
void blend_http_destroy(struct blend_http *http);

/* --- Request accessors (valid until the request is answered or released) ------------------- */

unsigned blend_http_req_method(const struct blend_http_req *req);
const char *blend_http_req_method_name(const struct blend_http_req *req);
/* Decoded path without the query, e.g. "/api/v1/agents/7". */
const char *blend_http_req_path(const struct blend_http_req *req);
/* The matched route (NULL for static files and ws upgrades). */
const struct blend_http_route *blend_http_req_route(const struct blend_http_req *req);
/* Path parameter from the route pattern, query parameter (URL-decoded), header (name
 * case-insensitive) and cookie by name; NULL when absent. */
const char *blend_http_req_param(const struct blend_http_req *req, const char *name);
const char *blend_http_req_query(const struct blend_http_req *req, const char *name);
const char *blend_http_req_header(const struct blend_http_req *req, const char *name);
const char *blend_http_req_cookie(const struct blend_http_req *req, const char *name);
/* Raw body (NUL-terminated for convenience; len excludes the NUL). Empty when none. */
const char *blend_http_req_body(const struct blend_http_req *req, size_t *len_out);
/* Peer address as text ("127.0.0.1"). */
const char *blend_http_req_remote(const struct blend_http_req *req);
/* The app's slot (e.g. its auth principal); the layer never reads it, and frees it with
 * cfg.ctx_free (if set) when the request is freed. */
void *blend_http_req_ctx(const struct blend_http_req *req);
void blend_http_req_set_ctx(struct blend_http_req *req, void *ctx);
/* 1 once the client has disconnected (a response would be dropped). */
int blend_http_req_is_gone(const struct blend_http_req *req);

/* --- JSON bodies (json_body.c) ---------------------------------------------------------------- */

/* Why a body was refused: the status and code to answer with, and a message for the client. */
struct blend_http_body_error {
    int status;       /* 400 malformed (syntax, depth, duplicate keys), 413 too large, 415 not JSON
                         (too deep, duplicate key), 503 out of memory */
    const char *code; /* "invalid_json", "payload_too_large", "unsupported_media_type",
                         "json_too_deep", "duplicate_key", "empty_body", "unavailable" */
    char message[200];
};

/*
 * Checks that JSON in data nests at most depth_max arrays/objects, scanning the raw bytes
 * without recursion (strings and escapes skipped). Returns 0 or BLEND_ELIMIT. Bytes that are
 * not JSON are left for the parser to refuse.
 */
BLEND_MUST_USE int blend_http_json_depth_check(const char *data, size_t len, size_t depth_max);

/*
 * Parses a JSON request body: content_type must be application/json or application/<x>+json
 * (charset utf-8 if given); len at most bytes_max; nesting at most BLEND_JSON_DEPTH_MAX
 * (checked before jansson parses); valid UTF-8 and syntax; no duplicate object keys; the top
 * level an object or array. Returns 0 and an owned json_t through out, or BLEND_EPARSE /
 * BLEND_ELIMIT / BLEND_EINVAL / BLEND_ENOMEM with err filled.
 */
BLEND_MUST_USE int blend_http_json_parse(const char *content_type, const char *data, size_t len,
                                         size_t bytes_max, json_t **out,
                                         struct blend_http_body_error *err);

/* blend_http_json_parse on the request's Content-Type and body. */
BLEND_MUST_USE int blend_http_req_json(struct blend_http_req *req, json_t **out,
                                       struct blend_http_body_error *err);

/* --- Responses (each consumes the request; see the lifetime rules above) ------------------- */

/*
 * Adds a response header (before the respond call), e.g. Set-Cookie, ETag, Location, Allow.
 * Returns 0, BLEND_EINVAL for a bad name or a value with CR/LF, BLEND_ELIMIT, BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_http_add_header(struct blend_http_req *req, const char *name,
                                         const char *value);

/* Sends body (copied) with a content type. Failures (out of memory) close the connection. */
void blend_http_respond(struct blend_http_req *req, int status, const char *content_type,
                        const void *body, size_t len);
/* Same, taking ownership of body (allocated with blend_malloc), e.g. from blend_buf_take. */
void blend_http_respond_take(struct blend_http_req *req, int status, const char *content_type,
                             char *body, size_t len);
/* Sends body (stolen) as application/json. NULL (typically a failed json_pack) is answered
 * with 500; use blend_http_respond(req, 204, NULL, NULL, 0) for an answer without a body. */
void blend_http_respond_json(struct blend_http_req *req, int status, json_t *body);
/* Sends {"error":{"code":code,"message":message[,"details":details]}}; details is stolen. */
void blend_http_respond_error(struct blend_http_req *req, int status, const char *code,
                              const char *message, json_t *details);
/* Answers a refused JSON body with err's status, code and message. */
void blend_http_respond_body_error(struct blend_http_req *req,
                                   const struct blend_http_body_error *err);
/* The app gives up a request it will not answer: a live client gets 500, a gone one nothing. */
void blend_http_req_release(struct blend_http_req *req);

/* --- WebSocket ------------------------------------------------------------------------------ */

/*
 * Queues a text frame (copied). Returns 0; BLEND_ECLOSED when the ws is closing; BLEND_ELIMIT
 * when the backlog is full, in which case the client is closed with 1008 (it may reconnect and
 * resume); BLEND_ENOMEM.
 */
int blend_ws_send(struct blend_ws *ws, const char *text, size_t len);
/* Starts a normal close (1000); queued frames are dropped. on_close follows. */
void blend_ws_close(struct blend_ws *ws);
void *blend_ws_ctx(const struct blend_ws *ws);
void blend_ws_set_ctx(struct blend_ws *ws, void *ctx);
/* Frames queued and not yet written. */
size_t blend_ws_backlog(const struct blend_ws *ws);
/* Accepted WebSocket clients currently open. */
size_t blend_http_ws_clients(const struct blend_http *http);

#endif
