/*
 * Form bodies and the Twilio-style signature (see form.h). The body is split on '&' and '=',
 * each part has its '+' turned into a space and is percent-decoded by libcurl into one text
 * buffer owned by the form; names are checked distinct, values checked as UTF-8 by jansson (the
 * same check every JSON string of the API gets). The signature base sorts an index of the pairs,
 * never the pairs themselves, so the form keeps the body's order.
 */
#include "api/form.h"

#include "base/alloc.h"
#include "base/assert.h"

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <re_hmac.h>

#define FORM_SHA1_BYTES 20

/* Decodes part (n bytes: '+' is a space, %XX an octet) to dst, NUL-terminated; returns the
 * decoded length through len_out. BLEND_EINVAL for a decoded NUL or bytes that are not UTF-8. */
static int decode(const char *part, size_t n, char *scratch, char *dst, size_t *len_out)
{
    memcpy(scratch, part, n);
    for (size_t i = 0; i < n; i++) {
        if (scratch[i] == '+') {
            scratch[i] = ' ';
        }
    }
    int olen = 0;
    char *plain = n ? curl_easy_unescape(NULL, scratch, (int)n, &olen) : NULL;
    if (n && !plain) {
        return BLEND_ENOMEM;
    }
    size_t m = plain ? (size_t)olen : 0;
    int rc = 0;
    if (m && memchr(plain, '\0', m)) {
        rc = BLEND_EINVAL;
    } else if (m) {
        json_t *check = json_stringn(plain, m); /* NULL: not UTF-8 */
        rc = check ? 0 : BLEND_EINVAL;
        json_decref(check);
    }
    if (rc == 0) {
        if (m) {
            memcpy(dst, plain, m);
        }
        dst[m] = '\0';
        *len_out = m;
    }
    curl_free(plain);
    return rc;
}

int blend__form_parse(const char *body, size_t len, struct blend__form *out)
{
    BLEND_ASSERT(out && (body || len == 0));
    if (len > BLEND__FORM_BYTES_MAX) {
        return BLEND_ELIMIT;
    }
    /* Decoded text is never longer than its source: len bytes plus two NULs per pair. */
    size_t cap = len + 2 * BLEND__FORM_PAIRS_MAX + 1;
    char *text = blend_malloc(cap);
    char *scratch = blend_malloc(len + 1);
    struct blend__form *f = blend_calloc(1, sizeof *f);
    int rc = text && scratch && f ? 0 : BLEND_ENOMEM;
    size_t used = 0, pos = 0;
    while (rc == 0 && pos < len) {
        const char *seg = body + pos;
        const char *amp = memchr(seg, '&', len - pos);
        size_t seg_len = amp ? (size_t)(amp - seg) : len - pos;
        pos += seg_len + 1;
        if (seg_len == 0) {
            continue;
        }
        if (f->pairs_count == BLEND__FORM_PAIRS_MAX) {
            rc = BLEND_ELIMIT;
            break;
        }
        const char *eq = memchr(seg, '=', seg_len);
        size_t name_len = eq ? (size_t)(eq - seg) : seg_len;
        size_t n = 0, v = 0;
        char *name = text + used;
        rc = decode(seg, name_len, scratch, name, &n);
        if (rc == 0 && n == 0) {
            rc = BLEND_EINVAL; /* "=x": a value without a name */
        }
        if (rc) {
            break;
        }
        used += n + 1;
        char *value = text + used;
        rc = eq ? decode(eq + 1, seg_len - name_len - 1, scratch, value, &v) : 0;
        if (rc) {
            break;
        }
        value[v] = '\0';
        used += v + 1;
        if (blend__form_get(f, name)) {
            rc = BLEND_EINVAL; /* a repeated name: which one would be meant? */
            break;
        }
        f->pairs[f->pairs_count].name = name;
        f->pairs[f->pairs_count].value = value;
        f->pairs_count++;
    }
    blend_free(scratch);
    if (rc) {
        blend_free(text);
        blend_free(f);
        return rc;
    }
    BLEND_ASSERT(used <= cap);
    *out = *f;
    out->text = text;
    blend_free(f);
    return 0;
}

void blend__form_deinit(struct blend__form *f)
{
    if (f) {
        blend_free(f->text);
        memset(f, 0, sizeof *f);
    }
}

const char *blend__form_get(const struct blend__form *f, const char *name)
{
    BLEND_ASSERT(f && name);
    for (size_t i = 0; i < f->pairs_count; i++) {
        if (strcmp(f->pairs[i].name, name) == 0) {
            return f->pairs[i].value;
        }
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const struct blend__form_pair *const *x = a;
    const struct blend__form_pair *const *y = b;
    return strcmp((*x)->name, (*y)->name); /* byte order; names are distinct */
}

int blend__form_signature_base(const char *url, const struct blend__form *f,
                               struct blend_buf *out)
{
    BLEND_ASSERT(url && f && out && f->pairs_count <= BLEND__FORM_PAIRS_MAX);
    const struct blend__form_pair *order[BLEND__FORM_PAIRS_MAX];
    for (size_t i = 0; i < f->pairs_count; i++) {
        order[i] = &f->pairs[i];
    }
    if (f->pairs_count > 1) {
        qsort(order, f->pairs_count, sizeof order[0], by_name);
    }
    blend_buf_reset(out);
    int rc = blend_buf_appends(out, url);
    for (size_t i = 0; rc == 0 && i < f->pairs_count; i++) {
        rc = blend_buf_appends(out, order[i]->name);
        rc = rc ? rc : blend_buf_appends(out, order[i]->value);
    }
    return rc;
}

void blend__form_sign(const char *key, const char *data, size_t len,
                      char out[BLEND__FORM_SIG_BYTES])
{
    BLEND_ASSERT(key && (data || len == 0) && out);
    /* libre's hmac_sha1 writes the whole digest whatever length it is given: a full buffer. */
    uint8_t mac[FORM_SHA1_BYTES];
    hmac_sha1((const uint8_t *)key, strlen(key), (const uint8_t *)(data ? data : ""), len, mac,
              sizeof mac);
    sodium_bin2base64(out, BLEND__FORM_SIG_BYTES, mac, sizeof mac,
                      sodium_base64_VARIANT_ORIGINAL);
}

int blend__form_signature_ok(const char *key, const char *data, size_t len, const char *signature)
{
    BLEND_ASSERT(key && signature);
    char want[BLEND__FORM_SIG_BYTES];
    blend__form_sign(key, data, len, want);
    size_t n = strlen(want);
    return strlen(signature) == n && sodium_memcmp(signature, want, n) == 0;
}

int blend__form_append(struct blend_buf *b, const char *name, const char *value)
{
    BLEND_ASSERT(b && name && value);
    char *n = curl_easy_escape(NULL, name, 0);
    char *v = n ? curl_easy_escape(NULL, value, 0) : NULL;
    int rc = n && v ? 0 : BLEND_ENOMEM;
    if (rc == 0 && b->len > 0) {
        rc = blend_buf_append(b, "&", 1);
    }
    rc = rc ? rc : blend_buf_appends(b, n);
    rc = rc ? rc : blend_buf_append(b, "=", 1);
    rc = rc ? rc : blend_buf_appends(b, v);
    curl_free(n);
    curl_free(v);
    return rc;
}
