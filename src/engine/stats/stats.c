/*
 * Stats fold (see stats.h and docs/kpis.md). Three fixed tables sized at create: queues, agents
 * and contacts (a pool with a free list), each found by id through an open-addressing index
 * with linear probing (contacts are removed by backward shift, so no tombstones build up).
 *
 * A tracked contact is in exactly one phase: waiting, callback waiting, offered (at least one
 * outstanding offer) or connected. Every change of a contact goes detach -> change -> attach,
 * which keeps its queue's live counts and the queue's list of unconnected contacts (walked only
 * by the longest-wait query) exact. A contact leaves the table when its ACD stay ends: ended,
 * abandoned, or overflowed to voicemail.
 *
 * An agent's logged-in time is cut into segments at every effect that changes its category
 * (busy, ready idle, not ready by reason); the open segment is credited on the next change, on
 * a window reset (which moves its start) or, without being stored, by a query up to now_ms.
 *
 * Effects of one engine step share at_ms and their order within a step is not relied upon:
 * AGENT_STATE(wrap-up) may come before or after the ENDED that caused it, QUEUED(new queue)
 * before or after OVERFLOW(queue), WITHDRAWN before or after the CONNECTED or ABANDONED that
 * caused it, a transfer's QUEUED (and its direct OFFER) before or after its ENDED(is_transfer).
 * Each pair is folded the same way in either order.
 */
#include "engine/stats/stats.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NONE UINT32_MAX
#define REASON_SLOTS (BLEND_STATS_REASONS_MAX + 1) /* named reasons, then "(other)" */

enum phase { PH_WAITING, PH_CB_WAITING, PH_OFFERED, PH_CONNECTED };

/* Pairing of the two effects of one overflow to a queue (see on_queued and on_overflow), and
 * of one transfer (ENDED marked is_transfer and the QUEUED of the new stay, see on_ended). */
enum pending { PEND_NONE, PEND_MOVED, PEND_OVERFLOW, PEND_XFER_QUEUED, PEND_XFER_ENDED };

enum category { CAT_OUT, CAT_BUSY, CAT_IDLE, CAT_NOT_READY };

struct index {
    int64_t *keys; /* 0 = empty slot (ids are > 0) */
    uint32_t *vals;
    size_t mask;
};

struct contact {
    int64_t id; /* 0 = free slot */
    uint32_t queue;
    uint32_t agent; /* while connected */
    uint32_t prev;  /* queue list of unconnected contacts; next doubles as the free list */
    uint32_t next;
    enum blend_channel channel;
    int32_t offers;
    int is_callback;
    int is_connected;
    enum pending pending;
    int64_t pending_at_ms;
    int64_t first_join_ms;
    int64_t connected_ms;
    uint32_t xfer_queue; /* PEND_XFER_QUEUED: the queue of the new stay */
};

struct queue {
    int64_t id;
    int64_t short_abandon_ms;
    int64_t sl_target_ms;
    double sl_pct;
    int32_t waiting;
    int32_t callbacks_waiting;
    int32_t offered_now;
    int32_t connected_now;
    uint32_t head; /* unconnected contacts */
    struct blend_stats_queue_figures win;
    struct blend_stats_queue_figures bucket[BLEND_STATS_BUCKETS];
    int64_t bucket_minute[BLEND_STATS_BUCKETS];
};

struct agent {
    int64_t id;
    enum blend_acd_presence presence;
    uint32_t reason; /* interned, while not ready */
    int32_t connected;
    int64_t seg_start_ms;
    int is_wrapping;
    int64_t wrap_start_ms;
    int has_last; /* the contact that ended last: its wrap-up is attributed to it */
    uint32_t last_queue;
    enum blend_channel last_channel;
    /* Window figures. */
    int64_t handled;
    int64_t talk_ms;
    int64_t acw_ms;
    int64_t handled_ch[BLEND_CH_COUNT];
    int64_t handle_ms_ch[BLEND_CH_COUNT];
    int64_t busy_ms;
    int64_t idle_ms;
    int64_t not_ready_ms;
    int64_t reason_ms[REASON_SLOTS];
};

struct blend_stats {
    struct blend_stats_limits limits;
    int64_t last_at_ms;
    int64_t window_start_ms;
    struct queue *queues;
    size_t queues_count;
    struct index queue_index;
    struct agent *agents;
    size_t agents_count;
    struct index agent_index;
    struct contact *contacts;
    uint32_t contact_free;
    size_t contacts_used;
    struct index contact_index;
    char reasons[BLEND_STATS_REASONS_MAX][BLEND_ACD_REASON_BYTES];
    size_t reasons_count;
};

/* The int64 counters of struct blend_stats_queue_figures, for sums over buckets. */
#define FIG(field) offsetof(struct blend_stats_queue_figures, field)
static const size_t fig_fields[] = {
    FIG(arrivals),
    FIG(overflowed_in),
    FIG(offered),
    FIG(answered),
    FIG(abandoned),
    FIG(short_abandoned),
    FIG(answered_within),
    FIG(abandoned_within),
    FIG(wait_answered_ms),
    FIG(callbacks_requested),
    FIG(callbacks_answered),
    FIG(overflowed_out),
    FIG(overflowed_voicemail),
    FIG(overflowed_callback),
    FIG(transferred),
    FIG(handled),
    FIG(talk_ms),
    FIG(hold_ms),
    FIG(acw_ms),
};
/* Every counter is listed: they are the int64 fields ahead of the first ratio. */
_Static_assert(sizeof fig_fields / sizeof fig_fields[0] * sizeof(int64_t) == FIG(service_level),
               "fig_fields lists every counter of struct blend_stats_queue_figures");

