/*
 * Tests of the store's data operations against a real SQLite file: create/get/find/list with
 * keyset pagination and filters, patch with and without version, delete with references
 * restricted, child tables replaced as a whole, REF resolution errors, unique violations named
 * by field, UPSERT idempotence, redaction, the event log (gapless, atomic with the change), the
 * audit log and audit ops, deletes cascading to a user's tokens, finding a parent by its
 * children, and that every resource's descriptor matches the schema. Each test checks that no
 * allocation leaks.
 */
#include "store_test_util.h"

#include "base/limits.h"
#include "model/model.h"

static void check_no_leak(void)
{
    assert_int_equal(blend_alloc_live(), 0);
}

static int64_t create(struct blend_store *s, const struct blend_resource *res, const char *doc)
{
    int64_t id = 0;
    assert_int_equal(run1(s, BLEND_OP_CREATE, res, 0, J(doc), &id), 0);
    assert_true(id > 0);
    return id;
}

static const char *str_at(const json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    assert_non_null(v);
    return v;
}

static void crud_and_pagination(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    const char *names[] = {"billing", "sales", "support", "korean", "vip"};
    int64_t ids[5];
    for (int i = 0; i < 5; i++) {
        char doc[128];
        snprintf(doc, sizeof doc, "{\"name\":\"%s\",\"description\":\"d%d\"}", names[i], i);
        ids[i] = create(t.s, &blend_res_skills, doc);
    }
    json_t *doc = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_skills, ids[1], 0, &doc), 0);
    assert_string_equal(str_at(doc, "name"), "sales");
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "id")), ids[1]);
    assert_non_null(json_object_get(doc, "created_at"));
    json_decref(doc);
    assert_int_equal(blend_store_get(t.s, &blend_res_skills, 999, 0, &doc), BLEND_ENOENT);

    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "korean", 0, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "id")), ids[3]);
    json_decref(doc);
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "nope", 0, &doc),
                     BLEND_ENOENT);
    /* Not a unique field: find refuses. */
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "description", "d1", 0, &doc),
                     BLEND_EINVAL);

    /* Pages of two: 2 + 2 + 1, the cursor is the last id of a page. */
    struct blend_list_query q = {.limit = 2};
    int64_t next = -1;
    json_t *items = NULL;
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        assert_int_equal(blend_store_list(t.s, &blend_res_skills, &q, &items, &next), 0);
        for (size_t i = 0; i < json_array_size(items); i++) {
            assert_string_equal(str_at(json_array_get(items, i), "name"), names[seen++]);
        }
        assert_int_equal(json_array_size(items), page < 2 ? 2 : 1);
        assert_int_equal(next, page < 2 ? ids[page * 2 + 1] : 0);
        json_decref(items);
        q.after_id = next;
    }
    assert_int_equal(seen, 5);
    /* Exactly a full last page: no further cursor. */
    q = (struct blend_list_query){.limit = 5};
    assert_int_equal(blend_store_list(t.s, &blend_res_skills, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 5);
    assert_int_equal(next, 0);
    json_decref(items);
    /* Filter on an ordinary field. */
    q = (struct blend_list_query){.limit = 10, .filter_field = "description", .filter_value = "d4"};
    assert_int_equal(blend_store_list(t.s, &blend_res_skills, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str_at(json_array_get(items, 0), "name"), "vip");
    json_decref(items);
    q.limit = 0;
    assert_int_equal(blend_store_list(t.s, &blend_res_skills, &q, &items, &next), BLEND_EINVAL);
    q.limit = BLEND_API_PAGE_MAX + 1;
    assert_int_equal(blend_store_list(t.s, &blend_res_skills, &q, &items, &next), BLEND_EINVAL);
    tenv_deinit(&t);
    check_no_leak();
}

static void patch_with_and_without_version(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t id = create(t.s, &blend_res_skills, "{\"name\":\"sales\"}");

    struct blend_write *w = one_op(t.s, BLEND_OP_UPDATE, &blend_res_skills, id, 1,
                                   J("{\"description\":\"new\"}"), NULL);
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].version_out, 2);
    assert_int_equal(w->ops[0].changed, 1);
    assert_string_equal(str_at(w->ops[0].result, "description"), "new");
    blend_write_destroy(w);

    /* Stale version: conflict, nothing written. */
    w = one_op(t.s, BLEND_OP_UPDATE, &blend_res_skills, id, 1, J("{\"description\":\"x\"}"), NULL);
    assert_int_equal(w->rc, BLEND_ECONFLICT);
    assert_int_equal(w->failed_op, 0);
    assert_string_equal(w->ops[0].error_field, "version");
    blend_write_destroy(w);

    /* Unchecked version. */
    w = one_op(t.s, BLEND_OP_UPDATE, &blend_res_skills, id, 0, J("{\"description\":\"y\"}"), NULL);
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].version_out, 3);
    blend_write_destroy(w);

    /* Same value again: no change, no new version, no event. */
    int64_t seq = blend_store_last_seq(t.s);
    w = one_op(t.s, BLEND_OP_UPDATE, &blend_res_skills, id, 3, J("{\"description\":\"y\"}"), NULL);
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].changed, 0);
    assert_int_equal(w->ops[0].version_out, 3);
    assert_int_equal(w->first_seq, 0);
    blend_write_destroy(w);
    assert_int_equal(blend_store_last_seq(t.s), seq);

    assert_int_equal(run1(t.s, BLEND_OP_UPDATE, &blend_res_skills, 4242, J("{}"), NULL),
                     BLEND_ENOENT);
    json_t *doc = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_skills, id, 0, &doc), 0);
    assert_string_equal(str_at(doc, "description"), "y");
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 3);
    json_decref(doc);
    tenv_deinit(&t);
    check_no_leak();
}

