/*
 * The replay driver of `blend sim replay`: runs a parsed scenario on an engine (through struct
 * blend_sim_engine), the way the server's adapter would: it keeps the engine's timers (from
 * TIMER_SET / TIMER_CANCEL effects) and, before each action at time t, fires every timer due at
 * or before t in (due, id) order with now = due; in auto mode it plays the agents and customers
 * (accept every offer at once, end a connected contact after handle_s, abandon a contact still
 * waiting after patience_s). Each engine step's observable effects are printed in canonical
 * order, one JSON line each, and folded into per-queue KPIs printed last.
 *
 * Order at one instant: due timers, then the script's lines in file order, then auto actions in
 * the order they were scheduled; an offer produced by any of them is accepted (auto mode)
 * before the next one runs.
 *
 * Tables are sized from the scenario once; the timer table and the auto-action list are plain
 * arrays scanned for their minimum (scenarios are scripts, not traffic generators).
 */
#include "sim/sim.h"

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest output line (the stats line grows with the queues). */
#define LINE_BYTES_MAX (16 * 1024 * 1024)

struct sim_timer {
    uint64_t id;
    int64_t due_ms;
};

enum auto_kind { AUTO_END = 1, AUTO_ABANDON };

struct auto_action {
    int64_t at_ms;
    uint64_t seq;
    enum auto_kind kind;
    int64_t contact;
};

enum driver_contact_state { DC_NONE = 0, DC_WAITING, DC_OFFERED, DC_CONNECTED, DC_GONE };

struct driver_contact {
    enum driver_contact_state state;
    int64_t handle_ms;
    int64_t patience_ms;
    int64_t connected_ms;
};

struct queue_stats {
    uint64_t joined, answered, answered_in_sla, abandoned, short_abandoned, handled;
    int64_t wait_sum_ms, handle_sum_ms;
};

struct driver_agent {
    int is_wrapping; /* in wrap-up opened by an ended contact */
    int64_t wrap_since_ms;
    int64_t wrap_queue; /* queue the wrap-up counts toward (0 until the ENDED is seen) */
};

struct driver {
    const struct blend_sim_scenario *s;
    const struct blend_sim_engine *eng;
    const struct blend_sim_replay_opts *opts;
    void *engine;
    int64_t now_ms;
    int64_t last_effect_ms; /* time of the last observable effect */
    struct blend_acd_effects fx;
    struct blend_acd_effect *sorted;
    struct sim_timer *timers;
    size_t timers_count, timers_cap;
    struct auto_action *autos;
    size_t autos_count, autos_cap;
    uint64_t auto_seq;
    struct driver_contact *contacts; /* by contact id - 1 */
    struct driver_agent *agents;     /* by agent id - 1 */
    struct queue_stats *stats;       /* by queue id - 1 */
    int64_t *accepts;                /* pending auto accepts: contact, agent pairs */
    size_t accepts_count, accepts_cap;
    struct blend_buf line;
    struct blend_sim_replay_result result;
    int is_oom;
};

/* ---- Effects: observable set, normal form, canonical order --------------------------------- */

int blend_sim_effect_is_observable(const struct blend_acd_effect *e)
{
    return e->type != BLEND_ACD_FX_TIMER_SET && e->type != BLEND_ACD_FX_TIMER_CANCEL;
}

void blend_sim_effect_normalize(const struct blend_acd_effect *e, struct blend_acd_effect *out)
{
    memset(out, 0, sizeof *out);
    out->type = e->type;
    out->at_ms = e->at_ms;
    switch (e->type) {
    case BLEND_ACD_FX_AGENT_STATE:
        out->agent = e->agent;
        out->presence = e->presence;
        if (e->presence == BLEND_PRESENCE_NOT_READY) {
            memcpy(out->reason, e->reason, sizeof out->reason);
            out->reason[sizeof out->reason - 1] = '\0';
        }
        return;
    case BLEND_ACD_FX_TIMER_SET:
        out->due_ms = e->due_ms;
        out->timer = e->timer;
        return;
    case BLEND_ACD_FX_TIMER_CANCEL:
        out->timer = e->timer;
        return;
    default:
        break;
    }
    out->contact = e->contact;
    out->queue = e->queue;
    if (e->type != BLEND_ACD_FX_ABANDONED && e->type != BLEND_ACD_FX_RELAXED &&
        e->type != BLEND_ACD_FX_OVERFLOW && e->type != BLEND_ACD_FX_CALLBACK &&
        e->type != BLEND_ACD_FX_QUEUED) {
        out->agent = e->agent;
    }
    if (e->type == BLEND_ACD_FX_QUEUED || e->type == BLEND_ACD_FX_OFFER ||
        e->type == BLEND_ACD_FX_CONNECTED || e->type == BLEND_ACD_FX_ABANDONED) {
        out->channel = e->channel;
    }
    if (e->type == BLEND_ACD_FX_OFFER || e->type == BLEND_ACD_FX_CONNECTED) {
        out->is_callback = e->is_callback != 0;
    }
    if (e->type == BLEND_ACD_FX_CONNECTED || e->type == BLEND_ACD_FX_ABANDONED) {
        out->wait_ms = e->wait_ms;
    }
    out->step = e->type == BLEND_ACD_FX_RELAXED ? e->step : 0;
    out->overflow = e->type == BLEND_ACD_FX_OVERFLOW ? e->overflow : BLEND_OVERFLOW_NONE;
    out->withdraw = e->type == BLEND_ACD_FX_WITHDRAWN ? e->withdraw : 0;
    if (e->type == BLEND_ACD_FX_ENDED && e->is_transfer) {
        out->is_transfer = 1;
        out->to_queue = e->to_queue;
        out->to_agent = e->to_agent;
    }
}

