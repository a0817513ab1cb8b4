/*
 * `blend sim run` with an outbound model (src/sim/dial.c, docs/sim-run.md §Outbound): the
 * model parser's JSON-path errors; determinism (same seed, same figures); the modes' own
 * promises (preview and progressive never drop; progressive keeps no more calls ringing than
 * free agents, so every person answering has an agent); and the dialer's validation: over many
 * seeds and answer rates — steady at 12%, 25% and 45%, a sudden fall 35% -> 12% and a sudden
 * rise 12% -> 40% half-way — predictive keeps the abandon rate <= 3% and gives agents more
 * talk time per hour than progressive (at least 1.2x where answers are scarce, 25% or less).
 * Blended with inbound calls: inbound keeps its service level, the dialer its abandon rate,
 * and a stricter blending policy gives outbound less talk time and inbound a better service.
 */
#include "sim/dial.h"

#include "base/alloc.h"

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define SEEDS 4

static struct blend_sim_dial_model *parse_ok(const char *text)
{
    struct blend_sim_dial_model *m = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_dial_model_parse(text, strlen(text), "m.json", &m, &errs);
    if (rc) {
        for (size_t i = 0; i < errs.count; i++) {
            print_error("%s\n", errs.items[i]);
        }
    }
    assert_int_equal(rc, 0);
    return m;
}

static void parse_error(const char *text, const char *want)
{
    struct blend_sim_dial_model *m = NULL;
    struct blend_sim_errors errs;
    assert_int_equal(blend_sim_dial_model_parse(text, strlen(text), "m.json", &m, &errs),
                     BLEND_EPARSE);
    assert_null(m);
    assert_true(errs.count >= 1);
    if (!strstr(errs.items[0], want)) {
        print_error("got '%s', want '%s'\n", errs.items[0], want);
        fail();
    }
}

static void model_errors(void **state)
{
    (void)state;
    assert_true(blend_sim_dial_is_model("{\"outbound\":{}}", 15));
    assert_false(blend_sim_dial_is_model("{\"queues\":[]}", 13));
    parse_error("{\"outbound\":{\"agents\":5,\"answer_rate\":0.2,\"talk\":{\"dist\":"
                "\"exponential\",\"mean_s\":60}}}",
                "m.json: $: missing \"duration_s\"");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":5,\"answer_rate\":0.2}}",
                "m.json: $.outbound: missing \"talk\"");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":5,\"answer_rate\":0.2,\"talk\":{"
                "\"dist\":\"exponential\",\"mean_s\":60},\"no_answer_s\":10}}",
                "m.json: $.outbound: \"no_answer_s\" must be a number >= 15");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":5,\"answer_rate\":0.2,\"talk\":{"
                "\"dist\":\"exponential\",\"mean_s\":60},\"connect_within_s\":3}}",
                "\"connect_within_s\" must be a number >= 0 and <= 2");
    parse_error("{\"duration_s\":7200,\"interval_s\":3600,\"outbound\":{\"agents\":5,"
                "\"answer_rate\":[0.2],\"talk\":{\"dist\":\"exponential\",\"mean_s\":60}}}",
                "m.json: $.outbound.answer_rate: must be a number or an array of 2 numbers");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":5,\"answer_rate\":0.2,\"talk\":{"
                "\"dist\":\"exponential\",\"mean_s\":60},\"modes\":[\"power\",\"power\"]}}",
                "m.json: $.outbound.modes: each must be one of");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":5,\"answer_rate\":0.2,\"talk\":{"
                "\"dist\":\"exponential\",\"mean_s\":60},\"amd\":{\"x\":1}}}",
                "m.json: $.outbound.amd: unknown field \"x\"");
    parse_error("{\"duration_s\":60,\"queues\":[],\"outbound\":{}}", "m.json: $: unknown field");
    parse_error("{\"duration_s\":60,\"outbound\":{\"agents\":2.5,\"answer_rate\":0.2,\"talk\":{"
                "\"dist\":\"exponential\",\"mean_s\":60}}}",
                "must be whole numbers");
    assert_int_equal(blend_alloc_live(), 0);
}

