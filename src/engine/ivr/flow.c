/*
 * Compiled IVR flows: building (nodes appended by name, targets resolved by link) and the
 * validator. Invariants: node names are unique within a flow; after link every target index is
 * either a valid node index or -1; validation only reads the flow, never recurses (graph walks
 * use explicit work lists bounded by BLEND_IVR_NODES_MAX).
 */
#include "engine/ivr/ivr.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {
    [BLEND_IVR_UNKNOWN] = "unknown",     [BLEND_IVR_PLAY] = "play",
    [BLEND_IVR_MENU] = "menu",           [BLEND_IVR_COLLECT] = "collect",
    [BLEND_IVR_BRANCH] = "branch",       [BLEND_IVR_SET] = "set",
    [BLEND_IVR_HTTP] = "http",           [BLEND_IVR_QUEUE] = "queue",
    [BLEND_IVR_VOICEMAIL] = "voicemail", [BLEND_IVR_TRANSFER] = "transfer",
    [BLEND_IVR_SURVEY] = "survey",       [BLEND_IVR_HANGUP] = "hangup",
};
#define TYPES_COUNT (sizeof type_names / sizeof type_names[0])

/* Variables the host provides before the first node runs. */
static const char *const host_vars[] = {"caller", "language", "priority", "queue",       "skills",
                                        "hour",   "ewt_s",    "waiting",  "agents_ready"};
#define HOST_VARS_COUNT (sizeof host_vars / sizeof host_vars[0])

const char *blend_ivr_type_name(enum blend_ivr_node_type type)
{
    if ((size_t)type >= TYPES_COUNT) {
        return "unknown";
    }
    return type_names[type];
}

enum blend_ivr_node_type blend_ivr_type_parse(const char *name)
{
    BLEND_ASSERT(name);
    for (size_t i = 1; i < TYPES_COUNT; i++) {
        if (strcmp(type_names[i], name) == 0) {
            return (enum blend_ivr_node_type)i;
        }
    }
    return BLEND_IVR_UNKNOWN;
}

int blend_ivr_flow_create(struct blend_ivr_flow **out)
{
    BLEND_ASSERT(out);
    struct blend_ivr_flow *f = blend_calloc(1, sizeof *f);
    if (!f) {
        return BLEND_ENOMEM;
    }
    f->start.index = -1;
    *out = f;
    return 0;
}

static void pattern_free(struct blend_ivr_node *n)
{
    if (n->pattern_re) {
        regfree(n->pattern_re);
        blend_free(n->pattern_re);
        n->pattern_re = NULL;
    }
}

/* Compiles a collect node's pattern to match the whole input (POSIX extended syntax, libc's
 * regcomp: no hand-written matcher); the node keeps NULL when it does not compile. */
static void pattern_compile(struct blend_ivr_node *n)
{
    pattern_free(n);
    if (n->type != BLEND_IVR_COLLECT || n->validate != BLEND_IVR_VALIDATE_PATTERN) {
        return;
    }
    char whole[BLEND_IVR_VALUE_BYTES + 8];
    snprintf(whole, sizeof whole, "^(%s)$", n->pattern);
    regex_t *re = blend_malloc(sizeof *re);
    if (re && regcomp(re, whole, REG_EXTENDED | REG_NOSUB) == 0) {
        n->pattern_re = re;
        return;
    }
    blend_free(re);
}

void blend_ivr_flow_destroy(struct blend_ivr_flow *flow)
{
    if (!flow) {
        return;
    }
    for (size_t i = 0; i < flow->nodes_count; i++) {
        pattern_free(&flow->nodes[i]);
    }
    blend_free(flow->nodes);
    blend_free(flow);
}

int32_t blend_ivr_flow_find(const struct blend_ivr_flow *flow, const char *name)
{
    BLEND_ASSERT(flow && name);
    for (size_t i = 0; i < flow->nodes_count; i++) {
        if (strcmp(flow->nodes[i].name, name) == 0) {
            return (int32_t)i;
        }
    }
    return -1;
}

static void target_none(struct blend_ivr_target *t)
{
    t->name[0] = '\0';
    t->index = -1;
}

