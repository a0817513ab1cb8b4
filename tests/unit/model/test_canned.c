/*
 * Canned responses at the model's edge (model/canned.h, docs/web.md §Canned responses): the
 * descriptor through blend_model_validate (required fields, defaults, name, title, language,
 * channels, queues) and the pure checks: a body's placeholders ({customer_name} and
 * {agent_name} only, unknown ones all named once), its length in characters (not bytes), and
 * BCP 47 language tags.
 */
#include "base/alloc.h"
#include "model/canned.h"
#include "model/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static int validate(const char *text, enum blend_validate_mode mode, json_t **doc_out,
                    struct blend_field_errors *errs)
{
    json_error_t jerr;
    json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    json_t *doc = NULL;
    int rc = blend_model_validate(&blend_res_canned_responses, in, mode, 0, &doc, errs);
    json_decref(in);
    if (doc_out) {
        *doc_out = doc;
    } else {
        json_decref(doc);
    }
    return rc;
}

static const char *error_at(const struct blend_field_errors *errs, const char *path)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0) {
            return errs->items[i].message;
        }
    }
    return NULL;
}

static void in_the_resource_table(void **state)
{
    (void)state;
    assert_ptr_equal(blend_resource_find("canned_responses"), &blend_res_canned_responses);
    assert_string_equal(blend_res_canned_responses.key, "name");
    assert_false(blend_model_has_pii(&blend_res_canned_responses));
}

static void minimal_document_gets_defaults(void **state)
{
    (void)state;
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(validate("{\"name\":\"greeting\",\"title\":\"Hi\",\"body\":\"Hello "
                              "{customer_name}, I am {agent_name}.\"}",
                              BLEND_VALIDATE_CREATE, &doc, &errs),
                     0);
    assert_int_equal(json_array_size(json_object_get(doc, "channels")), 0);
    assert_true(json_is_array(json_object_get(doc, "channels")));
    assert_null(json_object_get(doc, "language"));
    json_decref(doc);
    /* A full document, Korean body and a region tag. */
    assert_int_equal(validate("{\"name\":\"ko.hi\",\"title\":\"인사\",\"body\":\"안녕하세요 "
                              "{customer_name}님\",\"language\":\"ko-KR\",\"channels\":[\"chat\","
                              "\"sms\"],\"queues\":[{\"queue\":\"chat-support\"}]}",
                              BLEND_VALIDATE_CREATE, NULL, &errs),
                     0);
}

static void required_and_refused_fields(void **state)
{
    (void)state;
    struct blend_field_errors errs;
    assert_int_equal(validate("{}", BLEND_VALIDATE_CREATE, NULL, &errs), BLEND_EINVAL);
    assert_non_null(error_at(&errs, "name"));
    assert_non_null(error_at(&errs, "title"));
    assert_non_null(error_at(&errs, "body"));
    assert_int_equal(validate("{\"name\":\"Big Name\",\"title\":\"\",\"body\":\"x\",\"language\":"
                              "\"english!\",\"channels\":[\"voice\"],\"queues\":[{}],\"x\":1}",
                              BLEND_VALIDATE_CREATE, NULL, &errs),
                     BLEND_EINVAL);
    assert_non_null(error_at(&errs, "name"));
    assert_non_null(error_at(&errs, "title"));
    assert_non_null(strstr(error_at(&errs, "language"), "BCP 47"));
    assert_non_null(error_at(&errs, "channels[0]"));
    assert_non_null(error_at(&errs, "queues[0].queue"));
    assert_non_null(error_at(&errs, "x"));
    /* A patch checks only what it is given, placeholders included. */
    assert_int_equal(validate("{\"title\":\"New\"}", BLEND_VALIDATE_PATCH, NULL, &errs), 0);
    assert_int_equal(validate("{\"body\":\"Hi {name}\"}", BLEND_VALIDATE_PATCH, NULL, &errs),
                     BLEND_EINVAL);
    assert_non_null(strstr(error_at(&errs, "body"), "{name}"));
}