static char *model_text(double first, double then, int agents, int hours)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"duration_s\":%d,\"interval_s\":%d,\"outbound\":{\"agents\":%d,"
             "\"answer_rate\":[%.2f,%.2f],\"talk\":{\"dist\":\"lognormal\",\"mean_s\":150,"
             "\"sd_s\":90},\"wrapup_s\":10}}",
             hours * 3600, hours * 1800, agents, first, then);
    return buf;
}

static void determinism(void **state)
{
    (void)state;
    struct blend_sim_dial_model *m = parse_ok(model_text(0.25, 0.25, 20, 1));
    struct blend_sim_dial_figures a, b, c;
    assert_int_equal(blend_sim_dial_run(m, 7, BLEND_DIAL_PREDICTIVE, &a), 0);
    assert_int_equal(blend_sim_dial_run(m, 7, BLEND_DIAL_PREDICTIVE, &b), 0);
    assert_int_equal(blend_sim_dial_run(m, 8, BLEND_DIAL_PREDICTIVE, &c), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.dials != c.dials || a.talk_s != c.talk_s);
    blend_sim_dial_model_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void simple_modes_never_drop(void **state)
{
    (void)state;
    struct blend_sim_dial_model *m = parse_ok(model_text(0.45, 0.45, 20, 2));
    struct blend_sim_dial_figures f;
    for (int mode = BLEND_DIAL_PREVIEW; mode <= BLEND_DIAL_PROGRESSIVE; mode++) {
        assert_int_equal(blend_sim_dial_run(m, 3, (enum blend_dial_mode)mode, &f), 0);
        assert_true(f.dials > 100 && f.connected > 50);
        assert_int_equal(f.dropped, 0);
        assert_true(f.occupancy > 0 && f.occupancy <= 1.0);
    }
    /* A list of 30 numbers is dialled once each and no more. */
    m->list_size = 30;
    assert_int_equal(blend_sim_dial_run(m, 3, BLEND_DIAL_PREDICTIVE, &f), 0);
    assert_true(f.dials == 30 && f.is_list_exhausted);
    blend_sim_dial_model_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

static void predictive_validated(void **state)
{
    (void)state;
    const double rates[][2] = {
        {0.12, 0.12}, {0.25, 0.25}, {0.45, 0.45}, {0.35, 0.12}, {0.12, 0.40}};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        struct blend_sim_dial_model *m = parse_ok(model_text(rates[k][0], rates[k][1], 30, 2));
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
            struct blend_sim_dial_figures pr, pg;
            assert_int_equal(blend_sim_dial_run(m, seed, BLEND_DIAL_PREDICTIVE, &pr), 0);
            assert_int_equal(blend_sim_dial_run(m, seed, BLEND_DIAL_PROGRESSIVE, &pg), 0);
            print_message("answer %.2f->%.2f seed %llu: predictive %.1f talk min/agent-hour, "
                          "abandon %.2f%%, occupancy %.2f; progressive %.1f, occupancy %.2f\n",
                          rates[k][0], rates[k][1], (unsigned long long)seed,
                          pr.talk_min_per_agent_hour, 100 * pr.abandon_rate, pr.occupancy,
                          pg.talk_min_per_agent_hour, pg.occupancy);
            assert_true(pr.lives > 200);
            assert_true(pr.abandon_rate <= 0.03);
            assert_int_equal(pg.dropped, 0);
            double gain = rates[k][0] <= 0.25 && rates[k][1] <= 0.25 ? 1.2 : 1.0;
            assert_true(pr.talk_min_per_agent_hour > gain * pg.talk_min_per_agent_hour);
        }
        blend_sim_dial_model_destroy(m);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

static char *blended_text(const char *blending)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"duration_s\":7200,\"interval_s\":3600,\"outbound\":{\"agents\":30,"
             "\"modes\":[\"predictive\"],\"answer_rate\":0.2,\"talk\":{\"dist\":"
             "\"lognormal\",\"mean_s\":150,\"sd_s\":90},\"inbound\":{\"calls_per_hour\":"
             "[300,400],\"handle\":{\"dist\":\"lognormal\",\"mean_s\":240,\"sd_s\":120},"
             "\"patience\":{\"dist\":\"exponential\",\"mean_s\":90}},\"blending\":%s}}",
             blending);
    return buf;
}

