/*
 * Outbound pacing: how many calls a campaign launches now (docs/dialer.md §Pacing). Pure and
 * deterministic: the caller feeds what happened (attempts ended, live answers connected or
 * dropped, handle times of finished contacts) with the time it happened, and asks for a
 * decision with a snapshot of its agents and calls in flight; no clock, no I/O, no allocation.
 *
 * Modes: preview (the agent dials: never a call of the pacer's), progressive (one call per free
 * agent), power (a fixed number of calls per free agent), predictive (calls launched ahead of
 * agents becoming free, as many as keep the expected drops within the abandon budget).
 *
 * Predictive, in one paragraph: over the horizon H (the typical dial-to-answer time of calls a
 * person answers), the agents available are the free ones plus each busy agent with the
 * probability, read from the recent handle times, that a contact already `elapsed` long ends
 * within H; the live answers are each call in flight with the probability that a call still
 * ringing after its time is answered by a person, plus each new call with the current answer
 * probability. Both counts are Poisson-binomial, computed exactly; the expected drops are
 * E[max(0, lives - agents)]. Each further call is launched while the chance that its answer
 * finds no agent stays within `target_used`: the campaign's target times BLEND_PACER_AIM (a
 * margin, so that the rolling rate settles below the target, not on it), moved by the rolling
 * window's record: up to 1.5x while the window is under that aim, down to 0.25x over it.
 *
 * Invariants: a decision never dials more than `records_left`, never more than
 * `max_lines_per_agent` calls in flight per staffed agent, never in preview, never when no
 * agent is staffed; progressive never has more calls in flight than free agents (no drop is
 * possible); estimates stay within their bounds (probabilities in [0.01, 0.99]).
 */
#ifndef BLEND_ENGINE_DIALER_PACING_H
#define BLEND_ENGINE_DIALER_PACING_H

#include <stdint.h>

#include "base/error.h"
#include "base/limits.h"

/* The share of the abandon target the pacer steers the rolling rate to. */
#define BLEND_PACER_AIM 0.85

enum blend_dial_mode {
    BLEND_DIAL_PREVIEW,
    BLEND_DIAL_PROGRESSIVE,
    BLEND_DIAL_POWER,
    BLEND_DIAL_PREDICTIVE,
};

/* How an attempt ended. HUMAN and MACHINE were answered (the AMD verdict, UNSURE counted as
 * HUMAN: it is connected as one); the others were not. */
enum blend_dial_outcome {
    BLEND_DIAL_HUMAN,
    BLEND_DIAL_MACHINE,
    BLEND_DIAL_NO_ANSWER,
    BLEND_DIAL_BUSY,
    BLEND_DIAL_FAILED,
};

struct blend_pacer_params {
    enum blend_dial_mode mode;
    double power_ratio;         /* power: calls per free agent, 1.0..BLEND_PACER_LINES_MAX */
    double abandon_target;      /* predictive: dropped / live answers, (0, 0.2]; default 0.03 */
    double max_lines_per_agent; /* predictive: calls in flight per staffed agent, 1..LINES_MAX */
    double prior_answer;        /* answer probability before any attempt, [0.01, 0.99] */
    int64_t prior_answer_ms;    /* dial-to-answer time before any answer, > 0 */
    int64_t prior_handle_ms;    /* handle time (talk + wrap-up) before any sample, > 0 */
    int64_t window_ms;          /* the abandon rate's rolling window (US: 30 days, UK: 24 h) */
};

/* Defaults: predictive, 3% over 30 days, 3 lines per agent, 30% answered in 12 s, 3 min handle
 * time, power ratio 2. */
void blend_pacer_params_default(struct blend_pacer_params *p);

/* What the campaign has right now. Arrays are borrowed for the call. */
struct blend_pacer_view {
    int free_agents;                   /* ready for this campaign, no contact, not reserved */
    int busy_count;                    /* agents of the campaign handling a contact */
    const int64_t *busy_elapsed_ms;    /* per busy agent: time since the contact began */
    int ringing_count;                 /* calls launched and not yet answered or ended */
    const int64_t *ringing_elapsed_ms; /* per call in flight: time since it was dialled */
    int records_left;                  /* numbers that may be dialled now (window, DNC...) */
};

