/*
 * Webhook answers as flow variables (blend_flow_webhook_fields): each rule of flow.h is checked
 * on its own input: value types (strings, integers, reals in shortest form, booleans; others and
 * missing names skipped), dotted paths, the value length bound (no truncation), control
 * characters refused, non-object and oversized bodies refused, the output untouched on failure,
 * and every allocation failure answered with an error (BLEND_ENOMEM, or BLEND_EPARSE where
 * jansson's lexer reports it as a syntax error) without leaks and with the output untouched.
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

/* The body bound of flow.h's contract (BLEND_FLOW_WEBHOOK_BODY_MAX). */
#define BODY_MAX (64 * 1024)

static struct blend_ivr_assign names[BLEND_IVR_SETS_MAX];
static struct blend_ivr_assign out[BLEND_IVR_SETS_MAX];
static size_t out_count;

/* Fills names[] from a NULL-terminated list and returns how many. */
static size_t set_names(const char *const *list)
{
    size_t n = 0;
    memset(names, 0, sizeof names);
    for (; list[n]; n++) {
        snprintf(names[n].var, sizeof names[n].var, "%s", list[n]);
    }
    return n;
}

static int run(const char *body, const char *const *list)
{
    size_t n = set_names(list);
    memset(out, 0x5a, sizeof out);
    out_count = 12345;
    return blend_flow_webhook_fields(body, strlen(body), names, n, out, &out_count);
}

/* The value given for `var`, or NULL. */
static const char *value_of(const char *var)
{
    for (size_t i = 0; i < out_count; i++) {
        if (strcmp(out[i].var, var) == 0) {
            return out[i].value;
        }
    }
    return NULL;
}

static void untouched(void)
{
    assert_int_equal(out_count, 12345);
    assert_int_equal((unsigned char)out[0].var[0], 0x5a);
}

static void value_types(void **state)
{
    (void)state;
    static const char *const list[] = {"name", "n", "neg", "r", "yes", "no", "nil", "arr", NULL};
    assert_int_equal(run("{\"name\": \"Kim \\u00e9\", \"n\": 12, \"neg\": -9007199254740993,"
                         " \"r\": 0.1, \"yes\": true, \"no\": false, \"nil\": null,"
                         " \"arr\": [1], \"extra\": 1}",
                         list),
                     0);
    assert_int_equal(out_count, 6);
    /* In the order of the names. */
    assert_string_equal(out[0].var, "name");
    assert_string_equal(out[0].value, "Kim \xc3\xa9");
    assert_string_equal(value_of("n"), "12");
    assert_string_equal(value_of("neg"), "-9007199254740993");
    assert_string_equal(value_of("r"), "0.1");
    assert_string_equal(value_of("yes"), "true");
    assert_string_equal(value_of("no"), "false");
    assert_null(value_of("nil"));
    assert_null(value_of("arr"));
    assert_null(value_of("extra"));
}

static void reals_shortest_form(void **state)
{
    (void)state;
    static const char *const list[] = {"a", "b", "c", "d", "e", "f", NULL};
    assert_int_equal(run("{\"a\": 1.5, \"b\": 2.0, \"c\": 1e300, \"d\": -0.000125,"
                         " \"e\": 0.30000000000000004, \"f\": 1E2}",
                         list),
                     0);
    assert_int_equal(out_count, 6);
    assert_string_equal(value_of("a"), "1.5");
    assert_string_equal(value_of("b"), "2");
    assert_string_equal(value_of("c"), "1e+300");
    assert_string_equal(value_of("d"), "-0.000125");
    assert_string_equal(value_of("e"), "0.30000000000000004");
    assert_string_equal(value_of("f"), "100");
}

static void missing_and_object_values_skipped(void **state)
{
    (void)state;
    static const char *const list[] = {"order", "gone", "balance", NULL};
    assert_int_equal(run("{\"order\": {\"status\": \"shipped\"}, \"balance\": 7}", list), 0);
    assert_int_equal(out_count, 1);
    assert_string_equal(out[0].var, "balance");
    assert_string_equal(out[0].value, "7");
    static const char *const none[] = {NULL};
    assert_int_equal(run("{}", none), 0);
    assert_int_equal(out_count, 0);
}

static void dotted_paths(void **state)
{
    (void)state;
    static const char *const list[] = {"order.status",
                                       "order.items.count",
                                       "order.missing",
                                       "order",
                                       "a.b",
                                       "x..y",
                                       ".order",
                                       "order.",
                                       NULL};
    assert_int_equal(run("{\"order\": {\"status\": \"shipped\", \"items\": {\"count\": 3}},"
                         " \"a.b\": \"literal\", \"a\": {\"b\": \"nested\"},"
                         " \"x\": {\"\": {\"y\": 1}}}",
                         list),
                     0);
    assert_string_equal(value_of("order.status"), "shipped");
    assert_string_equal(value_of("order.items.count"), "3");
    /* A member whose name holds the dot wins over the path. */
    assert_string_equal(value_of("a.b"), "literal");
    assert_null(value_of("order.missing"));
    assert_null(value_of("order"));
    /* Empty segments never match, even a member named "". */
    assert_null(value_of("x..y"));
    assert_null(value_of(".order"));
    assert_null(value_of("order."));
    assert_int_equal(out_count, 3);
    /* A path through a non-object ends. */
    static const char *const through[] = {"s.length", "arr.0", NULL};
    assert_int_equal(run("{\"s\": \"text\", \"arr\": [1, 2]}", through), 0);
    assert_int_equal(out_count, 0);
}

