/*
 * Messages the webhook channel receives (docs/webhooks.md), read from the provider's JSON body:
 * SMS {"id", "from", "text", "to"?} and social {"id", "network", "author", "kind": "post" | "dm",
 * "text", "url"?, "name"?} (the SMS preset's form fields arrive as the SMS object, built by
 * webhooks.c). The sender becomes an identity in canonical form (identity.h: E.164
 * for SMS with a default country code, "network:handle" for social). Pure: no I/O.
 *
 * Invariants: on success every string in the result is NUL-terminated valid UTF-8 within its
 * bound (the parsed document, owned by the result, holds the text); on failure nothing is
 * returned and `field` names what is wrong, with a sentence in `err`.
 */
#ifndef BLEND_MODEL_CHANNEL_H
#define BLEND_MODEL_CHANNEL_H

#include "base/error.h"
#include "model/identity.h"

#include <jansson.h>
#include <stddef.h>

#define BLEND_CHANNEL_ID_BYTES_MAX 128     /* a provider's message id */
#define BLEND_CHANNEL_TEXT_BYTES_MAX 65536 /* a message's text */
#define BLEND_CHANNEL_BODY_BYTES_MAX (256 * 1024)

struct blend_channel_inbound {
    json_t *doc;      /* owned: the parsed body (text, url, name, network, kind point into it) */
    const char *id;   /* 1..BLEND_CHANNEL_ID_BYTES_MAX bytes */
    const char *text; /* 0..BLEND_CHANNEL_TEXT_BYTES_MAX bytes */
    const char *raw_sender; /* as the provider wrote it ("from" or "author") */
    const char *to, *network, *kind, *url, *name; /* NULL when absent (or not social) */
    char identity[BLEND_IDENTITY_BYTES_MAX + 1];   /* canonical sender */
};

/* social = 0: SMS; 1: social. BLEND_EINVAL with field/err set for any bad body; BLEND_ENOMEM. */
BLEND_MUST_USE int blend_channel_inbound_parse(int social, const char *body, size_t len,
                                               int country_code,
                                               struct blend_channel_inbound *out, char *field,
                                               size_t field_cap, char *err, size_t err_cap);
/* The same checks on a body already parsed (the SMS preset's form fields, as a JSON object):
 * doc is taken, also on failure; on success it becomes out->doc. */
BLEND_MUST_USE int blend_channel_inbound_from_doc(int social, json_t *doc, int country_code,
                                                  struct blend_channel_inbound *out, char *field,
                                                  size_t field_cap, char *err, size_t err_cap);
void blend_channel_inbound_free(struct blend_channel_inbound *in);

#endif
