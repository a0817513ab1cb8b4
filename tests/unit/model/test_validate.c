/*
 * Tests for model validation and redaction against a small descriptor table of our own (every
 * field type and flag), so they do not depend on the real resources in resources.c; those are
 * exercised by test_resources.c.
 */
#include "base/alloc.h"
#include "base/limits.h"
#include "model/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static int check_lower(const json_t *value, char *err, size_t errlen)
{
    for (const char *s = json_string_value(value); *s; s++) {
        if (*s < 'a' || *s > 'z') {
            snprintf(err, errlen, "lowercase letters only");
            return BLEND_EINVAL;
        }
    }
    return 0;
}

static const struct blend_field owner_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 32},
};
static const struct blend_resource res_owners = {
    .name = "owners",
    .singular = "owner",
    .table = "owners",
    .key = "name",
    .fields = owner_fields,
    .fields_count = 1,
    .is_versioned = 1,
};
static const struct blend_field ticket_fields[] = {
    {.name = "title", .column = "title", .type = BLEND_FT_STRING, .min = 0, .max = 32},
};
static const struct blend_resource res_tickets = {
    .name = "tickets",
    .singular = "ticket",
    .table = "tickets",
    .key = NULL,
    .fields = ticket_fields,
    .fields_count = 1,
    .is_versioned = 1,
};
static const struct blend_field part_fields[] = {
    {.name = "part",
     .column = "owner_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &res_owners},
    {.name = "level",
     .column = "level",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 10},
    {.name = "token",
     .column = "token",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_WRITE_ONLY,
     .min = 0,
     .max = 16},
    {.name = "label",
     .column = "label",
     .type = BLEND_FT_STRING,
     .min = 0,
     .max = 16,
     .default_json = "\"std\""},
};
static const struct blend_resource res_parts = {
    .name = "widget_parts",
    .singular = "widget part",
    .table = "widget_parts",
    .parent_column = "widget_id",
    .fields = part_fields,
    .fields_count = 4,
};
static const char *const kinds[] = {"a", "b", "c", NULL};
static const char *const channels[] = {"voice", "chat", "email", NULL};
static const struct blend_field widget_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 16,
     .check = check_lower},
    {.name = "note",
     .column = "note",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE | BLEND_FF_PII,
     .min = 0,
     .max = 0},
    {.name = "count",
     .column = "count",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 10,
     .default_json = "3"},
    {.name = "active", .column = "active", .type = BLEND_FT_BOOL, .default_json = "true"},
    {.name = "kind",
     .column = "kind",
     .type = BLEND_FT_ENUM,
     .flags = BLEND_FF_REQUIRED,
     .values = kinds},
    {.name = "channels",
     .column = "channels",
     .type = BLEND_FT_SET,
     .values = channels,
     .default_json = "[\"voice\"]"},
    {.name = "owner",
     .column = "owner_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_NULLABLE,
     .ref = &res_owners},
    {.name = "ticket", .column = "ticket_id", .type = BLEND_FT_REF, .ref = &res_tickets},
    {.name = "meta", .column = "meta", .type = BLEND_FT_JSON, .default_json = "{}"},
    {.name = "opens", .column = "opens", .type = BLEND_FT_TIME, .flags = BLEND_FF_NULLABLE},
    {.name = "day", .column = "day", .type = BLEND_FT_DATE},
    {.name = "secret",
     .column = NULL,
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_WRITE_ONLY,
     .min = 8,
     .max = 64},
    {.name = "counter",
     .column = "counter",
     .type = BLEND_FT_INT,
     .flags = BLEND_FF_INTERNAL,
     .min = 0,
     .max = 1000,
     .default_json = "0"},
    {.name = "created_by",
     .column = "created_by",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_READ_ONLY,
     .min = 0,
     .max = 64},
    {.name = "capacity.voice",
     .column = "cap_voice",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 1,
     .default_json = "1"},
    {.name = "capacity.chat",
     .column = "cap_chat",
     .type = BLEND_FT_INT,
     .min = 0,
     .max = 20,
     .default_json = "3"},
    {.name = "parts", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_parts},
    /* A SET whose min/max bound the count of values. */
    {.name = "tags",
     .column = "tags",
     .type = BLEND_FT_SET,
     .min = 1,
     .max = 2,
     .values = channels},
};
static const struct blend_resource res_widgets = {
    .name = "widgets",
    .singular = "widget",
    .table = "widgets",
    .key = "name",
    .fields = widget_fields,
    .fields_count = sizeof widget_fields / sizeof widget_fields[0],
    .is_versioned = 1,
};

