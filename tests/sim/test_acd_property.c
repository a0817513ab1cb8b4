/*
 * Cross-check of the fast engine (blend_acd_*) against the reference model (blend_acdref_*):
 * random small worlds (<= 12 agents, <= 5 queues, <= 40 contacts alive, every strategy,
 * relaxation, overflow, ring-all, callbacks, sticky customers, multi-channel capacities,
 * transfers to queues and to agents, engagements of agents by calls the engine does not route
 * and attended transfers onto them, waiting and offered contacts moved to a queue or an agent)
 * are
 * driven by the same external events; each engine's harness keeps its own timer table and fires
 * its due timers before each external event (acd-common rules). After every step both engines'
 * invariants are checked; between two external events the observable effects (normalized,
 * sorted canonically), the return codes and the agent and contact views must be equal.
 *
 * The tracker (from the reference's effects) also checks the contact life cycle on its own: no
 * contact holds two offers to one agent, a transfer's or a move's pending direct offer is the
 * contact's only offer, and every contact that arrived ends exactly once (ENDED without
 * is_transfer, ABANDONED or OVERFLOW to voicemail), nothing being said of it afterwards. The
 * QUEUED effects marked is_move (which the normalized effects drop) are compared apart.
 *
 * The generator never makes a relaxation step add its own queue (QUEUE_SET refuses it);
 * test_self_reference_refused checks that both engines refuse such a step alike.
 *
 * On a mismatch the seed, the world and the shortest event prefix that shows it (every event up
 * to the first differing one) are printed. BLEND_PROP_SEEDS and BLEND_PROP_EVENTS override the
 * number of seeds and external events per seed; BLEND_PROP_SEED=N runs that one seed;
 * BLEND_PROP_TRACE=1 prints every event with the reference's effects; BLEND_PROP_ALL=1 goes on
 * after the third mismatching seed (to count them).
 */
#include "ref_acd.h"

#include "base/alloc.h"
#include "sim/sim.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define AGENTS_MAX 12
#define QUEUES_MAX 5
#define CONTACTS_MAX 40
#define CUSTOMERS_MAX 4
#define SKILLS_POOL 4
#define SEEDS_DEFAULT 420
#define EVENTS_DEFAULT 2000

/* ---- Random ------------------------------------------------------------------------------------
 */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int64_t rnd_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int chance(int percent)
{
    return (int)(rnd() % 100) < percent;
}

/* ---- Harness: one per engine ------------------------------------------------------------------
 */

struct timer {
    uint64_t id;
    int64_t due_ms;
};

struct harness {
    const char *name;
    void *engine;
    int (*step)(void *e, const struct blend_acd_event *ev, struct blend_acd_effects *fx);
    void (*check)(const void *e);
    struct timer timers[4096];
    size_t timers_count;
    struct blend_acd_effects fx;
    struct blend_acd_effect *seen; /* observable effects since the last external event */
    size_t seen_count, seen_cap;
    /* QUEUED effects marked is_move since the last external event (the normalized effects in
     * `seen` do not keep the mark): a sum of their contact ids, and their count. */
    int64_t move_ids;
    uint64_t move_marks;
    uint64_t steps;
};

static int h_ref_step(void *e, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acdref_step(e, ev, fx);
}

static void h_ref_check(const void *e)
{
    blend_acdref_check(e);
}

static int h_fast_step(void *e, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acd_step(e, ev, fx);
}

static void h_fast_check(const void *e)
{
    blend_acd_check(e);
}

static void seen_push(struct harness *h, const struct blend_acd_effect *e)
{
    if (h->seen_count == h->seen_cap) {
        h->seen_cap = h->seen_cap ? h->seen_cap * 2 : 256;
        h->seen = realloc(h->seen, h->seen_cap * sizeof *h->seen);
        assert_non_null(h->seen);
    }
    blend_sim_effect_normalize(e, &h->seen[h->seen_count++]);
}

static void timer_apply(struct harness *h, const struct blend_acd_effect *e)
{
    size_t i = 0;
    while (i < h->timers_count && h->timers[i].id != e->timer) {
        i++;
    }
    if (e->type == BLEND_ACD_FX_TIMER_CANCEL) {
        if (i < h->timers_count) {
            h->timers[i] = h->timers[--h->timers_count];
        }
        return;
    }
    if (i == h->timers_count) {
        assert_true(h->timers_count < sizeof h->timers / sizeof h->timers[0]);
        h->timers_count++;
    }
    h->timers[i].id = e->timer;
    h->timers[i].due_ms = e->due_ms;
}

/* Steps the engine, checks its invariants, records timers and observable effects. */
static int h_step(struct harness *h, const struct blend_acd_event *ev)
{
    h->fx.count = 0;
    int rc = h->step(h->engine, ev, &h->fx);
    h->check(h->engine);
    h->steps++;
    for (size_t i = 0; rc == 0 && i < h->fx.count; i++) {
        const struct blend_acd_effect *e = &h->fx.items[i];
        if (blend_sim_effect_is_observable(e)) {
            seen_push(h, e);
            if (e->type == BLEND_ACD_FX_QUEUED && e->is_move) {
                h->move_ids += e->contact;
                h->move_marks++;
            }
        } else {
            timer_apply(h, e);
        }
    }
    return rc;
}

/* Fires every timer due at or before t, in (due, id) order, with now = due. */
static int h_fire_due(struct harness *h, int64_t t)
{
    for (;;) {
        size_t best = h->timers_count;
        for (size_t i = 0; i < h->timers_count; i++) {
            const struct timer *x = &h->timers[i];
            if (x->due_ms <= t &&
                (best == h->timers_count || x->due_ms < h->timers[best].due_ms ||
                 (x->due_ms == h->timers[best].due_ms && x->id < h->timers[best].id))) {
                best = i;
            }
        }
        if (best == h->timers_count) {
            return 0;
        }
        struct blend_acd_event ev = {.type = BLEND_ACD_EV_TIMER, .now_ms = h->timers[best].due_ms};
        ev.u.timer = h->timers[best].id;
        h->timers[best] = h->timers[--h->timers_count];
        int rc = h_step(h, &ev);
        if (rc) {
            return rc;
        }
    }
}

/* ---- World generation -------------------------------------------------------------------------
 */

struct world {
    struct blend_acd_queue_config queues[QUEUES_MAX];
    int queues_count;
    struct blend_acd_agent_config agents[AGENTS_MAX];
    int agents_count;
};

static void gen_reqs(struct blend_acd_skill_req *req, uint8_t *count, int max_n)
{
    int n = (int)rnd_in(0, max_n);
    *count = 0;
    for (int i = 0; i < n; i++) {
        uint16_t skill = (uint16_t)rnd_in(1, SKILLS_POOL);
        int dup = 0;
        for (int j = 0; j < *count; j++) {
            dup |= req[j].skill == skill;
        }
        if (!dup) {
            req[*count].skill = skill;
            req[*count].min_proficiency = (uint8_t)rnd_in(1, 8);
            (*count)++;
        }
    }
}

/* A contact's own required skills: none for most contacts, else 1 or 2 drawn from the same
 * small pool as the queues' (so they often overlap a queue's skill with a higher or lower
 * minimum); now and then an invalid set (a skill twice, a minimum out of range) that both
 * engines must refuse with BLEND_EINVAL. */
static void gen_own(struct blend_acd_skill_req *req, uint8_t *count)
{
    *count = 0;
    if (!chance(30)) {
        return;
    }
    int n = (int)rnd_in(1, 2);
    for (int i = 0; i < n; i++) {
        uint16_t skill = (uint16_t)rnd_in(1, SKILLS_POOL);
        int dup = 0;
        for (int j = 0; j < *count; j++) {
            dup |= req[j].skill == skill;
        }
        if (!dup || chance(3)) {
            req[*count].skill = skill;
            req[*count].min_proficiency = (uint8_t)rnd_in(1, 9);
            (*count)++;
        }
    }
    if (chance(2)) {
        req[0].min_proficiency = chance(50) ? 0 : 11;
    }
}

