/*
 * The reference ACD model (see ref_acd.h): docs/routing.md turned into the plainest code that
 * runs. Every table is a fixed array sized at create and every decision is a linear scan over
 * every agent and every contact, so that each rule reads like the page it implements; each
 * rule carries the docs/routing.md section it comes from ("§Offers"). Where the page leaves a
 * choice open, the comment says "Reading:" and states the choice taken.
 *
 * Shape of one step: validate the event (nothing changes on an error), apply its direct state
 * changes (effects are appended as they happen), then settle(): the contacts the event put
 * back in play ("triggered") are offered by their queue's strategy in rank order, then every
 * agent in ascending id order takes the best-ranked contacts it is eligible for until none
 * remains (§When decisions happen). After settle no waiting contact has an eligible available
 * agent (§Invariants 3).
 *
 * Invariants kept: active/offered counters equal the offers and connections recorded on the
 * contacts; a contact in OFFERED has >= 1 offer; every arrived contact is alive or counted as
 * finished exactly once.
 */
#include "ref_acd.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <stdio.h>
#include <string.h>

/* §Position and EWT: AHT is the mean of the last 20 handle times of the queue. */
#define REF_AHT_SAMPLES 20
/* §Position and EWT: AHT before any contact ended: the queue's wrap-up plus 180 s. */
#define REF_AHT_DEFAULT_MS 180000
/* §Choosing an agent, least-occupied: the window over which handle time is summed. */
#define REF_OCCUPANCY_WINDOW_MS 3600000
/* Timer entity ids are below 2^56 (acd.h). */
#define REF_ID_MAX ((int64_t)((1ull << 56) - 1))

struct ref_history {
    int64_t end_ms;
    int64_t handle_ms; /* talk + the queue's wrap-up time */
};

struct ref_agent {
    int used;
    struct blend_acd_agent_config cfg;
    enum blend_acd_presence presence;
    char reason[BLEND_ACD_REASON_BYTES];
    int64_t since_ms;
    uint8_t active[BLEND_CH_COUNT];  /* connected contacts + engagements */
    uint8_t offered[BLEND_CH_COUNT];
    uint8_t engaged[BLEND_CH_COUNT]; /* §Engaged agents */
    int32_t handled;
    int64_t free_since_ms[BLEND_CH_COUNT];
    int has_pending_not_ready; /* asked for not-ready during wrap-up */
    char pending_reason[BLEND_ACD_REASON_BYTES];
    int64_t wrapup_until_ms;
    int32_t no_answer; /* consecutive offer timeouts */
    int is_missed;     /* reached max_no_answer in the current step */
    int is_freed;      /* its availability grew in the current step (§When decisions happen) */
    struct ref_history history[BLEND_ACD_HISTORY_MAX];
    size_t history_count;
};

struct ref_hold {
    int64_t agent;
    int64_t until_ms;
};

struct ref_contact {
    int used;
    int64_t id;
    int64_t queue;
    struct ref_queue *q; /* the queue `queue` (queue slots never move; a queue with contacts
                            cannot be removed) */
    enum blend_channel channel;
    enum blend_acd_contact_state state;
    int32_t own_priority;
    int64_t customer;
    int64_t enqueued_ms; /* first join: changes only at a transfer or a move (a new stay) */
    int64_t joined_ms;   /* join of the current queue (relaxation, max wait, sticky clocks) */
    int step;
    int is_callback;
    int has_overflow_pending; /* max wait reached while offered */
    int is_rung;              /* offered to several agents by ring-all; such offers outlive a
                                 reconfiguration of the queue (§Precise readings 17) */
    int64_t agent;            /* CONNECTED */
    int64_t connected_ms;
    int64_t offer_due_ms;
    struct ref_hold holds[BLEND_ACD_DECLINED_MAX];
    int holds_count;
    uint8_t *offered_to; /* by agent slot: 1 when that agent holds an offer for it */
    int offers_count;
    int64_t sticky_agent; /* bound at join while the sticky window is open, else 0 */
    int is_direct;        /* §Transfers: offered to the transfer's target agent only */
    int32_t position_min; /* 0 = none computed since the last own-priority change */
    int64_t ewt_min_ms;
    /* §Queues and eligibility: the contact's own required skills, as given at ARRIVE or
     * CONTACT_RESTORE; never relaxed, kept for the contact's whole life. */
    int own_count;
    struct blend_acd_skill_req own[BLEND_ACD_QUEUE_SKILLS_MAX];
};

struct ref_queue {
    int used;
    struct blend_acd_queue_config cfg;
    int64_t rr_last_agent;
    int64_t aht_ms[REF_AHT_SAMPLES];
    int aht_count;
    int aht_next;
};

struct ref_customer {
    int64_t customer; /* 0 = free slot */
    int64_t agent;
    uint64_t used_seq;
};

struct blend_acdref {
    struct blend_acd_limits limits;
    struct ref_agent *agents;
    struct ref_queue *queues;
    struct ref_contact *contacts;
    uint8_t *offered_to_all; /* contacts_max * agents_max */
    struct ref_customer *customers;
    uint64_t customer_seq;
    int64_t *triggered;
    size_t triggered_count;
    int64_t now_ms;
    uint64_t arrived;
    uint64_t finished;
    struct blend_acd_effects *fx; /* during a step */
};

/* ---- Lookups ------------------------------------------------------------------------------ */

static struct ref_agent *agent_find(const struct blend_acdref *r, int64_t id)
{
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        if (r->agents[i].used && r->agents[i].cfg.id == id) {
            return &r->agents[i];
        }
    }
    return NULL;
}

static size_t agent_slot(const struct blend_acdref *r, const struct ref_agent *a)
{
    return (size_t)(a - r->agents);
}

static struct ref_queue *queue_find(const struct blend_acdref *r, int64_t id)
{
    for (size_t i = 0; i < r->limits.queues_max; i++) {
        if (r->queues[i].used && r->queues[i].cfg.id == id) {
            return &r->queues[i];
        }
    }
    return NULL;
}

static struct ref_contact *contact_find(const struct blend_acdref *r, int64_t id)
{
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        if (r->contacts[i].used && r->contacts[i].id == id) {
            return &r->contacts[i];
        }
    }
    return NULL;
}

static struct ref_queue *contact_queue(const struct ref_contact *c)
{
    BLEND_ASSERT(c->q && c->q->used && c->q->cfg.id == c->queue);
    return c->q;
}

/* The agent with the smallest id greater than `after` (ascending-id iteration). */
static struct ref_agent *agent_next(const struct blend_acdref *r, int64_t after)
{
    struct ref_agent *best = NULL;
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        struct ref_agent *a = &r->agents[i];
        if (a->used && a->cfg.id > after && (!best || a->cfg.id < best->cfg.id)) {
            best = a;
        }
    }
    return best;
}

/* ---- Effects and timers ------------------------------------------------------------------- */

static struct blend_acd_effect *emit(struct blend_acdref *r, enum blend_acd_effect_type type)
{
    BLEND_ASSERT(r->fx->count < r->fx->cap);
    struct blend_acd_effect *e = &r->fx->items[r->fx->count++];
    memset(e, 0, sizeof *e);
    e->type = type;
    e->at_ms = r->now_ms;
    return e;
}

static struct blend_acd_effect *emit_contact(struct blend_acdref *r,
                                             enum blend_acd_effect_type type,
                                             const struct ref_contact *c, int64_t agent)
{
    struct blend_acd_effect *e = emit(r, type);
    e->contact = c->id;
    e->agent = agent;
    e->queue = c->queue;
    e->channel = c->channel;
    e->is_callback = c->is_callback;
    return e;
}

/* Timers are armed at or after now: the harness never steps back in time. */
static void timer_set(struct blend_acdref *r, int kind, int64_t entity, int64_t due_ms)
{
    struct blend_acd_effect *e = emit(r, BLEND_ACD_FX_TIMER_SET);
    e->timer = BLEND_ACD_TIMER_ID(kind, entity);
    e->due_ms = due_ms > r->now_ms ? due_ms : r->now_ms;
}

static void timer_cancel(struct blend_acdref *r, int kind, int64_t entity)
{
    struct blend_acd_effect *e = emit(r, BLEND_ACD_FX_TIMER_CANCEL);
    e->timer = BLEND_ACD_TIMER_ID(kind, entity);
}

static void trigger(struct blend_acdref *r, const struct ref_contact *c)
{
    for (size_t i = 0; i < r->triggered_count; i++) {
        if (r->triggered[i] == c->id) {
            return;
        }
    }
    BLEND_ASSERT(r->triggered_count < r->limits.contacts_max);
    r->triggered[r->triggered_count++] = c->id;
}

/* ---- Agents: availability (§Agents) ------------------------------------------------------- */

static int voice_busy(const struct ref_agent *a)
{
    return a->active[BLEND_CH_VOICE] + a->offered[BLEND_CH_VOICE] > 0;
}

/*
 * §Agents: available on channel ch when ready (not in wrap-up), active + offered < capacity,
 * and, when voice_exclusive, not blocked: another channel by a voice contact offered or
 * connected, voice by an outstanding offer on another channel (connected contacts on other
 * channels do not block voice).
 */
static int available(const struct ref_agent *a, enum blend_channel ch)
{
    if (a->presence != BLEND_PRESENCE_READY || a->cfg.capacity[ch] == 0) {
        return 0;
    }
    if (a->active[ch] + a->offered[ch] >= a->cfg.capacity[ch]) {
        return 0;
    }
    if (a->cfg.voice_exclusive) {
        if (ch != BLEND_CH_VOICE && voice_busy(a)) {
            return 0;
        }
        if (ch == BLEND_CH_VOICE) {
            for (int k = 0; k < BLEND_CH_COUNT; k++) {
                if (k != BLEND_CH_VOICE && a->offered[k] > 0) {
                    return 0;
                }
            }
        }
    }
    return 1;
}

static int proficiency(const struct ref_agent *a, uint16_t skill)
{
    for (int i = 0; i < a->cfg.skills_count; i++) {
        if (a->cfg.skills[i].skill == skill) {
            return a->cfg.skills[i].proficiency;
        }
    }
    return 0;
}

/* §Queues and eligibility: meets a requirement when proficiency >= min for every skill. */
static int meets(const struct ref_agent *a, const struct blend_acd_skill_req *req, int n)
{
    for (int i = 0; i < n; i++) {
        if (proficiency(a, req[i].skill) < req[i].min_proficiency) {
            return 0;
        }
    }
    return 1;
}

/* ---- Contacts: requirement, rank (§Queues and eligibility, §Ranking contacts) ------------- */

/*
 * §Queues and eligibility: the requirement at step k is the queue's skills, or those of the
 * most recent step <= k that set skills. Reading: a step index beyond a queue's current step
 * count (after a QUEUE_SET removed steps) is clamped, so a contact's step never decreases.
 */
static void requirement(const struct ref_queue *q, int step, const struct blend_acd_skill_req **req,
                        int *n)
{
    *req = q->cfg.skills;
    *n = q->cfg.skills_count;
    int k = step < q->cfg.relax_count ? step : q->cfg.relax_count;
    for (int i = 0; i < k; i++) {
        if (q->cfg.relax[i].has_skills) {
            *req = q->cfg.relax[i].skills;
            *n = q->cfg.relax[i].skills_count;
        }
    }
}