static void delete_restricted_by_references(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t skill = create(t.s, &blend_res_skills, "{\"name\":\"sales\"}");
    int64_t user = create(t.s, &blend_res_users, "{\"username\":\"ann\",\"role\":\"agent\"}");
    int64_t agent = create(t.s, &blend_res_agents,
                           "{\"name\":\"ann\",\"user\":\"ann\","
                           "\"skills\":[{\"skill\":\"sales\",\"proficiency\":5}]}");

    struct blend_write *w = one_op(t.s, BLEND_OP_DELETE, &blend_res_skills, skill, 0, NULL, NULL);
    assert_int_equal(w->rc, BLEND_ECONFLICT);
    assert_non_null(strstr(w->ops[0].error_detail, "agent_skills"));
    blend_write_destroy(w);
    w = one_op(t.s, BLEND_OP_DELETE, &blend_res_users, user, 0, NULL, NULL);
    assert_int_equal(w->rc, BLEND_ECONFLICT);
    assert_non_null(strstr(w->ops[0].error_detail, "agents"));
    blend_write_destroy(w);
    /* Wrong version. */
    w = one_op(t.s, BLEND_OP_DELETE, &blend_res_agents, agent, 7, NULL, NULL);
    assert_int_equal(w->rc, BLEND_ECONFLICT);
    blend_write_destroy(w);

    int64_t before = blend_store_last_seq(t.s);
    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_agents, agent, NULL, NULL), 0);
    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, before, 10, &events), 0);
    assert_int_equal(json_array_size(events), 1);
    json_t *e = json_array_get(events, 0);
    assert_string_equal(str_at(e, "type"), "agents.deleted");
    char subject[64];
    snprintf(subject, sizeof subject, "agents/%lld", (long long)agent);
    assert_string_equal(str_at(e, "subject"), subject);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "data"), "id")), agent);
    assert_string_equal(str_at(json_object_get(e, "data"), "name"), "ann");
    json_decref(events);

    /* The child rows went with the agent: the skill is free now. */
    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_skills, skill, NULL, NULL), 0);
    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_users, user, NULL, NULL), 0);
    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_users, user, NULL, NULL), BLEND_ENOENT);
    tenv_deinit(&t);
    check_no_leak();
}

static void children_replaced_and_nested_fields(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    create(t.s, &blend_res_skills, "{\"name\":\"b\"}");
    int64_t agent = create(t.s, &blend_res_agents,
                           "{\"name\":\"bob\",\"capacity\":{\"voice\":1,\"chat\":4},"
                           "\"skills\":[{\"skill\":\"a\",\"proficiency\":5},"
                           "{\"skill\":\"b\",\"proficiency\":3}]}");
    json_t *doc = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_agents, agent, 0, &doc), 0);
    json_t *want = J("[{\"skill\":\"a\",\"proficiency\":5},{\"skill\":\"b\",\"proficiency\":3}]");
    assert_true(json_equal(json_object_get(doc, "skills"), want));
    json_decref(want);
    json_t *cap = json_object_get(doc, "capacity");
    assert_int_equal(json_integer_value(json_object_get(cap, "chat")), 4);
    /* Absent on create: the schema default. */
    assert_int_equal(json_integer_value(json_object_get(cap, "email")), 5);
    assert_true(json_is_true(json_object_get(doc, "enabled")));
    json_decref(doc);

    assert_int_equal(run1(t.s, BLEND_OP_UPDATE, &blend_res_agents, agent,
                          J("{\"skills\":[{\"skill\":\"b\",\"proficiency\":7}],"
                            "\"capacity\":{\"chat\":2}}"),
                          NULL),
                     0);
    assert_int_equal(blend_store_get(t.s, &blend_res_agents, agent, 0, &doc), 0);
    want = J("[{\"skill\":\"b\",\"proficiency\":7}]");
    assert_true(json_equal(json_object_get(doc, "skills"), want));
    json_decref(want);
    cap = json_object_get(doc, "capacity");
    assert_int_equal(json_integer_value(json_object_get(cap, "chat")), 2);
    assert_int_equal(json_integer_value(json_object_get(cap, "voice")), 1);
    json_decref(doc);

    /* An empty list clears the children. */
    assert_int_equal(
        run1(t.s, BLEND_OP_UPDATE, &blend_res_agents, agent, J("{\"skills\":[]}"), NULL), 0);
    assert_int_equal(blend_store_get(t.s, &blend_res_agents, agent, 0, &doc), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "skills")), 0);
    json_decref(doc);
    tenv_deinit(&t);
    check_no_leak();
}

