/*
 * Private state of the fast ACD engine, shared by its files. Every table is an array sized once
 * in blend_acd_create() and addressed by 32-bit indexes (0 = none, so index 0 of every pool is
 * a sentinel); nothing allocates afterwards.
 *
 * Indexes (see docs/routing.md for the rules they serve):
 *  - A *slot* is one skill requirement of one queue: its base requirement (step 0) or the
 *    requirement of a relaxation step that sets skills. For every slot and channel the engine
 *    keeps a treap of the agents that meet the requirement, take the channel and are AVAILABLE
 *    on it now, ordered by the owning queue's strategy key (k1, k2, agent id). A *membership*
 *    (agent, slot, channel) exists while the agent meets the requirement and has capacity on
 *    the channel; it is the treap node, in the tree only while the agent is available.
 *  - Waiting contacts live in *groups*: one per (queue, channel, step, own priority, own
 *    skills), ordered by (first join, contact id): a list of the contacts that arrived in that
 *    order (nearly all) and a treap of the others (struct acd_group). Within a group effective priority is
 *    monotone in age, so the group's first eligible contact is the best of the group; an agent
 *    compares the heads of the groups it is eligible for.
 *  - A contact's own required skills (sorted by skill id, so equal sets compare equal) are part
 *    of its group's key. Groups of contacts with own skills live in a separate list per
 *    (queue, channel) (ogroups), outside the inline heads and bounds: the groups of contacts
 *    without own skills keep their inline heads and bounds whatever own-skill contacts wait.
 *    An agent searches the own-skill groups of a (queue, channel) (flag has_own in acd->qb)
 *    after the others, skipping those whose own skills it does not meet (the skills in
 *    acd->group_own); a contact with own skills searching an available-agent treap skips the
 *    agents that do not meet them (see acd_route.c). Contacts without own skills take none of
 *    these paths.
 *  - Contacts bound to a sticky agent during their window are not in groups but in that agent's
 *    sticky list (they are eligible for nobody else).
 * Invariant: a membership is in its treap iff its agent is available on its channel, with the
 * key computed from the agent's current state; a contact is in a group iff it is waiting and
 * not sticky-restricted. Within a step, handlers only mark agents for re-keying
 * (blend__acd_agent_reindex); the marks are applied before any decision reads a treap and at
 * the end of every step, so the invariant holds between steps and wherever a treap is read.
 * A group caches its head (first contact, with its key) and counts its contacts that hold a
 * decline, so that an agent compares group heads without touching the contacts. While a
 * (queue, channel) has at most ACD_QCH_INLINE groups, the queue keeps a copy of their heads
 * inline (gsum) and a bound on their effective priority (struct acd_qbound): an agent who frees
 * up computes one bound per (queue, channel) it is eligible for, searches the best one first,
 * and reads the heads of another only when its bound can still beat the contact found. The
 * bounds are copied into a dense array (struct acd_qchb), and each agent keeps the distinct
 * (queue, channel)s of its memberships in a short contiguous list (struct acd_elig), so that
 * this pass reads a few lines rather than one list node and one queue per (queue, channel).
 * Both copies are rebuilt wherever their sources change and asserted by blend_acd_check().
 */
#ifndef BLEND_ENGINE_ACD_ACD_INT_H
#define BLEND_ENGINE_ACD_ACD_INT_H

#include "engine/acd/acd.h"

#include <stddef.h>
#include <stdint.h>

/* Steps of a queue including step 0 (the base requirement). */
#define ACD_STEPS (BLEND_ACD_RELAX_STEPS_MAX + 1)
/* The window of least-occupied: contacts ended in the last hour. */
#define ACD_OCCUPIED_WINDOW_MS (3600 * 1000)
/* Handle times a queue remembers for AHT (docs/routing.md §EWT). */
#define ACD_AHT_SAMPLES 20
/* AHT of a queue without samples: its wrap-up time plus this. */
#define ACD_AHT_DEFAULT_MS (180 * 1000)
/* Memberships (agent, slot, channel) budgeted per agent when the exact worst case
 * (agents x queues x steps x channels) would be too large to allocate; AGENT_SET/QUEUE_SET
 * answer BLEND_ELIMIT beyond it. */
#define ACD_MEMBERSHIPS_PER_AGENT 64
/* Ring-all offers beyond the first of each contact budgeted per agent when the exact worst case
 * is too large (a ring-all fan-out stops there; see acd_route.c). */