static void value_length_bound(void **state)
{
    (void)state;
    static const char *const list[] = {"v", NULL};
    char body[512];
    char fits[BLEND_IVR_VALUE_BYTES];
    memset(fits, 'x', sizeof fits - 1);
    fits[sizeof fits - 1] = '\0';
    snprintf(body, sizeof body, "{\"v\": \"%s\"}", fits);
    assert_int_equal(run(body, list), 0);
    assert_int_equal(out_count, 1);
    assert_int_equal(strlen(out[0].value), BLEND_IVR_VALUE_BYTES - 1);
    /* One byte more is an error, not a truncation. */
    snprintf(body, sizeof body, "{\"v\": \"%sy\"}", fits);
    assert_int_equal(run(body, list), BLEND_ELIMIT);
    untouched();
    /* A long value the flow does not ask for does not matter. */
    static const char *const other[] = {"w", NULL};
    assert_int_equal(run(body, other), 0);
    assert_int_equal(out_count, 0);
    /* Multi-byte characters count in bytes. */
    char wide[400] = "{\"v\": \"";
    for (int i = 0; i < 64; i++) {
        strcat(wide, "\xc3\xa9");
    }
    strcat(wide, "\"}");
    assert_int_equal(run(wide, list), BLEND_ELIMIT);
}

static void control_characters_refused(void **state)
{
    (void)state;
    static const char *const list[] = {"v", NULL};
    static const char *const bad[] = {
        "{\"v\": \"a\\nb\"}",      "{\"v\": \"\\u0007\"}",   "{\"v\": \"tab\\there\"}",
        "{\"v\": \"del\\u007f\"}", "{\"v\": \"c1\\u0085\"}", "{\"v\": \"esc\\u001b[2J\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(bad[i], list), BLEND_EPARSE);
        untouched();
    }
    /* NUL inside a string: jansson refuses the body itself. */
    assert_int_equal(run("{\"v\": \"a\\u0000b\"}", list), BLEND_EPARSE);
    /* Printable non-ASCII is fine (U+00A0 follows the C1 range). */
    assert_int_equal(run("{\"v\": \"\\u00a0\\u4e2d\"}", list), 0);
    assert_int_equal(out_count, 1);
    /* A control character in a value the flow does not read does not matter. */
    static const char *const other[] = {"w", NULL};
    assert_int_equal(run("{\"v\": \"a\\nb\", \"w\": 1}", other), 0);
    assert_string_equal(out[0].value, "1");
}

static void bodies_refused(void **state)
{
    (void)state;
    static const char *const list[] = {"v", NULL};
    static const char *const bad[] = {
        "",       "[]",        "\"v\"",         "12",
        "null",   "{\"v\": 1", "{\"v\": 1} {}", "{\"v\": 1, \"v\": 2}",
        "{v: 1}", "\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run(bad[i], list), BLEND_EPARSE);
        untouched();
    }
    /* Bytes after the length are not read. */
    size_t n = set_names(list);
    assert_int_equal(blend_flow_webhook_fields("{\"v\": 5}garbage", 8, names, n, out, &out_count),
                     0);
    assert_string_equal(out[0].value, "5");
}

static void body_size_bound(void **state)
{
    (void)state;
    static const char *const list[] = {"v", NULL};
    size_t n = set_names(list);
    static char body[BODY_MAX + 2];
    /* {"v":1,"p":"xxxx..."} exactly BODY_MAX bytes, then one byte more. */
    const char *head = "{\"v\":1,\"p\":\"";
    size_t head_len = strlen(head);
    memcpy(body, head, head_len);
    memset(body + head_len, 'x', BODY_MAX - head_len - 2);
    memcpy(body + BODY_MAX - 2, "\"}", 2);
    assert_int_equal(blend_flow_webhook_fields(body, BODY_MAX, names, n, out, &out_count), 0);
    assert_string_equal(out[0].value, "1");
    body[BODY_MAX - 2] = 'x';
    memcpy(body + BODY_MAX - 1, "\"}", 2);
    out_count = 12345;
    assert_int_equal(blend_flow_webhook_fields(body, BODY_MAX + 1, names, n, out, &out_count),
                     BLEND_ELIMIT);
    assert_int_equal(out_count, 12345);
}

static void every_allocation_failure(void **state)
{
    (void)state;
    static const char *const list[] = {"a", "b.c", NULL};
    const char *body = "{\"a\": \"one\", \"b\": {\"c\": 2.5}, \"d\": [1, {\"e\": null}]}";
    size_t n = set_names(list);
    int saw_ok = 0;
    for (long nth = 1; nth < 200 && !saw_ok; nth++) {
        blend_alloc_fail_nth(nth);
        out_count = 12345;
        int rc = blend_flow_webhook_fields(body, strlen(body), names, n, out, &out_count);
        blend_alloc_fail_nth(0);
        /* jansson reports an allocation failure inside its string lexer as a syntax error. */
        if (rc != 0 && rc != BLEND_ENOMEM && rc != BLEND_EPARSE) {
            fail_msg("nth %ld: %s", nth, blend_errname(rc));
        }
        if (rc == 0) {
            saw_ok = 1;
            assert_int_equal(out_count, 2);
            assert_string_equal(out[1].value, "2.5");
        } else {
            assert_int_equal(out_count, 12345);
        }
        assert_int_equal(blend_alloc_live(), 0);
    }
    assert_true(saw_ok);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(value_types),
        cmocka_unit_test(reals_shortest_form),
        cmocka_unit_test(missing_and_object_values_skipped),
        cmocka_unit_test(dotted_paths),
        cmocka_unit_test(value_length_bound),
        cmocka_unit_test(control_characters_refused),
        cmocka_unit_test(bodies_refused),
        cmocka_unit_test(body_size_bound),
        cmocka_unit_test(every_allocation_failure),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        return 1;
    }
    return failed;
}
