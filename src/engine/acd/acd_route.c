/*
 * Decisions of the fast ACD engine (docs/routing.md §Ranking contacts, §Choosing an agent,
 * §When decisions happen). An event marks contacts that (re)entered the waiting state or became
 * eligible for more agents as dirty, and agents whose availability grew as dirty; settle() then
 * offers the dirty contacts best-ranked first (each by its queue's strategy) and serves the dirty
 * agents in ascending id order (each takes the best-ranked contact it is eligible for, again
 * and again while it stays available). Reconfigurations serve every ready agent in ascending id
 * order instead (serve_all).
 *
 * Exactness: the available-agent treaps give a contact its best agent in O(log n) plus the
 * agents it declined within reoffer_delay (at most BLEND_ACD_DECLINED_MAX skips). The one
 * bounded scan: agents admitted through a relaxation step's add_queue_agents sit in the added
 * queue's treap, ordered by that queue's strategy; when its key differs from the contact
 * queue's (different strategy, or most-skilled whose key depends on the requirement) that
 * treap is scanned (all available agents meeting the added queue's base requirement on the
 * channel). On the agent side, a group's first contact not declined by the agent is its best;
 * the skips are bounded by the contacts that agent declined within reoffer_delay. An agent
 * bounds each (queue, channel) it is eligible for by the highest effective priority of its
 * heads and reads the heads only of those whose bound can still win (best_contact).
 *
 * Contacts with own required skills (docs/routing.md §Queues and eligibility): they sit in
 * groups of their own (the group key includes the sorted skill set), listed apart from the
 * other groups of their (queue, channel), outside its inline heads and bounds, so contacts
 * without own skills keep their groups, bounds and paths unchanged. An agent searches them
 * after the bounded pass: those of a (queue, channel) only when their own bound (struct
 * acd_qob) can still beat the contact found, skipping a group whose own skills the agent does
 * not meet (one check per group: its contacts share them). A contact with own skills walks
 * its treaps in order skipping the agents that do not meet them (the skips are the available
 * agents ahead of the first who does: few when the skill is common, up to the treap's size
 * when it is rare); under most-skilled, when an own skill is not one of the slot's, the sum
 * runs over the combined requirement, which is not the treap's key, so the treap is scanned
 * as for an added queue of another order.
 */
#include "engine/acd/acd_int.h"

#include "base/assert.h"

#include <string.h>

/* ---- Contact predicates --------------------------------------------------------------------- */

const struct blend_acd_skill_req *blend__acd_req(const struct blend_acd *acd,
                                                const struct acd_contact *c, int *count)
{
    const struct acd_slot *s = &acd->slots[acd->queues[c->queue].slot[c->step]];
    BLEND_ASSERT(s->is_used);
    *count = s->skills_count;
    return s->skills;
}

static int is_declined(const struct blend_acd *acd, const struct acd_contact *c, uint32_t ai)
{
    for (int i = 0; i < c->declined_count; i++) {
        if (c->declined[i].agent == ai && acd->now_ms < c->declined[i].until_ms) {
            return 1;
        }
    }
    return 0;
}

int blend__acd_is_restricted(const struct blend_acd *acd, const struct acd_contact *c)
{
    /* The window closes when its timer fires (the contact is unbound then): for an external
     * event at the closing instant the harness has fired it already; among timers due at the
     * same instant, those ordered before it still see the window open. */
    return c->sticky_agent && acd->agents[c->sticky_agent].presence != BLEND_PRESENCE_LOGGED_OUT;
}

static int holds_offer(const struct blend_acd *acd, const struct acd_contact *c, uint32_t ai)
{
    for (uint32_t o = c->offers; o; o = acd->offers[o].next_c) {
        if (acd->offers[o].agent == ai) {
            return 1;
        }
    }
    return 0;
}

int blend__acd_own_ok(const struct blend_acd *acd, const struct acd_contact *c, uint32_t ai)
{
    return c->own_count == 0 ||
           blend__acd_agent_meets(&acd->agents[ai], blend__acd_own_of(acd, c)->skills,
                                  c->own_count);
}

/* Whether agent ai meets the own skills of group g's contacts (always when they have none). */
static int group_own_ok(const struct blend_acd *acd, uint32_t g, uint32_t ai)
{
    const struct acd_own *o = &acd->group_own[g];
    return blend__acd_agent_meets(&acd->agents[ai], o->skills, o->count);
}

/* Direct check (no index): used by the sticky path and by blend_acd_check. */
int blend__acd_eligible(const struct blend_acd *acd, uint32_t ai, uint32_t ci)
{
    const struct acd_contact *c = &acd->contacts[ci];
    const struct acd_agent *a = &acd->agents[ai];
    const struct acd_queue *q = &acd->queues[c->queue];
    if (!a->is_used || a->cfg.capacity[c->ch] == 0 || holds_offer(acd, c, ai) ||
        is_declined(acd, c, ai)) {
        return 0;
    }
    if (blend__acd_is_restricted(acd, c) && c->sticky_agent != ai) {
        return 0;
    }
    /* The contact's own skills always hold, whichever requirement admits the agent. */
    if (!blend__acd_own_ok(acd, c, ai)) {
        return 0;
    }
    int count;
    const struct blend_acd_skill_req *req = blend__acd_req(acd, c, &count);
    if (blend__acd_agent_meets(a, req, count)) {
        return 1;
    }
    int last = c->step < q->cfg.relax_count ? c->step : q->cfg.relax_count;
    for (int k = 1; k <= last; k++) {
        int64_t id2 = q->cfg.relax[k - 1].add_queue_agents;
        uint32_t q2 = id2 ? blend__acd_map_get(&acd->queue_map, id2) : 0;
        if (q2) {
            BLEND_ASSERT(q2 != c->queue); /* QUEUE_SET refuses a step adding its own queue */
            const struct acd_slot *s2 = &acd->slots[acd->queues[q2].slot[0]];
            if (blend__acd_agent_meets(a, s2->skills, s2->skills_count)) {
                return 1;
            }
        }
    }
    return 0;
}

