/*
 * Canned responses: the resource descriptor (fields, limits, checks) and the pure checks of a
 * body's placeholders and of a language tag (canned.h). The descriptor must match migration
 * 008_canned_responses.sql column for column; validate.c, the store and JSON output read it
 * like every other resource's.
 *
 * Invariants: the checks read at most `len` bytes, never allocate, and always leave `err`
 * NUL-terminated; a body accepted here contains no "{word}" other than the known placeholders.
 */
#include "model/canned.h"

#include "base/assert.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The placeholders a body may use; the desktop fills them in (docs/web.md). */
static const char *const placeholders[] = {"customer_name", "agent_name"};

/* Longest placeholder name reported in an error (longer ones are shortened with "..."). */
#define PLACEHOLDER_SHOWN_BYTES_MAX 40

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static int is_known(const char *name, size_t n)
{
    for (size_t i = 0; i < COUNT(placeholders); i++) {
        if (strlen(placeholders[i]) == n && memcmp(placeholders[i], name, n) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Code points in a valid UTF-8 string: every byte that is not a continuation byte. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    return n;
}

/* Appends "{name}" to the list in err unless it is there already; returns the new length. */
static size_t note_unknown(char *err, size_t errlen, size_t used, const char *name, size_t n)
{
    char item[PLACEHOLDER_SHOWN_BYTES_MAX + 8];
    int shown = n > PLACEHOLDER_SHOWN_BYTES_MAX ? PLACEHOLDER_SHOWN_BYTES_MAX : (int)n;
    snprintf(item, sizeof item, "{%.*s%s}", shown, name,
             n > PLACEHOLDER_SHOWN_BYTES_MAX ? "..." : "");
    if (strstr(err, item)) {
        return used;
    }
    int w = snprintf(err + used, errlen - used, "%s%s", used ? ", " : "", item);
    if (w < 0 || (size_t)w >= errlen - used) {
        return errlen - 1; /* full: the list is cut, the sentence still says why */
    }
    return used + (size_t)w;
}

int blend_canned_check_body(const char *body, size_t len, char *err, size_t errlen)
{
    BLEND_ASSERT(body && err && errlen > 0);
    err[0] = '\0';
    size_t chars = utf8_chars(body, len);
    if (chars > BLEND_CANNED_BODY_CHARS_MAX) {
        snprintf(err, errlen, "too long: %zu characters (at most %d)", chars,
                 BLEND_CANNED_BODY_CHARS_MAX);
        return BLEND_EINVAL;
    }
    /* Collect the unknown names first (into a scratch list), then write the sentence. */
    char list[160];
    list[0] = '\0';
    size_t used = 0, unknown = 0;
    for (size_t i = 0; i < len; i++) {
        if (body[i] != '{') {
            continue;
        }
        size_t j = i + 1;
        while (j < len && is_word_char(body[j])) {
            j++;
        }
        if (j == i + 1 || j >= len || body[j] != '}') {
            continue; /* not "{word}": a literal brace */
        }
        if (!is_known(body + i + 1, j - i - 1)) {
            unknown++;
            used = note_unknown(list, sizeof list, used, body + i + 1, j - i - 1);
        }
        i = j;
    }
    if (unknown == 0) {
        return 0;
    }
    snprintf(err, errlen, "unknown placeholder%s %s: use {customer_name} or {agent_name}",
             strchr(list, ',') ? "s" : "", list);
    return BLEND_EINVAL;
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

int blend_canned_check_language(const char *tag, size_t len)
{
    BLEND_ASSERT(tag);
    if (len < 2 || len > BLEND_CANNED_LANGUAGE_BYTES_MAX) {
        return BLEND_EINVAL;
    }
    /* Subtags between '-': the first is the language (letters), the others letters or digits. */
    size_t i = 0;
    for (size_t index = 0;; index++) {
        size_t j = i;
        while (j < len && tag[j] != '-') {
            if (index == 0 ? !is_alpha(tag[j]) : !is_alnum(tag[j])) {
                return BLEND_EINVAL;
            }
            j++;
        }
        size_t n = j - i;
        if (index == 0 ? (n < 2 || n == 4 || n > 8) : (n < 1 || n > 8)) {
            return BLEND_EINVAL;
        }
        if (j == len) {
            return 0;
        }
        i = j + 1;
    }
}

/* ---- Descriptor ------------------------------------------------------------------------------ */

/* Shortcut names: lower-case ASCII letters, digits, '.', '_' and '-' (like every key name). */
static int check_name(const json_t *value, char *err, size_t errlen)
{
    const char *s = json_string_value(value);
    if (!s || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(s)) {
        snprintf(err, errlen, "may hold only a-z, 0-9, '.', '_' and '-'");
        return BLEND_EINVAL;
    }
    return 0;
}

static int check_body(const json_t *value, char *err, size_t errlen)
{
    BLEND_ASSERT(json_is_string(value));
    return blend_canned_check_body(json_string_value(value), json_string_length(value), err,
                                   errlen);
}

static int check_language(const json_t *value, char *err, size_t errlen)
{
    BLEND_ASSERT(json_is_string(value));
    if (blend_canned_check_language(json_string_value(value), json_string_length(value)) != 0) {
        snprintf(err, errlen, "must be a BCP 47 language tag such as \"en\", \"ko\" or \"zh-CN\"");
        return BLEND_EINVAL;
    }
    return 0;
}

/* The digital channels: a canned response is text, so voice is not among them. */
static const char *const canned_channels[] = {"chat", "email", "sms", "social", NULL};

static const struct blend_field canned_queues_fields[] = {
    {.name = "queue",
     .column = "queue_id",
     .type = BLEND_FT_REF,
     .flags = BLEND_FF_REQUIRED,
     .ref = &blend_res_queues},
};

static const struct blend_resource res_canned_queues = {
    .name = "canned_response_queues",
    .singular = "canned_response_queue",
    .table = "canned_response_queues",
    .parent_column = "canned_response_id",
    .fields = canned_queues_fields,
    .fields_count = COUNT(canned_queues_fields),
};

static const struct blend_field canned_fields[] = {
    {.name = "name",
     .column = "name",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED | BLEND_FF_UNIQUE,
     .min = 1,
     .max = 64,
     .check = check_name},
    {.name = "title",
     .column = "title",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = 128},
    {.name = "body",
     .column = "body",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_REQUIRED,
     .min = 1,
     .max = BLEND_CANNED_BODY_BYTES_MAX,
     .check = check_body},
    {.name = "language",
     .column = "language",
     .type = BLEND_FT_STRING,
     .flags = BLEND_FF_NULLABLE,
     .min = 2,
     .max = BLEND_CANNED_LANGUAGE_BYTES_MAX,
     .check = check_language},
    /* Empty: every digital channel. */
    {.name = "channels",
     .column = "channels",
     .type = BLEND_FT_SET,
     .values = canned_channels,
     .default_json = "[]"},
    /* Empty: every queue. [{"queue": "billing"}, ...], like a queue's or agent's skills. */
    {.name = "queues", .column = NULL, .type = BLEND_FT_CHILDREN, .child = &res_canned_queues},
};

const struct blend_resource blend_res_canned_responses = {
    .name = "canned_responses",
    .singular = "canned_response",
    .table = "canned_responses",
    .key = "name",
    .fields = canned_fields,
    .fields_count = COUNT(canned_fields),
    .is_versioned = 1,
};
