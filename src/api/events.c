/*
 * The WebSocket event stream (/api/v1/events): a snapshot (or a replay from a sequence number)
 * then every newly committed event the subscriber's role may see, in sequence order. Events
 * are read back from the store after each commit, so subscribers only ever see durable facts,
 * and a reconnecting client resumes with ?after=<last seq it saw>.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <string.h>

struct blend_ws_client {
    struct blend_ws *ws;
    struct blend_app *app;
    unsigned role;
    int64_t agent_id;
    struct blend_ws_client *next;
};

static int prefix_is(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int blend__event_visible(unsigned role, int64_t agent_id, const json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    if (!type) {
        return 0;
    }
    if (role & (BLEND_ROLE_ADMIN | BLEND_ROLE_SUPERVISOR)) {
        return 1;
    }
    if (role & BLEND_ROLE_QA) {
        return !prefix_is(type, "users.") && !prefix_is(type, "api_tokens.");
    }
    if (prefix_is(type, "skills.") || prefix_is(type, "queues.") ||
        prefix_is(type, "calendars.") || prefix_is(type, "entry_points.") ||
        prefix_is(type, "canned_responses.")) {
        return 1;
    }
    if (prefix_is(type, "contact.") || prefix_is(type, "call.") ||
        prefix_is(type, "interaction.")) {
        json_t *data = json_object_get(event, "data");
        return agent_id > 0 && json_integer_value(json_object_get(data, "agent_id")) == agent_id;
    }
    if (strcmp(type, "agent.state") == 0 || prefix_is(type, "agents.") ||
        prefix_is(type, "phone.")) {
        const char *subject = json_string_value(json_object_get(event, "subject"));
        char own[40];
        snprintf(own, sizeof own, "agents/%lld", (long long)agent_id);
        return agent_id > 0 && subject && strcmp(subject, own) == 0;
    }
    return 0;
}

static int send_json(struct blend_ws_client *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!text) {
        return BLEND_ENOMEM;
    }
    int rc = blend_ws_send(c->ws, text, strlen(text));
    blend_free(text);
    return rc;
}

static int send_event(struct blend_ws_client *c, json_t *event)
{
    if (!blend__event_visible(c->role, c->agent_id, event)) {
        return 0;
    }
    return send_json(c, json_pack("{s:s, s:O}", "type", "event", "event", event));
}

/* Sends the stored events in (after, upto] the client may see. */
static int replay(struct blend_ws_client *c, int64_t after, int64_t upto)
{
    while (after < upto) {
        json_t *events;
        int rc = blend_store_events(c->app->store, after, BLEND_WS_REPLAY_BATCH, &events);
        if (rc) {
            return rc;
        }
        size_t i, n = json_array_size(events);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            int64_t seq = json_integer_value(json_object_get(ev, "seq"));
            if (seq > upto) {
                break;
            }
            after = seq;
            rc = send_event(c, ev);
            if (rc) {
                json_decref(events);
                return rc;
            }
        }
        json_decref(events);
        if (n == 0) {
            break;
        }
    }
    return 0;
}

static int send_snapshot(struct blend_ws_client *c)
{
    struct blend_app *app = c->app;
    json_t *agents =
        blend__agent_states_json(app, c->role == BLEND_ROLE_AGENT ? (c->agent_id ? c->agent_id : -1)
                                                                  : 0);
    return send_json(c, json_pack("{s:s, s:I, s:o}", "type", "snapshot", "seq",
                                  (json_int_t)app->broadcast_seq, "agents", agents));
}

int blend__ws_open(struct blend_ws *ws, struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    struct blend_principal p;
    if (blend__auth_token(app, blend__req_token(req, 1), &p) != 0) {
        return 401;
    }
    const char *a = blend_http_req_query(req, "after");
    int64_t after = -1;
    if (a) {
        after = strcmp(a, "0") == 0 ? 0 : blend__parse_id(a);
        if (after <= 0 && strcmp(a, "0") != 0) {
            return 400;
        }
    }
    struct blend_ws_client *c = blend_calloc(1, sizeof *c);
    if (!c) {
        return 503;
    }
    c->ws = ws;
    c->app = app;
    c->role = p.role;
    c->agent_id = p.agent_id;
    c->next = app->clients;
    app->clients = c;
    blend_ws_set_ctx(ws, c);
    int rc = after >= 0 ? replay(c, after, app->broadcast_seq) : send_snapshot(c);
    if (rc && rc != BLEND_ELIMIT) {
        BLEND_LOG_WARN("api", "event stream start failed: %s", blend_strerror(rc));
    }
    return 0;
}

void blend__ws_message(struct blend_ws *ws, const char *text, size_t len, void *arg)
{
    (void)text;
    (void)len;
    (void)arg;
    /* The stream is one-way for now; a client message is ignored, not an error. */
    (void)ws;
}

void blend__ws_close(struct blend_ws *ws, void *arg)
{
    struct blend_app *app = arg;
    struct blend_ws_client *c = blend_ws_ctx(ws);
    if (!c) {
        return;
    }
    for (struct blend_ws_client **pp = &app->clients; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    blend_ws_set_ctx(ws, NULL);
    blend_free(c);
}

void blend__events_broadcast(struct blend_app *app)
{
    int64_t last = blend_store_last_seq(app->store);
    while (app->broadcast_seq < last) {
        json_t *events;
        if (blend_store_events(app->store, app->broadcast_seq, BLEND_WS_REPLAY_BATCH, &events)) {
            return;
        }
        size_t i, n = json_array_size(events);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            app->broadcast_seq = json_integer_value(json_object_get(ev, "seq"));
            blend__routing_on_committed(app->routing, ev);
            blend__phones_on_committed(app->phones, ev);
            for (struct blend_ws_client *c = app->clients; c; c = c->next) {
                (void)send_event(c, ev); /* a full backlog closes that client; it resumes */
            }
        }
        json_decref(events);
        if (n == 0) {
            break;
        }
    }
}

void blend__events_push_stats(struct blend_app *app)
{
    json_t *queues = NULL, *agents = NULL;
    for (struct blend_ws_client *c = app->clients; c; c = c->next) {
        json_t *msg;
        if (c->role & (BLEND_ROLE_ADMIN | BLEND_ROLE_SUPERVISOR | BLEND_ROLE_QA)) {
            if (!queues) {
                queues = blend__stats_items(app, &blend_res_queues, 0);
            }
            msg = json_pack("{s:s, s:O}", "type", "stats", "queues", queues);
            if (msg && (c->role & (BLEND_ROLE_ADMIN | BLEND_ROLE_SUPERVISOR))) {
                /* Every agent's figures for the wallboard (QA reads them on demand). */
                if (!agents) {
                    agents = blend__stats_items(app, &blend_res_agents, 0);
                }
                json_object_set(msg, "agents", agents);
            }
        } else if (c->agent_id > 0) {
            msg = json_pack("{s:s, s:o}", "type", "stats", "agent",
                            blend__routing_agent_stats(app->routing, c->agent_id));
        } else {
            continue;
        }
        (void)send_json(c, msg); /* a full backlog closes that client; it resumes */
    }
    json_decref(queues);
    json_decref(agents);
}
