/*
 * The ACD adapter; see routing.h. Configuration comes from the store (queues and agents, with
 * skill names mapped to small ids on first sight), time from the loop (uv_now, refreshed before
 * each read), and every observable effect becomes an event-log row: "agent.state" for presence,
 * "contact.<what>" for contacts (subject "interactions/<id>"), together with the interaction
 * row's state.
 */
#include "api/routing.h"

#include "api/app_int.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "engine/stats/stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Routing capacity of one server. */
#define ROUTING_AGENTS_MAX 20000
#define ROUTING_QUEUES_MAX 2000
#define ROUTING_CONTACTS_MAX 100000
#define ROUTING_CUSTOMERS_MAX 100000
/* Armed timers at once: a few per live contact and one per agent. */
#define ROUTING_TIMERS_MAX (4 * ROUTING_CONTACTS_MAX + ROUTING_AGENTS_MAX)

struct timer_ent {
    int64_t due_ms;
    uint64_t id;
};

struct blend_routing {
    struct blend_app *app;
    struct blend_acd *acd;
    struct blend_acd_effect *fx;
    uv_timer_t uvt;
    int64_t armed_due; /* due time the uv timer is set for, 0 = idle */
    /* Min-heap of (due, id) with lazy deletion: an entry is live while cur[id] == due. */
    struct timer_ent *heap;
    size_t heap_len;
    /* Open-addressing map timer id -> due (0 = cancelled), rebuilt when half full. */
    uint64_t *map_id;
    int64_t *map_due;
    size_t map_slots;
    size_t map_used;
    /* Skill names by ACD skill id (1-based). */
    char (*skills)[72];
    int skills_count;
    /* Queue and agent figures folded from the same effects the log records; the window is the
     * current UTC day. */
    struct blend_stats *stats;
    int64_t stats_day; /* days since the epoch of the open window */
    /* Wall-clock ms minus loop ms, fixed at start, so that a monotonic instant always reads
     * as the same wall-clock time. */
    int64_t wall_offset_ms;
    /* While a contact is being restored at start-up: its id (its QUEUED and RELAXED effects
     * restate what the log holds and are not recorded again). */
    int64_t restoring;
    /* While restating at start-up what the refolded statistics already hold. */
    int quiet_stats;
};

/* The loop's monotonic time, brought up to date first: libuv caches it at the start of each
 * loop turn, so a callback that runs after a long poll would otherwise read the instant the
 * loop went to sleep, and the engine would date decisions (and ages) in the past. */
static int64_t mono_now(const struct blend_routing *r)
{
    uv_update_time(r->app->loop);
    return (int64_t)uv_now(r->app->loop);
}

static const char *const channel_names[] = {"voice", "chat", "email", "sms", "social"};
static const char *const presence_names[] = {"logged-out", "ready", "not-ready", "wrap-up"};
static const char *const strategy_names[] = {"longest-idle", "most-skilled", "least-occupied",
                                             "fewest-contacts", "round-robin", "ring-all",
                                             "sticky"};

const char *blend__channel_name(enum blend_channel c)
{
    return (c >= 0 && c < BLEND_CH_COUNT) ? channel_names[c] : "?";
}