static void gen_queue(struct blend_acd_queue_config *q, int64_t id, int queues_count)
{
    memset(q, 0, sizeof *q);
    q->id = id;
    q->channels = (unsigned)rnd_in(1, 31);
    if (chance(50)) {
        q->channels = 1u << BLEND_CH_VOICE | (chance(30) ? 1u << BLEND_CH_CHAT : 0);
    }
    gen_reqs(q->skills, &q->skills_count, 2);
    q->strategy = (enum blend_acd_strategy)rnd_in(0, 6);
    q->sticky_fallback = (enum blend_acd_strategy)rnd_in(0, 4);
    q->sticky_ms = rnd_in(1, 40) * 1000;
    q->priority = (int32_t)rnd_in(0, 20);
    q->acceleration_per_min = chance(50) ? (int32_t)rnd_in(0, 60) : 0;
    q->max_priority = chance(30) ? (int32_t)rnd_in(1, 60) : 0;
    q->wrapup_ms = chance(50) ? rnd_in(1, 20) * 500 : 0;
    q->offer_timeout_ms = rnd_in(2, 20) * 1000;
    q->max_no_answer = (int32_t)rnd_in(0, 3);
    q->reoffer_delay_ms = chance(50) ? rnd_in(1, 30) * 500 : 0;
    if (chance(50)) {
        q->max_wait_ms = rnd_in(5, 90) * 1000;
        q->overflow = (enum blend_acd_overflow)rnd_in(1, 3);
        if (q->overflow == BLEND_OVERFLOW_QUEUE) {
            q->overflow_queue = rnd_in(1, queues_count);
            if (q->overflow_queue == id) {
                q->overflow = BLEND_OVERFLOW_VOICEMAIL;
                q->overflow_queue = 0;
            }
        }
    }
    q->relax_count = (uint8_t)rnd_in(0, 3);
    int64_t after_ms = 0;
    for (int i = 0; i < q->relax_count; i++) {
        struct blend_acd_relax_step *s = &q->relax[i];
        after_ms += rnd_in(1, 40) * 1000;
        s->after_ms = after_ms;
        s->has_skills = chance(60);
        if (s->has_skills) {
            gen_reqs(s->skills, &s->skills_count, 2);
        }
        s->add_queue_agents = chance(40) ? rnd_in(1, queues_count) : 0;
        if (s->add_queue_agents == id) {
            /* A step adding its own queue is refused (test_self_reference_refused checks
             * that); the next queue is taken instead, with no extra draw so that seeds keep
             * their worlds. */
            s->add_queue_agents = queues_count > 1 ? id % queues_count + 1 : 0;
        }
    }
}

static void gen_agent(struct blend_acd_agent_config *a, int64_t id)
{
    memset(a, 0, sizeof *a);
    a->id = id;
    int n = (int)rnd_in(0, SKILLS_POOL);
    for (int s = 1; s <= SKILLS_POOL && a->skills_count < n; s++) {
        if (chance(70)) {
            a->skills[a->skills_count].skill = (uint16_t)s;
            a->skills[a->skills_count].proficiency = (uint8_t)rnd_in(1, 10);
            a->skills_count++;
        }
    }
    a->capacity[BLEND_CH_VOICE] = (uint8_t)rnd_in(0, 1);
    for (int c = 1; c < BLEND_CH_COUNT; c++) {
        a->capacity[c] = (uint8_t)(chance(50) ? rnd_in(0, 3) : 0);
    }
    if (chance(70)) {
        a->capacity[BLEND_CH_VOICE] = 1;
    }
    a->voice_exclusive = chance(70);
}

static void gen_world(struct world *w)
{
    w->queues_count = (int)rnd_in(1, QUEUES_MAX);
    w->agents_count = (int)rnd_in(1, AGENTS_MAX);
    for (int i = 0; i < w->queues_count; i++) {
        gen_queue(&w->queues[i], i + 1, w->queues_count);
    }
    for (int i = 0; i < w->agents_count; i++) {
        gen_agent(&w->agents[i], i + 1);
    }
}

/* ---- Model of the scenario (from the reference's effects) --------------------------------------
 */

struct tracker {
    int64_t conn[CONTACTS_MAX * 4][2]; /* connected: contact, agent (transfer sources) */
    size_t conn_count;
    uint8_t *finished; /* by contact id: ended, abandoned or gone to voicemail */
    int64_t *direct;   /* by contact id: the agent a transfer named, else 0 */
    int64_t *direct_ext; /* by contact id: the external event of that transfer, or -1 once
                            its direct offer is outstanding */
    int64_t ext;       /* external events applied */
    uint64_t transfers, direct_offers; /* transfers accepted, direct offers made (coverage) */
    uint8_t *own;      /* by contact id: it carries own skills */
    uint64_t own_offers, own_moves; /* offers of such contacts; their overflows, transfers to a
                                       queue and callbacks (coverage) */
    int64_t move_contact, move_agent; /* the external event's CONTACT_MOVE (accepted) */
    size_t ids_max;    /* size of finished and direct */
    char why[256];     /* the first life-cycle violation seen, "" when none */
    int64_t live[CONTACTS_MAX * 4];
    int64_t live_queue[CONTACTS_MAX * 4]; /* the queue each live contact last joined */
    size_t live_count;
    enum blend_acd_presence presence[AGENTS_MAX + 1]; /* by agent id, from AGENT_STATE */
    int64_t offers[4096][2]; /* contact, agent */
    size_t offers_count;
    int64_t next_contact;
    uint64_t view_tick;
};

static void live_remove(struct tracker *t, int64_t c)
{
    for (size_t i = 0; i < t->live_count; i++) {
        if (t->live[i] == c) {
            t->live[i] = t->live[--t->live_count];
            t->live_queue[i] = t->live_queue[t->live_count];
            return;
        }
    }
}

static void offer_remove(struct tracker *t, int64_t c, int64_t a)
{
    for (size_t i = 0; i < t->offers_count; i++) {
        if (t->offers[i][0] == c && (a == 0 || t->offers[i][1] == a)) {
            t->offers[i][0] = t->offers[--t->offers_count][0];
            t->offers[i][1] = t->offers[t->offers_count][1];
            i--;
        }
    }
}

static void conn_remove(struct tracker *t, int64_t c)
{
    for (size_t i = 0; i < t->conn_count; i++) {
        if (t->conn[i][0] == c) {
            t->conn[i][0] = t->conn[--t->conn_count][0];
            t->conn[i][1] = t->conn[t->conn_count][1];
            return;
        }
    }
}

static void conn_add(struct tracker *t, int64_t c, int64_t a)
{
    assert_true(t->conn_count < sizeof t->conn / sizeof t->conn[0]);
    t->conn[t->conn_count][0] = c;
    t->conn[t->conn_count++][1] = a;
}

static int offer_held(const struct tracker *t, int64_t c, int64_t a)
{
    for (size_t i = 0; i < t->offers_count; i++) {
        if (t->offers[i][0] == c && (a == 0 || t->offers[i][1] == a)) {
            return 1;
        }
    }
    return 0;
}

static void violation(struct tracker *t, const char *what, const struct blend_acd_effect *e)
{
    if (!t->why[0]) {
        snprintf(t->why, sizeof t->why, "life cycle: %s (effect type %d contact %lld agent %lld)",
                 what, e->type, (long long)e->contact, (long long)e->agent);
    }
}

