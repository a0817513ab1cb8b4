/*
 * End-to-end provisioning against a real store in a temporary directory: examples/demo.json
 * applies in one write, a second apply changes nothing and appends no event, an edit changes
 * exactly the edited resource, and a reference the store cannot resolve fails the whole write
 * with the field's path and writes nothing.
 */
#define _XOPEN_SOURCE 700
#include "base/alloc.h"
#include "provision/provision.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

struct fixture {
    char dir[64];
    struct blend_store *store;
    char *demo;
    size_t demo_len;
};

/* Each call yields a different "hash", as a random salt would. */
static int fake_hash(const char *clear, char *out, size_t outlen, void *arg)
{
    static int n;
    snprintf(out, outlen, "$fake$%d$%zu", ++n, strlen(clear));
    return 0;
}

static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = blend_malloc(BLEND_PROVISION_BYTES_MAX);
    size_t len = buf ? fread(buf, 1, BLEND_PROVISION_BYTES_MAX, f) : 0;
    fclose(f);
    *len_out = len;
    return buf;
}

/* examples/demo.json from the working directory (ctest runs in the source tree), else found
 * from this file's path. */
static char *read_demo(size_t *len_out)
{
    char *text = read_file("examples/demo.json", len_out);
    if (text) {
        return text;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *tests = strstr(path, "/tests/unit/provision/");
    if (!tests) {
        return NULL;
    }
    snprintf(tests, sizeof path - (size_t)(tests - path), "/examples/demo.json");
    return read_file(path, len_out);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/blend-provision-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    char url[128];
    snprintf(url, sizeof url, "%s/blend.db", fx->dir);
    struct blend_store_config cfg = {.url = url};
    assert_int_equal(blend_store_open(&cfg, &fx->store), 0);
    fx->demo = read_demo(&fx->demo_len);
    assert_non_null(fx->demo);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    blend_store_close(fx->store);
    blend_free(fx->demo);
    nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(fx);
    assert_int_equal(blend_alloc_live(), 0);
    return 0;
}

/* Parses text, builds against the store and applies synchronously; returns the finished write
 * (owned) after asserting the parse and the build succeeded. */
static struct blend_write *apply(struct fixture *fx, const char *text, size_t len)
{
    struct blend_provision *p = NULL;
    struct blend_provision_errors errs;
    int rc = blend_provision_parse(text, len, "demo.json", &p, &errs);
    if (rc != 0) {
        char out[4096];
        blend_provision_errors_format(&errs, out, sizeof out);
        fail_msg("parse: %s\n%s", blend_strerror(rc), out);
    }
    struct blend_provision_env env = {
        .hash_password = fake_hash,
        .user_exists = blend_provision_store_user_exists,
        .arg = fx->store,
    };
    struct blend_write *w = NULL;
    assert_int_equal(blend_provision_build(p, &env, &w), 0);
    blend_provision_destroy(p);
    snprintf(w->actor, sizeof w->actor, "test");
    (void)blend_store_write_sync(fx->store, w);
    return w;
}

static int changed_ops(const struct blend_write *w)
{
    int n = 0;
    for (int i = 0; i < w->ops_count; i++) {
        n += w->ops[i].changed != 0;
    }
    return n;
}

static void demo_applies_once_and_is_idempotent(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(blend_store_last_seq(fx->store), 0);

    struct blend_write *w = apply(fx, fx->demo, fx->demo_len);
    if (w->rc != 0) {
        fail_msg("first apply: %s at op %d field %s: %s", blend_strerror(w->rc), w->failed_op,
                 w->ops[w->failed_op].error_field, w->ops[w->failed_op].error_detail);
    }
    /* 6 skills, 2 calendars, 6 queues, 9 users, 7 agents, 2 flows, 8 entry points, 4 canned
     * responses. */
    assert_int_equal(w->ops_count, 44);
    assert_int_equal(changed_ops(w), 44);
    int64_t seq = blend_store_last_seq(fx->store);
    assert_int_equal(seq, 44);
    blend_write_destroy(w);

    /* What landed: hashed passwords, resolved references, nested groups. */
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(fx->store, &blend_res_users, "username", "admin", 1, &doc),
                     0);
    assert_non_null(strstr(json_string_value(json_object_get(doc, "password_hash")), "$fake$"));
    assert_null(json_object_get(doc, "password"));
    json_decref(doc);
    assert_int_equal(blend_store_find(fx->store, &blend_res_queues, "name", "sales", 0, &doc), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "overflow_queue")), "billing");
    assert_string_equal(json_string_value(json_object_get(doc, "calendar")), "business-hours");
    json_decref(doc);
    assert_int_equal(blend_store_find(fx->store, &blend_res_agents, "name", "david", 0, &doc), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "capacity"), "chat")),
                     5);
    assert_int_equal(json_array_size(json_object_get(doc, "skills")), 3);
    assert_string_equal(json_string_value(json_object_get(doc, "user")), "david");
    json_decref(doc);

    /* Second apply of the same file: nothing changes, no event. */
    w = apply(fx, fx->demo, fx->demo_len);
    assert_int_equal(w->rc, 0);
    assert_int_equal(w->ops_count, 44);
    assert_int_equal(changed_ops(w), 0);
    assert_int_equal(w->first_seq, 0);
    assert_int_equal(blend_store_last_seq(fx->store), seq);
    blend_write_destroy(w);
}