int blend__channel_parse(const char *name, enum blend_channel *out)
{
    for (int i = 0; i < BLEND_CH_COUNT; i++) {
        if (name && strcmp(name, channel_names[i]) == 0) {
            *out = (enum blend_channel)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

const char *blend__presence_name(enum blend_acd_presence p)
{
    return (p >= BLEND_PRESENCE_LOGGED_OUT && p <= BLEND_PRESENCE_WRAP_UP) ? presence_names[p]
                                                                            : "?";
}

static int strategy_parse(const char *name, enum blend_acd_strategy *out)
{
    for (int i = 0; i < 7; i++) {
        if (name && strcmp(name, strategy_names[i]) == 0) {
            *out = (enum blend_acd_strategy)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

/* ---- Timers ------------------------------------------------------------------------------ */

static size_t map_slot(const struct blend_routing *r, uint64_t id)
{
    uint64_t h = id * 11400714819323198485ull;
    size_t i = (size_t)(h >> 17) & (r->map_slots - 1);
    while (r->map_id[i] != 0 && r->map_id[i] != id) {
        i = (i + 1) & (r->map_slots - 1);
    }
    return i;
}

/* Drops cancelled ids from the map so it never fills with dead keys. */
static void map_compact(struct blend_routing *r)
{
    size_t n = r->map_slots;
    uint64_t *ids = r->map_id;
    int64_t *dues = r->map_due;
    r->map_id = blend_calloc(n, sizeof *ids);
    r->map_due = blend_calloc(n, sizeof *dues);
    BLEND_ASSERT(r->map_id && r->map_due); /* sized like the originals, allocated at start */
    r->map_used = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] != 0 && dues[i] != 0) {
            size_t j = map_slot(r, ids[i]);
            r->map_id[j] = ids[i];
            r->map_due[j] = dues[i];
            r->map_used++;
        }
    }
    blend_free(ids);
    blend_free(dues);
}

static int64_t map_get(const struct blend_routing *r, uint64_t id)
{
    size_t i = map_slot(r, id);
    return r->map_id[i] == id ? r->map_due[i] : 0;
}

static void map_set(struct blend_routing *r, uint64_t id, int64_t due)
{
    size_t i = map_slot(r, id);
    if (r->map_id[i] == 0) {
        if (due == 0) {
            return;
        }
        if (r->map_used + 1 > r->map_slots / 2) {
            map_compact(r);
            i = map_slot(r, id);
        }
        r->map_id[i] = id;
        r->map_used++;
    }
    r->map_due[i] = due;
}

static int ent_less(const struct timer_ent *a, const struct timer_ent *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->id < b->id);
}

static void heap_push(struct blend_routing *r, struct timer_ent e)
{
    if (r->heap_len == ROUTING_TIMERS_MAX) {
        /* Compact: keep live entries only. */
        size_t n = 0;
        for (size_t i = 0; i < r->heap_len; i++) {
            if (map_get(r, r->heap[i].id) == r->heap[i].due_ms) {
                r->heap[n++] = r->heap[i];
            }
        }
        r->heap_len = 0;
        for (size_t i = 0; i < n; i++) {
            heap_push(r, r->heap[i]);
        }
        if (r->heap_len == ROUTING_TIMERS_MAX) {
            BLEND_LOG_ERROR("routing", "timer table full: a timer is lost");
            return;
        }
    }
    size_t i = r->heap_len++;
    r->heap[i] = e;
    while (i > 0 && ent_less(&r->heap[i], &r->heap[(i - 1) / 2])) {
        struct timer_ent t = r->heap[i];
        r->heap[i] = r->heap[(i - 1) / 2];
        r->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct timer_ent heap_pop(struct blend_routing *r)
{
    BLEND_ASSERT(r->heap_len > 0);
    struct timer_ent top = r->heap[0];
    r->heap[0] = r->heap[--r->heap_len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->heap_len && ent_less(&r->heap[l], &r->heap[m])) {
            m = l;
        }
        if (l + 1 < r->heap_len && ent_less(&r->heap[l + 1], &r->heap[m])) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        struct timer_ent t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
    return top;
}

static void on_uv_timer(uv_timer_t *t);

/* Points the uv timer at the earliest live timer. */
static void rearm(struct blend_routing *r)
{
    while (r->heap_len > 0 && map_get(r, r->heap[0].id) != r->heap[0].due_ms) {
        (void)heap_pop(r);
    }
    if (r->heap_len == 0) {
        uv_timer_stop(&r->uvt);
        r->armed_due = 0;
        return;
    }
    int64_t due = r->heap[0].due_ms;
    if (due == r->armed_due) {
        return;
    }
    int64_t now = mono_now(r);
    uv_timer_start(&r->uvt, on_uv_timer, (uint64_t)(due > now ? due - now : 0), 0);
    r->armed_due = due;
}

/* ---- Effects to the event log ---------------------------------------------------------------- */

static const char *effect_name(enum blend_acd_effect_type t)
{
    switch (t) {
    case BLEND_ACD_FX_QUEUED:
        return "contact.queued";
    case BLEND_ACD_FX_OFFER:
        return "contact.offered";
    case BLEND_ACD_FX_OFFER_TIMEOUT:
        return "contact.offer_timeout";
    case BLEND_ACD_FX_OFFER_REJECTED:
        return "contact.offer_rejected";
    case BLEND_ACD_FX_WITHDRAWN:
        return "contact.withdrawn";
    case BLEND_ACD_FX_CONNECTED:
        return "contact.connected";
    case BLEND_ACD_FX_ABANDONED:
        return "contact.abandoned";
    case BLEND_ACD_FX_ENDED:
        return "contact.ended";
    case BLEND_ACD_FX_RELAXED:
        return "contact.relaxed";
    case BLEND_ACD_FX_OVERFLOW:
        return "contact.overflow";
    case BLEND_ACD_FX_CALLBACK:
        return "contact.callback";
    case BLEND_ACD_FX_AGENT_STATE:
        return "agent.state";
    default:
        return NULL;
    }
}

/* Event-log names of enum blend_acd_withdraw_reason (index = value). */
static const char *const withdraw_names[] = {"", "taken", "abandoned", "unavailable", "moved"};

static const char *overflow_name(enum blend_acd_overflow o)
{
    static const char *const names[] = {"none", "queue", "voicemail", "callback"};
    return (o >= BLEND_OVERFLOW_NONE && o <= BLEND_OVERFLOW_CALLBACK) ? names[o] : "?";
}

/* `from`: an agent's presence before an AGENT_STATE effect; `until_ms`: when a wrap-up it
 * starts ends (monotonic), 0 otherwise. Times in the data are wall-clock milliseconds. */
static json_t *effect_data(const struct blend_routing *r, const struct blend_acd_effect *f,
                           enum blend_acd_presence from, int64_t until_ms)
{
    json_int_t at = (json_int_t)(f->at_ms + r->wall_offset_ms);
    if (f->type == BLEND_ACD_FX_AGENT_STATE) {
        json_t *d = json_pack("{s:I, s:s, s:s, s:o, s:I}", "agent_id", (json_int_t)f->agent,
                              "from", blend__presence_name(from), "to",
                              blend__presence_name(f->presence), "reason",
                              f->reason[0] ? json_string(f->reason) : json_null(), "at_ms", at);
        if (until_ms > 0) {
            json_object_set_new(d, "until_ms", json_integer(until_ms + r->wall_offset_ms));
        }
        return d;
    }
    json_t *d = json_pack("{s:I, s:I, s:s, s:I}", "contact_id", (json_int_t)f->contact,
                          "queue_id", (json_int_t)f->queue, "channel",
                          blend__channel_name(f->channel), "at_ms", at);
    if (f->agent) {
        json_object_set_new(d, "agent_id", json_integer(f->agent));
    }
    switch (f->type) {
    case BLEND_ACD_FX_OFFER:
    case BLEND_ACD_FX_CONNECTED:
        json_object_set_new(d, "is_callback", json_boolean(f->is_callback));
        if (f->type == BLEND_ACD_FX_CONNECTED) {
            json_object_set_new(d, "wait_ms", json_integer(f->wait_ms));
        }
        break;
    case BLEND_ACD_FX_ABANDONED:
        json_object_set_new(d, "wait_ms", json_integer(f->wait_ms));
        break;
    case BLEND_ACD_FX_RELAXED:
        json_object_set_new(d, "step", json_integer(f->step));
        break;
    case BLEND_ACD_FX_ENDED:
        if (f->is_transfer) {
            json_object_set_new(d, "transfer", json_true());
            json_object_set_new(d, "to_queue_id", f->to_queue ? json_integer(f->to_queue)
                                                              : json_null());
            json_object_set_new(d, "to_agent_id", f->to_agent ? json_integer(f->to_agent)
                                                              : json_null());
        }
        break;
    case BLEND_ACD_FX_OVERFLOW:
        json_object_set_new(d, "to", json_string(overflow_name(f->overflow)));
        break;
    case BLEND_ACD_FX_QUEUED:
        if (f->is_move) {
            /* A supervisor's move: a new stay (restore takes its first join from here). */
            json_object_set_new(d, "moved", json_true());
        }
        break;
    case BLEND_ACD_FX_WITHDRAWN:
        json_object_set_new(d, "reason", json_string(f->withdraw >= 1 && f->withdraw <= 4
                                                         ? withdraw_names[f->withdraw]
                                                         : "?"));
        break;
    default:
        break;
    }
    return d;
}

/* The interaction row's state after an effect, or NULL when the effect does not change it. */
static const char *interaction_state(const struct blend_acd_effect *f)
{
    switch (f->type) {
    case BLEND_ACD_FX_QUEUED:
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
        return "queued";
    case BLEND_ACD_FX_OFFER:
        return "offered";
    case BLEND_ACD_FX_CONNECTED:
        return "connected";
    case BLEND_ACD_FX_ENDED:
        return f->is_transfer ? NULL : "wrap_up"; /* a transferred contact goes on */
    case BLEND_ACD_FX_ABANDONED:
        return "ended";
    case BLEND_ACD_FX_OVERFLOW:
        return f->overflow == BLEND_OVERFLOW_VOICEMAIL ? "ended" : NULL;
    default:
        return NULL;
    }
}

static int add_interaction_update(struct blend_routing *r, struct blend_write *w,
                                  const struct blend_acd_effect *f)
{
    const char *st = interaction_state(f);
    if (!st) {
        return 0;
    }
    json_t *patch = json_pack("{s:s}", "state", st);
    json_t *queue;
    if (f->type == BLEND_ACD_FX_QUEUED &&
        blend_store_get(r->app->store, &blend_res_queues, f->queue, 0, &queue) == 0) {
        /* Overflow and transfers move a contact to another queue: the row follows. */
        json_object_set(patch, "queue", json_object_get(queue, "name"));
        json_decref(queue);
    }
    if (f->type == BLEND_ACD_FX_CONNECTED) {
        json_t *agent;
        if (blend_store_get(r->app->store, &blend_res_agents, f->agent, 0, &agent) == 0) {
            json_object_set(patch, "agent", json_object_get(agent, "name"));
            json_decref(agent);
        }
    }
    if (strcmp(st, "ended") == 0 || f->type == BLEND_ACD_FX_ENDED) {
        char ts[BLEND__ISO_BYTES];
        blend__wall_iso(ts);
        json_object_set_new(patch, "ended_at", json_string(ts));
    }
    struct blend_write_op *op = blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions, patch);
    if (!op) {
        return BLEND_ENOMEM;
    }
    op->id = f->contact;
    return 0;
}

/* Builds the writes recording the observable effects fx[0..n); arms and cancels timers.
 * Writes hold at most BLEND_STORE_EVENTS_PER_WRITE_MAX events; *count_out writes are made. */
static int record(struct blend_routing *r, const struct blend_acd_effect *fx, size_t n,
                  struct blend_write **writes, size_t writes_max, size_t *count_out)
{
    size_t nw = 0, events = 0;
    struct blend_write *w = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct blend_acd_effect *f = &fx[i];
        if (f->type == BLEND_ACD_FX_TIMER_SET) {
            map_set(r, f->timer, f->due_ms);
            heap_push(r, (struct timer_ent){f->due_ms, f->timer});
            continue;
        }
        if (f->type == BLEND_ACD_FX_TIMER_CANCEL) {
            map_set(r, f->timer, 0);
            continue;
        }
        const char *name = effect_name(f->type);
        if (!name) {
            continue;
        }
        if (r->restoring && (f->type == BLEND_ACD_FX_QUEUED || f->type == BLEND_ACD_FX_RELAXED) &&
            f->contact == r->restoring) {
            continue; /* restated by a restore: the log has it already */
        }
        enum blend_acd_presence from = BLEND_PRESENCE_LOGGED_OUT;
        int64_t until = 0;
        if (f->type == BLEND_ACD_FX_AGENT_STATE && f->presence == BLEND_PRESENCE_WRAP_UP) {
            uint64_t tid = BLEND_ACD_TIMER_ID(BLEND_ACD_TIMER_WRAPUP, f->agent);
            for (size_t k = 0; k < n; k++) {
                if (fx[k].type == BLEND_ACD_FX_TIMER_SET && fx[k].timer == tid) {
                    until = fx[k].due_ms;
                }
            }
        }
        if (f->type == BLEND_ACD_FX_AGENT_STATE) {
            struct blend_stats_agent before;
            if (blend_stats_agent(r->stats, f->agent, f->at_ms, &before) == 0) {
                from = before.presence;
            }
        }
        int src = r->quiet_stats ? 0 : blend_stats_feed(r->stats, f);
        blend__calls_on_effect(r->app->calls, f);
        if (src) {
            BLEND_LOG_WARN("routing", "statistics refused a %s: %s", name, blend_strerror(src));
        }
        if (!w || events == BLEND_STORE_EVENTS_PER_WRITE_MAX) {
            if (nw == writes_max) {
                rc = BLEND_ELIMIT;
                break;
            }
            w = writes[nw++] = blend_write_create();
            events = 0;
            if (!w) {
                rc = BLEND_ENOMEM;
                break;
            }
            snprintf(w->actor, sizeof w->actor, "routing");
        }
        struct blend_write_op *op =
            blend_write_add(w, BLEND_OP_EVENT, NULL, effect_data(r, f, from, until));
        if (!op) {
            rc = BLEND_ENOMEM;
            break;
        }
        snprintf(op->event_type, sizeof op->event_type, "%s", name);
        if (f->type == BLEND_ACD_FX_AGENT_STATE) {
            snprintf(op->subject, sizeof op->subject, "agents/%" PRId64, f->agent);
        } else {
            snprintf(op->subject, sizeof op->subject, "interactions/%" PRId64, f->contact);
            rc = add_interaction_update(r, w, f);
        }
        events++;
    }
    *count_out = nw;
    rearm(r);
    return rc;
}

/* A routing step's answer to a request, sent once the last of its writes is durable. */
struct step_answer {
    struct blend_http_req *req;
    json_t *answer;
    int status;
};

static void on_recorded(struct blend_write *w, void *arg)
{
    struct step_answer *a = arg;
    if (w->rc) {
        BLEND_LOG_ERROR("routing", "routing decisions not recorded: %s", blend_strerror(w->rc));
        if (a && a->req) {
            blend__respond_write_error(a->req, w, 0);
        }
        json_decref(a ? a->answer : NULL);
    } else if (a && a->req) {
        blend_http_respond_json(a->req, a->status, a->answer);
    } else if (a) {
        json_decref(a->answer);
    }
    blend_write_destroy(w);
    blend_free(a);
}

void blend__routing_refuse(struct blend_http_req *req, int rc)
{
    switch (rc) {
    case BLEND_ESTATE:
        blend_http_respond_error(req, 409, "conflict", "not allowed in the current state", NULL);
        break;
    case BLEND_EINVAL:
        blend_http_respond_error(req, 422, "validation_failed",
                                 "the routing engine refused the request", NULL);
        break;
    case BLEND_ELIMIT:
        blend_http_respond_error(req, 503, "unavailable", "routing capacity reached", NULL);
        break;
    default:
        blend_http_respond_error(req, 500, "internal", blend_strerror(rc), NULL);
        break;
    }
}

int blend__routing_apply(struct blend_routing *r, struct blend_acd_event *ev,
                         struct blend_routing_writes *out)
{
    int64_t now = mono_now(r);
    ev->now_ms = now;
    struct blend_acd_effects fx = {.items = r->fx, .cap = BLEND_ACD_EFFECTS_MAX};
    int rc = blend_acd_step(r->acd, ev, &fx);
    if (rc) {
        return rc;
    }
    size_t made = 0;
    int wrc = record(r, fx.items, fx.count, out->w + out->n, BLEND_ROUTING_STEP_WRITES_MAX - out->n,
                     &made);
    out->n += made;
    if (wrc) {
        BLEND_LOG_ERROR("routing", "cannot record a routing step: %s", blend_strerror(wrc));
    }
    return 0;
}

int blend__routing_step_detached(struct blend_routing *r, struct blend_acd_event *ev)
{
    struct blend_routing_writes ws = {.n = 0};
    int rc = blend__routing_apply(r, ev, &ws);
    for (size_t i = 0; i < ws.n; i++) {
        blend__app_submit_detached(r->app, ws.w[i]);
    }
    return rc;
}

int blend__routing_commit(struct blend_routing *r, struct blend_routing_writes *ws,
                          struct blend_http_req *req, json_t *answer, int status)
{
    if (ws->n == 0) {
        blend_http_respond_json(req, status, answer);
        return BLEND_HTTP_DONE;
    }
    /* Writes commit in order, so the client is answered when the last one is durable. */
    for (size_t i = 0; i + 1 < ws->n; i++) {
        blend__app_submit_detached(r->app, ws->w[i]);
    }
    struct blend_write *last = ws->w[ws->n - 1];
    ws->n = 0;
    struct step_answer *a = blend_calloc(1, sizeof *a);
    if (!a) {
        json_decref(answer);
        blend__app_submit_detached(r->app, last);
        blend_http_respond_error(req, 503, "unavailable", "out of memory", NULL);
        return BLEND_HTTP_DONE;
    }
    a->req = req;
    a->answer = answer;
    a->status = status;
    return blend__app_submit(r->app, req, last, on_recorded, a);
}

static void on_uv_timer(uv_timer_t *t)
{
    struct blend_routing *r = t->data;
    r->armed_due = 0;
    int64_t now = mono_now(r);
    while (r->heap_len > 0 && r->heap[0].due_ms <= now) {
        struct timer_ent e = heap_pop(r);
        if (map_get(r, e.id) != e.due_ms) {
            continue; /* replaced or cancelled */
        }
        map_set(r, e.id, 0);
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_TIMER};
        ev.u.timer = e.id;
        int rc = blend__routing_step_detached(r, &ev);
        if (rc) {
            BLEND_LOG_WARN("routing", "timer %" PRIx64 " refused: %s", e.id, blend_strerror(rc));
        }
    }
    rearm(r);
}

/* ---- Configuration from the store ------------------------------------------------------------ */

/* The ACD id of a skill name, assigned on first sight. 0 when the table is full. */
static uint16_t skill_id(struct blend_routing *r, const char *name)
{
    for (int i = 0; i < r->skills_count; i++) {
        if (strcmp(r->skills[i], name) == 0) {
            return (uint16_t)(i + 1);
        }
    }
    if (r->skills_count == BLEND_ACD_SKILLS_MAX || strlen(name) >= sizeof r->skills[0]) {
        return 0;
    }
    snprintf(r->skills[r->skills_count], sizeof r->skills[0], "%s", name);
    return (uint16_t)++r->skills_count;
}

int blend__routing_skills(struct blend_routing *r, const json_t *map, int skip_unknown,
                          struct blend_acd_skill_req *out, uint8_t *count, char *unknown,
                          size_t unknown_len)
{
    struct blend_acd_skill_req reqs[BLEND_ACD_QUEUE_SKILLS_MAX];
    uint8_t n = 0;
    const char *name;
    json_t *v;
    if (json_is_object(map) && json_object_size(map) > BLEND_ACD_QUEUE_SKILLS_MAX) {
        return BLEND_EINVAL;
    }
    json_object_foreach((json_t *)map, name, v)
    {
        json_t *row = NULL;
        int known = blend_store_find(r->app->store, &blend_res_skills, "name", name, 0, &row) == 0;
        json_decref(row);
        json_int_t min = json_integer_value(v);
        uint16_t sid = known ? skill_id(r, name) : 0;
        if (!known || sid == 0 || min < 1 || min > 10) {
            if (!skip_unknown) {
                if (unknown) {
                    snprintf(unknown, unknown_len, "%s", name);
                }
                return known && sid != 0 ? BLEND_EINVAL : BLEND_ENOENT;
            }
            BLEND_LOG_WARN("routing", "own skill \"%s\" left out: not a known skill", name);
            continue;
        }
        reqs[n].skill = sid;
        reqs[n].min_proficiency = (uint8_t)min;
        n++;
    }
    memcpy(out, reqs, n * sizeof reqs[0]);
    *count = n;
    return 0;
}

static int64_t queue_id_by_name(struct blend_routing *r, const char *name)
{
    json_t *q;
    if (!name || blend_store_find(r->app->store, &blend_res_queues, "name", name, 0, &q) != 0) {
        return 0;
    }
    int64_t id = json_integer_value(json_object_get(q, "id"));
    json_decref(q);
    return id;
}

static int skills_from_map(struct blend_routing *r, const json_t *map,
                           struct blend_acd_skill_req *out, uint8_t *count)
{
    const char *name;
    json_t *v;
    *count = 0;
    json_object_foreach((json_t *)map, name, v)
    {
        uint16_t sid = skill_id(r, name);
        if (sid == 0 || *count == BLEND_ACD_QUEUE_SKILLS_MAX) {
            return BLEND_ELIMIT;
        }
        out[*count].skill = sid;
        out[*count].min_proficiency = (uint8_t)json_integer_value(v);
        (*count)++;
    }
    return 0;
}

/* Converts a stored queue document; with `refs` 0, references to other queues are left out
 * (the first pass at start, so that queues referring to each other can all be created). */
static int queue_config(struct blend_routing *r, const json_t *q, int refs,
                        struct blend_acd_queue_config *c)
{
    memset(c, 0, sizeof *c);
    c->id = json_integer_value(json_object_get(q, "id"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(q, "channels"), i, v)
    {
        enum blend_channel ch;
        if (blend__channel_parse(json_string_value(v), &ch) == 0) {
            c->channels |= 1u << ch;
        }
    }
    json_array_foreach(json_object_get(q, "skills"), i, v)
    {
        uint16_t sid = skill_id(r, json_string_value(json_object_get(v, "skill")));
        if (sid == 0 || c->skills_count == BLEND_ACD_QUEUE_SKILLS_MAX) {
            return BLEND_ELIMIT;
        }
        c->skills[c->skills_count].skill = sid;
        c->skills[c->skills_count].min_proficiency =
            (uint8_t)json_integer_value(json_object_get(v, "min_proficiency"));
        c->skills_count++;
    }
    if (strategy_parse(json_string_value(json_object_get(q, "strategy")), &c->strategy) ||
        strategy_parse(json_string_value(json_object_get(q, "sticky_fallback")),
                       &c->sticky_fallback)) {
        return BLEND_EINVAL;
    }
#define INT(name) json_integer_value(json_object_get(q, name))
    c->sticky_ms = INT("sticky_s") * 1000;
    c->priority = (int32_t)INT("priority");
    c->acceleration_per_min = (int32_t)INT("acceleration_per_min");
    c->max_priority = (int32_t)INT("max_priority");
    c->wrapup_ms = INT("wrap_up_s") * 1000;
    c->offer_timeout_ms = INT("offer_timeout_s") * 1000;
    c->max_no_answer = (int32_t)INT("max_no_answer");
    c->reoffer_delay_ms = INT("reoffer_delay_s") ? INT("reoffer_delay_s") * 1000
                                                  : c->offer_timeout_ms;
    c->max_wait_ms = INT("max_wait_s") * 1000;
#undef INT
    const char *of = json_string_value(json_object_get(q, "overflow_action"));
    c->overflow = !of || strcmp(of, "none") == 0 ? BLEND_OVERFLOW_NONE
                  : strcmp(of, "queue") == 0     ? BLEND_OVERFLOW_QUEUE
                  : strcmp(of, "voicemail") == 0 ? BLEND_OVERFLOW_VOICEMAIL
                                                 : BLEND_OVERFLOW_CALLBACK;
    if (c->overflow == BLEND_OVERFLOW_QUEUE) {
        c->overflow_queue =
            refs ? queue_id_by_name(r, json_string_value(json_object_get(q, "overflow_queue")))
                 : 0;
        if (c->overflow_queue == 0) {
            c->overflow = BLEND_OVERFLOW_NONE; /* no target (yet): nothing to overflow into */
        }
    }
    int self_steps = 0;
    json_array_foreach(json_object_get(q, "relax"), i, v)
    {
        if (c->relax_count == BLEND_ACD_RELAX_STEPS_MAX) {
            return BLEND_ELIMIT;
        }
        struct blend_acd_relax_step *st = &c->relax[c->relax_count];
        st->after_ms = json_integer_value(json_object_get(v, "after_s")) * 1000;
        json_t *skills = json_object_get(v, "skills");
        if (json_is_object(skills)) {
            st->has_skills = 1;
            int rc = skills_from_map(r, skills, st->skills, &st->skills_count);
            if (rc) {
                return rc;
            }
        }
        const char *add = json_string_value(json_object_get(v, "add_queue_agents"));
        st->add_queue_agents = refs && add ? queue_id_by_name(r, add) : 0;
        if (st->add_queue_agents != 0 && st->add_queue_agents == c->id) {
            /* The engine refuses a step adding its own queue (docs/routing.md): skipped. */
            memset(st, 0, sizeof *st);
            self_steps++;
            continue;
        }
        if (!st->has_skills && st->add_queue_agents == 0) {
            continue; /* nothing to apply at this step (yet) */
        }
        c->relax_count++;
    }
    if (self_steps > 0) {
        BLEND_LOG_WARN("routing",
                       "queue %" PRId64 ": %d relaxation step(s) naming the queue "
                       "itself in add_queue_agents skipped",
                       c->id, self_steps);
    }
    return 0;
}

static int agent_config(struct blend_routing *r, const json_t *a, struct blend_acd_agent_config *c)
{
    memset(c, 0, sizeof *c);
    c->id = json_integer_value(json_object_get(a, "id"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "skills"), i, v)
    {
        uint16_t sid = skill_id(r, json_string_value(json_object_get(v, "skill")));
        if (sid == 0 || c->skills_count == BLEND_ACD_AGENT_SKILLS_MAX) {
            return BLEND_ELIMIT;
        }
        c->skills[c->skills_count].skill = sid;
        c->skills[c->skills_count].proficiency =
            (uint8_t)json_integer_value(json_object_get(v, "proficiency"));
        c->skills_count++;
    }
    json_t *cap = json_object_get(a, "capacity");
    int enabled = !json_is_false(json_object_get(a, "enabled"));
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        c->capacity[ch] =
            enabled ? (uint8_t)json_integer_value(json_object_get(cap, channel_names[ch])) : 0;
    }
    c->voice_exclusive = !json_is_false(json_object_get(a, "voice_exclusive"));
    /* No voice offers without a registered phone (sip.voice_requires_phone, docs/sip.md);
     * contacts already connected stay. */
    if (!blend__phones_voice_allowed(r->app->phones, c->id)) {
        c->capacity[BLEND_CH_VOICE] = 0;
    }
    return 0;
}

static int set_queue(struct blend_routing *r, const json_t *q, int refs)
{
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_QUEUE_SET};
    int rc = queue_config(r, q, refs, &ev.u.queue);
    if (rc == 0) {
        rc = blend__routing_step_detached(r, &ev);
    }
    if (rc == 0) {
        rc = blend_stats_queue_config(
            r->stats, ev.u.queue.id,
            json_integer_value(json_object_get(q, "short_abandon_s")) * 1000,
            json_integer_value(json_object_get(q, "sla_seconds")) * 1000,
            (double)json_integer_value(json_object_get(q, "sla_percent")));
    }
    if (rc) {
        BLEND_LOG_ERROR("routing", "queue %s not loaded: %s",
                        json_string_value(json_object_get(q, "name")), blend_strerror(rc));
    }
    return rc;
}