/*
 * §Ranking contacts: effective priority = queue priority + contact priority +
 * floor(age_ms * acceleration_per_min / 60000), capped at max_priority when set.
 */
static int64_t effective_priority(const struct blend_acdref *r, const struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    BLEND_ASSERT(q);
    int64_t age_ms = r->now_ms - c->enqueued_ms;
    int64_t p =
        (int64_t)q->cfg.priority + c->own_priority + age_ms * q->cfg.acceleration_per_min / 60000;
    if (q->cfg.max_priority > 0 && p > q->cfg.max_priority) {
        p = q->cfg.max_priority;
    }
    return p;
}

/* §Ranking contacts: highest effective priority, then earliest first join, then lowest id. */
static int ranks_before(const struct blend_acdref *r, const struct ref_contact *x,
                        const struct ref_contact *y)
{
    int64_t px = effective_priority(r, x), py = effective_priority(r, y);
    if (px != py) {
        return px > py;
    }
    if (x->enqueued_ms != y->enqueued_ms) {
        return x->enqueued_ms < y->enqueued_ms;
    }
    return x->id < y->id;
}

/*
 * §Queues and eligibility, sticky: the agent last connected to the contact's customer, when the
 * queue is sticky and the customer known, is bound to the contact when it joins the queue, and
 * the contact is eligible only for that agent while the window is open and the agent logged in.
 * Reading: the window (like relaxation and max wait) runs from the join of the current queue,
 * the agent is looked up at the join, and the window closes at its STICKY timer's step (steps at
 * that same instant ordered before the timer still see it open).
 */
static const struct ref_agent *sticky_agent(const struct blend_acdref *r,
                                            const struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    const struct ref_agent *a = c->sticky_agent && q->cfg.strategy == BLEND_STRAT_STICKY
                                    ? agent_find(r, c->sticky_agent)
                                    : NULL;
    return a && a->presence != BLEND_PRESENCE_LOGGED_OUT ? a : NULL;
}

/* Reading (§Queues and eligibility, own skills): a contact with own skills is bound only to a
 * remembered agent who meets them at the join (their skills then); otherwise it has no sticky
 * phase at all (the fallback strategy applies at once). */
static void sticky_bind(struct blend_acdref *r, struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    c->sticky_agent = 0;
    if (q->cfg.strategy != BLEND_STRAT_STICKY || c->customer == 0 || q->cfg.sticky_ms <= 0) {
        return;
    }
    for (size_t i = 0; i < r->limits.customers_max; i++) {
        /* §Precise readings 16: only an agent that exists at the join is bound. */
        const struct ref_agent *a =
            r->customers[i].customer == c->customer ? agent_find(r, r->customers[i].agent) : NULL;
        if (a && meets(a, c->own, c->own_count)) {
            c->sticky_agent = r->customers[i].agent;
        }
    }
}

/*
 * §Queues and eligibility: an agent who declined the contact (reject or timeout) is not eligible
 * for it within reoffer_delay: the hold is over at decline + delay, whatever step comes first at
 * that instant (the REOFFER timer then triggers the decision if no other step made it).
 */
static int is_held(const struct blend_acdref *r, const struct ref_contact *c, int64_t agent)
{
    for (int i = 0; i < c->holds_count; i++) {
        if (c->holds[i].agent == agent && r->now_ms < c->holds[i].until_ms) {
            return 1;
        }
    }
    return 0;
}

/*
 * §Queues and eligibility: eligible when the agent meets the contact's current requirement (or
 * the base requirement of a queue added by a step in force), takes the channel (capacity > 0),
 * holds no offer for it, did not decline it within reoffer_delay, and (sticky) is the remembered
 * agent while the sticky window is open. Reading: logged-out agents are never eligible.
 */
static int eligible(const struct blend_acdref *r, const struct ref_agent *a,
                    const struct ref_contact *c)
{
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT || a->cfg.capacity[c->channel] == 0) {
        return 0;
    }
    if (c->offered_to[agent_slot(r, a)] || is_held(r, c, a->cfg.id)) {
        return 0;
    }
    const struct ref_agent *sticky = sticky_agent(r, c);
    if (sticky && sticky != a) {
        return 0;
    }
    /* §Queues and eligibility: the contact's own skills always hold (combined with the queue's
     * requirement, or with an added queue's base requirement). */
    if (!meets(a, c->own, c->own_count)) {
        return 0;
    }
    const struct ref_queue *q = contact_queue(c);
    const struct blend_acd_skill_req *req;
    int n;
    requirement(q, c->step, &req, &n);
    if (meets(a, req, n)) {
        return 1;
    }
    int k = c->step < q->cfg.relax_count ? c->step : q->cfg.relax_count;
    for (int i = 0; i < k; i++) {
        const struct ref_queue *q2 = queue_find(r, q->cfg.relax[i].add_queue_agents);
        if (q->cfg.relax[i].add_queue_agents && q2 &&
            meets(a, q2->cfg.skills, q2->cfg.skills_count)) {
            return 1;
        }
    }
    return 0;
}

static int can_take(const struct blend_acdref *r, const struct ref_agent *a,
                    const struct ref_contact *c)
{
    return c->state == BLEND_CONTACT_WAITING && available(a, c->channel) && eligible(r, a, c);
}

/* ---- Strategies (§Choosing an agent) ------------------------------------------------------ */

static int64_t occupied_ms(const struct blend_acdref *r, const struct ref_agent *a)
{
    int64_t sum = 0;
    for (size_t i = 0; i < a->history_count; i++) {
        if (a->history[i].end_ms > r->now_ms - REF_OCCUPANCY_WINDOW_MS) {
            sum += a->history[i].handle_ms;
        }
    }
    return sum;
}

static int skill_sum(const struct blend_acdref *r, const struct ref_agent *a,
                     const struct ref_contact *c)
{
    const struct blend_acd_skill_req *req;
    int n;
    requirement(contact_queue(c), c->step, &req, &n);
    int sum = 0;
    for (int i = 0; i < n; i++) {
        sum += proficiency(a, req[i].skill);
    }
    /* The current requirement is the queue's combined with the contact's own skills: a skill
     * in both counts once. */
    for (int i = 0; i < c->own_count; i++) {
        int in_queue = 0;
        for (int j = 0; j < n; j++) {
            in_queue |= req[j].skill == c->own[i].skill;
        }
        if (!in_queue) {
            sum += proficiency(a, c->own[i].skill);
        }
    }
    return sum;
}

/* longest-idle: earliest free_since on the contact's channel, then lowest id. */
static int idle_before(const struct ref_agent *x, const struct ref_agent *y, enum blend_channel ch)
{
    if (x->free_since_ms[ch] != y->free_since_ms[ch]) {
        return x->free_since_ms[ch] < y->free_since_ms[ch];
    }
    return x->cfg.id < y->cfg.id;
}

static int prefers(const struct blend_acdref *r, enum blend_acd_strategy s,
                   const struct ref_contact *c, const struct ref_agent *x,
                   const struct ref_agent *y)
{
    if (s == BLEND_STRAT_MOST_SKILLED) {
        int sx = skill_sum(r, x, c), sy = skill_sum(r, y, c);
        if (sx != sy) {
            return sx > sy;
        }
    } else if (s == BLEND_STRAT_LEAST_OCCUPIED) {
        int64_t ox = occupied_ms(r, x), oy = occupied_ms(r, y);
        if (ox != oy) {
            return ox < oy;
        }
    } else if (s == BLEND_STRAT_FEWEST_CONTACTS) {
        if (x->handled != y->handled) {
            return x->handled < y->handled;
        }
    }
    return idle_before(x, y, c->channel);
}

/*
 * §Choosing an agent: the agent the contact's queue strategy picks among the eligible available
 * agents, or NULL when there is none. Ring-all picks the first in id order here (the caller
 * offers to all). Round-robin: lowest id greater than the queue's last chosen, else lowest.
 * Sticky: eligibility already restricts the candidates to the remembered agent while the window
 * is open; otherwise the fallback strategy decides.
 */
static struct ref_agent *choose_agent(const struct blend_acdref *r, const struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    enum blend_acd_strategy s = q->cfg.strategy;
    if (s == BLEND_STRAT_STICKY) {
        s = q->cfg.sticky_fallback;
    }
    /* §Callbacks: one callback per available agent, so never rung to all (see offer_contact). */
    if (s == BLEND_STRAT_RING_ALL && c->is_callback) {
        s = BLEND_STRAT_LONGEST_IDLE;
    }
    struct ref_agent *best = NULL, *rr_wrap = NULL;
    for (int64_t id = 0;;) {
        struct ref_agent *a = agent_next(r, id);
        if (!a) {
            break;
        }
        id = a->cfg.id;
        if (!can_take(r, a, c)) {
            continue;
        }
        if (s == BLEND_STRAT_RING_ALL) {
            return a;
        }
        if (s == BLEND_STRAT_ROUND_ROBIN) {
            if (!rr_wrap) {
                rr_wrap = a;
            }
            if (!best && a->cfg.id > q->rr_last_agent) {
                best = a;
            }
            continue;
        }
        if (!best || prefers(r, s, c, a, best)) {
            best = a;
        }
    }
    return s == BLEND_STRAT_ROUND_ROBIN && !best ? rr_wrap : best;
}

/* ---- Offers (§Offers) --------------------------------------------------------------------- */

static void offer_one(struct blend_acdref *r, struct ref_contact *c, struct ref_agent *a)
{
    /* §Offers: one unit of capacity reserved and the contact marked offered, in one step. */
    BLEND_ASSERT(available(a, c->channel));
    a->offered[c->channel]++;
    c->offered_to[agent_slot(r, a)] = 1;
    c->offers_count++;
    c->state = BLEND_CONTACT_OFFERED;
    emit_contact(r, BLEND_ACD_FX_OFFER, c, a->cfg.id);
}

/*
 * Offers `c` to `chosen`, or under ring-all (not for callbacks, §Callbacks) to every eligible
 * available agent at once; arms the offer timer. Reading: the queue's round-robin pointer
 * moves with every single-agent offer of the queue, whoever decided it.
 */
static void offer_contact(struct blend_acdref *r, struct ref_contact *c, struct ref_agent *chosen)
{
    struct ref_queue *q = contact_queue(c);
    if (q->cfg.strategy == BLEND_STRAT_RING_ALL && !c->is_callback) {
        for (int64_t id = 0;;) {
            struct ref_agent *a = agent_next(r, id);
            if (!a) {
                break;
            }
            id = a->cfg.id;
            if (available(a, c->channel) && eligible(r, a, c)) {
                offer_one(r, c, a);
            }
        }
        c->is_rung = c->offers_count > 1;
    } else {
        offer_one(r, c, chosen);
        q->rr_last_agent = chosen->cfg.id;
    }
    c->offer_due_ms = r->now_ms + q->cfg.offer_timeout_ms;
    timer_set(r, BLEND_ACD_TIMER_OFFER, c->id, c->offer_due_ms);
}

static void offer_drop(struct blend_acdref *r, struct ref_contact *c, struct ref_agent *a)
{
    size_t slot = agent_slot(r, a);
    BLEND_ASSERT(c->offered_to[slot] && a->offered[c->channel] > 0 && c->offers_count > 0);
    c->offered_to[slot] = 0;
    a->offered[c->channel]--;
    c->offers_count--;
    a->is_freed = 1;
}