#define CMP_FIELD(f)                                                                               \
    do {                                                                                           \
        if (x->f != y->f) {                                                                        \
            return x->f < y->f ? -1 : 1;                                                           \
        }                                                                                          \
    } while (0)

int blend_sim_effect_cmp(const void *a, const void *b)
{
    const struct blend_acd_effect *x = a, *y = b;
    CMP_FIELD(at_ms);
    CMP_FIELD(type);
    CMP_FIELD(contact);
    CMP_FIELD(agent);
    CMP_FIELD(queue);
    CMP_FIELD(channel);
    CMP_FIELD(presence);
    int r = strncmp(x->reason, y->reason, sizeof x->reason);
    if (r) {
        return r < 0 ? -1 : 1;
    }
    CMP_FIELD(is_callback);
    CMP_FIELD(step);
    CMP_FIELD(overflow);
    CMP_FIELD(withdraw);
    CMP_FIELD(wait_ms);
    CMP_FIELD(is_transfer);
    CMP_FIELD(to_queue);
    CMP_FIELD(to_agent);
    CMP_FIELD(timer);
    CMP_FIELD(due_ms);
    return 0;
}

/* ---- Number format ----------------------------------------------------------------------------
 */

void blend_sim_format_seconds(int64_t ms, char *out, size_t outlen)
{
    const char *sign = ms < 0 ? "-" : "";
    uint64_t m = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    if (m % 1000 == 0) {
        snprintf(out, outlen, "%s%" PRIu64, sign, m / 1000);
        return;
    }
    char frac[8];
    snprintf(frac, sizeof frac, "%03" PRIu64, m % 1000);
    for (int i = 2; i > 0 && frac[i] == '0'; i--) {
        frac[i] = '\0';
    }
    snprintf(out, outlen, "%s%" PRIu64 ".%s", sign, m / 1000, frac);
}

/* A ratio num/den as thousandths rounded half up, printed like seconds; null when den is 0. */
static void format_ratio(uint64_t num, uint64_t den, char *out, size_t outlen)
{
    if (den == 0) {
        snprintf(out, outlen, "null");
        return;
    }
    blend_sim_format_seconds((int64_t)((num * 2000 + den) / (2 * den)), out, outlen);
}

/* A mean in ms printed as seconds (ms rounded half up); null when n is 0. */
static void format_mean_s(int64_t sum_ms, uint64_t n, char *out, size_t outlen)
{
    if (n == 0) {
        snprintf(out, outlen, "null");
        return;
    }
    blend_sim_format_seconds((sum_ms * 2 + (int64_t)n) / (2 * (int64_t)n), out, outlen);
}

/* ---- Output
 * -------------------------------------------------------------------------------------- */

static const char *name_of(char **names, size_t count, int64_t id)
{
    return id >= 1 && (size_t)id <= count ? names[id - 1] : "null";
}

