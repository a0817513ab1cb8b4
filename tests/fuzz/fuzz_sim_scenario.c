/*
 * Fuzz target for `blend sim` scenarios: the input is parsed as a scenario file; when it is
 * accepted, every engine config it produced must lie within the engine's documented ranges, the
 * name tables must cover every id the events use, and it is replayed on the fast engine (with
 * its invariant checks after every step) under a small step budget; when it is refused, the
 * errors must name the file and a line. No leak either way.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "sim/sim.h"

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

static void check_scenario(const struct blend_sim_scenario *s)
{
    BLEND_ASSERT(s->queues_count > 0 && s->queues_count == s->queue_names_count);
    BLEND_ASSERT(s->agents_count == s->agent_names_count);
    for (size_t i = 0; i < s->queues_count; i++) {
        const struct blend_acd_queue_config *q = &s->queues[i];
        BLEND_ASSERT(q->id >= 1 && (size_t)q->id <= s->queue_names_count);
        BLEND_ASSERT(q->offer_timeout_ms > 0 && q->skills_count <= BLEND_ACD_QUEUE_SKILLS_MAX);
        BLEND_ASSERT(q->relax_count <= BLEND_ACD_RELAX_STEPS_MAX);
    }
    for (size_t i = 0; i < s->lines_count; i++) {
        const struct blend_sim_line *l = &s->lines[i];
        BLEND_ASSERT(l->line >= 2 && l->at_ms >= 0);
        BLEND_ASSERT(i == 0 || l->at_ms >= s->lines[i - 1].at_ms);
        if (l->ev.type == BLEND_ACD_EV_CONTACT_ARRIVE) {
            BLEND_ASSERT((size_t)l->ev.u.arrive.contact <= s->contact_names_count);
            BLEND_ASSERT((size_t)l->ev.u.arrive.queue <= s->queue_names_count);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend_sim_scenario *s = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_scenario_parse((const char *)data, size, "fuzz", &s, &errs);
    if (rc == 0) {
        check_scenario(s);
        size_t lines = 0;
        struct blend_sim_replay_opts opts = {
            .file = "fuzz", .write = discard, .arg = &lines, .is_checked = 1};
        struct blend_sim_replay_result res;
        /* Scenario times may be far apart, but the step guard bounds the work; an engine that
         * refuses the config (a value the parser let through) is an answer, not a crash. */
        int rrc = blend_sim_replay(s, &blend_sim_engine_fast, &opts, &res);
        BLEND_ASSERT(rrc == 0 || rrc == BLEND_EINVAL || rrc == BLEND_ELIMIT);
        BLEND_ASSERT(rrc != 0 || lines >= 1); /* at least the stats line */
        blend_sim_scenario_destroy(s);
    } else {
        BLEND_ASSERT(rc == BLEND_EPARSE || rc == BLEND_ELIMIT || rc == BLEND_ENOMEM);
        BLEND_ASSERT(s == NULL);
        BLEND_ASSERT(rc == BLEND_ENOMEM || errs.count > 0);
        for (size_t i = 0; i < errs.count; i++) {
            BLEND_ASSERT(strncmp(errs.items[i], "fuzz:", 5) == 0);
        }
    }
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