static void ref_resolution_errors(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    struct blend_write *w =
        one_op(t.s, BLEND_OP_CREATE, &blend_res_agents, 0, 0,
               J("{\"name\":\"x\",\"skills\":[{\"skill\":\"a\",\"proficiency\":1},"
                 "{\"skill\":\"nope\",\"proficiency\":2}]}"),
               NULL);
    assert_int_equal(w->rc, BLEND_EINVAL);
    assert_string_equal(w->ops[0].error_field, "skills[1].skill");
    assert_non_null(strstr(w->ops[0].error_detail, "nope"));
    assert_null(w->ops[0].result);
    blend_write_destroy(w);

    w = one_op(t.s, BLEND_OP_CREATE, &blend_res_agents, 0, 0,
               J("{\"name\":\"x\",\"user\":\"ghost\"}"), NULL);
    assert_int_equal(w->rc, BLEND_EINVAL);
    assert_string_equal(w->ops[0].error_field, "user");
    blend_write_destroy(w);

    /* A key-less target is referred to by id. */
    w = one_op(t.s, BLEND_OP_CREATE, &blend_res_interactions, 0, 0,
               J("{\"channel\":\"chat\",\"direction\":\"inbound\",\"contact\":77}"), NULL);
    assert_int_equal(w->rc, BLEND_EINVAL);
    assert_string_equal(w->ops[0].error_field, "contact");
    blend_write_destroy(w);

    /* Nothing of the failed writes was stored. */
    json_t *items = NULL;
    int64_t next = 0;
    struct blend_list_query q = {.limit = 10};
    assert_int_equal(blend_store_list(t.s, &blend_res_agents, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    tenv_deinit(&t);
    check_no_leak();
}

static void expect_exists(struct blend_store *s, const struct blend_resource *res, const char *doc,
                          const char *field)
{
    struct blend_write *w = one_op(s, BLEND_OP_CREATE, res, 0, 0, J(doc), NULL);
    assert_int_equal(w->rc, BLEND_EEXIST);
    assert_string_equal(w->ops[0].error_field, field);
    blend_write_destroy(w);
}

static void unique_violations_name_the_field(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    expect_exists(t.s, &blend_res_skills, "{\"name\":\"a\"}", "name");
    create(t.s, &blend_res_agents, "{\"name\":\"x\",\"extension\":\"100\"}");
    expect_exists(t.s, &blend_res_agents, "{\"name\":\"y\",\"extension\":\"100\"}", "extension");
    expect_exists(t.s, &blend_res_agents,
                  "{\"name\":\"z\",\"skills\":[{\"skill\":\"a\",\"proficiency\":1},"
                  "{\"skill\":\"a\",\"proficiency\":2}]}",
                  "skills[1].skill");
    create(t.s, &blend_res_entry_points,
           "{\"name\":\"main\",\"channel\":\"voice\",\"address\":\"+8225551234\"}");
    expect_exists(t.s, &blend_res_entry_points,
                  "{\"name\":\"other\",\"channel\":\"voice\",\"address\":\"+8225551234\"}",
                  "address");
    /* The same address on another channel is fine. */
    create(t.s, &blend_res_entry_points,
           "{\"name\":\"sms\",\"channel\":\"sms\",\"address\":\"+8225551234\"}");
    create(t.s, &blend_res_contacts,
           "{\"name\":\"Kim\",\"identities\":[{\"kind\":\"phone\",\"value\":\"+821012345678\"}]}");
    expect_exists(t.s, &blend_res_contacts,
                  "{\"name\":\"Lee\",\"identities\":[{\"kind\":\"email\",\"value\":\"l@x.kr\"},"
                  "{\"kind\":\"phone\",\"value\":\"+821012345678\"}]}",
                  "identities[1].value");
    tenv_deinit(&t);
    check_no_leak();
}

static void upsert_is_idempotent(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    const char *doc = "{\"name\":\"q1\",\"channels\":[\"voice\",\"chat\"],\"priority\":3,"
                      "\"skills\":[{\"skill\":\"a\",\"min_proficiency\":2}]}";
    struct blend_write *w = one_op(t.s, BLEND_OP_UPSERT, &blend_res_queues, 0, 0, J(doc), "cli");
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].changed, 1);
    int64_t id = w->ops[0].id_out;
    json_t *want = J("[\"voice\",\"chat\"]");
    assert_true(json_equal(json_object_get(w->ops[0].result, "channels"), want));
    json_decref(want);
    blend_write_destroy(w);

    int64_t seq = blend_store_last_seq(t.s);
    json_t *audit = NULL;
    int64_t next = 0;
    assert_int_equal(blend_store_audit_list(t.s, 0, 100, &audit, &next), 0);
    size_t audits = json_array_size(audit);
    assert_int_equal(audits, 1);
    json_decref(audit);

    w = one_op(t.s, BLEND_OP_UPSERT, &blend_res_queues, 0, 0, J(doc), "cli");
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].changed, 0);
    assert_int_equal(w->ops[0].id_out, id);
    assert_int_equal(w->ops[0].version_out, 1);
    assert_int_equal(w->first_seq, 0);
    blend_write_destroy(w);
    assert_int_equal(blend_store_last_seq(t.s), seq);
    assert_int_equal(blend_store_audit_list(t.s, 0, 100, &audit, &next), 0);
    assert_int_equal(json_array_size(audit), audits);
    json_decref(audit);

    /* A different child list is a change. */
    w = one_op(t.s, BLEND_OP_UPSERT, &blend_res_queues, 0, 0,
               J("{\"name\":\"q1\",\"skills\":[{\"skill\":\"a\",\"min_proficiency\":3}]}"), "cli");
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].changed, 1);
    assert_int_equal(w->ops[0].version_out, 2);
    assert_int_equal(w->first_seq, seq + 1);
    blend_write_destroy(w);
    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, seq, 10, &events), 0);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(str_at(json_array_get(events, 0), "type"), "queues.updated");
    assert_string_equal(str_at(json_array_get(events, 0), "actor"), "cli");
    json_decref(events);
    /* A resource without a key cannot be upserted. */
    assert_int_equal(run1(t.s, BLEND_OP_UPSERT, &blend_res_contacts, 0, J("{}"), NULL),
                     BLEND_EINVAL);
    tenv_deinit(&t);
    check_no_leak();
}

static void events_gapless_and_atomic(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    int64_t seq = blend_store_last_seq(t.s);
    assert_int_equal(seq, 1);

    /* Two ops; the second fails: the first is undone with it and no event is appended. */
    struct blend_write *w = blend_write_create();
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"b\"}")));
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"a\"}")));
    assert_int_equal(blend_store_write_sync(t.s, w), BLEND_EEXIST);
    assert_int_equal(w->failed_op, 1);
    assert_int_equal(w->first_seq, 0);
    assert_null(w->ops[0].result);
    blend_write_destroy(w);
    assert_int_equal(blend_store_last_seq(t.s), seq);
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "b", 0, &doc), BLEND_ENOENT);

    /* A write of several ops appends consecutive events. */
    w = blend_write_create();
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"c\"}")));
    struct blend_write_op *op =
        blend_write_add(w, BLEND_OP_EVENT, NULL, J("{\"state\":\"ready\"}"));
    snprintf(op->event_type, sizeof op->event_type, "agent.state");
    snprintf(op->subject, sizeof op->subject, "agents/3");
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"d\"}")));
    assert_int_equal(blend_store_write_sync(t.s, w), 0);
    assert_int_equal(w->first_seq, seq + 1);
    assert_int_equal(w->last_seq, seq + 3);
    blend_write_destroy(w);

    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, 0, 100, &events), 0);
    assert_int_equal(json_array_size(events), 4);
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        assert_int_equal(json_integer_value(json_object_get(e, "seq")), (json_int_t)i + 1);
        assert_non_null(strstr(str_at(e, "ts"), "Z"));
    }
    json_t *e = json_array_get(events, 2);
    assert_string_equal(str_at(e, "type"), "agent.state");
    assert_string_equal(str_at(json_object_get(e, "data"), "state"), "ready");
    assert_string_equal(str_at(json_array_get(events, 1), "type"), "skills.created");
    assert_string_equal(str_at(json_object_get(json_array_get(events, 1), "data"), "name"), "c");
    json_decref(events);
    assert_int_equal(blend_store_events(t.s, 3, 100, &events), 0);
    assert_int_equal(json_array_size(events), 1);
    json_decref(events);
    assert_int_equal(blend_store_events(t.s, 0, 0, &events), BLEND_EINVAL);
    assert_int_equal(blend_store_events(t.s, 0, 4097, &events), BLEND_EINVAL);
    assert_int_equal(blend_store_events(t.s, 0, 1024, &events), 0); /* start-up replay pages */
    assert_int_equal(json_array_size(events), 4);
    json_decref(events);

    /* An event without a type is refused. */
    w = blend_write_create();
    op = blend_write_add(w, BLEND_OP_EVENT, NULL, NULL);
    assert_int_equal(blend_store_write_sync(t.s, w), BLEND_EINVAL);
    blend_write_destroy(w);
    tenv_deinit(&t);
    check_no_leak();
}

