/*
 * The scenario parser and the replay driver of `blend sim` (src/sim/): number format, id
 * mapping in order of first appearance, defaults, every class of bad line reported as
 * FILE:LINE, refusals by the engine reported with the script's line, and auto mode's accept /
 * handle / patience behaviour, run on the reference model.
 */
#include "ref_engine.h"

#include "base/alloc.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct out {
    char text[8192];
    size_t len;
    char refusals[1024];
};

static void out_write(const char *line, size_t len, void *arg)
{
    struct out *o = arg;
    assert_true(o->len + len + 2 < sizeof o->text);
    memcpy(o->text + o->len, line, len);
    o->len += len;
    o->text[o->len++] = '\n';
    o->text[o->len] = '\0';
}

static void out_refuse(const char *message, void *arg)
{
    struct out *o = arg;
    strncat(o->refusals, message, sizeof o->refusals - strlen(o->refusals) - 2);
    strcat(o->refusals, "\n");
}

static struct blend_sim_scenario *parse_ok(const char *text)
{
    struct blend_sim_scenario *s = NULL;
    struct blend_sim_errors errs;
    int rc = blend_sim_scenario_parse(text, strlen(text), "t.jsonl", &s, &errs);
    if (rc) {
        fprintf(stderr, "%s\n", errs.count ? errs.items[0] : "?");
    }
    assert_int_equal(rc, 0);
    return s;
}

/* Parses a bad scenario and returns its first error. */
static const char *parse_bad(const char *text, struct blend_sim_errors *errs)
{
    struct blend_sim_scenario *s = NULL;
    int rc = blend_sim_scenario_parse(text, strlen(text), "t.jsonl", &s, errs);
    assert_int_equal(rc, BLEND_EPARSE);
    assert_null(s);
    assert_true(errs->count >= 1);
    return errs->items[0];
}

static void test_format_seconds(void **state)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {{0, "0"},        {12000, "12"}, {12500, "12.5"}, {125, "0.125"},
                 {1001, "1.001"}, {10, "0.01"},  {-1500, "-1.5"}, {86400000, "86400"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        blend_sim_format_seconds(cases[i].ms, buf, sizeof buf);
        assert_string_equal(buf, cases[i].want);
    }
}

#define CONFIG                                                                                     \
    "{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\"}],\"agents\":[{\"id\":\"a\"}]}\n"

