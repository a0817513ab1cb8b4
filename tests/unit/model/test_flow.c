/*
 * IVR flow loader: the documented example (tests/fuzz/corpus/fuzz_model_flow/example.json, the
 * same flow as docs/flows.md) loads, validates and runs; each graph error comes back as a field
 * error on its node; malformed JSON and wrong types give field errors with paths, never a
 * crash; every allocation failure is answered with BLEND_ENOMEM and leaks nothing.
 */
#include "base/alloc.h"
#include "engine/calendar/calendar.h"
#include "model/flow.h"
#include "tz/tz.h"

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
         "nodes.x.validate", "digits, luhn or pattern"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"collect\", "
         "\"prompt\": \"p\", \"var\": \"v\", \"pattern\": \"[0-9]+\", \"next\": \"x\", "
         "\"invalid\": \"x\", \"timeout\": \"x\"}}}",
         "nodes.x.pattern", "goes with"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"collect\", "
         "\"prompt\": \"p\", \"var\": \"v\", \"validate\": \"pattern\", \"next\": \"x\", "
         "\"invalid\": \"x\", \"timeout\": \"x\"}}}",
         "nodes.x.pattern", "required"},
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
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"options\": {\"1\": {\"next\": \"x\", \"colour\": 1}}, "
         "\"exhausted\": \"x\"}}}",
         "nodes.x.options.1.colour", "unknown field"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"options\": {\"1\": {\"label\": \"A\"}}, "
         "\"exhausted\": \"x\"}}}",
         "nodes.x.options.1", "must be a node name"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"options\": {\"1\": {\"next\": \"x\", \"label\": \"\"}}, "
         "\"exhausted\": \"x\"}}}",
         "nodes.x.options.1.label", "1..63 bytes"},
        {"{\"name\": \"f\", \"start\": \"x\", \"nodes\": {\"x\": {\"type\": \"menu\", "
         "\"prompt\": \"p\", \"options\": {\"1\": {\"next\": \"x\", \"label\": \"A\"}, "
         "\"2\": {\"next\": \"x\", \"label\": \"A\"}}, \"exhausted\": \"x\"}}}",
         "nodes.x.options.2.label", "another option"},
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

