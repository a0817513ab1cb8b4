/*
 * `blend sim run` with an outbound model (docs/sim-run.md §Outbound): a campaign's day drawn
 * from a seeded generator and paced by the dialer's pacing engine (src/engine/dialer/), once per
 * mode, so the modes are compared on the same people: talk minutes per agent-hour, occupancy,
 * abandon rate, dials per hour.
 *
 * The world: `agents` agents work the whole run. A dialled number is answered by a person with
 * the interval's answer rate (after an answer delay), else by a machine (machine_rate of the
 * rest, after a machine delay), else is busy (busy_rate of what remains, in 1-3 s), else rings
 * out after no_answer_s. Answering-machine detection calls a person a machine with
 * amd.human_as_machine and a machine a person with amd.machine_as_human. A person (or a machine
 * taken for one) waits connect_within_s for an agent: connected, or dropped (the safe-harbour
 * message). A connected person talks for a draw of `talk`, then the agent wraps up for
 * wrapup_s; a machine taken for a person takes the agent amd.machine_handle_s. In preview mode
 * each free agent reads a record for preview_s, then dials it and waits for the outcome.
 *
 * With `inbound`, calls also arrive for the same agents (Poisson per interval, a handle time, a
 * patience): a waiting inbound caller always takes the next free agent, before any outbound
 * answer, and the blending policy (engine/dialer/blending.h) says how many free agents the
 * dialer may use; inbound's service level, ASA and abandon rate are reported beside the
 * outbound figures.
 *
 * Determinism: one generator drawn in event order; the same model and seed give the same
 * figures. Each mode's run re-seeds it with the same seed.
 */
#ifndef BLEND_SIM_DIAL_H
#define BLEND_SIM_DIAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "engine/dialer/blending.h"
#include "engine/dialer/pacing.h"
#include "sim/run.h"

/* Agents of an outbound model. */
#define BLEND_SIM_DIAL_AGENTS_MAX 2000
/* Inbound callers waiting at once in a blended model (beyond: the run fails, BLEND_ELIMIT). */
#define BLEND_SIM_DIAL_INBOUND_WAITING_MAX 100000

struct blend_sim_dial_model {
    int64_t duration_ms;
    int64_t interval_ms;
    size_t intervals_count;
    double *answer_rates; /* owned: one per interval, in [0.01, 0.99] */
    int agents;
    int64_t list_size;
    unsigned modes; /* bit (1 << enum blend_dial_mode) per mode to run */
    double machine_rate, busy_rate;
    struct blend_sim_distribution answer_delay, machine_delay, talk;
    int64_t no_answer_ms, wrapup_ms, connect_within_ms, preview_ms, machine_handle_ms;
    double amd_human_as_machine, amd_machine_as_human;
    int is_uk; /* UK rule: 24-hour window, AMD's people-taken-for-machines count as drops */
    struct blend_pacer_params pacer;
    /* Inbound calls to the same agents (blending); has_inbound 0: an outbound-only day. */
    int has_inbound;
    double *inbound_rates; /* owned: calls per hour, one per interval */
    struct blend_sim_distribution inbound_handle, inbound_patience;
    int64_t sl_threshold_ms, short_abandon_ms;
    struct blend_blending_params blending;
};

/* The figures of one mode's run. */
struct blend_sim_dial_figures {
    enum blend_dial_mode mode;
    uint64_t dials, lives, connected, dropped, machines, amd_false_positives, amd_false_negatives;
    double talk_s, busy_s; /* busy: talk, wrap-up, preview and machines taken for people */
    double talk_min_per_agent_hour, occupancy, abandon_rate, dials_per_hour;
    int is_list_exhausted;
    /* Inbound (KPIS.md: abandons after the short-abandon threshold count) */
    uint64_t in_offered, in_answered, in_answered_in_sl, in_abandoned;
    double in_wait_s; /* sum over answered */
    double in_service_level, in_asa_s, in_abandon_rate;
};

/* Nonzero when the model document (parsed JSON text) is an outbound model (has "outbound"). */
int blend_sim_dial_is_model(const char *text, size_t len);

/* Parses an outbound model; errors as blend_sim_model_parse. *out owned:
 * blend_sim_dial_model_destroy. */
BLEND_MUST_USE int blend_sim_dial_model_parse(const char *text, size_t len, const char *file,
                                              struct blend_sim_dial_model **out,
                                              struct blend_sim_errors *errs);
void blend_sim_dial_model_destroy(struct blend_sim_dial_model *m);

/* Runs one mode. BLEND_ENOMEM, or BLEND_ELIMIT when more calls ring at once than the pacer
 * weighs (BLEND_PACER_CALLS_MAX). */
BLEND_MUST_USE int blend_sim_dial_run(const struct blend_sim_dial_model *m, uint64_t seed,
                                      enum blend_dial_mode mode,
                                      struct blend_sim_dial_figures *out);

/* Writes one line per mode (text), or one JSON object on one line with "outbound": [...]. */
BLEND_MUST_USE int blend_sim_dial_format(const struct blend_sim_dial_model *m,
                                         const struct blend_sim_dial_figures *figures, size_t count,
                                         int is_json, blend_sim_write_fn *write, void *arg);

/* The name of a mode ("preview", ...). */
const char *blend_sim_dial_mode_name(enum blend_dial_mode mode);

#endif
