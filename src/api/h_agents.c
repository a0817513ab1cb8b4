/*
 * The engine's adapter for agent presence: HTTP requests become engine events, the engine's
 * AGENT_STATE effects become event-log appends, and the client is answered once the append is
 * durable. At start the presence of every agent is rebuilt from the log ("agent.state" events).
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void format_time(int64_t wall_ms, char *out, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", base, (int)(wall_ms % 1000));
}

json_t *blend__agent_view_json(const struct blend_agent_view *v)
{
    char since[40];
    format_time(v->since_wall_ms, since, sizeof since);
    return json_pack("{s:I, s:s, s:o, s:o}", "agent_id", (json_int_t)v->agent_id, "state",
                     blend_agent_state_name(v->state), "reason",
                     v->reason[0] ? json_string(v->reason) : json_null(), "since",
                     v->since_wall_ms ? json_string(since) : json_null());
}

/* Parses "2026-11-22T13:00:00.123Z" (as the store writes `ts`) to epoch milliseconds. */
static int64_t parse_ts_ms(const char *ts)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int ms = 0;
    if (!ts || sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                      &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
        return 0;
    }
    const char *dot = strchr(ts, '.');
    if (dot) {
        sscanf(dot + 1, "%3d", &ms);
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}

int blend__agents_restore(struct blend_app *app)
{
    int64_t after = 0, restored = 0;
    int64_t now_ms = blend__now_ms(app), wall_now = blend__wall_ms();
    for (;;) {
        json_t *events;
        int rc = blend_store_events(app->store, after, BLEND_WS_REPLAY_BATCH * 4, &events);
        if (rc) {
            return rc;
        }
        size_t i, n = json_array_size(events);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            after = json_integer_value(json_object_get(ev, "seq"));
            const char *type = json_string_value(json_object_get(ev, "type"));
            if (!type || strcmp(type, "agent.state") != 0) {
                continue;
            }
            json_t *data = json_object_get(ev, "data");
            struct blend_agent_view v;
            memset(&v, 0, sizeof v);
            v.agent_id = json_integer_value(json_object_get(data, "agent_id"));
            const char *reason = json_string_value(json_object_get(data, "reason"));
            if (blend_agent_state_parse(json_string_value(json_object_get(data, "to")), &v.state) ||
                v.agent_id <= 0) {
                continue;
            }
            snprintf(v.reason, sizeof v.reason, "%s", reason ? reason : "");
            v.since_wall_ms = parse_ts_ms(json_string_value(json_object_get(ev, "ts")));
            /* Monotonic time of the old process means nothing now: place the change as far in
             * the past as the wall clock says, never before this process's zero. */
            int64_t ago = wall_now - v.since_wall_ms;
            v.since_ms = ago > 0 && ago < now_ms ? now_ms - ago : 0;
            rc = blend_engine_restore_agent(app->engine, &v);
            if (rc) {
                json_decref(events);
                return rc;
            }
            restored++;
        }
        json_decref(events);
        if (n == 0) {
            break;
        }
    }
    blend_engine_check(app->engine);
    BLEND_LOG_INFO("api", "agent presence restored from %" PRId64 " state change(s)", restored);
    return 0;
}

int blend__h_agent_state_get(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *agent;
    if (id <= 0 || blend_store_get(app->store, &blend_res_agents, id, 0, &agent) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such agent", NULL);
        return BLEND_HTTP_DONE;
    }
    json_decref(agent);
    struct blend_agent_view v;
    blend_engine_agent(app->engine, id, &v);
    blend_http_respond_json(req, 200, blend__agent_view_json(&v));
    return BLEND_HTTP_DONE;
}

int blend__h_agent_states(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    json_t *items = json_array();
    size_t n = blend_engine_agents_count(app->engine);
    for (size_t i = 0; i < n; i++) {
        struct blend_agent_view v;
        blend_engine_agent_at(app->engine, i, &v);
        json_array_append_new(items, blend__agent_view_json(&v));
    }
    blend_http_respond_json(req, 200, json_pack("{s:o}", "items", items));
    return BLEND_HTTP_DONE;
}

/* A state change waiting for its log append; `before` restores the engine if it fails. */
struct state_change {
    struct blend_app *app;
    struct blend_http_req *req;
    struct blend_agent_view before;
};

static void on_state_saved(struct blend_write *w, void *arg)
{
    struct state_change *sc = arg;
    struct blend_agent_view now;
    if (w->rc) {
        /* The change is not durable, so it did not happen: put the engine back. */
        (void)blend_engine_restore_agent(sc->app->engine, &sc->before);
        blend__respond_write_error(sc->req, w, 0);
    } else {
        blend_engine_agent(sc->app->engine, sc->before.agent_id, &now);
        blend_http_respond_json(sc->req, 200, blend__agent_view_json(&now));
    }
    blend_write_destroy(w);
    blend_free(sc);
}

