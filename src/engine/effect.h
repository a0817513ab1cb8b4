/*
 * Effects: what the engine asks the world to do after a step. Plain data; adapters carry them
 * out (append to the event log, arm a timer, ring a phone) and feed results back as events.
 * A step writes at most BLEND_ENGINE_EFFECTS_MAX effects into a caller-provided list.
 */
#ifndef BLEND_ENGINE_EFFECT_H
#define BLEND_ENGINE_EFFECT_H

#include "engine/event.h"

#include <stddef.h>
#include <stdint.h>

enum blend_effect_type {
    BLEND_FX_AGENT_STATE = 1, /* record an agent's state change in the event log */
    BLEND_FX_TIMER_SET,       /* call back with BLEND_EV_TIMER_FIRED at due_ms (monotonic) */
    BLEND_FX_TIMER_CANCEL,    /* the timer is no longer wanted */
};

struct blend_effect {
    enum blend_effect_type type;
    union {
        struct {
            int64_t agent_id;
            enum blend_agent_state from;
            enum blend_agent_state to;
            char reason[BLEND_REASON_BYTES_MAX];
            int64_t in_previous_ms; /* how long the agent was in `from` */
            int64_t wall_ms;
        } agent_state;
        struct {
            uint64_t timer_id;
            int64_t due_ms;
        } timer;
    } u;
};

struct blend_effects {
    struct blend_effect items[BLEND_ENGINE_EFFECTS_MAX];
    size_t count;
};

#endif
