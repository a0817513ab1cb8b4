/*
 * `blend sim`: scripted replay of the routing engine (docs/sim.md). A scenario is a JSON-lines
 * file: a config line (queues, agents, accept mode) then timed actions. The parser turns it
 * into engine configs and engine events, mapping every string id (queues, agents, contacts,
 * customers, skills) to a small integer in order of first appearance. The replay driver feeds
 * any engine that follows src/engine/acd/acd.h through a small vtable (the fast engine in the
 * product, the reference model too in tests), keeps the engine's timer table and fires due
 * timers before each action, and writes one JSON line per observable effect, then a stats line
 * with per-queue KPIs (definitions of /work/shared/KPIS.md, see docs/sim.md).
 *
 * Determinism: the same scenario and an engine that agrees with the contract give the same
 * output byte for byte: effects of one engine step are printed in canonical order
 * (blend_sim_effect_cmp) and every number has one fixed format.
 */
#ifndef BLEND_SIM_SIM_H
#define BLEND_SIM_SIM_H

#include "base/error.h"
#include "base/limits.h"
#include "engine/acd/acd.h"

#include <stddef.h>
#include <stdint.h>

/* ---- Engines -------------------------------------------------------------------------------- */

/* An engine the driver can run: the fast engine (blend_sim_engine_fast) or, in tests, the
 * reference model. `check` may be NULL; the driver calls it after every step when asked. */
struct blend_sim_engine {
    const char *name;
    int (*create)(const struct blend_acd_limits *limits, void **out);
    void (*destroy)(void *engine);
    int (*step)(void *engine, const struct blend_acd_event *ev, struct blend_acd_effects *fx);
    void (*check)(const void *engine);
};

/* The product engine, blend_acd_* (src/engine/acd/). */
extern const struct blend_sim_engine blend_sim_engine_fast;

/* ---- Effects -------------------------------------------------------------------------------- */

/* True for every effect a scenario observes (all but TIMER_SET and TIMER_CANCEL). */
int blend_sim_effect_is_observable(const struct blend_acd_effect *e);
/* Copies the fields that carry meaning for e's type into a zeroed *out, so that two engines'
 * effects compare equal exactly when they say the same thing. */
void blend_sim_effect_normalize(const struct blend_acd_effect *e, struct blend_acd_effect *out);
/* The name a scenario's output gives an observable effect ("offer", "wrapup", ...). */
const char *blend_sim_effect_name(const struct blend_acd_effect *e);
/* qsort comparator: (at_ms, type, contact, agent, queue, then the remaining fields). */
int blend_sim_effect_cmp(const void *a, const void *b);

/* ---- Scenarios ------------------------------------------------------------------------------ */

enum blend_sim_accept {
    BLEND_SIM_ACCEPT_MANUAL = 0, /* the script accepts, rejects, ends and abandons */
    BLEND_SIM_ACCEPT_AUTO,       /* offers accepted at once, handle_s and patience_s honoured */
};

/* Per-queue KPI settings that the engine does not need. */
struct blend_sim_queue_kpi {
    int64_t short_abandon_ms; /* abandons within this are short; 0 disables */
    int64_t sla_within_ms;    /* service-level threshold T */
    double sla_pct;           /* target X (reported, not used in computing) */
};

struct blend_sim_line {
    int line; /* 1-based line number in the file */
    int64_t at_ms;
    struct blend_acd_event ev; /* now_ms is set by the driver */
    int64_t handle_ms;         /* contact.arrive: talk time in auto mode; -1 = until ended */
    int64_t patience_ms;       /* contact.arrive: abandons if still waiting; -1 = never */
};

struct blend_sim_scenario {
    enum blend_sim_accept accept;
    int64_t end_ms; /* -1: auto runs until nothing is pending, manual stops at the last line */
    struct blend_acd_queue_config *queues;
    struct blend_sim_queue_kpi *queue_kpis;
    size_t queues_count;
    struct blend_acd_agent_config *agents;
    size_t agents_count;
    struct blend_sim_line *lines;
    size_t lines_count;
    /* Names by integer id (index id - 1), as JSON string literals ready to print. */
    char **queue_names;
    size_t queue_names_count;
    char **agent_names;
    size_t agent_names_count;
    char **contact_names;
    size_t contact_names_count;
    size_t customers_count;
};

struct blend_sim_errors {
    size_t count;
    char items[BLEND_SIM_ERRORS_MAX][256]; /* "FILE:LINE: message" */
};

/*
 * Parses a whole scenario (`text` of `len` bytes, need not be NUL-terminated); `file` names it
 * in messages. Returns 0 with *out (owned: blend_sim_scenario_destroy), or BLEND_EPARSE /
 * BLEND_ELIMIT with errs filled (at least one item), or BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_sim_scenario_parse(const char *text, size_t len, const char *file,
                                            struct blend_sim_scenario **out,
                                            struct blend_sim_errors *errs);
void blend_sim_scenario_destroy(struct blend_sim_scenario *s);

/* ---- Replay --------------------------------------------------------------------------------- */

/* Receives each output line (without newline); `line` is valid only during the call. */
typedef void blend_sim_write_fn(const char *line, size_t len, void *arg);
/* Receives each refusal: "FILE:LINE: message" (the engine refused a scripted action). */
typedef void blend_sim_refuse_fn(const char *message, void *arg);

struct blend_sim_replay_opts {
    const char *file; /* names the scenario in refusal messages */
    blend_sim_write_fn *write;
    blend_sim_refuse_fn *refuse; /* may be NULL */
    void *arg;                   /* passed to write and refuse */
    int is_checked;              /* call engine->check after every step */
};

struct blend_sim_replay_result {
    uint64_t steps;   /* engine steps taken, timers included */
    uint64_t refused; /* scripted actions the engine refused */
};

/*
 * Replays `s` on a fresh instance of `engine`. Returns 0 (refusals are counted in *result and
 * reported through opts->refuse, the replay goes on), BLEND_ENOMEM, BLEND_ELIMIT (step guard),
 * or the engine's error when it refuses the configuration itself (BLEND_EINVAL).
 */
BLEND_MUST_USE int blend_sim_replay(const struct blend_sim_scenario *s,
                                    const struct blend_sim_engine *engine,
                                    const struct blend_sim_replay_opts *opts,
                                    struct blend_sim_replay_result *result);

/* Writes `ms` as seconds in the one number format of the output ("12", "12.5", "0.125"). */
void blend_sim_format_seconds(int64_t ms, char *out, size_t outlen);

#endif