/* ---- Index ------------------------------------------------------------------------------ */

static int index_init(struct index *x, size_t max)
{
    size_t cap = 16;
    while (cap < 2 * max) {
        cap *= 2;
    }
    x->keys = blend_calloc(cap, sizeof *x->keys);
    x->vals = blend_calloc(cap, sizeof *x->vals);
    x->mask = cap - 1;
    return x->keys && x->vals ? 0 : BLEND_ENOMEM;
}

static void index_deinit(struct index *x)
{
    blend_free(x->keys);
    blend_free(x->vals);
}

static size_t index_home(const struct index *x, int64_t key)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    h ^= h >> 31;
    return (size_t)h & x->mask;
}

/* Slot of key, or of the empty slot where it would go. */
static size_t index_slot(const struct index *x, int64_t key)
{
    BLEND_ASSERT(key > 0);
    size_t i = index_home(x, key);
    while (x->keys[i] != 0 && x->keys[i] != key) {
        i = (i + 1) & x->mask;
    }
    return i;
}

static uint32_t index_get(const struct index *x, int64_t key)
{
    size_t i = index_slot(x, key);
    return x->keys[i] == key ? x->vals[i] : NONE;
}

/* The caller keeps entries below half the capacity, so an empty slot always exists. */
static void index_put(struct index *x, int64_t key, uint32_t val)
{
    size_t i = index_slot(x, key);
    BLEND_ASSERT(x->keys[i] == 0);
    x->keys[i] = key;
    x->vals[i] = val;
}

static void index_del(struct index *x, int64_t key)
{
    size_t i = index_slot(x, key);
    BLEND_ASSERT(x->keys[i] == key);
    size_t j = i;
    for (;;) {
        j = (j + 1) & x->mask;
        if (x->keys[j] == 0) {
            break;
        }
        size_t home = index_home(x, x->keys[j]);
        /* An entry whose home lies cyclically in (i, j] must stay where it is. */
        if (((j - home) & x->mask) < ((j - i) & x->mask)) {
            continue;
        }
        x->keys[i] = x->keys[j];
        x->vals[i] = x->vals[j];
        i = j;
    }
    x->keys[i] = 0;
}

/* ---- Create / destroy ------------------------------------------------------------------- */

int blend_stats_create(const struct blend_stats_limits *limits, struct blend_stats **out)
{
    BLEND_ASSERT(limits != NULL && out != NULL);
    if (limits->queues_max == 0 || limits->queues_max > BLEND_STATS_QUEUES_MAX ||
        limits->agents_max == 0 || limits->agents_max > BLEND_STATS_AGENTS_MAX ||
        limits->contacts_max == 0 || limits->contacts_max > BLEND_STATS_CONTACTS_MAX) {
        return BLEND_EINVAL;
    }
    struct blend_stats *s = blend_calloc(1, sizeof *s);
    if (s == NULL) {
        return BLEND_ENOMEM;
    }
    s->limits = *limits;
    s->queues = blend_calloc(limits->queues_max, sizeof *s->queues);
    s->agents = blend_calloc(limits->agents_max, sizeof *s->agents);
    s->contacts = blend_calloc(limits->contacts_max, sizeof *s->contacts);
    int rc = 0;
    if (s->queues == NULL || s->agents == NULL || s->contacts == NULL) {
        rc = BLEND_ENOMEM;
    }
    int rc_q = index_init(&s->queue_index, limits->queues_max);
    int rc_a = index_init(&s->agent_index, limits->agents_max);
    int rc_c = index_init(&s->contact_index, limits->contacts_max);
    if (rc != 0 || rc_q != 0 || rc_a != 0 || rc_c != 0) {
        blend_stats_destroy(s);
        return BLEND_ENOMEM;
    }
    for (size_t i = 0; i < limits->contacts_max; i++) {
        s->contacts[i].next = i + 1 < limits->contacts_max ? (uint32_t)(i + 1) : NONE;
    }
    s->contact_free = 0;
    *out = s;
    return 0;
}

void blend_stats_destroy(struct blend_stats *stats)
{
    if (stats == NULL) {
        return;
    }
    index_deinit(&stats->queue_index);
    index_deinit(&stats->agent_index);
    index_deinit(&stats->contact_index);
    blend_free(stats->queues);
    blend_free(stats->agents);
    blend_free(stats->contacts);
    blend_free(stats);
}

/* ---- Queues ----------------------------------------------------------------------------- */

static struct blend_stats_queue_figures *bucket_for(struct queue *q, int64_t at_ms)
{
    BLEND_ASSERT(at_ms >= 0);
    int64_t minute = at_ms / BLEND_STATS_BUCKET_MS;
    size_t i = (size_t)(minute % BLEND_STATS_BUCKETS);
    if (q->bucket_minute[i] != minute) {
        memset(&q->bucket[i], 0, sizeof q->bucket[i]);
        q->bucket_minute[i] = minute;
    }
    return &q->bucket[i];
}

static void fig_add(struct blend_stats_queue_figures *f, size_t offset, int64_t v)
{
    int64_t *p = (int64_t *)(void *)((char *)f + offset);
    *p += v;
}

