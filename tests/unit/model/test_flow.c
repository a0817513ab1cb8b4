/*
 * IVR flow loader: the documented example (tests/fuzz/corpus/fuzz_model_flow/example.json, the
 * same flow as docs/flows.md) loads, validates and runs; each graph error comes back as a field
 * error on its node; malformed JSON and wrong types give field errors with paths, never a
 * crash; every allocation failure is answered with BLEND_ENOMEM and leaks nothing.
 */
#include "base/alloc.h"
#include "model/flow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define EXAMPLE "tests/fuzz/corpus/fuzz_model_flow/example.json"

static char example[64 * 1024];
static size_t example_len;

static void read_example(void)
{
    FILE *f = fopen(EXAMPLE, "rb");
    assert_non_null(f);
    example_len = fread(example, 1, sizeof example - 1, f);
    fclose(f);
    assert_true(example_len > 100);
}

static int has_error(const struct blend_field_errors *errs, const char *path, const char *text)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0 && strstr(errs->items[i].message, text)) {
            return 1;
        }
    }
    return 0;
}

static void dump(const struct blend_field_errors *errs)
{
    for (size_t i = 0; i < errs->count; i++) {
        print_message("  %s: %s\n", errs->items[i].path, errs->items[i].message);
    }
}

static void example_loads_validates_and_runs(void **state)
{
    (void)state;
    read_example();
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    int rc = blend_flow_parse(example, example_len, &flow, &errs);
    dump(&errs);
    assert_int_equal(rc, 0);
    assert_int_equal(flow->nodes_count, 16);
    assert_string_equal(flow->name, "main");
    const struct blend_ivr_node *acct = &flow->nodes[blend_ivr_flow_find(flow, "acct")];
    assert_int_equal(acct->type, BLEND_IVR_COLLECT);
    assert_int_equal(acct->digits_min, 6);
    assert_int_equal(acct->terminator, '#');
    assert_int_equal(acct->validate, BLEND_IVR_VALIDATE_LUHN);
    assert_true(acct->is_masked);

    /* A caller barges into the welcome with 2 and lands in the Korean menu. */
    struct blend_ivr_session *s = NULL;
    static struct blend_ivr_effects fx;
    assert_int_equal(blend_ivr_session_create(flow, &s), 0);
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .now_ms = 0};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    struct blend_ivr_event key = {.kind = BLEND_IVR_EV_DIGIT, .now_ms = 500, .digit = '2'};
    assert_int_equal(blend_ivr_session_step(s, &key, &fx), 0);
    const struct blend_ivr_effect *play = &fx.items[fx.count - 1];
    assert_int_equal(play->kind, BLEND_IVR_FX_PLAY);
    assert_string_equal(play->node, "ko-menu");
    assert_string_equal(play->language, "ko");
    key.digit = '0';
    assert_int_equal(blend_ivr_session_step(s, &key, &fx), 0);
    const struct blend_ivr_effect *join = &fx.items[fx.count - 2];
    assert_int_equal(join->kind, BLEND_IVR_FX_JOIN_QUEUE);
    assert_string_equal(join->queue, "billing");
    assert_int_equal(join->value, 5);
    blend_ivr_session_destroy(s);

    /* English menu, option 1, a VIP account number: queued with priority 10 and skill vip. */
    assert_int_equal(blend_ivr_session_create(flow, &s), 0);
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    const char *keys = "11123455#";
    for (size_t i = 0; keys[i]; i++) {
        key.digit = keys[i];
        assert_int_equal(blend_ivr_session_step(s, &key, &fx), 0);
        if (i >= 2 && keys[i] != '#') {
            assert_int_equal(fx.items[0].kind, BLEND_IVR_FX_INPUT);
            assert_int_equal(fx.items[0].digit, '*'); /* masked */
        }
    }
    assert_string_equal(blend_ivr_session_var(s, "account"), "123455");
    join = &fx.items[fx.count - 2];
    assert_int_equal(join->kind, BLEND_IVR_FX_JOIN_QUEUE);
    assert_string_equal(join->node, "agent");
    assert_int_equal(join->value, 10);
    assert_string_equal(join->skills, "vip");
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(flow);
    assert_int_equal(blend_alloc_live(), 0);
}

