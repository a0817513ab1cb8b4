/*
 * Contacts in the routing engine through the API: create an interaction and queue it, read its
 * routing state (position, estimated wait), and the actions on it — an agent accepts, rejects
 * or ends it; a supervisor (or a channel) records that the customer left, turns it into a
 * callback, or changes its priority. Every action is a routing-engine event; answers follow
 * once the decisions are durable.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* An interaction created and waiting for its commit before it joins its queue. */
struct arrival {
    struct blend_app *app;
    struct blend_http_req *req; /* the API request, or NULL for a channel adapter (done) */
    blend__arrival_created_fn created;
    blend__arrival_done_fn done;
    void *done_arg;
    int64_t queue_id;
    enum blend_channel channel;
    int32_t priority;
    int64_t customer;
    uint8_t skills_count; /* own required skills (docs/routing.md §Queues and eligibility) */
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
    /* Closed-hours treatment (docs/calendars.md): when `closed`, `treatment` says what
     * happened instead of joining queue `queue_id` as asked. */
    int closed;
    struct blend__open_state open;
    const char *treatment; /* "queue", "callback", "voicemail", "offline", "closed" */
    char asked_queue[72];
    char to_queue[72];
};

/* The write recording a contact met a closed queue ("contact.closed"), or NULL (no memory). */
static struct blend_write *closed_event(const struct arrival *a, int64_t id)
{
    struct blend_write *w = blend_write_create();
    if (!w) {
        return NULL;
    }
    json_t *data = json_pack("{s:I, s:s, s:s, s:o}", "interaction_id", (json_int_t)id, "queue",
                             a->asked_queue, "treatment", a->treatment, "hours",
                             blend__open_state_json(&a->open));
    if (a->to_queue[0]) {
        json_object_set_new(data, "to_queue", json_string(a->to_queue));
    }
    snprintf(w->actor, sizeof w->actor, "routing");
    struct blend_write_op *op = blend_write_add(w, BLEND_OP_EVENT, NULL, data);
    if (!op) {
        blend_write_destroy(w);
        return NULL;
    }
    snprintf(op->event_type, sizeof op->event_type, "contact.closed");
    snprintf(op->subject, sizeof op->subject, "interactions/%" PRId64, id);
    return w;
}

/* Ends an arrival that failed: the API request is answered, or the adapter told. */
static void arrival_failed(struct arrival *a, const struct blend_write *w, int rc)
{
    if (a->req) {
        if (w) {
            blend__respond_write_error(a->req, w, 0);
        } else {
            blend__routing_refuse(a->req, rc);
        }
    } else if (a->done) {
        a->done(a->app, a->done_arg, rc ? rc : BLEND_EIO, NULL);
    }
    blend_free(a);
}