/* Validates text in the given mode; returns the rc and the doc (or NULL). */
static int run(const char *text, enum blend_validate_mode mode, int allow_internal, json_t **doc,
               struct blend_field_errors *errs)
{
    json_error_t jerr;
    json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    *doc = NULL;
    int rc = blend_model_validate(&res_widgets, in, mode, allow_internal, doc, errs);
    json_decref(in);
    return rc;
}

/* Asserts that the error list holds exactly this (path, message) among its entries. */
static void assert_error(const struct blend_field_errors *errs, const char *path,
                         const char *message_start)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0 &&
            strncmp(errs->items[i].message, message_start, strlen(message_start)) == 0) {
            return;
        }
    }
    for (size_t i = 0; i < errs->count; i++) {
        print_message("  have %s: %s\n", errs->items[i].path, errs->items[i].message);
    }
    fail_msg("missing error %s: %s", path, message_start);
}

/* Expects a single error, at path, starting with message_start. */
static void expect_one(const char *text, enum blend_validate_mode mode, const char *path,
                       const char *message_start)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run(text, mode, 0, &doc, &errs), BLEND_EINVAL);
    assert_null(doc);
    assert_error(&errs, path, message_start);
    if (errs.count_total != 1) {
        print_message("input: %s\n", text);
    }
    assert_int_equal(errs.count_total, 1);
}

static void create_fills_defaults_and_nests_groups(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run("{\"name\":\"w\",\"kind\":\"a\",\"capacity\":{\"chat\":7}}",
                         BLEND_VALIDATE_CREATE, 0, &doc, &errs),
                     0);
    json_t *want = json_pack("{s:s,s:s,s:i,s:b,s:[s],s:{},s:i,s:{s:i,s:i}}", "name", "w", "kind",
                             "a", "count", 3, "active", 1, "channels", "voice", "meta", "counter",
                             0, "capacity", "voice", 1, "chat", 7);
    if (!json_equal(doc, want)) {
        char *s = json_dumps(doc, JSON_SORT_KEYS);
        fail_msg("got %s", s);
    }
    json_decref(want);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void patch_takes_only_given_fields(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run("{\"count\":0,\"note\":null,\"capacity\":{\"voice\":0}}",
                         BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     0);
    json_t *want = json_pack("{s:i,s:n,s:{s:i}}", "count", 0, "note", "capacity", "voice", 0);
    assert_true(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    /* An empty patch is valid and empty. */
    assert_int_equal(run("{}", BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
    assert_int_equal(json_object_size(doc), 0);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void full_document_round_trips(void **state)
{
    const char *text =
        "{\"name\":\"full\",\"note\":\"hello \xea\xb0\x80\",\"count\":10,\"active\":false,"
        "\"kind\":\"c\",\"channels\":[\"email\",\"voice\"],\"owner\":\"bob\",\"ticket\":42,"
        "\"meta\":{\"x\":[1,{\"y\":null}]},\"opens\":\"24:00\",\"day\":\"2024-02-29\","
        "\"secret\":\"s3cr3t-pass\",\"capacity\":{\"voice\":0,\"chat\":20},"
        "\"parts\":[{\"part\":\"bob\",\"level\":1,\"token\":\"t\",\"label\":\"x\"},"
        "{\"part\":\"al\",\"level\":10}]}";
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run(text, BLEND_VALIDATE_CREATE, 0, &doc, &errs), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "secret")), "s3cr3t-pass");
    /* Child defaults are filled in too. */
    json_t *p1 = json_array_get(json_object_get(doc, "parts"), 1);
    assert_string_equal(json_string_value(json_object_get(p1, "label")), "std");
    assert_int_equal(json_integer_value(json_object_get(doc, "ticket")), 42);

    blend_model_redact(&res_widgets, doc);
    assert_null(json_object_get(doc, "secret"));
    assert_null(json_object_get(doc, "counter"));
    json_t *p0 = json_array_get(json_object_get(doc, "parts"), 0);
    assert_null(json_object_get(p0, "token"));
    assert_string_equal(json_string_value(json_object_get(p0, "part")), "bob");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "capacity"), "chat")),
                     20);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void refuses_wrong_types(void **state)
{
    expect_one("{\"name\":1,\"kind\":\"a\"}", BLEND_VALIDATE_CREATE, "name", "expected a string");
    expect_one("{\"count\":\"3\"}", BLEND_VALIDATE_PATCH, "count", "expected an integer");
    expect_one("{\"count\":1.0}", BLEND_VALIDATE_PATCH, "count", "expected an integer");
    expect_one("{\"active\":1}", BLEND_VALIDATE_PATCH, "active", "expected a boolean");
    expect_one("{\"kind\":true}", BLEND_VALIDATE_PATCH, "kind", "expected a string");
    expect_one("{\"channels\":\"voice\"}", BLEND_VALIDATE_PATCH, "channels", "expected an array");
    expect_one("{\"meta\":[]}", BLEND_VALIDATE_PATCH, "meta", "expected an object");
    expect_one("{\"opens\":900}", BLEND_VALIDATE_PATCH, "opens", "expected a string");
    expect_one("{\"parts\":{}}", BLEND_VALIDATE_PATCH, "parts", "expected an array");
    expect_one("{\"capacity\":5}", BLEND_VALIDATE_PATCH, "capacity", "expected an object");
    expect_one("{\"owner\":7}", BLEND_VALIDATE_PATCH, "owner", "expected a string");
    expect_one("{\"ticket\":\"42\"}", BLEND_VALIDATE_PATCH, "ticket", "expected a positive");
    expect_one("{\"ticket\":0}", BLEND_VALIDATE_PATCH, "ticket", "expected a positive");
    expect_one("{\"count\":null}", BLEND_VALIDATE_PATCH, "count", "must not be null");
    assert_int_equal(blend_alloc_live(), 0);
}

