/*
 * Fuzz target for webhook answers: the input is the body an http node received, read for a
 * fixed set of variable names (plain, dotted, nested, absent). Any crash, sanitizer report or
 * leak is a finding, and so is a broken contract: on success every value fits its buffer with
 * its NUL and holds no control character, names come back in order and each at most once per
 * name; on failure the output is untouched and the code is one of the documented ones.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/flow.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_names[] = {
    "balance", "order.status", "order.items.count", "ok", "a.b", "name", "x..y", "vip"};
#define NAMES_COUNT (sizeof fixed_names / sizeof fixed_names[0])

static void check_value(const char *v)
{
    size_t len = strnlen(v, BLEND_IVR_VALUE_BYTES);
    BLEND_ASSERT(len < BLEND_IVR_VALUE_BYTES);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)v[i];
        BLEND_ASSERT(c >= 0x20 && c != 0x7f);
        BLEND_ASSERT(!(c == 0xc2 && i + 1 < len && (unsigned char)v[i + 1] <= 0x9f));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static struct blend_ivr_assign names[NAMES_COUNT];
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        for (size_t i = 0; i < NAMES_COUNT; i++) {
            memcpy(names[i].var, fixed_names[i], strlen(fixed_names[i]) + 1);
        }
        ready = 1;
    }
    struct blend_ivr_assign out[NAMES_COUNT];
    memset(out, 0x5a, sizeof out);
    size_t count = 999;
    int rc = blend_flow_webhook_fields((const char *)data, size, names, NAMES_COUNT, out, &count);
    BLEND_ASSERT(rc == 0 || rc == BLEND_EPARSE || rc == BLEND_ELIMIT || rc == BLEND_ENOMEM);
    if (rc == 0) {
        BLEND_ASSERT(count <= NAMES_COUNT);
        size_t next = 0; /* names come back in the order asked */
        for (size_t i = 0; i < count; i++) {
            while (next < NAMES_COUNT && strcmp(out[i].var, fixed_names[next]) != 0) {
                next++;
            }
            BLEND_ASSERT(next < NAMES_COUNT);
            next++;
            check_value(out[i].value);
        }
    } else {
        BLEND_ASSERT(count == 999);
        BLEND_ASSERT((unsigned char)out[0].var[0] == 0x5a);
    }
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
