/*
 * Every collection, queue, buffer and input in Blend has a maximum named here, with its reason.
 * Configuration may lower a limit, never raise it. A limit reached is an operating error
 * (BLEND_ELIMIT), answered to the client, never a crash.
 */
#ifndef BLEND_BASE_LIMITS_H
#define BLEND_BASE_LIMITS_H

/* --- Configuration file ----------------------------------------------------------------------- */
/* A bootstrap config is a handful of lines; anything larger is a mistake, not a config. */
#define BLEND_CONFIG_FILE_BYTES_MAX (64 * 1024)
/* Longest line of the config file, comments included. */
#define BLEND_CONFIG_LINE_BYTES_MAX 1024
/* Longest path (data directory, TLS files, provisioning file). PATH_MAX on Linux. */
#define BLEND_PATH_BYTES_MAX 4096

/* --- HTTP API --------------------------------------------------------------------------------- */
/* Largest request body: a provisioning document for a large center fits in 4 MiB; single
 * resources are far smaller. Larger bodies are refused with 413 before they are buffered. */
#define BLEND_HTTP_BODY_BYTES_MAX (4 * 1024 * 1024)
/* Longest request path including the query string. */
#define BLEND_HTTP_URI_BYTES_MAX 2048
/* Largest header value we copy out (Authorization, Cookie, If-Match). */
#define BLEND_HTTP_HEADER_BYTES_MAX 4096
/* Concurrent HTTP connections; beyond it lws refuses new ones. Sized for 10,000 web chat
 * visitors beside the desktops (the process's open-files limit must allow as many). */
#define BLEND_HTTP_CONNECTIONS_MAX 16384
/* Largest page a list request may ask for, and the default page. */
#define BLEND_API_PAGE_MAX 500
#define BLEND_API_PAGE_DEFAULT 50
/* Path parameters in one route pattern. */
#define BLEND_ROUTE_PARAMS_MAX 4

/* --- JSON ------------------------------------------------------------------------------------- */
/* Deepest nesting accepted in any JSON input (API bodies, provisioning): our documents are at
 * most four levels deep; the cap keeps hostile input from exhausting the stack. */
#define BLEND_JSON_DEPTH_MAX 16
/* Longest string value in a resource field (names, descriptions, notes). */
#define BLEND_FIELD_STRING_BYTES_MAX 4096
/* Entries in one child list of a resource (an agent's skills, a calendar's holidays). */
#define BLEND_CHILDREN_MAX 256

/* --- Auth ------------------------------------------------------------------------------------- */
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

/* --- Store ------------------------------------------------------------------------------------ */
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
/* Concurrent WebSocket clients: event-stream subscribers and web chat visitors together. */
#define BLEND_WS_CLIENTS_MAX 16384
/* Events buffered for one slow subscriber before it is disconnected (it can resume by seq). */
#define BLEND_WS_CLIENT_BACKLOG_MAX 4096
/* How often live figures are pushed to WebSocket subscribers. */
#define BLEND_WS_STATS_INTERVAL_MS 5000
/* Events replayed from the store on resume, per batch read. */
#define BLEND_WS_REPLAY_BATCH 256

/* --- Logs ------------------------------------------------------------------------------------- */
/* One structured log line; longer messages are truncated (and marked). */
#define BLEND_LOG_LINE_BYTES_MAX 4096

/* --- HTTP transport (src/api/http.h) ---------------------------------------------------------- */
/* Route table entries. */
#define BLEND_HTTP_ROUTES_MAX 512
/* WebSocket endpoints. */
#define BLEND_HTTP_WS_ENDPOINTS_MAX 8
/* One incoming WebSocket message, fragments joined: commands are small JSON objects. */
#define BLEND_WS_MESSAGE_BYTES_MAX (64 * 1024)
/* One static file; the web UI's largest bundle is far smaller. */
#define BLEND_HTTP_STATIC_FILE_BYTES_MAX (16 * 1024 * 1024)
/* Query parameters, cookies and captured headers kept per request; more are ignored (query:
 * refused with 400). */