static void refuses_out_of_range(void **state)
{
    expect_one("{\"name\":\"\"}", BLEND_VALIDATE_PATCH, "name", "too short (at least 1 bytes)");
    expect_one("{\"name\":\"abcdefghijklmnopq\"}", BLEND_VALIDATE_PATCH, "name",
               "too long (at most 16 bytes)");
    expect_one("{\"name\":\"Abc\"}", BLEND_VALIDATE_PATCH, "name", "lowercase letters only");
    expect_one("{\"count\":11}", BLEND_VALIDATE_PATCH, "count", "must be between 0 and 10");
    expect_one("{\"count\":-1}", BLEND_VALIDATE_PATCH, "count", "must be between 0 and 10");
    expect_one("{\"kind\":\"d\"}", BLEND_VALIDATE_PATCH, "kind", "must be one of: a, b, c");
    expect_one("{\"channels\":[\"voice\",\"fax\"]}", BLEND_VALIDATE_PATCH, "channels[1]",
               "must be one of");
    expect_one("{\"channels\":[\"chat\",\"chat\"]}", BLEND_VALIDATE_PATCH, "channels[1]",
               "duplicate value");
    expect_one("{\"channels\":[\"chat\",\"chat\",\"chat\",\"chat\"]}", BLEND_VALIDATE_PATCH,
               "channels", "too many items");
    expect_one("{\"tags\":[]}", BLEND_VALIDATE_PATCH, "tags", "too few items (at least 1)");
    expect_one("{\"tags\":[\"voice\",\"chat\",\"email\"]}", BLEND_VALIDATE_PATCH, "tags",
               "too many items (at most 2)");
    expect_one("{\"channels\":[1]}", BLEND_VALIDATE_PATCH, "channels[0]", "expected a string");
    expect_one("{\"owner\":\"\"}", BLEND_VALIDATE_PATCH, "owner", "invalid owner name");
    expect_one("{\"capacity\":{\"voice\":2}}", BLEND_VALIDATE_PATCH, "capacity.voice",
               "must be between 0 and 1");
    /* The default string maximum applies when max is 0. */
    char big[BLEND_FIELD_STRING_BYTES_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *in = json_pack("{s:s}", "note", big);
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     BLEND_EINVAL);
    assert_error(&errs, "note", "too long (at most 4096 bytes)");
    json_decref(in);
    big[BLEND_FIELD_STRING_BYTES_MAX] = '\0';
    in = json_pack("{s:s}", "note", big);
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     0);
    json_decref(doc);
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