/* The earliest decline hold still running, armed as the REOFFER timer. */
static void holds_arm(struct blend_acdref *r, const struct ref_contact *c)
{
    int64_t next = 0;
    for (int i = 0; i < c->holds_count; i++) {
        if (c->holds[i].until_ms > r->now_ms && (!next || c->holds[i].until_ms < next)) {
            next = c->holds[i].until_ms;
        }
    }
    if (next) {
        timer_set(r, BLEND_ACD_TIMER_REOFFER, c->id, next);
    }
}

/*
 * §Offers: a rejected or timed-out offer excludes the agent for reoffer_delay (default: the
 * offer timeout). Reading: at most BLEND_ACD_DECLINED_MAX holds are kept per contact; beyond
 * it the hold ending first (then the lowest agent id) is replaced.
 */
static void hold_add(struct blend_acdref *r, struct ref_contact *c, const struct ref_agent *a)
{
    const struct ref_queue *q = contact_queue(c);
    int64_t delay_ms = q->cfg.reoffer_delay_ms ? q->cfg.reoffer_delay_ms : q->cfg.offer_timeout_ms;
    int at = -1;
    for (int i = 0; i < c->holds_count; i++) {
        if (c->holds[i].agent == a->cfg.id) {
            at = i;
        }
    }
    if (at < 0 && c->holds_count < BLEND_ACD_DECLINED_MAX) {
        at = c->holds_count++;
    }
    if (at < 0) {
        at = 0;
        for (int i = 1; i < c->holds_count; i++) {
            if (c->holds[i].until_ms < c->holds[at].until_ms ||
                (c->holds[i].until_ms == c->holds[at].until_ms &&
                 c->holds[i].agent < c->holds[at].agent)) {
                at = i;
            }
        }
    }
    c->holds[at].agent = a->cfg.id;
    c->holds[at].until_ms = r->now_ms + delay_ms;
    holds_arm(r, c);
}

static void contact_arm_queue_timers(struct blend_acdref *r, const struct ref_contact *c);
static void contact_remove(struct blend_acdref *r, struct ref_contact *c);

/*
 * §Waiting limits and overflow: to another queue (first-join time and contact priority kept,
 * step 0), to voicemail (leaves the ACD), or to a callback in place. Reading: a missing target
 * queue, or one without the contact's channel, leaves the contact where it is.
 */
static void overflow(struct blend_acdref *r, struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    c->has_overflow_pending = 0;
    c->state = BLEND_CONTACT_WAITING;
    if (q->cfg.overflow == BLEND_OVERFLOW_QUEUE) {
        const struct ref_queue *q2 = queue_find(r, q->cfg.overflow_queue);
        /* §Precise readings 10: a missing target, the same queue, or a target that does not
         * take the channel means no overflow. */
        if (!q2 || q2 == q || !(q2->cfg.channels & (1u << c->channel))) {
            trigger(r, c);
            return;
        }
        emit_contact(r, BLEND_ACD_FX_OVERFLOW, c, 0)->overflow = BLEND_OVERFLOW_QUEUE;
        c->queue = q2->cfg.id;
        c->q = (struct ref_queue *)q2;
        c->step = 0;
        c->joined_ms = r->now_ms;
        c->position_min = 0; /* Reading: a position is within a queue; a new queue starts over */
        c->ewt_min_ms = 0;
        sticky_bind(r, c);
        emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0);
        contact_arm_queue_timers(r, c);
        trigger(r, c);
    } else if (q->cfg.overflow == BLEND_OVERFLOW_VOICEMAIL) {
        emit_contact(r, BLEND_ACD_FX_OVERFLOW, c, 0)->overflow = BLEND_OVERFLOW_VOICEMAIL;
        contact_remove(r, c);
    } else if (q->cfg.overflow == BLEND_OVERFLOW_CALLBACK) {
        emit_contact(r, BLEND_ACD_FX_OVERFLOW, c, 0)->overflow = BLEND_OVERFLOW_CALLBACK;
        c->is_callback = 1;
        emit_contact(r, BLEND_ACD_FX_CALLBACK, c, 0);
        trigger(r, c);
    } else {
        trigger(r, c);
    }
}

/*
 * §Offers: when its last outstanding offer is gone (rejected, timed out, withdrawn because the
 * agent became unavailable) the contact returns to its place; §Waiting limits: or overflows,
 * when max wait was reached meanwhile.
 */
static void contact_back(struct blend_acdref *r, struct ref_contact *c)
{
    if (c->offers_count > 0) {
        return;
    }
    c->is_rung = 0;
    c->is_direct = 0; /* §Transfers: a failed direct offer falls back to the queue */
    timer_cancel(r, BLEND_ACD_TIMER_OFFER, c->id);
    if (c->has_overflow_pending) {
        overflow(r, c);
        return;
    }
    c->state = BLEND_CONTACT_WAITING;
    trigger(r, c);
}

/* Withdraws every offer the agent holds (§Agents: not-ready, logout, wrap-up). */
static void withdraw_agent_offers(struct blend_acdref *r, struct ref_agent *a,
                                  enum blend_acd_withdraw_reason why)
{
    size_t slot = agent_slot(r, a);
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        struct ref_contact *c = &r->contacts[i];
        if (c->used && c->offered_to[slot]) {
            emit_contact(r, BLEND_ACD_FX_WITHDRAWN, c, a->cfg.id)->withdraw = why;
            offer_drop(r, c, a);
            contact_back(r, c);
        }
    }
}

/* ---- Presence (§Agents) ------------------------------------------------------------------- */

static void presence_set(struct blend_acdref *r, struct ref_agent *a, enum blend_acd_presence p,
                         const char *reason)
{
    a->presence = p;
    a->since_ms = r->now_ms;
    memset(a->reason, 0, sizeof a->reason);
    if (reason) {
        strncpy(a->reason, reason, sizeof a->reason - 1);
    }
    struct blend_acd_effect *e = emit(r, BLEND_ACD_FX_AGENT_STATE);
    e->agent = a->cfg.id;
    e->presence = p;
    memcpy(e->reason, a->reason, sizeof e->reason);
    if (p == BLEND_PRESENCE_READY) {
        a->is_freed = 1;
        /* §Choosing an agent, longest-idle: becoming ready makes every channel free now. */
        for (int k = 0; k < BLEND_CH_COUNT; k++) {
            a->free_since_ms[k] = r->now_ms;
        }
    }
    if (p != BLEND_PRESENCE_READY) {
        /* §Agents: going not-ready, logging out (and wrap-up, which takes no offers) withdraws
         * the agent's outstanding offers, reason unavailable. */
        withdraw_agent_offers(r, a, BLEND_WITHDRAW_UNAVAILABLE);
    }
}

/*
 * §Ending and wrap-up: wrap-up ends (timer or the agent): ready, or not-ready with the reason
 * asked for meanwhile.
 */
static void wrapup_finish(struct blend_acdref *r, struct ref_agent *a)
{
    a->wrapup_until_ms = 0;
    if (a->has_pending_not_ready) {
        a->has_pending_not_ready = 0;
        presence_set(r, a, BLEND_PRESENCE_NOT_READY, a->pending_reason);
    } else {
        presence_set(r, a, BLEND_PRESENCE_READY, NULL);
    }
}

/* ---- Contacts: arrival, timers, removal --------------------------------------------------- */

/*
 * Arms the clocks that run from joining the current queue: next relaxation step, max wait
 * (only when an overflow action exists and the contact is not a callback: Reading: a callback
 * has already left the line and waits until served), and the sticky window.
 */
static void contact_arm_queue_timers(struct blend_acdref *r, const struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    if (c->step < q->cfg.relax_count) {
        timer_set(r, BLEND_ACD_TIMER_RELAX, c->id, c->joined_ms + q->cfg.relax[c->step].after_ms);
    }
    if (q->cfg.max_wait_ms > 0 && q->cfg.overflow != BLEND_OVERFLOW_NONE && !c->is_callback) {
        timer_set(r, BLEND_ACD_TIMER_MAX_WAIT, c->id, c->joined_ms + q->cfg.max_wait_ms);
    }
    if (q->cfg.strategy == BLEND_STRAT_STICKY && c->customer && q->cfg.sticky_ms > 0) {
        timer_set(r, BLEND_ACD_TIMER_STICKY, c->id, c->joined_ms + q->cfg.sticky_ms);
    }
}

static void contact_cancel_timers(struct blend_acdref *r, const struct ref_contact *c)
{
    timer_cancel(r, BLEND_ACD_TIMER_OFFER, c->id);
    timer_cancel(r, BLEND_ACD_TIMER_RELAX, c->id);
    timer_cancel(r, BLEND_ACD_TIMER_MAX_WAIT, c->id);
    timer_cancel(r, BLEND_ACD_TIMER_REOFFER, c->id);
    timer_cancel(r, BLEND_ACD_TIMER_STICKY, c->id);
}

/* §Invariants 5: a contact leaves exactly once (ended, abandoned, overflowed out). */
static void contact_remove(struct blend_acdref *r, struct ref_contact *c)
{
    BLEND_ASSERT(c->offers_count == 0);
    contact_cancel_timers(r, c);
    uint8_t *offered_to = c->offered_to;
    memset(c, 0, sizeof *c);
    c->offered_to = offered_to;
    r->finished++;
}

/* ---- Settle (§When decisions happen) ------------------------------------------------------ */

/* The best-ranked waiting contact the agent is eligible and available for, or NULL. */
static struct ref_contact *best_contact_for(const struct blend_acdref *r, const struct ref_agent *a)
{
    struct ref_contact *best = NULL;
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        struct ref_contact *c = &r->contacts[i];
        if (c->used && can_take(r, a, c) && (!best || ranks_before(r, c, best))) {
            best = c;
        }
    }
    return best;
}

/*
 * §When decisions happen: first every contact the event put back in play is offered by its
 * queue's strategy, best-ranked first; then every agent the event freed (its availability grew:
 * ready, wrap-up over, a contact ended, an offer gone, a reconfiguration), in ascending id order,
 * takes the best-ranked contact it is eligible for (§Ranking contacts), again and again while it
 * stays available. Reading: this is how "agents freed by one event are served in ascending id
 * order" and "a contact that arrives is offered by the queue's strategy" combine. An agent that
 * was not freed takes nothing, even if at this very instant a hold on some contact ended: that
 * hold's own REOFFER timer step decides for the contact (acd-common orders same-instant timers
 * by id). Afterwards no waiting contact has an eligible available agent.
 */
static void settle(struct blend_acdref *r)
{
    for (;;) {
        struct ref_contact *best = NULL;
        size_t best_i = 0;
        for (size_t i = 0; i < r->triggered_count; i++) {
            struct ref_contact *c = contact_find(r, r->triggered[i]);
            if (c && c->state == BLEND_CONTACT_WAITING && (!best || ranks_before(r, c, best))) {
                best = c;
                best_i = i;
            }
        }
        if (!best) {
            break;
        }
        r->triggered[best_i] = r->triggered[--r->triggered_count];
        struct ref_agent *a = choose_agent(r, best);
        if (a) {
            offer_contact(r, best, a);
        }
    }
    r->triggered_count = 0;
    for (int64_t id = 0;;) {
        struct ref_agent *a = agent_next(r, id);
        if (!a) {
            break;
        }
        id = a->cfg.id;
        if (!a->is_freed) {
            continue;
        }
        a->is_freed = 0;
        for (struct ref_contact *c; (c = best_contact_for(r, a));) {
            offer_contact(r, c, a);
        }
    }
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        r->agents[i].is_freed = 0;
    }
}