/* Adds v to one counter of the queue's window and of the last-hour bucket of at_ms. */
static void bump(struct queue *q, int64_t at_ms, size_t offset, int64_t v)
{
    fig_add(&q->win, offset, v);
    fig_add(bucket_for(q, at_ms), offset, v);
}
#define BUMP(q, at, field, v) bump((q), (at), FIG(field), (v))

/* Slot of queue id, registering it with the defaults when new; NONE when the table is full. */
static uint32_t queue_ensure(struct blend_stats *s, int64_t id)
{
    uint32_t slot = index_get(&s->queue_index, id);
    if (slot != NONE) {
        return slot;
    }
    if (s->queues_count == s->limits.queues_max) {
        return NONE;
    }
    slot = (uint32_t)s->queues_count++;
    struct queue *q = &s->queues[slot];
    memset(q, 0, sizeof *q);
    q->id = id;
    q->short_abandon_ms = BLEND_STATS_SHORT_ABANDON_MS_DEFAULT;
    q->sl_target_ms = BLEND_STATS_SL_TARGET_MS_DEFAULT;
    q->sl_pct = BLEND_STATS_SL_PCT_DEFAULT;
    q->head = NONE;
    for (size_t i = 0; i < BLEND_STATS_BUCKETS; i++) {
        q->bucket_minute[i] = -1;
    }
    index_put(&s->queue_index, id, slot);
    return slot;
}

int blend_stats_queue_config(struct blend_stats *stats, int64_t queue_id, int64_t short_abandon_ms,
                             int64_t sl_target_ms, double sl_pct)
{
    BLEND_ASSERT(stats != NULL);
    if (queue_id <= 0 || short_abandon_ms < 0 || sl_target_ms < 0 || !(sl_pct >= 0.0) ||
        !(sl_pct <= 100.0)) {
        return BLEND_EINVAL;
    }
    uint32_t slot = queue_ensure(stats, queue_id);
    if (slot == NONE) {
        return BLEND_ELIMIT;
    }
    struct queue *q = &stats->queues[slot];
    q->short_abandon_ms = short_abandon_ms;
    q->sl_target_ms = sl_target_ms;
    q->sl_pct = sl_pct;
    return 0;
}

/* ---- Contacts --------------------------------------------------------------------------- */

static enum phase phase_of(const struct contact *c)
{
    if (c->is_connected) {
        return PH_CONNECTED;
    }
    if (c->offers > 0) {
        return PH_OFFERED;
    }
    return c->is_callback ? PH_CB_WAITING : PH_WAITING;
}

static int32_t *phase_count(struct queue *q, enum phase p)
{
    switch (p) {
    case PH_WAITING:
        return &q->waiting;
    case PH_CB_WAITING:
        return &q->callbacks_waiting;
    case PH_OFFERED:
        return &q->offered_now;
    case PH_CONNECTED:
        return &q->connected_now;
    }
    BLEND_ASSERT(0);
    return NULL;
}

/* Counts the contact in its queue's live figures (and list, unless connected). */
static void attach(struct blend_stats *s, struct contact *c)
{
    struct queue *q = &s->queues[c->queue];
    enum phase p = phase_of(c);
    *phase_count(q, p) += 1;
    if (p != PH_CONNECTED) {
        uint32_t slot = (uint32_t)(c - s->contacts);
        c->prev = NONE;
        c->next = q->head;
        if (q->head != NONE) {
            s->contacts[q->head].prev = slot;
        }
        q->head = slot;
    }
}

static void detach(struct blend_stats *s, struct contact *c)
{
    struct queue *q = &s->queues[c->queue];
    enum phase p = phase_of(c);
    int32_t *n = phase_count(q, p);
    BLEND_ASSERT(*n > 0);
    *n -= 1;
    if (p != PH_CONNECTED) {
        if (c->prev != NONE) {
            s->contacts[c->prev].next = c->next;
        } else {
            q->head = c->next;
        }
        if (c->next != NONE) {
            s->contacts[c->next].prev = c->prev;
        }
        c->prev = NONE;
        c->next = NONE;
    }
}

static struct contact *contact_find(struct blend_stats *s, int64_t id)
{
    if (id <= 0) {
        return NULL;
    }
    uint32_t slot = index_get(&s->contact_index, id);
    return slot == NONE ? NULL : &s->contacts[slot];
}

/* Takes a free slot (the caller checked one exists). */
static struct contact *contact_new(struct blend_stats *s, int64_t id)
{
    uint32_t slot = s->contact_free;
    BLEND_ASSERT(slot != NONE);
    struct contact *c = &s->contacts[slot];
    s->contact_free = c->next;
    memset(c, 0, sizeof *c);
    c->id = id;
    c->agent = NONE;
    c->prev = NONE;
    c->next = NONE;
    index_put(&s->contact_index, id, slot);
    s->contacts_used++;
    return c;
}

/* Releases a detached contact. */
static void contact_free(struct blend_stats *s, struct contact *c)
{
    index_del(&s->contact_index, c->id);
    c->id = 0;
    c->next = s->contact_free;
    s->contact_free = (uint32_t)(c - s->contacts);
    s->contacts_used--;
}

/* ---- Agents ----------------------------------------------------------------------------- */

static uint32_t agent_ensure(struct blend_stats *s, int64_t id, int64_t at_ms)
{
    uint32_t slot = index_get(&s->agent_index, id);
    if (slot != NONE) {
        return slot;
    }
    if (s->agents_count == s->limits.agents_max) {
        return NONE;
    }
    slot = (uint32_t)s->agents_count++;
    struct agent *a = &s->agents[slot];
    memset(a, 0, sizeof *a);
    a->id = id;
    a->presence = BLEND_PRESENCE_LOGGED_OUT;
    a->seg_start_ms = at_ms;
    index_put(&s->agent_index, id, slot);
    return slot;
}

