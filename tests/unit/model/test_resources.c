/*
 * Tests of validation against the real resource descriptors (src/model/resources.c): lookup,
 * every compiled-in default is valid for its own field, the descriptors keep the depth bound
 * (no children inside children, one level of groups), and realistic documents of each resource
 * pass or fail as the API contract says.
 */
#include "base/alloc.h"
#include "model/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static int validate_text(const struct blend_resource *res, const char *text,
                         enum blend_validate_mode mode, json_t **doc,
                         struct blend_field_errors *errs)
{
    json_error_t jerr;
    json_t *in = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    *doc = NULL;
    int rc = blend_model_validate(res, in, mode, 0, doc, errs);
    json_decref(in);
    if (rc != 0) {
        for (size_t i = 0; i < errs->count; i++) {
            print_message("  %s: %s\n", errs->items[i].path, errs->items[i].message);
        }
    }
    return rc;
}

static int has_error(const struct blend_field_errors *errs, const char *path, const char *msg)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0 && strstr(errs->items[i].message, msg)) {
            return 1;
        }
    }
    return 0;
}

static void finds_resources_by_name(void **state)
{
    size_t n = 0;
    for (size_t i = 0; blend_resources[i]; i++, n++) {
        assert_ptr_equal(blend_resource_find(blend_resources[i]->name), blend_resources[i]);
    }
    assert_int_equal(n, 13); /* 12 + canned_responses (model/canned.c) */
    assert_ptr_equal(blend_resource_find("queues"), &blend_res_queues);
    assert_null(blend_resource_find("queue"));
    assert_null(blend_resource_find(""));
    assert_int_equal(blend_resource_field(&blend_res_agents, "capacity.voice")->max, 1);
}

/* Checks one field's default by validating {name: default} (nested for groups) as a patch. */
static void check_default(const struct blend_resource *res, const struct blend_field *f)
{
    json_error_t jerr;
    json_t *d = json_loads(f->default_json, JSON_DECODE_ANY, &jerr);
    if (!d) {
        fail_msg("%s.%s: default does not parse", res->name, f->name);
    }
    json_t *in = json_object();
    const char *dot = strchr(f->name, '.');
    if (dot) {
        char group[64];
        snprintf(group, sizeof group, "%.*s", (int)(dot - f->name), f->name);
        json_object_set_new(in, group, json_pack("{s:o}", dot + 1, d));
    } else {
        json_object_set_new(in, f->name, d);
    }
    struct blend_field_errors errs;
    json_t *doc = NULL;
    if (blend_model_validate(res, in, BLEND_VALIDATE_PATCH, 1, &doc, &errs) != 0) {
        fail_msg("%s.%s: default refused: %s", res->name, f->name, errs.items[0].message);
    }
    json_decref(doc);
    json_decref(in);
}

static void defaults_are_valid_and_depth_is_bounded(void **state)
{
    for (size_t i = 0; blend_resources[i]; i++) {
        const struct blend_resource *res = blend_resources[i];
        assert_null(res->parent_column);
        for (size_t j = 0; j < res->fields_count; j++) {
            const struct blend_field *f = &res->fields[j];
            /* One level of groups: at most one dot. */
            const char *dot = strchr(f->name, '.');
            assert_true(!dot || !strchr(dot + 1, '.'));
            if (f->default_json) {
                check_default(res, f);
            }
            if (f->type != BLEND_FT_CHILDREN) {
                continue;
            }
            assert_non_null(f->child);
            assert_non_null(f->child->parent_column);
            for (size_t k = 0; k < f->child->fields_count; k++) {
                const struct blend_field *cf = &f->child->fields[k];
                assert_int_not_equal(cf->type, BLEND_FT_CHILDREN);
                assert_null(strchr(cf->name, '.'));
                if (cf->default_json) {
                    check_default(f->child, cf);
                }
            }
        }
    }
    assert_int_equal(blend_alloc_live(), 0);
}

