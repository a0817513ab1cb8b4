/*
 * The product engine behind the replay driver's vtable: blend_acd_* (src/engine/acd/). Only
 * this file names the fast engine, so a build that uses the driver with another engine (the
 * reference model in tests) does not pull it in.
 */
#include "sim/sim.h"

static int fast_create(const struct blend_acd_limits *limits, void **out)
{
    struct blend_acd *acd = NULL;
    int rc = blend_acd_create(limits, &acd);
    if (rc == 0) {
        *out = acd;
    }
    return rc;
}

static void fast_destroy(void *engine)
{
    blend_acd_destroy(engine);
}

static int fast_step(void *engine, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acd_step(engine, ev, fx);
}

static void fast_check(const void *engine)
{
    blend_acd_check(engine);
}

const struct blend_sim_engine blend_sim_engine_fast = {
    .name = "fast",
    .create = fast_create,
    .destroy = fast_destroy,
    .step = fast_step,
    .check = fast_check,
};
