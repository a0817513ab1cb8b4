/*
 * Fuzz target for form bodies and the signature base (src/api/form.c): the provider's form
 * posts reach them before anything is verified. Oracles beyond "no crash, no leak": a parsed
 * form keeps its invariants (at most BLEND__FORM_PAIRS_MAX pairs, names non-empty and distinct,
 * every name and value valid UTF-8); re-encoding it with blend__form_append and parsing that
 * gives the same pairs in the same order; the signature base is the URL followed by every name
 * and value exactly once (its length is their sum), and the signature of that base verifies.
 */
#include "api/form.h"
#include "base/alloc.h"
#include "base/assert.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char url[] = "https://blend.example.com/api/v1/channels/sms/messages";

static int is_utf8(const char *s)
{
    json_t *j = json_string(s);
    int ok = j != NULL;
    json_decref(j);
    return ok;
}

static void check_round_trip(const struct blend__form *f)
{
    struct blend_buf enc;
    blend_buf_init(&enc, 4 * BLEND__FORM_BYTES_MAX);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < f->pairs_count; i++) {
        rc = blend__form_append(&enc, f->pairs[i].name, f->pairs[i].value);
    }
    BLEND_ASSERT(rc == 0 || rc == BLEND_ENOMEM);
    struct blend__form again;
    if (rc == 0 && enc.len <= BLEND__FORM_BYTES_MAX &&
        blend__form_parse(enc.data ? enc.data : "", enc.len, &again) == 0) {
        BLEND_ASSERT(again.pairs_count == f->pairs_count);
        for (size_t i = 0; i < f->pairs_count; i++) {
            BLEND_ASSERT(strcmp(again.pairs[i].name, f->pairs[i].name) == 0);
            BLEND_ASSERT(strcmp(again.pairs[i].value, f->pairs[i].value) == 0);
        }
        blend__form_deinit(&again);
    }
    blend_buf_deinit(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    struct blend__form f;
    int rc = blend__form_parse((const char *)data, size, &f);
    BLEND_ASSERT(rc == 0 || rc == BLEND_EINVAL || rc == BLEND_ELIMIT || rc == BLEND_ENOMEM);
    if (rc != 0) {
        return 0;
    }
    BLEND_ASSERT(f.pairs_count <= BLEND__FORM_PAIRS_MAX);
    size_t total = strlen(url);
    for (size_t i = 0; i < f.pairs_count; i++) {
        BLEND_ASSERT(f.pairs[i].name[0] && is_utf8(f.pairs[i].name) && is_utf8(f.pairs[i].value));
        BLEND_ASSERT(blend__form_get(&f, f.pairs[i].name) == f.pairs[i].value); /* distinct */
        total += strlen(f.pairs[i].name) + strlen(f.pairs[i].value);
    }
    struct blend_buf base;
    blend_buf_init(&base, 2 * BLEND__FORM_BYTES_MAX);
    rc = blend__form_signature_base(url, &f, &base);
    BLEND_ASSERT(rc == 0 || rc == BLEND_ENOMEM);
    if (rc == 0) {
        BLEND_ASSERT(base.len == total && memcmp(base.data, url, strlen(url)) == 0);
        char sig[BLEND__FORM_SIG_BYTES];
        blend__form_sign("token", base.data, base.len, sig);
        BLEND_ASSERT(strlen(sig) == BLEND__FORM_SIG_BYTES - 1);
        BLEND_ASSERT(blend__form_signature_ok("token", base.data, base.len, sig));
    }
    blend_buf_deinit(&base);
    check_round_trip(&f);
    blend__form_deinit(&f);
    return 0;
}
