/*
 * Blending: how many of a group's free agents outbound may take now, so that inbound stays safe
 * (docs/dialer.md §Blending). Pure: a function of the group's live figures.
 *
 * Inbound always wins: while an inbound contact of the group waits, outbound gets no agent.
 * Otherwise the group keeps `keep` agents for inbound — agents handling inbound count toward
 * it, idle agents make up the rest — and outbound may take the free agents beyond that:
 *   reserve:        keep = reserve_agents;
 *   service level:  keep = the least N for which Erlang C (Erlang A with a patience) gives
 *                   inbound's live traffic (calls per hour x AHT) a service level of at least
 *                   sl_target within sl_threshold_s, plus margin_agents.
 * Inbound callers arriving while the dialer's calls ring will take free agents first, so the
 * free agents left to outbound are also reduced by the 95th percentile of the inbound arrivals
 * expected within the dialer's horizon (Poisson at the live rate).
 * Invariant: 0 <= outbound <= free agents, and outbound = 0 while inbound waits.
 */
#ifndef BLEND_ENGINE_DIALER_BLENDING_H
#define BLEND_ENGINE_DIALER_BLENDING_H

#include "base/error.h"

enum blend_blending_policy {
    BLEND_BLENDING_RESERVE,
    BLEND_BLENDING_SERVICE_LEVEL,
};

struct blend_blending_params {
    enum blend_blending_policy policy;
    int reserve_agents;    /* reserve: agents kept for inbound, >= 0 */
    double sl_target;      /* service level: share answered within the threshold, (0, 1) */
    double sl_threshold_s; /* service level: the threshold T, >= 0 */
    double patience_s;     /* service level: mean patience (Erlang A); 0 = Erlang C */
    int margin_agents;     /* service level: agents kept beyond Erlang's answer, >= 0 */
};

struct blend_blending_view {
    int free_agents;         /* agents of the group idle and ready */
    int inbound_busy;        /* agents of the group handling inbound */
    int inbound_waiting;     /* inbound contacts of the group waiting */
    double inbound_per_hour; /* inbound arrivals, live rate (e.g. the last 15 minutes) */
    double inbound_aht_s;    /* inbound average handle time, > 0 */
    double horizon_s;        /* the dialer's look-ahead (its dial-to-answer time), >= 0 */
};

struct blend_blending_decision {
    int outbound;   /* free agents outbound may take now */
    int keep;       /* agents kept for inbound (busy with inbound or idle) */
    double traffic; /* inbound traffic in Erlangs (service level policy) */
    int is_short;   /* service level: no staffing within the group meets the target */
    int arrivals;   /* inbound arrivals held against the horizon (95th percentile) */
};

/* Checks `params` (BLEND_EINVAL out of range). */
BLEND_MUST_USE int blend_blending_check(const struct blend_blending_params *params);

/* The decision for `view`. When no staffing within the group meets the service-level target,
 * the whole group is kept for inbound (is_short). BLEND_EINVAL for negative counts, a
 * non-positive AHT under the service-level policy, or traffic beyond Erlang's limits. */
BLEND_MUST_USE int blend_blending_decide(const struct blend_blending_params *params,
                                         const struct blend_blending_view *view,
                                         struct blend_blending_decision *out);

#endif