static int set_agent(struct blend_routing *r, const json_t *a)
{
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_AGENT_SET};
    int rc = agent_config(r, a, &ev.u.agent);
    if (rc == 0) {
        rc = blend__routing_step_detached(r, &ev);
    }
    if (rc) {
        BLEND_LOG_ERROR("routing", "agent %s not loaded: %s",
                        json_string_value(json_object_get(a, "name")), blend_strerror(rc));
    }
    return rc;
}

void blend__routing_agent_reload(struct blend_routing *r, int64_t agent_id)
{
    json_t *doc;
    if (blend_store_get(r->app->store, &blend_res_agents, agent_id, 0, &doc) == 0) {
        (void)set_agent(r, doc);
        json_decref(doc);
    }
}

/* Calls fn for every row of a resource, in id order. */
static int each_row(struct blend_routing *r, const struct blend_resource *res,
                    int (*fn)(struct blend_routing *, const json_t *, int), int arg)
{
    struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX};
    for (;;) {
        json_t *items;
        int64_t next;
        int rc = blend_store_list(r->app->store, res, &q, &items, &next);
        if (rc) {
            return rc;
        }
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            (void)fn(r, row, arg);
        }
        json_decref(items);
        if (next == 0) {
            return 0;
        }
        q.after_id = next;
    }
}

