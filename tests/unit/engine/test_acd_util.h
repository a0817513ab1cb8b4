/*
 * Test harness shared by the ACD engine tests: a world holding one engine, an injected clock and
 * the timer table built from TIMER_SET/TIMER_CANCEL effects. Before each external event at time
 * t, every timer due at or before t fires in (due, id) order with now = due (the scheme of
 * acd-common.md). blend_acd_check() runs after every step. Observable effects of the last
 * external event (and the timers it fired) accumulate in `seen`.
 */
#ifndef BLEND_TESTS_UNIT_ENGINE_TEST_ACD_UTIL_H
#define BLEND_TESTS_UNIT_ENGINE_TEST_ACD_UTIL_H

#include "base/alloc.h"
#include "engine/acd/acd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W_TIMERS_MAX 4096
#define W_SEEN_MAX 8192

struct w_timer {
    uint64_t id;
    int64_t due_ms;
};

struct world {
    struct blend_acd *acd;
    struct blend_acd_effect items[BLEND_ACD_EFFECTS_MAX];
    struct blend_acd_effects fx;
    int64_t now_ms;
    struct w_timer timers[W_TIMERS_MAX];
    size_t timers_count;
    struct blend_acd_effect seen[W_SEEN_MAX];
    size_t seen_count;
    int is_checked;
};

static inline void w_init(struct world *w, size_t agents, size_t queues, size_t contacts,
                          size_t customers)
{
    memset(w, 0, sizeof *w);
    struct blend_acd_limits lim = {agents, queues, contacts, customers};
    if (blend_acd_create(&lim, &w->acd) != 0) {
        abort();
    }
    w->fx.items = w->items;
    w->fx.cap = BLEND_ACD_EFFECTS_MAX;
    w->is_checked = 1;
}

static inline void w_deinit(struct world *w)
{
    blend_acd_destroy(w->acd);
    w->acd = NULL;
}

static inline void w_timer_set(struct world *w, uint64_t id, int64_t due)
{
    for (size_t i = 0; i < w->timers_count; i++) {
        if (w->timers[i].id == id) {
            w->timers[i].due_ms = due;
            return;
        }
    }
    if (w->timers_count == W_TIMERS_MAX) {
        abort();
    }
    w->timers[w->timers_count].id = id;
    w->timers[w->timers_count].due_ms = due;
    w->timers_count++;
}

static inline void w_timer_cancel(struct world *w, uint64_t id)
{
    for (size_t i = 0; i < w->timers_count; i++) {
        if (w->timers[i].id == id) {
            w->timers[i] = w->timers[--w->timers_count];
            return;
        }
    }
}

/* Runs one event; records timers and observable effects. */
static inline int w_raw(struct world *w, struct blend_acd_event *ev)
{
    int rc = blend_acd_step(w->acd, ev, &w->fx);
    if (getenv("ACD_TRACE")) {
        fprintf(stderr, "ev %d t=%ld id=%ld c=%ld a=%ld q=%ld timer=%lx rc=%d\n", ev->type,
                (long)ev->now_ms, (long)ev->u.id, (long)ev->u.contact.contact,
                (long)ev->u.contact.agent, (long)ev->u.arrive.queue,
                (unsigned long)ev->u.timer, rc);
        for (size_t i = 0; rc == 0 && i < w->fx.count; i++) {
            const struct blend_acd_effect *e = &w->fx.items[i];
            fprintf(stderr, "   fx %d c=%ld a=%ld q=%ld ch=%d p=%d step=%d due=%ld\n", e->type,
                    (long)e->contact, (long)e->agent, (long)e->queue, e->channel, e->presence,
                    e->step, (long)e->due_ms);
        }
    }
    for (size_t i = 0; rc == 0 && i < w->fx.count; i++) {
        const struct blend_acd_effect *e = &w->fx.items[i];
        if (e->type == BLEND_ACD_FX_TIMER_SET) {
            if (e->due_ms < ev->now_ms) {
                abort(); /* a timer in the past would make time run backwards */
            }
            w_timer_set(w, e->timer, e->due_ms);
        } else if (e->type == BLEND_ACD_FX_TIMER_CANCEL) {
            w_timer_cancel(w, e->timer);
        } else if (w->seen_count < W_SEEN_MAX) {
            w->seen[w->seen_count++] = *e;
        }
    }
    if (w->is_checked) {
        blend_acd_check(w->acd);
    }
    return rc;
}

/* Fires every timer due at or before t, in (due, id) order. */
static inline void w_advance(struct world *w, int64_t t)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < w->timers_count; i++) {
            const struct w_timer *x = &w->timers[i];
            if (x->due_ms <= t &&
                (best == SIZE_MAX || x->due_ms < w->timers[best].due_ms ||
                 (x->due_ms == w->timers[best].due_ms && x->id < w->timers[best].id))) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            break;
        }
        struct w_timer x = w->timers[best];
        w->timers[best] = w->timers[--w->timers_count];
        struct blend_acd_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = BLEND_ACD_EV_TIMER;
        ev.now_ms = x.due_ms;
        ev.u.timer = x.id;
        w->now_ms = x.due_ms;
        if (w_raw(w, &ev) != 0) {
            abort();
        }
    }
    w->now_ms = t;
}

