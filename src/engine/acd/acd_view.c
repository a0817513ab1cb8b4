/*
 * Views and the invariant check of the fast ACD engine. Views are read by adapters and the API,
 * not on the decision path: position and EWT are computed by a scan of the queue's contacts and
 * of the agents (docs/routing.md §Position and EWT), and the announced values are the minimum of
 * every value computed for the contact since its own priority last changed.
 * blend_acd_check() verifies docs/routing.md §Invariants without trusting the indexes (O(agents
 * x contacts)), then verifies the indexes themselves against the plain state.
 */
#include "engine/acd/acd_int.h"

#include "base/assert.h"

#include <string.h>

int blend_acd_agent(const struct blend_acd *acd, int64_t id, struct blend_acd_agent_view *out)
{
    BLEND_ASSERT(acd && out);
    uint32_t ai = id > 0 ? blend__acd_map_get(&acd->agent_map, id) : 0;
    if (!ai) {
        return BLEND_ENOENT;
    }
    const struct acd_agent *a = &acd->agents[ai];
    memset(out, 0, sizeof *out);
    out->id = a->cfg.id;
    out->presence = a->presence;
    memcpy(out->reason, a->reason, sizeof out->reason);
    out->since_ms = a->since_ms;
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        out->active[ch] = (uint8_t)(a->active[ch] - a->engaged[ch]);
    }
    memcpy(out->engaged, a->engaged, sizeof out->engaged);
    memcpy(out->offered, a->offered, sizeof out->offered);
    out->handled = a->handled;
    return 0;
}

static int64_t queue_aht(const struct acd_queue *q)
{
    if (q->aht_count == 0) {
        return q->cfg.wrapup_ms + ACD_AHT_DEFAULT_MS;
    }
    int64_t sum = 0;
    for (int i = 0; i < q->aht_count; i++) {
        sum += q->aht_ms[i];
    }
    return sum / q->aht_count;
}

/* Agents of the queue's base requirement who are logged in (the EWT's divisor). */
static int64_t queue_staffed(const struct blend_acd *acd, const struct acd_queue *q)
{
    int64_t staffed = 0;
    const struct acd_slot *base = &acd->slots[q->slot[0]];
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        const struct acd_agent *a = &acd->agents[i];
        staffed += a->is_used && a->presence != BLEND_PRESENCE_LOGGED_OUT &&
                   blend__acd_agent_meets(a, base->skills, base->skills_count);
    }
    return staffed;
}

/* The view of contact ci, its announced position and EWT lowered to `position` and the EWT it
 * gives when they are lower (announced values never rise). */
static void fill_view(struct blend_acd *acd, uint32_t ci, int32_t position, int64_t staffed,
                      struct blend_acd_contact_view *out)
{
    struct acd_contact *c = &acd->contacts[ci];
    const struct acd_queue *q = &acd->queues[c->queue];
    int64_t ewt = position * queue_aht(q) / (staffed > 1 ? staffed : 1);
    if (c->position_min == 0 || position < c->position_min) {
        c->position_min = position;
    }
    if (c->ewt_min_ms == 0 || ewt < c->ewt_min_ms) {
        c->ewt_min_ms = ewt;
    }
    memset(out, 0, sizeof *out);
    out->id = c->id;
    out->queue = q->cfg.id;
    out->channel = (enum blend_channel)c->ch;
    out->state = c->state;
    if (c->state == BLEND_CONTACT_CONNECTED) {
        out->agent = acd->agents[c->agent].cfg.id;
    } else if (c->offers_count == 1) {
        out->agent = acd->agents[acd->offers[c->offers].agent].cfg.id;
    }
    out->enqueued_ms = c->enqueued_ms;
    out->priority = blend__acd_priority(acd, c);
    out->step = c->step;
    out->is_callback = c->is_callback;
    out->position = c->position_min;
    out->ewt_ms = c->ewt_min_ms;
}