/* Effective priority of a contact of queue q with own priority `level` first joined at
 * enqueued_ms (docs/routing.md §Ranking contacts). */
static int32_t priority_of(const struct blend_acd *acd, const struct acd_queue *q, int32_t level,
                           int64_t enqueued_ms)
{
    int64_t p = (int64_t)q->priority + level;
    if (q->acceleration_per_min != 0) {
        /* Age and acceleration are never negative: unsigned division is the floor, cheaper. */
        p += (int64_t)((uint64_t)(acd->now_ms - enqueued_ms) * (uint64_t)q->acceleration_per_min /
                       60000u);
    }
    if (q->max_priority > 0 && p > q->max_priority) {
        p = q->max_priority;
    }
    return (int32_t)p;
}

int32_t blend__acd_group_priority(const struct blend_acd *acd, const struct acd_queue *q,
                                  int32_t level, int64_t enqueued_ms)
{
    return priority_of(acd, q, level, enqueued_ms);
}

int32_t blend__acd_priority(const struct blend_acd *acd, const struct acd_contact *c)
{
    return priority_of(acd, &acd->queues[c->queue], c->own_priority, c->enqueued_ms);
}

int blend__acd_rank_cmp(const struct blend_acd *acd, uint32_t a, uint32_t b)
{
    const struct acd_contact *x = &acd->contacts[a];
    const struct acd_contact *y = &acd->contacts[b];
    int32_t px = blend__acd_priority(acd, x);
    int32_t py = blend__acd_priority(acd, y);
    if (px != py) {
        return px > py ? -1 : 1;
    }
    if (x->enqueued_ms != y->enqueued_ms) {
        return x->enqueued_ms < y->enqueued_ms ? -1 : 1;
    }
    return x->id < y->id ? -1 : (x->id > y->id);
}

int blend__acd_is_ring(const struct blend_acd *acd, const struct acd_contact *c)
{
    /* Reading of "one callback is offered per available agent, never more": a callback is
     * never rung on several agents; under ring-all it goes to one agent, longest-idle. A
     * transfer's direct offer goes to its one target (docs/routing.md §Transfers). */
    return acd->queues[c->queue].is_ring_all && !c->is_callback && !c->is_direct;
}

/* ---- Groups of waiting contacts ------------------------------------------------------------- */

static void qb_refresh(struct blend_acd *acd, uint32_t qi, int ch);

/* Whether group g holds contacts with c's own skills (none, or the same sorted set). */
static int group_own_same(const struct blend_acd *acd, uint32_t g, const struct acd_contact *c)
{
    if (acd->groups[g].has_own != (c->own_count > 0)) {
        return 0;
    }
    if (c->own_count == 0) {
        return 1;
    }
    const struct acd_own *o = &acd->group_own[g];
    return o->count == c->own_count && memcmp(o->skills, blend__acd_own_of(acd, c)->skills,
                                              c->own_count * sizeof o->skills[0]) == 0;
}

/* Recomputes the bound of (queue qi, channel ch)'s own-skill groups (struct acd_qob) from
 * their heads: a walk of that list, which changes only when contacts with own skills do. */
static void own_bounds(struct blend_acd *acd, uint32_t qi, int ch)
{
    const struct acd_queue *q = &acd->queues[qi];
    struct acd_qob *b = &acd->qob[blend__acd_qch(qi, (unsigned)ch)];
    b->level_top = INT32_MIN;
    b->enqueued_top = 0;
    b->enqueued_min = INT64_MAX;
    int64_t key_top = 0;
    for (uint32_t g = q->ogroups[ch]; g; g = acd->groups[g].next) {
        const struct acd_group *gr = &acd->groups[g];
        if (!gr->head) {
            continue;
        }
        int64_t key = (int64_t)gr->level * 60000 - gr->head_enqueued_ms * q->acceleration_per_min;
        if (b->level_top == INT32_MIN || key > key_top) {
            b->level_top = gr->level;
            b->enqueued_top = gr->head_enqueued_ms;
            key_top = key;
        }
        b->enqueued_min =
            gr->head_enqueued_ms < b->enqueued_min ? gr->head_enqueued_ms : b->enqueued_min;
    }
}

/* The group of a contact with own skills: in the queue's own-skill list for the channel, kept
 * apart from the inline heads and bounds (acd_int.h). */
static uint32_t group_get_own(struct blend_acd *acd, const struct acd_contact *c)
{
    struct acd_queue *q = &acd->queues[c->queue];
    for (uint32_t g = q->ogroups[c->ch]; g; g = acd->groups[g].next) {
        if (acd->groups[g].step == c->step && acd->groups[g].level == c->own_priority &&
            group_own_same(acd, g, c)) {
            return g;
        }
    }
    uint32_t g = acd->group_free;
    BLEND_ASSERT(g != 0); /* one group per waiting contact at most */
    acd->group_free = acd->groups[g].next;
    struct acd_group *gr = &acd->groups[g];
    memset(gr, 0, sizeof *gr);
    gr->queue = c->queue;
    gr->ch = c->ch;
    gr->step = (uint8_t)c->step;
    gr->level = c->own_priority;
    gr->has_own = 1;
    acd->group_own[g] = *blend__acd_own_of(acd, c);
    gr->next = q->ogroups[c->ch];
    if (gr->next) {
        acd->groups[gr->next].prev = g;
    }
    q->ogroups[c->ch] = g;
    blend__acd_qb_at(acd, blend__acd_qch(c->queue, c->ch))->has_own = 1;
    return g;
}