static void agent_document(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(
        validate_text(&blend_res_agents,
                      "{\"name\":\"minji\",\"user\":\"minji\",\"extension\":\"1001\","
                      "\"sip_password\":\"sip-secret-1\",\"skills\":[{\"skill\":\"korean\","
                      "\"proficiency\":10}],\"capacity\":{\"chat\":4}}",
                      BLEND_VALIDATE_CREATE, &doc, &errs),
        0);
    json_t *cap = json_object_get(doc, "capacity");
    assert_int_equal(json_integer_value(json_object_get(cap, "voice")), 1);
    assert_int_equal(json_integer_value(json_object_get(cap, "chat")), 4);
    assert_int_equal(json_integer_value(json_object_get(cap, "email")), 5);
    assert_true(json_is_true(json_object_get(doc, "enabled")));
    blend_model_redact(&blend_res_agents, doc);
    assert_null(json_object_get(doc, "sip_password"));
    json_decref(doc);

    assert_int_equal(validate_text(&blend_res_agents,
                                   "{\"name\":\"Bad Name\",\"extension\":\"10a\",\"capacity\":"
                                   "{\"fax\":1,\"voice\":2},\"skills\":[{\"skill\":\"x\"}]}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     BLEND_EINVAL);
    assert_true(has_error(&errs, "name", "may hold only"));
    assert_true(has_error(&errs, "extension", "digits"));
    assert_true(has_error(&errs, "capacity.fax", "unknown field"));
    assert_true(has_error(&errs, "capacity.voice", "between 0 and 1"));
    assert_true(has_error(&errs, "skills[0].proficiency", "required field"));
    assert_int_equal(errs.count_total, 5);
    assert_int_equal(blend_alloc_live(), 0);
}

static void user_document(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(validate_text(&blend_res_users,
                                   "{\"username\":\"admin\",\"role\":\"admin\",\"password\":"
                                   "\"admin-demo-pass\"}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     0);
    assert_string_equal(json_string_value(json_object_get(doc, "language")), "en");
    blend_model_redact(&blend_res_users, doc);
    assert_null(json_object_get(doc, "password"));
    assert_null(json_object_get(doc, "failed_logins"));
    assert_null(json_object_get(doc, "locked_until"));
    assert_non_null(json_object_get(doc, "role"));
    json_decref(doc);

    assert_int_equal(validate_text(&blend_res_users,
                                   "{\"username\":\"x\",\"role\":\"god\",\"password\":\"short\","
                                   "\"password_hash\":\"h\",\"id\":3}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     BLEND_EINVAL);
    assert_true(has_error(&errs, "role", "must be one of: admin, supervisor, qa, agent"));
    assert_true(has_error(&errs, "password", "too short (at least 8 bytes)"));
    assert_true(has_error(&errs, "password_hash", "internal field"));
    assert_true(has_error(&errs, "id", "read-only field"));
    assert_int_equal(errs.count_total, 4);
    assert_int_equal(blend_alloc_live(), 0);
}

static void calendar_and_queue_documents(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(validate_text(&blend_res_calendars,
                                   "{\"name\":\"bh\",\"time_zone\":\"Asia/Seoul\",\"hours\":"
                                   "[{\"day\":\"mon\",\"open\":\"09:00\",\"close\":\"18:00\"}],"
                                   "\"holidays\":[{\"date\":\"2026-03-01\",\"name\":\"x\","
                                   "\"open\":null,\"close\":null}]}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     0);
    json_decref(doc);
    assert_int_equal(validate_text(&blend_res_calendars,
                                   "{\"name\":\"bh\",\"time_zone\":\"../etc\",\"hours\":"
                                   "[{\"day\":\"mon\",\"open\":\"9:00\",\"close\":\"18:00\"}],"
                                   "\"holidays\":[{\"date\":\"2026-02-30\"}]}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     BLEND_EINVAL);
    assert_true(has_error(&errs, "time_zone", "time zone"));
    assert_true(has_error(&errs, "hours[0].open", "expected a time"));
    assert_true(has_error(&errs, "holidays[0].date", "real date"));
    assert_int_equal(errs.count_total, 3);
    /* Well-formed but unknown to the time zone database. */
    assert_int_equal(validate_text(&blend_res_calendars,
                                   "{\"name\":\"bh\",\"time_zone\":\"Asia/Atlantis\"}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     BLEND_EINVAL);
    assert_true(has_error(&errs, "time_zone", "time zone"));

    assert_int_equal(validate_text(&blend_res_queues,
                                   "{\"name\":\"sales\",\"channels\":[],\"skills\":[{\"skill\":"
                                   "\"sales\",\"min_proficiency\":0}],\"overflow_queue\":5}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     BLEND_EINVAL);
    assert_true(has_error(&errs, "channels", "too few items"));
    assert_true(has_error(&errs, "skills[0].min_proficiency", "between 1 and 10"));
    assert_true(has_error(&errs, "overflow_queue", "expected a string"));
    assert_int_equal(errs.count_total, 3);
    assert_int_equal(blend_alloc_live(), 0);
}

static void contact_and_pii(void **state)
{
    struct blend_field_errors errs;
    json_t *doc;
    assert_int_equal(validate_text(&blend_res_contacts,
                                   "{\"name\":\"Kim\",\"consent\":{\"sms\":true},\"identities\":"
                                   "[{\"kind\":\"phone\",\"value\":\"+821055501234\"}]}",
                                   BLEND_VALIDATE_CREATE, &doc, &errs),
                     0);
    json_t *consent = json_object_get(doc, "consent");
    assert_true(json_is_true(json_object_get(consent, "sms")));
    assert_true(json_is_true(json_object_get(consent, "recording")));
    assert_true(json_is_false(json_object_get(consent, "marketing")));
    assert_true(json_is_object(json_object_get(doc, "attributes")));
    json_decref(doc);

    assert_true(blend_model_has_pii(&blend_res_contacts));
    assert_true(blend_model_has_pii(&blend_res_messages));
    assert_false(blend_model_has_pii(&blend_res_skills));
    assert_false(blend_model_has_pii(&blend_res_queues));
    assert_int_equal(blend_alloc_live(), 0);
}

static void message_body_may_exceed_default_string_max(void **state)
{
    static char body[20000];
    memset(body, 'm', sizeof body - 1);
    json_t *in = json_pack("{s:i,s:s,s:s}", "interaction", 1, "direction", "inbound", "body", body);
    struct blend_field_errors errs;
    json_t *doc = NULL;
    assert_int_equal(
        blend_model_validate(&blend_res_messages, in, BLEND_VALIDATE_CREATE, 0, &doc, &errs), 0);
    json_decref(doc);
    json_decref(in);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(finds_resources_by_name),
        cmocka_unit_test(defaults_are_valid_and_depth_is_bounded),
        cmocka_unit_test(agent_document),
        cmocka_unit_test(user_document),
        cmocka_unit_test(calendar_and_queue_documents),
        cmocka_unit_test(contact_and_pii),
        cmocka_unit_test(message_body_may_exceed_default_string_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