/* An external event at time t (timers due before it fire first); clears `seen` first. */
static inline int w_at(struct world *w, int64_t t, struct blend_acd_event ev)
{
    w->seen_count = 0;
    w_advance(w, t);
    ev.now_ms = t;
    return w_raw(w, &ev);
}

static inline struct blend_acd_event ev_id(enum blend_acd_event_type t, int64_t id)
{
    struct blend_acd_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = t;
    ev.u.id = id;
    return ev;
}

static inline struct blend_acd_event ev_nr(int64_t agent, const char *reason)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_AGENT_NOT_READY, 0);
    ev.u.not_ready.agent = agent;
    snprintf(ev.u.not_ready.reason, sizeof ev.u.not_ready.reason, "%s", reason);
    return ev;
}

static inline struct blend_acd_event ev_arrive(int64_t contact, int64_t queue, enum blend_channel ch,
                                               int32_t priority, int64_t customer)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_CONTACT_ARRIVE, 0);
    ev.u.arrive.contact = contact;
    ev.u.arrive.queue = queue;
    ev.u.arrive.channel = ch;
    ev.u.arrive.priority = priority;
    ev.u.arrive.customer = customer;
    return ev;
}

static inline struct blend_acd_event ev_ca(enum blend_acd_event_type t, int64_t contact,
                                           int64_t agent)
{
    struct blend_acd_event ev = ev_id(t, 0);
    ev.u.contact.contact = contact;
    ev.u.contact.agent = agent;
    return ev;
}

static inline struct blend_acd_queue_config q_basic(int64_t id)
{
    struct blend_acd_queue_config q;
    memset(&q, 0, sizeof q);
    q.id = id;
    q.channels = (1u << BLEND_CH_COUNT) - 1;
    q.offer_timeout_ms = 20000;
    q.strategy = BLEND_STRAT_LONGEST_IDLE;
    return q;
}

static inline void q_skill(struct blend_acd_queue_config *q, uint16_t skill, uint8_t min)
{
    q->skills[q->skills_count].skill = skill;
    q->skills[q->skills_count].min_proficiency = min;
    q->skills_count++;
}

static inline struct blend_acd_agent_config a_basic(int64_t id)
{
    struct blend_acd_agent_config a;
    memset(&a, 0, sizeof a);
    a.id = id;
    a.capacity[BLEND_CH_VOICE] = 1;
    a.capacity[BLEND_CH_CHAT] = 3;
    a.capacity[BLEND_CH_EMAIL] = 5;
    a.capacity[BLEND_CH_SMS] = 3;
    a.capacity[BLEND_CH_SOCIAL] = 3;
    a.voice_exclusive = 1;
    return a;
}

static inline void a_skill(struct blend_acd_agent_config *a, uint16_t skill, uint8_t prof)
{
    a->skills[a->skills_count].skill = skill;
    a->skills[a->skills_count].proficiency = prof;
    a->skills_count++;
}

static inline int w_queue(struct world *w, int64_t t, struct blend_acd_queue_config q)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_QUEUE_SET, 0);
    ev.u.queue = q;
    return w_at(w, t, ev);
}

static inline int w_agent(struct world *w, int64_t t, struct blend_acd_agent_config a)
{
    struct blend_acd_event ev = ev_id(BLEND_ACD_EV_AGENT_SET, 0);
    ev.u.agent = a;
    return w_at(w, t, ev);
}

/* Agent set, logged in and made ready at t. */
static inline void w_ready_agent(struct world *w, int64_t t, struct blend_acd_agent_config a)
{
    if (w_agent(w, t, a) != 0 || w_at(w, t, ev_id(BLEND_ACD_EV_AGENT_LOGIN, a.id)) != 0 ||
        w_at(w, t, ev_id(BLEND_ACD_EV_AGENT_READY, a.id)) != 0) {
        abort();
    }
}

/* Number of observable effects of type t (and contact/agent when non-zero) in `seen`. */
static inline int w_count(const struct world *w, enum blend_acd_effect_type t, int64_t contact,
                          int64_t agent)
{
    int n = 0;
    for (size_t i = 0; i < w->seen_count; i++) {
        const struct blend_acd_effect *e = &w->seen[i];
        n += e->type == t && (!contact || e->contact == contact) && (!agent || e->agent == agent);
    }
    return n;
}

static inline const struct blend_acd_effect *w_find(const struct world *w,
                                                    enum blend_acd_effect_type t, int64_t contact)
{
    for (size_t i = 0; i < w->seen_count; i++) {
        if (w->seen[i].type == t && (!contact || w->seen[i].contact == contact)) {
            return &w->seen[i];
        }
    }
    return NULL;
}

/* The agent the contact was offered to in `seen` (0 when none, -1 when several). */
static inline int64_t w_offered_to(const struct world *w, int64_t contact)
{
    int64_t a = 0;
    for (size_t i = 0; i < w->seen_count; i++) {
        if (w->seen[i].type == BLEND_ACD_FX_OFFER && w->seen[i].contact == contact) {
            a = a ? -1 : w->seen[i].agent;
        }
    }
    return a;
}

#endif