static enum category category_of(const struct agent *a)
{
    if (a->connected > 0 || a->presence == BLEND_PRESENCE_WRAP_UP) {
        return CAT_BUSY;
    }
    switch (a->presence) {
    case BLEND_PRESENCE_READY:
        return CAT_IDLE;
    case BLEND_PRESENCE_NOT_READY:
        return CAT_NOT_READY;
    default:
        return CAT_OUT;
    }
}

/* Adds dt_ms of the agent's current category to the time figures of *a. */
static void credit_time(struct agent *a, enum category cat, int64_t dt_ms)
{
    BLEND_ASSERT(dt_ms >= 0);
    switch (cat) {
    case CAT_BUSY:
        a->busy_ms += dt_ms;
        break;
    case CAT_IDLE:
        a->idle_ms += dt_ms;
        break;
    case CAT_NOT_READY:
        a->not_ready_ms += dt_ms;
        a->reason_ms[a->reason] += dt_ms;
        break;
    case CAT_OUT:
        break;
    }
}

/* Closes the agent's open segment at at_ms; call before anything changes its category. */
static void agent_credit(struct agent *a, int64_t at_ms)
{
    credit_time(a, category_of(a), at_ms - a->seg_start_ms);
    a->seg_start_ms = at_ms;
}

static uint32_t reason_intern(struct blend_stats *s, const char *reason)
{
    char name[BLEND_ACD_REASON_BYTES];
    memcpy(name, reason, sizeof name);
    name[sizeof name - 1] = '\0';
    for (size_t i = 0; i < s->reasons_count; i++) {
        if (strcmp(s->reasons[i], name) == 0) {
            return (uint32_t)i;
        }
    }
    if (s->reasons_count == BLEND_STATS_REASONS_MAX) {
        return BLEND_STATS_REASONS_MAX;
    }
    memcpy(s->reasons[s->reasons_count], name, sizeof name);
    return (uint32_t)s->reasons_count++;
}

/* Ends a wrap-up at at_ms: its whole duration is ACW of the contact that ended last. */
static void wrap_close(struct blend_stats *s, struct agent *a, int64_t at_ms)
{
    BLEND_ASSERT(a->is_wrapping);
    int64_t acw_ms = at_ms - a->wrap_start_ms;
    BLEND_ASSERT(acw_ms >= 0);
    a->acw_ms += acw_ms;
    if (a->has_last) {
        a->handle_ms_ch[a->last_channel] += acw_ms;
        BUMP(&s->queues[a->last_queue], at_ms, acw_ms, acw_ms);
    }
    a->is_wrapping = 0;
}

/* ---- Effects ---------------------------------------------------------------------------- */

static int channel_ok(enum blend_channel ch)
{
    return (int)ch >= 0 && ch < BLEND_CH_COUNT;
}

/* A contact joins a queue: first join, overflow into another queue, or (same queue) a return
 * after a failed offer, which changes nothing. */
static int on_queued(struct blend_stats *s, const struct blend_acd_effect *fx)
{
    if (fx->contact <= 0 || fx->queue <= 0 || !channel_ok(fx->channel)) {
        return BLEND_EINVAL;
    }
    struct contact *c = contact_find(s, fx->contact);
    if (c == NULL && s->contact_free == NONE) {
        return BLEND_ELIMIT;
    }
    uint32_t qslot = queue_ensure(s, fx->queue);
    if (qslot == NONE) {
        return BLEND_ELIMIT;
    }
    if (fx->is_move && c != NULL && !c->is_connected) {
        /* A supervisor moved a waiting contact (docs/kpis.md §Moves): its stay in the queue it
         * leaves ends without an outcome (counted overflowed_out there), and a new stay starts
         * now — a new arrival in another queue; in the same queue only the wait restarts. */
        detach(s, c);
        if (c->queue != qslot) {
            BUMP(&s->queues[c->queue], fx->at_ms, overflowed_out, 1);
            BUMP(&s->queues[qslot], fx->at_ms, arrivals, 1);
        }
        c->pending = PEND_NONE;
        c->queue = qslot;
        c->first_join_ms = fx->at_ms;
        attach(s, c);
        return 0;
    }
    if (c != NULL && c->is_connected) {
        /* A transfer's new stay listed before its ENDED: applied by on_ended. */
        c->pending = PEND_XFER_QUEUED;
        c->pending_at_ms = fx->at_ms;
        c->xfer_queue = qslot;
        return 0;
    }
    if (c != NULL && c->pending == PEND_XFER_ENDED && c->pending_at_ms == fx->at_ms) {
        detach(s, c);
        c->pending = PEND_NONE;
        c->queue = qslot;
        BUMP(&s->queues[qslot], fx->at_ms, arrivals, 1); /* a new stay: a new arrival */
        attach(s, c);
        return 0;
    }
    if (c == NULL) {
        c = contact_new(s, fx->contact);
        c->queue = qslot;
        c->channel = fx->channel;
        c->first_join_ms = fx->at_ms;
        BUMP(&s->queues[qslot], fx->at_ms, arrivals, 1);
        attach(s, c);
        return 0;
    }
    if (c->queue == qslot) {
        return 0;
    }
    detach(s, c);
    if (c->pending == PEND_OVERFLOW && c->pending_at_ms == fx->at_ms) {
        c->pending = PEND_NONE; /* OVERFLOW came first and counted the overflow out */
    } else {
        BUMP(&s->queues[c->queue], fx->at_ms, overflowed_out, 1);
        c->pending = PEND_MOVED;
        c->pending_at_ms = fx->at_ms;
    }
    c->queue = qslot;
    BUMP(&s->queues[qslot], fx->at_ms, overflowed_in, 1);
    attach(s, c);
    return 0;
}

