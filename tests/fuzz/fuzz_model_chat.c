/*
 * Fuzz target for the web chat visitor's frames (src/model/chat.c): any bytes as one WebSocket
 * text frame. Any crash, sanitizer report or leak is a finding, and so is a broken contract:
 * success gives a known type and, for each type, fields within their bounds (a message's text
 * 1..4000 bytes with a visible character, a hello's entry point, a valid resume token or none,
 * a rating 1..5); failure gives one of the documented error codes. A message's text is also
 * matched as a "talk to an agent" phrase, against the defaults and against itself as the list
 * (a text without commas, final punctuation or surrounding spaces is its own phrase).
 */
#include "base/alloc.h"
#include "base/assert.h"
#include "model/chat.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int known_code(const char *code)
{
    static const char *const codes[] = {"frame_too_large", "bad_json",  "bad_frame",
                                        "unknown_type",    "bad_field", "too_long"};
    for (size_t i = 0; code && i < sizeof codes / sizeof codes[0]; i++) {
        if (strcmp(code, codes[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        json_set_alloc_funcs(blend_malloc, blend_free);
        ready = 1;
    }
    static struct blend_chat_frame f;
    struct blend_chat_error err;
    long live = blend_alloc_live();
    int rc = blend_chat_frame_parse((const char *)data, size, &f, &err);
    BLEND_ASSERT(blend_alloc_live() == live);
    if (rc != 0) {
        BLEND_ASSERT(rc == BLEND_EINVAL || rc == BLEND_ELIMIT || rc == BLEND_ENOMEM);
        BLEND_ASSERT(rc == BLEND_ENOMEM || known_code(err.code));
        return 0;
    }
    BLEND_ASSERT(f.type >= BLEND_CHAT_HELLO && f.type <= BLEND_CHAT_TO_AGENT);
    switch (f.type) {
    case BLEND_CHAT_HELLO:
        BLEND_ASSERT(f.entry_point[0] && strlen(f.entry_point) <= BLEND_CHAT_ENTRY_POINT_BYTES_MAX);
        BLEND_ASSERT(!f.resume_token[0] || blend_chat_token_is_valid(f.resume_token));
        break;
    case BLEND_CHAT_MESSAGE: {
        size_t n = strlen(f.text);
        BLEND_ASSERT(n >= 1 && n <= BLEND_CHAT_TEXT_BYTES_MAX);
        BLEND_ASSERT(f.client_id[0] && strlen(f.client_id) <= BLEND_CHAT_CLIENT_ID_BYTES_MAX);
        BLEND_ASSERT(strspn(f.text, " \r\n\t") < n);
        /* The "talk to an agent" phrase match reads any message (default and own lists). */
        (void)blend_chat_is_agent_request(f.text, NULL);
        (void)blend_chat_is_agent_request(f.text, f.text);
        BLEND_ASSERT(blend_chat_is_agent_request(f.text, f.text) ||
                     strchr(f.text, ',') || f.text[n - 1] == '.' || f.text[n - 1] == '!' ||
                     f.text[n - 1] == '?' || (unsigned char)f.text[n - 1] >= 0x80 ||
                     f.text[0] == ' ' || f.text[0] == '\t' || f.text[0] == '\n' ||
                     f.text[0] == '\r' || strspn(f.text + n - 1, " \t\r\n") == 1);
        break;
    }
    case BLEND_CHAT_READ:
        BLEND_ASSERT(f.up_to >= 1);
        break;
    case BLEND_CHAT_RATING:
        BLEND_ASSERT(f.rating >= 1 && f.rating <= 5);
        break;
    default:
        break;
    }
    return 0;
}