#define BLEND_HTTP_QUERY_PARAMS_MAX 64
#define BLEND_HTTP_COOKIES_MAX 64
#define BLEND_HTTP_REQ_HEADERS_MAX 96

/* --- Metrics registry (src/api/metrics.h) ----------------------------------------------------- */
/* Families in one registry: Blend registers a few dozen; the cap catches a registration loop. */
#define BLEND_METRICS_FAMILIES_MAX 256
/* Label-value combinations in one family: routes x statuses stays far below it. */
#define BLEND_METRICS_SERIES_MAX 1024
/* Buckets of one histogram, the +Inf bucket excluded. */
#define BLEND_METRICS_BUCKETS_MAX 32
/* Longest metric name, label name or label value; longer label values are refused. */
#define BLEND_METRICS_NAME_BYTES_MAX 128
#define BLEND_METRICS_LABEL_VALUE_BYTES_MAX 256

/* --- Configuration values (src/config/config.h) ----------------------------------------------- */
/* Longest host name we accept, plus its NUL: DNS names are at most 253 bytes; IPv6 literals in
 * text form at most 45. */
#define BLEND_CONFIG_HOST_BYTES_MAX 256
/* "[" host "]" ":" and five port digits on top of the host. */
#define BLEND_CONFIG_HOSTPORT_BYTES_MAX (BLEND_CONFIG_HOST_BYTES_MAX + 8)
/* sip.trunk_allow: a list of addresses and CIDRs, a few dozen at most. */
#define BLEND_CONFIG_TRUNK_ALLOW_BYTES_MAX 1024
/* A store URL is a scheme prefix ("sqlite:") and a path. */
#define BLEND_CONFIG_URL_BYTES_MAX (BLEND_PATH_BYTES_MAX + 64)
/* Longest environment variable name of an option, NUL included ("BLEND_AUTH_..."). */
#define BLEND_CONFIG_ENV_NAME_BYTES_MAX 64
/* Longest environment value read: the largest string field. Longer values are an error. */
#define BLEND_CONFIG_ENV_VALUE_BYTES_MAX BLEND_CONFIG_URL_BYTES_MAX

/* --- Provisioning documents (src/provision/provision.h) --------------------------------------- */
/* Resources one document may hold, all sections together: the whole file is one store write,
 * and blend_write_add() takes at most BLEND_STORE_EVENTS_PER_WRITE_MAX * 64 ops. */
#define BLEND_PROVISION_ITEMS_MAX (BLEND_STORE_EVENTS_PER_WRITE_MAX * 64)
/* Largest document: the same bound as an HTTP body, so a file that applies from the CLI also
 * applies through the API. */
#define BLEND_PROVISION_BYTES_MAX BLEND_HTTP_BODY_BYTES_MAX
/* Errors kept for one parse (the rest are only counted): enough to fix a file in one pass. */
#define BLEND_PROVISION_ERRORS_MAX 64
/* Room for a password hash (crypto_pwhash_STRBYTES is 128) with its NUL. */
#define BLEND_PROVISION_HASH_BYTES_MAX 256

/* --- Scenario replay (src/sim/sim.h) ---------------------------------------------------------- */
/* Largest scenario file: a day of traffic for a mid-size center is well under this. */
#define BLEND_SIM_FILE_BYTES_MAX (64 * 1024 * 1024)
/* Action lines in one scenario. */
#define BLEND_SIM_LINES_MAX 2000000
/* Distinct names per kind (queues, agents, contacts, customers, skills); queues and agents are
 * further bounded by the config line itself. */
#define BLEND_SIM_NAMES_MAX 1000000
/* Parse errors collected before the parser stops (each names FILE:LINE). */
#define BLEND_SIM_ERRORS_MAX 20
/* Engine steps one replay may take (timers included): a runaway guard. */
#define BLEND_SIM_STEPS_MAX 50000000
/* Longest scenario time, so seconds convert to milliseconds without overflow (about 31 years). */
#define BLEND_SIM_SECONDS_MAX 1000000000.0