static int load_queue(struct blend_routing *r, const json_t *q, int refs)
{
    return set_queue(r, q, refs);
}

static int load_agent(struct blend_routing *r, const json_t *a, int unused)
{
    (void)unused;
    return set_agent(r, a);
}

/* ---- Restoring after a start --------------------------------------------------------------- */

/*
 * The engine's state is rebuilt from the store (docs/routing.md §Restoring state): each agent's
 * last recorded presence with the instant it began (and a wrap-up's end), and each open
 * interaction with its true first-join instant, current queue, callback flag and connected
 * agent, all read from one pass over the event log. Wall-clock instants become monotonic ones
 * through this process's wall offset, so ages and idle times carry across the restart.
 */
struct agent_last {
    int64_t agent;
    int seen;
    enum blend_acd_presence to;
    char reason[BLEND_ACD_REASON_BYTES];
    int64_t at_wall;
    int64_t until_wall;
};

struct contact_hist {
    int64_t contact;
    int64_t first_wall; /* first contact.queued; 0 = none seen */
    int64_t queue;      /* last contact.queued */
    int is_callback;
    int64_t agent;      /* last contact.connected */
    int connected;      /* the interaction row says connected */
    int offered;        /* the interaction row says offered */
    int64_t offered_agent; /* last contact.offered */
    int sip_call;          /* a SIP call (call.arrived): its dialogs died with the process */
    int32_t priority;
    int64_t customer;
    enum blend_channel channel;
    uint8_t skills_count; /* the interaction's own skills (unknown names left out) */
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
};

