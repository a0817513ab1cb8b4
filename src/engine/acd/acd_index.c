/*
 * Index primitives of the fast ACD engine: an id -> index map (open addressing, linear probing,
 * backward-shift deletion so no tombstones accumulate), treaps over caller-owned node pools
 * (keys (k1, k2, k3) unique within a tree; node priorities are a fixed hash of the node index,
 * so shapes are deterministic), and a binary min-heap of agents by the time their oldest
 * least-occupied history entry expires. Nothing here allocates after *_init.
 */
#include "engine/acd/acd_int.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

/* ---- Tables --------------------------------------------------------------------------------- */

void *blend__acd_table_alloc(size_t count, size_t size)
{
    /* The owning pointer is kept in the bytes right before the aligned table. */
    size_t extra = ACD_LINE_BYTES + sizeof(void *);
    if (size != 0 && count > (SIZE_MAX - extra) / size) {
        return NULL;
    }
    unsigned char *raw = blend_calloc(1, count * size + extra);
    if (!raw) {
        return NULL;
    }
    uintptr_t at =
        ((uintptr_t)raw + sizeof(void *) + ACD_LINE_BYTES - 1) & ~(uintptr_t)(ACD_LINE_BYTES - 1);
    unsigned char *table = raw + (at - (uintptr_t)raw);
    memcpy(table - sizeof(void *), &raw, sizeof raw);
    BLEND_ASSERT((uintptr_t)table % ACD_LINE_BYTES == 0);
    return table;
}

void blend__acd_table_free(void *table)
{
    if (!table) {
        return;
    }
    void *raw;
    memcpy(&raw, (unsigned char *)table - sizeof raw, sizeof raw);
    blend_free(raw);
}

/* ---- Map ------------------------------------------------------------------------------------ */

int blend__acd_map_init(struct acd_map *m, size_t max)
{
    size_t n = 16;
    while (n < 2 * max) {
        n *= 2;
    }
    m->e = blend__acd_table_alloc(n, sizeof *m->e);
    if (!m->e) {
        return BLEND_ENOMEM;
    }
    m->mask = n - 1;
    return 0;
}

void blend__acd_map_deinit(struct acd_map *m)
{
    blend__acd_table_free(m->e);
    m->e = NULL;
}

static size_t map_home(const struct acd_map *m, int64_t key)
{
    /* Fibonacci hashing spreads sequential ids. */
    return (size_t)(((uint64_t)key * 11400714819323198485ull) >> 24) & m->mask;
}

uint32_t blend__acd_map_get(const struct acd_map *m, int64_t key)
{
    BLEND_ASSERT(key != 0);
    for (size_t i = map_home(m, key);; i = (i + 1) & m->mask) {
        if (m->e[i].key == key) {
            return m->e[i].val;
        }
        if (m->e[i].key == 0) {
            return 0;
        }
    }
}

void blend__acd_map_put(struct acd_map *m, int64_t key, uint32_t val)
{
    BLEND_ASSERT(key != 0 && val != 0);
    for (size_t i = map_home(m, key);; i = (i + 1) & m->mask) {
        if (m->e[i].key == key || m->e[i].key == 0) {
            m->e[i].key = key;
            m->e[i].val = val;
            return;
        }
    }
}

void blend__acd_map_del(struct acd_map *m, int64_t key)
{
    size_t i = map_home(m, key);
    while (m->e[i].key != key) {
        BLEND_ASSERT(m->e[i].key != 0);
        i = (i + 1) & m->mask;
    }
    /* Backward shift: move later entries of the probe run into the hole when their home allows. */
    size_t j = i;
    for (;;) {
        m->e[i].key = 0;
        for (;;) {
            j = (j + 1) & m->mask;
            if (m->e[j].key == 0) {
                return;
            }
            size_t home = map_home(m, m->e[j].key);
            /* Entry j may fill hole i when home is not cyclically in (i, j]. */
            int in_range = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
            if (!in_range) {
                break;
            }
        }
        m->e[i] = m->e[j];
        i = j;
    }
}