/* Chat quick replies: an option may carry a label beside its target. */
static void option_labels_load(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"name\": \"f\", \"start\": \"m\", \"nodes\": {\"m\": {\"type\": \"menu\", "
        "\"prompt\": \"Topic?\", \"options\": {\"1\": {\"next\": \"h\", \"label\": "
        "\"\ubc30\uc1a1 \uc870\ud68c\"}, \"2\": \"h\"}, \"exhausted\": \"h\"}, "
        "\"h\": {\"type\": \"hangup\"}}}";
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    int rc = blend_flow_parse(doc, strlen(doc), &flow, &errs);
    if (rc) {
        dump(&errs);
    }
    assert_int_equal(rc, 0);
    const struct blend_ivr_node *m = NULL;
    for (size_t i = 0; i < flow->nodes_count; i++) {
        m = strcmp(flow->nodes[i].name, "m") == 0 ? &flow->nodes[i] : m;
    }
    assert_non_null(m);
    assert_int_equal(m->options_count, 2);
    assert_int_equal(m->options[0].key, '1');
    assert_string_equal(m->options[0].label, "\xeb\xb0\xb0\xec\x86\xa1 \xec\xa1\xb0\xed\x9a\x8c");
    assert_string_equal(m->options[0].target.name, "h");
    assert_string_equal(m->options[1].label, "");
    blend_ivr_flow_destroy(flow);
    assert_int_equal(blend_alloc_live(), 0);
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

/* The flows resource: a document is validated as a whole flow (graph errors name the node);
 * a patch changing the graph gives start and nodes together; a patch of the description alone
 * needs neither. */
static void flows_resource_checks_the_graph(void **state)
{
    (void)state;
    read_example();
    json_error_t jerr;
    json_t *ex = json_loadb(example, example_len, 0, &jerr);
    assert_non_null(ex);
    json_t *in = json_pack("{s:s, s:O, s:O, s:O}", "name", "main", "language",
                           json_object_get(ex, "language"), "start", json_object_get(ex, "start"),
                           "nodes", json_object_get(ex, "nodes"));
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(
        blend_model_validate(&blend_res_flows, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs), 0);
    json_decref(doc);
    /* A target to a node that does not exist. */
    json_object_set_new(json_object_get(json_object_get(in, "nodes"), "xfer"), "type",
                        json_string("play"));
    json_object_set_new(json_object_get(json_object_get(in, "nodes"), "xfer"), "next",
                        json_string("nowhere"));
    json_object_del(json_object_get(json_object_get(in, "nodes"), "xfer"), "number");
    json_object_set_new(json_object_get(json_object_get(in, "nodes"), "xfer"), "text",
                        json_string("Transferring"));
    doc = NULL;
    assert_int_equal(
        blend_model_validate(&blend_res_flows, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs),
        BLEND_EINVAL);
    assert_null(doc);
    assert_true(has_error(&errs, "nodes.xfer", "nowhere"));
    json_decref(in);

    json_t *patch = json_pack("{s:{s:{s:s}}}", "nodes", "a", "type", "hangup");
    assert_int_equal(
        blend_model_validate(&blend_res_flows, patch, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
        BLEND_EINVAL);
    assert_true(has_error(&errs, "start", "together"));
    json_decref(patch);
    patch = json_pack("{s:s, s:{s:{s:s}}}", "start", "a", "nodes", "a", "type", "hangup");
    assert_int_equal(
        blend_model_validate(&blend_res_flows, patch, BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
    json_decref(doc);
    json_decref(patch);
    patch = json_pack("{s:s}", "description", "Main line");
    assert_int_equal(
        blend_model_validate(&blend_res_flows, patch, BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
    json_decref(doc);
    json_decref(patch);
    json_decref(ex);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Where a caller goes at calendar edges: the host evaluates the entry point's calendar in the
 * calendar's own zone (src/tz) and the flow branches on it. New York, open every day 01:00-03:30
 * and Saturday 18:00-24:00, closed on 2026-12-25: across the DST jump of 2026-03-08 (02:00 EST
 * -> 03:00 EDT), at midnight, and on the holiday. */
static const char *route_at(const struct blend_calendar *cal, int64_t unix_ms)
{
    static const char doc[] =
        "{\"name\": \"hours\", \"version\": 1, \"start\": \"hours\", \"nodes\": {"
        "\"hours\": {\"type\": \"branch\", \"cases\": ["
        "{\"if\": {\"calendar\": \"open\"}, \"next\": \"open\"},"
        "{\"if\": {\"calendar\": \"holiday\"}, \"next\": \"holiday\"}], \"else\": \"closed\"},"
        "\"open\": {\"type\": \"hangup\"}, \"holiday\": {\"type\": \"hangup\"},"
        "\"closed\": {\"type\": \"hangup\"}}}";
    struct blend_field_errors errs;
    struct blend_ivr_flow *flow = NULL;
    assert_int_equal(blend_flow_parse(doc, strlen(doc), &flow, &errs), 0);
    struct blend_civil civil;
    assert_int_equal(blend_tz_civil("America/New_York", unix_ms, &civil), 0);
    const struct blend_calendar_holiday *h;
    enum blend_calendar_state st = blend_calendar_state(cal, &civil, &h);
    struct blend_ivr_facts facts = {.hour = civil.minute / 60};
    facts.calendar = st == BLEND_CALENDAR_OPEN      ? BLEND_IVR_CAL_OPEN
                     : st == BLEND_CALENDAR_HOLIDAY ? BLEND_IVR_CAL_HOLIDAY
                                                    : BLEND_IVR_CAL_CLOSED;
    struct blend_ivr_session *s = NULL;
    assert_int_equal(blend_ivr_session_create(flow, &s), 0);
    static struct blend_ivr_effects fx;
    struct blend_ivr_event ev = {.kind = BLEND_IVR_EV_START, .facts = &facts};
    assert_int_equal(blend_ivr_session_step(s, &ev, &fx), 0);
    static char last[BLEND_IVR_NAME_BYTES];
    for (size_t i = 0; i < fx.count; i++) {
        if (fx.items[i].kind == BLEND_IVR_FX_STEP) {
            snprintf(last, sizeof last, "%s", fx.items[i].node);
        }
    }
    blend_ivr_session_destroy(s);
    blend_ivr_flow_destroy(flow);
    return last;
}

static void calendar_edges_steer_the_flow(void **state)
{
    (void)state;
    struct blend_calendar *cal = blend_calloc(1, sizeof *cal);
    assert_non_null(cal);
    for (int d = 0; d < 7; d++) {
        cal->spans[cal->spans_count++] = (struct blend_calendar_span){d, 60, 210};
    }
    cal->spans[cal->spans_count++] = (struct blend_calendar_span){5, 18 * 60, 1440};
    cal->holidays[cal->holidays_count++] =
        (struct blend_calendar_holiday){.date = 20261225, .closed = 1, .name = "Christmas"};
    const int64_t h = 3600000;
    /* 2026-03-08T06:59:59Z is 01:59:59 EST; one second later the clocks read 03:00 EDT. */
    const int64_t jump = 1772953200000LL; /* 2026-03-08T07:00:00Z */
    assert_string_equal(route_at(cal, jump - 1000), "open");
    assert_string_equal(route_at(cal, jump), "open");           /* 03:00 EDT */
    assert_string_equal(route_at(cal, jump + h / 2), "closed"); /* 03:30 EDT, not 02:30 */
    /* Midnight: Saturday 2026-03-14 23:59:59 EDT is open, Sunday 00:00 is not. */
    const int64_t sunday = 1773547200000LL; /* 2026-03-15T04:00:00Z = 00:00 EDT */
    assert_string_equal(route_at(cal, sunday - 1000), "open");
    assert_string_equal(route_at(cal, sunday), "closed");
    assert_string_equal(route_at(cal, sunday + h), "open"); /* 01:00, the daily span */
    /* The holiday replaces the daily hours: 2026-12-25 02:00 EST. */
    const int64_t xmas = 1798182000000LL; /* 2026-12-25T07:00:00Z */
    assert_string_equal(route_at(cal, xmas), "holiday");
    assert_string_equal(route_at(cal, xmas + 24 * h), "open"); /* the 26th, same hour */
    blend_free(cal);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(example_loads_validates_and_runs),
        cmocka_unit_test(graph_errors_name_their_node),
        cmocka_unit_test(shape_errors_have_paths),
        cmocka_unit_test(option_labels_load),
        cmocka_unit_test(limits_are_errors),
        cmocka_unit_test(allocation_failures_leak_nothing),
        cmocka_unit_test(flows_resource_checks_the_graph),
        cmocka_unit_test(calendar_edges_steer_the_flow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