static uint32_t group_get(struct blend_acd *acd, const struct acd_contact *c)
{
    if (c->own_count > 0) {
        return group_get_own(acd, c);
    }
    struct acd_queue *q = &acd->queues[c->queue];
    for (uint32_t g = q->groups[c->ch]; g; g = acd->groups[g].next) {
        if (acd->groups[g].step == c->step && acd->groups[g].level == c->own_priority) {
            return g;
        }
    }
    uint32_t g = acd->group_free;
    BLEND_ASSERT(g != 0); /* one group per waiting contact at most */
    acd->group_free = acd->groups[g].next;
    struct acd_group *gr = &acd->groups[g];
    memset(gr, 0, sizeof *gr);
    gr->queue = c->queue;
    gr->ch = c->ch;
    gr->step = (uint8_t)c->step;
    gr->level = c->own_priority;
    gr->next = q->groups[c->ch];
    if (gr->next) {
        acd->groups[gr->next].prev = g;
    }
    q->groups[c->ch] = g;
    uint16_t n = ++q->gcount[c->ch];
    if (n <= ACD_QCH_INLINE) {
        gr->pos = (uint8_t)(n - 1);
        blend__acd_gsum_sync(acd, g);
    } else {
        qb_refresh(acd, c->queue, c->ch); /* more heads than kept inline: no bound */
    }
    return g;
}

/* Recomputes the channel's bounds over its inline heads (empty groups, being filled, aside).
 * Times are milliseconds of a monotonic clock, far below 2^53, so the key cannot overflow. */
static void gsum_bounds(struct acd_queue *q, int ch)
{
    int32_t level = INT32_MIN;
    int64_t enq = 0, enq_min = INT64_MAX, key_top = 0;
    for (int j = 0; j < q->gcount[ch] && j < ACD_QCH_INLINE; j++) {
        const struct acd_gsum *s = &q->gsum[ch][j];
        if (!s->head) {
            continue;
        }
        int64_t key = (int64_t)s->level * 60000 - s->head_enqueued_ms * q->acceleration_per_min;
        if (level == INT32_MIN || key > key_top) {
            level = s->level;
            enq = s->head_enqueued_ms;
            key_top = key;
        }
        enq_min = s->head_enqueued_ms < enq_min ? s->head_enqueued_ms : enq_min;
    }
    q->bound[ch].level_top = level;
    q->bound[ch].enqueued_top = enq;
    q->enqueued_min[ch] = enq_min;
}

/* Copies the bound of (queue qi, channel ch) into the dense array best_contact reads. */
static void qb_refresh(struct blend_acd *acd, uint32_t qi, int ch)
{
    const struct acd_queue *q = &acd->queues[qi];
    struct acd_qchb *b = blend__acd_qb_at(acd, blend__acd_qch(qi, (unsigned)ch));
    b->enqueued_top = q->bound[ch].enqueued_top;
    b->enqueued_min = q->enqueued_min[ch];
    b->is_many = q->gcount[ch] > ACD_QCH_INLINE;
    if (b->is_many || q->gcount[ch] == 0 || q->bound[ch].level_top == INT32_MIN) {
        /* No bound: qch_bound answers base_top itself (no age term, no cap). */
        b->base_top = b->is_many ? INT32_MAX : INT32_MIN;
        b->acceleration_per_min = 0;
        b->max_priority = 0;
        return;
    }
    b->base_top = q->priority + q->bound[ch].level_top;
    b->acceleration_per_min = q->acceleration_per_min;
    b->max_priority = q->max_priority;
}

void blend__acd_gsum_rebound(struct blend_acd *acd, uint32_t qi)
{
    struct acd_queue *q = &acd->queues[qi];
    for (int ch = 0; ch < BLEND_CH_COUNT; ch++) {
        gsum_bounds(q, ch);
        qb_refresh(acd, qi, ch);
        own_bounds(acd, qi, ch);
    }
}

void blend__acd_gsum_sync(struct blend_acd *acd, uint32_t g)
{
    const struct acd_group *gr = &acd->groups[g];
    struct acd_queue *q = &acd->queues[gr->queue];
    if (gr->has_own) {
        own_bounds(acd, gr->queue, gr->ch);
        return;
    }
    if (q->gcount[gr->ch] > ACD_QCH_INLINE) {
        return; /* decisions walk the list */
    }
    struct acd_gsum *s = &q->gsum[gr->ch][gr->pos];
    s->head_enqueued_ms = gr->head_enqueued_ms;
    s->head_id = gr->head_id;
    s->group = g;
    s->head = gr->head;
    s->level = gr->level;
    s->step = gr->step;
    s->has_declined = gr->declined > 0;
    gsum_bounds(q, gr->ch);
    qb_refresh(acd, gr->queue, gr->ch);
}

/* Group g left its queue's list for channel ch: keeps gsum exact while gcount fits. */
static void gsum_remove(struct blend_acd *acd, struct acd_queue *q, int ch, uint32_t g)
{
    uint16_t n = --q->gcount[ch];
    if (n < ACD_QCH_INLINE) {
        uint8_t pos = acd->groups[g].pos;
        q->gsum[ch][pos] = q->gsum[ch][n];
        acd->groups[q->gsum[ch][pos].group].pos = pos;
        gsum_bounds(q, ch);
        qb_refresh(acd, acd->groups[g].queue, ch);
    } else if (n == ACD_QCH_INLINE) {
        /* Back within the inline size: rebuild from the list (the array was not kept). */
        uint8_t i = 0;
        for (uint32_t x = q->groups[ch]; x; x = acd->groups[x].next) {
            if (x != g) {
                acd->groups[x].pos = i++;
                blend__acd_gsum_sync(acd, x);
            }
        }
        BLEND_ASSERT(i == ACD_QCH_INLINE);
    }
}

static void group_put(struct blend_acd *acd, uint32_t g)
{
    struct acd_group *gr = &acd->groups[g];
    if (gr->count > 0) {
        return;
    }
    struct acd_queue *q = &acd->queues[gr->queue];
    uint32_t *head = gr->has_own ? &q->ogroups[gr->ch] : &q->groups[gr->ch];
    if (gr->prev) {
        acd->groups[gr->prev].next = gr->next;
    } else {
        *head = gr->next;
    }
    if (gr->next) {
        acd->groups[gr->next].prev = gr->prev;
    }
    if (gr->has_own) {
        blend__acd_qb_at(acd, blend__acd_qch(gr->queue, gr->ch))->has_own = *head != 0;
        own_bounds(acd, gr->queue, gr->ch); /* over the others: g is out of the list */
    } else {
        gsum_remove(acd, q, gr->ch, g);
    }
    memset(gr, 0, sizeof *gr);
    gr->next = acd->group_free;
    acd->group_free = g;
}