static int event_from_body(struct blend_http_req *req, int64_t id, struct blend_event *ev)
{
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return -1;
    }
    const char *state = NULL, *reason = NULL;
    enum blend_agent_state to;
    int ok = json_unpack(body, "{s:s, s?s !}", "state", &state, "reason", &reason) == 0 &&
             blend_agent_state_parse(state, &to) == 0 && to != BLEND_AGENT_WRAP_UP &&
             (!reason || strlen(reason) < BLEND_REASON_BYTES_MAX);
    memset(ev, 0, sizeof *ev);
    if (ok) {
        ev->type = to == BLEND_AGENT_READY       ? BLEND_EV_AGENT_READY
                   : to == BLEND_AGENT_NOT_READY ? BLEND_EV_AGENT_NOT_READY
                                                 : BLEND_EV_AGENT_LOGOUT;
        ev->u.agent.agent_id = id;
        snprintf(ev->u.agent.reason, sizeof ev->u.agent.reason, "%s",
                 reason ? reason : (to == BLEND_AGENT_NOT_READY ? "away" : ""));
    }
    json_decref(body);
    if (!ok) {
        json_t *details = json_pack("[{s:s, s:s}]", "path", "state", "message",
                                    "expected ready, not-ready (with an optional reason) or "
                                    "logged-out");
        blend_http_respond_error(req, 422, "validation_failed", "invalid state change", details);
        return -1;
    }
    return 0;
}

int blend__h_agent_state_set(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *agent;
    if (id <= 0 || blend_store_get(app->store, &blend_res_agents, id, 0, &agent) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such agent", NULL);
        return BLEND_HTTP_DONE;
    }
    json_decref(agent);
    if (p->role == BLEND_ROLE_AGENT && p->agent_id != id) {
        blend_http_respond_error(req, 403, "forbidden", "agents change only their own state",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_event ev;
    if (event_from_body(req, id, &ev) < 0) {
        return BLEND_HTTP_DONE;
    }
    ev.now_ms = blend__now_ms(app);
    ev.wall_ms = blend__wall_ms();
    struct state_change *sc = blend_calloc(1, sizeof *sc);
    if (!sc) {
        return BLEND_ENOMEM;
    }
    sc->app = app;
    sc->req = req;
    blend_engine_agent(app->engine, id, &sc->before);
    struct blend_effects fx;
    int rc = blend_engine_step(app->engine, &ev, &fx);
    if (rc) {
        blend_free(sc);
        blend_http_respond_error(req, rc == BLEND_ESTATE ? 409 : 422,
                                 rc == BLEND_ESTATE ? "conflict" : "validation_failed",
                                 rc == BLEND_ESTATE ? "not allowed in the agent's current state"
                                                    : "invalid state change (reason: a-z 0-9 - _)",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    blend_engine_check(app->engine);
    if (fx.count == 0) {
        blend_free(sc);
        struct blend_agent_view v;
        blend_engine_agent(app->engine, id, &v);
        blend_http_respond_json(req, 200, blend__agent_view_json(&v));
        return BLEND_HTTP_DONE;
    }
    struct blend_write *w = blend_write_create();
    for (size_t i = 0; w && i < fx.count; i++) {
        const struct blend_effect *f = &fx.items[i];
        if (f->type != BLEND_FX_AGENT_STATE) {
            continue;
        }
        json_t *data = json_pack(
            "{s:I, s:s, s:s, s:o, s:I}", "agent_id", (json_int_t)f->u.agent_state.agent_id, "from",
            blend_agent_state_name(f->u.agent_state.from), "to",
            blend_agent_state_name(f->u.agent_state.to), "reason",
            f->u.agent_state.reason[0] ? json_string(f->u.agent_state.reason) : json_null(),
            "in_previous_ms", (json_int_t)f->u.agent_state.in_previous_ms);
        struct blend_write_op *op = blend_write_add(w, BLEND_OP_EVENT, NULL, data);
        if (!op) {
            blend_write_destroy(w);
            w = NULL;
            break;
        }
        snprintf(op->event_type, sizeof op->event_type, "agent.state");
        snprintf(op->subject, sizeof op->subject, "agents/%" PRId64, f->u.agent_state.agent_id);
    }
    if (!w) {
        (void)blend_engine_restore_agent(app->engine, &sc->before);
        blend_free(sc);
        return BLEND_ENOMEM;
    }
    return blend__app_submit(app, req, w, on_state_saved, sc);
}
