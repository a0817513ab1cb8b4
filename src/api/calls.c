/*
 * Calls: the server side of the B2BUA (the telephony thread in src/sip does the SIP and the
 * RTP). A call from a trunk or a phone is matched to an entry point by the dialled number,
 * becomes a voice interaction in the entry point's queue (closed-hours rules included), and
 * follows the routing engine: an offer rings the agent's phone, the phone's answer is the
 * agent's accept, a busy or declined phone is a reject, the engine's withdrawals and timeouts
 * cancel the ringing leg, and either side hanging up ends or abandons the interaction. Every
 * step is recorded in the event log ("call.*", subject interactions/<id>). No routing rule lives
 * here; docs/voice.md describes the flow.
 */
#include "api/app_int.h"

#include "base/alloc.h"
#include "base/log.h"
#include "sip/sip.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Ring timeout handed to the telephony thread as a safety net only: the engine's offer
 * timeout withdraws the offer first. */
#define CALLS_RING_SAFETY_S 300

enum call_state {
    CALL_ARRIVING = 1, /* interaction being created */
    CALL_ROUTED,       /* in the engine (waiting, offered or connected) */
    CALL_GONE,         /* the customer left before the interaction existed */
};

struct call {
    uint64_t call;
    int64_t interaction; /* 0 until created */
    enum call_state state;
    int connected;       /* the engine connected it */
    int external;        /* transferred to an external number: out of routing, still on SIP */
    int closing;         /* hung up by Blend after routing ended it: CALL_ENDED closes it */
    int rec_paused;      /* recording paused for card capture: digits are masked */
    int64_t agent;       /* connected agent */
    char caller[BLEND_SIP_EXTENSION_BYTES_MAX];
    char dialled[BLEND_SIP_EXTENSION_BYTES_MAX];
};

struct blend_calls {
    struct blend_app *app;
    struct blend_sip *sip;
    char recordings_dir[4200];
    /* Live calls; few enough that a scan is cheaper than an index (one per waiting or
     * connected caller). */
    struct call *calls;
    size_t count, cap;
};

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

/* ---- Arrival ------------------------------------------------------------------------------- */

