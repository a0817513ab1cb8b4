/*
 * Fuzz target for outbound models of `blend sim run`: the input is parsed as an outbound model;
 * when it is accepted, every value must lie within its documented range and a short run of
 * each mode must succeed with figures that add up (connected + dropped = answered people,
 * abandon rate in [0, 1], occupancy in [0, 1]); when it is refused, every error names the file
 * and a JSON path. No leak either way.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "sim/dial.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_model(const struct blend_sim_dial_model *m)
{
    BLEND_ASSERT(m->duration_ms > 0 && m->interval_ms >= 60000 && m->intervals_count >= 1);
    BLEND_ASSERT(m->agents >= 1 && m->agents <= BLEND_SIM_DIAL_AGENTS_MAX && m->list_size >= 1);
    BLEND_ASSERT(m->modes >= 1 && m->modes <= 0xF);
    BLEND_ASSERT(m->no_answer_ms >= 15000 && m->connect_within_ms >= 0 &&
                 m->connect_within_ms <= 2000);
    BLEND_ASSERT(m->talk.mean_s > 0);
    for (size_t i = 0; i < m->intervals_count; i++) {
        BLEND_ASSERT(m->answer_rates[i] >= 0.01 && m->answer_rates[i] <= 0.99);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend_sim_dial_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_dial_model_parse((const char *)data, size, "fuzz", &m, &errs);
    if (rc == 0) {
        check_model(m);
        if (m->duration_ms <= 600000 && m->agents <= 20) {
            for (int mode = BLEND_DIAL_PREVIEW; mode <= BLEND_DIAL_PREDICTIVE; mode++) {
                struct blend_sim_dial_figures f;
                int rrc = blend_sim_dial_run(m, size, (enum blend_dial_mode)mode, &f);
                BLEND_ASSERT(rrc == 0 || rrc == BLEND_ELIMIT);
                if (rrc == 0) {
                    BLEND_ASSERT(f.connected + f.dropped == f.lives);
                    BLEND_ASSERT(f.abandon_rate >= 0 && f.abandon_rate <= 1);
                    BLEND_ASSERT(f.occupancy >= 0 && f.occupancy <= 1.0 + 1e-9);
                    BLEND_ASSERT((int64_t)f.dials <= m->list_size);
                }
            }
        }
        blend_sim_dial_model_destroy(m);
    } else {
        BLEND_ASSERT(rc == BLEND_EPARSE || rc == BLEND_ENOMEM);
        BLEND_ASSERT(m == NULL);
        BLEND_ASSERT(rc == BLEND_ENOMEM || errs.count > 0);
        for (size_t i = 0; i < errs.count; i++) {
            BLEND_ASSERT(strncmp(errs.items[i], "fuzz: $", 7) == 0);
        }
    }
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