static void secrets_are_redacted(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t user = create(t.s, &blend_res_users,
                          "{\"username\":\"ann\",\"role\":\"admin\",\"password\":\"ignored!!\","
                          "\"password_hash\":\"$argon2id$x\",\"failed_logins\":2}");
    int64_t agent =
        create(t.s, &blend_res_agents, "{\"name\":\"ann\",\"sip_password\":\"s3cret-pw\"}");
    json_t *doc = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_users, user, 0, &doc), 0);
    assert_null(json_object_get(doc, "password_hash"));
    assert_null(json_object_get(doc, "failed_logins"));
    assert_null(json_object_get(doc, "password"));
    assert_string_equal(str_at(doc, "language"), "en");
    json_decref(doc);
    assert_int_equal(blend_store_find(t.s, &blend_res_users, "username", "ann", 1, &doc), 0);
    assert_string_equal(str_at(doc, "password_hash"), "$argon2id$x");
    assert_int_equal(json_integer_value(json_object_get(doc, "failed_logins")), 2);
    assert_null(json_object_get(doc, "password")); /* input only: never stored */
    json_decref(doc);
    assert_int_equal(blend_store_get(t.s, &blend_res_agents, agent, 1, &doc), 0);
    assert_string_equal(str_at(doc, "sip_password"), "s3cret-pw");
    json_decref(doc);

    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, 0, 10, &events), 0);
    assert_int_equal(json_array_size(events), 2);
    char *text = json_dumps(events, 0);
    assert_null(strstr(text, "argon2id"));
    assert_null(strstr(text, "s3cret"));
    blend_free(text);
    json_decref(events);
    tenv_deinit(&t);
    check_no_leak();
}

static void audit_entries(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    struct blend_write *w =
        one_op(t.s, BLEND_OP_CREATE, &blend_res_contacts, 0, 0,
               J("{\"name\":\"Kim\",\"attributes\":{\"tier\":\"gold\"}}"), "admin");
    assert_int_equal(w->rc, 0);
    int64_t contact = w->ops[0].id_out;
    blend_write_destroy(w);
    /* No actor: no audit entry. */
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    assert_int_equal(
        blend_store_audit_read(t.s, 7, "admin", "api 127.0.0.1", "contacts", contact, NULL), 0);
    /* Writes are committed in order: once this one is durable, so is the audit entry. */
    w = one_op(t.s, BLEND_OP_DELETE, &blend_res_contacts, contact, 0, NULL, "admin");
    assert_int_equal(w->rc, 0);
    blend_write_destroy(w);
    assert_int_equal(blend_store_dispatch(t.s), 1);

    json_t *items = NULL;
    int64_t next = 0;
    assert_int_equal(blend_store_audit_list(t.s, 0, 2, &items, &next), 0);
    assert_int_equal(json_array_size(items), 2);
    json_t *a = json_array_get(items, 0);
    assert_string_equal(str_at(a, "action"), "create");
    assert_string_equal(str_at(a, "resource"), "contacts");
    assert_int_equal(json_integer_value(json_object_get(a, "resource_id")), contact);
    /* The detail names fields, never their (personal) values. */
    char *text = json_dumps(a, 0);
    assert_null(strstr(text, "Kim"));
    blend_free(text);
    a = json_array_get(items, 1);
    assert_string_equal(str_at(a, "action"), "read");
    assert_int_equal(json_integer_value(json_object_get(a, "actor_id")), 7);
    assert_string_equal(str_at(a, "source"), "api 127.0.0.1");
    assert_int_not_equal(next, 0);
    json_decref(items);
    assert_int_equal(blend_store_audit_list(t.s, next, 10, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str_at(json_array_get(items, 0), "action"), "delete");
    assert_int_equal(next, 0);
    json_decref(items);
    tenv_deinit(&t);
    check_no_leak();
}

/* BLEND_OP_AUDIT is public: a write may carry audit entries of its own, checked like events,
 * and atomic with the rest of the write. The detail of a change names the fields. */
static void audit_ops_and_details(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t id = 0;
    struct blend_write *w = blend_write_create();
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills,
                                    J("{\"name\":\"a\",\"description\":\"x\"}")));
    struct blend_write_op *op = blend_write_add(w, BLEND_OP_AUDIT, NULL, J("{\"why\":\"test\"}"));
    assert_non_null(op);
    snprintf(op->event_type, sizeof op->event_type, "export");
    snprintf(op->subject, sizeof op->subject, "skills");
    op->id = 42;
    w->actor_id = 3;
    snprintf(w->actor, sizeof w->actor, "admin");
    assert_int_equal(blend_store_write_sync(t.s, w), 0);
    assert_int_equal(w->first_seq, w->last_seq); /* the audit op appended no event */
    id = w->ops[0].id_out;
    blend_write_destroy(w);

    /* An audit op without an action fails its write: the create beside it is undone. */
    w = blend_write_create();
    assert_non_null(blend_write_add(w, BLEND_OP_CREATE, &blend_res_skills, J("{\"name\":\"b\"}")));
    op = blend_write_add(w, BLEND_OP_AUDIT, NULL, NULL);
    snprintf(op->subject, sizeof op->subject, "skills");
    assert_int_equal(blend_store_write_sync(t.s, w), BLEND_EINVAL);
    assert_int_equal(w->failed_op, 1);
    blend_write_destroy(w);
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(t.s, &blend_res_skills, "name", "b", 0, &doc), BLEND_ENOENT);
    assert_int_equal(blend_store_audit_read(t.s, 1, "admin", "", "", 1, NULL), BLEND_EINVAL);

    /* Update: only the changed fields; delete: no detail. */
    w = one_op(t.s, BLEND_OP_UPDATE, &blend_res_skills, id, 0,
               J("{\"name\":\"a\",\"description\":\"y\"}"), "admin");
    assert_int_equal(w->rc, 0);
    blend_write_destroy(w);
    w = one_op(t.s, BLEND_OP_DELETE, &blend_res_skills, id, 0, NULL, "admin");
    assert_int_equal(w->rc, 0);
    blend_write_destroy(w);

    json_t *items = NULL;
    int64_t next = 0;
    assert_int_equal(blend_store_audit_list(t.s, 0, 10, &items, &next), 0);
    assert_int_equal(json_array_size(items), 4);
    json_t *want = J("{\"fields\":[\"name\",\"description\"]}");
    assert_true(json_equal(json_object_get(json_array_get(items, 0), "detail"), want));
    json_decref(want);
    json_t *a = json_array_get(items, 1);
    assert_string_equal(str_at(a, "action"), "export");
    assert_string_equal(str_at(a, "resource"), "skills");
    assert_int_equal(json_integer_value(json_object_get(a, "resource_id")), 42);
    assert_int_equal(json_integer_value(json_object_get(a, "actor_id")), 3);
    assert_string_equal(str_at(json_object_get(a, "detail"), "why"), "test");
    want = J("{\"fields\":[\"description\"]}");
    a = json_array_get(items, 2);
    assert_string_equal(str_at(a, "action"), "update");
    assert_true(json_equal(json_object_get(a, "detail"), want));
    json_decref(want);
    a = json_array_get(items, 3);
    assert_string_equal(str_at(a, "action"), "delete");
    assert_true(json_is_null(json_object_get(a, "detail")));
    json_decref(items);
    tenv_deinit(&t);
    check_no_leak();
}