struct blend_pacer_decision {
    int dial;               /* calls to launch now, >= 0 */
    double p_answer;        /* the answer probability paced on (the estimate plus a margin) */
    int64_t horizon_ms;     /* H */
    double agents_expected; /* E[agents available within H] */
    double lives_expected;  /* E[live answers] of the calls in flight and the new ones */
    double drops_expected;  /* E[max(0, lives - agents)] */
    double target_used;     /* the drop ratio allowed for this decision */
    double window_rate;     /* dropped / live answers in the rolling window (0 when none) */
};

/* One bucket of the rolling window. */
struct blend_pacer_bucket {
    int64_t start_ms;
    uint32_t lives;
    uint32_t drops;
};

/* A sample of the attempts' ring times: how long until an answer, or until it ended. */
struct blend_pacer_ring {
    int64_t ring_ms;
    uint8_t is_human;
};

struct blend_pacer {
    struct blend_pacer_params params;
    double human_w, total_w; /* decayed counts of answered-by-a-person and of all attempts */
    /* The last samples, and the same counted per whole second (the last bin holds the longer
     * ones): the survival curves are read from the bins, to the second. */
    struct blend_pacer_ring rings[BLEND_PACER_SAMPLES_MAX];
    int rings_count, rings_next;
    uint16_t ring_bins[2][BLEND_PACER_RING_BINS]; /* [is_human][second] */
    double human_ring_ms_sum;
    int64_t handles_ms[BLEND_PACER_SAMPLES_MAX];
    int handles_count, handles_next;
    uint16_t handle_bins[BLEND_PACER_HANDLE_BINS];
    double handle_ms_sum;
    struct blend_pacer_bucket window[BLEND_PACER_BUCKETS];
    int64_t bucket_ms;
    uint64_t attempts, lives, drops; /* since init */
};

/* Validates `params` and starts a pacer with no history. BLEND_EINVAL for a parameter out of
 * its range (the fields' comments). */
BLEND_MUST_USE int blend_pacer_init(struct blend_pacer *p, const struct blend_pacer_params *params);

/* An attempt ended `ring_ms` after it was dialled (answered then, or given up). */
void blend_pacer_attempt(struct blend_pacer *p, int64_t now_ms, enum blend_dial_outcome outcome,
                         int64_t ring_ms);

/* A live answer was connected to an agent within 2 s (is_dropped = 0) or dropped (1: the
 * safe-harbour message played instead; in UK mode also an answering-machine verdict later
 * found to be a person). */
void blend_pacer_live(struct blend_pacer *p, int64_t now_ms, int is_dropped);

/* A contact of the campaign ended its agent's part after `handle_ms` (talk + wrap-up). */
void blend_pacer_handled(struct blend_pacer *p, int64_t handle_ms);

/* The decision for `view` at `now_ms`. BLEND_EINVAL for an inconsistent view (negative counts,
 * counts above BLEND_PACER_AGENTS_MAX / BLEND_PACER_CALLS_MAX, NULL arrays with a count). */
BLEND_MUST_USE int blend_pacer_decide(const struct blend_pacer *p, int64_t now_ms,
                                      const struct blend_pacer_view *view,
                                      struct blend_pacer_decision *out);

/* Predictive's risk of launching `extra` calls on `view`: the expected agents, lives and drops
 * over the horizon, as blend_pacer_decide weighs them (for explanations and tests). */
BLEND_MUST_USE int blend_pacer_risk(const struct blend_pacer *p,
                                    const struct blend_pacer_view *view, int extra, double *agents,
                                    double *lives, double *drops);

/* dropped / live answers in the rolling window ending at now_ms; 0 with no live answer. */
double blend_pacer_window_rate(const struct blend_pacer *p, int64_t now_ms);

/* The current answer probability (decayed counts with the prior). */
double blend_pacer_p_answer(const struct blend_pacer *p);

/* The horizon H: the mean dial-to-answer time of the calls people answered (the prior's before
 * any). */
int64_t blend_pacer_horizon_ms(const struct blend_pacer *p);

#endif
