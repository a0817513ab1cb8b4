/*
 * A third party on a connected phone call (docs/voice.md §A third party): supervisors listen,
 * whisper to the agent or barge in from their own phone; agents consult another agent or an
 * external number with the customer on hold, turn it into a conference of three, and complete
 * an attended transfer. The handlers validate, check who may do what and hand the command to
 * calls.c; the telephony thread does the ringing and the mixing, and every step is an event
 * ("call.party_*"). Who may: monitoring modes (listen, whisper, barge) belong to supervisors and
 * admins; consult and conference to the agent on the call as well.
 */
#include "api/app_int.h"

#include "sip/sip.h"

#include <stdio.h>
#include <string.h>

static int interaction_id(struct blend_http_req *req, int64_t *out)
{
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    if (id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return -1;
    }
    *out = id;
    return 0;
}

static int may_use_mode(struct blend_http_req *req, int mode)
{
    const struct blend_principal *p = blend__principal(req);
    if (blend__calls_party_is_monitor(mode) && p->role == BLEND_ROLE_AGENT) {
        blend_http_respond_error(req, 403, "forbidden",
                                 "listen, whisper and barge are for supervisors", NULL);
        return 0;
    }
    return 1;
}

static void refuse(struct blend_http_req *req, int rc)
{
    switch (rc) {
    case BLEND_ENOENT:
        blend_http_respond_error(req, 409, "conflict",
                                 "not a connected phone call, or no party on it", NULL);
        break;
    case BLEND_EEXIST:
        blend_http_respond_error(req, 409, "conflict", "the call already has a third party", NULL);
        break;
    case BLEND_ESTATE:
        blend_http_respond_error(req, 409, "conflict",
                                 "the party has not answered, is a monitor, or no outbound "
                                 "trunk is configured",
                                 NULL);
        break;
    default:
        blend__routing_refuse(req, rc);
        break;
    }
}

static int bad_mode(struct blend_http_req *req)
{
    blend_http_respond_error(req, 422, "validation_failed",
                             "mode: one of listen, whisper, barge, consult, conference",
                             json_pack("[{s:s, s:s}]", "path", "mode", "message",
                                       "one of listen, whisper, barge, consult, conference"));
    return BLEND_HTTP_DONE;
}

/* A dial string for the outbound trunk: what blend_sip accepts. */
static int number_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len >= BLEND_SIP_EXTENSION_BYTES_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = n[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              strchr("+*#.-_", ch))) {
            return 0;
        }
    }
    return 1;
}

/* POST /interactions/{id}/party {"mode", "agent_id" | "number"}: monitoring modes default to
 * the caller's own agent (their phone). */
