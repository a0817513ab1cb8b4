/*
 * Engine core: the agent presence table and the step function. The table is an open-addressing
 * hash map (linear probing, power-of-two slots, at most half full) sized once at creation, so a
 * step never allocates. Agents are never removed from the table (a logged-out agent keeps its
 * slot, holding its state-since time), which keeps probing free of tombstones.
 */
#include "engine/engine.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <string.h>

struct agent {
    int64_t id; /* 0 = empty slot */
    enum blend_agent_state state;
    char reason[BLEND_REASON_BYTES_MAX];
    int64_t since_ms;
    int64_t since_wall_ms;
};

struct blend_engine {
    struct agent *slots;
    size_t slots_count; /* power of two, >= 2 * agents_max */
    size_t agents_count;
    size_t agents_max;
    int64_t last_now_ms;
};

static const char *const state_names[] = {"logged-out", "ready", "not-ready", "wrap-up"};

const char *blend_agent_state_name(enum blend_agent_state s)
{
    return (s >= BLEND_AGENT_LOGGED_OUT && s <= BLEND_AGENT_WRAP_UP) ? state_names[s] : "?";
}

int blend_agent_state_parse(const char *name, enum blend_agent_state *out)
{
    for (int i = 0; i <= BLEND_AGENT_WRAP_UP; i++) {
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (enum blend_agent_state)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

int blend_engine_create(const struct blend_engine_config *cfg, struct blend_engine **out)
{
    BLEND_ASSERT(cfg && out);
    if (cfg->agents_max == 0 || cfg->agents_max > BLEND_ENGINE_AGENTS_MAX) {
        return BLEND_EINVAL;
    }
    struct blend_engine *e = blend_calloc(1, sizeof *e);
    if (!e) {
        return BLEND_ENOMEM;
    }
    size_t n = 16;
    while (n < 2 * cfg->agents_max) {
        n *= 2;
    }
    e->slots = blend_calloc(n, sizeof *e->slots);
    if (!e->slots) {
        blend_free(e);
        return BLEND_ENOMEM;
    }
    e->slots_count = n;
    e->agents_max = cfg->agents_max;
    *out = e;
    return 0;
}

void blend_engine_destroy(struct blend_engine *e)
{
    if (e) {
        blend_free(e->slots);
        blend_free(e);
    }
}

static size_t slot_of(const struct blend_engine *e, int64_t id)
{
    /* Fibonacci hashing spreads sequential ids across the table. */
    uint64_t h = (uint64_t)id * 11400714819323198485ull;
    return (size_t)(h >> 20) & (e->slots_count - 1);
}

static struct agent *agent_find(const struct blend_engine *e, int64_t id)
{
    for (size_t i = slot_of(e, id);; i = (i + 1) & (e->slots_count - 1)) {
        struct agent *a = &e->slots[i];
        if (a->id == id) {
            return a;
        }
        if (a->id == 0) {
            return NULL;
        }
    }
}

static int agent_get_or_add(struct blend_engine *e, int64_t id, struct agent **out)
{
    BLEND_ASSERT(id > 0);
    size_t i = slot_of(e, id);
    for (;; i = (i + 1) & (e->slots_count - 1)) {
        if (e->slots[i].id == id) {
            *out = &e->slots[i];
            return 0;
        }
        if (e->slots[i].id == 0) {
            break;
        }
    }
    if (e->agents_count >= e->agents_max) {
        return BLEND_ELIMIT;
    }
    struct agent *a = &e->slots[i];
    memset(a, 0, sizeof *a);
    a->id = id;
    a->state = BLEND_AGENT_LOGGED_OUT;
    e->agents_count++;
    *out = a;
    return 0;
}

static void emit_state(struct blend_effects *fx, const struct agent *a, enum blend_agent_state from,
                       int64_t in_previous_ms, int64_t wall_ms)
{
    BLEND_ASSERT(fx->count < BLEND_ENGINE_EFFECTS_MAX);
    struct blend_effect *f = &fx->items[fx->count++];
    memset(f, 0, sizeof *f);
    f->type = BLEND_FX_AGENT_STATE;
    f->u.agent_state.agent_id = a->id;
    f->u.agent_state.from = from;
    f->u.agent_state.to = a->state;
    memcpy(f->u.agent_state.reason, a->reason, sizeof a->reason);
    f->u.agent_state.in_previous_ms = in_previous_ms;
    f->u.agent_state.wall_ms = wall_ms;
}

/* Moves agent `a` to `to` (with `reason` for not-ready) and records the change. */
static void transition(struct agent *a, enum blend_agent_state to, const char *reason,
                       const struct blend_event *ev, struct blend_effects *fx)
{
    enum blend_agent_state from = a->state;
    int64_t in_previous_ms = a->since_ms ? ev->now_ms - a->since_ms : 0;
    a->state = to;
    memset(a->reason, 0, sizeof a->reason);
    if (reason) {
        strncpy(a->reason, reason, sizeof a->reason - 1);
    }
    a->since_ms = ev->now_ms;
    a->since_wall_ms = ev->wall_ms;
    emit_state(fx, a, from, in_previous_ms, ev->wall_ms);
}

static int reason_ok(const char *r)
{
    size_t n = strnlen(r, BLEND_REASON_BYTES_MAX);
    if (n == 0 || n == BLEND_REASON_BYTES_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

static int step_agent(struct blend_engine *e, const struct blend_event *ev,
                      struct blend_effects *fx)
{
    if (ev->u.agent.agent_id <= 0) {
        return BLEND_EINVAL;
    }
    if (ev->type == BLEND_EV_AGENT_NOT_READY && !reason_ok(ev->u.agent.reason)) {
        return BLEND_EINVAL;
    }
    struct agent *a = agent_find(e, ev->u.agent.agent_id);
    if (!a) {
        /* Unknown agents are logged out; only a log-in or ready creates an entry. */
        if (ev->type != BLEND_EV_AGENT_LOGIN && ev->type != BLEND_EV_AGENT_READY) {
            return ev->type == BLEND_EV_AGENT_LOGOUT ? 0 : BLEND_ESTATE;
        }
        int rc = agent_get_or_add(e, ev->u.agent.agent_id, &a);
        if (rc) {
            return rc;
        }
    }
    switch (ev->type) {
    case BLEND_EV_AGENT_LOGIN:
        if (a->state != BLEND_AGENT_LOGGED_OUT) {
            return BLEND_ESTATE;
        }
        transition(a, BLEND_AGENT_NOT_READY, "login", ev, fx);
        return 0;
    case BLEND_EV_AGENT_READY:
        if (a->state != BLEND_AGENT_READY) {
            transition(a, BLEND_AGENT_READY, NULL, ev, fx);
        }
        return 0;
    case BLEND_EV_AGENT_NOT_READY:
        if (a->state == BLEND_AGENT_LOGGED_OUT) {
            return BLEND_ESTATE;
        }
        if (a->state != BLEND_AGENT_NOT_READY || strcmp(a->reason, ev->u.agent.reason) != 0) {
            transition(a, BLEND_AGENT_NOT_READY, ev->u.agent.reason, ev, fx);
        }
        return 0;
    case BLEND_EV_AGENT_LOGOUT:
        if (a->state != BLEND_AGENT_LOGGED_OUT) {
            transition(a, BLEND_AGENT_LOGGED_OUT, NULL, ev, fx);
        }
        return 0;
    case BLEND_EV_AGENT_WRAP_UP_END:
        if (a->state != BLEND_AGENT_WRAP_UP) {
            return BLEND_ESTATE;
        }
        transition(a, BLEND_AGENT_READY, NULL, ev, fx);
        return 0;
    default:
        return BLEND_EINVAL;
    }
}

int blend_engine_step(struct blend_engine *e, const struct blend_event *ev,
                      struct blend_effects *fx)
{
    BLEND_ASSERT(e && ev && fx);
    BLEND_ASSERT(ev->now_ms >= e->last_now_ms);
    fx->count = 0;
    e->last_now_ms = ev->now_ms;
    switch (ev->type) {
    case BLEND_EV_TICK:
    case BLEND_EV_TIMER_FIRED:
        return 0;
    case BLEND_EV_AGENT_LOGIN:
    case BLEND_EV_AGENT_READY:
    case BLEND_EV_AGENT_NOT_READY:
    case BLEND_EV_AGENT_LOGOUT:
    case BLEND_EV_AGENT_WRAP_UP_END:
        return step_agent(e, ev, fx);
    }
    return BLEND_EINVAL;
}

int blend_engine_restore_agent(struct blend_engine *e, const struct blend_agent_view *v)
{
    BLEND_ASSERT(e && v);
    if (v->agent_id <= 0 || v->state < BLEND_AGENT_LOGGED_OUT || v->state > BLEND_AGENT_WRAP_UP) {
        return BLEND_EINVAL;
    }
    struct agent *a;
    int rc = agent_get_or_add(e, v->agent_id, &a);
    if (rc) {
        return rc;
    }
    a->state = v->state;
    memset(a->reason, 0, sizeof a->reason);
    if (v->state == BLEND_AGENT_NOT_READY) {
        strncpy(a->reason, v->reason[0] ? v->reason : "unknown", sizeof a->reason - 1);
    }
    a->since_ms = v->since_ms;
    a->since_wall_ms = v->since_wall_ms;
    if (v->since_ms > e->last_now_ms) {
        e->last_now_ms = v->since_ms;
    }
    return 0;
}

static void view_of(const struct agent *a, struct blend_agent_view *out)
{
    memset(out, 0, sizeof *out);
    out->agent_id = a->id;
    out->state = a->state;
    memcpy(out->reason, a->reason, sizeof a->reason);
    out->since_ms = a->since_ms;
    out->since_wall_ms = a->since_wall_ms;
}

void blend_engine_agent(const struct blend_engine *e, int64_t agent_id,
                        struct blend_agent_view *out)
{
    const struct agent *a = agent_id > 0 ? agent_find(e, agent_id) : NULL;
    if (a) {
        view_of(a, out);
    } else {
        memset(out, 0, sizeof *out);
        out->agent_id = agent_id;
        out->state = BLEND_AGENT_LOGGED_OUT;
    }
}

size_t blend_engine_agents_count(const struct blend_engine *e)
{
    return e->agents_count;
}

void blend_engine_agent_at(const struct blend_engine *e, size_t i, struct blend_agent_view *out)
{
    BLEND_ASSERT(i < e->agents_count);
    size_t seen = 0;
    for (size_t s = 0; s < e->slots_count; s++) {
        if (e->slots[s].id != 0 && seen++ == i) {
            view_of(&e->slots[s], out);
            return;
        }
    }
    BLEND_ASSERT(0);
}

void blend_engine_check(const struct blend_engine *e)
{
    size_t seen = 0;
    for (size_t s = 0; s < e->slots_count; s++) {
        const struct agent *a = &e->slots[s];
        if (a->id == 0) {
            continue;
        }
        seen++;
        BLEND_ASSERT(a->state >= BLEND_AGENT_LOGGED_OUT && a->state <= BLEND_AGENT_WRAP_UP);
        BLEND_ASSERT(a->state != BLEND_AGENT_NOT_READY || a->reason[0] != '\0');
        BLEND_ASSERT(a->state == BLEND_AGENT_NOT_READY || a->reason[0] == '\0');
        BLEND_ASSERT(a->since_ms <= e->last_now_ms);
        BLEND_ASSERT(agent_find(e, a->id) == a);
    }
    BLEND_ASSERT(seen == e->agents_count);
}