/* ---- Configuration events ------------------------------------------------------------------ */

static int skill_reqs_valid(const struct blend_acd_skill_req *req, int n)
{
    if (n > BLEND_ACD_QUEUE_SKILLS_MAX) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (req[i].skill < 1 || req[i].skill > BLEND_ACD_SKILLS_MAX || req[i].min_proficiency < 1 ||
            req[i].min_proficiency > 10) {
            return 0;
        }
    }
    return 1;
}

/* §Queues and eligibility: a contact's own skills are valid requirements, no skill twice. */
static int own_skills_valid(const struct blend_acd_skill_req *req, int n)
{
    if (!skill_reqs_valid(req, n)) {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
            if (req[i].skill == req[j].skill) {
                return 0;
            }
        }
    }
    return 1;
}

static int strategy_valid(enum blend_acd_strategy s)
{
    return s >= BLEND_STRAT_LONGEST_IDLE && s <= BLEND_STRAT_STICKY;
}

static int queue_config_valid(const struct blend_acd_queue_config *q)
{
    if (q->id <= 0 || q->id > REF_ID_MAX || q->channels == 0 ||
        (q->channels >> BLEND_CH_COUNT) != 0 || !skill_reqs_valid(q->skills, q->skills_count) ||
        !strategy_valid(q->strategy)) {
        return 0;
    }
    if (q->strategy == BLEND_STRAT_STICKY &&
        (!strategy_valid(q->sticky_fallback) || q->sticky_fallback == BLEND_STRAT_RING_ALL ||
         q->sticky_fallback == BLEND_STRAT_STICKY || q->sticky_ms < 0)) {
        return 0;
    }
    if (q->priority < 0 || q->priority > 1000 || q->acceleration_per_min < 0 ||
        q->acceleration_per_min > 1000 || q->max_priority < 0 || q->wrapup_ms < 0 ||
        q->offer_timeout_ms <= 0 || q->max_no_answer < 0 || q->reoffer_delay_ms < 0 ||
        q->max_wait_ms < 0 || q->overflow < BLEND_OVERFLOW_NONE ||
        q->overflow > BLEND_OVERFLOW_CALLBACK || q->relax_count > BLEND_ACD_RELAX_STEPS_MAX) {
        return 0;
    }
    if (q->overflow == BLEND_OVERFLOW_QUEUE && q->overflow_queue < 0) {
        return 0;
    }
    for (int i = 0; i < q->relax_count; i++) {
        const struct blend_acd_relax_step *s = &q->relax[i];
        /* §Queues and eligibility: a step may not add the queue's own agents. */
        if (s->after_ms <= 0 || (i > 0 && s->after_ms <= q->relax[i - 1].after_ms) ||
            s->add_queue_agents < 0 || s->add_queue_agents == q->id ||
            (s->has_skills && !skill_reqs_valid(s->skills, s->skills_count))) {
            return 0;
        }
    }
    return 1;
}

/*
 * QUEUE_SET: create or replace (waiting contacts keep their age, place and step); the clocks of
 * the queue's contacts are re-armed from the new configuration; then the agents are served in
 * id order (§When decisions happen: a reconfiguration).
 */
static void on_relax_due(struct blend_acdref *r, struct ref_contact *c);
static void on_max_wait_due(struct blend_acdref *r, struct ref_contact *c);

static int on_queue_set(struct blend_acdref *r, const struct blend_acd_queue_config *cfg)
{
    if (!queue_config_valid(cfg)) {
        return BLEND_EINVAL;
    }
    struct ref_queue *q = queue_find(r, cfg->id);
    if (!q) {
        for (size_t i = 0; i < r->limits.queues_max && !q; i++) {
            if (!r->queues[i].used) {
                q = &r->queues[i];
            }
        }
        if (!q) {
            return BLEND_ELIMIT;
        }
        memset(q, 0, sizeof *q);
        q->used = 1;
    }
    q->cfg = *cfg;
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        r->agents[i].is_freed = r->agents[i].used; /* a reconfiguration: every agent is served */
    }
    /* §Precise readings 15: the contacts keep their age, so under the new configuration every
     * step their age has reached applies now (one RELAXED per step) and a max wait already
     * reached overflows now (an offered contact when its offers fail); the other clocks are
     * re-armed for the remaining time. */
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        struct ref_contact *c = &r->contacts[i];
        if (!c->used || c->queue != cfg->id || c->state == BLEND_CONTACT_CONNECTED) {
            continue;
        }
        /* §Precise readings 16: the sticky window follows the queue's new configuration and
         * closes now when the queue is no longer sticky or the new window is over. */
        if (c->sticky_agent && (cfg->strategy != BLEND_STRAT_STICKY || cfg->sticky_ms <= 0 ||
                                c->joined_ms + cfg->sticky_ms <= r->now_ms)) {
            c->sticky_agent = 0;
        }
        on_relax_due(r, c);
        if (!c->is_callback && cfg->max_wait_ms > 0 && cfg->overflow != BLEND_OVERFLOW_NONE &&
            c->joined_ms + cfg->max_wait_ms <= r->now_ms) {
            /* Reached now: a max-wait timer armed under the old configuration is void (a
             * failed overflow is not retried, as at the timer). */
            timer_cancel(r, BLEND_ACD_TIMER_MAX_WAIT, c->id);
            on_max_wait_due(r, c);
        } else {
            contact_arm_queue_timers(r, c);
        }
    }
    /* The pass over every agent covers the contacts this put back in play. */
    r->triggered_count = 0;
    return 0;
}

static int on_queue_remove(struct blend_acdref *r, int64_t id)
{
    struct ref_queue *q = queue_find(r, id);
    if (!q) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        if (r->contacts[i].used && r->contacts[i].queue == id) {
            return BLEND_ESTATE;
        }
    }
    memset(q, 0, sizeof *q);
    return 0;
}

static int agent_config_valid(const struct blend_acd_agent_config *a)
{
    if (a->id <= 0 || a->id > REF_ID_MAX || a->skills_count > BLEND_ACD_AGENT_SKILLS_MAX) {
        return 0;
    }
    for (int i = 0; i < a->skills_count; i++) {
        if (a->skills[i].skill < 1 || a->skills[i].skill > BLEND_ACD_SKILLS_MAX ||
            a->skills[i].proficiency < 1 || a->skills[i].proficiency > 10) {
            return 0;
        }
        for (int j = 0; j < i; j++) {
            if (a->skills[j].skill == a->skills[i].skill) {
                return 0;
            }
        }
    }
    return 1;
}

/*
 * AGENT_SET: create (logged out) or replace skills and capacities. Reading: a replacement below
 * the agent's connected contacts on a channel is refused (BLEND_ESTATE); the offers of a channel
 * that would exceed the new capacity, or that a newly voice-exclusive agent with a voice contact
 * may no longer hold, are withdrawn (unavailable) and their contacts return; then the agents are
 * served in id order (§When decisions happen: a reconfiguration).
 */
static void withdraw_channel_offers(struct blend_acdref *r, struct ref_agent *a,
                                    enum blend_channel ch)
{
    size_t slot = agent_slot(r, a);
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        struct ref_contact *c = &r->contacts[i];
        if (c->used && c->channel == ch && c->offered_to[slot]) {
            emit_contact(r, BLEND_ACD_FX_WITHDRAWN, c, a->cfg.id)->withdraw =
                BLEND_WITHDRAW_UNAVAILABLE;
            offer_drop(r, c, a);
            contact_back(r, c);
        }
    }
}

static int on_agent_set(struct blend_acdref *r, const struct blend_acd_agent_config *cfg)
{
    if (!agent_config_valid(cfg)) {
        return BLEND_EINVAL;
    }
    struct ref_agent *a = agent_find(r, cfg->id);
    if (a) {
        for (int k = 0; k < BLEND_CH_COUNT; k++) {
            if (a->active[k] > cfg->capacity[k]) {
                return BLEND_ESTATE;
            }
        }
        a->cfg = *cfg;
        for (int k = 0; k < BLEND_CH_COUNT; k++) {
            if (a->offered[k] > 0 &&
                (a->active[k] + a->offered[k] > cfg->capacity[k] ||
                 (cfg->voice_exclusive && k != BLEND_CH_VOICE && voice_busy(a)))) {
                withdraw_channel_offers(r, a, (enum blend_channel)k);
            }
        }
        /* A reconfiguration: every agent is served in id order, and that pass also covers the
         * contacts just withdrawn (they are not offered by their strategy first). */
        r->triggered_count = 0;
        for (size_t i = 0; a->presence != BLEND_PRESENCE_LOGGED_OUT && i < r->limits.agents_max;
             i++) {
            r->agents[i].is_freed = r->agents[i].used;
        }
        return 0;
    }
    for (size_t i = 0; i < r->limits.agents_max && !a; i++) {
        if (!r->agents[i].used) {
            a = &r->agents[i];
        }
    }
    if (!a) {
        return BLEND_ELIMIT;
    }
    memset(a, 0, sizeof *a);
    a->used = 1;
    a->cfg = *cfg;
    a->presence = BLEND_PRESENCE_LOGGED_OUT;
    a->since_ms = r->now_ms;
    return 0;
}

static int on_agent_remove(struct blend_acdref *r, int64_t id)
{
    struct ref_agent *a = agent_find(r, id);
    if (!a) {
        return BLEND_EINVAL;
    }
    if (a->presence != BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    /* §Precise readings 16: contacts bound to a removed agent are unbound for good (the
     * agent was logged out, so none of them was restricted: nothing to decide). */
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        if (r->contacts[i].used && r->contacts[i].sticky_agent == id) {
            r->contacts[i].sticky_agent = 0;
        }
    }
    memset(a, 0, sizeof *a);
    return 0;
}

/* ---- Agent events (§Agents, §Ending and wrap-up) ------------------------------------------- */

/* §Queues and eligibility, sticky: the restriction holds only while the bound agent is logged
 * in, so logging in or out changes who may take the contacts bound to it. */
static void trigger_sticky_contacts(struct blend_acdref *r, const struct ref_agent *a)
{
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        struct ref_contact *c = &r->contacts[i];
        if (c->used && c->sticky_agent == a->cfg.id && c->state == BLEND_CONTACT_WAITING) {
            trigger(r, c);
        }
    }
}

