/*
 * `blend sim run`: stochastic traffic through the routing engine (docs/sim-run.md). A model
 * (JSON, parsed strictly, every error naming a JSON path such as `$.queues[1].handle.mean_s`)
 * gives the run length, a warm-up, 30-minute (or other) intervals, queues with the fields of
 * scenario queues (docs/sim.md) plus Poisson arrival rates per interval, a handle-time and a
 * patience distribution, and agents with skills, capacities and shifts. blend_sim_run() draws
 * the traffic from a seeded xoshiro256** generator, drives the fast engine (blend_acd_*) with a
 * discrete-event loop, folds every observable effect into blend_stats_* and returns per-queue
 * and per-agent figures over the window after the warm-up.
 *
 * Determinism: the same model and seed give the same effects, figures and output bytes. The
 * generator is the only source of randomness and is drawn in event order.
 */
#ifndef BLEND_SIM_RUN_H
#define BLEND_SIM_RUN_H

#include "base/error.h"
#include "base/limits.h"
#include "engine/stats/stats.h"
#include "sim/sim.h"

#include <stddef.h>
#include <stdint.h>

/* ---- PRNG: xoshiro256** seeded through splitmix64 (prng.di.unimi.it) ---------------------- */

struct blend_sim_rng {
    uint64_t s[4];
};

/* The next splitmix64 output for *state (advances it). */
uint64_t blend_sim_splitmix64(uint64_t *state);
/* Seeds the four words with four successive splitmix64 outputs of `seed`. */
void blend_sim_rng_seed(struct blend_sim_rng *r, uint64_t seed);
/* The next 64-bit xoshiro256** output. */
uint64_t blend_sim_rng_next(struct blend_sim_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double blend_sim_rng_uniform(struct blend_sim_rng *r);
/* Exponential with the given mean (> 0). */
double blend_sim_rng_exponential(struct blend_sim_rng *r, double mean);
/* Log-normal with the given mean and standard deviation of the variable itself (mean > 0,
 * sd >= 0; sd = 0 gives the mean). */
double blend_sim_rng_lognormal(struct blend_sim_rng *r, double mean, double sd);

/* ---- Model ---------------------------------------------------------------------------------- */

enum blend_sim_dist {
    BLEND_SIM_DIST_NONE = 0, /* patience only: the customer never abandons */
    BLEND_SIM_DIST_EXPONENTIAL,
    BLEND_SIM_DIST_LOGNORMAL, /* handle time only */
};

struct blend_sim_distribution {
    enum blend_sim_dist dist;
    double mean_s;
    double sd_s; /* log-normal */
};

struct blend_sim_model_queue {
    struct blend_acd_queue_config config;
    struct blend_sim_queue_kpi kpi;
    enum blend_channel channel; /* arrivals come on the queue's lowest channel */
    double *rates_per_hour;     /* owned: one per interval */
    struct blend_sim_distribution handle;
    struct blend_sim_distribution patience;
};

struct blend_sim_shift {
    int64_t start_ms;
    int64_t end_ms;
};

struct blend_sim_model_agent {
    struct blend_acd_agent_config config;
    struct blend_sim_shift *shifts; /* owned, sorted, non-overlapping */
    size_t shifts_count;
};

struct blend_sim_model {
    int64_t duration_ms;
    int64_t warmup_ms;
    int64_t interval_ms;
    size_t intervals_count;
    int64_t answer_delay_ms; /* offers are accepted this long after they are made (0: at once) */
    size_t in_system_max;    /* engine's contacts_max, 1..BLEND_SIM_RUN_IN_SYSTEM_MAX */
    struct blend_sim_model_queue *queues; /* array order; config.id = scenario id */
    size_t queues_count;
    struct blend_sim_model_agent *agents; /* config.id = index + 1 */
    size_t agents_count;
    /* Names by id (index id - 1) as JSON string literals ready to print. */
    char **queue_names;
    char **agent_names;
};

/*
 * Parses a model (`text` of `len` bytes, need not be NUL-terminated); `file` names it in
 * messages, which read "FILE: $.path: message". Returns 0 with *out (owned:
 * blend_sim_model_destroy), BLEND_EPARSE with errs filled (at least one item), or
 * BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend_sim_model_parse(const char *text, size_t len, const char *file,
                                         struct blend_sim_model **out,
                                         struct blend_sim_errors *errs);
void blend_sim_model_destroy(struct blend_sim_model *m);

/* ---- Run ------------------------------------------------------------------------------------ */

struct blend_sim_run_opts {
    uint64_t seed;
    blend_sim_write_fn *events; /* may be NULL: receives each effect line (docs/sim.md format) */
    void *arg;
    int is_checked; /* blend_acd_check and blend_stats_check after every step (slow) */
};

struct blend_sim_run_queue {
    struct blend_stats_queue stats; /* window: from the warm-up's end to the run's end */
    int64_t blocked;                /* arrivals the engine refused (in-system limit) */
    /* Occupancy of the agents who meet the queue's base requirement (skills and a channel):
     * sum of busy / sum of (busy + ready idle), 0 when that is 0. */
    double occupancy;
};

struct blend_sim_run_agent {
    struct blend_stats_agent stats; /* zeroed with id set when never logged in */
};

struct blend_sim_run_result {
    uint64_t seed;
    int64_t window_start_ms;
    int64_t end_ms;
    uint64_t arrivals;                  /* contacts generated over the whole run */
    uint64_t steps;                     /* engine steps, timers included */
    struct blend_sim_run_queue *queues; /* model order */
    size_t queues_count;
    struct blend_sim_run_agent *agents; /* model order */
    size_t agents_count;
};

/*
 * Runs the model with the given seed. Returns 0 with *out (owned: blend_sim_run_result_destroy),
 * BLEND_ENOMEM, BLEND_ELIMIT (more than BLEND_SIM_RUN_CONTACTS_MAX arrivals or
 * BLEND_SIM_STEPS_MAX steps), or BLEND_EINVAL when the engine refuses the model's configuration.
 */
BLEND_MUST_USE int blend_sim_run(const struct blend_sim_model *m,
                                 const struct blend_sim_run_opts *opts,
                                 struct blend_sim_run_result **out);
void blend_sim_run_result_destroy(struct blend_sim_run_result *r);

/* Writes the figures: human-readable lines, or (is_json) one JSON object on one line. Returns
 * 0 or BLEND_ENOMEM. */
BLEND_MUST_USE int blend_sim_run_format(const struct blend_sim_model *m,
                                        const struct blend_sim_run_result *r, int is_json,
                                        blend_sim_write_fn *write, void *arg);

#endif