static void on_created(struct blend_write *w, void *arg)
{
    struct arrival *a = arg;
    struct blend_app *app = a->app;
    if (w->rc) {
        arrival_failed(a, w, w->rc);
        blend_write_destroy(w);
        return;
    }
    json_t *doc = w->ops[0].result ? json_incref(w->ops[0].result) : json_object();
    int64_t id = w->ops[0].id_out;
    blend_write_destroy(w);
    if (a->created) {
        a->created(app, a->done_arg, id);
    }
    struct blend_routing_writes ws = {.n = 0};
    if (a->closed) {
        struct blend_write *cw = closed_event(a, id);
        if (cw) {
            ws.w[ws.n++] = cw;
        }
    }
    int rc = 0;
    if (!a->closed || a->queue_id > 0) {
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_CONTACT_ARRIVE};
        ev.u.arrive.contact = id;
        ev.u.arrive.queue = a->queue_id;
        ev.u.arrive.channel = a->channel;
        ev.u.arrive.priority = a->priority;
        ev.u.arrive.customer = a->customer;
        ev.u.arrive.skills_count = a->skills_count;
        memcpy(ev.u.arrive.skills, a->skills, sizeof ev.u.arrive.skills);
        rc = blend__routing_apply(app->routing, &ev, &ws);
        if (rc == 0 && a->closed && strcmp(a->treatment, "callback") == 0) {
            struct blend_acd_event cb = {.type = BLEND_ACD_EV_CALLBACK_REQUEST};
            cb.u.contact.contact = id;
            rc = blend__routing_apply(app->routing, &cb, &ws);
        }
    }
    if (rc) {
        BLEND_LOG_WARN("routing", "interaction %" PRId64 " stored but not queued: %s", id,
                       blend_strerror(rc));
        for (size_t i = 0; i < ws.n; i++) {
            blend__app_submit_detached(app, ws.w[i]);
        }
        json_decref(doc);
        arrival_failed(a, NULL, rc);
        return;
    }
    json_t *routing = a->queue_id > 0 ? blend__routing_contact_json(app->routing, id) : NULL;
    if (!routing) {
        routing = json_object();
    }
    if (a->closed) {
        json_t *c = blend__open_state_json(&a->open);
        json_object_set_new(c, "treatment", json_string(a->treatment));
        json_object_set_new(routing, "closed", c);
    }
    json_object_set_new(doc, "routing", routing);
    if (!a->req) {
        /* A channel adapter learns the outcome now; the decisions commit in order behind. */
        for (size_t i = 0; i < ws.n; i++) {
            blend__app_submit_detached(app, ws.w[i]);
        }
        if (a->done) {
            a->done(app, a->done_arg, 0, doc);
        }
        json_decref(doc);
        blend_free(a);
        return;
    }
    char loc[64];
    snprintf(loc, sizeof loc, "/api/v1/interactions/%" PRId64, id);
    (void)blend_http_add_header(a->req, "Location", loc);
    (void)blend__routing_commit(app->routing, &ws, a->req, doc, 201);
    blend_free(a);
}

/* Checks that the queue exists and takes the channel; answers 422 otherwise. */
static int64_t queue_for(struct blend_app *app, struct blend_http_req *req, const json_t *doc,
                         enum blend_channel *channel, json_t **queue_out)
{
    const char *qname = json_string_value(json_object_get(doc, "queue"));
    const char *ch = json_string_value(json_object_get(doc, "channel"));
    json_t *q = NULL;
    const char *why = NULL;
    if (!qname || blend_store_find(app->store, &blend_res_queues, "name", qname, 0, &q) != 0) {
        why = "queue: required, and must name an existing queue";
    } else if (blend__channel_parse(ch, channel) != 0) {
        why = "channel: unknown";
    } else {
        int takes = 0;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(q, "channels"), i, v)
        {
            takes |= strcmp(json_string_value(v), ch) == 0;
        }
        if (!takes) {
            why = "channel: the queue does not take this channel";
        }
    }
    if (why) {
        json_decref(q);
        blend_http_respond_error(req, 422, "validation_failed", why,
                                 json_pack("[{s:s, s:s}]", "path", strncmp(why, "queue", 5) == 0
                                                                        ? "queue"
                                                                        : "channel",
                                           "message", strchr(why, ':') + 2));
        return 0;
    }
    int64_t id = json_integer_value(json_object_get(q, "id"));
    *queue_out = q;
    return id;
}

/* Whether queue document q takes `channel` and its calendar (if any) is open at wall_ms. */
static int queue_open_for(struct blend_app *app, const json_t *q, enum blend_channel channel,
                          int64_t wall_ms, struct blend__open_state *st)
{
    int takes = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(q, "channels"), i, v)
    {
        takes |= strcmp(json_string_value(v), blend__channel_name(channel)) == 0;
    }
    const char *cal = json_string_value(json_object_get(q, "calendar"));
    memset(st, 0, sizeof *st);
    st->state = BLEND_CALENDAR_OPEN;
    if (cal && blend__calendar_now(app, cal, wall_ms, st) != 0) {
        BLEND_LOG_WARN("routing", "calendar \"%s\" cannot be evaluated: treated as open", cal);
        st->state = BLEND_CALENDAR_OPEN;
    }
    return takes && st->state == BLEND_CALENDAR_OPEN;
}

/* Decides the closed-hours treatment of a contact for queue q (docs/calendars.md). Live
 * channels only: email, SMS and social messages wait for the queue to open. */