/* --- Stochastic simulation (src/sim/run.h) ---------------------------------------------------- */
/* Largest model file: a model is a short description, not data. */
#define BLEND_SIM_MODEL_BYTES_MAX (4 * 1024 * 1024)
/* Queues of one model (the error locator re-parses each queue once, so this stays modest). */
#define BLEND_SIM_RUN_QUEUES_MAX 256
/* Agents of one model after expanding "count". */
#define BLEND_SIM_RUN_AGENTS_MAX 20000
/* Shifts of one agent entry. */
#define BLEND_SIM_RUN_SHIFTS_MAX 64
/* Intervals of one run (a year of 30-minute intervals is 17,520). */
#define BLEND_SIM_RUN_INTERVALS_MAX 20000
/* Longest run: 366 days. */
#define BLEND_SIM_RUN_SECONDS_MAX (366.0 * 86400.0)
/* Contacts generated by one run (each keeps a small record for the whole run). */
#define BLEND_SIM_RUN_CONTACTS_MAX 2000000
/* Contacts in the engine at once (waiting, offered or connected): the model's "in_system_max"
 * (default BLEND_SIM_RUN_IN_SYSTEM_DEFAULT) sizes the engine's tables up to this; arrivals beyond
 * it are refused by the engine and counted as `blocked`. */
#define BLEND_SIM_RUN_IN_SYSTEM_MAX 100000
#define BLEND_SIM_RUN_IN_SYSTEM_DEFAULT 10000

/* --- Erlang staffing (src/engine/wfm/erlang.h) ------------------------------------------------ */
/* Staffing searches and evaluations stop at this many agents: far beyond any single queue's
 * interval, and the Erlang B recursion stays within a few milliseconds. */
#define BLEND_ERLANG_AGENTS_MAX 100000
/* Offered traffic above this many Erlangs is refused as input: no staffing within
 * BLEND_ERLANG_AGENTS_MAX could serve it, and the log-space terms keep their precision. */
#define BLEND_ERLANG_TRAFFIC_MAX 1e7
/* Mean patience is accepted between these multiples of the handle time. Below the minimum the
 * model is pure loss (Erlang B), above the maximum it is Erlang C to far better than 1e-6; the
 * bounds keep every intermediate term of the Erlang A integrals finite. */
#define BLEND_ERLANG_PATIENCE_RATIO_MIN 1e-6
#define BLEND_ERLANG_PATIENCE_RATIO_MAX 1e9

/* --- Statistics fold (src/engine/stats/stats.h) ----------------------------------------------- */
/* Upper bounds for blend_stats_limits: tables are indexed with 32-bit slots, and these leave a
 * wide margin over the engine's own sizes (20,000 agents, a few thousand queues). */
#define BLEND_STATS_QUEUES_MAX 65536
#define BLEND_STATS_AGENTS_MAX 200000
#define BLEND_STATS_CONTACTS_MAX 4000000
/* Distinct not-ready reasons kept by name (global); later distinct reasons are summed under
 * BLEND_STATS_REASON_OTHER. Reason codes are a short configured list in practice. */
#define BLEND_STATS_REASONS_MAX 32
/* Defaults of a queue never configured with blend_stats_queue_config (KPIS.md: short abandon
 * 5 s; the service-level target of KPIS.md's worked example, 80% in 20 s). */
#define BLEND_STATS_SHORT_ABANDON_MS_DEFAULT 5000
#define BLEND_STATS_SL_TARGET_MS_DEFAULT 20000
#define BLEND_STATS_SL_PCT_DEFAULT 80.0