int blend__h_party_add(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id;
    if (interaction_id(req, &id) != 0) {
        return BLEND_HTTP_DONE;
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *mode_name = NULL, *number = NULL;
    json_int_t agent = 0;
    if (json_unpack(body, "{s:s, s?I, s?s !}", "mode", &mode_name, "agent_id", &agent, "number",
                    &number) != 0 ||
        agent < 0) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"mode\": ..., \"agent_id\": N} or {\"mode\": ..., "
                                 "\"number\": \"...\"}",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    int mode = blend__calls_party_mode_parse(mode_name);
    if (!mode) {
        json_decref(body);
        return bad_mode(req);
    }
    if (!may_use_mode(req, mode)) {
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    const struct blend_principal *p = blend__principal(req);
    if (agent == 0 && !number && blend__calls_party_is_monitor(mode)) {
        agent = p->agent_id;
    }
    if ((agent != 0) + (number != NULL) != 1 || (number && !number_ok(number))) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "exactly one of agent_id (an agent with a phone) or number (a "
                                 "dial string) is needed",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    if (agent) {
        json_t *a;
        if (blend_store_get(app->store, &blend_res_agents, agent, 0, &a) != 0) {
            json_decref(body);
            blend_http_respond_error(
                req, 422, "validation_failed", "agent_id: no such agent",
                json_pack("[{s:s, s:s}]", "path", "agent_id", "message", "no such agent"));
            return BLEND_HTTP_DONE;
        }
        json_decref(a);
    }
    struct blend_acd_contact_view cv;
    if (blend__connected_for(app, req, id, &cv) != 0) {
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    if (agent && agent == cv.agent) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "agent_id: that agent is already on the call", NULL);
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_party_add(app->calls, id, agent, number, mode);
    json_decref(body); /* number points into body */
    if (rc) {
        refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(req, 202, blend__calls_party_json(app->calls, id));
    return BLEND_HTTP_DONE;
}

int blend__h_party_get(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id;
    if (interaction_id(req, &id) != 0) {
        return BLEND_HTTP_DONE;
    }
    json_t *doc = blend__calls_party_json(app->calls, id);
    if (!doc) {
        blend_http_respond_error(req, 404, "not_found", "the call has no third party", NULL);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(req, 200, doc);
    return BLEND_HTTP_DONE;
}

/* PATCH /interactions/{id}/party {"mode"}: switched live. */
int blend__h_party_mode(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id;
    if (interaction_id(req, &id) != 0) {
        return BLEND_HTTP_DONE;
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *mode_name = NULL;
    int mode = json_unpack(body, "{s:s !}", "mode", &mode_name) == 0
                   ? blend__calls_party_mode_parse(mode_name)
                   : 0;
    char name[16] = "";
    if (mode) {
        snprintf(name, sizeof name, "%s", mode_name);
    }
    json_decref(body); /* mode_name pointed into it */
    if (!mode) {
        return bad_mode(req);
    }
    struct blend_acd_contact_view cv;
    if (!may_use_mode(req, mode) || blend__connected_for(app, req, id, &cv) != 0) {
        return BLEND_HTTP_DONE;
    }
    int current = blend__calls_party_current(app->calls, id);
    if (current && blend__calls_party_is_monitor(current) != blend__calls_party_is_monitor(mode)) {
        blend_http_respond_error(req, 409, "conflict",
                                 "a monitor stays a monitor (listen, whisper, barge) and a "
                                 "consulted party a consulted party (consult, conference)",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    if (!may_use_mode(req, current ? current : mode)) {
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_party_set_mode(app->calls, id, mode);
    if (rc) {
        refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    json_t *doc = blend__calls_party_json(app->calls, id);
    json_object_set_new(doc, "mode", json_string(name));
    blend_http_respond_json(req, 202, doc);
    return BLEND_HTTP_DONE;
}

/* DELETE /interactions/{id}/party: the party hangs up; customer and agent stay. */
int blend__h_party_drop(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id;
    struct blend_acd_contact_view cv;
    if (interaction_id(req, &id) != 0 || blend__connected_for(app, req, id, &cv) != 0 ||
        !may_use_mode(req, blend__calls_party_current(app->calls, id))) {
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_party_drop(app->calls, id);
    if (rc) {
        refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(
        req, 202, json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id, "party", "dropping"));
    return BLEND_HTTP_DONE;
}

/* POST /interactions/{id}/party/complete: attended transfer, the party takes the agent's
 * place. */
int blend__h_party_complete(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id;
    struct blend_acd_contact_view cv;
    if (interaction_id(req, &id) != 0 || blend__connected_for(app, req, id, &cv) != 0) {
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_party_complete(app->calls, id);
    if (rc) {
        refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(
        req, 202, json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id, "party", "completing"));
    return BLEND_HTTP_DONE;
}

/* POST /calls {"number", "agent_id"?, "caller_id"?, "order"?}: click-to-call. The agent (the
 * caller's own by default; agents only for themselves) is rung first ("agent-first", the
 * default) or the number is dialled first ("customer-first"). */
int blend__h_click_to_call(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *number = NULL, *caller_id = NULL, *order = NULL;
    json_int_t agent = 0;
    int ok = json_unpack(body, "{s:s, s?I, s?s, s?s !}", "number", &number, "agent_id", &agent,
                         "caller_id", &caller_id, "order", &order) == 0 &&
             agent >= 0 && number_ok(number) && (!caller_id || number_ok(caller_id)) &&
             (!order || strcmp(order, "agent-first") == 0 || strcmp(order, "customer-first") == 0);
    if (!ok) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"number\": dial string, \"agent_id\"?: N, "
                                 "\"caller_id\"?: dial string, \"order\"?: \"agent-first\" | "
                                 "\"customer-first\"}",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    const struct blend_principal *p = blend__principal(req);
    if (agent == 0) {
        agent = p->agent_id;
    }
    if (p->role == BLEND_ROLE_AGENT && agent != p->agent_id) {
        json_decref(body);
        blend_http_respond_error(req, 403, "forbidden", "agents place calls only for themselves",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    json_t *a = NULL;
    if (agent <= 0 || blend_store_get(app->store, &blend_res_agents, agent, 0, &a) != 0) {
        json_decref(body);
        blend_http_respond_error(
            req, 422, "validation_failed",
            "agent_id: no such agent (users without an agent must name one)",
            json_pack("[{s:s, s:s}]", "path", "agent_id", "message", "no such agent"));
        return BLEND_HTTP_DONE;
    }
    int rc = blend__calls_click_to_call(
        app->calls, req, agent, json_string_value(json_object_get(a, "name")), number,
        caller_id ? caller_id : "anonymous", order && strcmp(order, "customer-first") == 0);
    json_decref(a);
    json_decref(body);
    if (rc == BLEND_HTTP_PENDING || rc == BLEND_HTTP_DONE) {
        return rc;
    }
    if (rc == BLEND_ENOENT) {
        blend_http_respond_error(req, 409, "conflict", "telephony is off (no sip.listen)", NULL);
    } else if (rc == BLEND_ESTATE) {
        blend_http_respond_error(req, 409, "conflict",
                                 "the agent is logged out or already on a call", NULL);
    } else {
        blend__routing_refuse(req, rc);
    }
    return BLEND_HTTP_DONE;
}
