/*
 * Tests for provisioning documents: parse errors with exact absolute paths, duplicate and
 * unknown keys, overflow ordering and cycle refusal, and the ops the build produces (order,
 * kinds, the user password rules and contacts), without a store: the lookups are fakes.
 */
#include "base/alloc.h"
#include "provision/provision.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* ---- Helpers ------------------------------------------------------------------------------ */

static int parse(const char *text, struct blend_provision **p, struct blend_provision_errors *errs)
{
    *p = NULL;
    return blend_provision_parse(text, strlen(text), "test.json", p, errs);
}

static void dump(const struct blend_provision_errors *errs)
{
    char out[8192];
    blend_provision_errors_format(errs, out, sizeof out);
    print_message("%s", out);
}

static void assert_error(const struct blend_provision_errors *errs, const char *path,
                         const char *message_part)
{
    for (size_t i = 0; i < errs->count; i++) {
        if (strcmp(errs->items[i].path, path) == 0 &&
            strstr(errs->items[i].message, message_part)) {
            return;
        }
    }
    dump(errs);
    fail_msg("missing error %s: %s", path, message_part);
}

/* Parses text expecting failure with exactly `total` errors, one of them (path, message). */
static void expect_errors(const char *text, int rc_want, size_t total, const char *path,
                          const char *message_part)
{
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse(text, &p, &errs), rc_want);
    assert_null(p);
    assert_error(&errs, path, message_part);
    if (errs.count_total != total) {
        dump(&errs);
    }
    assert_int_equal(errs.count_total, total);
    assert_int_equal(blend_alloc_live(), 0);
}

/* Fake environment: users in `existing` exist; each hash is distinct, as with a random salt. */
struct fake_env {
    const char *const *existing;
    const char *const *identities; /* "kind:value" that exist */
    int hashes;
    int lookups;
    int fail_lookup;
};

static int fake_hash(const char *clear, char *out, size_t outlen, void *arg)
{
    struct fake_env *e = arg;
    snprintf(out, outlen, "hash-%d-%s", ++e->hashes, clear);
    return 0;
}

static int fake_user_exists(const char *username, void *arg)
{
    struct fake_env *e = arg;
    e->lookups++;
    if (e->fail_lookup) {
        return BLEND_EIO;
    }
    for (size_t i = 0; e->existing && e->existing[i]; i++) {
        if (strcmp(e->existing[i], username) == 0) {
            return 1;
        }
    }
    return 0;
}

static int fake_identity_exists(const char *kind, const char *value, void *arg)
{
    struct fake_env *e = arg;
    char id[300];
    snprintf(id, sizeof id, "%s:%s", kind, value);
    for (size_t i = 0; e->identities && e->identities[i]; i++) {
        if (strcmp(e->identities[i], id) == 0) {
            return 1;
        }
    }
    return 0;
}

static struct blend_write *build(const char *text, struct fake_env *fe)
{
    struct blend_provision *p;
    struct blend_provision_errors errs;
    if (parse(text, &p, &errs) != 0) {
        dump(&errs);
        fail_msg("parse failed");
    }
    struct blend_provision_env env = {fake_hash, fake_user_exists, fake_identity_exists, fe};
    struct blend_write *w = NULL;
    assert_int_equal(blend_provision_build(p, &env, &w), 0);
    /* The write owns copies: the document may go first. */
    blend_provision_destroy(p);
    return w;
}

static const char *op_key(const struct blend_write_op *op)
{
    return json_string_value(json_object_get(op->doc, op->res->key ? op->res->key : "name"));
}

/* ---- Parse -------------------------------------------------------------------------------- */

