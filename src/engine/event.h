/*
 * Events: everything the engine learns arrives as one of these, carrying the time it happened
 * (monotonic `now_ms` for durations and timers, `wall_ms` for what humans read). The engine never
 * reads a clock; adapters stamp events. Events are plain data, copied by value.
 */
#ifndef BLEND_ENGINE_EVENT_H
#define BLEND_ENGINE_EVENT_H

#include "base/limits.h"

#include <stdint.h>

enum blend_event_type {
    BLEND_EV_TICK = 1,          /* time passes (timers due at or before now fire) */
    BLEND_EV_AGENT_LOGIN,       /* agent logs in: not-ready, reason "login" */
    BLEND_EV_AGENT_READY,       /* agent asks to take contacts */
    BLEND_EV_AGENT_NOT_READY,   /* agent pauses with a reason code */
    BLEND_EV_AGENT_LOGOUT,      /* agent logs out */
    BLEND_EV_AGENT_WRAP_UP_END, /* agent finishes after-contact work early */
    BLEND_EV_TIMER_FIRED,       /* a timer the engine set has expired (adapter-driven) */
};

enum blend_agent_state {
    BLEND_AGENT_LOGGED_OUT = 0,
    BLEND_AGENT_READY,
    BLEND_AGENT_NOT_READY,
    BLEND_AGENT_WRAP_UP,
};

struct blend_event {
    enum blend_event_type type;
    int64_t now_ms;  /* monotonic milliseconds */
    int64_t wall_ms; /* Unix epoch milliseconds */
    union {
        struct {
            int64_t agent_id;
            char reason[BLEND_REASON_BYTES_MAX]; /* NOT_READY only; NUL-terminated */
        } agent;
        struct {
            uint64_t timer_id;
        } timer;
    } u;
};

/* "logged-out", "ready", "not-ready", "wrap-up". */
const char *blend_agent_state_name(enum blend_agent_state s);
/* Parses a state name; returns 0 or BLEND_EINVAL. */
int blend_agent_state_parse(const char *name, enum blend_agent_state *out);

#endif
