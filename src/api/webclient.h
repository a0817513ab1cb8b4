/*
 * Outgoing HTTP on the server's libuv loop (flows' http node, later event webhooks): libcurl's
 * multi-socket API, with one uv_poll per socket curl opens and one uv_timer for curl's timeout
 * (docs/adr/0012-http-client-libcurl.md). Internal to src/api.
 *
 * Invariants:
 *   - Everything runs on the loop's thread; a client is used from that thread only.
 *   - A request's callback runs exactly once, from the loop (never inside send()), unless the
 *     request was cancelled first; destroy() answers every request still in flight with
 *     BLEND_ECLOSED before it returns.
 *   - Redirects are never followed, only http and https are spoken, proxies from the environment
 *     are ignored, and an answer larger than the request's bound fails instead of growing.
 *   - curl allocates through blend_malloc: curl_global_init_mem() runs once per process, on the
 *     first create() or url_allowed() (guarded by uv_once, so any thread may be first). Any
 *     other user of libcurl in the process must come after it (the first init decides the
 *     allocator); curl_global_cleanup() is never called (curl's globals live as long as the
 *     process).
 */
#ifndef BLEND_API_WEBCLIENT_H
#define BLEND_API_WEBCLIENT_H

#include "base/error.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Default and largest answer kept in memory: webhook answers are small JSON objects; a larger
 * answer fails with BLEND_ELIMIT rather than growing a buffer without bound. */
#define BLEND_WEBCLIENT_RESPONSE_BYTES_DEFAULT (64 * 1024)
#define BLEND_WEBCLIENT_RESPONSE_BYTES_MAX (4 * 1024 * 1024)
/* Largest message a MAIL request sends or receives (the email channel's own limit, 32 MiB). */
#define BLEND_WEBCLIENT_MAIL_BYTES_MAX (32 * 1024 * 1024)
/* Largest request body (a webhook's event JSON) and longest URL. */
#define BLEND_WEBCLIENT_BODY_BYTES_MAX (1024 * 1024)
#define BLEND_WEBCLIENT_URL_BYTES_MAX 2048
/* Longest Content-Type accepted. */
#define BLEND_WEBCLIENT_CONTENT_TYPE_BYTES_MAX 128
/* A request's whole-transfer timeout bounds (the http node's own bound is 30 s). */
#define BLEND_WEBCLIENT_TIMEOUT_MS_MAX 30000
/* Requests in flight on one client: one per call waiting in an http node, far below the calls
 * the telephony side carries at once; beyond it send() answers BLEND_ELIMIT. */
#define BLEND_WEBCLIENT_REQUESTS_MAX 4096
/* Longest allow-list (url_allowed) examined; longer lists allow nothing. */
#define BLEND_WEBCLIENT_ALLOW_LIST_BYTES_MAX 8192

struct blend_webclient;

struct blend_webclient_request {
    const char *method;        /* "GET", "POST", or "MAIL" (below) */
    const char *url;           /* http:// or https:// (imap[s]/smtp[s] for MAIL);
                                  BLEND_WEBCLIENT_URL_BYTES_MAX */
    const char *content_type;  /* POST only, e.g. "application/json"; NULL sends none */
    const void *body;          /* POST only; copied by send() */
    size_t body_len;           /* at most BLEND_WEBCLIENT_BODY_BYTES_MAX; GET must have 0 */
    int timeout_ms;            /* the whole request, connection included: 1..30000 */
    size_t response_bytes_max; /* larger answers fail with BLEND_ELIMIT; 0 = 64 KiB */
    /* More request headers, "Name: value" lines (NULL-terminated, at most 8, no control
     * characters), e.g. an Authorization or a signature; NULL for none. */
    const char *const *headers;
    /* MAIL (the email channel): one IMAP command or one SMTP send. url is imap://, imaps://,
     * smtp:// or smtps://; username / password log in (NULL: none). IMAP: custom_request is the
     * command ("UID SEARCH UID 5:*", "UID STORE 5 +FLAGS (\Seen)"; control characters refused),
     * NULL fetches what the URL names (";UID=5": the raw message); the answer is what the server
     * sent back (untagged lines, or the message). SMTP: mail_from and rcpt (NULL-terminated, at
     * least one; addresses without control characters or angle brackets) and body = the whole
     * message, uploaded. require_tls: STARTTLS is required on imap:// and smtp:// (the s-schemes
     * are TLS from the start). */
    const char *username, *password;
    const char *custom_request;
    const char *mail_from;
    const char *const *rcpt;
    int require_tls;
};