static const char *const good_doc =
    "{\"version\":1,"
    "\"skills\":[{\"name\":\"billing\"},{\"name\":\"korean\",\"description\":\"Korean\"}],"
    "\"calendars\":[{\"name\":\"bh\",\"time_zone\":\"Asia/Seoul\",\"hours\":[{\"day\":\"mon\","
    "\"open\":\"09:00\",\"close\":\"18:00\"}]}],"
    "\"queues\":[{\"name\":\"sales\",\"overflow_action\":\"queue\",\"overflow_queue\":\"billing\","
    "\"skills\":[{\"skill\":\"billing\"}]},{\"name\":\"billing\",\"calendar\":\"bh\"},"
    "{\"name\":\"vip\",\"overflow_queue\":\"sales\"}],"
    "\"users\":[{\"username\":\"admin\",\"role\":\"admin\",\"password\":\"admin-demo-pass\"},"
    "{\"username\":\"minji\",\"role\":\"agent\",\"password\":\"agent-demo-pass\","
    "\"password_reset\":true},{\"username\":\"nopass\",\"role\":\"qa\"}],"
    "\"agents\":[{\"name\":\"minji\",\"user\":\"minji\",\"extension\":\"1001\","
    "\"sip_password\":\"sip-pass-1001\",\"skills\":[{\"skill\":\"korean\",\"proficiency\":9}]}],"
    "\"entry_points\":[{\"name\":\"main\",\"channel\":\"voice\",\"address\":\"+8225550100\","
    "\"queue\":\"sales\"}],"
    "\"contacts\":[{\"name\":\"Kim\",\"identities\":[{\"kind\":\"phone\",\"value\":\"+821000000010\"}]},"
    "{\"name\":\"Lee\",\"identities\":[{\"kind\":\"email\",\"value\":\"lee@x.example\"},"
    "{\"kind\":\"phone\",\"value\":\"+821000000011\"}]}]}";

static void parses_a_valid_document(void **state)
{
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse(good_doc, &p, &errs), 0);
    assert_int_equal(errs.count_total, 0);
    assert_int_equal(blend_provision_count(p, "skills"), 2);
    assert_int_equal(blend_provision_count(p, "queues"), 3);
    assert_int_equal(blend_provision_count(p, "users"), 3);
    assert_int_equal(blend_provision_count(p, "contacts"), 2);
    assert_int_equal(blend_provision_count(p, "nothing"), 0);
    blend_provision_destroy(p);
    blend_provision_destroy(NULL);

    /* Every section is optional. */
    assert_int_equal(parse("{\"version\":1}", &p, &errs), 0);
    assert_int_equal(blend_provision_count(p, "skills"), 0);
    blend_provision_destroy(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void reports_document_level_errors(void **state)
{
    expect_errors("{\"version\":1,", BLEND_EINVAL, 1, "$", "line 1 column");
    expect_errors("[1]", BLEND_EINVAL, 1, "$", "expected an object");
    expect_errors("{}", BLEND_EINVAL, 1, "$.version", "required field");
    expect_errors("{\"version\":2}", BLEND_EINVAL, 1, "$.version", "unsupported version");
    expect_errors("{\"version\":\"1\"}", BLEND_EINVAL, 1, "$.version", "unsupported version");
    expect_errors("{\"version\":1,\"widgets\":[]}", BLEND_EINVAL, 1, "$.widgets", "unknown key");
    expect_errors("{\"version\":1,\"version\":1}", BLEND_EINVAL, 1, "$", "duplicate object key");
    expect_errors("{\"version\":1,\"skills\":{}}", BLEND_EINVAL, 1, "$.skills",
                  "expected an array");
    expect_errors("{\"version\":1,\"skills\":[{\"name\":\"a\"},\"b\"]}", BLEND_EINVAL, 1,
                  "$.skills[1]", "expected an object");
    expect_errors("", BLEND_EINVAL, 1, "$", "line");
}

static void reports_field_errors_with_absolute_paths(void **state)
{
    expect_errors("{\"version\":1,\"queues\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\","
                  "\"skills\":[{\"skill\":\"x\",\"min_proficiency\":\"high\"}]}]}",
                  BLEND_EINVAL, 1, "$.queues[2].skills[0].min_proficiency", "expected an integer");
    expect_errors("{\"version\":1,\"users\":[{\"username\":\"u\"}]}", BLEND_EINVAL, 1,
                  "$.users[0].role", "required field");
    expect_errors("{\"version\":1,\"agents\":[{\"name\":\"a\",\"capacity\":{\"fax\":1}}]}",
                  BLEND_EINVAL, 1, "$.agents[0].capacity.fax", "unknown field");
    expect_errors("{\"version\":1,\"skills\":[{\"name\":\"a\",\"id\":4}]}", BLEND_EINVAL, 1,
                  "$.skills[0].id", "read-only field");
    expect_errors("{\"version\":1,\"users\":[{\"username\":\"u\",\"role\":\"qa\","
                  "\"password_hash\":\"x\"}]}",
                  BLEND_EINVAL, 1, "$.users[0].password_hash", "internal field");
    expect_errors("{\"version\":1,\"calendars\":[{\"name\":\"c\",\"time_zone\":\"UTC\","
                  "\"holidays\":[{\"date\":\"2026-01-01\"},{\"date\":\"2027-02-29\"}]}]}",
                  BLEND_EINVAL, 1, "$.calendars[0].holidays[1].date", "real date");

    /* Several problems at once are all reported. */
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse("{\"version\":1,\"skills\":[{\"name\":\"A\"},{}],\"queues\":"
                           "[{\"name\":\"q\",\"priority\":101}],\"extra\":0}",
                           &p, &errs),
                     BLEND_EINVAL);
    assert_error(&errs, "$.extra", "unknown key");
    assert_error(&errs, "$.skills[0].name", "may hold only");
    assert_error(&errs, "$.skills[1].name", "required field");
    assert_error(&errs, "$.queues[0].priority", "between 0 and 100");
    assert_int_equal(errs.count_total, 4);
    assert_int_equal(blend_alloc_live(), 0);
}

