/*
 * Agent presence through the API: reading it from the routing engine, and changing it (log in,
 * ready, not ready with a reason, log out, end wrap-up). Each change is a routing-engine event;
 * the client is answered once the resulting "agent.state" events are durable.
 */
#include "api/app_int.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>

json_t *blend__agent_states_json(struct blend_app *app, int64_t only_agent)
{
    json_t *items = json_array();
    struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX};
    for (;;) {
        json_t *page;
        int64_t next;
        if (blend_store_list(app->store, &blend_res_agents, &q, &page, &next) != 0) {
            break;
        }
        size_t i;
        json_t *a;
        json_array_foreach(page, i, a)
        {
            int64_t id = json_integer_value(json_object_get(a, "id"));
            if (only_agent == 0 || only_agent == id) {
                json_array_append_new(items, blend__routing_agent_json(app->routing, id));
            }
        }
        json_decref(page);
        if (next == 0) {
            break;
        }
        q.after_id = next;
    }
    return items;
}

/* Answers 404 unless the agent exists; returns its id or 0. */
static int64_t existing_agent(struct blend_app *app, struct blend_http_req *req)
{
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *agent;
    if (id <= 0 || blend_store_get(app->store, &blend_res_agents, id, 0, &agent) != 0) {
        blend_http_respond_error(req, 404, "not_found", "no such agent", NULL);
        return 0;
    }
    json_decref(agent);
    return id;
}

int blend__h_agent_state_get(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = existing_agent(app, req);
    if (id) {
        blend_http_respond_json(req, 200, blend__routing_agent_json(app->routing, id));
    }
    return BLEND_HTTP_DONE;
}

int blend__h_agent_states(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    blend_http_respond_json(req, 200,
                            json_pack("{s:o}", "items", blend__agent_states_json(app, 0)));
    return BLEND_HTTP_DONE;
}

/* The agent a request may act for: an agent user only for their own agent. */
static int64_t acting_agent(struct blend_app *app, struct blend_http_req *req)
{
    const struct blend_principal *p = blend__principal(req);
    int64_t id = existing_agent(app, req);
    if (id && p->role == BLEND_ROLE_AGENT && p->agent_id != id) {
        blend_http_respond_error(req, 403, "forbidden", "agents change only their own state",
                                 NULL);
        return 0;
    }
    return id;
}

static int parse_state(struct blend_http_req *req, enum blend_acd_presence *to, char *reason,
                       size_t reason_len)
{
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return -1;
    }
    const char *state = NULL, *why = NULL;
    int ok = json_unpack(body, "{s:s, s?s !}", "state", &state, "reason", &why) == 0;
    *to = BLEND_PRESENCE_WRAP_UP; /* not settable: marks "unknown" below */
    for (int s = BLEND_PRESENCE_LOGGED_OUT; ok && s <= BLEND_PRESENCE_NOT_READY; s++) {
        if (strcmp(state, blend__presence_name((enum blend_acd_presence)s)) == 0) {
            *to = (enum blend_acd_presence)s;
        }
    }
    ok = ok && *to != BLEND_PRESENCE_WRAP_UP && (!why || strlen(why) < reason_len);
    if (ok) {
        snprintf(reason, reason_len, "%s", why ? why : (*to == BLEND_PRESENCE_NOT_READY ? "away" : ""));
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
    int64_t id = acting_agent(app, req);
    enum blend_acd_presence to;
    char reason[BLEND_ACD_REASON_BYTES];
    if (!id || parse_state(req, &to, reason, sizeof reason) < 0) {
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_agent_view now;
    if (blend_acd_agent(blend__routing_acd(app->routing), id, &now) != 0) {
        now.presence = BLEND_PRESENCE_LOGGED_OUT;
    }
    struct blend_routing_writes ws = {.n = 0};
    struct blend_acd_event ev;
    int rc = 0;
    /* Asking for ready or not-ready while logged out logs the agent in first. */
    if (to != BLEND_PRESENCE_LOGGED_OUT && now.presence == BLEND_PRESENCE_LOGGED_OUT) {
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_AGENT_LOGIN;
        ev.u.id = id;
        rc = blend__routing_apply(app->routing, &ev, &ws);
    }
    memset(&ev, 0, sizeof ev);
    if (to == BLEND_PRESENCE_READY && now.presence == BLEND_PRESENCE_WRAP_UP) {
        /* Ready during wrap-up means "my wrap-up is done". */
        ev.type = BLEND_ACD_EV_WRAPUP_END;
        ev.u.id = id;
    } else if (to == BLEND_PRESENCE_READY) {
        ev.type = BLEND_ACD_EV_AGENT_READY;
        ev.u.id = id;
    } else if (to == BLEND_PRESENCE_NOT_READY) {
        ev.type = BLEND_ACD_EV_AGENT_NOT_READY;
        ev.u.not_ready.agent = id;
        snprintf(ev.u.not_ready.reason, sizeof ev.u.not_ready.reason, "%s", reason);
    } else {
        ev.type = BLEND_ACD_EV_AGENT_LOGOUT;
        ev.u.id = id;
    }
    int already = to == now.presence && (to != BLEND_PRESENCE_NOT_READY ||
                                         strcmp(reason, now.reason) == 0);
    if (rc == 0 && !already) {
        rc = blend__routing_apply(app->routing, &ev, &ws);
    }
    if (rc) {
        /* What the first step decided is recorded all the same: it happened. */
        for (size_t i = 0; i < ws.n; i++) {
            blend__app_submit_detached(app, ws.w[i]);
        }
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    return blend__routing_commit(app->routing, &ws, req,
                                 blend__routing_agent_json(app->routing, id), 200);
}

int blend__h_agent_wrapup_end(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = acting_agent(app, req);
    if (!id) {
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_WRAPUP_END};
    ev.u.id = id;
    struct blend_routing_writes ws = {.n = 0};
    int rc = blend__routing_apply(app->routing, &ev, &ws);
    if (rc) {
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    return blend__routing_commit(app->routing, &ws, req,
                                 blend__routing_agent_json(app->routing, id), 200);
}
