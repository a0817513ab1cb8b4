/*
 * Calls: the server side of the B2BUA (the telephony thread in src/sip does the SIP and the
 * RTP). A call from a trunk or a phone is matched to an entry point by the dialled number,
 * becomes a voice interaction in the entry point's queue (closed-hours rules included), and
 * follows the routing engine: an offer rings the agent's phone, the phone's answer is the
 * agent's accept, a busy or declined phone is a reject, the engine's withdrawals and timeouts
 * cancel the ringing leg, and either side hanging up ends or abandons the interaction. Every
 * step is recorded in the event log ("call.*", subject interactions/<id>). A registered phone
 * whose number matches no entry point calls another agent's extension (an internal call) or a
 * number through the trunk (§Calls from agents' phones). No routing rule lives here;
 * docs/voice.md describes the flow.
 */
#include "api/calls_int.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "sip/sip.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct call *by_call(struct blend_calls *c, uint64_t id)
{
    for (size_t i = 0; i < c->count; i++) {
        if (c->calls[i].call == id) {
            return &c->calls[i];
        }
    }
    return NULL;
}

static struct call *by_interaction(struct blend_calls *c, int64_t id)
{
    for (size_t i = 0; i < c->count && id > 0; i++) {
        if (c->calls[i].interaction == id) {
            return &c->calls[i];
        }
    }
    return NULL;
}

static void forget(struct blend_calls *c, struct call *k)
{
    size_t i = (size_t)(k - c->calls);
    c->calls[i] = c->calls[--c->count];
}

static void record(struct blend_calls *c, const char *type, int64_t interaction, json_t *data)
{
    char subject[64];
    snprintf(subject, sizeof subject, "interactions/%" PRId64, interaction);
    blend__app_record_event(c->app, "sip", type, subject, data);
}

/* "call.ringing" / "call.answered" {interaction_id, agent_id} of k. */
static void record_agent(struct blend_calls *c, const char *type, const struct call *k,
                         int64_t agent)
{
    record(c, type, k->interaction,
           json_pack("{s:I, s:I}", "interaction_id", (json_int_t)k->interaction, "agent_id",
                     (json_int_t)agent));
}

/* "call.agent_failed" {interaction_id, agent_id, sip_code} of k. */
static void record_agent_failed(struct blend_calls *c, const struct call *k,
                                const struct blend_sip_event *ev)
{
    record(c, "call.agent_failed", k->interaction,
           json_pack("{s:I, s:I, s:i}", "interaction_id", (json_int_t)k->interaction, "agent_id",
                     (json_int_t)ev->agent_id, "sip_code", ev->sip_code));
}

/* "call.ended" of interaction id from CALL_ENDED. */
static void record_ended(struct blend_calls *c, int64_t id, const struct blend_sip_event *ev)
{
    record(c, "call.ended", id,
           json_pack("{s:I, s:s, s:i, s:s, s:I, s:I}", "interaction_id", (json_int_t)id, "leg",
                     ev->leg, "sip_code", ev->sip_code, "cause", ev->cause, "rtp_to_agent",
                     (json_int_t)ev->rtp_to_agent, "rtp_to_customer",
                     (json_int_t)ev->rtp_to_customer));
}

static void step(struct blend_calls *c, enum blend_acd_event_type type, int64_t contact,
                 int64_t agent)
{
    struct blend_acd_event ev = {.type = type};
    ev.u.contact.contact = contact;
    ev.u.contact.agent = agent;
    int rc = blend__routing_step_detached(c->app->routing, &ev);
    if (rc) {
        BLEND_LOG_DEBUG("calls", "routing refused a call step for interaction %" PRId64 ": %s",
                        contact, blend_strerror(rc));
    }
}

struct call *blend__calls_by_call(struct blend_calls *c, uint64_t id)
{
    return by_call(c, id);
}

struct call *blend__calls_by_interaction(struct blend_calls *c, int64_t id)
{
    return by_interaction(c, id);
}

void blend__calls_forget(struct blend_calls *c, struct call *k)
{
    forget(c, k);
}

void blend__calls_record_event(struct blend_calls *c, const char *type, int64_t interaction,
                               json_t *data)
{
    record(c, type, interaction, data);
}

void blend__calls_step(struct blend_calls *c, enum blend_acd_event_type type, int64_t contact,
                       int64_t agent)
{
    step(c, type, contact, agent);
}

int blend__calls_add(struct blend_calls *c, uint64_t id, struct call **out)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct call *nc = blend_realloc(c->calls, cap * sizeof *nc);
        if (!nc) {
            return BLEND_ENOMEM;
        }
        c->calls = nc;
        c->cap = cap;
    }
    struct call *k = &c->calls[c->count++];
    memset(k, 0, sizeof *k);
    k->call = id;
    *out = k;
    return 0;
}

/* ---- Arrival ------------------------------------------------------------------------------- */

static void phone_incoming(struct blend_calls *c, const struct blend_sip_event *ev);
static void on_phone_event(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev);

/* The entry point for a dialled number: the address as dialled, or with a leading '+'. */
static json_t *entry_point_for(struct blend_calls *c, const char *dialled)
{
    char plus[BLEND_SIP_EXTENSION_BYTES_MAX + 1];
    snprintf(plus, sizeof plus, "+%s", dialled);
    const char *tries[] = {dialled, plus};
    for (size_t t = 0; t < 2; t++) {
        struct blend_list_query q = {
            .limit = 16, .filter_field = "address", .filter_value = tries[t]};
        json_t *items;
        int64_t next;
        if (blend_store_list(c->app->store, &blend_res_entry_points, &q, &items, &next) != 0) {
            continue;
        }
        size_t i;
        json_t *ep;
        json_array_foreach(items, i, ep)
        {
            const char *ch = json_string_value(json_object_get(ep, "channel"));
            if (ch && strcmp(ch, "voice") == 0 && !json_is_false(json_object_get(ep, "enabled"))) {
                json_incref(ep);
                json_decref(items);
                return ep;
            }
        }
        json_decref(items);
    }
    return NULL;
}

struct arrival_ctx {
    struct blend_calls *calls;
    uint64_t call;
};

static void on_created(struct blend_app *app, void *arg, int64_t id)
{
    (void)app;
    struct arrival_ctx *x = arg;
    struct call *k = by_call(x->calls, x->call);
    if (k) {
        k->interaction = id;
        k->state = CALL_ROUTED;
    }
}

static void on_arrived(struct blend_app *app, void *arg, int rc, json_t *doc)
{
    (void)app;
    struct arrival_ctx *x = arg;
    struct blend_calls *c = x->calls;
    struct call *k = by_call(c, x->call);
    blend_free(x);
    if (!k) {
        return;
    }
    if (rc) {
        BLEND_LOG_WARN("calls", "call from %s to %s not queued: %s", k->caller, k->dialled,
                       blend_strerror(rc));
        (void)blend_sip_call_reject(c->sip, k->call, 503, "Service Unavailable");
        return;
    }
    const char *state = json_string_value(json_object_get(doc, "state"));
    json_t *closed = json_object_get(json_object_get(doc, "routing"), "closed");
    const char *treatment = json_string_value(json_object_get(closed, "treatment"));
    record(c, "call.arrived", k->interaction,
           json_pack("{s:I, s:s, s:s, s:o}", "interaction_id", (json_int_t)k->interaction, "caller",
                     k->caller, "dialled", k->dialled, "treatment",
                     treatment ? json_string(treatment) : json_null()));
    if (state && strcmp(state, "ended") == 0) {
        (void)blend_sip_call_reject(c->sip, k->call, 480, "Temporarily Unavailable");
        return;
    }
    if (treatment && strcmp(treatment, "callback") == 0) {
        /* The caller's place is kept as a callback: nothing to wait on the line for. */
        (void)blend_sip_call_reject(c->sip, k->call, 480, "Callback Scheduled");
        return;
    }
    if (k->state == CALL_GONE) {
        int64_t id = k->interaction;
        forget(c, k);
        step(c, BLEND_ACD_EV_CONTACT_ABANDON, id, 0);
    }
}

int blend__calls_arrive(struct blend_calls *c, struct call *k, json_t *body)
{
    struct arrival_ctx *x = blend_malloc(sizeof *x);
    if (!x) {
        json_decref(body);
        return BLEND_ENOMEM;
    }
    x->calls = c;
    x->call = k->call;
    k->state = CALL_ARRIVING;
    int rc = blend__interaction_arrive(c->app, body, on_created, on_arrived, x);
    if (rc) {
        blend_free(x);
    }
    return rc;
}