/* Deleting a user deletes its tokens (their foreign key cascades), while a restricting reference
 * (an agent) still refuses the delete and leaves the tokens in place. */
static void delete_cascades_to_tokens(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t ann = create(t.s, &blend_res_users, "{\"username\":\"ann\",\"role\":\"agent\"}");
    create(t.s, &blend_res_users, "{\"username\":\"bob\",\"role\":\"agent\"}");
    int64_t tok[3];
    tok[0] = create(t.s, &blend_res_api_tokens,
                    "{\"user\":\"ann\",\"kind\":\"session\",\"token_hash\":\"aa01\"}");
    tok[1] = create(t.s, &blend_res_api_tokens,
                    "{\"user\":\"ann\",\"kind\":\"api\",\"name\":\"ci\",\"token_hash\":\"aa02\"}");
    tok[2] = create(t.s, &blend_res_api_tokens,
                    "{\"user\":\"bob\",\"kind\":\"session\",\"token_hash\":\"bb01\"}");
    int64_t agent = create(t.s, &blend_res_agents, "{\"name\":\"ann\",\"user\":\"ann\"}");

    struct blend_write *w = one_op(t.s, BLEND_OP_DELETE, &blend_res_users, ann, 0, NULL, NULL);
    assert_int_equal(w->rc, BLEND_ECONFLICT);
    assert_non_null(strstr(w->ops[0].error_detail, "agents"));
    assert_null(strstr(w->ops[0].error_detail, "api_tokens"));
    blend_write_destroy(w);
    json_t *doc = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_api_tokens, tok[0], 0, &doc), 0);
    json_decref(doc);

    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_agents, agent, NULL, NULL), 0);
    int64_t seq = blend_store_last_seq(t.s);
    w = one_op(t.s, BLEND_OP_DELETE, &blend_res_users, ann, 1, NULL, "admin");
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops[0].id_out, ann);
    blend_write_destroy(w);
    assert_int_equal(blend_store_get(t.s, &blend_res_users, ann, 0, &doc), BLEND_ENOENT);
    assert_int_equal(blend_store_get(t.s, &blend_res_api_tokens, tok[0], 0, &doc), BLEND_ENOENT);
    assert_int_equal(blend_store_get(t.s, &blend_res_api_tokens, tok[1], 0, &doc), BLEND_ENOENT);
    assert_int_equal(blend_store_find(t.s, &blend_res_api_tokens, "token_hash", "aa02", 1, &doc),
                     BLEND_ENOENT);
    /* Another user's token stays. */
    assert_int_equal(blend_store_get(t.s, &blend_res_api_tokens, tok[2], 0, &doc), 0);
    assert_string_equal(str_at(doc, "user"), "bob");
    json_decref(doc);
    json_t *events = NULL;
    assert_int_equal(blend_store_events(t.s, seq, 10, &events), 0);
    assert_int_equal(json_array_size(events), 1);
    assert_string_equal(str_at(json_array_get(events, 0), "type"), "users.deleted");
    json_decref(events);
    tenv_deinit(&t);
    check_no_leak();
}

/* Descriptors for refusals that happen before any SQL: their tables do not exist, so a match
 * that got as far as the database would fail with BLEND_EIO instead of BLEND_EINVAL. */
static const char *const part_tags[] = {"a", "b", NULL};
static const struct blend_field part_fields[] = {
    {.name = "label", .column = "label", .type = BLEND_FT_STRING, .max = 64},
    {.name = "count", .column = "count", .type = BLEND_FT_INT, .max = 9},
    {.name = "flag", .column = "flag", .type = BLEND_FT_BOOL},
    {.name = "secret", .column = "secret", .type = BLEND_FT_STRING, .flags = BLEND_FF_WRITE_ONLY},
    {.name = "tags", .column = "tags", .type = BLEND_FT_SET, .values = part_tags},
    {.name = "meta", .column = "meta", .type = BLEND_FT_JSON},
    {.name = "skill", .column = "skill_id", .type = BLEND_FT_REF, .ref = &blend_res_skills},
    {.name = "input", .column = NULL, .type = BLEND_FT_STRING},
};
static const struct blend_resource res_parts = {
    .name = "parts",
    .singular = "part",
    .table = "parts",
    .parent_column = "widget_id",
    .fields = part_fields,
    .fields_count = sizeof part_fields / sizeof part_fields[0],
};
static const struct blend_field widget_fields[] = {
    {.name = "name", .column = "name", .type = BLEND_FT_STRING, .max = 64},
    {.name = "parts", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_parts},
};
static const struct blend_resource res_widgets = {
    .name = "widgets",
    .singular = "widget",
    .table = "widgets",
    .fields = widget_fields,
    .fields_count = sizeof widget_fields / sizeof widget_fields[0],
    .is_versioned = 1,
};

static int find_child(struct blend_store *s, const struct blend_resource *res, const char *field,
                      const char *match, json_t **doc_out)
{
    json_t *m = J(match);
    int rc = blend_store_find_by_child(s, res, field, m, 0, doc_out);
    json_decref(m);
    return rc;
}

static int64_t found_id(struct blend_store *s, const struct blend_resource *res, const char *field,
                        const char *match)
{
    json_t *doc = NULL;
    int rc = find_child(s, res, field, match, &doc);
    if (rc != 0) {
        fail_msg("find %s by %s %s: %s", res->name, field, match, blend_errname(rc));
    }
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    return id;
}

