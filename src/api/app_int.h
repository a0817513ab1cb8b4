/*
 * Internals shared by the app's files (app.c, routes.c, h_*.c, events.c). Not a public API.
 */
#ifndef BLEND_API_APP_INT_H
#define BLEND_API_APP_INT_H

#include "api/app.h"
#include "api/http.h"
#include "api/metrics.h"
#include "api/ratelimit.h"
#include "api/routing.h"
#include "engine/calendar/calendar.h"
#include "model/model.h"

#include <jansson.h>
#include <stdint.h>

/* Route access: a set of roles, or public. */
#define BLEND_ACCESS_PUBLIC 0x100u

/* Who is calling: resolved from the bearer token or session cookie by the before hook. */
struct blend_principal {
    int64_t user_id;
    int64_t token_id;
    unsigned role; /* one enum blend_role bit */
    char username[72];
    int64_t agent_id; /* the agent linked to this user, 0 when none */
    char source[64];  /* "api 127.0.0.1" for the audit log */
};

struct blend_ws_client;

struct blend_app {
    uv_loop_t *loop;
    struct blend_store *store;
    struct blend_routing *routing;
    struct blend_phones *phones; /* NULL when SIP is off (tests of the HTTP layer alone) */
    struct blend_calls *calls;   /* NULL when SIP is off */
    struct blend_email_channel *email; /* NULL without [email] imap_url */
    struct blend_webhooks *webhooks;   /* NULL without [webhook] secret */
    struct blend_chat *chat;           /* the web chat channel (chat.c) */
    struct blend_http *http;
    struct blend_metrics *metrics;
    struct blend_ratelimit *login_limit;
    struct blend_app_config cfg;
    char web_dir[4096];
    char tls_cert[4096];
    char tls_key[4096];

    size_t writes_pending;     /* submitted, callback not yet run */
    uv_timer_t stats_timer;    /* pushes live figures to WebSocket subscribers */
    int stats_timer_live;
    int64_t broadcast_seq;     /* highest seq pushed to WebSocket subscribers */
    struct blend_ws_client *clients;

    struct blend_metric *m_build_info;
    struct blend_metric *m_event_seq;
    struct blend_metric *m_rss;
    struct blend_metric *m_commits;
    struct blend_metric *m_commit_ms;
    struct blend_metric *m_writes;
    struct blend_metric *m_write_errors;
    struct blend_metric *m_queue_depth;
    struct blend_metric *m_logins;
    struct blend_metric *m_queue_waiting;
    struct blend_metric *m_queue_longest;
    struct blend_metric *m_queue_sl;
    struct blend_metric *m_queue_answered;
    struct blend_metric *m_queue_abandoned;
    struct blend_metric *m_queue_ewt;
    struct blend_metric *m_queue_ready;
    struct blend_metric *m_queue_busy;
    struct blend_metric *m_agents;
};

/* The route table (routes.c). */
extern const struct blend_http_route blend__app_routes[];
extern const size_t blend__app_routes_count;
extern const struct blend_ws_endpoint blend__app_ws_endpoints[];
extern const size_t blend__app_ws_endpoints_count;

/* The before hook: authenticates and checks the route's roles (app.c). */
int blend__app_before(struct blend_http_req *req, const struct blend_http_route *route, void *arg);

/* The authenticated principal of a request (NULL on public routes). */
static inline struct blend_principal *blend__principal(struct blend_http_req *req)
{
    return blend_http_req_ctx(req);
}

#define BLEND__ISO_BYTES 40
/* Time, read here only (adapters stamp events; the engine never reads a clock). */
int64_t blend__now_ms(const struct blend_app *app);  /* monotonic */
int64_t blend__wall_ms(void);                         /* Unix epoch */
/* Now as "YYYY-MM-DDTHH:MM:SSZ" (UTC), the form of stored timestamps such as ended_at. */
void blend__wall_iso(char out[BLEND__ISO_BYTES]);
/* The same form for an instant in ms since the epoch. */
void blend__iso_of_ms(int64_t ms, char out[BLEND__ISO_BYTES]);