static void refuses_duplicates(void **state)
{
    expect_errors("{\"version\":1,\"skills\":[{\"name\":\"billing\"},{\"name\":\"tech\"},"
                  "{\"name\":\"billing\"}]}",
                  BLEND_EINVAL, 1, "$.skills[2].name",
                  "duplicate name \"billing\" (also at "
                  "$.skills[0])");
    expect_errors("{\"version\":1,\"agents\":[{\"name\":\"a\",\"extension\":\"1001\"},"
                  "{\"name\":\"b\",\"extension\":\"1001\"}]}",
                  BLEND_EINVAL, 1, "$.agents[1].extension", "duplicate extension");
    expect_errors("{\"version\":1,\"entry_points\":[{\"name\":\"a\",\"channel\":\"voice\","
                  "\"address\":\"100\"},{\"name\":\"b\",\"channel\":\"chat\",\"address\":\"100\"},"
                  "{\"name\":\"c\",\"channel\":\"voice\",\"address\":\"100\"}]}",
                  BLEND_EINVAL, 1, "$.entry_points[2].address", "duplicate channel and address");
    /* The same name in two sections is fine: they are different resources. */
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse("{\"version\":1,\"skills\":[{\"name\":\"x\"}],\"queues\":"
                           "[{\"name\":\"x\"}]}",
                           &p, &errs),
                     0);
    blend_provision_destroy(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void checks_user_and_contact_rules(void **state)
{
    expect_errors("{\"version\":1,\"users\":[{\"username\":\"u\",\"role\":\"qa\","
                  "\"password_reset\":1}]}",
                  BLEND_EINVAL, 1, "$.users[0].password_reset", "expected a boolean");
    expect_errors("{\"version\":1,\"users\":[{\"username\":\"u\",\"role\":\"qa\","
                  "\"password_reset\":true}]}",
                  BLEND_EINVAL, 1, "$.users[0].password_reset", "needs a password");
    expect_errors("{\"version\":1,\"contacts\":[{\"name\":\"x\"}]}", BLEND_EINVAL, 1,
                  "$.contacts[0].identities", "at least one identity");
    expect_errors("{\"version\":1,\"users\":[{\"username\":\"u\",\"role\":\"qa\","
                  "\"password\":\"short\"}]}",
                  BLEND_EINVAL, 1, "$.users[0].password", "too short");
}

static void enforces_limits(void **state)
{
    struct blend_provision *p = NULL;
    struct blend_provision_errors errs;
    /* Larger than the maximum: refused before parsing (the bytes are never read). */
    static const char small[] = "{}";
    assert_int_equal(
        blend_provision_parse(small, (size_t)BLEND_PROVISION_BYTES_MAX + 1, "x", &p, &errs),
        BLEND_ELIMIT);
    assert_null(p);
    assert_error(&errs, "$", "document too large");

    /* More resources than one write may hold. */
    json_t *doc = json_pack("{s:i}", "version", 1);
    json_t *skills = json_array();
    for (int i = 0; i <= BLEND_PROVISION_ITEMS_MAX; i++) {
        json_array_append_new(skills, json_object());
    }
    json_object_set_new(doc, "skills", skills);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(parse(text, &p, &errs), BLEND_ELIMIT);
    assert_error(&errs, "$", "too many resources");
    blend_free(text);

    /* Every bad item is counted; the list keeps the first ones. */
    json_array_remove(skills, 0);
    text = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(parse(text, &p, &errs), BLEND_EINVAL);
    assert_int_equal(errs.count, BLEND_PROVISION_ERRORS_MAX);
    assert_int_equal(errs.count_total, BLEND_PROVISION_ITEMS_MAX);
    assert_string_equal(errs.items[0].path, "$.skills[0].name");
    char out[256];
    size_t n = blend_provision_errors_format(&errs, out, sizeof out);
    assert_int_equal(n, strlen(out));
    assert_true(n < sizeof out);
    blend_free(text);
    json_decref(doc);
    assert_int_equal(blend_alloc_live(), 0);
}

static void formats_errors(void **state)
{
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse("{\"version\":3,\"x\":1}", &p, &errs), BLEND_EINVAL);
    char out[512];
    size_t n = blend_provision_errors_format(&errs, out, sizeof out);
    assert_string_equal(out, "$.version: unsupported version (this server reads version 1)\n"
                             "$.x: unknown key\n");
    assert_int_equal(n, strlen(out));
    errs.count_total = 5;
    blend_provision_errors_format(&errs, out, sizeof out);
    assert_non_null(strstr(out, "... and 3 more\n"));
}