static void plan_closed(struct blend_app *app, const json_t *q, struct arrival *a)
{
    if (a->channel != BLEND_CH_VOICE && a->channel != BLEND_CH_CHAT) {
        return;
    }
    if (queue_open_for(app, q, a->channel, blend__wall_ms(), &a->open)) {
        return;
    }
    a->closed = 1;
    snprintf(a->asked_queue, sizeof a->asked_queue, "%s",
             json_string_value(json_object_get(q, "name")));
    const char *action = json_string_value(json_object_get(q, "overflow_action"));
    action = action ? action : "none";
    int64_t asked = a->queue_id;
    a->queue_id = 0; /* does not join unless a treatment below says so */
    a->treatment = "closed";
    if (strcmp(action, "queue") == 0) {
        const char *target = json_string_value(json_object_get(q, "overflow_queue"));
        json_t *t = NULL;
        struct blend__open_state tst;
        if (target && blend_store_find(app->store, &blend_res_queues, "name", target, 0, &t) == 0 &&
            queue_open_for(app, t, a->channel, blend__wall_ms(), &tst)) {
            a->queue_id = json_integer_value(json_object_get(t, "id"));
            snprintf(a->to_queue, sizeof a->to_queue, "%s", target);
            a->treatment = "queue";
        }
        json_decref(t);
    } else if (strcmp(action, "callback") == 0 && a->channel == BLEND_CH_VOICE) {
        a->queue_id = asked; /* joins as a callback, worked when agents are there */
        a->treatment = "callback";
    } else if (strcmp(action, "voicemail") == 0 && a->channel == BLEND_CH_VOICE) {
        a->treatment = "voicemail";
    } else if (a->channel == BLEND_CH_CHAT && strcmp(action, "none") != 0) {
        /* A message left at night: it joins the queue and waits for agents, like an email
         * (docs/calendars.md); the visitor sees it queued with reason "closed". */
        a->queue_id = asked;
        a->treatment = "offline";
    }
}

/* The common part of an arrival: closed-hours plan, the interaction's creation, then (once it
 * is durable) the engine. Takes doc and qdoc. */
static int arrive(struct blend_app *app, struct blend_http_req *req,
                  blend__arrival_created_fn created, blend__arrival_done_fn done, void *done_arg,
                  json_t *doc, int64_t queue_id, enum blend_channel channel, json_t *qdoc,
                  blend__arrival_ops_fn extra, void *extra_arg)
{
    struct arrival *a = blend_calloc(1, sizeof *a);
    if (!a) {
        json_decref(qdoc);
        json_decref(doc);
        return BLEND_ENOMEM;
    }
    a->app = app;
    a->req = req;
    a->created = created;
    a->done = done;
    a->done_arg = done_arg;
    a->queue_id = queue_id;
    a->channel = channel;
    a->priority = (int32_t)json_integer_value(json_object_get(doc, "priority"));
    a->customer = json_integer_value(json_object_get(doc, "contact"));
    /* The API checked the names (422); a channel adapter's unknown names are left out. */
    if (blend__routing_skills(app->routing, json_object_get(doc, "skills"), 1, a->skills,
                              &a->skills_count, NULL, 0) != 0) {
        BLEND_LOG_WARN("routing", "own skills of an arrival unreadable: queued without them");
    }
    plan_closed(app, qdoc, a);
    json_decref(qdoc);
    if (a->closed && a->queue_id == 0) {
        char ts[BLEND__ISO_BYTES];
        blend__wall_iso(ts);
        json_object_set_new(doc, "state", json_string("ended"));
        json_object_set_new(doc, "ended_at", json_string(ts));
    } else if (a->closed) {
        json_object_set_new(doc, "queue", json_string(a->to_queue[0] ? a->to_queue
                                                                      : a->asked_queue));
    }
    struct blend_write *w = blend_write_create();
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_interactions, json_incref(doc)) ||
        (extra && extra(w, extra_arg) != 0)) {
        json_decref(doc);
        blend_write_destroy(w);
        blend_free(a);
        return BLEND_ENOMEM;
    }
    json_decref(doc);
    if (!req) {
        snprintf(w->actor, sizeof w->actor, "%s", "channel");
    }
    return blend__app_submit(app, req, w, on_created, a);
}

/* Validates an arriving interaction (body stolen): it starts queued, inbound unless said
 * otherwise, and its agent is routing's to set. */