static int on_login(struct blend_acdref *r, struct ref_agent *a)
{
    if (a->presence != BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    a->handled = 0; /* §Choosing an agent, fewest-contacts: ended since login */
    a->no_answer = 0;
    a->has_pending_not_ready = 0;
    presence_set(r, a, BLEND_PRESENCE_NOT_READY, "login");
    trigger_sticky_contacts(r, a);
    return 0;
}

/* Reading: ready while ready is a no-op; ready during wrap-up is refused (BLEND_ESTATE: the
 * agent ends wrap-up with WRAPUP_END, which then applies any pending not-ready). */
static int on_ready(struct blend_acdref *r, struct ref_agent *a)
{
    switch (a->presence) {
    case BLEND_PRESENCE_LOGGED_OUT:
        return BLEND_ESTATE;
    case BLEND_PRESENCE_READY:
        return 0;
    case BLEND_PRESENCE_WRAP_UP:
        return BLEND_ESTATE;
    case BLEND_PRESENCE_NOT_READY:
        presence_set(r, a, BLEND_PRESENCE_READY, NULL);
        return 0;
    }
    return BLEND_EINVAL;
}

/* Reading: not-ready during wrap-up is remembered and applied when wrap-up ends; not-ready
 * while not-ready with another reason reports the new reason; with the same reason nothing. */
static int on_not_ready(struct blend_acdref *r, struct ref_agent *a, const char *reason)
{
    switch (a->presence) {
    case BLEND_PRESENCE_LOGGED_OUT:
        return BLEND_ESTATE;
    case BLEND_PRESENCE_WRAP_UP:
        a->has_pending_not_ready = 1;
        snprintf(a->pending_reason, sizeof a->pending_reason, "%s", reason);
        return 0;
    case BLEND_PRESENCE_NOT_READY:
        if (strncmp(a->reason, reason, sizeof a->reason) == 0) {
            return 0;
        }
        presence_set(r, a, BLEND_PRESENCE_NOT_READY, reason);
        return 0;
    case BLEND_PRESENCE_READY:
        presence_set(r, a, BLEND_PRESENCE_NOT_READY, reason);
        return 0;
    }
    return BLEND_EINVAL;
}

/* §Agents: logging out is refused while the agent has connected contacts. */
static int on_logout(struct blend_acdref *r, struct ref_agent *a)
{
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    for (int k = 0; k < BLEND_CH_COUNT; k++) {
        if (a->active[k] > 0) {
            return BLEND_ESTATE;
        }
    }
    a->has_pending_not_ready = 0;
    a->wrapup_until_ms = 0;
    presence_set(r, a, BLEND_PRESENCE_LOGGED_OUT, NULL);
    timer_cancel(r, BLEND_ACD_TIMER_WRAPUP, a->cfg.id);
    trigger_sticky_contacts(r, a);
    return 0;
}

static int on_wrapup_end(struct blend_acdref *r, struct ref_agent *a)
{
    if (a->presence != BLEND_PRESENCE_WRAP_UP) {
        return BLEND_ESTATE;
    }
    wrapup_finish(r, a);
    timer_cancel(r, BLEND_ACD_TIMER_WRAPUP, a->cfg.id);
    return 0;
}

static int on_agent_event(struct blend_acdref *r, const struct blend_acd_event *ev)
{
    int64_t id = ev->type == BLEND_ACD_EV_AGENT_NOT_READY ? ev->u.not_ready.agent : ev->u.id;
    struct ref_agent *a = agent_find(r, id);
    if (!a) {
        return BLEND_EINVAL;
    }
    switch (ev->type) {
    case BLEND_ACD_EV_AGENT_LOGIN:
        return on_login(r, a);
    case BLEND_ACD_EV_AGENT_READY:
        return on_ready(r, a);
    case BLEND_ACD_EV_AGENT_NOT_READY:
        if (!memchr(ev->u.not_ready.reason, 0, sizeof ev->u.not_ready.reason)) {
            return BLEND_EINVAL;
        }
        return on_not_ready(r, a, ev->u.not_ready.reason);
    case BLEND_ACD_EV_AGENT_LOGOUT:
        return on_logout(r, a);
    case BLEND_ACD_EV_WRAPUP_END:
        return on_wrapup_end(r, a);
    default:
        return BLEND_EINVAL;
    }
}

/* ---- Contact events ------------------------------------------------------------------------ */

static int on_arrive(struct blend_acdref *r, const struct blend_acd_event *ev)
{
    const struct ref_queue *q = queue_find(r, ev->u.arrive.queue);
    if (ev->u.arrive.contact <= 0 || ev->u.arrive.contact > REF_ID_MAX || !q ||
        ev->u.arrive.channel < 0 || ev->u.arrive.channel >= BLEND_CH_COUNT ||
        !(q->cfg.channels & (1u << ev->u.arrive.channel)) || ev->u.arrive.priority < 0 ||
        ev->u.arrive.priority > 1000 || ev->u.arrive.customer < 0 ||
        !own_skills_valid(ev->u.arrive.skills, ev->u.arrive.skills_count)) {
        return BLEND_EINVAL;
    }
    if (contact_find(r, ev->u.arrive.contact)) {
        return BLEND_ESTATE;
    }
    struct ref_contact *c = NULL;
    for (size_t i = 0; i < r->limits.contacts_max && !c; i++) {
        if (!r->contacts[i].used) {
            c = &r->contacts[i];
        }
    }
    if (!c) {
        return BLEND_ELIMIT;
    }
    c->used = 1;
    c->id = ev->u.arrive.contact;
    c->queue = q->cfg.id;
    c->q = (struct ref_queue *)q;
    c->channel = ev->u.arrive.channel;
    c->state = BLEND_CONTACT_WAITING;
    c->own_priority = ev->u.arrive.priority;
    c->customer = ev->u.arrive.customer;
    c->own_count = ev->u.arrive.skills_count;
    memcpy(c->own, ev->u.arrive.skills, sizeof c->own);
    c->enqueued_ms = r->now_ms;
    c->joined_ms = r->now_ms;
    r->arrived++;
    sticky_bind(r, c);
    emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0);
    contact_arm_queue_timers(r, c);
    trigger(r, c);
    return 0;
}

/* §Callbacks / sticky memory: the customer's last connected agent, least recently used out. */
static void remember_customer(struct blend_acdref *r, int64_t customer, int64_t agent)
{
    if (customer == 0) {
        return;
    }
    /* The customer's own slot, else a free one, else the least recently used. */
    struct ref_customer *slot = NULL;
    for (size_t i = 0; i < r->limits.customers_max && !slot; i++) {
        if (r->customers[i].customer == customer) {
            slot = &r->customers[i];
        }
    }
    for (size_t i = 0; i < r->limits.customers_max && !slot; i++) {
        if (r->customers[i].customer == 0) {
            slot = &r->customers[i];
        }
    }
    if (!slot) {
        slot = &r->customers[0];
        for (size_t i = 1; i < r->limits.customers_max; i++) {
            if (r->customers[i].used_seq < slot->used_seq) {
                slot = &r->customers[i];
            }
        }
    }
    slot->customer = customer;
    slot->agent = agent;
    slot->used_seq = ++r->customer_seq;
}

/* §Offers, accept: connected; under ring-all the other offers are withdrawn (taken). */
static int on_accept(struct blend_acdref *r, struct ref_contact *c, struct ref_agent *a)
{
    if (!c->offered_to[agent_slot(r, a)]) {
        return BLEND_ESTATE;
    }
    offer_drop(r, c, a);
    /* The offer became a connection: the agent's availability did not grow, except for voice
     * when a voice-exclusive agent no longer holds an offer on another channel (see available). */
    a->is_freed = a->cfg.voice_exclusive && c->channel != BLEND_CH_VOICE;
    for (int64_t id = 0;;) {
        struct ref_agent *o = agent_next(r, id);
        if (!o) {
            break;
        }
        id = o->cfg.id;
        if (c->offered_to[agent_slot(r, o)]) {
            emit_contact(r, BLEND_ACD_FX_WITHDRAWN, c, o->cfg.id)->withdraw = BLEND_WITHDRAW_TAKEN;
            offer_drop(r, c, o);
        }
    }
    a->active[c->channel]++;
    a->no_answer = 0; /* §Agents: accepting any offer resets the count */
    c->state = BLEND_CONTACT_CONNECTED;
    c->agent = a->cfg.id;
    c->connected_ms = r->now_ms;
    c->has_overflow_pending = 0;
    c->is_rung = 0;
    c->is_direct = 0;
    emit_contact(r, BLEND_ACD_FX_CONNECTED, c, a->cfg.id)->wait_ms = r->now_ms - c->enqueued_ms;
    remember_customer(r, c->customer, a->cfg.id);
    contact_cancel_timers(r, c);
    return 0;
}

static int on_reject(struct blend_acdref *r, struct ref_contact *c, struct ref_agent *a)
{
    if (!c->offered_to[agent_slot(r, a)]) {
        return BLEND_ESTATE;
    }
    emit_contact(r, BLEND_ACD_FX_OFFER_REJECTED, c, a->cfg.id);
    offer_drop(r, c, a);
    hold_add(r, c, a);
    contact_back(r, c);
    return 0;
}

/*
 * §Ending and wrap-up: frees the slot, records the handle time, and enters wrap-up when the
 * queue has wrap-up time. Reading: an agent already in wrap-up (another channel's contact)
 * stays in it until the later of both ends; an agent who is not-ready (asked during the contact)
 * stays not-ready without wrap-up; without wrap-up the channel is free from now (longest-idle).
 */
static void agent_part_end(struct blend_acdref *r, struct ref_contact *c,
                           const struct blend_acd_transfer *t)
{
    struct ref_agent *a = agent_find(r, c->agent);
    struct ref_queue *q = contact_queue(c);
    BLEND_ASSERT(a && q && a->active[c->channel] > 0);
    struct blend_acd_effect *e = emit_contact(r, BLEND_ACD_FX_ENDED, c, a->cfg.id);
    if (t) {
        e->is_transfer = 1;
        e->to_queue = t->to_queue;
        e->to_agent = t->to_agent;
    }
    a->active[c->channel]--;
    a->is_freed = 1;
    a->handled++;
    if (a->history_count == BLEND_ACD_HISTORY_MAX) {
        memmove(&a->history[0], &a->history[1], sizeof a->history[0] * (BLEND_ACD_HISTORY_MAX - 1));
        a->history_count--;
    }
    a->history[a->history_count].end_ms = r->now_ms;
    /* Reading (§Choosing an agent, least-occupied): handle time = talk + the queue's wrap-up
     * time, recorded when the contact ends (the same figure as the queue's AHT for EWT). */
    a->history[a->history_count].handle_ms = r->now_ms - c->connected_ms + q->cfg.wrapup_ms;
    a->history_count++;
    q->aht_ms[q->aht_next] = r->now_ms - c->connected_ms + q->cfg.wrapup_ms;
    q->aht_next = (q->aht_next + 1) % REF_AHT_SAMPLES;
    q->aht_count += q->aht_count < REF_AHT_SAMPLES;
    if (q->cfg.wrapup_ms > 0 && a->presence == BLEND_PRESENCE_READY) {
        a->wrapup_until_ms = r->now_ms + q->cfg.wrapup_ms;
        presence_set(r, a, BLEND_PRESENCE_WRAP_UP, NULL);
        timer_set(r, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrapup_until_ms);
    } else if (q->cfg.wrapup_ms > 0 && a->presence == BLEND_PRESENCE_WRAP_UP) {
        if (r->now_ms + q->cfg.wrapup_ms > a->wrapup_until_ms) {
            a->wrapup_until_ms = r->now_ms + q->cfg.wrapup_ms;
            timer_set(r, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrapup_until_ms);
        }
    } else {
        a->free_since_ms[c->channel] = r->now_ms;
    }
}

