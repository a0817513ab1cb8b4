/*
 * Fuzz target for JSON request bodies: the raw-byte depth scanner and the whole body check
 * (media type, size, depth, jansson with duplicate-key refusal) on arbitrary bytes.
 *
 * Input: the first byte picks the Content-Type, the rest is the body. Oracles beyond "no
 * crash, no leak": the scanner must agree with jansson on every document jansson accepts
 * (no false refusals, no deep document let through), a refusal always names a status and
 * code, and an accepted body re-encodes.
 */
#include "api/http.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Nesting of a parsed document; jansson itself caps depth (2048), which bounds the recursion. */
static size_t depth_of(const json_t *j)
{
    size_t deepest = 0;
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            size_t d = depth_of(v);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            size_t d = depth_of(v);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {"application/json", "application/json; charset=utf-8",
                                        "application/x+json", "text/plain", NULL};
    static int init;
    if (!init) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        init = 1;
    }
    if (size == 0) {
        return 0;
    }
    const char *ct = types[data[0] % (sizeof types / sizeof types[0])];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    long live = blend_alloc_live();

    int scan = blend_http_json_depth_check(body, len, BLEND_JSON_DEPTH_MAX);
    json_error_t jerr;
    json_t *plain = json_loadb(body, len, 0, &jerr);
    if (plain) {
        /* On valid JSON the scanner is exact. */
        BLEND_ASSERT((depth_of(plain) <= BLEND_JSON_DEPTH_MAX) == (scan == 0));
        json_decref(plain);
    }

    json_t *doc = NULL;
    struct blend_http_body_error err;
    memset(&err, 0, sizeof err);
    int rc = blend_http_json_parse(ct, body, len, 4096, &doc, &err);
    if (rc == 0) {
        BLEND_ASSERT(doc && scan == 0 && len <= 4096);
        BLEND_ASSERT(depth_of(doc) <= BLEND_JSON_DEPTH_MAX);
        char out[64];
        BLEND_ASSERT(json_dumpb(doc, out, sizeof out, JSON_COMPACT) > 0);
        json_decref(doc);
    } else {
        BLEND_ASSERT(err.status >= 400 && err.status <= 599 && err.code && err.message[0]);
    }
    BLEND_ASSERT(blend_alloc_live() == live);
    return 0;
}