static int validate_arrival(json_t *body, json_t **doc, struct blend_field_errors *errs)
{
    if (json_is_object(body)) {
        if (!json_object_get(body, "direction")) {
            json_object_set_new(body, "direction", json_string("inbound"));
        }
        json_object_set_new(body, "state", json_string("queued"));
    }
    blend_field_errors_init(errs);
    int rc = blend_model_validate(&blend_res_interactions, body, BLEND_VALIDATE_CREATE, 0, doc,
                                  errs);
    json_decref(body);
    if (rc == 0 && json_object_get(*doc, "agent") &&
        !json_is_null(json_object_get(*doc, "agent"))) {
        blend_field_errors_add(errs, "agent", "set by routing, not by the client");
        json_decref(*doc);
        rc = BLEND_EINVAL;
    }
    return rc;
}

int blend__interaction_arrive_with(struct blend_app *app, json_t *body,
                                   blend__arrival_ops_fn extra, void *extra_arg,
                                   blend__arrival_created_fn created, blend__arrival_done_fn done,
                                   void *done_arg)
{
    struct blend_field_errors errs;
    json_t *doc;
    int rc = validate_arrival(body, &doc, &errs);
    if (rc) {
        return rc;
    }
    enum blend_channel channel;
    json_t *q = NULL;
    const char *qname = json_string_value(json_object_get(doc, "queue"));
    if (!qname || blend_store_find(app->store, &blend_res_queues, "name", qname, 0, &q) != 0 ||
        blend__channel_parse(json_string_value(json_object_get(doc, "channel")), &channel) != 0) {
        json_decref(q);
        json_decref(doc);
        return BLEND_EINVAL;
    }
    int64_t queue_id = json_integer_value(json_object_get(q, "id"));
    rc = arrive(app, NULL, created, done, done_arg, doc, queue_id, channel, q, extra, extra_arg);
    return rc == BLEND_HTTP_PENDING || rc == BLEND_HTTP_DONE ? 0 : rc;
}

int blend__interaction_arrive(struct blend_app *app, json_t *body,
                              blend__arrival_created_fn created, blend__arrival_done_fn done,
                              void *done_arg)
{
    return blend__interaction_arrive_with(app, body, NULL, NULL, created, done, done_arg);
}

int blend__h_interaction_create(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    struct blend_field_errors errs;
    json_t *doc;
    int rc = validate_arrival(body, &doc, &errs);
    if (rc) {
        blend__respond_field_errors(req, &errs);
        return BLEND_HTTP_DONE;
    }
    /* Own skills must name skills that exist (the model checked the shape). */
    struct blend_acd_skill_req reqs[BLEND_ACD_QUEUE_SKILLS_MAX];
    uint8_t reqs_count;
    char unknown[72] = "";
    if (blend__routing_skills(app->routing, json_object_get(doc, "skills"), 0, reqs, &reqs_count,
                              unknown, sizeof unknown) != 0) {
        char path[96];
        snprintf(path, sizeof path, "skills.%s", unknown);
        blend_http_respond_error(req, 422, "validation_failed", "skills: no such skill",
                                 json_pack("[{s:s, s:s}]", "path", path, "message",
                                           "no such skill"));
        json_decref(doc);
        return BLEND_HTTP_DONE;
    }
    enum blend_channel channel;
    json_t *qdoc = NULL;
    int64_t queue_id = queue_for(app, req, doc, &channel, &qdoc);
    if (!queue_id) {
        json_decref(doc);
        return BLEND_HTTP_DONE;
    }
    return arrive(app, req, NULL, NULL, NULL, doc, queue_id, channel, qdoc, NULL, NULL);
}

int blend__h_interaction_routing(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *view = id > 0 ? blend__routing_contact_json(app->routing, id) : NULL;
    if (!view) {
        blend_http_respond_error(req, 404, "not_found",
                                 "no such interaction in routing (it may have ended)", NULL);
        return BLEND_HTTP_DONE;
    }
    blend_http_respond_json(req, 200, view);
    return BLEND_HTTP_DONE;
}

/* The last path segment: the action's name. */
static const char *action_of(struct blend_http_req *req)
{
    const char *path = blend_http_req_path(req);
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : "";
}

/* Reads the optional body: {"agent_id": N} for accept/reject/end, {"priority": N} for
 * priority. Answers and returns -1 on a bad body. */
