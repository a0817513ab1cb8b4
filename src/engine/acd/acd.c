/*
 * The fast ACD engine: creation (every table sized from the limits), the step function and the
 * handlers of every event of acd.h, offers and timers. Rules are those of docs/routing.md;
 * readings of points it leaves open are stated next to the code as "Reading:". A handler first
 * validates (returning BLEND_EINVAL/ESTATE/ELIMIT with nothing changed), then mutates, marking
 * dirty contacts and agents; blend__acd_settle() makes the decisions at the end of the step.
 *
 * Readings taken where docs/routing.md is silent or ambiguous (the same list is in the report):
 *  - Relaxation, max wait and the sticky window count from the time the contact joined its
 *    current queue (qjoin_ms); priority aging, ranking and wait_ms count from its first join.
 *  - Handle time (AHT and least-occupied) = talk time + the queue's configured wrap-up time,
 *    recorded when the contact ends. "Contacts ended in the last hour": now - end < 1 h.
 *  - free_since[c] becomes now on every transition into READY (all channels) and when a contact
 *    on channel c ends without wrap-up.
 *  - not-ready asked while ready takes effect at once (connected contacts continue, offers are
 *    withdrawn); asked during wrap-up it is pending until wrap-up ends. A not-ready agent whose
 *    contact ends stays not-ready (no wrap-up). Another contact ending during wrap-up extends
 *    the wrap-up to the later end. READY during wrap-up is refused (use WRAPUP_END).
 *  - max_no_answer counts consecutive timeouts of the agent (any queue) against the timed-out
 *    offer's queue limit; accepting any offer or going not-ready "missed" resets it.
 *  - reoffer_delay_ms = 0 means "the offer timeout". A full decline list drops the entry that
 *    expires first (then the lowest agent id).
 *  - Sticky: the memory (customer -> last connected agent, any queue) is LRU by connect time;
 *    the sticky agent is looked up when the contact joins a sticky queue.
 *  - A callback is never rung on several agents; callbacks never overflow on max wait.
 *  - OVERFLOW carries the queue the contact leaves; QUEUED then names the new queue. An
 *    overflow to a missing queue, the same queue or one that does not take the channel does
 *    nothing. Overflow to callback emits OVERFLOW then CALLBACK.
 *  - Entering wrap-up withdraws the agent's outstanding offers on other channels (unavailable).
 *  - AGENT_SET lowering a capacity below the connected contacts is refused (ESTATE); offers
 *    beyond the new capacity, or on other channels of a newly voice-exclusive agent with voice
 *    load, are withdrawn (unavailable).
 *  - A voice-exclusive agent holding an offer on another channel is not available for voice.
 *  - QUEUE_SET with a relaxation step whose add_queue_agents names the queue itself is refused
 *    (EINVAL).
 *  - QUEUE_SET on an existing queue applies at once the steps and max waits its contacts' age
 *    has reached under the new config, and moves or closes their sticky windows; removing an
 *    agent unbinds its sticky contacts for good (docs/routing.md §Precise readings 15-17).
 *  - AGENT_RESTORE and CONTACT_RESTORE rebuild state after a restart (§Restoring state).
 *  - CONTACT_TRANSFER ends the agent's part as CONTACT_END does and starts a new stay of the
 *    contact (§Transfers); a direct offer to the target agent is flagged is_direct.
 *  - CONTACT_MOVE withdraws a waiting or offered contact's offers (moved) and starts a new stay
 *    as a transfer does; a moved callback stays a callback (so a direct offer may be one).
 */
#include "engine/acd/acd_int.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

#define ID_MAX ((int64_t)1 << 56)

/* ---- Effects and timers --------------------------------------------------------------------- */

struct blend_acd_effect *blend__acd_fx(struct blend_acd *acd, enum blend_acd_effect_type t)
{
    struct blend_acd_effects *fx = acd->fx;
    BLEND_ASSERT(fx->count < fx->cap);
    struct blend_acd_effect *e = &fx->items[fx->count++];
    *e = (struct blend_acd_effect){.type = t, .at_ms = acd->now_ms};
    return e;
}

struct blend_acd_effect *blend__acd_fx_contact(struct blend_acd *acd,
                                               enum blend_acd_effect_type t, uint32_t ci,
                                               uint32_t ai)
{
    const struct acd_contact *c = &acd->contacts[ci];
    struct blend_acd_effect *e = blend__acd_fx(acd, t);
    e->contact = c->id;
    e->queue = acd->queues[c->queue].id;
    e->channel = (enum blend_channel)c->ch;
    e->agent = ai ? acd->agents[ai].id : 0;
    return e;
}

void blend__acd_timer_set(struct blend_acd *acd, int kind, int64_t entity, int64_t due_ms)
{
    struct blend_acd_effect *e = blend__acd_fx(acd, BLEND_ACD_FX_TIMER_SET);
    e->timer = BLEND_ACD_TIMER_ID(kind, entity);
    e->due_ms = due_ms;
}

void blend__acd_timer_cancel(struct blend_acd *acd, int kind, int64_t entity)
{
    struct blend_acd_effect *e = blend__acd_fx(acd, BLEND_ACD_FX_TIMER_CANCEL);
    e->timer = BLEND_ACD_TIMER_ID(kind, entity);
}

static void ctimer_set(struct blend_acd *acd, uint32_t ci, int kind, int64_t due_ms)
{
    struct acd_contact *c = &acd->contacts[ci];
    BLEND_ASSERT(due_ms > acd->now_ms || kind == BLEND_ACD_TIMER_REOFFER);
    c->armed |= (uint8_t)(1u << kind);
    blend__acd_timer_set(acd, kind, c->id, due_ms);
}

static void ctimer_cancel(struct blend_acd *acd, uint32_t ci, int kind)
{
    struct acd_contact *c = &acd->contacts[ci];
    if (c->armed & (1u << kind)) {
        c->armed &= (uint8_t)~(1u << kind);
        blend__acd_timer_cancel(acd, kind, c->id);
    }
}

static void agent_state_fx(struct blend_acd *acd, uint32_t ai)
{
    const struct acd_agent *a = &acd->agents[ai];
    struct blend_acd_effect *e = blend__acd_fx(acd, BLEND_ACD_FX_AGENT_STATE);
    e->agent = a->cfg.id;
    e->presence = a->presence;
    memcpy(e->reason, a->reason, sizeof e->reason);
}

static void set_presence(struct blend_acd *acd, uint32_t ai, enum blend_acd_presence p,
                         const char *reason)
{
    struct acd_agent *a = &acd->agents[ai];
    a->presence = p;
    memset(a->reason, 0, sizeof a->reason);
    if (reason) {
        memcpy(a->reason, reason, strnlen(reason, BLEND_ACD_REASON_BYTES - 1));
    }
    a->since_ms = acd->now_ms;
    if (p == BLEND_PRESENCE_READY) {
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            a->free_since[c] = acd->now_ms;
        }
        blend__acd_dirty_agent(acd, ai);
    }
    agent_state_fx(acd, ai);
    blend__acd_agent_reindex(acd, ai);
}

/* ---- Create / destroy ---------------------------------------------------------------------- */

static size_t pool_size(size_t exact_a, size_t exact_b, size_t fallback)
{
    if (exact_b == 0 || exact_a <= ACD_EXACT_POOL_MAX / exact_b) {
        return exact_a * exact_b;
    }
    return fallback;
}

static int alloc_tables(struct blend_acd *acd)
{
    const struct blend_acd_limits *l = &acd->lim;
    size_t na = l->agents_max + 1, nq = l->queues_max + 1, nc = l->contacts_max + 1;
    size_t nk = l->customers_max + 1;
    acd->slots_max = l->queues_max * ACD_STEPS;
    acd->members_max = pool_size(l->agents_max, l->queues_max * ACD_STEPS * BLEND_CH_COUNT,
                                 l->agents_max * ACD_MEMBERSHIPS_PER_AGENT);
    acd->offers_extra_max = pool_size(l->contacts_max, l->agents_max - 1,
                                      l->agents_max * ACD_EXTRA_OFFERS_PER_AGENT);
    size_t noff = l->contacts_max + acd->offers_extra_max + 1;
    acd->agents = blend__acd_table_alloc(na, sizeof *acd->agents);
    acd->hist = blend__acd_table_alloc(na * BLEND_ACD_HISTORY_MAX, sizeof *acd->hist);
    acd->elig = blend__acd_table_alloc(na * ACD_ELIG_MAX, sizeof *acd->elig);
    acd->agent_free = blend__acd_table_alloc(na, sizeof *acd->agent_free);
    acd->queues = blend__acd_table_alloc(nq, sizeof *acd->queues);
    acd->queue_free = blend__acd_table_alloc(nq, sizeof *acd->queue_free);
    acd->adders =
        blend__acd_table_alloc(l->queues_max * BLEND_ACD_RELAX_STEPS_MAX + 1, sizeof *acd->adders);
    acd->slots = blend__acd_table_alloc(acd->slots_max + 1, sizeof *acd->slots);
    acd->members = blend__acd_table_alloc(acd->members_max + 1, sizeof *acd->members);
    acd->mnodes = blend__acd_table_alloc(acd->members_max + 1, sizeof *acd->mnodes);
    acd->contacts = blend__acd_table_alloc(nc, sizeof *acd->contacts);
    acd->contact_own = blend__acd_table_alloc(nc, sizeof *acd->contact_own);
    acd->cnodes = blend__acd_table_alloc(nc, sizeof *acd->cnodes);
    acd->contact_free = blend__acd_table_alloc(nc, sizeof *acd->contact_free);
    acd->groups = blend__acd_table_alloc(nc, sizeof *acd->groups);
    acd->group_own = blend__acd_table_alloc(nc, sizeof *acd->group_own);
    acd->offers = blend__acd_table_alloc(noff, sizeof *acd->offers);
    acd->custs = blend__acd_table_alloc(nk, sizeof *acd->custs);
    acd->cust_free = blend__acd_table_alloc(nk, sizeof *acd->cust_free);
    acd->heap = blend__acd_table_alloc(na, sizeof *acd->heap);
    acd->agent_stamp = blend__acd_table_alloc(na, sizeof *acd->agent_stamp);
    acd->agent_dirty_stamp = blend__acd_table_alloc(na, sizeof *acd->agent_dirty_stamp);
    acd->dirty_contacts = blend__acd_table_alloc(nc, sizeof *acd->dirty_contacts);
    acd->dirty_agents = blend__acd_table_alloc(na, sizeof *acd->dirty_agents);
    acd->qmask = blend__acd_table_alloc(nq << ACD_QCH_SHIFT, sizeof *acd->qmask);
    acd->qb = blend__acd_table_alloc(nq * BLEND_CH_COUNT, sizeof *acd->qb);
    acd->qob = blend__acd_table_alloc(nq << ACD_QCH_SHIFT, sizeof *acd->qob);
    acd->qtouched = blend__acd_table_alloc(nq * BLEND_CH_COUNT, sizeof *acd->qtouched);
    acd->qbound = blend__acd_table_alloc(nq * BLEND_CH_COUNT, sizeof *acd->qbound);
    acd->qbits = blend__acd_table_alloc(nq * BLEND_CH_COUNT, sizeof *acd->qbits);
    acd->qcand = blend__acd_table_alloc(nq * BLEND_CH_COUNT, sizeof *acd->qcand);
    acd->pick = blend__acd_table_alloc(na, sizeof *acd->pick);
    acd->reindex_list = blend__acd_table_alloc(na, sizeof *acd->reindex_list);
    acd->reindex_pending = blend__acd_table_alloc(na, sizeof *acd->reindex_pending);
    if (!acd->agents || !acd->hist || !acd->elig || !acd->agent_free || !acd->queues ||
        !acd->queue_free || !acd->adders || !acd->slots || !acd->members || !acd->mnodes ||
        !acd->contacts || !acd->cnodes || !acd->contact_free || !acd->groups || !acd->offers ||
        !acd->group_own || !acd->contact_own || !acd->qob ||
        !acd->custs || !acd->cust_free || !acd->heap || !acd->agent_stamp ||
        !acd->agent_dirty_stamp || !acd->dirty_contacts || !acd->dirty_agents || !acd->qmask ||
        !acd->qb || !acd->qtouched || !acd->qbound || !acd->qbits || !acd->qcand || !acd->pick ||
        !acd->reindex_list || !acd->reindex_pending) {
        return BLEND_ENOMEM;
    }
    if (blend__acd_map_init(&acd->agent_map, l->agents_max) ||
        blend__acd_map_init(&acd->queue_map, l->queues_max) ||
        blend__acd_map_init(&acd->contact_map, l->contacts_max) ||
        blend__acd_map_init(&acd->cust_map, l->customers_max)) {
        return BLEND_ENOMEM;
    }
    return 0;
}