static void out_printf(struct driver *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(struct driver *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (blend_buf_vprintf(&d->line, fmt, ap) != 0) {
        d->is_oom = 1;
    }
    va_end(ap);
}

static void out_line(struct driver *d)
{
    if (!d->is_oom) {
        d->opts->write(d->line.data, d->line.len, d->opts->arg);
    }
    blend_buf_reset(&d->line);
}

static const struct blend_acd_queue_config *queue_config(const struct blend_sim_scenario *s,
                                                         int64_t id)
{
    for (size_t i = 0; i < s->queues_count; i++) {
        if (s->queues[i].id == id) {
            return &s->queues[i];
        }
    }
    return NULL;
}

static void print_agent_state(struct driver *d, const struct blend_acd_effect *e)
{
    static const char *const states[] = {"logged_out", "ready", "not_ready", "wrap_up"};
    if (e->presence == BLEND_PRESENCE_WRAP_UP) {
        return;
    }
    out_printf(d, ",\"state\":\"%s\"", states[e->presence]);
    if (e->presence == BLEND_PRESENCE_NOT_READY) {
        {
            /* Reasons come from the scenario (already valid UTF-8) or the engine ("login",
             * "missed"); escape the two characters JSON requires. */
            out_printf(d, ",\"reason\":\"");
            for (size_t i = 0; i < sizeof e->reason && e->reason[i]; i++) {
                char c = e->reason[i];
                if (c == '"' || c == '\\') {
                    out_printf(d, "\\%c", c);
                } else if ((unsigned char)c < 0x20) {
                    out_printf(d, "\\u%04x", (unsigned)c);
                } else {
                    out_printf(d, "%c", c);
                }
            }
            out_printf(d, "\"");
        }
    } else {
        out_printf(d, ",\"reason\":null");
    }
}

static void print_effect(struct driver *d, const struct blend_acd_effect *e)
{
    const struct blend_sim_scenario *s = d->s;
    char at[32], wait[32];
    blend_sim_format_seconds(e->at_ms, at, sizeof at);
    out_printf(d, "{\"at\":%s,\"event\":\"%s\"", at, blend_sim_effect_name(e));
    if (e->type != BLEND_ACD_FX_AGENT_STATE) {
        out_printf(d, ",\"contact\":%s",
                   name_of(s->contact_names, s->contact_names_count, e->contact));
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE || e->agent) {
        out_printf(d, ",\"agent\":%s", name_of(s->agent_names, s->agent_names_count, e->agent));
    }
    if (e->type != BLEND_ACD_FX_AGENT_STATE) {
        out_printf(d, ",\"queue\":%s", name_of(s->queue_names, s->queue_names_count, e->queue));
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE) {
        print_agent_state(d, e);
    } else if (e->type == BLEND_ACD_FX_CONNECTED || e->type == BLEND_ACD_FX_ABANDONED) {
        blend_sim_format_seconds(e->wait_ms, wait, sizeof wait);
        out_printf(d, ",\"wait_s\":%s", wait);
    } else if (e->type == BLEND_ACD_FX_WITHDRAWN) {
        static const char *const why[] = {"", "taken", "abandoned", "unavailable", "moved"};
        out_printf(d, ",\"reason\":\"%s\"",
                   e->withdraw >= 1 && e->withdraw <= 4 ? why[e->withdraw] : "unknown");
    } else if (e->type == BLEND_ACD_FX_RELAXED) {
        out_printf(d, ",\"step\":%d", e->step);
    } else if (e->type == BLEND_ACD_FX_OVERFLOW) {
        const struct blend_acd_queue_config *q = queue_config(s, e->queue);
        if (e->overflow == BLEND_OVERFLOW_QUEUE && q) {
            out_printf(d, ",\"to\":%s",
                       name_of(s->queue_names, s->queue_names_count, q->overflow_queue));
        } else {
            out_printf(d, ",\"to\":\"%s\"",
                       e->overflow == BLEND_OVERFLOW_VOICEMAIL ? "voicemail" : "callback");
        }
    }
    if ((e->type == BLEND_ACD_FX_OFFER || e->type == BLEND_ACD_FX_CONNECTED) && e->is_callback) {
        out_printf(d, ",\"callback\":true");
    }
    if (e->type == BLEND_ACD_FX_ENDED && e->is_transfer && e->to_queue) {
        out_printf(d, ",\"transfer\":true,\"to_queue\":%s",
                   name_of(s->queue_names, s->queue_names_count, e->to_queue));
    } else if (e->type == BLEND_ACD_FX_ENDED && e->is_transfer) {
        out_printf(d, ",\"transfer\":true,\"to_agent\":%s",
                   name_of(s->agent_names, s->agent_names_count, e->to_agent));
    }
    out_printf(d, "}");
    out_line(d);
}

/* ---- KPI fold (/work/shared/KPIS.md, definitions in docs/sim.md) ---------------------------- */

static const struct blend_sim_queue_kpi *queue_kpi(const struct blend_sim_scenario *s, int64_t id)
{
    for (size_t i = 0; i < s->queues_count; i++) {
        if (s->queues[i].id == id) {
            return &s->queue_kpis[i];
        }
    }
    return NULL;
}

static struct driver_contact *dcontact(struct driver *d, int64_t id)
{
    BLEND_ASSERT(id >= 1 && (size_t)id <= d->s->contact_names_count);
    return &d->contacts[id - 1];
}

static void push_accept(struct driver *d, int64_t contact, int64_t agent)
{
    if (d->accepts_count + 2 > d->accepts_cap) {
        size_t cap = d->accepts_cap ? d->accepts_cap * 2 : 64;
        int64_t *a = blend_realloc(d->accepts, cap * sizeof *a);
        if (!a) {
            d->is_oom = 1;
            return;
        }
        d->accepts = a;
        d->accepts_cap = cap;
    }
    d->accepts[d->accepts_count++] = contact;
    d->accepts[d->accepts_count++] = agent;
}

static void push_auto(struct driver *d, int64_t at_ms, enum auto_kind kind, int64_t contact)
{
    if (d->autos_count == d->autos_cap) {
        size_t cap = d->autos_cap ? d->autos_cap * 2 : 64;
        struct auto_action *a = blend_realloc(d->autos, cap * sizeof *a);
        if (!a) {
            d->is_oom = 1;
            return;
        }
        d->autos = a;
        d->autos_cap = cap;
    }
    d->autos[d->autos_count++] = (struct auto_action){at_ms, d->auto_seq++, kind, contact};
}

static void wrapup_close(struct driver *d, struct driver_agent *a, int64_t at_ms)
{
    if (a->is_wrapping && a->wrap_queue >= 1 && (size_t)a->wrap_queue <= d->s->queue_names_count) {
        d->stats[a->wrap_queue - 1].handle_sum_ms += at_ms - a->wrap_since_ms;
    }
    a->is_wrapping = 0;
}

static void fold_contact(struct driver *d, const struct blend_acd_effect *e)
{
    struct queue_stats *q = &d->stats[e->queue - 1];
    struct driver_contact *c = dcontact(d, e->contact);
    const struct blend_sim_queue_kpi *k = queue_kpi(d->s, e->queue);
    switch (e->type) {
    case BLEND_ACD_FX_QUEUED:
        q->joined++;
        c->state = DC_WAITING;
        break;
    case BLEND_ACD_FX_OFFER:
        c->state = DC_OFFERED;
        if (d->s->accept == BLEND_SIM_ACCEPT_AUTO) {
            push_accept(d, e->contact, e->agent);
        }
        break;
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
        break; /* still waiting or offered: both may be abandoned */
    case BLEND_ACD_FX_CONNECTED:
        q->answered++;
        q->wait_sum_ms += e->wait_ms;
        q->answered_in_sla += k && e->wait_ms <= k->sla_within_ms;
        c->state = DC_CONNECTED;
        c->connected_ms = e->at_ms;
        if (d->s->accept == BLEND_SIM_ACCEPT_AUTO && c->handle_ms >= 0) {
            push_auto(d, e->at_ms + c->handle_ms, AUTO_END, e->contact);
        }
        break;
    case BLEND_ACD_FX_ABANDONED:
        if (k && k->short_abandon_ms > 0 && e->wait_ms <= k->short_abandon_ms) {
            q->short_abandoned++;
        } else {
            q->abandoned++;
        }
        c->state = DC_GONE;
        break;
    case BLEND_ACD_FX_ENDED: {
        q->handled++;
        q->handle_sum_ms += e->at_ms - c->connected_ms;
        if (!e->is_transfer) {
            c->state = DC_GONE;
        } else if (c->state == DC_CONNECTED) {
            c->state = DC_WAITING; /* its QUEUED (and OFFER) sort before it: they set it */
        }
        struct driver_agent *a = &d->agents[e->agent - 1];
        if (a->is_wrapping && a->wrap_queue == 0) {
            a->wrap_queue = e->queue; /* the wrap-up this contact's end opened */
        }
        break;
    }
    case BLEND_ACD_FX_OVERFLOW:
        if (e->overflow == BLEND_OVERFLOW_VOICEMAIL) {
            c->state = DC_GONE;
        }
        break;
    default:
        break;
    }
}

/* Effects name only ids the scenario gave the engine; anything else is an engine defect. */
static int effect_ids_known(const struct driver *d, const struct blend_acd_effect *e)
{
    const struct blend_sim_scenario *s = d->s;
    if (e->agent < 0 || (size_t)e->agent > s->agent_names_count) {
        return 0;
    }
    if (e->type == BLEND_ACD_FX_AGENT_STATE) {
        return e->agent >= 1;
    }
    return e->contact >= 1 && (size_t)e->contact <= s->contact_names_count && e->queue >= 1 &&
           (size_t)e->queue <= s->queue_names_count;
}

static void fold(struct driver *d, const struct blend_acd_effect *e)
{
    if (e->type == BLEND_ACD_FX_AGENT_STATE) {
        struct driver_agent *a = &d->agents[e->agent - 1];
        wrapup_close(d, a, e->at_ms);
        if (e->presence == BLEND_PRESENCE_WRAP_UP) {
            a->is_wrapping = 1;
            a->wrap_since_ms = e->at_ms;
            a->wrap_queue = 0;
        }
        return;
    }
    fold_contact(d, e);
}

/* ---- Timers ------------------------------------------------------------------------------------
 */

static void timer_apply(struct driver *d, const struct blend_acd_effect *e)
{
    size_t i = 0;
    while (i < d->timers_count && d->timers[i].id != e->timer) {
        i++;
    }
    if (e->type == BLEND_ACD_FX_TIMER_CANCEL) {
        if (i < d->timers_count) {
            d->timers[i] = d->timers[--d->timers_count];
        }
        return;
    }
    if (i == d->timers_count) {
        if (d->timers_count == d->timers_cap) {
            size_t cap = d->timers_cap ? d->timers_cap * 2 : 64;
            struct sim_timer *t = blend_realloc(d->timers, cap * sizeof *t);
            if (!t) {
                d->is_oom = 1;
                return;
            }
            d->timers = t;
            d->timers_cap = cap;
        }
        d->timers_count++;
    }
    d->timers[i].id = e->timer;
    d->timers[i].due_ms = e->due_ms;
}

/* ---- Steps
 * --------------------------------------------------------------------------------------- */

static const char *action_name(enum blend_acd_event_type t)
{
    switch (t) {
    case BLEND_ACD_EV_AGENT_LOGIN:
        return "agent.login";
    case BLEND_ACD_EV_AGENT_READY:
        return "agent.ready";
    case BLEND_ACD_EV_AGENT_NOT_READY:
        return "agent.not_ready";
    case BLEND_ACD_EV_AGENT_LOGOUT:
        return "agent.logout";
    case BLEND_ACD_EV_WRAPUP_END:
        return "wrapup.end";
    case BLEND_ACD_EV_CONTACT_ARRIVE:
        return "contact.arrive";
    case BLEND_ACD_EV_OFFER_ACCEPT:
        return "offer.accept";
    case BLEND_ACD_EV_OFFER_REJECT:
        return "offer.reject";
    case BLEND_ACD_EV_CONTACT_END:
        return "contact.end";
    case BLEND_ACD_EV_CONTACT_ABANDON:
        return "contact.abandon";
    case BLEND_ACD_EV_CALLBACK_REQUEST:
        return "callback.request";
    case BLEND_ACD_EV_CONTACT_PRIORITY:
        return "contact.priority";
    case BLEND_ACD_EV_TIMER:
        return "timer";
    case BLEND_ACD_EV_AGENT_RESTORE:
        return "agent.restore";
    case BLEND_ACD_EV_CONTACT_RESTORE:
        return "contact.restore";
    default:
        return "config";
    }
}

static void refuse(struct driver *d, int line, const struct blend_acd_event *ev, int rc)
{
    char msg[256];
    d->result.refused++;
    if (d->opts->refuse) {
        snprintf(msg, sizeof msg, "%s:%d: the engine refused %s: %s (%s)",
                 d->opts->file ? d->opts->file : "scenario", line, action_name(ev->type),
                 blend_strerror(rc), blend_errname(rc));
        d->opts->refuse(msg, d->opts->arg);
    }
}

/* One engine step: timers recorded, observable effects printed in canonical order and folded. */
static int engine_step(struct driver *d, struct blend_acd_event *ev, int line)
{
    if (d->result.steps >= BLEND_SIM_STEPS_MAX) {
        return BLEND_ELIMIT;
    }
    BLEND_ASSERT(ev->now_ms >= d->now_ms);
    d->now_ms = ev->now_ms;
    d->fx.count = 0;
    int rc = d->eng->step(d->engine, ev, &d->fx);
    d->result.steps++;
    if (d->opts->is_checked && d->eng->check) {
        d->eng->check(d->engine);
    }
    if (rc != 0) {
        refuse(d, line, ev, rc);
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < d->fx.count; i++) {
        const struct blend_acd_effect *e = &d->fx.items[i];
        if (!blend_sim_effect_is_observable(e)) {
            timer_apply(d, e);
        } else {
            blend_sim_effect_normalize(e, &d->sorted[n++]);
        }
    }
    qsort(d->sorted, n, sizeof d->sorted[0], blend_sim_effect_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct blend_acd_effect *e = &d->sorted[i];
        BLEND_ASSERT(effect_ids_known(d, e));
        BLEND_ASSERT(e->at_ms == d->now_ms);
        print_effect(d, e);
        fold(d, e);
        d->last_effect_ms = e->at_ms;
    }
    return d->is_oom ? BLEND_ENOMEM : 0;
}

/* Auto mode: accept every offer at once; a ring-all contact goes to the first offer in order. */
static int run_accepts(struct driver *d)
{
    for (size_t i = 0; i < d->accepts_count; i += 2) {
        int64_t contact = d->accepts[i], agent = d->accepts[i + 1];
        if (dcontact(d, contact)->state != DC_OFFERED) {
            continue;
        }
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_OFFER_ACCEPT, .now_ms = d->now_ms};
        ev.u.contact.contact = contact;
        ev.u.contact.agent = agent;
        int rc = engine_step(d, &ev, 0);
        if (rc) {
            return rc;
        }
    }
    d->accepts_count = 0;
    return 0;
}