#define ACD_EXTRA_OFFERS_PER_AGENT 8
/* Exact worst cases up to this many entries are allocated as such. */
#define ACD_EXACT_POOL_MAX (1u << 20)
/* Groups of one (queue, channel) whose indexes a queue keeps inline (beyond it, the list). */
#define ACD_QCH_INLINE 4
/* Distinct (queue, channel)s kept in an agent's eligibility list (struct acd_elig); an agent
 * with more is served by walking its memberships instead. */
#define ACD_ELIG_MAX 64
/* A (queue, channel) pair is indexed as queue index << ACD_QCH_SHIFT | channel (blend__acd_qch):
 * shifts, not a division by BLEND_CH_COUNT, in the loops of a decision. */
#define ACD_QCH_SHIFT 3
_Static_assert(BLEND_CH_COUNT <= (1 << ACD_QCH_SHIFT), "a channel fits the low bits");
/* k3 of a contact's node (acd->cnodes) while it is in its group's list rather than its treap
 * (acd_route.c; the treap's nodes have k3 = 0). */
#define ACD_IN_LIST 1
/* Cache line size: the tables are aligned to it (blend__acd_table_alloc) so that a record's
 * first line holds its hot fields, not a straddle of two. */
#define ACD_LINE_BYTES 64
/* Deepest treap walk kept on an explicit stack (expected depth is ~2 log2 n). */
#define ACD_TREAP_DEPTH_MAX 128

enum acd_key_kind {
    ACD_KEY_IDLE = 0,  /* (0, free_since, id): longest-idle, ring-all */
    ACD_KEY_SKILLED,   /* (-proficiency sum, free_since, id) */
    ACD_KEY_OCCUPIED,  /* (handle time in the last hour, free_since, id) */
    ACD_KEY_FEWEST,    /* (contacts handled since login, free_since, id) */
    ACD_KEY_ROBIN,     /* (0, 0, id) */
};

/* A treap node; the key is (k1, k2, k3) with k3 the entity id, unique within one tree. */
struct acd_tnode {
    int64_t k1, k2, k3;
    uint32_t left, right, prio;
};

struct acd_slot {
    int is_used;
    uint32_t queue;
    int is_base;
    enum acd_key_kind kind;
    uint8_t skills_count;
    uint16_t steps_mask; /* bit k set when the owning queue's step k uses this slot */
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
    uint32_t root[BLEND_CH_COUNT]; /* available member agents, by key */
};

struct acd_member {
    uint32_t agent, slot;
    uint8_t ch;
    uint8_t in_tree;
    uint8_t is_base;     /* copies of the slot's fields read by best_contact (set at creation; */
    uint16_t steps_mask; /* a slot never changes while it has memberships) */
    uint32_t queue;
    uint32_t next; /* next membership of the agent, or next free */
};

/* One entry of an agent's eligibility list: a (queue, channel) the agent's memberships make it
 * eligible for, with the union of the steps' bits (what best_contact would gather from the
 * memberships, in a few contiguous lines instead of a list). Kept for every agent whose
 * memberships change (blend__acd_elig_build); queues added by relaxation steps are not in it. */
struct acd_elig {
    uint32_t qch; /* blend__acd_qch(queue index, channel) */
    uint16_t bits;
    uint8_t ch;
};

struct acd_hist {
    int64_t end_ms;
    int64_t handle_ms;
};

/* The fields read by availability, strategy keys and decisions come first (one cache line);
 * the least-occupied history is kept outside (blend_acd.hist) so that an agent is a few lines,
 * not a page: a decision touches several random agents. */