static void on_incoming(struct blend_calls *c, const struct blend_sip_event *ev)
{
    json_t *ep = entry_point_for(c, ev->dialled);
    if (!ep && ev->agent_id > 0) {
        phone_incoming(c, ev); /* an agent's phone: another agent, or a number */
        return;
    }
    if (!ep) {
        BLEND_LOG_INFO("calls", "call from %s to unknown number %s refused", ev->caller,
                       ev->dialled);
        (void)blend_sip_call_reject(c->sip, ev->call, 404, "Not Found");
        return;
    }
    const char *cal = json_string_value(json_object_get(ep, "calendar"));
    const char *queue = json_string_value(json_object_get(ep, "queue"));
    const char *flow = json_string_value(json_object_get(ep, "flow"));
    struct call *k;
    if (blend__calls_add(c, ev->call, &k) != 0) {
        (void)blend_sip_call_reject(c->sip, ev->call, 503, "Service Unavailable");
        json_decref(ep);
        return;
    }
    k->state = CALL_IVR;
    snprintf(k->caller, sizeof k->caller, "%s", ev->caller);
    snprintf(k->dialled, sizeof k->dialled, "%s", ev->dialled);
    if (flow && flow[0]) {
        /* The flow decides everything from here, business hours included. */
        int rc = blend__ivr_start(c, k, flow, cal, queue);
        if (rc == 0) {
            json_decref(ep);
            return;
        }
        BLEND_LOG_ERROR("calls", "flow %s of number %s cannot run (%s): %s", flow, ev->dialled,
                        blend_strerror(rc), queue ? "queued directly" : "call refused");
        k = by_call(c, ev->call);
    }
    struct blend__open_state hours;
    if (cal && blend__calendar_now(c->app, cal, blend__wall_ms(), &hours) == 0 &&
        hours.state != BLEND_CALENDAR_OPEN) {
        forget(c, k);
        (void)blend_sip_call_reject(c->sip, ev->call, 480, "Closed");
        json_decref(ep);
        return;
    }
    if (!queue) {
        forget(c, k);
        (void)blend_sip_call_reject(c->sip, ev->call, 480, "No Queue");
        json_decref(ep);
        return;
    }
    (void)blend_sip_call_ringing(c->sip, ev->call);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "channel", "voice", "queue", queue,
                             "direction", "inbound", "address", ev->caller);
    json_decref(ep);
    int rc = body ? blend__calls_arrive(c, k, body) : BLEND_ENOMEM;
    if (rc) {
        struct call *gone = by_call(c, ev->call);
        if (gone) {
            forget(c, gone);
        }
        (void)blend_sip_call_reject(c->sip, ev->call, 503, "Service Unavailable");
    }
}

/* ---- Transfers ----------------------------------------------------------------------------- */

static int start_transfer_number(struct blend_calls *c, struct call *k, const char *number)
{
    int rc = blend_sip_call_transfer_number(c->sip, k->call, number);
    if (rc == 0) {
        record(c, "call.transfer", k->interaction,
               json_pack("{s:I, s:s, s:s}", "interaction_id", (json_int_t)k->interaction, "to",
                         "number", "number", number));
    }
    return rc;
}

int blend__calls_transfer_number(struct blend_calls *c, int64_t id, const char *number)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->connected) {
        return BLEND_ENOENT;
    }
    return start_transfer_number(c, k, number);
}

/* The phone's REFER named (Replaces) a consultation it placed: the consulted agent takes the
 * customer. Only an answered internal call from the same agent qualifies; anything else gets
 * its REFER refused (NOTIFY 403). */
static void on_refer_attended(struct blend_calls *c, struct call *k,
                              const struct blend_sip_event *ev)
{
    struct call *consult = by_call(c, ev->other_call);
    const char *why = !k->connected || k->external || k->agent != ev->agent_id
                          ? "the call is not this agent's"
                      : !consult || (consult->phone != CALL_PHONE_INTERNAL &&
                                     consult->phone != CALL_PHONE_CONSULT)
                          ? "the consultation is not a call to an agent or a number"
                      : consult->phone_from != ev->agent_id || !consult->phone_answered
                          ? "the consultation is not this agent's answered call"
                          : NULL;
    record(c, "call.refer", k->interaction,
           json_pack("{s:I, s:I, s:s, s:s, s:o, s:o}", "interaction_id",
                     (json_int_t)k->interaction, "agent_id", (json_int_t)ev->agent_id, "target",
                     ev->dialled, "kind", "attended", "to_agent_id",
                     consult && consult->phone == CALL_PHONE_INTERNAL
                         ? json_integer(consult->phone_to)
                         : json_null(),
                     "number",
                     consult && consult->phone == CALL_PHONE_CONSULT
                         ? json_string(consult->dialled)
                         : json_null()));
    if (why) {
        BLEND_LOG_INFO("calls", "attended transfer of interaction %" PRId64 " refused: %s",
                       k->interaction, why);
        (void)blend_sip_call_refer_fail(c->sip, k->call, 403);
        return;
    }
    int rc = blend_sip_call_replace(c->sip, k->call, consult->call);
    if (rc) {
        BLEND_LOG_WARN("calls", "attended transfer of interaction %" PRId64 " not started: %s",
                       k->interaction, blend_strerror(rc));
        (void)blend_sip_call_refer_fail(c->sip, k->call, 503);
    }
}

/* The consulted agent took the customer (AGENT_REPLACED): routing hands the contact over from
 * the referring agent (wrap-up) to them, their engagement for the consultation becoming the
 * contact, exactly as when a consultation started through the API completes. */
static void on_agent_replaced(struct blend_calls *c, struct call *k,
                              const struct blend_sip_event *ev)
{
    struct call *consult = by_call(c, ev->other_call);
    int64_t from = k->agent, to = ev->agent_id;
    record(c, "call.transferred", k->interaction,
           json_pack("{s:I, s:s, s:I, s:o, s:o, s:s}", "interaction_id",
                     (json_int_t)k->interaction, "kind", "attended", "from_agent_id",
                     (json_int_t)from, "to_agent_id", to > 0 ? json_integer(to) : json_null(),
                     "number", to > 0 || !ev->dialled[0] ? json_null() : json_string(ev->dialled),
                     "via", "phone"));
    if (to <= 0 && k->connected && !k->external) {
        /* A number took the customer: the agent's part is over (wrap-up); the call goes on
         * outside routing, as after a transfer to a number. */
        k->external = 1;
        step(c, BLEND_ACD_EV_CONTACT_END, k->interaction, from);
        return;
    }
    if (to <= 0 || !k->connected || k->external) {
        BLEND_LOG_WARN("calls", "interaction %" PRId64 ": unexpected takeover by %s %" PRId64,
                       k->interaction, ev->leg, to);
        return;
    }
    struct blend_acd_event t = {.type = BLEND_ACD_EV_CONTACT_TRANSFER};
    t.u.transfer.contact = k->interaction;
    t.u.transfer.agent = from;
    t.u.transfer.to_agent = to;
    t.u.transfer.connect = 1;
    k->handover = 1; /* the legs are already swapped: its effects touch no SIP leg */
    int rc = blend__routing_step_detached(c->app->routing, &t);
    k->handover = 0;
    if (rc == 0) {
        if (consult && consult->phone_to == to) {
            consult->phone_to_engaged = 0; /* the engagement became the contact */
        }
    } else {
        /* The new agent is not in routing (logged out): the referring agent's part still ends;
         * the call goes on outside routing, as a number's would. */
        BLEND_LOG_WARN("calls",
                       "handover of interaction %" PRId64 " to agent %" PRId64
                       " refused by routing: %s",
                       k->interaction, to, blend_strerror(rc));
        k->external = 1;
        step(c, BLEND_ACD_EV_CONTACT_END, k->interaction, from);
    }
    k->agent = to;
}

/* An agent's phone sent REFER: the target is another agent's extension, a queue (by name or by
 * an entry point's number), or else an external number; with Replaces, the party of a
 * consultation the phone placed (on_refer_attended). */
static void on_refer(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev)
{
    if (ev->other_call) {
        on_refer_attended(c, k, ev);
        return;
    }
    struct blend_acd_event t = {.type = BLEND_ACD_EV_CONTACT_TRANSFER};
    t.u.transfer.contact = k->interaction;
    t.u.transfer.agent = k->agent;
    json_t *doc = NULL;
    if (blend_store_find(c->app->store, &blend_res_agents, "extension", ev->dialled, 0, &doc) ==
        0) {
        t.u.transfer.to_agent = json_integer_value(json_object_get(doc, "id"));
    } else if (blend_store_find(c->app->store, &blend_res_queues, "name", ev->dialled, 0, &doc) ==
               0) {
        t.u.transfer.to_queue = json_integer_value(json_object_get(doc, "id"));
    } else if ((doc = entry_point_for(c, ev->dialled)) != NULL) {
        json_t *q = NULL;
        const char *qname = json_string_value(json_object_get(doc, "queue"));
        if (qname &&
            blend_store_find(c->app->store, &blend_res_queues, "name", qname, 0, &q) == 0) {
            t.u.transfer.to_queue = json_integer_value(json_object_get(q, "id"));
        }
        json_decref(q);
    }
    json_decref(doc);
    record(c, "call.refer", k->interaction,
           json_pack("{s:I, s:I, s:s}", "interaction_id", (json_int_t)k->interaction, "agent_id",
                     (json_int_t)ev->agent_id, "target", ev->dialled));
    if (t.u.transfer.to_agent == 0 && t.u.transfer.to_queue == 0) {
        if (start_transfer_number(c, k, ev->dialled) != 0) {
            BLEND_LOG_WARN("calls", "transfer of interaction %" PRId64 " to %s refused",
                           k->interaction, ev->dialled);
            (void)blend_sip_call_refer_fail(c->sip, k->call, 503);
        }
        return;
    }
    int rc = blend__routing_step_detached(c->app->routing, &t);
    if (rc) {
        /* The phone learns it (NOTIFY) and the agent keeps the customer. */
        BLEND_LOG_WARN("calls", "transfer of interaction %" PRId64 " to %s refused: %s",
                       k->interaction, ev->dialled, blend_strerror(rc));
        (void)blend_sip_call_refer_fail(c->sip, k->call, rc == BLEND_ESTATE ? 480 : 403);
    }
}