/* --- SIP registrar (src/sip/sip.h) --------------------------------------------------------- */
/* Longest extension (user part of the AOR), NUL included: dial plans use a few digits. */
#define BLEND_SIP_EXTENSION_BYTES_MAX 64
/* Longest Contact URI we keep for a binding, NUL included; longer contacts get 400. */
#define BLEND_SIP_URI_BYTES_MAX 256
/* A source address in text, "[v6]:port" with NUL. */
#define BLEND_SIP_ADDR_BYTES_MAX 64
/* User-Agent kept for a binding (longer values are truncated). */
#define BLEND_SIP_UA_BYTES_MAX 128
/* Accounts the registrar knows: one per agent; far above the engine's 20,000 agents. */
#define BLEND_SIP_ACCOUNTS_MAX 50000
/* Bindings (registered phones) of one extension; beyond it REGISTER gets 503. */
#define BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX 8
/* Bindings of all extensions together; beyond it REGISTER gets 503. */
#define BLEND_SIP_BINDINGS_MAX 100000
/* Contact headers honoured in one REGISTER; more gets 400. */
#define BLEND_SIP_CONTACTS_PER_REQUEST_MAX BLEND_SIP_BINDINGS_PER_ACCOUNT_MAX
/* Events waiting for the host. The host drains on every wakeup; a burst larger than this
 * (all phones re-registering at once after a restart) drops events, counted in the stats. */
#define BLEND_SIP_EVENTS_MAX 8192
/* Source addresses tracked for brute-force lock-out; the least recently seen is forgotten. */
#define BLEND_SIP_SOURCES_MAX 4096
/* Nonces whose nonce-count is being tracked; when full the oldest is forgotten and every nonce
 * issued up to it becomes stale, so a forgotten nonce can never be replayed. */
#define BLEND_SIP_NONCES_MAX 8192
/* Registration interval bounds accepted in the configuration (seconds). */
#define BLEND_SIP_EXPIRES_S_MAX 86400
/* Longest time a nonce may live, and the longest brute-force window and lock. */
#define BLEND_SIP_NONCE_TTL_S_MAX 3600
#define BLEND_SIP_AUTH_WINDOW_S_MAX 86400
#define BLEND_SIP_AUTH_LOCK_S_MAX 86400
/* Extra header bytes of one reply (Contact list, WWW-Authenticate, Allow). */
#define BLEND_SIP_REPLY_HDRS_BYTES_MAX 4096
/* File descriptors libre's loop can watch on this thread (sockets of TCP phones included). */
#define BLEND_SIP_FDS_MAX 65536
/* Longest digest realm, NUL included. */
#define BLEND_SIP_REALM_BYTES_MAX 64
/* Highest auth_fail_max accepted (beyond it lock-out is effectively off; say so with a config
 * that uses the maximum). */
#define BLEND_SIP_AUTH_FAIL_MAX 1000
/* libre's client transactions give up after 64*T1 = 32 s (Timer F); our keep-alive deadline
 * cannot be longer. */
#define BLEND_SIP_OPTIONS_TIMEOUT_S_MAX 32
/* Calls (customer legs) the telephony thread carries at once; beyond it INVITE gets 503. Each
 * call holds two RTP/RTCP socket pairs, so this also bounds the relay's file descriptors. */
#define BLEND_SIP_CALLS_MAX 4000
/* Agent legs one call may ring at once (ring-all); a further offer fails with 503. */
#define BLEND_SIP_CALL_AGENT_LEGS_MAX 16
/* Entries of the trunk_allow list (addresses or CIDR prefixes). */
#define BLEND_SIP_TRUNKS_MAX 64
/* Longest trunk_allow text, NUL included. */
#define BLEND_SIP_TRUNK_ALLOW_BYTES_MAX 2048
/* Longest agent offer: beyond it the routing engine has long withdrawn the offer. */
#define BLEND_SIP_OFFER_TIMEOUT_S_MAX 600
/* Reason / cause text carried by a command (the rest is cut). */
#define BLEND_SIP_CAUSE_BYTES_MAX 64
/* Port pairs tried when binding a call's RTP sockets before giving up (503). */
#define BLEND_SIP_RTP_BIND_TRIES_MAX 256
/* Largest RTP/RTCP datagram relayed (G.711 at 20 ms is 172 bytes; larger ones are dropped). */
#define BLEND_SIP_RTP_PACKET_BYTES_MAX 2048
/* Longest RFC 4028 session interval Blend offers or accepts (a day: a refresh per 12 hours). */
#define BLEND_SIP_SESSION_EXPIRES_S_MAX 86400
/* Blend's Min-SE: RFC 4028's floor. A configured session_expires_s below it (tests) lowers
 * Min-SE to that value; a peer asking for less gets 422 with Min-SE. */