/* The contact's life cycle as the effects tell it (docs/routing.md §Invariants 1, 5). */
static void track_life(struct tracker *t, const struct blend_acd_effect *e)
{
    if (e->contact <= 0 || (size_t)e->contact >= t->ids_max) {
        return;
    }
    size_t id = (size_t)e->contact;
    if (t->finished[id]) {
        violation(t, "effect on a contact that has ended", e);
    }
    if ((e->type == BLEND_ACD_FX_ENDED && !e->is_transfer) || e->type == BLEND_ACD_FX_ABANDONED ||
        (e->type == BLEND_ACD_FX_OVERFLOW && e->overflow == BLEND_OVERFLOW_VOICEMAIL)) {
        t->finished[id] = 1;
    }
    switch (e->type) {
    case BLEND_ACD_FX_OFFER:
        if (offer_held(t, e->contact, e->agent)) {
            violation(t, "offered twice to one agent", e);
        }
        if (t->direct[id] && t->direct_ext[id] == -1) {
            violation(t, "offered while a transfer's direct offer is outstanding", e);
        } else if (t->direct[id] && t->direct_ext[id] == t->ext && e->agent == t->direct[id] &&
                   !offer_held(t, e->contact, 0)) {
            t->direct_ext[id] = -1; /* the direct offer, made in the transfer's own step */
            t->direct_offers++;
        } else {
            t->direct[id] = 0; /* the target was not available: an ordinary stay */
        }
        break;
    case BLEND_ACD_FX_ENDED:
        t->direct[id] = e->is_transfer ? e->to_agent : 0;
        t->direct_ext[id] = t->ext;
        t->transfers += e->is_transfer != 0;
        break;
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
    case BLEND_ACD_FX_CONNECTED:
        t->direct[id] = 0;
        break;
    default:
        break;
    }
}

static void track(struct tracker *t, const struct blend_acd_effect *e)
{
    track_life(t, e);
    switch (e->type) {
    case BLEND_ACD_FX_QUEUED:
        if (e->contact == t->move_contact) {
            /* A move's new stay: reserved for the agent it names, if any (after the WITHDRAWN
             * of its previous offers, before its direct offer). */
            t->direct[e->contact] = t->move_agent;
            t->direct_ext[e->contact] = t->ext;
        }
        live_remove(t, e->contact);
        assert_true(t->live_count < sizeof t->live / sizeof t->live[0]);
        t->live_queue[t->live_count] = e->queue;
        t->live[t->live_count++] = e->contact;
        break;
    case BLEND_ACD_FX_AGENT_STATE:
        if (e->agent >= 1 && e->agent <= AGENTS_MAX) {
            t->presence[e->agent] = e->presence;
        }
        break;
    case BLEND_ACD_FX_OFFER:
        assert_true(t->offers_count < sizeof t->offers / sizeof t->offers[0]);
        t->offers[t->offers_count][0] = e->contact;
        t->offers[t->offers_count++][1] = e->agent;
        break;
    case BLEND_ACD_FX_CONNECTED:
        offer_remove(t, e->contact, e->agent);
        conn_add(t, e->contact, e->agent);
        break;
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
        offer_remove(t, e->contact, e->agent);
        break;
    case BLEND_ACD_FX_ENDED:
        conn_remove(t, e->contact);
        if (e->is_transfer) {
            break; /* the contact goes on: QUEUED follows */
        }
        offer_remove(t, e->contact, 0);
        live_remove(t, e->contact);
        break;
    case BLEND_ACD_FX_ABANDONED:
        offer_remove(t, e->contact, 0);
        live_remove(t, e->contact);
        break;
    case BLEND_ACD_FX_OVERFLOW:
        if (e->overflow == BLEND_OVERFLOW_VOICEMAIL) {
            live_remove(t, e->contact);
        }
        break;
    default:
        break;
    }
}

/* ---- External events ------------------------------------------------------------------------- */

static const char *const reasons[] = {"break", "lunch", "training"};

static int64_t pick_live(const struct tracker *t)
{
    return t->live_count ? t->live[rnd() % t->live_count] : rnd_in(1, 50);
}

static int64_t pick_agent(const struct world *w, const struct tracker *t, enum blend_acd_presence p,
                          int is_not);

/* A transfer of a connected contact by its agent (now and then a wrong pair or target): to a
 * queue or to an agent, exactly one target (rarely both or neither, refused). */
static void gen_transfer(struct blend_acd_event *ev, const struct world *w, struct tracker *t)
{
    ev->type = BLEND_ACD_EV_CONTACT_TRANSFER;
    struct blend_acd_transfer *x = &ev->u.transfer;
    if (t->conn_count && !chance(5)) {
        size_t i = rnd() % t->conn_count;
        x->contact = t->conn[i][0];
        x->agent = t->conn[i][1];
    } else {
        x->contact = pick_live(t);
        x->agent = rnd_in(1, w->agents_count);
    }
    int r = (int)rnd_in(0, 99);
    if (r < 48) {
        x->to_queue = rnd_in(1, w->queues_count + (chance(3) ? 1 : 0));
    } else if (r < 97) {
        x->to_agent = chance(3) ? w->agents_count + 1 : pick_agent(w, t, BLEND_PRESENCE_READY, 0);
        /* An attended transfer onto an agent engaged in a consultation (refused when the
         * target holds no engagement on the channel). */
        if (chance(30)) {
            x->to_agent = chance(50) ? rnd_in(1, w->agents_count) : x->to_agent;
            x->connect = 1;
        }
    } else if (r < 99) {
        x->to_queue = rnd_in(1, w->queues_count);
        x->to_agent = rnd_in(1, w->agents_count);
    }
}

/* A supervisor moving a contact that is not connected (docs/routing.md §Transfers): mostly an
 * offered or a live contact (a connected one now and then: refused), to a queue (now and then
 * one without the channel or unknown: refused) or to an agent (mostly a ready one; now and
 * then logged out or unknown: refused), rarely both or neither target (refused). */
static void gen_move(struct blend_acd_event *ev, const struct world *w, struct tracker *t)
{
    ev->type = BLEND_ACD_EV_CONTACT_MOVE;
    struct blend_acd_move *m = &ev->u.move;
    if (t->offers_count && chance(60)) {
        m->contact = t->offers[rnd() % t->offers_count][0];
    } else {
        m->contact = chance(3) ? rnd_in(1, 50) : pick_live(t);
    }
    int r = (int)rnd_in(0, 99);
    if (r < 50) {
        m->to_queue = rnd_in(1, w->queues_count + (chance(3) ? 1 : 0));
    } else if (r < 97) {
        m->to_agent = chance(3) ? w->agents_count + 1
                                : pick_agent(w, t, BLEND_PRESENCE_READY, chance(15));
    } else if (r < 99) {
        m->to_queue = rnd_in(1, w->queues_count);
        m->to_agent = rnd_in(1, w->agents_count);
    }
}

static void gen_contact_event(struct blend_acd_event *ev, const struct world *w, struct tracker *t,
                              int kind)
{
    switch (kind) {
    case 0:
        ev->type = BLEND_ACD_EV_CONTACT_ARRIVE;
        ev->u.arrive.contact = chance(2) && t->live_count ? pick_live(t) : ++t->next_contact;
        ev->u.arrive.queue = rnd_in(1, w->queues_count + (chance(2) ? 1 : 0));
        ev->u.arrive.channel = (enum blend_channel)(chance(60) ? 0 : rnd_in(0, 4));
        ev->u.arrive.priority = chance(70) ? 0 : (int32_t)rnd_in(0, 30);
        ev->u.arrive.customer = chance(40) ? 0 : rnd_in(1, 6);
        gen_own(ev->u.arrive.skills, &ev->u.arrive.skills_count);
        return;
    case 1:
    case 2:
        ev->type = kind == 1 ? BLEND_ACD_EV_OFFER_ACCEPT : BLEND_ACD_EV_OFFER_REJECT;
        if (t->offers_count && !chance(5)) {
            size_t i = rnd() % t->offers_count;
            ev->u.contact.contact = t->offers[i][0];
            ev->u.contact.agent = t->offers[i][1];
        } else {
            ev->u.contact.contact = pick_live(t);
            ev->u.contact.agent = rnd_in(1, w->agents_count);
        }
        return;
    case 3:
        ev->type = BLEND_ACD_EV_CONTACT_END;
        break;
    case 4:
        ev->type = BLEND_ACD_EV_CONTACT_ABANDON;
        break;
    case 5:
        ev->type = BLEND_ACD_EV_CALLBACK_REQUEST;
        break;
    case 6:
        ev->type = BLEND_ACD_EV_CONTACT_PRIORITY;
        ev->u.contact.priority = (int32_t)rnd_in(0, 40);
        break;
    default:
        gen_transfer(ev, w, t);
        return;
    }
    ev->u.contact.contact = pick_live(t);
}