/* ---- A third party: monitoring, consultation, conference ---------------------------------- */

static const char *const party_modes[] = {
    [BLEND_SIP_PARTY_LISTEN] = "listen",         [BLEND_SIP_PARTY_WHISPER] = "whisper",
    [BLEND_SIP_PARTY_BARGE] = "barge",           [BLEND_SIP_PARTY_CONSULT] = "consult",
    [BLEND_SIP_PARTY_CONFERENCE] = "conference",
};

int blend__calls_party_mode_parse(const char *name)
{
    for (int m = BLEND_SIP_PARTY_LISTEN; name && m <= BLEND_SIP_PARTY_CONFERENCE; m++) {
        if (strcmp(name, party_modes[m]) == 0) {
            return m;
        }
    }
    return 0;
}

static const char *party_mode_name(int mode)
{
    return mode >= BLEND_SIP_PARTY_LISTEN && mode <= BLEND_SIP_PARTY_CONFERENCE ? party_modes[mode]
                                                                                : "none";
}

int blend__calls_party_is_monitor(int mode)
{
    return mode == BLEND_SIP_PARTY_LISTEN || mode == BLEND_SIP_PARTY_WHISPER ||
           mode == BLEND_SIP_PARTY_BARGE;
}

/* The routing engine counts an agent on a call it did not route (the party's phone) as busy
 * on voice, so it offers them nothing meanwhile. */
static void party_engage(struct blend_calls *c, struct call *k, int on)
{
    if (k->party_agent <= 0 || k->party_engaged == on) {
        return;
    }
    struct blend_acd_event ev = {.type =
                                     on ? BLEND_ACD_EV_AGENT_ENGAGE : BLEND_ACD_EV_AGENT_RELEASE};
    ev.u.engage.agent = k->party_agent;
    ev.u.engage.channel = BLEND_CH_VOICE;
    int rc = blend__routing_step_detached(c->app->routing, &ev);
    if (rc == 0) {
        k->party_engaged = on;
    } else {
        /* A supervisor who is not logged in as an agent is not in routing: nothing to do. */
        BLEND_LOG_DEBUG("calls", "agent %" PRId64 " not %s for interaction %" PRId64 ": %s",
                        k->party_agent, on ? "engaged" : "released", k->interaction,
                        blend_strerror(rc));
    }
}

static json_t *party_doc(const struct call *k)
{
    return json_pack("{s:I, s:s, s:o, s:o, s:s}", "interaction_id", (json_int_t)k->interaction,
                     "mode", party_mode_name(k->party_mode), "agent_id",
                     k->party_agent ? json_integer(k->party_agent) : json_null(), "number",
                     k->party_number[0] ? json_string(k->party_number) : json_null(), "state",
                     k->party_up ? "connected" : "calling");
}

json_t *blend__calls_party_json(struct blend_calls *c, int64_t id)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    return k && k->party_mode ? party_doc(k) : NULL;
}

int blend__calls_party_current(struct blend_calls *c, int64_t id)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    return k ? k->party_mode : 0;
}

int blend__calls_party_add(struct blend_calls *c, int64_t id, int64_t agent, const char *number,
                           int mode)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->connected || k->external) {
        return BLEND_ENOENT;
    }
    if (k->party_mode) {
        return BLEND_EEXIST;
    }
    int rc = blend_sip_call_party_add(c->sip, k->call, agent, number,
                                      (enum blend_sip_party_mode)mode, CALLS_RING_SAFETY_S);
    if (rc) {
        return rc;
    }
    k->party_mode = mode;
    k->party_up = 0;
    k->party_agent = agent;
    snprintf(k->party_number, sizeof k->party_number, "%s", number ? number : "");
    record(c, "call.party_added", k->interaction, party_doc(k));
    return 0;
}

int blend__calls_party_set_mode(struct blend_calls *c, int64_t id, int mode)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->party_mode) {
        return BLEND_ENOENT;
    }
    return blend_sip_call_party_mode(c->sip, k->call, (enum blend_sip_party_mode)mode);
}

int blend__calls_party_drop(struct blend_calls *c, int64_t id)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->party_mode) {
        return BLEND_ENOENT;
    }
    return blend_sip_call_party_drop(c->sip, k->call);
}

int blend__calls_party_complete(struct blend_calls *c, int64_t id)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->party_mode) {
        return BLEND_ENOENT;
    }
    if (!k->party_up || blend__calls_party_is_monitor(k->party_mode)) {
        return BLEND_ESTATE;
    }
    return blend_sip_call_party_complete(c->sip, k->call);
}

/* The party took the agent's place (attended transfer, or the agent left a conference). */
static void on_party_completed(struct blend_calls *c, struct call *k,
                               const struct blend_sip_event *ev)
{
    json_t *doc = party_doc(k);
    json_object_set_new(doc, "from_agent_id", json_integer(k->agent));
    json_object_set_new(doc, "cause", json_string(ev->cause));
    record(c, "call.party_completed", k->interaction, doc);
    int64_t to = k->party_agent;
    if (to > 0 && k->connected) {
        /* The engine hands the contact to the agent already on the phone with the customer:
         * their engagement becomes this contact. */
        struct blend_acd_event t = {.type = BLEND_ACD_EV_CONTACT_TRANSFER};
        t.u.transfer.contact = k->interaction;
        t.u.transfer.agent = k->agent;
        t.u.transfer.to_agent = to;
        t.u.transfer.connect = 1;
        k->handover = 1; /* the legs are already swapped: its effects touch no SIP leg */
        int rc = blend__routing_step_detached(c->app->routing, &t);
        k->handover = 0;
        if (rc) {
            BLEND_LOG_WARN("calls",
                           "handover of interaction %" PRId64 " to agent %" PRId64
                           " refused by routing: %s",
                           k->interaction, to, blend_strerror(rc));
        } else {
            k->party_engaged = 0; /* the engagement became the contact */
        }
    } else if (k->connected && !k->external) {
        /* An external number took over: the agent's part is over (wrap-up). */
        k->external = 1;
        step(c, BLEND_ACD_EV_CONTACT_END, k->interaction, k->agent);
    }
    if (!k->external) {
        k->agent = to;
    }
    k->party_mode = 0;
    k->party_up = 0;
    k->party_agent = 0;
    k->party_number[0] = '\0';
}

static void on_party_event(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_PARTY_RINGING:
        record(c, "call.party_ringing", k->interaction, party_doc(k));
        break;
    case BLEND_SIP_EV_PARTY_ANSWERED:
        k->party_up = 1;
        party_engage(c, k, 1);
        record(c, "call.party_answered", k->interaction, party_doc(k));
        break;
    case BLEND_SIP_EV_PARTY_MODE:
        k->party_mode = ev->party_mode;
        record(c, "call.party_mode", k->interaction, party_doc(k));
        break;
    case BLEND_SIP_EV_PARTY_ENDED: {
        json_t *doc = party_doc(k);
        json_object_set_new(doc, "cause", json_string(ev->cause));
        json_object_set_new(doc, "sip_code", json_integer(ev->sip_code));
        record(c, "call.party_ended", k->interaction, doc);
        party_engage(c, k, 0);
        k->party_mode = 0;
        k->party_up = 0;
        k->party_agent = 0;
        k->party_number[0] = '\0';
        break;
    }
    case BLEND_SIP_EV_PARTY_COMPLETED:
        on_party_completed(c, k, ev);
        break;
    default:
        break;
    }
}

/* ---- Click-to-call ------------------------------------------------------------------------ */

/* Writes the state of a click-to-call's row (routing does not own it). */
static void row_state(struct blend_calls *c, int64_t id, const char *state)
{
    json_t *patch = json_pack("{s:s}", "state", state);
    if (strcmp(state, "ended") == 0) {
        char ts[BLEND__ISO_BYTES];
        blend__wall_iso(ts);
        json_object_set_new(patch, "ended_at", json_string(ts));
    }
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions, patch) : NULL;
    if (!op) {
        if (!w) {
            json_decref(patch);
        }
        blend_write_destroy(w);
        BLEND_LOG_WARN("calls", "interaction %" PRId64 " not marked %s: no memory", id, state);
        return;
    }
    op->id = id;
    snprintf(w->actor, sizeof w->actor, "sip");
    blend__app_submit_detached(c->app, w);
}

static int agent_engage(struct blend_calls *c, int64_t agent, int on)
{
    struct blend_acd_event ev = {.type =
                                     on ? BLEND_ACD_EV_AGENT_ENGAGE : BLEND_ACD_EV_AGENT_RELEASE};
    ev.u.engage.agent = agent;
    ev.u.engage.channel = BLEND_CH_VOICE;
    return blend__routing_step_detached(c->app->routing, &ev);
}

struct ctc {
    struct blend_calls *calls;
    struct blend_http_req *req;
    int64_t agent;
    int customer_first;
    char number[BLEND_SIP_EXTENSION_BYTES_MAX];
    char caller_id[BLEND_SIP_EXTENSION_BYTES_MAX];
};

