/*
 * The webhook channel's inbound bodies (see channel.h): jansson parses (duplicate keys refused,
 * nothing deeper than the fields asked for is read), the fields are checked by type and length,
 * the sender is normalised by identity.c. Every refusal names its field.
 */
#include "model/channel.h"

#include "base/assert.h"

#include <stdio.h>
#include <string.h>

static const char *str_of(const json_t *doc, const char *name, size_t min, size_t max, int *bad)
{
    const json_t *v = json_object_get(doc, name);
    if (!v) {
        *bad = min > 0;
        return NULL;
    }
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    /* jansson strings are valid UTF-8; an embedded NUL would cut the text short: refused. */
    if (!json_is_string(v) || n < min || n > max || strlen(json_string_value(v)) != n) {
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

static int fail(char *field, size_t field_cap, char *err, size_t err_cap, const char *name,
                const char *why)
{
    snprintf(field, field_cap, "%s", name);
    snprintf(err, err_cap, "%s", why);
    return BLEND_EINVAL;
}

int blend_channel_inbound_parse(int social, const char *body, size_t len, int country_code,
                                struct blend_channel_inbound *out, char *field, size_t field_cap,
                                char *err, size_t err_cap)
{
    BLEND_ASSERT(body && out && field && err && field_cap > 0 && err_cap > 0);
    if (len > BLEND_CHANNEL_BODY_BYTES_MAX) {
        return fail(field, field_cap, err, err_cap, "", "the body is too large");
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        return fail(field, field_cap, err, err_cap, "", "expected a JSON object");
    }
    return blend_channel_inbound_from_doc(social, doc, country_code, out, field, field_cap, err,
                                          err_cap);
}

int blend_channel_inbound_from_doc(int social, json_t *doc, int country_code,
                                   struct blend_channel_inbound *out, char *field,
                                   size_t field_cap, char *err, size_t err_cap)
{
    BLEND_ASSERT(doc && out && field && err && field_cap > 0 && err_cap > 0);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return fail(field, field_cap, err, err_cap, "", "expected a JSON object");
    }
    struct blend_channel_inbound in;
    memset(&in, 0, sizeof in);
    int bad = 0;
    const char *name = "id";
    in.id = str_of(doc, "id", 1, BLEND_CHANNEL_ID_BYTES_MAX, &bad);
    if (!bad) {
        name = social ? "author" : "from";
        in.raw_sender = str_of(doc, name, 1, 256, &bad);
    }
    if (!bad) {
        name = "text";
        in.text = str_of(doc, "text", 0, BLEND_CHANNEL_TEXT_BYTES_MAX, &bad);
        bad = bad || !in.text;
    }
    if (!bad && social) {
        name = "network";
        in.network = str_of(doc, "network", 1, 32, &bad);
    }
    if (!bad && social) {
        name = "kind";
        in.kind = str_of(doc, "kind", 1, 8, &bad);
        bad = bad || (strcmp(in.kind, "post") != 0 && strcmp(in.kind, "dm") != 0);
    }
    if (!bad) {
        name = "url";
        in.url = str_of(doc, "url", 0, 2048, &bad);
    }
    if (!bad) {
        name = "name";
        in.name = str_of(doc, "name", 0, 128, &bad);
    }
    if (!bad && !social) {
        name = "to";
        in.to = str_of(doc, "to", 0, 64, &bad);
    }
    if (bad) {
        json_decref(doc);
        return fail(field, field_cap, err, err_cap, name, "missing or malformed");
    }
    char raw[300];
    if (social) {
        snprintf(raw, sizeof raw, "%s:%s", in.network, in.raw_sender);
    } else {
        snprintf(raw, sizeof raw, "%s", in.raw_sender);
    }
    char why[BLEND_IDENTITY_ERR_BYTES];
    if (blend_identity_normalize(social ? BLEND_IDENTITY_SOCIAL : BLEND_IDENTITY_SMS, raw,
                                 strlen(raw), country_code, in.identity, sizeof in.identity, why,
                                 sizeof why) != 0) {
        json_decref(doc);
        return fail(field, field_cap, err, err_cap, social ? "author" : "from", why);
    }
    in.doc = doc;
    *out = in;
    return 0;
}

void blend_channel_inbound_free(struct blend_channel_inbound *in)
{
    if (in) {
        json_decref(in->doc);
        memset(in, 0, sizeof *in);
    }
}