/* ---- Treap ---------------------------------------------------------------------------------- */

int blend__acd_tkey_cmp(const struct acd_tnode *a, const struct acd_tnode *b)
{
    if (a->k1 != b->k1) {
        return a->k1 < b->k1 ? -1 : 1;
    }
    if (a->k2 != b->k2) {
        return a->k2 < b->k2 ? -1 : 1;
    }
    if (a->k3 != b->k3) {
        return a->k3 < b->k3 ? -1 : 1;
    }
    return 0;
}

static uint32_t node_prio(uint32_t idx)
{
    uint32_t x = idx * 0x9E3779B1u;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    return x | 1u;
}

/* Splits tree t into keys < n's key (l) and keys > n's key (r). Recursion depth is the treap's
 * depth, expected O(log n) whatever the input since priorities do not depend on keys. */
static void split(struct acd_tnode *p, uint32_t t, const struct acd_tnode *n, uint32_t *l,
                  uint32_t *r)
{
    if (!t) {
        *l = 0;
        *r = 0;
        return;
    }
    if (blend__acd_tkey_cmp(&p[t], n) < 0) {
        split(p, p[t].right, n, &p[t].right, r);
        *l = t;
    } else {
        split(p, p[t].left, n, l, &p[t].left);
        *r = t;
    }
}

static uint32_t merge(struct acd_tnode *p, uint32_t l, uint32_t r)
{
    if (!l || !r) {
        return l ? l : r;
    }
    if (p[l].prio > p[r].prio) {
        p[l].right = merge(p, p[l].right, r);
        return l;
    }
    p[r].left = merge(p, l, p[r].left);
    return r;
}

void blend__acd_treap_insert(struct acd_tnode *pool, uint32_t *root, uint32_t idx)
{
    BLEND_ASSERT(idx != 0);
    struct acd_tnode *n = &pool[idx];
    n->left = 0;
    n->right = 0;
    n->prio = node_prio(idx);
    /* Walk down while the existing nodes outrank the new one, then split there. */
    uint32_t *link = root;
    while (*link && pool[*link].prio > n->prio) {
        int c = blend__acd_tkey_cmp(n, &pool[*link]);
        BLEND_ASSERT(c != 0);
        link = c < 0 ? &pool[*link].left : &pool[*link].right;
    }
    split(pool, *link, n, &n->left, &n->right);
    *link = idx;
}

void blend__acd_treap_remove(struct acd_tnode *pool, uint32_t *root, uint32_t idx)
{
    uint32_t *link = root;
    while (*link != idx) {
        BLEND_ASSERT(*link != 0);
        int c = blend__acd_tkey_cmp(&pool[idx], &pool[*link]);
        link = c < 0 ? &pool[*link].left : &pool[*link].right;
    }
    *link = merge(pool, pool[idx].left, pool[idx].right);
    pool[idx].left = 0;
    pool[idx].right = 0;
}

uint32_t blend__acd_treap_first(const struct acd_tnode *pool, uint32_t root)
{
    uint32_t t = root;
    while (t && pool[t].left) {
        t = pool[t].left;
    }
    return t;
}

uint32_t blend__acd_treap_pop_first(struct acd_tnode *pool, uint32_t *root)
{
    BLEND_ASSERT(*root != 0);
    /* The first node has no left child: it is replaced by its right subtree (merge(0, right)),
     * and the next node is the first of that subtree, or else its parent on the spine. */
    uint32_t *link = root;
    uint32_t parent = 0;
    while (pool[*link].left) {
        parent = *link;
        link = &pool[*link].left;
    }
    uint32_t idx = *link;
    uint32_t right = pool[idx].right;
    *link = right;
    pool[idx].left = 0;
    pool[idx].right = 0;
    return right ? blend__acd_treap_first(pool, right) : parent;
}