static void ctc_created(struct blend_write *w, void *arg)
{
    struct ctc *x = arg;
    struct blend_calls *c = x->calls;
    if (w->rc) {
        blend__respond_write_error(x->req, w, 0);
        blend_write_destroy(w);
        (void)agent_engage(c, x->agent, 0);
        blend_free(x);
        return;
    }
    int64_t id = w->ops[0].id_out;
    blend_write_destroy(w);
    uint64_t call = 0;
    struct call *k = NULL;
    int rc = blend__calls_add(c, 0, &k); /* room first: the thread's call needs a slot */
    if (rc == 0) {
        rc = blend_sip_originate(c->sip, &call, x->customer_first ? 0 : x->agent, x->number,
                                 x->caller_id);
        if (rc) {
            forget(c, k);
        }
    }
    if (rc) {
        (void)agent_engage(c, x->agent, 0);
        row_state(c, id, "ended");
        if (rc == BLEND_ESTATE) {
            blend_http_respond_error(x->req, 409, "conflict", "no outbound trunk is configured",
                                     NULL);
        } else {
            blend__routing_refuse(x->req, rc);
        }
        blend_free(x);
        return;
    }
    k->call = call;
    k->interaction = id;
    k->state = CALL_ROUTED;
    k->outbound = 1;
    k->customer_first = x->customer_first;
    k->agent = x->agent;
    snprintf(k->caller, sizeof k->caller, "%s", x->caller_id);
    snprintf(k->dialled, sizeof k->dialled, "%s", x->number);
    json_t *doc =
        json_pack("{s:I, s:I, s:s, s:s, s:s}", "interaction_id", (json_int_t)id, "agent_id",
                  (json_int_t)x->agent, "number", x->number, "order",
                  x->customer_first ? "customer-first" : "agent-first", "call", "dialling");
    record(c, "call.originated", id, json_deep_copy(doc));
    blend_http_respond_json(x->req, 202, doc);
    blend_free(x);
}

int blend__calls_click_to_call(struct blend_calls *c, struct blend_http_req *req, int64_t agent,
                               const char *agent_name, const char *number, const char *caller_id,
                               int customer_first)
{
    if (!c) {
        return BLEND_ENOENT;
    }
    struct ctc *x = blend_calloc(1, sizeof *x);
    if (!x) {
        return BLEND_ENOMEM;
    }
    int rc = agent_engage(c, agent, 1);
    if (rc) {
        blend_free(x);
        return rc;
    }
    x->calls = c;
    x->req = req;
    x->agent = agent;
    x->customer_first = customer_first;
    snprintf(x->number, sizeof x->number, "%s", number);
    snprintf(x->caller_id, sizeof x->caller_id, "%s", caller_id);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "channel", "voice", "direction", "outbound",
                            "agent", agent_name, "state", "new");
    struct blend_write *w = blend_write_create();
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_interactions, doc)) {
        if (!w) {
            json_decref(doc);
        }
        blend_write_destroy(w);
        (void)agent_engage(c, agent, 0);
        blend_free(x);
        return BLEND_ENOMEM;
    }
    rc = blend__app_submit(c->app, req, w, ctc_created, x);
    if (rc == BLEND_HTTP_DONE) {
        /* Not submitted (answered 503): nothing will call back. */
        (void)agent_engage(c, agent, 0);
        blend_free(x);
    }
    return rc;
}

/* The SIP events of a click-to-call: none of them is a routing step; the agent's engagement
 * ends with the call. */
static void on_outbound_event(struct blend_calls *c, struct call *k,
                              const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_AGENT_RINGING:
        record_agent(c, "call.ringing", k, ev->agent_id);
        return;
    case BLEND_SIP_EV_AGENT_ANSWERED:
        record_agent(c, "call.answered", k, ev->agent_id);
        if (++k->answered_legs == 2) {
            row_state(c, k->interaction, "connected");
        }
        return;
    case BLEND_SIP_EV_AGENT_FAILED:
        record_agent_failed(c, k, ev);
        if (k->customer_first) {
            (void)blend_sip_call_hangup(c->sip, k->call, "agent-failed");
        }
        return;
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        record(c, "call.outbound_progress", k->interaction,
               json_pack("{s:I, s:s, s:i, s:s}", "interaction_id", (json_int_t)k->interaction,
                         "leg", ev->leg, "sip_code", ev->sip_code, "cause", ev->cause));
        if (strcmp(ev->leg, "customer") == 0 && ev->sip_code >= 200 && ev->sip_code < 300) {
            if (++k->answered_legs == 2) {
                row_state(c, k->interaction, "connected");
            }
            if (k->customer_first) {
                (void)blend_sip_call_offer(c->sip, k->call, k->agent, CALLS_RING_SAFETY_S);
            }
        }
        return;
    case BLEND_SIP_EV_CALL_ENDED: {
        record_ended(c, k->interaction, ev);
        int64_t id = k->interaction, agent = k->agent;
        forget(c, k);
        row_state(c, id, "ended");
        int rc = agent_engage(c, agent, 0);
        if (rc) {
            BLEND_LOG_WARN("calls", "agent %" PRId64 " not released after call %" PRId64 ": %s",
                           agent, id, blend_strerror(rc));
        }
        return;
    }
    default:
        return; /* holds, keys and the rest are not recorded for click-to-call */
    }
}

/* ---- Calls from agents' phones ------------------------------------------------------------ */

/*
 * An INVITE from a registered phone (agent A) whose number matched no entry point. Another
 * agent's extension is an internal call: B's phones ring, and the two are bridged when one
 * answers; no interaction is created (it is not customer work) and its steps are recorded as
 * "call.internal" with subject agents/<A>. Any other dial string is an outbound call through
 * the trunk: an outbound voice interaction of A (as an agent-first click-to-call whose agent
 * leg is already up), dialled with blend_sip_call_transfer_number so A's leg is answered when
 * the number answers. Invariant: routing counts A engaged on voice from the INVITE and B from
 * its answer, and both are released at CALL_ENDED whatever the path (refusal, failure, cancel,
 * either side hanging up). A logged-out agent is not in routing: their calls go on without an
 * engagement.
 */

/* 1 when `agent` may not take an internal call now: already in one of ours (calling, called,
 * ringing or talking), or busy in routing on voice (a connected or offered contact, or an
 * engagement: click-to-call, third party, phone call). */
static int phone_agent_busy(struct blend_calls *c, int64_t agent)
{
    for (size_t i = 0; i < c->count; i++) {
        const struct call *k = &c->calls[i];
        if (k->phone && (k->phone_from == agent || k->phone_to == agent)) {
            return 1;
        }
    }
    struct blend_acd_agent_view v;
    if (blend_acd_agent(blend__routing_acd(c->app->routing), agent, &v) != 0) {
        return 0; /* not in routing: logged out */
    }
    return v.active[BLEND_CH_VOICE] + v.offered[BLEND_CH_VOICE] + v.engaged[BLEND_CH_VOICE] > 0;
}

/* 1 when at least one phone is registered for the agent. */
static int phone_registered(struct blend_calls *c, int64_t agent)
{
    json_t *ph = blend__phones_json(c->app->phones, agent);
    int registered = json_is_true(json_object_get(ph, "registered"));
    json_decref(ph);
    return registered;
}

/* Engages the calling agent on voice. 0 with *engaged = 1, or 0 with *engaged = 0 when the
 * agent is logged out (routing offers them nothing anyway); the engine's code (BLEND_ESTATE:
 * no free voice unit, i.e. on a customer call) when a logged-in agent cannot be engaged. */
static int phone_engage_caller(struct blend_calls *c, int64_t agent, int *engaged)
{
    int rc = agent_engage(c, agent, 1);
    if (rc == 0) {
        *engaged = 1;
        return 0;
    }
    struct blend_acd_agent_view v;
    if (blend_acd_agent(blend__routing_acd(c->app->routing), agent, &v) != 0 ||
        v.presence == BLEND_PRESENCE_LOGGED_OUT) {
        *engaged = 0;
        return 0;
    }
    return rc;
}

static void phone_release(struct blend_calls *c, int64_t agent, int engaged)
{
    if (!engaged) {
        return;
    }
    int rc = agent_engage(c, agent, 0);
    if (rc) {
        BLEND_LOG_WARN("calls", "agent %" PRId64 " not released after a phone call: %s", agent,
                       blend_strerror(rc));
    }
}

/* Refuses the phone's INVITE (nothing of ours exists for it yet). */
static void phone_refuse(struct blend_calls *c, const struct blend_sip_event *ev, int code,
                         const char *reason, const char *why)
{
    BLEND_LOG_INFO("calls", "call from agent %" PRId64 " (%s) to %s refused with %d: %s",
                   ev->agent_id, ev->caller, ev->dialled, code, why);
    (void)blend_sip_call_reject(c->sip, ev->call, code, reason);
}

/* "call.internal" {from_agent_id, to_agent_id, state, ...extra (stolen)}, subject agents/<A>;
 * agent_id names A, who sees it on the event stream. */
static void internal_record(struct blend_calls *c, const struct call *k, const char *state,
                            json_t *extra)
{
    json_t *doc = json_pack("{s:I, s:I, s:I, s:s}", "agent_id", (json_int_t)k->phone_from,
                            "from_agent_id", (json_int_t)k->phone_from, "to_agent_id",
                            (json_int_t)k->phone_to, "state", state);
    if (doc && extra) {
        json_object_update(doc, extra);
    }
    json_decref(extra);
    if (!doc) {
        return;
    }
    char subject[64];
    snprintf(subject, sizeof subject, "agents/%" PRId64, k->phone_from);
    blend__app_record_event(c->app, "sip", "call.internal", subject, doc);
}

