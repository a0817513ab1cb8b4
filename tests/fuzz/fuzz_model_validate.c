/*
 * Fuzz target for model validation: the input is parsed as JSON (duplicates refused, as the API
 * does), then validated against every real resource in both modes, with and without internal
 * fields; each normalized output is redacted and everything is freed. Any crash, sanitizer
 * report, leak or broken invariant (a normalized document must validate again as a patch, with
 * internal fields admitted) is a finding.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/model.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Normalized output is in the nested input shape, so validating it again must succeed. */
static void revalidate(const struct blend_resource *res, const json_t *doc)
{
    struct blend_field_errors errs;
    json_t *again = NULL;
    int rc = blend_model_validate(res, doc, BLEND_VALIDATE_PATCH, 1, &again, &errs);
    BLEND_ASSERT(rc == 0);
    BLEND_ASSERT(json_equal(doc, again));
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    json_error_t jerr;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        return 0;
    }
    for (size_t i = 0; blend_resources[i]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            for (int internal = 0; internal < 2; internal++) {
                struct blend_field_errors errs;
                json_t *doc = NULL;
                int rc = blend_model_validate(blend_resources[i], in,
                                              mode ? BLEND_VALIDATE_PATCH : BLEND_VALIDATE_CREATE,
                                              internal, &doc, &errs);
                BLEND_ASSERT(rc == 0 || rc == BLEND_EINVAL);
                BLEND_ASSERT((rc == 0) == (doc != NULL));
                BLEND_ASSERT(rc == 0 || errs.count > 0);
                if (doc) {
                    revalidate(blend_resources[i], doc);
                    blend_model_redact(blend_resources[i], doc);
                    json_decref(doc);
                }
            }
        }
    }
    json_decref(in);
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
