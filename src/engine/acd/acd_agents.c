/*
 * Agents side of the fast ACD engine: availability (docs/routing.md §Agents), the strategy keys,
 * the requirement slots of queues and the memberships (agent, slot, channel) whose treaps hold
 * the available agents in strategy order. Reconfiguration (QUEUE_SET, AGENT_SET) rebuilds
 * memberships by scanning agents or slots: it is rare and allowed to cost O(agents x slots);
 * decisions never scan. Invariant kept here: a membership is in its slot's treap iff its agent
 * is available on the channel, keyed by the agent's current state (blend__acd_agent_reindex is
 * called after every change of presence, load, free_since, handled or occupied time).
 */
#include "engine/acd/acd_int.h"

#include "base/assert.h"

#include <string.h>

int blend__acd_proficiency(const struct acd_agent *a, uint16_t skill)
{
    for (int i = 0; i < a->cfg.skills_count; i++) {
        if (a->cfg.skills[i].skill == skill) {
            return a->cfg.skills[i].proficiency;
        }
    }
    return 0;
}

int blend__acd_agent_meets(const struct acd_agent *a, const struct blend_acd_skill_req *req,
                           int count)
{
    for (int i = 0; i < count; i++) {
        if (blend__acd_proficiency(a, req[i].skill) < req[i].min_proficiency) {
            return 0;
        }
    }
    return 1;
}

