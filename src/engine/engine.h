/*
 * The engine: all contact-center state, as pure state machines fed one event at a time.
 *
 *   blend_engine_step(engine, &event, &effects)
 *
 * applies one event and lists the effects it asks for. It never reads a clock, does I/O or
 * allocates after creation (tables are sized once, up to limits.h maxima), so the same events
 * always give the same effects: `blend sim` and the tests replay it with a virtual clock.
 *
 * This first layer holds agent presence (logged-out / ready / not-ready(reason) / wrap-up);
 * routing arrives on top of it. Invariants, checked after every step by
 * blend_engine_check(): every known agent has a valid state; a logged-out agent has no reason;
 * a not-ready agent has one; state-since is never in the future.
 */
#ifndef BLEND_ENGINE_ENGINE_H
#define BLEND_ENGINE_ENGINE_H

#include "base/error.h"
#include "engine/effect.h"
#include "engine/event.h"

#include <stddef.h>
#include <stdint.h>

struct blend_engine;

struct blend_engine_config {
    size_t agents_max; /* 1..BLEND_ENGINE_AGENTS_MAX */
};

struct blend_agent_view {
    int64_t agent_id;
    enum blend_agent_state state;
    char reason[BLEND_REASON_BYTES_MAX];
    int64_t since_wall_ms;
    int64_t since_ms;
};

BLEND_MUST_USE int blend_engine_create(const struct blend_engine_config *cfg,
                                       struct blend_engine **out);
void blend_engine_destroy(struct blend_engine *e);

/*
 * Applies one event. Returns 0 with `fx` filled (fx->count may be 0), or:
 *   BLEND_ESTATE  the event is not allowed in the current state (nothing changed, no effects);
 *   BLEND_EINVAL  the event is malformed (unknown type, empty reason where one is needed);
 *   BLEND_ELIMIT  a new agent would exceed agents_max.
 * Events must come in non-decreasing now_ms order (asserted).
 */
BLEND_MUST_USE int blend_engine_step(struct blend_engine *e, const struct blend_event *ev,
                                     struct blend_effects *fx);

/* Restores an agent's presence from the event log at start-up (no effects, no checks of the
 * transition: the log is the truth). */
BLEND_MUST_USE int blend_engine_restore_agent(struct blend_engine *e,
                                              const struct blend_agent_view *v);

/* Copies an agent's presence into *out; an unknown agent reads as logged out. */
void blend_engine_agent(const struct blend_engine *e, int64_t agent_id,
                        struct blend_agent_view *out);
/* Agents the engine knows, and the i-th (0 <= i < count) in no particular order. */
size_t blend_engine_agents_count(const struct blend_engine *e);
void blend_engine_agent_at(const struct blend_engine *e, size_t i, struct blend_agent_view *out);

/* Asserts the invariants above; the adapters call it after each step in debug builds. */
void blend_engine_check(const struct blend_engine *e);

#endif