/* A group's contacts in key order (first join, id) are split in two (acd_int.h struct
 * acd_group): the list of those that joined the group after every contact listed before them
 * (contacts arrive in time order, so this is nearly all: appended at the tail, unlinked in
 * O(1), the next head one link away) and a treap of the others (a contact entering with an
 * earlier key than the list's tail: a decline's re-entry, a relaxation step, a priority change,
 * a transfer, a reconfiguration), O(log n). The group's head is the smaller of their firsts. */
static int ckey_less(const struct acd_tnode *a, const struct acd_tnode *b)
{
    return a->k1 != b->k1 ? a->k1 < b->k1 : a->k2 < b->k2;
}

/* The first of two contacts of one group in key order, either 0 (none). */
static uint32_t ckey_min(const struct blend_acd *acd, uint32_t a, uint32_t b)
{
    if (!a || (b && ckey_less(&acd->cnodes[b], &acd->cnodes[a]))) {
        return b;
    }
    return a;
}

static void group_set_head(struct blend_acd *acd, struct acd_group *gr, uint32_t head)
{
    gr->head = head;
    gr->head_enqueued_ms = head ? acd->cnodes[head].k1 : 0;
    gr->head_id = head ? acd->cnodes[head].k2 : 0;
}

void blend__acd_wait_enter(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    BLEND_ASSERT(c->group == 0 && c->offers == 0);
    c->state = BLEND_CONTACT_WAITING;
    if (blend__acd_is_restricted(acd, c)) {
        return; /* eligible for its sticky agent only: found through that agent's list */
    }
    uint32_t g = group_get(acd, c);
    struct acd_tnode *n = &acd->cnodes[ci];
    n->k1 = c->enqueued_ms;
    n->k2 = c->id;
    struct acd_group *gr = &acd->groups[g];
    uint32_t tail = gr->list_tail;
    if (!tail || ckey_less(&acd->cnodes[tail], n)) {
        n->k3 = ACD_IN_LIST;
        n->left = tail;
        n->right = 0;
        n->prio = 0;
        if (tail) {
            acd->cnodes[tail].right = ci;
        } else {
            gr->list_head = ci;
        }
        gr->list_tail = ci;
    } else {
        n->k3 = 0;
        blend__acd_treap_insert(acd->cnodes, &gr->root, ci);
    }
    /* Against the cached key of the head: the head's node is not read. */
    if (!gr->head || n->k1 < gr->head_enqueued_ms ||
        (n->k1 == gr->head_enqueued_ms && n->k2 < gr->head_id)) {
        gr->head = ci;
        gr->head_enqueued_ms = n->k1;
        gr->head_id = n->k2;
    }
    gr->declined += c->declined_count > 0;
    gr->count++;
    c->group = g;
    blend__acd_gsum_sync(acd, g);
}

void blend__acd_wait_leave(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    if (!c->group) {
        return;
    }
    struct acd_group *gr = &acd->groups[c->group];
    struct acd_tnode *n = &acd->cnodes[ci];
    if (n->k3 == ACD_IN_LIST) {
        uint32_t prev = n->left, next = n->right;
        if (prev) {
            acd->cnodes[prev].right = next;
        } else {
            gr->list_head = next;
        }
        if (next) {
            acd->cnodes[next].left = prev;
        } else {
            gr->list_tail = prev;
        }
        n->left = 0;
        n->right = 0;
        if (gr->head == ci) {
            /* The common case (the group's best contact is offered): the next head is the
             * next of the list, unless the treap holds an earlier one. */
            BLEND_ASSERT(prev == 0);
            group_set_head(acd, gr,
                           gr->root
                               ? ckey_min(acd, next, blend__acd_treap_first(acd->cnodes, gr->root))
                               : next);
        }
    } else if (gr->head == ci) {
        /* One walk down the left spine removes it and finds the treap's next. */
        uint32_t t = blend__acd_treap_pop_first(acd->cnodes, &gr->root);
        group_set_head(acd, gr, ckey_min(acd, gr->list_head, t));
    } else {
        blend__acd_treap_remove(acd->cnodes, &gr->root, ci);
    }
    gr->declined -= c->declined_count > 0;
    gr->count--;
    if (gr->count > 0) {
        blend__acd_gsum_sync(acd, c->group);
    }
    group_put(acd, c->group);
    c->group = 0;
}

/* ---- Dirty sets ------------------------------------------------------------------------------ */

void blend__acd_dirty_contact(struct blend_acd *acd, uint32_t ci)
{
    struct acd_contact *c = &acd->contacts[ci];
    if (c->dirty_stamp == acd->dirty_gen) {
        return;
    }
    c->dirty_stamp = acd->dirty_gen;
    BLEND_ASSERT(acd->dirty_contacts_count < acd->lim.contacts_max);
    acd->dirty_contacts[acd->dirty_contacts_count++] = ci;
}

void blend__acd_dirty_agent(struct blend_acd *acd, uint32_t ai)
{
    if (acd->agent_dirty_stamp[ai] == acd->dirty_gen) {
        return;
    }
    acd->agent_dirty_stamp[ai] = acd->dirty_gen;
    BLEND_ASSERT(acd->dirty_agents_count < acd->lim.agents_max);
    acd->dirty_agents[acd->dirty_agents_count++] = ai;
}

/* Heap sort (no allocation, no recursion); `less` orders the indexes (keys are unique). */
static void sift(const struct blend_acd *acd, uint32_t *v, size_t r, size_t end,
                 int (*less)(const struct blend_acd *, uint32_t, uint32_t))
{
    for (;;) {
        size_t ch = 2 * r + 1;
        if (ch >= end) {
            return;
        }
        if (ch + 1 < end && less(acd, v[ch], v[ch + 1])) {
            ch++;
        }
        if (!less(acd, v[r], v[ch])) {
            return;
        }
        uint32_t t = v[r];
        v[r] = v[ch];
        v[ch] = t;
        r = ch;
    }
}