/* ---- Queue order -------------------------------------------------------------------------- */

static void orders_queues_by_overflow(void **state)
{
    /* d -> c -> b -> a, e -> (outside the document), f alone. */
    const char *text = "{\"version\":1,\"queues\":[{\"name\":\"d\",\"overflow_queue\":\"c\"},"
                       "{\"name\":\"b\",\"overflow_queue\":\"a\"},{\"name\":\"e\","
                       "\"overflow_queue\":\"elsewhere\"},{\"name\":\"c\",\"overflow_queue\":"
                       "\"b\"},{\"name\":\"a\"},{\"name\":\"f\",\"overflow_queue\":null}]}";
    struct fake_env fe = {0};
    struct blend_write *w = build(text, &fe);
    assert_int_equal(w->ops_count, 6);
    const char *order[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(w->ops[i].kind, BLEND_OP_UPSERT);
        assert_ptr_equal(w->ops[i].res, &blend_res_queues);
        order[i] = op_key(&w->ops[i]);
    }
    /* Each queue comes after the queue it overflows into. */
    const char *const want[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(order[i], want[i]);
    }
    blend_write_destroy(w);
    assert_int_equal(blend_alloc_live(), 0);
}

static void refuses_overflow_cycles(void **state)
{
    expect_errors("{\"version\":1,\"queues\":[{\"name\":\"a\",\"overflow_queue\":\"b\"},"
                  "{\"name\":\"b\",\"overflow_queue\":\"a\"}]}",
                  BLEND_EINVAL, 1, "$.queues[0].overflow_queue", "overflow cycle: a -> b -> a");
    expect_errors("{\"version\":1,\"queues\":[{\"name\":\"x\"},{\"name\":\"self\","
                  "\"overflow_queue\":\"self\"}]}",
                  BLEND_EINVAL, 1, "$.queues[1].overflow_queue", "overflow cycle: self -> self");
    /* A tail leading into a cycle reports the cycle once. */
    expect_errors("{\"version\":1,\"queues\":[{\"name\":\"t\",\"overflow_queue\":\"p\"},"
                  "{\"name\":\"p\",\"overflow_queue\":\"q\"},{\"name\":\"q\","
                  "\"overflow_queue\":\"r\"},{\"name\":\"r\",\"overflow_queue\":\"p\"}]}",
                  BLEND_EINVAL, 1, "$.queues[1].overflow_queue", "p -> q -> r -> p");
}