int blend_acd_contact(struct blend_acd *acd, int64_t id, struct blend_acd_contact_view *out)
{
    BLEND_ASSERT(acd && out);
    uint32_t ci = id > 0 ? blend__acd_map_get(&acd->contact_map, id) : 0;
    if (!ci) {
        return BLEND_ENOENT;
    }
    const struct acd_contact *c = &acd->contacts[ci];
    int32_t position = 1;
    for (size_t i = 1; i <= acd->lim.contacts_max; i++) {
        const struct acd_contact *o = &acd->contacts[i];
        if (i != ci && o->is_used && o->queue == c->queue && o->state == BLEND_CONTACT_WAITING &&
            blend__acd_rank_cmp(acd, (uint32_t)i, ci) < 0) {
            position++;
        }
    }
    fill_view(acd, ci, position, queue_staffed(acd, &acd->queues[c->queue]), out);
    return 0;
}

/* Waiting contacts in (queue, rank) order; elements hold contact slots in `id` while sorted. */
static int by_queue_rank(const struct blend_acd *acd, const struct blend_acd_contact_view *x,
                         const struct blend_acd_contact_view *y)
{
    uint32_t a = (uint32_t)x->id, b = (uint32_t)y->id;
    uint32_t qa = acd->contacts[a].queue, qb = acd->contacts[b].queue;
    if (qa != qb) {
        return qa < qb ? -1 : 1;
    }
    return blend__acd_rank_cmp(acd, a, b);
}

static void sift_down(const struct blend_acd *acd, struct blend_acd_contact_view *v, size_t root,
                      size_t n)
{
    for (size_t child; (child = 2 * root + 1) < n; root = child) {
        if (child + 1 < n && by_queue_rank(acd, &v[child], &v[child + 1]) < 0) {
            child++;
        }
        if (by_queue_rank(acd, &v[root], &v[child]) >= 0) {
            return;
        }
        struct blend_acd_contact_view t = v[root];
        v[root] = v[child];
        v[child] = t;
    }
}

/* Heapsort: in place, no allocation (the engine allocates nothing after creation). */
static void sort_waiting(const struct blend_acd *acd, struct blend_acd_contact_view *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;) {
        sift_down(acd, v, i, n);
    }
    for (size_t end = n; end-- > 1;) {
        struct blend_acd_contact_view t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(acd, v, 0, end);
    }
}

int blend_acd_waiting(struct blend_acd *acd, struct blend_acd_contact_view *out, size_t cap,
                      size_t *count)
{
    BLEND_ASSERT(acd && count && (out || cap == 0));
    size_t n = 0;
    for (size_t i = 1; i <= acd->lim.contacts_max; i++) {
        const struct acd_contact *o = &acd->contacts[i];
        if (o->is_used && o->state == BLEND_CONTACT_WAITING) {
            if (n == cap) {
                return BLEND_ELIMIT;
            }
            out[n++].id = (int64_t)i;
        }
    }
    sort_waiting(acd, out, n);
    uint32_t queue = 0;
    int32_t position = 0;
    int64_t staffed = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t ci = (uint32_t)out[k].id;
        if (k == 0 || acd->contacts[ci].queue != queue) {
            queue = acd->contacts[ci].queue;
            position = 0;
            staffed = queue_staffed(acd, &acd->queues[queue]);
        }
        fill_view(acd, ci, ++position, staffed, &out[k]);
    }
    *count = n;
    return 0;
}

int blend_acd_queue_staff(const struct blend_acd *acd, int64_t queue_id,
                          struct blend_acd_queue_staff *out)
{
    BLEND_ASSERT(acd && out);
    uint32_t qi = queue_id > 0 ? blend__acd_map_get(&acd->queue_map, queue_id) : 0;
    if (!qi) {
        return BLEND_ENOENT;
    }
    const struct acd_queue *q = &acd->queues[qi];
    const struct acd_slot *base = &acd->slots[q->slot[0]];
    struct blend_acd_queue_staff st = {0};
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        const struct acd_agent *a = &acd->agents[i];
        if (!a->is_used || a->presence == BLEND_PRESENCE_LOGGED_OUT ||
            !blend__acd_agent_meets(a, base->skills, base->skills_count)) {
            continue;
        }
        int takes = 0, working = 0;
        for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
            takes |= (q->cfg.channels & (1u << ch)) && a->cfg.capacity[ch] > 0;
            working |= a->active[ch] > 0 || a->offered[ch] > 0;
        }
        if (!takes) {
            continue;
        }
        st.logged_in++;
        if (working) {
            st.busy++;
        } else if (a->presence == BLEND_PRESENCE_READY) {
            st.ready++;
        } else if (a->presence == BLEND_PRESENCE_WRAP_UP) {
            st.wrap_up++;
        } else {
            st.not_ready++;
        }
    }
    int64_t staffed = 0;
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        const struct acd_agent *a = &acd->agents[i];
        staffed += a->is_used && a->presence != BLEND_PRESENCE_LOGGED_OUT &&
                   blend__acd_agent_meets(a, base->skills, base->skills_count);
    }
    for (size_t i = 1; i <= acd->lim.contacts_max; i++) {
        const struct acd_contact *c = &acd->contacts[i];
        st.waiting += c->is_used && c->queue == qi && c->state == BLEND_CONTACT_WAITING;
    }
    st.ewt_ms = (int64_t)(st.waiting + 1) * queue_aht(q) / (staffed > 1 ? staffed : 1);
    *out = st;
    return 0;
}