static int step_and_accept(struct driver *d, struct blend_acd_event *ev, int line)
{
    int rc = engine_step(d, ev, line);
    return rc ? rc : run_accepts(d);
}

/* contact.restore: a waiting contact is folded from its QUEUED like an arrival; a connected
 * one emits nothing, so the driver records it here (talk time counts from the restore, and in
 * auto mode it ends handle_s later). patience_s counts from the restore. */
static int run_restore(struct driver *d, const struct blend_sim_line *l, struct blend_acd_event *ev)
{
    const struct blend_acd_contact_restore *r = &ev->u.contact_restore;
    struct driver_contact *c = dcontact(d, r->contact);
    uint64_t refused = d->result.refused;
    int is_new = c->state == DC_NONE;
    if (is_new) {
        c->handle_ms = l->handle_ms;
        c->patience_ms = l->patience_ms;
    }
    int rc = engine_step(d, ev, l->line);
    if (rc || d->result.refused != refused || !is_new) {
        return rc ? rc : run_accepts(d);
    }
    if (r->agent != 0) {
        c->state = DC_CONNECTED;
        c->connected_ms = l->at_ms;
        if (d->s->accept == BLEND_SIM_ACCEPT_AUTO && c->handle_ms >= 0) {
            push_auto(d, l->at_ms + c->handle_ms, AUTO_END, r->contact);
        }
    } else if (d->s->accept == BLEND_SIM_ACCEPT_AUTO && l->patience_ms >= 0) {
        push_auto(d, l->at_ms + l->patience_ms, AUTO_ABANDON, r->contact);
    }
    return run_accepts(d);
}

