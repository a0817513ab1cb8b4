/*
 * Identity normalisation (identity.h): one canonical spelling per customer address, so that a
 * lookup by (kind, value) finds the same contact whoever typed the address. Each kind has one
 * small function that reads the trimmed input once, left to right, into a local buffer and
 * copies it out only when the whole value passed; nothing here allocates, recurses or reads
 * past `len`. The rules are deliberately few and written down (docs/contacts.md), not a
 * numbering plan: docs/adr/0015-phone-numbers.md explains why libphonenumber is not used.
 */
#include "model/identity.h"

#include "base/assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct text {
    const unsigned char *p;
    size_t len;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return BLEND_EINVAL;
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The value without leading and trailing ASCII white space. */
static struct text trim(const char *value, size_t len)
{
    struct text t = {(const unsigned char *)value, len};
    while (t.len > 0 && is_space(t.p[0])) {
        t.p++;
        t.len--;
    }
    while (t.len > 0 && is_space(t.p[t.len - 1])) {
        t.len--;
    }
    return t;
}

/* 1 when the bytes are well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF) and
 * hold no control character (C0, DEL, C1) and no NUL. */
static int is_clean_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            i++;
            continue;
        }
        size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
        if (c < 0xc2 || c > 0xf4 || len - i <= n) {
            return 0;
        }
        unsigned char c1 = s[i + 1];
        if ((c1 & 0xc0) != 0x80 || (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
            (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f) || (c == 0xc2 && c1 < 0xa0)) {
            return 0; /* overlong, surrogate, beyond U+10FFFF, or a C1 control */
        }
        for (size_t k = 2; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        i += n + 1;
    }
    return 1;
}

static int finish(const char *tmp, size_t n, char *out, size_t out_cap)
{
    BLEND_ASSERT(n <= BLEND_IDENTITY_BYTES_MAX && n < out_cap);
    memcpy(out, tmp, n);
    out[n] = '\0';
    return 0;
}

int blend_identity_kind_parse(const char *name, enum blend_identity_kind *out)
{
    static const char *const names[] = {"phone", "email", "chat", "sms", "social"};
    BLEND_ASSERT(out);
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum blend_identity_kind)i;
            return 0;
        }
    }
    return BLEND_EINVAL;
}

int blend_identity_country_code_parse(const char *text, int *cc_out)
{
    BLEND_ASSERT(cc_out);
    if (!text) {
        return BLEND_EINVAL;
    }
    const char *p = text[0] == '+' ? text + 1 : text;
    size_t n = strlen(p);
    if (n < 1 || n > 3 || p[0] == '0') {
        return BLEND_EINVAL;
    }
    int cc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)p[i])) {
            return BLEND_EINVAL;
        }
        cc = cc * 10 + (p[i] - '0');
    }
    *cc_out = cc;
    return 0;
}

/* ---- Phone numbers -------------------------------------------------------------------------- */

/* Separators people write inside phone numbers; they carry no meaning and are dropped. */
static int is_phone_separator(unsigned char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' || c == '\t';
}

/* Collects the digits of t (after an optional leading '+') into digits (cap bytes). Sets
 * *is_plus. Returns the count, or -1 with err written. */
static int phone_digits(struct text t, char *digits, size_t cap, int *is_plus, char *err,
                        size_t errlen)
{
    size_t i = 0, n = 0;
    *is_plus = t.len > 0 && t.p[0] == '+';
    i = *is_plus ? 1 : 0;
    for (; i < t.len; i++) {
        unsigned char c = t.p[i];
        if (is_digit(c)) {
            if (n >= cap) {
                return fail(err, errlen, "too many digits for a phone number (E.164: at most %d)",
                            BLEND_IDENTITY_E164_DIGITS_MAX),
                       -1;
            }
            digits[n++] = (char)c;
        } else if (is_phone_separator(c)) {
            continue;
        } else if (is_alpha(c)) {
            return fail(err, errlen, "letters are not allowed in a phone number"), -1;
        } else if (c == '+') {
            return fail(err, errlen, "'+' may only start a phone number"), -1;
        } else if (c >= 0x21 && c < 0x7f) {
            return fail(err, errlen, "unexpected character '%c' in a phone number", c), -1;
        } else {
            return fail(err, errlen, "unexpected byte 0x%02x in a phone number", c), -1;
        }
    }
    if (n == 0) {
        return fail(err, errlen, "a phone number needs digits"), -1;
    }
    return (int)n;
}