struct acd_agent {
    _Alignas(ACD_LINE_BYTES) enum blend_acd_presence presence; /* an agent starts a line */
    uint8_t active[BLEND_CH_COUNT]; /* connected contacts + engagements: what holds capacity */
    uint8_t offered[BLEND_CH_COUNT];
    uint8_t capacity[BLEND_CH_COUNT]; /* copies of cfg's (agent_configure keeps them equal) */
    uint8_t is_voice_exclusive;
    uint16_t elig_count;      /* entries of the eligibility list; > ACD_ELIG_MAX: not kept */
    uint32_t members;         /* membership list */
    uint32_t members_in_tree; /* memberships of the list currently in their treap */
    uint32_t offers;          /* offer list (doubly linked through offers) */
    uint32_t sticky;          /* contacts bound to this agent (doubly linked through contacts) */
    int32_t handled;
    int32_t no_answer;
    int64_t id; /* cfg.id */
    int64_t occupied_ms;
    int64_t free_since[BLEND_CH_COUNT];
    /* Least-occupied history: ring of contacts ended in the last hour, in blend_acd.hist
     * (blend__acd_hist_at); hist_expiry_ms is when its oldest entry leaves the window (the
     * expiry heap's key, kept here so that the heap reads no history). */
    int64_t hist_expiry_ms;
    uint16_t hist_head, hist_count;
    uint32_t heap_pos; /* position in the expiry heap + 1, 0 = absent */
    int64_t since_ms;
    int64_t wrap_due_ms;
    int is_used;
    int has_pending_nr; /* asked for not-ready during wrap-up */
    struct blend_acd_agent_config cfg;
    char reason[BLEND_ACD_REASON_BYTES];
    char pending_reason[BLEND_ACD_REASON_BYTES];
    /* AGENT_ENGAGE units per channel, counted in active too (cold: read only by engage,
     * release, an attended transfer and the views, so kept off the hot line). */
    uint8_t engaged[BLEND_CH_COUNT];
};

/* A group's head as an agent's decision reads it (a copy kept in the group's queue). */
struct acd_gsum {
    int64_t head_enqueued_ms, head_id;
    uint32_t group;
    uint32_t head; /* 0 when the group is empty */
    int32_t level;
    uint8_t step;
    uint8_t has_declined; /* some contact of the group holds a decline */
};

/* The bound best_contact reads first for one channel of a queue: over the inline heads of
 * the channel, the head whose effective priority is the highest at every instant (own priority
 * x 60,000 - first join x acceleration is the largest, and the floor in the priority formula
 * is monotone), given by its own priority and first join; level_top == INT32_MIN: no head. */
struct acd_qbound {
    int64_t enqueued_top;
    int32_t level_top;
};

/* What best_contact reads first for one (queue, channel), in a dense array so that bounding
 * ~40 queues reads a few lines: a copy of the queue's bound (acd_route.c qb_refresh keeps it
 * equal to the queue's fields). The array is channel-major (blend__acd_qb_at): the entries of
 * the channel most contacts use sit together, two to a line, rather than one line per queue. */
struct acd_qchb {
    int64_t enqueued_top; /* bound[ch].enqueued_top */
    int64_t enqueued_min; /* enqueued_min[ch] */
    int32_t base_top;     /* priority + bound[ch].level_top; INT32_MIN: no head; INT32_MAX:
                             is_many (acceleration and cap 0 in both cases) */
    int32_t acceleration_per_min, max_priority;
    uint8_t is_many; /* gcount[ch] > ACD_QCH_INLINE: no bound (always searched) */
    uint8_t has_own; /* ogroups[ch] != 0: own-skill groups to search after the bounded pass */
};

/* The bound of the own-skill groups of one (queue, channel) (acd->qob, indexed by
 * blend__acd_qch), as struct acd_qbound over their heads: the head whose effective priority is
 * the highest at every instant, and the earliest first join among the heads; level_top ==
 * INT32_MIN: no head. Kept apart from acd_qchb so that contacts without own skills read no
 * more than before. */
struct acd_qob {
    int64_t enqueued_top, enqueued_min;
    int32_t level_top;
};

/* The fields that decisions and offers read come first, in one cache line (the table is
 * aligned to ACD_LINE_BYTES and so is every queue): the priority copies and group counts that
 * a decision reads, and copies of the cfg fields that an offer, an end and an effect read
 * (ev_queue_set keeps them equal to cfg's; blend_acd_check asserts it). Each channel's inline
 * group heads follow, two lines per channel, so that searching a queue reads line 0 and the
 * channel's first heads. The bounds, copied into the dense array acd->qb where decisions read
 * them, come after. */
