/*
 * JSON request bodies: media type check, a depth scan on the raw bytes, then jansson. The scan
 * runs first so hostile nesting never reaches a recursive parser; it is a single pass with a
 * counter (no recursion, no allocation) and only needs to be right for well-formed input:
 * whatever it lets through that is not JSON, jansson refuses. Every refusal fills a
 * blend_http_body_error the caller can send as is.
 */
#include "api/http.h"

#include "base/assert.h"
#include "base/limits.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int blend_http_json_depth_check(const char *data, size_t len, size_t depth_max)
{
    BLEND_ASSERT(data || len == 0);
    size_t depth = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\') {
                i++; /* the escaped character cannot end the string */
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > depth_max) {
                return BLEND_ELIMIT;
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

static void set_error(struct blend_http_body_error *err, int status, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_error(struct blend_http_body_error *err, int status, const char *code,
                      const char *fmt, ...)
{
    err->status = status;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* Skips optional whitespace (RFC 9110 OWS). */
static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* application/json or application/<x>+json, parameters allowed, charset only utf-8. */
static int is_json_media_type(const char *ct)
{
    if (!ct) {
        return 0;
    }
    ct = skip_ows(ct);
    size_t type_len = strcspn(ct, "; \t");
    static const char app[] = "application/";
    if (type_len < sizeof app - 1 || strncasecmp(ct, app, sizeof app - 1) != 0) {
        return 0;
    }
    const char *sub = ct + sizeof app - 1;
    size_t sub_len = type_len - (sizeof app - 1);
    int ok = (sub_len == 4 && strncasecmp(sub, "json", 4) == 0) ||
             (sub_len > 5 && strncasecmp(sub + sub_len - 5, "+json", 5) == 0);
    if (!ok) {
        return 0;
    }
    /* Parameters: ;name=value. Only charset matters, and it must be UTF-8. */
    const char *p = ct + type_len;
    while (*(p = skip_ows(p)) == ';') {
        p = skip_ows(p + 1);
        size_t n = strcspn(p, ";");
        if (n >= 8 && strncasecmp(p, "charset=", 8) == 0) {
            const char *v = p + 8;
            size_t vlen = n - 8;
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
                vlen--;
            }
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (!(vlen == 5 && strncasecmp(v, "utf-8", 5) == 0)) {
                return 0;
            }
        }
        p += n;
    }
    return *p == '\0';
}

int blend_http_json_parse(const char *content_type, const char *data, size_t len, size_t bytes_max,
                          json_t **out, struct blend_http_body_error *err)
{
    BLEND_ASSERT(out);
    BLEND_ASSERT(err);
    BLEND_ASSERT(data || len == 0);
    if (!is_json_media_type(content_type)) {
        set_error(err, 415, "unsupported_media_type",
                  "the request body must be sent as Content-Type: application/json");
        return BLEND_EINVAL;
    }
    if (len > bytes_max) {
        set_error(err, 413, "payload_too_large", "the request body exceeds %zu bytes", bytes_max);
        return BLEND_ELIMIT;
    }
    if (len == 0) {
        set_error(err, 400, "empty_body", "a JSON request body is required");
        return BLEND_EPARSE;
    }
    if (blend_http_json_depth_check(data, len, BLEND_JSON_DEPTH_MAX) != 0) {
        set_error(err, 400, "json_too_deep", "the JSON body nests deeper than %d levels",
                  BLEND_JSON_DEPTH_MAX);
        return BLEND_ELIMIT;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        if (json_error_code(&jerr) == json_error_duplicate_key) {
            set_error(err, 400, "duplicate_key", "the JSON body repeats a key: %s", jerr.text);
        } else if (json_error_code(&jerr) == json_error_out_of_memory) {
            set_error(err, 503, "unavailable", "out of memory while parsing the body");
            return BLEND_ENOMEM;
        } else {
            set_error(err, 400, "invalid_json", "invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        }
        return BLEND_EPARSE;
    }
    *out = doc;
    return 0;
}
