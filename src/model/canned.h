/*
 * Canned responses (docs/web.md §Canned responses): short texts an agent inserts into a chat,
 * SMS, social or email reply from the desktop's picker. A provisioned resource
 * (/api/v1/canned_responses, provisioning key `canned_responses`): `name` (the shortcut typed
 * after "/"), `title`, `body`, `language`, `channels`, `queues`.
 *
 * A body may use the placeholders {customer_name} and {agent_name}, which the desktop fills in
 * when it inserts the text; any other "{word}" is refused with the unknown names listed, so a
 * typo never reaches a customer. Pure: no I/O, no allocation.
 */
#ifndef BLEND_MODEL_CANNED_H
#define BLEND_MODEL_CANNED_H

#include "base/error.h"
#include "model/model.h"

#include <stddef.h>

/* A body is at most this many characters (Unicode code points, not bytes: a Korean or Chinese
 * reply must fit as many characters as an English one), and so at most 4 bytes each. */
#define BLEND_CANNED_BODY_CHARS_MAX 4000
#define BLEND_CANNED_BODY_BYTES_MAX (4 * BLEND_CANNED_BODY_CHARS_MAX)
/* A BCP 47 language tag such as "en", "ko", "zh-Hans-CN" (RFC 5646 allows 35 characters for
 * the tags that occur in practice). */
#define BLEND_CANNED_LANGUAGE_BYTES_MAX 35

extern const struct blend_resource blend_res_canned_responses;

/*
 * Checks a body of `len` bytes of UTF-8 (jansson's strings are valid UTF-8): at most
 * BLEND_CANNED_BODY_CHARS_MAX characters and only known placeholders. Returns 0, or
 * BLEND_EINVAL with a sentence in err (errlen bytes, always NUL-terminated) naming every
 * unknown placeholder ("unknown placeholders {name}, {order}: use {customer_name} or
 * {agent_name}").
 */
BLEND_MUST_USE int blend_canned_check_body(const char *body, size_t len, char *err, size_t errlen);

/* Checks a BCP 47 language tag's syntax (a primary language of 2..3 or 5..8 letters, then
 * subtags of 1..8 letters or digits separated by '-'). Returns 0 or BLEND_EINVAL. */
BLEND_MUST_USE int blend_canned_check_language(const char *tag, size_t len);

#endif