static void find_by_child(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t kim =
        create(t.s, &blend_res_contacts,
               "{\"name\":\"Kim\",\"identities\":[{\"kind\":\"email\",\"value\":\"k@x.kr\"},"
               "{\"kind\":\"phone\",\"value\":\"+821012345678\"}]}");
    int64_t lee =
        create(t.s, &blend_res_contacts,
               "{\"name\":\"Lee\",\"identities\":[{\"kind\":\"phone\",\"value\":\"+8220\"},"
               "{\"kind\":\"sms\",\"value\":\"+821012345678\"}]}");
    create(t.s, &blend_res_contacts, "{\"name\":\"Park\"}");

    json_t *doc = NULL;
    assert_int_equal(find_child(t.s, &blend_res_contacts, "identities",
                                "{\"kind\":\"phone\",\"value\":\"+821012345678\"}", &doc),
                     0);
    assert_int_equal(json_integer_value(json_object_get(doc, "id")), kim);
    assert_string_equal(str_at(doc, "name"), "Kim");
    assert_int_equal(json_array_size(json_object_get(doc, "identities")), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    json_decref(doc);
    /* Every member must hold on the same child row: Kim's phone value with Lee's kind. */
    assert_int_equal(found_id(t.s, &blend_res_contacts, "identities",
                              "{\"value\":\"+821012345678\",\"kind\":"
                              "\"sms\"}"),
                     lee);
    assert_int_equal(find_child(t.s, &blend_res_contacts, "identities",
                                "{\"kind\":\"email\",\"value\":\"+8220\"}", &doc),
                     BLEND_ENOENT);
    assert_int_equal(found_id(t.s, &blend_res_contacts, "identities", "{\"value\":\"+8220\"}"),
                     lee);
    /* Several parents match: the lowest id. */
    assert_int_equal(found_id(t.s, &blend_res_contacts, "identities", "{\"kind\":\"phone\"}"), kim);
    assert_int_equal(
        found_id(t.s, &blend_res_contacts, "identities", "{\"value\":\"+821012345678\"}"), kim);
    /* Values are bound, never spliced into the SQL. */
    assert_int_equal(
        find_child(t.s, &blend_res_contacts, "identities", "{\"value\":\"x' OR 1=1 --\"}", &doc),
        BLEND_ENOENT);

    /* Replaced identities are found by their new values only; a deleted contact not at all. */
    assert_int_equal(run1(t.s, BLEND_OP_UPDATE, &blend_res_contacts, kim,
                          J("{\"identities\":[{\"kind\":\"chat\",\"value\":\"kim-1\"}]}"), NULL),
                     0);
    assert_int_equal(find_child(t.s, &blend_res_contacts, "identities",
                                "{\"kind\":\"phone\",\"value\":\"+821012345678\"}", &doc),
                     BLEND_ENOENT);
    assert_int_equal(found_id(t.s, &blend_res_contacts, "identities", "{\"kind\":\"phone\"}"), lee);
    assert_int_equal(found_id(t.s, &blend_res_contacts, "identities", "{\"value\":\"kim-1\"}"),
                     kim);
    assert_int_equal(run1(t.s, BLEND_OP_DELETE, &blend_res_contacts, kim, NULL, NULL), 0);
    assert_int_equal(
        find_child(t.s, &blend_res_contacts, "identities", "{\"value\":\"kim-1\"}", &doc),
        BLEND_ENOENT);

    /* Integer and time fields of other children; include_internal shows the secrets. */
    create(t.s, &blend_res_skills, "{\"name\":\"s1\"}");
    int64_t agent = create(t.s, &blend_res_agents,
                           "{\"name\":\"ann\",\"sip_password\":\"s3cret-pw\","
                           "\"skills\":[{\"skill\":\"s1\",\"proficiency\":7}]}");
    assert_int_equal(found_id(t.s, &blend_res_agents, "skills", "{\"proficiency\":7}"), agent);
    assert_int_equal(find_child(t.s, &blend_res_agents, "skills", "{\"proficiency\":6}", &doc),
                     BLEND_ENOENT);
    json_t *m = J("{\"proficiency\":7}");
    assert_int_equal(blend_store_find_by_child(t.s, &blend_res_agents, "skills", m, 1, &doc), 0);
    assert_string_equal(str_at(doc, "sip_password"), "s3cret-pw");
    json_decref(doc);
    assert_int_equal(blend_store_find_by_child(t.s, &blend_res_agents, "skills", m, 0, &doc), 0);
    assert_null(json_object_get(doc, "sip_password"));
    json_decref(doc);
    json_decref(m);
    int64_t cal = create(t.s, &blend_res_calendars,
                         "{\"name\":\"seoul\",\"time_zone\":\"Asia/Seoul\",\"hours\":[{\"day\":"
                         "\"mon\",\"open\":\"09:00\",\"close\":\"18:00\"}]}");
    assert_int_equal(
        found_id(t.s, &blend_res_calendars, "hours", "{\"day\":\"mon\",\"open\":\"09:00\"}"), cal);

    /* Refusals. */
    const char *field_refused[] = {"nope", "name", NULL};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(
            find_child(t.s, &blend_res_contacts, field_refused[i], "{\"kind\":\"phone\"}", &doc),
            BLEND_EINVAL);
    }
    const char *match_refused[] = {"{}",
                                   "[]",
                                   "\"phone\"",
                                   "{\"nope\":\"x\"}",
                                   "{\"kind\":1}",
                                   "{\"kind\":null}",
                                   "{\"kind\":\"phone\",\"value\":[\"x\"]}",
                                   "{\"value\\\" OR 1=1 --\":\"x\"}"};
    for (size_t i = 0; i < sizeof match_refused / sizeof match_refused[0]; i++) {
        json_t *mr = json_loads(match_refused[i], JSON_DECODE_ANY, NULL);
        assert_non_null(mr);
        assert_int_equal(
            blend_store_find_by_child(t.s, &blend_res_contacts, "identities", mr, 0, &doc),
            BLEND_EINVAL);
        json_decref(mr);
    }
    assert_int_equal(find_child(t.s, &blend_res_agents, "skills", "{\"skill\":\"s1\"}", &doc),
                     BLEND_EINVAL);
    assert_int_equal(find_child(t.s, &blend_res_agents, "skills", "{\"proficiency\":\"7\"}", &doc),
                     BLEND_EINVAL);
    const char *part_refused[] = {
        "{\"secret\":\"x\"}", "{\"tags\":\"a\"}",  "{\"meta\":\"{}\"}",
        "{\"skill\":\"s1\"}", "{\"input\":\"x\"}", "{\"flag\":\"true\"}",
        "{\"flag\":1}",       "{\"count\":true}",  "{\"label\":\"x\",\"secret\":\"y\"}"};
    for (size_t i = 0; i < sizeof part_refused / sizeof part_refused[0]; i++) {
        assert_int_equal(find_child(t.s, &res_widgets, "parts", part_refused[i], &doc),
                         BLEND_EINVAL);
    }
    /* Control: accepted members reach the database (which has no such table). */
    assert_int_equal(find_child(t.s, &res_widgets, "parts",
                                "{\"label\":\"x\",\"count\":1,\"flag\":false}", &doc),
                     BLEND_EIO);
    tenv_deinit(&t);
    check_no_leak();
}

/* A timeline page: rows of several parents newest first by (created_at, id), keyset-paged, and
 * refused arguments. */
