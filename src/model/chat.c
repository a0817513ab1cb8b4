/*
 * Reading the web chat visitor's frames (chat.h, docs/chat-protocol.md). jansson parses (with
 * duplicate keys refused and NUL bytes in strings refused); this file only checks types, bounds
 * and characters, copying each field into the frame's fixed buffers so nothing of the parse
 * tree survives the call. The rate limit is a token bucket driven by the caller's clock.
 */
#include "model/chat.h"

#include "base/assert.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int fail(struct blend_chat_error *err, int rc, const char *code, const char *message)
{
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", message);
    return rc;
}

/* 1 when the UTF-8 text (valid: jansson checked it) has no control characters, allowing tab and
 * line breaks when multiline. */
static int clean_text(const char *s, int multiline)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == 0x7f || (*p < 0x20 && !(multiline && (*p == '\n' || *p == '\r' || *p == '\t')))) {
            return 0;
        }
    }
    return 1;
}

static int has_visible(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            return 1;
        }
    }
    return 0;
}

/* Copies the optional string member `key` (absent or null: "") of at most max bytes. */
static int opt_string(const json_t *obj, const char *key, char *out, size_t max,
                      struct blend_chat_error *err)
{
    const json_t *v = json_object_get(obj, key);
    out[0] = '\0';
    if (!v || json_is_null(v)) {
        return 0;
    }
    char msg[128];
    if (!json_is_string(v) || json_string_length(v) > max || !clean_text(json_string_value(v), 0)) {
        snprintf(msg, sizeof msg, "%s: expected text of at most %zu bytes", key, max);
        return fail(err, BLEND_EINVAL, "bad_field", msg);
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

int blend_chat_token_is_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
        if (!ok || n >= BLEND_CHAT_TOKEN_BYTES_MAX) {
            return 0;
        }
    }
    return n >= BLEND_CHAT_TOKEN_BYTES_MIN;
}

static int read_hello(const json_t *o, struct blend_chat_frame *out, struct blend_chat_error *err)
{
    int rc = opt_string(o, "entry_point", out->entry_point, BLEND_CHAT_ENTRY_POINT_BYTES_MAX, err);
    rc =
        rc ? rc : opt_string(o, "resume_token", out->resume_token, BLEND_CHAT_TOKEN_BYTES_MAX, err);
    rc = rc ? rc : opt_string(o, "name", out->name, BLEND_CHAT_NAME_BYTES_MAX, err);
    rc = rc ? rc : opt_string(o, "email", out->email, BLEND_CHAT_EMAIL_BYTES_MAX, err);
    rc = rc ? rc : opt_string(o, "topic", out->topic, BLEND_CHAT_TOPIC_BYTES_MAX, err);
    if (rc) {
        return rc;
    }
    if (!out->entry_point[0]) {
        return fail(err, BLEND_EINVAL, "bad_field", "entry_point: required");
    }
    if (out->resume_token[0] && !blend_chat_token_is_valid(out->resume_token)) {
        return fail(err, BLEND_EINVAL, "bad_field",
                    "resume_token: 32..128 characters of A-Z a-z 0-9 - _");
    }
    return 0;
}

static int read_message(const json_t *o, struct blend_chat_frame *out, struct blend_chat_error *err)
{
    int rc = opt_string(o, "client_id", out->client_id, BLEND_CHAT_CLIENT_ID_BYTES_MAX, err);
    if (rc) {
        return rc;
    }
    if (!out->client_id[0] || strchr(out->client_id, ' ')) {
        return fail(err, BLEND_EINVAL, "bad_field",
                    "client_id: required, 1..64 characters without spaces");
    }
    const json_t *t = json_object_get(o, "text");
    if (!json_is_string(t)) {
        return fail(err, BLEND_EINVAL, "bad_field", "text: required");
    }
    if (json_string_length(t) > BLEND_CHAT_TEXT_BYTES_MAX) {
        return fail(err, BLEND_ELIMIT, "too_long", "text: at most 4000 bytes");
    }
    const char *s = json_string_value(t);
    if (!clean_text(s, 1) || !has_visible(s)) {
        return fail(err, BLEND_EINVAL, "bad_field",
                    "text: visible characters needed, no control characters");
    }
    memcpy(out->text, s, json_string_length(t) + 1);
    return 0;
}

static int read_other(const json_t *o, struct blend_chat_frame *out, struct blend_chat_error *err)
{
    if (out->type == BLEND_CHAT_TYPING) {
        const json_t *on = json_object_get(o, "on");
        if (on && !json_is_boolean(on)) {
            return fail(err, BLEND_EINVAL, "bad_field", "on: true or false");
        }
        out->is_typing = on ? json_is_true(on) : 1;
    } else if (out->type == BLEND_CHAT_READ) {
        const json_t *u = json_object_get(o, "up_to");
        if (!json_is_integer(u) || json_integer_value(u) < 1) {
            return fail(err, BLEND_EINVAL, "bad_field", "up_to: a message id");
        }
        out->up_to = json_integer_value(u);
    } else if (out->type == BLEND_CHAT_RATING) {
        const json_t *r = json_object_get(o, "rating");
        if (!json_is_integer(r) || json_integer_value(r) < 1 || json_integer_value(r) > 5) {
            return fail(err, BLEND_EINVAL, "bad_field", "rating: 1..5");
        }
        out->rating = (int)json_integer_value(r);
        return opt_string(o, "comment", out->comment, BLEND_CHAT_COMMENT_BYTES_MAX, err);
    }
    return 0;
}