struct acd_queue {
    uint32_t adders; /* list of (queue, from step) that add this queue's agents */
    int32_t priority, acceleration_per_min, max_priority; /* copies of cfg's */
    uint16_t gcount[BLEND_CH_COUNT];                      /* groups in each channel's list */
    uint8_t is_ring_all;                                  /* cfg.strategy is RING_ALL */
    int32_t contacts;         /* contacts in the queue (waiting, offered, connected) */
    int64_t id;               /* cfg.id */
    int64_t offer_timeout_ms; /* cfg's */
    int64_t wrapup_ms;        /* cfg's */
    int64_t last_robin_id;
    /* When gcount[ch] <= ACD_QCH_INLINE: a copy of the head of every group of that list, in
     * any order, so that a decision reads two lines per queue instead of chasing the list
     * through one line per group (acd_route.c gsum_sync keeps them equal). */
    _Alignas(ACD_LINE_BYTES) struct acd_gsum gsum[BLEND_CH_COUNT][ACD_QCH_INLINE];
    uint32_t groups[BLEND_CH_COUNT]; /* waiting groups of each channel (list) */
    uint32_t ogroups[BLEND_CH_COUNT]; /* waiting groups with own skills (list, not counted in
                                         gcount nor kept inline) */
    struct acd_qbound bound[BLEND_CH_COUNT];
    int64_t enqueued_min[BLEND_CH_COUNT]; /* the earliest first join of the inline heads */
    int is_used;
    struct blend_acd_queue_config cfg;
    int64_t reoffer_ms;       /* cfg.reoffer_delay_ms, or the offer timeout when 0 */
    uint32_t slot[ACD_STEPS]; /* requirement slot of each step */
    int64_t aht_ms[ACD_AHT_SAMPLES];
    int aht_count, aht_head;
};

struct acd_adder {
    uint32_t queue; /* the queue whose step adds us */
    uint8_t from_step;
    uint32_t next;
};

/* One line (the table is aligned), the fields read when an agent compares group heads first.
 * The group's contacts in key order (first join, id) are split between a list (list_head ..
 * list_tail, linked through their cnodes' left/right, k3 = ACD_IN_LIST), which holds those
 * that joined after every contact listed before them, and a treap (root, k3 = 0) of the
 * others; head is the first of both (acd_route.c). */
struct acd_group {
    uint32_t next; /* in the queue's list for the channel; next free */
    uint8_t ch, step;
    uint8_t pos;    /* index in the queue's gsum[ch] while that array is in use */
    uint8_t has_own; /* the contacts' own skills are acd->group_own[this group] */
    int32_t level;  /* the contacts' own priority */
    uint32_t head;  /* first contact of the group, 0 when empty */
    uint32_t declined; /* contacts of the group with a non-empty decline list */
    int64_t head_enqueued_ms, head_id; /* the head's key (first join, id) */
    uint32_t queue;
    uint32_t root;
    uint32_t count;
    uint32_t prev;
    uint32_t list_head, list_tail;
};

struct acd_decline {
    uint32_t agent;
    int64_t until_ms;
};

/* A contact's own required skills (docs/routing.md §Queues and eligibility), sorted by skill
 * id: the same set is the same bytes below count. */
struct acd_own {
    uint8_t count;
    struct blend_acd_skill_req skills[BLEND_ACD_QUEUE_SKILLS_MAX];
};

/* The fields read by decisions, offers and group changes come first (one cache line, the
 * table being aligned): offering a waiting contact reads and writes that line only. The clocks
 * of the stay and the decline list follow. */
struct acd_contact {
    _Alignas(ACD_LINE_BYTES) int64_t id; /* a contact starts a line */
    int64_t enqueued_ms;                 /* first join */
    int64_t offer_due_ms;
    uint32_t queue;
    uint32_t group;
    uint32_t offers; /* outstanding offers (through acd_offer.next_c) */
    uint32_t agent;  /* connected agent */
    int32_t own_priority;
    uint32_t sticky_agent; /* bound during the window */
    uint32_t offers_count;
    uint8_t is_used;
    uint8_t ch;
    uint8_t state; /* enum blend_acd_contact_state */
    uint8_t step;
    uint8_t is_callback;
    uint8_t is_direct;       /* OFFERED to the one agent a transfer named (docs/routing.md
                                §Transfers): nobody else is offered it meanwhile */
    uint8_t is_rung;         /* offered to several agents by ring-all (kept through a
                                reconfiguration of the queue until its offers are gone) */
    uint8_t is_overflow_due; /* max wait reached while offered */
    uint8_t armed;           /* bit (1 << timer kind) per timer armed for this contact */
    uint8_t declined_count;
    uint8_t own_count; /* own required skills: acd->contact_own[this contact] (count equal) */
    int64_t qjoin_ms; /* joined the current queue: relaxation, max wait and sticky count
                         from here */
    int64_t customer;
    int64_t connect_ms;
    int64_t sticky_until_ms;
    uint32_t sticky_next, sticky_prev;
    int32_t position_min; /* 0 = none computed yet */
    uint32_t dirty_stamp;
    int64_t ewt_min_ms;
    /* Entries below declined_count only (acd.c contact_clear leaves the rest as they were). */
    struct acd_decline declined[BLEND_ACD_DECLINED_MAX];
};

