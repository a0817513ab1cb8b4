/* The reference model as a struct blend_sim_engine (see ref_engine.h). */
#include "ref_engine.h"

#include "ref_acd.h"

static int ref_create(const struct blend_acd_limits *limits, void **out)
{
    struct blend_acdref *ref = NULL;
    int rc = blend_acdref_create(limits, &ref);
    if (rc == 0) {
        *out = ref;
    }
    return rc;
}

static void ref_destroy(void *engine)
{
    blend_acdref_destroy(engine);
}

static int ref_step(void *engine, const struct blend_acd_event *ev, struct blend_acd_effects *fx)
{
    return blend_acdref_step(engine, ev, fx);
}

static void ref_check(const void *engine)
{
    blend_acdref_check(engine);
}

const struct blend_sim_engine blend_sim_engine_ref = {
    .name = "ref",
    .create = ref_create,
    .destroy = ref_destroy,
    .step = ref_step,
    .check = ref_check,
};