static int cmp_agent_last(const void *a, const void *b)
{
    int64_t x = ((const struct agent_last *)a)->agent, y = ((const struct agent_last *)b)->agent;
    return x < y ? -1 : x > y;
}

static int cmp_contact_hist(const void *a, const void *b)
{
    int64_t x = ((const struct contact_hist *)a)->contact;
    int64_t y = ((const struct contact_hist *)b)->contact;
    return x < y ? -1 : x > y;
}

/* Oldest first; connected ones before waiting ones so their agents' capacity is taken first. */
static int cmp_restore_order(const void *a, const void *b)
{
    const struct contact_hist *x = a, *y = b;
    if (x->connected != y->connected) {
        return x->connected ? -1 : 1;
    }
    if (x->first_wall != y->first_wall) {
        return x->first_wall < y->first_wall ? -1 : 1;
    }
    return x->contact < y->contact ? -1 : x->contact > y->contact;
}

/* The wall-clock instant of an event: data.at_ms, or its commit second. */
static int64_t event_wall_ms(const json_t *ev)
{
    json_t *at = json_object_get(json_object_get(ev, "data"), "at_ms");
    if (json_is_integer(at)) {
        return json_integer_value(at);
    }
    const char *ts = json_string_value(json_object_get(ev, "ts"));
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm)) {
        return 0;
    }
    return (int64_t)timegm(&tm) * 1000;
}

/* The engine effect an event of the log records (only its observable fields), for the
 * statistics fold. Returns 0 when the event is not a routing effect. */
static int effect_of_event(const struct blend_routing *r, const json_t *ev,
                           struct blend_acd_effect *f)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!type) {
        return 0;
    }
    memset(f, 0, sizeof *f);
    for (int t = BLEND_ACD_FX_AGENT_STATE; t <= BLEND_ACD_FX_CALLBACK; t++) {
        const char *name = effect_name((enum blend_acd_effect_type)t);
        if (name && strcmp(name, type) == 0) {
            f->type = (enum blend_acd_effect_type)t;
        }
    }
    if (f->type == 0) {
        return 0;
    }
    json_t *d = json_object_get(ev, "data");
    f->at_ms = event_wall_ms(ev) - r->wall_offset_ms;
    f->agent = json_integer_value(json_object_get(d, "agent_id"));
    if (f->type == BLEND_ACD_FX_AGENT_STATE) {
        const char *to = json_string_value(json_object_get(d, "to"));
        const char *reason = json_string_value(json_object_get(d, "reason"));
        for (int k = 0; k < 4; k++) {
            if (to && strcmp(to, presence_names[k]) == 0) {
                f->presence = (enum blend_acd_presence)k;
            }
        }
        snprintf(f->reason, sizeof f->reason, "%s", reason ? reason : "");
        return 1;
    }
    f->contact = json_integer_value(json_object_get(d, "contact_id"));
    f->queue = json_integer_value(json_object_get(d, "queue_id"));
    if (blend__channel_parse(json_string_value(json_object_get(d, "channel")), &f->channel) != 0) {
        return 0;
    }
    f->is_callback = json_is_true(json_object_get(d, "is_callback"));
    f->wait_ms = json_integer_value(json_object_get(d, "wait_ms"));
    f->step = (int)json_integer_value(json_object_get(d, "step"));
    const char *to = json_string_value(json_object_get(d, "to"));
    for (int o = BLEND_OVERFLOW_NONE; to && o <= BLEND_OVERFLOW_CALLBACK; o++) {
        if (strcmp(to, overflow_name((enum blend_acd_overflow)o)) == 0) {
            f->overflow = (enum blend_acd_overflow)o;
        }
    }
    const char *reason = json_string_value(json_object_get(d, "reason"));
    for (int w = 1; reason && w <= 4; w++) {
        if (strcmp(reason, withdraw_names[w]) == 0) {
            f->withdraw = (enum blend_acd_withdraw_reason)w;
        }
    }
    f->is_move = json_is_true(json_object_get(d, "moved"));
    f->is_transfer = json_is_true(json_object_get(d, "transfer"));
    f->to_queue = json_integer_value(json_object_get(d, "to_queue_id"));
    f->to_agent = json_integer_value(json_object_get(d, "to_agent_id"));
    if (f->type == BLEND_ACD_FX_WITHDRAWN && f->withdraw == 0) {
        f->withdraw = BLEND_WITHDRAW_UNAVAILABLE; /* "restart": the offer died with a process */
    }
    return 1;
}

struct restore_set {
    struct agent_last *agents;
    size_t agents_n;
    struct contact_hist *contacts;
    size_t contacts_n, contacts_cap;
};

/* A click-to-call open at the stop (an outbound phone call outside routing: no queue): its
 * dialogs died with the process. Its row is ended, with "call.ended" saying why. */
static void end_dead_click_to_call(struct blend_routing *r, int64_t id)
{
    char subject[64];
    snprintf(subject, sizeof subject, "interactions/%" PRId64, id);
    blend__app_record_event(r->app, "sip", "call.ended", subject,
                            json_pack("{s:I, s:s, s:i, s:s, s:i, s:i}", "interaction_id",
                                      (json_int_t)id, "leg", "blend", "sip_code", 0, "cause",
                                      "restart", "rtp_to_agent", 0, "rtp_to_customer", 0));
    char ts[BLEND__ISO_BYTES];
    blend__wall_iso(ts);
    struct blend_write *w = blend_write_create();
    struct blend_write_op *op =
        w ? blend_write_add(w, BLEND_OP_UPDATE, &blend_res_interactions,
                            json_pack("{s:s, s:s}", "state", "ended", "ended_at", ts))
          : NULL;
    if (!op) {
        blend_write_destroy(w);
        return;
    }
    op->id = id;
    snprintf(w->actor, sizeof w->actor, "sip");
    blend__app_submit_detached(r->app, w);
}

static int is_click_to_call(const json_t *row)
{
    const char *dir = json_string_value(json_object_get(row, "direction"));
    const char *ch = json_string_value(json_object_get(row, "channel"));
    return !json_string_value(json_object_get(row, "queue")) && dir &&
           strcmp(dir, "outbound") == 0 && ch && strcmp(ch, "voice") == 0;
}

/* Open interactions (queued, offered, connected) from their rows; click-to-calls ("new" while
 * dialling, "connected") are ended instead. */
static int collect_open(struct blend_routing *r, struct restore_set *rs)
{
    static const char *const open_states[] = {"queued", "offered", "connected", "new"};
    for (size_t s = 0; s < 4; s++) {
        struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX,
                                     .filter_field = "state",
                                     .filter_value = open_states[s]};
        for (;;) {
            json_t *items;
            int64_t next;
            int rc = blend_store_list(r->app->store, &blend_res_interactions, &q, &items, &next);
            if (rc) {
                return rc;
            }
            size_t i;
            json_t *row;
            json_array_foreach(items, i, row)
            {
                if (is_click_to_call(row)) {
                    end_dead_click_to_call(r, json_integer_value(json_object_get(row, "id")));
                    continue;
                }
                if (s == 3) {
                    continue; /* other new rows are not in routing yet */
                }
                struct contact_hist h = {0};
                h.contact = json_integer_value(json_object_get(row, "id"));
                h.queue = queue_id_by_name(r, json_string_value(json_object_get(row, "queue")));
                h.priority = (int32_t)json_integer_value(json_object_get(row, "priority"));
                h.customer = json_integer_value(json_object_get(row, "contact"));
                h.connected = s == 2;
                h.offered = s == 1;
                /* Own skills: a name no longer among the skills is left out (and logged). */
                if (blend__routing_skills(r, json_object_get(row, "skills"), 1, h.skills,
                                          &h.skills_count, NULL, 0) != 0) {
                    BLEND_LOG_WARN("routing", "interaction %" PRId64 ": own skills unreadable, "
                                   "restored without them", h.contact);
                }
                if (blend__channel_parse(json_string_value(json_object_get(row, "channel")),
                                         &h.channel) != 0) {
                    continue;
                }
                if (rs->contacts_n == rs->contacts_cap) {
                    size_t cap = rs->contacts_cap ? 2 * rs->contacts_cap : 64;
                    struct contact_hist *nc = blend_realloc(rs->contacts, cap * sizeof *nc);
                    if (!nc) {
                        json_decref(items);
                        return BLEND_ENOMEM;
                    }
                    rs->contacts = nc;
                    rs->contacts_cap = cap;
                }
                rs->contacts[rs->contacts_n++] = h;
            }
            json_decref(items);
            if (next == 0) {
                break;
            }
            q.after_id = next;
        }
    }
    if (rs->contacts_n > 1) {
        qsort(rs->contacts, rs->contacts_n, sizeof *rs->contacts, cmp_contact_hist);
    }
    return 0;
}