/* The contact's stay ends in its queue as a callback: offered there, not answered or
 * abandoned (KPIS.md: callbacks requested are not abandons). Counted once per contact. */
static void make_callback(struct blend_stats *s, struct contact *c, int64_t at_ms)
{
    if (c->is_callback) {
        return;
    }
    struct queue *q = &s->queues[c->queue];
    detach(s, c);
    c->is_callback = 1;
    BUMP(q, at_ms, callbacks_requested, 1);
    BUMP(q, at_ms, offered, 1);
    attach(s, c);
}

static int on_overflow(struct blend_stats *s, struct contact *c, const struct blend_acd_effect *fx)
{
    struct queue *q = &s->queues[c->queue];
    switch (fx->overflow) {
    case BLEND_OVERFLOW_QUEUE:
        if (c->pending == PEND_MOVED && c->pending_at_ms == fx->at_ms) {
            c->pending = PEND_NONE; /* QUEUED came first: counted in the source queue */
        } else {
            BUMP(q, fx->at_ms, overflowed_out, 1);
            c->pending = PEND_OVERFLOW;
            c->pending_at_ms = fx->at_ms;
        }
        return 0;
    case BLEND_OVERFLOW_VOICEMAIL:
        detach(s, c);
        BUMP(q, fx->at_ms, offered, 1);
        BUMP(q, fx->at_ms, overflowed_out, 1);
        BUMP(q, fx->at_ms, overflowed_voicemail, 1);
        contact_free(s, c);
        return 0;
    case BLEND_OVERFLOW_CALLBACK:
        BUMP(q, fx->at_ms, overflowed_callback, 1);
        make_callback(s, c, fx->at_ms);
        return 0;
    case BLEND_OVERFLOW_NONE:
        return 0;
    }
    return BLEND_EINVAL;
}

static int on_connected(struct blend_stats *s, struct contact *c, const struct blend_acd_effect *fx)
{
    if (fx->agent <= 0 || fx->wait_ms < 0 || !channel_ok(fx->channel)) {
        return BLEND_EINVAL;
    }
    if (c->is_connected) {
        return BLEND_ESTATE;
    }
    uint32_t aslot = agent_ensure(s, fx->agent, fx->at_ms);
    if (aslot == NONE) {
        return BLEND_ELIMIT;
    }
    struct queue *q = &s->queues[c->queue];
    detach(s, c);
    if (c->offers > 0) {
        c->offers--; /* the accepted offer became the connection */
    }
    c->is_connected = 1;
    c->connected_ms = fx->at_ms;
    c->agent = aslot;
    c->channel = fx->channel;
    if (fx->is_callback) {
        c->is_callback = 1;
    }
    attach(s, c);
    if (c->is_callback) {
        BUMP(q, fx->at_ms, callbacks_answered, 1);
    } else {
        BUMP(q, fx->at_ms, answered, 1);
        BUMP(q, fx->at_ms, offered, 1);
        BUMP(q, fx->at_ms, wait_answered_ms, fx->wait_ms);
        if (fx->wait_ms <= q->sl_target_ms) {
            BUMP(q, fx->at_ms, answered_within, 1);
        }
    }
    struct agent *a = &s->agents[aslot];
    agent_credit(a, fx->at_ms);
    a->connected++;
    return 0;
}

static int on_abandoned(struct blend_stats *s, struct contact *c, const struct blend_acd_effect *fx)
{
    if (fx->wait_ms < 0) {
        return BLEND_EINVAL;
    }
    if (c->is_connected) {
        return BLEND_ESTATE;
    }
    struct queue *q = &s->queues[c->queue];
    detach(s, c);
    /* A callback's customer already hung up: it was counted when requested, and its later
     * cancellation is not an abandon. */
    if (!c->is_callback) {
        if (q->short_abandon_ms > 0 && fx->wait_ms <= q->short_abandon_ms) {
            BUMP(q, fx->at_ms, short_abandoned, 1);
        } else {
            BUMP(q, fx->at_ms, abandoned, 1);
            BUMP(q, fx->at_ms, offered, 1);
            if (fx->wait_ms <= q->sl_target_ms) {
                BUMP(q, fx->at_ms, abandoned_within, 1);
            }
        }
    }
    contact_free(s, c);
    return 0;
}

