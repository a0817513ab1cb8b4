/*
 * HTML form bodies (application/x-www-form-urlencoded) and the Twilio-style request signature
 * (docs/webhooks.md, "The twilio preset"; ADR 0018). Internal to src/api: the webhook channel's
 * SMS preset reads the provider's form posts with it, checks their X-Twilio-Signature, and
 * writes its own form posts to the provider.
 *
 * Decoding is libcurl's (curl_easy_unescape, after '+' is turned into a space), the MAC is
 * libre's hmac_sha1 (OpenSSL underneath) and the Base64 libsodium's: nothing here re-implements
 * a codec or a hash. Pure apart from allocation: no I/O, no clock.
 *
 * Invariants of a parsed form: at most BLEND__FORM_PAIRS_MAX pairs, names non-empty and
 * distinct, every name and value NUL-terminated valid UTF-8 without an embedded NUL (a body
 * that breaks any of these is refused whole); pairs keep the body's order.
 */
#ifndef BLEND_API_FORM_H
#define BLEND_API_FORM_H

#include "base/buf.h"
#include "base/error.h"

#include <stddef.h>

/* A provider's webhook has about 20 fields (Twilio: MessageSid, From, To, Body, NumMedia, the
 * MediaUrlN, geographic fields ...); 64 leaves room without letting a body grow a large table. */
#define BLEND__FORM_PAIRS_MAX 64
/* An SMS body is at most 1600 characters; media URLs and the other fields add a few KiB. */
#define BLEND__FORM_BYTES_MAX (64 * 1024)
/* Base64 of a 20-byte HMAC-SHA1, with its NUL. */
#define BLEND__FORM_SIG_BYTES 29

struct blend__form_pair {
    const char *name;  /* points into the form's text */
    const char *value; /* points into the form's text; "" for "name" or "name=" */
};

struct blend__form {
    struct blend__form_pair pairs[BLEND__FORM_PAIRS_MAX];
    size_t pairs_count;
    char *text; /* owned (blend_malloc): the decoded names and values */
};

/*
 * Parses body (len bytes, need not be NUL-terminated) into out. Empty segments ("a=1&&b=2", a
 * trailing '&') are skipped. Returns 0; BLEND_EINVAL for an empty name, a repeated name, a
 * decoded NUL or bytes that are not UTF-8; BLEND_ELIMIT for more than BLEND__FORM_BYTES_MAX
 * bytes or BLEND__FORM_PAIRS_MAX pairs; BLEND_ENOMEM. out is written only on success; release
 * it with blend__form_deinit.
 */
BLEND_MUST_USE int blend__form_parse(const char *body, size_t len, struct blend__form *out);
void blend__form_deinit(struct blend__form *f);

/* The value of the field called name (case-sensitive), NULL when absent. */
const char *blend__form_get(const struct blend__form *f, const char *name);

/*
 * The string the provider signs: url, then every field's name and value concatenated, fields
 * sorted by name in byte order (the provider's "case-sensitive Unix sort"). Appended to out
 * (cleared first). Returns 0, BLEND_ELIMIT when it does not fit out's cap, BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend__form_signature_base(const char *url, const struct blend__form *f,
                                              struct blend_buf *out);

/* Base64(HMAC-SHA1(key, data)) into out (NUL-terminated). */
void blend__form_sign(const char *key, const char *data, size_t len,
                      char out[BLEND__FORM_SIG_BYTES]);

/* 1 when signature is Base64(HMAC-SHA1(key, base)) (compared in constant time), else 0. */
int blend__form_signature_ok(const char *key, const char *data, size_t len, const char *signature);

/*
 * Appends "name=value" percent-encoded (libcurl's RFC 3986 escaping: only unreserved
 * characters stay as they are), preceded by '&' when b is not empty. Returns 0, BLEND_ELIMIT,
 * BLEND_ENOMEM.
 */
BLEND_MUST_USE int blend__form_append(struct blend_buf *b, const char *name, const char *value);

#endif