/* The outcome of one request. rc: 0 when an HTTP answer arrived, whatever its status (the caller
 * decides what a 404 or 500 means); BLEND_ETIMEDOUT when timeout_ms passed first; BLEND_EIO for
 * connection, TLS and protocol errors; BLEND_ELIMIT for an answer over response_bytes_max;
 * BLEND_ENOMEM; BLEND_ECLOSED when the client was destroyed first. status is the HTTP status
 * (0 when rc != 0). MAIL: rc 0 when the command or the send succeeded, BLEND_EAUTH when the
 * login was refused, BLEND_EIO when the server refused (status: its last reply code, e.g. SMTP
 * 550 or 451, 0 when it never answered) or the connection failed. body (borrowed, valid during the call only, NUL-terminated after len bytes)
 * holds the answer when rc == 0, else it is "" with len 0. The callback may send, cancel and
 * destroy on this client. */
typedef void blend_webclient_cb(void *arg, uint64_t token, int rc, int status, const char *body,
                                size_t len);

/* Creates a client on `loop` (borrowed; it must outlive the client's handles). Returns 0 with
 * an owned client in *out, BLEND_ENOMEM, or BLEND_EINTERNAL when libcurl fails to initialise. */
BLEND_MUST_USE int blend__webclient_create(uv_loop_t *loop, struct blend_webclient **out);

/* Answers every request in flight with BLEND_ECLOSED (inside this call), then closes the
 * client's handles; its memory is released by the loop once their close callbacks have run, so
 * run the loop before uv_loop_close() as for any libuv handle. May be called from a callback.
 * NULL is a no-op. */
void blend__webclient_destroy(struct blend_webclient *wc);

/* Starts a request; `r` and its strings are borrowed for the call only (the body is copied).
 * cb(arg, token, ...) runs later, from the loop. Returns 0 with the request's id in *id_out (may
 * be NULL), BLEND_EINVAL for a bad method, URL (not http/https, unparsable, too long), timeout,
 * content type (control characters, too long), body or response_bytes_max (over
 * BLEND_WEBCLIENT_RESPONSE_BYTES_MAX), BLEND_ELIMIT when BLEND_WEBCLIENT_REQUESTS_MAX are in
 * flight, BLEND_ECLOSED while the client is being destroyed, BLEND_ENOMEM, or BLEND_EINTERNAL
 * when libcurl refuses an option. */
BLEND_MUST_USE int blend__webclient_send(struct blend_webclient *wc,
                                         const struct blend_webclient_request *r,
                                         blend_webclient_cb *cb, void *arg, uint64_t token,
                                         uint64_t *id_out);

/* Abandons request `id`: its connection is closed and its callback never runs. An id that is
 * unknown or already answered is a no-op. */
void blend__webclient_cancel(struct blend_webclient *wc, uint64_t id);

/* Is `url` allowed by `allow_list`: URL prefixes separated by commas or white space, e.g.
 * "https://crm.example/api/, http://10.0.0.5:8080/hooks". Both sides are parsed by libcurl's URL
 * parser (the one that will make the request, so "http://a.example@evil/" is a request to host
 * "evil" and "/api/../admin" is "/admin"). An entry allows the URL when scheme, host and port
 * (the scheme's default when absent) are equal (scheme and host compared without case) and the
 * URL's path starts with the entry's path at a segment boundary: "/api" allows "/api" and
 * "/api/x" but not "/apix"; "/api/" allows "/api/x" only. The entry's query and user part are
 * ignored. Only http and https URLs can be allowed, and never one whose path holds an encoded
 * dot, slash or backslash ("%2e", "%2f", "%5c": curl does not normalise them, servers often
 * decode them into ".." or "/"). Returns 1 or 0; "" (and any failure, an
 * unparsable entry, an allow-list over BLEND_WEBCLIENT_ALLOW_LIST_BYTES_MAX) allows nothing. */
BLEND_MUST_USE int blend__webclient_url_allowed(const char *allow_list, const char *url);

#endif