static void init_free_lists(struct blend_acd *acd)
{
    const struct blend_acd_limits *l = &acd->lim;
    /* Stacks pop the lowest index first. */
    for (size_t i = 0; i < l->agents_max; i++) {
        acd->agent_free[i] = (uint32_t)(l->agents_max - i);
    }
    acd->agent_free_count = l->agents_max;
    for (size_t i = 0; i < l->queues_max; i++) {
        acd->queue_free[i] = (uint32_t)(l->queues_max - i);
    }
    acd->queue_free_count = l->queues_max;
    for (size_t i = 0; i < l->contacts_max; i++) {
        acd->contact_free[i] = (uint32_t)(l->contacts_max - i);
    }
    acd->contact_free_count = l->contacts_max;
    for (size_t i = 0; i < l->customers_max; i++) {
        acd->cust_free[i] = (uint32_t)(l->customers_max - i);
    }
    acd->cust_free_count = l->customers_max;
    for (size_t i = acd->members_max; i >= 1; i--) {
        acd->members[i].next = acd->member_free;
        acd->member_free = (uint32_t)i;
    }
    for (size_t i = l->contacts_max; i >= 1; i--) {
        acd->groups[i].next = acd->group_free;
        acd->group_free = (uint32_t)i;
    }
    size_t noff = l->contacts_max + acd->offers_extra_max;
    for (size_t i = noff; i >= 1; i--) {
        acd->offers[i].next_c = acd->offer_free;
        acd->offer_free = (uint32_t)i;
    }
    blend__acd_adders_rebuild(acd);
    acd->dirty_gen = 1;
}

int blend_acd_create(const struct blend_acd_limits *limits, struct blend_acd **out)
{
    BLEND_ASSERT(limits && out);
    if (limits->agents_max == 0 || limits->queues_max == 0 || limits->contacts_max == 0 ||
        limits->agents_max >= UINT32_MAX / 2 || limits->contacts_max >= UINT32_MAX / 4 ||
        limits->queues_max >= UINT32_MAX / (2 * ACD_STEPS * BLEND_CH_COUNT) ||
        limits->customers_max >= UINT32_MAX / 2) {
        return BLEND_EINVAL;
    }
    struct blend_acd *acd = blend_calloc(1, sizeof *acd);
    if (!acd) {
        return BLEND_ENOMEM;
    }
    acd->lim = *limits;
    if (alloc_tables(acd) != 0) {
        blend_acd_destroy(acd);
        return BLEND_ENOMEM;
    }
    init_free_lists(acd);
    *out = acd;
    return 0;
}

void blend_acd_destroy(struct blend_acd *acd)
{
    if (!acd) {
        return;
    }
    blend__acd_map_deinit(&acd->agent_map);
    blend__acd_map_deinit(&acd->queue_map);
    blend__acd_map_deinit(&acd->contact_map);
    blend__acd_map_deinit(&acd->cust_map);
    void *tables[] = {acd->agents,         acd->hist,           acd->elig,
                      acd->agent_free,     acd->queues,         acd->queue_free,
                      acd->adders,         acd->slots,          acd->members,
                      acd->mnodes,         acd->contacts,       acd->cnodes,
                      acd->contact_free,   acd->groups,         acd->offers,
                      acd->custs,          acd->cust_free,      acd->heap,
                      acd->agent_stamp,    acd->agent_dirty_stamp, acd->dirty_contacts,
                      acd->dirty_agents,   acd->qmask,          acd->qtouched,
                      acd->qbound,         acd->pick,           acd->reindex_list,
                      acd->reindex_pending, acd->qbits,         acd->qcand,
                      acd->qb,             acd->group_own,      acd->contact_own,
                      acd->qob};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        blend__acd_table_free(tables[i]);
    }
    blend_free(acd);
}

/* ---- Offers --------------------------------------------------------------------------------- */

int blend__acd_offer_extra_ok(const struct blend_acd *acd)
{
    return acd->offers_extra_used < acd->offers_extra_max;
}

void blend__acd_offer_make(struct blend_acd *acd, uint32_t ci, uint32_t ai)
{
    struct acd_contact *c = &acd->contacts[ci];
    struct acd_agent *a = &acd->agents[ai];
    struct acd_queue *q = &acd->queues[c->queue];
    BLEND_ASSERT(blend__acd_agent_available(a, c->ch));
    if (c->state == BLEND_CONTACT_WAITING) {
        blend__acd_wait_leave(acd, ci);
        c->state = BLEND_CONTACT_OFFERED;
        c->offer_due_ms = acd->now_ms + q->offer_timeout_ms;
        ctimer_set(acd, ci, BLEND_ACD_TIMER_OFFER, c->offer_due_ms);
    } else {
        BLEND_ASSERT(c->offers_count > 0 && blend__acd_is_ring(acd, c));
        acd->offers_extra_used++;
        c->is_rung = 1;
    }
    uint32_t o = acd->offer_free;
    BLEND_ASSERT(o != 0);
    acd->offer_free = acd->offers[o].next_c;
    struct acd_offer *of = &acd->offers[o];
    memset(of, 0, sizeof *of);
    of->contact = ci;
    of->agent = ai;
    of->next_c = c->offers;
    c->offers = o;
    c->offers_count++;
    of->next_a = a->offers;
    if (a->offers) {
        acd->offers[a->offers].prev_a = o;
    }
    a->offers = o;
    a->offered[c->ch]++;
    if (!blend__acd_is_ring(acd, c)) {
        /* The round-robin pointer moves with every single-agent offer of the queue, whoever
         * decided it; ring-all offers do not move it (they matter after a reconfiguration). */
        q->last_robin_id = a->id;
    }
    struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_OFFER, ci, ai);
    e->is_callback = c->is_callback;
    /* Offers are made by decisions, which read the treaps right after: re-key at once. */
    blend__acd_agent_reindex_now(acd, ai);
}

/* Removes offer o; the agent's treaps are updated, the contact's state is the caller's. */
static void offer_remove(struct blend_acd *acd, uint32_t o)
{
    struct acd_offer *of = &acd->offers[o];
    struct acd_contact *c = &acd->contacts[of->contact];
    struct acd_agent *a = &acd->agents[of->agent];
    uint32_t *link = &c->offers;
    while (*link != o) {
        BLEND_ASSERT(*link != 0);
        link = &acd->offers[*link].next_c;
    }
    *link = of->next_c;
    if (c->offers_count > 1) {
        acd->offers_extra_used--;
    }
    c->offers_count--;
    if (of->prev_a) {
        acd->offers[of->prev_a].next_a = of->next_a;
    } else {
        a->offers = of->next_a;
    }
    if (of->next_a) {
        acd->offers[of->next_a].prev_a = of->prev_a;
    }
    BLEND_ASSERT(a->offered[c->ch] > 0);
    a->offered[c->ch]--;
    uint32_t ai = of->agent;
    memset(of, 0, sizeof *of);
    of->next_c = acd->offer_free;
    acd->offer_free = o;
    blend__acd_agent_reindex(acd, ai);
}

static uint32_t offer_find(const struct blend_acd *acd, uint32_t ci, uint32_t ai)
{
    for (uint32_t o = acd->contacts[ci].offers; o; o = acd->offers[o].next_c) {
        if (acd->offers[o].agent == ai) {
            return o;
        }
    }
    return 0;
}

static void overflow(struct blend_acd *acd, uint32_t ci);

/* The contact's last outstanding offer failed: it returns to its place, or overflows if its
 * max wait passed meanwhile. */
static void offers_failed(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    BLEND_ASSERT(c->offers_count == 0);
    c->is_rung = 0;
    c->is_direct = 0; /* a failed transfer offer falls back to the queue (§Transfers) */
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_OFFER);
    blend__acd_wait_enter(acd, ci);
    blend__acd_dirty_contact(acd, ci);
    if (c->is_overflow_due) {
        c->is_overflow_due = 0;
        overflow(acd, ci);
    }
}