static void sort_idx(const struct blend_acd *acd, uint32_t *v, size_t n,
                     int (*less)(const struct blend_acd *, uint32_t, uint32_t))
{
    if (n < 2) {
        return;
    }
    for (size_t i = n / 2; i-- > 0;) {
        sift(acd, v, i, n, less);
    }
    for (size_t end = n - 1; end > 0; end--) {
        uint32_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift(acd, v, 0, end, less);
    }
}

static int contact_less(const struct blend_acd *acd, uint32_t a, uint32_t b)
{
    return blend__acd_rank_cmp(acd, a, b) < 0;
}

static int agent_less(const struct blend_acd *acd, uint32_t a, uint32_t b)
{
    return acd->agents[a].cfg.id < acd->agents[b].cfg.id;
}

/* ---- Choosing an agent for a contact ------------------------------------------------------- */

struct pick {
    uint32_t agent;
    struct acd_tnode key; /* in the contact queue's order */
};

/* Most-skilled key of agent ai for a contact with own skills: minus the sum of proficiencies
 * over its current requirement, the union of slot s's skills and the contact's own (each skill
 * once: a skill in both is required once, at the higher minimum). */
static int64_t own_skilled_k1(const struct blend_acd *acd, uint32_t ai, const struct acd_slot *s,
                              const struct acd_contact *c)
{
    const struct acd_agent *a = &acd->agents[ai];
    const struct acd_own *own = blend__acd_own_of(acd, c);
    int64_t sum = 0;
    for (int i = 0; i < s->skills_count; i++) {
        sum += blend__acd_proficiency(a, s->skills[i].skill);
    }
    for (int i = 0; i < c->own_count; i++) {
        int in_slot = 0;
        for (int j = 0; j < s->skills_count; j++) {
            in_slot |= s->skills[j].skill == own->skills[i].skill;
        }
        if (!in_slot) {
            sum += blend__acd_proficiency(a, own->skills[i].skill);
        }
    }
    return -sum;
}

/* Offers the candidate `ai` to the running choice `best` (keyed by slot `s`, the contact's own
 * requirement slot, combined with its own skills for most-skilled). For round-robin the order
 * is: ids above the queue's last chosen id first, ascending, then the rest. */
static void consider(const struct blend_acd *acd, const struct acd_contact *c,
                     const struct acd_slot *s, int ch, int64_t last, uint32_t ai, struct pick *best)
{
    struct pick p = {.agent = ai};
    blend__acd_agent_key(acd, ai, s, ch, &p.key);
    if (s->kind == ACD_KEY_SKILLED && c->own_count > 0) {
        p.key.k1 = own_skilled_k1(acd, ai, s, c);
    }
    if (s->kind == ACD_KEY_ROBIN) {
        p.key.k1 = p.key.k3 > last ? 0 : 1;
    }
    if (!best->agent || blend__acd_tkey_cmp(&p.key, &best->key) < 0) {
        *best = p;
    }
}

static uint32_t walk_skip(const struct blend_acd *acd, const struct acd_contact *c, uint32_t n,
                          const struct acd_slot *set, int ch)
{
    /* Skips declined agents and, for a contact with own skills, agents not meeting them. */
    while (n && (is_declined(acd, c, acd->members[n].agent) ||
                 !blend__acd_own_ok(acd, c, acd->members[n].agent))) {
        const struct acd_tnode *k = &acd->mnodes[n];
        n = blend__acd_treap_after(acd->mnodes, set->root[ch], k->k1, k->k2, k->k3);
    }
    return n;
}

/* Collects every agent of a treap into acd->pick (deduplicated by stamp). */
static size_t collect(struct blend_acd *acd, uint32_t root, size_t n)
{
    uint32_t stack[ACD_TREAP_DEPTH_MAX];
    size_t depth = 0;
    uint32_t t = root;
    while (t || depth > 0) {
        while (t) {
            BLEND_ASSERT(depth < ACD_TREAP_DEPTH_MAX);
            stack[depth++] = t;
            t = acd->mnodes[t].left;
        }
        t = stack[--depth];
        uint32_t ai = acd->members[t].agent;
        if (acd->agent_stamp[ai] != acd->stamp) {
            acd->agent_stamp[ai] = acd->stamp;
            acd->pick[n++] = ai;
        }
        t = acd->mnodes[t].right;
    }
    return n;
}

/* Whether every own skill of contact c is one of slot s's skills. */
static int own_within(const struct blend_acd *acd, const struct acd_contact *c,
                      const struct acd_slot *s)
{
    const struct acd_own *own = blend__acd_own_of(acd, c);
    for (int i = 0; i < c->own_count; i++) {
        int found = 0;
        for (int j = 0; j < s->skills_count; j++) {
            found |= s->skills[j].skill == own->skills[i].skill;
        }
        if (!found) {
            return 0;
        }
    }
    return 1;
}

/* Searches one available-agent treap for the contact. When the treap is ordered like the
 * contact's queue, its first non-declined agent (or, for round-robin, the first above the last
 * chosen id and the first overall) is that treap's best; otherwise it is scanned. */
static void search_set(struct blend_acd *acd, const struct acd_contact *c, const struct acd_slot *own,
                       const struct acd_slot *set, struct pick *best)
{
    int ch = c->ch;
    int64_t last = acd->queues[c->queue].last_robin_id;
    /* Most-skilled with own skills ranks by the combined requirement: the treap's key only
     * when every own skill is one of the slot's (a skill counts once in the sum). */
    int same_order = set->kind == own->kind &&
                     (own->kind != ACD_KEY_SKILLED || (set == own && own_within(acd, c, own)));
    if (same_order) {
        uint32_t n;
        if (own->kind == ACD_KEY_ROBIN) {
            n = blend__acd_treap_after(acd->mnodes, set->root[ch], 0, 0, last);
            n = walk_skip(acd, c, n, set, ch);
            if (n) {
                consider(acd, c, own, ch, last, acd->members[n].agent, best);
            }
        }
        n = walk_skip(acd, c, blend__acd_treap_first(acd->mnodes, set->root[ch]), set, ch);
        if (n) {
            consider(acd, c, own, ch, last, acd->members[n].agent, best);
        }
        return;
    }
    acd->stamp++;
    size_t count = collect(acd, set->root[ch], 0);
    for (size_t i = 0; i < count; i++) {
        if (!is_declined(acd, c, acd->pick[i]) && blend__acd_own_ok(acd, c, acd->pick[i])) {
            consider(acd, c, own, ch, last, acd->pick[i], best);
        }
    }
}