/* ---- Build -------------------------------------------------------------------------------- */

static void builds_ops_in_dependency_order(void **state)
{
    struct fake_env fe = {0};
    struct blend_write *w = build(good_doc, &fe);
    assert_string_equal(w->source, "provision test.json");
    const struct blend_resource *want_res[] = {
        &blend_res_skills,   &blend_res_skills, &blend_res_calendars,    &blend_res_queues,
        &blend_res_queues,   &blend_res_queues, &blend_res_users,        &blend_res_users,
        &blend_res_users,    &blend_res_agents, &blend_res_entry_points, &blend_res_contacts,
        &blend_res_contacts,
    };
    const char *const want_key[] = {"billing", "korean", "bh",    "billing", "sales",
                                    "vip",     "admin",  "minji", "nopass",  "minji",
                                    "main",    "Kim",    "Lee"};
    assert_int_equal(w->ops_count, 13);
    for (int i = 0; i < w->ops_count; i++) {
        assert_ptr_equal(w->ops[i].res, want_res[i]);
        assert_string_equal(op_key(&w->ops[i]), want_key[i]);
        assert_int_equal(w->ops[i].kind,
                         want_res[i] == &blend_res_contacts ? BLEND_OP_CREATE : BLEND_OP_UPSERT);
    }
    /* Normalized documents: defaults in, nested groups. */
    const json_t *sales = w->ops[4].doc;
    assert_int_equal(json_integer_value(json_object_get(sales, "sla_percent")), 80);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(sales, "skills"), 0), "min_proficiency")),
                     1);
    const json_t *agent = w->ops[9].doc;
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(agent, "capacity"), "voice")), 1);
    assert_string_equal(json_string_value(json_object_get(agent, "sip_password")), "sip-pass-1001");
    /* New users: the hash replaces the password; login counters start at their defaults. */
    const json_t *admin = w->ops[6].doc;
    assert_null(json_object_get(admin, "password"));
    assert_null(json_object_get(admin, "password_reset"));
    assert_string_equal(json_string_value(json_object_get(admin, "password_hash")),
                        "hash-1-admin-demo-pass");
    assert_int_equal(json_integer_value(json_object_get(admin, "failed_logins")), 0);
    const json_t *nopass = w->ops[8].doc;
    assert_null(json_object_get(nopass, "password_hash"));
    assert_int_equal(fe.hashes, 2);
    assert_int_equal(fe.lookups, 3);
    blend_write_destroy(w);
    assert_int_equal(blend_alloc_live(), 0);
}

static void existing_users_keep_their_password(void **state)
{
    static const char *const existing[] = {"admin", "minji", "nopass", NULL};
    static const char *const identities[] = {"phone:+821000000011", NULL};
    struct fake_env fe = {.existing = existing, .identities = identities};
    struct blend_write *w = build(good_doc, &fe);
    /* "Lee" has an identity that exists: not created again. */
    assert_int_equal(w->ops_count, 12);
    assert_string_equal(op_key(&w->ops[11]), "Kim");
    const json_t *admin = w->ops[6].doc;
    assert_null(json_object_get(admin, "password"));
    assert_null(json_object_get(admin, "password_hash"));
    assert_null(json_object_get(admin, "failed_logins"));
    assert_null(json_object_get(admin, "locked_until"));
    assert_string_equal(json_string_value(json_object_get(admin, "role")), "admin");
    /* "minji" asks for a reset: hashed again (her login counters are left alone). */
    const json_t *minji = w->ops[7].doc;
    assert_string_equal(json_string_value(json_object_get(minji, "password_hash")),
                        "hash-1-agent-demo-pass");
    assert_null(json_object_get(minji, "failed_logins"));
    assert_int_equal(fe.hashes, 1);
    blend_write_destroy(w);
    assert_int_equal(blend_alloc_live(), 0);
}