static void decline(struct blend_acd *acd, uint32_t ci, uint32_t ai)
{
    struct acd_contact *c = &acd->contacts[ci];
    int64_t until = acd->now_ms + acd->queues[c->queue].reoffer_ms;
    int slot = -1;
    for (int i = 0; i < c->declined_count; i++) {
        if (c->declined[i].agent == ai || c->declined[i].until_ms <= acd->now_ms) {
            slot = i;
            break;
        }
    }
    if (slot < 0 && c->declined_count < BLEND_ACD_DECLINED_MAX) {
        slot = c->declined_count++;
    }
    if (slot < 0) {
        slot = 0;
        for (int i = 1; i < c->declined_count; i++) {
            const struct acd_decline *d = &c->declined[i], *b = &c->declined[slot];
            if (d->until_ms < b->until_ms ||
                (d->until_ms == b->until_ms &&
                 acd->agents[d->agent].cfg.id < acd->agents[b->agent].cfg.id)) {
                slot = i;
            }
        }
    }
    c->declined[slot].agent = ai;
    c->declined[slot].until_ms = until;
    int64_t due = until;
    for (int i = 0; i < c->declined_count; i++) {
        if (c->declined[i].until_ms > acd->now_ms && c->declined[i].until_ms < due) {
            due = c->declined[i].until_ms;
        }
    }
    ctimer_set(acd, ci, BLEND_ACD_TIMER_REOFFER, due);
}

/* Withdraws every offer of agent ai (it became unavailable). */
static void withdraw_agent_offers(struct blend_acd *acd, uint32_t ai, int only_ch)
{
    uint32_t o = acd->agents[ai].offers;
    while (o) {
        uint32_t next = acd->offers[o].next_a;
        uint32_t ci = acd->offers[o].contact;
        if (only_ch < 0 || acd->contacts[ci].ch == only_ch) {
            struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_WITHDRAWN, ci, ai);
            e->withdraw = BLEND_WITHDRAW_UNAVAILABLE;
            offer_remove(acd, o);
            if (acd->contacts[ci].offers_count == 0) {
                offers_failed(acd, ci);
            }
        }
        o = next;
    }
}

/* ---- Contact life --------------------------------------------------------------------------- */

static void sticky_unbind(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    if (!c->sticky_agent) {
        return;
    }
    struct acd_agent *a = &acd->agents[c->sticky_agent];
    if (c->sticky_prev) {
        acd->contacts[c->sticky_prev].sticky_next = c->sticky_next;
    } else {
        a->sticky = c->sticky_next;
    }
    if (c->sticky_next) {
        acd->contacts[c->sticky_next].sticky_prev = c->sticky_prev;
    }
    c->sticky_agent = 0;
    c->sticky_next = 0;
    c->sticky_prev = 0;
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_STICKY);
}

static void sticky_bind(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct acd_queue *q = &acd->queues[c->queue];
    if (q->cfg.strategy != BLEND_STRAT_STICKY || c->customer == 0 || q->cfg.sticky_ms <= 0) {
        return;
    }
    uint32_t k = blend__acd_map_get(&acd->cust_map, c->customer);
    uint32_t ai = k ? blend__acd_map_get(&acd->agent_map, acd->custs[k].agent_id) : 0;
    if (!ai) {
        return;
    }
    struct acd_agent *a = &acd->agents[ai];
    if (!blend__acd_own_ok(acd, c, ai)) {
        return; /* docs/routing.md §Queues and eligibility: no sticky phase for this contact */
    }
    c->sticky_agent = ai;
    c->sticky_until_ms = c->qjoin_ms + q->cfg.sticky_ms;
    c->sticky_prev = 0;
    c->sticky_next = a->sticky;
    if (a->sticky) {
        acd->contacts[a->sticky].sticky_prev = ci;
    }
    a->sticky = ci;
    ctimer_set(acd, ci, BLEND_ACD_TIMER_STICKY, c->sticky_until_ms);
}

static void arm_relax(struct blend_acd *acd, uint32_t ci)
{
    const struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    if (c->state != BLEND_CONTACT_CONNECTED && c->step < q->relax_count) {
        ctimer_set(acd, ci, BLEND_ACD_TIMER_RELAX, c->qjoin_ms + q->relax[c->step].after_ms);
    } else {
        ctimer_cancel(acd, ci, BLEND_ACD_TIMER_RELAX);
    }
}

static void arm_max_wait(struct blend_acd *acd, uint32_t ci)
{
    const struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    if (q->max_wait_ms > 0 && q->overflow != BLEND_OVERFLOW_NONE && !c->is_callback) {
        ctimer_set(acd, ci, BLEND_ACD_TIMER_MAX_WAIT, c->qjoin_ms + q->max_wait_ms);
    } else {
        ctimer_cancel(acd, ci, BLEND_ACD_TIMER_MAX_WAIT);
    }
}

/* The contact (waiting, in no queue's structures) joins queue qi now; a transferred or moved
 * contact (is_transfer) is not bound to a sticky agent (docs/routing.md §Transfers). Returns
 * the QUEUED effect. */
static struct blend_acd_effect *queue_join(struct blend_acd *acd, uint32_t ci, uint32_t qi,
                                           int is_transfer)
{
    struct acd_contact *c = &acd->contacts[ci];
    c->queue = qi;
    c->qjoin_ms = acd->now_ms;
    c->step = 0;
    c->position_min = 0;
    c->ewt_min_ms = 0;
    acd->queues[qi].contacts++;
    struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_QUEUED, ci, 0);
    if (!is_transfer) {
        sticky_bind(acd, ci);
    }
    arm_relax(acd, ci);
    arm_max_wait(acd, ci);
    blend__acd_wait_enter(acd, ci);
    blend__acd_dirty_contact(acd, ci);
    return e;
}

/* Zeroes a contact record except its decline list, whose entries are read only below
 * declined_count (now 0): clearing it would write two more cache lines per contact, on a
 * record that is freed and reused at the rate of decisions. */
static void contact_clear(struct acd_contact *c)
{
    memset(c, 0, offsetof(struct acd_contact, declined));
    BLEND_ASSERT(c->declined_count == 0);
}

static void contact_free(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    BLEND_ASSERT(c->offers == 0);
    blend__acd_wait_leave(acd, ci);
    sticky_unbind(acd, ci);
    for (int k = BLEND_ACD_TIMER_OFFER; k <= BLEND_ACD_TIMER_STICKY; k++) {
        ctimer_cancel(acd, ci, k);
    }
    acd->queues[c->queue].contacts--;
    blend__acd_map_del(&acd->contact_map, c->id);
    contact_clear(c);
    acd->contact_free[acd->contact_free_count++] = ci;
}

/* max wait reached by a waiting contact (docs/routing.md §Waiting limits and overflow). */
static void overflow(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    BLEND_ASSERT(c->state == BLEND_CONTACT_WAITING);
    if (c->is_callback) {
        return;
    }
    if (q->overflow == BLEND_OVERFLOW_QUEUE) {
        uint32_t q2 = q->overflow_queue ? blend__acd_map_get(&acd->queue_map, q->overflow_queue) : 0;
        if (!q2 || q2 == c->queue || !(acd->queues[q2].cfg.channels & (1u << c->ch))) {
            return;
        }
        blend__acd_fx_contact(acd, BLEND_ACD_FX_OVERFLOW, ci, 0)->overflow = BLEND_OVERFLOW_QUEUE;
        blend__acd_wait_leave(acd, ci);
        sticky_unbind(acd, ci);
        acd->queues[c->queue].contacts--;
        queue_join(acd, ci, q2, 0);
    } else if (q->overflow == BLEND_OVERFLOW_VOICEMAIL) {
        blend__acd_fx_contact(acd, BLEND_ACD_FX_OVERFLOW, ci, 0)->overflow =
            BLEND_OVERFLOW_VOICEMAIL;
        acd->voicemailed++;
        contact_free(acd, ci);
    } else if (q->overflow == BLEND_OVERFLOW_CALLBACK) {
        blend__acd_fx_contact(acd, BLEND_ACD_FX_OVERFLOW, ci, 0)->overflow =
            BLEND_OVERFLOW_CALLBACK;
        blend__acd_fx_contact(acd, BLEND_ACD_FX_CALLBACK, ci, 0);
        c->is_callback = 1;
        ctimer_cancel(acd, ci, BLEND_ACD_TIMER_MAX_WAIT);
        blend__acd_dirty_contact(acd, ci);
    }
}

/* Applies every relaxation step of the contact that is due now. */
static void relax_due(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    int changed = 0;
    while (c->state != BLEND_CONTACT_CONNECTED && c->step < q->relax_count &&
           c->qjoin_ms + q->relax[c->step].after_ms <= acd->now_ms) {
        if (!changed && c->state == BLEND_CONTACT_WAITING) {
            blend__acd_wait_leave(acd, ci);
        }
        changed = 1;
        c->step++;
        blend__acd_fx_contact(acd, BLEND_ACD_FX_RELAXED, ci, 0)->step = c->step;
    }
    if (changed) {
        if (c->state == BLEND_CONTACT_WAITING) {
            blend__acd_wait_enter(acd, ci);
            blend__acd_dirty_contact(acd, ci);
        }
        arm_relax(acd, ci);
    }
}

static void max_wait_due(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    if (c->state == BLEND_CONTACT_CONNECTED || c->is_callback || q->max_wait_ms <= 0 ||
        q->overflow == BLEND_OVERFLOW_NONE || c->qjoin_ms + q->max_wait_ms > acd->now_ms) {
        return;
    }
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_MAX_WAIT);
    if (c->state == BLEND_CONTACT_OFFERED) {
        c->is_overflow_due = 1; /* overflows only if its offers all fail */
    } else {
        overflow(acd, ci);
    }
}

/* ---- Agent life ----------------------------------------------------------------------------- */

static void end_wrapup(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    BLEND_ASSERT(a->presence == BLEND_PRESENCE_WRAP_UP);
    blend__acd_timer_cancel(acd, BLEND_ACD_TIMER_WRAPUP, a->cfg.id);
    if (a->has_pending_nr) {
        a->has_pending_nr = 0;
        set_presence(acd, ai, BLEND_PRESENCE_NOT_READY, a->pending_reason);
    } else {
        set_presence(acd, ai, BLEND_PRESENCE_READY, NULL);
    }
}