/* Authenticates a token (bearer or cookie text): fills *p. BLEND_EAUTH when unknown/expired. */
int blend__auth_token(struct blend_app *app, const char *token, struct blend_principal *p);
/* Extracts the token of a request: Authorization bearer, then the session cookie, then (only
 * when allow_query) the `token` query parameter. NULL when none. */
const char *blend__req_token(struct blend_http_req *req, int allow_query);

/* Submits a write on behalf of a request; the write's actor comes from the principal (or
 * "system"). On submit failure answers 503 and destroys the write. Returns BLEND_HTTP_PENDING
 * or BLEND_HTTP_DONE. cb(w, cb_arg) runs on the loop after the commit and owns w. */
int blend__app_submit(struct blend_app *app, struct blend_http_req *req, struct blend_write *w,
                      blend_write_cb cb, void *cb_arg);
/* Submits a write nobody waits for (bookkeeping: last use of a token, failed logins). */
void blend__app_submit_detached(struct blend_app *app, struct blend_write *w);
/* Appends one event (data stolen) to the log, unacknowledged: facts of the channels (a phone
 * registered, a call ringing) that no client waits for. */
void blend__app_record_event(struct blend_app *app, const char *actor, const char *type,
                             const char *subject, json_t *data);
/* Answers a failed write op with the right status (404, 409, 412, 422, 503, 500). */
void blend__respond_write_error(struct blend_http_req *req, const struct blend_write *w,
                                int had_if_match);
/* Answers 422 with every field error. */
void blend__respond_field_errors(struct blend_http_req *req, const struct blend_field_errors *e);
/* Parses a positive decimal id; 0 when it is not one. */
int64_t blend__parse_id(const char *s);
/* Reads ?limit= (1..500, default 50) and ?cursor=; answers 400 and returns -1 when malformed. */
int blend__page_params(struct blend_http_req *req, int *limit, int64_t *after);
/* Answers {"items": items (stolen), "next_cursor": "N" | null}. */
void blend__respond_page(struct blend_http_req *req, json_t *items, int64_t next);
/* Parses If-Match ("\"3\"", "3", W/"3"); 0 when absent, -1 when malformed. */
int64_t blend__if_match(struct blend_http_req *req);
/* Sets ETag from a document's "version". */
void blend__set_etag(struct blend_http_req *req, const json_t *doc);

/* Runs the password hash on the thread pool, then cb(req, rc, hash, arg) on the loop. */
typedef void (*blend_hash_cb)(struct blend_app *app, struct blend_http_req *req, int rc,
                              const char *hash, void *arg);
int blend__hash_async(struct blend_app *app, struct blend_http_req *req, const char *clear,
                      blend_hash_cb cb, void *arg);

/* Handlers (h_*.c). */
int blend__h_healthz(struct blend_http_req *req, void *arg);
int blend__h_metrics(struct blend_http_req *req, void *arg);
int blend__h_login(struct blend_http_req *req, void *arg);
int blend__h_logout(struct blend_http_req *req, void *arg);
int blend__h_me(struct blend_http_req *req, void *arg);
int blend__h_tokens_list(struct blend_http_req *req, void *arg);
int blend__h_tokens_create(struct blend_http_req *req, void *arg);
int blend__h_tokens_delete(struct blend_http_req *req, void *arg);
int blend__h_res_list(struct blend_http_req *req, void *arg);
int blend__h_res_get(struct blend_http_req *req, void *arg);
int blend__h_res_create(struct blend_http_req *req, void *arg);
int blend__h_res_patch(struct blend_http_req *req, void *arg);
int blend__h_res_delete(struct blend_http_req *req, void *arg);
int blend__h_agent_state_get(struct blend_http_req *req, void *arg);
int blend__h_agent_state_set(struct blend_http_req *req, void *arg);
int blend__h_agent_states(struct blend_http_req *req, void *arg);
int blend__h_event_log(struct blend_http_req *req, void *arg);
int blend__h_audit(struct blend_http_req *req, void *arg);
int blend__h_provision(struct blend_http_req *req, void *arg);