/* Every agent of the store, sorted by id, none seen yet. */
static int collect_agents(struct blend_routing *r, struct restore_set *rs)
{
    size_t cap = 0;
    struct blend_list_query q = {.limit = BLEND_API_PAGE_MAX};
    for (;;) {
        json_t *items;
        int64_t next;
        int rc = blend_store_list(r->app->store, &blend_res_agents, &q, &items, &next);
        if (rc) {
            return rc;
        }
        size_t i;
        json_t *row;
        json_array_foreach(items, i, row)
        {
            if (rs->agents_n == cap) {
                cap = cap ? 2 * cap : 64;
                struct agent_last *na = blend_realloc(rs->agents, cap * sizeof *na);
                if (!na) {
                    json_decref(items);
                    return BLEND_ENOMEM;
                }
                rs->agents = na;
            }
            struct agent_last a = {0};
            a.agent = json_integer_value(json_object_get(row, "id"));
            rs->agents[rs->agents_n++] = a;
        }
        json_decref(items);
        if (next == 0) {
            break;
        }
        q.after_id = next;
    }
    if (rs->agents_n > 1) {
        qsort(rs->agents, rs->agents_n, sizeof *rs->agents, cmp_agent_last);
    }
    return 0;
}

static void fold_event(struct restore_set *rs, const json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *data = json_object_get(ev, "data");
    if (!type) {
        return;
    }
    if (strcmp(type, "agent.state") == 0) {
        struct agent_last key = {.agent = json_integer_value(json_object_get(data, "agent_id"))};
        struct agent_last *a =
            rs->agents_n ? bsearch(&key, rs->agents, rs->agents_n, sizeof *rs->agents,
                                   cmp_agent_last)
                         : NULL;
        if (!a) {
            return;
        }
        const char *to = json_string_value(json_object_get(data, "to"));
        const char *reason = json_string_value(json_object_get(data, "reason"));
        a->seen = 1;
        a->to = BLEND_PRESENCE_LOGGED_OUT;
        for (int k = 0; k < 4; k++) {
            if (to && strcmp(to, presence_names[k]) == 0) {
                a->to = (enum blend_acd_presence)k;
            }
        }
        snprintf(a->reason, sizeof a->reason, "%s", reason ? reason : "");
        a->at_wall = event_wall_ms(ev);
        a->until_wall = json_integer_value(json_object_get(data, "until_ms"));
        return;
    }
    int is_call = strcmp(type, "call.arrived") == 0;
    if (strncmp(type, "contact.", 8) != 0 && !is_call) {
        return;
    }
    struct contact_hist key = {
        .contact = json_integer_value(json_object_get(data, is_call ? "interaction_id"
                                                                    : "contact_id"))};
    struct contact_hist *c =
        rs->contacts_n ? bsearch(&key, rs->contacts, rs->contacts_n, sizeof *rs->contacts,
                                 cmp_contact_hist)
                       : NULL;
    if (!c) {
        return;
    }
    if (is_call) {
        c->sip_call = 1;
    } else if (strcmp(type, "contact.queued") == 0) {
        if (c->first_wall == 0 || json_is_true(json_object_get(data, "moved"))) {
            /* The first join, or a supervisor's move: a new stay starts here (a moved
             * callback stays one). */
            c->first_wall = event_wall_ms(ev);
        }
        c->queue = json_integer_value(json_object_get(data, "queue_id"));
    } else if (strcmp(type, "contact.callback") == 0) {
        c->is_callback = 1;
    } else if (strcmp(type, "contact.connected") == 0) {
        c->agent = json_integer_value(json_object_get(data, "agent_id"));
    } else if (strcmp(type, "contact.offered") == 0) {
        c->offered_agent = json_integer_value(json_object_get(data, "agent_id"));
    } else if (strcmp(type, "contact.ended") == 0 &&
               json_is_true(json_object_get(data, "transfer"))) {
        /* A transfer starts a new stay: its next contact.queued is the new first join. */
        c->first_wall = 0;
        c->is_callback = 0;
        c->agent = 0;
    }
}

/* Refolds the statistics from the whole log, opening today's window (UTC) when the log reaches
 * today, so live and today's figures read after a restart as they did before it. */
static int fold_log(struct blend_routing *r, struct restore_set *rs)
{
    int64_t after = 0;
    int64_t day_start_wall = (blend__wall_ms() / 86400000) * 86400000;
    int window_open = 0;
    for (;;) {
        json_t *events;
        int rc = blend_store_events(r->app->store, after, BLEND_STORE_EVENTS_READ_MAX, &events);
        if (rc) {
            return rc;
        }
        size_t i, got = json_array_size(events);
        json_t *ev;
        json_array_foreach(events, i, ev)
        {
            after = json_integer_value(json_object_get(ev, "seq"));
            fold_event(rs, ev);
            struct blend_acd_effect f;
            if (!effect_of_event(r, ev, &f)) {
                continue;
            }
            if (!window_open && f.at_ms >= day_start_wall - r->wall_offset_ms) {
                window_open = blend_stats_reset_window(r->stats, day_start_wall -
                                                                     r->wall_offset_ms) == 0;
            }
            if (blend_stats_feed(r->stats, &f) != 0) {
                BLEND_LOG_DEBUG("routing", "statistics skipped event %" PRId64, after);
            }
        }
        json_decref(events);
        if (got == 0) {
            if (!window_open) {
                (void)blend_stats_reset_window(r->stats, day_start_wall - r->wall_offset_ms);
            }
            return 0;
        }
    }
}

/* Steps a restore and submits what it records, unacknowledged; `quiet` drops the writes (the
 * log holds those facts already). */
static int step_restore(struct blend_routing *r, struct blend_acd_event *ev, int quiet)
{
    struct blend_routing_writes ws = {.n = 0};
    r->quiet_stats = quiet;
    int rc = blend__routing_apply(r, ev, &ws);
    r->quiet_stats = 0;
    for (size_t i = 0; i < ws.n; i++) {
        if (quiet) {
            blend_write_destroy(ws.w[i]);
        } else {
            blend__app_submit_detached(r->app, ws.w[i]);
        }
    }
    return rc;
}

static void restore_agent(struct blend_routing *r, const struct agent_last *a, int64_t now)
{
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_AGENT_RESTORE};
    struct blend_acd_agent_restore *ar = &ev.u.agent_restore;
    ar->agent = a->agent;
    ar->presence = a->to;
    snprintf(ar->reason, sizeof ar->reason, "%s", a->reason);
    ar->since_ms = a->at_wall ? a->at_wall - r->wall_offset_ms : now;
    ar->since_ms = ar->since_ms > now ? now : ar->since_ms;
    ar->wrapup_until_ms = a->until_wall ? a->until_wall - r->wall_offset_ms : now;
    /* A wrap-up that ended while the server was down is a new fact: record it. */
    int changes = a->to == BLEND_PRESENCE_WRAP_UP && ar->wrapup_until_ms <= now;
    int rc = step_restore(r, &ev, !changes);
    if (rc) {
        BLEND_LOG_WARN("routing", "agent %" PRId64 " not restored: %s", a->agent,
                       blend_strerror(rc));
    }
}

/* A phone call open at the stop: its SIP dialogs and media died with the process, so the
 * customer is gone. It is restored (so the figures stay whole) and ended at once: abandoned if
 * it was waiting, ended (the agent wraps up) if it was connected, with "call.ended" saying why. */
static void end_dead_call(struct blend_routing *r, const struct contact_hist *c)
{
    struct blend_acd_contact_view v;
    if (blend_acd_contact(r->acd, c->contact, &v) != 0) {
        return; /* already gone (overflowed to voicemail on restore) */
    }
    char subject[64];
    snprintf(subject, sizeof subject, "interactions/%" PRId64, c->contact);
    blend__app_record_event(r->app, "sip", "call.ended", subject,
                            json_pack("{s:I, s:s, s:i, s:s, s:i, s:i}", "interaction_id",
                                      (json_int_t)c->contact, "leg", "blend", "sip_code", 0,
                                      "cause", "restart", "rtp_to_agent", 0, "rtp_to_customer",
                                      0));
    struct blend_acd_event ev = {.type = v.state == BLEND_CONTACT_CONNECTED
                                             ? BLEND_ACD_EV_CONTACT_END
                                             : BLEND_ACD_EV_CONTACT_ABANDON};
    ev.u.contact.contact = c->contact;
    ev.u.contact.agent = v.agent;
    (void)step_restore(r, &ev, 0);
}