static void gen_agent_event(struct blend_acd_event *ev, struct world *w, int kind)
{
    int64_t agent = rnd_in(1, w->agents_count);
    switch (kind) {
    case 0:
        ev->type = BLEND_ACD_EV_AGENT_LOGIN;
        break;
    case 1:
        ev->type = BLEND_ACD_EV_AGENT_READY;
        break;
    case 2:
        ev->type = BLEND_ACD_EV_AGENT_NOT_READY;
        ev->u.not_ready.agent = agent;
        strcpy(ev->u.not_ready.reason, reasons[rnd() % 3]);
        return;
    case 3:
        ev->type = BLEND_ACD_EV_AGENT_LOGOUT;
        break;
    case 4:
        ev->type = BLEND_ACD_EV_WRAPUP_END;
        break;
    default:
        ev->type = BLEND_ACD_EV_AGENT_SET;
        gen_agent(&ev->u.agent, agent);
        w->agents[agent - 1] = ev->u.agent; /* only kept when accepted, see run_seed */
        return;
    }
    ev->u.id = agent;
}

/* A queue id of the world, preferring (4 in 5) one that no live contact is in. */
static int64_t pick_queue_to_remove(const struct world *w, const struct tracker *t)
{
    int64_t q = rnd_in(1, w->queues_count);
    for (int tries = 0; tries < 8 && chance(80); tries++) {
        int busy = 0;
        for (size_t i = 0; i < t->live_count; i++) {
            busy |= t->live_queue[i] == q;
        }
        if (!busy) {
            return q;
        }
        q = rnd_in(1, w->queues_count);
    }
    return q;
}

/* An agent id of the world, preferring (4 in 5) one in presence p (or any but p when is_not). */
static int64_t pick_agent(const struct world *w, const struct tracker *t, enum blend_acd_presence p,
                          int is_not)
{
    int64_t a = rnd_in(1, w->agents_count);
    for (int tries = 0; tries < 8 && chance(80); tries++) {
        if ((t->presence[a] == p) != is_not) {
            return a;
        }
        a = rnd_in(1, w->agents_count);
    }
    return a;
}

/*
 * Reconfiguration and restore events (docs/routing.md §When decisions happen, §Restoring state):
 * a queue replaced by a new random config or removed (empty or not: ESTATE then), an agent's
 * skills and capacities replaced, a logged-out agent removed or restored in a random presence,
 * a contact restored waiting with a random age or connected to a random agent.
 */
static void gen_reconfig_event(struct blend_acd_event *ev, struct world *w, struct tracker *t,
                               int64_t now_ms)
{
    int r = (int)rnd_in(0, 99);
    if (r < 20) {
        ev->type = BLEND_ACD_EV_QUEUE_SET;
        int64_t id = rnd_in(1, w->queues_count);
        gen_queue(&ev->u.queue, id, w->queues_count);
    } else if (r < 32) {
        ev->type = BLEND_ACD_EV_QUEUE_REMOVE;
        ev->u.id = pick_queue_to_remove(w, t);
    } else if (r < 47) {
        gen_agent_event(ev, w, 5);
    } else if (r < 57) {
        ev->type = BLEND_ACD_EV_AGENT_REMOVE;
        ev->u.id = pick_agent(w, t, BLEND_PRESENCE_LOGGED_OUT, 0);
    } else if (r < 77) {
        ev->type = BLEND_ACD_EV_AGENT_RESTORE;
        struct blend_acd_agent_restore *a = &ev->u.agent_restore;
        a->agent = pick_agent(w, t, BLEND_PRESENCE_LOGGED_OUT, 0);
        a->presence = (enum blend_acd_presence)rnd_in(1, 3);
        if (a->presence == BLEND_PRESENCE_NOT_READY) {
            strcpy(a->reason, reasons[rnd() % 3]);
        }
        a->since_ms = now_ms - (chance(20) ? 0 : rnd_in(0, 90000));
        a->wrapup_until_ms = now_ms + rnd_in(-5000, 20000);
    } else {
        ev->type = BLEND_ACD_EV_CONTACT_RESTORE;
        struct blend_acd_contact_restore *c = &ev->u.contact_restore;
        c->contact = ++t->next_contact;
        c->queue = rnd_in(1, w->queues_count);
        c->channel = (enum blend_channel)(chance(60) ? 0 : rnd_in(0, 4));
        c->priority = chance(70) ? 0 : (int32_t)rnd_in(0, 30);
        c->customer = chance(40) ? 0 : rnd_in(1, 6);
        c->enqueued_ms = now_ms - (chance(20) ? 0 : rnd_in(0, 150000));
        c->is_callback = chance(20);
        c->agent = chance(30) ? pick_agent(w, t, BLEND_PRESENCE_LOGGED_OUT, 1) : 0;
        gen_own(c->skills, &c->skills_count);
    }
}

/* Weighted choice of the next external event. */
/* An agent engaged by a call the engine does not route, or released (now and then a wrong
 * agent or channel, or a release without an engagement: refused). */
static void gen_engage(struct blend_acd_event *ev, const struct world *w)
{
    ev->type = chance(50) ? BLEND_ACD_EV_AGENT_ENGAGE : BLEND_ACD_EV_AGENT_RELEASE;
    ev->u.engage.agent = rnd_in(1, w->agents_count + (chance(3) ? 1 : 0));
    ev->u.engage.channel = chance(60) ? BLEND_CH_VOICE : (enum blend_channel)rnd_in(0, 4);
    if (chance(2)) {
        ev->u.engage.channel = (enum blend_channel)BLEND_CH_COUNT;
    }
}

static void gen_event(struct blend_acd_event *ev, struct world *w, struct tracker *t,
                      int64_t now_ms)
{
    memset(ev, 0, sizeof *ev);
    if (chance(7)) {
        gen_reconfig_event(ev, w, t, now_ms);
        return;
    }
    if (chance(5)) {
        gen_engage(ev, w);
        return;
    }
    if (chance(4)) {
        gen_move(ev, w, t);
        return;
    }
    int r = (int)rnd_in(0, 99);
    if (r < 22) {
        gen_contact_event(ev, w, t, t->live_count >= CONTACTS_MAX - 2 && chance(80) ? 4 : 0);
    } else if (r < 42) {
        gen_contact_event(ev, w, t, 1);
    } else if (r < 47) {
        gen_contact_event(ev, w, t, 2);
    } else if (r < 62) {
        gen_contact_event(ev, w, t, 3);
    } else if (r < 68) {
        gen_contact_event(ev, w, t, 4);
    } else if (r < 71) {
        gen_contact_event(ev, w, t, 5);
    } else if (r < 73) {
        gen_contact_event(ev, w, t, chance(50) ? 6 : 7);
    } else if (r < 78) {
        gen_contact_event(ev, w, t, 7);
    } else if (r < 80) {
        gen_agent_event(ev, w, 1);
    } else if (r < 85) {
        gen_agent_event(ev, w, 0);
    } else if (r < 90) {
        gen_agent_event(ev, w, 2);
    } else if (r < 93) {
        gen_agent_event(ev, w, 3);
    } else if (r < 98) {
        gen_agent_event(ev, w, 4);
    } else {
        gen_agent_event(ev, w, 5);
    }
}

/* ---- Reporting ---------------------------------------------------------------------------------
 */

static void print_own(FILE *f, const struct blend_acd_skill_req *req, int n)
{
    if (n > 0) {
        fprintf(f, " own=");
        for (int i = 0; i < n; i++) {
            fprintf(f, "%d>=%d,", req[i].skill, req[i].min_proficiency);
        }
    }
}