/* 1 when `agent` talks to a customer on one of our calls: a call they place to another agent
 * meanwhile is a consultation (their capacity is the customer's already: no engagement), which
 * their phone may turn into an attended transfer (REFER with Replaces). */
static int on_customer_call(struct blend_calls *c, int64_t agent)
{
    for (size_t i = 0; i < c->count; i++) {
        const struct call *k = &c->calls[i];
        if (!k->phone && k->connected && !k->external && k->agent == agent) {
            return 1;
        }
    }
    return 0;
}

static void internal_start(struct blend_calls *c, const struct blend_sip_event *ev, int64_t to)
{
    if (to == ev->agent_id) {
        phone_refuse(c, ev, 404, "Not Found", "the agent's own extension");
        return;
    }
    if (phone_agent_busy(c, to)) {
        phone_refuse(c, ev, 486, "Busy Here", "the agent called is busy");
        return;
    }
    if (!phone_registered(c, to)) {
        phone_refuse(c, ev, 480, "Temporarily Unavailable", "the agent called has no phone");
        return;
    }
    int engaged = 0;
    if (phone_engage_caller(c, ev->agent_id, &engaged) != 0 &&
        !on_customer_call(c, ev->agent_id)) {
        phone_refuse(c, ev, 486, "Busy Here", "the calling agent is on a call");
        return;
    }
    struct call *k;
    if (blend__calls_add(c, ev->call, &k) != 0) {
        phone_release(c, ev->agent_id, engaged);
        phone_refuse(c, ev, 503, "Service Unavailable", "no memory");
        return;
    }
    k->state = CALL_ROUTED;
    k->phone = CALL_PHONE_INTERNAL;
    k->phone_from = ev->agent_id;
    k->phone_to = to;
    k->phone_from_engaged = engaged;
    snprintf(k->caller, sizeof k->caller, "%s", ev->caller);
    snprintf(k->dialled, sizeof k->dialled, "%s", ev->dialled);
    int rc = blend_sip_call_offer(c->sip, ev->call, to, CALLS_INTERNAL_RING_S);
    if (rc) {
        /* CALL_ENDED follows the refusal and releases the caller. */
        BLEND_LOG_WARN("calls", "internal call %" PRIu64 " not offered: %s", ev->call,
                       blend_strerror(rc));
        (void)blend_sip_call_reject(c->sip, ev->call, 503, "Service Unavailable");
    }
}

/* The SIP events of an internal call. The caller's leg is the call's "customer" leg, the
 * called agent's phone its "agent" leg. */
static void on_internal_event(struct blend_calls *c, struct call *k,
                              const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_AGENT_RINGING:
        (void)blend_sip_call_ringing(c->sip, k->call);
        internal_record(c, k, "ringing", NULL);
        return;
    case BLEND_SIP_EV_AGENT_ANSWERED: {
        k->phone_answered = 1;
        int rc = agent_engage(c, k->phone_to, 1);
        k->phone_to_engaged = rc == 0;
        if (rc) {
            BLEND_LOG_DEBUG("calls",
                            "agent %" PRId64 " not engaged for internal call %" PRIu64 ": %s",
                            k->phone_to, k->call, blend_strerror(rc));
        }
        internal_record(c, k, "answered", NULL);
        return;
    }
    case BLEND_SIP_EV_AGENT_FAILED: {
        /* The called agent's answer goes back to the caller; "no phone registered" (408
         * no-binding, the phone went between our check and the offer) is 480. */
        int code = strcmp(ev->cause, "no-binding") == 0 ? 480 : ev->sip_code;
        if (code < 300 || code > 699) {
            code = 480;
        }
        internal_record(c, k, "failed",
                        json_pack("{s:i, s:s}", "sip_code", code, "cause", ev->cause));
        (void)blend_sip_call_reject(c->sip, k->call, code, NULL);
        return;
    }
    case BLEND_SIP_EV_TRANSFER_REQUESTED:
        /* The called agent's phone asks to hand an internal call on: not done (the calling
         * agent can call the other agent directly); its REFER is refused. */
        BLEND_LOG_INFO("calls", "transfer of internal call %" PRIu64 " to %s not supported",
                       k->call, ev->dialled);
        (void)blend_sip_call_refer_fail(c->sip, k->call, 501);
        return;
    case BLEND_SIP_EV_CALL_ENDED: {
        internal_record(c, k, "ended",
                        json_pack("{s:s, s:i, s:s}", "leg", ev->leg, "sip_code", ev->sip_code,
                                  "cause", ev->cause));
        int64_t from = k->phone_from, to = k->phone_to;
        int from_engaged = k->phone_from_engaged, to_engaged = k->phone_to_engaged;
        forget(c, k);
        phone_release(c, from, from_engaged);
        phone_release(c, to, to_engaged);
        return;
    }
    default:
        return; /* holds and keys between two agents are not recorded */
    }
}

struct phone_out {
    struct blend_calls *calls;
    uint64_t call;
};

/* The outbound interaction exists (or could not be written): the number is dialled. */
static void outbound_created(struct blend_write *w, void *arg)
{
    struct phone_out *x = arg;
    struct blend_calls *c = x->calls;
    struct call *k = by_call(c, x->call);
    blend_free(x);
    int wrc = w->rc;
    int64_t id = wrc ? 0 : w->ops[0].id_out;
    blend_write_destroy(w);
    BLEND_ASSERT(k && k->phone == CALL_PHONE_OUTBOUND); /* kept until this runs */
    if (wrc) {
        BLEND_LOG_WARN("calls", "call from agent %" PRId64 " to %s not placed: %s", k->phone_from,
                       k->dialled, blend_strerror(wrc));
        if (k->state == CALL_GONE) {
            forget(c, k);
            return;
        }
        k->state = CALL_ROUTED; /* CALL_ENDED of the refusal closes it */
        (void)blend_sip_call_reject(c->sip, k->call, 503, "Service Unavailable");
        return;
    }
    k->interaction = id;
    record(c, "call.originated", id,
           json_pack("{s:I, s:I, s:s, s:s, s:s}", "interaction_id", (json_int_t)id, "agent_id",
                     (json_int_t)k->phone_from, "number", k->dialled, "order", "phone", "call",
                     "dialling"));
    if (k->state == CALL_GONE) {
        /* The phone hung up while the row was being written: the caller is released already. */
        record(c, "call.ended", id,
               json_pack("{s:I, s:s, s:i, s:s, s:i, s:i}", "interaction_id", (json_int_t)id, "leg",
                         k->phone_end_leg, "sip_code", k->phone_end_code, "cause",
                         k->phone_end_cause, "rtp_to_agent", 0, "rtp_to_customer", 0));
        forget(c, k);
        row_state(c, id, "ended");
        return;
    }
    k->state = CALL_ROUTED;
    int rc = blend_sip_call_transfer_number(c->sip, k->call, k->dialled);
    if (rc) {
        BLEND_LOG_WARN("calls", "call from agent %" PRId64 " to %s not dialled: %s", k->phone_from,
                       k->dialled, blend_strerror(rc));
        (void)blend_sip_call_reject(c->sip, k->call, 503,
                                    rc == BLEND_ESTATE ? "No Trunk" : "Service Unavailable");
    }
}

/* "call.consult" {agent_id, number, state, ...extra (stolen)}, subject agents/<A>: the steps of a
 * consultation with a number placed from an agent's phone during a customer call. */
static void consult_record(struct blend_calls *c, const struct call *k, const char *state,
                           json_t *extra)
{
    json_t *doc = json_pack("{s:I, s:s, s:s}", "agent_id", (json_int_t)k->phone_from, "number",
                            k->dialled, "state", state);
    if (doc && extra) {
        json_object_update(doc, extra);
    }
    json_decref(extra);
    if (!doc) {
        return;
    }
    char subject[64];
    snprintf(subject, sizeof subject, "agents/%" PRId64, k->phone_from);
    blend__app_record_event(c->app, "sip", "call.consult", subject, doc);
}

/* An agent on a customer call dials a number: a consultation (docs/voice.md §Transfer). No
 * interaction (the customer's is the agent's work) and no engagement (their capacity is the
 * customer's already); the phone may hand its customer to the number (REFER with Replaces). */
static void consult_start(struct blend_calls *c, const struct blend_sip_event *ev)
{
    struct call *k;
    if (blend__calls_add(c, ev->call, &k) != 0) {
        phone_refuse(c, ev, 503, "Service Unavailable", "no memory");
        return;
    }
    k->state = CALL_ROUTED;
    k->phone = CALL_PHONE_CONSULT;
    k->phone_from = ev->agent_id;
    snprintf(k->caller, sizeof k->caller, "%s", ev->caller);
    snprintf(k->dialled, sizeof k->dialled, "%s", ev->dialled);
    int rc = blend_sip_call_transfer_number(c->sip, ev->call, ev->dialled);
    if (rc) {
        /* CALL_ENDED follows the refusal and forgets it. */
        (void)blend_sip_call_reject(c->sip, ev->call, 503, "Service Unavailable");
    }
    consult_record(c, k, "dialling", NULL);
}