static void list_newest(void **state)
{
    (void)state;
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    int64_t kim = create(t.s, &blend_res_contacts, "{\"name\":\"Kim\"}");
    int64_t lee = create(t.s, &blend_res_contacts, "{\"name\":\"Lee\"}");
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        char doc[96];
        snprintf(doc, sizeof doc, "{\"channel\":\"chat\",\"direction\":\"inbound\",\"contact\":%d}",
                 (int)(i == 3 ? lee : kim));
        ids[i] = create(t.s, &blend_res_interactions, doc);
    }
    int64_t both[2] = {kim, lee};
    json_t *items = NULL;
    int more = 0;
    int64_t want[] = {ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]};
    size_t seen = 0;
    char before[40] = "";
    int64_t before_id = 0;
    do {
        assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "contact", both, 2,
                                                 seen ? before : NULL, before_id, 3, &items,
                                                 &more),
                         0);
        for (size_t i = 0; i < json_array_size(items); i++) {
            const json_t *row = json_array_get(items, i);
            assert_true(seen < 7);
            assert_int_equal(json_integer_value(json_object_get(row, "id")), want[seen++]);
            snprintf(before, sizeof before, "%s", str_at(row, "created_at"));
            before_id = json_integer_value(json_object_get(row, "id"));
        }
        assert_int_equal(more, seen < 7);
        json_decref(items);
    } while (more);
    assert_int_equal(seen, 7);
    /* One parent only: Lee's single interaction. */
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "contact", &lee, 1,
                                             NULL, 0, 10, &items, &more),
                     0);
    assert_int_equal(json_array_size(items), 1);
    assert_int_equal(more, 0);
    json_decref(items);
    /* Refused: a field that is not an id, no values, too many, a bad limit. */
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "channel", &lee, 1,
                                             NULL, 0, 10, &items, &more),
                     BLEND_EINVAL);
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "queue", &lee, 1,
                                             NULL, 0, 10, &items, &more),
                     BLEND_EINVAL);
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "contact", &lee, 0,
                                             NULL, 0, 10, &items, &more),
                     BLEND_EINVAL);
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "contact", &lee,
                                             BLEND_STORE_IN_VALUES_MAX + 1, NULL, 0, 10, &items,
                                             &more),
                     BLEND_EINVAL);
    assert_int_equal(blend_store_list_newest(t.s, &blend_res_interactions, "contact", &lee, 1,
                                             NULL, 0, 0, &items, &more),
                     BLEND_EINVAL);
    tenv_deinit(&t);
    check_no_leak();
}

/* Fills the descriptor defaults into doc (what validation does on create). */
static void fill_defaults(const struct blend_resource *res, json_t *doc)
{
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->default_json && !json_object_get(doc, f->name) && !strchr(f->name, '.')) {
            /* Defaults may be scalars ("0", "\"new\""). */
            json_object_set_new(doc, f->name, json_loads(f->default_json, JSON_DECODE_ANY, NULL));
        }
    }
}

/* Every resource is created with all its fields given and read back equal: the descriptors and
 * the schema agree column for column. */