static void test_ids_and_defaults(void **state)
{
    struct blend_sim_scenario *s = parse_ok(
        "{\"at\":0,\"do\":\"config\",\"accept\":\"auto\",\"queues\":[{\"id\":\"billing\","
        "\"skills\":{\"x\":3},\"max_wait_s\":9.5,\"overflow\":{\"queue\":\"general\"}},"
        "{\"id\":\"general\",\"channels\":[\"chat\",\"email\"],\"strategy\":\"ring-all\"}],"
        "\"agents\":[{\"id\":\"a1\",\"skills\":{\"y\":4,\"x\":8}},{\"id\":\"a2\",\"capacity\":"
        "{\"chat\":2}}]}\n\n"
        "{\"at\":1.25,\"do\":\"contact.arrive\",\"contact\":\"c9\",\"queue\":\"general\","
        "\"channel\":\"chat\",\"customer\":\"bob\",\"priority\":5,\"patience_s\":30}\n"
        "{\"at\":2,\"do\":\"agent.not_ready\",\"agent\":\"a2\",\"reason\":\"lunch\"}\n");
    assert_int_equal(s->accept, BLEND_SIM_ACCEPT_AUTO);
    assert_int_equal(s->queues_count, 2);
    assert_string_equal(s->queue_names[0], "\"billing\"");
    assert_string_equal(s->queue_names[1], "\"general\"");
    assert_int_equal(s->queues[0].overflow, BLEND_OVERFLOW_QUEUE);
    assert_int_equal(s->queues[0].overflow_queue, 2);
    assert_int_equal(s->queues[0].max_wait_ms, 9500);
    assert_int_equal(s->queues[0].offer_timeout_ms, 20000); /* default */
    assert_int_equal(s->queue_kpis[0].short_abandon_ms, 5000);
    assert_int_equal(s->queue_kpis[0].sla_within_ms, 20000);
    assert_int_equal(s->queues[0].channels, 1u << BLEND_CH_VOICE);
    assert_int_equal(s->queues[1].channels, 1u << BLEND_CH_CHAT | 1u << BLEND_CH_EMAIL);
    assert_int_equal(s->queues[1].strategy, BLEND_STRAT_RING_ALL);
    /* skill "x" first appears in the queue: id 1; "y" in agent a1: id 2 */
    assert_int_equal(s->queues[0].skills[0].skill, 1);
    assert_int_equal(s->agents[0].skills[0].skill, 2);
    assert_int_equal(s->agents[0].skills[1].skill, 1);
    assert_int_equal(s->agents[0].capacity[BLEND_CH_VOICE], 1); /* defaults */
    assert_int_equal(s->agents[0].capacity[BLEND_CH_EMAIL], 5);
    assert_int_equal(s->agents[1].capacity[BLEND_CH_VOICE], 0); /* listed channels only */
    assert_int_equal(s->agents[1].capacity[BLEND_CH_CHAT], 2);
    assert_int_equal(s->agents[0].voice_exclusive, 1);
    assert_int_equal(s->lines_count, 2);
    assert_int_equal(s->lines[0].line, 3); /* blank lines still count */
    assert_int_equal(s->lines[0].at_ms, 1250);
    assert_int_equal(s->lines[0].ev.u.arrive.queue, 2);
    assert_int_equal(s->lines[0].ev.u.arrive.customer, 1);
    assert_int_equal(s->lines[0].ev.u.arrive.priority, 5);
    assert_int_equal(s->lines[0].patience_ms, 30000);
    assert_int_equal(s->lines[0].handle_ms, -1);
    assert_string_equal(s->lines[1].ev.u.not_ready.reason, "lunch");
    blend_sim_scenario_destroy(s);
    assert_int_equal(blend_alloc_live(), 0);
}

