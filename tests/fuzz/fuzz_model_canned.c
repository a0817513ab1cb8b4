/*
 * Fuzz target for canned responses (model/canned.h): the input is a JSON document validated as
 * a canned response (create and patch), and its raw bytes are also checked as a body and as a
 * language tag. Any crash or sanitizer report is a finding, and so is a broken contract: the
 * checks answer the same twice, always leave the message NUL-terminated (non-empty on refusal,
 * empty on success), and an accepted document's body holds no "{word}" but the two known
 * placeholders and at most BLEND_CANNED_BODY_CHARS_MAX characters.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/canned.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Beyond any valid document: a 16000-byte body escaped is far less than this. */
#define INPUT_MAX (128 * 1024)

static void check_raw(const char *s, size_t len)
{
    char a[192], b[192];
    memset(a, 'x', sizeof a);
    int rc = blend_canned_check_body(s, len, a, sizeof a);
    int rc2 = blend_canned_check_body(s, len, b, sizeof b);
    BLEND_ASSERT(rc == rc2 && strcmp(a, b) == 0);
    BLEND_ASSERT(memchr(a, '\0', sizeof a) != NULL);
    BLEND_ASSERT(rc == 0 ? a[0] == '\0' : (rc == BLEND_EINVAL && a[0] != '\0'));
    int lr = blend_canned_check_language(s, len);
    BLEND_ASSERT(lr == 0 || lr == BLEND_EINVAL);
    BLEND_ASSERT(lr != 0 || (len >= 2 && len <= BLEND_CANNED_LANGUAGE_BYTES_MAX));
}

/* An accepted body: every "{word}" is a known placeholder. */
static void check_accepted_body(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
        if (s[i] != '{') {
            continue;
        }
        size_t j = i + 1;
        while (j < len && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                           (s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
            j++;
        }
        if (j > i + 1 && j < len && s[j] == '}') {
            size_t n = j - i - 1;
            BLEND_ASSERT((n == 13 && memcmp(s + i + 1, "customer_name", 13) == 0) ||
                         (n == 10 && memcmp(s + i + 1, "agent_name", 10) == 0));
        }
    }
    BLEND_ASSERT(chars <= BLEND_CANNED_BODY_CHARS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    if (size > INPUT_MAX) {
        return 0;
    }
    check_raw((const char *)data, size);
    json_error_t jerr;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!in) {
        return 0;
    }
    for (int mode = 0; mode < 2; mode++) {
        struct blend_field_errors errs;
        json_t *doc = NULL;
        int rc = blend_model_validate(&blend_res_canned_responses, in,
                                      mode ? BLEND_VALIDATE_PATCH : BLEND_VALIDATE_CREATE, 0, &doc,
                                      &errs);
        BLEND_ASSERT(rc == 0 || rc == BLEND_EINVAL || rc == BLEND_ENOMEM);
        BLEND_ASSERT((rc == 0) == (doc != NULL));
        BLEND_ASSERT(rc != BLEND_EINVAL || errs.count > 0);
        const json_t *body = json_object_get(doc, "body");
        if (json_is_string(body)) {
            check_accepted_body(json_string_value(body), json_string_length(body));
        }
        json_decref(doc);
    }
    json_decref(in);
    return 0;
}