/* The sets whose members are eligible for contact c: its step's requirement, then the base
 * requirement of every queue added by its steps so far. Returns their count. */
static int contact_sets(const struct blend_acd *acd, const struct acd_contact *c,
                        const struct acd_slot **sets)
{
    const struct acd_queue *q = &acd->queues[c->queue];
    int n = 0;
    sets[n++] = &acd->slots[q->slot[c->step]];
    int last = c->step < q->cfg.relax_count ? c->step : q->cfg.relax_count;
    for (int k = 1; k <= last; k++) {
        int64_t id2 = q->cfg.relax[k - 1].add_queue_agents;
        uint32_t q2 = id2 ? blend__acd_map_get(&acd->queue_map, id2) : 0;
        if (q2) {
            BLEND_ASSERT(q2 != c->queue);
            sets[n++] = &acd->slots[acd->queues[q2].slot[0]];
        }
    }
    return n;
}

static uint32_t best_agent(struct blend_acd *acd, uint32_t ci)
{
    const struct acd_contact *c = &acd->contacts[ci];
    if (blend__acd_is_restricted(acd, c)) {
        uint32_t s = c->sticky_agent;
        return blend__acd_agent_available(&acd->agents[s], c->ch) &&
                       blend__acd_eligible(acd, s, ci)
                   ? s
                   : 0;
    }
    const struct acd_slot *sets[ACD_STEPS];
    int n = contact_sets(acd, c, sets);
    struct pick best = {0};
    for (int i = 0; i < n; i++) {
        search_set(acd, c, sets[0], sets[i], &best);
    }
    return best.agent;
}

/* Ring-all: every eligible available agent at once. */
static void ring_all(struct blend_acd *acd, uint32_t ci)
{
    blend__acd_index_flush(acd); /* agents freed by this step must be in the treaps */
    const struct acd_contact *c = &acd->contacts[ci];
    const struct acd_slot *sets[ACD_STEPS];
    int n = contact_sets(acd, c, sets);
    acd->stamp++;
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        count = collect(acd, sets[i]->root[c->ch], count);
    }
    int is_first = 1;
    for (size_t i = 0; i < count; i++) {
        if (is_declined(acd, c, acd->pick[i]) || !blend__acd_own_ok(acd, c, acd->pick[i])) {
            continue;
        }
        if (!is_first && !blend__acd_offer_extra_ok(acd)) {
            break; /* offer pool budget reached (documented limit) */
        }
        blend__acd_offer_make(acd, ci, acd->pick[i]);
        is_first = 0;
    }
}

static void try_offer_contact(struct blend_acd *acd, uint32_t ci)
{
    if (acd->contacts[ci].state != BLEND_CONTACT_WAITING) {
        return;
    }
    uint32_t ai = best_agent(acd, ci);
    if (!ai) {
        return;
    }
    if (blend__acd_is_ring(acd, &acd->contacts[ci])) {
        ring_all(acd, ci);
    } else {
        blend__acd_offer_make(acd, ci, ai);
    }
}

/* ---- Choosing a contact for an agent ------------------------------------------------------- */

/* Bound on the effective priority of every waiting head of (q, ch): see best_contact. */
static int32_t qch_bound(const struct blend_acd *acd, uint32_t k)
{
    const struct acd_qchb *b = blend__acd_qb_at(acd, k);
    /* priority_of() over the copies; base_top is INT32_MAX with more heads than kept inline
     * (always searched) and INT32_MIN without a waiting contact, both with neither an age
     * term nor a cap (qb_refresh), so they come out as they are. */
    int64_t p = b->base_top;
    if (b->acceleration_per_min != 0) {
        p += (int64_t)((uint64_t)(acd->now_ms - b->enqueued_top) *
                       (uint64_t)b->acceleration_per_min / 60000u);
    }
    if (b->max_priority > 0 && p > b->max_priority) {
        p = b->max_priority;
    }
    return (int32_t)p;
}

static void qmask_add(struct blend_acd *acd, uint32_t qi, int ch, uint16_t bits)
{
    uint32_t k = blend__acd_qch(qi, (unsigned)ch);
    if (!acd->qmask[k]) {
        acd->qtouched[acd->qtouched_count++] = (uint32_t)k;
    }
    acd->qmask[k] |= bits;
}

/* The running best contact of best_contact(), with its rank key (priority, first join, id). */
struct cpick {
    uint32_t ci;
    int32_t prio;
    int64_t enqueued_ms, id;
};

static void consider_contact(struct cpick *best, uint32_t ci, int32_t prio, int64_t enqueued_ms,
                             int64_t id)
{
    if (best->ci) {
        if (prio != best->prio) {
            if (prio < best->prio) {
                return;
            }
        } else if (enqueued_ms != best->enqueued_ms) {
            if (enqueued_ms > best->enqueued_ms) {
                return;
            }
        } else if (id > best->id) {
            return;
        }
    }
    best->ci = ci;
    best->prio = prio;
    best->enqueued_ms = enqueued_ms;
    best->id = id;
}

/* The group's first contact the agent did not decline: the group's best for that agent. The
 * skips walk the list and the treap together in key order (a merge), as many as the contacts
 * of the group that agent declined. */
static uint32_t group_head(const struct blend_acd *acd, const struct acd_group *g, uint32_t ai)
{
    if (g->declined == 0) {
        return g->head; /* no contact of the group declined anyone */
    }
    uint32_t l = g->list_head;
    uint32_t t = blend__acd_treap_first(acd->cnodes, g->root);
    for (;;) {
        uint32_t n = ckey_min(acd, l, t);
        if (!n || !is_declined(acd, &acd->contacts[n], ai)) {
            return n;
        }
        if (n == l) {
            l = acd->cnodes[l].right;
        } else {
            t = blend__acd_treap_after(acd->cnodes, g->root, acd->cnodes[t].k1, acd->cnodes[t].k2,
                                       0);
        }
    }
}