static void json_fields_are_depth_bounded(void **state)
{
    /* {"meta": {"a": [{"a": [ ... ]}]}}: nesting grows by one per object and per array. */
    char text[512];
    struct blend_field_errors errs;
    json_t *doc;
    for (int levels = 1; levels <= BLEND_JSON_DEPTH_MAX; levels++) {
        size_t len = (size_t)snprintf(text, sizeof text, "{\"meta\":");
        for (int i = 0; i < levels; i++) {
            len += (size_t)snprintf(text + len, sizeof text - len, i % 2 ? "[" : "{\"a\":");
        }
        len += (size_t)snprintf(text + len, sizeof text - len, "1");
        for (int i = levels - 1; i >= 0; i--) {
            len += (size_t)snprintf(text + len, sizeof text - len, i % 2 ? "]" : "}");
        }
        snprintf(text + len, sizeof text - len, "}");
        int rc = run(text, BLEND_VALIDATE_PATCH, 0, &doc, &errs);
        if (levels <= BLEND_JSON_DEPTH_MAX - 4) {
            assert_int_equal(rc, 0);
            json_decref(doc);
        } else {
            assert_int_equal(rc, BLEND_EINVAL);
            assert_error(&errs, "meta", "nested too deeply");
        }
    }
    /* Wide but shallow is fine, and siblings after a deep branch are still walked. */
    assert_int_equal(run("{\"meta\":{\"a\":[1,2,{}],\"b\":{\"c\":[[]]},\"d\":null}}",
                         BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     0);
    json_decref(doc);
    /* A deep branch after shallow siblings is found too (1 object + 12 arrays = 13 levels). */
    expect_one("{\"meta\":{\"x\":1,\"y\":{},\"z\":[[[[[[[[[[[[1]]]]]]]]]]]]}}",
               BLEND_VALIDATE_PATCH, "meta", "nested too deeply");
    assert_int_equal(blend_alloc_live(), 0);
}

static void checks_times_and_dates(void **state)
{
    static const char *const good_times[] = {"00:00", "09:30", "23:59", "24:00"};
    static const char *const bad_times[] = {"24:01", "25:00", "9:30", "09:60",
                                            "0930",  "09:3a", "",     "09:30:00"};
    static const char *const good_dates[] = {"2024-02-29", "2000-02-29", "2026-12-31",
                                             "0001-01-01"};
    static const char *const bad_dates[] = {"2026-02-29", "1900-02-29", "2026-04-31",
                                            "2026-13-01", "2026-00-10", "2026-01-00",
                                            "0000-01-01", "2026-1-01",  "2026/01/01"};
    char text[128];
    struct blend_field_errors errs;
    json_t *doc;
    for (size_t i = 0; i < sizeof good_times / sizeof *good_times; i++) {
        snprintf(text, sizeof text, "{\"opens\":\"%s\"}", good_times[i]);
        assert_int_equal(run(text, BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
        json_decref(doc);
    }
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        snprintf(text, sizeof text, "{\"opens\":\"%s\"}", bad_times[i]);
        expect_one(text, BLEND_VALIDATE_PATCH, "opens", "expected a time");
    }
    for (size_t i = 0; i < sizeof good_dates / sizeof *good_dates; i++) {
        snprintf(text, sizeof text, "{\"day\":\"%s\"}", good_dates[i]);
        assert_int_equal(run(text, BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
        json_decref(doc);
    }
    for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
        snprintf(text, sizeof text, "{\"day\":\"%s\"}", bad_dates[i]);
        expect_one(text, BLEND_VALIDATE_PATCH, "day", "expected a real date");
    }
    assert_int_equal(blend_alloc_live(), 0);
}

static void refuses_unknown_and_server_fields(void **state)
{
    expect_one("{\"colour\":1}", BLEND_VALIDATE_PATCH, "colour", "unknown field");
    expect_one("{\"capacity\":{\"fax\":1}}", BLEND_VALIDATE_PATCH, "capacity.fax", "unknown field");
    expect_one("{\"id\":1}", BLEND_VALIDATE_PATCH, "id", "read-only field");
    expect_one("{\"version\":1}", BLEND_VALIDATE_PATCH, "version", "read-only field");
    expect_one("{\"created_at\":\"x\"}", BLEND_VALIDATE_PATCH, "created_at", "read-only field");
    expect_one("{\"updated_at\":\"x\"}", BLEND_VALIDATE_PATCH, "updated_at", "read-only field");
    expect_one("{\"created_by\":\"x\"}", BLEND_VALIDATE_PATCH, "created_by", "read-only field");
    expect_one("{\"counter\":5}", BLEND_VALIDATE_PATCH, "counter", "internal field");
    expect_one("{\"parts\":[{\"part\":\"a\",\"level\":1,\"x\":1}]}", BLEND_VALIDATE_PATCH,
               "parts[0].x", "unknown field");
    expect_one("{\"parts\":[{\"part\":\"a\",\"level\":1,\"id\":1}]}", BLEND_VALIDATE_PATCH,
               "parts[0].id", "read-only field");

    /* Server code may set internal fields. */
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run("{\"counter\":5}", BLEND_VALIDATE_PATCH, 1, &doc, &errs), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "counter")), 5);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void children_are_checked_with_paths(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    const char *text = "{\"parts\":[{\"part\":\"a\",\"level\":1},{\"level\":11},7,"
                       "{\"part\":\"b\",\"level\":\"x\",\"token\":\"tttttttttttttttttttt\"}]}";
    assert_int_equal(run(text, BLEND_VALIDATE_PATCH, 0, &doc, &errs), BLEND_EINVAL);
    assert_null(doc);
    /* Children are validated as creates: the missing required field is reported. */
    assert_error(&errs, "parts[1].part", "required field");
    assert_error(&errs, "parts[1].level", "must be between 1 and 10");
    assert_error(&errs, "parts[2]", "expected an object");
    assert_error(&errs, "parts[3].level", "expected an integer");
    assert_error(&errs, "parts[3].token", "too long");
    assert_int_equal(errs.count_total, 5);

    /* An empty list is a valid replacement. */
    assert_int_equal(run("{\"parts\":[]}", BLEND_VALIDATE_PATCH, 0, &doc, &errs), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "parts")), 0);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void children_are_bounded(void **state)
{
    json_t *in = json_object();
    json_t *parts = json_array();
    for (int i = 0; i < BLEND_CHILDREN_MAX + 1; i++) {
        json_array_append_new(parts, json_pack("{s:s,s:i}", "part", "a", "level", 1));
    }
    json_object_set_new(in, "parts", parts);
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     BLEND_EINVAL);
    assert_error(&errs, "parts", "too many items (at most 256)");
    json_array_remove(parts, 0);
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     0);
    assert_int_equal(json_array_size(json_object_get(doc, "parts")), BLEND_CHILDREN_MAX);
    json_decref(doc);
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