static void build_reports_missing_hooks_and_lookup_errors(void **state)
{
    struct blend_provision *p;
    struct blend_provision_errors errs;
    assert_int_equal(parse(good_doc, &p, &errs), 0);
    struct fake_env fe = {0};
    struct blend_write *w = NULL;

    struct blend_provision_env no_hash = {NULL, fake_user_exists, fake_identity_exists, &fe};
    assert_int_equal(blend_provision_build(p, &no_hash, &w), BLEND_ESTATE);
    struct blend_provision_env no_ids = {fake_hash, fake_user_exists, NULL, &fe};
    assert_int_equal(blend_provision_build(p, &no_ids, &w), BLEND_ESTATE);
    fe.fail_lookup = 1;
    struct blend_provision_env all = {fake_hash, fake_user_exists, fake_identity_exists, &fe};
    assert_int_equal(blend_provision_build(p, &all, &w), BLEND_EIO);
    assert_null(w);

    /* Without a user lookup every user is new. */
    struct blend_provision_env fresh = {fake_hash, NULL, fake_identity_exists, &fe};
    assert_int_equal(blend_provision_build(p, &fresh, &w), 0);
    assert_non_null(json_object_get(w->ops[6].doc, "password_hash"));
    blend_write_destroy(w);
    blend_provision_destroy(p);
    assert_int_equal(blend_alloc_live(), 0);
}

static void survives_allocation_failures(void **state)
{
    /* Fail the 1st, 2nd, ... allocation of a parse until one succeeds. The JSON text is
     * parsed first: jansson's own parser does not report every allocation failure (it can
     * truncate a key instead), so injection starts after it. */
    json_error_t jerr;
    json_t *root = json_loads(good_doc, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    long base = blend_alloc_live();
    struct blend_provision *p = NULL;
    struct blend_provision_errors errs;
    long nth = 1;
    for (;; nth++) {
        blend_alloc_fail_nth(nth);
        int rc = blend_provision_parse_json(root, "oom", &p, &errs);
        blend_alloc_fail_nth(0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, BLEND_ENOMEM);
        assert_null(p);
        assert_int_equal(blend_alloc_live(), base);
    }
    json_decref(root);
    assert_true(nth > 1);
    /* Then the same for the build. */
    struct fake_env fe = {0};
    struct blend_provision_env env = {fake_hash, fake_user_exists, fake_identity_exists, &fe};
    base = blend_alloc_live();
    struct blend_write *w = NULL;
    for (nth = 1;; nth++) {
        blend_alloc_fail_nth(nth);
        int rc = blend_provision_build(p, &env, &w);
        blend_alloc_fail_nth(0);
        if (rc == 0) {
            break;
        }
        assert_int_equal(rc, BLEND_ENOMEM);
        assert_null(w);
        assert_int_equal(blend_alloc_live(), base);
    }
    assert_true(nth > 1);
    assert_int_equal(w->ops_count, 13);
    blend_write_destroy(w);
    blend_provision_destroy(p);
    assert_int_equal(blend_alloc_live(), 0);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_a_valid_document),
        cmocka_unit_test(reports_document_level_errors),
        cmocka_unit_test(reports_field_errors_with_absolute_paths),
        cmocka_unit_test(refuses_duplicates),
        cmocka_unit_test(checks_user_and_contact_rules),
        cmocka_unit_test(enforces_limits),
        cmocka_unit_test(formats_errors),
        cmocka_unit_test(orders_queues_by_overflow),
        cmocka_unit_test(refuses_overflow_cycles),
        cmocka_unit_test(builds_ops_in_dependency_order),
        cmocka_unit_test(existing_users_keep_their_password),
        cmocka_unit_test(build_reports_missing_hooks_and_lookup_errors),
        cmocka_unit_test(survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