int blend_ivr_flow_add(struct blend_ivr_flow *flow, const char *name, enum blend_ivr_node_type type,
                       struct blend_ivr_node **out)
{
    BLEND_ASSERT(flow && name && out);
    BLEND_ASSERT(!flow->is_linked);
    size_t len = strlen(name);
    if (len == 0 || len >= BLEND_IVR_NAME_BYTES) {
        return BLEND_EINVAL;
    }
    if (blend_ivr_flow_find(flow, name) >= 0) {
        return BLEND_EEXIST;
    }
    if (flow->nodes_count >= BLEND_IVR_NODES_MAX) {
        return BLEND_ELIMIT;
    }
    if (flow->nodes_count == flow->nodes_cap) {
        size_t cap = flow->nodes_cap ? flow->nodes_cap * 2 : 8;
        if (cap > BLEND_IVR_NODES_MAX) {
            cap = BLEND_IVR_NODES_MAX;
        }
        struct blend_ivr_node *n = blend_realloc(flow->nodes, cap * sizeof *n);
        if (!n) {
            return BLEND_ENOMEM;
        }
        flow->nodes = n;
        flow->nodes_cap = cap;
    }
    struct blend_ivr_node *node = &flow->nodes[flow->nodes_count++];
    memset(node, 0, sizeof *node);
    memcpy(node->name, name, len + 1);
    node->type = type;
    snprintf(node->type_name, sizeof node->type_name, "%s", blend_ivr_type_name(type));
    struct blend_ivr_target *ts[] = {&node->next,      &node->invalid, &node->timeout,
                                     &node->exhausted, &node->failure, &node->overflow,
                                     &node->after,     &node->else_};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
        target_none(ts[i]);
    }
    *out = node;
    return 0;
}

/* Calls fn for every target slot of a node (options and cases included). */
typedef void (*target_fn)(struct blend_ivr_target *t, const char *field, void *ctx);

static void each_target(struct blend_ivr_node *n, target_fn fn, void *ctx)
{
    fn(&n->next, "next", ctx);
    fn(&n->invalid, "invalid", ctx);
    fn(&n->timeout, "timeout", ctx);
    fn(&n->exhausted, "exhausted", ctx);
    fn(&n->failure, "failure", ctx);
    fn(&n->overflow, "overflow", ctx);
    fn(&n->after, "after", ctx);
    fn(&n->else_, "else", ctx);
    for (size_t i = 0; i < n->options_count; i++) {
        fn(&n->options[i].target, "options", ctx);
    }
    for (size_t i = 0; i < n->cases_count; i++) {
        fn(&n->cases[i].next, "cases", ctx);
    }
}

static void link_one(struct blend_ivr_target *t, const char *field, void *ctx)
{
    (void)field;
    t->index = t->name[0] ? blend_ivr_flow_find(ctx, t->name) : -1;
}

void blend_ivr_flow_link(struct blend_ivr_flow *flow)
{
    BLEND_ASSERT(flow);
    for (size_t i = 0; i < flow->nodes_count; i++) {
        each_target(&flow->nodes[i], link_one, flow);
        pattern_compile(&flow->nodes[i]);
    }
    link_one(&flow->start, "start", flow);
    flow->is_linked = 1;
}