static void sticky_refresh(struct blend_acd *acd, uint32_t ai)
{
    /* The agent logged in or out: contacts bound to it change restriction. */
    for (uint32_t ci = acd->agents[ai].sticky; ci; ci = acd->contacts[ci].sticky_next) {
        if (acd->contacts[ci].state == BLEND_CONTACT_WAITING) {
            blend__acd_wait_leave(acd, ci);
            blend__acd_wait_enter(acd, ci);
            blend__acd_dirty_contact(acd, ci);
        }
    }
}

static void go_not_ready(struct blend_acd *acd, uint32_t ai, const char *reason)
{
    set_presence(acd, ai, BLEND_PRESENCE_NOT_READY, reason);
    withdraw_agent_offers(acd, ai, -1);
}

/* ---- Validation ----------------------------------------------------------------------------- */

static int id_ok(int64_t id)
{
    return id > 0 && id < ID_MAX;
}

/* A contact's own skills (ARRIVE, CONTACT_RESTORE): valid requirements, no skill twice. */
static int own_ok(const struct blend_acd_skill_req *r, int count)
{
    if (count > BLEND_ACD_QUEUE_SKILLS_MAX) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        if (r[i].skill < 1 || r[i].skill > BLEND_ACD_SKILLS_MAX || r[i].min_proficiency < 1 ||
            r[i].min_proficiency > 10) {
            return 0;
        }
        for (int j = 0; j < i; j++) {
            if (r[j].skill == r[i].skill) {
                return 0;
            }
        }
    }
    return 1;
}

/* Stores a contact's own skills sorted by skill id (insertion sort of at most
 * BLEND_ACD_QUEUE_SKILLS_MAX), so that groups compare sets as bytes. */
static void own_set(struct blend_acd *acd, uint32_t ci, const struct blend_acd_skill_req *r,
                    int count)
{
    BLEND_ASSERT(count >= 0 && count <= BLEND_ACD_QUEUE_SKILLS_MAX);
    struct acd_own *own = &acd->contact_own[ci];
    acd->contacts[ci].own_count = (uint8_t)count;
    if (count == 0) {
        return; /* read only while own_count > 0: a contact without own skills skips it */
    }
    for (int i = 0; i < count; i++) {
        int j = i;
        while (j > 0 && own->skills[j - 1].skill > r[i].skill) {
            own->skills[j] = own->skills[j - 1];
            j--;
        }
        own->skills[j].skill = r[i].skill;
        own->skills[j].min_proficiency = r[i].min_proficiency;
    }
    own->count = (uint8_t)count;
}

static int reqs_ok(const struct blend_acd_skill_req *r, int count)
{
    if (count > BLEND_ACD_QUEUE_SKILLS_MAX) {
        return 0;
    }
    for (int i = 0; i < count; i++) {
        if (r[i].skill < 1 || r[i].skill > BLEND_ACD_SKILLS_MAX || r[i].min_proficiency < 1 ||
            r[i].min_proficiency > 10) {
            return 0;
        }
    }
    return 1;
}

static int queue_cfg_ok(const struct blend_acd_queue_config *q)
{
    unsigned all = (1u << BLEND_CH_COUNT) - 1;
    if (!id_ok(q->id) || q->channels == 0 || (q->channels & ~all) ||
        !reqs_ok(q->skills, q->skills_count) || (unsigned)q->strategy > BLEND_STRAT_STICKY ||
        (unsigned)q->sticky_fallback > BLEND_STRAT_ROUND_ROBIN || q->sticky_ms < 0 ||
        q->priority < 0 || q->priority > 1000 || q->acceleration_per_min < 0 ||
        q->acceleration_per_min > 1000 || q->max_priority < 0 || q->wrapup_ms < 0 ||
        q->offer_timeout_ms <= 0 || q->max_no_answer < 0 || q->reoffer_delay_ms < 0 ||
        q->max_wait_ms < 0 || (unsigned)q->overflow > BLEND_OVERFLOW_CALLBACK ||
        q->relax_count > BLEND_ACD_RELAX_STEPS_MAX) {
        return 0;
    }
    if (q->overflow == BLEND_OVERFLOW_QUEUE && !id_ok(q->overflow_queue)) {
        return 0;
    }
    int64_t prev = 0;
    for (int k = 0; k < q->relax_count; k++) {
        const struct blend_acd_relax_step *s = &q->relax[k];
        if (s->after_ms <= prev || (s->has_skills && !reqs_ok(s->skills, s->skills_count)) ||
            (s->add_queue_agents != 0 && !id_ok(s->add_queue_agents)) ||
            s->add_queue_agents == q->id) {
            return 0;
        }
        prev = s->after_ms;
    }
    return 1;
}

static int agent_cfg_ok(const struct blend_acd_agent_config *a)
{
    if (!id_ok(a->id) || a->skills_count > BLEND_ACD_AGENT_SKILLS_MAX) {
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

/* ---- Configuration events -------------------------------------------------------------------- */

/* docs/routing.md §Precise readings 16: a sticky window follows its queue's configuration; it
 * closes at once when the queue is no longer sticky or the new window is already over. */
static void sticky_retime(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    if (!c->sticky_agent) {
        return;
    }
    int64_t until = c->qjoin_ms + q->sticky_ms;
    int was_waiting = c->state == BLEND_CONTACT_WAITING;
    if (q->strategy != BLEND_STRAT_STICKY || q->sticky_ms <= 0 || until <= acd->now_ms) {
        if (was_waiting) {
            blend__acd_wait_leave(acd, ci);
        }
        sticky_unbind(acd, ci);
        if (was_waiting) {
            blend__acd_wait_enter(acd, ci);
        }
    } else if (until != c->sticky_until_ms) {
        c->sticky_until_ms = until;
        ctimer_set(acd, ci, BLEND_ACD_TIMER_STICKY, until);
    }
}

static void queue_retime(struct blend_acd *acd, uint32_t qi)
{
    /* Waiting contacts keep their age; steps due under the new config apply now, timers are
     * re-armed, max wait is checked again. A config-time scan over the contacts. */
    for (size_t ci = 1; ci <= acd->lim.contacts_max; ci++) {
        struct acd_contact *c = &acd->contacts[ci];
        if (!c->is_used || c->queue != qi || c->state == BLEND_CONTACT_CONNECTED) {
            continue;
        }
        sticky_retime(acd, (uint32_t)ci);
        if (c->state == BLEND_CONTACT_WAITING) {
            blend__acd_wait_leave(acd, (uint32_t)ci);
            blend__acd_wait_enter(acd, (uint32_t)ci);
        }
        relax_due(acd, (uint32_t)ci);
        arm_relax(acd, (uint32_t)ci);
        if (!c->is_callback && acd->queues[qi].cfg.max_wait_ms > 0 &&
            acd->queues[qi].cfg.overflow != BLEND_OVERFLOW_NONE &&
            c->qjoin_ms + acd->queues[qi].cfg.max_wait_ms <= acd->now_ms) {
            max_wait_due(acd, (uint32_t)ci);
        } else if (!c->is_overflow_due) {
            arm_max_wait(acd, (uint32_t)ci);
        }
    }
}

static int ev_queue_set(struct blend_acd *acd, const struct blend_acd_queue_config *cfg)
{
    if (!queue_cfg_ok(cfg)) {
        return BLEND_EINVAL;
    }
    uint32_t qi = blend__acd_map_get(&acd->queue_map, cfg->id);
    int is_new = qi == 0;
    if (is_new) {
        if (acd->queue_free_count == 0) {
            return BLEND_ELIMIT;
        }
        qi = acd->queue_free[--acd->queue_free_count];
        memset(&acd->queues[qi], 0, sizeof acd->queues[qi]);
    }
    int rc = blend__acd_queue_slots_build(acd, qi, cfg);
    if (rc != 0) {
        if (is_new) {
            acd->queue_free[acd->queue_free_count++] = qi;
        }
        return rc;
    }
    struct acd_queue *q = &acd->queues[qi];
    q->is_used = 1;
    q->cfg = *cfg;
    q->priority = cfg->priority;
    q->acceleration_per_min = cfg->acceleration_per_min;
    q->max_priority = cfg->max_priority;
    q->is_ring_all = cfg->strategy == BLEND_STRAT_RING_ALL;
    q->id = cfg->id;
    q->offer_timeout_ms = cfg->offer_timeout_ms;
    q->wrapup_ms = cfg->wrapup_ms;
    q->reoffer_ms = cfg->reoffer_delay_ms > 0 ? cfg->reoffer_delay_ms : cfg->offer_timeout_ms;
    if (is_new) {
        blend__acd_map_put(&acd->queue_map, cfg->id, qi);
    }
    blend__acd_gsum_rebound(acd, qi); /* the bounds depend on the acceleration */
    blend__acd_adders_rebuild(acd);
    queue_retime(acd, qi);
    blend__acd_serve_all(acd);
    return 0;
}

static int ev_queue_remove(struct blend_acd *acd, int64_t id)
{
    uint32_t qi = id_ok(id) ? blend__acd_map_get(&acd->queue_map, id) : 0;
    if (!qi) {
        return BLEND_EINVAL;
    }
    if (acd->queues[qi].contacts > 0) {
        return BLEND_ESTATE;
    }
    blend__acd_queue_slots_drop(acd, qi);
    blend__acd_map_del(&acd->queue_map, id);
    memset(&acd->queues[qi], 0, sizeof acd->queues[qi]);
    acd->queue_free[acd->queue_free_count++] = qi;
    blend__acd_adders_rebuild(acd);
    return 0;
}

/* Stores an agent's configuration with the copies its hot fields keep (acd_int.h). */
static void agent_configure(struct acd_agent *a, const struct blend_acd_agent_config *cfg)
{
    a->cfg = *cfg;
    a->id = cfg->id;
    memcpy(a->capacity, cfg->capacity, sizeof a->capacity);
    a->is_voice_exclusive = cfg->voice_exclusive != 0;
}

static int ev_agent_set(struct blend_acd *acd, const struct blend_acd_agent_config *cfg)
{
    if (!agent_cfg_ok(cfg)) {
        return BLEND_EINVAL;
    }
    uint32_t ai = blend__acd_map_get(&acd->agent_map, cfg->id);
    int is_new = ai == 0;
    if (is_new) {
        if (acd->agent_free_count == 0) {
            return BLEND_ELIMIT;
        }
        ai = acd->agent_free[--acd->agent_free_count];
        memset(&acd->agents[ai], 0, sizeof acd->agents[ai]);
        /* Clearing the agent's history ring maps its pages now, at configuration, rather than
         * at one of the agent's contact ends (a page fault inside a routing decision). */
        for (size_t k = 0; k < BLEND_ACD_HISTORY_MAX; k++) {
            memset(blend__acd_hist_at(acd, ai, k), 0, sizeof *acd->hist);
        }
    } else {
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            if (cfg->capacity[c] < acd->agents[ai].active[c]) {
                return BLEND_ESTATE;
            }
        }
    }
    struct acd_agent *a = &acd->agents[ai];
    struct blend_acd_agent_config old = a->cfg;
    agent_configure(a, cfg);
    a->is_used = 1;
    int rc = blend__acd_members_rebuild_agent(acd, ai);
    if (rc != 0) {
        agent_configure(a, &old);
        if (is_new) {
            a->is_used = 0;
            acd->agent_free[acd->agent_free_count++] = ai;
        }
        return rc;
    }
    if (is_new) {
        blend__acd_map_put(&acd->agent_map, cfg->id, ai);
        return 0;
    }
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        int voice_load = a->active[BLEND_CH_VOICE] + a->offered[BLEND_CH_VOICE] > 0;
        if (a->offered[c] > 0 && (a->active[c] + a->offered[c] > a->cfg.capacity[c] ||
                                  (a->cfg.voice_exclusive && c != BLEND_CH_VOICE && voice_load))) {
            withdraw_agent_offers(acd, ai, c);
        }
    }
    if (a->presence != BLEND_PRESENCE_LOGGED_OUT) {
        blend__acd_serve_all(acd);
    }
    return 0;
}