int blend__acd_agent_available(const struct acd_agent *a, int ch)
{
    if (a->presence != BLEND_PRESENCE_READY || a->capacity[ch] == 0) {
        return 0;
    }
    if (a->active[ch] + a->offered[ch] >= a->capacity[ch]) {
        return 0;
    }
    if (a->is_voice_exclusive) {
        /* docs/routing.md §Agents: a voice contact offered or connected blocks every other
         * channel, and an outstanding offer on another channel blocks voice (connected contacts
         * on other channels do not), so a voice offer and another channel's offer are never
         * outstanding together. */
        if (ch != BLEND_CH_VOICE && a->active[BLEND_CH_VOICE] + a->offered[BLEND_CH_VOICE] > 0) {
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

unsigned blend__acd_agent_avail_mask(const struct acd_agent *a)
{
    if (a->presence != BLEND_PRESENCE_READY) {
        return 0;
    }
    _Static_assert(BLEND_CH_COUNT == 5, "one term per channel below");
    const uint8_t *act = a->active, *off = a->offered, *cap = a->capacity;
    unsigned mask =
        (unsigned)(act[0] + off[0] < cap[0]) | (unsigned)(act[1] + off[1] < cap[1]) << 1 |
        (unsigned)(act[2] + off[2] < cap[2]) << 2 | (unsigned)(act[3] + off[3] < cap[3]) << 3 |
        (unsigned)(act[4] + off[4] < cap[4]) << 4;
    if (a->is_voice_exclusive) {
        /* As blend__acd_agent_available: voice load blocks the other channels, an offer on
         * another channel blocks voice. */
        if (act[BLEND_CH_VOICE] + off[BLEND_CH_VOICE] > 0) {
            mask &= 1u << BLEND_CH_VOICE;
        }
        if ((off[1] | off[2] | off[3] | off[4]) != 0) {
            mask &= ~(1u << BLEND_CH_VOICE);
        }
    }
    return mask;
}

void blend__acd_agent_key(const struct blend_acd *acd, uint32_t ai, const struct acd_slot *s,
                          int ch, struct acd_tnode *out)
{
    const struct acd_agent *a = &acd->agents[ai];
    out->k1 = 0;
    out->k2 = a->free_since[ch];
    out->k3 = a->id;
    switch (s->kind) {
    case ACD_KEY_IDLE:
        break;
    case ACD_KEY_SKILLED: {
        int64_t sum = 0;
        for (int i = 0; i < s->skills_count; i++) {
            sum += blend__acd_proficiency(a, s->skills[i].skill);
        }
        out->k1 = -sum;
        break;
    }
    case ACD_KEY_OCCUPIED:
        out->k1 = a->occupied_ms;
        break;
    case ACD_KEY_FEWEST:
        out->k1 = a->handled;
        break;
    case ACD_KEY_ROBIN:
        out->k2 = 0;
        break;
    }
}

void blend__acd_agent_reindex_now(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    acd->reindex_pending[ai] = 0; /* up to date: a flush skips its list entry */
    unsigned avail = blend__acd_agent_avail_mask(a);
    if (!avail && a->members_in_tree == 0) {
        return; /* unavailable everywhere and in no treap: nothing to do */
    }
    for (uint32_t m = a->members; m; m = acd->members[m].next) {
        struct acd_member *mb = &acd->members[m];
        struct acd_slot *s = &acd->slots[mb->slot];
        if (!(avail & (1u << mb->ch))) {
            if (mb->in_tree) {
                blend__acd_treap_remove(acd->mnodes, &s->root[mb->ch], m);
                mb->in_tree = 0;
                a->members_in_tree--;
            }
            continue;
        }
        struct acd_tnode k;
        blend__acd_agent_key(acd, ai, s, mb->ch, &k);
        if (mb->in_tree) {
            if (blend__acd_tkey_cmp(&k, &acd->mnodes[m]) == 0) {
                continue; /* already in place with its current key */
            }
            blend__acd_treap_remove(acd->mnodes, &s->root[mb->ch], m);
        } else {
            a->members_in_tree++;
        }
        acd->mnodes[m].k1 = k.k1;
        acd->mnodes[m].k2 = k.k2;
        acd->mnodes[m].k3 = k.k3;
        blend__acd_treap_insert(acd->mnodes, &s->root[mb->ch], m);
        mb->in_tree = 1;
    }
}

void blend__acd_agent_reindex(struct blend_acd *acd, uint32_t ai)
{
    /* Deferred: an event often changes an agent's load or key several times (an accept removes
     * the offer, then adds the connected contact); the treaps are read only by decisions, which
     * flush first. A treap's shape depends only on its keys and node indexes, so the order in
     * which pending agents are applied does not matter. */
    if (!acd->reindex_pending[ai]) {
        /* Deferred marks come from event handlers, re-keying at once from decisions (after
         * the flush that empties the list), so an agent is listed at most once. */
        BLEND_ASSERT(acd->reindex_count < acd->lim.agents_max);
        acd->reindex_pending[ai] = 1;
        acd->reindex_list[acd->reindex_count++] = ai;
    }
}

void blend__acd_index_flush(struct blend_acd *acd)
{
    for (size_t i = 0; i < acd->reindex_count; i++) {
        uint32_t ai = acd->reindex_list[i];
        if (acd->reindex_pending[ai]) {
            blend__acd_agent_reindex_now(acd, ai);
        }
    }
    acd->reindex_count = 0;
}

/* ---- Memberships ------------------------------------------------------------------------------ */

static int channels_count(const struct acd_agent *a)
{
    int n = 0;
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        n += a->cfg.capacity[c] > 0;
    }
    return n;
}

static void member_free(struct blend_acd *acd, uint32_t m)
{
    struct acd_member *mb = &acd->members[m];
    if (mb->in_tree) {
        blend__acd_treap_remove(acd->mnodes, &acd->slots[mb->slot].root[mb->ch], m);
        BLEND_ASSERT(acd->agents[mb->agent].members_in_tree > 0);
        acd->agents[mb->agent].members_in_tree--;
    }
    memset(mb, 0, sizeof *mb);
    mb->next = acd->member_free;
    acd->member_free = m;
    acd->members_used--;
}

static void member_add(struct blend_acd *acd, uint32_t ai, uint32_t si, int ch)
{
    uint32_t m = acd->member_free;
    BLEND_ASSERT(m != 0);
    acd->member_free = acd->members[m].next;
    acd->members_used++;
    struct acd_member *mb = &acd->members[m];
    mb->agent = ai;
    mb->slot = si;
    mb->ch = (uint8_t)ch;
    mb->in_tree = 0;
    mb->is_base = (uint8_t)acd->slots[si].is_base;
    mb->steps_mask = acd->slots[si].steps_mask;
    mb->queue = acd->slots[si].queue;
    mb->next = acd->agents[ai].members;
    acd->agents[ai].members = m;
}

void blend__acd_members_drop_agent(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    uint32_t m = a->members;
    while (m) {
        uint32_t next = acd->members[m].next;
        member_free(acd, m);
        m = next;
    }
    a->members = 0;
    a->elig_count = 0;
}

void blend__acd_elig_build(struct blend_acd *acd, uint32_t ai)
{
    /* The distinct (queue, channel)s of the memberships, steps' bits merged, marked in the
     * qmask scratch (all zero between decisions) and cleared again. */
    struct acd_agent *a = &acd->agents[ai];
    struct acd_elig *list = &acd->elig[(size_t)ai * ACD_ELIG_MAX];
    size_t n = 0;
    for (uint32_t m = a->members; m; m = acd->members[m].next) {
        const struct acd_member *mb = &acd->members[m];
        uint32_t k = blend__acd_qch(mb->queue, mb->ch);
        if (!acd->qmask[k]) {
            if (n < ACD_ELIG_MAX) {
                list[n] = (struct acd_elig){.qch = k, .ch = mb->ch};
            }
            n++;
        }
        acd->qmask[k] |= mb->steps_mask;
    }
    for (size_t i = 0; i < n && i < ACD_ELIG_MAX; i++) {
        list[i].bits = acd->qmask[list[i].qch];
    }
    for (uint32_t m = a->members; m; m = acd->members[m].next) {
        acd->qmask[blend__acd_qch(acd->members[m].queue, acd->members[m].ch)] = 0;
    }
    a->elig_count = (uint16_t)(n <= ACD_ELIG_MAX ? n : ACD_ELIG_MAX + 1);
}

static size_t agent_members_count(const struct blend_acd *acd, uint32_t ai)
{
    size_t n = 0;
    for (uint32_t m = acd->agents[ai].members; m; m = acd->members[m].next) {
        n++;
    }
    return n;
}

int blend__acd_members_rebuild_agent(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    int chans = channels_count(a);
    size_t need = 0;
    for (size_t s = 1; s <= acd->slots_max; s++) {
        const struct acd_slot *sl = &acd->slots[s];
        if (sl->is_used && blend__acd_agent_meets(a, sl->skills, sl->skills_count)) {
            need += (size_t)chans;
        }
    }
    if (acd->members_used - agent_members_count(acd, ai) + need > acd->members_max) {
        return BLEND_ELIMIT;
    }
    blend__acd_members_drop_agent(acd, ai);
    for (size_t s = 1; s <= acd->slots_max; s++) {
        const struct acd_slot *sl = &acd->slots[s];
        if (!sl->is_used || !blend__acd_agent_meets(a, sl->skills, sl->skills_count)) {
            continue;
        }
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            if (a->cfg.capacity[c] > 0) {
                member_add(acd, ai, (uint32_t)s, c);
            }
        }
    }
    blend__acd_elig_build(acd, ai);
    blend__acd_agent_reindex(acd, ai);
    return 0;
}

/* ---- Queue slots ------------------------------------------------------------------------------ */

static enum acd_key_kind key_kind(const struct blend_acd_queue_config *q)
{
    enum blend_acd_strategy s = q->strategy == BLEND_STRAT_STICKY ? q->sticky_fallback : q->strategy;
    switch (s) {
    case BLEND_STRAT_MOST_SKILLED:
        return ACD_KEY_SKILLED;
    case BLEND_STRAT_LEAST_OCCUPIED:
        return ACD_KEY_OCCUPIED;
    case BLEND_STRAT_FEWEST_CONTACTS:
        return ACD_KEY_FEWEST;
    case BLEND_STRAT_ROUND_ROBIN:
        return ACD_KEY_ROBIN;
    default:
        return ACD_KEY_IDLE;
    }
}

/* Number of distinct requirements of a queue: step 0 plus every step that sets skills. */
static int slots_needed(const struct blend_acd_queue_config *cfg)
{
    int n = 1;
    for (int k = 0; k < cfg->relax_count; k++) {
        n += cfg->relax[k].has_skills != 0;
    }
    return n;
}

static size_t slot_members_needed(const struct blend_acd *acd, const struct blend_acd_skill_req *req,
                                  int count)
{
    size_t n = 0;
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        const struct acd_agent *a = &acd->agents[i];
        if (a->is_used && blend__acd_agent_meets(a, req, count)) {
            n += (size_t)channels_count(a);
        }
    }
    return n;
}