/* ---- Validation --------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void add_error(struct blend_ivr_errors *errs,
                                                            const char *node, const char *fmt, ...)
{
    errs->count_total++;
    if (errs->count >= BLEND_IVR_ERRORS_MAX) {
        return;
    }
    struct blend_ivr_error *e = &errs->items[errs->count++];
    snprintf(e->node, sizeof e->node, "%s", node);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

struct target_check {
    const struct blend_ivr_node *node;
    struct blend_ivr_errors *errs;
};

static void check_unknown(struct blend_ivr_target *t, const char *field, void *ctx)
{
    struct target_check *c = ctx;
    if (t->name[0] && t->index < 0) {
        add_error(c->errs, c->node->name, "%s: unknown node '%s'", field, t->name);
    }
}

static void require(const struct blend_ivr_node *n, const struct blend_ivr_target *t,
                    const char *field, struct blend_ivr_errors *errs)
{
    if (!t->name[0]) {
        add_error(errs, n->name, "%s node needs '%s'", blend_ivr_type_name(n->type), field);
    }
}

static void check_node(const struct blend_ivr_node *n, struct blend_ivr_errors *errs)
{
    switch (n->type) {
    case BLEND_IVR_UNKNOWN:
        add_error(errs, n->name, "unknown node type '%s'", n->type_name);
        break;
    case BLEND_IVR_PLAY:
    case BLEND_IVR_SET:
    case BLEND_IVR_VOICEMAIL:
    case BLEND_IVR_SURVEY:
        require(n, &n->next, "next", errs);
        break;
    case BLEND_IVR_MENU:
        require(n, &n->exhausted, "exhausted", errs);
        if (n->options_count == 0) {
            add_error(errs, n->name, "menu node needs 'options'");
        }
        break;
    case BLEND_IVR_COLLECT:
        require(n, &n->next, "next", errs);
        require(n, &n->invalid, "invalid", errs);
        require(n, &n->timeout, "timeout", errs);
        if (!n->var[0]) {
            add_error(errs, n->name, "collect node needs 'var'");
        }
        if (n->validate == BLEND_IVR_VALIDATE_PATTERN && !n->pattern_re) {
            add_error(errs, n->name, "pattern: not a valid POSIX extended regular expression");
        }
        break;
    case BLEND_IVR_BRANCH:
        require(n, &n->else_, "else", errs);
        break;
    case BLEND_IVR_HTTP:
        require(n, &n->next, "next", errs);
        require(n, &n->failure, "failure", errs);
        break;
    case BLEND_IVR_QUEUE:
    case BLEND_IVR_TRANSFER:
    case BLEND_IVR_HANGUP:
        break;
    }
}

/* Successor indexes of node i (targets that resolve); returns the count. A menu without
 * invalid/timeout targets returns to itself. */
#define SUCC_MAX (BLEND_IVR_OPTIONS_MAX + BLEND_IVR_CASES_MAX + 9)
struct succ {
    int32_t idx[SUCC_MAX];
    size_t count;
};

static void succ_add(struct blend_ivr_target *t, const char *field, void *ctx)
{
    (void)field;
    struct succ *s = ctx;
    if (t->index >= 0 && s->count < SUCC_MAX) {
        s->idx[s->count++] = t->index;
    }
}

static void successors(const struct blend_ivr_flow *flow, size_t i, struct succ *s)
{
    s->count = 0;
    each_target(&flow->nodes[i], succ_add, s);
    if (flow->nodes[i].type == BLEND_IVR_MENU) {
        BLEND_ASSERT(s->count < SUCC_MAX);
        s->idx[s->count++] = (int32_t)i;
    }
}

/* Marks nodes reachable from the start; returns nothing, `seen` receives 0/1 per node. */
static void reach(const struct blend_ivr_flow *flow, unsigned char *seen)
{
    int32_t work[BLEND_IVR_NODES_MAX];
    size_t top = 0;
    if (flow->start.index < 0) {
        return;
    }
    seen[flow->start.index] = 1;
    work[top++] = flow->start.index;
    while (top > 0) {
        struct succ s;
        successors(flow, (size_t)work[--top], &s);
        for (size_t k = 0; k < s.count; k++) {
            if (!seen[s.idx[k]]) {
                seen[s.idx[k]] = 1;
                work[top++] = s.idx[k];
            }
        }
    }
}

static int waits(enum blend_ivr_node_type t)
{
    return t != BLEND_IVR_SET && t != BLEND_IVR_BRANCH;
}

/* Loops without input: among set/branch nodes, peel off repeatedly those with no incoming or no
 * outgoing edge inside the set; what remains lies on (or between) cycles. */