static int ev_agent_remove(struct blend_acd *acd, int64_t id)
{
    uint32_t ai = id_ok(id) ? blend__acd_map_get(&acd->agent_map, id) : 0;
    if (!ai) {
        return BLEND_EINVAL;
    }
    if (acd->agents[ai].presence != BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    while (acd->agents[ai].sticky) {
        sticky_unbind(acd, acd->agents[ai].sticky);
    }
    blend__acd_members_drop_agent(acd, ai);
    blend__acd_heap_remove(acd, ai);
    blend__acd_map_del(&acd->agent_map, id);
    memset(&acd->agents[ai], 0, sizeof acd->agents[ai]);
    acd->agent_free[acd->agent_free_count++] = ai;
    return 0;
}

/* ---- Presence events ------------------------------------------------------------------------ */

static int ev_agent_presence(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    int64_t id = ev->type == BLEND_ACD_EV_AGENT_NOT_READY ? ev->u.not_ready.agent : ev->u.id;
    uint32_t ai = id_ok(id) ? blend__acd_map_get(&acd->agent_map, id) : 0;
    if (!ai) {
        return BLEND_EINVAL;
    }
    struct acd_agent *a = &acd->agents[ai];
    int is_out = a->presence == BLEND_PRESENCE_LOGGED_OUT;
    switch (ev->type) {
    case BLEND_ACD_EV_AGENT_LOGIN:
        if (!is_out) {
            return BLEND_ESTATE;
        }
        a->handled = 0;
        a->no_answer = 0;
        set_presence(acd, ai, BLEND_PRESENCE_NOT_READY, "login");
        sticky_refresh(acd, ai);
        return 0;
    case BLEND_ACD_EV_AGENT_READY:
        if (is_out || a->presence == BLEND_PRESENCE_WRAP_UP) {
            return BLEND_ESTATE;
        }
        if (a->presence == BLEND_PRESENCE_NOT_READY) {
            set_presence(acd, ai, BLEND_PRESENCE_READY, NULL);
        }
        return 0;
    case BLEND_ACD_EV_AGENT_NOT_READY: {
        const char *r = ev->u.not_ready.reason;
        if (!memchr(r, 0, BLEND_ACD_REASON_BYTES)) {
            return BLEND_EINVAL;
        }
        if (is_out) {
            return BLEND_ESTATE;
        }
        if (a->presence == BLEND_PRESENCE_WRAP_UP) {
            a->has_pending_nr = 1;
            memcpy(a->pending_reason, r, BLEND_ACD_REASON_BYTES);
        } else if (a->presence == BLEND_PRESENCE_READY || strcmp(a->reason, r) != 0) {
            go_not_ready(acd, ai, r);
        }
        return 0;
    }
    case BLEND_ACD_EV_AGENT_LOGOUT:
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            if (a->active[c] > 0) {
                return BLEND_ESTATE;
            }
        }
        if (is_out) {
            return BLEND_ESTATE;
        }
        if (a->presence == BLEND_PRESENCE_WRAP_UP) {
            blend__acd_timer_cancel(acd, BLEND_ACD_TIMER_WRAPUP, a->cfg.id);
        }
        a->has_pending_nr = 0;
        set_presence(acd, ai, BLEND_PRESENCE_LOGGED_OUT, NULL);
        withdraw_agent_offers(acd, ai, -1);
        sticky_refresh(acd, ai);
        return 0;
    default:
        if (a->presence != BLEND_PRESENCE_WRAP_UP) {
            return BLEND_ESTATE;
        }
        end_wrapup(acd, ai);
        return 0;
    }
}

/* ---- Contact events ------------------------------------------------------------------------- */

static int ev_arrive(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    int64_t id = ev->u.arrive.contact;
    uint32_t qi = id_ok(ev->u.arrive.queue) ? blend__acd_map_get(&acd->queue_map, ev->u.arrive.queue)
                                            : 0;
    unsigned ch = (unsigned)ev->u.arrive.channel;
    if (!id_ok(id) || !qi || ch >= BLEND_CH_COUNT || !(acd->queues[qi].cfg.channels & (1u << ch)) ||
        ev->u.arrive.priority < 0 || ev->u.arrive.priority > 1000 || ev->u.arrive.customer < 0 ||
        !own_ok(ev->u.arrive.skills, ev->u.arrive.skills_count)) {
        return BLEND_EINVAL;
    }
    if (blend__acd_map_get(&acd->contact_map, id)) {
        return BLEND_ESTATE;
    }
    if (acd->contact_free_count == 0) {
        return BLEND_ELIMIT;
    }
    uint32_t ci = acd->contact_free[--acd->contact_free_count];
    struct acd_contact *c = &acd->contacts[ci];
    contact_clear(c);
    c->is_used = 1;
    c->id = id;
    c->ch = (uint8_t)ch;
    c->own_priority = ev->u.arrive.priority;
    c->customer = ev->u.arrive.customer;
    own_set(acd, ci, ev->u.arrive.skills, ev->u.arrive.skills_count);
    c->enqueued_ms = acd->now_ms;
    c->state = BLEND_CONTACT_WAITING;
    blend__acd_map_put(&acd->contact_map, id, ci);
    acd->arrived++;
    queue_join(acd, ci, qi, 0);
    return 0;
}

static void sticky_remember(struct blend_acd *acd, int64_t customer, int64_t agent_id)
{
    if (customer == 0 || acd->lim.customers_max == 0) {
        return;
    }
    uint32_t k = blend__acd_map_get(&acd->cust_map, customer);
    if (k) {
        /* Unlink from the LRU list; re-linked at the head below. */
        struct acd_cust *e = &acd->custs[k];
        if (e->lru_prev) {
            acd->custs[e->lru_prev].lru_next = e->lru_next;
        } else {
            acd->cust_lru_head = e->lru_next;
        }
        if (e->lru_next) {
            acd->custs[e->lru_next].lru_prev = e->lru_prev;
        } else {
            acd->cust_lru_tail = e->lru_prev;
        }
    } else {
        if (acd->cust_free_count == 0) {
            uint32_t old = acd->cust_lru_tail;
            acd->cust_lru_tail = acd->custs[old].lru_prev;
            acd->custs[acd->cust_lru_tail].lru_next = 0;
            blend__acd_map_del(&acd->cust_map, acd->custs[old].customer);
            acd->cust_free[acd->cust_free_count++] = old;
        }
        k = acd->cust_free[--acd->cust_free_count];
        acd->custs[k].customer = customer;
        blend__acd_map_put(&acd->cust_map, customer, k);
    }
    struct acd_cust *e = &acd->custs[k];
    e->agent_id = agent_id;
    e->lru_prev = 0;
    e->lru_next = acd->cust_lru_head;
    if (acd->cust_lru_head) {
        acd->custs[acd->cust_lru_head].lru_prev = k;
    }
    acd->cust_lru_head = k;
    if (!acd->cust_lru_tail) {
        acd->cust_lru_tail = k;
    }
}

static int find_pair(struct blend_acd *acd, const struct blend_acd_event *ev, uint32_t *ci,
                     uint32_t *ai, uint32_t *o)
{
    *ci = id_ok(ev->u.contact.contact) ? blend__acd_map_get(&acd->contact_map, ev->u.contact.contact)
                                       : 0;
    *ai = id_ok(ev->u.contact.agent) ? blend__acd_map_get(&acd->agent_map, ev->u.contact.agent) : 0;
    if (!*ci || !*ai) {
        return BLEND_EINVAL;
    }
    *o = offer_find(acd, *ci, *ai);
    return *o ? 0 : BLEND_ESTATE;
}