static int run_line(struct driver *d, const struct blend_sim_line *l)
{
    struct blend_acd_event ev = l->ev;
    ev.now_ms = l->at_ms;
    if (ev.type == BLEND_ACD_EV_CONTACT_ARRIVE) {
        struct driver_contact *c = dcontact(d, ev.u.arrive.contact);
        if (c->state == DC_NONE) {
            c->handle_ms = l->handle_ms;
            c->patience_ms = l->patience_ms;
            if (d->s->accept == BLEND_SIM_ACCEPT_AUTO && l->patience_ms >= 0) {
                push_auto(d, l->at_ms + l->patience_ms, AUTO_ABANDON, ev.u.arrive.contact);
            }
        }
    }
    if (ev.type == BLEND_ACD_EV_CONTACT_RESTORE) {
        return run_restore(d, l, &ev);
    }
    return step_and_accept(d, &ev, l->line);
}

static int run_auto(struct driver *d, struct auto_action a)
{
    struct driver_contact *c = dcontact(d, a.contact);
    struct blend_acd_event ev = {.now_ms = a.at_ms};
    ev.u.contact.contact = a.contact;
    if (a.kind == AUTO_END && c->state == DC_CONNECTED &&
        a.at_ms == c->connected_ms + c->handle_ms) {
        /* (an end scheduled for an earlier connection, before a transfer, is stale) */
        ev.type = BLEND_ACD_EV_CONTACT_END;
    } else if (a.kind == AUTO_ABANDON && (c->state == DC_WAITING || c->state == DC_OFFERED)) {
        ev.type = BLEND_ACD_EV_CONTACT_ABANDON;
    } else {
        d->now_ms = a.at_ms;
        return 0; /* the contact moved on before its time came */
    }
    return step_and_accept(d, &ev, 0);
}