#define BLEND_SIP_MIN_SE_S 90
/* Prompts one play command plays in sequence ("you are number" "three" "in line" ...). */
#define BLEND_SIP_PLAY_PROMPTS_MAX 16
/* Longest trunk digest user name / password, NUL included. */
#define BLEND_SIP_TRUNK_CRED_BYTES_MAX 128
/* Longest recording path a command carries and RECORDING_ENDED reports, NUL included (longer
 * paths are refused with BLEND_EINVAL: recordings live in a configured directory). */
#define BLEND_SIP_RECORD_PATH_BYTES_MAX 256
/* Paused spans RECORDING_ENDED lists (the count is complete; a card capture needs one or two). */
#define BLEND_SIP_REC_SPANS_MAX 8
/* Music-on-hold frames one late timer tick may send to catch up (100 ms); a longer stall of the
 * loop skips the missed frames instead of bursting them at the phone. */
#define BLEND_SIP_MOH_CATCHUP_FRAMES_MAX 5
/* Comfort (relay.c): a bridged side that sent no RTP for this many checks this far apart is
 * silent, and the other side gets G.711 silence until it speaks again. */
#define BLEND_SIP_COMFORT_CHECK_MS 200
#define BLEND_SIP_COMFORT_CHECKS 2

/* --- SIP registrar defaults (a config field left 0 takes these) ------------------------- */
#define BLEND_SIP_NONCE_TTL_S_DEFAULT 300
#define BLEND_SIP_EXPIRES_MIN_S_DEFAULT 60
#define BLEND_SIP_EXPIRES_MAX_S_DEFAULT 3600
#define BLEND_SIP_EXPIRES_S_DEFAULT 3600
#define BLEND_SIP_AUTH_FAIL_MAX_DEFAULT 10
#define BLEND_SIP_AUTH_WINDOW_S_DEFAULT 60
#define BLEND_SIP_AUTH_LOCK_S_DEFAULT 300
/* Media ports of the relay (RTP on even ports, RTCP on the next one). */
#define BLEND_SIP_RTP_PORT_MIN_DEFAULT 20000
#define BLEND_SIP_RTP_PORT_MAX_DEFAULT 29999
/* An agent offer without a timeout rings this long (a safety net: the host withdraws). */
#define BLEND_SIP_OFFER_TIMEOUT_S_DEFAULT 60

/* --- Outbound pacing (src/engine/dialer/pacing.c) ---------------------------------------- */
/* Recent attempts' ring times and recent handle times kept for the pacer's estimates: enough
 * for stable survival curves, small enough to follow a change within minutes. */
#define BLEND_PACER_SAMPLES_MAX 512
/* The pacer's survival curves, to the second: ring times up to 2 minutes, handle times up to
 * 2 hours (longer samples count in the last bin). */
#define BLEND_PACER_RING_BINS 121
#define BLEND_PACER_HANDLE_BINS 7201
/* Buckets of the rolling abandon window (30 days: 3-hour buckets). */
#define BLEND_PACER_BUCKETS 240
/* Agents and calls in flight one decision weighs (its distributions live on the stack). */
#define BLEND_PACER_AGENTS_MAX 2048
#define BLEND_PACER_CALLS_MAX 4096
/* Calls in flight per staffed agent, the most any mode may ask for. */
#define BLEND_PACER_LINES_MAX 5

#endif