static int on_ended(struct blend_stats *s, struct contact *c, const struct blend_acd_effect *fx)
{
    if (!c->is_connected) {
        return BLEND_ESTATE;
    }
    struct queue *q = &s->queues[c->queue];
    struct agent *a = &s->agents[c->agent];
    int64_t talk_ms = fx->at_ms - c->connected_ms;
    detach(s, c);
    BUMP(q, fx->at_ms, handled, 1);
    BUMP(q, fx->at_ms, talk_ms, talk_ms);
    agent_credit(a, fx->at_ms);
    if (a->is_wrapping) {
        /* A contact ends during the wrap-up of an earlier one: the wrap-up so far was the
         * earlier contact's ACW, what follows is this one's (whichever order the engine lists
         * this ENDED and the AGENT_STATE that may restart the wrap-up). */
        wrap_close(s, a, fx->at_ms);
        a->is_wrapping = 1;
        a->wrap_start_ms = fx->at_ms;
    }
    BLEND_ASSERT(a->connected > 0);
    a->connected--;
    a->handled++;
    a->talk_ms += talk_ms;
    a->handled_ch[c->channel]++;
    a->handle_ms_ch[c->channel] += talk_ms;
    a->has_last = 1;
    a->last_queue = c->queue;
    a->last_channel = c->channel;
    if (!fx->is_transfer) {
        contact_free(s, c);
        return 0;
    }
    /* docs/kpis.md §Transfers: answered in this queue (counted at CONNECTED), transferred out
     * of it; the contact goes on as a new stay (a new arrival in the target queue). */
    BUMP(q, fx->at_ms, transferred, 1);
    c->is_connected = 0;
    c->agent = NONE;
    c->is_callback = 0;
    c->first_join_ms = fx->at_ms;
    if (c->pending == PEND_XFER_QUEUED && c->pending_at_ms == fx->at_ms) {
        c->pending = PEND_NONE;
        c->queue = c->xfer_queue;
        BUMP(&s->queues[c->queue], fx->at_ms, arrivals, 1);
    } else {
        c->pending = PEND_XFER_ENDED;
        c->pending_at_ms = fx->at_ms;
    }
    attach(s, c);
    return 0;
}

static int on_agent_state(struct blend_stats *s, const struct blend_acd_effect *fx)
{
    if (fx->agent <= 0 || (int)fx->presence < (int)BLEND_PRESENCE_LOGGED_OUT ||
        fx->presence > BLEND_PRESENCE_WRAP_UP) {
        return BLEND_EINVAL;
    }
    uint32_t aslot = agent_ensure(s, fx->agent, fx->at_ms);
    if (aslot == NONE) {
        return BLEND_ELIMIT;
    }
    struct agent *a = &s->agents[aslot];
    agent_credit(a, fx->at_ms);
    /* Leaving wrap-up (to ready, not ready or logged out) ends the ACW; a new wrap-up while
     * in wrap-up (another contact ended) ends the first and starts the next. */
    if (a->is_wrapping) {
        wrap_close(s, a, fx->at_ms);
    }
    a->presence = fx->presence;
    a->reason = 0;
    if (fx->presence == BLEND_PRESENCE_WRAP_UP) {
        a->is_wrapping = 1;
        a->wrap_start_ms = fx->at_ms;
    } else if (fx->presence == BLEND_PRESENCE_NOT_READY) {
        a->reason = reason_intern(s, fx->reason);
    }
    return 0;
}

/* Effects about one known contact's offers; gone contacts are fine (see stats.h). */
static int on_offer_change(struct blend_stats *s, const struct blend_acd_effect *fx, int delta)
{
    struct contact *c = contact_find(s, fx->contact);
    if (c == NULL) {
        if (delta > 0) {
            return fx->contact <= 0 ? BLEND_EINVAL : BLEND_ENOENT;
        }
        return 0;
    }
    if (delta > 0 && c->is_connected &&
        !(c->pending == PEND_XFER_QUEUED && c->pending_at_ms == fx->at_ms)) {
        return BLEND_ESTATE; /* (a transfer's direct offer may be listed before its ENDED) */
    }
    if (delta < 0 && c->offers == 0) {
        return 0; /* the connection already consumed it */
    }
    detach(s, c);
    c->offers += delta;
    attach(s, c);
    return 0;
}

/* Effects that need a known contact. */
static int on_contact(struct blend_stats *s, const struct blend_acd_effect *fx)
{
    if (fx->contact <= 0) {
        return BLEND_EINVAL;
    }
    struct contact *c = contact_find(s, fx->contact);
    if (c == NULL) {
        return BLEND_ENOENT;
    }
    switch (fx->type) {
    case BLEND_ACD_FX_CONNECTED:
        return on_connected(s, c, fx);
    case BLEND_ACD_FX_ABANDONED:
        return on_abandoned(s, c, fx);
    case BLEND_ACD_FX_ENDED:
        return on_ended(s, c, fx);
    case BLEND_ACD_FX_OVERFLOW:
        if (c->is_connected) {
            return BLEND_ESTATE;
        }
        return on_overflow(s, c, fx);
    case BLEND_ACD_FX_CALLBACK:
        if (c->is_connected) {
            return BLEND_ESTATE;
        }
        make_callback(s, c, fx->at_ms);
        return 0;
    default:
        break;
    }
    BLEND_ASSERT(0);
    return BLEND_EINTERNAL;
}

static int dispatch(struct blend_stats *s, const struct blend_acd_effect *fx)
{
    switch (fx->type) {
    case BLEND_ACD_FX_AGENT_STATE:
        return on_agent_state(s, fx);
    case BLEND_ACD_FX_QUEUED:
        return on_queued(s, fx);
    case BLEND_ACD_FX_OFFER:
        return on_offer_change(s, fx, 1);
    case BLEND_ACD_FX_OFFER_TIMEOUT:
    case BLEND_ACD_FX_OFFER_REJECTED:
    case BLEND_ACD_FX_WITHDRAWN:
        return on_offer_change(s, fx, -1);
    case BLEND_ACD_FX_CONNECTED:
    case BLEND_ACD_FX_ABANDONED:
    case BLEND_ACD_FX_ENDED:
    case BLEND_ACD_FX_OVERFLOW:
    case BLEND_ACD_FX_CALLBACK:
        return on_contact(s, fx);
    case BLEND_ACD_FX_RELAXED:
    case BLEND_ACD_FX_TIMER_SET:
    case BLEND_ACD_FX_TIMER_CANCEL:
        return 0;
    }
    return BLEND_EINVAL;
}