static void test_bad_lines(void **state)
{
    static const struct {
        const char *text;
        const char *want; /* prefix of the first error */
    } cases[] = {
        {"", "t.jsonl:1: empty scenario"},
        {"{\"at\":0,\"do\":\"agent.login\",\"agent\":\"a\"}\n", "t.jsonl:1: the first line"},
        {"not json\n", "t.jsonl:1: bad JSON"},
        {CONFIG "{\"at\":1,\"do\":\"agent.dance\",\"agent\":\"a\"}\n", "t.jsonl:2: unknown action"},
        {CONFIG "{\"at\":1,\"do\":\"agent.login\",\"agent\":\"zz\"}\n", "t.jsonl:2: unknown agent"},
        {CONFIG "{\"at\":5,\"do\":\"agent.login\",\"agent\":\"a\"}\n"
                "{\"at\":4,\"do\":\"agent.ready\",\"agent\":\"a\"}\n",
         "t.jsonl:3: \"at\" goes back"},
        {CONFIG "{\"at\":1,\"do\":\"agent.login\",\"agent\":\"a\",\"color\":1}\n",
         "t.jsonl:2: agent action: unknown field"},
        {CONFIG "{\"at\":-1,\"do\":\"agent.login\",\"agent\":\"a\"}\n", "t.jsonl:2: \"at\" must"},
        {CONFIG "{\"at\":1,\"do\":\"contact.arrive\",\"contact\":\"c\",\"queue\":\"q\","
                "\"channel\":\"fax\"}\n",
         "t.jsonl:2: unknown channel"},
        {CONFIG "{\"at\":1,\"do\":\"agent.not_ready\",\"agent\":\"a\"}\n",
         "t.jsonl:2: missing \"reason\""},
        {CONFIG CONFIG, "t.jsonl:2: only the first line"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\",\"strategy\":\"random\"}],"
         "\"agents\":[]}\n",
         "t.jsonl:1: unknown strategy"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\",\"skills\":{\"x\":11}}],"
         "\"agents\":[]}\n",
         "t.jsonl:1: \"skills\": level"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\",\"max_wait_s\":5,\"overflow\":"
         "{\"queue\":\"nowhere\"}}],\"agents\":[]}\n",
         "t.jsonl:1: a queue is named"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\",\"overflow\":{\"voicemail\":true}}"
         "],\"agents\":[]}\n",
         "t.jsonl:1: queue \"q\": \"overflow\" needs"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\"},{\"id\":\"q\"}],\"agents\":[]}\n",
         "t.jsonl:1: queue defined twice"},
        {"{\"at\":0,\"do\":\"config\",\"queues\":[{\"id\":\"q\",\"relax\":[{\"after_s\":9},"
         "{\"after_s\":3}]}],\"agents\":[]}\n",
         "t.jsonl:1: \"relax\"[1].after_s"},
        {CONFIG "{\"at\":1,\"do\":\"agent.restore\",\"agent\":\"a\",\"state\":\"away\"}\n",
         "t.jsonl:2: \"state\" must be"},
        {CONFIG "{\"at\":1,\"do\":\"agent.restore\",\"agent\":\"a\",\"state\":\"not_ready\"}\n",
         "t.jsonl:2: \"state\" must be"},
        {CONFIG "{\"at\":1,\"do\":\"agent.restore\",\"agent\":\"a\",\"state\":\"wrap_up\"}\n",
         "t.jsonl:2: \"state\" must be"},
        {CONFIG "{\"at\":1,\"do\":\"agent.restore\",\"agent\":\"a\",\"state\":\"ready\","
                "\"since_s\":2}\n",
         "t.jsonl:2: \"since_s\" is later"},
        {CONFIG "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c\",\"queue\":\"q\","
                "\"enqueued_s\":1.5}\n",
         "t.jsonl:2: \"enqueued_s\" is later"},
        {CONFIG "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c\",\"queue\":\"q\","
                "\"callback\":1}\n",
         "t.jsonl:2: \"callback\" must be"},
        {CONFIG "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c\",\"queue\":\"q\","
                "\"agent\":\"zz\"}\n",
         "t.jsonl:2: unknown agent"},
        {CONFIG "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c\",\"queue\":\"q\","
                "\"enqueued_s\":\"-3\"}\n",
         "t.jsonl:2: \"enqueued_s\" must be a time"},
        /* A contact's own skills: an object of names to levels 1..10, at most 8. */
        {CONFIG "{\"at\":1,\"do\":\"contact.arrive\",\"contact\":\"c\",\"queue\":\"q\","
                "\"skills\":{\"vip\":11}}\n",
         "t.jsonl:2: \"skills\": level of \"vip\" must be"},
        {CONFIG "{\"at\":1,\"do\":\"contact.arrive\",\"contact\":\"c\",\"queue\":\"q\","
                "\"skills\":[\"vip\"]}\n",
         "t.jsonl:2: \"skills\" must be an object"},
        {CONFIG "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c\",\"queue\":\"q\","
                "\"skills\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
                "\"h\":1,\"i\":1}}\n",
         "t.jsonl:2: \"skills\" must be an object of at most 8"},
        {CONFIG "{\"at\":1,\"do\":\"contact.transfer\",\"contact\":\"c\",\"agent\":\"a\"}\n",
         "t.jsonl:2: contact.transfer needs exactly one"},
        {CONFIG "{\"at\":1,\"do\":\"contact.transfer\",\"contact\":\"c\",\"agent\":\"a\","
                "\"queue\":\"q\",\"to_agent\":\"a\"}\n",
         "t.jsonl:2: contact.transfer needs exactly one"},
        {CONFIG "{\"at\":1,\"do\":\"contact.transfer\",\"contact\":\"c\",\"agent\":\"a\","
                "\"to_agent\":\"zz\"}\n",
         "t.jsonl:2: unknown to_agent"},
        {CONFIG "{\"at\":1,\"do\":\"contact.transfer\",\"contact\":\"c\",\"agent\":\"a\","
                "\"queue\":\"q\",\"priority\":2}\n",
         "t.jsonl:2: contact.transfer: unknown field"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blend_sim_errors errs;
        const char *got = parse_bad(cases[i].text, &errs);
        if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0) {
            fail_msg("case %zu: got \"%s\", want prefix \"%s\"", i, got, cases[i].want);
        }
    }
    /* Several bad lines: each is reported. */
    struct blend_sim_errors errs;
    parse_bad(CONFIG "{\"at\":1,\"do\":\"x\"}\n{\"at\":2,\"do\":\"y\"}\n", &errs);
    assert_int_equal(errs.count, 2);
    assert_non_null(strstr(errs.items[1], "t.jsonl:3:"));
    assert_int_equal(blend_alloc_live(), 0);
}