static int normalize_phone(struct text t, int default_cc, char *out, size_t out_cap, char *err,
                           size_t errlen)
{
    /* Room for 15 digits, a "00" prefix and a national trunk '0' (anything longer fails). */
    char digits[BLEND_IDENTITY_E164_DIGITS_MAX + 3];
    int is_plus = 0;
    int count = phone_digits(t, digits, sizeof digits, &is_plus, err, errlen);
    if (count < 0) {
        return BLEND_EINVAL;
    }
    size_t n = (size_t)count;
    const char *d = digits;
    int is_international = is_plus;
    if (!is_plus && n >= 2 && d[0] == '0' && d[1] == '0') {
        is_international = 1; /* the international prefix "00" */
        d += 2;
        n -= 2;
    }
    char tmp[BLEND_IDENTITY_E164_DIGITS_MAX + 2];
    size_t len = 0;
    tmp[len++] = '+';
    if (is_international) {
        if (n == 0 || d[0] == '0') {
            return fail(err, errlen, "a country calling code never starts with 0");
        }
    } else {
        if (default_cc <= 0) {
            return fail(err, errlen,
                        "a national number needs a country calling code: write it with '+'");
        }
        if (n > 0 && d[0] == '0') {
            d++; /* the national trunk prefix */
            n--;
        }
        len += (size_t)snprintf(tmp + len, sizeof tmp - len, "%d", default_cc);
    }
    size_t total = len - 1 + n;
    if (total < BLEND_IDENTITY_E164_DIGITS_MIN || total > BLEND_IDENTITY_E164_DIGITS_MAX) {
        return fail(err, errlen,
                    "a phone number has %d to %d digits with its country code (E.164), not %zu",
                    BLEND_IDENTITY_E164_DIGITS_MIN, BLEND_IDENTITY_E164_DIGITS_MAX, total);
    }
    memcpy(tmp + len, d, n);
    return finish(tmp, len + n, out, out_cap);
}

/* ---- E-mail addresses ----------------------------------------------------------------------- */

static int is_local_char(unsigned char c)
{
    return c >= 0x80 || is_alpha(c) || is_digit(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL;
}

static int check_local(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    if (n < 1 || n > BLEND_IDENTITY_EMAIL_LOCAL_BYTES_MAX) {
        return fail(err, errlen, "the part before '@' must have 1 to %d bytes",
                    BLEND_IDENTITY_EMAIL_LOCAL_BYTES_MAX);
    }
    if (s[0] == '.' || s[n - 1] == '.') {
        return fail(err, errlen, "the part before '@' may not start or end with '.'");
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_local_char(s[i]) || (s[i] == '.' && s[i + 1] == '.')) {
            return fail(err, errlen, "the part before '@' holds a character e-mail forbids");
        }
    }
    return 0;
}

static int check_domain(const unsigned char *s, size_t n, char *err, size_t errlen)
{
    size_t labels = 0, label_len = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (label_len == 0 || label_len > 63 || s[i - 1] == '-' || s[i - label_len] == '-') {
                return fail(err, errlen,
                            "the domain must be labels of 1 to 63 characters "
                            "separated by dots, not starting or ending with '-'");
            }
            labels++;
            label_len = 0;
            continue;
        }
        unsigned char c = s[i];
        if (!(c >= 0x80 || is_alpha(c) || is_digit(c) || c == '-')) {
            return fail(err, errlen, "the domain holds a character e-mail forbids");
        }
        label_len++;
    }
    if (labels < 2) {
        return fail(err, errlen, "the domain needs at least one dot (example.com)");
    }
    return 0;
}

