/*
 * Fuzz target for the webhook channel's inbound bodies (src/model/channel.c): the first byte
 * picks SMS or social, the rest is the provider's body. Any crash, sanitizer report or leak is a
 * finding, and so is a broken contract: success gives a non-empty id and an identity that is
 * its own canonical form; failure names a field from the documented set.
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/channel.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    if (size < 1) {
        return 0;
    }
    int social = data[0] & 1;
    struct blend_channel_inbound in;
    char field[32], err[160];
    int rc = blend_channel_inbound_parse(social, (const char *)data + 1, size - 1, 82, &in, field,
                                         sizeof field, err, sizeof err);
    BLEND_ASSERT(rc == 0 || rc == BLEND_EINVAL || rc == BLEND_ENOMEM);
    if (rc == 0) {
        BLEND_ASSERT(in.id && in.id[0] && strlen(in.id) <= BLEND_CHANNEL_ID_BYTES_MAX);
        BLEND_ASSERT(in.text && strlen(in.text) <= BLEND_CHANNEL_TEXT_BYTES_MAX);
        char again[BLEND_IDENTITY_BYTES_MAX + 1];
        BLEND_ASSERT(blend_identity_normalize(social ? BLEND_IDENTITY_SOCIAL : BLEND_IDENTITY_SMS,
                                              in.identity, strlen(in.identity), 82, again,
                                              sizeof again, NULL, 0) == 0);
        BLEND_ASSERT(strcmp(again, in.identity) == 0);
        blend_channel_inbound_free(&in);
    } else if (rc == BLEND_EINVAL) {
        static const char *const fields[] = {"", "id", "from", "author", "text", "network",
                                             "kind", "url", "name", "to"};
        int known = 0;
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
            known |= strcmp(field, fields[i]) == 0;
        }
        BLEND_ASSERT(known && err[0]);
    }
    return 0;
}
