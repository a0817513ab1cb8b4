/*
 * Webhook answers as flow variables: the body a flow's http node received (a JSON object) is
 * read for the variable names the node lists, and each usable value becomes a struct
 * blend_ivr_assign for the session's HTTP_RESULT event. Pure: no I/O, no clock.
 *
 * Invariants: the body is parsed by jansson only (duplicate keys refused, the size capped before
 * parsing); every value handed on fits BLEND_IVR_VALUE_BYTES with its NUL and holds no control
 * character, so nothing odd reaches prompts, conditions or logs; a value that does not fit fails
 * the whole answer rather than being truncated (a cut account number would be a wrong one); the
 * output is written only on success. Dotted paths are walked iteratively, bounded by the name's
 * length, so no input controls recursion.
 */
#include "base/assert.h"
#include "model/flow.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The body bound (BLEND_FLOW_WEBHOOK_BODY_MAX, flow.h): answers are a handful of fields; 64 KiB
 * leaves ample room for a CRM's verbose object while bounding the parse. */

/* Digits enough for any double to round-trip through text (DBL_DECIMAL_DIG). */
#define REAL_DIGITS_MAX 17

/* The member `name` of `obj`, else the dotted path through nested objects; NULL when absent. */
static const json_t *find_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (v || !strchr(name, '.')) {
        return v;
    }
    const json_t *cur = obj;
    const char *seg = name;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t seg_len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (seg_len == 0 || !json_is_object(cur)) {
            return NULL;
        }
        cur = json_object_getn(cur, seg, seg_len);
        if (!cur || !dot) {
            return cur;
        }
        seg = dot + 1;
    }
}

/* A control character: C0, DEL, or C1 (U+0080..U+009F, encoded C2 80..C2 9F in UTF-8). jansson
 * has already checked that the text is valid UTF-8. */
static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            return 1;
        }
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] <= 0x9f) {
            return 1;
        }
    }
    return 0;
}

/* The shortest "%.*g" text that reads back as exactly `d` (jansson never yields NaN or Inf):
 * 0.1 stays "0.1", 100.0 becomes "100" rather than "1e+02", 1e300 stays "1e+300". */
static void format_real(double d, char *out, size_t size)
{
    char cand[64];
    size_t best = SIZE_MAX;
    for (int prec = 1; prec <= REAL_DIGITS_MAX; prec++) {
        int n = snprintf(cand, sizeof cand, "%.*g", prec, d);
        BLEND_ASSERT(n > 0 && (size_t)n < sizeof cand);
        if ((size_t)n < best && strtod(cand, NULL) == d) {
            best = (size_t)n;
            snprintf(out, size, "%s", cand);
        }
    }
    BLEND_ASSERT(best != SIZE_MAX); /* 17 significant digits always round-trip */
}

/* Writes the text of `v` into dst. Returns 1 when written, 0 when its type is skipped, or a
 * negative BLEND_E* code. */
static int value_text(const json_t *v, char *dst, size_t size)
{
    char tmp[64];
    const char *text;
    size_t len;
    switch (json_typeof(v)) {
    case JSON_STRING:
        text = json_string_value(v);
        len = json_string_length(v);
        if (has_control(text, len)) {
            return BLEND_EPARSE;
        }
        break;
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = tmp;
        len = strlen(tmp);
        break;
    case JSON_REAL:
        format_real(json_real_value(v), tmp, sizeof tmp);
        text = tmp;
        len = strlen(tmp);
        break;
    case JSON_TRUE:
        text = "true";
        len = 4;
        break;
    case JSON_FALSE:
        text = "false";
        len = 5;
        break;
    default:
        return 0;
    }
    if (len >= size) {
        return BLEND_ELIMIT;
    }
    memcpy(dst, text, len);
    dst[len] = '\0';
    return 1;
}

int blend_flow_webhook_fields(const char *body, size_t len, const struct blend_ivr_assign *names,
                              size_t count, struct blend_ivr_assign *out, size_t *count_out)
{
    BLEND_ASSERT(body != NULL || len == 0);
    BLEND_ASSERT(count == 0 || (names != NULL && out != NULL));
    BLEND_ASSERT(count <= BLEND_IVR_SETS_MAX);
    BLEND_ASSERT(count_out != NULL);
    if (len > BLEND_FLOW_WEBHOOK_BODY_MAX) {
        return BLEND_ELIMIT;
    }
    json_error_t jerr;
    memset(&jerr, 0, sizeof jerr);
    json_t *doc = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        /* jansson names most allocation failures; a failure with no message at all is its
         * lexer's buffer failing to allocate before any byte was read. */
        int is_oom = json_error_code(&jerr) == json_error_out_of_memory || jerr.text[0] == '\0';
        return is_oom ? BLEND_ENOMEM : BLEND_EPARSE;
    }
    int rc = 0;
    struct blend_ivr_assign got[BLEND_IVR_SETS_MAX];
    size_t got_count = 0;
    if (!json_is_object(doc)) {
        rc = BLEND_EPARSE;
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = names[i].var;
        BLEND_ASSERT(name[0] != '\0' && memchr(name, '\0', sizeof names[i].var) != NULL);
        const json_t *v = find_member(doc, name);
        if (!v) {
            continue;
        }
        struct blend_ivr_assign *a = &got[got_count];
        int r = value_text(v, a->value, sizeof a->value);
        if (r < 0) {
            rc = r;
            goto done;
        }
        if (r > 0) {
            memcpy(a->var, name, strlen(name) + 1);
            got_count++;
        }
    }
    BLEND_ASSERT(got_count <= count);
    if (got_count > 0) {
        memcpy(out, got, got_count * sizeof got[0]);
    }
    *count_out = got_count;
done:
    json_decref(doc);
    return rc;
}