/* ---- Check ---------------------------------------------------------------------------------- */

/* The eligibility list holds exactly the distinct (queue, channel)s of the memberships, each
 * with the union of their steps' bits (or is marked not kept when they are too many). */
static void check_elig(const struct blend_acd *acd, uint32_t ai)
{
    const struct acd_agent *a = &acd->agents[ai];
    const struct acd_elig *list = &acd->elig[(size_t)ai * ACD_ELIG_MAX];
    size_t distinct = 0;
    for (uint32_t m = a->members; m; m = acd->members[m].next) {
        const struct acd_member *mb = &acd->members[m];
        uint32_t k = blend__acd_qch(mb->queue, mb->ch);
        int is_first = 1;
        for (uint32_t x = a->members; x != m; x = acd->members[x].next) {
            const struct acd_member *mx = &acd->members[x];
            is_first = is_first && blend__acd_qch(mx->queue, mx->ch) != k;
        }
        if (!is_first) {
            continue; /* counted at its first membership */
        }
        distinct++;
        uint16_t bits = mb->steps_mask;
        for (uint32_t x = acd->members[m].next; x; x = acd->members[x].next) {
            const struct acd_member *mx = &acd->members[x];
            if (blend__acd_qch(mx->queue, mx->ch) == k) {
                bits |= mx->steps_mask;
            }
        }
        if (a->elig_count <= ACD_ELIG_MAX) {
            size_t found = 0;
            for (size_t i = 0; i < a->elig_count; i++) {
                if (list[i].qch == k) {
                    BLEND_ASSERT(list[i].ch == mb->ch && list[i].bits == bits);
                    found++;
                }
            }
            BLEND_ASSERT(found == 1);
        }
    }
    BLEND_ASSERT(a->elig_count == (distinct <= ACD_ELIG_MAX ? distinct : ACD_ELIG_MAX + 1));
}