static void restore_contact(struct blend_routing *r, const struct contact_hist *c, int64_t now)
{
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_CONTACT_RESTORE};
    struct blend_acd_contact_restore *cr = &ev.u.contact_restore;
    cr->contact = c->contact;
    cr->queue = c->queue;
    cr->channel = c->channel;
    cr->priority = c->priority;
    cr->customer = c->customer;
    cr->enqueued_ms = c->first_wall ? c->first_wall - r->wall_offset_ms : now;
    cr->enqueued_ms = cr->enqueued_ms > now ? now : cr->enqueued_ms;
    cr->is_callback = c->is_callback;
    cr->agent = c->connected ? c->agent : 0;
    cr->skills_count = c->skills_count;
    memcpy(cr->skills, c->skills, sizeof cr->skills);
    if (c->offered) {
        /* The offer died with the process: say so, and the row waits again. */
        struct blend_write *w = blend_write_create();
        struct blend_acd_effect f = {.type = BLEND_ACD_FX_WITHDRAWN,
                                     .at_ms = now,
                                     .agent = c->offered_agent,
                                     .contact = c->contact,
                                     .queue = c->queue,
                                     .channel = c->channel};
        json_t *data = effect_data(r, &f, BLEND_PRESENCE_LOGGED_OUT, 0);
        json_object_set_new(data, "reason", json_string("restart"));
        f.withdraw = BLEND_WITHDRAW_UNAVAILABLE;
        if (blend_stats_feed(r->stats, &f) != 0) {
            BLEND_LOG_DEBUG("routing", "statistics refused a restart withdrawal");
        }
        struct blend_write_op *op = w ? blend_write_add(w, BLEND_OP_EVENT, NULL, data) : NULL;
        if (op) {
            snprintf(w->actor, sizeof w->actor, "routing");
            snprintf(op->event_type, sizeof op->event_type, "contact.withdrawn");
            snprintf(op->subject, sizeof op->subject, "interactions/%" PRId64, c->contact);
            f.type = BLEND_ACD_FX_QUEUED;
            (void)add_interaction_update(r, w, &f);
            blend__app_submit_detached(r->app, w);
        } else {
            if (!w) {
                json_decref(data);
            }
            blend_write_destroy(w);
        }
    }
    r->restoring = c->contact;
    int rc = step_restore(r, &ev, 0);
    r->restoring = 0;
    if (rc && c->connected) {
        /* Its agent is gone or full: the interaction waits again rather than being lost. */
        cr->agent = 0;
        r->restoring = c->contact;
        rc = step_restore(r, &ev, 0);
        r->restoring = 0;
    }
    if (rc) {
        BLEND_LOG_WARN("routing", "interaction %" PRId64 " not restored: %s", c->contact,
                       blend_strerror(rc));
        return;
    }
    if (c->sip_call) {
        end_dead_call(r, c);
    }
}

static int restore_state(struct blend_routing *r)
{
    struct restore_set rs = {0};
    int rc = collect_agents(r, &rs);
    rc = rc ? rc : collect_open(r, &rs);
    rc = rc ? rc : fold_log(r, &rs);
    if (rc == 0) {
        int64_t now = mono_now(r);
        size_t agents = 0;
        if (rs.contacts_n > 1) {
            qsort(rs.contacts, rs.contacts_n, sizeof *rs.contacts, cmp_restore_order);
        }
        /* Dead phone calls that were waiting go first, while no agent is back: they end
         * without being offered to anyone. */
        for (size_t i = 0; i < rs.contacts_n; i++) {
            const struct contact_hist *c = &rs.contacts[i];
            if (c->queue > 0 && c->sip_call && !c->connected) {
                restore_contact(r, c, now);
            }
        }
        for (size_t i = 0; i < rs.agents_n; i++) {
            if (rs.agents[i].seen && rs.agents[i].to != BLEND_PRESENCE_LOGGED_OUT) {
                restore_agent(r, &rs.agents[i], now);
                agents++;
            }
        }
        for (size_t i = 0; i < rs.contacts_n; i++) {
            const struct contact_hist *c = &rs.contacts[i];
            if (c->queue > 0 && !(c->sip_call && !c->connected)) {
                restore_contact(r, c, now);
            }
        }
        BLEND_LOG_INFO("routing", "restored %zu agent(s) and %zu open interaction(s) from the log",
                       agents, rs.contacts_n);
    }
    blend_free(rs.agents);
    blend_free(rs.contacts);
    return rc;
}

/* ---- Lifecycle ------------------------------------------------------------------------------- */

int blend__routing_create(struct blend_app *app, struct blend_routing **out)
{
    struct blend_routing *r = blend_calloc(1, sizeof *r);
    if (!r) {
        return BLEND_ENOMEM;
    }
    r->app = app;
    r->map_slots = 1;
    while (r->map_slots < 2 * ROUTING_TIMERS_MAX) {
        r->map_slots *= 2;
    }
    r->fx = blend_calloc(BLEND_ACD_EFFECTS_MAX, sizeof *r->fx);
    r->heap = blend_calloc(ROUTING_TIMERS_MAX, sizeof *r->heap);
    r->map_id = blend_calloc(r->map_slots, sizeof *r->map_id);
    r->map_due = blend_calloc(r->map_slots, sizeof *r->map_due);
    r->skills = blend_calloc(BLEND_ACD_SKILLS_MAX, sizeof *r->skills);
    struct blend_acd_limits lim = {.agents_max = ROUTING_AGENTS_MAX,
                                   .queues_max = ROUTING_QUEUES_MAX,
                                   .contacts_max = ROUTING_CONTACTS_MAX,
                                   .customers_max = ROUTING_CUSTOMERS_MAX};
    struct blend_stats_limits slim = {.queues_max = ROUTING_QUEUES_MAX,
                                      .agents_max = ROUTING_AGENTS_MAX,
                                      .contacts_max = ROUTING_CONTACTS_MAX};
    int rc = (r->fx && r->heap && r->map_id && r->map_due && r->skills) ? 0 : BLEND_ENOMEM;
    rc = rc ? rc : blend_acd_create(&lim, &r->acd);
    rc = rc ? rc : blend_stats_create(&slim, &r->stats);
    r->stats_day = blend__wall_ms() / 86400000;
    r->wall_offset_ms = blend__wall_ms() - mono_now(r);
    if (rc == 0) {
        uv_timer_init(app->loop, &r->uvt);
        r->uvt.data = r;
    }
    /* Queues twice: first without references to other queues, so every queue exists before
     * any refers to it; then agents; then presence and open interactions. */
    rc = rc ? rc : each_row(r, &blend_res_queues, load_queue, 0);
    rc = rc ? rc : each_row(r, &blend_res_queues, load_queue, 1);
    rc = rc ? rc : each_row(r, &blend_res_agents, load_agent, 0);
    rc = rc ? rc : restore_state(r);
    if (rc) {
        blend__routing_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

static void free_routing(uv_handle_t *h)
{
    struct blend_routing *r = h->data;
    blend_acd_destroy(r->acd);
    blend_stats_destroy(r->stats);
    blend_free(r->fx);
    blend_free(r->heap);
    blend_free(r->map_id);
    blend_free(r->map_due);
    blend_free(r->skills);
    blend_free(r);
}

void blend__routing_agents_reload(struct blend_routing *r)
{
    (void)each_row(r, &blend_res_agents, load_agent, 0);
}

void blend__routing_destroy(struct blend_routing *r)
{
    if (!r) {
        return;
    }
    r->uvt.data = r;
    if (r->uvt.loop) {
        /* The timer was initialised: free once the loop has closed it. */
        uv_close((uv_handle_t *)&r->uvt, free_routing);
        return;
    }
    free_routing((uv_handle_t *)&r->uvt);
}

/* ---- Configuration changes ------------------------------------------------------------------- */

void blend__routing_on_committed(struct blend_routing *r, const json_t *event)
{
    const char *type = json_string_value(json_object_get(event, "type"));
    const char *subject = json_string_value(json_object_get(event, "subject"));
    if (!type || !subject) {
        return;
    }
    const char *slash = strchr(subject, '/');
    int64_t id = slash ? blend__parse_id(slash + 1) : 0;
    int is_queue = strncmp(type, "queues.", 7) == 0;
    int is_agent = strncmp(type, "agents.", 7) == 0;
    if ((!is_queue && !is_agent) || id <= 0) {
        return;
    }
    const char *what = strchr(type, '.') + 1;
    if (strcmp(what, "deleted") == 0) {
        struct blend_acd_event ev = {.type = is_queue ? BLEND_ACD_EV_QUEUE_REMOVE
                                                      : BLEND_ACD_EV_AGENT_REMOVE};
        ev.u.id = id;
        int rc = blend__routing_step_detached(r, &ev);
        if (rc) {
            BLEND_LOG_WARN("routing", "%s %" PRId64 " stays in routing until it is idle: %s",
                           is_queue ? "queue" : "agent", id, blend_strerror(rc));
        }
        return;
    }
    if (is_queue && strcmp(what, "created") == 0) {
        /* A new queue may be the target other queues were waiting for: reload them all. */
        (void)each_row(r, &blend_res_queues, load_queue, 1);
        return;
    }
    json_t *doc;
    if (blend_store_get(r->app->store, is_queue ? &blend_res_queues : &blend_res_agents, id, 0,
                        &doc) != 0) {
        return;
    }
    if (is_queue) {
        (void)set_queue(r, doc, 1);
    } else {
        (void)set_agent(r, doc);
    }
    json_decref(doc);
}

/* ---- Views ----------------------------------------------------------------------------------- */

struct blend_acd *blend__routing_acd(struct blend_routing *r)
{
    return r->acd;
}

static json_t *channel_counts(const uint8_t *v)
{
    json_t *o = json_object();
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        json_object_set_new(o, channel_names[ch], json_integer(v[ch]));
    }
    return o;
}

/* Wall-clock text of a monotonic instant of this process. */
static json_t *when_json(struct blend_routing *r, int64_t mono_ms)
{
    if (mono_ms <= 0) {
        return json_null();
    }
    int64_t wall = mono_ms + r->wall_offset_ms;
    time_t s = (time_t)(wall / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[32], out[40];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, sizeof out, "%s.%03dZ", base, (int)(wall % 1000));
    return json_string(out);
}

json_t *blend__routing_agent_json(struct blend_routing *r, int64_t agent_id)
{
    struct blend_acd_agent_view v;
    if (blend_acd_agent(r->acd, agent_id, &v) != 0) {
        memset(&v, 0, sizeof v);
        v.id = agent_id;
        v.presence = BLEND_PRESENCE_LOGGED_OUT;
    }
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:o}", "agent_id",
                     (json_int_t)v.id, "state", blend__presence_name(v.presence), "reason",
                     v.reason[0] ? json_string(v.reason) : json_null(), "since",
                     when_json(r, v.since_ms), "active", channel_counts(v.active), "offered",
                     channel_counts(v.offered), "engaged", channel_counts(v.engaged), "handled",
                     (int)v.handled, "phone", blend__phones_json(r->app->phones, agent_id));
}

