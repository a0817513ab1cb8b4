/*
 * Fuzz target for the IVR `skills` variable (blend_ivr_skills_parse, docs/flows.md): the input
 * is the variable's text. Any crash or sanitizer report is a finding, and so is a broken
 * contract: a success gives at most BLEND_IVR_SKILLS_MAX distinct names of 1..63 bytes of
 * [a-z0-9._-] with minimums 1..10, and the same text parses the same way twice; a failure
 * leaves the outputs untouched.
 */
#include "base/assert.h"
#include "engine/ivr/ivr.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Longest text tried: far beyond any valid value (8 names of 63 bytes with ":10"). */
#define TEXT_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[TEXT_MAX + 1];
    size_t n = size < TEXT_MAX ? size : TEXT_MAX;
    memcpy(text, data, n);
    text[n] = '\0';
    struct blend_ivr_skill a[BLEND_IVR_SKILLS_MAX], b[BLEND_IVR_SKILLS_MAX];
    size_t count_a = 77, count_b = 77;
    int rc = blend_ivr_skills_parse(text, a, &count_a);
    int rc2 = blend_ivr_skills_parse(text, b, &count_b);
    BLEND_ASSERT(rc == rc2);
    if (rc != 0) {
        BLEND_ASSERT(rc == BLEND_EINVAL && count_a == 77);
        return 0;
    }
    BLEND_ASSERT(count_a == count_b && count_a <= BLEND_IVR_SKILLS_MAX);
    for (size_t i = 0; i < count_a; i++) {
        size_t len = strlen(a[i].name);
        BLEND_ASSERT(len >= 1 && len < BLEND_IVR_NAME_BYTES);
        BLEND_ASSERT(strspn(a[i].name, "abcdefghijklmnopqrstuvwxyz0123456789._-") == len);
        BLEND_ASSERT(a[i].min_proficiency >= 1 && a[i].min_proficiency <= 10);
        BLEND_ASSERT(strcmp(a[i].name, b[i].name) == 0 &&
                     a[i].min_proficiency == b[i].min_proficiency);
        for (size_t j = 0; j < i; j++) {
            BLEND_ASSERT(strcmp(a[i].name, a[j].name) != 0);
        }
    }
    return 0;
}