static void check_loops(const struct blend_ivr_flow *flow, struct blend_ivr_errors *errs)
{
    size_t n = flow->nodes_count;
    unsigned char alive[BLEND_IVR_NODES_MAX];
    for (size_t i = 0; i < n; i++) {
        alive[i] = !waits(flow->nodes[i].type);
    }
    for (int changed = 1; changed;) {
        changed = 0;
        int in[BLEND_IVR_NODES_MAX] = {0}, out[BLEND_IVR_NODES_MAX] = {0};
        for (size_t i = 0; i < n; i++) {
            if (!alive[i]) {
                continue;
            }
            struct succ s;
            successors(flow, i, &s);
            for (size_t k = 0; k < s.count; k++) {
                if (alive[s.idx[k]]) {
                    out[i]++;
                    in[s.idx[k]]++;
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            if (alive[i] && (in[i] == 0 || out[i] == 0)) {
                alive[i] = 0;
                changed = 1;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (alive[i]) {
            add_error(errs, flow->nodes[i].name,
                      "loop without input: no node on it waits for the caller or the host");
        }
    }
}

struct var_table {
    const char *names[BLEND_IVR_FLOW_VARS_MAX];
    size_t count;
};

/* Index of a variable name in the table (added when new), or -1 when the table is full. */
static int var_index(struct var_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->names[i], name) == 0) {
            return (int)i;
        }
    }
    if (t->count >= BLEND_IVR_FLOW_VARS_MAX) {
        return -1;
    }
    t->names[t->count] = name;
    return (int)t->count++;
}

static uint64_t var_bit(struct var_table *t, const char *name)
{
    int i = var_index(t, name);
    return i < 0 ? 0 : (uint64_t)1 << i;
}

static uint64_t node_sets(const struct blend_ivr_node *n, struct var_table *t)
{
    uint64_t m = 0;
    if (n->type == BLEND_IVR_SET || n->type == BLEND_IVR_HTTP) {
        for (size_t k = 0; k < n->sets_count; k++) {
            m |= var_bit(t, n->sets[k].var);
        }
    }
    if (n->type == BLEND_IVR_COLLECT && n->var[0]) {
        m |= var_bit(t, n->var);
    }
    return m;
}

/* A may-analysis: a variable is readable at a node when some path from the start passes a node
 * that sets it. Monotone over 64-bit sets, so the fixpoint takes at most 64 * nodes rounds. */
static void check_vars(const struct blend_ivr_flow *flow, const unsigned char *seen,
                       struct blend_ivr_errors *errs)
{
    struct var_table t = {.count = 0};
    uint64_t host = 0;
    for (size_t k = 0; k < HOST_VARS_COUNT; k++) {
        host |= var_bit(&t, host_vars[k]);
    }
    size_t n = flow->nodes_count;
    uint64_t in[BLEND_IVR_NODES_MAX] = {0}, gen[BLEND_IVR_NODES_MAX];
    for (size_t i = 0; i < n; i++) {
        gen[i] = node_sets(&flow->nodes[i], &t);
    }
    in[flow->start.index] = host;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (!seen[i]) {
                continue;
            }
            struct succ s;
            successors(flow, i, &s);
            for (size_t k = 0; k < s.count; k++) {
                uint64_t m = in[s.idx[k]] | in[i] | gen[i];
                if (m != in[s.idx[k]]) {
                    in[s.idx[k]] = m;
                    changed = 1;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct blend_ivr_node *node = &flow->nodes[i];
        for (size_t k = 0; seen[i] && k < node->cases_count; k++) {
            const char *v = node->cases[k].var;
            if (node->cases[k].calendar == 0 && v[0] && strncmp(v, "contact.", 8) != 0 &&
                !(in[i] & var_bit(&t, v))) {
                add_error(errs, node->name, "variable '%s' is read before any node sets it", v);
            }
        }
    }
}

int blend_ivr_validate(const struct blend_ivr_flow *flow, struct blend_ivr_errors *errs)
{
    BLEND_ASSERT(flow && errs);
    BLEND_ASSERT(flow->is_linked);
    errs->count = 0;
    errs->count_total = 0;
    if (flow->nodes_count == 0) {
        add_error(errs, "", "the flow has no nodes");
    }
    if (flow->start.index < 0) {
        if (flow->start.name[0]) {
            add_error(errs, "", "start: unknown node '%s'", flow->start.name);
        } else {
            add_error(errs, "", "the flow needs 'start'");
        }
    }
    for (size_t i = 0; i < flow->nodes_count; i++) {
        struct target_check c = {&flow->nodes[i], errs};
        check_node(&flow->nodes[i], errs);
        each_target(&flow->nodes[i], check_unknown, &c);
    }
    if (flow->start.index >= 0) {
        unsigned char seen[BLEND_IVR_NODES_MAX] = {0};
        reach(flow, seen);
        for (size_t i = 0; i < flow->nodes_count; i++) {
            if (!seen[i]) {
                add_error(errs, flow->nodes[i].name, "unreachable from the start");
            }
        }
        check_vars(flow, seen, errs);
    }
    check_loops(flow, errs);
    return errs->count_total ? BLEND_EINVAL : 0;
}