/* Blending: inbound comes first, the dialer keeps its abandon rate, and a stricter policy
 * trades outbound talk time for inbound service (the same callers in every run of a seed). */
static void blended(void **state)
{
    (void)state;
    const char *policies[] = {
        "{\"policy\":\"reserve\",\"reserve_agents\":0}",
        "{\"policy\":\"service_level\",\"sl_target\":0.8}",
        ("{\"policy\":\"service_level\",\"sl_target\":0.9,\"margin_agents\":2}")};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double talk[3], sl[3];
        uint64_t offered[3];
        for (int k = 0; k < 3; k++) {
            struct blend_sim_dial_model *m = parse_ok(blended_text(policies[k]));
            assert_true(m->has_inbound);
            struct blend_sim_dial_figures f;
            assert_int_equal(blend_sim_dial_run(m, seed, BLEND_DIAL_PREDICTIVE, &f), 0);
            print_message("blending %s seed %llu: outbound %.1f talk min/agent-hour, abandon "
                          "%.2f%%; inbound SL %.3f, ASA %.1f s, abandoned %.2f%%\n",
                          policies[k], (unsigned long long)seed, f.talk_min_per_agent_hour,
                          100 * f.abandon_rate, f.in_service_level, f.in_asa_s,
                          100 * f.in_abandon_rate);
            assert_true(f.abandon_rate <= 0.03);
            assert_true(f.in_offered > 500 && f.in_answered > 0);
            talk[k] = f.talk_min_per_agent_hour;
            sl[k] = f.in_service_level;
            offered[k] = f.in_offered;
            blend_sim_dial_model_destroy(m);
        }
        assert_true(offered[0] == offered[1] && offered[1] == offered[2]);
        assert_true(talk[0] > talk[1] && talk[1] > talk[2]);
        assert_true(sl[2] > sl[0]);
        assert_true(sl[1] >= 0.8 && sl[2] >= 0.8);
    }
    assert_int_equal(blend_alloc_live(), 0);
}

struct lines {
    char text[4][1024];
    size_t count;
};

static void grab(const char *line, size_t len, void *arg)
{
    struct lines *l = arg;
    assert_true(l->count < 4 && len < sizeof l->text[0]);
    memcpy(l->text[l->count], line, len);
    l->text[l->count++][len] = '\0';
}

static void output(void **state)
{
    (void)state;
    struct blend_sim_dial_model *m = parse_ok(model_text(0.3, 0.3, 5, 1));
    struct blend_sim_dial_figures f[2];
    assert_int_equal(blend_sim_dial_run(m, 1, BLEND_DIAL_PROGRESSIVE, &f[0]), 0);
    assert_int_equal(blend_sim_dial_run(m, 1, BLEND_DIAL_PREDICTIVE, &f[1]), 0);
    struct lines text = {0}, js = {0};
    assert_int_equal(blend_sim_dial_format(m, f, 2, 0, grab, &text), 0);
    assert_int_equal(text.count, 2);
    assert_non_null(strstr(text.text[0], "outbound mode=progressive rule=us agents=5 "));
    assert_non_null(strstr(text.text[1], "outbound mode=predictive "));
    assert_non_null(strstr(text.text[1], " abandon_rate="));
    assert_int_equal(blend_sim_dial_format(m, f, 2, 1, grab, &js), 0);
    assert_int_equal(js.count, 1);
    json_t *doc = json_loads(js.text[0], 0, NULL);
    json_t *modes = json_object_get(json_object_get(doc, "outbound"), "modes");
    assert_int_equal(json_array_size(modes), 2);
    json_t *pred = json_array_get(modes, 1);
    assert_string_equal(json_string_value(json_object_get(pred, "mode")), "predictive");
    assert_int_equal(json_integer_value(json_object_get(pred, "dials")), (json_int_t)f[1].dials);
    assert_true(fabs(json_real_value(json_object_get(pred, "talk_min_per_agent_hour")) -
                     f[1].talk_min_per_agent_hour) < 1e-9);
    json_decref(doc);
    blend_sim_dial_model_destroy(m);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_errors),
        cmocka_unit_test(determinism),
        cmocka_unit_test(simple_modes_never_drop),
        cmocka_unit_test(predictive_validated),
        cmocka_unit_test(blended),
        cmocka_unit_test(output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