int blend_stats_feed(struct blend_stats *stats, const struct blend_acd_effect *fx)
{
    BLEND_ASSERT(stats != NULL && fx != NULL);
    if (fx->at_ms < stats->last_at_ms) {
        return BLEND_EINVAL;
    }
    int rc = dispatch(stats, fx);
    if (rc == 0) {
        stats->last_at_ms = fx->at_ms;
    }
    return rc;
}

int blend_stats_reset_window(struct blend_stats *stats, int64_t now_ms)
{
    BLEND_ASSERT(stats != NULL);
    if (now_ms < stats->last_at_ms) {
        return BLEND_EINVAL;
    }
    for (size_t i = 0; i < stats->queues_count; i++) {
        memset(&stats->queues[i].win, 0, sizeof stats->queues[i].win);
    }
    for (size_t i = 0; i < stats->agents_count; i++) {
        struct agent *a = &stats->agents[i];
        /* The open segment's time before now_ms belonged to the closed window. */
        a->seg_start_ms = now_ms;
        a->handled = 0;
        a->talk_ms = 0;
        a->acw_ms = 0;
        memset(a->handled_ch, 0, sizeof a->handled_ch);
        memset(a->handle_ms_ch, 0, sizeof a->handle_ms_ch);
        a->busy_ms = 0;
        a->idle_ms = 0;
        a->not_ready_ms = 0;
        memset(a->reason_ms, 0, sizeof a->reason_ms);
    }
    stats->window_start_ms = now_ms;
    stats->last_at_ms = now_ms;
    return 0;
}

/* ---- Queries ---------------------------------------------------------------------------- */