static void print_event(FILE *f, size_t i, const struct blend_acd_event *ev)
{
    fprintf(f, "  #%zu t=%lld ", i, (long long)ev->now_ms);
    switch (ev->type) {
    case BLEND_ACD_EV_QUEUE_SET: {
        const struct blend_acd_queue_config *q = &ev->u.queue;
        fprintf(f,
                "QUEUE_SET id=%lld ch=%#x strat=%d fb=%d sticky=%lld prio=%d accel=%d cap=%d "
                "wrap=%lld to=%lld mna=%d reoffer=%lld maxwait=%lld ovf=%d ovq=%lld skills=",
                (long long)q->id, q->channels, q->strategy, q->sticky_fallback,
                (long long)q->sticky_ms, q->priority, q->acceleration_per_min, q->max_priority,
                (long long)q->wrapup_ms, (long long)q->offer_timeout_ms, q->max_no_answer,
                (long long)q->reoffer_delay_ms, (long long)q->max_wait_ms, q->overflow,
                (long long)q->overflow_queue);
        for (int i2 = 0; i2 < q->skills_count; i2++) {
            fprintf(f, "%d>=%d,", q->skills[i2].skill, q->skills[i2].min_proficiency);
        }
        for (int s = 0; s < q->relax_count; s++) {
            fprintf(f, " relax[%d]@%lld add=%lld", s, (long long)q->relax[s].after_ms,
                    (long long)q->relax[s].add_queue_agents);
            if (q->relax[s].has_skills) {
                fprintf(f, " skills=");
                for (int i2 = 0; i2 < q->relax[s].skills_count; i2++) {
                    fprintf(f, "%d>=%d,", q->relax[s].skills[i2].skill,
                            q->relax[s].skills[i2].min_proficiency);
                }
            }
        }
        break;
    }
    case BLEND_ACD_EV_AGENT_SET: {
        const struct blend_acd_agent_config *a = &ev->u.agent;
        fprintf(f, "AGENT_SET id=%lld cap=%d,%d,%d,%d,%d vx=%d skills=", (long long)a->id,
                a->capacity[0], a->capacity[1], a->capacity[2], a->capacity[3], a->capacity[4],
                a->voice_exclusive);
        for (int i2 = 0; i2 < a->skills_count; i2++) {
            fprintf(f, "%d:%d,", a->skills[i2].skill, a->skills[i2].proficiency);
        }
        break;
    }
    case BLEND_ACD_EV_AGENT_NOT_READY:
        fprintf(f, "NOT_READY agent=%lld reason=%s", (long long)ev->u.not_ready.agent,
                ev->u.not_ready.reason);
        break;
    case BLEND_ACD_EV_AGENT_RESTORE: {
        const struct blend_acd_agent_restore *a = &ev->u.agent_restore;
        fprintf(f, "AGENT_RESTORE agent=%lld presence=%d reason=%s since=%lld wrapup_until=%lld",
                (long long)a->agent, a->presence, a->reason, (long long)a->since_ms,
                (long long)a->wrapup_until_ms);
        break;
    }
    case BLEND_ACD_EV_CONTACT_RESTORE: {
        const struct blend_acd_contact_restore *c = &ev->u.contact_restore;
        fprintf(f,
                "CONTACT_RESTORE contact=%lld queue=%lld ch=%d prio=%d customer=%lld enq=%lld "
                "cb=%d agent=%lld",
                (long long)c->contact, (long long)c->queue, c->channel, c->priority,
                (long long)c->customer, (long long)c->enqueued_ms, c->is_callback,
                (long long)c->agent);
        print_own(f, c->skills, c->skills_count);
        break;
    }
    case BLEND_ACD_EV_CONTACT_TRANSFER:
        fprintf(f, "TRANSFER contact=%lld agent=%lld to_queue=%lld to_agent=%lld connect=%d",
                (long long)ev->u.transfer.contact, (long long)ev->u.transfer.agent,
                (long long)ev->u.transfer.to_queue, (long long)ev->u.transfer.to_agent,
                ev->u.transfer.connect);
        break;
    case BLEND_ACD_EV_CONTACT_MOVE:
        fprintf(f, "MOVE contact=%lld to_queue=%lld to_agent=%lld", (long long)ev->u.move.contact,
                (long long)ev->u.move.to_queue, (long long)ev->u.move.to_agent);
        break;
    case BLEND_ACD_EV_AGENT_ENGAGE:
    case BLEND_ACD_EV_AGENT_RELEASE:
        fprintf(f, "%s agent=%lld ch=%d",
                ev->type == BLEND_ACD_EV_AGENT_ENGAGE ? "ENGAGE" : "RELEASE",
                (long long)ev->u.engage.agent, ev->u.engage.channel);
        break;
    case BLEND_ACD_EV_CONTACT_ARRIVE:
        fprintf(f, "ARRIVE contact=%lld queue=%lld ch=%d prio=%d customer=%lld",
                (long long)ev->u.arrive.contact, (long long)ev->u.arrive.queue,
                ev->u.arrive.channel, ev->u.arrive.priority, (long long)ev->u.arrive.customer);
        print_own(f, ev->u.arrive.skills, ev->u.arrive.skills_count);
        break;
    case BLEND_ACD_EV_OFFER_ACCEPT:
    case BLEND_ACD_EV_OFFER_REJECT:
    case BLEND_ACD_EV_CONTACT_END:
    case BLEND_ACD_EV_CONTACT_ABANDON:
    case BLEND_ACD_EV_CALLBACK_REQUEST:
    case BLEND_ACD_EV_CONTACT_PRIORITY: {
        static const char *const names[] = {[BLEND_ACD_EV_OFFER_ACCEPT] = "ACCEPT",
                                            [BLEND_ACD_EV_OFFER_REJECT] = "REJECT",
                                            [BLEND_ACD_EV_CONTACT_END] = "END",
                                            [BLEND_ACD_EV_CONTACT_ABANDON] = "ABANDON",
                                            [BLEND_ACD_EV_CALLBACK_REQUEST] = "CALLBACK",
                                            [BLEND_ACD_EV_CONTACT_PRIORITY] = "PRIORITY"};
        fprintf(f, "%s contact=%lld agent=%lld prio=%d", names[ev->type],
                (long long)ev->u.contact.contact, (long long)ev->u.contact.agent,
                ev->u.contact.priority);
        break;
    }
    default: {
        static const char *const names[] = {[BLEND_ACD_EV_AGENT_LOGIN] = "LOGIN",
                                            [BLEND_ACD_EV_AGENT_READY] = "READY",
                                            [BLEND_ACD_EV_AGENT_LOGOUT] = "LOGOUT",
                                            [BLEND_ACD_EV_WRAPUP_END] = "WRAPUP_END",
                                            [BLEND_ACD_EV_QUEUE_REMOVE] = "QUEUE_REMOVE",
                                            [BLEND_ACD_EV_AGENT_REMOVE] = "AGENT_REMOVE"};
        fprintf(f, "%s id=%lld",
                ev->type < (int)(sizeof names / sizeof names[0]) && names[ev->type]
                    ? names[ev->type]
                    : "?",
                (long long)ev->u.id);
    }
    }
    fprintf(f, "\n");
}

static void print_effects(FILE *f, const char *who, const struct blend_acd_effect *e, size_t n)
{
    fprintf(f, "  %s effects (%zu):\n", who, n);
    for (size_t i = 0; i < n; i++) {
        fprintf(f,
                "    t=%lld type=%d contact=%lld agent=%lld queue=%lld ch=%d presence=%d "
                "reason=%s cb=%d step=%d ovf=%d wd=%d wait=%lld xfer=%d to_q=%lld to_a=%lld\n",
                (long long)e[i].at_ms, e[i].type, (long long)e[i].contact, (long long)e[i].agent,
                (long long)e[i].queue, e[i].channel, e[i].presence, e[i].reason, e[i].is_callback,
                e[i].step, e[i].overflow, e[i].withdraw, (long long)e[i].wait_ms,
                e[i].is_transfer, (long long)e[i].to_queue, (long long)e[i].to_agent);
    }
}

/* Events of the seed being run, for the report (also from the abort handler). */
static struct blend_acd_event *g_events;
static size_t g_events_count;
static uint64_t g_seed;
static int g_trace; /* BLEND_PROP_TRACE=1: print every event and the reference's effects */