/* Offers group gr's best contact for agent ai to the running choice, when the agent is
 * eligible for the group's step (bit set in `bits`). */
static void consider_group(const struct blend_acd *acd, const struct acd_queue *q,
                           const struct acd_group *gr, uint16_t bits, uint32_t ai,
                           struct cpick *best)
{
    if (!(bits & (1u << gr->step))) {
        return;
    }
    if (gr->has_own && !group_own_ok(acd, (uint32_t)(gr - acd->groups), ai)) {
        return; /* the agent does not meet the group's own skills */
    }
    uint32_t ci = group_head(acd, gr, ai);
    if (ci) {
        /* A group's contacts share queue and own priority. */
        int64_t enq = gr->head_enqueued_ms, id = gr->head_id;
        if (ci != gr->head) {
            enq = acd->cnodes[ci].k1;
            id = acd->cnodes[ci].k2;
        }
        consider_contact(best, ci, priority_of(acd, q, gr->level, enq), enq, id);
    }
}

/* Searches touched (queue, channel) number i for agent ai: every group of an eligible step. */
static void search_qch(struct blend_acd *acd, size_t i, uint32_t ai, struct cpick *best)
{
    uint32_t k = acd->qtouched[i];
    uint16_t bits = acd->qbits[i];
    const struct acd_queue *q = &acd->queues[k >> ACD_QCH_SHIFT];
    int ch = (int)(k & ((1u << ACD_QCH_SHIFT) - 1));
    if (q->gcount[ch] > ACD_QCH_INLINE) {
        for (uint32_t g = q->groups[ch]; g; g = acd->groups[g].next) {
            consider_group(acd, q, &acd->groups[g], bits, ai, best);
        }
        return;
    }
    for (int j = 0; j < q->gcount[ch]; j++) {
        const struct acd_gsum *gs = &q->gsum[ch][j];
        if (!(bits & (1u << gs->step)) || !gs->head) {
            continue;
        }
        if (gs->has_declined) {
            consider_group(acd, q, &acd->groups[gs->group], bits, ai, best);
        } else {
            consider_contact(best, gs->head, priority_of(acd, q, gs->level, gs->head_enqueued_ms),
                             gs->head_enqueued_ms, gs->head_id);
            if (best->ci == gs->head) {
                /* Likely the contact offered next: start loading what the offer reads (its
                 * fields, its node, its group) while the other queues are bounded. */
                __builtin_prefetch(&acd->contacts[gs->head]);
                __builtin_prefetch(&acd->cnodes[gs->head]);
                __builtin_prefetch(&acd->groups[gs->group]);
            }
        }
    }
}

/* Searches touched (queue, channel) number i unless searched already, without a waiting
 * contact, or unable to beat `best` (its bound is below best's priority, or equal with no head
 * joined earlier); marks it searched. */
static void best_contact_try(struct blend_acd *acd, uint32_t i, uint32_t ai, struct cpick *best)
{
    int32_t b = acd->qbound[i];
    if (b == INT32_MIN) {
        return;
    }
    if (best->ci && b != INT32_MAX) {
        const struct acd_qchb *qb = blend__acd_qb_at(acd, acd->qtouched[i]);
        if (b < best->prio || (b == best->prio && qb->enqueued_min > best->enqueued_ms)) {
            return;
        }
    }
    acd->qbound[i] = INT32_MIN;
    search_qch(acd, i, ai, best);
}

/* The (queue, channel)s agent ai may take a contact from, on the channels of `avail`, with the
 * eligible steps of each, into qtouched / qbits: from the agent's eligibility list, which holds
 * them already merged and distinct (valid while no queue adds another's agents). */
static void touch_elig(struct blend_acd *acd, uint32_t ai, unsigned avail)
{
    const struct acd_elig *list = &acd->elig[(size_t)ai * ACD_ELIG_MAX];
    size_t n = 0;
    for (size_t i = 0, count = acd->agents[ai].elig_count; i < count; i++) {
        if (avail & (1u << list[i].ch)) {
            acd->qtouched[n] = list[i].qch;
            acd->qbits[n] = list[i].bits;
            n++;
        }
    }
    acd->qtouched_count = n;
}

/* As touch_elig, from the memberships and the queues added by relaxation steps (merged through
 * the qmask scratch, left all zero). */
static void touch_members(struct blend_acd *acd, uint32_t ai, unsigned avail)
{
    acd->qtouched_count = 0;
    for (uint32_t m = acd->agents[ai].members; m; m = acd->members[m].next) {
        const struct acd_member *mb = &acd->members[m];
        if (!(avail & (1u << mb->ch))) {
            continue; /* not available on that channel */
        }
        qmask_add(acd, mb->queue, mb->ch, mb->steps_mask);
        if (mb->is_base) {
            const struct acd_queue *q = &acd->queues[mb->queue];
            for (uint32_t ad = q->adders; ad; ad = acd->adders[ad].next) {
                uint16_t from = (uint16_t)((1u << ACD_STEPS) - (1u << acd->adders[ad].from_step));
                qmask_add(acd, acd->adders[ad].queue, mb->ch, from);
            }
        }
    }
    for (size_t i = 0; i < acd->qtouched_count; i++) {
        uint32_t k = acd->qtouched[i];
        acd->qbits[i] = acd->qmask[k];
        acd->qmask[k] = 0;
    }
}

/* The best-ranked contact agent ai may take on the channels of `avail` (its availability mask,
 * from the agent's state, not mb->in_tree: the agent's re-keying may be pending), or 0. */