static void replay(const char *text, struct out *o)
{
    struct blend_sim_scenario *s = parse_ok(text);
    struct blend_sim_replay_opts opts = {
        .file = "t.jsonl", .write = out_write, .refuse = out_refuse, .arg = o, .is_checked = 1};
    struct blend_sim_replay_result res;
    assert_int_equal(blend_sim_replay(s, &blend_sim_engine_ref, &opts, &res), 0);
    blend_sim_scenario_destroy(s);
}

static void test_refusal_names_line(void **state)
{
    struct out o = {0};
    replay(CONFIG "{\"at\":1,\"do\":\"agent.login\",\"agent\":\"a\"}\n"
                  "{\"at\":2,\"do\":\"wrapup.end\",\"agent\":\"a\"}\n",
           &o);
    assert_string_equal(o.refusals, "t.jsonl:3: the engine refused wrapup.end: not allowed in the "
                                    "current state (ESTATE)\n");
    assert_int_equal(blend_alloc_live(), 0);
}

/* Auto mode: patience abandons a contact still waiting; handle_s ends a connected one. */
static void test_auto_patience_and_handle(void **state)
{
    struct out o = {0};
    replay("{\"at\":0,\"do\":\"config\",\"accept\":\"auto\",\"queues\":[{\"id\":\"q\","
           "\"short_abandon_s\":0}],\"agents\":[{\"id\":\"a\"}]}\n"
           "{\"at\":0,\"do\":\"agent.login\",\"agent\":\"a\"}\n"
           "{\"at\":0,\"do\":\"agent.ready\",\"agent\":\"a\"}\n"
           "{\"at\":1,\"do\":\"contact.arrive\",\"contact\":\"c1\",\"queue\":\"q\",\"handle_s\":"
           "10,\"patience_s\":3}\n"
           "{\"at\":2,\"do\":\"contact.arrive\",\"contact\":\"c2\",\"queue\":\"q\",\"handle_s\":"
           "10,\"patience_s\":3}\n",
           &o);
    assert_string_equal(
        o.text,
        "{\"at\":0,\"event\":\"agent.state\",\"agent\":\"a\",\"state\":\"not_ready\",\"reason\":"
        "\"login\"}\n"
        "{\"at\":0,\"event\":\"agent.state\",\"agent\":\"a\",\"state\":\"ready\",\"reason\":null}\n"
        "{\"at\":1,\"event\":\"queued\",\"contact\":\"c1\",\"queue\":\"q\"}\n"
        "{\"at\":1,\"event\":\"offer\",\"contact\":\"c1\",\"agent\":\"a\",\"queue\":\"q\"}\n"
        "{\"at\":1,\"event\":\"connected\",\"contact\":\"c1\",\"agent\":\"a\",\"queue\":\"q\","
        "\"wait_s\":0}\n"
        "{\"at\":2,\"event\":\"queued\",\"contact\":\"c2\",\"queue\":\"q\"}\n"
        "{\"at\":5,\"event\":\"abandoned\",\"contact\":\"c2\",\"queue\":\"q\",\"wait_s\":3}\n"
        "{\"at\":11,\"event\":\"ended\",\"contact\":\"c1\",\"agent\":\"a\",\"queue\":\"q\"}\n"
        "{\"at\":11,\"event\":\"stats\",\"queues\":[{\"queue\":\"q\",\"offered\":2,\"answered\":1,"
        "\"abandoned\":1,\"short_abandoned\":0,\"service_level\":0.5,\"asa_s\":0,\"aht_s\":10,"
        "\"abandon_rate\":0.5}]}\n");
    assert_string_equal(o.refusals, "");
    assert_int_equal(blend_alloc_live(), 0);
}