static size_t queue_members_count(const struct blend_acd *acd, uint32_t qi)
{
    size_t n = 0;
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        for (uint32_t m = acd->agents[i].members; m; m = acd->members[m].next) {
            n += acd->slots[acd->members[m].slot].queue == qi;
        }
    }
    return n;
}

void blend__acd_queue_slots_drop(struct blend_acd *acd, uint32_t qi)
{
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        struct acd_agent *a = &acd->agents[i];
        uint32_t *link = &a->members;
        int is_changed = 0;
        while (*link) {
            uint32_t m = *link;
            if (acd->slots[acd->members[m].slot].queue == qi) {
                *link = acd->members[m].next;
                acd->members[m].next = 0;
                /* member_free pushes m on the free list through .next. */
                member_free(acd, m);
                is_changed = 1;
            } else {
                link = &acd->members[m].next;
            }
        }
        if (is_changed) {
            blend__acd_elig_build(acd, (uint32_t)i);
        }
    }
    struct acd_queue *q = &acd->queues[qi];
    for (int k = 0; k < ACD_STEPS; k++) {
        uint32_t s = q->slot[k];
        if (s && acd->slots[s].is_used) {
            memset(&acd->slots[s], 0, sizeof acd->slots[s]);
        }
        q->slot[k] = 0;
    }
}