/*
 * §Ending and wrap-up: frees the slot, records the handle time, and enters wrap-up when the
 * queue has wrap-up time. Reading: an agent already in wrap-up (another channel's contact)
 * stays in it until the later of both ends; an agent who is not-ready (asked during the contact)
 * stays not-ready without wrap-up; without wrap-up the channel is free from now (longest-idle).
 */
static int on_end(struct blend_acdref *r, struct ref_contact *c)
{
    if (c->state != BLEND_CONTACT_CONNECTED) {
        return BLEND_ESTATE;
    }
    agent_part_end(r, c, NULL);
    contact_remove(r, c);
    return 0;
}

/*
 * §Transfers: the agent's part ends exactly as at contact.end (ENDED marked as a transfer, with
 * its target), then the contact starts a new stay: a new first join now, step 0, own priority
 * kept, no longer a callback, never bound to a sticky agent; in the target queue, or in its own
 * queue reserved for the target agent, who is offered it at once when available on the channel
 * (whatever their skills). Otherwise, and when that offer fails, it waits as any contact does.
 */
static int on_transfer(struct blend_acdref *r, const struct blend_acd_transfer *t)
{
    struct ref_contact *c = contact_find(r, t->contact);
    struct ref_agent *a = agent_find(r, t->agent);
    struct ref_queue *q2 = t->to_queue ? queue_find(r, t->to_queue) : NULL;
    struct ref_agent *to = t->to_agent ? agent_find(r, t->to_agent) : NULL;
    if (!c || !a || (t->to_queue != 0) == (t->to_agent != 0) || (t->to_queue && !q2) ||
        (t->to_agent && (!to || to == a)) || (t->connect && !to) ||
        (q2 && !(q2->cfg.channels & (1u << c->channel)))) {
        return BLEND_EINVAL;
    }
    if (c->state != BLEND_CONTACT_CONNECTED || c->agent != a->cfg.id ||
        (to && to->presence == BLEND_PRESENCE_LOGGED_OUT) ||
        (t->connect && to->engaged[c->channel] == 0)) {
        return BLEND_ESTATE;
    }
    agent_part_end(r, c, t);
    if (t->connect) {
        /* §Engaged agents: the target's engagement becomes the contact, connected now in a new
         * stay of its queue (queued, then connected with no wait). */
        to->engaged[c->channel]--;
        c->agent = to->cfg.id;
        c->connected_ms = r->now_ms;
        c->is_callback = 0;
        c->enqueued_ms = r->now_ms;
        c->joined_ms = r->now_ms;
        c->step = 0;
        c->sticky_agent = 0;
        c->holds_count = 0;
        c->position_min = 0;
        c->ewt_min_ms = 0;
        c->is_rung = 0;
        c->is_direct = 0;
        c->has_overflow_pending = 0;
        emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0);
        to->no_answer = 0;
        struct blend_acd_effect *e = emit_contact(r, BLEND_ACD_FX_CONNECTED, c, to->cfg.id);
        e->is_callback = 0;
        e->wait_ms = 0;
        remember_customer(r, c->customer, to->cfg.id);
        return 0;
    }
    if (q2) {
        c->queue = q2->cfg.id;
        c->q = q2;
    }
    c->state = BLEND_CONTACT_WAITING;
    c->agent = 0;
    c->connected_ms = 0;
    c->is_callback = 0;
    c->enqueued_ms = r->now_ms;
    c->joined_ms = r->now_ms;
    c->step = 0;
    c->sticky_agent = 0;
    c->holds_count = 0; /* decline holds belong to the stay that ended with the connection */
    c->position_min = 0;
    c->ewt_min_ms = 0;
    /* The transferring agent passed it on: held off it for the target queue's reoffer_delay,
     * as after a decline. */
    hold_add(r, c, a);
    emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0);
    contact_arm_queue_timers(r, c);
    if (to && available(to, c->channel)) {
        c->is_direct = 1;
        offer_one(r, c, to);
        contact_queue(c)->rr_last_agent = to->cfg.id; /* a single-agent offer of the queue */
        c->offer_due_ms = r->now_ms + contact_queue(c)->cfg.offer_timeout_ms;
        timer_set(r, BLEND_ACD_TIMER_OFFER, c->id, c->offer_due_ms);
    } else {
        trigger(r, c);
    }
    return 0;
}

/*
 * §Transfers, moving a waiting contact: a contact that is not connected is reassigned. Every
 * outstanding offer is withdrawn (moved), its agent free again as after any withdrawal; then
 * the contact starts a new stay as a transferred one does (new first join now, step 0, own
 * priority and skills kept, never bound to a sticky agent), in the target queue or in its own
 * queue reserved for the target agent (offered at once when available on the channel, whatever
 * their skills; otherwise, and when that offer fails, it waits as any contact does). Reading:
 * there is no transferring agent to hold off, the holds of the previous stay go with it, a
 * max wait reached while offered is forgotten, and a callback stays a callback.
 */
static int on_move(struct blend_acdref *r, const struct blend_acd_move *m)
{
    struct ref_contact *c = contact_find(r, m->contact);
    struct ref_queue *q2 = m->to_queue ? queue_find(r, m->to_queue) : NULL;
    struct ref_agent *to = m->to_agent ? agent_find(r, m->to_agent) : NULL;
    if (!c || (m->to_queue != 0) == (m->to_agent != 0) || (m->to_queue && !q2) ||
        (m->to_agent && !to) || (q2 && !(q2->cfg.channels & (1u << c->channel)))) {
        return BLEND_EINVAL;
    }
    if (c->state == BLEND_CONTACT_CONNECTED || (to && to->presence == BLEND_PRESENCE_LOGGED_OUT)) {
        return BLEND_ESTATE;
    }
    for (int64_t id = 0;;) {
        struct ref_agent *a = agent_next(r, id);
        if (!a) {
            break;
        }
        id = a->cfg.id;
        if (c->offered_to[agent_slot(r, a)]) {
            emit_contact(r, BLEND_ACD_FX_WITHDRAWN, c, a->cfg.id)->withdraw = BLEND_WITHDRAW_MOVED;
            offer_drop(r, c, a);
        }
    }
    timer_cancel(r, BLEND_ACD_TIMER_OFFER, c->id);
    if (q2) {
        c->queue = q2->cfg.id;
        c->q = q2;
    }
    c->state = BLEND_CONTACT_WAITING;
    c->enqueued_ms = r->now_ms;
    c->joined_ms = r->now_ms;
    c->step = 0;
    c->sticky_agent = 0;
    c->holds_count = 0;
    c->position_min = 0;
    c->ewt_min_ms = 0;
    c->is_rung = 0;
    c->is_direct = 0;
    c->has_overflow_pending = 0;
    emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0)->is_move = 1;
    contact_arm_queue_timers(r, c);
    if (to && available(to, c->channel)) {
        c->is_direct = 1;
        offer_one(r, c, to);
        contact_queue(c)->rr_last_agent = to->cfg.id; /* a single-agent offer of the queue */
        c->offer_due_ms = r->now_ms + contact_queue(c)->cfg.offer_timeout_ms;
        timer_set(r, BLEND_ACD_TIMER_OFFER, c->id, c->offer_due_ms);
    } else {
        trigger(r, c);
    }
    return 0;
}

/* §Engaged agents: a unit of capacity held by a call the engine did not route; it counts as a
 * connected contact for every rule (active), and engaged tells them apart. */
static int on_engage(struct blend_acdref *r, const struct blend_acd_event *ev)
{
    struct ref_agent *a = agent_find(r, ev->u.engage.agent);
    enum blend_channel ch = ev->u.engage.channel;
    if (!a || (unsigned)ch >= BLEND_CH_COUNT) {
        return BLEND_EINVAL;
    }
    if (ev->type == BLEND_ACD_EV_AGENT_RELEASE) {
        if (a->engaged[ch] == 0) {
            return BLEND_ESTATE;
        }
        a->engaged[ch]--;
        a->active[ch]--;
        a->free_since_ms[ch] = r->now_ms;
        a->is_freed = 1;
        return 0;
    }
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT || a->active[ch] >= a->cfg.capacity[ch]) {
        return BLEND_ESTATE;
    }
    a->engaged[ch]++;
    a->active[ch]++;
    for (int k = 0; k < BLEND_CH_COUNT; k++) {
        if (a->offered[k] > 0 &&
            (a->active[k] + a->offered[k] > a->cfg.capacity[k] ||
             (a->cfg.voice_exclusive && k != BLEND_CH_VOICE && voice_busy(a)))) {
            withdraw_channel_offers(r, a, (enum blend_channel)k);
        }
    }
    return 0;
}

/* §Offers: abandon during an offer withdraws it (abandoned); the contact leaves the ACD. */
static int on_abandon(struct blend_acdref *r, struct ref_contact *c)
{
    if (c->state == BLEND_CONTACT_CONNECTED) {
        return BLEND_ESTATE;
    }
    for (int64_t id = 0;;) {
        struct ref_agent *a = agent_next(r, id);
        if (!a) {
            break;
        }
        id = a->cfg.id;
        if (c->offered_to[agent_slot(r, a)]) {
            emit_contact(r, BLEND_ACD_FX_WITHDRAWN, c, a->cfg.id)->withdraw =
                BLEND_WITHDRAW_ABANDONED;
            offer_drop(r, c, a);
        }
    }
    emit_contact(r, BLEND_ACD_FX_ABANDONED, c, 0)->wait_ms = r->now_ms - c->enqueued_ms;
    contact_remove(r, c);
    return 0;
}

/* §Callbacks: a waiting contact becomes a callback in place. Reading: only while waiting (not
 * offered, not already a callback); its max-wait clock stops. */
static int on_callback(struct blend_acdref *r, struct ref_contact *c)
{
    if (c->state != BLEND_CONTACT_WAITING || c->is_callback) {
        return BLEND_ESTATE;
    }
    c->is_callback = 1;
    emit_contact(r, BLEND_ACD_FX_CALLBACK, c, 0);
    timer_cancel(r, BLEND_ACD_TIMER_MAX_WAIT, c->id);
    return 0;
}

static int on_contact_event(struct blend_acdref *r, const struct blend_acd_event *ev)
{
    struct ref_contact *c = contact_find(r, ev->u.contact.contact);
    if (!c) {
        return BLEND_EINVAL;
    }
    switch (ev->type) {
    case BLEND_ACD_EV_OFFER_ACCEPT:
    case BLEND_ACD_EV_OFFER_REJECT: {
        struct ref_agent *a = agent_find(r, ev->u.contact.agent);
        if (!a) {
            return BLEND_EINVAL;
        }
        return ev->type == BLEND_ACD_EV_OFFER_ACCEPT ? on_accept(r, c, a) : on_reject(r, c, a);
    }
    case BLEND_ACD_EV_CONTACT_END:
        return on_end(r, c);
    case BLEND_ACD_EV_CONTACT_ABANDON:
        return on_abandon(r, c);
    case BLEND_ACD_EV_CALLBACK_REQUEST:
        return on_callback(r, c);
    case BLEND_ACD_EV_CONTACT_PRIORITY:
        if (ev->u.contact.priority < 0 || ev->u.contact.priority > 1000) {
            return BLEND_EINVAL;
        }
        if (c->state == BLEND_CONTACT_CONNECTED) {
            return BLEND_ESTATE;
        }
        c->own_priority = ev->u.contact.priority;
        c->position_min = 0; /* §Position: only unchanged own priority keeps the minimum */
        c->ewt_min_ms = 0;
        return 0;
    default:
        return BLEND_EINVAL;
    }
}