static void an_edit_changes_only_that_resource(void **state)
{
    struct fixture *fx = *state;
    struct blend_write *w = apply(fx, fx->demo, fx->demo_len);
    assert_int_equal(w->rc, 0);
    blend_write_destroy(w);
    int64_t seq = blend_store_last_seq(fx->store);

    /* Raise the billing queue's priority and re-apply. */
    json_error_t jerr;
    json_t *root = json_loadb(fx->demo, fx->demo_len, 0, &jerr);
    assert_non_null(root);
    json_t *queues = json_object_get(root, "queues");
    json_t *billing = json_array_get(queues, 1);
    assert_string_equal(json_string_value(json_object_get(billing, "name")), "billing");
    json_object_set_new(billing, "priority", json_integer(50));
    char *text = json_dumps(root, JSON_COMPACT);
    w = apply(fx, text, strlen(text));
    assert_int_equal(w->rc, 0);
    assert_int_equal(changed_ops(w), 1);
    assert_int_equal(blend_store_last_seq(fx->store), seq + 1);
    blend_write_destroy(w);
    blend_free(text);

    /* A password reset re-hashes that user (and only that user) on every apply. */
    json_t *minji = json_array_get(json_object_get(root, "users"), 3);
    assert_string_equal(json_string_value(json_object_get(minji, "username")), "minji");
    json_object_set_new(minji, "password_reset", json_true());
    text = json_dumps(root, JSON_COMPACT);
    for (int i = 0; i < 2; i++) {
        w = apply(fx, text, strlen(text));
        assert_int_equal(w->rc, 0);
        assert_int_equal(changed_ops(w), 1);
        blend_write_destroy(w);
    }
    assert_int_equal(blend_store_last_seq(fx->store), seq + 3);
    blend_free(text);
    json_decref(root);
}

static void unknown_reference_fails_the_whole_file(void **state)
{
    struct fixture *fx = *state;
    const char *text = "{\"version\":1,\"skills\":[{\"name\":\"billing\"}],\"queues\":[{\"name\":"
                       "\"q\",\"skills\":[{\"skill\":\"billing\"},{\"skill\":\"nowhere\"}]}]}";
    struct blend_write *w = apply(fx, text, strlen(text));
    assert_int_equal(w->rc, BLEND_EINVAL);
    assert_int_equal(w->failed_op, 1);
    assert_string_equal(w->ops[1].error_field, "skills[1].skill");
    blend_write_destroy(w);
    /* Nothing was written, not even the valid skill before it. */
    assert_int_equal(blend_store_last_seq(fx->store), 0);
    json_t *doc = NULL;
    assert_int_equal(blend_store_find(fx->store, &blend_res_skills, "name", "billing", 0, &doc),
                     BLEND_ENOENT);
}

int main(void)
{
    json_set_alloc_funcs(blend_malloc, blend_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(demo_applies_once_and_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(an_edit_changes_only_that_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_reference_fails_the_whole_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