static uint32_t slot_alloc(struct blend_acd *acd)
{
    for (size_t n = 0; n < acd->slots_max; n++) {
        uint32_t s = (uint32_t)(1 + (acd->slot_free_hint + n) % acd->slots_max);
        if (!acd->slots[s].is_used) {
            acd->slot_free_hint = s % acd->slots_max;
            return s;
        }
    }
    BLEND_ASSERT(!"slot pool sized for every queue's steps");
    return 0;
}

int blend__acd_queue_slots_build(struct blend_acd *acd, uint32_t qi,
                                 const struct blend_acd_queue_config *cfg)
{
    /* Count first so that a refusal leaves everything unchanged. */
    size_t need = slot_members_needed(acd, cfg->skills, cfg->skills_count);
    for (int k = 0; k < cfg->relax_count; k++) {
        if (cfg->relax[k].has_skills) {
            need += slot_members_needed(acd, cfg->relax[k].skills, cfg->relax[k].skills_count);
        }
    }
    if (acd->members_used - queue_members_count(acd, qi) + need > acd->members_max) {
        return BLEND_ELIMIT;
    }
    BLEND_ASSERT(slots_needed(cfg) <= ACD_STEPS);
    blend__acd_queue_slots_drop(acd, qi);
    struct acd_queue *q = &acd->queues[qi];
    for (int k = 0; k <= cfg->relax_count; k++) {
        const struct blend_acd_skill_req *req = cfg->skills;
        int count = cfg->skills_count;
        if (k > 0 && !cfg->relax[k - 1].has_skills) {
            q->slot[k] = q->slot[k - 1];
            continue;
        }
        if (k > 0) {
            req = cfg->relax[k - 1].skills;
            count = cfg->relax[k - 1].skills_count;
        }
        uint32_t s = slot_alloc(acd);
        struct acd_slot *sl = &acd->slots[s];
        memset(sl, 0, sizeof *sl);
        sl->is_used = 1;
        sl->queue = qi;
        sl->is_base = k == 0;
        sl->kind = key_kind(cfg);
        sl->skills_count = (uint8_t)count;
        memcpy(sl->skills, req, (size_t)count * sizeof *req);
        q->slot[k] = s;
    }
    /* Steps past relax_count (a contact that kept its step through a reconfiguration) use the
     * last step's requirement. */
    for (int k = cfg->relax_count + 1; k < ACD_STEPS; k++) {
        q->slot[k] = q->slot[cfg->relax_count];
    }
    for (int k = 0; k < ACD_STEPS; k++) {
        acd->slots[q->slot[k]].steps_mask |= (uint16_t)(1u << k);
    }
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        struct acd_agent *a = &acd->agents[i];
        if (!a->is_used) {
            continue;
        }
        for (int k = 0; k <= cfg->relax_count; k++) {
            if (k > 0 && q->slot[k] == q->slot[k - 1]) {
                continue;
            }
            const struct acd_slot *sl = &acd->slots[q->slot[k]];
            if (!blend__acd_agent_meets(a, sl->skills, sl->skills_count)) {
                continue;
            }
            for (int c = 0; c < BLEND_CH_COUNT; c++) {
                if (a->cfg.capacity[c] > 0) {
                    member_add(acd, (uint32_t)i, q->slot[k], c);
                }
            }
        }
        blend__acd_elig_build(acd, (uint32_t)i);
        blend__acd_agent_reindex(acd, (uint32_t)i);
    }
    return 0;
}