/* ---- Restoring state (§Restoring state) ---------------------------------------------------- */

/*
 * §Restoring state, agents: a logged-out agent comes back in its stored presence as if it had
 * logged in: counts restart; the presence is entered now (AGENT_STATE) but dates from since_ms,
 * which is also the free_since of every channel; a wrap-up whose end has passed ends now, as its
 * timer would.
 */
static int on_agent_restore(struct blend_acdref *r, const struct blend_acd_agent_restore *ev)
{
    struct ref_agent *a = agent_find(r, ev->agent);
    if (!a ||
        (ev->presence != BLEND_PRESENCE_READY && ev->presence != BLEND_PRESENCE_NOT_READY &&
         ev->presence != BLEND_PRESENCE_WRAP_UP) ||
        !memchr(ev->reason, 0, sizeof ev->reason) || ev->since_ms > r->now_ms) {
        return BLEND_EINVAL;
    }
    if (a->presence != BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    a->handled = 0;
    a->no_answer = 0;
    a->has_pending_not_ready = 0;
    if (ev->presence == BLEND_PRESENCE_WRAP_UP && ev->wrapup_until_ms <= r->now_ms) {
        /* The wrap-up is over: ready now, as its timer firing now would make the agent. */
        presence_set(r, a, BLEND_PRESENCE_READY, NULL);
        trigger_sticky_contacts(r, a);
        return 0;
    }
    presence_set(r, a, ev->presence, ev->presence == BLEND_PRESENCE_NOT_READY ? ev->reason : NULL);
    a->since_ms = ev->since_ms;
    for (int k = 0; k < BLEND_CH_COUNT; k++) {
        a->free_since_ms[k] = ev->since_ms;
    }
    if (ev->presence == BLEND_PRESENCE_WRAP_UP) {
        a->wrapup_until_ms = ev->wrapup_until_ms;
        timer_set(r, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrapup_until_ms);
    }
    trigger_sticky_contacts(r, a);
    return 0;
}

/*
 * §Restoring state, contacts: connected to a logged-in agent with room on the channel (active +
 * offered < capacity, and no voice connection beside another channel's offer of a
 * voice-exclusive agent), or waiting with its true age: its queue clocks count from its first
 * join, its step is the last one its age reached (one RELAXED naming it), and a max wait already
 * reached overflows now. Sticky memory is not restored: no sticky agent is bound.
 */
static int restore_connect_ok(const struct ref_agent *a, enum blend_channel ch)
{
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT ||
        a->active[ch] + a->offered[ch] >= a->cfg.capacity[ch]) {
        return 0;
    }
    for (int k = 0; a->cfg.voice_exclusive && ch == BLEND_CH_VOICE && k < BLEND_CH_COUNT; k++) {
        if (k != BLEND_CH_VOICE && a->offered[k] > 0) {
            return 0;
        }
    }
    return 1;
}

static int on_contact_restore(struct blend_acdref *r, const struct blend_acd_contact_restore *ev)
{
    struct ref_queue *q = queue_find(r, ev->queue);
    struct ref_agent *a = ev->agent ? agent_find(r, ev->agent) : NULL;
    if (ev->contact <= 0 || ev->contact > REF_ID_MAX || !q || ev->channel < 0 ||
        ev->channel >= BLEND_CH_COUNT || !(q->cfg.channels & (1u << ev->channel)) ||
        ev->priority < 0 || ev->priority > 1000 || ev->customer < 0 ||
        ev->enqueued_ms > r->now_ms || (ev->is_callback != 0 && ev->is_callback != 1) ||
        (ev->agent != 0 && !a) || !own_skills_valid(ev->skills, ev->skills_count)) {
        return BLEND_EINVAL;
    }
    if (contact_find(r, ev->contact) || (a && !restore_connect_ok(a, ev->channel))) {
        return BLEND_ESTATE;
    }
    struct ref_contact *c = NULL;
    for (size_t i = 0; i < r->limits.contacts_max && !c; i++) {
        if (!r->contacts[i].used) {
            c = &r->contacts[i];
        }
    }
    if (!c) {
        return BLEND_ELIMIT;
    }
    c->used = 1;
    c->id = ev->contact;
    c->queue = q->cfg.id;
    c->q = q;
    c->channel = ev->channel;
    c->own_priority = ev->priority;
    c->customer = ev->customer;
    c->own_count = ev->skills_count;
    memcpy(c->own, ev->skills, sizeof c->own);
    c->enqueued_ms = ev->enqueued_ms;
    c->joined_ms = ev->enqueued_ms;
    c->is_callback = ev->is_callback;
    r->arrived++;
    if (a) {
        c->state = BLEND_CONTACT_CONNECTED;
        c->agent = a->cfg.id;
        c->connected_ms = r->now_ms; /* talk time counts from the restore */
        a->active[c->channel]++;
        return 0;
    }
    c->state = BLEND_CONTACT_WAITING;
    emit_contact(r, BLEND_ACD_FX_QUEUED, c, 0);
    while (c->step < q->cfg.relax_count &&
           c->joined_ms + q->cfg.relax[c->step].after_ms <= r->now_ms) {
        c->step++;
    }
    if (c->step > 0) {
        emit_contact(r, BLEND_ACD_FX_RELAXED, c, 0)->step = c->step;
    }
    contact_arm_queue_timers(r, c);
    if (!c->is_callback && q->cfg.max_wait_ms > 0 && q->cfg.overflow != BLEND_OVERFLOW_NONE &&
        c->joined_ms + q->cfg.max_wait_ms <= r->now_ms) {
        overflow(r, c);
    } else {
        trigger(r, c);
    }
    return 0;
}

/* ---- Timers -------------------------------------------------------------------------------- */

/*
 * §Offers: every outstanding offer of the contact times out; each counts toward its agent's
 * max_no_answer (the contact's queue's value), and an agent reaching it goes not-ready
 * "missed". Reading: the count is per agent, across queues, reset by an accept, at login and
 * when it sends the agent not-ready.
 */
static void on_offer_timeout(struct blend_acdref *r, struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    for (int64_t id = 0;;) {
        struct ref_agent *a = agent_next(r, id);
        if (!a) {
            break;
        }
        id = a->cfg.id;
        if (!c->offered_to[agent_slot(r, a)]) {
            continue;
        }
        emit_contact(r, BLEND_ACD_FX_OFFER_TIMEOUT, c, a->cfg.id);
        offer_drop(r, c, a);
        hold_add(r, c, a);
        a->no_answer++;
        if (q->cfg.max_no_answer > 0 && a->no_answer >= q->cfg.max_no_answer) {
            a->no_answer = 0;
            a->is_missed = 1;
        }
    }
    contact_back(r, c);
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        if (r->agents[i].used && r->agents[i].is_missed) {
            r->agents[i].is_missed = 0;
            presence_set(r, &r->agents[i], BLEND_PRESENCE_NOT_READY, "missed");
        }
    }
}

/* §Queues and eligibility: step k applies when the contact has waited after_ms in the queue. */
static void on_relax_due(struct blend_acdref *r, struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    int moved = 0;
    while (c->step < q->cfg.relax_count &&
           c->joined_ms + q->cfg.relax[c->step].after_ms <= r->now_ms) {
        c->step++;
        emit_contact(r, BLEND_ACD_FX_RELAXED, c, 0)->step = c->step;
        moved = 1;
    }
    if (c->step < q->cfg.relax_count) {
        timer_set(r, BLEND_ACD_TIMER_RELAX, c->id, c->joined_ms + q->cfg.relax[c->step].after_ms);
    }
    if (moved && c->state == BLEND_CONTACT_WAITING) {
        trigger(r, c);
    }
}

/* §Waiting limits and overflow: at max wait; an offered contact only once its offers fail. */
static void on_max_wait_due(struct blend_acdref *r, struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    if (c->is_callback || q->cfg.max_wait_ms == 0 || q->cfg.overflow == BLEND_OVERFLOW_NONE ||
        c->joined_ms + q->cfg.max_wait_ms > r->now_ms) {
        return;
    }
    if (c->state == BLEND_CONTACT_OFFERED) {
        c->has_overflow_pending = 1;
    } else {
        overflow(r, c);
    }
}

static void on_reoffer_due(struct blend_acdref *r, struct ref_contact *c)
{
    int ended = 0;
    for (int i = 0; i < c->holds_count;) {
        if (c->holds[i].until_ms <= r->now_ms) {
            c->holds[i] = c->holds[--c->holds_count];
            ended = 1;
        } else {
            i++;
        }
    }
    holds_arm(r, c);
    if (ended && c->state == BLEND_CONTACT_WAITING) {
        trigger(r, c);
    }
}

static int on_timer(struct blend_acdref *r, uint64_t timer)
{
    int kind = BLEND_ACD_TIMER_KIND(timer);
    int64_t entity = BLEND_ACD_TIMER_ENTITY(timer);
    if (kind < BLEND_ACD_TIMER_OFFER || kind > BLEND_ACD_TIMER_STICKY) {
        return BLEND_EINVAL;
    }
    if (kind == BLEND_ACD_TIMER_WRAPUP) {
        struct ref_agent *a = agent_find(r, entity);
        if (a && a->presence == BLEND_PRESENCE_WRAP_UP && a->wrapup_until_ms <= r->now_ms) {
            wrapup_finish(r, a);
        }
        return 0;
    }
    /* A timer whose contact is gone or connected is stale: nothing to do. */
    struct ref_contact *c = contact_find(r, entity);
    if (!c || c->state == BLEND_CONTACT_CONNECTED) {
        return 0;
    }
    if (kind == BLEND_ACD_TIMER_OFFER) {
        if (c->state == BLEND_CONTACT_OFFERED && c->offer_due_ms <= r->now_ms) {
            on_offer_timeout(r, c);
        }
    } else if (kind == BLEND_ACD_TIMER_RELAX) {
        on_relax_due(r, c);
    } else if (kind == BLEND_ACD_TIMER_MAX_WAIT) {
        on_max_wait_due(r, c);
    } else if (kind == BLEND_ACD_TIMER_REOFFER) {
        on_reoffer_due(r, c);
    } else if (c->sticky_agent) {
        const struct ref_queue *q = contact_queue(c);
        if (c->joined_ms + q->cfg.sticky_ms <= r->now_ms) {
            c->sticky_agent = 0; /* §When decisions happen: a sticky window closes */
            if (c->state == BLEND_CONTACT_WAITING) {
                trigger(r, c);
            }
        }
    }
    return 0;
}

/* ---- Public API ---------------------------------------------------------------------------- */