static int action_body(struct blend_http_req *req, int64_t *agent_id, int64_t *priority)
{
    size_t len;
    (void)blend_http_req_body(req, &len);
    if (len == 0) {
        return 0;
    }
    json_t *body;
    struct blend_http_body_error berr;
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return -1;
    }
    json_int_t agent = 0, prio = -1;
    int ok = json_unpack(body, "{s?I, s?I !}", "agent_id", &agent, "priority", &prio) == 0;
    json_decref(body);
    if (!ok || agent < 0 || prio > 1000) {
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected {\"agent_id\": N} or {\"priority\": 0..1000}", NULL);
        return -1;
    }
    *agent_id = agent;
    *priority = prio;
    return 0;
}

int blend__h_interaction_action(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    const char *action = action_of(req);
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    int64_t agent = 0, priority = -1;
    if (id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return BLEND_HTTP_DONE;
    }
    if (action_body(req, &agent, &priority) < 0) {
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_contact_view cv;
    if (blend_acd_contact(blend__routing_acd(app->routing), id, &cv) != 0) {
        blend_http_respond_error(req, 404, "not_found",
                                 "no such interaction in routing (it may have ended)", NULL);
        return BLEND_HTTP_DONE;
    }
    if (p->role == BLEND_ROLE_AGENT) {
        if (agent != 0 && agent != p->agent_id) {
            blend_http_respond_error(req, 403, "forbidden", "agents act only for themselves",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
        agent = p->agent_id;
    } else if (agent == 0) {
        agent = cv.agent; /* the agent holding it, for supervisors acting on their behalf */
    }
    int needs_agent = strcmp(action, "accept") == 0 || strcmp(action, "reject") == 0 ||
                      strcmp(action, "end") == 0;
    if (needs_agent && agent == 0) {
        blend_http_respond_error(req, 409, "conflict",
                                 "no agent holds this interaction: name one with agent_id",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.u.contact.contact = id;
    ev.u.contact.agent = agent;
    if (strcmp(action, "accept") == 0) {
        ev.type = BLEND_ACD_EV_OFFER_ACCEPT;
    } else if (strcmp(action, "reject") == 0) {
        ev.type = BLEND_ACD_EV_OFFER_REJECT;
    } else if (strcmp(action, "end") == 0) {
        if (cv.state != BLEND_CONTACT_CONNECTED || cv.agent != agent) {
            blend_http_respond_error(req, 409, "conflict",
                                     "the interaction is not connected to that agent", NULL);
            return BLEND_HTTP_DONE;
        }
        ev.type = BLEND_ACD_EV_CONTACT_END;
    } else if (strcmp(action, "abandon") == 0) {
        ev.type = BLEND_ACD_EV_CONTACT_ABANDON;
    } else if (strcmp(action, "callback") == 0) {
        ev.type = BLEND_ACD_EV_CALLBACK_REQUEST;
    } else if (strcmp(action, "priority") == 0 && priority >= 0) {
        ev.type = BLEND_ACD_EV_CONTACT_PRIORITY;
        ev.u.contact.priority = (int32_t)priority;
    } else {
        blend_http_respond_error(req, 422, "validation_failed",
                                 "priority needs {\"priority\": 0..1000}", NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_routing_writes ws = {.n = 0};
    int rc = blend__routing_apply(app->routing, &ev, &ws);
    if (rc) {
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    if (ev.type == BLEND_ACD_EV_CONTACT_PRIORITY && ws.n < BLEND_ROUTING_STEP_WRITES_MAX) {
        /* The row keeps the contact's own priority (a restart restores it) and every
         * wallboard sees the change (contact.priority). */
        struct blend_write *pw = blend_write_create();
        struct blend_write_op *up =
            pw ? blend_write_add(pw, BLEND_OP_UPDATE, &blend_res_interactions,
                                 json_pack("{s:I}", "priority", (json_int_t)priority))
               : NULL;
        struct blend_write_op *evop =
            up ? blend_write_add(pw, BLEND_OP_EVENT, NULL,
                                 json_pack("{s:I, s:I}", "contact_id", (json_int_t)id, "priority",
                                           (json_int_t)priority))
               : NULL;
        if (evop) {
            up->id = id;
            snprintf(evop->event_type, sizeof evop->event_type, "contact.priority");
            snprintf(evop->subject, sizeof evop->subject, "interactions/%" PRId64, id);
            ws.w[ws.n++] = pw;
        } else {
            blend_write_destroy(pw);
            BLEND_LOG_WARN("routing", "priority of interaction %" PRId64 " not stored: no memory",
                           id);
        }
    }
    json_t *view = blend__routing_contact_json(app->routing, id);
    if (!view) {
        view = json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id, "state", "done");
    }
    return blend__routing_commit(app->routing, &ws, req, view, 200);
}

/* Lists a resource's rows and adds each one's figures (skipping rows without any). */
json_t *blend__stats_items(struct blend_app *app, const struct blend_resource *res,
                           int64_t only_id)
{
    json_t *items = json_array();
    struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX};
    for (;;) {
        json_t *page;
        int64_t next;
        if (blend_store_list(app->store, res, &q, &page, &next) != 0) {
            break;
        }
        size_t i;
        json_t *row;
        json_array_foreach(page, i, row)
        {
            int64_t id = json_integer_value(json_object_get(row, "id"));
            if (only_id && id != only_id) {
                continue;
            }
            json_t *fig = res == &blend_res_queues
                              ? blend__routing_queue_stats(app->routing, id)
                              : blend__routing_agent_stats(app->routing, id);
            const char *cal = res == &blend_res_queues
                                  ? json_string_value(json_object_get(row, "calendar"))
                                  : NULL;
            struct blend__open_state hours;
            if (fig && cal && blend__calendar_now(app, cal, blend__wall_ms(), &hours) == 0) {
                json_object_set_new(fig, "hours", blend__open_state_json(&hours));
            }
            if (fig) {
                json_object_set(fig, "name", json_object_get(row, "name"));
                json_array_append_new(items, fig);
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

int blend__h_stats_queues(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    blend_http_respond_json(req, 200,
                            json_pack("{s:o}", "items", blend__stats_items(app, &blend_res_queues, 0)));
    return BLEND_HTTP_DONE;
}

int blend__h_stats_agents(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    const struct blend_principal *p = blend__principal(req);
    /* An agent sees their own figures only (and an agent user without an agent, none). */
    int64_t only = p->role == BLEND_ROLE_AGENT ? (p->agent_id ? p->agent_id : -1) : 0;
    blend_http_respond_json(
        req, 200, json_pack("{s:o}", "items", blend__stats_items(app, &blend_res_agents, only)));
    return BLEND_HTTP_DONE;
}

int blend__connected_for(struct blend_app *app, struct blend_http_req *req, int64_t id,
                         struct blend_acd_contact_view *cv)
{
    const struct blend_principal *p = blend__principal(req);
    if (blend_acd_contact(blend__routing_acd(app->routing), id, cv) != 0 ||
        cv->state != BLEND_CONTACT_CONNECTED) {
        blend_http_respond_error(req, 409, "conflict", "the interaction is not connected",
                                 NULL);
        return -1;
    }
    if (p->role == BLEND_ROLE_AGENT && cv->agent != p->agent_id) {
        blend_http_respond_error(req, 403, "forbidden",
                                 "agents act only on their own interactions", NULL);
        return -1;
    }
    return 0;
}

/* The queue named `name` (its id in *out), or a 422 answered and BLEND_ENOENT. */
static int transfer_queue_id(struct blend_app *app, struct blend_http_req *req, const char *name,
                             int64_t *out)
{
    json_t *q;
    if (blend_store_find(app->store, &blend_res_queues, "name", name, 0, &q) != 0) {
        blend_http_respond_error(req, 422, "validation_failed", "queue: no such queue",
                                 json_pack("[{s:s, s:s}]", "path", "queue", "message",
                                           "no such queue"));
        return BLEND_ENOENT;
    }
    *out = json_integer_value(json_object_get(q, "id"));
    json_decref(q);
    return 0;
}

/* Applies a transfer or move event and answers with the contact's routing view once durable. */
static int transfer_apply(struct blend_app *app, struct blend_http_req *req, int64_t id,
                          struct blend_acd_event *ev)
{
    struct blend_routing_writes ws = {.n = 0};
    int rc = blend__routing_apply(app->routing, ev, &ws);
    if (rc) {
        blend__routing_refuse(req, rc);
        return BLEND_HTTP_DONE;
    }
    json_t *view = blend__routing_contact_json(app->routing, id);
    if (!view) {
        view = json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id, "state", "done");
    }
    return blend__routing_commit(app->routing, &ws, req, view, 200);
}

/* Blind transfer of a connected interaction: {"queue": name} joins that queue as a new stay,
 * {"agent_id": N} is offered to that agent first (then its queue), {"number": "..."} (phone
 * calls only) bridges the customer to an external number through the outbound trunk.
 * An interaction still waiting or being offered (routing state) is moved instead
 * (CONTACT_MOVE, docs/routing.md §Transfers): by a supervisor or an admin only (an agent gets
 * 403), to a queue or to an agent; a number stays refused (409: not connected), a waiting call
 * has nobody to bridge. */
int blend__h_interaction_transfer(struct blend_http_req *req, void *arg)
{
    struct blend_app *app = arg;
    int64_t id = blend__parse_id(blend_http_req_param(req, "id"));
    json_t *body;
    struct blend_http_body_error berr;
    if (id <= 0) {
        blend_http_respond_error(req, 404, "not_found", "no such interaction", NULL);
        return BLEND_HTTP_DONE;
    }
    if (blend_http_req_json(req, &body, &berr) != 0) {
        blend_http_respond_body_error(req, &berr);
        return BLEND_HTTP_DONE;
    }
    const char *queue = NULL, *number = NULL;
    json_int_t to_agent = 0;
    int ok = json_unpack(body, "{s?s, s?I, s?s !}", "queue", &queue, "agent_id", &to_agent,
                         "number", &number) == 0 &&
             (queue != NULL) + (to_agent != 0) + (number != NULL) == 1 && to_agent >= 0;
    if (!ok) {
        json_decref(body);
        blend_http_respond_error(req, 422, "validation_failed",
                                 "expected exactly one of {\"queue\": name}, {\"agent_id\": N}, "
                                 "{\"number\": \"+...\"}",
                                 NULL);
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_contact_view cv;
    if (!number && blend_acd_contact(blend__routing_acd(app->routing), id, &cv) == 0 &&
        cv.state != BLEND_CONTACT_CONNECTED) {
        /* Waiting or offered: a supervisor's move. */
        if (blend__principal(req)->role == BLEND_ROLE_AGENT) {
            json_decref(body);
            blend_http_respond_error(req, 403, "forbidden",
                                     "only a supervisor or an admin may move an interaction "
                                     "that is not connected",
                                     NULL);
            return BLEND_HTTP_DONE;
        }
        struct blend_acd_event mv = {.type = BLEND_ACD_EV_CONTACT_MOVE};
        mv.u.move.contact = id;
        mv.u.move.to_agent = to_agent;
        int rc = queue ? transfer_queue_id(app, req, queue, &mv.u.move.to_queue) : 0;
        json_decref(body);
        return rc ? BLEND_HTTP_DONE : transfer_apply(app, req, id, &mv);
    }
    if (blend__connected_for(app, req, id, &cv) != 0) {
        json_decref(body);
        return BLEND_HTTP_DONE;
    }
    if (number) {
        int rc = blend__calls_transfer_number(app->calls, id, number);
        json_decref(body);
        if (rc == BLEND_ENOENT) {
            blend_http_respond_error(req, 409, "conflict",
                                     "only a phone call can be transferred to a number", NULL);
        } else if (rc == BLEND_ESTATE) {
            blend_http_respond_error(req, 409, "conflict", "no outbound trunk is configured",
                                     NULL);
        } else if (rc) {
            blend__routing_refuse(req, rc);
        } else {
            blend_http_respond_json(req, 202,
                                    json_pack("{s:I, s:s}", "interaction_id", (json_int_t)id,
                                              "transfer", "calling"));
        }
        return BLEND_HTTP_DONE;
    }
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_CONTACT_TRANSFER};
    ev.u.transfer.contact = id;
    ev.u.transfer.agent = cv.agent;
    ev.u.transfer.to_agent = to_agent;
    int rc = queue ? transfer_queue_id(app, req, queue, &ev.u.transfer.to_queue) : 0;
    json_decref(body);
    return rc ? BLEND_HTTP_DONE : transfer_apply(app, req, id, &ev);
}