static int run_timer(struct driver *d, size_t i)
{
    struct sim_timer t = d->timers[i];
    d->timers[i] = d->timers[--d->timers_count];
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_TIMER, .now_ms = t.due_ms};
    ev.u.timer = t.id;
    return step_and_accept(d, &ev, 0);
}

/* ---- Main loop
 * ------------------------------------------------------------------------------------ */

static int configure(struct driver *d)
{
    const struct blend_sim_scenario *s = d->s;
    struct blend_acd_event ev = {.type = BLEND_ACD_EV_QUEUE_SET, .now_ms = 0};
    /* Queues in id order (order of first appearance), then agents. */
    for (int64_t id = 1; (size_t)id <= s->queue_names_count; id++) {
        ev.u.queue = *queue_config(s, id);
        int rc = d->eng->step(d->engine, &ev, &d->fx);
        if (rc) {
            refuse(d, 1, &ev, rc);
            return rc;
        }
    }
    ev.type = BLEND_ACD_EV_AGENT_SET;
    for (size_t i = 0; i < s->agents_count; i++) {
        ev.u.agent = s->agents[i];
        int rc = d->eng->step(d->engine, &ev, &d->fx);
        if (rc) {
            refuse(d, 1, &ev, rc);
            return rc;
        }
    }
    return 0;
}

