/*
 * Lookups over the resource table (blend_resources[], defined in resources.c): a resource by its
 * plural name, a field by its JSON name, and whether a resource holds personal data.
 *
 * Invariants: the table is static, NULL-terminated and never changes at run time, so these
 * functions are pure and thread-safe. Only blend_resource_find() reads the table itself; the
 * others take the resource they look into, so code that brings its own descriptors (tests) does
 * not need the real table.
 */
#include "model/model.h"

#include "base/assert.h"

#include <string.h>

const struct blend_resource *blend_resource_find(const char *name)
{
    BLEND_ASSERT(name);
    for (size_t i = 0; blend_resources[i]; i++) {
        if (strcmp(blend_resources[i]->name, name) == 0) {
            return blend_resources[i];
        }
    }
    return NULL;
}

const struct blend_field *blend_resource_field(const struct blend_resource *res, const char *name)
{
    BLEND_ASSERT(res);
    BLEND_ASSERT(name);
    for (size_t i = 0; i < res->fields_count; i++) {
        if (strcmp(res->fields[i].name, name) == 0) {
            return &res->fields[i];
        }
    }
    return NULL;
}

int blend_model_has_pii(const struct blend_resource *res)
{
    BLEND_ASSERT(res);
    for (size_t i = 0; i < res->fields_count; i++) {
        const struct blend_field *f = &res->fields[i];
        if (f->flags & BLEND_FF_PII) {
            return 1;
        }
        /* Children are one level deep (validate.c asserts it), so this loop is bounded. */
        if (f->type == BLEND_FT_CHILDREN) {
            BLEND_ASSERT(f->child);
            for (size_t j = 0; j < f->child->fields_count; j++) {
                if (f->child->fields[j].flags & BLEND_FF_PII) {
                    return 1;
                }
            }
        }
    }
    return 0;
}