static double ratio(int64_t num, int64_t den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

static void figures_finish(struct blend_stats_queue_figures *f)
{
    f->service_level = ratio(f->answered_within, f->answered + f->abandoned);
    f->service_level_ignore_abandons = ratio(f->answered_within, f->answered);
    f->service_level_abandons_positive =
        ratio(f->answered_within + f->abandoned_within, f->offered);
    f->asa_ms = ratio(f->wait_answered_ms, f->answered);
    f->aht_ms = ratio(f->talk_ms + f->hold_ms + f->acw_ms, f->handled);
    f->abandon_rate = ratio(f->abandoned, f->answered + f->abandoned);
}

static const struct queue *queue_find(const struct blend_stats *s, int64_t id)
{
    if (id <= 0) {
        return NULL;
    }
    uint32_t slot = index_get(&s->queue_index, id);
    return slot == NONE ? NULL : &s->queues[slot];
}

int blend_stats_queue(const struct blend_stats *stats, int64_t queue_id, int64_t now_ms,
                      struct blend_stats_queue *out)
{
    BLEND_ASSERT(stats != NULL && out != NULL);
    if (now_ms < stats->last_at_ms) {
        return BLEND_EINVAL;
    }
    const struct queue *q = queue_find(stats, queue_id);
    if (q == NULL) {
        return BLEND_ENOENT;
    }
    struct blend_stats_queue r;
    memset(&r, 0, sizeof r);
    r.id = q->id;
    r.short_abandon_ms = q->short_abandon_ms;
    r.sl_target_ms = q->sl_target_ms;
    r.sl_pct = q->sl_pct;
    r.waiting = q->waiting;
    r.callbacks_waiting = q->callbacks_waiting;
    r.offered_now = q->offered_now;
    r.connected_now = q->connected_now;
    for (uint32_t i = q->head; i != NONE; i = stats->contacts[i].next) {
        const struct contact *c = &stats->contacts[i];
        if (!c->is_callback && now_ms - c->first_join_ms > r.longest_wait_ms) {
            r.longest_wait_ms = now_ms - c->first_join_ms;
        }
    }
    r.window_start_ms = stats->window_start_ms;
    r.window = q->win;
    figures_finish(&r.window);
    *out = r;
    return 0;
}

int blend_stats_queue_last_hour(const struct blend_stats *stats, int64_t queue_id, int64_t now_ms,
                                struct blend_stats_queue_figures *out)
{
    BLEND_ASSERT(stats != NULL && out != NULL);
    if (now_ms < stats->last_at_ms) {
        return BLEND_EINVAL;
    }
    const struct queue *q = queue_find(stats, queue_id);
    if (q == NULL) {
        return BLEND_ENOENT;
    }
    int64_t now_minute = now_ms / BLEND_STATS_BUCKET_MS;
    struct blend_stats_queue_figures r;
    memset(&r, 0, sizeof r);
    for (size_t b = 0; b < BLEND_STATS_BUCKETS; b++) {
        int64_t m = q->bucket_minute[b];
        if (m < 0 || m > now_minute || m <= now_minute - BLEND_STATS_BUCKETS) {
            continue;
        }
        for (size_t f = 0; f < sizeof fig_fields / sizeof fig_fields[0]; f++) {
            const int64_t *p =
                (const int64_t *)(const void *)((const char *)&q->bucket[b] + fig_fields[f]);
            fig_add(&r, fig_fields[f], *p);
        }
    }
    figures_finish(&r);
    *out = r;
    return 0;
}

static void agent_reasons(const struct blend_stats *s, const struct agent *a,
                          struct blend_stats_agent *r)
{
    r->not_ready_reasons_count = 0;
    for (size_t i = 0; i < REASON_SLOTS; i++) {
        if (a->reason_ms[i] == 0) {
            continue;
        }
        struct blend_stats_reason_time *t = &r->not_ready_reasons[r->not_ready_reasons_count++];
        const char *name = i < BLEND_STATS_REASONS_MAX ? s->reasons[i] : BLEND_STATS_REASON_OTHER;
        snprintf(t->reason, sizeof t->reason, "%s", name);
        t->ms = a->reason_ms[i];
    }
}

int blend_stats_agent(const struct blend_stats *stats, int64_t agent_id, int64_t now_ms,
                      struct blend_stats_agent *out)
{
    BLEND_ASSERT(stats != NULL && out != NULL);
    if (now_ms < stats->last_at_ms) {
        return BLEND_EINVAL;
    }
    uint32_t slot = agent_id > 0 ? index_get(&stats->agent_index, agent_id) : NONE;
    if (slot == NONE) {
        return BLEND_ENOENT;
    }
    struct agent a = stats->agents[slot]; /* a copy: the open segment is credited up to now */
    agent_credit(&a, now_ms);
    struct blend_stats_agent r;
    memset(&r, 0, sizeof r);
    r.id = a.id;
    r.presence = a.presence;
    r.connected_now = a.connected;
    r.window_start_ms = stats->window_start_ms;
    r.handled = a.handled;
    r.talk_ms = a.talk_ms;
    r.acw_ms = a.acw_ms;
    r.handle_ms = a.talk_ms + r.hold_ms + a.acw_ms;
    memcpy(r.handled_by_channel, a.handled_ch, sizeof r.handled_by_channel);
    memcpy(r.handle_ms_by_channel, a.handle_ms_ch, sizeof r.handle_ms_by_channel);
    r.busy_ms = a.busy_ms;
    r.ready_idle_ms = a.idle_ms;
    r.not_ready_ms = a.not_ready_ms;
    r.logged_in_ms = a.busy_ms + a.idle_ms + a.not_ready_ms;
    agent_reasons(stats, &a, &r);
    r.aht_ms = ratio(r.handle_ms, r.handled);
    r.occupancy = ratio(r.busy_ms, r.busy_ms + r.ready_idle_ms);
    r.utilization = ratio(r.busy_ms, r.logged_in_ms);
    *out = r;
    return 0;
}

/* ---- Invariants ------------------------------------------------------------------------- */

static void check_queue(const struct blend_stats *s, const struct queue *q)
{
    int32_t listed = 0;
    uint32_t prev = NONE;
    for (uint32_t i = q->head; i != NONE; i = s->contacts[i].next) {
        const struct contact *c = &s->contacts[i];
        BLEND_ASSERT(c->id > 0 && !c->is_connected && c->prev == prev);
        BLEND_ASSERT(&s->queues[c->queue] == q);
        prev = i;
        listed++;
        BLEND_ASSERT((size_t)listed <= s->contacts_used);
    }
    BLEND_ASSERT(listed == q->waiting + q->callbacks_waiting + q->offered_now);
    for (size_t f = 0; f < sizeof fig_fields / sizeof fig_fields[0]; f++) {
        const int64_t *p = (const int64_t *)(const void *)((const char *)&q->win + fig_fields[f]);
        BLEND_ASSERT(*p >= 0);
    }
    BLEND_ASSERT(q->win.offered == q->win.answered + q->win.abandoned + q->win.callbacks_requested +
                                       q->win.overflowed_voicemail);
}

void blend_stats_check(const struct blend_stats *stats)
{
    BLEND_ASSERT(stats != NULL);
    int32_t phases[4];
    size_t used = 0;
    for (size_t qi = 0; qi < stats->queues_count; qi++) {
        const struct queue *q = &stats->queues[qi];
        check_queue(stats, q);
        memset(phases, 0, sizeof phases);
        for (size_t i = 0; i < stats->limits.contacts_max; i++) {
            const struct contact *c = &stats->contacts[i];
            if (c->id != 0 && c->queue == qi) {
                phases[phase_of(c)]++;
                BLEND_ASSERT(index_get(&stats->contact_index, c->id) == (uint32_t)i);
                used++;
            }
        }
        BLEND_ASSERT(phases[PH_WAITING] == q->waiting);
        BLEND_ASSERT(phases[PH_CB_WAITING] == q->callbacks_waiting);
        BLEND_ASSERT(phases[PH_OFFERED] == q->offered_now);
        BLEND_ASSERT(phases[PH_CONNECTED] == q->connected_now);
    }
    BLEND_ASSERT(used == stats->contacts_used);
    for (size_t ai = 0; ai < stats->agents_count; ai++) {
        const struct agent *a = &stats->agents[ai];
        int32_t connected = 0;
        for (size_t i = 0; i < stats->limits.contacts_max; i++) {
            const struct contact *c = &stats->contacts[i];
            connected += c->id != 0 && c->is_connected && c->agent == ai;
        }
        BLEND_ASSERT(connected == a->connected);
        BLEND_ASSERT(a->seg_start_ms <= stats->last_at_ms && a->seg_start_ms >= 0);
        BLEND_ASSERT(a->busy_ms >= 0 && a->idle_ms >= 0 && a->not_ready_ms >= 0);
        BLEND_ASSERT(a->talk_ms >= 0 && a->acw_ms >= 0 && a->handled >= 0);
    }
}