/* Auto mode with restores: a connected restore ends handle_s after the restore (its talk time
 * counts from there), a waiting one is offered when the agent frees up, with its true wait. */
static void test_auto_restore(void **state)
{
    struct out o = {0};
    replay("{\"at\":0,\"do\":\"config\",\"accept\":\"auto\",\"queues\":[{\"id\":\"q\"}],"
           "\"agents\":[{\"id\":\"a\"}]}\n"
           "{\"at\":0,\"do\":\"agent.restore\",\"agent\":\"a\",\"state\":\"ready\","
           "\"since_s\":-9}\n"
           "{\"at\":0,\"do\":\"contact.restore\",\"contact\":\"c1\",\"queue\":\"q\","
           "\"agent\":\"a\",\"enqueued_s\":-50,\"handle_s\":4}\n"
           "{\"at\":1,\"do\":\"contact.restore\",\"contact\":\"c2\",\"queue\":\"q\","
           "\"enqueued_s\":-7,\"handle_s\":2}\n",
           &o);
    assert_string_equal(
        o.text,
        "{\"at\":0,\"event\":\"agent.state\",\"agent\":\"a\",\"state\":\"ready\",\"reason\":"
        "null}\n"
        "{\"at\":1,\"event\":\"queued\",\"contact\":\"c2\",\"queue\":\"q\"}\n"
        "{\"at\":4,\"event\":\"offer\",\"contact\":\"c2\",\"agent\":\"a\",\"queue\":\"q\"}\n"
        "{\"at\":4,\"event\":\"ended\",\"contact\":\"c1\",\"agent\":\"a\",\"queue\":\"q\"}\n"
        "{\"at\":4,\"event\":\"connected\",\"contact\":\"c2\",\"agent\":\"a\",\"queue\":\"q\","
        "\"wait_s\":11}\n"
        "{\"at\":6,\"event\":\"ended\",\"contact\":\"c2\",\"agent\":\"a\",\"queue\":\"q\"}\n"
        "{\"at\":6,\"event\":\"stats\",\"queues\":[{\"queue\":\"q\",\"offered\":1,\"answered\":1,"
        "\"abandoned\":0,\"short_abandoned\":0,\"service_level\":1,\"asa_s\":11,\"aht_s\":3,"
        "\"abandon_rate\":0}]}\n");
    assert_string_equal(o.refusals, "");
    assert_int_equal(blend_alloc_live(), 0);
}

/* Manual mode ends at the last line unless end_s says otherwise: a later timer never fires. */
static void test_manual_end(void **state)
{
    const char *base = "{\"at\":0,\"do\":\"config\",%s\"queues\":[{\"id\":\"q\","
                       "\"offer_timeout_s\":5}],\"agents\":[{\"id\":\"a\"}]}\n"
                       "{\"at\":0,\"do\":\"agent.login\",\"agent\":\"a\"}\n"
                       "{\"at\":0,\"do\":\"agent.ready\",\"agent\":\"a\"}\n"
                       "{\"at\":1,\"do\":\"contact.arrive\",\"contact\":\"c\",\"queue\":\"q\"}\n";
    char text[1024];
    struct out o = {0};
    snprintf(text, sizeof text, base, "");
    replay(text, &o);
    assert_null(strstr(o.text, "offer.timeout"));
    assert_non_null(strstr(o.text, "{\"at\":1,\"event\":\"stats\""));
    struct out o2 = {0};
    snprintf(text, sizeof text, base, "\"end_s\":6,");
    replay(text, &o2);
    assert_non_null(strstr(o2.text, "{\"at\":6,\"event\":\"offer.timeout\",\"contact\":\"c\","
                                    "\"agent\":\"a\",\"queue\":\"q\"}"));
    assert_non_null(strstr(o2.text, "{\"at\":6,\"event\":\"stats\""));
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_seconds),
        cmocka_unit_test(test_ids_and_defaults),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_refusal_names_line),
        cmocka_unit_test(test_auto_patience_and_handle),
        cmocka_unit_test(test_manual_end),
        cmocka_unit_test(test_auto_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