static const struct {
    const char *name;
    enum blend_chat_frame_type type;
} frame_types[] = {
    {"hello", BLEND_CHAT_HELLO}, {"message", BLEND_CHAT_MESSAGE},   {"typing", BLEND_CHAT_TYPING},
    {"read", BLEND_CHAT_READ},   {"end", BLEND_CHAT_END},           {"rating", BLEND_CHAT_RATING},
    {"ping", BLEND_CHAT_PING},   {"to_agent", BLEND_CHAT_TO_AGENT},
};

int blend_chat_frame_parse(const char *data, size_t len, struct blend_chat_frame *out,
                           struct blend_chat_error *err)
{
    BLEND_ASSERT(out && err && (data || len == 0));
    err->code = NULL;
    err->message[0] = '\0';
    if (len > BLEND_CHAT_FRAME_BYTES_MAX) {
        return fail(err, BLEND_ELIMIT, "frame_too_large", "a frame is at most 32 KiB");
    }
    json_error_t jerr;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o) {
        return fail(err, BLEND_EINVAL, "bad_json", "the frame is not valid JSON");
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = 0;
    if (!json_is_object(o) || !type) {
        rc = fail(err, BLEND_EINVAL, "bad_frame", "a frame is an object with a \"type\"");
    }
    memset(out, 0, sizeof *out);
    for (size_t i = 0; rc == 0 && i < sizeof frame_types / sizeof frame_types[0]; i++) {
        if (strcmp(type, frame_types[i].name) == 0) {
            out->type = frame_types[i].type;
        }
    }
    if (rc == 0 && out->type == 0) {
        rc = fail(err, BLEND_EINVAL, "unknown_type", "unknown frame type");
    }
    if (rc == 0) {
        rc = out->type == BLEND_CHAT_HELLO     ? read_hello(o, out, err)
             : out->type == BLEND_CHAT_MESSAGE ? read_message(o, out, err)
                                               : read_other(o, out, err);
    }
    json_decref(o);
    return rc;
}

void blend_chat_bucket_init(struct blend_chat_bucket *b, int64_t now_ms, int burst)
{
    BLEND_ASSERT(b && burst > 0);
    b->milli = (int64_t)burst * 1000;
    b->last_ms = now_ms;
}

int blend_chat_bucket_take(struct blend_chat_bucket *b, int64_t now_ms, int rate_per_s, int burst)
{
    BLEND_ASSERT(b && rate_per_s > 0 && burst > 0);
    int64_t cap = (int64_t)burst * 1000;
    if (now_ms > b->last_ms) {
        int64_t elapsed = now_ms - b->last_ms;
        /* rate_per_s messages a second = rate_per_s thousandths a millisecond; capped before
         * multiplying so a long idle time cannot overflow. */
        b->milli = elapsed >= cap ? cap : b->milli + elapsed * rate_per_s;
        b->milli = b->milli > cap ? cap : b->milli;
        b->last_ms = now_ms;
    }
    if (b->milli < 1000) {
        return 0;
    }
    b->milli -= 1000;
    return 1;
}

/* Removes one trailing punctuation mark (ASCII or the full-width CJK ones) from [p, p+n). */
static size_t strip_final_punct(const char *p, size_t n)
{
    static const char *const marks[] = {"\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f"};
    for (int again = 0; again < 4 && n > 0; again++) {
        size_t before = n;
        if (p[n - 1] == '.' || p[n - 1] == '!' || p[n - 1] == '?') {
            n--;
        }
        for (size_t i = 0; i < 3; i++) {
            if (n >= 3 && memcmp(p + n - 3, marks[i], 3) == 0) {
                n -= 3;
            }
        }
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if (n == before) {
            break;
        }
    }
    return n;
}

int blend_chat_is_agent_request(const char *text, const char *phrases)
{
    BLEND_ASSERT(text);
    if (!phrases || !phrases[0]) {
        phrases = BLEND_CHAT_AGENT_PHRASES_DEFAULT;
    }
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') {
        text++;
    }
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' ||
                     text[n - 1] == '\r')) {
        n--;
    }
    n = strip_final_punct(text, n);
    if (n == 0) {
        return 0;
    }
    size_t walked = 0;
    for (const char *p = phrases; *p && walked < BLEND_CHAT_AGENT_PHRASES_BYTES_MAX;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ",");
        size_t trim = len;
        while (trim > 0 && p[trim - 1] == ' ') {
            trim--;
        }
        if (trim == n && strncasecmp(p, text, n) == 0) {
            return 1;
        }
        p += len;
        walked += len + 1;
    }
    return 0;
}
