/*
 * Blending decisions (blending.h). The service-level policy asks Erlang (src/engine/wfm/) for
 * the staffing inbound's live traffic needs; everything else is counting.
 */
#include "engine/dialer/blending.h"

#include <math.h>

#include "base/assert.h"
#include "base/limits.h"
#include "engine/wfm/erlang.h"

/* Erlang's staffing is asked over one hour of the live rate. */
#define ERLANG_INTERVAL_S 3600.0

int blend_blending_check(const struct blend_blending_params *p)
{
    BLEND_ASSERT(p);
    if (p->policy == BLEND_BLENDING_RESERVE) {
        return p->reserve_agents >= 0 && p->reserve_agents <= BLEND_ERLANG_AGENTS_MAX
                   ? 0
                   : BLEND_EINVAL;
    }
    if (p->policy != BLEND_BLENDING_SERVICE_LEVEL) {
        return BLEND_EINVAL;
    }
    return p->sl_target > 0 && p->sl_target < 1 && p->sl_threshold_s >= 0 &&
                   p->sl_threshold_s <= 3600 && p->patience_s >= 0 && p->patience_s <= 86400 &&
                   p->margin_agents >= 0 && p->margin_agents <= 1000
               ? 0
               : BLEND_EINVAL;
}

/* The agents inbound needs in all (busy with it or idle for it). */
static int keep_for_service_level(const struct blend_blending_params *p,
                                  const struct blend_blending_view *v, int group, double *traffic)
{
    struct blend_erlang_input in = {.calls = v->inbound_per_hour,
                                    .interval_s = ERLANG_INTERVAL_S,
                                    .aht_s = v->inbound_aht_s,
                                    .target_s = p->sl_threshold_s,
                                    .patience_s = p->patience_s};
    *traffic = v->inbound_per_hour * v->inbound_aht_s / ERLANG_INTERVAL_S;
    if (v->inbound_per_hour <= 0) {
        return p->margin_agents;
    }
    struct blend_erlang_result r;
    int rc = blend_erlang_required(&in, p->sl_target, -1, group + p->margin_agents + 1, &r);
    if (rc == BLEND_ELIMIT) {
        return BLEND_ELIMIT;
    }
    if (rc) {
        return rc;
    }
    return r.agents + p->margin_agents;
}

/* The least k with P(Poisson(mean) <= k) >= 0.95. */
static int poisson_q95(double mean)
{
    if (!(mean > 0)) {
        return 0;
    }
    double pmf = exp(-mean), cdf = pmf;
    int k = 0;
    while (cdf < 0.95 && k < BLEND_ERLANG_AGENTS_MAX) {
        k++;
        pmf *= mean / k;
        cdf += pmf;
    }
    return k;
}

int blend_blending_decide(const struct blend_blending_params *p,
                          const struct blend_blending_view *v, struct blend_blending_decision *out)
{
    BLEND_ASSERT(p && v && out);
    if (blend_blending_check(p) != 0 || v->free_agents < 0 || v->inbound_busy < 0 ||
        v->inbound_waiting < 0 || !(v->inbound_per_hour >= 0) || !(v->horizon_s >= 0) ||
        v->horizon_s > 3600 || v->inbound_per_hour > 1e7 ||
        (p->policy == BLEND_BLENDING_SERVICE_LEVEL && !(v->inbound_aht_s > 0))) {
        return BLEND_EINVAL;
    }
    struct blend_blending_decision d = {0};
    int group = v->free_agents + v->inbound_busy;
    if (p->policy == BLEND_BLENDING_RESERVE) {
        d.keep = p->reserve_agents;
    } else {
        int keep = keep_for_service_level(p, v, group, &d.traffic);
        if (keep == BLEND_ELIMIT) {
            d.is_short = 1; /* the group cannot meet the target: everyone stays on inbound */
            keep = group;
        } else if (keep < 0) {
            return keep;
        }
        d.keep = keep;
    }
    int idle_kept = d.keep - v->inbound_busy;
    idle_kept = idle_kept < 0 ? 0 : idle_kept;
    d.arrivals = poisson_q95(v->inbound_per_hour * v->horizon_s / 3600.0);
    d.outbound = v->inbound_waiting > 0 ? 0 : v->free_agents - idle_kept - d.arrivals;
    d.outbound = d.outbound < 0 ? 0 : d.outbound;
    BLEND_ASSERT(d.outbound <= v->free_agents);
    *out = d;
    return 0;
}