int blend_acdref_create(const struct blend_acd_limits *limits, struct blend_acdref **out)
{
    BLEND_ASSERT(limits && out);
    if (limits->agents_max == 0 || limits->queues_max == 0 || limits->contacts_max == 0 ||
        limits->customers_max == 0) {
        return BLEND_EINVAL;
    }
    struct blend_acdref *r = blend_calloc(1, sizeof *r);
    if (!r) {
        return BLEND_ENOMEM;
    }
    r->limits = *limits;
    r->agents = blend_calloc(limits->agents_max, sizeof *r->agents);
    r->queues = blend_calloc(limits->queues_max, sizeof *r->queues);
    r->contacts = blend_calloc(limits->contacts_max, sizeof *r->contacts);
    r->offered_to_all = blend_calloc(limits->contacts_max, limits->agents_max);
    r->customers = blend_calloc(limits->customers_max, sizeof *r->customers);
    r->triggered = blend_calloc(limits->contacts_max, sizeof *r->triggered);
    if (!r->agents || !r->queues || !r->contacts || !r->offered_to_all || !r->customers ||
        !r->triggered) {
        blend_acdref_destroy(r);
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < limits->contacts_max; i++) {
        r->contacts[i].offered_to = &r->offered_to_all[i * limits->agents_max];
    }
    *out = r;
    return 0;
}

void blend_acdref_destroy(struct blend_acdref *r)
{
    if (!r) {
        return;
    }
    blend_free(r->agents);
    blend_free(r->queues);
    blend_free(r->contacts);
    blend_free(r->offered_to_all);
    blend_free(r->customers);
    blend_free(r->triggered);
    blend_free(r);
}

static int apply(struct blend_acdref *r, const struct blend_acd_event *ev)
{
    switch (ev->type) {
    case BLEND_ACD_EV_QUEUE_SET:
        return on_queue_set(r, &ev->u.queue);
    case BLEND_ACD_EV_QUEUE_REMOVE:
        return on_queue_remove(r, ev->u.id);
    case BLEND_ACD_EV_AGENT_SET:
        return on_agent_set(r, &ev->u.agent);
    case BLEND_ACD_EV_AGENT_REMOVE:
        return on_agent_remove(r, ev->u.id);
    case BLEND_ACD_EV_AGENT_LOGIN:
    case BLEND_ACD_EV_AGENT_READY:
    case BLEND_ACD_EV_AGENT_NOT_READY:
    case BLEND_ACD_EV_AGENT_LOGOUT:
    case BLEND_ACD_EV_WRAPUP_END:
        return on_agent_event(r, ev);
    case BLEND_ACD_EV_CONTACT_ARRIVE:
        return on_arrive(r, ev);
    case BLEND_ACD_EV_OFFER_ACCEPT:
    case BLEND_ACD_EV_OFFER_REJECT:
    case BLEND_ACD_EV_CONTACT_END:
    case BLEND_ACD_EV_CONTACT_ABANDON:
    case BLEND_ACD_EV_CALLBACK_REQUEST:
    case BLEND_ACD_EV_CONTACT_PRIORITY:
        return on_contact_event(r, ev);
    case BLEND_ACD_EV_TIMER:
        return on_timer(r, ev->u.timer);
    case BLEND_ACD_EV_AGENT_RESTORE:
        return on_agent_restore(r, &ev->u.agent_restore);
    case BLEND_ACD_EV_CONTACT_RESTORE:
        return on_contact_restore(r, &ev->u.contact_restore);
    case BLEND_ACD_EV_CONTACT_TRANSFER:
        return on_transfer(r, &ev->u.transfer);
    case BLEND_ACD_EV_AGENT_ENGAGE:
    case BLEND_ACD_EV_AGENT_RELEASE:
        return on_engage(r, ev);
    case BLEND_ACD_EV_CONTACT_MOVE:
        return on_move(r, &ev->u.move);
    }
    return BLEND_EINVAL;
}

/*
 * Errors leave the model untouched: every handler validates before it changes anything, and
 * the effects written so far are discarded.
 */
int blend_acdref_step(struct blend_acdref *r, const struct blend_acd_event *ev,
                      struct blend_acd_effects *fx)
{
    BLEND_ASSERT(r && ev && fx && fx->items && fx->cap >= BLEND_ACD_EFFECTS_MAX);
    BLEND_ASSERT(ev->now_ms >= r->now_ms);
    fx->count = 0;
    r->fx = fx;
    r->now_ms = ev->now_ms;
    r->triggered_count = 0;
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        r->agents[i].is_freed = 0;
    }
    int rc = apply(r, ev);
    if (rc != 0) {
        fx->count = 0;
        r->fx = NULL;
        return rc;
    }
    settle(r);
    r->fx = NULL;
    return 0;
}

/* ---- Invariants (§Invariants) ------------------------------------------------------------- */

static void check_agent(const struct blend_acdref *r, const struct ref_agent *a)
{
    size_t slot = agent_slot(r, a);
    uint8_t active[BLEND_CH_COUNT] = {0}, offered[BLEND_CH_COUNT] = {0};
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        const struct ref_contact *c = &r->contacts[i];
        if (!c->used) {
            continue;
        }
        offered[c->channel] += c->offered_to[slot];
        active[c->channel] += c->state == BLEND_CONTACT_CONNECTED && c->agent == a->cfg.id;
    }
    for (int k = 0; k < BLEND_CH_COUNT; k++) {
        active[k] += a->engaged[k]; /* engagements hold capacity as contacts do */
        /* 2. active + offered <= capacity; offers only to ready agents; voice blocks. */
        BLEND_ASSERT(active[k] == a->active[k] && offered[k] == a->offered[k]);
        BLEND_ASSERT(a->active[k] + a->offered[k] <= a->cfg.capacity[k]);
        BLEND_ASSERT(a->offered[k] == 0 || a->presence == BLEND_PRESENCE_READY);
        if (a->cfg.voice_exclusive && k != BLEND_CH_VOICE && voice_busy(a)) {
            BLEND_ASSERT(a->offered[k] == 0);
        }
    }
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT) {
        for (int k = 0; k < BLEND_CH_COUNT; k++) {
            BLEND_ASSERT(a->active[k] == 0);
        }
    }
}

static void check_contact(const struct blend_acdref *r, const struct ref_contact *c)
{
    const struct ref_queue *q = contact_queue(c);
    BLEND_ASSERT(q && c->enqueued_ms <= c->joined_ms && c->step >= 0);
    if (c->state == BLEND_CONTACT_OFFERED) {
        /* 1. one agent unless ring-all; 4. at least one offer and an armed timer. */
        BLEND_ASSERT(c->offers_count >= 1 && c->offer_due_ms > 0);
        BLEND_ASSERT(c->offers_count == 1 || c->is_rung);
        /* §Transfers: a direct offer is the one offer of its contact (a callback only after a
         * move: a transfer clears the flag). */
        BLEND_ASSERT(!c->is_direct || (c->offers_count == 1 && !c->is_rung));
    } else {
        BLEND_ASSERT(c->offers_count == 0 && !c->is_direct);
    }
    if (c->state == BLEND_CONTACT_CONNECTED) {
        BLEND_ASSERT(agent_find(r, c->agent) != NULL); /* 4. exactly one agent */
    }
    if (c->state == BLEND_CONTACT_WAITING) {
        /* 3. nothing waits while an eligible available agent exists. A hold that ends at this
         * very instant still counts until its REOFFER timer step has run (see settle). */
        for (size_t i = 0; i < r->limits.agents_max; i++) {
            const struct ref_agent *a = &r->agents[i];
            int is_hold_pending = 0;
            for (int h = 0; a->used && h < c->holds_count; h++) {
                is_hold_pending |= c->holds[h].agent == a->cfg.id;
            }
            BLEND_ASSERT(!a->used || is_hold_pending || !can_take(r, a, c));
        }
    }
}

void blend_acdref_check(const struct blend_acdref *r)
{
    BLEND_ASSERT(r);
    uint64_t alive = 0;
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        if (r->agents[i].used) {
            check_agent(r, &r->agents[i]);
        }
    }
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        if (r->contacts[i].used) {
            check_contact(r, &r->contacts[i]);
            alive++;
        }
    }
    BLEND_ASSERT(r->arrived == alive + r->finished); /* 5. every contact ends exactly once */
}

/* ---- Views --------------------------------------------------------------------------------- */

int blend_acdref_agent(const struct blend_acdref *r, int64_t id, struct blend_acd_agent_view *out)
{
    const struct ref_agent *a = agent_find(r, id);
    if (!a) {
        return BLEND_ENOENT;
    }
    memset(out, 0, sizeof *out);
    out->id = id;
    out->presence = a->presence;
    memcpy(out->reason, a->reason, sizeof out->reason);
    out->since_ms = a->since_ms;
    for (int k = 0; k < BLEND_CH_COUNT; k++) {
        out->active[k] = (uint8_t)(a->active[k] - a->engaged[k]);
    }
    memcpy(out->engaged, a->engaged, sizeof out->engaged);
    memcpy(out->offered, a->offered, sizeof out->offered);
    out->handled = a->handled;
    return 0;
}

/* §Position and EWT: AHT of the queue and the staffed agents meeting its base requirement. */
static int64_t ewt_ms(const struct blend_acdref *r, const struct ref_queue *q, int32_t position)
{
    int64_t aht_ms = q->cfg.wrapup_ms + REF_AHT_DEFAULT_MS;
    if (q->aht_count > 0) {
        int64_t sum = 0;
        for (int i = 0; i < q->aht_count; i++) {
            sum += q->aht_ms[i];
        }
        aht_ms = sum / q->aht_count;
    }
    int64_t staffed = 0;
    for (size_t i = 0; i < r->limits.agents_max; i++) {
        const struct ref_agent *a = &r->agents[i];
        staffed += a->used && a->presence != BLEND_PRESENCE_LOGGED_OUT &&
                   meets(a, q->cfg.skills, q->cfg.skills_count);
    }
    return position * aht_ms / (staffed > 1 ? staffed : 1);
}

int blend_acdref_contact(struct blend_acdref *r, int64_t id, struct blend_acd_contact_view *out)
{
    struct ref_contact *c = contact_find(r, id);
    if (!c) {
        return BLEND_ENOENT;
    }
    memset(out, 0, sizeof *out);
    out->id = id;
    out->queue = c->queue;
    out->channel = c->channel;
    out->state = c->state;
    out->agent = c->agent;
    if (c->state == BLEND_CONTACT_OFFERED && c->offers_count == 1) {
        for (size_t i = 0; i < r->limits.agents_max; i++) {
            if (c->offered_to[i]) {
                out->agent = r->agents[i].cfg.id;
            }
        }
    }
    out->enqueued_ms = c->enqueued_ms;
    out->priority = (int32_t)effective_priority(r, c);
    out->step = c->step;
    out->is_callback = c->is_callback;
    /* §Position: 1 + waiting contacts of the same queue ranked above; never increases.
     * Reading: computed in every state (the formula does not depend on the contact's own
     * state), so a view taken while the contact is offered counts toward the minimum too. */
    int32_t pos = 1;
    for (size_t i = 0; i < r->limits.contacts_max; i++) {
        const struct ref_contact *o = &r->contacts[i];
        pos += o->used && o != c && o->queue == c->queue && o->state == BLEND_CONTACT_WAITING &&
               ranks_before(r, o, c);
    }
    if (c->position_min == 0 || pos < c->position_min) {
        c->position_min = pos;
    }
    /* Reading: EWT uses the position computed now; the announced EWT is the minimum of every
     * EWT computed (§Position and EWT: it never increases either). */
    int64_t ewt = ewt_ms(r, contact_queue(c), pos);
    if (c->ewt_min_ms == 0 || ewt < c->ewt_min_ms) {
        c->ewt_min_ms = ewt;
    }
    out->position = c->position_min;
    out->ewt_ms = c->ewt_min_ms;
    return 0;
}