/* The entry point for a dialled number: the address as dialled, or with a leading '+'. */
static json_t *entry_point_for(struct blend_calls *c, const char *dialled)
{
    char plus[BLEND_SIP_EXTENSION_BYTES_MAX + 1];
    snprintf(plus, sizeof plus, "+%s", dialled);
    const char *tries[] = {dialled, plus};
    for (size_t t = 0; t < 2; t++) {
        struct blend_list_query q = {.limit = 16, .filter_field = "address",
                                     .filter_value = tries[t]};
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
           json_pack("{s:I, s:s, s:s, s:o}", "interaction_id", (json_int_t)k->interaction,
                     "caller", k->caller, "dialled", k->dialled, "treatment",
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

static void on_incoming(struct blend_calls *c, const struct blend_sip_event *ev)
{
    json_t *ep = entry_point_for(c, ev->dialled);
    if (!ep) {
        BLEND_LOG_INFO("calls", "call from %s to unknown number %s refused", ev->caller,
                       ev->dialled);
        (void)blend_sip_call_reject(c->sip, ev->call, 404, "Not Found");
        return;
    }
    const char *cal = json_string_value(json_object_get(ep, "calendar"));
    const char *queue = json_string_value(json_object_get(ep, "queue"));
    struct blend__open_state hours;
    if (cal && blend__calendar_now(c->app, cal, blend__wall_ms(), &hours) == 0 &&
        hours.state != BLEND_CALENDAR_OPEN) {
        (void)blend_sip_call_reject(c->sip, ev->call, 480, "Closed");
        json_decref(ep);
        return;
    }
    if (!queue) {
        (void)blend_sip_call_reject(c->sip, ev->call, 480, "No Queue");
        json_decref(ep);
        return;
    }
    if (c->count == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        struct call *nc = blend_realloc(c->calls, cap * sizeof *nc);
        if (!nc) {
            (void)blend_sip_call_reject(c->sip, ev->call, 503, "Service Unavailable");
            json_decref(ep);
            return;
        }
        c->calls = nc;
        c->cap = cap;
    }
    struct call *k = &c->calls[c->count++];
    memset(k, 0, sizeof *k);
    k->call = ev->call;
    k->state = CALL_ARRIVING;
    snprintf(k->caller, sizeof k->caller, "%s", ev->caller);
    snprintf(k->dialled, sizeof k->dialled, "%s", ev->dialled);
    (void)blend_sip_call_ringing(c->sip, ev->call);
    struct arrival_ctx *x = blend_malloc(sizeof *x);
    json_t *body = json_pack("{s:s, s:s, s:s}", "channel", "voice", "queue", queue, "direction",
                             "inbound");
    json_decref(ep);
    int rc = x ? 0 : BLEND_ENOMEM;
    if (x) {
        x->calls = c;
        x->call = ev->call;
        rc = blend__interaction_arrive(c->app, body, on_created, on_arrived, x);
    } else {
        json_decref(body);
    }
    if (rc) {
        blend_free(x);
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

/* An agent's phone sent REFER: the target is another agent's extension, a queue (by name or by
 * an entry point's number), or else an external number. */
static void on_refer(struct blend_calls *c, struct call *k, const struct blend_sip_event *ev)
{
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
        if (qname && blend_store_find(c->app->store, &blend_res_queues, "name", qname, 0, &q) ==
                         0) {
            t.u.transfer.to_queue = json_integer_value(json_object_get(q, "id"));
        }
        json_decref(q);
    }
    json_decref(doc);
    record(c, "call.refer", k->interaction,
           json_pack("{s:I, s:I, s:s}", "interaction_id", (json_int_t)k->interaction,
                     "agent_id", (json_int_t)ev->agent_id, "target", ev->dialled));
    if (t.u.transfer.to_agent == 0 && t.u.transfer.to_queue == 0) {
        if (start_transfer_number(c, k, ev->dialled) != 0) {
            BLEND_LOG_WARN("calls", "transfer of interaction %" PRId64 " to %s refused",
                           k->interaction, ev->dialled);
        }
        return;
    }
    int rc = blend__routing_step_detached(c->app->routing, &t);
    if (rc) {
        BLEND_LOG_WARN("calls", "transfer of interaction %" PRId64 " to %s refused: %s",
                       k->interaction, ev->dialled, blend_strerror(rc));
    }
}

/* ---- Recording --------------------------------------------------------------------------- */

const char *blend__calls_recordings_dir(const struct blend_calls *c)
{
    return c->recordings_dir;
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
static void on_recording_ended(struct blend_calls *c, int64_t interaction,
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
                            (json_int_t)interaction, "file",
                            slash ? slash + 1 : ev->recording_path, "duration_ms",
                            (json_int_t)ev->duration_ms, "bytes", (json_int_t)bytes, "sha256",
                            hex, "paused", "spans", spans, "count", ev->paused_count, "state",
                            ev->rec_error ? "damaged" : "complete");
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
    switch (ev->kind) {
    case BLEND_SIP_EV_AGENT_RINGING:
        record(c, "call.ringing", k->interaction,
               json_pack("{s:I, s:I}", "interaction_id", (json_int_t)k->interaction, "agent_id",
                         (json_int_t)ev->agent_id));
        break;
    case BLEND_SIP_EV_AGENT_ANSWERED:
        record(c, "call.answered", k->interaction,
               json_pack("{s:I, s:I}", "interaction_id", (json_int_t)k->interaction, "agent_id",
                         (json_int_t)ev->agent_id));
        if (!(k->connected && k->agent == ev->agent_id)) {
            step(c, BLEND_ACD_EV_OFFER_ACCEPT, k->interaction, ev->agent_id);
        }
        if (!(k->connected && k->agent == ev->agent_id)) {
            /* The offer was no longer this agent's (withdrawn in the meantime). */
            (void)blend_sip_call_withdraw(c->sip, k->call, ev->agent_id);
        }
        break;
    case BLEND_SIP_EV_AGENT_FAILED:
        record(c, "call.agent_failed", k->interaction,
               json_pack("{s:I, s:I, s:i}", "interaction_id", (json_int_t)k->interaction,
                         "agent_id", (json_int_t)ev->agent_id, "sip_code", ev->sip_code));
        step(c, BLEND_ACD_EV_OFFER_REJECT, k->interaction, ev->agent_id);
        break;
    case BLEND_SIP_EV_RECORDING_ENDED:
        k->rec_paused = 0;
        on_recording_ended(c, k->interaction, ev);
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
        record(c, ev->kind == BLEND_SIP_EV_CALL_HELD ? "call.held" : "call.resumed",
               k->interaction,
               json_pack("{s:I, s:s}", "interaction_id", (json_int_t)k->interaction, "leg",
                         ev->leg));
        break;
    case BLEND_SIP_EV_TRANSFER_REQUESTED:
        on_refer(c, k, ev);
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
            record(c, "call.ended", k->interaction,
                   json_pack("{s:I, s:s, s:i, s:s, s:I, s:I}", "interaction_id",
                             (json_int_t)k->interaction, "leg", ev->leg, "sip_code",
                             ev->sip_code, "cause", ev->cause, "rtp_to_agent",
                             (json_int_t)ev->rtp_to_agent, "rtp_to_customer",
                             (json_int_t)ev->rtp_to_customer));
        }
        if (k->state == CALL_ARRIVING) {
            k->state = CALL_GONE; /* abandoned once the interaction exists */
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
        json_t *q;
        if (blend_store_get(c->app->store, &blend_res_queues, f->queue, 0, &q) == 0) {
            const char *policy = json_string_value(json_object_get(q, "recording"));
            if (policy && strcmp(policy, "always") == 0) {
                int rc = blend__calls_record(c, f->contact, "start");
                if (rc) {
                    BLEND_LOG_WARN("calls", "interaction %" PRId64 " not recorded: %s",
                                   f->contact, blend_strerror(rc));
                }
            }
            json_decref(q);
        }
        break;
    }
    case BLEND_ACD_FX_ENDED:
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
        (void)blend_sip_call_hangup(c->sip, k->call, "ended");
        k->closing = 1;
        break;
    case BLEND_ACD_FX_OVERFLOW:
        if (f->overflow == BLEND_OVERFLOW_VOICEMAIL) {
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
    *out = c;
    return 0;
}

void blend__calls_destroy(struct blend_calls *c)
{
    if (!c) {
        return;
    }
    blend_free(c->calls);
    blend_free(c);
}