static void create_reports_every_missing_field(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(run("{\"bogus\":1}", BLEND_VALIDATE_CREATE, 0, &doc, &errs), BLEND_EINVAL);
    assert_error(&errs, "name", "required field");
    assert_error(&errs, "kind", "required field");
    assert_error(&errs, "bogus", "unknown field");
    assert_int_equal(errs.count_total, 3);
    /* Descriptor order first, then unknown keys. */
    assert_string_equal(errs.items[0].path, "name");
    assert_string_equal(errs.items[2].path, "bogus");
    assert_int_equal(blend_alloc_live(), 0);
}

static void input_must_be_an_object(void **state)
{
    struct blend_field_errors errs;
    json_t *doc = NULL;
    json_t *in = json_array();
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs),
                     BLEND_EINVAL);
    assert_null(doc);
    assert_int_equal(errs.count, 1);
    assert_string_equal(errs.items[0].message, "expected an object");
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

static void error_list_is_bounded(void **state)
{
    json_t *in = json_object();
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "unknown%d", i);
        json_object_set_new(in, key, json_true());
    }
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     BLEND_EINVAL);
    assert_int_equal(errs.count, BLEND_FIELD_ERRORS_MAX);
    assert_int_equal(errs.count_total, 100);

    blend_field_errors_init(&errs);
    char longpath[300];
    memset(longpath, 'p', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    blend_field_errors_add(&errs, longpath, "%s %d", "n", 5);
    assert_int_equal(strlen(errs.items[0].path), sizeof errs.items[0].path - 1);
    assert_string_equal(errs.items[0].message, "n 5");
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

static void output_shares_nothing_with_input(void **state)
{
    json_error_t jerr;
    json_t *in = json_loads("{\"meta\":{\"a\":1},\"name\":\"x\"}", 0, &jerr);
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_PATCH, 0, &doc, &errs),
                     0);
    assert_ptr_not_equal(json_object_get(doc, "meta"), json_object_get(in, "meta"));
    assert_ptr_not_equal(json_object_get(doc, "name"), json_object_get(in, "name"));
    json_decref(in);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "meta"), "a")), 1);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void out_of_memory_is_reported(void **state)
{
    json_error_t jerr;
    json_t *in = json_loads("{\"name\":\"w\",\"kind\":\"a\",\"parts\":[{\"part\":\"a\","
                            "\"level\":2}],\"capacity\":{\"voice\":0}}",
                            0, &jerr);
    struct blend_field_errors errs;
    json_t *want = NULL;
    assert_int_equal(blend_model_validate(&res_widgets, in, BLEND_VALIDATE_CREATE, 0, &want, &errs),
                     0);
    long base = blend_alloc_live();
    /* Fail the 1st, 2nd, ... allocation until validation gets through: each failure is ENOMEM,
     * leaks nothing, and the final success is the complete document (nothing silently lost). */
    long nth = 1;
    for (;; nth++) {
        json_t *doc = NULL;
        blend_alloc_fail_nth(nth);
        int rc = blend_model_validate(&res_widgets, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs);
        blend_alloc_fail_nth(0);
        if (rc == 0) {
            assert_true(json_equal(doc, want));
            json_decref(doc);
            break;
        }
        assert_int_equal(rc, BLEND_ENOMEM);
        assert_null(doc);
        assert_int_equal(blend_alloc_live(), base);
    }
    assert_true(nth > 10);
    json_decref(want);
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

static void redact_handles_groups_and_odd_docs(void **state)
{
    static const struct blend_field f[] = {
        {.name = "pin.code",
         .column = "pin",
         .type = BLEND_FT_STRING,
         .flags = BLEND_FF_WRITE_ONLY,
         .max = 8},
        {.name = "pin.hint", .column = "hint", .type = BLEND_FT_STRING, .max = 8},
        {.name = "key.secret",
         .column = "ks",
         .type = BLEND_FT_STRING,
         .flags = BLEND_FF_INTERNAL,
         .max = 8},
    };
    static const struct blend_resource r = {
        .name = "locks", .singular = "lock", .table = "locks", .fields = f, .fields_count = 3};
    json_t *doc = json_pack("{s:{s:s,s:s},s:{s:s},s:i}", "pin", "code", "1234", "hint", "h", "key",
                            "secret", "s", "other", 1);
    blend_model_redact(&r, doc);
    json_t *want = json_pack("{s:{s:s},s:i}", "pin", "hint", "h", "other", 1);
    assert_true(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    /* Not an object: nothing to do, no crash. */
    json_t *arr = json_array();
    blend_model_redact(&r, arr);
    blend_model_redact(&r, NULL);
    json_decref(arr);
    /* Children lists of the wrong shape are left alone. */
    doc = json_pack("{s:[i,{s:s}]}", "parts", 1, "token", "t");
    blend_model_redact(&res_widgets, doc);
    assert_null(json_object_get(json_array_get(json_object_get(doc, "parts"), 1), "token"));
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void pii_and_field_lookup(void **state)
{
    assert_true(blend_model_has_pii(&res_widgets));
    assert_false(blend_model_has_pii(&res_owners));
    static const struct blend_field pf[] = {
        {.name = "v", .column = "v", .type = BLEND_FT_STRING, .flags = BLEND_FF_PII},
    };
    static const struct blend_resource pchild = {.name = "c",
                                                 .singular = "c",
                                                 .table = "c",
                                                 .parent_column = "p",
                                                 .fields = pf,
                                                 .fields_count = 1};
    static const struct blend_field ppf[] = {
        {.name = "list", .type = BLEND_FT_CHILDREN, .child = &pchild},
    };
    static const struct blend_resource pparent = {
        .name = "p", .singular = "p", .table = "p", .fields = ppf, .fields_count = 1};
    assert_true(blend_model_has_pii(&pparent));
    assert_ptr_equal(blend_resource_field(&res_widgets, "capacity.chat"), &widget_fields[15]);
    assert_null(blend_resource_field(&res_widgets, "capacity"));
    assert_null(blend_resource_field(&res_widgets, "nope"));
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_fills_defaults_and_nests_groups),
        cmocka_unit_test(patch_takes_only_given_fields),
        cmocka_unit_test(full_document_round_trips),
        cmocka_unit_test(refuses_wrong_types),
        cmocka_unit_test(refuses_out_of_range),
        cmocka_unit_test(checks_times_and_dates),
        cmocka_unit_test(json_fields_are_depth_bounded),
        cmocka_unit_test(refuses_unknown_and_server_fields),
        cmocka_unit_test(children_are_checked_with_paths),
        cmocka_unit_test(children_are_bounded),
        cmocka_unit_test(create_reports_every_missing_field),
        cmocka_unit_test(input_must_be_an_object),
        cmocka_unit_test(error_list_is_bounded),
        cmocka_unit_test(output_shares_nothing_with_input),
        cmocka_unit_test(out_of_memory_is_reported),
        cmocka_unit_test(redact_handles_groups_and_odd_docs),
        cmocka_unit_test(pii_and_field_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
