/*
 * Fuzz target for provisioning documents: parses and validates the input as a whole document;
 * when it is accepted, builds the write twice (every user new, then every user existing, with
 * contacts looked up) and checks the build's invariants: one op per resource (fewer only for
 * contacts that exist), never a clear-text password in an op, and no leak.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "provision/provision.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_hash(const char *clear, char *out, size_t outlen, void *arg)
{
    snprintf(out, outlen, "$fake$%zu", strlen(clear));
    return 0;
}

static int all_exist(const char *name, void *arg)
{
    return *(const int *)arg;
}

static int identity_exists(const char *kind, const char *value, void *arg)
{
    return (strlen(value) & 1) != 0;
}

static size_t resources(const struct blend_provision *p)
{
    static const char *const names[] = {"skills", "calendars",    "queues",  "users",
                                        "agents", "entry_points", "contacts"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        n += blend_provision_count(p, names[i]);
    }
    return n;
}

static void check_build(const struct blend_provision *p, int users_exist)
{
    struct blend_provision_env env = {fake_hash, all_exist, identity_exists, &users_exist};
    struct blend_write *w = NULL;
    int rc = blend_provision_build(p, &env, &w);
    BLEND_ASSERT(rc == 0);
    size_t contacts = blend_provision_count(p, "contacts");
    BLEND_ASSERT((size_t)w->ops_count + contacts >= resources(p));
    BLEND_ASSERT((size_t)w->ops_count <= resources(p));
    for (int i = 0; i < w->ops_count; i++) {
        BLEND_ASSERT(w->ops[i].res);
        BLEND_ASSERT(!json_object_get(w->ops[i].doc, "password"));
    }
    blend_write_destroy(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend_provision *p = NULL;
    struct blend_provision_errors errs;
    int rc = blend_provision_parse((const char *)data, size, "fuzz", &p, &errs);
    if (rc == 0) {
        BLEND_ASSERT(errs.count_total == 0);
        check_build(p, 0);
        check_build(p, 1);
        blend_provision_destroy(p);
    } else {
        BLEND_ASSERT(rc == BLEND_EINVAL || rc == BLEND_ELIMIT);
        BLEND_ASSERT(errs.count > 0 && errs.count <= errs.count_total);
        BLEND_ASSERT(p == NULL);
        for (size_t i = 0; i < errs.count; i++) {
            BLEND_ASSERT(errs.items[i].path[0] == '$');
        }
    }
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