static void graph_errors_name_their_node(void **state)
{
    (void)state;
    const char *doc =
        "{\"name\": \"bad\", \"version\": 1, \"start\": \"a\", \"nodes\": {"
        "\"a\": {\"type\": \"set\", \"vars\": {\"x\": 1}, \"next\": \"b\"},"
        "\"b\": {\"type\": \"branch\", \"cases\": [{\"if\": {\"var\": \"y\", \"op\": \"lt\","
        " \"value\": 3}, \"next\": \"c\"}], \"else\": \"a\"},"
        "\"c\": {\"type\": \"dance\"},"
        "\"d\": {\"type\": \"menu\", \"prompt\": \"p\", \"options\": {\"1\": \"zz\"}}}}";
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    assert_int_equal(blend_flow_parse(doc, strlen(doc), &flow, &errs), BLEND_EINVAL);
    dump(&errs);
    assert_null(flow);
    assert_true(has_error(&errs, "nodes.a", "loop without input"));
    assert_true(has_error(&errs, "nodes.b", "loop without input"));
    assert_true(has_error(&errs, "nodes.b", "variable 'y' is read before"));
    assert_true(has_error(&errs, "nodes.c", "unknown node type 'dance'"));
    assert_true(has_error(&errs, "nodes.d", "unreachable"));
    assert_true(has_error(&errs, "nodes.d", "needs 'exhausted'"));
    assert_true(has_error(&errs, "nodes.d", "options: unknown node 'zz'"));
    assert_int_equal(errs.count, 7);
    assert_int_equal(blend_alloc_live(), 0);
}

struct bad_case {
    const char *doc;
    const char *path;
    const char *message;
};

static void shape_errors_have_paths(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        {"{\"name\": ", "", "invalid JSON"},
        {"[1, 2]", "", "must be a JSON object"},
        {"{\"name\": \"a\", \"name\": \"b\"}", "", "invalid JSON"},
        {"{\"name\": \"f\", \"start\": \"x\"}", "nodes", "must be an object of nodes"},
        {"{\"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"hangup\"}}}", "name", "required"},
        {"{\"name\": \"f\", \"start\": \"x\", \"colour\": 1, \"nodes\": {\"x\": {\"type\": "
         "\"hangup\"}}}",
         "colour", "unknown field"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": 3}}", "nodes.x",
         "must be an object"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {}}}", "nodes.x.type", "required"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"hangup\", "
         "\"next\": \"x\"}}}",
         "nodes.x.next", "unknown field for this node type"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"timeout_s\": \"5\", \"options\": {\"1\": \"x\"}, "
         "\"exhausted\": \"x\"}}}",
         "nodes.x.timeout_s", "integer from 1 to 3600"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"options\": {\"12\": \"x\"}, \"exhausted\": \"x\"}}}",
         "nodes.x.options.12", "one key"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"collect\", "
         "\"prompt\": \"p\", \"var\": \"v\", \"validate\": \"[0-9]+\", \"next\": \"x\", "
         "\"invalid\": \"x\", \"timeout\": \"x\"}}}",
         "nodes.x.validate", "digits or luhn"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"collect\", "
         "\"prompt\": \"p\", \"var\": \"v\", \"min\": 6, \"max\": 4, \"next\": \"x\", "
         "\"invalid\": \"x\", \"timeout\": \"x\"}}}",
         "nodes.x.max", "below min"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"branch\", "
         "\"cases\": [{\"if\": {\"var\": \"caller\", \"op\": \"like\", \"value\": \"1\"}, "
         "\"next\": \"x\"}], \"else\": \"x\"}}}",
         "nodes.x.cases[0].if", "op must be"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"branch\", "
         "\"cases\": [{\"if\": {\"calendar\": \"maybe\"}, \"next\": \"x\"}], \"else\": "
         "\"x\"}}}",
         "nodes.x.cases[0].if", "calendar must be"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"set\", "
         "\"vars\": {\"priority\": \"high\"}, \"next\": \"x\"}}}",
         "nodes.x.vars.priority", "integer"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"play\", "
         "\"text\": \"a\", \"file\": \"b\", \"next\": \"x\"}}}",
         "nodes.x.text", "either"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"queue\", "
         "\"queue\": \"q\", \"callback_key\": \"11\"}}}",
         "nodes.x.callback_key", "one key"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"survey\", "
         "\"questions\": [{\"id\": \"a\", \"prompt\": \"p\", \"kind\": \"stars\"}], "
         "\"next\": \"x\"}}}",
         "nodes.x.questions[0].kind", "csat, nps or ces"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"survey\", "
         "\"questions\": [], \"next\": \"x\"}}}",
         "nodes.x.questions", "1 to 5"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"transfer\", "
         "\"number\": 5}}}",
         "nodes.x.number", "must be a string"},
        {"{\"name\": \"f\", \"start\": \"nope\", \"nodes\": {\"x\": {\"type\": \"hangup\"}}}",
         "start", "unknown node"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blend_field_errors errs;
        struct blend_ivr_flow *flow = NULL;
        int rc = blend_flow_parse(cases[i].doc, strlen(cases[i].doc), &flow, &errs);
        if (!has_error(&errs, cases[i].path, cases[i].message)) {
            dump(&errs);
            fail_msg("case %zu: no error '%s' at '%s'", i, cases[i].message, cases[i].path);
        }
        assert_int_equal(rc, BLEND_EINVAL);
        assert_null(flow);
        assert_int_equal(blend_alloc_live(), 0);
    }
}

