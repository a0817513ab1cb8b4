/*
 * Erlang C and Erlang A staffing mathematics (workforce management). Pure functions of their
 * inputs: no I/O, no clock, no allocation, no global state, so they are safe from any thread
 * and give the same answer for the same input on every run.
 *
 * Erlang C is the M/M/N queue (infinite patience); Erlang A (Palm's model, M/M/N+M) adds
 * exponentially distributed customer patience with mean `patience_s`. Both are computed in a
 * form that stays finite from A -> 0 up to BLEND_ERLANG_AGENTS_MAX agents: the Erlang B
 * recursion in ratio form with a switch to log space, and for Erlang A one-dimensional integrals
 * of log-concave functions evaluated by adaptive Gauss-Kronrod quadrature relative to their
 * maximum. docs/erlang.md states every formula and tolerance.
 *
 * Invariants of every result: probabilities lie in [0, 1], p_abandon <= p_wait, occupancy lies
 * in [0, 1], asa_s >= 0 (+infinity for Erlang C with agents <= traffic: the queue is unstable).
 */
#ifndef BLEND_ENGINE_WFM_ERLANG_H
#define BLEND_ENGINE_WFM_ERLANG_H

#include "base/error.h"
#include "base/limits.h"

struct blend_erlang_input {
    double calls;      /* calls offered in the interval, >= 0 */
    double interval_s; /* interval length, > 0 */
    double aht_s;      /* average handle time, > 0 */
    double target_s;   /* service-level threshold T ("answered within T seconds"), >= 0 */
    double patience_s; /* mean patience for Erlang A; 0 = infinite patience (Erlang C) */
};

struct blend_erlang_result {
    double traffic_erlangs; /* A = calls * aht_s / interval_s */
    int agents;             /* N */
    double p_wait;          /* probability that a call waits at all */
    double asa_s;           /* mean wait of all offered calls (zero waits and abandons included) */
    double service_level;   /* calls answered within target_s / calls offered */
    double occupancy;       /* carried traffic / N (A/N for Erlang C) */
    double p_abandon;       /* probability that a call abandons (0 for Erlang C) */
};

/*
 * Evaluates N = `agents` agents for the input. `agents` runs from 1 to BLEND_ERLANG_AGENTS_MAX.
 * With Erlang C and N <= A the queue is unstable: p_wait = 1, service_level = 0, occupancy = 1
 * and asa_s = +infinity. Returns 0 and writes `out`, or BLEND_EINVAL (non-finite, negative or
 * out-of-range input; zero interval or AHT; traffic or patience beyond the limits above), or
 * BLEND_EINTERNAL if the quadrature did not converge (not seen on any tested input).
 */
BLEND_MUST_USE int blend_erlang_eval(const struct blend_erlang_input *in, int agents,
                                     struct blend_erlang_result *out);

/*
 * Finds the least N > A with service_level >= sl_target and, when max_abandon >= 0,
 * p_abandon <= max_abandon, and writes its evaluation. sl_target lies in [0, 1]; max_abandon is
 * negative (no cap) or in [0, 1]; agents_max >= 1 is clamped to BLEND_ERLANG_AGENTS_MAX.
 * Returns 0, BLEND_EINVAL for bad input, BLEND_ELIMIT when no N <= agents_max meets the target,
 * or an error of blend_erlang_eval.
 */
BLEND_MUST_USE int blend_erlang_required(const struct blend_erlang_input *in, double sl_target,
                                         double max_abandon, int agents_max,
                                         struct blend_erlang_result *out);

#endif