struct acd_offer {
    uint32_t contact, agent;
    uint32_t next_c;         /* contact's list; next free */
    uint32_t next_a, prev_a; /* agent's list */
};

struct acd_cust {
    int64_t customer;
    int64_t agent_id;
    uint32_t lru_prev, lru_next;
};

/* Open-addressing id -> index map (linear probing, backward-shift deletion, no tombstones).
 * Key and value share an entry so that a lookup reads one cache line, not two. */
struct acd_map_entry {
    int64_t key; /* 0 = empty */
    uint32_t val;
};
struct acd_map {
    struct acd_map_entry *e;
    size_t mask;
};

_Static_assert(offsetof(struct acd_contact, qjoin_ms) <= ACD_LINE_BYTES,
               "the fields an offer reads and writes fill the contact's first line");
_Static_assert(sizeof(struct acd_group) == ACD_LINE_BYTES, "a group is one line");
_Static_assert(offsetof(struct acd_queue, gsum) == ACD_LINE_BYTES,
               "the fields decisions and offers read fill the queue's first line");

struct blend_acd {
    struct blend_acd_limits lim;
    int64_t now_ms;

    struct acd_agent *agents;
    /* Least-occupied histories, position-major: entry k of agent ai's ring is
     * hist[k x (agents_max + 1) + ai] (blend__acd_hist_at), so that agents with rings of similar
     * length write to the same few pages, not one page per agent. */
    struct acd_hist *hist;
    struct acd_elig *elig; /* ACD_ELIG_MAX per agent index (struct acd_agent) */
    struct acd_map agent_map;
    uint32_t *agent_free; /* stack of free agent indexes */
    size_t agent_free_count;

    struct acd_queue *queues;
    struct acd_map queue_map;
    uint32_t *queue_free;
    size_t queue_free_count;
    struct acd_adder *adders;
    uint32_t adder_free;
    size_t adders_count; /* in use: while 0 no queue adds another's agents */

    struct acd_slot *slots;
    uint32_t slot_free_hint;
    size_t slots_max;

    struct acd_member *members;
    struct acd_tnode *mnodes; /* treap nodes of memberships (same index) */
    uint32_t member_free;
    size_t members_max, members_used;

    struct acd_contact *contacts;
    /* Own skills of each contact (same index), read only while its own_count > 0: kept out of
     * struct acd_contact so that contacts without own skills keep their size and lines. */
    struct acd_own *contact_own;
    struct acd_tnode *cnodes; /* treap nodes of contacts in groups (same index) */
    struct acd_map contact_map;
    uint32_t *contact_free;
    size_t contact_free_count;

    struct acd_group *groups;
    struct acd_own *group_own; /* per group: its contacts' own skills (when has_own) */
    uint32_t group_free;

    struct acd_offer *offers;
    uint32_t offer_free;
    size_t offers_extra_max, offers_extra_used;

    struct acd_cust *custs;
    struct acd_map cust_map;
    uint32_t cust_lru_head, cust_lru_tail; /* head = most recent */
    uint32_t *cust_free;
    size_t cust_free_count;

    /* Least-occupied expiry heap: agents by the time their oldest history entry leaves the
     * one-hour window. */
    uint32_t *heap;
    size_t heap_count;