static int ev_accept(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci, ai, o;
    int rc = find_pair(acd, ev, &ci, &ai, &o);
    if (rc != 0) {
        return rc;
    }
    struct acd_contact *c = &acd->contacts[ci];
    struct acd_agent *a = &acd->agents[ai];
    for (uint32_t x = c->offers; x;) {
        uint32_t next = acd->offers[x].next_c;
        if (x != o) {
            uint32_t other = acd->offers[x].agent;
            blend__acd_fx_contact(acd, BLEND_ACD_FX_WITHDRAWN, ci, other)->withdraw =
                BLEND_WITHDRAW_TAKEN;
            offer_remove(acd, x);
            blend__acd_dirty_agent(acd, other);
        }
        x = next;
    }
    /* offered -> active on the same channel: the agent's availability on that channel does not
     * change, but a voice-exclusive agent no longer holding an offer on another channel may
     * become available for voice (docs/routing.md §Agents), so the agent is served again. */
    offer_remove(acd, o);
    if (a->cfg.voice_exclusive && c->ch != BLEND_CH_VOICE) {
        blend__acd_dirty_agent(acd, ai);
    }
    a->active[c->ch]++;
    c->state = BLEND_CONTACT_CONNECTED;
    c->agent = ai;
    c->connect_ms = acd->now_ms;
    c->declined_count = 0;
    c->is_overflow_due = 0;
    c->is_direct = 0;
    c->is_rung = 0; /* its ring-all offers are gone */
    sticky_unbind(acd, ci);
    for (int k = BLEND_ACD_TIMER_OFFER; k <= BLEND_ACD_TIMER_STICKY; k++) {
        ctimer_cancel(acd, ci, k);
    }
    a->no_answer = 0;
    blend__acd_agent_reindex(acd, ai);
    struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_CONNECTED, ci, ai);
    e->is_callback = c->is_callback;
    e->wait_ms = acd->now_ms - c->enqueued_ms;
    sticky_remember(acd, c->customer, a->cfg.id);
    return 0;
}

static int ev_reject(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci, ai, o;
    int rc = find_pair(acd, ev, &ci, &ai, &o);
    if (rc != 0) {
        return rc;
    }
    blend__acd_fx_contact(acd, BLEND_ACD_FX_OFFER_REJECTED, ci, ai);
    offer_remove(acd, o);
    decline(acd, ci, ai);
    blend__acd_dirty_agent(acd, ai);
    if (acd->contacts[ci].offers_count == 0) {
        offers_failed(acd, ci);
    }
    return 0;
}

static uint32_t contact_get(const struct blend_acd *acd, int64_t id)
{
    return id_ok(id) ? blend__acd_map_get(&acd->contact_map, id) : 0;
}

static void aht_push(struct acd_queue *q, int64_t handle_ms)
{
    q->aht_ms[q->aht_head] = handle_ms;
    q->aht_head = (q->aht_head + 1) % ACD_AHT_SAMPLES;
    if (q->aht_count < ACD_AHT_SAMPLES) {
        q->aht_count++;
    }
}

/* The agent's part of connected contact ci ends (CONTACT_END, or a transfer `t`): the slot is
 * freed, the handle time recorded, ENDED emitted, wrap-up entered or extended. The contact
 * itself is the caller's. */
static void agent_part_end(struct blend_acd *acd, uint32_t ci, const struct blend_acd_transfer *t)
{
    struct acd_contact *c = &acd->contacts[ci];
    BLEND_ASSERT(c->state == BLEND_CONTACT_CONNECTED && c->agent != 0);
    uint32_t ai = c->agent;
    struct acd_agent *a = &acd->agents[ai];
    struct acd_queue *q = &acd->queues[c->queue];
    /* The agent is likely served next (best_contact reads its eligibility list): start loading
     * the list's first lines while the end is recorded. */
    const struct acd_elig *elig = &acd->elig[(size_t)ai * ACD_ELIG_MAX];
    size_t elig_count = a->elig_count <= ACD_ELIG_MAX ? a->elig_count : 0;
    for (size_t i = 0; i < elig_count; i += 64 / sizeof *elig) {
        __builtin_prefetch(&elig[i]);
    }
    int64_t handle = acd->now_ms - c->connect_ms + q->wrapup_ms;
    BLEND_ASSERT(a->active[c->ch] > 0);
    a->active[c->ch]--;
    a->handled++;
    blend__acd_hist_push(acd, ai, acd->now_ms, handle);
    aht_push(q, handle);
    struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_ENDED, ci, ai);
    if (t) {
        e->is_transfer = 1;
        e->to_queue = t->to_queue;
        e->to_agent = t->to_agent;
    }
    if (a->presence == BLEND_PRESENCE_READY && q->wrapup_ms > 0) {
        a->wrap_due_ms = acd->now_ms + q->wrapup_ms;
        blend__acd_timer_set(acd, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrap_due_ms);
        set_presence(acd, ai, BLEND_PRESENCE_WRAP_UP, NULL);
        /* Reading: wrap-up takes no offers on any channel, so offers the agent still holds on
         * other channels are withdrawn (unavailable), like going not-ready. */
        withdraw_agent_offers(acd, ai, -1);
    } else if (a->presence == BLEND_PRESENCE_WRAP_UP && q->wrapup_ms > 0 &&
               acd->now_ms + q->wrapup_ms > a->wrap_due_ms) {
        a->wrap_due_ms = acd->now_ms + q->wrapup_ms;
        blend__acd_timer_set(acd, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrap_due_ms);
    } else if (a->presence == BLEND_PRESENCE_READY) {
        a->free_since[c->ch] = acd->now_ms;
        blend__acd_dirty_agent(acd, ai);
    }
    blend__acd_agent_reindex(acd, ai);
}

static int ev_end(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci = contact_get(acd, ev->u.contact.contact);
    if (!ci) {
        return BLEND_EINVAL;
    }
    if (acd->contacts[ci].state != BLEND_CONTACT_CONNECTED) {
        return BLEND_ESTATE;
    }
    agent_part_end(acd, ci, NULL);
    acd->ended++;
    contact_free(acd, ci);
    return 0;
}

static void connect_to_engaged(struct blend_acd *acd, uint32_t ci, uint32_t ti);

/* docs/routing.md §Transfers: the agent's part ends as at CONTACT_END, then the contact starts a
 * new stay (new first join, step 0, own priority kept, no sticky binding, no longer a callback)
 * in the target queue, or in its current queue reserved for the target agent. */
static int ev_transfer(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    const struct blend_acd_transfer *t = &ev->u.transfer;
    uint32_t ci = contact_get(acd, t->contact);
    uint32_t ai = id_ok(t->agent) ? blend__acd_map_get(&acd->agent_map, t->agent) : 0;
    uint32_t qi = id_ok(t->to_queue) ? blend__acd_map_get(&acd->queue_map, t->to_queue) : 0;
    uint32_t ti = id_ok(t->to_agent) ? blend__acd_map_get(&acd->agent_map, t->to_agent) : 0;
    if (!ci || !ai || (t->to_queue != 0) == (t->to_agent != 0) || (t->to_queue != 0 && !qi) ||
        (t->to_agent != 0 && (!ti || ti == ai)) || (t->connect && !ti) ||
        (qi && !(acd->queues[qi].cfg.channels & (1u << acd->contacts[ci].ch)))) {
        return BLEND_EINVAL;
    }
    struct acd_contact *c = &acd->contacts[ci];
    if (c->state != BLEND_CONTACT_CONNECTED || c->agent != ai ||
        (ti && acd->agents[ti].presence == BLEND_PRESENCE_LOGGED_OUT) ||
        (t->connect && acd->agents[ti].engaged[c->ch] == 0)) {
        return BLEND_ESTATE;
    }
    agent_part_end(acd, ci, t); /* not counted in `ended`: the contact goes on (invariant 5) */
    if (t->connect) {
        acd->queues[c->queue].contacts--;
        c->is_callback = 0;
        c->enqueued_ms = acd->now_ms;
        connect_to_engaged(acd, ci, ti);
        return 0;
    }
    BLEND_ASSERT(c->armed == 0 && c->offers == 0 && c->group == 0 && !c->sticky_agent);
    acd->queues[c->queue].contacts--;
    c->state = BLEND_CONTACT_WAITING;
    c->agent = 0;
    c->connect_ms = 0;
    c->is_callback = 0;
    c->enqueued_ms = acd->now_ms;
    c->queue = qi ? qi : c->queue;
    /* The transferring agent passed the contact on: held off it for the target queue's
     * reoffer_delay, as after a decline (before the join, which counts the group's holds). */
    decline(acd, ci, ai);
    queue_join(acd, ci, c->queue, 1);
    if (ti && blend__acd_agent_available(&acd->agents[ti], c->ch)) {
        /* The direct offer: made now, whatever the target's skills; the other agents are not
         * offered the contact while it is outstanding (is_direct). */
        blend__acd_index_flush(acd);
        c->is_direct = 1;
        blend__acd_offer_make(acd, ci, ti);
    }
    return 0;
}

/* docs/routing.md §Transfers (moving a waiting contact): a contact that is not connected is
 * reassigned. Its offers are withdrawn (moved; those agents are served again, as after any
 * withdrawal), then it starts a new stay as a transferred contact does (new first join, step 0,
 * own priority and skills kept, no sticky binding), except that it keeps its callback flag and
 * there is no transferring agent to hold off: the decline holds of the previous stay go. */
static int ev_move(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    const struct blend_acd_move *m = &ev->u.move;
    uint32_t ci = contact_get(acd, m->contact);
    uint32_t qi = id_ok(m->to_queue) ? blend__acd_map_get(&acd->queue_map, m->to_queue) : 0;
    uint32_t ti = id_ok(m->to_agent) ? blend__acd_map_get(&acd->agent_map, m->to_agent) : 0;
    if (!ci || (m->to_queue != 0) == (m->to_agent != 0) || (m->to_queue != 0 && !qi) ||
        (m->to_agent != 0 && !ti) ||
        (qi && !(acd->queues[qi].cfg.channels & (1u << acd->contacts[ci].ch)))) {
        return BLEND_EINVAL;
    }
    struct acd_contact *c = &acd->contacts[ci];
    if (c->state == BLEND_CONTACT_CONNECTED ||
        (ti && acd->agents[ti].presence == BLEND_PRESENCE_LOGGED_OUT)) {
        return BLEND_ESTATE;
    }
    while (c->offers) {
        uint32_t ai = acd->offers[c->offers].agent;
        blend__acd_fx_contact(acd, BLEND_ACD_FX_WITHDRAWN, ci, ai)->withdraw =
            BLEND_WITHDRAW_MOVED;
        offer_remove(acd, c->offers);
        blend__acd_dirty_agent(acd, ai);
    }
    /* Out of the old stay: its group (with its decline count), sticky binding and clocks. */
    blend__acd_wait_leave(acd, ci);
    sticky_unbind(acd, ci);
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_OFFER);
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_REOFFER);
    c->declined_count = 0;
    c->is_rung = 0;
    c->is_direct = 0;
    c->is_overflow_due = 0;
    c->state = BLEND_CONTACT_WAITING;
    c->enqueued_ms = acd->now_ms;
    acd->queues[c->queue].contacts--;
    queue_join(acd, ci, qi ? qi : c->queue, 1)->is_move = 1;
    if (ti && blend__acd_agent_available(&acd->agents[ti], c->ch)) {
        /* The direct offer, as for a transfer to an agent (whatever their skills). */
        blend__acd_index_flush(acd);
        c->is_direct = 1;
        blend__acd_offer_make(acd, ci, ti);
    }
    return 0;
}

