/*
 * Every collection, queue, buffer and input in Blend has a maximum named here, with its reason.
 * Configuration may lower a limit, never raise it. A limit reached is an operating error
 * (BLEND_ELIMIT), answered to the client, never a crash.
 */
#ifndef BLEND_BASE_LIMITS_H
#define BLEND_BASE_LIMITS_H

/* --- Configuration file ------------------------------------------------------------------- */
/* A bootstrap config is a handful of lines; anything larger is a mistake, not a config. */
#define BLEND_CONFIG_FILE_BYTES_MAX (64 * 1024)
/* Longest line of the config file, comments included. */
#define BLEND_CONFIG_LINE_BYTES_MAX 1024
/* Longest path (data directory, TLS files, provisioning file). PATH_MAX on Linux. */
#define BLEND_PATH_BYTES_MAX 4096

/* --- HTTP API ------------------------------------------------------------------------------- */
/* Largest request body: a provisioning document for a large center fits in 4 MiB; single
 * resources are far smaller. Larger bodies are refused with 413 before they are buffered. */
#define BLEND_HTTP_BODY_BYTES_MAX (4 * 1024 * 1024)
/* Longest request path including the query string. */
#define BLEND_HTTP_URI_BYTES_MAX 2048
/* Largest header value we copy out (Authorization, Cookie, If-Match). */
#define BLEND_HTTP_HEADER_BYTES_MAX 4096
/* Concurrent HTTP connections; beyond it lws refuses new ones. */
#define BLEND_HTTP_CONNECTIONS_MAX 4096
/* Largest page a list request may ask for, and the default page. */
#define BLEND_API_PAGE_MAX 500
#define BLEND_API_PAGE_DEFAULT 50
/* Path parameters in one route pattern. */
#define BLEND_ROUTE_PARAMS_MAX 4

/* --- JSON ----------------------------------------------------------------------------------- */
/* Deepest nesting accepted in any JSON input (API bodies, provisioning): our documents are at
 * most four levels deep; the cap keeps hostile input from exhausting the stack. */
#define BLEND_JSON_DEPTH_MAX 16
/* Longest string value in a resource field (names, descriptions, notes). */
#define BLEND_FIELD_STRING_BYTES_MAX 4096
/* Entries in one child list of a resource (an agent's skills, a calendar's holidays). */
#define BLEND_CHILDREN_MAX 256

/* --- Auth ----------------------------------------------------------------------------------- */
/* Password length bounds: long enough to be useful, short enough to keep Argon2 input bounded. */
#define BLEND_PASSWORD_BYTES_MIN 8
#define BLEND_PASSWORD_BYTES_MAX 256
/* Failed logins for one user before lock-out, and how long the lock-out lasts. */
#define BLEND_LOGIN_FAILURES_MAX 5
#define BLEND_LOGIN_LOCKOUT_S 300
/* Login attempts per source address per minute (all users), against credential stuffing. */
#define BLEND_LOGIN_ATTEMPTS_PER_MIN_MAX 30
/* Source addresses tracked for login rate limiting; the oldest entry is reused beyond it. */
#define BLEND_LOGIN_SOURCES_MAX 4096
/* Session lifetime without use. */
#define BLEND_SESSION_IDLE_S (12 * 3600)
/* Live sessions and API tokens per user. */
#define BLEND_TOKENS_PER_USER_MAX 64

/* --- Store ---------------------------------------------------------------------------------- */
/* Write requests waiting for the writer thread; beyond it the API answers 503 (back-pressure). */
#define BLEND_STORE_QUEUE_MAX 8192
/* Requests folded into one transaction by group commit. */
#define BLEND_STORE_BATCH_MAX 512
/* Most events one read of the log returns: start-up replay reads it in pages, each held in
 * memory as JSON, so a page stays bounded. */
#define BLEND_STORE_EVENTS_READ_MAX 4096
/* Events one request may append. */
#define BLEND_STORE_EVENTS_PER_WRITE_MAX 64

/* --- Event stream ----------------------------------------------------------------------------- */
/* Concurrent WebSocket subscribers. */
#define BLEND_WS_CLIENTS_MAX 1024
/* Events buffered for one slow subscriber before it is disconnected (it can resume by seq). */
#define BLEND_WS_CLIENT_BACKLOG_MAX 4096
/* How often live figures are pushed to WebSocket subscribers. */
#define BLEND_WS_STATS_INTERVAL_MS 5000
/* Events replayed from the store on resume, per batch read. */
#define BLEND_WS_REPLAY_BATCH 256

/* --- Logs ----------------------------------------------------------------------------------- */
/* One structured log line; longer messages are truncated (and marked). */
#define BLEND_LOG_LINE_BYTES_MAX 4096

#endif