static void on_consult_event(struct blend_calls *c, struct call *k,
                             const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        if (ev->sip_code == 180 || ev->sip_code == 183) {
            (void)blend_sip_call_ringing(c->sip, k->call);
        } else if (ev->sip_code >= 200 && ev->sip_code < 300 && !k->phone_answered) {
            k->phone_answered = 1;
            consult_record(c, k, "answered", NULL);
        } else if (ev->sip_code >= 300) {
            consult_record(c, k, "failed", json_pack("{s:i}", "sip_code", ev->sip_code));
        }
        return;
    case BLEND_SIP_EV_CALL_ENDED:
        consult_record(c, k, "ended",
                       json_pack("{s:s, s:i, s:s}", "leg", ev->leg, "sip_code", ev->sip_code,
                                 "cause", ev->cause));
        forget(c, k);
        return;
    default:
        return;
    }
}

static void outbound_start(struct blend_calls *c, const struct blend_sip_event *ev)
{
    if (!c->app->cfg.sip_trunk_uri[0]) {
        phone_refuse(c, ev, 503, "No Trunk", "no outbound trunk is configured");
        return;
    }
    json_t *agent = NULL;
    if (blend_store_get(c->app->store, &blend_res_agents, ev->agent_id, 0, &agent) != 0) {
        phone_refuse(c, ev, 503, "Service Unavailable", "the calling agent is unknown");
        return;
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:O?, s:s, s:s}", "channel", "voice", "direction", "outbound",
                  "agent", json_object_get(agent, "name"), "state", "new", "address", ev->dialled);
    json_decref(agent);
    int engaged = 0;
    int rc = doc ? phone_engage_caller(c, ev->agent_id, &engaged) : BLEND_ENOMEM;
    if (rc != 0 && doc && on_customer_call(c, ev->agent_id)) {
        json_decref(doc);
        consult_start(c, ev); /* a consultation with a number during a customer call */
        return;
    }
    if (rc != 0) {
        json_decref(doc);
        phone_refuse(c, ev, 486, "Busy Here", "the calling agent is on a call");
        return;
    }
    struct phone_out *x = blend_malloc(sizeof *x);
    struct blend_write *w = x ? blend_write_create() : NULL;
    struct call *k = NULL;
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_interactions, doc) ||
        blend__calls_add(c, ev->call, &k) != 0) {
        if (!w) {
            json_decref(doc); /* blend_write_add takes it even when it fails */
        }
        blend_write_destroy(w);
        blend_free(x);
        phone_release(c, ev->agent_id, engaged);
        phone_refuse(c, ev, 503, "Service Unavailable", "no memory");
        return;
    }
    k->state = CALL_ARRIVING;
    k->phone = CALL_PHONE_OUTBOUND;
    k->phone_from = ev->agent_id;
    k->phone_from_engaged = engaged;
    k->agent = ev->agent_id;
    snprintf(k->caller, sizeof k->caller, "%s", ev->caller);
    snprintf(k->dialled, sizeof k->dialled, "%s", ev->dialled);
    x->calls = c;
    x->call = ev->call;
    snprintf(w->actor, sizeof w->actor, "sip");
    /* On a failed submit outbound_created runs at once and refuses the call. */
    (void)blend__app_submit(c->app, NULL, w, outbound_created, x);
}

/* The SIP events of an outbound call from a phone: the phone is the "customer" leg, the number
 * the "transfer" leg. */
static void on_outbound_phone_event(struct blend_calls *c, struct call *k,
                                    const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        record(c, "call.outbound_progress", k->interaction,
               json_pack("{s:I, s:s, s:i, s:s}", "interaction_id", (json_int_t)k->interaction,
                         "leg", ev->leg, "sip_code", ev->sip_code, "cause", ev->cause));
        if (ev->sip_code == 180 || ev->sip_code == 183) {
            (void)blend_sip_call_ringing(c->sip, k->call);
        } else if (ev->sip_code >= 200 && ev->sip_code < 300 && !k->phone_answered) {
            k->phone_answered = 1;
            row_state(c, k->interaction, "connected");
        }
        /* A failure code: the thread refuses the phone with it (CALL_ENDED follows). */
        return;
    case BLEND_SIP_EV_CALL_ENDED: {
        if (k->state == CALL_ARRIVING) {
            /* The row is still being written: outbound_created records the end. */
            k->state = CALL_GONE;
            k->phone_end_code = ev->sip_code;
            snprintf(k->phone_end_leg, sizeof k->phone_end_leg, "%s", ev->leg);
            snprintf(k->phone_end_cause, sizeof k->phone_end_cause, "%s", ev->cause);
            phone_release(c, k->phone_from, k->phone_from_engaged);
            k->phone_from_engaged = 0;
            return;
        }
        record_ended(c, k->interaction, ev);
        int64_t id = k->interaction, from = k->phone_from;
        int engaged = k->phone_from_engaged;
        forget(c, k);
        row_state(c, id, "ended");
        phone_release(c, from, engaged);
        return;
    }
    default:
        return; /* holds, keys and transfers are not handled on these calls */
    }
}

static void on_phone_event(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev)
{
    if (k->phone == CALL_PHONE_INTERNAL) {
        on_internal_event(c, k, ev);
    } else if (k->phone == CALL_PHONE_CONSULT) {
        on_consult_event(c, k, ev);
    } else {
        on_outbound_phone_event(c, k, ev);
    }
}

/* A dial string for the trunk: digits, '+', '*' and '#'. */
static int phone_number_ok(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789+*#") == strlen(s);
}

static void phone_incoming(struct blend_calls *c, const struct blend_sip_event *ev)
{
    BLEND_ASSERT(ev->agent_id > 0);
    json_t *b = NULL;
    if (blend_store_find(c->app->store, &blend_res_agents, "extension", ev->dialled, 0, &b) == 0) {
        int64_t to = json_integer_value(json_object_get(b, "id"));
        json_decref(b);
        internal_start(c, ev, to);
        return;
    }
    if (!phone_number_ok(ev->dialled)) {
        phone_refuse(c, ev, 404, "Not Found", "no such extension or number");
        return;
    }
    outbound_start(c, ev);
}

/* ---- Recording --------------------------------------------------------------------------- */

const char *blend__calls_recordings_dir(const struct blend_calls *c)
{
    return c->recordings_dir;
}

/* The live calls for the wallboard: each with its interaction (0 for an internal call between
 * agents), the agent talking, who called and what, its state, and the third party if any. */
json_t *blend__calls_list_json(struct blend_calls *c)
{
    json_t *out = json_array();
    for (size_t i = 0; c && out && i < c->count; i++) {
        const struct call *k = &c->calls[i];
        const char *state = k->phone == CALL_PHONE_INTERNAL ? "internal"
                            : k->external                  ? "external"
                            : k->connected                 ? "connected"
                            : k->ivr                       ? "flow"
                            : k->outbound                  ? "dialling"
                                                           : "waiting";
        int64_t agent = k->phone == CALL_PHONE_INTERNAL ? k->phone_from : k->agent;
        json_t *one = json_pack("{s:I, s:I, s:o, s:s, s:s, s:s, s:o}", "call", (json_int_t)k->call,
                                "interaction_id", (json_int_t)k->interaction, "agent_id",
                                agent > 0 ? json_integer(agent) : json_null(), "caller",
                                k->caller, "dialled", k->dialled, "state", state, "party",
                                k->party_mode ? party_doc(k) : json_null());
        if (one && k->phone == CALL_PHONE_INTERNAL) {
            json_object_set_new(one, "to_agent_id", json_integer(k->phone_to));
        }
        if (one) {
            json_array_append_new(out, one);
        }
    }
    return out;
}

int blend__calls_hold(struct blend_calls *c, int64_t id, int on)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->connected || k->external) {
        return BLEND_ENOENT;
    }
    return blend_sip_call_hold(c->sip, k->call, on);
}

int blend__calls_record(struct blend_calls *c, int64_t id, const char *action)
{
    struct call *k = c ? by_interaction(c, id) : NULL;
    if (!k || !k->connected) {
        return BLEND_ENOENT;
    }
    if (strcmp(action, "start") == 0) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%" PRId64 "-%" PRId64 ".wav", c->recordings_dir, id,
                 blend__wall_ms());
        return blend_sip_call_record_start(c->sip, k->call, path);
    }
    if (strcmp(action, "pause") == 0) {
        k->rec_paused = 1;
        return blend_sip_call_record_pause(c->sip, k->call);
    }
    if (strcmp(action, "resume") == 0) {
        k->rec_paused = 0;
        return blend_sip_call_record_resume(c->sip, k->call);
    }
    if (strcmp(action, "stop") == 0) {
        return blend_sip_call_record_stop(c->sip, k->call);
    }
    return BLEND_EINVAL;
}

/* SHA-256 (hex) and size of a finished recording. */
static int file_digest(const char *path, char hex[65], int64_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return BLEND_ENOENT;
    }
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char buf[65536], out[crypto_hash_sha256_BYTES];
    size_t n;
    int64_t total = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        crypto_hash_sha256_update(&st, buf, n);
        total += (int64_t)n;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        return BLEND_EIO;
    }
    crypto_hash_sha256_final(&st, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
    *bytes = total;
    return 0;
}

