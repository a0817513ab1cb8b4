/*
 * Customer identities in one canonical form, so that one person is one contact whatever way a
 * channel or an agent wrote their address (docs/contacts.md, "Identities"). Pure functions: no
 * I/O, no allocation, no locale.
 *
 * - phone, sms: E.164, "+" then 8..15 digits. Separators (space, '-', '.', '/', '(', ')') are
 *   dropped; a leading "+" or "00" marks an international number; any other number is national
 *   and needs a default country calling code, after its one national trunk prefix '0' is dropped
 *   ("010-1234-5678" with 82 gives "+821012345678"). This is not a numbering plan: the length
 *   is checked against E.164's bounds only (docs/adr/0015-phone-numbers.md says why).
 * - email: trimmed, ASCII lower-cased, one '@', a local part of 1..64 bytes (UTF-8 kept as is)
 *   and a domain of dot-separated labels (a-z, 0-9, '-', or UTF-8) with at least one dot.
 * - chat: an opaque visitor token, trimmed, 1..128 bytes of printable ASCII without spaces,
 *   case kept.
 * - social: "network:handle", network a-z 0-9 '_' '-' (1..32 bytes), handle lower-cased, a
 *   leading '@' dropped, no spaces or control characters.
 *
 * Invariants: every input is treated as untrusted bytes of a given length (NULs included); on
 * success the output is NUL-terminated, at most BLEND_IDENTITY_BYTES_MAX bytes, valid UTF-8,
 * and normalising it again yields it unchanged (the form is a fixed point). On failure the
 * output buffer is untouched and err holds a sentence for the client.
 */
#ifndef BLEND_MODEL_IDENTITY_H
#define BLEND_MODEL_IDENTITY_H

#include "base/error.h"

#include <stddef.h>

/* Longest stored identity value (contact_identities.value), without the NUL. */
#define BLEND_IDENTITY_BYTES_MAX 256
/* E.164: at most 15 digits with the country code; 8 is the shortest we accept (a country code
 * and a short subscriber number), which keeps extension numbers and typos out. */
#define BLEND_IDENTITY_E164_DIGITS_MIN 8
#define BLEND_IDENTITY_E164_DIGITS_MAX 15
#define BLEND_IDENTITY_CHAT_BYTES_MAX 128
#define BLEND_IDENTITY_NETWORK_BYTES_MAX 32
#define BLEND_IDENTITY_EMAIL_LOCAL_BYTES_MAX 64
/* Messages written to err fit this many bytes with the NUL. */
#define BLEND_IDENTITY_ERR_BYTES 128

enum blend_identity_kind {
    BLEND_IDENTITY_PHONE,
    BLEND_IDENTITY_EMAIL,
    BLEND_IDENTITY_CHAT,
    BLEND_IDENTITY_SMS,
    BLEND_IDENTITY_SOCIAL,
};

/* "phone", "email", "chat", "sms", "social" (the contact_identities kinds). BLEND_EINVAL for any
 * other name (or NULL). */
BLEND_MUST_USE int blend_identity_kind_parse(const char *name, enum blend_identity_kind *out);

/* A country calling code given as text: 1..3 digits, an optional leading '+', first digit not
 * 0 ("82", "+86"). Writes 1..999 to *cc_out. BLEND_EINVAL otherwise. */
BLEND_MUST_USE int blend_identity_country_code_parse(const char *text, int *cc_out);

/*
 * Normalises `value` (len bytes, borrowed) of `kind`. default_cc is the country calling code for
 * national phone numbers (1..999), or 0 when none is known (then a national number fails).
 * On success writes the canonical form with its NUL to out (out_cap >= BLEND_IDENTITY_BYTES_MAX
 * + 1) and returns 0. On failure returns BLEND_EINVAL, writes a message to err (errlen bytes,
 * may be 0) and leaves out untouched.
 */
BLEND_MUST_USE int blend_identity_normalize(enum blend_identity_kind kind, const char *value,
                                            size_t len, int default_cc, char *out, size_t out_cap,
                                            char *err, size_t errlen);

#endif