static void limits_are_errors(void **state)
{
    (void)state;
    /* 129 nodes: one over BLEND_IVR_NODES_MAX. */
    static char doc[32 * 1024];
    size_t len = (size_t)snprintf(doc, sizeof doc,
                                  "{\"name\": \"f\", \"start\": \"n0\", "
                                  "\"nodes\": {");
    for (int i = 0; i <= BLEND_IVR_NODES_MAX; i++) {
        len += (size_t)snprintf(doc + len, sizeof doc - len, "%s\"n%d\": {\"type\": \"hangup\"}",
                                i ? ", " : "", i);
    }
    len += (size_t)snprintf(doc + len, sizeof doc - len, "}}");
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    assert_int_equal(blend_flow_parse(doc, len, &flow, &errs), BLEND_EINVAL);
    assert_true(has_error(&errs, "nodes.n128", "too many nodes"));
    /* A node name of 64 bytes is one too long. */
    char name[65];
    memset(name, 'a', 64);
    name[64] = '\0';
    len = (size_t)snprintf(doc, sizeof doc,
                           "{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"%s\": {\"type\": "
                           "\"hangup\"}}}",
                           name);
    assert_int_equal(blend_flow_parse(doc, len, &flow, &errs), BLEND_EINVAL);
    assert_true(errs.count >= 1);
    assert_non_null(strstr(errs.items[0].message, "1 to 63 bytes"));
    assert_int_equal(blend_alloc_live(), 0);
}

static void allocation_failures_leak_nothing(void **state)
{
    (void)state;
    read_example();
    int ok = 0;
    for (long nth = 1; nth < 10000 && !ok; nth++) {
        struct blend_field_errors errs;
        struct blend_ivr_flow *flow = NULL;
        blend_alloc_fail_nth(nth);
        int rc = blend_flow_parse(example, example_len, &flow, &errs);
        blend_alloc_fail_nth(0);
        if (rc == 0) {
            ok = 1;
            blend_ivr_flow_destroy(flow);
        } else {
            /* jansson reports its own allocation failures as JSON errors. */
            assert_true(rc == BLEND_ENOMEM || rc == BLEND_EINVAL);
            assert_null(flow);
        }
        assert_int_equal(blend_alloc_live(), 0);
    }
    assert_true(ok);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_loads_validates_and_runs),
        cmocka_unit_test(graph_errors_name_their_node),
        cmocka_unit_test(shape_errors_have_paths),
        cmocka_unit_test(limits_are_errors),
        cmocka_unit_test(allocation_failures_leak_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