static void every_resource_round_trips(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    static const char *docs[] = {
        "{\"username\":\"ann\",\"display_name\":\"Ann\",\"role\":\"supervisor\","
        "\"password_hash\":\"h\",\"language\":\"ko\",\"disabled\":true,\"failed_logins\":1,"
        "\"locked_until\":5}",
        "{\"user\":\"ann\",\"kind\":\"api\",\"name\":\"ci\",\"token_hash\":\"abc123\","
        "\"prefix\":\"bl_ab\",\"expires_at\":100,\"last_used_at\":50}",
        "{\"name\":\"sales\",\"description\":\"Sales\"}",
        "{\"name\":\"ann\",\"display_name\":\"Ann\",\"user\":\"ann\",\"extension\":\"1001\","
        "\"sip_password\":\"abcdefgh\",\"skills\":[{\"skill\":\"sales\",\"proficiency\":9}],"
        "\"capacity\":{\"voice\":0,\"chat\":2,\"email\":9,\"sms\":1,\"social\":0},"
        "\"voice_exclusive\":false,\"enabled\":false}",
        "{\"name\":\"seoul\",\"time_zone\":\"Asia/Seoul\",\"hours\":[{\"day\":\"mon\","
        "\"open\":\"09:00\",\"close\":\"18:00\"}],\"holidays\":[{\"date\":\"2026-12-25\","
        "\"name\":\"Xmas\",\"open\":null,\"close\":null},{\"date\":\"2026-12-31\",\"name\":\"Eve\","
        "\"open\":\"09:00\",\"close\":\"12:00\"}]}",
        "{\"name\":\"q1\",\"display_name\":\"Q\",\"channels\":[\"chat\",\"email\"],"
        "\"skills\":[{\"skill\":\"sales\",\"min_proficiency\":4}],\"priority\":9,"
        "\"strategy\":\"ring-all\",\"sla_percent\":90,\"sla_seconds\":30,\"wrap_up_s\":10,"
        "\"offer_timeout_s\":15,\"max_no_answer\":2,\"max_wait_s\":600,"
        "\"overflow_action\":\"queue\",\"overflow_queue\":null,\"calendar\":\"seoul\","
        "\"short_abandon_s\":3,\"acceleration_per_min\":2,\"max_priority\":50,"
        "\"reoffer_delay_s\":10,\"sticky_s\":0,\"sticky_fallback\":\"round-robin\","
        "\"recording\":\"always\","
        "\"relax\":[{\"after_s\":30,\"skills\":{\"sales\":1},\"add_queue_agents\":null}]}",
        "{\"name\":\"main\",\"description\":\"Main line\",\"language\":\"ko\","
        "\"start\":\"bye\",\"nodes\":{\"bye\":{\"type\":\"hangup\"}}}",
        "{\"name\":\"web\",\"channel\":\"chat\",\"address\":\"widget-1\",\"queue\":\"q1\","
        "\"flow\":\"main\",\"calendar\":\"seoul\",\"enabled\":true}",
        "{\"name\":\"Kim\",\"language\":\"zh\",\"time_zone\":\"UTC\",\"attributes\":{\"a\":[1,2]},"
        "\"do_not_call\":true,\"consent\":{\"recording\":false,\"marketing\":true,\"sms\":true},"
        "\"identities\":[{\"kind\":\"sms\",\"value\":\"+821012345678\"}]}",
        "{\"channel\":\"chat\",\"direction\":\"outbound\",\"state\":\"queued\",\"queue\":\"q1\","
        "\"contact\":1,\"agent\":\"ann\",\"priority\":5,\"ended_at\":null,"
        "\"disposition\":\"sold\",\"notes\":\"n\",\"address\":\"+8210\",\"language\":\"zh\","
        "\"kind\":\"callback\"}",
        "{\"interaction\":1,\"direction\":\"inbound\",\"author\":\"Kim\",\"body\":\"hi\"}",
        "{\"interaction\":1,\"file\":\"1-1795.wav\",\"duration_ms\":2013,\"bytes\":64452,"
        "\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
        "\"paused\":{\"spans\":[{\"start_ms\":800,\"end_ms\":1300}],\"count\":1},"
        "\"state\":\"complete\"}",
        "{\"name\":\"greeting\",\"title\":\"인사\",\"body\":\"안녕하세요 {customer_name}님\","
        "\"language\":\"ko-KR\",\"channels\":[\"chat\",\"sms\"],\"queues\":[{\"queue\":\"q1\"}]}",
    };
    for (size_t r = 0; blend_resources[r]; r++) {
        assert_true(r < sizeof docs / sizeof docs[0]);
        const struct blend_resource *res = blend_resources[r];
        json_t *doc = J(docs[r]);
        fill_defaults(res, doc);
        int64_t id = 0;
        json_t *copy = json_deep_copy(doc);
        int rc = run1(t.s, BLEND_OP_CREATE, res, 0, copy, &id);
        if (rc != 0) {
            fail_msg("create %s: %s", res->name, blend_errname(rc));
        }
        json_t *got = NULL;
        assert_int_equal(blend_store_get(t.s, res, id, 1, &got), 0);
        const char *key;
        json_t *v;
        json_object_foreach(doc, key, v)
        {
            if (!json_equal(json_object_get(got, key), v)) {
                char *g = json_dumps(got, 0);
                fail_msg("%s.%s differs: %s", res->name, key, g);
            }
        }
        json_decref(got);
        json_decref(doc);
    }
    /* A message body longer than the default string limit is stored whole. */
    char *body = blend_malloc(20001);
    memset(body, 'x', 20000);
    body[20000] = '\0';
    json_t *m = J("{\"interaction\":1,\"direction\":\"outbound\"}");
    json_object_set_new(m, "body", json_string(body));
    int64_t id = 0;
    assert_int_equal(run1(t.s, BLEND_OP_CREATE, &blend_res_messages, 0, m, &id), 0);
    json_t *got = NULL;
    assert_int_equal(blend_store_get(t.s, &blend_res_messages, id, 0, &got), 0);
    assert_string_equal(str_at(got, "body"), body);
    json_decref(got);
    blend_free(body);
    /* Filters by type: SET membership, REF by key, BOOL. */
    struct blend_list_query q = {.limit = 10, .filter_field = "channels", .filter_value = "email"};
    json_t *items = NULL;
    int64_t next = 0;
    assert_int_equal(blend_store_list(t.s, &blend_res_queues, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    q.filter_value = "voice";
    assert_int_equal(blend_store_list(t.s, &blend_res_queues, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    q = (struct blend_list_query){.limit = 10, .filter_field = "user", .filter_value = "ann"};
    assert_int_equal(blend_store_list(t.s, &blend_res_api_tokens, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    assert_null(json_object_get(json_array_get(items, 0), "token_hash"));
    json_decref(items);
    q.filter_value = "nobody";
    assert_int_equal(blend_store_list(t.s, &blend_res_api_tokens, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 0);
    json_decref(items);
    q = (struct blend_list_query){.limit = 10, .filter_field = "token_hash", .filter_value = "a"};
    assert_int_equal(blend_store_list(t.s, &blend_res_api_tokens, &q, &items, &next), BLEND_EINVAL);
    q = (struct blend_list_query){.limit = 10, .filter_field = "disabled", .filter_value = "true"};
    assert_int_equal(blend_store_list(t.s, &blend_res_users, &q, &items, &next), 0);
    assert_int_equal(json_array_size(items), 1);
    json_decref(items);
    /* Token lookup by its hash (an INTERNAL unique field). */
    assert_int_equal(blend_store_find(t.s, &blend_res_api_tokens, "token_hash", "abc123", 1, &got),
                     0);
    assert_string_equal(str_at(got, "user"), "ann");
    json_decref(got);
    tenv_deinit(&t);
    check_no_leak();
}

/* Every allocation of a write, failed in turn: the write fails cleanly (nothing stored, no
 * event) or succeeds, and nothing leaks. */
static void allocation_failures_are_clean(void **state)
{
    struct tenv t;
    tenv_init(&t);
    tenv_open(&t);
    create(t.s, &blend_res_skills, "{\"name\":\"a\"}");
    int succeeded = 0, failures = 0;
    for (long n = 1; n < 2000 && !succeeded; n++) {
        struct blend_write *w = blend_write_create();
        assert_non_null(blend_write_add(w, BLEND_OP_UPSERT, &blend_res_agents,
                                        J("{\"name\":\"x\",\"capacity\":{\"chat\":2},"
                                          "\"skills\":[{\"skill\":\"a\",\"proficiency\":3}]}")));
        snprintf(w->actor, sizeof w->actor, "admin");
        int64_t seq = blend_store_last_seq(t.s);
        blend_alloc_fail_nth(n);
        int rc = blend_store_write_sync(t.s, w);
        blend_alloc_fail_nth(0);
        if (rc == 0) {
            succeeded = 1;
            assert_int_equal(w->ops[0].changed, 1);
            assert_non_null(w->ops[0].result);
            assert_int_equal(blend_store_last_seq(t.s), seq + 1);
        } else {
            assert_int_equal(rc, BLEND_ENOMEM);
            failures++;
            assert_null(w->ops[0].result);
            assert_int_equal(blend_store_last_seq(t.s), seq);
        }
        blend_write_destroy(w);
    }
    assert_true(succeeded);
    assert_true(failures > 20); /* the loop did reach the writer's allocations */
    printf("allocation failures injected: %d\n", failures);
    tenv_deinit(&t);
    check_no_leak();
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crud_and_pagination),
        cmocka_unit_test(patch_with_and_without_version),
        cmocka_unit_test(delete_restricted_by_references),
        cmocka_unit_test(children_replaced_and_nested_fields),
        cmocka_unit_test(ref_resolution_errors),
        cmocka_unit_test(unique_violations_name_the_field),
        cmocka_unit_test(upsert_is_idempotent),
        cmocka_unit_test(events_gapless_and_atomic),
        cmocka_unit_test(secrets_are_redacted),
        cmocka_unit_test(audit_entries),
        cmocka_unit_test(audit_ops_and_details),
        cmocka_unit_test(delete_cascades_to_tokens),
        cmocka_unit_test(find_by_child),
        cmocka_unit_test(list_newest),
        cmocka_unit_test(every_resource_round_trips),
        cmocka_unit_test(allocation_failures_are_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