static void print_prefix(FILE *f)
{
    fprintf(
        f, "seed %llu: minimal failing prefix, %zu events (run alone with BLEND_PROP_SEED=%llu):\n",
        (unsigned long long)g_seed, g_events_count, (unsigned long long)g_seed);
    for (size_t i = 0; i < g_events_count; i++) {
        print_event(f, i, &g_events[i]);
    }
}

static void on_abort(int sig)
{
    fprintf(stderr, "\ninvariant violated (see the assertion above) while running:\n");
    print_prefix(stderr);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- One seed ----------------------------------------------------------------------------------
 */

struct totals {
    uint64_t external, steps, mismatches, transfers, direct_offers;
    uint64_t engaged, handovers; /* engagements and attended transfers accepted (coverage) */
    uint64_t own_arrivals, own_offers, own_moves; /* contacts with own skills (coverage) */
    /* CONTACT_MOVE (coverage): issued, accepted (by kind), refused, offers withdrawn (moved),
     * direct offers made by a move. */
    uint64_t moves_issued, moves_queue, moves_agent, moves_refused, moves_offered_withdrawn;
    uint64_t move_direct_offers, moves_callback;
};

static int views_equal(void *fast, struct blend_acdref *ref, const struct world *w,
                       const struct tracker *t, char *why, size_t whylen)
{
    for (int i = 0; i < w->agents_count; i++) {
        struct blend_acd_agent_view x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        int rx = blend_acd_agent(fast, i + 1, &x), ry = blend_acdref_agent(ref, i + 1, &y);
        if (rx != ry || x.presence != y.presence || memcmp(x.active, y.active, sizeof x.active) ||
            memcmp(x.offered, y.offered, sizeof x.offered) ||
            memcmp(x.engaged, y.engaged, sizeof x.engaged) || x.handled != y.handled ||
            (x.presence == BLEND_PRESENCE_NOT_READY && strcmp(x.reason, y.reason) != 0)) {
            snprintf(why, whylen,
                     "agent %d view: fast rc=%d presence=%d handled=%d, ref rc=%d "
                     "presence=%d handled=%d",
                     i + 1, rx, x.presence, x.handled, ry, y.presence, y.handled);
            return 0;
        }
    }
    for (size_t i = 0; i < t->live_count; i++) {
        struct blend_acd_contact_view x, y;
        memset(&x, 0, sizeof x);
        memset(&y, 0, sizeof y);
        int rx = blend_acd_contact(fast, t->live[i], &x);
        int ry = blend_acdref_contact(ref, t->live[i], &y);
        if (rx != ry || x.queue != y.queue || x.state != y.state || x.agent != y.agent ||
            x.enqueued_ms != y.enqueued_ms || x.priority != y.priority || x.step != y.step ||
            x.is_callback != y.is_callback ||
            /* Position and EWT are defined for waiting contacts only (docs/routing.md). */
            (y.state == BLEND_CONTACT_WAITING &&
             (x.position != y.position || x.ewt_ms != y.ewt_ms))) {
            snprintf(why, whylen,
                     "contact %lld view: fast rc=%d q=%lld st=%d ag=%lld enq=%lld prio=%d step=%d "
                     "cb=%d pos=%d ewt=%lld | ref rc=%d q=%lld st=%d ag=%lld enq=%lld prio=%d "
                     "step=%d cb=%d pos=%d ewt=%lld",
                     (long long)t->live[i], rx, (long long)x.queue, x.state, (long long)x.agent,
                     (long long)x.enqueued_ms, x.priority, x.step, x.is_callback, x.position,
                     (long long)x.ewt_ms, ry, (long long)y.queue, y.state, (long long)y.agent,
                     (long long)y.enqueued_ms, y.priority, y.step, y.is_callback, y.position,
                     (long long)y.ewt_ms);
            return 0;
        }
    }
    return 1;
}

static int effects_equal(struct harness *f, struct harness *r)
{
    if (f->seen_count != r->seen_count) {
        return 0;
    }
    if (f->seen_count == 0) {
        return 1;
    }
    qsort(f->seen, f->seen_count, sizeof *f->seen, blend_sim_effect_cmp);
    qsort(r->seen, r->seen_count, sizeof *r->seen, blend_sim_effect_cmp);
    for (size_t i = 0; i < f->seen_count; i++) {
        if (blend_sim_effect_cmp(&f->seen[i], &r->seen[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void harness_init(struct harness *h, const char *name)
{
    memset(h, 0, sizeof *h);
    h->name = name;
    h->fx.cap = BLEND_ACD_EFFECTS_MAX;
    h->fx.items = calloc(BLEND_ACD_EFFECTS_MAX, sizeof *h->fx.items);
    assert_non_null(h->fx.items);
}

static void harness_deinit(struct harness *h)
{
    free(h->fx.items);
    free(h->seen);
}

/* Applies one event to both engines (timers due first); returns 0 when they agree. */
static int apply_both(struct harness *f, struct harness *r, const struct blend_acd_event *ev,
                      struct tracker *t, const struct world *w, int *rc_out, char *why,
                      size_t whylen)
{
    f->seen_count = 0;
    r->seen_count = 0;
    f->move_ids = r->move_ids = 0;
    f->move_marks = r->move_marks = 0;
    int tf = h_fire_due(f, ev->now_ms), tr = h_fire_due(r, ev->now_ms);
    size_t timers_seen = r->seen_count;
    int rf = h_step(f, ev), rr = h_step(r, ev);
    *rc_out = rr;
    t->ext++;
    for (size_t i = 0; i < timers_seen; i++) {
        track(t, &r->seen[i]);
    }
    int64_t arrived = ev->type == BLEND_ACD_EV_CONTACT_ARRIVE ? ev->u.arrive.contact
                      : ev->type == BLEND_ACD_EV_CONTACT_RESTORE ? ev->u.contact_restore.contact
                                                                  : 0;
    if (rr == 0 && arrived > 0 && (size_t)arrived < t->ids_max) {
        t->finished[arrived] = 0; /* an ended contact's id may be used again by a new arrival */
        t->direct[arrived] = 0;
        t->own[arrived] = ev->type == BLEND_ACD_EV_CONTACT_ARRIVE
                              ? ev->u.arrive.skills_count > 0
                              : ev->u.contact_restore.skills_count > 0;
    }
    for (size_t i = 0; i < r->seen_count; i++) {
        const struct blend_acd_effect *e = &r->seen[i];
        if (e->contact > 0 && (size_t)e->contact < t->ids_max && t->own[e->contact]) {
            t->own_offers += e->type == BLEND_ACD_FX_OFFER;
            t->own_moves += e->type == BLEND_ACD_FX_OVERFLOW || e->type == BLEND_ACD_FX_CALLBACK ||
                            (e->type == BLEND_ACD_FX_ENDED && e->to_queue != 0);
        }
    }
    if (rr == 0 && ev->type == BLEND_ACD_EV_CONTACT_MOVE && ev->u.move.contact > 0 &&
        (size_t)ev->u.move.contact < t->ids_max) {
        t->move_contact = ev->u.move.contact;
        t->move_agent = ev->u.move.to_agent;
    }
    for (size_t i = timers_seen; i < r->seen_count; i++) {
        track(t, &r->seen[i]);
    }
    t->move_contact = 0;
    t->move_agent = 0;
    if (rr == 0 && ev->type == BLEND_ACD_EV_CONTACT_RESTORE && ev->u.contact_restore.agent) {
        /* A connected restore emits nothing observable: the contact is live all the same. */
        assert_true(t->live_count < sizeof t->live / sizeof t->live[0]);
        t->live_queue[t->live_count] = ev->u.contact_restore.queue;
        t->live[t->live_count++] = ev->u.contact_restore.contact;
        conn_add(t, ev->u.contact_restore.contact, ev->u.contact_restore.agent);
    }
    if (t->why[0]) {
        snprintf(why, whylen, "%s", t->why);
        return 1;
    }
    if (tf || tr || rf != rr) {
        snprintf(why, whylen, "return codes differ: fast timers=%d step=%d, ref timers=%d step=%d",
                 tf, rf, tr, rr);
        return 1;
    }
    if (!effects_equal(f, r)) {
        snprintf(why, whylen, "observable effects differ");
        return 1;
    }
    if (f->move_ids != r->move_ids || f->move_marks != r->move_marks) {
        snprintf(why, whylen,
                 "QUEUED marked is_move differ: fast %llu (ids %lld), ref %llu (ids %lld)",
                 (unsigned long long)f->move_marks, (long long)f->move_ids,
                 (unsigned long long)r->move_marks, (long long)r->move_ids);
        return 1;
    }
    /* Views are compared after every 8th external event (they cost a scan each). */
    if (t->view_tick++ % 8 != 0) {
        return 0;
    }
    return views_equal(f->engine, r->engine, w, t, why, whylen) ? 0 : 1;
}

/* Coverage of CONTACT_MOVE from the reference's effects of the step (in `seen`, sorted). */
static void count_move(struct totals *tot, const struct blend_acd_event *ev, int rc,
                       const struct harness *r)
{
    tot->moves_issued++;
    if (rc != 0) {
        tot->moves_refused++;
        return;
    }
    tot->moves_queue += ev->u.move.to_queue != 0;
    tot->moves_agent += ev->u.move.to_agent != 0;
    for (size_t i = 0; i < r->seen_count; i++) {
        const struct blend_acd_effect *e = &r->seen[i];
        if (e->contact != ev->u.move.contact || e->at_ms != ev->now_ms) {
            continue;
        }
        tot->moves_offered_withdrawn +=
            e->type == BLEND_ACD_FX_WITHDRAWN && e->withdraw == BLEND_WITHDRAW_MOVED;
        tot->move_direct_offers += e->type == BLEND_ACD_FX_OFFER && ev->u.move.to_agent != 0 &&
                                   e->agent == ev->u.move.to_agent;
        tot->moves_callback += e->type == BLEND_ACD_FX_OFFER && e->is_callback;
    }
}

static int run_seed(uint64_t seed, size_t events, struct totals *tot)
{
    rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
    g_seed = seed;
    struct world w;
    gen_world(&w);
    /* Tables sized to the world (the engines' checks scan them after every step). */
    struct blend_acd_limits limits = {(size_t)w.agents_count, (size_t)w.queues_count, CONTACTS_MAX,
                                      CUSTOMERS_MAX};
    struct harness f, r;
    harness_init(&f, "fast");
    harness_init(&r, "ref");
    f.step = h_fast_step;
    f.check = h_fast_check;
    r.step = h_ref_step;
    r.check = h_ref_check;
    struct blend_acd *fast = NULL;
    struct blend_acdref *ref = NULL;
    assert_int_equal(blend_acd_create(&limits, &fast), 0);
    assert_int_equal(blend_acdref_create(&limits, &ref), 0);
    f.engine = fast;
    r.engine = ref;
    struct tracker *t = calloc(1, sizeof *t);
    size_t total = (size_t)(w.queues_count + w.agents_count) + events;
    g_events = calloc(total, sizeof *g_events);
    assert_true(t && g_events);
    t->ids_max = total + 64; /* contact ids are drawn from 1..next_contact (<= events + 50) */
    t->finished = calloc(t->ids_max, 1);
    t->direct = calloc(t->ids_max, sizeof *t->direct);
    t->direct_ext = calloc(t->ids_max, sizeof *t->direct_ext);
    t->own = calloc(t->ids_max, 1);
    assert_true(t->finished && t->direct && t->direct_ext && t->own);
    g_events_count = 0;
    for (int i = 0; i < w.queues_count; i++) {
        g_events[g_events_count++] = (struct blend_acd_event){
            .type = BLEND_ACD_EV_QUEUE_SET, .now_ms = 0, .u.queue = w.queues[i]};
    }
    for (int i = 0; i < w.agents_count; i++) {
        g_events[g_events_count++] = (struct blend_acd_event){
            .type = BLEND_ACD_EV_AGENT_SET, .now_ms = 0, .u.agent = w.agents[i]};
    }
    int64_t now_ms = 0;
    int failed = 0;
    char why[1024] = "";
    for (size_t i = 0; i < total && !failed; i++) {
        if (i >= g_events_count) {
            now_ms += chance(20) ? 0 : rnd_in(1, 4000);
            gen_event(&g_events[g_events_count], &w, t, now_ms);
            g_events[g_events_count].now_ms = now_ms;
            g_events_count++;
        }
        int rc = 0;
        struct blend_acd_event *ev = &g_events[i];
        struct world w_before = w;
        failed = apply_both(&f, &r, ev, t, &w, &rc, why, sizeof why);
        if (g_trace) {
            print_event(stderr, i, ev);
            fprintf(stderr, "    rc=%d\n", rc);
            print_effects(stderr, "ref", r.seen, r.seen_count);
        }
        if (ev->type == BLEND_ACD_EV_AGENT_SET && rc != 0) {
            w = w_before; /* a refused reconfiguration leaves the agent as it was */
        }
        if (rc == 0 && ((ev->type == BLEND_ACD_EV_CONTACT_ARRIVE && ev->u.arrive.skills_count) ||
                        (ev->type == BLEND_ACD_EV_CONTACT_RESTORE &&
                         ev->u.contact_restore.skills_count))) {
            tot->own_arrivals++;
        }
        if (rc == 0 && ev->type == BLEND_ACD_EV_AGENT_ENGAGE) {
            tot->engaged++;
        }
        if (rc == 0 && ev->type == BLEND_ACD_EV_CONTACT_TRANSFER && ev->u.transfer.connect) {
            tot->handovers++;
        }
        if (ev->type == BLEND_ACD_EV_CONTACT_MOVE) {
            count_move(tot, ev, rc, &r);
        }
        tot->external++;
    }
    if (failed) {
        tot->mismatches++;
        fprintf(stderr, "\nMISMATCH: %s\n", why);
        print_prefix(stderr);
        print_effects(stderr, "fast", f.seen, f.seen_count);
        print_effects(stderr, "ref", r.seen, r.seen_count);
    }
    tot->steps += f.steps + r.steps;
    tot->transfers += t->transfers;
    tot->direct_offers += t->direct_offers;
    tot->own_offers += t->own_offers;
    tot->own_moves += t->own_moves;
    blend_acd_destroy(fast);
    blend_acdref_destroy(ref);
    harness_deinit(&f);
    harness_deinit(&r);
    free(t->finished);
    free(t->direct);
    free(t->direct_ext);
    free(t->own);
    free(t);
    free(g_events);
    g_events = NULL;
    g_events_count = 0;
    return failed;
}

static size_t env_size(const char *name, size_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? (size_t)strtoull(v, NULL, 10) : dflt;
}

static void test_fast_matches_reference(void **state)
{
    size_t seeds = env_size("BLEND_PROP_SEEDS", SEEDS_DEFAULT);
    size_t events = env_size("BLEND_PROP_EVENTS", EVENTS_DEFAULT);
    size_t only = env_size("BLEND_PROP_SEED", 0);
    g_trace = env_size("BLEND_PROP_TRACE", 0) != 0;
    struct totals tot = {0};
    size_t failed_seeds = 0;
    signal(SIGABRT, on_abort);
    for (uint64_t seed = only ? only : 1; seed <= (only ? only : seeds); seed++) {
        failed_seeds += (size_t)run_seed(seed, events, &tot);
        if (failed_seeds >= 3 && !getenv("BLEND_PROP_ALL")) {
            break; /* enough to act on; BLEND_PROP_ALL=1 runs every seed */
        }
    }
    signal(SIGABRT, SIG_DFL);
    fprintf(stderr,
            "property: %llu external events, %llu events per engine (timers included), "
            "%zu seeds mismatched; %llu transfers, %llu direct offers, %llu engagements, "
            "%llu attended transfers; own skills: %llu contacts, %llu offers, %llu moves\n"
            "moves: %llu issued, %llu refused, %llu to a queue, %llu to an agent, %llu offers "
            "withdrawn (moved), %llu direct offers, %llu callback offers\n",
            (unsigned long long)tot.external, (unsigned long long)tot.steps / 2, failed_seeds,
            (unsigned long long)tot.transfers, (unsigned long long)tot.direct_offers,
            (unsigned long long)tot.engaged, (unsigned long long)tot.handovers,
            (unsigned long long)tot.own_arrivals, (unsigned long long)tot.own_offers,
            (unsigned long long)tot.own_moves, (unsigned long long)tot.moves_issued,
            (unsigned long long)tot.moves_refused, (unsigned long long)tot.moves_queue,
            (unsigned long long)tot.moves_agent, (unsigned long long)tot.moves_offered_withdrawn,
            (unsigned long long)tot.move_direct_offers, (unsigned long long)tot.moves_callback);
    if (!only && seeds >= SEEDS_DEFAULT && events >= EVENTS_DEFAULT &&
        (failed_seeds == 0 || getenv("BLEND_PROP_ALL"))) {
        /* >= 10^6 events reach each engine (external events and the timers it armed). */
        assert_true(tot.steps / 2 >= 1000000);
        /* Transfers of both kinds, and direct offers, are exercised. */
        assert_true(tot.transfers >= 1000 && tot.direct_offers >= 100);
        assert_true(tot.engaged >= 1000 && tot.handovers >= 20);
        /* Contacts with own skills are offered, and move (overflow, transfer, callback). */
        assert_true(tot.own_arrivals >= 1000 && tot.own_offers >= 1000 && tot.own_moves >= 100);
        /* Moves of both kinds, of offered contacts, onto direct offers and of callbacks, and
         * refused ones. */
        assert_true(tot.moves_queue >= 1000 && tot.moves_agent >= 1000 &&
                    tot.moves_refused >= 1000);
        assert_true(tot.moves_offered_withdrawn >= 200 && tot.move_direct_offers >= 100 &&
                    tot.moves_callback >= 50);
    }
    assert_int_equal(failed_seeds, 0);
    assert_int_equal(blend_alloc_live(), 0);
}

/* The cross-check itself must be able to fail: a reference fed a different event disagrees. */
static void test_mismatch_is_detected(void **state)
{
    struct blend_acd_limits limits = {2, 1, 2, 1};
    struct blend_acdref *a = NULL, *b = NULL;
    assert_int_equal(blend_acdref_create(&limits, &a), 0);
    assert_int_equal(blend_acdref_create(&limits, &b), 0);
    struct harness ha, hb;
    harness_init(&ha, "a");
    harness_init(&hb, "b");
    ha.engine = a;
    hb.engine = b;
    ha.step = hb.step = h_ref_step;
    ha.check = hb.check = h_ref_check;
    struct blend_acd_event q = {.type = BLEND_ACD_EV_QUEUE_SET};
    q.u.queue.id = 1;
    q.u.queue.channels = 1;
    q.u.queue.offer_timeout_ms = 1000;
    struct blend_acd_event ag = {.type = BLEND_ACD_EV_AGENT_SET};
    ag.u.agent.id = 1;
    ag.u.agent.capacity[0] = 1;
    struct blend_acd_event login = {.type = BLEND_ACD_EV_AGENT_LOGIN, .now_ms = 5};
    login.u.id = 1;
    struct blend_acd_event ready = {.type = BLEND_ACD_EV_AGENT_READY, .now_ms = 5};
    ready.u.id = 1;
    const struct blend_acd_event *evs[] = {&q, &ag, &login};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(h_step(&ha, evs[i]), 0);
        assert_int_equal(h_step(&hb, evs[i]), 0);
    }
    assert_true(effects_equal(&ha, &hb));
    ha.seen_count = hb.seen_count = 0;
    assert_int_equal(h_step(&ha, &ready), 0);
    assert_false(effects_equal(&ha, &hb));
    blend_acdref_destroy(a);
    blend_acdref_destroy(b);
    harness_deinit(&ha);
    harness_deinit(&hb);
    assert_int_equal(blend_alloc_live(), 0);
}

/*
 * The generator never makes a relaxation step add its own queue; here random queue configs are
 * given such a step (at a random position) and both engines must refuse them with BLEND_EINVAL
 * and no effect, whether the queue is new or replaces one that holds a waiting contact; the
 * replaced queue keeps working as before (the same valid config is then accepted by both, with
 * equal effects).
 */
static void test_self_reference_refused(void **state)
{
    struct harness f, r;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ULL + 7;
        int queues_count = (int)rnd_in(1, QUEUES_MAX);
        int64_t id = rnd_in(1, queues_count);
        struct blend_acd_event good = {.type = BLEND_ACD_EV_QUEUE_SET, .now_ms = 0};
        gen_queue(&good.u.queue, id, queues_count);
        good.u.queue.overflow = BLEND_OVERFLOW_NONE; /* its target may not exist here */
        good.u.queue.overflow_queue = 0;
        for (int k = 0; k < good.u.queue.relax_count; k++) {
            good.u.queue.relax[k].add_queue_agents = 0;
        }
        struct blend_acd_event bad = good;
        if (bad.u.queue.relax_count == 0) {
            bad.u.queue.relax_count = 1;
            bad.u.queue.relax[0].after_ms = rnd_in(1, 40) * 1000;
        }
        bad.u.queue.relax[rnd() % bad.u.queue.relax_count].add_queue_agents = id;
        struct blend_acd_limits limits = {2, (size_t)QUEUES_MAX, 4, 1};
        harness_init(&f, "fast");
        harness_init(&r, "ref");
        f.step = h_fast_step;
        f.check = h_fast_check;
        r.step = h_ref_step;
        r.check = h_ref_check;
        struct blend_acd *fast = NULL;
        struct blend_acdref *ref = NULL;
        assert_int_equal(blend_acd_create(&limits, &fast), 0);
        assert_int_equal(blend_acdref_create(&limits, &ref), 0);
        f.engine = fast;
        r.engine = ref;
        /* New queue: refused, and it does not exist afterwards. */
        assert_int_equal(h_step(&f, &bad), BLEND_EINVAL);
        assert_int_equal(h_step(&r, &bad), BLEND_EINVAL);
        struct blend_acd_event arrive = {.type = BLEND_ACD_EV_CONTACT_ARRIVE, .now_ms = 0};
        arrive.u.arrive.contact = 1;
        arrive.u.arrive.queue = id;
        arrive.u.arrive.channel = BLEND_CH_VOICE;
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            if (good.u.queue.channels & (1u << c)) {
                arrive.u.arrive.channel = (enum blend_channel)c;
                break;
            }
        }
        assert_int_equal(h_step(&f, &arrive), BLEND_EINVAL);
        assert_int_equal(h_step(&r, &arrive), BLEND_EINVAL);
        /* Replacement of a queue holding a waiting contact: refused, nothing changes. */
        assert_int_equal(h_step(&f, &good), 0);
        assert_int_equal(h_step(&r, &good), 0);
        assert_int_equal(h_step(&f, &arrive), 0);
        assert_int_equal(h_step(&r, &arrive), 0);
        f.seen_count = r.seen_count = 0;
        bad.now_ms = 500;
        assert_int_equal(h_step(&f, &bad), BLEND_EINVAL);
        assert_int_equal(h_step(&r, &bad), BLEND_EINVAL);
        assert_int_equal(f.seen_count + r.seen_count, 0);
        struct blend_acd_contact_view x, y;
        assert_int_equal(blend_acd_contact(fast, 1, &x), 0);
        assert_int_equal(blend_acdref_contact(ref, 1, &y), 0);
        assert_int_equal(x.state, BLEND_CONTACT_WAITING);
        assert_int_equal(x.queue, id);
        assert_int_equal(y.queue, id);
        assert_int_equal(x.step, y.step);
        good.now_ms = 600;
        assert_int_equal(h_step(&f, &good), 0);
        assert_int_equal(h_step(&r, &good), 0);
        assert_true(effects_equal(&f, &r));
        blend_acd_destroy(fast);
        blend_acdref_destroy(ref);
        harness_deinit(&f);
        harness_deinit(&r);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mismatch_is_detected),
        cmocka_unit_test(test_self_reference_refused),
        cmocka_unit_test(test_fast_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
