/*
 * Fuzz target for `blend sim run` models: the input is parsed as a model; when it is accepted,
 * every engine config must lie within the engine's documented ranges and the model's own values
 * within theirs, and the model is run (engine and stats invariants checked after every step)
 * when it is small enough to run quickly; when it is refused, every error must name the file
 * and a JSON path. No leak either way.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "sim/run.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void discard(const char *line, size_t len, void *arg)
{
    BLEND_ASSERT(len > 0 && line[0] == '{' && line[len - 1] == '}');
    (*(size_t *)arg)++;
}

static void check_model(const struct blend_sim_model *m)
{
    BLEND_ASSERT(m->duration_ms > 0 && m->warmup_ms >= 0 && m->warmup_ms < m->duration_ms);
    BLEND_ASSERT(m->intervals_count >= 1 && m->intervals_count <= BLEND_SIM_RUN_INTERVALS_MAX);
    BLEND_ASSERT(m->queues_count >= 1 && m->queues_count <= BLEND_SIM_RUN_QUEUES_MAX);
    BLEND_ASSERT(m->agents_count <= BLEND_SIM_RUN_AGENTS_MAX);
    BLEND_ASSERT(m->in_system_max >= 1 && m->in_system_max <= BLEND_SIM_RUN_IN_SYSTEM_MAX);
    for (size_t i = 0; i < m->queues_count; i++) {
        const struct blend_sim_model_queue *q = &m->queues[i];
        BLEND_ASSERT(q->config.id >= 1 && (size_t)q->config.id <= m->queues_count);
        BLEND_ASSERT(q->config.offer_timeout_ms > 0 && (q->config.channels & (1u << q->channel)));
        BLEND_ASSERT(q->handle.dist != BLEND_SIM_DIST_NONE && q->handle.mean_s > 0);
        for (size_t k = 0; k < m->intervals_count; k++) {
            BLEND_ASSERT(q->rates_per_hour[k] >= 0);
        }
    }
    for (size_t i = 0; i < m->agents_count; i++) {
        const struct blend_sim_model_agent *a = &m->agents[i];
        BLEND_ASSERT(a->config.id == (int64_t)i + 1);
        for (size_t k = 0; k < a->shifts_count; k++) {
            BLEND_ASSERT(a->shifts[k].start_ms < a->shifts[k].end_ms);
            BLEND_ASSERT(k == 0 || a->shifts[k].start_ms >= a->shifts[k - 1].end_ms);
        }
    }
}

/* Expected arrivals of the whole run: runs beyond a few hundred are left out (slow, and the
 * parser is what this target is about). */
static double expected_arrivals(const struct blend_sim_model *m)
{
    double n = 0;
    for (size_t i = 0; i < m->queues_count; i++) {
        for (size_t k = 0; k < m->intervals_count; k++) {
            n += m->queues[i].rates_per_hour[k] * (double)m->interval_ms / 3600000.0;
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend_sim_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_model_parse((const char *)data, size, "fuzz", &m, &errs);
    if (rc == 0) {
        check_model(m);
        if (expected_arrivals(m) < 300 && m->agents_count < 50 && m->in_system_max <= 1000) {
            size_t lines = 0;
            struct blend_sim_run_opts opts = {
                .seed = size, .events = discard, .arg = &lines, .is_checked = 1};
            struct blend_sim_run_result *r = NULL;
            int rrc = blend_sim_run(m, &opts, &r);
            BLEND_ASSERT(rrc == 0 || rrc == BLEND_EINVAL || rrc == BLEND_ELIMIT);
            blend_sim_run_result_destroy(r);
        }
        blend_sim_model_destroy(m);
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