    /* Scratch, sized at create. */
    uint32_t stamp;
    uint32_t *agent_stamp;     /* per agent */
    uint32_t *dirty_contacts;  /* contacts to (re)offer at the end of the step */
    size_t dirty_contacts_count;
    uint32_t *dirty_agents;
    size_t dirty_agents_count;
    uint32_t *agent_dirty_stamp;
    uint32_t dirty_gen;
    uint16_t *qmask;           /* per (queue, channel): eligible steps bit set */
    struct acd_qchb *qb;       /* per (queue, channel): bounds (struct acd_qchb) */
    struct acd_qob *qob;       /* per (queue, channel): own-skill groups' bound */
    uint32_t *qtouched;
    int32_t *qbound; /* per qtouched entry: the bound on its heads' priority */
    uint16_t *qbits; /* per qtouched entry: the eligible steps */
    uint32_t *qcand; /* qtouched entries to search first */
    size_t qtouched_count;
    uint32_t *pick;            /* ring-all candidates */
    /* Agents whose treap memberships must be brought up to date before the next decision
     * (blend__acd_agent_reindex defers; blend__acd_index_flush applies). */
    uint32_t *reindex_list;
    size_t reindex_count;
    uint8_t *reindex_pending;  /* per agent */

    struct blend_acd_effects *fx;

    /* Counters for invariant 5. */
    uint64_t arrived, ended, abandoned, voicemailed;
};

/* The own skills of contact c (meaningful while c->own_count > 0). */
static inline const struct acd_own *blend__acd_own_of(const struct blend_acd *acd,
                                                      const struct acd_contact *c)
{
    return &acd->contact_own[c - acd->contacts];
}

/* The index of (queue index qi, channel ch) in qmask, the eligibility lists and qtouched. */
static inline uint32_t blend__acd_qch(uint32_t qi, unsigned ch)
{
    return qi << ACD_QCH_SHIFT | ch;
}

/* The acd->qb entry of (queue, channel) qch (blend__acd_qch). */
static inline struct acd_qchb *blend__acd_qb_at(const struct blend_acd *acd, uint32_t qch)
{
    return &acd->qb[(size_t)(qch & ((1u << ACD_QCH_SHIFT) - 1)) * (acd->lim.queues_max + 1) +
                    (qch >> ACD_QCH_SHIFT)];
}

/* ---- acd_index.c: tables, maps, treaps, heap ---- */
/* A zeroed table of count x size bytes aligned to ACD_LINE_BYTES (one blend_calloc), or NULL
 * when memory is exhausted or the size overflows; returned owned, freed by
 * blend__acd_table_free (NULL is ignored). */
void *blend__acd_table_alloc(size_t count, size_t size);
void blend__acd_table_free(void *table);
int blend__acd_map_init(struct acd_map *m, size_t max);
void blend__acd_map_deinit(struct acd_map *m);
uint32_t blend__acd_map_get(const struct acd_map *m, int64_t key);
void blend__acd_map_put(struct acd_map *m, int64_t key, uint32_t val);
void blend__acd_map_del(struct acd_map *m, int64_t key);

int blend__acd_tkey_cmp(const struct acd_tnode *a, const struct acd_tnode *b);
void blend__acd_treap_insert(struct acd_tnode *pool, uint32_t *root, uint32_t idx);
void blend__acd_treap_remove(struct acd_tnode *pool, uint32_t *root, uint32_t idx);
uint32_t blend__acd_treap_first(const struct acd_tnode *pool, uint32_t root);
/* Removes the first node of a non-empty treap (the tree blend__acd_treap_remove would leave)
 * and returns the new first node, or 0 when the treap is now empty. */
uint32_t blend__acd_treap_pop_first(struct acd_tnode *pool, uint32_t *root);
/* Smallest node whose key is strictly greater than (k1, k2, k3). */
uint32_t blend__acd_treap_after(const struct acd_tnode *pool, uint32_t root, int64_t k1,
                                int64_t k2, int64_t k3);
/* Asserts BST order and heap order; returns the node count. */
size_t blend__acd_treap_check(const struct acd_tnode *pool, uint32_t root);

void blend__acd_heap_update(struct blend_acd *acd, uint32_t agent);
void blend__acd_heap_remove(struct blend_acd *acd, uint32_t agent);
uint32_t blend__acd_heap_top(const struct blend_acd *acd);
int64_t blend__acd_agent_expiry(const struct acd_agent *a);

/* ---- acd_agents.c: availability and the available-agent index ---- */
/* Entry k (0 .. BLEND_ACD_HISTORY_MAX - 1) of agent ai's history ring. */
struct acd_hist *blend__acd_hist_at(const struct blend_acd *acd, uint32_t ai, size_t k);
/* Agent a's proficiency in `skill`, 0 when they do not hold it. */
int blend__acd_proficiency(const struct acd_agent *a, uint16_t skill);
int blend__acd_agent_meets(const struct acd_agent *a, const struct blend_acd_skill_req *req,
                           int count);