static void check_agent(const struct blend_acd *acd, uint32_t ai)
{
    const struct acd_agent *a = &acd->agents[ai];
    BLEND_ASSERT(blend__acd_map_get(&acd->agent_map, a->cfg.id) == ai);
    /* The hot copies of the configuration (acd_int.h struct acd_agent). */
    BLEND_ASSERT(a->id == a->cfg.id && a->is_voice_exclusive == (a->cfg.voice_exclusive != 0) &&
                 memcmp(a->capacity, a->cfg.capacity, sizeof a->capacity) == 0);
    uint8_t offered[BLEND_CH_COUNT] = {0};
    int voice_load = a->active[BLEND_CH_VOICE] + a->offered[BLEND_CH_VOICE] > 0;
    for (uint32_t o = a->offers; o; o = acd->offers[o].next_a) {
        const struct acd_offer *of = &acd->offers[o];
        const struct acd_contact *c = &acd->contacts[of->contact];
        BLEND_ASSERT(of->agent == ai && c->is_used && c->state == BLEND_CONTACT_OFFERED);
        offered[c->ch]++;
        /* Invariant 2 (voice exclusivity): while a voice contact is offered or connected no
         * offer on another channel is outstanding; as a voice offer is made only when no other
         * channel's offer is outstanding and no other channel is offered while voice blocks,
         * this covers offers made in either order. */
        if (a->cfg.voice_exclusive && voice_load) {
            BLEND_ASSERT(c->ch == BLEND_CH_VOICE);
        }
    }
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        BLEND_ASSERT(offered[c] == a->offered[c]);
        /* Invariant 2: active + offered <= capacity (active counts engagements too). */
        BLEND_ASSERT(a->active[c] + a->offered[c] <= a->cfg.capacity[c]);
        BLEND_ASSERT(a->engaged[c] <= a->active[c]);
    }
    if (a->offers) {
        BLEND_ASSERT(a->presence == BLEND_PRESENCE_READY); /* no offer to an agent not ready */
    }
    if (a->presence == BLEND_PRESENCE_LOGGED_OUT) {
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            BLEND_ASSERT(a->active[c] == 0);
        }
    }
    /* Index: memberships are exactly the slots the agent meets, on channels it takes, and are
     * in their treap iff the agent is available there, with its current key. */
    uint32_t in_tree = 0;
    for (uint32_t m = a->members; m; m = acd->members[m].next) {
        const struct acd_member *mb = &acd->members[m];
        const struct acd_slot *s = &acd->slots[mb->slot];
        BLEND_ASSERT(mb->agent == ai && s->is_used && a->cfg.capacity[mb->ch] > 0);
        BLEND_ASSERT(mb->queue == s->queue && mb->is_base == s->is_base &&
                     mb->steps_mask == s->steps_mask);
        BLEND_ASSERT(blend__acd_agent_meets(a, s->skills, s->skills_count));
        BLEND_ASSERT(mb->in_tree == blend__acd_agent_available(a, mb->ch));
        in_tree += mb->in_tree;
        if (mb->in_tree) {
            struct acd_tnode k;
            blend__acd_agent_key(acd, ai, s, mb->ch, &k);
            BLEND_ASSERT(blend__acd_tkey_cmp(&k, &acd->mnodes[m]) == 0);
        }
    }
    BLEND_ASSERT(in_tree == a->members_in_tree);
    check_elig(acd, ai);
    for (int c = 0; c < BLEND_CH_COUNT; c++) {
        BLEND_ASSERT(((blend__acd_agent_avail_mask(a) >> c) & 1u) ==
                     (unsigned)blend__acd_agent_available(a, c));
    }
    int64_t occ = 0;
    for (int i = 0; i < a->hist_count; i++) {
        const struct acd_hist *h =
            blend__acd_hist_at(acd, ai, (a->hist_head + i) % BLEND_ACD_HISTORY_MAX);
        BLEND_ASSERT(acd->now_ms - h->end_ms < ACD_OCCUPIED_WINDOW_MS);
        if (i == 0) {
            BLEND_ASSERT(a->hist_expiry_ms == h->end_ms + ACD_OCCUPIED_WINDOW_MS);
        }
        occ += h->handle_ms;
    }
    BLEND_ASSERT(occ == a->occupied_ms);
}

static int contact_has_armed(const struct acd_contact *c, int kind)
{
    return (c->armed & (1u << kind)) != 0;
}