void blend__acd_adders_rebuild(struct blend_acd *acd)
{
    size_t adders_max = acd->lim.queues_max * BLEND_ACD_RELAX_STEPS_MAX;
    acd->adder_free = 0;
    acd->adders_count = 0;
    for (size_t i = adders_max; i >= 1; i--) {
        acd->adders[i].next = acd->adder_free;
        acd->adder_free = (uint32_t)i;
    }
    for (size_t qi = 1; qi <= acd->lim.queues_max; qi++) {
        acd->queues[qi].adders = 0;
    }
    /* Walk queues in index order; each list is prepended, which only affects walk order (the
     * result of a decision never depends on it: candidates are compared by key). */
    for (size_t qi = 1; qi <= acd->lim.queues_max; qi++) {
        const struct acd_queue *q = &acd->queues[qi];
        if (!q->is_used) {
            continue;
        }
        for (int k = 0; k < q->cfg.relax_count; k++) {
            int64_t id2 = q->cfg.relax[k].add_queue_agents;
            uint32_t q2 = id2 ? blend__acd_map_get(&acd->queue_map, id2) : 0;
            if (!q2) {
                continue;
            }
            BLEND_ASSERT(q2 != qi); /* QUEUE_SET refuses a step adding its own queue */
            uint32_t ad = acd->adder_free;
            BLEND_ASSERT(ad != 0);
            acd->adder_free = acd->adders[ad].next;
            acd->adders[ad].queue = (uint32_t)qi;
            acd->adders[ad].from_step = (uint8_t)(k + 1);
            acd->adders[ad].next = acd->queues[q2].adders;
            acd->queues[q2].adders = ad;
            acd->adders_count++;
        }
    }
}

/* ---- Least-occupied history ----------------------------------------------------------------- */

struct acd_hist *blend__acd_hist_at(const struct blend_acd *acd, uint32_t ai, size_t k)
{
    BLEND_ASSERT(k < BLEND_ACD_HISTORY_MAX && ai <= acd->lim.agents_max);
    return &acd->hist[k * (acd->lim.agents_max + 1) + ai];
}

/* Drops the oldest history entry of agent ai and refreshes the cached expiry. */
static void hist_pop(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    BLEND_ASSERT(a->hist_count > 0);
    a->occupied_ms -= blend__acd_hist_at(acd, ai, a->hist_head)->handle_ms;
    a->hist_head = (uint16_t)((a->hist_head + 1) % BLEND_ACD_HISTORY_MAX);
    a->hist_count--;
    a->hist_expiry_ms =
        a->hist_count ? blend__acd_hist_at(acd, ai, a->hist_head)->end_ms + ACD_OCCUPIED_WINDOW_MS
                      : 0;
}

void blend__acd_hist_push(struct blend_acd *acd, uint32_t ai, int64_t end_ms, int64_t handle_ms)
{
    struct acd_agent *a = &acd->agents[ai];
    /* The heap is keyed by the oldest entry: only a push into an empty ring or one that drops
     * the oldest entry changes the key. */
    int is_key_changed = a->hist_count == 0 || a->hist_count == BLEND_ACD_HISTORY_MAX;
    if (a->hist_count == BLEND_ACD_HISTORY_MAX) {
        hist_pop(acd, ai); /* the ring is full: the oldest entry leaves early (documented limit) */
    }
    struct acd_hist *h =
        blend__acd_hist_at(acd, ai, (a->hist_head + a->hist_count) % BLEND_ACD_HISTORY_MAX);
    h->end_ms = end_ms;
    h->handle_ms = handle_ms;
    a->hist_count++;
    a->occupied_ms += handle_ms;
    if (is_key_changed) {
        a->hist_expiry_ms = blend__acd_hist_at(acd, ai, a->hist_head)->end_ms +
                            ACD_OCCUPIED_WINDOW_MS; /* the oldest entry changed */
        blend__acd_heap_update(acd, ai);
    }
}

void blend__acd_occupied_expire(struct blend_acd *acd, int64_t now_ms)
{
    for (;;) {
        uint32_t ai = blend__acd_heap_top(acd);
        if (!ai || blend__acd_agent_expiry(&acd->agents[ai]) > now_ms) {
            return;
        }
        struct acd_agent *a = &acd->agents[ai];
        while (a->hist_count > 0 && blend__acd_agent_expiry(a) <= now_ms) {
            hist_pop(acd, ai);
        }
        BLEND_ASSERT(a->occupied_ms >= 0);
        blend__acd_heap_update(acd, ai);
        blend__acd_agent_reindex(acd, ai);
    }
}
