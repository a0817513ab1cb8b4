/*
 * Fuzz target for identity normalisation: the first byte picks the kind and the default country
 * code, the rest is the value. Any crash or sanitizer report is a finding, and so is a broken
 * contract: on success the output is NUL-terminated within BLEND_IDENTITY_BYTES_MAX, has no
 * control character, a phone is '+' and 8..15 digits, and normalising the output again gives it
 * back unchanged; on failure the output is untouched and the message is non-empty.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/identity.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_phone(const char *s, size_t n)
{
    BLEND_ASSERT(s[0] == '+');
    BLEND_ASSERT(n - 1 >= BLEND_IDENTITY_E164_DIGITS_MIN &&
                 n - 1 <= BLEND_IDENTITY_E164_DIGITS_MAX);
    BLEND_ASSERT(s[1] != '0');
    for (size_t i = 1; i < n; i++) {
        BLEND_ASSERT(s[i] >= '0' && s[i] <= '9');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    static const int ccs[] = {0, 82, 86, 1};
    enum blend_identity_kind kind = (enum blend_identity_kind)(data[0] % 5);
    int cc = ccs[(data[0] >> 3) % 4];
    char out[BLEND_IDENTITY_BYTES_MAX + 1];
    char err[BLEND_IDENTITY_ERR_BYTES] = "";
    memset(out, 0x5a, sizeof out);
    int rc = blend_identity_normalize(kind, (const char *)data + 1, size - 1, cc, out, sizeof out,
                                      err, sizeof err);
    if (rc != 0) {
        BLEND_ASSERT(rc == BLEND_EINVAL);
        BLEND_ASSERT((unsigned char)out[0] == 0x5a);
        BLEND_ASSERT(err[0] != '\0');
        return 0;
    }
    size_t n = strnlen(out, sizeof out);
    BLEND_ASSERT(n > 0 && n <= BLEND_IDENTITY_BYTES_MAX);
    for (size_t i = 0; i < n; i++) {
        BLEND_ASSERT((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] != 0x7f);
    }
    if (kind == BLEND_IDENTITY_PHONE || kind == BLEND_IDENTITY_SMS) {
        check_phone(out, n);
    }
    char again[BLEND_IDENTITY_BYTES_MAX + 1];
    BLEND_ASSERT(blend_identity_normalize(kind, out, n, 0, again, sizeof again, NULL, 0) == 0);
    BLEND_ASSERT(strcmp(again, out) == 0);
    BLEND_ASSERT(blend_alloc_live() == 0);
    return 0;
}