static void unknown_placeholders_are_named(void **state)
{
    (void)state;
    char err[192];
    const char *ok[] = {
        "plain text",
        "{customer_name}",
        "{agent_name}{customer_name}",
        "a { b } c {} {",
        "{ customer }",
        "{a-b}",
        "price: {",
        "}",
        "{customer_name",
        "{{agent_name}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (blend_canned_check_body(ok[i], strlen(ok[i]), err, sizeof err) != 0) {
            fail_msg("refused %s: %s", ok[i], err);
        }
        assert_string_equal(err, "");
    }
    const char *one = "Hi {name}, I am {agent_name}";
    assert_int_equal(blend_canned_check_body(one, strlen(one), err, sizeof err), BLEND_EINVAL);
    assert_string_equal(err, "unknown placeholder {name}: use {customer_name} or {agent_name}");
    const char *two = "{order_id} {Customer_Name} {order_id} {customer_name}";
    assert_int_equal(blend_canned_check_body(two, strlen(two), err, sizeof err), BLEND_EINVAL);
    assert_string_equal(
        err,
        "unknown placeholders {order_id}, {Customer_Name}: use {customer_name} or {agent_name}");
    /* Only len bytes are read: the unknown placeholder beyond them is not seen. */
    assert_int_equal(blend_canned_check_body("ok {x}", 3, err, sizeof err), 0);
    /* Many unknown names: the list is cut, the sentence stays whole and terminated. */
    char many[2048] = "";
    for (int i = 0; i < 100; i++) {
        char item[32];
        snprintf(item, sizeof item, "{name_%d} ", i);
        strcat(many, item);
    }
    char small[64];
    assert_int_equal(blend_canned_check_body(many, strlen(many), small, sizeof small),
                     BLEND_EINVAL);
    assert_true(strlen(small) < sizeof small);
    assert_non_null(strstr(small, "{name_0}"));
}

static void length_counts_characters(void **state)
{
    (void)state;
    char err[192];
    static char body[4 * BLEND_CANNED_BODY_CHARS_MAX + 8];
    /* 4000 Hangul syllables (3 bytes each) fit; one more does not. */
    size_t n = 0;
    for (int i = 0; i < BLEND_CANNED_BODY_CHARS_MAX; i++) {
        memcpy(body + n, "\xea\xb0\x80", 3);
        n += 3;
    }
    assert_int_equal(blend_canned_check_body(body, n, err, sizeof err), 0);
    memcpy(body + n, "a", 1);
    assert_int_equal(blend_canned_check_body(body, n + 1, err, sizeof err), BLEND_EINVAL);
    assert_non_null(strstr(err, "4001 characters"));
}

static void language_tags(void **state)
{
    (void)state;
    const char *ok[] = {"en",      "ko",    "zh-CN", "zh-Hans-CN", "yue", "en-US-x-twain",
                        "sr-Latn", "es-419"};
    const char *bad[] = {"e",    "",           "en-",          "-en",   "en--US", "e1",
                         "engl", "toolongtag", "en-abcdefghi", "en US", "中文",   "zh_CN"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (blend_canned_check_language(ok[i], strlen(ok[i])) != 0) {
            fail_msg("refused %s", ok[i]);
        }
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (blend_canned_check_language(bad[i], strlen(bad[i])) != BLEND_EINVAL) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_the_resource_table),
        cmocka_unit_test(minimal_document_gets_defaults),
        cmocka_unit_test(required_and_refused_fields),
        cmocka_unit_test(unknown_placeholders_are_named),
        cmocka_unit_test(length_counts_characters),
        cmocka_unit_test(language_tags),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (blend_alloc_live() != 0) {
        fprintf(stderr, "leak: %ld allocations live\n", blend_alloc_live());
        failed++;
    }
    return failed;
}