int blend__acd_agent_available(const struct acd_agent *a, int ch);
/* Bit ch set when blend__acd_agent_available(a, ch). */
unsigned blend__acd_agent_avail_mask(const struct acd_agent *a);
/* Marks the agent's memberships for re-keying; applied by blend__acd_index_flush() (at the
 * start of every decision pass) or at once by blend__acd_agent_reindex_now(). */
void blend__acd_agent_reindex(struct blend_acd *acd, uint32_t ai);
void blend__acd_agent_reindex_now(struct blend_acd *acd, uint32_t ai);
void blend__acd_index_flush(struct blend_acd *acd);
void blend__acd_agent_key(const struct blend_acd *acd, uint32_t ai, const struct acd_slot *s,
                          int ch, struct acd_tnode *out);
int blend__acd_members_rebuild_agent(struct blend_acd *acd, uint32_t ai);
void blend__acd_members_drop_agent(struct blend_acd *acd, uint32_t ai);
/* Rebuilds agent ai's eligibility list from its memberships. */
void blend__acd_elig_build(struct blend_acd *acd, uint32_t ai);
int blend__acd_queue_slots_build(struct blend_acd *acd, uint32_t qi,
                                 const struct blend_acd_queue_config *cfg);
void blend__acd_queue_slots_drop(struct blend_acd *acd, uint32_t qi);
void blend__acd_adders_rebuild(struct blend_acd *acd);
void blend__acd_occupied_expire(struct blend_acd *acd, int64_t now_ms);
void blend__acd_hist_push(struct blend_acd *acd, uint32_t ai, int64_t end_ms, int64_t handle_ms);

/* ---- acd_route.c: decisions ---- */
const struct blend_acd_skill_req *blend__acd_req(const struct blend_acd *acd,
                                                const struct acd_contact *c, int *count);
int blend__acd_eligible(const struct blend_acd *acd, uint32_t ai, uint32_t ci);
int blend__acd_is_restricted(const struct blend_acd *acd, const struct acd_contact *c);
int32_t blend__acd_priority(const struct blend_acd *acd, const struct acd_contact *c);
/* Effective priority now of a contact of queue q with own priority `level` first joined at
 * enqueued_ms. */
int32_t blend__acd_group_priority(const struct blend_acd *acd, const struct acd_queue *q,
                                  int32_t level, int64_t enqueued_ms);
int blend__acd_rank_cmp(const struct blend_acd *acd, uint32_t a, uint32_t b);
void blend__acd_wait_enter(struct blend_acd *acd, uint32_t ci);
/* Copies group g's head and decline flag into its queue's inline summary (when kept). */
void blend__acd_gsum_sync(struct blend_acd *acd, uint32_t g);
/* Recomputes queue qi's bounds over its inline heads (its acceleration changed). */
void blend__acd_gsum_rebound(struct blend_acd *acd, uint32_t qi);
void blend__acd_wait_leave(struct blend_acd *acd, uint32_t ci);
void blend__acd_dirty_contact(struct blend_acd *acd, uint32_t ci);
void blend__acd_dirty_agent(struct blend_acd *acd, uint32_t ai);
void blend__acd_settle(struct blend_acd *acd);
void blend__acd_serve_all(struct blend_acd *acd);
int blend__acd_is_ring(const struct blend_acd *acd, const struct acd_contact *c);
/* Whether agent ai meets contact c's own skills (always when it has none). */
int blend__acd_own_ok(const struct blend_acd *acd, const struct acd_contact *c, uint32_t ai);

/* ---- acd.c: effects, timers and contact life shared with routing ---- */
struct blend_acd_effect *blend__acd_fx(struct blend_acd *acd, enum blend_acd_effect_type t);
struct blend_acd_effect *blend__acd_fx_contact(struct blend_acd *acd,
                                               enum blend_acd_effect_type t, uint32_t ci,
                                               uint32_t ai);
void blend__acd_timer_set(struct blend_acd *acd, int kind, int64_t entity, int64_t due_ms);
void blend__acd_timer_cancel(struct blend_acd *acd, int kind, int64_t entity);
void blend__acd_offer_make(struct blend_acd *acd, uint32_t ci, uint32_t ai);
int blend__acd_offer_extra_ok(const struct blend_acd *acd);

#endif