/* docs/routing.md §Engaged agents: a unit of capacity held by a call the engine did not route,
 * counted in `active` like a connected contact (so availability, voice exclusivity, logout and
 * capacity changes treat it as one) and in `engaged` to tell them apart. */
static int ev_engage(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    const struct blend_acd_engage *g = &ev->u.engage;
    uint32_t ai = id_ok(g->agent) ? blend__acd_map_get(&acd->agent_map, g->agent) : 0;
    if (!ai || (unsigned)g->channel >= BLEND_CH_COUNT) {
        return BLEND_EINVAL;
    }
    struct acd_agent *a = &acd->agents[ai];
    int ch = (int)g->channel;
    if (ev->type == BLEND_ACD_EV_AGENT_RELEASE) {
        if (a->engaged[ch] == 0) {
            return BLEND_ESTATE;
        }
        BLEND_ASSERT(a->active[ch] >= a->engaged[ch]);
        a->engaged[ch]--;
        a->active[ch]--;
        if (a->presence == BLEND_PRESENCE_READY) {
            a->free_since[ch] = acd->now_ms;
        }
        blend__acd_dirty_agent(acd, ai);
        blend__acd_agent_reindex(acd, ai);
        return 0;
    }
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT || a->active[ch] >= a->cfg.capacity[ch]) {
        return BLEND_ESTATE;
    }
    a->engaged[ch]++;
    a->active[ch]++;
    /* Offers that no longer fit go, as when a reconfiguration lowers the capacity. */
    int voice_load = a->active[BLEND_CH_VOICE] + a->offered[BLEND_CH_VOICE] > 0;
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        if (a->offered[c] > 0 && (a->active[c] + a->offered[c] > a->cfg.capacity[c] ||
                                  (a->cfg.voice_exclusive && c != BLEND_CH_VOICE && voice_load))) {
            withdraw_agent_offers(acd, ai, c);
            /* A voice-exclusive agent whose last offer on another channel went is available
             * for voice again: served, as after any withdrawal (the reference frees every agent
             * whose offer is dropped). */
            blend__acd_dirty_agent(acd, ai);
        }
    }
    blend__acd_agent_reindex(acd, ai);
    return 0;
}

/* CONTACT_TRANSFER with connect: after the transferring agent's part ended, the target's
 * engagement on the channel becomes the contact, connected at once in a new stay of its
 * current queue. */
static void connect_to_engaged(struct blend_acd *acd, uint32_t ci, uint32_t ti)
{
    struct acd_contact *c = &acd->contacts[ci];
    struct acd_agent *a = &acd->agents[ti];
    BLEND_ASSERT(a->engaged[c->ch] > 0);
    a->engaged[c->ch]--; /* the unit stays held, now by the contact (active unchanged) */
    c->qjoin_ms = acd->now_ms;
    c->step = 0;
    c->position_min = 0;
    c->ewt_min_ms = 0;
    acd->queues[c->queue].contacts++;
    blend__acd_fx_contact(acd, BLEND_ACD_FX_QUEUED, ci, 0);
    c->state = BLEND_CONTACT_CONNECTED;
    c->agent = ti;
    c->connect_ms = acd->now_ms;
    c->declined_count = 0;
    c->is_overflow_due = 0;
    c->is_direct = 0;
    c->is_rung = 0;
    a->no_answer = 0;
    blend__acd_agent_reindex(acd, ti);
    struct blend_acd_effect *e = blend__acd_fx_contact(acd, BLEND_ACD_FX_CONNECTED, ci, ti);
    e->is_callback = 0;
    e->wait_ms = 0;
    sticky_remember(acd, c->customer, a->cfg.id);
}

static int ev_abandon(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci = contact_get(acd, ev->u.contact.contact);
    if (!ci) {
        return BLEND_EINVAL;
    }
    struct acd_contact *c = &acd->contacts[ci];
    if (c->state == BLEND_CONTACT_CONNECTED) {
        return BLEND_ESTATE;
    }
    while (c->offers) {
        uint32_t ai = acd->offers[c->offers].agent;
        blend__acd_fx_contact(acd, BLEND_ACD_FX_WITHDRAWN, ci, ai)->withdraw =
            BLEND_WITHDRAW_ABANDONED;
        offer_remove(acd, c->offers);
        blend__acd_dirty_agent(acd, ai);
    }
    blend__acd_fx_contact(acd, BLEND_ACD_FX_ABANDONED, ci, 0)->wait_ms =
        acd->now_ms - c->enqueued_ms;
    acd->abandoned++;
    contact_free(acd, ci);
    return 0;
}

static int ev_callback(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci = contact_get(acd, ev->u.contact.contact);
    if (!ci) {
        return BLEND_EINVAL;
    }
    struct acd_contact *c = &acd->contacts[ci];
    if (c->state != BLEND_CONTACT_WAITING || c->is_callback) {
        return BLEND_ESTATE;
    }
    c->is_callback = 1;
    blend__acd_fx_contact(acd, BLEND_ACD_FX_CALLBACK, ci, 0);
    ctimer_cancel(acd, ci, BLEND_ACD_TIMER_MAX_WAIT);
    return 0;
}

static int ev_priority(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    uint32_t ci = contact_get(acd, ev->u.contact.contact);
    if (!ci || ev->u.contact.priority < 0 || ev->u.contact.priority > 1000) {
        return BLEND_EINVAL;
    }
    struct acd_contact *c = &acd->contacts[ci];
    if (c->state == BLEND_CONTACT_CONNECTED) {
        return BLEND_ESTATE;
    }
    int is_waiting = c->state == BLEND_CONTACT_WAITING;
    if (is_waiting) {
        blend__acd_wait_leave(acd, ci);
    }
    c->own_priority = ev->u.contact.priority;
    c->position_min = 0; /* its own priority changed: position may rise */
    c->ewt_min_ms = 0;
    if (is_waiting) {
        blend__acd_wait_enter(acd, ci);
    }
    return 0;
}

/* ---- Restoring state (docs/routing.md §Restoring state) ---------------------------------- */

static int ev_agent_restore(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    int64_t id = ev->u.agent_restore.agent;
    enum blend_acd_presence p = ev->u.agent_restore.presence;
    const char *r = ev->u.agent_restore.reason;
    uint32_t ai = id_ok(id) ? blend__acd_map_get(&acd->agent_map, id) : 0;
    if (!ai ||
        (p != BLEND_PRESENCE_READY && p != BLEND_PRESENCE_NOT_READY &&
         p != BLEND_PRESENCE_WRAP_UP) ||
        !memchr(r, 0, BLEND_ACD_REASON_BYTES) || ev->u.agent_restore.since_ms > acd->now_ms) {
        return BLEND_EINVAL;
    }
    struct acd_agent *a = &acd->agents[ai];
    if (a->presence != BLEND_PRESENCE_LOGGED_OUT) {
        return BLEND_ESTATE;
    }
    /* As a login: counts restart (handled, no_answer; the least-occupied history is kept). */
    a->handled = 0;
    a->no_answer = 0;
    a->has_pending_nr = 0;
    int64_t since_ms = ev->u.agent_restore.since_ms;
    if (p == BLEND_PRESENCE_WRAP_UP && ev->u.agent_restore.wrapup_until_ms <= acd->now_ms) {
        /* The wrap-up is over: ready now, exactly as its timer firing now would make it. */
        p = BLEND_PRESENCE_READY;
        since_ms = acd->now_ms;
    }
    set_presence(acd, ai, p, p == BLEND_PRESENCE_NOT_READY ? r : NULL);
    a->since_ms = since_ms;
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        a->free_since[c] = since_ms; /* re-keyed by the deferred reindex */
    }
    if (p == BLEND_PRESENCE_WRAP_UP) {
        a->wrap_due_ms = ev->u.agent_restore.wrapup_until_ms;
        blend__acd_timer_set(acd, BLEND_ACD_TIMER_WRAPUP, a->cfg.id, a->wrap_due_ms);
    }
    sticky_refresh(acd, ai);
    return 0;
}

/* The step a contact of queue q that joined at qjoin_ms is at now: every step whose after_ms
 * its age has reached. */
static int step_for_age(const struct blend_acd_queue_config *q, int64_t qjoin_ms, int64_t now_ms)
{
    int k = 0;
    while (k < q->relax_count && qjoin_ms + q->relax[k].after_ms <= now_ms) {
        k++;
    }
    return k;
}

/* A waiting restored contact joins its queue with its true age: one RELAXED naming the step in
 * force when > 0, the next timers for the remaining time, overflow at once when max wait has
 * passed. Not bound to a sticky agent (the sticky memory is not restored). */
static void restore_waiting(struct blend_acd *acd, uint32_t ci, uint32_t qi)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[qi].cfg;
    c->queue = qi;
    c->qjoin_ms = c->enqueued_ms;
    c->step = step_for_age(q, c->qjoin_ms, acd->now_ms);
    acd->queues[qi].contacts++;
    blend__acd_fx_contact(acd, BLEND_ACD_FX_QUEUED, ci, 0);
    if (c->step > 0) {
        blend__acd_fx_contact(acd, BLEND_ACD_FX_RELAXED, ci, 0)->step = c->step;
    }
    arm_relax(acd, ci);
    blend__acd_wait_enter(acd, ci);
    blend__acd_dirty_contact(acd, ci);
    if (!c->is_callback && q->max_wait_ms > 0 && q->overflow != BLEND_OVERFLOW_NONE &&
        c->qjoin_ms + q->max_wait_ms <= acd->now_ms) {
        overflow(acd, ci);
    } else {
        arm_max_wait(acd, ci);
    }
}