/* The resource a resource route serves, from its path ("/api/v1/entry-points/{id}"). */
const struct blend_resource *blend__route_resource(struct blend_http_req *req);

/* One customer (h_contacts.c, docs/contacts.md): contacts created and patched with canonical
 * identities (consent edits audited with old and new values), resolution of an identity to its
 * contact, merge and its undo, the timeline, and an interaction's notes and disposition. */
int blend__h_contact_create(struct blend_http_req *req, void *arg);
int blend__h_contact_patch(struct blend_http_req *req, void *arg);
int blend__h_contact_resolve(struct blend_http_req *req, void *arg);
int blend__h_contact_merge(struct blend_http_req *req, void *arg);
int blend__h_contact_merge_undo(struct blend_http_req *req, void *arg);
int blend__h_contact_timeline(struct blend_http_req *req, void *arg);
int blend__h_interaction_patch(struct blend_http_req *req, void *arg);

/* Routing routes (h_routing.c). */
int blend__h_interaction_create(struct blend_http_req *req, void *arg);
int blend__h_interaction_routing(struct blend_http_req *req, void *arg);
int blend__h_interaction_action(struct blend_http_req *req, void *arg);
int blend__h_interaction_transfer(struct blend_http_req *req, void *arg);
/* Fills cv with interaction id's routing view when it is connected and the caller may act on
 * it (an agent only on their own); otherwise answers 409 / 403 and returns -1. */
int blend__connected_for(struct blend_app *app, struct blend_http_req *req, int64_t id,
                         struct blend_acd_contact_view *cv);
int blend__h_interaction_recording(struct blend_http_req *req, void *arg);
int blend__h_interaction_hold(struct blend_http_req *req, void *arg);
/* The messages of an interaction, and replies (h_messages.c, docs/email.md). */
int blend__h_messages_list(struct blend_http_req *req, void *arg);
int blend__h_messages_reply(struct blend_http_req *req, void *arg);
/* The webhook channel's endpoints (webhooks.c, docs/webhooks.md): signed, no session. */
int blend__h_channel_inbound(struct blend_http_req *req, void *arg);
int blend__h_channel_status(struct blend_http_req *req, void *arg);
/* A third party on a phone call (h_party.c). */
int blend__h_party_add(struct blend_http_req *req, void *arg);
int blend__h_party_get(struct blend_http_req *req, void *arg);
int blend__h_party_mode(struct blend_http_req *req, void *arg);
int blend__h_party_drop(struct blend_http_req *req, void *arg);
int blend__h_party_complete(struct blend_http_req *req, void *arg);
int blend__h_click_to_call(struct blend_http_req *req, void *arg);
int blend__h_recording_audio(struct blend_http_req *req, void *arg);
int blend__h_agent_wrapup_end(struct blend_http_req *req, void *arg);
/* Figures of every queue or agent (only_id > 0: that one; -1: none), with their names. */
json_t *blend__stats_items(struct blend_app *app, const struct blend_resource *res,
                           int64_t only_id);
int blend__h_stats_queues(struct blend_http_req *req, void *arg);
int blend__h_stats_agents(struct blend_http_req *req, void *arg);
/* Every agent's presence as a JSON array (in agent id order), for the API and the snapshot;
 * an agent user sees only their own when only_agent > 0. */
json_t *blend__agent_states_json(struct blend_app *app, int64_t only_agent);

/* A contact arriving from a channel adapter (no HTTP request): `body` (stolen) is an
 * interaction document (channel, queue, contact, priority...). The interaction is created
 * (then created(app, arg, id), before the engine sees it, so effects naming it can be matched),
 * gets the queue's closed-hours treatment, and joins the engine; then done(app, arg, 0, doc) with
 * the created document (its "routing" member says what happened; borrowed), or
 * done(app, arg, rc, NULL) when it failed after this returned 0 (done may run before this
 * returns). Returns 0, or BLEND_EINVAL (bad document, unknown queue) / BLEND_ENOMEM without
 * calling done. */