/* A recording was finalised: its file is checksummed and becomes a recordings row. */
void blend__calls_recording_row(struct blend_calls *c, int64_t interaction,
                                const struct blend_sip_event *ev)
{
    char hex[65];
    int64_t bytes = 0;
    int rc = file_digest(ev->recording_path, hex, &bytes);
    if (rc) {
        BLEND_LOG_ERROR("calls", "recording %s of interaction %" PRId64 " unreadable: %s",
                        ev->recording_path, interaction, blend_strerror(rc));
        return;
    }
    const char *slash = strrchr(ev->recording_path, '/');
    json_t *spans = json_array();
    for (int i = 0; i < ev->paused_count && i < BLEND_SIP_REC_SPANS_MAX; i++) {
        json_array_append_new(spans, json_pack("{s:I, s:I}", "start_ms",
                                               (json_int_t)ev->paused[i].start_ms, "end_ms",
                                               (json_int_t)ev->paused[i].end_ms));
    }
    json_t *doc = json_pack("{s:I, s:s, s:I, s:I, s:s, s:{s:o, s:i}, s:s}", "interaction",
                            (json_int_t)interaction, "file", slash ? slash + 1 : ev->recording_path,
                            "duration_ms", (json_int_t)ev->duration_ms, "bytes", (json_int_t)bytes,
                            "sha256", hex, "paused", "spans", spans, "count", ev->paused_count,
                            "state", ev->rec_error ? "damaged" : "complete");
    if (!doc) {
        return;
    }
    struct blend_write *w = blend_write_create();
    if (!w || !blend_write_add(w, BLEND_OP_CREATE, &blend_res_recordings, doc)) {
        blend_write_destroy(w);
        return;
    }
    snprintf(w->actor, sizeof w->actor, "sip");
    blend__app_submit_detached(c->app, w);
}

/* ---- Callbacks and voicemails ------------------------------------------------------------ */

void blend__calls_mark_kind(struct blend_calls *c, int64_t interaction, const char *kind)
{
    json_t *patch = json_pack("{s:s}", "kind", kind);
    struct blend_write *w = patch ? blend_write_create() : NULL;
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions, patch) : NULL;
    if (!op) {
        if (!w) {
            json_decref(patch);
        }
        blend_write_destroy(w);
        BLEND_LOG_WARN("calls", "interaction %" PRId64 " not marked %s: no memory", interaction,
                       kind);
        return;
    }
    op->id = interaction;
    snprintf(w->actor, sizeof w->actor, "ivr");
    blend__app_submit_detached(c->app, w);
}

struct voicemail_ctx {
    struct blend_calls *calls;
    struct blend_sip_event ev; /* RECORDING_ENDED, copied */
    char caller[BLEND_SIP_EXTENSION_BYTES_MAX];
};

static void vm_created(struct blend_app *app, void *arg, int64_t id)
{
    (void)app;
    struct voicemail_ctx *x = arg;
    blend__calls_recording_row(x->calls, id, &x->ev);
    record(x->calls, "call.voicemail", id,
           json_pack("{s:I, s:s, s:s, s:I}", "interaction_id", (json_int_t)id, "caller", x->caller,
                     "file", x->ev.recording_path, "duration_ms", (json_int_t)x->ev.duration_ms));
}

static void vm_done(struct blend_app *app, void *arg, int rc, json_t *doc)
{
    (void)app;
    (void)doc;
    struct voicemail_ctx *x = arg;
    if (rc) {
        BLEND_LOG_ERROR("calls", "voicemail %s from %s not stored: %s", x->ev.recording_path,
                        x->caller, blend_strerror(rc));
    }
    blend_free(x);
}

void blend__calls_voicemail(struct blend_calls *c, const struct call *k, const char *queue,
                            const struct blend_sip_event *ev)
{
    if (ev->rec_error || ev->duration_ms < BLEND__VOICEMAIL_MS_MIN) {
        BLEND_LOG_INFO("calls", "voicemail from %s discarded (%" PRIu64 " ms, error %d)", k->caller,
                       ev->duration_ms, ev->rec_error);
        (void)unlink(ev->recording_path);
        return;
    }
    struct voicemail_ctx *x = blend_calloc(1, sizeof *x);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "channel", "voice", "direction",
                             "inbound", "queue", queue, "kind", "voicemail", "address", k->caller);
    if (body && k->language[0]) {
        json_object_set_new(body, "language", json_string(k->language));
    }
    int rc = x && body ? 0 : BLEND_ENOMEM;
    if (rc == 0) {
        x->calls = c;
        x->ev = *ev;
        snprintf(x->caller, sizeof x->caller, "%s", k->caller);
        rc = blend__interaction_arrive(c->app, body, vm_created, vm_done, x);
        body = NULL;
    }
    if (rc) {
        json_decref(body);
        blend_free(x);
        BLEND_LOG_ERROR("calls", "voicemail %s from %s not stored: %s", ev->recording_path,
                        k->caller, blend_strerror(rc));
    }
}

/* The engine offered a voice interaction that has no call: a callback is dialled (the agent's
 * phone first; its answer accepts the offer, then the customer's number); a voicemail waits
 * for the agent's accept in the desktop. */
static void offer_callback(struct blend_calls *c, const struct blend_acd_effect *f)
{
    json_t *doc;
    if (blend_store_get(c->app->store, &blend_res_interactions, f->contact, 0, &doc) != 0) {
        return;
    }
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const char *number = json_string_value(json_object_get(doc, "address"));
    if (!kind || strcmp(kind, "callback") != 0 || !number || !number[0]) {
        json_decref(doc);
        return;
    }
    const char *cid = c->app->cfg.sip_trunk_caller_id && c->app->cfg.sip_trunk_caller_id[0]
                          ? c->app->cfg.sip_trunk_caller_id
                          : "callback";
    uint64_t call = 0;
    struct call *k = NULL;
    int rc = blend__calls_add(c, 0, &k);
    if (rc == 0) {
        rc = blend_sip_originate(c->sip, &call, f->agent, number, cid);
        if (rc) {
            forget(c, k);
        }
    }
    if (rc) {
        BLEND_LOG_WARN("calls", "callback of interaction %" PRId64 " not dialled: %s", f->contact,
                       blend_strerror(rc));
        json_decref(doc);
        step(c, BLEND_ACD_EV_OFFER_REJECT, f->contact, f->agent);
        return;
    }
    k->call = call;
    k->interaction = f->contact;
    k->state = CALL_ROUTED;
    k->callback_dial = 1;
    k->agent = f->agent;
    snprintf(k->caller, sizeof k->caller, "%s", number);
    record(c, "call.callback_dial", f->contact,
           json_pack("{s:I, s:I, s:s}", "interaction_id", (json_int_t)f->contact, "agent_id",
                     (json_int_t)f->agent, "number", number));
    json_decref(doc);
}

/* Routing about a callback being dialled. */
static void callback_dial_effect(struct blend_calls *c, struct call *k,
                                 const struct blend_acd_effect *f)
{
    switch (f->type) {
    case BLEND_ACD_FX_CONNECTED:
        k->connected = 1;
        k->agent = f->agent;
        break;
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
        if (!k->connected) {
            (void)blend_sip_call_hangup(c->sip, k->call, "withdrawn");
        }
        break;
    case BLEND_ACD_FX_ENDED:
        (void)blend_sip_call_hangup(c->sip, k->call, "ended");
        break;
    default:
        break;
    }
}

/* The SIP events of a callback being dialled; 1 when handled here. */
static int on_callback_dial_event(struct blend_calls *c, struct call *k,
                                  const struct blend_sip_event *ev)
{
    switch (ev->kind) {
    case BLEND_SIP_EV_AGENT_ANSWERED:
        record_agent(c, "call.answered", k, ev->agent_id);
        if (!k->connected) {
            step(c, BLEND_ACD_EV_OFFER_ACCEPT, k->interaction, ev->agent_id);
        }
        return 1;
    case BLEND_SIP_EV_AGENT_FAILED:
        record_agent_failed(c, k, ev);
        if (!k->connected) {
            step(c, BLEND_ACD_EV_OFFER_REJECT, k->interaction, ev->agent_id);
        }
        return 1;
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        record(c, "call.callback_progress", k->interaction,
               json_pack("{s:I, s:s, s:i, s:s}", "interaction_id", (json_int_t)k->interaction,
                         "leg", ev->leg, "sip_code", ev->sip_code, "cause", ev->cause));
        if (strcmp(ev->leg, "customer") == 0 && ev->sip_code >= 200 && ev->sip_code < 300) {
            row_state(c, k->interaction, "connected");
        }
        return 1;
    case BLEND_SIP_EV_CALL_ENDED: {
        record_ended(c, k->interaction, ev);
        int64_t id = k->interaction, agent = k->agent;
        int connected = k->connected;
        forget(c, k);
        if (connected) {
            step(c, BLEND_ACD_EV_CONTACT_END, id, agent);
        }
        return 1;
    }
    default:
        return 0;
    }
}

/* ---- The phones and the customer --------------------------------------------------------- */