static int64_t run_limit_ms(const struct blend_sim_scenario *s)
{
    if (s->end_ms >= 0) {
        return s->end_ms;
    }
    if (s->accept == BLEND_SIM_ACCEPT_MANUAL) {
        return s->lines_count ? s->lines[s->lines_count - 1].at_ms : 0;
    }
    return INT64_MAX;
}

static int run(struct driver *d)
{
    const struct blend_sim_scenario *s = d->s;
    int64_t limit_ms = run_limit_ms(s);
    size_t next = 0;
    for (int rc = 0; rc == 0;) {
        int64_t t_line = next < s->lines_count ? s->lines[next].at_ms : INT64_MAX;
        size_t ai = d->autos_count, ti = d->timers_count;
        for (size_t i = 0; i < d->autos_count; i++) {
            const struct auto_action *a = &d->autos[i];
            if (ai == d->autos_count || a->at_ms < d->autos[ai].at_ms ||
                (a->at_ms == d->autos[ai].at_ms && a->seq < d->autos[ai].seq)) {
                ai = i;
            }
        }
        for (size_t i = 0; i < d->timers_count; i++) {
            const struct sim_timer *t = &d->timers[i];
            if (ti == d->timers_count || t->due_ms < d->timers[ti].due_ms ||
                (t->due_ms == d->timers[ti].due_ms && t->id < d->timers[ti].id)) {
                ti = i;
            }
        }
        int64_t t_auto = ai < d->autos_count ? d->autos[ai].at_ms : INT64_MAX;
        int64_t t_timer = ti < d->timers_count ? d->timers[ti].due_ms : INT64_MAX;
        int64_t t_action = t_line < t_auto ? t_line : t_auto;
        int64_t t_next = t_timer <= t_action ? t_timer : t_action;
        if (t_next == INT64_MAX || t_next > limit_ms) {
            return 0;
        }
        if (t_timer <= t_action) {
            rc = run_timer(d, ti);
        } else if (t_line <= t_auto) {
            rc = run_line(d, &s->lines[next++]);
        } else {
            struct auto_action a = d->autos[ai];
            d->autos[ai] = d->autos[--d->autos_count];
            rc = run_auto(d, a);
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static void print_stats(struct driver *d, int64_t at_ms)
{
    const struct blend_sim_scenario *s = d->s;
    char at[32], sl[32], asa[32], aht[32], ar[32];
    for (size_t i = 0; i < s->agents_count; i++) {
        wrapup_close(d, &d->agents[i], at_ms);
    }
    blend_sim_format_seconds(at_ms, at, sizeof at);
    out_printf(d, "{\"at\":%s,\"event\":\"stats\",\"queues\":[", at);
    for (size_t i = 0; i < s->queue_names_count; i++) {
        const struct queue_stats *q = &d->stats[i];
        uint64_t decided = q->answered + q->abandoned;
        format_ratio(q->answered_in_sla, decided, sl, sizeof sl);
        format_mean_s(q->wait_sum_ms, q->answered, asa, sizeof asa);
        format_mean_s(q->handle_sum_ms, q->handled, aht, sizeof aht);
        format_ratio(q->abandoned, decided, ar, sizeof ar);
        out_printf(d,
                   "%s{\"queue\":%s,\"offered\":%" PRIu64 ",\"answered\":%" PRIu64
                   ",\"abandoned\":%" PRIu64 ",\"short_abandoned\":%" PRIu64
                   ",\"service_level\":%s,\"asa_s\":%s,\"aht_s\":%s,\"abandon_rate\":%s}",
                   i ? "," : "", s->queue_names[i], q->joined - q->short_abandoned, q->answered,
                   q->abandoned, q->short_abandoned, sl, asa, aht, ar);
    }
    out_printf(d, "]}");
    out_line(d);
}

static int driver_init(struct driver *d)
{
    const struct blend_sim_scenario *s = d->s;
    d->fx.cap = BLEND_ACD_EFFECTS_MAX;
    d->fx.items = blend_calloc(BLEND_ACD_EFFECTS_MAX, sizeof *d->fx.items);
    d->sorted = blend_calloc(BLEND_ACD_EFFECTS_MAX, sizeof *d->sorted);
    d->contacts = blend_calloc(s->contact_names_count + 1, sizeof *d->contacts);
    d->agents = blend_calloc(s->agents_count + 1, sizeof *d->agents);
    d->stats = blend_calloc(s->queue_names_count + 1, sizeof *d->stats);
    blend_buf_init(&d->line, LINE_BYTES_MAX);
    if (!d->fx.items || !d->sorted || !d->contacts || !d->agents || !d->stats) {
        return BLEND_ENOMEM;
    }
    struct blend_acd_limits limits = {
        .agents_max = s->agents_count ? s->agents_count : 1,
        .queues_max = s->queues_count,
        .contacts_max = s->contact_names_count ? s->contact_names_count : 1,
        .customers_max = s->customers_count ? s->customers_count : 1,
    };
    return d->eng->create(&limits, &d->engine);
}

static void driver_deinit(struct driver *d)
{
    if (d->engine) {
        d->eng->destroy(d->engine);
    }
    blend_free(d->fx.items);
    blend_free(d->sorted);
    blend_free(d->contacts);
    blend_free(d->agents);
    blend_free(d->stats);
    blend_free(d->timers);
    blend_free(d->autos);
    blend_free(d->accepts);
    blend_buf_deinit(&d->line);
}

int blend_sim_replay(const struct blend_sim_scenario *s, const struct blend_sim_engine *engine,
                     const struct blend_sim_replay_opts *opts,
                     struct blend_sim_replay_result *result)
{
    BLEND_ASSERT(s && engine && opts && opts->write && result);
    BLEND_ASSERT(s->queues_count == s->queue_names_count && s->queues_count > 0);
    struct driver d = {.s = s, .eng = engine, .opts = opts};
    int rc = driver_init(&d);
    rc = rc ? rc : configure(&d);
    rc = rc ? rc : run(&d);
    if (rc == 0) {
        int64_t limit_ms = run_limit_ms(s);
        /* Auto mode ends with its last observable effect: stale timers that fire later and do
         * nothing must not move the end (engines may leave different stale timers armed). */
        print_stats(&d, limit_ms == INT64_MAX ? d.last_effect_ms : limit_ms);
        rc = d.is_oom ? BLEND_ENOMEM : 0;
    }
    if (rc == 0) {
        *result = d.result;
    }
    driver_deinit(&d);
    return rc;
}

const char *blend_sim_effect_name(const struct blend_acd_effect *e)
{
    static const char *const names[] = {
        [BLEND_ACD_FX_AGENT_STATE] = "agent.state",
        [BLEND_ACD_FX_QUEUED] = "queued",
        [BLEND_ACD_FX_OFFER] = "offer",
        [BLEND_ACD_FX_OFFER_TIMEOUT] = "offer.timeout",
        [BLEND_ACD_FX_OFFER_REJECTED] = "offer.rejected",
        [BLEND_ACD_FX_WITHDRAWN] = "withdrawn",
        [BLEND_ACD_FX_CONNECTED] = "connected",
        [BLEND_ACD_FX_ABANDONED] = "abandoned",
        [BLEND_ACD_FX_ENDED] = "ended",
        [BLEND_ACD_FX_RELAXED] = "relaxed",
        [BLEND_ACD_FX_OVERFLOW] = "overflow",
        [BLEND_ACD_FX_CALLBACK] = "callback",
    };
    if (e->type == BLEND_ACD_FX_AGENT_STATE && e->presence == BLEND_PRESENCE_WRAP_UP) {
        return "wrapup";
    }
    BLEND_ASSERT(e->type >= BLEND_ACD_FX_AGENT_STATE && e->type <= BLEND_ACD_FX_CALLBACK);
    return names[e->type];
}