typedef void (*blend__arrival_created_fn)(struct blend_app *app, void *arg, int64_t id);
typedef void (*blend__arrival_done_fn)(struct blend_app *app, void *arg, int rc, json_t *doc);
/* More ops in the arrival's write, after the interaction's CREATE (op 0): e.g. rows that refer
 * to it (ref_op 0). 0, or an error that abandons the arrival. */
typedef int (*blend__arrival_ops_fn)(struct blend_write *w, void *arg);
int blend__interaction_arrive_with(struct blend_app *app, json_t *body,
                                   blend__arrival_ops_fn extra, void *extra_arg,
                                   blend__arrival_created_fn created, blend__arrival_done_fn done,
                                   void *done_arg);
int blend__interaction_arrive(struct blend_app *app, json_t *body,
                              blend__arrival_created_fn created, blend__arrival_done_fn done,
                              void *done_arg);

/* Business-hours calendars (calendars.c). */
struct blend__open_state {
    enum blend_calendar_state state;
    char calendar[64];
    char holiday[BLEND_CALENDAR_NAME_BYTES]; /* "" when the date is not a holiday */
    int hour;                                /* 0..23 in the calendar's time zone */
};
int blend__calendar_from_json(const json_t *doc, struct blend_calendar *out);
/* Evaluates the calendar named `name` at wall_ms. BLEND_ENOENT when there is no such calendar. */
int blend__calendar_now(struct blend_app *app, const char *name, int64_t wall_ms,
                        struct blend__open_state *out);
json_t *blend__open_state_json(const struct blend__open_state *s);

/* Agents' phones: the SIP registrar's adapter (phones.c). */
#define BLEND_CONFIG_REALM_BYTES BLEND_SIP_REALM_BYTES_MAX
struct blend_phones;
struct blend__phones_config {
    const char *listen; /* "host:port", UDP and TCP */
    const char *realm;
    int voice_requires_phone;
    int auth_failures_max;
    int auth_lockout_s;
    int options_interval_s;
    const char *trunk_allow;
    int rtp_port_min, rtp_port_max;
    const char *trunk_uri, *trunk_user, *trunk_password;
    int session_expires_s;
    const char *moh_path;
    const char *recordings_dir;
    int trunk_register, trunk_register_expires_s;
    const char *trunk_caller_id;
    int trunk_pai;
    const char *tls_listen, *tls_cert;
};
int blend__phones_create(struct blend_app *app, const struct blend__phones_config *cfg,
                         struct blend_phones **out);
void blend__phones_destroy(struct blend_phones *p);
/* A committed event: agents.* changes reach the registrar's accounts. */
void blend__phones_on_committed(struct blend_phones *p, const json_t *event);
/* 0 when the agent may not take voice now (an extension without a registered phone while
 * sip.voice_requires_phone is on); 1 otherwise (also with no phones adapter). */
int blend__phones_voice_allowed(struct blend_phones *p, int64_t agent_id);
/* The telephony thread's counters (BLEND_ENOENT when SIP is off). */
struct blend_sip_stats;
int blend__phones_sip_stats(struct blend_phones *p, struct blend_sip_stats *out);
/* {"extension","registered",...} or JSON null when the agent has no extension. */
json_t *blend__phones_json(struct blend_phones *p, int64_t agent_id);

/* Calls: the server side of the B2BUA (calls.c, docs/voice.md). */
struct blend_calls;
struct blend_sip;
struct blend_sip_event;
int blend__calls_create(struct blend_app *app, struct blend_sip *sip, const char *recordings_dir,
                        struct blend_calls **out);