void blend__calls_on_sip_event(struct blend_calls *c, const struct blend_sip_event *ev)
{
    if (!c) {
        return;
    }
    if (ev->kind == BLEND_SIP_EV_CALL_INCOMING) {
        on_incoming(c, ev);
        return;
    }
    struct call *k = by_call(c, ev->call);
    if (!k) {
        return;
    }
    if (k->phone) {
        on_phone_event(c, k, ev);
        return;
    }
    if (k->outbound) {
        on_outbound_event(c, k, ev);
        return;
    }
    if (k->ivr && ev->kind != BLEND_SIP_EV_CALL_ENDED && blend__ivr_on_sip(c, k, ev)) {
        return;
    }
    k = by_call(c, ev->call); /* the flow may have changed the table */
    if (!k) {
        return;
    }
    if (k->callback_dial && on_callback_dial_event(c, k, ev)) {
        return;
    }
    switch (ev->kind) {
    case BLEND_SIP_EV_AGENT_RINGING:
        record_agent(c, "call.ringing", k, ev->agent_id);
        break;
    case BLEND_SIP_EV_AGENT_ANSWERED:
        record_agent(c, "call.answered", k, ev->agent_id);
        if (!(k->connected && k->agent == ev->agent_id)) {
            step(c, BLEND_ACD_EV_OFFER_ACCEPT, k->interaction, ev->agent_id);
        }
        if (!(k->connected && k->agent == ev->agent_id)) {
            /* The offer was no longer this agent's (withdrawn in the meantime). */
            (void)blend_sip_call_withdraw(c->sip, k->call, ev->agent_id);
        }
        break;
    case BLEND_SIP_EV_AGENT_FAILED:
        record_agent_failed(c, k, ev);
        step(c, BLEND_ACD_EV_OFFER_REJECT, k->interaction, ev->agent_id);
        break;
    case BLEND_SIP_EV_RECORDING_ENDED:
        k->rec_paused = 0;
        blend__calls_recording_row(c, k->interaction, ev);
        break;
    case BLEND_SIP_EV_DTMF: {
        /* Keys pressed while the recording is paused (card capture) are not written down. */
        char digit[2] = {k->rec_paused ? '*' : ev->digit, '\0'};
        record(c, "call.dtmf", k->interaction,
               json_pack("{s:I, s:s, s:s, s:b}", "interaction_id", (json_int_t)k->interaction,
                         "leg", ev->leg, "digit", digit, "masked", k->rec_paused));
        break;
    }
    case BLEND_SIP_EV_CALL_HELD:
    case BLEND_SIP_EV_CALL_RESUMED:
        /* agent_id: the agent's own stream shows it (events.c). */
        record(c, ev->kind == BLEND_SIP_EV_CALL_HELD ? "call.held" : "call.resumed",
               k->interaction,
               json_pack("{s:I, s:s, s:I}", "interaction_id", (json_int_t)k->interaction, "leg",
                         ev->leg, "agent_id", (json_int_t)k->agent));
        break;
    case BLEND_SIP_EV_TRANSFER_REQUESTED:
        on_refer(c, k, ev);
        break;
    case BLEND_SIP_EV_AGENT_REPLACED:
        on_agent_replaced(c, k, ev);
        break;
    case BLEND_SIP_EV_PARTY_RINGING:
    case BLEND_SIP_EV_PARTY_ANSWERED:
    case BLEND_SIP_EV_PARTY_MODE:
    case BLEND_SIP_EV_PARTY_ENDED:
    case BLEND_SIP_EV_PARTY_COMPLETED:
        on_party_event(c, k, ev);
        break;
    case BLEND_SIP_EV_OUTBOUND_PROGRESS:
        record(c, "call.transfer_progress", k->interaction,
               json_pack("{s:I, s:s, s:i}", "interaction_id", (json_int_t)k->interaction, "leg",
                         ev->leg, "sip_code", ev->sip_code));
        if (strcmp(ev->leg, "transfer") == 0 && ev->sip_code >= 200 && ev->sip_code < 300 &&
            k->connected && !k->external) {
            /* The number answered: the agent's part is over (wrap-up). */
            k->external = 1;
            step(c, BLEND_ACD_EV_CONTACT_END, k->interaction, k->agent);
        }
        break;
    case BLEND_SIP_EV_CALL_ENDED: {
        if (k->interaction > 0) {
            record_ended(c, k->interaction, ev);
        }
        blend__ivr_stop(c, k, "caller-hangup");
        if (k->state == CALL_ARRIVING) {
            k->state = CALL_GONE; /* abandoned once the interaction exists */
            return;
        }
        if (k->state == CALL_IVR || k->callback_kept) {
            /* Never queued, out of the queue again, or waiting as a callback: routing keeps
             * (or never had) the interaction. */
            forget(c, k);
            return;
        }
        if (k->external || k->closing) {
            forget(c, k); /* routing was done with it already */
            return;
        }
        int64_t id = k->interaction;
        int connected = k->connected;
        forget(c, k);
        step(c, connected ? BLEND_ACD_EV_CONTACT_END : BLEND_ACD_EV_CONTACT_ABANDON, id, 0);
        break;
    }
    default:
        break;
    }
}

/* ---- The routing engine's decisions -------------------------------------------------------- */

void blend__calls_on_effect(struct blend_calls *c, const struct blend_acd_effect *f)
{
    if (!c || f->channel != BLEND_CH_VOICE) {
        return;
    }
    struct call *k = by_interaction(c, f->contact);
    if (!k) {
        if (f->type == BLEND_ACD_FX_OFFER) {
            offer_callback(c, f); /* a callback or a voicemail has no call of its own */
        }
        return;
    }
    if (k->callback_dial) {
        callback_dial_effect(c, k, f);
        return;
    }
    switch (f->type) {
    case BLEND_ACD_FX_OFFER:
        (void)blend_sip_call_offer(c->sip, k->call, f->agent, CALLS_RING_SAFETY_S);
        break;
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
        (void)blend_sip_call_withdraw(c->sip, k->call, f->agent);
        break;
    case BLEND_ACD_FX_CONNECTED: {
        k->connected = 1;
        k->agent = f->agent;
        blend__ivr_on_connected(c, k);
        k = by_interaction(c, f->contact);
        if (!k) {
            break;
        }
        if (k->handover) {
            break; /* the call's recording goes on through the handover */
        }
        json_t *q;
        if (blend_store_get(c->app->store, &blend_res_queues, f->queue, 0, &q) == 0) {
            const char *policy = json_string_value(json_object_get(q, "recording"));
            if (policy && strcmp(policy, "always") == 0) {
                int rc = blend__calls_record(c, f->contact, "start");
                if (rc) {
                    BLEND_LOG_WARN("calls", "interaction %" PRId64 " not recorded: %s", f->contact,
                                   blend_strerror(rc));
                }
            }
            json_decref(q);
        }
        break;
    }
    case BLEND_ACD_FX_ENDED:
        if (f->is_transfer && k->handover) {
            break; /* the telephony thread released the first agent's phone itself */
        }
        if (f->is_transfer) {
            /* The agent's part ends; the customer stays for the next agent. */
            (void)blend_sip_call_unbridge_agent(c->sip, k->call);
            k->connected = 0;
            k->agent = 0;
            break;
        }
        if (k->external) {
            break; /* the customer talks to the number now; CALL_ENDED will close it */
        }
        (void)blend_sip_call_hangup(c->sip, k->call, "ended");
        k->closing = 1; /* a recording's end and CALL_ENDED are still to come */
        break;
    case BLEND_ACD_FX_ABANDONED:
        if (k->state == CALL_IVR || k->callback_kept) {
            break; /* the flow took the caller out of the queue (voicemail, callback) */
        }
        (void)blend_sip_call_hangup(c->sip, k->call, "ended");
        k->closing = 1;
        break;
    case BLEND_ACD_FX_OVERFLOW:
        if (f->overflow == BLEND_OVERFLOW_VOICEMAIL && blend__ivr_is_running(k)) {
            /* The queue's overflow sends the caller back to the flow (its overflow branch). */
            k->interaction = 0;
            k->state = CALL_IVR;
            (void)blend__ivr_on_overflow(c, k);
        } else if (f->overflow == BLEND_OVERFLOW_VOICEMAIL) {
            (void)blend_sip_call_hangup(c->sip, k->call, "voicemail");
            k->closing = 1;
        }
        break;
    default:
        break;
    }
}

int blend__calls_create(struct blend_app *app, struct blend_sip *sip, const char *recordings_dir,
                        struct blend_calls **out)
{
    struct blend_calls *c = blend_calloc(1, sizeof *c);
    if (!c) {
        return BLEND_ENOMEM;
    }
    c->app = app;
    c->sip = sip;
    snprintf(c->recordings_dir, sizeof c->recordings_dir, "%s", recordings_dir);
    if (mkdir(c->recordings_dir, 0750) != 0 && errno != EEXIST) {
        BLEND_LOG_WARN("calls", "cannot create %s: %s (recordings will fail)", c->recordings_dir,
                       strerror(errno));
    }
    int rc = blend__ivr_create(c, &c->ivr);
    if (rc) {
        /* Calls still work without flows: entry points with a flow fall back to their queue. */
        BLEND_LOG_ERROR("calls", "flows are off: %s", blend_strerror(rc));
        c->ivr = NULL;
    }
    *out = c;
    return 0;
}

void blend__calls_destroy(struct blend_calls *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->count; i++) {
        blend__ivr_stop(c, &c->calls[i], NULL); /* no event: the store is closing */
    }
    blend__ivr_destroy(c->ivr);
    blend_free(c->calls);
    blend_free(c);
}
