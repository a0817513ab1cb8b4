/*
 * A contact's own required skills at the model's edges (docs/routing.md §Queues and
 * eligibility, docs/flows.md): the interactions' `skills` field (an object of skill names to
 * minimums 1..10, at most 8, nullable), the IVR `skills` variable's format
 * (blend_ivr_skills_parse: "vip", "vip:5,korean:3"), and the flow check that refuses a `set`
 * node whose literal `skills` does not parse, naming the node.
 */
#include "base/alloc.h"
#include "engine/ivr/ivr.h"
#include "model/flow.h"
#include "model/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static int validate(const struct blend_resource *res, const char *text,
                    struct blend_field_errors *errs)
{
    json_error_t jerr;
    json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    json_t *doc = NULL;
    int rc = blend_model_validate(res, in, BLEND_VALIDATE_CREATE, 0, &doc, errs);
    json_decref(in);
    if (rc == 0) {
        assert_non_null(doc);
    } else {
        assert_null(doc);
    }
    json_decref(doc);
    return rc;
}

static int has_error(const struct blend_field_errors *errs, const char *path)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0) {
            return 1;
        }
    }
    return 0;
}

/* An interaction document up to its skills value, and eight distinct skills. */
#define IA "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":"
#define EIGHT "\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1"

static void interaction_skills_field(void **state)
{
    struct blend_field_errors errs;
    const char *ok[] = {
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"vip\":1}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"vip\":10,\"korean\":5}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":null}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{}}",
        IA "{" EIGHT "}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        blend_field_errors_init(&errs);
        assert_int_equal(validate(&blend_res_interactions, ok[i], &errs), 0);
    }
    const char *bad[] = {
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"vip\":0}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"vip\":11}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"vip\":\"5\"}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":{\"VIP\":5}}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":[\"vip\"]}",
        "{\"channel\":\"voice\",\"direction\":\"inbound\",\"skills\":\"vip\"}",
        IA "{" EIGHT ",\"i\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        blend_field_errors_init(&errs);
        assert_int_equal(validate(&blend_res_interactions, bad[i], &errs), BLEND_EINVAL);
        assert_true(has_error(&errs, "skills"));
    }
}

static void skills_variable_parses(void **state)
{
    struct blend_ivr_skill sk[BLEND_IVR_SKILLS_MAX];
    size_t n = 99;
    assert_int_equal(blend_ivr_skills_parse("vip", sk, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(sk[0].name, "vip");
    assert_int_equal(sk[0].min_proficiency, 1);
    assert_int_equal(blend_ivr_skills_parse("vip:5,korean:3", sk, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(sk[1].name, "korean");
    assert_int_equal(sk[0].min_proficiency, 5);
    assert_int_equal(sk[1].min_proficiency, 3);
    assert_int_equal(blend_ivr_skills_parse(" vip:10 , tech.l2 ,a_b-c:1 ", sk, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(sk[0].min_proficiency, 10);
    assert_string_equal(sk[1].name, "tech.l2");
    assert_int_equal(blend_ivr_skills_parse("", sk, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(blend_ivr_skills_parse("   ", sk, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(blend_ivr_skills_parse("a,b,c,d,e,f,g,h", sk, &n), 0);
    assert_int_equal(n, 8);
    char long_name[BLEND_IVR_NAME_BYTES + 1];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {
        "vip:0",      "vip:11",  "vip:",  "vip:5x", "vip:005", ":5",        "vip,,korean",
        "vip,",       ",vip",    "VIP",   "vip 5",  "vip:5:6", "vip,vip:2", "a,b,c,d,e,f,g,h,i",
        "vip;korean", long_name, "vip:-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 99;
        assert_int_equal(blend_ivr_skills_parse(bad[i], sk, &n), BLEND_EINVAL);
        assert_int_equal(n, 99); /* untouched */
    }
}

static int flow_with_skills(const char *value, struct blend_field_errors *errs)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"name\":\"f\",\"start\":\"s\",\"nodes\":{"
             "\"s\":{\"type\":\"set\",\"vars\":{\"skills\":%s},\"next\":\"q\"},"
             "\"q\":{\"type\":\"queue\",\"queue\":\"billing\"}}}",
             value);
    blend_field_errors_init(errs);
    return validate(&blend_res_flows, text, errs);
}

static void flow_check_refuses_bad_literal(void **state)
{
    struct blend_field_errors errs;
    assert_int_equal(flow_with_skills("\"vip\"", &errs), 0);
    assert_int_equal(flow_with_skills("\"vip:5,korean:3\"", &errs), 0);
    assert_int_equal(flow_with_skills("\"\"", &errs), 0);
    const char *bad[] = {"\"vip:11\"", "\"vip,vip\"", "\"Vip\"", "\"a,b,c,d,e,f,g,h,i\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(flow_with_skills(bad[i], &errs), BLEND_EINVAL);
        assert_true(has_error(&errs, "nodes.s.vars.skills"));
    }
    /* Another variable with the same text is not checked as skills. */
    char text[] = "{\"name\":\"f\",\"start\":\"s\",\"nodes\":{"
                  "\"s\":{\"type\":\"set\",\"vars\":{\"topic\":\"vip:11\"},\"next\":\"q\"},"
                  "\"q\":{\"type\":\"queue\",\"queue\":\"billing\"}}}";
    blend_field_errors_init(&errs);
    assert_int_equal(validate(&blend_res_flows, text, &errs), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(interaction_skills_field),
        cmocka_unit_test(skills_variable_parses),
        cmocka_unit_test(flow_check_refuses_bad_literal),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return rc;
}