void blend__calls_destroy(struct blend_calls *c);
/* A call event from the telephony thread (CALL_INCOMING, AGENT_*, CALL_ENDED). */
void blend__calls_on_sip_event(struct blend_calls *c, const struct blend_sip_event *ev);
/* Transfers interaction `id`'s phone call to an external number (the agent's part ends when
 * the number answers). BLEND_ENOENT: not a phone call; BLEND_ESTATE: no outbound trunk. */
int blend__calls_transfer_number(struct blend_calls *c, int64_t id, const char *number);
/* The live calls as a JSON array (GET /api/v1/calls; docs/voice.md). */
json_t *blend__calls_list_json(struct blend_calls *c);
int blend__h_calls_list(struct blend_http_req *req, void *arg);
/* Hold (on = 1) or resume interaction `id`'s phone call for its agent (docs/voice.md §Hold).
 * BLEND_ENOENT: not a phone call connected to an agent. */
int blend__calls_hold(struct blend_calls *c, int64_t id, int on);
/* Recording of interaction `id`'s phone call: action "start", "pause", "resume" or "stop".
 * BLEND_ENOENT: not a phone call in progress; BLEND_EINVAL: unknown action. */
int blend__calls_record(struct blend_calls *c, int64_t id, const char *action);
/* The call's third party (docs/voice.md §A third party). Modes are enum blend_sip_party_mode
 * values; parse gives 0 for an unknown name. add: BLEND_ENOENT (not a connected phone call),
 * BLEND_EEXIST (it has a party already), or the telephony thread's refusal (BLEND_ESTATE: no
 * outbound trunk for a number). set_mode / drop / complete: BLEND_ENOENT (no party);
 * complete: BLEND_ESTATE (not answered yet, or a monitor). */
int blend__calls_party_mode_parse(const char *name);
int blend__calls_party_is_monitor(int mode);
int blend__calls_party_add(struct blend_calls *c, int64_t id, int64_t agent, const char *number,
                           int mode);
int blend__calls_party_set_mode(struct blend_calls *c, int64_t id, int mode);
int blend__calls_party_drop(struct blend_calls *c, int64_t id);
int blend__calls_party_complete(struct blend_calls *c, int64_t id);
/* {"interaction_id", "mode", "agent_id", "number", "state"} or NULL without a party; the mode
 * now (0: none). */
json_t *blend__calls_party_json(struct blend_calls *c, int64_t id);
int blend__calls_party_current(struct blend_calls *c, int64_t id);
/* Click-to-call (docs/voice.md §Click-to-call): engages the agent in routing (its refusal is
 * returned: BLEND_ESTATE logged out or busy on voice), creates the outbound interaction and
 * dials; answers req itself (202) once the row exists. BLEND_ENOENT: SIP is off. Returns 0 /
 * BLEND_HTTP_PENDING-style results of blend__app_submit, or a BLEND_E* before anything. */
int blend__calls_click_to_call(struct blend_calls *c, struct blend_http_req *req, int64_t agent,
                               const char *agent_name, const char *number,
                               const char *caller_id, int customer_first);
/* The directory recordings are written to. */
const char *blend__calls_recordings_dir(const struct blend_calls *c);
/* A routing effect: offers ring phones, withdrawals cancel them, ends hang up. */
void blend__calls_on_effect(struct blend_calls *c, const struct blend_acd_effect *f);

/* Event stream (events.c). */
int blend__ws_open(struct blend_ws *ws, struct blend_http_req *req, void *arg);
void blend__ws_message(struct blend_ws *ws, const char *text, size_t len, void *arg);
void blend__ws_close(struct blend_ws *ws, void *arg);
/* Pushes live figures to subscribers: queues to admin, supervisor and qa; an agent's own
 * figures to that agent (events.c). */
void blend__events_push_stats(struct blend_app *app);
/* Pushes events with seq > app->broadcast_seq to every subscriber allowed to see them. */
void blend__events_broadcast(struct blend_app *app);
/* 1 when a principal with `role` (and agent_id) may see the event document. */
int blend__event_visible(unsigned role, int64_t agent_id, const json_t *event);

#endif