/* Validates a connected restore: the agent is logged in and could hold one more contact on the
 * channel (active + offered < capacity), and a voice-exclusive agent connected to voice would
 * hold no offer on another channel (docs/routing.md §Invariants 2). */
static int restore_agent_ok(const struct blend_acd *acd, uint32_t ai, unsigned ch)
{
    const struct acd_agent *a = &acd->agents[ai];
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

static int ev_contact_restore(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    const struct blend_acd_contact_restore *r = &ev->u.contact_restore;
    uint32_t qi = id_ok(r->queue) ? blend__acd_map_get(&acd->queue_map, r->queue) : 0;
    uint32_t ai = id_ok(r->agent) ? blend__acd_map_get(&acd->agent_map, r->agent) : 0;
    unsigned ch = (unsigned)r->channel;
    if (!id_ok(r->contact) || !qi || ch >= BLEND_CH_COUNT ||
        !(acd->queues[qi].cfg.channels & (1u << ch)) || r->priority < 0 || r->priority > 1000 ||
        r->customer < 0 || r->enqueued_ms > acd->now_ms ||
        (r->is_callback != 0 && r->is_callback != 1) || (r->agent != 0 && !ai) ||
        !own_ok(r->skills, r->skills_count)) {
        return BLEND_EINVAL;
    }
    if (blend__acd_map_get(&acd->contact_map, r->contact) ||
        (ai && !restore_agent_ok(acd, ai, ch))) {
        return BLEND_ESTATE;
    }
    if (acd->contact_free_count == 0) {
        return BLEND_ELIMIT;
    }
    uint32_t ci = acd->contact_free[--acd->contact_free_count];
    struct acd_contact *c = &acd->contacts[ci];
    contact_clear(c);
    c->is_used = 1;
    c->id = r->contact;
    c->ch = (uint8_t)ch;
    c->own_priority = r->priority;
    c->customer = r->customer;
    own_set(acd, ci, r->skills, r->skills_count);
    c->enqueued_ms = r->enqueued_ms;
    c->is_callback = r->is_callback;
    blend__acd_map_put(&acd->contact_map, r->contact, ci);
    acd->arrived++;
    if (!ai) {
        restore_waiting(acd, ci, qi);
        return 0;
    }
    /* Connected: it occupies the agent's capacity as an accepted offer would, from now (talk
     * time counts from the restore); nothing observable happens. */
    struct acd_agent *a = &acd->agents[ai];
    c->queue = qi;
    c->qjoin_ms = c->enqueued_ms;
    c->state = BLEND_CONTACT_CONNECTED;
    c->agent = ai;
    c->connect_ms = acd->now_ms;
    acd->queues[qi].contacts++;
    a->active[ch]++;
    blend__acd_agent_reindex(acd, ai);
    return 0;
}

/* ---- Timers --------------------------------------------------------------------------------- */

static void offer_timeout(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct blend_acd_queue_config *q = &acd->queues[c->queue].cfg;
    c->armed &= (uint8_t)~(1u << BLEND_ACD_TIMER_OFFER);
    size_t n = 0;
    while (c->offers) {
        uint32_t ai = acd->offers[c->offers].agent;
        blend__acd_fx_contact(acd, BLEND_ACD_FX_OFFER_TIMEOUT, ci, ai);
        offer_remove(acd, c->offers);
        decline(acd, ci, ai);
        acd->agents[ai].no_answer++;
        acd->pick[n++] = ai;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t ai = acd->pick[i];
        struct acd_agent *a = &acd->agents[ai];
        if (q->max_no_answer > 0 && a->no_answer >= q->max_no_answer &&
            a->presence == BLEND_PRESENCE_READY) {
            a->no_answer = 0;
            go_not_ready(acd, ai, "missed");
        } else {
            blend__acd_dirty_agent(acd, ai);
        }
    }
    offers_failed(acd, ci);
}

static void timer_contact(struct blend_acd *acd, int kind, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    switch (kind) {
    case BLEND_ACD_TIMER_OFFER:
        if (c->state == BLEND_CONTACT_OFFERED && c->offer_due_ms <= acd->now_ms) {
            offer_timeout(acd, ci);
        }
        break;
    case BLEND_ACD_TIMER_RELAX:
        relax_due(acd, ci);
        break;
    case BLEND_ACD_TIMER_MAX_WAIT:
        max_wait_due(acd, ci);
        break;
    case BLEND_ACD_TIMER_REOFFER: {
        int64_t due = 0;
        int n = 0;
        for (int i = 0; i < c->declined_count; i++) {
            if (c->declined[i].until_ms > acd->now_ms) {
                c->declined[n++] = c->declined[i];
                due = (!due || c->declined[i].until_ms < due) ? c->declined[i].until_ms : due;
            }
        }
        int expired = n < c->declined_count;
        if (c->group && (n > 0) != (c->declined_count > 0)) {
            /* The group counts its contacts with declines (acd_route.c group_head). */
            acd->groups[c->group].declined += n > 0 ? 1u : (uint32_t)-1;
            blend__acd_gsum_sync(acd, c->group);
        }
        c->declined_count = (uint8_t)n;
        c->armed &= (uint8_t)~(1u << BLEND_ACD_TIMER_REOFFER);
        if (due) {
            ctimer_set(acd, ci, BLEND_ACD_TIMER_REOFFER, due);
        }
        if (expired && c->state == BLEND_CONTACT_WAITING) {
            blend__acd_dirty_contact(acd, ci);
        }
        break;
    }
    case BLEND_ACD_TIMER_STICKY:
        if (c->sticky_agent && c->sticky_until_ms <= acd->now_ms) {
            sticky_unbind(acd, ci);
            if (c->state == BLEND_CONTACT_WAITING && !c->group) {
                blend__acd_wait_enter(acd, ci);
            }
            if (c->state == BLEND_CONTACT_WAITING) {
                blend__acd_dirty_contact(acd, ci);
            }
        }
        break;
    default:
        break;
    }
}

static int ev_timer(struct blend_acd *acd, uint64_t timer)
{
    int kind = BLEND_ACD_TIMER_KIND(timer);
    int64_t entity = BLEND_ACD_TIMER_ENTITY(timer);
    if (kind < BLEND_ACD_TIMER_OFFER || kind > BLEND_ACD_TIMER_STICKY || !id_ok(entity)) {
        return BLEND_EINVAL;
    }
    if (kind == BLEND_ACD_TIMER_WRAPUP) {
        uint32_t ai = blend__acd_map_get(&acd->agent_map, entity);
        if (ai && acd->agents[ai].presence == BLEND_PRESENCE_WRAP_UP &&
            acd->agents[ai].wrap_due_ms <= acd->now_ms) {
            end_wrapup(acd, ai);
        }
        return 0;
    }
    uint32_t ci = blend__acd_map_get(&acd->contact_map, entity);
    if (ci) {
        timer_contact(acd, kind, ci); /* a stale timer does nothing */
    }
    return 0;
}

/* ---- Step ----------------------------------------------------------------------------------- */

static int dispatch(struct blend_acd *acd, const struct blend_acd_event *ev)
{
    switch (ev->type) {
    case BLEND_ACD_EV_QUEUE_SET:
        return ev_queue_set(acd, &ev->u.queue);
    case BLEND_ACD_EV_QUEUE_REMOVE:
        return ev_queue_remove(acd, ev->u.id);
    case BLEND_ACD_EV_AGENT_SET:
        return ev_agent_set(acd, &ev->u.agent);
    case BLEND_ACD_EV_AGENT_REMOVE:
        return ev_agent_remove(acd, ev->u.id);
    case BLEND_ACD_EV_AGENT_LOGIN:
    case BLEND_ACD_EV_AGENT_READY:
    case BLEND_ACD_EV_AGENT_NOT_READY:
    case BLEND_ACD_EV_AGENT_LOGOUT:
    case BLEND_ACD_EV_WRAPUP_END:
        return ev_agent_presence(acd, ev);
    case BLEND_ACD_EV_CONTACT_ARRIVE:
        return ev_arrive(acd, ev);
    case BLEND_ACD_EV_OFFER_ACCEPT:
        return ev_accept(acd, ev);
    case BLEND_ACD_EV_OFFER_REJECT:
        return ev_reject(acd, ev);
    case BLEND_ACD_EV_CONTACT_END:
        return ev_end(acd, ev);
    case BLEND_ACD_EV_CONTACT_ABANDON:
        return ev_abandon(acd, ev);
    case BLEND_ACD_EV_CALLBACK_REQUEST:
        return ev_callback(acd, ev);
    case BLEND_ACD_EV_CONTACT_PRIORITY:
        return ev_priority(acd, ev);
    case BLEND_ACD_EV_TIMER:
        return ev_timer(acd, ev->u.timer);
    case BLEND_ACD_EV_AGENT_RESTORE:
        return ev_agent_restore(acd, ev);
    case BLEND_ACD_EV_CONTACT_RESTORE:
        return ev_contact_restore(acd, ev);
    case BLEND_ACD_EV_CONTACT_TRANSFER:
        return ev_transfer(acd, ev);
    case BLEND_ACD_EV_AGENT_ENGAGE:
    case BLEND_ACD_EV_AGENT_RELEASE:
        return ev_engage(acd, ev);
    case BLEND_ACD_EV_CONTACT_MOVE:
        return ev_move(acd, ev);
    }
    return BLEND_EINVAL;
}

int blend_acd_step(struct blend_acd *acd, const struct blend_acd_event *ev,
                   struct blend_acd_effects *fx)
{
    BLEND_ASSERT(acd && ev && fx && fx->items);
    fx->count = 0;
    if (ev->now_ms < acd->now_ms) {
        return BLEND_EINVAL;
    }
    acd->now_ms = ev->now_ms;
    acd->fx = fx;
    /* Least-occupied keys that left the one-hour window since the last step (no effects). */
    blend__acd_occupied_expire(acd, acd->now_ms);
    int rc = dispatch(acd, ev);
    if (rc != 0) {
        BLEND_ASSERT(fx->count == 0);
        blend__acd_index_flush(acd); /* keys changed by the expiry above */
        acd->dirty_contacts_count = 0;
        acd->dirty_agents_count = 0;
        acd->dirty_gen++;
        acd->fx = NULL;
        return rc;
    }
    blend__acd_settle(acd);
    acd->fx = NULL;
    return 0;
}