static void check_contact(const struct blend_acd *acd, uint32_t ci)
{
    const struct acd_contact *c = &acd->contacts[ci];
    const struct acd_queue *q = &acd->queues[c->queue];
    BLEND_ASSERT(blend__acd_map_get(&acd->contact_map, c->id) == ci && q->is_used);
    /* Invariant 6: first join precedes the queue join; steps stay in range. */
    BLEND_ASSERT(c->enqueued_ms <= c->qjoin_ms && c->qjoin_ms <= acd->now_ms);
    BLEND_ASSERT(c->step >= 0 && c->step <= BLEND_ACD_RELAX_STEPS_MAX);
    uint32_t n = 0;
    for (uint32_t o = c->offers; o; o = acd->offers[o].next_c) {
        BLEND_ASSERT(acd->offers[o].contact == ci);
        n++;
    }
    BLEND_ASSERT(n == c->offers_count);
    switch (c->state) {
    case BLEND_CONTACT_WAITING:
        BLEND_ASSERT(n == 0 && !c->is_direct);
        BLEND_ASSERT((c->group != 0) == !blend__acd_is_restricted(acd, c));
        if (c->group) {
            const struct acd_group *g = &acd->groups[c->group];
            BLEND_ASSERT(g->queue == c->queue && g->ch == c->ch && g->step == c->step &&
                         g->level == c->own_priority);
            /* Own skills are part of the group's key (sorted, so compared as bytes). */
            BLEND_ASSERT(g->has_own == (c->own_count > 0) &&
                         c->own_count <= BLEND_ACD_QUEUE_SKILLS_MAX);
            if (g->has_own) {
                const struct acd_own *go = &acd->group_own[c->group];
                const struct acd_own *co = blend__acd_own_of(acd, c);
                BLEND_ASSERT(go->count == c->own_count && co->count == c->own_count &&
                             memcmp(go->skills, co->skills, c->own_count * sizeof go->skills[0]) ==
                                 0);
            }
        }
        /* Invariant 3: no eligible available agent (checked without the indexes). A decline
         * hold ending now whose timer has not fired yet (same-instant timers fire one after
         * another) is the one transient exception: that timer makes the decision. */
        for (int i = 0; i < c->declined_count; i++) {
            if (c->declined[i].until_ms == acd->now_ms) {
                return;
            }
        }
        for (size_t ai = 1; ai <= acd->lim.agents_max; ai++) {
            if (acd->agents[ai].is_used) {
                BLEND_ASSERT(!(blend__acd_agent_available(&acd->agents[ai], c->ch) &&
                               blend__acd_eligible(acd, (uint32_t)ai, ci)));
            }
        }
        break;
    case BLEND_CONTACT_OFFERED:
        /* Invariants 1 and 4. */
        BLEND_ASSERT(n >= 1 && c->group == 0);
        BLEND_ASSERT(n == 1 || c->is_rung);
        /* A transfer's or a move's direct offer: one offer, to an agent who is ready
         * (invariant 2), and no sticky binding (such a contact is never bound); a callback
         * only after a move (a transfer clears the flag). */
        BLEND_ASSERT(!c->is_direct || (n == 1 && !c->is_rung && !c->sticky_agent));
        /* ">=": timers due at the same instant fire one step after another. */
        BLEND_ASSERT(contact_has_armed(c, BLEND_ACD_TIMER_OFFER) && c->offer_due_ms >= acd->now_ms);
        break;
    case BLEND_CONTACT_CONNECTED:
        BLEND_ASSERT(n == 0 && c->group == 0 && c->agent != 0 && !c->is_direct);
        BLEND_ASSERT(acd->agents[c->agent].active[c->ch] > 0);
        break;
    default:
        BLEND_ASSERT(!"contact state");
    }
}

/* Asserts group gr's list (key order, links, ACD_IN_LIST marks, tail) and treap (order, heap
 * order, k3 = 0 marks) and that its head is the first of both; returns its contact count. */
static size_t group_check(const struct blend_acd *acd, const struct acd_group *gr)
{
    size_t count = blend__acd_treap_check(acd->cnodes, gr->root);
    uint32_t first = blend__acd_treap_first(acd->cnodes, gr->root);
    BLEND_ASSERT(!first || acd->cnodes[first].k3 == 0);
    uint32_t prev = 0;
    for (uint32_t x = gr->list_head; x; x = acd->cnodes[x].right) {
        const struct acd_tnode *n = &acd->cnodes[x];
        BLEND_ASSERT(n->k3 == ACD_IN_LIST && n->left == prev && count < gr->count);
        BLEND_ASSERT(acd->contacts[x].group == acd->contacts[gr->head].group);
        if (prev) {
            const struct acd_tnode *p = &acd->cnodes[prev];
            BLEND_ASSERT(p->k1 < n->k1 || (p->k1 == n->k1 && p->k2 < n->k2));
        }
        prev = x;
        count++;
    }
    BLEND_ASSERT(gr->list_tail == prev);
    uint32_t head = gr->list_head;
    if (!head || (first && (acd->cnodes[first].k1 < acd->cnodes[head].k1 ||
                            (acd->cnodes[first].k1 == acd->cnodes[head].k1 &&
                             acd->cnodes[first].k2 < acd->cnodes[head].k2)))) {
        head = first;
    }
    BLEND_ASSERT(gr->head == head);
    return count;
}