json_t *blend__routing_contact_json(struct blend_routing *r, int64_t contact_id)
{
    struct blend_acd_contact_view v;
    if (blend_acd_contact(r->acd, contact_id, &v) != 0) {
        return NULL;
    }
    static const char *const states[] = {"", "waiting", "offered", "connected"};
    int64_t now = mono_now(r);
    return json_pack("{s:I, s:I, s:s, s:s, s:o, s:I, s:i, s:i, s:b, s:i, s:f}", "interaction_id",
                     (json_int_t)v.id, "queue_id", (json_int_t)v.queue, "channel",
                     blend__channel_name(v.channel), "state",
                     v.state >= 1 && v.state <= 3 ? states[v.state] : "?", "agent_id",
                     v.agent ? json_integer(v.agent) : json_null(), "waited_ms",
                     (json_int_t)(now - v.enqueued_ms), "priority", (int)v.priority, "step",
                     v.step, "is_callback", v.is_callback, "position", (int)v.position,
                     "ewt_s", (double)v.ewt_ms / 1000.0);
}

/* ---- Statistics ------------------------------------------------------------------------------ */

/* Opens a new window when the UTC day changed since the current one opened. */
static void roll_day(struct blend_routing *r, int64_t now)
{
    int64_t day = blend__wall_ms() / 86400000;
    if (day != r->stats_day && blend_stats_reset_window(r->stats, now) == 0) {
        r->stats_day = day;
    }
}

static json_t *figures_json(const struct blend_stats_queue_figures *f)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, "
                     "s:f}",
                     "arrivals", (json_int_t)f->arrivals, "offered", (json_int_t)f->offered,
                     "answered", (json_int_t)f->answered, "abandoned", (json_int_t)f->abandoned,
                     "short_abandoned", (json_int_t)f->short_abandoned, "answered_within_target",
                     (json_int_t)f->answered_within, "callbacks_requested",
                     (json_int_t)f->callbacks_requested, "overflowed_out",
                     (json_int_t)f->overflowed_out, "handled", (json_int_t)f->handled,
                     "transferred", (json_int_t)f->transferred, "service_level",
                     f->service_level, "service_level_ignore_abandons",
                     f->service_level_ignore_abandons, "service_level_abandons_positive",
                     f->service_level_abandons_positive, "asa_s", f->asa_ms / 1000.0, "aht_s",
                     f->aht_ms / 1000.0, "abandon_rate", f->abandon_rate);
}

json_t *blend__routing_queue_stats(struct blend_routing *r, int64_t queue_id)
{
    int64_t now = mono_now(r);
    roll_day(r, now);
    struct blend_stats_queue q;
    struct blend_stats_queue_figures hour;
    struct blend_acd_queue_staff staff;
    if (blend_stats_queue(r->stats, queue_id, now, &q) != 0 ||
        blend_stats_queue_last_hour(r->stats, queue_id, now, &hour) != 0) {
        return NULL;
    }
    if (blend_acd_queue_staff(r->acd, queue_id, &staff) != 0) {
        memset(&staff, 0, sizeof staff);
    }
    json_t *agents = json_pack("{s:i, s:i, s:i, s:i, s:i}", "logged_in", (int)staff.logged_in,
                               "ready", (int)staff.ready, "busy", (int)staff.busy, "not_ready",
                               (int)staff.not_ready, "wrap_up", (int)staff.wrap_up);
    return json_pack("{s:I, s:i, s:i, s:i, s:i, s:f, s:f, s:i, s:o, s:o, s:o, s:o, s:f}",
                     "queue_id", (json_int_t)queue_id, "waiting", (int)q.waiting,
                     "callbacks_waiting",
                     (int)q.callbacks_waiting, "offered_now", (int)q.offered_now,
                     "connected_now", (int)q.connected_now, "longest_wait_s",
                     q.longest_wait_ms / 1000.0, "sla_target_s", q.sl_target_ms / 1000.0,
                     "sla_percent", (int)q.sl_pct, "today", figures_json(&q.window),
                     "last_hour", figures_json(&hour), "window_start",
                     when_json(r, q.window_start_ms), "agents", agents, "ewt_s",
                     staff.ewt_ms / 1000.0);
}

json_t *blend__routing_agent_stats(struct blend_routing *r, int64_t agent_id)
{
    int64_t now = mono_now(r);
    roll_day(r, now);
    struct blend_stats_agent a;
    if (blend_stats_agent(r->stats, agent_id, now, &a) != 0) {
        memset(&a, 0, sizeof a);
        a.id = agent_id;
    }
    json_t *reasons = json_object();
    for (size_t i = 0; i < a.not_ready_reasons_count; i++) {
        json_object_set_new(reasons, a.not_ready_reasons[i].reason[0]
                                         ? a.not_ready_reasons[i].reason
                                         : "other",
                            json_real(a.not_ready_reasons[i].ms / 1000.0));
    }
    return json_pack("{s:I, s:s, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o}",
                     "agent_id", (json_int_t)agent_id, "state",
                     blend__presence_name(a.presence), "connected_now", (int)a.connected_now,
                     "handled", (json_int_t)a.handled, "talk_s", a.talk_ms / 1000.0, "acw_s",
                     a.acw_ms / 1000.0, "aht_s", a.aht_ms / 1000.0, "logged_in_s",
                     a.logged_in_ms / 1000.0, "ready_idle_s", a.ready_idle_ms / 1000.0,
                     "not_ready_s", a.not_ready_ms / 1000.0, "busy_s", a.busy_ms / 1000.0,
                     "occupancy", a.occupancy, "utilization", a.utilization,
                     "not_ready_by_reason", reasons);
}