static uint32_t best_contact(struct blend_acd *acd, uint32_t ai, unsigned avail)
{
    const struct acd_agent *a = &acd->agents[ai];
    BLEND_ASSERT(avail != 0);
    if (acd->adders_count == 0 && a->elig_count <= ACD_ELIG_MAX) {
        touch_elig(acd, ai, avail);
    } else {
        touch_members(acd, ai, avail);
    }
    /* First pass: a bound on each (queue, channel)'s best head: the highest effective
     * priority among its heads (acd_int.h struct acd_qbound); the (queue, channel) with the
     * best bound is searched first. Second pass: the others are searched only when their
     * bound can still beat the best contact found, which is exact since no head of theirs has
     * a higher priority than the bound, nor an earlier first join than enqueued_min (ties of
     * priority go to the earlier first join). */
    /* Candidates: the (queue, channel)s whose bound is the highest seen so far (the list
     * restarts when it rises), and those without a bound (always searched). */
    size_t first = SIZE_MAX, cands = 0;
    int32_t top = INT32_MIN;
    for (size_t i = 0; i < acd->qtouched_count; i++) {
        uint32_t k = acd->qtouched[i];
        int32_t b = qch_bound(acd, k);
        acd->qbound[i] = b;
        if (b == INT32_MIN) {
            continue;
        }
        if (b != INT32_MAX && (first == SIZE_MAX || b > top)) {
            size_t kept = 0; /* drop the candidates below the new top, keep the unbounded */
            for (size_t j = 0; j < cands; j++) {
                if (acd->qbound[acd->qcand[j]] == INT32_MAX) {
                    acd->qcand[kept++] = acd->qcand[j];
                }
            }
            cands = kept;
            first = i;
            top = b;
        }
        if (b == top || b == INT32_MAX) {
            acd->qcand[cands++] = (uint32_t)i;
        }
    }
    struct cpick best = {0};
    if (first != SIZE_MAX) {
        search_qch(acd, first, ai, &best);
        acd->qbound[first] = INT32_MIN; /* searched */
    }
    for (size_t j = 0; j < cands; j++) {
        best_contact_try(acd, acd->qcand[j], ai, &best);
    }
    if (!best.ci || best.prio < top) {
        /* The best head of the top (queue, channel)s fell short of their bound (a decline or
         * a step the agent is not eligible for): the others may still win. */
        for (size_t i = 0; i < acd->qtouched_count; i++) {
            best_contact_try(acd, (uint32_t)i, ai, &best);
        }
    }
    /* Contacts with own skills: the own-skill groups of the touched (queue, channel)s whose
     * skills the agent meets, unless their bound (struct acd_qob) cannot beat `best`. */
    for (size_t i = 0; i < acd->qtouched_count; i++) {
        uint32_t k = acd->qtouched[i];
        if (!blend__acd_qb_at(acd, k)->has_own) {
            continue;
        }
        const struct acd_queue *q = &acd->queues[k >> ACD_QCH_SHIFT];
        const struct acd_qob *ob = &acd->qob[k];
        if (ob->level_top == INT32_MIN) {
            continue;
        }
        int32_t b = priority_of(acd, q, ob->level_top, ob->enqueued_top);
        if (best.ci && (b < best.prio || (b == best.prio && ob->enqueued_min > best.enqueued_ms))) {
            continue;
        }
        for (uint32_t g = q->ogroups[k & ((1u << ACD_QCH_SHIFT) - 1)]; g; g = acd->groups[g].next) {
            consider_group(acd, q, &acd->groups[g], acd->qbits[i], ai, &best);
        }
    }
    /* Contacts bound to this agent by a sticky window are found through its own list. */
    for (uint32_t ci = a->sticky; ci; ci = acd->contacts[ci].sticky_next) {
        const struct acd_contact *c = &acd->contacts[ci];
        if (c->state == BLEND_CONTACT_WAITING && !c->group &&
            blend__acd_agent_available(a, c->ch) && blend__acd_eligible(acd, ai, ci)) {
            consider_contact(&best, ci, blend__acd_priority(acd, c), c->enqueued_ms, c->id);
        }
    }
    return best.ci;
}

static void serve_agent(struct blend_acd *acd, uint32_t ai)
{
    for (;;) {
        unsigned avail = blend__acd_agent_avail_mask(&acd->agents[ai]);
        if (!avail) {
            return;
        }
        uint32_t ci = best_contact(acd, ai, avail);
        if (!ci) {
            return;
        }
        if (blend__acd_is_ring(acd, &acd->contacts[ci])) {
            ring_all(acd, ci);
        } else {
            blend__acd_offer_make(acd, ci, ai);
        }
    }
}

void blend__acd_settle(struct blend_acd *acd)
{
    /* Offering a contact reads the available-agent treaps: bring them up to date first. Serving
     * agents reads only the groups (and the agent's own state), so when no contact is dirty the
     * freed agents are served before being re-keyed: an agent that takes a contact at once
     * (the common case) is then never inserted into and removed from all its treaps. Ring-all
     * flushes before collecting. */
    if (acd->dirty_contacts_count > 0) {
        blend__acd_index_flush(acd);
    }
    sort_idx(acd, acd->dirty_contacts, acd->dirty_contacts_count, contact_less);
    for (size_t i = 0; i < acd->dirty_contacts_count; i++) {
        uint32_t ci = acd->dirty_contacts[i];
        if (acd->contacts[ci].is_used) {
            try_offer_contact(acd, ci);
        }
    }
    sort_idx(acd, acd->dirty_agents, acd->dirty_agents_count, agent_less);
    for (size_t i = 0; i < acd->dirty_agents_count; i++) {
        serve_agent(acd, acd->dirty_agents[i]);
    }
    blend__acd_index_flush(acd);
    acd->dirty_contacts_count = 0;
    acd->dirty_agents_count = 0;
    acd->dirty_gen++;
}

void blend__acd_serve_all(struct blend_acd *acd)
{
    /* Reconfiguration: every ready agent, ascending id (docs/routing.md §When decisions
     * happen). Contacts marked dirty by the same event are covered by this pass. */
    acd->dirty_contacts_count = 0;
    acd->dirty_agents_count = 0;
    acd->dirty_gen++;
    for (size_t i = 1; i <= acd->lim.agents_max; i++) {
        if (acd->agents[i].is_used && acd->agents[i].presence == BLEND_PRESENCE_READY) {
            blend__acd_dirty_agent(acd, (uint32_t)i);
        }
    }
    blend__acd_settle(acd);
}