static void check_indexes(const struct blend_acd *acd)
{
    size_t in_tree = 0, trees = 0;
    BLEND_ASSERT(acd->reindex_count == 0);
    for (size_t m = 1; m <= acd->members_max; m++) {
        in_tree += acd->members[m].in_tree;
    }
    for (size_t s = 1; s <= acd->slots_max; s++) {
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            BLEND_ASSERT(acd->slots[s].is_used || acd->slots[s].root[c] == 0);
            trees += blend__acd_treap_check(acd->mnodes, acd->slots[s].root[c]);
        }
    }
    BLEND_ASSERT(in_tree == trees);
    size_t grouped = 0, in_groups = 0;
    for (size_t qi = 1; qi <= acd->lim.queues_max; qi++) {
        const struct acd_queue *q = &acd->queues[qi];
        BLEND_ASSERT(!q->is_used ||
                     (q->priority == q->cfg.priority &&
                      q->acceleration_per_min == q->cfg.acceleration_per_min &&
                      q->max_priority == q->cfg.max_priority &&
                      q->is_ring_all == (q->cfg.strategy == BLEND_STRAT_RING_ALL) &&
                      q->id == q->cfg.id && q->offer_timeout_ms == q->cfg.offer_timeout_ms &&
                      q->wrapup_ms == q->cfg.wrapup_ms));
        for (int c = 0; c < BLEND_CH_COUNT; c++) {
            /* gcount counts the list; gidx holds exactly its groups while they fit. */
            uint16_t listed = 0;
            for (uint32_t g = q->groups[c]; g; g = acd->groups[g].next) {
                BLEND_ASSERT(!acd->groups[g].has_own);
                listed++;
                if (q->gcount[c] <= ACD_QCH_INLINE) {
                    const struct acd_group *gg = &acd->groups[g];
                    const struct acd_gsum *gs = &q->gsum[c][gg->pos];
                    BLEND_ASSERT(gg->pos < q->gcount[c] && gs->group == g);
                    BLEND_ASSERT(gs->head == gg->head && gs->head_id == gg->head_id &&
                                 gs->head_enqueued_ms == gg->head_enqueued_ms &&
                                 gs->level == gg->level && gs->step == gg->step &&
                                 gs->has_declined == (gg->declined > 0));
                }
            }
            BLEND_ASSERT(listed == q->gcount[c]);
            if (q->gcount[c] <= ACD_QCH_INLINE && q->gcount[c] > 0) {
                /* The bound is the highest effective priority of the inline heads. */
                int32_t top = INT32_MIN;
                int64_t enq_min = INT64_MAX;
                for (int j = 0; j < q->gcount[c]; j++) {
                    const struct acd_gsum *gs = &q->gsum[c][j];
                    int32_t p = blend__acd_group_priority(acd, q, gs->level, gs->head_enqueued_ms);
                    top = p > top ? p : top;
                    enq_min = gs->head_enqueued_ms < enq_min ? gs->head_enqueued_ms : enq_min;
                }
                BLEND_ASSERT(q->bound[c].level_top != INT32_MIN &&
                             blend__acd_group_priority(acd, q, q->bound[c].level_top,
                                                       q->bound[c].enqueued_top) == top);
                BLEND_ASSERT(q->enqueued_min[c] == enq_min);
                const struct acd_qchb *qb =
                    blend__acd_qb_at(acd, blend__acd_qch((uint32_t)qi, (unsigned)c));
                BLEND_ASSERT(!qb->is_many && qb->enqueued_min == enq_min &&
                             qb->enqueued_top == q->bound[c].enqueued_top &&
                             qb->base_top == q->priority + q->bound[c].level_top &&
                             qb->acceleration_per_min == q->acceleration_per_min &&
                             qb->max_priority == q->max_priority);
            }
            if (q->is_used) {
                const struct acd_qchb *qb =
                    blend__acd_qb_at(acd, blend__acd_qch((uint32_t)qi, (unsigned)c));
                BLEND_ASSERT(qb->is_many == (q->gcount[c] > ACD_QCH_INLINE));
                BLEND_ASSERT(!qb->is_many ||
                             (qb->base_top == INT32_MAX && qb->acceleration_per_min == 0 &&
                              qb->max_priority == 0));
                BLEND_ASSERT(q->gcount[c] > 0 || qb->base_top == INT32_MIN);
            }
            uint32_t lists[2] = {acd->queues[qi].groups[c], acd->queues[qi].ogroups[c]};
            if (q->is_used) {
                BLEND_ASSERT(
                    blend__acd_qb_at(acd, blend__acd_qch((uint32_t)qi, (unsigned)c))->has_own ==
                    (lists[1] != 0));
            }
            int32_t own_top = INT32_MIN;
            int64_t own_enq_min = INT64_MAX;
            for (uint32_t g = lists[1]; g; g = acd->groups[g].next) {
                const struct acd_group *gg = &acd->groups[g];
                BLEND_ASSERT(gg->has_own && gg->queue == qi && gg->ch == c && gg->head);
                int32_t p = blend__acd_group_priority(acd, q, gg->level, gg->head_enqueued_ms);
                own_top = p > own_top ? p : own_top;
                own_enq_min =
                    gg->head_enqueued_ms < own_enq_min ? gg->head_enqueued_ms : own_enq_min;
            }
            if (q->is_used) {
                /* The own-skill groups' bound is the highest effective priority of their
                 * heads, with their earliest first join. */
                const struct acd_qob *ob = &acd->qob[blend__acd_qch((uint32_t)qi, (unsigned)c)];
                BLEND_ASSERT((ob->level_top == INT32_MIN) == (lists[1] == 0));
                BLEND_ASSERT(lists[1] == 0 ||
                             (blend__acd_group_priority(acd, q, ob->level_top, ob->enqueued_top) ==
                                  own_top &&
                              ob->enqueued_min == own_enq_min));
            }
            for (int li = 0; li < 2; li++) {
                for (uint32_t g = lists[li]; g; g = acd->groups[g].next) {
                    const struct acd_group *gr = &acd->groups[g];
                    size_t cnt = group_check(acd, gr);
                    BLEND_ASSERT(cnt == gr->count && cnt > 0);
                    BLEND_ASSERT(gr->head_enqueued_ms == acd->cnodes[gr->head].k1 &&
                                 gr->head_id == acd->cnodes[gr->head].k2);
                    uint32_t declined = 0;
                    for (size_t ci = 1; ci <= acd->lim.contacts_max; ci++) {
                        const struct acd_contact *ct = &acd->contacts[ci];
                        declined += ct->is_used && ct->group == g && ct->declined_count > 0;
                    }
                    BLEND_ASSERT(gr->declined == declined);
                    in_groups += cnt;
                }
            }
        }
    }
    for (size_t ci = 1; ci <= acd->lim.contacts_max; ci++) {
        grouped += acd->contacts[ci].is_used && acd->contacts[ci].group != 0;
    }
    BLEND_ASSERT(grouped == in_groups);
}

void blend_acd_check(const struct blend_acd *acd)
{
    BLEND_ASSERT(acd);
    uint64_t live = 0;
    for (size_t ai = 1; ai <= acd->lim.agents_max; ai++) {
        if (acd->agents[ai].is_used) {
            check_agent(acd, (uint32_t)ai);
        }
    }
    for (size_t ci = 1; ci <= acd->lim.contacts_max; ci++) {
        if (acd->contacts[ci].is_used) {
            check_contact(acd, (uint32_t)ci);
            live++;
        }
    }
    for (size_t qi = 1; qi <= acd->lim.queues_max; qi++) {
        const struct acd_queue *q = &acd->queues[qi];
        if (!q->is_used) {
            continue;
        }
        int32_t n = 0;
        for (size_t ci = 1; ci <= acd->lim.contacts_max; ci++) {
            n += acd->contacts[ci].is_used && acd->contacts[ci].queue == qi;
        }
        BLEND_ASSERT(n == q->contacts);
    }
    /* Invariant 5: every contact that arrived is in the engine or ended exactly once. */
    BLEND_ASSERT(acd->arrived == live + acd->ended + acd->abandoned + acd->voicemailed);
    check_indexes(acd);
}