static int normalize_email(struct text t, char *out, size_t out_cap, char *err, size_t errlen)
{
    const unsigned char *at = NULL;
    for (size_t i = 0; i < t.len; i++) {
        if (t.p[i] == '@') {
            if (at) {
                return fail(err, errlen, "an e-mail address has exactly one '@'");
            }
            at = t.p + i;
        }
    }
    if (!at) {
        return fail(err, errlen, "an e-mail address has exactly one '@'");
    }
    size_t local = (size_t)(at - t.p);
    size_t domain = t.len - local - 1;
    int rc = check_local(t.p, local, err, errlen);
    rc = rc ? rc : check_domain(at + 1, domain, err, errlen);
    if (rc) {
        return rc;
    }
    char tmp[BLEND_IDENTITY_BYTES_MAX];
    for (size_t i = 0; i < t.len; i++) {
        tmp[i] = (char)lower(t.p[i]);
    }
    return finish(tmp, t.len, out, out_cap);
}

/* ---- Chat visitors and social handles ------------------------------------------------------- */

static int normalize_chat(struct text t, char *out, size_t out_cap, char *err, size_t errlen)
{
    if (t.len > BLEND_IDENTITY_CHAT_BYTES_MAX) {
        return fail(err, errlen, "a chat visitor token has at most %d bytes",
                    BLEND_IDENTITY_CHAT_BYTES_MAX);
    }
    for (size_t i = 0; i < t.len; i++) {
        if (t.p[i] <= 0x20 || t.p[i] >= 0x7f) {
            return fail(err, errlen, "a chat visitor token is printable ASCII without spaces");
        }
    }
    return finish((const char *)t.p, t.len, out, out_cap);
}

static int normalize_social(struct text t, char *out, size_t out_cap, char *err, size_t errlen)
{
    const unsigned char *colon = memchr(t.p, ':', t.len);
    size_t net = colon ? (size_t)(colon - t.p) : 0;
    if (!colon || net < 1 || net > BLEND_IDENTITY_NETWORK_BYTES_MAX) {
        return fail(err, errlen, "a social identity is 'network:handle' (twitter:alice)");
    }
    char tmp[BLEND_IDENTITY_BYTES_MAX];
    for (size_t i = 0; i < net; i++) {
        unsigned char c = lower(t.p[i]);
        if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-')) {
            return fail(err, errlen, "a network name holds only a-z, 0-9, '_' and '-'");
        }
        tmp[i] = (char)c;
    }
    tmp[net] = ':';
    const unsigned char *h = colon + 1;
    size_t hn = t.len - net - 1;
    if (hn > 0 && h[0] == '@') {
        h++;
        hn--;
    }
    if (hn == 0 || h[0] == '@') {
        return fail(err, errlen, "a social identity needs a handle after the network");
    }
    for (size_t i = 0; i < hn; i++) {
        if (h[i] == ' ') {
            return fail(err, errlen, "a social handle has no spaces");
        }
        tmp[net + 1 + i] = (char)lower(h[i]);
    }
    return finish(tmp, net + 1 + hn, out, out_cap);
}

int blend_identity_normalize(enum blend_identity_kind kind, const char *value, size_t len,
                             int default_cc, char *out, size_t out_cap, char *err, size_t errlen)
{
    BLEND_ASSERT(value || len == 0);
    BLEND_ASSERT(out && out_cap > BLEND_IDENTITY_BYTES_MAX);
    BLEND_ASSERT(default_cc >= 0 && default_cc <= 999);
    struct text t = trim(value ? value : "", len);
    if (t.len == 0) {
        return fail(err, errlen, "must not be empty");
    }
    if (t.len > BLEND_IDENTITY_BYTES_MAX) {
        return fail(err, errlen, "at most %d bytes", BLEND_IDENTITY_BYTES_MAX);
    }
    if (!is_clean_utf8(t.p, t.len)) {
        return fail(err, errlen, "must be UTF-8 text without control characters");
    }
    switch (kind) {
    case BLEND_IDENTITY_PHONE:
    case BLEND_IDENTITY_SMS:
        return normalize_phone(t, default_cc, out, out_cap, err, errlen);
    case BLEND_IDENTITY_EMAIL:
        return normalize_email(t, out, out_cap, err, errlen);
    case BLEND_IDENTITY_CHAT:
        return normalize_chat(t, out, out_cap, err, errlen);
    case BLEND_IDENTITY_SOCIAL:
        return normalize_social(t, out, out_cap, err, errlen);
    }
    return fail(err, errlen, "unknown identity kind");
}