uint32_t blend__acd_treap_after(const struct acd_tnode *pool, uint32_t root, int64_t k1,
                                int64_t k2, int64_t k3)
{
    struct acd_tnode key = {.k1 = k1, .k2 = k2, .k3 = k3};
    uint32_t best = 0;
    uint32_t t = root;
    while (t) {
        if (blend__acd_tkey_cmp(&pool[t], &key) > 0) {
            best = t;
            t = pool[t].left;
        } else {
            t = pool[t].right;
        }
    }
    return best;
}

size_t blend__acd_treap_check(const struct acd_tnode *pool, uint32_t root)
{
    /* Iterative in-order walk with an explicit stack: keys strictly increase, and every child's
     * priority is at most its parent's. */
    uint32_t stack[ACD_TREAP_DEPTH_MAX];
    size_t depth = 0;
    size_t count = 0;
    uint32_t prev = 0;
    uint32_t t = root;
    while (t || depth > 0) {
        while (t) {
            BLEND_ASSERT(depth < ACD_TREAP_DEPTH_MAX);
            if (pool[t].left) {
                BLEND_ASSERT(pool[pool[t].left].prio <= pool[t].prio);
            }
            if (pool[t].right) {
                BLEND_ASSERT(pool[pool[t].right].prio <= pool[t].prio);
            }
            stack[depth++] = t;
            t = pool[t].left;
        }
        t = stack[--depth];
        if (prev) {
            BLEND_ASSERT(blend__acd_tkey_cmp(&pool[prev], &pool[t]) < 0);
        }
        prev = t;
        count++;
        t = pool[t].right;
    }
    return count;
}

/* ---- Expiry heap ------------------------------------------------------------------------------ */

int64_t blend__acd_agent_expiry(const struct acd_agent *a)
{
    BLEND_ASSERT(a->hist_count > 0);
    return a->hist_expiry_ms;
}

static int heap_less(const struct blend_acd *acd, uint32_t x, uint32_t y)
{
    int64_t ex = blend__acd_agent_expiry(&acd->agents[x]);
    int64_t ey = blend__acd_agent_expiry(&acd->agents[y]);
    return ex != ey ? ex < ey : x < y;
}

static void heap_place(struct blend_acd *acd, size_t i, uint32_t ai)
{
    acd->heap[i] = ai;
    acd->agents[ai].heap_pos = (uint32_t)i + 1;
}

static void heap_sift(struct blend_acd *acd, size_t i)
{
    uint32_t ai = acd->heap[i];
    while (i > 0 && heap_less(acd, ai, acd->heap[(i - 1) / 2])) {
        heap_place(acd, i, acd->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1;
        size_t best = i;
        uint32_t bv = ai;
        if (l < acd->heap_count && heap_less(acd, acd->heap[l], bv)) {
            best = l;
            bv = acd->heap[l];
        }
        if (l + 1 < acd->heap_count && heap_less(acd, acd->heap[l + 1], bv)) {
            best = l + 1;
            bv = acd->heap[l + 1];
        }
        if (best == i) {
            break;
        }
        heap_place(acd, i, bv);
        i = best;
    }
    heap_place(acd, i, ai);
}

void blend__acd_heap_remove(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    if (!a->heap_pos) {
        return;
    }
    size_t i = a->heap_pos - 1;
    a->heap_pos = 0;
    acd->heap_count--;
    if (i == acd->heap_count) {
        return;
    }
    heap_place(acd, i, acd->heap[acd->heap_count]);
    heap_sift(acd, i);
}

void blend__acd_heap_update(struct blend_acd *acd, uint32_t ai)
{
    struct acd_agent *a = &acd->agents[ai];
    if (a->hist_count == 0) {
        blend__acd_heap_remove(acd, ai);
        return;
    }
    if (!a->heap_pos) {
        BLEND_ASSERT(acd->heap_count < acd->lim.agents_max);
        heap_place(acd, acd->heap_count++, ai);
    }
    heap_sift(acd, a->heap_pos - 1);
}

uint32_t blend__acd_heap_top(const struct blend_acd *acd)
{
    return acd->heap_count ? acd->heap[0] : 0;
}
